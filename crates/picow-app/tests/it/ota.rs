//! Updates over Wi-Fi on the host board and tokio's paused clock: the
//! upload goes to the other slot, is verified and activated; the new image
//! runs on trial and is confirmed or given up; wrong passwords wait longer
//! each time; bad uploads activate nothing.

use crate::common;

use common::*;
use md5::{Digest, Md5};
use picow_app::host::{AccessPoint, HostBoard, HostConfig, HostHandle};
use picow_app::{run, timing, AppInfo, Exit};
use picow_protocol::ota::device::auth_response;
use picow_protocol::ota::image::{build_app_desc, build_image};
use picow_protocol::ota::wire::QueryInfo;
use picow_protocol::ota::OtaPassword;
use picow_protocol::otadata::{Entry, ImageState, OtaData};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::LocalSet;

const OTA_PASSWORD: &str = "ota-test-password";
const C3: AppInfo = AppInfo {
    version: "1.0.0",
    chip: "esp32c3",
    mac: [0x7c, 0xdf, 0xa1, 0xc3, 0x00, 0x17],
};
const OTADATA: usize = 0xD000;
const SLOT_0: u32 = 0x10000;
const SLOT_1: u32 = 0x200000;

/// An app image for chip `chip_id` whose descriptor says `version`, with
/// `len` bytes of code.
fn image(chip_id: u16, version: &str, len: usize) -> Vec<u8> {
    let desc = build_app_desc("picow-fw", version);
    let code: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    build_image(
        chip_id,
        0x4200_0000,
        &[(0x3c00_0020, &desc), (0x4200_0020, &code)],
    )
}

/// A board as a USB flash leaves it: image A in ota_0, otadata selecting
/// it (valid), and a config for a server on 127.0.0.1:`port`.
fn usb_flashed(port: u16, password: Option<&str>) -> Vec<u8> {
    let cfg = config(&format!("127.0.0.1:{port}"), None)
        .with_ota_password(password.map(|p| OtaPassword::new(p).unwrap()));
    let mut flash = picow_app::host::flash_image(&picow_protocol::layout::LAYOUT_4MB, Some(&cfg));
    put(&mut flash, SLOT_0, &image(5, "1.0.0", 20_000));
    put(
        &mut flash,
        OTADATA as u32,
        &Entry::new(1, ImageState::Valid).to_bytes(),
    );
    flash
}

fn put(flash: &mut [u8], at: u32, bytes: &[u8]) {
    flash[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
}

fn otadata(flash: &[u8]) -> OtaData {
    OtaData::parse(&flash[OTADATA..OTADATA + 0x2000])
}

/// The slot ESP-IDF's bootloader boots (images are not checked here).
fn booted(flash: &[u8]) -> u32 {
    match otadata(flash).selected_slot(2) {
        Some(1) => SLOT_1,
        _ => SLOT_0,
    }
}

/// A board running the app that the bootloader would boot from `flash`;
/// OTA clients reach it through [`HostHandle::connect_tcp`].
struct Board {
    rig: Rig,
}

fn boot(flash: Vec<u8>) -> Board {
    let board = HostBoard::new(HostConfig {
        access_point: Some(AccessPoint::new(SSID, PASSWORD)),
        running_app: Some(booted(&flash)),
        ..HostConfig::new(flash)
    });
    let handle = board.handle();
    let console = handle.take_console().unwrap();
    let app = tokio::task::spawn_local(async move { run(&board, C3).await });
    Board {
        rig: Rig {
            handle,
            console,
            seen: Vec::new(),
            app,
        },
    }
}

impl Board {
    fn handle(&self) -> &HostHandle {
        &self.rig.handle
    }

    /// Waits for the app to return (a reboot).
    async fn exit(&mut self) -> Exit {
        (&mut self.rig.app).await.unwrap()
    }

    /// The board after a reboot: the same flash.
    fn reboot(self) -> Board {
        let flash = self.handle().flash();
        self.rig.app.abort();
        boot(flash)
    }
}

/// The bytes a client sends before the type byte: magic, features,
/// cnonce and the answer to the challenge.
const HANDSHAKE_LEN: usize = 5 + 1 + 64 + 64;

/// `file` as [`Client::upload`] compresses it.
fn gzipped(file: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(file).unwrap();
    e.finish().unwrap()
}

/// What the uploader got back.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// A response code other than the expected one.
    Refused(u8),
    /// The connection ended.
    Closed,
}

