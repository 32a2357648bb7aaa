//! The terminal view (ratatui): the client list beside the received data.

use tokio::sync::mpsc;

use super::engine::{Config, Control, Listener, Observer};
use super::ServeArgs;
use crate::exit::Exit;

/// Runs serve with the terminal view.
pub async fn run(
    listener: Listener,
    cfg: Config,
    observers: Vec<Box<dyn Observer>>,
    ctl_tx: mpsc::Sender<Control>,
    ctl_rx: mpsc::Receiver<Control>,
    args: &ServeArgs,
) -> color_eyre::Result<Exit> {
    let _ = (listener, cfg, observers, ctl_tx, ctl_rx, args);
    Err(crate::exit::NotImplemented {
        command: "serve (terminal view; use --plain)",
        issue: 3,
    }
    .into())
}
