//! Serial ports: finding the board, opening it with errors that say what to
//! do, and finding it again after a reset or a replug.
//!
//! Shared by `monitor`, `flash` and `probe`. The board's native USB
//! (USB-Serial-JTAG, `303a:1001`) disappears on every reset and may come back
//! under another name, so a port is remembered as an [`Identity`]: its path
//! and, when it is a USB device, its serial number.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use picow_i18n::{msg, Msg};
use serialport::{SerialPort, SerialPortInfo, SerialPortType, UsbPortInfo};

use crate::serial_os::Os;

/// Espressif's USB vendor id.
pub const ESPRESSIF_VID: u16 = 0x303a;
/// The product id of the USB-Serial-JTAG peripheral (ROM download mode and
/// firmware that uses it for its console).
pub const USB_SERIAL_JTAG_PID: u16 = 0x1001;
/// The product id of the vendor MicroPython firmware (TinyUSB, "WPI_PICO_W").
pub const WPI_MICROPYTHON_PID: u16 = 0x80d1;

/// Why a port could not be found or opened. Every message says what to do;
/// `Display` is English (for `--json` and logs), [`PortError::localized`]
/// the user's language.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The path does not exist.
    #[error("{}", self.msg())]
    NotFound {
        /// What was asked for.
        path: String,
        /// The ports there are.
        candidates: Vec<String>,
    },
    /// No port was given and no Espressif board is plugged in.
    #[error("{}", self.msg())]
    NoBoard {
        /// The ports there are.
        candidates: Vec<String>,
    },
    /// No port was given and several Espressif boards are plugged in.
    #[error("{}", self.msg())]
    Ambiguous {
        /// The Espressif ports.
        candidates: Vec<String>,
    },
    /// The user may not open the device.
    #[error("{}", self.msg())]
    PermissionDenied {
        /// The port.
        path: String,
    },
    /// Another program has the port open.
    #[error("{}", self.msg())]
    Busy {
        /// The port.
        path: String,
    },
    /// Anything else the OS said.
    #[error("{}", self.msg())]
    Other {
        /// The port.
        path: String,
        /// What the serial-port library said.
        #[source]
        source: serialport::Error,
    },
    /// The list of ports could not be read.
    #[error("{}", self.msg())]
    List(#[source] serialport::Error),
}

impl PortError {
    /// The message, to be shown in any language.
    pub fn msg(&self) -> Msg {
        match self {
            PortError::NotFound { path, candidates } => msg!(
                "port-not-found",
                path = path,
                present = candidates_sentence(candidates)
            ),
            PortError::NoBoard { candidates } => {
                msg!("port-no-board", present = candidates_sentence(candidates))
            }
            PortError::Ambiguous { candidates } => {
                msg!("port-ambiguous", ports = candidates.join(", "))
            }
            PortError::PermissionDenied { path } => {
                msg!("port-permission", path = path, hint = permission_hint())
            }
            PortError::Busy { path } => msg!("port-busy", path = path, holders = busy_holders()),
            PortError::Other { path, source } => {
                msg!("port-other", path = path, reason = source.to_string())
            }
            PortError::List(source) => msg!("port-list", reason = source.to_string()),
        }
    }

    /// The message in the user's language.
    pub fn localized(&self) -> String {
        self.msg().localized()
    }
}

fn candidates_sentence(candidates: &[String]) -> Msg {
    if candidates.is_empty() {
        msg!("port-none-present")
    } else {
        msg!("port-present", ports = candidates.join(", "))
    }
}

/// The programs that usually hold a port, as users of this system know them.
fn busy_holders() -> Msg {
    if cfg!(windows) {
        msg!("port-busy-windows")
    } else {
        msg!("port-busy-unix")
    }
}

fn permission_hint() -> Msg {
    if cfg!(target_os = "linux") {
        msg!("port-permission-linux")
    } else if cfg!(windows) {
        msg!("port-permission-windows")
    } else {
        msg!("port-permission-other")
    }
}

