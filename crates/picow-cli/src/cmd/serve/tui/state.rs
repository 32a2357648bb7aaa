//! What the engine's events change in the view: the client list, the data
//! pane, the counters, the `/save` file. Fed by [`ViewObserver`] on an
//! output thread of its own, read by the drawing loop.
//!
//! Every event is applied whatever the view shows: pausing, scrolling or
//! filtering the pane never loses a byte from the counters or the saved
//! file (and the log and `--expect` are other observers, not affected by
//! the view at all).

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use jiff::tz::TimeZone;
use picow_i18n::tr;

use super::pane::{line_text, time_prefix, Clock, Pane, Source};
use picow_serve::addrs::{self, Offer};
use picow_serve::clients::{neighbour_mac, Clients, Selection};
use picow_serve::text::Charset;
use picow_serve::{AutoState, Control, Event, Observer, Target};

/// A running `/auto` as the view shows it: the sends the engine really
/// made, and the board it follows.
#[derive(Debug, Clone)]
pub struct AutoView {
    /// The period.
    pub every: Duration,
    /// The client it sends to (None: every client); it follows its board
    /// to a new id after a reset.
    pub to: Option<u64>,
    /// What it sends (to start it again for the board's new id).
    pub bytes: Bytes,
    /// Sends made (the engine's count, across restarts for a followed
    /// board).
    pub sent: u64,
    /// Sends made before the engine's current run.
    base: u64,
    /// Its client is gone (it waits for the board), or "all" has none.
    pub waiting: bool,
}

impl AutoView {
    /// A `/auto` just asked for.
    pub fn new(every: Duration, to: Target, bytes: Bytes) -> AutoView {
        AutoView {
            every,
            to: match to {
                Target::All => None,
                Target::One(id) => Some(id),
            },
            bytes,
            sent: 0,
            base: 0,
            waiting: false,
        }
    }
}

/// Writing received data to a file while running (`/save FILE`).
#[derive(Debug)]
pub struct Saver {
    /// The file.
    pub path: PathBuf,
    out: io::BufWriter<std::fs::File>,
    /// Text lines with times (`/save -t`), else the raw bytes received.
    pub text: bool,
    /// Whose data: one client, or all.
    pub from: Selection,
    /// Bytes written so far.
    pub written: u64,
    clock: Clock,
    tz: TimeZone,
    charset: Charset,
}

impl Saver {
    /// Creates `path`, which must not exist (so that it holds exactly what
    /// arrives from now on), or opens it for appending when `append`.
    #[allow(clippy::too_many_arguments)] // what /save was given and the view's settings
    pub fn open(
        path: PathBuf,
        text: bool,
        append: bool,
        from: Selection,
        clock: Clock,
        tz: TimeZone,
        charset: Charset,
    ) -> Result<Saver, String> {
        let mut opts = std::fs::OpenOptions::new();
        if append {
            opts.create(true).append(true);
        } else {
            // Never a file that exists: checked and created in one step.
            opts.write(true).create_new(true);
        }
        let shown = path.display().to_string();
        let file = opts.open(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                tr!("view-save-exists", path = shown.as_str())
            } else {
                tr!(
                    "view-save-cannot",
                    path = shown.as_str(),
                    reason = e.to_string()
                )
            }
        })?;
        Ok(Saver {
            path,
            out: io::BufWriter::new(file),
            text,
            from,
            written: 0,
            clock,
            tz,
            charset,
        })
    }

    fn wants(&self, id: u64) -> bool {
        match self.from {
            Selection::All => true,
            Selection::One(s) => s == id,
        }
    }

    fn data(&mut self, at: SystemTime, src: Source, bytes: &[u8]) -> io::Result<()> {
        let (id, arrow) = match src {
            Source::In(id) => (id, '<'),
            Source::Out(id) => (id, '>'),
            _ => return Ok(()),
        };
        if !self.wants(id) {
            return Ok(());
        }
        if !self.text {
            if arrow == '<' {
                self.out.write_all(bytes)?;
                self.written += bytes.len() as u64;
            }
            return Ok(());
        }
        let t = time_prefix(self.clock, &self.tz, at);
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let l = format!("{t}#{id} {arrow} {}\n", line_text(line, self.charset));
            self.out.write_all(l.as_bytes())?;
            self.written += l.len() as u64;
        }
        Ok(())
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// What the view shows that events change.
#[derive(Debug, Default)]
pub struct ViewState {
    /// The clients.
    pub clients: Clients,
    /// The data pane.
    pub pane: Pane,
    /// Bytes received since the start or the last counter reset.
    pub bytes_in: u64,
    /// Bytes sent since the start or the last counter reset.
    pub bytes_out: u64,
    /// The addresses to give the board, most likely first.
    pub offers: Vec<Offer>,
    /// Said when serve listens on loopback only.
    pub warning: Option<String>,
    /// Listening on loopback only: this port (a board on Wi-Fi cannot
    /// connect; programs on this computer can).
    pub loopback: Option<(std::net::IpAddr, u16)>,
    /// A running `/auto`.
    pub auto: Option<AutoView>,
    /// What the view asks of the engine by itself (`/auto` following its
    /// board), sent by the drawing loop.
    pub outbox: Vec<Control>,
    /// The `/save` file, while saving.
    pub save: Option<Saver>,
    /// The summary line, at the end.
    pub summary: Option<String>,
    /// Set by every event, cleared by the drawing loop.
    pub changed: bool,
}

