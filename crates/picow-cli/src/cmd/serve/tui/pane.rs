//! The data pane: a bounded scroll-back of lines (received, sent, and what
//! serve says), drawn as text, hex or hex+text side by side, wrapped or cut
//! with horizontal scrolling, with search matches highlighted.
//!
//! Lines keep their raw bytes and arrival time, so the display mode, the
//! encoding and the clock can change at any time and apply to what is
//! already there. Memory is bounded: at most `max_lines` lines of at most
//! [`MAX_LINE`] bytes each.
//!
//! Scrolling is anchored to a line: while the view is scrolled up or paused
//! it stays where it is as new lines arrive (they are counted as "below").
//!
//! A line ends at `\n`, or when its client sends nothing more for the line
//! timeout ([`Pane::gap`], `--line-timeout`, 100 ms by default, SSCOM's
//! packet timeout): a board that sends `temp=20.5` every 0.7 s without a
//! newline gets a line, with its own time, per send, while a line that
//! arrives in pieces (TCP segments a few ms apart) is shown whole.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use picow_serve::text::{display_line, Charset, TextDecoder};
use picow_values::time::clock_in;

/// A line holds at most this many bytes; the rest continues on the next.
pub const MAX_LINE: usize = 4096;

/// The default number of lines kept (`--scrollback`).
pub const DEFAULT_LINES: usize = 10_000;

/// The default line timeout (`--line-timeout`): a line not continued within
/// this ends.
pub const DEFAULT_GAP: Duration = Duration::from_millis(100);

/// How data is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Decoded text.
    Text,
    /// Hex bytes.
    Hex,
    /// Hex bytes and the text beside them (a hex dump).
    Both,
}

impl Display {
    /// The next mode (F2).
    pub fn next(self) -> Display {
        match self {
            Display::Text => Display::Hex,
            Display::Hex => Display::Both,
            Display::Both => Display::Text,
        }
    }

    /// Its name in the status bar and in `/display`.
    pub fn name(self) -> &'static str {
        match self {
            Display::Text => "text",
            Display::Hex => "hex",
            Display::Both => "hex+text",
        }
    }
}

/// How times are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The local time zone (the default everywhere in picow).
    Local,
    /// UTC (`--utc`).
    Utc,
    /// No times.
    Off,
}

impl Clock {
    /// The next setting (F3).
    pub fn next(self) -> Clock {
        match self {
            Clock::Local => Clock::Utc,
            Clock::Utc => Clock::Off,
            Clock::Off => Clock::Local,
        }
    }

    /// Its name in the status bar and in `/time`.
    pub fn name(self) -> &'static str {
        match self {
            Clock::Local => "local",
            Clock::Utc => "UTC",
            Clock::Off => "off",
        }
    }
}

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Received from a client.
    In(u64),
    /// Sent to a client.
    Out(u64),
    /// Something serve reports (connections, notices).
    Event,
    /// A message for the user.
    Notice,
    /// Something failed.
    Error,
}