/// A client as ESPHome's espota2 (with picow's feature bit, so the MAC
/// comes too), on an in-memory connection to the board's listener.
struct Client {
    s: tokio::io::DuplexStream,
    /// Bytes this client may still send before its link is cut (none: no
    /// cut).
    budget: Option<usize>,
}

impl Client {
    async fn connect(board: &HostHandle) -> Client {
        Client {
            s: board.connect_tcp(),
            budget: None,
        }
    }

    /// Sends `bytes`, or as many as the budget leaves and then cuts the
    /// link (the board sees the connection end).
    async fn send(&mut self, bytes: &[u8]) -> Result<(), Outcome> {
        if let Some(left) = self.budget {
            if bytes.len() >= left && !bytes.is_empty() {
                let _ = self.s.write_all(&bytes[..left]).await;
                let _ = self.s.shutdown().await;
                self.budget = Some(0);
                return Err(Outcome::Closed);
            }
            self.budget = Some(left - bytes.len());
        }
        self.s.write_all(bytes).await.map_err(|_| Outcome::Closed)
    }

    async fn byte(&mut self) -> Option<u8> {
        let mut b = [0u8; 1];
        match self.s.read_exact(&mut b).await {
            Ok(_) => Some(b[0]),
            Err(_) => None,
        }
    }

    async fn expect(&mut self, want: u8) -> Result<(), Outcome> {
        match self.byte().await {
            Some(b) if b == want => Ok(()),
            Some(b) => Err(Outcome::Refused(b)),
            None => Err(Outcome::Closed),
        }
    }

    /// Magic, features (SHA-256, extended, picow, gzip when `gzip`), auth.
    async fn hello(&mut self, password: &str, gzip: bool) -> Result<bool, Outcome> {
        self.send(&[0x6C, 0x26, 0xF7, 0x5C, 0x45]).await?;
        self.expect(0x00).await?;
        self.expect(0x02).await?;
        let features = 0x86 | u8::from(gzip);
        self.send(&[features]).await?;
        self.expect(0x48).await?;
        let flags = self.byte().await.ok_or(Outcome::Closed)?;
        let mut mac = [0u8; 6];
        self.s
            .read_exact(&mut mac)
            .await
            .map_err(|_| Outcome::Closed)?;
        assert_eq!(mac, [0x7c, 0xdf, 0xa1, 0xc3, 0x00, 0x17]);
        let auth = self.byte().await.ok_or(Outcome::Closed)?;
        if auth != 0x02 {
            return Err(Outcome::Refused(auth));
        }
        let mut nonce = [0u8; 64];
        self.s
            .read_exact(&mut nonce)
            .await
            .map_err(|_| Outcome::Closed)?;
        let cnonce = [b'7'; 64];
        self.send(&cnonce).await?;
        let answer = auth_response(password, &nonce, &cnonce);
        self.send(answer.as_bytes()).await?;
        self.expect(0x41).await?;
        Ok(flags & 0x01 != 0)
    }

    async fn query(addr: &HostHandle, password: &str) -> Result<QueryInfo, Outcome> {
        let mut c = Client::connect(addr).await;
        c.hello(password, false).await?;
        c.s.write_all(&[0x70]).await.unwrap();
        c.expect(0x50).await?;
        let len = c.byte().await.ok_or(Outcome::Closed)?;
        let mut body = vec![0u8; len as usize];
        c.s.read_exact(&mut body)
            .await
            .map_err(|_| Outcome::Closed)?;
        Ok(QueryInfo::decode(&body).expect("a valid query answer"))
    }

