//! The input line: a small line editor as in a shell. Cursor moves by
//! character and by word, Ctrl-U / Ctrl-W / Ctrl-K kill (Ctrl-Y puts the
//! killed text back), Up / Down walk the history, a pasted block keeps its
//! line breaks. No I/O: the history file is [`super::store`].

use unicode_width::UnicodeWidthChar;

/// The most history entries kept (in memory and in the file).
pub const HISTORY_MAX: usize = 1000;

/// The text being typed, the cursor and the history.
#[derive(Debug, Default, Clone)]
pub struct Editor {
    text: String,
    /// Byte offset into `text`, always on a character boundary.
    cursor: usize,
    /// Oldest first.
    history: Vec<String>,
    /// While walking the history with Up / Down: the entry shown.
    browsing: Option<usize>,
    /// The text typed before Up was first pressed.
    draft: String,
    /// What the last kill took.
    killed: String,
}

fn is_word(c: char) -> bool {
    !c.is_whitespace()
}

impl Editor {
    /// An empty line with `history` (oldest first).
    pub fn with_history(history: Vec<String>) -> Editor {
        let mut e = Editor {
            history,
            ..Editor::default()
        };
        let extra = e.history.len().saturating_sub(HISTORY_MAX);
        e.history.drain(..extra);
        e
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor as a byte offset into [`Editor::text`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The history, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = self.text.len();
        self.browsing = None;
    }

    /// Inserts a character at the cursor.
    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        self.browsing = None;
    }

    /// Inserts pasted text at the cursor: line breaks (`\r\n`, `\r`, `\n`)
    /// are kept, as `\n`.
    pub fn paste(&mut self, s: &str) {
        let s = s.replace("\r\n", "\n").replace('\r', "\n");
        self.text.insert_str(self.cursor, &s);
        self.cursor += s.len();
        self.browsing = None;
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text[..at]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text[at..]
            .chars()
            .next()
            .map_or(at, |c| at + c.len_utf8())
    }

