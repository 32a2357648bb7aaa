//! The ESP serial ROM loader and flasher stub, as a pure state machine.
//!
//! [`Loader::feed`] takes the bytes the host sent and returns the bytes to
//! send back (SLIP-encoded) and what the board should do next
//! ([`Effect`]). It never blocks, sleeps or touches I/O other than through
//! [`Flash`], so every behaviour is tested on the host byte for byte.

use std::collections::HashMap;
use std::fmt::Write as _;

use flate2::{Decompress, FlushDecompress, Status};
use md5::{Digest, Md5};

use crate::chip::{efuse_mac_words, spi1, Chip, Mac};
use crate::command::{checksum, err, op, op_name, response, Dialect, Request};
use crate::flash::{Flash, FlashError};
use crate::slip::{self, SlipDecoder};

/// The value of SYNC replies from the ROM.
pub const SYNC_VALUE_ROM: u32 = 0x2012_0707;
/// How many replies a SYNC gets.
pub const SYNC_REPLIES: usize = 8;
/// The payload of a SYNC request.
pub const SYNC_PAYLOAD: [u8; 36] = {
    let mut p = [0x55; 36];
    p[0] = 0x07;
    p[1] = 0x07;
    p[2] = 0x12;
    p[3] = 0x20;
    p
};
/// What a freshly started stub sends.
pub const STUB_GREETING: &[u8] = b"OHAI";
/// The UART speed after reset.
pub const DEFAULT_BAUD: u32 = 115_200;
/// READ_FLASH_SLOW always answers this many bytes.
pub const READ_SLOW_BLOCK: usize = 64;

/// What the board does after a batch of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Switch the UART to this baud rate (after the reply was sent).
    Baud(u32),
    /// Leave the loader and boot the app from flash ("run user code":
    /// `*_END` with flag 1 in the ROM, RUN_USER_CODE in the stub).
    Run,
    /// The chip reboots (`*_END` with flag 0); with the boot strap still in
    /// download mode it comes back as the ROM loader.
    RebootToRom,
    /// The uploaded stub "started": the dialect is now [`Dialect::Stub`].
    StubStarted,
}

/// The bytes to send and the effects of one [`Loader::feed`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    /// SLIP-encoded bytes for the host, in order.
    pub bytes: Vec<u8>,
    /// What the board must do, in order, after sending `bytes`.
    pub effects: Vec<Effect>,
}

#[derive(Debug)]
struct FlashWrite {
    offset: u32,
    block_size: u32,
    blocks: u32,
    /// Compressed write state.
    inflate: Option<Inflate>,
}

#[derive(Debug)]
struct Inflate {
    z: Decompress,
    /// Next flash address to write.
    pos: u32,
    /// Uncompressed bytes allowed (from BEGIN).
    limit: u32,
    next_seq: u32,
    done: bool,
}

#[derive(Debug)]
struct MemWrite {
    offset: u32,
    size: u32,
    block_size: u32,
    received: u32,
}

#[derive(Debug)]
struct ReadStream {
    offset: u32,
    len: u32,
    block: u32,
    max_in_flight: u32,
    sent: u32,
    acked: u32,
    md5: Md5,
}

/// Counters a test or the control socket can look at.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Frames that parsed as requests.
    pub requests: u64,
    /// SPI flash resets (0x66 then 0x99) seen.
    pub flash_resets: u64,
    /// Flash bytes programmed.
    pub bytes_programmed: u64,
}

/// The loader of one chip, from reset.
#[derive(Debug)]
pub struct Loader {
    chip: Chip,
    dialect: Dialect,
    decoder: SlipDecoder,
    regs: HashMap<u32, u32>,
    baud: u32,
    flash_write: Option<FlashWrite>,
    mem: Option<MemWrite>,
    /// RAM ranges loaded since reset: `(start, end)`.
    ram: Vec<(u32, u32)>,
    stream: Option<ReadStream>,
    last_spi_cmd: Option<u8>,
    stats: Stats,
}

