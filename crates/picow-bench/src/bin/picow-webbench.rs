//! `cargo xtask bench web`: `picow serve --web` with the page open in
//! headless Chromium, under 50 boards each sending 100 lines a second.
//!
//! `picow-webbench PICOW [SECONDS] [BOARDS] [RATE] [SCROLLBACKS]`
//! (defaults 60, 50, 100, `1000,5000`). For the same load it runs serve
//! without the page (the baseline), then with the page at each scroll-back
//! setting, and prints:
//! - whether anything was lost: serve's summary and `--log` against the
//!   bytes the boards sent, and the page's receive counter;
//! - the delay from a board's send to the line in the page's DOM (p50,
//!   p99, max), measured in the page by a MutationObserver on the data view
//!   (each line carries its send time; one clock for the whole machine);
//! - the page's JavaScript heap after a forced GC, every 10 s;
//! - serve's CPU time beside the baseline's, and the browser's.
//!
//! Everything talks to 127.0.0.1 only; the browser resolves no other name
//! and sends anything else to a closed local port.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use picow_bench::chrome::{self, Browser};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Res<T> = Result<T, String>;

fn usage() -> ! {
    eprintln!("usage: picow-webbench PICOW [SECONDS] [BOARDS] [RATE] [SCROLLBACK,...]");
    std::process::exit(2);
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// CPU time (user + system) of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command may hold spaces: fields count from after the `)`.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks as f64 / clk_tck()
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

struct Serve {
    child: Child,
    port: u16,
    web: Option<String>,
    lines: std::sync::mpsc::Receiver<String>,
    log: PathBuf,
}

fn start_serve(picow: &Path, web: bool, dir: &Path, tag: &str) -> Res<Serve> {
    let log = dir.join(format!("log-{tag}.jsonl"));
    let mut cmd = Command::new(picow);
    cmd.args([
        "--json",
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--log",
    ])
    .arg(&log)
    .args(["--max-clients", "1000"])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if web {
        cmd.args(["--web", "127.0.0.1:0"]);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", picow.display()))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let first: serde_json::Value = serde_json::from_str(
        &lines
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "serve printed nothing")?,
    )
    .map_err(|e| format!("serve's first line: {e}"))?;
    let local = first["local"][0].as_str().ok_or("no local address")?;
    let port = local
        .parse::<SocketAddr>()
        .map_err(|e| format!("{local}: {e}"))?
        .port();
    let mut url = None;
    if web {
        while url.is_none() {
            let l = lines
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| "no web page notice")?;
            let v: serde_json::Value = serde_json::from_str(&l).unwrap_or_default();
            if let Some(m) = v["message"].as_str() {
                if let Some(rest) = m.strip_prefix("web page: ") {
                    url = rest.split_whitespace().next().map(str::to_owned);
                }
            }
        }
    }
    Ok(Serve {
        child,
        port,
        web: url,
        lines,
        log,
    })
}

/// Stops serve with SIGTERM and returns its summary event.
fn stop_serve(mut s: Serve) -> Res<(serde_json::Value, PathBuf)> {
    let _ = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut summary = None;
    while Instant::now() < deadline {
        match s.lines.recv_timeout(Duration::from_secs(1)) {
            Ok(l) => {
                let v: serde_json::Value = serde_json::from_str(&l).unwrap_or_default();
                if v["event"] == "summary" {
                    summary = Some(v);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(_) => {}
        }
    }
    let _ = s.child.wait();
    Ok((summary.ok_or("serve printed no summary")?, s.log.clone()))
}

impl Drop for Serve {
    /// An early return leaves no serve running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bytes received (`dir: in`) in a `--log` file.
fn log_bytes_in(path: &Path) -> Res<u64> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut n = 0;
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).map_err(|e| format!("log line: {e}"))?;
        if v["dir"] == "in" {
            n += v["len"].as_u64().unwrap_or(0);
        }
    }
    Ok(n)
}

