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
        localize(rules(Cli::command()), picow_i18n::current())
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

/// `cmd` with its help in `lang`: the summaries of picow and of every
/// subcommand, the headings, the global options and the most common options
/// of serve, flash, monitor and probe, from the `help-…` messages of the
/// catalogs. Everything else stays English.
///
/// The English catalog holds the English text each translation was made
/// from: where the doc comment has changed since, the translation is stale
/// and the English doc comment is shown instead (and a test fails until
/// both catalogs are updated).
pub fn localize(cmd: clap::Command, lang: picow_i18n::Lang) -> clap::Command {
    if lang == picow_i18n::Lang::En {
        return cmd;
    }
    let tr = |id: &str, english: Option<String>| -> Option<String> {
        let english = english?;
        let source = picow_i18n::lookup_in(picow_i18n::Lang::En, id)?;
        (source == one_line(&english))
            .then(|| picow_i18n::lookup_in(lang, id))
            .flatten()
    };
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{}{{usage}}\n\n{{all-args}}{{after-help}}",
        picow_i18n::message_in(lang, "help-heading-usage", None)
    );
    let options = picow_i18n::message_in(lang, "help-heading-options", None);
    let commands = picow_i18n::message_in(lang, "help-heading-commands", None);
    let args = |cmd: clap::Command, prefix: &str| {
        cmd.mut_args(|a| {
            let id = format!("{prefix}-{}", a.get_id());
            let a = if a.is_positional() {
                a
            } else {
                a.help_heading(options.clone())
            };
            match tr(&id, a.get_help().map(ToString::to_string)) {
                Some(t) => a.help(t.clone()).long_help(t),
                None => a,
            }
        })
    };
    let about =
        |cmd: clap::Command, id: &str| match tr(id, cmd.get_about().map(ToString::to_string)) {
            Some(t) => cmd.about(t.clone()).long_about(t),
            None => cmd,
        };
    // clap's own -h and -V, with their help in `lang` under the same heading.
    let flags = |cmd: clap::Command| {
        cmd.disable_help_flag(true)
            .disable_version_flag(true)
            .arg(
                clap::Arg::new("help")
                    .short('h')
                    .long("help")
                    .action(clap::ArgAction::Help)
                    .help(picow_i18n::message_in(lang, "help-flag-help", None))
                    .help_heading(options.clone()),
            )
            .arg(
                clap::Arg::new("version")
                    .short('V')
                    .long("version")
                    .action(clap::ArgAction::Version)
                    .help(picow_i18n::message_in(lang, "help-flag-version", None))
                    .help_heading(options.clone()),
            )
    };
    let mut cmd = flags(about(args(cmd, "help-arg"), "help-about"))
        .help_template(template.clone())
        .subcommand_help_heading(commands.clone());
    if let Some(t) = tr("help-after", cmd.get_after_help().map(ToString::to_string)) {
        cmd = cmd.after_help(t);
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |s| {
            flags(about(
                args(s, &format!("help-{name}")),
                &format!("help-sub-{name}"),
            ))
            .help_template(template.clone())
        });
    }
    cmd
}

/// Help text as clap shows it on one line (doc comments' line breaks are spaces).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
        localize(Cli::command(), picow_i18n::Lang::ZhCn).debug_assert();
    }

    /// Every `help-…` translation was made from the English that clap shows
    /// now: a changed doc comment needs both catalogs updated.
    #[test]
    fn help_translations_are_not_stale() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut english: Vec<(String, String)> = vec![
            ("help-about".into(), cmd.get_about().unwrap().to_string()),
            (
                "help-after".into(),
                cmd.get_after_help().unwrap().to_string(),
            ),
        ];
        for a in cmd.get_arguments() {
            if let Some(h) = a.get_help() {
                english.push((format!("help-arg-{}", a.get_id()), h.to_string()));
            }
        }
        for s in cmd.get_subcommands() {
            let name = s.get_name();
            if let Some(h) = s.get_about() {
                english.push((format!("help-sub-{name}"), h.to_string()));
            }
            for a in s.get_arguments() {
                if let Some(h) = a.get_help() {
                    english.push((format!("help-{name}-{}", a.get_id()), h.to_string()));
                }
            }
        }
        let ids: Vec<&str> = picow_i18n::EN_FTL
            .lines()
            .filter(|l| l.starts_with("help-"))
            .filter(|l| !l.starts_with("help-heading-") && !l.starts_with("help-flag-"))
            .filter_map(|l| l.split(" =").next())
            .collect();
        assert!(ids.len() > 25, "{ids:?}");
        for id in ids {
            let Some((_, now)) = english.iter().find(|(k, _)| k == id) else {
                panic!("{id}: no such summary or option in picow's help any more");
            };
            let source = picow_i18n::lookup_in(picow_i18n::Lang::En, id).unwrap();
            assert_eq!(
                source,
                one_line(now),
                "{id}: the English help changed; update it in locales/en/picow.ftl and the translation in locales/zh-CN/picow.ftl"
            );
        }
    }

    #[test]
    fn help_in_chinese() {
        let mut cmd = localize(Cli::command(), picow_i18n::Lang::ZhCn);
        let help = cmd.render_help().to_string();
        for zh in [
            "用法：",
            "命令",
            "选项",
            "运行开发板要连接的电脑端",
            "网络调试助手",
        ] {
            assert!(help.contains(zh), "{zh} not in:\n{help}");
        }
        let serve = cmd
            .find_subcommand_mut("serve")
            .unwrap()
            .render_help()
            .to_string();
        assert!(serve.contains("监听的 TCP（或 UDP）端口"), "{serve}");
        // Flags and values stay as they are typed.
        assert!(
            serve.contains("--port <PORT>") && serve.contains("[default: 10000]"),
            "{serve}"
        );
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
