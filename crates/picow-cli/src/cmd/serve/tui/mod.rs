//! The terminal view (ratatui), used when stdin and stdout are terminals:
//! the client list beside the received data, a status bar with every
//! toggle, an input line that is a real line editor, on-screen help.
//!
//! - [`editor`]: the input line; [`store`]: history and macro files;
//! - [`picow_serve::clients`]: the client list (live first, departed ones grouped, the
//!   selection following a board that reconnects);
//! - [`pane`]: the bounded scroll-back (wrap, hex, search, pause);
//! - [`state`]: what the engine's events change, fed on a thread of its
//!   own; [`app`]: what keys and commands do; [`render`]: drawing;
//!   [`help`]: every key and command.
//!
//! The screen is drawn when something changed, at most 60 times a second;
//! the engine never waits for the view.

pub mod app;
pub mod editor;
pub mod help;
pub mod pane;
pub mod render;
pub mod state;
pub mod store;

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyEventKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{exit_code, ServeArgs};
use crate::exit::Exit;
use app::{App, Options};
use picow_serve::observe::Threaded;
use picow_serve::{Config, Control, Listener, Observer};
use state::{ViewObserver, ViewState};

/// The shortest time between two frames: at most 60 a second.
pub const FRAME: Duration = Duration::from_micros(16_667);
/// Key presses closer than this are one burst (a paste, on Windows).
const PASTE_GAP: Duration = Duration::from_millis(5);
/// Redrawn at least this often (the `/auto` count, the clock).
const IDLE_REDRAW: Duration = Duration::from_secs(1);

/// Runs serve with the terminal view until `/quit`, Ctrl-Q or Ctrl-C (or
/// SIGTERM/SIGHUP: `shutdown`); the terminal is restored on every way out.
#[allow(clippy::too_many_arguments)] // the engine's inputs and the view's, each used once
pub async fn run(
    listener: Listener,
    cfg: Config,
    mut observers: Vec<Box<dyn Observer>>,
    ctl_tx: mpsc::Sender<Control>,
    ctl_rx: mpsc::Receiver<Control>,
    args: &ServeArgs,
    zone: picow_values::time::Zone,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> color_eyre::Result<Exit> {
    let mut view = ViewState::new(args.scrollback as usize);
    view.pane.gap = args.line_timeout;
    let state = Arc::new(Mutex::new(view));
    let wake = Arc::new(tokio::sync::Notify::new());
    // The view's state is updated on a thread of its own: the engine hands
    // events over in batches and never waits for a frame to be drawn.
    observers.push(Box::new(Threaded::new(Box::new(ViewObserver {
        state: state.clone(),
        wake: wake.clone(),
    }))));
    let mut engine = tokio::spawn(picow_serve::run(listener, cfg, observers, ctl_rx, shutdown));

    // Terminal input on a thread of its own (crossterm reads block).
    let (key_tx, mut keys) = mpsc::channel::<TermEvent>(256);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reader = stop.clone();
    std::thread::spawn(move || {
        while !stop_reader.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(true) = crossterm::event::poll(Duration::from_millis(100)) {
                match crossterm::event::read() {
                    Ok(ev) => {
                        if key_tx.blocking_send(ev).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        }
    });

    let mut app = App::new(Options {
        hex: args.hex,
        utc: zone == picow_values::time::Zone::Utc,
        charset: args.encoding,
        ending: args.line_ending,
        history: store::history_path(),
        config: store::config_path(),
        tz: picow_values::time::Zone::Local.tz().clone(),
    });
    let mut terminal = ratatui::try_init()?;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
    let mut dirty = true;
    let mut last_draw = Instant::now() - IDLE_REDRAW;
    let result = loop {
        let next = if dirty {
            last_draw + FRAME
        } else {
            last_draw + IDLE_REDRAW
        };
        tokio::select! {
            done = &mut engine => break done,
            _ = wake.notified() => dirty = true,
            Some(ev) = keys.recv() => {
                // Everything already waiting comes as one burst.
                let mut burst = vec![ev];
                while let Ok(ev) = keys.try_recv() {
                    burst.push(ev);
                }
                // On Windows, keys less than PASTE_GAP apart are one burst
                // (a console pastes far faster than anyone types).
                if cfg!(windows) {
                    while let Ok(Some(ev)) = tokio::time::timeout(PASTE_GAP, keys.recv()).await {
                        burst.push(ev);
                    }
                }
                let ctls = {
                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                    // Windows consoles have no bracketed paste: a pasted
                    // block is a burst of key presses, its line breaks
                    // Enter; it goes into the input line with its newlines.
                    let presses: Vec<_> = burst
                        .iter()
                        .filter_map(|e| match e {
                            TermEvent::Key(k) if k.kind != KeyEventKind::Release => Some(*k),
                            _ => None,
                        })
                        .collect();
                    let pasted = cfg!(windows)
                        .then(|| App::burst_paste(&presses))
                        .flatten();
                    let mut ctls = Vec::new();
                    if let Some(text) = pasted {
                        app.paste(&text);
                    } else {
                        for ev in burst {
                            match ev {
                                TermEvent::Key(k) if k.kind != KeyEventKind::Release => {
                                    ctls.extend(app.key(k, &mut st));
                                }
                                TermEvent::Paste(s) => app.paste(&s),
                                _ => {}
                            }
                        }
                    }
                    ctls
                };
                dirty = true;
                for c in ctls {
                    let _ = ctl_tx.send(c).await;
                }
            }
            _ = tokio::time::sleep_until(next) => {
                let (outbox, size) = {
                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                    st.changed = false;
                    // What the events asked of the engine (`/auto` following
                    // its board to a new id), and of the view's own lines.
                    let outbox = std::mem::take(&mut st.outbox);
                    app.refresh(&st);
                    let _ = crossterm::execute!(
                        terminal.backend_mut(),
                        crossterm::terminal::BeginSynchronizedUpdate
                    );
                    let mut size = app.pane_size;
                    terminal.draw(|f| size = render::draw(f, &app, &st))?;
                    let _ = crossterm::execute!(
                        terminal.backend_mut(),
                        crossterm::terminal::EndSynchronizedUpdate
                    );
                    (outbox, size)
                };
                app.pane_size = size;
                last_draw = Instant::now();
                dirty = false;
                for c in outbox {
                    let _ = ctl_tx.send(c).await;
                }
            }
        }
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    ratatui::restore();
    let outcome = result?.map_err(|e| color_eyre::eyre::eyre!("serve stopped: {e}"))?;
    // Leave the summary (and where data was saved) on the normal screen.
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    if let Some(mut s) = st.save.take() {
        let _ = s.flush();
        let _ = writeln!(
            out,
            "{}",
            picow_i18n::tr!(
                "view-saved",
                n = s.written,
                path = s.path.display().to_string()
            )
        );
    }
    if let Some(summary) = &st.summary {
        let _ = writeln!(out, "{summary}");
    }
    Ok(exit_code(outcome))
}
