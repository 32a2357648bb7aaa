//! Reads `picow --json serve` output on stdin for `cargo xtask bench serve`,
//! as fast as a consumer can: prints `listening` when serve listens, then
//! `done END_NANOS P50_NANOS P99_NANOS` once TOTAL benchmark messages have
//! appeared in `data` events (latency: from the send time stamped in each
//! message to the moment its line was read), then drains stdin until serve
//! exits.
//!
//! `picow-jsonsink TOTAL`

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};

/// Scans one `--json` line; for a data event returns (id, text).
fn data_event(line: &str) -> Option<(u64, &str)> {
    let rest = line.strip_prefix("{\"event\":\"data\"")?;
    let id_at = rest.find("\"id\":")? + 5;
    let id_end = id_at + rest[id_at..].find(',')?;
    let id = rest[id_at..id_end].parse().ok()?;
    let text_at = rest.find("\"text\":\"")? + 8;
    let text_end = text_at + rest[text_at..].find("\",\"hex\"")?;
    Some((id, &rest[text_at..text_end]))
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: picow-jsonsink TOTAL");
            std::process::exit(2);
        });
    let mut input = BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let mut out = std::io::stdout();
    let mut line = Vec::new();
    let mut pending: HashMap<u64, String> = HashMap::new();
    let mut latencies: Vec<u64> = Vec::with_capacity(total);
    let mut reported = false;
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if reported {
            continue;
        }
        let Ok(text_line) = std::str::from_utf8(&line) else {
            eprintln!("picow-jsonsink: a line that is not UTF-8");
            std::process::exit(1);
        };
        if text_line.starts_with("{\"event\":\"listening\"") {
            let _ = writeln!(out, "listening");
            continue;
        }
        let Some((id, text)) = data_event(text_line) else {
            continue;
        };
        let now = picow_bench::now_ns();
        let buf = pending.entry(id).or_default();
        buf.push_str(text);
        // Messages end in \n, escaped as the two characters `\n` in JSON.
        let mut done = 0;
        while let Some(i) = buf[done..].find("\\n") {
            let msg = &buf[done..done + i];
            let Some(t) = picow_bench::send_time(msg) else {
                eprintln!("picow-jsonsink: a message without a send time: {msg:?}");
                std::process::exit(1);
            };
            latencies.push(now.saturating_sub(t) as u64);
            done += i + 2;
        }
        buf.drain(..done);
        if latencies.len() >= total {
            latencies.sort_unstable();
            let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
            let _ = writeln!(
                out,
                "done {now} {} {} {}",
                pct(0.5),
                pct(0.99),
                latencies.len()
            );
            let _ = out.flush();
            reported = true;
        }
    }
    if !reported {
        let _ = writeln!(out, "short {}", latencies.len());
    }
}
