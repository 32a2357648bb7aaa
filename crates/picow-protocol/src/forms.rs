//! Validation of user-supplied settings and parsing of the command-line forms
//! `--wifi SSID:PASS` and `--server HOST:PORT`.
//!
//! Every error names the part of the input it is about (its [`Field`]) and
//! the rule the input breaks, so that a front end can print it as is.
//!
//! # Forms
//!
//! - `--wifi SSID:PASS` splits at the **first** `:`; the password may itself
//!   contain `:`. `--wifi SSID` or `--wifi SSID:` means an open network. An
//!   SSID that contains `:` cannot be written in this form: front ends offer
//!   separate `--ssid` and `--password` flags for it.
//! - `--server HOST:PORT`, `[IPv6]:PORT`, optionally behind `tcp://` or
//!   `udp://` (TCP when no scheme is given). A host name ending in `.local`
//!   is resolved by multicast DNS on the board.
//! - `--server auto` finds the server by DNS-SD (the first `_picow._tcp`
//!   instance on the LAN), `--server auto:NAME` the instance called NAME;
//!   also behind `tcp://` or `udp://`. See [`Server`].

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use heapless::String;

use crate::config::Transport;

/// Longest SSID, in bytes (IEEE 802.11).
pub const SSID_MAX: usize = 32;
/// Longest password: a 64-hex-digit raw WPA key.
pub const PASSWORD_MAX: usize = 64;
/// Longest DNS name, in bytes.
pub const HOST_MAX: usize = 253;
/// Longest board name, in bytes.
pub const NAME_MAX: usize = 32;
/// Longest DNS-SD instance name (one DNS label), in bytes.
pub const INSTANCE_MAX: usize = 63;

/// The part of the input an [`InputError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The Wi-Fi network name.
    Ssid,
    /// The Wi-Fi password.
    Password,
    /// The `--wifi` value as a whole.
    Wifi,
    /// The host part of the server address.
    Host,
    /// The port part of the server address.
    Port,
    /// The `--server` value as a whole.
    Server,
    /// The optional board name.
    Name,
    /// The instance name of `--server auto:NAME`.
    Instance,
}

