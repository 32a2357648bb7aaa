//! Discovery between real hosts: network namespaces that the test makes
//! (one for the PC, one per board, joined by veth pairs and a bridge in the
//! PC's namespace, link-local addresses 169.254.77.0/24), with real
//! multicast between them and nothing on the machine's own interfaces.
//! `picow serve` runs in the PC's namespace, `picow sim --mdns` with the C3
//! firmware (flashed by `picow flash --server auto`) in a board's.
//!
//! Ignored in a plain `cargo test`: they need root (`ip netns`), the
//! CI-built firmware (`target/picow-fw/esp32c3/picow-fw.elf`) and a Python
//! with python-zeroconf; `cargo xtask ci` runs them after its firmware
//! build, with `PICOW_ZEROCONF_PYTHON` set to its venv's Python. Without
//! root each test says so and passes without testing anything.
//! Namespace and interface names carry the process id and a counter, and
//! are deleted when the test ends, also when it fails.
#![cfg(target_os = "linux")]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common;

use common::{lines, listening_port, picow, text, wait_exit, Kill};

const WIFI: &str = "lab:password1";
const PC_IP: &str = "169.254.77.1";

fn is_root() -> bool {
    // The effective user id, from procfs.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        text(&out.stderr)
    );
}

/// A PC and `boards` boards on one link-local LAN. Dropping it deletes
/// the namespaces (and with them the interfaces).
struct Lan {
    prefix: String,
    boards: usize,
}