/// The boards: each greets, then sends `rate` lines a second for
/// `seconds`, each line `n:SEQ,t:UNIX_MS,temp:VALUE` (plottable, and
/// carrying its send time). Returns the bytes sent.
async fn boards(port: u16, n: usize, rate: u32, seconds: u64) -> Res<u64> {
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    for b in 0..n {
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .map_err(|e| format!("board {b}: {e}"))?;
            let hello = format!("Hello WalnutPi! (b{b})");
            s.write_all(hello.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            sent.fetch_add(hello.len() as u64, Ordering::Relaxed);
            let period = Duration::from_secs(1) / rate;
            // Spread the boards over the period.
            let first = start + period * (b as u32) / (n as u32);
            let mut iv = tokio::time::interval_at(first, period);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let total = u64::from(rate) * seconds;
            let (mut rd, mut wr) = s.into_split();
            let drain = tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(k) = rd.read(&mut buf).await {
                    if k == 0 {
                        break;
                    }
                }
            });
            for seq in 0..total {
                iv.tick().await;
                let v = 20.0 + 5.0 * ((seq as f64) / 50.0 + b as f64).sin();
                let line = format!("n:{seq},t:{},temp:{v:.2}\n", now_ms());
                wr.write_all(line.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                sent.fetch_add(line.len() as u64, Ordering::Relaxed);
            }
            drop(wr);
            drain.abort();
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(sent.load(Ordering::Relaxed))
}

/// The browser: picow_bench's guard, which kills chromedriver's whole
/// process group and removes the profile on every way out (an early
/// return, a panic).
async fn browser() -> Res<Browser> {
    Browser::start(chrome::Options {
        lang: "en".into(),
        args: vec![
            "--enable-precise-memory-info".into(),
            "--js-flags=--expose-gc".into(),
        ],
        ..chrome::Options::default()
    })
    .await
}

/// CPU seconds of the browser's processes (chromedriver's group).
fn browser_cpu(b: &Browser) -> f64 {
    b.process_group()
        .map(|g| {
            chrome::processes_in_group(g)
                .into_iter()
                .map(|p| cpu_secs(p as u32))
                .sum()
        })
        .unwrap_or(0.0)
}

async fn js(c: &chrome::fantoccini::Client, s: &str) -> Res<serde_json::Value> {
    c.execute(s, vec![])
        .await
        .map_err(|e| format!("script: {e}"))
}

/// Installed in the page: the delay from a board's send to the frame that
/// puts the line into the view (every line: the view's hook, called at the
/// end of the frame that drew it), and to the line's row entering the DOM
/// (the rows in view only: the data view is a virtual list, a line that
/// scrolls past within one frame never gets a row).
const OBSERVE: &str = r#"
// The benchmark's own record is allocated here, once, so that the page's
// heap measured later does not grow with it: room for 2^21 delays of each
// kind, and a byte per (client, line number) for the lines seen in the DOM.
const CAP = 1 << 21;
window.__lat = new Float64Array(CAP); window.__latN = 0;
window.__dom = new Float64Array(CAP); window.__domN = 0;
const seen = new Uint8Array(64 * 65536);
window.picowTest.view.onCommit = (es) => {
  const now = Date.now();
  for (const e of es) for (const g of (e.text || '').matchAll(/t:(\d{13})/g)) {
    if (window.__latN < CAP) window.__lat[window.__latN++] = now - Number(g[1]);
  }
};
const view = document.querySelector('[data-testid=data-view]');
new MutationObserver((ms) => {
  const now = Date.now();
  for (const m of ms) for (const n of m.addedNodes) {
    if (n.nodeType !== 1 || !n.classList.contains('l')) continue;
    const g = /#(\d+)\b.*n:(\d+),t:(\d{13})/.exec(n.textContent);
    if (!g) continue;
    const id = Number(g[1]), k = Number(g[2]);
    if (id >= 64 || k >= 65536 || seen[id * 65536 + k]) continue;
    seen[id * 65536 + k] = 1;
    if (window.__domN < CAP) window.__dom[window.__domN++] = now - Number(g[3]);
  }
}).observe(view, { childList: true, subtree: true });
return true;
"#;

/// PICOW_WEBBENCH_PROFILE: time spent in the plot's draws and resizes.
const PROFILE: &str = r#"
const p = window.picowTest.plot;
window.__prof = { draw: 0, draws: 0, resize: 0, resizes: 0 };
const d = p.draw.bind(p), r = p.resize.bind(p);
p.draw = () => { const t = performance.now(); d(); window.__prof.draw += performance.now() - t; window.__prof.draws++; };
p.resize = () => { const t = performance.now(); r(); window.__prof.resize += performance.now() - t; window.__prof.resizes++; };
window.__loaf = { n: 0, total: 0, script: 0, layout: 0, render: 0, by: {} };
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    const L = window.__loaf;
    L.n++; L.total += e.duration;
    const end = e.startTime + e.duration;
    if (e.renderStart) L.render += (e.styleAndLayoutStart || end) - e.renderStart;
    if (e.styleAndLayoutStart) L.layout += end - e.styleAndLayoutStart;
    for (const s of e.scripts) {
      L.script += s.duration;
      const k = (s.invoker || '?') + ' ' + (s.sourceFunctionName || '');
      L.by[k] = (L.by[k] || 0) + s.duration;
    }
  }
}).observe({ type: 'long-animation-frame', buffered: false });
return true;
"#;

const HEAP: &str = "if (window.gc) window.gc(); return performance.memory.usedJSHeapSize;";

