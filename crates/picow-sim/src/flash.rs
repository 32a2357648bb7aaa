//! The SPI NOR flash: contents with NOR semantics (programming ANDs bits,
//! erasing sets whole 4 KiB sectors to `0xFF`), optionally kept in a file
//! that every write goes through to, plus the chip's JEDEC id and SFDP table.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Erase granularity.
pub const SECTOR: u32 = 0x1000;

/// The flash sizes a virtual board can have.
pub const SIZES: [u32; 5] = [1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20];

/// GigaDevice, the WalnutPi PicoW's flash vendor.
pub const MANUFACTURER_GIGADEVICE: u8 = 0xC8;
/// GigaDevice GD25Q series memory type.
pub const MEMORY_TYPE_GD25Q: u8 = 0x40;

/// An access outside the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("flash access {offset:#x}+{len:#x} is outside the {size:#x}-byte flash")]
pub struct OutOfRange {
    /// Start.
    pub offset: u32,
    /// Length.
    pub len: u32,
    /// Flash size.
    pub size: u32,
}

/// Flash errors.
#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    /// Outside the flash.
    #[error(transparent)]
    Range(#[from] OutOfRange),
    /// The backing file failed.
    #[error("flash file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file of the wrong size.
    #[error("flash file {path} is {actual} bytes, {}", size_rule(*.expected))]
    FileSize {
        /// The file.
        path: PathBuf,
        /// Its size.
        actual: u64,
        /// The flash size asked for (`None`: any of [`SIZES`]).
        expected: Option<u32>,
    },
    /// Something that is not a regular file (a device, a FIFO, a directory).
    #[error("flash file {path} is not a regular file: give the path of a file (it is created if missing)")]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
}

fn size_rule(expected: Option<u32>) -> String {
    match expected {
        Some(e) => format!(
            "but the flash is {e} bytes ({} MB): give the matching --flash-size or another file",
            e >> 20
        ),
        None => format!(
            "which is not the size of a flash: 1MB, 2MB, 4MB, 8MB or 16MB ({} bytes); give another file",
            SIZES.map(|s| s.to_string()).join(", ")
        ),
    }
}

/// The flash contents, in memory, written through to a file when there is one.
#[derive(Debug)]
pub struct Flash {
    data: Vec<u8>,
    file: Option<(File, PathBuf)>,
    jedec_id: u32,
}

impl Flash {
    /// An erased flash of `size` bytes, in memory only.
    pub fn in_memory(size: u32) -> Flash {
        Flash {
            data: vec![0xFF; size as usize],
            file: None,
            jedec_id: jedec_id(size),
        }
    }

    /// Opens (or creates, erased) the flash file `path`. `size` `None`
    /// takes the size of an existing file, or 8 MB for a new one.
    pub fn open(path: &Path, size: Option<u32>) -> Result<Flash, FlashError> {
        let io_err = |source| FlashError::Io {
            path: path.to_owned(),
            source,
        };
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(FlashError::NotRegular {
                path: path.to_owned(),
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let data = if len == 0 {
            let size = size.unwrap_or(8 << 20);
            let data = vec![0xFF; size as usize];
            io::Write::write_all(&mut file, &data).map_err(io_err)?;
            file.sync_data().map_err(io_err)?;
            data
        } else {
            let fits = match size {
                Some(s) => len == u64::from(s),
                None => SIZES.iter().any(|&s| u64::from(s) == len),
            };
            if !fits {
                return Err(FlashError::FileSize {
                    path: path.to_owned(),
                    actual: len,
                    expected: size,
                });
            }
            std::fs::read(path).map_err(io_err)?
        };
        let size = data.len() as u32;
        Ok(Flash {
            data,
            file: Some((file, path.to_owned())),
            jedec_id: jedec_id(size),
        })
    }

    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.data.len() as u32
    }

    /// The JEDEC id the flash answers to RDID (`0x9F`), little-endian as
    /// the SPI controller's W0 shows it: manufacturer | type << 8 | capacity << 16.
    pub fn jedec_id(&self) -> u32 {
        self.jedec_id
    }

    /// The backing file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(_, p)| p.as_path())
    }

    fn check(&self, offset: u32, len: u32) -> Result<core::ops::Range<usize>, OutOfRange> {
        let end = u64::from(offset) + u64::from(len);
        if end > u64::from(self.size()) {
            return Err(OutOfRange {
                offset,
                len,
                size: self.size(),
            });
        }
        Ok(offset as usize..end as usize)
    }

    /// Reads `len` bytes at `offset`.
    pub fn read(&self, offset: u32, len: u32) -> Result<&[u8], OutOfRange> {
        let r = self.check(offset, len)?;
        Ok(&self.data[r])
    }

    /// The whole contents.
    pub fn contents(&self) -> &[u8] {
        &self.data
    }

    /// Programs `bytes` at `offset`: NOR flash can only clear bits, so the
    /// result is the AND of old and new.
    pub fn program(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        let r = self.check(offset, bytes.len() as u32)?;
        for (d, b) in self.data[r.clone()].iter_mut().zip(bytes) {
            *d &= *b;
        }
        self.persist(r)
    }

    /// Erases every sector that `[offset, offset + len)` touches.
    pub fn erase(&mut self, offset: u32, len: u32) -> Result<(), FlashError> {
        if len == 0 {
            return Ok(());
        }
        self.check(offset, len)?;
        let start = offset / SECTOR * SECTOR;
        let end =
            (u64::from(offset) + u64::from(len)).div_ceil(u64::from(SECTOR)) * u64::from(SECTOR);
        let end = end.min(u64::from(self.size())) as usize;
        self.data[start as usize..end].fill(0xFF);
        self.persist(start as usize..end)
    }

