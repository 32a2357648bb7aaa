//! One update over Wi-Fi, start to end: what `picow flash --ota` and
//! `picow serve`'s `/update` do.
//!
//! 1. Ask the board what it runs (a picow board answers a query; the query
//!    also confirms an image on trial), with the password given or the one
//!    picow keeps for the board's MAC.
//! 2. Refuse, with nothing sent, a firmware for another chip; skip an image
//!    the board already runs.
//! 3. Upload (gzip when the board takes it), each 8 KiB acknowledged.
//! 4. Wait for the board to come back and ask again: it must run the new
//!    image (the query confirms its trial).
//!
//! An ESPHome device gets step 3 only.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use espflash::target::XtalFrequency;
use picow_protocol::ota::image::{ImageCheck, ImageInfo, Status};
use picow_protocol::ota::wire::{ota_type, QueryInfo, PORT};
use picow_protocol::ota::OtaPassword;
use picow_protocol::DeviceConfig;
use sha2::{Digest, Sha256};

use super::client::{gzip, Compress, Connection, OtaError, Traffic};
use super::passwords;
use crate::esp::image::{self, PicowChip};

/// Why an update did not happen. `Input` is refused before anything was
/// sent (exit code 2); `Failed` means the board refused or the update
/// failed, and it still runs its previous image (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Bad input: nothing was sent.
    #[error("{0}")]
    Input(String),
    /// Refused or failed.
    #[error("{0}")]
    Failed(String),
    /// Failed, with a message that has a translation (English `Display`).
    #[error("{0}")]
    Said(picow_i18n::Msg),
}

/// How long a board name is looked for by DNS-SD (the lookup ends as soon
/// as the board answers; a board answers a question within a second).
pub const LOOKUP_WAIT: Duration = Duration::from_secs(5);

/// A board on the LAN: where to connect, and how the user named it.
#[derive(Debug, Clone)]
pub struct BoardAddr {
    /// As given.
    pub shown: String,
    /// The addresses it resolves to, in order (none yet for a name that
    /// is looked up by DNS-SD: see [`BoardAddr::resolve`]).
    pub addrs: Vec<SocketAddr>,
    /// A name to look up by DNS-SD, not yet looked up.
    pub lookup: Option<Lookup>,
}

/// A board name to find on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The board's name or host label (`desk` for `desk.local`).
    pub name: String,
    /// Given as `NAME.local`: the system's resolver is asked too when no
    /// picow board of that name answers (an ESPHome device).
    pub dot_local: bool,
    /// A port given with the name; else the one the board advertises.
    pub port: Option<u16>,
}

