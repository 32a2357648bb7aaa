//! `picow probe`: find serial ports and identify the boards behind them.
//!
//! Without `--port`: every serial port with its USB ids, serial number and
//! `/dev/serial/by-id` path, and what answers on it: an ESP chip in download
//! mode (a loader SYNC), a board running picow-fw (its console's `status`
//! command, no reset), the vendor MicroPython (by its USB id), or unknown.
//! With `--port`: everything the ROM loader and the flash say about the
//! board (`--reset` first puts a running board into download mode).
//! With `--net`: the picow boards on the LAN, as they advertise themselves
//! by DNS-SD (`_picow-board._udp`), without any cable.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use picow_protocol::console::{Event, Text};
use picow_protocol::forms::mask;
use picow_protocol::layout::PartitionTable;
use picow_protocol::otadata::OtaData;
use serde::Serialize;
use serialport::{SerialPort as _, SerialPortInfo};

use crate::cli::GlobalArgs;
use crate::esp::device::{self, After, Before, Target};
use crate::esp::image;
use crate::exit::Exit;
use crate::port;
use picow_i18n::tr;

/// Arguments of `picow probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Examine this port in depth instead of listing all.
    #[arg(long, env = "PICOW_PORT")]
    pub port: Option<String>,
    /// Show the Wi-Fi password instead of masking it.
    #[arg(long)]
    pub show_secrets: bool,
    /// With --port: reset the board into download mode first (and back into
    /// the app afterwards), for a board that is running its firmware.
    #[arg(long, requires = "port")]
    pub reset: bool,
    /// List the picow boards on the LAN (found by mDNS: name, address,
    /// firmware version, chip, MAC) instead of serial ports.
    #[arg(long, conflicts_with_all = ["port", "reset", "show_secrets"])]
    pub net: bool,
    /// With --net: how long to listen for the boards' answers.
    #[arg(long, value_name = "DUR", default_value = "3s", requires = "net",
          value_parser = crate::values::positive_duration)]
    pub wait: Duration,
}

/// What answers on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The ESP ROM loader (download mode).
    Download,
    /// picow-fw, with its `status` line's fields.
    PicowFw {
        /// Firmware version.
        version: String,
        /// Wi-Fi state.
        wifi: String,
        /// The board's address.
        ip: String,
        /// Server connection state.
        server: String,
    },
    /// The vendor MicroPython (USB 303a:80d1).
    MicroPython,
    /// Nothing recognisable.
    Unknown(String),
}

impl Kind {
    fn tag(&self) -> &'static str {
        match self {
            Kind::Download => "download-mode",
            Kind::PicowFw { .. } => "picow-fw",
            Kind::MicroPython => "micropython",
            Kind::Unknown(_) => "unknown",
        }
    }
}

/// The SYNC request of the ROM loader, SLIP-framed.
pub fn sync_frame() -> Vec<u8> {
    let mut payload = vec![0x07, 0x07, 0x12, 0x20];
    payload.extend_from_slice(&[0x55; 32]);
    let mut f = vec![0xC0, 0x00, 0x08];
    f.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(&payload);
    f.push(0xC0);
    f
}

/// Whether `bytes` hold a loader's reply to SYNC.
pub fn has_sync_reply(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| w == [0xC0, 0x01, 0x08])
}

/// The first `status` event among console lines in `bytes`.
pub fn find_status(bytes: &[u8]) -> Option<Kind> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .find_map(|line| match Event::parse(line.trim_end_matches('\r')) {
            Some(Ok(Event::Status {
                wifi,
                ip,
                server,
                version,
                ..
            })) => {
                let s = |t: &Text<'_>| t.to_string_lossy();
                Some(Kind::PicowFw {
                    version: s(&version),
                    wifi: s(&wifi),
                    ip: s(&ip),
                    server: s(&server),
                })
            }
            _ => None,
        })
}

