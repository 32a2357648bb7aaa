//! The terminal view (ratatui): the client list always visible beside the
//! received data, an input line at the bottom that takes the same text and
//! `/commands` as the plain mode. Used when stdin and stdout are terminals.
//!
//! Keys: Enter sends the line or runs the command, Tab / Shift-Tab select
//! the next / previous client (or all), PageUp / PageDown scroll, Esc or
//! Ctrl-C quits.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, Paragraph};
use ratatui::Frame;
use tokio::sync::mpsc;

use super::interactive::Session;
use super::{exit_code, ServeArgs};
use crate::exit::Exit;
use picow_serve::observe::data_lines;
use picow_serve::{self as engine, Config, Control, Event, Kind, Listener, Observer, Target};
use picow_values::time::{clock, Zone};

/// Lines of received data kept for the view.
const KEEP_LINES: usize = 5000;

/// A client as the view shows it.
#[derive(Debug, Clone)]
pub struct ClientRow {
    /// Its address.
    pub peer: SocketAddr,
    /// PicoW or not.
    pub kind: Kind,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Still connected.
    pub connected: bool,
}

/// What the view shows, updated by the engine's events.
#[derive(Debug, Default)]
pub struct ViewState {
    /// The `picow flash --server` hints.
    pub hints: Vec<String>,
    /// Clients by id, connected or gone.
    pub clients: BTreeMap<u64, ClientRow>,
    /// Lines of the data pane.
    pub lines: VecDeque<(Style, String)>,
    /// Totals.
    pub bytes_in: u64,
    /// Totals.
    pub bytes_out: u64,
    /// Show data as hex.
    pub hex: bool,
    /// The time zone of timestamps.
    pub zone: Zone,
}

impl ViewState {
    fn push(&mut self, style: Style, line: String) {
        if self.lines.len() == KEEP_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back((style, line));
    }

