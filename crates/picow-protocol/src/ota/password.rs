//! The OTA password: what an uploader must prove it knows (ESPHome's
//! challenge-response hashes the password itself, so the board keeps the
//! password, like the Wi-Fi password, in its config record).

use core::fmt;

use heapless::String;

/// Shortest OTA password.
pub const OTA_PASSWORD_MIN: usize = 8;
/// Longest OTA password.
pub const OTA_PASSWORD_MAX: usize = 64;

/// Why a text is not an OTA password. The message never contains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Too short or too long.
    #[error("OTA password: must be 8 to 64 printable ASCII characters, got {len} characters")]
    Length {
        /// Length in characters.
        len: usize,
    },
    /// A character outside printable ASCII.
    #[error("OTA password: must be printable ASCII (space to '~'); character {pos} is not")]
    Charset {
        /// Character position (1-based).
        pos: usize,
    },
}

/// A validated OTA password: 8 to 64 printable ASCII characters. `Debug`
/// and `Display` print `********`.
#[derive(Clone, PartialEq, Eq)]
pub struct OtaPassword(String<OTA_PASSWORD_MAX>);

impl OtaPassword {
    /// Validates `text`.
    pub fn new(text: &str) -> Result<OtaPassword, PasswordError> {
        if let Some((i, _)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !matches!(c, ' '..='~'))
        {
            return Err(PasswordError::Charset { pos: i + 1 });
        }
        if !(OTA_PASSWORD_MIN..=OTA_PASSWORD_MAX).contains(&text.len()) {
            return Err(PasswordError::Length { len: text.len() });
        }
        let mut s = String::new();
        // Cannot fail: at most OTA_PASSWORD_MAX ASCII bytes.
        let _ = s.push_str(text);
        Ok(OtaPassword(s))
    }

    /// The password itself: hash it or store it, never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtaPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtaPassword(********)")
    }
}

impl fmt::Display for OtaPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_masking() {
        let p = OtaPassword::new("correct horse").unwrap();
        assert_eq!(p.expose(), "correct horse");
        assert_eq!(format!("{p:?} {p}"), "OtaPassword(********) ********");
        assert_eq!(
            OtaPassword::new("short"),
            Err(PasswordError::Length { len: 5 })
        );
        assert_eq!(
            OtaPassword::new(&"x".repeat(65)),
            Err(PasswordError::Length { len: 65 })
        );
        assert_eq!(
            OtaPassword::new("abcdefgh\n"),
            Err(PasswordError::Charset { pos: 9 })
        );
        assert_eq!(
            OtaPassword::new("密码密码密码密码"),
            Err(PasswordError::Charset { pos: 1 })
        );
        let e = OtaPassword::new("abc").unwrap_err().to_string();
        assert!(e.starts_with("OTA password: must be 8 to 64"), "{e}");
    }
}
