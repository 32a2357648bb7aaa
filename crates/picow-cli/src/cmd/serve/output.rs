//! The observers that write: plain lines for people, JSON lines (`--json`),
//! and the byte log (`--log`).

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use picow_protocol::Transport;
use serde::Serialize;

use super::engine::{Event, Kind, LanAddr, Observer};
use super::text;

/// The `picow flash --server ...` values that reach this server, one per
/// LAN address (or the bound address when it is not a wildcard).
pub fn flash_hints(transport: Transport, local: &[SocketAddr], lan: &[LanAddr]) -> Vec<String> {
    let Some(port) = local.first().map(SocketAddr::port) else {
        return Vec::new();
    };
    let scheme = match transport {
        Transport::Tcp => "",
        Transport::Udp => "udp://",
    };
    let form = |ip: IpAddr| match ip {
        IpAddr::V4(a) => format!("picow flash --server {scheme}{a}:{port}"),
        IpAddr::V6(a) => format!("picow flash --server {scheme}[{a}]:{port}"),
    };
    let specific: Vec<IpAddr> = local
        .iter()
        .map(SocketAddr::ip)
        .filter(|ip| !ip.is_unspecified())
        .collect();
    if !specific.is_empty() {
        return specific.into_iter().map(form).collect();
    }
    let v4_only = local.iter().all(SocketAddr::is_ipv4);
    lan.iter()
        .filter(|l| !(v4_only && l.ip.is_ipv6()))
        .map(|l| form(l.ip))
        .collect()
}

fn clock(at: SystemTime) -> String {
    // 2026-11-26T09:12:01.123Z -> 09:12:01.123 (UTC).
    let s = humantime::format_rfc3339_millis(at).to_string();
    s.get(11..23).unwrap_or(&s).to_owned()
}

fn kind_str(kind: &Kind) -> String {
    match kind {
        Kind::Unknown => "-".into(),
        Kind::Other => "other".into(),
        Kind::Picow(None) => "PicoW".into(),
        Kind::Picow(Some(n)) => format!("PicoW ({n})"),
    }
}

/// Plain lines for people.
#[derive(Debug)]
pub struct Human<W> {
    out: W,
    hex: bool,
    line: String,
}

impl<W: Write> Human<W> {
    /// Writes to `out`; data as hex bytes when `hex`.
    pub fn new(out: W, hex: bool) -> Self {
        Human {
            out,
            hex,
            line: String::new(),
        }
    }

    fn data(
        &mut self,
        at: SystemTime,
        id: u64,
        arrow: &str,
        bytes: &[u8],
        txt: &str,
    ) -> io::Result<()> {
        let t = clock(at);
        if self.hex {
            return writeln!(self.out, "{t} #{id} {arrow} {}", text::hex_spaced(bytes));
        }
        let body = txt.strip_suffix('\n').unwrap_or(txt);
        for line in body.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            self.line.clear();
            text::display_line(line, &mut self.line);
            writeln!(self.out, "{t} #{id} {arrow} {}", self.line)?;
        }
        Ok(())
    }
}

