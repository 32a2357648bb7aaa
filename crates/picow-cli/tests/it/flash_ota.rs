//! `picow flash --ota` as a user runs it, against `picow sim` (the virtual
//! C3 running picow-app, its OTA listener on 127.0.0.1): an update to the
//! other slot, the unchanged image skipped, wrong passwords and chips
//! refused with nothing activated, a crash on trial rolled back, settings
//! changed over Wi-Fi, a link cut mid-upload, and the inputs refused before
//! anything is sent.
#![cfg(unix)]

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::text;
use picow_protocol::forms::{ServerAddr, WifiCredentials};
use picow_protocol::ota::OtaPassword;
use picow_protocol::otadata::{ImageState, OtaData};
use picow_protocol::DeviceConfig;
use picow_sim::fixture::{app_image, write_picow};
use picow_sim::{Chip, Flash};

pub const WIFI: &str = "OtaLab:ota-lab-pass";
pub const PASSWORD: &str = "ota-test-secret";
pub const OTADATA: usize = 0xD000;
pub const SLOT_1: usize = 0x200000;

/// A virtual C3 run as `picow sim --boot` in its own process, its OTA
/// listener on a free port.
pub struct Sim {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub flash_file: PathBuf,
    pub control: PathBuf,
    pub ota: String,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Sim {
    /// Starts a board whose flash is `flash` (4 MB).
    pub fn start(flash: &[u8]) -> Sim {
        Sim::start_with_ota_port(flash, 0)
    }

    /// [`Sim::start`] with its OTA listener on `ota_port` (0: a free one).
    pub fn start_with_ota_port(flash: &[u8], ota_port: u16) -> Sim {
        let ota_port = ota_port.to_string();
        let dir = tempfile::tempdir().unwrap();
        let flash_file = dir.path().join("flash.bin");
        std::fs::write(&flash_file, flash).unwrap();
        let link = dir.path().join("board");
        let control = dir.path().join("board.control");
        let mut child = common::picow()
            .args([
                "--json",
                "sim",
                "--chip",
                "esp32c3",
                "--boot",
                "--ota-port",
                &ota_port,
            ])
            .args(["--wifi", WIFI, "--mac", "7c:df:a1:c3:00:77"])
            .arg("--flash")
            .arg(&flash_file)
            .arg("--link")
            .arg(&link)
            .arg("--control")
            .arg(&control)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start picow sim");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        let ready = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("picow sim printed no ready line");
        let v: serde_json::Value = serde_json::from_str(&ready).unwrap();
        let port = v["ota_port"].as_u64().expect("ota_port in the ready line");
        Sim {
            child,
            dir,
            flash_file,
            control,
            ota: format!("127.0.0.1:{port}"),
            lines,
        }
    }

    pub fn flash(&self) -> Vec<u8> {
        std::fs::read(&self.flash_file).unwrap()
    }

    pub fn control(&self, cmd: &str) -> String {
        common::control(&self.control, cmd)
    }

    /// Waits for a sim event line (JSON) with `"event": name`.
    pub fn event(&self, name: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let l = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {name} event from picow sim"));
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            if v["event"] == name {
                return v;
            }
        }
    }

