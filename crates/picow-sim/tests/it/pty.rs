//! The virtual board on a real pty: loader replies, control socket resets,
//! unplug/replug, boot messages and the firmware hook.
#![cfg(unix)] // picow-sim is Unix-only (ptys, Unix sockets)

use crate::common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use common::{read_until, Board};
use picow_sim::command::{op, Request};
use picow_sim::firmware::{AppEnv, AppExit, AppFuture, Console, Firmware};
use picow_sim::loader::SYNC_PAYLOAD;
use picow_sim::{fixture, slip, Chip, Flash};
use serialport::SerialPort;

fn request(port: &mut impl Write, op: u8, data: &[u8]) {
    port.write_all(&slip::encode(&Request::encode(op, data, 0)))
        .unwrap();
}

/// Reads `n` SLIP frames.
fn frames(port: &mut impl Read, n: usize) -> Vec<Vec<u8>> {
    let mut dec = slip::SlipDecoder::new();
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while out.len() < n {
        let k = port.read(&mut buf).expect("a reply within the timeout");
        dec.feed(&buf[..k], |f| out.push(f.unwrap().to_vec()));
    }
    out
}

#[test]
fn sync_and_read_reg_over_a_real_pty() {
    let board = Board::start(Chip::Esp32c3, Flash::in_memory(4 << 20), false, None);
    let mut port = board.open();
    // The power-on banner of download mode comes first.
    read_until(&mut port, b"waiting for download\r\n");
    request(&mut port, op::SYNC, &SYNC_PAYLOAD);
    let f = frames(&mut port, 8);
    assert!(f
        .iter()
        .all(|f| f[..8] == [1, op::SYNC, 4, 0, 0x07, 0x07, 0x12, 0x20]));
    request(&mut port, op::READ_REG, &0x4000_1000u32.to_le_bytes());
    let f = frames(&mut port, 1);
    assert_eq!(
        u32::from_le_bytes(f[0][4..8].try_into().unwrap()),
        0x1b31_506f
    );
    assert!(board
        .control("status")
        .starts_with("ok mode=download dialect=rom baud=115200 chip=esp32c3 plugged=yes"));
    drop(port);
    board.stop();
}

#[test]
fn reset_run_on_erased_flash_prints_the_rom_error_and_halts() {
    let board = Board::start(Chip::Esp32s3, Flash::in_memory(8 << 20), false, None);
    let mut port = board.open();
    read_until(&mut port, b"waiting for download");
    let reply = board.control("reset run");
    assert!(reply.starts_with("ok mode=halted"), "{reply}");
    let out = read_until(&mut port, b"invalid header: 0xffffffff\r\n");
    assert!(String::from_utf8_lossy(&out).contains("ESP-ROM:esp32s3-20210327"));
    // Halted: loader bytes get no answer until a reset into download mode.
    request(&mut port, op::SYNC, &SYNC_PAYLOAD);
    port.set_timeout(Duration::from_millis(300)).unwrap();
    let mut buf = [0u8; 64];
    assert!(port.read(&mut buf).is_err(), "no reply while halted");
    assert_eq!(board.control("reset download"), "ok mode=download");
    read_until(&mut port, b"waiting for download");
    port.set_timeout(Duration::from_secs(3)).unwrap();
    request(&mut port, op::SYNC, &SYNC_PAYLOAD);
    assert_eq!(frames(&mut port, 8).len(), 8);
    assert!(board
        .control("reset sideways")
        .starts_with("error unknown control command"));
    board.stop();
}

