//! `picow probe`: find serial ports and identify the boards behind them.
//!
//! Without `--port`: every serial port with its USB ids, serial number and
//! `/dev/serial/by-id` path, and what answers on it: an ESP chip in download
//! mode (a loader SYNC), a board running picow-fw (its console's `status`
//! command, no reset), the vendor MicroPython (by its USB id), or unknown.
//! With `--port`: everything the ROM loader and the flash say about the
//! board (`--reset` first puts a running board into download mode).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use picow_protocol::console::{Event, Text};
use picow_protocol::forms::mask;
use picow_protocol::layout::PartitionTable;
use picow_protocol::otadata::OtaData;
use picow_protocol::DeviceConfig;
use serde_json::{json, Value};
use serialport::{SerialPort as _, SerialPortInfo};

use crate::cli::GlobalArgs;
use crate::esp::device::{self, After, Before, Target};
use crate::esp::image;
use crate::exit::Exit;
use crate::port;

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
    Ok(Kind::Unknown(
        "no answer to the console's `status` nor to a ROM loader SYNC".into(),
    ))
}

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

fn list_entry(info: &SerialPortInfo) -> Value {
    let usb = port::usb_info(info);
    let usb_id = usb.map(|u| (u.vid, u.pid));
    // Only USB devices are asked: a plain UART name (ttyS*) is usually no
    // hardware at all, and poking it costs a timeout each.
    let kind = if usb.is_some() {
        identify(&info.port_name, usb_id)
    } else {
        Kind::Unknown("not a USB device; give --port to examine it".into())
    };
    let mut v = json!({
        "port": info.port_name,
        "usb": usb.map(|u| format!("{:04x}:{:04x}", u.vid, u.pid)),
        "serial_number": usb.and_then(|u| u.serial_number.clone()),
        "product": usb.and_then(|u| u.product.clone()),
        "manufacturer": usb.and_then(|u| u.manufacturer.clone()),
        "by_id": by_id(&info.port_name),
        "kind": kind.tag(),
    });
    match kind {
        Kind::PicowFw {
            version,
            wifi,
            ip,
            server,
        } => {
            v["firmware"] = json!({"version": version, "wifi": wifi, "ip": ip, "server": server});
        }
        Kind::Unknown(why) => v["detail"] = json!(why),
        Kind::MicroPython => {
            v["detail"] = json!("vendor MicroPython: hold BOOT and replug to flash it")
        }
        Kind::Download => {}
    }
    v
}

fn print_list(entries: &[Value], out: &mut dyn Write) -> std::io::Result<()> {
    if entries.is_empty() {
        writeln!(
            out,
            "no serial ports found: is the board plugged in with a data cable?"
        )?;
    }
    for e in entries {
        write!(out, "{}", e["port"].as_str().unwrap_or("?"))?;
        if let Some(u) = e["usb"].as_str() {
            write!(out, "  {u}")?;
        }
        if let Some(s) = e["serial_number"].as_str() {
            write!(out, "  SN {s}")?;
        }
        writeln!(out)?;
        for l in e["by_id"].as_array().into_iter().flatten() {
            writeln!(out, "    by-id: {}", l.as_str().unwrap_or(""))?;
        }
        let what = match e["kind"].as_str() {
            Some("download-mode") => {
                "ESP chip in download mode (`picow probe --port` for details)".to_string()
            }
            Some("picow-fw") => format!(
                "picow-fw {}: wifi {}, ip {}, server {}",
                e["firmware"]["version"].as_str().unwrap_or("?"),
                e["firmware"]["wifi"].as_str().unwrap_or("?"),
                e["firmware"]["ip"].as_str().unwrap_or(""),
                e["firmware"]["server"].as_str().unwrap_or("?")
            ),
            Some("micropython") => "vendor MicroPython: hold BOOT and replug it to flash".into(),
            _ => format!("unknown ({})", e["detail"].as_str().unwrap_or("")),
        };
        writeln!(out, "    {what}")?;
    }
    Ok(())
}

