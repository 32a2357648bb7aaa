//! The link between serve's engine and the open pages.
//!
//! [`WebObserver`] is one of the engine's observers: it keeps the client
//! table, the departed clients and a bounded history of recent events, and
//! hands every event to every page as the `--json` line. [`Bridge`] is the
//! server's [`Backend`]: a page that opens gets a snapshot (the history, the
//! table), then the live events; its commands become the engine's
//! [`Control`]s.
//!
//! A page never slows the engine: each page has a bounded queue; a page that
//! falls behind (a tab in the background, a slow link) stops getting events
//! and gets a fresh snapshot when it has caught up. Counters come from the
//! engine's own counts, so nothing is lost from them. A page that closes
//! only ends its own queue and task: nothing reaches the boards.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use picow_serve::observe::Json;
use picow_serve::text::{Charset, TextDecoder};
use picow_serve::{ClientId, ClientInfo, Control, Event, Kind, Observer, Target};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::encode;
use crate::protocol::{AutoState, Command, Problem, To, WebMsg, VERSION};
use crate::server::{Backend, Outbox, PageLink, Pushed, OUTBOX};

/// How the bridge is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The encoding serve decodes with (`--encoding`): a page starts with
    /// it.
    pub charset: Charset,
    /// How many bytes of recent data are kept for pages that open later
    /// (and for a page that fell behind).
    pub history_bytes: usize,
    /// Pages open at once, at most.
    pub max_pages: usize,
    /// The most one send may have (serve's `--max-queue`).
    pub max_send: usize,
    /// What the page starts with until its user chooses otherwise: serve's
    /// `--utc`, `--hex` and `--line-ending`.
    pub defaults: Defaults,
    /// The terminal view's macros (serve.toml), macro 1 first; an empty
    /// string is an unused slot. The page offers them as quick sends (text
    /// with escapes, as `--send`).
    pub macros: Vec<String>,
}

/// The page's settings that follow serve's flags until the user sets them
/// in the page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Defaults {
    /// Timestamps in UTC (`--utc`) rather than local time.
    pub utc: bool,
    /// Data shown as hex (`--hex`).
    pub hex: bool,
    /// The line ending added to sends (`--line-ending`).
    pub ending: crate::protocol::Ending,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            charset: Charset::Utf8,
            history_bytes: 1 << 20,
            max_pages: 16,
            max_send: 1 << 20,
            defaults: Defaults::default(),
            macros: Vec::new(),
        }
    }
}

/// Departed clients kept for the page's "gone" group.
const GONE: usize = 50;
/// A page's pending lines are handed over at this size, or at the engine's
/// next flush.
const FLUSH_AT: usize = 64 * 1024;
/// What one history entry costs besides its bytes.
const EVENT_COST: usize = 96;
/// The shortest and longest auto-send periods.
const PERIOD_MS: std::ops::RangeInclusive<u64> = 10..=86_400_000;

#[derive(Debug, Clone)]
struct Rec {
    peer: SocketAddr,
    since: SystemTime,
    kind: Kind,
    bytes_in: u64,
    bytes_out: u64,
}

#[derive(Debug, Clone)]
struct Gone {
    id: ClientId,
    rec: Rec,
    until: SystemTime,
    reason: String,
}

#[derive(Debug)]
struct Page {
    outbox: Arc<Outbox>,
    charset: Charset,
    decoders: HashMap<ClientId, TextDecoder>,
    buf: Vec<u8>,
    /// Events were dropped: the page gets a snapshot once its queue is
    /// empty again.
    lagging: bool,
}

#[derive(Debug)]
struct State {
    opts: Options,
    listening: Option<(SystemTime, Event)>,
    live: BTreeMap<ClientId, Rec>,
    gone: VecDeque<Gone>,
    history: VecDeque<(SystemTime, Event)>,
    history_size: usize,
    pages: HashMap<u64, Page>,
    next_page: u64,
    auto: AutoState,
    /// The client a page's auto-send goes to (stopped when it leaves).
    auto_to: Option<Target>,
    ended: bool,
    /// Every byte received and sent since serve started.
    bytes_in: u64,
    bytes_out: u64,
}

