//! Test rig: the app on a host board, its console as parsed lines, and
//! helpers for servers on 127.0.0.1.
#![allow(dead_code)] // each test file uses a part

use std::time::Duration;

use picow_app::host::{
    flash_image, AccessPoint, HostBoard, HostConfig, HostHandle, HostMulticast, LedChange,
};
use picow_app::{run, AppInfo, Exit};
use picow_protocol::console::Event;
use picow_protocol::forms::{Server, WifiCredentials};
use picow_protocol::layout::LAYOUT_4MB;
use picow_protocol::DeviceConfig;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

pub const SSID: &str = "WalnutPi";
pub const PASSWORD: &str = "12345678";
pub const INFO: AppInfo = AppInfo {
    version: "9.8.7",
    chip: "host",
    mac: [0x7c, 0xdf, 0xa1, 0x00, 0x00, 0x42],
};

pub fn config(server: &str, name: Option<&str>) -> DeviceConfig {
    DeviceConfig::new(
        WifiCredentials::new(SSID, PASSWORD).unwrap(),
        Server::parse(server).unwrap(),
        name,
    )
    .unwrap()
}

/// One console line, with the board time at which the test saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at_ms: u64,
    pub line: String,
}

impl Seen {
    pub fn event(&self) -> Event<'_> {
        Event::parse(&self.line)
            .unwrap_or_else(|| panic!("not a picow line: {}", self.line))
            .unwrap_or_else(|e| panic!("bad picow line {:?}: {e}", self.line))
    }
    pub fn name(&self) -> &'static str {
        self.event().name()
    }
}

pub struct Rig {
    pub handle: HostHandle,
    pub console: UnboundedReceiver<String>,
    pub seen: Vec<Seen>,
    pub app: JoinHandle<Exit>,
}

/// Starts the app on a board with `flash`, and the access point in range
/// when `ap`. Must run inside a `LocalSet`.
pub fn start_with_flash(flash: Vec<u8>, ap: bool) -> Rig {
    start_board(flash, ap, None)
}

/// Starts the app on a board with `cfg`, the access point in range and
/// `multicast`.
pub fn start_multicast(cfg: &DeviceConfig, multicast: HostMulticast) -> Rig {
    start_board(flash_image(&LAYOUT_4MB, Some(cfg)), true, Some(multicast))
}

/// [`start_multicast`] for another board: its own MAC (in `info`) and the
/// address its join reports.
pub fn start_multicast_as(
    cfg: &DeviceConfig,
    multicast: HostMulticast,
    info: AppInfo,
    ip: std::net::Ipv4Addr,
) -> Rig {
    let mut host = HostConfig::new(flash_image(&LAYOUT_4MB, Some(cfg)));
    host.net.ip = ip.into();
    start_host(host, true, Some(multicast), info)
}

fn start_board(flash: Vec<u8>, ap: bool, multicast: Option<HostMulticast>) -> Rig {
    start_host(HostConfig::new(flash), ap, multicast, INFO)
}

fn start_host(host: HostConfig, ap: bool, multicast: Option<HostMulticast>, info: AppInfo) -> Rig {
    let board = HostBoard::new(HostConfig {
        access_point: ap.then(|| AccessPoint::new(SSID, PASSWORD)),
        multicast,
        ..host
    });
    let handle = board.handle();
    let console = handle.take_console().unwrap();
    let app = tokio::task::spawn_local(async move { run(&board, info).await });
    Rig {
        handle,
        console,
        seen: Vec::new(),
        app,
    }
}

pub fn start(cfg: Option<&DeviceConfig>, ap: bool) -> Rig {
    start_with_flash(flash_image(&LAYOUT_4MB, cfg), ap)
}

impl Rig {
    /// The next console line.
    pub async fn next(&mut self) -> Seen {
        let line = tokio::time::timeout(Duration::from_secs(600), self.console.recv())
            .await
            .expect("no console line for 600 s")
            .expect("console closed");
        let s = Seen {
            at_ms: self.handle.now_ms(),
            line,
        };
        self.seen.push(s.clone());
        s
    }

    /// Skips lines until the event `name`, and returns it.
    pub async fn expect(&mut self, name: &str) -> Seen {
        loop {
            let s = self.next().await;
            if Event::parse(&s.line).is_some() && s.name() == name {
                return s;
            }
        }
    }

    /// The event `name` if it was seen already, else the next one.
    pub async fn seen_or_expect(&mut self, name: &str) -> Seen {
        let seen = self
            .seen
            .iter()
            .find(|s| Event::parse(&s.line).is_some() && s.name() == name);
        match seen {
            Some(s) => s.clone(),
            None => self.expect(name).await,
        }
    }

    /// The next picow event, which must be `name`.
    pub async fn expect_next(&mut self, name: &str) -> Seen {
        loop {
            let s = self.next().await;
            if Event::parse(&s.line).is_none() {
                continue;
            }
            assert_eq!(s.name(), name, "unexpected line {:?}", s.line);
            return s;
        }
    }
}

/// Reads exactly `n` bytes, failing after 10 s (of tokio time).
pub async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf))
        .await
        .expect("timed out reading from the board")
        .expect("read from the board");
    buf
}

/// A numeric field of a console line.
pub fn field(line: &str, key: &str) -> String {
    let pat = format!(" {key}=");
    let i = line
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    let rest = &line[i + pat.len()..];
    rest.split(' ')
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string()
}

/// Asserts that `log` blinks with `pattern` (on first) from `from_ms`
/// until `until_ms`.
pub fn assert_pattern(log: &[LedChange], pattern: &[u32], from_ms: u64, until_ms: u64) {
    let window: Vec<_> = log
        .iter()
        .filter(|c| c.at_ms >= from_ms && c.at_ms < until_ms)
        .collect();
    assert!(window.len() >= 4, "too few LED changes: {log:?}");
    let mut t = window[0].at_ms;
    assert!(window[0].on, "pattern starts with on: {window:?}");
    for (i, c) in window.iter().enumerate() {
        assert_eq!(c.on, i % 2 == 0, "{window:?}");
        assert_eq!(c.at_ms, t, "change {i} at the wrong time: {window:?}");
        t += u64::from(pattern[i % pattern.len()]);
    }
}
