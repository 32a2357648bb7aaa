//! OTA passwords that picow made up, kept per board MAC in the user's
//! config directory, so that `picow flash --ota` finds the password of a
//! board that `picow flash` set up over USB.
//!
//! One file per board: `<config dir>/picow/ota-passwords/<mac>` (MAC with
//! `-`, e.g. `7c-df-a1-51-00-01`) holding the password and a newline,
//! readable by the user only. `<config dir>` is `$XDG_CONFIG_HOME` or
//! `~/.config` on Linux, `~/Library/Application Support` on macOS,
//! `%APPDATA%` on Windows; `PICOW_CONFIG_DIR` replaces `<config dir>/picow`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use picow_protocol::ota::OtaPassword;

/// Environment variable that replaces picow's config directory.
pub const CONFIG_DIR_ENV: &str = "PICOW_CONFIG_DIR";

/// Characters of a made-up password.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// Length of a made-up password (57^24: about 140 bits).
const LEN: usize = 24;

/// Errors of the store, each saying which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No config directory is known (no home directory).
    #[error("no config directory for OTA passwords (no home directory); set {CONFIG_DIR_ENV} or give --ota-password")]
    NoDir,
    /// The file could not be read or written.
    #[error("OTA password file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no valid password.
    #[error("OTA password file {path} does not hold a valid password ({why}); fix or delete it")]
    Bad {
        /// The file.
        path: PathBuf,
        /// The rule it breaks.
        why: picow_protocol::ota::PasswordError,
    },
    /// No randomness from the system.
    #[error("the system gave no random bytes for a new OTA password: {0}")]
    Random(String),
}

/// picow's config directory.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    dirs::config_dir().map(|d| d.join("picow"))
}

/// The file of the board with `mac` (`7c:df:a1:51:00:01` or with `-`).
pub fn path_for(dir: &Path, mac: &str) -> PathBuf {
    let name: String = mac
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == ':' { '-' } else { c })
        .filter(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    dir.join("ota-passwords").join(name)
}

/// The stored password of the board with `mac`, if there is one.
pub fn load(mac: &str) -> Result<Option<OtaPassword>, StoreError> {
    let dir = config_dir().ok_or(StoreError::NoDir)?;
    load_in(&dir, mac)
}

/// [`load`] in `dir`.
pub fn load_in(dir: &Path, mac: &str) -> Result<Option<OtaPassword>, StoreError> {
    let path = path_for(dir, mac);
    match std::fs::read_to_string(&path) {
        Ok(text) => OtaPassword::new(text.trim_end_matches(['\r', '\n']))
            .map(Some)
            .map_err(|why| StoreError::Bad { path, why }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io { path, source }),
    }
}

/// The stored password of `mac`, or a new random one, stored first.
/// Returns the password and whether it was made now.
pub fn load_or_create(mac: &str) -> Result<(OtaPassword, bool), StoreError> {
    let dir = config_dir().ok_or(StoreError::NoDir)?;
    load_or_create_in(&dir, mac)
}

/// [`load_or_create`] in `dir`.
pub fn load_or_create_in(dir: &Path, mac: &str) -> Result<(OtaPassword, bool), StoreError> {
    if let Some(p) = load_in(dir, mac)? {
        return Ok((p, false));
    }
    let password = random_password()?;
    store_in(dir, mac, &password)?;
    Ok((password, true))
}

/// Writes `password` as the one of `mac` (readable by the user only).
pub fn store_in(dir: &Path, mac: &str, password: &OtaPassword) -> Result<(), StoreError> {
    let path = path_for(dir, mac);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io)?;
    writeln!(f, "{}", password.expose()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(io)
}

/// A new random password of 24 characters, without look-alikes.
pub fn random_password() -> Result<OtaPassword, StoreError> {
    let mut out = String::with_capacity(LEN);
    while out.len() < LEN {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| StoreError::Random(e.to_string()))?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        for x in b {
            if (x as usize) < limit && out.len() < LEN {
                out.push(ALPHABET[x as usize % ALPHABET.len()] as char);
            }
        }
    }
    OtaPassword::new(&out).map_err(|e| StoreError::Random(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_once_then_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let (a, new) = load_or_create_in(dir.path(), "7C:DF:A1:51:00:01").unwrap();
        assert!(new);
        assert_eq!(a.expose().len(), LEN);
        let (b, new) = load_or_create_in(dir.path(), "7c-df-a1-51-00-01").unwrap();
        assert!(!new);
        assert_eq!(a, b);
        let path = dir.path().join("ota-passwords/7c-df-a1-51-00-01");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", a.expose())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another board gets another password.
        let (c, _) = load_or_create_in(dir.path(), "7c:df:a1:51:00:02").unwrap();
        assert_ne!(a, c);
        assert_eq!(load_in(dir.path(), "00:00:00:00:00:00").unwrap(), None);
        // A broken file is reported, not replaced.
        std::fs::write(&path, "short\n").unwrap();
        let e = load_or_create_in(dir.path(), "7c:df:a1:51:00:01").unwrap_err();
        assert!(e.to_string().contains("fix or delete it"), "{e}");
    }

    #[test]
    fn random_passwords_differ_and_use_the_alphabet() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_ne!(a, b);
        assert!(a.expose().bytes().all(|c| ALPHABET.contains(&c)));
    }
}