impl Source {
    fn client(self) -> Option<u64> {
        match self {
            Source::In(id) | Source::Out(id) => Some(id),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Record {
    seq: u64,
    at: SystemTime,
    src: Source,
    bytes: Vec<u8>,
    /// Not ended by a newline yet: more bytes from the same source join it
    /// (within the line timeout of `last`).
    open: bool,
    /// When its last bytes came.
    last: SystemTime,
}

/// How the pane draws, from the view's toggles.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    /// Text, hex or both.
    pub display: Display,
    /// The clock.
    pub clock: Clock,
    /// The local time zone.
    pub tz: &'a TimeZone,
    /// How bytes become text.
    pub charset: Charset,
    /// Wrap long lines (else cut them, scrolled by `hscroll`).
    pub wrap: bool,
    /// Columns scrolled to the right when not wrapping.
    pub hscroll: usize,
    /// Highlighted text (case-insensitive).
    pub find: Option<&'a str>,
    /// Only this client's data (and serve's own lines).
    pub only: Option<u64>,
    /// The pane's width in columns.
    pub width: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scroll {
    Live,
    /// The top row of the view: row `row` of line `seq`.
    At {
        seq: u64,
        row: usize,
    },
}

/// The scroll-back.
#[derive(Debug, Clone)]
pub struct Pane {
    records: VecDeque<Record>,
    next_seq: u64,
    /// The most lines kept.
    pub max_lines: usize,
    scroll: Scroll,
    /// Paused: the view does not move, data goes on arriving.
    pub paused: bool,
    /// Lines that arrived while the view was not following.
    pub below: u64,
    /// The line timeout: bytes that come later than this after a line's
    /// last ones start a line of their own.
    pub gap: Duration,
}

impl Default for Pane {
    fn default() -> Self {
        Pane::new(DEFAULT_LINES)
    }
}

/// The colour of a client's id, so that interleaved clients are told apart.
pub fn client_color(id: u64) -> Color {
    const PALETTE: [Color; 6] = [
        Color::Cyan,
        Color::Green,
        Color::Yellow,
        Color::Magenta,
        Color::LightBlue,
        Color::LightRed,
    ];
    PALETTE[(id as usize).wrapping_sub(1) % PALETTE.len()]
}

const DIM: Style = Style::new().fg(Color::DarkGray);
const ESCAPE: Style = Style::new().fg(Color::Magenta);
const MATCH: Style = Style::new().fg(Color::Black).bg(Color::Yellow);

/// The time prefix of a line, `HH:MM:SS.mmm `, or nothing.
pub fn time_prefix(clock: Clock, tz: &TimeZone, at: SystemTime) -> String {
    match clock {
        Clock::Off => String::new(),
        Clock::Local => format!("{} ", clock_in(tz, at)),
        Clock::Utc => format!("{} ", clock_in(&TimeZone::UTC, at)),
    }
}

/// The text of a line's bytes as shown: decoded, the line ending dropped,
/// undecodable bytes and control characters as `\xNN`, `\` as `\\`.
pub fn line_text(bytes: &[u8], charset: Charset) -> String {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let decoded = decode_whole(body, charset);
    let mut out = String::with_capacity(decoded.len());
    display_line(&decoded, &mut out);
    out
}

/// Decodes `bytes` as a whole: an unfinished character at the end is shown
/// as `\xNN` too (a line is not continued by later bytes).
fn decode_whole(bytes: &[u8], charset: Charset) -> String {
    use std::fmt::Write as _;
    let mut dec = TextDecoder::new(charset);
    let mut s = String::with_capacity(bytes.len());
    dec.decode(bytes, &mut s);
    let held: &[u8] = match &mut dec {
        TextDecoder::Utf8 { pending } => pending,
        TextDecoder::Other(d) => {
            let mut buf = String::with_capacity(16);
            let (r, _) = d.decode_to_string_without_replacement(&[], &mut buf, true);
            s.push_str(&buf);
            match r {
                encoding_rs::DecoderResult::Malformed(bad, _) => {
                    &bytes[bytes.len().saturating_sub(bad as usize)..]
                }
                _ => &[],
            }
        }
    };
    for b in held {
        let _ = write!(s, "\\x{b:02x}");
    }
    s
}

/// Styled cells of a line's text: escapes (`\xNN`) stand out from the text.
fn text_cells(text: &str, base: Style, out: &mut Vec<(char, Style)>) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'x') {
            let n = 4.min(chars.len() - i);
            for &e in &chars[i..i + n] {
                out.push((e, ESCAPE));
            }
            i += n;
            continue;
        }
        if c == '\\' && chars.get(i + 1) == Some(&'\\') {
            out.push(('\\', base));
            out.push(('\\', base));
            i += 2;
            continue;
        }
        if c == '\t' {
            let col = out.len();
            for _ in 0..(8 - col % 8) {
                out.push((' ', base));
            }
        } else {
            out.push((c, base));
        }
        i += 1;
    }
}

fn hex_cells(bytes: &[u8], base: Style, out: &mut Vec<(char, Style)>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push((' ', base));
        }
        out.push((DIGITS[(b >> 4) as usize] as char, base));
        out.push((DIGITS[(b & 15) as usize] as char, base));
    }
}

