//! The client list as a person sees it: live clients first (in the order
//! they connected), then a bounded, collapsible group of departed ones
//! (most recent first), and which one is selected.
//!
//! When the selected client goes, the selection stays on it; when a client
//! connects that is the same board (the same PicoW name, else the same MAC,
//! else the same peer IP when neither is known), the selection follows it.
//! One more id can follow its board the same way ([`Clients::follow_also`]:
//! the target of a running `/auto`).
//! No drawing here: the terminal view and other front ends draw the rows.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use crate::event::Reason;

/// How many departed clients are remembered.
pub const GONE_MAX: usize = 50;

/// A client, connected or gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// serve's id (`#3`).
    pub id: u64,
    /// Its address.
    pub peer: SocketAddr,
    /// The PicoW name from its greeting, when it sent one.
    pub name: Option<String>,
    /// It greeted like a PicoW.
    pub picow: bool,
    /// The firmware version its board's OTA listener reported, if any.
    pub version: Option<String>,
    /// Its hardware address, when the system knows it (LAN peers).
    pub mac: Option<String>,
    /// Bytes received (since the last counter reset).
    pub bytes_in: u64,
    /// Bytes sent (since the last counter reset).
    pub bytes_out: u64,
    /// When it connected.
    pub since: SystemTime,
    /// When and why it went, if it did.
    pub gone: Option<(SystemTime, Reason)>,
}

impl Client {
    /// `#3 desk` or `#3`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("#{} {n}", self.id),
            None => format!("#{}", self.id),
        }
    }
}

/// Where typed text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Every connected client.
    All,
    /// One client (which may be gone).
    One(u64),
}

