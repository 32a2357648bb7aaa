//! The serve engine: accepts clients, reads and writes their bytes, and turns
//! everything that happens into [`Event`]s for the [`Observer`]s (the
//! printers, the log, the terminal view).
//!
//! It takes its listener, its control channel and its shutdown future as
//! arguments, so tests run it in-process on `127.0.0.1:0`.
//!
//! Architecture invariant: an idle client costs no read buffer. Each client
//! task waits for readiness and reads with `try_read` into one buffer per
//! worker thread; what it holds between reads is its socket, a small shared
//! outgoing queue and a few counters. A client's outgoing queue is bounded
//! (`max_queue`): a client that stops reading is dropped, never buffered
//! without limit, and never delays the others.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use picow_protocol::session::{GreetingMatcher, PeerKind};
use picow_protocol::Transport;
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

use super::script::Script;
use super::text::{Charset, TextDecoder};

/// A client's short id: `#1`, `#2`, ...
pub type ClientId = u64;

/// Bytes read at most at once: with the bounded queues to the hub and the
/// output, this bounds the memory that reads not yet handled can hold.
const READ_BUF: usize = 64 * 1024;
/// Messages from client tasks waiting for the hub.
const CHANNEL: usize = 512;
/// How long a peer that half-closed gets to take what is still queued.
const HALF_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a client being closed gets to take what was queued before.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);
/// How long shutdown waits for client tasks to hand over their last bytes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What serve listens on.
#[derive(Debug)]
pub enum Listener {
    /// TCP listeners (one dual-stack socket, or one per address family).
    Tcp(Vec<TcpListener>),
    /// One UDP socket; each peer address is a client.
    Udp(UdpSocket),
}

/// A non-loopback address of this host, printed so the user knows what to
/// give the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanAddr {
    /// The interface name.
    pub iface: String,
    /// Its address.
    pub ip: IpAddr,
}

/// Where a send goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every connected client.
    All,
    /// One client.
    One(ClientId),
}

/// Commands from the interactive front ends.
#[derive(Debug, Clone)]
pub enum Control {
    /// Send bytes.
    Send(Target, Bytes),
    /// Close a client.
    Disconnect(ClientId),
    /// Report the connected clients (an [`Event::Clients`]).
    List,
    /// Start (`Some`) or stop (`None`) sending bytes periodically.
    Auto(Option<(Duration, Target, Bytes)>),
    /// A message for the user (an [`Event::Notice`]).
    Notice(String),
    /// Close everything and stop.
    Quit,
}

/// What the engine is told to do, from the flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Sent in order to every client when it connects.
    pub sends: Vec<Bytes>,
    /// Repeat `sends` to every client this often.
    pub every: Option<Duration>,
    /// Regular expressions to see in order.
    pub expects: Vec<regex::Regex>,
    /// Match `expects` only against this client.
    pub from: Option<ClientId>,
    /// Wait until this many clients are connected at once.
    pub clients: Option<u64>,
    /// Stop after this long.
    pub timeout: Option<Duration>,
    /// Refuse clients beyond this many at once.
    pub max_clients: usize,
    /// Drop a client with more than this many unsent bytes.
    pub max_queue: usize,
    /// How received bytes become text.
    pub charset: Charset,
    /// LAN addresses to print at start.
    pub lan: Vec<LanAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sends: Vec::new(),
            every: None,
            expects: Vec::new(),
            from: None,
            clients: None,
            timeout: None,
            max_clients: 1024,
            max_queue: 1 << 20,
            charset: Charset::Utf8,
            lan: Vec::new(),
        }
    }
}

/// What a client is, as far as serve knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Nothing or too little received to tell.
    Unknown,
    /// Not a PicoW (its first bytes were not the greeting).
    Other,
    /// A PicoW, with its name when it sent one.
    Picow(Option<String>),
}

/// A connected client, as listed by [`Event::Clients`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Its id.
    pub id: ClientId,
    /// Its address.
    pub peer: SocketAddr,
    /// When it connected.
    pub since: SystemTime,
    /// PicoW or not.
    pub kind: Kind,
    /// Bytes received from it.
    pub bytes_in: u64,
    /// Bytes sent to it.
    pub bytes_out: u64,
}

