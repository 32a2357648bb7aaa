//! The virtual board on a real pseudo-terminal: the pty, the stable link,
//! the control socket, the reset/boot state and baud pacing.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::boot::{self, BootOutcome, ConfigState, ResetReason};
use crate::chip::{Chip, Mac};
use crate::command::Dialect;
use crate::control::{BootMode, ControlCommand, HELP};
use crate::firmware::{AppEnv, AppExit, Console, Firmware};
use crate::flash::Flash;
use crate::loader::{Effect, Loader, DEFAULT_BAUD};
use crate::wifi::WifiTable;

/// How the virtual board is set up.
#[derive(Debug)]
pub struct SimOptions {
    /// The chip.
    pub chip: Chip,
    /// The base MAC.
    pub mac: Mac,
    /// The flash (in memory or file-backed).
    pub flash: Flash,
    /// The networks in range.
    pub wifi: WifiTable,
    /// A stable symlink to the pty.
    pub link: Option<PathBuf>,
    /// Where the control socket listens.
    pub control: PathBuf,
    /// Start (and replug) in run mode instead of download mode.
    pub boot: bool,
    /// Pace bytes at the current baud rate.
    pub baud_pacing: bool,
    /// The picow-fw behaviour, when this build has one.
    pub firmware: Option<Arc<dyn Firmware>>,
    /// Multicast for the firmware's mDNS: the address of the host interface
    /// it joins the group on. `None`: the board has no multicast.
    pub multicast: Option<std::net::Ipv4Addr>,
    /// The listener on the host where the firmware takes updates over
    /// Wi-Fi (TCP 3232 on a real board), kept across reboots.
    pub ota_listener: Option<Arc<std::net::TcpListener>>,
}

/// The flash, shared by the loader, the boot checks and the running
/// firmware (which writes updates over Wi-Fi into it).
pub type SharedFlash = Arc<Mutex<Flash>>;

fn lock(flash: &SharedFlash) -> std::sync::MutexGuard<'_, Flash> {
    flash.lock().unwrap_or_else(|e| e.into_inner())
}

/// Something a watcher of the board may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// The pty exists (at start and after a replug).
    Plugged {
        /// Its path.
        pty: PathBuf,
    },
    /// The pty is gone.
    Unplugged,
    /// The board reset into a mode.
    Reset {
        /// The mode.
        mode: BootMode,
    },
    /// A boot check failed; the board halted.
    BootFailed {
        /// What failed.
        reason: String,
    },
    /// An app was verified and started (or, without a firmware behaviour, halted).
    Booted {
        /// The app descriptor's project name.
        app: String,
        /// Whether its behaviour runs.
        running: bool,
        /// The OTA slot it was loaded from (`None`: a factory app).
        slot: Option<u8>,
        /// The app descriptor's version.
        version: Option<String>,
    },
}

/// Errors starting the board.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A pty could not be made.
    #[error("could not create a pseudo-terminal: {0}")]
    Pty(#[source] io::Error),
    /// The link path is taken by something that is not a symlink.
    #[error("--link {0} exists and is not a symlink; choose another path or remove it")]
    LinkTaken(PathBuf),
    /// The link could not be made.
    #[error("could not create the link {path}: {source}")]
    Link {
        /// The link.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Another virtual board answers on the control socket.
    #[error(
        "control socket {0} is in use by another running board; stop it or give another --control"
    )]
    ControlInUse(PathBuf),
    /// The control socket could not be bound.
    #[error("could not listen on the control socket {path}: {source}")]
    Control {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The time `bytes` take on a UART at `baud` (8N1: 10 bits a byte).
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    if baud == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos((bytes as u64 * 10).saturating_mul(1_000_000_000) / u64::from(baud))
}

struct Pty {
    master: AsyncFd<OwnedFd>,
    /// Held open so that the master never sees a hangup between clients.
    _slave: OwnedFd,
    path: PathBuf,
}

