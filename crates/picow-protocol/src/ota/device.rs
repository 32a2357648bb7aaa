//! The board's side of the OTA protocol (see [`super::wire`]) as a state
//! machine fed with the bytes that arrive: no I/O, no allocation, no panic
//! on any input; a partial field is "need more".
//!
//! The caller reads from the connection and feeds the bytes with
//! [`Device::feed`]; after every call it first sends what
//! [`Device::take_output`] holds, then acts on the [`Event`] (and feeds the
//! rest of the bytes again, also when none are left: an event may follow).
//! Decisions that need the board (is there room for this size, is the image
//! valid) are events the caller answers with [`Device::accept`],
//! [`Device::finish`], [`Device::refuse`] or [`Device::answer`], and then
//! sends the output again. Time-outs and the pause after a wrong password
//! are the caller's too.
//!
//! The acknowledgement of upload bytes is staged by the `feed` after the
//! one that returned them as [`Event::Data`], so it goes out only once the
//! caller has written them.

use core::fmt::Write as _;

use heapless::{String, Vec};
use md5::{Digest as _, Md5};
use sha2::{Digest as _, Sha256};

use super::wire::{
    client_features, ota_type, response, server_features, QueryInfo, BLOCK, MAGIC, QUERY_INFO_MAX,
    VERSION,
};
use super::OtaPassword;

/// Room for the bytes one call stages: the feature flags with the MAC, and
/// a challenge with its 64-digit nonce.
const OUT_MAX: usize = 2 + 6 + 1 + 64 + QUERY_INFO_MAX;

/// What the board offers.
#[derive(Debug, Clone)]
pub struct Offer<'a> {
    /// The OTA password; `None` refuses every client at the auth step.
    pub password: Option<&'a OtaPassword>,
    /// Whether a gzip-compressed upload is taken.
    pub compression: bool,
    /// The board's MAC, sent to clients that ask for picow's extensions.
    pub mac: [u8; 6],
    /// Random bytes for the challenge nonce (fresh for every connection).
    pub random: [u8; 32],
}

/// What the caller has to do after a [`Device::feed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// Every byte was consumed; read more.
    NeedMore,
    /// The client sent the wrong password (or the board has none). The
    /// refusal is staged: send it after a pause (rate limit), then close.
    AuthFailed {
        /// Whether the board has a password at all.
        password_set: bool,
    },
    /// The client broke the protocol; the error code is staged: send it
    /// and close.
    Violation(u8),
    /// The client wants to upload `size` bytes (of the gzip stream when
    /// `compressed`): [`Device::accept`] or [`Device::refuse`].
    Begin {
        /// The OTA type: [`ota_type::APP`], or [`ota_type::PICOW_CONFIG`]
        /// from a picow client.
        ota_type: u8,
        /// Bytes that will be sent.
        size: u32,
        /// Whether they are a gzip stream.
        compressed: bool,
    },
    /// The client asks what runs: [`Device::answer`], then close.
    Query,
    /// Upload bytes, in order: write them.
    Data(&'a [u8]),
    /// The last byte arrived (`44` is staged, with the last
    /// acknowledgement). With `md5_ok` verify the image and
    /// [`Device::finish`] or [`Device::refuse`]; without, refuse with
    /// [`response::ERROR_MD5_MISMATCH`].
    Received {
        /// Whether the MD5 of the upload matches the one announced.
        md5_ok: bool,
    },
    /// The client acknowledged the end: the update is complete.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Magic,
    Features,
    Auth,
    OtaType,
    Size,
    AwaitAccept,
    Md5,
    Data,
    AwaitFinish,
    Ack,
    AwaitAnswer,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Md5,
    Sha256,
}

impl AuthKind {
    fn hex_len(self) -> usize {
        match self {
            AuthKind::Md5 => 32,
            AuthKind::Sha256 => 64,
        }
    }
}

/// One connection's state.
#[derive(Debug, Clone)]
pub struct Device<'a> {
    offer: Offer<'a>,
    phase: Phase,
    buf: [u8; 128],
    have: usize,
    out: Vec<u8, OUT_MAX>,
    client: u8,
    extended: bool,
    compressed: bool,
    ota_type: u8,
    auth: AuthKind,
    nonce: [u8; 64],
    size: u32,
    received: u32,
    acked: u32,
    /// Bytes handed out as data and not yet acknowledged.
    unacked: bool,
    announced: bool,
    md5_expected: [u8; 32],
    md5: Md5,
}

