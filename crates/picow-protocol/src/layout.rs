//! The flash layout: where the bootloader, partition table, app and config
//! record live.
//!
//! Two layouts, one per flash size: 8 MB (ESP32-S3 on the WalnutPi PicoW)
//! and 4 MB (the common ESP32-C3/C6 boards). Both are ESP-IDF's "two OTA
//! slots" table: `nvs`, `otadata` (which slot boots, see
//! [`crate::otadata`]) and `phy_init`, two app slots `ota_0` (at `0x10000`,
//! where a USB flash writes the app) and `ota_1` of equal size, and the picow
//! config partition in the last 64 KiB block of the flash, where it was
//! before the OTA slots existed (so moving a board to this layout keeps its
//! settings).
//!
//! The config partition is declared with an application-defined partition
//! **type** (`0x40`), not as `data, 0x40`: the partition-table parser that
//! espflash uses rejects unknown data subtypes.

use core::fmt;

use md5::{Digest, Md5};

/// Offset of the second-stage bootloader on ESP32-S3, -C3 and -C6.
pub const BOOTLOADER_OFFSET: u32 = 0x0;
/// Offset of the binary partition table.
pub const PARTITION_TABLE_OFFSET: u32 = 0x8000;
/// Size reserved for the partition table.
pub const PARTITION_TABLE_LEN: usize = 0xC00;
/// Offset of the first app slot (`ota_0`), where a USB flash writes the app.
pub const APP_OFFSET: u32 = 0x10000;
/// Offset of the `otadata` partition.
pub const OTADATA_OFFSET: u32 = 0xD000;
/// Size of the `otadata` partition: two 4 KiB sectors.
pub const OTADATA_LEN: u32 = 0x2000;
/// Partition type of app partitions.
pub const TYPE_APP: u8 = 0x00;
/// Partition type of data partitions.
pub const TYPE_DATA: u8 = 0x01;
/// Subtype of app slot `ota_0`; `ota_N` is this plus N.
pub const SUBTYPE_OTA_0: u8 = 0x10;
/// Subtype of the `otadata` data partition.
pub const SUBTYPE_OTADATA: u8 = 0x00;
/// Partition type of the picow config partition (application-defined).
pub const CONFIG_TYPE: u8 = 0x40;
/// Partition subtype of the picow config partition.
pub const CONFIG_SUBTYPE: u8 = 0x00;
/// Label of the picow config partition.
pub const CONFIG_LABEL: &str = "picowcfg";
/// Size of the config partition: one 4 KiB flash sector.
pub const CONFIG_LEN: u32 = 0x1000;

const ENTRY_LEN: usize = 32;
const ENTRY_MAGIC: [u8; 2] = [0xAA, 0x50];
const MD5_MAGIC: [u8; 2] = [0xEB, 0xEB];
const MAX_ENTRIES: usize = PARTITION_TABLE_LEN / ENTRY_LEN - 1;

/// One partition-table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Label, at most 16 bytes.
    pub name: &'static str,
    /// Type: 0 app, 1 data, 0x40–0xFE application-defined.
    pub ty: u8,
    /// Subtype.
    pub subtype: u8,
    /// Start in flash.
    pub offset: u32,
    /// Length in bytes.
    pub size: u32,
}

/// A flash layout for one flash size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Flash size in bytes.
    pub flash_size: u32,
    /// Partitions in flash order.
    pub partitions: &'static [Partition],
}

const fn standard(flash_size: u32) -> [Partition; 6] {
    let config = flash_size - 0x10000;
    // Two equal slots between 0x10000 and the config block, 64 KiB aligned.
    let slot = (config - APP_OFFSET) / 2 / 0x10000 * 0x10000;
    [
        Partition {
            name: "nvs",
            ty: TYPE_DATA,
            subtype: 0x02,
            offset: 0x9000,
            size: 0x4000,
        },
        Partition {
            name: "otadata",
            ty: TYPE_DATA,
            subtype: SUBTYPE_OTADATA,
            offset: OTADATA_OFFSET,
            size: OTADATA_LEN,
        },
        Partition {
            name: "phy_init",
            ty: TYPE_DATA,
            subtype: 0x01,
            offset: 0xF000,
            size: 0x1000,
        },
        Partition {
            name: "ota_0",
            ty: TYPE_APP,
            subtype: SUBTYPE_OTA_0,
            offset: APP_OFFSET,
            size: slot,
        },
        Partition {
            name: "ota_1",
            ty: TYPE_APP,
            subtype: SUBTYPE_OTA_0 + 1,
            offset: APP_OFFSET + slot,
            size: slot,
        },
        Partition {
            name: CONFIG_LABEL,
            ty: CONFIG_TYPE,
            subtype: CONFIG_SUBTYPE,
            offset: config,
            size: CONFIG_LEN,
        },
    ]
}

