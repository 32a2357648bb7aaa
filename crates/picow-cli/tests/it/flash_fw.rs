//! The firmware CI builds, flashed with `picow flash` onto a virtual
//! ESP32-C3 (`picow sim`) with the virtual Wi-Fi's credentials and a
//! loopback `picow serve --expect 'Hello WalnutPi!'` as the server; then
//! probe, `--config-only`, a backtrace decoded by `picow monitor`, and
//! `flash --monitor` following the board's console.
//!
//! Ignored in a plain `cargo test`: it needs
//! `target/picow-fw/esp32c3/picow-fw.elf`, so `cargo xtask ci` runs it with
//! `--ignored` right after its firmware build step.
#![cfg(unix)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{control, output as run, picow, text, wait_exit, Kill};

const WIFI: &str = "PicoLab:correct-horse";

/// `picow serve --expect 'Hello WalnutPi!'` on a loopback port of its own.
fn serve() -> common::Serve {
    common::serve(&["--expect", "Hello WalnutPi!", "--timeout", "90s", "--plain"])
}

/// `picow --json probe --port LINK --reset`, which must succeed: its report,
/// and its stdout as text.
fn probe(link: &Path) -> (serde_json::Value, String) {
    let out = run(&[
        "--json",
        "probe",
        "--port",
        link.to_str().unwrap(),
        "--reset",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = serde_json::from_slice(&out.stdout).unwrap();
    (v, text(&out.stdout))
}

fn firmware() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let elf = root.join("target/picow-fw/esp32c3/picow-fw.elf");
    assert!(
        elf.is_file(),
        "{} is missing: run `cargo xtask fw build --chip esp32c3 --release` first",
        elf.display()
    );
    elf
}

#[test]
#[ignore = "needs the CI-built firmware; cargo xtask ci runs it after the firmware build"]
fn ci_firmware_on_a_virtual_c3_boots_and_greets_picow_serve() {
    let elf = firmware();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("board");
    let ctl = dir.path().join("board.control");
    let flash = dir.path().join("flash.bin");
    let _sim = Kill(
        picow()
            .args([
                "sim",
                "--chip",
                "esp32c3",
                "--flash-size",
                "4MB",
                "--wifi",
                WIFI,
            ])
            .args(["--mac", "7c:df:a1:c3:00:42"])
            .arg("--flash")
            .arg(&flash)
            .arg("--link")
            .arg(&link)
            .arg("--control")
            .arg(&ctl)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(link.exists() && ctl.exists()) {
        assert!(Instant::now() < deadline, "picow sim did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut server = serve();
    let port = server.port;
    let server_addr = format!("127.0.0.1:{port}");
    let out = run(&[
        "flash",
        "--port",
        link.to_str().unwrap(),
        "--firmware",
        elf.to_str().unwrap(),
        "--wifi",
        WIFI,
        "--server",
        &server_addr,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The board boots, joins the virtual Wi-Fi, connects and greets.
    let code = wait_exit(&mut server.child, 90);
    assert_eq!(
        code,
        Some(0),
        "serve did not see the greeting; board: {}",
        control(&ctl, "status")
    );

    // probe: what was just written, password masked.
    let (v, stdout) = probe(&link);
    assert_eq!(v["mac"], "7c:df:a1:c3:00:42");
    assert_eq!(v["flash_size"], 4 << 20);
    assert_eq!(v["config"]["ssid"], "PicoLab");
    assert_eq!(v["config"]["password"], "********");
    assert_eq!(v["config"]["server"], format!("tcp://{server_addr}"));
    assert_eq!(v["app"]["descriptor"]["name"], "picow-fw");
    assert!(!stdout.contains("correct-horse"));

    // --config-only with another port: the board reconnects there.
    let mut server2 = serve();
    let port2 = server2.port;
    let out = run(&[
        "--json",
        "flash",
        "--port",
        link.to_str().unwrap(),
        "--config-only",
        "--wifi",
        WIFI,
        "--server",
        &format!("127.0.0.1:{port2}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(r#""event":"written""#));
    assert_eq!(
        wait_exit(&mut server2.child, 90),
        Some(0),
        "serve on the new port did not see the greeting"
    );
    let (v, _) = probe(&link);
    assert_eq!(v["config"]["server"], format!("tcp://127.0.0.1:{port2}"));

    // A backtrace printed by the virtual board is decoded by picow monitor
    // against the C3 ELF (the address is in the app's entry function, `_start`,
    // which is assembly: no line; file:line is checked by monitor_fw_elf).
    assert!(control(&ctl, "reset run").starts_with("ok"));
    let mut monitor = Kill(
        picow()
            .args([
                "monitor",
                "--port",
                link.to_str().unwrap(),
                "--non-interactive",
            ])
            .arg("--elf")
            .arg(&elf)
            // A capture window: monitor exits 0 when it ends.
            .args(["--timeout", "15s"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = monitor.0.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .expect("monitor ended before it connected")
            .unwrap();
        if line.contains("monitoring") {
            break;
        }
    }
    assert_eq!(control(&ctl, "panic"), "ok panicked");
    let code = wait_exit(&mut monitor, 60);
    let mut out = String::new();
    std::io::Read::read_to_string(monitor.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert_eq!(
        code,
        Some(0),
        "monitor did not decode the backtrace:\n{out}"
    );
    assert!(out.contains("Backtrace:"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("0x") && l.contains(" - _start")),
        "the address was not decoded with the ELF:\n{out}"
    );

    // flash --monitor: the board's console follows the write on the same
    // port, showing it connect to the server just configured.
    let mut server3 = serve();
    let port3 = server3.port;
    let mut flash = Kill(
        picow()
            .args(["flash", "--port", link.to_str().unwrap(), "--config-only"])
            .args(["--wifi", WIFI, "--server", &format!("127.0.0.1:{port3}")])
            .arg("--monitor")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let rx = common::lines(&mut flash);
    let want = format!("127.0.0.1:{port3}");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("server-connected") && line.contains(&want) => break,
            Ok(line) => seen.push(line),
            Err(_) => panic!("flash --monitor never showed server-connected to {want}:\n{seen:#?}"),
        }
    }
    // The monitor is still running: it is the one that saw the board.
    assert_eq!(flash.try_wait().unwrap(), None);
    assert_eq!(wait_exit(&mut server3.child, 90), Some(0));
}
