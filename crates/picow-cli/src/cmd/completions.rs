//! `picow completions <shell>`: a shell completion script on stdout.

use std::io::Write;

use clap::Args;
use clap_complete::Shell;
use color_eyre::eyre::WrapErr;

use crate::cli::{Cli, GlobalArgs};
use crate::exit::Exit;

/// Arguments of `picow completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script.
pub fn run(args: CompletionsArgs, _global: &GlobalArgs) -> color_eyre::Result<Exit> {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut Cli::command_with_rules(),
        "picow",
        &mut script,
    );
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .wrap_err("writing the completion script to stdout")?;
    Ok(Exit::Success)
}
