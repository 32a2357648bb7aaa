//! Turning received bytes into text: UTF-8 or another encoding, with every
//! byte that does not decode shown as `\xNN` (never dropped), and hex.
//!
//! The decoders are fed bytes as they arrive: a multi-byte character split
//! across two reads is held back and completed by the next read.

use std::fmt::Write as _;

use encoding_rs::{DecoderResult, Encoding};

/// How received bytes are shown.
#[derive(Debug, Clone, Copy)]
pub enum Charset {
    /// UTF-8 (the default).
    Utf8,
    /// Another WHATWG encoding, such as GBK.
    Other(&'static Encoding),
}

impl Charset {
    /// Looks an encoding up by its WHATWG label (`utf-8`, `gbk`, `gb18030`,
    /// `big5`, `shift_jis`, `latin1`, ...).
    pub fn from_label(label: &str) -> Option<Charset> {
        let enc = Encoding::for_label(label.trim().as_bytes())?;
        Some(if enc == encoding_rs::UTF_8 {
            Charset::Utf8
        } else {
            Charset::Other(enc)
        })
    }

    /// The encoding's canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Other(e) => e.name(),
        }
    }
}

/// A per-client text decoder, fed in chunks.
#[derive(Debug)]
pub enum TextDecoder {
    /// UTF-8: up to 3 bytes of an unfinished character.
    Utf8 {
        /// The held-back bytes.
        pending: Vec<u8>,
    },
    /// Another encoding, decoded by encoding_rs.
    Other(Box<encoding_rs::Decoder>),
}

impl TextDecoder {
    /// A decoder that has seen nothing.
    pub fn new(charset: Charset) -> TextDecoder {
        match charset {
            Charset::Utf8 => TextDecoder::Utf8 {
                pending: Vec::new(),
            },
            Charset::Other(e) => TextDecoder::Other(Box::new(e.new_decoder_without_bom_handling())),
        }
    }

    /// Decodes the next bytes, appending text to `out`: `\` becomes `\\`
    /// and each byte that does not decode becomes `\xNN`.
    pub fn decode(&mut self, bytes: &[u8], out: &mut String) {
        match self {
            TextDecoder::Utf8 { pending } => {
                // Fast path: the whole read is valid UTF-8.
                if pending.is_empty() {
                    if let Ok(s) = std::str::from_utf8(bytes) {
                        push_text(s, out);
                        return;
                    }
                }
                let joined;
                let input = if pending.is_empty() {
                    bytes
                } else {
                    pending.extend_from_slice(bytes);
                    joined = std::mem::take(pending);
                    &joined[..]
                };
                let mut chunks = input.utf8_chunks().peekable();
                while let Some(chunk) = chunks.next() {
                    push_text(chunk.valid(), out);
                    let bad = chunk.invalid();
                    // An incomplete character at the very end: keep it for
                    // the next read (utf8_chunks reports it as invalid).
                    if chunks.peek().is_none()
                        && !bad.is_empty()
                        && bad.len() < 4
                        && is_utf8_prefix(bad)
                        && std::ptr::eq(bad.as_ptr_range().end, input.as_ptr_range().end)
                    {
                        pending.extend_from_slice(bad);
                        break;
                    }
                    for b in bad {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
            }
            TextDecoder::Other(dec) => {
                let mut input = bytes;
                let mut buf = String::with_capacity(bytes.len() * 3 + 16);
                loop {
                    buf.clear();
                    let (result, read) =
                        dec.decode_to_string_without_replacement(input, &mut buf, false);
                    push_text(&buf, out);
                    match result {
                        DecoderResult::InputEmpty => break,
                        DecoderResult::OutputFull => {
                            buf.reserve(input.len() * 3 + 16);
                        }
                        DecoderResult::Malformed(bad, after) => {
                            let end = read - after as usize;
                            let start = end.saturating_sub(bad as usize);
                            // Bytes of a malformed sequence that began in an
                            // earlier read were held by the decoder; what we
                            // still have of it is shown.
                            for b in &input[start..end] {
                                let _ = write!(out, "\\x{b:02x}");
                            }
                        }
                    }
                    input = &input[read..];
                }
            }
        }
    }

    /// Whether bytes of an unfinished character are held back.
    pub fn has_pending(&self) -> bool {
        matches!(self, TextDecoder::Utf8 { pending } if !pending.is_empty())
    }
}

/// Whether `b` could start a valid UTF-8 character that is only unfinished.
fn is_utf8_prefix(b: &[u8]) -> bool {
    let need = match b[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return false,
    };
    b.len() < need && b[1..].iter().all(|&c| c & 0xc0 == 0x80)
}

fn push_text(s: &str, out: &mut String) {
    if !s.contains('\\') {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
}

const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    t
};

/// Lowercase hex of `bytes`, no separators.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.extend_from_slice(&HEX_PAIRS[b as usize]);
    }
    // Only ASCII digits were pushed.
    String::from_utf8(s).unwrap_or_default()
}

