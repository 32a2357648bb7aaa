//! `picow serve`: the PC-side server the board connects to.

use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::{Exit, NotImplemented};

/// Arguments of `picow serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TCP (or UDP) port to listen on.
    #[arg(long, default_value_t = picow_protocol::session::DEFAULT_PORT,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Address to listen on (default: every IPv4 and IPv6 address).
    #[arg(long)]
    pub bind: Option<std::net::IpAddr>,
}

/// Runs `picow serve`.
pub fn run(_args: ServeArgs, _global: &GlobalArgs) -> color_eyre::Result<Exit> {
    Err(NotImplemented {
        command: "serve",
        issue: 3,
    }
    .into())
}
