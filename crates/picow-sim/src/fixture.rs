//! Bootable flash contents for tests and demos: a bootloader image at `0x0`,
//! the picow partition table at `0x8000`, an app image with an app
//! descriptor at `0x10000` and, optionally, a config record.
//!
//! The images hold no runnable code (the virtual board runs none); they pass
//! every check a real boot makes: magic, chip id, checksum, SHA-256.

use picow_protocol::layout::{Layout, APP_OFFSET, BOOTLOADER_OFFSET, PARTITION_TABLE_OFFSET};
use picow_protocol::DeviceConfig;

use crate::chip::Chip;
use crate::flash::Flash;
use crate::image::{build_app_desc, build_image};

/// A second-stage bootloader image for `chip` (three segments, like ESP-IDF's).
pub fn bootloader_image(chip: Chip) -> Vec<u8> {
    let id = chip.info().image_chip_id;
    build_image(
        id,
        0x403c_9908,
        &[
            (0x3fce_3818, &[0x11; 0x40]),
            (0x403c_9700, &[0x22; 0x4]),
            (0x403c_9704, &[0x33; 0x80]),
        ],
    )
}

/// An app image for `chip` whose app descriptor says `name` and `version`.
pub fn app_image(chip: Chip, name: &str, version: &str) -> Vec<u8> {
    let desc = build_app_desc(name, version);
    build_image(
        chip.info().image_chip_id,
        0x4200_0000,
        &[(0x3c00_0020, &desc), (0x4200_0020, &[0x44; 0x200])],
    )
}

/// Writes bootloader, partition table, app and config into `flash` (which
/// must be at least 4 MB: the picow layouts are for 4 MB and 8 MB).
pub fn write_picow(
    flash: &mut Flash,
    chip: Chip,
    app_name: &str,
    config: Option<&DeviceConfig>,
) -> Result<(), crate::flash::FlashError> {
    let layout =
        Layout::for_flash_size(flash.size()).unwrap_or(&picow_protocol::layout::LAYOUT_4MB);
    flash.program(BOOTLOADER_OFFSET, &bootloader_image(chip))?;
    flash.program(PARTITION_TABLE_OFFSET, &layout.to_binary())?;
    flash.program(APP_OFFSET, &app_image(chip, app_name, "0.1.0"))?;
    if let Some(cfg) = config {
        flash.program(layout.config().offset, &cfg.to_bytes())?;
    }
    Ok(())
}

/// A fresh in-memory flash with the picow firmware layout for `chip`.
pub fn picow_flash(chip: Chip, size: u32, config: Option<&DeviceConfig>) -> Flash {
    let mut f = Flash::in_memory(size);
    write_picow(&mut f, chip, crate::boot::PICOW_FW_NAME, config)
        .expect("fits a 4 MB or larger flash");
    f
}