#[test]
fn unplug_removes_the_pty_and_replug_brings_a_new_one() {
    let board = Board::start(Chip::Esp32s3, Flash::in_memory(8 << 20), false, None);
    let first = std::fs::read_link(&board.link).unwrap();
    assert!(first.exists());
    let mut port = board.open();
    assert_eq!(board.control("unplug"), "ok unplugged");
    assert!(std::fs::symlink_metadata(&board.link).is_err(), "link gone");
    // The open port sees the hangup.
    port.set_timeout(Duration::from_millis(500)).unwrap();
    let mut buf = [0u8; 16];
    let mut hung_up = false;
    for _ in 0..10 {
        match port.read(&mut buf) {
            Ok(0) | Err(_) => {
                hung_up = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(hung_up);
    assert!(board.control("status").contains("plugged=no"));
    assert!(board
        .control("reset run")
        .starts_with("error the board is unplugged"));
    let reply = board.control("replug download");
    assert!(reply.starts_with("ok pty=/dev/"), "{reply}");
    let second = std::fs::read_link(&board.link).unwrap();
    assert_eq!(reply, format!("ok pty={}", second.display()));
    drop(port);
    let mut port = board.open();
    read_until(
        &mut port,
        b"rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))",
    );
    request(&mut port, op::SYNC, &SYNC_PAYLOAD);
    assert_eq!(frames(&mut port, 8).len(), 8);
    let link = board.link.clone();
    board.stop();
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "link removed at stop"
    );
}

/// A stand-in firmware: greets with what it found, then echoes lines.
#[derive(Debug)]
struct Echo;

impl Firmware for Echo {
    fn run(&self, env: AppEnv, mut console: Console) -> AppFuture {
        Box::pin(async move {
            let cfg = match &env.app.config {
                picow_sim::boot::ConfigState::Read(Ok(c)) => format!("ssid={}", c.ssid()),
                other => format!("{other:?}"),
            };
            console.write(format!("echo-fw {} mac={} {cfg}\r\n", env.chip, env.mac).as_bytes());
            while let Some(bytes) = console.read().await {
                if bytes.starts_with(b"reboot") {
                    return AppExit::Reboot;
                }
                let mut reply = b"echo:".to_vec();
                reply.extend(bytes);
                console.write(&reply);
            }
            AppExit::Stopped
        })
    }
}

#[test]
fn picow_fw_boots_into_the_plugged_firmware_and_gets_the_console() {
    let cfg = picow_protocol::DeviceConfig::new(
        picow_protocol::forms::WifiCredentials::parse("Home:12345678").unwrap(),
        picow_protocol::forms::ServerAddr::parse("127.0.0.1:10000").unwrap(),
        None,
    )
    .unwrap();
    let flash = fixture::picow_flash(Chip::Esp32c3, 4 << 20, Some(&cfg));
    let board = Board::start(Chip::Esp32c3, flash, true, Some(Arc::new(Echo)));
    let mut port = board.open();
    let out = read_until(&mut port, b"ssid=Home\r\n");
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("Loaded app from partition at offset 0x10000"),
        "{text}"
    );
    assert!(
        text.contains("echo-fw esp32c3 mac=7c:df:a1:51:00:01"),
        "{text}"
    );
    port.write_all(b"ping\n").unwrap();
    read_until(&mut port, b"echo:ping");
    assert_eq!(
        board.control("status").split(' ').nth(1),
        Some("mode=running")
    );
    // The firmware asks for a reboot: the board boots again, the firmware restarts.
    port.write_all(b"reboot\n").unwrap();
    let out = read_until(&mut port, b"ssid=Home\r\n");
    assert!(
        String::from_utf8_lossy(&out).contains("rst:0x15"),
        "a software reset"
    );
    // A reset into download mode stops the firmware: no more echo.
    assert_eq!(board.control("reset download"), "ok mode=download");
    read_until(&mut port, b"waiting for download");
    board.stop();
}

#[test]
fn picow_fw_without_a_firmware_behaviour_says_so() {
    let flash = fixture::picow_flash(Chip::Esp32s3, 8 << 20, None);
    let board = Board::start(Chip::Esp32s3, flash, false, None);
    let reply = board.control("reset run");
    assert!(
        reply.contains("no firmware behaviour plugged in"),
        "{reply}"
    );
    assert!(reply.contains("config invalid (erased)"), "{reply}");
    board.stop();
}

#[test]
fn baud_pacing_follows_change_baudrate() {
    use std::time::Instant;
    let board = Board::start_custom(
        Chip::Esp32s3,
        Flash::in_memory(8 << 20),
        false,
        None,
        picow_sim::Mac::DEFAULT,
        true,
    );
    let mut port = board.open();
    read_until(&mut port, b"waiting for download");
    let mut new_baud = 1200u32.to_le_bytes().to_vec();
    new_baud.extend(0u32.to_le_bytes());
    request(&mut port, op::CHANGE_BAUDRATE, &new_baud);
    assert_eq!(frames(&mut port, 1)[0][1], op::CHANGE_BAUDRATE);
    assert!(board.control("status").contains("baud=1200"));
    // 10 READ_REGs: 10 × (14 bytes in + 14 out) = 280 SLIP bytes = 2.33 s
    // at 1200 baud (about 3 ms without pacing). A lower bound, with slack
    // for timer rounding: load can only make it slower.
    let start = Instant::now();
    for _ in 0..10 {
        request(&mut port, op::READ_REG, &0x4000_1000u32.to_le_bytes());
        assert_eq!(frames(&mut port, 1).len(), 1);
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2200),
        "paced at 1200 baud, took {took:?}"
    );
    board.stop();
}

