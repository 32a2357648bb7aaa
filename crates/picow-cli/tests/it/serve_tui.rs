//! `picow serve`'s terminal view in a real terminal: tmux runs it at
//! 100x30 on a private server, the test types keys with `send-keys` and
//! reads the screen with `capture-pane`, as a person would see it. Three
//! fake boards on 127.0.0.1 greet and echo like the tutorial's client.
//!
//! Needs tmux (`cargo xtask ci` installs it), so the tests are ignored in a
//! plain `cargo test`; run them with
//! `cargo test -p picow-cli --test it serve_tui:: -- --ignored`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const WAIT: Duration = Duration::from_secs(15);

/// A private tmux server running one program, removed on drop (also when
/// the test fails).
struct Tmux {
    socket: String,
    dir: PathBuf,
}

impl Tmux {
    /// Runs `picow ARGS` in a new `w`x`h` window with `env` added.
    fn start(args: &[&str], env: &[(&str, &str)], w: u16, h: u16) -> Tmux {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let socket = format!("picow-tui-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&socket);
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("tmux.conf");
        std::fs::write(&conf, "set -g history-limit 0\n").unwrap();
        let t = Tmux { socket, dir };
        // Through a shell that says how picow exited and keeps the pane:
        // what picow printed last stays readable.
        let mut cmd = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "\"$0\" \"$@\"; echo \"[exit $?]\"; sleep 60".to_owned(),
            env!("CARGO_BIN_EXE_picow").to_owned(),
        ];
        cmd.extend(args.iter().map(|s| s.to_string()));
        let mut c = t.tmux();
        c.arg("-f")
            .arg(&conf)
            .args([
                "new-session",
                "-d",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .args(&cmd)
            .env("LC_ALL", "C.UTF-8")
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", t.dir.join("state"))
            .env("XDG_CONFIG_HOME", t.dir.join("config"))
            .env("HOME", &t.dir)
            .env_remove("RUST_LOG");
        for (k, v) in env {
            c.env(k, v);
        }
        let ok = c
            .status()
            .expect("tmux runs (install it: apt-get install tmux)");
        assert!(ok.success(), "tmux new-session failed");
        t
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).stdin(Stdio::null());
        c
    }

    /// Named keys (`Enter`, `Left`, `C-q`, `Escape`), one at a time with a
    /// pause, so that a terminal never reads Esc and the next key as one.
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            assert!(self
                .tmux()
                .args(["send-keys", k])
                .status()
                .unwrap()
                .success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Text, typed as it is.
    fn text(&self, s: &str) {
        assert!(self
            .tmux()
            .args(["send-keys", "-l", s])
            .status()
            .unwrap()
            .success());
        std::thread::sleep(Duration::from_millis(60));
    }

    fn screen(&self) -> String {
        let out = self.tmux().args(["capture-pane", "-p"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok`; returns it.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "no {what} on the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_text(&self, text: &str) -> String {
        self.wait(&format!("`{text}`"), |s| s.contains(text))
    }

    /// Whether picow still runs.
    fn alive(&self) -> bool {
        !self.screen().contains("[exit ")
    }

    /// The port serve shows in its first lines.
    fn port(&self) -> u16 {
        let s = self.wait_text("listening on TCP 127.0.0.1:");
        let at = s.find("127.0.0.1:").unwrap() + "127.0.0.1:".len();
        s[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fake board: greets, echoes `I got:` + what it receives, records it.
struct Board {
    stream: TcpStream,
    got: Arc<Mutex<Vec<u8>>>,
    closed: Arc<AtomicBool>,
}

impl Board {
    fn connect(port: u16, name: &str) -> Board {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(format!("Hello WalnutPi! ({name})").as_bytes())
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let (mut r, g, c) = (stream.try_clone().unwrap(), got.clone(), closed.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        g.lock().unwrap().extend_from_slice(&buf[..n]);
                        let mut echo = b"I got:".to_vec();
                        echo.extend_from_slice(&buf[..n]);
                        let _ = r.write_all(&echo);
                    }
                }
            }
            c.store(true, Ordering::SeqCst);
        });
        Board {
            stream,
            got,
            closed,
        }
    }

    fn send(&mut self, b: &[u8]) {
        self.stream.write_all(b).unwrap();
    }

    fn got(&self) -> Vec<u8> {
        self.got.lock().unwrap().clone()
    }

    fn wait_got(&self, want: &[u8]) {
        let deadline = Instant::now() + WAIT;
        while self.got() != want {
            assert!(
                Instant::now() < deadline,
                "the board got {:02x?}, not {:02x?}",
                self.got(),
                want
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The data pane's rows (right of the client list), joined without their
/// indent: a wrapped line reads whole.
fn data_text(screen: &str) -> String {
    screen
        .lines()
        .filter_map(|l| l.split_once('│').map(|(_, r)| r.trim().to_owned()))
        .collect()
}

/// `HH:MM` now in UTC+8 (Asia/Shanghai has no daylight saving time).
fn shanghai_hhmm(t: SystemTime) -> String {
    let s = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() + 8 * 3600;
    format!("{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60)
}

fn wait_for(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs tmux; cargo xtask ci runs it"]
fn a_person_at_the_keyboard() {
    let before = SystemTime::now();
    let t = Tmux::start(
        &["serve", "--bind", "127.0.0.1", "--port", "0"],
        &[("TZ", "Asia/Shanghai")],
        100,
        30,
    );
    let port = t.port();
    let mut desk = Board::connect(port, "desk");
    t.wait_text("#1 is a PicoW named desk");
    let lab = Board::connect(port, "lab");
    t.wait_text("#2 is a PicoW named lab");
    let bench = Board::connect(port, "bench");
    let s = t.wait_text("Clients: 3 live");
    // Local time (TZ=Asia/Shanghai), not UTC.
    let after = SystemTime::now();
    let line = s
        .lines()
        .find(|l| l.contains("#1 < Hello WalnutPi! (desk)"))
        .unwrap_or_else(|| panic!("{s}"));
    let shown = &line.split_once('│').unwrap().1[..5];
    assert!(
        shown == shanghai_hhmm(before) || shown == shanghai_hhmm(after),
        "time {shown} is not Shanghai's {}:\n{s}",
        shanghai_hhmm(after)
    );

    // Esc never quits and disconnects no one: it clears the input line.
    t.text("abc");
    t.wait_text("all (3)> abc");
    // One Esc at a time: a terminal that reads two at once sees one key.
    t.keys(&["Escape"]);
    t.wait("the input line emptied by Esc", |s| {
        !s.contains("all (3)> abc")
    });
    t.keys(&["Escape"]);
    t.wait_text("Esc clears the input line");
    t.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(t.alive(), "serve quit on Esc:\n{}", t.screen());
    assert!(!desk.is_closed() && !lab.is_closed() && !bench.is_closed());
    assert!(t.screen().contains("Clients: 3 live"));

    // A real line editor: the line sent is exactly SabcXefE.
    t.keys(&["Tab"]);
    t.wait_text("to #1 desk");
    t.text("abcdef");
    t.keys(&["Left", "Left", "BSpace"]);
    t.text("X");
    t.keys(&["Home"]);
    t.text("S");
    t.keys(&["End"]);
    t.text("E");
    t.keys(&["Enter"]);
    desk.wait_got(b"SabcXefE");
    t.wait_text("#1 > SabcXefE");

    // A pasted block (bracketed paste) keeps its line breaks; Up brings
    // back the line sent before.
    assert!(t
        .tmux()
        .args(["set-buffer", "L1\nL2"])
        .status()
        .unwrap()
        .success());
    assert!(t
        .tmux()
        .args(["paste-buffer", "-p"])
        .status()
        .unwrap()
        .success());
    t.wait_text("#1 desk> L1↵L2");
    t.keys(&["Enter"]);
    desk.wait_got(b"SabcXefEL1\nL2");
    t.keys(&["Up", "Up"]);
    t.wait_text("#1 desk> SabcXefE");
    t.keys(&["C-u"]);
    t.wait("an empty input line", |s| {
        s.contains("#1 desk> \n") || s.lines().any(|l| l.trim_end() == "#1 desk>")
    });

    // A 300-character line is visible whole (wrapped).
    let long: String = (0..300)
        .map(|i| char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[i * 7 % 36]))
        .collect();
    desk.send(format!("{long}\r\n").as_bytes());
    t.wait("the whole 300-character line", |s| {
        data_text(s).contains(&long)
    });

    // /save writes exactly the bytes received after it, until /save.
    desk.send(b"not saved: before\n");
    t.wait_text("not saved: before");
    let file = t.dir.join("rx.bin");
    t.text(&format!("/save {}", file.display()));
    t.keys(&["Enter"]);
    t.wait_text("saving the bytes received from #1");
    let saved: &[u8] = b"\x00\xff saved \xe4\xb8\xad\r\nline two\n";
    desk.send(saved);
    t.wait_text(&format!("● save rx.bin {} B", saved.len()));
    t.text("/save");
    t.keys(&["Enter"]);
    t.wait_text(&format!("saved {} B to", saved.len()));
    desk.send(b"not saved: after\n");
    t.wait_text("not saved: after");
    assert_eq!(std::fs::read(&file).unwrap(), saved);

    // The selected board resets; 13 more come and go (14 departed); text
    // for the gone board stays in the input line with the reason.
    desk.close();
    lab.close();
    bench.close();
    t.wait_text("Clients: 0 live, 3 gone");
    t.text("queued");
    t.keys(&["Enter"]);
    let s = t.wait_text("is gone");
    assert!(s.contains("#1 desk (gone)> queued"), "{s}");
    for i in 0..11 {
        Board::connect(port, &format!("temp{i}")).close();
    }
    t.wait_text("Clients: 0 live, 14 gone");
    let desk = Board::connect(port, "desk");
    // Its old entry (#1) is now the live #15's past: 13 others stay gone.
    let s = t.wait_text("Clients: 1 live, 13 gone");
    let s = if s.contains("to #15 desk") {
        s
    } else {
        t.wait_text("to #15 desk")
    };
    assert!(
        s.lines().any(|l| l.starts_with("▶ #15 desk")),
        "the live board is visible and selected:\n{s}"
    );
    assert!(
        s.contains("#1 desk (gone)> queued") || s.contains("#15 desk> queued"),
        "{s}"
    );
    t.keys(&["Enter"]);
    desk.wait_got(b"queued");

    // Narrow: the client list becomes one line, the rest stays usable.
    assert!(t
        .tmux()
        .args(["resize-window", "-x", "80", "-y", "24"])
        .status()
        .unwrap()
        .success());
    let s = t.wait_text("Clients: 1 live, 13 gone │ ▶ #15 desk");
    assert!(s.lines().count() >= 23, "{s}");
    assert!(s.contains("F1 help") && s.contains("^Q quit"), "{s}");

    // Quitting asks while a board is connected; Enter (typed by habit)
    // and "n" stay.
    for answer in ["Enter", "n"] {
        t.keys(&["C-q"]);
        t.wait_text("Quit picow serve?");
        t.keys(&[answer]);
        wait_for("the quit prompt to close", || {
            !t.screen().contains("Quit picow serve?")
        });
        let s = t.wait_text("not quitting");
        assert!(t.alive() && !desk.is_closed(), "{answer}: {s}");
    }
    t.text("/quit");
    t.keys(&["Enter"]);
    wait_for("serve to exit after /quit", || !t.alive());
    wait_for("the board to be disconnected", || desk.is_closed());
    let s = t.screen();
    assert!(s.contains("summary: 15 client(s)"), "{s}");
    assert!(s.contains("[exit 0]"), "{s}");
}

/// The client-list column of a screen: what is left of the first `│` on
/// each row.
fn list_column(screen: &str) -> String {
    screen
        .lines()
        .map(|l| l.split('│').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[ignore = "needs tmux; cargo xtask ci runs it"]
fn the_client_list_scrolls_to_the_selected_board() {
    // 16 boards do not fit in a 16-row window: the list scrolls with the
    // selection, both ways.
    let t = Tmux::start(
        &["serve", "--bind", "127.0.0.1", "--port", "0"],
        &[],
        100,
        16,
    );
    let port = t.port();
    let mut boards = Vec::new();
    for i in 1..=16 {
        boards.push(Board::connect(port, &format!("b{i:02}")));
        t.wait_text(&format!("#{i} is a PicoW named b{i:02}"));
    }
    let s = t.wait_text("Clients: 16 live");
    assert!(
        !list_column(&s).contains("#16 b16"),
        "the last board should be below the list's end at first:\n{s}"
    );
    for _ in 0..16 {
        t.keys(&["Tab"]);
    }
    let s = t.wait_text("to #16 b16");
    let list = list_column(&s);
    assert!(
        list.lines().any(|l| l.starts_with("▶ #16 b16")),
        "the selected last board is on screen:\n{s}"
    );
    assert!(
        !list.contains("#1 b01"),
        "the list scrolled past the first board:\n{s}"
    );
    // Back to the first with Shift-Tab: the top is shown again.
    for _ in 0..15 {
        t.keys(&["BTab"]);
    }
    let s = t.wait_text("to #1 b01");
    let list = list_column(&s);
    assert!(
        list.lines().any(|l| l.starts_with("▶ #1 b01")),
        "the selected first board is on screen again:\n{s}"
    );
    assert!(!list.contains("#16 b16"), "{s}");
    drop(boards);
}

#[test]
#[ignore = "needs tmux; cargo xtask ci runs it"]
fn gbk_is_shown_and_sent() {
    let t = Tmux::start(
        &[
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--encoding",
            "gbk",
        ],
        &[],
        100,
        30,
    );
    let port = t.port();
    let mut b = Board::connect(port, "gbk");
    t.wait_text("#1 is a PicoW named gbk");
    b.send(&[0xc4, 0xe3, 0xba, 0xc3, b'\n']);
    t.wait_text("#1 < 你好");
    t.text("中文");
    t.wait_text("all (1)> 中文");
    t.keys(&["Enter"]);
    b.wait_got(&[0xd6, 0xd0, 0xce, 0xc4]);
    // A character GBK cannot write is refused, and stays.
    t.text("😀");
    t.keys(&["Enter"]);
    t.wait_text("cannot be written in GBK");
    assert_eq!(b.got(), [0xd6, 0xd0, 0xce, 0xc4]);
    t.keys(&["C-c"]);
    wait_for("serve to exit on Ctrl-C", || !t.alive());
}

#[test]
#[ignore = "needs tmux; cargo xtask ci runs it"]
fn a_chinese_locale_gets_a_chinese_view() {
    let t = Tmux::start(
        &["serve", "--bind", "127.0.0.1", "--port", "0"],
        &[("LC_ALL", "zh_CN.UTF-8")],
        100,
        30,
    );
    t.wait_text("客户端：0 个在线");
    // Bound to loopback: said in Chinese where the address would be.
    let s = t.wait_text("正在监听 TCP 127.0.0.1:");
    assert!(
        s.contains("F1 帮助") && s.contains("还没有开发板连上"),
        "{s}"
    );
    assert!(
        s.contains("只在 127.0.0.1 上监听") && !s.contains("--server 127.0.0.1"),
        "{s}"
    );
    t.text("/quit");
    t.keys(&["Enter"]);
    let s = t.wait_text("[exit 0]");
    assert!(s.contains("汇总："), "{s}");
}
