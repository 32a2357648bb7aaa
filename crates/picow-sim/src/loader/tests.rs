use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::*;
use crate::command::Request;

/// A host speaking the loader protocol to a [`Loader`], in memory.
struct Host {
    loader: Loader,
    flash: Flash,
    dec: SlipDecoder,
    effects: Vec<Effect>,
}

#[derive(Debug)]
struct Resp {
    op: u8,
    value: u32,
    /// Data without the status bytes.
    data: Vec<u8>,
    status: u8,
    error: u8,
}

impl Host {
    fn new(chip: Chip) -> Host {
        Host {
            loader: Loader::new(chip, Mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf0])),
            flash: Flash::in_memory(4 << 20),
            dec: SlipDecoder::new(),
            effects: Vec::new(),
        }
    }

    /// Sends raw bytes and returns the frames that came back.
    fn raw(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let out = self.loader.feed(bytes, &mut self.flash);
        self.effects.extend(out.effects);
        let mut frames = Vec::new();
        self.dec
            .feed(&out.bytes, |f| frames.push(f.unwrap().to_vec()));
        frames
    }

    fn send_frame(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        self.raw(&slip::encode(frame))
    }

    fn parse(&self, f: &[u8]) -> Resp {
        let n = self.loader.dialect().status_len();
        let len = u16::from_le_bytes([f[2], f[3]]) as usize;
        assert_eq!(len, f.len() - 8, "length field covers data + status");
        Resp {
            op: f[1],
            value: u32::from_le_bytes(f[4..8].try_into().unwrap()),
            data: f[8..f.len() - n].to_vec(),
            status: f[f.len() - n],
            error: f[f.len() - n + 1],
        }
    }

    fn cmd(&mut self, op: u8, data: &[u8]) -> Resp {
        self.cmd_chk(op, data, 0)
    }

    fn cmd_chk(&mut self, op: u8, data: &[u8], chk: u32) -> Resp {
        let frames = self.send_frame(&Request::encode(op, data, chk));
        assert_eq!(frames.len(), 1, "one reply to {}", op_name(op));
        assert_eq!(frames[0][0], 1, "a response");
        self.parse(&frames[0])
    }

    fn ok(&mut self, op: u8, data: &[u8]) -> Resp {
        let r = self.cmd(op, data);
        assert_eq!((r.status, r.error), (0, 0), "{} failed", op_name(op));
        r
    }

    fn read_reg(&mut self, addr: u32) -> u32 {
        self.ok(op::READ_REG, &addr.to_le_bytes()).value
    }

    fn write_reg(&mut self, addr: u32, value: u32) {
        self.ok(op::WRITE_REG, &words(&[addr, value, 0xFFFF_FFFF, 0]));
    }

    fn data_cmd(&mut self, op: u8, seq: u32, data: &[u8]) -> Resp {
        let mut payload = words(&[data.len() as u32, seq, 0, 0]);
        payload.extend_from_slice(data);
        self.cmd_chk(op, &payload, u32::from(checksum(data)))
    }

    /// Uploads a fake stub like esptool does and checks the greeting.
    fn start_stub(&mut self) {
        let text = vec![0x13u8; 0x900];
        self.ok(op::MEM_BEGIN, &words(&[0x900, 2, 0x800, 0x4037_8000]));
        for (i, chunk) in text.chunks(0x800).enumerate() {
            let r = self.data_cmd(op::MEM_DATA, i as u32, chunk);
            assert_eq!(r.status, 0);
        }
        let frames = self.send_frame(&Request::encode(op::MEM_END, &words(&[0, 0x4037_8004]), 0));
        assert_eq!(frames.len(), 2);
        // The MEM_END reply still comes from the ROM (4 status bytes).
        assert_eq!(frames[0].len(), 12);
        assert_eq!(frames[1], STUB_GREETING);
        assert_eq!(self.loader.dialect(), Dialect::Stub);
        assert!(self.effects.contains(&Effect::StubStarted));
    }

    /// The SPI1 register sequence of esptool's `run_spiflash_command`.
    fn spi_command(&mut self, cmd: u8, read_bits: u32, addr: Option<u32>) -> u32 {
        let b = spi1::BASE;
        let old_usr = self.read_reg(b + spi1::USR);
        let old_usr2 = self.read_reg(b + spi1::USR2);
        let mut flags = 1 << 31;
        if read_bits > 0 {
            flags |= 1 << 28;
            self.write_reg(b + spi1::MISO_DLEN, read_bits - 1);
        }
        if addr.is_some() {
            flags |= 1 << 30;
        }
        self.write_reg(b + spi1::USR, flags);
        self.write_reg(b + spi1::USR2, (7 << 28) | u32::from(cmd));
        if let Some(a) = addr {
            self.write_reg(b + spi1::ADDR, a);
        }
        self.write_reg(b + spi1::W0, 0);
        self.write_reg(b + spi1::CMD, spi1::CMD_USR);
        assert_eq!(
            self.read_reg(b + spi1::CMD) & spi1::CMD_USR,
            0,
            "done at once"
        );
        let v = self.read_reg(b + spi1::W0);
        self.write_reg(b + spi1::USR, old_usr);
        self.write_reg(b + spi1::USR2, old_usr2);
        v
    }
}

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn sync_frame() -> Vec<u8> {
    Request::encode(op::SYNC, &SYNC_PAYLOAD, 0)
}

