//! Updates over Wi-Fi with the firmware CI builds, on a virtual ESP32-C3
//! (`picow sim`) that greets a loopback `picow serve`: version A over USB,
//! version B (a second build whose app descriptor says another version)
//! with `picow flash --ota`, then ESPHome's own uploader (`espota2` from
//! PyPI's `esphome`) back to A and refused with a wrong password; a crash
//! on trial rolled back, a link cut at 50 random points of the upload, and
//! bad uploads refused by the board itself. The flash file is read back
//! with PyPI's `esp-idf-defs` (`data/ota_readback.py`), not with picow.
//!
//! Ignored in a plain `cargo test`: `cargo xtask ci` runs it after the
//! firmware builds, with `PICOW_FW_ELF`, `PICOW_FW_ELF_B`,
//! `PICOW_FW_BIN_A`, `PICOW_FW_ELF_C6`, `PICOW_FW_BIN_C6` and
//! `PICOW_OTA_PYTHON` (a Python with esphome and esp-idf-defs).
#![cfg(unix)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{output, picow, text, Kill};

use crate::flash_ota::cutting_relay;

const WIFI: &str = "OtaLab:ota-lab-password";
const PASSWORD: &str = "ci-ota-password";

fn env_path(var: &str) -> PathBuf {
    let p = PathBuf::from(std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: run this through `cargo xtask ci` (or set it by hand)")
    }));
    assert!(p.exists(), "{var}={} does not exist", p.display());
    p
}

/// A virtual C3 in its own process, and a `picow serve` it greets.
struct Rig {
    _sim: Kill,
    dir: tempfile::TempDir,
    link: PathBuf,
    control: PathBuf,
    flash: PathBuf,
    ota: String,
    serve: common::Serve,
}

impl Rig {
    /// The board, flashed over USB with version A and the OTA password.
    fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("board");
        let control = dir.path().join("board.control");
        let flash = dir.path().join("flash.bin");
        let mut sim = Kill(
            picow()
                .args(["--json", "sim", "--chip", "esp32c3", "--flash-size", "4MB"])
                .args([
                    "--wifi",
                    WIFI,
                    "--ota-port",
                    "0",
                    "--mac",
                    "7c:df:a1:c3:0a:17",
                ])
                .arg("--flash")
                .arg(&flash)
                .arg("--link")
                .arg(&link)
                .arg("--control")
                .arg(&control)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let lines = common::lines(&mut sim);
        let ready: serde_json::Value = serde_json::from_str(
            &lines
                .recv_timeout(Duration::from_secs(30))
                .expect("picow sim printed no ready line"),
        )
        .unwrap();
        let ota = format!("127.0.0.1:{}", ready["ota_port"]);
        // Keep reading its events so that it never blocks on a full pipe.
        std::thread::spawn(move || while lines.recv().is_ok() {});
        let serve = common::serve(&["--plain"]);
        let rig = Rig {
            _sim: sim,
            dir,
            link,
            control,
            flash,
            ota,
            serve,
        };
        let out = output(&[
            "flash",
            "--port",
            rig.link.to_str().unwrap(),
            "--firmware",
            env_path("PICOW_FW_ELF").to_str().unwrap(),
            "--wifi",
            WIFI,
            "--server",
            &format!("127.0.0.1:{}", rig.serve.port),
            "--ota-password",
            PASSWORD,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "USB flash of A: {}",
            text(&out.stderr)
        );
        rig.greeted("after the USB flash");
        rig
    }

    /// Waits for the board's greeting in serve's output.
    fn greeted(&self, when: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.serve.lines.recv_timeout(left) {
                Ok(l) if l.contains("Hello WalnutPi!") => return,
                Ok(_) => {}
                Err(_) => panic!("no greeting reached picow serve {when}"),
            }
        }
    }

    fn control(&self, cmd: &str) -> String {
        common::control(&self.control, cmd)
    }