fn open_pty() -> io::Result<Pty> {
    let r = nix::pty::openpty(None, None).map_err(io::Error::from)?;
    let mut t = tcgetattr(&r.slave).map_err(io::Error::from)?;
    cfmakeraw(&mut t);
    tcsetattr(&r.slave, SetArg::TCSANOW, &t).map_err(io::Error::from)?;
    let path = nix::unistd::ttyname(&r.slave).map_err(io::Error::from)?;
    // openpty(3) gives descriptors that survive exec: a child process spawned
    // by the host (a test running `picow flash`, say) would keep the pty open,
    // and an unplug would never hang up for it.
    for fd in [&r.master, &r.slave] {
        fcntl(fd, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    }
    let flags = fcntl(&r.master, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    fcntl(
        &r.master,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .map_err(io::Error::from)?;
    // SAFETY: an `OwnedFd` is a valid open descriptor, and the `AsyncFd`
    // owns it until it is dropped, so it keeps referring to the same file.
    let master = unsafe { AsyncFd::register(r.master) }.map_err(io::Error::from)?;
    Ok(Pty {
        master,
        _slave: r.slave,
        path,
    })
}

/// How often the board looks for exclusive mode left behind by a tool that
/// was killed (see `Pty::release_stale_exclusive`).
pub const STALE_EXCLUSIVE_CHECK: Duration = Duration::from_millis(250);

#[cfg(target_os = "linux")]
mod exclusive {
    use std::os::fd::AsFd;

    nix::ioctl_read_bad!(tiocgexcl, nix::libc::TIOCGEXCL, nix::libc::c_int);
    nix::ioctl_none_bad!(tiocnxcl, nix::libc::TIOCNXCL);

    /// Whether the tty is in exclusive mode (TIOCEXCL).
    pub fn is_set(fd: &impl AsFd) -> bool {
        use std::os::fd::AsRawFd;
        let mut v: nix::libc::c_int = 0;
        // SAFETY: TIOCGEXCL writes one int; the descriptor is open.
        unsafe { tiocgexcl(fd.as_fd().as_raw_fd(), &mut v) }.is_ok() && v != 0
    }

    /// Clears exclusive mode (TIOCNXCL).
    pub fn clear(fd: &impl AsFd) {
        use std::os::fd::AsRawFd;
        // SAFETY: TIOCNXCL takes no argument; the descriptor is open.
        let _ = unsafe { tiocnxcl(fd.as_fd().as_raw_fd()) };
    }

    /// Whether anyone holds an flock on the file behind `fd`, from
    /// `/proc/locks` (`N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ...`, the
    /// device numbers in hex), without taking a lock ourselves.
    pub fn flock_held(fd: &impl AsFd) -> bool {
        let Ok(st) = nix::sys::stat::fstat(fd.as_fd()) else {
            return true;
        };
        let dev = st.st_dev;
        let want = format!(
            "{:02x}:{:02x}:{}",
            nix::sys::stat::major(dev),
            nix::sys::stat::minor(dev),
            st.st_ino
        );
        let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
            // Cannot tell: never clear someone's lock.
            return true;
        };
        locks.lines().any(|l| {
            let mut f = l.split_whitespace().skip(1);
            let kind = f.next();
            let kind = if kind == Some("->") { f.next() } else { kind };
            kind == Some("FLOCK") && f.nth(3) == Some(want.as_str())
        })
    }
}

impl Pty {
    /// A tool that put the port into exclusive mode (serialport, espflash
    /// and so `picow flash`/`monitor` set TIOCEXCL) and was killed leaves it
    /// set: a real board's USB port forgets it when its last user closes
    /// it, but the board holds the pty's slave side open itself, so nobody
    /// else could open the port until a replug. Exclusive mode with no
    /// flock on the pty (those tools, and pyserial's exclusive mode, take
    /// one with it) seen on two checks in a row is such a leftover and is
    /// cleared. `seen` carries the first sighting to the next check.
    #[cfg(target_os = "linux")]
    fn release_stale_exclusive(&self, seen: &mut bool) {
        if !exclusive::is_set(&self._slave) || exclusive::flock_held(&self._slave) {
            *seen = false;
            return;
        }
        if std::mem::replace(seen, true) {
            exclusive::clear(&self._slave);
            *seen = false;
            tracing::debug!(
                "{}: cleared exclusive mode left by a tool that ended without closing the port",
                self.path.display()
            );
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn release_stale_exclusive(&self, _seen: &mut bool) {}

    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.readable().await?;
            match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), buf).map_err(io::Error::from)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes everything, waiting up to 500 ms for room each time; after
    /// that the bytes are dropped, as a UART with nobody listening drops them.
    async fn write_all(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let wait = tokio::time::timeout(Duration::from_millis(500), self.master.writable());
            let Ok(Ok(mut guard)) = wait.await else {
                tracing::debug!("pty full: dropped {} bytes", bytes.len());
                return;
            };
            match guard
                .try_io(|fd| nix::unistd::write(fd.get_ref(), bytes).map_err(io::Error::from))
            {
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) => {
                    tracing::debug!("pty write failed: {e}");
                    return;
                }
                Err(_would_block) => continue,
            }
        }
    }
}