fn random_bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn sync_gets_eight_rom_replies() {
    let mut h = Host::new(Chip::Esp32s3);
    let frames = h.send_frame(&sync_frame());
    assert_eq!(frames.len(), SYNC_REPLIES);
    for f in &frames {
        assert_eq!(f, &[1, op::SYNC, 4, 0, 0x07, 0x07, 0x12, 0x20, 0, 0, 0, 0]);
    }
    // A wrong sync pattern is an invalid message.
    let r = h.cmd(op::SYNC, &[0x55; 36]);
    assert_eq!((r.status, r.error), (1, err::ROM_INVALID_MESSAGE));
}

#[test]
fn input_split_anywhere_and_noise_before_still_answers() {
    let mut h = Host::new(Chip::Esp32s3);
    let mut wire = b"\r\nnoise".to_vec();
    wire.extend(slip::encode(&Request::encode(
        op::READ_REG,
        &0x4000_1000u32.to_le_bytes(),
        0,
    )));
    let mut frames = Vec::new();
    for b in &wire {
        frames.extend(h.raw(std::slice::from_ref(b)));
    }
    assert_eq!(frames.len(), 1);
    assert_eq!(h.parse(&frames[0]).value, 0x9);
}

#[test]
fn chip_detect_mac_and_security_info_per_chip() {
    for (chip, magic, b1, id) in [
        (Chip::Esp32s3, 0x9, 0x6000_7044, 9u32),
        (Chip::Esp32c3, 0x1b31_506f, 0x6000_8844, 5),
    ] {
        let mut h = Host::new(chip);
        assert_eq!(h.read_reg(0x4000_1000), magic);
        assert_eq!(h.read_reg(b1), 0xccdd_eef0);
        assert_eq!(h.read_reg(b1 + 4), 0xaabb);
        let r = h.ok(op::GET_SECURITY_INFO, &[]);
        assert_eq!(r.data.len(), 20);
        assert_eq!(u32::from_le_bytes(r.data[12..16].try_into().unwrap()), id);
        assert_eq!(&r.data[..12], &[0; 12], "no secure boot, no encryption");
    }
}

