//! A board on the host, on tokio: real TCP/UDP sockets, a simulated Wi-Fi
//! access point, a flash image in memory, and channels for the console and
//! the LED. The tests use it, and so does the virtual board (`picow sim`).
//!
//! Create the board inside a tokio runtime (its clock is tokio's, so
//! `tokio::time::pause` makes the app's timing virtual) and run
//! [`crate::run`] on a current-thread runtime or a `LocalSet`: the app's
//! future is not `Send`.
//!
//! ```no_run
//! # async fn demo() {
//! use picow_app::host::{flash_image, AccessPoint, HostBoard, HostConfig};
//! use picow_protocol::{forms::{ServerAddr, WifiCredentials}, layout::LAYOUT_4MB, DeviceConfig};
//! let cfg = DeviceConfig::new(
//!     WifiCredentials::parse("lab:password1").unwrap(),
//!     ServerAddr::parse("127.0.0.1:10000").unwrap(),
//!     None,
//! ).unwrap();
//! let board = HostBoard::new(HostConfig {
//!     access_point: Some(AccessPoint::new("lab", "password1")),
//!     ..HostConfig::new(flash_image(&LAYOUT_4MB, Some(&cfg)))
//! });
//! let mut console = board.handle().take_console().unwrap();
//! let info = picow_app::AppInfo { version: "0.1.0", chip: "host", mac: [2, 0, 0, 0, 0, 1] };
//! tokio::task::LocalSet::new().run_until(async {
//!     tokio::task::spawn_local(async move { picow_app::run(&board, info).await });
//!     while let Some(line) = console.recv().await {
//!         println!("{line}");
//!     }
//! }).await;
//! # }
//! ```

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use picow_protocol::layout::{Layout, PARTITION_TABLE_OFFSET};
use picow_protocol::DeviceConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::time::{Duration, Instant};

use crate::board::{Board, Datagrams, FlashError, Link, NetError, NetInfo, WifiError};

/// How long a join attempt takes when no access point has the SSID.
pub const NOT_FOUND_MS: u64 = 3_000;

/// A simulated Wi-Fi access point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPoint {
    /// Its network name.
    pub ssid: String,
    /// Its password (empty: open network).
    pub password: String,
}

impl AccessPoint {
    /// The access point a config names (what a virtual board joins).
    pub fn for_config(config: &DeviceConfig) -> AccessPoint {
        AccessPoint::new(config.ssid(), config.password())
    }

    /// An access point.
    pub fn new(ssid: &str, password: &str) -> AccessPoint {
        AccessPoint {
            ssid: ssid.into(),
            password: password.into(),
        }
    }
}

/// Flash the host board reads and writes instead of its own copy of
/// [`HostConfig::flash`] (the virtual board plugs its flash file in here).
/// NOR semantics: programming ANDs bits, erasing sets 4 KiB sectors to `0xFF`.
pub trait HostFlash: Send + Sync + std::fmt::Debug {
    /// Reads `buf.len()` bytes at `offset`; false when out of range.
    fn read(&self, offset: u32, buf: &mut [u8]) -> bool;
    /// Programs `data` at `offset` (AND with what is there); false on error.
    fn program(&self, offset: u32, data: &[u8]) -> bool;
    /// Erases the sectors of `offset .. offset + len`; false on error.
    fn erase(&self, offset: u32, len: u32) -> bool;
}

/// Flash kept in memory, with NOR semantics.
#[derive(Debug)]
pub struct MemFlash(Mutex<Vec<u8>>);

impl MemFlash {
    /// Flash holding `contents`.
    pub fn new(contents: Vec<u8>) -> MemFlash {
        MemFlash(Mutex::new(contents))
    }

    /// A copy of the contents.
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().expect("not poisoned").clone()
    }

    fn replace(&self, contents: Vec<u8>) {
        *self.0.lock().expect("not poisoned") = contents;
    }
}

impl HostFlash for MemFlash {
    fn read(&self, offset: u32, buf: &mut [u8]) -> bool {
        let f = self.0.lock().expect("not poisoned");
        let start = offset as usize;
        match f.get(start..start + buf.len()) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }

    fn program(&self, offset: u32, data: &[u8]) -> bool {
        let mut f = self.0.lock().expect("not poisoned");
        let start = offset as usize;
        match f.get_mut(start..start + data.len()) {
            Some(dst) => {
                dst.iter_mut().zip(data).for_each(|(d, s)| *d &= s);
                true
            }
            None => false,
        }
    }

    fn erase(&self, offset: u32, len: u32) -> bool {
        let mut f = self.0.lock().expect("not poisoned");
        let start = (offset / 0x1000 * 0x1000) as usize;
        let end = (offset as usize + len as usize).div_ceil(0x1000) * 0x1000;
        match f.get_mut(start..end) {
            Some(dst) => {
                dst.fill(0xFF);
                true
            }
            None => false,
        }
    }
}

/// How the host board starts.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The flash contents (see [`flash_image`]), unless
    /// [`HostConfig::flash_backend`] is given.
    pub flash: Vec<u8>,
    /// Flash shared with its owner (the virtual board's file); when given,
    /// [`HostConfig::flash`] is not used.
    pub flash_backend: Option<Arc<dyn HostFlash>>,
    /// The offset of the app partition "the bootloader loaded".
    pub running_app: Option<u32>,
    /// Where [`Board::tcp_accept`] takes connections, whatever port it is
    /// asked for (the virtual board's `--ota-port` on 127.0.0.1); without
    /// it `tcp_accept` waits for ever.
    pub tcp_listener: Option<Arc<std::net::TcpListener>>,
    /// The access point in range, if any.
    pub access_point: Option<AccessPoint>,
    /// What a successful join reports.
    pub net: NetInfo,
    /// How long a successful join takes.
    pub join_ms: u64,
    /// Multicast (for mDNS), or none: then
    /// [`Board::multicast_open`] fails with [`NetError::NoMulticast`].
    pub multicast: Option<HostMulticast>,
}

impl HostConfig {
    /// No access point in range; a join takes 500 ms and reports
    /// 127.0.0.1 with RSSI -50 dBm; no multicast.
    pub fn new(flash: Vec<u8>) -> HostConfig {
        HostConfig {
            flash,
            access_point: None,
            net: NetInfo {
                ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                gateway: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                rssi: -50,
            },
            join_ms: 500,
            multicast: None,
            flash_backend: None,
            running_app: None,
            tcp_listener: None,
        }
    }
}

/// Where the host board's multicast goes: real sockets that join the group
/// on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostMulticast {
    /// The address of the interface that joins the group and sends (the
    /// board's own address: see [`multicast_interface`]).
    pub interface: Ipv4Addr,
    /// A port used instead of the one the app asks for (5353), in both
    /// directions: tests on 127.0.0.1 take a port of their own so that
    /// tests running at the same time do not hear each other. `None`: the
    /// app's port.
    pub port: Option<u16>,
}

/// The address from which this host sends to the mDNS group: the address
/// of the interface its multicast route goes through (in a network
/// namespace with a veth pair, the veth's). Nothing is sent to find out.
pub fn multicast_interface() -> io::Result<Ipv4Addr> {
    let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    probe.connect((picow_protocol::discovery::MDNS_GROUP_V4, 5353))?;
    match probe.local_addr()? {
        SocketAddr::V4(a) if !a.ip().is_unspecified() => Ok(*a.ip()),
        _ => Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "no IPv4 address to send multicast from",
        )),
    }
}

/// A flash image of `layout`'s size: erased, with the binary partition
/// table at 0x8000 and, when given, the config record at the start of the
/// config partition (what `picow flash` writes).
pub fn flash_image(layout: &Layout, config: Option<&DeviceConfig>) -> Vec<u8> {
    let mut flash = vec![0xFF; layout.flash_size as usize];
    let table = layout.to_binary();
    let t = PARTITION_TABLE_OFFSET as usize;
    flash[t..t + table.len()].copy_from_slice(&table);
    if let Some(cfg) = config {
        let c = layout.config().offset as usize;
        let n = cfg.encoded_len();
        cfg.encode(&mut flash[c..c + n])
            .expect("the config partition holds any record");
    }
    flash
}

/// One LED change: milliseconds since boot and the new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedChange {
    /// When, in milliseconds since the board was created.
    pub at_ms: u64,
    /// On or off.
    pub on: bool,
}

