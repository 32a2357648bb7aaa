//! The console line parser never panics, and an event it accepts writes a
//! line that parses to the same event.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picow_protocol::console::Event;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(Ok(event)) = Event::parse(line) {
        let mut out = String::new();
        event.write_line(&mut out).unwrap();
        assert_eq!(Event::parse(&out).unwrap().unwrap(), event);
    }
});
