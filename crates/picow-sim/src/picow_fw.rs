//! picow-fw's behaviour on the virtual board: `picow-app` on its host board.
//!
//! The app is the same code the chip runs (`picow_app::run`), on
//! `picow_app::host::HostBoard`: real TCP/UDP sockets to the configured
//! server, the flash contents at boot, and the virtual Wi-Fi: the access
//! point in range is the `--wifi` network whose SSID the config names, with
//! the password given there, so wrong credentials fail to join as on a
//! board. The app's future is not `Send`, so it runs on a thread of its own
//! with a current-thread runtime; dropping the returned future (a reset or an
//! unplug) stops it.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use picow_app::host::{AccessPoint, HostBoard, HostConfig, HostFlash, HostMulticast};
use picow_app::{AppInfo, NetInfo};
use picow_protocol::DeviceConfig;
use tokio::sync::oneshot;

use crate::boot::ConfigState;
use crate::firmware::{AppEnv, AppExit, AppFuture, Console, Firmware};
use crate::wifi::JoinOutcome;

/// The host interface address for `picow sim --mdns` (see
/// [`picow_app::host::multicast_interface`]).
pub use picow_app::host::multicast_interface;

/// How long a successful join takes on the virtual Wi-Fi.
pub const JOIN_MS: u64 = 500;

/// The board's flash as the host board sees it: reads and writes go to the
/// virtual board's flash (and its file), with NOR semantics.
#[derive(Debug)]
struct SimFlash(crate::device::SharedFlash);

impl SimFlash {
    fn with<T>(&self, f: impl FnOnce(&mut crate::flash::Flash) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl HostFlash for SimFlash {
    fn read(&self, offset: u32, buf: &mut [u8]) -> bool {
        self.with(|f| match f.read(offset, buf.len() as u32) {
            Ok(b) => {
                buf.copy_from_slice(b);
                true
            }
            Err(_) => false,
        })
    }
    fn program(&self, offset: u32, data: &[u8]) -> bool {
        self.with(|f| f.program(offset, data).is_ok())
    }
    fn erase(&self, offset: u32, len: u32) -> bool {
        self.with(|f| f.erase(offset, len).is_ok())
    }
}

/// The picow firmware's behaviour (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct PicowFirmware;

/// `AppInfo` wants `&'static str`: each distinct version string is kept once.
fn intern(s: &str) -> &'static str {
    static SEEN: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(v) = seen.get(s) {
        return v;
    }
    let v: &'static str = Box::leak(s.to_owned().into_boxed_str());
    seen.insert(v);
    v
}

/// The access point the board can reach, and what joining it reports.
fn radio(env: &AppEnv) -> (Option<AccessPoint>, NetInfo) {
    let mut net = NetInfo {
        ip: IpAddr::from([10, 42, 0, 2]),
        gateway: Some(IpAddr::from([10, 42, 0, 1])),
        rssi: -52,
    };
    let config: Option<&DeviceConfig> = match &env.app.config {
        ConfigState::Read(Ok(c)) => Some(c),
        _ => None,
    };
    let Some(cfg) = config else {
        return (None, net);
    };
    let ssid = cfg.ssid();
    // The table decides; the access point carries the table's password, so
    // the host board refuses a config with another one.
    let password = match env.wifi.join(ssid, cfg.password()) {
        JoinOutcome::Joined(lease) => {
            net = NetInfo {
                ip: IpAddr::V4(lease.ip),
                gateway: Some(IpAddr::V4(lease.gateway)),
                rssi: lease.rssi,
            };
            cfg.password().to_owned()
        }
        JoinOutcome::WrongPassword => env.wifi.password_of(ssid).unwrap_or_default().to_owned(),
        JoinOutcome::NotFound => return (None, net),
    };
    (Some(AccessPoint::new(ssid, &password)), net)
}

async fn run_app(env: AppEnv, console: Console, stop: oneshot::Receiver<()>) -> AppExit {
    let (access_point, mut net) = radio(&env);
    if let Some(interface) = env.multicast {
        // On a real LAN: the board's address is the one others reach it at.
        net.ip = IpAddr::V4(interface);
        net.gateway = None;
    }
    let flash_backend = env
        .shared_flash
        .clone()
        .map(|f| std::sync::Arc::new(SimFlash(f)) as std::sync::Arc<dyn HostFlash>);
    let board = HostBoard::new(HostConfig {
        access_point,
        net,
        join_ms: JOIN_MS,
        multicast: env.multicast.map(|interface| HostMulticast {
            interface,
            port: None,
        }),
        flash_backend,
        running_app: Some(env.app.partition.offset),
        tcp_listener: env.ota_listener.clone(),
        ..HostConfig::new(env.flash.to_vec())
    });
    let handle = board.handle();
    let Some(mut lines) = handle.take_console() else {
        return AppExit::Stopped;
    };
    let (out, mut input) = console.into_parts();
    let version = env
        .app
        .desc
        .as_ref()
        .map_or("unknown", |d| intern(&d.version));
    let info = AppInfo {
        version,
        chip: env.chip.info().name,
        mac: env.mac.0,
    };
    let console_out = async {
        while let Some(line) = lines.recv().await {
            let mut bytes = line.into_bytes();
            bytes.extend_from_slice(b"\r\n");
            if out.send(bytes).is_err() {
                return;
            }
        }
    };
    let console_in = async {
        while let Some(bytes) = input.recv().await {
            handle.type_input(&bytes);
        }
        handle.close_input();
        std::future::pending::<()>().await;
    };
    tokio::select! {
        exit = picow_app::run(&board, info) => {
            // Let the last lines out before the board reboots.
            while let Ok(line) = lines.try_recv() {
                let mut bytes = line.into_bytes();
                bytes.extend_from_slice(b"\r\n");
                let _ = out.send(bytes);
            }
            match exit {
                picow_app::Exit::Reboot => AppExit::Reboot,
                _ => AppExit::Stopped,
            }
        }
        _ = console_out => AppExit::Stopped,
        _ = console_in => AppExit::Stopped,
        _ = stop => AppExit::Stopped,
    }
}

impl Firmware for PicowFirmware {
    fn run(&self, env: AppEnv, console: Console) -> AppFuture {
        Box::pin(async move {
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let (done_tx, done_rx) = oneshot::channel::<AppExit>();
            let spawned = std::thread::Builder::new()
                .name("picow-fw".into())
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            tracing::warn!("picow-fw: no runtime: {e}");
                            return;
                        }
                    };
                    let local = tokio::task::LocalSet::new();
                    let exit = local.block_on(&rt, run_app(env, console, stop_rx));
                    let _ = done_tx.send(exit);
                });
            if let Err(e) = spawned {
                tracing::warn!("picow-fw: could not start its thread: {e}");
                return AppExit::Stopped;
            }
            // Dropping this future (reset, unplug) drops `stop_tx`, which
            // ends the app on its thread.
            let _stop = stop_tx;
            done_rx.await.unwrap_or(AppExit::Stopped)
        })
    }
}

