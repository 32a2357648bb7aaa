//! A streaming check of an ESP app image, fed in pieces (as an upload
//! arrives, or as it is read back from flash): the header and its chip id,
//! the segments, the XOR checksum (seed `0xEF`), the appended SHA-256, and
//! the app descriptor (`esp_app_desc_t`) at the start of the first segment.
//!
//! Layout: a 24-byte header (`E9`, segment count, flash mode, size and
//! frequency, entry point, then the extended header with the chip id at
//! bytes 12..14 and "hash appended" at byte 23), then each segment as
//! `load address: u32, length: u32, data`, then padding up to the last
//! byte of a 16-byte line, which is the checksum; with the hash flag, the
//! SHA-256 of everything before it follows.

use core::fmt::Write as _;

use heapless::String;
use sha2::{Digest, Sha256};

/// First byte of every image.
pub const IMAGE_MAGIC: u8 = 0xE9;
/// First word of the app descriptor.
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
/// Bytes of the image header (with the extended header).
pub const HEADER_LEN: usize = 24;
/// Most segments an image may have.
pub const MAX_SEGMENTS: u8 = 16;
const DESC_LEN: usize = 256;
const MAX_SEGMENT_LEN: u32 = 16 << 20;

/// What the first [`HEADER_LEN`] bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Number of segments.
    pub segments: u8,
    /// Entry point.
    pub entry: u32,
    /// Chip id from the extended header (9 ESP32-S3, 5 ESP32-C3, 13 ESP32-C6).
    pub chip_id: u16,
    /// Whether a SHA-256 follows the checksum.
    pub hash_appended: bool,
}

/// Why bytes are not a valid app image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The first byte is not `0xE9`.
    #[error("not an ESP app image: first byte {0:#04x}, an image starts with 0xe9")]
    Magic(u8),
    /// No segments, or more than 16.
    #[error("not an ESP app image: {0} segments (1 to 16 allowed)")]
    Segments(u8),
    /// A segment longer than any flash.
    #[error("ESP app image segment {index} claims {len} bytes")]
    SegmentLength {
        /// Segment number.
        index: u8,
        /// Its length.
        len: u32,
    },
    /// The image is longer than the space for it.
    #[error("ESP app image is longer than the {limit} bytes available")]
    TooLong {
        /// The limit.
        limit: u32,
    },
    /// The XOR checksum does not match.
    #[error(
        "ESP app image checksum is {read:#04x}, computed {computed:#04x}: the image is corrupt"
    )]
    Checksum {
        /// Stored.
        read: u8,
        /// Computed.
        computed: u8,
    },
    /// The appended SHA-256 does not match.
    #[error("ESP app image SHA-256 does not match its contents: the image is corrupt")]
    Hash,
    /// The image has no appended SHA-256 (picow needs one to recognise it).
    #[error("ESP app image has no appended SHA-256")]
    NoHash,
    /// The bytes ended before the image did.
    #[error("ESP app image truncated: it ends after {0} bytes")]
    Truncated(u32),
}

/// Parses the header.
pub fn parse_header(b: &[u8; HEADER_LEN]) -> Result<Header, ImageError> {
    if b[0] != IMAGE_MAGIC {
        return Err(ImageError::Magic(b[0]));
    }
    if b[1] == 0 || b[1] > MAX_SEGMENTS {
        return Err(ImageError::Segments(b[1]));
    }
    Ok(Header {
        segments: b[1],
        entry: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        chip_id: u16::from_le_bytes([b[12], b[13]]),
        hash_appended: b[23] == 1,
    })
}

/// What a verified image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The header.
    pub header: Header,
    /// Total length, checksum and hash included.
    pub len: u32,
    /// The appended SHA-256 (which matched the contents).
    pub sha256: [u8; 32],
    /// The app descriptor's project name (empty without a descriptor).
    pub project: String<32>,
    /// The app descriptor's version (empty without a descriptor).
    pub version: String<32>,
    /// The SHA-256 of the ELF the image was made from, from the app
    /// descriptor (zero without one).
    pub elf_sha256: [u8; 32],
}

