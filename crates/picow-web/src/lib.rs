//! The browser view of `picow serve` (`picow serve --web`): NetAssist's
//! window as a page, in Chinese and English, with live plots.
//!
//! - [`mod@bridge`]: serve's engine and the pages: an observer of the engine's
//!   events, and the server's backend whose commands become the engine's
//!   controls;
//! - [`server`]: the HTTP and WebSocket server (axum), one WebSocket
//!   session per open page, linked to a [`server::Backend`];
//! - [`security`]: the token, the `Host` and `Origin` checks, the
//!   Content-Security-Policy;
//! - [`protocol`]: the page's commands and the server's `web.*` messages
//!   (the other messages are `picow serve --json` events);
//! - [`encode`]: text in the page's encoding, escapes and hex as bytes;
//! - [`assets`]: the page's files, embedded at build time.
//!
//! Architecture invariant: nothing is loaded from the network, at build
//! time or at run time; a page that closes or reloads never reaches the
//! boards.

pub mod assets;
pub mod bridge;
pub mod encode;
pub mod protocol;
pub mod security;
pub mod server;

pub use bridge::{bridge, Bridge, Defaults, Options, WebObserver};
pub use server::{Backend, PageLink, WebError, WebServer};