impl BoardAddr {
    /// `ADDRESS`, `ADDRESS:PORT`, `[IPv6]:PORT`, a board name or
    /// `NAME.local` (`[:PORT]`; found by DNS-SD when [`BoardAddr::resolve`]
    /// is called), or another DNS name with a dot (resolved here); the port
    /// defaults to 3232 (or, for a board found by DNS-SD, the one it
    /// advertises).
    pub fn parse(s: &str) -> Result<BoardAddr, UpdateError> {
        let t = s.trim();
        let bad = |why: &str| UpdateError::Input(format!("invalid --ota {t:?}: {why}"));
        if t.is_empty() {
            return Err(bad(
                "give the board's name (picow probe --net lists them), NAME.local or its address, \
                 e.g. --ota picow-a1b2c3",
            ));
        }
        if let Ok(sa) = t.parse::<SocketAddr>() {
            return Ok(BoardAddr {
                shown: t.into(),
                addrs: vec![sa],
                lookup: None,
            });
        }
        if let Ok(ip) = t.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
            return Ok(BoardAddr {
                shown: t.into(),
                addrs: vec![SocketAddr::new(ip, PORT)],
                lookup: None,
            });
        }
        let (host, port) = match t.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => {
                let port: u16 = p
                    .parse()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| bad("the port must be 1 to 65535"))?;
                (h, Some(port))
            }
            _ => (t, None),
        };
        let label = host
            .strip_suffix(".local")
            .or_else(|| host.strip_suffix(".local."));
        if let Some(name) = label.or((!host.contains('.')).then_some(host)) {
            if name.is_empty()
                || name.len() > picow_protocol::discovery::LABEL_MAX
                || name.contains(['.', ' ', '/', '\\'])
                || name.chars().any(|c| c.is_control())
            {
                return Err(bad(
                    "a board name is one DNS label (letters, digits, -), at most 63 bytes, as `picow probe --net` lists it",
                ));
            }
            return Ok(BoardAddr {
                shown: t.into(),
                addrs: Vec::new(),
                lookup: Some(Lookup {
                    name: name.into(),
                    dot_local: label.is_some(),
                    port,
                }),
            });
        }
        let port = port.unwrap_or(PORT);
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| {
                UpdateError::Input(format!(
                    "invalid --ota {t:?}: {host} does not resolve ({e}); check the name, or give the board's address"
                ))
            })?
            .collect();
        if addrs.is_empty() {
            return Err(bad("the name resolves to no address"));
        }
        Ok(BoardAddr {
            shown: t.into(),
            addrs,
            lookup: None,
        })
    }

    /// Finds a board given by name: the picow board of that name (or host
    /// label) that answers on the LAN within `wait`, by DNS-SD
    /// (`_picow-board._udp`, as `picow probe --net`), at the port it
    /// advertises; for `NAME.local` nobody answers for, the system's
    /// resolver (an ESPHome device). An address is returned as it is.
    pub fn resolve(&self, wait: Duration) -> Result<BoardAddr, UpdateError> {
        let Some(l) = &self.lookup else {
            return Ok(self.clone());
        };
        let found = crate::cmd::probe::find_board(wait, &|b| b.is_named(&l.name)).map_err(|e| {
            UpdateError::Failed(format!(
                "{}: cannot look for the board on the LAN ({e}); give its address instead. Nothing was sent",
                self.shown
            ))
        })?;
        let mut addrs: Vec<SocketAddr> = Vec::new();
        if let Some(b) = &found {
            let port = l
                .port
                .unwrap_or(if b.ota_port == 0 { PORT } else { b.ota_port });
            addrs.extend(
                b.addresses
                    .iter()
                    .map(|&ip| SocketAddr::new(ip.into(), port)),
            );
        } else if l.dot_local {
            if let Ok(it) = (format!("{}.local", l.name), l.port.unwrap_or(PORT)).to_socket_addrs()
            {
                addrs.extend(it);
            }
        }
        if addrs.is_empty() {
            return Err(UpdateError::Failed(format!(
                "{}: no board of that name answered on the LAN within {:.0} s (picow probe --net lists \
                 those that do): is it on, joined to this network, and running picow-fw? Some networks \
                 block multicast: then give its address (its console says it: `@picow wifi-joined ip=...`). \
                 Nothing was sent",
                self.shown,
                wait.as_secs_f64()
            )));
        }
        Ok(BoardAddr {
            shown: self.shown.clone(),
            addrs,
            lookup: None,
        })
    }
}

/// A firmware to install: an ELF (made into an app image for the board) or
/// an app image file (`.bin`, as ESPHome builds them).
#[derive(Debug, Clone)]
pub enum FirmwareFile {
    /// An ELF for a picow chip.
    Elf(crate::cmd::flash::Firmware),
    /// A ready app image.
    Image {
        /// Where it was read from.
        path: PathBuf,
        /// Its bytes.
        bytes: Vec<u8>,
        /// What it is (checked).
        info: ImageInfo,
    },
}

