//! Multicast DNS on the board (RFC 6762, DNS-SD RFC 6763): the responder
//! that makes the board findable, and the querier that finds the server.
//!
//! [`Mdns`] is a state machine without I/O or clock: it is fed datagrams
//! and the time, and says what to send. The app drives it over the board's
//! multicast socket (`app.rs`); the tests and the fuzz target drive it
//! directly. DNS messages are read and written with
//! [`edge_mdns`] (which builds on the `domain` crate): no allocation, and
//! names are parsed with `domain`'s checks (compression pointers must point
//! backwards, at most 255 of them per name, lengths within the message).
//!
//! What it answers: `<host>.local` (A), and the board's own DNS-SD
//! instance of [`BOARD_SERVICE`] (PTR, SRV, TXT with the board's name,
//! chip, firmware version and MAC), also to `_services._dns-sd._udp.local`.
//! Before it answers or announces, it probes for its two names (RFC 6762
//! §8.1): [`PROBES`] questions [`PROBE_GAP_MS`] apart with its records in
//! the authority section. An answer from another device for either name
//! means the name is taken: the board takes `<name>-2` (then `-3`, …, as
//! Avahi and ESPHome do) and probes again. When two boards probe for the
//! same name at once, the one whose records compare lower waits
//! [`PROBE_DEFER_MS`] and probes again (§8.2), by which time the other
//! has claimed the name. A device that answers later with different data
//! for a name the board claimed makes it probe again (§9).
//!
//! What it looks for, while a [`Query`] is set: the instances of a service
//! type (PTR), their SRV records and their hosts' addresses (A), or the
//! address of one `.local` host. Records of other names, services not asked
//! for, instances other than the one asked for, and goodbyes (TTL 0) are
//! ignored; an answer in pieces (PTR now, SRV or A later) is completed with
//! follow-up questions. Everything it keeps has a fixed size.

use core::fmt::Write as _;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use edge_mdns::domain::base::iana::{Class, Opcode, Rcode};
use edge_mdns::domain::base::rdata::UnknownRecordData;
use edge_mdns::domain::base::{
    Message, MessageBuilder, ParsedName, ParsedRecord, Question, Record, Rtype, ToName, Ttl,
};
use edge_mdns::domain::rdata::{Ptr, Srv, A};
use edge_mdns::{
    set_header, Buf, HostQuestion, HostQuestions, MdnsError, NameSlice, Txt, DNS_SD_OWNER,
};
use heapless::{String, Vec};
use picow_protocol::discovery::{
    self, BOARD_SERVICE, MDNS_GROUP_V4, MDNS_PORT, TXT_CHIP, TXT_MAC, TXT_NAME, TXT_VERSION,
};
use picow_protocol::forms::{HOST_MAX, INSTANCE_MAX, NAME_MAX};

use crate::Backoff;

/// Largest datagram read or written (an Ethernet MTU; longer ones are
/// dropped by the board's socket).
pub const PACKET_MAX: usize = 1536;
/// TTL of the board's own records, in seconds (RFC 6762's recommendation
/// for host names and SRV records).
pub const RECORD_TTL_S: u32 = 120;
/// Delay of the second announcement after the first (RFC 6762 §8.3).
pub const ANNOUNCE_GAP_MS: u64 = 1_000;
/// Probes sent for the board's names before it claims them (RFC 6762
/// §8.1).
pub const PROBES: u8 = 3;
/// Time between probes, and after the last one until the names are
/// claimed.
pub const PROBE_GAP_MS: u64 = 250;
/// Longest wait before the first probe (a delay from the board's MAC, so
/// that boards powered on together do not probe in step).
pub const PROBE_JITTER_MS: u64 = 250;
/// How long a board that lost a simultaneous probe waits before it probes
/// again (RFC 6762 §8.2).
pub const PROBE_DEFER_MS: u64 = 1_000;
/// After this many conflicts in a row, probes are [`CONFLICT_PAUSE_MS`]
/// apart (RFC 6762 §8.1: 15 conflicts in 10 s).
pub const CONFLICTS_FAST: u8 = 15;
/// The pause between probes after [`CONFLICTS_FAST`] conflicts.
pub const CONFLICT_PAUSE_MS: u64 = 5_000;
/// Interval after the first query; doubles per query.
pub const QUERY_FIRST_MS: u32 = 1_000;
/// Longest interval between queries while looking.
pub const QUERY_MAX_MS: u32 = 16_000;
/// Least time between two follow-up questions (SRV or A for an answer in
/// pieces).
pub const FOLLOW_UP_GAP_MS: u64 = 250;
/// Instances kept while looking (the first complete one wins).
pub const INSTANCES_MAX: usize = 4;
/// Host addresses kept while looking.
pub const HOSTS_MAX: usize = 4;

/// The mDNS destination, `224.0.0.251:5353`.
pub const GROUP: SocketAddr = SocketAddr::new(IpAddr::V4(MDNS_GROUP_V4), MDNS_PORT);

/// A name in DNS wire form without compression: length-prefixed labels, no
/// root label.
type WireName = Vec<u8, 256>;

/// Record data as a tiebreak compares it (RFC 6762 §8.2): the class
/// without the cache-flush bit, the type, and the data with names
/// uncompressed.
type RecordKey = (u16, u16, Vec<u8, 320>);

/// The records of one name, sorted (at most this many are compared).
type RecordKeys = Vec<RecordKey, 4>;

/// What the board advertises about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The host label: the board answers as `<host>.local`.
    pub host: String<{ discovery::LABEL_MAX }>,
    /// The board's name on the LAN: its DNS-SD instance and the `name`
    /// TXT value (the configured name, or `<name>-2`, … when that was
    /// taken).
    pub name: String<INSTANCE_MAX>,
    /// Its IPv4 address (unspecified: no A record).
    pub ip: Ipv4Addr,
    /// Chip name.
    pub chip: &'static str,
    /// Firmware version.
    pub version: &'static str,
    /// MAC address as text.
    pub mac: String<17>,
    /// The port of its SRV record: where it takes updates over Wi-Fi
    /// (ESPHome's 3232 unless the board listens elsewhere).
    pub port: u16,
}

impl Identity {
    /// The identity of a board named `name` (its configured name, else
    /// [`discovery::default_board_name`]) at `ip`.
    pub fn new(
        name: &str,
        ip: Ipv4Addr,
        chip: &'static str,
        version: &'static str,
        mac: [u8; 6],
    ) -> Identity {
        let mut n = String::new();
        for c in name.chars() {
            if n.push(c).is_err() {
                break;
            }
        }
        Identity {
            host: discovery::host_label(name),
            name: n,
            ip,
            chip,
            version,
            mac: discovery::mac_text(mac),
            port: picow_protocol::ota::wire::PORT,
        }
    }

    /// `base` with the suffix `-n` (for `n` ≥ 2), as name and host label,
    /// `base` cut so that both fit.
    fn rename(&mut self, base: &str, n: u16) {
        let mut suffix: String<6> = String::new();
        if n >= 2 {
            let _ = write!(suffix, "-{n}");
        }
        let room = NAME_MAX.min(INSTANCE_MAX) - suffix.len();
        let mut cut = base.len().min(room);
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut name: String<INSTANCE_MAX> = String::new();
        let _ = name.push_str(&base[..cut]);
        let _ = name.push_str(&suffix);
        let mut host = discovery::host_label(&base[..cut]);
        while host.len() + suffix.len() > discovery::LABEL_MAX {
            host.pop();
        }
        let _ = host.push_str(&suffix);
        self.name = name;
        self.host = host;
    }
}

