//! Failures and recovery, on tokio's paused clock: server closes and
//! refusals with their backoff steps, Wi-Fi timeouts and drops, and the
//! waiting state without a valid config.

use crate::common;

use common::*;
use picow_app::host::{flash_image, AccessPoint};
use picow_app::timing::*;
use picow_app::CONFIG_HINT;
use picow_protocol::layout::{Layout, LAYOUT_4MB, LAYOUT_8MB};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::LocalSet;
use tokio::time::{sleep, Duration, Instant};

#[tokio::test(start_paused = true)]
async fn server_closing_leads_to_reconnects_with_doubling_backoff() {
    LocalSet::new()
        .run_until(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let mut rig = start(Some(&config(&format!("127.0.0.1:{port}"), None)), true);
            let mut accepted = Vec::new();
            for i in 0..5 {
                let (mut s, _) = l.accept().await.unwrap();
                accepted.push(rig.handle.now_ms());
                assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
                if i == 3 {
                    // A working session (data arrived) resets the backoff.
                    tokio::io::AsyncWriteExt::write_all(&mut s, b"x")
                        .await
                        .unwrap();
                    assert_eq!(read_n(&mut s, 7).await, b"I got:x");
                }
                drop(s); // the server closes: the board reads 0 bytes
            }
            let gaps: Vec<u64> = accepted.windows(2).map(|w| w[1] - w[0]).collect();
            assert_eq!(gaps, [1_000, 2_000, 4_000, 1_000]);
            // The console said why and when, each time.
            let mut steps = Vec::new();
            for _ in 0..4 {
                let c = rig.expect("server-closed").await;
                assert_eq!(field(&c.line, "reason"), "closed");
                steps.push(field(&c.line, "retry_in_ms"));
            }
            assert_eq!(steps, ["1000", "2000", "4000", "1000"]);
            assert_eq!(rig.handle.connects(), 5);
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn server_down_at_boot_is_retried_with_capped_backoff_not_a_busy_loop() {
    LocalSet::new()
        .run_until(async {
            // A port with nothing listening: every connect is refused.
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let mut rig = start(Some(&config(&format!("127.0.0.1:{port}"), None)), true);
            let joined = rig.expect("wifi-joined").await.at_ms;
            let mut steps = Vec::new();
            let mut attempts = Vec::new();
            while steps.len() < 7 {
                let s = rig.next().await;
                match s.name() {
                    "server-connecting" => attempts.push(s.at_ms - joined),
                    "server-closed" => {
                        assert_eq!(field(&s.line, "reason"), "refused");
                        steps.push(field(&s.line, "retry_in_ms").parse::<u64>().unwrap());
                    }
                    other => panic!("unexpected {other}: {}", s.line),
                }
            }
            assert_eq!(steps, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
            assert_eq!(attempts, [0, 1_000, 3_000, 7_000, 15_000, 31_000, 61_000]);
            // Seven attempts in 61 s of board time: no busy loop.
            assert_eq!(rig.handle.connects(), 7);
            // The server comes up; the next attempt (at 91 s) connects.
            let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let (mut s, _) = l.accept().await.unwrap();
            assert_eq!(rig.handle.now_ms() - joined, 91_000);
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            let c = rig.expect("server-connecting").await;
            assert_eq!(field(&c.line, "attempt"), "8");
            rig.expect_next("server-connected").await;
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn wifi_join_times_out_after_15_s_blinking_then_retries() {
    LocalSet::new()
        .run_until(async {
            let mut rig = start(Some(&config("127.0.0.1:9", None)), false);
            let j = rig.expect("wifi-joining").await;
            assert_eq!(field(&j.line, "attempt"), "1");
            let t0 = j.at_ms;
            let t = rig.expect_next("wifi-timeout").await;
            assert_eq!(t.at_ms - t0, u64::from(JOIN_TIMEOUT_MS));
            assert_eq!(
                t.line,
                "@picow wifi-timeout after_ms=15000 retry_in_ms=2000"
            );
            // Failed attempts inside the window are spaced, not spun: one
            // every 3 s (scan) + 1 s (pause).
            assert_eq!(rig.handle.wifi_joins(), 4);
            let log = rig.handle.led_log();
            assert_pattern(&log, JOINING_PATTERN, t0, t.at_ms);
            assert_eq!(
                log.iter().filter(|c| c.at_ms < t.at_ms).count(),
                50,
                "15 s of 300/300 blinking"
            );
            assert!(!rig.handle.led(), "LED off while waiting to retry");
            let j2 = rig.expect_next("wifi-joining").await;
            assert_eq!(field(&j2.line, "attempt"), "2");
            assert_eq!(j2.at_ms - t.at_ms, 2_000);
            let t2 = rig.expect_next("wifi-timeout").await;
            assert_eq!(field(&t2.line, "retry_in_ms"), "4000");
            // The access point appears: the next attempt joins.
            rig.handle
                .set_access_point(Some(AccessPoint::new(SSID, PASSWORD)));
            let j3 = rig.expect_next("wifi-joining").await;
            assert_eq!(j3.at_ms - t2.at_ms, 4_000);
            let ok = rig.expect_next("wifi-joined").await;
            assert_eq!(ok.at_ms - j3.at_ms, 500);
            assert!(rig.handle.led(), "LED on once joined");
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn wrong_password_also_times_out() {
    LocalSet::new()
        .run_until(async {
            let mut rig = start(Some(&config("127.0.0.1:9", None)), false);
            rig.handle
                .set_access_point(Some(AccessPoint::new(SSID, "another-password")));
            rig.expect("wifi-timeout").await;
            // 500 ms per rejected attempt + 1 s pause: one attempt starts
            // every 1.5 s, at 0, 1.5, ... 15 s (the last is cut off at once).
            assert_eq!(rig.handle.wifi_joins(), 11);
            assert!(!rig.handle.link_up());
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn wifi_drop_while_connected_leads_to_rejoin_and_new_session() {
    LocalSet::new()
        .run_until(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let mut rig = start(Some(&config(&format!("127.0.0.1:{port}"), None)), true);
            let (mut s1, _) = l.accept().await.unwrap();
            assert_eq!(read_n(&mut s1, 15).await, b"Hello WalnutPi!");
            rig.expect("server-connected").await;
            assert!(rig.handle.led());
            sleep(Duration::from_secs(5)).await;
            let dropped = rig.handle.now_ms();
            rig.handle.drop_link();
            let lost = rig.expect_next("wifi-lost").await;
            assert_eq!(lost.at_ms, dropped);
            let j = rig.expect_next("wifi-joining").await;
            assert_eq!(field(&j.line, "attempt"), "1");
            // The old connection is closed by the board.
            let mut b = [0; 8];
            assert_eq!(s1.read(&mut b).await.unwrap(), 0);
            rig.expect_next("wifi-joined").await;
            let log = rig.handle.led_log();
            // Blinking again while rejoining (on, then off 300 ms later).
            assert!(
                log.iter().any(|c| !c.on && c.at_ms == dropped + 300),
                "{log:?}"
            );
            let (mut s2, _) = l.accept().await.unwrap();
            assert_eq!(read_n(&mut s2, 15).await, b"Hello WalnutPi!");
            let c = rig.expect("server-connecting").await;
            assert_eq!(field(&c.line, "attempt"), "1");
            assert!(rig.handle.led());
        })
        .await;
}

async fn invalid_config_case(flash: Vec<u8>, reason: &str) {
    let mut rig = start_with_flash(flash, true);
    rig.expect_next("boot").await;
    let c = rig.expect_next("config-invalid").await;
    assert_eq!(
        c.line,
        format!("@picow config-invalid reason=\"{reason}\" hint=\"{CONFIG_HINT}\"")
    );
    assert_eq!(
        CONFIG_HINT,
        "picow flash --wifi SSID:PASS --server HOST:PORT"
    );
    let start = Instant::now();
    sleep(Duration::from_millis(10_000)).await;
    assert_eq!(start.elapsed(), Duration::from_millis(10_000));
    // Waiting: the double-flash pattern, 4 changes per 2 s, and nothing
    // else happens (no join attempts).
    let log = rig.handle.led_log();
    assert_pattern(&log, CONFIG_INVALID_PATTERN, 0, 10_000);
    assert_eq!(log.len(), 20, "{log:?}");
    assert_eq!(rig.handle.wifi_joins(), 0);
    // The console still answers.
    rig.handle.type_input(b"status\n");
    let s = rig.expect_next("status").await;
    assert!(
        s.line
            .starts_with(r#"@picow status wifi="down" ip="" server="idle" uptime_ms=10000 "#),
        "{}",
        s.line
    );
}

#[tokio::test(start_paused = true)]
async fn erased_config_waits_and_says_how_to_fix_it() {
    LocalSet::new()
        .run_until(invalid_config_case(
            flash_image(&LAYOUT_4MB, None),
            "erased",
        ))
        .await;
}

#[tokio::test(start_paused = true)]
async fn corrupted_config_is_reported_as_such() {
    let cfg = config("127.0.0.1:10000", None);
    let mut flash = flash_image(&LAYOUT_8MB, Some(&cfg));
    flash[LAYOUT_8MB.config().offset as usize + 12] ^= 0x01;
    LocalSet::new()
        .run_until(invalid_config_case(flash, "crc"))
        .await;
}

#[tokio::test(start_paused = true)]
async fn blank_flash_without_partition_table() {
    LocalSet::new()
        .run_until(invalid_config_case(
            vec![0xFF; 4 << 20],
            "no-partition-table",
        ))
        .await;
}

#[tokio::test(start_paused = true)]
async fn table_without_config_partition() {
    // A valid table (MD5 and all) whose entries lack the picow partition.
    let three = Layout {
        flash_size: LAYOUT_4MB.flash_size,
        partitions: &LAYOUT_4MB.partitions[..3],
    };
    LocalSet::new()
        .run_until(invalid_config_case(
            flash_image(&three, None),
            "no-config-partition",
        ))
        .await;
}

#[tokio::test(start_paused = true)]
async fn wifi_retry_waits_double_up_to_the_cap() {
    LocalSet::new()
        .run_until(async {
            let mut rig = start(Some(&config("127.0.0.1:9", None)), false);
            let mut waits = Vec::new();
            let mut starts = Vec::new();
            while waits.len() < 8 {
                let s = rig.next().await;
                match s.name() {
                    "wifi-joining" => starts.push(s.at_ms),
                    "wifi-timeout" => {
                        waits.push(field(&s.line, "retry_in_ms").parse::<u64>().unwrap())
                    }
                    _ => {}
                }
            }
            assert_eq!(
                waits,
                [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
            );
            // Each window is 15 s of joining plus the announced wait.
            let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
            let want: Vec<u64> = waits[..gaps.len()].iter().map(|w| 15_000 + w).collect();
            assert_eq!(gaps, want);
            // 3 s per failed scan + 1 s pause: 4 attempts per window.
            assert_eq!(rig.handle.wifi_joins(), 4 * 8);
        })
        .await;
}
