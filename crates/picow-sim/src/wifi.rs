//! The virtual Wi-Fi: the networks given with `--wifi`.
//!
//! There is no radio. Joining succeeds when the SSID and password match a
//! configured network; otherwise the firmware sees what a board sees when
//! the access point never answers, and its own join timeout decides how long
//! that takes. The lease is informational: the virtual board's TCP and UDP
//! go out through the host's own stack.

use std::net::Ipv4Addr;

use picow_protocol::forms::WifiCredentials;

/// What joining a network gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Joined: the board got this lease.
    Joined(Lease),
    /// The SSID exists but the password is wrong: no answer, the board times out.
    WrongPassword,
    /// No such SSID in range: no answer, the board times out.
    NotFound,
}

/// The address a joined board reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The board's address.
    pub ip: Ipv4Addr,
    /// The gateway.
    pub gateway: Ipv4Addr,
    /// Signal strength in dBm.
    pub rssi: i32,
}

/// The networks the virtual board can see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WifiTable {
    networks: Vec<WifiCredentials>,
}

impl WifiTable {
    /// A table of the given networks (a later duplicate SSID wins).
    pub fn new(networks: Vec<WifiCredentials>) -> WifiTable {
        WifiTable { networks }
    }

    /// The SSIDs in range.
    pub fn ssids(&self) -> impl Iterator<Item = &str> {
        self.networks.iter().map(|n| n.ssid.as_str())
    }

    /// The password of `ssid`, when it is in range.
    pub fn password_of(&self, ssid: &str) -> Option<&str> {
        self.networks
            .iter()
            .rev()
            .find(|n| n.ssid.as_str() == ssid)
            .map(|n| n.password.as_str())
    }

    /// Tries to join `ssid` with `password`.
    pub fn join(&self, ssid: &str, password: &str) -> JoinOutcome {
        match self.networks.iter().rev().find(|n| n.ssid.as_str() == ssid) {
            None => JoinOutcome::NotFound,
            Some(n) if n.password.as_str() != password => JoinOutcome::WrongPassword,
            Some(n) => {
                let i = self.networks.iter().position(|m| m == n).unwrap_or(0) as u8;
                JoinOutcome::Joined(Lease {
                    ip: Ipv4Addr::new(10, 42, i, 2),
                    gateway: Ipv4Addr::new(10, 42, i, 1),
                    rssi: -52,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_only_with_the_right_password() {
        let t = WifiTable::new(vec![
            WifiCredentials::parse("Home:12345678").unwrap(),
            WifiCredentials::parse("Cafe").unwrap(),
        ]);
        assert!(matches!(t.join("Home", "12345678"), JoinOutcome::Joined(_)));
        assert_eq!(t.join("Home", "wrong-pass"), JoinOutcome::WrongPassword);
        assert_eq!(t.join("Office", ""), JoinOutcome::NotFound);
        let JoinOutcome::Joined(l) = t.join("Cafe", "") else {
            panic!("open network")
        };
        assert_eq!(l.gateway, Ipv4Addr::new(10, 42, 1, 1));
        assert_eq!(t.ssids().collect::<Vec<_>>(), ["Home", "Cafe"]);
    }
}
