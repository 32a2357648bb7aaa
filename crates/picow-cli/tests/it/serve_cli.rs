//! `picow serve` as a process: exit codes, messages that name the flag,
//! bind failures, the startup lines, JSON events, the log, and SIGTERM.
//! Loopback only (`--bind 127.0.0.1`); every wait is bounded.

use crate::common;

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use common::{listening_port, picow};
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> Output {
    picow()
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A running `picow serve` on a port it chose itself (`--port 0`).
struct Serve {
    child: Child,
    _guard: KillOnDrop,
    /// The port serve bound, read from its first line.
    port: u16,
    /// Its first line (the listening line or event).
    first: String,
    /// The rest of its stdout.
    lines: Lines<BufReader<ChildStdout>>,
}

impl Serve {
    /// Waits for the end; the exit code and all of stdout.
    fn finish(mut self) -> (Option<i32>, String) {
        let mut out = self.first.clone();
        for l in self.lines.by_ref() {
            out.push('\n');
            out.push_str(&l.unwrap());
        }
        (self.child.wait().unwrap().code(), out)
    }
}

/// Starts `picow GLOBAL serve --bind 127.0.0.1 --port 0 ARGS` with its
/// stdout and stderr piped, and the guard that kills it if the test fails;
/// the port comes from the first line, as a script would read it (no race
/// with another program taking a port found free a moment before).
fn spawn_serve(global: &[&str], args: &[&str], stdin: Stdio) -> Serve {
    let mut child = picow()
        .args(global)
        .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    let port = listening_port(&first);
    Serve {
        child,
        _guard,
        port,
        first,
        lines,
    }
}

/// Kills a spawned serve if a test fails before it exits by itself, so no
/// orphan keeps the port (or the test's output pipe) open.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let pid = self.0.to_string();
            #[cfg(unix)]
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            #[cfg(windows)]
            let _ = Command::new("taskkill").args(["/F", "/PID", &pid]).status();
        }
    }
}

fn connect(port: u16) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return s,
            Err(e) if start.elapsed() > Duration::from_secs(30) => {
                panic!("serve did not listen: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn invalid_flag_values_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["--port", "70000"][..], "--port"),
        (&["--expect", "a(b"], "--expect"),
        (&["--timeout", "20 parsecs"], "--timeout"),
        (&["--encoding", "ebcdic-martian"], "--encoding"),
        (&["--send", "x", "--every", "often"], "--every"),
        (&["--bind", "192.168.1.300"], "--bind"),
    ] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn a_port_in_use_exits_2_with_what_to_do() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let out = run(&["--bind", "127.0.0.1", "--port", &port, "--timeout", "5s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already in use") && stderr.contains("--port"),
        "{stderr}"
    );
}