fn read_for(
    p: &mut dyn serialport::SerialPort,
    dur: Duration,
    stop: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    let deadline = Instant::now() + dur;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < deadline && !stop(&got) {
        match p.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    got
}

/// Asks what is behind `path` without resetting it: `status` on the
/// console, then a loader SYNC. A port that cannot be opened is `Unknown`
/// with the reason.
pub fn identify(path: &str, usb: Option<(u16, u16)>) -> Kind {
    identify_port(path, usb).unwrap_or_else(|e| Kind::Unknown(e.to_string()))
}

/// [`identify`], with a port that cannot be opened (missing, busy, no
/// permission) as an error: what `probe --port` reports with exit code 1.
pub fn identify_port(path: &str, usb: Option<(u16, u16)>) -> Result<Kind, port::PortError> {
    if usb.is_some_and(|(v, p)| v == port::ESPRESSIF_VID && p == port::WPI_MICROPYTHON_PID) {
        return Ok(Kind::MicroPython);
    }
    let mut p = port::open(path, 115_200, Duration::from_millis(50))?;
    let _ = p.clear(serialport::ClearBuffer::Input);
    if p.write_all(b"\nstatus\n").is_ok() {
        let got = read_for(&mut p, Duration::from_millis(800), |b| {
            find_status(b).is_some()
        });
        if let Some(k) = find_status(&got) {
            return Ok(k);
        }
    }
    if p.write_all(&sync_frame()).is_ok() {
        let got = read_for(&mut p, Duration::from_millis(400), has_sync_reply);
        if has_sync_reply(&got) {
            // Let the other seven replies arrive and drop them.
            let _ = read_for(&mut p, Duration::from_millis(100), |_| false);
            return Ok(Kind::Download);
        }
    }
    Ok(Kind::Unknown(NO_ANSWER.into()))
}

/// What `probe` says of a port that is not a USB device (`detail` in JSON).
const NOT_USB: &str = "not a USB device; give --port to examine it";

/// What `probe` says of a port where nothing answered (`detail` in JSON).
const NO_ANSWER: &str = "no answer to the console's `status` nor to a ROM loader SYNC";

/// `/dev/serial/by-id` links that point at `path`.
pub fn by_id(path: &str) -> Vec<String> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
    let Ok(dir) = std::fs::read_dir("/dev/serial/by-id") else {
        return Vec::new();
    };
    let mut out: Vec<String> = dir
        .flatten()
        .filter(|e| std::fs::canonicalize(e.path()).is_ok_and(|t| t == target))
        .map(|e| e.path().display().to_string())
        .collect();
    out.sort();
    out
}

/// What picow-fw's `status` line says (`firmware` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Firmware {
    /// Firmware version.
    pub version: String,
    /// Wi-Fi state.
    pub wifi: String,
    /// The board's address.
    pub ip: String,
    /// Server connection state.
    pub server: String,
}

/// A port and what answers on it: one entry of `picow probe` (a JSON array
/// of these with `--json`), and the report of `--port` for a board that is
/// not in download mode (without the USB fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortEntry {
    /// The port's name.
    pub port: String,
    /// USB `vid:pid` in hex, if a USB device.
    #[serde(flatten)]
    pub usb: Option<UsbFields>,
    /// `download-mode`, `picow-fw`, `micropython` or `unknown`.
    pub kind: &'static str,
    /// picow-fw's status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// What to do next, or why the kind is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The USB facts of a listed port (absent in `--port` reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsbFields {
    /// `vid:pid` in hex, or null for a port that is not a USB device.
    pub usb: Option<String>,
    /// The USB serial number.
    pub serial_number: Option<String>,
    /// The USB product string.
    pub product: Option<String>,
    /// The USB manufacturer string.
    pub manufacturer: Option<String>,
    /// `/dev/serial/by-id` links to the port.
    pub by_id: Vec<String>,
}

impl PortEntry {
    /// The entry for `port` of `kind`; `detail` for a picow-fw board (which
    /// the listing does not repeat) only when `examined`.
    fn new(port: &str, usb: Option<UsbFields>, kind: Kind, examined: bool) -> PortEntry {
        let tag = kind.tag();
        let (firmware, detail) = match kind {
            Kind::PicowFw {
                version,
                wifi,
                ip,
                server,
            } => (
                Some(Firmware {
                    version,
                    wifi,
                    ip,
                    server,
                }),
                examined.then(|| {
                    "running picow-fw; `picow probe --port PORT --reset` shows the flash contents"
                        .to_string()
                }),
            ),
            Kind::MicroPython if examined => (
                None,
                Some("vendor MicroPython: hold BOOT and replug it to examine or flash it".into()),
            ),
            Kind::MicroPython => (
                None,
                Some("vendor MicroPython: hold BOOT and replug to flash it".into()),
            ),
            Kind::Unknown(why) => (None, Some(why)),
            Kind::Download => (None, None),
        };
        PortEntry {
            port: port.to_owned(),
            usb,
            kind: tag,
            firmware,
            detail,
        }
    }
}

