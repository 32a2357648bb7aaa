//! The device configuration record.
//!
//! `picow flash` writes one record at the start of the config partition
//! (see [`crate::layout`]); the firmware reads it at boot. The rest of the
//! partition stays erased (`0xFF`).
//!
//! # Encoding (format version 1)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `PWCF` |
//! | 4 | 1 | format version, `1` |
//! | 5 | 1 | flags: bit 0 UDP (else TCP), bit 1 a board name follows, bit 2 the server is discovered, bit 3 an OTA password follows; other bits 0 |
//! | 6 | 2 | body length `L`, little-endian |
//! | 8 | 2 | `!L` (bitwise complement), little-endian: guards the length itself |
//! | 10 | `L` | body: SSID, password, host, each as `len:u8` + bytes; port `u16` LE; name as `len:u8` + bytes when flag bit 1 is set; OTA password as `len:u8` + bytes when flag bit 3 is set |
//! | 10+`L` | 4 | CRC-32 (ISO-HDLC, as zlib) of bytes `0..10+L`, little-endian |
//!
//! With flag bit 2 (`--server auto`, `auto:NAME`) the host field holds the
//! DNS-SD instance name (empty: the first server found) and the port is 0.
//! Records without it are the same bytes as before the bit existed; a
//! reader that does not know the bit rejects the record (unknown flag bits)
//! instead of acting on it.
//!
//! Every single-bit error is detected: in the length by its complement,
//! anywhere else by the CRC.
//!
//! Decoding never panics: truncated, corrupted, erased or foreign bytes give
//! a [`DecodeError`].

use core::fmt;

use heapless::String;

use crate::forms::{
    self, validate_name, Discover, Host, InputError, Server, ServerAddr, WifiCredentials, HOST_MAX,
    NAME_MAX, PASSWORD_MAX, SSID_MAX,
};
use crate::ota::{OtaPassword, OTA_PASSWORD_MAX};

/// The first four bytes of every record.
pub const MAGIC: [u8; 4] = *b"PWCF";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the body.
pub const HEADER_LEN: usize = 10;
/// Longest possible body.
pub const BODY_MAX: usize =
    1 + SSID_MAX + 1 + PASSWORD_MAX + 1 + HOST_MAX + 2 + 1 + NAME_MAX + 1 + OTA_PASSWORD_MAX;
/// Longest possible record.
pub const RECORD_MAX: usize = HEADER_LEN + BODY_MAX + 4;

const FLAG_UDP: u8 = 0x01;
const FLAG_NAME: u8 = 0x02;
const FLAG_DISCOVER: u8 = 0x04;
const FLAG_OTA_PASSWORD: u8 = 0x08;

pub(crate) const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 as used by the record (the same polynomial and parameters as zlib).
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// How the board talks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// A TCP connection (the tutorial's choice).
    #[default]
    Tcp,
    /// UDP datagrams.
    Udp,
}

impl Transport {
    /// `"tcp"` or `"udp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// Everything the board needs to know: where to connect and how.
///
/// Values of this type are always valid: they are built from validated
/// parts. `Debug` masks the passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    wifi: WifiCredentials,
    server: Server,
    name: Option<String<NAME_MAX>>,
    ota_password: Option<OtaPassword>,
}

