//! Plain lines for people: what `picow serve` prints on a pipe or with
//! `--plain`, and the pieces the terminal view shares (the clock, the data
//! lines, the `picow flash --server` hints).

use std::io::{self, Write};
use std::time::SystemTime;

use picow_i18n::tr;
use picow_protocol::Transport;
use picow_values::time::{clock, Zone};

use crate::event::{Event, Kind, Observer, Summary};
use crate::text;

fn kind_str(kind: &Kind) -> String {
    match kind {
        Kind::Unknown => "-".into(),
        Kind::Other => tr!("serve-kind-other"),
        Kind::Picow(None) => "PicoW".into(),
        Kind::Picow(Some(n)) => format!("PicoW ({n})"),
    }
}

/// `s` padded with spaces to `width` terminal columns (a Chinese character
/// takes two).
fn pad(s: &str, width: usize) -> String {
    let w = unicode_width::UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// The summary line for people (`summary: 2 client(s), …`), in the user's
/// language, and a second line with what was not read at a stop, if
/// anything; the terminal view leaves the same when it closes.
pub fn summary_line(s: &Summary) -> String {
    let mut line = tr!(
        "serve-summary",
        clients = s.clients,
        refused = s.refused,
        bytes_in = s.bytes_in,
        bytes_out = s.bytes_out,
        secs = format!("{:.1}", s.elapsed.as_secs_f64())
    );
    // What the clients sent after the stop, on a line of its own.
    if let Some(c) = &s.cut_off {
        line.push('\n');
        line.push_str(&tr!(
            "serve-cut-off",
            bytes = c.bytes,
            clients = c.clients,
            unfinished = c.unfinished
        ));
    }
    line
}

/// Plain lines for people, in the user's language (picow-i18n); the data
/// lines themselves are the bytes received, never translated.
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
                writeln!(
                    o,
                    "{}",
                    tr!("serve-listening", proto = proto, addrs = addrs.join(", "))
                )?;
                if !lan.is_empty() {
                    let ips: Vec<String> = lan
                        .iter()
                        .map(|l| {
                            if crate::addrs::is_virtual(&l.iface) {
                                tr!(
                                    "serve-lan-virtual",
                                    ip = l.ip.to_string(),
                                    iface = l.iface.as_str()
                                )
                            } else {
                                format!("{} ({})", l.ip, l.iface)
                            }
                        })
                        .collect();
                    writeln!(o, "{}", tr!("serve-lan", ips = ips.join(", ")))?;
                }
                let offers = crate::addrs::offers(*transport, local, lan);
                let _ = hints;
                if let Some(w) = crate::addrs::loopback_warning(local) {
                    // A loopback address is never given to the board: the
                    // warning says what to do instead.
                    writeln!(o, "{}", tr!("serve-warning", message = w.localized()))?;
                } else if offers.is_empty() {
                    writeln!(o, "{}", tr!("serve-no-lan"))?;
                } else {
                    let many = offers.len() > 1;
                    let head = if many {
                        tr!("serve-give-board-many")
                    } else {
                        tr!("serve-give-board")
                    };
                    writeln!(o, "{head}")?;
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
            Event::Connected { id, peer } => writeln!(
                o,
                "{}",
                tr!(
                    "serve-connected",
                    time = t.as_str(),
                    id = *id,
                    peer = peer.to_string()
                )
            )?,
            Event::Picow { id, name } => match name {
                Some(n) => writeln!(
                    o,
                    "{}",
                    tr!(
                        "serve-picow-named",
                        time = t.as_str(),
                        id = *id,
                        name = n.as_str()
                    )
                )?,
                None => writeln!(o, "{}", tr!("serve-picow", time = t.as_str(), id = *id))?,
            },
            Event::Firmware { .. } | Event::Update { .. } => {
                if let Some(l) = ota_line(event) {
                    writeln!(o, "{t} {l}")?;
                }
            }
            Event::Refused { peer, reason } => writeln!(
                o,
                "{}",
                tr!(
                    "serve-refused",
                    time = t.as_str(),
                    peer = peer.to_string(),
                    reason = reason.localized()
                )
            )?,
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
                "{}",
                tr!(
                    "serve-disconnected",
                    time = t.as_str(),
                    id = *id,
                    reason = reason.localized(),
                    bytes_in = *bytes_in,
                    bytes_out = *bytes_out
                )
            )?,
            Event::Expect {
                index, pattern, id, ..
            } => writeln!(
                o,
                "{}",
                tr!(
                    "serve-expect-seen",
                    time = t.as_str(),
                    n = index + 1,
                    pattern = pattern.as_str(),
                    id = *id
                )
            )?,
            Event::Clients { clients: list } => {
                if list.is_empty() {
                    writeln!(o, "{}", tr!("serve-no-clients"))?;
                }
                for c in list {
                    writeln!(
                        o,
                        "{}",
                        tr!(
                            "serve-client-row",
                            id = format!("{:<4}", c.id),
                            peer = format!("{:<40}", c.peer.to_string()),
                            since = clock(c.since, self.zone),
                            kind = pad(&kind_str(&c.kind), 16),
                            bytes_in = c.bytes_in,
                            bytes_out = c.bytes_out
                        )
                    )?;
                }
            }
            Event::Notice { message } => writeln!(o, "{}", message.localized())?,
            Event::Error { message } => writeln!(
                o,
                "{}",
                tr!(
                    "serve-error",
                    time = t.as_str(),
                    message = message.localized()
                )
            )?,
            // The notices say when it starts and stops; each tick is in the
            // `sent` lines.
            Event::Auto { .. } => {}
            Event::Timeout {
                unmet,
                clients_missing,
                seen,
            }
            | Event::Interrupted {
                unmet,
                clients_missing,
                seen,
            } => {
                if matches!(event, Event::Timeout { .. }) {
                    writeln!(o, "{}", tr!("serve-timeout"))?;
                } else {
                    writeln!(o, "{}", tr!("serve-interrupted"))?;
                }
                if let Some(n) = clients_missing {
                    writeln!(o, "{}", tr!("serve-timeout-clients", n = *n))?;
                }
                for p in unmet {
                    writeln!(o, "{}", tr!("serve-timeout-unmet", pattern = p.as_str()))?;
                }
                if seen.is_empty() {
                    writeln!(o, "{}", tr!("serve-timeout-nothing"))?;
                }
                for crate::event::Seen { id, text: s } in seen {
                    let mut l = String::new();
                    text::display_line(s, &mut l);
                    writeln!(o, "{}", tr!("serve-timeout-last", id = *id, text = l))?;
                }
            }
            Event::Summary(s) => writeln!(o, "{}", summary_line(s))?,
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The line for people (without the time) of a [`Event::Firmware`] or an
/// [`Event::Update`], in the user's language; `None` for other events.
/// The terminal view shows the same.
pub fn ota_line(event: &Event) -> Option<String> {
    use crate::event::UpdateState;
    Some(match event {
        Event::Firmware {
            id,
            version,
            project,
            slot,
            chip,
        } => {
            let project = if project.is_empty() {
                "?"
            } else {
                project.as_str()
            };
            match slot {
                Some(s) => tr!(
                    "serve-firmware-slot",
                    id = *id,
                    project = project,
                    version = version.as_str(),
                    slot = *s,
                    chip = chip.as_str()
                ),
                None => tr!(
                    "serve-firmware",
                    id = *id,
                    project = project,
                    version = version.as_str(),
                    chip = chip.as_str()
                ),
            }
        }
        Event::Update {
            id,
            state,
            firmware,
            version,
            error,
        } => {
            let version = version.as_deref().unwrap_or("?");
            match state {
                UpdateState::Started => match firmware {
                    Some(f) => tr!("serve-update-started", id = *id, firmware = f.as_str()),
                    None => tr!("serve-update-started-default", id = *id),
                },
                UpdateState::Uploaded => tr!("serve-update-uploaded", id = *id),
                UpdateState::Done => tr!("serve-update-done", id = *id, version = version),
                UpdateState::Unchanged => {
                    tr!("serve-update-unchanged", id = *id, version = version)
                }
                UpdateState::Failed => tr!(
                    "serve-update-failed",
                    id = *id,
                    error = error.as_deref().unwrap_or("?")
                ),
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::data;
    use super::*;

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
