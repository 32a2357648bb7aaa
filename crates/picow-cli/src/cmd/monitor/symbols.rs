//! Decoding code addresses in panics and backtraces to function and
//! file:line with the firmware ELF (DWARF via `addr2line`).

use std::fmt;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, SectionKind};
use regex::Regex;

/// The firmware ELF's debug information.
pub struct Symbols {
    loader: addr2line::Loader,
    path: PathBuf,
    /// Address ranges of the sections holding code: only addresses in them
    /// are decoded (stack and data addresses in a backtrace are not).
    code: Vec<(u64, u64)>,
}

impl fmt::Debug for Symbols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Symbols").field("path", &self.path).finish()
    }
}

/// The ELF could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read firmware ELF {path}: {message}; build it with `cargo xtask fw build` or pass --elf")]
pub struct SymbolsError {
    /// The ELF's path.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// Where an address is: the function (innermost inlined frame first) and
/// the source location when the ELF has line tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The demangled function name.
    pub function: String,
    /// The source file.
    pub file: Option<String>,
    /// The line in it.
    pub line: Option<u32>,
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.function)?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " at {file}:{line}"),
            (Some(file), None) => write!(f, " at {file}"),
            _ => write!(f, " at ??:??"),
        }
    }
}

impl Symbols {
    /// Loads an ELF.
    pub fn open(path: &Path) -> Result<Symbols, SymbolsError> {
        let err = |message: String| SymbolsError {
            path: path.to_path_buf(),
            message,
        };
        // A regular file of a bounded size: `/dev/zero` or a FIFO is refused,
        // not read without end.
        let data = crate::files::read_limited(path, crate::files::MAX_ELF)
            .map_err(|e| err(e.to_string()))?;
        let file = object::File::parse(&*data).map_err(|e| err(e.to_string()))?;
        let code = file
            .sections()
            .filter(|s| s.kind() == SectionKind::Text && s.size() > 0)
            .map(|s| (s.address(), s.address() + s.size()))
            .collect();
        let loader = addr2line::Loader::new(path).map_err(|e| err(e.to_string()))?;
        Ok(Symbols {
            loader,
            path: path.to_path_buf(),
            code,
        })
    }

    /// The ELF's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The frames at `addr`, innermost (inlined) first; empty when the
    /// address is not in the ELF's code.
    pub fn resolve(&self, addr: u64) -> Vec<Frame> {
        let mut out = Vec::new();
        if !self.code.iter().any(|&(lo, hi)| (lo..hi).contains(&addr)) {
            return out;
        }
        if let Ok(mut frames) = self.loader.find_frames(addr) {
            while let Ok(Some(frame)) = frames.next() {
                let Some(function) = frame
                    .function
                    .as_ref()
                    .and_then(|f| f.demangle().ok())
                    .map(|n| n.into_owned())
                else {
                    continue;
                };
                let (file, line) = frame
                    .location
                    .map(|l| (l.file.map(str::to_string), l.line))
                    .unwrap_or((None, None));
                out.push(Frame {
                    function,
                    file,
                    line,
                });
            }
        }
        if out.is_empty() {
            // No DWARF for it: the symbol table still names the function.
            if let Some(name) = self.loader.find_symbol(addr) {
                let loc = self.loader.find_location(addr).ok().flatten();
                out.push(Frame {
                    function: addr2line::demangle_auto(name.into(), None).into_owned(),
                    file: loc.as_ref().and_then(|l| l.file.map(str::to_string)),
                    line: loc.and_then(|l| l.line),
                });
            }
        }
        out
    }
}

/// Lines the ROM bootloader prints with addresses that are load addresses,
/// not code: decoding them only confuses (as espflash does).
const NOT_CODE: &[&str] = &["load:0x", "entry 0x", "Saved PC:"];

/// The code addresses in a console line: `0x` and eight hex digits, as
/// esp-backtrace and the ROM print them.
pub fn addresses(line: &str) -> Vec<u64> {
    static RE: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(r"0[xX]([[:xdigit:]]{8})\b").expect("valid regex"));
    if NOT_CODE.iter().any(|p| line.trim_start().starts_with(p)) {
        return Vec::new();
    }
    RE.captures_iter(line)
        .filter_map(|c| u64::from_str_radix(&c[1], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_backtrace_addresses() {
        assert_eq!(
            addresses("0x42000a3c - picow_fw::main\r"),
            vec![0x4200_0a3c]
        );
        assert_eq!(
            addresses("Backtrace: 0x42001234:0x3fc8e2a0 0x4200abcd:0x3fc8e2c0"),
            vec![0x4200_1234, 0x3fc8_e2a0, 0x4200_abcd, 0x3fc8_e2c0]
        );
        assert!(addresses("load:0x3fcd5820,len:0x1714").is_empty());
        assert!(addresses("value 0x123 and 0x123456789").is_empty());
    }

    #[test]
    fn missing_elf_says_what_to_do() {
        let err = Symbols::open(Path::new("/nonexistent/picow-fw.elf")).unwrap_err();
        assert!(err.to_string().contains("--elf"), "{err}");
    }
}
