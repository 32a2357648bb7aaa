//! `cargo xtask bench monitor [--secs N] [--rate BYTES_PER_S]`: a stream at
//! the rate of 2 Mbaud (200 KB/s) through a pseudo-terminal into
//! `picow monitor` for N seconds (default 60). Measures bytes lost, the
//! monitor's CPU use (from `/proc/<pid>/stat`) and the delay from the write
//! into the pty to the line on the monitor's stdout (p50/p99). The baseline,
//! run the same way in the same run, is `cat` on the raw pty: the least a
//! reader can do.
//!
//! Then 20 replugs: the pty behind a stable symlink disappears and returns
//! under a new name; measured is the time from its return to the monitor's
//! "reconnected" (target: within 500 ms).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, LocalModes};

use crate::{cargo, root, step, Result};

/// Bytes per line in the stream (so that lines/s = rate / LINE).
const LINE: usize = 100;

struct Figures {
    name: String,
    sent: u64,
    received: u64,
    lost: u64,
    out_of_order: u64,
    cpu_percent: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result {
    let mut secs = 60u64;
    let mut rate = 200_000u64;
    super::counts(
        args,
        &mut [("--secs", &mut secs), ("--rate", &mut rate)],
        "cargo xtask bench monitor [--secs N] [--rate BYTES_PER_S]",
    )?;
    step(
        "build picow (release)",
        cargo().args(["build", "-p", "picow-cli", "--release", "--locked"]),
    )?;
    let picow = root().join("target/release/picow");
    let dur = Duration::from_secs(secs);
    println!("==> streaming {rate} B/s for {secs} s into each reader");

    let subject = measure("picow monitor", rate, dur, |pts| {
        Command::new(&picow)
            .args(["monitor", "--non-interactive", "--color", "never", "--port"])
            .arg(pts)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
    })?;
    let baseline = measure("cat (baseline)", rate, dur, |pts| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "stty -F {p} raw -echo && exec cat {p}",
                p = pts.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
    })?;

    println!();
    println!("| reader | sent | received | lost | CPU (% of one core) | delay p50 | delay p99 | delay max |");
    println!("|---|---|---|---|---|---|---|---|");
    for f in [&subject, &baseline] {
        println!(
            "| {} | {} B | {} B | {} B | {:.1} % | {:.2} ms | {:.2} ms | {:.2} ms |",
            f.name,
            f.sent,
            f.received,
            f.lost,
            f.cpu_percent,
            f.p50_us as f64 / 1000.0,
            f.p99_us as f64 / 1000.0,
            f.max_us as f64 / 1000.0
        );
    }
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}x", a / b)
        } else {
            "n/a (baseline 0)".into()
        }
    };
    println!(
        "\nratio picow/cat: CPU {}, delay p50 {}, p99 {}",
        ratio(subject.cpu_percent, baseline.cpu_percent),
        ratio(subject.p50_us as f64, baseline.p50_us as f64),
        ratio(subject.p99_us as f64, baseline.p99_us as f64)
    );
    let reconnect = measure_reconnect(&picow, 20)?;
    println!(
        "\nreconnect after a replug ({} cycles): p50 {:.1} ms, max {:.1} ms",
        reconnect.len(),
        reconnect[reconnect.len() / 2].as_secs_f64() * 1000.0,
        reconnect.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    let mut fails = Vec::new();
    if reconnect
        .last()
        .is_some_and(|d| *d > Duration::from_millis(500))
    {
        fails.push("a reconnect took longer than 500 ms".to_string());
    }
    if subject.lost > 0 || subject.out_of_order > 0 {
        fails.push(format!(
            "{} bytes lost, {} lines out of order",
            subject.lost, subject.out_of_order
        ));
    }
    if subject.cpu_percent > 10.0 {
        fails.push(format!("CPU {:.1} % > 10 %", subject.cpu_percent));
    }
    if fails.is_empty() {
        println!("targets met: 0 bytes lost, CPU <= 10 % of one core, reconnect <= 500 ms");
        Ok(())
    } else {
        Err(format!(
            "monitor benchmark targets missed: {}",
            fails.join("; ")
        ))
    }
}

