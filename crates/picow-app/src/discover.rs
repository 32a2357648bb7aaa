//! The app's side of multicast DNS: the task that owns the board's
//! multicast socket and drives [`Mdns`] for as long as Wi-Fi is up, and
//! [`App::find`], through which the server loop asks it for a server.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;
use core::net::{IpAddr, Ipv4Addr};

use embassy_futures::select::{select, select3, Either, Either3};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;
use heapless::String;
use picow_protocol::console::{Event, Text};
use picow_protocol::discovery::{self, MDNS_GROUP_V4, MDNS_PORT};
use picow_protocol::forms::HOST_MAX;
use picow_protocol::DeviceConfig;

use crate::app::{App, AppInfo};
use crate::board::{Board, Datagrams, NetError};
use crate::mdns::{Dest, Found, Identity, Mdns, Query, GROUP, PACKET_MAX};

/// How long to wait before opening the multicast socket again after it
/// failed (other than for want of multicast).
const REOPEN_MS: u64 = 1_000;

/// What the server loop and the mDNS task share.
#[derive(Default)]
pub(crate) struct MdnsLink {
    /// The responder and querier; `None` while Wi-Fi is down.
    core: RefCell<Option<Mdns>>,
    /// Wakes the task: the query changed.
    wake: Signal<NoopRawMutex, ()>,
    /// What the query found, or why nothing can be found.
    found: Signal<NoopRawMutex, Result<Found, &'static str>>,
    /// The board has no multicast (until the next join).
    unavailable: Cell<bool>,
    /// How long the last successful search took.
    pub(crate) searched_ms: Cell<u64>,
}

/// The identity a board advertises after joining with address `ip`, its
/// update listener on `ota_port`.
pub(crate) fn identity(cfg: &DeviceConfig, info: &AppInfo, ip: IpAddr, ota_port: u16) -> Identity {
    let default = discovery::default_board_name(info.mac);
    let name = cfg.name().unwrap_or(&default);
    let ip = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    let mut me = Identity::new(name, ip, info.chip, info.version, info.mac);
    me.port = ota_port;
    me
}

impl MdnsLink {
    /// A joined board: a responder for `me`.
    pub(crate) fn start(&self, me: Identity, now_ms: u64) {
        *self.core.borrow_mut() = Some(Mdns::new(me, now_ms));
        self.unavailable.set(false);
        self.found.reset();
    }

    /// Wi-Fi is down.
    pub(crate) fn stop(&self) {
        *self.core.borrow_mut() = None;
    }

    fn set_query(&self, query: Option<Query>, now_ms: u64, ask: bool) {
        if let Some(core) = self.core.borrow_mut().as_mut() {
            match query {
                Some(q) if !ask => core.set_listening(q, now_ms),
                q => core.set_query(q, now_ms),
            }
        }
        self.wake.signal(());
    }
}

impl<B: Board> App<'_, B> {
    /// Looks for `query` until found, or for `window_ms`: the error is the
    /// console reason (`no-multicast`, or `dns` when the window ended).
    /// With `ask` false it only listens for what others announce.
    pub(crate) async fn find(
        &self,
        query: Query,
        window_ms: Option<u32>,
        ask: bool,
    ) -> Result<Found, &'static str> {
        if self.mdns.unavailable.get() {
            return Err(NetError::NoMulticast.reason());
        }
        self.mdns.found.reset();
        self.mdns.set_query(Some(query), self.board.now_ms(), ask);
        let result = match window_ms {
            None => self.mdns.found.wait().await,
            Some(ms) => {
                match select(self.mdns.found.wait(), self.board.sleep_ms(ms.into())).await {
                    Either::First(r) => r,
                    Either::Second(()) => Err(NetError::Dns.reason()),
                }
            }
        };
        self.mdns.set_query(None, self.board.now_ms(), true);
        result
    }

    /// Owns the multicast socket while Wi-Fi is up: answers for the board,
    /// looks for what [`find`](Self::find) asked. Never returns.
    pub(crate) async fn mdns_task(&self) -> Infallible {
        loop {
            let mut buffers = B::Buffers::default();
            match self
                .board
                .multicast_open(MDNS_GROUP_V4, MDNS_PORT, &mut buffers)
                .await
            {
                Ok(sock) => self.mdns_serve(sock).await,
                Err(NetError::NoMulticast) => {
                    self.mdns.unavailable.set(true);
                    self.mdns.found.signal(Err(NetError::NoMulticast.reason()));
                    return core::future::pending().await;
                }
                Err(_) => {}
            }
            self.board.sleep_ms(REOPEN_MS).await;
        }
    }

    /// Prints `mdns-up` once the board has claimed its names (after its
    /// probes, RFC 6762 §8.1), with the name it took when its own was
    /// taken.
    fn tell_claimed(&self) {
        let mut line: String<{ crate::app::LINE_MAX }> = String::new();
        {
            let mut core = self.mdns.core.borrow_mut();
            let Some(core) = core.as_mut() else {
                return;
            };
            if !core.take_claimed() {
                return;
            }
            let me = core.identity();
            let mut host: String<HOST_MAX> = String::new();
            let _ = host.push_str(&me.host);
            let _ = host.push_str(".local");
            let event = Event::MdnsUp {
                host: Text::str(&host),
                instance: Text::str(&me.name),
                taken: core.taken().map(Text::str),
            };
            if event.write_line(&mut line).is_err() {
                return;
            }
        }
        // Written after the core is released.
        self.board.console_line(&line);
    }

    /// Runs the responder and querier on `sock` until a receive fails.
    async fn mdns_serve(&self, mut sock: impl Datagrams) {
        if self.mdns.core.borrow().is_none() {
            return;
        }
        let mut rx = [0u8; PACKET_MAX];
        let mut tx = [0u8; PACKET_MAX];
        loop {
            // Everything due now: announcements, queries, follow-ups.
            loop {
                let now = self.board.now_ms();
                let n = match self.mdns.core.borrow_mut().as_mut() {
                    Some(core) => core.poll_transmit(now, &mut tx),
                    None => return,
                };
                self.tell_claimed();
                let Some(n) = n else { break };
                // A lost datagram is like one lost on the air: the
                // schedule sends again.
                let _ = sock.send_to(&tx[..n], GROUP).await;
            }
            let now = self.board.now_ms();
            let wait = match self.mdns.core.borrow().as_ref() {
                Some(core) => core
                    .next_wakeup()
                    .map_or(u64::MAX, |t| t.saturating_sub(now)),
                None => return,
            };
            let timer = async {
                if wait == u64::MAX {
                    core::future::pending::<()>().await
                } else {
                    self.board.sleep_ms(wait).await
                }
            };
            match select3(sock.recv_from(&mut rx), timer, self.mdns.wake.wait()).await {
                Either3::First(Ok((len, from))) => {
                    let now = self.board.now_ms();
                    let (reply, found) = match self.mdns.core.borrow_mut().as_mut() {
                        Some(core) => {
                            let reply = core.handle(now, &rx[..len.min(rx.len())], from, &mut tx);
                            (reply, core.take_found())
                        }
                        None => return,
                    };
                    if let Some(found) = found {
                        self.mdns.found.signal(Ok(found));
                    }
                    self.tell_claimed();
                    if let Some((n, dest)) = reply {
                        let to = match dest {
                            Dest::Group => GROUP,
                            Dest::Unicast(peer) => peer,
                        };
                        let _ = sock.send_to(&tx[..n], to).await;
                    }
                }
                // Reopen the socket (after a pause: no busy loop).
                Either3::First(Err(_)) => return,
                Either3::Second(()) | Either3::Third(()) => {}
            }
        }
    }
}
