//! `picow monitor`: the board's serial output, surviving resets and replugs.
//!
//! One loop reads the port with a short timeout, so that it can also look at
//! the keys, the clock (CI mode) and Ctrl-C between reads. Everything
//! received goes, in this order, to the `--log` file (raw bytes), the
//! [`format::Printer`] (what the user sees) and, line by line, to the CI
//! matcher ([`expect::Ci`]). When the port vanishes the loop polls for it
//! (same path, or same USB serial number under another name) every
//! [`POLL`] and reopens it.

pub mod expect;
pub mod format;
pub mod inert;
pub mod reset;
pub mod symbols;
pub mod term;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;
use color_eyre::eyre::WrapErr;
use picow_protocol::session::{Line, LineDecoder};
use serde_json::json;

use crate::cli::{ColorChoice, GlobalArgs};
use crate::exit::{Exit, UsageError};
use crate::port::{self, Identity};

use expect::{Ci, Outcome};
use format::{Mode, Options, Printer};
use reset::{ModemLines, Reset};
use symbols::Symbols;
use term::Action;

/// How long one read waits before the loop looks at keys, clock and Ctrl-C.
pub const READ_TIMEOUT: Duration = Duration::from_millis(20);
/// How often a vanished port is looked for (reconnects take at most this
/// plus the time to open it).
pub const POLL: Duration = Duration::from_millis(50);
/// How often a vanished USB board is looked for under other names.
pub const LIST_EVERY: Duration = Duration::from_millis(150);

/// Arguments of `picow monitor`.
#[derive(Debug, Args)]
#[command(
    after_help = "Keys (interactive): Ctrl-] exits, Ctrl-R resets the board; everything \
    else goes to the board, Ctrl-C and Ctrl-D too (MicroPython's interrupt and soft reset).\n\
    CI mode: exit 0 when every --expect was seen in order, 1 when a --fail pattern \
    was seen, 124 when --timeout passed first."
)]
pub struct MonitorArgs {
    /// Serial port (default: $PICOW_PORT, else the one Espressif board found).
    #[arg(long, env = "PICOW_PORT")]
    pub port: Option<String>,
    /// Baud rate, 50 to 12000000 (ignored by native USB).
    #[arg(long, default_value_t = 115_200, value_parser = clap::value_parser!(u32).range(50..=12_000_000))]
    pub baud: u32,
    /// Show the bytes exactly as they come (no colours, no decoding).
    #[arg(long, conflicts_with_all = ["hex", "timestamps"])]
    pub raw: bool,
    /// Show a hex dump (offset, 16 bytes, ASCII).
    #[arg(long)]
    pub hex: bool,
    /// Host time (local, HH:MM:SS.mmm) at the start of each line.
    #[arg(long)]
    pub timestamps: bool,
    /// Also write everything received, byte for byte, to FILE (replaced).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Firmware ELF for decoding backtrace addresses (default: the last
    /// `cargo xtask fw build` for the chip the firmware reports, installed in
    /// the user's data directory, else in the clone's `target/picow-fw/<chip>/`).
    #[arg(long, value_name = "FILE")]
    pub elf: Option<PathBuf>,
    /// Reset the board after opening the port (opening alone never resets it).
    #[arg(long)]
    pub reset: bool,
    /// Control socket of a virtual board (`picow sim`), used for resets
    /// (default: PICOW_SIM_CONTROL, then PORT.control, then the board
    /// registry; see docs/sim.md).
    #[arg(long, value_name = "SOCKET")]
    pub sim_control: Option<PathBuf>,
    /// Exit (code 1) when the port vanishes instead of waiting for it.
    #[arg(long)]
    pub no_reconnect: bool,
    /// Exit 0 once lines matching these regular expressions have been seen,
    /// in this order (repeatable).
    #[arg(long = "expect", value_name = "REGEX")]
    pub expect: Vec<String>,
    /// Exit 1 as soon as a line matches this regular expression (repeatable).
    #[arg(long = "fail", value_name = "REGEX")]
    pub fail: Vec<String>,
    /// Stop after DUR (e.g. 30s, 500ms, 2m): exit 124 if expectations are
    /// still unmet, else 0.
    #[arg(long, value_name = "DUR", value_parser = crate::values::positive_duration)]
    pub timeout: Option<Duration>,
    /// Never prompt and never take over the terminal: no raw mode, no keys
    /// (Ctrl-C still stops the monitor). Implied when stdin is not a terminal.
    #[arg(long)]
    pub non_interactive: bool,
}