    /// Erases everything.
    pub fn erase_all(&mut self) -> Result<(), FlashError> {
        self.erase(0, self.size())
    }

    fn persist(&mut self, r: core::ops::Range<usize>) -> Result<(), FlashError> {
        if let Some((file, path)) = &self.file {
            use std::os::unix::fs::FileExt;
            file.write_all_at(&self.data[r.clone()], r.start as u64)
                .map_err(|source| FlashError::Io {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Reads `bits` (≤ 32) of the SFDP table at `addr`, little-endian.
    pub fn sfdp(&self, addr: u32, bits: u32) -> u32 {
        let table = sfdp_table(self.size(), (self.jedec_id & 0xFF) as u8);
        let mut v = 0u32;
        for i in 0..bits.div_ceil(8).min(4) {
            let b = table.get((addr + i) as usize).copied().unwrap_or(0xFF);
            v |= u32::from(b) << (8 * i);
        }
        if bits < 32 {
            v &= (1u32 << bits) - 1;
        }
        v
    }
}

/// The GigaDevice-style JEDEC id for a flash of `size` bytes: capacity
/// byte = log2(size).
pub fn jedec_id(size: u32) -> u32 {
    let capacity = size.trailing_zeros();
    u32::from(MANUFACTURER_GIGADEVICE) | u32::from(MEMORY_TYPE_GD25Q) << 8 | capacity << 16
}

/// A minimal JESD216 SFDP table: the `SFDP` signature, a basic flash
/// parameter header and a vendor header (whose id is the manufacturer), and
/// the basic table's density word.
fn sfdp_table(size: u32, manufacturer: u8) -> Vec<u8> {
    let mut t = vec![0xFF; 0x80];
    t[0..8].copy_from_slice(&[b'S', b'F', b'D', b'P', 0x06, 0x01, 0x01, 0xFF]);
    // Basic flash parameter table: id 0x00, rev 1.6, 16 dwords at 0x30.
    t[8..16].copy_from_slice(&[0x00, 0x06, 0x01, 0x10, 0x30, 0x00, 0x00, 0xFF]);
    // Vendor table: id = manufacturer, rev 1.0, 3 dwords at 0x70.
    t[16..24].copy_from_slice(&[manufacturer, 0x00, 0x01, 0x03, 0x70, 0x00, 0x00, 0x01]);
    // DWORD 1: 4 KiB erase supported (0x20), DWORD 2: density in bits − 1.
    t[0x30..0x34].copy_from_slice(&[0xE5, 0x20, 0xF1, 0xFF]);
    let bits = u64::from(size) * 8 - 1;
    t[0x34..0x38].copy_from_slice(&(bits as u32).to_le_bytes());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nor_program_ands_and_erase_sets_sectors() {
        let mut f = Flash::in_memory(1 << 20);
        f.program(0x1000, &[0x0F, 0xF0]).unwrap();
        f.program(0x1000, &[0xFC, 0xFF]).unwrap();
        // 0 bits stay 0 without an erase.
        assert_eq!(f.read(0x1000, 2).unwrap(), &[0x0C, 0xF0]);
        // Erasing one byte erases its whole sector, not the next one.
        f.program(0x2000, &[0]).unwrap();
        f.erase(0x1001, 1).unwrap();
        assert_eq!(f.read(0x1000, 2).unwrap(), &[0xFF, 0xFF]);
        assert_eq!(f.read(0x2000, 1).unwrap(), &[0]);
        assert!(f.program((1 << 20) - 1, &[0, 0]).is_err());
        assert!(f.read(1 << 20, 1).is_err());
    }

    #[test]
    fn file_is_created_erased_and_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flash.bin");
        let mut f = Flash::open(&path, Some(1 << 20)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20);
        f.program(0x10, b"abc").unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&on_disk[0x10..0x13], b"abc");
        assert!(on_disk[..0x10].iter().all(|&b| b == 0xFF));
        drop(f);
        let f = Flash::open(&path, None).unwrap();
        assert_eq!(f.read(0x10, 3).unwrap(), b"abc");
        assert!(matches!(
            Flash::open(&path, Some(4 << 20)),
            Err(FlashError::FileSize { .. })
        ));
        // A file of no flash's size: the message says the sizes there are.
        std::fs::File::create(&path)
            .unwrap()
            .set_len(5_192_768)
            .unwrap();
        let e = Flash::open(&path, None).unwrap_err().to_string();
        assert!(
            e.contains("is 5192768 bytes, which is not the size of a flash: 1MB, 2MB"),
            "{e}"
        );
        let e = Flash::open(&path, Some(8 << 20)).unwrap_err().to_string();
        assert!(e.contains("but the flash is 8388608 bytes (8 MB)"), "{e}");
        // Not a regular file: refused before it is opened.
        assert!(matches!(
            Flash::open(dir.path(), None),
            Err(FlashError::NotRegular { .. })
        ));
        assert!(matches!(
            Flash::open(Path::new("/dev/zero"), None),
            Err(FlashError::NotRegular { .. })
        ));
    }

    #[test]
    fn jedec_and_sfdp() {
        let f = Flash::in_memory(8 << 20);
        assert_eq!(f.jedec_id(), 0x0017_40C8);
        assert_eq!(f.sfdp(0, 32), 0x5044_4653);
        assert_eq!(f.sfdp(0x10, 8), 0xC8);
        assert_eq!(f.sfdp(0x34, 32), (64 << 20) - 1);
        assert_eq!(jedec_id(4 << 20) >> 16, 0x16);
    }
}
