//! The event contract: everything serve reports, and the [`Observer`]s
//! that are told about it (the printers, the log, the terminal view, the
//! web page). `docs/spec-events.md` specifies the JSON form.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use picow_i18n::Msg;
use picow_protocol::Transport;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::text;

/// The version of the event schema, in the `listening` event: it grows
/// when events or fields are added; a field is never removed or renamed.
/// Version 3 added `auto`; version 4 added `firmware` and `update`.
pub const SCHEMA_VERSION: u32 = 4;

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

/// Why a client went (or was refused), typed: every front end words it in
/// its user's language ([`Reason::msg`]); the JSON `reason` field is its
/// English words ([`Display`](std::fmt::Display)), the same in every
/// language. [`Reason::code`] is a stable name for pages that translate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The client closed the connection.
    ClosedByPeer,
    /// It closed its side with data still queued for it, and did not take
    /// it within a second.
    ClosedUnsent,
    /// The connection was reset.
    ResetByPeer,
    /// The connection was aborted.
    Aborted,
    /// Reading failed (the system's words).
    ReadFailed(String),
    /// Writing failed (the system's words).
    WriteFailed(String),
    /// Waiting for the socket failed (the system's words).
    SocketFailed(String),
    /// Reading the file being sent failed (the system's words).
    FileFailed(String),
    /// More than this many bytes waited to be sent (`--max-queue`).
    NotReading(usize),
    /// A UDP peer sent nothing for this long (`--udp-idle`).
    Idle(Duration),
    /// `/disconnect`.
    ByUser,
    /// Serve stopped (a signal, `/quit`).
    ServerStopped,
    /// Every `--expect` was seen.
    ExpectationsMet,
    /// `--timeout`.
    Timeout,
    /// Refused: this many clients were connected, the most allowed
    /// (`--max-clients`).
    TooMany {
        /// Connected then.
        connected: usize,
        /// `--max-clients`.
        max: usize,
    },
    /// Words from elsewhere, shown as they are.
    Other(String),
}

impl Reason {
    /// A stable name: `closed_by_peer`, `closed_unsent`, `reset_by_peer`,
    /// `aborted`, `read_failed`, `write_failed`, `socket_failed`,
    /// `file_failed`, `not_reading`, `idle`, `by_user`, `server_stopped`,
    /// `expectations_met`, `timeout`, `too_many`, `other`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::ClosedByPeer => "closed_by_peer",
            Reason::ClosedUnsent => "closed_unsent",
            Reason::ResetByPeer => "reset_by_peer",
            Reason::Aborted => "aborted",
            Reason::ReadFailed(_) => "read_failed",
            Reason::WriteFailed(_) => "write_failed",
            Reason::SocketFailed(_) => "socket_failed",
            Reason::FileFailed(_) => "file_failed",
            Reason::NotReading(_) => "not_reading",
            Reason::Idle(_) => "idle",
            Reason::ByUser => "by_user",
            Reason::ServerStopped => "server_stopped",
            Reason::ExpectationsMet => "expectations_met",
            Reason::Timeout => "timeout",
            Reason::TooMany { .. } => "too_many",
            Reason::Other(_) => "other",
        }
    }

    /// The reason as a message, for the user's language
    /// ([`Msg::localized`](picow_i18n::Msg::localized)); its English is
    /// the same as [`Display`](std::fmt::Display)'s.
    pub fn msg(&self) -> picow_i18n::Msg {
        use picow_i18n::msg;
        match self {
            Reason::ClosedByPeer => msg!("serve-reason-closed-by-peer"),
            Reason::ClosedUnsent => msg!("serve-reason-closed-unsent"),
            Reason::ResetByPeer => msg!("serve-reason-reset"),
            Reason::Aborted => msg!("serve-reason-aborted"),
            Reason::ReadFailed(e) => msg!("serve-reason-read-failed", error = e.as_str()),
            Reason::WriteFailed(e) => msg!("serve-reason-write-failed", error = e.as_str()),
            Reason::SocketFailed(e) => msg!("serve-reason-socket-failed", error = e.as_str()),
            Reason::FileFailed(e) => msg!("serve-reason-file-failed", error = e.as_str()),
            Reason::NotReading(max) => msg!("serve-reason-not-reading", max = max.to_string()),
            Reason::Idle(d) => msg!(
                "serve-reason-idle",
                idle = picow_values::duration::format(*d)
            ),
            Reason::ByUser => msg!("serve-reason-user"),
            Reason::ServerStopped => msg!("serve-reason-stopped"),
            Reason::ExpectationsMet => msg!("serve-reason-met"),
            Reason::Timeout => msg!("serve-reason-timeout"),
            Reason::TooMany { connected, max } => msg!(
                "serve-reason-too-many",
                connected = connected.to_string(),
                max = max.to_string()
            ),
            Reason::Other(s) => picow_i18n::Msg::text(s.as_str()),
        }
    }

    /// In the user's language.
    pub fn localized(&self) -> String {
        self.msg().localized()
    }
}

