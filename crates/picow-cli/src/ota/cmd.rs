//! `picow flash --ota BOARD`: the output of an update over Wi-Fi (a
//! progress bar, plain lines, or `--json` events) around
//! [`super::update::run`].

use std::io::IsTerminal;
use std::time::Instant;

use std::io::Write as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use picow_protocol::ota::wire::QueryInfo;
use serde::Serialize;

use super::update::{self, BoardAddr, FirmwareFile, Outcome, Request, Step, UpdateError, What};
use crate::cli::GlobalArgs;
use crate::cmd::flash::{firmware_candidates, workspace_root, FlashArgs};
use crate::esp::progress::Mode;
use crate::exit::{Exit, UsageError};

/// How a board's image is described to a person.
pub fn describe(i: &QueryInfo) -> String {
    let state = match i.state {
        Some(0) => "new",
        Some(1) => "on trial",
        Some(2) => "confirmed",
        Some(0xFF) | None => "no trial state",
        Some(_) => "unknown state",
    };
    let name = if i.project.is_empty() {
        "an app"
    } else {
        i.project.as_str()
    };
    match i.slot {
        Some(s) => format!("{name} {} from ota_{s} ({state})", i.version),
        None => format!("{name} {} ({state})", i.version),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What a board runs, in `--json`.
#[derive(Debug, Serialize)]
struct Image {
    project: String,
    version: String,
    slot: Option<u8>,
    /// otadata state of the running image (0 new, 1 on trial, 2 confirmed).
    state: Option<u8>,
    image_sha256: String,
    image_size: u32,
    /// Whether this query confirmed an image on trial.
    confirmed: bool,
}

fn image(i: &QueryInfo) -> Image {
    Image {
        project: i.project.to_string(),
        version: i.version.to_string(),
        slot: i.slot,
        state: i.state,
        image_sha256: hex(&i.sha256),
        image_size: i.image_len,
        confirmed: i.confirmed,
    }
}

/// Bytes on the wire, both ways.
#[derive(Debug, Serialize)]
struct Bytes {
    sent: u64,
    received: u64,
}

/// Everything `picow flash --ota --json` reports, one object per line with
/// the event's name as `"event"` (`docs/ota.md`).
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[allow(clippy::large_enum_variant)] // one at a time, printed at once
enum OtaEvent<'a> {
    Found {
        board: &'a str,
        addrs: Vec<String>,
    },
    Connected {
        board: &'a str,
        addr: String,
        mac: Option<&'a str>,
        picow: bool,
    },
    Running(Image),
    Upload {
        image_size: u64,
        size: u64,
        compressed: bool,
    },
    Progress {
        bytes: u64,
        size: u64,
    },
    Uploaded {
        secs: f64,
    },
    Waiting,
    Done {
        outcome: &'static str,
        board: &'a str,
        mac: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        running: Option<Image>,
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<Image>,
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<Image>,
        secs: f64,
        bytes: Bytes,
    },
    Failed {
        board: &'a str,
        error: &'a str,
    },
}

fn emit(e: &OtaEvent<'_>) {
    let mut out = std::io::stdout().lock();
    if serde_json::to_writer(&mut out, e).is_ok() {
        let _ = writeln!(out);
    }
    let _ = out.flush();
}

/// The candidates for `--firmware` (ELF or app image), else the last
/// firmware builds of each chip.
fn firmware(args: &FlashArgs) -> color_eyre::Result<Vec<FirmwareFile>> {
    if let Some(p) = &args.firmware {
        return FirmwareFile::load(p, args.chip)
            .map(|f| vec![f])
            .map_err(|e| UsageError(e.to_string()).into());
    }
    let root = workspace_root();
    Ok(firmware_candidates(None, args.chip, root.as_deref())?
        .into_iter()
        .map(FirmwareFile::Elf)
        .collect())
}

/// Runs `picow flash --ota BOARD`.
pub fn run(args: &FlashArgs, board: &str, global: &GlobalArgs) -> color_eyre::Result<Exit> {
    let started = Instant::now();
    // Everything that can be checked before connecting.
    let board = BoardAddr::parse(board).map_err(|e| UsageError(e.to_string()))?;
    let password = args.given_ota_password()?;
    let what = if args.config_only {
        What::Config(Box::new(args.device_config()?))
    } else {
        What::Firmware(firmware(args)?)
    };
    let mode = if global.json {
        Mode::Json
    } else if global.quiet {
        Mode::Quiet
    } else {
        Mode::Bars
    };
    let say = |msg: &str| {
        if mode == Mode::Bars {
            eprintln!("{msg}");
        }
    };
    let req = Request {
        board: board.clone(),
        what,
        password,
        force: args.force,
        wait_back: args.wait,
        no_compress: args.no_compress,
    };
    let mut bar: Option<ProgressBar> = None;
    let mut events = |step: &Step| {
        if mode == Mode::Json {
            emit(&match step {
                Step::Found { addrs } => OtaEvent::Found {
                    board: &board.shown,
                    addrs: addrs.iter().map(|a| a.to_string()).collect(),
                },
                Step::Connected { addr, mac } => OtaEvent::Connected {
                    board: &board.shown,
                    addr: addr.to_string(),
                    mac: mac.as_deref(),
                    picow: mac.is_some(),
                },
                Step::Running(i) => OtaEvent::Running(image(i)),
                Step::Upload {
                    image,
                    size,
                    compressed,
                } => OtaEvent::Upload {
                    image_size: *image,
                    size: *size,
                    compressed: *compressed,
                },
                Step::Progress { done, size } => OtaEvent::Progress {
                    bytes: *done,
                    size: *size,
                },
                Step::Uploaded { secs } => OtaEvent::Uploaded { secs: *secs },
                Step::Waiting => OtaEvent::Waiting,
            });
            return;
        }
        if mode != Mode::Bars {
            return;
        }
        match step {
            Step::Found { addrs } => say(&format!(
                "{}: found on the LAN (DNS-SD) at {}",
                board.shown,
                addrs
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Step::Connected { addr, mac } => say(&match mac {
                Some(m) => format!("{}: picow board {m} at {addr}", board.shown),
                None => format!(
                    "{}: an ESPHome OTA device at {addr} (not a picow board)",
                    board.shown
                ),
            }),
            Step::Running(i) => say(&format!("  runs {}", describe(i))),
            Step::Upload {
                image,
                size,
                compressed,
            } => {
                say(&if *compressed {
                    format!("  sending {image} bytes as {size} (gzip)")
                } else {
                    format!("  sending {image} bytes")
                });
                let b = ProgressBar::with_draw_target(
                    Some(*size),
                    if std::io::stderr().is_terminal() {
                        ProgressDrawTarget::stderr()
                    } else {
                        ProgressDrawTarget::hidden()
                    },
                );
                if let Ok(style) = ProgressStyle::with_template(
                    "{prefix:>10} {bar:30} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12}",
                ) {
                    b.set_style(style);
                }
                b.set_prefix("over Wi-Fi");
                bar = Some(b);
            }
            Step::Progress { done, .. } => {
                if let Some(b) = &bar {
                    b.set_position(*done);
                }
            }
            Step::Uploaded { secs } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                say(&format!(
                    "  sent in {secs:.1} s; the board verified the image and reboots into it"
                ))
            }
            Step::Waiting => say("  waiting for the board to come back…"),
        }
    };
    let done = match update::run(&req, &mut events) {
        Ok(d) => d,
        Err(UpdateError::Input(m)) => return Err(UsageError(m).into()),
        Err(UpdateError::Failed(m)) => {
            if mode == Mode::Json {
                emit(&OtaEvent::Failed {
                    board: &req.board.shown,
                    error: &m,
                });
            }
            return Err(color_eyre::eyre::eyre!(m));
        }
        Err(UpdateError::Said(msg)) => {
            if mode == Mode::Json {
                emit(&OtaEvent::Failed {
                    board: &req.board.shown,
                    error: &msg.to_string(),
                });
            }
            return Err(crate::exit::HumanError::failure(msg).into());
        }
    };
    let secs = started.elapsed().as_secs_f64();
    if mode == Mode::Json {
        let (outcome, running, before, after) = match &done.outcome {
            Outcome::Unchanged(i) => ("unchanged", Some(image(i)), None, None),
            Outcome::Updated { before, after } => (
                "updated",
                None,
                before.as_deref().map(image),
                after.as_deref().map(image),
            ),
            Outcome::ConfigWritten { back } => ("config", None, None, back.as_deref().map(image)),
        };
        emit(&OtaEvent::Done {
            outcome,
            board: &req.board.shown,
            mac: done.mac.as_deref(),
            running,
            before,
            after,
            secs,
            bytes: Bytes {
                sent: done.traffic.sent,
                received: done.traffic.received,
            },
        });
        return Ok(Exit::Success);
    }
    say(&match &done.outcome {
        Outcome::Unchanged(i) => format!(
            "the board already runs this image ({}): nothing sent (--force sends it anyway)",
            describe(i)
        ),
        Outcome::Updated { after: Some(a), .. } => {
            format!("done in {secs:.1} s: the board runs {}", describe(a))
        }
        Outcome::Updated { after: None, .. } => {
            format!("done in {secs:.1} s: the device accepted the image and reboots into it")
        }
        Outcome::ConfigWritten { back: Some(_) } => {
            format!("done in {secs:.1} s: new settings written; the board rebooted with them")
        }
        Outcome::ConfigWritten { back: None } => format!(
            "done in {secs:.1} s: new settings written; the board rebooted with them and did not \
             answer here again (on another network now?)"
        ),
    });
    Ok(Exit::Success)
}
