//! Drawing the view. Wide terminals (100 columns and more) get the client
//! list beside the data; narrower ones a one-line client bar above it. At
//! the bottom: the status bar (every toggle), the input line, and a line of
//! key hints (or the last message, on as many lines as it takes, up to
//! [`MESSAGE_LINES`]). The status bar takes a second line rather than
//! drop a toggle when one is too narrow.

use picow_i18n::tr;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::app::{ending_name, App, Input, Overlay};
use super::help;
use super::pane::{client_color, time_prefix, Clock, Display};
use super::state::ViewState;
use picow_serve::clients::{Client, Row, Selection};

/// Below this width the client list collapses to one line.
pub const WIDE: u16 = 100;
/// The client list's width on wide terminals.
const LIST_W: u16 = 34;
/// A message under the input line takes at most this many lines.
pub const MESSAGE_LINES: usize = 4;

const DIM: Style = Style::new().fg(Color::DarkGray);
const BAR: Style = Style::new().fg(Color::White).bg(Color::DarkGray);
const BAR_HOT: Style = Style::new().fg(Color::Black).bg(Color::Yellow);

fn display_name(d: Display) -> String {
    match d {
        Display::Text => tr!("view-mode-text"),
        Display::Hex => tr!("view-mode-hex"),
        Display::Both => tr!("view-mode-both"),
    }
}

fn clock_name(c: Clock) -> String {
    match c {
        Clock::Local => tr!("view-clock-local"),
        Clock::Utc => tr!("view-clock-utc"),
        Clock::Off => tr!("view-clock-off"),
    }
}

fn input_name(i: Input) -> String {
    match i {
        Input::Text => tr!("view-mode-text"),
        Input::Escapes => tr!("view-input-escapes"),
        Input::Hex => tr!("view-mode-hex"),
    }
}

