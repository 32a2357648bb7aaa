//! Backtrace addresses decoded to function and file:line with an ELF. The
//! firmware's ELF comes from the firmware build; here the test binary's own
//! ELF (built with debug info) stands in for it.

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

#[cfg(unix)]
mod monitor_support;

#[cfg(unix)]
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
}