fn hex_lower(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        if let Some(pair) = out.get_mut(2 * i..2 * i + 2) {
            pair[0] = DIGITS[(b >> 4) as usize];
            pair[1] = DIGITS[(b & 15) as usize];
        }
    }
}

/// Equal hex digits, case-insensitive, in time independent of where they differ.
fn hex_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| {
            acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
        }) == 0
}

impl<'a> Device<'a> {
    /// A connection just accepted.
    pub fn new(offer: Offer<'a>) -> Device<'a> {
        Device {
            offer,
            phase: Phase::Magic,
            buf: [0; 128],
            have: 0,
            out: Vec::new(),
            client: 0,
            extended: false,
            compressed: false,
            ota_type: ota_type::APP,
            auth: AuthKind::Sha256,
            nonce: [0; 64],
            size: 0,
            received: 0,
            acked: 0,
            unacked: false,
            announced: false,
            md5_expected: [0; 32],
            md5: Md5::new(),
        }
    }

    /// The bytes to send now (empty when there are none).
    pub fn take_output(&mut self) -> Vec<u8, OUT_MAX> {
        core::mem::take(&mut self.out)
    }

    /// Whether the connection is over (after a refusal, a violation, a
    /// query's answer or the end).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Bytes of the upload received so far, and the announced size.
    pub fn progress(&self) -> (u32, u32) {
        (self.received, self.size)
    }

    /// Whether the client authenticated.
    pub fn authenticated(&self) -> bool {
        matches!(
            self.phase,
            Phase::OtaType
                | Phase::Size
                | Phase::AwaitAccept
                | Phase::Md5
                | Phase::Data
                | Phase::AwaitFinish
                | Phase::Ack
                | Phase::AwaitAnswer
        )
    }

    fn push(&mut self, bytes: &[u8]) {
        // Cannot overflow: OUT_MAX covers the most one step stages.
        let _ = self.out.extend_from_slice(bytes);
    }

    /// Ends the connection with `code` staged.
    pub fn refuse(&mut self, code: u8) {
        self.push(&[code]);
        self.phase = Phase::Closed;
    }

    /// Answers [`Event::Begin`]: the board is ready for the upload.
    pub fn accept(&mut self) {
        if self.phase == Phase::AwaitAccept {
            self.push(&[response::UPDATE_PREPARE_OK]);
            self.phase = Phase::Md5;
        }
    }

    /// Answers [`Event::Received`]: the image is verified and activated.
    pub fn finish(&mut self) {
        if self.phase == Phase::AwaitFinish {
            self.push(&[response::UPDATE_END_OK]);
            self.phase = Phase::Ack;
        }
    }

    /// Answers [`Event::Query`].
    pub fn answer(&mut self, info: &QueryInfo) {
        if self.phase == Phase::AwaitAnswer {
            let mut buf = [0; QUERY_INFO_MAX];
            let n = info.encode(&mut buf);
            self.push(&buf[..n]);
            self.phase = Phase::Closed;
        }
    }

    /// Gathers a fixed-size field; true when complete.
    fn gather(&mut self, input: &[u8], want: usize, used: &mut usize) -> bool {
        let take = want.saturating_sub(self.have).min(input.len());
        self.buf[self.have..self.have + take].copy_from_slice(&input[..take]);
        self.have += take;
        *used += take;
        if self.have == want {
            self.have = 0;
            true
        } else {
            false
        }
    }

    /// Feeds bytes from the client: returns how many were consumed and what
    /// to do. Call again with the rest after handling the event.
    pub fn feed<'i>(&mut self, input: &'i [u8]) -> (usize, Event<'i>) {
        let mut used = 0;
        if self.unacked {
            // The caller came back: the data of the last event is written.
            self.unacked = false;
            // ESPHome acknowledges every full block and the end.
            while self.acked.saturating_add(BLOCK) <= self.received
                || (self.received == self.size && self.acked < self.size)
            {
                self.push(&[response::CHUNK_OK]);
                self.acked = self.acked.saturating_add(BLOCK);
            }
        }
        loop {
            let rest = &input[used..];
            match self.phase {
                Phase::AwaitFinish if !self.announced => {
                    self.announced = true;
                    let digest = self.md5.clone().finalize();
                    let mut hex = [0u8; 32];
                    hex_lower(&digest, &mut hex);
                    self.push(&[response::RECEIVE_OK]);
                    return (
                        used,
                        Event::Received {
                            md5_ok: hex_eq(&hex, &self.md5_expected),
                        },
                    );
                }
                Phase::Closed | Phase::AwaitAccept | Phase::AwaitFinish | Phase::AwaitAnswer => {
                    // Nothing more is read until the caller answers; bytes
                    // after the end are ignored.
                    if self.phase == Phase::Closed {
                        return (input.len(), Event::NeedMore);
                    }
                    return (used, Event::NeedMore);
                }
                _ if rest.is_empty() => return (used, Event::NeedMore),
                Phase::Magic => {
                    if !self.gather(rest, MAGIC.len(), &mut used) {
                        // A wrong byte is refused at once.
                        if self.buf[..self.have] != MAGIC[..self.have] {
                            self.refuse(response::ERROR_MAGIC);
                            return (used, Event::Violation(response::ERROR_MAGIC));
                        }
                        continue;
                    }
                    if self.buf[..MAGIC.len()] != MAGIC {
                        self.refuse(response::ERROR_MAGIC);
                        return (used, Event::Violation(response::ERROR_MAGIC));
                    }
                    self.push(&[response::OK, VERSION]);
                    self.phase = Phase::Features;
                }
                Phase::Features => {
                    if !self.gather(rest, 1, &mut used) {
                        continue;
                    }
                    if let Some(e) = self.features(self.buf[0]) {
                        return (used, e);
                    }
                }
                Phase::Auth => {
                    let want = 2 * self.auth.hex_len();
                    if !self.gather(rest, want, &mut used) {
                        continue;
                    }
                    if !self.check_auth() {
                        self.push(&[response::ERROR_AUTH_INVALID]);
                        self.phase = Phase::Closed;
                        return (used, Event::AuthFailed { password_set: true });
                    }
                    self.push(&[response::AUTH_OK]);
                    self.phase = if self.extended {
                        Phase::OtaType
                    } else {
                        Phase::Size
                    };
                }
                Phase::OtaType => {
                    if !self.gather(rest, 1, &mut used) {
                        continue;
                    }
                    match self.buf[0] {
                        ota_type::APP => self.phase = Phase::Size,
                        ota_type::PICOW_CONFIG if self.client & client_features::PICOW != 0 => {
                            self.ota_type = ota_type::PICOW_CONFIG;
                            self.phase = Phase::Size;
                        }
                        ota_type::PICOW_QUERY if self.client & client_features::PICOW != 0 => {
                            self.phase = Phase::AwaitAnswer;
                            return (used, Event::Query);
                        }
                        _ => {
                            self.refuse(response::ERROR_UNSUPPORTED_OTA_TYPE);
                            return (used, Event::Violation(response::ERROR_UNSUPPORTED_OTA_TYPE));
                        }
                    }
                }
                Phase::Size => {
                    if !self.gather(rest, 4, &mut used) {
                        continue;
                    }
                    let b = &self.buf;
                    self.size = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    if self.size == 0 {
                        self.refuse(response::ERROR_UPDATE_PREPARE);
                        return (used, Event::Violation(response::ERROR_UPDATE_PREPARE));
                    }
                    self.phase = Phase::AwaitAccept;
                    return (
                        used,
                        Event::Begin {
                            ota_type: self.ota_type,
                            size: self.size,
                            compressed: self.compressed,
                        },
                    );
                }
                Phase::Md5 => {
                    if !self.gather(rest, 32, &mut used) {
                        continue;
                    }
                    if !self.buf[..32].iter().all(u8::is_ascii_hexdigit) {
                        self.refuse(response::ERROR_MD5_MISMATCH);
                        return (used, Event::Violation(response::ERROR_MD5_MISMATCH));
                    }
                    self.md5_expected.copy_from_slice(&self.buf[..32]);
                    self.push(&[response::BIN_MD5_OK]);
                    self.phase = Phase::Data;
                }
                Phase::Data => {
                    let n = rest.len().min((self.size - self.received) as usize);
                    let data = &rest[..n];
                    used += n;
                    self.md5.update(data);
                    self.received += n as u32;
                    self.unacked = true;
                    if self.received == self.size {
                        self.phase = Phase::AwaitFinish;
                    }
                    return (used, Event::Data(data));
                }
                Phase::Ack => {
                    used += 1;
                    self.phase = Phase::Closed;
                    return (used, Event::Done);
                }
            }
        }
    }