/// What the board is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Download,
    Running,
    Halted(String),
}

struct Board {
    chip: Chip,
    mac: Mac,
    flash: SharedFlash,
    ota_listener: Option<Arc<std::net::TcpListener>>,
    /// `fail-next-boot`: the next app that boots crashes once it has started.
    fail_next_boot: bool,
    /// The running app crashes when it prints its config line.
    crash_armed: bool,
    /// When the board resets by itself (after a panic).
    reboot_at: Option<tokio::time::Instant>,
    /// Slot and version of the app that booted last.
    booted: Option<(Option<u8>, Option<String>)>,
    wifi: WifiTable,
    firmware: Option<Arc<dyn Firmware>>,
    multicast: Option<std::net::Ipv4Addr>,
    loader: Loader,
    mode: Mode,
    /// Entry point of the app that booted last (for `panic`).
    entry: Option<u32>,
    app: Option<JoinHandle<AppExit>>,
    to_app: Option<mpsc::UnboundedSender<Vec<u8>>>,
    from_app: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
    events: mpsc::UnboundedSender<SimEvent>,
}

impl Board {
    fn baud(&self) -> u32 {
        match self.mode {
            Mode::Download => self.loader.baud(),
            _ => DEFAULT_BAUD,
        }
    }

    fn stop_app(&mut self) {
        if let Some(h) = self.app.take() {
            h.abort();
        }
        self.to_app = None;
        self.from_app = None;
    }

    fn reset(&mut self, mode: BootMode, reason: ResetReason) -> Vec<u8> {
        self.stop_app();
        self.reboot_at = None;
        self.crash_armed = false;
        self.booted = None;
        self.loader = Loader::new(self.chip, self.mac);
        let _ = self.events.send(SimEvent::Reset { mode });
        match mode {
            BootMode::Download => {
                self.mode = Mode::Download;
                boot::download_banner(self.chip, reason).into_bytes()
            }
            BootMode::Run => self.boot(reason),
        }
    }

