//! What the page sends, as bytes: text encoded in the page's encoding
//! (browsers encode only UTF-8, so this happens here), escapes, hex, the
//! line ending.

use encoding_rs::{EncoderResult, Encoding};

use crate::protocol::{Payload, Problem};

/// The encodings the page offers, in this order: (WHATWG label, name).
pub const ENCODINGS: &[(&str, &str)] = &[
    ("utf-8", "UTF-8"),
    ("gbk", "GBK"),
    ("gb18030", "GB18030"),
    ("big5", "Big5"),
    ("shift_jis", "Shift_JIS"),
    ("euc-kr", "EUC-KR"),
    ("windows-1252", "windows-1252"),
];

/// Looks an encoding up by label. UTF-16 and the replacement encoding are
/// refused: nothing could be sent in them.
pub fn encoding(label: &str) -> Result<&'static Encoding, Problem> {
    match Encoding::for_label(label.trim().as_bytes()) {
        Some(e) if e.output_encoding() == e => Ok(e),
        _ => Err(Problem::at(
            "unknown_encoding",
            format!(
                "unknown encoding `{label}`: use a WHATWG label such as utf-8, gbk, gb18030, big5"
            ),
            label,
        )),
    }
}

/// A piece of text with escapes: literal text, or one byte.
enum Piece<'a> {
    Text(&'a str),
    Byte(u8),
}

