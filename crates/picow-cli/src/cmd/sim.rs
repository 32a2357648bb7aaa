//! `picow sim`: a virtual PicoW on a pseudo-terminal.
//!
//! The board speaks the ESP ROM loader (and the flasher stub's dialect once
//! a tool uploads it) on a pty, keeps its flash in a file, and boots what is
//! flashed the way a real chip checks it. A Unix socket (the control socket)
//! does what a pty cannot: resets into download or run mode, unplug and
//! replug. See `docs/sim.md`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cli::GlobalArgs;
use crate::exit::{Exit, UsageError};

/// The chips the virtual board emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimChip {
    /// ESP32-S3, as on the WalnutPi PicoW.
    Esp32s3,
    /// ESP32-C3 (the chip CI builds firmware for).
    Esp32c3,
}

/// Arguments of `picow sim`.
#[derive(Debug, Args)]
#[command(after_help = "\
Control socket: one command per line, one reply line each: status, reset download, \
reset run, unplug, replug [download|run], panic, hang, fail-next-boot, help. Example: echo 'reset run' | socat - UNIX-CONNECT:PATH
Stop with Ctrl-C (or SIGTERM); the link and the control socket are removed.")]
pub struct SimArgs {
    /// The chip to emulate.
    #[arg(long, value_enum, default_value_t = SimChip::Esp32s3, env = "PICOW_SIM_CHIP")]
    pub chip: SimChip,
    /// Keep the flash in FILE (created erased, all 0xFF, if missing; every write goes to it).
    /// Without it the flash lives in memory and is lost at exit.
    #[arg(long, value_name = "FILE")]
    pub flash: Option<PathBuf>,
    /// Flash size: 1MB, 2MB, 4MB, 8MB or 16MB [default: 8MB, or the size of an existing --flash FILE].
    #[arg(long, value_name = "SIZE", value_parser = crate::values::flash_size)]
    pub flash_size: Option<u32>,
    /// The board's base MAC (what read-mac shows).
    #[arg(long, value_name = "MAC", default_value = "7c:df:a1:51:00:01")]
    pub mac: String,
    /// A Wi-Fi network in range, SSID:PASSWORD (SSID alone = open); repeat for several.
    #[arg(long = "wifi", value_name = "SSID:PASS")]
    pub wifi: Vec<String>,
    /// Also make a stable symlink to the pty at PATH (like /dev/serial/by-id/...).
    #[arg(long, value_name = "PATH")]
    pub link: Option<PathBuf>,
    /// Control socket path [default: LINK.control with --link, else
    /// $XDG_RUNTIME_DIR/picow-sim-PID.sock].
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,
    /// Boot from flash at start (and on replug) instead of waiting in download mode.
    #[arg(long)]
    pub boot: bool,
    /// Pace bytes at the current baud rate, so that transfer times are those of a real UART.
    #[arg(long)]
    pub baud_pacing: bool,
    /// Take part in multicast DNS on this host's network, as a board on the LAN does:
    /// answer as NAME.local, and find `picow serve` for --server auto. Off by default, so
    /// that a virtual board sends nothing to the network it was not asked to.
    #[arg(long)]
    pub mdns: bool,
    /// The TCP port on 127.0.0.1 (with --mdns: on the address the board
    /// advertises) where the firmware takes updates over Wi-Fi (a real
    /// board's 3232); 0 for any free port [default: 3232, or a free port
    /// when 3232 is taken].
    #[arg(long, value_name = "PORT")]
    pub ota_port: Option<u16>,
}

/// Runs `picow sim`.
#[cfg(not(unix))]
pub fn run(_args: SimArgs, _global: &GlobalArgs) -> color_eyre::Result<Exit> {
    Err(UsageError(
        "`picow sim` is Unix-only: it needs pseudo-terminals (use Linux, macOS or WSL)".into(),
    )
    .into())
}

/// Runs `picow sim`.
#[cfg(unix)]
pub fn run(args: SimArgs, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    unix::run(args, global)
}

