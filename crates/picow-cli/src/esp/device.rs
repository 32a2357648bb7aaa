//! A session with a board's ROM loader through espflash: connect (with the
//! right reset for the port), read what the board is, write regions with
//! compression, verification and skipping of unchanged data, read flash,
//! and reset into the app.
//!
//! Pitfalls handled here (see `rom-loader.md`): a pty has no DTR/RTS, so it
//! gets no reset; the session uses `NoResetNoStub` so the stub stays up for
//! several steps and the board is reset once at the end; reads use the stub
//! with one block in flight.

use std::path::{Path, PathBuf};
use std::time::Duration;

use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::{DeviceInfo, Flasher};
use espflash::image_format::Segment;
use serialport::{SerialPort, UsbPortInfo};

use crate::port::{self, PortError};

/// `--before`: how to get the board into the ROM loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Before {
    /// DTR/RTS reset into the loader (USB-Serial-JTAG sequence for 303a:1001).
    DefaultReset,
    /// Do not reset: the board is already in download mode.
    NoReset,
}

/// `--after`: what to do when done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum After {
    /// Reset the board so that it runs the app.
    HardReset,
    /// Leave the board in the loader.
    NoReset,
}

/// Errors of a session. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The port could not be opened (not found, busy, permission).
    #[error(transparent)]
    Port(#[from] PortError),
    /// No loader answered.
    #[error("{}", picow_i18n::msg!("device-no-loader", port = port.as_str(), detail = detail.as_str()))]
    Sync {
        /// The port.
        port: String,
        /// What espflash said.
        detail: String,
    },
    /// The virtual board's control socket failed.
    #[error("virtual board control socket {path}: {detail}")]
    Control {
        /// The socket.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A write failed or the link dropped during it.
    #[error("writing the {region} at {addr:#x} failed ({detail}); the board may hold a partial image: check the cable and run the same command again (regions already written are skipped)")]
    Write {
        /// Region name.
        region: &'static str,
        /// Its address.
        addr: u32,
        /// What espflash said.
        detail: String,
    },
    /// The MD5 of a written region did not match.
    #[error("verification of the {region} at {addr:#x} failed: the flash does not hold what was written; run the command again with --erase, and if it fails again the flash chip may be worn out")]
    Verify {
        /// Region name.
        region: &'static str,
        /// Its address.
        addr: u32,
    },
    /// Any other loader error, with the step it happened in.
    #[error("{step} failed: {source}")]
    Loader {
        /// What was being done.
        step: &'static str,
        /// What espflash said.
        #[source]
        source: espflash::Error,
    },
    /// A temporary file for a flash read.
    #[error("could not use a temporary file: {0}")]
    Temp(#[from] std::io::Error),
}

impl DeviceError {
    /// The message in the user's language, for the errors people meet
    /// first (a port that is missing or busy, a board not in download
    /// mode); `None` for the others, whose English `Display` is shown.
    pub fn localized(&self) -> Option<String> {
        match self {
            DeviceError::Port(p) => Some(p.localized()),
            DeviceError::Sync { port, detail } => Some(
                picow_i18n::msg!(
                    "device-no-loader",
                    port = port.as_str(),
                    detail = detail.as_str()
                )
                .localized(),
            ),
            _ => None,
        }
    }
}

/// How to reach one board.
#[derive(Debug, Clone)]
pub struct Target {
    /// The port path.
    pub port: String,
    /// USB vendor and product id, when known.
    pub usb: Option<(u16, u16)>,
    /// The virtual board's control socket, when the port is one.
    pub control: Option<PathBuf>,
}

impl Target {
    /// A target for `port`; finds the USB ids in `ports` and a virtual
    /// board's control socket ([`control_socket`]).
    pub fn new(port: &str, ports: &[serialport::SerialPortInfo]) -> Target {
        let id = port::Identity::of(port, ports);
        Target {
            port: port.to_string(),
            usb: id.usb_id,
            control: control_socket(port),
        }
    }
}

/// The control socket of a virtual board at `port` (none off Unix).
#[cfg(not(unix))]
pub fn control_socket(_port: &str) -> Option<PathBuf> {
    None
}

/// The control socket of a virtual board at `port`, if there is one, by
/// the one rule of [`picow_sim::control::client::find_control_socket`].
#[cfg(unix)]
pub fn control_socket(port: &str) -> Option<PathBuf> {
    picow_sim::control::client::find_control_socket(None, Path::new(port))
}

/// Sends one line to a virtual board's control socket (Unix only).
#[cfg(not(unix))]
pub fn control(path: &Path, _cmd: &str) -> Result<String, DeviceError> {
    Err(DeviceError::Control {
        path: path.display().to_string(),
        detail: "virtual boards run on Unix only".into(),
    })
}

/// Sends one line to a virtual board's control socket and returns the
/// reply, which must be `ok …`.
#[cfg(unix)]
pub fn control(path: &Path, cmd: &str) -> Result<String, DeviceError> {
    picow_sim::control::client::command(path, cmd, Duration::from_secs(10)).map_err(|e| {
        DeviceError::Control {
            path: path.display().to_string(),
            detail: e.to_string(),
        }
    })
}

/// Whether an open port has modem-control lines (a pty has none: `ENOTTY`).
pub fn has_modem_lines(port: &mut dyn SerialPort) -> bool {
    port.read_clear_to_send().is_ok()
}

/// A connected board with the flasher stub running.
pub struct Session {
    flasher: Flasher,
    target: Target,
    /// Whether DTR/RTS can reset the board.
    modem_lines: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.target)
            .finish()
    }
}

