//! Helpers for every test binary of picow-cli that runs the `picow` binary:
//! a clean environment, bounded waits, and a guard that leaves no process
//! behind when an assertion fails.
#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::ops::{Deref, DerefMut};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `picow` binary, without the caller's settings that change what it
/// does (`RUST_LOG`, `PICOW_PORT`, `PICOW_FIRMWARE`, `PICOW_OTA_PASSWORD`,
/// `PICOW_DEBUG`), without colour, and in English (`LC_ALL=C`; a test of
/// another language sets `LC_ALL` itself). Its config directory (where it
/// keeps made-up OTA passwords) is one per test process under Cargo's
/// target tmp dir, never the user's.
///
/// `PICOW_TEST_BIN=PATH` runs another build instead (to check that a
/// regression test fails on an older commit).
pub fn picow() -> Command {
    let bin =
        std::env::var_os("PICOW_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_picow").into());
    let mut c = Command::new(bin);
    c.env_remove("RUST_LOG")
        .env_remove("PICOW_PORT")
        .env_remove("PICOW_FIRMWARE")
        .env_remove("PICOW_OTA_PASSWORD")
        .env("PICOW_CONFIG_DIR", config_dir())
        // Installed firmware and the view's history are the test's own,
        // not what `cargo xtask fw build` installed on this machine (a
        // test that puts its ELF in a clone must find that one).
        .env("XDG_DATA_HOME", data_dir())
        .env_remove("PICOW_DEBUG")
        // Tests never advertise on the machine's network (those that test
        // discovery make their own, in network namespaces).
        .env("PICOW_NO_ADVERTISE", "1")
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1");
    c
}

/// The config directory the `picow` of [`picow()`] uses.
pub fn config_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("picow-config-{}", std::process::id()))
}

/// The data directory every picow of this test process uses (empty unless
/// a test puts something there).
pub fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("picow-data-{}", std::process::id()))
}

/// Runs `picow ARGS` to the end (stdin closed) and returns its output.
pub fn output(args: &[&str]) -> Output {
    picow().args(args).output().expect("run picow")
}

/// Bytes as text, for messages and `contains`.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A child process that is killed and reaped when the guard goes, also when
/// the test fails half-way; it derefs to the [`Child`].
#[derive(Debug)]
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Deref for Kill {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Kill {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// The port in serve's first line: `picow serve: listening on TCP
/// 127.0.0.1:PORT`, or the `local` of the JSON `listening` event.
pub fn listening_port(first: &str) -> u16 {
    let addr = if first.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(first).unwrap();
        assert_eq!(v["event"], "listening", "{first}");
        v["local"][0].as_str().unwrap().to_owned()
    } else {
        first.rsplit(' ').next().unwrap().to_owned()
    };
    let addr: std::net::SocketAddr = addr.parse().unwrap_or_else(|_| panic!("{first}"));
    assert_ne!(addr.port(), 0, "{first}");
    addr.port()
}

/// A `picow serve --bind 127.0.0.1 --port 0` running in the background, on
/// the port it chose (no race with another program taking a port that was
/// found free a moment before). Its stdout lines after the first are on
/// `lines`; keep the value alive while serve runs, or its output pipe closes.
#[derive(Debug)]
pub struct Serve {
    /// The process.
    pub child: Kill,
    /// The port it bound.
    pub port: u16,
    /// Its stdout lines after the first.
    pub lines: mpsc::Receiver<String>,
}

/// Starts `picow serve --bind 127.0.0.1 --port 0 ARGS` and reads its port.
pub fn serve(args: &[&str]) -> Serve {
    let mut child = Kill(
        picow()
            .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = lines(&mut child);
    let first = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("picow serve printed no first line");
    Serve {
        port: listening_port(&first),
        child,
        lines,
    }
}

/// The child's stdout lines on a channel (read on a thread), so that every
/// wait for a line can be bounded with `recv_timeout`.
pub fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The exit code once the child has ended, or `None` after `secs` seconds.
pub fn wait_exit(child: &mut Child, secs: u64) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// One command to a virtual board's control socket; its one-line answer.
#[cfg(unix)]
pub fn control(path: &std::path::Path, cmd: &str) -> String {
    use std::io::Write;
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    writeln!(s, "{cmd}").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}
