//! The hub: owns the client table, the observers and the script; turns the
//! client tasks' messages and the front end's commands into [`Event`]s.
//! It does no I/O of its own, so it is tested without sockets.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use picow_protocol::session::{GreetingMatcher, PeerKind};
use tokio::time::Instant;

use crate::conn::Msg;
use crate::control::{Config, Control, Target};
use crate::event::{AutoState, ClientId, ClientInfo, Event, Kind, Observer, Reason, Summary};
use crate::queue::{FileSource, Shared};
use crate::script::Script;
use crate::text::{Charset, TextDecoder};

/// What the hub keeps per client.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) peer: SocketAddr,
    pub(crate) since: SystemTime,
    pub(crate) shared: Arc<Shared>,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) matcher: Option<GreetingMatcher>,
    pub(crate) kind: Kind,
    pub(crate) decoder: Option<TextDecoder>,
}

/// The hub: owns the client table, the observers and the script.
pub(crate) struct Hub {
    pub(crate) cfg: Config,
    pub(crate) clients: HashMap<ClientId, Client>,
    pub(crate) observers: Vec<Box<dyn Observer>>,
    pub(crate) script: Script,
    pub(crate) summary: Summary,
    pub(crate) auto: Option<Auto>,
    /// Whether an observer reads the text of received data.
    pub(crate) observers_want_text: bool,
    /// The text of data no one reads.
    pub(crate) no_text: Arc<str>,
    /// Serve is stopping, for this reason: a client announced now is
    /// stopped at once (read what it holds, then close).
    pub(crate) stopping: Option<Reason>,
}

/// A running `/auto`.
pub(crate) struct Auto {
    pub(crate) iv: tokio::time::Interval,
    pub(crate) every: std::time::Duration,
    pub(crate) target: Target,
    pub(crate) bytes: Bytes,
    /// Ticks that sent to at least one client.
    pub(crate) count: u64,
    /// The last tick found no client (said once, not at every tick).
    pub(crate) waiting: bool,
}

impl Auto {
    fn event(&self, state: AutoState) -> Event {
        Event::Auto {
            state,
            every: self.every,
            to: match self.target {
                Target::All => None,
                Target::One(id) => Some(id),
            },
            count: self.count,
        }
    }
}

