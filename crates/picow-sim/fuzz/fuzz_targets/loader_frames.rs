//! Well-framed requests with fuzzed opcodes, lengths and payloads, so that
//! the fuzzer spends its time in the command handlers (flash writes, the
//! zlib stream, READ_FLASH's ACK window, the stub dialect) rather than in
//! finding SLIP framing. Input: `[op, len, payload...]*`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picow_sim::command::{checksum, Request};
use picow_sim::{slip, Chip, Flash, Loader, Mac};

fuzz_target!(|data: &[u8]| {
    let mut flash = Flash::in_memory(1 << 20);
    let mut loader = Loader::new(Chip::Esp32s3, Mac::DEFAULT);
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        // Data commands carry the checksum of the bytes after their 16-byte header.
        let chk = payload.get(16..).map_or(0, |d| u32::from(checksum(d)));
        let frame = Request::encode(*op, payload, chk);
        let _ = loader.feed(&slip::encode(&frame), &mut flash);
    }
});
