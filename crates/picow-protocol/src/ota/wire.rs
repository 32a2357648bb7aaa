//! The bytes of ESPHome's native OTA protocol, version 2, as ESPHome's
//! uploader (`esphome/espota2.py`) and its device side
//! (`esphome/components/esphome/ota`) exchange them, and picow's
//! extensions (marked below), which only a client that asks for them sees.
//!
//! ```text
//! client                                   device
//! 6C 26 F7 5C 45 (magic)            ──▶
//!                                   ◀──    00 02 (OK, version 2)
//! features (01 gzip, 02 SHA-256
//!   auth, 04 extended, 80 picow)    ──▶
//!                                   ◀──    48 flags (extended; flags 01 gzip,
//!                                          80 picow, then 6 MAC bytes with 80)
//!                                          or 46 (gzip) or 40 (neither)
//!                                   ◀──    02 + 64 hex nonce (SHA-256), or
//!                                          01 + 32 hex nonce (MD5), or
//!                                          41 (no password), or 82 (refused)
//! cnonce (as long as the nonce) and
//!   hex H(password nonce cnonce)    ──▶
//!                                   ◀──    41 (auth OK) or 82
//! OTA type (extended only: 00 app;
//!   picow: 70 query, 71 config)     ──▶
//! size, u32 big-endian              ──▶
//!                                   ◀──    42 (prepared) or an error
//! MD5 of the upload, 32 hex         ──▶
//!                                   ◀──    43
//! the upload                        ──▶
//!                                   ◀──    47 after every 8192 bytes and at the end
//!                                   ◀──    44 (received), then 45 (verified) or an error
//! 00                                ──▶    (the device reboots)
//! ```
//!
//! A picow query (OTA type `70`) is answered with a [`QueryInfo`] record
//! instead of `42`, and the connection ends.

/// What a client sends first.
pub const MAGIC: [u8; 5] = [0x6C, 0x26, 0xF7, 0x5C, 0x45];
/// The protocol version picow speaks (acknowledged chunks).
pub const VERSION: u8 = 2;
/// A chunk of the upload is acknowledged after this many bytes.
pub const BLOCK: u32 = 8192;
/// TCP port of the OTA listener on an ESP32.
pub const PORT: u16 = 3232;

/// Feature bits a client sends.
pub mod client_features {
    /// The client can send a gzip-compressed upload.
    pub const COMPRESSION: u8 = 0x01;
    /// The client can answer a SHA-256 challenge.
    pub const SHA256_AUTH: u8 = 0x02;
    /// The client sends an OTA type byte and reads feature flags.
    pub const EXTENDED: u8 = 0x04;
    /// picow: the client wants the board's MAC after the feature flags and
    /// may send a query ([`super::ota_type::PICOW_QUERY`]).
    pub const PICOW: u8 = 0x80;
}

/// Feature bits a device answers with (after [`response::FEATURE_FLAGS`]).
pub mod server_features {
    /// The device takes a gzip-compressed upload.
    pub const COMPRESSION: u8 = 0x01;
    /// The device can write the partition table and the bootloader.
    pub const PARTITION_ACCESS: u8 = 0x02;
    /// picow: six MAC bytes follow, and queries are answered.
    pub const PICOW: u8 = 0x80;
}

/// What the client updates (extended protocol).
pub mod ota_type {
    /// The app.
    pub const APP: u8 = 0x00;
    /// The partition table (not accepted by picow).
    pub const PARTITION_TABLE: u8 = 0x01;
    /// The bootloader (not accepted by picow).
    pub const BOOTLOADER: u8 = 0x02;
    /// picow: no update; the device answers with a [`super::QueryInfo`].
    pub const PICOW_QUERY: u8 = 0x70;
    /// picow: a config record (`picow flash --ota --config-only`), not
    /// compressed; the device checks it as at boot and keeps its partition
    /// log.
    pub const PICOW_CONFIG: u8 = 0x71;
}

