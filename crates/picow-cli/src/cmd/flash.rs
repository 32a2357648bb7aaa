//! `picow flash`: firmware plus Wi-Fi and server settings onto a board.
//!
//! Every input is validated (and the whole flash plan built) before the port
//! is opened; then one loader session writes the regions that differ,
//! verifies them and resets the board into the app.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use color_eyre::eyre::WrapErr;
use espflash::target::XtalFrequency;
use picow_protocol::forms::{mask, Server, ServerAddr, WifiCredentials};
use picow_protocol::ota::OtaPassword;
use picow_protocol::{DeviceConfig, Transport};

use crate::cli::GlobalArgs;
use crate::esp::device::{self, After, Before, Target};
use crate::esp::image::{self, FlashPlan, PicowChip};
use crate::esp::progress::{self, FlashEvent, Progress, RegionInfo};
use crate::esp::select::{self, Found};
use crate::exit::{Exit, HumanError, UsageError};
use crate::firmware;
use crate::ota::passwords;
use crate::port::{self, PortError};
use picow_i18n::tr;

/// Arguments of `picow flash`.
#[derive(Debug, Args)]
pub struct FlashArgs {
    /// Wi-Fi as SSID:PASSWORD (split at the first ':'; SSID alone = open
    /// network). For an SSID containing ':' use --ssid and --password.
    /// Every user of this computer can see a command line (`ps`): prefer
    /// --wifi-file, PICOW_WIFI or the prompt.
    #[arg(long, value_name = "SSID:PASS", conflicts_with_all = ["ssid", "password", "wifi_file"])]
    pub wifi: Option<String>,
    /// Wi-Fi network name, when it contains ':'. Without --password, the
    /// password is asked for on the terminal.
    #[arg(long, conflicts_with = "wifi_file")]
    pub ssid: Option<String>,
    /// Wi-Fi password, with --ssid (empty for an open network).
    #[arg(long, requires = "ssid")]
    pub password: Option<String>,
    /// Read SSID:PASSWORD from the first line of FILE (a regular file of at
    /// most 4 KiB), so that the password is not on the command line.
    #[arg(long, value_name = "FILE")]
    pub wifi_file: Option<PathBuf>,
    /// The server address.
    #[arg(
        long,
        value_name = "HOST:PORT|auto",
        help = "The server: HOST:PORT, [IPv6]:PORT, NAME.local:PORT (found by mDNS), \
                auto (the first `picow serve` on the LAN), auto:NAME (the one named NAME); \
                tcp://… or udp://…"
    )]
    pub server: Option<String>,
    /// Use UDP instead of TCP (same as a udp:// server).
    #[arg(long)]
    pub udp: bool,
    /// A name for the board, sent with its greeting.
    #[arg(long)]
    pub name: Option<String>,
    /// The serial port (default: the one Espressif USB device plugged in).
    #[arg(long, env = "PICOW_PORT", value_name = "PATH")]
    pub port: Option<String>,
    /// The chip the firmware is for; the board must be this chip.
    #[arg(long, value_enum)]
    pub chip: Option<PicowChip>,
    /// The firmware ELF (default: the last `cargo xtask fw build` for the chip).
    #[arg(long, env = "PICOW_FIRMWARE", value_name = "ELF")]
    pub firmware: Option<PathBuf>,
    /// Baud rate for the transfer (the loader is reached at 115200 first).
    #[arg(long, default_value_t = 921_600)]
    pub baud: u32,
    /// Rewrite only the config partition (Wi-Fi and server), not the firmware.
    #[arg(long, conflicts_with_all = ["firmware", "erase", "save_image"])]
    pub config_only: bool,
    /// Erase the whole flash first.
    #[arg(long)]
    pub erase: bool,
    /// Go on into `picow monitor` afterwards.
    #[arg(long, conflicts_with = "save_image")]
    pub monitor: bool,
    /// How to enter the bootloader.
    #[arg(long, value_enum, default_value_t = Before::DefaultReset)]
    pub before: Before,
    /// What to do afterwards.
    #[arg(long, value_enum, default_value_t = After::HardReset)]
    pub after: After,
    /// Write the merged flash image to FILE instead of a board.
    #[arg(long, value_name = "FILE", conflicts_with = "erase")]
    pub save_image: Option<PathBuf>,
    /// Flash size for --save-image: 4MB, 8MB or 16MB (default: the chip's
    /// usual board; a board's own size is detected, so it needs --save-image).
    #[arg(long, value_name = "SIZE", value_parser = crate::values::flash_size, requires = "save_image")]
    pub flash_size: Option<u32>,
    /// How long to wait for a board to appear in download mode after a
    /// replug (with --ota: to come back after its reboot): 1s to 1h, e.g.
    /// 60, 90s, 2m.
    #[arg(long, value_name = "DUR", default_value = "60s",
          value_parser = crate::values::duration_within(Duration::from_secs(1), Duration::from_secs(3600)))]
    pub wait: Duration,
    /// Keep the Wi-Fi and server settings the board holds (instead of
    /// --wifi and --server), e.g. when moving a board to the layout with
    /// OTA slots.
    #[arg(long, conflicts_with_all = ["wifi", "ssid", "password", "wifi_file", "server", "udp", "name", "save_image"])]
    pub keep_config: bool,
    /// The password for updates over Wi-Fi (8 to 64 printable ASCII
    /// characters). Without it picow makes one up per board and keeps it
    /// in your config directory.
    #[arg(
        long,
        env = "PICOW_OTA_PASSWORD",
        value_name = "PASS",
        hide_env_values = true
    )]
    pub ota_password: Option<String>,
    /// Print the OTA password (it is masked otherwise).
    #[arg(long)]
    pub show_secrets: bool,
    /// Update over Wi-Fi instead of USB: the board's address or NAME.local,
    /// optionally with :PORT (default 3232). ESPHome devices too.
    #[arg(long, value_name = "BOARD", conflicts_with_all = ["erase", "save_image", "keep_config", "monitor", "flash_size"])]
    pub ota: Option<String>,
    /// With --ota: send the image even when the board already runs it.
    #[arg(long, requires = "ota")]
    pub force: bool,
    /// With --ota: upload without gzip even when the board takes it.
    #[arg(long, requires = "ota")]
    pub no_compress: bool,
}