impl Field {
    /// The name printed in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Ssid => "wifi SSID",
            Field::Password => "wifi password",
            Field::Wifi => "wifi",
            Field::Host => "server host",
            Field::Port => "server port",
            Field::Server => "server",
            Field::Name => "board name",
            Field::Instance => "server instance",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A short, bounded copy of offending input for messages.
pub type Snippet = String<40>;

fn snippet(s: &str) -> Snippet {
    let mut out = Snippet::new();
    for c in s.chars() {
        if out.len() + c.len_utf8() > out.capacity() - 3 {
            let _ = out.push_str("...");
            break;
        }
        let _ = out.push(c);
    }
    out
}

/// Input that breaks one of the rules. The message names the field and the
/// rule; it never contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// SSID length out of range.
    #[error("wifi SSID: must be 1 to 32 bytes, got {len} bytes")]
    SsidLength {
        /// Length in bytes.
        len: usize,
    },
    /// SSID with a control character.
    #[error("wifi SSID: must not contain control characters (found one at byte {pos})")]
    SsidControl {
        /// Byte position.
        pos: usize,
    },
    /// Password length out of range.
    #[error(
        "wifi password: must be empty (open network), 8 to 63 printable ASCII characters, \
         or 64 hex digits; got {len} characters"
    )]
    PasswordLength {
        /// Length in bytes.
        len: usize,
    },
    /// Password with a character outside printable ASCII.
    #[error(
        "wifi password: 8 to 63 characters must all be printable ASCII (space to '~'); \
         character {pos} is not"
    )]
    PasswordCharset {
        /// Character position (1-based).
        pos: usize,
    },
    /// 64-character password that is not hex.
    #[error(
        "wifi password: a 64-character password is a raw key and must be 64 hex digits; \
         character {pos} is not a hex digit"
    )]
    PasswordHex {
        /// Character position (1-based).
        pos: usize,
    },
    /// `--wifi` without an SSID.
    #[error("wifi: expected SSID:PASSWORD (or SSID alone for an open network), got an empty SSID")]
    WifiEmpty,
    /// Empty host.
    #[error("server host: must not be empty; write HOST:PORT, e.g. 192.168.2.118:10000")]
    HostEmpty,
    /// Host name too long.
    #[error("server host: a DNS name must be at most 253 bytes, got {len}")]
    HostTooLong {
        /// Length in bytes.
        len: usize,
    },
    /// A label of the DNS name breaks the rules.
    #[error(
        "server host: {host:?} is not a valid DNS name: each dot-separated label must be \
         1 to 63 letters, digits or '-', not starting or ending with '-'"
    )]
    HostName {
        /// The host as given (shortened).
        host: Snippet,
    },
    /// Digits and dots that are not an IPv4 address.
    #[error(
        "server host: {host:?} is not a valid IPv4 address (four numbers 0-255 separated by dots)"
    )]
    HostIpv4 {
        /// The host as given (shortened).
        host: Snippet,
    },
    /// Bracketed text that is not an IPv6 address.
    #[error("server host: [{host}] is not a valid IPv6 address")]
    HostIpv6 {
        /// The text inside the brackets (shortened).
        host: Snippet,
    },
    /// An IPv6 literal without brackets.
    #[error(
        "server: an IPv6 address must be written in brackets with its port, e.g. [fe80::1]:10000"
    )]
    Ipv6NeedsBrackets,
    /// No port given.
    #[error("server: missing port in {given:?}; write HOST:PORT, e.g. 192.168.2.118:10000")]
    MissingPort {
        /// The value as given (shortened).
        given: Snippet,
    },
    /// Port not a number or out of range.
    #[error("server port: must be a whole number from 1 to 65535, got {port:?}")]
    Port {
        /// The port as given (shortened).
        port: Snippet,
    },
    /// Unknown scheme.
    #[error("server: unknown scheme {scheme:?}; use tcp:// or udp:// or leave it out (TCP)")]
    Scheme {
        /// The scheme as given (shortened).
        scheme: Snippet,
    },
    /// Board name length out of range.
    #[error("board name: must be 1 to 32 bytes, got {len}")]
    NameLength {
        /// Length in bytes.
        len: usize,
    },
    /// Board name with characters outside the allowed set.
    #[error("board name: may contain only letters, digits, '-', '_' and '.'; character {pos} is not one")]
    NameChar {
        /// Character position (1-based).
        pos: usize,
    },
    /// Instance name length out of range.
    #[error(
        "server instance: the NAME of auto:NAME must be 1 to 63 bytes (the --name that \
         `picow serve` advertises), got {len}"
    )]
    InstanceLength {
        /// Length in bytes.
        len: usize,
    },
    /// Instance name with a control character or surrounding spaces.
    #[error(
        "server instance: the NAME of auto:NAME must not contain control characters nor \
         start or end with a space"
    )]
    InstanceChar,
    /// `auto:` followed by digits: a port where none belongs.
    #[error(
        "server: auto finds the server and its port by itself; write --server auto, or \
         auto:NAME to pick the server that `picow serve --name NAME` advertises (got auto:{port})"
    )]
    AutoPort {
        /// The digits as given (shortened).
        port: Snippet,
    },
}

impl InputError {
    /// The part of the input this error is about.
    pub fn field(&self) -> Field {
        use InputError::*;
        match self {
            SsidLength { .. } | SsidControl { .. } => Field::Ssid,
            PasswordLength { .. } | PasswordCharset { .. } | PasswordHex { .. } => Field::Password,
            WifiEmpty => Field::Wifi,
            HostEmpty
            | HostTooLong { .. }
            | HostName { .. }
            | HostIpv4 { .. }
            | HostIpv6 { .. } => Field::Host,
            Port { .. } => Field::Port,
            Ipv6NeedsBrackets | MissingPort { .. } | Scheme { .. } => Field::Server,
            NameLength { .. } | NameChar { .. } => Field::Name,
            InstanceLength { .. } | InstanceChar => Field::Instance,
            AutoPort { .. } => Field::Server,
        }
    }
}

