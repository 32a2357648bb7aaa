//! Durations: `90` (seconds), `90s`, `1m30s`, `1m 30s`, `500ms`, `1.5s`,
//! `2h`, `1 minute` (jiff's friendly format, plus bare seconds).

use std::time::Duration;

use jiff::SignedDuration;

/// What every duration flag accepts, said once.
pub const RULE: &str =
    "write a number of seconds or a number with a unit, e.g. 90, 90s, 1m30s, 1m 30s, 500ms";

/// A duration that could not be read, or is outside the flag's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all.
    #[error("`{0}` is not a duration: {RULE}")]
    Syntax(String),
    /// Negative: `-1s`.
    #[error("`{0}` is negative: a duration must be more than 0")]
    Negative(String),
    /// Below the flag's minimum (for most flags: zero).
    #[error("`{value}` is too short: the least is {min}")]
    TooShort {
        /// What was given.
        value: String,
        /// The minimum, written as [`format()`] does.
        min: String,
    },
    /// Above the flag's maximum.
    #[error("`{value}` is too long: the most is {max}")]
    TooLong {
        /// What was given.
        value: String,
        /// The maximum, written as [`format()`] does.
        max: String,
    },
}

/// Reads a duration of any length, zero included.
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let syntax = || DurationError::Syntax(s.to_owned());
    if t.is_empty() {
        return Err(syntax());
    }
    // A bare number is seconds (`90`, `1.5`).
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = t.parse().map_err(|_| syntax())?;
        return Duration::try_from_secs_f64(secs).map_err(|_| syntax());
    }
    if t.starts_with('-') || t.ends_with(" ago") {
        return Err(DurationError::Negative(s.to_owned()));
    }
    let d: SignedDuration = t.parse().map_err(|_| syntax())?;
    Duration::try_from(d).map_err(|_| DurationError::Negative(s.to_owned()))
}

/// Reads a duration within `min..=max`.
pub fn parse_within(s: &str, min: Duration, max: Duration) -> Result<Duration, DurationError> {
    let d = parse(s)?;
    if d < min {
        return Err(DurationError::TooShort {
            value: s.trim().to_owned(),
            min: format(min),
        });
    }
    if d > max {
        return Err(DurationError::TooLong {
            value: s.trim().to_owned(),
            max: format(max),
        });
    }
    Ok(d)
}

/// Reads a duration that must be more than zero (and at most a year, which
/// no wait in picow needs: a larger value is a typo).
pub fn parse_positive(s: &str) -> Result<Duration, DurationError> {
    parse_within(s, Duration::from_millis(1), YEAR)
}

/// The longest duration [`parse_positive`] takes: 365 days.
pub const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// A duration for people, in the form [`parse`] reads back: `1m 30s`,
/// `500ms`, `2h 5m`, `0s`.
pub fn format(d: Duration) -> String {
    match SignedDuration::try_from(d) {
        Ok(sd) => format!("{sd:#}"),
        Err(_) => format!("{}s", d.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_form_the_flags_document() {
        let s90 = Duration::from_secs(90);
        for form in [
            "90",
            "90s",
            "1m30s",
            "1m 30s",
            " 1m 30s ",
            "1.5m",
            "1 minute 30 seconds",
        ] {
            assert_eq!(parse(form), Ok(s90), "{form}");
        }
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn errors_state_the_rule() {
        for bad in ["", "soon", "1m 30", "1d", "1..5s", "s"] {
            let e = parse(bad).unwrap_err();
            assert!(matches!(e, DurationError::Syntax(_)), "{bad}: {e}");
            assert!(e.to_string().contains("e.g. 90, 90s, 1m30s"), "{e}");
        }
        assert!(matches!(parse("-1s"), Err(DurationError::Negative(_))));
        assert!(matches!(parse("1s ago"), Err(DurationError::Negative(_))));
        assert_eq!(
            parse_positive("0s").unwrap_err().to_string(),
            "`0s` is too short: the least is 1ms"
        );
        assert_eq!(
            parse_positive("1000000000h").unwrap_err().to_string(),
            "`1000000000h` is too long: the most is 8760h"
        );
        assert_eq!(
            parse_within("5ms", Duration::from_millis(10), YEAR)
                .unwrap_err()
                .to_string(),
            "`5ms` is too short: the least is 10ms"
        );
    }

    #[test]
    fn formats_read_back() {
        assert_eq!(format(Duration::from_secs(90)), "1m 30s");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
        assert_eq!(format(Duration::ZERO), "0s");
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(ms in 0u64..10_000_000_000) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse(&format(d)), Ok(d));
        }

        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = parse(&s);
        }
    }
}