/// The serial ports present, sorted by name. Ports without USB information
/// are included (they might be a UART bridge or a virtual board).
pub fn list() -> Result<Vec<SerialPortInfo>, PortError> {
    let mut ports = serialport::available_ports().map_err(PortError::List)?;
    ports.sort_by(|a, b| a.port_name.cmp(&b.port_name));
    Ok(ports)
}

/// The USB information of a port, if it is a USB device.
pub fn usb_info(info: &SerialPortInfo) -> Option<&UsbPortInfo> {
    match &info.port_type {
        SerialPortType::UsbPort(usb) => Some(usb),
        _ => None,
    }
}

/// Whether the port is an Espressif chip's native USB.
pub fn is_espressif(info: &SerialPortInfo) -> bool {
    usb_info(info).is_some_and(|u| u.vid == ESPRESSIF_VID)
}

/// One line describing a port, for lists in messages: `/dev/ttyACM0 (303a:1001 SN 12:34)`.
pub fn describe(info: &SerialPortInfo) -> String {
    match usb_info(info) {
        Some(u) => {
            let mut s = format!("{} ({:04x}:{:04x}", info.port_name, u.vid, u.pid);
            if let Some(sn) = &u.serial_number {
                s.push_str(&format!(" SN {sn}"));
            }
            if let Some(p) = &u.product {
                s.push_str(&format!(" {p}"));
            }
            s.push(')');
            s
        }
        None => info.port_name.clone(),
    }
}

/// The one Espressif board among `ports`.
pub fn choose(ports: &[SerialPortInfo]) -> Result<&SerialPortInfo, PortError> {
    let esp: Vec<&SerialPortInfo> = ports.iter().filter(|p| is_espressif(p)).collect();
    match esp.as_slice() {
        [one] => Ok(one),
        [] => Err(PortError::NoBoard {
            candidates: ports.iter().map(describe).collect(),
        }),
        many => Err(PortError::Ambiguous {
            candidates: many.iter().map(|p| describe(p)).collect(),
        }),
    }
}

/// What identifies a port across resets and replugs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The path the user gave or that was chosen.
    pub path: String,
    /// USB vendor and product id, when it is a USB device.
    pub usb_id: Option<(u16, u16)>,
    /// USB serial number, when the device has one.
    pub serial_number: Option<String>,
}

impl Identity {
    /// The identity of `path`, looked up in `ports` (a symlink such as
    /// `/dev/serial/by-id/...` matches the device it points to).
    pub fn of(path: &str, ports: &[SerialPortInfo]) -> Identity {
        let canon = canonical(path);
        let usb = ports
            .iter()
            .find(|p| p.port_name == path || canonical(&p.port_name) == canon)
            .and_then(usb_info);
        Identity {
            path: path.to_string(),
            usb_id: usb.map(|u| (u.vid, u.pid)),
            serial_number: usb.and_then(|u| u.serial_number.clone()),
        }
    }

    /// Where the device is now: its own path when that exists, else the
    /// port with the same USB serial number (and vendor id) under another
    /// name, else `None`.
    pub fn locate(&self, path_exists: bool, ports: &[SerialPortInfo]) -> Option<String> {
        if path_exists {
            return Some(self.path.clone());
        }
        let sn = self.serial_number.as_deref()?;
        ports
            .iter()
            .find(|p| {
                usb_info(p).is_some_and(|u| {
                    u.serial_number.as_deref() == Some(sn)
                        && self.usb_id.is_none_or(|(vid, _)| vid == u.vid)
                })
            })
            .map(|p| p.port_name.clone())
    }
}

fn canonical(path: &str) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path))
}

/// Whether a port path exists now. On Windows, COM ports are not files, so
/// the list of ports decides.
pub fn exists(path: &str) -> bool {
    if cfg!(windows) {
        serialport::available_ports()
            .map(|ports| {
                ports
                    .iter()
                    .any(|p| Os::CURRENT.same_port(&p.port_name, path))
            })
            .unwrap_or(false)
    } else {
        Path::new(path).exists()
    }
}

/// The serial port type this platform opens natively.
#[cfg(unix)]
pub type NativePort = serialport::TTYPort;
/// The serial port type this platform opens natively.
#[cfg(windows)]
pub type NativePort = serialport::COMPort;