impl fmt::Debug for DeviceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceConfig")
            .field("wifi", &self.wifi)
            .field("server", &self.server)
            .field("name", &self.name)
            .field("ota_password", &self.ota_password)
            .finish()
    }
}

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The partition is erased: no config has been written.
    #[error("no config: the config partition is erased")]
    Erased,
    /// The bytes are not a picow record at all.
    #[error("not a picow config record (magic bytes do not match)")]
    Foreign,
    /// Written by a newer (or unknown) format.
    #[error("config record format version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u8),
    /// Fewer bytes than the record needs.
    #[error("config record truncated: needs {needed} bytes, got {got}")]
    Truncated {
        /// Bytes the header says are needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The body length is larger than any valid record's.
    #[error("config record body length {0} exceeds the maximum of {BODY_MAX}")]
    BadLength(usize),
    /// The CRC does not match: a corrupted or half-written record.
    #[error("config record corrupted: CRC-32 is {stored:#010x}, computed {computed:#010x}")]
    BadCrc {
        /// CRC stored in the record.
        stored: u32,
        /// CRC of the bytes as read.
        computed: u32,
    },
    /// The CRC matches but the body does not parse.
    #[error("config record malformed: {0}")]
    Malformed(&'static str),
    /// The CRC matches but a value breaks a rule.
    #[error("config record holds an invalid value: {0}")]
    Invalid(InputError),
    /// The CRC matches but the OTA password breaks a rule.
    #[error("config record holds an invalid value: {0}")]
    OtaPassword(crate::ota::PasswordError),
}

impl DecodeError {
    /// A short machine-readable reason, as used on the console.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Erased => "erased",
            DecodeError::Foreign => "foreign",
            DecodeError::UnsupportedVersion(_) => "version",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadLength(_) => "length",
            DecodeError::BadCrc { .. } => "crc",
            DecodeError::Malformed(_) => "malformed",
            DecodeError::Invalid(_) | DecodeError::OtaPassword(_) => "invalid",
        }
    }
}

/// The output buffer is too small for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("buffer of {got} bytes is too small for a {needed}-byte config record")]
pub struct BufferTooSmall {
    /// Bytes needed.
    pub needed: usize,
    /// Bytes available.
    pub got: usize,
}

impl DeviceConfig {
    /// Builds a config from validated parts (a [`ServerAddr`] or a
    /// [`Server`]); checks the optional name.
    pub fn new(
        wifi: WifiCredentials,
        server: impl Into<Server>,
        name: Option<&str>,
    ) -> Result<DeviceConfig, InputError> {
        let server = server.into();
        let name = match name {
            Some(n) => {
                validate_name(n)?;
                let mut s = String::new();
                let _ = s.push_str(n);
                Some(s)
            }
            None => None,
        };
        Ok(DeviceConfig {
            wifi,
            server,
            name,
            ota_password: None,
        })
    }

    /// The same config with an OTA password (or none: the board then
    /// refuses every update over Wi-Fi).
    pub fn with_ota_password(mut self, password: Option<OtaPassword>) -> DeviceConfig {
        self.ota_password = password;
        self
    }

    /// The OTA password, when one is set. Never print it.
    pub fn ota_password(&self) -> Option<&OtaPassword> {
        self.ota_password.as_ref()
    }

    /// The Wi-Fi network name.
    pub fn ssid(&self) -> &str {
        &self.wifi.ssid
    }

    /// The Wi-Fi password (empty for an open network). Print
    /// [`forms::mask`] of it unless the user asked for secrets.
    pub fn password(&self) -> &str {
        &self.wifi.password
    }

    /// The Wi-Fi credentials.
    pub fn wifi(&self) -> &WifiCredentials {
        &self.wifi
    }