impl Hub {
    pub(crate) fn emit(&mut self, event: &Event) -> io::Result<()> {
        let at = SystemTime::now();
        for o in &mut self.observers {
            o.event(at, event)?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        for o in &mut self.observers {
            o.flush()?;
        }
        Ok(())
    }

    /// An output's error that no event has brought back yet.
    pub(crate) fn check_outputs(&mut self) -> io::Result<()> {
        for o in &mut self.observers {
            o.check()?;
        }
        Ok(())
    }

    pub(crate) fn send(&mut self, target: Target, bytes: &Bytes) -> io::Result<()> {
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
                None => self.emit(&Event::error(picow_i18n::msg!(
                    "serve-no-client-id",
                    id = id
                )))?,
            },
        }
        Ok(())
    }

    /// Queues a file for `target`, read and sent at each client's pace.
    pub(crate) fn send_file(
        &mut self,
        target: Target,
        file: Arc<std::fs::File>,
        len: u64,
    ) -> io::Result<()> {
        let source = FileSource {
            file,
            offset: 0,
            end: len,
        };
        match target {
            Target::All => {
                for c in self.clients.values() {
                    c.shared.enqueue_file(source.clone());
                }
            }
            Target::One(id) => match self.clients.get(&id) {
                Some(c) => c.shared.enqueue_file(source),
                None => self.emit(&Event::error(picow_i18n::msg!(
                    "serve-no-client-id",
                    id = id
                )))?,
            },
        }
        Ok(())
    }

    pub(crate) fn send_script(&mut self, target: Target) {
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

    pub(crate) fn handle(&mut self, msg: Msg) -> io::Result<()> {
        match msg {
            Msg::Connected { id, peer, shared } => {
                if let Some(reason) = &self.stopping {
                    shared.stop(reason.clone());
                }
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
                let charset = self.cfg.charset;
                // Bytes of a client that is gone are not counted: every byte
                // counted is shown and logged.
                let Some(c) = self.clients.get_mut(&id) else {
                    return Ok(());
                };
                // The client may read again while this read is handled.
                c.shared.credit.add_permits(1);
                self.summary.bytes_in += bytes.len() as u64;
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
            Msg::Closed { id, reason, unread } => {
                if self.stopping.is_some() && unread > 0 {
                    let cut = self.summary.cut_off.get_or_insert_with(Default::default);
                    cut.clients += 1;
                    cut.bytes += unread;
                }
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
            Msg::Error(e) => self.emit(&Event::error(e))?,
        }
        Ok(())
    }

    /// Returns true on `Quit`.
    pub(crate) fn control(&mut self, ctl: Control) -> io::Result<bool> {
        match ctl {
            Control::Send(target, bytes) => self.send(target, &bytes)?,
            Control::SendFile { target, file, len } => self.send_file(target, file, len)?,
            Control::Disconnect(id) => match self.clients.get(&id) {
                Some(c) => c.shared.close(Reason::ByUser),
                None => self.emit(&Event::error(picow_i18n::msg!(
                    "serve-no-client-id",
                    id = id
                )))?,
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
                self.emit(&Event::Clients { clients: list })?;
            }
            Control::Auto(None) => {
                if let Some(a) = self.auto.take() {
                    self.emit(&Event::notice(picow_i18n::msg!("serve-auto-stopped")))?;
                    self.emit(&a.event(AutoState::Stopped))?;
                }
            }
            Control::Auto(Some((every, target, bytes))) => {
                let mut iv = tokio::time::interval_at(Instant::now() + every, every);
                iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let a = Auto {
                    iv,
                    every,
                    target,
                    bytes,
                    count: 0,
                    waiting: false,
                };
                self.emit(&Event::notice(picow_i18n::msg!(
                    "serve-auto-every",
                    every = picow_values::duration::format(every)
                )))?;
                self.emit(&a.event(AutoState::Started))?;
                self.auto = Some(a);
            }
            Control::Notice(n) => self.emit(&Event::notice(n))?,
            Control::Update { id, firmware } => match self.clients.get(&id) {
                None => self.emit(&Event::error(picow_i18n::msg!(
                    "serve-no-client-id",
                    id = id
                )))?,
                Some(c) if !matches!(c.kind, Kind::Picow(_)) => self.emit(&Event::error(
                    picow_i18n::msg!("serve-update-not-picow", id = id),
                ))?,
                Some(_) => self.emit(&Event::Update {
                    id,
                    state: crate::event::UpdateState::Started,
                    firmware: firmware.map(|p| p.display().to_string()),
                    version: None,
                    error: None,
                })?,
            },
            Control::Report(e) => self.emit(&e)?,
            Control::Quit => return Ok(true),
        }
        Ok(false)
    }
}

pub(crate) async fn tick(iv: &mut Option<tokio::time::Interval>) {
    match iv {
        Some(iv) => {
            iv.tick().await;
        }
        None => std::future::pending().await,
    }
}

pub(crate) async fn auto_tick(auto: &mut Option<Auto>) {
    match auto {
        Some(a) => {
            a.iv.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Hub {
    /// A tick of `/auto`: sends to its target and says so; a client that
    /// is gone stops it (said once, never an error at every tick); "all"
    /// with no client goes on, waiting.
    pub(crate) fn auto_send(&mut self) -> io::Result<()> {
        let Some(a) = &mut self.auto else {
            return Ok(());
        };
        let reached = match a.target {
            Target::All => {
                for c in self.clients.values() {
                    c.shared.enqueue(a.bytes.clone(), self.cfg.max_queue);
                }
                !self.clients.is_empty()
            }
            Target::One(id) => match self.clients.get(&id) {
                Some(c) => {
                    c.shared.enqueue(a.bytes.clone(), self.cfg.max_queue);
                    true
                }
                None => {
                    let (count, ev) = (a.count, a.event(AutoState::Gone));
                    self.auto = None;
                    self.emit(&Event::notice(picow_i18n::msg!(
                        "serve-auto-gone",
                        id = id,
                        count = count
                    )))?;
                    return self.emit(&ev);
                }
            },
        };
        if reached {
            a.count += 1;
            a.waiting = false;
            let ev = a.event(AutoState::Sent);
            self.emit(&ev)
        } else if !a.waiting {
            a.waiting = true;
            let ev = a.event(AutoState::Waiting);
            self.emit(&ev)
        } else {
            Ok(())
        }
    }
}
