//! The board's behaviour: boot, Wi-Fi, server session, console.

use core::cell::Cell;
use core::convert::Infallible;
use core::fmt::Write as _;
use core::net::{IpAddr, SocketAddr};

use embassy_futures::select::{select, select3, Either, Either3};
use heapless::String;
use picow_protocol::config_partition;
use picow_protocol::console::{Command, Event, Text, UnknownCommand};
use picow_protocol::forms::{Discover, Host, Server, ServerAddr, HOST_MAX};
use picow_protocol::layout::{
    PartitionTable, TableError, CONFIG_LEN, PARTITION_TABLE_LEN, PARTITION_TABLE_OFFSET,
};
use picow_protocol::session::{greeting, Line, LineDecoder, ECHO_PREFIX};
use picow_protocol::{DeviceConfig, Transport};

use crate::board::{Board, Link, NetError, NetInfo};
use crate::discover::{self, MdnsLink};
use crate::mdns::{Found, Query};
use crate::ota::OtaState;
use crate::timing::*;
use crate::Backoff;

/// The console hint printed when there is no valid config.
pub const CONFIG_HINT: &str = "picow flash --wifi SSID:PASS --server HOST:PORT";

/// Longest console line the app writes (an `rx` line of a full chunk of
/// bytes that all need `\xNN` escapes fits).
pub const LINE_MAX: usize = 1024;

/// What the firmware tells the app about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppInfo {
    /// Firmware version, printed at boot and in `status`.
    pub version: &'static str,
    /// Chip name, e.g. `esp32s3`.
    pub chip: &'static str,
    /// The base MAC address (its TXT record on the LAN, and the default
    /// board name `picow-xxxxxx`).
    pub mac: [u8; 6],
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// The user typed `reboot`: the caller restarts the board.
    Reboot,
}

/// The Wi-Fi state shown by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WifiState {
    /// Not joined and not trying (no config, or waiting to retry).
    Down,
    /// A join attempt is running.
    Joining,
    /// Joined, with an address.
    Joined,
}

impl WifiState {
    /// The word used in the `status` line.
    pub fn as_str(self) -> &'static str {
        match self {
            WifiState::Down => "down",
            WifiState::Joining => "joining",
            WifiState::Joined => "joined",
        }
    }
}

/// The server state shown by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Not trying (no Wi-Fi).
    Idle,
    /// Looking for the server on the LAN (`--server auto`).
    Browsing,
    /// Resolving or connecting.
    Connecting,
    /// Connected and greeted.
    Connected,
    /// Waiting before the next attempt.
    Backoff,
}

impl ServerState {
    /// The word used in the `status` line.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Idle => "idle",
            ServerState::Browsing => "browsing",
            ServerState::Connecting => "connecting",
            ServerState::Connected => "connected",
            ServerState::Backoff => "backoff",
        }
    }
}

/// Runs the board until the user asks for a reboot.
///
/// Boot: reads the partition table and the config record from flash. With
/// no valid config it prints `config-invalid` with [`CONFIG_HINT`] and
/// shows the double-flash LED pattern until reboot. Otherwise it joins
/// Wi-Fi, connects to the server, greets it and echoes every chunk, for
/// ever, reconnecting with backoff. Console commands are answered in every
/// state.
///
/// Alongside, the board listens for updates over Wi-Fi (see `ota.rs`); an
/// image installed that way runs on trial until it greets its server.
pub async fn run<B: Board>(board: &B, info: AppInfo) -> Exit {
    let app = App {
        board,
        info,
        wifi: Cell::new(WifiState::Down),
        ip: Cell::new(None),
        server: Cell::new(ServerState::Idle),
        mdns: MdnsLink::default(),
        ota: OtaState::read(board).await,
    };
    app.emit(&Event::Boot {
        version: Text::str(app.info.version),
        chip: Text::str(app.info.chip),
        slot: app.ota.running_slot().map(u32::from),
    });
    if let Some(exit) = app.ota_boot().await {
        return exit;
    }
    let config = app.load_config().await;
    if let Ok(cfg) = &config {
        app.ota.set_password(cfg.ota_password().cloned());
    }
    match select3(app.main(config), app.console(), app.ota()).await {
        Either3::First(never) => match never {},
        Either3::Second(exit) | Either3::Third(exit) => exit,
    }
}

