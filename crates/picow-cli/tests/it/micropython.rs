//! The MicroPython path (issue 15): boards that keep the vendor's
//! MicroPython, with `picow serve` as the PC side of the tutorial.
//!
//! `fixtures/walnutpi_socket_tutorial.py` is the reference client of the
//! WalnutPi PicoW tutorial "Socket通讯" (its "参考代码", author WalnutPi),
//! quoted verbatim. It runs unchanged under CPython with small stand-ins for
//! MicroPython's `network`, `machine`, `usocket` and `time.sleep_ms` (below):
//! Wi-Fi "joins" after a few polls, and every address the code connects to
//! (its hard-coded `192.168.2.118:10000`) is replaced by the test's
//! `picow serve` on 127.0.0.1, so nothing but loopback is ever contacted.
//! The improved client of docs/micropython.md runs the same way, taken from
//! the page itself. Needs `python3`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// MicroPython's modules for CPython, then the client given as argv[1].
const SHIMS: &str = r#"
import os, socket, sys, time, types

TARGET = ("127.0.0.1", int(os.environ["PICOW_TEST_PORT"]))
time.sleep_ms = lambda ms: time.sleep(ms / 1000)

class WLAN:
    def __init__(self, mode): self.polls = 0
    def active(self, on=None): return True
    def connect(self, ssid, password): print("shim: joining", ssid, flush=True)
    def isconnected(self):
        self.polls += 1
        return self.polls > 2
    def ifconfig(self): return ("10.42.0.2", "255.255.255.0", "10.42.0.1", "10.42.0.1")

class Pin:
    OUT, IN = 1, 0
    def __init__(self, n, mode=None): self.n, self.v = n, 0
    def value(self, v=None):
        if v is None: return self.v
        self.v = v

class Sock:
    def __init__(self, *args): self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    def connect(self, addr):
        # Never the address in the code: the test's serve on loopback.
        print("shim: connect", addr, "->", TARGET, flush=True)
        self.s.connect(TARGET)
    def send(self, data):   # MicroPython sends str as UTF-8
        return self.s.send(data.encode() if isinstance(data, str) else data)
    def recv(self, n): return self.s.recv(n)
    def settimeout(self, t): self.s.settimeout(t)
    def close(self): self.s.close()

network = types.ModuleType("network"); network.STA_IF = 0; network.WLAN = WLAN
machine = types.ModuleType("machine"); machine.Pin = Pin; machine.Timer = object
usocket = types.ModuleType("usocket"); usocket.socket = Sock
usocket.getaddrinfo = lambda host, port, *a: [(2, 1, 0, "", (host, port))]
sys.modules.update(network=network, machine=machine, usocket=usocket)
sys.stdout.reconfigure(line_buffering=True)
path = sys.argv[1]
exec(compile(open(path, encoding="utf-8").read(), path, "exec"), {"__name__": "__main__"})
"#;

fn python3() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from("python3"))
}

/// The board: `client` under the shims, talking to `port`.
fn board(dir: &Path, client: &str, port: u16) -> common::Kill {
    let shims = dir.join("shims.py");
    std::fs::write(&shims, SHIMS).unwrap();
    let main = dir.join("main.py");
    std::fs::write(&main, client).unwrap();
    common::Kill(
        Command::new(python3().expect("python3 is needed for the MicroPython tests"))
            .arg(&shims)
            .arg(&main)
            .env("PICOW_TEST_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Waits for the child's end (killing it after `secs`); stdout and stderr.
fn finish(mut child: common::Kill, secs: u64) -> (Option<i32>, String, String) {
    use std::io::Read;
    let code = common::wait_exit(&mut child, secs);
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, out, err)
}

const SEND: &str = "https://www.walnutpi.com";

#[test]
fn the_tutorials_own_client_greets_and_echoes_picow_serve() {
    let dir = tempfile::tempdir().unwrap();
    let client = include_str!("fixtures/walnutpi_socket_tutorial.py");
    let mut serve = common::serve(&[
        "--send",
        SEND,
        "--expect",
        "Hello WalnutPi!",
        "--expect",
        &format!("I got:{SEND}"),
        "--timeout",
        "60s",
    ]);
    let b = board(dir.path(), client, serve.port);
    assert_eq!(
        common::wait_exit(&mut serve.child, 60),
        Some(0),
        "serve saw greeting and echo"
    );
    let mut lines = Vec::new();
    while let Ok(l) = serve.lines.recv_timeout(Duration::from_secs(5)) {
        lines.push(l);
    }
    let text = lines.join("\n");
    assert!(text.contains("#1 < Hello WalnutPi!"), "{text}");
    assert!(text.contains("#1 is a PicoW"), "{text}");
    // (TCP is a stream: the echo may arrive in the greeting's read.)
    assert!(text.contains(&format!("I got:{SEND}")), "{text}");
    // The board printed what it received as bytes, as the tutorial shows;
    // then, with the server gone, the tutorial's known defect: it keeps
    // sending `I got:` to the dead socket until that throws.
    let (code, out, err) = finish(b, 20);
    assert!(out.contains("network information:"), "{out}");
    assert!(out.contains(&format!("b'{SEND}'")), "{out}");
    assert!(
        code.is_some_and(|c| c != 0)
            && (err.contains("BrokenPipeError") || err.contains("ConnectionResetError")),
        "{code:?}\n{out}\n{err}"
    );
}

/// The client of docs/micropython.md: the block after the comment that
/// names this test.
fn improved_client() -> String {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/micropython.md"),
    )
    .unwrap();
    let after = page
        .split("micropython::the_improved_client_reconnects")
        .nth(1)
        .expect("docs/micropython.md names this test before its client");
    after
        .split("```python\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a python block")
        .to_owned()
}

#[test]
fn the_improved_client_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let client = improved_client();
    assert!(client.contains("getaddrinfo") && client.contains("settimeout"));
    let mut first = common::serve(&[
        "--send",
        SEND,
        "--expect",
        "Hello WalnutPi!",
        "--expect",
        &format!("I got:{SEND}"),
        "--timeout",
        "60s",
    ]);
    let port = first.port;
    let b = board(dir.path(), &client, port);
    assert_eq!(common::wait_exit(&mut first.child, 60), Some(0));
    // serve is gone: the board notices (b'') and comes back to a new one on
    // the same port.
    let mut again = common::picow()
        .args(["serve", "--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--expect", "Hello WalnutPi!", "--timeout", "60s"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map(common::Kill)
        .unwrap();
    assert_eq!(
        common::wait_exit(&mut again, 60),
        Some(0),
        "the board reconnected"
    );
    let (_, out, err) = finish(b, 1);
    assert!(out.contains("server closed"), "{out}\n{err}");
    assert!(out.matches("shim: connect").count() >= 2, "{out}\n{err}");
    assert!(out.contains(&format!("b'{SEND}'")), "{out}");
}