#[test]
fn write_reg_honours_the_mask() {
    let mut h = Host::new(Chip::Esp32s3);
    h.write_reg(0x6000_8000, 0x1234_5678);
    h.ok(
        op::WRITE_REG,
        &words(&[0x6000_8000, 0xFFFF_FFFF, 0x0000_FF00, 0]),
    );
    assert_eq!(h.read_reg(0x6000_8000), 0x1234_FF78);
    // Several writes in one command (the stub allows it), odd length not.
    h.ok(op::WRITE_REG, &words(&[0x10, 1, !0, 0, 0x14, 2, !0, 0]));
    assert_eq!((h.read_reg(0x10), h.read_reg(0x14)), (1, 2));
    let r = h.cmd(op::WRITE_REG, &[0; 12]);
    assert_eq!(r.status, 1);
}

#[test]
fn spi_flash_id_sfdp_and_reset_through_registers() {
    let mut h = Host::new(Chip::Esp32c3);
    assert_eq!(h.spi_command(0x9F, 24, None), 0x0016_40C8, "GD 4 MB");
    assert_eq!(h.spi_command(0x5A, 32, Some(0)), 0x5044_4653, "SFDP");
    assert_eq!(h.spi_command(0x5A, 8, Some(0x10)), 0xC8);
    assert_eq!(h.loader.stats().flash_resets, 0);
    h.spi_command(0x66, 0, None);
    h.spi_command(0x99, 0, None);
    assert_eq!(h.loader.stats().flash_resets, 1);
}

#[test]
fn rom_flash_write_pads_persists_each_block_and_md5_is_hex() {
    let mut h = Host::new(Chip::Esp32s3);
    h.flash.program(0x10000, &[0; 16]).unwrap(); // old contents to be erased
    let data = random_bytes(0x900, 7);
    // esptool ROM dialect: 20-byte FLASH_BEGIN, 0x400 blocks padded with FF.
    h.ok(op::SPI_ATTACH, &[0; 8]);
    h.ok(op::FLASH_BEGIN, &words(&[0x900, 3, 0x400, 0x10000, 0]));
    for (i, chunk) in data.chunks(0x400).enumerate() {
        let mut block = chunk.to_vec();
        block.resize(0x400, 0xFF);
        let r = h.data_cmd(op::FLASH_DATA, i as u32, &block);
        assert_eq!((r.status, r.error), (0, 0));
        // Every block is in flash as soon as it is acknowledged.
        assert_eq!(
            h.flash
                .read(0x10000 + i as u32 * 0x400, chunk.len() as u32)
                .unwrap(),
            chunk
        );
    }
    assert_eq!(h.flash.read(0x10900, 0x100).unwrap(), &[0xFF; 0x100]);
    let r = h.ok(op::SPI_FLASH_MD5, &words(&[0x10000, 0x900, 0, 0]));
    let expected: String = Md5::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r.data, expected.as_bytes(), "32 lowercase hex characters");
    // The full response is 8 + 32 + 4 = 44 bytes, as espflash expects.
    assert!(h.effects.is_empty());
}

#[test]
fn espflash_lengths_are_accepted_too() {
    let mut h = Host::new(Chip::Esp32s3);
    h.ok(op::SPI_ATTACH, &[0; 4]);
    h.ok(op::FLASH_BEGIN, &words(&[0x1000, 1, 0x400, 0x2000]));
    h.ok(op::FLASH_DEFL_BEGIN, &words(&[0x1000, 1, 0x400, 0x2000]));
    h.ok(
        op::SPI_SET_PARAMS,
        &words(&[0, 4 << 20, 0x10000, 0x1000, 0x100, 0xFFFF]),
    );
    h.flash.program(0x100, b"ROM read").unwrap();
    for payload in [words(&[0x100, 8]), words(&[0x100, 8, 0x1000, 64])] {
        let r = h.ok(op::READ_FLASH_SLOW, &payload);
        assert_eq!(r.data.len(), READ_SLOW_BLOCK);
        assert_eq!(&r.data[..8], b"ROM read");
    }
    let r = h.cmd(op::READ_FLASH_SLOW, &words(&[0, 65]));
    assert_eq!((r.status, r.error), (1, err::ROM_READ_LENGTH));
}

