//! `cargo xtask ci`: the virtual board (`picow sim`) cross-checked with
//! esptool from PyPI, with and without esptool's flasher stub, over a real
//! pty. The espflash-library cross-check is the Rust integration test
//! `crates/picow-sim/tests/it/espflash.rs`, run by the tests step.
//!
//! Per board: `read-mac` shows the configured MAC, `flash-id` the JEDEC id
//! and size, `write-flash` of 1 MB of random bytes at 0x10000 lands in the
//! flash file, `read-flash` returns the same bytes, `verify-flash` passes and
//! fails after one changed byte.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{cargo, root, step, tools, Result};

const IMAGE_OFFSET: usize = 0x10000;
const IMAGE_LEN: usize = 1 << 20;

/// One virtual board (`picow --json sim`) for the length of a check.
struct Board {
    child: Child,
    link: PathBuf,
    /// Kept so that the sim's event lines always have a reader.
    _events: mpsc::Receiver<String>,
}

impl Board {
    fn start(picow: &Path, chip: &str, mac: &str, dir: &Path) -> Result<Board> {
        let link = dir.join(format!("{chip}.tty"));
        let flash = dir.join(format!("{chip}.flash"));
        let _ = fs::remove_file(&flash);
        let mut child = Command::new(picow)
            .args([
                "--json",
                "sim",
                "--chip",
                chip,
                "--flash-size",
                "8MB",
                "--mac",
                mac,
            ])
            .arg("--flash")
            .arg(&flash)
            .arg("--link")
            .arg(&link)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", picow.display()))?;
        let out = child.stdout.take().ok_or("no stdout from picow sim")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let ready = rx.recv_timeout(Duration::from_secs(30));
        let board = Board {
            child,
            link,
            _events: rx,
        };
        let ready = ready.map_err(|_| "picow sim printed no ready line within 30 s".to_string())?;
        if !ready.contains("\"event\":\"ready\"") {
            return Err(format!("picow sim: unexpected first line {ready}"));
        }
        Ok(board)
    }

