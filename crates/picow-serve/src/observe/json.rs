//! `--json`: one JSON object per line for every event.

use std::io::{self, Write};
use std::time::SystemTime;

use picow_protocol::Transport;
use serde::Serialize;

use super::human::flash_hints;
use crate::event::{Event, Kind, Observer};
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

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    event: &'a str,
    t: String,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize)]
struct ClientJson {
    id: u64,
    peer: String,
    since: String,
    kind: &'static str,
    name: Option<String>,
    bytes_in: u64,
    bytes_out: u64,
}

fn kind_parts(kind: &Kind) -> (&'static str, Option<String>) {
    match kind {
        Kind::Unknown => ("unknown", None),
        Kind::Other => ("other", None),
        Kind::Picow(n) => ("picow", n.clone()),
    }
}

impl<W: Write + Send> Observer for Json<W> {
    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        let t = humantime::format_rfc3339_millis(at).to_string();
        let o = &mut self.out;
        let r = match event {
            Event::Listening {
                transport,
                local,
                lan,
            } => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "listening",
                    t,
                    body: serde_json::json!({
                        "transport": match transport { Transport::Tcp => "tcp", Transport::Udp => "udp" },
                        "local": local.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "lan": lan.iter().map(|l| serde_json::json!({"iface": l.iface, "ip": l.ip.to_string()})).collect::<Vec<_>>(),
                        "hints": flash_hints(*transport, local, lan),
                    }),
                },
            ),
            Event::Connected { id, peer } => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "connected",
                    t,
                    body: serde_json::json!({"id": id, "peer": peer.to_string()}),
                },
            ),
            Event::Picow { id, name } => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "picow",
                    t,
                    body: serde_json::json!({"id": id, "name": name}),
                },
            ),
            Event::Refused { peer, reason } => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "refused",
                    t,
                    body: serde_json::json!({"peer": peer.to_string(), "reason": reason}),
                },
            ),
            Event::Data { id, bytes, text } | Event::Sent { id, bytes, text } => {
                // The hot path, written by hand: no intermediate strings.
                let event = if matches!(event, Event::Data { .. }) {
                    "data"
                } else {
                    "sent"
                };
                write!(
                    o,
                    "{{\"event\":\"{event}\",\"t\":\"{t}\",\"id\":{id},\"len\":{},\"text\":\"",
                    bytes.len()
                )?;
                text::write_json_str(text, o)?;
                o.write_all(b"\",\"hex\":\"")?;
                text::write_hex(bytes, o)?;
                o.write_all(b"\"}")?;
                Ok(())
            }
            Event::Disconnected {
                id,
                peer,
                reason,
                bytes_in,
                bytes_out,
            } => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "disconnected",
                    t,
                    body: serde_json::json!({"id": id, "peer": peer.to_string(), "reason": reason,
                        "bytes_in": bytes_in, "bytes_out": bytes_out}),
                },
            ),
            Event::Expect {
                index,
                pattern,
                id,
                matched,
            } => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "expect",
                    t,
                    body: serde_json::json!({"index": index, "pattern": pattern, "id": id, "matched": matched}),
                },
            ),
            Event::Clients(list) => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "clients",
                    t,
                    body: serde_json::json!({"clients": list.iter().map(|c| {
                        let (kind, name) = kind_parts(&c.kind);
                        ClientJson {
                            id: c.id,
                            peer: c.peer.to_string(),
                            since: humantime::format_rfc3339_millis(c.since).to_string(),
                            kind,
                            name,
                            bytes_in: c.bytes_in,
                            bytes_out: c.bytes_out,
                        }
                    }).collect::<Vec<_>>()}),
                },
            ),
            Event::Notice(n) => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "notice",
                    t,
                    body: serde_json::json!({"message": n}),
                },
            ),
            Event::Error(e) => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "error",
                    t,
                    body: serde_json::json!({"message": e}),
                },
            ),
            Event::Timeout {
                unmet,
                clients_missing,
                seen,
            } => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "timeout",
                    t,
                    body: serde_json::json!({"unmet": unmet, "clients_missing": clients_missing,
                        "seen": seen.iter().map(|(id, s)| serde_json::json!({"id": id, "text": s})).collect::<Vec<_>>()}),
                },
            ),
            Event::Summary(s) => serde_json::to_writer(
                &mut *o,
                &Line {
                    event: "summary",
                    t,
                    body: serde_json::json!({"clients": s.clients, "refused": s.refused,
                        "bytes_in": s.bytes_in, "bytes_out": s.bytes_out,
                        "seconds": s.elapsed.as_secs_f64()}),
                },
            ),
        };
        r.map_err(io::Error::from)?;
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

    fn data(bytes: &'static [u8], text: &str) -> Event {
        Event::Data {
            id: 7,
            bytes: Bytes::from_static(bytes),
            text: text.into(),
        }
    }

    #[test]
    fn json_data_lines_are_valid_json_with_exact_hex() {
        let mut out = Vec::new();
        let mut j = Json::new(&mut out);
        let nasty = "q\"uote \\\\ tab\t nl\n cr\r ctl\u{1} 你好 \\xff";
        j.event(SystemTime::UNIX_EPOCH, &data(b"raw\xff", nasty))
            .unwrap();
        j.event(
            SystemTime::UNIX_EPOCH,
            &Event::Sent {
                id: 7,
                bytes: Bytes::from_static(b"ping"),
                text: "ping".into(),
            },
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
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
}
