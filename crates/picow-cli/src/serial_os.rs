//! Serial ports on Windows and on Unix: the parts that differ, in one place,
//! for `flash`, `monitor` and `probe` to call (issue #8).
//!
//! **Port names.** Windows names ports `COM3`, `COM10`, …; the Win32 API can
//! open `COM1`–`COM9` by that name, but `COM10` and above only through the
//! device namespace, `\\.\COM10`. Users type `COM10`, `com10`, `COM10:` or
//! `\\.\COM10`; port listings (`serialport::available_ports`) say `COM10`.
//! [`Os::open_path`] is the name to open, [`Os::port_name`] the name to show
//! and to match against listings, and [`Os::same_port`] compares two
//! spellings. (The `serialport` crate adds `\\.\` itself to a name without a
//! leading backslash, but `std::fs`, espflash's port matching and a user who
//! types `//./COM10` do not.) On Unix a port is a path and is used as given.
//!
//! **Open failures.** The common failure on Windows is a port that another
//! program holds: NetAssist, Thonny, PuTTY, the Arduino IDE or another
//! picow. Windows reports it as "Access is denied" (`ERROR_ACCESS_DENIED`;
//! Wine says `ERROR_SHARING_VIOLATION`), and the `serialport` crate turns
//! that into `ErrorKind::NoDevice`, which reads like "not found". On Linux
//! the same case is `EBUSY`, and the usual other one is `EACCES` (not in the
//! `dialout` group). [`OpenError::new`] classifies the error into an
//! [`OpenFailure`] and says what to do next; pass it the error of the open
//! call (a `serialport::Error` converted with `std::io::Error::from`, or a
//! `std::io::Error`). The message names the port; the OS's own message stays
//! in the error chain.
//!
//! Every function takes the [`Os`] whose rules apply, so both rule sets are
//! tested on every host; use [`Os::CURRENT`] in the commands.

use std::borrow::Cow;
use std::io;

/// The operating-system family whose serial-port rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Windows: `COMn` names, Win32 error codes.
    Windows,
    /// Linux, macOS and the BSDs: device paths, errno codes.
    Unix,
}

/// Why a serial port could not be opened, in terms the user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenFailure {
    /// There is no such port: a wrong name, the board unplugged, or the board
    /// just reset and came back under another name.
    NotFound,
    /// Another program has the port open.
    Busy,
    /// The user may not open the port (Unix: group or udev rule).
    PermissionDenied,
    /// The device went away or stopped answering while being opened.
    Gone,
    /// Anything else; the OS's message says what.
    Other,
}

/// Windows error codes (`GetLastError`) that opening a port can give.
mod win {
    pub const FILE_NOT_FOUND: i32 = 2;
    pub const PATH_NOT_FOUND: i32 = 3;
    pub const ACCESS_DENIED: i32 = 5;
    pub const GEN_FAILURE: i32 = 31;
    pub const SHARING_VIOLATION: i32 = 32;
    pub const DEVICE_NOT_CONNECTED: i32 = 1167;
    pub const INVALID_NAME: i32 = 123;
}

/// errno values that opening a port can give (the same numbers on Linux,
/// macOS and the BSDs).
mod errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EIO: i32 = 5;
    pub const ENXIO: i32 = 6;
    pub const EACCES: i32 = 13;
    pub const EBUSY: i32 = 16;
    pub const ENODEV: i32 = 19;
}

