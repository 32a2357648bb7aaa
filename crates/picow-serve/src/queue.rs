//! A client's outgoing queue, shared between the hub (which fills it) and
//! the client's task (which writes it out). It is bounded: a client that
//! stops reading is closed, never buffered without limit.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// The state shared between the hub and one client task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) out: Mutex<Outgoing>,
    pub(crate) notify: Notify,
}

#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    pub(crate) queue: VecDeque<Bytes>,
    pub(crate) queued: usize,
    pub(crate) close: Option<String>,
    /// The hub has seen the connection and queued the `--send` data for it:
    /// until then a peer's EOF must not end the connection, or a client that
    /// half-closes at once would never get what serve sends to every client.
    pub(crate) welcomed: bool,
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Outgoing> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues bytes; a client over `max` is closed instead. Returns false
    /// when the client was closed by this call.
    pub(crate) fn enqueue(&self, bytes: Bytes, max: usize) -> bool {
        let mut out = self.lock();
        if out.close.is_some() || bytes.is_empty() {
            return true;
        }
        let ok = if out.queued + bytes.len() > max {
            out.close = Some(format!(
                "not reading: more than {max} bytes waiting to be sent (--max-queue)"
            ));
            out.queue.clear();
            out.queued = 0;
            false
        } else {
            out.queued += bytes.len();
            out.queue.push_back(bytes);
            true
        };
        drop(out);
        self.notify.notify_one();
        ok
    }

    /// The hub has queued everything a new client gets.
    pub(crate) fn welcomed(&self) {
        self.lock().welcomed = true;
        self.notify.notify_one();
    }

    pub(crate) fn close(&self, reason: &str) {
        let mut out = self.lock();
        if out.close.is_none() {
            out.close = Some(reason.to_owned());
        }
        drop(out);
        self.notify.notify_one();
    }
}