/// Totals at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Clients that connected.
    pub clients: u64,
    /// Connections refused (`--max-clients`).
    pub refused: u64,
    /// Bytes received in all.
    pub bytes_in: u64,
    /// Bytes sent in all.
    pub bytes_out: u64,
    /// How long serve ran.
    pub elapsed: Duration,
}

/// Everything that happens, in order.
#[derive(Debug, Clone)]
pub enum Event {
    /// Listening on these addresses.
    Listening {
        /// TCP or UDP.
        transport: Transport,
        /// The bound addresses.
        local: Vec<SocketAddr>,
        /// The host's LAN addresses.
        lan: Vec<LanAddr>,
    },
    /// A client connected (for UDP: a new peer address sent a datagram).
    Connected {
        /// Its id.
        id: ClientId,
        /// Its address.
        peer: SocketAddr,
    },
    /// A client greeted like a PicoW.
    Picow {
        /// Its id.
        id: ClientId,
        /// The board name, when it sent one.
        name: Option<String>,
    },
    /// A connection was refused.
    Refused {
        /// Its address.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
    /// Bytes from a client.
    Data {
        /// From whom.
        id: ClientId,
        /// The bytes as received.
        bytes: Bytes,
        /// The bytes as text (undecodable bytes as `\xNN`, `\` as `\\`),
        /// shared by the observers. Empty when neither an observer
        /// ([`Observer::wants_text`]) nor an `--expect` needs it.
        text: Arc<str>,
    },
    /// Bytes written to a client.
    Sent {
        /// To whom.
        id: ClientId,
        /// The bytes written.
        bytes: Bytes,
        /// The bytes as text.
        text: Arc<str>,
    },
    /// A client is gone.
    Disconnected {
        /// Its id.
        id: ClientId,
        /// Its address.
        peer: SocketAddr,
        /// Why.
        reason: String,
        /// Bytes received from it.
        bytes_in: u64,
        /// Bytes sent to it.
        bytes_out: u64,
    },
    /// An `--expect` pattern was seen.
    Expect {
        /// Its position among the `--expect` flags, from 0.
        index: usize,
        /// The pattern.
        pattern: String,
        /// The client whose text matched.
        id: ClientId,
        /// The matched text.
        matched: String,
    },
    /// The connected clients (answer to [`Control::List`]).
    Clients(Vec<ClientInfo>),
    /// A message for the user.
    Notice(String),
    /// Something failed; serve goes on.
    Error(String),
    /// `--timeout` elapsed before the expectations were met.
    Timeout {
        /// The patterns not seen, in order.
        unmet: Vec<String>,
        /// The clients that were required but not connected, if any.
        clients_missing: Option<u64>,
        /// The last text received from each client (its tail).
        seen: Vec<(ClientId, String)>,
    },
    /// The end.
    Summary(Summary),
}

/// Something that is told about every event: a printer, the log, a view.
pub trait Observer: Send {
    /// One event, with the time it happened.
    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()>;
    /// Whether this observer reads the `text` of [`Event::Data`]: decoding
    /// costs a copy of every byte received, skipped when no one reads it.
    fn wants_text(&self) -> bool {
        true
    }
    /// Called when no event is waiting: write out what is buffered.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Called once at the end, after the summary: everything must be
    /// written when this returns.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// How the engine stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every `--expect` and `--clients` condition was met.
    Met,
    /// `--timeout` elapsed with conditions unmet.
    TimedOut,
    /// `--timeout` elapsed and there were no conditions.
    Elapsed,
    /// Stopped by a signal or `/quit`.
    Stopped,
}

/// The state shared between the hub and one client task.
#[derive(Debug, Default)]
struct Shared {
    out: Mutex<Outgoing>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Outgoing {
    queue: VecDeque<Bytes>,
    queued: usize,
    close: Option<String>,
    /// The hub has seen the connection and queued the `--send` data for it:
    /// until then a peer's EOF must not end the connection, or a client that
    /// half-closes at once would never get what serve sends to every client.
    welcomed: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Outgoing> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues bytes; a client over `max` is closed instead. Returns false
    /// when the client was closed by this call.
    fn enqueue(&self, bytes: Bytes, max: usize) -> bool {
        let mut out = self.lock();
        if out.close.is_some() || bytes.is_empty() {
            return true;
        }
        let ok = if out.queued + bytes.len() > max {
            out.close = Some(format!(
                "not reading: more than {max} bytes waiting to be sent (--max-queue)"
            ));
            out.queue.clear();
            out.queued = 0;
            false
        } else {
            out.queued += bytes.len();
            out.queue.push_back(bytes);
            true
        };
        drop(out);
        self.notify.notify_one();
        ok
    }

    /// The hub has queued everything a new client gets.
    fn welcomed(&self) {
        self.lock().welcomed = true;
        self.notify.notify_one();
    }

    fn close(&self, reason: &str) {
        let mut out = self.lock();
        if out.close.is_none() {
            out.close = Some(reason.to_owned());
        }
        drop(out);
        self.notify.notify_one();
    }
}

/// From client tasks to the hub.
#[derive(Debug)]
enum Msg {
    Connected {
        id: ClientId,
        peer: SocketAddr,
        shared: Arc<Shared>,
    },
    Data {
        id: ClientId,
        bytes: Bytes,
    },
    Sent {
        id: ClientId,
        bytes: Bytes,
    },
    Closed {
        id: ClientId,
        reason: String,
    },
    Refused {
        peer: SocketAddr,
        reason: String,
    },
    Error(String),
}

/// The block that reads are cut from (see [`read_into_shared`]).
const SLAB: usize = 1 << 20;

thread_local! {
    static READS: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Reads once (`f` appends to the buffer it is given) and returns what was
/// read, without a copy: reads go straight into a 1 MiB block per worker
/// thread and each is cut off as its own `Bytes`. When everything cut from a
/// block has been dropped (the hub and the output threads are done with it)
/// the block is reused. A client holds no buffer between reads.
fn read_into_shared(f: impl FnOnce(&mut BytesMut) -> io::Result<usize>) -> io::Result<Bytes> {
    READS.with(|slab| {
        let mut slab = slab.borrow_mut();
        if slab.capacity() - slab.len() < READ_BUF {
            slab.reserve(SLAB);
        }
        let result = f(&mut slab);
        // What was read, or nothing on an error.
        let bytes = slab.split().freeze();
        result.map(|_| bytes)
    })
}

fn canonical(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

/// What the tasks share with the acceptor.
#[derive(Debug, Clone)]
struct Ctx {
    tx: mpsc::Sender<Msg>,
    next_id: Arc<AtomicU64>,
    active: Arc<AtomicUsize>,
    max_clients: usize,
    stop: watch::Receiver<bool>,
}

impl Ctx {
    /// Takes a client slot, or says why not.
    fn admit(&self) -> Result<ClientId, String> {
        let prev = self.active.fetch_add(1, Ordering::AcqRel);
        if prev >= self.max_clients {
            self.active.fetch_sub(1, Ordering::AcqRel);
            return Err(format!(
                "{} clients already connected (--max-clients {})",
                prev, self.max_clients
            ));
        }
        Ok(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Tells the hub about a new client; returns the state the client's
    /// task shares with the hub, or `None` when the hub has stopped.
    async fn connected(&self, id: ClientId, peer: SocketAddr) -> Option<Arc<Shared>> {
        let shared = Arc::new(Shared::default());
        let msg = Msg::Connected {
            id,
            peer,
            shared: shared.clone(),
        };
        self.tx.send(msg).await.ok().map(|()| shared)
    }
}

async fn accept_loop(listener: TcpListener, ctx: Ctx) {
    let mut stop = ctx.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let peer = canonical(peer);
                match ctx.admit() {
                    Ok(id) => {
                        let _ = stream.set_nodelay(true);
                        let Some(shared) = ctx.connected(id, peer).await else {
                            return;
                        };
                        tokio::spawn(tcp_client(id, stream, shared, ctx.clone()));
                    }
                    Err(reason) => {
                        drop(stream);
                        let _ = ctx.tx.send(Msg::Refused { peer, reason }).await;
                    }
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: report, back off, go on.
                let _ = ctx.tx.send(Msg::Error(format!("accept failed: {e}"))).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn tcp_client(id: ClientId, stream: TcpStream, shared: Arc<Shared>, ctx: Ctx) {
    let reason = tcp_loop(id, &stream, &shared, &ctx.tx).await;
    drop(stream);
    ctx.active.fetch_sub(1, Ordering::AcqRel);
    let _ = ctx.tx.send(Msg::Closed { id, reason }).await;
}

async fn tcp_loop(
    id: ClientId,
    stream: &TcpStream,
    shared: &Shared,
    tx: &mpsc::Sender<Msg>,
) -> String {
    let mut eof_at: Option<Instant> = None;
    // When a close was asked for: until when queued data may still go out.
    let mut close_by: Option<Instant> = None;
    loop {
        let (want_write, close, welcomed) = {
            let out = shared.lock();
            (!out.queue.is_empty(), out.close.clone(), out.welcomed)
        };
        let flushing = match (&close, want_write) {
            (Some(_), true) => {
                let by = *close_by.get_or_insert_with(|| Instant::now() + CLOSE_FLUSH);
                Instant::now() < by
            }
            _ => false,
        };
        if let Some(reason) = close.filter(|_| !flushing) {
            // Hand over what arrived before the close, then go. The socket
            // is asked directly: tokio's try_read trusts readiness that the
            // runtime may not have polled yet.
            if eof_at.is_none() {
                let sock = socket2::SockRef::from(stream);
                loop {
                    let read = |b: &mut BytesMut| {
                        let mut chunk = [0u8; 4096];
                        let n = io::Read::read(&mut &*sock, &mut chunk)?;
                        b.extend_from_slice(&chunk[..n]);
                        Ok(n)
                    };
                    match read_into_shared(read) {
                        Ok(b) if !b.is_empty() => {
                            let _ = tx.send(Msg::Data { id, bytes: b }).await;
                        }
                        _ => break,
                    }
                }
            }
            return reason;
        }
        if let (Some(eof), false) = (eof_at, want_write) {
            if welcomed {
                return "closed by peer".into();
            }
            // The hub has not queued this client's sends yet: wait for it
            // (bounded), rather than close before they went out.
            tokio::select! {
                _ = shared.notify.notified() => {}
                _ = tokio::time::sleep_until(eof + HALF_CLOSE_GRACE) => {
                    return "closed by peer".into();
                }
            }
            continue;
        }
        let interest = match (eof_at.is_some() || flushing, want_write) {
            (false, false) => Interest::READABLE,
            (false, true) => Interest::READABLE | Interest::WRITABLE,
            _ => Interest::WRITABLE,
        };
        let grace = async {
            match (eof_at, close_by) {
                (_, Some(t)) => tokio::time::sleep_until(t).await,
                (Some(t), None) => tokio::time::sleep_until(t + HALF_CLOSE_GRACE).await,
                (None, None) => std::future::pending().await,
            }
        };
        tokio::select! {
            ready = stream.ready(interest) => {
                let ready = match ready {
                    Ok(r) => r,
                    Err(e) => return format!("error: {e}"),
                };
                if ready.is_readable() && eof_at.is_none() {
                    match read_into_shared(|b| stream.try_read_buf(&mut b.limit(READ_BUF))) {
                        Ok(b) if b.is_empty() => eof_at = Some(Instant::now()),
                        Ok(bytes) => {
                            if tx.send(Msg::Data { id, bytes }).await.is_err() {
                                return "server stopped".into();
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return read_error(e),
                    }
                }
                if ready.is_writable() && want_write {
                    if let Err(e) = write_some(id, stream, shared, tx).await {
                        return format!("write failed: {e}");
                    }
                }
            }
            _ = shared.notify.notified() => {}
            _ = grace => {
                if close_by.is_none() {
                    return "closed by peer (unsent data dropped)".into();
                }
                // The close deadline passed: the next turn closes.
            }
        }
    }
}

fn read_error(e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => "reset by peer".into(),
        io::ErrorKind::ConnectionAborted => "aborted".into(),
        _ => format!("read failed: {e}"),
    }
}

async fn write_some(
    id: ClientId,
    stream: &TcpStream,
    shared: &Shared,
    tx: &mpsc::Sender<Msg>,
) -> io::Result<()> {
    let Some(front) = shared.lock().queue.front().cloned() else {
        return Ok(());
    };
    match stream.try_write(&front) {
        Ok(n) => {
            {
                let mut out = shared.lock();
                // The queue may have been cleared by a close meanwhile.
                if let Some(f) = out.queue.front_mut() {
                    if n >= f.len() {
                        out.queue.pop_front();
                    } else {
                        f.advance(n);
                    }
                    out.queued = out.queued.saturating_sub(n);
                }
            }
            let _ = tx
                .send(Msg::Sent {
                    id,
                    bytes: front.slice(..n),
                })
                .await;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}

async fn udp_loop(socket: Arc<UdpSocket>, ctx: Ctx) {
    let mut stop = ctx.stop.clone();
    let mut peers: HashMap<SocketAddr, ClientId> = HashMap::new();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            r = socket.readable() => {
                if let Err(e) = r {
                    let _ = ctx.tx.send(Msg::Error(format!("UDP socket: {e}"))).await;
                    return;
                }
            }
        }
        let mut from = None;
        let res = read_into_shared(|b| {
            let (n, peer) = socket.try_recv_buf_from(&mut b.limit(READ_BUF))?;
            from = Some(peer);
            Ok(n)
        });
        let (bytes, peer) = match (res, from) {
            (Ok(b), Some(p)) => (b, canonical(p)),
            (Err(e), _) if e.kind() == io::ErrorKind::WouldBlock => continue,
            // Windows reports an ICMP port-unreachable as a reset: not fatal.
            (Err(e), _) => {
                tracing::debug!("UDP receive: {e}");
                continue;
            }
            (Ok(_), None) => continue,
        };
        let id = match peers.get(&peer) {
            Some(&id) => id,
            None => match ctx.admit() {
                Ok(id) => {
                    peers.insert(peer, id);
                    let Some(shared) = ctx.connected(id, peer).await else {
                        return;
                    };
                    tokio::spawn(udp_writer(id, peer, socket.clone(), shared, ctx.clone()));
                    id
                }
                Err(reason) => {
                    let _ = ctx.tx.send(Msg::Refused { peer, reason }).await;
                    continue;
                }
            },
        };
        if ctx.tx.send(Msg::Data { id, bytes }).await.is_err() {
            return;
        }
    }
}

async fn udp_writer(
    id: ClientId,
    peer: SocketAddr,
    socket: Arc<UdpSocket>,
    shared: Arc<Shared>,
    ctx: Ctx,
) {
    let reason = loop {
        let (front, close) = {
            let mut out = shared.lock();
            let front = out.queue.pop_front();
            if let Some(f) = &front {
                out.queued -= f.len();
            }
            (front, out.close.clone())
        };
        if let Some(reason) = close {
            break reason;
        }
        match front {
            Some(bytes) => match socket.send_to(&bytes, peer).await {
                Ok(n) => {
                    let _ = ctx
                        .tx
                        .send(Msg::Sent {
                            id,
                            bytes: bytes.slice(..n),
                        })
                        .await;
                }
                Err(e) => {
                    let _ = ctx
                        .tx
                        .send(Msg::Error(format!("sending to #{id}: {e}")))
                        .await;
                }
            },
            None => shared.notify.notified().await,
        }
    };
    ctx.active.fetch_sub(1, Ordering::AcqRel);
    let _ = ctx.tx.send(Msg::Closed { id, reason }).await;
}

/// What the hub keeps per client.
#[derive(Debug)]
struct Client {
    peer: SocketAddr,
    since: SystemTime,
    shared: Arc<Shared>,
    bytes_in: u64,
    bytes_out: u64,
    matcher: Option<GreetingMatcher>,
    kind: Kind,
    decoder: Option<TextDecoder>,
}

/// The hub: owns the client table, the observers and the script.
struct Hub {
    cfg: Config,
    clients: HashMap<ClientId, Client>,
    observers: Vec<Box<dyn Observer>>,
    script: Script,
    summary: Summary,
    auto: Option<(tokio::time::Interval, Target, Bytes)>,
    /// Whether an observer reads the text of received data.
    observers_want_text: bool,
    /// The text of data no one reads.
    no_text: Arc<str>,
}

impl Hub {
    fn emit(&mut self, event: &Event) -> io::Result<()> {
        let at = SystemTime::now();
        for o in &mut self.observers {
            o.event(at, event)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        for o in &mut self.observers {
            o.flush()?;
        }
        Ok(())
    }

    fn send(&mut self, target: Target, bytes: &Bytes) -> io::Result<()> {
        match target {
            Target::All => {
                for c in self.clients.values() {
                    c.shared.enqueue(bytes.clone(), self.cfg.max_queue);
                }
            }
            Target::One(id) => match self.clients.get(&id) {
                Some(c) => {
                    c.shared.enqueue(bytes.clone(), self.cfg.max_queue);
                }
                None => self.emit(&Event::Error(format!("no client #{id}: see /list")))?,
            },
        }
        Ok(())
    }

    fn send_script(&mut self, target: Target) {
        for s in &self.cfg.sends {
            match target {
                Target::All => {
                    for c in self.clients.values() {
                        c.shared.enqueue(s.clone(), self.cfg.max_queue);
                    }
                }
                Target::One(id) => {
                    if let Some(c) = self.clients.get(&id) {
                        c.shared.enqueue(s.clone(), self.cfg.max_queue);
                    }
                }
            }
        }
    }

    fn handle(&mut self, msg: Msg) -> io::Result<()> {
        match msg {
            Msg::Connected { id, peer, shared } => {
                self.summary.clients += 1;
                self.clients.insert(
                    id,
                    Client {
                        peer,
                        since: SystemTime::now(),
                        shared,
                        bytes_in: 0,
                        bytes_out: 0,
                        matcher: Some(GreetingMatcher::new()),
                        kind: Kind::Unknown,
                        decoder: None,
                    },
                );
                self.script.connected(self.clients.len() as u64);
                self.emit(&Event::Connected { id, peer })?;
                self.send_script(Target::One(id));
                if let Some(c) = self.clients.get(&id) {
                    c.shared.welcomed();
                }
            }
            Msg::Data { id, bytes } => {
                self.summary.bytes_in += bytes.len() as u64;
                let charset = self.cfg.charset;
                let Some(c) = self.clients.get_mut(&id) else {
                    return Ok(());
                };
                c.bytes_in += bytes.len() as u64;
                let mut picow = None;
                if let Some(m) = &mut c.matcher {
                    let kind = match m.feed(&bytes) {
                        PeerKind::Pending => Kind::Unknown,
                        PeerKind::Other => Kind::Other,
                        PeerKind::Picow { name } => {
                            Kind::Picow(name.as_ref().map(|n| n.to_string()))
                        }
                    };
                    if m.is_settled() {
                        c.matcher = None;
                    }
                    if kind != c.kind {
                        if let Kind::Picow(name) = &kind {
                            picow = Some(name.clone());
                        }
                        c.kind = kind;
                    }
                }
                // Once no one needs text it is not needed again (the
                // script's needs only end), so no character is ever split
                // between a decoded and a skipped read.
                let text: Arc<str> = if self.observers_want_text || self.script.wants_text() {
                    let mut text = String::with_capacity(bytes.len());
                    c.decoder
                        .get_or_insert_with(|| TextDecoder::new(charset))
                        .decode(&bytes, &mut text);
                    if !c.decoder.as_ref().is_some_and(TextDecoder::has_pending) {
                        // Idle clients keep no decoder state.
                        if matches!(charset, Charset::Utf8) {
                            c.decoder = None;
                        }
                    }
                    text.into()
                } else {
                    self.no_text.clone()
                };
                let met = self.script.text(id, &text);
                self.emit(&Event::Data { id, bytes, text })?;
                if let Some(name) = picow {
                    self.emit(&Event::Picow { id, name })?;
                }
                for (index, pattern, matched) in met {
                    self.emit(&Event::Expect {
                        index,
                        pattern,
                        id,
                        matched,
                    })?;
                }
            }
            Msg::Sent { id, bytes } => {
                self.summary.bytes_out += bytes.len() as u64;
                if let Some(c) = self.clients.get_mut(&id) {
                    c.bytes_out += bytes.len() as u64;
                }
                let mut text = String::new();
                TextDecoder::new(self.cfg.charset).decode(&bytes, &mut text);
                self.emit(&Event::Sent {
                    id,
                    bytes,
                    text: text.into(),
                })?;
            }
            Msg::Closed { id, reason } => {
                if let Some(c) = self.clients.remove(&id) {
                    self.emit(&Event::Disconnected {
                        id,
                        peer: c.peer,
                        reason,
                        bytes_in: c.bytes_in,
                        bytes_out: c.bytes_out,
                    })?;
                }
            }
            Msg::Refused { peer, reason } => {
                self.summary.refused += 1;
                self.emit(&Event::Refused { peer, reason })?;
            }
            Msg::Error(e) => self.emit(&Event::Error(e))?,
        }
        Ok(())
    }

    /// Returns true on `Quit`.
    fn control(&mut self, ctl: Control) -> io::Result<bool> {
        match ctl {
            Control::Send(target, bytes) => self.send(target, &bytes)?,
            Control::Disconnect(id) => match self.clients.get(&id) {
                Some(c) => c.shared.close("disconnected by the user"),
                None => self.emit(&Event::Error(format!("no client #{id}: see /list")))?,
            },
            Control::List => {
                let mut list: Vec<ClientInfo> = self
                    .clients
                    .iter()
                    .map(|(&id, c)| ClientInfo {
                        id,
                        peer: c.peer,
                        since: c.since,
                        kind: c.kind.clone(),
                        bytes_in: c.bytes_in,
                        bytes_out: c.bytes_out,
                    })
                    .collect();
                list.sort_by_key(|c| c.id);
                self.emit(&Event::Clients(list))?;
            }
            Control::Auto(None) => {
                if self.auto.take().is_some() {
                    self.emit(&Event::Notice("auto-send stopped".into()))?;
                }
            }
            Control::Auto(Some((every, target, bytes))) => {
                let mut iv = tokio::time::interval_at(Instant::now() + every, every);
                iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                self.auto = Some((iv, target, bytes));
                self.emit(&Event::Notice(format!(
                    "auto-send every {}",
                    humantime::format_duration(every)
                )))?;
            }
            Control::Notice(n) => self.emit(&Event::Notice(n))?,
            Control::Quit => return Ok(true),
        }
        Ok(false)
    }
}

async fn tick(iv: &mut Option<tokio::time::Interval>) {
    match iv {
        Some(iv) => {
            iv.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn auto_tick(auto: &mut Option<(tokio::time::Interval, Target, Bytes)>) -> (Target, Bytes) {
    match auto {
        Some((iv, t, b)) => {
            iv.tick().await;
            (*t, b.clone())
        }
        None => std::future::pending().await,
    }
}

/// Runs serve until its conditions are met, `timeout` elapses, `shutdown`
/// completes or a [`Control::Quit`] arrives; then closes every client,
/// reports the last bytes and the [`Summary`], and flushes the observers.
///
/// An observer's write error (the output went away, the log disk is full)
/// stops serve and is returned.
pub async fn run(
    listener: Listener,
    cfg: Config,
    observers: Vec<Box<dyn Observer>>,
    mut control: mpsc::Receiver<Control>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Outcome> {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel(CHANNEL);
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = Ctx {
        tx,
        next_id: Arc::new(AtomicU64::new(1)),
        active: Arc::new(AtomicUsize::new(0)),
        max_clients: cfg.max_clients,
        stop: stop_rx,
    };
    let mut hub = Hub {
        script: Script::new(cfg.expects.clone(), cfg.from, cfg.clients),
        cfg,
        clients: HashMap::new(),
        observers_want_text: observers.iter().any(|o| o.wants_text()),
        no_text: Arc::from(""),
        observers,
        summary: Summary::default(),
        auto: None,
    };
    let (transport, local) = match &listener {
        Listener::Tcp(ls) => (
            Transport::Tcp,
            ls.iter().filter_map(|l| l.local_addr().ok()).collect(),
        ),
        Listener::Udp(s) => (Transport::Udp, s.local_addr().into_iter().collect()),
    };
    hub.emit(&Event::Listening {
        transport,
        local,
        lan: hub.cfg.lan.clone(),
    })?;
    hub.flush()?;
    let mut acceptors = Vec::new();
    match listener {
        Listener::Tcp(ls) => {
            for l in ls {
                acceptors.push(tokio::spawn(accept_loop(l, ctx.clone())));
            }
        }
        Listener::Udp(s) => acceptors.push(tokio::spawn(udp_loop(Arc::new(s), ctx.clone()))),
    }
    let active = ctx.active.clone();
    drop(ctx);

    let deadline = hub.cfg.timeout.map(|t| started + t);
    let mut every = hub.cfg.every.map(|d| {
        let mut iv = tokio::time::interval_at(Instant::now() + d, d);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        iv
    });
    tokio::pin!(shutdown);
    let mut control_open = true;
    let outcome = loop {
        if hub.script.has_conditions() && hub.script.done() {
            break Outcome::Met;
        }
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut shutdown => break Outcome::Stopped,
            _ = timeout => break if hub.script.has_conditions() { Outcome::TimedOut } else { Outcome::Elapsed },
            msg = rx.recv() => {
                // The acceptors hold a sender until stopped: never None here.
                let Some(msg) = msg else { break Outcome::Stopped };
                hub.handle(msg)?;
                // Take what else is waiting before flushing the output.
                for _ in 0..1024 {
                    if hub.script.has_conditions() && hub.script.done() { break; }
                    match rx.try_recv() {
                        Ok(m) => hub.handle(m)?,
                        Err(_) => break,
                    }
                }
                if rx.is_empty() {
                    hub.flush()?;
                }
            }
            ctl = control.recv(), if control_open => match ctl {
                Some(c) => {
                    if hub.control(c)? { break Outcome::Stopped; }
                    hub.flush()?;
                }
                None => control_open = false,
            },
            _ = tick(&mut every) => hub.send_script(Target::All),
            (target, bytes) = auto_tick(&mut hub.auto) => hub.send(target, &bytes)?,
        }
    };

    // Stop accepting, close every client, and take their last bytes.
    let _ = stop_tx.send(true);
    for a in acceptors {
        let _ = a.await;
    }
    if outcome == Outcome::TimedOut {
        let (unmet, clients_missing, seen) = hub.script.report(hub.clients.len() as u64);
        hub.emit(&Event::Timeout {
            unmet,
            clients_missing,
            seen,
        })?;
    }
    let reason = match outcome {
        Outcome::Met => "expectations met",
        Outcome::TimedOut | Outcome::Elapsed => "timeout",
        Outcome::Stopped => "server stopped",
    };
    for c in hub.clients.values() {
        c.shared.close(reason);
    }
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    while !hub.clients.is_empty() || active.load(Ordering::Acquire) > 0 {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => hub.handle(m)?,
                None => break,
            },
            _ = &mut grace => break,
        }
    }
    while let Ok(m) = rx.try_recv() {
        hub.handle(m)?;
    }
    hub.summary.elapsed = started.elapsed();
    let summary = hub.summary.clone();
    hub.emit(&Event::Summary(summary))?;
    for o in &mut hub.observers {
        o.finish()?;
    }
    Ok(outcome)
}
