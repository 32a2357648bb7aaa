//! Discovery on tokio's paused clock, over real multicast on 127.0.0.1:
//! the board browses for `_picow._tcp` (`--server auto`, `auto:NAME`),
//! resolves `.local` names, answers for its own name and service, and
//! survives hostile datagrams. Each test takes a port of its own for the
//! "mDNS" traffic (the host board maps 5353 to it), so tests running at the
//! same time never hear each other, and nothing leaves the loopback
//! interface. The peers answer with edge-mdns's responder.

use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use crate::common;

use common::*;
use edge_mdns::domain::base::iana::Class;
use edge_mdns::domain::base::{Message, MessageBuilder, ParsedName, Question, Rtype, Ttl};
use edge_mdns::domain::rdata::{Ptr, Srv, Txt, A};
use edge_mdns::host::{Host, Service, ServiceAnswers};
use edge_mdns::{
    Buf, ChainedHostAnswers, HostAnswersMdnsHandler, MdnsHandler, MdnsRequest, MdnsResponse,
    NameSlice, NoHostAnswers,
};
use picow_app::host::{open_multicast, HostMulticast};
use picow_app::timing::LOOKING_PATTERN;
use picow_protocol::discovery::MDNS_GROUP_V4;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::LocalSet;
use tokio::time::{sleep, timeout, Duration};

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The test's side of the "LAN": a socket on the test's own port, joined
/// to the group on 127.0.0.1.
struct Lan {
    sock: UdpSocket,
    port: u16,
}

impl Lan {
    fn new() -> Rc<Lan> {
        let std = open_multicast(MDNS_GROUP_V4, 0, LO).unwrap();
        let port = std.local_addr().unwrap().port();
        Rc::new(Lan {
            sock: UdpSocket::from_std(std).unwrap(),
            port,
        })
    }

    fn board(&self) -> HostMulticast {
        HostMulticast {
            interface: LO,
            port: Some(self.port),
        }
    }

    fn group(&self) -> SocketAddr {
        SocketAddr::from((MDNS_GROUP_V4, self.port))
    }

    async fn send(&self, data: &[u8]) {
        self.sock.send_to(data, self.group()).await.unwrap();
    }

    async fn recv(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 9000];
        let (n, _) = self.sock.recv_from(&mut buf).await.unwrap();
        buf.truncate(n);
        buf
    }
}

/// Whether `data` is a query with a question for `name` of type `rtype`.
fn asks(data: &[u8], name: &str, rtype: Rtype) -> bool {
    let Ok(msg) = Message::from_octets(data) else {
        return false;
    };
    if msg.header().qr() {
        return false;
    }
    msg.question()
        .flatten()
        .any(|q| q.qtype() == rtype && q.qname().to_string().trim_end_matches('.') == name)
}

/// A `picow serve` as seen on the LAN: one or more instances of
/// `_picow._tcp` on host `pc.local` (127.0.0.1).
#[derive(Clone)]
struct Server {
    instances: Vec<(String, u16)>,
    ttl: u32,
    host: &'static str,
    service: &'static str,
}

impl Server {
    fn new(instances: &[(&str, u16)]) -> Server {
        Server {
            instances: instances.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
            ttl: 120,
            host: "pc",
            service: "_picow",
        }
    }

