//! The firmware's behaviour (picow-app on its host board, real sockets on
//! 127.0.0.1) against the real `picow serve`: the tutorial's loop, end to end.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use picow_app::host::{flash_image, AccessPoint, HostBoard, HostConfig};
use picow_app::{run, AppInfo};
use picow_protocol::forms::{ServerAddr, WifiCredentials};
use picow_protocol::layout::LAYOUT_4MB;
use picow_protocol::DeviceConfig;
use tokio::task::LocalSet;

use common::free_port;

const SSID: &str = "WalnutPi";
const PASSWORD: &str = "12345678";

async fn app_against_serve(expect: &str, timeout: &str) -> (Option<i32>, String) {
    let port = free_port();
    let serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_picow"))
        .args(["serve", "--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--send", "ping", "--expect", "Hello WalnutPi!"])
        .args(["--expect", expect, "--timeout", timeout])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start picow serve");
    let cfg = DeviceConfig::new(
        WifiCredentials::new(SSID, PASSWORD).unwrap(),
        ServerAddr::parse(&format!("127.0.0.1:{port}")).unwrap(),
        None,
    )
    .unwrap();
    let board = HostBoard::new(HostConfig {
        access_point: Some(AccessPoint::new(SSID, PASSWORD)),
        ..HostConfig::new(flash_image(&LAYOUT_4MB, Some(&cfg)))
    });
    let info = AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        chip: "host",
    };
    // The app retries with backoff until serve listens, and runs until serve
    // has seen what it expects (or gives up) and closes the connection.
    let out = LocalSet::new()
        .run_until(async move {
            let app = tokio::task::spawn_local(async move { run(&board, info).await });
            let out = tokio::time::timeout(Duration::from_secs(60), serve.wait_with_output())
                .await
                .expect("picow serve did not end within 60 s")
                .expect("wait for picow serve");
            app.abort();
            out
        })
        .await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test(flavor = "current_thread")]
async fn the_app_greets_picow_serve_and_echoes_its_ping() {
    let (code, text) = app_against_serve("I got:ping", "30s").await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("PicoW"), "serve marks the board: {text}");
}

#[tokio::test(flavor = "current_thread")]
async fn serve_times_out_when_the_echo_is_not_what_it_expects() {
    // The same run with an echo the app never sends: serve must say 124, so
    // the test above cannot pass without the app's real echo.
    let (code, text) = app_against_serve("I got:pong", "8s").await;
    assert_eq!(code, Some(124), "{text}");
}
