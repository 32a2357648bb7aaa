//! Thousands of random, malformed and oversized WebSocket messages and
//! frames: each gets an error (or closes only its own socket), and the
//! server and the boards go on.

use std::net::Ipv4Addr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::security::{next_lines, send, wait_event, ws};
use crate::support::{until, Board, Serve, Setup};

/// xorshift64*: reproducible from the seed printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Up to `max - 1` random bytes.
    fn junk(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max) as usize;
        self.bytes(n)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn seed() -> u64 {
    let s = std::env::var("PICOW_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    eprintln!("fuzz seed {s} (PICOW_FUZZ_SEED={s} repeats this run)");
    s
}

/// A JSON value of random shape.
fn value(r: &mut Rng, depth: u32) -> serde_json::Value {
    use serde_json::Value;
    match r.below(if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(r.below(2) == 0),
        2 => Value::from(r.next() as i64 >> r.below(64)),
        3 => Value::from(f64::from(r.below(1000) as u32) / 7.0),
        4 => Value::String(String::from_utf8_lossy(&r.junk(12)).into_owned()),
        5 => Value::Array((0..r.below(4)).map(|_| value(r, depth + 1)).collect()),
        _ => Value::Object(
            (0..r.below(4))
                .map(|_| {
                    (
                        r.pick(&["cmd", "to", "data", "text", "hex", "id", "x"])
                            .to_owned(),
                        value(r, depth + 1),
                    )
                })
                .collect(),
        ),
    }
}

/// A message that looks like a command but is wrong somewhere, or random.
fn message(r: &mut Rng) -> (String, bool) {
    // No `disconnect` or `auto` with random fields: a lucky draw could be a
    // valid command that closes the board or sends to it forever.
    const CMDS: &[&str] = &[
        "send",
        "auto_stop",
        "encoding",
        "quit",
        "",
        "SEND",
        "disconnect_all",
    ];
    match r.below(6) {
        // Not JSON at all.
        0 => {
            let mut s = String::from_utf8_lossy(&r.junk(200)).into_owned();
            s.insert(0, '\u{1}');
            (s, true)
        }
        // JSON, random shape.
        1 => (value(r, 0).to_string(), false),
        // A command with random fields.
        2 => {
            let mut obj = serde_json::Map::new();
            obj.insert("cmd".into(), r.pick(CMDS).into());
            for _ in 0..r.below(4) {
                obj.insert(
                    r.pick(&["to", "data", "id", "every_ms", "name", "token"])
                        .into(),
                    value(r, 1),
                );
            }
            (serde_json::Value::Object(obj).to_string(), false)
        }
        // A send to nobody, or with a bad payload.
        3 => {
            let hex: String = String::from_utf8_lossy(&r.junk(20)).into_owned();
            (
                serde_json::json!({"cmd": "send", "to": 9999, "data": {"hex": hex}}).to_string(),
                false,
            )
        }
        4 => {
            let text: String = String::from_utf8_lossy(&r.junk(30)).into_owned();
            (
                serde_json::json!({"cmd": "send", "to": "all", "data": {"text": format!("\\q{text}"), "escapes": true}})
                    .to_string(),
                false,
            )
        }
        // Truncated JSON.
        _ => {
            let s = serde_json::json!({"cmd": "disconnect", "id": r.below(5)}).to_string();
            let cut = 1 + r.below(s.len() as u64 - 1) as usize;
            (s[..cut].to_owned(), true)
        }
    }
}

/// serve with the page, and board #1 that has greeted.
async fn serve_with_board() -> (Serve, Board) {
    let serve = Serve::start(Setup::default()).await;
    let board = Board::connect(serve.port, "desk").await;
    until("the board is connected", 10, || async {
        serve.json().iter().any(|e| e["event"] == "picow")
    })
    .await;
    (serve, board)
}

/// The server answers and a board still echoes through it.
async fn still_serving(serve: &Serve, board: &Board, probe: &str) {
    let mut w = ws(serve.web_port, "/ws", &[])
        .await
        .expect("the server still upgrades");
    wait_event(&mut w, "web.ready").await;
    let before = board.received().len();
    send(
        &mut w,
        &serde_json::json!({"cmd": "send", "to": 1, "data": {"text": probe}}).to_string(),
    )
    .await;
    until("the probe reaches the board", 10, || async {
        board.received()[before..]
            .windows(probe.len())
            .any(|w| w == probe.as_bytes())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_malformed_messages_get_errors_and_the_server_goes_on() {
    let (serve, board) = serve_with_board().await;
    let mut r = Rng(seed());
    let mut w = ws(serve.web_port, "/ws", &[]).await.unwrap();
    wait_event(&mut w, "web.ready").await;
    const N: usize = 3000;
    let mut garbage = 0;
    let (mut sink, mut stream) = w.split();
    let reader = tokio::spawn(async move {
        let mut bad_json = 0usize;
        let mut errors = 0usize;
        while let Ok(Some(Ok(msg))) =
            tokio::time::timeout(Duration::from_secs(5), stream.next()).await
        {
            if let Message::Text(t) = msg {
                for l in t.lines().filter(|l| !l.is_empty()) {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    if v["event"] == "web.error" {
                        errors += 1;
                        if v["code"] == "bad_json" {
                            bad_json += 1;
                        }
                    }
                }
            }
        }
        (bad_json, errors)
    });
    for _ in 0..N {
        let (m, is_garbage) = message(&mut r);
        garbage += usize::from(is_garbage);
        if r.below(10) == 0 {
            sink.send(Message::Binary(r.junk(64).into())).await.unwrap();
        }
        sink.send(Message::Text(m.into())).await.unwrap();
    }
    let (bad_json, errors) = reader.await.unwrap();
    assert!(
        bad_json >= garbage,
        "{garbage} messages were not JSON, {bad_json} bad_json errors"
    );
    assert!(errors >= N / 2, "only {errors} errors for {N} messages");
    still_serving(&serve, &board, "after-random").await;
    assert!(
        !serve.json().iter().any(|e| e["event"] == "disconnected"),
        "no board may be disconnected by the page's garbage"
    );
    serve.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_closes_only_its_socket() {
    let (serve, board) = serve_with_board().await;
    let mut other = ws(serve.web_port, "/ws", &[]).await.unwrap();
    wait_event(&mut other, "web.ready").await;
    for size in [picow_web::server::MAX_MESSAGE + 1, 4 << 20] {
        let mut w = ws(serve.web_port, "/ws", &[]).await.unwrap();
        wait_event(&mut w, "web.ready").await;
        let big = format!(
            r#"{{"cmd":"send","to":"all","data":{{"text":"{}"}}}}"#,
            "x".repeat(size)
        );
        let _ = w.send(Message::Text(big.into())).await;
        let mut code = None;
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(10), w.next()).await {
            match msg {
                Ok(Message::Close(Some(f))) => {
                    code = Some(f.code);
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        assert_eq!(code, Some(CloseCode::Size), "{size} bytes");
    }
    assert_eq!(
        board.received(),
        b"",
        "nothing of the oversized sends reached the board"
    );
    // The other page is still served.
    board.send(b"still\n");
    let mut seen = false;
    for _ in 0..20 {
        let Some(lines) = next_lines(&mut other).await else {
            break;
        };
        if lines
            .iter()
            .any(|l| l["event"] == "data" && l["text"] == "still\n")
        {
            seen = true;
            break;
        }
    }
    assert!(seen, "the other page stopped getting events");
    still_serving(&serve, &board, "after-big").await;
    serve.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_frames_close_only_their_connection() {
    let (serve, board) = serve_with_board().await;
    let mut r = Rng(seed());
    let port = serve.web_port;
    for i in 0..400 {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let req = format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        // The 101 answer, then the snapshot may follow.
        let mut head = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut head))
            .await
            .expect("the upgrade is answered")
            .unwrap();
        assert!(
            head[..n].starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head[..n])
        );
        // Random bytes where frames should be; half the time with a valid
        // masked frame header in front, claiming a random length.
        let mut junk = Vec::new();
        if i % 2 == 0 {
            junk.push(0x80 | (r.below(16) as u8));
            junk.push(0x80 | (r.below(128) as u8));
            junk.extend_from_slice(&r.bytes(4));
        }
        junk.push(r.next() as u8);
        junk.extend(r.junk(300));
        let _ = s.write_all(&junk).await;
        let _ = s.shutdown().await;
        // The server closes this connection, soon.
        let mut sink = Vec::new();
        let done = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut sink)).await;
        assert!(
            done.is_ok(),
            "connection {i} was not closed after broken frames"
        );
    }
    still_serving(&serve, &board, "after-frames").await;
    serve.stop().await;
}
