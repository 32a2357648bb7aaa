//! `--log FILE`: the byte log.

use std::io::{self, Write};
use std::time::SystemTime;

use serde::Serialize;

use crate::event::{Event, Observer};
use crate::text;

/// `--log FILE`: every byte in and out as JSON lines, one per read or
/// write: `{"t":…,"id":1,"dir":"in","len":5,"text":"Hello"}` when the bytes
/// are valid UTF-8 (the string is exactly those bytes), else
/// `{…,"len":2,"hex":"ff00"}`; plus one line per connect and disconnect.
#[derive(Debug)]
pub struct Log<W: Write> {
    out: W,
    /// Lines not yet written to `out`.
    buf: Vec<u8>,
}

/// A connect or disconnect line of the log.
#[derive(Serialize)]
struct Line<'a> {
    t: String,
    id: u64,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer: Option<&'a std::net::SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a crate::event::Reason>,
}

/// The log is written to its file in pieces of about this size.
const LOG_CHUNK: usize = 1 << 16;

impl<W: Write> Log<W> {
    /// Appends to `out` (which need not be buffered: the log is).
    pub fn new(out: W) -> Self {
        Log {
            out,
            buf: Vec::with_capacity(LOG_CHUNK + 1024),
        }
    }

    fn write_out(&mut self) -> io::Result<()> {
        let result = self.out.write_all(&self.buf);
        self.buf.clear();
        result
    }
}

/// Dropped without a flush (serve stopped on an error): the buffered lines
/// are still written.
impl<W: Write> Drop for Log<W> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.write_out();
            let _ = self.out.flush();
        }
    }
}

impl<W: Write + Send> Observer for Log<W> {
    fn wants_text(&self) -> bool {
        false
    }

    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        let t = || picow_values::time::rfc3339_micros(at);
        let o = &mut self.buf;
        match event {
            Event::Data { id, bytes, .. } | Event::Sent { id, bytes, .. } => {
                let dir = if matches!(event, Event::Data { .. }) {
                    "in"
                } else {
                    "out"
                };
                write!(
                    o,
                    "{{\"t\":\"{}\",\"id\":{id},\"dir\":\"{dir}\",\"len\":{},",
                    t(),
                    bytes.len()
                )?;
                // Valid UTF-8 is exact as a JSON string, readable, and half
                // the size of hex; anything else is hex.
                let mark = o.len();
                o.extend_from_slice(b"\"text\":\"");
                if !text::push_json_utf8(bytes, o) {
                    o.truncate(mark);
                    o.extend_from_slice(b"\"hex\":\"");
                    text::write_hex(bytes, o)?;
                }
                o.extend_from_slice(b"\"}");
            }
            Event::Connected { id, peer } => serde_json::to_writer(
                &mut *o,
                &Line {
                    t: t(),
                    id: *id,
                    event: "connected",
                    peer: Some(peer),
                    reason: None,
                },
            )?,
            Event::Disconnected { id, reason, .. } => serde_json::to_writer(
                &mut *o,
                &Line {
                    t: t(),
                    id: *id,
                    event: "disconnected",
                    peer: None,
                    reason: Some(reason),
                },
            )?,
            _ => return Ok(()),
        }
        o.push(b'\n');
        if o.len() >= LOG_CHUNK {
            self.write_out()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::data;
    use super::*;

    #[test]
    fn log_lines_record_direction_and_bytes() {
        let mut out = Vec::new();
        let mut log = Log::new(&mut out);
        let at = SystemTime::UNIX_EPOCH;
        log.event(
            at,
            &Event::Connected {
                id: 7,
                peer: "127.0.0.1:9".parse().unwrap(),
            },
        )
        .unwrap();
        log.event(at, &data(b"\x00\n", "\\x00\n")).unwrap();
        log.event(at, &data(b"q\"\\\xe4\xbd\xa0\r", "")).unwrap();
        log.event(at, &data(b"\xff\x00", "")).unwrap();
        log.event(at, &Event::notice("not logged")).unwrap();
        // Dropped without a flush: the buffered lines are still written.
        drop(log);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["event"], "connected");
        assert_eq!(lines[1]["dir"], "in");
        assert_eq!(lines[1]["len"], 2);
        assert_eq!(lines[1]["text"], "\u{0}\n");
        assert_eq!(lines[1]["t"], "1970-01-01T00:00:00.000000Z");
        // UTF-8 with quotes, backslashes and control bytes stays exact text.
        assert_eq!(lines[2]["text"], "q\"\\你\r");
        assert!(lines[2].get("hex").is_none());
        // Anything else is hex.
        assert_eq!(lines[3]["hex"], "ff00");
        assert!(lines[3].get("text").is_none());
    }
}
