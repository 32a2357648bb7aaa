//! Capped exponential backoff.

/// Delays that double from `first_ms` up to `max_ms`.
///
/// ```
/// use picow_app::Backoff;
/// let mut b = Backoff::new(1_000, 5_000);
/// assert_eq!([b.next_ms(), b.next_ms(), b.next_ms(), b.next_ms()], [1_000, 2_000, 4_000, 5_000]);
/// b.reset();
/// assert_eq!(b.next_ms(), 1_000);
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    first_ms: u32,
    max_ms: u32,
    next_ms: u32,
}

impl Backoff {
    /// A backoff whose first delay is `first_ms`.
    pub const fn new(first_ms: u32, max_ms: u32) -> Backoff {
        Backoff {
            first_ms,
            max_ms,
            next_ms: first_ms,
        }
    }

    /// The next delay; each call doubles the one after, up to the cap.
    pub fn next_ms(&mut self) -> u32 {
        let d = self.next_ms;
        self.next_ms = d.saturating_mul(2).min(self.max_ms);
        d
    }

    /// Starts over at the first delay (after a success).
    pub fn reset(&mut self) {
        self.next_ms = self.first_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let mut b = Backoff::new(1_000, 30_000);
        let v: [u32; 7] = core::array::from_fn(|_| b.next_ms());
        assert_eq!(v, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        let mut b = Backoff::new(u32::MAX / 2 + 1, u32::MAX);
        b.next_ms();
        assert_eq!(b.next_ms(), u32::MAX);
    }
}
