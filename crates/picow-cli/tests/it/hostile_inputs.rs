//! A careless or hostile user's inputs outside serve: special and huge input
//! files, paths that cannot be used, values out of range, secrets kept off
//! the command line. Each case exits with the documented code, names the
//! flag, and changes nothing.
#![cfg(unix)]

use crate::common;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{text, Kill};
use picow_cli::esp::fixture::synthetic_elf;
use picow_protocol::DeviceConfig;

/// `picow` with at most 2 GiB of address space: code that reads
/// `/dev/zero` into memory dies instead of taking the machine's memory.
fn bounded_picow() -> Command {
    let mut c = common::picow();
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        c.pre_exec(|| {
            let lim = rustix::process::Rlimit {
                current: Some(2 << 30),
                maximum: Some(2 << 30),
            };
            rustix::process::setrlimit(rustix::process::Resource::As, lim)
                .map_err(std::io::Error::from)
        });
    }
    c
}

/// Runs `cmd` with stdin closed; kills it after `secs`.
fn run_bounded(mut cmd: Command, secs: u64) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let s = child.wait().unwrap();
            let stderr = e.join().unwrap();
            panic!(
                "still running after {secs} s ({s}); stderr: {}",
                text(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

fn exits(out: &Output, code: i32, says: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    for s in says {
        assert!(err.contains(s), "expected {s:?} in:\n{err}");
    }
    if code == 2 {
        assert!(
            !err.contains("BACKTRACE"),
            "an input error has no backtrace:\n{err}"
        );
    }
}

fn mkfifo(p: &Path) {
    rustix::fs::mkfifoat(rustix::fs::CWD, p, rustix::fs::Mode::RWXU).unwrap();
}

const WIFI: &str = "PicoLab:correct-horse";
const SERVER: &str = "127.0.0.1:10000";

/// `picow flash` to an image file (no board needed) with these extra args.
fn save_image(dir: &Path, extra: &[&str]) -> Command {
    let mut c = bounded_picow();
    c.args([
        "flash",
        "--chip",
        "esp32c3",
        "--server",
        SERVER,
        "--save-image",
    ])
    .arg(dir.join("out.bin"))
    .args(extra);
    c
}

fn elf(dir: &Path) -> PathBuf {
    let p = dir.join("fw.elf");
    std::fs::write(&p, synthetic_elf(Some("esp32c3"), 4000)).unwrap();
    p
}

/// The config record in a 4 MB C3 image.
fn image_config(dir: &Path) -> DeviceConfig {
    let img = std::fs::read(dir.join("out.bin")).unwrap();
    DeviceConfig::decode(&img[0x3F0000..0x3F1000]).unwrap()
}

/// Files that are not a bounded regular file, made in `dir`, with the
/// reason the refusal names: a device, a FIFO, a directory and a sparse
/// 100 MiB ELF.
fn unbounded_firmware_files(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let huge = dir.join("huge.elf");
    let f = std::fs::File::create(&huge).unwrap();
    (&f).write_all(b"\x7fELF").unwrap();
    f.set_len(100 << 20).unwrap(); // sparse: no disk used
    vec![
        ("/dev/zero".into(), "a character device"),
        (fifo, "a FIFO"),
        (dir.to_path_buf(), "a directory"),
        (huge, "more than"),
    ]
}

#[test]
fn firmware_that_is_not_a_bounded_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (path, why) in unbounded_firmware_files(dir.path()) {
        let path = path.as_path();
        let mut c = save_image(dir.path(), &["--wifi", WIFI, "--firmware"]);
        c.arg(path);
        let out = run_bounded(c, 20);
        exits(&out, 2, &["--firmware", why]);
        assert!(!dir.path().join("out.bin").exists());
        // The same through PICOW_FIRMWARE.
        let mut c = save_image(dir.path(), &["--wifi", WIFI]);
        c.env("PICOW_FIRMWARE", path);
        exits(&run_bounded(c, 20), 2, &["--firmware", why]);
    }
}

/// `flash --ota` reads its --firmware with the same bounds, before it
/// connects to anything (port 1 on loopback: nothing is sent).
#[test]
fn ota_firmware_that_is_not_a_bounded_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (path, why) in unbounded_firmware_files(dir.path()) {
        let path = path.as_path();
        let mut c = bounded_picow();
        c.args([
            "flash",
            "--ota",
            "127.0.0.1:1",
            "--ota-password",
            "ota-horse-battery",
            "--firmware",
        ])
        .arg(path);
        exits(&run_bounded(c, 20), 2, &["--firmware", why]);
    }
}

#[test]
fn monitor_elf_that_is_not_a_bounded_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    for (path, why) in [
        (Path::new("/dev/zero"), "a character device"),
        (&fifo, "a FIFO"),
    ] {
        let mut c = bounded_picow();
        c.args([
            "monitor",
            "--non-interactive",
            "--port",
            "/dev/null",
            "--elf",
        ])
        .arg(path);
        exits(&run_bounded(c, 20), 2, &["--elf", why]);
    }
}

