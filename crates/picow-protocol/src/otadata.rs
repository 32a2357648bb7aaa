//! ESP-IDF's `otadata` partition: which OTA app slot the bootloader boots,
//! and the trial state of that image.
//!
//! The partition is two 4 KiB sectors; each starts with one 32-byte entry
//! (`esp_ota_select_entry_t`), all integers little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | `seq`: sequence number; `0xFFFFFFFF` in an erased sector |
//! | 4 | 20 | `label` (unused by the bootloader; `0xFF` here) |
//! | 24 | 4 | `state`: [`ImageState`] |
//! | 28 | 4 | `crc`: CRC-32 of the four bytes of `seq` (see [`seq_crc`]) |
//!
//! An entry is *valid* when its `seq` is not `0xFFFFFFFF`, its CRC matches
//! and its state is neither `Invalid` nor `Aborted`. The valid entry with the
//! higher `seq` is the *active* one, and the bootloader boots slot
//! `(seq - 1) % slot_count`. A new selection is always written to the
//! sector that does not hold the active entry, so a power cut while it is
//! written leaves the old selection in force.
//!
//! The functions here decide; they do no I/O, never panic and never
//! allocate. Both the firmware's host board and the virtual board's
//! bootloader use them; esp-bootloader-esp-idf's `Ota` writes the same
//! format on the chip.

/// Bytes in one entry.
pub const ENTRY_LEN: usize = 32;
/// Distance between the two entries (one flash sector).
pub const SECTOR_LEN: u32 = 0x1000;
/// `seq` of an erased entry.
pub const ERASED_SEQ: u32 = u32::MAX;

// Four bytes at a time: no table (1 KB less on the chip).
const CRC: crc::Crc<u32, crc::NoTable> = crc::Crc::<u32, crc::NoTable>::new(&crc::Algorithm {
    width: 32,
    poly: 0x04c1_1db7,
    // ESP-IDF calls the ROM's `crc32_le(UINT32_MAX, ..)`, which inverts its
    // argument first: the register starts at 0, then the usual reflection
    // and final inversion of zlib's CRC-32.
    init: 0x0000_0000,
    refin: true,
    refout: true,
    xorout: 0xffff_ffff,
    check: 0x2dfd_2d88,
    residue: 0xdebb_20e3,
});

/// The CRC an entry stores for `seq` (`crc32_le(UINT32_MAX, &seq, 4)` in
/// ESP-IDF; zlib's `crc32(seq_bytes, 0xFFFFFFFF)`).
pub fn seq_crc(seq: u32) -> u32 {
    CRC.checksum(&seq.to_le_bytes())
}

/// The trial state of the image an entry selects (`esp_ota_img_states_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageState {
    /// Just activated; not booted yet.
    New,
    /// Booted once in trial and not confirmed yet.
    PendingVerify,
    /// Confirmed: it ran well enough.
    Valid,
    /// Marked unusable: the bootloader skips the entry.
    Invalid,
    /// A trial that ended without confirmation: the bootloader skips it.
    Aborted,
    /// No state (`0xFFFFFFFF`): written by tools that do not track trials.
    Undefined,
}

impl ImageState {
    /// The value in flash.
    pub const fn raw(self) -> u32 {
        match self {
            ImageState::New => 0,
            ImageState::PendingVerify => 1,
            ImageState::Valid => 2,
            ImageState::Invalid => 3,
            ImageState::Aborted => 4,
            ImageState::Undefined => u32::MAX,
        }
    }

    /// The state of a value in flash, if it is one.
    pub const fn from_raw(v: u32) -> Option<ImageState> {
        Some(match v {
            0 => ImageState::New,
            1 => ImageState::PendingVerify,
            2 => ImageState::Valid,
            3 => ImageState::Invalid,
            4 => ImageState::Aborted,
            u32::MAX => ImageState::Undefined,
            _ => return None,
        })
    }

    /// A short lowercase name, as on the console (`new`, `pending-verify`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            ImageState::New => "new",
            ImageState::PendingVerify => "pending-verify",
            ImageState::Valid => "valid",
            ImageState::Invalid => "invalid",
            ImageState::Aborted => "aborted",
            ImageState::Undefined => "undefined",
        }
    }
}

/// One otadata entry as stored (the state is kept raw: ESP-IDF's
/// bootloader accepts any value but `Invalid` and `Aborted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// Sequence number.
    pub seq: u32,
    /// Label bytes.
    pub label: [u8; 20],
    /// State, raw.
    pub state: u32,
    /// Stored CRC.
    pub crc: u32,
}

impl Entry {
    /// A fresh entry for `seq` and `state`, with its CRC and an erased label.
    pub fn new(seq: u32, state: ImageState) -> Entry {
        Entry {
            seq,
            label: [0xFF; 20],
            state: state.raw(),
            crc: seq_crc(seq),
        }
    }

