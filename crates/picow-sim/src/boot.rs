//! What a real boot checks, and what it prints on the console.
//!
//! The ROM loads the second-stage bootloader image at `0x0`; the bootloader
//! reads the partition table at `0x8000`, then loads and verifies the
//! app that otadata selects (falling back to the other slots). No code is executed: the checks and the console text are
//! emulated, and a verified picow-fw app hands over to the
//! [`Firmware`](crate::firmware::Firmware) behaviour.

use std::fmt::Write as _;

use picow_protocol::config::DecodeError;
use picow_protocol::layout::{
    PartitionTable, TableEntry, PARTITION_TABLE_LEN, PARTITION_TABLE_OFFSET,
};
use picow_protocol::otadata::{Entry, ImageState, OtaData, SECTOR_LEN};
use picow_protocol::DeviceConfig;

use crate::chip::Chip;
use crate::flash::Flash;
use crate::image::{AppDesc, Image};

/// The app descriptor name of the picow firmware.
pub const PICOW_FW_NAME: &str = "picow-fw";

/// Why the chip reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// Power on (start, replug).
    PowerOn,
    /// A reset from the host (control socket) or the loader.
    Software,
}

impl ResetReason {
    fn rom_text(self) -> &'static str {
        match self {
            ResetReason::PowerOn => "rst:0x1 (POWERON)",
            ResetReason::Software => "rst:0x15 (USB_UART_CHIP_RESET)",
        }
    }
}

/// The ROM banner of a reset into download mode, ending with the line
/// espflash looks for (`waiting for download`).
pub fn download_banner(chip: Chip, reason: ResetReason) -> String {
    let i = chip.info();
    format!(
        "{}\r\n{}\r\n{},boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n",
        i.rom_banner,
        i.rom_build,
        reason.rom_text()
    )
}

/// What the config partition held.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one value per boot: boxing buys nothing
pub enum ConfigState {
    /// The partition table has no picow config partition.
    NoPartition,
    /// The record decoded, or why not.
    Read(Result<DeviceConfig, DecodeError>),
}

/// A verified app, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootedApp {
    /// The partition it was loaded from.
    pub partition: TableEntry,
    /// Its OTA slot (`ota_N` → `N`), or `None` for a factory app.
    pub slot: Option<u8>,
    /// The app image.
    pub image: Image,
    /// Its descriptor, when it has one.
    pub desc: Option<AppDesc>,
    /// The config partition's contents.
    pub config: ConfigState,
}

impl BootedApp {
    /// Whether this is the picow firmware.
    pub fn is_picow_fw(&self) -> bool {
        self.desc
            .as_ref()
            .is_some_and(|d| d.project_name == PICOW_FW_NAME)
    }
}

/// How a boot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootOutcome {
    /// All checks passed.
    App(Box<BootedApp>),
    /// A check failed; the console says which. The board stays there.
    Failed(String),
}

struct Log {
    text: String,
    ms: u32,
}

impl Log {
    fn line(&mut self, level: char, tag: &str, msg: &str) {
        self.ms += 4;
        let _ = write!(self.text, "{level} ({}) {tag}: {msg}\r\n", self.ms);
    }
}