struct Shared {
    start: Mutex<Instant>,
    flash: Arc<dyn HostFlash>,
    mem_flash: Option<Arc<MemFlash>>,
    running_app: Option<u32>,
    tcp_listener: Option<Arc<std::net::TcpListener>>,
    #[allow(clippy::type_complexity)] // the listener, and test connections
    accept: tokio::sync::Mutex<(
        Option<tokio::net::TcpListener>,
        mpsc::UnboundedReceiver<(tokio::io::DuplexStream, SocketAddr)>,
    )>,
    connect_tx: mpsc::UnboundedSender<(tokio::io::DuplexStream, SocketAddr)>,
    connections: AtomicU32,
    access_point: watch::Sender<Option<AccessPoint>>,
    link_up: watch::Sender<bool>,
    net: NetInfo,
    join_ms: u64,
    multicast: Option<HostMulticast>,
    led: watch::Sender<bool>,
    led_log: Mutex<Vec<LedChange>>,
    console_tx: mpsc::UnboundedSender<String>,
    console_rx: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    input_tx: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    input: tokio::sync::Mutex<(mpsc::UnboundedReceiver<Vec<u8>>, VecDeque<u8>)>,
    wifi_joins: AtomicU32,
    connects: AtomicU32,
    multicast_received: Arc<AtomicU32>,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.start
            .lock()
            .expect("not poisoned")
            .elapsed()
            .as_millis() as u64
    }
}

/// The host board. Cheap to create; see [`HostBoard::handle`] for the
/// controls a test or the virtual board uses.
pub struct HostBoard {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HostBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBoard").finish_non_exhaustive()
    }
}

/// Controls and observations of a [`HostBoard`] from outside the app.
#[derive(Clone)]
pub struct HostHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostHandle").finish_non_exhaustive()
    }
}

impl HostBoard {
    /// A board; must be called inside a tokio runtime.
    pub fn new(config: HostConfig) -> HostBoard {
        let (console_tx, console_rx) = mpsc::unbounded_channel();
        let (input_tx, input_rx) = mpsc::unbounded_channel();
        let (connect_tx, connect_rx) = mpsc::unbounded_channel();
        let (flash, mem_flash): (Arc<dyn HostFlash>, _) = match config.flash_backend {
            Some(f) => (f, None),
            None => {
                let m = Arc::new(MemFlash::new(config.flash));
                (m.clone(), Some(m))
            }
        };
        HostBoard {
            shared: Arc::new(Shared {
                start: Mutex::new(Instant::now()),
                flash,
                mem_flash,
                running_app: config.running_app,
                tcp_listener: config.tcp_listener,
                accept: tokio::sync::Mutex::new((None, connect_rx)),
                connect_tx,
                connections: AtomicU32::new(0),
                access_point: watch::Sender::new(config.access_point),
                link_up: watch::Sender::new(false),
                net: config.net,
                join_ms: config.join_ms,
                multicast: config.multicast,
                led: watch::Sender::new(false),
                led_log: Mutex::new(Vec::new()),
                console_tx,
                console_rx: Mutex::new(Some(console_rx)),
                input_tx: Mutex::new(Some(input_tx)),
                input: tokio::sync::Mutex::new((input_rx, VecDeque::new())),
                wifi_joins: AtomicU32::new(0),
                connects: AtomicU32::new(0),
                multicast_received: Arc::new(AtomicU32::new(0)),
            }),
        }
    }

    /// What a reset does to the hardware: the Wi-Fi link drops, the LED
    /// goes off and the clock starts again at 0. Call it when
    /// [`crate::run`] returned [`crate::Exit::Reboot`], then run the app
    /// again on the same board (flash, console and access point stay).
    pub fn reset(&self) {
        let s = &self.shared;
        s.link_up.send_replace(false);
        *s.start.lock().expect("not poisoned") = Instant::now();
        self.set_led_level(false);
    }

    fn set_led_level(&self, on: bool) {
        let s = &self.shared;
        if s.led.send_replace(on) != on || s.led_log.lock().expect("not poisoned").is_empty() {
            s.led_log.lock().expect("not poisoned").push(LedChange {
                at_ms: s.now_ms(),
                on,
            });
        }
    }

    /// The controls of this board.
    pub fn handle(&self) -> HostHandle {
        HostHandle {
            shared: self.shared.clone(),
        }
    }
}