/// Writes lowercase hex of `bytes` to `w` without building a string.
pub fn write_hex(bytes: &[u8], w: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut buf = [0u8; 8192];
    for chunk in bytes.chunks(buf.len() / 2) {
        for (pair, &b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair.copy_from_slice(&HEX_PAIRS[b as usize]);
        }
        w.write_all(&buf[..chunk.len() * 2])?;
    }
    Ok(())
}

/// Writes `s` as the inside of a JSON string (quotes, backslashes and
/// control characters escaped).
pub fn write_json_str(s: &str, w: &mut impl std::io::Write) -> std::io::Result<()> {
    json_pieces(s.as_bytes(), |piece| w.write_all(piece)).map(|_| ())
}

/// Appends `bytes` as the inside of a JSON string when they are valid
/// UTF-8 and returns true; returns false otherwise (what was appended must
/// then be cut off). One pass for ASCII, the common case.
pub fn push_json_utf8(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    let ascii = json_pieces(bytes, |piece| {
        out.extend_from_slice(piece);
        Ok::<(), std::convert::Infallible>(())
    });
    ascii.unwrap_or(false) || std::str::from_utf8(bytes).is_ok()
}

/// Hands `emit` the inside of a JSON string for `bytes`, piece by piece:
/// runs to copy as they are and escapes. Returns whether every byte was
/// ASCII.
fn json_pieces<E>(bytes: &[u8], mut emit: impl FnMut(&[u8]) -> Result<(), E>) -> Result<bool, E> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut high = 0u64;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time: most received text is plain, and the mask
        // says exactly where the first byte to escape is. Every byte is in
        // some word read here or in the tail below.
        let at = match bytes.get(i..i + 8) {
            Some(word) => {
                let x = u64::from_le_bytes(word.try_into().unwrap_or_default());
                high |= x;
                let mask = escape_mask(x);
                if mask == 0 {
                    i += 8;
                    continue;
                }
                i + (mask.trailing_zeros() / 8) as usize
            }
            None => {
                high |= bytes[i..].iter().fold(0u64, |h, &b| h | u64::from(b));
                match bytes[i..].iter().position(|&b| escape(b).is_some()) {
                    Some(p) => i + p,
                    None => break,
                }
            }
        };
        let b = bytes[at];
        emit(&bytes[start..at])?;
        match escape(b) {
            Some(esc) if !esc.is_empty() => emit(esc)?,
            _ => {
                let hex = HEX_PAIRS[b as usize];
                emit(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]])?;
            }
        }
        i = at + 1;
        start = i;
    }
    emit(&bytes[start..])?;
    Ok(high & HIGH == 0)
}

