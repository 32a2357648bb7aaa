//! The `picow` binary as a user runs it: help, version, completions, exit
//! codes, input errors and broken pipes.

use crate::common;

use std::io::Read;
use std::process::Stdio;

use common::{output as picow, text};

#[test]
fn help_lists_the_subcommands() {
    let out = picow(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in ["serve", "flash", "monitor", "probe", "sim", "completions"] {
        assert!(help.contains(sub), "--help lacks {sub}:\n{help}");
    }
    assert!(help.contains("124"), "--help documents exit codes:\n{help}");
}

#[test]
fn version_names_the_git_revision() {
    let out = picow(&["--version"]);
    assert!(out.status.success());
    let v = text(&out.stdout);
    assert!(
        v.starts_with(concat!("picow ", env!("CARGO_PKG_VERSION"), " (")),
        "{v}"
    );
    assert!(v.trim_end().ends_with(')'), "{v}");
}

#[test]
fn unknown_flag_exits_2() {
    let out = picow(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--no-such-flag"));
    // (`--port 0` binds a free port now; 70000 is out of range.)
    let out = picow(&["serve", "--port", "70000"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--port"));
}

#[test]
fn completions_for_bash() {
    let out = picow(&["completions", "bash"]);
    assert!(out.status.success());
    let script = text(&out.stdout);
    assert!(script.contains("_picow()"), "{script}");
    assert!(script.contains("complete -F _picow"), "{script}");
}

#[test]
fn broken_pipe_is_not_an_error() {
    let mut child = common::picow()
        .args(["completions", "zsh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end before reading anything: the write fails with EPIPE.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn flash_input_errors_name_the_flag_and_hide_the_password() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--wifi", "Home:short77", "--server", "h:1"],
            "--wifi: wifi password",
        ),
        (
            &["--wifi", ":secret123", "--server", "h:1"],
            "--wifi: wifi: expected",
        ),
        (
            &["--wifi", &"s".repeat(33), "--server", "h:1"],
            "wifi SSID: must be 1 to 32 bytes",
        ),
        (
            &["--wifi", "Home:secret123", "--server", "h:0"],
            "--server: server port",
        ),
        (
            &["--wifi", "Home:secret123", "--server", "h"],
            "missing port",
        ),
        (
            &["--wifi", "Home:secret123", "--server", "fe80::1:9"],
            "brackets",
        ),
        (
            &["--wifi", "Home:secret123", "--server", "1.2.3.999:9"],
            "server host",
        ),
        (
            &[
                "--wifi",
                "Home:secret123",
                "--server",
                "h:1",
                "--name",
                "a b",
            ],
            "--name: board name",
        ),
        (&["--wifi", "Home:secret123"], "--server is required"),
        (&["--wifi", "Home:secret123"], "give --server auto"),
        (
            &["--wifi", "Home:secret123", "--server", "auto:10000"],
            "invalid --server: server: auto finds the server and its port by itself",
        ),
        (
            &["--wifi", "Home:secret123", "--server", "auto:"],
            "server instance",
        ),
        (&["--server", "h:1"], "no Wi-Fi given"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["flash"];
        all.extend_from_slice(args);
        let out = picow(&all);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in {err}"
        );
        for secret in ["short77", "secret123"] {
            assert!(!err.contains(secret), "{args:?} leaked the password: {err}");
        }
    }
}