/// The full report on a board in download mode.
pub fn examine(target: &Target, show_secrets: bool) -> Result<Value, device::DeviceError> {
    let mut warn = |w: String| tracing::warn!("{w}");
    let mut s = device::connect(target, Before::NoReset, 115_200, &mut warn)?;
    let info = s.board_info()?;
    let d = &info.device;
    let mut v = json!({
        "port": target.port,
        "kind": "download-mode",
        "chip": d.chip.to_string(),
        "revision": d.revision.map(|(a, b)| format!("v{a}.{b}")),
        "mac": d.mac_address,
        "crystal": d.crystal_frequency.to_string(),
        "features": d.features,
        "flash_size": d.flash_size.size(),
        "jedec_id": info.jedec.map(|j| format!("{:02x}{:02x}{:02x}", j[0], j[1], j[2])),
        "flash_manufacturer": info.jedec.map(|j| format!("{:#04x}", j[0])),
    });
    v["security"] = match &info.security {
        Some(sec) => json!({
            "flags": format!("{:#x}", sec.flags),
            "secure_boot": sec.flags & 1 != 0,
            "secure_download": sec.flags & (1 << 2) != 0,
            "flash_encryption": sec.flash_crypt_cnt.count_ones() % 2 == 1,
            "flash_crypt_cnt": sec.flash_crypt_cnt,
            "key_purposes": sec.key_purposes,
            "chip_id": sec.chip_id,
            "eco_version": sec.eco_version,
        }),
        None => Value::Null,
    };
    let table = s.read_partition_table()?;
    match PartitionTable::parse(&table) {
        Ok(t) => {
            v["partitions"] = t
                .entries()
                .iter()
                .map(|e| {
                    json!({"label": e.label(), "type": e.ty, "subtype": e.subtype,
                           "offset": e.offset, "size": e.size, "flags": e.flags})
                })
                .collect();
            let otadata = match t.otadata() {
                Some(o) => Some(OtaData::parse(&s.read_flash(o.offset, o.size.min(0x2000))?)),
                None => None,
            };
            let boot = image::boot_partition(&t, otadata.as_ref()).copied();
            v["app"] = match boot {
                Some(app) => match image::parse_app(&s.read_flash(app.offset, 0x200)?) {
                    Ok(a) => serde_json::to_value(&a).unwrap_or(Value::Null),
                    Err(e) => json!({"error": e.to_string()}),
                },
                None => json!({"error": "the partition table has no app partition"}),
            };
            if let Some(d) = &otadata {
                let mut slots = Vec::new();
                for n in 0..t.ota_slot_count() {
                    let Some(p) = t.ota_slot(n) else { continue };
                    let app = match image::parse_app(&s.read_flash(p.offset, 0x200)?) {
                        Ok(a) => serde_json::to_value(&a).unwrap_or(Value::Null),
                        Err(e) => json!({"error": e.to_string()}),
                    };
                    slots.push(
                        json!({"slot": n, "label": p.label(), "offset": p.offset, "app": app}),
                    );
                }
                v["ota"] = json!({
                    "boot_slot": boot.and_then(|b| b.ota_slot()),
                    "state": d.active_entry().map(|e| e.image_state().map_or("unknown", |st| st.as_str())),
                    "slots": slots,
                });
            }
            v["config"] = match t.picow_config() {
                Some(c) => {
                    let bytes = s.read_flash(c.offset, 0x200)?;
                    match DeviceConfig::decode(&bytes) {
                        Ok(cfg) => json!({
                            "ssid": cfg.ssid(),
                            "password": if show_secrets { cfg.password() } else { mask(cfg.password()) },
                            "server": cfg.server().to_string(),
                            "name": cfg.name(),
                            "ota_password": cfg.ota_password().map(|p| {
                                if show_secrets { p.expose() } else { "********" }
                            }),
                        }),
                        Err(e) => json!({"error": e.to_string(), "reason": e.reason()}),
                    }
                }
                None => json!({"error": "no picow config partition (not flashed with picow)"}),
            };
        }
        Err(e) => v["partitions"] = json!({"error": e.to_string()}),
    }
    s.finish(After::NoReset)?;
    Ok(v)
}

