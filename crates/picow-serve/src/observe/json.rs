//! `--json`: one JSON object per line for every event, the [`Stamped`] form
//! of the typed events (`docs/spec-events.md`).

use std::io::{self, Write};
use std::time::SystemTime;

use crate::event::{Event, Observer, Stamped};
use crate::text;

/// One JSON object per line for every event (`--json`).
#[derive(Debug)]
pub struct Json<W> {
    out: W,
}

impl<W: Write> Json<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        Json { out }
    }
}

/// Writes the JSON form of `Data` and `Sent` without building strings: the
/// hot path when a board floods serve. The bytes are exactly what
/// `serde_json` writes for [`Stamped`] (a test compares them).
fn write_payload(
    o: &mut impl Write,
    at: SystemTime,
    name: &str,
    id: u64,
    bytes: &[u8],
    txt: &str,
) -> io::Result<()> {
    write!(
        o,
        "{{\"event\":\"{name}\",\"t\":\"{}\",\"id\":{id},\"len\":{},\"text\":\"",
        picow_values::time::rfc3339_millis(at),
        bytes.len()
    )?;
    text::write_json_str(txt, o)?;
    o.write_all(b"\",\"hex\":\"")?;
    text::write_hex(bytes, o)?;
    o.write_all(b"\"}")
}

impl<W: Write + Send> Observer for Json<W> {
    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        let o = &mut self.out;
        match event {
            Event::Data { id, bytes, text } | Event::Sent { id, bytes, text } => {
                write_payload(o, at, event.name(), *id, bytes, text)?
            }
            _ => serde_json::to_writer(&mut *o, &Stamped { at, event }).map_err(io::Error::from)?,
        }
        o.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn line(at: SystemTime, event: &Event) -> String {
        let mut out = Vec::new();
        Json::new(&mut out).event(at, event).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_data_lines_are_valid_json_with_exact_hex() {
        let nasty = "q\"uote \\\\ tab\t nl\n cr\r ctl\u{1} bs\u{8} ff\u{c} 你好 \\xff";
        let data = Event::Data {
            id: 7,
            bytes: Bytes::from_static(b"raw\xff"),
            text: nasty.into(),
        };
        let sent = Event::Sent {
            id: 7,
            bytes: Bytes::from_static(b"ping"),
            text: "ping".into(),
        };
        let text = line(SystemTime::UNIX_EPOCH, &data) + &line(SystemTime::UNIX_EPOCH, &sent);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["event"], "data");
        assert_eq!(lines[0]["t"], "1970-01-01T00:00:00.000Z");
        assert_eq!(lines[0]["id"], 7);
        assert_eq!(lines[0]["len"], 4);
        assert_eq!(lines[0]["text"], nasty);
        assert_eq!(lines[0]["hex"], "726177ff");
        assert_eq!(lines[1]["event"], "sent");
        assert_eq!(lines[1]["hex"], "70696e67");
    }

    proptest! {
        /// The hand-written hot path is byte for byte what serde writes for
        /// the typed event, for any text (every escape) and any bytes.
        #[test]
        fn payload_lines_equal_the_typed_serialization(
            text in "\\PC*|[\\x00-\\x7f]{0,64}",
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            id in any::<u64>(),
            ms in 0u64..4_000_000_000_000,
            sent in any::<bool>(),
        ) {
            let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms);
            let (bytes, text) = (Bytes::from(bytes), text.as_str().into());
            let event = if sent {
                Event::Sent { id, bytes, text }
            } else {
                Event::Data { id, bytes, text }
            };
            let typed = serde_json::to_string(&Stamped { at, event: &event }).unwrap() + "\n";
            prop_assert_eq!(line(at, &event), typed);
        }
    }
}