    /// The flash file as esp-idf-defs reads it.
    fn readback(&self) -> serde_json::Value {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/ota_readback.py");
        let out = Command::new(env_path("PICOW_OTA_PYTHON"))
            .arg(script)
            .arg(&self.flash)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ota_readback.py: {}",
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn otadata_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.flash).unwrap()[0xD000..0xF000].to_vec()
    }

    fn flash_ota(&self, to: &str, extra: &[&str]) -> Output {
        let mut args = vec!["--json", "flash", "--ota", to, "--ota-password", PASSWORD];
        args.extend_from_slice(extra);
        output(&args)
    }

    /// ESPHome's own uploader; its exit code and log.
    fn espota2(&self, password: &str, file: &Path) -> (i32, String) {
        let port = self.ota.rsplit_once(':').unwrap().1;
        let out = Command::new(env_path("PICOW_OTA_PYTHON"))
            .args(["-c", ESPOTA2, port, password])
            .arg(file)
            .output()
            .unwrap();
        let log = format!("{}{}", text(&out.stdout), text(&out.stderr));
        (out.status.code().unwrap_or(-1), log)
    }

    /// Waits until the readback satisfies `ok` (the board writes otadata on
    /// its own schedule: confirming a trial after its greeting).
    fn until(&self, what: &str, ok: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.readback();
            if ok(&r) {
                return r;
            }
            assert!(Instant::now() < deadline, "{what}: {r:#}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

/// `espota2.run_ota(127.0.0.1, PORT, PASSWORD, FILE)`; exits with its result code.
const ESPOTA2: &str = "\
import logging, pathlib, sys
logging.basicConfig(level=logging.INFO)
from esphome import espota2
rc, host = espota2.run_ota('127.0.0.1', int(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3]))
sys.exit(rc)
";

fn done(out: &Output) -> serde_json::Value {
    text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|e| e["event"] == "done")
        .unwrap_or_else(|| panic!("no done event: {}{}", text(&out.stdout), text(&out.stderr)))
}

fn slot_version(r: &serde_json::Value, n: usize) -> String {
    let s = &r["slots"][n];
    assert_eq!(s["valid"], true, "slot {n} does not verify: {r:#}");
    assert_eq!(s["project"], "picow-fw", "{r:#}");
    s["version"].as_str().unwrap().to_string()
}

