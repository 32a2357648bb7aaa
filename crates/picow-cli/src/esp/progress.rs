//! Progress of a flash write: indicatif bars per region on a terminal, one
//! JSON object per line with `--json`, nothing with `-q`.
//!
//! espflash reports progress in chunks of the (possibly compressed) data it
//! sends; the bars and events convert that back to bytes of the region.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use espflash::target::ProgressCallbacks;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::esp::image::{self, PicowChip};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// indicatif bars on stderr (plain lines when stderr is not a terminal).
    Bars,
    /// JSON events on stdout.
    Json,
    /// Nothing.
    Quiet,
}

/// What happened to one region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionResult {
    /// Region name.
    pub name: &'static str,
    /// Address.
    pub addr: u32,
    /// Bytes in the region.
    pub size: usize,
    /// Unchanged on the board, not sent.
    pub skipped: bool,
    /// Seconds it took.
    pub secs: f64,
}

struct Current {
    name: &'static str,
    addr: u32,
    size: usize,
    chunks: usize,
    started: Instant,
    bar: Option<ProgressBar>,
}

/// Progress callbacks for espflash that know the regions being written.
pub struct Progress {
    mode: Mode,
    regions: Vec<(&'static str, u32, usize)>,
    current: Option<Current>,
    /// Finished regions, in order.
    pub results: Vec<RegionResult>,
    verifying: bool,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("mode", &self.mode)
            .field("results", &self.results)
            .finish()
    }
}

/// Everything `picow flash --json` reports, one JSON object per line with
/// the event's name as `"event"` (`docs/flash.md`). The lines people see are
/// printed from the same values ([`FlashEvent::human`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum FlashEvent<'a> {
    /// A board runs the vendor MicroPython: waiting for download mode.
    Waiting {
        /// Why (`micropython`).
        reason: &'static str,
        /// The board's port.
        port: &'a str,
        /// What the user must do.
        hint: &'a str,
        /// How long picow waits.
        timeout_secs: u64,
    },
    /// `--save-image`: the merged image was written.
    Saved {
        /// The file.
        path: String,
        /// Its size.
        size: usize,
        /// The chip.
        chip: PicowChip,
        /// What it holds.
        regions: Vec<RegionInfo>,
        /// The OTA password written, masked unless `--show-secrets`; null
        /// when updates over Wi-Fi are off.
        ota_password: Option<String>,
        /// The firmware it was made from (not in JSON).
        #[serde(skip)]
        firmware: String,
    },
    /// Connected to the board's ROM loader.
    Connected {
        /// The port.
        port: &'a str,
        /// The chip.
        chip: PicowChip,
        /// Its flash size in bytes.
        flash_size: u32,
        /// Its MAC.
        mac: Option<&'a str>,
    },
    /// A region's write begins.
    Region {
        /// Its name.
        name: &'static str,
        /// Its address.
        addr: u32,
        /// Its size.
        size: usize,
        /// The chunks espflash sends.
        chunks: usize,
    },
    /// Bytes of a region written so far.
    Progress {
        /// Its name.
        name: &'static str,
        /// Its address.
        addr: u32,
        /// Bytes done.
        bytes: u64,
        /// Its size.
        size: usize,
        /// Chunks done.
        chunk: usize,
        /// Chunks in all.
        chunks: usize,
    },
    /// A region was written (and verified).
    Written(RegionDone),
    /// A region was already on the board and not sent.
    Skipped(RegionDone),
    /// Everything was written.
    Done {
        /// The port.
        port: &'a str,
        /// The chip.
        chip: PicowChip,
        /// Regions written.
        written: usize,
        /// Regions unchanged.
        skipped: usize,
        /// Seconds it took.
        secs: f64,
        /// The Wi-Fi network written.
        ssid: &'a str,
        /// Its password, masked.
        password: &'a str,
        /// The server written.
        server: String,
        /// The OTA password written, masked unless `--show-secrets`; null
        /// when updates over Wi-Fi are off.
        ota_password: Option<String>,
        /// Whether the board was reset into the app.
        reset: bool,
    },
}

