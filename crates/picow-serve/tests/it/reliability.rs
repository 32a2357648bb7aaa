//! `picow serve` against clients that misbehave: resets, half-closes, 10 MB
//! of random bytes, invalid UTF-8, silence, 10,000 connections in a row and
//! a client that never reads. For every client the bytes in the log must
//! equal the bytes it sent. Loopback only; every loop is bounded.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::{parse_log, Server};
use picow_serve::{Config, Event, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Deterministic pseudo-random bytes (xorshift), so a failure reproduces.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_clients_never_stop_serve_and_the_log_is_exact() {
    let cfg = Config {
        sends: vec![Bytes::from_static(b"welcome")],
        ..Config::default()
    };
    let server = Server::start(cfg).await;
    let addr = server.addr;
    let mut tasks = Vec::new();
    // Each task returns (its local address, what it sent).
    for _ in 0..5 {
        tasks.push(tokio::spawn(async move {
            // Connect and reset at once (SO_LINGER 0 makes close send RST).
            let s = TcpStream::connect(addr).await.unwrap();
            let local = s.local_addr().unwrap();
            s.set_zero_linger().unwrap();
            drop(s);
            (local, Vec::new())
        }));
    }
    for i in 0..3u8 {
        tasks.push(tokio::spawn(async move {
            // Half-close: send, shut the write side, still get what serve
            // queued, then serve's close.
            let mut s = TcpStream::connect(addr).await.unwrap();
            let local = s.local_addr().unwrap();
            let msg = format!("half-close {i}").into_bytes();
            s.write_all(&msg).await.unwrap();
            s.shutdown().await.unwrap();
            let mut got = Vec::new();
            tokio::time::timeout(LIMIT, s.read_to_end(&mut got))
                .await
                .expect("serve closes a half-closed client")
                .unwrap();
            assert_eq!(got, b"welcome");
            (local, msg)
        }));
    }
    tasks.push(tokio::spawn(async move {
        // 10 MB of random binary, then a clean close.
        let mut s = TcpStream::connect(addr).await.unwrap();
        let local = s.local_addr().unwrap();
        let data = random_bytes(10 << 20, 0x5eed);
        s.write_all(&data).await.unwrap();
        s.shutdown().await.unwrap();
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(LIMIT, s.read_to_end(&mut sink)).await;
        (local, data)
    }));
    tasks.push(tokio::spawn(async move {
        // Invalid UTF-8, split characters, lone continuation bytes.
        let mut s = TcpStream::connect(addr).await.unwrap();
        let local = s.local_addr().unwrap();
        let data = b"\xff\xfe ok \xe4\xbd\xa0 \xc3( \x80\x80 end\xe4".to_vec();
        for chunk in data.chunks(3) {
            s.write_all(chunk).await.unwrap();
            s.flush().await.unwrap();
        }
        drop(s);
        (local, data)
    }));
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut sent: HashMap<String, Vec<u8>> = HashMap::new();
    for t in tasks {
        let (local, data) = tokio::time::timeout(LIMIT, t).await.unwrap().unwrap();
        sent.insert(local.to_string(), data);
    }
    for s in &silent {
        sent.insert(s.local_addr().unwrap().to_string(), Vec::new());
    }
    // Serve still answers a new client.
    let mut probe = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 7];
    tokio::time::timeout(LIMIT, probe.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"welcome");
    let log = server.log.clone();
    let (outcome, rest) = server.stop().await;
    assert_eq!(outcome, Outcome::Stopped);
    let summary = rest
        .iter()
        .find_map(|e| match e {
            Event::Summary(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(summary.clients, 5 + 3 + 1 + 1 + 20 + 1);
    let log = parse_log(&log.text());
    let mut checked = 0;
    for (id, peer) in &log.peer {
        let Some(expected) = sent.get(peer) else {
            continue; // the probe
        };
        let got = log.bytes_in.get(id).cloned().unwrap_or_default();
        assert!(
            got == *expected,
            "client #{id} ({peer}): log has {} bytes, it sent {}",
            got.len(),
            expected.len()
        );
        checked += 1;
    }
    // A client that reset before it was accepted may never be seen at all.
    assert!(
        checked >= sent.len() - 5,
        "checked {checked} of {}",
        sent.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_in_a_row() {
    const N: usize = 10_000;
    let server = Server::start(Config::default()).await;
    for i in 0..N {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(format!("{i:05}").as_bytes()).await.unwrap();
        drop(s);
    }
    // Still serving.
    let mut last = TcpStream::connect(server.addr).await.unwrap();
    last.write_all(b"last").await.unwrap();
    let mut server = server;
    server
        .wait_for(|e| matches!(e, Event::Data { bytes, .. } if &bytes[..] == b"last").then_some(()))
        .await;
    let log = server.log.clone();
    let (_, rest) = server.stop().await;
    assert!(matches!(rest.last(), Some(Event::Summary(s)) if s.clients == N as u64 + 1));
    let text = log.text();
    let log = parse_log(&text);
    // Why the clients without data ended (for the message below).
    let silent: Vec<String> = text
        .lines()
        .filter(|l| l.contains("\"disconnected\""))
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            !log.bytes_in.contains_key(&v["id"].as_u64().unwrap())
        })
        .take(5)
        .map(str::to_owned)
        .collect();
    let mut payloads: Vec<Vec<u8>> = log.bytes_in.values().cloned().collect();
    payloads.sort();
    let mut expected: Vec<Vec<u8>> = (0..N).map(|i| format!("{i:05}").into_bytes()).collect();
    expected.push(b"last".to_vec());
    expected.sort();
    assert_eq!(
        payloads.len(),
        expected.len(),
        "clients whose bytes are not in the log ended so: {silent:#?}"
    );
    assert!(
        payloads == expected,
        "every connection's bytes are logged exactly once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_reads_is_dropped_and_the_others_keep_flowing() {
    let cfg = Config {
        sends: vec![Bytes::from(vec![b'x'; 64 * 1024])],
        every: Some(Duration::from_millis(10)),
        max_queue: 1 << 20,
        ..Config::default()
    };
    let mut server = Server::start(cfg).await;
    let reader = TcpStream::connect(server.addr).await.unwrap();
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let reader_task = tokio::spawn(async move {
        let mut reader = reader;
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return total,
                Ok(n) => {
                    total += n;
                    let _ = count_tx.send(total);
                }
            }
        }
    });
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    let reason = server
        .wait_for(|e| match e {
            Event::Disconnected { id: 2, reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(
        matches!(reason, picow_serve::Reason::NotReading(_)),
        "{reason}"
    );
    // The reader keeps getting data: another 2 MB after the drop.
    let at_drop = *count_rx.borrow();
    while *count_rx.borrow() < at_drop + (2 << 20) {
        count_rx.changed().await.unwrap();
    }
    let log = server.log.clone();
    server.stop().await;
    let total = reader_task.await.unwrap();
    // What the stuck client can still read equals what the log says was sent.
    let mut got = Vec::new();
    stuck.read_to_end(&mut got).await.unwrap();
    let log = parse_log(&log.text());
    assert_eq!(got.len(), log.bytes_out[&2].len());
    assert_eq!(total, log.bytes_out[&1].len());
    assert!(total > at_drop);
}

#[tokio::test]
async fn bytes_received_before_the_stop_are_all_logged() {
    let mut server = Server::start(Config::default()).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    server
        .wait_for(|e| matches!(e, Event::Connected { .. }).then_some(()))
        .await;
    let data = random_bytes(60_000, 7);
    c.write_all(&data).await.unwrap();
    // Stop at once, without waiting for serve to read.
    let log = server.log.clone();
    server.stop().await;
    let log = parse_log(&log.text());
    assert_eq!(log.bytes_in[&1], data);
}
