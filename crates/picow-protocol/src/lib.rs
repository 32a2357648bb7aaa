//! The interface definition shared by both ends of picow.
//!
//! `picow-protocol` holds everything that the host tools (`picow serve`,
//! `flash`, `monitor`, `probe`, `sim`) and the board firmware (`picow-app`,
//! `picow-fw`) must agree on, and nothing else:
//!
//! - [`config`]: the device configuration record that `picow flash` writes
//!   into the config partition and the firmware reads at boot;
//! - [`config_partition`]: the config partition as a log of records (so that
//!   a change over Wi-Fi survives a power cut);
//! - [`forms`]: parsing of the command-line forms `--wifi SSID:PASS` and
//!   `--server HOST:PORT` / `auto` / `auto:NAME`, with errors that name the
//!   part and the rule;
//! - [`discovery`]: the DNS-SD service types, TXT keys and names by which
//!   the server and the boards find each other on the LAN;
//! - [`layout`]: the flash layout (partition tables for 8 MB and 4 MB flash);
//! - [`otadata`]: ESP-IDF's record of which app slot boots, and its trial state;
//! - [`ota`]: updates over Wi-Fi (ESPHome's OTA protocol, image checks);
//! - [`session`]: the TCP/UDP session with the PC (greeting, echo prefix,
//!   feed-style line decoder);
//! - [`console`]: the line format the firmware prints on its serial console
//!   and that `monitor` and `probe` parse.
//!
//! Architecture invariant: this crate does no I/O and depends on nothing from
//! tokio, serialport or esp-hal. It is `no_std` without the `std` feature and
//! never allocates.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod config_partition;
pub mod console;
pub mod discovery;
pub mod forms;
pub mod layout;
pub mod ota;
pub mod otadata;
pub mod session;

pub use config::{DeviceConfig, Transport};