/// The picow-fw behaviour that a booted virtual board runs: the firmware's
/// own app code (`picow-app`) on its host board.
#[cfg(unix)]
pub fn firmware_behaviour() -> Option<std::sync::Arc<dyn picow_sim::firmware::Firmware>> {
    Some(std::sync::Arc::new(picow_sim::picow_fw::PicowFirmware))
}

#[cfg(unix)]
mod unix {
    use std::io::Write;

    use color_eyre::eyre::{eyre, WrapErr};
    use picow_protocol::forms::{mask, WifiCredentials};
    use picow_sim::device::{default_control_path, Sim, SimEvent, SimOptions};
    use picow_sim::flash::{Flash, FlashError};
    use picow_sim::wifi::WifiTable;
    use picow_sim::{Chip, Mac};
    use serde_json::json;

    use super::*;
    use crate::exit::HumanError;

    struct Setup {
        opts: SimOptions,
        wifi_text: Vec<String>,
        /// The flash file, when this run made it.
        created_flash: Option<std::path::PathBuf>,
        ota_addr: Option<std::net::SocketAddr>,
        ota_note: Option<String>,
    }

    /// The OTA listener on `ip` (127.0.0.1, or with `--mdns` the address
    /// the board advertises): `--ota-port`, else 3232, else (3232 taken)
    /// any free port, said in a note.
    fn ota_listener(
        ip: std::net::Ipv4Addr,
        port: Option<u16>,
    ) -> color_eyre::Result<(std::net::TcpListener, Option<String>)> {
        let bind = |p: u16| std::net::TcpListener::bind((ip, p));
        match port {
            Some(p) => bind(p).map(|l| (l, None)).map_err(|e| {
                HumanError::usage(picow_i18n::msg!(
                    "sim-ota-port-taken",
                    port = p,
                    addr = format!("{ip}:{p}"),
                    reason = e.to_string()
                ))
                .into()
            }),
            None => match bind(picow_protocol::ota::wire::PORT) {
                Ok(l) => Ok((l, None)),
                Err(e) => {
                    let l = bind(0).map_err(|e| {
                        UsageError(format!("no free port for updates over Wi-Fi: {e}"))
                    })?;
                    Ok((
                        l,
                        Some(format!("{ip}:3232 is not free ({e}): a free port instead")),
                    ))
                }
            },
        }
    }

    fn validate(args: &SimArgs) -> color_eyre::Result<Setup> {
        let chip = match args.chip {
            SimChip::Esp32s3 => Chip::Esp32s3,
            SimChip::Esp32c3 => Chip::Esp32c3,
        };
        let mac: Mac = args
            .mac
            .parse()
            .map_err(|e| UsageError(format!("invalid --mac: {e}")))?;
        let size = args.flash_size;
        let mut networks = Vec::new();
        let mut wifi_text = Vec::new();
        for w in &args.wifi {
            let cred = WifiCredentials::parse(w)
                .map_err(|e| UsageError(format!("invalid --wifi: {e}")))?;
            wifi_text.push(format!("{} (password {})", cred.ssid, mask(&cred.password)));
            networks.push(cred);
        }
        if let Some(link) = &args.link {
            if std::fs::symlink_metadata(link).is_ok_and(|m| !m.file_type().is_symlink()) {
                return Err(HumanError::usage(picow_i18n::msg!(
                    "sim-link-exists",
                    path = link.display().to_string()
                ))
                .into());
            }
            check_dir("--link", link)?;
        }
        let control = args
            .control
            .clone()
            .unwrap_or_else(|| default_control_path(args.link.as_deref()));
        // Every path is checked before the flash file is made.
        let control_flag = match (&args.control, &args.link) {
            (None, Some(link)) => format!("--link {} (its control socket)", link.display()),
            _ => "--control".to_string(),
        };
        check_dir(&control_flag, &control)?;
        if std::os::unix::net::SocketAddr::from_pathname(&control).is_err() {
            return Err(UsageError(format!(
                "invalid {control_flag}: the control socket path {} is {} bytes, longer than a \
                 Unix socket path may be; give a shorter --control (or --link)",
                control.display(),
                control.as_os_str().len()
            ))
            .into());
        }
        if let Some(flash) = &args.flash {
            check_dir("--flash", flash)?;
        }
        let created_flash = args
            .flash
            .clone()
            .filter(|f| std::fs::symlink_metadata(f).is_err());
        let multicast = if args.mdns {
            Some(picow_sim::picow_fw::multicast_interface().map_err(|e| {
                UsageError(format!(
                    "--mdns: this host has no route for multicast ({e}); join a network \
                     (or add a route for 224.0.0.0/4) or leave --mdns out"
                ))
            })?)
        } else {
            None
        };
        let control = args
            .control
            .clone()
            .unwrap_or_else(|| default_control_path(args.link.as_deref()));
        // With --mdns the board is on the LAN: its update listener is at
        // the address it advertises, as a real board's.
        // The port and the multicast route are checked before the flash
        // file is made: bad input changes nothing.
        let (listener, ota_note) = ota_listener(
            multicast.unwrap_or(std::net::Ipv4Addr::LOCALHOST),
            args.ota_port,
        )?;
        let flash = match &args.flash {
            None => Flash::in_memory(size.unwrap_or(8 << 20)),
            Some(path) => Flash::open(path, size).map_err(|e| match e {
                FlashError::FileSize { .. } => UsageError(format!("invalid --flash: {e}")),
                other => UsageError(format!("invalid --flash: {other}")),
            })?,
        };
        let ota_addr = listener.local_addr().ok();
        Ok(Setup {
            opts: SimOptions {
                chip,
                mac,
                flash,
                wifi: WifiTable::new(networks),
                link: args.link.clone(),
                control,
                boot: args.boot,
                baud_pacing: args.baud_pacing,
                firmware: firmware_behaviour(),
                multicast,
                ota_listener: Some(std::sync::Arc::new(listener)),
            },
            wifi_text,
            created_flash,
            ota_addr,
            ota_note,
        })
    }

