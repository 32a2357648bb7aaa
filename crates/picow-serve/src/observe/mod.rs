//! The observers that write: plain lines for people ([`Human`]), JSON lines
//! (`--json`, [`Json`]), and the byte log (`--log`, [`Log`]); and
//! [`Threaded`], which runs any of them on a thread of its own.

use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::SystemTime;

use crate::event::{Event, Observer};

mod human;
mod json;
mod log;

pub use human::{data_lines, ota_line, summary_line, Human};
pub use json::Json;
pub use log::Log;

/// Runs an observer on a thread of its own, so that formatting and writing
/// (the log, the JSON output) overlap with the engine's work. Events go over
/// in batches (fewer thread wake-ups) through a queue bounded in bytes
/// ([`BUDGET`]): what waits for a slow output is small, so that what a
/// client that has just connected sends is shown soon even while others
/// flood; an error on the thread is returned by the next call.
#[derive(Debug)]
pub struct Threaded {
    tx: Option<std::sync::mpsc::SyncSender<Job>>,
    wants_text: bool,
    batch: Vec<(SystemTime, Event)>,
    batch_bytes: usize,
    pending: Arc<(Mutex<usize>, Condvar)>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

/// Events per batch at most.
const BATCH: usize = 32;
/// Data bytes per batch at most.
const BATCH_BYTES: usize = 256 << 10;
/// Data bytes handed to the thread and not yet written, at most (a batch
/// is let through when nothing else waits).
pub const BUDGET: usize = 2 << 20;

/// The data bytes an event carries (what its formatting costs).
fn weight(e: &Event) -> usize {
    match e {
        Event::Data { bytes, .. } | Event::Sent { bytes, .. } => bytes.len() + 64,
        _ => 64,
    }
}

#[derive(Debug)]
enum Job {
    Events(Vec<(SystemTime, Event)>, usize),
    Flush,
}

impl Threaded {
    /// Moves `inner` to a new thread.
    pub fn new(mut inner: Box<dyn Observer>) -> Threaded {
        let wants_text = inner.wants_text();
        // Bounded on purpose: at most 64 batches wait for the thread (with
        // BUDGET bounding their data bytes). When the thread falls that far
        // behind, the engine waits for it (back-pressure): nothing is
        // dropped and memory does not grow. The terminal view's observer
        // only updates its state under a lock (drawing is elsewhere), so it
        // keeps up; a slow terminal or disk slows serve rather than losing
        // lines.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(64);
        let pending = Arc::new((Mutex::new(0usize), Condvar::new()));
        let done = pending.clone();
        let thread = std::thread::spawn(move || -> io::Result<()> {
            // However the thread ends, nobody waits for its budget any more.
            struct Release(Arc<(Mutex<usize>, Condvar)>);
            impl Drop for Release {
                fn drop(&mut self) {
                    let (m, cv) = &*self.0;
                    *m.lock().unwrap_or_else(|e| e.into_inner()) = 0;
                    cv.notify_all();
                }
            }
            let _release = Release(done.clone());
            while let Ok(job) = rx.recv() {
                match job {
                    Job::Events(events, bytes) => {
                        for (at, e) in &events {
                            inner.event(*at, e)?;
                        }
                        let (m, cv) = &*done;
                        let mut p = m.lock().unwrap_or_else(|e| e.into_inner());
                        *p = p.saturating_sub(bytes);
                        cv.notify_all();
                    }
                    Job::Flush => inner.flush()?,
                }
            }
            inner.finish()
        });
        Threaded {
            tx: Some(tx),
            wants_text,
            batch: Vec::with_capacity(BATCH),
            batch_bytes: 0,
            pending,
            thread: Some(thread),
        }
    }

    fn send(&mut self, job: Job) -> io::Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok());
        if sent {
            Ok(())
        } else {
            // The thread stopped: return its error.
            self.tx = None;
            match self.thread.take().map(|t| t.join()) {
                Some(Ok(Err(e))) => Err(e),
                _ => Err(io::Error::other("output thread stopped")),
            }
        }
    }

    fn send_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.batch_bytes);
        {
            // Wait while the thread has enough to do (a batch always goes
            // when nothing waits, however large).
            let (m, cv) = &*self.pending;
            let mut p = m.lock().unwrap_or_else(|e| e.into_inner());
            while *p > 0
                && *p + bytes > BUDGET
                && self.thread.as_ref().is_some_and(|t| !t.is_finished())
            {
                p = cv
                    .wait_timeout(p, std::time::Duration::from_millis(50))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            *p += bytes;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.send(Job::Events(batch, bytes))
    }
}

/// Ending without [`Observer::finish`] (serve stopped on an error) still
/// writes out what was handed over: the log keeps everything received.
impl Drop for Threaded {
    fn drop(&mut self) {
        let _ = self.send_batch();
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Observer for Threaded {
    fn wants_text(&self) -> bool {
        self.wants_text
    }

    fn event(&mut self, at: SystemTime, event: &Event) -> io::Result<()> {
        self.batch_bytes += weight(event);
        self.batch.push((at, event.clone()));
        if self.batch.len() >= BATCH || self.batch_bytes >= BATCH_BYTES {
            self.send_batch()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_batch()?;
        self.send(Job::Flush)
    }

    fn check(&mut self) -> io::Result<()> {
        // The thread ends by itself only on an error (it is told to end by
        // closing the channel, in finish).
        if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
            self.tx = None;
            return match self.thread.take().map(|t| t.join()) {
                Some(Ok(Err(e))) => Err(e),
                _ => Err(io::Error::other("output thread stopped")),
            };
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.send_batch()?;
        self.tx = None;
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("output thread panicked"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::io::Write;

    /// Data from client 7 (for the observers' tests).
    pub(super) fn data(bytes: &'static [u8], text: &str) -> Event {
        Event::Data {
            id: 7,
            bytes: Bytes::from_static(bytes),
            text: text.into(),
        }
    }

    #[test]
    fn threaded_output_is_complete_after_finish() {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut t = Threaded::new(Box::new(Log::new(io::BufWriter::new(Shared(buf.clone())))));
        for _ in 0..1000 {
            t.event(SystemTime::UNIX_EPOCH, &data(b"x", "x")).unwrap();
        }
        t.finish().unwrap();
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1000);
        // Dropped without finish (serve ended on an error): still complete.
        buf.lock().unwrap().clear();
        let mut t = Threaded::new(Box::new(Log::new(io::BufWriter::new(Shared(buf.clone())))));
        for _ in 0..1000 {
            t.event(SystemTime::UNIX_EPOCH, &data(b"x", "x")).unwrap();
        }
        drop(t);
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1000);
    }
}
