//! The OTA decoders a board runs on bytes from the network (the protocol
//! state machine, the gzip decoder, the image check) never panic, and the
//! protocol gives the same answers however the input is split.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picow_protocol::ota::device::{drive, Offer};
use picow_protocol::ota::gzip::Gunzip;
use picow_protocol::ota::image::ImageCheck;
use picow_protocol::ota::wire::QueryInfo;
use picow_protocol::ota::OtaPassword;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split) % (rest.len() + 1);
    let pw = OtaPassword::new("fuzzing-password").unwrap();
    let offer = || Offer {
        password: Some(&pw),
        compression: true,
        mac: [1, 2, 3, 4, 5, 6],
        random: [7; 32],
    };
    let info = QueryInfo::decode(rest).unwrap_or(QueryInfo {
        slot: None,
        state: None,
        confirmed: false,
        chip_id: 0,
        image_len: 0,
        sha256: [0; 32],
        elf_sha256: [0; 32],
        flash_size: 0,
        version: Default::default(),
        project: Default::default(),
    });
    // A client that starts right: the magic, then fuzzed bytes.
    let mut client = picow_protocol::ota::wire::MAGIC.to_vec();
    client.extend_from_slice(rest);
    assert_eq!(
        drive(offer(), &[&client], &info),
        drive(offer(), &[&client[..at + 5], &client[at + 5..]], &info)
    );
    let _ = drive(offer(), &[rest], &info);
    let mut g = Gunzip::new();
    let _ = g.feed(rest, &mut |_b: &[u8]| Ok::<(), ()>(()));
    let mut c = ImageCheck::new(1 << 20);
    let _ = c.feed(&rest[..at]);
    let _ = c.feed(&rest[at..]);
    let _ = c.finish();
});
