//! The event contract: everything serve reports, and the [`Observer`]s
//! that are told about it (the printers, the log, the terminal view, the
//! web page). `docs/spec-events.md` specifies the JSON form.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use picow_protocol::Transport;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::text;

/// The version of the event schema, in the `listening` event: it grows
/// when events or fields are added; a field is never removed or renamed.
pub const SCHEMA_VERSION: u32 = 2;

/// A client's short id: `#1`, `#2`, ...
pub type ClientId = u64;

/// A non-loopback address of this host, printed so the user knows what to
/// give the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanAddr {
    /// The interface name.
    pub iface: String,
    /// Its address.
    pub ip: IpAddr,
}

/// What a client is, as far as serve knows. In JSON it is two fields:
/// `"kind": "unknown" | "other" | "picow"` and `"name"` (the board's name or
/// `null`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Nothing or too little received to tell.
    Unknown,
    /// Not a PicoW (its first bytes were not the greeting).
    Other,
    /// A PicoW, with its name when it sent one.
    Picow(Option<String>),
}

impl Kind {
    /// The word in JSON: `unknown`, `other` or `picow`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Unknown => "unknown",
            Kind::Other => "other",
            Kind::Picow(_) => "picow",
        }
    }

    /// The board's name, when it is a PicoW that sent one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Kind::Picow(Some(n)) => Some(n),
            _ => None,
        }
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("kind", self.as_str())?;
        m.serialize_entry("name", &self.name())?;
        m.end()
    }
}

/// A connected client, as listed by [`Event::Clients`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientInfo {
    /// Its id.
    pub id: ClientId,
    /// Its address.
    pub peer: SocketAddr,
    /// When it connected (RFC 3339, UTC, milliseconds).
    #[serde(serialize_with = "ser_rfc3339")]
    pub since: SystemTime,
    /// PicoW or not (`kind` and `name` in JSON).
    #[serde(flatten)]
    pub kind: Kind,
    /// Bytes received from it.
    pub bytes_in: u64,
    /// Bytes sent to it.
    pub bytes_out: u64,
}

/// Totals at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Clients that connected.
    pub clients: u64,
    /// Connections refused (`--max-clients`).
    pub refused: u64,
    /// Bytes received in all.
    pub bytes_in: u64,
    /// Bytes sent in all.
    pub bytes_out: u64,
    /// How long serve ran (`seconds` in JSON).
    #[serde(rename = "seconds", serialize_with = "ser_seconds")]
    pub elapsed: Duration,
    /// What serve did not read when it stopped: bytes clients sent after
    /// the stop (and, past the 2 s limit, before it). Absent when nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_off: Option<CutOff>,
}

/// Bytes left unread in clients' sockets when serve closed them at a stop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CutOff {
    /// Clients with bytes left.
    pub clients: u64,
    /// The bytes left (what their sockets held when closed).
    pub bytes: u64,
    /// Clients whose task had not ended when serve's 2 s were up.
    pub unfinished: u64,
}

/// The last text received from a client, in the timeout report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// The client.
    pub id: ClientId,
    /// The tail of its text.
    pub text: String,
}

