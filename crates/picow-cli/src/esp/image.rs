//! From a firmware ELF to what goes into flash: the chip the firmware is
//! built for, the flash plan (bootloader, partition table, app, config
//! record), the merged image, and the app descriptor read back from an image.
//!
//! The app image and the bootloader come from espflash (its ESP-IDF image
//! format and its bundled second-stage bootloaders); the partition table and
//! the config record from `picow-protocol`, so that `flash`, `probe` and the
//! firmware agree on them by construction.

use std::fmt;
use std::io::Write as _;

use espflash::flasher::{FlashData, FlashSettings, FlashSize};
use espflash::image_format::idf::IdfBootloaderFormat;
use espflash::image_format::Metadata;
use espflash::target::{Chip, XtalFrequency};
use picow_protocol::layout::{self, Layout, PartitionTable};
use picow_protocol::otadata::{Entry, ImageState, OtaData};
use picow_protocol::DeviceConfig;
use serde::Serialize;

/// Why a flash plan could not be built. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file is not an ELF an ESP image can be made from.
    #[error("--firmware {path}: not a firmware ELF espflash can turn into an app image ({source}); give the ELF that `cargo xtask fw build` produces")]
    BadElf {
        /// The file.
        path: String,
        /// What espflash said.
        #[source]
        source: espflash::Error,
    },
    /// The flash is smaller than any picow layout.
    #[error("flash too small: the board has {have} of flash, picow needs at least 4 MB")]
    FlashTooSmall {
        /// What the board has, e.g. `2 MB`.
        have: String,
    },
    /// The app does not fit its partition.
    #[error("the firmware app image is {app} bytes, larger than the {part}-byte app partition of the {flash} layout")]
    AppTooBig {
        /// App image size.
        app: u32,
        /// Partition size.
        part: u32,
        /// The layout's flash size.
        flash: String,
    },
    /// A temporary file for the partition CSV could not be written.
    #[error("could not write a temporary partition table: {0}")]
    Temp(#[from] std::io::Error),
}

/// The chips picow firmware is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PicowChip {
    /// ESP32-S3 (the WalnutPi PicoW).
    Esp32s3,
    /// ESP32-C3.
    Esp32c3,
    /// ESP32-C6.
    Esp32c6,
}

impl PicowChip {
    /// All of them.
    pub const ALL: [PicowChip; 3] = [PicowChip::Esp32s3, PicowChip::Esp32c3, PicowChip::Esp32c6];

    /// espflash's name for the chip.
    pub fn espflash(self) -> Chip {
        match self {
            PicowChip::Esp32s3 => Chip::Esp32s3,
            PicowChip::Esp32c3 => Chip::Esp32c3,
            PicowChip::Esp32c6 => Chip::Esp32c6,
        }
    }

    /// The picow chip for espflash's, if picow supports it.
    pub fn from_espflash(chip: Chip) -> Option<PicowChip> {
        PicowChip::ALL.into_iter().find(|c| c.espflash() == chip)
    }

    /// `esp32s3`, as in `--chip`.
    pub fn as_str(self) -> &'static str {
        match self {
            PicowChip::Esp32s3 => "esp32s3",
            PicowChip::Esp32c3 => "esp32c3",
            PicowChip::Esp32c6 => "esp32c6",
        }
    }

    /// The chip id in an image's extended header.
    pub fn image_id(self) -> u16 {
        self.espflash().id()
    }

    /// The Rust target the firmware is built for.
    pub fn rust_target(self) -> &'static str {
        match self {
            PicowChip::Esp32s3 => "xtensa-esp32s3-none-elf",
            PicowChip::Esp32c3 => "riscv32imc-unknown-none-elf",
            PicowChip::Esp32c6 => "riscv32imac-unknown-none-elf",
        }
    }

    /// The flash size of the usual board with this chip (8 MB on the
    /// WalnutPi PicoW, 4 MB on most C3/C6 boards), used for `--save-image`
    /// when `--flash-size` is not given.
    pub fn default_flash_size(self) -> u32 {
        match self {
            PicowChip::Esp32s3 => 8 << 20,
            PicowChip::Esp32c3 | PicowChip::Esp32c6 => 4 << 20,
        }
    }
}