/// Response codes.
pub mod response {
    /// OK (after the magic, and the client's final acknowledgement).
    pub const OK: u8 = 0x00;
    /// MD5 challenge follows.
    pub const REQUEST_AUTH: u8 = 0x01;
    /// SHA-256 challenge follows.
    pub const REQUEST_SHA256_AUTH: u8 = 0x02;
    /// Features acknowledged, no compression.
    pub const HEADER_OK: u8 = 0x40;
    /// Authenticated.
    pub const AUTH_OK: u8 = 0x41;
    /// Ready for the upload.
    pub const UPDATE_PREPARE_OK: u8 = 0x42;
    /// MD5 received.
    pub const BIN_MD5_OK: u8 = 0x43;
    /// All bytes received.
    pub const RECEIVE_OK: u8 = 0x44;
    /// Verified and activated.
    pub const UPDATE_END_OK: u8 = 0x45;
    /// Features acknowledged, compression accepted.
    pub const SUPPORTS_COMPRESSION: u8 = 0x46;
    /// A chunk was written.
    pub const CHUNK_OK: u8 = 0x47;
    /// Feature flags follow (extended protocol).
    pub const FEATURE_FLAGS: u8 = 0x48;
    /// picow: a [`super::QueryInfo`] record follows.
    pub const PICOW_INFO: u8 = 0x50;

    /// Wrong magic.
    pub const ERROR_MAGIC: u8 = 0x80;
    /// The update could not be prepared.
    pub const ERROR_UPDATE_PREPARE: u8 = 0x81;
    /// Wrong password (or none set on the device).
    pub const ERROR_AUTH_INVALID: u8 = 0x82;
    /// Writing flash failed.
    pub const ERROR_WRITING_FLASH: u8 = 0x83;
    /// The image did not verify.
    pub const ERROR_UPDATE_END: u8 = 0x84;
    /// The app slot is too small.
    pub const ERROR_ESP32_NOT_ENOUGH_SPACE: u8 = 0x89;
    /// No slot to update (a partition table without OTA slots).
    pub const ERROR_NO_UPDATE_PARTITION: u8 = 0x8A;
    /// The MD5 of the upload does not match.
    pub const ERROR_MD5_MISMATCH: u8 = 0x8B;
    /// The OTA type is not supported.
    pub const ERROR_UNSUPPORTED_OTA_TYPE: u8 = 0x8E;
    /// Anything else.
    pub const ERROR_UNKNOWN: u8 = 0xFF;

    /// What a response code means, for messages (ESPHome's wording where
    /// it has one).
    pub fn describe(code: u8) -> &'static str {
        match code {
            ERROR_MAGIC => "invalid magic bytes",
            ERROR_UPDATE_PREPARE => "the board could not prepare the update",
            ERROR_AUTH_INVALID => "authentication invalid (wrong OTA password, or none set)",
            ERROR_WRITING_FLASH => "writing flash failed on the board",
            ERROR_UPDATE_END => "the image did not verify on the board",
            ERROR_ESP32_NOT_ENOUGH_SPACE => "the image is larger than the board's app slot",
            ERROR_NO_UPDATE_PARTITION => "the board's partition table has no OTA slots",
            ERROR_MD5_MISMATCH => "the MD5 of the upload does not match",
            ERROR_UNSUPPORTED_OTA_TYPE => "the board does not support this OTA type",
            0x85..=0x92 => "the board refused the update",
            _ => "unknown error from the board",
        }
    }
}

/// What a picow board says about itself when queried (after auth, OTA
/// type [`ota_type::PICOW_QUERY`]): [`response::PICOW_INFO`], a length
/// byte, then the fields.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | record version, 1 |
/// | 1 | 1 | running slot (`ota_N` → N, `0xFF` none) |
/// | 2 | 1 | otadata state of the running image (`ImageState::raw`, low byte; `0xFE` none) |
/// | 3 | 1 | 1 if this query confirmed an image in trial |
/// | 4 | 2 | chip id of the image, big-endian |
/// | 6 | 4 | image length, big-endian |
/// | 10 | 32 | the image's SHA-256 |
/// | 42 | 32 | the SHA-256 of the ELF it was made from (its app descriptor) |
/// | 74 | 4 | flash size, big-endian |
/// | 78 | 1+n | app version (length, then n ≤ 32 bytes) |
/// | … | 1+n | project name (length, then n ≤ 32 bytes) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInfo {
    /// The running OTA slot, if any.
    pub slot: Option<u8>,
    /// The otadata state of the running image, raw (low byte), if known.
    pub state: Option<u8>,
    /// Whether this query confirmed an image in trial.
    pub confirmed: bool,
    /// Chip id in the running image's header.
    pub chip_id: u16,
    /// Length of the running image.
    pub image_len: u32,
    /// SHA-256 of the running image (its appended hash).
    pub sha256: [u8; 32],
    /// SHA-256 of the ELF the running image was made from (from its app
    /// descriptor; zero when it has none).
    pub elf_sha256: [u8; 32],
    /// The board's flash size (from its partition table).
    pub flash_size: u32,
    /// App version from its descriptor.
    pub version: heapless::String<32>,
    /// Project name from its descriptor.
    pub project: heapless::String<32>,
}