const RESULT: &str = r#"
const stats = (l, n) => {
  const a = l.slice(0, n).sort();
  const q = (p) => a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : null;
  return { n: a.length, p50: q(0.5), p99: q(0.99), max: a.length ? a[a.length - 1] : null };
};
const st = window.picowTest.state();
return { view: stats(window.__lat, window.__latN), dom: stats(window.__dom, window.__domN),
         rx: document.querySelector('[data-testid=total-rx]').textContent.replace(/,/g, ''),
         rows: st.domRows, shown: st.shown };
"#;

struct Run {
    label: String,
    sent: u64,
    summary_in: u64,
    log_in: u64,
    page_rx: Option<u64>,
    serve_cpu: f64,
    browser_cpu: Option<f64>,
    /// Send → the frame that put the line into the view (every line).
    view: Option<Stats>,
    /// Send → the line's row entering the DOM (the lines that got a row).
    dom: Option<Stats>,
    heap: Vec<(u64, f64)>,
    /// Rows in the DOM and entries in the view at the end.
    rows: Option<u64>,
    shown: Option<u64>,
    /// How long after the last send the page's counter had every byte.
    caught_up: Option<f64>,
    /// The machine's load average (1 min) at the start and at the end.
    load: (f64, f64),
}

/// n, p50, p99, max (ms).
#[derive(Clone, Copy)]
struct Stats(u64, f64, f64, f64);

impl Stats {
    fn of(v: &serde_json::Value) -> Stats {
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        Stats(v["n"].as_u64().unwrap_or(0), f("p50"), f("p99"), f("max"))
    }
}

/// The 1-minute load average.
fn load_avg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