impl fmt::Display for PicowChip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The chip a firmware ELF declares it was built for (esp-hal writes
/// `build_info.CHIP_NAME` into the `.espressif.metadata` section). `None`
/// when the ELF does not say; `Some(Err(name))` for a chip picow does not
/// support.
pub fn elf_chip(elf: &[u8]) -> Option<Result<PicowChip, String>> {
    let meta = Metadata::from_bytes(Some(elf));
    let name = meta.chip_name()?;
    Some(
        PicowChip::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| name.to_string()),
    )
}

/// Flash size in bytes as espflash's enum (the sizes ESP images can declare).
pub fn flash_size_enum(bytes: u32) -> Option<FlashSize> {
    Some(match bytes {
        0x10_0000 => FlashSize::_1Mb,
        0x20_0000 => FlashSize::_2Mb,
        0x40_0000 => FlashSize::_4Mb,
        0x80_0000 => FlashSize::_8Mb,
        0x100_0000 => FlashSize::_16Mb,
        0x200_0000 => FlashSize::_32Mb,
        0x400_0000 => FlashSize::_64Mb,
        0x800_0000 => FlashSize::_128Mb,
        0x1000_0000 => FlashSize::_256Mb,
        _ => return None,
    })
}

/// `8 MB`, `512 KB`.
pub fn human_size(bytes: u32) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MB", bytes >> 20)
    } else {
        format!("{} KB", bytes >> 10)
    }
}

/// One contiguous piece of a flash plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// What it is: `bootloader`, `partition-table`, `otadata`, `app` or `config`.
    pub name: &'static str,
    /// Where it goes.
    pub addr: u32,
    /// The bytes.
    pub data: Vec<u8>,
}

impl Region {
    /// One past the last byte.
    pub fn end(&self) -> u32 {
        self.addr + self.data.len() as u32
    }
}

/// Everything `picow flash` writes, in flash order.
#[derive(Debug, Clone)]
pub struct FlashPlan {
    /// The chip the plan is for.
    pub chip: PicowChip,
    /// The flash size the header and layout are for.
    pub flash_size: u32,
    /// The layout used.
    pub layout: &'static Layout,
    /// Bootloader, partition table, otadata (erased), app and config record.
    pub regions: Vec<Region>,
}

impl FlashPlan {
    /// The region with this name.
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// The merged image: every region at its address, gaps and the rest of
    /// the flash filled with `0xFF` (as `espflash save-image --merge` and
    /// `esptool merge-bin --pad-to-size`). Written at offset 0 it gives the
    /// same flash contents as `picow flash`.
    pub fn merged(&self) -> Vec<u8> {
        let mut out = vec![0xFF; self.flash_size as usize];
        for r in &self.regions {
            out[r.addr as usize..r.end() as usize].copy_from_slice(&r.data);
        }
        out
    }
}

/// The config partition's contents: the record, then erased flash.
pub fn config_region(layout: &Layout, config: &DeviceConfig) -> Region {
    let part = layout.config();
    let mut data = vec![0xFF; part.size as usize];
    // A valid config always fits: RECORD_MAX is far below one sector.
    let n = config
        .encode(&mut data)
        .expect("a config record fits its partition");
    debug_assert!(n <= data.len());
    Region {
        name: "config",
        addr: part.offset,
        data,
    }
}

/// The otadata partition as a USB flash leaves it: sector 0 selects
/// `ota_0` (where the app goes) as a confirmed image, sector 1 is erased.
/// Whatever slot an update over Wi-Fi had selected before, the board boots
/// the app just written; and it is what ESP-IDF's bootloader itself writes
/// on the first boot after erased otadata, so an unchanged board is left
/// unchanged.
pub fn otadata_region(addr: u32, size: u32) -> Region {
    let mut data = vec![0xFF; size as usize];
    let entry = Entry::new(1, ImageState::Valid).to_bytes();
    data[..entry.len()].copy_from_slice(&entry);
    Region {
        name: "otadata",
        addr,
        data,
    }
}