/// How a byte is written inside a JSON string: `None` as it is, an empty
/// escape as `\uXXXX` (the same escapes as `serde_json`, so the hand-written
/// hot paths write exactly what the typed events serialize to).
fn escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        b'\n' => Some(b"\\n"),
        b'\r' => Some(b"\\r"),
        b'\t' => Some(b"\\t"),
        0x08 => Some(b"\\b"),
        0x0c => Some(b"\\f"),
        0..=0x1f => Some(b""),
        _ => None,
    }
}

/// For the eight bytes in `x` (little-endian): the high bit of a byte is
/// set in the result where it is below 0x20, `"` or `\\`. The lowest set bit
/// is exact; bits above it may be false alarms (borrows), which the caller
/// never looks at.
fn escape_mask(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    // A byte below 0x20: (b - 0x20) borrows into its high bit, for b < 0x80.
    let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    below | zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\')))
}

/// Hex with a space between bytes, for people.
pub fn hex_spaced(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses hex bytes, with or without spaces: `48 65 6c`, `48656c`, `0x48`.
pub fn parse_hex(input: &str) -> Result<Vec<u8>, SendError> {
    let mut digits = String::new();
    for word in input.split(|c: char| c.is_whitespace() || c == ',') {
        let w = word
            .strip_prefix("0x")
            .or_else(|| word.strip_prefix("0X"))
            .unwrap_or(word);
        digits.push_str(w);
    }
    // Every character first: slicing pairs of a non-ASCII string would cut
    // a character in two.
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(SendError::NotHex(c));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(SendError::OddHex(input.to_owned()));
    }
    Ok((0..digits.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect())
}

/// Why text, escapes or hex cannot be sent: one type for every front end
/// (stdin commands, the terminal view, the web page), so that each can say
/// it in its own words (the web page translates by [`SendError::code`]).
/// The messages name what to do; `From<SendError> for String` keeps them
/// for callers that report strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A character that is not a hex digit.
    #[error("`{0}` is not a hex digit: give bytes such as `48 65 6c`")]
    NotHex(char),
    /// An odd number of hex digits.
    #[error("`{0}` has an odd number of hex digits: give two per byte, e.g. `48 65 6c`")]
    OddHex(String),
    /// A `\` at the very end.
    #[error("ends with a lone `\\`: write `\\\\` for a backslash")]
    LoneBackslash,
    /// `\x` without two hex digits.
    #[error("`\\x` needs two hex digits, e.g. `\\x0d`")]
    ShortHexEscape,
    /// An escape that does not exist.
    #[error("unknown escape `\\{0}`: use \\r, \\n, \\t, \\0, \\\\ or \\xNN")]
    UnknownEscape(char),
    /// A character the chosen encoding cannot write.
    #[error(
        "`{0}` cannot be written in {1}: remove it, send it as hex (/hex), or choose another \
         encoding (/encoding utf-8)"
    )]
    Unmappable(char, &'static str),
    /// An encoding that text cannot be sent in (UTF-16, replacement).
    #[error("text cannot be sent as {0}: choose another encoding (/encoding utf-8)")]
    NoEncoder(&'static str),
}

impl SendError {
    /// A stable name of the rule that was broken: `not_hex`, `odd_hex`,
    /// `lone_backslash`, `short_hex_escape`, `unknown_escape`,
    /// `unmappable`, `no_encoder`.
    pub fn code(&self) -> &'static str {
        match self {
            SendError::NotHex(_) => "not_hex",
            SendError::OddHex(_) => "odd_hex",
            SendError::LoneBackslash => "lone_backslash",
            SendError::ShortHexEscape => "short_hex_escape",
            SendError::UnknownEscape(_) => "unknown_escape",
            SendError::Unmappable(..) => "unmappable",
            SendError::NoEncoder(_) => "no_encoder",
        }
    }

    /// The message in the user's language
    /// ([`Msg::localized`](picow_i18n::Msg::localized)); its English is
    /// [`Display`](std::fmt::Display)'s.
    pub fn msg(&self) -> picow_i18n::Msg {
        use picow_i18n::msg;
        match self {
            SendError::NotHex(c) => msg!("send-error-not-hex", at = c.to_string()),
            SendError::OddHex(s) => msg!("send-error-odd-hex", at = s.as_str()),
            SendError::LoneBackslash => msg!("send-error-lone-backslash"),
            SendError::ShortHexEscape => msg!("send-error-short-hex-escape"),
            SendError::UnknownEscape(c) => msg!("send-error-unknown-escape", at = format!("\\{c}")),
            SendError::Unmappable(c, e) => {
                msg!("send-error-unmappable", at = c.to_string(), encoding = *e)
            }
            SendError::NoEncoder(e) => msg!("send-error-no-encoder", encoding = *e),
        }
    }

    /// The piece of the input that broke it, when there is one (a
    /// character, an escape, an encoding's name).
    pub fn at(&self) -> Option<String> {
        match self {
            SendError::NotHex(c) | SendError::Unmappable(c, _) => Some(c.to_string()),
            SendError::UnknownEscape(c) => Some(format!("\\{c}")),
            SendError::NoEncoder(e) => Some((*e).to_owned()),
            SendError::OddHex(_) | SendError::LoneBackslash | SendError::ShortHexEscape => None,
        }
    }
}