/// Boots from `flash`: returns the console text and the outcome. Like
/// ESP-IDF's bootloader, it may write otadata (recording the slot it booted
/// when otadata was erased).
pub fn boot(flash: &mut Flash, chip: Chip, reason: ResetReason) -> (String, BootOutcome) {
    let mut first_error: Option<String> = None;
    let i = chip.info();
    let mut log = Log {
        text: String::new(),
        ms: 20,
    };
    let _ = write!(
        log.text,
        "{}\r\n{}\r\n{},boot:{:#x} (SPI_FAST_FLASH_BOOT)\r\n",
        i.rom_banner,
        i.rom_build,
        reason.rom_text(),
        i.boot_strap_run
    );
    // ROM: the second-stage bootloader.
    let bl = match Image::load(flash, picow_protocol::layout::BOOTLOADER_OFFSET) {
        Ok(bl) => bl,
        Err(e) => {
            let head = flash
                .read(0, 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            let msg = match e {
                crate::image::ImageError::Magic { .. } => {
                    format!("invalid header: {:#010x}", head.unwrap_or(0xFFFF_FFFF))
                }
                other => format!("bootloader at 0x0: {other}"),
            };
            let _ = write!(log.text, "{msg}\r\n");
            return (log.text, BootOutcome::Failed(msg));
        }
    };
    if bl.chip_id != i.image_chip_id {
        let msg = format!(
            "bootloader at 0x0 is built for chip id {} ({}), this chip is {} (id {}): a real chip does not boot it",
            bl.chip_id,
            chip_name(bl.chip_id),
            i.display,
            i.image_chip_id
        );
        let _ = write!(log.text, "{msg}\r\n");
        return (log.text, BootOutcome::Failed(msg));
    }
    let _ = write!(log.text, "SPIWP:0xee\r\nmode:DIO, clock div:1\r\n");
    for s in &bl.segments {
        let _ = write!(log.text, "load:{:#010x},len:{:#x}\r\n", s.addr, s.len);
    }
    let _ = write!(log.text, "entry {:#010x}\r\n", bl.entry);

    // Second stage: partition table.
    log.line('I', "boot", "2nd stage bootloader (emulated by picow sim)");
    let (major, minor) = i.revision;
    log.line('I', "boot", &format!("chip revision: v{major}.{minor}"));
    log.line(
        'I',
        "boot",
        &format!("SPI Flash Size : {}MB", flash.size() >> 20),
    );
    let table_bytes = flash
        .read(PARTITION_TABLE_OFFSET, PARTITION_TABLE_LEN as u32)
        .unwrap_or(&[]);
    let table = match PartitionTable::parse(table_bytes) {
        Ok(t) => t,
        Err(e) => {
            let magic = u16::from_le_bytes([
                table_bytes.first().copied().unwrap_or(0xFF),
                table_bytes.get(1).copied().unwrap_or(0xFF),
            ]);
            log.line(
                'E',
                "flash_parts",
                &format!("partition 0 invalid magic number {magic:#06x} ({e})"),
            );
            log.line('E', "boot", "Failed to verify partition table");
            log.line('E', "boot", "load partition table error!");
            return (log.text, BootOutcome::Failed(e.to_string()));
        }
    };
    if let Err(msg) = check_table(&table, flash.size()) {
        log.line('E', "flash_parts", &msg);
        log.line('E', "boot", "Failed to verify partition table");
        log.line('E', "boot", "load partition table error!");
        return (log.text, BootOutcome::Failed(msg));
    }
    log.line('I', "boot", "Partition Table:");
    log.line(
        'I',
        "boot",
        "## Label            Usage          Type ST Offset   Length",
    );
    for (n, e) in table.entries().iter().enumerate() {
        log.line(
            'I',
            "boot",
            &format!(
                "{n:2} {:16} {:14} {:02x} {:02x} {:08x} {:08x}",
                e.label(),
                usage(e),
                e.ty,
                e.subtype,
                e.offset,
                e.size
            ),
        );
    }
    log.line('I', "boot", "End of partition table");

    // The app: the slot otadata selects, then the others, as ESP-IDF's
    // bootloader (without app rollback) tries them.
    let (start, initial) = selected_index(&table, flash, &mut log);
    let mut loaded = None;
    for index in boot_order(start, table.ota_slot_count()) {
        let Some(part) = partition_for(&table, index) else {
            continue;
        };
        match try_load(flash, &part, i) {
            Ok(image) => {
                loaded = Some((index, part, image));
                break;
            }
            Err(msg) => {
                log.line('E', "esp_image", &msg);
                if index < 0 {
                    log.line('E', "boot", "Factory app partition is not bootable");
                } else {
                    log.line(
                        'E',
                        "boot",
                        &format!("OTA app partition slot {index} is not bootable"),
                    );
                }
                first_error.get_or_insert(msg);
            }
        }
    }
    let Some((index, app, image)) = loaded else {
        log.line(
            'E',
            "boot",
            "No bootable app partitions in the partition table",
        );
        let why = first_error.unwrap_or_else(|| "no app partition".into());
        return (log.text, BootOutcome::Failed(why));
    };
    if index >= 0 && initial {
        // ESP-IDF's set_actual_ota_seq: with no factory app and no usable
        // otadata, the bootloader records the slot it booted.
        if let Some(ota) = table.otadata() {
            let entry = Entry::new(index as u32 + 1, ImageState::Valid);
            let written = flash
                .erase(ota.offset, SECTOR_LEN)
                .and_then(|()| flash.program(ota.offset, &entry.to_bytes()));
            if written.is_ok() {
                log.line(
                    'I',
                    "boot",
                    &format!("Set actual ota_seq={} in otadata[0]", entry.seq),
                );
            }
        }
    }
    for (n, s) in image.segments.iter().enumerate() {
        log.line(
            'I',
            "esp_image",
            &format!(
                "segment {n}: paddr={:08x} vaddr={:08x} size={:05x}h ({:6})",
                s.flash_offset, s.addr, s.len, s.len
            ),
        );
    }
    log.line(
        'I',
        "boot",
        &format!("Loaded app from partition at offset {:#x}", app.offset),
    );
    let config = match table.picow_config() {
        None => ConfigState::NoPartition,
        Some(c) => {
            let bytes = flash.read(c.offset, c.size).unwrap_or(&[]);
            ConfigState::Read(picow_protocol::config_partition::read(bytes))
        }
    };
    let desc = image.app_desc.clone();
    (
        log.text,
        BootOutcome::App(Box::new(BootedApp {
            image,
            desc,
            config,
            slot: app.ota_slot(),
            partition: app,
        })),
    )
}

/// Index of the factory app in ESP-IDF's bootloader; OTA slots are 0..
const FACTORY_INDEX: i32 = -1;

/// ESP-IDF's `bootloader_utility_get_selected_boot_partition` with app
/// rollback off: the index to try first, and whether otadata holds only
/// "initial contents" (erased or corrupt), which makes the bootloader record
/// the slot it boots.
fn selected_index(table: &PartitionTable, flash: &Flash, log: &mut Log) -> (i32, bool) {
    let Some(ota) = table.otadata() else {
        return (FACTORY_INDEX, false);
    };
    let bytes = flash
        .read(ota.offset, ota.size.min(2 * SECTOR_LEN))
        .unwrap_or(&[]);
    let data = OtaData::parse(bytes);
    let app_count = table.ota_slot_count();
    if data.none_usable() || app_count == 0 {
        if table.factory().is_some() {
            log.line('I', "boot", "Defaulting to factory image");
            return (FACTORY_INDEX, false);
        }
        log.line('I', "boot", "No factory image, trying OTA 0");
        let initial = data.entries.iter().all(Entry::is_initial);
        return (0, initial);
    }
    match data.active_entry() {
        Some(e) => (i32::from(e.slot(app_count)), false),
        None => {
            if table.factory().is_some() {
                log.line(
                    'E',
                    "boot",
                    "ota data partition invalid, falling back to factory",
                );
            } else {
                log.line(
                    'E',
                    "boot",
                    "ota data partition invalid and no factory, will try all partitions",
                );
            }
            (FACTORY_INDEX, false)
        }
    }
}

/// ESP-IDF's `bootloader_utility_load_boot_image`: from `start` down to the
/// factory app, then the slots above `start`.
fn boot_order(start: i32, app_count: u8) -> impl Iterator<Item = i32> {
    (FACTORY_INDEX..=start)
        .rev()
        .chain(start + 1..i32::from(app_count))
}

fn partition_for(table: &PartitionTable, index: i32) -> Option<TableEntry> {
    if index == FACTORY_INDEX {
        // Without otadata the first app partition is the one booted.
        return table
            .factory()
            .or_else(|| table.otadata().map_or(table.first_app(), |_| None))
            .copied();
    }
    table.ota_slot(index as u8).copied()
}

/// Loads and verifies the image in `part`, as the bootloader does.
fn try_load(
    flash: &Flash,
    part: &TableEntry,
    chip: &crate::chip::ChipInfo,
) -> Result<Image, String> {
    let image = Image::load(flash, part.offset).map_err(|e| e.to_string())?;
    if image.chip_id != chip.image_chip_id {
        return Err(format!(
            "mismatch chip ID, expected {}, found {}",
            chip.image_chip_id, image.chip_id
        ));
    }
    if image.len > part.size {
        return Err(format!(
            "image at {:#x} is {:#x} bytes, larger than its partition ({:#x})",
            part.offset, image.len, part.size
        ));
    }
    Ok(image)
}

fn chip_name(id: u16) -> &'static str {
    Chip::from_image_id(id).map_or("unknown chip", |c| c.info().display)
}

