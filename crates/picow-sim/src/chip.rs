//! What the tools read from a chip: chip-detect magic, eFuse words (MAC,
//! revision, package), security info, and where the SPI1 controller is.
//!
//! Addresses and values come from esptool 5.6.0 (`targets/esp32s3.py`,
//! `targets/esp32c3.py`, `loader.py`) and espflash 4.7.0 (`target/mod.rs`,
//! `target/efuse/esp32{s3,c3}.rs`).

use core::fmt;
use core::str::FromStr;

/// Address both tools read to tell chips apart when security info fails.
pub const CHIP_DETECT_MAGIC_REG: u32 = 0x4000_1000;

/// The emulated chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chip {
    /// ESP32-S3 (the WalnutPi PicoW).
    Esp32s3,
    /// ESP32-C3 (the chip CI builds firmware for).
    Esp32c3,
}

/// The SPI1 (flash) controller's register offsets, same on S3 and C3.
pub mod spi1 {
    /// Base address on ESP32-S3 and ESP32-C3.
    pub const BASE: u32 = 0x6000_2000;
    /// Command register: bit 18 starts a user command, reads 1 while busy.
    pub const CMD: u32 = 0x00;
    /// Address register.
    pub const ADDR: u32 = 0x04;
    /// User-command flags (bit 31 command, 30 address, 29 dummy, 28 MISO, 27 MOSI).
    pub const USR: u32 = 0x18;
    /// Address and dummy lengths.
    pub const USR1: u32 = 0x1C;
    /// Command length (bits 28..) and opcode (low 16 bits).
    pub const USR2: u32 = 0x20;
    /// MOSI bit length − 1.
    pub const MOSI_DLEN: u32 = 0x24;
    /// MISO bit length − 1.
    pub const MISO_DLEN: u32 = 0x28;
    /// First data word; 16 words follow.
    pub const W0: u32 = 0x58;
    /// The "start user command" bit of [`CMD`].
    pub const CMD_USR: u32 = 1 << 18;
}

/// Everything chip-specific the loader emulation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChipInfo {
    /// The chip.
    pub chip: Chip,
    /// Short name (`esp32s3`), as in the `--chip` flag.
    pub name: &'static str,
    /// Display name (`ESP32-S3`).
    pub display: &'static str,
    /// Image chip id (extended image header) and security-info chip id.
    pub image_chip_id: u16,
    /// Value of [`CHIP_DETECT_MAGIC_REG`].
    pub magic_value: u32,
    /// eFuse controller base.
    pub efuse_base: u32,
    /// eFuse BLOCK1 read address (MAC words first, then system data).
    pub efuse_block1: u32,
    /// `(major, minor)` chip revision encoded in BLOCK1.
    pub revision: (u32, u32),
    /// The ROM's first banner line.
    pub rom_banner: &'static str,
    /// The ROM's build line.
    pub rom_build: &'static str,
    /// Boot-strap value printed in run mode (`boot:0x8`).
    pub boot_strap_run: u32,
    /// API / ECO version in the security info.
    pub eco_version: u32,
}

const ESP32S3: ChipInfo = ChipInfo {
    chip: Chip::Esp32s3,
    name: "esp32s3",
    display: "ESP32-S3",
    image_chip_id: 9,
    // espflash: `Chip::Esp32s3 => [0x9]`.
    magic_value: 0x9,
    efuse_base: 0x6000_7000,
    efuse_block1: 0x6000_7044,
    revision: (0, 2),
    rom_banner: "ESP-ROM:esp32s3-20210327",
    rom_build: "Build:Mar 27 2021",
    boot_strap_run: 0x8,
    eco_version: 0,
};

const ESP32C3: ChipInfo = ChipInfo {
    chip: Chip::Esp32c3,
    name: "esp32c3",
    display: "ESP32-C3",
    image_chip_id: 5,
    // espflash: ECO3 value of `Chip::Esp32c3`.
    magic_value: 0x1b31_506f,
    efuse_base: 0x6000_8800,
    efuse_block1: 0x6000_8844,
    revision: (0, 4),
    rom_banner: "ESP-ROM:esp32c3-api1-20210207",
    rom_build: "Build:Feb  7 2021",
    boot_strap_run: 0xc,
    eco_version: 0,
};

impl Chip {
    /// All emulated chips.
    pub const ALL: [Chip; 2] = [Chip::Esp32s3, Chip::Esp32c3];

