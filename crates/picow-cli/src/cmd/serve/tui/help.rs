//! Every key and command of the view: the help overlay (F1, `?`, `/help`)
//! shows exactly this list, and docs/serve.md documents the same.

/// Keys, as (key, the catalog id of what it does).
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "view-key-enter"),
    ("Alt-Enter", "view-key-alt-enter"),
    ("Esc", "view-key-esc"),
    ("Ctrl-Q", "view-key-ctrl-q"),
    ("Ctrl-C, /quit", "view-key-ctrl-c"),
    ("F1, ?", "view-key-f1"),
    ("Tab, Shift-Tab", "view-key-tab"),
    ("F2", "view-key-f2"),
    ("F3", "view-key-f3"),
    ("F4", "view-key-f4"),
    ("F5", "view-key-f5"),
    ("F6", "view-key-f6"),
    ("F7", "view-key-f7"),
    ("F8", "view-key-f8"),
    ("F9", "view-key-f9"),
    ("F10", "view-key-f10"),
    ("PgUp, PgDn", "view-key-pgup"),
    ("Ctrl-Home/End", "view-key-ctrl-home"),
    ("Ctrl-F", "view-key-ctrl-f"),
    ("Ctrl-L", "view-key-ctrl-l"),
    ("Ctrl-R", "view-key-ctrl-r"),
    ("Ctrl-G", "view-key-ctrl-g"),
    ("Alt-1 .. Alt-0", "view-key-alt-digit"),
    ("Left, Right", "view-key-left-right"),
    ("Home, End", "view-key-home-end"),
    ("Up, Down", "view-key-up-down"),
    ("Ctrl-U, Ctrl-K", "view-key-ctrl-u-k"),
    ("Ctrl-W", "view-key-ctrl-w"),
    ("Ctrl-Y", "view-key-ctrl-y"),
];

/// Commands, as (command, the catalog id of what it does).
pub const COMMANDS: &[(&str, &str)] = &[
    ("/help", "view-cmd-help"),
    ("/list", "view-cmd-list"),
    ("/select ID|all", "view-cmd-select"),
    ("/disconnect ID", "view-cmd-disconnect"),
    ("/hex 48 65 6c", "view-cmd-hex"),
    ("/file PATH", "view-cmd-file"),
    ("/auto DUR TEXT", "view-cmd-auto"),
    ("/m N [TEXT]", "view-cmd-m"),
    ("/save [-t] [-a] FILE", "view-cmd-save"),
    ("/save", "view-cmd-save-stop"),
    ("/display text|hex|both", "view-cmd-display"),
    ("/time local|utc|off", "view-cmd-time"),
    ("/encoding NAME", "view-cmd-encoding"),
    ("/ending none|lf|cr|crlf", "view-cmd-ending"),
    ("/input text|escapes|hex", "view-cmd-input"),
    ("/wrap, /keep, /filter", "view-cmd-toggles"),
    ("/find TEXT", "view-cmd-find"),
    ("/pause, /clear, /reset", "view-cmd-pause"),
    ("/gone", "view-cmd-gone"),
    ("/update ID [FIRMWARE]", "view-cmd-update"),
    ("/quit", "view-cmd-quit"),
    ("//text", "view-cmd-slash"),
];

/// `text` in lines of at most `width` terminal columns (a Chinese
/// character takes two): broken between words for English; Chinese has no
/// spaces, so a long word is broken where it reaches the edge.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let width = width.max(1);
    let mut out = Vec::new();
    let (mut line, mut col) = (String::new(), 0);
    for word in text.split(' ') {
        // An English word moves down whole; Chinese breaks at the edge.
        let wide = word.chars().any(|c| c.width().unwrap_or(0) > 1);
        if col > 0 && col + 1 + word.width() > width && !wide {
            out.push(std::mem::take(&mut line));
            col = 0;
        }
        if col > 0 {
            line.push(' ');
            col += 1;
        }
        for c in word.chars() {
            let w = c.width().unwrap_or(0);
            if col + w > width && col > 0 {
                out.push(std::mem::take(&mut line));
                col = 0;
            }
            line.push(c);
            col += w;
        }
    }
    out.push(line);
    out
}

