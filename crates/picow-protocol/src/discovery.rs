//! What both ends agree on for finding each other on the LAN: multicast DNS
//! (RFC 6762) with DNS-SD (RFC 6763).
//!
//! - `picow serve` advertises an instance of [`SERVICE_TCP`] (or
//!   [`SERVICE_UDP`] with `--udp`), named by `--name`, with the TXT keys
//!   [`TXT_PROTOCOL`] and [`TXT_NAME`], and the host name `picow.local`.
//! - A board flashed with `--server auto` browses for it; with
//!   `--server auto:NAME` it takes only the instance called NAME.
//! - Every board answers as `<host label>.local` (see [`host_label`]) and
//!   advertises an instance of [`BOARD_SERVICE`] named after itself, with
//!   the TXT keys [`TXT_NAME`], [`TXT_CHIP`], [`TXT_VERSION`] and
//!   [`TXT_MAC`]; `picow probe --net` lists them.

use core::fmt::Write as _;
use core::net::Ipv4Addr;

use heapless::String;

use crate::config::Transport;

/// The mDNS port.
pub const MDNS_PORT: u16 = 5353;
/// The IPv4 mDNS group.
pub const MDNS_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
/// The service type of `picow serve` over TCP.
pub const SERVICE_TCP: &str = "_picow._tcp";
/// The service type of `picow serve --udp`.
pub const SERVICE_UDP: &str = "_picow._udp";
/// The service type every picow board advertises; the port of its SRV
/// record is where the board takes updates over Wi-Fi (TCP, ESPHome's
/// native OTA protocol: [`crate::ota::wire::PORT`] on a real board).
pub const BOARD_SERVICE: &str = "_picow-board._udp";
/// The host name `picow serve` claims first (then `picow-<host>`).
pub const SERVER_HOST: &str = "picow";
/// The version of the session protocol (greeting and echo) a server speaks.
pub const PROTOCOL_VERSION: &str = "1";

/// TXT key: the session protocol version ([`PROTOCOL_VERSION`]).
pub const TXT_PROTOCOL: &str = "protocol";
/// TXT key: the instance's name (server `--name`, or the board's name).
pub const TXT_NAME: &str = "name";
/// TXT key: the board's chip, e.g. `esp32c3`.
pub const TXT_CHIP: &str = "chip";
/// TXT key: the board's firmware version.
pub const TXT_VERSION: &str = "version";
/// TXT key: the board's MAC address, `aa:bb:cc:dd:ee:ff`.
pub const TXT_MAC: &str = "mac";

/// Longest host label, in bytes (one DNS label).
pub const LABEL_MAX: usize = 63;

/// The service type browsed for a transport.
pub fn service_type(transport: Transport) -> &'static str {
    match transport {
        Transport::Tcp => SERVICE_TCP,
        Transport::Udp => SERVICE_UDP,
    }
}

/// The name of a board without `--name`: `picow-` and the last three bytes
/// of its MAC in hex, e.g. `picow-a1b2c3` (as ESPHome names its devices).
pub fn default_board_name(mac: [u8; 6]) -> String<12> {
    let mut s = String::new();
    // Cannot fail: 6 + 6 bytes.
    let _ = write!(s, "picow-{:02x}{:02x}{:02x}", mac[3], mac[4], mac[5]);
    s
}

/// The MAC as written in TXT records and console lines.
pub fn mac_text(mac: [u8; 6]) -> String<17> {
    let mut s = String::new();
    let [a, b, c, d, e, f] = mac;
    // Cannot fail: 17 bytes.
    let _ = write!(s, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}");
    s
}

/// The host label a board answers to (`<label>.local`), from its name:
/// letters, digits and `-` stay, anything else becomes `-`, and `-` at
/// either end is dropped. A name with nothing left gives `picow`.
pub fn host_label(name: &str) -> String<LABEL_MAX> {
    let mut s: String<LABEL_MAX> = String::new();
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if s.push(c).is_err() {
            break;
        }
    }
    let trimmed = s.trim_matches('-');
    let mut out = String::new();
    // Cannot fail: a part of a string of the same capacity.
    let _ = out.push_str(if trimmed.is_empty() {
        SERVER_HOST
    } else {
        trimmed
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let mac = [0x7c, 0xdf, 0xa1, 0xb2, 0xc3, 0x0d];
        assert_eq!(default_board_name(mac), "picow-b2c30d");
        assert_eq!(mac_text(mac), "7c:df:a1:b2:c3:0d");
        assert_eq!(host_label("desk"), "desk");
        assert_eq!(host_label("lab_3.west"), "lab-3-west");
        assert_eq!(host_label("-x-"), "x");
        assert_eq!(host_label("..."), "picow");
        assert_eq!(service_type(Transport::Udp), "_picow._udp");
    }
}