/// A region of a plan (`regions` of `saved`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionInfo {
    /// Its name.
    pub name: &'static str,
    /// Its address.
    pub addr: u32,
    /// Its size.
    pub size: usize,
}

/// A finished region (`written` and `skipped`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionDone {
    /// Its name.
    pub name: &'static str,
    /// Its address.
    pub addr: u32,
    /// Its size.
    pub size: usize,
    /// Read back and compared.
    pub verified: bool,
    /// Seconds it took.
    pub secs: f64,
}

impl FlashEvent<'_> {
    /// The line people see for this event, if it has one.
    pub fn human(&self) -> Option<String> {
        Some(match self {
            FlashEvent::Waiting {
                hint, timeout_secs, ..
            } => format!(
                "{hint}. Waiting up to {} for the board in download mode…",
                picow_values::duration::format(std::time::Duration::from_secs(*timeout_secs))
            ),
            FlashEvent::Saved {
                path,
                size,
                chip,
                regions,
                firmware,
                ..
            } => picow_i18n::tr!(
                "flash-saved",
                path = path.as_str(),
                size = image::human_size(*size as u32),
                firmware = firmware.as_str(),
                chip = chip.to_string(),
                regions = regions
                    .iter()
                    .map(|r| format!("{} @{:#x}", r.name, r.addr))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            FlashEvent::Connected {
                port,
                chip,
                flash_size,
                mac,
            } => format!(
                "{port}: {chip}, {} flash, MAC {}",
                image::human_size(*flash_size),
                mac.unwrap_or("?")
            ),
            FlashEvent::Region { .. } | FlashEvent::Progress { .. } => return None,
            FlashEvent::Written(r) => picow_i18n::tr!(
                "flash-written",
                region = format!("{:>16}", format!("{} @{:#x}", r.name, r.addr)),
                bytes = r.size.to_string(),
                secs = format!("{:.1}", r.secs)
            ),
            FlashEvent::Skipped(r) => picow_i18n::tr!(
                "flash-skipped",
                region = format!("{:>16}", format!("{} @{:#x}", r.name, r.addr))
            ),
            FlashEvent::Done {
                written,
                skipped,
                secs,
                ssid,
                password,
                server,
                reset,
                ..
            } => picow_i18n::tr!(
                "flash-done",
                secs = format!("{secs:.1}"),
                written = written.to_string(),
                skipped = skipped.to_string(),
                ssid = ssid.to_string(),
                password = password.to_string(),
                server = server.to_string(),
                reset = if *reset {
                    picow_i18n::tr!("flash-done-reset")
                } else {
                    String::new()
                }
            ),
        })
    }
}

/// Prints one JSON event line on stdout.
pub fn event(value: &FlashEvent<'_>) {
    let mut out = std::io::stdout().lock();
    if serde_json::to_writer(&mut out, value).is_ok() {
        let _ = writeln!(out);
    }
    let _ = out.flush();
}

