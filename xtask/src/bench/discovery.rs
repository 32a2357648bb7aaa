//! `cargo xtask bench discovery [--runs N]` (issue 16, Linux, as root): a
//! PC and a board in network namespaces of their own (a veth pair,
//! link-local addresses), `picow serve` on the PC, `picow sim --mdns` with
//! the CI-built C3 firmware on the board.
//!
//! - IP to greeting: from the board's `wifi-joined` console line to serve's
//!   `picow` event, N times (default 20) with `--server auto` and N times
//!   with a fixed `--server 169.254.77.1:10000`, interleaved, each from a
//!   fresh boot. Target: discovery adds at most 1 s (median against median).
//! - Re-discovery: serve stops (SIGTERM) and starts again on the other
//!   address (169.254.77.1 and .3 in turn) and another port; from the stop
//!   to the new serve's `picow` event, N times. Target: at most 10 s.
//!
//! Clocks: both sides are read by this process as they happen (the board's
//! console from its pty, serve's JSON lines from its stdout), on one
//! monotonic clock. Nothing leaves the namespaces.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::{root, Result};

const WIFI: &str = "lab:password1";
const PC: &str = "169.254.77.1";
const PC2: &str = "169.254.77.3";

struct Net {
    prefix: String,
}

impl Net {
    fn new() -> Result<Net> {
        let prefix = format!("pwb{}", std::process::id());
        let net = Net { prefix };
        let (pc, bd) = (net.pc(), net.bd());
        let (a, b) = (format!("{}a", net.prefix), format!("{}b", net.prefix));
        for args in [
            vec!["netns", "add", &pc],
            vec!["netns", "add", &bd],
            vec!["link", "add", &a, "type", "veth", "peer", "name", &b],
            vec!["link", "set", &a, "netns", &pc],
            vec!["link", "set", &b, "netns", &bd],
            vec!["-n", &pc, "addr", "add", "169.254.77.1/24", "dev", &a],
            vec!["-n", &pc, "addr", "add", "169.254.77.3/24", "dev", &a],
            vec!["-n", &bd, "addr", "add", "169.254.77.10/24", "dev", &b],
            vec!["-n", &pc, "link", "set", "lo", "up"],
            vec!["-n", &bd, "link", "set", "lo", "up"],
            vec!["-n", &pc, "link", "set", &a, "up"],
            vec!["-n", &bd, "link", "set", &b, "up"],
            vec!["-n", &pc, "route", "add", "224.0.0.0/4", "dev", &a],
            vec!["-n", &bd, "route", "add", "224.0.0.0/4", "dev", &b],
        ] {
            let out = Command::new("ip")
                .args(&args)
                .output()
                .map_err(|e| format!("running ip: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "ip {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        Ok(net)
    }

    fn pc(&self) -> String {
        format!("{}pc", self.prefix)
    }

    fn bd(&self) -> String {
        format!("{}bd", self.prefix)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [self.pc(), self.bd()] {
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

/// A child that is stopped when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a reader with the instant each arrived.
fn timed_lines(r: impl std::io::Read + Send + 'static) -> Receiver<(Instant, String)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { return };
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    rx
}

/// The first line containing `needle`, with its instant.
fn wait_for(rx: &Receiver<(Instant, String)>, needle: &str, secs: u64) -> Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((t, line)) if line.contains(needle) => return Ok(t),
            Ok(_) => {}
            Err(_) => return Err(format!("no line with `{needle}` within {secs} s")),
        }
    }
}

fn picow_bin() -> PathBuf {
    root().join("target/release/picow")
}

/// `picow --json serve` on the PC at `bind:port`, advertising; returns once
/// its advertisement is out.
fn serve(net: &Net, bind: &str, port: u16) -> Result<(Proc, Receiver<(Instant, String)>)> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", &net.pc()])
        .arg(picow_bin())
        .args([
            "--json",
            "serve",
            "--bind",
            bind,
            "--port",
            &port.to_string(),
        ])
        .args(["--name", "bench", "--timeout", "10m"])
        .env_remove("PICOW_NO_ADVERTISE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting serve: {e}"))?;
    let lines = timed_lines(child.stdout.take().expect("piped"));
    let p = Proc(child);
    wait_for(&lines, "advertised on the LAN", 30)?;
    Ok((p, lines))
}

struct Board {
    _sim: Proc,
    console: Receiver<(Instant, String)>,
    _dir: tempfile_dir::Dir,
}

/// A module of its own so that the benchmark needs no tempfile crate.
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> std::io::Result<Dir> {
            let p = std::env::temp_dir().join(format!("picow-bench-{}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p)?;
            Ok(Dir(p))
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Boots a virtual C3 flashed with `image` in the board's namespace and
/// follows its console.
fn boot(net: &Net, image: &Path, tag: &str) -> Result<Board> {
    let dir = tempfile_dir::Dir::new(tag).map_err(|e| format!("temp dir: {e}"))?;
    let flash = dir.path().join("flash.bin");
    std::fs::copy(image, &flash).map_err(|e| format!("copying the image: {e}"))?;
    let link = dir.path().join("board");
    let control = dir.path().join("board.control");
    let child = Command::new("ip")
        .args(["netns", "exec", &net.bd()])
        .arg(picow_bin())
        .args(["sim", "--chip", "esp32c3", "--mdns", "--wifi", WIFI])
        .arg("--flash")
        .arg(&flash)
        .arg("--link")
        .arg(&link)
        .arg("--control")
        .arg(&control)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting picow sim: {e}"))?;
    let sim = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(link.exists() && control.exists()) {
        if Instant::now() > deadline {
            return Err("picow sim did not start".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let pty = std::fs::File::open(&link).map_err(|e| format!("opening the board's pty: {e}"))?;
    let console = timed_lines(pty);
    // Boot it now that its console is read.
    let mut s = std::os::unix::net::UnixStream::connect(&control)
        .map_err(|e| format!("control socket: {e}"))?;
    writeln!(s, "reset run").map_err(|e| format!("control socket: {e}"))?;
    Ok(Board {
        _sim: sim,
        console,
        _dir: dir,
    })
}

/// Milliseconds from the board's IP to its greeting reaching serve.
fn ip_to_greeting(net: &Net, image: &Path, tag: &str) -> Result<f64> {
    let (_serve, lines) = serve(net, PC, 10_000)?;
    let board = boot(net, image, tag)?;
    let ip = wait_for(&board.console, "@picow wifi-joined", 60)?;
    let greeted = wait_for(&lines, "\"event\":\"picow\"", 60)?;
    Ok(greeted.saturating_duration_since(ip).as_secs_f64() * 1e3)
}

fn flash_image(dir: &Path, elf: &Path, server: &str) -> Result<PathBuf> {
    let img = dir.join(format!("{}.bin", server.replace([':', '.'], "_")));
    let out = Command::new(picow_bin())
        .args(["flash", "--chip", "esp32c3", "--flash-size", "4MB"])
        .arg("--firmware")
        .arg(elf)
        .args(["--wifi", WIFI, "--server", server, "--save-image"])
        .arg(&img)
        .env("PICOW_CONFIG_DIR", dir.join("config"))
        .output()
        .map_err(|e| format!("picow flash --save-image: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "picow flash --save-image: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(img)
}

fn stats(v: &[f64]) -> (f64, f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), s[0], s[s.len() - 1])
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result {
    let mut runs = 20u64;
    super::counts(
        args,
        &mut [("--runs", &mut runs)],
        "cargo xtask bench discovery [--runs N]",
    )?;
    let uid = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root_user = uid
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root_user {
        return Err("bench discovery makes network namespaces: run it as root".into());
    }
    super::build_release("build picow (release)")?;
    let elf = crate::fw::elf_path(crate::fw::Chip::Esp32c3);
    if !elf.is_file() {
        crate::fw::build(crate::fw::Chip::Esp32c3, true)?;
    }
    let work = tempfile_dir::Dir::new("images").map_err(|e| format!("temp dir: {e}"))?;
    let auto = flash_image(work.path(), &elf, "auto")?;
    let fixed = flash_image(work.path(), &elf, &format!("{PC}:10000"))?;
    let net = Net::new()?;
    println!("==> IP to greeting, {runs} boots each with --server auto and a fixed --server");
    let (mut with_auto, mut with_fixed) = (Vec::new(), Vec::new());
    for i in 0..runs {
        with_auto.push(ip_to_greeting(&net, &auto, &format!("a{i}"))?);
        with_fixed.push(ip_to_greeting(&net, &fixed, &format!("f{i}"))?);
        println!(
            "    run {:>2}: auto {:>6.0} ms, fixed {:>6.0} ms",
            i + 1,
            with_auto[i as usize],
            with_fixed[i as usize]
        );
    }
    println!("==> re-discovery: serve stops and starts on another address and port, {runs} times");
    let mut moved = Vec::new();
    {
        let (mut current, lines) = serve(&net, PC, 10_000)?;
        // Its console is not needed: serve says when the board is back.
        let _board = boot(&net, &auto, "moving")?;
        wait_for(&lines, "\"event\":\"picow\"", 60)?;
        for i in 0..runs {
            let (addr, port) = if i % 2 == 0 {
                (PC2, 10_001)
            } else {
                (PC, 10_000)
            };
            let _ = Command::new("kill")
                .args(["-TERM", &current.0.id().to_string()])
                .status();
            let stopped = Instant::now();
            let _ = current.0.wait();
            let (next, lines) = serve(&net, addr, port)?;
            let back = wait_for(&lines, "\"event\":\"picow\"", 60)?;
            moved.push(back.saturating_duration_since(stopped).as_secs_f64() * 1e3);
            println!(
                "    move {:>2}: to {addr}:{port}, found again after {:>6.0} ms",
                i + 1,
                moved[i as usize]
            );
            current = next;
        }
    }
    let (a50, a90, amin, amax) = stats(&with_auto);
    let (f50, f90, fmin, fmax) = stats(&with_fixed);
    let (m50, m90, mmin, mmax) = stats(&moved);
    let added = a50 - f50;
    println!();
    println!("| measure ({runs} runs) | median | p90 | min | max |");
    println!("|---|---|---|---|---|");
    println!("| IP → greeting, `--server auto` | {a50:.0} ms | {a90:.0} ms | {amin:.0} ms | {amax:.0} ms |");
    println!("| IP → greeting, fixed `--server` (baseline) | {f50:.0} ms | {f90:.0} ms | {fmin:.0} ms | {fmax:.0} ms |");
    println!("| discovery adds (median − median) | {added:.0} ms | | | |");
    println!("| re-discovery after serve moved | {m50:.0} ms | {m90:.0} ms | {mmin:.0} ms | {mmax:.0} ms |");
    println!();
    let ok_add = added <= 1_000.0;
    let ok_move = m50 <= 10_000.0 && mmax <= 10_000.0;
    println!(
        "targets: discovery adds ≤ 1 s: {}; re-discovery ≤ 10 s (median and max): {}",
        if ok_add { "met" } else { "NOT met" },
        if ok_move { "met" } else { "NOT met" }
    );
    if ok_add && ok_move {
        Ok(())
    } else {
        Err("a discovery target was not met".into())
    }
}
