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

use common::listening_port;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

const SSID: &str = "WalnutPi";
const PASSWORD: &str = "12345678";

async fn app_against_serve(expect: &str, timeout: &str) -> (Option<i32>, String) {
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_picow"))
        .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
        .args(["--send", "ping", "--expect", "Hello WalnutPi!"])
        .args(["--expect", expect, "--timeout", timeout])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start picow serve");
    // The port serve chose, from its first line; the rest of stdout after.
    let mut stdout = tokio::io::BufReader::new(serve.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).await.unwrap();
    let port = listening_port(first.trim_end());
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
        mac: [0x7c, 0xdf, 0xa1, 0, 0, 1],
    };
    // The app retries with backoff until serve listens, and runs until serve
    // has seen what it expects (or gives up) and closes the connection.
    let out = LocalSet::new()
        .run_until(async move {
            let app = tokio::task::spawn_local(async move { run(&board, info).await });
            let mut rest = Vec::new();
            let (read, out) = tokio::time::timeout(Duration::from_secs(60), async {
                tokio::join!(stdout.read_to_end(&mut rest), serve.wait_with_output())
            })
            .await
            .expect("picow serve did not end within 60 s");
            read.unwrap();
            app.abort();
            let out = out.expect("wait for picow serve");
            (out, rest)
        })
        .await;
    let (out, rest) = out;
    let text = format!(
        "{first}{}{}",
        String::from_utf8_lossy(&rest),
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
