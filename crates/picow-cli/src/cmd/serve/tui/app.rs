//! The view's own state and what keys and commands do: the input line, the
//! toggles, the overlays, the macros. No terminal here: keys come in as
//! crossterm events, what the engine should do goes out as [`Control`]s.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use jiff::tz::TimeZone;
use picow_i18n::tr;

use super::editor::Editor;
use super::pane::{Clock, Display, Look};
use super::state::{AutoView, Saver, ViewState};
use super::store;
use crate::cmd::serve::args::LineEnding;
use crate::cmd::serve::interactive::Session;
use picow_serve::clients::{Blocked, Selection};
use picow_serve::encode::{encode, encode_escaped};
use picow_serve::text::{self, Charset, SendError};
use picow_serve::{Control, Target};

/// The encodings F4 steps through (`/encoding` takes any WHATWG label).
pub const ENCODINGS: &[&str] = &[
    "utf-8",
    "gbk",
    "gb18030",
    "big5",
    "shift_jis",
    "euc-kr",
    "windows-1252",
];

/// How typed text becomes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// As typed, in the encoding.
    Text,
    /// With `\r \n \t \0 \\ \xNN` escapes.
    Escapes,
    /// Hex bytes (`48 65 6c`), sent exactly (no line ending).
    Hex,
}

impl Input {
    /// Its name in the status bar and in `/input`.
    pub fn name(self) -> &'static str {
        match self {
            Input::Text => "text",
            Input::Escapes => "escapes",
            Input::Hex => "hex",
        }
    }

    fn next(self) -> Input {
        match self {
            Input::Text => Input::Escapes,
            Input::Escapes => Input::Hex,
            Input::Hex => Input::Text,
        }
    }
}

/// What covers the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// Nothing.
    None,
    /// The help, scrolled down this many lines.
    Help(usize),
    /// "Quit and disconnect N boards?"
    Quit,
}

/// The options the view starts with (from the flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--hex`.
    pub hex: bool,
    /// `--utc` (the global flag).
    pub utc: bool,
    /// `--encoding`.
    pub charset: Charset,
    /// `--line-ending`.
    pub ending: LineEnding,
    /// The history file (None: not kept).
    pub history: Option<PathBuf>,
    /// The macro file (None: not kept).
    pub config: Option<PathBuf>,
    /// The local time zone.
    pub tz: TimeZone,
}

/// The view.
#[derive(Debug)]
pub struct App {
    /// The input line.
    pub editor: Editor,
    /// The search text while searching (Ctrl-F).
    pub finding: Option<Editor>,
    /// The highlighted text.
    pub find: Option<String>,
    /// Target, line ending and send encoding.
    pub session: Session,
    /// Text, hex or both.
    pub display: Display,
    /// The clock.
    pub clock: Clock,
    /// The local time zone.
    pub tz: TimeZone,
    /// Wrap long lines.
    pub wrap: bool,
    /// Columns scrolled right (no wrap).
    pub hscroll: usize,
    /// Keep the text after sending.
    pub keep: bool,
    /// How typed text becomes bytes.
    pub input: Input,
    /// Show only the selected client's data.
    pub only: bool,
    /// What covers the screen.
    pub overlay: Overlay,
    /// A message for the user under the input line (error or not).
    pub message: Option<(String, bool)>,
    /// The message says why typed text could not go to the selection:
    /// it goes away once the text can go (the board is back).
    blocked_message: bool,
    /// The command's error is such a message.
    blocked_next: bool,
    /// The macros.
    pub config: store::Config,
    config_path: Option<PathBuf>,
    history_path: Option<PathBuf>,
    /// The data pane's size at the last draw (columns, rows).
    pub pane_size: (usize, usize),
}

fn on_off(rest: &str, current: bool, what: &str) -> Result<bool, String> {
    match rest {
        "" => Ok(!current),
        "on" | "yes" | "1" => Ok(true),
        "off" | "no" | "0" => Ok(false),
        other => Err(tr!("view-takes-on-off", command = what, value = other)),
    }
}

impl App {
    /// The view with the flags' settings; loads the history and macros.
    pub fn new(opts: Options) -> App {
        let history = opts
            .history
            .as_deref()
            .map(store::load_history)
            .unwrap_or_default();
        // A macro file that does not parse is never overwritten.
        let (config, config_path, message) = match opts.config {
            Some(p) => match store::Config::load(&p) {
                Ok(c) => (c, Some(p), None),
                Err(e) => (
                    store::Config::default(),
                    None,
                    Some((tr!("view-macros-off", reason = e), true)),
                ),
            },
            None => (store::Config::default(), None, None),
        };
        App {
            editor: Editor::with_history(history),
            finding: None,
            find: None,
            session: Session::with_charset(opts.ending, opts.charset),
            display: if opts.hex {
                Display::Hex
            } else {
                Display::Text
            },
            clock: if opts.utc { Clock::Utc } else { Clock::Local },
            tz: opts.tz,
            wrap: true,
            hscroll: 0,
            keep: false,
            input: Input::Text,
            only: false,
            overlay: Overlay::None,
            message,
            blocked_message: false,
            blocked_next: false,
            config,
            config_path,
            history_path: opts.history,
            pane_size: (80, 20),
        }
    }

