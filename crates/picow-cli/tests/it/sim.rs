//! `picow sim` as a user runs it: the binary, its JSON ready line, the pty,
//! the link, the control socket, Ctrl-C, and exit code 2 for bad input.
#![cfg(unix)]

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{control, lines, picow};

fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn json_ready_line_pty_control_socket_and_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("picow");
    let flash = dir.path().join("flash.bin");
    let mut child = picow()
        .args([
            "--json",
            "sim",
            "--chip",
            "esp32c3",
            "--flash-size",
            "4MB",
            "--mac",
        ])
        .arg("7c:df:a1:00:00:42")
        .arg("--flash")
        .arg(&flash)
        .arg("--link")
        .arg(&link)
        .args(["--wifi", "Home:secret-password"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let ready = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("ready line");
    let v: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(v["event"], "ready");
    assert_eq!(v["chip"], "esp32c3");
    assert_eq!(v["mac"], "7c:df:a1:00:00:42");
    assert_eq!(v["flash_size"], 4 << 20);
    assert_eq!(v["mode"], "download");
    assert_eq!(v["wifi"], serde_json::json!(["Home"]));
    assert!(!ready.contains("secret-password"), "{ready}");
    let pty = v["pty"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(&pty));
    let ctl = dir.path().join("picow.control");
    assert_eq!(v["control"], ctl.to_str().unwrap());
    // The flash file was created erased at the asked size.
    let bytes = std::fs::read(&flash).unwrap();
    assert_eq!(bytes.len(), 4 << 20);
    assert!(bytes.iter().all(|&b| b == 0xFF));

    // The pty answers a SYNC (raw mode is set by the board).
    let mut port = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&pty)
        .unwrap();
    let mut sync = vec![0xC0, 0x00, 0x08, 36, 0, 0, 0, 0, 0, 0x07, 0x07, 0x12, 0x20];
    sync.extend([0x55; 32]);
    sync.push(0xC0);
    port.write_all(&sync).unwrap();
    let (btx, brx) = mpsc::channel();
    let mut reader = port.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || btx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut got = Vec::new();
    let needle = [0xC0, 0x01, 0x08, 0x04, 0x00, 0x07, 0x07, 0x12, 0x20];
    while !got.windows(needle.len()).any(|w| w == needle) {
        got.extend(
            brx.recv_timeout(Duration::from_secs(10))
                .expect("SYNC reply"),
        );
    }

    assert!(control(&ctl, "status").starts_with("ok mode=download"));
    assert_eq!(control(&ctl, "unplug"), "ok unplugged");
    // Start-up events (plugged, reset into download mode), then the unplug.
    let mut events = Vec::new();
    while events.last().map(String::as_str) != Some("unplugged") {
        let ev: serde_json::Value =
            serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
        events.push(ev["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(events, ["plugged", "reset", "unplugged"]);
    assert!(std::fs::symlink_metadata(&link).is_err());
    drop(port);

    interrupt(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!ctl.exists(), "control socket removed at exit");
}

#[test]
fn invalid_input_exits_2_naming_the_flag_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    for (args, flag) in [
        (vec!["sim", "--mac", "01:00:5e:00:00:01"], "--mac"),
        (vec!["sim", "--flash-size", "3MB"], "--flash-size"),
        (vec!["sim", "--wifi", ":nossid"], "--wifi"),
        (vec!["sim", "--chip", "esp8266"], "--chip"),
    ] {
        let out = picow()
            .args(&args)
            .arg("--flash")
            .arg(&flash)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!flash.exists(), "{args:?} created the flash file");
    }
    // An existing flash file of another size is refused, untouched.
    std::fs::write(&flash, vec![0u8; 1 << 20]).unwrap();
    let out = picow()
        .args(["sim", "--flash-size", "8MB", "--flash"])
        .arg(&flash)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--flash-size"));
    assert!(std::fs::read(&flash).unwrap().iter().all(|&b| b == 0));
}

#[test]
fn text_mode_masks_wifi_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let ctl = dir.path().join("ctl.sock");
    let mut child = picow()
        .args([
            "sim",
            "--wifi",
            "Cafe",
            "--wifi",
            "Home:hunter22",
            "--control",
        ])
        .arg(&ctl)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let mut text = String::new();
    loop {
        let l = rx.recv_timeout(Duration::from_secs(30)).expect("banner");
        text.push_str(&l);
        text.push('\n');
        if l.starts_with("Stop with") {
            break;
        }
    }
    assert!(text.contains("wifi:    Home (password ********)"), "{text}");
    assert!(text.contains("wifi:    Cafe (password (open))"), "{text}");
    assert!(!text.contains("hunter22"), "{text}");
    assert!(
        text.contains(&format!("control: {}", ctl.display())),
        "{text}"
    );
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn keeps_running_when_nobody_reads_its_output() {
    // `PTY=$(picow --json sim ... | head -1)`: the reader goes away after the
    // ready line; events printed later must not stop the board.
    let dir = tempfile::tempdir().unwrap();
    let ctl = dir.path().join("ctl.sock");
    let mut child = picow()
        .args(["--json", "sim", "--control"])
        .arg(&ctl)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    assert!(ready.contains("\"ready\""));
    drop(out);
    for _ in 0..3 {
        assert_eq!(control(&ctl, "reset download"), "ok mode=download");
    }
    assert!(control(&ctl, "status").starts_with("ok mode=download"));
    assert_eq!(child.try_wait().unwrap(), None, "still running");
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn booted_virtual_board_greets_a_loopback_server() {
    use picow_protocol::forms::{ServerAddr, WifiCredentials};
    use picow_protocol::DeviceConfig;
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let cfg = DeviceConfig::new(
        WifiCredentials::parse("lab:password1").unwrap(),
        ServerAddr::parse(&format!("127.0.0.1:{port}")).unwrap(),
        Some("sim"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flash_path = dir.path().join("flash.bin");
    let mut flash = picow_sim::Flash::open(&flash_path, Some(4 << 20)).unwrap();
    picow_sim::fixture::write_picow(&mut flash, picow_sim::Chip::Esp32c3, "picow-fw", Some(&cfg))
        .unwrap();
    drop(flash);
    let mut child = picow()
        .args([
            "--json",
            "sim",
            "--chip",
            "esp32c3",
            "--boot",
            "--wifi",
            "lab:password1",
        ])
        .arg("--flash")
        .arg(&flash_path)
        .arg("--control")
        .arg(dir.path().join("ctl"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let (mut conn, _) = server.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = conn.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello WalnutPi! (sim)");
    let mut events = Vec::new();
    while !events.iter().any(|e: &String| e.contains("\"booted\"")) {
        events.push(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    let booted = events.last().unwrap();
    assert!(
        booted.contains("\"app\":\"picow-fw\"") && booted.contains("\"running\":true"),
        "{booted}"
    );
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// Whether the tty behind `path` is in exclusive mode (TIOCEXCL), asked
/// through a descriptor of our own (root may open it anyway; anyone else
/// gets EBUSY, which is the answer too).
#[cfg(target_os = "linux")]
fn exclusive(path: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(16) => return true, // EBUSY
        Err(e) => panic!("{}: {e}", path.display()),
    };
    const TIOCGEXCL: rustix::ioctl::Opcode = 0x8004_5440;
    // SAFETY: TIOCGEXCL writes one int, which the getter provides.
    let r = unsafe {
        rustix::ioctl::ioctl(
            &f,
            rustix::ioctl::Getter::<TIOCGEXCL, std::ffi::c_int>::new(),
        )
    };
    r.is_ok_and(|v| v != 0)
}

/// A tool killed while it held the board's port exclusively (`picow flash`
/// or `picow monitor` under SIGKILL) does not lock everyone else out: the
/// board clears the exclusive mode nobody holds any more, as a real USB
/// port forgets it on the last close, and the next tool opens the port.
#[cfg(target_os = "linux")]
#[test]
fn a_port_held_by_a_killed_tool_opens_again() {
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("board");
    let mut sim = common::Kill(
        picow()
            .args(["sim", "--link"])
            .arg(&link)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !link.exists() {
        assert!(Instant::now() < deadline, "picow sim did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pts = std::fs::canonicalize(&link).unwrap();
    // Anyone may open it (as a user's own board would be), so that a
    // second tool run by another user than root sees the lock.
    std::fs::set_permissions(&pts, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let mut held = common::Kill(
        picow()
            .args(["monitor", "--non-interactive", "--port"])
            .arg(&link)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut err = BufReader::new(held.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("monitoring"), "{line}");
    assert!(exclusive(&pts), "the monitor holds the port exclusively");
    // A live holder keeps it: another monitor is told it is busy.
    let out = picow()
        .args(["monitor", "--non-interactive", "--port"])
        .arg(&link)
        .as_ordinary_user()
        .output()
        .unwrap();
    assert!(
        text_of(&out.stderr).contains("is busy"),
        "{}",
        text_of(&out.stderr)
    );
    held.kill().unwrap();
    held.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while exclusive(&pts) {
        assert!(
            Instant::now() < deadline,
            "the killed monitor's exclusive mode is never cleared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The next tool, run by an ordinary user, opens it.
    let mut next = picow()
        .args(["monitor", "--non-interactive", "--port"])
        .arg(&link)
        .as_ordinary_user()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(next.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let _ = next.kill();
    let _ = next.wait();
    assert!(line.contains("monitoring"), "{line}");
    let _ = sim.kill();
}

/// Root opens a tty in exclusive mode anyway: the second tool runs as
/// `nobody` then.
#[cfg(target_os = "linux")]
trait AsOrdinaryUser {
    fn as_ordinary_user(&mut self) -> &mut Self;
}

#[cfg(target_os = "linux")]
impl AsOrdinaryUser for Command {
    fn as_ordinary_user(&mut self) -> &mut Self {
        if rustix::process::geteuid().is_root() {
            self.uid(65534).gid(65534);
        }
        self
    }
}

#[cfg(target_os = "linux")]
fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
