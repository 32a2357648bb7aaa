//! SLIP framing as the ESP serial loader uses it.
//!
//! `C0` delimits frames, `DB DC` stands for `C0` and `DB DD` for `DB`.
//! [`SlipDecoder`] is fed bytes as they arrive: a partial frame is kept
//! until more bytes come ("need more"), never an error. Bytes outside a
//! frame (before the first `C0`) are line noise and ignored, as the ROM does.

/// Frame delimiter.
pub const END: u8 = 0xC0;
/// Escape byte.
pub const ESC: u8 = 0xDB;
/// `ESC ESC_END` stands for [`END`].
pub const ESC_END: u8 = 0xDC;
/// `ESC ESC_ESC` stands for [`ESC`].
pub const ESC_ESC: u8 = 0xDD;

/// The largest frame the decoder accepts: a 0x4000-byte stub data block with
/// its headers fits many times over. Longer frames are dropped.
pub const MAX_FRAME: usize = 0x10000;

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlipError {
    /// `DB` followed by something other than `DC` or `DD`.
    #[error("invalid SLIP escape DB {0:02X}")]
    BadEscape(u8),
    /// More than [`MAX_FRAME`] bytes without an end.
    #[error("SLIP frame longer than {MAX_FRAME} bytes")]
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a `C0`.
    Outside,
    /// Inside a frame.
    Inside,
    /// Inside, after `DB`.
    Escape,
    /// Dropping a bad frame until its end.
    Skip,
}

/// A SLIP decoder fed bytes as they arrive.
#[derive(Debug, Clone)]
pub struct SlipDecoder {
    buf: Vec<u8>,
    state: State,
}

impl Default for SlipDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SlipDecoder {
    /// A decoder waiting for the first `C0`.
    pub fn new() -> Self {
        SlipDecoder {
            buf: Vec::new(),
            state: State::Outside,
        }
    }

    /// Forgets any partial frame (after a reset).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.state = State::Outside;
    }

    /// Whether a frame has started and not ended.
    pub fn in_frame(&self) -> bool {
        self.state != State::Outside
    }

    /// Feeds bytes; `on_frame` is called once per complete frame (or
    /// dropped frame, with its error). Empty frames (`C0 C0`) are skipped:
    /// the second `C0` starts the next frame.
    pub fn feed(&mut self, input: &[u8], mut on_frame: impl FnMut(Result<&[u8], SlipError>)) {
        for &b in input {
            match (self.state, b) {
                (State::Outside, END) => {
                    self.buf.clear();
                    self.state = State::Inside;
                }
                (State::Outside, _) => {}
                (State::Inside, END) => {
                    if !self.buf.is_empty() {
                        on_frame(Ok(&self.buf));
                        self.buf.clear();
                        // The closing C0 may also open the next frame; an
                        // empty frame is skipped above.
                    }
                    self.state = State::Inside;
                }
                (State::Inside, ESC) => self.state = State::Escape,
                (State::Inside, _) => self.push(b, &mut on_frame),
                (State::Escape, ESC_END) => {
                    self.state = State::Inside;
                    self.push(END, &mut on_frame);
                }
                (State::Escape, ESC_ESC) => {
                    self.state = State::Inside;
                    self.push(ESC, &mut on_frame);
                }
                (State::Escape, END) => {
                    // A frame cut short by a delimiter: drop it, and the C0
                    // opens the next one.
                    on_frame(Err(SlipError::BadEscape(END)));
                    self.buf.clear();
                    self.state = State::Inside;
                }
                (State::Escape, other) => {
                    on_frame(Err(SlipError::BadEscape(other)));
                    self.buf.clear();
                    self.state = State::Skip;
                }
                (State::Skip, END) => {
                    self.buf.clear();
                    self.state = State::Inside;
                }
                (State::Skip, _) => {}
            }
        }
    }

    fn push(&mut self, b: u8, on_frame: &mut impl FnMut(Result<&[u8], SlipError>)) {
        if self.buf.len() >= MAX_FRAME {
            on_frame(Err(SlipError::TooLong));
            self.buf.clear();
            self.state = State::Skip;
        } else {
            self.buf.push(b);
        }
    }
}

/// Appends `frame` SLIP-encoded (with both delimiters) to `out`.
pub fn encode_into(frame: &[u8], out: &mut Vec<u8>) {
    out.reserve(frame.len() + 2 + frame.len() / 16);
    out.push(END);
    for &b in frame {
        match b {
            END => out.extend_from_slice(&[ESC, ESC_END]),
            ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
            b => out.push(b),
        }
    }
    out.push(END);
}

/// `frame` SLIP-encoded.
pub fn encode(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(frame, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(dec: &mut SlipDecoder, input: &[u8]) -> Vec<Result<Vec<u8>, SlipError>> {
        let mut out = Vec::new();
        dec.feed(input, |f| out.push(f.map(<[u8]>::to_vec)));
        out
    }

    #[test]
    fn escapes_round_trip() {
        let frame = [0x01, END, 0x02, ESC, 0x03];
        let enc = encode(&frame);
        assert_eq!(enc, [END, 1, ESC, ESC_END, 2, ESC, ESC_ESC, 3, END]);
        let mut d = SlipDecoder::new();
        assert_eq!(decode_all(&mut d, &enc), vec![Ok(frame.to_vec())]);
    }

    #[test]
    fn byte_at_a_time_is_need_more_until_the_end() {
        let enc = encode(b"hello");
        let mut d = SlipDecoder::new();
        for &b in &enc[..enc.len() - 1] {
            assert!(decode_all(&mut d, &[b]).is_empty());
        }
        assert!(d.in_frame());
        assert_eq!(decode_all(&mut d, &[END]), vec![Ok(b"hello".to_vec())]);
    }

    #[test]
    fn several_frames_in_one_chunk_and_noise_before() {
        let mut input = b"garbage\r\n".to_vec();
        input.extend(encode(b"a"));
        input.extend(encode(b"bc"));
        // Back-to-back frames share nothing but still decode separately.
        input.extend([END, b'd', END]);
        let mut d = SlipDecoder::new();
        assert_eq!(
            decode_all(&mut d, &input),
            vec![Ok(b"a".to_vec()), Ok(b"bc".to_vec()), Ok(b"d".to_vec())]
        );
    }

    #[test]
    fn bad_escape_drops_only_that_frame() {
        let mut input = vec![END, 1, ESC, 0x42, 2, END];
        input.extend(encode(b"ok"));
        let mut d = SlipDecoder::new();
        assert_eq!(
            decode_all(&mut d, &input),
            vec![Err(SlipError::BadEscape(0x42)), Ok(b"ok".to_vec())]
        );
    }

    #[test]
    fn overlong_frame_is_dropped() {
        let mut input = vec![END];
        input.extend(std::iter::repeat_n(7u8, MAX_FRAME + 10));
        input.push(END);
        input.extend(encode(b"next"));
        let mut d = SlipDecoder::new();
        assert_eq!(
            decode_all(&mut d, &input),
            vec![Err(SlipError::TooLong), Ok(b"next".to_vec())]
        );
    }

    proptest! {
        #[test]
        fn any_frames_any_split(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 1..5), split in 1usize..64) {
            let mut wire = Vec::new();
            for f in &frames { encode_into(f, &mut wire); }
            let mut d = SlipDecoder::new();
            let mut got = Vec::new();
            for chunk in wire.chunks(split) {
                d.feed(chunk, |f| got.push(f.unwrap().to_vec()));
            }
            prop_assert_eq!(got, frames);
        }
    }
}