#[test]
fn wifi_password_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let fw = elf(dir.path());
    let wifi_file = dir.path().join("wifi");
    std::fs::write(&wifi_file, "PicoLab:correct-horse\n").unwrap();
    let mut c = save_image(
        dir.path(),
        &["--firmware", fw.to_str().unwrap(), "--wifi-file"],
    );
    c.arg(&wifi_file);
    let out = run_bounded(c, 30);
    exits(&out, 0, &[]);
    let cfg = image_config(dir.path());
    assert_eq!((cfg.ssid(), cfg.password()), ("PicoLab", "correct-horse"));
    std::fs::remove_file(dir.path().join("out.bin")).unwrap();

    let mut c = save_image(dir.path(), &["--firmware", fw.to_str().unwrap()]);
    c.env("PICOW_WIFI", "PicoEnv:battery-staple");
    exits(&run_bounded(c, 30), 0, &[]);
    let cfg = image_config(dir.path());
    assert_eq!((cfg.ssid(), cfg.password()), ("PicoEnv", "battery-staple"));
    std::fs::remove_file(dir.path().join("out.bin")).unwrap();

    // A bad file: the error names --wifi-file and not the password.
    std::fs::write(&wifi_file, "PicoLab:short\n").unwrap();
    let mut c = save_image(
        dir.path(),
        &["--firmware", fw.to_str().unwrap(), "--wifi-file"],
    );
    c.arg(&wifi_file);
    let out = run_bounded(c, 30);
    exits(&out, 2, &["--wifi-file", "password"]);
    assert!(
        !text(&out.stderr).contains("short"),
        "{}",
        text(&out.stderr)
    );
    for bad in [Path::new("/dev/zero"), dir.path()] {
        let mut c = save_image(
            dir.path(),
            &["--firmware", fw.to_str().unwrap(), "--wifi-file"],
        );
        c.arg(bad);
        exits(&run_bounded(c, 30), 2, &["--wifi-file"]);
    }
    // No Wi-Fi and no terminal to ask on: say every way to give it.
    let c = save_image(dir.path(), &["--firmware", fw.to_str().unwrap()]);
    exits(
        &run_bounded(c, 30),
        2,
        &["--wifi", "--wifi-file", "PICOW_WIFI"],
    );
    assert!(!dir.path().join("out.bin").exists());
}

#[test]
fn wifi_password_is_asked_on_a_terminal_without_echo() {
    use crate::monitor_support::{Collected, Pty};
    let dir = tempfile::tempdir().unwrap();
    let fw = elf(dir.path());
    let mut term = Pty::new();
    let open = || {
        std::fs::File::options()
            .read(true)
            .write(true)
            .open(&term.path)
            .unwrap()
    };
    let mut c = common::picow();
    c.args([
        "flash", "--chip", "esp32c3", "--server", SERVER, "--ssid", "PicoLab",
    ])
    .arg("--firmware")
    .arg(&fw)
    .arg("--save-image")
    .arg(dir.path().join("out.bin"))
    .stdin(open())
    .stdout(open())
    .stderr(open());
    let mut child = Kill(c.spawn().unwrap());
    let (shown, _h) = Collected::spawn(term.master.try_clone().unwrap());
    shown.wait_count("password for PicoLab", 1);
    term.write(b"correct-horse\r");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "{}", shown.text());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", shown.text());
    shown.wait_count("wrote", 1);
    assert!(
        !shown.text().contains("correct-horse"),
        "echoed: {}",
        shown.text()
    );
    let cfg = image_config(dir.path());
    assert_eq!((cfg.ssid(), cfg.password()), ("PicoLab", "correct-horse"));
}

#[test]
fn output_paths_that_cannot_be_used_exit_2_and_never_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let fw = elf(dir.path());
    let fw_bytes = std::fs::read(&fw).unwrap();
    let fw_s = fw.to_str().unwrap();
    let no_dir = dir.path().join("no/such/dir/img.bin");
    for (target, says) in [
        (no_dir.to_str().unwrap(), "--save-image"),
        (dir.path().to_str().unwrap(), "--save-image"),
        (fw_s, "--firmware"),
    ] {
        let mut c = bounded_picow();
        c.args([
            "flash", "--chip", "esp32c3", "--wifi", WIFI, "--server", SERVER,
        ])
        .args(["--firmware", fw_s, "--save-image", target]);
        exits(&run_bounded(c, 30), 2, &["--save-image", says]);
    }
    // The ELF named through another path (a symlink) is not overwritten either.
    let alias = dir.path().join("alias.bin");
    std::os::unix::fs::symlink(&fw, &alias).unwrap();
    let mut c = bounded_picow();
    c.args([
        "flash", "--chip", "esp32c3", "--wifi", WIFI, "--server", SERVER,
    ])
    .args(["--firmware", fw_s, "--save-image"])
    .arg(&alias);
    exits(&run_bounded(c, 30), 2, &["--save-image"]);
    assert_eq!(
        std::fs::read(&fw).unwrap(),
        fw_bytes,
        "the ELF was overwritten"
    );
}