/// The pages' side: the server's [`Backend`].
#[derive(Debug, Clone)]
pub struct Bridge {
    state: Arc<Mutex<State>>,
    control: mpsc::Sender<Control>,
}

/// The engine's side: an [`Observer`].
#[derive(Debug)]
pub struct WebObserver {
    state: Arc<Mutex<State>>,
    control: mpsc::Sender<Control>,
}

/// A bridge whose pages' commands go to `control`, and the observer to give
/// the engine.
pub fn bridge(control: mpsc::Sender<Control>, opts: Options) -> (Bridge, WebObserver) {
    let state = Arc::new(Mutex::new(State {
        opts,
        listening: None,
        live: BTreeMap::new(),
        gone: VecDeque::new(),
        history: VecDeque::new(),
        history_size: 0,
        pages: HashMap::new(),
        next_page: 1,
        auto: AutoState::stopped(),
        auto_to: None,
        ended: false,
        bytes_in: 0,
        bytes_out: 0,
    }));
    (
        Bridge {
            state: state.clone(),
            control: control.clone(),
        },
        WebObserver { state, control },
    )
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn same(a: Charset, b: Charset) -> bool {
    a.name() == b.name()
}

fn rfc3339(t: SystemTime) -> String {
    picow_values::time::rfc3339_millis(t)
}

#[derive(Serialize)]
struct GoneJson<'a> {
    id: ClientId,
    peer: String,
    since: String,
    until: String,
    kind: &'static str,
    name: Option<&'a str>,
    bytes_in: u64,
    bytes_out: u64,
    reason: &'a str,
}

#[derive(Serialize)]
struct OfferJson<'a> {
    iface: &'a str,
    ip: String,
    likely: bool,
    #[serde(rename = "virtual")]
    virtual_adapter: bool,
    server: &'a str,
    micropython: &'a str,
}

/// `web.offers`: what to give the board (picow-serve's `addrs::offers`,
/// the same as the terminal view shows), and whether only loopback
/// clients can reach serve.
#[derive(Serialize)]
struct Offers<'a> {
    event: &'static str,
    offers: Vec<OfferJson<'a>>,
    loopback_only: bool,
}

fn offers_line(listening: &Event) -> Option<String> {
    let Event::Listening {
        transport,
        local,
        lan,
        ..
    } = listening
    else {
        return None;
    };
    let list = picow_serve::addrs::offers(*transport, local, lan);
    let msg = Offers {
        event: "web.offers",
        offers: list
            .iter()
            .map(|o| OfferJson {
                iface: &o.iface,
                ip: o.ip.to_string(),
                likely: o.likely,
                virtual_adapter: o.virtual_adapter,
                server: &o.server,
                micropython: &o.micropython,
            })
            .collect(),
        loopback_only: picow_serve::addrs::loopback_warning(local).is_some(),
    };
    serde_json::to_string(&msg).ok()
}

#[derive(Serialize)]
struct GoneList<'a> {
    event: &'static str,
    clients: Vec<GoneJson<'a>>,
}

fn kind_parts(kind: &Kind) -> (&'static str, Option<&str>) {
    match kind {
        Kind::Unknown => ("unknown", None),
        Kind::Other => ("other", None),
        Kind::Picow(n) => ("picow", n.as_deref()),
    }
}

impl Page {
    /// Adds the `--json` line of `event` to what this page gets, decoded
    /// in the page's encoding.
    fn push(&mut self, engine: Charset, at: SystemTime, event: &Event) -> io::Result<()> {
        let redecoded;
        let event = match event {
            Event::Data { id, bytes, text } if !same(engine, self.charset) || text.is_empty() => {
                let mut s = String::with_capacity(bytes.len());
                let charset = self.charset;
                self.decoders
                    .entry(*id)
                    .or_insert_with(|| TextDecoder::new(charset))
                    .decode(bytes, &mut s);
                redecoded = Event::Data {
                    id: *id,
                    bytes: bytes.clone(),
                    text: s.into(),
                };
                &redecoded
            }
            Event::Sent { id, bytes, .. } if !same(engine, self.charset) => {
                let mut s = String::new();
                TextDecoder::new(self.charset).decode(bytes, &mut s);
                redecoded = Event::Sent {
                    id: *id,
                    bytes: bytes.clone(),
                    text: s.into(),
                };
                &redecoded
            }
            Event::Disconnected { id, .. } => {
                self.decoders.remove(id);
                event
            }
            _ => event,
        };
        Json::new(&mut self.buf).event(at, event)
    }