impl Loader {
    /// The ROM loader of `chip` with MAC `mac`, just after a reset into
    /// download mode.
    pub fn new(chip: Chip, mac: Mac) -> Loader {
        let mut regs: HashMap<u32, u32> = chip.reset_registers().into_iter().collect();
        let (w0, w1) = efuse_mac_words(mac.0);
        let b1 = chip.info().efuse_block1;
        regs.insert(b1, w0);
        regs.insert(b1 + 4, w1);
        Loader {
            chip,
            dialect: Dialect::Rom,
            decoder: SlipDecoder::new(),
            regs,
            baud: DEFAULT_BAUD,
            flash_write: None,
            mem: None,
            ram: Vec::new(),
            stream: None,
            last_spi_cmd: None,
            stats: Stats::default(),
        }
    }

    /// Who answers now.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The UART speed the loader uses now.
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// A register's value as the loader would read it.
    pub fn reg(&self, addr: u32) -> u32 {
        self.regs.get(&addr).copied().unwrap_or(0)
    }

    /// Feeds bytes from the host.
    pub fn feed(&mut self, input: &[u8], flash: &mut Flash) -> Output {
        let mut out = Output::default();
        let mut frames = Vec::new();
        self.decoder.feed(input, |f| match f {
            Ok(frame) => frames.push(frame.to_vec()),
            Err(e) => tracing::debug!("dropped a frame: {e}"),
        });
        for frame in frames {
            self.frame(&frame, flash, &mut out);
            // After a reboot or a run, the rest of the input is for someone else.
            if out
                .effects
                .iter()
                .any(|e| matches!(e, Effect::Run | Effect::RebootToRom))
            {
                break;
            }
        }
        out
    }

