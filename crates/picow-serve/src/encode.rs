//! Typed text to bytes in the chosen encoding: the display encoding is also
//! the send encoding, so a GBK board gets GBK (`中文` is `d6 d0 ce c4`).
//! A character the encoding cannot write is refused, never replaced.

use crate::text::{self, Charset, SendError};

/// `text` in `charset`, or which character cannot be written in it.
pub fn encode(s: &str, charset: Charset) -> Result<Vec<u8>, SendError> {
    let enc = match charset {
        Charset::Utf8 => return Ok(s.as_bytes().to_vec()),
        Charset::Other(e) => e,
    };
    if enc.output_encoding() != enc {
        return Err(SendError::NoEncoder(enc.name()));
    }
    let mut encoder = enc.new_encoder();
    let mut out = Vec::with_capacity(
        encoder
            .max_buffer_length_from_utf8_without_replacement(s.len())
            .unwrap_or(s.len() * 4),
    );
    let mut input = s;
    loop {
        let (result, read) =
            encoder.encode_from_utf8_to_vec_without_replacement(input, &mut out, true);
        input = &input[read..];
        match result {
            encoding_rs::EncoderResult::InputEmpty => return Ok(out),
            encoding_rs::EncoderResult::Unmappable(c) => {
                return Err(SendError::Unmappable(c, enc.name()))
            }
            // The vector is filled up to its capacity: give it more.
            encoding_rs::EncoderResult::OutputFull => out.reserve(input.len() * 4 + 16),
        }
    }
}

/// Like [`encode`], with the escapes of `--send` (`\r \n \t \0 \\ \xNN`)
/// giving exact bytes: the text between them is encoded.
pub fn encode_escaped(s: &str, charset: Charset) -> Result<Vec<u8>, SendError> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.extend(encode(&rest[..i], charset)?);
        let esc = &rest[i..];
        let len = match esc.as_bytes().get(1) {
            Some(b'x') => esc.char_indices().nth(4).map_or(esc.len(), |(j, _)| j),
            Some(_) => esc.char_indices().nth(2).map_or(esc.len(), |(j, _)| j),
            None => esc.len(),
        };
        out.extend(text::unescape(&esc[..len])?);
        rest = &esc[len..];
    }
    out.extend(encode(rest, charset)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_text_is_sent_as_gbk_and_unmappable_is_refused() {
        let gbk = Charset::from_label("gbk").unwrap();
        assert_eq!(encode("中文", gbk).unwrap(), [0xd6, 0xd0, 0xce, 0xc4]);
        assert_eq!(encode("中文", Charset::Utf8).unwrap(), "中文".as_bytes());
        let e = encode("a😀", gbk).unwrap_err();
        assert!(
            e.to_string().contains("`😀` cannot be written in GBK"),
            "{e}"
        );
        assert_eq!((e.code(), e.at().as_deref()), ("unmappable", Some("😀")));
        let e = encode("x", Charset::from_label("utf-16le").unwrap()).unwrap_err();
        assert!(e.to_string().contains("UTF-16LE"), "{e}");
    }

    #[test]
    fn escapes_are_exact_bytes_and_text_between_is_encoded() {
        let gbk = Charset::from_label("gbk").unwrap();
        assert_eq!(
            encode_escaped("中\\r\\n\\xff文\\\\", gbk).unwrap(),
            [0xd6, 0xd0, b'\r', b'\n', 0xff, 0xce, 0xc4, b'\\']
        );
        assert!(encode_escaped("bad \\q", gbk)
            .unwrap_err()
            .to_string()
            .contains("unknown escape"));
        assert!(encode_escaped("\\x4", gbk)
            .unwrap_err()
            .to_string()
            .contains("two hex digits"));
        assert!(encode_escaped("end\\", gbk).is_err());
        assert!(encode_escaped("\\x中", Charset::Utf8).is_err());
    }
}