async fn run(
    picow: &Path,
    dir: &Path,
    page: Option<u32>,
    seconds: u64,
    n: usize,
    rate: u32,
) -> Res<Run> {
    let tag = page.map_or("baseline".to_owned(), |s| format!("web-{s}"));
    let serve = start_serve(picow, page.is_some(), dir, &tag)?;
    let pid = serve.child.id();
    let mut session = None;
    if let (Some(scrollback), Some(url)) = (page, serve.web.clone()) {
        let b = browser().await?;
        let c = b.client.clone();
        c.goto(&url).await.map_err(|e| format!("open {url}: {e}"))?;
        // The scroll-back under test and the plot open, as a person would
        // set them; then the page again with those settings.
        // PICOW_WEBBENCH_SETTINGS adds page settings for experiments
        // (e.g. `{"plot": false}`).
        let extra = std::env::var("PICOW_WEBBENCH_SETTINGS").unwrap_or_else(|_| "{}".into());
        js(
            &c,
            &format!(
                "localStorage.setItem('picow.settings', JSON.stringify(Object.assign({{scrollback: {scrollback}, plot: true}}, {extra}))); return 1"
            ),
        )
        .await?;
        c.goto(&url).await.map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        loop {
            let st = js(
                &c,
                "return document.querySelector('[data-testid=link-state]').dataset.state",
            )
            .await?;
            if st == "open" {
                break;
            }
            if t0.elapsed() > Duration::from_secs(20) {
                return Err("the page did not connect".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        js(&c, OBSERVE).await?;
        if std::env::var_os("PICOW_WEBBENCH_PROFILE").is_some() {
            js(&c, PROFILE).await?;
        }
        session = Some((b, c));
    }
    let load0 = load_avg();
    let cpu0 = cpu_secs(pid);
    let bcpu0 = session.as_ref().map(|(b, _)| browser_cpu(b));
    let load = tokio::spawn(boards(serve.port, n, rate, seconds));
    let mut heap = Vec::new();
    let started = Instant::now();
    if let Some((_, c)) = &session {
        let mut next = 10;
        while !load.is_finished() {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if started.elapsed().as_secs() >= next {
                let h = js(c, HEAP).await?.as_f64().unwrap_or(0.0);
                heap.push((next, h / (1 << 20) as f64));
                next += 10;
            }
        }
    }
    let sent = load.await.map_err(|e| e.to_string())??;
    // Until the page has every byte (at most 30 s).
    let done = Instant::now();
    let mut caught_up = None;
    if let Some((_, c)) = &session {
        while done.elapsed() < Duration::from_secs(30) {
            let rx = js(
                c,
                "return document.querySelector('[data-testid=total-rx]').textContent.replace(/,/g, '')",
            )
            .await?;
            if rx.as_str().and_then(|s| s.parse::<u64>().ok()) == Some(sent) {
                caught_up = Some(done.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The last frames.
        tokio::time::sleep(Duration::from_millis(500)).await;
    } else {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let load1 = load_avg();
    let serve_cpu = cpu_secs(pid) - cpu0;
    let browser_cpu = session
        .as_ref()
        .zip(bcpu0)
        .map(|((b, _), b0)| browser_cpu(b) - b0);
    let (mut view, mut dom, mut rows, mut shown, mut page_rx) = (None, None, None, None, None);
    if let Some((b, c)) = session {
        if std::env::var_os("PICOW_WEBBENCH_PROFILE").is_some() {
            println!("profile: {}", js(&c, "return window.__prof").await?);
            println!("long frames: {}", js(&c, "return window.__loaf").await?);
        }
        let r = js(&c, RESULT).await?;
        view = Some(Stats::of(&r["view"]));
        dom = Some(Stats::of(&r["dom"]));
        rows = r["rows"].as_u64();
        shown = r["shown"].as_u64();
        page_rx = r["rx"].as_str().and_then(|s| s.parse().ok());
        b.close().await;
    }
    let (summary, log) = stop_serve(serve)?;
    Ok(Run {
        label: tag,
        sent,
        summary_in: summary["bytes_in"].as_u64().unwrap_or(0),
        log_in: log_bytes_in(&log)?,
        page_rx,
        serve_cpu,
        browser_cpu,
        view,
        dom,
        heap,
        rows,
        shown,
        caught_up,
        load: (load0, load1),
    })
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let picow = PathBuf::from(args.first().unwrap_or_else(|| usage()));
    let num = |i: usize, d: u64| -> u64 {
        args.get(i)
            .map(|a| a.parse().unwrap_or_else(|_| usage()))
            .unwrap_or(d)
    };
    let seconds = num(1, 60);
    let n = num(2, 50) as usize;
    let rate = num(3, 100) as u32;
    let scrollbacks: Vec<u32> = args
        .get(4)
        .map_or("1000,5000", String::as_str)
        .split(',')
        .map(|s| s.parse().unwrap_or_else(|_| usage()))
        .collect();
    let dir = std::env::temp_dir().join(format!("picow-webbench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    println!(
        "{n} boards x {rate} lines/s x {seconds} s, picow {}",
        picow.display()
    );
    let mut runs = Vec::new();
    let mut failed = false;
    let mut plan: Vec<Option<u32>> = vec![None];
    plan.extend(scrollbacks.iter().map(|&s| Some(s)));
    for p in plan {
        match run(&picow, &dir, p, seconds, n, rate).await {
            Ok(r) => {
                println!(
                    "{}: sent {} B, serve's summary {} B, log {} B, page {:?} B; serve CPU {:.1} s",
                    r.label, r.sent, r.summary_in, r.log_in, r.page_rx, r.serve_cpu
                );
                runs.push(r);
            }
            Err(e) => {
                eprintln!("picow-webbench: {e}");
                failed = true;
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let base = runs.first().map_or(f64::NAN, |r| r.serve_cpu);
    println!();
    println!("| run | load avg start → end | lost (summary / log / page) | page had every byte | serve CPU | vs baseline | browser CPU | send→view p50 / p99 / max (every line) | send→DOM p50 / p99 / max (lines that got a row) | JS heap after GC (MiB) every 10 s | entries in the view / rows in the DOM at the end |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let lost =
            |got: Option<u64>| got.map_or("–".into(), |g| (r.sent as i64 - g as i64).to_string());
        let heap: Vec<String> = r.heap.iter().map(|(_, h)| format!("{h:.1}")).collect();
        let expected = (n as u64) * u64::from(rate) * seconds;
        let stats = |s: Option<Stats>| {
            s.map_or("–".into(), |Stats(k, a, b, c)| {
                format!("{a:.0} / {b:.0} / {c:.0} ms ({k} of {expected} lines)")
            })
        };
        println!(
            "| {} | {:.1} → {:.1} | {} / {} / {} | {} | {:.1} s | {:.2}× | {} | {} | {} | {} | {} |",
            r.label,
            r.load.0,
            r.load.1,
            lost(Some(r.summary_in)),
            lost(Some(r.log_in)),
            lost(r.page_rx),
            match (r.page_rx, r.caught_up) {
                (None, _) => "–".into(),
                (Some(_), Some(t)) => format!("{t:.1} s after the last send"),
                (Some(_), None) => "not within 30 s".into(),
            },
            r.serve_cpu,
            r.serve_cpu / base,
            r.browser_cpu.map_or("–".into(), |c| format!("{c:.1} s")),
            stats(r.view),
            stats(r.dom),
            if heap.is_empty() {
                "–".into()
            } else {
                heap.join(" ")
            },
            match (r.shown, r.rows) {
                (Some(s), Some(d)) => format!("{s} / {d}"),
                _ => "–".into(),
            },
        );
        if r.sent != r.summary_in || r.sent != r.log_in || r.page_rx.is_some_and(|p| p != r.sent) {
            failed = true;
        }
    }
    if failed {
        eprintln!("picow-webbench: bytes were lost or a run failed");
        std::process::exit(1);
    }
}
