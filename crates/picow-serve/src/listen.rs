//! Binding serve's listener, and the host's LAN addresses that a board
//! could be given.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use picow_protocol::Transport;

use crate::control::Listener;
use crate::event::LanAddr;

/// The listener could not be bound; the message says why and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BindError(pub String);

fn bind_error(what: &str, addr: SocketAddr, e: io::Error) -> BindError {
    let why = match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "port {} is already in use (another picow serve or NetAssist?): stop that program or choose another --port",
            addr.port()
        ),
        io::ErrorKind::PermissionDenied => format!(
            "permission denied (ports below 1024 need administrator rights): choose --port {} or higher",
            1024.max(picow_protocol::session::DEFAULT_PORT)
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this computer: check --bind (run without it to listen everywhere)",
            addr.ip()
        ),
        _ => e.to_string(),
    };
    BindError(format!("cannot listen on {what} {addr}: {why}"))
}

fn socket_for(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // One socket for IPv4 and IPv6 (Windows defaults to IPv6 only).
        s.set_only_v6(false)?;
    }
    #[cfg(unix)]
    if ty == Type::STREAM {
        // Restarting serve must not wait for old connections' TIME_WAIT.
        s.set_reuse_address(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

/// Binds the listener: `bind` only, or every IPv4 and IPv6 address (one
/// dual-stack socket, or IPv4 alone on a host without IPv6). A failure is an
/// [`BindError`] that says what to do (picow reports it as an input error,
/// exit 2).
pub fn bind(bind: Option<IpAddr>, port: u16, udp: bool) -> Result<Listener, BindError> {
    let what = if udp { "UDP" } else { "TCP" };
    let (ty, proto) = if udp {
        (Type::DGRAM, Protocol::UDP)
    } else {
        (Type::STREAM, Protocol::TCP)
    };
    let open = |addr: SocketAddr| -> Result<Socket, BindError> {
        let s = socket_for(addr, ty, proto).map_err(|e| bind_error(what, addr, e))?;
        if !udp {
            s.listen(4096).map_err(|e| bind_error(what, addr, e))?;
        }
        Ok(s)
    };
    let socket = match bind {
        Some(ip) => open(SocketAddr::new(ip, port))?,
        None => {
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
            match socket_for(v6, ty, proto) {
                Ok(s) => {
                    if !udp {
                        s.listen(4096).map_err(|e| bind_error(what, v6, e))?;
                    }
                    s
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    return Err(bind_error(what, v6, e))
                }
                // No IPv6 on this host: IPv4 alone.
                Err(_) => open(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))?,
            }
        }
    };
    let err = |e: io::Error| BindError(format!("cannot listen on {what} port {port}: {e}"));
    Ok(if udp {
        Listener::Udp(tokio::net::UdpSocket::from_std(socket.into()).map_err(err)?)
    } else {
        Listener::Tcp(vec![
            tokio::net::TcpListener::from_std(socket.into()).map_err(err)?
        ])
    })
}

/// The host's LAN addresses: up, not loopback, not link-local. Only printed;
/// serve never connects to them.
pub fn lan_addresses() -> Vec<LanAddr> {
    let Ok(ifaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut out: Vec<LanAddr> = ifaces
        .into_iter()
        .filter(|i| !i.is_loopback() && !i.is_link_local())
        .filter(|i| {
            matches!(
                i.oper_status,
                if_addrs::IfOperStatus::Up | if_addrs::IfOperStatus::Unknown
            )
        })
        .map(|i| LanAddr {
            ip: i.ip(),
            iface: i.name,
        })
        .collect();
    // IPv4 first: that is what the tutorial's board uses.
    out.sort_by_key(|l| (l.ip.is_ipv6(), l.ip));
    out.dedup();
    out
}

/// The `picow flash --server ...` values that reach this server, one per
/// LAN address, the most likely first ([`crate::addrs::offers`]), or the
/// bound address when it is not a wildcard.
pub fn flash_hints(transport: Transport, local: &[SocketAddr], lan: &[LanAddr]) -> Vec<String> {
    crate::addrs::offers(transport, local, lan)
        .into_iter()
        .map(|o| format!("picow flash --server {}", o.server))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_the_bound_address_and_transport() {
        let lan = vec![
            LanAddr {
                iface: "eth0".into(),
                ip: "192.168.2.118".parse().unwrap(),
            },
            LanAddr {
                iface: "eth0".into(),
                ip: "fd00::2".parse().unwrap(),
            },
        ];
        let any6: Vec<SocketAddr> = vec!["[::]:10000".parse().unwrap()];
        assert_eq!(
            flash_hints(Transport::Tcp, &any6, &lan),
            [
                "picow flash --server 192.168.2.118:10000",
                "picow flash --server [fd00::2]:10000"
            ]
        );
        let any4: Vec<SocketAddr> = vec!["0.0.0.0:10000".parse().unwrap()];
        assert_eq!(
            flash_hints(Transport::Udp, &any4, &lan),
            ["picow flash --server udp://192.168.2.118:10000"]
        );
        let one: Vec<SocketAddr> = vec!["192.168.2.118:9000".parse().unwrap()];
        assert_eq!(
            flash_hints(Transport::Tcp, &one, &lan),
            ["picow flash --server 192.168.2.118:9000"]
        );
    }
}