/// What the app looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Instances of a DNS-SD service type such as `_picow._tcp`: any, or
    /// the one named `instance`.
    Browse {
        /// The service type, two labels (`_picow._tcp`).
        service: &'static str,
        /// The instance asked for; `None`: the first one complete.
        instance: Option<String<INSTANCE_MAX>>,
    },
    /// The address of a `.local` host; `port` is the configured one.
    Resolve {
        /// The host name, e.g. `my-pc.local`.
        host: String<HOST_MAX>,
        /// The port to connect to.
        port: u16,
    },
}

/// A server found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The instance name (browsing only).
    pub instance: Option<String<INSTANCE_MAX>>,
    /// The host name, e.g. `picow.local`.
    pub host: String<HOST_MAX>,
    /// Where to connect.
    pub addr: SocketAddr,
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// To the group ([`GROUP`]).
    Group,
    /// Back to one peer (a legacy unicast query, RFC 6762 §6.7).
    Unicast(SocketAddr),
}

#[derive(Debug, Clone)]
struct Instance {
    label: String<INSTANCE_MAX>,
    srv: Option<(u16, WireName)>,
}

#[derive(Debug, Clone)]
struct Looking {
    query: Query,
    /// When the next full query is due.
    next_ms: u64,
    backoff: Backoff,
    /// When a follow-up question may be sent; `None`: none needed.
    follow_up_ms: Option<u64>,
    instances: Vec<Instance, INSTANCES_MAX>,
    hosts: Vec<(WireName, Ipv4Addr), HOSTS_MAX>,
    /// Found: no more questions, no more reading, until the next query.
    done: bool,
}

/// Whether the board's names are its own yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// `sent` probes are out; the next one (or, after the last, the claim)
    /// is due at `next_ms`.
    Probing { sent: u8, next_ms: u64 },
    /// The names are the board's: it answers and announces.
    Claimed,
}

/// The board's mDNS responder and querier (see the module docs).
#[derive(Debug, Clone)]
pub struct Mdns {
    me: Identity,
    /// The configured name (what [`Identity::name`] is when not taken).
    base: String<INSTANCE_MAX>,
    /// The suffix of the name in use: 1 for none, then 2, 3, …
    suffix: u16,
    /// Conflicts in a row (for the rate limit of RFC 6762 §8.1).
    conflicts: u8,
    claim: Claim,
    /// Claimed, and not yet told ([`take_claimed`](Self::take_claimed)).
    claimed_news: bool,
    /// Announcements still to send, and when the next one is due.
    announce: (u8, u64),
    looking: Option<Looking>,
    found: Option<Found>,
    /// Datagrams handled and dropped as unreadable, for tests.
    dropped: u32,
}

impl Mdns {
    /// A responder for `me`, which probes for its names from `now_ms`
    /// (after a delay of up to [`PROBE_JITTER_MS`] taken from its MAC),
    /// then announces itself twice.
    pub fn new(me: Identity, now_ms: u64) -> Mdns {
        let jitter = me
            .mac
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
            % PROBE_JITTER_MS;
        Mdns {
            base: me.name.clone(),
            me,
            suffix: 1,
            conflicts: 0,
            claim: Claim::Probing {
                sent: 0,
                next_ms: now_ms + jitter,
            },
            claimed_news: false,
            announce: (0, now_ms),
            looking: None,
            found: None,
            dropped: 0,
        }
    }

    /// The identity advertised (its name and host change when taken).
    pub fn identity(&self) -> &Identity {
        &self.me
    }

    /// Whether the board's names are its own (probing is over).
    pub fn is_claimed(&self) -> bool {
        self.claim == Claim::Claimed
    }

    /// The configured name, when another device had it and the board
    /// answers as `<name>-N` instead.
    pub fn taken(&self) -> Option<&str> {
        (self.suffix > 1).then_some(self.base.as_str())
    }

    /// True once each time the board has claimed its names (after the
    /// first probing, and after any later one).
    pub fn take_claimed(&mut self) -> bool {
        core::mem::take(&mut self.claimed_news)
    }

    /// Starts looking for `query` (the first question goes out at the next
    /// [`poll_transmit`](Self::poll_transmit)), or stops looking with
    /// `None`. Forgets what an earlier query found.
    pub fn set_query(&mut self, query: Option<Query>, now_ms: u64) {
        self.found = None;
        self.looking = query.map(|query| Looking {
            query,
            next_ms: now_ms,
            backoff: Backoff::new(QUERY_FIRST_MS, QUERY_MAX_MS),
            follow_up_ms: None,
            instances: Vec::new(),
            hosts: Vec::new(),
            done: false,
        });
    }

    /// Listens for `query` without asking: what others announce by
    /// themselves (a server that starts) is taken; answers in pieces are
    /// still completed with follow-up questions.
    pub fn set_listening(&mut self, query: Query, now_ms: u64) {
        self.set_query(Some(query), now_ms);
        if let Some(l) = self.looking.as_mut() {
            l.next_ms = u64::MAX;
        }
    }

    /// Whether a query is set.
    pub fn is_looking(&self) -> bool {
        self.looking.is_some()
    }

    /// The server found for the query, once (the query stays set, and
    /// quiet, until the next [`set_query`](Self::set_query)).
    pub fn take_found(&mut self) -> Option<Found> {
        self.found.take()
    }

    /// Datagrams that did not parse as DNS messages so far.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// When [`poll_transmit`](Self::poll_transmit) next has something to
    /// send, in board milliseconds; `None`: only a datagram can change that.
    pub fn next_wakeup(&self) -> Option<u64> {
        let announce = match self.claim {
            Claim::Probing { next_ms, .. } => Some(next_ms),
            Claim::Claimed => (self.announce.0 > 0).then_some(self.announce.1),
        };
        let looking = self
            .looking
            .as_ref()
            .filter(|l| !l.done)
            .map(|l| l.follow_up_ms.map_or(l.next_ms, |f| f.min(l.next_ms)));
        let looking = looking.filter(|&t| t != u64::MAX);
        match (announce, looking) {
            (Some(a), Some(l)) => Some(a.min(l)),
            (a, l) => a.or(l),
        }
    }

    /// A datagram due at `now_ms` for the group, written into `out`: a
    /// probe, an announcement, a query or a follow-up question. Call until
    /// `None`.
    pub fn poll_transmit(&mut self, now_ms: u64, out: &mut [u8]) -> Option<usize> {
        if let Claim::Probing { sent, next_ms } = self.claim {
            if next_ms <= now_ms {
                if sent < PROBES {
                    self.claim = Claim::Probing {
                        sent: sent + 1,
                        next_ms: now_ms + PROBE_GAP_MS,
                    };
                    if let Some(n) = self.probe(out) {
                        return Some(n);
                    }
                } else {
                    // No one objected: the names are the board's.
                    self.claim = Claim::Claimed;
                    self.claimed_news = true;
                    self.conflicts = 0;
                    self.announce = (2, now_ms);
                }
            }
        }
        if self.claim == Claim::Claimed && self.announce.0 > 0 && self.announce.1 <= now_ms {
            self.announce.0 -= 1;
            self.announce.1 = now_ms + ANNOUNCE_GAP_MS;
            if let Some(n) = self.announcement(out) {
                return Some(n);
            }
        }
        let looking = self.looking.as_mut().filter(|l| !l.done)?;
        if looking.next_ms <= now_ms {
            looking.next_ms = now_ms + u64::from(looking.backoff.next_ms());
            looking.follow_up_ms = None;
            return build_query(&looking.query, out);
        }
        if looking.follow_up_ms.is_some_and(|t| t <= now_ms) {
            looking.follow_up_ms = None;
            return build_follow_up(looking, out);
        }
        None
    }

    /// All of the board's records, unsolicited (what an announcement
    /// sends), into `out`.
    pub fn announcement(&self, out: &mut [u8]) -> Option<usize> {
        self.respond(None, out)
    }