pub(crate) struct App<'a, B: Board> {
    pub(crate) board: &'a B,
    pub(crate) info: AppInfo,
    wifi: Cell<WifiState>,
    ip: Cell<Option<IpAddr>>,
    server: Cell<ServerState>,
    pub(crate) mdns: MdnsLink,
    pub(crate) ota: OtaState,
}

/// How a server session ended.
struct SessionEnd {
    reason: &'static str,
    /// Whether the server sent anything (a working session resets the
    /// backoff).
    had_data: bool,
}

/// The query of `--server auto` / `auto:NAME`.
fn browse(d: &Discover) -> Query {
    Query::Browse {
        service: d.service(),
        instance: d.instance.clone(),
    }
}

/// A session that ended before it began.
fn fail(reason: &'static str) -> SessionEnd {
    SessionEnd {
        reason,
        had_data: false,
    }
}

impl<B: Board> App<'_, B> {
    pub(crate) fn emit(&self, event: &Event<'_>) {
        let mut line: String<LINE_MAX> = String::new();
        if event.write_line(&mut line).is_ok() {
            self.board.console_line(&line);
        } else {
            // Cannot happen: every event's longest form fits LINE_MAX (an
            // `rx` line of RX_CHUNK bytes that all need `\xNN` is ~550
            // bytes). Never print half a line; say so outside the format.
            self.board
                .console_line("picow: console line too long, event dropped");
        }
    }

    async fn main(&self, config: Result<DeviceConfig, &'static str>) -> Infallible {
        match config {
            Ok(cfg) => self.with_config(&cfg).await,
            Err(reason) => {
                self.emit(&Event::ConfigInvalid {
                    reason: Text::str(reason),
                    hint: Text::str(CONFIG_HINT),
                });
                self.led_pattern(CONFIG_INVALID_PATTERN).await
            }
        }
    }

    /// Reads the partition table, finds the config partition and decodes
    /// the record; the error is the console reason.
    async fn load_config(&self) -> Result<DeviceConfig, &'static str> {
        let mut table = [0u8; PARTITION_TABLE_LEN];
        self.board
            .read_flash(PARTITION_TABLE_OFFSET, &mut table)
            .await
            .map_err(|_| "flash-read")?;
        let table = PartitionTable::parse(&table).map_err(|e| match e {
            TableError::Erased => "no-partition-table",
            _ => "partition-table",
        })?;
        let part = table.picow_config().ok_or("no-config-partition")?;
        // The partition is a log of records; the last valid one counts.
        let mut sector = [0u8; CONFIG_LEN as usize];
        let len = sector.len().min(part.size as usize);
        self.board
            .read_flash(part.offset, &mut sector[..len])
            .await
            .map_err(|_| "flash-read")?;
        config_partition::read(&sector[..len]).map_err(|e| e.reason())
    }

    async fn with_config(&self, cfg: &DeviceConfig) -> Infallible {
        let mut server: String<300> = String::new();
        let _ = write!(server, "{}", cfg.server());
        self.emit(&Event::ConfigOk {
            ssid: Text::str(cfg.ssid()),
            server: Text::str(&server),
            name: cfg.name().map(Text::str),
        });
        let mut backoff = Backoff::new(WIFI_BACKOFF_FIRST_MS, WIFI_BACKOFF_MAX_MS);
        let mut attempt = 1;
        loop {
            self.wifi.set(WifiState::Joining);
            self.emit(&Event::WifiJoining {
                ssid: Text::str(cfg.ssid()),
                attempt,
            });
            let joined =
                match select(self.join_window(cfg), self.led_pattern(JOINING_PATTERN)).await {
                    Either::First(j) => j,
                    Either::Second(never) => match never {},
                };
            match joined {
                Some(net) => {
                    self.board.set_led(true);
                    self.joined(&net);
                    backoff.reset();
                    attempt = 1;
                    self.mdns.start(
                        discover::identity(cfg, &self.info, net.ip, self.board.ota_port()),
                        self.board.now_ms(),
                    );
                    // The server loop and the mDNS responder never end by
                    // themselves; a lost link ends them.
                    let _ = select3(
                        self.server_loop(cfg, &server),
                        self.mdns_task(),
                        self.board.wifi_down(),
                    )
                    .await;
                    self.mdns.stop();
                    self.wifi.set(WifiState::Down);
                    self.ip.set(None);
                    self.server.set(ServerState::Idle);
                    self.emit(&Event::WifiLost);
                }
                None => {
                    let retry = backoff.next_ms();
                    self.board.set_led(false);
                    self.wifi.set(WifiState::Down);
                    self.emit(&Event::WifiTimeout {
                        after_ms: JOIN_TIMEOUT_MS,
                        retry_in_ms: retry,
                    });
                    self.board.sleep_ms(retry.into()).await;
                    attempt += 1;
                }
            }
        }
    }

    fn joined(&self, net: &NetInfo) {
        self.wifi.set(WifiState::Joined);
        self.ip.set(Some(net.ip));
        let mut ip: String<48> = String::new();
        let _ = write!(ip, "{}", net.ip);
        let mut gw: String<48> = String::new();
        if let Some(g) = net.gateway {
            let _ = write!(gw, "{g}");
        }
        self.emit(&Event::WifiJoined {
            ip: Text::str(&ip),
            gateway: Text::str(&gw),
            rssi: net.rssi,
        });
    }

    /// Join attempts for up to [`JOIN_TIMEOUT_MS`]; a failed attempt is
    /// retried after [`JOIN_RETRY_PAUSE_MS`] inside the window.
    async fn join_window(&self, cfg: &DeviceConfig) -> Option<NetInfo> {
        let tries = async {
            loop {
                match self.board.wifi_join(cfg.ssid(), cfg.password()).await {
                    Ok(net) => return net,
                    Err(_) => self.board.sleep_ms(JOIN_RETRY_PAUSE_MS.into()).await,
                }
            }
        };
        match select(tries, self.board.sleep_ms(JOIN_TIMEOUT_MS.into())).await {
            Either::First(net) => Some(net),
            Either::Second(()) => None,
        }
    }

    /// Shows `pattern` (alternating on/off durations, starting with on)
    /// for ever.
    async fn led_pattern(&self, pattern: &[u32]) -> Infallible {
        loop {
            for (i, &ms) in pattern.iter().enumerate() {
                self.board.set_led(i % 2 == 0);
                self.board.sleep_ms(ms.into()).await;
            }
        }
    }

    async fn server_loop(&self, cfg: &DeviceConfig, server: &str) -> Infallible {
        let mut backoff = Backoff::new(SERVER_BACKOFF_FIRST_MS, SERVER_BACKOFF_MAX_MS);
        let mut attempt = 1;
        // A server that announced itself during the last backoff.
        let mut early = None;
        loop {
            let end = match cfg.server() {
                Server::Addr(addr) => self.fixed(cfg, addr, server, attempt).await,
                Server::Discover(d) => self.discovered(cfg, d, attempt, early.take()).await,
            };
            if end.had_data {
                backoff.reset();
                attempt = 0;
            }
            let retry = backoff.next_ms();
            self.server.set(ServerState::Backoff);
            self.emit(&Event::ServerClosed {
                reason: Text::str(end.reason),
                retry_in_ms: retry,
            });
            match cfg.server() {
                // A server that starts (or moves) and announces itself
                // meanwhile ends the wait: it is where the board connects.
                Server::Discover(d) => {
                    let started = self.board.now_ms();
                    let listen = self.find(browse(d), None, false);
                    match select(self.board.sleep_ms(retry.into()), listen).await {
                        Either::First(()) => {}
                        Either::Second(Ok(found)) => {
                            let waited = self.board.now_ms().saturating_sub(started);
                            self.mdns.searched_ms.set(waited);
                            early = Some(found);
                        }
                        // No multicast: wait as with a fixed address.
                        Either::Second(Err(_)) => self.board.sleep_ms(retry.into()).await,
                    }
                }
                Server::Addr(_) => self.board.sleep_ms(retry.into()).await,
            }
            attempt += 1;
        }
    }

    /// One session with a configured address (a name is resolved first:
    /// by multicast DNS when it ends in `.local`).
    async fn fixed(
        &self,
        cfg: &DeviceConfig,
        addr: &ServerAddr,
        server: &str,
        attempt: u32,
    ) -> SessionEnd {
        self.server.set(ServerState::Connecting);
        self.emit(&Event::ServerConnecting {
            server: Text::str(server),
            attempt,
        });
        let ip = match &addr.host {
            Host::Ip(ip) => *ip,
            Host::Name(name) if addr.host.mdns_name().is_some() => {
                let mut host = String::new();
                let _ = host.push_str(name);
                let query = Query::Resolve {
                    host,
                    port: addr.port,
                };
                match self.look(query, Some(CONNECT_TIMEOUT_MS)).await {
                    Ok(found) => {
                        self.discovered_line(&found, addr.transport);
                        found.addr.ip()
                    }
                    Err(reason) => return fail(reason),
                }
            }
            Host::Name(name) => {
                match self
                    .timeout(CONNECT_TIMEOUT_MS, self.board.dns_lookup(name))
                    .await
                {
                    Ok(Ok(ip)) => ip,
                    Ok(Err(_)) | Err(_) => return fail(NetError::Dns.reason()),
                }
            }
        };
        self.connect(cfg, SocketAddr::new(ip, addr.port), server)
            .await
    }

    /// Browses for the server (unless it announced itself already:
    /// `early`), then one session with what answered.
    async fn discovered(
        &self,
        cfg: &DeviceConfig,
        d: &Discover,
        attempt: u32,
        early: Option<Found>,
    ) -> SessionEnd {
        self.server.set(ServerState::Browsing);
        self.emit(&Event::ServerBrowsing {
            service: Text::str(d.service()),
            instance: d.instance.as_deref().map(Text::str),
            attempt,
        });
        let found = match early {
            Some(f) => f,
            None => match self.look(browse(d), None).await {
                Ok(f) => f,
                Err(reason) => return fail(reason),
            },
        };
        let text = self.discovered_line(&found, d.transport);
        self.server.set(ServerState::Connecting);
        self.emit(&Event::ServerConnecting {
            server: Text::str(&text),
            attempt,
        });
        self.connect(cfg, found.addr, &text).await
    }

    /// Looks on the LAN, showing [`LOOKING_PATTERN`] on the LED meanwhile.
    async fn look(&self, query: Query, window_ms: Option<u32>) -> Result<Found, &'static str> {
        let started = self.board.now_ms();
        let found = match select(
            self.find(query, window_ms, true),
            self.led_pattern(LOOKING_PATTERN),
        )
        .await
        {
            Either::First(f) => f,
            Either::Second(never) => match never {},
        };
        self.board.set_led(true);
        // The search time, for the console line.
        self.mdns
            .searched_ms
            .set(self.board.now_ms().saturating_sub(started));
        found
    }

    /// Prints `server-discovered`; returns the server's canonical text.
    fn discovered_line(&self, found: &Found, transport: Transport) -> String<HOST_MAX> {
        // As `Server`'s canonical form (only IPv4 is ever found).
        let mut text: String<HOST_MAX> = String::new();
        let _ = write!(
            text,
            "{}://{}:{}",
            transport.as_str(),
            found.addr.ip(),
            found.addr.port()
        );
        let after = u32::try_from(self.mdns.searched_ms.get()).unwrap_or(u32::MAX);
        self.emit(&Event::ServerDiscovered {
            instance: found.instance.as_deref().map(Text::str),
            host: Text::str(&found.host),
            server: Text::str(&text),
            after_ms: after,
        });
        text
    }

    async fn connect(&self, cfg: &DeviceConfig, sock: SocketAddr, server: &str) -> SessionEnd {
        let mut buffers = B::Buffers::default();
        match cfg.server().transport() {
            Transport::Tcp => {
                let c = self.board.tcp_connect(sock, &mut buffers);
                match self.timeout(CONNECT_TIMEOUT_MS, c).await {
                    Ok(Ok(link)) => self.talk(cfg, server, link).await,
                    Ok(Err(e)) | Err(e) => fail(e.reason()),
                }
            }
            Transport::Udp => {
                let c = self.board.udp_connect(sock, &mut buffers);
                match self.timeout(CONNECT_TIMEOUT_MS, c).await {
                    Ok(Ok(link)) => self.talk(cfg, server, link).await,
                    Ok(Err(e)) | Err(e) => fail(e.reason()),
                }
            }
        }
    }

    async fn timeout<T>(
        &self,
        ms: u32,
        fut: impl core::future::Future<Output = T>,
    ) -> Result<T, NetError> {
        match select(fut, self.board.sleep_ms(ms.into())).await {
            Either::First(t) => Ok(t),
            Either::Second(()) => Err(NetError::Timeout),
        }
    }

    /// Greets, then echoes every chunk until the link ends.
    async fn talk(&self, cfg: &DeviceConfig, server: &str, mut link: impl Link) -> SessionEnd {
        let mut buf = [0u8; ECHO_PREFIX.len() + RX_CHUNK];
        let n = greeting(cfg.name(), &mut buf).unwrap_or(0);
        if let Err(e) = link.write(&buf[..n]).await {
            return SessionEnd {
                reason: e.reason(),
                had_data: false,
            };
        }
        self.server.set(ServerState::Connected);
        self.emit(&Event::ServerConnected {
            server: Text::str(server),
        });
        // Joined Wi-Fi and greeted the server: an image on trial has proved itself.
        self.ota_confirm("server").await;
        let mut had_data = false;
        let end = |reason, had_data| SessionEnd { reason, had_data };
        loop {
            let n = match link.read(&mut buf[ECHO_PREFIX.len()..]).await {
                // TCP: the server closed the connection. (The tutorial's
                // client missed this and kept writing to a dead socket.)
                Ok(0) if cfg.server().transport() == Transport::Tcp => {
                    return end("closed", had_data)
                }
                Ok(n) => n,
                Err(e) => return end(e.reason(), had_data),
            };
            had_data = true;
            let data = &buf[ECHO_PREFIX.len()..ECHO_PREFIX.len() + n];
            self.emit(&Event::Received {
                len: n as u32,
                data: Text::Raw(data),
            });
            buf[..ECHO_PREFIX.len()].copy_from_slice(ECHO_PREFIX);
            if let Err(e) = link.write(&buf[..ECHO_PREFIX.len() + n]).await {
                return end(e.reason(), had_data);
            }
        }
    }

    /// Reads console input for ever and answers commands; returns when
    /// the user asks for a reboot.
    async fn console(&self) -> Exit {
        let mut decoder = LineDecoder::<CONSOLE_LINE_MAX>::new();
        let mut buf = [0u8; 64];
        loop {
            let n = self.board.console_read(&mut buf).await;
            if n == 0 {
                // The input is gone (host: stdin closed): stop reading
                // rather than spin.
                return core::future::pending().await;
            }
            let mut exit = None;
            decoder.feed(&buf[..n], |line| {
                let (text, parsed) = match line {
                    Line::Complete(l) => (l, Command::parse(l)),
                    Line::Truncated(l) => (l, Err(UnknownCommand)),
                };
                match parsed {
                    Ok(None) => {}
                    Ok(Some(Command::Status)) => self.status(),
                    Ok(Some(Command::Help)) => self.board.console_line(Command::HELP),
                    Ok(Some(Command::Reboot)) => exit = Some(Exit::Reboot),
                    Err(UnknownCommand) => self.emit(&Event::CommandError {
                        input: Text::Raw(text.trim_ascii()),
                        hint: Text::str(Command::HELP),
                    }),
                }
            });
            if let Some(e) = exit {
                return e;
            }
        }
    }

    fn status(&self) {
        let mut ip: String<48> = String::new();
        if let Some(a) = self.ip.get() {
            let _ = write!(ip, "{a}");
        }
        self.emit(&Event::Status {
            wifi: Text::str(self.wifi.get().as_str()),
            ip: Text::str(&ip),
            server: Text::str(self.server.get().as_str()),
            uptime_ms: self.board.now_ms(),
            version: Text::str(self.info.version),
            slot: self.ota.running_slot().map(u32::from),
        });
    }
}
