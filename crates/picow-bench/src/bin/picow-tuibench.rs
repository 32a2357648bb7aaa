//! `cargo xtask bench tui`'s measuring program: runs `picow serve` on a
//! pseudo-terminal of 160x45 (the full-screen view, or `--plain` lines as
//! the baseline), floods it from CLIENTS loopback clients at RATE lines a
//! second each for SECS seconds, and reads the terminal back through a
//! terminal emulator (vt100) as a person would see it.
//!
//! `picow-tuibench PICOW SECS CLIENTS RATE view|plain SCROLLBACK DIR`
//!
//! Prints one line: `result sent=B received=B logged=B frames=N secs=S
//! cpu=PERCENT rss_kib=K p50_us=U p99_us=U max_us=U samples=N`, where a
//! delay is taken at each frame (view) or read (plain) that shows lines not
//! shown before: from the send of the OLDEST of them to that moment, the
//! worst wait of the lines it brought (the newest line's wait, measured
//! before, understated the delay by up to a frame's worth of lines). Talks
//! only to 127.0.0.1.

#[cfg(not(unix))]
fn main() {
    eprintln!("picow-tuibench needs a Unix pseudo-terminal");
    std::process::exit(1);
}

#[cfg(unix)]
fn main() {
    if let Err(e) = unix::main() {
        eprintln!("picow-tuibench: {e}");
        std::process::exit(1);
    }
}

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::io::{Read, Write};
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    use rustix::termios::{tcsetwinsize, Winsize};
    use tokio::io::AsyncWriteExt;

    const COLS: u16 = 160;
    const ROWS: u16 = 45;
    const SIZE: usize = 64;

    #[derive(Default)]
    struct Seen {
        frames: u64,
        delays_us: Vec<u64>,
        port: Option<u16>,
        tail: Vec<u8>,
        /// Delays are taken while the clients send.
        measuring: bool,
        /// The send time of the newest line shown so far.
        shown: u128,
    }

    fn arg<T: std::str::FromStr>(a: &[String], i: usize, what: &str) -> Result<T, String> {
        a.get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("argument {i} ({what}) is missing or invalid"))
    }

    /// The newest send time among the lines `text` shows.
    /// The send times of the clients' lines in `text`.
    fn send_times(text: &str) -> Vec<u128> {
        text.lines()
            .filter(|l| l.contains(" s") && l.contains(" t"))
            .filter_map(|l| {
                l.split(' ')
                    .find_map(|w| w.strip_prefix('t')?.parse::<u128>().ok())
            })
            .collect()
    }

    fn cpu_ticks(pid: u32) -> u64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return 0;
        };
        // Fields after the command name (which may hold spaces).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // utime and stime are fields 14 and 15 (11 and 12 after the name).
        n(11) + n(12)
    }

    fn peak_rss_kib(pid: u32) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }

    pub fn main() -> Result<(), String> {
        let a: Vec<String> = std::env::args().skip(1).collect();
        let picow: PathBuf = arg(&a, 0, "PICOW")?;
        let secs: u64 = arg(&a, 1, "SECS")?;
        let clients: usize = arg(&a, 2, "CLIENTS")?;
        let rate: u64 = arg(&a, 3, "RATE")?;
        let mode: String = arg(&a, 4, "view|plain")?;
        let scrollback: u64 = arg(&a, 5, "SCROLLBACK")?;
        let dir: PathBuf = arg(&a, 6, "DIR")?;
        let view = mode == "view";
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;

        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .map_err(|e| format!("openpt: {e}"))?;
        grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
        unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
        let name = ptsname(&master, Vec::new()).map_err(|e| format!("ptsname: {e}"))?;
        let pts = PathBuf::from(name.to_string_lossy().into_owned());
        let ws = Winsize {
            ws_row: ROWS,
            ws_col: COLS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&master, ws).map_err(|e| format!("setting the window size: {e}"))?;
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&pts)
            .map_err(|e| format!("opening {}: {e}", pts.display()))?;
        let log = dir.join(format!("{mode}-{scrollback}.jsonl"));
        let _ = std::fs::remove_file(&log);
        let mut cmd = Command::new(&picow);
        cmd.args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--max-clients",
            "4096",
        ])
        .arg("--log")
        .arg(&log)
        .args(["--scrollback", &scrollback.to_string()]);
        if !view {
            cmd.arg("--plain");
        }
        let dup = |f: &File| f.try_clone().map(Stdio::from).map_err(|e| e.to_string());
        let mut child = cmd
            .stdin(dup(&slave)?)
            .stdout(dup(&slave)?)
            .stderr(dup(&slave)?)
            .env("LC_ALL", "C.UTF-8")
            .env("TERM", "xterm-256color")
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env_remove("RUST_LOG")
            .spawn()
            .map_err(|e| format!("starting {}: {e}", picow.display()))?;
        drop(slave);
        let pid = child.id();

        // The terminal: everything serve writes, through the emulator.
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut reader = File::from(master.try_clone().map_err(|e| e.to_string())?);
        let mut writer = File::from(master);
        let s2 = seen.clone();
        std::thread::spawn(move || {
            let nz = |v: u16| std::num::NonZeroU16::new(v).unwrap_or(std::num::NonZeroU16::MIN);
            let mut parser = vt100::Parser::new(nz(ROWS), nz(COLS), 0);
            let mut buf = vec![0u8; 1 << 16];
            let mut carry: Vec<u8> = Vec::new();
            const END_FRAME: &[u8] = b"\x1b[?2026l";
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let now = picow_bench::now_ns();
                let chunk = &buf[..n];
                parser.process(chunk);
                carry.extend_from_slice(chunk);
                let ends = carry
                    .windows(END_FRAME.len())
                    .filter(|w| *w == END_FRAME)
                    .count() as u64;
                let mut st = s2.lock().unwrap();
                st.tail.extend_from_slice(chunk);
                if st.tail.len() > 1 << 16 {
                    let cut = st.tail.len() - (1 << 15);
                    st.tail.drain(..cut);
                }
                let keep = carry.len().saturating_sub(END_FRAME.len() - 1);
                carry.drain(..keep);
                st.frames += ends;
                let screen = parser.screen().contents();
                if st.port.is_none() {
                    if let Some(at) = screen.find("127.0.0.1:") {
                        let p: String = screen[at + 10..]
                            .chars()
                            .take_while(char::is_ascii_digit)
                            .collect();
                        st.port = p.parse().ok();
                    }
                }
                // A sample per frame (view) or per read (plain lines).
                if (ends > 0 || !view) && st.measuring {
                    let text = if view {
                        screen
                    } else {
                        String::from_utf8_lossy(chunk).into_owned()
                    };
                    // The lines sent after the newest one shown before are
                    // new here: the oldest of them waited longest.
                    let shown = st.shown;
                    let new: Vec<u128> = send_times(&text)
                        .into_iter()
                        .filter(|t| *t > shown)
                        .collect();
                    if let (Some(oldest), Some(newest)) = (new.iter().min(), new.iter().max()) {
                        st.delays_us
                            .push((now.saturating_sub(*oldest) / 1000) as u64);
                        st.shown = *newest;
                    }
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Some(p) = seen.lock().unwrap().port {
                break p;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("serve showed no listening address within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        };

        // The load.
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let frames0 = seen.lock().unwrap().frames;
        seen.lock().unwrap().measuring = true;
        let cpu0 = cpu_ticks(pid);
        let started = Instant::now();
        rt.block_on(async {
            let s3 = seen.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                s3.lock().unwrap().measuring = false;
            });
            let mut tasks = Vec::new();
            for c in 0..clients {
                let sent = sent.clone();
                let stop = stop.clone();
                tasks.push(tokio::spawn(async move {
                    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                    else {
                        return;
                    };
                    let _ = s.set_nodelay(true);
                    let mut iv = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
                    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
                    let mut seq = 0;
                    let mut msg = Vec::with_capacity(SIZE);
                    while tokio::time::Instant::now() < end && !stop.load(Ordering::Relaxed) {
                        iv.tick().await;
                        msg.clear();
                        picow_bench::message(&mut msg, c, seq, picow_bench::now_ns(), SIZE);
                        if s.write_all(&msg).await.is_err() {
                            return;
                        }
                        sent.fetch_add(msg.len() as u64, Ordering::Relaxed);
                        seq += 1;
                    }
                    // Let serve take the last lines before closing.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        });
        let elapsed = started.elapsed().as_secs_f64();
        let cpu1 = cpu_ticks(pid);
        let rss = peak_rss_kib(pid);
        let frames = seen.lock().unwrap().frames - frames0;

        // Quit as a person would, and read the summary it leaves.
        writer
            .write_all(b"/quit\r")
            .map_err(|e| format!("typing /quit: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("serve did not exit within 30 s of /quit".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        let st = seen.lock().unwrap();
        let tail = String::from_utf8_lossy(&st.tail);
        let received: u64 = tail
            .rfind("received ")
            .and_then(|i| tail[i + 9..].split(' ').next().and_then(|n| n.parse().ok()))
            .ok_or_else(|| format!("no summary after /quit; the terminal showed: {tail}"))?;
        let logged: u64 = std::fs::read_to_string(&log)
            .map_err(|e| e.to_string())?
            .lines()
            .filter(|l| l.contains("\"dir\":\"in\""))
            .filter_map(|l| {
                let i = l.find("\"len\":")? + 6;
                l[i..].split(',').next()?.parse::<u64>().ok()
            })
            .sum();
        let mut d = st.delays_us.clone();
        d.sort_unstable();
        let pct = |p: f64| -> u64 {
            if d.is_empty() {
                0
            } else {
                d[((d.len() - 1) as f64 * p).round() as usize]
            }
        };
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let cpu = (cpu1 - cpu0) as f64 / ticks / elapsed * 100.0;
        println!(
            "result sent={} received={received} logged={logged} frames={frames} secs={elapsed:.1} \
             cpu={cpu:.1} rss_kib={rss} p50_us={} p99_us={} max_us={} samples={}",
            sent.load(Ordering::Relaxed),
            pct(0.5),
            pct(0.99),
            d.last().copied().unwrap_or(0),
            d.len()
        );
        let _ = std::fs::remove_file(&log);
        Ok(())
    }
}
