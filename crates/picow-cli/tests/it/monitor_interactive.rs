//! Interactive mode with a pseudo-terminal as the user's terminal: keys go
//! to the board (Ctrl-C and Ctrl-D too), Ctrl-R asks for a reset, Ctrl-] exits, and the terminal is
//! left as it was.
#![cfg(unix)]

use crate::common;
use crate::monitor_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::termios::{tcgetattr, LocalModes};

use common::Kill;
use monitor_support::{picow, Collected, Pty, PATIENCE};

#[test]
fn keys_reach_the_board_and_ctrl_bracket_exits() {
    let board = Pty::new();
    let mut user = Pty::new();
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&user.path)
        .unwrap();
    let before = tcgetattr(&tty).unwrap();
    let child = picow()
        .args(["monitor", "--port"])
        .arg(&board.path)
        .stdin(Stdio::from(tty.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let child = &mut child.0;
    let (to_board, _) = Collected::spawn(board.master.try_clone().unwrap());
    let (stderr, _) = Collected::spawn(child.stderr.take().unwrap());
    // Raw mode on the user's terminal means the monitor is ready for keys.
    let deadline = Instant::now() + PATIENCE;
    while tcgetattr(&tty)
        .unwrap()
        .local_modes
        .contains(LocalModes::ICANON)
    {
        assert!(
            Instant::now() < deadline,
            "the monitor never entered raw mode"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    user.write(b"status\r");
    // The board receives the keystrokes (Enter becomes CR LF).
    to_board.wait_for("status on the board", |b| b.ends_with(b"status\r\n"));
    assert_eq!(to_board.bytes(), b"status\r\n");

    // Ctrl-R asks for a reset; a pty has no DTR/RTS, and the monitor says so
    // and keeps running.
    user.write(&[0x12]);
    stderr.wait_count("press the board's reset button", 1);
    assert!(stderr.text().contains("resetting the board"));
    user.write(b"x");
    to_board.wait_for("x after the failed reset", |b| b.ends_with(b"\r\nx"));

    // Ctrl-C and Ctrl-D go to the board (MicroPython's REPL: interrupt,
    // soft reset); the monitor keeps running.
    user.write(&[0x03]);
    to_board.wait_for("Ctrl-C on the board", |b| b.ends_with(b"x\x03"));
    user.write(&[0x04]);
    to_board.wait_for("Ctrl-D on the board", |b| b.ends_with(b"\x03\x04"));
    assert!(
        child.try_wait().unwrap().is_none(),
        "Ctrl-C ended the monitor"
    );

    // Ctrl-] leaves, exit 0, terminal restored.
    user.write(&[0x1d]);
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the monitor did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(st.code(), Some(0));
    let after = tcgetattr(&tty).unwrap();
    assert_eq!(after.local_modes, before.local_modes);
    assert_eq!(after.input_modes, before.input_modes);
    assert_eq!(after.output_modes, before.output_modes);
}