    /// Its answer to `request` (an announcement for `MdnsRequest::None`).
    fn answer(&self, request: MdnsRequest<'_>) -> Option<Vec<u8>> {
        let host = Host {
            hostname: self.host,
            ipv4: LO,
            ipv6: std::net::Ipv6Addr::UNSPECIFIED,
            ttl: Ttl::from_secs(self.ttl),
        };
        let txt: Vec<[(&str, &str); 2]> = self
            .instances
            .iter()
            .map(|(n, _)| [("protocol", "1"), ("name", n.as_str())])
            .collect();
        let services: Vec<Service<'_>> = self
            .instances
            .iter()
            .zip(&txt)
            .map(|((name, port), txt)| Service {
                name,
                priority: 0,
                weight: 0,
                service: self.service,
                protocol: "_tcp",
                port: *port,
                service_subtypes: &[],
                txt_kvs: txt,
            })
            .collect();
        let mut buf = vec![0u8; 9000];
        let reply = match services.as_slice() {
            [one] => HostAnswersMdnsHandler::new(ServiceAnswers::new(&host, one))
                .handle(request, &mut buf),
            [one, two] => HostAnswersMdnsHandler::new(ChainedHostAnswers::new(
                ServiceAnswers::new(&host, one),
                ChainedHostAnswers::new(ServiceAnswers::new(&host, two), NoHostAnswers),
            ))
            .handle(request, &mut buf),
            _ => panic!("one or two instances"),
        };
        match reply {
            Ok(MdnsResponse::Reply { data, .. }) => Some(data.to_vec()),
            _ => None,
        }
    }

    /// Answers every query on `lan` for ever; notes when the first
    /// question for `_picow._tcp.local` came (board time).
    fn spawn(self, lan: Rc<Lan>, rig: &Rig, first_query: Arc<Mutex<Option<u64>>>) {
        let handle = rig.handle.clone();
        tokio::task::spawn_local(async move {
            loop {
                let data = lan.recv().await;
                if asks(&data, "_picow._tcp.local", Rtype::PTR) {
                    first_query.lock().unwrap().get_or_insert(handle.now_ms());
                }
                let request = MdnsRequest::Request {
                    legacy: false,
                    multicast: true,
                    data: &data,
                };
                if let Some(reply) = self.answer(request) {
                    lan.send(&reply).await;
                }
            }
        });
    }
}