/// Set by Ctrl-C (SIGINT), SIGTERM and SIGHUP; the loop then ends cleanly.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_stop_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)) {
            tracing::warn!("Ctrl-C handler not installed: {e}");
        }
    });
}

/// Runs `picow monitor`.
pub fn run(args: MonitorArgs, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    // Everything about the input is checked before anything is opened.
    if global.json && (args.raw || args.hex) {
        return Err(UsageError(
            "--json prints one JSON object per line; it cannot be combined with --raw or --hex"
                .into(),
        )
        .into());
    }
    let expects = expect::compile("--expect", &args.expect)?;
    let fails = expect::compile("--fail", &args.fail)?;
    let symbols = match &args.elf {
        Some(path) => Some(Symbols::open(path).map_err(|e| UsageError(format!("--elf: {e}")))?),
        None => None,
    };
    if let Some(log) = &args.log {
        let dir = log.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) || log.is_dir() {
            return Err(UsageError(format!(
                "--log {}: the directory must exist and the path must name a file",
                log.display()
            ))
            .into());
        }
        // The log is replaced: it must not be the ELF that is read.
        if let Some(elf) = args
            .elf
            .as_deref()
            .filter(|e| crate::files::same_file(log, e))
        {
            return Err(UsageError(format!(
                "--log {}: it is the --elf file {}, which it would overwrite; give another file name",
                log.display(),
                elf.display()
            ))
            .into());
        }
    }
    let mode = if global.json {
        Mode::Json
    } else if args.raw {
        Mode::Raw
    } else if args.hex {
        Mode::Hex
    } else {
        Mode::Pretty
    };
    let color = match global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    };

    // The port.
    let ports = port::list().unwrap_or_default();
    let path = match &args.port {
        Some(p) => p.clone(),
        None => port::choose(&ports)?.port_name.clone(),
    };
    let identity = Identity::of(&path, &ports);
    let mut serial = port::open(&path, args.baud, READ_TIMEOUT)?;

    let mut log = match &args.log {
        Some(p) => Some(BufWriter::with_capacity(
            64 * 1024,
            File::create(p).wrap_err_with(|| format!("--log: cannot create {}", p.display()))?,
        )),
        None => None,
    };

    let stdout = io::stdout();
    let mut printer = Printer::new(
        BufWriter::with_capacity(64 * 1024, stdout.lock()),
        Options {
            mode,
            color,
            timestamps: args.timestamps,
            zone: picow_values::time::Zone::from_utc_flag(global.utc),
        },
    );
    if let Some(s) = symbols {
        printer.set_symbols(s);
    } else {
        // The firmware `cargo xtask fw build` installed, then the clone's.
        let dirs = crate::firmware::installed_dir()
            .into_iter()
            .chain(workspace_root().map(|r| r.join("target/picow-fw")))
            .collect();
        printer.set_elf_dirs(dirs);
    }
    let notes = Notices {
        quiet: global.quiet,
        json: global.json,
    };

    install_stop_handler();
    STOP.store(false, Ordering::SeqCst);
    let interactive = !args.non_interactive && io::stdin().is_terminal();
    let _raw = if interactive {
        Some(
            term::raw_stdin()
                .wrap_err("cannot put the terminal into raw mode; use --non-interactive")?,
        )
    } else {
        None
    };
    let keys = interactive.then(spawn_key_reader);

    let mut resetter = resetter_for(&args, &identity);
    notes.say(
        &mut printer,
        "connected",
        &format!(
            "monitoring {path}{}",
            if interactive {
                " (Ctrl-] exit, Ctrl-R reset; Ctrl-C goes to the board)"
            } else {
                ""
            }
        ),
        json!({ "port": path }),
    )?;
    if args.reset {
        if let Err(e) = resetter.reset(&mut serial) {
            notes.say(&mut printer, "warning", &e, json!({ "message": e }))?;
        }
    }

    let start = Instant::now();
    let mut ci = Ci::new(expects, fails, args.timeout, start);
    let mut lines: LineDecoder<{ format::MAX_LINE }> = LineDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut conn = Some(serial);
    let mut gone_at = Instant::now();
    let mut last_open_error: Option<String> = None;
    let mut last_list = Instant::now() - LIST_EVERY;

    let result: io::Result<Exit> = (|| loop {
        if STOP.load(Ordering::SeqCst) {
            printer.end_line()?;
            return Ok(if ci.pending() {
                notes.say(
                    &mut printer,
                    "result",
                    "interrupted before every expectation was met",
                    json!({ "outcome": "interrupted", "met": ci.met() }),
                )?;
                Exit::Failure
            } else {
                Exit::Success
            });
        }
        if let Some(outcome) = ci.on_tick(Instant::now()) {
            return finish_ci(&notes, &mut printer, &ci, &outcome, start);
        }
        if let Some(rx) = &keys {
            while let Ok(action) = rx.try_recv() {
                match action {
                    // The same way out as Ctrl-C from outside.
                    Action::Exit => STOP.store(true, Ordering::SeqCst),
                    Action::Reset => match conn.as_mut() {
                        Some(p) => {
                            notes.say(&mut printer, "reset", "resetting the board", json!({}))?;
                            if let Err(e) = resetter.reset(p) {
                                notes.say(&mut printer, "warning", &e, json!({ "message": e }))?;
                            }
                        }
                        None => notes.say(
                            &mut printer,
                            "warning",
                            "the port is gone; waiting for the board to come back",
                            json!({}),
                        )?,
                    },
                    Action::Send(bytes) => {
                        if let Some(p) = conn.as_mut() {
                            if p.write_all(&bytes).is_err() {
                                // The read below notices that the port is gone.
                            }
                        }
                    }
                    Action::None => {}
                }
            }
        }
        match conn.as_mut() {
            Some(p) => match p.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let data = &buf[..n];
                    if let Some(log) = log.as_mut() {
                        log.write_all(data)?;
                    }
                    printer.write_all(data)?;
                    printer.flush()?;
                    let mut decided = None;
                    lines.feed(data, |line| {
                        let bytes = match line {
                            Line::Complete(b) | Line::Truncated(b) => b,
                        };
                        if decided.is_none() {
                            let (_, o) = ci.on_line(&String::from_utf8_lossy(bytes));
                            decided = o;
                        }
                    });
                    if let Some(outcome) = decided {
                        return finish_ci(&notes, &mut printer, &ci, &outcome, start);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => printer.idle()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => {
                    // Ok(0) or an error: the device is gone (unplugged, reset).
                    let why = match res {
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => "hung up".into(),
                        Err(e) => e.to_string(),
                        _ => "end of file".into(),
                    };
                    conn = None;
                    gone_at = Instant::now();
                    if let Some(log) = log.as_mut() {
                        log.flush()?;
                    }
                    // A line cannot go on across a reset or a replug: what
                    // there is of it is shown and matched now.
                    printer.end_line()?;
                    let mut decided = None;
                    lines.end(|line| {
                        let bytes = match line {
                            Line::Complete(b) | Line::Truncated(b) => b,
                        };
                        decided = ci.on_line(&String::from_utf8_lossy(bytes)).1;
                    });
                    if let Some(outcome) = decided {
                        return finish_ci(&notes, &mut printer, &ci, &outcome, start);
                    }
                    if args.no_reconnect {
                        notes.say(
                            &mut printer,
                            "disconnected",
                            &format!("{path} vanished ({why}); exiting (--no-reconnect)"),
                            json!({ "port": path, "reason": why }),
                        )?;
                        return Ok(Exit::Failure);
                    }
                    notes.say(
                        &mut printer,
                        "disconnected",
                        &format!("{path} vanished ({why}); waiting for it to come back"),
                        json!({ "port": path, "reason": why }),
                    )?;
                }
            },
            None => {
                std::thread::sleep(ci.wait_limit(Instant::now(), POLL));
                let exists = port::exists(&identity.path);
                // Listing ports reads sysfs (or asks Windows): every third poll.
                let ports = if !exists
                    && identity.serial_number.is_some()
                    && last_list.elapsed() >= LIST_EVERY
                {
                    last_list = Instant::now();
                    port::list().unwrap_or_default()
                } else {
                    Vec::new()
                };
                let Some(found) = identity.locate(exists, &ports) else {
                    continue;
                };
                match port::open(&found, args.baud, READ_TIMEOUT) {
                    Ok(p) => {
                        conn = Some(p);
                        last_open_error = None;
                        let ms = gone_at.elapsed().as_millis() as u64;
                        let renamed = if found != path {
                            format!(" (now {found})")
                        } else {
                            String::new()
                        };
                        notes.say(
                            &mut printer,
                            "reconnected",
                            &format!("reconnected to {path}{renamed} after {ms} ms"),
                            json!({ "port": found, "after_ms": ms }),
                        )?;
                    }
                    Err(e) => {
                        // udev may not have set the permissions yet: retry,
                        // but say it once if it lasts.
                        let msg = e.to_string();
                        if gone_at.elapsed() > Duration::from_secs(2)
                            && last_open_error.as_deref() != Some(&msg)
                        {
                            notes.say(&mut printer, "warning", &msg, json!({ "message": msg }))?;
                            last_open_error = Some(msg);
                        }
                    }
                }
            }
        }
    })();

    // Every way out: show what is held, flush the log, restore the terminal
    // (the guard `_raw` drops after this).
    let fin = printer.finish();
    if let Some(mut log) = log {
        log.flush().wrap_err("--log: cannot write the log file")?;
    }
    match result {
        Ok(code) => {
            fin?;
            Ok(code)
        }
        Err(e) => Err(e).wrap_err("monitor output failed"),
    }
}

