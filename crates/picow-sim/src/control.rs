//! The control socket protocol: what a pty cannot carry (DTR/RTS resets,
//! unplugging the cable), as one text line per command on a Unix socket.
//!
//! | command | effect | reply |
//! |---|---|---|
//! | `status` | nothing | `ok mode=… dialect=… baud=… plugged=… pty=…` |
//! | `reset download` | reset with BOOT held: ROM loader | `ok mode=download` |
//! | `reset run` | reset: boot from flash | `ok mode=running` or `ok mode=halted reason="…"` |
//! | `unplug` | the pty and its link disappear | `ok unplugged` |
//! | `replug [download\|run]` | a new pty (likely a new path) and link | `ok pty=/dev/pts/N` |
//! | `panic` | the running firmware panics with a backtrace | `ok panicked` |
//! | `hang` | the board stops reading and answering until a reset or unplug | `ok hung` |
//! | `fail-next-boot` | the next app that boots crashes once it has started (then the board restarts) | `ok fail-next-boot` |
//! | `help` | nothing | `ok commands: …` |
//!
//! Anything else gets `error …` naming the command and what is accepted.
//! Every reply is one line.

use core::fmt;

/// Which mode a reset enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMode {
    /// GPIO0 held low: the ROM serial loader.
    Download,
    /// Normal boot from flash.
    Run,
}

impl fmt::Display for BootMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootMode::Download => "download",
            BootMode::Run => "run",
        })
    }
}

/// A control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlCommand {
    /// Report the board's state.
    Status,
    /// Reset into a mode.
    Reset(BootMode),
    /// Pull the cable.
    Unplug,
    /// Plug it back in; `None` boots the way the board started.
    Replug(Option<BootMode>),
    /// Make the running firmware panic: the console shows an esp-backtrace
    /// style panic with a backtrace of the booted app, and the board halts
    /// (for testing backtrace decoding without a crashing firmware).
    Panic,
    /// The board wedges: it reads nothing and says nothing until a reset or
    /// an unplug, so what the host writes piles up in the pty (for testing
    /// that tools give up with a message rather than wait forever).
    Hang,
    /// The next app that boots crashes right after it started (after its
    /// boot decisions: an image on trial has been marked so), prints a
    /// panic and the board restarts; for testing rollback.
    FailNextBoot,
    /// List the commands.
    Help,
}

/// The command list `help` and errors show.
pub const HELP: &str = "status, reset download, reset run, unplug, replug [download|run], panic, hang, fail-next-boot, help";

/// A line that is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown control command `{0}`; commands: {HELP}")]
pub struct BadCommand(pub String);

