//! What a board sends never controls the user's terminal: `picow monitor`
//! shows escape sequences visibly (colours excepted) on a pipe and on a
//! terminal, `--raw` passes every byte, and the JSON lines keep their order
//! (a last line without a newline comes before the event that ends it).
#![cfg(unix)]

use crate::monitor_support;

use std::fs::File;
use std::process::Stdio;

use monitor_support::{Collected, Monitor, Pty};

/// Escape sequences that a terminal obeys: an OSC window title, an OSC 52
/// clipboard write, clear screen and cursor home, a cursor move, 8-bit CSI
/// as a raw byte and as UTF-8 (U+009B), a C1 OSC, then a colour that may pass.
const HOSTILE: &[u8] = b"title \x1b]0;pwned\x07 clip \x1b]52;c;ZXZpbA==\x1b\\ \
    clear \x1b[2J\x1b[H move \x1b[10A raw8 \x9b2J utf8 \xc2\x9b2J osc1 \xc2\x9d0;t\xc2\x9c \
    bell \x07 \x1b[32mgreen\x1b[0m end\n";

/// Asserts that every ESC in `out` starts a colour sequence (`ESC [` digits
/// `;` `:` then `m`) and that no C1 control reaches the terminal.
fn assert_inert(out: &[u8]) {
    let shown = String::from_utf8_lossy(out);
    for (i, _) in out.iter().enumerate().filter(|(_, &b)| b == 0x1b) {
        let rest = &out[i + 1..];
        let end = rest.iter().position(|&b| b == b'm');
        let ok = rest.first() == Some(&b'[')
            && end.is_some_and(|e| rest[1..e].iter().all(|b| b"0123456789;:".contains(b)));
        assert!(ok, "a non-colour escape sequence at byte {i}: {shown:?}");
    }
    assert!(!out.contains(&0x9b), "a raw 8-bit CSI: {shown:?}");
    assert!(!out.contains(&0x07), "a BEL: {shown:?}");
    assert!(
        !shown.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
        "a C1 control: {shown:?}"
    );
    assert!(
        shown.contains("\\x1b]0;pwned\\x07"),
        "shown visibly: {shown:?}"
    );
    assert!(shown.contains("\\x1b[2J"), "{shown:?}");
    assert!(
        shown.contains("\\x9b2J") && shown.contains("\\xc2\\x9b2J"),
        "{shown:?}"
    );
}

#[test]
fn escape_sequences_are_shown_not_obeyed_on_a_pipe() {
    let mut pty = Pty::new();
    let m = Monitor::spawn(&pty.path, &[]);
    m.wait_open();
    pty.write(HOSTILE);
    m.stdout.wait_count("end", 1);
    let (st, m) = m.interrupt();
    assert_eq!(st.code(), Some(0), "{}", m.stderr.text());
    let out = m.stdout.bytes();
    assert_inert(&out);
    // The colour passes.
    assert!(
        String::from_utf8_lossy(&out).contains("\x1b[32mgreen\x1b[0m"),
        "{:?}",
        m.stdout.text()
    );
}

#[test]
fn escape_sequences_are_shown_not_obeyed_on_a_terminal() {
    let mut board = Pty::new();
    // The user's terminal: the monitor's stdout is a pty's slave, what it
    // shows is read from the master.
    let term = Pty::new();
    let slave = File::options().write(true).open(&term.path).unwrap();
    let mut child = monitor_support::picow()
        .arg("monitor")
        .arg("--port")
        .arg(&board.path)
        .arg("--non-interactive")
        .stdin(Stdio::null())
        .stdout(slave)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stderr, _h) = Collected::spawn(child.stderr.take().unwrap());
    let (shown, _h2) = Collected::spawn(term.master.try_clone().unwrap());
    stderr.wait_count("monitoring", 1);
    board.write(HOSTILE);
    shown.wait_count("end", 1);
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0), "{}", stderr.text());
    assert_inert(&shown.bytes());
}

