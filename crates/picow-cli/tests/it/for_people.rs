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
