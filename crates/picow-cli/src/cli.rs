//! The command-line interface: global options and the subcommands.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cmd;

/// `picow --version`: the crate version and the git revision it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PICOW_GIT_REV"), ")");

/// Rust tooling for both ends of the WalnutPi PicoW socket workflow.
#[derive(Debug, Parser)]
#[command(name = "picow", version = VERSION, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 runtime failure, 2 invalid input or usage, \
                        124 timed out waiting for an expectation."
)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The clap command with the rules every value flag follows: a value
    /// that starts with `-` is the flag's value when it is a number
    /// (`--port -1`), and always for a duration (`--timeout -5s`), so that
    /// the flag's own check refuses it by name instead of clap's
    /// "unexpected argument '-1'".
    pub fn command_with_rules() -> clap::Command {
        fn rules(cmd: clap::Command) -> clap::Command {
            cmd.mut_args(|a| {
                if a.is_positional() || !a.get_action().takes_values() {
                    return a;
                }
                let duration = a
                    .get_value_names()
                    .is_some_and(|n| n.iter().any(|n| n.as_str() == "DUR"));
                a.allow_negative_numbers(true).allow_hyphen_values(duration)
            })
            .mut_subcommands(rules)
        }
        use clap::CommandFactory;
        rules(Cli::command())
    }

    /// Parses the process's arguments with [`Cli::command_with_rules`].
    pub fn try_parse_with_rules() -> Result<Cli, clap::Error> {
        use clap::FromArgMatches;
        let m = Cli::command_with_rules().try_get_matches()?;
        Cli::from_arg_matches(&m)
    }

    /// Parses `args` (the first is the program name) the same way.
    pub fn try_parse_from_with_rules<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::FromArgMatches;
        let m = Cli::command_with_rules().try_get_matches_from(args)?;
        Cli::from_arg_matches(&m)
    }
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// More log output on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output: only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// When to use colours; NO_COLOR in the environment means never for auto.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print data as JSON (one object per line for event streams).
    #[arg(long, global = true)]
    pub json: bool,
    /// Timestamps for people in UTC instead of local time (JSON and logs
    /// are always RFC 3339 in UTC).
    #[arg(long, global = true)]
    pub utc: bool,
    /// Technical details with errors (with RUST_BACKTRACE=1 also where they
    /// happened), for bug reports.
    #[arg(long, global = true, env = "PICOW_DEBUG",
          value_parser = clap::builder::FalseyValueParser::new())]
    pub debug: bool,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colours when the output is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the PC-side TCP/UDP server the board connects to (replaces NetAssist).
    Serve(cmd::serve::ServeArgs),
    /// Write the firmware, Wi-Fi and server settings to a board.
    Flash(cmd::flash::FlashArgs),
    /// Show a board's serial output; survives resets and replugs.
    Monitor(cmd::monitor::MonitorArgs),
    /// Find serial ports and identify the boards behind them.
    Probe(cmd::probe::ProbeArgs),
    /// Run a virtual PicoW on a pseudo-terminal (no hardware needed).
    Sim(cmd::sim::SimArgs),
    /// Print a shell completion script.
    Completions(cmd::completions::CompletionsArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
        Cli::command_with_rules().debug_assert();
    }

    #[test]
    fn values_starting_with_a_dash_go_to_their_flag() {
        for (args, flag) in [
            (&["picow", "serve", "--port", "-1"][..], "--port"),
            (&["picow", "serve", "--timeout", "-5s"][..], "--timeout"),
            (&["picow", "flash", "--baud", "-5"][..], "--baud"),
        ] {
            let e = Cli::try_parse_from_with_rules(args).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            let msg = e.to_string();
            assert!(
                msg.contains(flag) && !msg.contains("unexpected argument"),
                "{msg}"
            );
        }
        // A flag that takes no value is still a flag.
        let c = Cli::try_parse_from_with_rules(["picow", "serve", "--udp", "--port", "9"]).unwrap();
        assert!(matches!(c.command, Command::Serve(_)));
    }
}
