//! The real C3 firmware on the virtual board: the ELF that CI builds is
//! turned into bootloader + partition table + app by the espflash library
//! (as `picow flash` does), flashed over the pty, booted with `reset run`;
//! the board joins the virtual Wi-Fi and greets a loopback server. Then one
//! corrupted config byte makes it report the invalid config instead.
//!
//! Needs the firmware ELF, so it is ignored in the plain test run;
//! `cargo xtask ci` runs it after the firmware build
//! (`cargo test -p picow-sim --test it -- --ignored fw_image::`, with
//! `PICOW_FW_ELF` pointing at `target/picow-fw/esp32c3/picow-fw.elf`).
#![cfg(unix)] // picow-sim is Unix-only (ptys, Unix sockets)

use crate::common;

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{read_until, Board};
use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::{FlashData, FlashSettings, FlashSize, Flasher};
use espflash::image_format::idf::IdfBootloaderFormat;
use espflash::target::{Chip as EspChip, DefaultProgressCallback, XtalFrequency};
use picow_protocol::forms::{ServerAddr, WifiCredentials};
use picow_protocol::layout::LAYOUT_4MB;
use picow_protocol::DeviceConfig;
use picow_sim::picow_fw::PicowFirmware;
use picow_sim::wifi::WifiTable;
use picow_sim::{Chip, Flash, Mac};
use serialport::UsbPortInfo;

fn elf_path() -> PathBuf {
    std::env::var_os("PICOW_FW_ELF").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/picow-fw/esp32c3/picow-fw.elf")
        },
        PathBuf::from,
    )
}

fn flasher(board: &Board) -> Flasher {
    let info = UsbPortInfo {
        vid: 0,
        pid: 0,
        serial_number: None,
        manufacturer: None,
        product: None,
    };
    let conn = Connection::new(
        board.open(),
        info,
        ResetAfterOperation::NoResetNoStub,
        ResetBeforeOperation::NoReset,
        115_200,
    );
    Flasher::connect(conn, true, true, false, Some(EspChip::Esp32c3), None).unwrap()
}

#[test]
#[ignore = "needs the C3 firmware ELF; cargo xtask ci runs it after the firmware build"]
fn ci_firmware_boots_greets_and_reports_a_corrupt_config() {
    let elf = std::fs::read(elf_path()).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with `cargo xtask fw build --chip esp32c3 --release`",
            elf_path().display()
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("partitions.csv");
    let mut text = String::new();
    LAYOUT_4MB.write_csv(&mut text).unwrap();
    std::fs::write(&csv, text).unwrap();
    let flash_data = FlashData::new(
        FlashSettings::new(None, Some(FlashSize::_4Mb), None),
        0,
        None,
        EspChip::Esp32c3,
        XtalFrequency::_40Mhz,
    );
    let image = IdfBootloaderFormat::new(&elf, &flash_data, Some(&csv), None, None, None).unwrap();

    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let cfg = DeviceConfig::new(
        WifiCredentials::parse("ci-net:ci-password").unwrap(),
        ServerAddr::parse(&format!("127.0.0.1:{port}")).unwrap(),
        None,
    )
    .unwrap();
    let wifi = WifiTable::new(vec![WifiCredentials::parse("ci-net:ci-password").unwrap()]);
    let board = Board::start_full(
        Chip::Esp32c3,
        Flash::in_memory(4 << 20),
        false,
        Some(Arc::new(PicowFirmware)),
        Mac::DEFAULT,
        false,
        wifi,
    );
    let config_at = LAYOUT_4MB.config().offset;
    let mut f = flasher(&board);
    f.load_image_to_flash(&mut DefaultProgressCallback, image.into())
        .unwrap();
    f.write_bin_to_flash(config_at, &cfg.to_bytes(), &mut DefaultProgressCallback)
        .unwrap();
    drop(f);

    let mut console = board.open();
    assert_eq!(board.control("reset run"), "ok mode=running");
    let (mut conn, _) = server.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = conn.read(&mut buf).unwrap();
    let mut expected = [0u8; 64];
    let len = picow_protocol::session::greeting(None, &mut expected).unwrap();
    assert_eq!(&buf[..n], &expected[..len]);
    let out = read_until(&mut console, b"@picow server-connected");
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("ESP-ROM:esp32c3"), "{text}");
    assert!(text.contains("@picow boot"), "{text}");
    drop(conn);
    drop(console);

    // One corrupted byte in the config record.
    assert_eq!(board.control("reset download"), "ok mode=download");
    let mut bad = cfg.to_bytes();
    bad[picow_protocol::config::HEADER_LEN + 1] ^= 0x20;
    let mut f = flasher(&board);
    f.write_bin_to_flash(config_at, &bad, &mut DefaultProgressCallback)
        .unwrap();
    drop(f);
    let mut console = board.open();
    assert_eq!(board.control("reset run"), "ok mode=running");
    let out = read_until(&mut console, b"@picow config-invalid");
    let text = String::from_utf8_lossy(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("@picow config-invalid"))
        .unwrap();
    assert!(line.contains("reason=\"crc\""), "{line}");
    board.stop();
}
