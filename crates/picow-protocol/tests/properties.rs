//! Property tests: round trips, corruption detection, and chunked feeding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use picow_protocol::config::{DecodeError, DeviceConfig, RECORD_MAX};
use picow_protocol::console::{Event, Text};
use picow_protocol::forms::{Discover, Host, Server, ServerAddr, WifiCredentials};
use picow_protocol::layout::PartitionTable;
use picow_protocol::ota::device::{auth_response, drive, Offer};
use picow_protocol::ota::gzip::Gunzip;
use picow_protocol::ota::image::{build_app_desc, build_image, ImageCheck, Status};
use picow_protocol::ota::wire::{QueryInfo, MAGIC};
use picow_protocol::ota::OtaPassword;
use picow_protocol::otadata::{Entry, ImageState, OtaData, Write as OtaWrite, SECTOR_LEN};
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
        prop::option::of("[ -~]{8,64}"),
    )
        .prop_map(|(s, p, server, name, ota)| {
            DeviceConfig::new(
                WifiCredentials::new(&s, &p).unwrap(),
                server,
                name.as_deref(),
            )
            .unwrap()
            .with_ota_password(ota.map(|o| OtaPassword::new(&o).unwrap()))
        })
}

fn image_state() -> impl Strategy<Value = ImageState> {
    prop_oneof![
        Just(ImageState::New),
        Just(ImageState::PendingVerify),
        Just(ImageState::Valid),
        Just(ImageState::Invalid),
        Just(ImageState::Aborted),
        Just(ImageState::Undefined),
    ]
}

/// Otadata as it can be found: erased, well-formed, or any bytes.
fn otadata() -> impl Strategy<Value = OtaData> {
    let entry = prop_oneof![
        Just(OtaData::ERASED.entries[0]),
        (0u32..40, image_state()).prop_map(|(seq, st)| Entry::new(seq, st)),
        prop::array::uniform32(any::<u8>()).prop_map(|b| Entry::read(&b).unwrap()),
    ];
    (entry.clone(), entry).prop_map(|(a, b)| OtaData { entries: [a, b] })
}

/// The otadata partition's bytes after `writes`, each one erasing its
/// sector and programming the entry; `cut` stops the last write half-way
/// (its sector erased, nothing programmed), as a power cut would.
fn otadata_bytes(start: &OtaData, writes: &[OtaWrite], cut: bool) -> Vec<u8> {
    let mut part = vec![0xFF; 2 * SECTOR_LEN as usize];
    part[..32].copy_from_slice(&start.entries[0].to_bytes());
    part[SECTOR_LEN as usize..SECTOR_LEN as usize + 32]
        .copy_from_slice(&start.entries[1].to_bytes());
    for (i, w) in writes.iter().enumerate() {
        let at = w.offset() as usize;
        part[at..at + SECTOR_LEN as usize].fill(0xFF);
        if !(cut && i + 1 == writes.len()) {
            part[at..at + 32].copy_from_slice(&w.entry.to_bytes());
        }
    }
    part
}

fn app_image(segments: &[Vec<u8>]) -> Vec<u8> {
    let desc = build_app_desc("picow-fw", "0.9.9");
    let mut segs: Vec<(u32, &[u8])> = vec![(0x3c00_0020, &desc)];
    for (i, s) in segments.iter().enumerate() {
        segs.push((0x4200_0000 + i as u32 * 0x1000, s));
    }
    build_image(5, 0x4200_0000, &segs)
}