/// `1234 B`, `12.3 kB`, `4.5 MB`.
pub fn size(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

fn target_label(st: &ViewState) -> (String, bool) {
    match st.clients.selected() {
        Selection::All => (tr!("view-all-n", n = st.clients.live().len()), false),
        Selection::One(id) => match st.clients.get(id) {
            Some(c) if c.gone.is_some() => (tr!("view-target-gone-label", label = c.label()), true),
            Some(c) => (c.label(), false),
            None => (format!("#{id}"), true),
        },
    }
}

/// Draws everything; returns the data pane's size (columns, rows), which
/// the keys that scroll need.
pub fn draw(frame: &mut Frame<'_>, app: &App, st: &ViewState) -> (usize, usize) {
    let area = frame.area();
    let width = area.width as usize;
    let bar = status_lines(app, st, width);
    let message = app.message.as_ref().map(|(m, err)| {
        let most = MESSAGE_LINES.min((area.height as usize / 4).max(1));
        let mut lines = help::wrap(m, width);
        if lines.len() > most {
            lines.truncate(most);
            let last = lines.pop().unwrap_or_default();
            lines.push(truncate(&(last + "…"), width));
        }
        (lines, *err)
    });
    let hint_rows = message.as_ref().map_or(1, |m| m.0.len());
    let [main, status, input, hints] = Layout::vertical([
        Constraint::Min(2),
        Constraint::Length(bar.len() as u16),
        Constraint::Length(1),
        Constraint::Length(hint_rows as u16),
    ])
    .areas(area);
    let data = if area.width >= WIDE && area.height >= 12 {
        let [list, data] =
            Layout::horizontal([Constraint::Length(LIST_W), Constraint::Min(20)]).areas(main);
        client_list(frame, app, st, list);
        data
    } else {
        let [bar, data] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(main);
        client_bar(frame, st, bar);
        data
    };
    let size = data_pane(frame, app, st, data);
    frame.render_widget(Paragraph::new(bar).style(BAR), status);
    input_line(frame, app, st, input);
    match message {
        Some((lines, err)) => {
            let style = if err {
                Style::default().fg(Color::Red)
            } else {
                Style::default().fg(Color::Yellow)
            };
            let lines: Vec<Line> = lines.into_iter().map(Line::from).collect();
            frame.render_widget(Paragraph::new(lines).style(style), hints);
        }
        None => hint_line(frame, hints),
    }
    match app.overlay {
        Overlay::Help(top) => help_overlay(frame, top, area),
        Overlay::Quit => quit_overlay(frame, st, area),
        Overlay::None => {}
    }
    size
}

fn client_rows(c: &Client, selected: bool, app: &App, width: usize) -> ListItem<'static> {
    let mark = if selected { "▶ " } else { "  " };
    let tag = Style::default().fg(client_color(c.id));
    if let Some((at, reason)) = &c.gone {
        let t = time_prefix(
            if app.clock == Clock::Off {
                Clock::Local
            } else {
                app.clock
            },
            &app.tz,
            *at,
        );
        let t = t.get(..8).unwrap_or(&t).to_owned();
        let style = if selected {
            DIM.add_modifier(Modifier::BOLD)
        } else {
            DIM
        };
        let mut lines = vec![Line::styled(
            format!(
                "{mark}{} {}",
                c.label(),
                tr!("view-gone-at", time = t.as_str())
            ),
            style,
        )];
        if selected {
            lines.push(Line::styled(
                truncate(
                    &format!(
                        "    {}",
                        tr!("view-gone-waiting", reason = reason.localized())
                    ),
                    width,
                ),
                DIM,
            ));
        }
        return ListItem::new(lines);
    }
    let head = Line::from(vec![
        Span::raw(mark),
        Span::styled(format!("#{}", c.id), tag.add_modifier(Modifier::BOLD)),
        Span::raw(match &c.name {
            Some(n) => format!(" {n}"),
            None if c.picow => " PicoW".into(),
            None => String::new(),
        }),
        Span::styled(
            c.version
                .as_deref()
                .map_or_else(String::new, |v| format!(" {v}")),
            DIM,
        ),
    ]);
    let detail = truncate(
        &format!(
            "    {}  ↓{} ↑{}",
            c.peer,
            size(c.bytes_in),
            size(c.bytes_out)
        ),
        width,
    );
    let item = ListItem::new(vec![head, Line::raw(detail)]);
    if selected {
        item.style(Style::default().add_modifier(Modifier::BOLD))
    } else {
        item
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    for c in s.chars() {
        if out.width() + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) + 1 > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

fn client_list(frame: &mut Frame<'_>, app: &App, st: &ViewState, area: Rect) {
    let c = &st.clients;
    let title = format!(
        " {} ",
        tr!("view-clients", live = c.live().len(), gone = c.gone_count())
    );
    let block = Block::new()
        .borders(Borders::TOP | Borders::RIGHT)
        .border_style(DIM)
        .title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ));
    let width = area.width.saturating_sub(1) as usize;
    let sel = c.selected();
    let mut items: Vec<ListItem> = c
        .rows()
        .into_iter()
        .map(|r| match r {
            Row::All => {
                let s = sel == Selection::All;
                ListItem::new(format!(
                    "{}{}",
                    if s { "▶ " } else { "  " },
                    tr!("view-all-clients")
                ))
                .style(if s {
                    Style::default().add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                })
            }
            Row::Live(cl) => client_rows(cl, sel == Selection::One(cl.id), app, width),
            Row::Gone(cl) => client_rows(cl, sel == Selection::One(cl.id), app, width),
            Row::GoneHeader(n, open) => ListItem::new(Line::styled(
                format!(
                    "{} {}",
                    if open { "▾" } else { "▸" },
                    tr!("view-gone-group", n = n)
                ),
                DIM,
            )),
        })
        .collect();
    if c.live().is_empty() {
        items.insert(1, ListItem::new(""));
        items.insert(
            2,
            ListItem::new(Line::styled(format!("  {}", tr!("view-no-board")), DIM)),
        );
        if let Some(w) = &st.warning {
            // Listening on loopback: no address for the board, but why
            // and what to do.
            for (i, l) in help::wrap(w, width.saturating_sub(3))
                .into_iter()
                .enumerate()
            {
                items.insert(
                    3 + i,
                    ListItem::new(Line::styled(
                        format!("  {l}"),
                        Style::default().fg(Color::Red),
                    )),
                );
            }
        } else if let Some(o) = st.offers.first() {
            for l in [
                format!("  {}", tr!("view-give-fw")),
                format!("    {}", o.server),
                format!("  {}", tr!("view-give-mp")),
                format!("    {}", o.micropython),
            ] {
                items.insert(
                    items.len().min(3 + 4),
                    ListItem::new(Line::styled(truncate(&l, width), DIM)),
                );
            }
        }
    }
    let mut state = ListState::default().with_selected(Some(c.selected_row()));
    frame.render_stateful_widget(
        List::new(items)
            .block(block)
            .highlight_style(Style::default()),
        area,
        &mut state,
    );
}