fn usage(e: &TableEntry) -> &'static str {
    match (e.ty, e.subtype) {
        (0x00, 0x00) => "factory app",
        (0x00, 0x10..=0x1F) => "OTA app",
        (0x01, 0x00) => "OTA data",
        (0x01, 0x01) => "RF data",
        (0x01, 0x02) => "WiFi data",
        (0x40..=0xFE, _) => "Unknown data",
        _ => "Unknown",
    }
}

/// The checks ESP-IDF's `esp_partition_table_verify` and the bootloader make.
fn check_table(table: &PartitionTable, flash_size: u32) -> Result<(), String> {
    let mut spans: Vec<(u32, u32, &str)> = Vec::new();
    for e in table.entries() {
        let align = if e.ty == 0x00 { 0x10000 } else { 0x1000 };
        if e.offset % align != 0 {
            return Err(format!(
                "partition {} at {:#x} is not aligned to {align:#x}",
                e.label(),
                e.offset
            ));
        }
        let end = u64::from(e.offset) + u64::from(e.size);
        if end > u64::from(flash_size) {
            return Err(format!(
                "partition {} ({:#x}+{:#x}) does not fit the {}MB flash",
                e.label(),
                e.offset,
                e.size,
                flash_size >> 20
            ));
        }
        if e.offset < PARTITION_TABLE_OFFSET + PARTITION_TABLE_LEN as u32 {
            return Err(format!(
                "partition {} at {:#x} overlaps the partition table",
                e.label(),
                e.offset
            ));
        }
        for (s, t, name) in &spans {
            if u64::from(e.offset) < u64::from(*t) && end > u64::from(*s) {
                return Err(format!("partitions {} and {name} overlap", e.label()));
            }
        }
        spans.push((e.offset, end as u32, e.label()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