/// Splits `text` at its escapes `\r \n \t \0 \\ \xNN`; `\xNN` is a raw
/// byte, the others are characters.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, Problem> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let after = &rest[i + 1..];
        let mut chars = after.chars();
        let Some(e) = chars.next() else {
            return Err(Problem::new(
                "lone_backslash",
                "the text ends with a lone `\\`: write `\\\\` for a backslash",
            ));
        };
        let (piece, used) = match e {
            'r' => (Piece::Text("\r"), 1),
            'n' => (Piece::Text("\n"), 1),
            't' => (Piece::Text("\t"), 1),
            '0' => (Piece::Byte(0), 1),
            '\\' => (Piece::Text("\\"), 1),
            'x' => {
                let hex = after
                    .get(1..3)
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => (Piece::Byte(b), 3),
                    None => {
                        let shown: String = after.chars().take(3).collect();
                        return Err(Problem::at(
                            "bad_escape",
                            "`\\x` needs two hex digits, e.g. `\\x0d`",
                            format!("\\{shown}"),
                        ));
                    }
                }
            }
            other => {
                return Err(Problem::at(
                    "bad_escape",
                    format!("unknown escape `\\{other}`: use \\r, \\n, \\t, \\0, \\\\ or \\xNN"),
                    format!("\\{other}"),
                ))
            }
        };
        out.push(piece);
        rest = &after[used..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Encodes `text` in `enc`, refusing a character the encoding cannot write
/// (rather than sending `&#NNNN;` or `?` to the board).
pub fn encode_text(text: &str, enc: &'static Encoding, out: &mut Vec<u8>) -> Result<(), Problem> {
    if enc == encoding_rs::UTF_8 {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    let mut encoder = enc.new_encoder();
    let mut input = text;
    loop {
        let need = encoder
            .max_buffer_length_from_utf8_without_replacement(input.len())
            .unwrap_or(input.len() * 4 + 16);
        let start = out.len();
        out.resize(start + need, 0);
        let (result, read, written) =
            encoder.encode_from_utf8_without_replacement(input, &mut out[start..], true);
        out.truncate(start + written);
        match result {
            EncoderResult::InputEmpty => return Ok(()),
            EncoderResult::OutputFull => input = &input[read..],
            EncoderResult::Unmappable(c) => {
                return Err(Problem::at(
                    "unmappable",
                    format!(
                        "`{c}` (U+{:04X}) cannot be written in {}: choose UTF-8 or remove it",
                        c as u32,
                        enc.name()
                    ),
                    c.to_string(),
                ))
            }
        }
    }
}

/// Parses hex digits: pairs, with spaces, commas and `0x` prefixes allowed.
pub fn parse_hex(input: &str) -> Result<Vec<u8>, Problem> {
    let mut digits = String::new();
    for word in input.split(|c: char| c.is_whitespace() || c == ',') {
        let w = word
            .strip_prefix("0x")
            .or_else(|| word.strip_prefix("0X"))
            .unwrap_or(word);
        digits.push_str(w);
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(Problem::at(
            "bad_hex",
            format!("`{bad}` is not a hex digit: give bytes such as `48 65 6c`"),
            bad.to_string(),
        ));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(Problem::new(
            "odd_hex",
            "an odd number of hex digits: give two per byte, e.g. `48 65 6c`",
        ));
    }
    Ok((0..digits.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect())
}

/// The bytes a payload stands for, at most `max` of them.
pub fn payload_bytes(p: &Payload, enc: &'static Encoding, max: usize) -> Result<Vec<u8>, Problem> {
    let mut out = match (&p.text, &p.hex) {
        (Some(text), None) => {
            let mut out = Vec::with_capacity(text.len() + 2);
            if p.escapes {
                for piece in pieces(text)? {
                    match piece {
                        Piece::Text(t) => encode_text(t, enc, &mut out)?,
                        Piece::Byte(b) => out.push(b),
                    }
                }
            } else {
                encode_text(text, enc, &mut out)?;
            }
            out
        }
        (None, Some(hex)) => parse_hex(hex)?,
        _ => {
            return Err(Problem::new(
                "no_text_or_hex",
                "give either `text` or `hex`",
            ))
        }
    };
    out.extend_from_slice(p.ending.bytes());
    if out.is_empty() {
        return Err(Problem::new("empty", "nothing to send"));
    }
    if out.len() > max {
        return Err(Problem::new(
            "too_big",
            format!(
                "{} bytes is more than the {max} one send may have",
                out.len()
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Ending;

    fn text(t: &str, escapes: bool, ending: Ending) -> Payload {
        Payload {
            text: Some(t.into()),
            escapes,
            ending,
            ..Payload::default()
        }
    }

    const MAX: usize = 1 << 20;

    #[test]
    fn text_is_encoded_in_the_chosen_encoding() {
        let gbk = encoding("gbk").unwrap();
        assert_eq!(
            payload_bytes(&text("中文", false, Ending::None), gbk, MAX).unwrap(),
            [0xd6, 0xd0, 0xce, 0xc4]
        );
        let utf8 = encoding("UTF-8").unwrap();
        assert_eq!(
            payload_bytes(&text("中文", false, Ending::Crlf), utf8, MAX).unwrap(),
            "中文\r\n".as_bytes()
        );
        let e = payload_bytes(&text("a😀", false, Ending::None), gbk, MAX).unwrap_err();
        assert_eq!(e.code, "unmappable");
        assert_eq!(e.at.as_deref(), Some("😀"));
        assert_eq!(encoding("utf-16le").unwrap_err().code, "unknown_encoding");
        assert_eq!(encoding("klingon").unwrap_err().code, "unknown_encoding");
        for (label, _) in ENCODINGS {
            encoding(label).unwrap();
        }
    }

    #[test]
    fn escapes_are_bytes_or_characters() {
        let gbk = encoding("gbk").unwrap();
        let p = text(r"中\x00\r\n\t\\\0\xFF", true, Ending::Lf);
        assert_eq!(
            payload_bytes(&p, gbk, MAX).unwrap(),
            [0xd6, 0xd0, 0, b'\r', b'\n', b'\t', b'\\', 0, 0xff, b'\n']
        );
        // Without escapes a backslash is a backslash.
        let utf8 = encoding("utf-8").unwrap();
        assert_eq!(
            payload_bytes(&text(r"a\n", false, Ending::None), utf8, MAX).unwrap(),
            b"a\\n"
        );
        let code = |t: &str| payload_bytes(&text(t, true, Ending::None), utf8, MAX).unwrap_err();
        assert_eq!(code(r"a\q").at.as_deref(), Some(r"\q"));
        assert_eq!(code(r"\x4").code, "bad_escape");
        assert_eq!(code(r"\x中").code, "bad_escape");
        assert_eq!(code("end\\").code, "lone_backslash");
    }

    #[test]
    fn hex_and_limits() {
        let utf8 = encoding("utf-8").unwrap();
        let hex = |h: &str| Payload {
            hex: Some(h.into()),
            ..Payload::default()
        };
        assert_eq!(
            payload_bytes(&hex("48 65,0x6c 6C6f"), utf8, MAX).unwrap(),
            b"Hello"
        );
        assert_eq!(
            payload_bytes(&hex("486"), utf8, MAX).unwrap_err().code,
            "odd_hex"
        );
        let e = payload_bytes(&hex("48 zz"), utf8, MAX).unwrap_err();
        assert_eq!((e.code, e.at.as_deref()), ("bad_hex", Some("z")));
        assert_eq!(
            payload_bytes(&hex(""), utf8, MAX).unwrap_err().code,
            "empty"
        );
        assert_eq!(
            payload_bytes(&Payload::default(), utf8, MAX)
                .unwrap_err()
                .code,
            "no_text_or_hex"
        );
        let both = Payload {
            text: Some("a".into()),
            hex: Some("41".into()),
            ..Payload::default()
        };
        assert_eq!(
            payload_bytes(&both, utf8, MAX).unwrap_err().code,
            "no_text_or_hex"
        );
        assert_eq!(
            payload_bytes(&text("abcd", false, Ending::None), utf8, 3)
                .unwrap_err()
                .code,
            "too_big"
        );
        // An ending alone is a send (NetAssist sends an empty line too).
        assert_eq!(
            payload_bytes(&text("", false, Ending::Crlf), utf8, MAX).unwrap(),
            b"\r\n"
        );
    }
}
