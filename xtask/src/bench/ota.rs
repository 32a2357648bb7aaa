//! `cargo xtask bench ota`: an update over Wi-Fi of the C3 image to the
//! virtual board over loopback (issue 17), side by side in the same run
//! with the same image uploaded by ESPHome's own uploader (`espota2` from
//! PyPI's `esphome`) and with a USB flash at 921600 baud (`picow sim
//! --baud-pacing`, so the wire runs at the real rate).
//!
//! One virtual C3 greets a loopback server of this benchmark (the greeting
//! confirms a trial image). Each round: a USB flash of version A, `picow
//! flash --ota` of version B's app image (into ota_1), `espota2` of the same
//! image (into ota_0), then `picow flash --ota` of it again (unchanged:
//! recognised and skipped). A TCP relay counts the bytes on the wire both
//! ways, a pty relay those of the USB flash. After each step the board's
//! control socket must say which slot and version it booted.
//!
//! Needs the C3 firmware (`cargo xtask fw build --chip esp32c3 --release`);
//! builds version B (`fw::build_version`), esptool and esphome into the
//! xtask venv on first use.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::flash::{timed, Relay};
use crate::fw::{self, Chip};
use crate::{root, tools, Result};

const WIFI: &str = "BenchNet:bench-password";
const OTA_PASSWORD: &str = "bench-ota-password";
const USB_BAUD: &str = "921600";

/// Copies TCP connections to `to`, counting the bytes both ways.
struct TcpRelay {
    addr: String,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl TcpRelay {
    fn start(to: String) -> Result<TcpRelay> {
        let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("relay: {e}"))?;
        let addr = l.local_addr().map_err(|e| e.to_string())?.to_string();
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let (u, d) = (up.clone(), down.clone());
        // Ends with the bench process.
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { return };
                let Ok(s) = TcpStream::connect(&to) else {
                    continue;
                };
                // One-byte acknowledgements must not wait for Nagle.
                let _ = c.set_nodelay(true);
                let _ = s.set_nodelay(true);
                let pipe = |mut from: TcpStream, mut to: TcpStream, n: Arc<AtomicU64>| {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(k) => {
                                    n.fetch_add(k as u64, Ordering::Relaxed);
                                    if to.write_all(&buf[..k]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                };
                if let (Ok(c2), Ok(s2)) = (c.try_clone(), s.try_clone()) {
                    pipe(c, s2, u.clone());
                    pipe(s, c2, d.clone());
                }
            }
        });
        Ok(TcpRelay { addr, up, down })
    }

    fn take(&self) -> u64 {
        self.up.swap(0, Ordering::Relaxed) + self.down.swap(0, Ordering::Relaxed)
    }
}

/// The virtual C3, with its update listener on a free loopback port.
struct Board {
    child: Child,
    link: PathBuf,
    control: PathBuf,
    ota: String,
}

impl Board {
    fn start(picow: &Path, dir: &Path) -> Result<Board> {
        let link = dir.join("board");
        let control = dir.join("board.control");
        let flash = dir.join("board.flash");
        for p in [&link, &control, &flash] {
            let _ = std::fs::remove_file(p);
        }
        let mut child = Command::new(picow)
            .args(["--json", "sim", "--chip", "esp32c3", "--flash-size", "4MB"])
            .args(["--baud-pacing", "--wifi", WIFI, "--ota-port", "0"])
            .arg("--flash")
            .arg(&flash)
            .arg("--link")
            .arg(&link)
            .arg("--control")
            .arg(&control)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start picow sim: {e}"))?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let ready = lines
            .next()
            .and_then(|l| l.ok())
            .ok_or("picow sim printed no ready line")?;
        // Keep reading its events so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let port = json_field(&ready, "ota_port")
            .ok_or_else(|| format!("no ota_port in picow sim's ready line: {ready}"))?;
        Ok(Board {
            child,
            link,
            control,
            ota: format!("127.0.0.1:{port}"),
        })
    }

    fn control(&self, cmd: &str) -> Result<String> {
        let mut s = std::os::unix::net::UnixStream::connect(&self.control)
            .map_err(|e| format!("control: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        writeln!(s, "{cmd}").map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(s)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim_end().to_string())
    }

    /// Checks that the board booted `slot` with `version` (its `status`).
    fn runs(&self, slot: u8, version: &str, after: &str) -> Result {
        let st = self.control("status")?;
        if st.contains(&format!("slot={slot}")) && st.contains(&format!("version={version:?}")) {
            Ok(())
        } else {
            Err(format!(
                "after {after} the board should run {version} from ota_{slot}: {st}"
            ))
        }
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `"key":` in one line of JSON (numbers and plain strings),
/// without a JSON library (xtask has none).
fn json_field(line: &str, key: &str) -> Option<String> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().trim_matches('"').to_string())
}

/// A server for the board to greet: each `Hello WalnutPi!` is sent to the
/// channel.
fn server() -> Result<(u16, mpsc::Receiver<()>)> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("server: {e}"))?;
    let port = l.local_addr().map_err(|e| e.to_string())?.port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(15).any(|w| w == b"Hello WalnutPi!") {
                        let _ = tx.send(());
                        seen.clear();
                    }
                }
            });
        }
    });
    Ok((port, rx))
}

