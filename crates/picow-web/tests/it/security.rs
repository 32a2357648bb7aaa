//! Who may use the page: Origin, Host, the token, the headers; and that a
//! refused request changes nothing. All traffic goes to 127.0.0.1, also
//! when the page is bound to 0.0.0.0.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{until, Board, Serve, Setup};

/// A raw HTTP/1.1 GET: (status, headers in lower case, body).
pub async fn get(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("the server answers")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// A WebSocket to the page's server, with the given extra headers.
pub async fn ws(port: u16, path: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    let mut req = format!("ws://127.0.0.1:{port}{path}")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .unwrap();
    match tokio_tungstenite::client_async(req, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("WebSocket handshake: {e}"),
    }
}

/// The JSON lines of the next text message.
pub async fn next_lines(ws: &mut Ws) -> Option<Vec<serde_json::Value>> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .ok()??
        {
            Ok(Message::Text(t)) => {
                return Some(
                    t.lines()
                        .filter(|l| !l.is_empty())
                        .map(|l| serde_json::from_str(l).unwrap())
                        .collect(),
                )
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Reads messages until a line with `event` arrives; returns it.
pub async fn wait_event(ws: &mut Ws, event: &str) -> serde_json::Value {
    loop {
        let lines = next_lines(ws)
            .await
            .unwrap_or_else(|| panic!("closed before `{event}`"));
        if let Some(l) = lines.into_iter().find(|l| l["event"] == event) {
            return l;
        }
    }
}

pub async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into())).await.unwrap();
}

#[tokio::test]
async fn a_websocket_from_another_site_is_refused() {
    let serve = Serve::start(Setup::default()).await;
    let p = serve.web_port;
    let own = format!("http://127.0.0.1:{p}");
    for origin in [
        "http://evil.example",
        "https://127.0.0.1",
        "null",
        &format!("http://127.0.0.1:{}", p.wrapping_add(1)),
        &format!("http://localhost:{p}"),
    ] {
        assert_eq!(
            ws(p, "/ws", &[("Origin", origin)]).await.err(),
            Some(403),
            "{origin}"
        );
    }
    // The page itself, and programs that send no Origin, may connect.
    let mut own_ws = ws(p, "/ws", &[("Origin", &own)]).await.unwrap();
    assert_eq!(wait_event(&mut own_ws, "web.hello").await["version"], 1);
    let mut tool = ws(p, "/ws", &[]).await.unwrap();
    wait_event(&mut tool, "web.ready").await;
    // DNS rebinding: a foreign Host on the loopback page is refused, for
    // the page and the WebSocket alike.
    let (status, h, body) = get(p, "/", &[("Host", "evil.example:10080")]).await;
    assert_eq!(status, 403);
    assert!(body.contains("loopback"), "{body}");
    assert!(header(&h, "content-security-policy").is_some());
    assert_eq!(
        ws(
            p,
            "/ws",
            &[("Host", "evil.example"), ("Origin", "http://evil.example")]
        )
        .await
        .err(),
        Some(403)
    );
    serve.stop().await;
}

