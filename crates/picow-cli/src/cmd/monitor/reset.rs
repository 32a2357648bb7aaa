//! Resetting the board from the monitor (Ctrl-R, `--reset`).
//!
//! Behind a small trait so that the monitor does not care how: a real board
//! is reset through the serial port's DTR/RTS lines.
//!
//! FOLLOW-UP (not done): a virtual board (`picow sim`, issue on branch `sim`)
//! has no modem lines; it will be reset through its control socket once
//! that socket's protocol is documented. Until then Ctrl-R on a virtual
//! board reports that the port has no reset lines.

use serialport::SerialPort;

use crate::port;

/// Something that can reset the board behind a port.
pub trait Reset {
    /// Resets the board. `port` is the open serial port.
    fn reset(&mut self, port: &mut dyn SerialPort) -> Result<(), String>;
}

/// Reset through DTR/RTS, with the USB-Serial-JTAG sequence when the port is
/// Espressif's native USB (product id 0x1001).
#[derive(Debug, Clone, Copy)]
pub struct ModemLines {
    /// The USB product id, when known.
    pub pid: Option<u16>,
}

impl Reset for ModemLines {
    fn reset(&mut self, port: &mut dyn SerialPort) -> Result<(), String> {
        port::hard_reset(port, self.pid).map_err(|e| {
            format!(
                "could not reset through DTR/RTS ({e}); this port has no reset lines \
                 (a virtual board, or a UART adapter without RTS wired to EN): press the \
                 board's reset button"
            )
        })
    }
}
