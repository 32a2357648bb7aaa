//! ESP application and bootloader images, as the ROM and the second-stage
//! bootloader check them: header, extended header with chip id, segments,
//! XOR checksum (seed `0xEF`), optional SHA-256, and the app descriptor.

use sha2::{Digest, Sha256};

use crate::flash::Flash;

/// First byte of every image.
pub const IMAGE_MAGIC: u8 = 0xE9;
/// First word of the app descriptor.
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
const HEADER_LEN: u32 = 24;
const MAX_SEGMENTS: u8 = 16;

/// One loaded segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Load address.
    pub addr: u32,
    /// Length.
    pub len: u32,
    /// Where its data starts in flash.
    pub flash_offset: u32,
}

/// The app descriptor (`esp_app_desc_t`) at the start of the first segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDesc {
    /// Version string.
    pub version: String,
    /// Project name (`picow-fw` for the picow firmware).
    pub project_name: String,
    /// Build time.
    pub time: String,
    /// Build date.
    pub date: String,
    /// ESP-IDF (or esp-hal) version string.
    pub idf_ver: String,
}

/// A parsed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Flash offset of the image.
    pub offset: u32,
    /// SPI mode byte.
    pub flash_mode: u8,
    /// Size (high nibble) and frequency (low nibble).
    pub size_freq: u8,
    /// Entry point.
    pub entry: u32,
    /// Chip id from the extended header.
    pub chip_id: u16,
    /// Whether a SHA-256 follows the checksum.
    pub hash_appended: bool,
    /// Segments.
    pub segments: Vec<Segment>,
    /// Total length including checksum and hash.
    pub len: u32,
    /// The app descriptor, when the first segment has one.
    pub app_desc: Option<AppDesc>,
}

/// Why an image does not load, worded like ESP-IDF's `esp_image` logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// No image magic (erased or something else).
    #[error("image at {offset:#x} has invalid magic byte {found:#04x} (nothing flashed here?)")]
    Magic {
        /// Where.
        offset: u32,
        /// First byte found.
        found: u8,
    },
    /// Too many segments.
    #[error("image at {offset:#x} has {count} segments, at most 16 allowed")]
    Segments {
        /// Where.
        offset: u32,
        /// Count.
        count: u8,
    },
    /// A segment runs past the flash.
    #[error("image at {offset:#x} segment {index} has invalid length {len:#x}")]
    SegmentLength {
        /// Where.
        offset: u32,
        /// Segment number.
        index: usize,
        /// Its length.
        len: u32,
    },
    /// XOR checksum mismatch.
    #[error("Checksum failed. Calculated {calculated:#04x} read {read:#04x}")]
    Checksum {
        /// Computed.
        calculated: u8,
        /// Stored.
        read: u8,
    },
    /// SHA-256 mismatch.
    #[error("Image hash failed - image is corrupt")]
    Hash,
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl Image {
    /// Parses and verifies the image at `offset`.
    pub fn load(flash: &Flash, offset: u32) -> Result<Image, ImageError> {
        let bad_len = |index, len| ImageError::SegmentLength { offset, index, len };
        let head = flash
            .read(offset, HEADER_LEN)
            .map_err(|_| ImageError::Magic {
                offset,
                found: 0xFF,
            })?;
        if head[0] != IMAGE_MAGIC {
            return Err(ImageError::Magic {
                offset,
                found: head[0],
            });
        }
        let count = head[1];
        if count == 0 || count > MAX_SEGMENTS {
            return Err(ImageError::Segments { offset, count });
        }
        let mut pos = offset + HEADER_LEN;
        let mut segments = Vec::new();
        let mut check = 0xEFu8;
        for index in 0..count as usize {
            let sh = flash.read(pos, 8).map_err(|_| bad_len(index, 0))?;
            let addr = read_u32(sh, 0);
            let len = read_u32(sh, 4);
            let data = flash.read(pos + 8, len).map_err(|_| bad_len(index, len))?;
            if len > 16 << 20 {
                return Err(bad_len(index, len));
            }
            check = data.iter().fold(check, |c, b| c ^ b);
            segments.push(Segment {
                addr,
                len,
                flash_offset: pos + 8,
            });
            pos += 8 + len;
        }
        // Padding so that the checksum byte ends a 16-byte line.
        let ck_pos = pos + (15 - (pos - offset) % 16);
        let stored = flash
            .read(ck_pos, 1)
            .map_err(|_| bad_len(count as usize, 0))?[0];
        if stored != check {
            return Err(ImageError::Checksum {
                calculated: check,
                read: stored,
            });
        }
        let hash_appended = head[23] == 1;
        let mut len = ck_pos + 1 - offset;
        if hash_appended {
            let body = flash.read(offset, len).map_err(|_| ImageError::Hash)?;
            let stored = flash.read(offset + len, 32).map_err(|_| ImageError::Hash)?;
            if Sha256::digest(body)[..] != stored[..] {
                return Err(ImageError::Hash);
            }
            len += 32;
        }
        let app_desc = segments.first().and_then(|s| {
            let d = flash.read(s.flash_offset, s.len.min(256)).ok()?;
            (d.len() >= 144 && read_u32(d, 0) == APP_DESC_MAGIC).then(|| AppDesc {
                version: c_string(&d[16..48]),
                project_name: c_string(&d[48..80]),
                time: c_string(&d[80..96]),
                date: c_string(&d[96..112]),
                idf_ver: c_string(&d[112..144]),
            })
        });
        Ok(Image {
            offset,
            flash_mode: head[2],
            size_freq: head[3],
            entry: read_u32(head, 4),
            chip_id: u16::from_le_bytes([head[12], head[13]]),
            hash_appended,
            segments,
            len,
            app_desc,
        })
    }
}

