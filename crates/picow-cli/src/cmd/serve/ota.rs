//! What each PicoW's board runs, and updates over Wi-Fi from serve
//! (`/update ID [FIRMWARE]`, `--update FIRMWARE`), with the code of
//! `picow flash --ota` ([`crate::ota::update`]).
//!
//! [`Updater`] is an observer beside the outputs. When a client greets as a
//! PicoW it asks the board's OTA listener (the client's address, port
//! `--ota-port`) what it runs, on a thread of its own, and the answer comes
//! back to the engine as a `firmware` event; a board that does not answer
//! (the vendor's MicroPython, no password known) shows no version, and only
//! the debug log says why. An `update` event `started` (the hub checked the
//! client: `/update`, or `--update` for a board that runs another image)
//! starts an update on a thread; its steps and its end come back as
//! `update` events. serve goes on meanwhile; the board reconnects after its
//! reboot as a new client, and is asked again.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use picow_protocol::ota::wire::QueryInfo;
use picow_protocol::ota::OtaPassword;
use picow_serve::{ClientId, Control, Event, Observer, UpdateState};
use tokio::sync::mpsc;

use crate::ota::update::{
    self, BoardAddr, FirmwareFile, Outcome, Request, Step, UpdateError, What,
};

/// How serve reaches the boards' OTA listeners.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--ota-port`.
    pub port: u16,
    /// `--ota-password` or `PICOW_OTA_PASSWORD`; else the one kept per MAC.
    pub password: Option<OtaPassword>,
    /// `--update FIRMWARE`, loaded and checked at start.
    pub update: Option<Arc<FirmwareFile>>,
    /// How long an update waits for the board to come back.
    pub wait_back: Duration,
}

/// How many times a query is tried (the board takes one OTA client at a
/// time: right after an update, the updater's own check may hold it).
const QUERY_TRIES: u32 = 3;

/// The observer that asks boards what they run and runs updates.
#[derive(Debug)]
pub struct Updater {
    settings: Arc<Settings>,
    ctl: mpsc::Sender<Control>,
    peers: HashMap<ClientId, SocketAddr>,
    shared: Arc<Shared>,
}

/// What the updater's threads share.
#[derive(Debug, Default)]
struct Shared {
    /// Boards (MAC, else address) `--update` has been started for: once each.
    attempted: Mutex<HashSet<String>>,
    /// Updates that failed.
    failed: AtomicU64,
}

/// Counts the updates that failed, for serve's exit code.
#[derive(Debug, Clone)]
pub struct Failures(Arc<Shared>);

impl Failures {
    /// Updates that failed so far.
    pub fn count(&self) -> u64 {
        self.0.failed.load(Ordering::Relaxed)
    }
}

impl Updater {
    /// An updater that reports to the engine through `ctl`.
    pub fn new(settings: Settings, ctl: mpsc::Sender<Control>) -> (Updater, Failures) {
        let shared = Arc::new(Shared::default());
        (
            Updater {
                settings: Arc::new(settings),
                ctl,
                peers: HashMap::new(),
                shared: shared.clone(),
            },
            Failures(shared),
        )
    }

    fn board(&self, id: ClientId) -> Option<BoardAddr> {
        let peer = self.peers.get(&id)?;
        Some(board_at(id, *peer, self.settings.port))
    }
}

/// The OTA listener of client `id` at `peer`.
pub fn board_at(id: ClientId, peer: SocketAddr, port: u16) -> BoardAddr {
    BoardAddr {
        shown: format!("#{id}"),
        addrs: vec![SocketAddr::new(peer.ip(), port)],
        lookup: None,
    }
}

/// The `firmware` event for what a board runs.
pub fn firmware_event(id: ClientId, info: &QueryInfo) -> Event {
    Event::Firmware {
        id,
        version: info.version.to_string(),
        project: info.project.to_string(),
        slot: info.slot,
        chip: update::chip_name(info.chip_id).to_string(),
    }
}

/// Whether `--update` updates a board that runs `running`, given whether
/// it was tried for this board already.
pub fn wants_update(fw: &FirmwareFile, running: &QueryInfo, tried: bool) -> bool {
    !tried && !update::runs(fw, running)
}