    /// Where to connect, or how to find the server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The optional board name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body_len() + 4
    }

    fn body_len(&self) -> usize {
        let host_len = match &self.server {
            Server::Addr(a) => host_text_len(&a.host),
            Server::Discover(d) => d.instance.as_ref().map_or(0, |n| n.len()),
        };
        1 + self.wifi.ssid.len()
            + 1
            + self.wifi.password.len()
            + 1
            + host_len
            + 2
            + self.name.as_ref().map_or(0, |n| 1 + n.len())
            + self
                .ota_password
                .as_ref()
                .map_or(0, |p| 1 + p.expose().len())
    }

    /// Writes the record into `out` and returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let total = self.encoded_len();
        if out.len() < total {
            return Err(BufferTooSmall {
                needed: total,
                got: out.len(),
            });
        }
        let body_len = self.body_len();
        let mut flags = 0;
        if self.server.transport() == Transport::Udp {
            flags |= FLAG_UDP;
        }
        if matches!(self.server, Server::Discover(_)) {
            flags |= FLAG_DISCOVER;
        }
        if self.name.is_some() {
            flags |= FLAG_NAME;
        }
        if self.ota_password.is_some() {
            flags |= FLAG_OTA_PASSWORD;
        }
        out[..4].copy_from_slice(&MAGIC);
        out[4] = FORMAT_VERSION;
        out[5] = flags;
        out[6..8].copy_from_slice(&(body_len as u16).to_le_bytes());
        out[8..10].copy_from_slice(&(!(body_len as u16)).to_le_bytes());
        let mut w = Writer {
            buf: out,
            pos: HEADER_LEN,
        };
        w.field(self.wifi.ssid.as_bytes());
        w.field(self.wifi.password.as_bytes());
        match &self.server {
            Server::Addr(a) => {
                let mut host: String<HOST_MAX> = String::new();
                // Cannot fail: a valid host's text form fits.
                let _ = fmt::write(&mut host, format_args!("{}", a.host));
                w.field(host.as_bytes());
                w.bytes(&a.port.to_le_bytes());
            }
            Server::Discover(d) => {
                w.field(d.instance.as_ref().map_or(&[][..], |n| n.as_bytes()));
                w.bytes(&0u16.to_le_bytes());
            }
        }
        if let Some(n) = &self.name {
            w.field(n.as_bytes());
        }
        if let Some(p) = &self.ota_password {
            w.field(p.expose().as_bytes());
        }
        let end = w.pos;
        debug_assert_eq!(end, HEADER_LEN + body_len);
        let crc = crc32(&out[..end]);
        out[end..end + 4].copy_from_slice(&crc.to_le_bytes());
        Ok(total)
    }

    /// Encodes into a new vector.
    #[cfg(any(test, feature = "std"))]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![0; self.encoded_len()];
        let n = self.encode(&mut v).expect("sized above");
        v.truncate(n);
        v
    }

    /// Decodes a record from the start of `bytes`; trailing bytes (the
    /// erased rest of the partition) are ignored.
    pub fn decode(bytes: &[u8]) -> Result<DeviceConfig, DecodeError> {
        let head = &bytes[..bytes.len().min(HEADER_LEN)];
        if !head.is_empty() && head.iter().all(|&b| b == 0xFF) {
            return Err(DecodeError::Erased);
        }
        let magic_part = &bytes[..bytes.len().min(4)];
        if magic_part != &MAGIC[..magic_part.len()] {
            return Err(DecodeError::Foreign);
        }
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                got: bytes.len(),
            });
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion(bytes[4]));
        }
        let len = u16::from_le_bytes([bytes[6], bytes[7]]);
        let check = u16::from_le_bytes([bytes[8], bytes[9]]);
        if len != !check {
            return Err(DecodeError::Malformed(
                "body length and its complement disagree",
            ));
        }
        let body_len = len as usize;
        if body_len > BODY_MAX {
            return Err(DecodeError::BadLength(body_len));
        }
        let end = HEADER_LEN + body_len;
        if bytes.len() < end + 4 {
            return Err(DecodeError::Truncated {
                needed: end + 4,
                got: bytes.len(),
            });
        }
        let stored =
            u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
        let computed = crc32(&bytes[..end]);
        if stored != computed {
            return Err(DecodeError::BadCrc { stored, computed });
        }
        let flags = bytes[5];
        if flags & !(FLAG_UDP | FLAG_NAME | FLAG_DISCOVER | FLAG_OTA_PASSWORD) != 0 {
            return Err(DecodeError::Malformed("unknown flag bits"));
        }
        let mut r = Reader {
            buf: &bytes[HEADER_LEN..end],
        };
        let ssid = r.text(SSID_MAX, "SSID")?;
        let password = r.text(PASSWORD_MAX, "password")?;
        let host = r.text(HOST_MAX, "host")?;
        let port = r.take(2).ok_or(DecodeError::Malformed("port missing"))?;
        let port = u16::from_le_bytes([port[0], port[1]]);
        let name = if flags & FLAG_NAME != 0 {
            Some(r.text(NAME_MAX, "name")?)
        } else {
            None
        };
        let ota_password = if flags & FLAG_OTA_PASSWORD != 0 {
            let text = r.text(OTA_PASSWORD_MAX, "OTA password")?;
            Some(OtaPassword::new(text).map_err(DecodeError::OtaPassword)?)
        } else {
            None
        };
        if !r.buf.is_empty() {
            return Err(DecodeError::Malformed("bytes after the last field"));
        }
        let wifi = WifiCredentials::new(ssid, password).map_err(DecodeError::Invalid)?;
        let transport = if flags & FLAG_UDP != 0 {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let server = if flags & FLAG_DISCOVER != 0 {
            if port != 0 {
                return Err(DecodeError::Malformed("a discovery record has a port"));
            }
            let instance = (!host.is_empty()).then_some(host);
            Server::Discover(Discover::new(instance, transport).map_err(DecodeError::Invalid)?)
        } else {
            if port == 0 {
                return Err(DecodeError::Invalid(InputError::Port {
                    port: forms::Snippet::try_from("0").unwrap_or_default(),
                }));
            }
            Server::Addr(ServerAddr {
                host: Host::parse(host).map_err(DecodeError::Invalid)?,
                port,
                transport,
            })
        };
        DeviceConfig::new(wifi, server, name)
            .map(|c| c.with_ota_password(ota_password))
            .map_err(DecodeError::Invalid)
    }
}

