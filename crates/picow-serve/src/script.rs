//! The scripted conditions of `picow serve`: `--expect` patterns seen in
//! order (from any client, or from `--from ID`) and `--clients N`.

use std::collections::HashMap;

use regex::Regex;

use crate::event::{ClientId, Seen};

/// Text kept per client for matching; older text is dropped.
const MATCH_WINDOW: usize = 64 * 1024;
/// Text kept per client to show on timeout.
const SEEN_TAIL: usize = 1024;

/// Progress through the `--expect` and `--clients` conditions.
#[derive(Debug)]
pub struct Script {
    expects: Vec<Regex>,
    next: usize,
    from: Option<ClientId>,
    need_clients: Option<u64>,
    peak: u64,
    /// Unmatched text per client (only while patterns are pending).
    pending: HashMap<ClientId, String>,
    /// The last text per client, for the timeout report.
    seen: HashMap<ClientId, String>,
}

impl Script {
    /// Conditions from the flags.
    pub fn new(expects: Vec<Regex>, from: Option<ClientId>, need_clients: Option<u64>) -> Script {
        Script {
            expects,
            next: 0,
            from,
            need_clients,
            peak: 0,
            pending: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    /// Whether there is anything to wait for.
    pub fn has_conditions(&self) -> bool {
        !self.expects.is_empty() || self.need_clients.is_some()
    }

    /// Whether everything has been seen.
    pub fn done(&self) -> bool {
        self.next >= self.expects.len() && self.need_clients.is_none_or(|n| self.peak >= n)
    }

    /// A client connected; `now` clients are connected.
    pub fn connected(&mut self, now: u64) {
        self.peak = self.peak.max(now);
    }

    /// Whether text received now can still complete a pattern.
    pub fn wants_text(&self) -> bool {
        self.next < self.expects.len()
    }

    /// Text from a client; returns the patterns it completed, in order,
    /// with the text each matched.
    pub fn text(&mut self, id: ClientId, text: &str) -> Vec<(usize, String, String)> {
        let mut met = Vec::new();
        if self.next >= self.expects.len() || self.from.is_some_and(|f| f != id) {
            return met;
        }
        let seen = self.seen.entry(id).or_default();
        seen.push_str(text);
        trim_front(seen, SEEN_TAIL);
        let buf = self.pending.entry(id).or_default();
        buf.push_str(text);
        while let Some(re) = self.expects.get(self.next) {
            let Some(m) = re.find(buf) else { break };
            met.push((self.next, re.as_str().to_owned(), m.as_str().to_owned()));
            self.next += 1;
            // The next pattern must match after this one.
            let end = m.end();
            buf.drain(..end);
        }
        trim_front(buf, MATCH_WINDOW);
        if self.next >= self.expects.len() {
            self.pending.clear();
        }
        met
    }

    /// For the timeout: the patterns not seen, how many clients were
    /// missing, and the last text from each client.
    pub fn report(&self, connected: u64) -> (Vec<String>, Option<u64>, Vec<Seen>) {
        let unmet = self.expects[self.next.min(self.expects.len())..]
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect();
        let missing = self
            .need_clients
            .filter(|&n| self.peak < n)
            .map(|n| n - connected.min(n));
        let mut seen: Vec<Seen> = self
            .seen
            .iter()
            .map(|(&id, s)| Seen {
                id,
                text: s.clone(),
            })
            .collect();
        seen.sort_by_key(|s| s.id);
        (unmet, missing, seen)
    }
}

/// Keeps at most the last `max` bytes of `s`, cut at a character boundary.
fn trim_front(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = s.len() - max;
        while !s.is_char_boundary(cut) {
            cut += 1;
        }
        s.drain(..cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(pats: &[&str], from: Option<u64>) -> Script {
        Script::new(
            pats.iter().map(|p| Regex::new(p).unwrap()).collect(),
            from,
            None,
        )
    }

    #[test]
    fn patterns_match_in_order_across_chunks() {
        let mut s = script(&["Hello WalnutPi!", "I got:ping"], None);
        assert!(s.has_conditions() && !s.done());
        // The second pattern before the first does not count.
        assert!(s.text(1, "I got:ping ").is_empty());
        assert_eq!(s.text(1, "Hello Wal").len(), 0);
        let met = s.text(1, "nutPi!I go");
        assert_eq!(
            met,
            vec![(0, "Hello WalnutPi!".into(), "Hello WalnutPi!".into())]
        );
        assert!(!s.done());
        let met = s.text(1, "t:ping");
        assert_eq!(met[0].0, 1);
        assert!(s.done());
    }

    #[test]
    fn one_chunk_can_meet_several_and_from_filters() {
        let mut s = script(&["a", "b"], Some(2));
        assert!(s.text(1, "ab").is_empty());
        assert_eq!(s.text(2, "ab").len(), 2);
        assert!(s.done());
        let mut s = script(&["x", "x"], None);
        assert_eq!(s.text(1, "x").len(), 1);
        assert_eq!(s.text(1, "x").len(), 1);
    }

    #[test]
    fn clients_condition_and_report() {
        let mut s = Script::new(vec![Regex::new("never").unwrap()], None, Some(2));
        s.connected(1);
        s.text(1, "something else");
        let (unmet, missing, seen) = s.report(1);
        assert_eq!(unmet, ["never"]);
        assert_eq!(missing, Some(1));
        assert_eq!(
            seen,
            vec![Seen {
                id: 1,
                text: "something else".to_owned()
            }]
        );
        let mut s = Script::new(vec![], None, Some(2));
        s.connected(2);
        assert!(s.done());
        assert!(!Script::new(vec![], None, None).has_conditions());
    }

    #[test]
    fn windows_are_bounded() {
        let mut s = script(&["never"], None);
        for _ in 0..100 {
            s.text(1, &"é".repeat(1000));
        }
        assert!(s.pending[&1].len() <= MATCH_WINDOW);
        assert!(s.seen[&1].len() <= SEEN_TAIL);
    }
}