/// Builds the flash plan for `elf` on a `chip` with `flash_size` bytes of
/// flash and a `xtal` crystal.
pub fn build_plan(
    elf_path: &str,
    elf: &[u8],
    chip: PicowChip,
    flash_size: u32,
    xtal: XtalFrequency,
    config: &DeviceConfig,
) -> Result<FlashPlan, PlanError> {
    let layout = Layout::for_flash_size(flash_size).ok_or_else(|| PlanError::FlashTooSmall {
        have: human_size(flash_size),
    })?;
    let size_enum = flash_size_enum(flash_size).unwrap_or(FlashSize::_4Mb);
    let mut csv = String::new();
    layout
        .write_csv(&mut csv)
        .expect("writing to a String cannot fail");
    let mut csv_file = tempfile::Builder::new()
        .prefix("picow-partitions")
        .suffix(".csv")
        .tempfile()?;
    csv_file.write_all(csv.as_bytes())?;
    csv_file.flush()?;
    let flash_data = FlashData::new(
        FlashSettings::new(None, Some(size_enum), None),
        0,
        None,
        chip.espflash(),
        xtal,
    );
    let image = IdfBootloaderFormat::new(
        elf,
        &flash_data,
        Some(csv_file.path()),
        None,
        Some(layout::PARTITION_TABLE_OFFSET),
        Some(layout.app().name),
    )
    .map_err(|e| match e {
        espflash::Error::ElfTooBig(app, part) => PlanError::AppTooBig {
            app,
            part,
            flash: human_size(layout.flash_size),
        },
        source => PlanError::BadElf {
            path: elf_path.to_string(),
            source,
        },
    })?;
    let mut regions = Vec::new();
    for seg in image.flash_segments() {
        let name = match seg.addr {
            layout::BOOTLOADER_OFFSET => "bootloader",
            layout::PARTITION_TABLE_OFFSET => "partition-table",
            _ => "app",
        };
        let data = if name == "partition-table" {
            // picow-protocol's table is the source of truth; espflash's
            // encoding of the same CSV is checked to be identical in tests.
            layout.to_binary().to_vec()
        } else {
            seg.data.into_owned()
        };
        regions.push(Region {
            name,
            addr: seg.addr,
            data,
        });
    }
    if let Some(otadata) = layout.otadata() {
        regions.push(otadata_region(otadata.offset, otadata.size));
    }
    regions.push(config_region(layout, config));
    regions.sort_by_key(|r| r.addr);
    Ok(FlashPlan {
        chip,
        flash_size,
        layout,
        regions,
    })
}

/// The app image alone (what goes into an app slot) of `elf` for a board
/// with `flash_size` bytes of flash: the same bytes a USB flash writes.
pub fn app_image(
    elf_path: &str,
    elf: &[u8],
    chip: PicowChip,
    flash_size: u32,
    xtal: XtalFrequency,
) -> Result<Vec<u8>, PlanError> {
    let stand_in = DeviceConfig::new(
        picow_protocol::forms::WifiCredentials::parse("picow").expect("a valid SSID"),
        picow_protocol::forms::ServerAddr::parse("127.0.0.1:1").expect("a valid server"),
        None,
    )
    .expect("valid parts");
    let plan = build_plan(elf_path, elf, chip, flash_size, xtal, &stand_in)?;
    Ok(plan
        .regions
        .into_iter()
        .find(|r| r.name == "app")
        .map(|r| r.data)
        .unwrap_or_default())
}

/// What an app image's headers and descriptor say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppInfo {
    /// Chip id from the extended header (9 = ESP32-S3, 5 = ESP32-C3, 13 = ESP32-C6).
    pub chip_id: u16,
    /// The chip, when picow knows the id.
    pub chip: Option<PicowChip>,
    /// Entry point.
    pub entry: u32,
    /// Number of segments.
    pub segments: u8,
    /// The app descriptor, when the first segment starts with one.
    pub descriptor: Option<AppDescriptor>,
}

