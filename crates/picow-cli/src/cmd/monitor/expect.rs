//! CI mode: `--expect` patterns in order, `--fail` patterns, `--timeout`.
//!
//! [`Ci`] is fed lines and the current time, and says when the run is
//! decided; it never reads a clock itself, so its timing is tested with
//! made-up instants.

use std::time::{Duration, Instant};

use regex::Regex;

use crate::exit::{Exit, UsageError};

/// How a CI run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every `--expect` pattern was seen, in order.
    AllMet,
    /// A `--fail` pattern was seen in this line.
    Failed {
        /// The pattern.
        pattern: String,
        /// The line it matched.
        line: String,
    },
    /// `--timeout` passed first; `next` is the first expectation not met
    /// (`None` when there were no expectations: a capture window).
    TimedOut {
        /// Index of the first unmet expectation.
        next: Option<usize>,
    },
}

impl Outcome {
    /// The exit code: 0 all met (or a capture window ended), 1 failed, 124 timed out.
    pub fn exit(&self) -> Exit {
        match self {
            Outcome::AllMet | Outcome::TimedOut { next: None } => Exit::Success,
            Outcome::Failed { .. } => Exit::Failure,
            Outcome::TimedOut { next: Some(_) } => Exit::Timeout,
        }
    }
}

/// The expectations and their progress.
#[derive(Debug)]
pub struct Ci {
    expects: Vec<Regex>,
    fails: Vec<Regex>,
    next: usize,
    deadline: Option<Instant>,
    lines_seen: u64,
    met_at: Vec<u64>,
}

/// Compiles the patterns of a flag, naming the flag and the pattern in the error.
pub fn compile(flag: &str, patterns: &[String]) -> Result<Vec<Regex>, UsageError> {
    patterns
        .iter()
        .map(|p| {
            Regex::new(p).map_err(|e| {
                UsageError(format!(
                    "{flag} `{p}` is not a valid regular expression: {}",
                    e.to_string().lines().last().unwrap_or_default().trim()
                ))
            })
        })
        .collect()
}

impl Ci {
    /// Starts at `start`; `timeout` counts from there.
    pub fn new(
        expects: Vec<Regex>,
        fails: Vec<Regex>,
        timeout: Option<Duration>,
        start: Instant,
    ) -> Self {
        Ci {
            expects,
            fails,
            next: 0,
            deadline: timeout.map(|t| start + t),
            lines_seen: 0,
            met_at: Vec::new(),
        }
    }

    /// Whether there is anything to decide (else the monitor runs until stopped).
    pub fn is_active(&self) -> bool {
        !self.expects.is_empty() || !self.fails.is_empty() || self.deadline.is_some()
    }

    /// Whether expectations remain unmet.
    pub fn pending(&self) -> bool {
        self.next < self.expects.len()
    }

    /// The expectations.
    pub fn expects(&self) -> &[Regex] {
        &self.expects
    }

    /// How many expectations were met so far.
    pub fn met(&self) -> usize {
        self.next
    }

    /// Lines seen so far.
    pub fn lines_seen(&self) -> u64 {
        self.lines_seen
    }

    /// When the timeout ends, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// A whole line arrived. A fail pattern wins over an expectation in the
    /// same line; one line can meet several expectations in a row, each
    /// found after the previous one's match. Returns the expectations met
    /// by this line (indices) and the outcome if the run is decided.
    pub fn on_line(&mut self, line: &str) -> (Vec<usize>, Option<Outcome>) {
        self.lines_seen += 1;
        if let Some(re) = self.fails.iter().find(|re| re.is_match(line)) {
            return (
                Vec::new(),
                Some(Outcome::Failed {
                    pattern: re.as_str().to_string(),
                    line: line.to_string(),
                }),
            );
        }
        let mut met = Vec::new();
        let mut from = 0;
        while let Some(re) = self.expects.get(self.next) {
            match re.find_at(line, from) {
                Some(m) => {
                    met.push(self.next);
                    self.met_at.push(self.lines_seen);
                    self.next += 1;
                    from = m.end();
                }
                None => break,
            }
        }
        let done = !met.is_empty() && !self.pending();
        (met, done.then_some(Outcome::AllMet))
    }

