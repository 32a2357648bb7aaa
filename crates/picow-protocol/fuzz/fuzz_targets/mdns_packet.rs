//! The board's mDNS message handling (picow-app's `Mdns`: the responder,
//! and the querier in each of its modes) never panics on any datagram, and
//! what it has to send afterwards stays within a packet and comes to an
//! end. The first byte picks the mode, the sender's port (5353 or a
//! legacy querier's) and whether the board is still probing for its names
//! or has claimed them; the rest is the datagram.
#![no_main]
use std::net::{Ipv4Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use picow_app::mdns::{Identity, Mdns, Query, PACKET_MAX};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, datagram)) = data.split_first() else {
        return;
    };
    let me = Identity::new("desk", Ipv4Addr::new(10, 0, 0, 2), "esp32c3", "0.1.0", [2, 0, 0, 0, 0, 1]);
    let mut m = Mdns::new(me, 0);
    let query = match mode % 4 {
        0 => None,
        1 => Some(Query::Browse { service: "_picow._tcp", instance: None }),
        2 => Some(Query::Browse {
            service: "_picow._tcp",
            instance: Some("pc".try_into().unwrap()),
        }),
        _ => Some(Query::Resolve { host: "pc.local".try_into().unwrap(), port: 10000 }),
    };
    m.set_query(query, 0);
    let mut now = 0;
    let mut out = [0u8; PACKET_MAX];
    if mode & 0x40 != 0 {
        // Past its probes: it answers and checks for conflicts (RFC 6762 §9).
        while !m.is_claimed() {
            now = m.next_wakeup().expect("probing has a next step");
            let _ = m.poll_transmit(now, &mut out);
        }
    }
    let port = if mode & 0x80 != 0 { 5353 } else { 40000 };
    let from = SocketAddr::from(([10, 0, 0, 1], port));
    if let Some((n, _)) = m.handle(now + 1, datagram, from, &mut out) {
        assert!(n <= PACKET_MAX);
    }
    let _ = m.take_found();
    let _ = m.take_claimed();
    // Whatever it read (a conflict renames the board and probes again),
    // its names stay within their limits.
    assert!(m.identity().name.len() <= 63 && m.identity().host.len() <= 63);
    let mut sent = 0;
    while let Some(n) = m.poll_transmit(now + 2, &mut out) {
        assert!(n <= PACKET_MAX);
        sent += 1;
        assert!(sent <= 4, "poll_transmit does not come to an end");
    }
});
