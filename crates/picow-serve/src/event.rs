//! The event contract: everything serve reports, and the [`Observer`]s
//! that are told about it (the printers, the log, the terminal view, the
//! web page). `docs/spec-events.md` specifies the JSON form.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use picow_protocol::Transport;

/// A client's short id: `#1`, `#2`, ...
pub type ClientId = u64;

/// A non-loopback address of this host, printed so the user knows what to
/// give the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanAddr {
    /// The interface name.
    pub iface: String,
    /// Its address.
    pub ip: IpAddr,
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