/// The help as lines of text, in `width` columns.
pub fn lines(width: usize) -> Vec<String> {
    let key_w = KEYS.iter().map(|k| k.0.len()).max().unwrap_or(0);
    let cmd_w = COMMANDS.iter().map(|k| k.0.len()).max().unwrap_or(0);
    let mut out = vec![picow_i18n::tr!("view-help-keys")];
    let cols = |s: &str| unicode_width::UnicodeWidthStr::width(s);
    let row = |name: &str, id: &str, w: usize, out: &mut Vec<String>| {
        let what = picow_i18n::message(id, None);
        let head = format!("  {name:<w$}  ");
        let room = width.saturating_sub(cols(&head)).max(20);
        for (i, l) in wrap(&what, room).into_iter().enumerate() {
            let lead = if i == 0 {
                head.clone()
            } else {
                " ".repeat(cols(&head))
            };
            out.push(lead + &l);
        }
    };
    for (k, w) in KEYS {
        row(k, w, key_w, &mut out);
    }
    out.push(String::new());
    out.push(picow_i18n::tr!("view-help-commands"));
    for (c, w) in COMMANDS {
        row(c, w, cmd_w, &mut out);
    }
    out.push(String::new());
    out.push(picow_i18n::tr!("view-help-other"));
    out
}

#[cfg(test)]
mod tests {
    use picow_i18n::Lang;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn help_fits_80_columns_in_both_languages() {
        for lang in Lang::ALL {
            let lines = picow_i18n::with_lang(lang, || super::lines(76));
            for l in &lines {
                assert!(l.width() <= 76, "{lang:?}: {l}");
            }
            assert!(lines.len() > super::KEYS.len() + super::COMMANDS.len());
        }
    }

    #[test]
    fn wrap_breaks_by_display_width() {
        let l = super::wrap("abc defg hi", 8);
        assert_eq!(l, ["abc defg", "hi"]);
        // Chinese takes two columns a character and breaks anywhere.
        let l = super::wrap("开发板已断开：文字留在这里", 10);
        assert_eq!(l, ["开发板已断", "开：文字留", "在这里"]);
        // A Chinese run after a space starts on the same line (no short,
        // half-empty lines).
        let l = super::wrap("连 Wi-Fi 的开发板访问不到它", 12);
        assert_eq!(l, ["连 Wi-Fi 的", "开发板访问不", "到它"]);
        for l in super::wrap("#1 desk 已断开（对方重置了连接）：文字留在这里", 11)
        {
            assert!(l.width() <= 11, "{l}");
        }
        assert_eq!(super::wrap("averyveryverylongword", 8).len(), 3);
    }

    #[test]
    fn docs_serve_md_lists_every_key_and_command() {
        let docs = include_str!("../../../../../../docs/serve.md");
        let en = |id: &str| picow_i18n::with_lang(Lang::En, || picow_i18n::message(id, None));
        for (k, id) in super::KEYS.iter().chain(super::COMMANDS) {
            let row = format!(
                "| `{}` | {} |",
                k.replace('|', "\\|"),
                en(id).replace('|', "\\|")
            );
            assert!(docs.contains(&row), "docs/serve.md lacks the row {row}");
        }
    }

    #[test]
    fn every_help_text_is_in_both_catalogs() {
        for lang in Lang::ALL {
            let b = picow_i18n::bundle(lang).unwrap();
            for (_, id) in super::KEYS.iter().chain(super::COMMANDS) {
                assert!(b.has_message(id), "{id} missing in {lang:?}");
            }
        }
        let zh = picow_i18n::with_lang(Lang::ZhCn, || super::lines(76)).join("\n");
        assert!(zh.contains("按键") && zh.contains("清空输入行"), "{zh}");
    }
}