fn measure(
    name: &str,
    rate: u64,
    dur: Duration,
    spawn: impl FnOnce(&Path) -> std::io::Result<Child>,
) -> Result<Figures> {
    let io = |e: std::io::Error| format!("{name}: {e}");
    let (mut master, pts) = new_pty()?;
    let mut child = spawn(&pts).map_err(io)?;
    let pid = child.id();
    // Ready when the reader has put the pty into raw mode.
    let ready_by = Instant::now() + Duration::from_secs(20);
    while tcgetattr(&master)
        .map(|t| t.local_modes.contains(LocalModes::ICANON))
        .unwrap_or(true)
    {
        if Instant::now() > ready_by {
            let _ = child.kill();
            return Err(format!("{name}: never opened the pty"));
        }
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(200));

    let t0 = Arc::new(Instant::now());
    let stdout = child.stdout.take().expect("piped stdout");
    let t0r = Arc::clone(&t0);
    let reader = thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 16, stdout);
        let mut line = Vec::with_capacity(256);
        let (mut received, mut next, mut out_of_order) = (0u64, 0u64, 0u64);
        let mut delays = Vec::with_capacity(1 << 20);
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let now = t0r.elapsed().as_micros() as u64;
                    received += n as u64;
                    let text = String::from_utf8_lossy(&line);
                    let mut f = text.split_whitespace();
                    let seq = f.next().and_then(|s| s.parse::<u64>().ok());
                    let t = f.next().and_then(|s| s.parse::<u64>().ok());
                    if let (Some(seq), Some(t)) = (seq, t) {
                        if seq != next {
                            out_of_order += 1;
                        }
                        next = seq + 1;
                        delays.push(now.saturating_sub(t));
                    }
                }
            }
        }
        (received, out_of_order, delays)
    });

    let cpu0 = cpu_ticks(pid)?;
    let lines_per_sec = rate as f64 / LINE as f64;
    let mut sent = 0u64;
    let mut seq = 0u64;
    let mut batch = Vec::with_capacity(64 * LINE);
    while t0.elapsed() < dur {
        let due = (t0.elapsed().as_secs_f64() * lines_per_sec) as u64;
        batch.clear();
        while seq < due {
            let t = t0.elapsed().as_micros() as u64;
            let head = format!("{seq:010} {t:016} ");
            batch.extend_from_slice(head.as_bytes());
            batch.resize(batch.len() + LINE - head.len() - 1, b'x');
            batch.push(b'\n');
            seq += 1;
        }
        if !batch.is_empty() {
            master.write_all(&batch).map_err(io)?;
            sent += batch.len() as u64;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let wall = t0.elapsed();
    let cpu1 = cpu_ticks(pid)?;
    // Let the reader drain, then stop it.
    thread::sleep(Duration::from_secs(2));
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    );
    drop(master);
    let _ = child.wait();
    let (received, out_of_order, mut delays) = reader.join().map_err(|_| "reader panicked")?;
    delays.sort_unstable();
    let pct = |p: f64| -> u64 {
        if delays.is_empty() {
            0
        } else {
            delays[((delays.len() - 1) as f64 * p) as usize]
        }
    };
    let hz = rustix::param::clock_ticks_per_second() as f64;
    Ok(Figures {
        name: name.into(),
        sent,
        received,
        lost: sent.saturating_sub(received),
        out_of_order,
        cpu_percent: (cpu1 - cpu0) as f64 / hz / wall.as_secs_f64() * 100.0,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        max_us: delays.last().copied().unwrap_or(0),
    })
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let mut s = String::new();
    File::open(format!("/proc/{pid}/stat"))
        .and_then(|mut f| f.read_to_string(&mut s))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name in parentheses (which may hold spaces).
    let rest = &s[s.rfind(')').ok_or("bad /proc stat")? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    Ok(num(11) + num(12))
}

fn new_pty() -> Result<(File, PathBuf)> {
    let e = |e: rustix::io::Errno| format!("pty: {e}");
    let master =
        openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).map_err(e)?;
    grantpt(&master).map_err(e)?;
    unlockpt(&master).map_err(e)?;
    let pts = ptsname(&master, Vec::new()).map_err(e)?;
    Ok((
        File::from(master),
        PathBuf::from(pts.to_string_lossy().into_owned()),
    ))
}

/// Points `link` at `target` atomically.
fn relink(link: &Path, target: &Path) -> Result {
    let tmp = link.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .and_then(|()| std::fs::rename(&tmp, link))
        .map_err(|e| format!("symlink {}: {e}", link.display()))
}

/// Replugs the pty behind a symlink `cycles` times; returns the times from
/// its return to the monitor saying "reconnected", sorted.
fn measure_reconnect(picow: &Path, cycles: usize) -> Result<Vec<Duration>> {
    let dir = std::env::temp_dir().join(format!("picow-bench-reconnect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let link = dir.join("usb-Espressif_USB_JTAG_serial_debug_unit-if00");
    let (mut master, pts) = new_pty()?;
    relink(&link, &pts)?;
    let mut child = Command::new(picow)
        .args(["monitor", "--non-interactive", "--port"])
        .arg(&link)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("picow monitor: {e}"))?;
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
    let stderr = child.stderr.take().expect("piped stderr");
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let wait_for = |word: &str| -> Result<Instant> {
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok((t, l)) if l.contains(word) => return Ok(t),
                Ok(_) => {}
                Err(_) => return Err(format!("the monitor never said `{word}`")),
            }
        }
    };
    let mut times = Vec::with_capacity(cycles);
    let result = (|| -> Result {
        wait_for("monitoring")?;
        for i in 0..cycles {
            let _ = master.write_all(b"tick\n");
            drop(master);
            wait_for("vanished")?;
            let _ = std::fs::remove_file(&link);
            // The board is gone for a moment, as during a USB reset; for
            // varying times, so that its return falls at every phase of the
            // monitor's polling.
            thread::sleep(Duration::from_millis(150 + (i as u64 * 37) % 100));
            let (m, pts) = new_pty()?;
            master = m;
            relink(&link, &pts)?;
            let back = Instant::now();
            let t = wait_for("reconnected")?;
            times.push(t.saturating_duration_since(back));
        }
        Ok(())
    })();
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    );
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    times.sort();
    Ok(times)
}