#[test]
fn bad_checksum_and_data_without_begin_fail() {
    let mut h = Host::new(Chip::Esp32s3);
    let r = h.data_cmd(op::FLASH_DATA, 0, &[1, 2, 3]);
    assert_eq!((r.status, r.error), (1, err::ROM_FAILED));
    h.ok(op::FLASH_BEGIN, &words(&[0x1000, 1, 0x400, 0]));
    let mut payload = words(&[3, 0, 0, 0]);
    payload.extend([1, 2, 3]);
    let r = h.cmd_chk(op::FLASH_DATA, &payload, 0x42);
    assert_eq!((r.status, r.error), (1, err::ROM_INVALID_CRC));
    assert_eq!(h.flash.read(0, 3).unwrap(), &[0xFF; 3], "nothing written");
}

#[test]
fn rom_flash_end_runs_the_app_with_1_and_reboots_with_0() {
    // esptool's soft reset ("run user code") sends FLASH_END(1); espflash
    // finishes a ROM write with FLASH_END(0), a reboot into the loader.
    let mut h = Host::new(Chip::Esp32s3);
    h.ok(op::FLASH_BEGIN, &words(&[0, 0, 0x400, 0, 0]));
    h.ok(op::FLASH_END, &words(&[1]));
    assert_eq!(h.effects, vec![Effect::Run]);
    let mut h = Host::new(Chip::Esp32s3);
    h.ok(op::FLASH_BEGIN, &words(&[0, 0, 0x400, 0, 0]));
    h.ok(op::FLASH_DEFL_END, &words(&[0]));
    assert_eq!(h.effects, vec![Effect::RebootToRom]);
}

#[test]
fn stub_dialect_after_upload() {
    let mut h = Host::new(Chip::Esp32s3);
    h.start_stub();
    // Stub answers carry 2 status bytes; SYNC value is 0, still 8 replies.
    let frames = h.send_frame(&sync_frame());
    assert_eq!(frames.len(), SYNC_REPLIES);
    assert_eq!(frames[0], [1, op::SYNC, 2, 0, 0, 0, 0, 0, 0, 0]);
    let r = h.ok(op::READ_REG, &0x4000_1000u32.to_le_bytes());
    assert_eq!(r.value, 9);
    // MD5 as 16 raw bytes: 8 + 16 + 2 = 26 bytes on the wire.
    let frames = h.send_frame(&Request::encode(
        op::SPI_FLASH_MD5,
        &words(&[0, 0x1000, 0, 0]),
        0,
    ));
    assert_eq!(frames[0].len(), 26);
    assert_eq!(&frames[0][8..24], &Md5::digest([0xFF; 0x1000])[..]);
    // The stub has no READ_FLASH_SLOW; the ROM has no ERASE_FLASH.
    let r = h.cmd(op::READ_FLASH_SLOW, &words(&[0, 64]));
    assert_eq!((r.status, r.error), (1, err::STUB_INVALID_COMMAND));
    let mut rom = Host::new(Chip::Esp32s3);
    let r = rom.cmd(op::ERASE_FLASH, &[]);
    assert_eq!((r.status, r.error), (1, err::ROM_INVALID_MESSAGE));
}

#[test]
fn mem_end_without_entry_or_outside_loaded_code_stays_rom() {
    let mut h = Host::new(Chip::Esp32c3);
    h.ok(op::MEM_BEGIN, &words(&[4, 1, 0x1800, 0x4038_0000]));
    let r = h.data_cmd(op::MEM_DATA, 0, &[1, 2, 3, 4]);
    assert_eq!(r.status, 0);
    let frames = h.send_frame(&Request::encode(op::MEM_END, &words(&[1, 0]), 0));
    assert_eq!(frames.len(), 1);
    let frames = h.send_frame(&Request::encode(op::MEM_END, &words(&[0, 0x5000_0000]), 0));
    assert_eq!(frames.len(), 1, "no OHAI: nothing was loaded there");
    assert_eq!(h.loader.dialect(), Dialect::Rom);
}

