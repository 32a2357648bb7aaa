//! The hook through which a booted picow-fw app runs on the host.
//!
//! The virtual board does not execute firmware code. When the boot checks
//! pass and the app descriptor says `picow-fw`, the board calls
//! [`Firmware::run`] with what the firmware would find on a real board (chip,
//! MAC, the config partition's record, the virtual Wi-Fi) and a [`Console`]
//! that is the board's serial port. `picow-app` with a host implementation
//! of its hardware trait plugs in here; the future is dropped (cancelled)
//! when the board is reset or unplugged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;

use crate::boot::BootedApp;
use crate::chip::{Chip, Mac};
use crate::wifi::WifiTable;

/// What a booted app finds on the board.
#[derive(Debug, Clone)]
pub struct AppEnv {
    /// The chip.
    pub chip: Chip,
    /// The base MAC (eFuse).
    pub mac: Mac,
    /// The verified app and the config partition's contents.
    pub app: BootedApp,
    /// The networks in range.
    pub wifi: WifiTable,
    /// The flash contents at boot (the firmware reads its partition table
    /// and config from here, as on the chip).
    pub flash: std::sync::Arc<[u8]>,
    /// The host interface on which the firmware's multicast DNS joins the
    /// group (its address is then the board's own); `None`: no multicast.
    pub multicast: Option<std::net::Ipv4Addr>,
    /// The board's flash itself, for a firmware that writes it (updates
    /// over Wi-Fi); reads and writes go to the flash file.
    pub shared_flash: Option<crate::device::SharedFlash>,
    /// The host listener where the firmware takes updates over Wi-Fi.
    pub ota_listener: Option<std::sync::Arc<std::net::TcpListener>>,
}

/// The board's serial console as the firmware sees it: bytes written go to
/// the pty, bytes the host sends arrive in chunks.
#[derive(Debug)]
pub struct Console {
    output: mpsc::UnboundedSender<Vec<u8>>,
    input: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl Console {
    /// A console and the board's ends of it: `(console, to_firmware, from_firmware)`.
    pub fn new() -> (
        Console,
        mpsc::UnboundedSender<Vec<u8>>,
        mpsc::UnboundedReceiver<Vec<u8>>,
    ) {
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        (
            Console {
                output: out_tx,
                input: in_rx,
            },
            in_tx,
            out_rx,
        )
    }

    /// Writes bytes to the serial port (dropped when the board is gone).
    pub fn write(&self, bytes: &[u8]) {
        let _ = self.output.send(bytes.to_vec());
    }

    /// The next chunk the host sent; `None` when the board is gone.
    pub async fn read(&mut self) -> Option<Vec<u8>> {
        self.input.recv().await
    }

    /// The two directions apart, for a firmware that reads and writes
    /// concurrently: `(output, input)`.
    pub fn into_parts(
        self,
    ) -> (
        mpsc::UnboundedSender<Vec<u8>>,
        mpsc::UnboundedReceiver<Vec<u8>>,
    ) {
        (self.output, self.input)
    }
}

/// How a firmware run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppExit {
    /// The firmware asked for a reboot: the board resets and boots again.
    Reboot,
    /// The firmware stopped; the board stays halted.
    Stopped,
}

/// A future the board drives and drops on reset.
pub type AppFuture = Pin<Box<dyn Future<Output = AppExit> + Send + 'static>>;

/// The behaviour of the picow firmware on the host.
pub trait Firmware: Send + Sync + fmt::Debug + 'static {
    /// Runs the firmware until it returns or the board drops the future.
    fn run(&self, env: AppEnv, console: Console) -> AppFuture;
}