/// Lowest and highest `--baud` accepted.
pub const BAUD_RANGE: (u32, u32) = (9_600, 3_000_000);

/// The environment variable that gives `SSID:PASSWORD` (as `--wifi`).
pub const WIFI_ENV: &str = "PICOW_WIFI";

/// Asks for what the command line did not give; `None` when there is no
/// terminal to ask on.
pub trait Ask {
    /// A line, echoed (the SSID).
    fn line(&mut self, question: &str) -> Option<io::Result<String>>;
    /// A secret, not echoed (the password).
    fn secret(&mut self, question: &str) -> Option<io::Result<String>>;
}

/// Asks on the terminal when stdin and stderr are one; never otherwise.
#[derive(Debug)]
pub struct TerminalAsk;

impl Ask for TerminalAsk {
    fn line(&mut self, question: &str) -> Option<io::Result<String>> {
        if !(io::stdin().is_terminal() && io::stderr().is_terminal()) {
            return None;
        }
        eprint!("{question}");
        let mut s = String::new();
        Some(
            io::stdin()
                .read_line(&mut s)
                .map(|_| s.trim_end_matches(['\r', '\n']).to_string()),
        )
    }

    fn secret(&mut self, question: &str) -> Option<io::Result<String>> {
        if !(io::stdin().is_terminal() && io::stderr().is_terminal()) {
            return None;
        }
        Some(read_secret(question))
    }
}

/// Asks `question` and reads keys without echo until Enter (raw mode,
/// restored on every way out).
fn read_secret(question: &str) -> io::Result<String> {
    use crossterm::event::{read, Event, KeyCode, KeyEventKind, KeyModifiers};
    // Echo off before the question: keys typed as soon as it shows are
    // never echoed.
    let raw = crate::cmd::monitor::term::raw_stdin()?;
    eprint!("{question}");
    let _ = io::stderr().flush();
    let mut s = String::new();
    let r = loop {
        match read()? {
            Event::Key(k) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Enter => break Ok(s),
                KeyCode::Char('c' | 'd') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    break Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "no password entered",
                    ))
                }
                KeyCode::Backspace => {
                    s.pop();
                }
                KeyCode::Char(c) => s.push(c),
                _ => {}
            },
            Event::Paste(p) => s.push_str(&p),
            _ => {}
        }
    };
    drop(raw);
    eprintln!();
    r
}

impl FlashArgs {
    /// Validates the settings into a config record. The error names the
    /// flag, the field and the rule, and never includes the password.
    pub fn device_config(&self) -> Result<DeviceConfig, UsageError> {
        let env = std::env::var_os(WIFI_ENV);
        self.device_config_with(env.as_deref(), &mut TerminalAsk)
    }

