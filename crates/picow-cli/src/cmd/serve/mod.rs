//! `picow serve`: the PC-side server the board connects to (replaces
//! NetAssist), for people at a terminal and for CI scripts.
//!
//! The engine, its events and the plain, JSON and log outputs are the
//! library [`picow_serve`]; this module holds what is the command line's:
//!
//! - [`args`]: the flags and their parsers;
//! - [`interactive`]: the commands typed on stdin;
//! - [`tui`]: the terminal view;
//! - [`web`]: the page (`--web`), from picow-web.

pub mod args;
pub mod interactive;
pub mod ota;
pub mod tui;
pub mod web;

use std::io::{self, IsTerminal};
use std::net::IpAddr;

use color_eyre::eyre::WrapErr;
use picow_serve::advertise::Advertiser;
use picow_serve::{observe as output, Config, Control, Listener, Observer, Outcome};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

pub use args::ServeArgs;

use crate::cli::GlobalArgs;
use crate::exit::{Exit, UsageError};

/// Runs `picow serve`.
pub fn run(args: ServeArgs, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    let result = rt.block_on(serve(args, global));
    // Do not wait for a stdin read that will never finish.
    rt.shutdown_background();
    result
}

/// The engine's configuration from the flags.
pub fn config(args: &ServeArgs) -> Config {
    Config {
        sends: args.send.clone(),
        every: args.every,
        expects: args.expect.clone(),
        from: args.from,
        clients: args.clients,
        timeout: args.timeout,
        max_clients: args.max_clients as usize,
        max_queue: args.max_queue as usize,
        udp_idle: args.udp_idle,
        charset: args.encoding,
        lan: Vec::new(),
    }
}

async fn serve(args: ServeArgs, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    let listener = bind(args.bind, args.port, args.udp)?;
    let mut cfg = config(&args);
    cfg.lan = picow_serve::lan_addresses();
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    if let Some(path) = &args.log {
        let file = open_log(path)?;
        observers.push(Box::new(Named {
            inner: Box::new(output::Threaded::new(Box::new(output::Log::new(file)))),
            what: format!("--log {}", path.display()),
        }));
    }
    let scripted = !args.expect.is_empty() || args.clients.is_some() || args.timeout.is_some();
    let (ctl_tx, ctl_rx) = mpsc::channel(64);
    // Signals first: one that comes while serve starts is not lost.
    let shutdown = shutdown_signals(ctl_tx.clone())?;
    let use_tui = !scripted
        && !args.plain
        && args.web.is_none()
        && !global.json
        && io::stdin().is_terminal()
        && io::stdout().is_terminal();
    let advertiser = advertise(&args, &listener, ctl_tx.clone());
    let (updater, failures) = ota::Updater::new(ota_settings(&args)?, ctl_tx.clone());
    observers.push(Box::new(output::Threaded::new(Box::new(updater))));
    if use_tui {
        let zone = picow_values::time::Zone::from_utc_flag(global.utc);
        let exit = tui::run(
            listener, cfg, observers, ctl_tx, ctl_rx, &args, zone, shutdown,
        )
        .await;
        stop_advertising(advertiser).await;
        return exit.map(|e| with_updates(e, &failures));
    }
    let web = match args.web {
        Some(addr) => {
            let (running, observer) =
                web::start(addr, &args, global, &cfg.lan, ctl_tx.clone()).await?;
            observers.push(Box::new(output::Threaded::new(Box::new(observer))));
            Some(running)
        }
        None => None,
    };
    let stdout = io::BufWriter::with_capacity(1 << 16, io::stdout());
    if global.json {
        observers.push(Box::new(output::Threaded::new(Box::new(
            output::Json::new(stdout),
        ))));
    } else if !global.quiet {
        observers.push(Box::new(output::Threaded::new(Box::new(
            output::Human::new(stdout, args.hex)
                .with_zone(picow_values::time::Zone::from_utc_flag(global.utc)),
        ))));
    }
    tokio::spawn(read_commands(
        ctl_tx,
        interactive::Session::with_charset(args.line_ending, args.encoding),
    ));
    // The engine runs as a task on the worker threads, not on this one: a
    // worker that reads a client's bytes can then hand them to the hub
    // without waking another thread.
    let outcome = tokio::spawn(picow_serve::run(listener, cfg, observers, ctl_rx, shutdown))
        .await
        .wrap_err("serve's engine stopped")?
        .wrap_err("writing serve's output");
    if let Some(web) = web {
        web.stop().await;
    }
    stop_advertising(advertiser).await;
    Ok(with_updates(exit_code(outcome?), &failures))
}

/// `--ota-port`, `--ota-password` and `--update`, checked before serve
/// starts (exit 2 for a bad one).
fn ota_settings(args: &ServeArgs) -> Result<ota::Settings, UsageError> {
    let password = args
        .ota_password
        .as_deref()
        .map(picow_protocol::ota::OtaPassword::new)
        .transpose()
        .map_err(|e| UsageError(format!("invalid --ota-password: {e}")))?;
    let update = match &args.update {
        Some(p) => Some(std::sync::Arc::new(
            crate::ota::update::FirmwareFile::load(p, None)
                .map_err(|e| UsageError(e.to_string().replacen("--firmware", "--update", 1)))?,
        )),
        None => None,
    };
    Ok(ota::Settings {
        port: args.ota_port,
        password,
        update,
        wait_back: std::time::Duration::from_secs(60),
    })
}

/// An update that failed makes a run that would have succeeded exit 1, so
/// that a script sees it (`--update` in CI).
fn with_updates(exit: Exit, failures: &ota::Failures) -> Exit {
    match exit {
        Exit::Success if failures.count() > 0 => Exit::Failure,
        e => e,
    }
}