    fn features(&mut self, client: u8) -> Option<Event<'static>> {
        self.client = client;
        self.extended = client & client_features::EXTENDED != 0;
        self.compressed = self.offer.compression && client & client_features::COMPRESSION != 0;
        let picow = self.extended && client & client_features::PICOW != 0;
        if self.extended {
            let mut flags = 0;
            if self.compressed {
                flags |= server_features::COMPRESSION;
            }
            if picow {
                flags |= server_features::PICOW;
            }
            self.push(&[response::FEATURE_FLAGS, flags]);
            if picow {
                let mac = self.offer.mac;
                self.push(&mac);
            }
        } else if self.compressed {
            self.push(&[response::SUPPORTS_COMPRESSION]);
        } else {
            self.push(&[response::HEADER_OK]);
        }
        if self.offer.password.is_none() {
            self.push(&[response::ERROR_AUTH_INVALID]);
            self.phase = Phase::Closed;
            return Some(Event::AuthFailed {
                password_set: false,
            });
        }
        self.auth = if client & client_features::SHA256_AUTH != 0 {
            AuthKind::Sha256
        } else {
            AuthKind::Md5
        };
        let len = self.auth.hex_len();
        let random = self.offer.random;
        hex_lower(&random[..len / 2], &mut self.nonce[..len]);
        let code = match self.auth {
            AuthKind::Md5 => response::REQUEST_AUTH,
            AuthKind::Sha256 => response::REQUEST_SHA256_AUTH,
        };
        self.push(&[code]);
        let nonce = self.nonce;
        self.push(&nonce[..len]);
        self.phase = Phase::Auth;
        None
    }

    /// The client's answer is in `buf`: cnonce, then the hex digest of
    /// password, nonce and cnonce.
    fn check_auth(&self) -> bool {
        let Some(pw) = self.offer.password else {
            return false;
        };
        let len = self.auth.hex_len();
        let (cnonce, answer) = self.buf[..2 * len].split_at(len);
        let mut want = [0u8; 64];
        match self.auth {
            AuthKind::Md5 => {
                let mut h = Md5::new();
                h.update(pw.expose().as_bytes());
                h.update(&self.nonce[..len]);
                h.update(cnonce);
                hex_lower(&h.finalize(), &mut want[..len]);
            }
            AuthKind::Sha256 => {
                let mut h = Sha256::new();
                h.update(pw.expose().as_bytes());
                h.update(&self.nonce[..len]);
                h.update(cnonce);
                hex_lower(&h.finalize(), &mut want[..len]);
            }
        }
        hex_eq(&want[..len], answer)
    }
}