#[cfg(test)]
mod tests {
    use picow_protocol::forms::{ServerAddr, WifiCredentials};

    use super::*;
    use crate::boot::{boot, BootOutcome, ResetReason};
    use crate::chip::{Chip, Mac};
    use crate::fixture::picow_flash;
    use crate::wifi::WifiTable;

    fn env(wifi: &str, table: &[&str]) -> AppEnv {
        let cfg = DeviceConfig::new(
            WifiCredentials::parse(wifi).unwrap(),
            ServerAddr::parse("127.0.0.1:10000").unwrap(),
            None,
        )
        .unwrap();
        let mut flash = picow_flash(Chip::Esp32c3, 4 << 20, Some(&cfg));
        let BootOutcome::App(app) = boot(&mut flash, Chip::Esp32c3, ResetReason::PowerOn).1 else {
            panic!("boots")
        };
        AppEnv {
            chip: Chip::Esp32c3,
            mac: Mac::DEFAULT,
            app: *app,
            wifi: WifiTable::new(
                table
                    .iter()
                    .map(|w| WifiCredentials::parse(w).unwrap())
                    .collect(),
            ),
            flash: flash.contents().into(),
            multicast: None,
            shared_flash: None,
            ota_listener: None,
        }
    }

    #[test]
    fn the_table_decides_what_the_host_board_can_join() {
        // Right password: the access point takes it, the lease is the table's.
        let (ap, net) = radio(&env("lab:password1", &["x:yyyyyyyy", "lab:password1"]));
        assert_eq!(ap, Some(AccessPoint::new("lab", "password1")));
        assert_eq!(net.ip, IpAddr::from([10, 42, 1, 2]));
        // Wrong password: the access point is there with its own password,
        // so the board's join is refused (and its join window times out).
        let (ap, _) = radio(&env("lab:wrong-pass", &["lab:password1"]));
        assert_eq!(ap, Some(AccessPoint::new("lab", "password1")));
        // Unknown SSID: nothing in range.
        let (ap, _) = radio(&env("elsewhere:password1", &["lab:password1"]));
        assert_eq!(ap, None);
    }

    #[test]
    fn versions_are_interned_once() {
        let a = intern("1.2.3");
        let b = intern(&String::from("1.2.3"));
        assert!(std::ptr::eq(a, b));
    }
}