const PARTS_8MB: [Partition; 6] = standard(8 << 20);
const PARTS_4MB: [Partition; 6] = standard(4 << 20);

/// The layout for 8 MB flash (the WalnutPi PicoW).
pub const LAYOUT_8MB: Layout = Layout {
    flash_size: 8 << 20,
    partitions: &PARTS_8MB,
};
/// The layout for 4 MB flash (common ESP32-C3/C6 boards).
pub const LAYOUT_4MB: Layout = Layout {
    flash_size: 4 << 20,
    partitions: &PARTS_4MB,
};

const fn legacy(flash_size: u32) -> [Partition; 4] {
    let config = flash_size - 0x10000;
    [
        Partition {
            name: "nvs",
            ty: TYPE_DATA,
            subtype: 0x02,
            offset: 0x9000,
            size: 0x6000,
        },
        Partition {
            name: "phy_init",
            ty: TYPE_DATA,
            subtype: 0x01,
            offset: 0xF000,
            size: 0x1000,
        },
        Partition {
            name: "factory",
            ty: TYPE_APP,
            subtype: 0x00,
            offset: APP_OFFSET,
            size: config - APP_OFFSET,
        },
        Partition {
            name: CONFIG_LABEL,
            ty: CONFIG_TYPE,
            subtype: CONFIG_SUBTYPE,
            offset: config,
            size: CONFIG_LEN,
        },
    ]
}

const LEGACY_PARTS_8MB: [Partition; 4] = legacy(8 << 20);
const LEGACY_PARTS_4MB: [Partition; 4] = legacy(4 << 20);

/// The 8 MB layout picow used before OTA updates (one factory app, no
/// otadata): boards flashed by an older picow have it. A USB flash moves
/// them to [`LAYOUT_8MB`]; the config partition is at the same offset.
pub const LEGACY_LAYOUT_8MB: Layout = Layout {
    flash_size: 8 << 20,
    partitions: &LEGACY_PARTS_8MB,
};
/// The 4 MB layout picow used before OTA updates (see [`LEGACY_LAYOUT_8MB`]).
pub const LEGACY_LAYOUT_4MB: Layout = Layout {
    flash_size: 4 << 20,
    partitions: &LEGACY_PARTS_4MB,
};