    /// Queues a snapshot; a page whose outbox cannot take it (a history
    /// larger than the outbox) gets another when the outbox is empty.
    fn send_snapshot(&mut self, lines: Vec<String>) {
        for l in lines {
            if self.outbox.push(&l) != Pushed::Queued {
                self.lagging = true;
                return;
            }
        }
    }

    fn line(&mut self, line: &str) {
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
    }

    /// Hands what is pending to the page's queue. False when the page is
    /// gone.
    fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let mut text = String::from_utf8(std::mem::take(&mut self.buf)).unwrap_or_default();
        if text.ends_with('\n') {
            text.pop();
        }
        match self.outbox.push(&text) {
            Pushed::Queued => true,
            Pushed::Full => {
                self.lagging = true;
                true
            }
            Pushed::Closed => false,
        }
    }
}

impl State {
    /// Keeps the table, the departed and the history up to date.
    fn record(&mut self, at: SystemTime, event: &Event) {
        match event {
            Event::Listening { .. } => {
                self.listening = Some((at, event.clone()));
                return;
            }
            Event::Connected { id, peer } => {
                self.live.insert(
                    *id,
                    Rec {
                        peer: *peer,
                        since: at,
                        kind: Kind::Unknown,
                        bytes_in: 0,
                        bytes_out: 0,
                    },
                );
            }
            Event::Picow { id, name } => {
                if let Some(r) = self.live.get_mut(id) {
                    r.kind = Kind::Picow(name.clone());
                }
            }
            Event::Data { id, bytes, .. } => {
                self.bytes_in += bytes.len() as u64;
                if let Some(r) = self.live.get_mut(id) {
                    r.bytes_in += bytes.len() as u64;
                    if r.kind == Kind::Unknown {
                        r.kind = Kind::Other;
                    }
                }
            }
            Event::Sent { id, bytes, .. } => {
                self.bytes_out += bytes.len() as u64;
                if let Some(r) = self.live.get_mut(id) {
                    r.bytes_out += bytes.len() as u64;
                }
            }
            Event::Clients { clients: list } => {
                // The engine's own table: take its kinds and counts.
                for c in list {
                    if let Some(r) = self.live.get_mut(&c.id) {
                        r.kind = c.kind.clone();
                        r.bytes_in = c.bytes_in;
                        r.bytes_out = c.bytes_out;
                    }
                }
                return;
            }
            Event::Disconnected {
                id,
                peer,
                reason,
                bytes_in,
                bytes_out,
            } => {
                let mut rec = self.live.remove(id).unwrap_or(Rec {
                    peer: *peer,
                    since: at,
                    kind: Kind::Unknown,
                    bytes_in: 0,
                    bytes_out: 0,
                });
                rec.bytes_in = *bytes_in;
                rec.bytes_out = *bytes_out;
                self.gone.push_back(Gone {
                    id: *id,
                    rec,
                    until: at,
                    reason: reason.to_string(),
                });
                while self.gone.len() > GONE {
                    self.gone.pop_front();
                }
            }
            Event::Summary(_) | Event::Timeout { .. } | Event::Interrupted { .. } => {}
            Event::Refused { .. }
            | Event::Expect { .. }
            | Event::Notice { .. }
            | Event::Firmware { .. }
            | Event::Update { .. }
            | Event::Error { .. } => {}
            // A tick of the engine's /auto: nothing for the history.
            Event::Auto { .. } => return,
        }
        // The history keeps its own copy of the bytes: a read is a slice
        // of a 1 MiB block that the engine reuses once every slice of it
        // is dropped, so a kept slice would keep the whole block.
        let kept = match event {
            Event::Data { id, bytes, text } => Event::Data {
                id: *id,
                bytes: Bytes::copy_from_slice(bytes),
                text: text.clone(),
            },
            Event::Sent { id, bytes, text } => Event::Sent {
                id: *id,
                bytes: Bytes::copy_from_slice(bytes),
                text: text.clone(),
            },
            other => other.clone(),
        };
        self.history_size += cost(&kept);
        self.history.push_back((at, kept));
        while self.history_size > self.opts.history_bytes {
            match self.history.pop_front() {
                Some((_, e)) => self.history_size -= cost(&e),
                None => break,
            }
        }
    }

