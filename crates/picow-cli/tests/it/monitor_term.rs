//! The raw-mode guard restores the terminal on every way out: drop and
//! panic, tested on a pseudo-terminal.
#![cfg(unix)]

use crate::monitor_support;

use std::fs::OpenOptions;

use picow_cli::cmd::monitor::term::RawMode;
use rustix::termios::{tcgetattr, LocalModes, OutputModes, Termios};

use monitor_support::Pty;

fn flags(t: &Termios) -> (u64, u64, u64, u64) {
    (
        t.input_modes.bits() as u64,
        t.output_modes.bits() as u64,
        t.control_modes.bits() as u64,
        t.local_modes.bits() as u64,
    )
}

#[test]
fn guard_restores_termios_on_drop_and_on_panic() {
    let pty = Pty::new();
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&pty.path)
        .unwrap();
    let before = tcgetattr(&tty).unwrap();
    assert!(before
        .local_modes
        .contains(LocalModes::ICANON | LocalModes::ECHO));

    {
        let _g = RawMode::enable(&tty).unwrap();
        let raw = tcgetattr(&tty).unwrap();
        assert!(!raw
            .local_modes
            .intersects(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG));
        // Output processing stays: "\n" still starts a new line.
        assert!(raw
            .output_modes
            .contains(OutputModes::OPOST | OutputModes::ONLCR));
    }
    assert_eq!(flags(&tcgetattr(&tty).unwrap()), flags(&before));

    let r = std::panic::catch_unwind(|| {
        let _g = RawMode::enable(&tty).unwrap();
        assert!(!tcgetattr(&tty)
            .unwrap()
            .local_modes
            .contains(LocalModes::ICANON));
        panic!("boom in raw mode");
    });
    assert!(r.is_err());
    assert_eq!(flags(&tcgetattr(&tty).unwrap()), flags(&before));
}