/// Checks an SSID: 1 to 32 bytes, no control characters.
pub fn validate_ssid(ssid: &str) -> Result<(), InputError> {
    if ssid.is_empty() || ssid.len() > SSID_MAX {
        return Err(InputError::SsidLength { len: ssid.len() });
    }
    if let Some(pos) = ssid.bytes().position(|b| b < 0x20 || b == 0x7f) {
        return Err(InputError::SsidControl { pos });
    }
    Ok(())
}

/// Checks a password: empty (open network), 8 to 63 printable ASCII
/// characters, or exactly 64 hex digits.
pub fn validate_password(password: &str) -> Result<(), InputError> {
    let len = password.len();
    match len {
        0 => Ok(()),
        8..=63 => match password.bytes().position(|b| !(0x20..=0x7e).contains(&b)) {
            Some(i) => Err(InputError::PasswordCharset {
                pos: password[..i].chars().count() + 1,
            }),
            None => Ok(()),
        },
        64 => match password.bytes().position(|b| !b.is_ascii_hexdigit()) {
            Some(i) => Err(InputError::PasswordHex {
                pos: password[..i].chars().count() + 1,
            }),
            None => Ok(()),
        },
        _ => Err(InputError::PasswordLength {
            len: password.chars().count(),
        }),
    }
}

/// Checks a board name: 1 to 32 bytes of `[A-Za-z0-9._-]`.
pub fn validate_name(name: &str) -> Result<(), InputError> {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(InputError::NameLength { len: name.len() });
    }
    if let Some((i, _)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(InputError::NameChar { pos: i + 1 });
    }
    Ok(())
}

/// A validated server host.
// No allocator on the board: the name is stored inline, so the variants differ in size.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 address: no DNS lookup needed.
    Ip(IpAddr),
    /// A DNS name the board must resolve.
    Name(String<HOST_MAX>),
}

impl Host {
    /// Validates a host given without brackets: an IPv4 address, an IPv6
    /// address, or a DNS name.
    pub fn parse(host: &str) -> Result<Host, InputError> {
        if host.is_empty() {
            return Err(InputError::HostEmpty);
        }
        if host.contains(':') {
            return host
                .parse::<Ipv6Addr>()
                .map(|a| Host::Ip(IpAddr::V6(a)))
                .map_err(|_| InputError::HostIpv6 {
                    host: snippet(host),
                });
        }
        if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return host
                .parse::<Ipv4Addr>()
                .map(|a| Host::Ip(IpAddr::V4(a)))
                .map_err(|_| InputError::HostIpv4 {
                    host: snippet(host),
                });
        }
        if host.len() > HOST_MAX {
            return Err(InputError::HostTooLong { len: host.len() });
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err(InputError::HostName {
                host: snippet(host),
            });
        }
        let mut name = String::new();
        // Cannot fail: the length was checked above.
        let _ = name.push_str(host);
        Ok(Host::Name(name))
    }

    /// Whether the board has to resolve this host with DNS.
    pub fn needs_dns(&self) -> bool {
        matches!(self, Host::Name(_))
    }

    /// The name, when it is one that multicast DNS resolves (it ends in
    /// `.local`, any case), without a trailing dot.
    pub fn mdns_name(&self) -> Option<&str> {
        match self {
            Host::Name(n) => {
                let n = n.as_str();
                let tail = n.len().checked_sub(6)?;
                (n.get(tail..)?.eq_ignore_ascii_case(".local") && tail > 0).then_some(n)
            }
            Host::Ip(_) => None,
        }
    }
}