    /// The snapshot a page gets when it opens (or catches up): the page
    /// forgets what it had and rebuilds from this.
    fn snapshot(&mut self, page_id: u64) -> Vec<String> {
        let Some(page) = self.pages.get_mut(&page_id) else {
            return Vec::new();
        };
        page.decoders.clear();
        page.buf.clear();
        page.lagging = false;
        let charset = page.charset;
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut cut = |buf: &mut Vec<u8>, force: bool| {
            if !buf.is_empty() && (force || buf.len() >= FLUSH_AT * 4) {
                let mut s = String::from_utf8(std::mem::take(buf)).unwrap_or_default();
                if s.ends_with('\n') {
                    s.pop();
                }
                out.push(s);
            }
        };
        let hello = WebMsg::Hello {
            version: VERSION,
            encoding: charset.name().to_owned(),
            encodings: encode::ENCODINGS
                .iter()
                .map(|(l, n)| ((*l).to_owned(), (*n).to_owned()))
                .collect(),
            history_bytes: self.opts.history_bytes,
            defaults: self.opts.defaults,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            macros: self.opts.macros.clone(),
        };
        let push_line = |buf: &mut Vec<u8>, line: &str| {
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        };
        push_line(&mut buf, &hello.to_line());
        if let Some((at, e)) = &self.listening {
            let _ = Json::new(&mut buf).event(*at, e);
            if let Some(l) = offers_line(e) {
                push_line(&mut buf, &l);
            }
        }
        let gone = GoneList {
            event: "web.gone",
            clients: self
                .gone
                .iter()
                .map(|g| {
                    let (kind, name) = kind_parts(&g.rec.kind);
                    GoneJson {
                        id: g.id,
                        peer: g.rec.peer.to_string(),
                        since: rfc3339(g.rec.since),
                        until: rfc3339(g.until),
                        kind,
                        name,
                        bytes_in: g.rec.bytes_in,
                        bytes_out: g.rec.bytes_out,
                        reason: &g.reason,
                    }
                })
                .collect(),
        };
        push_line(&mut buf, &serde_json::to_string(&gone).unwrap_or_default());
        let table = Event::Clients {
            clients: self
                .live
                .iter()
                .map(|(&id, r)| ClientInfo {
                    id,
                    peer: r.peer,
                    since: r.since,
                    kind: r.kind.clone(),
                    bytes_in: r.bytes_in,
                    bytes_out: r.bytes_out,
                })
                .collect(),
        };
        let _ = Json::new(&mut buf).event(SystemTime::now(), &table);
        let engine = self.opts.charset;
        // The history, decoded for this page; its decoders then go on from
        // where the history ends.
        let mut tmp = Page {
            outbox: page.outbox.clone(),
            charset,
            decoders: HashMap::new(),
            buf: std::mem::take(&mut buf),
            lagging: false,
        };
        for (at, e) in &self.history {
            let _ = tmp.push(engine, *at, e);
            cut(&mut tmp.buf, false);
        }
        buf = std::mem::take(&mut tmp.buf);
        page.decoders = tmp.decoders;
        push_line(&mut buf, &WebMsg::Auto(self.auto.clone()).to_line());
        push_line(&mut buf, &WebMsg::Ready.to_line());
        cut(&mut buf, true);
        out
    }

