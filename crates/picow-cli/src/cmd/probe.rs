//! `picow probe`: find serial ports and identify the boards behind them.

use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::{Exit, NotImplemented};

/// Arguments of `picow probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Examine this port in depth instead of listing all.
    #[arg(long, env = "PICOW_PORT")]
    pub port: Option<String>,
    /// Show the Wi-Fi password instead of masking it.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Runs `picow probe`.
pub fn run(_args: ProbeArgs, _global: &GlobalArgs) -> color_eyre::Result<Exit> {
    Err(NotImplemented {
        command: "probe",
        issue: 6,
    }
    .into())
}