/// Everything that happens, in order. Every front end renders these same
/// values; [`Stamped`] is the JSON form (`docs/spec-events.md`): the
/// event's [`name`](Event::name) as `"event"`, the time as `"t"`, then the
/// variant's fields in the order they are declared here.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Event {
    /// Listening on these addresses (always the first event).
    Listening {
        /// The version of this schema ([`SCHEMA_VERSION`]).
        version: u32,
        /// TCP or UDP.
        #[serde(serialize_with = "ser_transport")]
        transport: Transport,
        /// The bound addresses (with the port actually bound, also for
        /// `--port 0`).
        local: Vec<SocketAddr>,
        /// The host's LAN addresses.
        lan: Vec<LanAddr>,
        /// The `picow flash --server …` values that reach this server.
        hints: Vec<String>,
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
    /// Bytes from a client. JSON: `id`, `len`, `text`, `hex` (the exact
    /// bytes).
    #[serde(serialize_with = "ser_data")]
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
    /// Bytes written to a client; the same fields as `Data`.
    #[serde(serialize_with = "ser_data")]
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
    /// The connected clients (answer to [`Control::List`](crate::Control::List)).
    Clients {
        /// By id.
        clients: Vec<ClientInfo>,
    },
    /// A message for the user.
    Notice {
        /// The message (in English when it has a translation: the form for
        /// programs).
        message: String,
        /// The message as a translatable [`Msg`](picow_i18n::Msg), for
        /// the outputs that people read in their language (not in JSON).
        #[serde(skip)]
        localized: Option<picow_i18n::Msg>,
    },
    /// Something failed; serve goes on.
    Error {
        /// What failed.
        message: String,
    },
    /// `--timeout` elapsed before the expectations were met.
    Timeout {
        /// The patterns not seen, in order.
        unmet: Vec<String>,
        /// The clients that were required but not connected, if any.
        clients_missing: Option<u64>,
        /// The last text received from each client (its tail).
        seen: Vec<Seen>,
    },
    /// Stopped (a signal, `/quit`) with expectations unmet: the same
    /// report as [`Event::Timeout`].
    Interrupted {
        /// The patterns not seen, in order.
        unmet: Vec<String>,
        /// The clients that were required but not connected, if any.
        clients_missing: Option<u64>,
        /// The last text received from each client (its tail).
        seen: Vec<Seen>,
    },
    /// The end.
    Summary(Summary),
}

impl Event {
    /// The event's name: the `"event"` field of its JSON form.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Listening { .. } => "listening",
            Event::Connected { .. } => "connected",
            Event::Picow { .. } => "picow",
            Event::Refused { .. } => "refused",
            Event::Data { .. } => "data",
            Event::Sent { .. } => "sent",
            Event::Disconnected { .. } => "disconnected",
            Event::Expect { .. } => "expect",
            Event::Clients { .. } => "clients",
            Event::Notice { .. } => "notice",
            Event::Error { .. } => "error",
            Event::Timeout { .. } => "timeout",
            Event::Interrupted { .. } => "interrupted",
            Event::Summary(_) => "summary",
        }
    }

    /// A notice for the user.
    pub fn notice(message: impl Into<String>) -> Event {
        Event::Notice {
            message: message.into(),
            localized: None,
        }
    }

    /// A notice with a translation: `message` in English, shown to people
    /// in their language.
    pub fn notice_msg(msg: picow_i18n::Msg) -> Event {
        Event::Notice {
            message: msg.to_string(),
            localized: Some(msg),
        }
    }

    /// The text of a notice for people: in their language when it has a
    /// translation.
    pub fn notice_text(message: &str, localized: Option<&picow_i18n::Msg>) -> String {
        localized.map_or_else(|| message.to_string(), picow_i18n::Msg::localized)
    }

    /// An error report (serve goes on).
    pub fn error(message: impl Into<String>) -> Event {
        Event::Error {
            message: message.into(),
        }
    }
}

/// An event with the time it happened: the JSON form of every event
/// (`{"event":"connected","t":"2026-11-26T09:12:01.123Z","id":1,…}`).
#[derive(Debug, Clone, Copy)]
pub struct Stamped<'a> {
    /// When.
    pub at: SystemTime,
    /// What.
    pub event: &'a Event,
}

impl Serialize for Stamped<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Line<'a> {
            event: &'static str,
            #[serde(serialize_with = "ser_rfc3339")]
            t: SystemTime,
            #[serde(flatten)]
            body: &'a Event,
        }
        Line {
            event: self.event.name(),
            t: self.at,
            body: self.event,
        }
        .serialize(s)
    }
}

fn ser_rfc3339<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&picow_values::time::rfc3339_millis(*at))
}

fn ser_seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn ser_transport<S: Serializer>(t: &Transport, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match t {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    })
}

/// `Data` and `Sent`: `id`, `len`, `text`, then `hex` (the exact bytes).
fn ser_data<S: Serializer>(
    id: &ClientId,
    bytes: &Bytes,
    text: &Arc<str>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut st = s.serialize_struct("Data", 4)?;
    st.serialize_field("id", id)?;
    st.serialize_field("len", &bytes.len())?;
    st.serialize_field("text", &**text)?;
    st.serialize_field("hex", &text::hex(bytes))?;
    st.end()
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