impl FirmwareFile {
    /// Reads `path`: an ELF, or an app image (first byte `0xE9`), which is
    /// checked whole (checksum, SHA-256) before anything is sent.
    pub fn load(path: &Path, chip: Option<PicowChip>) -> Result<FirmwareFile, UpdateError> {
        // Bounded like a USB flash's --firmware: a device, a FIFO or a huge
        // file is refused before it is read.
        let bytes = crate::files::read_limited(path, crate::files::MAX_ELF).map_err(|e| {
            UpdateError::Input(format!(
                "invalid --firmware {}: {e}; give the path of a firmware ELF or an app image (at most {} MiB)",
                path.display(),
                crate::files::MAX_ELF >> 20
            ))
        })?;
        if bytes.first() == Some(&0xE9) {
            let info = check_image(&bytes).map_err(|why| {
                UpdateError::Input(format!(
                    "invalid --firmware {}: {why}; give a firmware ELF or an ESP app image",
                    path.display()
                ))
            })?;
            return Ok(FirmwareFile::Image {
                path: path.into(),
                bytes,
                info,
            });
        }
        crate::cmd::flash::load_firmware(path, chip)
            .map(FirmwareFile::Elf)
            .map_err(|e| UpdateError::Input(e.0))
    }

    /// The chip id its image carries.
    pub fn chip_id(&self) -> u16 {
        match self {
            FirmwareFile::Elf(f) => f.chip.image_id(),
            FirmwareFile::Image { info, .. } => info.header.chip_id,
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        match self {
            FirmwareFile::Elf(f) => &f.path,
            FirmwareFile::Image { path, .. } => path,
        }
    }

    /// The app image for a board with `flash_size` bytes of flash.
    pub fn image(&self, flash_size: u32) -> Result<Vec<u8>, UpdateError> {
        match self {
            FirmwareFile::Image { bytes, .. } => Ok(bytes.clone()),
            FirmwareFile::Elf(f) => {
                let size = if flash_size >= 4 << 20 {
                    flash_size
                } else {
                    f.chip.default_flash_size()
                };
                image::app_image(
                    &f.path.display().to_string(),
                    &f.elf,
                    f.chip,
                    size,
                    XtalFrequency::_40Mhz,
                )
                .map_err(|e| UpdateError::Input(e.to_string()))
            }
        }
    }

    /// The SHA-256 of the ELF (what the app descriptor records), for an ELF.
    pub fn elf_sha256(&self) -> Option<[u8; 32]> {
        match self {
            FirmwareFile::Elf(f) => Some(Sha256::digest(&f.elf).into()),
            FirmwareFile::Image { .. } => None,
        }
    }
}

/// Checks a whole app image.
pub fn check_image(bytes: &[u8]) -> Result<ImageInfo, String> {
    let mut c = ImageCheck::new(u32::MAX);
    match c.feed(bytes) {
        Ok(Status::Done { info, used }) if used == bytes.len() => Ok(info),
        Ok(Status::Done { info, .. }) => Ok(info),
        Ok(Status::NeedMore) => Err(c
            .finish()
            .err()
            .map_or("truncated".into(), |e| e.to_string())),
        Err(e) => Err(e.to_string()),
    }
}

/// What to send.
#[derive(Debug, Clone)]
pub enum What {
    /// A firmware: one of these candidates (for the board's chip).
    Firmware(Vec<FirmwareFile>),
    /// Settings only.
    Config(Box<DeviceConfig>),
}

/// One update.
#[derive(Debug, Clone)]
pub struct Request {
    /// The board.
    pub board: BoardAddr,
    /// What to send.
    pub what: What,
    /// `--ota-password` or the environment; else the stored one.
    pub password: Option<OtaPassword>,
    /// Send an image even when the board runs it already.
    pub force: bool,
    /// How long to wait for the board to come back after a reboot.
    pub wait_back: Duration,
    /// Upload without compression even when the board takes gzip.
    pub no_compress: bool,
}

/// What happens, for progress bars and `--json`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A board name was found on the LAN (DNS-SD) at these addresses.
    Found {
        /// Where it is.
        addrs: Vec<SocketAddr>,
    },
    /// Connected and said hello.
    Connected {
        /// Where.
        addr: SocketAddr,
        /// The board's MAC (picow boards).
        mac: Option<String>,
    },
    /// What the board runs.
    Running(Box<QueryInfo>),
    /// The upload starts.
    Upload {
        /// Bytes of the image (or record).
        image: u64,
        /// Bytes on the wire (compressed).
        size: u64,
        /// Whether gzip-compressed.
        compressed: bool,
    },
    /// Bytes acknowledged by the board.
    Progress {
        /// So far.
        done: u64,
        /// Of.
        size: u64,
    },
    /// All sent and verified by the board; it reboots.
    Uploaded {
        /// Seconds the upload took.
        secs: f64,
    },
    /// Waiting for the board to come back.
    Waiting,
}

