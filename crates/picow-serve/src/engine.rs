//! [`run`]: the engine as a whole. It takes its listener, its control
//! channel and its shutdown future as arguments, so tests run it
//! in-process on `127.0.0.1:0`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::conn::{Ctx, Msg};
use crate::control::{Config, Control, Listener, Outcome, Target};
use crate::event::Observer;
use crate::event::{Event, Reason, Summary, SCHEMA_VERSION};
use crate::hub::{auto_tick, tick, Hub};
use crate::listen::flash_hints;
use crate::script::Script;
use crate::tcp::accept_loop;
use crate::udp::udp_loop;

/// Messages from client tasks waiting for the hub: reads, writes, closes.
/// With one read per client at a time (its credit), a client that has just
/// connected waits behind at most one read of every other client.
const CHANNEL: usize = 512;
/// Connects, refusals and errors waiting for the hub (taken first).
const LIFE_CHANNEL: usize = 4096;
/// How often the outputs are asked for an error no event brought back.
const OUTPUTS_CHECK: Duration = Duration::from_millis(200);
/// Once stopping: how long clients get to hand over what their sockets
/// held at the stop (and to take what was queued for them).
pub const DRAIN: Duration = Duration::from_millis(1000);
/// Once stopping: when clients still busy are stopped at once. Serve ends
/// within this, plus writing out its output and log.
pub const HURRY: Duration = Duration::from_millis(1400);

