//! Test helpers for `picow monitor`: pseudo-terminals that stand in for the
//! board's serial port, and a running `picow monitor` whose stdout and
//! stderr are collected as they come.
#![allow(dead_code)] // each test binary uses some of these

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};

/// Generous bound for anything the monitor must do, on a loaded 2-core box.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The board's side of a pseudo-terminal: what is written here arrives at
/// the monitor, which opens [`Pty::path`].
pub struct Pty {
    pub master: File,
    pub path: PathBuf,
}

impl Pty {
    pub fn new() -> Pty {
        let m =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&m).expect("grantpt");
        unlockpt(&m).expect("unlockpt");
        let name = ptsname(&m, Vec::new()).expect("ptsname");
        let path = PathBuf::from(name.to_str().expect("utf-8 pts name"));
        Pty {
            master: File::from(m),
            path,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to pty");
    }
}

/// Bytes collected from a pipe by a thread.
#[derive(Clone, Default)]
pub struct Collected(Arc<(Mutex<Vec<u8>>, Condvar)>);

impl Collected {
    /// Collects what `r` yields on a thread.
    pub fn spawn(mut r: impl Read + Send + 'static) -> (Collected, std::thread::JoinHandle<()>) {
        let c = Collected::default();
        let c2 = c.clone();
        let h = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (m, cv) = &*c2.0;
                        m.lock().unwrap().extend_from_slice(&buf[..n]);
                        cv.notify_all();
                    }
                }
            }
        });
        (c, h)
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.0 .0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Waits until `pred` holds for the bytes so far; panics after [`PATIENCE`].
    pub fn wait_for(&self, what: &str, pred: impl Fn(&[u8]) -> bool) {
        let (m, cv) = &*self.0;
        let deadline = Instant::now() + PATIENCE;
        let mut g = m.lock().unwrap();
        while !pred(&g) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; got:\n{}",
                String::from_utf8_lossy(&g)
            );
            g = cv
                .wait_timeout(g, left.min(Duration::from_millis(200)))
                .unwrap()
                .0;
        }
    }

    /// Waits until the text contains `needle` at least `n` times.
    pub fn wait_count(&self, needle: &str, n: usize) {
        self.wait_for(&format!("{n} x {needle:?}"), |b| {
            String::from_utf8_lossy(b).matches(needle).count() >= n
        });
    }
}

/// A running `picow monitor`.
pub struct Monitor {
    pub child: Child,
    pub stdout: Collected,
    pub stderr: Collected,
    readers: Vec<std::thread::JoinHandle<()>>,
}

pub use crate::common::picow;

impl Monitor {
    pub fn spawn(port: &Path, extra: &[&str]) -> Monitor {
        Self::spawn_in(&std::env::current_dir().unwrap(), port, extra)
    }

    /// Runs the monitor in the directory `cwd`.
    pub fn spawn_in(cwd: &Path, port: &Path, extra: &[&str]) -> Monitor {
        let mut c = picow();
        c.current_dir(cwd);
        c.arg("monitor")
            .arg("--port")
            .arg(port)
            .arg("--non-interactive")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn picow");
        let (stdout, h1) = Collected::spawn(child.stdout.take().unwrap());
        let (stderr, h2) = Collected::spawn(child.stderr.take().unwrap());
        Monitor {
            child,
            stdout,
            stderr,
            readers: vec![h1, h2],
        }
    }

    /// Waits for "monitoring <port>", printed once the port is open.
    pub fn wait_open(&self) {
        self.stderr.wait_count("monitoring", 1);
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit.
    pub fn interrupt(mut self) -> (ExitStatus, Monitor) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("kill");
        let st = self.wait();
        (st, self)
    }

    /// Waits for the exit (bounded).
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                // The pipes end with the process: collect everything.
                for h in self.readers.drain(..) {
                    h.join().expect("reader thread");
                }
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("monitor did not exit; stderr:\n{}", self.stderr.text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