#[test]
fn tools_find_the_control_socket_from_the_port_alone() {
    use picow_sim::control::client::{control_socket_for, request};
    let board = Board::start(Chip::Esp32s3, Flash::in_memory(8 << 20), false, None);
    let pty = std::fs::read_link(&board.link).unwrap();
    // Next to the link, and through the registry for the pty itself.
    assert_eq!(control_socket_for(&board.link).unwrap(), board.control);
    let found = control_socket_for(&pty).expect("registered");
    assert_eq!(
        std::fs::canonicalize(&found).unwrap(),
        std::fs::canonicalize(&board.control).unwrap()
    );
    let reply = request(&found, "reset download", Duration::from_secs(10)).unwrap();
    assert_eq!(reply, "ok mode=download");
    assert_eq!(board.control("unplug"), "ok unplugged");
    assert_eq!(control_socket_for(&pty), None, "unregistered on unplug");
    // Not a virtual board at all.
    assert_eq!(control_socket_for(std::path::Path::new("/dev/null")), None);
    board.stop();
}

#[test]
fn a_dead_control_socket_is_not_a_board() {
    use picow_sim::control::client::control_socket_for;
    // A socket file nobody listens on any more (what SIGKILL leaves behind).
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("port.control");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    assert!(dead.exists());
    assert_eq!(control_socket_for(&dir.path().join("port")), None);
}

#[test]
fn an_explicit_control_socket_comes_first_and_a_dead_one_is_skipped() {
    use picow_sim::control::client::{command, find_control_socket};
    let board = Board::start(Chip::Esp32s3, Flash::in_memory(8 << 20), false, None);
    let nowhere = std::path::Path::new("/dev/null");
    // Named outright (monitor --sim-control): found for any port name.
    assert_eq!(
        find_control_socket(Some(&board.control), nowhere).as_deref(),
        Some(board.control.as_path())
    );
    // A dead explicit socket falls back to the port's own rule.
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.control");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    assert_eq!(
        find_control_socket(Some(&dead), &board.link).as_deref(),
        Some(board.control.as_path())
    );
    assert_eq!(find_control_socket(Some(&dead), nowhere), None);
    // `command` returns only `ok` replies; an error reply is an error.
    assert_eq!(
        command(&board.control, "reset download", Duration::from_secs(10)).unwrap(),
        "ok mode=download"
    );
    let e = command(&board.control, "bogus", Duration::from_secs(10)).unwrap_err();
    assert!(
        e.to_string().contains("answered `bogus` with: error"),
        "{e}"
    );
    board.stop();
}
