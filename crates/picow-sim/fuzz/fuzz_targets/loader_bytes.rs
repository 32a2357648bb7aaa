//! Raw serial bytes into the loader (SLIP decoder, request parser, every
//! command handler): it must never panic or hang, whatever arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picow_sim::{Chip, Flash, Loader, Mac};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let chip = if split & 0x80 == 0 { Chip::Esp32s3 } else { Chip::Esp32c3 };
    let mut flash = Flash::in_memory(1 << 20);
    let mut loader = Loader::new(chip, Mac::DEFAULT);
    // Arrival in chunks of 1..=64 bytes, as a UART delivers them.
    for chunk in rest.chunks(usize::from(split & 0x3F) + 1) {
        let _ = loader.feed(chunk, &mut flash);
    }
});