    fn broadcast_line(&mut self, line: &str) {
        for p in self.pages.values_mut() {
            if !p.lagging {
                p.line(line);
            }
        }
        self.flush_pages();
    }

    fn flush_pages(&mut self) {
        let mut closed = Vec::new();
        let mut resync = Vec::new();
        for (&id, p) in self.pages.iter_mut() {
            if p.lagging {
                p.buf.clear();
                if p.outbox.is_empty() {
                    resync.push(id);
                }
                continue;
            }
            if !p.flush() {
                closed.push(id);
            }
        }
        for id in closed {
            self.pages.remove(&id);
        }
        for id in resync {
            let lines = self.snapshot(id);
            if let Some(p) = self.pages.get_mut(&id) {
                p.send_snapshot(lines);
            }
        }
    }
}

fn cost(e: &Event) -> usize {
    EVENT_COST
        + match e {
            Event::Data { bytes, text, .. } | Event::Sent { bytes, text, .. } => {
                bytes.len() + text.len()
            }
            _ => 0,
        }
}

impl Observer for WebObserver {
    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.record(at, event);
        // A page's auto-send to a client that left stops: it would only
        // report "no client" at every tick.
        if let Event::Disconnected { id, .. } = event {
            if st.auto.running && st.auto_to == Some(Target::One(*id)) {
                st.auto = AutoState::stopped();
                st.auto_to = None;
                let _ = self.control.try_send(Control::Auto(None));
                let line = WebMsg::Auto(st.auto.clone()).to_line();
                st.broadcast_line(&line);
            }
        }
        if let Event::Summary(_) = event {
            st.ended = true;
        }
        let engine = st.opts.charset;
        let offers = offers_line(event);
        let mut big = false;
        for p in st.pages.values_mut() {
            if p.lagging {
                continue;
            }
            p.push(engine, at, event)?;
            if let Some(l) = &offers {
                p.line(l);
            }
            big |= p.buf.len() >= FLUSH_AT;
        }
        if big {
            st.flush_pages();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        lock(&self.state).flush_pages();
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.flush_pages();
        // The pages' queues end: each page gets what was queued, then is
        // told serve stopped.
        for p in st.pages.values() {
            p.outbox.close();
        }
        st.pages.clear();
        Ok(())
    }
}

impl Backend for Bridge {
    fn attach(&self) -> Result<PageLink, Problem> {
        let mut st = lock(&self.state);
        if st.ended {
            return Err(Problem::new("busy", "picow serve is stopping"));
        }
        if st.pages.len() >= st.opts.max_pages {
            return Err(Problem::new(
                "busy",
                format!(
                    "{} pages are open already: close one and reload",
                    st.opts.max_pages
                ),
            ));
        }
        let id = st.next_page;
        st.next_page += 1;
        let outbox = Arc::new(Outbox::new(OUTBOX));
        let charset = st.opts.charset;
        st.pages.insert(
            id,
            Page {
                outbox: outbox.clone(),
                charset,
                decoders: HashMap::new(),
                buf: Vec::new(),
                lagging: false,
            },
        );
        let lines = st.snapshot(id);
        if let Some(p) = st.pages.get_mut(&id) {
            p.send_snapshot(lines);
        }
        drop(st);
        let (commands, rx) = mpsc::channel(16);
        tokio::spawn(page_commands(self.clone(), id, rx));
        Ok(PageLink { outbox, commands })
    }
}

fn target(st: &State, to: To) -> Result<Target, Problem> {
    match to {
        To::All(_) => Ok(Target::All),
        To::One(id) if st.live.contains_key(&id) => Ok(Target::One(id)),
        To::One(id) => Err(Problem::at(
            "no_client",
            format!("no client #{id} is connected"),
            format!("#{id}"),
        )),
    }
}