    /// The directory that is to hold `path` must exist.
    fn check_dir(flag: &str, path: &std::path::Path) -> Result<(), HumanError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if dir.is_dir() {
            return Ok(());
        }
        Err(HumanError::usage(picow_i18n::msg!(
            "path-dir-missing",
            flag = flag,
            dir = dir.display().to_string(),
            path = path.display().to_string()
        )))
    }

    pub fn run(args: SimArgs, global: &GlobalArgs) -> color_eyre::Result<Exit> {
        let setup = validate(&args)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .wrap_err("starting the async runtime")?;
        rt.block_on(serve(setup, args, global.json))
    }

    fn print_line(line: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }

    async fn serve(setup: Setup, args: SimArgs, json: bool) -> color_eyre::Result<Exit> {
        let chip = setup.opts.chip;
        let mac = setup.opts.mac;
        let flash_size = setup.opts.flash.size();
        let flash_file = setup.opts.flash.path().map(|p| p.to_path_buf());
        let control = setup.opts.control.clone();
        let link = setup.opts.link.clone();
        let mode = if setup.opts.boot { "run" } else { "download" };
        // Handlers first: a Ctrl-C right after the ready line must stop the
        // board cleanly, not kill the process before it removes its files.
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt()).wrap_err("installing the SIGINT handler")?;
        let mut term =
            signal(SignalKind::terminate()).wrap_err("installing the SIGTERM handler")?;
        let setup_created = setup.created_flash.clone();
        let sim = Sim::start(setup.opts).await.map_err(|e| match e {
            // A path that cannot be used is the user's to change: exit 2.
            picow_sim::device::SimError::LinkTaken(_)
            | picow_sim::device::SimError::ControlInUse(_) => {
                color_eyre::Report::new(UsageError(e.to_string()))
            }
            picow_sim::device::SimError::Link { .. } => {
                color_eyre::Report::new(UsageError(format!("invalid --link: {e}")))
            }
            picow_sim::device::SimError::Control { .. } => {
                color_eyre::Report::new(UsageError(format!("invalid --control: {e}")))
            }
            other => eyre!(other),
        });
        let mut sim = match sim {
            Ok(sim) => sim,
            Err(e) => {
                // Nothing is left behind: a flash file made for this run goes.
                if let Some(p) = &setup_created {
                    let _ = std::fs::remove_file(p);
                }
                return Err(e);
            }
        };
        let pty = sim.pty().to_path_buf();
        if json {
            print_line(
                &json!({
                    "event": "ready",
                    "pty": pty,
                    "link": link,
                    "control": control,
                    "chip": chip.to_string(),
                    "mac": mac.to_string(),
                    "flash_size": flash_size,
                    "flash_file": flash_file,
                    "mode": mode,
                    "wifi": setup.wifi_text.iter().map(|w| w.split(" (").next().unwrap_or("")).collect::<Vec<_>>(),
                    "ota_port": setup.ota_addr.map(|a| a.port()),
                    "ota_addr": setup.ota_addr.map(|a| a.to_string()),
                })
                .to_string(),
            )?;
        } else {
            let where_ = match &flash_file {
                Some(p) => format!("in {}", p.display()),
                None => "in memory, lost at exit; --flash FILE keeps it".into(),
            };
            print_line(&format!(
                "picow sim: virtual {} (MAC {mac}, {} MB flash {where_}) on {}",
                chip.info().display,
                flash_size >> 20,
                pty.display()
            ))?;
            if let Some(l) = &link {
                print_line(&format!("  link:    {} -> {}", l.display(), pty.display()))?;
            }
            print_line(&format!(
                "  control: {} (status, reset download, reset run, unplug, replug, panic, hang, fail-next-boot)",
                control.display()
            ))?;
            print_line(&format!("  mode:    {mode}"))?;
            if let Some(a) = setup.ota_addr {
                print_line(&format!(
                    "  ota:     {a} (updates over Wi-Fi: picow flash --ota {a}){}",
                    setup
                        .ota_note
                        .as_deref()
                        .map(|n| format!("; {n}"))
                        .unwrap_or_default()
                ))?;
            }
            for w in &setup.wifi_text {
                print_line(&format!("  wifi:    {w}"))?;
            }
            if args.baud_pacing {
                print_line("  pacing:  bytes paced at the current baud rate")?;
            }
            print_line("Stop with Ctrl-C.")?;
        }
        // When nobody reads our output any more (`| head -1` to get the
        // pty path), the board keeps running; it only stops printing events.
        let mut printing = true;
        loop {
            tokio::select! {
                _ = int.recv() => break,
                _ = term.recv() => break,
                ev = sim.events.recv() => {
                    let Some(ev) = ev else { break };
                    if printing && print_line(&event_line(&ev, json)).is_err() {
                        tracing::debug!("stdout is gone; events are no longer printed");
                        printing = false;
                    }
                }
            }
        }
        sim.stop().await.map_err(|e| eyre!(e))?;
        Ok(Exit::Success)
    }

    fn event_line(ev: &SimEvent, json: bool) -> String {
        use picow_sim::control::BootMode;
        let mode = |m: &BootMode| m.to_string();
        if json {
            match ev {
                SimEvent::Plugged { pty } => json!({"event": "plugged", "pty": pty}),
                SimEvent::Unplugged => json!({"event": "unplugged"}),
                SimEvent::Reset { mode: m } => json!({"event": "reset", "mode": mode(m)}),
                SimEvent::BootFailed { reason } => {
                    json!({"event": "boot-failed", "reason": reason})
                }
                SimEvent::Booted {
                    app,
                    running,
                    slot,
                    version,
                } => {
                    json!({"event": "booted", "app": app, "running": running, "slot": slot, "version": version})
                }
            }
            .to_string()
        } else {
            match ev {
                SimEvent::Plugged { pty } => format!("plugged: {}", pty.display()),
                SimEvent::Unplugged => "unplugged".into(),
                SimEvent::Reset { mode: m } => format!("reset: {} mode", mode(m)),
                SimEvent::BootFailed { reason } => format!("boot failed: {reason}"),
                SimEvent::Booted {
                    app,
                    running,
                    slot,
                    version,
                } => format!(
                    "booted: {app}{}{} ({})",
                    version
                        .as_deref()
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default(),
                    slot.map(|s| format!(" from ota_{s}")).unwrap_or_default(),
                    if *running { "running" } else { "halted" }
                ),
            }
        }
    }
}