/// The ESP-IDF app descriptor (`esp_app_desc_t`) that esp-hal puts first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppDescriptor {
    /// Project name.
    pub name: String,
    /// App version.
    pub version: String,
    /// Build date and time as the build wrote them (`Nov 26 2026 09:00:00`).
    pub build_time: String,
    /// ESP-IDF (or esp-hal) version string.
    pub idf_version: String,
    /// SHA-256 of the ELF, hex.
    pub elf_sha256: String,
}

/// Why bytes are not an app image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The region is erased.
    #[error("no app: the app partition is erased")]
    Erased,
    /// The first byte is not `0xE9`.
    #[error("no app image: bad magic byte {0:#04x} (expected 0xe9)")]
    BadMagic(u8),
    /// Fewer bytes than the headers need.
    #[error("app image header truncated")]
    Truncated,
}

const IMAGE_HEADER_LEN: usize = 24;
const SEGMENT_HEADER_LEN: usize = 8;
const APP_DESC_MAGIC: u32 = 0xABCD_5432;
const APP_DESC_LEN: usize = 256;

fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Parses the headers and app descriptor at the start of an app image (the
/// first `0x120` bytes are enough).
pub fn parse_app(bytes: &[u8]) -> Result<AppInfo, AppError> {
    if bytes.len() < IMAGE_HEADER_LEN {
        return Err(AppError::Truncated);
    }
    if bytes[..IMAGE_HEADER_LEN].iter().all(|&b| b == 0xFF) {
        return Err(AppError::Erased);
    }
    if bytes[0] != 0xE9 {
        return Err(AppError::BadMagic(bytes[0]));
    }
    let u32_at =
        |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let chip_id = u16::from_le_bytes([bytes[12], bytes[13]]);
    let start = IMAGE_HEADER_LEN + SEGMENT_HEADER_LEN;
    let descriptor = bytes
        .get(start..start + APP_DESC_LEN)
        .filter(|d| u32::from_le_bytes([d[0], d[1], d[2], d[3]]) == APP_DESC_MAGIC)
        .map(|d| AppDescriptor {
            version: c_str(&d[16..48]),
            name: c_str(&d[48..80]),
            build_time: format!("{} {}", c_str(&d[96..112]), c_str(&d[80..96]))
                .trim()
                .to_string(),
            idf_version: c_str(&d[112..144]),
            elf_sha256: d[144..176].iter().map(|b| format!("{b:02x}")).collect(),
        });
    Ok(AppInfo {
        chip_id,
        chip: PicowChip::ALL.into_iter().find(|c| c.image_id() == chip_id),
        entry: u32_at(4),
        segments: bytes[1],
        descriptor,
    })
}

/// The app partition the bootloader boots first (ESP-IDF's choice with app
/// rollback off): the slot the active otadata entry selects; the factory
/// app, or `ota_0` without one, when no entry is usable.
pub fn boot_partition<'t>(
    table: &'t PartitionTable,
    otadata: Option<&OtaData>,
) -> Option<&'t layout::TableEntry> {
    let slots = table.ota_slot_count();
    match otadata {
        Some(d) if slots > 0 && !d.none_usable() => match d.selected_slot(slots) {
            Some(n) => table.ota_slot(n),
            None => table.factory().or_else(|| table.ota_slot(0)),
        },
        _ => table.factory().or_else(|| table.first_app()),
    }
}

