//! `picow monitor` on a pseudo-terminal: output complete and in order,
//! `--log` byte-exact, CI exit codes, and the error messages.
#![cfg(unix)]

use crate::monitor_support;

use monitor_support::{picow, Monitor, Pty};

/// 1 MiB with every byte value, written in bursts of varying size.
fn test_bytes() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn bursts_arrive_complete_in_order_and_the_log_holds_exactly_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("board.log");
    let mut pty = Pty::new();
    let m = Monitor::spawn(&pty.path, &["--raw", "--log", log.to_str().unwrap()]);
    m.wait_open();
    let data = test_bytes();
    let sizes = [1usize, 7, 4096, 65536, 3, 100_000];
    let mut off = 0;
    let mut i = 0;
    while off < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - off);
        pty.write(&data[off..off + n]);
        off += n;
        i += 1;
    }
    m.stdout
        .wait_for("all bytes on stdout", |b| b.len() >= data.len());
    // Ctrl-C: the monitor stops cleanly and flushes the log.
    let (st, m) = m.interrupt();
    assert_eq!(st.code(), Some(0), "stderr: {}", m.stderr.text());
    assert!(
        m.stdout.bytes() == data,
        "stdout differs from what was written"
    );
    let logged = std::fs::read(&log).unwrap();
    assert_eq!(logged.len(), data.len());
    assert!(logged == data, "log differs from what was written");
}

#[test]
fn pretty_mode_shows_lines_in_order_and_json_has_events() {
    let mut pty = Pty::new();
    let m = Monitor::spawn(&pty.path, &["--timestamps"]);
    m.wait_open();
    let mut want = Vec::new();
    for i in 0..500 {
        let line = if i % 5 == 0 {
            format!("@picow wifi-joining ssid=\"net\" attempt={i}\n")
        } else {
            format!("plain line {i}\n")
        };
        want.push(line.trim_end().to_string());
        pty.write(line.as_bytes());
    }
    m.stdout.wait_count("\n", 500);
    let (_, m) = m.interrupt();
    let out = m.stdout.text();
    let got: Vec<&str> = out
        .lines()
        .map(|l| {
            // "[HH:MM:SS.mmm] " first.
            assert_eq!(&l[0..1], "[", "{l:?}");
            &l[15..]
        })
        .collect();
    assert_eq!(got, want);

    let mut pty = Pty::new();
    let m = Monitor::spawn(&pty.path, &["--json"]);
    m.stdout.wait_count("\"connected\"", 1);
    pty.write(b"hello\r\n@picow server-connected server=\"tcp://10.0.0.1:10000\"\n");
    m.stdout.wait_count("\"server-connected\"", 1);
    let (_, m) = m.interrupt();
    let objs: Vec<serde_json::Value> = m
        .stdout
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = objs.iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["connected", "line", "event"]);
    assert_eq!(objs[1]["line"], "hello");
    assert_eq!(objs[2]["event"], "server-connected");
    assert_eq!(objs[2]["state_change"], true);
}

#[test]
fn expect_met_exits_0() {
    let mut pty = Pty::new();
    let mut m = Monitor::spawn(
        &pty.path,
        &[
            "--expect",
            "boot",
            "--expect",
            r"wifi-joined ip=.10\.",
            "--fail",
            "panicked",
            "--timeout",
            "60s",
        ],
    );
    m.wait_open();
    pty.write(b"@picow boot version=\"0.1.0\" chip=\"esp32c3\"\n");
    pty.write(b"@picow wifi-joining ssid=\"x\" attempt=1\n");
    pty.write(b"@picow wifi-joined ip=\"10.0.0.2\" gateway=\"10.0.0.1\" rssi=-40\n");
    let st = m.wait();
    assert_eq!(st.code(), Some(0), "stderr: {}", m.stderr.text());
    assert!(m.stderr.text().contains("all 2 expectation(s) met"));
    // What was seen was printed.
    assert!(m.stdout.text().contains("wifi-joining"));
}

#[test]
fn fail_pattern_exits_1() {
    let mut pty = Pty::new();
    let mut m = Monitor::spawn(
        &pty.path,
        &[
            "--expect",
            "never-printed",
            "--fail",
            "panicked at",
            "--timeout",
            "60s",
        ],
    );
    m.wait_open();
    pty.write(b"starting\npanicked at src/main.rs:10:5\n");
    let st = m.wait();
    assert_eq!(st.code(), Some(1), "stderr: {}", m.stderr.text());
    let err = m.stderr.text();
    assert!(err.contains("fail pattern `panicked at` matched"), "{err}");
    assert!(err.contains("src/main.rs:10:5"), "{err}");
}

#[test]
fn timeout_exits_124_and_says_what_it_waited_for() {
    let mut pty = Pty::new();
    let mut m = Monitor::spawn(
        &pty.path,
        &[
            "--expect",
            "first",
            "--expect",
            "second",
            "--timeout",
            "4s",
            "--json",
        ],
    );
    m.stdout.wait_count("\"connected\"", 1);
    pty.write(b"first\n");
    let st = m.wait();
    assert_eq!(st.code(), Some(124));
    let out = m.stdout.text();
    let result: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["outcome"], "timeout");
    assert_eq!(result["waiting_for"], "second");
    assert_eq!(result["met"], 1);
    assert_eq!(result["exit"], 124);
}

