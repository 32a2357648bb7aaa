//! `picow monitor`: the board's serial output.

use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::{Exit, NotImplemented};

/// Arguments of `picow monitor`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Serial port (default: $PICOW_PORT, else the one Espressif board found).
    #[arg(long, env = "PICOW_PORT")]
    pub port: Option<String>,
    /// Baud rate (ignored by native USB).
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
}

/// Runs `picow monitor`.
pub fn run(_args: MonitorArgs, _global: &GlobalArgs) -> color_eyre::Result<Exit> {
    Err(NotImplemented {
        command: "monitor",
        issue: 7,
    }
    .into())
}
