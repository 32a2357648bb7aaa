//! The binary partition-table parser never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picow_protocol::layout::PartitionTable;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = PartitionTable::parse(data) {
        let _ = t.picow_config();
        for e in t.entries() {
            let _ = e.label();
        }
    }
});