async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[tokio::test(start_paused = true)]
async fn auto_browses_within_a_second_and_greets_the_server_that_answers() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let (l, port) = listener().await;
            let mut rig = start_multicast(&config("auto", None), lan.board());
            let first = Arc::new(Mutex::new(None));
            Server::new(&[("bench", port)]).spawn(lan.clone(), &rig, first.clone());
            let joined = rig.expect("wifi-joined").await.at_ms;
            let b = rig.expect_next("server-browsing").await;
            assert_eq!(
                b.line,
                r#"@picow server-browsing service="_picow._tcp" attempt=1"#
            );
            let (mut s, _) = l.accept().await.unwrap();
            let accepted = rig.handle.now_ms();
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            let asked = first.lock().unwrap().expect("the board asked");
            assert!(asked - joined <= 1_000, "first query {} ms after the IP", asked - joined);
            assert!(accepted - asked <= 3_000, "connected {} ms after the query", accepted - asked);
            rig.expect("server-connected").await;
            // In this order, with perhaps `mdns-up` between them.
            let order: Vec<&str> = rig
                .seen
                .iter()
                .filter(|s| picow_protocol::console::Event::parse(&s.line).is_some())
                .map(|s| s.name())
                .filter(|&n| n != "mdns-up")
                .skip_while(|&n| n != "server-browsing")
                .collect();
            assert_eq!(
                order,
                ["server-browsing", "server-discovered", "server-connecting", "server-connected"]
            );
            let d = rig.seen_or_expect("server-discovered").await;
            assert_eq!(
                d.line,
                format!(
                    r#"@picow server-discovered instance="bench" host="pc.local" server="tcp://127.0.0.1:{port}" after_ms={}"#,
                    field(&d.line, "after_ms")
                )
            );
            let c = rig.seen_or_expect("server-connecting").await;
            assert_eq!(field(&c.line, "server"), format!("tcp://127.0.0.1:{port}"));
            // Its own names, after three probes a quarter second apart that
            // no one answered (the search for the server did not wait).
            let up = rig.seen_or_expect("mdns-up").await;
            assert_eq!(
                up.line,
                r#"@picow mdns-up host="picow-000042.local" instance="picow-000042""#
            );
            assert!(up.at_ms >= joined + 750, "claimed {} ms after the IP", up.at_ms - joined);
            assert!(up.at_ms < joined + 1_000 + 250, "claimed {} ms after the IP", up.at_ms - joined);
            assert!(rig.handle.led(), "solid once connected");
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn without_an_answer_it_keeps_asking_with_capped_backoff_and_blinks_looking() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let mut rig = start_multicast(&config("auto", None), lan.board());
            let start = rig.expect("server-browsing").await.at_ms;
            let mut queries = Vec::new();
            let mut announcements = 0;
            while queries.len() < 7 {
                let data = lan.recv().await;
                if asks(&data, "_picow._tcp.local", Rtype::PTR) {
                    queries.push(rig.handle.now_ms() - start);
                } else if Message::from_octets(&data[..]).is_ok_and(|m| m.header().qr()) {
                    announcements += 1;
                }
            }
            assert_eq!(queries, [0, 1_000, 3_000, 7_000, 15_000, 31_000, 47_000]);
            assert_eq!(announcements, 2, "two announcements, then quiet");
            rig.handle.type_input(b"status\n");
            let st = rig.expect("status").await;
            assert_eq!(field(&st.line, "server"), "browsing");
            let log = rig.handle.led_log();
            assert_pattern(&log, LOOKING_PATTERN, start, start + 10_000);
            // Distinct from joining Wi-Fi (300/300) and no config.
            assert_ne!(LOOKING_PATTERN, picow_app::timing::JOINING_PATTERN);
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn auto_name_connects_to_that_instance_only() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let (la, port_a) = listener().await;
            let (lb, port_b) = listener().await;
            let mut rig = start_multicast(&config("auto:b", None), lan.board());
            // One host with both; "a" comes first in every answer.
            Server::new(&[("a", port_a), ("b", port_b)]).spawn(
                lan.clone(),
                &rig,
                Default::default(),
            );
            let b = rig.expect("server-browsing").await;
            assert_eq!(field(&b.line, "instance"), "b");
            let (mut s, _) = lb.accept().await.unwrap();
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            let d = rig.expect("server-discovered").await;
            assert_eq!(field(&d.line, "instance"), "b");
            assert_eq!(
                field(&d.line, "server"),
                format!("tcp://127.0.0.1:{port_b}")
            );
            // Nobody ever connects to "a".
            assert!(timeout(Duration::from_secs(30), la.accept()).await.is_err());
            assert_eq!(rig.handle.connects(), 1);
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_browses_again_and_finds_the_server_where_it_moved() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let (l1, port1) = listener().await;
            let mut rig = start_multicast(&config("auto", None), lan.board());
            let first = lan.clone();
            let handle = rig.handle.clone();
            let server1 = tokio::task::spawn_local(async move {
                let s = Server::new(&[("pc", port1)]);
                loop {
                    let data = first.recv().await;
                    let req = MdnsRequest::Request {
                        legacy: false,
                        multicast: true,
                        data: &data,
                    };
                    if let Some(r) = s.answer(req) {
                        first.send(&r).await;
                    }
                    let _ = handle.now_ms();
                }
            });
            let (mut s1, _) = l1.accept().await.unwrap();
            assert_eq!(read_n(&mut s1, 15).await, b"Hello WalnutPi!");
            rig.expect("server-connected").await;
            // The server stops and comes back on another port.
            server1.abort();
            drop(s1);
            drop(l1);
            let moved = rig.handle.now_ms();
            let (l2, port2) = listener().await;
            Server::new(&[("pc", port2)]).spawn(lan.clone(), &rig, Default::default());
            let closed = rig.expect("server-closed").await;
            assert_eq!(field(&closed.line, "reason"), "closed");
            let again = rig.expect("server-browsing").await;
            assert_eq!(field(&again.line, "attempt"), "2");
            let (mut s2, _) = l2.accept().await.unwrap();
            let found_again = rig.handle.now_ms() - moved;
            assert!(found_again <= 10_000, "found again after {found_again} ms");
            assert_eq!(read_n(&mut s2, 15).await, b"Hello WalnutPi!");
            let d = rig.expect("server-discovered").await;
            assert_eq!(field(&d.line, "server"), format!("tcp://127.0.0.1:{port2}"));
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn other_services_and_goodbyes_are_ignored() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let (l_other, port_other) = listener().await;
            let (l_old, port_old) = listener().await;
            let (l_new, port_new) = listener().await;
            let mut rig = start_multicast(&config("auto", None), lan.board());
            rig.expect("server-browsing").await;
            // Unsolicited: another service type, and a picow server saying
            // goodbye (TTL 0).
            let other = Server {
                service: "_other",
                ..Server::new(&[("x", port_other)])
            };
            lan.send(&other.answer(MdnsRequest::None).unwrap()).await;
            let old = Server {
                ttl: 0,
                host: "old",
                ..Server::new(&[("old", port_old)])
            };
            lan.send(&old.answer(MdnsRequest::None).unwrap()).await;
            sleep(Duration::from_secs(5)).await;
            assert_eq!(rig.handle.connects(), 0, "{:?}", rig.seen);
            // Then a live one announces itself: the board takes it at once.
            lan.send(
                &Server::new(&[("new", port_new)])
                    .answer(MdnsRequest::None)
                    .unwrap(),
            )
            .await;
            let (mut s, _) = l_new.accept().await.unwrap();
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            for l in [l_other, l_old] {
                assert!(timeout(Duration::from_secs(5), l.accept()).await.is_err());
            }
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn an_answer_in_pieces_is_completed_with_follow_up_questions() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let (l, port) = listener().await;
            let mut rig = start_multicast(&config("auto", None), lan.board());
            rig.expect("server-browsing").await;
            // A responder that gives only what it is asked for: the PTR,
            // then the SRV, then the address, each in its own message.
            let mut buf = [0u8; 1500];
            let mut answered = Vec::new();
            while answered.len() < 3 {
                let data = lan.recv().await;
                let svc = ["_picow", "_tcp", "local"];
                let inst = ["pieces", "_picow", "_tcp", "local"];
                let host = ["far", "local"];
                let reply = if asks(&data, "_picow._tcp.local", Rtype::PTR) {
                    let r = (
                        NameSlice::new(&svc),
                        Class::IN,
                        120u32,
                        Ptr::new(NameSlice::new(&inst)),
                    );
                    one_record(&mut buf, r)
                } else if asks(&data, "pieces._picow._tcp.local", Rtype::SRV) {
                    let r = (
                        NameSlice::new(&inst),
                        Class::IN,
                        120u32,
                        Srv::new(0, 0, port, NameSlice::new(&host)),
                    );
                    one_record(&mut buf, r)
                } else if asks(&data, "far.local", Rtype::A) {
                    let r = (NameSlice::new(&host), Class::IN, 120u32, A::new(LO));
                    one_record(&mut buf, r)
                } else {
                    continue;
                };
                answered.push(reply.to_vec());
                lan.send(reply).await;
            }
            let (mut s, _) = l.accept().await.unwrap();
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            let d = rig.expect("server-discovered").await;
            assert_eq!(field(&d.line, "host"), "far.local");
        })
        .await;
}