    /// How the pane draws now.
    pub fn look<'a>(&'a self, st: &ViewState) -> Look<'a> {
        Look {
            display: self.display,
            clock: self.clock,
            tz: &self.tz,
            charset: self.session.charset,
            wrap: self.wrap,
            hscroll: self.hscroll,
            find: self.find.as_deref().filter(|f| !f.is_empty()),
            only: match (self.only, st.clients.selected()) {
                (true, Selection::One(id)) => Some(id),
                _ => None,
            },
            width: self.pane_size.0,
        }
    }

    fn tell(&mut self, msg: impl Into<String>) {
        self.message = Some((msg.into(), false));
        self.blocked_message = false;
    }

    fn fail(&mut self, msg: impl Into<String>) {
        self.message = Some((msg.into(), true));
        self.blocked_message = false;
    }

    /// Text cannot go to the selection now: why, until it can.
    fn blocked(&mut self, b: &Blocked) {
        self.fail(blocked(b));
        self.blocked_message = true;
    }

    /// What the engine's events changed that the view's own lines depend
    /// on (called before each frame): a "#1 desk is gone" message goes
    /// once the board is back.
    pub fn refresh(&mut self, st: &ViewState) {
        if self.blocked_message && st.clients.send_target().is_ok() {
            let to = match st.clients.selected() {
                Selection::All => tr!("view-every-client"),
                Selection::One(id) => st
                    .clients
                    .get(id)
                    .map_or_else(|| format!("#{id}"), |c| c.label()),
            };
            self.tell(tr!("view-can-send", to = to));
        }
    }

    fn remember(&mut self, entry: Option<String>) {
        if let (Some(e), Some(p)) = (entry, &self.history_path) {
            if let Err(err) = store::append_history(p, &e) {
                self.message = Some((
                    tr!(
                        "view-history-failed",
                        path = p.display().to_string(),
                        reason = err.to_string()
                    ),
                    true,
                ));
                self.history_path = None;
            }
        }
    }

    /// The bytes for typed text: in the input mode and encoding, line
    /// breaks and the end as the line ending.
    pub fn bytes_for(&self, typed: &str) -> Result<Vec<u8>, SendError> {
        let ending = self.session.ending.bytes();
        let charset = self.session.charset;
        if self.input == Input::Hex {
            return text::parse_hex(typed);
        }
        let mut out = Vec::new();
        let mut lines = typed.split('\n').peekable();
        while let Some(line) = lines.next() {
            out.extend(match self.input {
                Input::Escapes => encode_escaped(line, charset)?,
                _ => encode(line, charset)?,
            });
            if lines.peek().is_some() {
                out.extend_from_slice(if ending.is_empty() { b"\n" } else { ending });
            }
        }
        out.extend_from_slice(ending);
        Ok(out)
    }

    fn target(sel: Selection) -> Target {
        match sel {
            Selection::All => Target::All,
            Selection::One(id) => Target::One(id),
        }
    }

    /// Enter on the input line.
    pub fn submit(&mut self, st: &mut ViewState) -> Vec<Control> {
        let line = self.editor.text().to_owned();
        if line.starts_with('/') && !line.starts_with("//") {
            let (_, added) = self.editor.submit(false);
            self.remember(added);
            return match self.command(&line, st) {
                Ok(c) => c,
                Err(e) => {
                    // The command stays for fixing (or until its board is
                    // back).
                    self.editor.set(&line);
                    let blocked = std::mem::take(&mut self.blocked_next);
                    self.fail(e);
                    self.blocked_message = blocked;
                    Vec::new()
                }
            };
        }
        let typed = line.strip_prefix('/').unwrap_or(&line);
        let target = match st.clients.send_target() {
            Ok(t) => t,
            Err(why) => {
                self.blocked(&why);
                return Vec::new();
            }
        };
        let bytes = match self.bytes_for(typed) {
            Ok(b) => b,
            Err(e) => {
                self.fail(tr!("view-not-sent", reason = e.msg().localized()));
                return Vec::new();
            }
        };
        let (_, added) = self.editor.submit(self.keep);
        self.remember(added);
        if bytes.is_empty() {
            return Vec::new();
        }
        vec![Control::Send(Self::target(target), bytes.into())]
    }

    /// Sends macro `n`.
    fn send_macro(&mut self, n: usize, st: &ViewState) -> Result<Vec<Control>, String> {
        let text = self
            .config
            .macro_text(n)
            .ok_or_else(|| tr!("view-macro-unset", n = n))?;
        let target = st.clients.send_target().map_err(|b| blocked(&b))?;
        let mut bytes =
            encode_escaped(text, self.session.charset).map_err(|e| e.msg().localized())?;
        bytes.extend_from_slice(self.session.ending.bytes());
        Ok(vec![Control::Send(Self::target(target), bytes.into())])
    }

    fn macros(&mut self, rest: &str, st: &mut ViewState) -> Result<Vec<Control>, String> {
        if rest.is_empty() {
            let mut lines = Vec::new();
            for (i, m) in self.config.macros.iter().enumerate() {
                if !m.is_empty() {
                    lines.push(format!("/m {}: {m}", i + 1));
                }
            }
            if lines.is_empty() {
                lines.push(tr!("view-no-macros"));
            }
            let now = std::time::SystemTime::now();
            for l in lines {
                st.pane.info(now, super::pane::Source::Notice, &l);
            }
            return Ok(Vec::new());
        }
        let (n, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let n: usize = n
            .parse()
            .map_err(|_| tr!("view-macro-bad-number", value = n))?;
        if text.is_empty() {
            return self.send_macro(n, st);
        }
        let text = if text == "-" { "" } else { text };
        // Check the escapes now, not when it is sent.
        text::unescape(text)
            .map_err(|e| tr!("view-macro-bad", n = n, reason = e.msg().localized()))?;
        self.config.set_macro(n, text)?;
        match &self.config_path {
            Some(p) => {
                self.config.save(p)?;
                self.tell(tr!(
                    "view-macro-saved",
                    n = n,
                    path = p.display().to_string()
                ));
            }
            None => self.tell(tr!("view-macro-set", n = n)),
        }
        Ok(Vec::new())
    }

    /// A `/command` of the view, or one of [`Session::command`]'s.
    pub fn command(&mut self, line: &str, st: &mut ViewState) -> Result<Vec<Control>, String> {
        let cmd = line.trim_start_matches('/').trim_end();
        let (name, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
        let rest = rest.trim();
        let look_h = self.pane_size.1;
        match name {
            "help" | "h" | "?" => self.overlay = Overlay::Help(0),
            "display" | "view" => {
                self.display = match rest {
                    "" => self.display.next(),
                    "text" => Display::Text,
                    "hex" => Display::Hex,
                    "both" | "hex+text" | "dump" => Display::Both,
                    o => return Err(tr!("view-display-takes", value = o)),
                };
            }
            "time" | "timestamps" => {
                self.clock = match rest {
                    "" => self.clock.next(),
                    "local" => Clock::Local,
                    "utc" | "UTC" => Clock::Utc,
                    "off" | "none" => Clock::Off,
                    o => return Err(tr!("view-time-takes", value = o)),
                };
            }
            "encoding" | "enc" => {
                self.session.charset = if rest.is_empty() {
                    self.next_encoding()
                } else {
                    Charset::from_label(rest)
                        .ok_or_else(|| tr!("view-unknown-encoding", value = rest))?
                };
                self.tell(tr!("view-encoding-set", name = self.session.charset.name()));
            }
            "ending" => {
                self.session.ending = if rest.is_empty() {
                    next_ending(self.session.ending)
                } else {
                    LineEnding::parse(rest).ok_or_else(|| {
                        crate::cmd::serve::interactive::bad_ending(rest).localized()
                    })?
                };
            }
            "wrap" => self.wrap = on_off(rest, self.wrap, "wrap")?,
            "keep" => self.keep = on_off(rest, self.keep, "keep")?,
            "filter" | "only" => self.only = on_off(rest, self.only, "filter")?,
            "input" => {
                self.input = match rest {
                    "" => self.input.next(),
                    "text" => Input::Text,
                    "escapes" | "esc" => Input::Escapes,
                    "hex" => Input::Hex,
                    o => return Err(tr!("view-input-takes", value = o)),
                };
            }
            "pause" => {
                let look = self.look(st);
                st.pane.toggle_pause(&look, look_h);
            }
            "clear" | "cls" => st.pane.clear(),
            "reset" => {
                st.bytes_in = 0;
                st.bytes_out = 0;
                st.clients.reset_counters();
                self.tell(tr!("view-counters-reset"));
            }
            "gone" => st.clients.gone_open = !st.clients.gone_open,
            "find" | "search" => {
                if rest.is_empty() {
                    self.find = None;
                } else {
                    self.find = Some(rest.to_owned());
                    let look = self.look(st);
                    let found = st.pane.find(rest, true, &look);
                    let n = st.pane.count_matches(rest, &look);
                    if found || n > 0 {
                        self.tell(tr!("view-find-count", text = rest, n = n));
                    } else {
                        self.fail(tr!("view-find-none", text = rest));
                    }
                }
            }
            "save" => return self.save(rest, st).map(|()| Vec::new()),
            "m" | "macro" => return self.macros(rest, st),
            "quit" | "exit" | "q" => return Ok(vec![Control::Quit]),
            _ => {
                // What sends goes where typed text goes: not to a client
                // that is gone (the command stays, with the reason). An
                // /auto for "all" may wait for a board.
                let stop = matches!(rest, "stop" | "off");
                let sends = match name {
                    "hex" | "file" => true,
                    "auto" => !stop && st.clients.selected() != Selection::All,
                    _ => false,
                };
                if sends {
                    if let Err(b) = st.clients.send_target() {
                        self.blocked_next = true;
                        return Err(blocked(&b));
                    }
                }
                // The commands shared with the plain mode.
                self.session.target = Self::target(st.clients.selected());
                let ctl = self.session.command(line).map_err(|m| m.localized())?;
                st.clients.select(match self.session.target {
                    Target::All => Selection::All,
                    Target::One(id) => Selection::One(id),
                });
                match &ctl {
                    Control::Auto(Some((every, target, bytes))) => {
                        let a = AutoView::new(*every, *target, bytes.clone());
                        st.clients.follow_also(a.to);
                        st.auto = Some(a);
                    }
                    Control::Auto(None) => {
                        st.auto = None;
                        st.clients.follow_also(None);
                    }
                    Control::Notice(n) => {
                        self.tell(n.localized());
                        return Ok(Vec::new());
                    }
                    _ => {}
                }
                return Ok(vec![ctl]);
            }
        }
        Ok(Vec::new())
    }

    fn save(&mut self, rest: &str, st: &mut ViewState) -> Result<(), String> {
        if rest.is_empty() {
            return match st.save.take() {
                Some(mut s) => {
                    s.flush().map_err(|e| {
                        tr!(
                            "view-save-stopped",
                            path = s.path.display().to_string(),
                            reason = e.to_string()
                        )
                    })?;
                    self.tell(tr!(
                        "view-saved",
                        n = s.written,
                        path = s.path.display().to_string()
                    ));
                    Ok(())
                }
                None => Err(tr!("view-not-saving")),
            };
        }
        // Options first (`-t`, `-a`, in any order), then the file name,
        // which may hold spaces.
        let (mut text, mut append, mut path) = (false, false, rest);
        loop {
            let (word, after) = path.split_once(char::is_whitespace).unwrap_or((path, ""));
            match word {
                "-t" => text = true,
                "-a" => append = true,
                "-ta" | "-at" => (text, append) = (true, true),
                w if w.starts_with('-') && w.len() > 1 => {
                    return Err(tr!("view-save-unknown-option", option = w));
                }
                _ => break,
            }
            path = after.trim_start();
        }
        if path.is_empty() {
            return Err(tr!("view-save-usage"));
        }
        if let Some(old) = &st.save {
            return Err(tr!(
                "view-already-saving",
                path = old.path.display().to_string()
            ));
        }
        let from = st.clients.selected();
        let saver = Saver::open(
            PathBuf::from(path),
            text,
            append,
            from,
            self.clock,
            self.tz.clone(),
            self.session.charset,
        )?;
        let whose = match from {
            Selection::All => tr!("view-every-client"),
            Selection::One(id) => format!("#{id}"),
        };
        self.tell(if text {
            tr!("view-saving-text", whose = whose, path = path)
        } else {
            tr!("view-saving-bytes", whose = whose, path = path)
        });
        st.save = Some(saver);
        Ok(())
    }

    fn next_encoding(&self) -> Charset {
        let cur = self.session.charset.name().to_lowercase();
        let i = ENCODINGS
            .iter()
            .position(|l| Charset::from_label(l).is_some_and(|c| c.name().to_lowercase() == cur))
            .map_or(0, |i| (i + 1) % ENCODINGS.len());
        Charset::from_label(ENCODINGS[i]).unwrap_or(Charset::Utf8)
    }

    /// A pasted block (bracketed paste): into the input line, line breaks
    /// kept.
    pub fn paste(&mut self, s: &str) {
        match &mut self.finding {
            Some(f) => {
                f.paste(&s.replace(['\r', '\n'], " "));
                self.find = Some(f.text().to_owned());
            }
            None => self.editor.paste(s),
        }
    }

    /// Key presses that came in one burst (already waiting together): a
    /// paste, when they are only characters and Enters with a character
    /// after an Enter (Windows consoles have no bracketed paste; a pasted
    /// block arrives as key presses, its line breaks as Enter). The text,
    /// with the line breaks kept, for [`App::paste`].
    pub fn burst_paste(keys: &[KeyEvent]) -> Option<String> {
        let mut text = String::new();
        let mut enter_then_char = false;
        for k in keys {
            let plain = k.modifiers.difference(KeyModifiers::SHIFT).is_empty();
            match k.code {
                KeyCode::Char(c) if plain => {
                    if text.ends_with('\n') {
                        enter_then_char = true;
                    }
                    text.push(c);
                }
                KeyCode::Enter if plain => text.push('\n'),
                KeyCode::Tab if plain => text.push('\t'),
                _ => return None,
            }
        }
        enter_then_char.then_some(text)
    }

    fn help_keys(&mut self, key: KeyEvent) {
        let Overlay::Help(top) = self.overlay else {
            return;
        };
        let page = self.pane_size.1.max(5);
        self.overlay = match key.code {
            KeyCode::Esc | KeyCode::F(1) | KeyCode::Char('q' | '?') | KeyCode::Enter => {
                Overlay::None
            }
            KeyCode::Up => Overlay::Help(top.saturating_sub(1)),
            KeyCode::Down => Overlay::Help(top + 1),
            KeyCode::PageUp => Overlay::Help(top.saturating_sub(page)),
            KeyCode::PageDown | KeyCode::Char(' ') => Overlay::Help(top + page),
            KeyCode::Home => Overlay::Help(0),
            KeyCode::End => Overlay::Help(usize::MAX / 2),
            _ => Overlay::Help(top),
        };
    }

    /// One key press.
    pub fn key(&mut self, key: KeyEvent, st: &mut ViewState) -> Vec<Control> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match self.overlay {
            Overlay::Help(_) => {
                if ctrl && key.code == KeyCode::Char('c') {
                    return vec![Control::Quit];
                }
                self.help_keys(key);
                return Vec::new();
            }
            Overlay::Quit => {
                self.overlay = Overlay::None;
                return match key.code {
                    // Only y (or Ctrl-C): Enter, typed on by habit, stays.
                    KeyCode::Char('y' | 'Y') => vec![Control::Quit],
                    KeyCode::Char('c') if ctrl => vec![Control::Quit],
                    _ => {
                        self.tell(tr!("view-not-quitting"));
                        Vec::new()
                    }
                };
            }
            Overlay::None => {}
        }
        self.message = None;
        let (w, h) = self.pane_size;
        let page = h.saturating_sub(1).max(1);
        match key.code {
            KeyCode::Char('c') if ctrl => return vec![Control::Quit],
            KeyCode::Char('q') if ctrl => {
                let live = st.clients.live().len();
                if live == 0 {
                    return vec![Control::Quit];
                }
                self.overlay = Overlay::Quit;
                return Vec::new();
            }
            KeyCode::Esc => {
                if self.finding.take().is_some() {
                    self.find = None;
                } else if !self.editor.text().is_empty() {
                    self.editor.clear();
                } else if !st.pane.is_live() {
                    st.pane.to_live();
                } else {
                    self.tell(tr!("view-esc-hint"));
                }
                return Vec::new();
            }
            KeyCode::F(1) => self.overlay = Overlay::Help(0),
            KeyCode::Char('?')
                if self.editor.text().is_empty() && self.finding.is_none() && !alt =>
            {
                self.overlay = Overlay::Help(0)
            }
            KeyCode::F(2) => self.display = self.display.next(),
            KeyCode::F(3) => self.clock = self.clock.next(),
            KeyCode::F(4) => {
                self.session.charset = self.next_encoding();
            }
            KeyCode::F(5) => self.session.ending = next_ending(self.session.ending),
            KeyCode::F(6) => {
                self.wrap = !self.wrap;
                self.hscroll = 0;
            }
            KeyCode::F(7) => {
                let look = self.look(st);
                st.pane.toggle_pause(&look, h);
            }
            KeyCode::F(8) => self.keep = !self.keep,
            KeyCode::F(9) => self.input = self.input.next(),
            KeyCode::F(10) => self.only = !self.only,
            KeyCode::Tab => st.clients.cycle(1),
            KeyCode::BackTab => st.clients.cycle(-1),
            KeyCode::PageUp => {
                let look = self.look(st);
                st.pane.scroll_up(page, &look, h);
            }
            KeyCode::PageDown => {
                let look = self.look(st);
                st.pane.scroll_down(page, &look, h);
            }
            KeyCode::Up if shift => {
                let look = self.look(st);
                st.pane.scroll_up(1, &look, h);
            }
            KeyCode::Down if shift => {
                let look = self.look(st);
                st.pane.scroll_down(1, &look, h);
            }
            KeyCode::Home if ctrl => st.pane.to_top(),
            KeyCode::End if ctrl => st.pane.to_live(),
            KeyCode::Left if shift && !self.wrap => {
                self.hscroll = self.hscroll.saturating_sub((w / 2).max(1));
            }
            KeyCode::Right if shift && !self.wrap => self.hscroll += (w / 2).max(1),
            KeyCode::Char('l') if ctrl => st.pane.clear(),
            KeyCode::Char('r') if ctrl => {
                st.bytes_in = 0;
                st.bytes_out = 0;
                st.clients.reset_counters();
                self.tell(tr!("view-counters-reset"));
            }
            KeyCode::Char('g') if ctrl => st.clients.gone_open = !st.clients.gone_open,
            KeyCode::Char('f') if ctrl => {
                if self.finding.is_none() {
                    let mut e = Editor::default();
                    e.set(self.find.as_deref().unwrap_or(""));
                    self.finding = Some(e);
                } else {
                    self.find_step(true, st);
                }
            }
            KeyCode::Char(d @ '0'..='9') if alt => {
                let n = if d == '0' {
                    10
                } else {
                    d as usize - '0' as usize
                };
                match self.send_macro(n, st) {
                    Ok(c) => return c,
                    Err(e) => self.fail(e),
                }
            }
            KeyCode::Enter if alt => self.edit_key(key),
            KeyCode::Enter => {
                if self.finding.is_some() {
                    self.find_step(true, st);
                } else {
                    return self.submit(st);
                }
            }
            KeyCode::Up if self.finding.is_some() => self.find_step(true, st),
            KeyCode::Down if self.finding.is_some() => self.find_step(false, st),
            _ => self.edit_key(key),
        }
        Vec::new()
    }

    fn find_step(&mut self, older: bool, st: &mut ViewState) {
        let Some(f) = self.find.clone().filter(|f| !f.is_empty()) else {
            return;
        };
        let look = self.look(st);
        if !st.pane.find(&f, older, &look) {
            self.fail(if older {
                tr!("view-find-no-older", text = f.as_str())
            } else {
                tr!("view-find-no-newer", text = f.as_str())
            });
        }
    }

    /// Keys that edit the input line (or the search text).
    fn edit_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let searching = self.finding.is_some();
        let e = match &mut self.finding {
            Some(f) => f,
            None => &mut self.editor,
        };
        match key.code {
            KeyCode::Left if ctrl || alt => e.word_left(),
            KeyCode::Right if ctrl || alt => e.word_right(),
            KeyCode::Char('b') if alt => e.word_left(),
            KeyCode::Char('f') if alt => e.word_right(),
            KeyCode::Left => e.left(),
            KeyCode::Right => e.right(),
            KeyCode::Home => e.home(),
            KeyCode::End => e.end(),
            KeyCode::Char('a') if ctrl => e.home(),
            KeyCode::Char('e') if ctrl => e.end(),
            KeyCode::Char('u') if ctrl => e.kill_to_start(),
            KeyCode::Char('w') if ctrl => e.kill_word(),
            KeyCode::Char('h') if ctrl => e.backspace(),
            KeyCode::Backspace if ctrl || alt => e.kill_word(),
            KeyCode::Char('k') if ctrl => e.kill_to_end(),
            KeyCode::Char('y') if ctrl => e.yank(),
            KeyCode::Char('d') if ctrl => e.delete(),
            KeyCode::Backspace => e.backspace(),
            KeyCode::Delete => e.delete(),
            KeyCode::Up => e.history_prev(),
            KeyCode::Down => e.history_next(),
            KeyCode::Enter if alt && !searching => e.insert('\n'),
            KeyCode::Char(c) if !ctrl => e.insert(c),
            _ => {}
        }
        if searching {
            self.find = self.finding.as_ref().map(|f| f.text().to_owned());
        }
    }
}

