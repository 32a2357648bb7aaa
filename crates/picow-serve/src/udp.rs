//! UDP: one socket; each peer address is a client with a writer task, for
//! as long as it is live. A peer that sends nothing for `udp_idle` expires
//! (its slot under `--max-clients` is free again), and a peer whose client
//! was closed (expired, `/disconnect`) and sends again is a new client.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BufMut;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::conn::{canonical, read_into_shared, Ctx, Msg, READ_BUF};
use crate::event::{ClientId, Reason};
use crate::queue::Shared;

/// A file goes out in datagrams of this size.
pub(crate) const FILE_DATAGRAM: usize = 1024;

struct Peer {
    id: ClientId,
    shared: Arc<Shared>,
    last: Instant,
}

/// How often idle peers are looked for.
fn sweep_every(idle: Duration) -> Duration {
    (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

pub(crate) async fn udp_loop(socket: Arc<UdpSocket>, ctx: Ctx, idle: Duration) {
    let mut stop = ctx.stop.clone();
    let mut peers: HashMap<SocketAddr, Peer> = HashMap::new();
    let mut sweep = tokio::time::interval(sweep_every(idle));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = sweep.tick() => {
                expire(&mut peers, idle);
                continue;
            }
            r = socket.readable() => {
                if let Err(e) = r {
                    ctx.error(picow_i18n::msg!("serve-udp-socket", error = e.to_string()));
                    return;
                }
            }
        }
        match recv_one(&socket) {
            Ok(Some((bytes, peer))) => {
                if !dispatch(&socket, &ctx, &mut peers, bytes, peer).await {
                    return;
                }
            }
            Ok(None) => {}
            Err(()) => return,
        }
    }
    // Stopping: what the socket holds was received before the stop; take
    // it (at most one receive buffer, so a flood cannot keep this going).
    let budget = socket2::SockRef::from(&*socket)
        .recv_buffer_size()
        .unwrap_or(1 << 20);
    let mut taken = 0usize;
    while taken < budget {
        match recv_one(&socket) {
            Ok(Some((bytes, peer))) => {
                taken += bytes.len().max(1);
                if !dispatch(&socket, &ctx, &mut peers, bytes, peer).await {
                    return;
                }
            }
            _ => break,
        }
    }
}

/// One datagram, if one is there; `Err` when the hub is gone.
fn recv_one(socket: &UdpSocket) -> Result<Option<(bytes::Bytes, SocketAddr)>, ()> {
    let mut from = None;
    let res = read_into_shared(|b| {
        let (n, peer) = socket.try_recv_buf_from(&mut b.limit(READ_BUF))?;
        from = Some(peer);
        Ok(n)
    });
    match (res, from) {
        (Ok(b), Some(p)) => Ok(Some((b, canonical(p)))),
        (Err(e), _) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        // Windows reports an ICMP port-unreachable as a reset: not fatal.
        (Err(e), _) => {
            tracing::debug!("UDP receive: {e}");
            Ok(None)
        }
        (Ok(_), None) => Ok(None),
    }
}

/// Closes peers idle for `idle` and forgets closed ones.
fn expire(peers: &mut HashMap<SocketAddr, Peer>, idle: Duration) {
    let now = Instant::now();
    peers.retain(|_, p| {
        if p.shared.is_closed() {
            return false;
        }
        if now.duration_since(p.last) >= idle {
            p.shared.close(Reason::Idle(idle));
            return false;
        }
        true
    });
}

/// Hands a datagram to its peer's client, making a new client for a new
/// (or returning) peer. False when the hub is gone.
async fn dispatch(
    socket: &Arc<UdpSocket>,
    ctx: &Ctx,
    peers: &mut HashMap<SocketAddr, Peer>,
    bytes: bytes::Bytes,
    peer: SocketAddr,
) -> bool {
    // A client that was closed (expired, disconnected) is gone: this peer
    // starts a new one.
    if peers.get(&peer).is_some_and(|p| p.shared.is_closed()) {
        peers.remove(&peer);
    }
    let id = match peers.get_mut(&peer) {
        Some(p) => {
            p.last = Instant::now();
            p.id
        }
        None => match ctx.admit() {
            Ok(id) => {
                let Some(shared) = ctx.connected(id, peer).await else {
                    return false;
                };
                tokio::spawn(udp_writer(
                    id,
                    peer,
                    socket.clone(),
                    shared.clone(),
                    ctx.clone(),
                ));
                peers.insert(
                    peer,
                    Peer {
                        id,
                        shared,
                        last: Instant::now(),
                    },
                );
                id
            }
            Err(reason) => {
                ctx.refused(peer, reason);
                return true;
            }
        },
    };
    ctx.tx.send(Msg::Data { id, bytes }).await.is_ok()
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
            let front = match out.front(FILE_DATAGRAM) {
                Ok(f) => f,
                Err(e) => {
                    out.queue.clear();
                    out.queued = 0;
                    let r = Reason::FileFailed(e.to_string());
                    out.close.get_or_insert(r);
                    None
                }
            };
            if let Some(f) = &front {
                out.advance(f.len());
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
                Err(e) => ctx.error(picow_i18n::msg!(
                    "serve-send-failed",
                    id = id,
                    error = e.to_string()
                )),
            },
            None => shared.notify.notified().await,
        }
    };
    ctx.active.fetch_sub(1, Ordering::AcqRel);
    let _ = ctx
        .tx
        .send(Msg::Closed {
            id,
            reason,
            unread: 0,
        })
        .await;
}
