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

use crate::conn::Ctx;
use crate::control::{Config, Control, Listener, Outcome, Target};
use crate::event::Observer;
use crate::event::{Event, Summary, SCHEMA_VERSION};
use crate::hub::{auto_tick, tick, Hub};
use crate::listen::flash_hints;
use crate::script::Script;
use crate::tcp::accept_loop;
use crate::udp::udp_loop;

/// Messages from client tasks waiting for the hub.
const CHANNEL: usize = 512;
/// How long shutdown waits for client tasks to hand over their last bytes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Runs serve until its conditions are met, `timeout` elapses, `shutdown`
/// completes or a [`Control::Quit`] arrives; then closes every client,
/// reports the last bytes and the [`Summary`], and flushes the observers.
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
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = Ctx {
        tx,
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
        Listener::Udp(s) => acceptors.push(tokio::spawn(udp_loop(Arc::new(s), ctx.clone()))),
    }
    let active = ctx.active.clone();
    drop(ctx);

    let deadline = hub.cfg.timeout.map(|t| started + t);
    let mut every = hub.cfg.every.map(|d| {
        let mut iv = tokio::time::interval_at(Instant::now() + d, d);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        iv
    });
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
            msg = rx.recv() => {
                // The acceptors hold a sender until stopped: never None here.
                let Some(msg) = msg else { break Outcome::Stopped };
                hub.handle(msg)?;
                // Take what else is waiting before flushing the output.
                for _ in 0..1024 {
                    if hub.script.has_conditions() && hub.script.done() { break; }
                    match rx.try_recv() {
                        Ok(m) => hub.handle(m)?,
                        Err(_) => break,
                    }
                }
                if rx.is_empty() {
                    hub.flush()?;
                }
            }
            ctl = control.recv(), if control_open => match ctl {
                Some(c) => {
                    if hub.control(c)? { break Outcome::Stopped; }
                    hub.flush()?;
                }
                None => control_open = false,
            },
            _ = tick(&mut every) => hub.send_script(Target::All),
            (target, bytes) = auto_tick(&mut hub.auto) => hub.send(target, &bytes)?,
        }
    };

    // Stop accepting, close every client, and take their last bytes.
    let _ = stop_tx.send(true);
    for a in acceptors {
        let _ = a.await;
    }
    if outcome == Outcome::TimedOut {
        let (unmet, clients_missing, seen) = hub.script.report(hub.clients.len() as u64);
        hub.emit(&Event::Timeout {
            unmet,
            clients_missing,
            seen,
        })?;
    }
    let reason = match outcome {
        Outcome::Met => "expectations met",
        Outcome::TimedOut | Outcome::Elapsed => "timeout",
        Outcome::Stopped => "server stopped",
    };
    for c in hub.clients.values() {
        c.shared.close(reason);
    }
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    while !hub.clients.is_empty() || active.load(Ordering::Acquire) > 0 {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => hub.handle(m)?,
                None => break,
            },
            _ = &mut grace => break,
        }
    }
    while let Ok(m) = rx.try_recv() {
        hub.handle(m)?;
    }
    hub.summary.elapsed = started.elapsed();
    let summary = hub.summary.clone();
    hub.emit(&Event::Summary(summary))?;
    for o in &mut hub.observers {
        o.finish()?;
    }
    Ok(outcome)
}