#[test]
fn bad_input_exits_2_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.log");
    let pty = Pty::new();
    let out = picow()
        .args(["monitor", "--non-interactive", "--port"])
        .arg(&pty.path)
        .args(["--expect", "(unclosed", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--expect `(unclosed` is not a valid regular expression"),
        "{err}"
    );
    assert!(!log.exists());

    let out = picow()
        .args(["monitor", "--port", "/dev/null", "--timeout", "5 days"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--timeout"));

    let out = picow()
        .args(["monitor", "--non-interactive", "--port"])
        .arg(&pty.path)
        .arg("--log")
        .arg(dir.path().join("no/such/dir/x.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log"));

    let out = picow()
        .args(["monitor", "--baud", "0", "--port", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--baud"));

    let out = picow()
        .args(["monitor", "--json", "--hex", "--port", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_and_busy_ports_say_so() {
    let out = picow()
        .args([
            "monitor",
            "--non-interactive",
            "--port",
            "/dev/ttyPICOW-nope",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("serial port /dev/ttyPICOW-nope not found"),
        "{err}"
    );
    assert!(
        err.contains("ports present") || err.contains("plugged in"),
        "{err}"
    );

    // Another monitor has the port: the second says "busy".
    let pty = Pty::new();
    let first = Monitor::spawn(&pty.path, &[]);
    first.wait_open();
    let out = picow()
        .args(["monitor", "--non-interactive", "--port"])
        .arg(&pty.path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is busy"), "{err}");
    drop(first);
}

#[test]
fn no_reconnect_exits_1_when_the_port_vanishes() {
    let mut pty = Pty::new();
    let mut m = Monitor::spawn(&pty.path, &["--no-reconnect"]);
    m.wait_open();
    pty.write(b"bye\n");
    m.stdout.wait_count("bye", 1);
    drop(pty);
    let st = m.wait();
    assert_eq!(st.code(), Some(1));
    assert!(m.stderr.text().contains("vanished"), "{}", m.stderr.text());
}

#[test]
fn reset_of_a_virtual_board_goes_through_its_control_socket() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("picow-sim");
    let pty = Pty::new();
    std::os::unix::fs::symlink(&pty.path, &link).unwrap();
    // `picow sim --link L` listens on L.control; the monitor finds it.
    let control = UnixListener::bind(dir.path().join("picow-sim.control")).unwrap();
    let board = std::thread::spawn(move || loop {
        // The lookup first checks that a board answers (a connection that
        // sends nothing); the reset comes on the next one.
        let (s, _) = control.accept().unwrap();
        let mut line = String::new();
        BufReader::new(s.try_clone().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.is_empty() {
            continue;
        }
        (&s).write_all(b"ok mode=running\n").unwrap();
        return line;
    });
    let m = Monitor::spawn(&link, &["--reset"]);
    m.wait_open();
    assert_eq!(board.join().unwrap(), "reset run\n");
    let (st, m) = m.interrupt();
    assert_eq!(st.code(), Some(0));
    assert!(
        !m.stderr.text().contains("could not reset"),
        "{}",
        m.stderr.text()
    );
}

/// A stop signal while an expectation is pending is a failure (1), never a
/// pass, and `--json`'s result says `interrupted`; with every expectation
/// met before the signal there is nothing to fail (issue 11, finding 7).
#[test]
fn a_signal_with_an_expectation_pending_exits_1() {
    for sig in [
        rustix::process::Signal::INT,
        rustix::process::Signal::TERM,
        rustix::process::Signal::HUP,
    ] {
        let mut pty = Pty::new();
        let mut m = Monitor::spawn(
            &pty.path,
            &[
                "--json",
                "--expect",
                "first",
                "--expect",
                "second",
                "--timeout",
                "60s",
            ],
        );
        m.stdout.wait_count("\"connected\"", 1);
        pty.write(b"first\n");
        m.stdout.wait_count("first", 1);
        let pid = rustix::process::Pid::from_child(&m.child);
        rustix::process::kill_process(pid, sig).unwrap();
        let st = m.wait();
        assert_eq!(st.code(), Some(1), "{sig:?}: {}", m.stderr.text());
        let out = m.stdout.text();
        let result: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(result["type"], "result", "{sig:?}: {out}");
        assert_eq!(result["outcome"], "interrupted", "{sig:?}: {out}");
        assert_eq!(result["met"], 1, "{sig:?}: {out}");
    }
    // Nothing pending: a stop is a success.
    let pty = Pty::new();
    let m = Monitor::spawn(&pty.path, &["--timeout", "60s"]);
    m.wait_open();
    let (st, m) = m.interrupt();
    assert_eq!(st.code(), Some(0), "{}", m.stderr.text());
}
