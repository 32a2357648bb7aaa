//! Loader requests and responses (the payload inside a SLIP frame).
//!
//! Request: `00 op len:u16 checksum:u32 data`. Response:
//! `01 op len:u16 value:u32 data status...`, where the status is 4 bytes
//! from the ROM (`status, error, 0, 0`) and 2 bytes from the stub.

/// Opcodes of the ESP serial loader.
pub mod op {
    /// Begin a plain flash write (erases first).
    pub const FLASH_BEGIN: u8 = 0x02;
    /// One block of a plain flash write.
    pub const FLASH_DATA: u8 = 0x03;
    /// End a flash write; flag 0 runs the app (ROM) or reboots (stub).
    pub const FLASH_END: u8 = 0x04;
    /// Begin a RAM download.
    pub const MEM_BEGIN: u8 = 0x05;
    /// End a RAM download, optionally jumping to an entry point.
    pub const MEM_END: u8 = 0x06;
    /// One block of a RAM download.
    pub const MEM_DATA: u8 = 0x07;
    /// Synchronise (autobaud).
    pub const SYNC: u8 = 0x08;
    /// Write a 32-bit register (masked).
    pub const WRITE_REG: u8 = 0x09;
    /// Read a 32-bit register.
    pub const READ_REG: u8 = 0x0A;
    /// Flash geometry.
    pub const SPI_SET_PARAMS: u8 = 0x0B;
    /// Attach the SPI flash.
    pub const SPI_ATTACH: u8 = 0x0D;
    /// ROM read of at most 64 bytes.
    pub const READ_FLASH_SLOW: u8 = 0x0E;
    /// Change the UART baud rate.
    pub const CHANGE_BAUDRATE: u8 = 0x0F;
    /// Begin a zlib-compressed flash write.
    pub const FLASH_DEFL_BEGIN: u8 = 0x10;
    /// One block of the zlib stream.
    pub const FLASH_DEFL_DATA: u8 = 0x11;
    /// End a compressed write.
    pub const FLASH_DEFL_END: u8 = 0x12;
    /// MD5 of a flash region.
    pub const SPI_FLASH_MD5: u8 = 0x13;
    /// Security flags, key purposes and chip id.
    pub const GET_SECURITY_INFO: u8 = 0x14;
    /// Stub: erase the whole flash.
    pub const ERASE_FLASH: u8 = 0xD0;
    /// Stub: erase a sector-aligned region.
    pub const ERASE_REGION: u8 = 0xD1;
    /// Stub: streamed flash read with ACKs.
    pub const READ_FLASH: u8 = 0xD2;
    /// Stub: leave the stub and run the app.
    pub const RUN_USER_CODE: u8 = 0xD3;
}

/// The name of an opcode, for logs.
pub fn op_name(code: u8) -> &'static str {
    match code {
        op::FLASH_BEGIN => "FLASH_BEGIN",
        op::FLASH_DATA => "FLASH_DATA",
        op::FLASH_END => "FLASH_END",
        op::MEM_BEGIN => "MEM_BEGIN",
        op::MEM_END => "MEM_END",
        op::MEM_DATA => "MEM_DATA",
        op::SYNC => "SYNC",
        op::WRITE_REG => "WRITE_REG",
        op::READ_REG => "READ_REG",
        op::SPI_SET_PARAMS => "SPI_SET_PARAMS",
        op::SPI_ATTACH => "SPI_ATTACH",
        op::READ_FLASH_SLOW => "READ_FLASH_SLOW",
        op::CHANGE_BAUDRATE => "CHANGE_BAUDRATE",
        op::FLASH_DEFL_BEGIN => "FLASH_DEFL_BEGIN",
        op::FLASH_DEFL_DATA => "FLASH_DEFL_DATA",
        op::FLASH_DEFL_END => "FLASH_DEFL_END",
        op::SPI_FLASH_MD5 => "SPI_FLASH_MD5",
        op::GET_SECURITY_INFO => "GET_SECURITY_INFO",
        op::ERASE_FLASH => "ERASE_FLASH",
        op::ERASE_REGION => "ERASE_REGION",
        op::READ_FLASH => "READ_FLASH",
        op::RUN_USER_CODE => "RUN_USER_CODE",
        _ => "UNKNOWN",
    }
}

/// The seed of the data checksum: `0xEF ^ every data byte`.
pub const CHECKSUM_SEED: u8 = 0xEF;

/// The checksum data-carrying commands put in their header.
pub fn checksum(data: &[u8]) -> u8 {
    data.iter().fold(CHECKSUM_SEED, |c, b| c ^ b)
}

/// A parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The opcode.
    pub op: u8,
    /// The checksum field (meaningful for `*_DATA`).
    pub checksum: u32,
    /// The payload.
    pub data: &'a [u8],
}

/// Why a frame is not a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Shorter than the 8-byte header.
    #[error("request of {0} bytes is shorter than its 8-byte header")]
    Short(usize),
    /// The direction byte is not 0.
    #[error("direction byte {0:#04x} is not a request (0x00)")]
    Direction(u8),
    /// The length field does not match the payload.
    #[error("length field says {declared} bytes, payload has {actual}")]
    Length {
        /// The length field.
        declared: usize,
        /// The bytes that followed the header.
        actual: usize,
    },
}