impl Progress {
    /// Progress for writing `regions` (name, address, size).
    pub fn new(mode: Mode, regions: Vec<(&'static str, u32, usize)>) -> Progress {
        Progress {
            mode,
            regions,
            current: None,
            results: Vec::new(),
            verifying: false,
        }
    }

    /// The region being written now (name, address), if any: for error
    /// messages after an interrupted write.
    pub fn in_flight(&self) -> Option<(&'static str, u32)> {
        self.current.as_ref().map(|c| (c.name, c.addr))
    }

    fn lookup(&self, addr: u32) -> (&'static str, usize) {
        self.regions
            .iter()
            .find(|r| r.1 == addr)
            .map(|r| (r.0, r.2))
            .unwrap_or(("data", 0))
    }

    fn bytes_done(c: &Current, chunks_done: usize) -> u64 {
        if c.chunks == 0 {
            return c.size as u64;
        }
        (c.size as u64 * chunks_done as u64) / c.chunks as u64
    }
}

impl ProgressCallbacks for Progress {
    fn init(&mut self, addr: u32, total: usize) {
        let (name, size) = self.lookup(addr);
        self.verifying = false;
        let bar = match self.mode {
            Mode::Bars => {
                let bar = ProgressBar::with_draw_target(
                    Some(size as u64),
                    if std::io::stderr().is_terminal() {
                        ProgressDrawTarget::stderr()
                    } else {
                        ProgressDrawTarget::hidden()
                    },
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>16} {bar:30} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} {msg}",
                    )
                    .expect("valid template"),
                );
                bar.set_prefix(format!("{name} @{addr:#x}"));
                Some(bar)
            }
            Mode::Json => {
                event(&FlashEvent::Region {
                    name,
                    addr,
                    size,
                    chunks: total,
                });
                None
            }
            Mode::Quiet => None,
        };
        self.current = Some(Current {
            name,
            addr,
            size,
            chunks: total,
            started: Instant::now(),
            bar,
        });
    }

    fn update(&mut self, current: usize) {
        let Some(c) = &self.current else { return };
        let done = Self::bytes_done(c, current);
        match self.mode {
            Mode::Bars => {
                if let Some(b) = &c.bar {
                    b.set_position(done);
                }
            }
            Mode::Json => event(&FlashEvent::Progress {
                name: c.name,
                addr: c.addr,
                bytes: done,
                size: c.size,
                chunk: current,
                chunks: c.chunks,
            }),
            Mode::Quiet => {}
        }
    }

    fn verifying(&mut self) {
        self.verifying = true;
        if let Some(Current { bar: Some(b), .. }) = &self.current {
            b.set_message("verifying");
        }
    }

    fn finish(&mut self, skipped: bool) {
        // espflash calls finish(true) for a skipped region without init.
        let c = match self.current.take() {
            Some(c) => c,
            None => {
                let next = self
                    .regions
                    .get(self.results.len())
                    .copied()
                    .unwrap_or(("data", 0, 0));
                Current {
                    name: next.0,
                    addr: next.1,
                    size: next.2,
                    chunks: 0,
                    started: Instant::now(),
                    bar: None,
                }
            }
        };
        let secs = c.started.elapsed().as_secs_f64();
        let done = RegionDone {
            name: c.name,
            addr: c.addr,
            size: c.size,
            verified: !skipped && self.verifying,
            secs,
        };
        let ev = if skipped {
            FlashEvent::Skipped(done)
        } else {
            FlashEvent::Written(done)
        };
        match self.mode {
            Mode::Bars => {
                let line = ev.human().unwrap_or_default();
                match c.bar {
                    Some(b) if !b.is_hidden() => b.finish_with_message(if skipped {
                        "unchanged, skipped"
                    } else {
                        "verified"
                    }),
                    _ => eprintln!("{line}"),
                }
            }
            Mode::Json => event(&ev),
            Mode::Quiet => {}
        }
        self.results.push(RegionResult {
            name: c.name,
            addr: c.addr,
            size: c.size,
            skipped,
            secs,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_become_bytes_and_skips_are_recorded() {
        let mut p = Progress::new(
            Mode::Quiet,
            vec![("bootloader", 0, 100), ("app", 0x10000, 1000)],
        );
        // espflash skips an unchanged region without init.
        p.finish(true);
        p.init(0x10000, 4);
        assert_eq!(p.in_flight(), Some(("app", 0x10000)));
        let c = p.current.as_ref().unwrap();
        assert_eq!(Progress::bytes_done(c, 1), 250);
        assert_eq!(Progress::bytes_done(c, 4), 1000);
        p.update(2);
        p.finish(false);
        assert_eq!(p.in_flight(), None);
        let r: Vec<_> = p.results.iter().map(|r| (r.name, r.skipped)).collect();
        assert_eq!(r, [("bootloader", true), ("app", false)]);
    }
}