    /// Reads an entry from the first 32 bytes of `bytes`; `None` when fewer
    /// bytes are given.
    pub fn read(bytes: &[u8]) -> Option<Entry> {
        let b = bytes.get(..ENTRY_LEN)?;
        let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut label = [0; 20];
        label.copy_from_slice(&b[4..24]);
        Some(Entry {
            seq: word(0),
            label,
            state: word(24),
            crc: word(28),
        })
    }

    /// The 32 bytes to write.
    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0xFF; ENTRY_LEN];
        out[0..4].copy_from_slice(&self.seq.to_le_bytes());
        out[4..24].copy_from_slice(&self.label);
        out[24..28].copy_from_slice(&self.state.to_le_bytes());
        out[28..32].copy_from_slice(&self.crc.to_le_bytes());
        out
    }

    /// Whether the CRC matches `seq`.
    pub fn crc_ok(&self) -> bool {
        self.crc == seq_crc(self.seq)
    }

    /// The state, when it is a known value.
    pub fn image_state(&self) -> Option<ImageState> {
        ImageState::from_raw(self.state)
    }

    /// ESP-IDF's `bootloader_common_ota_select_invalid`: erased, or marked
    /// `Invalid` or `Aborted` (the CRC is not looked at).
    pub fn is_unusable(&self) -> bool {
        self.seq == ERASED_SEQ
            || self.state == ImageState::Invalid.raw()
            || self.state == ImageState::Aborted.raw()
    }

    /// ESP-IDF's `bootloader_common_ota_select_valid`: usable and the CRC matches.
    pub fn is_valid(&self) -> bool {
        !self.is_unusable() && self.crc_ok()
    }

    /// Whether the sector holds no entry at all (all `0xFF` in seq and
    /// CRC), or a CRC that does not match: what ESP-IDF calls "initial
    /// contents".
    pub fn is_initial(&self) -> bool {
        self.seq == ERASED_SEQ || !self.crc_ok()
    }

    /// The slot this entry selects among `slot_count` slots.
    pub fn slot(&self, slot_count: u8) -> u8 {
        if slot_count == 0 {
            return 0;
        }
        (self.seq.wrapping_sub(1) % u32::from(slot_count)) as u8
    }
}

/// Both entries of an otadata partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OtaData {
    /// The entries at offset 0 and at [`SECTOR_LEN`].
    pub entries: [Entry; 2],
}

/// A write that changes the selection: put [`Write::entry`] at the start of
/// sector [`Write::sector`] (0 or 1) of the otadata partition, the rest of
/// the sector erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write {
    /// Which sector (0 or 1).
    pub sector: usize,
    /// What goes there.
    pub entry: Entry,
}

impl Write {
    /// Offset of the sector inside the otadata partition.
    pub fn offset(&self) -> u32 {
        if self.sector == 0 {
            0
        } else {
            SECTOR_LEN
        }
    }
}

impl OtaData {
    /// Erased otadata: no selection.
    pub const ERASED: OtaData = OtaData {
        entries: [Entry {
            seq: ERASED_SEQ,
            label: [0xFF; 20],
            state: u32::MAX,
            crc: u32::MAX,
        }; 2],
    };

    /// Reads both entries from the partition's bytes (the entry of sector
    /// 1 at offset [`SECTOR_LEN`]); missing bytes read as erased.
    pub fn parse(partition: &[u8]) -> OtaData {
        let at = |o: usize| {
            partition
                .get(o..)
                .and_then(Entry::read)
                .unwrap_or(OtaData::ERASED.entries[0])
        };
        OtaData {
            entries: [at(0), at(SECTOR_LEN as usize)],
        }
    }

    /// From the two 32-byte entries read separately.
    pub fn from_entries(first: &[u8], second: &[u8]) -> OtaData {
        let e = |b: &[u8]| Entry::read(b).unwrap_or(OtaData::ERASED.entries[0]);
        OtaData {
            entries: [e(first), e(second)],
        }
    }

    /// ESP-IDF's `bootloader_common_get_active_otadata`: the index of the
    /// valid entry with the higher `seq` (the second one on a tie).
    pub fn active(&self) -> Option<usize> {
        let [a, b] = &self.entries;
        match (a.is_valid(), b.is_valid()) {
            (true, true) => Some(if a.seq > b.seq { 0 } else { 1 }),
            (true, false) => Some(0),
            (false, true) => Some(1),
            (false, false) => None,
        }
    }

    /// The active entry.
    pub fn active_entry(&self) -> Option<&Entry> {
        self.active().map(|i| &self.entries[i])
    }

    /// Whether neither entry is usable (erased, invalid or aborted): the
    /// bootloader then boots the factory app, or `ota_0` without one.
    pub fn none_usable(&self) -> bool {
        self.entries.iter().all(Entry::is_unusable)
    }

    /// The slot the active entry selects among `slot_count`, if any.
    pub fn selected_slot(&self, slot_count: u8) -> Option<u8> {
        self.active_entry().map(|e| e.slot(slot_count))
    }

