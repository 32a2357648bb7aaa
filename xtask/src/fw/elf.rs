//! Just enough ELF32 reading to size a firmware: section names, flags,
//! addresses and sizes.

/// One section header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub flags: u32,
    pub addr: u32,
    pub size: u32,
}

const SHF_ALLOC: u32 = 0x2;

impl Section {
    pub fn is_alloc(&self) -> bool {
        self.flags & SHF_ALLOC != 0
    }
}

/// The section headers of a little-endian ELF32 file.
pub fn sections(bytes: &[u8]) -> Result<Vec<Section>, String> {
    let u16_at = |o: usize| -> Result<u16, String> {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(|| "ELF truncated".to_string())
    };
    let u32_at = |o: usize| -> Result<u32, String> {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "ELF truncated".to_string())
    };
    if bytes.get(..4) != Some(b"\x7fELF") || bytes.get(4) != Some(&1) || bytes.get(5) != Some(&1) {
        return Err("not a little-endian 32-bit ELF file".into());
    }
    let shoff = u32_at(0x20)? as usize;
    let shentsize = u16_at(0x2E)? as usize;
    let shnum = u16_at(0x30)? as usize;
    let shstrndx = u16_at(0x32)? as usize;
    if shentsize < 40 {
        return Err("ELF section header size is too small".into());
    }
    let header = |i: usize| shoff + i * shentsize;
    let strtab_off = u32_at(header(shstrndx) + 0x10)? as usize;
    let name_at = |o: u32| -> String {
        let start = strtab_off + o as usize;
        let rest = bytes.get(start..).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end]).into_owned()
    };
    (0..shnum)
        .map(|i| {
            let h = header(i);
            Ok(Section {
                name: name_at(u32_at(h)?),
                flags: u32_at(h + 0x08)?,
                addr: u32_at(h + 0x0C)?,
                size: u32_at(h + 0x14)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF32 with a null section, `.bss` and the string table.
    fn tiny_elf() -> Vec<u8> {
        let strtab = b"\0.bss\0.shstrtab\0";
        let mut f = vec![0u8; 0x34];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 1;
        f[5] = 1;
        let str_off = f.len() as u32;
        f.extend_from_slice(strtab);
        while !f.len().is_multiple_of(4) {
            f.push(0);
        }
        let shoff = f.len() as u32;
        f[0x20..0x24].copy_from_slice(&shoff.to_le_bytes());
        f[0x2E..0x30].copy_from_slice(&40u16.to_le_bytes());
        f[0x30..0x32].copy_from_slice(&3u16.to_le_bytes());
        f[0x32..0x34].copy_from_slice(&2u16.to_le_bytes());
        let mut sh = |name: u32, flags: u32, addr: u32, off: u32, size: u32| {
            let mut h = [0u8; 40];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[8..12].copy_from_slice(&flags.to_le_bytes());
            h[12..16].copy_from_slice(&addr.to_le_bytes());
            h[16..20].copy_from_slice(&off.to_le_bytes());
            h[20..24].copy_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&h);
        };
        sh(0, 0, 0, 0, 0);
        sh(1, 3, 0x3FC8_0000, 0, 0x1234);
        sh(6, 0, 0, str_off, strtab.len() as u32);
        f
    }

    #[test]
    fn reads_section_headers() {
        let s = sections(&tiny_elf()).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].name, ".bss");
        assert_eq!((s[1].addr, s[1].size), (0x3FC8_0000, 0x1234));
        assert!(s[1].is_alloc());
        assert_eq!(s[2].name, ".shstrtab");
        assert!(!s[2].is_alloc());
    }

    #[test]
    fn rejects_other_files() {
        assert!(sections(b"not an elf").is_err());
        let mut e = tiny_elf();
        e.truncate(0x40);
        assert!(sections(&e).is_err());
    }
}
