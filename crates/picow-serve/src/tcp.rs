//! TCP: the accept loop and one task per client, which waits for
//! readiness, reads into the shared block, and writes its queue out.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::conn::{canonical, read_into_shared, Ctx, Msg, READ_BUF};
use crate::event::ClientId;
use crate::queue::Shared;

/// How long a peer that half-closed gets to take what is still queued.
pub(crate) const HALF_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a client being closed gets to take what was queued before.
pub(crate) const CLOSE_FLUSH: Duration = Duration::from_secs(1);

pub(crate) async fn accept_loop(listener: TcpListener, ctx: Ctx) {
    let mut stop = ctx.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let peer = canonical(peer);
                match ctx.admit() {
                    Ok(id) => {
                        let _ = stream.set_nodelay(true);
                        let Some(shared) = ctx.connected(id, peer).await else {
                            return;
                        };
                        tokio::spawn(tcp_client(id, stream, shared, ctx.clone()));
                    }
                    Err(reason) => {
                        drop(stream);
                        let _ = ctx.tx.send(Msg::Refused { peer, reason }).await;
                    }
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: report, back off, go on.
                let _ = ctx.tx.send(Msg::Error(format!("accept failed: {e}"))).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

pub(crate) async fn tcp_client(id: ClientId, stream: TcpStream, shared: Arc<Shared>, ctx: Ctx) {
    let reason = tcp_loop(id, &stream, &shared, &ctx.tx).await;
    drop(stream);
    ctx.active.fetch_sub(1, Ordering::AcqRel);
    let _ = ctx.tx.send(Msg::Closed { id, reason }).await;
}

pub(crate) async fn tcp_loop(
    id: ClientId,
    stream: &TcpStream,
    shared: &Shared,
    tx: &mpsc::Sender<Msg>,
) -> String {
    let mut eof_at: Option<Instant> = None;
    // When a close was asked for: until when queued data may still go out.
    let mut close_by: Option<Instant> = None;
    loop {
        let (want_write, close, welcomed) = {
            let out = shared.lock();
            (!out.queue.is_empty(), out.close.clone(), out.welcomed)
        };
        let flushing = match (&close, want_write) {
            (Some(_), true) => {
                let by = *close_by.get_or_insert_with(|| Instant::now() + CLOSE_FLUSH);
                Instant::now() < by
            }
            _ => false,
        };
        if let Some(reason) = close.filter(|_| !flushing) {
            // Hand over what arrived before the close, then go. The socket
            // is asked directly: tokio's try_read trusts readiness that the
            // runtime may not have polled yet.
            if eof_at.is_none() {
                let sock = socket2::SockRef::from(stream);
                loop {
                    let read = |b: &mut BytesMut| {
                        let mut chunk = [0u8; 4096];
                        let n = io::Read::read(&mut &*sock, &mut chunk)?;
                        b.extend_from_slice(&chunk[..n]);
                        Ok(n)
                    };
                    match read_into_shared(read) {
                        Ok(b) if !b.is_empty() => {
                            let _ = tx.send(Msg::Data { id, bytes: b }).await;
                        }
                        _ => break,
                    }
                }
            }
            return reason;
        }
        if let (Some(eof), false) = (eof_at, want_write) {
            if welcomed {
                return "closed by peer".into();
            }
            // The hub has not queued this client's sends yet: wait for it
            // (bounded), rather than close before they went out.
            tokio::select! {
                _ = shared.notify.notified() => {}
                _ = tokio::time::sleep_until(eof + HALF_CLOSE_GRACE) => {
                    return "closed by peer".into();
                }
            }
            continue;
        }
        let interest = match (eof_at.is_some() || flushing, want_write) {
            (false, false) => Interest::READABLE,
            (false, true) => Interest::READABLE | Interest::WRITABLE,
            _ => Interest::WRITABLE,
        };
        let grace = async {
            match (eof_at, close_by) {
                (_, Some(t)) => tokio::time::sleep_until(t).await,
                (Some(t), None) => tokio::time::sleep_until(t + HALF_CLOSE_GRACE).await,
                (None, None) => std::future::pending().await,
            }
        };
        tokio::select! {
            ready = stream.ready(interest) => {
                let ready = match ready {
                    Ok(r) => r,
                    Err(e) => return format!("error: {e}"),
                };
                if ready.is_readable() && eof_at.is_none() {
                    match read_into_shared(|b| stream.try_read_buf(&mut b.limit(READ_BUF))) {
                        Ok(b) if b.is_empty() => eof_at = Some(Instant::now()),
                        Ok(bytes) => {
                            if tx.send(Msg::Data { id, bytes }).await.is_err() {
                                return "server stopped".into();
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return read_error(e),
                    }
                }
                if ready.is_writable() && want_write {
                    if let Err(e) = write_some(id, stream, shared, tx).await {
                        return format!("write failed: {e}");
                    }
                }
            }
            _ = shared.notify.notified() => {}
            _ = grace => {
                if close_by.is_none() {
                    return "closed by peer (unsent data dropped)".into();
                }
                // The close deadline passed: the next turn closes.
            }
        }
    }
}

pub(crate) fn read_error(e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => "reset by peer".into(),
        io::ErrorKind::ConnectionAborted => "aborted".into(),
        _ => format!("read failed: {e}"),
    }
}

pub(crate) async fn write_some(
    id: ClientId,
    stream: &TcpStream,
    shared: &Shared,
    tx: &mpsc::Sender<Msg>,
) -> io::Result<()> {
    let Some(front) = shared.lock().queue.front().cloned() else {
        return Ok(());
    };
    match stream.try_write(&front) {
        Ok(n) => {
            {
                let mut out = shared.lock();
                // The queue may have been cleared by a close meanwhile.
                if let Some(f) = out.queue.front_mut() {
                    if n >= f.len() {
                        out.queue.pop_front();
                    } else {
                        f.advance(n);
                    }
                    out.queued = out.queued.saturating_sub(n);
                }
            }
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
