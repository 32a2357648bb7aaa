//! `picow`: parses the command line, installs the error and log hooks, and
//! dispatches to one module per subcommand.

use std::process::ExitCode;

use picow_cli::{cli::Cli, exit, run};

fn main() -> ExitCode {
    let cli = match Cli::try_parse_with_rules() {
        Ok(cli) => cli,
        // --help and --version exit 0; usage errors exit 2 (clap's own codes).
        Err(e) => e.exit(),
    };
    let debug = cli.global.debug;
    let code = exit::report(run(cli), debug);
    ExitCode::from(code as u8)
}