fn one_record<'b, D>(buf: &'b mut [u8], record: (NameSlice<'_>, Class, u32, D)) -> &'b [u8]
where
    D: edge_mdns::domain::base::rdata::ComposeRecordData,
{
    let mut mb = MessageBuilder::from_target(Buf::new(buf)).unwrap();
    edge_mdns::set_header(&mut mb, 0, true);
    let mut ab = mb.answer();
    ab.push(record).unwrap();
    let n = ab.finish().1;
    &buf[..n]
}

/// A query for `name` of type `rtype`, with message id `id`.
fn query(name: &str, rtype: Rtype, id: u16) -> Vec<u8> {
    let labels: Vec<&str> = name.split('.').collect();
    let mut buf = [0u8; 512];
    let mut mb = MessageBuilder::from_target(Buf::new(&mut buf)).unwrap();
    edge_mdns::set_header(&mut mb, id, false);
    let mut qb = mb.question();
    qb.push(Question::new(NameSlice::new(&labels), rtype, Class::IN))
        .unwrap();
    let n = qb.finish().1;
    buf[..n].to_vec()
}

/// The answers of a response: (owner, type, text of the data).
fn records(data: &[u8]) -> Vec<(String, Rtype, String)> {
    let msg = Message::from_octets(data).unwrap();
    let mut out = Vec::new();
    for section in [msg.answer().unwrap(), msg.additional().unwrap()] {
        for r in section {
            let r = r.unwrap();
            let owner = r.owner().to_string();
            let text = match r.rtype() {
                Rtype::A => r.to_record::<A>().unwrap().unwrap().data().to_string(),
                Rtype::PTR => r
                    .to_record::<Ptr<ParsedName<_>>>()
                    .unwrap()
                    .unwrap()
                    .data()
                    .to_string(),
                Rtype::SRV => r
                    .to_record::<Srv<ParsedName<_>>>()
                    .unwrap()
                    .unwrap()
                    .data()
                    .to_string(),
                Rtype::TXT => {
                    let t = r.to_record::<Txt<_>>().unwrap().unwrap();
                    t.data()
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                _ => String::new(),
            };
            out.push((owner.trim_end_matches('.').to_string(), r.rtype(), text));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn the_board_answers_for_its_name_and_its_service() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            // Any server: the board answers whatever it does meanwhile.
            let mut rig = start_multicast(&config("127.0.0.1:9", Some("desk")), lan.board());
            let up = rig.expect("mdns-up").await;
            assert_eq!(field(&up.line, "host"), "desk.local");
            // Let its two announcements pass, and forget them.
            sleep(Duration::from_secs(3)).await;
            let mut buf = [0u8; 9000];
            while lan.sock.try_recv(&mut buf).is_ok() {}
            let ask = |name: &str, rtype| {
                let lan = lan.clone();
                let q = query(name, rtype, 0);
                async move {
                    lan.send(&q).await;
                    loop {
                        let data = lan.recv().await;
                        if Message::from_octets(&data[..]).is_ok_and(|m| m.header().qr()) {
                            return records(&data);
                        }
                    }
                }
            };
            let a = ask("desk.local", Rtype::A).await;
            assert_eq!(a, [("desk.local".into(), Rtype::A, "127.0.0.1".into())]);
            let ptr = ask("_picow-board._udp.local", Rtype::PTR).await;
            let inst = "desk._picow-board._udp.local".to_string();
            assert_eq!(
                ptr,
                [
                    (
                        "_picow-board._udp.local".into(),
                        Rtype::PTR,
                        format!("{inst}.")
                    ),
                    // The SRV port: where it takes updates over Wi-Fi.
                    (inst.clone(), Rtype::SRV, "0 0 3232 desk.local".into()),
                    (
                        inst.clone(),
                        Rtype::TXT,
                        "name=desk chip=host version=9.8.7 mac=7c:df:a1:00:00:42".into()
                    ),
                    ("desk.local".into(), Rtype::A, "127.0.0.1".into()),
                ]
            );
            let types = ask("_services._dns-sd._udp.local", Rtype::PTR).await;
            assert_eq!(
                types,
                [(
                    "_services._dns-sd._udp.local".into(),
                    Rtype::PTR,
                    "_picow-board._udp.local.".into()
                )]
            );
            // Not the board's names: no answer at all (the next datagram
            // the test sees is its own query, looped back).
            lan.send(&query("other.local", Rtype::A, 0)).await;
            let echo = lan.recv().await;
            assert!(asks(&echo, "other.local", Rtype::A));
            assert!(timeout(Duration::from_secs(2), lan.recv()).await.is_err());
            // A legacy querier (not from port 5353) gets a unicast reply with
            // its id and question.
            let legacy = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            legacy
                .send_to(&query("desk.local", Rtype::A, 0x4242), lan.group())
                .await
                .unwrap();
            let mut buf = [0u8; 1500];
            let (n, _) = timeout(Duration::from_secs(2), legacy.recv_from(&mut buf))
                .await
                .expect("a unicast reply")
                .unwrap();
            let msg = Message::from_octets(&buf[..n]).unwrap();
            assert_eq!(msg.header().id(), 0x4242);
            assert_eq!(msg.question().count(), 1);
            assert_eq!(records(&buf[..n])[0].2, "127.0.0.1");
            rig.handle.type_input(b"status\n");
            rig.expect("status").await;
        })
        .await;
}

/// The answer to a query for `name` (type `rtype`) on `lan`.
async fn ask(lan: &Lan, name: &str, rtype: Rtype) -> Vec<(String, Rtype, String)> {
    lan.send(&query(name, rtype, 0)).await;
    loop {
        let data = lan.recv().await;
        let Ok(msg) = Message::from_octets(&data[..]) else {
            continue;
        };
        // An announcement that is still going out may hold them too, with
        // others: only the records asked for.
        let about: Vec<_> = records(&data)
            .into_iter()
            .filter(|r| r.0 == name && r.1 == rtype)
            .collect();
        if msg.header().qr() && !about.is_empty() {
            return about;
        }
    }
}

/// Board `i` of two named "twin": its own MAC and address.
fn twin(lan: &Lan, i: u8) -> Rig {
    let info = picow_app::AppInfo {
        mac: [0x7c, 0xdf, 0xa1, 0, 1, i],
        ..INFO
    };
    start_multicast_as(
        &config("127.0.0.1:9", Some("twin")),
        lan.board(),
        info,
        Ipv4Addr::new(127, 0, 0, 10 + i),
    )
}

#[tokio::test(start_paused = true)]
async fn two_boards_with_one_name_probe_and_the_second_takes_name_2() {
    for stagger_ms in [0, 5_000] {
        LocalSet::new()
            .run_until(async {
                let lan = Lan::new();
                let mut a = twin(&lan, 1);
                let a_up = if stagger_ms > 0 {
                    // The first has claimed "twin" when the second joins.
                    let up = a.expect("mdns-up").await;
                    sleep(Duration::from_millis(stagger_ms)).await;
                    Some(up)
                } else {
                    None
                };
                let mut b = twin(&lan, 2);
                let a_up = match a_up {
                    Some(up) => up,
                    None => a.expect("mdns-up").await,
                };
                let b_up = b.expect("mdns-up").await;
                let ups = [a_up.line.as_str(), b_up.line.as_str()];
                let named = |n: &str| {
                    ups.iter()
                        .position(|l| field(l, "instance") == n)
                        .unwrap_or_else(|| panic!("no board is {n}: {ups:?}"))
                };
                let (first, second) = (named("twin"), named("twin-2"));
                assert_eq!(
                    ups[first], r#"@picow mdns-up host="twin.local" instance="twin""#,
                    "stagger {stagger_ms}"
                );
                assert_eq!(
                    ups[second],
                    r#"@picow mdns-up host="twin-2.local" instance="twin-2" taken="twin""#,
                    "stagger {stagger_ms}"
                );
                if stagger_ms > 0 {
                    assert_eq!(first, 0, "the board that was there first keeps its name");
                } else {
                    // At once: the tie goes to the greater address (RFC
                    // 6762 §8.2).
                    assert_eq!(first, 1);
                }
                // Each answers for its own name only, with its own address.
                let ip = |i: usize| format!("127.0.0.{}", 11 + i);
                assert_eq!(
                    ask(&lan, "twin.local", Rtype::A).await,
                    [("twin.local".into(), Rtype::A, ip(first))]
                );
                assert_eq!(
                    ask(&lan, "twin-2.local", Rtype::A).await,
                    [("twin-2.local".into(), Rtype::A, ip(second))]
                );
                let txt = ask(&lan, "twin-2._picow-board._udp.local", Rtype::TXT).await;
                assert!(txt[0].2.starts_with("name=twin-2 "), "{txt:?}");
            })
            .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_dot_local_server_is_resolved_by_multicast_dns() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let (l, port) = listener().await;
            let mut rig = start_multicast(&config(&format!("pc.local:{port}"), None), lan.board());
            let answers = lan.clone();
            tokio::task::spawn_local(async move {
                let mut buf = [0u8; 1500];
                loop {
                    let data = answers.recv().await;
                    if asks(&data, "pc.local", Rtype::A) {
                        let host = ["pc", "local"];
                        let r = (NameSlice::new(&host), Class::IN, 120u32, A::new(LO));
                        let reply = one_record(&mut buf, r).to_vec();
                        answers.send(&reply).await;
                    }
                }
            });
            let (mut s, _) = l.accept().await.unwrap();
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            let d = rig.expect("server-discovered").await;
            assert_eq!(
                d.line,
                format!(
                    r#"@picow server-discovered host="pc.local" server="tcp://127.0.0.1:{port}" after_ms={}"#,
                    field(&d.line, "after_ms")
                )
            );
            let c = rig.expect("server-connected").await;
            assert_eq!(field(&c.line, "server"), format!("tcp://pc.local:{port}"));
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_dot_local_name_nobody_answers_fails_like_dns_and_is_retried() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let mut rig = start_multicast(&config("nobody.local:10000", None), lan.board());
            let c = rig.expect("server-connecting").await;
            let closed = rig.expect("server-closed").await;
            assert_eq!(field(&closed.line, "reason"), "dns");
            assert_eq!(closed.at_ms - c.at_ms, 10_000);
            assert_eq!(
                rig.expect_next("server-connecting").await.at_ms - closed.at_ms,
                1_000
            );
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn without_multicast_the_board_says_so_and_backs_off() {
    LocalSet::new()
        .run_until(async {
            let mut rig = start(Some(&config("auto", None)), true);
            let mut steps = Vec::new();
            while steps.len() < 3 {
                let c = rig.expect("server-closed").await;
                assert_eq!(field(&c.line, "reason"), "no-multicast");
                steps.push(field(&c.line, "retry_in_ms"));
            }
            assert_eq!(steps, ["1000", "2000", "4000"]);
            assert!(!rig.seen.iter().any(|s| s.name() == "mdns-up"));
        })
        .await;
}

/// A small deterministic generator for the hostile datagrams.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Malformed, truncated, oversized and looping messages, then random
/// bytes and random corruptions of real answers (for an instance and a
/// service that are not the one asked for, so that what survives the
/// corruption is still not an answer).
fn hostile(n: usize) -> Vec<Vec<u8>> {
    let real = Server::new(&[("zz", 1)]).answer(MdnsRequest::None).unwrap();
    let other = Server {
        service: "_other",
        ..Server::new(&[("pc", 1)])
    }
    .answer(MdnsRequest::None)
    .unwrap();
    let mut out = vec![
        vec![],
        vec![0; 5],
        // A response claiming 65535 answers and nothing after the header.
        vec![0, 0, 0x84, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0],
        // A question whose name is a compression pointer to itself.
        vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1],
        // An answer whose name points forward, past the end.
        vec![
            0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0xff, 0, 12, 0, 1, 0, 0, 0, 9, 0, 0,
        ],
        // Oversized: more than a packet buffer.
        vec![0xab; 9000],
        real[..real.len() / 2].to_vec(),
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    while out.len() < n {
        let r = rng.next();
        if r.is_multiple_of(2) {
            let len = (rng.next() % 1500) as usize;
            out.push((0..len).map(|_| rng.next() as u8).collect());
        } else {
            let mut p = if r % 4 == 1 {
                real.clone()
            } else {
                other.clone()
            };
            for _ in 0..1 + r % 8 {
                let i = (rng.next() as usize) % p.len();
                p[i] = rng.next() as u8;
            }
            out.push(p);
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn thousands_of_hostile_datagrams_change_nothing() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let (l, port) = listener().await;
            let mut rig = start_multicast(&config("auto:pc", None), lan.board());
            rig.expect("server-browsing").await;
            for (i, p) in hostile(3_000).iter().enumerate() {
                lan.send(p).await;
                if i.is_multiple_of(20) {
                    // Let the board read them (its socket buffer is finite).
                    tokio::task::yield_now().await;
                    sleep(Duration::from_millis(1)).await;
                }
            }
            sleep(Duration::from_millis(1)).await;
            // The board read them all (and its own datagrams).
            let got = rig.handle.multicast_received();
            assert!(got >= 3_000, "the board read {got} datagrams");
            // Still browsing, still answering, and it takes the real server.
            rig.handle.type_input(b"status\n");
            let st = rig.expect("status").await;
            assert_eq!(field(&st.line, "server"), "browsing", "{:?}", rig.seen);
            assert_eq!(rig.handle.connects(), 0);
            Server::new(&[("pc", port)]).spawn(lan.clone(), &rig, Default::default());
            let (mut s, _) = l.accept().await.unwrap();
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            assert!(!rig.app.is_finished(), "the app is still running");
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_server_announcing_itself_during_the_backoff_ends_the_wait() {
    LocalSet::new()
        .run_until(async {
            let lan = Lan::new();
            let (l1, port1) = listener().await;
            let mut rig = start_multicast(&config("auto", None), lan.board());
            let answers = lan.clone();
            let server1 = tokio::task::spawn_local(async move {
                let s = Server::new(&[("one", port1)]);
                loop {
                    let data = answers.recv().await;
                    let req = MdnsRequest::Request {
                        legacy: false,
                        multicast: true,
                        data: &data,
                    };
                    if let Some(r) = s.answer(req) {
                        answers.send(&r).await;
                    }
                }
            });
            // Sessions without data: the backoff grows to 8 s.
            for _ in 0..4 {
                let (mut s, _) = l1.accept().await.unwrap();
                assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            }
            let closed = loop {
                let c = rig.expect("server-closed").await;
                if field(&c.line, "retry_in_ms") == "8000" {
                    break c;
                }
            };
            server1.abort();
            drop(l1);
            sleep(Duration::from_secs(2)).await;
            // Another server starts and announces itself.
            let (l2, port2) = listener().await;
            let announced = rig.handle.now_ms();
            lan.send(
                &Server::new(&[("two", port2)])
                    .answer(MdnsRequest::None)
                    .unwrap(),
            )
            .await;
            let (mut s, _) = timeout(Duration::from_secs(30), l2.accept())
                .await
                .expect("the board connects to the server that announced itself")
                .unwrap();
            let waited = rig.handle.now_ms() - announced;
            assert!(waited < 500, "connected {waited} ms after the announcement");
            assert!(
                rig.handle.now_ms() - closed.at_ms < 8_000,
                "before the backoff ended"
            );
            assert_eq!(read_n(&mut s, 15).await, b"Hello WalnutPi!");
            let d = rig.expect("server-discovered").await;
            assert_eq!(field(&d.line, "instance"), "two");
        })
        .await;
}
