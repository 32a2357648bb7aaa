//! TCP: the accept loop and one task per client, which waits for
//! readiness, reads into the shared block, and writes its queue out.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BufMut;
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::conn::{canonical, read_into_shared, unread_bytes, Ctx, Msg, READ_BUF};
use crate::event::{ClientId, Reason};
use crate::queue::Shared;

/// How long a peer that half-closed gets to take what is still queued.
pub(crate) const HALF_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a client being closed gets to take what was queued before.
pub(crate) const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// At most this many connections waiting in the backlog are taken when
/// serve stops (their bytes were acknowledged by the kernel: they are read
/// and logged like everyone's).
const BACKLOG_SWEEP: usize = 4096;

/// How much a closing client may still read when the socket cannot say how
/// much it holds (no `FIONREAD`): one receive buffer.
fn unread_or_buffer(stream: &TcpStream) -> u64 {
    unread_bytes(stream).unwrap_or_else(|| {
        socket2::SockRef::from(stream)
            .recv_buffer_size()
            .map_or(READ_BUF as u64, |n| n as u64)
    })
}

pub(crate) async fn accept_loop(listener: TcpListener, ctx: Ctx) {
    let mut stop = ctx.stop.clone();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.changed() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                if !admit(stream, canonical(peer), &ctx).await {
                    return;
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: report, back off, go on.
                ctx.error(picow_i18n::msg!(
                    "serve-accept-failed",
                    error = e.to_string()
                ));
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
    // Stopping: the connections still in the backlog are taken too (a real
    // accept, not the runtime's view of readiness, which may lag).
    let sock = socket2::SockRef::from(&listener);
    for _ in 0..BACKLOG_SWEEP {
        let Ok((s, addr)) = sock.accept() else { break };
        let Some(peer) = addr.as_socket() else {
            continue;
        };
        if s.set_nonblocking(true).is_err() {
            continue;
        }
        let Ok(stream) = TcpStream::from_std(s.into()) else {
            continue;
        };
        if !admit(stream, canonical(peer), &ctx).await {
            return;
        }
    }
}

/// A new connection: a client, or refused (`--max-clients`). False when
/// the hub is gone.
async fn admit(stream: TcpStream, peer: std::net::SocketAddr, ctx: &Ctx) -> bool {
    match ctx.admit() {
        Ok(id) => {
            let _ = stream.set_nodelay(true);
            let Some(shared) = ctx.connected(id, peer).await else {
                return false;
            };
            tokio::spawn(tcp_client(id, stream, shared, ctx.clone()));
            true
        }
        Err(reason) => {
            drop(stream);
            ctx.refused(peer, reason);
            true
        }
    }
}

pub(crate) async fn tcp_client(id: ClientId, stream: TcpStream, shared: Arc<Shared>, ctx: Ctx) {
    let (reason, unread) = tcp_loop(id, &stream, &shared, &ctx.tx).await;
    drop(stream);
    ctx.active.fetch_sub(1, Ordering::AcqRel);
    let _ = ctx.tx.send(Msg::Closed { id, reason, unread }).await;
}

/// One client until it ends: reads (each with a credit, so that a client
/// never has more than one read waiting for the hub) and writes its queue.
///
/// Once it is to close (the user, `--max-queue`, serve stopping), it reads
/// what its socket holds at that moment (`FIONREAD`: the bytes the kernel
/// has acknowledged; what arrives later is not waited for), writes what was
/// queued for up to [`CLOSE_FLUSH`], and ends; `hurry` ends it at once.
/// Returns why it ended and the bytes left unread in the socket.
pub(crate) async fn tcp_loop(
    id: ClientId,
    stream: &TcpStream,
    shared: &Shared,
    tx: &mpsc::Sender<Msg>,
) -> (Reason, u64) {
    let unread = || unread_bytes(stream).unwrap_or(0);
    let mut eof_at: Option<Instant> = None;
    // When a close was asked for: until when queued data may still go out.
    let mut close_by: Option<Instant> = None;
    // When a close was asked for: how much of what the socket held then is
    // still to be read.
    let mut left: Option<u64> = None;
    let mut credit = false;
    loop {
        let (want_write, close, welcomed, hurry) = {
            let out = shared.lock();
            (
                !out.queue.is_empty(),
                out.close.clone(),
                out.welcomed,
                out.hurry,
            )
        };
        if hurry {
            return (close.unwrap_or(Reason::ServerStopped), unread());
        }
        if close.is_some() && left.is_none() {
            left = Some(if eof_at.is_some() {
                0
            } else {
                unread_or_buffer(stream)
            });
        }
        let flushing = match (&close, want_write) {
            (Some(_), true) => {
                let by = *close_by.get_or_insert_with(|| Instant::now() + CLOSE_FLUSH);
                Instant::now() < by
            }
            _ => false,
        };
        let to_read = eof_at.is_none() && left.is_none_or(|l| l > 0);
        if let Some(reason) = &close {
            if !flushing && !to_read {
                return (reason.clone(), unread());
            }
        } else if let (Some(eof), false) = (eof_at, want_write) {
            if welcomed {
                return (Reason::ClosedByPeer, 0);
            }
            // The hub has not queued this client's sends yet: wait for it
            // (bounded), rather than close before they went out.
            tokio::select! {
                _ = shared.notify.notified() => {}
                _ = tokio::time::sleep_until(eof + HALF_CLOSE_GRACE) => {
                    return (Reason::ClosedByPeer, 0);
                }
            }
            continue;
        }
        let read_now = to_read && credit;
        let write_now = want_write && (close.is_none() || flushing);
        let interest = match (read_now, write_now) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        let grace = async {
            match (eof_at, close_by) {
                (_, Some(t)) => tokio::time::sleep_until(t).await,
                (Some(t), None) => tokio::time::sleep_until(t + HALF_CLOSE_GRACE).await,
                (None, None) => std::future::pending().await,
            }
        };
        let ready = async {
            match interest {
                Some(i) => stream.ready(i).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            permit = shared.credit.acquire(), if to_read && !credit => {
                if let Ok(p) = permit {
                    p.forget();
                    credit = true;
                }
            }
            ready = ready => {
                let ready = match ready {
                    Ok(r) => r,
                    Err(e) => return (Reason::SocketFailed(e.to_string()), 0),
                };
                if ready.is_readable() && read_now {
                    let cap = left.map_or(READ_BUF, |l| l.min(READ_BUF as u64) as usize);
                    match read_into_shared(|b| stream.try_read_buf(&mut b.limit(cap))) {
                        Ok(b) if b.is_empty() => eof_at = Some(Instant::now()),
                        Ok(bytes) => {
                            if let Some(l) = left.as_mut() {
                                *l = l.saturating_sub(bytes.len() as u64);
                            }
                            credit = false;
                            if tx.send(Msg::Data { id, bytes }).await.is_err() {
                                return (Reason::ServerStopped, unread());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return (read_error(e), 0),
                    }
                }
                if ready.is_writable() && write_now {
                    if let Err(e) = write_some(id, stream, shared, tx).await {
                        return (Reason::WriteFailed(e.to_string()), unread());
                    }
                }
            }
            _ = shared.notify.notified() => {}
            _ = grace => {
                if close_by.is_none() {
                    return (Reason::ClosedUnsent, 0);
                }
                // The close deadline passed: the next turn closes.
            }
        }
    }
}

pub(crate) fn read_error(e: io::Error) -> Reason {
    match e.kind() {
        io::ErrorKind::ConnectionReset => Reason::ResetByPeer,
        io::ErrorKind::ConnectionAborted => Reason::Aborted,
        _ => Reason::ReadFailed(e.to_string()),
    }
}

pub(crate) async fn write_some(
    id: ClientId,
    stream: &TcpStream,
    shared: &Shared,
    tx: &mpsc::Sender<Msg>,
) -> io::Result<()> {
    // A file's next chunk is read here, as the client takes it.
    let front = shared.lock().front(READ_BUF);
    let Some(front) =
        front.map_err(|e| io::Error::new(e.kind(), format!("reading the file: {e}")))?
    else {
        return Ok(());
    };
    match stream.try_write(&front) {
        Ok(n) => {
            // The queue may have been cleared by a close meanwhile.
            shared.lock().advance(n);
            let _ = tx
                .send(Msg::Sent {
                    id,
                    bytes: front.slice(..n),
                })
                .await;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}
