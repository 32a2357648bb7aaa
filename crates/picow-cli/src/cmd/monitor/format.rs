//! What the monitor shows: bytes from the board in, text for a person (or
//! JSON for a program) out, through any `impl Write`.
//!
//! [`Printer`] is itself a `Write`: every byte written to it is shown at
//! once, without waiting for the end of the line, except the first bytes of
//! a line that may be a picow console line (`@picow ...`): those are held
//! until the line ends (so that it can be coloured as a whole) or until
//! [`Printer::idle`] says no more bytes are coming for now.
//!
//! In the pretty mode every byte passes through [`Inert`] first: colour
//! sequences pass, every other control or escape sequence is shown as
//! `\xNN`. In the JSON mode control characters are JSON escapes (C1 ones
//! too, which serde_json would write as they are).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anstyle::{AnsiColor, Style};
use jiff::tz::TimeZone;
use picow_protocol::console::{Event, Level, PREFIX};
use picow_protocol::session::{Line, LineDecoder};
use picow_values::time::{clock_in, Zone};
use serde_json::json;

use super::inert::{inert_str, Inert};
use super::symbols::{self, Symbols};

/// The longest line kept whole for parsing and decoding; longer lines are
/// still shown entirely, but parsed only up to this length.
pub const MAX_LINE: usize = 4096;

/// How bytes from the board are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lines, with picow console lines coloured and backtraces decoded.
    Pretty,
    /// Bytes exactly as they came.
    Raw,
    /// A hex dump, 16 bytes a row.
    Hex,
    /// One JSON object per line of output (`--json`).
    Json,
}

/// How the printer shows things.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The mode.
    pub mode: Mode,
    /// ANSI colours.
    pub color: bool,
    /// Host time at the start of each line.
    pub timestamps: bool,
    /// The time zone of those timestamps (local unless `--utc`).
    pub zone: Zone,
}

type Clock = Box<dyn FnMut() -> SystemTime + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line: nothing of it seen yet.
    Start,
    /// Holding the first bytes of a line that match the start of `@picow `.
    Maybe,
    /// Holding a whole `@picow ` line until it ends.
    Picow,
    /// Showing the line as it comes.
    Plain,
}

/// Turns the board's bytes into what the user sees.
pub struct Printer<W: Write> {
    out: W,
    opts: Options,
    clock: Clock,
    tz: TimeZone,
    state: State,
    held: Vec<u8>,
    line_time: SystemTime,
    lines: LineDecoder<MAX_LINE>,
    symbols: Option<Symbols>,
    /// Directories holding `<chip>/picow-fw.elf`, in the order to look in
    /// when the firmware says which chip it runs on and no `--elf` was given.
    elf_dirs: Vec<PathBuf>,
    /// The ELF found that way and its modification time.
    auto_elf: Option<(PathBuf, SystemTime)>,
    hex_offset: u64,
    hex_row: Vec<u8>,
    scratch: String,
    /// The escape filter of the pretty mode, and its output buffer.
    inert: Inert,
    shown: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for Printer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("opts", &self.opts)
            .field("state", &self.state)
            .field("symbols", &self.symbols)
            .finish_non_exhaustive()
    }
}

const DIM: Style = Style::new().dimmed();
const STATE: Style = Style::new().bold();