/// Why typed text stays in the input line, for people.
fn blocked(b: &Blocked) -> String {
    match b {
        Blocked::NoClient => tr!("view-no-client"),
        Blocked::Gone { label, reason } => {
            tr!(
                "view-target-gone",
                label = label.as_str(),
                reason = reason.localized()
            )
        }
        Blocked::Unknown(id) => tr!("view-target-unknown", id = *id),
    }
}

fn next_ending(e: LineEnding) -> LineEnding {
    match e {
        LineEnding::None => LineEnding::Lf,
        LineEnding::Lf => LineEnding::Cr,
        LineEnding::Cr => LineEnding::Crlf,
        LineEnding::Crlf => LineEnding::None,
    }
}

/// The line ending's name in the status bar.
pub fn ending_name(e: LineEnding) -> &'static str {
    match e {
        LineEnding::None => "none",
        LineEnding::Lf => "lf",
        LineEnding::Cr => "cr",
        LineEnding::Crlf => "crlf",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::Bytes;
    use picow_serve::Event;
    use std::time::SystemTime;

    pub fn app() -> App {
        App::new(Options {
            hex: false,
            utc: false,
            charset: Charset::Utf8,
            ending: LineEnding::None,
            history: None,
            config: None,
            tz: TimeZone::fixed(jiff::tz::offset(8)),
        })
    }

    pub fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn typed(app: &mut App, st: &mut ViewState, s: &str) {
        for c in s.chars() {
            assert!(app.key(key(KeyCode::Char(c)), st).is_empty());
        }
    }

    fn sent(c: &[Control]) -> (Target, Vec<u8>) {
        match c {
            [Control::Send(t, b)] => (*t, b.to_vec()),
            other => panic!("not one send: {other:?}"),
        }
    }

    fn connect(st: &mut ViewState, id: u64) {
        st.apply(
            SystemTime::UNIX_EPOCH,
            &Event::Connected {
                id,
                peer: "127.0.0.1:5000".parse().unwrap(),
            },
        );
    }

    #[test]
    fn esc_never_quits_and_quitting_is_deliberate() {
        let mut a = app();
        let mut st = ViewState::default();
        connect(&mut st, 1);
        typed(&mut a, &mut st, "abc");
        assert!(a.key(key(KeyCode::Esc), &mut st).is_empty());
        assert_eq!(a.editor.text(), "");
        for _ in 0..3 {
            assert!(a.key(key(KeyCode::Esc), &mut st).is_empty());
        }
        assert!(a.message.as_ref().unwrap().0.contains("Ctrl-Q"));
        // Ctrl-Q asks while a board is connected; anything but y stays.
        assert!(a.key(ctrl('q'), &mut st).is_empty());
        assert_eq!(a.overlay, Overlay::Quit);
        assert!(a.key(key(KeyCode::Esc), &mut st).is_empty());
        assert_eq!(a.overlay, Overlay::None);
        // Enter (typed on by habit) stays too, and says so.
        a.key(ctrl('q'), &mut st);
        assert!(a.key(key(KeyCode::Enter), &mut st).is_empty());
        assert_eq!(a.overlay, Overlay::None);
        assert!(a.message.as_ref().unwrap().0.contains("not quitting"));
        a.key(ctrl('q'), &mut st);
        assert!(matches!(
            a.key(key(KeyCode::Char('y')), &mut st)[..],
            [Control::Quit]
        ));
        assert!(matches!(a.key(ctrl('c'), &mut st)[..], [Control::Quit]));
        // Esc closes the help instead of quitting.
        a.key(key(KeyCode::F(1)), &mut st);
        assert!(matches!(a.overlay, Overlay::Help(0)));
        assert!(a.key(key(KeyCode::Esc), &mut st).is_empty());
        assert_eq!(a.overlay, Overlay::None);
    }

    #[test]
    fn typed_text_is_sent_edited_encoded_and_kept_on_failure() {
        let mut a = app();
        let mut st = ViewState::default();
        typed(&mut a, &mut st, "abcdef");
        for k in [KeyCode::Left, KeyCode::Left, KeyCode::Backspace] {
            a.key(key(k), &mut st);
        }
        typed(&mut a, &mut st, "X");
        a.key(key(KeyCode::Home), &mut st);
        typed(&mut a, &mut st, "S");
        a.key(key(KeyCode::End), &mut st);
        typed(&mut a, &mut st, "E");
        // No client yet: the text stays, with the reason.
        assert!(a.key(key(KeyCode::Enter), &mut st).is_empty());
        assert_eq!(a.editor.text(), "SabcXefE");
        assert!(a
            .message
            .as_ref()
            .unwrap()
            .0
            .contains("no client is connected"));
        connect(&mut st, 1);
        let c = a.key(key(KeyCode::Enter), &mut st);
        assert_eq!(sent(&c), (Target::All, b"SabcXefE".to_vec()));
        assert_eq!(a.editor.text(), "");
        // GBK, the line ending, pasted line breaks, escapes, hex.
        a.command("/encoding gbk", &mut st).unwrap();
        a.command("/ending crlf", &mut st).unwrap();
        a.paste("中\n文");
        let c = a.key(key(KeyCode::Enter), &mut st);
        assert_eq!(sent(&c).1, b"\xd6\xd0\r\n\xce\xc4\r\n");
        a.command("/input escapes", &mut st).unwrap();
        a.command("/ending none", &mut st).unwrap();
        typed(&mut a, &mut st, "a\\x00");
        assert_eq!(sent(&a.key(key(KeyCode::Enter), &mut st)).1, b"a\x00");
        a.key(key(KeyCode::F(9)), &mut st);
        assert_eq!(a.input, Input::Hex);
        typed(&mut a, &mut st, "zz");
        assert!(a.key(key(KeyCode::Enter), &mut st).is_empty());
        assert_eq!(a.editor.text(), "zz", "bad hex stays for fixing");
        // Kept after sending when asked (F8); history with Up.
        a.command("/input text", &mut st).unwrap();
        a.key(key(KeyCode::F(8)), &mut st);
        a.editor.set("again");
        a.key(key(KeyCode::Enter), &mut st);
        assert_eq!(a.editor.text(), "again");
        a.editor.set("");
        a.key(key(KeyCode::Up), &mut st);
        assert_eq!(a.editor.text(), "again");
        // A selected client that went: the text stays.
        st.clients.select(Selection::One(1));
        st.apply(
            SystemTime::UNIX_EPOCH,
            &Event::Disconnected {
                id: 1,
                peer: "127.0.0.1:5000".parse().unwrap(),
                reason: "reset by peer".into(),
                bytes_in: 0,
                bytes_out: 0,
            },
        );
        a.editor.set("lost?");
        assert!(a.key(key(KeyCode::Enter), &mut st).is_empty());
        assert_eq!(a.editor.text(), "lost?");
        assert!(a
            .message
            .as_ref()
            .unwrap()
            .0
            .contains("#1 is gone (reset by peer)"));
    }

    #[test]
    fn toggles_and_commands() {
        let mut a = app();
        let mut st = ViewState::default();
        a.key(key(KeyCode::F(2)), &mut st);
        assert_eq!(a.display, Display::Hex);
        a.key(key(KeyCode::F(2)), &mut st);
        assert_eq!(a.display, Display::Both);
        a.key(key(KeyCode::F(3)), &mut st);
        assert_eq!(a.clock, Clock::Utc);
        a.key(key(KeyCode::F(4)), &mut st);
        assert_eq!(a.session.charset.name(), "GBK");
        a.key(key(KeyCode::F(5)), &mut st);
        assert_eq!(a.session.ending, LineEnding::Lf);
        a.key(key(KeyCode::F(6)), &mut st);
        assert!(!a.wrap);
        assert!(a.command("/wrap maybe", &mut st).is_err());
        a.command("/time off", &mut st).unwrap();
        assert_eq!(a.clock, Clock::Off);
        assert!(a.command("/display sideways", &mut st).is_err());
        assert!(a.command("/encoding klingon", &mut st).is_err());
        assert!(matches!(
            a.command("/quit", &mut st).unwrap()[..],
            [Control::Quit]
        ));
        assert!(matches!(
            a.command("/list", &mut st).unwrap()[..],
            [Control::List]
        ));
        connect(&mut st, 3);
        a.command("/select 3", &mut st).unwrap();
        assert_eq!(st.clients.selected(), Selection::One(3));
        let c = a.command("/auto 1s ping", &mut st).unwrap();
        assert!(matches!(c[..], [Control::Auto(Some(_))]));
        assert_eq!(st.auto.as_ref().unwrap().to, Some(3));
        a.command("/auto stop", &mut st).unwrap();
        assert!(st.auto.is_none());
        // A bad command stays in the line with the reason.
        a.editor.set("/bogus");
        a.key(key(KeyCode::Enter), &mut st);
        assert_eq!(a.editor.text(), "/bogus");
        assert!(a.message.as_ref().unwrap().1);
        st.bytes_in = 5;
        a.key(ctrl('r'), &mut st);
        assert_eq!(st.bytes_in, 0);
    }

    fn greet(st: &mut ViewState, id: u64, name: &str, at: SystemTime) {
        st.apply(
            at,
            &Event::Connected {
                id,
                peer: "127.0.0.1:5000".parse().unwrap(),
            },
        );
        st.apply(
            at,
            &Event::Picow {
                id,
                name: Some(name.into()),
            },
        );
    }

    fn auto(id: Option<u64>, state: picow_serve::AutoState, count: u64) -> Event {
        Event::Auto {
            state,
            every: std::time::Duration::from_secs(1),
            to: id,
            count,
        }
    }

    /// `/auto` after a board reset: the count is the engine's real sends;
    /// when the board is gone it waits (no error at every tick), and when
    /// the board is back under a new id it goes on there, counting on.
    #[test]
    fn auto_follows_the_board_after_a_reset() {
        use picow_serve::AutoState::*;
        let mut a = app();
        let mut st = ViewState::default();
        let t = |s: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s);
        greet(&mut st, 1, "desk", t(0));
        greet(&mut st, 2, "lab", t(0));
        st.clients.select(Selection::One(1));
        let c = a.command("/auto 1s ping", &mut st).unwrap();
        let [Control::Auto(Some((_, Target::One(1), bytes)))] = &c[..] else {
            panic!("{c:?}")
        };
        assert_eq!(&bytes[..], b"ping");
        st.apply(t(0), &auto(Some(1), Started, 0));
        for n in 1..=3 {
            st.apply(t(n), &auto(Some(1), Sent, n));
        }
        assert_eq!(st.auto.as_ref().unwrap().sent, 3);
        // The user looks at another board meanwhile: /auto stays on desk.
        a.key(key(KeyCode::Tab), &mut st);
        assert_eq!(st.clients.selected(), Selection::One(2));
        st.apply(
            t(4),
            &Event::Disconnected {
                id: 1,
                peer: "127.0.0.1:5000".parse().unwrap(),
                reason: picow_serve::Reason::ResetByPeer,
                bytes_in: 0,
                bytes_out: 0,
            },
        );
        st.apply(t(5), &auto(Some(1), Gone, 3));
        let w = st.auto.as_ref().unwrap();
        assert!(w.waiting && w.sent == 3 && w.to == Some(1));
        assert!(st.outbox.is_empty());
        // Others come and go: not followed.
        greet(&mut st, 3, "other", t(6));
        assert!(st.outbox.is_empty());
        // desk is back as #4: /auto starts again there.
        greet(&mut st, 4, "desk", t(7));
        let out = std::mem::take(&mut st.outbox);
        let [Control::Auto(Some((every, Target::One(4), bytes)))] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!((every.as_secs(), &bytes[..]), (1, &b"ping"[..]));
        assert_eq!(
            st.clients.selected(),
            Selection::One(2),
            "selection untouched"
        );
        // A late event of the old run is not this one's; the new run counts on.
        st.apply(t(7), &auto(Some(1), Sent, 9));
        st.apply(t(7), &auto(Some(4), Started, 0));
        st.apply(t(8), &auto(Some(4), Sent, 1));
        let w = st.auto.as_ref().unwrap();
        assert_eq!((w.to, w.sent, w.waiting), (Some(4), 4, false));
        let shown: Vec<String> = st
            .pane
            .view(&a.look(&st), 50)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        let shown = shown.join("\n");
        assert!(shown.contains("/auto follows #4 desk"), "{shown}");
        // Stopped by the user: gone from the status.
        st.apply(t(9), &auto(Some(4), Stopped, 1));
        assert!(st.auto.is_none());
    }

    /// A burst of key presses with a line break inside (a paste on a
    /// Windows console) is pasted with its newlines; typing is not.
    #[test]
    fn a_burst_with_line_breaks_is_a_paste() {
        let ks = |s: &str| -> Vec<KeyEvent> {
            s.chars()
                .map(|c| match c {
                    '\n' => key(KeyCode::Enter),
                    c => key(KeyCode::Char(c)),
                })
                .collect()
        };
        assert_eq!(
            App::burst_paste(&ks("ab\ncd\n")).as_deref(),
            Some("ab\ncd\n")
        );
        // One line and its Enter, or a lone key: typing, not a paste.
        assert_eq!(App::burst_paste(&ks("abc\n")), None);
        assert_eq!(App::burst_paste(&ks("a")), None);
        let mut with_ctrl = ks("a\nb");
        with_ctrl.push(ctrl('u'));
        assert_eq!(App::burst_paste(&with_ctrl), None);
        // Pasted, the lines stay in the input line; Enter sends them all.
        let mut a = app();
        let mut st = ViewState::default();
        connect(&mut st, 1);
        a.paste(&App::burst_paste(&ks("ab\ncd")).unwrap());
        assert_eq!(a.editor.text(), "ab\ncd");
    }

    /// /hex and /file go through the same check as typed text: for a board
    /// that is gone they stay in the input line with the reason, which
    /// goes once the board is back.
    #[test]
    fn hex_and_file_are_kept_for_a_gone_board() {
        let mut a = app();
        let mut st = ViewState::default();
        let t = SystemTime::UNIX_EPOCH;
        greet(&mut st, 1, "desk", t);
        st.clients.select(Selection::One(1));
        st.apply(
            t,
            &Event::Disconnected {
                id: 1,
                peer: "127.0.0.1:5000".parse().unwrap(),
                reason: picow_serve::Reason::ClosedByPeer,
                bytes_in: 0,
                bytes_out: 0,
            },
        );
        for line in ["/hex 48 69", "/file /etc/hostname", "/auto 1s ping"] {
            a.editor.set(line);
            assert!(a.key(key(KeyCode::Enter), &mut st).is_empty(), "{line}");
            assert_eq!(a.editor.text(), line);
            let m = &a.message.as_ref().unwrap().0;
            assert!(
                m.contains("#1 desk is gone (closed by peer)"),
                "{line}: {m}"
            );
        }
        assert!(st.auto.is_none());
        // The board is back: the reason goes, the command can go.
        greet(&mut st, 2, "desk", t);
        a.refresh(&st);
        let m = &a.message.as_ref().unwrap().0;
        assert!(m.contains("#2 desk") && !m.contains("gone"), "{m}");
        a.editor.set("/hex 48 69");
        let c = a.key(key(KeyCode::Enter), &mut st);
        assert_eq!(sent(&c), (Target::One(2), b"Hi".to_vec()));
    }

    #[test]
    fn save_writes_only_what_arrives_while_saving() {
        let dir = std::env::temp_dir().join(format!("picow-save-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rx.bin");
        let mut a = app();
        let mut st = ViewState::default();
        connect(&mut st, 1);
        let data = |st: &mut ViewState, b: &'static [u8]| {
            st.apply(
                SystemTime::UNIX_EPOCH,
                &Event::Data {
                    id: 1,
                    bytes: Bytes::from_static(b),
                    text: "".into(),
                },
            )
        };
        data(&mut st, b"before");
        a.command(&format!("/save {}", path.display()), &mut st)
            .unwrap();
        assert!(a.command("/save other", &mut st).is_err());
        data(&mut st, b"\x00\xffkept\n");
        st.apply(
            SystemTime::UNIX_EPOCH,
            &Event::Sent {
                id: 1,
                bytes: Bytes::from_static(b"sent is not received"),
                text: "".into(),
            },
        );
        a.command("/save", &mut st).unwrap();
        data(&mut st, b"after");
        assert_eq!(std::fs::read(&path).unwrap(), b"\x00\xffkept\n");
        assert!(a.message.as_ref().unwrap().0.contains("saved 7 B"));
        assert!(a.command("/save", &mut st).is_err());
        // A file that exists is refused (it would not hold exactly what
        // arrives after /save) unless -a appends to it.
        let e = a
            .command(&format!("/save {}", path.display()), &mut st)
            .unwrap_err();
        assert!(e.contains("exists: /save -a"), "{e}");
        assert!(st.save.is_none());
        a.command(&format!("/save -a {}", path.display()), &mut st)
            .unwrap();
        data(&mut st, b"more");
        a.command("/save", &mut st).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"\x00\xffkept\nmore");
        // An option alone is not a file name (no file named `-t`).
        for bad in ["/save -t", "/save -a", "/save -t -a  "] {
            let e = a.command(bad, &mut st).unwrap_err();
            assert!(e.contains("needs a file name"), "{bad}: {e}");
        }
        assert!(a.command("/save -x f", &mut st).unwrap_err().contains("-x"));
        assert!(st.save.is_none());
        assert!(!std::path::Path::new("-t").exists());
        // Text lines with times (UTC+8 here).
        let tpath = dir.join("rx.txt");
        a.command(&format!("/save -t {}", tpath.display()), &mut st)
            .unwrap();
        data(&mut st, b"one\ntwo\n");
        a.command("/save", &mut st).unwrap();
        assert_eq!(
            std::fs::read_to_string(&tpath).unwrap(),
            "08:00:00.000 #1 < one\n08:00:00.000 #1 < two\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn nothing_is_lost_while_paused_scrolled_or_filtered() {
        let dir = std::env::temp_dir().join(format!("picow-nolost-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("all.bin");
        let mut a = app();
        let mut st = ViewState::new(100);
        connect(&mut st, 1);
        connect(&mut st, 2);
        a.command(&format!("/save {}", path.display()), &mut st)
            .unwrap();
        st.clients.select(Selection::One(2));
        a.key(key(KeyCode::F(10)), &mut st); // only #2 shown
        a.key(key(KeyCode::F(7)), &mut st); // paused
        a.key(key(KeyCode::PageUp), &mut st); // and scrolled
        let mut want = Vec::new();
        for i in 0..1000u32 {
            let line = format!("line {i}\n").into_bytes();
            want.extend_from_slice(&line);
            st.apply(
                SystemTime::UNIX_EPOCH,
                &Event::Data {
                    id: 1,
                    bytes: Bytes::from(line),
                    text: "".into(),
                },
            );
        }
        assert_eq!(st.bytes_in, want.len() as u64);
        assert_eq!(st.clients.get(1).unwrap().bytes_in, want.len() as u64);
        // The scroll-back keeps its bound; the saved file has every byte.
        assert_eq!(st.pane.len(), 100);
        // /save was started with "all" selected: every client's bytes.
        a.command("/save", &mut st).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn macros_are_set_saved_and_sent() {
        let dir = std::env::temp_dir().join(format!("picow-macros-{}", std::process::id()));
        let cfg = dir.join("serve.toml");
        let mut a = App::new(Options {
            config: Some(cfg.clone()),
            ..app_options()
        });
        let mut st = ViewState::default();
        connect(&mut st, 1);
        a.command("/m 2 AT\\r\\n", &mut st).unwrap();
        assert!(a.command("/m 2 bad\\q", &mut st).is_err());
        let alt2 = KeyEvent::new(KeyCode::Char('2'), KeyModifiers::ALT);
        assert_eq!(sent(&a.key(alt2, &mut st)).1, b"AT\r\n");
        assert_eq!(sent(&a.command("/m 2", &mut st).unwrap()).1, b"AT\r\n");
        assert!(a.command("/m 3", &mut st).unwrap_err().contains("not set"));
        // Loaded again by the next run.
        let b = App::new(Options {
            config: Some(cfg),
            ..app_options()
        });
        assert_eq!(b.config.macro_text(2), Some("AT\\r\\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn app_options() -> Options {
        Options {
            hex: false,
            utc: false,
            charset: Charset::Utf8,
            ending: LineEnding::None,
            history: None,
            config: None,
            tz: TimeZone::UTC,
        }
    }
}