#[test]
fn sim_paths_that_cannot_be_used_exit_2_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let long = dir.path().join("l".repeat(120));
    let no_dir = dir.path().join("no/such/dir/x");
    let cases: [(&str, &Path, &str); 3] = [
        ("--link", &no_dir, "--link"),
        ("--link", &long, "--control"),
        ("--control", &no_dir, "--control"),
    ];
    for (flag, path, names) in cases {
        let mut c = bounded_picow();
        c.args(["sim", "--flash"]).arg(&flash).arg(flag).arg(path);
        exits(&run_bounded(c, 30), 2, &[names]);
        assert!(
            !flash.exists(),
            "{flag} {}: the flash file was created",
            path.display()
        );
    }
    // A flash file of a size no flash has: the message says the sizes there are.
    std::fs::File::create(&flash)
        .unwrap()
        .set_len(5_192_768)
        .unwrap();
    let mut c = bounded_picow();
    c.args(["sim", "--flash"]).arg(&flash);
    let out = run_bounded(c, 30);
    exits(
        &out,
        2,
        &["--flash", "5192768 bytes", "1MB, 2MB, 4MB, 8MB or 16MB"],
    );
    assert!(
        !text(&out.stderr).contains("but the flash is 5192768"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn probe_of_a_missing_port_is_a_failure() {
    let out = run_bounded(
        {
            let mut c = bounded_picow();
            c.args(["probe", "--port", "/nonexistent/ttyPICOW"]);
            c
        },
        30,
    );
    exits(&out, 1, &["/nonexistent/ttyPICOW", "not found"]);
    let out = run_bounded(
        {
            let mut c = bounded_picow();
            c.args(["--json", "probe", "--port", "/nonexistent/ttyPICOW"]);
            c
        },
        30,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn values_out_of_range_and_conflicting_flags_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let fw = elf(dir.path());
    let fw = fw.to_str().unwrap();
    fn flash<'a>(fw: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec![
            "flash",
            "--firmware",
            fw,
            "--wifi",
            WIFI,
            "--server",
            SERVER,
        ];
        v.extend_from_slice(extra);
        v
    }
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // --flash-size only means something for --save-image.
        (
            flash(fw, &["--port", "/dev/null", "--flash-size", "8MB"]),
            "--flash-size",
        ),
        (flash(fw, &["--flash-size", "8MB"]), "--flash-size"),
        // Negative numbers name their flag.
        (flash(fw, &["--baud", "-5"]), "--baud"),
        (flash(fw, &["--wait", "-1"]), "--wait"),
        (vec!["serve", "--port", "-1"], "--port"),
        (vec!["serve", "--max-clients", "-1"], "--max-clients"),
        (vec!["serve", "--max-queue", "-1"], "--max-queue"),
        (vec!["serve", "--clients", "-2"], "--clients"),
        (vec!["serve", "--timeout", "-5s"], "--timeout"),
        (
            vec!["monitor", "--port", "/dev/null", "--baud", "-1"],
            "--baud",
        ),
        (
            vec!["monitor", "--port", "/dev/null", "--timeout", "-5s"],
            "--timeout",
        ),
    ];
    for (args, flag) in cases {
        let mut c = bounded_picow();
        c.args(&args);
        let out = run_bounded(c, 30);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: expected {flag} in {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
}

#[test]
fn monitor_log_never_overwrites_the_elf_and_baud_has_a_range() {
    use crate::monitor_support::Pty;
    let dir = tempfile::tempdir().unwrap();
    // Any ELF will do: this test binary.
    let elf = dir.path().join("fw.elf");
    std::fs::copy(std::env::current_exe().unwrap(), &elf).unwrap();
    let before = std::fs::read(&elf).unwrap();
    let alias = dir.path().join("alias.log");
    std::os::unix::fs::symlink(&elf, &alias).unwrap();
    let pty = Pty::new();
    for log in [&elf, &alias] {
        let mut c = bounded_picow();
        c.args(["monitor", "--non-interactive", "--port"])
            .arg(&pty.path)
            .arg("--elf")
            .arg(&elf)
            .arg("--log")
            .arg(log);
        // Refused at once; a monitor that runs is stopped after the bound.
        let mut child = Kill(
            c.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let code = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        drop(child);
        assert_eq!(
            std::fs::read(&elf).unwrap(),
            before,
            "--log {} overwrote the ELF",
            log.display()
        );
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("--log") && err.contains("--elf"), "{err}");
    }
    for bad in ["0", "10", "20000000"] {
        let out = run_bounded(
            {
                let mut c = bounded_picow();
                c.args(["monitor", "--port", "/dev/null", "--baud", bad]);
                c
            },
            20,
        );
        exits(&out, 2, &["--baud"]);
    }
}