#[test]
#[ignore = "needs the CI-built firmware (two versions) and a Python with esphome and esp-idf-defs"]
fn c3_goes_from_a_to_b_over_wifi_and_back_with_espota2() {
    let rig = Rig::start();
    let r = rig.readback();
    let a = slot_version(&r, 0);
    assert_eq!(r["boot_slot"], 0, "{r:#}");
    // picow flash --ota with version B.
    let out = rig.flash_ota(
        &rig.ota,
        &["--firmware", env_path("PICOW_FW_ELF_B").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d = done(&out);
    assert_eq!(d["outcome"], "updated", "{d}");
    assert_eq!(d["before"]["version"], a.as_str());
    let b = d["after"]["version"].as_str().unwrap().to_string();
    assert_ne!(a, b, "the second build says another version");
    assert_eq!(d["after"]["slot"], 1);
    assert!(!text(&out.stdout).contains(PASSWORD) && !text(&out.stderr).contains(PASSWORD));
    rig.greeted("after the update to B");
    // What runs, as the board's console says it.
    let out = output(&["--json", "probe", "--port", rig.link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["firmware"]["version"], b.as_str(), "{v}");
    // The flash file, read by esp-idf-defs: B in ota_1, selected and confirmed; A kept in ota_0.
    let r = rig.readback();
    assert_eq!(r["boot_slot"], 1, "{r:#}");
    assert_eq!(slot_version(&r, 0), a);
    assert_eq!(slot_version(&r, 1), b);
    let entries = r["otadata"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e["seq"] == 0xFFFF_FFFFu32 || e["crc_ok"] == true),
        "{r:#}"
    );
    let active = entries
        .iter()
        .filter(|e| e["slot"] == 1)
        .max_by_key(|e| e["seq"].as_u64())
        .unwrap();
    assert_eq!(active["state"], 2, "valid (confirmed): {r:#}");
    // The same image again: skipped.
    let out = rig.flash_ota(
        &rig.ota,
        &["--firmware", env_path("PICOW_FW_ELF_B").to_str().unwrap()],
    );
    assert_eq!(done(&out)["outcome"], "unchanged");

    // ESPHome's uploader: refused with a wrong password, nothing activated.
    let before = rig.otadata_bytes();
    let bin_a = env_path("PICOW_FW_BIN_A");
    let (rc, log) = rig.espota2("not-the-password", &bin_a);
    assert_ne!(rc, 0, "{log}");
    assert!(log.contains("Authentication invalid"), "{log}");
    assert_eq!(rig.otadata_bytes(), before);
    // With the password it updates the board back to A (into ota_0).
    let (rc, log) = rig.espota2(PASSWORD, &bin_a);
    assert_eq!(rc, 0, "{log}");
    assert!(log.contains("OTA successful"), "{log}");
    rig.greeted("after espota2");
    let r = rig.until("A in ota_0 confirmed by its greeting", |r| {
        r["boot_slot"] == 0
            && r["otadata"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["slot"] == 0 && e["state"] == 2 && e["seq"].as_u64() > Some(1))
    });
    assert_eq!(slot_version(&r, 0), a);
    let st = rig.control("status");
    assert!(
        st.contains("slot=0") && st.contains(&format!("version={a:?}")),
        "{st}"
    );
}

#[test]
#[ignore = "needs the CI-built firmware (two versions) and a Python with esphome and esp-idf-defs"]
fn c3_rolls_back_survives_fifty_cuts_and_refuses_bad_uploads() {
    let rig = Rig::start();
    let a = slot_version(&rig.readback(), 0);
    let elf_b = env_path("PICOW_FW_ELF_B");
    let elf_b = elf_b.to_str().unwrap();

    // A crash on trial: the board returns to A by itself.
    assert_eq!(rig.control("fail-next-boot"), "ok fail-next-boot");
    let out = rig.flash_ota(&rig.ota, &["--firmware", elf_b, "--wait", "30s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("came back with its previous image"), "{err}");
    // Bytes of the upload on the wire (gzip), from its `upload` event.
    let upload = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "upload")
        .and_then(|e| e["size"].as_u64())
        .expect("an upload event") as usize;
    let r = rig.readback();
    assert_eq!(r["boot_slot"], 0, "{r:#}");
    assert_eq!(slot_version(&r, 0), a);
    rig.greeted("after the rollback");

    // The link cut at 50 random points of the upload (the second
    // connection; the first is the query): the board stays on A each time.
    let before = rig.otadata_bytes();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Cut anywhere in the upload connection before its last byte.
    for i in 0..50 {
        let cut = 1 + (next() % upload as u64) as usize;
        let (relay, _h) = cutting_relay(&rig.ota, 1, cut);
        let out = rig.flash_ota(&relay, &["--firmware", elf_b, "--wait", "5s"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "cut {i} at byte {cut} (seed {seed}): {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains("still runs its previous image"));
        assert!(
            rig.otadata_bytes() == before,
            "cut {i} at byte {cut} (seed {seed}) changed otadata"
        );
    }
    let st = rig.control("status");
    assert!(
        st.contains("slot=0") && st.contains(&format!("version={a:?}")),
        "{st}"
    );
    // And then the same update, uncut, completes.
    let out = rig.flash_ota(&rig.ota, &["--firmware", elf_b]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(done(&out)["after"]["slot"], 1);
    let b = done(&out)["after"]["version"].as_str().unwrap().to_string();

    // Bad uploads, sent with ESPHome's uploader (no picow checks on the PC
    // side): the board refuses each, and still runs B from ota_1.
    let before = rig.otadata_bytes();
    let good = std::fs::read(env_path("PICOW_FW_BIN_A")).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x04;
    let mut oversized = good.clone();
    oversized.resize(0x200000, 0);
    let c6 = std::fs::read(env_path("PICOW_FW_BIN_C6")).unwrap();
    let junk: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for (what, bytes) in [
        ("wrong chip (C6)", c6),
        ("truncated", good[..good.len() - 4096].to_vec()),
        ("one flipped byte", flipped),
        ("oversized", oversized),
        ("not an image", junk),
    ] {
        let f = rig.file("bad.bin", &bytes);
        let (rc, log) = rig.espota2(PASSWORD, &f);
        assert_ne!(rc, 0, "{what} was accepted: {log}");
        assert!(rig.otadata_bytes() == before, "{what}: otadata changed");
        let st = rig.control("status");
        assert!(
            st.contains("slot=1") && st.contains(&format!("version={b:?}")),
            "{what}: {st}"
        );
    }
    // picow refuses the C6 firmware before sending anything.
    let out = rig.flash_ota(
        &rig.ota,
        &["--firmware", env_path("PICOW_FW_ELF_C6").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("chip mismatch"),
        "{}",
        text(&out.stderr)
    );
    // A wrong password with picow: refused, exit 1, the password not shown.
    let out = output(&[
        "flash",
        "--ota",
        &rig.ota,
        "--ota-password",
        "wrong-password-1",
        "--firmware",
        elf_b,
        "--force",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("OTA password is wrong"));
    assert!(!text(&out.stderr).contains("wrong-password-1"));
    assert!(rig.otadata_bytes() == before);
}