#[test]
fn an_unwritable_log_exits_2_naming_the_flag() {
    let out = run(&[
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--log",
        "/nonexistent-dir/x.jsonl",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--log"), "{stderr}");
}

#[test]
fn timeout_exits_124_and_prints_what_it_saw() {
    let serve = spawn_serve(
        &[],
        &["--expect", "I got:pong", "--timeout", "3s"],
        Stdio::null(),
    );
    let port = serve.port;
    let mut c = connect(port);
    c.write_all(b"Hello WalnutPi!I got:ping").unwrap();
    let (code, stdout) = serve.finish();
    assert_eq!(code, Some(124), "{stdout}");
    assert!(stdout.contains("not seen: /I got:pong/"), "{stdout}");
    assert!(
        stdout.contains("last text from #1: Hello WalnutPi!I got:ping"),
        "{stdout}"
    );
    // Bound to loopback: never offered to the board; said why instead.
    assert!(
        !stdout.contains(&format!("--server 127.0.0.1:{port}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("a board on Wi-Fi cannot reach it"),
        "{stdout}"
    );
}

/// The tutorial's board, in a thread: greeting, then recv(128) every 300 ms
/// and `I got:` + what it received.
fn board(port: u16) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut s = connect(port);
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"Hello WalnutPi!").unwrap();
        let mut buf = [0u8; 128];
        while let Ok(n @ 1..) = s.read(&mut buf) {
            let mut reply = b"I got:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            if s.write_all(&reply).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    })
}

#[test]
fn ci_script_with_json_and_log() {
    let dir = std::env::temp_dir().join(format!("picow-serve-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("serve.jsonl");
    let _ = std::fs::remove_file(&log);
    let serve = spawn_serve(
        &["--json"],
        &[
            "--send",
            "ping",
            "--expect",
            "Hello WalnutPi!",
            "--expect",
            "I got:ping",
            "--timeout",
            "60s",
            "--log",
            log.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    let port = serve.port;
    let b = board(port);
    let (code, stdout) = serve.finish();
    b.join().unwrap();
    assert_eq!(code, Some(0));
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for want in [
        "listening",
        "connected",
        "picow",
        "data",
        "sent",
        "expect",
        "disconnected",
        "summary",
    ] {
        assert!(names.contains(&want), "no {want} event in {names:?}");
    }
    assert_eq!(names.first(), Some(&"listening"));
    assert_eq!(names.last(), Some(&"summary"));
    assert_eq!(
        events[0]["hints"][0],
        format!("picow flash --server 127.0.0.1:{port}")
    );
    let sent = events.iter().find(|e| e["event"] == "sent").unwrap();
    assert_eq!(
        (sent["text"].as_str(), sent["hex"].as_str()),
        (Some("ping"), Some("70696e67"))
    );
    let log = std::fs::read_to_string(&log).unwrap();
    let dirs: Vec<String> = log
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["dir"]
                .as_str()
                .map(|d| format!("{d}:{}", v["text"].as_str().unwrap()))
        })
        .collect();
    assert!(dirs.contains(&"out:ping".to_owned()), "{dirs:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn sigterm_closes_flushes_the_log_and_exits_0() {
    let dir = std::env::temp_dir().join(format!("picow-serve-term-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("serve.jsonl");
    let Serve {
        mut child,
        _guard,
        port,
        mut lines,
        ..
    } = spawn_serve(
        &["--json"],
        &["--log", log.to_str().unwrap()],
        Stdio::null(),
    );
    let mut c = connect(port);
    c.write_all(b"before the signal").unwrap();
    // Wait until serve has shown the data, then SIGTERM.
    for line in lines.by_ref() {
        if line.unwrap().contains("\"event\":\"data\"") {
            break;
        }
    }
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        rest.iter()
            .any(|l| l.contains("\"reason\":\"server stopped\"")),
        "{rest:?}"
    );
    let summary = rest.last().unwrap();
    assert!(
        summary.contains("\"event\":\"summary\"") && summary.contains("\"bytes_in\":17"),
        "{summary}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("\"text\":\"before the signal\""), "{log}");
    // The client sees the close.
    let mut buf = [0u8; 4];
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn piped_stdin_commands_reach_the_clients() {
    let Serve {
        mut child,
        _guard,
        port,
        lines: mut stdout,
        ..
    } = spawn_serve(&[], &[], Stdio::piped());
    let mut c = connect(port);
    for line in stdout.by_ref() {
        if line.unwrap().contains("#1 connected from") {
            break;
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"/ending crlf\nhello\n/hex 41 42\n/list\n/disconnect 1\n")
        .unwrap();
    stdin.flush().unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hello\r\nAB");
    stdin.write_all(b"/quit\n").unwrap();
    let rest: Vec<String> = stdout.map(Result::unwrap).collect();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let text = rest.join("\n");
    assert!(text.contains("line ending: crlf"), "{text}");
    assert!(text.contains("#1 > hello"), "{text}");
    assert!(text.contains("#1    127.0.0.1:"), "{text}");
    assert!(
        text.contains("#1 disconnected: disconnected by the user"),
        "{text}"
    );
    assert!(text.contains("summary: 1 client(s)"), "{text}");
}