#[test]
fn stub_compressed_write_in_blocks_then_streamed_read() {
    let mut h = Host::new(Chip::Esp32s3);
    h.start_stub();
    let data = random_bytes(100_000, 3);
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&data).unwrap();
    let z = enc.finish().unwrap();
    let blocks: Vec<&[u8]> = z.chunks(0x4000).collect();
    h.ok(
        op::FLASH_DEFL_BEGIN,
        &words(&[data.len() as u32, blocks.len() as u32, 0x4000, 0x20000, 0]),
    );
    for (i, b) in blocks.iter().enumerate() {
        let r = h.data_cmd(op::FLASH_DEFL_DATA, i as u32, b);
        assert_eq!((r.status, r.error), (0, 0), "block {i}");
        // A retried block is acknowledged but not fed twice.
        let r = h.data_cmd(op::FLASH_DEFL_DATA, i as u32, b);
        assert_eq!(r.status, 0);
    }
    h.ok(op::FLASH_DEFL_END, &words(&[1]));
    assert_eq!(h.flash.read(0x20000, data.len() as u32).unwrap(), &data[..]);

    // READ_FLASH: 0x1000 blocks, at most 2 in flight.
    let len = 0x3800u32;
    let frames = h.send_frame(&Request::encode(
        op::READ_FLASH,
        &words(&[0x20000, len, 0x1000, 2]),
        0,
    ));
    assert_eq!(frames.len(), 3, "reply + two blocks, then wait for an ACK");
    assert_eq!(h.parse(&frames[0]).status, 0);
    let mut got: Vec<u8> = frames[1..].concat();
    let mut digest = None;
    while digest.is_none() {
        let ack = (got.len() as u32).to_le_bytes();
        for f in h.send_frame(&ack) {
            if got.len() as u32 == len {
                digest = Some(f);
            } else {
                assert!(f.len() == 0x1000 || got.len() + f.len() == len as usize);
                got.extend(f);
            }
        }
    }
    assert_eq!(got, &data[..len as usize]);
    assert_eq!(digest.unwrap(), &Md5::digest(&got)[..]);
    // After the stream, commands work again.
    h.ok(op::READ_REG, &0u32.to_le_bytes());
}

#[test]
fn corrupt_zlib_stream_is_an_inflate_error() {
    let mut h = Host::new(Chip::Esp32s3);
    h.start_stub();
    h.ok(op::FLASH_DEFL_BEGIN, &words(&[0x1000, 1, 0x4000, 0, 0]));
    let r = h.data_cmd(op::FLASH_DEFL_DATA, 0, &[0x78, 0x9c, 0xFF, 0xFF, 0xFF]);
    assert_eq!((r.status, r.error), (1, err::STUB_INFLATE_ERROR));
}

#[test]
fn stub_erase_region_needs_sector_alignment_and_flash_end_reboots() {
    let mut h = Host::new(Chip::Esp32s3);
    h.start_stub();
    h.flash.program(0x3000, &[0; 0x2000]).unwrap();
    let r = h.cmd(op::ERASE_REGION, &words(&[0x3000, 0x100]));
    assert_eq!((r.status, r.error), (1, err::STUB_BAD_DATA_LEN));
    h.ok(op::ERASE_REGION, &words(&[0x3000, 0x1000]));
    assert_eq!(h.flash.read(0x3000, 0x1000).unwrap(), &[0xFF; 0x1000][..]);
    assert_eq!(h.flash.read(0x4000, 1).unwrap(), &[0]);
    h.ok(op::ERASE_FLASH, &[]);
    assert_eq!(h.flash.read(0x4000, 1).unwrap(), &[0xFF]);
    // esptool --after no-reset with the stub: FLASH_BEGIN(0) + FLASH_END(0).
    h.ok(op::FLASH_BEGIN, &words(&[0, 0, 0x4000, 0, 0]));
    h.ok(op::FLASH_END, &words(&[1]));
    assert_eq!(
        h.effects.last(),
        Some(&Effect::StubStarted),
        "flag 1: the stub stays"
    );
    h.ok(op::FLASH_BEGIN, &words(&[0, 0, 0x4000, 0, 0]));
    h.ok(op::FLASH_END, &words(&[0]));
    assert_eq!(h.effects.last(), Some(&Effect::RebootToRom));
}

