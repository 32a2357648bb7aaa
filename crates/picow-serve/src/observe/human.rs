//! Plain lines for people: what `picow serve` prints on a pipe or with
//! `--plain`, and the pieces the terminal view shares (the clock, the data
//! lines, the `picow flash --server` hints).

use std::io::{self, Write};
use std::time::SystemTime;

use picow_protocol::Transport;
use picow_values::time::{clock, Zone};

use crate::event::{Event, Kind, Observer};
use crate::text;

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
    zone: Zone,
}

impl<W: Write> Human<W> {
    /// Writes to `out`; data as hex bytes when `hex`; times in local time.
    pub fn new(out: W, hex: bool) -> Self {
        Human {
            out,
            hex,
            zone: Zone::Local,
        }
    }

    /// Times in `zone` (`--utc`).
    pub fn with_zone(mut self, zone: Zone) -> Self {
        self.zone = zone;
        self
    }

    fn data(
        &mut self,
        at: SystemTime,
        id: u64,
        arrow: &str,
        bytes: &[u8],
        txt: &str,
    ) -> io::Result<()> {
        let out = &mut self.out;
        data_lines(at, self.zone, id, arrow, bytes, txt, self.hex, |line| {
            writeln!(out, "{line}")
        })
    }
}

/// The lines a person sees for received or sent data, handed to `f` one by
/// one: `HH:MM:SS.mmm #ID ARROW text` for each line of the text (a final
/// newline ends the last one; `\r` before a newline is dropped; control
/// characters shown as `\xNN`), or one line of spaced hex bytes with `hex`.
/// The time is in `zone`.
#[allow(clippy::too_many_arguments)] // one line's parts, each used once
pub fn data_lines<E>(
    at: SystemTime,
    zone: Zone,
    id: u64,
    arrow: &str,
    bytes: &[u8],
    txt: &str,
    hex: bool,
    mut f: impl FnMut(&str) -> Result<(), E>,
) -> Result<(), E> {
    let t = clock(at, zone);
    if hex {
        return f(&format!("{t} #{id} {arrow} {}", text::hex_spaced(bytes)));
    }
    let head = format!("{t} #{id} {arrow} ");
    let mut line = String::new();
    let body = txt.strip_suffix('\n').unwrap_or(txt);
    for part in body.split('\n') {
        line.clear();
        line.push_str(&head);
        text::display_line(part.strip_suffix('\r').unwrap_or(part), &mut line);
        f(&line)?;
    }
    Ok(())
}

impl<W: Write + Send> Observer for Human<W> {
    fn wants_text(&self) -> bool {
        !self.hex
    }

    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        let t = clock(at, self.zone);
        let o = &mut self.out;
        match event {
            Event::Listening {
                transport,
                local,
                lan,
                hints,
                ..
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
                        .map(|l| {
                            let v = if crate::addrs::is_virtual(&l.iface) {
                                ", virtual"
                            } else {
                                ""
                            };
                            format!("{} ({}{v})", l.ip, l.iface)
                        })
                        .collect();
                    writeln!(o, "LAN addresses: {}", ips.join(", "))?;
                }
                if let Some(w) = crate::addrs::loopback_warning(local) {
                    writeln!(o, "warning: {w}")?;
                }
                let offers = crate::addrs::offers(*transport, local, lan);
                let _ = hints;
                if offers.is_empty() {
                    writeln!(
                        o,
                        "no LAN address found: connect this computer to the board's Wi-Fi network"
                    )?;
                } else {
                    let many = offers.len() > 1;
                    writeln!(
                        o,
                        "give the board this server{}:",
                        if many { " (* = most likely)" } else { "" }
                    )?;
                    let w = offers.iter().map(|f| f.server.len()).max().unwrap_or(0);
                    for f in &offers {
                        let mark = if f.likely && many { '*' } else { ' ' };
                        writeln!(
                            o,
                            "{mark} picow flash --server {:<w$}   (MicroPython: {})",
                            f.server, f.micropython
                        )?;
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
            Event::Clients { clients: list } => {
                if list.is_empty() {
                    writeln!(o, "no clients connected")?;
                }
                for c in list {
                    writeln!(
                        o,
                        "#{:<4} {:<40} since {}  {:<16} in {} B, out {} B",
                        c.id,
                        c.peer.to_string(),
                        clock(c.since, self.zone),
                        kind_str(&c.kind),
                        c.bytes_in,
                        c.bytes_out
                    )?;
                }
            }
            Event::Notice { message } => writeln!(o, "{message}")?,
            Event::Error { message } => writeln!(o, "{t} error: {message}")?,
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
                for crate::event::Seen { id, text: s } in seen {
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
    fn human_lines_split_text_and_show_hex() {
        let mut out = Vec::new();
        let mut h = Human::new(&mut out, false).with_zone(Zone::Utc);
        let at = SystemTime::UNIX_EPOCH;
        h.event(at, &data(b"", "line one\r\nline\u{1b}two\n"))
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "00:00:00.000 #7 < line one\n00:00:00.000 #7 < line\\x1btwo\n"
        );
        let mut out = Vec::new();
        let mut h = Human::new(&mut out, true).with_zone(Zone::Utc);
        h.event(at, &data(b"Hi\n", "Hi\n")).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "00:00:00.000 #7 < 48 69 0a\n"
        );
    }
}