/// Highlights every case-insensitive occurrence of `find` in `cells`.
fn highlight(cells: &mut [(char, Style)], find: &str) {
    let needle: Vec<char> = find.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() || needle.len() > cells.len() {
        return;
    }
    let hay: Vec<char> = cells
        .iter()
        .map(|c| c.0.to_lowercase().next().unwrap_or(c.0))
        .collect();
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if hay[i..i + needle.len()] == needle[..] {
            for c in &mut cells[i..i + needle.len()] {
                c.1 = MATCH;
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
}

fn spans(cells: &[(char, Style)]) -> Vec<Span<'static>> {
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut cur = String::new();
    let mut style = None;
    for &(c, s) in cells {
        if style != Some(s) && !cur.is_empty() {
            out.push(Span::styled(
                std::mem::take(&mut cur),
                style.unwrap_or_default(),
            ));
        }
        style = Some(s);
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(Span::styled(cur, style.unwrap_or_default()));
    }
    out
}

fn width_of(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Lays `content` out after `prefix` in `width` columns: wrapped with the
/// prefix's width as indent, or cut after `hscroll` columns with `‹` / `›`
/// where text is hidden.
fn lay_out(
    prefix: &[(char, Style)],
    content: &[(char, Style)],
    width: usize,
    wrap: bool,
    hscroll: usize,
    rows: &mut Vec<Line<'static>>,
) {
    lay_out_as(prefix, content, width, wrap, hscroll, false, rows);
}

/// [`lay_out`], breaking wrapped rows at spaces when `words` (serve's own
/// lines are prose; data is wrapped exactly where the row ends).
fn lay_out_as(
    prefix: &[(char, Style)],
    content: &[(char, Style)],
    width: usize,
    wrap: bool,
    hscroll: usize,
    words: bool,
    rows: &mut Vec<Line<'static>>,
) {
    let pw: usize = prefix.iter().map(|c| width_of(c.0)).sum();
    // Too narrow for the prefix: no indent.
    let indent = if pw + 8 > width { 0 } else { pw };
    let avail = width.saturating_sub(indent).max(1);
    let first_avail = width.saturating_sub(pw).max(1);
    if wrap {
        let mut row: Vec<(char, Style)> = prefix.to_vec();
        let mut col = 0;
        let mut limit = first_avail;
        if pw > width {
            row.clear();
            rows.push(Line::from(spans(prefix)));
            limit = avail;
        }
        let mut start = row.len();
        for &cell in content {
            let w = width_of(cell.0);
            if col + w > limit && col > 0 {
                // Words: the part after the last space moves down; Chinese
                // (wide characters, no spaces between words) breaks where
                // the row ends, as Chinese text does.
                let narrow = |c: &(char, Style)| width_of(c.0) < 2;
                let carry = match row.iter().rposition(|c| c.0 == ' ') {
                    Some(p)
                        if words
                            && p + 1 > start
                            && cell.0 != ' '
                            && narrow(&cell)
                            && row[p + 1..].iter().all(narrow) =>
                    {
                        row.split_off(p + 1)
                    }
                    _ => Vec::new(),
                };
                rows.push(Line::from(spans(&row)));
                row = vec![(' ', Style::default()); indent];
                start = row.len();
                col = carry.iter().map(|c| width_of(c.0)).sum();
                row.extend(carry);
                limit = avail;
                if cell.0 == ' ' && words {
                    continue;
                }
            }
            row.push(cell);
            col += w;
        }
        rows.push(Line::from(spans(&row)));
        return;
    }
    let mut row: Vec<(char, Style)> = prefix.to_vec();
    let mut skipped = 0;
    let mut col = 0;
    let mut cut = false;
    for &cell in content {
        let w = width_of(cell.0);
        if skipped < hscroll {
            skipped += w;
            continue;
        }
        if col + w > first_avail {
            cut = true;
            break;
        }
        row.push(cell);
        col += w;
    }
    if hscroll > 0 && !content.is_empty() {
        if let Some(first) = row.get_mut(prefix.len()) {
            *first = ('‹', DIM);
        }
    }
    if cut {
        while col + 1 > first_avail && row.len() > prefix.len() {
            if let Some((c, _)) = row.pop() {
                col -= width_of(c);
            }
        }
        row.push(('›', DIM));
    }
    rows.push(Line::from(spans(&row)));
}

/// The bytes per row of a hex+text dump that fits in `avail` columns.
fn dump_width(avail: usize) -> usize {
    // N bytes: 3N - 1 for the hex, 2 between, N for the text.
    [32, 16, 8, 4]
        .into_iter()
        .find(|&n| 4 * n < avail)
        .unwrap_or(4)
}

impl Pane {
    /// An empty pane keeping at most `max_lines` lines.
    pub fn new(max_lines: usize) -> Pane {
        Pane {
            records: VecDeque::new(),
            next_seq: 0,
            max_lines: max_lines.max(1),
            scroll: Scroll::Live,
            paused: false,
            below: 0,
            gap: DEFAULT_GAP,
        }
    }

    /// Lines kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no line is kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Whether the view follows new lines.
    pub fn is_live(&self) -> bool {
        self.scroll == Scroll::Live
    }

    fn push_record(&mut self, at: SystemTime, src: Source, bytes: Vec<u8>, open: bool) {
        self.records.push_back(Record {
            seq: self.next_seq,
            at,
            src,
            bytes,
            open,
            last: at,
        });
        self.next_seq += 1;
        if !self.is_live() {
            self.below += 1;
        }
        while self.records.len() > self.max_lines {
            self.records.pop_front();
        }
        if let (Scroll::At { seq, .. }, Some(front)) = (self.scroll, self.records.front()) {
            if seq < front.seq {
                self.scroll = Scroll::At {
                    seq: front.seq,
                    row: 0,
                };
            }
        }
    }

    /// Data received from or sent to a client: split into lines at `\n`;
    /// a line not ended yet is continued by the next bytes from the same
    /// source when nothing else came between and they came within the line
    /// timeout ([`Pane::gap`]); else they start a line with their own time.
    pub fn data(&mut self, at: SystemTime, src: Source, mut bytes: &[u8]) {
        let gap = self.gap;
        // A clock that went back (the system time was set) continues.
        let soon = |last: SystemTime| at.duration_since(last).map_or(true, |d| d <= gap);
        while !bytes.is_empty() {
            let end = bytes
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| i + 1);
            let (mut part, rest) = bytes.split_at(end);
            bytes = rest;
            if let Some(last) = self.records.back_mut() {
                if last.open && last.src == src && last.bytes.len() < MAX_LINE && soon(last.last) {
                    let room = MAX_LINE - last.bytes.len();
                    let take = part.len().min(room);
                    last.bytes.extend_from_slice(&part[..take]);
                    last.last = at;
                    last.open = !last.bytes.ends_with(b"\n");
                    part = &part[take..];
                    if part.is_empty() {
                        continue;
                    }
                }
            }
            for chunk in part.chunks(MAX_LINE) {
                self.push_record(at, src, chunk.to_vec(), !chunk.ends_with(b"\n"));
            }
        }
    }

    /// A line of serve's own (a connection, a notice, an error).
    pub fn info(&mut self, at: SystemTime, src: Source, text: &str) {
        for line in text.lines() {
            self.push_record(at, src, line.as_bytes().to_vec(), false);
        }
    }

    /// Empties the pane (Ctrl-L).
    pub fn clear(&mut self) {
        self.records.clear();
        self.scroll = Scroll::Live;
        self.below = 0;
    }

    fn shown(r: &Record, look: &Look<'_>) -> bool {
        match (look.only, r.src.client()) {
            (Some(only), Some(id)) => only == id,
            _ => true,
        }
    }

    /// The text a line shows (what search looks at).
    fn content_text(r: &Record, look: &Look<'_>) -> String {
        match r.src {
            Source::In(_) | Source::Out(_) => match look.display {
                Display::Text => line_text(&r.bytes, look.charset),
                Display::Hex | Display::Both => {
                    let mut cells = Vec::new();
                    hex_cells(&r.bytes, Style::default(), &mut cells);
                    let hex: String = cells.iter().map(|c| c.0).collect();
                    if look.display == Display::Both {
                        format!("{hex} {}", line_text(&r.bytes, look.charset))
                    } else {
                        hex
                    }
                }
            },
            _ => String::from_utf8_lossy(&r.bytes).into_owned(),
        }
    }

    /// The screen rows of one line.
    fn rows(r: &Record, look: &Look<'_>) -> Vec<Line<'static>> {
        let mut prefix: Vec<(char, Style)> = time_prefix(look.clock, look.tz, r.at)
            .chars()
            .map(|c| (c, DIM))
            .collect();
        let (base, arrow) = match r.src {
            Source::In(id) => (Style::default(), Some((id, '<'))),
            Source::Out(id) => (Style::default().fg(Color::Cyan), Some((id, '>'))),
            Source::Event => (DIM, None),
            Source::Notice => (Style::default().fg(Color::Yellow), None),
            Source::Error => (Style::default().fg(Color::Red), None),
        };
        if let Some((id, arrow)) = arrow {
            let tag = Style::default().fg(client_color(id));
            prefix.extend(format!("#{id} ").chars().map(|c| (c, tag)));
            prefix.push((arrow, tag.add_modifier(Modifier::BOLD)));
            prefix.push((' ', Style::default()));
        }
        let mut rows = Vec::new();
        let mut content = Vec::new();
        if arrow.is_none() {
            text_cells(&String::from_utf8_lossy(&r.bytes), base, &mut content);
            if let Some(f) = look.find {
                highlight(&mut content, f);
            }
            lay_out_as(
                &prefix,
                &content,
                look.width,
                look.wrap,
                look.hscroll,
                true,
                &mut rows,
            );
            return rows;
        } else if look.display == Display::Both {
            // A hex dump: rows of N bytes, hex then text.
            let pw: usize = prefix.iter().map(|c| width_of(c.0)).sum();
            let n = dump_width(look.width.saturating_sub(pw));
            let blank: Vec<(char, Style)> =
                prefix.iter().map(|_| (' ', Style::default())).collect();
            for (i, chunk) in r.bytes.chunks(n).enumerate() {
                let mut cells = Vec::new();
                hex_cells(chunk, base, &mut cells);
                while cells.len() < 3 * n - 1 {
                    cells.push((' ', base));
                }
                cells.push((' ', base));
                cells.push((' ', base));
                for &b in chunk {
                    let c = if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    };
                    cells.push((c, if c == '.' && b != b'.' { DIM } else { base }));
                }
                if let Some(f) = look.find {
                    highlight(&mut cells, f);
                }
                let p = if i == 0 { &prefix } else { &blank };
                lay_out(p, &cells, look.width, look.wrap, look.hscroll, &mut rows);
            }
            if r.bytes.is_empty() {
                lay_out(&prefix, &[], look.width, look.wrap, 0, &mut rows);
            }
            return rows;
        } else if look.display == Display::Hex {
            hex_cells(&r.bytes, base, &mut content);
        } else {
            text_cells(&line_text(&r.bytes, look.charset), base, &mut content);
        }
        if let Some(f) = look.find {
            highlight(&mut content, f);
        }
        lay_out(
            &prefix,
            &content,
            look.width,
            look.wrap,
            look.hscroll,
            &mut rows,
        );
        rows
    }

    fn index_of(&self, seq: u64) -> usize {
        let front = self.records.front().map_or(0, |r| r.seq);
        (seq.saturating_sub(front) as usize).min(self.records.len())
    }

    /// The top of the view when it follows: `height` rows up from the end.
    fn live_top(&self, look: &Look<'_>, height: usize) -> Scroll {
        let mut need = height;
        for r in self.records.iter().rev() {
            if !Self::shown(r, look) {
                continue;
            }
            let h = Self::rows(r, look).len();
            if h >= need {
                return Scroll::At {
                    seq: r.seq,
                    row: h - need,
                };
            }
            need -= h;
        }
        match self.records.front() {
            Some(r) => Scroll::At { seq: r.seq, row: 0 },
            None => Scroll::Live,
        }
    }

    /// The rows to draw in `height` rows.
    pub fn view(&self, look: &Look<'_>, height: usize) -> Vec<Line<'static>> {
        match self.scroll {
            Scroll::Live => {
                let mut rows: Vec<Line<'static>> = Vec::new();
                for r in self.records.iter().rev() {
                    if rows.len() >= height {
                        break;
                    }
                    if !Self::shown(r, look) {
                        continue;
                    }
                    let mut lines = Self::rows(r, look);
                    lines.reverse();
                    rows.extend(lines);
                }
                rows.truncate(height);
                rows.reverse();
                rows
            }
            Scroll::At { seq, row } => {
                let mut rows = Vec::new();
                let mut skip = row;
                for r in self.records.range(self.index_of(seq)..) {
                    if rows.len() >= height {
                        break;
                    }
                    if !Self::shown(r, look) {
                        continue;
                    }
                    let lines = Self::rows(r, look);
                    rows.extend(lines.into_iter().skip(skip));
                    skip = 0;
                }
                rows.truncate(height);
                rows
            }
        }
    }

    /// Scrolls up by `n` rows (PageUp, Shift-Up).
    pub fn scroll_up(&mut self, n: usize, look: &Look<'_>, height: usize) {
        let Scroll::At { seq, row } = (match self.scroll {
            Scroll::Live => self.live_top(look, height),
            at => at,
        }) else {
            return;
        };
        let mut need = n;
        if row >= need {
            self.scroll = Scroll::At {
                seq,
                row: row - need,
            };
            return;
        }
        need -= row;
        let mut top = Scroll::At { seq, row: 0 };
        for r in self.records.range(..self.index_of(seq)).rev() {
            if !Self::shown(r, look) {
                continue;
            }
            let h = Self::rows(r, look).len();
            if h >= need {
                top = Scroll::At {
                    seq: r.seq,
                    row: h - need,
                };
                need = 0;
                break;
            }
            need -= h;
            top = Scroll::At { seq: r.seq, row: 0 };
        }
        let _ = need;
        self.scroll = top;
    }

    /// Scrolls down by `n` rows (PageDown, Shift-Down); reaching the end
    /// follows new lines again, unless paused.
    pub fn scroll_down(&mut self, n: usize, look: &Look<'_>, height: usize) {
        let Scroll::At { seq, row } = self.scroll else {
            return;
        };
        // The heights of the lines from the top of the view down, as far
        // as the move and one page after it need.
        let mut heights = Vec::new();
        let mut total = 0;
        for r in self.records.range(self.index_of(seq)..) {
            if !Self::shown(r, look) {
                continue;
            }
            let h = Self::rows(r, look).len();
            heights.push((r.seq, h));
            total += h;
            if total >= row + n + height {
                break;
            }
        }
        if total < row + n + height {
            // Less than a page below the new top: the end is in view.
            if self.paused {
                self.scroll = self.live_top(look, height);
            } else {
                self.to_live();
            }
            return;
        }
        let mut off = row + n;
        for (seq, h) in heights {
            if off < h {
                self.scroll = Scroll::At { seq, row: off };
                return;
            }
            off -= h;
        }
    }

    /// To the oldest line (Ctrl-Home).
    pub fn to_top(&mut self) {
        if let Some(r) = self.records.front() {
            self.scroll = Scroll::At { seq: r.seq, row: 0 };
        }
    }

    /// Follows new lines again (Ctrl-End); ends a pause.
    pub fn to_live(&mut self) {
        self.scroll = Scroll::Live;
        self.paused = false;
        self.below = 0;
    }

    /// Pauses (the view stays, data goes on being received, counted and
    /// kept) or resumes (F7).
    pub fn toggle_pause(&mut self, look: &Look<'_>, height: usize) {
        if self.paused {
            self.to_live();
        } else {
            if self.is_live() {
                self.scroll = self.live_top(look, height);
            }
            self.paused = true;
        }
    }

    /// Moves the view to the previous (`older`) or next line containing
    /// `find` (case-insensitive): from the top of the view when scrolled,
    /// the newest match when following. Returns whether one was found.
    pub fn find(&mut self, find: &str, older: bool, look: &Look<'_>) -> bool {
        let needle = find.to_lowercase();
        if needle.is_empty() {
            return false;
        }
        // Following: the newest match, wherever it is; scrolled: the next
        // one before (or after) the top of the view.
        let idx = match self.scroll {
            Scroll::Live => self.records.len(),
            Scroll::At { seq, .. } => self.index_of(seq),
        };
        let hit = |r: &Record| {
            Self::shown(r, look) && Self::content_text(r, look).to_lowercase().contains(&needle)
        };
        let found = if older {
            self.records.range(..idx).rev().find(|r| hit(r))
        } else {
            self.records
                .range((idx + 1).min(self.records.len())..)
                .find(|r| hit(r))
        };
        match found {
            Some(r) => {
                self.scroll = Scroll::At { seq: r.seq, row: 0 };
                true
            }
            None => false,
        }
    }

    /// How many lines contain `find` (for the status of a search).
    pub fn count_matches(&self, find: &str, look: &Look<'_>) -> usize {
        let needle = find.to_lowercase();
        if needle.is_empty() {
            return 0;
        }
        self.records
            .iter()
            .filter(|r| {
                Self::shown(r, look) && Self::content_text(r, look).to_lowercase().contains(&needle)
            })
            .count()
    }

    /// Bytes held by the lines (for the memory bound).
    pub fn bytes(&self) -> usize {
        self.records.iter().map(|r| r.bytes.capacity()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms)
    }

    fn look(width: usize) -> Look<'static> {
        static UTC: std::sync::LazyLock<TimeZone> = std::sync::LazyLock::new(|| TimeZone::UTC);
        Look {
            display: Display::Text,
            clock: Clock::Off,
            tz: &UTC,
            charset: Charset::Utf8,
            wrap: true,
            hscroll: 0,
            find: None,
            only: None,
            width,
        }
    }

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn lines_join_across_reads_and_split_at_newlines() {
        let mut p = Pane::new(100);
        p.data(at(0), Source::In(1), b"Hello Wal");
        p.data(at(1), Source::In(1), b"nutPi!\r\nI got:");
        p.data(at(2), Source::In(2), b"other\n");
        p.data(at(3), Source::In(1), b"ping\n");
        let l = look(40);
        assert_eq!(
            text(&p.view(&l, 10)),
            [
                "#1 < Hello WalnutPi!",
                "#1 < I got:",
                "#2 < other",
                "#1 < ping"
            ]
        );
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn a_line_not_continued_within_the_line_timeout_ends() {
        // The tutorial's board: `temp=N.5` every 0.7 s, never a newline.
        let mut p = Pane::new(100);
        for i in 0..3u64 {
            p.data(
                at(700 * i),
                Source::In(1),
                format!("temp={}.5", 20 + i).as_bytes(),
            );
        }
        // A line in three TCP segments a few ms apart is one line, with
        // the time of its first piece.
        p.data(at(5000), Source::In(1), b"Hello Wal");
        p.data(at(5003), Source::In(1), b"nutPi");
        p.data(at(5100), Source::In(1), b"!\r\n");
        let mut l = look(40);
        l.clock = Clock::Utc;
        assert_eq!(
            text(&p.view(&l, 10)),
            [
                "00:00:00.000 #1 < temp=20.5",
                "00:00:00.700 #1 < temp=21.5",
                "00:00:01.400 #1 < temp=22.5",
                "00:00:05.000 #1 < Hello WalnutPi!",
            ]
        );
        // 101 ms is too late; the timeout is configurable.
        p.data(at(6000), Source::In(1), b"a");
        p.data(at(6101), Source::In(1), b"b");
        p.gap = Duration::from_millis(500);
        p.data(at(7000), Source::In(1), b"c");
        p.data(at(7500), Source::In(1), b"d");
        l.clock = Clock::Off;
        assert_eq!(text(&p.view(&l, 3)), ["#1 < a", "#1 < b", "#1 < cd"]);
    }

    #[test]
    fn long_lines_wrap_whole_or_scroll_sideways() {
        let mut p = Pane::new(100);
        let long: String = (0..300)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        p.data(at(0), Source::In(1), format!("{long}\n").as_bytes());
        let mut l = look(50);
        let rows = text(&p.view(&l, 20));
        // 300 characters in rows of 45 after the 5-column prefix.
        assert_eq!(rows.len(), 7);
        let joined: String = rows.iter().map(|r| &r[5..]).collect::<String>();
        assert_eq!(joined.trim_end(), long);
        l.wrap = false;
        let rows = text(&p.view(&l, 20));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].chars().count(), 50);
        assert!(rows[0].ends_with('›'));
        l.hscroll = 290;
        let rows = text(&p.view(&l, 20));
        assert_eq!(rows[0], format!("#1 < ‹{}", &long[291..]));
    }

    #[test]
    fn serve_own_lines_wrap_at_words() {
        let mut p = Pane::new(10);
        p.info(at(0), Source::Notice, "a board on Wi-Fi cannot reach it");
        let rows = text(&p.view(&look(16), 10));
        assert_eq!(rows, ["a board on Wi-Fi", "cannot reach it"]);
        // A word longer than the row is still cut.
        p.clear();
        p.info(at(0), Source::Notice, "abcdefghijklmnopqrst uv");
        let rows = text(&p.view(&look(10), 10));
        assert_eq!(rows, ["abcdefghij", "klmnopqrst", "uv"]);
        // Chinese breaks where the row ends (by display width, two
        // columns a character): no half-empty row before a Chinese run.
        p.clear();
        p.info(at(0), Source::Notice, "连 Wi-Fi 的开发板访问不到它");
        let rows = text(&p.view(&look(12), 10));
        assert_eq!(rows, ["连 Wi-Fi 的", "开发板访问不", "到它"]);
    }

    #[test]
    fn hex_and_dump_and_encodings_apply_to_old_lines() {
        let mut p = Pane::new(100);
        let (gbk, _, _) = encoding_rs::GBK.encode("中文");
        p.data(at(0), Source::In(1), &gbk);
        let mut l = look(80);
        assert_eq!(text(&p.view(&l, 5)), ["#1 < \\xd6\\xd0\\xce\\xc4"]);
        l.charset = Charset::from_label("gbk").unwrap();
        assert_eq!(text(&p.view(&l, 5)), ["#1 < 中文"]);
        l.display = Display::Hex;
        assert_eq!(text(&p.view(&l, 5)), ["#1 < d6 d0 ce c4"]);
        l.display = Display::Both;
        p.data(at(0), Source::Out(1), b"Hello WalnutPi!\r\n");
        let rows = text(&p.view(&l, 5));
        assert_eq!(
            rows[1],
            "#1 > 48 65 6c 6c 6f 20 57 61 6c 6e 75 74 50 69 21 0d  Hello WalnutPi!."
        );
        assert_eq!(
            rows[2],
            "     0a                                               ."
        );
    }

    #[test]
    fn bounded_scrollback_and_long_lines_split() {
        let mut p = Pane::new(50);
        for i in 0..1000 {
            p.data(at(i), Source::In(1), format!("line {i}\n").as_bytes());
        }
        assert_eq!(p.len(), 50);
        p.data(at(0), Source::In(2), &vec![b'x'; 3 * MAX_LINE]);
        assert!(p.bytes() <= 50 * MAX_LINE);
        assert!(p.records.iter().all(|r| r.bytes.len() <= MAX_LINE));
    }

    #[test]
    fn scrolled_or_paused_views_stay_put_and_count_new_lines() {
        let mut p = Pane::new(1000);
        for i in 0..100 {
            p.data(at(i), Source::In(1), format!("{i}\n").as_bytes());
        }
        let l = look(20);
        assert_eq!(text(&p.view(&l, 3)), ["#1 < 97", "#1 < 98", "#1 < 99"]);
        p.scroll_up(10, &l, 3);
        assert_eq!(text(&p.view(&l, 3)), ["#1 < 87", "#1 < 88", "#1 < 89"]);
        p.data(at(0), Source::In(1), b"100\n");
        assert_eq!(text(&p.view(&l, 3))[0], "#1 < 87");
        assert_eq!(p.below, 1);
        p.scroll_down(5, &l, 3);
        assert_eq!(text(&p.view(&l, 3))[0], "#1 < 92");
        p.scroll_down(50, &l, 3);
        assert!(p.is_live());
        assert_eq!(text(&p.view(&l, 3))[2], "#1 < 100");
        // Paused: the view does not move while data arrives.
        p.toggle_pause(&l, 3);
        for i in 101..110 {
            p.data(at(i), Source::In(1), format!("{i}\n").as_bytes());
        }
        assert_eq!(text(&p.view(&l, 3)), ["#1 < 98", "#1 < 99", "#1 < 100"]);
        assert_eq!(p.below, 9);
        p.scroll_down(100, &l, 3);
        assert!(!p.is_live(), "still paused at the end");
        p.toggle_pause(&l, 3);
        assert_eq!(text(&p.view(&l, 3))[2], "#1 < 109");
        p.to_top();
        assert_eq!(text(&p.view(&l, 1)), ["#1 < 0"]);
        p.clear();
        assert!(p.view(&l, 3).is_empty());
    }

    #[test]
    fn search_finds_and_highlights_and_filter_hides_others() {
        let mut p = Pane::new(1000);
        for i in 0..50 {
            let id = 1 + i % 2;
            p.data(at(i), Source::In(id), format!("value {i}\n").as_bytes());
        }
        p.info(at(0), Source::Event, "#3 connected");
        let mut l = look(30);
        assert_eq!(p.count_matches("VALUE 1", &l), 11);
        assert!(p.find("value 13", true, &l));
        let v = p.view(&l, 4);
        assert_eq!(text(&v)[0], "#2 < value 13");
        l.find = Some("Value 1");
        let v = p.view(&l, 4);
        let hl: Vec<&str> = v[0]
            .spans
            .iter()
            .filter(|s| s.style == MATCH)
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(hl, ["value 1"]);
        assert!(!p.find("nowhere", true, &l));
        l.find = None;
        l.only = Some(1);
        p.to_live();
        assert_eq!(
            text(&p.view(&l, 3)),
            ["#1 < value 46", "#1 < value 48", "#3 connected"]
        );
    }
}