impl ViewState {
    /// A state whose pane keeps `lines` lines.
    pub fn new(lines: usize) -> ViewState {
        ViewState {
            pane: Pane::new(lines),
            ..ViewState::default()
        }
    }

    fn save(&mut self, at: SystemTime, src: Source, bytes: &[u8]) {
        if let Some(s) = &mut self.save {
            if let Err(e) = s.data(at, src, bytes) {
                let msg = tr!(
                    "view-save-stopped",
                    path = s.path.display().to_string(),
                    reason = e.to_string()
                );
                self.save = None;
                self.pane.info(at, Source::Error, &msg);
            }
        }
    }

    /// Updates the view for one event.
    pub fn apply(&mut self, at: SystemTime, event: &Event) {
        self.changed = true;
        let pane = &mut self.pane;
        match event {
            Event::Listening {
                transport,
                local,
                lan,
                ..
            } => {
                let addrs: Vec<String> = local.iter().map(ToString::to_string).collect();
                let proto = match transport {
                    picow_protocol::Transport::Tcp => "TCP",
                    picow_protocol::Transport::Udp => "UDP",
                };
                pane.info(
                    at,
                    Source::Event,
                    &tr!("view-listening", proto = proto, addrs = addrs.join(", ")),
                );
                self.warning = addrs::loopback_warning(local).map(|m| m.localized());
                // A loopback address is never offered to the board.
                self.offers = if self.warning.is_some() {
                    Vec::new()
                } else {
                    addrs::offers(*transport, local, lan)
                };
                self.loopback = match (&self.warning, local.first()) {
                    (Some(_), Some(a)) => Some((a.ip(), a.port())),
                    _ => None,
                };
                if let Some(w) = &self.warning {
                    pane.info(at, Source::Error, w);
                    if let Some((ip, port)) = self.loopback {
                        pane.info(
                            at,
                            Source::Notice,
                            &tr!(
                                "view-loopback-local",
                                addr = std::net::SocketAddr::new(ip, port).to_string()
                            ),
                        );
                    }
                } else if self.offers.is_empty() {
                    pane.info(at, Source::Notice, &tr!("serve-no-lan"));
                } else {
                    pane.info(at, Source::Notice, &tr!("view-give-board"));
                    for o in &self.offers {
                        let mark = if o.likely { '*' } else { ' ' };
                        let (mark, iface, server) =
                            (mark.to_string(), o.iface.as_str(), o.server.as_str());
                        let line = if o.virtual_adapter && !o.ip.is_loopback() {
                            tr!(
                                "view-offer-virtual",
                                mark = mark,
                                iface = iface,
                                server = server
                            )
                        } else {
                            tr!("view-offer", mark = mark, iface = iface, server = server)
                        };
                        pane.info(at, Source::Notice, &line);
                        pane.info(
                            at,
                            Source::Notice,
                            &tr!("view-offer-mp", micropython = o.micropython.as_str()),
                        );
                    }
                }
            }
            Event::Connected { id, peer } => {
                let mac = if peer.ip().is_loopback() {
                    None
                } else {
                    neighbour_mac(peer.ip())
                };
                let followed = self.clients.connected(*id, *peer, mac, at);
                pane.info(
                    at,
                    Source::Event,
                    &tr!("view-connected", id = *id, peer = peer.to_string()),
                );
                if followed {
                    pane.info(at, Source::Notice, &tr!("view-back-ip", id = *id));
                }
                self.auto_follow(at);
            }
            Event::Picow { id, name } => {
                let followed = self.clients.named(*id, name.clone());
                let msg = match name {
                    Some(n) => tr!("view-picow-named", id = *id, name = n.as_str()),
                    None => tr!("view-picow", id = *id),
                };
                pane.info(at, Source::Event, &msg);
                if followed {
                    pane.info(
                        at,
                        Source::Notice,
                        &tr!("view-back", name = name.as_deref().unwrap_or("?"), id = *id),
                    );
                }
                self.auto_follow(at);
            }
            Event::Data { id, bytes, .. } => {
                self.bytes_in += bytes.len() as u64;
                self.clients.received(*id, bytes.len());
                pane.data(at, Source::In(*id), bytes);
                self.save(at, Source::In(*id), bytes);
            }
            Event::Sent { id, bytes, .. } => {
                self.bytes_out += bytes.len() as u64;
                self.clients.sent(*id, bytes.len());
                pane.data(at, Source::Out(*id), bytes);
                self.save(at, Source::Out(*id), bytes);
            }
            Event::Disconnected { id, reason, .. } => {
                self.clients.disconnected(*id, reason, at);
                pane.info(
                    at,
                    Source::Event,
                    &tr!("view-disconnected", id = *id, reason = reason.localized()),
                );
            }
            Event::Refused { peer, reason } => {
                pane.info(
                    at,
                    Source::Error,
                    &tr!(
                        "view-refused",
                        peer = peer.to_string(),
                        reason = reason.localized()
                    ),
                );
            }
            Event::Expect {
                index, pattern, id, ..
            } => pane.info(
                at,
                Source::Notice,
                &tr!(
                    "view-expect",
                    n = index + 1,
                    pattern = pattern.as_str(),
                    id = *id
                ),
            ),
            Event::Clients { clients: list } => {
                if list.is_empty() {
                    pane.info(at, Source::Notice, &tr!("serve-no-clients"));
                }
                for c in list {
                    let name = self
                        .clients
                        .get(c.id)
                        .and_then(|c| c.name.clone())
                        .unwrap_or_default();
                    pane.info(
                        at,
                        Source::Notice,
                        &tr!(
                            "view-client-row",
                            id = c.id,
                            peer = c.peer.to_string(),
                            name = name,
                            rx = c.bytes_in,
                            tx = c.bytes_out
                        ),
                    );
                }
            }
            Event::Firmware { .. } | Event::Update { .. } => {
                if let Event::Firmware { id, version, .. } = event {
                    self.clients.firmware(*id, version);
                }
                if let Some(l) = picow_serve::observe::ota_line(event) {
                    pane.info(at, Source::Event, &l);
                }
            }
            Event::Notice { message } => pane.info(at, Source::Notice, &message.localized()),
            Event::Error { message } => pane.info(
                at,
                Source::Error,
                &tr!("error-line", message = message.localized()),
            ),
            Event::Auto {
                state, to, count, ..
            } => self.auto_event(at, *state, *to, *count),
            Event::Timeout { .. } => pane.info(at, Source::Notice, &tr!("serve-timeout")),
            Event::Interrupted { .. } => pane.info(at, Source::Notice, &tr!("serve-interrupted")),
            Event::Summary(s) => {
                self.summary = Some(picow_serve::observe::summary_line(s));
            }
        }
    }
}

