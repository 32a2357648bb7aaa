//! The engine of `picow serve` as a library: it accepts TCP clients (or UDP
//! peers), reads and writes their bytes, and reports everything that happens
//! as one typed [`Event`] model to [`Observer`]s. Every front end renders the
//! same events: the plain lines, the JSON lines and the byte log
//! ([`observe`]), picow-cli's terminal view, and any future one.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use picow_serve::{bind, Config, Observer};
//! let listener = bind(Some("127.0.0.1".parse().unwrap()), 0, false).unwrap();
//! let (_ctl_tx, ctl_rx) = tokio::sync::mpsc::channel(16);
//! let observers: Vec<Box<dyn Observer>> =
//!     vec![Box::new(picow_serve::observe::Json::new(std::io::stdout()))];
//! let outcome = picow_serve::run(listener, Config::default(), observers, ctl_rx, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # let _ = outcome; Ok(()) }
//! ```
//!
//! The parts, by job:
//! - [`event`]: the event contract and the [`Observer`] trait;
//! - [`control`]: what a front end gives the engine ([`Listener`],
//!   [`Config`], [`Control`]) and how it ended ([`Outcome`]);
//! - `queue`: a client's bounded outgoing queue;
//! - `tcp`, `udp`: the accept loop and the client tasks;
//! - `hub`: the client table, the script and the observers, without I/O;
//! - [`run`]: all of it together, until a condition, a timeout or shutdown;
//! - [`listen`]: binding the listener and finding the LAN addresses;
//! - [`observe`]: plain lines, JSON lines, the byte log, a thread per output;
//! - [`script`]: `--expect` and `--clients`;
//! - [`text`]: decoding, escaping and hex; [`encode`]: typed text to bytes
//!   in the chosen encoding;
//! - [`addrs`]: which of this computer's addresses to give the board;
//! - [`advertise`]: serve on the LAN by DNS-SD (`_picow._tcp`,
//!   `picow.local`), beside the engine;
//! - [`clients`]: the client list a person sees (live first, departed ones
//!   grouped, a selection that follows a board that reconnects), for the
//!   terminal view and the web page.
//!
//! Architecture invariant: an idle client costs no read buffer. Each client
//! task waits for readiness and reads with `try_read` into one buffer per
//! worker thread; what it holds between reads is its socket, a small shared
//! outgoing queue and a few counters. A client's outgoing queue is bounded
//! (`max_queue`): a client that stops reading is dropped, never buffered
//! without limit, and never delays the others.

pub mod addrs;
pub mod advertise;
pub mod clients;
mod conn;
pub mod control;
pub mod encode;
mod engine;
pub mod event;
mod hub;
pub mod listen;
pub mod observe;
mod queue;
pub mod script;
mod tcp;
pub mod text;
mod udp;

pub use control::{Config, Control, Listener, Outcome, Target};
pub use engine::run;
pub use event::{
    AutoState, ClientId, ClientInfo, Event, Kind, LanAddr, Observer, Reason, Summary, UpdateState,
};
pub use listen::{bind, lan_addresses, BindError};
pub use picow_protocol::Transport;