fn list_entry(info: &SerialPortInfo) -> PortEntry {
    let usb = port::usb_info(info);
    let usb_id = usb.map(|u| (u.vid, u.pid));
    // Only USB devices are asked: a plain UART name (ttyS*) is usually no
    // hardware at all, and poking it costs a timeout each.
    let kind = if usb.is_some() {
        identify(&info.port_name, usb_id)
    } else {
        Kind::Unknown(NOT_USB.into())
    };
    let fields = UsbFields {
        usb: usb.map(|u| format!("{:04x}:{:04x}", u.vid, u.pid)),
        serial_number: usb.and_then(|u| u.serial_number.clone()),
        product: usb.and_then(|u| u.product.clone()),
        manufacturer: usb.and_then(|u| u.manufacturer.clone()),
        by_id: by_id(&info.port_name),
    };
    PortEntry::new(&info.port_name, Some(fields), kind, false)
}

fn print_list(entries: &[PortEntry], out: &mut dyn Write) -> std::io::Result<()> {
    if entries.is_empty() {
        writeln!(out, "{}", tr!("probe-no-ports"))?;
    }
    for e in entries {
        write!(out, "{}", e.port)?;
        if let Some(u) = &e.usb {
            if let Some(id) = &u.usb {
                write!(out, "  {id}")?;
            }
            if let Some(sn) = &u.serial_number {
                write!(out, "  SN {sn}")?;
            }
        }
        writeln!(out)?;
        for l in e.usb.iter().flat_map(|u| &u.by_id) {
            writeln!(out, "    by-id: {l}")?;
        }
        let what = match (&e.firmware, e.kind) {
            (_, "download-mode") => tr!("probe-download"),
            (Some(f), _) => tr!(
                "probe-picow-fw",
                version = f.version.as_str(),
                wifi = f.wifi.as_str(),
                ip = f.ip.as_str(),
                server = f.server.as_str()
            ),
            (None, "micropython") => tr!("probe-micropython"),
            _ => {
                let detail = e.detail.as_deref().unwrap_or("");
                let detail = match detail {
                    NO_ANSWER => tr!("probe-no-answer"),
                    NOT_USB => tr!("probe-not-usb"),
                    other => other.to_string(),
                };
                tr!("probe-unknown", detail = detail)
            }
        };
        writeln!(out, "    {what}")?;
    }
    Ok(())
}

/// The security flags the ROM reports (`security` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Security {
    /// GET_SECURITY_INFO's flags word, hex.
    pub flags: String,
    /// Secure boot is on.
    pub secure_boot: bool,
    /// Secure download mode is on.
    pub secure_download: bool,
    /// Flash encryption is on (an odd `flash_crypt_cnt`).
    pub flash_encryption: bool,
    /// The eFuse counter.
    pub flash_crypt_cnt: u8,
    /// The key purposes.
    pub key_purposes: Vec<u8>,
    /// The chip id.
    pub chip_id: Option<u32>,
    /// The ECO version.
    pub eco_version: Option<u32>,
}

/// One partition of the table (`partitions` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// Its name.
    pub label: String,
    /// The type byte.
    #[serde(rename = "type")]
    pub ty: u8,
    /// The subtype byte.
    pub subtype: u8,
    /// Where it starts.
    pub offset: u32,
    /// Its size.
    pub size: u32,
    /// Its flags.
    pub flags: u32,
}

/// Something that could be read, or why not (`{"error": …}` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Found<T> {
    /// What was read.
    Ok(T),
    /// Why not.
    Error {
        /// The reason, for people.
        error: String,
        /// A machine-readable reason, where there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
    },
}

impl<T> Found<T> {
    fn error(e: impl ToString) -> Found<T> {
        Found::Error {
            error: e.to_string(),
            reason: None,
        }
    }
}

/// The settings in the config partition (`config` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigReport {
    /// The Wi-Fi network.
    pub ssid: String,
    /// Its password, masked unless `--show-secrets`.
    pub password: String,
    /// The server, `tcp://HOST:PORT` or `udp://…`.
    pub server: String,
    /// The board's name.
    pub name: Option<String>,
    /// The OTA password, masked unless `--show-secrets`; null when updates
    /// over Wi-Fi are off.
    pub ota_password: Option<String>,
}

