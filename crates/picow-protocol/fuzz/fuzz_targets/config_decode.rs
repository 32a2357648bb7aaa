//! The config record decoder never panics, and what it accepts re-encodes
//! to the same record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picow_protocol::DeviceConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(cfg) = DeviceConfig::decode(data) {
        let again = cfg.to_bytes();
        assert_eq!(&data[..again.len()], &again[..]);
    }
});