/// OS messages (English and Simplified Chinese Windows, Linux and macOS
/// libc) for errors that reach us without their code, as `serialport`'s do.
/// Checked in order; the first match wins.
const MESSAGES: &[(&str, OpenFailure)] = &[
    // Windows: ERROR_ACCESS_DENIED and ERROR_SHARING_VIOLATION.
    ("access is denied", OpenFailure::Busy),
    ("拒绝访问", OpenFailure::Busy),
    ("being used by another process", OpenFailure::Busy),
    ("另一个程序正在使用此文件", OpenFailure::Busy),
    // Linux "Device or resource busy", macOS "Resource busy".
    ("resource busy", OpenFailure::Busy),
    ("permission denied", OpenFailure::PermissionDenied),
    ("operation not permitted", OpenFailure::PermissionDenied),
    // Windows: ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND.
    ("cannot find the file specified", OpenFailure::NotFound),
    ("cannot find the path specified", OpenFailure::NotFound),
    ("系统找不到指定的", OpenFailure::NotFound),
    ("no such file or directory", OpenFailure::NotFound),
    // ENODEV "No such device", ENXIO "No such device or address", EIO.
    ("no such device", OpenFailure::Gone),
    ("input/output error", OpenFailure::Gone),
    // Windows: ERROR_DEVICE_NOT_CONNECTED, ERROR_GEN_FAILURE.
    ("device is not connected", OpenFailure::Gone),
    ("is not functioning", OpenFailure::Gone),
];

impl Os {
    /// The system picow runs on.
    pub const CURRENT: Os = if cfg!(windows) { Os::Windows } else { Os::Unix };

    /// The name to open for a port the user named: on Windows any spelling
    /// of a COM port becomes `\\.\COMn`; everything else is unchanged.
    pub fn open_path(self, name: &str) -> Cow<'_, str> {
        match (self, com_number(name)) {
            (Os::Windows, Some(n)) => Cow::Owned(format!(r"\\.\COM{n}")),
            _ => Cow::Borrowed(name),
        }
    }

    /// The name as port listings show it: on Windows any spelling of a COM
    /// port becomes `COMn`; everything else is unchanged.
    pub fn port_name(self, name: &str) -> Cow<'_, str> {
        match (self, com_number(name)) {
            (Os::Windows, Some(n)) => Cow::Owned(format!("COM{n}")),
            _ => Cow::Borrowed(name),
        }
    }

    /// Whether two names mean the same port (`COM10` and `\\.\com10` do on
    /// Windows, where names are case-insensitive).
    pub fn same_port(self, a: &str, b: &str) -> bool {
        match self {
            Os::Windows => match (com_number(a), com_number(b)) {
                (Some(x), Some(y)) => x == y,
                _ => a.trim().eq_ignore_ascii_case(b.trim()),
            },
            Os::Unix => a == b,
        }
    }

    /// Classifies a raw OS error code from opening a port (errno on Unix,
    /// `GetLastError()` on Windows).
    pub fn classify_code(self, code: i32) -> OpenFailure {
        match self {
            Os::Windows => match code {
                win::FILE_NOT_FOUND | win::PATH_NOT_FOUND | win::INVALID_NAME => {
                    OpenFailure::NotFound
                }
                // A COM port is opened exclusively: "access denied" means
                // another program has it.
                win::ACCESS_DENIED | win::SHARING_VIOLATION => OpenFailure::Busy,
                win::GEN_FAILURE | win::DEVICE_NOT_CONNECTED => OpenFailure::Gone,
                _ => OpenFailure::Other,
            },
            Os::Unix => match code {
                errno::ENOENT => OpenFailure::NotFound,
                errno::EBUSY => OpenFailure::Busy,
                errno::EACCES | errno::EPERM => OpenFailure::PermissionDenied,
                errno::ENODEV | errno::ENXIO | errno::EIO => OpenFailure::Gone,
                _ => OpenFailure::Other,
            },
        }
    }

    /// Classifies an error from opening a port: by its raw OS code when it
    /// has one, else by its message (`serialport` keeps only the message,
    /// and reports both "busy" and "not found" as `NoDevice`), else by its
    /// kind.
    pub fn classify(self, err: &io::Error) -> OpenFailure {
        if let Some(code) = err.raw_os_error() {
            return self.classify_code(code);
        }
        let text = err.to_string().to_lowercase();
        if let Some((_, failure)) = MESSAGES.iter().find(|(m, _)| text.contains(m)) {
            return *failure;
        }
        match err.kind() {
            io::ErrorKind::NotFound => OpenFailure::NotFound,
            io::ErrorKind::PermissionDenied if self == Os::Windows => OpenFailure::Busy,
            io::ErrorKind::PermissionDenied => OpenFailure::PermissionDenied,
            io::ErrorKind::ResourceBusy => OpenFailure::Busy,
            _ => OpenFailure::Other,
        }
    }
}

