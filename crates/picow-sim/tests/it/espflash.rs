//! Cross-check: the real espflash 4.7.0 library against the virtual board on
//! a pty, with and without its flasher stub. The pitfalls of
//! `docs/rom-loader.md` apply: no DTR/RTS on a pty (`NoReset`), one block in
//! flight for the stub's `read_flash`, `read_flash_rom` only up to 128 bytes,
//! and `NoResetNoStub` for a multi-step stub session.
#![cfg(unix)] // picow-sim is Unix-only (ptys, Unix sockets)

use crate::common;

use common::Board;
use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::{FlashSize, Flasher};
use espflash::target::{Chip as EspChip, DefaultProgressCallback};
use md5::{Digest, Md5};
use picow_sim::{Chip, Flash, Mac};
use serialport::UsbPortInfo;

fn connect(board: &Board, use_stub: bool, after: ResetAfterOperation) -> Flasher {
    let port = board.open();
    let info = UsbPortInfo {
        vid: 0,
        pid: 0,
        serial_number: None,
        manufacturer: None,
        product: None,
    };
    let conn = Connection::new(port, info, after, ResetBeforeOperation::NoReset, 115_200);
    Flasher::connect(conn, use_stub, true, false, None, None).expect("espflash connects")
}

fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn flash_file(board: &Board) -> std::path::PathBuf {
    board.dir.path().join("flash.bin")
}

#[test]
fn rom_dialect_device_info_write_md5_and_short_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flash.bin");
    let mac: Mac = "7c:df:a1:12:34:56".parse().unwrap();
    let flash = Flash::open(&path, Some(8 << 20)).unwrap();
    let board = Board::start_with(Chip::Esp32s3, flash, false, None, mac);
    let mut f = connect(&board, false, ResetAfterOperation::NoReset);
    let info = f.device_info().unwrap();
    assert_eq!(info.chip, EspChip::Esp32s3);
    assert_eq!(info.flash_size, FlashSize::_8Mb);
    assert_eq!(info.revision, Some((0, 2)));
    assert_eq!(info.mac_address.as_deref(), Some("7c:df:a1:12:34:56"));

    let data = random(0x2345, 1);
    f.write_bin_to_flash(0x10000, &data, &mut DefaultProgressCallback)
        .unwrap();
    // Written through to the flash file as the blocks arrived.
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(&on_disk[0x10000..0x10000 + data.len()], &data[..]);
    let md5 = f.checksum_md5(0x10000, data.len() as u32).unwrap();
    assert_eq!(md5.to_be_bytes(), Md5::digest(&data)[..]);
    let out = dir.path().join("read.bin");
    f.read_flash_rom(0x10000, 128, 64, 1, out.clone()).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), &data[..128]);
    drop(f);
    board.stop();
}

#[test]
fn stub_dialect_1mb_write_read_back_and_erase() {
    let board = Board::start(Chip::Esp32c3, Flash::in_memory(4 << 20), false, None);
    let mut f = connect(&board, true, ResetAfterOperation::NoResetNoStub);
    let info = f.device_info().unwrap();
    assert_eq!(info.chip, EspChip::Esp32c3);
    assert_eq!(info.flash_size, FlashSize::_4Mb);
    assert_eq!(
        info.mac_address.as_deref(),
        Some(Mac::DEFAULT.to_string().as_str())
    );

    let data = random(1 << 20, 2);
    f.write_bin_to_flash(0x10000, &data, &mut DefaultProgressCallback)
        .unwrap();
    let md5 = f.checksum_md5(0x10000, data.len() as u32).unwrap();
    assert_eq!(md5.to_be_bytes(), Md5::digest(&data)[..]);
    let out = flash_file(&board).with_extension("read");
    f.read_flash(0x10000, data.len() as u32, 0x1000, 1, out.clone())
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), data);

    f.erase_region(0x10000, 0x1000).unwrap();
    let md5 = f.checksum_md5(0x10000, 0x1000).unwrap();
    assert_eq!(md5.to_be_bytes(), Md5::digest([0xFF; 0x1000])[..]);
    drop(f);
    // Still the stub: a second session finds it answering SYNC with 0.
    assert!(board.control("status").contains("dialect=stub"));
    board.stop();
}