/// A row of the list, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row<'a> {
    /// "all clients".
    All,
    /// A connected client.
    Live(&'a Client),
    /// The header of the gone group: how many, and whether it is open.
    GoneHeader(usize, bool),
    /// A departed client (shown when the group is open, or when selected).
    Gone(&'a Client),
}

/// The list.
#[derive(Debug, Clone)]
pub struct Clients {
    live: Vec<Client>,
    gone: VecDeque<Client>,
    /// Whether the gone group shows its members.
    pub gone_open: bool,
    selected: Selection,
    /// Another id that follows its board (see [`Clients::follow_also`]).
    also: Option<u64>,
    /// It moved: from, to (taken by [`Clients::take_also_moved`]).
    also_moved: Option<(u64, u64)>,
}

impl Default for Clients {
    fn default() -> Self {
        Clients {
            live: Vec::new(),
            gone: VecDeque::new(),
            gone_open: true,
            selected: Selection::All,
            also: None,
            also_moved: None,
        }
    }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

impl Clients {
    /// The selection.
    pub fn selected(&self) -> Selection {
        self.selected
    }

    /// The selected client, live or gone.
    pub fn selected_client(&self) -> Option<&Client> {
        match self.selected {
            Selection::All => None,
            Selection::One(id) => self.get(id),
        }
    }

    /// A client by id, live or gone.
    pub fn get(&self, id: u64) -> Option<&Client> {
        self.live
            .iter()
            .chain(self.gone.iter())
            .find(|c| c.id == id)
    }

    fn live_mut(&mut self, id: u64) -> Option<&mut Client> {
        self.live.iter_mut().find(|c| c.id == id)
    }

    /// Connected clients, in the order they connected.
    pub fn live(&self) -> &[Client] {
        &self.live
    }

    /// Departed clients, most recent first.
    pub fn gone(&self) -> impl Iterator<Item = &Client> {
        self.gone.iter()
    }

    /// How many departed clients are remembered.
    pub fn gone_count(&self) -> usize {
        self.gone.len()
    }

    /// Selects `sel` (Tab, `/select`).
    pub fn select(&mut self, sel: Selection) {
        self.selected = sel;
    }

    /// Tab (`+1`) / Shift-Tab (`-1`): the next or previous connected client,
    /// with "all" before the first.
    pub fn cycle(&mut self, dir: i32) {
        let mut order = vec![Selection::All];
        order.extend(self.live.iter().map(|c| Selection::One(c.id)));
        let n = order.len() as i32;
        let next = match order.iter().position(|s| *s == self.selected) {
            Some(p) => (p as i32 + dir).rem_euclid(n),
            // The selected client is gone: Tab starts from the ends.
            None if dir > 0 => 1 % n,
            None => n - 1,
        };
        self.selected = order[next as usize];
    }

    /// Whether departed client `old` is gone and `matches` says this is
    /// the same board.
    fn is_back(&self, old: u64, matches: &impl Fn(&Client) -> bool) -> bool {
        self.get(old)
            .is_some_and(|g| g.gone.is_some() && matches(g))
    }

    /// The selected client (or the other followed id) is gone and this is
    /// the same board: follow it. Returns whether the selection followed.
    fn follow(&mut self, new_id: u64, matches: impl Fn(&Client) -> bool) -> bool {
        if let Some(old) = self.also {
            if self.is_back(old, &matches) {
                self.also = Some(new_id);
                self.also_moved = Some((old, new_id));
            }
        }
        let Selection::One(sel) = self.selected else {
            return false;
        };
        if !self.is_back(sel, &matches) {
            return false;
        }
        self.selected = Selection::One(new_id);
        true
    }

    /// Makes `id` follow its board like the selection (or no id): when it
    /// is gone and the same board connects again, it becomes the new id
    /// ([`Clients::take_also_moved`] says so).
    pub fn follow_also(&mut self, id: Option<u64>) {
        self.also = id;
        self.also_moved = None;
    }

    /// The id set by [`Clients::follow_also`], where it is now.
    pub fn also(&self) -> Option<u64> {
        self.also
    }

    /// Whether the [`Clients::follow_also`] id moved to a new one since
    /// last asked: (old, new).
    pub fn take_also_moved(&mut self) -> Option<(u64, u64)> {
        self.also_moved.take()
    }

    /// A client connected. Returns true when the selection followed it
    /// here (a departed selected board came back).
    pub fn connected(
        &mut self,
        id: u64,
        peer: SocketAddr,
        mac: Option<String>,
        at: SystemTime,
    ) -> bool {
        let followed = self.follow(id, |g| match (&g.mac, &mac) {
            (Some(a), Some(b)) => a == b,
            _ => g.name.is_none() && same_ip(g.peer.ip(), peer.ip()),
        });
        if let Some(m) = &mac {
            // The same hardware: the old entry is this board's past.
            self.gone.retain(|g| g.mac.as_ref() != Some(m));
        }
        self.live.push(Client {
            id,
            peer,
            name: None,
            picow: false,
            version: None,
            mac,
            bytes_in: 0,
            bytes_out: 0,
            since: at,
            gone: None,
        });
        followed
    }

    /// A client greeted as a PicoW (with its name, when it sent one).
    /// Returns true when the selection followed it here.
    pub fn named(&mut self, id: u64, name: Option<String>) -> bool {
        let Some(c) = self.live_mut(id) else {
            return false;
        };
        c.picow = true;
        c.name = name.clone();
        let Some(name) = name else { return false };
        let followed = self.follow(id, |g| g.name.as_deref() == Some(&name));
        // A departed board of the same name is this one's past: drop it
        // from the gone group (unless it is the selection, or the other
        // followed id, not followed).
        let keep = match self.selected {
            Selection::One(s) => Some(s),
            Selection::All => None,
        };
        let also = self.also;
        self.gone.retain(|g| {
            g.name.as_deref() != Some(&name) || Some(g.id) == keep || Some(g.id) == also
        });
        followed
    }

    /// What a client's board runs (its [`Event::Firmware`](crate::Event::Firmware)).
    pub fn firmware(&mut self, id: u64, version: &str) {
        if let Some(c) = self.live_mut(id) {
            c.version = Some(version.to_owned());
        }
    }

    /// Bytes received from a client.
    pub fn received(&mut self, id: u64, n: usize) {
        if let Some(c) = self.live_mut(id) {
            c.bytes_in += n as u64;
        }
    }

    /// Bytes sent to a client.
    pub fn sent(&mut self, id: u64, n: usize) {
        if let Some(c) = self.live_mut(id) {
            c.bytes_out += n as u64;
        }
    }

    /// A client went: it moves to the top of the gone group. The oldest
    /// departed ones are forgotten beyond [`GONE_MAX`] (never the selected,
    /// nor the other followed id).
    pub fn disconnected(&mut self, id: u64, reason: &Reason, at: SystemTime) {
        let Some(pos) = self.live.iter().position(|c| c.id == id) else {
            return;
        };
        let mut c = self.live.remove(pos);
        c.gone = Some((at, reason.clone()));
        self.gone.push_front(c);
        while self.gone.len() > GONE_MAX {
            let (sel, also) = (self.selected, self.also);
            match self
                .gone
                .iter()
                .rposition(|g| Selection::One(g.id) != sel && Some(g.id) != also)
            {
                Some(i) => {
                    self.gone.remove(i);
                }
                None => break,
            }
        }
    }

    /// Sets every client's counters to zero.
    pub fn reset_counters(&mut self) {
        for c in self.live.iter_mut().chain(self.gone.iter_mut()) {
            c.bytes_in = 0;
            c.bytes_out = 0;
        }
    }

    /// The rows in display order: "all", the live clients, the gone
    /// header, the departed ones when the group is open (the selected one
    /// always).
    pub fn rows(&self) -> Vec<Row<'_>> {
        let mut rows = vec![Row::All];
        rows.extend(self.live.iter().map(Row::Live));
        if !self.gone.is_empty() {
            rows.push(Row::GoneHeader(self.gone.len(), self.gone_open));
            let sel = self.selected;
            rows.extend(
                self.gone
                    .iter()
                    .filter(|g| self.gone_open || Selection::One(g.id) == sel)
                    .map(Row::Gone),
            );
        }
        rows
    }

    /// The index of the selected row in [`Clients::rows`].
    pub fn selected_row(&self) -> usize {
        self.rows()
            .iter()
            .position(|r| match (r, self.selected) {
                (Row::All, Selection::All) => true,
                (Row::Live(c) | Row::Gone(c), Selection::One(id)) => c.id == id,
                _ => false,
            })
            .unwrap_or(0)
    }

    /// Where typed text can go now: the selection, or why not (the text
    /// then stays in the input line).
    pub fn send_target(&self) -> Result<Selection, Blocked> {
        match self.selected {
            Selection::All if self.live.is_empty() => Err(Blocked::NoClient),
            Selection::All => Ok(Selection::All),
            Selection::One(id) => match self.get(id) {
                Some(c) if c.gone.is_none() => Ok(Selection::One(id)),
                Some(c) => Err(Blocked::Gone {
                    label: c.label(),
                    reason: c
                        .gone
                        .as_ref()
                        .map_or(Reason::Other(String::new()), |g| g.1.clone()),
                }),
                None => Err(Blocked::Unknown(id)),
            },
        }
    }
}

/// Why typed text cannot be sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// "all" is selected and no client is connected.
    NoClient,
    /// The selected client went (`#1 desk`, and why).
    Gone {
        /// `#1 desk`.
        label: String,
        /// Why it went.
        reason: Reason,
    },
    /// The selected id is not known.
    Unknown(u64),
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocked::NoClient => {
                f.write_str("no client is connected: the text stays here until a board connects")
            }
            Blocked::Gone { label, reason } => write!(
                f,
                "{label} is gone ({reason}): the text stays here; the selection follows the \
                 board when it reconnects, Tab chooses another"
            ),
            Blocked::Unknown(id) => write!(f, "no client #{id}: Tab chooses one"),
        }
    }
}

