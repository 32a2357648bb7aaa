//! UDP: one socket; each peer address is a client with a writer task.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BufMut;
use tokio::net::UdpSocket;

use crate::conn::{canonical, read_into_shared, Ctx, Msg, READ_BUF};
use crate::event::ClientId;
use crate::queue::Shared;

pub(crate) async fn udp_loop(socket: Arc<UdpSocket>, ctx: Ctx) {
    let mut stop = ctx.stop.clone();
    let mut peers: HashMap<SocketAddr, ClientId> = HashMap::new();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            r = socket.readable() => {
                if let Err(e) = r {
                    let _ = ctx.tx.send(Msg::Error(format!("UDP socket: {e}"))).await;
                    return;
                }
            }
        }
        let mut from = None;
        let res = read_into_shared(|b| {
            let (n, peer) = socket.try_recv_buf_from(&mut b.limit(READ_BUF))?;
            from = Some(peer);
            Ok(n)
        });
        let (bytes, peer) = match (res, from) {
            (Ok(b), Some(p)) => (b, canonical(p)),
            (Err(e), _) if e.kind() == io::ErrorKind::WouldBlock => continue,
            // Windows reports an ICMP port-unreachable as a reset: not fatal.
            (Err(e), _) => {
                tracing::debug!("UDP receive: {e}");
                continue;
            }
            (Ok(_), None) => continue,
        };
        let id = match peers.get(&peer) {
            Some(&id) => id,
            None => match ctx.admit() {
                Ok(id) => {
                    peers.insert(peer, id);
                    let Some(shared) = ctx.connected(id, peer).await else {
                        return;
                    };
                    tokio::spawn(udp_writer(id, peer, socket.clone(), shared, ctx.clone()));
                    id
                }
                Err(reason) => {
                    let _ = ctx.tx.send(Msg::Refused { peer, reason }).await;
                    continue;
                }
            },
        };
        if ctx.tx.send(Msg::Data { id, bytes }).await.is_err() {
            return;
        }
    }
}

pub(crate) async fn udp_writer(
    id: ClientId,
    peer: SocketAddr,
    socket: Arc<UdpSocket>,
    shared: Arc<Shared>,
    ctx: Ctx,
) {
    let reason = loop {
        let (front, close) = {
            let mut out = shared.lock();
            let front = out.queue.pop_front();
            if let Some(f) = &front {
                out.queued -= f.len();
            }
            (front, out.close.clone())
        };
        if let Some(reason) = close {
            break reason;
        }
        match front {
            Some(bytes) => match socket.send_to(&bytes, peer).await {
                Ok(n) => {
                    let _ = ctx
                        .tx
                        .send(Msg::Sent {
                            id,
                            bytes: bytes.slice(..n),
                        })
                        .await;
                }
                Err(e) => {
                    let _ = ctx
                        .tx
                        .send(Msg::Error(format!("sending to #{id}: {e}")))
                        .await;
                }
            },
            None => shared.notify.notified().await,
        }
    };
    ctx.active.fetch_sub(1, Ordering::AcqRel);
    let _ = ctx.tx.send(Msg::Closed { id, reason }).await;
}
