//! What the view keeps per user between runs: the input history (like a
//! shell's) and the numbered macros (SSCOM's stored strings).
//!
//! - history: `$XDG_STATE_HOME/picow/serve_history` on Linux
//!   (`~/.local/state/...`), the local application data folder on Windows
//!   and macOS; one entry per line, `\n` and `\\` escaped.
//! - macros: `$XDG_CONFIG_HOME/picow/serve.toml` on Linux
//!   (`~/.config/...`), `%APPDATA%\picow\serve.toml` on Windows.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use picow_i18n::tr;
use serde::{Deserialize, Serialize};

use super::editor::HISTORY_MAX;

/// The history file, or `None` when the system has no such folder.
pub fn history_path() -> Option<PathBuf> {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("picow").join("serve_history"))
}

/// The macro file, or `None` when the system has no such folder.
pub fn config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("picow").join("serve.toml"))
}

fn escape_entry(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn unescape_entry(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Reads the history (oldest first, at most [`HISTORY_MAX`] entries); a
/// missing or unreadable file is an empty history.
pub fn load_history(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(unescape_entry)
        .collect();
    let extra = v.len().saturating_sub(HISTORY_MAX);
    v.drain(..extra);
    v
}

/// Appends one entry; when the file has grown to twice the limit it is
/// rewritten with the last [`HISTORY_MAX`] entries.
pub fn append_history(path: &Path, entry: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{}", escape_entry(entry))?;
    drop(f);
    let lines = std::fs::read_to_string(path)?.lines().count();
    if lines > 2 * HISTORY_MAX {
        let keep = load_history(path);
        let mut text = String::new();
        for e in keep {
            text.push_str(&escape_entry(&e));
            text.push('\n');
        }
        write_atomically(path, text.as_bytes())?;
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The most macros (`/m 1` to `/m 20`; Alt-1 .. Alt-9 and Alt-0 send the
/// first ten).
pub const MACROS_MAX: usize = 20;

/// The macro file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Macro 1 first; an empty string is an unused slot. Escapes as in
    /// `--send`.
    #[serde(default)]
    pub macros: Vec<String>,
}

const CONFIG_HEAD: &str = "\
# picow serve: the terminal view's macros. Alt-1 .. Alt-9 and Alt-0 send
# macro 1 .. 10, `/m N` sends macro N, `/m N TEXT` sets it (and saves this
# file). Escapes as in --send: \\r \\n \\t \\0 \\\\ \\xNN.
";

impl Config {
    /// Reads the file; a missing file is an empty configuration. A file
    /// that does not parse is an error naming the file and the line.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(tr!(
                    "view-macros-cannot-read",
                    path = path.display().to_string(),
                    reason = e.to_string()
                ))
            }
        };
        let mut c: Config = toml::from_str(&text).map_err(|e| {
            tr!(
                "view-macros-invalid",
                path = path.display().to_string(),
                reason = e.to_string().trim().to_owned()
            )
        })?;
        c.macros.truncate(MACROS_MAX);
        Ok(c)
    }

    /// Writes the file (through a temporary file, so a crash never leaves
    /// half of it).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let body = toml::to_string(self).map_err(|e| e.to_string())?;
        let err = |e: std::io::Error| {
            tr!(
                "view-macros-cannot-write",
                path = path.display().to_string(),
                reason = e.to_string()
            )
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        write_atomically(path, format!("{CONFIG_HEAD}{body}").as_bytes()).map_err(err)
    }

    /// Macro `n` (from 1), if set.
    pub fn macro_text(&self, n: usize) -> Option<&str> {
        n.checked_sub(1)
            .and_then(|i| self.macros.get(i))
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Sets macro `n` (from 1); an empty text clears it.
    pub fn set_macro(&mut self, n: usize, text: &str) -> Result<(), String> {
        if !(1..=MACROS_MAX).contains(&n) {
            return Err(tr!("view-macro-range", max = MACROS_MAX));
        }
        if self.macros.len() < n {
            self.macros.resize(n, String::new());
        }
        self.macros[n - 1] = text.to_owned();
        while self.macros.last().is_some_and(String::is_empty) {
            self.macros.pop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::env::temp_dir()
            .join(format!("picow-store-{}-{n}", std::process::id()))
            .join(name)
    }

    #[test]
    fn history_survives_a_restart_with_line_breaks() {
        let p = temp("history");
        append_history(&p, "first").unwrap();
        append_history(&p, "two\nlines \\n").unwrap();
        assert_eq!(load_history(&p), ["first", "two\nlines \\n"]);
        for i in 0..2 * HISTORY_MAX + 1 {
            append_history(&p, &i.to_string()).unwrap();
        }
        let h = load_history(&p);
        assert_eq!(h.len(), HISTORY_MAX);
        assert_eq!(h.last().unwrap(), &(2 * HISTORY_MAX).to_string());
        let lines = std::fs::read_to_string(&p).unwrap().lines().count();
        assert!(lines <= 2 * HISTORY_MAX, "the file is trimmed: {lines}");
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
        assert!(load_history(&p).is_empty());
    }

    #[test]
    fn macros_round_trip_and_bad_files_are_named() {
        let p = temp("serve.toml");
        assert_eq!(Config::load(&p).unwrap(), Config::default());
        let mut c = Config::default();
        c.set_macro(3, "AT\\r\\n").unwrap();
        c.set_macro(1, "ping").unwrap();
        assert!(c.set_macro(0, "x").is_err());
        assert!(c.set_macro(MACROS_MAX + 1, "x").is_err());
        c.save(&p).unwrap();
        let back = Config::load(&p).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.macro_text(1), Some("ping"));
        assert_eq!(back.macro_text(2), None);
        assert_eq!(back.macro_text(3), Some("AT\\r\\n"));
        c.set_macro(3, "").unwrap();
        assert_eq!(c.macros, ["ping"]);
        std::fs::write(&p, "macros = [1, 2").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert!(e.contains("serve.toml is not a valid macro file"), "{e}");
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
}