/// The `update` event that ends an update.
pub fn end_event(
    id: ClientId,
    firmware: Option<String>,
    result: &Result<update::Done, UpdateError>,
) -> Event {
    let (state, version, error) = match result {
        Ok(d) => match &d.outcome {
            Outcome::Unchanged(i) => (UpdateState::Unchanged, Some(i.version.to_string()), None),
            Outcome::Updated { after, .. } => (
                UpdateState::Done,
                after.as_ref().map(|a| a.version.to_string()),
                None,
            ),
            Outcome::ConfigWritten { .. } => (UpdateState::Done, None, None),
        },
        Err(e) => (UpdateState::Failed, None, Some(e.to_string())),
    };
    Event::Update {
        id,
        state,
        firmware,
        version,
        error,
    }
}

fn report(ctl: &mpsc::Sender<Control>, e: Event) {
    let _ = ctl.blocking_send(Control::Report(Box::new(e)));
}

/// Asks client `id`'s board what it runs; reports it; with `--update`,
/// starts the update of a board that runs another image.
fn ask(
    settings: &Settings,
    shared: &Shared,
    ctl: &mpsc::Sender<Control>,
    id: ClientId,
    board: BoardAddr,
) {
    let mut tries = 0;
    let (info, mac) = loop {
        tries += 1;
        match update::query(&board, settings.password.clone()) {
            Ok((Some(info), mac)) => break (info, mac),
            Ok((None, _)) => {
                tracing::debug!("{}: an ESPHome OTA device, not a picow board", board.shown);
                return;
            }
            Err(UpdateError::Input(e)) => {
                tracing::debug!("{}: no firmware version: {e}", board.shown);
                return;
            }
            Err(e) if tries >= QUERY_TRIES => {
                tracing::debug!("{}: no firmware version: {e}", board.shown);
                return;
            }
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    };
    report(ctl, firmware_event(id, &info));
    let Some(fw) = &settings.update else {
        return;
    };
    let key = mac.unwrap_or_else(|| board.addrs[0].ip().to_string());
    let tried = !shared
        .attempted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key);
    if wants_update(fw, &info, tried) {
        let _ = ctl.blocking_send(Control::Update {
            id,
            firmware: Some(fw.path().to_path_buf()),
        });
    }
}

/// The firmware of an update: the file given (the `--update` one already
/// loaded), else the built firmware as `picow flash --ota` finds it.
fn firmware(settings: &Settings, path: Option<&str>) -> Result<Vec<FirmwareFile>, UpdateError> {
    if let Some(p) = path {
        if let Some(fw) = settings
            .update
            .as_deref()
            .filter(|f| f.path().to_str() == Some(p))
        {
            return Ok(vec![fw.clone()]);
        }
        return FirmwareFile::load(&PathBuf::from(p), None).map(|f| vec![f]);
    }
    let root = crate::cmd::flash::workspace_root();
    crate::cmd::flash::firmware_candidates(None, None, root.as_deref())
        .map(|v| v.into_iter().map(FirmwareFile::Elf).collect())
        .map_err(|e| UpdateError::Input(e.to_string()))
}

/// One update of client `id`'s board, start to end.
fn run_update(
    settings: &Settings,
    shared: &Shared,
    ctl: &mpsc::Sender<Control>,
    id: ClientId,
    board: BoardAddr,
    path: Option<String>,
) {
    let result = firmware(settings, path.as_deref()).and_then(|candidates| {
        let req = Request {
            board,
            what: What::Firmware(candidates),
            password: settings.password.clone(),
            force: false,
            wait_back: settings.wait_back,
            no_compress: false,
        };
        update::run(&req, &mut |step| {
            if let Step::Uploaded { .. } = step {
                report(
                    ctl,
                    Event::Update {
                        id,
                        state: UpdateState::Uploaded,
                        firmware: path.clone(),
                        version: None,
                        error: None,
                    },
                );
            }
        })
    });
    if result.is_err() {
        shared.failed.fetch_add(1, Ordering::Relaxed);
    }
    report(ctl, end_event(id, path, &result));
}

impl Observer for Updater {
    fn wants_text(&self) -> bool {
        false
    }

