//! Makes a board's bytes inert before they reach the user's terminal.
//!
//! A board (or anything on the other end of a serial port) can send escape
//! sequences that a terminal obeys: OSC window titles, an OSC 52 clipboard
//! write, `ESC[2J`, cursor movement, an 8-bit CSI. The monitor shows them
//! visibly instead, as `picow serve` does: every control byte other than tab,
//! line feed and carriage return becomes `\xNN`, and so does every byte that
//! is not valid UTF-8 and every C1 control character (U+0080 to U+009F,
//! shown as the bytes of its UTF-8 form). Only colour sequences (SGR:
//! `ESC [` digits, `;` and `:`, then `m`) pass as they are, so that ESP-IDF's
//! coloured log lines stay coloured. `--raw` bypasses this filter.
//!
//! The filter is fed bytes as they arrive; a sequence or a character split
//! across two reads is held back (at most [`MAX_HELD`] bytes) and completed
//! by the next read, or shown visibly by [`Inert::flush`].

use std::fmt::Write as _;

/// The longest SGR sequence passed through (`ESC [` ... `m`); a longer one
/// is shown visibly.
pub const MAX_SGR: usize = 64;

/// The most bytes ever held back between two reads.
pub const MAX_HELD: usize = MAX_SGR;

/// The streaming filter; see the module documentation.
#[derive(Debug, Default)]
pub struct Inert {
    held: Vec<u8>,
}

/// What the start of some bytes is.
enum Piece {
    /// `n` bytes to copy as they are.
    Pass(usize),
    /// One byte to show as `\xNN`.
    Visible,
    /// A UTF-8 character of `n` bytes to show as `\xNN` bytes (C1 controls).
    VisibleChar(usize),
    /// Could still become a sequence or a character: more bytes needed.
    Incomplete,
}

fn classify(b: &[u8]) -> Piece {
    match b[0] {
        b'\t' | b'\n' | b'\r' | 0x20..=0x7e => {
            // A run of plain ASCII at once.
            let n = b
                .iter()
                .position(|&c| !matches!(c, b'\t' | b'\n' | b'\r' | 0x20..=0x7e))
                .unwrap_or(b.len());
            Piece::Pass(n)
        }
        0x1b => sgr(b),
        0x00..=0x1f | 0x7f => Piece::Visible,
        _ => {
            let chunk = &b[..b.len().min(4)];
            let valid = match std::str::from_utf8(chunk) {
                Ok(s) => s,
                Err(e) if e.valid_up_to() > 0 => {
                    // SAFETY-free: the prefix is valid UTF-8.
                    std::str::from_utf8(&chunk[..e.valid_up_to()]).unwrap_or_default()
                }
                Err(e) if e.error_len().is_none() => return Piece::Incomplete,
                Err(_) => return Piece::Visible,
            };
            match valid.chars().next() {
                Some(c) if ('\u{80}'..='\u{9f}').contains(&c) => Piece::VisibleChar(c.len_utf8()),
                Some(c) => Piece::Pass(c.len_utf8()),
                None => Piece::Visible,
            }
        }
    }
}

/// `b` starts with ESC: an SGR sequence passes; anything else shows the ESC.
fn sgr(b: &[u8]) -> Piece {
    match b.get(1) {
        None => return Piece::Incomplete,
        Some(b'[') => {}
        Some(_) => return Piece::Visible,
    }
    for (i, &c) in b.iter().enumerate().skip(2) {
        if i >= MAX_SGR {
            return Piece::Visible;
        }
        match c {
            b'0'..=b'9' | b';' | b':' => {}
            b'm' => return Piece::Pass(i + 1),
            _ => return Piece::Visible,
        }
    }
    if b.len() >= MAX_SGR {
        Piece::Visible
    } else {
        Piece::Incomplete
    }
}

fn visible(bytes: &[u8], out: &mut Vec<u8>) {
    let mut s = String::with_capacity(bytes.len() * 4);
    for b in bytes {
        let _ = write!(s, "\\x{b:02x}");
    }
    out.extend_from_slice(s.as_bytes());
}

impl Inert {
    /// A filter that has seen nothing.
    pub fn new() -> Inert {
        Inert::default()
    }