    /// Where the Wi-Fi comes from, first given first: `--wifi`, `--ssid`
    /// (with `--password`, else asked for), `--wifi-file`, `PICOW_WIFI`,
    /// else both asked for on a terminal.
    pub fn wifi_with(
        &self,
        env: Option<&std::ffi::OsStr>,
        ask: &mut dyn Ask,
    ) -> Result<WifiCredentials, UsageError> {
        let asked =
            |r: Option<io::Result<String>>, what: &str| -> Result<Option<String>, UsageError> {
                r.transpose()
                    .map_err(|e| UsageError(format!("no Wi-Fi {what}: {e}")))
            };
        if let Some(w) = &self.wifi {
            return WifiCredentials::parse(w).map_err(|e| flag("--wifi", e));
        }
        if let Some(ssid) = &self.ssid {
            let password = match &self.password {
                Some(p) => p.clone(),
                None => asked(
                    ask.secret(&format!("Wi-Fi password for {ssid}: ")),
                    "password",
                )?
                .ok_or_else(|| {
                    UsageError(format!(
                        "--ssid {ssid} needs a password: give --password (empty for an open \
                             network), or run on a terminal to be asked for it"
                    ))
                })?,
            };
            return WifiCredentials::new(ssid, &password).map_err(|e| flag("--ssid/--password", e));
        }
        if let Some(path) = &self.wifi_file {
            let data = crate::files::read_limited(path, crate::files::MAX_WIFI_FILE)
                .map_err(|e| flag("--wifi-file", e))?;
            warn_if_others_can_read(path);
            let text = std::str::from_utf8(&data).map_err(|_| {
                UsageError(format!(
                    "invalid --wifi-file {}: not UTF-8 text; write SSID:PASSWORD on its first line",
                    path.display()
                ))
            })?;
            let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
            return WifiCredentials::parse(line)
                .map_err(|e| flag(&format!("--wifi-file {}", path.display()), e));
        }
        if let Some(v) = env {
            let v = v.to_str().ok_or_else(|| {
                UsageError(format!("invalid {WIFI_ENV}: not UTF-8; give SSID:PASSWORD"))
            })?;
            return WifiCredentials::parse(v).map_err(|e| flag(WIFI_ENV, e));
        }
        let missing = || {
            UsageError(format!(
                "no Wi-Fi given: give --wifi-file FILE (SSID:PASSWORD on its first line), \
                 {WIFI_ENV}=SSID:PASSWORD in the environment, or --wifi SSID:PASSWORD (visible \
                 to every user of this computer), or run on a terminal to be asked"
            ))
        };
        let ssid = asked(ask.line("Wi-Fi network (SSID): "), "network")?.ok_or_else(missing)?;
        let password = asked(
            ask.secret(&format!(
                "Wi-Fi password for {ssid} (empty for an open network): "
            )),
            "password",
        )?
        .ok_or_else(missing)?;
        WifiCredentials::new(&ssid, &password).map_err(|e| flag("Wi-Fi", e))
    }

    /// [`device_config`](Self::device_config) with the environment's
    /// `PICOW_WIFI` and the asker given (tests).
    pub fn device_config_with(
        &self,
        env: Option<&std::ffi::OsStr>,
        ask: &mut dyn Ask,
    ) -> Result<DeviceConfig, UsageError> {
        let wifi = self.wifi_with(env, ask)?;
        let Some(server) = &self.server else {
            return Err(UsageError(
                "--server is required: give --server auto (the board finds `picow serve` on the \
                 LAN by itself), or --server HOST:PORT, e.g. the address `picow serve` prints"
                    .into(),
            ));
        };
        let mut server = Server::parse(server).map_err(|e| flag("--server", e))?;
        if self.udp {
            server.set_transport(Transport::Udp);
        }
        DeviceConfig::new(wifi, server, self.name.as_deref()).map_err(|e| flag("--name", e))
    }
}

/// The settings to write: given on the command line, or the board's own.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one value per run
enum Settings {
    Given(DeviceConfig),
    Keep,
}

impl FlashArgs {
    fn settings(&self) -> Result<Settings, UsageError> {
        if self.keep_config {
            Ok(Settings::Keep)
        } else {
            self.device_config().map(Settings::Given)
        }
    }

    /// `--ota-password` (or `PICOW_OTA_PASSWORD`), validated.
    pub fn given_ota_password(&self) -> Result<Option<OtaPassword>, UsageError> {
        self.ota_password
            .as_deref()
            .map(OtaPassword::new)
            .transpose()
            .map_err(|e| flag("--ota-password", e))
    }
}

/// Where the OTA password written to a board came from.
#[derive(Debug, Clone)]
enum OtaSource {
    /// `--ota-password` or the environment.
    Given,
    /// The config record the board already held (`--keep-config`).
    Board,
    /// The one picow keeps for this board, made up now or before.
    Stored { path: PathBuf, new: bool },
    /// None (`--save-image` without `--ota-password`).
    None,
}

impl OtaSource {
    fn describe(&self, password: Option<&OtaPassword>, show: bool) -> String {
        let shown = match (password, show) {
            (Some(p), true) => p.expose().to_string(),
            (Some(_), false) => "********".into(),
            (None, _) => String::new(),
        };
        let shown = shown.as_str();
        match self {
            OtaSource::Given => tr!("ota-pw-given", shown = shown),
            OtaSource::Board => tr!("ota-pw-board", shown = shown),
            OtaSource::Stored { path, new: true } => tr!(
                "ota-pw-new",
                shown = shown,
                path = path.display().to_string()
            ),
            OtaSource::Stored { path, new: false } => tr!(
                "ota-pw-kept",
                shown = shown,
                path = path.display().to_string()
            ),
            OtaSource::None => tr!("ota-pw-none"),
        }
    }
}

