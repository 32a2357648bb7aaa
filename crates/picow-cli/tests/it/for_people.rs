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
    board.write_all(b"Hello WalnutPi!").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 128];
    while !got.ends_with(b"ping") {
        let n = board.read(&mut buf).unwrap();
        assert!(n > 0, "serve closed before sending ping");
        got.extend_from_slice(&buf[..n]);
    }
    board.write_all(b"I got:ping").unwrap();
    assert_eq!(common::wait_exit(&mut child, 30), Some(0), "{locale}");
    let mut out = first;
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
