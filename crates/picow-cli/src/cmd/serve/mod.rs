//! `picow serve`: the PC-side server the board connects to (replaces
//! NetAssist), for people at a terminal and for CI scripts.
//!
//! - [`args`]: the flags and their parsers;
//! - [`engine`]: the server itself (listener and shutdown in, events out);
//! - [`script`]: `--expect` / `--clients` progress;
//! - [`output`]: plain, JSON and log writers;
//! - [`interactive`]: the commands typed on stdin;
//! - [`tui`]: the terminal view;
//! - [`text`]: decoding, escaping and hex.

pub mod args;
pub mod engine;
pub mod interactive;
pub mod output;
pub mod script;
pub mod text;
pub mod tui;

use std::io::{self, IsTerminal};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use color_eyre::eyre::WrapErr;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

pub use args::ServeArgs;
use engine::{Config, Control, LanAddr, Listener, Observer, Outcome};

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
    cfg.lan = lan_addresses();
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
        && !global.json
        && io::stdin().is_terminal()
        && io::stdout().is_terminal();
    if use_tui {
        return tui::run(listener, cfg, observers, ctl_tx, ctl_rx, &args).await;
    }
    let stdout = io::BufWriter::with_capacity(1 << 16, io::stdout());
    if global.json {
        observers.push(Box::new(output::Threaded::new(Box::new(
            output::Json::new(stdout),
        ))));
    } else if !global.quiet {
        observers.push(Box::new(output::Threaded::new(Box::new(
            output::Human::new(stdout, args.hex),
        ))));
    }
    tokio::spawn(read_commands(
        ctl_tx,
        interactive::Session::new(args.line_ending),
    ));
    // The engine runs as a task on the worker threads, not on this one: a
    // worker that reads a client's bytes can then hand them to the hub
    // without waking another thread.
    let outcome = tokio::spawn(engine::run(
        listener,
        cfg,
        observers,
        ctl_rx,
        shutdown_signal(),
    ))
    .await
    .wrap_err("serve's engine stopped")?
    .wrap_err("writing serve's output")?;
    Ok(exit_code(outcome))
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

fn bind_error(what: &str, addr: SocketAddr, e: io::Error) -> UsageError {
    let why = match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "port {} is already in use (another picow serve or NetAssist?): stop that program or choose another --port",
            addr.port()
        ),
        io::ErrorKind::PermissionDenied => format!(
            "permission denied (ports below 1024 need administrator rights): choose --port {} or higher",
            1024.max(picow_protocol::session::DEFAULT_PORT)
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this computer: check --bind (run without it to listen everywhere)",
            addr.ip()
        ),
        _ => e.to_string(),
    };
    UsageError(format!("cannot listen on {what} {addr}: {why}"))
}

fn socket_for(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // One socket for IPv4 and IPv6 (Windows defaults to IPv6 only).
        s.set_only_v6(false)?;
    }
    #[cfg(unix)]
    if ty == Type::STREAM {
        // Restarting serve must not wait for old connections' TIME_WAIT.
        s.set_reuse_address(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

/// Binds the listener: `bind` only, or every IPv4 and IPv6 address (one
/// dual-stack socket, or IPv4 alone on a host without IPv6). A failure is an
/// input error (exit 2) that says what to do.
pub fn bind(bind: Option<IpAddr>, port: u16, udp: bool) -> Result<Listener, UsageError> {
    let what = if udp { "UDP" } else { "TCP" };
    let (ty, proto) = if udp {
        (Type::DGRAM, Protocol::UDP)
    } else {
        (Type::STREAM, Protocol::TCP)
    };
    let open = |addr: SocketAddr| -> Result<Socket, UsageError> {
        let s = socket_for(addr, ty, proto).map_err(|e| bind_error(what, addr, e))?;
        if !udp {
            s.listen(4096).map_err(|e| bind_error(what, addr, e))?;
        }
        Ok(s)
    };
    let socket = match bind {
        Some(ip) => open(SocketAddr::new(ip, port))?,
        None => {
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
            match socket_for(v6, ty, proto) {
                Ok(s) => {
                    if !udp {
                        s.listen(4096).map_err(|e| bind_error(what, v6, e))?;
                    }
                    s
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    return Err(bind_error(what, v6, e))
                }
                // No IPv6 on this host: IPv4 alone.
                Err(_) => open(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))?,
            }
        }
    };
    let err = |e: io::Error| UsageError(format!("cannot listen on {what} port {port}: {e}"));
    Ok(if udp {
        Listener::Udp(tokio::net::UdpSocket::from_std(socket.into()).map_err(err)?)
    } else {
        Listener::Tcp(vec![
            tokio::net::TcpListener::from_std(socket.into()).map_err(err)?
        ])
    })
}

/// The host's LAN addresses: up, not loopback, not link-local. Only printed;
/// serve never connects to them.
pub fn lan_addresses() -> Vec<LanAddr> {
    let Ok(ifaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut out: Vec<LanAddr> = ifaces
        .into_iter()
        .filter(|i| !i.is_loopback() && !i.is_link_local())
        .filter(|i| {
            matches!(
                i.oper_status,
                if_addrs::IfOperStatus::Up | if_addrs::IfOperStatus::Unknown
            )
        })
        .map(|i| LanAddr {
            ip: i.ip(),
            iface: i.name,
        })
        .collect();
    // IPv4 first: that is what the tutorial's board uses.
    out.sort_by_key(|l| (l.ip.is_ipv6(), l.ip));
    out.dedup();
    out
}
