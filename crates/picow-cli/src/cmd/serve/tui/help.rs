//! Every key and command of the view: the help overlay (F1, `?`, `/help`)
//! shows exactly this list, and docs/serve.md documents the same.

/// Keys, as (key, what it does).
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "send the line (or run the /command)"),
    ("Alt-Enter", "a line break in the input line"),
    (
        "Esc",
        "clear the input line; close help; leave find (never quits)",
    ),
    ("Ctrl-Q", "quit (asks first while boards are connected)"),
    ("Ctrl-C, /quit", "quit at once"),
    ("F1, ?", "this help (? when the input line is empty)"),
    (
        "Tab, Shift-Tab",
        "select the next / previous client, or all",
    ),
    ("F2", "display: text, hex, hex+text"),
    ("F3", "times: local, UTC, off"),
    ("F4", "encoding (shown and sent): UTF-8, GBK, GB18030, ..."),
    ("F5", "line ending added to sent lines: none, lf, cr, crlf"),
    ("F6", "wrap long lines / cut them (Shift-Left/Right scroll)"),
    (
        "F7",
        "pause the view (data is still received, counted, kept)",
    ),
    ("F8", "keep the text after sending (to send it again)"),
    ("F9", "input: text, text with escapes (\\r \\n \\xNN), hex"),
    ("F10", "show only the selected client's data"),
    ("PgUp, PgDn", "scroll the data; Shift-Up/Down one line"),
    ("Ctrl-Home/End", "oldest line / follow new lines again"),
    ("Ctrl-F", "find (Enter or Up: older match, Down: newer)"),
    ("Ctrl-L", "clear the data pane"),
    ("Ctrl-R", "reset the byte counters"),
    ("Ctrl-G", "open / close the group of departed clients"),
    ("Alt-1 .. Alt-0", "send macro 1 .. 10"),
    ("Left, Right", "move the cursor; Ctrl- or Alt- by word"),
    ("Home, End", "start / end of the line (also Ctrl-A, Ctrl-E)"),
    ("Up, Down", "history of sent lines (kept between runs)"),
    (
        "Ctrl-U, Ctrl-K",
        "delete to the start / to the end of the line",
    ),
    ("Ctrl-W", "delete the word before the cursor"),
    ("Ctrl-Y", "put back what was deleted last"),
];

/// Commands, as (command, what it does).
pub const COMMANDS: &[(&str, &str)] = &[
    ("/help", "this help"),
    ("/list", "the connected clients with their counters"),
    ("/select ID|all", "where typed text goes (also Tab)"),
    ("/disconnect ID", "close a client"),
    ("/hex 48 65 6c", "send bytes given in hex"),
    ("/file PATH", "send a file's bytes"),
    (
        "/auto DUR TEXT",
        "send TEXT every DUR (e.g. 1s); /auto stop",
    ),
    (
        "/m N [TEXT]",
        "send macro N; with TEXT set it (saved); /m lists",
    ),
    (
        "/save [-t] FILE",
        "write received bytes (-t: text lines with times)",
    ),
    ("/save", "stop writing"),
    ("/display text|hex|both", "how data is shown (F2)"),
    ("/time local|utc|off", "the times (F3)"),
    (
        "/encoding NAME",
        "gbk, utf-8, big5, ... for showing and sending (F4)",
    ),
    ("/ending none|lf|cr|crlf", "line ending of sent lines (F5)"),
    (
        "/input text|escapes|hex",
        "how typed text becomes bytes (F9)",
    ),
    ("/wrap, /keep, /filter", "on|off: F6, F8, F10"),
    (
        "/find TEXT",
        "highlight TEXT and go to it; /find alone clears",
    ),
    ("/pause, /clear, /reset", "F7, Ctrl-L, Ctrl-R"),
    ("/gone", "open / close the departed clients (Ctrl-G)"),
    ("/quit", "close every connection and exit"),
    ("//text", "send text that starts with /"),
];

/// The help as lines of text, in `width` columns.
pub fn lines(width: usize) -> Vec<String> {
    let key_w = KEYS.iter().map(|k| k.0.len()).max().unwrap_or(0);
    let cmd_w = COMMANDS.iter().map(|k| k.0.len()).max().unwrap_or(0);
    let mut out = vec!["Keys".to_owned()];
    let row = |name: &str, what: &str, w: usize, out: &mut Vec<String>| {
        let head = format!("  {name:<w$}  ");
        let room = width.saturating_sub(head.chars().count()).max(20);
        let mut line = head.clone();
        let mut col = 0;
        for word in what.split(' ') {
            if col > 0 && col + 1 + word.chars().count() > room {
                out.push(std::mem::take(&mut line));
                line = " ".repeat(head.chars().count());
                col = 0;
            }
            if col > 0 {
                line.push(' ');
                col += 1;
            }
            line.push_str(word);
            col += word.chars().count();
        }
        out.push(line);
    };
    for (k, w) in KEYS {
        row(k, w, key_w, &mut out);
    }
    out.push(String::new());
    out.push("Commands (type them in the input line)".to_owned());
    for (c, w) in COMMANDS {
        row(c, w, cmd_w, &mut out);
    }
    out.push(String::new());
    out.push("Other lines are sent as text to the selected client(s).".to_owned());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_fits_80_columns() {
        for l in super::lines(76) {
            assert!(l.chars().count() <= 76, "{l}");
        }
    }
}
