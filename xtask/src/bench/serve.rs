//! `cargo xtask bench serve`: the figures of issue 3, measured against the
//! baselines in the same run (Linux; loopback only).
//!
//! 1. Memory: 10,000 idle connections to `picow serve`, resident memory of
//!    the whole process, beside a minimal tokio server with a 16 KB buffer
//!    per connection.
//! 2. Throughput: 1,000 clients each send 1,000 messages of 64 bytes as
//!    fast as they can, to `picow serve --json --log` (every message counted
//!    in the JSON output and in the log), to the minimal read-and-count
//!    server, and to `socat` forking a process per client. Messages per
//!    second from the first send to the last byte seen by the consumer, and
//!    for serve the p50/p99 time from a message's send to its appearance in
//!    the `--json` output.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{root, Result};

const IDLE: usize = 10_000;
const CLIENTS: usize = 1_000;
const MESSAGES: usize = 1_000;
const SIZE: usize = 64;
const WAIT: Duration = Duration::from_secs(300);

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn release_bin(name: &str) -> PathBuf {
    root().join("target/release").join(name)
}

/// Resident and peak resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e} (this benchmark needs Linux)"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Lines of a child's stdout, on a channel.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_line(rx: &mpsc::Receiver<String>, prefix: &str) -> Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with(prefix) => return Ok(l[prefix.len()..].trim().to_owned()),
            Ok(_) => {}
            Err(_) => return Err(format!("no `{prefix}` line within {WAIT:?}")),
        }
    }
}

