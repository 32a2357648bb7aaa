//! Updates over Wi-Fi, the board's side (issue 17): the listener on TCP
//! 3232 speaking ESPHome's OTA protocol, writing the slot that is not
//! running, verifying and activating it; and the trial of a new image, with
//! the return to the previous one when it does not prove itself.
//!
//! # Trial and rollback
//!
//! espflash's bootloader is built without app rollback, so the app decides
//! (see `docs/ota.md`). An update selects its slot in otadata with state
//! `new`. The first boot of it finds `new`, marks it `pending-verify` and
//! runs on trial: greeting its server, or answering an authenticated OTA
//! check, confirms it (`valid`). If [`crate::timing::TRIAL_TIMEOUT_MS`]
//! pass first, or the board resets before (a panic, the watchdog, a power
//! cut: the next boot finds `pending-verify`), the entry is marked
//! `aborted` and the board reboots; the bootloader then boots the other
//! slot, which still holds the previous image (an update never writes the
//! running slot). A power cut during any otadata write leaves either the
//! old or the new selection (see [`picow_protocol::otadata`]).

use core::cell::{Cell, RefCell};
use core::fmt::Write as _;

use embassy_futures::select::{select, Either};
use heapless::String;
use picow_protocol::config::RECORD_MAX;
use picow_protocol::config_partition::{align, record_len};
use picow_protocol::console::{Event, Text};
use picow_protocol::layout::{
    PartitionTable, TableEntry, PARTITION_TABLE_LEN, PARTITION_TABLE_OFFSET,
};
use picow_protocol::ota::device::{Device, Event as OtaEvent, Offer};
use picow_protocol::ota::gzip::Gunzip;
use picow_protocol::ota::image::{parse_header, ImageCheck, ImageInfo, Status, HEADER_LEN};
use picow_protocol::ota::wire::{ota_type, response, QueryInfo, PORT};
use picow_protocol::ota::OtaPassword;
use picow_protocol::otadata::{ImageState, OtaData};
use picow_protocol::DeviceConfig;

use crate::app::App;
use crate::board::{read_otadata, Board, Link};
use crate::timing::*;
use crate::Exit;

const SECTOR: usize = 0x1000;

/// Where the running image stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trial {
    /// Not on trial (confirmed, flashed over USB, or no OTA layout).
    No,
    /// On trial since boot.
    Pending,
    /// Confirmed during this boot.
    Confirmed,
}

/// What the app knows about the flash layout and the running image.
#[derive(Debug)]
pub(crate) struct OtaState {
    table: Option<PartitionTable>,
    running: Option<TableEntry>,
    trial: Cell<Trial>,
    failures: Cell<u32>,
    password: RefCell<Option<OtaPassword>>,
    info: RefCell<Option<QueryInfo>>,
}

impl OtaState {
    /// Reads the partition table and finds the running partition.
    pub(crate) async fn read<B: Board>(board: &B) -> OtaState {
        let mut bytes = [0u8; PARTITION_TABLE_LEN];
        let table = match board.read_flash(PARTITION_TABLE_OFFSET, &mut bytes).await {
            Ok(()) => PartitionTable::parse(&bytes).ok(),
            Err(_) => None,
        };
        let running = match (&table, board.running_app()) {
            (Some(t), Some(at)) => t.app_at(at).copied(),
            _ => None,
        };
        OtaState {
            table,
            running,
            trial: Cell::new(Trial::No),
            failures: Cell::new(0),
            password: RefCell::new(None),
            info: RefCell::new(None),
        }
    }

    /// The flash size the partition table is for: the picow config
    /// partition is in the last 64 KiB block.
    fn flash_size(&self) -> u32 {
        let Some(t) = &self.table else { return 0 };
        match t.picow_config() {
            Some(c) => c.offset + 0x10000,
            None => t
                .entries()
                .iter()
                .map(|e| e.offset.saturating_add(e.size))
                .max()
                .unwrap_or(0)
                .next_power_of_two(),
        }
    }

