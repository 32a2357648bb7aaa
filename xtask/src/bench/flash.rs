//! `cargo xtask bench flash`: `picow flash` against the espflash CLI and
//! esptool, writing the same image to the same virtual ESP32-C3 (`picow sim
//! --baud-pacing`, so the wire runs at the real baud rate).
//!
//! A pty relay sits between each tool and the virtual board and counts the
//! bytes both ways. For each baud rate (921600 and 115200) and tool: a full
//! flash onto an erased board, the same flash again (unchanged), and a
//! config-only change (a new server port: one 4 KiB sector). After every
//! run the flash file is compared with the expected image.
//!
//! Needs the C3 firmware (`cargo xtask fw build --chip esp32c3 --release`)
//! and, for the espflash CLI, root with `unshare` (see below);
//! installs the espflash CLI 4.7.0 into `target/xtask/espflash` and esptool
//! into the xtask venv on first use.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};

use crate::{cargo, root, step, tools, Result};

const WIFI: &str = "BenchNet:bench-password";
/// The same OTA password for the saved image and every flash, so that they
/// write the same config record.
const OTA_PASSWORD: &str = "bench-ota-password";
const SERVER_A: &str = "127.0.0.1:10000";
const SERVER_B: &str = "127.0.0.1:10001";
const CONFIG_ADDR: u32 = 0x3F_0000;
const IMAGE_END: usize = 0x3F_1000;
const ESPFLASH_VERSION: &str = "4.7.0";

fn raw(fd: impl AsFd) -> Result {
    let mut t = tcgetattr(&fd).map_err(|e| format!("tcgetattr: {e}"))?;
    t.make_raw();
    tcsetattr(&fd, OptionalActions::Now, &t).map_err(|e| format!("tcsetattr: {e}"))
}

/// Copies bytes between a tool's pty and the virtual board, counting them.
pub(super) struct Relay {
    pub(super) path: PathBuf,
    to_board: Arc<AtomicU64>,
    to_host: Arc<AtomicU64>,
    _slave: File,
}

impl Relay {
    pub(super) fn start(board_link: &Path, link: &Path) -> Result<Relay> {
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).map_err(|e| format!("openpt: {e}"))?;
        grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
        unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
        let name = ptsname(&master, Vec::new()).map_err(|e| format!("ptsname: {e}"))?;
        let pts = PathBuf::from(name.to_string_lossy().into_owned());
        // Held open so that the master never reads EIO between tools.
        let slave = File::options()
            .read(true)
            .write(true)
            .open(&pts)
            .map_err(|e| format!("open {}: {e}", pts.display()))?;
        raw(&slave)?;
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&pts, link).map_err(|e| format!("symlink: {e}"))?;
        let board = File::options()
            .read(true)
            .write(true)
            .open(board_link)
            .map_err(|e| format!("open {}: {e}", board_link.display()))?;
        raw(&board)?;
        let master = File::from(master);
        let to_board = Arc::new(AtomicU64::new(0));
        let to_host = Arc::new(AtomicU64::new(0));
        let pipe = |mut from: File, mut to: File, n: Arc<AtomicU64>| {
            // Ends with the bench process.
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match from.read(&mut buf) {
                        Ok(0) => std::thread::sleep(Duration::from_millis(1)),
                        Ok(k) => {
                            n.fetch_add(k as u64, Ordering::Relaxed);
                            if to.write_all(&buf[..k]).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
            });
        };
        let clone = |f: &File| f.try_clone().map_err(|e| format!("dup: {e}"));
        pipe(clone(&master)?, clone(&board)?, to_board.clone());
        pipe(board, master, to_host.clone());
        Ok(Relay {
            path: link.to_path_buf(),
            to_board,
            to_host,
            _slave: slave,
        })
    }

    pub(super) fn take(&self) -> (u64, u64) {
        (
            self.to_board.swap(0, Ordering::Relaxed),
            self.to_host.swap(0, Ordering::Relaxed),
        )
    }
}

struct Sim {
    child: Child,
    link: PathBuf,
    control: PathBuf,
    flash: PathBuf,
}