impl fmt::Display for Host {
    /// The host as written in a record: IPv6 without brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A validated server address: host, port and transport.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    /// Where the server is.
    pub host: Host,
    /// Its port, 1 to 65535.
    pub port: u16,
    /// TCP or UDP.
    pub transport: Transport,
}

impl ServerAddr {
    /// Parses `HOST:PORT`, `[IPv6]:PORT`, `tcp://…` or `udp://…`.
    pub fn parse(input: &str) -> Result<ServerAddr, InputError> {
        let (transport, rest) = split_scheme(input)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else {
                return Err(InputError::HostIpv6 {
                    host: snippet(after),
                });
            };
            let inner = &after[..close];
            let host = inner
                .parse::<Ipv6Addr>()
                .map(|a| Host::Ip(IpAddr::V6(a)))
                .map_err(|_| InputError::HostIpv6 {
                    host: snippet(inner),
                })?;
            let Some(port) = after[close + 1..].strip_prefix(':') else {
                return Err(InputError::MissingPort {
                    given: snippet(input),
                });
            };
            (host, port)
        } else {
            let Some((host, port)) = rest.rsplit_once(':') else {
                if rest.is_empty() {
                    return Err(InputError::HostEmpty);
                }
                return Err(InputError::MissingPort {
                    given: snippet(input),
                });
            };
            if host.contains(':') {
                return Err(InputError::Ipv6NeedsBrackets);
            }
            (Host::parse(host)?, port)
        };
        let port = parse_port(port)?;
        Ok(ServerAddr {
            host,
            port,
            transport,
        })
    }
}

/// Splits off a `tcp://` or `udp://` scheme (TCP without one).
fn split_scheme(input: &str) -> Result<(Transport, &str), InputError> {
    Ok(match input.find("://") {
        Some(i) => {
            let scheme = &input[..i];
            let t = if scheme.eq_ignore_ascii_case("tcp") {
                Transport::Tcp
            } else if scheme.eq_ignore_ascii_case("udp") {
                Transport::Udp
            } else {
                return Err(InputError::Scheme {
                    scheme: snippet(scheme),
                });
            };
            (t, &input[i + 3..])
        }
        None => (Transport::Tcp, input),
    })
}

/// Checks a DNS-SD instance name as `auto:NAME` takes it: 1 to 63 bytes,
/// no control characters, no space at either end.
pub fn validate_instance(name: &str) -> Result<(), InputError> {
    if name.is_empty() || name.len() > INSTANCE_MAX {
        return Err(InputError::InstanceLength { len: name.len() });
    }
    if name.chars().any(char::is_control) || name.starts_with(' ') || name.ends_with(' ') {
        return Err(InputError::InstanceChar);
    }
    Ok(())
}

/// A server found on the LAN by DNS-SD (`--server auto`, `auto:NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Discover {
    /// The instance to connect to; `None`: the first one that answers.
    pub instance: Option<String<INSTANCE_MAX>>,
    /// TCP (`_picow._tcp`) or UDP (`_picow._udp`).
    pub transport: Transport,
}

impl Discover {
    /// Discovery of `instance` (any when `None`), which must be valid.
    pub fn new(instance: Option<&str>, transport: Transport) -> Result<Discover, InputError> {
        let instance = match instance {
            Some(n) => {
                validate_instance(n)?;
                let mut s = String::new();
                // Cannot fail: the length was checked above.
                let _ = s.push_str(n);
                Some(s)
            }
            None => None,
        };
        Ok(Discover {
            instance,
            transport,
        })
    }

    /// The DNS-SD service type browsed for, e.g. `_picow._tcp`.
    pub fn service(&self) -> &'static str {
        crate::discovery::service_type(self.transport)
    }
}

/// Where the board's server is: a fixed address, or found on the LAN.
// No allocator on the board: the name is stored inline, so the variants differ in size.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Server {
    /// `HOST:PORT`: an address, or a name resolved by DNS (by multicast
    /// DNS when it ends in `.local`).
    Addr(ServerAddr),
    /// `auto` or `auto:NAME`: browsed for by DNS-SD.
    Discover(Discover),
}