impl ImageInfo {
    /// The SHA-256 as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String<64> {
        let mut s = String::new();
        for b in &self.sha256 {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    SegmentHeader,
    SegmentData,
    Padding,
    Checksum,
    Hash,
    Done,
}

/// Where a fed check stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The image goes on: feed more.
    NeedMore,
    /// The image ended and is valid; the bytes after `used` of the last
    /// feed are not part of it.
    Done {
        /// Bytes of the last input that belonged to the image.
        used: usize,
        /// What it is.
        info: ImageInfo,
    },
}

/// The check, fed in pieces. After an error or [`Status::Done`] it stays there.
#[derive(Debug, Clone)]
pub struct ImageCheck {
    phase: Phase,
    limit: u32,
    pos: u32,
    buf: [u8; 32],
    have: usize,
    header: Option<Header>,
    segment: u8,
    remaining: u32,
    xor: u8,
    sha: Sha256,
    desc: [u8; DESC_LEN],
    desc_len: usize,
    failed: Option<ImageError>,
    done: Option<ImageInfo>,
}

impl ImageCheck {
    /// A check for an image of at most `limit` bytes.
    pub fn new(limit: u32) -> ImageCheck {
        ImageCheck {
            phase: Phase::Header,
            limit,
            pos: 0,
            buf: [0; 32],
            have: 0,
            header: None,
            segment: 0,
            remaining: 0,
            xor: 0xEF,
            sha: Sha256::new(),
            desc: [0; DESC_LEN],
            desc_len: 0,
            failed: None,
            done: None,
        }
    }

    /// The header, once its bytes were fed and it parsed.
    pub fn header(&self) -> Option<Header> {
        self.header
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u32 {
        self.pos
    }

    /// Says the input ended: an error unless the image is complete.
    pub fn finish(&self) -> Result<ImageInfo, ImageError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.done.clone().ok_or(ImageError::Truncated(self.pos))
    }

