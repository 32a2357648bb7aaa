//! The output formats pinned: one scripted session (every kind of event,
//! at fixed times) rendered by the plain, JSON and log observers. A change
//! to any of them shows up as a snapshot diff; scripts rely on the JSON and
//! the log (`docs/spec-events.md`).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use picow_i18n::Lang;
use picow_serve::event::{Seen, SCHEMA_VERSION};
use picow_serve::observe::{Human, Json, Log};
use picow_serve::{ClientInfo, Event, Kind, LanAddr, Observer, Reason, Summary, Transport};
use picow_values::time::Zone;

/// A session as a scripted CI run sees it: a board connects, greets, gets
/// `ping` and echoes it; a second client sends binary and is refused later;
/// the list, a notice, an error, a timeout report and the summary.
fn session() -> Vec<(SystemTime, Event)> {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_148_321);
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let board = "192.0.2.50:50123".parse().unwrap();
    let other = "[2001:db8::7]:4000".parse().unwrap();
    let data = |id, b: &'static [u8], t: &str| Event::Data {
        id,
        bytes: Bytes::from_static(b),
        text: t.into(),
    };
    vec![
        (
            at(0),
            Event::Listening {
                version: SCHEMA_VERSION,
                transport: Transport::Tcp,
                local: vec!["[::]:10000".parse().unwrap()],
                lan: vec![LanAddr {
                    iface: "wlan0".into(),
                    ip: "192.0.2.2".parse().unwrap(),
                }],
                hints: vec!["picow flash --server 192.0.2.2:10000".into()],
            },
        ),
        (at(10), Event::Connected { id: 1, peer: board }),
        (
            at(11),
            data(1, b"Hello WalnutPi! (desk)", "Hello WalnutPi! (desk)"),
        ),
        (
            at(11),
            Event::Picow {
                id: 1,
                name: Some("desk".into()),
            },
        ),
        (
            at(12),
            Event::Sent {
                id: 1,
                bytes: Bytes::from_static(b"ping\r\n"),
                text: "ping\r\n".into(),
            },
        ),
        (at(20), data(1, b"I got:ping\r\n", "I got:ping\r\n")),
        (
            at(20),
            Event::Expect {
                index: 0,
                pattern: "I got:ping".into(),
                id: 1,
                matched: "I got:ping".into(),
            },
        ),
        (at(30), Event::Connected { id: 2, peer: other }),
        (
            at(31),
            data(2, b"\xff\x00\x1b[2Jx\"y\\", "\\xff\u{0}\u{1b}[2Jx\"y\\\\"),
        ),
        (
            at(40),
            Event::Clients {
                clients: vec![
                    ClientInfo {
                        id: 1,
                        peer: board,
                        since: at(10),
                        kind: Kind::Picow(Some("desk".into())),
                        bytes_in: 34,
                        bytes_out: 6,
                    },
                    ClientInfo {
                        id: 2,
                        peer: other,
                        since: at(30),
                        kind: Kind::Other,
                        bytes_in: 9,
                        bytes_out: 0,
                    },
                ],
            },
        ),
        (
            at(41),
            Event::Refused {
                peer: "192.0.2.99:1".parse().unwrap(),
                reason: Reason::TooMany {
                    connected: 1,
                    max: 1,
                },
            },
        ),
        (at(42), Event::notice("sending to #1")),
        (
            at(42),
            Event::notice(picow_i18n::msg!("serve-auto-every", every = "1s")),
        ),
        (at(43), Event::error("no client #9: see /list")),
        (
            at(50),
            Event::Disconnected {
                id: 2,
                peer: other,
                reason: Reason::ResetByPeer,
                bytes_in: 9,
                bytes_out: 0,
            },
        ),
        (
            at(60_000),
            Event::Timeout {
                unmet: vec!["I got:pong".into()],
                clients_missing: Some(1),
                seen: vec![Seen {
                    id: 1,
                    text: "Hello WalnutPi! (desk)I got:ping\r\n".into(),
                }],
            },
        ),
        (
            at(60_001),
            Event::Disconnected {
                id: 1,
                peer: board,
                reason: Reason::Timeout,
                bytes_in: 34,
                bytes_out: 6,
            },
        ),
        (
            at(60_002),
            Event::Summary(Summary {
                clients: 2,
                refused: 1,
                bytes_in: 43,
                bytes_out: 6,
                elapsed: Duration::from_millis(60_002),
                cut_off: None,
            }),
        ),
    ]
}

fn render(mut o: impl Observer) {
    for (at, e) in session() {
        o.event(at, &e).unwrap();
    }
    o.finish().unwrap();
}

/// The plain lines in `lang`, whatever the machine's locale.
fn plain(lang: Lang, hex: bool) -> String {
    let mut out = Vec::new();
    picow_i18n::with_lang(lang, || {
        render(Human::new(&mut out, hex).with_zone(Zone::Utc))
    });
    String::from_utf8(out).unwrap()
}

#[test]
fn plain_lines() {
    insta::assert_snapshot!(plain(Lang::En, false));
}

#[test]
fn plain_lines_hex() {
    insta::assert_snapshot!(plain(Lang::En, true));
}

/// Under a Chinese locale: the same session for a student, the data and
/// the commands to type unchanged.
#[test]
fn plain_lines_zh_cn() {
    let zh = plain(Lang::ZhCn, false);
    let en = plain(Lang::En, false);
    assert_eq!(zh.lines().count(), en.lines().count());
    for same in [
        "picow flash --server 192.0.2.2:10000",
        "addr=('192.0.2.2',10000)",
        "< I got:ping",
    ] {
        assert!(zh.contains(same), "{same}:\n{zh}");
    }
    insta::assert_snapshot!(zh);
}

#[test]
fn json_lines() {
    let mut out = Vec::new();
    // The language never changes what programs read.
    picow_i18n::with_lang(Lang::ZhCn, || render(Json::new(&mut out)));
    let text = String::from_utf8(out).unwrap();
    // Every line is one JSON object with the event's name and time first.
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["event"].is_string() && v["t"].is_string(), "{line}");
        assert!(line.starts_with("{\"event\":"), "{line}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn log_lines() {
    let mut out = Vec::new();
    picow_i18n::with_lang(Lang::ZhCn, || render(Log::new(&mut out)));
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}