/// The OTA password for the board with `mac`: `--ota-password`, else the
/// one in `existing` (the board's record), else picow's stored one.
fn ota_password_for(
    given: Option<&OtaPassword>,
    existing: Option<&OtaPassword>,
    mac: Option<&str>,
) -> color_eyre::Result<(Option<OtaPassword>, OtaSource)> {
    if let Some(p) = given {
        return Ok((Some(p.clone()), OtaSource::Given));
    }
    if let Some(p) = existing {
        return Ok((Some(p.clone()), OtaSource::Board));
    }
    let Some(mac) = mac else {
        return Ok((None, OtaSource::None));
    };
    let dir = passwords::config_dir().ok_or(passwords::StoreError::NoDir)?;
    let (p, new) = passwords::load_or_create_in(&dir, mac)?;
    Ok((
        Some(p),
        OtaSource::Stored {
            path: passwords::path_for(&dir, mac),
            new,
        },
    ))
}

/// A config that stands in for the board's own while the plan is checked
/// before connecting (`--keep-config`): the app's size does not depend on it.
fn stand_in_config() -> DeviceConfig {
    DeviceConfig::new(
        WifiCredentials::parse("picow").expect("a valid SSID"),
        ServerAddr::parse("127.0.0.1:1").expect("a valid server"),
        None,
    )
    .expect("valid parts")
}

/// A server on loopback is this computer to the board itself: the board
/// would never reach `picow serve`. Said as a warning (a virtual board on
/// this computer can use it).
pub fn loopback_server_warning(server: &Server) -> Option<picow_i18n::Msg> {
    use picow_protocol::forms::Host;
    let addr = server.addr()?;
    let loopback = match &addr.host {
        Host::Ip(ip) => ip.is_loopback(),
        Host::Name(n) => n.eq_ignore_ascii_case("localhost"),
    };
    loopback.then(|| picow_i18n::msg!("flash-loopback-server", server = server.to_string()))
}

fn flag(flag: &str, err: impl std::fmt::Display) -> UsageError {
    UsageError(format!("invalid {flag}: {err}"))
}

/// A Wi-Fi file that other users may read gets a warning (as ssh does for keys).
fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    "--wifi-file {}: other users of this computer can read it; `chmod 600` it",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A firmware candidate: its path, bytes and chip.
#[derive(Debug, Clone)]
pub struct Firmware {
    /// Where it was read from.
    pub path: PathBuf,
    /// The ELF.
    pub elf: Vec<u8>,
    /// The chip it is built for.
    pub chip: PicowChip,
}

/// Where `cargo xtask fw build --chip CHIP` leaves the ELF in a clone (the
/// last build for that chip, release or debug), relative to its root.
pub fn fw_build_path(root: &Path, chip: PicowChip) -> PathBuf {
    firmware::clone_elf(root, chip.as_str())
}