/// The answer an uploader computes for a challenge: the lowercase hex
/// digest of password, nonce and cnonce (SHA-256 for a 64-digit nonce, MD5
/// for a 32-digit one).
pub fn auth_response(password: &str, nonce: &[u8], cnonce: &[u8]) -> String<64> {
    let mut out = [0u8; 64];
    let len = if nonce.len() == 64 {
        let mut h = Sha256::new();
        h.update(password.as_bytes());
        h.update(nonce);
        h.update(cnonce);
        hex_lower(&h.finalize(), &mut out);
        64
    } else {
        let mut h = Md5::new();
        h.update(password.as_bytes());
        h.update(nonce);
        h.update(cnonce);
        hex_lower(&h.finalize(), &mut out);
        32
    };
    let mut s = String::new();
    for &b in &out[..len] {
        let _ = s.write_char(b as char);
    }
    s
}

/// Test support: runs a device over a client's bytes, cut into pieces,
/// answering every decision the way a healthy board would (accept, finish
/// when the MD5 matches, answer queries with `info`). Returns everything
/// the device sent and a log of the events.
#[cfg(any(test, feature = "std"))]
pub fn drive(
    offer: Offer<'_>,
    pieces: &[&[u8]],
    info: &QueryInfo,
) -> (std::vec::Vec<u8>, std::vec::Vec<std::string::String>) {
    let mut dev = Device::new(offer);
    let mut sent = std::vec::Vec::new();
    let mut log = std::vec::Vec::new();
    let mut data = 0usize;
    for piece in pieces.iter().chain(core::iter::once(&&[][..])) {
        let mut at = 0;
        loop {
            let (n, ev) = dev.feed(&piece[at..]);
            at += n;
            sent.extend_from_slice(&dev.take_output());
            match ev {
                Event::NeedMore => break,
                Event::Data(d) => data += d.len(),
                Event::Begin { size, .. } => {
                    log.push(std::format!("begin {size}"));
                    dev.accept();
                }
                Event::Received { md5_ok } => {
                    log.push(std::format!("received {data} md5_ok={md5_ok}"));
                    if md5_ok {
                        dev.finish();
                    } else {
                        dev.refuse(response::ERROR_MD5_MISMATCH);
                    }
                }
                Event::Query => {
                    log.push("query".into());
                    dev.answer(info);
                }
                other => log.push(std::format!("{other:?}")),
            }
            sent.extend_from_slice(&dev.take_output());
        }
    }
    (sent, log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec as StdVec;

    fn password() -> OtaPassword {
        OtaPassword::new("correct horse").unwrap()
    }

    fn offer(pw: Option<&OtaPassword>) -> Offer<'_> {
        Offer {
            password: pw,
            compression: true,
            mac: [0x7c, 0xdf, 0xa1, 0x51, 0, 1],
            random: [0xAB; 32],
        }
    }

    fn info() -> QueryInfo {
        QueryInfo {
            slot: Some(0),
            state: Some(2),
            confirmed: false,
            chip_id: 5,
            image_len: 100,
            sha256: [1; 32],
            elf_sha256: [0; 32],
            flash_size: 0,
            version: String::try_from("1.0.0").unwrap(),
            project: String::try_from("picow-fw").unwrap(),
        }
    }

    /// What espota2 sends for `upload` with `features`, knowing the nonce
    /// the device will send (it is derived from `offer().random`).
    fn client_bytes(features: u8, pw: &str, upload: &[u8], ota: Option<u8>) -> StdVec<u8> {
        let mut c = MAGIC.to_vec();
        c.push(features);
        let (nonce_len, _) = if features & client_features::SHA256_AUTH != 0 {
            (64, ())
        } else {
            (32, ())
        };
        let nonce: StdVec<u8> = "ab".repeat(nonce_len / 2).into_bytes();
        let cnonce: StdVec<u8> = "cd".repeat(nonce_len / 2).into_bytes();
        c.extend_from_slice(&cnonce);
        c.extend_from_slice(auth_response(pw, &nonce, &cnonce).as_bytes());
        if let Some(t) = ota {
            c.push(t);
        }
        if ota != Some(ota_type::PICOW_QUERY) {
            c.extend_from_slice(&(upload.len() as u32).to_be_bytes());
            let mut md5 = [0u8; 32];
            hex_lower(&Md5::digest(upload), &mut md5);
            c.extend_from_slice(&md5);
            c.extend_from_slice(upload);
            c.push(0);
        }
        c
    }

    #[test]
    fn espota2_upload_with_sha256_and_the_extended_protocol() {
        let pw = password();
        let upload: StdVec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
        let client = client_bytes(0x07, "correct horse", &upload, Some(ota_type::APP));
        let (sent, log) = drive(offer(Some(&pw)), &[&client], &info());
        let mut want = std::vec![0x00, 0x02, 0x48, 0x01, 0x02];
        want.extend_from_slice("ab".repeat(32).as_bytes());
        want.extend_from_slice(&[0x41, 0x42, 0x43]);
        want.extend_from_slice(&[0x47, 0x47, 0x47, 0x44, 0x45]);
        assert_eq!(sent, want);
        assert_eq!(log, ["begin 20000", "received 20000 md5_ok=true", "Done"]);
    }

    #[test]
    fn feeding_byte_by_byte_changes_nothing() {
        let pw = password();
        let upload = std::vec![9u8; 9000];
        let client = client_bytes(0x07, "correct horse", &upload, Some(ota_type::APP));
        let whole = drive(offer(Some(&pw)), &[&client], &info());
        let bytes: StdVec<&[u8]> = client.chunks(1).collect();
        assert_eq!(drive(offer(Some(&pw)), &bytes, &info()), whole);
    }

    #[test]
    fn old_clients_get_md5_auth_and_no_feature_flags() {
        let pw = password();
        let upload = std::vec![1u8; 10];
        // espota2 before the extended protocol: compression only.
        let client = client_bytes(0x01, "correct horse", &upload, None);
        let (sent, log) = drive(offer(Some(&pw)), &[&client], &info());
        assert_eq!(&sent[..4], &[0x00, 0x02, 0x46, 0x01]);
        assert_eq!(&sent[4..36], "ab".repeat(16).as_bytes());
        assert_eq!(&sent[36..], &[0x41, 0x42, 0x43, 0x47, 0x44, 0x45]);
        assert_eq!(log.last().unwrap(), "Done");
    }

    #[test]
    fn wrong_or_missing_passwords_are_refused() {
        let pw = password();
        let client = client_bytes(0x07, "wrong horse", &[1, 2, 3], Some(0));
        let (sent, log) = drive(offer(Some(&pw)), &[&client], &info());
        assert_eq!(*sent.last().unwrap(), response::ERROR_AUTH_INVALID);
        assert!(!sent.contains(&response::AUTH_OK));
        assert_eq!(log, ["AuthFailed { password_set: true }"]);
        // No password on the board: refused where the challenge would be.
        let (sent, log) = drive(offer(None), &[&client], &info());
        assert_eq!(sent, [0x00, 0x02, 0x48, 0x01, 0x82]);
        assert_eq!(log, ["AuthFailed { password_set: false }"]);
    }

    #[test]
    fn picow_clients_get_the_mac_and_can_query() {
        let pw = password();
        let client = client_bytes(0x87, "correct horse", &[], Some(ota_type::PICOW_QUERY));
        let (sent, log) = drive(offer(Some(&pw)), &[&client], &info());
        assert_eq!(
            &sent[..10],
            &[0x00, 0x02, 0x48, 0x81, 0x7c, 0xdf, 0xa1, 0x51, 0, 1]
        );
        let at = sent.iter().rposition(|&b| b == response::AUTH_OK).unwrap();
        assert_eq!(sent[at + 1], response::PICOW_INFO);
        let body = &sent[at + 3..];
        assert_eq!(body.len(), sent[at + 2] as usize);
        assert_eq!(QueryInfo::decode(body), Some(info()));
        assert_eq!(log, ["query"]);
        // Without the picow bit, a query is an unknown OTA type.
        let client = client_bytes(0x07, "correct horse", &[], Some(ota_type::PICOW_QUERY));
        let (sent, _) = drive(offer(Some(&pw)), &[&client], &info());
        assert_eq!(*sent.last().unwrap(), response::ERROR_UNSUPPORTED_OTA_TYPE);
    }

    #[test]
    fn protocol_violations() {
        let (sent, log) = drive(offer(None), &[b"GET / HTTP/1.1\r\n"], &info());
        assert_eq!(sent, [response::ERROR_MAGIC]);
        assert_eq!(log, ["Violation(128)"]);
        let pw = password();
        let client = client_bytes(0x07, "correct horse", &[1], Some(ota_type::BOOTLOADER));
        let (sent, _) = drive(offer(Some(&pw)), &[&client], &info());
        assert_eq!(*sent.last().unwrap(), response::ERROR_UNSUPPORTED_OTA_TYPE);
        // A corrupted upload: the MD5 does not match.
        let mut client = client_bytes(0x07, "correct horse", &[5; 100], Some(0));
        let n = client.len();
        client[n - 10] ^= 1;
        let (sent, log) = drive(offer(Some(&pw)), &[&client], &info());
        assert_eq!(&sent[sent.len() - 2..], &[0x44, 0x8B]);
        assert_eq!(log[1], "received 100 md5_ok=false");
    }
}