    /// Handles a datagram from `from` that arrived at `now_ms`: a query
    /// about the board is answered (the reply is written into `out`), and
    /// a response is read for what the query looks for. Anything else,
    /// including bytes that are not a DNS message, is ignored.
    pub fn handle(
        &mut self,
        now_ms: u64,
        data: &[u8],
        from: SocketAddr,
        out: &mut [u8],
    ) -> Option<(usize, Dest)> {
        let Ok(msg) = Message::from_octets(data) else {
            self.dropped += 1;
            return None;
        };
        let header = msg.header();
        if header.opcode() != Opcode::QUERY || header.rcode() != Rcode::NOERROR {
            return None;
        }
        if header.qr() {
            let conflict = self.conflicts_with(&msg);
            let read = self.read_response(&msg, now_ms);
            if conflict.is_err() || read.is_err() {
                self.dropped += 1;
            }
            if conflict == Ok(true) {
                self.on_conflict(now_ms);
            }
            return None;
        }
        if let Claim::Probing { .. } = self.claim {
            // Not the board's names yet: nothing to answer; a probe for
            // the same names at the same time is a tie to break.
            match self.loses_tiebreak(&msg) {
                Ok(true) => {
                    self.claim = Claim::Probing {
                        sent: 0,
                        next_ms: now_ms + PROBE_DEFER_MS,
                    }
                }
                Ok(false) => {}
                Err(_) => self.dropped += 1,
            }
            return None;
        }
        let legacy = from.port() != MDNS_PORT;
        let n = self.respond(Some((&msg, legacy)), out)?;
        Some((
            n,
            if legacy {
                Dest::Unicast(from)
            } else {
                Dest::Group
            },
        ))
    }

    /// The board's answers to the questions of `query` (all its records
    /// when `None`: an announcement), into `out`. Written with `domain`'s
    /// message builder and the four record types the board has, so that
    /// no code for other record types is linked into the firmware.
    fn respond(&self, query: Option<(&Message<&[u8]>, bool)>, out: &mut [u8]) -> Option<usize> {
        let me = &self.me;
        let (service, protocol) = split_service(BOARD_SERVICE);
        let host = [me.host.as_str(), "local"];
        let instance = [me.name.as_str(), service, protocol, "local"];
        let stype = [service, protocol, "local"];
        let names = Names {
            host: NameSlice::new(&host),
            instance: NameSlice::new(&instance),
            stype: NameSlice::new(&stype),
        };
        // What is asked: bit 0 A, 1 SRV, 2 TXT, 3 PTR of the type, 4 PTR of
        // the type enumeration.
        let mut ask = 0u8;
        let legacy = query.is_some_and(|(_, legacy)| legacy);
        if let Some((msg, _)) = query {
            for q in msg.question() {
                let q = q.ok()?;
                let t = q.qtype();
                let any = t == Rtype::ANY;
                let name = q.qname();
                if name.name_eq(&names.host) && (any || t == Rtype::A) {
                    ask |= 1;
                } else if name.name_eq(&names.instance) {
                    if any || t == Rtype::SRV {
                        ask |= 2;
                    }
                    if any || t == Rtype::TXT {
                        ask |= 4;
                    }
                } else if name.name_eq(&names.stype) && (any || t == Rtype::PTR) {
                    ask |= 8;
                } else if name.name_eq(&DNS_SD_OWNER) && (any || t == Rtype::PTR) {
                    ask |= 16;
                }
            }
            if ask & 1 != 0 && me.ip.is_unspecified() {
                ask &= !1;
            }
            if ask == 0 {
                return None;
            }
        } else {
            ask = 0x1f;
        }
        let txt = self.txt_pairs();
        let ttl = Ttl::from_secs(RECORD_TTL_S);
        // Unique records carry the cache-flush bit, except to a legacy
        // querier (RFC 6762 §10.2).
        let unique = if legacy {
            Class::IN
        } else {
            Class::from_int(0x8001)
        };
        let mut mb = MessageBuilder::from_target(Buf::new(out)).ok()?;
        let id = query.map_or(0, |(m, _)| if legacy { m.header().id() } else { 0 });
        set_header(&mut mb, id, true);
        let mut ab = match query {
            Some((msg, true)) => {
                // A legacy querier gets its questions back.
                let mut qb = mb.question();
                for q in msg.question() {
                    qb.push(q.ok()?).ok()?;
                }
                qb.answer()
            }
            _ => mb.answer(),
        };
        let a = Record::new(names.host.clone(), unique, ttl, A::new(me.ip));
        let srv = Record::new(
            names.instance.clone(),
            unique,
            ttl,
            Srv::new(0, 0, me.port, names.host.clone()),
        );
        let txt = Record::new(names.instance.clone(), unique, ttl, Txt::new(&txt));
        let ptr = Record::new(
            names.stype.clone(),
            Class::IN,
            ttl,
            Ptr::new(names.instance.clone()),
        );
        let enumeration = Record::new(DNS_SD_OWNER, Class::IN, ttl, Ptr::new(names.stype.clone()));
        if ask & 16 != 0 {
            ab.push(&enumeration).ok()?;
        }
        if ask & 8 != 0 {
            ab.push(&ptr).ok()?;
        }
        if ask & 2 != 0 {
            ab.push(&srv).ok()?;
        }
        if ask & 4 != 0 {
            ab.push(&txt).ok()?;
        }
        let with_ip = !me.ip.is_unspecified();
        if ask & 1 != 0 && with_ip {
            ab.push(&a).ok()?;
        }
        // Additional records: what the querier will ask for next (RFC 6763
        // §12): SRV and TXT after the PTR, the address after the SRV.
        let mut ad = ab.additional();
        if ask & 8 != 0 && ask & 2 == 0 {
            ad.push(&srv).ok()?;
        }
        if ask & 8 != 0 && ask & 4 == 0 {
            ad.push(&txt).ok()?;
        }
        if ask & 10 != 0 && ask & 1 == 0 && with_ip {
            ad.push(&a).ok()?;
        }
        Some(ad.finish().1)
    }

    /// A probe for the board's names: a question of type ANY (unicast
    /// response asked for) for each, and the records it would claim in the
    /// authority section (RFC 6762 §8.1).
    fn probe(&self, out: &mut [u8]) -> Option<usize> {
        let me = &self.me;
        let (service, protocol) = split_service(BOARD_SERVICE);
        let host = [me.host.as_str(), "local"];
        let instance = [me.name.as_str(), service, protocol, "local"];
        let (host, instance) = (NameSlice::new(&host), NameSlice::new(&instance));
        let txt = self.txt_pairs();
        let qu = Class::from_int(0x8001);
        let ttl = Ttl::from_secs(RECORD_TTL_S);
        let mut mb = MessageBuilder::from_target(Buf::new(out)).ok()?;
        set_header(&mut mb, 0, false);
        let mut qb = mb.question();
        qb.push(Question::new(host.clone(), Rtype::ANY, qu)).ok()?;
        qb.push(Question::new(instance.clone(), Rtype::ANY, qu))
            .ok()?;
        let mut ab = qb.authority();
        if !me.ip.is_unspecified() {
            ab.push(Record::new(host.clone(), Class::IN, ttl, A::new(me.ip)))
                .ok()?;
        }
        ab.push(Record::new(
            instance.clone(),
            Class::IN,
            ttl,
            Srv::new(0, 0, me.port, host),
        ))
        .ok()?;
        ab.push(Record::new(instance, Class::IN, ttl, Txt::new(&txt)))
            .ok()?;
        Some(ab.finish().1)
    }

