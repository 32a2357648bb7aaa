//! Shared helpers: a virtual board on a real pty in a background runtime.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use picow_sim::device::{Sim, SimOptions};
use picow_sim::firmware::Firmware;
use picow_sim::wifi::WifiTable;
use picow_sim::{Chip, Flash, Mac};

pub struct Board {
    pub rt: tokio::runtime::Runtime,
    pub sim: Option<Sim>,
    pub dir: tempfile::TempDir,
    pub link: PathBuf,
    pub control: PathBuf,
}

impl Board {
    pub fn start(
        chip: Chip,
        flash: Flash,
        boot: bool,
        firmware: Option<Arc<dyn Firmware>>,
    ) -> Board {
        Board::start_with(chip, flash, boot, firmware, Mac::DEFAULT)
    }

    pub fn start_with(
        chip: Chip,
        flash: Flash,
        boot: bool,
        firmware: Option<Arc<dyn Firmware>>,
        mac: Mac,
    ) -> Board {
        Board::start_custom(chip, flash, boot, firmware, mac, false)
    }

    pub fn start_custom(
        chip: Chip,
        flash: Flash,
        boot: bool,
        firmware: Option<Arc<dyn Firmware>>,
        mac: Mac,
        baud_pacing: bool,
    ) -> Board {
        Board::start_full(
            chip,
            flash,
            boot,
            firmware,
            mac,
            baud_pacing,
            WifiTable::default(),
        )
    }

    pub fn start_full(
        chip: Chip,
        flash: Flash,
        boot: bool,
        firmware: Option<Arc<dyn Firmware>>,
        mac: Mac,
        baud_pacing: bool,
        wifi: WifiTable,
    ) -> Board {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("board");
        let control = dir.path().join("board.control");
        let opts = SimOptions {
            chip,
            mac,
            flash,
            wifi,
            link: Some(link.clone()),
            control: control.clone(),
            boot,
            baud_pacing,
            firmware,
            multicast: None,
            ota_listener: None,
        };
        let sim = rt.block_on(Sim::start(opts)).unwrap();
        Board {
            rt,
            sim: Some(sim),
            dir,
            link,
            control,
        }
    }

    /// One control command, one reply line.
    pub fn control(&self, cmd: &str) -> String {
        let mut s = UnixStream::connect(&self.control).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        writeln!(s, "{cmd}").unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    pub fn open(&self) -> serialport::TTYPort {
        open_port(&self.link)
    }

    pub fn stop(mut self) {
        let sim = self.sim.take().unwrap();
        self.rt.block_on(sim.stop()).unwrap();
    }
}

pub fn open_port(path: &Path) -> serialport::TTYPort {
    serialport::new(path.to_string_lossy(), 115_200)
        .timeout(Duration::from_secs(3))
        .open_native()
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Reads until `needle` appears (or 10 s pass), returning everything read.
pub fn read_until(port: &mut impl Read, needle: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        match port.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read: {e}"),
        }
        if got.windows(needle.len()).any(|w| w == needle) {
            return got;
        }
    }
    panic!(
        "did not see {:?} in {:?}",
        String::from_utf8_lossy(needle),
        String::from_utf8_lossy(&got)
    );
}