    fn boot(&mut self, reason: ResetReason) -> Vec<u8> {
        let (mut text, outcome) = boot::boot(&mut lock(&self.flash), self.chip, reason);
        match outcome {
            BootOutcome::Failed(why) => {
                let _ = self.events.send(SimEvent::BootFailed {
                    reason: why.clone(),
                });
                self.mode = Mode::Halted(why);
            }
            BootOutcome::App(app) => {
                self.entry = Some(app.image.entry);
                let name = app
                    .desc
                    .as_ref()
                    .map_or("(no app descriptor)", |d| d.project_name.as_str())
                    .to_owned();
                let slot = app.slot;
                let version = app.desc.as_ref().map(|d| d.version.clone());
                self.booted = Some((slot, version.clone()));
                match (&self.firmware, app.is_picow_fw()) {
                    (Some(fw), true) => {
                        let (console, to_app, from_app) = Console::new();
                        let env = AppEnv {
                            chip: self.chip,
                            mac: self.mac,
                            app: (*app).clone(),
                            wifi: self.wifi.clone(),
                            flash: lock(&self.flash).contents().into(),
                            multicast: self.multicast,
                            shared_flash: Some(self.flash.clone()),
                            ota_listener: self.ota_listener.clone(),
                        };
                        self.app = Some(tokio::spawn(fw.run(env, console)));
                        self.to_app = Some(to_app);
                        self.from_app = Some(from_app);
                        self.mode = Mode::Running;
                        self.crash_armed = std::mem::take(&mut self.fail_next_boot);
                        let _ = self.events.send(SimEvent::Booted {
                            app: name,
                            running: true,
                            slot,
                            version,
                        });
                    }
                    (None, true) => {
                        let cfg = match &app.config {
                            ConfigState::NoPartition => "no picow config partition".to_owned(),
                            ConfigState::Read(Ok(c)) => {
                                format!("config for Wi-Fi \"{}\"", c.ssid())
                            }
                            ConfigState::Read(Err(e)) => format!("config invalid ({})", e.reason()),
                        };
                        let why = format!(
                            "picow-fw booted ({cfg}), but this build of picow sim has no firmware behaviour plugged in (see docs/sim.md)"
                        );
                        text.push_str(&format!("picow-sim: {why}\r\n"));
                        let _ = self.events.send(SimEvent::Booted {
                            app: name,
                            running: false,
                            slot,
                            version,
                        });
                        self.mode = Mode::Halted(why);
                    }
                    (_, false) => {
                        let why = format!(
                            "the app `{name}` cannot run on the virtual board: only picow-fw's behaviour is emulated"
                        );
                        text.push_str(&format!("picow-sim: {why}\r\n"));
                        let _ = self.events.send(SimEvent::Booted {
                            app: name,
                            running: false,
                            slot,
                            version,
                        });
                        self.mode = Mode::Halted(why);
                    }
                }
            }
        }
        text.into_bytes()
    }

    /// `panic` from the control socket: the running app stops with the
    /// console output of esp-backtrace on RISC-V (`Backtrace:` and one
    /// return address a line, here inside the app's entry function), and
    /// the board restarts a moment later, as picow-fw does after a panic.
    fn panic(&mut self) -> Result<Vec<u8>, String> {
        match (&self.mode, self.entry) {
            (Mode::Running, Some(entry)) => {
                self.stop_app();
                self.mode = Mode::Halted("panicked (control command)".into());
                self.reboot_at = Some(tokio::time::Instant::now() + PANIC_RESTART);
                let text = format!(
                    "\r\n\r\n====================== PANIC ======================\r\n\
                     panicked at picow-sim: panic requested through the control socket\r\n\
                     \r\nBacktrace:\r\n\r\n0x{:08x}\r\n",
                    entry.wrapping_add(4)
                );
                Ok(text.into_bytes())
            }
            _ => Err("error no app is running: reset run first".into()),
        }
    }

    /// Bytes from the host: returns bytes to send, then effects to apply.
    fn input(&mut self, bytes: &[u8]) -> (Vec<u8>, Vec<Effect>) {
        match self.mode {
            Mode::Download => {
                let out = self.loader.feed(bytes, &mut lock(&self.flash));
                (out.bytes, out.effects)
            }
            Mode::Running => {
                if let Some(tx) = &self.to_app {
                    let _ = tx.send(bytes.to_vec());
                }
                (Vec::new(), Vec::new())
            }
            Mode::Halted(_) => (Vec::new(), Vec::new()),
        }
    }