impl Layout {
    /// The layout for a flash of `bytes`: 8 MB and larger get the 8 MB
    /// layout, 4 MB up to 8 MB the 4 MB one, smaller flash none.
    pub fn for_flash_size(bytes: u32) -> Option<&'static Layout> {
        if bytes >= LAYOUT_8MB.flash_size {
            Some(&LAYOUT_8MB)
        } else if bytes >= LAYOUT_4MB.flash_size {
            Some(&LAYOUT_4MB)
        } else {
            None
        }
    }

    /// The picow config partition.
    pub fn config(&self) -> &Partition {
        self.find(CONFIG_LABEL)
            .expect("every layout has a config partition")
    }

    /// The app partition a USB flash writes (at [`APP_OFFSET`]: `ota_0`,
    /// or `factory` in a legacy layout).
    pub fn app(&self) -> &Partition {
        self.partitions
            .iter()
            .find(|p| p.ty == TYPE_APP && p.offset == APP_OFFSET)
            .expect("every layout has an app at 0x10000")
    }

    /// The `otadata` partition (`None` in a legacy layout).
    pub fn otadata(&self) -> Option<&Partition> {
        self.find("otadata")
    }

    /// The app slots, `ota_0` first.
    pub fn ota_slots(&self) -> impl Iterator<Item = &Partition> {
        self.partitions
            .iter()
            .filter(|p| p.ty == TYPE_APP && p.subtype >= SUBTYPE_OTA_0)
    }

    fn find(&self, name: &str) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.name == name)
    }

    /// Writes the layout as an ESP-IDF partition CSV (what espflash and
    /// `gen_esp32part.py` read).
    pub fn write_csv(&self, w: &mut impl fmt::Write) -> fmt::Result {
        writeln!(w, "# Name, Type, SubType, Offset, Size, Flags")?;
        for p in self.partitions {
            let ty = match p.ty {
                TYPE_APP => "app",
                TYPE_DATA => "data",
                _ => "",
            };
            let ota_name = [
                "ota_0", "ota_1", "ota_2", "ota_3", "ota_4", "ota_5", "ota_6", "ota_7", "ota_8",
                "ota_9", "ota_10", "ota_11", "ota_12", "ota_13", "ota_14", "ota_15",
            ];
            let sub = match (p.ty, p.subtype) {
                (TYPE_APP, 0x00) => "factory",
                (TYPE_APP, s @ 0x10..=0x1F) => ota_name[(s - SUBTYPE_OTA_0) as usize],
                (TYPE_DATA, SUBTYPE_OTADATA) => "ota",
                (TYPE_DATA, 0x01) => "phy",
                (TYPE_DATA, 0x02) => "nvs",
                _ => "",
            };
            if ty.is_empty() {
                write!(w, "{}, {:#04x}, ", p.name, p.ty)?;
            } else {
                write!(w, "{}, {ty}, ", p.name)?;
            }
            if sub.is_empty() {
                write!(w, "{:#04x}, ", p.subtype)?;
            } else {
                write!(w, "{sub}, ")?;
            }
            writeln!(w, "{:#x}, {:#x},", p.offset, p.size)?;
        }
        Ok(())
    }

    /// The binary partition table as flashed at [`PARTITION_TABLE_OFFSET`]:
    /// entries, an MD5 entry, then `0xFF` padding.
    pub fn to_binary(&self) -> [u8; PARTITION_TABLE_LEN] {
        let mut out = [0xFF; PARTITION_TABLE_LEN];
        for (i, p) in self.partitions.iter().enumerate() {
            let e = &mut out[i * ENTRY_LEN..(i + 1) * ENTRY_LEN];
            e[..2].copy_from_slice(&ENTRY_MAGIC);
            e[2] = p.ty;
            e[3] = p.subtype;
            e[4..8].copy_from_slice(&p.offset.to_le_bytes());
            e[8..12].copy_from_slice(&p.size.to_le_bytes());
            e[12..28].fill(0);
            e[12..12 + p.name.len()].copy_from_slice(p.name.as_bytes());
            e[28..32].fill(0);
        }
        let n = self.partitions.len() * ENTRY_LEN;
        let digest = Md5::digest(&out[..n]);
        let m = &mut out[n..n + ENTRY_LEN];
        m[..2].copy_from_slice(&MD5_MAGIC);
        m[2..16].fill(0xFF);
        m[16..].copy_from_slice(&digest);
        out
    }
}

/// One entry read from a binary partition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableEntry {
    /// Type.
    pub ty: u8,
    /// Subtype.
    pub subtype: u8,
    /// Start in flash.
    pub offset: u32,
    /// Length in bytes.
    pub size: u32,
    /// Label bytes, NUL-padded.
    pub label: [u8; 16],
    /// Flags (bit 0: encrypted).
    pub flags: u32,
}

impl TableEntry {
    /// The label up to its first NUL, or `""` when it is not UTF-8.
    pub fn label(&self) -> &str {
        let end = self.label.iter().position(|&b| b == 0).unwrap_or(16);
        core::str::from_utf8(&self.label[..end]).unwrap_or("")
    }

    /// Whether this is the picow config partition.
    pub fn is_picow_config(&self) -> bool {
        self.ty == CONFIG_TYPE && self.subtype == CONFIG_SUBTYPE && self.label() == CONFIG_LABEL
    }

    /// The slot number of an OTA app slot (`ota_N` → `N`), else `None`.
    pub fn ota_slot(&self) -> Option<u8> {
        match (self.ty, self.subtype) {
            (TYPE_APP, s @ 0x10..=0x1F) => Some(s - SUBTYPE_OTA_0),
            _ => None,
        }
    }
}