    fn event(&mut self, _at: SystemTime, event: &Event) -> io::Result<()> {
        match event {
            Event::Connected { id, peer } => {
                self.peers.insert(*id, *peer);
            }
            Event::Disconnected { id, .. } => {
                self.peers.remove(id);
            }
            Event::Picow { id, .. } => {
                if let Some(board) = self.board(*id) {
                    let (s, sh, ctl, id) = (
                        self.settings.clone(),
                        self.shared.clone(),
                        self.ctl.clone(),
                        *id,
                    );
                    std::thread::spawn(move || ask(&s, &sh, &ctl, id, board));
                }
            }
            Event::Update {
                id,
                state: UpdateState::Started,
                firmware,
                ..
            } => {
                let (s, sh, ctl, id, path) = (
                    self.settings.clone(),
                    self.shared.clone(),
                    self.ctl.clone(),
                    *id,
                    firmware.clone(),
                );
                match self.board(id) {
                    Some(board) => {
                        std::thread::spawn(move || run_update(&s, &sh, &ctl, id, board, path));
                    }
                    None => {
                        sh.failed.fetch_add(1, Ordering::Relaxed);
                        let e = Event::Update {
                            id,
                            state: UpdateState::Failed,
                            firmware: path,
                            version: None,
                            error: Some(format!("#{id} is gone")),
                        };
                        std::thread::spawn(move || report(&ctl, e));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picow_protocol::ota::image::{build_app_desc, build_image};

    fn image(version: &str) -> FirmwareFile {
        let desc = build_app_desc("picow-fw", version);
        let bytes = build_image(
            5,
            0x4200_0000,
            &[(0x3c00_0020, &desc), (0x4200_0020, b"code")],
        );
        let info = update::check_image(&bytes).unwrap();
        FirmwareFile::Image {
            path: "fw.bin".into(),
            bytes,
            info,
        }
    }

    fn running(fw: &FirmwareFile) -> QueryInfo {
        let FirmwareFile::Image { info, .. } = fw else {
            unreachable!()
        };
        QueryInfo {
            slot: Some(0),
            state: Some(2),
            confirmed: false,
            chip_id: 5,
            image_len: info.len,
            sha256: info.sha256,
            elf_sha256: info.elf_sha256,
            flash_size: 4 << 20,
            version: info.version.clone(),
            project: info.project.clone(),
        }
    }

    #[test]
    fn update_only_boards_running_another_image_and_once() {
        let a = image("1.0.0");
        let b = image("2.0.0");
        assert!(wants_update(&b, &running(&a), false));
        assert!(!wants_update(&b, &running(&a), true), "once per board");
        assert!(!wants_update(&b, &running(&b), false), "already runs it");
    }

    #[test]
    fn the_firmware_event_names_version_slot_and_chip() {
        let i = running(&image("1.0.0"));
        let e = firmware_event(3, &i);
        let json = serde_json::to_string(&picow_serve::event::Stamped {
            at: SystemTime::UNIX_EPOCH,
            event: &e,
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"event":"firmware","t":"1970-01-01T00:00:00.000Z","id":3,"version":"1.0.0","project":"picow-fw","slot":0,"chip":"esp32c3"}"#
        );
    }

    #[test]
    fn an_update_ends_as_done_unchanged_or_failed() {
        let i = running(&image("2.0.0"));
        let done = |outcome| -> Result<update::Done, UpdateError> {
            Ok(update::Done {
                outcome,
                traffic: Default::default(),
                mac: None,
            })
        };
        let e = end_event(
            1,
            Some("b.bin".into()),
            &done(Outcome::Updated {
                before: None,
                after: Some(Box::new(i.clone())),
            }),
        );
        assert!(
            matches!(e, Event::Update { state: UpdateState::Done, version: Some(ref v), .. } if v == "2.0.0")
        );
        let e = end_event(1, None, &done(Outcome::Unchanged(Box::new(i))));
        assert!(matches!(
            e,
            Event::Update {
                state: UpdateState::Unchanged,
                ..
            }
        ));
        let e = end_event(1, None, &Err(UpdateError::Failed("#1: refused".into())));
        assert!(
            matches!(e, Event::Update { state: UpdateState::Failed, error: Some(ref m), .. } if m == "#1: refused")
        );
    }
}