impl Lan {
    /// The LAN, or `None` (with a message) when not root.
    fn new(boards: usize, test: &str) -> Option<Lan> {
        if !is_root() {
            eprintln!("{test}: skipped: network namespaces need root (CI runs as root)");
            return None;
        }
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // Interface names are at most 15 bytes: "pw" + pid + counter + "v9".
        let prefix = format!("pw{}{n}", std::process::id());
        let lan = Lan { prefix, boards };
        let pc = lan.ns_pc();
        ip(&["netns", "add", &pc]);
        let br = format!("{}br", lan.prefix);
        ip(&["-n", &pc, "link", "set", "lo", "up"]);
        ip(&["-n", &pc, "link", "add", &br, "type", "bridge"]);
        ip(&["-n", &pc, "addr", "add", &format!("{PC_IP}/24"), "dev", &br]);
        ip(&["-n", &pc, "link", "set", &br, "up"]);
        ip(&["-n", &pc, "route", "add", "224.0.0.0/4", "dev", &br]);
        for i in 0..boards {
            let ns = lan.ns_board(i);
            let (a, b) = (format!("{}v{i}", lan.prefix), format!("{}b{i}", lan.prefix));
            ip(&["netns", "add", &ns]);
            ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
            ip(&["link", "set", &a, "netns", &pc]);
            ip(&["link", "set", &b, "netns", &ns]);
            ip(&["-n", &pc, "link", "set", &a, "master", &br]);
            ip(&["-n", &pc, "link", "set", &a, "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            let addr = format!("{}/24", lan.board_ip(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &b]);
            ip(&["-n", &ns, "link", "set", &b, "up"]);
            ip(&["-n", &ns, "route", "add", "224.0.0.0/4", "dev", &b]);
        }
        Some(lan)
    }

    fn ns_pc(&self) -> String {
        format!("{}pc", self.prefix)
    }

    fn ns_board(&self, i: usize) -> String {
        format!("{}bd{i}", self.prefix)
    }

    fn board_ip(&self, i: usize) -> String {
        format!("169.254.77.{}", 10 + i)
    }

    /// Another address for the PC (a server that moves).
    fn add_pc_address(&self, addr: &str) {
        let br = format!("{}br", self.prefix);
        ip(&[
            "-n",
            &self.ns_pc(),
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            &br,
        ]);
    }

    /// `cmd` run inside namespace `ns`.
    fn exec(ns: &str, cmd: &Command) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(cmd.get_program());
        c.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    /// `picow ARGS` on the PC, advertising allowed.
    fn picow_pc<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Command {
        self.picow_in(&self.ns_pc(), args)
    }

    /// `picow ARGS` in namespace `ns`, advertising allowed.
    fn picow_in<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, ns: &str, args: I) -> Command {
        let mut p = picow();
        p.env_remove("PICOW_NO_ADVERTISE").args(args);
        Lan::exec(ns, &p)
    }

    /// `picow serve --json ARGS` on the PC, bound to `bind`; waits for its
    /// port (and, unless `--no-advertise`, for its advertisement).
    fn serve(&self, bind: &str, args: &[&str]) -> Serve {
        self.serve_in(&self.ns_pc(), bind, args)
    }

    /// [`serve`](Self::serve) in namespace `ns` (another computer).
    fn serve_in(&self, ns: &str, bind: &str, args: &[&str]) -> Serve {
        let mut c = self.picow_in(ns, ["--json", "serve", "--bind", bind, "--port", "0"]);
        c.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = Kill(c.spawn().expect("start picow serve"));
        let lines = lines(&mut child);
        let first = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("picow serve printed no first line");
        let listening_at = Instant::now();
        let port = listening_port(&first);
        let mut notice = None;
        if !args.contains(&"--no-advertise") {
            let deadline = Instant::now() + Duration::from_secs(20);
            while notice.is_none() {
                let line = lines
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .expect("serve said nothing about advertising");
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                if v["event"] == "notice" {
                    let m = v["message"].as_str().unwrap().to_string();
                    notice = Some((m, Instant::now()));
                }
            }
        }
        Serve {
            child,
            port,
            lines,
            notice: notice.as_ref().map(|(m, _)| m.clone()),
            notice_after: notice.map(|(_, at)| at - listening_at),
        }
    }

    /// A virtual C3 in board `i`'s namespace with multicast, flashed with
    /// the CI firmware and `flash_args` (`--server ...`, `--name ...`).
    fn board(&self, i: usize, flash_args: &[&str]) -> Board {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("board");
        let control = dir.path().join("board.control");
        let mut p = picow();
        p.args(["sim", "--chip", "esp32c3", "--flash-size", "4MB", "--mdns"])
            .args(["--wifi", WIFI])
            .args(["--mac", &format!("7c:df:a1:16:00:{:02x}", i + 1)])
            .arg("--flash")
            .arg(dir.path().join("flash.bin"))
            .arg("--link")
            .arg(&link)
            .arg("--control")
            .arg(&control);
        let mut c = Lan::exec(&self.ns_board(i), &p);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = Kill(c.spawn().expect("start picow sim"));
        let stderr = child.stderr.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(link.exists() && control.exists()) {
            assert!(Instant::now() < deadline, "picow sim did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = picow()
            .args(["flash", "--port", link.to_str().unwrap(), "--firmware"])
            .arg(firmware())
            .args(["--wifi", WIFI])
            .args(flash_args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        Board {
            child,
            _dir: dir,
            stderr,
            link,
            control,
        }
    }

    /// A Python with python-zeroconf, run in `ns` on `script`.
    fn zeroconf(&self, ns: &str, script: &str, args: &[&str]) -> Command {
        let mut c = Command::new(zeroconf_python());
        c.arg("-c").arg(script).args(args);
        Lan::exec(ns, &c)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns_pc()])
            .status();
        for i in 0..self.boards {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns_board(i)])
                .status();
        }
    }
}

struct Serve {
    child: Kill,
    port: u16,
    lines: mpsc::Receiver<String>,
    notice: Option<String>,
    /// From the first line (`listening`, with the port) to the notice
    /// about advertising.
    notice_after: Option<Duration>,
}

impl Serve {
    /// Waits for the event `name`; returns it and when it was seen.
    fn event(&self, name: &str, secs: u64) -> Option<(serde_json::Value, Instant)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()?;
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["event"] == name {
                return Some((v, Instant::now()));
            }
        }
    }
}

struct Board {
    child: Kill,
    _dir: tempfile::TempDir,
    stderr: std::process::ChildStderr,
    link: PathBuf,
    control: PathBuf,
}

impl Board {
    /// Its console, from now on: what the pty held from before (the first
    /// boot's lines) comes at once and is read until the board is quiet.
    fn console(&self) -> mpsc::Receiver<String> {
        let pty = std::fs::File::open(&self.link).expect("open the board's pty");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pty).lines() {
                let Ok(line) = line else { return };
                if tx.send(line.trim_end().to_string()).is_err() {
                    return;
                }
            }
        });
        while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}
        rx
    }

    /// Resets the board (`reset run` on its control socket).
    fn reset(&self) {
        let mut s = std::os::unix::net::UnixStream::connect(&self.control).unwrap();
        writeln!(s, "reset run").unwrap();
    }

    /// Still running, and nothing panicked.
    fn assert_alive(mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the virtual board exited"
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stderr, &mut err);
        assert!(!err.contains("panicked"), "{err}");
    }
}

