//! Which of this computer's addresses to give the board: every LAN address
//! with its interface, the one most likely right first and marked, and the
//! two forms a user types (`picow flash --server IP:PORT` for picow-fw, and
//! `addr=('IP',PORT)` in the tutorial's MicroPython code).
//!
//! Loopback and link-local addresses are never offered; adapters that are
//! known to be virtual (VirtualBox, VMware, WSL and Hyper-V, Docker,
//! VPNs) come after the real ones and are never marked when a real one
//! exists.

use std::net::{IpAddr, SocketAddr};

use picow_protocol::Transport;

use crate::event::LanAddr;

/// A LAN address in the order to offer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The interface.
    pub iface: String,
    /// The address.
    pub ip: IpAddr,
    /// The one most likely right (exactly one offer has it).
    pub likely: bool,
    /// The interface looks like a virtual adapter.
    pub virtual_adapter: bool,
    /// `picow flash --server ...` value (`192.168.2.118:10000`,
    /// `udp://...` for UDP).
    pub server: String,
    /// The MicroPython form: `addr=('192.168.2.118',10000)`.
    pub micropython: String,
}

/// Whether an interface name is a known virtual adapter (Linux, Windows
/// and macOS names).
pub fn is_virtual(iface: &str) -> bool {
    let n = iface.to_lowercase();
    const PREFIXES: &[&str] = &[
        "docker",
        "br-",
        "veth",
        "virbr",
        "vboxnet",
        "vmnet",
        "tun",
        "tap",
        "wg",
        "tailscale",
        "zt",
        "utun",
        "lxcbr",
        "lxdbr",
        "cni",
        "flannel",
        "podman",
        "vnic",
        "ham",
        "awdl",
        "llw",
        "anpi",
        "bridge",
        "ppp",
    ];
    const PARTS: &[&str] = &[
        "virtualbox",
        "vmware",
        "hyper-v",
        "vethernet",
        "wsl",
        "loopback",
        "vpn",
        "tap-windows",
        "npcap",
        "zerotier",
        "tailscale",
        "bluetooth",
        "teredo",
        "isatap",
        "wireguard",
        "openvpn",
        "hamachi",
        "virtual",
    ];
    PREFIXES.iter().any(|p| n.starts_with(p)) || PARTS.iter().any(|p| n.contains(p))
}

fn is_wireless(iface: &str) -> bool {
    let n = iface.to_lowercase();
    n.starts_with("wl")
        || ["wi-fi", "wifi", "wireless", "wlan", "无线"]
            .iter()
            .any(|p| n.contains(p))
}

/// Lower is more likely: a real adapter, IPv4, a home-router range
/// (192.168/16, then 10/8, then 172.16/12), Wi-Fi.
fn score(l: &LanAddr) -> (bool, bool, u8, bool, IpAddr) {
    let range = match l.ip {
        IpAddr::V4(a) => match a.octets() {
            [192, 168, ..] => 0,
            [10, ..] => 1,
            [172, b, ..] if (16..32).contains(&b) => 2,
            _ => 3,
        },
        IpAddr::V6(_) => 4,
    };
    (
        is_virtual(&l.iface),
        l.ip.is_ipv6(),
        range,
        !is_wireless(&l.iface),
        l.ip,
    )
}

fn forms(transport: Transport, ip: IpAddr, port: u16) -> (String, String) {
    let scheme = match transport {
        Transport::Tcp => "",
        Transport::Udp => "udp://",
    };
    let server = match ip {
        IpAddr::V4(a) => format!("{scheme}{a}:{port}"),
        IpAddr::V6(a) => format!("{scheme}[{a}]:{port}"),
    };
    (server, format!("addr=('{ip}',{port})"))
}