/// The number of a Windows COM port in any spelling users type: `COM3`,
/// `com3`, `COM3:`, `\\.\COM3`, `//./COM3`, with spaces around. `None` for
/// anything else, `COM0` and leading zeros included.
fn com_number(name: &str) -> Option<u32> {
    let s = name.trim();
    let s = s
        .strip_prefix(r"\\.\")
        .or_else(|| s.strip_prefix("//./"))
        .unwrap_or(s);
    let s = s.strip_suffix(':').unwrap_or(s);
    let digits = s.get(3..).filter(|_| s[..3].eq_ignore_ascii_case("com"))?;
    if digits.is_empty() || digits.len() > 3 || digits.starts_with('0') {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A serial port that could not be opened. The message names the port, says
/// what happened in the user's terms and what to do next; the OS's error is
/// the source. A runtime failure (exit code 1), not a usage error: the same
/// command works once the port is free or back.
#[derive(Debug, thiserror::Error)]
#[error("{}", explain(*os, *failure, port))]
pub struct OpenError {
    /// The port as the user named it.
    pub port: String,
    /// Why, classified.
    pub failure: OpenFailure,
    /// Whose rules the message follows.
    pub os: Os,
    /// The error of the open call.
    #[source]
    pub source: io::Error,
}

impl OpenError {
    /// Classifies the error of opening `port` on `os` (usually
    /// [`Os::CURRENT`]).
    pub fn new(os: Os, port: &str, source: io::Error) -> OpenError {
        OpenError {
            port: port.to_owned(),
            failure: os.classify(&source),
            os,
            source,
        }
    }
}

/// The message for a port that could not be opened.
pub fn explain(os: Os, failure: OpenFailure, port: &str) -> String {
    let shown = os.port_name(port);
    match (os, failure) {
        (Os::Windows, OpenFailure::Busy | OpenFailure::PermissionDenied) => format!(
            "cannot open {shown}: another program has it open (NetAssist, Thonny, PuTTY, \
             the Arduino IDE, a serial monitor or another picow); close it there, then try again"
        ),
        (Os::Unix, OpenFailure::Busy) => format!(
            "cannot open {shown}: another program has it open (a serial monitor such as \
             screen, minicom or another picow, or ModemManager); find it with \
             `fuser -v {shown}`, close it, then try again"
        ),
        (Os::Unix, OpenFailure::PermissionDenied) => format!(
            "cannot open {shown}: permission denied; add yourself to the group that owns it \
             (usually `dialout`: `sudo usermod -aG dialout $USER`, then log in again) \
             or install a udev rule for the board (USB 303a:1001 and 303a:80d1)"
        ),
        (Os::Windows, OpenFailure::NotFound) => format!(
            "cannot open {shown}: there is no such port; find the board's port in Device \
             Manager under \"Ports (COM & LPT)\" (it changes when the board enters download \
             mode), or run `picow probe`"
        ),
        (Os::Unix, OpenFailure::NotFound) => format!(
            "cannot open {shown}: there is no such port (unplugged, or the board is \
             resetting and may come back under another name); run `picow probe` to list ports"
        ),
        (_, OpenFailure::Gone) => format!(
            "cannot open {shown}: the device went away or stopped answering (unplugged or \
             reset); plug it in again, then try again"
        ),
        (_, OpenFailure::Other) => format!("cannot open {shown}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OpenFailure::*;

    #[test]
    fn windows_open_path_uses_the_device_namespace() {
        let w = Os::Windows;
        for (given, want) in [
            ("COM3", r"\\.\COM3"),
            ("COM10", r"\\.\COM10"),
            ("com10", r"\\.\COM10"),
            ("Com255", r"\\.\COM255"),
            (" COM4: ", r"\\.\COM4"),
            (r"\\.\COM10", r"\\.\COM10"),
            (r"\\.\com12", r"\\.\COM12"),
            ("//./COM11", r"\\.\COM11"),
        ] {
            assert_eq!(w.open_path(given), want, "open_path({given:?})");
        }
    }

    #[test]
    fn windows_leaves_other_names_alone() {
        let w = Os::Windows;
        for name in [
            "COM",
            "COM0",
            "COM03",
            "COM1000",
            "COMX",
            "COM1a",
            "COM\u{663}", // an Arabic-Indic digit is not a port number
            "LPT1",
            r"\\.\CNCA0",
            "/dev/ttyACM0",
            "",
        ] {
            assert_eq!(w.open_path(name), name, "open_path({name:?})");
            assert_eq!(w.port_name(name), name, "port_name({name:?})");
        }
    }

    #[test]
    fn unix_uses_names_as_given() {
        let u = Os::Unix;
        for name in [
            "/dev/ttyACM0",
            "/dev/cu.usbmodem1101",
            "COM10",
            r"\\.\COM10",
        ] {
            assert_eq!(u.open_path(name), name);
            assert_eq!(u.port_name(name), name);
        }
    }

    #[test]
    fn windows_port_name_matches_listings() {
        let w = Os::Windows;
        assert_eq!(w.port_name(r"\\.\com10"), "COM10");
        assert_eq!(w.port_name("com3:"), "COM3");
    }

    #[test]
    fn same_port() {
        let w = Os::Windows;
        assert!(w.same_port("COM10", r"\\.\com10"));
        assert!(w.same_port("com3", "COM3"));
        assert!(!w.same_port("COM1", "COM10"));
        assert!(w.same_port(r"\\.\CNCA0", r"\\.\cnca0"));
        let u = Os::Unix;
        assert!(u.same_port("/dev/ttyACM0", "/dev/ttyACM0"));
        assert!(!u.same_port("/dev/ttyACM0", "/dev/ttyACM1"));
        assert!(!u.same_port("COM3", "com3"));
    }

    #[test]
    fn windows_codes() {
        let w = Os::Windows;
        assert_eq!(w.classify_code(5), Busy); // ERROR_ACCESS_DENIED
        assert_eq!(w.classify_code(32), Busy); // ERROR_SHARING_VIOLATION (Wine)
        assert_eq!(w.classify_code(2), NotFound);
        assert_eq!(w.classify_code(3), NotFound);
        assert_eq!(w.classify_code(31), Gone);
        assert_eq!(w.classify_code(1167), Gone);
        assert_eq!(w.classify_code(87), Other);
    }

    #[test]
    fn unix_codes() {
        let u = Os::Unix;
        assert_eq!(u.classify_code(16), Busy);
        assert_eq!(u.classify_code(13), PermissionDenied);
        assert_eq!(u.classify_code(1), PermissionDenied);
        assert_eq!(u.classify_code(2), NotFound);
        assert_eq!(u.classify_code(19), Gone);
        assert_eq!(u.classify_code(6), Gone);
        assert_eq!(u.classify_code(22), Other);
    }

    /// What `io::Error::from(serialport::Error)` gives: `NoDevice` became
    /// `NotFound`, and only the OS's message says what really happened.
    fn serialport_no_device(msg: &str) -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, msg.to_owned())
    }

    #[test]
    fn serialport_messages_are_told_apart() {
        let w = Os::Windows;
        assert_eq!(w.classify(&serialport_no_device("Access is denied.")), Busy);
        assert_eq!(w.classify(&serialport_no_device("拒绝访问。")), Busy);
        assert_eq!(
            w.classify(&serialport_no_device(
                "The system cannot find the file specified."
            )),
            NotFound
        );
        assert_eq!(
            w.classify(&serialport_no_device("系统找不到指定的文件。")),
            NotFound
        );
        let u = Os::Unix;
        assert_eq!(
            u.classify(&serialport_no_device("Device or resource busy")),
            Busy
        );
        assert_eq!(
            u.classify(&io::Error::new(
                io::ErrorKind::PermissionDenied,
                "Permission denied"
            )),
            PermissionDenied
        );
        // Without a known message the kind decides.
        assert_eq!(u.classify(&serialport_no_device("??")), NotFound);
        assert_eq!(
            w.classify(&io::Error::new(io::ErrorKind::PermissionDenied, "??")),
            Busy
        );
        assert_eq!(u.classify(&io::Error::other("??")), Other);
    }

    #[test]
    fn raw_codes_win_over_messages() {
        assert_eq!(Os::Unix.classify(&io::Error::from_raw_os_error(16)), Busy);
        assert_eq!(Os::Windows.classify(&io::Error::from_raw_os_error(5)), Busy);
    }

    #[test]
    fn messages_name_the_port_and_the_way_out() {
        let busy = OpenError::new(
            Os::Windows,
            "com10",
            serialport_no_device("Access is denied."),
        );
        let text = busy.to_string();
        assert!(text.contains("COM10"), "{text}");
        assert!(text.contains("NetAssist"), "{text}");
        assert!(!text.contains("no such port"), "{text}");
        let missing = explain(Os::Windows, NotFound, "COM7");
        assert!(missing.contains("Device Manager"), "{missing}");
        let denied = explain(Os::Unix, PermissionDenied, "/dev/ttyACM0");
        assert!(denied.contains("dialout"), "{denied}");
        let busy = explain(Os::Unix, Busy, "/dev/ttyACM0");
        assert!(busy.contains("fuser -v /dev/ttyACM0"), "{busy}");
        // The OS's own message stays in the chain.
        let source = std::error::Error::source(&missing_err()).map(ToString::to_string);
        assert_eq!(
            source.as_deref(),
            Some("The system cannot find the file specified.")
        );
    }

    fn missing_err() -> OpenError {
        OpenError::new(
            Os::Windows,
            "COM7",
            serialport_no_device("The system cannot find the file specified."),
        )
    }

    /// A real busy port on Windows: the second exclusive open (as
    /// `serialport` and every serial program opens) fails, and is told
    /// apart from a missing port. Only on real Windows: Wine does not
    /// enforce exclusive opens of serial devices, so CI cannot run it
    /// (docs/windows.md says how to run it).
    #[test]
    #[cfg(windows)]
    #[ignore = "needs real Windows and PICOW_TEST_FREE_COM_PORT, a COM port nobody holds"]
    fn real_busy_port_is_busy() {
        use std::os::windows::fs::OpenOptionsExt;
        let port = std::env::var("PICOW_TEST_FREE_COM_PORT")
            .expect("PICOW_TEST_FREE_COM_PORT names a COM port nobody holds");
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .share_mode(0)
                .open(&*Os::Windows.open_path(&port))
        };
        let _first = open().expect("the first open of a free port succeeds");
        let err = open().expect_err("a second exclusive open must fail");
        let err = OpenError::new(Os::Windows, &port, err);
        assert_eq!(err.failure, Busy, "{err}: {:?}", err.source);
        assert!(
            err.to_string().contains("another program has it open"),
            "{err}"
        );
    }

    /// A real open of a port that does not exist, on the system the tests
    /// run on (Linux in CI; Windows when built there).
    #[test]
    fn real_missing_port_is_not_found() {
        let port = if cfg!(windows) {
            "COM199"
        } else {
            "/dev/picow-test-no-such-port"
        };
        let os = Os::CURRENT;
        let err = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&*os.open_path(port))
            .expect_err("the port does not exist");
        let err = OpenError::new(os, port, err);
        assert_eq!(err.failure, NotFound, "{err}: {:?}", err.source);
    }
}