    fn apply(&mut self, effect: Effect) -> Vec<u8> {
        match effect {
            Effect::Baud(b) => {
                tracing::debug!("baud rate now {b}");
                Vec::new()
            }
            Effect::StubStarted => Vec::new(),
            Effect::Run => self.reset(BootMode::Run, ResetReason::Software),
            Effect::RebootToRom => self.reset(BootMode::Download, ResetReason::Software),
        }
    }

    fn status(&self, pty: Option<&Path>) -> String {
        let mut mode = match &self.mode {
            Mode::Download => "mode=download".to_owned(),
            Mode::Running => "mode=running".to_owned(),
            Mode::Halted(why) => format!("mode=halted reason={why:?}"),
        };
        if let (Mode::Running, Some((slot, version))) = (&self.mode, &self.booted) {
            if let Some(s) = slot {
                mode.push_str(&format!(" slot={s}"));
            }
            if let Some(v) = version {
                mode.push_str(&format!(" version={v:?}"));
            }
        }
        if self.fail_next_boot {
            mode.push_str(" fail-next-boot=yes");
        }
        let dialect = match self.loader.dialect() {
            Dialect::Rom => "rom",
            Dialect::Stub => "stub",
        };
        format!(
            "ok {mode} dialect={dialect} baud={} chip={} plugged={} pty={}",
            self.baud(),
            self.chip,
            if pty.is_some() { "yes" } else { "no" },
            pty.map_or("-".to_owned(), |p| p.display().to_string())
        )
    }

    fn mode_reply(&self) -> String {
        match &self.mode {
            Mode::Download => "ok mode=download".into(),
            Mode::Running => "ok mode=running".into(),
            Mode::Halted(why) => format!("ok mode=halted reason={why:?}"),
        }
    }
}

type ControlRequest = (ControlCommand, oneshot::Sender<String>);

/// Binds the control socket, removing a stale one.
pub fn bind_control(path: &Path) -> Result<UnixListener, SimError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(SimError::ControlInUse(path.to_owned()));
            }
            let _ = std::fs::remove_file(path);
        } else {
            return Err(SimError::Control {
                path: path.to_owned(),
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file that is not a socket is in the way",
                ),
            });
        }
    }
    UnixListener::bind(path).map_err(|source| SimError::Control {
        path: path.to_owned(),
        source,
    })
}

async fn serve_control(listener: UnixListener, tx: mpsc::Sender<ControlRequest>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(control_connection(stream, tx));
    }
}

async fn control_connection(stream: UnixStream, tx: mpsc::Sender<ControlRequest>) {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let reply = match ControlCommand::parse(&line) {
            Err(e) => format!("error {e}"),
            Ok(ControlCommand::Help) => format!("ok commands: {HELP}"),
            Ok(cmd) => {
                let (otx, orx) = oneshot::channel();
                if tx.send((cmd, otx)).await.is_err() {
                    return;
                }
                orx.await
                    .unwrap_or_else(|_| "error the board stopped".into())
            }
        };
        if w.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

fn make_link(link: &Path, target: &Path) -> Result<(), SimError> {
    if let Ok(meta) = std::fs::symlink_metadata(link) {
        if !meta.file_type().is_symlink() {
            return Err(SimError::LinkTaken(link.to_owned()));
        }
    }
    let tmp = link.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .and_then(|()| std::fs::rename(&tmp, link))
        .map_err(|source| SimError::Link {
            path: link.to_owned(),
            source,
        })
}

/// Records `pty` → control socket in the registry, so that
/// [`control_socket_for`](crate::control::client::control_socket_for) finds
/// the board from its port alone. Best effort: a failure only logs.
fn register(pty: &Path, control: &Path) {
    let dir = crate::control::client::registry_dir();
    let entry = dir.join(crate::control::client::entry_name(pty));
    let result = std::fs::create_dir_all(&dir).and_then(|()| {
        let _ = std::fs::remove_file(&entry);
        let control = std::fs::canonicalize(control).unwrap_or_else(|_| control.to_owned());
        std::os::unix::fs::symlink(control, &entry)
    });
    if let Err(e) = result {
        tracing::debug!("could not register {}: {e}", entry.display());
    }
}

fn unregister(pty: &Path) {
    let entry =
        crate::control::client::registry_dir().join(crate::control::client::entry_name(pty));
    remove_link(&entry);
}

fn remove_link(link: &Path) {
    if std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = std::fs::remove_file(link);
    }
}

