//! Resetting the board from the monitor (Ctrl-R, `--reset`).
//!
//! Behind a small trait so that the monitor does not care how: a real board
//! is reset through the serial port's DTR/RTS lines; a virtual board
//! (`picow sim`), whose pty has no such lines, through its control socket.

use serialport::SerialPort;

use crate::port;

/// Something that can reset the board behind a port.
pub trait Reset: std::fmt::Debug {
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
                 (a virtual board without its control socket, or a UART adapter without RTS \
                 wired to EN): press the board's reset button"
            )
        })
    }
}

#[cfg(unix)]
pub use sim::SimControl;

#[cfg(unix)]
mod sim {
    use std::path::PathBuf;
    use std::time::Duration;

    use serialport::SerialPort;

    use super::Reset;

    /// Reset of a virtual board (`picow sim`) through its control socket:
    /// one line `reset run`, one line back, `ok ...` or `error ...`.
    #[derive(Debug, Clone)]
    pub struct SimControl {
        /// The control socket.
        pub socket: PathBuf,
    }

    impl Reset for SimControl {
        fn reset(&mut self, _port: &mut dyn SerialPort) -> Result<(), String> {
            picow_sim::control::client::command(&self.socket, "reset run", Duration::from_secs(5))
                .map(drop)
                .map_err(|e| {
                    format!(
                        "cannot reset the virtual board through {}: {e}",
                        self.socket.display()
                    )
                })
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    /// A stand-in for `picow sim`'s control socket, answering one command.
    fn fake_board(path: &std::path::Path, reply: &'static str) -> std::thread::JoinHandle<String> {
        let l = UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut line = String::new();
            BufReader::new(s.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            (&s).write_all(reply.as_bytes()).unwrap();
            line
        })
    }

    fn any_port() -> Box<dyn SerialPort> {
        // Reset through the socket never touches the port; a pty stands in.
        let (m, _s) = serialport::TTYPort::pair().unwrap();
        Box::new(m)
    }

    #[test]
    fn virtual_board_reset_goes_through_the_control_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("picow.control");
        let board = fake_board(&sock, "ok mode=running\n");
        let mut port = any_port();
        SimControl {
            socket: sock.clone(),
        }
        .reset(&mut *port)
        .unwrap();
        assert_eq!(board.join().unwrap(), "reset run\n");

        std::fs::remove_file(&sock).unwrap();
        let board = fake_board(&sock, "error the board stopped\n");
        let err = SimControl { socket: sock }.reset(&mut *port).unwrap_err();
        assert!(
            err.contains("answered `reset run` with: error the board stopped"),
            "{err}"
        );
        board.join().unwrap();
    }

    #[test]
    fn a_pty_has_no_reset_lines() {
        let mut port = any_port();
        let err = ModemLines { pid: None }.reset(&mut *port).unwrap_err();
        assert!(err.contains("press the board's reset button"), "{err}");
    }
}
