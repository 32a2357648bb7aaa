//! Streaming decompression of a gzip upload (RFC 1952, as Python's
//! `gzip.compress` writes it for ESPHome's uploader), fed in pieces, with
//! miniz_oxide's allocation-free inflater and a 32 KiB window. The CRC-32
//! and length in the trailer are checked.

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

const WINDOW: usize = 32 * 1024;

// The config record's CRC-32 (zlib's): one table in the firmware.
use crate::config::CRC32;

/// Why a gzip stream is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GzipError {
    /// Not a gzip stream (bad magic or method).
    #[error("the upload is not a gzip stream")]
    NotGzip,
    /// The deflate data is corrupt.
    #[error("the gzip stream is corrupt")]
    Corrupt,
    /// The CRC-32 or length in the trailer does not match.
    #[error("the gzip stream's CRC-32 or length does not match its contents")]
    Trailer,
    /// Bytes after the end of the stream.
    #[error("bytes after the end of the gzip stream")]
    Trailing,
    /// The stream ended early.
    #[error("the gzip stream is truncated")]
    Truncated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The fixed 10 bytes.
    Header,
    /// Optional fields; `flags` says which are left.
    Extra {
        left: u16,
        len_have: u8,
    },
    Name,
    Comment,
    HeaderCrc {
        left: u8,
    },
    Body,
    Trailer,
    Done,
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// A gzip decoder fed in pieces.
pub struct Gunzip {
    state: State,
    flags: u8,
    head: [u8; 10],
    have: usize,
    inflate: DecompressorOxide,
    window: [u8; WINDOW],
    out_pos: usize,
    crc: crc::Digest<'static, u32>,
    size: u32,
}

impl core::fmt::Debug for Gunzip {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gunzip")
            .field("state", &self.state)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Default for Gunzip {
    fn default() -> Self {
        Gunzip::new()
    }
}

impl Gunzip {
    /// A decoder at the start of a stream.
    pub fn new() -> Gunzip {
        Gunzip {
            state: State::Header,
            flags: 0,
            head: [0; 10],
            have: 0,
            inflate: DecompressorOxide::new(),
            window: [0; WINDOW],
            out_pos: 0,
            crc: CRC32.digest(),
            size: 0,
        }
    }

    /// Bytes of output so far.
    pub fn output_len(&self) -> u32 {
        self.size
    }

    /// Whether the stream ended (trailer checked).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Says the input ended.
    pub fn finish(&self) -> Result<(), GzipError> {
        if self.state == State::Done {
            Ok(())
        } else {
            Err(GzipError::Truncated)
        }
    }

    /// Feeds compressed bytes; every piece of output goes to `sink` in
    /// order. An error of the sink stops decoding and is returned.
    pub fn feed<E>(
        &mut self,
        mut input: &[u8],
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        loop {
            let (used, out) = self.step(input).map_err(FeedError::Gzip)?;
            input = &input[used..];
            let produced = !out.is_empty();
            if produced {
                sink(out).map_err(FeedError::Sink)?;
            }
            if input.is_empty() && !produced {
                return Ok(());
            }
        }
    }

