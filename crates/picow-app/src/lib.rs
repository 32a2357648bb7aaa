//! What the picow board does, independent of the hardware.
//!
//! The vendor tutorial's board client, done properly: the Wi-Fi and server
//! settings come from the config partition (written by `picow flash`), the
//! board reconnects with backoff instead of crashing or spinning, TCP reads
//! are treated as the byte stream they are, and a serial console answers
//! `status`, `reboot` and `help`. See [`run`] and `docs/firmware.md`.
//!
//! The code is `no_std`, allocation-free and async, and talks to the
//! hardware only through [`Board`]: `picow-fw` implements it with esp-hal
//! and embassy-net, and the `host` module (feature `host`) with tokio, for the tests
//! and the virtual board (`picow sim`).
//!
//! Architecture invariant: nothing here depends on esp-hal, embassy-net or
//! tokio, except the `host` module behind its feature.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod app;
mod backoff;
pub mod board;
mod discover;
#[cfg(feature = "host")]
pub mod host;
pub mod mdns;
mod ota;

pub use app::{run, AppInfo, Exit, ServerState, WifiState, CONFIG_HINT, LINE_MAX};
pub use backoff::Backoff;
pub use board::{Board, Datagrams, FlashError, Link, NetError, NetInfo, WifiError};

/// The app's timings and sizes (all durations in milliseconds).
pub mod timing {
    /// How long one Wi-Fi join may take before `wifi-timeout` (the
    /// tutorial's 15 s).
    pub const JOIN_TIMEOUT_MS: u32 = 15_000;
    /// Pause before retrying a join attempt that failed inside the window.
    pub const JOIN_RETRY_PAUSE_MS: u32 = 1_000;
    /// First wait after a Wi-Fi timeout; doubles per timeout.
    pub const WIFI_BACKOFF_FIRST_MS: u32 = 2_000;
    /// Longest wait after a Wi-Fi timeout.
    pub const WIFI_BACKOFF_MAX_MS: u32 = 60_000;
    /// First wait after a failed or closed server connection; doubles per
    /// failure, and starts over after a session in which data arrived.
    pub const SERVER_BACKOFF_FIRST_MS: u32 = 1_000;
    /// Longest wait between server connection attempts.
    pub const SERVER_BACKOFF_MAX_MS: u32 = 30_000;
    /// Limit for a DNS lookup or a connection attempt.
    pub const CONNECT_TIMEOUT_MS: u32 = 10_000;
    /// LED while joining Wi-Fi: 300 ms on, 300 ms off (the tutorial's).
    pub const JOINING_PATTERN: &[u32] = &[300, 300];
    /// LED while looking for the server on the LAN (`--server auto`, or a
    /// `.local` name): a short flash every second.
    pub const LOOKING_PATTERN: &[u32] = &[100, 900];
    /// LED without a valid config: two short flashes every 2 s.
    pub const CONFIG_INVALID_PATTERN: &[u32] = &[100, 150, 100, 1_650];
    /// Bytes read from the server at a time (the tutorial's `recv(128)`).
    pub const RX_CHUNK: usize = 128;
    /// Longest console command line; longer input is answered with
    /// `command-error`.
    pub const CONSOLE_LINE_MAX: usize = 64;
    /// How long an image installed over Wi-Fi has to greet its server (or
    /// answer an OTA check) before the board returns to the previous one.
    pub const TRIAL_TIMEOUT_MS: u32 = 300_000;
    /// The OTA handshake (magic to authenticated) must end within this
    /// (ESPHome's device waits as long).
    pub const OTA_HANDSHAKE_TIMEOUT_MS: u32 = 20_000;
    /// Longest wait for the next bytes of an upload (ESPHome's, and what
    /// its uploader waits for an answer).
    pub const OTA_DATA_TIMEOUT_MS: u32 = 90_000;
    /// The answer to the first wrong OTA password waits this long; each
    /// one in a row after it twice as long.
    pub const OTA_AUTH_PENALTY_FIRST_MS: u32 = 1_000;
    /// The longest wait for a wrong password's answer (below the uploaders'
    /// 20 s time-out, so that they report a wrong password, not a time-out).
    pub const OTA_AUTH_PENALTY_MAX_MS: u32 = 16_000;
    /// How long the board waits for the uploader's last byte before rebooting.
    pub const OTA_END_ACK_MS: u32 = 2_000;
}