fn serve_cmd(port: u16) -> Command {
    let mut c = Command::new(release_bin("picow"));
    c.args(["--json", "serve", "--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--max-clients", "20000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    c
}

fn loadgen() -> Command {
    let mut c = Command::new(release_bin("picow-loadgen"));
    c.stdout(Stdio::piped());
    c
}

/// Opens the idle connections to `port`; they stay until the load
/// generator's stdin is closed.
fn idle_clients(port: u16) -> Result<(Child, mpsc::Receiver<String>)> {
    let mut gen = loadgen()
        .args(["idle", &format!("127.0.0.1:{port}"), &IDLE.to_string()])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting picow-loadgen: {e}"))?;
    let out = lines_of(&mut gen);
    wait_line(&out, "ready")?;
    Ok((gen, out))
}

/// Idle connections: RSS of serve and of the minimal server.
fn idle() -> Result<(u64, u64)> {
    // picow serve.
    let port = free_port()?;
    let mut serve = serve_cmd(port)
        .spawn()
        .map_err(|e| format!("starting picow serve: {e}"))?;
    let events = lines_of(&mut serve);
    wait_line(&events, "{\"event\":\"listening\"")?;
    let (mut gen, _gen_out) = idle_clients(port)?;
    let mut connected = 0;
    let deadline = Instant::now() + WAIT;
    while connected < IDLE {
        let left = deadline.saturating_duration_since(Instant::now());
        let l = events
            .recv_timeout(left)
            .map_err(|_| format!("serve showed {connected} of {IDLE} connections"))?;
        if l.starts_with("{\"event\":\"connected\"") {
            connected += 1;
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let (serve_rss, serve_hwm) = rss_kib(serve.id())?;
    drop(gen.stdin.take());
    let _ = gen.wait();
    terminate(&mut serve);
    println!("    serve: {IDLE} idle connections, RSS {serve_rss} KiB (peak {serve_hwm} KiB)");

    // The minimal server.
    let mut min = Command::new(release_bin("picow-minserver"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting picow-minserver: {e}"))?;
    let min_out = lines_of(&mut min);
    let port: u16 = wait_line(&min_out, "listening ")?
        .parse()
        .map_err(|_| "picow-minserver printed no port")?;
    let (mut gen, _gen_out) = idle_clients(port)?;
    std::thread::sleep(Duration::from_secs(2));
    let (min_rss, _) = rss_kib(min.id())?;
    drop(gen.stdin.take());
    let _ = gen.wait();
    terminate(&mut min);
    println!("    minimal server (16 KB buffer per connection): RSS {min_rss} KiB");
    Ok((serve_hwm.max(serve_rss), min_rss))
}

/// The flood's outcome for one server.
struct Flood {
    secs: f64,
    latency_ms: Option<(f64, f64)>,
}

impl Flood {
    fn rate(&self) -> f64 {
        (CLIENTS * MESSAGES) as f64 / self.secs
    }
}

fn flood_args(port: u16) -> Vec<String> {
    vec![
        "flood".into(),
        format!("127.0.0.1:{port}"),
        CLIENTS.to_string(),
        MESSAGES.to_string(),
        SIZE.to_string(),
    ]
}

/// Starts the flood against `port`: the load generator's output and the
/// wall-clock time of its first send.
fn start_flood(port: u16) -> Result<(Child, mpsc::Receiver<String>, u128)> {
    let mut gen = loadgen()
        .args(flood_args(port))
        .spawn()
        .map_err(|e| format!("starting picow-loadgen: {e}"))?;
    let out = lines_of(&mut gen);
    let start = wait_line(&out, "start ")?
        .parse()
        .map_err(|_| "picow-loadgen printed no start time")?;
    Ok((gen, out, start))
}

/// Runs the flood against `port` until every client has seen the server
/// close its connection; returns its duration.
fn flood_until_closed(port: u16) -> Result<f64> {
    let (mut gen, out, start) = start_flood(port)?;
    wait_line(&out, "sent ")?;
    let end = now_ns();
    let _ = gen.wait();
    Ok((end - start) as f64 / 1e9)
}

fn flood_serve(log: &Path) -> Result<Flood> {
    let _ = std::fs::remove_file(log);
    let port = free_port()?;
    let mut serve = serve_cmd(port)
        .arg("--log")
        .arg(log)
        .spawn()
        .map_err(|e| format!("starting picow serve: {e}"))?;
    // serve's --json output goes straight into the (release-built) reader.
    let total = CLIENTS * MESSAGES;
    let mut sink = Command::new(release_bin("picow-jsonsink"))
        .arg(total.to_string())
        .stdin(Stdio::from(serve.stdout.take().expect("piped")))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting picow-jsonsink: {e}"))?;
    let sink_out = lines_of(&mut sink);
    wait_line(&sink_out, "listening")?;
    let (mut gen, _gen_out, start) = start_flood(port)?;
    let done = wait_line(&sink_out, "done ")
        .map_err(|e| format!("serve's --json output did not show all {total} messages: {e}"))?;
    let fields: Vec<u128> = done.split(' ').filter_map(|f| f.parse().ok()).collect();
    let [end, p50, p99, count] = fields[..] else {
        return Err(format!("picow-jsonsink printed `done {done}`"));
    };
    if count != total as u128 {
        return Err(format!("{count} of {total} messages"));
    }
    let _ = gen.wait();
    terminate(&mut serve);
    let _ = sink.wait();
    check_log(log)?;
    Ok(Flood {
        secs: (end - start) as f64 / 1e9,
        latency_ms: Some((p50 as f64 / 1e6, p99 as f64 / 1e6)),
    })
}

/// serve without `--json` (`-q`, optionally `--log`): the time until the
/// load generator is done, which is after serve has read every byte (each
/// client waits for serve's close, which follows the end of its data).
fn flood_serve_quiet(log: Option<&Path>) -> Result<Flood> {
    let port = free_port()?;
    let mut cmd = Command::new(release_bin("picow"));
    cmd.args(["-q", "serve", "--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--max-clients", "20000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(log) = log {
        let _ = std::fs::remove_file(log);
        cmd.arg("--log").arg(log);
    }
    let mut serve = cmd
        .spawn()
        .map_err(|e| format!("starting picow serve: {e}"))?;
    let secs = flood_until_closed(port)?;
    terminate(&mut serve);
    if let Some(log) = log {
        check_log(log)?;
    }
    Ok(Flood {
        secs,
        latency_ms: None,
    })
}

/// Every byte of every client is in the log, and every message.
fn check_log(log: &Path) -> Result {
    let text = std::fs::read_to_string(log).map_err(|e| format!("reading the log: {e}"))?;
    let mut per_client: HashMap<u64, usize> = HashMap::new();
    let mut newlines = 0usize;
    for line in text.lines() {
        if !line.contains("\"dir\":\"in\"") {
            continue;
        }
        let field = |name: &str| -> Option<&str> {
            let at = line.find(name)? + name.len();
            let rest = &line[at..];
            let end = rest.find([',', '}', '"'])?;
            Some(&rest[..end])
        };
        let id: u64 = field("\"id\":")
            .and_then(|v| v.parse().ok())
            .ok_or("log line without id")?;
        let len: usize = field("\"len\":")
            .and_then(|v| v.parse().ok())
            .ok_or("log line without len")?;
        // The bytes are the line's last field: `"text":"…"}` (valid UTF-8
        // as a JSON string; the load is ASCII) or `"hex":"…"}`.
        let body = |name: &str| -> Option<&str> {
            let at = line.find(name)? + name.len();
            line.get(at..line.len().checked_sub(2)?)
        };
        let (got, lines) = if let Some(text) = body("\"text\":\"") {
            json_str_stats(text)
        } else if let Some(hex) = body("\"hex\":\"") {
            let nl = hex.as_bytes().chunks(2).filter(|b| b == b"0a").count();
            (hex.len() / 2, nl)
        } else {
            return Err(format!("log line without text or hex: {line}"));
        };
        if got != len {
            return Err(format!("log line for #{id}: len {len} but {got} bytes"));
        }
        newlines += lines;
        *per_client.entry(id).or_default() += len;
    }
    let want = MESSAGES * SIZE;
    let short: Vec<_> = per_client.iter().filter(|(_, &n)| n != want).collect();
    if per_client.len() != CLIENTS || !short.is_empty() || newlines != CLIENTS * MESSAGES {
        return Err(format!(
            "the log holds {} clients, {newlines} messages; clients with other than {want} bytes: {short:?}",
            per_client.len()
        ));
    }
    println!(
        "    log: {} clients x {want} bytes, {newlines} messages, all accounted for",
        per_client.len()
    );
    Ok(())
}

/// The byte length and the number of newlines of a JSON string's inside
/// (ASCII with escapes; `\uXXXX` below 0x80 counts one byte).
fn json_str_stats(s: &str) -> (usize, usize) {
    let (mut len, mut newlines) = (0, 0);
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        len += 1;
        if b == b'\\' {
            match bytes.next() {
                Some(b'n') => newlines += 1,
                Some(b'u') => {
                    let code: String = bytes.by_ref().take(4).map(char::from).collect();
                    if code == "000a" || code == "000A" {
                        newlines += 1;
                    }
                }
                _ => {}
            }
        }
    }
    (len, newlines)
}

/// The minimal server, timed like `-q` serve: until every client has seen
/// the server close its connection after reading all its data (it prints
/// `done` when it has counted every byte).
fn flood_min() -> Result<Flood> {
    let total = CLIENTS * MESSAGES * SIZE;
    let mut min = Command::new(release_bin("picow-minserver"))
        .args(["127.0.0.1:0", &total.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting picow-minserver: {e}"))?;
    let out = lines_of(&mut min);
    let port: u16 = wait_line(&out, "listening ")?
        .parse()
        .map_err(|_| "picow-minserver printed no port")?;
    let secs = flood_until_closed(port)?;
    wait_line(&out, "done ")
        .map_err(|e| format!("the minimal server did not count all {total} bytes: {e}"))?;
    let _ = min.wait();
    Ok(Flood {
        secs,
        latency_ms: None,
    })
}

/// The median of `v` (not empty).
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Times of one server over the rounds.
#[derive(Default)]
struct Rounds(Vec<f64>);

impl Rounds {
    fn rate(&self) -> f64 {
        (CLIENTS * MESSAGES) as f64 / median(&self.0)
    }

    /// The rate of the fastest round: the least disturbed by other work.
    fn best_rate(&self) -> f64 {
        let best = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        (CLIENTS * MESSAGES) as f64 / best
    }

    /// `min–max s`.
    fn range(&self) -> String {
        let lo = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.0.iter().copied().fold(0.0, f64::max);
        format!("{lo:.3}–{hi:.3} s")
    }
}

fn flood_socat() -> Result<Option<Flood>> {
    if Command::new("socat").arg("-V").output().is_err() {
        if let Err(e) = crate::tools::apt_install(&["socat"]) {
            println!("    socat: not installed ({e}); skipped");
            return Ok(None);
        }
    }
    let port = free_port()?;
    let mut socat = Command::new("socat")
        .args([
            "-u",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=4096"),
            "STDOUT",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting socat: {e}"))?;
    let mut out = socat.stdout.take().expect("piped");
    // socat has no ready line: wait until the port answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("socat did not listen".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut gen, _gen_out, start) = start_flood(port)?;
    let want = CLIENTS * MESSAGES * SIZE;
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 16];
    while got < want {
        let n = out.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let end = now_ns();
    let _ = gen.wait();
    terminate(&mut socat);
    if got != want {
        return Err(format!("socat passed {got} of {want} bytes"));
    }
    Ok(Some(Flood {
        secs: (end - start) as f64 / 1e9,
        latency_ms: None,
    }))
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(String::new(), |kib| format!(", {} GiB", kib / 1024 / 1024));
    format!(
        "{cpus} cores ({model}){mem}, Linux {}",
        std::env::consts::ARCH
    )
}

/// Rounds of the flood against the minimal server, `-q` and `-q --log`.
const ROUNDS: usize = 5;

/// Runs `cargo xtask bench serve [--rounds N]`.
pub fn run(args: &[String]) -> Result {
    let rounds = match args {
        [] => ROUNDS,
        [flag, n] if flag == "--rounds" => n.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
            crate::bad_input(format!("--rounds: `{n}` is not a whole number above 0"))
        })?,
        _ => {
            return Err(crate::bad_input(format!(
                "bench serve takes only `--rounds N`, got `{}`",
                args.join(" ")
            )))
        }
    };
    super::build_release("release build of picow and the load generator")?;
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    println!("==> {IDLE} idle connections");
    let (serve_kib, min_kib) = idle()?;
    println!("==> flood: {CLIENTS} clients x {MESSAGES} messages x {SIZE} bytes");
    let serve = flood_serve(&dir.join("serve-flood.jsonl"))?;
    let (p50, p99) = serve.latency_ms.unwrap_or_default();
    println!(
        "    serve --json --log: {:.2} s, {:.0} msgs/s, latency p50 {p50:.1} ms p99 {p99:.1} ms",
        serve.secs,
        serve.rate()
    );
    // Single runs on a shared 2-core machine vary by tens of percent: the
    // three servers take turns, and the medians are compared.
    let (mut min, mut quiet, mut quiet_log) =
        (Rounds::default(), Rounds::default(), Rounds::default());
    for round in 1..=rounds {
        let m = flood_min()?.secs;
        let q = flood_serve_quiet(None)?.secs;
        let l = flood_serve_quiet(Some(&dir.join("serve-flood-q.jsonl")))?.secs;
        println!(
            "    round {round}/{rounds}: minimal server {m:.3} s, serve -q {q:.3} s, serve -q --log {l:.3} s (ratio {:.2})",
            m / l
        );
        min.0.push(m);
        quiet.0.push(q);
        quiet_log.0.push(l);
    }
    let socat = flood_socat()?;
    if let Some(s) = &socat {
        println!(
            "    socat (fork per client): {:.2} s, {:.0} msgs/s",
            s.secs,
            s.rate()
        );
    }
    let date = humandate();
    let mut md = String::new();
    let _ = writeln!(md, "Measured {date} on {}.", machine());
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "| figure | picow serve | minimal tokio server | ratio | socat |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    let _ = writeln!(
        md,
        "| RSS, {IDLE} idle connections | {:.1} MB | {:.1} MB | {:.2} | - |",
        serve_kib as f64 / 1024.0,
        min_kib as f64 / 1024.0,
        serve_kib as f64 / min_kib as f64
    );
    let socat_cell = |f: &dyn Fn(&Flood) -> String| socat.as_ref().map_or("not run".into(), f);
    let _ = writeln!(
        md,
        "| {CLIENTS}×{MESSAGES}×{SIZE} B, median of {rounds}: time | `-q --log` {:.3} s ({}) | {:.3} s ({}) | | {} |",
        median(&quiet_log.0),
        quiet_log.range(),
        median(&min.0),
        min.range(),
        socat_cell(&|s| format!("{:.2} s", s.secs))
    );
    let _ = writeln!(
        md,
        "| messages/s, serve `-q --log` | {:.0} | {:.0} | **{:.2}** | {} |",
        quiet_log.rate(),
        min.rate(),
        quiet_log.rate() / min.rate(),
        socat_cell(&|s| format!("{:.0}", s.rate()))
    );
    let _ = writeln!(
        md,
        "| messages/s, serve `-q --log`, best of {rounds} | {:.0} | {:.0} | {:.2} | |",
        quiet_log.best_rate(),
        min.best_rate(),
        quiet_log.best_rate() / min.best_rate(),
    );
    let _ = writeln!(
        md,
        "| messages/s, serve `-q` (no output) | {:.0} | | {:.2} | |",
        quiet.rate(),
        quiet.rate() / min.rate()
    );
    let _ = writeln!(
        md,
        "| messages/s, serve `--json --log` (one run) | {:.0} | | {:.2} | |",
        serve.rate(),
        serve.rate() / min.rate()
    );
    let _ = writeln!(
        md,
        "| send to `--json` line, p50 / p99 | {p50:.1} / {p99:.1} ms | - | | - |"
    );
    println!("\n{md}");
    let out = dir.join("serve.md");
    std::fs::write(&out, &md).map_err(|e| format!("writing {}: {e}", out.display()))?;
    println!(
        "(also in {}; copy it into docs/performance.md)",
        out.display()
    );
    Ok(())
}

fn humandate() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output();
    out.ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