    /// One character left.
    pub fn left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    /// One character right.
    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    /// To the start of the line.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// To the end of the line.
    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    /// Where the word before the cursor starts (skipping spaces first).
    fn word_start(&self) -> usize {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end_matches(|c: char| !is_word(c));
        trimmed
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_word(c))
            .map_or(0, |(i, c)| i + c.len_utf8())
    }

    /// Where the word after the cursor ends (skipping spaces first).
    fn word_end(&self) -> usize {
        let after = &self.text[self.cursor..];
        let skip = after.len() - after.trim_start_matches(|c: char| !is_word(c)).len();
        let rest = &after[skip..];
        let word = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        self.cursor + skip + word
    }

    /// To the start of the previous word.
    pub fn word_left(&mut self) {
        self.cursor = self.word_start();
    }

    /// To the end of the next word.
    pub fn word_right(&mut self) {
        self.cursor = self.word_end();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        let start = self.prev_boundary(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
        self.browsing = None;
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        let end = self.next_boundary(self.cursor);
        self.text.replace_range(self.cursor..end, "");
        self.browsing = None;
    }

    fn kill(&mut self, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.killed = self.text[range.clone()].to_owned();
        self.text.replace_range(range.clone(), "");
        self.cursor = range.start;
        self.browsing = None;
    }

    /// Ctrl-U: deletes from the start of the line to the cursor.
    pub fn kill_to_start(&mut self) {
        self.kill(0..self.cursor);
    }

    /// Ctrl-K: deletes from the cursor to the end of the line.
    pub fn kill_to_end(&mut self) {
        self.kill(self.cursor..self.text.len());
    }

    /// Ctrl-W: deletes the word before the cursor.
    pub fn kill_word(&mut self) {
        self.kill(self.word_start()..self.cursor);
    }

    /// Ctrl-Y: inserts what the last kill took.
    pub fn yank(&mut self) {
        let k = self.killed.clone();
        self.text.insert_str(self.cursor, &k);
        self.cursor += k.len();
    }

    /// Esc: empties the line (the text is not lost: it goes to the kill
    /// buffer, Ctrl-Y brings it back).
    pub fn clear(&mut self) {
        self.kill(0..self.text.len());
    }

    /// Up: the previous history entry.
    pub fn history_prev(&mut self) {
        let i = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text.clone();
                self.history.len() - 1
            }
            Some(0) => 0,
            Some(i) => i - 1,
        };
        self.browsing = Some(i);
        self.text = self.history[i].clone();
        self.cursor = self.text.len();
    }

    /// Down: the next history entry, then the text typed before.
    pub fn history_next(&mut self) {
        let Some(i) = self.browsing else { return };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            self.text = self.history[i + 1].clone();
        } else {
            self.browsing = None;
            self.text = std::mem::take(&mut self.draft);
        }
        self.cursor = self.text.len();
    }

    /// Enter: returns the text and records it in the history (not twice in
    /// a row, not when empty). The line is emptied unless `keep`. Returns
    /// the entry to append to the history file, if any.
    pub fn submit(&mut self, keep: bool) -> (String, Option<String>) {
        let text = self.text.clone();
        let mut added = None;
        if !text.is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > HISTORY_MAX {
                self.history.remove(0);
            }
            added = Some(text.clone());
        }
        self.browsing = None;
        self.draft.clear();
        if !keep {
            self.text.clear();
            self.cursor = 0;
        }
        (text, added)
    }

    /// What to draw in `width` columns: the visible part of the text (line
    /// breaks as `↵`, tabs and other control characters as `·`) and the
    /// cursor's column in it. Scrolls horizontally to keep the cursor
    /// visible.
    pub fn view(&self, width: usize) -> (String, usize) {
        let shown = |c: char| match c {
            '\n' => '↵',
            c if c.is_control() => '·',
            c => c,
        };
        let cells: Vec<(char, usize, bool)> = self
            .text
            .char_indices()
            .map(|(i, c)| {
                let c = shown(c);
                (c, c.width().unwrap_or(0), i < self.cursor)
            })
            .collect();
        let before: usize = cells.iter().filter(|c| c.2).map(|c| c.1).sum();
        if width == 0 {
            return (String::new(), 0);
        }
        // Skip whole characters from the left until the text before the
        // cursor leaves it one column of its own.
        let mut shown_before = before;
        let mut first = 0;
        while shown_before > width - 1 && first < cells.len() {
            shown_before -= cells[first].1;
            first += 1;
        }
        let mut out = String::new();
        let mut col = 0;
        for &(c, w, _) in &cells[first..] {
            if col + w > width {
                break;
            }
            out.push(c);
            col += w;
        }
        let cursor = shown_before;
        (out, cursor.min(width.saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> Editor {
        let mut e = Editor::default();
        for c in s.chars() {
            e.insert(c);
        }
        e
    }

    #[test]
    fn cursor_moves_and_edits_in_the_middle() {
        // The sequence of the issue: abcdef, Left, Left, Backspace, X,
        // Home, S, End, E gives SabcXefE.
        let mut e = typed("abcdef");
        e.left();
        e.left();
        e.backspace();
        e.insert('X');
        e.home();
        e.insert('S');
        e.end();
        e.insert('E');
        assert_eq!(e.text(), "SabcXefE");
        let (sent, added) = e.submit(false);
        assert_eq!(sent, "SabcXefE");
        assert_eq!(added.as_deref(), Some("SabcXefE"));
        assert_eq!(e.text(), "");
    }

    #[test]
    fn multibyte_characters_move_as_one() {
        let mut e = typed("中文ok");
        e.left();
        e.left();
        e.left();
        e.backspace();
        assert_eq!(e.text(), "文ok");
        e.delete();
        assert_eq!(e.text(), "ok");
        e.right();
        e.right();
        e.right();
        assert_eq!(e.cursor(), 2);
    }

    #[test]
    fn words_and_kills() {
        let mut e = typed("send  hello world");
        e.word_left();
        assert_eq!(&e.text()[e.cursor()..], "world");
        e.word_left();
        assert_eq!(&e.text()[e.cursor()..], "hello world");
        e.word_right();
        assert_eq!(&e.text()[..e.cursor()], "send  hello");
        e.kill_to_end();
        assert_eq!(e.text(), "send  hello");
        e.kill_word();
        assert_eq!(e.text(), "send  ");
        e.kill_word();
        assert_eq!(e.text(), "");
        e.yank();
        assert_eq!(e.text(), "send  ");
        e.home();
        e.right();
        e.kill_to_start();
        assert_eq!(e.text(), "end  ");
        e.clear();
        assert_eq!(e.text(), "");
        e.yank();
        assert_eq!(e.text(), "end  ");
    }

    #[test]
    fn history_walks_and_keeps_the_draft() {
        let mut e = Editor::with_history(vec!["one".into(), "two".into()]);
        e.set("dra");
        e.history_prev();
        assert_eq!(e.text(), "two");
        e.history_prev();
        e.history_prev();
        assert_eq!(e.text(), "one");
        e.history_next();
        assert_eq!(e.text(), "two");
        e.history_next();
        assert_eq!(e.text(), "dra");
        // Not recorded twice in a row; empty lines not at all.
        e.set("two");
        assert_eq!(e.submit(false).1, None);
        assert_eq!(e.submit(false).1, None);
        e.set("three");
        assert_eq!(e.submit(true).1.as_deref(), Some("three"));
        assert_eq!(e.text(), "three", "kept for re-sending");
        assert_eq!(e.history(), ["one", "two", "three"]);
        let long: Vec<String> = (0..HISTORY_MAX + 5).map(|i| i.to_string()).collect();
        let e = Editor::with_history(long);
        assert_eq!(e.history().len(), HISTORY_MAX);
        assert_eq!(e.history()[0], "5");
    }

    #[test]
    fn paste_keeps_line_breaks() {
        let mut e = typed("<>");
        e.left();
        e.paste("a\r\nb\rc\nd");
        assert_eq!(e.text(), "<a\nb\nc\nd>");
        assert_eq!(e.view(20).0, "<a↵b↵c↵d>");
    }

    #[test]
    fn view_scrolls_to_keep_the_cursor_visible() {
        let mut e = typed("0123456789abcdef");
        let (shown, cur) = e.view(8);
        assert_eq!((shown.as_str(), cur), ("9abcdef", 7));
        e.home();
        assert_eq!(e.view(8), ("01234567".into(), 0));
        let e = typed("中文字");
        // Wide characters take two columns each.
        assert_eq!(e.view(10), ("中文字".into(), 6));
        assert_eq!(e.view(5), ("文字".into(), 4));
    }
}