    /// What makes the bootloader boot `slot` (of `slot_count`) next, with
    /// `state` (as ESP-IDF's `esp_ota_set_boot_partition`): the smallest
    /// sequence number above the active one that maps to `slot`, written to
    /// the other sector, so that the active entry stays intact until the
    /// new one is complete. With no active entry, `slot + 1` in sector 0.
    pub fn select(&self, slot: u8, slot_count: u8, state: ImageState) -> Write {
        let count = u64::from(slot_count.max(1));
        let base = (u64::from(slot) + 1) % count;
        match self.active() {
            Some(a) => {
                let seq = u64::from(self.entries[a].seq);
                // The smallest base + i * count that is > seq. (ESP-IDF
                // allows it to equal seq, which on a tie with the entry in
                // sector 1 leaves the old entry in force.)
                let i = (seq + 1).saturating_sub(base).div_ceil(count);
                let new_seq = (base + i * count).min(u64::from(ERASED_SEQ - 1)) as u32;
                Write {
                    sector: 1 - a,
                    entry: Entry::new(new_seq, state),
                }
            }
            None => Write {
                sector: 0,
                entry: Entry::new(u32::from(slot) + 1, state),
            },
        }
    }

    /// Rewrites the active entry with another state (what
    /// `esp_ota_mark_app_valid_cancel_rollback` and friends do); `None`
    /// without an active entry.
    pub fn with_state(&self, state: ImageState) -> Option<Write> {
        let a = self.active()?;
        let mut entry = self.entries[a];
        entry.state = state.raw();
        Some(Write { sector: a, entry })
    }

    /// The otadata after `w` was written.
    pub fn apply(&self, w: &Write) -> OtaData {
        let mut next = *self;
        if let Some(e) = next.entries.get_mut(w.sector) {
            *e = w.entry;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_esp_idf() {
        // Vectors from esp-bootloader-esp-idf's tests (entries written by ESP-IDF).
        assert_eq!(seq_crc(1), 0x4743_989A);
        assert_eq!(seq_crc(2), 0x55F6_3774);
        assert_eq!(seq_crc(3), 0xED4A_5011);
        let e = Entry::new(2, ImageState::New);
        let b = e.to_bytes();
        assert_eq!(&b[..4], &[2, 0, 0, 0]);
        assert_eq!(&b[24..], &[0, 0, 0, 0, 116, 55, 246, 85]);
        assert_eq!(Entry::read(&b), Some(e));
    }

    #[test]
    fn erased_has_no_selection_and_first_write_goes_to_sector_0() {
        let d = OtaData::parse(&[0xFF; 0x2000]);
        assert_eq!(d, OtaData::ERASED);
        assert_eq!(d.active(), None);
        assert!(d.none_usable());
        assert!(d.entries[0].is_initial());
        let w = d.select(1, 2, ImageState::New);
        assert_eq!((w.sector, w.entry.seq), (0, 2));
        let d = d.apply(&w);
        assert_eq!(d.selected_slot(2), Some(1));
    }

    #[test]
    fn selection_alternates_sectors_and_slots() {
        let mut d = OtaData::ERASED;
        let mut sectors = Vec::new();
        for round in 0..6u8 {
            let slot = round % 2;
            let w = d.select(slot, 2, ImageState::New);
            if let Some(a) = d.active() {
                assert_ne!(w.sector, a, "never overwrites the active entry");
            }
            sectors.push(w.sector);
            d = d.apply(&w);
            assert_eq!(d.selected_slot(2), Some(slot));
            assert_eq!(
                d.active_entry().unwrap().image_state(),
                Some(ImageState::New)
            );
        }
        assert_eq!(sectors, [0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn an_aborted_trial_falls_back_to_the_other_entry() {
        let d = OtaData::ERASED
            .apply(&Write {
                sector: 0,
                entry: Entry::new(1, ImageState::Valid),
            })
            .apply(&Write {
                sector: 1,
                entry: Entry::new(2, ImageState::New),
            });
        assert_eq!(d.selected_slot(2), Some(1));
        let w = d.with_state(ImageState::Aborted).unwrap();
        assert_eq!(w.sector, 1);
        let d = d.apply(&w);
        assert_eq!(d.selected_slot(2), Some(0));
        // Activating slot 1 again reuses its sequence number in sector 1.
        let w = d.select(1, 2, ImageState::New);
        assert_eq!((w.sector, w.entry.seq), (1, 2));
    }

    #[test]
    fn corrupt_entries_are_not_valid() {
        let mut e = Entry::new(5, ImageState::Valid);
        e.crc ^= 1;
        assert!(!e.is_valid());
        assert!(!e.is_unusable(), "the CRC alone does not make it unusable");
        assert!(e.is_initial());
        let unknown = Entry {
            state: 0x1234,
            ..Entry::new(5, ImageState::Valid)
        };
        assert!(unknown.is_valid(), "ESP-IDF accepts unknown states");
        assert_eq!(unknown.image_state(), None);
        assert_eq!(Entry::read(&[0; 31]), None);
        assert_eq!(Entry::new(3, ImageState::Valid).slot(0), 0);
    }
}
