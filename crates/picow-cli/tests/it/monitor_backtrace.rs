//! Backtrace addresses decoded to function and file:line with an ELF. The
//! firmware's ELF comes from the firmware build; here the test binary's own
//! ELF (built with debug info) stands in for it.
#![cfg(target_os = "linux")]

use std::io::Write;

use object::{Object, ObjectSymbol};
use picow_cli::cmd::monitor::format::{Mode, Options, Printer};
use picow_cli::cmd::monitor::symbols::Symbols;

const MARKER_LINE: u32 = line!() + 3;
#[inline(never)]
#[no_mangle]
pub extern "C" fn picow_monitor_test_marker(x: u32) -> u32 {
    std::hint::black_box(x).wrapping_mul(3)
}

/// The marker's address in the ELF file (as a firmware backtrace prints it).
fn marker_address(elf: &[u8]) -> u64 {
    let file = object::File::parse(elf).unwrap();
    file.symbols()
        .find(|s| s.name() == Ok("picow_monitor_test_marker"))
        .expect("marker symbol")
        .address()
}

#[test]
fn addresses_decode_to_function_and_line() {
    assert_eq!(picow_monitor_test_marker(2), 6);
    let exe = std::env::current_exe().unwrap();
    let elf = std::fs::read(&exe).unwrap();
    let addr = marker_address(&elf);
    assert!(
        addr < 1 << 32,
        "PIE addresses fit in the 8 digits a backtrace prints"
    );

    let symbols = Symbols::open(&exe).unwrap();
    let frames = symbols.resolve(addr);
    let f = frames.first().expect("a frame");
    assert_eq!(f.function, "picow_monitor_test_marker");
    assert!(
        f.file.as_deref().unwrap().ends_with("monitor_backtrace.rs"),
        "{f:?}"
    );
    assert_eq!(f.line, Some(MARKER_LINE), "{f:?}");

    // An esp-backtrace style line, through the printer.
    let mut p = Printer::new(
        Vec::new(),
        Options {
            mode: Mode::Pretty,
            color: false,
            timestamps: false,
            zone: picow_values::time::Zone::Utc,
        },
    );
    p.set_symbols(symbols);
    writeln!(p, "Backtrace:\r").unwrap();
    write!(p, "0x{addr:08x}:0x3fc8e2a0 0x00000004:0x3fc8e2c0\r\n").unwrap();
    let out = String::from_utf8(p.into_inner()).unwrap();
    let head = format!("    0x{addr:08x} - picow_monitor_test_marker at ");
    assert!(out.contains(&head), "{out}");
    assert!(
        out.contains(&format!("monitor_backtrace.rs:{MARKER_LINE}\n")),
        "{out}"
    );
    // Only the address that is code is decoded.
    assert_eq!(out.matches(" - ").count(), 1, "{out}");
}

use crate::monitor_support;

mod e2e {
    use super::monitor_support::{Monitor, Pty};

    #[test]
    fn monitor_decodes_with_elf_flag() {
        let exe = std::env::current_exe().unwrap();
        let elf = std::fs::read(&exe).unwrap();
        let addr = super::marker_address(&elf);
        let mut pty = Pty::new();
        let m = Monitor::spawn(&pty.path, &["--elf", exe.to_str().unwrap()]);
        m.wait_open();
        pty.write(format!("\r\n0x{addr:08x}:0x3fc8e2a0\r\n").as_bytes());
        m.stdout.wait_count("picow_monitor_test_marker at", 1);
        let (st, _) = m.interrupt();
        assert_eq!(st.code(), Some(0));
    }

    /// Without --elf, the firmware's boot line names the chip, and the ELF
    /// of the last `cargo xtask fw build` for it is used.
    #[test]
    fn monitor_finds_the_elf_of_the_chip_the_firmware_reports() {
        let exe = std::env::current_exe().unwrap();
        let addr = super::marker_address(&std::fs::read(&exe).unwrap());
        let ws = tempfile::tempdir().unwrap();
        std::fs::write(ws.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        let elf_dir = ws.path().join("target/picow-fw/esp32c3");
        std::fs::create_dir_all(&elf_dir).unwrap();
        std::fs::copy(&exe, elf_dir.join("picow-fw.elf")).unwrap();
        let sub = ws.path().join("crates/x");
        std::fs::create_dir_all(&sub).unwrap();

        let mut pty = Pty::new();
        let m = Monitor::spawn_in(&sub, &pty.path, &[]);
        m.wait_open();
        // Before the boot line: no ELF, nothing decoded.
        pty.write(format!("0x{addr:08x}\r\n").as_bytes());
        m.stdout.wait_count(&format!("0x{addr:08x}"), 1);
        pty.write(b"@picow boot version=\"0.1.0\" chip=\"esp32c3\"\r\n");
        pty.write(format!("0x{addr:08x}\r\n").as_bytes());
        m.stdout.wait_count("picow_monitor_test_marker at", 1);
        let (_, m) = m.interrupt();
        assert_eq!(
            m.stdout
                .text()
                .matches(" - picow_monitor_test_marker")
                .count(),
            1
        );
    }
}