/// How an update ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The board runs the new image (`after`), confirmed.
    Updated {
        /// What ran before (picow boards).
        before: Option<Box<QueryInfo>>,
        /// What runs now (picow boards).
        after: Option<Box<QueryInfo>>,
    },
    /// The board already runs this image: nothing sent.
    Unchanged(Box<QueryInfo>),
    /// The settings were written; `back` is what the board says after its
    /// reboot, if it came back at the same address.
    ConfigWritten {
        /// After the reboot.
        back: Option<Box<QueryInfo>>,
    },
}

/// The result, with the bytes on the wire.
#[derive(Debug, Clone)]
pub struct Done {
    /// How it ended.
    pub outcome: Outcome,
    /// Bytes both ways, all connections.
    pub traffic: Traffic,
    /// The board's MAC, if it said it.
    pub mac: Option<String>,
}

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn add(t: &mut Traffic, more: Traffic) {
    t.sent += more.sent;
    t.received += more.received;
}

fn failed(board: &str, e: OtaError) -> UpdateError {
    let hint = match &e {
        OtaError::Connect { addr, source } => {
            return UpdateError::Said(picow_i18n::msg!(
                "ota-unreachable",
                board = board,
                addr = addr.to_string(),
                reason = source.to_string()
            ))
        }
        OtaError::NoPassword => "; give it one by flashing it once over USB (picow flash --keep-config)".into(),
        OtaError::WrongPassword => "; give the password set when it was flashed over USB (--ota-password or PICOW_OTA_PASSWORD); the board waits longer after each wrong one".into(),
        _ => String::new(),
    };
    UpdateError::Failed(format!(
        "{board}: {e}{hint}; the board still runs its previous image"
    ))
}

