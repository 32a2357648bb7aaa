//! What the TCP and UDP tasks share: the messages they send the hub, the
//! zero-copy read buffer, and the acceptor's context (ids, the client
//! limit, the stop signal).

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, watch};

use crate::event::{ClientId, Reason};
use crate::queue::Shared;

/// Bytes read at most at once: with the bounded queues to the hub and the
/// output, this bounds the memory that reads not yet handled can hold.
pub(crate) const READ_BUF: usize = 64 * 1024;

/// From client tasks to the hub. `Connected`, `Refused` and `Error` go on
/// the hub's lifecycle queue, which it takes first (so that a new client is
/// announced at once, however much data waits); a client's `Data`, `Sent`
/// and `Closed` go on the data queue, in order.
#[derive(Debug)]
pub(crate) enum Msg {
    Connected {
        id: ClientId,
        peer: SocketAddr,
        shared: Arc<Shared>,
    },
    Data {
        id: ClientId,
        bytes: Bytes,
    },
    Sent {
        id: ClientId,
        bytes: Bytes,
    },
    Closed {
        id: ClientId,
        reason: Reason,
        /// Bytes still in the socket when it was closed (nothing was read
        /// after the close; for a stop, they arrived after it).
        unread: u64,
    },
    Refused {
        peer: SocketAddr,
        reason: Reason,
    },
    Error(picow_i18n::Msg),
}

impl Msg {
    /// The client a read, write or close is of.
    pub(crate) fn client(&self) -> Option<ClientId> {
        match self {
            Msg::Data { id, .. } | Msg::Sent { id, .. } | Msg::Closed { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// The block that reads are cut from (see [`read_into_shared`]).
pub(crate) const SLAB: usize = 1 << 20;

thread_local! {
    static READS: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Reads once (`f` appends to the buffer it is given) and returns what was
/// read, without a copy: reads go straight into a 1 MiB block per worker
/// thread and each is cut off as its own `Bytes`. When everything cut from a
/// block has been dropped (the hub and the output threads are done with it)
/// the block is reused. A client holds no buffer between reads.
pub(crate) fn read_into_shared(
    f: impl FnOnce(&mut BytesMut) -> io::Result<usize>,
) -> io::Result<Bytes> {
    READS.with(|slab| {
        let mut slab = slab.borrow_mut();
        if slab.capacity() - slab.len() < READ_BUF {
            slab.reserve(SLAB);
        }
        let result = f(&mut slab);
        // What was read, or nothing on an error.
        let bytes = slab.split().freeze();
        result.map(|_| bytes)
    })
}

pub(crate) fn canonical(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

/// What the tasks share with the acceptor.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The data queue (reads, writes, closes).
    pub(crate) tx: mpsc::Sender<Msg>,
    /// The lifecycle queue (connects, refusals, errors), taken first.
    pub(crate) life: mpsc::Sender<Msg>,
    /// Refusals not reported one by one (the lifecycle queue was full).
    pub(crate) refused_unreported: Arc<AtomicU64>,
    pub(crate) next_id: Arc<AtomicU64>,
    pub(crate) active: Arc<AtomicUsize>,
    pub(crate) max_clients: usize,
    pub(crate) stop: watch::Receiver<bool>,
}

impl Ctx {
    /// Takes a client slot, or says why not.
    pub(crate) fn admit(&self) -> Result<ClientId, Reason> {
        let prev = self.active.fetch_add(1, Ordering::AcqRel);
        if prev >= self.max_clients {
            self.active.fetch_sub(1, Ordering::AcqRel);
            return Err(Reason::TooMany {
                connected: prev,
                max: self.max_clients,
            });
        }
        Ok(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Tells the hub about a new client; returns the state the client's
    /// task shares with the hub, or `None` when the hub has stopped.
    pub(crate) async fn connected(&self, id: ClientId, peer: SocketAddr) -> Option<Arc<Shared>> {
        let shared = Arc::new(Shared::default());
        let msg = Msg::Connected {
            id,
            peer,
            shared: shared.clone(),
        };
        self.life.send(msg).await.ok().map(|()| shared)
    }

    /// Reports a refusal without ever waiting: a storm of connections
    /// beyond `--max-clients` must not stall the accept loop. Refusals that
    /// do not fit are counted for the summary.
    pub(crate) fn refused(&self, peer: SocketAddr, reason: Reason) {
        if self.life.try_send(Msg::Refused { peer, reason }).is_err() {
            self.refused_unreported.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reports an error without waiting.
    pub(crate) fn error(&self, message: picow_i18n::Msg) {
        let _ = self.life.try_send(Msg::Error(message));
    }
}

/// Bytes waiting in a socket's receive queue (`FIONREAD`); `None` where it
/// cannot be asked.
#[cfg(unix)]
pub(crate) fn unread_bytes<S: std::os::fd::AsFd>(s: &S) -> Option<u64> {
    rustix::io::ioctl_fionread(s).ok()
}

/// Bytes waiting in a socket's receive queue: not asked on this system.
#[cfg(not(unix))]
pub(crate) fn unread_bytes<S>(_s: &S) -> Option<u64> {
    None
}