impl Bridge {
    /// Carries out one command of page `page`.
    async fn run(&self, page: u64, cmd: Command) -> Result<(), Problem> {
        let ctl = {
            let mut st = lock(&self.state);
            let charset = match st.pages.get(&page) {
                Some(p) => p.charset,
                None => return Ok(()),
            };
            let enc = charset;
            match cmd {
                Command::Send { to, data } => {
                    let t = target(&st, to)?;
                    let bytes = encode::payload_bytes(&data, enc, st.opts.max_send)?;
                    Control::Send(t, Bytes::from(bytes))
                }
                Command::Auto { to, every_ms, data } => {
                    if !PERIOD_MS.contains(&every_ms) {
                        return Err(Problem::new(
                            "bad_period",
                            "the period must be 10 to 86400000 ms",
                        ));
                    }
                    let t = target(&st, to)?;
                    let bytes = encode::payload_bytes(&data, enc, st.opts.max_send)?;
                    st.auto = AutoState {
                        running: true,
                        every_ms: Some(every_ms),
                        to: Some(to),
                        len: Some(bytes.len()),
                        since_ms: SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .ok()
                            .map(|d| d.as_millis() as u64),
                    };
                    st.auto_to = Some(t);
                    let line = WebMsg::Auto(st.auto.clone()).to_line();
                    st.broadcast_line(&line);
                    Control::Auto(Some((
                        Duration::from_millis(every_ms),
                        t,
                        Bytes::from(bytes),
                    )))
                }
                Command::AutoStop => {
                    st.auto = AutoState::stopped();
                    st.auto_to = None;
                    let line = WebMsg::Auto(st.auto.clone()).to_line();
                    st.broadcast_line(&line);
                    Control::Auto(None)
                }
                Command::Disconnect { id } => {
                    target(&st, To::One(id))?;
                    Control::Disconnect(id)
                }
                Command::Encoding { name } => {
                    let cs = encode::encoding(&name)?;
                    if let Some(p) = st.pages.get_mut(&page) {
                        p.charset = cs;
                    }
                    let lines = st.snapshot(page);
                    if let Some(p) = st.pages.get_mut(&page) {
                        p.send_snapshot(lines);
                    }
                    return Ok(());
                }
            }
        };
        // The engine's control queue is bounded: a page that sends faster
        // than the engine takes waits here, alone.
        self.control
            .send(ctl)
            .await
            .map_err(|_| Problem::new("busy", "picow serve is stopping"))
    }
}