/// How Ctrl-R and `--reset` reset the board: a virtual board's control
/// socket when there is one, else DTR/RTS.
fn resetter_for(args: &MonitorArgs, identity: &Identity) -> Box<dyn Reset> {
    #[cfg(unix)]
    if let Some(socket) = picow_sim::control::client::find_control_socket(
        args.sim_control.as_deref(),
        Path::new(&identity.path),
    ) {
        return Box::new(reset::SimControl { socket });
    }
    let _ = args;
    Box::new(ModemLines {
        pid: identity.usb_id.map(|(_, pid)| pid),
    })
}

/// The monitor's own messages: text on stderr (not with `-q`), or JSON
/// objects on stdout with `--json`.
#[derive(Debug, Clone, Copy)]
struct Notices {
    quiet: bool,
    json: bool,
}

impl Notices {
    fn say<W: Write>(
        &self,
        printer: &mut Printer<W>,
        kind: &str,
        text: &str,
        fields: serde_json::Value,
    ) -> io::Result<()> {
        if self.json {
            return printer.json_notice(kind, fields);
        }
        if self.quiet && kind != "result" {
            return Ok(());
        }
        printer.flush()?;
        let lead = if printer.at_line_start() { "" } else { "\n" };
        let mut err = io::stderr().lock();
        writeln!(err, "{lead}picow monitor: {text}")
    }
}