/// Starts advertising serve on the LAN by DNS-SD beside the engine, unless
/// `--no-advertise` or a loopback `--bind`; what it advertises (or why it
/// cannot) reaches the user as a notice through the engine.
fn advertise(
    args: &ServeArgs,
    listener: &Listener,
    ctl: mpsc::Sender<Control>,
) -> Option<tokio::task::JoinHandle<Option<Advertiser>>> {
    if args.no_advertise || !picow_serve::advertise::applies(args.bind) {
        return None;
    }
    let port = listener.local_addrs().first()?.port();
    let transport = listener.transport();
    let name = args
        .name
        .clone()
        .unwrap_or_else(picow_serve::advertise::default_instance);
    let bind = args.bind;
    // Off the async threads: the start listens for `picow.local` first.
    Some(tokio::task::spawn_blocking(
        move || match Advertiser::start(&name, transport, port, bind) {
            Ok(a) => {
                let _ = ctl.blocking_send(Control::Notice(a.advertised().notice()));
                Some(a)
            }
            Err(e) => {
                let _ = ctl.blocking_send(Control::Notice(e.notice()));
                None
            }
        },
    ))
}

/// Says goodbye on the LAN (at most a second).
async fn stop_advertising(advertiser: Option<tokio::task::JoinHandle<Option<Advertiser>>>) {
    if let Some(Ok(Some(a))) = match advertiser {
        Some(h) => Some(h.await),
        None => None,
    } {
        let _ = tokio::task::spawn_blocking(move || a.stop()).await;
    }
}

/// The exit code for how the engine stopped: a run stopped (a signal,
/// `/quit`) with expectations unmet is 1, as in `picow monitor`.
pub fn exit_code(outcome: Outcome) -> Exit {
    match outcome {
        Outcome::Met | Outcome::Elapsed | Outcome::Stopped => Exit::Success,
        Outcome::TimedOut => Exit::Timeout,
        Outcome::Interrupted => Exit::Failure,
    }
}

/// Opens `--log FILE` for appending. A FIFO is opened without waiting: one
/// with no reader is refused (serve would otherwise wait without a word for
/// someone to read it).
fn open_log(path: &std::path::Path) -> Result<std::fs::File, UsageError> {
    let cannot = |e: std::io::Error| {
        UsageError(format!(
            "--log {}: cannot open for appending: {e}",
            path.display()
        ))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
                .open(path)
                .map_err(|e| {
                    if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) {
                        UsageError(format!(
                            "--log {}: it is a FIFO (named pipe) that nobody reads; start its \
                             reader first (e.g. `cat {} > copy.jsonl &`), then serve",
                            path.display(),
                            path.display()
                        ))
                    } else {
                        cannot(e)
                    }
                })?;
            // Writes wait for the reader again, as to any pipe.
            let flags = rustix::fs::fcntl_getfl(&file).map_err(|e| cannot(e.into()))?;
            rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)
                .map_err(|e| cannot(e.into()))?;
            return Ok(file);
        }
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(cannot)
}

/// An observer whose errors name the flag it writes for (`--log FILE: No
/// space left on device`).
struct Named {
    inner: Box<dyn Observer>,
    what: String,
}

impl Named {
    fn name(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.what))
    }
}

impl Observer for Named {
    fn event(&mut self, at: std::time::SystemTime, event: &picow_serve::Event) -> io::Result<()> {
        self.inner.event(at, event).map_err(|e| self.name(e))
    }
    fn wants_text(&self) -> bool {
        self.inner.wants_text()
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.name(e))
    }
    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish().map_err(|e| self.name(e))
    }
    fn check(&mut self) -> io::Result<()> {
        self.inner.check().map_err(|e| self.name(e))
    }
}

/// Plain-line commands from stdin.
async fn read_commands(tx: mpsc::Sender<Control>, mut session: interactive::Session) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let ctl = session.command(&line).unwrap_or_else(Control::Notice);
        if tx.send(ctl).await.is_err() {
            return;
        }
    }
}

/// The stop signals: the returned future completes on the first (Ctrl-C;
/// SIGTERM and SIGHUP on Unix, so that a closed terminal or `kill` stops
/// serve with its summary and the terminal view restored; Ctrl-Break and a
/// closing console window on Windows). Every later one sends
/// [`Control::Quit`], which makes a stopping serve stop at once (a second
/// Ctrl-C), still writing out the log. The handlers are installed now, so
/// a signal during start-up is not lost.
pub fn shutdown_signals(
    ctl: mpsc::Sender<Control>,
) -> io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let (mut a, mut b, mut c) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        )
    };
    // Ctrl-Break, and closing the console window (Windows then allows the
    // process about 5 seconds), end serve like Ctrl-C: connections closed,
    // the log written out, the summary printed.
    #[cfg(windows)]
    let (mut a, mut b, mut c) = {
        use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
        (ctrl_c()?, ctrl_break()?, ctrl_close()?)
    };
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut first = Some(first_tx);
        loop {
            tokio::select! {
                _ = a.recv() => {}
                _ = b.recv() => {}
                _ = c.recv() => {}
            }
            match first.take() {
                Some(tx) => {
                    let _ = tx.send(());
                }
                None => {
                    if ctl.send(Control::Quit).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(async move {
        let _ = first_rx.await;
    })
}

/// Binds the listener (see [`picow_serve::bind`]); a failure is an input
/// error (exit 2) that says what to do.
pub fn bind(bind: Option<IpAddr>, port: u16, udp: bool) -> Result<Listener, UsageError> {
    picow_serve::bind(bind, port, udp).map_err(|e| UsageError(e.0))
}