fn greeted(rx: &mpsc::Receiver<()>, after: &str) -> Result {
    rx.recv_timeout(Duration::from_secs(120))
        .map_err(|_| format!("the board did not greet its server within 120 s after {after}"))
}

/// Runs `cmd`; the seconds until a stdout line containing `mark` (or the
/// end), the seconds in all, and its output.
fn timed_to(cmd: &mut Command, mark: Option<&str>, what: &str) -> Result<(f64, f64, String)> {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut out = String::new();
    let mut at = None;
    for line in BufReader::new(child.stdout.take().ok_or("no stdout")?).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if at.is_none() && mark.is_some_and(|m| line.contains(m)) {
            at = Some(t.elapsed().as_secs_f64());
        }
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let total = t.elapsed().as_secs_f64();
    let err = err_reader.join().unwrap_or_default();
    out.push_str(&err);
    if !status.success() {
        return Err(format!("{what} failed ({status}): {out}"));
    }
    Ok((at.unwrap_or(total), total, out))
}

/// One round's figures: seconds and bytes on the wire.
#[derive(Default, Clone, Copy)]
struct Round {
    usb: (f64, u64),
    /// picow: to "verified", the transfer alone, in all (reboot and check).
    picow: (f64, f64, f64, u64),
    /// espota2: in all, the transfer alone (its log).
    espota2: (f64, f64, u64),
    /// Python's start and `from esphome import espota2` alone.
    python: f64,
    unchanged: (f64, u64),
}

/// Runs `cargo xtask bench ota [--rounds N]`.
pub fn run(args: &[String]) -> Result {
    let mut rounds = 3;
    super::counts(
        args,
        &mut [("--rounds", &mut rounds)],
        "cargo xtask bench ota [--rounds N]",
    )?;
    let root = root();
    let elf_a = fw::elf_path(Chip::Esp32c3);
    if !elf_a.is_file() {
        return Err(format!(
            "{} is missing: run `cargo xtask fw build --chip esp32c3 --release` first",
            elf_a.display()
        ));
    }
    let version_a = env!("CARGO_PKG_VERSION");
    let elf_b = fw::version_elf_path(Chip::Esp32c3, crate::ota::VERSION_B);
    let elf_b = if elf_b.is_file() {
        elf_b
    } else {
        fw::build_version(Chip::Esp32c3, crate::ota::VERSION_B)?
    };
    crate::step(
        "build picow (release)",
        crate::cargo().args([
            "build",
            "--release",
            "-p",
            "picow-cli",
            "--bin",
            "picow",
            "--locked",
        ]),
    )?;
    let picow = root.join("target/release/picow");
    let esptool = tools::esptool()?;
    let python = tools::ota_python()?;
    let dir = root.join("target/xtask/bench-ota");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Version B's app image, as `cargo xtask fw check` makes it: what both
    // uploaders send.
    let bin_b = dir.join("b.bin");
    timed(
        Command::new(&esptool)
            .args(["--chip", "esp32c3", "elf2image", "--output"])
            .arg(&bin_b)
            .arg(&elf_b)
            .stdout(Stdio::null()),
        "esptool elf2image",
    )?;
    let image_len = std::fs::metadata(&bin_b).map_err(|e| e.to_string())?.len();

    let (server_port, greetings) = server()?;
    let server = format!("127.0.0.1:{server_port}");
    let board = Board::start(&picow, &dir)?;
    let usb = Relay::start(&board.link, &dir.join("usb.relay"))?;
    let usb_port = usb.path.to_str().ok_or("non-UTF-8 path")?.to_string();
    let tcp = TcpRelay::start(board.ota.clone())?;
    let ota = |extra: &[&str]| {
        let mut c = Command::new(&picow);
        c.args(["--json", "flash", "--ota", &tcp.addr])
            .args(["--ota-password", OTA_PASSWORD])
            .args(extra);
        c
    };
    let bin = bin_b.to_str().ok_or("non-UTF-8 path")?;
    let mut all = Vec::new();
    for round in 1..=rounds {
        let mut r = Round::default();
        // USB flash of A at 921600.
        let what = format!("round {round}: USB flash of A at {USB_BAUD}");
        println!("==> {what}");
        board.control("reset download")?;
        std::thread::sleep(Duration::from_millis(50));
        usb.take();
        r.usb.0 = timed(
            Command::new(&picow)
                .args(["-q", "flash", "--port", &usb_port, "--baud", USB_BAUD])
                .args(["--before", "no-reset", "--after", "no-reset"])
                .arg("--firmware")
                .arg(&elf_a)
                .args(["--wifi", WIFI, "--server", &server])
                .args(["--ota-password", OTA_PASSWORD]),
            &what,
        )?;
        std::thread::sleep(Duration::from_millis(50));
        let (to_board, to_host) = usb.take();
        r.usb.1 = to_board + to_host;
        board.control("reset run")?;
        greeted(&greetings, &what)?;
        board.runs(0, version_a, &what)?;

        // picow flash --ota of B.
        let what = format!("round {round}: picow flash --ota of B");
        println!("==> {what}");
        tcp.take();
        let (to_verified, total, out) =
            timed_to(&mut ota(&["--firmware", bin]), Some("\"uploaded\""), &what)?;
        let transfer = out
            .lines()
            .find(|l| l.contains("\"event\":\"uploaded\""))
            .and_then(|l| json_field(l, "secs"))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what}: no uploaded event: {out}"))?;
        if !out.contains("\"outcome\":\"updated\"") {
            return Err(format!("{what}: not updated: {out}"));
        }
        r.picow = (to_verified, transfer, total, tcp.take());
        greeted(&greetings, &what)?;
        board.runs(1, crate::ota::VERSION_B, &what)?;

        // espota2 of the same image.
        let what = format!("round {round}: espota2 of B");
        println!("==> {what}");
        let relay_port = tcp.addr.rsplit_once(':').map_or("", |p| p.1).to_string();
        let (_, total, log) = timed_to(
            Command::new(&python)
                .args(["-c", ESPOTA2, &relay_port, OTA_PASSWORD])
                .arg(&bin_b),
            None,
            &what,
        )?;
        let transfer = log
            .lines()
            .find_map(|l| l.split("Upload took ").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what}: no `Upload took` in its log: {log}"))?;
        r.espota2 = (total, transfer, tcp.take());
        r.python = timed(
            Command::new(&python).args(["-c", "from esphome import espota2"]),
            "import espota2",
        )?;
        greeted(&greetings, &what)?;
        board.runs(0, crate::ota::VERSION_B, &what)?;

        // The same image again: skipped.
        let what = format!("round {round}: picow flash --ota of B again (unchanged)");
        println!("==> {what}");
        let (_, total, out) = timed_to(&mut ota(&["--firmware", bin]), None, &what)?;
        if !out.contains("\"outcome\":\"unchanged\"") {
            return Err(format!("{what}: not recognised as unchanged: {out}"));
        }
        r.unchanged = (total, tcp.take());
        board.runs(0, crate::ota::VERSION_B, &what)?;
        println!(
            "<== USB {:.2} s; picow {:.2} s to verified ({:.2} s transfer, {:.2} s in all); \
             espota2 {:.2} s ({:.2} s transfer); unchanged {:.2} s",
            r.usb.0, r.picow.0, r.picow.1, r.picow.2, r.espota2.0, r.espota2.1, r.unchanged.0
        );
        all.push(r);
    }
    report(&all, image_len);
    Ok(())
}