/// The picow workspace root above the current directory, if any.
pub fn workspace_root() -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        if dir.join("crates/picow-fw/Cargo.toml").is_file() {
            return Some(dir);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// Reads and checks one firmware ELF against `--chip`.
pub fn load_firmware(path: &Path, chip: Option<PicowChip>) -> Result<Firmware, UsageError> {
    let shown = path.display();
    let elf = crate::files::read_limited(path, crate::files::MAX_ELF).map_err(|e| {
        UsageError(format!(
            "invalid --firmware {shown}: {e}; give the path of a firmware ELF (at most {} MiB)",
            crate::files::MAX_ELF >> 20
        ))
    })?;
    if !elf.starts_with(b"\x7fELF") {
        return Err(UsageError(format!(
            "invalid --firmware {shown}: not an ELF file; give the ELF from `cargo xtask fw build`, not a .bin image"
        )));
    }
    let fw_chip = match (image::elf_chip(&elf), chip) {
        (Some(Ok(c)), Some(want)) if c != want => {
            return Err(UsageError(format!(
                "invalid --chip {want}: the firmware {shown} is built for {c}; build it for {want} \
                 (`cargo xtask fw build --chip {want} --release`) or drop --chip"
            )))
        }
        (Some(Ok(c)), _) => c,
        (Some(Err(name)), _) => {
            return Err(UsageError(format!(
                "invalid --firmware {shown}: it is built for {name}, which picow does not support (esp32s3, esp32c3, esp32c6)"
            )))
        }
        (None, Some(want)) => want,
        (None, None) => {
            return Err(UsageError(format!(
                "invalid --firmware {shown}: the ELF does not say which chip it is for; give --chip esp32s3|esp32c3|esp32c6"
            )))
        }
    };
    Ok(Firmware {
        path: path.to_path_buf(),
        elf,
        chip: fw_chip,
    })
}

/// The firmware candidates: `--firmware`/`PICOW_FIRMWARE`, else for each
/// chip (only `--chip`'s when given) the installed firmware of the last
/// `cargo xtask fw build` (the user's data directory), else the one in the
/// clone at `root`.
pub fn firmware_candidates(
    explicit: Option<&Path>,
    chip: Option<PicowChip>,
    root: Option<&Path>,
) -> color_eyre::Result<Vec<Firmware>> {
    firmware_candidates_in(explicit, chip, &|c| firmware::search_path(c.as_str(), root))
}

/// [`firmware_candidates`] with the places to look for each chip given.
pub fn firmware_candidates_in(
    explicit: Option<&Path>,
    chip: Option<PicowChip>,
    places: &dyn Fn(PicowChip) -> Vec<PathBuf>,
) -> color_eyre::Result<Vec<Firmware>> {
    if let Some(p) = explicit {
        return Ok(vec![load_firmware(p, chip)?]);
    }
    let chips: Vec<PicowChip> = match chip {
        Some(c) => vec![c],
        None => PicowChip::ALL.to_vec(),
    };
    let mut out = Vec::new();
    let mut looked = Vec::new();
    for c in chips {
        let path = places(c);
        if let Some(p) = path.iter().find(|p| p.is_file()) {
            out.push(load_firmware(p, Some(c))?);
        }
        looked.extend(path);
    }
    if out.is_empty() {
        // Where a chip's firmware would be: one entry per directory kind.
        let shown: Vec<PathBuf> = match chip {
            Some(_) => looked,
            None => places(PicowChip::Esp32s3),
        };
        return Err(HumanError::usage(firmware::missing(chip, &shown)).into());
    }
    Ok(out)
}

/// S3, C3 and C6 all run from a 40 MHz crystal; the board's own value is
/// used once it is connected.
fn xtal_for(_chip: PicowChip) -> XtalFrequency {
    XtalFrequency::_40Mhz
}

/// Runs `picow flash`.
pub fn run(args: FlashArgs, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    if let Some(board) = &args.ota {
        return crate::ota::cmd::run(&args, board, global);
    }
    // 1. Everything that can be checked without a board; paths first, so
    // that nobody is asked for a password before a hopeless path.
    if let Some(out) = &args.save_image {
        let inputs: Vec<(&str, &Path)> = [
            args.firmware.as_deref().map(|p| ("--firmware", p)),
            args.wifi_file.as_deref().map(|p| ("--wifi-file", p)),
        ]
        .into_iter()
        .flatten()
        .collect();
        check_save_image(out, &inputs)?;
    }
    let settings = args.settings()?;
    let given_ota = args.given_ota_password()?;
    let config = match &settings {
        Settings::Given(c) => c.clone(),
        Settings::Keep => stand_in_config(),
    };
    if let Settings::Given(c) = &settings {
        if let Some(w) = loopback_server_warning(c.server()) {
            tracing::warn!("{}", w.localized());
        }
    }
    if !(BAUD_RANGE.0..=BAUD_RANGE.1).contains(&args.baud) {
        return Err(UsageError(format!(
            "invalid --baud {}: must be {} to {}",
            args.baud, BAUD_RANGE.0, BAUD_RANGE.1
        ))
        .into());
    }
    let firmware = if args.config_only {
        Vec::new()
    } else {
        let root = workspace_root();
        let fws = firmware_candidates(args.firmware.as_deref(), args.chip, root.as_deref())?;
        // Build each plan once for its usual flash size: a bad ELF or an app
        // that cannot fit is an input error, found before any port is opened.
        for fw in &fws {
            let size = args.flash_size.unwrap_or(fw.chip.default_flash_size());
            plan_for(fw, size, xtal_for(fw.chip), &config)
                .map_err(|e| UsageError(e.to_string()))?;
        }
        fws
    };
    let mode = if global.json {
        progress::Mode::Json
    } else if global.quiet {
        progress::Mode::Quiet
    } else {
        progress::Mode::Bars
    };
    let say = |msg: &str| {
        if mode == progress::Mode::Bars {
            eprintln!("{msg}");
        }
    };

    // 2. --save-image: a file instead of a board.
    if let Some(out) = &args.save_image {
        let fw = match firmware.as_slice() {
            [one] => one,
            many => {
                return Err(UsageError(format!(
                "--save-image needs one firmware, found builds for {}: give --chip or --firmware",
                many.iter()
                    .map(|f| f.chip.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
                .into())
            }
        };
        // The firmware found by itself (the last build) is an input too.
        check_save_image(out, &[("--firmware", fw.path.as_path())])?;
        let size = args.flash_size.unwrap_or(fw.chip.default_flash_size());
        let (ota, ota_source) = ota_password_for(given_ota.as_ref(), None, None)?;
        let config = config.with_ota_password(ota);
        let plan = plan_for(fw, size, xtal_for(fw.chip), &config)
            .map_err(|e| UsageError(e.to_string()))?;
        let img = plan.merged();
        write_whole(out, &img)
            .wrap_err_with(|| format!("writing the --save-image file {}", out.display()))?;
        report(
            mode,
            &say,
            &FlashEvent::Saved {
                path: out.display().to_string(),
                size: img.len(),
                chip: fw.chip,
                regions: regions_info(&plan),
                ota_password: ota_shown(config.ota_password(), args.show_secrets),
                firmware: fw.path.display().to_string(),
            },
        );
        if mode != progress::Mode::Json {
            say(&ota_source.describe(config.ota_password(), args.show_secrets));
        }
        return Ok(Exit::Success);
    }

    // 3. The port.
    let port_name = match resolve_port(&args, global, &say)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let ports = port::list().unwrap_or_default();
    let target = Target::new(&port_name, &ports);

    // 4. One loader session.
    let started = Instant::now();
    let mut warn = |w: String| tracing::warn!("{w}");
    let mut session = device::connect(&target, args.before, args.baud, &mut warn)?;
    let board_chip = session.chip();
    let info = session.device_info()?;
    let flash_size = info.flash_size.size();
    let Some(board) = PicowChip::from_espflash(board_chip) else {
        return Err(UsageError(format!(
            "the board on {port_name} is an {board_chip}, which picow firmware does not support (esp32s3, esp32c3, esp32c6); nothing was written"
        ))
        .into());
    };
    if let Some(want) = args.chip {
        if want != board {
            return Err(UsageError(format!(
                "chip mismatch: --chip {want}, but the board on {port_name} is an {board}; nothing was written"
            ))
            .into());
        }
    }
    report(
        mode,
        &say,
        &FlashEvent::Connected {
            port: &port_name,
            chip: board,
            flash_size,
            mac: info.mac_address.as_deref(),
        },
    );

    // The settings: given, or the board's own; then the OTA password.
    let (base, existing_ota) = match &settings {
        Settings::Given(c) => (c.clone(), None),
        Settings::Keep => {
            let kept = read_board_config(&mut session, &port_name)?;
            let ota = kept.ota_password().cloned();
            (kept, ota)
        }
    };
    let (ota, ota_source) = ota_password_for(
        given_ota.as_ref(),
        existing_ota.as_ref(),
        info.mac_address.as_deref(),
    )?;
    let config = base.with_ota_password(ota);

    let regions: Vec<image::Region> = if args.config_only {
        let table = session.read_partition_table()?;
        let (offset, size) = image::config_partition(&table).map_err(|why| {
            UsageError(format!(
                "--config-only refused: {why}; flash the firmware with a full `picow flash` first. Nothing was written"
            ))
        })?;
        let mut data = vec![0xFF; size.min(picow_protocol::layout::CONFIG_LEN) as usize];
        config
            .encode(&mut data)
            .map_err(|e| UsageError(e.to_string()))?;
        vec![image::Region {
            name: "config",
            addr: offset,
            data,
        }]
    } else {
        let Some(fw) = firmware.iter().find(|f| f.chip == board) else {
            let list = |f: &dyn Fn(&Firmware) -> String| {
                firmware.iter().map(f).collect::<Vec<_>>().join(", ")
            };
            return Err(HumanError::usage(picow_i18n::msg!(
                "fw-wrong-chip",
                port = port_name.as_str(),
                board = board.as_str(),
                chips = list(&|f| f.chip.to_string()),
                paths = list(&|f| f.path.display().to_string()),
                command = firmware::build_command(board),
            ))
            .into());
        };
        let plan =
            plan_for(fw, flash_size, info.crystal_frequency, &config).map_err(|e| match e {
                image::PlanError::FlashTooSmall { .. } => {
                    color_eyre::eyre::eyre!("{e}; nothing was written")
                }
                e => UsageError(e.to_string()).into(),
            })?;
        plan.regions
    };

    if args.erase {
        say("erasing the whole flash…");
        session.erase_all()?;
    }
    let list: Vec<(&'static str, u32, &[u8])> = regions
        .iter()
        .map(|r| (r.name, r.addr, &r.data[..]))
        .collect();
    let mut progress = Progress::new(
        mode,
        regions
            .iter()
            .map(|r| (r.name, r.addr, r.data.len()))
            .collect(),
    );
    session.write(&list, &mut progress)?;
    let after_warning = session.finish(args.after)?;
    if let Some(w) = &after_warning {
        tracing::warn!("{w}");
    }
    let written = progress.results.iter().filter(|r| !r.skipped).count();
    let skipped = progress.results.len() - written;
    report(
        mode,
        &say,
        &FlashEvent::Done {
            port: &port_name,
            chip: board,
            written,
            skipped,
            secs: started.elapsed().as_secs_f64(),
            ssid: config.ssid(),
            password: mask(config.password()),
            server: config.server().to_string(),
            ota_password: ota_shown(config.ota_password(), args.show_secrets),
            reset: args.after == After::HardReset && after_warning.is_none(),
        },
    );
    if mode != progress::Mode::Json {
        say(&ota_source.describe(config.ota_password(), args.show_secrets));
    }
    if args.monitor {
        return run_monitor(
            &port_name,
            firmware.first().map(|f| f.path.as_path()),
            global,
        );
    }
    Ok(Exit::Success)
}

/// `--save-image FILE` must be a file that can be made, in a directory that
/// exists, and none of the inputs.
pub fn check_save_image(out: &Path, inputs: &[(&str, &Path)]) -> Result<(), UsageError> {
    let shown = out.display();
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "invalid --save-image {shown}: the directory {} does not exist; create it or give another path",
            dir.display()
        )));
    }
    if let Ok(m) = std::fs::metadata(out) {
        if !m.is_file() {
            return Err(UsageError(format!(
                "invalid --save-image {shown}: it is {}; give the path of a file to write",
                if m.is_dir() {
                    "a directory"
                } else {
                    "not a regular file"
                }
            )));
        }
    }
    for (flag, input) in inputs {
        if crate::files::same_file(out, input) {
            return Err(UsageError(format!(
                "invalid --save-image {shown}: it is the {flag} file {}, which it would overwrite; \
                 give another file name",
                input.display()
            )));
        }
    }
    Ok(())
}

/// Writes `data` to a new file next to `path` and renames it into place, so
/// that `path` never holds half an image.
fn write_whole(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn plan_for(
    fw: &Firmware,
    flash_size: u32,
    xtal: XtalFrequency,
    config: &DeviceConfig,
) -> Result<FlashPlan, image::PlanError> {
    image::build_plan(
        &fw.path.display().to_string(),
        &fw.elf,
        fw.chip,
        flash_size,
        xtal,
        config,
    )
}

/// The board's own config record, for `--keep-config`.
fn read_board_config(
    session: &mut device::Session,
    port: &str,
) -> color_eyre::Result<DeviceConfig> {
    let refuse = |why: String| {
        UsageError(format!(
            "--keep-config: the board on {port} holds no settings to keep ({why}); give --wifi and --server instead. Nothing was written"
        ))
    };
    let table = session.read_partition_table()?;
    let (offset, size) = image::config_partition(&table).map_err(refuse)?;
    let bytes = session.read_flash(offset, size.min(picow_protocol::layout::CONFIG_LEN))?;
    picow_protocol::config_partition::read(&bytes).map_err(|e| refuse(e.to_string()).into())
}

/// The OTA password as `--json` shows it: masked unless `--show-secrets`.
fn ota_shown(password: Option<&OtaPassword>, show: bool) -> Option<String> {
    password.map(|p| {
        if show {
            p.expose().to_string()
        } else {
            "********".to_string()
        }
    })
}

fn regions_info(plan: &FlashPlan) -> Vec<RegionInfo> {
    plan.regions
        .iter()
        .map(|r| RegionInfo {
            name: r.name,
            addr: r.addr,
            size: r.data.len(),
        })
        .collect()
}

/// One event: a JSON line with `--json`, else its line for people (through
/// `say`, which `-q` silences).
fn report(mode: progress::Mode, say: &dyn Fn(&str), ev: &FlashEvent<'_>) {
    if mode == progress::Mode::Json {
        progress::event(ev);
    } else if let Some(line) = ev.human() {
        say(&line);
    }
}

/// The port to flash, or the exit code when the choice ended the command.
fn resolve_port(
    args: &FlashArgs,
    global: &GlobalArgs,
    say: &dyn Fn(&str),
) -> color_eyre::Result<Result<String, Exit>> {
    if let Some(p) = &args.port {
        // `com10`, `COM10:` and `\\.\COM10` are all COM10 on Windows.
        return Ok(Ok(crate::serial_os::Os::CURRENT.port_name(p).into_owned()));
    }
    let ports = port::list()?;
    match select::detect(&ports) {
        Found::One(p) => Ok(Ok(p)),
        Found::None(candidates) => Err(PortError::NoBoard { candidates }.into()),
        Found::Several(choices) => {
            let interactive =
                !global.json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
            if interactive {
                let stdin = std::io::stdin();
                match select::prompt(&choices, &mut stdin.lock(), &mut std::io::stderr()) {
                    Some(p) => Ok(Ok(p)),
                    None => Err(UsageError("no board chosen; give --port".into()).into()),
                }
            } else {
                Err(UsageError(format!(
                    "several Espressif boards found ({}); choose one with --port",
                    choices
                        .iter()
                        .map(|c| c.1.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into())
            }
        }
        Found::MicroPython(p) => {
            let hint = select::micropython_hint(&p);
            let wait = picow_values::duration::format(args.wait);
            let ev = FlashEvent::Waiting {
                reason: "micropython",
                port: &p,
                hint: &hint.to_string(),
                timeout_secs: args.wait.as_secs(),
            };
            if global.json {
                progress::event(&ev);
            } else {
                // Also with -q: the user must act.
                eprintln!(
                    "{}",
                    tr!(
                        "flash-waiting",
                        hint = hint.localized(),
                        wait = wait.as_str()
                    )
                );
            }
            let t0 = Instant::now();
            let got = select::wait_for_download_port(
                || port::list().unwrap_or_default(),
                || t0.elapsed(),
                std::thread::sleep,
                args.wait,
                Duration::from_millis(250),
            );
            match got {
                Some(p) => {
                    say(&tr!("flash-found-download", port = p.as_str()));
                    // Give udev a moment to set the permissions on the new node.
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(Ok(p))
                }
                None => {
                    eprintln!(
                        "{}",
                        tr!(
                            "error-line",
                            message = tr!(
                                "flash-no-download",
                                wait = wait.as_str(),
                                hint = hint.localized()
                            )
                        )
                    );
                    Ok(Err(Exit::Timeout))
                }
            }
        }
    }
}

/// The `picow monitor` arguments for `--monitor`: the port just flashed and
/// the firmware ELF for backtrace decoding.
pub fn monitor_args(
    port: &str,
    elf: Option<&Path>,
) -> Result<crate::cmd::monitor::MonitorArgs, UsageError> {
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        m: crate::cmd::monitor::MonitorArgs,
    }
    use clap::Parser;
    let mut argv = vec!["monitor".to_string(), "--port".into(), port.to_string()];
    if let Some(e) = elf {
        argv.push("--elf".into());
        argv.push(e.display().to_string());
    }
    Wrap::try_parse_from(argv)
        .map(|w| w.m)
        .map_err(|e| UsageError(e.to_string()))
}

fn run_monitor(port: &str, elf: Option<&Path>, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    let args = monitor_args(port, elf)?;
    let _ = std::io::stderr().flush();
    crate::cmd::monitor::run(args, global)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_loopback_server_is_warned_about() {
        let w = |s: &str| loopback_server_warning(&Server::parse(s).unwrap());
        let msg = w("127.0.0.1:10000").unwrap();
        let en = msg.in_lang(picow_i18n::Lang::En);
        assert!(en.contains("127.0.0.1:10000 is a loopback address"), "{en}");
        let zh = msg.in_lang(picow_i18n::Lang::ZhCn);
        assert!(
            zh.contains("--server tcp://127.0.0.1:10000 是回环地址")
                && zh.contains("--server auto"),
            "{zh}"
        );
        assert!(w("localhost:10000").is_some());
        assert!(w("[::1]:10000").is_some());
        assert!(w("192.168.2.118:10000").is_none());
        assert!(w("udp://10.0.0.2:9000").is_none());
        assert!(w("auto").is_none());
    }

    use super::*;
    use crate::esp::fixture::synthetic_elf;

    #[test]
    fn default_firmware_is_the_installed_build_then_the_clones() {
        let root = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let places = |c: PicowChip| {
            vec![
                data.path().join(c.as_str()).join("picow-fw.elf"),
                fw_build_path(root.path(), c),
            ]
        };
        let err = firmware_candidates_in(None, None, &places)
            .unwrap_err()
            .to_string();
        // Without --chip the PicoW's chip is named, with Espressif's toolchain.
        assert!(err.contains("no picow firmware found"), "{err}");
        assert!(err.contains("espup install"), "{err}");
        assert!(
            err.contains("cargo xtask fw build --chip esp32s3 --release"),
            "{err}"
        );
        assert!(err.contains(&data.path().display().to_string()), "{err}");
        let err = firmware_candidates_in(None, Some(PicowChip::Esp32c6), &places).unwrap_err();
        assert_eq!(crate::exit::classify(&err), Exit::Usage);
        let err = err.to_string();
        assert!(err.contains("esp32c6"), "{err}");
        assert!(
            err.contains("cargo xtask fw build --chip esp32c6 --release"),
            "{err}"
        );
        for chip in [PicowChip::Esp32c3, PicowChip::Esp32c6] {
            let p = fw_build_path(root.path(), chip);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, synthetic_elf(Some(chip.as_str()), 100)).unwrap();
        }
        let all = firmware_candidates_in(None, None, &places).unwrap();
        let chips: Vec<_> = all.iter().map(|f| f.chip).collect();
        assert_eq!(chips, [PicowChip::Esp32c3, PicowChip::Esp32c6]);
        let one = firmware_candidates_in(None, Some(PicowChip::Esp32c6), &places).unwrap();
        assert_eq!(one.len(), 1);
        assert!(one[0]
            .path
            .ends_with("target/picow-fw/esp32c6/picow-fw.elf"));
        // An installed firmware comes before the clone's.
        let installed = places(PicowChip::Esp32c6).remove(0);
        std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
        std::fs::write(&installed, synthetic_elf(Some("esp32c6"), 100)).unwrap();
        let one = firmware_candidates_in(None, Some(PicowChip::Esp32c6), &places).unwrap();
        assert_eq!(one[0].path, installed);
        // An explicit path wins, and is checked against --chip.
        let p = fw_build_path(root.path(), PicowChip::Esp32c3);
        let err = firmware_candidates_in(Some(&p), Some(PicowChip::Esp32s3), &places)
            .unwrap_err()
            .to_string();
        assert!(err.contains("built for esp32c3"), "{err}");
    }

    #[test]
    fn monitor_goes_on_with_the_port_and_the_elf() {
        let m = monitor_args("/dev/ttyACM0", Some(Path::new("/fw/picow-fw.elf"))).unwrap();
        assert_eq!(m.port.as_deref(), Some("/dev/ttyACM0"));
        assert_eq!(m.elf.as_deref(), Some(Path::new("/fw/picow-fw.elf")));
    }
}
