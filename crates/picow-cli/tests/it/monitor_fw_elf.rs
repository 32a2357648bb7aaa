//! Backtrace decoding against the real firmware ELF (RISC-V, ESP32-C3),
//! which `cargo xtask ci` builds before it runs this test with
//! `PICOW_FW_ELF` set (`-- --ignored`). A pty stands in for the board.
#![cfg(unix)]

use crate::monitor_support;

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

use monitor_support::{Monitor, Pty};

#[test]
#[ignore = "needs the firmware ELF: run by `cargo xtask ci` after the firmware build"]
fn firmware_backtrace_is_decoded() {
    let elf = std::env::var_os("PICOW_FW_ELF")
        .expect("PICOW_FW_ELF must name the firmware ELF (cargo xtask ci sets it)");
    let data = std::fs::read(&elf).expect("read the firmware ELF");
    let file = object::File::parse(&*data).expect("an ELF");
    // A few functions of the firmware itself, in code sections.
    let text: Vec<(u64, u64)> = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| (s.address(), s.address() + s.size()))
        .collect();
    let funcs: Vec<(u64, String)> = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.size() > 0)
        .filter(|s| text.iter().any(|&(lo, hi)| (lo..hi).contains(&s.address())))
        .filter_map(|s| Some((s.address(), s.name().ok()?.to_string())))
        .filter(|(_, n)| n.contains("picow"))
        .take(3)
        .collect();
    assert!(!funcs.is_empty(), "no picow functions in the ELF");

    let mut pty = Pty::new();
    let m = Monitor::spawn(&pty.path, &["--elf", elf.to_str().unwrap()]);
    m.wait_open();
    // The way esp-backtrace prints a RISC-V backtrace: one address a line,
    // the return address (a few bytes into the function).
    let mut dump = String::from("\r\n\r\nBacktrace:\r\n\r\n");
    for (addr, _) in &funcs {
        dump.push_str(&format!("0x{:08x}\r\n", addr + 4));
    }
    pty.write(dump.as_bytes());
    m.stdout.wait_count(" - ", funcs.len());
    let (_, m) = m.interrupt();
    let out = m.stdout.text();
    for (addr, name) in &funcs {
        let frames: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with(&format!("    0x{:08x} - ", addr + 4)))
            .collect();
        assert!(!frames.is_empty(), "0x{addr:08x} not decoded:\n{out}");
        // One of the frames (the outermost, when others were inlined into
        // it) is the function the symbol names: its path's last part.
        let demangled = addr2line::demangle_auto(name.into(), None).into_owned();
        let last = function_name(&demangled);
        assert!(
            frames.iter().any(|l| l.contains(last)),
            "{frames:?} vs {demangled}"
        );
        // The release ELF keeps line tables: file and line, not `??:??`.
        assert!(
            frames.iter().any(|l| l.contains(".rs:")),
            "no file:line in {frames:?}"
        );
    }
}

/// The function's own name in a demangled path: `<A<B>>::f::<C::g>` gives
/// `f` (symbol tables and line tables spell generic arguments differently).
fn function_name(demangled: &str) -> &str {
    let mut s = demangled;
    if s.ends_with('>') {
        // Drop a trailing turbofish `::<...>`.
        let mut depth = 0;
        for (i, c) in s.char_indices().rev() {
            match c {
                '>' => depth += 1,
                '<' => {
                    depth -= 1;
                    if depth == 0 {
                        if let Some(head) = s[..i].strip_suffix("::") {
                            s = head;
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    s.rsplit("::").next().unwrap_or(s)
}

#[test]
fn function_names_ignore_generic_arguments() {
    assert_eq!(function_name("a::b::f"), "f");
    assert_eq!(
        function_name("<x::Cell<y::T>>::write_in_place::<p::q::{closure#0}>"),
        "write_in_place"
    );
}