fn check_image(chunks: &[&[u8]], limit: u32) -> Result<(), String> {
    let mut c = ImageCheck::new(limit);
    for piece in chunks {
        if let Err(e) = c.feed(piece) {
            return Err(e.to_string());
        }
    }
    c.finish().map(|_| ()).map_err(|e| e.to_string())
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
            Event::Boot { version: Text::str(&a), chip: Text::str(&b), slot: None },
            Event::Boot { version: Text::str(&a), chip: Text::str(&b), slot: Some(n) },
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
            Event::MdnsUp { host: Text::str(&a), instance: Text::str(&b), taken: None },
            Event::MdnsUp { host: Text::str(&a), instance: Text::str(&b), taken: Some(Text::str(&a)) },
            Event::ServerClosed { reason: Text::str(&a), retry_in_ms: n },
            Event::Status {
                wifi: Text::str(&a),
                ip: Text::str(&b),
                server: Text::str(&a),
                uptime_ms: u64::from(n) * 1000,
                version: Text::str(&b),
                slot: Some(n % 16),
            },
            Event::OtaTrial { slot: n % 2, timeout_ms: n },
            Event::OtaConfirmed { slot: 1, by: Text::str(&a) },
            Event::OtaRollback { slot: 0, reason: Text::str(&b) },
            Event::OtaBegin { peer: Text::str(&a), size: n, compressed: n % 2 },
            Event::OtaRefused { peer: Text::str(&a), reason: Text::str(&b) },
            Event::OtaDone { slot: 1, version: Text::str(&b) },
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

    #[test]
    fn otadata_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..0x2100)) {
        let d = OtaData::parse(&bytes);
        let _ = d.selected_slot(2);
        let _ = d.select(1, 2, ImageState::New);
        let _ = d.with_state(ImageState::Valid);
    }

    #[test]
    fn selecting_a_slot_makes_it_boot_and_a_cut_keeps_the_old_one(
        start in otadata(),
        slot in 0u8..2,
        state in prop_oneof![Just(ImageState::New), Just(ImageState::Valid), Just(ImageState::PendingVerify)],
    ) {
        let w = start.select(slot, 2, state);
        if let Some(a) = start.active() {
            prop_assert_ne!(w.sector, a, "the active entry is never overwritten");
        }
        let after = OtaData::parse(&otadata_bytes(&start, &[w], false));
        prop_assert_eq!(after.selected_slot(2), Some(slot));
        prop_assert_eq!(after.active_entry().and_then(Entry::image_state), Some(state));
        // A power cut half-way through the write changes nothing that counts.
        let cut = OtaData::parse(&otadata_bytes(&start, &[w], true));
        prop_assert_eq!(cut.selected_slot(2), start.selected_slot(2));
    }

    #[test]
    fn aborting_the_active_entry_falls_back(start in otadata()) {
        let Some(w) = start.with_state(ImageState::Aborted) else {
            prop_assert_eq!(start.active(), None);
            return Ok(());
        };
        let after = OtaData::parse(&otadata_bytes(&start, &[w], false));
        prop_assert_ne!(after.active(), start.active());
        // A cut while aborting either aborts (sector erased) or nothing.
        let cut = OtaData::parse(&otadata_bytes(&start, &[w], true));
        prop_assert_ne!(cut.active(), start.active());
    }

    #[test]
    fn image_check_is_chunking_independent_and_catches_every_flip(
        segments in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let img = app_image(&segments);
        prop_assert_eq!(check_image(&[&img], 1 << 20), Ok(()));
        prop_assert_eq!(check_image(&chunked(&img, &cuts), 1 << 20), Ok(()));
        let mut bad = img.clone();
        bad[flip.index(img.len())] ^= 1 << bit;
        prop_assert!(check_image(&chunked(&bad, &cuts), 1 << 20).is_err());
        let trunc = flip.index(img.len());
        prop_assert!(check_image(&[&img[..trunc]], 1 << 20).is_err());
        prop_assert!(check_image(&[&img], img.len() as u32 - 1).is_err());
    }

    #[test]
    fn image_check_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut c = ImageCheck::new(1500);
        if let Ok(Status::Done { used, .. }) = c.feed(&bytes) {
            prop_assert!(used <= bytes.len());
        }
        let _ = c.finish();
    }

    #[test]
    fn ota_device_never_panics_and_ignores_how_bytes_are_split(
        tail in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        with_magic in any::<bool>(),
    ) {
        let pw = OtaPassword::new("prop-password").unwrap();
        let offer = || Offer { password: Some(&pw), compression: true, mac: [0; 6], random: [3; 32] };
        let mut client = if with_magic { MAGIC.to_vec() } else { Vec::new() };
        client.extend_from_slice(&tail);
        let whole = drive(offer(), &[&client], &ota_info());
        prop_assert_eq!(drive(offer(), &chunked(&client, &cuts), &ota_info()), whole.clone());
        // Nothing but the greeting is ever sent before a right password.
        prop_assert!(!whole.0.contains(&0x42), "{:?}", whole);
    }

}

proptest! {
    // Uploads and gzip streams of tens of kilobytes: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn ota_upload_succeeds_in_any_pieces(
        upload in prop::collection::vec(any::<u8>(), 1..30_000),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        sha in any::<bool>(),
    ) {
        let pw = OtaPassword::new("prop-password").unwrap();
        let offer = Offer { password: Some(&pw), compression: false, mac: [0; 6], random: [3; 32] };
        let features = if sha { 0x06 } else { 0x04 };
        let client = espota2_client(features, "prop-password", &upload);
        let (sent, log) = drive(offer, &chunked(&client, &cuts), &ota_info());
        prop_assert_eq!(log.last().map(String::as_str), Some("Done"), "{:?}", log);
        let acks = sent.iter().filter(|&&b| b == 0x47).count();
        prop_assert_eq!(acks, upload.len().div_ceil(8192));
        prop_assert_eq!(&sent[sent.len() - 2..], &[0x44, 0x45]);
    }

    #[test]
    fn gzip_decodes_what_flate2_writes_in_any_pieces(
        data in prop::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..70_000),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        level in 0u32..10,
    ) {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        enc.write_all(&data).unwrap();
        let gz = enc.finish().unwrap();
        let mut g = Gunzip::new();
        let mut out = Vec::new();
        for piece in chunked(&gz, &cuts) {
            g.feed(piece, &mut |b: &[u8]| { out.extend_from_slice(b); Ok::<(), ()>(()) }).unwrap();
        }
        prop_assert!(g.finish().is_ok());
        prop_assert_eq!(out, data);
    }
}

fn ota_info() -> QueryInfo {
    QueryInfo {
        slot: Some(1),
        state: Some(0),
        confirmed: false,
        chip_id: 5,
        image_len: 1,
        sha256: [0; 32],
        elf_sha256: [0; 32],
        flash_size: 0,
        version: Default::default(),
        project: Default::default(),
    }
}

/// The bytes espota2 sends to a device whose nonce is `random` = [3; 32].
fn espota2_client(features: u8, password: &str, upload: &[u8]) -> Vec<u8> {
    use md5::{Digest, Md5};
    let nonce_len = if features & 0x02 != 0 { 64 } else { 32 };
    let nonce = "03".repeat(nonce_len / 2);
    let cnonce = "5a".repeat(nonce_len / 2);
    let mut c = MAGIC.to_vec();
    c.push(features);
    c.extend_from_slice(cnonce.as_bytes());
    c.extend_from_slice(auth_response(password, nonce.as_bytes(), cnonce.as_bytes()).as_bytes());
    c.push(0); // OTA type: app
    c.extend_from_slice(&(upload.len() as u32).to_be_bytes());
    let md5: String = Md5::digest(upload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    c.extend_from_slice(md5.as_bytes());
    c.extend_from_slice(upload);
    c.push(0);
    c
}
