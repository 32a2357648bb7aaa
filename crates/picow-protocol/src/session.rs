//! The session between the board and the server on the PC.
//!
//! As in the vendor tutorial: the board connects, sends [`GREETING`], and
//! answers every chunk it receives with [`ECHO_PREFIX`] followed by the same
//! bytes. A board with a configured name sends `Hello WalnutPi! (NAME)`;
//! servers that only know the tutorial still see the greeting first.
//!
//! TCP is a byte stream: one read may hold part of a message or several.
//! The decoders here are fed bytes as they arrive; a partial input means
//! "need more", never an error.

use heapless::{String, Vec};

use crate::forms::NAME_MAX;

/// What the board sends first.
pub const GREETING: &[u8] = b"Hello WalnutPi!";
/// What the board puts before every echoed chunk.
pub const ECHO_PREFIX: &[u8] = b"I got:";
/// The tutorial's server port.
pub const DEFAULT_PORT: u16 = 10000;

/// Writes the greeting, with the board name when there is one, into `out`;
/// returns the bytes written, or `None` when `out` is too small.
pub fn greeting(name: Option<&str>, out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    let mut put = |b: &[u8]| -> Option<()> {
        out.get_mut(n..n + b.len())?.copy_from_slice(b);
        n += b.len();
        Some(())
    };
    put(GREETING)?;
    if let Some(name) = name {
        put(b" (")?;
        put(name.as_bytes())?;
        put(b")")?;
    }
    Some(n)
}

