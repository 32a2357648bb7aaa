//! Updates over Wi-Fi: ESPHome's native OTA protocol (version 2), as
//! `esphome/espota2.py` speaks it, with picow's small extensions.
//!
//! - [`password`]: the OTA password kept in the config record;
//! - [`wire`]: the bytes on the wire (magic, features, response codes);
//! - [`device`]: the board's side as a fed-bytes state machine;
//! - [`image`]: a streaming check of an ESP app image (checksum, SHA-256,
//!   chip, app descriptor);
//! - [`gzip`]: streaming decompression of a compressed upload.
//!
//! See `docs/ota.md` for the protocol as a sequence of bytes.

pub mod device;
pub mod gzip;
pub mod image;
pub mod password;
pub mod wire;

pub use password::{OtaPassword, PasswordError, OTA_PASSWORD_MAX, OTA_PASSWORD_MIN};