    fn flash_file(&self) -> PathBuf {
        self.link.with_extension("flash")
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs esptool against the board; `Ok(output)` when it exits as `expect_ok` says.
fn esptool(exe: &Path, port: &Path, stub: bool, args: &[&str], expect_ok: bool) -> Result<String> {
    let mut cmd = Command::new(exe);
    cmd.arg("--port")
        .arg(port)
        .args(["--before", "no-reset", "--after", "no-reset"]);
    if !stub {
        cmd.arg("--no-stub");
    }
    cmd.args(args);
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("could not run {}: {e}", exe.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let label = format!(
        "esptool {} ({})",
        args.join(" "),
        if stub { "stub" } else { "no stub" }
    );
    if out.status.success() != expect_ok {
        return Err(format!(
            "{label}: exit {} (expected {}):\n{text}",
            out.status,
            if expect_ok { "success" } else { "failure" }
        ));
    }
    println!(
        "    {label}: {} in {:.1} s",
        if expect_ok {
            "ok"
        } else {
            "failed as expected"
        },
        start.elapsed().as_secs_f64()
    );
    Ok(text)
}

fn expect(text: &str, what: &str, needle: &str) -> Result {
    if text.contains(needle) {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected `{needle}` in esptool's output:\n{text}"
        ))
    }
}

fn random_image() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..IMAGE_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn check_board(
    exe: &Path,
    picow: &Path,
    dir: &Path,
    chip: &str,
    stub: bool,
    image: &Path,
    bad_image: &Path,
) -> Result {
    let mac = if stub {
        "7c:df:a1:c1:00:01"
    } else {
        "7c:df:a1:c1:00:02"
    };
    let board = Board::start(picow, chip, mac, dir)?;
    let port = board.link.clone();
    let out = esptool(exe, &port, stub, &["read-mac"], true)?;
    expect(&out, "read-mac", &format!("MAC:                {mac}"))?;
    let out = esptool(exe, &port, stub, &["flash-id"], true)?;
    expect(&out, "flash-id", "Manufacturer: c8")?;
    expect(&out, "flash-id", "Device: 4017")?;
    expect(&out, "flash-id", "Detected flash size: 8MB")?;
    let img = image.to_str().ok_or("non-UTF-8 path")?;
    esptool(exe, &port, stub, &["write-flash", "0x10000", img], true)?;
    let flash = fs::read(board.flash_file()).map_err(|e| format!("reading the flash file: {e}"))?;
    let want = fs::read(image).map_err(|e| e.to_string())?;
    if flash[IMAGE_OFFSET..IMAGE_OFFSET + IMAGE_LEN] != want[..] {
        return Err("write-flash: the flash file does not hold the written bytes".into());
    }
    let back = dir.join(format!("{chip}-readback.bin"));
    let back_s = back.to_str().ok_or("non-UTF-8 path")?;
    esptool(
        exe,
        &port,
        stub,
        &["read-flash", "0x10000", "0x100000", back_s],
        true,
    )?;
    if fs::read(&back).map_err(|e| e.to_string())? != want {
        return Err("read-flash: the bytes read back differ from the bytes written".into());
    }
    let out = esptool(exe, &port, stub, &["verify-flash", "0x10000", img], true)?;
    expect(&out, "verify-flash", "Verification successful")?;
    let bad = bad_image.to_str().ok_or("non-UTF-8 path")?;
    esptool(exe, &port, stub, &["verify-flash", "0x10000", bad], false)?;
    Ok(())
}

/// Where the firmware build leaves the C3 ELF (see `fw.rs`).
fn fw_elf() -> PathBuf {
    root().join("target/picow-fw/esp32c3/picow-fw.elf")
}

/// The real C3 firmware on the virtual board (the ignored integration test
/// `fw_image`): flashed with the espflash library, booted, greets a
/// loopback server, reports a corrupted config.
fn fw_image_check(required: bool) -> Result {
    let elf = fw_elf();
    if !elf.exists() {
        if required {
            return Err(format!(
                "{} is missing: the firmware build step should have made it",
                elf.display()
            ));
        }
        println!(
            "==> virtual board with the C3 firmware: skipped, no {} (cargo xtask fw build --chip esp32c3 --release)",
            elf.display()
        );
        return Ok(());
    }
    step(
        "virtual board boots the C3 firmware and greets a loopback server",
        crate::ci::ignored_tests("picow-sim", "fw_image::").env("PICOW_FW_ELF", &elf),
    )
}

/// `cargo xtask sim-check`: the esptool checks, and the firmware check when
/// a C3 firmware has been built.
pub fn run() -> Result {
    ci_steps()?;
    fw_image_check(false)
}

/// The virtual-board steps of `cargo xtask ci`, after the firmware steps
/// (the C3 firmware image must exist by then).
pub fn ci_steps_after_firmware() -> Result {
    ci_steps()?;
    fw_image_check(true)
}

/// The esptool cross-checks.
pub fn ci_steps() -> Result {
    if !cfg!(unix) {
        println!("==> virtual board cross-checks: skipped (picow sim is Unix-only)");
        return Ok(());
    }
    // A fresh Debian machine has neither; esptool comes from PyPI into a venv.
    tools::apt_install(&["python3", "python3-venv"])?;
    let exe = tools::esptool()?;
    step(
        "picow binary for the virtual board",
        cargo().args(["build", "-p", "picow-cli", "--bin", "picow", "--locked"]),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let picow = target.join("debug/picow");
    let dir = root().join("target/xtask/sim-check");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let image = dir.join("random-1mb.bin");
    let mut data = random_image();
    fs::write(&image, &data).map_err(|e| e.to_string())?;
    data[IMAGE_LEN / 2] ^= 0x01;
    let bad_image = dir.join("random-1mb-one-bit-off.bin");
    fs::write(&bad_image, &data).map_err(|e| e.to_string())?;
    for (chip, stub) in [("esp32s3", true), ("esp32s3", false), ("esp32c3", true)] {
        let name = format!(
            "virtual board {chip} vs esptool {} ({})",
            tools::ESPTOOL_VERSION,
            if stub { "stub" } else { "no stub" }
        );
        println!("==> {name}");
        let start = Instant::now();
        check_board(&exe, &picow, &dir, chip, stub, &image, &bad_image)
            .map_err(|e| format!("{name}: {e}"))?;
        println!("<== {name}: ok in {:.1} s", start.elapsed().as_secs_f64());
    }
    Ok(())
}