    /// Sends a config record (picow's OTA type 0x71).
    async fn config(addr: &HostHandle, password: &str, record: &[u8]) -> Outcome {
        let mut c = Client::connect(addr).await;
        if let Err(o) = c.hello(password, false).await {
            return o;
        }
        c.s.write_all(&[0x71]).await.unwrap();
        c.s.write_all(&(record.len() as u32).to_be_bytes())
            .await
            .unwrap();
        if let Err(o) = c.expect(0x42).await {
            return o;
        }
        let md5: String = Md5::digest(record)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        c.s.write_all(md5.as_bytes()).await.unwrap();
        if let Err(o) = c.expect(0x43).await {
            return o;
        }
        c.s.write_all(record).await.unwrap();
        for want in [0x47, 0x44, 0x45] {
            if let Err(o) = c.expect(want).await {
                return o;
            }
        }
        let _ = c.s.write_all(&[0x00]).await;
        Outcome::Ok
    }

    /// Uploads `file` (gzip-compressed when the board takes it and `gzip`);
    /// `cut_after` drops the connection after that many upload bytes.
    async fn upload(
        addr: &HostHandle,
        password: &str,
        file: &[u8],
        gzip: bool,
        cut_after: Option<usize>,
    ) -> Outcome {
        // The upload's bytes begin after the handshake and the 37 bytes of
        // type, size and MD5.
        let cut = cut_after.map(|n| n + HANDSHAKE_LEN + 37);
        Client::upload_cut(addr, password, file, gzip, cut).await
    }

    /// Uploads `file` as [`Client::upload`] does; `cut_at` cuts the link
    /// after that many bytes of everything the client sends (handshake
    /// included).
    async fn upload_cut(
        addr: &HostHandle,
        password: &str,
        file: &[u8],
        gzip: bool,
        cut_at: Option<usize>,
    ) -> Outcome {
        let mut c = Client::connect(addr).await;
        c.budget = cut_at;
        let compress = match c.hello(password, gzip).await {
            Ok(z) => z,
            Err(o) => return o,
        };
        let body = if compress {
            gzipped(file)
        } else {
            file.to_vec()
        };
        let mut head = vec![0x00];
        head.extend_from_slice(&(body.len() as u32).to_be_bytes());
        if let Err(o) = c.send(&head).await {
            return o;
        }
        if let Err(o) = c.expect(0x42).await {
            return o;
        }
        let md5: String = Md5::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Err(o) = c.send(md5.as_bytes()).await {
            return o;
        }
        if let Err(o) = c.expect(0x43).await {
            return o;
        }
        for chunk in body.chunks(8192) {
            if let Err(o) = c.send(chunk).await {
                return o;
            }
            if let Err(o) = c.expect(0x47).await {
                return o;
            }
        }
        if let Err(o) = c.expect(0x44).await {
            return o;
        }
        if let Err(o) = c.expect(0x45).await {
            return o;
        }
        let _ = c.s.write_all(&[0x00]).await;
        Outcome::Ok
    }
}

/// A server that greets can be reached on 127.0.0.1:port.
async fn server() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn slot(flash: &[u8], at: u32, len: usize) -> &[u8] {
    &flash[at as usize..at as usize + len]
}

