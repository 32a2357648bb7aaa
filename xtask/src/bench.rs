//! `cargo xtask bench <name>`: benchmarks whose figures go into
//! `docs/performance.md`.

use crate::{cargo, step, Result};

/// Reads `--NAME N` options (positive whole numbers) into `opts`, each
/// `(flag, value)`; anything else is an input error showing `usage`.
pub fn counts(args: &[String], opts: &mut [(&str, &mut u64)], usage: &str) -> Result {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let Some((flag, value)) = opts.iter_mut().find(|(f, _)| f == a) else {
            return Err(crate::bad_input(format!(
                "unknown argument `{a}`; usage: {usage}"
            )));
        };
        **value = it
            .next()
            .and_then(|v| v.parse().ok())
            .filter(|&v: &u64| v > 0)
            .ok_or_else(|| crate::bad_input(format!("{flag} needs a positive whole number")))?;
    }
    Ok(())
}

/// Builds picow (and the benchmark helpers) for release.
pub fn build_release(what: &str) -> Result {
    step(
        what,
        cargo().args([
            "build",
            "--release",
            "--locked",
            "-p",
            "picow-cli",
            "-p",
            "picow-bench",
        ]),
    )
}

#[cfg(target_os = "linux")]
mod discovery;
#[cfg(unix)]
mod fairness;
#[cfg(unix)]
mod flash;
#[cfg(unix)]
mod monitor;
#[cfg(unix)]
mod ota;
mod serve;
#[cfg(unix)]
mod tui;
#[cfg(unix)]
mod web;

/// Runs `cargo xtask bench <name>`.
pub fn run(args: &[String]) -> Result {
    match args.first().map(String::as_str) {
        #[cfg(unix)]
        Some("flash") => flash::run(&args[1..]),
        #[cfg(unix)]
        Some("monitor") => monitor::run(&args[1..]),
        // Updates over Wi-Fi against ESPHome's uploader and USB (issue 17).
        #[cfg(unix)]
        Some("ota") => ota::run(&args[1..]),
        Some("serve") => serve::run(&args[1..]),
        // A newcomer among 100 flooding clients (issue #11).
        #[cfg(unix)]
        Some("fairness") => fairness::run(&args[1..]),
        // Discovery between network namespaces, as root (issue 16).
        #[cfg(target_os = "linux")]
        Some("discovery") => discovery::run(&args[1..]),
        // The page under 50 boards in headless Chromium (issue #14).
        #[cfg(unix)]
        Some("web") => web::run(&args[1..]),
        // serve's terminal view under load on a pseudo-terminal (issue 13).
        #[cfg(unix)]
        Some("tui") => tui::run(&args[1..]),
        // The virtual board's reply latency over a pty (issue #5).
        Some("sim-latency") => crate::step(
            "bench sim-latency",
            crate::cargo().args([
                "run",
                "--release",
                "--locked",
                "-p",
                "picow-sim",
                "--example",
                "pty_latency",
            ]),
        ),
        Some(other) => Err(crate::bad_input(format!(
            "no benchmark named `{other}`; see `cargo xtask help`"
        ))),
        None => Err(crate::bad_input("usage: cargo xtask bench <name>")),
    }
}