fn firmware() -> PathBuf {
    let elf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/picow-fw/esp32c3/picow-fw.elf");
    assert!(
        elf.is_file(),
        "{} is missing: run `cargo xtask fw build --chip esp32c3 --release` first",
        elf.display()
    );
    elf
}

fn zeroconf_python() -> PathBuf {
    let p = std::env::var_os("PICOW_ZEROCONF_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/xtask/venv/bin/python")
        });
    assert!(
        p.is_file(),
        "no Python with python-zeroconf at {}: run the tests through `cargo xtask ci` \
         (it makes the venv), or set PICOW_ZEROCONF_PYTHON",
        p.display()
    );
    p
}

#[test]
#[ignore = "needs root, the CI firmware and python-zeroconf; cargo xtask ci runs it"]
fn a_board_flashed_with_server_auto_finds_serve_and_finds_it_again_where_it_moved() {
    let Some(lan) = Lan::new(1, "server_auto") else {
        return;
    };
    let mut first = lan.serve(
        PC_IP,
        &[
            "--name",
            "lab",
            "--expect",
            "Hello WalnutPi!",
            "--timeout",
            "60s",
        ],
    );
    let notice = first.notice.clone().unwrap();
    assert!(
        notice.contains("\"lab\" (_picow._tcp) at picow.local"),
        "{notice}"
    );
    // The first line, with the port that scripts read, did not wait for
    // the check that picow.local is free (1.5 s of listening).
    let after = first.notice_after.unwrap();
    assert!(
        after >= Duration::from_millis(1_200),
        "listening only {after:?} before the notice"
    );
    let board = lan.board(0, &["--server", "auto"]);
    let (picow, _) = first.event("picow", 60).expect("the board greeted serve");
    assert!(picow["id"].is_number());
    assert_eq!(wait_exit(&mut first.child, 10), Some(0));
    let gone = Instant::now();
    // The same server again, on another address and port.
    lan.add_pc_address("169.254.77.3");
    let second = lan.serve("169.254.77.3", &["--name", "lab", "--timeout", "60s"]);
    let (c, again) = second.event("connected", 30).expect("the board came back");
    assert!(
        c["peer"].as_str().unwrap().starts_with("169.254.77.10:"),
        "{c}"
    );
    let took = again - gone;
    assert!(
        took <= Duration::from_secs(10),
        "found again after {took:?}"
    );
    second.event("picow", 10).expect("and greeted it");
    assert_ne!(second.port, first.port);
    board.assert_alive();
}

#[test]
#[ignore = "needs root, the CI firmware and python-zeroconf; cargo xtask ci runs it"]
fn server_auto_name_connects_to_the_server_of_that_name_only() {
    let Some(lan) = Lan::new(1, "server_auto_name") else {
        return;
    };
    let mut a = lan.serve(
        PC_IP,
        &["--name", "a", "--clients", "1", "--timeout", "25s"],
    );
    assert!(
        a.notice.as_deref().unwrap().contains("at picow.local:"),
        "{:?}",
        a.notice
    );
    let mut b = lan.serve(
        PC_IP,
        &[
            "--name",
            "b",
            "--expect",
            "Hello WalnutPi!",
            "--timeout",
            "60s",
        ],
    );
    // picow.local is a's: b says so and takes picow-<host>.local.
    let nb = b.notice.clone().unwrap();
    assert!(nb.starts_with("picow.local is taken"), "{nb}");
    assert!(nb.contains("at picow-"), "{nb}");
    let board = lan.board(0, &["--server", "auto:b"]);
    assert_eq!(wait_exit(&mut b.child, 60), Some(0), "b saw no greeting");
    // a never saw a client: it times out (124).
    assert_eq!(wait_exit(&mut a.child, 40), Some(124));
    board.assert_alive();
}