impl<W: Write + Send> Observer for Human<W> {
    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        let t = clock(at);
        let o = &mut self.out;
        match event {
            Event::Listening {
                transport,
                local,
                lan,
            } => {
                let proto = match transport {
                    Transport::Tcp => "TCP",
                    Transport::Udp => "UDP",
                };
                let addrs: Vec<String> = local.iter().map(ToString::to_string).collect();
                writeln!(o, "picow serve: listening on {proto} {}", addrs.join(", "))?;
                if !lan.is_empty() {
                    let ips: Vec<String> = lan
                        .iter()
                        .map(|l| format!("{} ({})", l.ip, l.iface))
                        .collect();
                    writeln!(o, "LAN addresses: {}", ips.join(", "))?;
                }
                let hints = flash_hints(*transport, local, lan);
                if hints.is_empty() {
                    writeln!(
                        o,
                        "no LAN address found: connect this computer to the board's Wi-Fi network"
                    )?;
                } else {
                    writeln!(o, "give the board this server (one of):")?;
                    for h in hints {
                        writeln!(o, "  {h}")?;
                    }
                }
            }
            Event::Connected { id, peer } => writeln!(o, "{t} #{id} connected from {peer}")?,
            Event::Picow { id, name } => match name {
                Some(n) => writeln!(o, "{t} #{id} is a PicoW named {n}")?,
                None => writeln!(o, "{t} #{id} is a PicoW")?,
            },
            Event::Refused { peer, reason } => writeln!(o, "{t} refused {peer}: {reason}")?,
            Event::Data { id, bytes, text } => self.data(at, *id, "<", bytes, text)?,
            Event::Sent { id, bytes, text } => self.data(at, *id, ">", bytes, text)?,
            Event::Disconnected {
                id,
                reason,
                bytes_in,
                bytes_out,
                ..
            } => writeln!(
                o,
                "{t} #{id} disconnected: {reason} (received {bytes_in} B, sent {bytes_out} B)"
            )?,
            Event::Expect {
                index, pattern, id, ..
            } => writeln!(o, "{t} expect {} /{pattern}/ seen from #{id}", index + 1)?,
            Event::Clients(list) => {
                if list.is_empty() {
                    writeln!(o, "no clients connected")?;
                }
                for c in list {
                    writeln!(
                        o,
                        "#{:<4} {:<40} since {}  {:<16} in {} B, out {} B",
                        c.id,
                        c.peer.to_string(),
                        clock(c.since),
                        kind_str(&c.kind),
                        c.bytes_in,
                        c.bytes_out
                    )?;
                }
            }
            Event::Notice(n) => writeln!(o, "{n}")?,
            Event::Error(e) => writeln!(o, "{t} error: {e}")?,
            Event::Timeout {
                unmet,
                clients_missing,
                seen,
            } => {
                writeln!(o, "timed out (--timeout)")?;
                if let Some(n) = clients_missing {
                    writeln!(o, "  still waiting for {n} more client(s) (--clients)")?;
                }
                for p in unmet {
                    writeln!(o, "  not seen: /{p}/")?;
                }
                if seen.is_empty() {
                    writeln!(o, "  no text was received")?;
                }
                for (id, s) in seen {
                    let mut l = String::new();
                    text::display_line(s, &mut l);
                    writeln!(o, "  last text from #{id}: {l}")?;
                }
            }
            Event::Summary(s) => writeln!(
                o,
                "summary: {} client(s), {} refused, received {} B, sent {} B in {:.1} s",
                s.clients,
                s.refused,
                s.bytes_in,
                s.bytes_out,
                s.elapsed.as_secs_f64()
            )?,
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

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
struct DataJson<'a> {
    id: u64,
    len: usize,
    text: &'a str,
    hex: String,
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
                let event = if matches!(event, Event::Data { .. }) {
                    "data"
                } else {
                    "sent"
                };
                serde_json::to_writer(
                    &mut *o,
                    &Line {
                        event,
                        t,
                        body: DataJson {
                            id: *id,
                            len: bytes.len(),
                            text,
                            hex: text::hex(bytes),
                        },
                    },
                )
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

/// `--log FILE`: every byte in and out as JSON lines,
/// `{"t":…,"id":1,"dir":"in","len":5,"hex":"48656c6c6f"}`, plus one line per
/// connect and disconnect.
#[derive(Debug)]
pub struct Log<W> {
    out: W,
}

impl<W: Write> Log<W> {
    /// Appends to `out`.
    pub fn new(out: W) -> Self {
        Log { out }
    }
}

#[derive(Serialize)]
struct LogBytes<'a> {
    t: String,
    id: u64,
    dir: &'a str,
    len: usize,
    hex: String,
}

impl<W: Write + Send> Observer for Log<W> {
    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        let t = || humantime::format_rfc3339_micros(at).to_string();
        let o = &mut self.out;
        let r = match event {
            Event::Data { id, bytes, .. } | Event::Sent { id, bytes, .. } => serde_json::to_writer(
                &mut *o,
                &LogBytes {
                    t: t(),
                    id: *id,
                    dir: if matches!(event, Event::Data { .. }) {
                        "in"
                    } else {
                        "out"
                    },
                    len: bytes.len(),
                    hex: text::hex(bytes),
                },
            ),
            Event::Connected { id, peer } => serde_json::to_writer(
                &mut *o,
                &serde_json::json!({"t": t(), "id": id, "event": "connected", "peer": peer.to_string()}),
            ),
            Event::Disconnected { id, reason, .. } => serde_json::to_writer(
                &mut *o,
                &serde_json::json!({"t": t(), "id": id, "event": "disconnected", "reason": reason}),
            ),
            _ => return Ok(()),
        };
        r.map_err(io::Error::from)?;
        o.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
