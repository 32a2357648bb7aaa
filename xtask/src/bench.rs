//! `cargo xtask bench <name>`: benchmarks whose figures go into
//! `docs/performance.md`.

use crate::Result;

/// Runs `cargo xtask bench <name>`.
pub fn run(args: &[String]) -> Result {
    match args.first().map(String::as_str) {
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
        Some(other) => Err(format!("no benchmark named `{other}` yet")),
        None => Err("usage: cargo xtask bench <name>".into()),
    }
}