/// English, the same in every language (the JSON `reason`).
impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::ClosedByPeer => f.write_str("closed by peer"),
            Reason::ClosedUnsent => f.write_str("closed by peer (unsent data dropped)"),
            Reason::ResetByPeer => f.write_str("reset by peer"),
            Reason::Aborted => f.write_str("aborted"),
            Reason::ReadFailed(e) => write!(f, "read failed: {e}"),
            Reason::WriteFailed(e) => write!(f, "write failed: {e}"),
            Reason::SocketFailed(e) => write!(f, "error: {e}"),
            Reason::FileFailed(e) => write!(f, "reading the file failed: {e}"),
            Reason::NotReading(max) => write!(
                f,
                "not reading: more than {max} bytes waiting to be sent (--max-queue)"
            ),
            Reason::Idle(d) => write!(
                f,
                "idle for {} (--udp-idle)",
                picow_values::duration::format(*d)
            ),
            Reason::ByUser => f.write_str("disconnected by the user"),
            Reason::ServerStopped => f.write_str("server stopped"),
            Reason::ExpectationsMet => f.write_str("expectations met"),
            Reason::Timeout => f.write_str("timeout"),
            Reason::TooMany { connected, max } => write!(
                f,
                "{connected} clients already connected (--max-clients {max})"
            ),
            Reason::Other(s) => f.write_str(s),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<&str> for Reason {
    fn from(s: &str) -> Reason {
        Reason::Other(s.to_owned())
    }
}

/// What a running `/auto` did (the `state` of [`Event::Auto`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoState {
    /// It started (or started again with new settings).
    Started,
    /// A tick sent the bytes to its target.
    Sent,
    /// A tick found no client to send to ("all" with none connected); it
    /// goes on.
    Waiting,
    /// Its client is gone: it stopped (a front end that follows the board
    /// starts it again for the board's new id).
    Gone,
    /// Stopped by the user.
    Stopped,
}

