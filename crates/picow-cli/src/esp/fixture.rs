//! A minimal firmware ELF for tests and benchmarks without a firmware
//! build: what espflash needs to make a valid app image (an app descriptor
//! first in DROM, code in IROM, data in RAM, esp-hal's chip metadata). It
//! holds no runnable code.

const APP_DESC_MAGIC: u32 = 0xABCD_5432;
const APP_DESC_LEN: usize = 256;

/// A minimal firmware ELF: an app descriptor at the start of DROM, some
/// code in IROM, initialised data in RAM, and esp-hal's metadata naming
/// the chip. Addresses are the ESP32-C3/S3 ones.
pub fn synthetic_elf(chip: Option<&str>, code_len: usize) -> Vec<u8> {
    let mut desc = vec![0u8; APP_DESC_LEN];
    desc[..4].copy_from_slice(&APP_DESC_MAGIC.to_le_bytes());
    desc[16..21].copy_from_slice(b"0.1.0");
    desc[48..56].copy_from_slice(b"picow-fw");
    desc[80..88].copy_from_slice(b"09:00:00");
    desc[96..107].copy_from_slice(b"Nov 26 2026");
    // Like real code: about half of it compresses away.
    let mut x = 0x2545_F491_4F6C_DD1Du64 ^ code_len as u64;
    let code: Vec<u8> = (0..code_len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 64 < 32 {
                (x >> 24) as u8
            } else {
                0
            }
        })
        .collect();
    let data = vec![0x11u8; 64];
    let mut sections: Vec<(&str, u32, u32, u32, Vec<u8>)> = vec![
        // name, type, flags, addr, data
        (".flash.appdesc", 1, 0x2, 0x3C00_0020, desc),
        (".text", 1, 0x6, 0x4200_0020, code),
        (".data", 1, 0x3, 0x3FC8_0000, data),
    ];
    let mut symbols = Vec::new();
    if let Some(chip) = chip {
        symbols.push(("build_info.CHIP_NAME", chip.len() as u32));
        sections.push((".espressif.metadata", 1, 0, 0, chip.as_bytes().to_vec()));
    }
    write_elf(0x4200_0020, &sections, &symbols)
}

fn write_elf(
    entry: u32,
    sections: &[(&str, u32, u32, u32, Vec<u8>)],
    symbols: &[(&str, u32)],
) -> Vec<u8> {
    let mut shstr = vec![0u8];
    let mut strtab = vec![0u8];
    let mut body = Vec::new();
    let mut headers: Vec<[u32; 10]> = vec![[0; 10]];
    let name_of = |tab: &mut Vec<u8>, n: &str| {
        let o = tab.len() as u32;
        tab.extend_from_slice(n.as_bytes());
        tab.push(0);
        o
    };
    let base = 52u32;
    let meta_index = sections.iter().position(|s| s.0 == ".espressif.metadata");
    for (name, ty, flags, addr, data) in sections {
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let off = base + body.len() as u32;
        body.extend_from_slice(data);
        let n = name_of(&mut shstr, name);
        headers.push([n, *ty, *flags, *addr, off, data.len() as u32, 0, 0, 4, 0]);
    }
    // .symtab
    let mut symtab = vec![0u8; 16];
    for (name, size) in symbols {
        let n = name_of(&mut strtab, name);
        let shndx = meta_index.map_or(0, |i| i + 1) as u16;
        symtab.extend_from_slice(&n.to_le_bytes());
        symtab.extend_from_slice(&0u32.to_le_bytes());
        symtab.extend_from_slice(&size.to_le_bytes());
        symtab.push(0x11); // global object
        symtab.push(0);
        symtab.extend_from_slice(&shndx.to_le_bytes());
    }
    let strtab_index = headers.len() as u32 + 1;
    for (name, ty, data, link, entsize) in [
        (".symtab", 2u32, symtab, strtab_index, 16u32),
        (".strtab", 3, strtab, 0, 0),
    ] {
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let off = base + body.len() as u32;
        body.extend_from_slice(&data);
        let n = name_of(&mut shstr, name);
        headers.push([n, ty, 0, 0, off, data.len() as u32, link, 1, 4, entsize]);
    }
    let n = name_of(&mut shstr, ".shstrtab");
    let off = base + body.len() as u32;
    headers.push([n, 3, 0, 0, off, shstr.len() as u32, 0, 0, 1, 0]);
    body.extend_from_slice(&shstr);
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let shoff = base + body.len() as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&243u16.to_le_bytes()); // EM_RISCV
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // phoff
    out.extend_from_slice(&shoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // flags
    out.extend_from_slice(&52u16.to_le_bytes());
    out.extend_from_slice(&32u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&40u16.to_le_bytes());
    out.extend_from_slice(&(headers.len() as u16).to_le_bytes());
    out.extend_from_slice(&((headers.len() - 1) as u16).to_le_bytes());
    out.extend_from_slice(&body);
    for h in headers {
        for v in h {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}
