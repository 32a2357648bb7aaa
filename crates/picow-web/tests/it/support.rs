//! What the page tests share: serve's engine and the page's server in this
//! process (real sockets on 127.0.0.1), fake boards that greet and echo,
//! and headless Chromium driven through chromedriver (WebDriver).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use picow_bench::chrome::{self, Browser};
use picow_serve::text::Charset;
use picow_serve::{Config, Listener, Observer};
use picow_web::{Options, WebServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// How a test's serve is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Where the page listens (`127.0.0.1:0`, or `0.0.0.0:0` for the token).
    pub web: SocketAddr,
    /// serve's `--encoding`.
    pub charset: Charset,
    /// The page's history.
    pub history_bytes: usize,
    /// serve's flags the page starts with.
    pub defaults: picow_web::Defaults,
    /// The terminal view's macros.
    pub macros: Vec<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            web: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            charset: Charset::Utf8,
            history_bytes: 1 << 20,
            defaults: picow_web::Defaults::default(),
            macros: Vec::new(),
        }
    }
}

/// serve's engine with the page, in this process.
#[derive(Debug)]
pub struct Serve {
    /// The boards' port on 127.0.0.1.
    pub port: u16,
    /// The page's port (connect to 127.0.0.1 whatever it is bound to).
    pub web_port: u16,
    /// The token, when the page needs one.
    pub token: Option<String>,
    /// Events the engine reported, as `--json` lines.
    pub events: Arc<Mutex<Vec<u8>>>,
    stop: Option<oneshot::Sender<()>>,
    engine: Option<tokio::task::JoinHandle<std::io::Result<picow_serve::Outcome>>>,
}

/// An observer that keeps the `--json` lines for the test to read.
struct Keep(Arc<Mutex<Vec<u8>>>);

impl Observer for Keep {
    fn event(
        &mut self,
        at: std::time::SystemTime,
        event: &picow_serve::Event,
    ) -> std::io::Result<()> {
        let mut v = self.0.lock().unwrap();
        picow_serve::observe::Json::new(&mut *v).event(at, event)
    }
}

impl Serve {
    pub async fn start(setup: Setup) -> Serve {
        let listener = picow_serve::bind(Some(Ipv4Addr::LOCALHOST.into()), 0, false).unwrap();
        let port = match &listener {
            Listener::Tcp(ls) => ls[0].local_addr().unwrap().port(),
            Listener::Udp(s) => s.local_addr().unwrap().port(),
        };
        let server = WebServer::bind(setup.web).await.unwrap();
        let web_port = server.local_addr().port();
        let token = server.access().token().map(|t| t.reveal().to_owned());
        let (ctl_tx, ctl_rx) = mpsc::channel(64);
        let (bridge, observer) = picow_web::bridge(
            ctl_tx.clone(),
            Options {
                charset: setup.charset,
                history_bytes: setup.history_bytes,
                defaults: setup.defaults,
                macros: setup.macros.clone(),
                ..Options::default()
            },
        );
        let events = Arc::new(Mutex::new(Vec::new()));
        let observers: Vec<Box<dyn Observer>> = vec![
            Box::new(picow_serve::observe::Threaded::new(Box::new(observer))),
            Box::new(Keep(events.clone())),
        ];
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (web_stop_tx, web_stop_rx) = oneshot::channel::<()>();
        tokio::spawn(server.run(Arc::new(bridge), async move {
            let _ = web_stop_rx.await;
        }));
        let cfg = Config {
            charset: setup.charset,
            ..Config::default()
        };
        let engine = tokio::spawn(async move {
            let r = picow_serve::run(listener, cfg, observers, ctl_rx, async move {
                let _ = stop_rx.await;
            })
            .await;
            let _ = web_stop_tx.send(());
            r
        });
        Serve {
            port,
            web_port,
            token,
            events,
            stop: Some(stop_tx),
            engine: Some(engine),
        }
    }

    /// The page's address as a person opens it.
    pub fn url(&self) -> String {
        match &self.token {
            Some(t) => format!("http://127.0.0.1:{}/?token={t}", self.web_port),
            None => format!("http://127.0.0.1:{}/", self.web_port),
        }
    }

    /// The `--json` lines so far.
    pub fn json(&self) -> Vec<serde_json::Value> {
        let v = self.events.lock().unwrap().clone();
        String::from_utf8(v)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Stops the engine and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(e) = self.engine.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), e).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A fake board: greets with its name, answers `I got:` + what it gets,
/// and keeps everything it received.
#[derive(Debug)]
pub struct Board {
    pub received: Arc<Mutex<Vec<u8>>>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl Board {
    pub async fn connect(port: u16, name: &str) -> Board {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let (mut rd, mut wr) = stream.into_split();
        wr.write_all(format!("Hello WalnutPi! ({name})").as_bytes())
            .await
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let got = received.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                tokio::select! {
                    r = rd.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            got.lock().unwrap().extend_from_slice(&buf[..n]);
                            let mut reply = b"I got:".to_vec();
                            reply.extend_from_slice(&buf[..n]);
                            if wr.write_all(&reply).await.is_err() { return; }
                        }
                    },
                    out = rx.recv() => match out {
                        Some(b) => if wr.write_all(&b).await.is_err() { return; },
                        None => return,
                    },
                }
            }
        });
        Board { received, tx, task }
    }

    /// Sends bytes as the board.
    pub fn send(&self, bytes: &[u8]) {
        self.tx.send(bytes.to_vec()).unwrap();
    }

    pub fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `f` holds, at most `secs` seconds; panics with `what`.
pub async fn until<F, Fut>(what: &str, secs: u64, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Where the browser tests leave their screenshots for a person to look at.
pub fn output_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("picow-web");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A headless Chromium in `lang` (picow-bench's guard: dropping it, also
/// when a test panics, kills chromedriver's whole process group and removes
/// the profile and the downloads).
pub async fn browser(lang: &str) -> Browser {
    Browser::start(chrome::Options {
        lang: lang.into(),
        ..chrome::Options::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs JavaScript in the page and returns its value.
pub async fn js(c: &chrome::fantoccini::Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.unwrap()
}