impl ViewState {
    /// What the engine says its `/auto` did. Events of an earlier target
    /// (before the view followed the board) are not this one's.
    fn auto_event(&mut self, at: SystemTime, state: AutoState, to: Option<u64>, count: u64) {
        let Some(a) = &mut self.auto else {
            return;
        };
        if a.to != to {
            return;
        }
        match state {
            AutoState::Started => a.waiting = false,
            AutoState::Sent => {
                a.sent = a.base + count;
                a.waiting = false;
            }
            AutoState::Waiting => a.waiting = true,
            AutoState::Gone => {
                a.sent = a.base + count;
                a.base = a.sent;
                a.waiting = true;
                let label = to
                    .and_then(|id| self.clients.get(id))
                    .map_or_else(String::new, |c| c.label());
                self.pane
                    .info(at, Source::Notice, &tr!("view-auto-waits", label = label));
            }
            AutoState::Stopped => {
                self.auto = None;
                self.clients.follow_also(None);
            }
        }
    }

    /// The board `/auto` sends to came back under a new id: `/auto` goes
    /// on there (the engine is asked to start it again; the count goes on).
    fn auto_follow(&mut self, at: SystemTime) {
        let Some((old, new)) = self.clients.take_also_moved() else {
            return;
        };
        let Some(a) = &mut self.auto else {
            return;
        };
        if a.to != Some(old) {
            return;
        }
        a.to = Some(new);
        a.base = a.sent;
        self.outbox.push(Control::Auto(Some((
            a.every,
            Target::One(new),
            a.bytes.clone(),
        ))));
        let label = self
            .clients
            .get(new)
            .map_or_else(|| format!("#{new}"), |c| c.label());
        self.pane.info(
            at,
            Source::Notice,
            &tr!("view-auto-follows", label = label, old = old),
        );
    }
}

/// The observer that feeds a shared [`ViewState`] and wakes the drawing
/// loop after each batch of events.
#[derive(Debug, Clone)]
pub struct ViewObserver {
    /// The state.
    pub state: Arc<Mutex<ViewState>>,
    /// Woken on each flush (a batch of events was applied).
    pub wake: Arc<tokio::sync::Notify>,
}

impl ViewObserver {
    fn lock(&self) -> std::sync::MutexGuard<'_, ViewState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Observer for ViewObserver {
    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        self.lock().apply(at, event);
        Ok(())
    }

    fn wants_text(&self) -> bool {
        // The view decodes what it shows itself (the encoding can change
        // while running).
        false
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut st = self.lock();
        if let Some(s) = &mut st.save {
            if let Err(e) = s.flush() {
                let msg = tr!(
                    "view-save-stopped",
                    path = s.path.display().to_string(),
                    reason = e.to_string()
                );
                st.save = None;
                st.pane.info(SystemTime::now(), Source::Error, &msg);
            }
        }
        drop(st);
        self.wake.notify_one();
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }
}