    fn data(
        &mut self,
        at: SystemTime,
        id: u64,
        arrow: &str,
        bytes: &[u8],
        txt: &str,
        style: Style,
    ) {
        let (hex, zone) = (self.hex, self.zone);
        let _ = data_lines(at, zone, id, arrow, bytes, txt, hex, |line| {
            self.push(style, line.to_owned());
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// Updates the view for one event.
    pub fn apply(&mut self, at: SystemTime, event: &Event) {
        let dim = Style::default().fg(Color::DarkGray);
        match event {
            Event::Listening { local, hints, .. } => {
                self.hints = hints.clone();
                let addrs: Vec<String> = local.iter().map(ToString::to_string).collect();
                self.push(dim, format!("listening on {}", addrs.join(", ")));
            }
            Event::Connected { id, peer } => {
                self.clients.insert(
                    *id,
                    ClientRow {
                        peer: *peer,
                        kind: Kind::Unknown,
                        bytes_in: 0,
                        bytes_out: 0,
                        connected: true,
                    },
                );
                self.push(
                    dim,
                    format!("{} #{id} connected from {peer}", clock(at, self.zone)),
                );
            }
            Event::Picow { id, name } => {
                if let Some(c) = self.clients.get_mut(id) {
                    c.kind = Kind::Picow(name.clone());
                }
            }
            Event::Data { id, bytes, text } => {
                self.bytes_in += bytes.len() as u64;
                if let Some(c) = self.clients.get_mut(id) {
                    c.bytes_in += bytes.len() as u64;
                    if c.kind == Kind::Unknown
                        && !bytes.starts_with(&b"Hello WalnutPi!"[..bytes.len().min(15)])
                    {
                        c.kind = Kind::Other;
                    }
                }
                self.data(at, *id, "<", bytes, text, Style::default());
            }
            Event::Sent { id, bytes, text } => {
                self.bytes_out += bytes.len() as u64;
                if let Some(c) = self.clients.get_mut(id) {
                    c.bytes_out += bytes.len() as u64;
                }
                self.data(at, *id, ">", bytes, text, Style::default().fg(Color::Cyan));
            }
            Event::Disconnected { id, reason, .. } => {
                if let Some(c) = self.clients.get_mut(id) {
                    c.connected = false;
                }
                self.push(
                    dim,
                    format!("{} #{id} disconnected: {reason}", clock(at, self.zone)),
                );
                // Keep the last 200 gone clients in the list.
                let gone: Vec<u64> = self
                    .clients
                    .iter()
                    .filter(|(_, c)| !c.connected)
                    .map(|(&i, _)| i)
                    .collect();
                for i in gone.iter().take(gone.len().saturating_sub(200)) {
                    self.clients.remove(i);
                }
            }
            Event::Refused { peer, reason } => self.push(dim, format!("refused {peer}: {reason}")),
            Event::Expect {
                index, pattern, id, ..
            } => self.push(
                dim,
                format!("expect {} /{pattern}/ seen from #{id}", index + 1),
            ),
            Event::Clients { clients: list } => {
                for c in list {
                    self.push(
                        dim,
                        format!(
                            "#{} {} {} in {} B out {} B",
                            c.id,
                            c.peer,
                            kind_label(&c.kind),
                            c.bytes_in,
                            c.bytes_out
                        ),
                    );
                }
            }
            Event::Notice { message } => {
                self.push(Style::default().fg(Color::Yellow), message.clone())
            }
            Event::Error { message } => {
                self.push(Style::default().fg(Color::Red), format!("error: {message}"))
            }
            Event::Timeout { .. } => self.push(dim, "timed out".into()),
            Event::Summary(s) => self.push(
                dim,
                format!(
                    "summary: {} client(s), received {} B, sent {} B",
                    s.clients, s.bytes_in, s.bytes_out
                ),
            ),
        }
    }
}

fn kind_label(kind: &Kind) -> String {
    match kind {
        Kind::Unknown => String::new(),
        Kind::Other => "other".into(),
        Kind::Picow(None) => "PicoW".into(),
        Kind::Picow(Some(n)) => format!("PicoW {n}"),
    }
}

/// The observer that feeds a shared [`ViewState`].
#[derive(Debug, Clone)]
pub struct ViewObserver(pub Arc<Mutex<ViewState>>);

impl Observer for ViewObserver {
    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .apply(at, event);
        Ok(())
    }
}

/// Draws the view: the client list on the left, received data on the
/// right, the input line and status at the bottom. `scroll` is how many
/// lines up from the newest the data pane shows.
pub fn render(
    frame: &mut Frame<'_>,
    state: &ViewState,
    session: &Session,
    input: &str,
    scroll: usize,
) {
    let [main, status, input_area] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(3),
    ])
    .areas(frame.area());
    let [left, right] =
        Layout::horizontal([Constraint::Length(36), Constraint::Min(10)]).areas(main);

    let connected = state.clients.values().filter(|c| c.connected).count();
    let items: Vec<ListItem> = std::iter::once({
        let sel = session.target == Target::All;
        ListItem::new(format!("{} all clients", if sel { ">" } else { " " })).style(if sel {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        })
    })
    .chain(state.clients.iter().map(|(&id, c)| {
        let sel = session.target == Target::One(id);
        let mark = if sel { ">" } else { " " };
        let style = match (c.connected, sel) {
            (false, _) => Style::default().fg(Color::DarkGray),
            (true, true) => Style::default().add_modifier(Modifier::BOLD),
            (true, false) => Style::default(),
        };
        ListItem::new(vec![
            Line::from(format!("{mark} #{id} {} {}", c.peer, kind_label(&c.kind))),
            Line::from(format!(
                "    in {} B  out {} B{}",
                c.bytes_in,
                c.bytes_out,
                if c.connected { "" } else { "  gone" }
            )),
        ])
        .style(style)
    }))
    .collect();
    frame.render_widget(
        List::new(items).block(Block::bordered().title(format!(" Clients ({connected}) "))),
        left,
    );

    let height = right.height.saturating_sub(2) as usize;
    let end = state.lines.len().saturating_sub(scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = state
        .lines
        .range(start..end)
        .map(|(style, l)| Line::styled(l.clone(), *style))
        .collect();
    let title = if scroll > 0 {
        format!(" Data (scrolled up {scroll}) ")
    } else {
        " Data ".to_owned()
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        right,
    );

    let target = match session.target {
        Target::All => "all".to_owned(),
        Target::One(id) => format!("#{id}"),
    };
    let hint = state
        .hints
        .first()
        .cloned()
        .unwrap_or_else(|| "no LAN address found".into());
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(" to {target} | ending {:?} ", session.ending).to_lowercase(),
                Style::default().fg(Color::Black).bg(Color::Gray),
            ),
            Span::raw(format!(
                " in {} B out {} B | board: {hint} | Tab select, Esc quit, /help",
                state.bytes_in, state.bytes_out
            )),
        ])),
        status,
    );
    frame.render_widget(
        Paragraph::new(format!("> {input}"))
            .block(Block::bordered().title(" Send (text or /command) ")),
        input_area,
    );
}