#[tokio::test]
async fn every_answer_carries_a_strict_content_security_policy() {
    let serve = Serve::start(Setup::default()).await;
    let p = serve.web_port;
    for path in [
        "/",
        "/app.js",
        "/i18n/zh-CN.json",
        "/vendor/uplot/LICENSE",
        "/nope",
        "/../Cargo.toml",
    ] {
        let (status, h, _) = get(p, path, &[]).await;
        let csp = header(&h, "content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(
            header(&h, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"), "{path}");
        let expect = if path.starts_with("/nope") || path.contains("..") {
            404
        } else {
            200
        };
        assert_eq!(status, expect, "{path}");
    }
    let (_, h, _) = get(p, "/app.js", &[]).await;
    assert_eq!(
        header(&h, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    serve.stop().await;
}

#[tokio::test]
async fn on_a_non_loopback_address_the_token_is_required_everywhere() {
    // Bound to every address, so a token is needed; the test itself only
    // talks to 127.0.0.1.
    let serve = Serve::start(Setup {
        web: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        ..Setup::default()
    })
    .await;
    let board = Board::connect(serve.port, "desk").await;
    let token = serve.token.clone().expect("0.0.0.0 needs a token");
    assert_eq!(token.len(), 32);
    let p = serve.web_port;

    // Without the token: 401; with a wrong one: 403; and nothing of the
    // page is given away.
    for path in ["/", "/app.js", "/i18n/en.json", "/ws"] {
        let (status, _, body) = get(p, path, &[]).await;
        assert_eq!(status, 401, "{path}");
        assert!(body.contains("token"), "{path}: {body}");
        assert!(!body.contains("<html"), "{path}");
        let (status, _, _) = get(
            p,
            &format!("{path}?token=0123456789abcdef0123456789abcdef"),
            &[],
        )
        .await;
        assert_eq!(status, 403, "{path}");
        let (status, _, _) = get(p, path, &[("Cookie", "picow_token=wrong")]).await;
        assert_eq!(status, 403, "{path}");
    }
    assert_eq!(ws(p, "/ws", &[]).await.err(), Some(401));
    assert_eq!(ws(p, "/ws?token=nope", &[]).await.err(), Some(403));

    // With the token: the page, a cookie for its own requests, and the
    // token in the page for its messages.
    let (status, h, body) = get(p, &format!("/?token={token}"), &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("content=\"{token}\"")));
    let cookie = header(&h, "set-cookie").unwrap();
    assert!(
        cookie.starts_with(&format!("picow_token={token}")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (status, _, _) = get(p, "/app.js", &[("Cookie", &format!("picow_token={token}"))]).await;
    assert_eq!(status, 200);
    let (status, _, _) = get(
        p,
        "/app.js",
        &[("Authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(status, 200);

    // Every message is checked too: one without the token is refused,
    // the socket closed, and the board gets nothing.
    let mut w = ws(p, &format!("/ws?token={token}"), &[]).await.unwrap();
    wait_event(&mut w, "web.ready").await;
    send(
        &mut w,
        r#"{"cmd":"send","to":"all","data":{"text":"no token"}}"#,
    )
    .await;
    let err = wait_event(&mut w, "web.error").await;
    assert_eq!(err["code"], "token");
    assert!(
        next_lines(&mut w).await.is_none(),
        "the socket is closed after a bad token"
    );
    let mut w = ws(p, &format!("/ws?token={token}"), &[]).await.unwrap();
    wait_event(&mut w, "web.ready").await;
    send(&mut w, r#"{"token":"wrong","cmd":"disconnect","id":1}"#).await;
    assert_eq!(wait_event(&mut w, "web.error").await["code"], "token");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        board.received(),
        b"",
        "a refused message must change nothing"
    );
    assert!(!serve.json().iter().any(|e| e["event"] == "disconnected"));

    // With it, the same message goes through.
    let mut w = ws(p, "/ws", &[("Cookie", &format!("picow_token={token}"))])
        .await
        .unwrap();
    wait_event(&mut w, "web.ready").await;
    send(
        &mut w,
        &format!(r#"{{"token":"{token}","cmd":"send","to":"all","data":{{"text":"with token"}}}}"#),
    )
    .await;
    until("the board gets the send", 10, || async {
        board.received() == b"with token"
    })
    .await;
    serve.stop().await;
}

#[tokio::test]
async fn a_page_that_goes_away_does_not_disturb_the_boards() {
    let serve = Serve::start(Setup::default()).await;
    let board = Board::connect(serve.port, "desk").await;
    let p = serve.web_port;
    for i in 0..20 {
        let mut w = ws(p, "/ws", &[]).await.unwrap();
        wait_event(&mut w, "web.ready").await;
        if i % 2 == 0 {
            // Gone without a close frame, in the middle of events.
            board.send(b"tick\n");
            drop(w);
        } else {
            let _ = w.close(None).await;
        }
    }
    // An auto-send started by a page goes on when the page closes.
    let mut w = ws(p, "/ws", &[]).await.unwrap();
    wait_event(&mut w, "web.ready").await;
    send(
        &mut w,
        r#"{"cmd":"auto","to":"all","every_ms":50,"data":{"text":"A"}}"#,
    )
    .await;
    assert_eq!(wait_event(&mut w, "web.auto").await["running"], true);
    drop(w);
    until("the auto-send goes on without the page", 10, || async {
        board.received().iter().filter(|&&b| b == b'A').count() >= 5
    })
    .await;
    // A page opened later sees it running, and can stop it.
    let mut w = ws(p, "/ws", &[]).await.unwrap();
    let auto = wait_event(&mut w, "web.auto").await;
    assert_eq!(auto["running"], true);
    assert_eq!(auto["every_ms"], 50);
    send(&mut w, r#"{"cmd":"auto_stop"}"#).await;
    assert_eq!(wait_event(&mut w, "web.auto").await["running"], false);
    let json = serve.json();
    assert!(
        !json.iter().any(|e| e["event"] == "disconnected"),
        "{json:?}"
    );
    assert!(!json.iter().any(|e| e["event"] == "error"), "{json:?}");
    serve.stop().await;
}