/// One app slot of an OTA layout (`ota.slots` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtaSlot {
    /// Its number (`ota_N`).
    pub slot: u8,
    /// Its label.
    pub label: String,
    /// Where it starts.
    pub offset: u32,
    /// Its image.
    pub app: Found<image::AppInfo>,
}

/// The OTA state of a two-slot layout (`ota` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtaReport {
    /// The slot the bootloader boots, if any.
    pub boot_slot: Option<u8>,
    /// The otadata state of the active entry (`new`, `pending-verify`,
    /// `valid`, …), if any.
    pub state: Option<&'static str>,
    /// Every slot.
    pub slots: Vec<OtaSlot>,
}

/// Everything the ROM loader and the flash say about a board in download
/// mode: the report of `picow probe --port` (`--json` prints it as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardReport {
    /// The port.
    pub port: String,
    /// Always `download-mode`.
    pub kind: &'static str,
    /// The chip, e.g. `esp32s3`.
    pub chip: String,
    /// Its revision, `v0.2`.
    pub revision: Option<String>,
    /// The base MAC.
    pub mac: Option<String>,
    /// The crystal, e.g. `40 MHz`.
    pub crystal: String,
    /// The chip's features.
    pub features: Vec<String>,
    /// The flash size in bytes.
    pub flash_size: u32,
    /// The flash's JEDEC id, hex.
    pub jedec_id: Option<String>,
    /// Its manufacturer byte, hex.
    pub flash_manufacturer: Option<String>,
    /// The security flags, when the ROM reports them.
    pub security: Option<Security>,
    /// The partition table.
    pub partitions: Found<Vec<Partition>>,
    /// The image the bootloader boots (absent without a table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<Found<image::AppInfo>>,
    /// The OTA slots and otadata (absent without an OTA layout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ota: Option<OtaReport>,
    /// The picow settings (absent without a table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Found<ConfigReport>>,
}

/// The full report on a board in download mode.
pub fn examine(target: &Target, show_secrets: bool) -> Result<BoardReport, device::DeviceError> {
    let mut warn = |w: String| tracing::warn!("{w}");
    let mut s = device::connect(target, Before::NoReset, 115_200, &mut warn)?;
    let info = s.board_info()?;
    let d = &info.device;
    let mut report = BoardReport {
        port: target.port.clone(),
        kind: "download-mode",
        chip: d.chip.to_string(),
        revision: d.revision.map(|(a, b)| format!("v{a}.{b}")),
        mac: d.mac_address.clone(),
        crystal: d.crystal_frequency.to_string(),
        features: d.features.clone(),
        flash_size: d.flash_size.size(),
        jedec_id: info
            .jedec
            .map(|j| format!("{:02x}{:02x}{:02x}", j[0], j[1], j[2])),
        flash_manufacturer: info.jedec.map(|j| format!("{:#04x}", j[0])),
        security: info.security.as_ref().map(|sec| Security {
            flags: format!("{:#x}", sec.flags),
            secure_boot: sec.flags & 1 != 0,
            secure_download: sec.flags & (1 << 2) != 0,
            flash_encryption: sec.flash_crypt_cnt.count_ones() % 2 == 1,
            flash_crypt_cnt: sec.flash_crypt_cnt,
            key_purposes: sec.key_purposes.to_vec(),
            chip_id: sec.chip_id,
            eco_version: sec.eco_version,
        }),
        partitions: Found::Ok(Vec::new()),
        app: None,
        ota: None,
        config: None,
    };
    let table = s.read_partition_table()?;
    match PartitionTable::parse(&table) {
        Ok(t) => {
            report.partitions = Found::Ok(
                t.entries()
                    .iter()
                    .map(|e| Partition {
                        label: e.label().to_string(),
                        ty: e.ty,
                        subtype: e.subtype,
                        offset: e.offset,
                        size: e.size,
                        flags: e.flags,
                    })
                    .collect(),
            );
            let otadata = match t.otadata() {
                Some(o) => Some(OtaData::parse(&s.read_flash(o.offset, o.size.min(0x2000))?)),
                None => None,
            };
            let boot = image::boot_partition(&t, otadata.as_ref()).copied();
            report.app = Some(match boot {
                Some(app) => match image::parse_app(&s.read_flash(app.offset, 0x200)?) {
                    Ok(a) => Found::Ok(a),
                    Err(e) => Found::error(e),
                },
                None => Found::error("the partition table has no app partition"),
            });
            if let Some(d) = &otadata {
                let mut slots = Vec::new();
                for n in 0..t.ota_slot_count() {
                    let Some(p) = t.ota_slot(n) else { continue };
                    slots.push(OtaSlot {
                        slot: n,
                        label: p.label().to_string(),
                        offset: p.offset,
                        app: match image::parse_app(&s.read_flash(p.offset, 0x200)?) {
                            Ok(a) => Found::Ok(a),
                            Err(e) => Found::error(e),
                        },
                    });
                }
                report.ota = Some(OtaReport {
                    boot_slot: boot.and_then(|b| b.ota_slot()),
                    state: d
                        .active_entry()
                        .map(|e| e.image_state().map_or("unknown", |st| st.as_str())),
                    slots,
                });
            }
            report.config = Some(match t.picow_config() {
                Some(c) => {
                    let bytes = s.read_flash(c.offset, c.size.min(0x1000))?;
                    match picow_protocol::config_partition::read(&bytes) {
                        Ok(cfg) => Found::Ok(ConfigReport {
                            ssid: cfg.ssid().to_string(),
                            password: if show_secrets {
                                cfg.password().to_string()
                            } else {
                                mask(cfg.password()).to_string()
                            },
                            server: cfg.server().to_string(),
                            name: cfg.name().map(str::to_string),
                            ota_password: cfg.ota_password().map(|p| {
                                if show_secrets {
                                    p.expose().to_string()
                                } else {
                                    "********".to_string()
                                }
                            }),
                        }),
                        Err(e) => Found::Error {
                            error: e.to_string(),
                            reason: Some(e.reason()),
                        },
                    }
                }
                None => Found::error("no picow config partition (not flashed with picow)"),
            });
        }
        Err(e) => report.partitions = Found::error(e),
    }
    s.finish(After::NoReset)?;
    Ok(report)
}