impl HostHandle {
    /// The console output, one line per item, without line endings. Can be
    /// taken once.
    pub fn take_console(&self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.shared.console_rx.lock().expect("not poisoned").take()
    }

    /// Types bytes on the console.
    pub fn type_input(&self, bytes: &[u8]) {
        if let Some(tx) = &*self.shared.input_tx.lock().expect("not poisoned") {
            let _ = tx.send(bytes.to_vec());
        }
    }

    /// Closes the console input (the app stops reading it).
    pub fn close_input(&self) {
        self.shared.input_tx.lock().expect("not poisoned").take();
    }

    /// Puts an access point in range, or none.
    pub fn set_access_point(&self, ap: Option<AccessPoint>) {
        self.shared.access_point.send_replace(ap);
    }

    /// Drops the Wi-Fi link (the access point stays in range, so the board
    /// can join again).
    pub fn drop_link(&self) {
        self.shared.link_up.send_replace(false);
    }

    /// Whether the Wi-Fi link is up.
    pub fn link_up(&self) -> bool {
        *self.shared.link_up.borrow()
    }

    /// The LED's state now.
    pub fn led(&self) -> bool {
        *self.shared.led.borrow()
    }

    /// Waits for LED changes.
    pub fn watch_led(&self) -> watch::Receiver<bool> {
        self.shared.led.subscribe()
    }

    /// Every LED change so far.
    pub fn led_log(&self) -> Vec<LedChange> {
        self.shared.led_log.lock().expect("not poisoned").clone()
    }

    /// Milliseconds since the board was created (tokio's clock).
    pub fn now_ms(&self) -> u64 {
        self.shared.now_ms()
    }

    /// Join attempts so far.
    pub fn wifi_joins(&self) -> u32 {
        self.shared.wifi_joins.load(Ordering::Relaxed)
    }

    /// TCP and UDP connection attempts so far.
    pub fn connects(&self) -> u32 {
        self.shared.connects.load(Ordering::Relaxed)
    }

    /// Datagrams the app read from its multicast socket so far.
    pub fn multicast_received(&self) -> u32 {
        self.shared.multicast_received.load(Ordering::Relaxed)
    }

    /// Replaces the flash contents (what a re-flash does; the app reads the
    /// config at boot). Only for the board's own in-memory flash.
    pub fn set_flash(&self, flash: Vec<u8>) {
        if let Some(m) = &self.shared.mem_flash {
            m.replace(flash);
        }
    }

    /// Opens an in-memory TCP connection to the board's listener
    /// ([`Board::tcp_accept`]): what a client on the LAN would get, without
    /// a kernel in between (tests on a paused clock use it).
    pub fn connect_tcp(&self) -> tokio::io::DuplexStream {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let n = self.shared.connections.fetch_add(1, Ordering::Relaxed);
        let peer = SocketAddr::from(([192, 0, 2, 1], 40_000 + (n % 20_000) as u16));
        let _ = self.shared.connect_tx.send((theirs, peer));
        ours
    }

    /// The flash contents now (of the board's own in-memory flash; empty
    /// with a [`HostConfig::flash_backend`]).
    pub fn flash(&self) -> Vec<u8> {
        self.shared
            .mem_flash
            .as_ref()
            .map(|m| m.contents())
            .unwrap_or_default()
    }
}

fn net_error(e: &io::Error) -> NetError {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => NetError::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            NetError::Reset
        }
        K::TimedOut => NetError::Timeout,
        K::NetworkUnreachable | K::HostUnreachable | K::AddrNotAvailable => NetError::Unreachable,
        _ => NetError::Other,
    }
}

/// A TCP connection of the host board, or an in-memory one that a test
/// opened with [`HostHandle::connect_tcp`].
#[derive(Debug)]
pub enum HostTcp {
    /// A real socket.
    Tcp(TcpStream),
    /// An in-memory stream (no kernel in between, so that tests on a paused
    /// clock never see a time-out race the delivery of bytes).
    Mem(tokio::io::DuplexStream),
}

impl Link for HostTcp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        match self {
            HostTcp::Tcp(s) => s.read(buf).await,
            HostTcp::Mem(s) => s.read(buf).await,
        }
        .map_err(|e| net_error(&e))
    }
    async fn write(&mut self, buf: &[u8]) -> Result<(), NetError> {
        match self {
            HostTcp::Tcp(s) => s.write_all(buf).await,
            HostTcp::Mem(s) => s.write_all(buf).await,
        }
        .map_err(|e| net_error(&e))
    }
}