/// What a [`GreetingMatcher`] knows about a peer so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerKind {
    /// Too few bytes to tell.
    Pending,
    /// The first bytes were not the greeting.
    Other,
    /// The peer greeted like a PicoW; the name follows when it sent one.
    Picow {
        /// The board name from `Hello WalnutPi! (NAME)`.
        name: Option<String<NAME_MAX>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MatchState {
    Greeting(usize),
    // After the greeting: 0 = expect ' ', 1 = expect '(', 2 = in the name.
    Suffix(u8),
    Done,
}

/// Recognises a PicoW by the first bytes it sends, fed in any chunks.
#[derive(Debug, Clone)]
pub struct GreetingMatcher {
    state: MatchState,
    kind: PeerKind,
    name: String<NAME_MAX>,
}

impl Default for GreetingMatcher {
    fn default() -> Self {
        GreetingMatcher {
            state: MatchState::Greeting(0),
            kind: PeerKind::Pending,
            name: String::new(),
        }
    }
}

impl GreetingMatcher {
    /// A matcher that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes from the peer; returns what is known now.
    pub fn feed(&mut self, bytes: &[u8]) -> &PeerKind {
        for &b in bytes {
            match self.state {
                MatchState::Done => break,
                MatchState::Greeting(i) => {
                    if b == GREETING[i] {
                        if i + 1 == GREETING.len() {
                            self.kind = PeerKind::Picow { name: None };
                            self.state = MatchState::Suffix(0);
                        } else {
                            self.state = MatchState::Greeting(i + 1);
                        }
                    } else {
                        self.kind = PeerKind::Other;
                        self.state = MatchState::Done;
                    }
                }
                MatchState::Suffix(0) if b == b' ' => self.state = MatchState::Suffix(1),
                MatchState::Suffix(1) if b == b'(' => self.state = MatchState::Suffix(2),
                MatchState::Suffix(2) if b == b')' => {
                    if crate::forms::validate_name(&self.name).is_ok() {
                        self.kind = PeerKind::Picow {
                            name: Some(self.name.clone()),
                        };
                    }
                    self.state = MatchState::Done;
                }
                MatchState::Suffix(2)
                    if (b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                        && self.name.push(b as char).is_ok() => {}
                MatchState::Suffix(_) => self.state = MatchState::Done,
            }
        }
        &self.kind
    }

    /// What is known so far.
    pub fn kind(&self) -> &PeerKind {
        &self.kind
    }

    /// Whether more bytes could still change [`kind`](Self::kind).
    pub fn is_settled(&self) -> bool {
        self.state == MatchState::Done
    }
}

/// One item produced by a [`LineDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line, without its `\n` or `\r\n`.
    Complete(&'a [u8]),
    /// A line longer than the decoder's capacity: the first `N` bytes; the
    /// rest up to the next newline is dropped.
    Truncated(&'a [u8]),
}

/// Splits a byte stream into lines, fed in chunks of any size.
///
/// Holds at most `N` bytes of an unfinished line. Lines end at `\n`; a
/// `\r` right before it is removed.
#[derive(Debug, Clone, Default)]
pub struct LineDecoder<const N: usize> {
    buf: Vec<u8, N>,
    overflowed: bool,
}

impl<const N: usize> LineDecoder<N> {
    /// An empty decoder.
    pub fn new() -> Self {
        LineDecoder {
            buf: Vec::new(),
            overflowed: false,
        }
    }

    /// Feeds bytes; calls `on_line` for every line they complete, in order.
    pub fn feed(&mut self, mut input: &[u8], mut on_line: impl FnMut(Line<'_>)) {
        while !input.is_empty() {
            let nl = input.iter().position(|&b| b == b'\n');
            let (part, rest) = match nl {
                Some(i) => (&input[..i], Some(&input[i + 1..])),
                None => (input, None),
            };
            // Complete a line straight from the input when nothing is buffered.
            if let (Some(_), true, false) = (nl, self.buf.is_empty(), self.overflowed) {
                if part.len() <= N {
                    on_line(Line::Complete(strip_cr(part)));
                    input = rest.unwrap_or(&[]);
                    continue;
                }
            }
            if !self.overflowed {
                let room = N - self.buf.len();
                let take = part.len().min(room);
                // Cannot fail: `take` fits.
                let _ = self.buf.extend_from_slice(&part[..take]);
                if take < part.len() {
                    self.overflowed = true;
                }
            }
            match rest {
                Some(rest) => {
                    if self.overflowed {
                        on_line(Line::Truncated(&self.buf));
                    } else {
                        on_line(Line::Complete(strip_cr(&self.buf)));
                    }
                    self.buf.clear();
                    self.overflowed = false;
                    input = rest;
                }
                None => break,
            }
        }
    }

    /// The bytes of the unfinished line.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// The stream ends (or breaks off) without a newline: hands the
    /// unfinished line, if there is one, to `on_line` (`Truncated` when it
    /// was longer than `N`) and starts afresh.
    pub fn end(&mut self, mut on_line: impl FnMut(Line<'_>)) {
        if self.buf.is_empty() && !self.overflowed {
            return;
        }
        if self.overflowed {
            on_line(Line::Truncated(&self.buf));
        } else {
            on_line(Line::Complete(strip_cr(&self.buf)));
        }
        self.buf.clear();
        self.overflowed = false;
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines<const N: usize>(chunks: &[&[u8]]) -> std::vec::Vec<std::string::String> {
        let mut d = LineDecoder::<N>::new();
        let mut out = std::vec::Vec::new();
        for c in chunks {
            d.feed(c, |l| {
                out.push(match l {
                    Line::Complete(b) => std::string::String::from_utf8_lossy(b).into_owned(),
                    Line::Truncated(b) => {
                        format!("TRUNC:{}", std::string::String::from_utf8_lossy(b))
                    }
                })
            });
        }
        out
    }

    #[test]
    fn lines_across_and_within_chunks() {
        assert_eq!(
            lines::<16>(&[b"ab", b"c\r\nde\nf", b"\n"]),
            ["abc", "de", "f"]
        );
        assert_eq!(lines::<16>(&[b"a\nb\nc"]), ["a", "b"]);
        assert_eq!(lines::<4>(&[b"abcdefg\nhi\n"]), ["TRUNC:abcd", "hi"]);
        assert_eq!(
            lines::<4>(&[b"ab", b"cdefg", b"h\nxy\n"]),
            ["TRUNC:abcd", "xy"]
        );
        assert_eq!(lines::<4>(&[b"\n\r\n"]), ["", ""]);
    }

    #[test]
    fn an_unfinished_line_is_handed_over_at_the_end() {
        let mut d = LineDecoder::<4>::new();
        let mut got = std::vec::Vec::new();
        let mut push = |l: Line<'_>| {
            got.push(match l {
                Line::Complete(b) => (b.to_vec(), true),
                Line::Truncated(b) => (b.to_vec(), false),
            })
        };
        d.end(&mut push);
        d.feed(b"ab\r", |_| {});
        d.end(&mut push);
        d.feed(b"abcdef", |_| {});
        d.end(&mut push);
        d.end(&mut push);
        assert_eq!(got, [(b"ab".to_vec(), true), (b"abcd".to_vec(), false)]);
    }

    #[test]
    fn greeting_with_and_without_name() {
        let mut buf = [0; 64];
        let n = greeting(None, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"Hello WalnutPi!");
        let n = greeting(Some("desk"), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"Hello WalnutPi! (desk)");
        assert_eq!(greeting(Some("desk"), &mut [0; 10]), None);
    }

    #[test]
    fn matcher_byte_by_byte() {
        let mut m = GreetingMatcher::new();
        for &b in &b"Hello WalnutPi! (desk)"[..14] {
            assert_eq!(m.feed(&[b]), &PeerKind::Pending);
        }
        assert_eq!(m.feed(b"!"), &PeerKind::Picow { name: None });
        assert!(!m.is_settled());
        m.feed(b" (de");
        m.feed(b"sk)I got:x");
        assert_eq!(
            m.kind(),
            &PeerKind::Picow {
                name: Some("desk".try_into().unwrap())
            }
        );
        assert!(m.is_settled());
    }

    #[test]
    fn matcher_rejects_other_peers() {
        let mut m = GreetingMatcher::new();
        assert_eq!(m.feed(b"GET / HTTP/1.1"), &PeerKind::Other);
        assert_eq!(m.feed(b"Hello WalnutPi!"), &PeerKind::Other);
        let mut m = GreetingMatcher::new();
        assert_eq!(
            m.feed(b"Hello WalnutPi!I got:"),
            &PeerKind::Picow { name: None }
        );
        assert!(m.is_settled());
    }
}
