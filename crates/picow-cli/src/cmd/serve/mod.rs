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
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                UsageError(format!(
                    "--log {}: cannot open for appending: {e}",
                    path.display()
                ))
            })?;
        observers.push(Box::new(output::Threaded::new(Box::new(output::Log::new(
            file,
        )))));
    }
    let scripted = !args.expect.is_empty() || args.clients.is_some() || args.timeout.is_some();
    let (ctl_tx, ctl_rx) = mpsc::channel(64);
    let use_tui = !scripted
        && !args.plain
        && args.web.is_none()
        && !global.json
        && io::stdin().is_terminal()
        && io::stdout().is_terminal();
    let advertiser = advertise(&args, &listener, ctl_tx.clone());
    if use_tui {
        let zone = picow_values::time::Zone::from_utc_flag(global.utc);
        let exit = tui::run(listener, cfg, observers, ctl_tx, ctl_rx, &args, zone).await;
        stop_advertising(advertiser).await;
        return exit;
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
    let outcome = tokio::spawn(picow_serve::run(
        listener,
        cfg,
        observers,
        ctl_rx,
        shutdown_signal(),
    ))
    .await
    .wrap_err("serve's engine stopped")?
    .wrap_err("writing serve's output");
    if let Some(web) = web {
        web.stop().await;
    }
    stop_advertising(advertiser).await;
    Ok(exit_code(outcome?))
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
                let _ = ctl.blocking_send(Control::Notice(format!(
                    "not advertised on the LAN ({e}): boards flashed with --server auto will \
                     not find this serve; give them --server HOST:PORT"
                )));
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

/// The exit code for how the engine stopped.
pub fn exit_code(outcome: Outcome) -> Exit {
    match outcome {
        Outcome::Met | Outcome::Elapsed | Outcome::Stopped => Exit::Success,
        Outcome::TimedOut => Exit::Timeout,
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

/// Completes on Ctrl-C; also on SIGTERM on Unix, and on Ctrl-Break or a
/// closing console window on Windows.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(windows)]
    {
        // Ctrl-Break, and closing the console window (Windows then allows
        // the process about 5 seconds), end serve like Ctrl-C: connections
        // closed, the log written out, the summary printed.
        use tokio::signal::windows::{ctrl_break, ctrl_close};
        let on_break = async {
            match ctrl_break() {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        let on_close = async {
            match ctrl_close() {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = on_break => {}
            _ = on_close => {}
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Binds the listener (see [`picow_serve::bind`]); a failure is an input
/// error (exit 2) that says what to do.
pub fn bind(bind: Option<IpAddr>, port: u16, udp: bool) -> Result<Listener, UsageError> {
    picow_serve::bind(bind, port, udp).map_err(|e| UsageError(e.0))
}
