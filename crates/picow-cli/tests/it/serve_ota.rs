//! `picow serve` and updates over Wi-Fi, as a user runs them, against
//! `picow sim` (the virtual C3 running picow-app, its OTA listener on
//! 127.0.0.1) greeting a loopback serve: serve reports what the board
//! runs (`firmware`), `/update ID FILE` updates it and serve sees it come
//! back with the new version, `--update FILE` does it unattended, and bad
//! input or a refused update is reported while serve goes on.
#![cfg(unix)]

use crate::common;
use crate::flash_ota::{usb_flashed_for, Sim, PASSWORD};

use std::io::Write;
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{listening_port, Kill};
use picow_sim::fixture::app_image;
use picow_sim::Chip;
use serde_json::Value;

/// A `picow --json serve` whose stdin takes commands, a virtual C3 flashed
/// with version 1.0.0 that greets it, and serve's stdout.
struct Rig {
    serve: Kill,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Every event so far (to show when a wait fails).
    seen: Vec<Value>,
    /// Events no wait has taken yet: waits take events in any order.
    pending: Vec<Value>,
    sim: Sim,
    _files: tempfile::TempDir,
}

/// A free port on 127.0.0.1 for the board's OTA listener (serve is told it
/// before the board starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Rig {
    fn start(extra: &[&str]) -> Rig {
        Rig::start_with(extra, |_| Vec::new())
    }

    /// `more` gives more serve flags from the board's directory (the
    /// firmware files are written there first).
    fn start_with(extra: &[&str], more: impl Fn(&std::path::Path) -> Vec<String>) -> Rig {
        let ota = free_port();
        let files = tempfile::tempdir().unwrap();
        let more = more(files.path());
        let mut serve = Kill(
            common::picow()
                .args(["--json", "serve", "--bind", "127.0.0.1", "--port", "0"])
                .args(["--ota-port", &ota.to_string(), "--ota-password", PASSWORD])
                .args(extra)
                .args(&more)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let stdin = serve.0.stdin.take();
        let lines = common::lines(&mut serve);
        let first = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("picow serve printed no first line");
        let port = listening_port(&first);
        let sim = Sim::start_with_ota_port(&usb_flashed_for(port), ota);
        Rig {
            serve,
            stdin,
            lines,
            seen: Vec::new(),
            pending: Vec::new(),
            sim,
            _files: files,
        }
    }

    fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().unwrap();
        writeln!(s, "{line}").unwrap();
        s.flush().unwrap();
    }

    /// The first event not taken yet for which `ok` holds, within `secs`.
    fn until(&mut self, what: &str, secs: u64, ok: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&ok) {
            return self.pending.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let l = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no {what} within {secs} s; serve said:\n{}",
                    self.seen
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            assert!(
                !l.contains(PASSWORD),
                "the OTA password in serve's output: {l}"
            );
            let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
            self.seen.push(v.clone());
            if ok(&v) {
                return v;
            }
            self.pending.push(v);
        }
    }

    fn firmware(&mut self, version: &str) -> Value {
        self.until(&format!("firmware {version}"), 60, |v| {
            v["event"] == "firmware" && v["version"] == version
        })
    }

    fn update(&mut self, state: &str) -> Value {
        self.until(&format!("update {state}"), 60, |v| {
            v["event"] == "update" && v["state"] == state
        })
    }

    /// `/quit`; serve's exit code.
    fn quit(mut self) -> Option<i32> {
        self.send("/quit");
        self.until("summary", 20, |v| v["event"] == "summary");
        drop(self.stdin.take());
        let code = common::wait_exit(&mut self.serve.0, 20);
        drop(self.sim);
        code
    }
}

#[test]
fn serve_shows_the_version_and_update_id_takes_the_board_to_another() {
    let mut rig = Rig::start(&[]);
    let f = rig.firmware("1.0.0");
    assert_eq!(f["project"], "picow-fw", "{f}");
    assert_eq!(f["slot"], 0, "{f}");
    assert_eq!(f["chip"], "esp32c3", "{f}");
    let id = f["id"].as_u64().unwrap();
    // Bad input: a clear error naming what is wrong, serve goes on.
    rig.send("/update 99");
    let e = rig.until("error for #99", 10, |v| v["event"] == "error");
    assert!(e["message"].as_str().unwrap().contains("#99"), "{e}");
    rig.send(&format!("/update {id} /nonexistent/fw.bin"));
    let n = rig.until("notice for a missing file", 10, |v| {
        v["event"] == "notice" && v["message"].as_str().unwrap().contains("/update")
    });
    let m = n["message"].as_str().unwrap();
    assert!(
        m.contains("/update") && m.contains("/nonexistent/fw.bin"),
        "{n}"
    );
    rig.send("/update");
    let n = rig.until("notice for no id", 10, |v| {
        v["event"] == "notice" && v["message"].as_str().unwrap().contains("client id")
    });
    assert!(n["message"].as_str().unwrap().contains("client id"), "{n}");
    // The update.
    let v2 = rig
        .sim
        .write_file("v2.bin", &app_image(Chip::Esp32c3, "picow-fw", "2.0.0"));
    rig.send(&format!("/update {id} {}", v2.display()));
    let s = rig.update("started");
    assert_eq!(s["id"], id);
    assert_eq!(s["firmware"], v2.display().to_string());
    rig.update("uploaded");
    let d = rig.update("done");
    assert_eq!(d["version"], "2.0.0", "{d}");
    // The board came back as a new client, with the new version.
    let f = rig.firmware("2.0.0");
    assert_ne!(f["id"], id, "a new connection after the reboot");
    assert_eq!(f["slot"], 1, "{f}");
    // The same image again: nothing sent.
    let id2 = f["id"].as_u64().unwrap();
    rig.send(&format!("/update {id2} {}", v2.display()));
    let u = rig.update("unchanged");
    assert_eq!(u["version"], "2.0.0", "{u}");
    assert_eq!(rig.quit(), Some(0));
}

#[test]
fn serve_update_brings_every_board_with_another_image_to_it_once() {
    let mut rig = Rig::start_with(&[], |dir| {
        let v2 = dir.join("v2.bin");
        std::fs::write(&v2, app_image(Chip::Esp32c3, "picow-fw", "2.0.0")).unwrap();
        vec!["--update".into(), v2.display().to_string()]
    });
    rig.firmware("1.0.0");
    rig.update("started");
    let d = rig.update("done");
    assert_eq!(d["version"], "2.0.0", "{d}");
    rig.firmware("2.0.0");
    assert_eq!(rig.quit(), Some(0));
}

#[test]
fn a_failed_update_is_reported_and_serve_exits_1() {
    // A firmware for another chip: refused before anything is sent.
    let mut rig = Rig::start_with(&[], |dir| {
        let s3 = dir.join("s3.bin");
        std::fs::write(&s3, app_image(Chip::Esp32s3, "picow-fw", "2.0.0")).unwrap();
        vec!["--update".into(), s3.display().to_string()]
    });
    rig.firmware("1.0.0");
    let f = rig.update("failed");
    assert!(f["error"].as_str().unwrap().contains("chip"), "{f}");
    // serve goes on, and the board still runs 1.0.0.
    rig.send("/list");
    let l = rig.until("clients", 10, |v| v["event"] == "clients");
    assert_eq!(l["clients"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(rig.quit(), Some(1));
}

#[test]
fn a_bad_update_flag_is_refused_at_start() {
    let out = common::output(&[
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--update",
        "/nonexistent/fw.elf",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::text(&out.stderr);
    assert!(
        err.contains("--update") && err.contains("/nonexistent/fw.elf"),
        "{err}"
    );
}
