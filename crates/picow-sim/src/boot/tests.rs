use picow_protocol::config::DecodeError;
use picow_protocol::forms::{ServerAddr, WifiCredentials};
use picow_protocol::layout::{LAYOUT_8MB, PARTITION_TABLE_OFFSET};

use super::*;
use crate::fixture::{app_image, picow_flash};
use picow_protocol::otadata::{Entry, ImageState, OtaData};

fn config() -> DeviceConfig {
    DeviceConfig::new(
        WifiCredentials::parse("Home:12345678").unwrap(),
        ServerAddr::parse("127.0.0.1:10000").unwrap(),
        Some("desk"),
    )
    .unwrap()
}

fn failed(out: &BootOutcome) -> &str {
    match out {
        BootOutcome::Failed(m) => m,
        BootOutcome::App(_) => panic!("expected a failed boot"),
    }
}

#[test]
fn picow_image_boots_with_its_config() {
    let mut flash = picow_flash(Chip::Esp32s3, 8 << 20, Some(&config()));
    let (text, out) = boot(&mut flash, Chip::Esp32s3, ResetReason::PowerOn);
    assert!(text.starts_with("ESP-ROM:esp32s3-20210327\r\n"), "{text}");
    assert!(text.contains("boot:0x8 (SPI_FAST_FLASH_BOOT)"), "{text}");
    assert!(text.contains("entry 0x403c9908"), "{text}");
    assert!(
        text.contains(" 5 picowcfg         Unknown data   40 00 007f0000 00001000"),
        "{text}"
    );
    assert!(
        text.contains("Loaded app from partition at offset 0x10000"),
        "{text}"
    );
    let BootOutcome::App(app) = out else {
        panic!("{text}")
    };
    assert!(app.is_picow_fw());
    assert_eq!(app.config, ConfigState::Read(Ok(config())));
}

#[test]
fn erased_flash_is_an_invalid_header() {
    let (text, out) = boot(
        &mut Flash::in_memory(4 << 20),
        Chip::Esp32c3,
        ResetReason::PowerOn,
    );
    assert!(
        text.contains("boot:0xc (SPI_FAST_FLASH_BOOT)\r\ninvalid header: 0xffffffff\r\n"),
        "{text}"
    );
    assert_eq!(failed(&out), "invalid header: 0xffffffff");
}

#[test]
fn corrupt_config_byte_is_reported_not_fatal() {
    let mut flash = picow_flash(Chip::Esp32c3, 4 << 20, Some(&config()));
    let cfg_off = picow_protocol::layout::LAYOUT_4MB.config().offset;
    // Clear one bit of the SSID's second byte, 'o' (NOR can only clear bits).
    let at = cfg_off + picow_protocol::config::HEADER_LEN as u32 + 2;
    assert_eq!(flash.read(at, 1).unwrap(), b"o");
    flash.program(at, &[0xFE]).unwrap();
    let (_, out) = boot(&mut flash, Chip::Esp32c3, ResetReason::Software);
    let BootOutcome::App(app) = out else { panic!() };
    assert!(matches!(
        app.config,
        ConfigState::Read(Err(DecodeError::BadCrc { .. }))
    ));
    // Erased config partition.
    let mut flash = picow_flash(Chip::Esp32c3, 4 << 20, None);
    let BootOutcome::App(app) = boot(&mut flash, Chip::Esp32c3, ResetReason::PowerOn).1 else {
        panic!()
    };
    assert_eq!(app.config, ConfigState::Read(Err(DecodeError::Erased)));
}

#[test]
fn wrong_chip_app_and_bootloader_are_refused() {
    // S3 flash contents on a C3 board: the ROM refuses the bootloader.
    let mut flash = picow_flash(Chip::Esp32s3, 4 << 20, None);
    let (_, out) = boot(&mut flash, Chip::Esp32c3, ResetReason::PowerOn);
    assert!(failed(&out).contains("built for chip id 9 (ESP32-S3)"));
    // C3 bootloader but an S3 app: the bootloader refuses the app.
    let mut flash = picow_flash(Chip::Esp32c3, 4 << 20, None);
    flash.erase(0x10000, 0x10000).unwrap();
    flash
        .program(0x10000, &app_image(Chip::Esp32s3, "picow-fw", "1"))
        .unwrap();
    let (text, out) = boot(&mut flash, Chip::Esp32c3, ResetReason::PowerOn);
    assert_eq!(failed(&out), "mismatch chip ID, expected 5, found 9");
    assert!(text.contains("E ("), "{text}");
    assert!(text.contains("esp_image: mismatch chip ID"), "{text}");
}

#[test]
fn missing_or_corrupt_table_and_app() {
    let mut flash = picow_flash(Chip::Esp32s3, 8 << 20, None);
    flash.program(PARTITION_TABLE_OFFSET + 5, &[0]).unwrap();
    let (text, out) = boot(&mut flash, Chip::Esp32s3, ResetReason::PowerOn);
    assert!(failed(&out).contains("MD5"), "{text}");
    assert!(text.contains("load partition table error!"), "{text}");

    let mut flash = picow_flash(Chip::Esp32s3, 8 << 20, None);
    flash.erase(0x10000, 0x1000).unwrap();
    let (text, out) = boot(&mut flash, Chip::Esp32s3, ResetReason::PowerOn);
    assert!(
        failed(&out).contains("invalid magic byte 0xff (nothing flashed here?)"),
        "{text}"
    );
    assert!(
        text.contains("OTA app partition slot 0 is not bootable"),
        "{text}"
    );

    // An 8 MB table does not fit a 4 MB flash.
    let mut flash = Flash::in_memory(4 << 20);
    flash
        .program(0, &crate::fixture::bootloader_image(Chip::Esp32s3))
        .unwrap();
    flash
        .program(PARTITION_TABLE_OFFSET, &LAYOUT_8MB.to_binary())
        .unwrap();
    let (_, out) = boot(&mut flash, Chip::Esp32s3, ResetReason::PowerOn);
    assert!(failed(&out).contains("does not fit the 4MB flash"));
}

