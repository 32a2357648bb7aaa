//! Errors and languages as a person meets them: one `error: …` paragraph
//! that says what to do, no backtrace unless asked for with `--debug`, and
//! messages in Chinese under a Chinese locale.
//!
//! These tests need a machine without an Espressif board plugged in (CI's).

use crate::common;

use common::text;

fn monitor_without_board(envs: &[(&str, &str)], extra: &[&str]) -> (Option<i32>, String) {
    let mut c = common::picow();
    c.arg("monitor").args(extra).env("RUST_BACKTRACE", "1");
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    (out.status.code(), text(&out.stderr))
}

#[test]
fn no_board_is_one_paragraph_of_advice_without_a_backtrace() {
    let (code, err) = monitor_without_board(&[], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one paragraph:\n{err}");
    assert!(err.starts_with("error: no Espressif board"), "{err}");
    for advice in ["data cable", "KEY (BOOT)", "`picow probe`", "--port"] {
        assert!(err.contains(advice), "no {advice:?} in:\n{err}");
    }
    for noise in ["BACKTRACE", "   0:", ".rs:", "Location"] {
        assert!(!err.contains(noise), "{noise:?} in:\n{err}");
    }
}

#[test]
fn debug_with_rust_backtrace_shows_the_technical_report() {
    for how in [&[][..], &[("PICOW_DEBUG", "1")][..]] {
        let extra: &[&str] = if how.is_empty() { &["--debug"] } else { &[] };
        let (code, err) = monitor_without_board(how, extra);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.starts_with("error: no Espressif board"), "{err}");
        assert!(err.contains("BACKTRACE"), "{err}");
        assert!(err.contains("picow_cli"), "{err}");
    }
    // PICOW_DEBUG=0 is off.
    let (_, err) = monitor_without_board(&[("PICOW_DEBUG", "0")], &[]);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn no_board_in_chinese_under_a_chinese_locale() {
    for (var, value) in [("LC_ALL", "zh_CN.UTF-8"), ("LC_MESSAGES", "zh_CN.UTF-8")] {
        let mut envs = vec![(var, value)];
        if var != "LC_ALL" {
            envs.push(("LC_ALL", ""));
        }
        let (code, err) = monitor_without_board(&envs, &[]);
        assert_eq!(code, Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("错误：没有找到乐鑫"), "{var}: {err}");
        for advice in ["数据", "KEY（BOOT）", "`picow probe`", "--port"] {
            assert!(err.contains(advice), "no {advice:?} in:\n{err}");
        }
    }
    // LC_ALL=C wins over a Chinese LANG.
    let (_, err) = monitor_without_board(&[("LANG", "zh_CN.UTF-8")], &[]);
    assert!(err.starts_with("error: "), "{err}");
}

/// One scripted `picow serve` session under `locale` (`LC_ALL`): a client
/// that greets and echoes like the tutorial's board. Returns stdout.
fn serve_session(locale: &str, global: &[&str]) -> String {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::time::Duration;

    let mut child = common::Kill(
        common::picow()
            .env("LC_ALL", locale)
            .args(global)
            .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--send", "ping", "--expect", "Hello WalnutPi!"])
            .args(["--expect", "I got:ping", "--timeout", "30s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = common::lines(&mut child);
    let first = lines.recv_timeout(Duration::from_secs(60)).unwrap();
    let port = common::listening_port(&first);
    let mut board = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    board
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut out = first;
    // Lines up to the `n`th that holds `word` (serve's events of one step
    // come in a fixed order, but the steps must not overlap: the board acts
    // only after serve has said what it did, so both runs print the same).
    let mut upto = |word: &str, n: usize| {
        let mut seen = 0;
        while seen < n {
            let l = lines.recv_timeout(Duration::from_secs(30)).unwrap();
            seen += usize::from(l.contains(word));
            out.push('\n');
            out.push_str(&l);
        }
    };
    // serve sends `ping` as the board connects.
    let mut got = Vec::new();
    let mut buf = [0u8; 128];
    while !got.ends_with(b"ping") {
        let n = board.read(&mut buf).unwrap();
        assert!(n > 0, "serve closed before sending ping");
        got.extend_from_slice(&buf[..n]);
    }
    upto("ping", 1);
    board.write_all(b"Hello WalnutPi!").unwrap();
    // The data and the expectation met.
    upto("Hello WalnutPi!", 2);
    board.write_all(b"I got:ping").unwrap();
    assert_eq!(common::wait_exit(&mut child, 30), Some(0), "{locale}");
    while let Ok(l) = lines.recv_timeout(Duration::from_secs(10)) {
        out.push('\n');
        out.push_str(&l);
    }
    out
}

#[test]
fn serve_speaks_the_locales_language_and_its_json_does_not() {
    let zh = serve_session("zh_CN.UTF-8", &[]);
    let en = serve_session("C", &[]);
    for (zh_word, en_word) in [
        (
            "picow serve：正在监听 TCP 127.0.0.1:",
            "picow serve: listening on TCP 127.0.0.1:",
        ),
        ("已连接，来自 127.0.0.1:", "connected from 127.0.0.1:"),
        ("是一块 PicoW", "is a PicoW"),
        (
            "第 2 个期望 /I got:ping/ 已在 #1 看到",
            "expect 2 /I got:ping/ seen from #1",
        ),
        ("汇总：1 个客户端", "summary: 1 client(s)"),
    ] {
        assert!(zh.contains(zh_word), "{zh_word:?} not in:\n{zh}");
        assert!(en.contains(en_word), "{en_word:?} not in:\n{en}");
        assert!(!en.contains(zh_word), "{en}");
    }
    // What the board sent is the same bytes in both.
    for same in ["#1 < Hello WalnutPi!", "#1 > ping", "#1 < I got:ping"] {
        assert!(zh.contains(same) && en.contains(same), "{same}");
    }

    // --json: byte for byte the same, once the times, the ports and the
    // duration (which differ from run to run) are masked.
    let mask = |s: &str| {
        let t = regex::Regex::new(r#""t":"[^"]*""#).unwrap();
        let port = regex::Regex::new(r":\d{2,5}\b").unwrap();
        let secs = regex::Regex::new(r#""seconds":[0-9.e-]+"#).unwrap();
        let s = t.replace_all(s, "\"t\":T");
        let s = port.replace_all(&s, ":PORT");
        secs.replace_all(&s, "\"seconds\":S").into_owned()
    };
    let zh = serve_session("zh_CN.UTF-8", &["--json"]);
    let en = serve_session("C", &["--json"]);
    assert!(zh.lines().count() >= 8, "{zh}");
    assert!(!zh.contains("正在监听") && !zh.contains("汇总"), "{zh}");
    assert_eq!(mask(&zh), mask(&en));
}

/// Runs `picow ARGS` under `LC_ALL=locale` with `RUST_BACKTRACE=1` (as on a
/// developer's machine), stdin closed; returns (exit code, stdout, stderr).
fn run_in(locale: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::picow()
        .env("LC_ALL", locale)
        .env("RUST_BACKTRACE", "1")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// An error as people should meet it: one paragraph starting with
/// `error:` (or `错误：`) that holds every one of `says`, with neither a
/// backtrace nor the hint to go and look for technical details.
fn one_paragraph(err: &str, zh: bool, says: &[&str]) {
    let start = if zh { "错误：" } else { "error: " };
    let para: Vec<&str> = err.lines().filter(|l| l.starts_with(start)).collect();
    assert_eq!(para.len(), 1, "one error paragraph:\n{err}");
    for s in says {
        assert!(para[0].contains(s), "no {s:?} in:\n{err}");
    }
    for noise in ["BACKTRACE", "   0:", ".rs:", "Location", "--debug"] {
        assert!(!err.contains(noise), "{noise:?} in:\n{err}");
    }
    if zh {
        // Nothing left in English but the names the user types.
        for english in ["not found", "could not", "cannot", "Check the name"] {
            assert!(!para[0].contains(english), "{english:?} in:\n{err}");
        }
    }
}

fn firmware(dir: &std::path::Path) -> String {
    let p = dir.join("fw.elf");
    std::fs::write(
        &p,
        picow_cli::esp::fixture::synthetic_elf(Some("esp32c3"), 4000),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

const WIFI: &str = "PicoLab:correct-horse";

#[test]
fn a_missing_port_is_named_with_what_to_do_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware(dir.path());
    let missing = format!("/dev/picow-missing-{}", std::process::id());
    let commands: Vec<Vec<&str>> = vec![
        vec!["probe", "--port", &missing],
        vec!["monitor", "--port", &missing],
        vec![
            "flash",
            "--firmware",
            &fw,
            "--wifi",
            WIFI,
            "--server",
            "10.0.0.1:8080",
            "--port",
            &missing,
        ],
    ];
    for args in &commands {
        let (code, out, err) = run_in("C", args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        one_paragraph(&err, false, &[&missing, "not found", "`picow probe`"]);
        let (code, out, err) = run_in("zh_CN.UTF-8", args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        one_paragraph(&err, true, &[&missing, "找不到串口", "`picow probe`"]);
        // What a script reads does not change with the language.
        let json: Vec<&str> = [&["--json"][..], args].concat();
        let en = run_in("C", &json);
        let zh = run_in("zh_CN.UTF-8", &json);
        assert_eq!((en.0, &en.1), (zh.0, &zh.1), "{args:?}");
        assert_eq!(en.0, Some(1), "{args:?}");
    }
}

#[test]
fn a_busy_port_says_who_may_hold_it_in_both_languages() {
    use serialport::SerialPort;
    let (_master, mut held) = serialport::TTYPort::pair().unwrap();
    held.set_exclusive(true).unwrap();
    let port = held.name().unwrap();
    for args in [
        vec!["probe", "--port", &port],
        vec!["monitor", "--port", &port],
    ] {
        let (code, _, err) = run_in("C", &args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        one_paragraph(&err, false, &[&port, "is busy", "close that program"]);
        let (code, _, err) = run_in("zh_CN.UTF-8", &args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        one_paragraph(&err, true, &[&port, "正被占用", "关掉那个程序"]);
    }
}

#[test]
fn a_port_without_a_loader_says_how_to_enter_download_mode_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware(dir.path());
    // A serial port where nothing answers: a pty whose other end is silent.
    let (_master, slave) = serialport::TTYPort::pair().unwrap();
    let port = serialport::SerialPort::name(&slave).unwrap();
    drop(slave);
    let args = [
        "flash",
        "--firmware",
        &fw,
        "--wifi",
        WIFI,
        "--server",
        "10.0.0.1:8080",
        "--port",
        &port,
    ];
    let (code, _, err) = run_in("C", &args);
    assert_eq!(code, Some(1), "{err}");
    one_paragraph(&err, false, &[&port, "download mode", "KEY (BOOT)"]);
    let (code, _, err) = run_in("zh_CN.UTF-8", &args);
    assert_eq!(code, Some(1), "{err}");
    one_paragraph(&err, true, &[&port, "下载模式", "KEY（BOOT）"]);
}

#[test]
fn an_update_over_wifi_to_nobody_says_what_to_check_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware(dir.path());
    // A port on loopback that nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let board = closed.local_addr().unwrap().to_string();
    drop(closed);
    let args = [
        "flash",
        "--firmware",
        &fw,
        "--ota",
        &board,
        "--ota-password",
        "correct-horse",
    ];
    let (code, _, err) = run_in("C", &args);
    assert_eq!(code, Some(1), "{err}");
    one_paragraph(
        &err,
        false,
        &[&board, "cannot connect", "picow flash --keep-config"],
    );
    let (code, _, err) = run_in("zh_CN.UTF-8", &args);
    assert_eq!(code, Some(1), "{err}");
    one_paragraph(&err, true, &[&board, "连不上", "picow flash --keep-config"]);
    assert_eq!(err.matches(board.as_str()).count(), 2, "{err}");
    // The JSON event says the same English in both.
    let json: Vec<&str> = [&["--json"][..], &args].concat();
    let en = run_in("C", &json);
    let zh = run_in("zh_CN.UTF-8", &json);
    assert_eq!((en.0, &en.1), (zh.0, &zh.1));
    assert!(
        en.1.contains(r#""error":""#) && en.1.contains("cannot connect"),
        "{}",
        en.1
    );
}

#[test]
fn the_loopback_server_warning_is_in_the_users_language() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware(dir.path());
    for (locale, says) in [
        (
            "C",
            "warning: --server tcp://127.0.0.1:8080 is a loopback address",
        ),
        (
            "zh_CN.UTF-8",
            "警告：--server tcp://127.0.0.1:8080 是回环地址",
        ),
    ] {
        let image = dir.path().join(format!("{locale}.bin"));
        let (code, _, err) = run_in(
            locale,
            &[
                "flash",
                "--firmware",
                &fw,
                "--wifi",
                WIFI,
                "--server",
                "127.0.0.1:8080",
                "--save-image",
                image.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains(says), "{says:?} not in:\n{err}");
        // The lines that follow are in the same language.
        let (wrote, no_ota) = if locale == "C" {
            ("wrote ", "no OTA password: updates over Wi-Fi are off")
        } else {
            ("已写入 ", "没有 OTA 密码：不能通过 Wi-Fi 更新")
        };
        assert!(err.contains(wrote) && err.contains(no_ota), "{err}");
        assert!(image.exists());
    }
}

#[test]
fn a_virtual_board_given_bad_paths_or_a_taken_port_says_so_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let flash_s = flash.to_str().unwrap();
    let exists = dir.path().join("exists");
    std::fs::write(&exists, b"").unwrap();
    let exists_s = exists.to_str().unwrap();
    let missing = dir.path().join("no-such-dir").join("board");
    let missing_s = missing.to_str().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let cases: Vec<(Vec<&str>, [&str; 2], [&str; 2])> = vec![
        (
            vec!["--link", missing_s],
            ["does not exist", "create it"],
            ["不存在", "请先创建它"],
        ),
        (
            vec!["--link", exists_s],
            ["exists and is not a symlink", "choose another path"],
            ["不是符号链接", "请换一个路径"],
        ),
        (
            vec!["--ota-port", &port],
            ["cannot listen on", "0 for any free one"],
            ["无法在", "用 0 自动选"],
        ),
    ];
    for (args, en, zh) in &cases {
        let all: Vec<&str> = [&["sim", "--flash", flash_s][..], args].concat();
        let (code, _, err) = run_in("C", &all);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        one_paragraph(&err, false, &[args[1], en[0], en[1]]);
        let (code, _, err) = run_in("zh_CN.UTF-8", &all);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        one_paragraph(&err, true, &[args[1], zh[0], zh[1]]);
        assert!(!flash.exists(), "{args:?}: the flash file was made");
    }
}

#[test]
fn probes_list_speaks_the_locales_language_and_its_json_does_not() {
    let (code, en, err) = run_in("C", &["probe"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, zh, err) = run_in("zh_CN.UTF-8", &["probe"]);
    assert_eq!(code, Some(0), "{err}");
    // Whatever ports this machine has, each English sentence has its
    // Chinese one, and the port names are the same.
    for (en_says, zh_says) in [
        ("no serial ports found", "一个串口都没有找到"),
        ("unknown (", "未知（"),
        ("not a USB device", "不是 USB 设备"),
        ("ESP chip in download mode", "下载模式的 ESP 芯片"),
        ("vendor MicroPython", "厂家的 MicroPython"),
    ] {
        assert_eq!(en.contains(en_says), zh.contains(zh_says), "{en}\n{zh}");
        assert!(!zh.contains(en_says), "{zh}");
    }
    let ports = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with(' '))
            .map(|l| l.split("  ").next().unwrap().to_string())
            .collect()
    };
    if !en.contains("no serial ports found") {
        assert_eq!(ports(&en), ports(&zh));
    }
    let en = run_in("C", &["--json", "probe"]);
    let zh = run_in("zh_CN.UTF-8", &["--json", "probe"]);
    assert_eq!((en.0, &en.1), (zh.0, &zh.1));
    assert!(en.1.starts_with('['), "{}", en.1);
}