/// What to offer for a server bound to `local`: the bound address itself
/// when it is not a wildcard, else every LAN address, most likely first.
pub fn offers(transport: Transport, local: &[SocketAddr], lan: &[LanAddr]) -> Vec<Offer> {
    let Some(port) = local.first().map(SocketAddr::port) else {
        return Vec::new();
    };
    let specific: Vec<LanAddr> = local
        .iter()
        .filter(|a| !a.ip().is_unspecified())
        .map(|a| LanAddr {
            iface: lan.iter().find(|l| l.ip == a.ip()).map_or_else(
                || {
                    if a.ip().is_loopback() {
                        "loopback".into()
                    } else {
                        String::new()
                    }
                },
                |l| l.iface.clone(),
            ),
            ip: a.ip(),
        })
        .collect();
    let v4_only = local.iter().all(SocketAddr::is_ipv4);
    let mut list: Vec<LanAddr> = if specific.is_empty() {
        lan.iter()
            .filter(|l| !(v4_only && l.ip.is_ipv6()))
            .filter(|l| !l.ip.is_loopback())
            .cloned()
            .collect()
    } else {
        specific
    };
    list.sort_by_key(score);
    list.iter()
        .enumerate()
        .map(|(i, l)| {
            let (server, micropython) = forms(transport, l.ip, port);
            Offer {
                iface: l.iface.clone(),
                ip: l.ip,
                likely: i == 0,
                virtual_adapter: l.ip.is_loopback() || is_virtual(&l.iface),
                server,
                micropython,
            }
        })
        .collect()
}

/// The warning for a server that only loopback clients can reach, if so
/// (`Display`: English; `.localized()`: the user's language).
pub fn loopback_warning(local: &[SocketAddr]) -> Option<picow_i18n::Msg> {
    let all_loopback = !local.is_empty() && local.iter().all(|a| a.ip().is_loopback());
    all_loopback.then(|| picow_i18n::msg!("serve-loopback-only", ip = local[0].ip().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan(list: &[(&str, &str)]) -> Vec<LanAddr> {
        list.iter()
            .map(|(i, a)| LanAddr {
                iface: (*i).into(),
                ip: a.parse().unwrap(),
            })
            .collect()
    }

    #[test]
    fn real_wifi_first_virtual_adapters_last() {
        let l = lan(&[
            ("vboxnet0", "192.168.56.1"),
            ("vEthernet (WSL)", "172.24.16.1"),
            ("docker0", "172.17.0.1"),
            ("eth0", "10.0.0.5"),
            ("wlan0", "192.168.2.118"),
            ("wlan0", "fd00::2"),
        ]);
        let any: Vec<SocketAddr> = vec!["[::]:10000".parse().unwrap()];
        let o = offers(Transport::Tcp, &any, &l);
        let order: Vec<&str> = o.iter().map(|o| o.server.as_str()).collect();
        assert_eq!(
            order,
            [
                "192.168.2.118:10000",
                "10.0.0.5:10000",
                "[fd00::2]:10000",
                "192.168.56.1:10000",
                "172.17.0.1:10000",
                "172.24.16.1:10000",
            ]
        );
        assert!(o[0].likely && o.iter().filter(|o| o.likely).count() == 1);
        assert_eq!(o[0].micropython, "addr=('192.168.2.118',10000)");
        assert!(o[3].virtual_adapter && !o[0].virtual_adapter);
        // Only virtual adapters: the best of them is still marked.
        let o = offers(Transport::Udp, &any, &lan(&[("vmnet8", "192.168.99.1")]));
        assert!(o[0].likely);
        assert_eq!(o[0].server, "udp://192.168.99.1:10000");
        // IPv4-only socket: no IPv6 offers.
        let v4: Vec<SocketAddr> = vec!["0.0.0.0:9000".parse().unwrap()];
        assert_eq!(offers(Transport::Tcp, &v4, &l).len(), 5);
    }

    #[test]
    fn bound_address_and_loopback() {
        let l = lan(&[("wlan0", "192.168.2.118")]);
        let one: Vec<SocketAddr> = vec!["192.168.2.118:9000".parse().unwrap()];
        let o = offers(Transport::Tcp, &one, &l);
        assert_eq!(o.len(), 1);
        assert_eq!(
            (o[0].iface.as_str(), o[0].server.as_str()),
            ("wlan0", "192.168.2.118:9000")
        );
        assert!(loopback_warning(&one).is_none());
        let lo: Vec<SocketAddr> = vec!["127.0.0.1:10000".parse().unwrap()];
        let w = loopback_warning(&lo).unwrap().to_string();
        assert!(w.contains("a board on Wi-Fi cannot reach"), "{w}");
        assert_eq!(offers(Transport::Tcp, &lo, &l)[0].iface, "loopback");
        assert!(loopback_warning(&["[::]:1".parse().unwrap()]).is_none());
    }
}