/// Why bytes are not a valid partition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The table region is erased.
    #[error("no partition table: the region at 0x8000 is erased")]
    Erased,
    /// An entry does not start with the entry magic.
    #[error("partition table entry {0} has a bad magic")]
    BadEntry(usize),
    /// The MD5 entry does not match the entries.
    #[error("partition table MD5 does not match its entries")]
    Md5Mismatch,
    /// Fewer bytes than a table needs.
    #[error("partition table truncated")]
    Truncated,
}

/// A parsed binary partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    entries: heapless::Vec<TableEntry, MAX_ENTRIES>,
}

impl PartitionTable {
    /// Parses a binary partition table (the bytes at `0x8000`), checking the
    /// MD5 entry when there is one.
    pub fn parse(bytes: &[u8]) -> Result<PartitionTable, TableError> {
        let mut entries = heapless::Vec::new();
        for i in 0..=MAX_ENTRIES {
            let Some(e) = bytes.get(i * ENTRY_LEN..(i + 1) * ENTRY_LEN) else {
                return Err(TableError::Truncated);
            };
            match [e[0], e[1]] {
                ENTRY_MAGIC => {
                    let entry = TableEntry {
                        ty: e[2],
                        subtype: e[3],
                        offset: u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
                        size: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
                        label: e[12..28].try_into().unwrap_or([0; 16]),
                        flags: u32::from_le_bytes([e[28], e[29], e[30], e[31]]),
                    };
                    if entries.push(entry).is_err() {
                        return Err(TableError::BadEntry(i));
                    }
                }
                MD5_MAGIC => {
                    let digest = Md5::digest(&bytes[..i * ENTRY_LEN]);
                    if e[16..] != digest[..] {
                        return Err(TableError::Md5Mismatch);
                    }
                    return Ok(PartitionTable { entries });
                }
                [0xFF, 0xFF] if i == 0 => return Err(TableError::Erased),
                [0xFF, 0xFF] => return Ok(PartitionTable { entries }),
                _ => return Err(TableError::BadEntry(i)),
            }
        }
        Ok(PartitionTable { entries })
    }

    /// The entries in table order.
    pub fn entries(&self) -> &[TableEntry] {
        &self.entries
    }

    /// The picow config partition, when the table has one.
    pub fn picow_config(&self) -> Option<&TableEntry> {
        self.entries.iter().find(|e| e.is_picow_config())
    }

    /// The first app partition (factory, or ota_0).
    pub fn first_app(&self) -> Option<&TableEntry> {
        self.entries.iter().find(|e| e.ty == TYPE_APP)
    }

    /// The `otadata` partition, when the table has one.
    pub fn otadata(&self) -> Option<&TableEntry> {
        self.entries
            .iter()
            .find(|e| e.ty == TYPE_DATA && e.subtype == SUBTYPE_OTADATA)
    }

    /// The factory app partition, when the table has one.
    pub fn factory(&self) -> Option<&TableEntry> {
        self.entries
            .iter()
            .find(|e| e.ty == TYPE_APP && e.subtype == 0x00)
    }

    /// The OTA app slot `n` (`ota_n`), when the table has it.
    pub fn ota_slot(&self, n: u8) -> Option<&TableEntry> {
        self.entries.iter().find(|e| e.ota_slot() == Some(n))
    }

    /// How many OTA app slots there are (ESP-IDF's bootloader maps
    /// otadata sequence numbers onto this many slots).
    pub fn ota_slot_count(&self) -> u8 {
        self.entries
            .iter()
            .filter(|e| e.ota_slot().is_some())
            .count() as u8
    }

    /// Whether a board with this table can be updated over the air: an
    /// `otadata` partition of two sectors and at least two OTA slots (what
    /// esp-bootloader-esp-idf's `OtaUpdater` requires).
    pub fn supports_ota(&self) -> bool {
        self.otadata().is_some_and(|o| o.size == OTADATA_LEN) && self.ota_slot_count() >= 2
    }

