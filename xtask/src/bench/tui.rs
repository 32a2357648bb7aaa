//! `cargo xtask bench tui [--secs N] [--clients N] [--rate LINES_PER_S]`:
//! issue 13's figures. 50 clients each send 100 lines a second for 60 s
//! into `picow serve`'s full-screen view on a 160x45 pseudo-terminal, read
//! back through a terminal emulator. Reported: bytes lost from serve's
//! counters (the summary it leaves after `/quit`) and from `--log`, redraws
//! a second (target at most 60), serve's CPU and peak RSS, and the delay
//! from a line's send to the newest line on the screen being that one
//! (p50/p99, target p99 at most 50 ms). Run with the scroll-back at 10,000
//! and at 1,000 lines (RSS bounded by it), and, as the baseline measured in
//! the same run, the same load into `--plain` lines on the same terminal.

use std::process::Command;

use crate::{root, Result};

struct Figures {
    name: String,
    fields: std::collections::HashMap<String, f64>,
}

impl Figures {
    fn get(&self, k: &str) -> f64 {
        self.fields.get(k).copied().unwrap_or(0.0)
    }
}

fn measure(
    name: &str,
    secs: u64,
    clients: u64,
    rate: u64,
    mode: &str,
    scrollback: u64,
) -> Result<Figures> {
    println!("==> {name}: {clients} clients x {rate} lines/s for {secs} s");
    let dir = root().join("target/xtask/bench-tui");
    let out = Command::new(root().join("target/release/picow-tuibench"))
        .arg(root().join("target/release/picow"))
        .args([secs, clients, rate].map(|v| v.to_string()))
        .arg(mode)
        .arg(scrollback.to_string())
        .arg(&dir)
        .output()
        .map_err(|e| format!("running picow-tuibench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .ok_or_else(|| {
            format!(
                "{name}: no result ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let fields = line
        .split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect();
    Ok(Figures {
        name: name.into(),
        fields,
    })
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result {
    let (mut secs, mut clients, mut rate) = (60u64, 50u64, 100u64);
    super::counts(
        args,
        &mut [
            ("--secs", &mut secs),
            ("--clients", &mut clients),
            ("--rate", &mut rate),
        ],
        "cargo xtask bench tui [--secs N] [--clients N] [--rate LINES_PER_S]",
    )?;
    super::build_release("build picow and picow-tuibench (release)")?;
    let runs = [
        measure(
            "view, scroll-back 10000",
            secs,
            clients,
            rate,
            "view",
            10_000,
        )?,
        measure("view, scroll-back 1000", secs, clients, rate, "view", 1_000)?,
        measure(
            "plain lines (baseline)",
            secs,
            clients,
            rate,
            "plain",
            10_000,
        )?,
    ];
    println!();
    println!("| front end | sent | lost (counters) | lost (log) | redraws/s | CPU (% of one core) | peak RSS | delay p50 | delay p99 |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut failed = Vec::new();
    for f in &runs {
        let sent = f.get("sent");
        let lost_c = sent - f.get("received");
        let lost_l = sent - f.get("logged");
        let fps = f.get("frames") / f.get("secs").max(1.0);
        let redraws = if f.name.starts_with("view") {
            format!("{fps:.1}")
        } else {
            "n/a".into()
        };
        println!(
            "| {} | {:.0} B | {lost_c:.0} B | {lost_l:.0} B | {redraws} | {:.1} % | {:.1} MB | {:.1} ms | {:.1} ms |",
            f.name,
            sent,
            f.get("cpu"),
            f.get("rss_kib") / 1024.0,
            f.get("p50_us") / 1000.0,
            f.get("p99_us") / 1000.0,
        );
        if lost_c != 0.0 || lost_l != 0.0 {
            failed.push(format!("{}: bytes lost", f.name));
        }
        if f.name.starts_with("view") {
            if fps > 60.5 {
                failed.push(format!(
                    "{}: {fps:.1} redraws/s (target at most 60)",
                    f.name
                ));
            }
            if f.get("p99_us") > 50_000.0 {
                failed.push(format!("{}: p99 delay above 50 ms", f.name));
            }
        }
    }
    let (view, plain) = (&runs[0], &runs[2]);
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}x", a / b)
        } else {
            "n/a".into()
        }
    };
    println!(
        "\nratio view/plain: CPU {}, peak RSS {}, p99 {}; RSS with 10000 vs 1000 lines of scroll-back: {:.1} MB vs {:.1} MB",
        ratio(view.get("cpu"), plain.get("cpu")),
        ratio(view.get("rss_kib"), plain.get("rss_kib")),
        ratio(view.get("p99_us"), plain.get("p99_us")),
        view.get("rss_kib") / 1024.0,
        runs[1].get("rss_kib") / 1024.0,
    );
    if failed.is_empty() {
        println!("bench tui: every target met");
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}
