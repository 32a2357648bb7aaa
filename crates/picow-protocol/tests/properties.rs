//! Property tests: round trips, corruption detection, and chunked feeding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use picow_protocol::config::{DecodeError, DeviceConfig, RECORD_MAX};
use picow_protocol::console::{Event, Text};
use picow_protocol::forms::{Discover, Host, Server, ServerAddr, WifiCredentials};
use picow_protocol::layout::PartitionTable;
use picow_protocol::session::{GreetingMatcher, Line, LineDecoder, PeerKind};
use picow_protocol::Transport;
use proptest::prelude::*;

fn ssid() -> impl Strategy<Value = String> {
    // 1-32 bytes, printable, multi-byte characters included.
    "[a-zA-Z0-9 _:!#你好-]{1,10}".prop_filter("1 to 32 bytes", |s| (1..=32).contains(&s.len()))
}

fn password() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[ -~]{8,63}", "[0-9a-fA-F]{64}",]
}

fn dns_name() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 1..5)
        .prop_map(|labels| labels.join("."))
        .prop_filter("not all digits", |s| {
            !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
        // `auto` is the keyword of --server auto, not a host name.
        .prop_filter("not auto", |s| !s.eq_ignore_ascii_case("auto"))
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        any::<u32>().prop_map(|a| Host::Ip(IpAddr::V4(Ipv4Addr::from(a)))),
        any::<u128>().prop_map(|a| Host::Ip(IpAddr::V6(Ipv6Addr::from(a)))),
        dns_name().prop_map(|n| Host::parse(&n).unwrap()),
    ]
}

fn server() -> impl Strategy<Value = ServerAddr> {
    (host(), 1..=65535u16, any::<bool>()).prop_map(|(host, port, udp)| ServerAddr {
        host,
        port,
        transport: if udp { Transport::Udp } else { Transport::Tcp },
    })
}

fn instance() -> impl Strategy<Value = String> {
    // 1-63 bytes, no control characters, no space at either end; not all
    // digits (that would read as a port).
    "[a-zA-Z0-9_.:/你-]([a-zA-Z0-9 _.:/'你-]{0,18}[a-zA-Z0-9_.:/你-])?"
        .prop_filter("1 to 63 bytes", |s| (1..=63).contains(&s.len()))
        .prop_filter("not all digits", |s| !s.bytes().all(|b| b.is_ascii_digit()))
}

fn any_server() -> impl Strategy<Value = Server> {
    prop_oneof![
        server().prop_map(Server::Addr),
        (prop::option::of(instance()), any::<bool>()).prop_map(|(i, udp)| {
            let t = if udp { Transport::Udp } else { Transport::Tcp };
            Server::Discover(Discover::new(i.as_deref(), t).unwrap())
        }),
    ]
}

fn config() -> impl Strategy<Value = DeviceConfig> {
    (
        ssid(),
        password(),
        any_server(),
        prop::option::of("[a-zA-Z0-9._-]{1,32}"),
    )
        .prop_map(|(s, p, server, name)| {
            DeviceConfig::new(
                WifiCredentials::new(&s, &p).unwrap(),
                server,
                name.as_deref(),
            )
            .unwrap()
        })
}

fn chunked<'a>(data: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut idx: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
    idx.sort_unstable();
    let mut chunks = Vec::new();
    let mut last = 0;
    for i in idx {
        chunks.push(&data[last..i]);
        last = i;
    }
    chunks.push(&data[last..]);
    chunks
}

type Lines = (Vec<(bool, Vec<u8>)>, Vec<u8>);

fn decode_lines(chunks: &[&[u8]]) -> Lines {
    let mut d = LineDecoder::<32>::new();
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c, |l| {
            out.push(match l {
                Line::Complete(b) => (false, b.to_vec()),
                Line::Truncated(b) => (true, b.to_vec()),
            })
        });
    }
    (out, d.pending().to_vec())
}