/// A connected UDP socket of the host board.
#[derive(Debug)]
pub struct HostUdp(UdpSocket);

impl Link for HostUdp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        self.0.recv(buf).await.map_err(|e| net_error(&e))
    }
    async fn write(&mut self, buf: &[u8]) -> Result<(), NetError> {
        self.0
            .send(buf)
            .await
            .map(|_| ())
            .map_err(|e| net_error(&e))
    }
}

/// The multicast socket of the host board.
#[derive(Debug)]
pub struct HostMulticastSocket {
    socket: UdpSocket,
    /// The app's port and the one used instead, when they differ.
    ports: (u16, u16),
    received: Arc<AtomicU32>,
}

impl Datagrams for HostMulticastSocket {
    async fn recv_from(&mut self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        let (n, mut from) = self
            .socket
            .recv_from(buf)
            .await
            .map_err(|e| net_error(&e))?;
        self.received.fetch_add(1, Ordering::Relaxed);
        if from.port() == self.ports.1 {
            from.set_port(self.ports.0);
        }
        Ok((n, from))
    }

    async fn send_to(&mut self, buf: &[u8], mut to: SocketAddr) -> Result<(), NetError> {
        if to.port() == self.ports.0 {
            to.set_port(self.ports.1);
        }
        self.socket
            .send_to(buf, to)
            .await
            .map(|_| ())
            .map_err(|e| net_error(&e))
    }
}

/// A non-blocking UDP socket as the host board's multicast DNS uses it:
/// bound to `port` on every address with address and port reuse (beside a
/// system responder and other boards), `group` joined on `interface`, sending
/// from `interface` with TTL 255 and loopback on. Tests use it for their
/// peers.
pub fn open_multicast(
    group: Ipv4Addr,
    port: u16,
    interface: Ipv4Addr,
) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Beside a system responder (Avahi, Bonjour) and other boards.
    s.set_reuse_address(true)?;
    #[cfg(unix)]
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())?;
    s.join_multicast_v4(&group, &interface)?;
    s.set_multicast_if_v4(&interface)?;
    s.set_multicast_ttl_v4(255)?;
    s.set_multicast_loop_v4(true)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

impl Board for HostBoard {
    type Buffers = ();
    type Tcp<'b> = HostTcp;
    type Udp<'b> = HostUdp;
    type Multicast<'b> = HostMulticastSocket;

    fn set_led(&self, on: bool) {
        self.set_led_level(on);
    }

    fn now_ms(&self) -> u64 {
        self.shared.now_ms()
    }

    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    fn console_line(&self, line: &str) {
        let _ = self.shared.console_tx.send(line.to_owned());
    }

    async fn console_read(&self, buf: &mut [u8]) -> usize {
        let mut guard = self.shared.input.lock().await;
        let (rx, pending) = &mut *guard;
        if pending.is_empty() {
            match rx.recv().await {
                Some(bytes) => pending.extend(bytes),
                None => return 0,
            }
        }
        let n = buf.len().min(pending.len());
        for (dst, src) in buf.iter_mut().zip(pending.drain(..n)) {
            *dst = src;
        }
        n
    }

    async fn read_flash(&self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.shared
            .flash
            .read(offset, buf)
            .then_some(())
            .ok_or(FlashError)
    }

    async fn erase_flash(&self, offset: u32, len: u32) -> Result<(), FlashError> {
        if !offset.is_multiple_of(0x1000) || !len.is_multiple_of(0x1000) {
            return Err(FlashError);
        }
        self.shared
            .flash
            .erase(offset, len)
            .then_some(())
            .ok_or(FlashError)
    }

    async fn write_flash(&self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        if !offset.is_multiple_of(4) || !data.len().is_multiple_of(4) {
            return Err(FlashError);
        }
        self.shared
            .flash
            .program(offset, data)
            .then_some(())
            .ok_or(FlashError)
    }

    fn running_app(&self) -> Option<u32> {
        self.shared.running_app
    }

