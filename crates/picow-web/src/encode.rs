//! What the page sends, as bytes: text encoded in the page's encoding
//! (browsers encode only UTF-8, so this happens here), escapes, hex, the
//! line ending; with the same rules as every other front end
//! (`picow_serve::encode`, `picow_serve::text::parse_hex`).

use picow_serve::encode::{encode, encode_escaped};
use picow_serve::text::{parse_hex, Charset, SendError};

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
pub fn encoding(label: &str) -> Result<Charset, Problem> {
    match encoding_rs::Encoding::for_label(label.trim().as_bytes()) {
        Some(e) if e.output_encoding() == e => {
            Ok(Charset::from_label(e.name()).unwrap_or(Charset::Utf8))
        }
        _ => Err(Problem::at(
            "unknown_encoding",
            format!(
                "unknown encoding `{label}`: use a WHATWG label such as utf-8, gbk, gb18030, big5"
            ),
            label,
        )),
    }
}

/// A send error as the page gets it: the rule's code (translated by the
/// page), the English message, the offending piece.
fn problem(e: SendError) -> Problem {
    Problem {
        code: e.code(),
        at: e.at(),
        message: e.to_string(),
    }
}

/// The bytes a payload stands for, at most `max` of them.
pub fn payload_bytes(p: &Payload, charset: Charset, max: usize) -> Result<Vec<u8>, Problem> {
    let mut out = match (&p.text, &p.hex) {
        (Some(text), None) if p.escapes => encode_escaped(text, charset).map_err(problem)?,
        (Some(text), None) => encode(text, charset).map_err(problem)?,
        (None, Some(hex)) => parse_hex(hex).map_err(problem)?,
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
        assert_eq!(code(r"a\q").code, "unknown_escape");
        assert_eq!(code(r"\x4").code, "short_hex_escape");
        assert_eq!(code(r"\x中").code, "short_hex_escape");
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
        assert_eq!((e.code, e.at.as_deref()), ("not_hex", Some("z")));
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