/// Browses for `_picow._tcp` on the interface with address argv[1] and
/// prints the first instance resolved as JSON.
const ZC_BROWSE: &str = r#"
import json, sys, time
from zeroconf import Zeroconf, ServiceBrowser, ServiceStateChange
zc = Zeroconf(interfaces=[sys.argv[1]])
found = []
def on_change(zeroconf, service_type, name, state_change):
    if state_change is ServiceStateChange.Added:
        found.append(name)
ServiceBrowser(zc, "_picow._tcp.local.", handlers=[on_change])
deadline = time.time() + 20
while not found and time.time() < deadline:
    time.sleep(0.1)
info = zc.get_service_info("_picow._tcp.local.", found[0], timeout=5000) if found else None
print(json.dumps(None if info is None else {
    "name": info.name, "server": info.server, "port": info.port,
    "addresses": info.parsed_addresses(),
    "properties": {k.decode(): (v or b"").decode() for k, v in info.properties.items()},
}))
zc.close()
"#;

/// Registers instance argv[2] of `_picow._tcp` for port argv[3] on the
/// interface with address argv[1], says `registered`, and keeps it until
/// stdin closes.
const ZC_REGISTER: &str = r#"
import socket, sys
from zeroconf import Zeroconf, ServiceInfo
zc = Zeroconf(interfaces=[sys.argv[1]])
info = ServiceInfo("_picow._tcp.local.", sys.argv[2] + "._picow._tcp.local.",
    addresses=[socket.inet_aton(sys.argv[1])], port=int(sys.argv[3]),
    properties={"protocol": "1", "name": sys.argv[2]}, server="zc-host.local.")
zc.register_service(info)
print("registered", flush=True)
sys.stdin.read()
zc.unregister_service(info)
zc.close()
"#;

