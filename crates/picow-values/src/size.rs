//! Sizes in bytes: `4194304`, `4MiB`, `4MB`, `4M`, `64KiB`, `1GiB`, `4 MB`.
//!
//! `K`, `KB` and `KiB` all mean 1024 bytes (and `M…`, `G…` its powers):
//! flash chips come in binary sizes, and esptool, espflash and ESP-IDF all
//! write "4MB" for 4 MiB, so a decimal reading would surprise everyone.

/// What every size flag accepts, said once.
pub const RULE: &str =
    "write a number of bytes or a number with a unit, e.g. 4194304, 4MiB, 4MB, 64KiB (K/M/G are powers of 1024)";

/// A size that could not be read, or is outside the flag's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Not a size.
    #[error("`{0}` is not a size: {RULE}")]
    Syntax(String),
    /// Outside the flag's range.
    #[error("`{value}` is out of range: give {min} to {max}")]
    Range {
        /// What was given.
        value: String,
        /// The minimum, written as [`format()`] does.
        min: String,
        /// The maximum, written as [`format()`] does.
        max: String,
    },
}

/// Reads a size in bytes.
pub fn parse(s: &str) -> Result<u64, SizeError> {
    let syntax = || SizeError::Syntax(s.to_owned());
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(syntax());
    }
    let n: u64 = num.parse().map_err(|_| syntax())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(syntax()),
    };
    n.checked_mul(1 << shift).ok_or_else(syntax)
}

/// Reads a size within `min..=max`.
pub fn parse_within(s: &str, min: u64, max: u64) -> Result<u64, SizeError> {
    let n = parse(s)?;
    if n < min || n > max {
        return Err(SizeError::Range {
            value: s.trim().to_owned(),
            min: format(min),
            max: format(max),
        });
    }
    Ok(n)
}

/// A size for people, exact and in the form [`parse`] reads back: `4MiB`,
/// `64KiB`, `1000B`.
pub fn format(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_form_the_flags_document() {
        for form in ["4194304", "4MiB", "4MB", "4M", "4mb", "4 MB", " 4096KiB "] {
            assert_eq!(parse(form), Ok(4 << 20), "{form}");
        }
        assert_eq!(parse("64KiB"), Ok(65536));
        assert_eq!(parse("1GiB"), Ok(1 << 30));
        assert_eq!(parse("0"), Ok(0));
    }

    #[test]
    fn errors_state_the_rule() {
        for bad in ["", "MB", "4TB", "-1", "4.5MB", "99999999999999999999"] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains("e.g. 4194304, 4MiB"), "{bad}: {e}");
        }
        assert_eq!(
            parse_within("3MB", 4 << 20, 16 << 20)
                .unwrap_err()
                .to_string(),
            "`3MB` is out of range: give 4MiB to 16MiB"
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(n in 0u64..(1 << 40)) {
            prop_assert_eq!(parse(&format(n)), Ok(n));
        }

        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = parse(&s);
        }
    }
}
