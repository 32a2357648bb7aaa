//! What a front end gives the engine: the listener, the configuration
//! from the flags, and commands while it runs; and how the engine ended.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, UdpSocket};

use crate::event::{ClientId, LanAddr};
use crate::text::Charset;

/// What serve listens on.
#[derive(Debug)]
pub enum Listener {
    /// TCP listeners (one dual-stack socket, or one per address family).
    Tcp(Vec<TcpListener>),
    /// One UDP socket; each peer address is a client.
    Udp(UdpSocket),
}

impl Listener {
    /// TCP or UDP.
    pub fn transport(&self) -> crate::Transport {
        match self {
            Listener::Tcp(_) => crate::Transport::Tcp,
            Listener::Udp(_) => crate::Transport::Udp,
        }
    }

    /// The bound addresses, with the port actually bound.
    pub fn local_addrs(&self) -> Vec<std::net::SocketAddr> {
        match self {
            Listener::Tcp(ls) => ls.iter().filter_map(|l| l.local_addr().ok()).collect(),
            Listener::Udp(s) => s.local_addr().into_iter().collect(),
        }
    }
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
    /// Send a file (`/file`): read a chunk at a time as each client takes
    /// it, so a client that reads gets all of it whatever its size, and
    /// memory stays bounded. The front end checks that it is a regular file.
    SendFile {
        /// To whom.
        target: Target,
        /// The open file.
        file: Arc<std::fs::File>,
        /// How many bytes of it to send (its size).
        len: u64,
    },
    /// Close a client.
    Disconnect(ClientId),
    /// Report the connected clients (an [`Event::Clients`](crate::Event::Clients)).
    List,
    /// Start (`Some`) or stop (`None`) sending bytes periodically.
    Auto(Option<(Duration, Target, Bytes)>),
    /// A message for the user (an [`Event::Notice`](crate::Event::Notice)):
    /// typed, so that each front end shows it in its user's language and
    /// JSON in English; text as it is with `.into()`.
    Notice(picow_i18n::Msg),
    /// Update a PicoW's board over Wi-Fi (`/update ID [FILE]`): the hub
    /// checks that the client is a connected PicoW (else an error event)
    /// and reports an [`Event::Update`](crate::Event::Update) `started`, which the front end's
    /// updater acts on.
    Update {
        /// The client.
        id: ClientId,
        /// The firmware (ELF or app image); `None`: the default one.
        firmware: Option<std::path::PathBuf>,
    },
    /// An event from a front end's helper that runs beside the engine (what
    /// a board's OTA listener said, how an update goes), reported as it is.
    Report(Box<crate::Event>),
    /// Close everything and stop; while serve is stopping, stop at once
    /// (a second Ctrl-C), without reading what the clients' sockets hold.
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
    /// A UDP peer that sends nothing for this long expires (`--udp-idle`).
    pub udp_idle: Duration,
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
            udp_idle: DEFAULT_UDP_IDLE,
            charset: Charset::Utf8,
            lan: Vec::new(),
        }
    }
}

/// How long a UDP peer may stay silent before it expires, by default.
pub const DEFAULT_UDP_IDLE: Duration = Duration::from_secs(120);

/// How the engine stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every `--expect` and `--clients` condition was met.
    Met,
    /// `--timeout` elapsed with conditions unmet.
    TimedOut,
    /// `--timeout` elapsed and there were no conditions.
    Elapsed,
    /// Stopped by a signal or `/quit`, with no condition unmet.
    Stopped,
    /// Stopped by a signal or `/quit` while `--expect` or `--clients`
    /// conditions were still unmet (never a success).
    Interrupted,
}