/// A running virtual board.
#[derive(Debug)]
pub struct Sim {
    /// Events, in order.
    pub events: mpsc::UnboundedReceiver<SimEvent>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), SimError>>,
    pty: PathBuf,
}

impl Sim {
    /// Starts the board: makes the pty, the link and the control socket.
    /// Must be called inside a tokio runtime.
    pub async fn start(opts: SimOptions) -> Result<Sim, SimError> {
        let listener = bind_control(&opts.control)?;
        let pty = open_pty().map_err(SimError::Pty)?;
        if let Some(link) = &opts.link {
            if let Err(e) = make_link(link, &pty.path) {
                let _ = std::fs::remove_file(&opts.control);
                return Err(e);
            }
        }
        register(&pty.path, &opts.control);
        let (events_tx, events) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let path = pty.path.clone();
        let task = tokio::spawn(run(opts, pty, listener, events_tx, shutdown_rx));
        Ok(Sim {
            events,
            shutdown: Some(shutdown_tx),
            task,
            pty: path,
        })
    }

    /// The pty's path at start.
    pub fn pty(&self) -> &Path {
        &self.pty
    }

    /// Stops the board, removing the link and the control socket.
    pub async fn stop(mut self) -> Result<(), SimError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(SimError::Pty(io::Error::other(e))),
        }
    }
}