/// Selects the next (`+1`) or previous (`-1`) connected client; "all" sits
/// before the first.
pub fn cycle(state: &ViewState, current: Target, dir: i32) -> Target {
    let mut order = vec![Target::All];
    order.extend(
        state
            .clients
            .iter()
            .filter(|(_, c)| c.connected)
            .map(|(&id, _)| Target::One(id)),
    );
    let pos = order.iter().position(|t| *t == current).unwrap_or(0) as i32;
    let n = order.len() as i32;
    order[((pos + dir).rem_euclid(n)) as usize]
}

/// Runs serve with the terminal view until `/quit`, Esc or Ctrl-C.
pub async fn run(
    listener: Listener,
    cfg: Config,
    mut observers: Vec<Box<dyn Observer>>,
    ctl_tx: mpsc::Sender<Control>,
    ctl_rx: mpsc::Receiver<Control>,
    args: &ServeArgs,
    zone: Zone,
) -> color_eyre::Result<Exit> {
    let state = Arc::new(Mutex::new(ViewState {
        hex: args.hex,
        zone,
        ..ViewState::default()
    }));
    observers.push(Box::new(ViewObserver(state.clone())));
    let mut engine = tokio::spawn(engine::run(
        listener,
        cfg,
        observers,
        ctl_rx,
        super::shutdown_signal(),
    ));

    // Terminal input on a thread of its own (crossterm reads block).
    let (key_tx, mut keys) = mpsc::channel::<TermEvent>(64);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reader = stop.clone();
    std::thread::spawn(move || {
        while !stop_reader.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(true) = crossterm::event::poll(Duration::from_millis(100)) {
                match crossterm::event::read() {
                    Ok(ev) => {
                        if key_tx.blocking_send(ev).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        }
    });

    let mut terminal = ratatui::try_init()?;
    let mut session = Session::new(args.line_ending);
    let mut input = String::new();
    let mut scroll = 0usize;
    let mut redraw = tokio::time::interval(Duration::from_millis(50));
    let result = loop {
        tokio::select! {
            done = &mut engine => break done,
            _ = redraw.tick() => {
                let st = state.lock().unwrap_or_else(|e| e.into_inner());
                terminal.draw(|f| render(f, &st, &session, &input, scroll))?;
            }
            Some(ev) = keys.recv() => {
                let TermEvent::Key(key) = ev else { continue };
                if key.kind != KeyEventKind::Press { continue; }
                let ctl = match key.code {
                    KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Some(Control::Quit),
                    KeyCode::Esc => Some(Control::Quit),
                    KeyCode::Enter => {
                        let line = std::mem::take(&mut input);
                        Some(session.command(&line).unwrap_or_else(Control::Notice))
                    }
                    KeyCode::Backspace => { input.pop(); None }
                    KeyCode::Tab | KeyCode::BackTab => {
                        let dir = if key.code == KeyCode::Tab { 1 } else { -1 };
                        let st = state.lock().unwrap_or_else(|e| e.into_inner());
                        session.target = cycle(&st, session.target, dir);
                        None
                    }
                    KeyCode::PageUp => { scroll = scroll.saturating_add(10); None }
                    KeyCode::PageDown => { scroll = scroll.saturating_sub(10); None }
                    KeyCode::Char(c) => { input.push(c); None }
                    _ => None,
                };
                if let Some(ctl) = ctl {
                    let _ = ctl_tx.send(ctl).await;
                }
            }
        }
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    ratatui::restore();
    let outcome = result?.map_err(|e| color_eyre::eyre::eyre!("serve stopped: {e}"))?;
    // Leave the summary on the normal screen.
    let st = state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, last)) = st.lines.back() {
        println!("{last}");
    }
    Ok(exit_code(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::serve::args::LineEnding;
    use bytes::Bytes;
    use picow_protocol::Transport;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn screen(state: &ViewState, session: &Session, input: &str) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(110, 16)).unwrap();
        t.draw(|f| render(f, state, session, input, 0)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn client_list_beside_received_data() {
        let mut st = ViewState::default();
        let now = SystemTime::now();
        let peer: SocketAddr = "192.0.2.50:50123".parse().unwrap();
        st.apply(
            now,
            &Event::Listening {
                version: picow_serve::event::SCHEMA_VERSION,
                transport: Transport::Tcp,
                local: vec!["[::]:10000".parse().unwrap()],
                lan: vec![engine::LanAddr {
                    iface: "eth0".into(),
                    ip: "192.0.2.2".parse().unwrap(),
                }],
                hints: vec!["picow flash --server 192.0.2.2:10000".into()],
            },
        );
        st.apply(now, &Event::Connected { id: 1, peer });
        st.apply(
            now,
            &Event::Data {
                id: 1,
                bytes: Bytes::from_static(b"Hello WalnutPi!"),
                text: "Hello WalnutPi!".into(),
            },
        );
        st.apply(
            now,
            &Event::Picow {
                id: 1,
                name: Some("desk".into()),
            },
        );
        st.apply(
            now,
            &Event::Sent {
                id: 1,
                bytes: Bytes::from_static(b"ping"),
                text: "ping".into(),
            },
        );
        st.apply(
            now,
            &Event::Connected {
                id: 2,
                peer: "192.0.2.51:4000".parse().unwrap(),
            },
        );
        let mut session = Session::new(LineEnding::Crlf);
        session.target = Target::One(1);
        let lines = screen(&st, &session, "hello");
        let text = lines.join("\n");
        // The client row and the data line share a screen row: side by side.
        let row = lines
            .iter()
            .find(|l| l.contains("#1 192.0.2.50:50123 PicoW desk"))
            .expect(&text);
        let row_idx = lines.iter().position(|l| l == row).unwrap();
        let client_x = row.find("#1 192.0.2.50").unwrap();
        let data_row = lines
            .iter()
            .find(|l| l.contains("#1 < Hello WalnutPi!"))
            .expect(&text);
        assert!(
            data_row.find("#1 < Hello").unwrap() > client_x + 30,
            "{text}"
        );
        assert!(
            lines[row_idx].starts_with("│> #1"),
            "selected client is marked:\n{text}"
        );
        assert!(text.contains("in 15 B  out 4 B"), "{text}");
        assert!(text.contains("#1 > ping"), "{text}");
        assert!(text.contains("Clients (2)"), "{text}");
        assert!(text.contains("to #1 | ending crlf"), "{text}");
        assert!(
            text.contains("board: picow flash --server 192.0.2.2:10000"),
            "{text}"
        );
        assert!(text.contains("> hello"), "{text}");
    }

    #[test]
    fn hex_view_gone_clients_and_selection_cycle() {
        let mut st = ViewState {
            hex: true,
            ..ViewState::default()
        };
        let now = SystemTime::now();
        for id in 1..=3 {
            st.apply(
                now,
                &Event::Connected {
                    id,
                    peer: format!("127.0.0.1:{}", 4000 + id).parse().unwrap(),
                },
            );
        }
        st.apply(
            now,
            &Event::Data {
                id: 3,
                bytes: Bytes::from_static(b"\x00\xff"),
                text: "\\x00\\xff".into(),
            },
        );
        st.apply(
            now,
            &Event::Disconnected {
                id: 2,
                peer: "127.0.0.1:4002".parse().unwrap(),
                reason: "reset by peer".into(),
                bytes_in: 0,
                bytes_out: 0,
            },
        );
        let text = screen(&st, &Session::new(LineEnding::None), "").join("\n");
        assert!(text.contains("#3 < 00 ff"), "{text}");
        assert!(text.contains("#2 disconnected: reset by peer"), "{text}");
        assert!(text.contains("gone"), "{text}");
        assert!(text.contains("Clients (2)"), "{text}");
        // Tab skips the gone client and wraps to "all".
        assert_eq!(cycle(&st, Target::All, 1), Target::One(1));
        assert_eq!(cycle(&st, Target::One(1), 1), Target::One(3));
        assert_eq!(cycle(&st, Target::One(3), 1), Target::All);
        assert_eq!(cycle(&st, Target::All, -1), Target::One(3));
    }
}