#[tokio::test(start_paused = true)]
async fn an_update_goes_to_the_other_slot_runs_on_trial_and_is_confirmed_by_its_server() {
    LocalSet::new()
        .run_until(async {
            let (server, port) = server().await;
            let mut b = boot(usb_flashed(port, Some(OTA_PASSWORD)));
            let boot_line = b.rig.expect("boot").await;
            assert_eq!(field(&boot_line.line, "slot"), "0");
            let before = b.handle().flash();
            let new = image(5, "2.0.0", 40_000);
            assert_eq!(
                Client::upload(b.handle(), OTA_PASSWORD, &new, true, None).await,
                Outcome::Ok
            );
            let begin = b.rig.expect("ota-begin").await;
            assert_eq!(field(&begin.line, "compressed"), "1");
            let done = b.rig.expect("ota-done").await;
            assert_eq!(done.line, r#"@picow ota-done slot=1 version="2.0.0""#);
            assert_eq!(b.exit().await, Exit::Reboot);
            let flash = b.handle().flash();
            // The new image is in ota_1, ota_0 untouched, otadata selects ota_1 as new.
            assert!(
                slot(&flash, SLOT_1, new.len()) == &new[..],
                "ota_1 holds the new image"
            );
            assert!(
                slot(&flash, SLOT_0, 0x1F0000) == slot(&before, SLOT_0, 0x1F0000),
                "ota_0 untouched"
            );
            let d = otadata(&flash);
            assert_eq!(d.selected_slot(2), Some(1));
            assert_eq!(
                d.active_entry().unwrap().image_state(),
                Some(ImageState::New)
            );
            // Its first boot: on trial, then the greeting confirms it.
            let mut b = b.reboot();
            let boot_line = b.rig.expect("boot").await;
            assert_eq!(field(&boot_line.line, "slot"), "1");
            let trial = b.rig.expect_next("ota-trial").await;
            assert_eq!(
                field(&trial.line, "timeout_ms"),
                timing::TRIAL_TIMEOUT_MS.to_string()
            );
            assert_eq!(
                otadata(&b.handle().flash())
                    .active_entry()
                    .unwrap()
                    .image_state(),
                Some(ImageState::PendingVerify)
            );
            let (mut s, _) = server.accept().await.unwrap();
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            let ok = b.rig.expect("ota-confirmed").await;
            assert_eq!(ok.line, r#"@picow ota-confirmed slot=1 by="server""#);
            let d = otadata(&b.handle().flash());
            assert_eq!(d.selected_slot(2), Some(1));
            assert_eq!(
                d.active_entry().unwrap().image_state(),
                Some(ImageState::Valid)
            );
            // A query says what runs now.
            let info = Client::query(b.handle(), OTA_PASSWORD).await.unwrap();
            assert_eq!(info.slot, Some(1));
            assert_eq!(info.version.as_str(), "2.0.0");
            assert_eq!(&info.sha256[..], &new[new.len() - 32..]);
            assert_eq!(info.image_len as usize, new.len());
            assert!(!info.confirmed);
        })
        .await;
}

/// A board that just rebooted into an update: ota_1 holds `version` and
/// otadata selects it as new.
fn updated_flash(port: u16) -> Vec<u8> {
    let mut flash = usb_flashed(port, Some(OTA_PASSWORD));
    put(&mut flash, SLOT_1, &image(5, "2.0.0", 20_000));
    put(
        &mut flash,
        OTADATA as u32 + 0x1000,
        &Entry::new(2, ImageState::New).to_bytes(),
    );
    flash
}

#[tokio::test(start_paused = true)]
async fn a_trial_that_never_greets_returns_to_the_previous_image_after_the_timeout() {
    LocalSet::new()
        .run_until(async {
            // Nothing listens on the server port: the image never greets.
            let (l, port) = server().await;
            drop(l);
            let mut b = boot(updated_flash(port));
            let t0 = b.rig.expect("ota-trial").await.at_ms;
            let rb = b.rig.expect("ota-rollback").await;
            assert_eq!(rb.line, r#"@picow ota-rollback slot=1 reason="timeout""#);
            assert_eq!(rb.at_ms - t0, u64::from(timing::TRIAL_TIMEOUT_MS));
            assert_eq!(b.exit().await, Exit::Reboot);
            let flash = b.handle().flash();
            assert_eq!(otadata(&flash).selected_slot(2), Some(0));
            assert_eq!(booted(&flash), SLOT_0);
            // The previous image boots and is not on trial.
            let mut b = b.reboot();
            let boot_line = b.rig.expect("boot").await;
            assert_eq!(field(&boot_line.line, "slot"), "0");
            assert_eq!(b.rig.expect_next("config").await.name(), "config");
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_reset_during_the_trial_returns_to_the_previous_image_at_the_next_boot() {
    LocalSet::new()
        .run_until(async {
            let (l, port) = server().await;
            drop(l);
            let mut b = boot(updated_flash(port));
            b.rig.expect("ota-trial").await;
            // A panic, the watchdog or a power cut: the board just restarts.
            let mut b = b.reboot();
            let rb = b.rig.expect("ota-rollback").await;
            assert_eq!(rb.line, r#"@picow ota-rollback slot=1 reason="reset""#);
            assert_eq!(b.exit().await, Exit::Reboot);
            assert_eq!(booted(&b.handle().flash()), SLOT_0);
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn an_ota_check_confirms_a_trial_image_without_a_server() {
    LocalSet::new()
        .run_until(async {
            let (l, port) = server().await;
            drop(l);
            let mut b = boot(updated_flash(port));
            b.rig.expect("ota-trial").await;
            // An update while on trial would overwrite the last good image.
            let third = image(5, "3.0.0", 100);
            let refused = Client::upload(b.handle(), OTA_PASSWORD, &third, false, None).await;
            assert_eq!(refused, Outcome::Refused(0x81));
            assert_eq!(
                field(&b.rig.expect("ota-refused").await.line, "reason"),
                "trial"
            );
            let info = Client::query(b.handle(), OTA_PASSWORD).await.unwrap();
            assert!(info.confirmed);
            assert_eq!(info.state, Some(2));
            let ok = b.rig.expect("ota-confirmed").await;
            assert_eq!(field(&ok.line, "by"), "ota-check");
            // No rollback after the trial time.
            tokio::time::sleep(std::time::Duration::from_millis(
                u64::from(timing::TRIAL_TIMEOUT_MS) + 1_000,
            ))
            .await;
            assert!(!b.rig.app.is_finished());
            assert_eq!(otadata(&b.handle().flash()).selected_slot(2), Some(1));
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn wrong_passwords_wait_twice_as_long_each_time_and_the_right_one_still_works() {
    LocalSet::new()
        .run_until(async {
            let (_l, port) = server().await;
            let b = boot(usb_flashed(port, Some(OTA_PASSWORD)));
            let mut waits = Vec::new();
            for _ in 0..6 {
                let t0 = b.handle().now_ms();
                let r = Client::query(b.handle(), "not-the-password").await;
                assert_eq!(r.unwrap_err(), Outcome::Refused(0x82));
                waits.push(b.handle().now_ms() - t0);
            }
            assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 16_000]);
            // The right one is answered at once and resets the count.
            let t0 = b.handle().now_ms();
            Client::query(b.handle(), OTA_PASSWORD).await.unwrap();
            assert_eq!(b.handle().now_ms() - t0, 0);
            let t0 = b.handle().now_ms();
            let _ = Client::query(b.handle(), "not-the-password").await;
            assert_eq!(b.handle().now_ms() - t0, 1_000);
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn without_an_ota_password_every_update_is_refused() {
    LocalSet::new()
        .run_until(async {
            let (_l, port) = server().await;
            let mut b = boot(usb_flashed(port, None));
            let new = image(5, "2.0.0", 100);
            let r = Client::upload(b.handle(), OTA_PASSWORD, &new, false, None).await;
            assert_eq!(r, Outcome::Refused(0x82));
            let refused = b.rig.expect("ota-refused").await;
            assert_eq!(field(&refused.line, "reason"), "no-password");
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn bad_uploads_are_refused_and_nothing_is_activated() {
    LocalSet::new()
        .run_until(async {
            let (_l, port) = server().await;
            let mut b = boot(usb_flashed(port, Some(OTA_PASSWORD)));
            let before = b.handle().flash();
            let good = image(5, "2.0.0", 30_000);
            let mut flipped = good.clone();
            flipped[5_000] ^= 0x10;
            let cases: Vec<(&str, Vec<u8>, Outcome, &str)> = vec![
                (
                    "wrong chip",
                    image(9, "2.0.0", 30_000),
                    Outcome::Refused(0x84),
                    "chip",
                ),
                (
                    "truncated",
                    good[..good.len() - 100].to_vec(),
                    Outcome::Refused(0x84),
                    "image",
                ),
                ("one flipped byte", flipped, Outcome::Refused(0x84), "image"),
                (
                    "not an image",
                    b"\x7fELF\x01\x01\x01".repeat(3000),
                    Outcome::Refused(0x84),
                    "image",
                ),
                (
                    "oversized",
                    image(5, "2.0.0", 0x1F0000),
                    Outcome::Refused(0x89),
                    "size",
                ),
            ];
            for (what, file, want, reason) in cases {
                for gzip in [false, true] {
                    let pre = b.handle().flash();
                    let got = Client::upload(b.handle(), OTA_PASSWORD, &file, gzip, None).await;
                    // Compressed, the oversized image is small on the wire:
                    // it is refused as its contents grow past the slot.
                    assert_eq!(got, want, "{what} (gzip {gzip})");
                    let r = b.rig.expect("ota-refused").await;
                    assert_eq!(field(&r.line, "reason"), reason, "{what}");
                    let now = b.handle().flash();
                    assert_eq!(otadata(&now), otadata(&before), "{what}: otadata changed");
                    assert!(
                        slot(&now, SLOT_0, 0x1F0000) == slot(&before, SLOT_0, 0x1F0000),
                        "{what}: ota_0 changed"
                    );
                    if what == "wrong chip" || what == "not an image" {
                        // Refused before anything was written.
                        assert!(
                            slot(&now, SLOT_1, 0x1F0000) == slot(&pre, SLOT_1, 0x1F0000),
                            "{what}: ota_1 written"
                        );
                    }
                }
            }
            assert!(!b.rig.app.is_finished(), "the board keeps running");
            // After all that, a good update still works.
            assert_eq!(
                Client::upload(b.handle(), OTA_PASSWORD, &good, true, None).await,
                Outcome::Ok
            );
            assert_eq!(b.exit().await, Exit::Reboot);
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_link_cut_mid_upload_activates_nothing_and_a_rerun_completes() {
    LocalSet::new()
        .run_until(async {
            let (_l, port) = server().await;
            let mut b = boot(usb_flashed(port, Some(OTA_PASSWORD)));
            let before = otadata(&b.handle().flash());
            let good = image(5, "2.0.0", 50_000);
            for cut in [1, 8191, 8192, 30_000, good.len() - 1] {
                let r = Client::upload(b.handle(), OTA_PASSWORD, &good, false, Some(cut)).await;
                assert_eq!(r, Outcome::Closed);
                let refused = b.rig.expect("ota-refused").await;
                assert_eq!(field(&refused.line, "reason"), "closed", "cut at {cut}");
                assert_eq!(otadata(&b.handle().flash()), before);
            }
            assert_eq!(
                Client::upload(b.handle(), OTA_PASSWORD, &good, false, None).await,
                Outcome::Ok
            );
            assert_eq!(b.exit().await, Exit::Reboot);
            assert_eq!(otadata(&b.handle().flash()).selected_slot(2), Some(1));
        })
        .await;
}

/// Issue 17: a link cut at 50 random points of a transfer (the handshake,
/// the size and MD5, the data; raw and gzip) leaves the board on its old
/// image with nothing activated, and a rerun completes.
#[tokio::test(start_paused = true)]
async fn a_link_cut_at_50_random_points_of_a_transfer_leaves_the_old_image() {
    LocalSet::new()
        .run_until(async {
            let (_l, port) = server().await;
            let mut b = boot(usb_flashed(port, Some(OTA_PASSWORD)));
            let flash_before = b.handle().flash();
            let before = otadata(&flash_before);
            let running = &flash_before[SLOT_0 as usize..SLOT_1 as usize];
            let good = image(5, "2.0.0", 50_000);
            // The seed is in every message, to run a failure again
            // (PICOW_TEST_SEED).
            let seed: u64 = std::env::var("PICOW_TEST_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos() as u64
                });
            let mut x = seed | 1;
            let mut next = move || {
                // xorshift64
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for i in 0..50 {
                let gzip = i % 2 == 0;
                let body = if gzip { gzipped(&good) } else { good.clone() };
                // Everything before the last data byte: the transfer is
                // not complete.
                let total = HANDSHAKE_LEN + 37 + body.len();
                let cut = (next() % total as u64) as usize;
                let why = format!("cut at byte {cut} of {total} (gzip {gzip}, seed {seed})");
                let r = Client::upload_cut(b.handle(), OTA_PASSWORD, &good, gzip, Some(cut)).await;
                assert_eq!(r, Outcome::Closed, "{why}");
                let refused = b.rig.expect("ota-refused").await;
                assert_eq!(field(&refused.line, "reason"), "closed", "{why}");
                let flash = b.handle().flash();
                assert_eq!(otadata(&flash), before, "{why}");
                assert_eq!(&flash[SLOT_0 as usize..SLOT_1 as usize], running, "{why}");
            }
            // Still the old image, still taking updates: a rerun completes.
            let info = Client::query(b.handle(), OTA_PASSWORD).await.unwrap();
            assert_eq!((info.slot, info.version.as_str()), (Some(0), "1.0.0"));
            assert_eq!(
                Client::upload(b.handle(), OTA_PASSWORD, &good, true, None).await,
                Outcome::Ok
            );
            assert_eq!(b.exit().await, Exit::Reboot);
            assert_eq!(otadata(&b.handle().flash()).selected_slot(2), Some(1));
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_dropped_after_the_handshake_time() {
    LocalSet::new()
        .run_until(async {
            let (_l, port) = server().await;
            let mut b = boot(usb_flashed(port, Some(OTA_PASSWORD)));
            let t0 = b.handle().now_ms();
            let mut c = Client::connect(b.handle()).await;
            let refused = b.rig.expect("ota-refused").await;
            assert_eq!(field(&refused.line, "reason"), "timeout");
            assert_eq!(
                refused.at_ms - t0,
                u64::from(timing::OTA_HANDSHAKE_TIMEOUT_MS)
            );
            assert_eq!(c.byte().await, None);
            // The listener takes the next client.
            Client::query(b.handle(), OTA_PASSWORD).await.unwrap();
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn new_settings_over_wifi_are_appended_and_in_force_after_the_reboot() {
    LocalSet::new()
        .run_until(async {
            let (_old, old_port) = server().await;
            let (new_server, new_port) = server().await;
            let mut b = boot(usb_flashed(old_port, Some(OTA_PASSWORD)));
            let pw = OtaPassword::new(OTA_PASSWORD).unwrap();
            // Without an OTA password the board could not be updated again: refused.
            let locked_out = config(&format!("127.0.0.1:{new_port}"), None).to_bytes();
            assert_eq!(
                Client::config(b.handle(), OTA_PASSWORD, &locked_out).await,
                Outcome::Refused(0x84)
            );
            assert_eq!(
                field(&b.rig.expect("ota-refused").await.line, "reason"),
                "config"
            );
            let record = config(&format!("127.0.0.1:{new_port}"), Some("lab"))
                .with_ota_password(Some(pw))
                .to_bytes();
            assert_eq!(
                Client::config(b.handle(), OTA_PASSWORD, &record).await,
                Outcome::Ok
            );
            assert_eq!(b.exit().await, Exit::Reboot);
            // The old record is still there; the new one follows it and wins.
            let flash = b.handle().flash();
            let cfg_at = picow_protocol::layout::LAYOUT_4MB.config().offset as usize;
            assert_eq!(&flash[cfg_at..cfg_at + 4], b"PWCF");
            let sector = &flash[cfg_at..cfg_at + 0x1000];
            let next = picow_protocol::config_partition::append_at(sector, 1).unwrap();
            assert!(next > record.len(), "two records in the log");
            let mut b = b.reboot();
            let (mut s, _) = new_server.accept().await.unwrap();
            assert_eq!(read_n(&mut s, 21).await, b"Hello WalnutPi! (lab)");
            let c = b.rig.expect("config").await;
            assert!(
                c.line.contains(&format!("127.0.0.1:{new_port}")),
                "{}",
                c.line
            );
        })
        .await;
}