proptest! {
    #[test]
    fn config_round_trips(cfg in config()) {
        let bytes = cfg.to_bytes();
        prop_assert!(bytes.len() <= RECORD_MAX);
        prop_assert_eq!(DeviceConfig::decode(&bytes).unwrap(), cfg.clone());
        // As read from an erased partition, with the rest 0xFF.
        let mut part = vec![0xFF; 4096];
        part[..bytes.len()].copy_from_slice(&bytes);
        prop_assert_eq!(DeviceConfig::decode(&part).unwrap(), cfg);
    }

    #[test]
    fn every_bit_flip_is_detected(cfg in config()) {
        let bytes = cfg.to_bytes();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(DeviceConfig::decode(&b).is_err(), "flip of bit {} accepted", bit);
        }
    }

    #[test]
    fn every_truncation_is_detected(cfg in config()) {
        let bytes = cfg.to_bytes();
        for len in 0..bytes.len() {
            let r = DeviceConfig::decode(&bytes[..len]);
            prop_assert!(
                matches!(r, Err(DecodeError::Truncated { .. })),
                "prefix of {} bytes gave {:?}", len, r
            );
        }
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = DeviceConfig::decode(&bytes);
        let _ = PartitionTable::parse(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Event::parse(s);
            let _ = ServerAddr::parse(s);
            let _ = Server::parse(s);
            let _ = WifiCredentials::parse(s);
        }
    }

    #[test]
    fn server_display_parses_back(s in server()) {
        prop_assert_eq!(ServerAddr::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn any_server_display_parses_back(s in any_server()) {
        prop_assert_eq!(Server::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn wifi_form_round_trips(ssid in "[a-zA-Z0-9 _-]{1,32}", pw in password()) {
        let w = WifiCredentials::parse(&format!("{ssid}:{pw}")).unwrap();
        prop_assert_eq!(w.ssid.as_str(), ssid.as_str());
        prop_assert_eq!(w.password.as_str(), pw.as_str());
    }

    #[test]
    fn console_data_round_trips(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let e = Event::Received { len: data.len() as u32, data: Text::Raw(&data) };
        let mut line = String::new();
        e.write_line(&mut line).unwrap();
        prop_assert!(!line.contains('\n') && !line.contains('\r'));
        match Event::parse(&line).unwrap().unwrap() {
            Event::Received { len, data: d } => {
                prop_assert_eq!(len as usize, data.len());
                prop_assert_eq!(d.to_vec(), data);
            }
            other => prop_assert!(false, "parsed as {:?}", other),
        }
    }

    #[test]
    fn console_events_round_trip(
        a in "[ -~你]{0,20}",
        b in "[ -~]{0,20}",
        n in any::<u32>(),
        r in any::<i32>(),
    ) {
        let events = [
            Event::Boot { version: Text::str(&a), chip: Text::str(&b) },
            Event::ConfigOk { ssid: Text::str(&a), server: Text::str(&b), name: None },
            Event::ConfigOk { ssid: Text::str(&a), server: Text::str(&b), name: Some(Text::str(&b)) },
            Event::ConfigInvalid { reason: Text::str(&a), hint: Text::str(&b) },
            Event::WifiJoining { ssid: Text::str(&a), attempt: n },
            Event::WifiJoined { ip: Text::str(&a), gateway: Text::str(&b), rssi: r },
            Event::WifiTimeout { after_ms: n, retry_in_ms: n / 2 },
            Event::WifiLost,
            Event::ServerConnecting { server: Text::str(&a), attempt: n },
            Event::ServerConnected { server: Text::str(&b) },
            Event::ServerBrowsing { service: Text::str(&a), instance: None, attempt: n },
            Event::ServerBrowsing { service: Text::str(&a), instance: Some(Text::str(&b)), attempt: n },
            Event::ServerDiscovered {
                instance: Some(Text::str(&a)),
                host: Text::str(&b),
                server: Text::str(&a),
                after_ms: n,
            },
            Event::ServerDiscovered {
                instance: None,
                host: Text::str(&b),
                server: Text::str(&a),
                after_ms: n,
            },
            Event::MdnsUp { host: Text::str(&a), instance: Text::str(&b) },
            Event::ServerClosed { reason: Text::str(&a), retry_in_ms: n },
            Event::Status {
                wifi: Text::str(&a),
                ip: Text::str(&b),
                server: Text::str(&a),
                uptime_ms: u64::from(n) * 1000,
                version: Text::str(&b),
            },
            Event::CommandError { input: Text::str(&a), hint: Text::str(&b) },
        ];
        for e in events {
            let mut line = String::new();
            e.write_line(&mut line).unwrap();
            prop_assert_eq!(Event::parse(&line).unwrap().unwrap(), e);
        }
    }

    #[test]
    fn line_decoder_is_chunking_independent(
        data in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..400),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let whole = decode_lines(&[&data]);
        prop_assert_eq!(decode_lines(&chunked(&data, &cuts)), whole.clone());
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        prop_assert_eq!(decode_lines(&bytes), whole.clone());
        // Several lines per chunk and lines across chunks lose nothing.
        let complete: usize = whole.0.iter().map(|(t, l)| if *t { 0 } else { l.len() }).sum();
        prop_assert!(complete <= data.len());
    }

    #[test]
    fn greeting_matcher_is_chunking_independent(
        name in prop::option::of("[a-z0-9]{1,8}"),
        tail in prop::collection::vec(any::<u8>(), 0..20),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut input = b"Hello WalnutPi!".to_vec();
        if let Some(n) = &name {
            input.extend_from_slice(format!(" ({n})").as_bytes());
        }
        input.extend_from_slice(&tail);
        let mut one = GreetingMatcher::new();
        one.feed(&input);
        let mut bytewise = GreetingMatcher::new();
        for b in &input {
            bytewise.feed(std::slice::from_ref(b));
        }
        let mut pieces = GreetingMatcher::new();
        for c in chunked(&input, &cuts) {
            pieces.feed(c);
        }
        prop_assert_eq!(one.kind(), bytewise.kind());
        prop_assert_eq!(one.kind(), pieces.kind());
        match one.kind() {
            PeerKind::Picow { name: got } => {
                if let Some(n) = &name {
                    prop_assert_eq!(got.as_deref(), Some(n.as_str()));
                }
            }
            other => prop_assert!(false, "not recognised: {:?}", other),
        }
    }
}