/// Longest encoded [`QueryInfo`] (with the response code and length byte).
pub const QUERY_INFO_MAX: usize = 2 + 78 + 1 + 32 + 1 + 32;

impl QueryInfo {
    /// Writes the record (response code and length included) into `out`;
    /// returns its length.
    pub fn encode(&self, out: &mut [u8; QUERY_INFO_MAX]) -> usize {
        let v = self.version.as_bytes();
        let p = self.project.as_bytes();
        let body = 78 + 1 + v.len() + 1 + p.len();
        out[0] = response::PICOW_INFO;
        out[1] = body as u8;
        let b = &mut out[2..];
        b[0] = 1;
        b[1] = self.slot.unwrap_or(0xFF);
        b[2] = self.state.unwrap_or(0xFE);
        b[3] = u8::from(self.confirmed);
        b[4..6].copy_from_slice(&self.chip_id.to_be_bytes());
        b[6..10].copy_from_slice(&self.image_len.to_be_bytes());
        b[10..42].copy_from_slice(&self.sha256);
        b[42..74].copy_from_slice(&self.elf_sha256);
        b[74..78].copy_from_slice(&self.flash_size.to_be_bytes());
        b[78] = v.len() as u8;
        b[79..79 + v.len()].copy_from_slice(v);
        let at = 79 + v.len();
        b[at] = p.len() as u8;
        b[at + 1..at + 1 + p.len()].copy_from_slice(p);
        2 + body
    }

    /// Reads the body (what follows the response code and the length
    /// byte); `None` when it is malformed.
    pub fn decode(body: &[u8]) -> Option<QueryInfo> {
        if body.len() < 79 || body[0] != 1 {
            return None;
        }
        let text = |at: usize| -> Option<(heapless::String<32>, usize)> {
            let n = *body.get(at)? as usize;
            let bytes = body.get(at + 1..at + 1 + n)?;
            let mut s = heapless::String::new();
            s.push_str(core::str::from_utf8(bytes).ok()?).ok()?;
            Some((s, at + 1 + n))
        };
        let (version, next) = text(78)?;
        let (project, _) = text(next)?;
        let mut sha256 = [0; 32];
        sha256.copy_from_slice(&body[10..42]);
        let mut elf_sha256 = [0; 32];
        elf_sha256.copy_from_slice(&body[42..74]);
        Some(QueryInfo {
            slot: (body[1] != 0xFF).then_some(body[1]),
            state: (body[2] != 0xFE).then_some(body[2]),
            confirmed: body[3] == 1,
            chip_id: u16::from_be_bytes([body[4], body[5]]),
            image_len: u32::from_be_bytes([body[6], body[7], body[8], body[9]]),
            sha256,
            elf_sha256,
            flash_size: u32::from_be_bytes([body[74], body[75], body[76], body[77]]),
            version,
            project,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_info_round_trips() {
        let mut info = QueryInfo {
            slot: Some(1),
            state: Some(2),
            confirmed: true,
            chip_id: 5,
            image_len: 541_000,
            sha256: [7; 32],
            elf_sha256: [8; 32],
            flash_size: 4 << 20,
            version: heapless::String::new(),
            project: heapless::String::new(),
        };
        info.version.push_str("0.2.0").unwrap();
        info.project.push_str("picow-fw").unwrap();
        let mut buf = [0; QUERY_INFO_MAX];
        let n = info.encode(&mut buf);
        assert_eq!(buf[0], response::PICOW_INFO);
        assert_eq!(buf[1] as usize, n - 2);
        assert_eq!(QueryInfo::decode(&buf[2..n]), Some(info.clone()));
        assert_eq!(QueryInfo::decode(&buf[2..n - 1]), None);
        let none = QueryInfo {
            slot: None,
            state: None,
            ..info
        };
        let n = none.encode(&mut buf);
        assert_eq!(QueryInfo::decode(&buf[2..n]), Some(none));
        // A full-length record fits.
        let mut long = QueryInfo::decode(&buf[2..n]).unwrap();
        long.version = heapless::String::try_from("v".repeat(32).as_str()).unwrap();
        long.project = heapless::String::try_from("p".repeat(32).as_str()).unwrap();
        assert_eq!(long.encode(&mut buf), QUERY_INFO_MAX);
    }
}
