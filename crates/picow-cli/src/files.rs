//! Files that picow reads: checked for kind and size before a byte is read.
//!
//! Every input file (a firmware ELF, a `--wifi-file`, a file that serve
//! sends) must be a regular file (through symlinks) within a stated limit:
//! `/dev/zero`, a FIFO or a directory is refused with a message instead of
//! growing memory or waiting forever. Whole-file reads never read more than
//! the limit, even when the file grows after the check.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The largest firmware ELF picow reads: the app itself fits a 16 MB flash,
/// the rest of an ELF is symbols and line tables.
pub const MAX_ELF: u64 = 64 << 20;

/// The largest `--wifi-file`.
pub const MAX_WIFI_FILE: u64 = 4 << 10;

/// Why an input file cannot be used. The message names the path, not the
/// flag; callers add the flag.
#[derive(Debug, thiserror::Error)]
pub enum InputFileError {
    /// It could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// It is not a regular file.
    #[error("{path} is {kind}, not a regular file")]
    NotRegular {
        /// The path.
        path: String,
        /// What it is ("a directory", "a character device", ...).
        kind: &'static str,
    },
    /// It is larger than the limit.
    #[error("{path} is {len} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size.
        len: u64,
        /// The limit.
        limit: u64,
    },
}

impl InputFileError {
    /// The message in the user's language
    /// ([`Msg::localized`](picow_i18n::Msg::localized)); its English is
    /// [`Display`](std::fmt::Display)'s.
    pub fn msg(&self) -> picow_i18n::Msg {
        use picow_i18n::msg;
        match self {
            InputFileError::Io { path, source } => msg!(
                "file-cannot-read",
                path = path.as_str(),
                reason = source.to_string()
            ),
            InputFileError::NotRegular { path, kind } => msg!(
                "file-not-regular",
                path = path.as_str(),
                kind = match *kind {
                    "a character device" => msg!("file-kind-char"),
                    "a block device" => msg!("file-kind-block"),
                    "a FIFO (named pipe)" => msg!("file-kind-fifo"),
                    "a socket" => msg!("file-kind-socket"),
                    "a directory" => msg!("file-kind-dir"),
                    _ => msg!("file-kind-other"),
                }
            ),
            InputFileError::TooLarge { path, len, limit } => msg!(
                "file-too-large",
                path = path.as_str(),
                len = len.to_string(),
                limit = limit.to_string()
            ),
        }
    }
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file of at most `limit`
/// bytes; returns the file and its size. The kind is checked before the
/// file is opened (opening a FIFO would wait for a writer) and again on the
/// open file.
pub fn open_regular(path: &Path, limit: u64) -> Result<(File, u64), InputFileError> {
    let shown = || path.display().to_string();
    let io_err = |source| InputFileError::Io {
        path: shown(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if !meta.is_file() {
        return Err(InputFileError::NotRegular {
            path: shown(),
            kind: kind_of(meta.file_type()),
        });
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        // A FIFO put in its place since the check must not block the open.
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = opts.open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(InputFileError::NotRegular {
            path: shown(),
            kind: kind_of(meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(InputFileError::TooLarge {
            path: shown(),
            len: meta.len(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// Reads a whole regular file of at most `limit` bytes (see
/// [`open_regular`]); a file that grew past the limit since the check is
/// refused, not read on.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, InputFileError> {
    let (file, len) = open_regular(path, limit)?;
    let mut data = Vec::with_capacity(len as usize);
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|source| InputFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
    if data.len() as u64 > limit {
        return Err(InputFileError::TooLarge {
            path: path.display().to_string(),
            len: data.len() as u64,
            limit,
        });
    }
    Ok(data)
}

/// Whether `a` and `b` name the same existing file (through symlinks and
/// hard links).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
        false
    }
    #[cfg(not(unix))]
    {
        matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_limited(&f, 5).unwrap(), b"12345");
        let e = read_limited(&f, 4).unwrap_err().to_string();
        assert!(e.contains("5 bytes, more than the 4 bytes allowed"), "{e}");
        let e = read_limited(dir.path(), 10).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = read_limited(&dir.path().join("missing"), 10).unwrap_err();
        assert!(matches!(e, InputFileError::Io { .. }), "{e}");
        #[cfg(unix)]
        {
            let e = read_limited(Path::new("/dev/zero"), 10)
                .unwrap_err()
                .to_string();
            assert!(e.contains("a character device"), "{e}");
            // A FIFO without a writer: refused at once, not waited on.
            let fifo = dir.path().join("fifo");
            rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::RWXU).unwrap();
            let e = read_limited(&fifo, 10).unwrap_err().to_string();
            assert!(e.contains("a FIFO"), "{e}");
            // Through a symlink, the target counts.
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&f, &link).unwrap();
            assert_eq!(read_limited(&link, 5).unwrap(), b"12345");
        }
    }
}