impl From<ServerAddr> for Server {
    fn from(a: ServerAddr) -> Server {
        Server::Addr(a)
    }
}

impl From<Discover> for Server {
    fn from(d: Discover) -> Server {
        Server::Discover(d)
    }
}

impl Server {
    /// Parses what `--server` takes: `auto`, `auto:NAME`, or any form of
    /// [`ServerAddr::parse`]; each optionally behind `tcp://` or `udp://`.
    /// `auto` is a keyword, not a host name.
    pub fn parse(input: &str) -> Result<Server, InputError> {
        let (transport, rest) = split_scheme(input)?;
        let keyword = rest.get(..4).filter(|k| k.eq_ignore_ascii_case("auto"));
        if keyword.is_some() {
            let after = &rest[4..];
            if after.is_empty() || after == "/" {
                return Ok(Server::Discover(Discover::new(None, transport)?));
            }
            if let Some(name) = after.strip_prefix(':') {
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(InputError::AutoPort {
                        port: snippet(name),
                    });
                }
                return Ok(Server::Discover(Discover::new(Some(name), transport)?));
            }
        }
        ServerAddr::parse(input).map(Server::Addr)
    }

    /// TCP or UDP.
    pub fn transport(&self) -> Transport {
        match self {
            Server::Addr(a) => a.transport,
            Server::Discover(d) => d.transport,
        }
    }

    /// Switches to `transport` (what `--udp` does).
    pub fn set_transport(&mut self, transport: Transport) {
        match self {
            Server::Addr(a) => a.transport = transport,
            Server::Discover(d) => d.transport = transport,
        }
    }

    /// The fixed address, unless the server is discovered.
    pub fn addr(&self) -> Option<&ServerAddr> {
        match self {
            Server::Addr(a) => Some(a),
            Server::Discover(_) => None,
        }
    }

    /// Whether the board needs multicast DNS for this server: discovery,
    /// or a `.local` host name.
    pub fn needs_mdns(&self) -> bool {
        match self {
            Server::Addr(a) => a.host.mdns_name().is_some(),
            Server::Discover(_) => true,
        }
    }
}

impl fmt::Display for Server {
    /// The canonical form: `tcp://host:port`, `tcp://auto` or `tcp://auto:NAME`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Server::Addr(a) => a.fmt(f),
            Server::Discover(d) => {
                write!(f, "{}://auto", d.transport.as_str())?;
                match &d.instance {
                    Some(n) => write!(f, ":{n}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Parses a port number: 1 to 65535, digits only.
pub fn parse_port(port: &str) -> Result<u16, InputError> {
    let err = || InputError::Port {
        port: snippet(port),
    };
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    match port.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err(err()),
    }
}

impl fmt::Display for ServerAddr {
    /// The canonical form, `tcp://host:port` with IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        match &self.host {
            Host::Ip(IpAddr::V6(a)) => write!(f, "{scheme}://[{a}]:{}", self.port),
            h => write!(f, "{scheme}://{h}:{}", self.port),
        }
    }
}

/// Validated Wi-Fi credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct WifiCredentials {
    /// Network name, 1 to 32 bytes.
    pub ssid: String<SSID_MAX>,
    /// Password; empty for an open network. Never printed by `Debug`.
    pub password: String<PASSWORD_MAX>,
}

impl fmt::Debug for WifiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WifiCredentials")
            .field("ssid", &self.ssid)
            .field("password", &mask(&self.password))
            .finish()
    }
}

/// How a password is shown unless the user asks for secrets: `(open)` for
/// an empty one, else eight asterisks whatever its length.
pub fn mask(password: &str) -> &'static str {
    if password.is_empty() {
        "(open)"
    } else {
        "********"
    }
}