    pub fn write_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The settings of the test boards (a server that is not running: the
/// trial is confirmed by picow's OTA check, not by a greeting).
pub fn settings(server_port: u16) -> DeviceConfig {
    DeviceConfig::new(
        WifiCredentials::parse(WIFI).unwrap(),
        ServerAddr::parse(&format!("127.0.0.1:{server_port}")).unwrap(),
        None,
    )
    .unwrap()
    .with_ota_password(Some(OtaPassword::new(PASSWORD).unwrap()))
}

/// A 4 MB C3 flash as `picow flash` over USB leaves it, app version 1.0.0.
fn usb_flashed() -> Vec<u8> {
    usb_flashed_for(9)
}

/// [`usb_flashed`], the board's server on 127.0.0.1:`server_port`.
pub fn usb_flashed_for(server_port: u16) -> Vec<u8> {
    let mut f = Flash::in_memory(4 << 20);
    write_picow(
        &mut f,
        Chip::Esp32c3,
        "picow-fw",
        Some(&settings(server_port)),
    )
    .unwrap();
    f.erase(0x10000, 0x1000).unwrap();
    f.program(0x10000, &app_image(Chip::Esp32c3, "picow-fw", "1.0.0"))
        .unwrap();
    f.contents().to_vec()
}

/// A C3 app image of about `len` bytes whose descriptor says `version`.
pub fn big_image(version: &str, len: usize) -> Vec<u8> {
    use picow_protocol::ota::image::{build_app_desc, build_image};
    let desc = build_app_desc("picow-fw", version);
    let code: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
    build_image(
        5,
        0x4200_0000,
        &[(0x3c00_0020, &desc), (0x4200_0020, &code)],
    )
}

pub fn otadata(flash: &[u8]) -> OtaData {
    OtaData::parse(&flash[OTADATA..OTADATA + 0x2000])
}

fn flash_ota(sim: &Sim, extra: &[&str]) -> Output {
    let mut args = vec!["--json", "flash", "--ota", &sim.ota, "--wait", "20s"];
    args.extend_from_slice(extra);
    common::output(&args)
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn done(out: &Output) -> serde_json::Value {
    events(out)
        .into_iter()
        .rfind(|e| e["event"] == "done")
        .unwrap_or_else(|| panic!("no done event: {}{}", text(&out.stdout), text(&out.stderr)))
}

#[test]
fn an_update_over_wifi_goes_to_the_other_slot_and_an_unchanged_one_is_skipped() {
    let sim = Sim::start(&usb_flashed());
    sim.event("booted");
    let v2 = sim.write_file("v2.bin", &app_image(Chip::Esp32c3, "picow-fw", "2.0.0"));
    let v2s = v2.to_str().unwrap();
    let out = flash_ota(&sim, &["--firmware", v2s, "--ota-password", PASSWORD]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}{}", text(&out.stdout));
    let d = done(&out);
    assert_eq!(d["outcome"], "updated");
    assert_eq!(d["before"]["version"], "1.0.0");
    assert_eq!(d["after"]["version"], "2.0.0");
    assert_eq!(d["after"]["slot"], 1);
    assert_eq!(d["mac"], "7c:df:a1:c3:00:77");
    assert!(!text(&out.stdout).contains(PASSWORD) && !err.contains(PASSWORD));
    let booted = sim.event("booted");
    assert_eq!(
        (booted["slot"].as_u64(), booted["version"].as_str()),
        (Some(1), Some("2.0.0"))
    );
    // The flash file: the image in ota_1, otadata selecting it, confirmed.
    let flash = sim.flash();
    let img = app_image(Chip::Esp32c3, "picow-fw", "2.0.0");
    assert!(
        flash[SLOT_1..SLOT_1 + img.len()] == img[..],
        "ota_1 holds version 2.0.0"
    );
    let d = otadata(&flash);
    assert_eq!(d.selected_slot(2), Some(1));
    assert_eq!(
        d.active_entry().unwrap().image_state(),
        Some(ImageState::Valid)
    );
    // The same image again: recognised, nothing sent.
    let out = flash_ota(&sim, &["--firmware", v2s, "--ota-password", PASSWORD]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d = done(&out);
    assert_eq!(d["outcome"], "unchanged");
    assert!(d["bytes"]["sent"].as_u64().unwrap() < 500, "{d}");
    assert!(!events(&out).iter().any(|e| e["event"] == "upload"));
}

#[test]
fn wrong_passwords_chips_and_names_are_refused_with_nothing_activated() {
    let sim = Sim::start(&usb_flashed());
    sim.event("booted");
    let before = sim.flash();
    let v2 = sim.write_file("v2.bin", &app_image(Chip::Esp32c3, "picow-fw", "2.0.0"));
    let s3 = sim.write_file("s3.bin", &app_image(Chip::Esp32s3, "picow-fw", "2.0.0"));
    let v2s = v2.to_str().unwrap();
    // A wrong password: refused by the board (exit 1).
    let out = flash_ota(
        &sim,
        &["--firmware", v2s, "--ota-password", "not-the-secret"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("OTA password is wrong") && err.contains("still runs its previous image"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "{err}");
    // No password given and none kept for this board: exit 2, nothing sent.
    let out = flash_ota(&sim, &["--firmware", v2s]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no OTA password for the board 7c:df:a1:c3:00:77"));
    // An image for another chip: refused before anything is sent.
    let out = flash_ota(
        &sim,
        &[
            "--firmware",
            s3.to_str().unwrap(),
            "--ota-password",
            PASSWORD,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("chip mismatch") && err.contains("Nothing was sent"),
        "{err}"
    );
    // Not a board name (a name is looked up by DNS-SD, between network
    // namespaces in lan.rs; never here on the machine's own network).
    let out = common::output(&["flash", "--ota", "picow lab", "--firmware", v2s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("one DNS label"),
        "{}",
        text(&out.stderr)
    );
    // Not an image.
    let junk = sim.write_file("junk.bin", &[0xE9; 300]);
    let out = flash_ota(
        &sim,
        &[
            "--firmware",
            junk.to_str().unwrap(),
            "--ota-password",
            PASSWORD,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(otadata(&sim.flash()), otadata(&before));
    assert!(sim.flash() == before, "nothing written");
}

#[test]
fn a_new_image_that_crashes_on_trial_is_given_up_by_itself() {
    let sim = Sim::start(&usb_flashed());
    sim.event("booted");
    let v2 = sim.write_file("v2.bin", &app_image(Chip::Esp32c3, "picow-fw", "2.0.0"));
    assert_eq!(sim.control("fail-next-boot"), "ok fail-next-boot");
    let out = flash_ota(
        &sim,
        &[
            "--firmware",
            v2.to_str().unwrap(),
            "--ota-password",
            PASSWORD,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("came back with its previous image (picow-fw 1.0.0)"),
        "{err}"
    );
    let flash = sim.flash();
    let d = otadata(&flash);
    assert_eq!(d.selected_slot(2), Some(0), "{d:?}");
    // The boots: 1.0.0, 2.0.0 (crashes), 2.0.0 (gives itself up), 1.0.0.
    let st = sim.control("status");
    assert!(
        st.contains("slot=0") && st.contains("version=\"1.0.0\""),
        "{st}"
    );
}

#[test]
fn settings_change_over_wifi_with_the_same_validation_as_over_usb() {
    let sim = Sim::start(&usb_flashed());
    sim.event("booted");
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let bad = flash_ota(
        &sim,
        &[
            "--config-only",
            "--wifi",
            "x:short",
            "--server",
            "h:1",
            "--ota-password",
            PASSWORD,
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("invalid --wifi"),
        "{}",
        text(&bad.stderr)
    );
    let out = flash_ota(
        &sim,
        &[
            "--config-only",
            "--wifi",
            WIFI,
            "--server",
            &format!("127.0.0.1:{port}"),
            "--ota-password",
            PASSWORD,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(done(&out)["outcome"], "config");
    // The board rebooted with the new server: it greets it.
    server.set_nonblocking(false).unwrap();
    let (mut s, _) = server.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut hello = [0u8; 15];
    s.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"Hello WalnutPi!");
}

/// A TCP relay to `to` that cuts connection number `which` (0 first)
/// after `limit` bytes from the client; the others pass.
pub fn cutting_relay(
    to: &str,
    which: usize,
    limit: usize,
) -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let to = to.to_string();
    let h = std::thread::spawn(move || {
        for (n, c) in l.incoming().enumerate() {
            let Ok(mut c) = c else { return };
            let Ok(mut up) = TcpStream::connect(&to) else {
                return;
            };
            // One-byte acknowledgements must not wait for Nagle.
            let _ = c.set_nodelay(true);
            let _ = up.set_nodelay(true);
            let cut = (n == which).then_some(limit);
            let mut c2 = c.try_clone().unwrap();
            let mut up2 = up.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            let mut buf = [0u8; 4096];
            let mut sent = 0;
            loop {
                let n = match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let n = match cut {
                    Some(l) if sent + n >= l => {
                        let _ = up.write_all(&buf[..l - sent]);
                        break;
                    }
                    _ => n,
                };
                if up.write_all(&buf[..n]).is_err() {
                    break;
                }
                sent += n;
            }
            let _ = up.shutdown(std::net::Shutdown::Both);
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    });
    (addr, h)
}

#[test]
fn a_link_cut_mid_upload_leaves_the_old_image_and_a_rerun_completes() {
    let sim = Sim::start(&usb_flashed());
    sim.event("booted");
    let before = otadata(&sim.flash());
    let img = big_image("2.0.0", 60_000);
    let v2 = sim.write_file("v2.bin", &img);
    // Connection 0 is the query; cut the upload after 30000 bytes.
    let (relay, _h) = cutting_relay(&sim.ota, 1, 30_000);
    let out = common::output(&[
        "--json",
        "flash",
        "--ota",
        &relay,
        "--firmware",
        v2.to_str().unwrap(),
        "--ota-password",
        PASSWORD,
        "--wait",
        "10s",
        "--no-compress",
    ]);
    // The cut comes in the second connection (the upload).
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("still runs its previous image"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(otadata(&sim.flash()), before);
    let out = flash_ota(
        &sim,
        &[
            "--firmware",
            v2.to_str().unwrap(),
            "--ota-password",
            PASSWORD,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(done(&out)["after"]["slot"], 1);
}
