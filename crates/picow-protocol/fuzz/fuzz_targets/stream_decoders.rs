//! The feed-style decoders (lines, greeting) never panic and give the same
//! result however the input is split.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picow_protocol::session::{GreetingMatcher, Line, LineDecoder};

fn lines(chunks: &[&[u8]]) -> Vec<(bool, Vec<u8>)> {
    let mut d = LineDecoder::<64>::new();
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c, |l| {
            out.push(match l {
                Line::Complete(b) => (false, b.to_vec()),
                Line::Truncated(b) => (true, b.to_vec()),
            })
        });
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split) % (rest.len() + 1);
    assert_eq!(lines(&[rest]), lines(&[&rest[..at], &rest[at..]]));
    let mut a = GreetingMatcher::new();
    a.feed(rest);
    let mut b = GreetingMatcher::new();
    b.feed(&rest[..at]);
    b.feed(&rest[at..]);
    assert_eq!(a.kind(), b.kind());
});
