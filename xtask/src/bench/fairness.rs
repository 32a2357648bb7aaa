//! `cargo xtask bench fairness [--newcomers N]` (issue 11): while 100
//! clients send to `picow serve` as fast as they can, how long a new client
//! waits to be accepted and for its first data to be shown.
//!
//! Release `picow serve --plain` on 127.0.0.1 writes to a pipe that this
//! benchmark reads as fast as it can (as a terminal would). 100 flooding
//! clients write 16 KiB blocks in a loop. Then N newcomers (default 20),
//! one every 250 ms, each connect and at once send one line. Per newcomer:
//! from its `connect()` to serve's `connected from` line (accepted and
//! shown), and from its write to serve's line with its data. The baseline, in the same run:
//! the same newcomers with no flood. The target: 100 ms.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::{cargo, root, step, Result};

const FLOODERS: usize = 100;
const TARGET_MS: f64 = 100.0;

/// One newcomer's waits, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Wait {
    accept_ms: f64,
    data_ms: f64,
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// serve's stdout lines, each with the time it was read.
type Lines = mpsc::Receiver<(Instant, String)>;

/// A `picow serve --plain` whose stdout lines arrive on a channel with the
/// time they were read.
fn start_serve() -> Result<(std::process::Child, u16, Lines)> {
    let mut child = Command::new(root().join("target/release/picow"))
        .args(["serve", "--bind", "127.0.0.1", "--port", "0", "--plain"])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting picow serve: {e}"))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 20, out);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let at = Instant::now();
            // The flood's lines are long: keep their heads.
            let head = String::from_utf8_lossy(&line[..line.len().min(160)]).into_owned();
            if tx.send((at, head)).is_err() {
                return;
            }
        }
    });
    let (_, first) = rx
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| "serve printed no first line")?;
    let port = first
        .trim_end()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no port in `{first}`"))?;
    Ok((child, port, rx))
}

/// Waits for the line that `pred` accepts; its time.
fn until(rx: &mpsc::Receiver<(Instant, String)>, pred: impl Fn(&str) -> bool) -> Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, l) = rx
            .recv_timeout(left)
            .map_err(|_| "a newcomer was not shown within 60 s")?;
        if pred(&l) {
            return Ok(at);
        }
    }
}

fn newcomers(n: usize, flood: bool) -> Result<Vec<Wait>> {
    let (mut child, port, rx) = start_serve()?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    if flood {
        let block: Vec<u8> = (0..16_384u32).map(|i| b'a' + (i % 26) as u8).collect();
        for _ in 0..FLOODERS {
            let mut c = TcpStream::connect(("127.0.0.1", port))
                .map_err(|e| format!("connecting a flooding client: {e}"))?;
            let (stop, block) = (stop.clone(), block.clone());
            flooders.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if c.write_all(&block).is_err() {
                        return;
                    }
                }
            }));
        }
        // Let the flood settle (every queue full).
        let settle = Instant::now() + Duration::from_secs(2);
        while Instant::now() < settle {
            let _ = rx.recv_timeout(Duration::from_millis(10));
        }
    }
    let mut waits = Vec::new();
    for i in 0..n {
        std::thread::sleep(Duration::from_millis(250));
        // Earlier lines are not this newcomer's.
        while rx.try_recv().is_ok() {}
        let t0 = Instant::now();
        let mut c = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("connecting newcomer {i}: {e}"))?;
        let connected = Instant::now();
        let me = c.local_addr().map_err(|e| e.to_string())?.to_string();
        let msg = format!("newcomer {i}\n");
        c.write_all(msg.as_bytes())
            .map_err(|e| format!("newcomer {i}: {e}"))?;
        let wrote = Instant::now();
        // serve shows the connect first, then the data.
        let shown_connect = until(&rx, |l| l.contains("connected from") && l.contains(&me))?;
        let shown_data = until(&rx, |l| l.contains(&format!("< newcomer {i}")))?;
        let _ = connected;
        waits.push(Wait {
            accept_ms: shown_connect.duration_since(t0).as_secs_f64() * 1e3,
            data_ms: shown_data.duration_since(wrote).as_secs_f64() * 1e3,
        });
        drop(c);
    }
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        let _ = f.join();
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    Ok(waits)
}

/// Runs `cargo xtask bench fairness`.
pub fn run(args: &[String]) -> Result {
    let n: usize = match args {
        [] => 20,
        [flag, n] if flag == "--newcomers" => {
            n.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                crate::bad_input(format!("--newcomers: `{n}` is not a whole number above 0"))
            })?
        }
        _ => {
            return Err(crate::bad_input(format!(
                "bench fairness takes only `--newcomers N`, got `{}`",
                args.join(" ")
            )))
        }
    };
    step(
        "release build of picow",
        cargo().args(["build", "--release", "--locked", "-p", "picow-cli"]),
    )?;
    println!("==> {n} newcomers, no flood (baseline)");
    let idle = newcomers(n, false)?;
    println!("==> {n} newcomers while {FLOODERS} clients flood");
    let loaded = newcomers(n, true)?;
    let figures = |w: &[Wait]| {
        let mut a: Vec<f64> = w.iter().map(|w| w.accept_ms).collect();
        let mut d: Vec<f64> = w.iter().map(|w| w.data_ms).collect();
        (
            quantile(&mut a, 0.5),
            quantile(&mut a, 1.0),
            quantile(&mut d, 0.5),
            quantile(&mut d, 0.95),
            quantile(&mut d, 1.0),
        )
    };
    let (ia50, iamax, id50, id95, idmax) = figures(&idle);
    let (la50, lamax, ld50, ld95, ldmax) = figures(&loaded);
    println!("| figure | no flood | {FLOODERS} clients flooding | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| accepted and shown, p50 / max | {ia50:.2} / {iamax:.2} ms | {la50:.2} / {lamax:.2} ms | {:.1} | |",
        la50 / ia50.max(1e-3)
    );
    println!(
        "| first data shown, p50 / p95 / max | {id50:.2} / {id95:.2} / {idmax:.2} ms | {ld50:.2} / {ld95:.2} / {ldmax:.2} ms | {:.1} | {TARGET_MS:.0} ms ({:.2} of it at p95) |",
        ld50 / id50.max(1e-3),
        ld95 / TARGET_MS
    );
    if ld95 > TARGET_MS {
        println!("note: above the {TARGET_MS:.0} ms target at p95 on this run");
    }
    Ok(())
}