#[test]
fn other_apps_boot_but_are_not_picow() {
    let mut flash = picow_flash(Chip::Esp32s3, 8 << 20, None);
    flash.erase(0x10000, 0x10000).unwrap();
    flash
        .program(0x10000, &app_image(Chip::Esp32s3, "blinky", "1"))
        .unwrap();
    let BootOutcome::App(app) = boot(&mut flash, Chip::Esp32s3, ResetReason::PowerOn).1 else {
        panic!()
    };
    assert!(!app.is_picow_fw());
    assert_eq!(app.desc.unwrap().project_name, "blinky");
}

#[test]
fn download_banner_matches_what_espflash_looks_for() {
    let b = download_banner(Chip::Esp32s3, ResetReason::Software);
    assert!(b.contains("boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download"));
}

fn booted(flash: &mut Flash) -> (u32, Option<u8>, String) {
    let (text, out) = boot(flash, Chip::Esp32c3, ResetReason::PowerOn);
    match out {
        BootOutcome::App(app) => (app.partition.offset, app.slot, text),
        BootOutcome::Failed(why) => panic!("{why}\n{text}"),
    }
}

fn set_otadata(flash: &mut Flash, entries: [Option<Entry>; 2]) {
    flash.erase(0xD000, 0x2000).unwrap();
    for (i, e) in entries.iter().enumerate() {
        if let Some(e) = e {
            flash
                .program(0xD000 + i as u32 * 0x1000, &e.to_bytes())
                .unwrap();
        }
    }
}

fn otadata(flash: &Flash) -> OtaData {
    OtaData::parse(flash.read(0xD000, 0x2000).unwrap())
}

#[test]
fn erased_otadata_boots_ota_0_and_records_it() {
    let mut flash = picow_flash(Chip::Esp32c3, 4 << 20, None);
    assert_eq!(otadata(&flash), OtaData::ERASED);
    let (offset, slot, text) = booted(&mut flash);
    assert_eq!((offset, slot), (0x10000, Some(0)));
    assert!(text.contains("No factory image, trying OTA 0"), "{text}");
    assert!(
        text.contains("Set actual ota_seq=1 in otadata[0]"),
        "{text}"
    );
    let d = otadata(&flash);
    assert_eq!(d.entries[0], Entry::new(1, ImageState::Valid));
    // The next boot finds it and writes nothing.
    let (_, _, text) = booted(&mut flash);
    assert!(!text.contains("Set actual"), "{text}");
}

#[test]
fn otadata_selects_the_slot_and_a_bad_slot_falls_back() {
    let mut flash = picow_flash(Chip::Esp32c3, 4 << 20, None);
    flash
        .program(0x200000, &app_image(Chip::Esp32c3, "picow-fw", "2.0.0"))
        .unwrap();
    set_otadata(
        &mut flash,
        [
            Some(Entry::new(1, ImageState::Valid)),
            Some(Entry::new(2, ImageState::New)),
        ],
    );
    let (offset, slot, _) = booted(&mut flash);
    assert_eq!((offset, slot), (0x200000, Some(1)));
    // The bootloader (without app rollback) leaves the trial state to the app.
    assert_eq!(
        otadata(&flash).entries[1].image_state(),
        Some(ImageState::New)
    );

    // The selected slot's image is corrupt: the bootloader boots ota_0.
    flash.program(0x200000 + 48, &[0]).unwrap();
    let (offset, _, text) = booted(&mut flash);
    assert_eq!(offset, 0x10000);
    assert!(
        text.contains("OTA app partition slot 1 is not bootable"),
        "{text}"
    );

    // An aborted trial is skipped: the other entry decides.
    set_otadata(
        &mut flash,
        [
            Some(Entry::new(1, ImageState::Valid)),
            Some(Entry::new(2, ImageState::Aborted)),
        ],
    );
    assert_eq!(booted(&mut flash).1, Some(0));
    // Only an aborted entry: ota_0, and otadata is not rewritten.
    set_otadata(&mut flash, [None, Some(Entry::new(2, ImageState::Aborted))]);
    let before = otadata(&flash);
    assert_eq!(booted(&mut flash).1, Some(0));
    assert_eq!(otadata(&flash), before);
}

#[test]
fn a_legacy_table_boots_its_factory_app() {
    let mut flash = Flash::in_memory(4 << 20);
    flash
        .program(0, &crate::fixture::bootloader_image(Chip::Esp32c3))
        .unwrap();
    flash
        .program(
            PARTITION_TABLE_OFFSET,
            &picow_protocol::layout::LEGACY_LAYOUT_4MB.to_binary(),
        )
        .unwrap();
    flash
        .program(0x10000, &app_image(Chip::Esp32c3, "picow-fw", "0.1.0"))
        .unwrap();
    let (offset, slot, _) = booted(&mut flash);
    assert_eq!((offset, slot), (0x10000, None));
}
