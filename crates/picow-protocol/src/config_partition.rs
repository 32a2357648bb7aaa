//! The config partition as a log of records: the last valid record is the
//! one in force.
//!
//! A USB flash writes one record at the start of an erased sector (what
//! [`crate::config`] describes). A change of the settings over Wi-Fi
//! appends the new record after the last one, at the next multiple of 4
//! bytes, without erasing: a power cut while it is written leaves a record
//! whose CRC does not match, and the previous one stays in force. Only when
//! the sector has no room left is it erased and the record written at its
//! start (the one moment a power cut loses the settings).
//!
//! Reading stops at the first erased header, and at a header whose length
//! and its complement disagree (a torn header): nothing after it counts, and
//! the next record needs an erase. A record whose header is whole but whose
//! CRC fails (torn later) is skipped.

use crate::config::{DecodeError, DeviceConfig, HEADER_LEN, MAGIC};

/// The records' alignment (flash is programmed in 32-bit words).
pub const ALIGN: usize = 4;

/// `n` rounded up to [`ALIGN`].
pub fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// The length of the record at the start of `b`, when its header says one
/// (magic, and the length guarded by its complement).
pub fn record_len(b: &[u8]) -> Option<usize> {
    let h = b.get(..HEADER_LEN)?;
    if h[..4] != MAGIC {
        return None;
    }
    let len = u16::from_le_bytes([h[6], h[7]]);
    let check = u16::from_le_bytes([h[8], h[9]]);
    (len == !check).then_some(HEADER_LEN + len as usize + 4)
}

fn erased(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0xFF)
}

/// Where each record starts, and where the log ends (the first offset
/// after the last record that has a readable header).
fn walk(partition: &[u8], mut each: impl FnMut(usize, usize)) -> usize {
    let mut at = 0;
    while let Some(head) = partition.get(at..at + HEADER_LEN) {
        if erased(head) {
            break;
        }
        let Some(len) = record_len(&partition[at..]) else {
            break;
        };
        each(at, len);
        at = align(at + len);
    }
    at
}

/// The config in force: the last record that decodes. Without any, the
/// error of the first record (`Erased` for an erased partition).
pub fn read(partition: &[u8]) -> Result<DeviceConfig, DecodeError> {
    let mut last = None;
    walk(partition, |at, _| {
        if let Ok(c) = DeviceConfig::decode(&partition[at..]) {
            last = Some(c);
        }
    });
    match last {
        Some(c) => Ok(c),
        None => DeviceConfig::decode(partition),
    }
}

/// Where a record of `len` bytes can be appended without erasing: after
/// the log, if the bytes there are erased and it fits. `None`: erase the
/// sector and write it at 0.
pub fn append_at(partition: &[u8], len: usize) -> Option<usize> {
    let end = walk(partition, |_, _| {});
    let room = partition.get(end..end + align(len))?;
    erased(room).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::{ServerAddr, WifiCredentials};

    fn cfg(port: u16) -> DeviceConfig {
        DeviceConfig::new(
            WifiCredentials::parse("Lab:password1").unwrap(),
            ServerAddr::parse(&std::format!("127.0.0.1:{port}")).unwrap(),
            None,
        )
        .unwrap()
    }

    fn append(part: &mut [u8], c: &DeviceConfig) -> bool {
        let rec = c.to_bytes();
        match append_at(part, rec.len()) {
            Some(at) => {
                part[at..at + rec.len()].copy_from_slice(&rec);
                true
            }
            None => false,
        }
    }

    #[test]
    fn the_last_valid_record_wins_and_a_torn_one_is_ignored() {
        let mut part = std::vec![0xFF; 4096];
        assert_eq!(read(&part), Err(DecodeError::Erased));
        assert!(append(&mut part, &cfg(1)));
        assert_eq!(read(&part).unwrap(), cfg(1));
        assert!(append(&mut part, &cfg(2)));
        assert_eq!(read(&part).unwrap(), cfg(2));
        // A power cut in the middle of the third record.
        let rec = cfg(3).to_bytes();
        let at = append_at(&part, rec.len()).unwrap();
        assert_eq!(at % ALIGN, 0);
        part[at..at + rec.len() / 2].copy_from_slice(&rec[..rec.len() / 2]);
        assert_eq!(read(&part).unwrap(), cfg(2));
        // The next record goes after the torn one and is in force.
        assert!(append(&mut part, &cfg(4)));
        assert_eq!(read(&part).unwrap(), cfg(4));
        // A torn header (length and complement disagree) ends the log:
        // nothing is appended after it without an erase.
        let at = append_at(&part, rec.len()).unwrap();
        part[at..at + 8].copy_from_slice(&rec[..8]);
        assert_eq!(read(&part).unwrap(), cfg(4));
        assert_eq!(append_at(&part, rec.len()), None);
    }

    #[test]
    fn a_full_sector_asks_for_an_erase() {
        let mut part = std::vec![0xFF; 4096];
        let mut n = 0;
        while append(&mut part, &cfg(1000 + n)) {
            n += 1;
        }
        assert!(n > 40, "{n} records fit");
        assert_eq!(read(&part).unwrap(), cfg(1000 + n - 1));
        // A single record, as USB flash writes it, reads as before.
        let mut one = std::vec![0xFF; 4096];
        let rec = cfg(7).to_bytes();
        one[..rec.len()].copy_from_slice(&rec);
        assert_eq!(read(&one).unwrap(), cfg(7));
        assert_eq!(read(&[0u8; 64]), Err(DecodeError::Foreign));
    }
}