fn print_details(r: &BoardReport, out: &mut dyn Write) -> std::io::Result<()> {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
    writeln!(out, "port:        {}", r.port)?;
    writeln!(
        out,
        "chip:        {} (revision {})",
        r.chip,
        opt(&r.revision)
    )?;
    writeln!(out, "MAC:         {}", opt(&r.mac))?;
    writeln!(out, "crystal:     {}", r.crystal)?;
    writeln!(
        out,
        "flash:       {} (JEDEC id {})",
        image::human_size(r.flash_size),
        opt(&r.jedec_id)
    )?;
    writeln!(out, "features:    {}", r.features.join(", "))?;
    if let Some(sec) = &r.security {
        writeln!(
            out,
            "security:    secure boot {}, flash encryption {}, secure download {}",
            on(sec.secure_boot),
            on(sec.flash_encryption),
            on(sec.secure_download)
        )?;
    }
    match &r.partitions {
        Found::Ok(parts) => {
            writeln!(out, "partitions:")?;
            for p in parts {
                writeln!(
                    out,
                    "  {:<16} type {:#04x}/{:#04x}  {:#09x}  {:>8} bytes",
                    p.label, p.ty, p.subtype, p.offset, p.size
                )?;
            }
        }
        Found::Error { error, .. } => writeln!(out, "partitions:  {error}")?,
    }
    if let Some(ota) = &r.ota {
        if let Some(slot) = ota.boot_slot {
            writeln!(
                out,
                "boots:       ota_{slot} (otadata state {})",
                ota.state.unwrap_or("none")
            )?;
        }
    }
    match &r.app {
        Some(Found::Ok(a)) => match &a.descriptor {
            Some(d) => writeln!(
                out,
                "app:         {} {} built {} (ELF SHA-256 {})",
                d.name, d.version, d.build_time, d.elf_sha256
            )?,
            None => writeln!(out, "app:         an image without an app descriptor")?,
        },
        Some(Found::Error { error, .. }) => writeln!(out, "app:         {error}")?,
        None => {}
    }
    match &r.config {
        Some(Found::Ok(c)) => {
            writeln!(
                out,
                "config:      Wi-Fi {} (password {}), server {}{}",
                c.ssid,
                c.password,
                c.server,
                c.name
                    .as_deref()
                    .map(|n| format!(", name {n}"))
                    .unwrap_or_default()
            )?;
            writeln!(
                out,
                "OTA:         {}",
                match &c.ota_password {
                    Some(p) => format!("updates over Wi-Fi with password {p}"),
                    None => "no OTA password: updates over Wi-Fi are off".into(),
                }
            )?;
        }
        Some(Found::Error { error, .. }) => writeln!(out, "config:      {error}")?,
        None => {}
    }
    Ok(())
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// A board on the LAN, as its DNS-SD instance describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetBoard {
    /// Its name (TXT `name`, else the instance name).
    pub name: String,
    /// Its host name, e.g. `desk.local`.
    pub host: String,
    /// Its IPv4 addresses.
    pub addresses: Vec<std::net::Ipv4Addr>,
    /// Firmware version (TXT `version`).
    pub version: Option<String>,
    /// Chip (TXT `chip`).
    pub chip: Option<String>,
    /// MAC (TXT `mac`).
    pub mac: Option<String>,
    /// The port of its SRV record: where it takes updates over Wi-Fi (0
    /// from firmware older than that).
    pub ota_port: u16,
}