fn level_style(level: Level, state_change: bool) -> Style {
    let base = if state_change { STATE } else { Style::new() };
    match level {
        Level::Error => base
            .bold()
            .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red))),
        Level::Warn => base.fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow))),
        Level::Info if state_change => base.fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green))),
        Level::Info => base.fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan))),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`, with the system clock and the time zone
    /// of `opts` for timestamps.
    pub fn new(out: W, opts: Options) -> Self {
        let tz = opts.zone.tz().clone();
        Self::with_clock(out, opts, Box::new(SystemTime::now), tz)
    }

    /// A printer with its own clock and time zone (tests).
    pub fn with_clock(out: W, opts: Options, clock: Clock, tz: TimeZone) -> Self {
        Printer {
            out,
            opts,
            clock,
            tz,
            state: State::Start,
            held: Vec::new(),
            line_time: UNIX_EPOCH,
            lines: LineDecoder::new(),
            symbols: None,
            elf_dirs: Vec::new(),
            auto_elf: None,
            hex_offset: 0,
            hex_row: Vec::with_capacity(16),
            scratch: String::new(),
            inert: Inert::new(),
            shown: Vec::new(),
        }
    }

    /// Decodes addresses with this ELF (and never looks for another).
    pub fn set_symbols(&mut self, symbols: Symbols) {
        self.symbols = Some(symbols);
        self.elf_dirs.clear();
    }

    /// When the firmware announces its chip and no ELF is loaded, load
    /// `<root>/target/picow-fw/<chip>/picow-fw.elf` if it exists.
    pub fn set_elf_root(&mut self, root: PathBuf) {
        self.elf_dirs = vec![root.join("target/picow-fw")];
    }

    /// When the firmware announces its chip and no ELF is loaded, load the
    /// first `<dir>/<chip>/picow-fw.elf` of `dirs` that exists.
    pub fn set_elf_dirs(&mut self, dirs: Vec<PathBuf>) {
        self.elf_dirs = dirs;
    }

    /// The ELF in use, if any.
    pub fn symbols(&self) -> Option<&Symbols> {
        self.symbols.as_ref()
    }

    /// The writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// The writer, consuming the printer (after [`finish`](Self::finish)).
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Whether the output is at the start of a line (for messages from the
    /// monitor itself).
    pub fn at_line_start(&self) -> bool {
        match self.opts.mode {
            Mode::Pretty => matches!(self.state, State::Start | State::Maybe | State::Picow),
            Mode::Hex => self.hex_row.is_empty(),
            Mode::Raw | Mode::Json => true,
        }
    }

    /// No bytes came for a while: show what is held back.
    pub fn idle(&mut self) -> io::Result<()> {
        if self.opts.mode == Mode::Pretty {
            self.flush_inert()?;
            if matches!(self.state, State::Maybe | State::Picow) {
                self.release_held()?;
            }
        }
        self.out.flush()
    }

    /// Shows what the escape filter holds (visibly: it will not be completed).
    fn flush_inert(&mut self) -> io::Result<()> {
        if !self.inert.is_holding() {
            return Ok(());
        }
        let mut shown = std::mem::take(&mut self.shown);
        shown.clear();
        self.inert.flush(&mut shown);
        let r = self.show_segment(&shown, false);
        self.shown = shown;
        r
    }

    /// The line being shown will not go on (the port vanished, the run is
    /// over): show what is held, and in JSON mode the line so far, as
    /// `"partial": true`, so that it comes before the event that ends it.
    pub fn end_line(&mut self) -> io::Result<()> {
        match self.opts.mode {
            Mode::Pretty => {
                self.flush_inert()?;
                if matches!(self.state, State::Maybe | State::Picow) {
                    self.release_held()?;
                }
            }
            Mode::Json => {
                let mut last = None;
                self.lines.end(|l| {
                    last = Some(match l {
                        Line::Complete(b) => (b.to_vec(), true),
                        Line::Truncated(b) => (b.to_vec(), false),
                    })
                });
                if let Some((line, complete)) = last {
                    let now = (self.clock)();
                    self.json_line(&line, complete, now, true)?;
                }
            }
            Mode::Hex | Mode::Raw => {}
        }
        self.out.flush()
    }

    /// The end: show everything still held (a last line without a newline,
    /// a partial hex row) and flush.
    pub fn finish(&mut self) -> io::Result<()> {
        self.end_line()?;
        if self.opts.mode == Mode::Hex {
            self.hex_end_row()?;
        }
        self.out.flush()
    }

    /// A message from the monitor itself (port gone, reconnected, …). In
    /// JSON mode an object `{"type": kind, ...fields}`; otherwise nothing
    /// (the caller shows text on stderr).
    pub fn json_notice(&mut self, kind: &str, fields: serde_json::Value) -> io::Result<()> {
        if self.opts.mode != Mode::Json {
            return Ok(());
        }
        let mut obj = json!({ "type": kind, "t_ms": epoch_ms((self.clock)()) });
        if let (Some(o), serde_json::Value::Object(f)) = (obj.as_object_mut(), fields) {
            o.extend(f);
        }
        write_json_line(&mut self.out, &obj)?;
        self.out.flush()
    }

    fn feed(&mut self, input: &[u8]) -> io::Result<()> {
        match self.opts.mode {
            Mode::Raw => self.out.write_all(input),
            Mode::Hex => self.feed_hex(input),
            Mode::Pretty | Mode::Json => {
                let mut rest = input;
                while !rest.is_empty() {
                    let (seg, nl, next) = match memchr(b'\n', rest) {
                        Some(i) => (&rest[..i], true, &rest[i + 1..]),
                        None => (rest, false, &[][..]),
                    };
                    if self.opts.mode == Mode::Pretty {
                        // What the terminal gets: the bytes made inert (an
                        // escape sequence does not run across a line end).
                        let mut shown = std::mem::take(&mut self.shown);
                        shown.clear();
                        self.inert.push(seg, &mut shown);
                        if nl {
                            self.inert.flush(&mut shown);
                        }
                        let r = self.show_segment(&shown, nl);
                        self.shown = shown;
                        r?;
                    }
                    // The same bytes into the line decoder, for parsing and
                    // decoding the whole line.
                    let mut done: Option<(Vec<u8>, bool)> = None;
                    self.lines.feed(seg, |_| {});
                    if nl {
                        self.lines.feed(b"\n", |l| {
                            done = Some(match l {
                                Line::Complete(b) => (b.to_vec(), true),
                                Line::Truncated(b) => (b.to_vec(), false),
                            })
                        });
                    }
                    if let Some((line, complete)) = done {
                        self.line_done(&line, complete)?;
                    }
                    rest = next;
                }
                Ok(())
            }
        }
    }

    fn write_timestamp(&mut self) -> io::Result<()> {
        if self.opts.timestamps {
            let t = clock_in(&self.tz, self.line_time);
            if self.opts.color {
                write!(self.out, "{DIM}[{t}]{DIM:#} ")
            } else {
                write!(self.out, "[{t}] ")
            }
        } else {
            Ok(())
        }
    }

    fn release_held(&mut self) -> io::Result<()> {
        self.write_timestamp()?;
        let held = std::mem::take(&mut self.held);
        self.out.write_all(&held)?;
        self.held = held;
        self.held.clear();
        self.state = State::Plain;
        Ok(())
    }

    /// Shows bytes of one line (without its `\n`); `nl` when the line ends here.
    fn show_segment(&mut self, mut seg: &[u8], nl: bool) -> io::Result<()> {
        let prefix = PREFIX.as_bytes();
        if self.state == State::Start && (!seg.is_empty() || nl) {
            self.line_time = (self.clock)();
            self.state = if seg.first() == Some(&prefix[0]) {
                State::Maybe
            } else {
                self.write_timestamp()?;
                State::Plain
            };
        }
        if self.state == State::Maybe {
            let have = self.held.len();
            let take = (prefix.len() - have).min(seg.len());
            if seg[..take] == prefix[have..have + take] {
                self.held.extend_from_slice(&seg[..take]);
                seg = &seg[take..];
                if self.held.len() == prefix.len() {
                    self.state = State::Picow;
                }
            } else {
                self.release_held()?;
            }
        }
        match self.state {
            State::Picow => {
                let room = MAX_LINE.saturating_sub(self.held.len());
                if seg.len() > room {
                    // Too long to be a console line: show it as it is.
                    self.release_held()?;
                    self.out.write_all(seg)?;
                } else {
                    self.held.extend_from_slice(seg);
                }
                if nl {
                    if self.state == State::Picow {
                        self.show_picow_line()?;
                    } else {
                        self.out.write_all(b"\n")?;
                    }
                    self.state = State::Start;
                }
            }
            State::Maybe if nl => {
                self.release_held()?;
                self.out.write_all(b"\n")?;
                self.state = State::Start;
            }
            State::Maybe => {}
            State::Plain => {
                self.out.write_all(seg)?;
                if nl {
                    self.out.write_all(b"\n")?;
                    self.state = State::Start;
                }
            }
            State::Start => {}
        }
        Ok(())
    }

    fn show_picow_line(&mut self) -> io::Result<()> {
        self.write_timestamp()?;
        let held = std::mem::take(&mut self.held);
        let text = String::from_utf8_lossy(&held);
        let text = text.trim_end_matches('\r');
        match Event::parse(text) {
            Some(Ok(ev)) if self.opts.color => {
                let style = level_style(ev.level(), ev.is_state_change());
                writeln!(self.out, "{style}{text}{style:#}")?;
            }
            Some(Err(e)) if self.opts.color => {
                writeln!(self.out, "{text} {DIM}({e}){DIM:#}")?;
            }
            Some(Err(e)) => writeln!(self.out, "{text} ({e})")?,
            _ => writeln!(self.out, "{text}")?,
        }
        self.held = held;
        self.held.clear();
        Ok(())
    }

    /// A whole line has arrived (all of it already shown in pretty mode).
    fn line_done(&mut self, line: &[u8], complete: bool) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        if let Some(Some(Ok(Event::Boot { chip, .. }))) = complete.then(|| Event::parse(&text)) {
            self.auto_load_elf(&chip.to_string_lossy());
        }
        if self.opts.mode == Mode::Json {
            let t = (self.clock)();
            self.json_line(line, complete, t, false)?;
        }
        self.decode_addresses(&text)
    }

    /// On every boot line: the ELF of the chip it names, loaded again when
    /// it changed since (a new build was flashed while the monitor ran).
    /// Never replaces an `--elf` given by the user.
    fn auto_load_elf(&mut self, chip: &str) {
        // Only plain chip names make a path.
        if chip.is_empty() || !chip.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return;
        }
        let Some(path) = self
            .elf_dirs
            .iter()
            .map(|d| d.join(chip).join(crate::firmware::ELF_NAME))
            .find(|p| p.is_file())
        else {
            return;
        };
        let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) else {
            return;
        };
        let stamp = (path.clone(), modified);
        if self.auto_elf.as_ref() == Some(&stamp) {
            return;
        }
        if let Ok(s) = Symbols::open(&path) {
            tracing::info!("decoding addresses with {}", path.display());
            self.symbols = Some(s);
            self.auto_elf = Some(stamp);
        }
    }

    fn json_line(
        &mut self,
        line: &[u8],
        complete: bool,
        t: SystemTime,
        partial: bool,
    ) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        let mut obj = match Event::parse(text) {
            Some(Ok(ev)) => json!({
                "type": "event",
                "event": ev.name(),
                "level": level_name(ev.level()),
                "state_change": ev.is_state_change(),
                "line": text,
            }),
            Some(Err(e)) => json!({ "type": "line", "line": text, "error": e.to_string() }),
            None => json!({ "type": "line", "line": text }),
        };
        let o = obj.as_object_mut().expect("an object");
        o.insert("t_ms".into(), epoch_ms(t).into());
        if !complete {
            o.insert("truncated".into(), true.into());
        }
        if partial {
            o.insert("partial".into(), true.into());
        }
        write_json_line(&mut self.out, &obj)
    }

    fn decode_addresses(&mut self, text: &str) -> io::Result<()> {
        let Some(symbols) = &self.symbols else {
            return Ok(());
        };
        let mut decoded = Vec::new();
        for addr in symbols::addresses(text) {
            let frames = symbols.resolve(addr);
            if !frames.is_empty() {
                decoded.push((addr, frames));
            }
        }
        for (addr, frames) in decoded {
            for frame in frames {
                if self.opts.mode == Mode::Json {
                    let obj = json!({
                        "type": "frame",
                        "address": format!("0x{addr:08x}"),
                        "function": frame.function,
                        "file": frame.file,
                        "line": frame.line,
                    });
                    write_json_line(&mut self.out, &obj)?;
                } else {
                    let yellow =
                        Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
                    let (on, off) = if self.opts.color {
                        (
                            yellow.render().to_string(),
                            yellow.render_reset().to_string(),
                        )
                    } else {
                        (String::new(), String::new())
                    };
                    writeln!(self.out, "{on}    0x{addr:08x} - {frame}{off}")?;
                }
            }
        }
        Ok(())
    }

    fn feed_hex(&mut self, input: &[u8]) -> io::Result<()> {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        for &b in input {
            if self.hex_row.is_empty() {
                if self.opts.timestamps {
                    let _ = write!(s, "[{}] ", clock_in(&self.tz, (self.clock)()));
                }
                let _ = write!(s, "{:08x}  ", self.hex_offset);
            }
            let _ = write!(s, "{b:02x} ");
            if self.hex_row.len() == 7 {
                s.push(' ');
            }
            self.hex_row.push(b);
            self.hex_offset += 1;
            if self.hex_row.len() == 16 {
                push_gutter(&mut s, &self.hex_row);
                self.hex_row.clear();
            }
        }
        let r = self.out.write_all(s.as_bytes());
        self.scratch = s;
        r
    }

    fn hex_end_row(&mut self) -> io::Result<()> {
        if self.hex_row.is_empty() {
            return Ok(());
        }
        let mut s = String::new();
        let missing = 16 - self.hex_row.len();
        for i in 0..missing {
            s.push_str("   ");
            if self.hex_row.len() + i == 7 {
                s.push(' ');
            }
        }
        push_gutter(&mut s, &self.hex_row);
        self.hex_row.clear();
        self.out.write_all(s.as_bytes())
    }
}

/// One JSON value and a newline, with C1 control characters (U+0080 to
/// U+009F, which serde_json leaves as they are) written as `\u00XX`, so that
/// JSON shown on a terminal is as inert as the pretty mode.
pub fn write_json_line(out: &mut impl Write, v: &serde_json::Value) -> io::Result<()> {
    let s = v.to_string();
    if s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        let mut t = String::with_capacity(s.len() + 16);
        for c in s.chars() {
            if ('\u{80}'..='\u{9f}').contains(&c) {
                let _ = write!(t, "\\u{:04x}", c as u32);
            } else {
                t.push(c);
            }
        }
        writeln!(out, "{t}")
    } else {
        writeln!(out, "{s}")
    }
}

/// Text from the board quoted in a message of the monitor's own (a matched
/// `--fail` line), made inert like the pretty output.
pub fn quote(line: &str) -> String {
    inert_str(line)
}

fn push_gutter(s: &mut String, row: &[u8]) {
    s.push_str(" |");
    for &c in row {
        s.push(if c.is_ascii_graphic() || c == b' ' {
            c as char
        } else {
            '.'
        });
    }
    s.push_str("|\n");
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Where `cargo xtask fw build --chip <chip>` leaves the firmware ELF.
pub fn default_elf(workspace_root: &std::path::Path, chip: &str) -> PathBuf {
    workspace_root
        .join("target/picow-fw")
        .join(chip)
        .join("picow-fw.elf")
}

impl<W: Write> Write for Printer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.feed(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn printer(mode: Mode, color: bool, timestamps: bool) -> Printer<Vec<u8>> {
        // 01:02:03.456 on the first day (UTC), then 1 ms per call.
        let mut t = UNIX_EPOCH + Duration::from_millis(3_723_456);
        Printer::with_clock(
            Vec::new(),
            Options {
                mode,
                color,
                timestamps,
                zone: Zone::Utc,
            },
            Box::new(move || {
                let now = t;
                t += Duration::from_millis(1);
                now
            }),
            TimeZone::UTC,
        )
    }

    fn out(p: &Printer<Vec<u8>>) -> String {
        String::from_utf8_lossy(&p.out).into_owned()
    }

    #[test]
    fn plain_bytes_show_at_once_without_a_newline() {
        let mut p = printer(Mode::Pretty, false, false);
        p.write_all(b"I (12) boo").unwrap();
        assert_eq!(out(&p), "I (12) boo");
        p.write_all(b"t: ok\nnext").unwrap();
        assert_eq!(out(&p), "I (12) boot: ok\nnext");
    }

    #[test]
    fn picow_lines_are_held_until_they_end_then_coloured() {
        let mut p = printer(Mode::Pretty, true, false);
        p.write_all(b"@pic").unwrap();
        assert_eq!(out(&p), "", "a possible console line is held");
        p.write_all(b"ow wifi-lost\r\n").unwrap();
        let s = out(&p);
        // Warn: yellow, and a state change: bold.
        assert!(s.contains("\x1b[1m") && s.contains("\x1b[33m"), "{s:?}");
        assert!(s.contains("@picow wifi-lost"), "{s:?}");
        assert!(s.ends_with('\n') && !s.contains('\r'), "{s:?}");

        let mut p = printer(Mode::Pretty, true, false);
        p.write_all(b"@picow rx len=2 data=\"hi\"\n").unwrap();
        let rx = out(&p);
        assert!(
            !rx.contains("\x1b[1m"),
            "data is not a state change: {rx:?}"
        );
        let mut p = printer(Mode::Pretty, true, false);
        p.write_all(b"@picow config-invalid reason=\"crc\" hint=\"run picow flash\"\n")
            .unwrap();
        let err = out(&p);
        assert!(err.contains("\x1b[31m"), "errors are red: {err:?}");
    }

    #[test]
    fn a_line_that_only_starts_like_picow_is_released() {
        let mut p = printer(Mode::Pretty, true, false);
        p.write_all(b"@pi").unwrap();
        assert_eq!(out(&p), "");
        p.write_all(b"ng 1").unwrap();
        assert_eq!(out(&p), "@ping 1");
        // An unfinished console line is shown when the board goes quiet.
        let mut p = printer(Mode::Pretty, false, false);
        p.write_all(b"@picow boot version=").unwrap();
        assert_eq!(out(&p), "");
        p.idle().unwrap();
        assert_eq!(out(&p), "@picow boot version=");
        p.write_all(b"\"1\"\n").unwrap();
        assert_eq!(out(&p), "@picow boot version=\"1\"\n");
    }

    #[test]
    fn malformed_console_lines_say_why() {
        let mut p = printer(Mode::Pretty, false, false);
        p.write_all(b"@picow nonsense\n").unwrap();
        assert_eq!(out(&p), "@picow nonsense (unknown picow console event)\n");
    }

    #[test]
    fn timestamps_start_each_line() {
        let mut p = printer(Mode::Pretty, false, true);
        p.write_all(b"a\n\nb").unwrap();
        assert_eq!(
            out(&p),
            "[01:02:03.456] a\n[01:02:03.457] \n[01:02:03.458] b"
        );
        let mut p = printer(Mode::Pretty, false, true);
        p.write_all(b"@picow wifi-lost\n").unwrap();
        assert_eq!(out(&p), "[01:02:03.456] @picow wifi-lost\n");
    }

    #[test]
    fn raw_is_byte_exact() {
        let mut p = printer(Mode::Raw, true, true);
        let bytes: Vec<u8> = (0..=255).collect();
        p.write_all(&bytes).unwrap();
        p.write_all(b"@picow wifi-lost\r\n").unwrap();
        let mut want = bytes.clone();
        want.extend_from_slice(b"@picow wifi-lost\r\n");
        assert_eq!(p.out, want);
    }

    #[test]
    fn hex_dump_rows() {
        let mut p = printer(Mode::Hex, false, false);
        p.write_all(b"Hello, WalnutPi!\x00\x01").unwrap();
        assert_eq!(
            out(&p),
            "00000000  48 65 6c 6c 6f 2c 20 57  61 6c 6e 75 74 50 69 21  |Hello, WalnutPi!|\n\
             00000010  00 01 "
        );
        p.finish().unwrap();
        assert!(
            out(&p).ends_with("00000010  00 01                                             |..|\n"),
            "{:?}",
            out(&p)
        );
    }

    #[test]
    fn json_lines_and_events() {
        let mut p = printer(Mode::Json, false, false);
        p.write_all(
            b"plain\r\n@picow wifi-joined ip=\"10.0.0.2\" gateway=\"10.0.0.1\" rssi=-40\ntail",
        )
        .unwrap();
        let s = out(&p);
        let objs: Vec<serde_json::Value> = s
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objs.len(), 2, "{s}");
        assert_eq!(objs[0]["type"], "line");
        assert_eq!(objs[0]["line"], "plain");
        assert_eq!(objs[1]["type"], "event");
        assert_eq!(objs[1]["event"], "wifi-joined");
        assert_eq!(objs[1]["level"], "info");
        assert_eq!(objs[1]["state_change"], true);
        p.finish().unwrap();
        let last: serde_json::Value =
            serde_json::from_str(out(&p).lines().last().unwrap()).unwrap();
        assert_eq!(last["line"], "tail");
        assert_eq!(last["partial"], true);
    }

    #[test]
    fn bursts_in_any_chunking_show_the_same() {
        let input: Vec<u8> = (0..200)
            .flat_map(|i| {
                if i % 3 == 0 {
                    format!("@picow wifi-joining ssid=\"n{i}\" attempt={i}\n").into_bytes()
                } else {
                    format!("line {i} \u{4f60}\u{597d}\r\n").into_bytes()
                }
            })
            .collect();
        let mut whole = printer(Mode::Pretty, false, false);
        whole.write_all(&input).unwrap();
        for size in [1, 2, 7, 64] {
            let mut p = printer(Mode::Pretty, false, false);
            for c in input.chunks(size) {
                p.write_all(c).unwrap();
            }
            assert_eq!(out(&p), out(&whole), "chunks of {size}");
        }
        // Without colours and timestamps, pretty output is the input.
        assert_eq!(whole.out, input);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_chips_elf_is_found_on_boot_once_it_is_built() {
        let ws = tempfile::tempdir().unwrap();
        let elf = default_elf(ws.path(), "esp32c3");
        std::fs::create_dir_all(elf.parent().unwrap()).unwrap();
        let mut p = printer(Mode::Pretty, false, false);
        p.set_elf_root(ws.path().to_path_buf());
        let boot = b"@picow boot version=\"1\" chip=\"esp32c3\"\n";
        p.write_all(boot).unwrap();
        assert!(p.symbols().is_none(), "no ELF built yet");
        std::fs::write(&elf, b"not an ELF").unwrap();
        p.write_all(boot).unwrap();
        assert!(p.symbols().is_none(), "a broken ELF is not used");
        // A build: this test binary stands in for the firmware ELF.
        std::fs::copy(std::env::current_exe().unwrap(), &elf).unwrap();
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&elf)
            .unwrap()
            .set_modified(later)
            .unwrap();
        p.write_all(b"@picow boot version=\"1\" chip=\"esp32c6\"\n")
            .unwrap();
        assert!(p.symbols().is_none(), "another chip, another ELF");
        p.write_all(boot).unwrap();
        assert_eq!(p.symbols().map(|s| s.path()), Some(elf.as_path()));
        // A name that is not a plain chip name never makes a path.
        let mut q = printer(Mode::Pretty, false, false);
        q.set_elf_root(ws.path().to_path_buf());
        q.write_all(b"@picow boot version=\"1\" chip=\"../esp32c3\"\n")
            .unwrap();
        assert!(q.symbols().is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// The whole pretty printer, with colours and timestamps, in any
        /// chunking and with the board going quiet between chunks: what it
        /// writes never holds an escape sequence other than a colour.
        #[test]
        fn fuzz_pretty_output_is_inert(
            input in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(0x1bu8), proptest::strategy::Just(b'['),
                proptest::strategy::Just(b']'), proptest::strategy::Just(b'm'),
                proptest::strategy::Just(b'\n'), proptest::strategy::Just(0x9b),
                proptest::strategy::Just(0xc2), proptest::strategy::Just(b'@'),
                proptest::prelude::any::<u8>(),
            ], 0..400),
            picow_prefix in proptest::prelude::any::<bool>(),
            cuts in proptest::collection::vec((0usize..400, proptest::prelude::any::<bool>()), 0..6),
        ) {
            let mut input = input;
            if picow_prefix {
                input.splice(0..0, b"@picow boot version=\"1\" ".iter().copied());
            }
            let mut p = printer(Mode::Pretty, true, true);
            let mut cuts: Vec<(usize, bool)> = cuts.into_iter().map(|(c, i)| (c.min(input.len()), i)).collect();
            cuts.sort_unstable();
            let mut at = 0;
            for (c, idle) in cuts.into_iter().chain([(input.len(), false)]) {
                p.write_all(&input[at..c]).unwrap();
                if idle {
                    p.idle().unwrap();
                }
                at = c;
            }
            p.finish().unwrap();
            if let Err(e) = crate::cmd::monitor::inert::tests::check_inert(&p.out) {
                return Err(proptest::test_runner::TestCaseError::fail(e));
            }
        }
    }

    #[test]
    fn escape_sequences_are_shown_and_colours_pass() {
        let mut p = printer(Mode::Pretty, false, false);
        p.write_all(b"\x1b]0;t\x07 \x1b[1;32mok\x1b[0m\n\x1b[2")
            .unwrap();
        assert_eq!(out(&p), "\\x1b]0;t\\x07 \x1b[1;32mok\x1b[0m\n");
        p.idle().unwrap();
        assert_eq!(out(&p), "\\x1b]0;t\\x07 \x1b[1;32mok\x1b[0m\n\\x1b[2");
        // A console line with an escape inside is shown inert too.
        let mut p = printer(Mode::Pretty, true, false);
        p.write_all(b"@picow wifi-lost \x1b]0;x\x07\n").unwrap();
        assert!(!out(&p).contains("\x1b]"), "{:?}", out(&p));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_installed_elf_comes_before_the_clones() {
        let installed = tempfile::tempdir().unwrap();
        let clone = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let boot = b"@picow boot version=\"1\" chip=\"esp32c3\"\n";
        let dirs = vec![installed.path().to_path_buf(), clone.path().to_path_buf()];
        let place = |d: &std::path::Path| {
            let p = d.join("esp32c3/picow-fw.elf");
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::copy(&exe, &p).unwrap();
            p
        };
        let in_clone = place(clone.path());
        let mut p = printer(Mode::Pretty, false, false);
        p.set_elf_dirs(dirs.clone());
        p.write_all(boot).unwrap();
        assert_eq!(p.symbols().map(|s| s.path()), Some(in_clone.as_path()));
        let in_data = place(installed.path());
        let mut p = printer(Mode::Pretty, false, false);
        p.set_elf_dirs(dirs);
        p.write_all(boot).unwrap();
        assert_eq!(p.symbols().map(|s| s.path()), Some(in_data.as_path()));
    }

    #[test]
    fn clock_format() {
        let t = UNIX_EPOCH + Duration::from_millis(86_400_000 + 45_296_789);
        assert_eq!(clock_in(&TimeZone::UTC, t), "12:34:56.789");
        let shanghai = TimeZone::fixed(jiff::tz::offset(8));
        assert_eq!(clock_in(&shanghai, t), "20:34:56.789");
    }
}
