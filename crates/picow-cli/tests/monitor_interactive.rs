//! Interactive mode with a pseudo-terminal as the user's terminal: keys go
//! to the board, Ctrl-] exits, and the terminal is left as it was.
#![cfg(unix)]

mod monitor_support;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::termios::{tcgetattr, LocalModes};

use monitor_support::{picow, Pty, PATIENCE};

#[test]
fn keys_reach_the_board_and_ctrl_bracket_exits() {
    let mut board = Pty::new();
    let mut user = Pty::new();
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&user.path)
        .unwrap();
    let before = tcgetattr(&tty).unwrap();
    let mut child = picow()
        .args(["monitor", "--port"])
        .arg(&board.path)
        .stdin(Stdio::from(tty.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while !got.ends_with(b"status\r\n") {
        let n = board.master.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        assert!(Instant::now() < deadline, "board got {got:?}");
    }
    assert_eq!(got, b"status\r\n");
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
}