async fn page_commands(bridge: Bridge, page: u64, mut rx: mpsc::Receiver<Command>) {
    while let Some(cmd) = rx.recv().await {
        let name = cmd.name();
        if let Err(problem) = bridge.run(page, cmd).await {
            let line = WebMsg::Error {
                cmd: Some(name),
                problem,
            }
            .to_line();
            let mut st = lock(&bridge.state);
            if let Some(p) = st.pages.get_mut(&page) {
                p.line(&line);
            }
            st.flush_pages();
        }
    }
    // The page closed or reloaded: forget it, and nothing else.
    lock(&bridge.state).pages.remove(&page);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(id: ClientId, n: usize) -> Event {
        Event::Data {
            id,
            bytes: Bytes::from(vec![b'x'; n]),
            text: "x".repeat(n).into(),
        }
    }

    fn lines(s: &str) -> Vec<serde_json::Value> {
        s.split('\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_page_that_falls_behind_gets_a_fresh_snapshot_with_every_byte_counted() {
        let (ctl, _ctl_rx) = mpsc::channel(8);
        let (bridge, mut obs) = bridge(
            ctl,
            Options {
                history_bytes: 64 * 1024,
                ..Options::default()
            },
        );
        let at = SystemTime::now();
        obs.event(
            at,
            &Event::Connected {
                id: 1,
                peer: "127.0.0.1:9".parse().unwrap(),
            },
        )
        .unwrap();
        let link = bridge.attach().unwrap();
        let first = lines(&link.outbox.take().await.unwrap());
        assert_eq!(first[0]["event"], "web.hello");
        assert_eq!(first.last().unwrap()["event"], "web.ready");
        // The page reads nothing while 6 MiB arrive: its outbox (4 MiB)
        // fills, later events are dropped for it, the engine never waits.
        let chunk = 16 * 1024;
        let n = 6 * 64;
        for _ in 0..n {
            obs.event(at, &data(1, chunk)).unwrap();
            obs.flush().unwrap();
        }
        assert!(lock(&bridge.state).pages.values().all(|p| p.lagging));
        let backlog = link.outbox.take().await.unwrap();
        assert!(backlog.len() <= OUTBOX, "{} bytes queued", backlog.len());
        // Caught up: the next flush queues a snapshot, whose table counts
        // every byte, also those the page did not get.
        obs.flush().unwrap();
        let snap = lines(&link.outbox.take().await.unwrap());
        assert_eq!(snap[0]["event"], "web.hello");
        let table = snap.iter().find(|l| l["event"] == "clients").unwrap();
        assert_eq!(table["clients"][0]["bytes_in"], (chunk * n) as u64);
        // The history in it is bounded by the setting.
        let history: usize = snap
            .iter()
            .filter(|l| l["event"] == "data")
            .map(|l| l["len"].as_u64().unwrap() as usize)
            .sum();
        assert!(history <= 64 * 1024, "{history}");
        assert!(history > 0);
        // And from now on it gets events again.
        obs.event(at, &data(1, 3)).unwrap();
        obs.flush().unwrap();
        let next = lines(&link.outbox.take().await.unwrap());
        assert_eq!(next[0]["event"], "data");
        assert_eq!(next[0]["len"], 3);
    }

    #[tokio::test]
    async fn a_page_that_goes_away_is_forgotten_and_nothing_reaches_the_engine() {
        let (ctl, mut ctl_rx) = mpsc::channel(8);
        let (bridge, mut obs) = bridge(ctl, Options::default());
        let link = bridge.attach().unwrap();
        assert_eq!(lock(&bridge.state).pages.len(), 1);
        // The session closes the outbox and drops the command sender.
        link.outbox.close();
        drop(link);
        for _ in 0..50 {
            if lock(&bridge.state).pages.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(lock(&bridge.state).pages.is_empty());
        obs.event(SystemTime::now(), &data(1, 5)).unwrap();
        obs.flush().unwrap();
        assert!(
            ctl_rx.try_recv().is_err(),
            "no control from a page that went away"
        );
    }

    #[tokio::test]
    async fn a_page_counts_every_byte_also_of_clients_it_no_longer_lists() {
        let (ctl, _rx) = mpsc::channel(8);
        let (bridge, mut obs) = bridge(ctl, Options::default());
        let at = SystemTime::now();
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let n = GONE as u64 + 10;
        for id in 1..=n {
            obs.event(at, &Event::Connected { id, peer }).unwrap();
            obs.event(at, &data(id, 10)).unwrap();
            obs.event(
                at,
                &Event::Sent {
                    id,
                    bytes: Bytes::from_static(b"abc"),
                    text: "abc".into(),
                },
            )
            .unwrap();
            obs.event(
                at,
                &Event::Disconnected {
                    id,
                    peer,
                    reason: "closed by peer".into(),
                    bytes_in: 10,
                    bytes_out: 3,
                },
            )
            .unwrap();
        }
        let link = bridge.attach().unwrap();
        let snap = lines(&link.outbox.take().await.unwrap());
        let gone = snap.iter().find(|l| l["event"] == "web.gone").unwrap();
        assert_eq!(gone["clients"].as_array().unwrap().len(), GONE);
        assert_eq!(snap[0]["event"], "web.hello");
        assert_eq!(snap[0]["bytes_in"], 10 * n);
        assert_eq!(snap[0]["bytes_out"], 3 * n);
    }

    #[tokio::test]
    async fn at_most_max_pages_are_open() {
        let (ctl, _rx) = mpsc::channel(8);
        let (bridge, _obs) = bridge(
            ctl,
            Options {
                max_pages: 2,
                ..Options::default()
            },
        );
        let _a = bridge.attach().unwrap();
        let _b = bridge.attach().unwrap();
        assert_eq!(bridge.attach().unwrap_err().code, "busy");
    }
}