/// Builds a valid image (for tests and for users' fixtures): the given
/// segments, checksum and SHA-256; and an app descriptor as esp-hal's
/// `esp_app_desc!()` lays it out.
pub use picow_protocol::ota::image::{build_app_desc, build_image};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let desc = build_app_desc("picow-fw", "0.1.0");
        let img = build_image(
            5,
            0x4038_0000,
            &[(0x3c00_0020, &desc), (0x4038_0000, &[1, 2, 3])],
        );
        assert_eq!(
            img.len() % 16,
            0,
            "checksum ends a line, then 32 hash bytes"
        );
        let mut flash = Flash::in_memory(1 << 20);
        flash.program(0x10000, &img).unwrap();
        let i = Image::load(&flash, 0x10000).unwrap();
        assert_eq!(i.chip_id, 5);
        assert_eq!(i.segments.len(), 2);
        assert_eq!(i.len as usize, img.len());
        let d = i.app_desc.unwrap();
        assert_eq!(
            (d.project_name.as_str(), d.version.as_str()),
            ("picow-fw", "0.1.0")
        );

        // One flipped data byte breaks the checksum.
        let mut bad = img.clone();
        bad[24 + 8 + 100] ^= 0x01;
        let mut f2 = Flash::in_memory(1 << 20);
        f2.program(0x10000, &bad).unwrap();
        assert!(matches!(
            Image::load(&f2, 0x10000),
            Err(ImageError::Checksum { .. })
        ));
        // A flipped hash byte breaks only the hash.
        let mut bad = img.clone();
        let n = bad.len() - 1;
        bad[n] ^= 0x01;
        let mut f3 = Flash::in_memory(1 << 20);
        f3.program(0x10000, &bad).unwrap();
        assert_eq!(Image::load(&f3, 0x10000), Err(ImageError::Hash));
        assert!(matches!(
            Image::load(&Flash::in_memory(1 << 20), 0),
            Err(ImageError::Magic { found: 0xFF, .. })
        ));
    }
}
