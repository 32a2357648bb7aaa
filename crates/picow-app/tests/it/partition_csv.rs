//! The partition tables that `cargo run` in crates/picow-fw flashes (via
//! espflash's runner) are the layouts of picow-protocol.

use picow_protocol::layout::{LAYOUT_4MB, LAYOUT_8MB};

#[test]
fn firmware_partition_csvs_match_the_layouts() {
    for (layout, file, text) in [
        (
            &LAYOUT_8MB,
            "partitions-8mb.csv",
            include_str!("../../../picow-fw/partitions-8mb.csv"),
        ),
        (
            &LAYOUT_4MB,
            "partitions-4mb.csv",
            include_str!("../../../picow-fw/partitions-4mb.csv"),
        ),
    ] {
        let mut want = String::new();
        layout.write_csv(&mut want).unwrap();
        assert_eq!(
            text, want,
            "crates/picow-fw/{file} is out of date: regenerate it from picow_protocol::layout"
        );
    }
}