#[test]
fn raw_passes_every_byte() {
    let mut pty = Pty::new();
    let m = Monitor::spawn(&pty.path, &["--raw"]);
    m.wait_open();
    pty.write(HOSTILE);
    m.stdout.wait_count("end", 1);
    let (_, m) = m.interrupt();
    assert_eq!(m.stdout.bytes(), HOSTILE);
}

#[test]
fn a_failing_line_quoted_on_stderr_is_inert() {
    let mut pty = Pty::new();
    let mut m = Monitor::spawn(&pty.path, &["--fail", "panicked", "--timeout", "60s"]);
    m.wait_open();
    pty.write(b"panicked \x1b]0;pwned\x07 \x1b[2J\n");
    let st = m.wait();
    assert_eq!(st.code(), Some(1));
    let err = m.stderr.bytes();
    assert!(!err.contains(&0x1b), "{:?}", m.stderr.text());
    assert!(
        m.stderr.text().contains("\\x1b]0;pwned"),
        "{}",
        m.stderr.text()
    );
}

#[test]
fn json_escapes_c1_controls_too() {
    let mut pty = Pty::new();
    let m = Monitor::spawn(&pty.path, &["--json"]);
    m.stdout.wait_count("\"connected\"", 1);
    pty.write("csi \u{9b}2J \x1b[2J end\n".as_bytes());
    m.stdout.wait_count("end", 1);
    let (_, m) = m.interrupt();
    let out = m.stdout.bytes();
    assert!(!out.contains(&0x1b), "{:?}", m.stdout.text());
    assert!(!m.stdout.text().contains('\u{9b}'), "{:?}", m.stdout.text());
    let line = m
        .stdout
        .text()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "line")
        .unwrap();
    assert_eq!(line["line"], "csi \u{9b}2J \x1b[2J end");
}

fn json_events(m: &Monitor) -> Vec<serde_json::Value> {
    m.stdout
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The index of the first event of `kind` (`type`).
fn position(evs: &[serde_json::Value], kind: &str) -> usize {
    evs.iter()
        .position(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event in {evs:?}"))
}

#[test]
fn json_partial_line_comes_before_the_port_vanishing_and_is_not_truncated() {
    let mut pty = Pty::new();
    let mut m = Monitor::spawn(&pty.path, &["--json", "--no-reconnect"]);
    m.stdout.wait_count("\"connected\"", 1);
    pty.write(b"whole\npartial-line");
    m.stdout.wait_count("whole", 1);
    drop(pty);
    let st = m.wait();
    assert_eq!(st.code(), Some(1));
    let evs = json_events(&m);
    let partial = evs
        .iter()
        .position(|e| e["line"] == "partial-line")
        .unwrap_or_else(|| panic!("no partial line in {evs:?}"));
    assert_eq!(evs[partial]["partial"], true, "{evs:?}");
    assert!(evs[partial].get("truncated").is_none(), "{evs:?}");
    assert!(partial < position(&evs, "disconnected"), "{evs:?}");
}

#[test]
fn json_partial_line_comes_before_the_result() {
    let mut pty = Pty::new();
    let mut m = Monitor::spawn(
        &pty.path,
        &["--json", "--expect", "never-printed", "--timeout", "3s"],
    );
    m.stdout.wait_count("\"connected\"", 1);
    pty.write(b"whole\npartial-line");
    m.stdout.wait_count("whole", 1);
    let st = m.wait();
    assert_eq!(st.code(), Some(124));
    let evs = json_events(&m);
    let partial = evs
        .iter()
        .position(|e| e["line"] == "partial-line")
        .unwrap_or_else(|| panic!("no partial line in {evs:?}"));
    assert!(evs[partial].get("truncated").is_none(), "{evs:?}");
    assert_eq!(evs.last().unwrap()["type"], "result", "{evs:?}");
    assert!(partial < position(&evs, "result"), "{evs:?}");
}