/// The MAC address of a LAN peer from the system's neighbour table, when
/// it has one (Linux; `None` elsewhere, and for loopback peers).
pub fn neighbour_mac(ip: IpAddr) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let IpAddr::V4(v4) = ip.to_canonical() else {
            return None;
        };
        let table = std::fs::read_to_string("/proc/net/arp").ok()?;
        parse_arp(&table, v4)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = ip;
        None
    }
}

/// Finds `ip` in the text of `/proc/net/arp` (`IP HWtype Flags HWaddress
/// Mask Device`), skipping incomplete entries.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_arp(table: &str, ip: std::net::Ipv4Addr) -> Option<String> {
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (addr, flags, mac) = (f.first()?, f.get(2)?, f.get(3)?);
        let complete = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()? & 0x2 != 0;
        (addr.parse() == Ok(ip) && complete && *mac != "00:00:00:00:00:00").then(|| mac.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s)
    }

    fn peer(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn live_first_and_gone_bounded_and_collapsible() {
        let mut c = Clients::default();
        for id in 1..=(GONE_MAX as u64 + 5) {
            c.connected(id, peer("127.0.0.1:4000"), None, t(id));
            c.disconnected(id, &Reason::ClosedByPeer, t(id));
        }
        c.connected(100, peer("127.0.0.1:5000"), None, t(100));
        let rows = c.rows();
        assert_eq!(rows[0], Row::All);
        assert!(matches!(rows[1], Row::Live(l) if l.id == 100));
        assert_eq!(rows[2], Row::GoneHeader(GONE_MAX, true));
        // Most recent departure first; the oldest forgotten.
        assert!(matches!(rows[3], Row::Gone(g) if g.id == GONE_MAX as u64 + 5));
        assert_eq!(rows.len(), 3 + GONE_MAX);
        assert!(c.get(1).is_none());
        c.gone_open = false;
        assert_eq!(c.rows().len(), 3);
    }

    #[test]
    fn selection_follows_a_board_that_reconnects_by_name() {
        let mut c = Clients::default();
        c.connected(1, peer("192.0.2.7:5000"), None, t(0));
        c.named(1, Some("desk".into()));
        c.connected(2, peer("192.0.2.8:5000"), None, t(0));
        c.cycle(1);
        assert_eq!(c.selected(), Selection::One(1));
        assert!(c.send_target().is_ok());
        c.disconnected(1, &Reason::ResetByPeer, t(1));
        // The selection stays on the gone board; text cannot go there.
        assert_eq!(c.selected(), Selection::One(1));
        let why = c.send_target().unwrap_err().to_string();
        assert!(why.contains("#1 desk is gone (reset by peer)"), "{why}");
        // Other boards come and go: not followed.
        for id in 3..17 {
            c.connected(id, peer("192.0.2.9:5000"), None, t(2));
            assert!(!c.named(id, Some(format!("other{id}"))));
            c.disconnected(id, &Reason::ClosedByPeer, t(3));
        }
        assert_eq!(c.selected(), Selection::One(1));
        // The same name from another address: followed.
        assert!(!c.connected(20, peer("192.0.2.50:5001"), None, t(4)));
        assert!(c.named(20, Some("desk".into())));
        assert_eq!(c.selected(), Selection::One(20));
        assert_eq!(c.selected_row(), 2, "live ones first: all, #2, #20");
        // Its past is no longer listed.
        assert!(c.gone().all(|g| g.name.as_deref() != Some("desk")));
    }

    /// A second id (a running `/auto`'s target) follows its board as the
    /// selection does, whatever is selected, and is never forgotten from
    /// the gone group while it waits.
    #[test]
    fn another_id_follows_its_board_too() {
        let mut c = Clients::default();
        c.connected(1, peer("192.0.2.7:5000"), None, t(0));
        c.named(1, Some("desk".into()));
        c.connected(2, peer("192.0.2.8:5000"), None, t(0));
        c.select(Selection::One(2));
        c.follow_also(Some(1));
        c.disconnected(1, &Reason::ResetByPeer, t(1));
        for id in 3..(GONE_MAX as u64 + 10) {
            c.connected(id, peer("192.0.2.9:5000"), None, t(2));
            c.named(id, Some(format!("other{id}")));
            c.disconnected(id, &Reason::ClosedByPeer, t(3));
        }
        assert!(c.get(1).is_some(), "kept while followed");
        assert_eq!(c.take_also_moved(), None);
        let new = GONE_MAX as u64 + 20;
        assert!(!c.connected(new, peer("192.0.2.50:5001"), None, t(4)));
        assert_eq!(c.take_also_moved(), None, "not before its name");
        assert!(
            !c.named(new, Some("desk".into())),
            "the selection stays on #2"
        );
        assert_eq!(c.take_also_moved(), Some((1, new)));
        assert_eq!((c.also(), c.selected()), (Some(new), Selection::One(2)));
        assert_eq!(c.take_also_moved(), None);
        // Unnamed: by IP.
        c.follow_also(Some(2));
        c.disconnected(2, &Reason::ClosedByPeer, t(5));
        c.connected(new + 1, peer("192.0.2.8:6000"), None, t(6));
        assert_eq!(c.take_also_moved(), Some((2, new + 1)));
    }

    #[test]
    fn unnamed_boards_are_followed_by_mac_or_ip() {
        let mut c = Clients::default();
        c.connected(1, peer("192.0.2.7:5000"), None, t(0));
        c.select(Selection::One(1));
        c.disconnected(1, &Reason::ClosedByPeer, t(1));
        assert!(!c.connected(2, peer("192.0.2.8:5000"), None, t(2)));
        assert!(c.connected(3, peer("[::ffff:192.0.2.7]:6000"), None, t(2)));
        assert_eq!(c.selected(), Selection::One(3));
        // With MACs known, the MAC decides (a DHCP address may change).
        let mac = || Some("aa:bb:cc:00:11:22".to_string());
        c.connected(4, peer("192.0.2.20:5000"), mac(), t(3));
        c.select(Selection::One(4));
        c.disconnected(4, &Reason::ClosedByPeer, t(4));
        assert!(!c.connected(
            5,
            peer("192.0.2.20:5000"),
            Some("aa:aa:aa:aa:aa:aa".into()),
            t(5)
        ));
        assert!(c.connected(6, peer("192.0.2.21:5000"), mac(), t(5)));
        assert_eq!(c.selected(), Selection::One(6));
        assert!(
            c.get(4).is_none(),
            "the same hardware's old entry is dropped"
        );
    }

    #[test]
    fn tab_cycles_live_clients_and_counters_reset() {
        let mut c = Clients::default();
        assert_eq!(c.send_target(), Err(Blocked::NoClient));
        assert!(Blocked::NoClient
            .to_string()
            .contains("no client is connected"));
        for id in 1..=3 {
            c.connected(id, peer("127.0.0.1:1"), None, t(0));
        }
        c.received(2, 10);
        c.sent(2, 4);
        c.disconnected(2, &Reason::ClosedByPeer, t(1));
        c.cycle(1);
        assert_eq!(c.selected(), Selection::One(1));
        c.cycle(1);
        assert_eq!(c.selected(), Selection::One(3));
        c.cycle(1);
        assert_eq!(c.selected(), Selection::All);
        c.cycle(-1);
        assert_eq!(c.selected(), Selection::One(3));
        assert_eq!(c.get(2).unwrap().bytes_in, 10);
        c.reset_counters();
        assert_eq!(c.get(2).unwrap().bytes_in, 0);
        // Tab from a gone selection goes to the first live client.
        c.select(Selection::One(2));
        c.cycle(1);
        assert_eq!(c.selected(), Selection::One(1));
    }

    #[test]
    fn arp_table_lookup() {
        let table = "IP address       HW type     Flags       HW address            Mask     Device\n\
                     192.0.2.7        0x1         0x2         aa:bb:cc:dd:ee:ff     *        wlan0\n\
                     192.0.2.8        0x1         0x0         00:00:00:00:00:00     *        wlan0\n";
        assert_eq!(
            parse_arp(table, "192.0.2.7".parse().unwrap()).as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
        assert_eq!(parse_arp(table, "192.0.2.8".parse().unwrap()), None);
        assert_eq!(parse_arp(table, "192.0.2.9".parse().unwrap()), None);
    }
}
