//! picow-fw's behaviour on the virtual board: the firmware's own app code
//! (picow-app on its host board) boots from the flashed image, joins the
//! virtual Wi-Fi and greets a real TCP server on loopback.
#![cfg(unix)] // picow-sim is Unix-only (ptys, Unix sockets)

use crate::common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use common::{read_until, Board};
use picow_protocol::forms::{ServerAddr, WifiCredentials};
use picow_protocol::layout::LAYOUT_4MB;
use picow_protocol::DeviceConfig;
use picow_sim::picow_fw::PicowFirmware;
use picow_sim::wifi::WifiTable;
use picow_sim::{fixture, Chip, Mac};

fn config(port: u16) -> DeviceConfig {
    DeviceConfig::new(
        WifiCredentials::parse("lab:password1").unwrap(),
        ServerAddr::parse(&format!("127.0.0.1:{port}")).unwrap(),
        Some("desk"),
    )
    .unwrap()
}

fn wifi() -> WifiTable {
    WifiTable::new(vec![
        WifiCredentials::parse("other:xxxxxxxx").unwrap(),
        WifiCredentials::parse("lab:password1").unwrap(),
    ])
}

fn start(flash: picow_sim::Flash) -> Board {
    Board::start_full(
        Chip::Esp32c3,
        flash,
        true,
        Some(Arc::new(PicowFirmware)),
        Mac::DEFAULT,
        false,
        wifi(),
    )
}

#[test]
fn booted_board_joins_the_virtual_wifi_and_greets_a_loopback_server() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let flash = fixture::picow_flash(Chip::Esp32c3, 4 << 20, Some(&config(port)));
    let board = start(flash);
    let mut console = board.open();
    let (mut conn, _) = server.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut greeting = vec![0u8; 64];
    let n = conn.read(&mut greeting).unwrap();
    let mut expected = [0u8; 64];
    let len = picow_protocol::session::greeting(Some("desk"), &mut expected).unwrap();
    assert_eq!(&greeting[..n], &expected[..len]);
    // The console shows the same story in picow's line format.
    let out = read_until(&mut console, b"@picow server-connected");
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("Loaded app from partition at offset 0x10000"),
        "{text}"
    );
    assert!(text.contains("@picow boot"), "{text}");
    assert!(text.contains("chip=\"esp32c3\""), "{text}");
    assert!(
        text.contains("@picow wifi-joined ip=\"10.42.1.2\""),
        "{text}"
    );
    assert!(!text.contains("password1"), "{text}");
    assert!(board.control("status").contains("mode=running"));
    drop(conn);
    board.stop();
}

#[test]
fn one_corrupted_config_byte_is_reported_instead() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let mut flash = fixture::picow_flash(Chip::Esp32c3, 4 << 20, Some(&config(port)));
    // Clear one bit in the SSID "lab" (NOR flash: programming can only clear bits).
    let at = LAYOUT_4MB.config().offset + picow_protocol::config::HEADER_LEN as u32 + 1;
    assert_eq!(flash.read(at, 1).unwrap(), b"l");
    flash.program(at, &[b'l' & !0x04]).unwrap();
    let board = start(flash);
    let mut console = board.open();
    let out = read_until(&mut console, b"@picow config-invalid");
    let text = String::from_utf8_lossy(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("@picow config-invalid"))
        .unwrap();
    assert!(line.contains("reason=\"crc\""), "{line}");
    server.set_nonblocking(true).unwrap();
    assert!(
        server.accept().is_err(),
        "no connection without a valid config"
    );
    board.stop();
}

#[test]
fn udp_config_sends_the_greeting_as_a_datagram() {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let cfg = DeviceConfig::new(
        WifiCredentials::parse("lab:password1").unwrap(),
        ServerAddr::parse(&format!("udp://127.0.0.1:{port}")).unwrap(),
        None,
    )
    .unwrap();
    let board = start(fixture::picow_flash(Chip::Esp32c3, 4 << 20, Some(&cfg)));
    let mut buf = [0u8; 64];
    let (n, _from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], picow_protocol::session::GREETING);
    board.stop();
}
