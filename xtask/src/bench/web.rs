//! `cargo xtask bench web [SECONDS] [BOARDS] [RATE] [SCROLLBACK,...]`: the
//! figures of issue 14. `picow serve --web` with the page open in headless
//! Chromium, 50 boards at 100 lines a second for 60 s by default, beside the
//! same load without the page; the run itself is `picow-webbench`
//! (crates/picow-bench), which says what it measures. Loopback only.

use std::process::Command;

use crate::{cargo, root, step, Result};

/// Runs the benchmark; fails when a byte was lost.
pub fn run(args: &[String]) -> Result {
    if args.len() > 4 || args.iter().any(|a| a.starts_with('-')) {
        return Err(crate::bad_input(
            "usage: cargo xtask bench web [SECONDS] [BOARDS] [RATE] [SCROLLBACK,...]",
        ));
    }
    crate::tools::apt_install(crate::tools::BROWSER)?;
    step(
        "build picow and picow-webbench (release)",
        cargo().args([
            "build",
            "--release",
            "--locked",
            "-p",
            "picow-cli",
            "--bin",
            "picow",
            "-p",
            "picow-bench",
            "--bin",
            "picow-webbench",
        ]),
    )?;
    let target = root().join("target/release");
    step(
        "bench web",
        Command::new(target.join("picow-webbench"))
            .arg(target.join("picow"))
            .args(args),
    )
}