    /// Filters the next bytes into `out`; an unfinished sequence or
    /// character at the end is held for the next call.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.held.is_empty() {
            let rest = self.run(input, out, false);
            self.held.extend_from_slice(rest);
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(input);
            let rest = self.run(&joined, out, false).to_vec();
            self.held = rest;
        }
    }

    /// Shows what is held back, visibly (the sequence or character will not
    /// be completed: a line ended, the board went quiet, the port closed).
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        let held = std::mem::take(&mut self.held);
        self.run(&held, out, true);
    }

    /// Whether bytes are held back.
    pub fn is_holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Filters `input` into `out`; returns the unfinished tail (empty when
    /// `last`: then every byte is written).
    fn run<'a>(&self, input: &'a [u8], out: &mut Vec<u8>, last: bool) -> &'a [u8] {
        let mut rest = input;
        while !rest.is_empty() {
            match classify(rest) {
                Piece::Pass(n) => {
                    out.extend_from_slice(&rest[..n]);
                    rest = &rest[n..];
                }
                Piece::VisibleChar(n) => {
                    visible(&rest[..n], out);
                    rest = &rest[n..];
                }
                Piece::Incomplete if !last => return rest,
                Piece::Visible | Piece::Incomplete => {
                    visible(&rest[..1], out);
                    rest = &rest[1..];
                }
            }
        }
        rest
    }
}

