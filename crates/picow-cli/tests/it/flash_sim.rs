//! `picow flash` and `picow probe` as a user runs them, against the virtual
//! board (`picow-sim`) on a real pty with its control socket next to the
//! link: full flash, unchanged reflash, `--config-only`, chip mismatch, bad
//! inputs that must leave the flash untouched, and a cable pulled mid-write.
#![cfg(unix)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{output as picow, text, Kill};

use md5::{Digest, Md5};
use picow_cli::esp::fixture::synthetic_elf;
use picow_protocol::DeviceConfig;

/// A virtual board run as `picow sim` in its own process (an in-process
/// board would leak its pty master into every child this test spawns, and an
/// unplug would then not hang up for them).
struct Board {
    child: Child,
    dir: tempfile::TempDir,
    link: PathBuf,
    control: PathBuf,
    flash_file: PathBuf,
}

impl Board {
    fn start(chip: &str, size: &str, pacing: bool) -> Board {
        Board::start_with(chip, size, pacing, None)
    }

    /// A board whose flash starts with `contents` (of the size `size` says).
    fn start_with(chip: &str, size: &str, pacing: bool, contents: Option<&[u8]>) -> Board {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("board");
        let control = dir.path().join("board.control");
        let flash_file = dir.path().join("flash.bin");
        if let Some(c) = contents {
            std::fs::write(&flash_file, c).unwrap();
        }
        let mut cmd = common::picow();
        cmd.args([
            "sim",
            "--chip",
            chip,
            "--flash-size",
            size,
            "--mac",
            "7c:df:a1:c3:00:42",
        ])
        .arg("--flash")
        .arg(&flash_file)
        .arg("--link")
        .arg(&link)
        .arg("--control")
        .arg(&control)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if pacing {
            cmd.arg("--baud-pacing");
        }
        let child = cmd.spawn().expect("start picow sim");
        let board = Board {
            child,
            dir,
            link,
            control,
            flash_file,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(board.link.exists() && board.control.exists() && board.flash_file.exists()) {
            assert!(Instant::now() < deadline, "picow sim did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        board
    }

    fn port(&self) -> &str {
        self.link.to_str().unwrap()
    }

    fn control(&self, cmd: &str) -> String {
        common::control(&self.control, cmd)
    }

    fn flash(&self) -> Vec<u8> {
        std::fs::read(&self.flash_file).unwrap()
    }

    fn write_elf(&self, name: &str, chip: &str, code_len: usize) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, synthetic_elf(Some(chip), code_len)).unwrap();
        p
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn named(evs: &[serde_json::Value], kind: &str) -> Vec<String> {
    evs.iter()
        .filter(|e| e["event"] == kind)
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts that picow exited with `code` and that its stderr says each of
/// `says`.
fn exits_saying(out: &Output, code: i32, says: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    for s in says {
        assert!(err.contains(s), "expected {s:?} in:\n{err}");
    }
}

fn md5(b: &[u8]) -> [u8; 16] {
    Md5::digest(b).into()
}

#[test]
fn full_flash_unchanged_reflash_and_config_only() {
    let board = Board::start("esp32c3", "4MB", false);
    let fw = board.write_elf("fw.elf", "esp32c3", 20_000);
    let fw = fw.to_str().unwrap();
    let wifi = "PicoLab:correct-horse";
    let flash_args = |server: &str, extra: &[&str]| {
        let mut a = vec![
            "--json",
            "flash",
            "--port",
            board.port(),
            "--firmware",
            fw,
            "--wifi",
            wifi,
            "--server",
            server,
            "--ota-password",
            "ota-horse-battery",
            "--baud",
            "460800",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        picow(&refs)
    };

    // The merged image of the same inputs, for comparison.
    let img_path = board.dir.path().join("merged.bin");
    let mut save = flash_args(
        "127.0.0.1:10000",
        &["--save-image", img_path.to_str().unwrap()],
    );
    save.retain(|a| a != "--port" && a != board.port());
    let out = run(save);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let merged = std::fs::read(&img_path).unwrap();
    assert_eq!(merged.len(), 4 << 20);

    // Full flash.
    let out = run(flash_args("127.0.0.1:10000", &[]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("correct-horse") && !text(&out.stdout).contains("correct-horse"));
    let evs = events(&out);
    assert_eq!(evs[0]["event"], "connected");
    assert_eq!(evs[0]["chip"], "esp32c3");
    assert_eq!(evs[0]["mac"], "7c:df:a1:c3:00:42");
    assert_eq!(
        named(&evs, "written"),
        ["bootloader", "partition-table", "otadata", "app", "config"]
    );
    let done = evs.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["password"], "********");
    assert_eq!(done["ota_password"], "********");
    assert!(!text(&out.stdout).contains("ota-horse-battery") && !err.contains("ota-horse-battery"));
    // The board holds exactly the merged image, and was reset into the app.
    assert_eq!(md5(&board.flash()), md5(&merged));
    assert!(
        board.control("status").contains("mode=halted")
            || board.control("status").contains("mode=running"),
        "{}",
        board.control("status")
    );

    // Unchanged: every region is skipped.
    let out = run(flash_args("127.0.0.1:10000", &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let evs = events(&out);
    assert!(named(&evs, "written").is_empty(), "{evs:?}");
    assert_eq!(named(&evs, "skipped").len(), 5);

    // --erase: everything is written again, and the rest of the flash is erased.
    let out = run(flash_args("127.0.0.1:10000", &["--erase"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(named(&events(&out), "written").len(), 5);
    assert_eq!(md5(&board.flash()), md5(&merged));

    // Config only, another port: only the config sector changes.
    let before = board.flash();
    let mut args = flash_args("127.0.0.1:10001", &["--config-only"]);
    let i = args.iter().position(|a| a == "--firmware").unwrap();
    args.drain(i..i + 2);
    let out = run(args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(named(&events(&out), "written"), ["config"]);
    let after = board.flash();
    let cfg_off = 0x3F0000;
    assert_eq!(before[..cfg_off], after[..cfg_off]);
    assert_eq!(before[cfg_off + 0x1000..], after[cfg_off + 0x1000..]);
    let cfg = DeviceConfig::decode(&after[cfg_off..cfg_off + 0x1000]).unwrap();
    assert_eq!(cfg.server().addr().unwrap().port, 10001);
    assert_eq!(cfg.ssid(), "PicoLab");

    // probe: the board was reset into the app, which answers the console's
    // `status` (this virtual board has no network "PicoLab": it keeps
    // trying to join); --reset puts it into download mode for the flash contents.
    let out = picow(&["--json", "probe", "--port", board.port()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "picow-fw", "{v}");
    assert_eq!(v["firmware"]["version"], "0.1.0", "{v}");
    let wifi = v["firmware"]["wifi"].as_str().unwrap();
    assert!(wifi == "joining" || wifi == "down", "{v}");
    let out = picow(&["--json", "probe", "--port", board.port(), "--reset"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "download-mode", "{v}");
    assert_eq!(v["chip"], "esp32c3");
    assert_eq!(v["mac"], "7c:df:a1:c3:00:42");
    assert_eq!(v["flash_size"], 4 << 20);
    assert_eq!(v["jedec_id"].as_str().unwrap().len(), 6);
    assert_eq!(v["config"]["ssid"], "PicoLab");
    assert_eq!(v["config"]["password"], "********");
    assert_eq!(v["config"]["server"], "tcp://127.0.0.1:10001");
    assert_eq!(v["app"]["descriptor"]["name"], "picow-fw");
    assert_eq!(v["app"]["chip"], "esp32c3");
    let labels: Vec<_> = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["nvs", "otadata", "phy_init", "ota_0", "ota_1", "picowcfg"]
    );
    assert_eq!(v["ota"]["boot_slot"], 0, "{v}");
    assert_eq!(v["ota"]["state"], "valid", "{v}");
    assert!(!text(&out.stdout).contains("correct-horse"));
    // In download mode (no --reset): identified by a SYNC, then examined;
    // --show-secrets reveals the password, in text output too.
    board.control("reset download");
    let out = picow(&["probe", "--port", board.port(), "--show-secrets"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(s.contains("chip:        esp32c3"), "{s}");
    assert!(s.contains("MAC:         7c:df:a1:c3:00:42"), "{s}");
    assert!(s.contains("flash:       4 MB"), "{s}");
    assert!(
        s.contains(
            "config:      Wi-Fi PicoLab (password correct-horse), server tcp://127.0.0.1:10001"
        ),
        "{s}"
    );
}

#[test]
fn c3_firmware_on_an_s3_is_refused_before_any_write() {
    let board = Board::start("esp32s3", "8MB", false);
    let fw = board.write_elf("fw.elf", "esp32c3", 4000);
    let before = board.flash();
    let out = picow(&[
        "flash",
        "--port",
        board.port(),
        "--firmware",
        fw.to_str().unwrap(),
        "--wifi",
        "PicoLab:correct-horse",
        "--server",
        "127.0.0.1:10000",
    ]);
    exits_saying(
        &out,
        2,
        &["chip mismatch", "esp32s3", "esp32c3", "Nothing was written"],
    );
    assert_eq!(board.flash(), before);
}

#[test]
fn config_only_on_a_board_without_the_picow_table_is_refused() {
    let board = Board::start("esp32c3", "4MB", false);
    let before = board.flash();
    let out = picow(&[
        "flash",
        "--port",
        board.port(),
        "--config-only",
        "--wifi",
        "PicoLab:correct-horse",
        "--server",
        "127.0.0.1:10000",
    ]);
    exits_saying(
        &out,
        2,
        &["--config-only refused", "full `picow flash` first"],
    );
    assert_eq!(board.flash(), before);
}

#[test]
fn thirty_bad_inputs_exit_2_and_leave_the_flash_alone() {
    let board = Board::start("esp32c3", "4MB", false);
    let fw = board.write_elf("fw.elf", "esp32c3", 4000);
    let fw = fw.to_str().unwrap().to_string();
    let no_chip = board.dir.path().join("nochip.elf");
    std::fs::write(&no_chip, synthetic_elf(None, 100)).unwrap();
    let h2 = board.write_elf("h2.elf", "esp32h2", 100);
    let bin = board.dir.path().join("app.bin");
    std::fs::write(&bin, [0xE9u8; 64]).unwrap();
    let missing = board.dir.path().join("missing.elf");
    let before = board.flash();
    let ssid33 = "s".repeat(33);
    let pass65 = format!("PicoLab:{}", "p".repeat(65));
    let host254 = format!("{}.com:9", "a".repeat(250));
    let name33 = "n".repeat(33);
    let ok_wifi = "PicoLab:correct-horse";
    let ok_server = "127.0.0.1:10000";
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--wifi", "", "--server", ok_server], "--wifi"),
        (vec!["--wifi", ":correct-horse", "--server", ok_server], "--wifi"),
        (vec!["--wifi", &ssid33, "--server", ok_server], "SSID"),
        (vec!["--wifi", "PicoLab:short77", "--server", ok_server], "password"),
        (vec!["--wifi", &pass65, "--server", ok_server], "password"),
        (vec!["--wifi", "PicoLab:pass\u{7}word", "--server", ok_server], "password"),
        (vec!["--wifi", "Pico\nLab:correct-horse", "--server", ok_server], "SSID"),
        (vec!["--ssid", "", "--password", "correct-horse", "--server", ok_server], "--ssid"),
        (vec!["--wifi", ok_wifi, "--server", "127.0.0.1:0"], "--server"),
        (vec!["--wifi", ok_wifi, "--server", "127.0.0.1:65536"], "--server"),
        (vec!["--wifi", ok_wifi, "--server", "127.0.0.1"], "--server"),
        (vec!["--wifi", ok_wifi, "--server", "1.2.3.999:9"], "host"),
        (vec!["--wifi", ok_wifi, "--server", "bad_host!:9"], "host"),
        (vec!["--wifi", ok_wifi, "--server", &host254], "host"),
        (vec!["--wifi", ok_wifi, "--server", "fe80::1:9"], "brackets"),
        (vec!["--wifi", ok_wifi, "--server", "http://h:9"], "--server"),
        (vec!["--wifi", ok_wifi, "--server", ":9"], "--server"),
        (vec!["--wifi", ok_wifi, "--server", "h:port"], "--server"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--name", "a b"], "--name"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--name", &name33], "--name"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--name", ""], "--name"),
        (vec!["--wifi", ok_wifi], "--server"),
        (vec!["--server", ok_server], "--wifi"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--chip", "esp8266"], "--chip"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--chip", "esp32s3"], "--chip"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--baud", "0"], "--baud"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--baud", "fast"], "--baud"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--baud", "5000000"], "--baud"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--before", "sideways"], "--before"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--after", "explode"], "--after"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--wait", "0"], "--wait"),
        (vec!["--wifi", ok_wifi, "--server", ok_server, "--flash-size", "3MB"], "--flash-size"),
    ];
    let fw_cases: Vec<(&str, &str)> = vec![
        (missing.to_str().unwrap(), "--firmware"),
        (bin.to_str().unwrap(), "not an ELF"),
        (no_chip.to_str().unwrap(), "--chip"),
        (h2.to_str().unwrap(), "esp32h2"),
    ];
    let mut n = 0;
    let mut check = |args: Vec<&str>, expect: &str| {
        let out = picow(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(expect),
            "{args:?}: expected {expect:?} in {err}"
        );
        assert!(
            !err.contains("correct-horse"),
            "{args:?} leaked the password: {err}"
        );
        n += 1;
    };
    for (extra, expect) in &cases {
        let mut args = vec!["flash", "--port", board.port()];
        if !extra.contains(&"--firmware") {
            args.extend_from_slice(&["--firmware", &fw]);
        }
        args.extend_from_slice(extra);
        check(args, expect);
    }
    for (path, expect) in &fw_cases {
        check(
            vec![
                "flash",
                "--port",
                board.port(),
                "--firmware",
                path,
                "--wifi",
                ok_wifi,
                "--server",
                ok_server,
            ],
            expect,
        );
    }
    assert!(n >= 30, "only {n} cases");
    assert!(board.flash() == before, "a bad input changed the flash");
}

/// Waits for a JSON event line satisfying `pred` on a child's stdout; on
/// the end of the stream, panics with the events seen and the child's
/// stderr (why it ended).
fn wait_event(
    child: &mut std::process::Child,
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut seen = Vec::new();
    for line in lines {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if pred(&v) {
            return v;
        }
        seen.push(line);
    }
    let status = child.wait();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    panic!(
        "stream ended before the event ({status:?}); events:\n{}\nstderr:\n{err}",
        seen.join("\n")
    );
}

/// Starts a paced full flash, cuts it with the control command `cut` once
/// the app is being written, checks that picow flash gives up by itself
/// with a message naming the region (and `why`), then `recover`s the board
/// and checks that the same command completes the flash.
fn interrupted_write_then_rerun_completes(cut: &str, cut_reply: &str, why: &str, recover: &str) {
    // Paced at the real baud rate so the app write takes long enough to cut.
    let board = Board::start("esp32c3", "4MB", true);
    let fw = board.write_elf("fw.elf", "esp32c3", 120_000);
    let args = [
        "--json",
        "flash",
        "--port",
        board.port(),
        "--firmware",
        fw.to_str().unwrap(),
        "--wifi",
        "PicoLab:correct-horse",
        "--server",
        "127.0.0.1:10000",
        "--ota-password",
        "ota-horse-battery",
        "--baud",
        "115200",
    ];
    let mut child = Kill(
        common::picow()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut child.0;
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    wait_event(child, &mut lines, |e| {
        e["event"] == "progress" && e["name"] == "app"
    });
    assert_eq!(board.control(cut), cut_reply);
    // The child must give up by itself (bounded by espflash's timeouts).
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "picow flash hung after `{cut}`");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("writing the app at 0x10000 failed")
            && err.contains(why)
            && err.contains("run the same command again"),
        "{err}"
    );

    // Bring the board back (download mode) and run the same command: it
    // completes.
    let reply = board.control(recover);
    assert!(reply.starts_with("ok "), "{reply}");
    let out = picow(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let evs = events(&out);
    assert_eq!(
        named(&evs, "written").last().map(String::as_str),
        Some("config")
    );
    // The flash matches the merged image of the same inputs.
    let img = board.dir.path().join("merged.bin");
    let out = picow(&[
        "flash",
        "--firmware",
        fw.to_str().unwrap(),
        "--wifi",
        "PicoLab:correct-horse",
        "--server",
        "127.0.0.1:10000",
        "--ota-password",
        "ota-horse-battery",
        "--save-image",
        img.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(md5(&board.flash()), md5(&std::fs::read(&img).unwrap()));
}

#[test]
fn cable_pulled_mid_write_then_rerun_completes() {
    interrupted_write_then_rerun_completes("unplug", "ok unplugged", "", "replug download");
}

#[test]
fn board_stops_answering_mid_write_then_rerun_completes() {
    // The board wedges (reads nothing, answers nothing): flash must not wait
    // forever, and must say what happened.
    interrupted_write_then_rerun_completes(
        "hang",
        "ok hung",
        "the board stopped answering",
        "reset download",
    );
}

#[test]
fn bare_pty_is_not_reset_and_a_silent_board_is_a_sync_failure() {
    let board = Board::start("esp32c3", "4MB", false);
    let fw = board.write_elf("fw.elf", "esp32c3", 4000);
    // The pty itself: no control socket next to it, no DTR/RTS.
    let pts = std::fs::read_link(&board.link).unwrap();
    // Found through the board registry, it is reset through its control
    // socket (no warning) ...
    let erased = board.flash();
    let first = picow(&[
        "flash",
        "--port",
        pts.to_str().unwrap(),
        "--firmware",
        board
            .write_elf("fw0.elf", "esp32c3", 1000)
            .to_str()
            .unwrap(),
        "--wifi",
        "PicoLab:correct-horse",
        "--server",
        "127.0.0.1:10000",
    ]);
    exits_saying(&first, 0, &[]);
    assert!(
        !text(&first.stderr).contains("modem-control"),
        "{}",
        text(&first.stderr)
    );
    assert_ne!(board.flash(), erased);
    // ... but a pty that no registry knows is a bare pty.
    let elsewhere = tempfile::tempdir().unwrap();
    let unregistered = |args: &[&str]| {
        common::picow()
            .args(args)
            .env("XDG_RUNTIME_DIR", elsewhere.path())
            .env("TMPDIR", elsewhere.path())
            .output()
            .unwrap()
    };
    assert!(board.control("reset download").starts_with("ok"));
    let args = [
        "flash",
        "--port",
        pts.to_str().unwrap(),
        "--firmware",
        fw.to_str().unwrap(),
        "--wifi",
        "PicoLab:correct-horse",
        "--server",
        "127.0.0.1:10000",
    ];
    let out = unregistered(&args);
    exits_saying(
        &out,
        0,
        &[
            "has no modem-control lines",
            "not resetting it",
            "press RESET on the board",
        ],
    );
    // The board runs its app now: nothing answers the loader's SYNC.
    assert!(board.control("reset run").starts_with("ok"));
    let before = board.flash();
    let out = unregistered(&args);
    exits_saying(&out, 1, &["no answer from the ESP ROM loader", "hold BOOT"]);
    assert_eq!(board.flash(), before);
}

#[test]
fn a_port_held_by_another_program_is_busy() {
    let board = Board::start("esp32c3", "4MB", false);
    let fw = board.write_elf("fw.elf", "esp32c3", 4000);
    // serialport opens exclusively (TIOCEXCL), like every serial tool.
    let _held = serialport::new(board.port(), 115_200)
        .open_native()
        .unwrap();
    let out = picow(&[
        "flash",
        "--port",
        board.port(),
        "--firmware",
        fw.to_str().unwrap(),
        "--wifi",
        "PicoLab:correct-horse",
        "--server",
        "127.0.0.1:10000",
    ]);
    exits_saying(&out, 1, &["is busy", "close that program"]);
}

/// A board flashed by an older picow: the factory layout, with settings.
fn legacy_flash(config: Option<&DeviceConfig>) -> Vec<u8> {
    use picow_protocol::layout::LEGACY_LAYOUT_4MB as OLD;
    let mut f = vec![0xFF; 4 << 20];
    let mut put = |at: u32, b: &[u8]| f[at as usize..at as usize + b.len()].copy_from_slice(b);
    put(
        0,
        &picow_sim::fixture::bootloader_image(picow_sim::Chip::Esp32c3),
    );
    put(0x8000, &OLD.to_binary());
    put(
        0x10000,
        &picow_sim::fixture::app_image(picow_sim::Chip::Esp32c3, "picow-fw", "0.0.9"),
    );
    if let Some(c) = config {
        put(OLD.config().offset, &c.to_bytes());
    }
    f
}

#[test]
fn keep_config_moves_an_old_board_and_makes_up_an_ota_password() {
    use picow_protocol::forms::{ServerAddr, WifiCredentials};
    use picow_protocol::layout::{PartitionTable, LAYOUT_4MB};
    let old = DeviceConfig::new(
        WifiCredentials::parse("OldNet:old-password").unwrap(),
        ServerAddr::parse("192.0.2.7:10000").unwrap(),
        Some("bench"),
    )
    .unwrap();
    let board = Board::start_with("esp32c3", "4MB", false, Some(&legacy_flash(Some(&old))));
    let fw = board.write_elf("fw.elf", "esp32c3", 20_000);
    let args = [
        "--json",
        "flash",
        "--port",
        board.port(),
        "--keep-config",
        "--firmware",
    ];
    let mut full: Vec<&str> = args.to_vec();
    full.push(fw.to_str().unwrap());
    let out = picow(&full);
    exits_saying(&out, 0, &[]);
    let flash = board.flash();
    let table = PartitionTable::parse(&flash[0x8000..0x8C00]).unwrap();
    assert!(table.supports_ota(), "moved to the OTA layout");
    let cfg_off = LAYOUT_4MB.config().offset as usize;
    let cfg = DeviceConfig::decode(&flash[cfg_off..cfg_off + 0x1000]).unwrap();
    assert_eq!((cfg.ssid(), cfg.name()), ("OldNet", Some("bench")));
    assert_eq!(cfg.server(), old.server());
    // The OTA password was made up, kept per MAC, and never printed.
    let stored =
        std::fs::read_to_string(common::config_dir().join("ota-passwords/7c-df-a1-c3-00-42"))
            .unwrap();
    let pw = cfg
        .ota_password()
        .expect("an OTA password")
        .expose()
        .to_string();
    assert_eq!(stored.trim_end(), pw);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(&pw), "{all}");
    assert_eq!(events(&out).last().unwrap()["ota_password"], "********");

    // Again with --show-secrets: it is shown, the board's is kept, nothing changes.
    let mut again = full.clone();
    again.push("--show-secrets");
    let out = picow(&again);
    exits_saying(&out, 0, &[]);
    let evs = events(&out);
    assert!(named(&evs, "written").is_empty(), "{evs:?}");
    assert_eq!(evs.last().unwrap()["ota_password"], pw.as_str());
    assert_eq!(board.flash(), flash);
}

#[test]
fn keep_config_refuses_a_board_without_settings() {
    let board = Board::start_with("esp32c3", "4MB", false, Some(&legacy_flash(None)));
    let fw = board.write_elf("fw.elf", "esp32c3", 20_000);
    let before = board.flash();
    let out = picow(&[
        "flash",
        "--port",
        board.port(),
        "--keep-config",
        "--firmware",
        fw.to_str().unwrap(),
    ]);
    exits_saying(
        &out,
        2,
        &[
            "--keep-config",
            "holds no settings to keep",
            "--wifi and --server",
            "Nothing was written",
        ],
    );
    assert_eq!(board.flash(), before);
    let out = picow(&[
        "flash",
        "--port",
        board.port(),
        "--wifi",
        "a:bcdefghi",
        "--server",
        "h:1",
        "--ota-password",
        "short",
    ]);
    exits_saying(&out, 2, &["invalid --ota-password", "8 to 64"]);
    assert_eq!(board.flash(), before);
}

/// Every `data: [..]` byte list in a log (espflash logs commands with
/// `{:02x?}`), in order.
fn logged_payloads(log: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = log;
    while let Some(i) = rest.find("data: [") {
        rest = &rest[i + 7..];
        let end = rest.find(']').unwrap_or(rest.len());
        let bytes: Vec<u8> = rest[..end]
            .split(", ")
            .filter_map(|h| u8::from_str_radix(h.trim(), 16).ok())
            .collect();
        out.push(bytes);
        rest = &rest[end..];
    }
    out
}

/// Whether `secret` is in any payload, or in what a zlib stream starting in
/// one of them inflates to (the config region is written compressed).
fn payloads_reveal(payloads: &[Vec<u8>], secret: &[u8]) -> bool {
    let has = |hay: &[u8]| hay.windows(secret.len()).any(|w| w == secret);
    (0..payloads.len()).any(|start| {
        let mut z = flate2::Decompress::new(true);
        let mut inflated = Vec::with_capacity(1 << 20);
        for p in &payloads[start..] {
            if has(p) {
                return true;
            }
            let before = z.total_in();
            if z.decompress_vec(p, &mut inflated, flate2::FlushDecompress::None)
                .is_err()
                || z.total_in() == before
            {
                break;
            }
            inflated.reserve(1 << 20);
        }
        has(&inflated)
    })
}

#[test]
fn no_log_level_shows_the_config_payload() {
    let board = Board::start("esp32c3", "4MB", false);
    let fw = board.write_elf("fw.elf", "esp32c3", 4000);
    let args = |server: &str, extra: &[&str]| {
        let mut a = vec![
            "flash",
            "--port",
            board.port(),
            "--wifi",
            "PicoLab:correct-horse-battery",
            "--server",
            server,
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    // -vv, and RUST_LOG=trace (which wins over -v).
    let mut full = vec!["-vv".to_string()];
    full.extend(args(
        "127.0.0.1:10000",
        &["--firmware", fw.to_str().unwrap()],
    ));
    let runs = [
        common::picow().args(&full).output().unwrap(),
        common::picow()
            .env("RUST_LOG", "trace")
            // Another server, so that the config region is written again.
            .args(args("127.0.0.1:10001", &["--config-only"]))
            .output()
            .unwrap(),
    ];
    for out in &runs {
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        // The log is verbose enough to show espflash's commands...
        assert!(err.contains("Writing command: FlashDeflData"), "{err}");
        // ...but neither the password nor a payload it could be inflated from.
        assert!(!err.contains("correct-horse-battery"));
        let payloads = logged_payloads(&err);
        assert!(
            !payloads_reveal(&payloads, b"correct-horse-battery"),
            "the log holds the config record ({} payloads)",
            payloads.len()
        );
    }
    // The check itself finds a password in a logged compressed payload.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, b"....correct-horse-battery....").unwrap();
    let blob = z.finish().unwrap();
    let fake = format!(
        "Writing command: FlashDeflData {{ data: [{}], pad_to: 0 }}",
        blob.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(payloads_reveal(
        &logged_payloads(&fake),
        b"correct-horse-battery"
    ));
}