#[test]
fn change_baudrate_replies_then_switches() {
    let mut h = Host::new(Chip::Esp32s3);
    h.ok(op::CHANGE_BAUDRATE, &words(&[921_600, 0]));
    assert_eq!(h.effects, vec![Effect::Baud(921_600)]);
    assert_eq!(h.loader.baud(), 921_600);
}

#[test]
fn unknown_commands_and_malformed_frames_get_errors() {
    let mut h = Host::new(Chip::Esp32s3);
    let r = h.cmd(0x77, &[]);
    assert_eq!(
        (r.op, r.status, r.error),
        (0x77, 1, err::ROM_INVALID_MESSAGE)
    );
    // Length field lies: still an error reply for that opcode.
    let mut f = Request::encode(op::READ_REG, &[0; 4], 0);
    f[2] = 9;
    let frames = h.send_frame(&f);
    assert_eq!(frames.len(), 1);
    assert_eq!(h.parse(&frames[0]).status, 1);
    // A response-direction frame is ignored.
    assert!(h.send_frame(&[1, 8, 0, 0, 0, 0, 0, 0]).is_empty());
}

#[test]
fn out_of_range_writes_fail_without_touching_flash() {
    let mut h = Host::new(Chip::Esp32s3);
    let r = h.cmd(
        op::FLASH_BEGIN,
        &words(&[0x2000, 2, 0x1000, (4 << 20) - 0x1000]),
    );
    assert_eq!(r.status, 1);
    let r = h.cmd(op::SPI_FLASH_MD5, &words(&[4 << 20, 1, 0, 0]));
    assert_eq!(r.status, 1);
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    fn frame_strategy() -> impl Strategy<Value = Vec<u8>> {
        let ops = prop::sample::select(vec![
            op::FLASH_BEGIN,
            op::FLASH_DATA,
            op::FLASH_END,
            op::MEM_BEGIN,
            op::MEM_END,
            op::MEM_DATA,
            op::SYNC,
            op::WRITE_REG,
            op::READ_REG,
            op::SPI_ATTACH,
            op::READ_FLASH_SLOW,
            op::CHANGE_BAUDRATE,
            op::FLASH_DEFL_BEGIN,
            op::FLASH_DEFL_DATA,
            op::FLASH_DEFL_END,
            op::SPI_FLASH_MD5,
            op::GET_SECURITY_INFO,
            op::ERASE_FLASH,
            op::ERASE_REGION,
            op::READ_FLASH,
            op::RUN_USER_CODE,
            0x42,
        ]);
        (ops, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(op, data)| {
            let chk = data.get(16..).map_or(0, |d| u32::from(checksum(d)));
            Request::encode(op, &data, chk)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..2048)) {
            let mut h = Host::new(Chip::Esp32s3);
            let _ = h.raw(&input);
        }

        #[test]
        fn arbitrary_requests_in_both_dialects(frames in prop::collection::vec(frame_strategy(), 1..24), stub in any::<bool>()) {
            let mut h = Host::new(Chip::Esp32c3);
            if stub {
                h.start_stub();
            }
            for f in frames {
                // Every request gets at most a bounded answer, never a panic.
                let _ = h.send_frame(&f);
            }
        }
    }
}
