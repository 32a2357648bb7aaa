//! The floor of this stack for `cargo xtask bench serve`: a minimal tokio
//! server that only reads and counts, with a 16 KB buffer per connection.
//!
//! `picow-minserver ADDR [EXPECT_BYTES]`: prints `listening PORT`; with
//! EXPECT_BYTES, prints `done NANOS` (wall clock) when that many bytes have
//! arrived, then exits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    picow_bench::raise_nofile();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let expect: Option<u64> = args.get(1).and_then(|a| a.parse().ok());
    let listener = TcpListener::bind(&addr).await.expect("bind");
    println!("listening {}", listener.local_addr().expect("addr").port());
    let total = Arc::new(AtomicU64::new(0));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        tokio::select! {
            _ = done_rx.recv() => {
                println!("done {}", picow_bench::now_ns());
                return;
            }
            r = listener.accept() => {
                let Ok((mut s, _)) = r else { continue };
                let total = total.clone();
                let done_tx = done_tx.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        let now = total.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                        if Some(now) == expect {
                            let _ = done_tx.send(()).await;
                        }
                    }
                });
            }
        }
    }
}
