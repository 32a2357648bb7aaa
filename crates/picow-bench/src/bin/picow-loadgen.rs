//! Load generator for `cargo xtask bench serve`. Talks only to the address
//! it is given (the benchmark gives 127.0.0.1).
//!
//! `picow-loadgen idle ADDR N`: opens N connections, prints `ready N`, and
//! holds them until stdin closes.
//! `picow-loadgen flood ADDR CLIENTS MESSAGES SIZE`: connects CLIENTS
//! clients, prints `start NANOS`, then each sends MESSAGES messages of SIZE
//! bytes as fast as it can (64 per write), closes, and prints `sent BYTES`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn usage() -> ! {
    eprintln!("usage: picow-loadgen idle ADDR N | flood ADDR CLIENTS MESSAGES SIZE");
    std::process::exit(2);
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

async fn connect(addr: SocketAddr) -> TcpStream {
    for _ in 0..200 {
        match TcpStream::connect(addr).await {
            Ok(s) => return s,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
    eprintln!("picow-loadgen: cannot connect to {addr}");
    std::process::exit(1);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let limit = picow_bench::raise_nofile();
    let addr: SocketAddr = arg(&args, 1);
    match args.first().map(String::as_str) {
        Some("idle") => {
            let n: usize = arg(&args, 2);
            if limit != 0 && (limit as usize) < n + 16 {
                eprintln!("picow-loadgen: open-file limit {limit} is below {n} connections");
                std::process::exit(1);
            }
            let mut conns = Vec::with_capacity(n);
            for _ in 0..n {
                conns.push(connect(addr).await);
            }
            println!("ready {n}");
            let mut sink = Vec::new();
            let _ = tokio::io::stdin().read_to_end(&mut sink).await;
            drop(conns);
        }
        Some("flood") => {
            let clients: usize = arg(&args, 2);
            let messages: usize = arg(&args, 3);
            let size: usize = arg(&args, 4);
            let mut conns = Vec::with_capacity(clients);
            for _ in 0..clients {
                let s = connect(addr).await;
                let _ = s.set_nodelay(true);
                conns.push(s);
            }
            let barrier = Arc::new(tokio::sync::Barrier::new(clients + 1));
            let mut tasks = Vec::new();
            for (c, mut s) in conns.into_iter().enumerate() {
                let barrier = barrier.clone();
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    let mut buf = Vec::with_capacity(64 * size);
                    let mut seq = 0;
                    while seq < messages {
                        buf.clear();
                        let t = picow_bench::now_ns();
                        let end = (seq + 64).min(messages);
                        for k in seq..end {
                            picow_bench::message(&mut buf, c, k, t, size);
                        }
                        if s.write_all(&buf).await.is_err() {
                            return 0;
                        }
                        seq = end;
                    }
                    let _ = s.shutdown().await;
                    // Wait for the server's close so nothing is cut short.
                    let mut sink = [0u8; 256];
                    while let Ok(1..) = s.read(&mut sink).await {}
                    messages * size
                }));
            }
            println!("start {}", picow_bench::now_ns());
            barrier.wait().await;
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap_or(0);
            }
            println!("sent {total}");
        }
        _ => usage(),
    }
}
