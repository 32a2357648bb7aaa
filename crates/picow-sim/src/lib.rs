//! A virtual PicoW: the ESP serial ROM loader and flasher-stub dialects over
//! a pseudo-terminal, flash kept in a file, and the checks a real boot makes.
//!
//! - [`slip`] and [`command`]: the wire format, fed bytes as they arrive;
//! - [`loader`]: the loader as a pure state machine (bytes in, bytes and
//!   effects out);
//! - [`flash`]: NOR flash contents, JEDEC id and SFDP;
//! - [`chip`]: what esptool and espflash read from an ESP32-S3 or ESP32-C3.
//!
//! The crate is Unix-only: it needs pseudo-terminals and Unix sockets.
#![cfg(unix)]
#![warn(missing_docs)]

pub mod chip;
pub mod command;
pub mod flash;
pub mod loader;
pub mod slip;

pub use chip::{Chip, Mac};
pub use flash::Flash;
pub use loader::{Effect, Loader};
pub mod boot;
pub mod control;
pub mod device;
pub mod firmware;
pub mod fixture;
pub mod image;
pub mod picow_fw;
pub mod wifi;