impl<'a> Request<'a> {
    /// Parses a frame (already SLIP-decoded).
    pub fn parse(frame: &'a [u8]) -> Result<Request<'a>, RequestError> {
        if frame.len() < 8 {
            return Err(RequestError::Short(frame.len()));
        }
        if frame[0] != 0 {
            return Err(RequestError::Direction(frame[0]));
        }
        let declared = u16::from_le_bytes([frame[2], frame[3]]) as usize;
        let data = &frame[8..];
        if declared != data.len() {
            return Err(RequestError::Length {
                declared,
                actual: data.len(),
            });
        }
        Ok(Request {
            op: frame[1],
            checksum: u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]),
            data,
        })
    }

    /// The `i`-th little-endian word of the payload, if present.
    pub fn word(&self, i: usize) -> Option<u32> {
        let b = self.data.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Builds the bytes of a request (for tests and tools).
    pub fn encode(op: u8, data: &[u8], checksum: u32) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + data.len());
        v.push(0);
        v.push(op);
        v.extend_from_slice(&(data.len() as u16).to_le_bytes());
        v.extend_from_slice(&checksum.to_le_bytes());
        v.extend_from_slice(data);
        v
    }
}

/// Which program answers: the ROM loader or the uploaded flasher stub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The mask-ROM loader: 4 status bytes, MD5 as hex text.
    Rom,
    /// The flasher stub: 2 status bytes, MD5 as raw bytes, stub-only commands.
    Stub,
}

impl Dialect {
    /// Bytes of status at the end of every response.
    pub fn status_len(self) -> usize {
        match self {
            Dialect::Rom => 4,
            Dialect::Stub => 2,
        }
    }
}

/// Error codes in the second status byte.
pub mod err {
    /// ROM: the message is invalid (unknown command, bad length).
    pub const ROM_INVALID_MESSAGE: u8 = 0x05;
    /// ROM: failed to act on the message.
    pub const ROM_FAILED: u8 = 0x06;
    /// ROM: bad data checksum.
    pub const ROM_INVALID_CRC: u8 = 0x07;
    /// ROM: flash write error.
    pub const ROM_FLASH_WRITE: u8 = 0x08;
    /// ROM: flash read error.
    pub const ROM_FLASH_READ: u8 = 0x09;
    /// ROM: flash read length error.
    pub const ROM_READ_LENGTH: u8 = 0x0A;
    /// ROM: deflate (inflate) error.
    pub const ROM_DEFLATE: u8 = 0x0B;
    /// Stub: bad data length.
    pub const STUB_BAD_DATA_LEN: u8 = 0xC0;
    /// Stub: bad data checksum.
    pub const STUB_BAD_DATA_CHECKSUM: u8 = 0xC1;
    /// Stub: bad block size.
    pub const STUB_BAD_BLOCKSIZE: u8 = 0xC2;
    /// Stub: invalid command.
    pub const STUB_INVALID_COMMAND: u8 = 0xC3;
    /// Stub: SPI operation failed (out of range).
    pub const STUB_FAILED_SPI_OP: u8 = 0xC4;
    /// Stub: not in flash mode (no BEGIN before DATA).
    pub const STUB_NOT_IN_FLASH_MODE: u8 = 0xC6;
    /// Stub: inflate error.
    pub const STUB_INFLATE_ERROR: u8 = 0xC7;
    /// Stub: more data than announced.
    pub const STUB_TOO_MUCH_DATA: u8 = 0xC9;
}

/// Builds a response frame (not yet SLIP-encoded): `status` 0 is success,
/// then `error` says why not.
pub fn response(
    dialect: Dialect,
    op: u8,
    value: u32,
    data: &[u8],
    status: u8,
    error: u8,
) -> Vec<u8> {
    let status_len = dialect.status_len();
    let len = data.len() + status_len;
    let mut v = Vec::with_capacity(8 + len);
    v.push(1);
    v.push(op);
    v.extend_from_slice(&(len as u16).to_le_bytes());
    v.extend_from_slice(&value.to_le_bytes());
    v.extend_from_slice(data);
    v.push(status);
    v.push(error);
    if status_len == 4 {
        v.extend_from_slice(&[0, 0]);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_length() {
        let f = Request::encode(op::READ_REG, &0x4000_1000u32.to_le_bytes(), 0);
        let r = Request::parse(&f).unwrap();
        assert_eq!(r.op, op::READ_REG);
        assert_eq!(r.word(0), Some(0x4000_1000));
        assert_eq!(r.word(1), None);
        let mut bad = f.clone();
        bad[2] = 5;
        assert_eq!(
            Request::parse(&bad),
            Err(RequestError::Length {
                declared: 5,
                actual: 4
            })
        );
        assert_eq!(Request::parse(&f[..7]), Err(RequestError::Short(7)));
        let mut resp = f;
        resp[0] = 1;
        assert_eq!(Request::parse(&resp), Err(RequestError::Direction(1)));
    }

    #[test]
    fn status_bytes_per_dialect() {
        let rom = response(Dialect::Rom, op::SYNC, 0x2012_0707, &[], 0, 0);
        assert_eq!(rom, [1, 8, 4, 0, 0x07, 0x07, 0x12, 0x20, 0, 0, 0, 0]);
        let stub = response(Dialect::Stub, op::SYNC, 0, &[], 1, 0xC1);
        assert_eq!(stub, [1, 8, 2, 0, 0, 0, 0, 0, 1, 0xC1]);
    }

    #[test]
    fn checksum_is_seeded_xor() {
        assert_eq!(checksum(&[]), 0xEF);
        assert_eq!(checksum(&[0xEF]), 0);
        assert_eq!(checksum(&[1, 2, 4]), 0xEF ^ 7);
    }
}