impl NetBoard {
    /// Whether `name` names this board: its name, or its host label
    /// (`desk` for `desk.local`), ASCII case ignored.
    pub fn is_named(&self, name: &str) -> bool {
        let label = self.host.strip_suffix(".local").unwrap_or(&self.host);
        self.name.eq_ignore_ascii_case(name) || label.eq_ignore_ascii_case(name)
    }
}

/// Browses for picow boards for `wait`; sorted by name, then address.
pub fn browse_boards(wait: Duration) -> color_eyre::Result<Vec<NetBoard>> {
    browse(wait, &|_| false)
}

/// Browses for at most `wait` until a board that `want` takes is resolved
/// (with an address), and returns it.
pub fn find_board(
    wait: Duration,
    want: &dyn Fn(&NetBoard) -> bool,
) -> color_eyre::Result<Option<NetBoard>> {
    let found = browse(wait, &|b| !b.addresses.is_empty() && want(b))?;
    Ok(found
        .into_iter()
        .find(|b| !b.addresses.is_empty() && want(b)))
}

/// Browses for `wait`, or until `stop` takes a board just resolved.
fn browse(wait: Duration, stop: &dyn Fn(&NetBoard) -> bool) -> color_eyre::Result<Vec<NetBoard>> {
    use picow_protocol::discovery::{BOARD_SERVICE, TXT_CHIP, TXT_MAC, TXT_NAME, TXT_VERSION};
    let daemon = mdns_sd::ServiceDaemon::new()
        .map_err(|e| color_eyre::eyre::eyre!("cannot start mDNS to look for boards: {e}"))?;
    let ty = format!("{BOARD_SERVICE}.local.");
    let rx = daemon
        .browse(&ty)
        .map_err(|e| color_eyre::eyre::eyre!("cannot browse for {ty}: {e}"))?;
    let deadline = Instant::now() + wait;
    let mut found: std::collections::BTreeMap<String, NetBoard> = Default::default();
    while let Ok(ev) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        match ev {
            mdns_sd::ServiceEvent::ServiceResolved(s) => {
                let instance = s
                    .get_fullname()
                    .strip_suffix(&format!(".{ty}"))
                    .unwrap_or(s.get_fullname())
                    .to_string();
                let txt = |k: &str| s.get_property_val_str(k).map(str::to_string);
                let mut addresses: Vec<_> = s.get_addresses_v4().into_iter().collect();
                addresses.sort();
                let board = NetBoard {
                    name: txt(TXT_NAME).unwrap_or(instance),
                    host: s.get_hostname().trim_end_matches('.').to_string(),
                    addresses,
                    version: txt(TXT_VERSION),
                    chip: txt(TXT_CHIP),
                    mac: txt(TXT_MAC),
                    ota_port: s.get_port(),
                };
                let done = stop(&board);
                found.insert(s.get_fullname().to_string(), board);
                if done {
                    break;
                }
            }
            mdns_sd::ServiceEvent::ServiceRemoved(_, fullname) => {
                found.remove(&fullname);
            }
            _ => {}
        }
    }
    let _ = daemon.stop_browse(&ty);
    if let Ok(done) = daemon.shutdown() {
        let _ = done.recv_timeout(Duration::from_secs(1));
    }
    let mut boards: Vec<NetBoard> = found.into_values().collect();
    boards.sort_by(|a, b| (&a.name, &a.addresses).cmp(&(&b.name, &b.addresses)));
    Ok(boards)
}