    /// The OTA slot the app runs from.
    pub(crate) fn running_slot(&self) -> Option<u8> {
        self.running.and_then(|p| p.ota_slot())
    }

    /// Sets the password from the config record.
    pub(crate) fn set_password(&self, password: Option<OtaPassword>) {
        *self.password.borrow_mut() = password;
    }

    fn ota_table(&self) -> Option<(&PartitionTable, &TableEntry)> {
        let t = self.table.as_ref()?;
        t.supports_ota().then_some(())?;
        Some((t, t.otadata()?))
    }

    /// The slot an update goes to: the other one.
    fn target(&self) -> Option<(u8, TableEntry)> {
        let (t, _) = self.ota_table()?;
        let running = self.running_slot();
        (0..t.ota_slot_count())
            .filter(|&n| Some(n) != running)
            .find_map(|n| t.ota_slot(n).map(|p| (n, *p)))
    }
}

/// How one OTA connection ended.
enum SessionEnd {
    /// A new image is active: reboot into it.
    Updated,
    /// Anything else; the board goes on.
    Over,
}

/// An upload: an image going to the other slot, or a config record.
// One per connection, inside the session's future; no allocator to box into.
#[allow(clippy::large_enum_variant)]
enum Upload {
    Image {
        writer: SlotWriter,
        gunzip: Option<Gunzip>,
    },
    Config(heapless::Vec<u8, RECORD_MAX>),
}

/// The image going into the other slot: checked as it comes, written a
/// sector at a time.
struct SlotWriter {
    slot: u8,
    part: TableEntry,
    chip_id: Option<u16>,
    check: ImageCheck,
    header_ok: bool,
    sector: [u8; SECTOR],
    fill: usize,
    written: u32,
}

