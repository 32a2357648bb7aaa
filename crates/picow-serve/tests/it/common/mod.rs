//! Helpers shared by the `serve*` tests: run the engine in-process on
//! 127.0.0.1:0 and watch its events.
#![allow(dead_code)] // each test binary uses a part

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use picow_serve::{self as engine, Config, Control, Event, Listener, Observer, Outcome};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Forwards every event to a channel.
pub struct Collector(pub mpsc::UnboundedSender<Event>);

impl Observer for Collector {
    fn event(&mut self, _at: SystemTime, event: &Event) -> io::Result<()> {
        let _ = self.0.send(event.clone());
        Ok(())
    }
}

/// A `Write` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A running engine.
pub struct Server {
    pub addr: SocketAddr,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub control: mpsc::Sender<Control>,
    pub log: SharedBuf,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<io::Result<Outcome>>,
}

impl Server {
    /// Starts the engine on 127.0.0.1:0 (TCP) with `cfg`, a log and a
    /// collector.
    pub async fn start(cfg: Config) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        Self::start_with(Listener::Tcp(vec![l]), addr, cfg, vec![]).await
    }

    /// Starts the engine on a given listener, with extra observers.
    pub async fn start_with(
        listener: Listener,
        addr: SocketAddr,
        cfg: Config,
        mut extra: Vec<Box<dyn Observer>>,
    ) -> Server {
        let (etx, events) = mpsc::unbounded_channel();
        let (ctx, crx) = mpsc::channel(16);
        let (stop, stopped) = oneshot::channel::<()>();
        let log = SharedBuf::default();
        let mut observers: Vec<Box<dyn Observer>> = vec![
            Box::new(Collector(etx)),
            Box::new(picow_serve::observe::Log::new(log.clone())),
        ];
        observers.append(&mut extra);
        let task = tokio::spawn(engine::run(listener, cfg, observers, crx, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            events,
            control: ctx,
            log,
            stop: Some(stop),
            task,
        }
    }

    /// The next event that `pick` accepts; earlier ones are dropped.
    pub async fn wait_for<T>(&mut self, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        loop {
            let e = self.events.recv().await.expect("the engine stopped");
            if let Some(t) = pick(&e) {
                return t;
            }
        }
    }

    /// Stops it like Ctrl-C and returns how it ended.
    pub async fn stop(mut self) -> (Outcome, Vec<Event>) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let outcome = self.task.await.unwrap().unwrap();
        let mut rest = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            rest.push(e);
        }
        (outcome, rest)
    }

    /// Waits for the engine to end by itself.
    pub async fn finish(mut self) -> (Outcome, Vec<Event>) {
        let outcome = (&mut self.task).await.unwrap().unwrap();
        let mut rest = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            rest.push(e);
        }
        (outcome, rest)
    }
}

/// The log parsed: per client id, its peer and the bytes in and out.
#[derive(Debug, Default)]
pub struct LogBytes {
    pub peer: HashMap<u64, String>,
    pub bytes_in: HashMap<u64, Vec<u8>>,
    pub bytes_out: HashMap<u64, Vec<u8>>,
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

pub fn parse_log(text: &str) -> LogBytes {
    let mut out = LogBytes::default();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a log line is JSON");
        let id = v["id"].as_u64().unwrap();
        if v["event"] == "connected" {
            out.peer.insert(id, v["peer"].as_str().unwrap().to_owned());
            continue;
        }
        // A read or write is logged as `text` (valid UTF-8) or `hex`.
        let bytes: Vec<u8> = match (v["text"].as_str(), v["hex"].as_str()) {
            (Some(t), None) => t.as_bytes().to_vec(),
            (None, Some(hex)) => {
                assert!(
                    std::str::from_utf8(&unhex(hex)).is_err(),
                    "valid UTF-8 logged as hex: {line}"
                );
                unhex(hex)
            }
            (None, None) => continue,
            (Some(_), Some(_)) => panic!("both text and hex: {line}"),
        };
        assert_eq!(bytes.len() as u64, v["len"].as_u64().unwrap());
        let map = match v["dir"].as_str().unwrap() {
            "in" => &mut out.bytes_in,
            "out" => &mut out.bytes_out,
            d => panic!("unknown direction {d}"),
        };
        map.entry(id).or_default().extend_from_slice(&bytes);
    }
    out
}

/// A config with a pattern list.
pub fn expecting(pats: &[&str]) -> Config {
    Config {
        expects: pats.iter().map(|p| regex::Regex::new(p).unwrap()).collect(),
        ..Config::default()
    }
}