/// Opens a port for reading and writing, exclusively, with a read timeout.
/// Does not touch DTR/RTS, so opening does not reset the board.
pub fn open(path: &str, baud: u32, timeout: Duration) -> Result<NativePort, PortError> {
    // `COM10` and above only open as `\\.\COM10` on Windows.
    let port = serialport::new(Os::CURRENT.open_path(path), baud)
        .timeout(timeout)
        .open_native()
        .map_err(|e| classify_open_error(path, e))?;
    #[cfg(unix)]
    writes_time_out(&port).map_err(|e| PortError::Other {
        path: path.to_string(),
        source: serialport::Error::new(serialport::ErrorKind::Io(e.kind()), e.to_string()),
    })?;
    Ok(port)
}

/// Makes a write to a board that stopped reading end with the port's
/// timeout instead of never.
///
/// serialport waits (with the timeout) until the port can take *some*
/// bytes, then makes a blocking `write` of the whole buffer; on a blocking
/// descriptor that write waits for room for all of it, forever if the board
/// has wedged (a pty whose reader stopped, a USB device that stopped
/// draining). Non-blocking, the write takes what fits and the next wait
/// times out. Reads are unaffected: serialport polls before each read.
#[cfg(unix)]
fn writes_time_out(port: &NativePort) -> io::Result<()> {
    use std::os::fd::{AsRawFd, BorrowedFd};
    // SAFETY: the descriptor belongs to `port`, which outlives this call.
    let fd = unsafe { BorrowedFd::borrow_raw(port.as_raw_fd()) };
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

/// Turns the serial-port library's error into one that says what to do.
pub fn classify_open_error(path: &str, e: serialport::Error) -> PortError {
    use serialport::ErrorKind as K;
    let path_s = path.to_string();
    match e.kind() {
        K::Io(io::ErrorKind::PermissionDenied) => PortError::PermissionDenied { path: path_s },
        K::Io(io::ErrorKind::NotFound) => PortError::NotFound {
            path: path_s,
            candidates: list()
                .map(|ports| ports.iter().map(describe).collect())
                .unwrap_or_default(),
        },
        // serialport maps EBUSY (TIOCEXCL held by another opener) to NoDevice;
        // Windows says "Access is denied" for a port held by another program.
        K::NoDevice if exists(path) => PortError::Busy { path: path_s },
        K::NoDevice => PortError::NotFound {
            path: path_s,
            candidates: list()
                .map(|ports| ports.iter().map(describe).collect())
                .unwrap_or_default(),
        },
        K::Unknown if cfg!(windows) && e.description.contains("Access is denied") => {
            PortError::Busy { path: path_s }
        }
        _ => PortError::Other {
            path: path_s,
            source: e,
        },
    }
}

/// Resets the board through DTR/RTS. For USB-Serial-JTAG (`pid` 0x1001) the
/// sequence espflash uses after flashing (`reset_after_flash`): DTR low, then
/// RTS high (passing through DTR=0/RTS=1, which resets the chip), then RTS
/// low. For UART bridges, a pulse on RTS (wired to EN).
pub fn hard_reset(port: &mut dyn SerialPort, pid: Option<u16>) -> Result<(), serialport::Error> {
    let pause = || std::thread::sleep(Duration::from_millis(100));
    pause();
    if pid == Some(USB_SERIAL_JTAG_PID) {
        port.write_data_terminal_ready(false)?;
        pause();
        port.write_request_to_send(true)?;
        port.write_data_terminal_ready(false)?;
        // Windows only propagates DTR when RTS is set.
        port.write_request_to_send(true)?;
        pause();
        port.write_request_to_send(false)?;
    } else {
        port.write_request_to_send(true)?;
        pause();
        port.write_request_to_send(false)?;
    }
    Ok(())
}

/// Port lists for unit tests.
#[cfg(test)]
pub(crate) mod fixture {
    use serialport::{SerialPortInfo, SerialPortType, UsbPortInfo};

    /// A USB serial port.
    pub fn usb(name: &str, vid: u16, pid: u16, sn: Option<&str>) -> SerialPortInfo {
        SerialPortInfo {
            port_name: name.into(),
            port_type: SerialPortType::UsbPort(UsbPortInfo {
                vid,
                pid,
                serial_number: sn.map(Into::into),
                manufacturer: None,
                product: None,
            }),
        }
    }

    /// A port that is not USB.
    pub fn plain(name: &str) -> SerialPortInfo {
        SerialPortInfo {
            port_name: name.into(),
            port_type: SerialPortType::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{plain, usb};
    use super::*;

    #[test]
    fn choose_the_one_espressif_board() {
        let ports = vec![
            plain("/dev/ttyS0"),
            usb("/dev/ttyUSB0", 0x10c4, 0xea60, None),
            usb(
                "/dev/ttyACM0",
                ESPRESSIF_VID,
                USB_SERIAL_JTAG_PID,
                Some("AA"),
            ),
        ];
        assert_eq!(choose(&ports).unwrap().port_name, "/dev/ttyACM0");
    }

    #[test]
    fn no_board_lists_candidates() {
        let ports = vec![
            plain("/dev/ttyS0"),
            usb("/dev/ttyUSB0", 0x10c4, 0xea60, None),
        ];
        let err = choose(&ports).unwrap_err().to_string();
        assert!(err.contains("pass --port"), "{err}");
        assert!(
            err.contains("/dev/ttyS0, /dev/ttyUSB0 (10c4:ea60)"),
            "{err}"
        );
        let err = choose(&[]).unwrap_err().to_string();
        assert!(err.contains("plugged in"), "{err}");
    }

    #[test]
    fn two_boards_are_ambiguous() {
        let ports = vec![
            usb("COM3", ESPRESSIF_VID, USB_SERIAL_JTAG_PID, Some("A")),
            usb("COM4", ESPRESSIF_VID, WPI_MICROPYTHON_PID, Some("B")),
        ];
        let err = choose(&ports).unwrap_err().to_string();
        assert!(err.contains("COM3 (303a:1001 SN A)"), "{err}");
        assert!(err.contains("--port"), "{err}");
    }

    #[test]
    fn locate_by_path_then_by_serial_number() {
        let before = vec![usb(
            "/dev/ttyACM0",
            ESPRESSIF_VID,
            USB_SERIAL_JTAG_PID,
            Some("7C:DF:A1:00:11:22"),
        )];
        let id = Identity::of("/dev/ttyACM0", &before);
        assert_eq!(id.serial_number.as_deref(), Some("7C:DF:A1:00:11:22"));
        // Same path back: that path.
        assert_eq!(id.locate(true, &before).as_deref(), Some("/dev/ttyACM0"));
        // Back under a new name (download mode, another ACM number).
        let after = vec![
            usb(
                "/dev/ttyACM0",
                ESPRESSIF_VID,
                USB_SERIAL_JTAG_PID,
                Some("other"),
            ),
            usb(
                "/dev/ttyACM1",
                ESPRESSIF_VID,
                USB_SERIAL_JTAG_PID,
                Some("7C:DF:A1:00:11:22"),
            ),
        ];
        assert_eq!(id.locate(false, &after).as_deref(), Some("/dev/ttyACM1"));
        // Not back yet.
        assert_eq!(id.locate(false, &[]), None);
        // Without a serial number only the path counts.
        let anon = Identity::of("/dev/pts/9", &[]);
        assert_eq!(anon.serial_number, None);
        assert_eq!(anon.locate(false, &after), None);
    }

    #[test]
    fn busy_message_names_the_programs_users_of_this_system_run() {
        let msg = PortError::Busy {
            path: "COM3".into(),
        }
        .to_string();
        assert!(msg.contains("is busy"), "{msg}");
        let expected = if cfg!(windows) {
            "NetAssist"
        } else {
            "ModemManager"
        };
        assert!(msg.contains(expected), "{msg}");
    }

    #[test]
    fn permission_message_has_a_hint() {
        let msg = PortError::PermissionDenied {
            path: "/dev/ttyACM0".into(),
        }
        .to_string();
        if cfg!(target_os = "linux") {
            assert!(
                msg.contains("dialout") && msg.contains("99-picow.rules"),
                "{msg}"
            );
        }
    }
}