async fn run(
    opts: SimOptions,
    first_pty: Pty,
    listener: UnixListener,
    events: mpsc::UnboundedSender<SimEvent>,
    mut shutdown: oneshot::Receiver<()>,
) -> Result<(), SimError> {
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<ControlRequest>(8);
    let control_task = tokio::spawn(serve_control(listener, ctl_tx));
    let start_mode = if opts.boot {
        BootMode::Run
    } else {
        BootMode::Download
    };
    let mut board = Board {
        chip: opts.chip,
        mac: opts.mac,
        loader: Loader::new(opts.chip, opts.mac),
        flash: Arc::new(Mutex::new(opts.flash)),
        ota_listener: opts.ota_listener,
        fail_next_boot: false,
        crash_armed: false,
        reboot_at: None,
        booted: None,
        wifi: opts.wifi,
        firmware: opts.firmware,
        multicast: opts.multicast,
        mode: Mode::Download,
        entry: None,
        app: None,
        to_app: None,
        from_app: None,
        events: events.clone(),
    };
    let pacing = opts.baud_pacing;
    let mut pty = Some(first_pty);
    let mut pending_mode = Some(start_mode);
    // `hang`: nothing is read or written until a reset or an unplug.
    let mut hung = false;
    let mut buf = vec![0u8; 4096];
    let mut stale_check = tokio::time::interval(STALE_EXCLUSIVE_CHECK);
    stale_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stale_seen = false;
    let result = loop {
        if let (Some(p), Some(mode)) = (&pty, pending_mode.take()) {
            let _ = events.send(SimEvent::Plugged {
                pty: p.path.clone(),
            });
            let out = board.reset(mode, ResetReason::PowerOn);
            write_paced(p, &out, board.baud(), pacing).await;
        }
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            _ = stale_check.tick() => {
                if let Some(p) = &pty {
                    p.release_stale_exclusive(&mut stale_seen);
                }
            }
            r = async { match &pty { Some(p) if !hung => p.read(&mut buf).await, _ => std::future::pending().await } } => {
                let n = match r {
                    Ok(n) if n > 0 => n,
                    // The board holds the slave side open, so neither should
                    // happen; if it does, do not spin.
                    Ok(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!("pty read failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(p) = &pty else { continue };
                if pacing {
                    tokio::time::sleep(wire_time(n, board.baud())).await;
                }
                let (out, effects) = board.input(&buf[..n]);
                write_paced(p, &out, board.baud(), pacing).await;
                for e in effects {
                    let out = board.apply(e);
                    write_paced(p, &out, board.baud(), pacing).await;
                }
            }
            exit = async { match board.app.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => {
                board.app = None;
                // Flush what the firmware printed before it ended.
                let mut tail = Vec::new();
                if let Some(rx) = board.from_app.as_mut() {
                    while let Ok(bytes) = rx.try_recv() {
                        tail.extend(bytes);
                    }
                }
                let out = match exit {
                    Ok(AppExit::Reboot) => {
                        let mut t = tail;
                        t.extend(board.reset(BootMode::Run, ResetReason::Software));
                        t
                    }
                    Ok(AppExit::Stopped) => {
                        board.stop_app();
                        board.mode = Mode::Halted("the firmware stopped".into());
                        tail
                    }
                    Err(e) => {
                        tracing::warn!("the firmware task failed: {e}");
                        board.stop_app();
                        board.mode = Mode::Halted("the firmware crashed".into());
                        tail
                    }
                };
                if let Some(p) = &pty {
                    write_paced(p, &out, board.baud(), pacing).await;
                }
            }
            chunk = async { match board.from_app.as_mut() { Some(rx) if !hung => rx.recv().await, _ => std::future::pending().await } } => {
                // The first line after the app's boot decisions (an image on
                // trial is marked so before it prints `ota-trial`).
                let crash = board.crash_armed
                    && chunk.as_deref().is_some_and(|b| {
                        contains(b, b"@picow ota-trial") || contains(b, b"@picow config")
                    });
                // `fail-next-boot`: the app started (and made its boot
                // decisions), then it crashes, and the board restarts. The
                // app is stopped before its line is written out (a pty
                // nobody reads, or baud pacing, must not give it time to
                // go on).
                let panic_out = if crash {
                    board.crash_armed = false;
                    board.panic().ok()
                } else {
                    None
                };
                match (chunk, &pty) {
                    (Some(bytes), Some(p)) => write_paced(p, &bytes, board.baud(), pacing).await,
                    (Some(_), None) => {}
                    (None, _) => board.from_app = None,
                }
                if let (Some(out), Some(p)) = (panic_out, &pty) {
                    write_paced(p, &out, board.baud(), pacing).await;
                }
            }
            () = async { match board.reboot_at { Some(t) if !hung => tokio::time::sleep_until(t).await, _ => std::future::pending().await } } => {
                board.reboot_at = None;
                let out = board.reset(BootMode::Run, ResetReason::Software);
                if let Some(p) = &pty {
                    write_paced(p, &out, board.baud(), pacing).await;
                }
            }
            req = ctl_rx.recv() => {
                let Some((cmd, reply)) = req else { break Ok(()) };
                let answer = match cmd {
                    ControlCommand::Status | ControlCommand::Help => {
                        let status = board.status(pty.as_ref().map(|p| p.path.as_path()));
                        if hung { format!("{status} hung=yes") } else { status }
                    }
                    ControlCommand::Hang => {
                        hung = true;
                        "ok hung".into()
                    }
                    ControlCommand::FailNextBoot => {
                        board.fail_next_boot = true;
                        "ok fail-next-boot".into()
                    }
                    ControlCommand::Reset(mode) => match &pty {
                        Some(p) => {
                            hung = false;
                            let out = board.reset(mode, ResetReason::Software);
                            write_paced(p, &out, board.baud(), pacing).await;
                            board.mode_reply()
                        }
                        None => "error the board is unplugged: replug it first".into(),
                    },
                    ControlCommand::Panic => match (board.panic(), &pty) {
                        (Ok(out), Some(p)) => {
                            write_paced(p, &out, board.baud(), pacing).await;
                            "ok panicked".into()
                        }
                        (Ok(_), None) => "ok panicked".into(),
                        (Err(e), _) => e,
                    },
                    ControlCommand::Unplug => {
                        hung = false;
                        if let Some(p) = pty.take() {
                            unregister(&p.path);
                            board.stop_app();
                            board.mode = Mode::Halted("unplugged".into());
                            if let Some(link) = &opts.link {
                                remove_link(link);
                            }
                            let _ = events.send(SimEvent::Unplugged);
                        }
                        "ok unplugged".into()
                    }
                    ControlCommand::Replug(mode) => {
                        if pty.is_some() {
                            "error the board is plugged in: unplug it first".into()
                        } else {
                            match open_pty() {
                                Ok(p) => {
                                    let link_ok = match &opts.link {
                                        Some(link) => make_link(link, &p.path).map_err(|e| e.to_string()),
                                        None => Ok(()),
                                    };
                                    let path = p.path.display().to_string();
                                    register(&p.path, &opts.control);
                                    pty = Some(p);
                                    pending_mode = Some(mode.unwrap_or(start_mode));
                                    match link_ok {
                                        Ok(()) => format!("ok pty={path}"),
                                        Err(e) => format!("ok pty={path} (link failed: {e})"),
                                    }
                                }
                                Err(e) => format!("error could not create a pty: {e}"),
                            }
                        }
                    }
                };
                let _ = reply.send(answer);
            }
        }
    };
    board.stop_app();
    control_task.abort();
    if let Some(p) = pty.take() {
        unregister(&p.path);
    }
    if let Some(link) = &opts.link {
        remove_link(link);
    }
    let _ = std::fs::remove_file(&opts.control);
    result
}

/// How long after a panic the board restarts (picow-fw resets itself).
const PANIC_RESTART: Duration = Duration::from_millis(200);

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn write_paced(pty: &Pty, bytes: &[u8], baud: u32, pacing: bool) {
    if bytes.is_empty() {
        return;
    }
    if !pacing {
        pty.write_all(bytes).await;
        return;
    }
    // A chunk is complete at the receiver only after its wire time.
    for chunk in bytes.chunks(64) {
        tokio::time::sleep(wire_time(chunk.len(), baud)).await;
        pty.write_all(chunk).await;
    }
}

/// The default control socket path: next to the link (`LINK.control`), or
/// in `$XDG_RUNTIME_DIR` (else the temp dir) as `picow-sim-PID.sock`.
pub fn default_control_path(link: Option<&Path>) -> PathBuf {
    if let Some(link) = link {
        let mut s = link.as_os_str().to_owned();
        s.push(".control");
        return PathBuf::from(s);
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("picow-sim-{}.sock", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pty_descriptors_do_not_leak_into_child_processes() {
        use std::os::fd::AsFd;
        let pty = open_pty().unwrap();
        for fd in [pty.master.get_ref().as_fd(), pty._slave.as_fd()] {
            let flags = fcntl(fd, FcntlArg::F_GETFD).unwrap();
            assert!(
                nix::fcntl::FdFlag::from_bits_truncate(flags)
                    .contains(nix::fcntl::FdFlag::FD_CLOEXEC),
                "pty descriptor would be inherited by exec"
            );
        }
    }

    #[test]
    fn wire_time_is_ten_bits_a_byte() {
        assert_eq!(wire_time(11_520, 115_200), Duration::from_secs(1));
        assert_eq!(wire_time(1, 0), Duration::ZERO);
        assert_eq!(wire_time(92_160, 921_600), Duration::from_secs(1));
    }

    #[test]
    fn control_path_sits_next_to_the_link() {
        assert_eq!(
            default_control_path(Some(Path::new("/tmp/board"))),
            PathBuf::from("/tmp/board.control")
        );
        let p = default_control_path(None);
        assert!(p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("picow-sim-"));
    }
}