    /// The time is `now`: the outcome if the timeout has passed.
    pub fn on_tick(&self, now: Instant) -> Option<Outcome> {
        let deadline = self.deadline?;
        (now >= deadline).then(|| Outcome::TimedOut {
            next: self.pending().then_some(self.next),
        })
    }

    /// How long the run loop may wait for input before it must look at the
    /// clock again.
    pub fn wait_limit(&self, now: Instant, max: Duration) -> Duration {
        match self.deadline {
            Some(d) => d.saturating_duration_since(now).min(max),
            None => max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(expects: &[&str], fails: &[&str], timeout: Option<u64>, t0: Instant) -> Ci {
        let e = compile(
            "--expect",
            &expects.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        let f = compile(
            "--fail",
            &fails.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        Ci::new(e, f, timeout.map(Duration::from_secs), t0)
    }

    #[test]
    fn expectations_in_order() {
        let t0 = Instant::now();
        let mut c = ci(&["boot", "wifi-joined", "server-connected"], &[], None, t0);
        // Out of order: server-connected before wifi-joined does not count.
        assert_eq!(c.on_line("@picow server-connected"), (vec![], None));
        assert_eq!(c.on_line("@picow boot"), (vec![0], None));
        assert_eq!(c.on_line("@picow server-connected"), (vec![], None));
        assert_eq!(c.on_line("@picow wifi-joined"), (vec![1], None));
        assert_eq!(
            c.on_line("@picow server-connected"),
            (vec![2], Some(Outcome::AllMet))
        );
        assert_eq!(Outcome::AllMet.exit(), Exit::Success);
    }

    #[test]
    fn one_line_can_meet_consecutive_expectations() {
        let mut c = ci(&["a", "b", "a"], &[], None, Instant::now());
        assert_eq!(c.on_line("a b"), (vec![0, 1], None));
        assert_eq!(c.on_line("xa"), (vec![2], Some(Outcome::AllMet)));
    }

    #[test]
    fn fail_wins() {
        let mut c = ci(
            &["ready"],
            &["panic", "Guru Meditation"],
            None,
            Instant::now(),
        );
        let (_, o) = c.on_line("ready but panic");
        let o = o.unwrap();
        assert_eq!(
            o,
            Outcome::Failed {
                pattern: "panic".into(),
                line: "ready but panic".into()
            }
        );
        assert_eq!(o.exit(), Exit::Failure);
    }

    #[test]
    fn timeout_with_simulated_time() {
        let t0 = Instant::now();
        let mut c = ci(&["x", "y"], &[], Some(10), t0);
        assert_eq!(c.on_tick(t0 + Duration::from_millis(9_999)), None);
        c.on_line("x");
        let o = c.on_tick(t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(o, Outcome::TimedOut { next: Some(1) });
        assert_eq!(o.exit(), Exit::Timeout);
        // The loop never sleeps past the deadline.
        assert_eq!(
            c.wait_limit(t0 + Duration::from_millis(9_990), Duration::from_millis(50)),
            Duration::from_millis(10)
        );
        assert_eq!(
            c.wait_limit(t0, Duration::from_millis(50)),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn timeout_without_expectations_is_a_capture_window() {
        let t0 = Instant::now();
        let c = ci(&[], &["panic"], Some(5), t0);
        let o = c.on_tick(t0 + Duration::from_secs(6)).unwrap();
        assert_eq!(o.exit(), Exit::Success);
        let c = ci(&[], &[], None, t0);
        assert!(!c.is_active());
        assert_eq!(c.on_tick(t0 + Duration::from_secs(1_000_000)), None);
    }

    #[test]
    fn bad_patterns_name_the_flag() {
        let err = compile("--expect", &["(".into()]).unwrap_err();
        assert!(
            err.0
                .starts_with("--expect `(` is not a valid regular expression"),
            "{}",
            err.0
        );
    }
}