/// The picow config partition of a board's partition table, or why there is
/// none (a sentence for `--config-only`).
pub fn config_partition(table_bytes: &[u8]) -> Result<(u32, u32), String> {
    match PartitionTable::parse(table_bytes) {
        Ok(t) => match t.picow_config() {
            Some(e) => Ok((e.offset, e.size)),
            None => Err(format!(
                "the board's partition table ({}) has no picow config partition ({}, type {:#04x})",
                t.entries()
                    .iter()
                    .map(|e| e.label().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                layout::CONFIG_LABEL,
                layout::CONFIG_TYPE
            )),
        },
        Err(e) => Err(format!("the board has no readable partition table ({e})")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::esp::fixture::synthetic_elf;
    use picow_protocol::forms::{ServerAddr, WifiCredentials};

    pub(crate) fn config() -> DeviceConfig {
        DeviceConfig::new(
            WifiCredentials::parse("HomeNet:s3cret-pass").unwrap(),
            ServerAddr::parse("127.0.0.1:10000").unwrap(),
            Some("desk"),
        )
        .unwrap()
    }

    #[test]
    fn chip_comes_from_the_metadata() {
        assert_eq!(
            elf_chip(&synthetic_elf(Some("esp32c3"), 64)),
            Some(Ok(PicowChip::Esp32c3))
        );
        assert_eq!(
            elf_chip(&synthetic_elf(Some("esp32s3"), 64)),
            Some(Ok(PicowChip::Esp32s3))
        );
        assert_eq!(
            elf_chip(&synthetic_elf(Some("esp32h2"), 64)),
            Some(Err("esp32h2".to_string()))
        );
        assert_eq!(elf_chip(&synthetic_elf(None, 64)), None);
        assert_eq!(elf_chip(b"not an elf"), None);
    }

    #[test]
    fn plan_has_five_regions_in_the_layout() {
        let elf = synthetic_elf(Some("esp32c3"), 5000);
        let plan = build_plan(
            "fw.elf",
            &elf,
            PicowChip::Esp32c3,
            4 << 20,
            XtalFrequency::_40Mhz,
            &config(),
        )
        .unwrap();
        let names: Vec<_> = plan.regions.iter().map(|r| (r.name, r.addr)).collect();
        assert_eq!(
            names,
            [
                ("bootloader", 0),
                ("partition-table", 0x8000),
                ("otadata", 0xD000),
                ("app", 0x10000),
                ("config", 0x3F0000)
            ]
        );
        let otadata = &plan.region("otadata").unwrap().data;
        assert_eq!(otadata.len(), 0x2000);
        assert_eq!(OtaData::parse(otadata).selected_slot(2), Some(0));
        assert!(otadata[32..].iter().all(|&b| b == 0xFF));
        // The bootloader is espflash's bundled one for the chip: an ESP
        // image whose header says 4 MB (size nibble 2).
        let boot = &plan.region("bootloader").unwrap().data;
        assert_eq!(boot[0], 0xE9);
        assert_eq!(boot[3] >> 4, 2);
        // The app image names the chip and carries our descriptor.
        let app = parse_app(&plan.region("app").unwrap().data).unwrap();
        assert_eq!(app.chip, Some(PicowChip::Esp32c3));
        assert_eq!(app.chip_id, 5);
        let d = app.descriptor.unwrap();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("picow-fw", "0.1.0"));
        assert_eq!(d.build_time, "Nov 26 2026 09:00:00");
        // espflash writes the ELF's SHA-256 into the descriptor.
        assert_ne!(d.elf_sha256, "0".repeat(64));
        // The config region decodes back and the rest of the sector is erased.
        let cfg = plan.region("config").unwrap();
        assert_eq!(cfg.data.len(), 0x1000);
        assert_eq!(DeviceConfig::decode(&cfg.data).unwrap(), config());
        assert!(cfg.data[config().encoded_len()..]
            .iter()
            .all(|&b| b == 0xFF));
        // The table is picow's and the board's parser finds the config partition.
        let table = &plan.region("partition-table").unwrap().data;
        assert_eq!(config_partition(table), Ok((0x3F0000, 0x1000)));
    }

    #[test]
    fn espflash_encodes_our_csv_to_the_same_table() {
        for l in [
            &layout::LAYOUT_4MB,
            &layout::LAYOUT_8MB,
            &layout::LEGACY_LAYOUT_4MB,
            &layout::LEGACY_LAYOUT_8MB,
        ] {
            let mut csv = String::new();
            l.write_csv(&mut csv).unwrap();
            let theirs = esp_idf_part_bin(&csv);
            let ours = l.to_binary();
            assert_eq!(&theirs[..], &ours[..theirs.len()], "{csv}");
            assert!(ours[theirs.len()..].iter().all(|&b| b == 0xFF));
        }
    }

    fn esp_idf_part_bin(csv: &str) -> Vec<u8> {
        // espflash re-exports nothing from esp-idf-part; go through its
        // image format, which parses the CSV and encodes the table.
        let elf = synthetic_elf(Some("esp32c3"), 64);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, csv).unwrap();
        let size = if csv.contains("0x7f0000") {
            FlashSize::_8Mb
        } else {
            FlashSize::_4Mb
        };
        let fd = FlashData::new(
            FlashSettings::new(None, Some(size), None),
            0,
            None,
            Chip::Esp32c3,
            XtalFrequency::_40Mhz,
        );
        let img =
            IdfBootloaderFormat::new(&elf, &fd, Some(&path), None, Some(0x8000), None).unwrap();
        let table = img
            .flash_segments()
            .find(|s| s.addr == 0x8000)
            .unwrap()
            .data
            .into_owned();
        table
    }

    #[test]
    fn merged_image_places_every_region() {
        let elf = synthetic_elf(Some("esp32s3"), 3000);
        let plan = build_plan(
            "fw.elf",
            &elf,
            PicowChip::Esp32s3,
            8 << 20,
            XtalFrequency::_40Mhz,
            &config(),
        )
        .unwrap();
        let img = plan.merged();
        assert_eq!(img.len(), 8 << 20);
        for r in &plan.regions {
            assert_eq!(
                &img[r.addr as usize..r.end() as usize],
                &r.data[..],
                "{}",
                r.name
            );
        }
        // A gap between regions stays erased.
        let boot_end = plan.region("bootloader").unwrap().end() as usize;
        assert!(img[boot_end..0x8000].iter().all(|&b| b == 0xFF));
        assert_eq!(
            config_partition(&img[0x8000..0x8C00]),
            Ok((0x7F0000, 0x1000))
        );
    }

    #[test]
    fn small_flash_and_big_apps_are_refused() {
        let elf = synthetic_elf(Some("esp32c3"), 64);
        let err = build_plan(
            "fw.elf",
            &elf,
            PicowChip::Esp32c3,
            2 << 20,
            XtalFrequency::_40Mhz,
            &config(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("flash too small: the board has 2 MB"),
            "{err}"
        );
        let err = build_plan(
            "fw.elf",
            b"junk",
            PicowChip::Esp32c3,
            4 << 20,
            XtalFrequency::_40Mhz,
            &config(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--firmware fw.elf: not a firmware ELF"),
            "{err}"
        );
    }

    #[test]
    fn app_parsing_rejects_what_is_not_an_app() {
        assert_eq!(parse_app(&[0xFF; 64]), Err(AppError::Erased));
        assert_eq!(parse_app(&[0x00; 64]), Err(AppError::BadMagic(0)));
        assert_eq!(parse_app(&[0xE9; 8]), Err(AppError::Truncated));
    }

    #[test]
    fn config_only_needs_a_picow_table() {
        let err = config_partition(&[0xFF; 0xC00]).unwrap_err();
        assert!(err.contains("no readable partition table"), "{err}");
        // An ESP-IDF default table: nvs, phy_init, factory; no picowcfg.
        let idf = esp_idf_part_bin(
            "nvs, data, nvs, 0x9000, 0x6000,\nphy_init, data, phy, 0xf000, 0x1000,\nfactory, app, factory, 0x10000, 0x3f0000,\n",
        );
        let mut table = idf.clone();
        table.resize(0xC00, 0xFF);
        let err = config_partition(&table).unwrap_err();
        assert!(
            err.contains(
                "(nvs, phy_init, factory) has no picow config partition (picowcfg, type 0x40)"
            ),
            "{err}"
        );
    }
}