/// Where an update over Wi-Fi of a client's board is (the `state` of
/// [`Event::Update`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    /// It starts (`/update`, or `--update` for a board with another image).
    Started,
    /// The image was sent and verified; the board reboots into it.
    Uploaded,
    /// The board came back with the new image.
    Done,
    /// The board already runs this image: nothing was sent.
    Unchanged,
    /// Refused or failed; the board still runs its previous image.
    Failed,
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
    /// What a PicoW's board runs, as its OTA listener answered a query
    /// (after its greeting; nothing when it does not answer).
    Firmware {
        /// The client.
        id: ClientId,
        /// The app version from the image's descriptor.
        version: String,
        /// The project name from the descriptor (`picow-fw`).
        project: String,
        /// The running OTA slot (`0` for `ota_0`), if any.
        slot: Option<u8>,
        /// The chip the image is for (`esp32c3`, ...).
        chip: String,
    },
    /// An update over Wi-Fi of a client's board (`/update`, `--update`).
    Update {
        /// The client it was started for.
        id: ClientId,
        /// Where it is.
        state: UpdateState,
        /// The firmware file, when known (`null` until the default is found).
        firmware: Option<String>,
        /// The version the board runs after it (`done`, `unchanged`).
        version: Option<String>,
        /// Why it failed (`failed`; English).
        error: Option<String>,
    },
    /// A connection was refused.
    Refused {
        /// Its address.
        peer: SocketAddr,
        /// Why.
        reason: Reason,
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
        reason: Reason,
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
        /// The message: typed, in the user's language where people read
        /// it ([`Msg::localized`]), English in JSON.
        #[serde(serialize_with = "ser_display")]
        message: Msg,
    },
    /// Something failed; serve goes on.
    Error {
        /// What failed.
        #[serde(serialize_with = "ser_display")]
        message: Msg,
    },
    /// What `/auto` did: it started, a tick sent (or found no client), it
    /// stopped. `count` is the ticks that sent to at least one client.
    Auto {
        /// What happened.
        state: AutoState,
        /// The period (seconds in JSON).
        #[serde(serialize_with = "ser_seconds")]
        every: Duration,
        /// The client it sends to, or `null` for every client.
        to: Option<ClientId>,
        /// Sends made so far.
        count: u64,
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
            Event::Firmware { .. } => "firmware",
            Event::Update { .. } => "update",
            Event::Refused { .. } => "refused",
            Event::Data { .. } => "data",
            Event::Sent { .. } => "sent",
            Event::Disconnected { .. } => "disconnected",
            Event::Expect { .. } => "expect",
            Event::Clients { .. } => "clients",
            Event::Notice { .. } => "notice",
            Event::Error { .. } => "error",
            Event::Auto { .. } => "auto",
            Event::Timeout { .. } => "timeout",
            Event::Interrupted { .. } => "interrupted",
            Event::Summary(_) => "summary",
        }
    }

    /// A notice for the user (a [`Msg`], or text as it is).
    pub fn notice(message: impl Into<Msg>) -> Event {
        Event::Notice {
            message: message.into(),
        }
    }

    /// An error report (serve goes on).
    pub fn error(message: impl Into<Msg>) -> Event {
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

fn ser_display<S: Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
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
    /// Called now and then, also when no event comes: an error that
    /// happened out of sight (an output thread whose write failed after
    /// the last event) is returned here, and ends serve as it would from
    /// [`Observer::event`].
    fn check(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picow_i18n::Lang;

    fn every_reason() -> Vec<Reason> {
        vec![
            Reason::ClosedByPeer,
            Reason::ClosedUnsent,
            Reason::ResetByPeer,
            Reason::Aborted,
            Reason::ReadFailed("Broken pipe".into()),
            Reason::WriteFailed("Broken pipe".into()),
            Reason::SocketFailed("Bad file descriptor".into()),
            Reason::FileFailed("Input/output error".into()),
            Reason::NotReading(1 << 20),
            Reason::Idle(Duration::from_secs(120)),
            Reason::ByUser,
            Reason::ServerStopped,
            Reason::ExpectationsMet,
            Reason::Timeout,
            Reason::TooMany {
                connected: 1024,
                max: 1024,
            },
            Reason::Other("went away".into()),
        ]
    }

    /// The JSON `reason` is the English words, the same in every language,
    /// and the catalog's English says exactly the same; people read it in
    /// their language.
    #[test]
    fn reasons_are_english_in_json_and_translated_for_people() {
        let mut codes = std::collections::HashSet::new();
        for r in every_reason() {
            assert!(codes.insert(r.code()), "{} twice", r.code());
            let en = r.to_string();
            assert_eq!(r.msg().in_lang(Lang::En), en);
            let json = picow_i18n::with_lang(Lang::ZhCn, || serde_json::to_string(&r).unwrap());
            assert_eq!(json, serde_json::to_string(&en).unwrap());
            let zh = r.msg().in_lang(Lang::ZhCn);
            if !matches!(r, Reason::Other(_)) {
                assert_ne!(zh, en, "{} is not translated", r.code());
            }
        }
        assert_eq!(
            Reason::NotReading(1 << 20).to_string(),
            "not reading: more than 1048576 bytes waiting to be sent (--max-queue)"
        );
        assert_eq!(
            Reason::Idle(Duration::from_secs(120)).to_string(),
            "idle for 2m (--udp-idle)"
        );
    }

    /// The `firmware` and `update` events' JSON form (a contract:
    /// `docs/spec-events.md`).
    #[test]
    fn firmware_and_update_events_in_json() {
        let at = SystemTime::UNIX_EPOCH;
        let json = |e: &Event| serde_json::to_string(&Stamped { at, event: e }).unwrap();
        assert_eq!(
            json(&Event::Firmware {
                id: 2,
                version: "0.2.0".into(),
                project: "picow-fw".into(),
                slot: None,
                chip: "esp32s3".into(),
            }),
            r#"{"event":"firmware","t":"1970-01-01T00:00:00.000Z","id":2,"version":"0.2.0","project":"picow-fw","slot":null,"chip":"esp32s3"}"#
        );
        assert_eq!(
            json(&Event::Update {
                id: 1,
                state: UpdateState::Failed,
                firmware: None,
                version: None,
                error: Some("#1: refused".into()),
            }),
            r##"{"event":"update","t":"1970-01-01T00:00:00.000Z","id":1,"state":"failed","firmware":null,"version":null,"error":"#1: refused"}"##
        );
        for (s, w) in [
            (UpdateState::Started, "started"),
            (UpdateState::Uploaded, "uploaded"),
            (UpdateState::Done, "done"),
            (UpdateState::Unchanged, "unchanged"),
        ] {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{w}\""));
        }
    }

    /// Notices and errors carry a typed message: English in JSON whatever
    /// the language.
    #[test]
    fn notices_are_english_in_json() {
        let e = Event::notice(picow_i18n::msg!("serve-auto-every", every = "1s"));
        let at = SystemTime::UNIX_EPOCH;
        let json = picow_i18n::with_lang(Lang::ZhCn, || {
            serde_json::to_string(&Stamped { at, event: &e }).unwrap()
        });
        assert_eq!(
            json,
            r#"{"event":"notice","t":"1970-01-01T00:00:00.000Z","message":"auto-send every 1s"}"#
        );
        let Event::Notice { message } = &e else {
            unreachable!()
        };
        assert_eq!(message.in_lang(Lang::ZhCn), "每 1s 自动发送一次");
        let auto = Event::Auto {
            state: AutoState::Sent,
            every: Duration::from_millis(500),
            to: Some(3),
            count: 7,
        };
        assert_eq!(
            serde_json::to_string(&Stamped { at, event: &auto }).unwrap(),
            r#"{"event":"auto","t":"1970-01-01T00:00:00.000Z","state":"sent","every":0.5,"to":3,"count":7}"#
        );
    }
}