    fn txt_pairs(&self) -> [(&'static str, &str); 4] {
        [
            (TXT_NAME, self.me.name.as_str()),
            (TXT_CHIP, self.me.chip),
            (TXT_VERSION, self.me.version),
            (TXT_MAC, self.me.mac.as_str()),
        ]
    }

    /// The board's own records for its host name (`false`) or its
    /// instance (`true`), as a tiebreak compares them, sorted; `None` if
    /// they do not fit.
    fn own_keys(&self, instance: bool) -> Option<RecordKeys> {
        let mut keys = RecordKeys::new();
        let mut host_wire = wire_from_text(&self.me.host)?;
        host_wire.push(5).ok()?;
        host_wire.extend_from_slice(b"local").ok()?;
        host_wire.push(0).ok()?;
        if !instance {
            if !self.me.ip.is_unspecified() {
                let data = Vec::from_slice(&self.me.ip.octets()).ok()?;
                keys.push((1, Rtype::A.to_int(), data)).ok()?;
            }
        } else {
            let [hi, lo] = self.me.port.to_be_bytes();
            let mut srv: Vec<u8, 320> = Vec::from_slice(&[0, 0, 0, 0, hi, lo]).ok()?;
            srv.extend_from_slice(&host_wire).ok()?;
            keys.push((1, Rtype::SRV.to_int(), srv)).ok()?;
            let mut txt: Vec<u8, 320> = Vec::new();
            for (k, v) in self.txt_pairs() {
                let len = u8::try_from(k.len() + 1 + v.len()).ok()?;
                txt.push(len).ok()?;
                txt.extend_from_slice(k.as_bytes()).ok()?;
                txt.push(b'=').ok()?;
                txt.extend_from_slice(v.as_bytes()).ok()?;
            }
            keys.push((1, Rtype::TXT.to_int(), txt)).ok()?;
        }
        sort_keys(&mut keys);
        Some(keys)
    }

    /// Which of the board's names `owner` is: `Some(false)` the host,
    /// `Some(true)` the instance.
    fn own_name(&self, owner: &impl ToName) -> Option<bool> {
        let (service, protocol) = split_service(BOARD_SERVICE);
        let host = [self.me.host.as_str(), "local"];
        let instance = [self.me.name.as_str(), service, protocol, "local"];
        if owner.name_eq(&NameSlice::new(&host)) {
            Some(false)
        } else if owner.name_eq(&NameSlice::new(&instance)) {
            Some(true)
        } else {
            None
        }
    }

    /// Whether a response claims one of the board's names: while probing,
    /// any live record of that name (the probe asked for type ANY); once
    /// claimed, a record of a type the board has, with other data (RFC
    /// 6762 §9; the board's own records, looped back, are no conflict).
    fn conflicts_with(&self, msg: &Message<&[u8]>) -> Result<bool, MdnsError> {
        for section in [msg.answer()?, msg.authority()?, msg.additional()?] {
            for record in section {
                let record = record?;
                if record.ttl().as_secs() == 0 {
                    continue;
                }
                let Some(instance) = self.own_name(&record.owner()) else {
                    continue;
                };
                let Some(theirs) = record_key(&record)? else {
                    continue;
                };
                let ours = self.own_keys(instance).unwrap_or_default();
                if ours.contains(&theirs) {
                    continue;
                }
                let probing = matches!(self.claim, Claim::Probing { .. });
                if probing || ours.iter().any(|k| k.1 == theirs.1) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Whether a probe from another device for one of the board's names
    /// wins against the board's own (RFC 6762 §8.2: the records, sorted,
    /// compared as class, type and data; the greater wins).
    fn loses_tiebreak(&self, msg: &Message<&[u8]>) -> Result<bool, MdnsError> {
        let mut theirs = [RecordKeys::new(), RecordKeys::new()];
        for record in msg.authority()? {
            let record = record?;
            let Some(instance) = self.own_name(&record.owner()) else {
                continue;
            };
            if let Some(key) = record_key(&record)? {
                // More records than kept: the last ones are not compared.
                let _ = theirs[usize::from(instance)].push(key);
            }
        }
        for (i, theirs) in theirs.iter_mut().enumerate() {
            if theirs.is_empty() {
                continue;
            }
            sort_keys(theirs);
            let Some(ours) = self.own_keys(i == 1) else {
                continue;
            };
            if ours < *theirs {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Another device has one of the board's names: take the next name
    /// (while probing) or defend it by probing again (once claimed).
    fn on_conflict(&mut self, now_ms: u64) {
        if matches!(self.claim, Claim::Probing { .. }) {
            self.suffix = self.suffix.saturating_add(1).max(2);
            let base = self.base.clone();
            self.me.rename(&base, self.suffix);
        }
        self.conflicts = self.conflicts.saturating_add(1);
        let pause = if self.conflicts >= CONFLICTS_FAST {
            CONFLICT_PAUSE_MS
        } else {
            0
        };
        self.announce.0 = 0;
        self.claim = Claim::Probing {
            sent: 0,
            next_ms: now_ms + pause,
        };
    }

    /// Reads the answers of a response into the search.
    fn read_response(&mut self, msg: &Message<&[u8]>, now_ms: u64) -> Result<(), MdnsError> {
        let Some(looking) = self.looking.as_mut().filter(|l| !l.done) else {
            return Ok(());
        };
        // Three passes, so that the order of the records does not matter:
        // instances, then their SRV records, then addresses.
        for pass in [Rtype::PTR, Rtype::SRV, Rtype::A] {
            for section in [msg.answer()?, msg.additional()?] {
                for record in section {
                    let record = record?;
                    if record.rtype() != pass {
                        continue;
                    }
                    let alive = record.ttl().as_secs() > 0;
                    if pass == Rtype::PTR {
                        if let Some(r) = record.to_record::<Ptr<ParsedName<&[u8]>>>()? {
                            looking.ptr(r.owner(), r.data().ptrdname(), alive);
                        }
                    } else if pass == Rtype::SRV {
                        if let Some(r) = record.to_record::<Srv<ParsedName<&[u8]>>>()? {
                            looking.srv(r.owner(), r.data().port(), r.data().target(), alive);
                        }
                    } else if let Some(r) = record.to_record::<A>()? {
                        looking.a(r.owner(), r.data().addr(), alive);
                    }
                }
            }
        }
        self.found = looking.complete();
        looking.done = self.found.is_some();
        if !looking.done && looking.needs_follow_up() {
            let earliest = now_ms + FOLLOW_UP_GAP_MS;
            looking.follow_up_ms = Some(looking.follow_up_ms.map_or(now_ms, |t| t.min(earliest)));
        }
        Ok(())
    }
}

/// Sorts at most a few keys in place (an insertion sort: the slice sort
/// of `core` costs the C3 image kilobytes for four elements).
fn sort_keys(keys: &mut RecordKeys) {
    for i in 1..keys.len() {
        let mut j = i;
        while j > 0 && keys[j - 1] > keys[j] {
            keys.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// A record as a tiebreak compares it; `None` for one the board cannot
/// read (its data is then not compared).
fn record_key(record: &ParsedRecord<'_, &[u8]>) -> Result<Option<RecordKey>, MdnsError> {
    let class = record.class().to_int() & 0x7fff;
    let rtype = record.rtype();
    let mut data: Vec<u8, 320> = Vec::new();
    if rtype == Rtype::SRV {
        let Some(r) = record.to_record::<Srv<ParsedName<&[u8]>>>()? else {
            return Ok(None);
        };
        let srv = r.data();
        for v in [srv.priority(), srv.weight(), srv.port()] {
            if data.extend_from_slice(&v.to_be_bytes()).is_err() {
                return Ok(None);
            }
        }
        for label in srv.target().iter() {
            let bytes = label.as_slice();
            if data.push(bytes.len() as u8).is_err() || data.extend_from_slice(bytes).is_err() {
                return Ok(None);
            }
        }
    } else {
        let Some(r) = record.to_record::<UnknownRecordData<&[u8]>>()? else {
            return Ok(None);
        };
        if data.extend_from_slice(r.data().data()).is_err() {
            return Ok(None);
        }
    }
    Ok(Some((class, rtype.to_int(), data)))
}

/// The names the board answers for.
struct Names<'n> {
    host: NameSlice<'n>,
    instance: NameSlice<'n>,
    stype: NameSlice<'n>,
}

/// `_picow._tcp` → (`_picow`, `_tcp`).
fn split_service(service: &'static str) -> (&'static str, &'static str) {
    service.split_once('.').unwrap_or((service, "_tcp"))
}

/// A name from its dotted text (labels up to 63 bytes), `None` if it
/// does not make one.
fn wire_from_text(text: &str) -> Option<WireName> {
    let mut w = WireName::new();
    for label in text.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        w.push(label.len() as u8).ok()?;
        w.extend_from_slice(label.as_bytes()).ok()?;
    }
    Some(w)
}

/// A parsed name in wire form (no root label), `None` if too long.
fn wire_from_parsed(name: &ParsedName<&[u8]>) -> Option<WireName> {
    let mut w = WireName::new();
    for label in name.iter() {
        let bytes = label.as_slice();
        if bytes.is_empty() {
            break;
        }
        w.push(bytes.len() as u8).ok()?;
        w.extend_from_slice(bytes).ok()?;
    }
    Some(w)
}

/// The labels of a wire name, each as text (`None` if one is not UTF-8).
fn labels(w: &[u8]) -> impl Iterator<Item = Option<&str>> {
    let mut rest = w;
    core::iter::from_fn(move || {
        let (&len, tail) = rest.split_first()?;
        let len = usize::from(len).min(tail.len());
        let (label, after) = tail.split_at(len);
        rest = after;
        Some(core::str::from_utf8(label).ok())
    })
}

/// The dotted text of a wire name, `None` if not UTF-8 or too long.
fn text_of(w: &[u8]) -> Option<String<HOST_MAX>> {
    let mut s = String::new();
    for (i, label) in labels(w).enumerate() {
        if i > 0 {
            s.push('.').ok()?;
        }
        s.push_str(label?).ok()?;
    }
    Some(s)
}

fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `instance.<service>.local` → the instance label, when `name` is one of
/// `service`'s instances.
fn instance_of<'n>(name: &'n [u8], service: &[u8]) -> Option<&'n [u8]> {
    let (&len, rest) = name.split_first()?;
    let len = usize::from(len);
    if len == 0 || len > rest.len() {
        return None;
    }
    let (label, parent) = rest.split_at(len);
    same_name(parent, service).then_some(label)
}

impl Looking {
    /// The service type plus `.local`, in wire form.
    fn service_wire(&self) -> Option<WireName> {
        match &self.query {
            Query::Browse { service, .. } => {
                let mut w = wire_from_text(service)?;
                w.push(5).ok()?;
                w.extend_from_slice(b"local").ok()?;
                Some(w)
            }
            Query::Resolve { .. } => None,
        }
    }

    fn wants_instance(&self, label: &str) -> bool {
        match &self.query {
            Query::Browse {
                instance: Some(want),
                ..
            } => want.as_bytes().eq_ignore_ascii_case(label.as_bytes()),
            Query::Browse { instance: None, .. } => true,
            Query::Resolve { .. } => false,
        }
    }

    fn ptr(&mut self, owner: &ParsedName<&[u8]>, target: &ParsedName<&[u8]>, alive: bool) {
        let Some(service) = self.service_wire() else {
            return;
        };
        let (Some(owner), Some(target)) = (wire_from_parsed(owner), wire_from_parsed(target))
        else {
            return;
        };
        if !same_name(&owner, &service) {
            return;
        }
        let Some(label) = instance_of(&target, &service) else {
            return;
        };
        let Ok(label) = core::str::from_utf8(label) else {
            return;
        };
        if !self.wants_instance(label) {
            return;
        }
        let known = self
            .instances
            .iter()
            .position(|i| i.label.as_bytes().eq_ignore_ascii_case(label.as_bytes()));
        match (known, alive) {
            (Some(i), false) => {
                self.instances.remove(i);
            }
            (None, true) => {
                let mut l = String::new();
                if l.push_str(label).is_ok() {
                    // A full table keeps the instances seen first.
                    let _ = self.instances.push(Instance {
                        label: l,
                        srv: None,
                    });
                }
            }
            _ => {}
        }
    }

    fn srv(
        &mut self,
        owner: &ParsedName<&[u8]>,
        port: u16,
        target: &ParsedName<&[u8]>,
        alive: bool,
    ) {
        let Some(service) = self.service_wire() else {
            return;
        };
        let (Some(owner), Some(target)) = (wire_from_parsed(owner), wire_from_parsed(target))
        else {
            return;
        };
        let Some(label) = instance_of(&owner, &service) else {
            return;
        };
        // Only instances asked for and announced by a PTR record.
        let Some(inst) = self
            .instances
            .iter_mut()
            .find(|i| i.label.as_bytes().eq_ignore_ascii_case(label))
        else {
            return;
        };
        inst.srv = (alive && port != 0 && text_of(&target).is_some()).then_some((port, target));
    }

    fn a(&mut self, owner: &ParsedName<&[u8]>, ip: Ipv4Addr, alive: bool) {
        let Some(owner) = wire_from_parsed(owner) else {
            return;
        };
        let wanted = match &self.query {
            Query::Resolve { host, .. } => {
                wire_from_text(host).is_some_and(|h| same_name(&h, &owner))
            }
            Query::Browse { .. } => self
                .instances
                .iter()
                .any(|i| i.srv.as_ref().is_some_and(|(_, t)| same_name(t, &owner))),
        };
        if !wanted {
            return;
        }
        let known = self.hosts.iter().position(|(h, _)| same_name(h, &owner));
        match (known, alive && !ip.is_unspecified()) {
            (Some(i), true) => self.hosts[i].1 = ip,
            (Some(i), false) => {
                self.hosts.remove(i);
            }
            (None, true) => {
                let _ = self.hosts.push((owner, ip));
            }
            (None, false) => {}
        }
    }

    fn address_of(&self, host: &[u8]) -> Option<Ipv4Addr> {
        self.hosts
            .iter()
            .find(|(h, _)| same_name(h, host))
            .map(|(_, ip)| *ip)
    }

    /// The first instance (or the host) that is complete.
    fn complete(&self) -> Option<Found> {
        match &self.query {
            Query::Resolve { host, port } => {
                let ip = self.address_of(&wire_from_text(host)?)?;
                Some(Found {
                    instance: None,
                    host: host.clone(),
                    addr: SocketAddr::new(IpAddr::V4(ip), *port),
                })
            }
            Query::Browse { .. } => self.instances.iter().find_map(|i| {
                let (port, target) = i.srv.as_ref()?;
                let ip = self.address_of(target)?;
                Some(Found {
                    instance: Some(i.label.clone()),
                    host: text_of(target)?,
                    addr: SocketAddr::new(IpAddr::V4(ip), *port),
                })
            }),
        }
    }

    fn needs_follow_up(&self) -> bool {
        matches!(self.query, Query::Browse { .. })
            && self.instances.iter().any(|i| match &i.srv {
                None => true,
                Some((_, t)) => self.address_of(t).is_none(),
            })
    }
}

/// Questions given as dotted names and a type each.
struct Questions<'q> {
    names: &'q [(&'q str, Rtype)],
}

impl HostQuestions for Questions<'_> {
    fn visit<F, E>(&self, mut f: F) -> Result<(), E>
    where
        F: FnMut(HostQuestion) -> Result<(), E>,
        E: From<MdnsError>,
    {
        for (name, rtype) in self.names {
            let mut labels: Vec<&str, 8> = Vec::new();
            for l in name.split('.') {
                if l.is_empty() || l.len() > 63 || labels.push(l).is_err() {
                    return Err(MdnsError::InvalidMessage.into());
                }
            }
            f(Question::new(NameSlice::new(&labels), *rtype, Class::IN))?;
        }
        Ok(())
    }
}

fn send_questions(names: &[(&str, Rtype)], out: &mut [u8]) -> Option<usize> {
    match (Questions { names }).query(0, out) {
        Ok(n) if n > 0 => Some(n),
        _ => None,
    }
}

fn build_query(query: &Query, out: &mut [u8]) -> Option<usize> {
    let mut name: String<HOST_MAX> = String::new();
    match query {
        Query::Browse { service, .. } => {
            write!(name, "{service}.local").ok()?;
            send_questions(&[(&name, Rtype::PTR)], out)
        }
        Query::Resolve { host, .. } => send_questions(&[(host, Rtype::A)], out),
    }
}

/// SRV and TXT for instances without an SRV record, A for SRV targets
/// without an address.
fn build_follow_up(looking: &Looking, out: &mut [u8]) -> Option<usize> {
    let mut texts: Vec<String<HOST_MAX>, INSTANCES_MAX> = Vec::new();
    let mut kinds: Vec<Rtype, INSTANCES_MAX> = Vec::new();
    let Query::Browse { service, .. } = &looking.query else {
        return None;
    };
    for i in &looking.instances {
        let mut t: String<HOST_MAX> = String::new();
        let kind = match &i.srv {
            None => {
                write!(t, "{}.{service}.local", i.label).ok()?;
                Rtype::SRV
            }
            Some((_, target)) if looking.address_of(target).is_none() => {
                t = text_of(target)?;
                Rtype::A
            }
            Some(_) => continue,
        };
        // Instance labels with dots cannot be written as dotted text.
        if kind == Rtype::SRV && i.label.contains('.') {
            continue;
        }
        let _ = texts.push(t);
        let _ = kinds.push(kind);
    }
    let mut names: Vec<(&str, Rtype), INSTANCES_MAX> = Vec::new();
    for (t, k) in texts.iter().zip(kinds.iter()) {
        let _ = names.push((t.as_str(), *k));
    }
    if names.is_empty() {
        return None;
    }
    send_questions(&names, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Identity {
        Identity::new(
            "desk",
            Ipv4Addr::new(169, 254, 77, 2),
            "esp32c3",
            "0.1.0",
            [0x7c, 0xdf, 0xa1, 0, 0, 0x42],
        )
    }

    /// A responder past its probes, with no announcements left.
    fn claimed(me: Identity) -> Mdns {
        let mut m = Mdns::new(me, 0);
        m.claim = Claim::Claimed;
        m.announce.0 = 0;
        m
    }

    fn msg(data: &[u8]) -> Message<&[u8]> {
        Message::from_octets(data).unwrap()
    }

    /// (name, type, class) of each question.
    fn questions(data: &[u8]) -> std::vec::Vec<(std::string::String, Rtype, u16)> {
        msg(data)
            .question()
            .map(|q| {
                let q = q.unwrap();
                (q.qname().to_string(), q.qtype(), q.qclass().to_int())
            })
            .collect()
    }

    /// (owner, type) of each record of `section` (0 answer, 1 authority).
    fn owners(data: &[u8], section: u8) -> std::vec::Vec<(std::string::String, Rtype)> {
        let m = msg(data);
        let records = match section {
            0 => m.answer().unwrap(),
            _ => m.authority().unwrap(),
        };
        records
            .map(|r| {
                let r = r.unwrap();
                (r.owner().to_string(), r.rtype())
            })
            .collect()
    }

    #[test]
    fn probes_three_times_a_quarter_second_apart_then_announces_twice() {
        let mut m = Mdns::new(me(), 100);
        let mut out = [0u8; PACKET_MAX];
        let first = m.next_wakeup().unwrap();
        assert!((100..100 + PROBE_JITTER_MS).contains(&first), "{first}");
        assert!(!m.is_claimed());
        for i in 0..3 {
            let at = first + i * PROBE_GAP_MS;
            assert_eq!(m.next_wakeup(), Some(at));
            assert_eq!(m.poll_transmit(at - 1, &mut out), None);
            let n = m.poll_transmit(at, &mut out).expect("a probe");
            let probe = &out[..n];
            assert!(!msg(probe).header().qr(), "a probe is a query");
            assert_eq!(
                questions(probe),
                [
                    ("desk.local".into(), Rtype::ANY, 0x8001),
                    ("desk._picow-board._udp.local".into(), Rtype::ANY, 0x8001),
                ]
            );
            assert_eq!(
                owners(probe, 1),
                [
                    ("desk.local".into(), Rtype::A),
                    ("desk._picow-board._udp.local".into(), Rtype::SRV),
                    ("desk._picow-board._udp.local".into(), Rtype::TXT),
                ]
            );
            assert_eq!(m.poll_transmit(at, &mut out), None);
            // Not its names yet: a question for them gets no answer.
            let q = question("desk.local", Rtype::A);
            assert_eq!(m.handle(at, &q, PEER, &mut out), None);
            assert!(!m.take_claimed());
        }
        // A quarter second after the third probe, unanswered: claimed, and
        // the first announcement goes out.
        let claim = first + 3 * PROBE_GAP_MS;
        assert_eq!(m.next_wakeup(), Some(claim));
        let n = m
            .poll_transmit(claim, &mut out)
            .expect("first announcement");
        assert!(msg(&out[..n]).header().qr());
        assert!(m.is_claimed());
        assert!(m.take_claimed());
        assert!(!m.take_claimed(), "told once");
        assert_eq!(m.taken(), None);
        assert_eq!(m.next_wakeup(), Some(claim + ANNOUNCE_GAP_MS));
        assert!(m.poll_transmit(claim + ANNOUNCE_GAP_MS, &mut out).is_some());
        assert_eq!(m.next_wakeup(), None);
        // Now it answers.
        let q = question("desk.local", Rtype::A);
        assert!(m.handle(claim + 2_000, &q, PEER, &mut out).is_some());
    }

    /// A query for `name` of type `rtype`.
    fn question(name: &str, rtype: Rtype) -> std::vec::Vec<u8> {
        let mut out = [0u8; PACKET_MAX];
        let n = send_questions(&[(name, rtype)], &mut out).unwrap();
        out[..n].to_vec()
    }

    /// What another board with `name` at `ip` sends when it has claimed it:
    /// its announcement.
    fn other_board(name: &str, ip: [u8; 4]) -> std::vec::Vec<u8> {
        let other = Identity::new(name, ip.into(), "esp32c6", "0.2.0", [2, 0, 0, 0, 0, 9]);
        let mut out = [0u8; PACKET_MAX];
        let n = claimed(other).announcement(&mut out).unwrap();
        out[..n].to_vec()
    }

    /// Runs `boards` on one lossless LAN (every datagram reaches every
    /// board, its sender too, as multicast loopback does) until `until_ms`.
    fn lan(boards: &mut [Mdns], until_ms: u64) {
        let mut out = [0u8; PACKET_MAX];
        let mut now = 0;
        while now <= until_ms {
            let mut air: std::vec::Vec<std::vec::Vec<u8>> = std::vec::Vec::new();
            for b in boards.iter_mut() {
                while let Some(n) = b.poll_transmit(now, &mut out) {
                    air.push(out[..n].to_vec());
                }
            }
            while let Some(p) = air.pop() {
                for b in boards.iter_mut() {
                    if let Some((n, _)) = b.handle(now, &p, PEER, &mut out) {
                        air.push(out[..n].to_vec());
                    }
                }
            }
            now = match boards.iter().filter_map(Mdns::next_wakeup).min() {
                Some(t) => t.max(now + 1),
                None => break,
            };
        }
    }

    #[test]
    fn its_own_probes_and_announcements_looped_back_are_no_conflict() {
        let mut boards = [Mdns::new(me(), 0)];
        lan(&mut boards, 5_000);
        assert!(boards[0].is_claimed());
        assert_eq!(boards[0].identity().name, "desk");
        assert_eq!(boards[0].taken(), None);
    }

    #[test]
    fn a_name_answered_for_while_probing_is_taken_and_the_next_one_probed() {
        let mut m = Mdns::new(me(), 0);
        let mut out = [0u8; PACKET_MAX];
        let t = m.next_wakeup().unwrap();
        assert!(m.poll_transmit(t, &mut out).is_some());
        m.handle(
            t + 10,
            &other_board("desk", [169, 254, 77, 9]),
            PEER,
            &mut out,
        );
        assert_eq!(m.identity().name, "desk-2");
        assert_eq!(m.identity().host, "desk-2");
        assert_eq!(m.taken(), Some("desk"));
        // Probing starts again, at once, for the new name.
        assert_eq!(m.next_wakeup(), Some(t + 10));
        let n = m.poll_transmit(t + 10, &mut out).unwrap();
        assert_eq!(questions(&out[..n])[0].0, "desk-2.local");
        // Taken too: desk-3.
        m.handle(
            t + 20,
            &other_board("desk-2", [169, 254, 77, 8]),
            PEER,
            &mut out,
        );
        assert_eq!(m.identity().name, "desk-3");
        // An answer for another name, or a goodbye for this one, is none.
        m.handle(
            t + 30,
            &other_board("lab", [169, 254, 77, 7]),
            PEER,
            &mut out,
        );
        m.handle(t + 30, &goodbye("desk-3"), PEER, &mut out);
        assert_eq!(m.identity().name, "desk-3");
        while !m.is_claimed() {
            let t = m.next_wakeup().unwrap();
            m.poll_transmit(t, &mut out);
        }
        assert_eq!(m.taken(), Some("desk"));
        assert!(m.take_claimed());
        // What it announces is the new name.
        let n = m.announcement(&mut out).unwrap();
        assert!(owners(&out[..n], 0).contains(&("desk-3.local".into(), Rtype::A)));
    }

    /// Another host's goodbye for `host.local` (its A record, TTL 0), as
    /// edge-mdns writes it.
    fn goodbye(host: &str) -> std::vec::Vec<u8> {
        use edge_mdns::host::Host;
        use edge_mdns::{HostAnswersMdnsHandler, MdnsHandler, MdnsRequest, MdnsResponse};
        let host = Host {
            hostname: host,
            ipv4: Ipv4Addr::new(169, 254, 77, 6),
            ipv6: core::net::Ipv6Addr::UNSPECIFIED,
            ttl: Ttl::from_secs(0),
        };
        let mut buf = [0u8; PACKET_MAX];
        match HostAnswersMdnsHandler::new(&host).handle(MdnsRequest::None, &mut buf) {
            Ok(MdnsResponse::Reply { data, .. }) => data.to_vec(),
            _ => panic!("a goodbye"),
        }
    }

    #[test]
    fn two_boards_probing_for_one_name_at_once_end_with_two_names() {
        // Same MAC-derived delay: their probes go out at the same moments.
        let a = Identity::new(
            "twin",
            [169, 254, 77, 10].into(),
            "esp32c3",
            "0.1.0",
            [1; 6],
        );
        let b = Identity {
            ip: [169, 254, 77, 11].into(),
            ..a.clone()
        };
        let mut boards = [Mdns::new(a, 0), Mdns::new(b, 0)];
        assert_eq!(boards[0].next_wakeup(), boards[1].next_wakeup());
        lan(&mut boards, 10_000);
        // The greater address wins the tie (RFC 6762 §8.2); the other
        // waits, hears the winner's announcement and takes twin-2.
        let names: std::vec::Vec<_> = boards
            .iter()
            .map(|m| (m.is_claimed(), m.identity().name.as_str(), m.taken()))
            .collect();
        assert_eq!(
            names,
            [(true, "twin-2", Some("twin")), (true, "twin", None)]
        );
    }

    #[test]
    fn boards_whose_addresses_and_macs_sort_differently_still_end_with_two_names() {
        // The lower address has the greater MAC: the host name's records and
        // the instance's would pick different losers.
        let a = Identity::new(
            "twin",
            [169, 254, 77, 10].into(),
            "esp32c3",
            "0.1.0",
            [9; 6],
        );
        let b = Identity::new(
            "twin",
            [169, 254, 77, 11].into(),
            "esp32c3",
            "0.1.0",
            [1; 6],
        );
        let mut boards = [Mdns::new(a, 0), Mdns::new(b, 0)];
        lan(&mut boards, 10_000);
        let names: std::vec::Vec<_> = boards
            .iter()
            .map(|m| (m.is_claimed(), m.identity().name.as_str()))
            .collect();
        assert_eq!(names, [(true, "twin-2"), (true, "twin")]);
    }

    #[test]
    fn a_board_that_joins_later_finds_the_name_taken() {
        let mut boards = [Mdns::new(me(), 0)];
        lan(&mut boards, 3_000);
        let late = Identity {
            ip: [169, 254, 77, 3].into(),
            mac: discovery::mac_text([0x7c, 0xdf, 0xa1, 0, 0, 0x43]),
            ..me()
        };
        let [first] = boards;
        let mut boards = [first, Mdns::new(late, 3_000)];
        lan(&mut boards, 10_000);
        assert_eq!(boards[0].identity().name, "desk");
        assert_eq!(boards[1].identity().name, "desk-2");
        assert_eq!(boards[1].identity().host, "desk-2");
    }

    #[test]
    fn a_conflict_after_the_claim_means_probing_again() {
        let mut m = claimed(me());
        let mut out = [0u8; PACKET_MAX];
        // Its own records looped back: nothing.
        let own = m.announcement(&mut out).unwrap();
        let own = out[..own].to_vec();
        m.handle(10, &own, PEER, &mut out);
        assert!(m.is_claimed());
        // Another device says desk.local is at another address.
        m.handle(20, &other_board("desk", [169, 254, 77, 99]), PEER, &mut out);
        assert!(!m.is_claimed(), "probes again (RFC 6762 §9)");
        assert_eq!(
            m.identity().name,
            "desk",
            "the name is kept until a probe is answered"
        );
        assert_eq!(m.next_wakeup(), Some(20));
    }

    #[test]
    fn names_with_a_suffix_fit() {
        let mut id = me();
        let long = "a-very-long-board-name-of-32-byt";
        assert_eq!(long.len(), NAME_MAX);
        id.rename(long, 12);
        assert_eq!(id.name, "a-very-long-board-name-of-32--12");
        // A host label does not end its part before the suffix with `-`.
        assert_eq!(id.host, "a-very-long-board-name-of-32-12");
        id.rename("lab_3", 2);
        assert_eq!((id.name.as_str(), id.host.as_str()), ("lab_3-2", "lab-3-2"));
    }

    #[test]
    fn many_conflicts_slow_the_probes_down() {
        let mut m = Mdns::new(me(), 0);
        let mut out = [0u8; PACKET_MAX];
        for i in 0..CONFLICTS_FAST {
            let t = u64::from(i);
            let name = m.identity().name.clone();
            m.handle(t, &other_board(&name, [169, 254, 77, 99]), PEER, &mut out);
        }
        let t = u64::from(CONFLICTS_FAST) - 1;
        assert_eq!(m.next_wakeup(), Some(t + CONFLICT_PAUSE_MS));
        assert_eq!(m.identity().name, "desk-16");
    }

    #[test]
    fn queries_back_off_and_stop_when_found_or_cleared() {
        let mut m = claimed(me());
        let mut out = [0u8; PACKET_MAX];
        m.set_query(
            Some(Query::Browse {
                service: "_picow._tcp",
                instance: None,
            }),
            0,
        );
        let mut at = Vec::<u64, 16>::new();
        let mut t = 0;
        while at.len() < 7 {
            if m.poll_transmit(t, &mut out).is_some() {
                at.push(t).unwrap();
            }
            t = m.next_wakeup().unwrap();
        }
        assert_eq!(&at[..], &[0, 1_000, 3_000, 7_000, 15_000, 31_000, 47_000]);
        m.set_query(None, t);
        assert_eq!(m.next_wakeup(), None);
        // Listening only: nothing to send, but an announcement is taken.
        m.set_listening(
            Query::Browse {
                service: "_picow._tcp",
                instance: None,
            },
            t,
        );
        assert_eq!(m.next_wakeup(), None);
        assert_eq!(m.poll_transmit(t + 100_000, &mut out), None);
        let p = server_announcement("_picow", "pc", 9, 120);
        m.handle(t + 5, &p, PEER, &mut out);
        assert_eq!(m.take_found().map(|f| f.addr.port()), Some(9));
    }

    /// A `picow serve` announcing instance `name` at 127.0.0.1:`port`.
    fn server_announcement(service: &str, name: &str, port: u16, ttl: u32) -> std::vec::Vec<u8> {
        use edge_mdns::host::{Host, Service, ServiceAnswers};
        use edge_mdns::{HostAnswersMdnsHandler, MdnsHandler, MdnsRequest, MdnsResponse};
        let host = Host {
            hostname: "pc",
            ipv4: Ipv4Addr::LOCALHOST,
            ipv6: core::net::Ipv6Addr::UNSPECIFIED,
            ttl: Ttl::from_secs(ttl),
        };
        let svc = Service {
            name,
            priority: 0,
            weight: 0,
            service,
            protocol: "_tcp",
            port,
            service_subtypes: &[],
            txt_kvs: &[("protocol", "1")],
        };
        let mut buf = [0u8; PACKET_MAX];
        match HostAnswersMdnsHandler::new(ServiceAnswers::new(&host, &svc))
            .handle(MdnsRequest::None, &mut buf)
        {
            Ok(MdnsResponse::Reply { data, .. }) => data.to_vec(),
            _ => panic!("an announcement"),
        }
    }

    fn browsing(instance: Option<&str>) -> Mdns {
        let mut m = claimed(me());
        m.set_query(
            Some(Query::Browse {
                service: "_picow._tcp",
                instance: instance.map(|i| String::try_from(i).unwrap()),
            }),
            0,
        );
        m
    }

    const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), MDNS_PORT);

    #[test]
    fn an_announcement_is_found_and_others_are_not() {
        let mut out = [0u8; PACKET_MAX];
        let mut m = browsing(Some("b"));
        for p in [
            server_announcement("_picow", "a", 1, 120),
            server_announcement("_other", "b", 2, 120),
            server_announcement("_picow", "b", 3, 0),
        ] {
            assert_eq!(m.handle(5, &p, PEER, &mut out), None);
            assert_eq!(m.take_found(), None);
        }
        m.handle(
            6,
            &server_announcement("_picow", "B", 4, 120),
            PEER,
            &mut out,
        );
        let f = m.take_found().expect("found");
        assert_eq!(f.instance.as_deref(), Some("B"));
        assert_eq!(f.host, "pc.local");
        assert_eq!(f.addr, SocketAddr::from(([127, 0, 0, 1], 4)));
        // Found: no more queries until the next one is set.
        assert_eq!(m.next_wakeup(), None);
        assert_eq!(m.poll_transmit(1_000_000, &mut out), None);
    }

    #[test]
    fn a_ptr_alone_asks_for_the_rest_at_once() {
        let mut out = [0u8; PACKET_MAX];
        let mut m = browsing(None);
        assert!(m.poll_transmit(0, &mut out).is_some());
        // The announcement cut after its PTR answer: rebuild one with
        // only the PTR record.
        let full = server_announcement("_picow", "pc", 7, 120);
        let msg = Message::from_octets(&full[..]).unwrap();
        let mut only_ptr = [0u8; PACKET_MAX];
        let mut mb = MessageBuilder::from_target(Buf::new(&mut only_ptr)).unwrap();
        set_header(&mut mb, 0, true);
        let mut ab = mb.answer();
        for r in msg.answer().unwrap() {
            let r = r.unwrap();
            if r.rtype() == Rtype::PTR && r.owner().to_string().starts_with("_picow") {
                let r = r.to_record::<Ptr<ParsedName<&[u8]>>>().unwrap().unwrap();
                ab.push(r).unwrap();
            }
        }
        let n = ab.finish().1;
        m.handle(10, &only_ptr[..n], PEER, &mut out);
        assert_eq!(m.take_found(), None);
        assert_eq!(m.next_wakeup(), Some(10));
        let n = m.poll_transmit(10, &mut out).expect("a follow-up");
        let q = Message::from_octets(&out[..n]).unwrap();
        let asked: std::vec::Vec<_> = q
            .question()
            .map(|q| {
                let q = q.unwrap();
                (q.qname().to_string(), q.qtype())
            })
            .collect();
        assert_eq!(asked, [("pc._picow._tcp.local".into(), Rtype::SRV)]);
    }

    #[test]
    fn compression_loops_and_short_messages_are_dropped() {
        let mut out = [0u8; PACKET_MAX];
        let mut m = browsing(None);
        let self_loop = [
            0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 9, 0, 2, 0xc0,
            12,
        ];
        assert_eq!(m.handle(1, &self_loop, PEER, &mut out), None);
        assert_eq!(m.handle(1, &[1, 2, 3], PEER, &mut out), None);
        assert_eq!(m.dropped(), 2);
        // A query whose name loops gets no answer either.
        let q_loop = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert_eq!(m.handle(1, &q_loop, PEER, &mut out), None);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_handled_without_panic(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1600),
            legacy in proptest::prelude::any::<bool>(),
        ) {
            let mut out = [0u8; PACKET_MAX];
            let from = SocketAddr::from(([10, 0, 0, 1], if legacy { 40000 } else { MDNS_PORT }));
            let mut m = browsing(None);
            if let Some((n, _)) = m.handle(1, &data, from, &mut out) {
                proptest::prop_assert!(n <= PACKET_MAX);
            }
            let mut r = browsing(None);
            r.set_query(Some(Query::Resolve { host: String::try_from("pc.local").unwrap(), port: 1 }), 0);
            let _ = r.handle(1, &data, from, &mut out);
            proptest::prop_assert!(m.looking.as_ref().unwrap().instances.len() <= INSTANCES_MAX);
        }

        #[test]
        fn corrupted_answers_are_handled_without_panic(
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..12),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let mut p = server_announcement("_picow", "pc", 7, 120);
            for (i, b) in edits {
                let i = i.index(p.len());
                p[i] = b;
            }
            let cut = cut.index(p.len() + 1);
            let mut out = [0u8; PACKET_MAX];
            let mut m = browsing(None);
            let _ = m.handle(1, &p[..cut], PEER, &mut out);
            if let Some(f) = m.take_found() {
                proptest::prop_assert!(f.addr.port() != 0);
            }
            // Whatever it read, it asks at most once per gap.
            let mut sent = 0;
            while m.poll_transmit(1, &mut out).is_some() {
                sent += 1;
                proptest::prop_assert!(sent < 3);
            }
        }
    }
}