#[test]
#[ignore = "needs root, the CI firmware and python-zeroconf; cargo xtask ci runs it"]
fn python_zeroconf_resolves_serve_and_the_board_finds_what_python_zeroconf_registers() {
    let Some(lan) = Lan::new(1, "python_zeroconf") else {
        return;
    };
    // Serve's advertisement, as an implementation this project did not
    // write sees it from the board's side.
    let mut lab = lan.serve(
        PC_IP,
        &["--name", "lab", "--clients", "1", "--timeout", "30s"],
    );
    let out = lan
        .zeroconf(&lan.ns_board(0), ZC_BROWSE, &[&lan.board_ip(0)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "lab._picow._tcp.local.", "{v}");
    assert_eq!(v["server"], "picow.local.");
    assert_eq!(v["port"], lab.port);
    assert_eq!(v["addresses"], serde_json::json!([PC_IP]));
    assert_eq!(v["properties"]["protocol"], "1");
    assert_eq!(v["properties"]["name"], "lab");

    // An instance python-zeroconf registers, for a serve that does not
    // advertise itself: the board asked for it by name connects there.
    let mut quiet = lan.serve(
        PC_IP,
        &[
            "--no-advertise",
            "--expect",
            "Hello WalnutPi!",
            "--timeout",
            "60s",
        ],
    );
    let mut reg = lan.zeroconf(
        &lan.ns_pc(),
        ZC_REGISTER,
        &[PC_IP, "zc", &quiet.port.to_string()],
    );
    reg.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut reg = Kill(reg.spawn().unwrap());
    let said = lines(&mut reg)
        .recv_timeout(Duration::from_secs(20))
        .expect("python-zeroconf registered nothing");
    assert_eq!(said, "registered");
    let board = lan.board(0, &["--server", "auto:zc"]);
    assert_eq!(
        wait_exit(&mut quiet.child, 60),
        Some(0),
        "the board did not greet"
    );
    // The advertised "lab" was not asked for: no client (124).
    assert_eq!(wait_exit(&mut lab.child, 60), Some(124));
    drop(reg.stdin.take());
    board.assert_alive();
}

#[test]
#[ignore = "needs root, the CI firmware and python-zeroconf; cargo xtask ci runs it"]
fn probe_net_lists_the_virtual_boards_on_the_lan() {
    let Some(lan) = Lan::new(2, "probe_net") else {
        return;
    };
    let boards: Vec<Board> = ["desk-a", "desk-b"]
        .iter()
        .enumerate()
        .map(|(i, name)| lan.board(i, &["--server", "auto", "--name", name]))
        .collect();
    // Give them time to join their Wi-Fi.
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let out = lan
            .picow_pc(["--json", "probe", "--net", "--wait", "3s"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if v.as_array().unwrap().len() == 2 || Instant::now() > deadline {
            break v;
        }
    };
    let got: Vec<(String, String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                b["addresses"][0].as_str().unwrap_or("").to_string(),
                b["chip"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("desk-a".into(), lan.board_ip(0), "esp32c3".into()),
            ("desk-b".into(), lan.board_ip(1), "esp32c3".into())
        ],
        "{listed}"
    );
    assert_eq!(listed[0]["host"], "desk-a.local");
    assert_eq!(listed[1]["mac"], "7c:df:a1:16:00:02");
    // The same as a person reads it.
    let out = lan
        .picow_pc(["probe", "--net", "--wait", "2s"])
        .output()
        .unwrap();
    let s = text(&out.stdout);
    assert!(
        s.contains(&format!(
            "desk-a  {}  desk-a.local  picow-fw",
            lan.board_ip(0)
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "desk-b  {}  desk-b.local  picow-fw",
            lan.board_ip(1)
        )),
        "{s}"
    );
    for b in boards {
        b.assert_alive();
    }
}

/// Sends argv[2] datagrams to argv[1]:5353 and to the group from port
/// 5353: malformed, truncated, oversized, looping and random ones.
const HOSTILE: &str = r#"
import random, socket, struct, sys
random.seed(16)
board, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("0.0.0.0", 5353))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
crafted = [
    b"", b"\x00" * 5,
    bytes([0, 0, 0x84, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]),
    bytes([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]),
    bytes([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 9, 0, 2, 0xc0, 12]),
    b"\xab" * 1400,
]
for i in range(n):
    p = crafted[i] if i < len(crafted) else bytes(random.getrandbits(8) for _ in range(random.randrange(0, 1400)))
    for dest in ((board, 5353), ("224.0.0.251", 5353)):
        try:
            s.sendto(p, dest)
        except OSError:
            pass
"#;

#[test]
#[ignore = "needs root, the CI firmware and python-zeroconf; cargo xtask ci runs it"]
fn thousands_of_random_datagrams_at_the_boards_port_change_nothing() {
    let Some(lan) = Lan::new(1, "hostile") else {
        return;
    };
    let board = lan.board(0, &["--server", "auto", "--name", "sturdy"]);
    let probe = || {
        let out = lan
            .picow_pc(["--json", "probe", "--net", "--wait", "3s"])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe().as_array().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the board never answered");
    }
    let out = Lan::exec(
        &lan.ns_pc(),
        Command::new("python3").args(["-c", HOSTILE, &lan.board_ip(0), "3000"]),
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // It still answers, at once, and serve still gets its greeting.
    let v = probe();
    assert_eq!(v[0]["name"], "sturdy", "{v}");
    let mut s = lan.serve(PC_IP, &["--expect", "Hello WalnutPi!", "--timeout", "60s"]);
    assert_eq!(wait_exit(&mut s.child, 60), Some(0));
    let _ = std::io::stdout().flush();
    board.assert_alive();
}

/// Updates over Wi-Fi by board name (issue 17): `picow flash --ota NAME`
/// finds the board by DNS-SD at the port it advertises, updates it, and
/// the board comes back from its other slot; a name nobody answers for is
/// refused with nothing sent.
#[test]
#[ignore = "needs root, the CI firmware and python-zeroconf; cargo xtask ci runs it"]
fn flash_ota_finds_the_board_by_its_name() {
    let Some(lan) = Lan::new(1, "flash_ota_name") else {
        return;
    };
    const PASSWORD: &str = "lan-ota-pass-1";
    let board = lan.board(
        0,
        &[
            "--server",
            "auto",
            "--name",
            "desk-ota",
            "--ota-password",
            PASSWORD,
        ],
    );
    let update = |name: &str| {
        lan.picow_pc(["--json", "flash", "--ota", name, "--force", "--firmware"])
            .arg(firmware())
            .args(["--ota-password", PASSWORD])
            .output()
            .unwrap()
    };
    // Give it time to join its Wi-Fi.
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = update("desk-ota");
        if out.status.code() == Some(0) || Instant::now() > deadline {
            break out;
        }
    };
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let found = events.iter().find(|e| e["event"] == "found").unwrap();
    assert_eq!(
        found["addrs"],
        serde_json::json!([format!("{}:3232", lan.board_ip(0))])
    );
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done", "{done}");
    assert_eq!(done["outcome"], "updated", "{done}");
    assert_eq!(done["after"]["slot"], 1, "{done}");
    assert!(
        !text(&out.stdout).contains(PASSWORD) && !text(&out.stderr).contains(PASSWORD),
        "the password never appears"
    );
    // probe --net shows where it takes updates.
    let out = lan
        .picow_pc(["--json", "probe", "--net", "--wait", "2s"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["ota_port"], 3232, "{v}");
    // NAME.local finds it the same way (no system resolver in the test).
    let out = update("desk-ota.local");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"slot\":0"));
    // A name nobody answers for: exit 1, nothing sent.
    let t0 = Instant::now();
    let out = update("no-such-board");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("no board of that name answered") && err.contains("Nothing was sent"),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(15));
    board.assert_alive();
}

