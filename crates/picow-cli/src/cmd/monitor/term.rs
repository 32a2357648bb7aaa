//! The interactive terminal: raw mode with a guard that restores the
//! terminal on every way out (return, error, panic), and the keys.
//!
//! On Unix the guard saves and restores the termios of a file descriptor
//! itself, so it can be tested on a pseudo-terminal; output processing stays
//! on (`\n` still starts a new line). On Windows it uses crossterm's raw mode.

use std::io;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes to the board.
    Send(Vec<u8>),
    /// Ctrl-R: reset the board.
    Reset,
    /// Ctrl-]: leave the monitor (Ctrl-C goes to the board, as in miniterm
    /// and mpremote: MicroPython's REPL needs it to stop a running program).
    Exit,
    /// Nothing.
    None,
}

/// Maps a key to what the monitor does (espflash's mapping for the bytes).
pub fn action(key: KeyEvent) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        // Unix terminals send Ctrl-] as 0x1d, which crossterm reports as Ctrl-5.
        KeyCode::Char(']' | '5') if ctrl => Action::Exit,
        KeyCode::Char('r' | 'R') if ctrl => Action::Reset,
        KeyCode::Char(c) if ctrl && c.is_ascii_alphabetic() => {
            Action::Send(vec![(c.to_ascii_lowercase() as u8) & 0x1f])
        }
        KeyCode::Char(c) => {
            let mut b = [0; 4];
            Action::Send(c.encode_utf8(&mut b).as_bytes().to_vec())
        }
        KeyCode::Enter => Action::Send(b"\r\n".to_vec()),
        KeyCode::Backspace => Action::Send(vec![0x08]),
        KeyCode::Tab => Action::Send(b"\t".to_vec()),
        KeyCode::Esc => Action::Send(vec![0x1b]),
        KeyCode::Up => Action::Send(b"\x1b[A".to_vec()),
        KeyCode::Down => Action::Send(b"\x1b[B".to_vec()),
        KeyCode::Right => Action::Send(b"\x1b[C".to_vec()),
        KeyCode::Left => Action::Send(b"\x1b[D".to_vec()),
        KeyCode::Home => Action::Send(b"\x1b[H".to_vec()),
        KeyCode::End => Action::Send(b"\x1b[F".to_vec()),
        KeyCode::Delete => Action::Send(b"\x1b[3~".to_vec()),
        _ => Action::None,
    }
}

#[cfg(unix)]
mod imp {
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::sync::Mutex;

    use rustix::termios::{self, OptionalActions, OutputModes, Termios};

    /// What the panic hook restores if a panic skips the guard's drop.
    static SAVED: Mutex<Option<(OwnedFd, Termios)>> = Mutex::new(None);

    /// Raw mode on a terminal until dropped.
    #[derive(Debug)]
    pub struct RawMode {
        fd: OwnedFd,
        saved: Termios,
    }

    impl RawMode {
        /// Puts the terminal behind `fd` into raw mode (keys one by one, no
        /// echo, no signals from Ctrl-C), keeping output processing.
        pub fn enable(fd: impl AsFd) -> io::Result<RawMode> {
            let fd = fd.as_fd().try_clone_to_owned()?;
            let saved = termios::tcgetattr(&fd)?;
            let mut raw = saved.clone();
            raw.make_raw();
            raw.output_modes |= OutputModes::OPOST | OutputModes::ONLCR;
            termios::tcsetattr(&fd, OptionalActions::Now, &raw)?;
            let hook_fd = fd.try_clone()?;
            *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some((hook_fd, saved.clone()));
            install_panic_hook();
            Ok(RawMode { fd, saved })
        }
    }

    impl Drop for RawMode {
        fn drop(&mut self) {
            let _ = termios::tcsetattr(&self.fd, OptionalActions::Now, &self.saved);
            *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Restores the terminal before the panic message is printed (so it is
    /// readable), for panics on any thread.
    fn install_panic_hook() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if let Some((fd, t)) = SAVED.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    let _ = termios::tcsetattr(fd, OptionalActions::Now, t);
                }
                prev(info);
            }));
        });
    }
}

#[cfg(windows)]
mod imp {
    use std::io;

    /// Raw mode on the console until dropped (crossterm).
    #[derive(Debug)]
    pub struct RawMode(());

    impl RawMode {
        /// Puts the console into raw mode.
        pub fn enable() -> io::Result<RawMode> {
            crossterm::terminal::enable_raw_mode()?;
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                let prev = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| {
                    let _ = crossterm::terminal::disable_raw_mode();
                    prev(info);
                }));
            });
            Ok(RawMode(()))
        }
    }

    impl Drop for RawMode {
        fn drop(&mut self) {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

pub use imp::RawMode;

/// Raw mode on the controlling terminal (stdin).
pub fn raw_stdin() -> io::Result<RawMode> {
    #[cfg(unix)]
    {
        RawMode::enable(io::stdin())
    }
    #[cfg(windows)]
    {
        RawMode::enable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn keys() {
        let c = KeyModifiers::CONTROL;
        let n = KeyModifiers::NONE;
        // Ctrl-C and Ctrl-D are the REPL's interrupt and soft reset.
        assert_eq!(action(key(KeyCode::Char('c'), c)), Action::Send(vec![0x03]));
        assert_eq!(action(key(KeyCode::Char('d'), c)), Action::Send(vec![0x04]));
        assert_eq!(action(key(KeyCode::Char(']'), c)), Action::Exit);
        assert_eq!(action(key(KeyCode::Char('5'), c)), Action::Exit);
        assert_eq!(action(key(KeyCode::Char('r'), c)), Action::Reset);
        assert_eq!(action(key(KeyCode::Char('a'), c)), Action::Send(vec![1]));
        assert_eq!(
            action(key(KeyCode::Char('s'), n)),
            Action::Send(b"s".to_vec())
        );
        assert_eq!(
            action(key(KeyCode::Char('\u{4f60}'), n)),
            Action::Send("\u{4f60}".as_bytes().to_vec())
        );
        assert_eq!(
            action(key(KeyCode::Enter, n)),
            Action::Send(b"\r\n".to_vec())
        );
        assert_eq!(
            action(key(KeyCode::Up, n)),
            Action::Send(b"\x1b[A".to_vec())
        );
    }
}