impl From<SendError> for String {
    fn from(e: SendError) -> String {
        e.to_string()
    }
}

/// Expands `\r`, `\n`, `\t`, `\0`, `\\` and `\xNN` in a `--send` value.
pub fn unescape(input: &str) -> Result<Vec<u8>, SendError> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some((&e, tail)) = rest.split_first() else {
            return Err(SendError::LoneBackslash);
        };
        rest = tail;
        match e {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = rest
                    .get(..2)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(SendError::ShortHexEscape)?;
                out.push(hex);
                rest = &rest[2..];
            }
            other => {
                // The whole character after the backslash, not its first byte.
                let c = std::str::from_utf8(&input.as_bytes()[input.len() - rest.len() - 1..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .unwrap_or(other as char);
                return Err(SendError::UnknownEscape(c));
            }
        }
    }
    Ok(out)
}

/// The text of one display line: control characters other than tab are
/// shown as `\xNN` (the decoded text already has `\\` and `\xNN` escapes).
pub fn display_line(line: &str, out: &mut String) {
    for c in line.chars() {
        if (c.is_control() && c != '\t') || c == '\u{7f}' {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_chunks(charset: Charset, chunks: &[&[u8]]) -> String {
        let mut d = TextDecoder::new(charset);
        let mut out = String::new();
        for c in chunks {
            d.decode(c, &mut out);
        }
        out
    }

    #[test]
    fn utf8_split_characters_are_joined() {
        let s = "héllo 你好".as_bytes();
        for cut in 0..s.len() {
            let got = decode_chunks(Charset::Utf8, &[&s[..cut], &s[cut..]]);
            assert_eq!(got, "héllo 你好", "cut at {cut}");
        }
        // One byte at a time.
        let chunks: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(decode_chunks(Charset::Utf8, &chunks), "héllo 你好");
    }

    #[test]
    fn invalid_utf8_is_escaped_never_dropped() {
        assert_eq!(
            decode_chunks(Charset::Utf8, &[b"a\xffb\xc3(", b"\\"]),
            "a\\xffb\\xc3(\\\\"
        );
        // An unfinished character followed by an ASCII byte in the next read.
        assert_eq!(
            decode_chunks(Charset::Utf8, &[b"x\xe4\xbd", b"y"]),
            "x\\xe4\\xbdy"
        );
        let mut d = TextDecoder::new(Charset::Utf8);
        let mut out = String::new();
        d.decode(b"ok\xe4", &mut out);
        assert!(d.has_pending());
        assert_eq!(out, "ok");
    }

    #[test]
    fn gbk_decodes_and_escapes_bad_bytes() {
        let gbk = Charset::from_label("gbk").unwrap();
        let (bytes, _, _) = encoding_rs::GBK.encode("你好, PicoW");
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_chunks(gbk, &chunks), "你好, PicoW");
        assert_eq!(decode_chunks(gbk, &[b"a\xffb"]), "a\\xffb");
        assert!(Charset::from_label("klingon").is_none());
        assert!(matches!(Charset::from_label("UTF8"), Some(Charset::Utf8)));
    }

    #[test]
    fn json_strings_round_trip_for_mixed_text() {
        let alphabet: Vec<char> = "ab \"\\\n\r\t\u{0}\u{1f}\u{7f}é你😀".chars().collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..300 {
            let s: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let mut w = b"\"".to_vec();
            write_json_str(&s, &mut w).unwrap();
            w.push(b'"');
            let back: String = serde_json::from_slice(&w).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn utf8_bytes_become_exact_json_text_and_others_are_refused() {
        let alphabet: &[&[u8]] = &[
            b"a",
            b" ",
            b"\"",
            b"\\",
            b"\n",
            b"\r",
            b"\x00",
            b"\x1f",
            b"\x7f",
            "é".as_bytes(),
            "你".as_bytes(),
            "😀".as_bytes(),
            b"\xff",
            b"\xe4\xbd",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .flat_map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                        .iter()
                        .copied()
                })
                .collect();
            let mut out = b"\"".to_vec();
            let ok = push_json_utf8(&bytes, &mut out);
            assert_eq!(ok, std::str::from_utf8(&bytes).is_ok(), "{bytes:?}");
            if ok {
                out.push(b'"');
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back.as_bytes(), &bytes[..]);
            }
        }
    }

    #[test]
    fn escapes_and_hex() {
        assert_eq!(unescape(r"ping\r\n\x41\\").unwrap(), b"ping\r\nA\\");
        assert!(unescape(r"\x4")
            .unwrap_err()
            .to_string()
            .contains("two hex digits"));
        assert!(unescape(r"\q")
            .unwrap_err()
            .to_string()
            .contains("unknown escape"));
        assert!(unescape("\\").is_err());
        assert_eq!(hex(b"\x00\xffA"), "00ff41");
        let big: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut w = Vec::new();
        write_hex(&big, &mut w).unwrap();
        assert_eq!(String::from_utf8(w).unwrap(), hex(&big));
        for s in [
            "plain",
            "q\"b\\s\n\r\t\u{1}x",
            "你好\u{7f}",
            "a long plain run of text, then \"quotes\" after 30 bytes\u{1f}\n",
            "ÿÿÿÿÿÿÿÿ high bytes \u{80}\u{9f} and 0123456789\\",
        ] {
            let mut w = Vec::new();
            write_json_str(s, &mut w).unwrap();
            let ours = format!("\"{}\"", String::from_utf8(w).unwrap());
            assert_eq!(serde_json::from_str::<String>(&ours).unwrap(), s);
        }
        assert_eq!(hex_spaced(b"He"), "48 65");
        assert_eq!(parse_hex("48 65 0x6c,6c6f").unwrap(), b"Hello");
        assert_eq!(parse_hex("4"), Err(SendError::OddHex("4".into())));
        assert_eq!(parse_hex("zz"), Err(SendError::NotHex('z')));
        // Not hex, and not ASCII: an error, never a panic on a cut character.
        assert_eq!(parse_hex("中文"), Err(SendError::NotHex('中')));
        assert_eq!(
            unescape("\\中").unwrap_err(),
            SendError::UnknownEscape('中')
        );
        assert_eq!(unescape("\\x+1").unwrap_err(), SendError::ShortHexEscape);
        assert_eq!(unescape("\\中").unwrap_err().at().as_deref(), Some("\\中"));
        let mut s = String::new();
        display_line("a\u{1b}b\tc", &mut s);
        assert_eq!(s, "a\\x1bb\tc");
    }
}