    fn frame(&mut self, frame: &[u8], flash: &mut Flash, out: &mut Output) {
        if self.stream.is_some() {
            self.stream_ack(frame, flash, out);
            return;
        }
        let req = match Request::parse(frame) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("not a request: {e}");
                // The ROM answers malformed requests that carry an opcode.
                if frame.len() >= 2 && frame[0] == 0 {
                    self.reply_err(out, frame[1], self.invalid());
                }
                return;
            }
        };
        self.stats.requests += 1;
        tracing::trace!(
            "{:?} request {} ({:#04x}), {} bytes",
            self.dialect,
            op_name(req.op),
            req.op,
            req.data.len()
        );
        self.request(req, flash, out);
    }

    fn send(&self, out: &mut Output, frame: &[u8]) {
        slip::encode_into(frame, &mut out.bytes);
    }

    fn reply(&self, out: &mut Output, op: u8, value: u32, data: &[u8]) {
        let f = response(self.dialect, op, value, data, 0, 0);
        self.send(out, &f);
    }

    fn reply_err(&self, out: &mut Output, op: u8, error: u8) {
        let f = response(self.dialect, op, 0, &[], 1, error);
        self.send(out, &f);
    }

    fn invalid(&self) -> u8 {
        match self.dialect {
            Dialect::Rom => err::ROM_INVALID_MESSAGE,
            Dialect::Stub => err::STUB_INVALID_COMMAND,
        }
    }

    fn bad_len(&self) -> u8 {
        match self.dialect {
            Dialect::Rom => err::ROM_INVALID_MESSAGE,
            Dialect::Stub => err::STUB_BAD_DATA_LEN,
        }
    }

    fn bad_checksum(&self) -> u8 {
        match self.dialect {
            Dialect::Rom => err::ROM_INVALID_CRC,
            Dialect::Stub => err::STUB_BAD_DATA_CHECKSUM,
        }
    }

    fn flash_failed(&self) -> u8 {
        match self.dialect {
            Dialect::Rom => err::ROM_FLASH_WRITE,
            Dialect::Stub => err::STUB_FAILED_SPI_OP,
        }
    }

    fn request(&mut self, req: Request<'_>, flash: &mut Flash, out: &mut Output) {
        let words = |n: &[usize]| n.contains(&req.data.len());
        match req.op {
            op::SYNC => {
                if req.data != SYNC_PAYLOAD {
                    return self.reply_err(out, req.op, self.invalid());
                }
                let value = match self.dialect {
                    Dialect::Rom => SYNC_VALUE_ROM,
                    Dialect::Stub => 0,
                };
                for _ in 0..SYNC_REPLIES {
                    self.reply(out, op::SYNC, value, &[]);
                }
            }
            op::READ_REG => {
                let Some(addr) = req.word(0).filter(|_| words(&[4])) else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                self.reply(out, req.op, self.reg(addr), &[]);
            }
            op::WRITE_REG => {
                if req.data.is_empty() || !req.data.len().is_multiple_of(16) {
                    return self.reply_err(out, req.op, self.bad_len());
                }
                for i in 0..req.data.len() / 16 {
                    let addr = req.word(i * 4).unwrap_or(0);
                    let value = req.word(i * 4 + 1).unwrap_or(0);
                    let mask = req.word(i * 4 + 2).unwrap_or(0);
                    self.write_reg(addr, value, mask, flash);
                }
                self.reply(out, req.op, 0, &[]);
            }
            op::SPI_ATTACH => {
                // 4 bytes from the stub dialect users, 8 (with "is legacy") for the ROM.
                if !words(&[4, 8]) {
                    return self.reply_err(out, req.op, self.bad_len());
                }
                self.reply(out, req.op, 0, &[]);
            }
            op::SPI_SET_PARAMS => {
                if !words(&[24]) {
                    return self.reply_err(out, req.op, self.bad_len());
                }
                self.reply(out, req.op, 0, &[]);
            }
            op::CHANGE_BAUDRATE => {
                let Some(new) = req.word(0).filter(|_| words(&[8])) else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                if new == 0 {
                    return self.reply_err(out, req.op, self.invalid());
                }
                self.reply(out, req.op, 0, &[]);
                self.baud = new;
                out.effects.push(Effect::Baud(new));
            }
            op::GET_SECURITY_INFO => {
                let i = self.chip.info();
                let mut d = Vec::with_capacity(20);
                d.extend_from_slice(&0u32.to_le_bytes()); // flags: nothing secure
                d.push(0); // flash_crypt_cnt
                d.extend_from_slice(&[0; 7]); // key purposes: user/empty
                d.extend_from_slice(&u32::from(i.image_chip_id).to_le_bytes());
                d.extend_from_slice(&i.eco_version.to_le_bytes());
                self.reply(out, req.op, 0, &d);
            }
            op::FLASH_BEGIN | op::FLASH_DEFL_BEGIN => self.flash_begin(req, flash, out),
            op::FLASH_DATA => self.flash_data(req, flash, out),
            op::FLASH_DEFL_DATA => self.flash_defl_data(req, flash, out),
            op::FLASH_END | op::FLASH_DEFL_END => {
                let Some(flag) = req.word(0).filter(|_| words(&[4])) else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                if self.dialect == Dialect::Stub && self.flash_write.is_none() {
                    return self.reply_err(out, req.op, err::STUB_NOT_IN_FLASH_MODE);
                }
                self.flash_write = None;
                self.reply(out, req.op, 0, &[]);
                // 0 reboots (the boot strap still says download: back to the
                // ROM); 1 makes the ROM run the app and the stub stay.
                match (flag, self.dialect) {
                    (0, _) => out.effects.push(Effect::RebootToRom),
                    (_, Dialect::Rom) => out.effects.push(Effect::Run),
                    (_, Dialect::Stub) => {}
                }
            }
            op::SPI_FLASH_MD5 => {
                let (Some(addr), Some(len)) = (req.word(0), req.word(1)) else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                if !words(&[16]) {
                    return self.reply_err(out, req.op, self.bad_len());
                }
                let Ok(bytes) = flash.read(addr, len) else {
                    return self.reply_err(out, req.op, self.flash_failed());
                };
                let digest = Md5::digest(bytes);
                match self.dialect {
                    Dialect::Rom => {
                        let mut hex = String::with_capacity(32);
                        for b in digest {
                            let _ = write!(hex, "{b:02x}");
                        }
                        self.reply(out, req.op, 0, hex.as_bytes());
                    }
                    Dialect::Stub => self.reply(out, req.op, 0, &digest),
                }
            }
            op::READ_FLASH_SLOW if self.dialect == Dialect::Rom => {
                // esptool sends (offset, len); espflash adds block size and
                // max in flight.
                let (Some(addr), Some(len)) = (req.word(0), req.word(1)) else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                if !words(&[8, 16]) {
                    return self.reply_err(out, req.op, self.bad_len());
                }
                if len as usize > READ_SLOW_BLOCK {
                    return self.reply_err(out, req.op, err::ROM_READ_LENGTH);
                }
                // The ROM always answers a 64-byte buffer.
                let avail = flash
                    .size()
                    .saturating_sub(addr)
                    .min(READ_SLOW_BLOCK as u32);
                if avail < len {
                    return self.reply_err(out, req.op, err::ROM_FLASH_READ);
                }
                let mut buf = [0xFF; READ_SLOW_BLOCK];
                if let Ok(b) = flash.read(addr, avail) {
                    buf[..b.len()].copy_from_slice(b);
                }
                self.reply(out, req.op, 0, &buf);
            }
            op::MEM_BEGIN => {
                let (Some(size), Some(blocks), Some(block_size), Some(offset)) =
                    (req.word(0), req.word(1), req.word(2), req.word(3))
                else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                if !words(&[16, 20])
                    || block_size == 0
                    || u64::from(blocks) * u64::from(block_size) < u64::from(size)
                {
                    return self.reply_err(out, req.op, self.bad_len());
                }
                self.mem = Some(MemWrite {
                    offset,
                    size,
                    block_size,
                    received: 0,
                });
                self.reply(out, req.op, 0, &[]);
            }
            op::MEM_DATA => {
                let Some((seq, data)) = self.data_block(&req, out) else {
                    return;
                };
                let Some(m) = self.mem.as_mut() else {
                    return self.reply_err(out, req.op, self.invalid());
                };
                if data.len() as u32 > m.block_size {
                    return self.reply_err(out, req.op, self.bad_len());
                }
                let start = m.offset.wrapping_add(seq.wrapping_mul(m.block_size));
                let end = start.wrapping_add(data.len() as u32);
                m.received = m.received.saturating_add(data.len() as u32);
                self.ram.push((start, end));
                self.reply(out, req.op, 0, &[]);
            }
            op::MEM_END => {
                let (Some(flag), Some(entry)) = (req.word(0), req.word(1)) else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                if let Some(m) = self.mem.take() {
                    if m.received < m.size {
                        tracing::debug!(
                            "MEM_END after {} of {} bytes at {:#x}",
                            m.received,
                            m.size,
                            m.offset
                        );
                    }
                }
                self.reply(out, req.op, 0, &[]);
                let runs_loaded_code =
                    flag == 0 && self.ram.iter().any(|&(s, e)| (s..e).contains(&entry));
                match (self.dialect, runs_loaded_code) {
                    (Dialect::Rom, true) => {
                        // The uploaded code is taken to be the flasher stub;
                        // it is not executed, the stub dialect is emulated.
                        self.dialect = Dialect::Stub;
                        self.flash_write = None;
                        self.send(out, STUB_GREETING);
                        out.effects.push(Effect::StubStarted);
                    }
                    (_, false) if flag == 0 && entry != 0 => {
                        tracing::warn!(
                            "MEM_END jumps to {entry:#x}, where nothing was loaded; ignored"
                        );
                    }
                    _ => {}
                }
            }
            op::ERASE_FLASH if self.dialect == Dialect::Stub => {
                if !req.data.is_empty() {
                    return self.reply_err(out, req.op, self.bad_len());
                }
                match flash.erase_all() {
                    Ok(()) => self.reply(out, req.op, 0, &[]),
                    Err(e) => self.flash_error(out, req.op, &e),
                }
            }
            op::ERASE_REGION if self.dialect == Dialect::Stub => {
                let (Some(addr), Some(len)) = (req.word(0), req.word(1)) else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                if !words(&[8])
                    || addr % crate::flash::SECTOR != 0
                    || len % crate::flash::SECTOR != 0
                {
                    return self.reply_err(out, req.op, err::STUB_BAD_DATA_LEN);
                }
                match flash.erase(addr, len) {
                    Ok(()) => self.reply(out, req.op, 0, &[]),
                    Err(e) => self.flash_error(out, req.op, &e),
                }
            }
            op::READ_FLASH if self.dialect == Dialect::Stub => {
                let (Some(addr), Some(len), Some(block), Some(max_in_flight)) =
                    (req.word(0), req.word(1), req.word(2), req.word(3))
                else {
                    return self.reply_err(out, req.op, self.bad_len());
                };
                if !words(&[16]) || block == 0 || block > 0x4000 || max_in_flight == 0 {
                    return self.reply_err(out, req.op, err::STUB_BAD_BLOCKSIZE);
                }
                if flash.read(addr, len).is_err() {
                    return self.reply_err(out, req.op, err::STUB_FAILED_SPI_OP);
                }
                self.reply(out, req.op, 0, &[]);
                self.stream = Some(ReadStream {
                    offset: addr,
                    len,
                    block,
                    max_in_flight,
                    sent: 0,
                    acked: 0,
                    md5: Md5::new(),
                });
                self.pump_stream(flash, out);
            }
            op::RUN_USER_CODE if self.dialect == Dialect::Stub => {
                // No reply: the stub jumps to the app.
                out.effects.push(Effect::Run);
            }
            other => {
                tracing::debug!(
                    "{:?} does not support {} ({other:#04x})",
                    self.dialect,
                    op_name(other)
                );
                self.reply_err(out, other, self.invalid());
            }
        }
    }

    fn flash_error(&self, out: &mut Output, op: u8, e: &FlashError) {
        tracing::warn!("{}: {e}", op_name(op));
        self.reply_err(out, op, self.flash_failed());
    }

    /// Checks the header and checksum of a `*_DATA` payload: `(seq, data)`.
    fn data_block<'r>(&self, req: &Request<'r>, out: &mut Output) -> Option<(u32, &'r [u8])> {
        let (Some(size), Some(seq)) = (req.word(0), req.word(1)) else {
            self.reply_err(out, req.op, self.bad_len());
            return None;
        };
        let data = &req.data[16.min(req.data.len())..];
        if req.data.len() < 16 || size as usize != data.len() {
            self.reply_err(out, req.op, self.bad_len());
            return None;
        }
        if u32::from(checksum(data)) != req.checksum & 0xFF {
            self.reply_err(out, req.op, self.bad_checksum());
            return None;
        }
        Some((seq, data))
    }

    fn flash_begin(&mut self, req: Request<'_>, flash: &mut Flash, out: &mut Output) {
        // (size, blocks, block size, offset[, encrypted]): 16 or 20 bytes.
        let (Some(size), Some(blocks), Some(block_size), Some(offset)) =
            (req.word(0), req.word(1), req.word(2), req.word(3))
        else {
            return self.reply_err(out, req.op, self.bad_len());
        };
        if !(req.data.len() == 16 || req.data.len() == 20) || block_size == 0 {
            return self.reply_err(out, req.op, self.bad_len());
        }
        if req.word(4).unwrap_or(0) != 0 {
            // Encrypted writes need keys the virtual chip does not have.
            return self.reply_err(out, req.op, self.flash_failed());
        }
        let compressed = req.op == op::FLASH_DEFL_BEGIN;
        // The ROM erases `size` bytes up front; the stub erases as it writes,
        // which ends the same for the sectors written.
        if let Err(e) = flash.erase(offset, size) {
            return self.flash_error(out, req.op, &e);
        }
        let inflate = compressed.then(|| Inflate {
            z: Decompress::new(true),
            pos: offset,
            limit: size,
            next_seq: 0,
            done: false,
        });
        self.flash_write = Some(FlashWrite {
            offset,
            block_size,
            blocks,
            inflate,
        });
        self.reply(out, req.op, 0, &[]);
    }

    fn flash_data(&mut self, req: Request<'_>, flash: &mut Flash, out: &mut Output) {
        let Some((seq, data)) = self.data_block(&req, out) else {
            return;
        };
        let Some(w) = self.flash_write.as_ref().filter(|w| w.inflate.is_none()) else {
            let e = match self.dialect {
                Dialect::Rom => err::ROM_FAILED,
                Dialect::Stub => err::STUB_NOT_IN_FLASH_MODE,
            };
            return self.reply_err(out, req.op, e);
        };
        if data.len() as u32 > w.block_size || seq >= w.blocks.max(1) {
            return self.reply_err(out, req.op, self.bad_len());
        }
        let addr = u64::from(w.offset) + u64::from(seq) * u64::from(w.block_size);
        let result = u32::try_from(addr)
            .map_err(|_| ())
            .and_then(|a| flash.program(a, data).map_err(|_| ()));
        match result {
            Ok(()) => {
                self.stats.bytes_programmed += data.len() as u64;
                self.reply(out, req.op, 0, &[]);
            }
            Err(()) => self.reply_err(out, req.op, self.flash_failed()),
        }
    }

    fn flash_defl_data(&mut self, req: Request<'_>, flash: &mut Flash, out: &mut Output) {
        let Some((seq, data)) = self.data_block(&req, out) else {
            return;
        };
        let dialect = self.dialect;
        let Some(inf) = self.flash_write.as_mut().and_then(|w| w.inflate.as_mut()) else {
            let e = match dialect {
                Dialect::Rom => err::ROM_FAILED,
                Dialect::Stub => err::STUB_NOT_IN_FLASH_MODE,
            };
            return self.reply_err(out, req.op, e);
        };
        if seq < inf.next_seq {
            // A retry of a block already taken: do not feed it twice.
            return self.reply(out, req.op, 0, &[]);
        }
        if seq > inf.next_seq {
            return self.reply_err(out, req.op, self.invalid());
        }
        let inflate_err = match dialect {
            Dialect::Rom => err::ROM_DEFLATE,
            Dialect::Stub => err::STUB_INFLATE_ERROR,
        };
        let mut input = data;
        let mut buf = vec![0u8; 0x8000];
        let mut written = 0u64;
        loop {
            if inf.done {
                break;
            }
            let before_in = inf.z.total_in();
            let before_out = inf.z.total_out();
            let status = inf.z.decompress(input, &mut buf, FlushDecompress::None);
            let consumed = (inf.z.total_in() - before_in) as usize;
            let produced = (inf.z.total_out() - before_out) as usize;
            input = &input[consumed..];
            let status = match status {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("FLASH_DEFL_DATA: zlib stream is corrupt: {e}");
                    return self.reply_err(out, req.op, inflate_err);
                }
            };
            if produced > 0 {
                let end = u64::from(inf.pos) + produced as u64;
                if produced as u64 > u64::from(inf.limit) || end > u64::from(flash.size()) {
                    let e = match dialect {
                        Dialect::Rom => err::ROM_FLASH_WRITE,
                        Dialect::Stub => err::STUB_TOO_MUCH_DATA,
                    };
                    return self.reply_err(out, req.op, e);
                }
                if flash.program(inf.pos, &buf[..produced]).is_err() {
                    return self.reply_err(out, req.op, err::ROM_FLASH_WRITE);
                }
                inf.pos += produced as u32;
                inf.limit -= produced as u32;
                written += produced as u64;
            }
            if status == Status::StreamEnd {
                inf.done = true;
                break;
            }
            if input.is_empty() && produced < buf.len() {
                break;
            }
            if consumed == 0 && produced == 0 {
                break;
            }
        }
        inf.next_seq += 1;
        self.stats.bytes_programmed += written;
        self.reply(out, req.op, 0, &[]);
    }

    fn write_reg(&mut self, addr: u32, value: u32, mask: u32, flash: &Flash) {
        let old = self.reg(addr);
        let new = (old & !mask) | (value & mask);
        self.regs.insert(addr, new);
        if addr == spi1::BASE + spi1::CMD && new & spi1::CMD_USR != 0 {
            self.spi_user_command(flash);
            // The command completes at once: the busy bit reads back 0.
            self.regs.insert(addr, new & !spi1::CMD_USR);
        }
    }

    /// Runs the user command set up in the SPI1 registers, the way esptool's
    /// `run_spiflash_command` and espflash's `spi_command` drive them.
    fn spi_user_command(&mut self, flash: &Flash) {
        let base = spi1::BASE;
        let usr = self.reg(base + spi1::USR);
        let cmd = (self.reg(base + spi1::USR2) & 0xFF) as u8;
        let miso_bits = if usr & (1 << 28) != 0 {
            (self.reg(base + spi1::MISO_DLEN) & 0x3FF) + 1
        } else {
            0
        };
        let addr = self.reg(base + spi1::ADDR) & 0x00FF_FFFF;
        let result = match cmd {
            0x9F => Some(flash.jedec_id()),
            0x5A => Some(flash.sfdp(addr, miso_bits.min(32))),
            // Status registers 1..3: idle, not write-protected.
            0x05 | 0x35 | 0x15 => Some(0),
            0x99 if self.last_spi_cmd == Some(0x66) => {
                self.stats.flash_resets += 1;
                None
            }
            _ => None,
        };
        self.last_spi_cmd = Some(cmd);
        if let Some(v) = result {
            let v = if miso_bits == 0 || miso_bits >= 32 {
                v
            } else {
                v & ((1u32 << miso_bits) - 1)
            };
            self.regs.insert(base + spi1::W0, v);
        }
    }

    fn pump_stream(&mut self, flash: &Flash, out: &mut Output) {
        let Some(s) = self.stream.as_mut() else {
            return;
        };
        while s.sent < s.len
            && u64::from(s.sent - s.acked) < u64::from(s.max_in_flight) * u64::from(s.block)
        {
            let n = s.block.min(s.len - s.sent);
            let Ok(bytes) = flash.read(s.offset + s.sent, n) else {
                break;
            };
            s.md5.update(bytes);
            slip::encode_into(bytes, &mut out.bytes);
            s.sent += n;
        }
    }

    fn stream_ack(&mut self, frame: &[u8], flash: &Flash, out: &mut Output) {
        let Some(s) = self.stream.as_mut() else {
            return;
        };
        let Ok(ack) = <[u8; 4]>::try_from(frame) else {
            tracing::debug!(
                "READ_FLASH: expected a 4-byte ACK, got {} bytes",
                frame.len()
            );
            return;
        };
        let total = u32::from_le_bytes(ack);
        if total > s.sent || total < s.acked {
            tracing::debug!("READ_FLASH: ACK of {total} bytes, sent {}", s.sent);
            return;
        }
        s.acked = total;
        if s.acked == s.len {
            let s = self.stream.take().expect("checked above");
            let digest = s.md5.finalize();
            slip::encode_into(&digest, &mut out.bytes);
        } else {
            self.pump_stream(flash, out);
        }
    }
}

#[cfg(test)]
mod tests;
