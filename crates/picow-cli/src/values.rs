//! The clap value parsers for durations and sizes, used by every
//! subcommand, over [`picow_values`]: `--timeout 90`, `90s`, `1m30s`,
//! `1m 30s` and `500ms` mean the same to `serve`, `monitor` and `flash`, and
//! a size is `4MB`, `4MiB` or `4194304` wherever one is asked for. clap adds
//! the flag's name to the message and exits 2.

use std::time::Duration;

use picow_values::{duration, size};

/// A duration more than zero and at most a year (`--timeout`, `--wait`).
pub fn positive_duration(s: &str) -> Result<Duration, String> {
    duration::parse_positive(s).map_err(|e| e.to_string())
}

/// A duration that could not be read, in the user's language (its English
/// is the error's `Display`).
pub fn duration_msg(e: &duration::DurationError) -> picow_i18n::Msg {
    use duration::DurationError as E;
    use picow_i18n::msg;
    match e {
        E::Syntax(v) => msg!("duration-syntax", value = v.as_str()),
        E::Negative(v) => msg!("duration-negative", value = v.as_str()),
        E::TooShort { value, min } => {
            msg!(
                "duration-too-short",
                value = value.as_str(),
                min = min.as_str()
            )
        }
        E::TooLong { value, max } => {
            msg!(
                "duration-too-long",
                value = value.as_str(),
                max = max.as_str()
            )
        }
    }
}

/// A parser for durations within `min..=max`.
pub fn duration_within(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |s| duration::parse_within(s, min, max).map_err(|e| e.to_string())
}

/// A parser for sizes in bytes within `min..=max`.
pub fn size_within(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |s| size::parse_within(s, min, max).map_err(|e| e.to_string())
}

/// The flash sizes of ESP32 modules: 1, 2, 4, 8 or 16 MiB.
pub const FLASH_SIZES_MIB: [u32; 5] = [1, 2, 4, 8, 16];

/// A flash size (`--flash-size`): `8MB`, `8M`, `8MiB`, `8388608`; one of
/// [`FLASH_SIZES_MIB`].
pub fn flash_size(s: &str) -> Result<u32, String> {
    let rule = || format!("`{s}` is not a flash size: give 1MB, 2MB, 4MB, 8MB or 16MB");
    let n = size::parse(s).map_err(|_| rule())?;
    FLASH_SIZES_MIB
        .iter()
        .map(|mb| mb << 20)
        .find(|&b| u64::from(b) == n)
        .ok_or_else(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_sizes() {
        assert_eq!(flash_size("8MB"), Ok(8 << 20));
        assert_eq!(flash_size("4m"), Ok(4 << 20));
        assert_eq!(flash_size("16MiB"), Ok(16 << 20));
        assert_eq!(flash_size("4194304"), Ok(4 << 20));
        for bad in ["3MB", "8", "8GB", "MB", "", "0MB", "8 KB", "-4MB"] {
            let e = flash_size(bad).unwrap_err();
            assert!(e.contains("give 1MB, 2MB, 4MB, 8MB or 16MB"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_and_sizes_state_the_rule() {
        assert_eq!(positive_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(positive_duration("90"), Ok(Duration::from_secs(90)));
        assert!(positive_duration("0").unwrap_err().contains("too short"));
        let every = duration_within(Duration::from_millis(10), duration::YEAR);
        assert!(every("1ms").unwrap_err().contains("the least is 10ms"));
        let queue = size_within(1, 1 << 30);
        assert_eq!(queue("1MiB"), Ok(1 << 20));
        assert!(queue("2GiB").unwrap_err().contains("give 1B to 1GiB"));
    }
}