impl Sim {
    fn start(picow: &Path, dir: &Path, name: &str) -> Result<Sim> {
        let link = dir.join(format!("{name}.board"));
        let control = dir.join(format!("{name}.control"));
        let flash = dir.join(format!("{name}.flash"));
        for p in [&link, &control, &flash] {
            let _ = std::fs::remove_file(p);
        }
        let child = Command::new(picow)
            .args([
                "sim",
                "--chip",
                "esp32c3",
                "--flash-size",
                "4MB",
                "--baud-pacing",
            ])
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
            .map_err(|e| format!("start picow sim: {e}"))?;
        let sim = Sim {
            child,
            link,
            control,
            flash,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(sim.link.exists() && sim.control.exists()) {
            if Instant::now() > deadline {
                return Err("picow sim did not start within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(sim)
    }

    fn control(&self, cmd: &str) -> Result<String> {
        let mut s = UnixStream::connect(&self.control).map_err(|e| format!("control: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        writeln!(s, "{cmd}").map_err(|e| e.to_string())?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(s), &mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim_end().to_string())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ensure_espflash() -> Result<PathBuf> {
    let dir = root().join("target/xtask/espflash");
    let exe = dir.join("bin/espflash");
    let ok = Command::new(&exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(ESPFLASH_VERSION));
    if !ok {
        step(
            "install the espflash CLI (baseline)",
            cargo()
                .args([
                    "install",
                    &format!("espflash@{ESPFLASH_VERSION}"),
                    "--locked",
                    "--root",
                ])
                .arg(&dir),
        )?;
    }
    Ok(exe)
}

/// One measured run.
struct Run {
    tool: &'static str,
    baud: u32,
    case: &'static str,
    secs: f64,
    to_board: u64,
    to_host: u64,
}

pub(super) fn timed(cmd: &mut Command, what: &str) -> Result<f64> {
    let t = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(secs)
}

fn md5_hex(path: &Path, len: usize) -> Result<String> {
    let data = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let out = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(&data[..len.min(data.len())])?;
            c.wait_with_output()
        })
        .map_err(|e| format!("md5sum: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string())
}

/// Runs `cargo xtask bench flash`.
pub fn run(args: &[String]) -> Result {
    let bauds: Vec<u32> = match args.first().map(String::as_str) {
        None => vec![921_600, 115_200],
        Some("--baud") => vec![args
            .get(1)
            .and_then(|b| b.parse().ok())
            .ok_or_else(|| crate::bad_input("--baud takes a number"))?],
        Some(a) => {
            return Err(crate::bad_input(format!(
                "bench flash: unknown argument `{a}` (only --baud N)"
            )))
        }
    };
    let root = root();
    let elf = root.join("target/picow-fw/esp32c3/picow-fw.elf");
    if !elf.is_file() {
        return Err(format!(
            "{} is missing: run `cargo xtask fw build --chip esp32c3 --release` first",
            elf.display()
        ));
    }
    step(
        "build picow (release)",
        cargo().args([
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
    let espflash = ensure_espflash()?;
    let esptool = tools::esptool()?;
    let dir = root.join("target/xtask/bench-flash");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;

    // The images every tool writes: picow's merged image for config A, and
    // its regions as separate files for esptool.
    let merged = |server: &str, name: &str| -> Result<(PathBuf, serde_regions::Regions)> {
        let path = dir.join(name);
        let out = Command::new(&picow)
            .args([
                "--json",
                "flash",
                "--chip",
                "esp32c3",
                "--flash-size",
                "4MB",
            ])
            .arg("--firmware")
            .arg(&elf)
            .args([
                "--wifi",
                WIFI,
                "--server",
                server,
                "--ota-password",
                OTA_PASSWORD,
            ])
            .arg("--save-image")
            .arg(&path)
            .output()
            .map_err(|e| format!("picow --save-image: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "picow --save-image failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok((
            path,
            serde_regions::parse(&String::from_utf8_lossy(&out.stdout))?,
        ))
    };
    let (image_a, regions) = merged(SERVER_A, "merged-a.bin")?;
    let (image_b, _) = merged(SERVER_B, "merged-b.bin")?;
    let bytes_a = std::fs::read(&image_a).map_err(|e| e.to_string())?;
    let bytes_b = std::fs::read(&image_b).map_err(|e| e.to_string())?;
    let trimmed = dir.join("merged-a-trimmed.bin");
    std::fs::write(&trimmed, &bytes_a[..IMAGE_END]).map_err(|e| e.to_string())?;
    let mut parts = Vec::new();
    for (name, addr, size) in &regions {
        let p = dir.join(format!("{name}.bin"));
        std::fs::write(&p, &bytes_a[*addr as usize..(*addr + *size) as usize])
            .map_err(|e| e.to_string())?;
        parts.push((format!("{addr:#x}"), p));
    }
    // Cross-check: esptool's merge-bin of the same regions is the same file.
    let esptool_merged = dir.join("esptool-merged.bin");
    let mut merge = Command::new(&esptool);
    merge
        .args([
            "--chip",
            "esp32c3",
            "merge-bin",
            "--pad-to-size",
            "4MB",
            "-o",
        ])
        .arg(&esptool_merged);
    for (a, p) in &parts {
        merge.arg(a).arg(p);
    }
    timed(&mut merge, "esptool merge-bin")?;
    if std::fs::read(&esptool_merged).map_err(|e| e.to_string())? != bytes_a {
        return Err(
            "picow's --save-image differs from esptool merge-bin of the same regions".into(),
        );
    }
    println!("picow --save-image == esptool merge-bin --pad-to-size 4MB of the same regions");
    let cfg_b = dir.join("config-b.bin");
    std::fs::write(
        &cfg_b,
        &bytes_b[CONFIG_ADDR as usize..CONFIG_ADDR as usize + 0x1000],
    )
    .map_err(|e| e.to_string())?;
    let image_bytes: u64 = regions.iter().map(|r| u64::from(r.2)).sum();
    let md5_a = md5_hex(&image_a, IMAGE_END)?;
    let md5_b = md5_hex(&image_b, IMAGE_END)?;

    let mut runs = Vec::new();
    for &baud in &bauds {
        for tool in ["picow", "espflash", "esptool"] {
            let sim = Sim::start(&picow, &dir, tool)?;
            let relay = Relay::start(&sim.link, &dir.join(format!("{tool}.relay")))?;
            let port = relay.path.to_str().ok_or("non-UTF-8 path")?.to_string();
            let pts = std::fs::read_link(&relay.path).map_err(|e| format!("relay link: {e}"))?;
            let b = baud.to_string();
            let command = |case: &str| -> Command {
                match (tool, case) {
                    ("picow", _) => {
                        let mut c = Command::new(&picow);
                        c.args(["-q", "flash", "--port", &port, "--baud", &b])
                            .args([
                                "--before", "no-reset", "--after", "no-reset", "--wifi", WIFI,
                            ])
                            .args(["--ota-password", OTA_PASSWORD]);
                        if case == "config-only" {
                            c.args(["--server", SERVER_B, "--config-only"]);
                        } else {
                            c.args(["--server", SERVER_A, "--firmware"]).arg(&elf);
                        }
                        c
                    }
                    ("espflash", _) => {
                        // The espflash CLI only opens ports it can enumerate,
                        // and a pty is not one: in a private mount namespace
                        // the relay's pty is bind-mounted over /dev/ttyS0,
                        // which sysfs lists.
                        let mut c = Command::new("unshare");
                        c.args(["-m", "--propagation", "private", "sh", "-c"])
                            .arg(r#"mount --bind "$0" /dev/ttyS0 && exec "$@""#)
                            .arg(&pts)
                            .arg(&espflash);
                        c.args([
                            "write-bin",
                            "--port",
                            "/dev/ttyS0",
                            "--baud",
                            &b,
                            "--chip",
                            "esp32c3",
                        ])
                        .args([
                            "--before",
                            "no-reset",
                            "--after",
                            "no-reset",
                            "--non-interactive",
                        ]);
                        if case == "config-only" {
                            c.arg(format!("{CONFIG_ADDR:#x}")).arg(&cfg_b);
                        } else {
                            c.arg("0x0").arg(&trimmed);
                        }
                        c
                    }
                    _ => {
                        let mut c = Command::new(&esptool);
                        c.args(["--chip", "esp32c3", "--port", &port, "--baud", &b])
                            .args(["--before", "no-reset", "--after", "no-reset", "write-flash"]);
                        if case == "config-only" {
                            c.arg(format!("{CONFIG_ADDR:#x}")).arg(&cfg_b);
                        } else {
                            for (a, p) in &parts {
                                c.arg(a).arg(p);
                            }
                        }
                        c
                    }
                }
            };
            for case in ["full", "unchanged", "config-only"] {
                sim.control("reset download")?;
                std::thread::sleep(Duration::from_millis(50));
                relay.take();
                let what = format!("{tool} {case} at {baud}");
                println!("==> {what}");
                let secs = timed(&mut command(case), &what)?;
                std::thread::sleep(Duration::from_millis(50));
                let (to_board, to_host) = relay.take();
                let want = if case == "config-only" {
                    &md5_b
                } else {
                    &md5_a
                };
                let got = md5_hex(&sim.flash, IMAGE_END)?;
                if &got != want {
                    return Err(format!(
                        "{what}: the flash does not hold the expected image"
                    ));
                }
                println!("<== {secs:.2} s, {to_board} bytes to the board, {to_host} back");
                runs.push(Run {
                    tool,
                    baud,
                    case: match case {
                        "full" => "full flash",
                        "unchanged" => "unchanged reflash",
                        _ => "config-only change",
                    },
                    secs,
                    to_board,
                    to_host,
                });
            }
        }
    }
    report(&runs, image_bytes);
    Ok(())
}

fn report(runs: &[Run], image_bytes: u64) {
    println!();
    println!(
        "image: {image_bytes} bytes in 5 regions (bootloader, partition table, otadata, app, config)"
    );
    println!();
    println!("| baud | case | picow | espflash CLI | esptool | picow / espflash | picow bytes to board (% of image) |");
    println!("|---|---|---|---|---|---|---|");
    let find = |tool: &str, baud: u32, case: &str| {
        runs.iter()
            .find(|r| r.tool == tool && r.baud == baud && r.case == case)
    };
    let mut bauds: Vec<u32> = runs.iter().map(|r| r.baud).collect();
    bauds.dedup();
    for baud in bauds {
        for case in ["full flash", "unchanged reflash", "config-only change"] {
            let cell = |tool: &str| {
                find(tool, baud, case).map_or("-".to_string(), |r| {
                    format!("{:.2} s, {} B", r.secs, r.to_board + r.to_host)
                })
            };
            let ratio = match (find("picow", baud, case), find("espflash", baud, case)) {
                (Some(p), Some(e)) => format!("{:.2}", p.secs / e.secs),
                _ => "-".into(),
            };
            let pct = find("picow", baud, case).map_or("-".to_string(), |r| {
                format!(
                    "{} ({:.2} %)",
                    r.to_board,
                    100.0 * r.to_board as f64 / image_bytes as f64
                )
            });
            println!(
                "| {baud} | {case} | {} | {} | {} | {ratio} | {pct} |",
                cell("picow"),
                cell("espflash"),
                cell("esptool")
            );
        }
    }
}

/// The regions of `picow flash --json --save-image`'s `saved` event, read
/// without a JSON library (xtask has no dependencies for it).
mod serde_regions {
    /// Name, address, size.
    pub type Regions = Vec<(String, u32, u32)>;

    fn field<'a>(obj: &'a str, key: &str) -> Option<&'a str> {
        let at = obj.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = &obj[at..];
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim().trim_matches('"'))
    }

    pub fn parse(stdout: &str) -> crate::Result<Regions> {
        let line = stdout
            .lines()
            .find(|l| l.contains("\"event\":\"saved\""))
            .ok_or("picow --save-image printed no `saved` event")?;
        let start = line.find("\"regions\":[").ok_or("no regions")? + 11;
        let list = &line[start..line[start..].find(']').map_or(line.len(), |e| start + e)];
        list.split('}')
            .filter(|o| o.contains("\"name\""))
            .map(|o| {
                let num = |k: &str| -> crate::Result<u32> {
                    field(o, k)
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| format!("region without {k}: {o}"))
                };
                Ok((
                    field(o, "name").unwrap_or("region").to_string(),
                    num("addr")?,
                    num("size")?,
                ))
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn reads_the_saved_event() {
            let out = r#"{"chip":"esp32c3","event":"saved","path":"x","regions":[{"addr":0,"name":"bootloader","size":20560},{"addr":32768,"name":"partition-table","size":3072}],"size":4194304}"#;
            let r = super::parse(out).unwrap();
            assert_eq!(
                r,
                vec![
                    ("bootloader".to_string(), 0, 20560),
                    ("partition-table".to_string(), 32768, 3072)
                ]
            );
        }
    }
}
