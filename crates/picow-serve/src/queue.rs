//! A client's outgoing queue, shared between the hub (which fills it) and
//! the client's task (which writes it out). It is bounded: a client that
//! stops reading is closed, never buffered without limit. A file sent with
//! `/file` is queued as a [`FileSource`] and read a chunk at a time as the
//! client takes it, so it is paced by the client and never counts against
//! the bound.
//!
//! The shared state also carries the client's read credit (one read handed
//! to the hub and not yet taken, so no client can fill the hub's queue) and
//! how it is to stop (`close`, `drain`, `hurry`).

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::event::Reason;
use tokio::sync::{Notify, Semaphore};

/// A file being sent, read as the client takes it.
#[derive(Debug, Clone)]
pub(crate) struct FileSource {
    pub(crate) file: Arc<File>,
    /// The next byte to send.
    pub(crate) offset: u64,
    /// Where the file ends (its size when `/file` was given).
    pub(crate) end: u64,
}

impl FileSource {
    /// Reads the next chunk (at most `max` bytes); `None` at the end.
    pub(crate) fn next_chunk(&mut self, max: usize) -> io::Result<Option<Bytes>> {
        if self.offset >= self.end {
            return Ok(None);
        }
        let want = (self.end - self.offset).min(max as u64) as usize;
        let mut buf = vec![0u8; want];
        let n = read_at(&self.file, &mut buf, self.offset)?;
        if n == 0 {
            // The file shrank: what is there has been sent.
            self.offset = self.end;
            return Ok(None);
        }
        buf.truncate(n);
        self.offset += n as u64;
        Ok(Some(Bytes::from(buf)))
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// What waits to be sent, in order.
#[derive(Debug)]
pub(crate) enum Item {
    Bytes(Bytes),
    File(FileSource),
}

/// The state shared between the hub and one client task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) out: Mutex<Outgoing>,
    pub(crate) notify: Notify,
    /// A permit is a read the client may hand to the hub: taken before a
    /// read, given back when the hub takes the read from its queue.
    pub(crate) credit: Arc<Semaphore>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            out: Mutex::default(),
            notify: Notify::new(),
            credit: Arc::new(Semaphore::new(1)),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    pub(crate) queue: VecDeque<Item>,
    /// Bytes in `queue` (files not counted: they are read as sent).
    pub(crate) queued: usize,
    pub(crate) close: Option<Reason>,
    /// Serve is stopping: read what the socket holds now, then close.
    pub(crate) drain: bool,
    /// Stop at once: no more reads or writes.
    pub(crate) hurry: bool,
    /// The hub has seen the connection and queued the `--send` data for it:
    /// until then a peer's EOF must not end the connection, or a client that
    /// half-closes at once would never get what serve sends to every client.
    pub(crate) welcomed: bool,
}

impl Outgoing {
    /// The next bytes to write (a file's next chunk of at most `chunk`
    /// bytes is read into the queue first), without taking them.
    pub(crate) fn front(&mut self, chunk: usize) -> io::Result<Option<Bytes>> {
        loop {
            match self.queue.front_mut() {
                None => return Ok(None),
                Some(Item::Bytes(b)) => return Ok(Some(b.clone())),
                Some(Item::File(f)) => match f.next_chunk(chunk)? {
                    Some(b) => {
                        self.queued += b.len();
                        self.queue.push_front(Item::Bytes(b));
                    }
                    None => {
                        self.queue.pop_front();
                    }
                },
            }
        }
    }

    /// `n` bytes of the front have been written.
    pub(crate) fn advance(&mut self, n: usize) {
        if let Some(Item::Bytes(f)) = self.queue.front_mut() {
            if n >= f.len() {
                self.queue.pop_front();
            } else {
                bytes::Buf::advance(f, n);
            }
            self.queued = self.queued.saturating_sub(n);
        }
    }
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
            out.close = Some(Reason::NotReading(max));
            out.queue.clear();
            out.queued = 0;
            false
        } else {
            out.queued += bytes.len();
            out.queue.push_back(Item::Bytes(bytes));
            true
        };
        drop(out);
        self.notify.notify_one();
        ok
    }

    /// Queues a file, read and sent as the client takes it.
    pub(crate) fn enqueue_file(&self, file: FileSource) {
        let mut out = self.lock();
        if out.close.is_some() || file.offset >= file.end {
            return;
        }
        out.queue.push_back(Item::File(file));
        drop(out);
        self.notify.notify_one();
    }

    /// The hub has queued everything a new client gets.
    pub(crate) fn welcomed(&self) {
        self.lock().welcomed = true;
        self.notify.notify_one();
    }

    pub(crate) fn close(&self, reason: Reason) {
        let mut out = self.lock();
        if out.close.is_none() {
            out.close = Some(reason);
        }
        drop(out);
        self.notify.notify_one();
    }

    /// Serve is stopping: read what the socket holds, then close.
    pub(crate) fn stop(&self, reason: Reason) {
        let mut out = self.lock();
        if out.close.is_none() {
            out.close = Some(reason);
        }
        out.drain = true;
        drop(out);
        self.notify.notify_one();
    }

    /// Close at once, without reading or writing more.
    pub(crate) fn hurry(&self) {
        let mut out = self.lock();
        if out.close.is_none() {
            out.close = Some(Reason::ServerStopped);
        }
        out.hurry = true;
        drop(out);
        // Wake a task waiting for its credit, too.
        self.credit.add_permits(1);
        self.notify.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().close.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_as_it_is_taken_and_kept_in_order() {
        let dir = std::env::temp_dir().join(format!("picow-queue-{}", std::process::id()));
        std::fs::write(&dir, b"0123456789").unwrap();
        let file = Arc::new(File::open(&dir).unwrap());
        let s = Shared::default();
        assert!(s.enqueue(Bytes::from_static(b"<"), 4));
        s.enqueue_file(FileSource {
            file,
            offset: 0,
            end: 10,
        });
        assert!(s.enqueue(Bytes::from_static(b">"), 4));
        let mut got = Vec::new();
        let mut out = s.lock();
        while let Some(b) = out.front(3).unwrap() {
            // Only what was read counts against the bound.
            assert!(out.queued <= 2 + 3, "{}", out.queued);
            let n = b.len().min(2);
            got.extend_from_slice(&b[..n]);
            out.advance(n);
        }
        assert_eq!(got, b"<0123456789>");
        assert_eq!(out.queued, 0);
        drop(out);
        std::fs::remove_file(&dir).unwrap();
    }
}
