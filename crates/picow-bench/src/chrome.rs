//! Headless Chromium driven through chromedriver (WebDriver), for
//! picow-web's browser tests and `cargo xtask bench web`, with nothing left
//! behind on any way out.
//!
//! chromedriver is started as the leader of a process group of its own;
//! the browser it starts (and the browser's helpers) stay in that group.
//! Everything of one [`Browser`] lives in one fresh directory (the profile,
//! the downloads, its `TMPDIR` (Chromium leaves `org.chromium.Chromium.*`
//! there), and the browser's `XDG_CONFIG_HOME`/`XDG_CACHE_HOME`, so
//! that even its crash handler, which leaves the group, writes there and
//! names the directory on its command line). Dropping the [`Browser`] (a
//! test that ends, fails or panics; a benchmark that returns early) kills
//! the whole group, then every process whose command line names the
//! directory, reaps chromedriver and removes the directory.
//!
//! No traffic leaves the machine: every name but loopback fails to resolve
//! and any proxy use goes to a closed local port.

pub use fantoccini;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Debian's chromedriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// What the browser is started with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The browser's language (`--lang` and `intl.accept_languages`).
    pub lang: String,
    /// More command-line switches.
    pub args: Vec<String>,
    /// The window's size.
    pub window: (u32, u32),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lang: "en".into(),
            args: Vec::new(),
            window: (1400, 1000),
        }
    }
}

/// A headless Chromium with a WebDriver session; see the module's
/// documentation for what dropping it does.
pub struct Browser {
    /// The WebDriver session.
    pub client: fantoccini::Client,
    /// Where downloads go.
    pub downloads: PathBuf,
    guard: Guard,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("dir", &self.guard.dir)
            .field("driver", &self.guard.driver.as_ref().map(Child::id))
            .finish()
    }
}

/// A name unique to this process and call.
fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "picow-chrome-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// chromedriver's process group and the directory; cleans up on drop.
struct Guard {
    driver: Option<Child>,
    dir: PathBuf,
}

impl Guard {
    fn cleanup(&mut self) {
        let group = self.driver.as_ref().map(|c| c.id() as i32);
        if let Some(mut child) = self.driver.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // The crash handler leaves the group (it starts a session of its
        // own); it names the directory on its command line. Wait until
        // nothing of either is alive.
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let mut left = processes_naming(&self.dir);
            if let Some(g) = group {
                left.extend(processes_in_group(g));
            }
            if left.is_empty() || Instant::now() > end {
                break;
            }
            for pid in left {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for _ in 0..20 {
            // A dying process may still write into its profile.
            if std::fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// The live processes (zombies are dead already) of `/proc`, each with its
/// `stat` line and its command line.
fn live_processes() -> Vec<(i32, String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The fields after the command's `(...)`: state, ppid, pgrp.
            let state = stat.rsplit(')').next()?.split_whitespace().next()?;
            if state == "Z" || state == "X" {
                return None;
            }
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            Some((pid, stat, cmd))
        })
        .collect()
}

/// The live processes whose command line contains `dir`.
pub fn processes_naming(dir: &Path) -> Vec<i32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    live_processes()
        .into_iter()
        .filter(|(_, _, cmd)| cmd.windows(needle.len()).any(|w| w == needle))
        .map(|(pid, ..)| pid)
        .collect()
}

/// The live processes of process group `pgid`.
pub fn processes_in_group(pgid: i32) -> Vec<i32> {
    live_processes()
        .into_iter()
        .filter(|(_, stat, _)| {
            stat.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(2))
                .and_then(|g| g.parse::<i32>().ok())
                == Some(pgid)
        })
        .map(|(pid, ..)| pid)
        .collect()
}

impl Browser {
    /// Starts chromedriver and a browser session. On any error, what was
    /// started is stopped and the directory removed.
    pub async fn start(opts: Options) -> Result<Browser, String> {
        for exe in [CHROMEDRIVER, CHROMIUM] {
            if !Path::new(exe).exists() {
                return Err(format!(
                    "{exe} is missing: install Debian's chromium and chromium-driver \
                     (apt-get install chromium chromium-driver fonts-noto-cjk; `cargo xtask ci` does)"
                ));
            }
        }
        let dir = std::env::temp_dir().join(unique());
        let mut guard = Guard {
            driver: None,
            dir: dir.clone(),
        };
        // Chromium puts its singleton socket and scoped dirs
        // (org.chromium.Chromium.*) in TMPDIR and never removes some of
        // them: they go into this directory too.
        let (profile, downloads, xdg, tmp) = (
            dir.join("profile"),
            dir.join("downloads"),
            dir.join("xdg"),
            dir.join("tmp"),
        );
        for d in [&profile, &downloads, &xdg, &tmp] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let mut child = Command::new(CHROMEDRIVER)
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .env("XDG_CONFIG_HOME", xdg.join("config"))
            .env("XDG_CACHE_HOME", xdg.join("cache"))
            .env("TMPDIR", &tmp)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting chromedriver: {e}"))?;
        let stdout = child.stdout.take();
        guard.driver = Some(child);
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("started successfully on port ").nth(1) {
                        let port: u16 = rest.trim_end_matches('.').trim().parse().unwrap_or(0);
                        let _ = tx.send(port);
                    }
                }
            });
        }
        let port = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|_| "chromedriver did not say its port within 30 s".to_owned())?;
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-breakpad",
            "--disable-crash-reporter",
            "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-pings",
            "--metrics-recording-only",
            "--password-store=basic",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
        ]
        .map(str::to_owned)
        .to_vec();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--lang={}", opts.lang));
        args.push(format!("--window-size={},{}", opts.window.0, opts.window.1));
        args.extend(opts.args);
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "prefs": {
                    "intl.accept_languages": opts.lang,
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            },
        });
        let serde_json::Value::Object(caps) = caps else {
            return Err("capabilities".into());
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| format!("a WebDriver session with headless Chromium: {e}"))?;
        Ok(Browser {
            client,
            downloads,
            guard,
        })
    }

    /// The directory holding the profile and the downloads (removed with
    /// the browser).
    pub fn dir(&self) -> &Path {
        &self.guard.dir
    }

    /// chromedriver's process group (the browser's processes are in it).
    pub fn process_group(&self) -> Option<i32> {
        self.guard.driver.as_ref().map(|c| c.id() as i32)
    }

    /// Ends the session politely, then as dropping does.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
    }
}