/// The first console line of event `name` within `secs`.
fn console_event(console: &mpsc::Receiver<String>, name: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let prefix = format!("@picow {name} ");
    loop {
        let line = console
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no {name} line within {secs} s"));
        if line.starts_with(&prefix) {
            return line;
        }
    }
}

#[test]
#[ignore = "needs root, the CI firmware and python-zeroconf; cargo xtask ci runs it"]
fn two_boards_with_one_name_probe_for_it_and_the_second_answers_as_name_2() {
    let Some(lan) = Lan::new(2, "twins") else {
        return;
    };
    let twin = |i| lan.board(i, &["--server", "auto", "--name", "twin"]);
    let listed = |want: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = lan
                .picow_pc(["--json", "probe", "--net", "--wait", "3s"])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let got: Vec<(String, String, String)> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    let s = |k: &str| b[k].as_str().unwrap_or("").to_string();
                    (
                        s("name"),
                        s("host"),
                        b["addresses"][0].as_str().unwrap_or("").into(),
                    )
                })
                .collect();
            if got.len() >= want || Instant::now() > deadline {
                return got;
            }
        }
    };
    // One after the other: the second finds "twin" taken by the first.
    let mut boards = vec![twin(0)];
    assert_eq!(
        listed(1),
        [(
            "twin".to_string(),
            "twin.local".to_string(),
            lan.board_ip(0)
        )]
    );
    boards.push(twin(1));
    assert_eq!(
        listed(2),
        [
            ("twin".into(), "twin.local".into(), lan.board_ip(0)),
            ("twin-2".into(), "twin-2.local".into(), lan.board_ip(1)),
        ]
    );
    // Both boot again at the same moment: they probe at once, the tie is
    // broken (RFC 6762 §8.2) and again one of them is twin-2, as its
    // console says.
    let consoles: Vec<_> = boards.iter().map(Board::console).collect();
    for b in &boards {
        b.reset();
    }
    for c in &consoles {
        console_event(c, "boot", 30);
    }
    let mut ups: Vec<(String, String)> = consoles
        .iter()
        .enumerate()
        .map(|(i, c)| (console_event(c, "mdns-up", 30), lan.board_ip(i)))
        .collect();
    // The board that kept the name first.
    ups.sort_by_key(|(line, _)| line.contains(" taken="));
    let (winner, loser) = (&ups[0], &ups[1]);
    assert_eq!(
        winner.0,
        r#"@picow mdns-up host="twin.local" instance="twin""#
    );
    assert_eq!(
        loser.0,
        r#"@picow mdns-up host="twin-2.local" instance="twin-2" taken="twin""#
    );
    let mut want = vec![
        (
            "twin".to_string(),
            "twin.local".to_string(),
            winner.1.clone(),
        ),
        ("twin-2".into(), "twin-2.local".into(), loser.1.clone()),
    ];
    want.sort();
    assert_eq!(listed(2), want);
    // As a person reads it.
    let out = lan
        .picow_pc(["probe", "--net", "--wait", "2s"])
        .output()
        .unwrap();
    let s = text(&out.stdout);
    assert!(
        s.contains(&format!("twin-2  {}  twin-2.local  picow-fw", loser.1)),
        "{s}"
    );
    for b in boards {
        b.assert_alive();
    }
}