    /// Feeds the next bytes.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<Status, ImageError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let total = input.len();
        while !input.is_empty() && self.phase != Phase::Done {
            let n = match self.step(input) {
                Ok(n) => n,
                Err(e) => {
                    self.failed = Some(e);
                    return Err(e);
                }
            };
            input = &input[n..];
        }
        match &self.done {
            Some(info) if self.phase == Phase::Done => Ok(Status::Done {
                used: total - input.len(),
                info: info.clone(),
            }),
            _ => Ok(Status::NeedMore),
        }
    }

    /// Collects bytes into `buf` up to `want`; true when complete.
    fn gather(&mut self, input: &[u8], want: usize, n: &mut usize) -> bool {
        let take = (want - self.have).min(input.len());
        self.buf[self.have..self.have + take].copy_from_slice(&input[..take]);
        self.have += take;
        *n = take;
        self.have == want
    }

    fn advance(&mut self, bytes: &[u8], hashed: bool) -> Result<(), ImageError> {
        let end = self.pos as u64 + bytes.len() as u64;
        if end > u64::from(self.limit) {
            return Err(ImageError::TooLong { limit: self.limit });
        }
        if hashed {
            self.sha.update(bytes);
        }
        self.pos = end as u32;
        Ok(())
    }

    fn step(&mut self, input: &[u8]) -> Result<usize, ImageError> {
        let mut n = 0;
        match self.phase {
            Phase::Header => {
                let complete = self.gather(input, HEADER_LEN, &mut n);
                // A foreign file is refused at its first byte.
                if self.buf[0] != IMAGE_MAGIC {
                    return Err(ImageError::Magic(self.buf[0]));
                }
                if complete {
                    let mut h = [0; HEADER_LEN];
                    h.copy_from_slice(&self.buf[..HEADER_LEN]);
                    self.header = Some(parse_header(&h)?);
                    self.have = 0;
                    self.phase = Phase::SegmentHeader;
                }
                self.advance(&input[..n], true)?;
            }
            Phase::SegmentHeader => {
                let done = self.gather(input, 8, &mut n);
                self.advance(&input[..n], true)?;
                if done {
                    let b = &self.buf;
                    let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                    if len > MAX_SEGMENT_LEN {
                        return Err(ImageError::SegmentLength {
                            index: self.segment,
                            len,
                        });
                    }
                    self.remaining = len;
                    self.have = 0;
                    self.phase = Phase::SegmentData;
                    if len == 0 {
                        self.next_segment();
                    }
                }
            }
            Phase::SegmentData => {
                n = input.len().min(self.remaining as usize);
                let data = &input[..n];
                self.advance(data, true)?;
                self.xor = data.iter().fold(self.xor, |x, b| x ^ b);
                if self.segment == 0 && self.desc_len < DESC_LEN {
                    let take = (DESC_LEN - self.desc_len).min(n);
                    self.desc[self.desc_len..self.desc_len + take].copy_from_slice(&data[..take]);
                    self.desc_len += take;
                }
                self.remaining -= n as u32;
                if self.remaining == 0 {
                    self.next_segment();
                }
            }
            Phase::Padding => {
                // The checksum is the last byte of a 16-byte line.
                let to_line_end = 15 - (self.pos % 16);
                n = input.len().min(to_line_end as usize);
                self.advance(&input[..n], true)?;
                if self.pos % 16 == 15 {
                    self.phase = Phase::Checksum;
                }
            }
            Phase::Checksum => {
                n = 1;
                let read = input[0];
                self.advance(&input[..1], true)?;
                if read != self.xor {
                    return Err(ImageError::Checksum {
                        read,
                        computed: self.xor,
                    });
                }
                if self.header.is_some_and(|h| h.hash_appended) {
                    self.phase = Phase::Hash;
                    self.have = 0;
                } else {
                    return Err(ImageError::NoHash);
                }
            }
            Phase::Hash => {
                let done = self.gather(input, 32, &mut n);
                self.advance(&input[..n], false)?;
                if done {
                    let digest = self.sha.clone().finalize();
                    if digest[..] != self.buf[..] {
                        return Err(ImageError::Hash);
                    }
                    let mut sha256 = [0; 32];
                    sha256.copy_from_slice(&self.buf);
                    let (project, version, elf_sha256) = self.descriptor();
                    self.done = Some(ImageInfo {
                        header: self.header.unwrap_or(Header {
                            segments: 0,
                            entry: 0,
                            chip_id: 0,
                            hash_appended: true,
                        }),
                        len: self.pos,
                        sha256,
                        project,
                        version,
                        elf_sha256,
                    });
                    self.phase = Phase::Done;
                }
            }
            Phase::Done => {}
        }
        Ok(n)
    }

    fn next_segment(&mut self) {
        self.segment += 1;
        let count = self.header.map_or(0, |h| h.segments);
        self.phase = if self.segment >= count {
            if self.pos % 16 == 15 {
                Phase::Checksum
            } else {
                Phase::Padding
            }
        } else {
            Phase::SegmentHeader
        };
    }

    fn descriptor(&self) -> (String<32>, String<32>, [u8; 32]) {
        let d = &self.desc[..self.desc_len];
        let text = |b: &[u8]| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            let mut s = String::new();
            if let Ok(t) = core::str::from_utf8(&b[..end]) {
                let _ = s.push_str(t);
            }
            s
        };
        if d.len() >= 176 && u32::from_le_bytes([d[0], d[1], d[2], d[3]]) == APP_DESC_MAGIC {
            let mut elf = [0; 32];
            elf.copy_from_slice(&d[144..176]);
            (text(&d[48..80]), text(&d[16..48]), elf)
        } else {
            (String::new(), String::new(), [0; 32])
        }
    }
}

/// Builds a valid image (for tests and fixtures): the header for
/// `chip_id` and `entry`, the segments, checksum and SHA-256.
#[cfg(any(test, feature = "std"))]
pub fn build_image(chip_id: u16, entry: u32, segments: &[(u32, &[u8])]) -> Vec<u8> {
    let mut v = vec![IMAGE_MAGIC, segments.len() as u8, 0x02, 0x2F];
    v.extend_from_slice(&entry.to_le_bytes());
    // Extended header: wp pin, drive strengths, chip id, revisions, hash flag.
    v.extend_from_slice(&[0xEE, 0, 0, 0]);
    v.extend_from_slice(&chip_id.to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 1]);
    let mut check = 0xEFu8;
    for (addr, data) in segments {
        v.extend_from_slice(&addr.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        check = data.iter().fold(check, |c, b| c ^ b);
    }
    while v.len() % 16 != 15 {
        v.push(0);
    }
    v.push(check);
    let hash = Sha256::digest(&v);
    v.extend_from_slice(&hash);
    v
}