fn host_text_len(host: &Host) -> usize {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = fmt::write(&mut c, format_args!("{host}"));
    c.0
}

struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn field(&mut self, b: &[u8]) {
        self.bytes(&[b.len() as u8]);
        self.bytes(b);
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }
    fn text(&mut self, max: usize, what: &'static str) -> Result<&'a str, DecodeError> {
        let len = *self
            .take(1)
            .ok_or(DecodeError::Malformed("field length missing"))?
            .first()
            .unwrap_or(&0) as usize;
        if len > max {
            return Err(DecodeError::Malformed(match what {
                "SSID" => "SSID longer than 32 bytes",
                "password" => "password longer than 64 bytes",
                "host" => "host longer than 253 bytes",
                "OTA password" => "OTA password longer than 64 bytes",
                _ => "name longer than 32 bytes",
            }));
        }
        let b = self
            .take(len)
            .ok_or(DecodeError::Malformed("field runs past the body"))?;
        core::str::from_utf8(b).map_err(|_| DecodeError::Malformed("text field is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: Option<&str>) -> DeviceConfig {
        DeviceConfig::new(
            WifiCredentials::parse("WalnutPi:12345678").unwrap(),
            ServerAddr::parse("192.168.2.118:10000").unwrap(),
            name,
        )
        .unwrap()
    }

    #[test]
    fn known_encoding() {
        let bytes = sample(None).to_bytes();
        assert_eq!(&bytes[..10], b"PWCF\x01\x00\x22\x00\xdd\xff");
        assert_eq!(&bytes[10..19], b"\x08WalnutPi");
        assert_eq!(bytes.len(), 10 + 0x22 + 4);
        // The CRC is the zlib CRC-32 of everything before it.
        let end = bytes.len() - 4;
        assert_eq!(
            u32::from_le_bytes(bytes[end..].try_into().unwrap()),
            crc32(&bytes[..end])
        );
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn decodes_with_erased_tail() {
        let cfg = sample(Some("desk"));
        let mut part = vec![0xFF; 4096];
        let n = cfg.encode(&mut part).unwrap();
        assert_eq!(n, cfg.encoded_len());
        assert_eq!(DeviceConfig::decode(&part).unwrap(), cfg);
    }

    #[test]
    fn classifies_bad_input() {
        assert_eq!(
            DeviceConfig::decode(&[0xFF; 4096]),
            Err(DecodeError::Erased)
        );
        assert_eq!(DeviceConfig::decode(&[0; 64]), Err(DecodeError::Foreign));
        assert!(matches!(
            DeviceConfig::decode(&[]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut b = sample(None).to_bytes();
        b[4] = 2;
        assert_eq!(
            DeviceConfig::decode(&b),
            Err(DecodeError::UnsupportedVersion(2))
        );
        let mut b = sample(None).to_bytes();
        b[6..10].copy_from_slice(&[0xFF, 0x7F, 0x00, 0x80]);
        assert_eq!(
            DeviceConfig::decode(&b),
            Err(DecodeError::BadLength(0x7FFF))
        );
        let mut b = sample(None).to_bytes();
        b[6] ^= 1;
        assert!(matches!(
            DeviceConfig::decode(&b),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn valid_crc_but_bad_values_is_typed() {
        // A record whose CRC is right but whose password is too short.
        let mut b = sample(None).to_bytes();
        // password length byte follows the 1 + 8 SSID bytes
        let pw = HEADER_LEN + 9;
        assert_eq!(b[pw], 8);
        b[pw + 8] = b'\x05'; // control char inside the password
        let end = b.len() - 4;
        let crc = crc32(&b[..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            DeviceConfig::decode(&b),
            Err(DecodeError::Invalid(InputError::PasswordCharset { .. }))
        ));
    }

    #[test]
    fn discovery_records() {
        let wifi = WifiCredentials::parse("WalnutPi:12345678").unwrap();
        let any = DeviceConfig::new(wifi.clone(), Server::parse("auto").unwrap(), None).unwrap();
        let bytes = any.to_bytes();
        assert_eq!(bytes[5], FLAG_DISCOVER);
        // SSID, password, an empty instance and port 0.
        assert_eq!(&bytes[28..31], b"\x00\x00\x00");
        assert_eq!(DeviceConfig::decode(&bytes).unwrap(), any);
        let b =
            DeviceConfig::new(wifi, Server::parse("udp://auto:b").unwrap(), Some("desk")).unwrap();
        let bytes = b.to_bytes();
        assert_eq!(bytes[5], FLAG_DISCOVER | FLAG_UDP | FLAG_NAME);
        assert_eq!(&bytes[28..30], b"\x01b");
        assert_eq!(DeviceConfig::decode(&bytes).unwrap(), b);
        assert_eq!(b.server().to_string(), "udp://auto:b");
        // A port in a discovery record is refused, CRC or not.
        let mut bad = bytes.clone();
        bad[30] = 1;
        let end = bad.len() - 4;
        let crc = crc32(&bad[..end]);
        bad[end..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            DeviceConfig::decode(&bad),
            Err(DecodeError::Malformed("a discovery record has a port"))
        );
    }

    #[test]
    fn debug_never_shows_password() {
        let cfg = sample(None).with_ota_password(Some(OtaPassword::new("ota-secret-1").unwrap()));
        let s = format!("{cfg:?}");
        assert!(!s.contains("12345678"), "{s}");
        assert!(!s.contains("ota-secret-1"), "{s}");
    }

    #[test]
    fn ota_password_round_trips_after_the_name() {
        let pw = OtaPassword::new("ota-secret-1").unwrap();
        let cfg = sample(Some("desk")).with_ota_password(Some(pw.clone()));
        let bytes = cfg.to_bytes();
        assert_eq!(bytes[5], 0x0A, "name and OTA password flags");
        let end = bytes.len() - 4;
        assert_eq!(&bytes[end - 13..end], b"\x0cota-secret-1");
        let back = DeviceConfig::decode(&bytes).unwrap();
        assert_eq!(back.ota_password(), Some(&pw));
        assert_eq!(back, cfg);
        // Without one, the record is exactly what older picow wrote.
        assert_eq!(
            sample(None).with_ota_password(None).to_bytes(),
            sample(None).to_bytes()
        );
        assert_eq!(sample(None).to_bytes()[5], 0);
        // A CRC-valid record whose OTA password breaks the rules is invalid.
        let mut b = bytes.clone();
        b[end - 12] = b'\n';
        let crc = crc32(&b[..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
        let e = DeviceConfig::decode(&b).unwrap_err();
        assert_eq!(e.reason(), "invalid");
        assert!(e.to_string().contains("OTA password"), "{e}");
    }
}