/// An error with its causes, `outer: inner: innermost` (espflash's own
/// message alone is often only "Error while connecting to device").
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// What went wrong in a write, for a person: a board that stopped answering
/// (espflash reports a timeout deep in its causes) is said first.
fn write_detail(e: &espflash::Error) -> String {
    let text = with_causes(e);
    if text.to_ascii_lowercase().contains("timeout") || text.contains("timed out") {
        format!("the board stopped answering: {text}")
    } else {
        text
    }
}

fn sync_error(e: &espflash::Error) -> bool {
    use espflash::Error as E;
    matches!(e, E::Connection(_) | E::ChipDetectError(_) | E::RomError(_))
}

/// Connects to the board behind `target`: resets it into the loader (via
/// the control socket for a virtual board, DTR/RTS otherwise, nothing for a
/// port without modem lines, with a warning), syncs, uploads the stub and
/// switches to `baud`.
pub fn connect(
    target: &Target,
    before: Before,
    baud: u32,
    warn: &mut dyn FnMut(String),
) -> Result<Session, DeviceError> {
    let mut before = before;
    if let Some(ctl) = &target.control {
        if before == Before::DefaultReset {
            control(ctl, "reset download")?;
        }
        before = Before::NoReset;
    }
    let mut serial = port::open(&target.port, 115_200, Duration::from_secs(3))?;
    let modem_lines = has_modem_lines(&mut serial);
    if before == Before::DefaultReset && !modem_lines && target.control.is_none() {
        warn(format!(
            "{} has no modem-control lines (a pty or an adapter without DTR/RTS): not resetting it; \
             the board must already be in download mode (hold BOOT while plugging it in)",
            target.port
        ));
        before = Before::NoReset;
    }
    let (vid, pid) = target.usb.unwrap_or((0, 0));
    let info = UsbPortInfo {
        vid,
        pid,
        serial_number: None,
        manufacturer: None,
        product: None,
    };
    let espflash_before = match before {
        Before::DefaultReset if pid == port::USB_SERIAL_JTAG_PID => ResetBeforeOperation::UsbReset,
        Before::DefaultReset => ResetBeforeOperation::DefaultReset,
        Before::NoReset => ResetBeforeOperation::NoReset,
    };
    let conn = Connection::new(
        serial,
        info,
        ResetAfterOperation::NoResetNoStub,
        espflash_before,
        115_200,
    );
    // The baud rate is changed below, not by connect(), which logs a
    // warning for every rate above 115200.
    let mut flasher = Flasher::connect(conn, true, true, true, None, None).map_err(|e| {
        if sync_error(&e) {
            DeviceError::Sync {
                port: target.port.clone(),
                detail: e.to_string(),
            }
        } else {
            DeviceError::Loader {
                step: "connecting to the loader",
                source: e,
            }
        }
    })?;
    if baud != 115_200 {
        flasher
            .change_baud(baud)
            .map_err(|source| DeviceError::Loader {
                step: "switching the baud rate",
                source,
            })?;
    }
    Ok(Session {
        flasher,
        target: target.clone(),
        modem_lines,
    })
}

/// What `probe` reports about a board in download mode.
#[derive(Debug, Clone)]
pub struct BoardInfo {
    /// espflash's device info (chip, revision, crystal, flash size, features, MAC).
    pub device: DeviceInfo,
    /// The JEDEC id of the flash chip (manufacturer, type, capacity).
    pub jedec: Option<[u8; 3]>,
    /// Security flags, when the chip reports them.
    pub security: Option<espflash::connection::SecurityInfo>,
}

impl Session {
    /// The chip found.
    pub fn chip(&self) -> espflash::target::Chip {
        self.flasher.chip()
    }

    /// The port.
    pub fn port(&self) -> &str {
        &self.target.port
    }

    /// Chip, revision, crystal, flash size, MAC.
    pub fn device_info(&mut self) -> Result<DeviceInfo, DeviceError> {
        self.flasher
            .device_info()
            .map_err(|source| DeviceError::Loader {
                step: "reading the chip's details",
                source,
            })
    }

    /// Everything `probe` shows that the loader knows.
    pub fn board_info(&mut self) -> Result<BoardInfo, DeviceError> {
        let device = self.device_info()?;
        let jedec = self.jedec_id().ok();
        let security = self.flasher.security_info().ok();
        Ok(BoardInfo {
            device,
            jedec,
            security,
        })
    }

