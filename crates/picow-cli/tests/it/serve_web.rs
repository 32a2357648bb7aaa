//! `picow serve --web` as a process: the page's address is printed once,
//! the other outputs (`--json`, `--log`, `--expect`) still work, the token
//! guards every other address, and bad values exit 2. Loopback traffic
//! only; every wait is bounded. (The page itself is tested in a browser in
//! picow-web's tests.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use crate::common::{lines, listening_port, picow, text, wait_exit, Kill};

fn next(rx: &Receiver<String>, what: &str) -> String {
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no line for {what}"))
}

/// Lines until one contains `needle`.
fn until_line(rx: &Receiver<String>, needle: &str) -> String {
    loop {
        let l = next(rx, needle);
        if l.contains(needle) {
            return l;
        }
    }
}

/// `http://127.0.0.1:PORT/...` out of a line.
fn url_in(line: &str) -> String {
    let start = line.find("http://").expect("a URL in the line");
    line[start..]
        .split(|c: char| c.is_whitespace() || c == '"')
        .next()
        .unwrap()
        .to_owned()
}

fn port_of(url: &str) -> u16 {
    let rest = url.trim_start_matches("http://127.0.0.1:");
    rest.split('/').next().unwrap().parse().unwrap()
}

/// A GET on 127.0.0.1: the status and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// A minimal WebSocket client: the upgrade, then one text frame.
fn ws_send(port: u16, path: &str, message: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101", "the upgrade");
    let payload = message.as_bytes();
    assert!(payload.len() < 126);
    // FIN + text; masked with the key 0 (a client must mask; any key will do).
    let mut frame = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    s.write_all(&frame).unwrap();
    s
}

