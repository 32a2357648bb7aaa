//! The port vanishes and returns, as the board's native USB does on every
//! reset: the monitor waits, reconnects, and loses nothing written after it
//! reconnected.
#![cfg(unix)]

use crate::monitor_support;

use std::os::unix::fs::symlink;

use monitor_support::{Monitor, Pty};

#[test]
fn survives_ten_disappearances_of_the_port() {
    let dir = tempfile::tempdir().unwrap();
    // A stable name, as /dev/serial/by-id/... is for a USB device.
    let link = dir
        .path()
        .join("usb-Espressif_USB_JTAG_serial_debug_unit-if00");
    let mut pty = Pty::new();
    symlink(&pty.path, &link).unwrap();
    let log = dir.path().join("all.log");
    let m = Monitor::spawn(&link, &["--raw", "--log", log.to_str().unwrap()]);
    m.wait_open();
    let mut expected = Vec::new();
    for round in 0..=10 {
        if round > 0 {
            // Gone: the device node disappears (the link dangles, then goes).
            drop(pty);
            m.stderr.wait_count("vanished", round);
            std::fs::remove_file(&link).unwrap();
            // Back, under a new /dev/pts/N behind the same stable name.
            pty = Pty::new();
            symlink(&pty.path, &link).unwrap();
            m.stderr.wait_count("reconnected", round);
        }
        // Everything written after the reconnect arrives, in order.
        for k in 0..20 {
            let line = format!("round {round} line {k} {}\n", "x".repeat(k * 10));
            pty.write(line.as_bytes());
            expected.extend_from_slice(line.as_bytes());
        }
        let want = expected.len();
        m.stdout
            .wait_for(&format!("round {round} output"), |b| b.len() >= want);
    }
    let (st, m) = m.interrupt();
    assert_eq!(st.code(), Some(0), "stderr: {}", m.stderr.text());
    assert!(m.stdout.bytes() == expected, "stdout:\n{}", m.stdout.text());
    assert!(std::fs::read(&log).unwrap() == expected);
    let err = m.stderr.text();
    assert_eq!(err.matches("reconnected").count(), 10, "{err}");
}