/// An app descriptor as esp-hal's `esp_app_desc!()` lays it out (256 bytes).
#[cfg(any(test, feature = "std"))]
pub fn build_app_desc(project_name: &str, version: &str) -> Vec<u8> {
    let mut d = vec![0u8; DESC_LEN];
    d[0..4].copy_from_slice(&APP_DESC_MAGIC.to_le_bytes());
    let put = |d: &mut Vec<u8>, at: usize, max: usize, s: &str| {
        let b = s.as_bytes();
        let n = b.len().min(max - 1);
        d[at..at + n].copy_from_slice(&b[..n]);
    };
    put(&mut d, 16, 32, version);
    put(&mut d, 48, 32, project_name);
    put(&mut d, 80, 16, "00:00:00");
    put(&mut d, 96, 16, "Jan  1 2026");
    put(&mut d, 112, 32, "esp-hal");
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let desc = build_app_desc("picow-fw", "1.2.3");
        build_image(
            5,
            0x4038_0000,
            &[
                (0x3c00_0020, &desc),
                (0x4038_0000, &[7; 1000]),
                (0x4200_0000, &[]),
            ],
        )
    }

    fn check_all(img: &[u8], chunk: usize) -> Result<Status, ImageError> {
        let mut c = ImageCheck::new(1 << 20);
        let mut last = Status::NeedMore;
        for piece in img.chunks(chunk) {
            last = c.feed(piece)?;
        }
        Ok(last)
    }

    #[test]
    fn a_valid_image_checks_in_any_pieces() {
        let img = sample();
        for chunk in [1, 7, 16, 64, img.len()] {
            let Ok(Status::Done { info, used }) = check_all(&img, chunk) else {
                panic!("chunk {chunk}")
            };
            assert_eq!(info.len as usize, img.len());
            assert_eq!(info.header.chip_id, 5);
            assert_eq!(info.project.as_str(), "picow-fw");
            assert_eq!(info.version.as_str(), "1.2.3");
            assert_eq!(&info.sha256[..], &img[img.len() - 32..]);
            assert_eq!(used, (img.len() - 1) % chunk + 1);
        }
    }

    #[test]
    fn trailing_bytes_are_not_part_of_the_image() {
        let mut img = sample();
        let n = img.len();
        img.extend_from_slice(&[0xFF; 100]);
        let mut c = ImageCheck::new(1 << 20);
        let Ok(Status::Done { used, .. }) = c.feed(&img) else {
            panic!()
        };
        assert_eq!(used, n);
        assert!(c.finish().is_ok());
    }

    #[test]
    fn corruption_and_truncation_are_refused() {
        let img = sample();
        let mut bad = img.clone();
        bad[24 + 8 + 300] ^= 1;
        assert!(matches!(
            check_all(&bad, 50),
            Err(ImageError::Checksum { .. })
        ));
        let mut bad = img.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(check_all(&bad, 50), Err(ImageError::Hash));
        assert_eq!(check_all(&[0x7F, 0x45], 2), Err(ImageError::Magic(0x7F)));
        let mut c = ImageCheck::new(1 << 20);
        c.feed(&img[..img.len() - 1]).unwrap();
        assert_eq!(c.finish(), Err(ImageError::Truncated(img.len() as u32 - 1)));
        let mut c = ImageCheck::new(100);
        assert_eq!(c.feed(&img), Err(ImageError::TooLong { limit: 100 }));
        // It stays failed.
        assert_eq!(c.feed(&img), Err(ImageError::TooLong { limit: 100 }));
    }

    #[test]
    fn the_header_is_known_after_24_bytes() {
        let img = sample();
        let mut c = ImageCheck::new(1 << 20);
        c.feed(&img[..23]).unwrap();
        assert_eq!(c.header(), None);
        c.feed(&img[23..24]).unwrap();
        assert_eq!(c.header().map(|h| h.chip_id), Some(5));
    }
}
