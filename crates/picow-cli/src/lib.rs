//! The `picow` command-line tool as a library, so that its subcommands can be
//! tested in-process. `main.rs` only parses and dispatches.
#![warn(missing_docs)]

pub mod cli;
pub mod cmd;
pub mod esp;
pub mod exit;
pub mod files;
pub mod firmware;
pub mod ota;
pub mod output;
pub mod port;
pub mod serial_os;
pub mod values;

use cli::{Cli, Command};
use exit::Exit;

/// Installs the hooks that `--color` and `-v/-q` decide, then runs the
/// subcommand.
pub fn run(cli: Cli) -> color_eyre::Result<Exit> {
    output::install_hooks(&cli.global)?;
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args, &cli.global),
        Command::Flash(args) => cmd::flash::run(args, &cli.global),
        Command::Monitor(args) => cmd::monitor::run(args, &cli.global),
        Command::Probe(args) => cmd::probe::run(args, &cli.global),
        Command::Sim(args) => cmd::sim::run(args, &cli.global),
        Command::Completions(args) => cmd::completions::run(args, &cli.global),
    }
}