/// `espota2.run_ota(127.0.0.1, PORT, PASSWORD, FILE)`; exits with its result.
const ESPOTA2: &str = "\
import logging, pathlib, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout)
from esphome import espota2
rc, host = espota2.run_ota('127.0.0.1', int(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3]))
sys.exit(rc)
";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(all: &[Round], image_len: u64) {
    let m = |f: &dyn Fn(&Round) -> f64| median(all.iter().map(f).collect());
    let b = |f: &dyn Fn(&Round) -> u64| median(all.iter().map(|r| f(r) as f64).collect()) as u64;
    let picow = m(&|r| r.picow.0);
    let picow_x = m(&|r| r.picow.1);
    let esp = m(&|r| r.espota2.0);
    let esp_x = m(&|r| r.espota2.1);
    println!();
    println!(
        "C3 app image (version B): {image_len} bytes; medians of {} rounds",
        all.len()
    );
    println!();
    let esp_bytes = b(&|r| r.espota2.2);
    println!("| run | time | transfer alone | bytes on the wire (both ways) | vs espota2: time (transfer), bytes |");
    println!("|---|---|---|---|---|");
    println!(
        "| picow flash --ota (to verified) | {picow:.2} s | {picow_x:.2} s | {} | {:.2}× ({:.2}×), {:.3}× |",
        b(&|r| r.picow.3),
        picow / esp,
        picow_x / esp_x,
        b(&|r| r.picow.3) as f64 / esp_bytes as f64
    );
    println!(
        "| picow flash --ota (with the reboot and the check after it) | {:.2} s | | | {:.2}× |",
        m(&|r| r.picow.2),
        m(&|r| r.picow.2) / esp
    );
    println!("| espota2 (ESPHome) | {esp:.2} s | {esp_x:.2} s | {esp_bytes} | 1.00× |");
    println!(
        "| of which Python's start and `import espota2` | {:.2} s | | | |",
        m(&|r| r.python)
    );
    println!(
        "| USB flash at 921600 (picow flash, whole board) | {:.2} s | | {} | {:.2}× |",
        m(&|r| r.usb.0),
        b(&|r| r.usb.1),
        m(&|r| r.usb.0) / esp
    );
    println!(
        "| picow flash --ota, unchanged image (skipped) | {:.2} s | | {} | |",
        m(&|r| r.unchanged.0),
        b(&|r| r.unchanged.1)
    );
}