    fn random(&self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // No system randomness: a nonce from the clock is still a
            // different challenge every time.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (t >> ((i % 16) * 8)) as u8 ^ i as u8;
            }
        }
    }

    fn ota_port(&self) -> u16 {
        self.shared
            .tcp_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or(picow_protocol::ota::wire::PORT, |a| a.port())
    }

    async fn tcp_accept<'b>(
        &'b self,
        _port: u16,
        _buffers: &'b mut (),
    ) -> Result<(HostTcp, SocketAddr), NetError> {
        let mut guard = self.shared.accept.lock().await;
        let (listener, mem) = &mut *guard;
        if listener.is_none() {
            if let Some(std_listener) = &self.shared.tcp_listener {
                let l = std_listener.try_clone().map_err(|e| net_error(&e))?;
                l.set_nonblocking(true).map_err(|e| net_error(&e))?;
                *listener = Some(tokio::net::TcpListener::from_std(l).map_err(|e| net_error(&e))?);
            }
        }
        let real = async {
            match listener.as_ref() {
                Some(l) => l.accept().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = real => {
                let (s, peer) = r.map_err(|e| net_error(&e))?;
                let _ = s.set_nodelay(true);
                Ok((HostTcp::Tcp(s), peer))
            }
            Some((s, peer)) = mem.recv() => Ok((HostTcp::Mem(s), peer)),
        }
    }

    async fn wifi_join(&self, ssid: &str, password: &str) -> Result<NetInfo, WifiError> {
        let s = &self.shared;
        s.wifi_joins.fetch_add(1, Ordering::Relaxed);
        let ap = s.access_point.borrow().clone();
        match ap {
            Some(ap) if ap.ssid == ssid => {
                tokio::time::sleep(Duration::from_millis(s.join_ms)).await;
                if ap.password != password {
                    return Err(WifiError::AuthFailed);
                }
                s.link_up.send_replace(true);
                Ok(s.net)
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(NOT_FOUND_MS)).await;
                Err(WifiError::NotFound)
            }
        }
    }

    async fn wifi_down(&self) {
        let mut rx = self.shared.link_up.subscribe();
        let _ = rx.wait_for(|up| !*up).await;
    }

    async fn dns_lookup(&self, host: &str) -> Result<IpAddr, NetError> {
        if !*self.shared.link_up.borrow() {
            return Err(NetError::Unreachable);
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|_| NetError::Dns)?
            .collect();
        // Like the chip's resolver, prefer an IPv4 answer.
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .map(|a| a.ip())
            .ok_or(NetError::Dns)
    }

    async fn tcp_connect<'b>(
        &'b self,
        addr: SocketAddr,
        _buffers: &'b mut (),
    ) -> Result<HostTcp, NetError> {
        self.shared.connects.fetch_add(1, Ordering::Relaxed);
        if !*self.shared.link_up.borrow() {
            return Err(NetError::Unreachable);
        }
        let s = TcpStream::connect(addr).await.map_err(|e| net_error(&e))?;
        let _ = s.set_nodelay(true);
        Ok(HostTcp::Tcp(s))
    }

    async fn udp_connect<'b>(
        &'b self,
        addr: SocketAddr,
        _buffers: &'b mut (),
    ) -> Result<HostUdp, NetError> {
        self.shared.connects.fetch_add(1, Ordering::Relaxed);
        if !*self.shared.link_up.borrow() {
            return Err(NetError::Unreachable);
        }
        let local: SocketAddr = if addr.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let s = UdpSocket::bind(local).await.map_err(|e| net_error(&e))?;
        s.connect(addr).await.map_err(|e| net_error(&e))?;
        Ok(HostUdp(s))
    }

    async fn multicast_open<'b>(
        &'b self,
        group: Ipv4Addr,
        port: u16,
        _buffers: &'b mut (),
    ) -> Result<HostMulticastSocket, NetError> {
        let Some(mc) = self.shared.multicast else {
            return Err(NetError::NoMulticast);
        };
        if !*self.shared.link_up.borrow() {
            return Err(NetError::Unreachable);
        }
        let real = mc.port.unwrap_or(port);
        let socket = open_multicast(group, real, mc.interface)
            .and_then(UdpSocket::from_std)
            .map_err(|e| net_error(&e))?;
        Ok(HostMulticastSocket {
            socket,
            ports: (port, real),
            received: self.shared.multicast_received.clone(),
        })
    }
}