    /// One step: consumes some of `input` (the number is returned) and
    /// produces at most one piece of output, borrowed until the next call.
    /// Call again with the rest of the input (also with none left, while
    /// output comes out) until nothing is used and nothing produced.
    pub fn step(&mut self, mut input: &[u8]) -> Result<(usize, &[u8]), GzipError> {
        let total = input.len();
        while !input.is_empty() {
            match self.state {
                State::Header => {
                    let take = (10 - self.have).min(input.len());
                    self.head[self.have..self.have + take].copy_from_slice(&input[..take]);
                    self.have += take;
                    input = &input[take..];
                    if self.have >= 2 && self.head[..2] != [0x1F, 0x8B] {
                        return Err(GzipError::NotGzip);
                    }
                    if self.have == 10 {
                        if self.head[2] != 8 {
                            return Err(GzipError::NotGzip);
                        }
                        self.flags = self.head[3];
                        self.have = 0;
                        self.next_header_part();
                    }
                }
                State::Extra { left, len_have } => {
                    if len_have < 2 {
                        // XLEN, little-endian.
                        let b = u16::from(input[0]);
                        input = &input[1..];
                        let left = if len_have == 0 { b } else { left | (b << 8) };
                        self.state = State::Extra {
                            left,
                            len_have: len_have + 1,
                        };
                        if len_have == 1 && left == 0 {
                            self.flags &= !FEXTRA;
                            self.next_header_part();
                        }
                    } else {
                        let take = (left as usize).min(input.len());
                        input = &input[take..];
                        let left = left - take as u16;
                        self.state = State::Extra { left, len_have };
                        if left == 0 {
                            self.flags &= !FEXTRA;
                            self.next_header_part();
                        }
                    }
                }
                State::Name | State::Comment => match input.iter().position(|&b| b == 0) {
                    Some(i) => {
                        input = &input[i + 1..];
                        self.flags &= if self.state == State::Name {
                            !FNAME
                        } else {
                            !FCOMMENT
                        };
                        self.next_header_part();
                    }
                    None => input = &[],
                },
                State::HeaderCrc { left } => {
                    input = &input[1..];
                    if left == 1 {
                        self.flags &= !FHCRC;
                        self.next_header_part();
                    } else {
                        self.state = State::HeaderCrc { left: left - 1 };
                    }
                }
                State::Body => break,
                State::Trailer => {
                    let take = (8 - self.have).min(input.len());
                    self.head[self.have..self.have + take].copy_from_slice(&input[..take]);
                    self.have += take;
                    input = &input[take..];
                    if self.have == 8 {
                        let h = &self.head;
                        let crc = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
                        let digest = core::mem::replace(&mut self.crc, CRC32.digest());
                        if crc != digest.finalize() || len != self.size {
                            return Err(GzipError::Trailer);
                        }
                        self.state = State::Done;
                    }
                }
                State::Done => return Err(GzipError::Trailing),
            }
        }
        if self.state != State::Body {
            return Ok((total - input.len(), &[]));
        }
        let (status, used, written) = decompress(
            &mut self.inflate,
            input,
            &mut self.window,
            self.out_pos,
            inflate_flags::TINFL_FLAG_HAS_MORE_INPUT,
        );
        let start = self.out_pos;
        match status {
            TINFLStatus::Done => {
                self.state = State::Trailer;
                self.have = 0;
            }
            TINFLStatus::NeedsMoreInput | TINFLStatus::HasMoreOutput => {
                if used == 0 && written == 0 && !input.is_empty() {
                    return Err(GzipError::Corrupt);
                }
            }
            _ => return Err(GzipError::Corrupt),
        }
        let consumed = total - input.len() + used;
        if written == 0 {
            return Ok((consumed, &[]));
        }
        let out = &self.window[start..start + written];
        self.crc.update(out);
        self.size = self.size.wrapping_add(written as u32);
        self.out_pos = (start + written) & (WINDOW - 1);
        Ok((consumed, &self.window[start..start + written]))
    }

    fn next_header_part(&mut self) {
        self.state = if self.flags & FEXTRA != 0 {
            State::Extra {
                left: 0,
                len_have: 0,
            }
        } else if self.flags & FNAME != 0 {
            State::Name
        } else if self.flags & FCOMMENT != 0 {
            State::Comment
        } else if self.flags & FHCRC != 0 {
            State::HeaderCrc { left: 2 }
        } else {
            State::Body
        };
    }
}

/// An error of [`Gunzip::feed`]: the stream's, or the sink's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedError<E> {
    /// The gzip stream is bad.
    Gzip(GzipError),
    /// The sink refused the output.
    Sink(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    // `gzip.compress(b"hello hello hello hello", mtime=0)` with a file name
    // (FNAME) added, as Python writes it.
    fn sample() -> std::vec::Vec<u8> {
        let mut v = std::vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 2, 0xff];
        v.extend_from_slice(b"x.bin\0");
        // Raw deflate of the text (stored block: BFINAL=1, BTYPE=00).
        let text = b"hello hello hello hello";
        v.push(0x01);
        v.extend_from_slice(&(text.len() as u16).to_le_bytes());
        v.extend_from_slice(&(!(text.len() as u16)).to_le_bytes());
        v.extend_from_slice(text);
        v.extend_from_slice(&CRC32.checksum(text).to_le_bytes());
        v.extend_from_slice(&(text.len() as u32).to_le_bytes());
        v
    }

    fn run(bytes: &[u8], chunk: usize) -> Result<std::vec::Vec<u8>, GzipError> {
        let mut g = Gunzip::new();
        let mut out = std::vec::Vec::new();
        for piece in bytes.chunks(chunk) {
            g.feed(piece, &mut |b: &[u8]| {
                out.extend_from_slice(b);
                Ok::<(), ()>(())
            })
            .map_err(|e| match e {
                FeedError::Gzip(g) => g,
                FeedError::Sink(()) => GzipError::Corrupt,
            })?;
        }
        g.finish()?;
        Ok(out)
    }

    #[test]
    fn decodes_in_any_pieces() {
        let gz = sample();
        for chunk in [1, 3, 7, gz.len()] {
            assert_eq!(run(&gz, chunk).unwrap(), b"hello hello hello hello");
        }
    }

    #[test]
    fn refuses_bad_streams() {
        assert_eq!(run(b"\x7fELF....", 4), Err(GzipError::NotGzip));
        let gz = sample();
        assert_eq!(run(&gz[..gz.len() - 1], 5), Err(GzipError::Truncated));
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 5] ^= 1; // the length
        assert_eq!(run(&bad, 5), Err(GzipError::Trailer));
        let mut bad = gz.clone();
        bad[25] ^= 1; // a byte of the text: the CRC no longer matches
        assert_eq!(run(&bad, 5), Err(GzipError::Trailer));
        let mut more = gz.clone();
        more.push(0);
        assert_eq!(run(&more, 64), Err(GzipError::Trailing));
    }
}
