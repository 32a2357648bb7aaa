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

/// The time of day for people: `09:12:01.123` (UTC).
pub fn clock(at: SystemTime) -> String {
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
}

impl<W: Write> Human<W> {
    /// Writes to `out`; data as hex bytes when `hex`.
    pub fn new(out: W, hex: bool) -> Self {
        Human { out, hex }
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
        data_lines(at, id, arrow, bytes, txt, self.hex, |line| {
            writeln!(out, "{line}")
        })
    }
}

/// The lines a person sees for received or sent data, handed to `f` one by
/// one: `HH:MM:SS.mmm #ID ARROW text` for each line of the text (a final
/// newline ends the last one; `\r` before a newline is dropped; control
/// characters shown as `\xNN`), or one line of spaced hex bytes with `hex`.
pub fn data_lines<E>(
    at: SystemTime,
    id: u64,
    arrow: &str,
    bytes: &[u8],
    txt: &str,
    hex: bool,
    mut f: impl FnMut(&str) -> Result<(), E>,
) -> Result<(), E> {
    let t = clock(at);
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
        let t = || humantime::format_rfc3339_micros(at).to_string();
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
                &serde_json::json!({"t": t(), "id": id, "event": "connected", "peer": peer.to_string()}),
            )?,
            Event::Disconnected { id, reason, .. } => serde_json::to_writer(
                &mut *o,
                &serde_json::json!({"t": t(), "id": id, "event": "disconnected", "reason": reason}),
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

/// Runs an observer on a thread of its own, so that formatting and writing
/// (the log, the JSON output) overlap with the engine's work. Events go over
/// in batches (fewer thread wake-ups) through a bounded queue; an error on
/// the thread is returned by the next call.
#[derive(Debug)]
pub struct Threaded {
    tx: Option<std::sync::mpsc::SyncSender<Job>>,
    wants_text: bool,
    batch: Vec<(SystemTime, Event)>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

/// Events per batch; with the queue bound, at most 8 x 32 reads of 64 KiB
/// wait for a slow output.
const BATCH: usize = 32;

#[derive(Debug)]
enum Job {
    Events(Vec<(SystemTime, Event)>),
    Flush,
}

impl Threaded {
    /// Moves `inner` to a new thread.
    pub fn new(mut inner: Box<dyn Observer>) -> Threaded {
        let wants_text = inner.wants_text();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(8);
        let thread = std::thread::spawn(move || -> io::Result<()> {
            while let Ok(job) = rx.recv() {
                match job {
                    Job::Events(events) => {
                        for (at, e) in &events {
                            inner.event(*at, e)?;
                        }
                    }
                    Job::Flush => inner.flush()?,
                }
            }
            inner.finish()
        });
        Threaded {
            tx: Some(tx),
            wants_text,
            batch: Vec::with_capacity(BATCH),
            thread: Some(thread),
        }
    }

    fn send(&mut self, job: Job) -> io::Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok());
        if sent {
            Ok(())
        } else {
            // The thread stopped: return its error.
            self.tx = None;
            match self.thread.take().map(|t| t.join()) {
                Some(Ok(Err(e))) => Err(e),
                _ => Err(io::Error::other("output thread stopped")),
            }
        }
    }

    fn send_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.send(Job::Events(batch))
    }
}

/// Ending without [`Observer::finish`] (serve stopped on an error) still
/// writes out what was handed over: the log keeps everything received.
impl Drop for Threaded {
    fn drop(&mut self) {
        let _ = self.send_batch();
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Observer for Threaded {
    fn wants_text(&self) -> bool {
        self.wants_text
    }

    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        self.batch.push((at, event.clone()));
        if self.batch.len() >= BATCH {
            self.send_batch()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_batch()?;
        self.send(Job::Flush)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.send_batch()?;
        self.tx = None;
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("output thread panicked"))),
            None => Ok(()),
        }
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
        log.event(at, &Event::Notice("not logged".into())).unwrap();
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

    #[test]
    fn human_lines_split_text_and_show_hex() {
        let mut out = Vec::new();
        let mut h = Human::new(&mut out, false);
        let at = SystemTime::UNIX_EPOCH;
        h.event(at, &data(b"", "line one\r\nline\u{1b}two\n"))
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "00:00:00.000 #7 < line one\n00:00:00.000 #7 < line\\x1btwo\n"
        );
        let mut out = Vec::new();
        let mut h = Human::new(&mut out, true);
        h.event(at, &data(b"Hi\n", "Hi\n")).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "00:00:00.000 #7 < 48 69 0a\n"
        );
    }

    #[test]
    fn threaded_output_is_complete_after_finish() {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut t = Threaded::new(Box::new(Log::new(io::BufWriter::new(Shared(buf.clone())))));
        for _ in 0..1000 {
            t.event(SystemTime::UNIX_EPOCH, &data(b"x", "x")).unwrap();
        }
        t.finish().unwrap();
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1000);
        // Dropped without finish (serve ended on an error): still complete.
        buf.lock().unwrap().clear();
        let mut t = Threaded::new(Box::new(Log::new(io::BufWriter::new(Shared(buf.clone())))));
        for _ in 0..1000 {
            t.event(SystemTime::UNIX_EPOCH, &data(b"x", "x")).unwrap();
        }
        drop(t);
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1000);
    }

    #[test]
    fn hints_follow_the_bound_address_and_transport() {
        let lan = vec![
            LanAddr {
                iface: "eth0".into(),
                ip: "192.168.2.118".parse().unwrap(),
            },
            LanAddr {
                iface: "eth0".into(),
                ip: "fd00::2".parse().unwrap(),
            },
        ];
        let any6: Vec<SocketAddr> = vec!["[::]:10000".parse().unwrap()];
        assert_eq!(
            flash_hints(Transport::Tcp, &any6, &lan),
            [
                "picow flash --server 192.168.2.118:10000",
                "picow flash --server [fd00::2]:10000"
            ]
        );
        let any4: Vec<SocketAddr> = vec!["0.0.0.0:10000".parse().unwrap()];
        assert_eq!(
            flash_hints(Transport::Udp, &any4, &lan),
            ["picow flash --server udp://192.168.2.118:10000"]
        );
        let one: Vec<SocketAddr> = vec!["192.168.2.118:9000".parse().unwrap()];
        assert_eq!(
            flash_hints(Transport::Tcp, &one, &lan),
            ["picow flash --server 192.168.2.118:9000"]
        );
    }
}