fn print_details(v: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    let s = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .unwrap_or_else(|| "?".into())
    };
    writeln!(out, "port:        {}", s("port"))?;
    writeln!(
        out,
        "chip:        {} (revision {})",
        s("chip"),
        s("revision")
    )?;
    writeln!(out, "MAC:         {}", s("mac"))?;
    writeln!(out, "crystal:     {}", s("crystal"))?;
    let size = v["flash_size"].as_u64().unwrap_or(0) as u32;
    writeln!(
        out,
        "flash:       {} (JEDEC id {})",
        image::human_size(size),
        s("jedec_id")
    )?;
    if let Some(f) = v["features"].as_array() {
        let f: Vec<&str> = f.iter().filter_map(Value::as_str).collect();
        writeln!(out, "features:    {}", f.join(", "))?;
    }
    let sec = &v["security"];
    if !sec.is_null() {
        writeln!(
            out,
            "security:    secure boot {}, flash encryption {}, secure download {}",
            on(sec["secure_boot"].as_bool()),
            on(sec["flash_encryption"].as_bool()),
            on(sec["secure_download"].as_bool())
        )?;
    }
    match v["partitions"].as_array() {
        Some(parts) => {
            writeln!(out, "partitions:")?;
            for p in parts {
                writeln!(
                    out,
                    "  {:<16} type {:#04x}/{:#04x}  {:#09x}  {:>8} bytes",
                    p["label"].as_str().unwrap_or(""),
                    p["type"].as_u64().unwrap_or(0),
                    p["subtype"].as_u64().unwrap_or(0),
                    p["offset"].as_u64().unwrap_or(0),
                    p["size"].as_u64().unwrap_or(0)
                )?;
            }
        }
        None => writeln!(
            out,
            "partitions:  {}",
            v["partitions"]["error"].as_str().unwrap_or("none")
        )?,
    }
    let app = &v["app"];
    if let Some(slot) = v["ota"]["boot_slot"].as_u64() {
        writeln!(
            out,
            "boots:       ota_{slot} (otadata state {})",
            v["ota"]["state"].as_str().unwrap_or("none")
        )?;
    }
    if let Some(d) = app.get("descriptor").filter(|d| !d.is_null()) {
        writeln!(
            out,
            "app:         {} {} built {} (ELF SHA-256 {})",
            d["name"].as_str().unwrap_or("?"),
            d["version"].as_str().unwrap_or("?"),
            d["build_time"].as_str().unwrap_or("?"),
            d["elf_sha256"].as_str().unwrap_or("?")
        )?;
    } else if let Some(e) = app["error"].as_str() {
        writeln!(out, "app:         {e}")?;
    } else if !app.is_null() {
        writeln!(out, "app:         an image without an app descriptor")?;
    }
    let c = &v["config"];
    if let Some(ssid) = c["ssid"].as_str() {
        writeln!(
            out,
            "config:      Wi-Fi {ssid} (password {}), server {}{}",
            c["password"].as_str().unwrap_or(""),
            c["server"].as_str().unwrap_or("?"),
            c["name"]
                .as_str()
                .map(|n| format!(", name {n}"))
                .unwrap_or_default()
        )?;
        writeln!(
            out,
            "OTA:         {}",
            match c["ota_password"].as_str() {
                Some(p) => format!("updates over Wi-Fi with password {p}"),
                None => "no OTA password: updates over Wi-Fi are off".into(),
            }
        )?;
    } else if let Some(e) = c["error"].as_str() {
        writeln!(out, "config:      {e}")?;
    }
    Ok(())
}

fn on(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "on",
        Some(false) => "off",
        None => "?",
    }
}

/// Runs `picow probe`.
pub fn run(args: ProbeArgs, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    let mut out = std::io::stdout().lock();
    let Some(path) = &args.port else {
        let ports = port::list()?;
        let entries: Vec<Value> = ports.iter().map(list_entry).collect();
        if global.json {
            writeln!(out, "{}", Value::Array(entries))?;
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
        Kind::Download => examine(&target, args.show_secrets)?,
        other => {
            let mut v = json!({"port": path, "kind": other.tag()});
            match other {
                Kind::PicowFw {
                    version,
                    wifi,
                    ip,
                    server,
                } => {
                    v["firmware"] =
                        json!({"version": version, "wifi": wifi, "ip": ip, "server": server});
                    v["detail"] = json!("running picow-fw; `picow probe --port PORT --reset` shows the flash contents");
                }
                Kind::MicroPython => {
                    v["detail"] =
                        json!("vendor MicroPython: hold BOOT and replug it to examine or flash it")
                }
                Kind::Unknown(why) => v["detail"] = json!(why),
                Kind::Download => {}
            }
            v
        }
    };
    if args.reset {
        if let Some(ctl) = &target.control {
            device::control(ctl, "reset run")?;
        }
    }
    if global.json {
        writeln!(out, "{report}")?;
    } else if report["kind"] == "download-mode" {
        print_details(&report, &mut out)?;
    } else {
        print_list(std::slice::from_ref(&report), &mut out)?;
    }
    Ok(Exit::Success)
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
    fn list_output_names_each_kind() {
        let entries = vec![
            json!({"port": "/dev/ttyACM0", "usb": "303a:1001", "serial_number": "7C:DF", "by_id": ["/dev/serial/by-id/usb-Espressif"], "kind": "download-mode"}),
            json!({"port": "/dev/ttyACM1", "usb": "303a:80d1", "by_id": [], "kind": "micropython"}),
            json!({"port": "/dev/ttyS0", "by_id": [], "kind": "unknown", "detail": "not a USB device"}),
        ];
        let mut out = Vec::new();
        print_list(&entries, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("/dev/ttyACM0  303a:1001  SN 7C:DF\n    by-id: /dev/serial/by-id/usb-Espressif\n    ESP chip in download mode"), "{s}");
        assert!(s.contains("vendor MicroPython: hold BOOT"), "{s}");
        assert!(s.contains("unknown (not a USB device)"), "{s}");
    }
}