    /// The flash chip's JEDEC id (command 0x9F), read through the SPI1
    /// controller's registers as espflash and esptool do.
    pub fn jedec_id(&mut self) -> Result<[u8; 3], espflash::Error> {
        let regs = self.flasher.chip().spi_registers();
        let conn = self.flasher.connection();
        let old_usr = conn.read_reg(regs.usr())?;
        let old_usr2 = conn.read_reg(regs.usr2())?;
        let read_bits = 24u32;
        conn.write_reg(regs.usr(), (1 << 31) | (1 << 28), None)?;
        conn.write_reg(regs.usr2(), (7 << 28) | 0x9F, None)?;
        match (regs.mosi_length(), regs.miso_length()) {
            (Some(_), Some(miso)) => conn.write_reg(miso, read_bits - 1, None)?,
            _ => conn.write_reg(regs.usr1(), (read_bits - 1) << 8, None)?,
        }
        conn.write_reg(regs.w0(), 0, None)?;
        conn.write_reg(regs.cmd(), 1 << 18, None)?;
        for _ in 0..10 {
            if conn.read_reg(regs.cmd())? & (1 << 18) == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let id = conn.read_reg(regs.w0())?;
        conn.write_reg(regs.usr(), old_usr, None)?;
        conn.write_reg(regs.usr2(), old_usr2, None)?;
        Ok([id as u8, (id >> 8) as u8, (id >> 16) as u8])
    }

    /// Reads `len` bytes of flash at `addr` (stub READ_FLASH, one block in
    /// flight).
    pub fn read_flash(&mut self, addr: u32, len: u32) -> Result<Vec<u8>, DeviceError> {
        let file = tempfile::NamedTempFile::new()?;
        let path = file.path().to_path_buf();
        self.flasher
            .read_flash(addr, len, 0x1000, 1, path.clone())
            .map_err(|source| DeviceError::Loader {
                step: "reading flash",
                source,
            })?;
        Ok(std::fs::read(&path)?)
    }

    /// The partition table's bytes: the first 256 bytes (eight entries,
    /// enough for picow's and most tables), the whole 3 KiB region only
    /// when the table goes on. Saves 0.25 s at 115200 baud.
    pub fn read_partition_table(&mut self) -> Result<Vec<u8>, DeviceError> {
        use picow_protocol::layout::{
            PartitionTable, TableError, PARTITION_TABLE_LEN, PARTITION_TABLE_OFFSET,
        };
        let head = self.read_flash(PARTITION_TABLE_OFFSET, 0x100)?;
        if PartitionTable::parse(&head) == Err(TableError::Truncated) {
            return self.read_flash(PARTITION_TABLE_OFFSET, PARTITION_TABLE_LEN as u32);
        }
        Ok(head)
    }

    /// MD5 of a flash range, as the loader computes it.
    pub fn md5(&mut self, addr: u32, len: u32) -> Result<u128, DeviceError> {
        self.flasher
            .checksum_md5(addr, len)
            .map_err(|source| DeviceError::Loader {
                step: "checksumming flash",
                source,
            })
    }

    /// Erases the whole flash.
    pub fn erase_all(&mut self) -> Result<(), DeviceError> {
        self.flasher
            .erase_flash()
            .map_err(|source| DeviceError::Loader {
                step: "erasing the flash",
                source,
            })
    }

    /// Writes regions (name, address, bytes) with compression, verification
    /// and skipping of regions the board already holds.
    pub fn write(
        &mut self,
        regions: &[(&'static str, u32, &[u8])],
        progress: &mut crate::esp::progress::Progress,
    ) -> Result<(), DeviceError> {
        let segments: Vec<Segment<'_>> = regions
            .iter()
            .map(|(_, addr, data)| Segment::new(*addr, data))
            .collect();
        let result = self.flasher.write_bins_to_flash(&segments, progress);
        result.map_err(|e| {
            let (region, addr) = progress
                .in_flight()
                .or_else(|| regions.get(progress.results.len()).map(|r| (r.0, r.1)))
                .unwrap_or(("data", 0));
            match e {
                espflash::Error::VerifyFailed => DeviceError::Verify { region, addr },
                e => DeviceError::Write {
                    region,
                    addr,
                    detail: write_detail(&e),
                },
            }
        })
    }

    /// Resets into the app (`After::HardReset`) or leaves the board in the
    /// loader. Returns a warning when it cannot reset.
    pub fn finish(mut self, after: After) -> Result<Option<String>, DeviceError> {
        if after == After::NoReset {
            return Ok(None);
        }
        if let Some(ctl) = &self.target.control {
            control(ctl, "reset run")?;
            return Ok(None);
        }
        if !self.modem_lines {
            return Ok(Some(format!(
                "{} has no modem-control lines: press RESET on the board to start the new firmware",
                self.target.port
            )));
        }
        self.flasher
            .connection()
            .reset()
            .map_err(|source| DeviceError::Loader {
                step: "resetting the board",
                source,
            })?;
        Ok(None)
    }
}
