//! Timestamps: for people, the time of day in the local time zone by
//! default (the system's, or `TZ`), or UTC with `--utc`; for programs
//! (`--json`, `--log`), RFC 3339 always in UTC with the `Z` offset.

use std::sync::OnceLock;
use std::time::SystemTime;

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Which clock people's timestamps follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// The system time zone (or `TZ`): the default everywhere in picow.
    #[default]
    Local,
    /// UTC (`--utc`).
    Utc,
}

impl Zone {
    /// The zone the `--utc` flag selects.
    pub fn from_utc_flag(utc: bool) -> Zone {
        if utc {
            Zone::Utc
        } else {
            Zone::Local
        }
    }

    /// The time zone itself (the local one is looked up once).
    pub fn tz(self) -> &'static TimeZone {
        static LOCAL: OnceLock<TimeZone> = OnceLock::new();
        static UTC: OnceLock<TimeZone> = OnceLock::new();
        match self {
            Zone::Local => LOCAL.get_or_init(TimeZone::system),
            Zone::Utc => UTC.get_or_init(|| TimeZone::UTC),
        }
    }
}

fn timestamp(at: SystemTime) -> Timestamp {
    Timestamp::try_from(at).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The time of day for people: `09:12:01.123` in `zone`.
pub fn clock(at: SystemTime, zone: Zone) -> String {
    clock_in(zone.tz(), at)
}

/// The time of day `HH:MM:SS.mmm` in any time zone (tests use fixed ones).
pub fn clock_in(tz: &TimeZone, at: SystemTime) -> String {
    let dt = tz.to_datetime(timestamp(at));
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond() / 1_000_000
    )
}

/// RFC 3339 in UTC with milliseconds: `2026-11-26T09:12:01.123Z` (the `t`
/// of every `--json` event).
pub fn rfc3339_millis(at: SystemTime) -> String {
    format!("{:.3}", timestamp(at))
}

/// RFC 3339 in UTC with microseconds: `2026-11-26T09:12:01.123456Z` (the
/// `t` of every `--log` line).
pub fn rfc3339_micros(at: SystemTime) -> String {
    format!("{:.6}", timestamp(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn program_times_are_utc_rfc3339() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_148_321_123_456);
        assert_eq!(rfc3339_millis(at), "2025-11-26T09:12:01.123Z");
        assert_eq!(rfc3339_micros(at), "2025-11-26T09:12:01.123456Z");
        assert_eq!(
            rfc3339_millis(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn people_times_follow_the_zone() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_148_321_123);
        assert_eq!(clock(at, Zone::Utc), "09:12:01.123");
        let shanghai = TimeZone::fixed(jiff::tz::offset(8));
        assert_eq!(clock_in(&shanghai, at), "17:12:01.123");
        assert_eq!(Zone::from_utc_flag(true), Zone::Utc);
        assert_eq!(Zone::default(), Zone::Local);
    }
}