impl ControlCommand {
    /// Parses one line (surrounding whitespace and case are ignored).
    pub fn parse(line: &str) -> Result<ControlCommand, BadCommand> {
        let lower = line.trim().to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let mode = |w: &str| match w {
            "download" | "bootloader" => Some(BootMode::Download),
            "run" | "app" => Some(BootMode::Run),
            _ => None,
        };
        match words.as_slice() {
            ["status"] => Ok(ControlCommand::Status),
            ["help"] => Ok(ControlCommand::Help),
            ["reset", m] if mode(m).is_some() => {
                Ok(ControlCommand::Reset(mode(m).unwrap_or(BootMode::Run)))
            }
            ["unplug"] => Ok(ControlCommand::Unplug),
            ["panic"] => Ok(ControlCommand::Panic),
            ["hang"] => Ok(ControlCommand::Hang),
            ["fail-next-boot"] => Ok(ControlCommand::FailNextBoot),
            ["replug"] => Ok(ControlCommand::Replug(None)),
            ["replug", m] if mode(m).is_some() => Ok(ControlCommand::Replug(mode(m))),
            _ => Err(BadCommand(line.trim().chars().take(80).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_commands() {
        assert_eq!(
            ControlCommand::parse("status\n"),
            Ok(ControlCommand::Status)
        );
        assert_eq!(
            ControlCommand::parse("  RESET download "),
            Ok(ControlCommand::Reset(BootMode::Download))
        );
        assert_eq!(
            ControlCommand::parse("reset run"),
            Ok(ControlCommand::Reset(BootMode::Run))
        );
        assert_eq!(ControlCommand::parse("unplug"), Ok(ControlCommand::Unplug));
        assert_eq!(ControlCommand::parse("panic"), Ok(ControlCommand::Panic));
        assert_eq!(ControlCommand::parse("HANG"), Ok(ControlCommand::Hang));
        assert_eq!(
            ControlCommand::parse("fail-next-boot"),
            Ok(ControlCommand::FailNextBoot)
        );
        assert_eq!(
            ControlCommand::parse("replug"),
            Ok(ControlCommand::Replug(None))
        );
        assert_eq!(
            ControlCommand::parse("replug run"),
            Ok(ControlCommand::Replug(Some(BootMode::Run)))
        );
        let e = ControlCommand::parse("reset sideways").unwrap_err();
        assert!(e.to_string().contains("`reset sideways`"));
        assert!(e.to_string().contains("reset download"));
        assert!(ControlCommand::parse("").is_err());
    }
}

/// Finding and talking to a virtual board's control socket, for tools
/// (`picow flash`, `picow monitor`) that were given only a serial port.
pub mod client {
    use std::io::{self, BufRead, BufReader, Write};
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::net::UnixStream;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    /// Where running boards register their ptys:
    /// `$XDG_RUNTIME_DIR/picow-sim`, else `<temp dir>/picow-sim-<uid>`.
    pub fn registry_dir() -> PathBuf {
        match std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
        {
            Some(d) => d.join("picow-sim"),
            None => std::env::temp_dir().join(format!("picow-sim-{}", nix::unistd::getuid())),
        }
    }

    /// The registry entry name of a pty: `/dev/pts/4` → `pts-4`.
    pub fn entry_name(pty: &Path) -> String {
        let s = pty.to_string_lossy();
        s.trim_start_matches("/dev/").replace('/', "-")
    }

    /// A socket file that a board answers on (a board killed with SIGKILL
    /// leaves its socket file and registry entry behind).
    fn is_socket(p: &Path) -> bool {
        std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket())
            && UnixStream::connect(p).is_ok()
    }

    /// The environment variable that names a virtual board's control
    /// socket outright (for a board whose pty was passed on without its
    /// link).
    pub const CONTROL_ENV: &str = "PICOW_SIM_CONTROL";

    /// The control socket of the virtual board behind `port` (a pty path or
    /// a `--link` to one), or `None` when `port` is not a virtual board.
    ///
    /// The one rule, used by `picow flash`, `picow monitor` and `picow
    /// probe`: the first of these that is a socket a board answers on:
    /// 1. `explicit` (`picow monitor --sim-control`), else the
    ///    [`CONTROL_ENV`] variable;
    /// 2. `PORT.control`, next to the port (where `picow sim --link PORT`
    ///    puts it);
    /// 3. the registry entry of the pty behind `port` (see [`registry_dir`]).
    pub fn find_control_socket(explicit: Option<&Path>, port: &Path) -> Option<PathBuf> {
        let named = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(CONTROL_ENV).map(PathBuf::from));
        if let Some(p) = named.filter(|p| is_socket(p)) {
            return Some(p);
        }
        control_socket_for(port)
    }

    /// Steps 2 and 3 of [`find_control_socket`]: `PORT.control`, then the
    /// registry.
    pub fn control_socket_for(port: &Path) -> Option<PathBuf> {
        let mut next_to = port.as_os_str().to_owned();
        next_to.push(".control");
        let next_to = PathBuf::from(next_to);
        if is_socket(&next_to) {
            return Some(next_to);
        }
        let pty = std::fs::canonicalize(port).ok()?;
        let entry = registry_dir().join(entry_name(&pty));
        let socket = std::fs::read_link(entry).ok()?;
        is_socket(&socket).then_some(socket)
    }

    /// Sends one command and returns the reply line when it is `ok …`; an
    /// `error …` reply is an error of kind `Other` with the board's words.
    pub fn command(socket: &Path, command: &str, timeout: Duration) -> io::Result<String> {
        let reply = request(socket, command, timeout)?;
        if reply.starts_with("ok") {
            Ok(reply)
        } else {
            Err(io::Error::other(format!(
                "the virtual board answered `{}` with: {reply}",
                command.trim()
            )))
        }
    }

    /// Sends one command and returns the reply line (`ok …` or `error …`).
    pub fn request(socket: &Path, command: &str, timeout: Duration) -> io::Result<String> {
        let mut s = UnixStream::connect(socket)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        writeln!(s, "{}", command.trim())?;
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line)?;
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the virtual board closed the control connection without a reply",
            ));
        }
        Ok(line.trim_end().to_owned())
    }
}
