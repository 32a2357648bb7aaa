//! `picow serve` in-process: the tutorial's board, scripted expectations,
//! periodic sends, PicoW detection, encodings, limits and UDP. Everything
//! runs on 127.0.0.1 with real sockets; time is paused where it matters.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::{expecting, parse_log, Server};
use picow_serve::text::Charset;
use picow_serve::{Config, Control, Event, Kind, Listener, Outcome, Reason, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

/// Behaves like the tutorial's MicroPython client: connect, send the
/// greeting, then every 300 ms `recv(128)` and answer `I got:` + the text.
async fn tutorial_board(addr: std::net::SocketAddr) -> Vec<String> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"Hello WalnutPi!").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 128];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => n,
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if s.write_all(format!("I got:{text}").as_bytes())
            .await
            .is_err()
        {
            return got;
        }
        got.push(text);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn tutorial_board_greeting_and_echo_meet_the_expectations() {
    let cfg = Config {
        sends: vec![Bytes::from_static(b"ping")],
        timeout: Some(Duration::from_secs(20)),
        ..expecting(&["Hello WalnutPi!", "I got:ping"])
    };
    let mut server = Server::start(cfg).await;
    let board = tokio::spawn(tutorial_board(server.addr));
    let id = server
        .wait_for(|e| match e {
            Event::Picow { id, name: None } => Some(*id),
            _ => None,
        })
        .await;
    assert_eq!(id, 1);
    let log = server.log.clone();
    let (outcome, rest) = server.finish().await;
    assert_eq!(outcome, Outcome::Met);
    let expects: Vec<_> = rest
        .iter()
        .filter_map(|e| match e {
            Event::Expect { index, matched, .. } => Some((*index, matched.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        expects,
        vec![
            (0, "Hello WalnutPi!".to_owned()),
            (1, "I got:ping".to_owned())
        ]
    );
    assert!(matches!(rest.last(), Some(Event::Summary(s)) if s.clients == 1 && s.bytes_out == 4));
    // The board saw exactly the one send, and the server closed it.
    assert_eq!(board.await.unwrap(), vec!["ping".to_owned()]);
    let log = parse_log(&log.text());
    assert_eq!(log.bytes_in[&1], b"Hello WalnutPi!I got:ping");
    assert_eq!(log.bytes_out[&1], b"ping");
}

#[tokio::test(start_paused = true)]
async fn timeout_exits_with_what_was_seen() {
    let cfg = Config {
        timeout: Some(Duration::from_secs(20)),
        clients: Some(2),
        ..expecting(&["Hello WalnutPi!", "I got:pong"])
    };
    let mut server = Server::start(cfg).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    c.write_all(b"Hello WalnutPi! (desk)I got:ping")
        .await
        .unwrap();
    let name = server
        .wait_for(|e| match e {
            Event::Picow { name, .. } => Some(name.clone()),
            _ => None,
        })
        .await;
    assert_eq!(name.as_deref(), Some("desk"));
    let start = Instant::now();
    let (outcome, rest) = server.finish().await;
    assert_eq!(outcome, Outcome::TimedOut);
    assert!(start.elapsed() <= Duration::from_secs(20));
    let timeout = rest
        .iter()
        .find_map(|e| match e {
            Event::Timeout {
                unmet,
                clients_missing,
                seen,
            } => Some((unmet.clone(), *clients_missing, seen.clone())),
            _ => None,
        })
        .expect("a timeout event");
    assert_eq!(timeout.0, ["I got:pong"]);
    assert_eq!(timeout.1, Some(1));
    assert_eq!(
        timeout.2,
        vec![picow_serve::event::Seen {
            id: 1,
            text: "Hello WalnutPi! (desk)I got:ping".to_owned()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn every_repeats_the_sends_on_schedule() {
    let cfg = Config {
        sends: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b\n")],
        every: Some(Duration::from_secs(1)),
        ..Config::default()
    };
    let server = Server::start(cfg).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut times = Vec::new();
    while got.len() < 9 {
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).await.unwrap();
        for _ in 0..buf[..n].iter().filter(|&&b| b == b'\n').count() {
            times.push(t0.elapsed());
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(&got[..9], b"ab\nab\nab\n");
    // On connect, then after 1 s and 2 s (paused time: exact).
    let secs: Vec<u64> = times.iter().map(|t| t.as_secs()).collect();
    assert_eq!(secs, [0, 1, 2]);
    let (outcome, _) = server.stop().await;
    assert_eq!(outcome, Outcome::Stopped);
}

#[tokio::test(start_paused = true)]
async fn clients_condition_and_from_filter() {
    let cfg = Config {
        clients: Some(2),
        from: Some(2),
        timeout: Some(Duration::from_secs(5)),
        ..expecting(&["ready"])
    };
    let server = Server::start(cfg).await;
    let mut a = TcpStream::connect(server.addr).await.unwrap();
    // From #1: does not count.
    a.write_all(b"ready").await.unwrap();
    let mut b = TcpStream::connect(server.addr).await.unwrap();
    b.write_all(b"not yet... ready").await.unwrap();
    let (outcome, rest) = server.finish().await;
    assert_eq!(outcome, Outcome::Met);
    assert!(rest
        .iter()
        .any(|e| matches!(e, Event::Expect { id: 2, .. })));
}

#[tokio::test]
async fn gbk_and_invalid_bytes_are_shown_escaped() {
    let cfg = Config {
        charset: Charset::from_label("gbk").unwrap(),
        ..Config::default()
    };
    let mut server = Server::start(cfg).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let (gbk, _, _) = encoding_rs::GBK.encode("你好");
    // Split a two-byte character across writes, then one bad byte.
    c.write_all(&gbk[..1]).await.unwrap();
    c.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.write_all(&gbk[1..]).await.unwrap();
    c.write_all(b"\xff!").await.unwrap();
    let mut text = String::new();
    while !text.ends_with('!') {
        text += &server
            .wait_for(|e| match e {
                Event::Data { text, .. } => Some(text.to_string()),
                _ => None,
            })
            .await;
    }
    assert_eq!(text, "你好\\xff!");
    server.stop().await;
}

#[tokio::test]
async fn max_clients_refuses_and_reports() {
    let cfg = Config {
        max_clients: 2,
        ..Config::default()
    };
    let mut server = Server::start(cfg).await;
    let _a = TcpStream::connect(server.addr).await.unwrap();
    let _b = TcpStream::connect(server.addr).await.unwrap();
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let reason = server
        .wait_for(|e| match e {
            Event::Refused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        reason,
        Reason::TooMany {
            connected: 2,
            max: 2
        }
    );
    assert!(reason.to_string().contains("--max-clients 2"), "{reason}");
    // The refused connection is closed.
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    // A slot frees up when a client leaves.
    drop(_a);
    server
        .wait_for(|e| matches!(e, Event::Disconnected { id: 1, .. }).then_some(()))
        .await;
    let _d = TcpStream::connect(server.addr).await.unwrap();
    let id = server
        .wait_for(|e| match e {
            Event::Connected { id, .. } => Some(*id),
            _ => None,
        })
        .await;
    assert_eq!(id, 3);
    let (_, rest) = server.stop().await;
    assert!(matches!(rest.last(), Some(Event::Summary(s)) if s.refused == 1 && s.clients == 3));
}

#[tokio::test]
async fn controls_send_list_and_disconnect() {
    let mut server = Server::start(Config::default()).await;
    let mut a = TcpStream::connect(server.addr).await.unwrap();
    let mut b = TcpStream::connect(server.addr).await.unwrap();
    b.write_all(b"Hello WalnutPi!").await.unwrap();
    server
        .wait_for(|e| matches!(e, Event::Picow { id: 2, .. }).then_some(()))
        .await;
    let ctl = server.control.clone();
    ctl.send(Control::Send(Target::One(2), Bytes::from_static(b"to two")))
        .await
        .unwrap();
    ctl.send(Control::Send(Target::All, Bytes::from_static(b"!")))
        .await
        .unwrap();
    let mut buf = vec![0u8; 7];
    b.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, b"to two!");
    let mut one = [0u8; 1];
    a.read_exact(&mut one).await.unwrap();
    assert_eq!(&one, b"!");
    ctl.send(Control::List).await.unwrap();
    let list = server
        .wait_for(|e| match e {
            Event::Clients { clients } => Some(clients.clone()),
            _ => None,
        })
        .await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].kind, Kind::Picow(None));
    assert_eq!((list[1].bytes_in, list[1].bytes_out), (15, 7));
    ctl.send(Control::Disconnect(1)).await.unwrap();
    let reason = server
        .wait_for(|e| match e {
            Event::Disconnected { id: 1, reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reason, Reason::ByUser);
    assert_eq!(reason.to_string(), "disconnected by the user");
    assert_eq!(a.read(&mut one).await.unwrap(), 0);
    ctl.send(Control::Quit).await.unwrap();
    let (outcome, _) = server.finish().await;
    assert_eq!(outcome, Outcome::Stopped);
}

#[tokio::test]
async fn udp_peers_are_clients() {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let cfg = Config {
        sends: vec![Bytes::from_static(b"welcome")],
        ..Config::default()
    };
    let mut server = Server::start_with(Listener::Udp(sock), addr, cfg, vec![]).await;
    let board = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    board.send_to(b"Hello WalnutPi!", addr).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = board.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"welcome"[..], addr));
    server
        .wait_for(|e| matches!(e, Event::Picow { id: 1, .. }).then_some(()))
        .await;
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    other.send_to(b"x", addr).await.unwrap();
    let peer = server
        .wait_for(|e| match e {
            Event::Connected { id: 2, peer } => Some(*peer),
            _ => None,
        })
        .await;
    assert_eq!(peer, other.local_addr().unwrap());
    let log = server.log.clone();
    server.stop().await;
    let log = parse_log(&log.text());
    assert_eq!(log.bytes_in[&1], b"Hello WalnutPi!");
    assert_eq!(log.bytes_in[&2], b"x");
}

#[tokio::test]
async fn disconnect_sends_what_was_queued_first() {
    let mut server = Server::start(Config::default()).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    server
        .wait_for(|e| matches!(e, Event::Connected { .. }).then_some(()))
        .await;
    let payload = Bytes::from(vec![b'z'; 200_000]);
    server
        .control
        .send(Control::Send(Target::One(1), payload.clone()))
        .await
        .unwrap();
    server.control.send(Control::Disconnect(1)).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), c.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), payload.len());
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn timeout_without_conditions_just_ends_the_capture() {
    let cfg = Config {
        timeout: Some(Duration::from_secs(30)),
        ..Config::default()
    };
    let server = Server::start(cfg).await;
    let _c = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    let (outcome, rest) = server.finish().await;
    assert_eq!(outcome, Outcome::Elapsed);
    assert!(start.elapsed() <= Duration::from_secs(30));
    assert!(!rest.iter().any(|e| matches!(e, Event::Timeout { .. })));
    assert!(rest
        .iter()
        .any(|e| matches!(e, Event::Disconnected { reason, .. } if *reason == Reason::Timeout)));
}

/// Forwards events, and says it does not read the text of data (like the
/// log): the engine then skips decoding, unless an `--expect` needs it.
struct TextBlind(tokio::sync::mpsc::UnboundedSender<Event>);

impl picow_serve::Observer for TextBlind {
    fn event(&mut self, _at: std::time::SystemTime, event: &Event) -> std::io::Result<()> {
        let _ = self.0.send(event.clone());
        Ok(())
    }
    fn wants_text(&self) -> bool {
        false
    }
}

/// The texts of the data events of one run with only a text-blind observer.
async fn texts_seen_blind(cfg: Config, send: &[u8]) -> (Outcome, Vec<String>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (_ctl, crx) = tokio::sync::mpsc::channel(1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(picow_serve::run(
        Listener::Tcp(vec![l]),
        cfg,
        vec![Box::new(TextBlind(tx))],
        crx,
        async {
            let _ = stopped.await;
        },
    ));
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(send).await.unwrap();
    c.shutdown().await.unwrap();
    let mut texts = Vec::new();
    let mut got = 0;
    while got < send.len() {
        match events.recv().await {
            Some(Event::Data { bytes, text, .. }) => {
                got += bytes.len();
                texts.push(text.to_string());
            }
            Some(_) => {}
            None => break,
        }
    }
    let _ = stop.send(());
    (task.await.unwrap().unwrap(), texts)
}

#[tokio::test]
async fn text_is_decoded_only_while_someone_reads_it() {
    // No observer reads text and nothing is expected: no text.
    let (outcome, texts) = texts_seen_blind(Config::default(), b"abc").await;
    assert_eq!(outcome, Outcome::Stopped);
    assert!(texts.iter().all(String::is_empty), "{texts:?}");
    // An --expect still sees the text and is met.
    let (outcome, texts) = texts_seen_blind(expecting(&["b+c"]), b"abbc").await;
    assert_eq!(outcome, Outcome::Met);
    assert_eq!(texts.concat(), "abbc");
}

#[tokio::test]
async fn reads_are_at_most_64_kib_each_and_complete() {
    // Each read is bounded (with the bounded queues, that bounds what reads
    // not yet handled can hold), and nothing is lost across reads.
    let server = Server::start(Config::default()).await;
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let mut server = server;
    let writer = tokio::spawn({
        let data = data.clone();
        async move {
            c.write_all(&data).await.unwrap();
            c
        }
    });
    let mut got = Vec::new();
    let mut largest = 0;
    while got.len() < data.len() {
        let bytes = server
            .wait_for(|e| match e {
                Event::Data { bytes, .. } => Some(bytes.clone()),
                _ => None,
            })
            .await;
        largest = largest.max(bytes.len());
        got.extend_from_slice(&bytes);
    }
    let _c = writer.await.unwrap();
    assert_eq!(got, data);
    assert!(largest <= 64 * 1024, "a read of {largest} bytes");
    let _ = server.stop().await;
}

/// `/auto` reports what it really sends (`auto` events with the count of
/// ticks that reached a client); when its client goes it stops with one
/// notice, never an error at every tick; "all" with nobody connected waits
/// without counting.
#[tokio::test(start_paused = true)]
async fn auto_counts_real_sends_and_stops_once_when_its_client_goes() {
    use picow_serve::AutoState;
    let mut server = Server::start(Config::default()).await;
    let mut a = TcpStream::connect(server.addr).await.unwrap();
    server
        .wait_for(|e| matches!(e, Event::Connected { id: 1, .. }).then_some(()))
        .await;
    let ctl = server.control.clone();
    let every = Duration::from_secs(1);
    ctl.send(Control::Auto(Some((
        every,
        Target::One(1),
        Bytes::from_static(b"ping"),
    ))))
    .await
    .unwrap();
    let auto = |e: &Event| match e {
        Event::Auto {
            state,
            every,
            to,
            count,
        } => Some((*state, *every, *to, *count)),
        _ => None,
    };
    assert_eq!(
        server.wait_for(auto).await,
        (AutoState::Started, every, Some(1), 0)
    );
    for n in 1..=3 {
        assert_eq!(
            server.wait_for(auto).await,
            (AutoState::Sent, every, Some(1), n)
        );
    }
    let mut got = vec![0u8; 12];
    a.read_exact(&mut got).await.unwrap();
    assert_eq!(got, b"pingpingping");
    // The board resets: the next tick stops it, said once.
    drop(a);
    let mut seen = Vec::new();
    let gone = loop {
        let e = server.events.recv().await.unwrap();
        if let Some(s) = auto(&e) {
            if s.0 == AutoState::Gone {
                break s;
            }
        }
        seen.push(e);
    };
    assert_eq!(gone, (AutoState::Gone, every, Some(1), 3));
    // Ten more seconds: nothing more from /auto, no error.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (_, rest) = server.stop().await;
    seen.extend(rest);
    let notices: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Notice { message } => Some(message.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        notices.contains(&"auto-send stopped: #1 is gone (3 sent)".to_owned()),
        "{notices:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Error { .. } | Event::Auto { .. })),
        "{seen:?}"
    );
}

/// "all" with no client connected: the ticks send nothing, count nothing,
/// and say so once.
#[tokio::test(start_paused = true)]
async fn auto_to_all_waits_for_a_client_without_counting() {
    use picow_serve::AutoState;
    let mut server = Server::start(Config::default()).await;
    server
        .control
        .send(Control::Auto(Some((
            Duration::from_millis(100),
            Target::All,
            Bytes::from_static(b"x"),
        ))))
        .await
        .unwrap();
    let state = |e: &Event| match e {
        Event::Auto { state, count, .. } => Some((*state, *count)),
        _ => None,
    };
    assert_eq!(server.wait_for(state).await, (AutoState::Started, 0));
    assert_eq!(server.wait_for(state).await, (AutoState::Waiting, 0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(server.wait_for(state).await, (AutoState::Sent, 1));
    let mut one = [0u8; 1];
    c.read_exact(&mut one).await.unwrap();
    server.control.send(Control::Auto(None)).await.unwrap();
    let stopped = loop {
        let s = server.wait_for(state).await;
        if s.0 != AutoState::Sent {
            break s;
        }
    };
    assert_eq!(stopped.0, AutoState::Stopped);
    let (_, rest) = server.stop().await;
    assert!(!rest.iter().any(|e| matches!(e, Event::Auto { .. })));
}

/// `/update ID`: the hub starts it only for a connected PicoW (an `update`
/// event `started` for the front end's updater), and says why not
/// otherwise; a helper's report comes out as it is.
#[tokio::test]
async fn update_is_started_only_for_a_connected_picow() {
    use picow_serve::UpdateState;
    let mut server = Server::start(Config::default()).await;
    let mut board = TcpStream::connect(server.addr).await.unwrap();
    board.write_all(b"Hello WalnutPi! (desk)").await.unwrap();
    server
        .wait_for(|e| matches!(e, Event::Picow { id: 1, .. }).then_some(()))
        .await;
    let mut other = TcpStream::connect(server.addr).await.unwrap();
    other.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    server
        .wait_for(|e| matches!(e, Event::Data { id: 2, .. }).then_some(()))
        .await;
    let ctl = server.control.clone();
    let error = |e: &Event| match e {
        Event::Error { message } => Some(message.to_string()),
        _ => None,
    };
    for (id, want) in [(9, "no client #9"), (2, "#2 is not a PicoW")] {
        ctl.send(Control::Update { id, firmware: None })
            .await
            .unwrap();
        let m = server.wait_for(error).await;
        assert!(m.contains(want), "{m}");
    }
    ctl.send(Control::Update {
        id: 1,
        firmware: Some("fw.elf".into()),
    })
    .await
    .unwrap();
    let started = server
        .wait_for(|e| match e {
            Event::Update {
                id,
                state,
                firmware,
                ..
            } => Some((*id, *state, firmware.clone())),
            _ => None,
        })
        .await;
    assert_eq!(started, (1, UpdateState::Started, Some("fw.elf".into())));
    ctl.send(Control::Report(Box::new(Event::Firmware {
        id: 1,
        version: "0.2.0".into(),
        project: "picow-fw".into(),
        slot: Some(1),
        chip: "esp32c3".into(),
    })))
    .await
    .unwrap();
    let v = server
        .wait_for(|e| match e {
            Event::Firmware { version, .. } => Some(version.clone()),
            _ => None,
        })
        .await;
    assert_eq!(v, "0.2.0");
    drop((board, other));
    server.stop().await;
}