/// Runs serve until its conditions are met, `timeout` elapses, `shutdown`
/// completes or a [`Control::Quit`] arrives; then stops (below), reports the
/// [`Summary`] and flushes the observers.
///
/// Stopping: no new connection is accepted (those already in the backlog
/// are taken); every client reads what its socket holds at that moment and
/// hands it over, takes what was queued for it (up to 1 s), and is closed.
/// After `DRAIN` (1 s) every client still busy is stopped at once, and after
/// `HURRY` (1.4 s) the engine ends whatever the clients do; a [`Control::Quit`]
/// while stopping (a second Ctrl-C) stops them at once. What was left unread
/// is in [`Summary::cut_off`].
///
/// An observer's write error (the output went away, the log disk is full)
/// stops serve and is returned.
pub async fn run(
    listener: Listener,
    cfg: Config,
    observers: Vec<Box<dyn Observer>>,
    mut control: mpsc::Receiver<Control>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Outcome> {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel(CHANNEL);
    let (life_tx, mut life) = mpsc::channel(LIFE_CHANNEL);
    let (stop_tx, stop_rx) = watch::channel(false);
    let refused_unreported = Arc::new(AtomicU64::new(0));
    let ctx = Ctx {
        tx,
        life: life_tx,
        refused_unreported: refused_unreported.clone(),
        next_id: Arc::new(AtomicU64::new(1)),
        active: Arc::new(AtomicUsize::new(0)),
        max_clients: cfg.max_clients,
        stop: stop_rx,
    };
    let mut hub = Hub {
        script: Script::new(cfg.expects.clone(), cfg.from, cfg.clients),
        cfg,
        clients: HashMap::new(),
        observers_want_text: observers.iter().any(|o| o.wants_text()),
        no_text: Arc::from(""),
        observers,
        summary: Summary::default(),
        auto: None,
        stopping: None,
    };
    let (transport, local) = (listener.transport(), listener.local_addrs());
    let lan = hub.cfg.lan.clone();
    hub.emit(&Event::Listening {
        version: SCHEMA_VERSION,
        transport,
        hints: flash_hints(transport, &local, &lan),
        local,
        lan,
    })?;
    hub.flush()?;
    let mut acceptors = Vec::new();
    match listener {
        Listener::Tcp(ls) => {
            for l in ls {
                acceptors.push(tokio::spawn(accept_loop(l, ctx.clone())));
            }
        }
        Listener::Udp(s) => acceptors.push(tokio::spawn(udp_loop(
            Arc::new(s),
            ctx.clone(),
            hub.cfg.udp_idle,
        ))),
    }
    let active = ctx.active.clone();
    drop(ctx);

    let deadline = hub.cfg.timeout.map(|t| started + t);
    let mut every = hub.cfg.every.map(|d| {
        let mut iv = tokio::time::interval_at(Instant::now() + d, d);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        iv
    });
    let mut outputs_check = tokio::time::interval_at(Instant::now() + OUTPUTS_CHECK, OUTPUTS_CHECK);
    outputs_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(shutdown);
    let mut control_open = true;
    let outcome = loop {
        if hub.script.has_conditions() && hub.script.done() {
            break Outcome::Met;
        }
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut shutdown => break Outcome::Stopped,
            _ = timeout => break if hub.script.has_conditions() { Outcome::TimedOut } else { Outcome::Elapsed },
            // Connects first: a new client is announced at once.
            msg = life.recv() => {
                // The acceptors hold a sender until stopped: never None here.
                let Some(msg) = msg else { break Outcome::Stopped };
                hub.handle(msg)?;
                if rx.is_empty() && life.is_empty() {
                    hub.flush()?;
                }
            }
            // What the user typed (or the page sent) and the timers before
            // reads: reads are always ready under a flood, and `/quit` or
            // `--every` must not wait behind them (`/quit` took 7.5 s with
            // 200 flooding clients).
            ctl = control.recv(), if control_open => match ctl {
                Some(c) => {
                    if hub.control(c)? { break Outcome::Stopped; }
                    hub.flush()?;
                }
                None => control_open = false,
            },
            _ = tick(&mut every) => hub.send_script(Target::All),
            () = auto_tick(&mut hub.auto) => hub.auto_send()?,
            // An output that failed after the last event (`--log` on a full
            // disk, written by its thread after the client went quiet) ends
            // serve now, not at the next event.
            _ = outputs_check.tick() => hub.check_outputs()?,
            msg = rx.recv() => {
                let Some(msg) = msg else { break Outcome::Stopped };
                handle_after_connect(&mut hub, &mut life, msg)?;
                // Take what else is waiting before flushing the output,
                // connects before reads.
                for _ in 0..1024 {
                    if hub.script.has_conditions() && hub.script.done() { break; }
                    while let Ok(m) = life.try_recv() {
                        hub.handle(m)?;
                    }
                    match rx.try_recv() {
                        Ok(m) => {
                            handle_after_connect(&mut hub, &mut life, m)?;
                        }
                        Err(_) => break,
                    }
                }
                if rx.is_empty() && life.is_empty() {
                    hub.flush()?;
                }
            }
        }
    };
    let outcome = match outcome {
        Outcome::Stopped if hub.script.has_conditions() && !hub.script.done() => {
            Outcome::Interrupted
        }
        o => o,
    };

    // What was missing, as it was when serve gave up.
    if matches!(outcome, Outcome::TimedOut | Outcome::Interrupted) {
        let (unmet, clients_missing, seen) = hub.script.report(hub.clients.len() as u64);
        hub.emit(&if outcome == Outcome::TimedOut {
            Event::Timeout {
                unmet,
                clients_missing,
                seen,
            }
        } else {
            Event::Interrupted {
                unmet,
                clients_missing,
                seen,
            }
        })?;
    }

    // Stop: no new connections; every client hands over what its socket
    // holds, then closes.
    let stop_at = Instant::now();
    let reason = match outcome {
        Outcome::Met => Reason::ExpectationsMet,
        Outcome::TimedOut | Outcome::Elapsed => Reason::Timeout,
        Outcome::Stopped | Outcome::Interrupted => Reason::ServerStopped,
    };
    hub.stopping = Some(reason.clone());
    let _ = stop_tx.send(true);
    for c in hub.clients.values() {
        c.shared.stop(reason.clone());
    }
    let mut hurried = false;
    let mut life_open = true;
    let hurry = |hub: &mut Hub| {
        for c in hub.clients.values() {
            c.shared.hurry();
        }
    };
    loop {
        let acceptors_done = acceptors.iter().all(|a| a.is_finished());
        if acceptors_done && hub.clients.is_empty() && active.load(Ordering::Acquire) == 0 {
            break;
        }
        let next = if hurried {
            stop_at + HURRY
        } else {
            stop_at + DRAIN
        };
        tokio::select! {
            biased;
            msg = life.recv(), if life_open => match msg {
                Some(m) => {
                    hub.handle(m)?;
                    if hurried {
                        hurry(&mut hub);
                    }
                }
                // Every acceptor has ended; reads may still come.
                None => life_open = false,
            },
            ctl = control.recv(), if control_open => match ctl {
                // A second Ctrl-C or /quit: stop at once.
                Some(Control::Quit) => {
                    hurried = true;
                    hurry(&mut hub);
                }
                Some(_) => {}
                None => control_open = false,
            },
            _ = tokio::time::sleep_until(next) => {
                if hurried {
                    break;
                }
                hurried = true;
                hurry(&mut hub);
            }
            // Reads last: while clients still hand over what they hold, a
            // second Ctrl-C and the deadlines must not wait behind them.
            msg = rx.recv() => match msg {
                Some(m) => {
                    if handle_after_connect(&mut hub, &mut life, m)? && hurried {
                        hurry(&mut hub);
                    }
                }
                None => break,
            },
            // Look again whether the acceptors are done.
            _ = tokio::time::sleep(Duration::from_millis(20)), if !acceptors_done => {}
        }
    }
    // What is waiting now is taken (the clients stopped reading), bounded.
    for _ in 0..(2 * CHANNEL + LIFE_CHANNEL) {
        match life.try_recv().or_else(|_| rx.try_recv()) {
            Ok(m) => {
                handle_after_connect(&mut hub, &mut life, m)?;
            }
            Err(_) => break,
        }
    }
    if !hub.clients.is_empty() {
        let cut = hub.summary.cut_off.get_or_insert_with(Default::default);
        cut.unfinished += hub.clients.len() as u64;
    }
    hub.summary.refused += refused_unreported.load(Ordering::Relaxed);
    hub.summary.elapsed = started.elapsed();
    let summary = hub.summary.clone();
    hub.emit(&Event::Summary(summary))?;
    for o in &mut hub.observers {
        o.finish()?;
    }
    Ok(outcome)
}

/// Hands a client's read, write or close to the hub after that client's
/// connect. The connect is queued on the lifecycle queue before the
/// client's task starts, but the engine may have looked at that queue just
/// before it came and then find the client's first read on the data queue
/// (a client that writes at once): taken blind, that read was dropped as
/// of an unknown client, with its credit, and the client never read again
/// (seen 1 to 8 times in 10,000 connections in a row). Returns whether
/// connects were taken first.
fn handle_after_connect(
    hub: &mut Hub,
    life: &mut mpsc::Receiver<Msg>,
    msg: Msg,
) -> io::Result<bool> {
    let mut connects = false;
    if msg
        .client()
        .is_some_and(|id| !hub.clients.contains_key(&id))
    {
        while let Ok(m) = life.try_recv() {
            hub.handle(m)?;
            connects = true;
        }
    }
    hub.handle(msg)?;
    Ok(connects)
}