fn print_net(boards: &[NetBoard], wait: Duration, out: &mut dyn Write) -> std::io::Result<()> {
    if boards.is_empty() {
        return writeln!(
            out,
            "{}",
            tr!(
                "probe-net-none",
                secs = format!("{:.1}", wait.as_secs_f64())
            )
        );
    }
    for b in boards {
        let addrs: Vec<String> = b.addresses.iter().map(|a| a.to_string()).collect();
        writeln!(
            out,
            "{}  {}  {}  picow-fw {}  {}  MAC {}",
            b.name,
            if addrs.is_empty() {
                "?".into()
            } else {
                addrs.join(", ")
            },
            b.host,
            b.version.as_deref().unwrap_or("?"),
            b.chip.as_deref().unwrap_or("?"),
            b.mac.as_deref().unwrap_or("?"),
        )?;
    }
    Ok(())
}

/// Runs `picow probe`.
pub fn run(args: ProbeArgs, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    let mut out = std::io::stdout().lock();
    if args.net {
        let boards = browse_boards(args.wait)?;
        if global.json {
            writeln!(out, "{}", serde_json::to_value(&boards)?)?;
        } else {
            print_net(&boards, args.wait, &mut out)?;
        }
        return Ok(Exit::Success);
    }
    let Some(path) = &args.port else {
        let ports = port::list()?;
        let entries: Vec<PortEntry> = ports.iter().map(list_entry).collect();
        if global.json {
            serde_json::to_writer(&mut out, &entries)?;
            writeln!(out)?;
        } else {
            print_list(&entries, &mut out)?;
        }
        return Ok(Exit::Success);
    };
    let path = &crate::serial_os::Os::CURRENT.port_name(path).into_owned();
    let ports = port::list().unwrap_or_default();
    let target = Target::new(path, &ports);
    if args.reset {
        if let Some(ctl) = &target.control {
            device::control(ctl, "reset download")?;
        } else {
            // A DTR/RTS reset into the loader happens as part of connecting.
            let mut warn = |w: String| tracing::warn!("{w}");
            let s = device::connect(&target, Before::DefaultReset, 115_200, &mut warn)?;
            s.finish(After::NoReset)?;
        }
    }
    let usb = target.usb;
    let kind = if args.reset {
        Kind::Download
    } else {
        // The port asked for must be there: a missing one is a failure (1).
        identify_port(path, usb)?
    };
    let report = match kind {
        Kind::Download => Report::Board(Box::new(examine(&target, args.show_secrets)?)),
        other => Report::Port(Box::new(PortEntry::new(path, None, other, true))),
    };
    if args.reset {
        if let Some(ctl) = &target.control {
            device::control(ctl, "reset run")?;
        }
    }
    if global.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        match &report {
            Report::Board(r) => print_details(r, &mut out)?,
            Report::Port(e) => print_list(std::slice::from_ref(e), &mut out)?,
        }
    }
    Ok(Exit::Success)
}

