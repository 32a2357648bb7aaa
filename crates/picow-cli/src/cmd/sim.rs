//! `picow sim`: a virtual PicoW on a pseudo-terminal.

use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::{Exit, NotImplemented};

/// Arguments of `picow sim`.
#[derive(Debug, Args)]
pub struct SimArgs {}

/// Runs `picow sim`.
pub fn run(_args: SimArgs, _global: &GlobalArgs) -> color_eyre::Result<Exit> {
    Err(NotImplemented {
        command: "sim",
        issue: 5,
    }
    .into())
}