    /// The chip's facts.
    pub fn info(self) -> &'static ChipInfo {
        match self {
            Chip::Esp32s3 => &ESP32S3,
            Chip::Esp32c3 => &ESP32C3,
        }
    }

    /// The chip with this image chip id.
    pub fn from_image_id(id: u16) -> Option<Chip> {
        Chip::ALL.into_iter().find(|c| c.info().image_chip_id == id)
    }

    /// The register values a freshly reset chip shows the loader, other
    /// than the MAC (see [`efuse_mac_words`]). Unlisted addresses read 0.
    pub fn reset_registers(self) -> Vec<(u32, u32)> {
        let i = self.info();
        let (major, minor) = i.revision;
        // BLOCK1 word 3: minor revision low bits at 18..20, package at 21..23.
        let word3 = (minor & 0x7) << 18;
        // BLOCK1 word 5: minor hi bit at 23, major at 24..25.
        let word5 = ((minor >> 3) & 1) << 23 | (major & 0x3) << 24;
        let mut regs = vec![
            (CHIP_DETECT_MAGIC_REG, i.magic_value),
            (i.efuse_block1 + 12, word3),
            (i.efuse_block1 + 20, word5),
        ];
        if self == Chip::Esp32s3 {
            // ESP32-S3R2 as on the PicoW: embedded PSRAM 2 MB (psram_cap 2
            // at word 4 bits 3..4) from AP_3v3 (vendor 1 at bits 7..8).
            regs.push((i.efuse_block1 + 16, (2 << 3) | (1 << 7)));
        }
        regs
    }
}

/// The two eFuse words that hold a MAC: `(word0, word1)` for
/// BLOCK1+0 and BLOCK1+4. `aa:bb:cc:dd:ee:ff` is stored as
/// `word1 = 0xaabb`, `word0 = 0xccddeeff` (esptool's `read_mac`).
pub fn efuse_mac_words(mac: [u8; 6]) -> (u32, u32) {
    let w0 = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]);
    let w1 = u32::from(u16::from_be_bytes([mac[0], mac[1]]));
    (w0, w1)
}

impl fmt::Display for Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.info().name)
    }
}

/// `--chip` is not one of the emulated chips.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown chip `{0}`: the virtual board emulates esp32s3 and esp32c3")]
pub struct UnknownChip(pub String);

impl FromStr for Chip {
    type Err = UnknownChip;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        Chip::ALL
            .into_iter()
            .find(|c| c.info().name == norm)
            .ok_or_else(|| UnknownChip(s.to_owned()))
    }
}

/// A MAC address, `aa:bb:cc:dd:ee:ff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The default MAC of a virtual board: Espressif's OUI `7c:df:a1`, a
    /// fixed tail that says "sim".
    pub const DEFAULT: Mac = Mac([0x7c, 0xdf, 0xa1, 0x51, 0x00, 0x01]);
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Why a `--mac` value is not a MAC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    /// Not six hex pairs.
    #[error(
        "`{0}` is not a MAC: give six hex pairs separated by ':' or '-', e.g. 7c:df:a1:00:00:01"
    )]
    Format(String),
    /// Multicast bit set: a board's base MAC is unicast.
    #[error(
        "`{0}` is a multicast MAC (lowest bit of the first byte set); a board's MAC is unicast"
    )]
    Multicast(String),
}

impl FromStr for Mac {
    type Err = MacError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(MacError::Format(s.to_owned()));
        }
        let mut mac = [0u8; 6];
        for (m, p) in mac.iter_mut().zip(&parts) {
            if p.len() != 2 {
                return Err(MacError::Format(s.to_owned()));
            }
            *m = u8::from_str_radix(p, 16).map_err(|_| MacError::Format(s.to_owned()))?;
        }
        if mac[0] & 1 != 0 {
            return Err(MacError::Multicast(s.to_owned()));
        }
        Ok(Mac(mac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_words_match_esptool_layout() {
        // esptool: struct.pack(">II", mac1, mac0)[2:]
        let (w0, w1) = efuse_mac_words([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!((w0, w1), (0xccdd_eeff, 0xaabb));
    }

    #[test]
    fn parses_chips_and_macs() {
        assert_eq!("esp32s3".parse::<Chip>().unwrap(), Chip::Esp32s3);
        assert_eq!("ESP32-C3".parse::<Chip>().unwrap(), Chip::Esp32c3);
        assert!("esp32".parse::<Chip>().is_err());
        assert_eq!(
            "7C-DF-A1-00-00-02".parse::<Mac>().unwrap().to_string(),
            "7c:df:a1:00:00:02"
        );
        assert!(matches!(
            "01:00:5e:00:00:01".parse::<Mac>(),
            Err(MacError::Multicast(_))
        ));
        assert!(matches!(
            "7c:df:a1:00:00".parse::<Mac>(),
            Err(MacError::Format(_))
        ));
        assert!(matches!(
            "7c:df:a1:00:00:zz".parse::<Mac>(),
            Err(MacError::Format(_))
        ));
    }

    #[test]
    fn revision_words_decode_like_esptool() {
        for chip in Chip::ALL {
            let i = chip.info();
            let regs = chip.reset_registers();
            let get = |a| regs.iter().find(|(r, _)| *r == a).map_or(0, |(_, v)| *v);
            let w3 = get(i.efuse_block1 + 12);
            let w5 = get(i.efuse_block1 + 20);
            let minor = ((w5 >> 23) & 1) << 3 | ((w3 >> 18) & 7);
            let major = (w5 >> 24) & 3;
            assert_eq!((major, minor), i.revision);
        }
    }
}