/// Why an upload is refused: the console reason and the code for the client.
#[derive(Debug, Clone, Copy)]
struct Refusal(&'static str, u8);

impl Refusal {
    const IMAGE: Refusal = Refusal("image", response::ERROR_UPDATE_END);
    const FLASH: Refusal = Refusal("flash", response::ERROR_WRITING_FLASH);
    const SIZE: Refusal = Refusal("size", response::ERROR_ESP32_NOT_ENOUGH_SPACE);
    const CHIP: Refusal = Refusal("chip", response::ERROR_UPDATE_END);
    const CONFIG: Refusal = Refusal("config", response::ERROR_UPDATE_END);
}

/// The config partition is one sector.
const CONFIG_SECTOR: u32 = 0x1000;

/// The chip id an image for this chip carries.
fn chip_id(chip: &str) -> Option<u16> {
    match chip {
        "esp32s3" => Some(9),
        "esp32c3" => Some(5),
        "esp32c6" => Some(13),
        _ => None,
    }
}

impl<B: Board> App<'_, B> {
    /// The boot-time part of the trial: a `new` image goes on trial, a
    /// `pending-verify` one (reset while on trial) is given up, and otadata
    /// is made to agree with the slot the bootloader fell back to. Returns
    /// `Some` when the board must reboot.
    pub(crate) async fn ota_boot(&self) -> Option<Exit> {
        let (table, otadata) = self.ota.ota_table()?;
        let slot = self.ota.running_slot()?;
        let data = read_otadata(self.board, otadata).await.ok()?;
        let count = table.ota_slot_count();
        let Some(active) = data.active_entry() else {
            // No usable entry: the bootloader fell back to ota_0 (a USB
            // flash, or every trial aborted). Nothing to decide.
            return None;
        };
        if active.slot(count) != slot {
            // The selected image did not verify at boot.
            self.emit(&Event::OtaRollback {
                slot: u32::from(active.slot(count)),
                reason: Text::str("bootloader"),
            });
            let _ = self
                .board
                .ota_select(otadata, slot, count, ImageState::Valid)
                .await;
            return None;
        }
        match active.image_state() {
            Some(ImageState::New) => {
                if self
                    .board
                    .ota_set_state(otadata, ImageState::PendingVerify)
                    .await
                    .is_ok()
                {
                    self.ota.trial.set(Trial::Pending);
                    self.emit(&Event::OtaTrial {
                        slot: u32::from(slot),
                        timeout_ms: TRIAL_TIMEOUT_MS,
                    });
                }
                None
            }
            Some(ImageState::PendingVerify) => {
                // On trial at the last boot and not confirmed: give it up.
                let _ = self.board.ota_set_state(otadata, ImageState::Aborted).await;
                self.emit(&Event::OtaRollback {
                    slot: u32::from(slot),
                    reason: Text::str("reset"),
                });
                Some(Exit::Reboot)
            }
            _ => None,
        }
    }

    /// Confirms the image on trial (`by`: `server` or `ota-check`).
    pub(crate) async fn ota_confirm(&self, by: &str) {
        if self.ota.trial.get() != Trial::Pending {
            return;
        }
        let Some((_, otadata)) = self.ota.ota_table() else {
            return;
        };
        if self
            .board
            .ota_set_state(otadata, ImageState::Valid)
            .await
            .is_ok()
        {
            self.ota.trial.set(Trial::Confirmed);
            self.emit(&Event::OtaConfirmed {
                slot: u32::from(self.ota.running_slot().unwrap_or(0)),
                by: Text::str(by),
            });
        }
    }

    /// The OTA listener and the trial's deadline; returns when the board
    /// must reboot (an update is active, or the trial ran out).
    pub(crate) async fn ota(&self) -> Exit {
        match select(self.ota_listen(), self.ota_trial_deadline()).await {
            Either::First(e) | Either::Second(e) => e,
        }
    }

    async fn ota_trial_deadline(&self) -> Exit {
        if self.ota.trial.get() != Trial::Pending {
            return core::future::pending().await;
        }
        self.board.sleep_ms(TRIAL_TIMEOUT_MS.into()).await;
        if self.ota.trial.get() != Trial::Pending {
            return core::future::pending().await;
        }
        if let Some((_, otadata)) = self.ota.ota_table() {
            let _ = self.board.ota_set_state(otadata, ImageState::Aborted).await;
        }
        self.emit(&Event::OtaRollback {
            slot: u32::from(self.ota.running_slot().unwrap_or(0)),
            reason: Text::str("timeout"),
        });
        Exit::Reboot
    }

    async fn ota_listen(&self) -> Exit {
        loop {
            let mut buffers = B::Buffers::default();
            let (link, peer) = match self.board.tcp_accept(PORT, &mut buffers).await {
                Ok(c) => c,
                Err(_) => {
                    self.board.sleep_ms(1_000).await;
                    continue;
                }
            };
            let mut peer_text: String<48> = String::new();
            let _ = write!(peer_text, "{peer}");
            if let SessionEnd::Updated = self.ota_session(link, &peer_text).await {
                return Exit::Reboot;
            }
        }
    }

    fn refused(&self, peer: &str, reason: &str) {
        self.emit(&Event::OtaRefused {
            peer: Text::str(peer),
            reason: Text::str(reason),
        });
    }

    /// One connection of an OTA client.
    async fn ota_session(&self, mut link: impl Link, peer: &str) -> SessionEnd {
        let mut random = [0u8; 32];
        self.board.random(&mut random);
        let password = self.ota.password.borrow().clone();
        let mut dev = Device::new(Offer {
            password: password.as_ref(),
            compression: true,
            mac: self.info.mac,
            random,
        });
        let connected = self.board.now_ms();
        let mut upload: Option<Upload> = None;
        let mut buf = [0u8; 1460];
        loop {
            // The handshake has 20 s in all; each read of the upload 90 s.
            let limit = if dev.authenticated() {
                u64::from(OTA_DATA_TIMEOUT_MS)
            } else {
                u64::from(OTA_HANDSHAKE_TIMEOUT_MS)
                    .saturating_sub(self.board.now_ms().saturating_sub(connected))
            };
            let n = match select(link.read(&mut buf), self.board.sleep_ms(limit)).await {
                Either::First(Ok(n)) if n > 0 => n,
                Either::First(_) => {
                    if !dev.is_closed() {
                        self.refused(peer, "closed");
                    }
                    return SessionEnd::Over;
                }
                Either::Second(()) => {
                    self.refused(peer, "timeout");
                    return SessionEnd::Over;
                }
            };
            let mut at = 0;
            loop {
                let (used, ev) = dev.feed(&buf[at..n]);
                at += used;
                let staged = dev.take_output();
                if let OtaEvent::AuthFailed { password_set } = ev {
                    if password_set {
                        // Rate limit: each wrong password in a row waits
                        // twice as long for its answer, and the listener
                        // takes no other client meanwhile.
                        let f = self.ota.failures.get().saturating_add(1);
                        self.ota.failures.set(f);
                        self.refused(peer, "auth");
                        let pause = OTA_AUTH_PENALTY_FIRST_MS
                            .saturating_mul(1 << (f - 1).min(16))
                            .min(OTA_AUTH_PENALTY_MAX_MS);
                        self.board.sleep_ms(pause.into()).await;
                    } else {
                        self.refused(peer, "no-password");
                    }
                    let _ = link.write(&staged).await;
                    return SessionEnd::Over;
                }
                if !staged.is_empty() && link.write(&staged).await.is_err() {
                    self.refused(peer, "closed");
                    return SessionEnd::Over;
                }
                match ev {
                    OtaEvent::NeedMore => break,
                    OtaEvent::AuthFailed { .. } => return SessionEnd::Over,
                    OtaEvent::Violation(_) => {
                        self.refused(peer, "protocol");
                        return SessionEnd::Over;
                    }
                    OtaEvent::Query => {
                        self.ota.failures.set(0);
                        let confirmed = self.ota.trial.get() == Trial::Pending;
                        self.ota_confirm("ota-check").await;
                        let mut info = self.running_info().await;
                        info.confirmed = confirmed && self.ota.trial.get() == Trial::Confirmed;
                        dev.answer(&info);
                    }
                    OtaEvent::Begin {
                        size,
                        compressed,
                        ota_type: kind,
                    } => {
                        self.ota.failures.set(0);
                        let begun = if kind == ota_type::PICOW_CONFIG {
                            self.config_begin(size, compressed)
                        } else {
                            self.ota_begin(size, compressed)
                        };
                        match begun {
                            Ok(u) => {
                                self.emit(&Event::OtaBegin {
                                    peer: Text::str(peer),
                                    size,
                                    compressed: u32::from(compressed),
                                });
                                upload = Some(u);
                                dev.accept();
                            }
                            Err(Refusal(reason, code)) => {
                                self.refused(peer, reason);
                                dev.refuse(code);
                            }
                        }
                    }
                    OtaEvent::Data(data) => {
                        let Some(u) = upload.as_mut() else {
                            dev.refuse(response::ERROR_UNKNOWN);
                            return SessionEnd::Over;
                        };
                        if let Err(Refusal(reason, code)) = self.ota_data(u, data).await {
                            self.refused(peer, reason);
                            dev.refuse(code);
                        }
                    }
                    OtaEvent::Received { md5_ok } => {
                        let result = match (md5_ok, upload.as_mut()) {
                            (false, _) => Err(Refusal("md5", response::ERROR_MD5_MISMATCH)),
                            (true, Some(Upload::Config(record))) => self.config_end(record).await,
                            (true, Some(u)) => self.ota_end(u).await,
                            (true, None) => Err(Refusal::IMAGE),
                        };
                        match result {
                            Ok(done) => {
                                dev.finish();
                                let _ = link.write(&dev.take_output()).await;
                                // The client's last byte; not waited for long.
                                let _ = select(
                                    link.read(&mut buf),
                                    self.board.sleep_ms(OTA_END_ACK_MS.into()),
                                )
                                .await;
                                if let Some((slot, info)) = done {
                                    self.emit(&Event::OtaDone {
                                        slot: u32::from(slot),
                                        version: Text::str(&info.version),
                                    });
                                }
                                return SessionEnd::Updated;
                            }
                            Err(Refusal(reason, code)) => {
                                self.refused(peer, reason);
                                dev.refuse(code);
                            }
                        }
                    }
                    OtaEvent::Done => return SessionEnd::Over,
                }
                let staged = dev.take_output();
                if !staged.is_empty() && link.write(&staged).await.is_err() {
                    return SessionEnd::Over;
                }
                if dev.is_closed() {
                    return SessionEnd::Over;
                }
            }
        }
    }

    /// Checks an announced upload against the layout and the trial.
    fn ota_begin(&self, size: u32, compressed: bool) -> Result<Upload, Refusal> {
        let Some((slot, part)) = self.ota.target() else {
            return Err(Refusal("layout", response::ERROR_NO_UPDATE_PARTITION));
        };
        if self.ota.trial.get() == Trial::Pending {
            // The other slot holds the last image known to work.
            return Err(Refusal("trial", response::ERROR_UPDATE_PREPARE));
        }
        if size > part.size {
            return Err(Refusal::SIZE);
        }
        Ok(Upload::Image {
            writer: SlotWriter {
                slot,
                part,
                chip_id: chip_id(self.info.chip),
                check: ImageCheck::new(part.size),
                header_ok: false,
                sector: [0xFF; SECTOR],
                fill: 0,
                written: 0,
            },
            gunzip: compressed.then(Gunzip::new),
        })
    }

    /// Upload bytes: through the gzip decoder if compressed, checked as an
    /// image as they come (the chip before anything is written), and
    /// written a sector at a time.
    async fn ota_data(&self, u: &mut Upload, data: &[u8]) -> Result<(), Refusal> {
        let (writer, gunzip) = match u {
            Upload::Image { writer, gunzip } => (writer, gunzip),
            Upload::Config(record) => {
                return record.extend_from_slice(data).map_err(|_| Refusal::CONFIG);
            }
        };
        if writer.chip_id.is_none() {
            writer.chip_id = self.running_chip_id().await;
        }
        let Some(g) = gunzip else {
            return self.ota_image_bytes(writer, data).await;
        };
        let mut rest = data;
        loop {
            let (used, out) = g.step(rest).map_err(|_| Refusal::IMAGE)?;
            rest = &rest[used..];
            let produced = !out.is_empty();
            if produced {
                self.ota_image_bytes(writer, out).await?;
            }
            if rest.is_empty() && !produced {
                return Ok(());
            }
        }
    }

    /// Image bytes (after decompression): checked, then buffered into
    /// sectors and written.
    async fn ota_image_bytes(&self, u: &mut SlotWriter, mut bytes: &[u8]) -> Result<(), Refusal> {
        if u.written as u64 + u.fill as u64 + bytes.len() as u64 > u64::from(u.part.size) {
            return Err(Refusal::SIZE);
        }
        match u.check.feed(bytes) {
            Ok(Status::NeedMore | Status::Done { .. }) => {}
            Err(picow_protocol::ota::image::ImageError::TooLong { .. }) => {
                return Err(Refusal::SIZE)
            }
            Err(_) => return Err(Refusal::IMAGE),
        }
        if !u.header_ok {
            if let Some(h) = u.check.header() {
                if Some(h.chip_id) != u.chip_id {
                    return Err(Refusal::CHIP);
                }
                u.header_ok = true;
            }
        }
        while !bytes.is_empty() {
            let take = (SECTOR - u.fill).min(bytes.len());
            u.sector[u.fill..u.fill + take].copy_from_slice(&bytes[..take]);
            u.fill += take;
            bytes = &bytes[take..];
            if u.fill == SECTOR {
                if !u.header_ok {
                    // A whole sector and still no header: not an image.
                    return Err(Refusal::IMAGE);
                }
                self.ota_write_sector(u).await?;
            }
        }
        Ok(())
    }

    async fn ota_write_sector(&self, u: &mut SlotWriter) -> Result<(), Refusal> {
        let at = u.part.offset + u.written;
        // Pad the last, partial sector to whole words (erased bytes).
        let len = u.fill.div_ceil(4) * 4;
        u.sector[u.fill..].fill(0xFF);
        self.board
            .erase_flash(at, SECTOR as u32)
            .await
            .map_err(|_| Refusal::FLASH)?;
        self.board
            .write_flash(at, &u.sector[..len])
            .await
            .map_err(|_| Refusal::FLASH)?;
        u.written += SECTOR as u32;
        u.fill = 0;
        u.sector.fill(0xFF);
        Ok(())
    }

    /// All bytes are in: the last sector written, the stream and the image
    /// complete, the slot read back and checked again, then activated.
    async fn ota_end(&self, up: &mut Upload) -> Result<Option<(u8, ImageInfo)>, Refusal> {
        let Upload::Image { writer: u, gunzip } = up else {
            return Err(Refusal::IMAGE);
        };
        if let Some(g) = gunzip {
            g.finish().map_err(|_| Refusal::IMAGE)?;
        }
        let info = u.check.finish().map_err(|_| Refusal::IMAGE)?;
        if !u.header_ok {
            return Err(Refusal::IMAGE);
        }
        if u.fill > 0 {
            self.ota_write_sector(u).await?;
        }
        // What the flash holds, not what was sent.
        let back = self
            .check_flash_image(&u.part)
            .await
            .ok_or(Refusal::FLASH)?;
        if back.sha256 != info.sha256 || back.len != info.len {
            return Err(Refusal::FLASH);
        }
        let (table, otadata) = self.ota.ota_table().ok_or(Refusal::FLASH)?;
        self.board
            .ota_select(otadata, u.slot, table.ota_slot_count(), ImageState::New)
            .await
            .map_err(|_| Refusal::FLASH)?;
        Ok(Some((u.slot, info)))
    }

    /// A config record is announced (`picow flash --ota --config-only`).
    fn config_begin(&self, size: u32, compressed: bool) -> Result<Upload, Refusal> {
        if compressed || size as usize > RECORD_MAX {
            return Err(Refusal::CONFIG);
        }
        if self
            .ota
            .table
            .as_ref()
            .and_then(|t| t.picow_config())
            .is_none()
        {
            return Err(Refusal("layout", response::ERROR_NO_UPDATE_PARTITION));
        }
        Ok(Upload::Config(heapless::Vec::new()))
    }

    /// The record is in: checked as at boot, and appended to the config
    /// partition's log (so that a power cut leaves the old one in force).
    async fn config_end(&self, record: &[u8]) -> Result<Option<(u8, ImageInfo)>, Refusal> {
        let cfg = DeviceConfig::decode(record).map_err(|_| Refusal::CONFIG)?;
        if cfg.ota_password().is_none() || cfg.encoded_len() != record.len() {
            // Without an OTA password the board could not be reached again.
            return Err(Refusal::CONFIG);
        }
        let part = *self
            .ota
            .table
            .as_ref()
            .and_then(|t| t.picow_config())
            .ok_or(Refusal::FLASH)?;
        let mut words = [0xFFu8; RECORD_MAX + 4];
        words[..record.len()].copy_from_slice(record);
        let padded = &words[..align(record.len())];
        let at = match self.config_append_at(&part, padded.len()).await {
            Some(at) => at,
            None => {
                self.board
                    .erase_flash(part.offset, part.size.min(CONFIG_SECTOR))
                    .await
                    .map_err(|_| Refusal::FLASH)?;
                0
            }
        };
        self.board
            .write_flash(part.offset + at, padded)
            .await
            .map_err(|_| Refusal::FLASH)?;
        // What the board will read at its next boot.
        let mut back = [0u8; RECORD_MAX];
        self.board
            .read_flash(part.offset + at, &mut back[..record.len()])
            .await
            .map_err(|_| Refusal::FLASH)?;
        if back[..record.len()] != *record {
            return Err(Refusal::FLASH);
        }
        Ok(None)
    }

    /// The end of the config partition's log, if `len` more bytes fit there
    /// without an erase.
    async fn config_append_at(&self, part: &TableEntry, len: usize) -> Option<u32> {
        let size = part.size.min(CONFIG_SECTOR) as usize;
        let mut at = 0usize;
        let mut head = [0u8; picow_protocol::config::HEADER_LEN];
        loop {
            if at + head.len() > size {
                return None;
            }
            self.board
                .read_flash(part.offset + at as u32, &mut head)
                .await
                .ok()?;
            if head.iter().all(|&b| b == 0xFF) {
                break;
            }
            at = align(at + record_len(&head)?);
        }
        if at + len > size {
            return None;
        }
        let mut chunk = [0u8; 64];
        let mut off = at;
        while off < at + len {
            let n = (at + len - off).min(chunk.len());
            self.board
                .read_flash(part.offset + off as u32, &mut chunk[..n])
                .await
                .ok()?;
            if chunk[..n].iter().any(|&b| b != 0xFF) {
                return None;
            }
            off += n;
        }
        Some(at as u32)
    }

    /// Checks the image in `part` as the bootloader will.
    async fn check_flash_image(&self, part: &TableEntry) -> Option<ImageInfo> {
        let mut check = ImageCheck::new(part.size);
        let mut buf = [0u8; 1024];
        let mut at = 0u32;
        while at < part.size {
            let n = (part.size - at).min(buf.len() as u32) as usize;
            self.board
                .read_flash(part.offset + at, &mut buf[..n])
                .await
                .ok()?;
            at += n as u32;
            match check.feed(&buf[..n]) {
                Ok(Status::Done { info, .. }) => return Some(info),
                Ok(Status::NeedMore) => {}
                Err(_) => return None,
            }
        }
        None
    }

    async fn running_chip_id(&self) -> Option<u16> {
        let part = self.ota.running?;
        let mut head = [0u8; HEADER_LEN];
        self.board.read_flash(part.offset, &mut head).await.ok()?;
        parse_header(&head).ok().map(|h| h.chip_id)
    }

    /// What a query is answered with (the running image checked once).
    async fn running_info(&self) -> QueryInfo {
        let cached = self.ota.info.borrow().clone();
        if let Some(i) = cached {
            return QueryInfo {
                state: self.current_state().await,
                ..i
            };
        }
        let image = match self.ota.running {
            Some(p) => self.check_flash_image(&p).await,
            None => None,
        };
        let mut version = String::new();
        let _ = version.push_str(self.info.version);
        let info = QueryInfo {
            slot: self.ota.running_slot(),
            state: self.current_state().await,
            confirmed: false,
            chip_id: image.as_ref().map_or(0, |i| i.header.chip_id),
            image_len: image.as_ref().map_or(0, |i| i.len),
            sha256: image.as_ref().map_or([0; 32], |i| i.sha256),
            elf_sha256: image.as_ref().map_or([0; 32], |i| i.elf_sha256),
            flash_size: self.ota.flash_size(),
            version: image
                .as_ref()
                .filter(|i| !i.version.is_empty())
                .map_or(version, |i| i.version.clone()),
            project: image.map(|i| i.project).unwrap_or_default(),
        };
        *self.ota.info.borrow_mut() = Some(info.clone());
        info
    }

    async fn current_state(&self) -> Option<u8> {
        let (table, otadata) = self.ota.ota_table()?;
        let data: OtaData = read_otadata(self.board, otadata).await.ok()?;
        let e = data.active_entry()?;
        (Some(e.slot(table.ota_slot_count())) == self.ota.running_slot()).then_some(e.state as u8)
    }
}