    /// The app partition that starts at `offset`.
    pub fn app_at(&self, offset: u32) -> Option<&TableEntry> {
        self.entries
            .iter()
            .find(|e| e.ty == TYPE_APP && e.offset == offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_consistent() {
        for l in [&LAYOUT_8MB, &LAYOUT_4MB] {
            let mut end = PARTITION_TABLE_OFFSET + PARTITION_TABLE_LEN as u32;
            for p in l.partitions {
                assert!(p.offset >= end, "{p:?} overlaps");
                let align = if p.ty == 0 { 0x10000 } else { 0x1000 };
                assert_eq!(p.offset % align, 0, "{p:?} misaligned");
                assert!(p.name.len() <= 16);
                end = p.offset + p.size;
            }
            assert!(end <= l.flash_size);
            assert_eq!(l.config().offset % 0x1000, 0);
            assert_eq!(l.app().offset, APP_OFFSET);
            let slots: Vec<_> = l.ota_slots().collect();
            assert_eq!(slots.len(), 2);
            assert_eq!(slots[0].size, slots[1].size);
            // The slots fill the space up to the config block.
            assert_eq!(slots[1].offset + slots[1].size, l.config().offset);
            assert_eq!(l.otadata().unwrap().size, 0x2000);
        }
        assert_eq!(LAYOUT_4MB.config().offset, 0x3F0000);
        assert_eq!(LAYOUT_8MB.config().offset, 0x7F0000);
        assert_eq!(LAYOUT_8MB.ota_slots().nth(1).unwrap().offset, 0x400000);
        assert_eq!(LAYOUT_4MB.ota_slots().nth(1).unwrap().offset, 0x200000);
    }

    #[test]
    fn csv_declares_config_with_a_custom_type() {
        let mut s = std::string::String::new();
        LAYOUT_4MB.write_csv(&mut s).unwrap();
        assert!(s.contains("picowcfg, 0x40, 0x00, 0x3f0000, 0x1000,"), "{s}");
        assert!(s.contains("otadata, data, ota, 0xd000, 0x2000,"), "{s}");
        assert!(s.contains("ota_0, app, ota_0, 0x10000, 0x1f0000,"), "{s}");
        assert!(s.contains("ota_1, app, ota_1, 0x200000, 0x1f0000,"), "{s}");
    }

    #[test]
    fn binary_round_trip_and_md5() {
        let bin = LAYOUT_8MB.to_binary();
        let t = PartitionTable::parse(&bin).unwrap();
        assert_eq!(t.entries().len(), 6);
        let c = t.picow_config().unwrap();
        assert_eq!((c.offset, c.size), (0x7F0000, 0x1000));
        assert_eq!(t.first_app().unwrap().offset, 0x10000);
        assert!(t.supports_ota());
        assert_eq!(t.ota_slot_count(), 2);
        assert_eq!(t.ota_slot(1).unwrap().offset, 0x400000);
        assert_eq!(t.otadata().unwrap().offset, OTADATA_OFFSET);
        assert_eq!(t.app_at(0x400000).unwrap().ota_slot(), Some(1));
        assert!(t.factory().is_none());
        let mut bad = bin;
        bad[4] ^= 1;
        assert_eq!(PartitionTable::parse(&bad), Err(TableError::Md5Mismatch));
        assert_eq!(
            PartitionTable::parse(&[0xFF; 0xC00]),
            Err(TableError::Erased)
        );
        assert_eq!(
            PartitionTable::parse(&[0; 0xC00]),
            Err(TableError::BadEntry(0))
        );
        assert_eq!(
            PartitionTable::parse(&bin[..40]),
            Err(TableError::Truncated)
        );
    }

    #[test]
    fn legacy_tables_are_recognised_and_keep_the_config_offset() {
        for (old, new) in [
            (&LEGACY_LAYOUT_8MB, &LAYOUT_8MB),
            (&LEGACY_LAYOUT_4MB, &LAYOUT_4MB),
        ] {
            let t = PartitionTable::parse(&old.to_binary()).unwrap();
            assert!(!t.supports_ota());
            assert!(t.otadata().is_none());
            assert_eq!(t.factory().unwrap().offset, APP_OFFSET);
            assert_eq!(old.config(), new.config());
            assert_eq!(old.app().offset, new.app().offset);
        }
    }

    #[test]
    fn picks_layout_by_size() {
        assert_eq!(Layout::for_flash_size(16 << 20), Some(&LAYOUT_8MB));
        assert_eq!(Layout::for_flash_size(4 << 20), Some(&LAYOUT_4MB));
        assert_eq!(Layout::for_flash_size(2 << 20), None);
    }
}
