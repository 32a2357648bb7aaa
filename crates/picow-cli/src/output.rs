//! Colours, logging and error-report hooks, decided by the global options.

use std::io::IsTerminal;

use crate::cli::{ColorChoice, GlobalArgs};

/// Whether to colour output on stderr.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

/// Installs color-eyre (plain when colours are off) and a tracing subscriber
/// on stderr: `-q` errors only, default warnings, `-v` debug, `-vv` trace;
/// `RUST_LOG`, when set, wins.
pub fn install_hooks(global: &GlobalArgs) -> color_eyre::Result<()> {
    let color = use_color(global.color);
    let hooks = color_eyre::config::HookBuilder::default().display_env_section(false);
    let hooks = if color {
        hooks
    } else {
        hooks.theme(color_eyre::config::Theme::new())
    };
    // A second install (tests running several commands in one process) is harmless.
    let _ = hooks.install();
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .try_init();
    Ok(())
}