/// Filters a whole text at once (messages that quote what the board sent).
pub fn inert_str(s: &str) -> String {
    let mut f = Inert::new();
    let mut out = Vec::with_capacity(s.len());
    f.push(s.as_bytes(), &mut out);
    f.flush(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn filter(chunks: &[&[u8]]) -> String {
        let mut f = Inert::new();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        f.flush(&mut out);
        String::from_utf8(out).expect("the output is UTF-8")
    }

    #[test]
    fn colours_pass_and_every_other_sequence_is_shown() {
        // ESP-IDF's coloured log line.
        let idf = b"\x1b[0;32mI (31) boot: ESP-IDF\x1b[0m\r\n";
        assert_eq!(filter(&[idf]).as_bytes(), idf);
        assert_eq!(
            filter(&[b"\x1b[38:2::255:0:0mred\x1b[m"]),
            "\x1b[38:2::255:0:0mred\x1b[m"
        );
        // OSC window title (BEL-terminated), OSC 52 clipboard write, clear screen.
        assert_eq!(filter(&[b"\x1b]0;pwned\x07"]), "\\x1b]0;pwned\\x07");
        assert_eq!(
            filter(&[b"\x1b]52;c;ZXZpbA==\x1b\\"]),
            "\\x1b]52;c;ZXZpbA==\\x1b\\"
        );
        assert_eq!(filter(&[b"\x1b[2J\x1b[H"]), "\\x1b[2J\\x1b[H");
        // 8-bit CSI, raw and as UTF-8 (U+009B), and a C1 OSC.
        assert_eq!(filter(&[b"\x9b2J"]), "\\x9b2J");
        assert_eq!(filter(&["\u{9b}2J".as_bytes()]), "\\xc2\\x9b2J");
        assert_eq!(
            filter(&["\u{9d}0;t\u{9c}".as_bytes()]),
            "\\xc2\\x9d0;t\\xc2\\x9c"
        );
        // Other controls; tab, CR and LF pass; text passes.
        assert_eq!(
            filter(&[b"a\x00b\x07c\x08d\x7fe\tf\r\n"]),
            "a\\x00b\\x07c\\x08d\\x7fe\tf\r\n"
        );
        assert_eq!(filter(&["héllo 你好 😀".as_bytes()]), "héllo 你好 😀");
        // Invalid UTF-8 is shown byte by byte.
        assert_eq!(filter(&[b"a\xffb\xc3("]), "a\\xffb\\xc3(");
        // A too long "SGR" is not passed.
        let long = format!("\x1b[{}m", "1;".repeat(40));
        assert!(filter(&[long.as_bytes()]).starts_with("\\x1b["));
    }

    #[test]
    fn split_sequences_and_characters_are_joined() {
        let input = "\x1b[1;31mrot\x1b[0m 你好 \x1b]0;t\x07".as_bytes();
        let whole = filter(&[input]);
        for cut in 0..=input.len() {
            assert_eq!(
                filter(&[&input[..cut], &input[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
        let ones: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(filter(&ones), whole);
    }

    #[test]
    fn held_bytes_are_bounded_and_flushed_visibly() {
        let mut f = Inert::new();
        let mut out = Vec::new();
        f.push(b"x\x1b[1;3", &mut out);
        assert_eq!(out, b"x");
        assert!(f.is_holding());
        f.flush(&mut out);
        assert_eq!(out, b"x\\x1b[1;3");
        assert!(!f.is_holding());
        let mut out = Vec::new();
        f.push(b"\x1b[", &mut out);
        for _ in 0..1000 {
            f.push(b"1", &mut out);
            assert!(f.held.len() <= MAX_HELD);
        }
        assert!(out.starts_with(b"\\x1b["));
    }

    /// Whether `out` is inert: valid UTF-8, no control character but tab,
    /// CR, LF and the ESC of a colour sequence, no C1 control.
    pub(crate) fn check_inert(out: &[u8]) -> Result<(), String> {
        let s = std::str::from_utf8(out).map_err(|e| format!("not UTF-8: {e}"))?;
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                0x1b => {
                    let rest = &b[i + 1..];
                    let end = rest.iter().position(|&c| c == b'm');
                    let sgr = rest.first() == Some(&b'[')
                        && end.is_some_and(|e| {
                            rest[1..e].iter().all(|c| b"0123456789;:".contains(c))
                        });
                    if !sgr {
                        return Err(format!("ESC outside a colour sequence at {i}: {s:?}"));
                    }
                    i += 1;
                }
                b'\t' | b'\n' | b'\r' => i += 1,
                0x00..=0x1f | 0x7f => return Err(format!("control byte at {i}: {s:?}")),
                _ => i += 1,
            }
        }
        if s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
            return Err(format!("C1 control: {s:?}"));
        }
        Ok(())
    }

    /// Bytes that make escape sequences likely.
    fn hostile_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(vec![0x1b]),
            Just(b"\x1b[".to_vec()),
            Just(b"\x1b]".to_vec()),
            Just(b"m".to_vec()),
            Just(b";".to_vec()),
            Just(b":".to_vec()),
            Just(b"0".to_vec()),
            Just(b"31".to_vec()),
            Just(vec![0x07]),
            Just(vec![0x9b]),
            Just(vec![0xc2, 0x9b]),
            Just(vec![0xc2]),
            Just("你".as_bytes().to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(piece, 0..200).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        #[test]
        fn fuzz_filter_output_is_inert_in_any_chunking(
            input in hostile_bytes(),
            cuts in proptest::collection::vec(0usize..400, 0..8),
        ) {
            let mut f = Inert::new();
            let mut out = Vec::new();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut at = 0;
            for c in cuts.into_iter().chain([input.len()]) {
                f.push(&input[at..c], &mut out);
                proptest::prop_assert!(f.held.len() <= MAX_HELD);
                at = c;
            }
            f.flush(&mut out);
            if let Err(e) = check_inert(&out) {
                return Err(proptest::test_runner::TestCaseError::fail(e));
            }
            // The same as filtering the whole input at once.
            let mut whole = Vec::new();
            let mut g = Inert::new();
            g.push(&input, &mut whole);
            g.flush(&mut whole);
            proptest::prop_assert_eq!(out, whole);
        }

        #[test]
        fn fuzz_filter_passes_plain_text_unchanged(text in "[ -~\t\r\n\u{a0}-\u{10ffff}]{0,200}") {
            let mut f = Inert::new();
            let mut out = Vec::new();
            f.push(text.as_bytes(), &mut out);
            f.flush(&mut out);
            proptest::prop_assert_eq!(out, text.as_bytes());
        }
    }

    #[test]
    fn quoted_text_is_filtered() {
        assert_eq!(
            inert_str("panicked \x1b]0;x\x07"),
            "panicked \\x1b]0;x\\x07"
        );
    }
}