#[test]
fn the_page_runs_beside_json_log_and_expect() {
    let dir = std::env::temp_dir().join(format!("picow-serve-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log.jsonl");
    let mut child = Kill(
        picow()
            .args(["--json", "serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--web", "127.0.0.1:0", "--log"])
            .arg(&log)
            .args(["--expect", "I got:hi", "--timeout", "60s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let rx = lines(&mut child);
    let first = next(&rx, "listening");
    let port = listening_port(&first);
    let notice = until_line(&rx, "web page");
    let v: serde_json::Value = serde_json::from_str(&notice).unwrap();
    assert_eq!(v["event"], "notice");
    let url = url_in(v["message"].as_str().unwrap());
    assert!(!url.contains("token"), "loopback needs no token: {url}");
    let web = port_of(&url);
    let (status, body) = get(web, "/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("data-testid=\"send-input\""));

    // A board greets; the page sends to it; its echo meets --expect.
    let mut board = TcpStream::connect(("127.0.0.1", port)).unwrap();
    board.write_all(b"Hello WalnutPi! (desk)").unwrap();
    until_line(&rx, "\"picow\"");
    let _page = ws_send(
        web,
        "/ws",
        r#"{"cmd":"send","to":"all","data":{"text":"hi"}}"#,
    );
    board
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = [0u8; 2];
    board.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hi");
    board.write_all(b"I got:hi").unwrap();
    assert_eq!(wait_exit(&mut child, 30), Some(0), "--expect met: exit 0");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains(r#""dir":"out","len":2,"text":"hi""#), "{log}");
    assert!(log.contains(r#""text":"I got:hi""#), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn on_every_address_the_token_is_printed_once_and_required() {
    let mut child = Kill(
        picow()
            .args(["-vv", "serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--web", "0.0.0.0:0", "--plain"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let rx = lines(&mut child);
    listening_port(&next(&rx, "listening"));
    let line = until_line(&rx, "web page:");
    let url = url_in(&line);
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let token = url
        .split("?token=")
        .nth(1)
        .expect("the URL holds the token");
    assert_eq!(token.len(), 32, "{url}");
    let web = port_of(&url);
    assert_eq!(get(web, "/").0, 401);
    assert_eq!(get(web, "/app.js").0, 401);
    assert_eq!(get(web, "/?token=00000000000000000000000000000000").0, 403);
    assert_eq!(get(web, &format!("/?token={token}")).0, 200);
    until_line(&rx, "reachable from other computers");
    // Quit through stdin: the summary, exit 0.
    child.stdin.take().unwrap().write_all(b"/quit\n").unwrap();
    let mut rest = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(10)) {
        rest.push(l);
    }
    assert_eq!(wait_exit(&mut child, 20), Some(0));
    let all = rest.join("\n");
    assert!(all.contains("summary:"), "{all}");
    assert!(!all.contains(token), "the token is printed once: {all}");
    // The log on stderr (-vv) masks it.
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("token=****"),
        "the request log shows the masked token"
    );
    assert!(!err.contains(token), "the token leaked into the log: {err}");
}

#[test]
fn quiet_still_prints_the_address_on_stderr() {
    let mut child = Kill(
        picow()
            .args(["-q", "serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--web", "0.0.0.0:0", "--timeout", "2s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let err = stderr
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("web page:"))
        .expect("the address on stderr with -q");
    // Keep reading, as a terminal would.
    std::thread::spawn(move || stderr.for_each(drop));
    assert!(err.contains("?token="), "{err}");
    assert_eq!(wait_exit(&mut child, 20), Some(0));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "", "-q: nothing on stdout");
}

#[test]
fn bad_web_values_exit_2_naming_the_flag() {
    for args in [
        &["--web", "nonsense"][..],
        &["--web", "127.0.0.1:70000"],
        &["--open"],
    ] {
        let out = picow()
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--web"), "{args:?}: {err}");
    }
    // A page port in use: exit 2, what to do, and serve did not start.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().to_string();
    let out = picow()
        .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
        .args(["--web", &busy, "--timeout", "5s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--web") && err.contains("another port"),
        "{err}"
    );
    assert!(
        !text(&out.stdout).contains("listening"),
        "serve must not start"
    );
}

/// The first JSON line the server sends a page (`web.hello`).
fn ws_hello(port: u16) -> serde_json::Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "the upgrade");
    // One unmasked text frame from the server.
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert_eq!(h[0], 0x81, "a whole text frame");
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).unwrap();
            u64::from(u16::from_be_bytes(l))
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).unwrap();
            u64::from_be_bytes(l)
        }
        n => u64::from(n),
    };
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body).unwrap();
    let text = String::from_utf8(body).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// serve.toml's macros (the terminal view's) reach the page as its quick
/// sends; a serve.toml that does not parse is named, left as it is, and
/// the page has none.
#[test]
fn the_terminal_views_macros_reach_the_page() {
    let dir = std::env::temp_dir().join(format!("picow-serve-web-macros-{}", std::process::id()));
    let conf = dir.join("config").join("picow");
    std::fs::create_dir_all(&conf).unwrap();
    let file = conf.join("serve.toml");
    let start = |dir: &std::path::Path| {
        let mut child = Kill(
            picow()
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .args(["--json", "serve", "--bind", "127.0.0.1", "--port", "0"])
                .args(["--web", "127.0.0.1:0", "--no-advertise", "--timeout", "60s"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let rx = lines(&mut child);
        (child, rx)
    };
    std::fs::write(&file, "macros = [\"AT\\\\r\\\\n\", \"\", \"你好\"]\n").unwrap();
    let (child, rx) = start(&dir);
    let notice = until_line(&rx, "web page");
    let v: serde_json::Value = serde_json::from_str(&notice).unwrap();
    let hello = ws_hello(port_of(&url_in(v["message"].as_str().unwrap())));
    assert_eq!(hello["event"], "web.hello");
    assert_eq!(hello["macros"], serde_json::json!(["AT\\r\\n", "", "你好"]));
    drop(child);

    let broken = "macros = [\"unclosed\n";
    std::fs::write(&file, broken).unwrap();
    let (child, rx) = start(&dir);
    let said = until_line(&rx, "quick sends");
    assert!(said.contains("serve.toml"), "names the file: {said}");
    let notice = until_line(&rx, "web page");
    let v: serde_json::Value = serde_json::from_str(&notice).unwrap();
    let hello = ws_hello(port_of(&url_in(v["message"].as_str().unwrap())));
    assert_eq!(hello["macros"], serde_json::json!([]));
    drop(child);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        broken,
        "left as it is"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn open_starts_the_browser_with_the_page_address() {
    // `$BROWSER` is what the webbrowser crate runs on Linux: a script that
    // writes down what it was asked to open stands in for a browser.
    let dir = std::env::temp_dir().join(format!("picow-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opened = dir.join("opened");
    let browser = dir.join("browser");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = Kill(
        picow()
            .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--web", "127.0.0.1:0", "--open", "--timeout", "3s"])
            .env("BROWSER", &browser)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let rx = lines(&mut child);
    let url = url_in(&until_line(&rx, "web page:"));
    assert_eq!(wait_exit(&mut child, 20), Some(0));
    let got = std::fs::read_to_string(&opened).expect("--open ran $BROWSER");
    assert_eq!(got.trim(), url, "--open opens the address it printed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_address_lines_follow_the_language_and_json_stays_english() {
    let run = |json: bool| {
        let mut c = picow();
        if json {
            c.arg("--json");
        }
        let out = c
            .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--web", "127.0.0.1:0", "--timeout", "1s"])
            .env("LC_ALL", "zh_CN.UTF-8")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = run(false);
    assert!(
        plain
            .lines()
            .any(|l| l.starts_with("网页：http://127.0.0.1:")),
        "{plain}"
    );
    let json = run(true);
    let notice = json
        .lines()
        .find(|l| l.contains("\"notice\"") && l.contains("http://"))
        .unwrap_or_else(|| panic!("{json}"));
    assert!(
        notice.contains("\"message\":\"web page: http://127.0.0.1:"),
        "{notice}"
    );
}
