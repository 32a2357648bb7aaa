//! The session with a server on 127.0.0.1: greeting, echo, byte-stream
//! handling, UDP, DNS, and the console commands.

use crate::common;

use common::*;
use picow_app::Exit;
use picow_protocol::console::{Command, Event};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::LocalSet;

async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// A board configured for `HOST:PORT` (no name) that has connected to a
/// server on 127.0.0.1:PORT and greeted it: its rig, the server's side of
/// the connection, and the port.
async fn greeted(host: &str) -> (Rig, tokio::net::TcpStream, u16) {
    let (l, port) = listener().await;
    let rig = start(Some(&config(&format!("{host}:{port}"), None)), true);
    let (mut s, _) = l.accept().await.unwrap();
    assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
    (rig, s, port)
}

#[tokio::test]
async fn greeting_with_name_then_echo_of_each_chunk() {
    LocalSet::new()
        .run_until(async {
            let (l, port) = listener().await;
            let cfg = config(&format!("127.0.0.1:{port}"), Some("desk"));
            let mut rig = start(Some(&cfg), true);
            let (mut s, _) = l.accept().await.unwrap();
            assert_eq!(read_n(&mut s, 22).await, b"Hello WalnutPi! (desk)");
            rig.expect("server-connected").await;
            s.write_all(b"hello").await.unwrap();
            assert_eq!(read_n(&mut s, 11).await, b"I got:hello");
            let rx = rig.expect("rx").await;
            assert_eq!(rx.line, r#"@picow rx len=5 data="hello""#);
            s.write_all(b"again").await.unwrap();
            assert_eq!(read_n(&mut s, 11).await, b"I got:again");
            // The boot sequence as the console showed it, without the password.
            let names: Vec<_> = rig.seen.iter().map(|s| s.name()).collect();
            assert_eq!(
                names[..6],
                [
                    "boot",
                    "config",
                    "wifi-joining",
                    "wifi-joined",
                    "server-connecting",
                    "server-connected"
                ]
            );
            assert!(rig.seen.iter().all(|s| !s.line.contains(PASSWORD)));
            assert_eq!(
                rig.seen[0].line,
                r#"@picow boot version="9.8.7" chip="host""#
            );
            assert_eq!(
                rig.seen[3].line,
                r#"@picow wifi-joined ip="127.0.0.1" gateway="127.0.0.1" rssi=-50"#
            );
            assert!(rig.handle.led(), "LED on once joined");
        })
        .await;
}

#[tokio::test]
async fn message_split_across_reads_and_several_in_one_read() {
    LocalSet::new()
        .run_until(async {
            let (mut rig, mut s, _) = greeted("127.0.0.1").await;
            // One message in two writes: each part is echoed as it came.
            s.write_all(b"hel").await.unwrap();
            assert_eq!(read_n(&mut s, 9).await, b"I got:hel");
            s.write_all(b"lo\n").await.unwrap();
            assert_eq!(read_n(&mut s, 9).await, b"I got:lo\n");
            // Two messages in one write arrive in one read: one echo.
            s.write_all(b"one\ntwo\n").await.unwrap();
            assert_eq!(read_n(&mut s, 14).await, b"I got:one\ntwo\n");
            // More than one read's worth: chunks of 128 bytes, each echoed,
            // none lost, and the console shows each chunk losslessly.
            let big: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
            s.write_all(&big).await.unwrap();
            let echo = read_n(&mut s, 300 + 3 * 6).await;
            let mut expect = Vec::new();
            for chunk in big.chunks(128) {
                expect.extend_from_slice(b"I got:");
                expect.extend_from_slice(chunk);
            }
            assert_eq!(echo, expect);
            let mut got = Vec::new();
            let mut lens = Vec::new();
            while lens.len() < 6 {
                let rx = rig.expect("rx").await;
                if let Event::Received { len, data } = rx.event() {
                    lens.push(len);
                    if lens.len() > 3 {
                        got.extend(data.bytes());
                    }
                }
            }
            assert_eq!(lens, [3, 3, 8, 128, 128, 44]);
            assert_eq!(got, big);
        })
        .await;
}

#[tokio::test]
async fn tutorial_flow_with_utf8_chinese_byte_for_byte() {
    LocalSet::new()
        .run_until(async {
            // A plain TCP server standing in for NetAssist.
            let (mut rig, mut s, _) = greeted("127.0.0.1").await;
            for text in ["你好，胡桃派！", "WalnutPi 测试 123", "😀"] {
                s.write_all(text.as_bytes()).await.unwrap();
                let mut want = b"I got:".to_vec();
                want.extend_from_slice(text.as_bytes());
                assert_eq!(read_n(&mut s, want.len()).await, want);
                let rx = rig.expect("rx").await;
                match rx.event() {
                    Event::Received { len, data } => {
                        assert_eq!(len as usize, text.len());
                        assert_eq!(data.to_vec(), text.as_bytes());
                    }
                    e => panic!("{e:?}"),
                }
                // Readable on the console, not escaped.
                assert!(rx.line.contains(text), "{}", rx.line);
            }
        })
        .await;
}

#[tokio::test]
async fn udp_server_gets_greeting_and_echo() {
    LocalSet::new()
        .run_until(async {
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = server.local_addr().unwrap().port();
            let mut rig = start(
                Some(&config(&format!("udp://127.0.0.1:{port}"), Some("u1"))),
                true,
            );
            let mut buf = [0; 256];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"Hello WalnutPi! (u1)");
            server.send_to("ping 你好".as_bytes(), from).await.unwrap();
            let (n, _) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], "I got:ping 你好".as_bytes());
            let c = rig.expect("server-connected").await;
            assert_eq!(field(&c.line, "server"), format!("udp://127.0.0.1:{port}"));
        })
        .await;
}