/// Opens a connection to the first address that answers.
fn open(board: &BoardAddr, compress: Compress) -> Result<(Connection, SocketAddr), OtaError> {
    let mut last = None;
    for &addr in &board.addrs {
        match Connection::open(addr, compress, true) {
            Ok(c) => return Ok((c, addr)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(OtaError::Closed {
        during: "before connecting",
    }))
}

/// The password to use with a board that said `mac`.
fn password_for(req: &Request, mac: Option<&[u8; 6]>) -> Result<Option<OtaPassword>, UpdateError> {
    if let Some(p) = &req.password {
        return Ok(Some(p.clone()));
    }
    let Some(mac) = mac else {
        // An ESPHome device: it may have no password at all.
        return Ok(None);
    };
    let mac = mac_text(mac);
    match passwords::load(&mac) {
        Ok(Some(p)) => Ok(Some(p)),
        Ok(None) => Err(UpdateError::Input(format!(
            "no OTA password for the board {mac} ({}): give --ota-password (or PICOW_OTA_PASSWORD), \
             the one set when it was flashed over USB; picow keeps the ones it made up in {}. Nothing was sent",
            req.board.shown,
            passwords::config_dir()
                .map(|d| d.join("ota-passwords").display().to_string())
                .unwrap_or_else(|| "your config directory".into())
        ))),
        Err(e) => Err(UpdateError::Input(format!("{e}. Nothing was sent"))),
    }
}

/// What the first connection found out.
struct Asked {
    /// The query's answer (picow boards).
    info: Option<QueryInfo>,
    /// The authenticated connection, kept for the upload (ESPHome devices).
    esphome: Option<Connection>,
    /// The board's MAC (picow boards).
    mac: Option<[u8; 6]>,
    /// The password that worked.
    password: String,
}

/// Connects, authenticates and queries; for an ESPHome device the
/// connection is kept for the upload instead.
fn ask(
    req: &Request,
    traffic: &mut Traffic,
    events: &mut dyn FnMut(&Step),
) -> Result<Asked, UpdateError> {
    let shown = &req.board.shown;
    let compress = if req.no_compress {
        Compress::Never
    } else {
        Compress::IfOffered
    };
    let (mut c, addr) = open(&req.board, compress).map_err(|e| failed(shown, e))?;
    let mac = c.hello.mac;
    events(&Step::Connected {
        addr,
        mac: mac.as_ref().map(mac_text),
    });
    let password = password_for(req, mac.as_ref())?;
    let pw = password
        .as_ref()
        .map_or(String::new(), |p| p.expose().to_string());
    c.authenticate(&pw).map_err(|e| match (&e, &password) {
        (OtaError::WrongPassword, None) => UpdateError::Input(format!(
            "{shown}: the board asks for an OTA password: give --ota-password (or PICOW_OTA_PASSWORD). Nothing was sent"
        )),
        _ => failed(shown, e),
    })?;
    if mac.is_none() {
        add(traffic, c.traffic);
        return Ok(Asked {
            info: None,
            esphome: Some(c),
            mac: None,
            password: pw,
        });
    }
    let (info, t) = c.query().map_err(|e| failed(shown, e))?;
    add(traffic, t);
    events(&Step::Running(Box::new(info.clone())));
    Ok(Asked {
        info: Some(info),
        esphome: None,
        mac,
        password: pw,
    })
}

/// Asks a board what it runs, as the first step of an update does (the
/// same password rules; the query also confirms an image on trial):
/// `Some` for a picow board, `None` for an ESPHome device (no query);
/// and the board's MAC, if it said it.
/// Nothing is sent but the query; it ends within the connection's
/// timeouts.
pub fn query(
    board: &BoardAddr,
    password: Option<OtaPassword>,
) -> Result<(Option<QueryInfo>, Option<String>), UpdateError> {
    let req = Request {
        board: board.clone(),
        what: What::Firmware(Vec::new()),
        password,
        force: false,
        wait_back: Duration::ZERO,
        no_compress: true,
    };
    let mut traffic = Traffic::default();
    let a = ask(&req, &mut traffic, &mut |_| {})?;
    Ok((a.info, a.mac.as_ref().map(mac_text)))
}

/// Whether the board (as `running` says) already runs `fw`: the same ELF
/// (its SHA-256, which the app descriptor records) or the same app image.
pub fn runs(fw: &FirmwareFile, running: &QueryInfo) -> bool {
    match fw {
        FirmwareFile::Elf(_) => fw
            .elf_sha256()
            .is_some_and(|e| e == running.elf_sha256 && e != [0; 32]),
        FirmwareFile::Image { info, .. } => {
            info.sha256 == running.sha256
                || (info.elf_sha256 != [0; 32] && info.elf_sha256 == running.elf_sha256)
        }
    }
}

/// Runs one update. `events` sees each step.
pub fn run(req: &Request, events: &mut dyn FnMut(&Step)) -> Result<Done, UpdateError> {
    let resolved;
    let req = if req.board.lookup.is_some() {
        resolved = Request {
            board: req.board.resolve(LOOKUP_WAIT)?,
            ..req.clone()
        };
        events(&Step::Found {
            addrs: resolved.board.addrs.clone(),
        });
        &resolved
    } else {
        req
    };
    let shown = req.board.shown.clone();
    let mut traffic = Traffic::default();
    let Asked {
        info,
        esphome,
        mac,
        password: pw,
    } = ask(req, &mut traffic, events)?;
    let mac_s = mac.as_ref().map(mac_text);
    let compress = if req.no_compress {
        Compress::Never
    } else {
        Compress::IfOffered
    };
    match &req.what {
        What::Config(cfg) => {
            let Some(before) = info else {
                return Err(UpdateError::Input(format!(
                    "{shown} is not a picow board: --config-only over Wi-Fi needs one. Nothing was sent"
                )));
            };
            let _ = before;
            // The record keeps the password just used: the board stays reachable.
            let password = OtaPassword::new(&pw)
                .map_err(|e| UpdateError::Input(format!("{e}. Nothing was sent")))?;
            let record = cfg
                .as_ref()
                .clone()
                .with_ota_password(Some(password))
                .to_bytes();
            let (mut c, _) = open(&req.board, Compress::Never).map_err(|e| failed(&shown, e))?;
            c.authenticate(&pw).map_err(|e| failed(&shown, e))?;
            events(&Step::Upload {
                image: record.len() as u64,
                size: record.len() as u64,
                compressed: false,
            });
            let t0 = Instant::now();
            let t = c
                .upload(ota_type::PICOW_CONFIG, &record, &mut |done, size| {
                    events(&Step::Progress { done, size })
                })
                .map_err(|e| failed(&shown, e))?;
            add(&mut traffic, t);
            events(&Step::Uploaded {
                secs: t0.elapsed().as_secs_f64(),
            });
            events(&Step::Waiting);
            // The new settings may take it to another network: not an error.
            let back = come_back(req, &pw, &mut traffic, |_| true).ok();
            Ok(Done {
                outcome: Outcome::ConfigWritten {
                    back: back.map(Box::new),
                },
                traffic,
                mac: mac_s,
            })
        }
        What::Firmware(candidates) => {
            let fw = match &info {
                Some(i) => candidates
                    .iter()
                    .find(|f| f.chip_id() == i.chip_id)
                    .ok_or_else(|| {
                        UpdateError::Input(format!(
                            "chip mismatch: {shown} runs an image for chip id {} ({}), but {} {} for {}; \
                             build the firmware for the board's chip. Nothing was sent",
                            i.chip_id,
                            chip_name(i.chip_id),
                            candidates.iter().map(|f| f.path().display().to_string()).collect::<Vec<_>>().join(", "),
                            if candidates.len() == 1 { "is" } else { "are" },
                            candidates.iter().map(|f| chip_name(f.chip_id())).collect::<Vec<_>>().join(", "),
                        ))
                    })?,
                None => match candidates.as_slice() {
                    [one] => one,
                    _ => {
                        return Err(UpdateError::Input(format!(
                            "{shown} is not a picow board, so picow cannot tell its chip: give one --firmware. Nothing was sent"
                        )))
                    }
                },
            };
            // The ELF the board's image was made from (its app descriptor
            // says) is recognised before the image is even built.
            if let Some(i) = &info {
                let same_elf = fw
                    .elf_sha256()
                    .is_some_and(|e| e == i.elf_sha256 && e != [0; 32]);
                if same_elf && !req.force {
                    return Ok(Done {
                        outcome: Outcome::Unchanged(Box::new(i.clone())),
                        traffic,
                        mac: mac_s,
                    });
                }
            }
            let flash_size = info.as_ref().map_or(0, |i| i.flash_size);
            let app = fw.image(flash_size)?;
            let app_info = check_image(&app).map_err(UpdateError::Input)?;
            if let Some(i) = &info {
                if app_info.sha256 == i.sha256 && !req.force {
                    return Ok(Done {
                        outcome: Outcome::Unchanged(Box::new(i.clone())),
                        traffic,
                        mac: mac_s,
                    });
                }
            }
            let mut c = match esphome {
                Some(c) => c,
                None => {
                    let (mut c, _) = open(&req.board, compress).map_err(|e| failed(&shown, e))?;
                    c.authenticate(&pw).map_err(|e| failed(&shown, e))?;
                    c
                }
            };
            let body = if c.hello.compression {
                gzip(&app)
            } else {
                app.clone()
            };
            events(&Step::Upload {
                image: app.len() as u64,
                size: body.len() as u64,
                compressed: c.hello.compression,
            });
            let t0 = Instant::now();
            let before_traffic = c.traffic;
            c.traffic = Traffic::default();
            let t = c
                .upload(ota_type::APP, &body, &mut |done, size| {
                    events(&Step::Progress { done, size })
                })
                .map_err(|e| failed(&shown, e))?;
            add(&mut traffic, before_traffic);
            add(&mut traffic, t);
            events(&Step::Uploaded {
                secs: t0.elapsed().as_secs_f64(),
            });
            if info.is_none() {
                // An ESPHome device: it reboots into the image by itself.
                return Ok(Done {
                    outcome: Outcome::Updated {
                        before: None,
                        after: None,
                    },
                    traffic,
                    mac: mac_s,
                });
            }
            events(&Step::Waiting);
            let want = app_info.sha256;
            let after = come_back(req, &pw, &mut traffic, |i| i.sha256 == want).map_err(|last| {
                UpdateError::Failed(match last {
                    Some(i) => format!(
                        "{shown} came back with its previous image ({} {}): the new one did not start \
                         (the board gave it up); see the board's console (picow monitor)",
                        i.project, i.version
                    ),
                    None => format!(
                        "the image was written to {shown} and activated, but the board did not answer \
                         within {} s after its reboot: it runs the new image on trial and returns to the \
                         previous one by itself unless it greets its server or answers an OTA check \
                         (run the same command again)",
                        req.wait_back.as_secs()
                    ),
                })
            })?;
            Ok(Done {
                outcome: Outcome::Updated {
                    before: info.map(Box::new),
                    after: Some(Box::new(after)),
                },
                traffic,
                mac: mac_s,
            })
        }
    }
}

/// Waits for the board to answer a query again, until `ok` holds for its
/// answer or time runs out: `Err(last answer)` then.
fn come_back(
    req: &Request,
    pw: &str,
    traffic: &mut Traffic,
    ok: impl Fn(&QueryInfo) -> bool,
) -> Result<QueryInfo, Option<Box<QueryInfo>>> {
    let deadline = Instant::now() + req.wait_back;
    let mut last = None;
    // Give the board a moment to go down first.
    std::thread::sleep(Duration::from_millis(200));
    while Instant::now() < deadline {
        let attempt = open(&req.board, Compress::Never).and_then(|(mut c, _)| {
            c.authenticate(pw)?;
            c.query()
        });
        match attempt {
            Ok((info, t)) => {
                add(traffic, t);
                if ok(&info) {
                    return Ok(info);
                }
                last = Some(Box::new(info));
                // It may still be on its way back from a rollback: ask again.
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
    Err(last)
}

/// A chip's name for its image id.
pub fn chip_name(id: u16) -> &'static str {
    PicowChip::ALL
        .into_iter()
        .find(|c| c.image_id() == id)
        .map_or("an unknown chip", |c| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(s: &str) -> Option<Lookup> {
        BoardAddr::parse(s).unwrap().lookup
    }

    #[test]
    fn addresses_are_taken_as_they_are_and_names_are_looked_up_later() {
        let a = BoardAddr::parse("192.0.2.7").unwrap();
        assert_eq!(a.addrs, ["192.0.2.7:3232".parse().unwrap()]);
        assert!(a.lookup.is_none());
        let a = BoardAddr::parse("[2001:db8::1]:4000").unwrap();
        assert_eq!(a.addrs, ["[2001:db8::1]:4000".parse().unwrap()]);
        assert_eq!(
            lookup("desk"),
            Some(Lookup {
                name: "desk".into(),
                dot_local: false,
                port: None
            })
        );
        assert_eq!(
            lookup("desk.local:4000"),
            Some(Lookup {
                name: "desk".into(),
                dot_local: true,
                port: Some(4000)
            })
        );
        for bad in ["", "desk:0", "desk:x", ".local", "a b", &"x".repeat(64)] {
            assert!(
                matches!(BoardAddr::parse(bad), Err(UpdateError::Input(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_address_needs_no_lookup() {
        let a = BoardAddr::parse("127.0.0.1:9").unwrap();
        let r = a.resolve(Duration::ZERO).unwrap();
        assert_eq!(r.addrs, a.addrs);
    }
}