fn finish_ci<W: Write>(
    notes: &Notices,
    printer: &mut Printer<W>,
    ci: &Ci,
    outcome: &Outcome,
    start: Instant,
) -> io::Result<Exit> {
    // The last line so far comes before the result.
    printer.end_line()?;
    let secs = start.elapsed().as_secs_f64();
    let n = ci.expects().len();
    let (text, fields) = match outcome {
        Outcome::AllMet => (
            format!("all {n} expectation(s) met after {secs:.1} s"),
            json!({ "outcome": "met", "met": n }),
        ),
        Outcome::Failed { pattern, line } => (
            format!(
                "fail pattern `{pattern}` matched after {secs:.1} s: {}",
                format::quote(line)
            ),
            json!({ "outcome": "failed", "pattern": pattern, "line": line, "met": ci.met() }),
        ),
        Outcome::TimedOut { next: Some(i) } => (
            format!(
                "timed out after {secs:.1} s waiting for expectation {} of {n}, `{}` \
                 ({} met, {} line(s) seen)",
                i + 1,
                ci.expects()[*i].as_str(),
                ci.met(),
                ci.lines_seen()
            ),
            json!({
                "outcome": "timeout",
                "waiting_for": ci.expects()[*i].as_str(),
                "met": ci.met(),
                "lines_seen": ci.lines_seen(),
            }),
        ),
        Outcome::TimedOut { next: None } => (
            format!(
                "--timeout reached after {secs:.1} s ({} line(s) seen)",
                ci.lines_seen()
            ),
            json!({ "outcome": "window-ended", "lines_seen": ci.lines_seen() }),
        ),
    };
    let mut fields = fields;
    if let Some(o) = fields.as_object_mut() {
        o.insert("exit".into(), (outcome.exit() as u8).into());
    }
    notes.say(printer, "result", &text, fields)?;
    Ok(outcome.exit())
}

/// Reads keys on a thread (crossterm) and sends what they ask for.
fn spawn_key_reader() -> mpsc::Receiver<Action> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("monitor-keys".into())
        .spawn(move || loop {
            match crossterm::event::read() {
                Ok(crossterm::event::Event::Key(key)) => {
                    let a = term::action(key);
                    let exit = a == Action::Exit;
                    if tx.send(a).is_err() || exit {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    let _ = tx.send(Action::Exit);
                    return;
                }
            }
        })
        .expect("spawning a thread");
    rx
}

/// The workspace root above the current directory (where
/// `target/picow-fw/<chip>/picow-fw.elf` is looked for).
fn workspace_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|s| s.contains("[workspace]"))
        })
        .map(Path::to_path_buf)
}