#[tokio::test]
async fn host_name_is_resolved() {
    LocalSet::new()
        .run_until(async {
            let (mut rig, _s, port) = greeted("localhost").await;
            let c = rig.expect("server-connected").await;
            assert_eq!(field(&c.line, "server"), format!("tcp://localhost:{port}"));
        })
        .await;
}

#[tokio::test]
async fn console_status_help_errors_and_reboot() {
    LocalSet::new()
        .run_until(async {
            let (l, port) = listener().await;
            let mut rig = start(Some(&config(&format!("127.0.0.1:{port}"), None)), true);
            let (_s, _) = l.accept().await.unwrap();
            rig.expect("server-connected").await;
            // Typed in pieces, with CR LF, as a terminal sends it.
            rig.handle.type_input(b"sta");
            rig.handle.type_input(b"tus\r\n");
            let st = rig.expect_next("status").await;
            match st.event() {
                Event::Status {
                    wifi,
                    ip,
                    server,
                    uptime_ms: _,
                    version,
                    ..
                } => {
                    assert_eq!(wifi.to_string(), "joined");
                    assert_eq!(ip.to_string(), "127.0.0.1");
                    assert_eq!(server.to_string(), "connected");
                    assert_eq!(version.to_string(), "9.8.7");
                }
                e => panic!("{e:?}"),
            }
            rig.handle.type_input(b"help\n");
            assert_eq!(rig.next().await.line, Command::HELP);
            rig.handle.type_input(b"\nfoo bar\n");
            let e = rig.expect_next("command-error").await;
            assert_eq!(field(&e.line, "input"), "foo");
            assert!(e.line.contains(r#"input="foo bar""#), "{}", e.line);
            rig.handle.type_input(&[b'x'; 200]);
            rig.handle.type_input(b"\nreboot\n");
            rig.expect_next("command-error").await;
            let exit = tokio::time::timeout(std::time::Duration::from_secs(10), rig.app)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(exit, Exit::Reboot);
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn reboot_resets_the_board_and_the_app_starts_over() {
    use picow_app::host::{flash_image, AccessPoint, HostBoard, HostConfig};
    use picow_protocol::layout::LAYOUT_4MB;
    LocalSet::new()
        .run_until(async {
            let (l, port) = listener().await;
            let cfg = config(&format!("127.0.0.1:{port}"), None);
            let board = HostBoard::new(HostConfig {
                access_point: Some(AccessPoint::for_config(&cfg)),
                ..HostConfig::new(flash_image(&LAYOUT_4MB, Some(&cfg)))
            });
            let h = board.handle();
            let mut console = h.take_console().unwrap();
            let app = tokio::task::spawn_local(async move {
                let first = picow_app::run(&board, INFO).await;
                board.reset();
                (first, picow_app::run(&board, INFO).await)
            });
            let mut next_event = async || loop {
                let line = console.recv().await.unwrap();
                if Event::parse(&line).is_some() {
                    return line;
                }
            };
            let (mut s1, _) = l.accept().await.unwrap();
            assert_eq!(read_n(&mut s1, 15).await, b"Hello WalnutPi!");
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            h.type_input(b"reboot\n");
            loop {
                let line = next_event().await;
                if line.starts_with("@picow boot ") {
                    break;
                }
            }
            // The old connection is gone and a new session starts.
            let mut b = [0; 4];
            assert_eq!(
                tokio::io::AsyncReadExt::read(&mut s1, &mut b)
                    .await
                    .unwrap(),
                0
            );
            let (mut s2, _) = l.accept().await.unwrap();
            assert_eq!(read_n(&mut s2, 15).await, b"Hello WalnutPi!");
            h.type_input(b"status\n");
            let status = loop {
                let line = next_event().await;
                if line.starts_with("@picow status ") {
                    break line;
                }
            };
            // Uptime counts from the reset (the join took 500 ms), not from
            // the first boot 5 s earlier.
            assert_eq!(field(&status, "uptime_ms"), "500");
            h.type_input(b"reboot\n");
            assert_eq!(app.await.unwrap(), (Exit::Reboot, Exit::Reboot));
        })
        .await;
}

#[tokio::test]
async fn worst_case_rx_line_is_complete_and_lossless() {
    LocalSet::new()
        .run_until(async {
            let (mut rig, mut s, _) = greeted("127.0.0.1").await;
            // A full chunk of bytes that all print as `\xNN`.
            let nasty = [0x01u8; 128];
            s.write_all(&nasty).await.unwrap();
            let echo = read_n(&mut s, 6 + 128).await;
            assert_eq!(&echo[6..], &nasty[..]);
            let rx = rig.expect("rx").await;
            assert!(rx.line.len() > 512, "{}", rx.line.len());
            match rx.event() {
                Event::Received { len, data } => {
                    assert_eq!(len, 128);
                    assert_eq!(data.to_vec(), nasty);
                }
                e => panic!("{e:?}"),
            }
        })
        .await;
}