fn client_bar(frame: &mut Frame<'_>, st: &ViewState, area: Rect) {
    let c = &st.clients;
    let mut spans = vec![Span::styled(
        format!(
            "{} ",
            tr!("view-clients", live = c.live().len(), gone = c.gone_count())
        ),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    match c.selected_client() {
        Some(cl) => {
            spans.push(Span::raw("│ ▶ "));
            spans.push(Span::styled(
                cl.label(),
                Style::default()
                    .fg(client_color(cl.id))
                    .add_modifier(Modifier::BOLD),
            ));
            if cl.gone.is_some() {
                spans.push(Span::styled(format!(" {}", tr!("view-bar-gone")), DIM));
            } else {
                spans.push(Span::raw(format!(
                    " {} ↓{} ↑{}",
                    cl.peer,
                    size(cl.bytes_in),
                    size(cl.bytes_out)
                )));
            }
        }
        None if c.live().is_empty() => {
            if let Some((ip, _)) = st.loopback {
                spans.push(Span::styled(
                    format!("│ {}", tr!("view-bar-loopback", ip = ip.to_string())),
                    Style::default().fg(Color::Red),
                ));
            } else if let Some(o) = st.offers.first() {
                spans.push(Span::styled(
                    format!(
                        "│ {}",
                        tr!(
                            "view-bar-give",
                            server = o.server.as_str(),
                            micropython = o.micropython.as_str()
                        )
                    ),
                    DIM,
                ));
            }
        }
        None => {
            spans.push(Span::raw(format!("│ ▶ {} ", tr!("view-bar-all"))));
            let ids: Vec<String> = c.live().iter().map(Client::label).collect();
            spans.push(Span::raw(ids.join(", ")));
        }
    }
    spans.push(Span::styled(format!("  {}", tr!("view-bar-tab")), DIM));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn data_pane(frame: &mut Frame<'_>, app: &App, st: &ViewState, area: Rect) -> (usize, usize) {
    let mut title = vec![Span::styled(
        format!(" {} ", tr!("view-data")),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let look = app.look(st);
    if let Some(id) = look.only {
        title.push(Span::raw(format!("· {} ", tr!("view-only", id = id))));
    }
    let pane = &st.pane;
    if pane.paused {
        title.push(Span::styled(
            format!(" {} ", tr!("view-paused", n = pane.below)),
            BAR_HOT,
        ));
    } else if !pane.is_live() {
        title.push(Span::styled(
            format!(" {} ", tr!("view-scrolled", n = pane.below)),
            BAR_HOT,
        ));
    }
    if let Some(f) = &look.find {
        title.push(Span::styled(
            format!(" {} ", tr!("view-find", text = *f)),
            Style::default().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(DIM)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (w, h) = (inner.width as usize, inner.height as usize);
    let look = super::pane::Look { width: w, ..look };
    let rows = pane.view(&look, h);
    frame.render_widget(Paragraph::new(rows), inner);
    (w, h)
}

/// The status bar: one line, or two when the terminal is too narrow for
/// every toggle on one (only then are the least important dropped).
fn status_lines(app: &App, st: &ViewState, width: usize) -> Vec<Line<'static>> {
    let (to, gone) = target_label(st);
    // (text, style, priority: lower stays longer)
    let mut segs: Vec<(String, Style, u8)> = vec![(
        format!(" {} ", tr!("view-to", target = to.as_str())),
        if gone {
            BAR_HOT
        } else {
            BAR.add_modifier(Modifier::BOLD)
        },
        0,
    )];
    if st.pane.paused {
        segs.push((format!(" {} ", tr!("view-st-paused")), BAR_HOT, 0));
    }
    if let Some(s) = &st.save {
        let name = s.path.file_name().map_or_else(
            || s.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        segs.push((
            format!(
                " {} ",
                tr!("view-st-save", file = name.as_str(), size = size(s.written))
            ),
            BAR_HOT,
            1,
        ));
    }
    if let Some(a) = &st.auto {
        // The engine's real sends; while its board is gone it waits.
        let to = match a.to {
            Some(id) => format!("#{id}"),
            None => tr!("view-st-all"),
        };
        let mut text = tr!(
            "view-st-auto",
            every = picow_values::duration::format(a.every),
            to = to.as_str(),
            n = a.sent
        );
        if a.waiting {
            text = tr!("view-st-auto-waiting", auto = text);
        }
        segs.push((format!(" {text} "), BAR_HOT, 1));
    }
    segs.push((
        format!(
            " {} ",
            tr!(
                "view-st-counts",
                rx = size(st.bytes_in),
                tx = size(st.bytes_out)
            )
        ),
        BAR,
        2,
    ));
    segs.push((format!(" {} ", display_name(app.display)), BAR, 3));
    segs.push((format!(" {} ", app.session.charset.name()), BAR, 3));
    segs.push((
        format!(
            " {} ",
            tr!("view-st-end", end = ending_name(app.session.ending))
        ),
        BAR,
        4,
    ));
    if app.input != Input::Text {
        segs.push((
            format!(" {} ", tr!("view-st-input", mode = input_name(app.input))),
            BAR_HOT,
            3,
        ));
    }
    segs.push((
        format!(" {} ", tr!("view-st-time", clock = clock_name(app.clock))),
        BAR,
        5,
    ));
    segs.push((
        if app.wrap {
            format!(" {} ", tr!("view-st-wrap"))
        } else {
            format!(" {} ", tr!("view-st-cut", n = app.hscroll))
        },
        BAR,
        6,
    ));
    if app.keep {
        segs.push((format!(" {} ", tr!("view-st-keep")), BAR, 6));
    }
    let fits = |segs: &[(String, Style, u8)], rows: usize| lay_bar(segs, width).len() <= rows;
    let rows = if fits(&segs, 1) { 1 } else { 2 };
    while !fits(&segs, rows) {
        let worst = segs.iter().map(|s| s.2).max().unwrap_or(0);
        if worst == 0 {
            break;
        }
        if let Some(i) = segs.iter().rposition(|s| s.2 == worst) {
            segs.remove(i);
        }
    }
    lay_bar(&segs, width)
        .into_iter()
        .take(rows)
        .map(|row| {
            let mut spans = Vec::new();
            for (i, (t, s)) in row.into_iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled("│", BAR));
                }
                spans.push(Span::styled(t, s));
            }
            Line::from(spans)
        })
        .collect()
}

/// The status bar's segments in rows of `width` columns, in order.
fn lay_bar(segs: &[(String, Style, u8)], width: usize) -> Vec<Vec<(String, Style)>> {
    let mut rows: Vec<Vec<(String, Style)>> = vec![Vec::new()];
    let mut used = 0;
    for (t, style, _) in segs {
        let w = t.width();
        let row = rows.last_mut().expect("one row at least");
        if !row.is_empty() && used + 1 + w > width {
            rows.push(vec![(t.clone(), *style)]);
            used = w;
        } else {
            used += w + usize::from(!row.is_empty());
            row.push((t.clone(), *style));
        }
    }
    rows
}

fn input_line(frame: &mut Frame<'_>, app: &App, st: &ViewState, area: Rect) {
    let (prompt, style, editor) = match &app.finding {
        Some(f) => (
            format!("{} ", tr!("view-find-prompt")),
            Style::default().fg(Color::Yellow),
            f,
        ),
        None => {
            let (to, gone) = target_label(st);
            (
                format!("{to}> "),
                if gone {
                    Style::default().fg(Color::Yellow)
                } else {
                    Style::default().fg(Color::Cyan)
                },
                &app.editor,
            )
        }
    };
    let pw = prompt.width().min(area.width as usize / 2);
    let prompt = truncate(&prompt, pw);
    let room = (area.width as usize).saturating_sub(prompt.width());
    let (text, cursor) = editor.view(room);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(prompt.clone(), style.add_modifier(Modifier::BOLD)),
            Span::raw(text),
        ])),
        area,
    );
    if app.overlay == Overlay::None {
        frame.set_cursor_position((area.x + (prompt.width() + cursor) as u16, area.y));
    }
}

/// The key hints, as (key, catalog id of its word); as many whole ones as
/// fit are shown.
pub const HINTS: &[(&str, &str)] = &[
    ("F1", "view-hint-help"),
    ("Tab", "view-hint-client"),
    ("F2", "view-hint-hex"),
    ("F3", "view-hint-time"),
    ("F4", "view-hint-enc"),
    ("F5", "view-hint-end"),
    ("F6", "view-hint-wrap"),
    ("F7", "view-hint-pause"),
    ("^F", "view-hint-find"),
    ("^L", "view-hint-clear"),
    ("^Q", "view-hint-quit"),
];

fn hint_line(frame: &mut Frame<'_>, area: Rect) {
    let width = area.width as usize;
    // "F1 help" and "^Q quit" always; the others in order, as they fit.
    let hints: Vec<(&str, String)> = HINTS
        .iter()
        .map(|(k, id)| (*k, picow_i18n::message(id, None)))
        .collect();
    let w = |h: &(&str, String)| h.0.width() + 1 + h.1.width() + 2;
    let (first, last) = (&hints[0], &hints[hints.len() - 1]);
    let mut chosen = vec![first];
    let mut used = w(first) + w(last);
    for h in &hints[1..hints.len() - 1] {
        if used + w(h) > width {
            break;
        }
        chosen.push(h);
        used += w(h);
    }
    chosen.push(last);
    let mut spans = Vec::new();
    for (key, what) in chosen {
        spans.push(Span::styled(
            key.to_string(),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(format!(" {what}  "), DIM));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn help_overlay(frame: &mut Frame<'_>, top: usize, area: Rect) {
    let r = centered(area, 80, area.height.saturating_sub(2).max(5));
    let inner_w = r.width.saturating_sub(2) as usize;
    let lines = help::lines(inner_w);
    let h = r.height.saturating_sub(2) as usize;
    let top = top.min(lines.len().saturating_sub(h));
    let more = if top + h < lines.len() {
        format!(" {}/{} ↓ ", top + h, lines.len())
    } else {
        format!(" {}/{} ", lines.len(), lines.len())
    };
    let block = Block::bordered()
        .title(Span::styled(
            format!(" {} ", tr!("view-help-title")),
            Style::default().add_modifier(Modifier::BOLD),
        ))
        .title_bottom(Line::from(more).right_aligned());
    let body: Vec<Line> = lines
        .into_iter()
        .skip(top)
        .take(h)
        .map(|l| {
            if l.starts_with(' ') || l.is_empty() {
                Line::raw(l)
            } else {
                Line::styled(l, Style::default().add_modifier(Modifier::BOLD))
            }
        })
        .collect();
    frame.render_widget(Clear, r);
    frame.render_widget(Paragraph::new(body).block(block), r);
}

fn quit_overlay(frame: &mut Frame<'_>, st: &ViewState, area: Rect) {
    let n = st.clients.live().len();
    let r = centered(area, 56, 6);
    let body = vec![
        Line::raw(tr!("view-quit-clients", n = n)),
        Line::raw(tr!("view-quit-mp")),
        Line::raw(""),
        Line::from(vec![
            Span::styled("y", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(format!(" {}    ", tr!("view-quit-yes"))),
            Span::styled(
                tr!("view-quit-any"),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(" {}", tr!("view-quit-stay"))),
        ]),
    ];
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(body)
            .block(Block::bordered().title(format!(" {} ", tr!("view-quit-title")))),
        r,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::serve::tui::app::tests::{app, key};
    use bytes::Bytes;
    use crossterm::event::KeyCode;
    use picow_serve::{Event, LanAddr};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::time::{Duration, SystemTime};

    fn at(s: u64) -> SystemTime {
        // 2026-12-01 09:12:00 UTC, shown as 17:12 in UTC+8.
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_116_320 + s)
    }

    fn session() -> ViewState {
        let mut st = ViewState::default();
        st.apply(
            at(0),
            &Event::Listening {
                version: picow_serve::event::SCHEMA_VERSION,
                hints: Vec::new(),
                transport: picow_protocol::Transport::Tcp,
                local: vec!["[::]:10000".parse().unwrap()],
                lan: vec![
                    LanAddr {
                        iface: "vboxnet0".into(),
                        ip: "192.168.56.1".parse().unwrap(),
                    },
                    LanAddr {
                        iface: "wlan0".into(),
                        ip: "192.168.2.118".parse().unwrap(),
                    },
                ],
            },
        );
        let boards = [
            (1, "192.0.2.50:50123", "desk"),
            (2, "192.0.2.51:50200", "lab"),
        ];
        for (id, peer, name) in boards {
            st.apply(
                at(1),
                &Event::Connected {
                    id,
                    peer: peer.parse().unwrap(),
                },
            );
            let hello = format!("Hello WalnutPi! ({name})");
            st.apply(
                at(1),
                &Event::Data {
                    id,
                    bytes: Bytes::from(hello.into_bytes()),
                    text: "".into(),
                },
            );
            st.apply(
                at(1),
                &Event::Picow {
                    id,
                    name: Some(name.into()),
                },
            );
        }
        st.apply(
            at(2),
            &Event::Connected {
                id: 3,
                peer: "192.0.2.77:4000".parse().unwrap(),
            },
        );
        st.apply(
            at(3),
            &Event::Disconnected {
                id: 3,
                peer: "192.0.2.77:4000".parse().unwrap(),
                reason: "reset by peer".into(),
                bytes_in: 0,
                bytes_out: 0,
            },
        );
        st.apply(
            at(4),
            &Event::Sent {
                id: 1,
                bytes: Bytes::from_static(b"ping\r\n"),
                text: "".into(),
            },
        );
        st.apply(
            at(4),
            &Event::Data {
                id: 1,
                bytes: Bytes::from_static("I got:ping\r\n温度 23.5\r\n".as_bytes()),
                text: "".into(),
            },
        );
        let long: String = (0..120)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        st.apply(
            at(5),
            &Event::Data {
                id: 2,
                bytes: Bytes::from(format!("{long}\n").into_bytes()),
                text: "".into(),
            },
        );
        st.clients.select(super::Selection::One(1));
        st
    }

    fn screen(app: &mut App, st: &ViewState, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        // Twice: the first draw tells the app the pane's size.
        for _ in 0..2 {
            t.draw(|f| app.pane_size = draw(f, app, st)).unwrap();
        }
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            let mut x = 0;
            while x < buf.area.width {
                let sym = buf[(x, y)].symbol();
                line.push_str(sym);
                // A wide character covers the next cell too.
                x += UnicodeWidthStr::width(sym).max(1) as u16;
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "insta finds no snapshot file under Wine (a Linux path); the snapshots are checked on Linux"
    )]
    fn main_screen_80x24() {
        let mut a = app();
        let st = session();
        a.editor.set("hello");
        insta::assert_snapshot!(screen(&mut a, &st, 80, 24));
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "insta finds no snapshot file under Wine (a Linux path); the snapshots are checked on Linux"
    )]
    fn main_screen_in_chinese_80x24_and_160x45() {
        picow_i18n::with_lang(picow_i18n::Lang::ZhCn, || {
            let mut a = app();
            let mut st = session();
            a.editor.set("你好");
            insta::assert_snapshot!("zh_cn_80x24", screen(&mut a, &st, 80, 24));
            insta::assert_snapshot!("zh_cn_160x45", screen(&mut a, &st, 160, 45));
            a.key(key(KeyCode::F(1)), &mut st);
            insta::assert_snapshot!("zh_cn_help_80x24", screen(&mut a, &st, 80, 24));
        });
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "insta finds no snapshot file under Wine (a Linux path); the snapshots are checked on Linux"
    )]
    fn main_screen_160x45() {
        let mut a = app();
        let st = session();
        a.editor.set("hello");
        insta::assert_snapshot!(screen(&mut a, &st, 160, 45));
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "insta finds no snapshot file under Wine (a Linux path); the snapshots are checked on Linux"
    )]
    fn hex_text_no_wrap_saving_160x45() {
        let mut a = app();
        let mut st = session();
        a.display = super::super::pane::Display::Both;
        // Simulated: the count is the engine's (its `auto` events).
        st.auto = Some(super::super::state::AutoView::new(
            Duration::from_secs(1),
            picow_serve::Target::One(1),
            bytes::Bytes::from_static(b"ping"),
        ));
        st.apply(
            at(40),
            &picow_serve::Event::Auto {
                state: picow_serve::AutoState::Sent,
                every: Duration::from_secs(1),
                to: Some(1),
                count: 7,
            },
        );
        let dir = std::env::temp_dir().join(format!("picow-render-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        a.command(&format!("/save {}", dir.join("rx.bin").display()), &mut st)
            .unwrap();
        // The message names the temporary folder.
        assert!(a
            .message
            .take()
            .unwrap()
            .0
            .contains("saving the bytes received from #1"));
        insta::assert_snapshot!(screen(&mut a, &st, 160, 45));
        a.display = super::super::pane::Display::Text;
        a.key(key(KeyCode::F(6)), &mut st);
        a.key(key(KeyCode::F(7)), &mut st);
        let s = screen(&mut a, &st, 160, 45);
        assert!(s.contains("PAUSED, 0 new"), "{s}");
        assert!(s.contains("│ cut +0"), "{s}");
        assert!(s.contains("● save rx.bin 0 B"), "{s}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "insta finds no snapshot file under Wine (a Linux path); the snapshots are checked on Linux"
    )]
    fn help_and_quit_overlays_80x24() {
        let mut a = app();
        let mut st = session();
        a.key(key(KeyCode::F(1)), &mut st);
        insta::assert_snapshot!("help_80x24", screen(&mut a, &st, 80, 24));
        a.key(key(KeyCode::Esc), &mut st);
        a.key(
            crossterm::event::KeyEvent::new(
                KeyCode::Char('q'),
                crossterm::event::KeyModifiers::CONTROL,
            ),
            &mut st,
        );
        insta::assert_snapshot!("quit_80x24", screen(&mut a, &st, 80, 24));
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "insta finds no snapshot file under Wine (a Linux path); the snapshots are checked on Linux"
    )]
    fn waiting_for_a_board_100x30() {
        let mut a = app();
        let mut st = ViewState::default();
        st.apply(
            at(0),
            &Event::Listening {
                version: picow_serve::event::SCHEMA_VERSION,
                hints: Vec::new(),
                transport: picow_protocol::Transport::Tcp,
                local: vec!["127.0.0.1:10000".parse().unwrap()],
                lan: vec![],
            },
        );
        insta::assert_snapshot!(screen(&mut a, &st, 100, 30));
        // Narrow: the client bar says it too; 127.0.0.1 is never offered.
        let s = screen(&mut a, &st, 80, 24);
        let top = s.lines().next().unwrap();
        assert!(
            top.contains("127.0.0.1 only: a board on Wi-Fi cannot"),
            "{s}"
        );
        assert!(!s.contains("--server 127.0.0.1"), "{s}");
    }

    #[test]
    fn very_narrow_terminals_keep_input_and_status() {
        let mut a = app();
        let st = session();
        a.editor.set("typed");
        for (w, h) in [(40, 10), (60, 15), (20, 6)] {
            let s = screen(&mut a, &st, w, h);
            let lines: Vec<&str> = s.lines().collect();
            assert!(lines[h as usize - 2].contains("typed"), "{s}");
            // The status bar: one line, or two when narrow.
            let bar = lines[h as usize - 4..h as usize - 2].join("\n");
            assert!(bar.contains("to #1"), "{s}");
            if w >= 40 {
                assert!(bar.contains("wrap") && bar.contains("time local"), "{s}");
            }
            assert!(lines[h as usize - 1].contains("F1"), "{s}");
        }
    }

    /// At 80 columns with every toggle on, none is dropped: the status bar
    /// takes a second line. A long message wraps instead of being cut.
    #[test]
    fn every_toggle_and_a_long_message_fit_80x24() {
        for lang in picow_i18n::Lang::ALL {
            picow_i18n::with_lang(lang, || {
                let mut a = app();
                let mut st = session();
                a.input = Input::Escapes;
                a.keep = true;
                a.wrap = false;
                st.pane.paused = true;
                st.auto = Some(super::super::state::AutoView::new(
                    Duration::from_millis(500),
                    picow_serve::Target::All,
                    bytes::Bytes::from_static(b"x"),
                ));
                let s = screen(&mut a, &st, 80, 24);
                let lines: Vec<&str> = s.lines().collect();
                let bar = lines[20..22].join("\n");
                for want in [
                    tr!("view-st-paused"),
                    tr!(
                        "view-st-auto",
                        every = "500ms",
                        to = tr!("view-st-all"),
                        n = 0
                    ),
                    tr!("view-st-input", mode = tr!("view-input-escapes")),
                    tr!("view-st-time", clock = tr!("view-clock-local")),
                    tr!("view-st-cut", n = 0),
                    tr!("view-st-keep"),
                    tr!("view-st-end", end = "none"),
                    "UTF-8".to_owned(),
                ] {
                    assert!(bar.contains(&want), "{lang:?}: {want} not in\n{s}");
                }
                // A long message: every word of it is on the screen.
                st.clients.select(picow_serve::clients::Selection::One(3));
                a.editor.set("hello");
                a.key(key(KeyCode::Enter), &mut st);
                let msg = a.message.clone().unwrap().0;
                assert!(msg.width() > 80, "{msg}");
                let s = screen(&mut a, &st, 80, 24);
                let lines: Vec<&str> = s.lines().collect();
                let shown: String = lines[lines.len() - 2..]
                    .iter()
                    .map(|l| l.trim_end())
                    .collect();
                for word in msg
                    .split([' ', '：', '，'])
                    .filter(|w| w.chars().count() > 2)
                {
                    let word: String = word.chars().take(3).collect();
                    assert!(
                        shown.contains(&word),
                        "{lang:?}: {word} of {msg} not in\n{s}"
                    );
                }
            });
        }
    }
}
