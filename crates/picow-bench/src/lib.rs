//! Shared pieces of the serve benchmark's load generator and baseline
//! server: the message format and the file-descriptor limit; and
//! [`chrome`], headless Chromium for the page's tests and benchmark.
//!
//! A message is `size` ASCII bytes ending in `\n`:
//! `c<client> s<seq> t<unix-nanos> ....\n`, so that whoever receives it can
//! tell who sent it and when.

#[cfg(unix)]
pub mod chrome;

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (wall clock, the same for every process
/// on the machine).
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Appends one message of exactly `size` bytes to `out`.
pub fn message(out: &mut Vec<u8>, client: usize, seq: usize, t_ns: u128, size: usize) {
    let mut s = String::with_capacity(size);
    let _ = write!(s, "c{client} s{seq} t{t_ns} ");
    let body = size.saturating_sub(1).max(s.len());
    while s.len() < body {
        s.push('.');
    }
    s.truncate(size.saturating_sub(1));
    s.push('\n');
    out.extend_from_slice(s.as_bytes());
}

/// Parses the send time out of one message (without its `\n`).
pub fn send_time(msg: &str) -> Option<u128> {
    msg.split(' ')
        .find_map(|w| w.strip_prefix('t')?.parse().ok())
}

/// Raises the soft open-file limit to the hard limit; returns the new soft
/// limit.
pub fn raise_nofile() -> u64 {
    #[cfg(unix)]
    {
        if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
            let _ = rlimit::Resource::NOFILE.set(hard, hard);
        }
        rlimit::Resource::NOFILE.get().map(|(s, _)| s).unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_size_and_carry_the_time() {
        let mut v = Vec::new();
        message(&mut v, 12, 345, 1_764_150_000_123_456_789, 64);
        assert_eq!(v.len(), 64);
        assert_eq!(v[63], b'\n');
        let s = std::str::from_utf8(&v[..63]).unwrap();
        assert!(s.starts_with("c12 s345 t1764150000123456789 ..."));
        assert_eq!(send_time(s), Some(1_764_150_000_123_456_789));
    }
}