/// What `picow probe --port` reports.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Report {
    /// A board in download mode, examined.
    Board(Box<BoardReport>),
    /// Anything else.
    Port(Box<PortEntry>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_frame_is_the_loaders() {
        let f = sync_frame();
        assert_eq!(&f[..5], &[0xC0, 0x00, 0x08, 36, 0]);
        assert_eq!(&f[9..13], &[0x07, 0x07, 0x12, 0x20]);
        assert_eq!(f.len(), 1 + 8 + 36 + 1);
        assert!(has_sync_reply(&[0x00, 0xC0, 0x01, 0x08, 0x04]));
        assert!(!has_sync_reply(b"status\r\n"));
    }

    #[test]
    fn status_line_identifies_picow_fw() {
        let bytes = b"boot log\r\n@picow status wifi=\"joined\" ip=\"10.42.0.2\" server=\"connected\" uptime_ms=1234 version=\"0.1.0\"\r\n";
        assert_eq!(
            find_status(bytes),
            Some(Kind::PicowFw {
                version: "0.1.0".into(),
                wifi: "joined".into(),
                ip: "10.42.0.2".into(),
                server: "connected".into()
            })
        );
        assert_eq!(
            find_status(b"@picow boot version=\"0.1.0\" chip=\"esp32c3\"\n"),
            None
        );
    }

    #[test]
    fn net_output_lists_each_board() {
        let boards = vec![NetBoard {
            name: "desk".into(),
            host: "desk.local".into(),
            addresses: vec!["169.254.77.10".parse().unwrap()],
            version: Some("0.1.0".into()),
            chip: Some("esp32c3".into()),
            mac: Some("7c:df:a1:00:00:42".into()),
            ota_port: 3232,
        }];
        assert!(boards[0].is_named("desk") && boards[0].is_named("DESK"));
        assert!(!boards[0].is_named("desk.local") && !boards[0].is_named("des"));
        let mut out = Vec::new();
        picow_i18n::with_lang(picow_i18n::Lang::En, || {
            print_net(&boards, Duration::from_secs(3), &mut out).unwrap()
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "desk  169.254.77.10  desk.local  picow-fw 0.1.0  esp32c3  MAC 7c:df:a1:00:00:42\n"
        );
        let mut out = Vec::new();
        picow_i18n::with_lang(picow_i18n::Lang::En, || {
            print_net(&[], Duration::from_secs(3), &mut out).unwrap()
        });
        assert!(String::from_utf8(out).unwrap().contains("picow sim --mdns"));
        let v = serde_json::to_value(&boards).unwrap();
        assert_eq!(v[0]["addresses"][0], "169.254.77.10");
        assert_eq!(v[0]["version"], "0.1.0");
        assert_eq!(v[0]["ota_port"], 3232);
    }

    #[test]
    fn list_output_names_each_kind() {
        let usb = |id: &str, sn: Option<&str>, by_id: &[&str]| {
            Some(UsbFields {
                usb: Some(id.into()),
                serial_number: sn.map(Into::into),
                product: None,
                manufacturer: None,
                by_id: by_id.iter().map(|s| s.to_string()).collect(),
            })
        };
        let entries = vec![
            PortEntry::new(
                "/dev/ttyACM0",
                usb(
                    "303a:1001",
                    Some("7C:DF"),
                    &["/dev/serial/by-id/usb-Espressif"],
                ),
                Kind::Download,
                false,
            ),
            PortEntry::new(
                "/dev/ttyACM1",
                usb("303a:80d1", None, &[]),
                Kind::MicroPython,
                false,
            ),
            PortEntry::new("/dev/ttyS0", None, Kind::Unknown(NOT_USB.into()), false),
        ];
        let json = serde_json::to_value(&entries).unwrap();
        assert_eq!(json[0]["usb"], "303a:1001");
        assert_eq!(json[0]["kind"], "download-mode");
        assert_eq!(json[0]["by_id"][0], "/dev/serial/by-id/usb-Espressif");
        assert!(json[0].get("detail").is_none() && json[0].get("firmware").is_none());
        assert_eq!(json[2]["detail"], NOT_USB);
        let mut out = Vec::new();
        picow_i18n::with_lang(picow_i18n::Lang::En, || {
            print_list(&entries, &mut out).unwrap()
        });
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("/dev/ttyACM0  303a:1001  SN 7C:DF\n    by-id: /dev/serial/by-id/usb-Espressif\n    ESP chip in download mode"), "{s}");
        assert!(s.contains("vendor MicroPython: hold BOOT"), "{s}");
        assert!(s.contains("unknown (not a USB device; give --port"), "{s}");
        let mut out = Vec::new();
        picow_i18n::with_lang(picow_i18n::Lang::ZhCn, || {
            print_list(&entries, &mut out).unwrap()
        });
        let zh = String::from_utf8(out).unwrap();
        for said in [
            "下载模式的 ESP 芯片",
            "厂家的 MicroPython：按住 KEY（BOOT）",
            "未知（不是 USB 设备；用 --port 指定它才会检查）",
        ] {
            assert!(zh.contains(said), "{said:?} not in:\n{zh}");
        }
        // The ports, ids and by-id paths are the same bytes.
        assert!(
            zh.contains(
                "/dev/ttyACM0  303a:1001  SN 7C:DF\n    by-id: /dev/serial/by-id/usb-Espressif\n"
            ),
            "{zh}"
        );
    }
}