impl WifiCredentials {
    /// Validates separately given SSID and password (`--ssid`, `--password`).
    pub fn new(ssid: &str, password: &str) -> Result<WifiCredentials, InputError> {
        validate_ssid(ssid)?;
        validate_password(password)?;
        let mut s = String::new();
        let mut p = String::new();
        // Cannot fail: lengths validated above.
        let _ = s.push_str(ssid);
        let _ = p.push_str(password);
        Ok(WifiCredentials {
            ssid: s,
            password: p,
        })
    }

    /// Parses `SSID:PASSWORD`, splitting at the first `:`; `SSID` alone or
    /// `SSID:` is an open network.
    pub fn parse(input: &str) -> Result<WifiCredentials, InputError> {
        let (ssid, password) = input.split_once(':').unwrap_or((input, ""));
        if ssid.is_empty() {
            return Err(InputError::WifiEmpty);
        }
        WifiCredentials::new(ssid, password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wifi_splits_at_first_colon() {
        let w = WifiCredentials::parse("Home:pa:ss:word").unwrap();
        assert_eq!(w.ssid.as_str(), "Home");
        assert_eq!(w.password.as_str(), "pa:ss:word");
    }

    #[test]
    fn wifi_open_network_forms() {
        assert_eq!(
            WifiCredentials::parse("Cafe").unwrap().password.as_str(),
            ""
        );
        assert_eq!(
            WifiCredentials::parse("Cafe:").unwrap().password.as_str(),
            ""
        );
    }

    #[test]
    fn wifi_rules() {
        assert_eq!(
            WifiCredentials::parse(":password1"),
            Err(InputError::WifiEmpty)
        );
        let long = "a".repeat(33);
        assert_eq!(
            WifiCredentials::new(&long, "").unwrap_err(),
            InputError::SsidLength { len: 33 }
        );
        assert_eq!(
            WifiCredentials::parse("x:1234567").unwrap_err(),
            InputError::PasswordLength { len: 7 }
        );
        assert_eq!(
            WifiCredentials::parse("x:1234567\u{e9}").unwrap_err(),
            InputError::PasswordCharset { pos: 8 }
        );
        let hex = "0123456789abcdef".repeat(4);
        assert!(WifiCredentials::parse(&format!("x:{hex}")).is_ok());
        let bad = format!("{}g", &hex[..63]);
        assert_eq!(
            WifiCredentials::parse(&format!("x:{bad}")).unwrap_err(),
            InputError::PasswordHex { pos: 64 }
        );
        assert_eq!(
            WifiCredentials::parse(&format!("x:{hex}0"))
                .unwrap_err()
                .field(),
            Field::Password
        );
    }

    #[test]
    fn debug_masks_password() {
        let w = WifiCredentials::parse("Home:supersecret").unwrap();
        let s = format!("{w:?}");
        assert!(!s.contains("supersecret"), "{s}");
        assert!(s.contains("********"));
    }

    #[test]
    fn server_forms() {
        let s = ServerAddr::parse("192.168.2.118:10000").unwrap();
        assert_eq!(s.to_string(), "tcp://192.168.2.118:10000");
        assert!(!s.host.needs_dns());
        let s = ServerAddr::parse("udp://[fe80::1]:9").unwrap();
        assert_eq!(s.transport, Transport::Udp);
        assert_eq!(s.to_string(), "udp://[fe80::1]:9");
        let s = ServerAddr::parse("TCP://my-pc.local:10000").unwrap();
        assert!(s.host.needs_dns());
        assert_eq!(s.to_string(), "tcp://my-pc.local:10000");
    }

    #[test]
    fn server_errors_name_the_part() {
        let cases: &[(&str, Field)] = &[
            ("", Field::Host),
            (":10000", Field::Host),
            ("host", Field::Server),
            ("host:0", Field::Port),
            ("host:65536", Field::Port),
            ("host:-1", Field::Port),
            ("host:", Field::Port),
            ("host:1x", Field::Port),
            ("fe80::1:10000", Field::Server),
            ("[fe80::zz]:1", Field::Host),
            ("[fe80::1]", Field::Server),
            ("[fe80::1", Field::Host),
            ("http://h:1", Field::Server),
            ("1.2.3.256:1", Field::Host),
            ("-bad.example:1", Field::Host),
            ("bad..example:1", Field::Host),
            ("bad_name:1", Field::Host),
        ];
        for (input, field) in cases {
            let err = ServerAddr::parse(input).unwrap_err();
            assert_eq!(err.field(), *field, "{input:?}: {err}");
            assert!(
                err.to_string().starts_with(field.as_str()),
                "{input:?}: message should start with the field: {err}"
            );
        }
        let long = format!("{}.com:1", "a.".repeat(130));
        assert_eq!(
            ServerAddr::parse(&long).unwrap_err(),
            InputError::HostTooLong { len: 264 }
        );
    }

    #[test]
    fn auto_forms() {
        let any = Server::parse("auto").unwrap();
        assert_eq!(
            any,
            Server::Discover(Discover::new(None, Transport::Tcp).unwrap())
        );
        assert_eq!(any.to_string(), "tcp://auto");
        assert!(any.needs_mdns() && any.addr().is_none());
        let b = Server::parse("AUTO:b").unwrap();
        assert_eq!(b.to_string(), "tcp://auto:b");
        let Server::Discover(d) = &b else {
            panic!("discovery")
        };
        assert_eq!(d.instance.as_deref(), Some("b"));
        assert_eq!(d.service(), "_picow._tcp");
        let u = Server::parse("udp://auto:Tom's PC").unwrap();
        assert_eq!(u.transport(), Transport::Udp);
        assert_eq!(u.to_string(), "udp://auto:Tom's PC");
        assert_eq!(Server::parse("tcp://auto/").unwrap(), any);
        // Names that only start with "auto" are host names.
        let h = Server::parse("auto.example.com:10000").unwrap();
        assert!(h.addr().is_some() && !h.needs_mdns());
        let l = Server::parse("my-pc.LOCAL:10000").unwrap();
        assert!(l.needs_mdns());
        assert_eq!(l.addr().unwrap().host.mdns_name(), Some("my-pc.LOCAL"));
        assert_eq!(Host::parse("local").unwrap().mdns_name(), None);
        let mut s = Server::parse("auto").unwrap();
        s.set_transport(Transport::Udp);
        assert_eq!(s.to_string(), "udp://auto");
        assert_eq!(
            Server::parse("1.2.3.4:5").unwrap(),
            Server::Addr(ServerAddr::parse("1.2.3.4:5").unwrap())
        );
    }

    #[test]
    fn auto_errors_name_the_part() {
        let cases: &[(&str, Field)] = &[
            ("auto:", Field::Instance),
            ("auto:10000", Field::Server),
            ("auto: b", Field::Instance),
            ("auto:a\tb", Field::Instance),
            ("ftp://auto", Field::Server),
        ];
        for (input, field) in cases {
            let err = Server::parse(input).unwrap_err();
            assert_eq!(err.field(), *field, "{input:?}: {err}");
            assert!(
                err.to_string().starts_with(field.as_str()),
                "{input:?}: message should start with the field: {err}"
            );
        }
        let long = format!("auto:{}", "x".repeat(64));
        assert_eq!(
            Server::parse(&long).unwrap_err(),
            InputError::InstanceLength { len: 64 }
        );
        assert!(Server::parse("auto:10000")
            .unwrap_err()
            .to_string()
            .contains("--server auto"));
    }

    #[test]
    fn names() {
        assert!(validate_name("kitchen-01").is_ok());
        assert_eq!(
            validate_name("").unwrap_err(),
            InputError::NameLength { len: 0 }
        );
        assert_eq!(
            validate_name("a b").unwrap_err(),
            InputError::NameChar { pos: 2 }
        );
    }
}
