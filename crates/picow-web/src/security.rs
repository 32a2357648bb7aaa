//! Who may use the page: the token for non-loopback addresses, the `Host`
//! and `Origin` checks, and the headers every response carries.
//!
//! - On a loopback address the page needs no token, but the `Host` header
//!   must name a loopback address or `localhost`: a web site that rebinds its
//!   own name to 127.0.0.1 (DNS rebinding) is refused.
//! - On any other address every request and every WebSocket message must
//!   carry the token: `?token=` in the URL (the page then gets a cookie for
//!   its own requests), the cookie, or `Authorization: Bearer`.
//! - A WebSocket upgrade whose `Origin` is not the page's own is refused, so
//!   another tab cannot drive the boards (cross-site WebSocket hijacking).

use std::fmt;
use std::net::IpAddr;

/// The secret a non-loopback page needs: 128 random bits as 32 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// Never prints the secret.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(****)")
    }
}

impl Token {
    /// A new random token from the operating system's generator.
    pub fn generate() -> Result<Token, getrandom::Error> {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw)?;
        Ok(Token(raw.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A token with a given value (tests, and a user who passes their own).
    pub fn from_secret(s: &str) -> Token {
        Token(s.to_owned())
    }

    /// The secret itself, for the URL printed once at start.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this token, in time that does not depend on where
    /// the first difference is.
    pub fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// What a request must show.
#[derive(Debug, Clone)]
pub enum Access {
    /// Loopback only: no token, but a loopback `Host`.
    Loopback,
    /// Any address: the token.
    Token(Token),
}

impl Access {
    /// The access rule for a page bound to `ip`: loopback needs no token.
    pub fn for_bind(ip: IpAddr) -> Result<Access, getrandom::Error> {
        if is_loopback(ip) {
            Ok(Access::Loopback)
        } else {
            Token::generate().map(Access::Token)
        }
    }

    /// The token, when one is required.
    pub fn token(&self) -> Option<&Token> {
        match self {
            Access::Loopback => None,
            Access::Token(t) => Some(t),
        }
    }
}

/// Whether `ip` is a loopback address (IPv4-mapped IPv6 included).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token was given (401).
    NoToken,
    /// A token was given and it is wrong (403).
    BadToken,
    /// The `Host` header does not name this computer's loopback (403).
    ForeignHost,
    /// The WebSocket upgrade came from another site (403).
    ForeignOrigin,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Refusal::NoToken => 401,
            _ => 403,
        }
    }

    /// What the person sees, and what to do.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NoToken => {
                "this page needs its token: open the whole address that picow serve printed (it ends in ?token=...)"
            }
            Refusal::BadToken => {
                "wrong token: open the address that this picow serve printed; a restarted serve has a new token"
            }
            Refusal::ForeignHost => {
                "refused: the page is served on loopback only; open http://127.0.0.1 with the port picow serve printed"
            }
            Refusal::ForeignOrigin => {
                "refused: a WebSocket from another site; only the page itself may connect"
            }
        }
    }
}

/// The host part of a `Host` header (`[::1]:10080` -> `::1`, `localhost`).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Whether a `Host` header names this computer's loopback.
pub fn host_is_loopback(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(is_loopback)
}

/// Checks a request: its `Host` and the token it shows (from the query, the
/// cookie or the `Authorization` header).
pub fn check(access: &Access, host: Option<&str>, token: Option<&str>) -> Result<(), Refusal> {
    match access {
        Access::Loopback => match host {
            Some(h) if host_is_loopback(h) => Ok(()),
            _ => Err(Refusal::ForeignHost),
        },
        Access::Token(t) => match token {
            None => Err(Refusal::NoToken),
            Some(given) if t.matches(given) => Ok(()),
            Some(_) => Err(Refusal::BadToken),
        },
    }
}

/// Checks a WebSocket upgrade's `Origin` against the page's own
/// (`http://` + the `Host` header). Programs that are not browsers send no
/// `Origin`; they cannot be tricked by another site, and the token (or
/// loopback) still applies to them.
pub fn check_origin(origin: Option<&str>, host: Option<&str>) -> Result<(), Refusal> {
    let Some(origin) = origin else {
        return Ok(());
    };
    let Some(host) = host else {
        return Err(Refusal::ForeignOrigin);
    };
    let own = origin
        .strip_prefix("http://")
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host));
    if own {
        Ok(())
    } else {
        Err(Refusal::ForeignOrigin)
    }
}

/// The token from a query string (`a=1&token=...`).
pub fn token_from_query(query: &str) -> Option<&str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
}

/// The name of the cookie that carries the token for the page's own
/// requests.
pub const COOKIE: &str = "picow_token";

/// The token from a `Cookie` header.
pub fn token_from_cookie(cookie: &str) -> Option<&str> {
    cookie
        .split(';')
        .map(str::trim)
        .find_map(|kv| kv.strip_prefix(COOKIE)?.strip_prefix('='))
        .filter(|t| !t.is_empty())
}

/// The token from an `Authorization: Bearer ...` header.
pub fn token_from_bearer(auth: &str) -> Option<&str> {
    auth.strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The Content-Security-Policy of every response: the page's own scripts,
/// styles and WebSocket only; nothing from elsewhere, no inline script, no
/// framing, no forms, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `url` with the token's value replaced by `****`, for logs.
pub fn mask(url: &str) -> String {
    match url.find("token=") {
        Some(i) => {
            let start = i + "token=".len();
            let end = url[start..]
                .find(['&', '#'])
                .map_or(url.len(), |e| start + e);
            format!("{}****{}", &url[..start], &url[end..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_compare_exactly() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_eq!(a.reveal().len(), 32);
        assert!(a.reveal().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(a.matches(a.reveal()));
        assert!(!a.matches(b.reveal()));
        assert!(!a.matches(&a.reveal()[..31]));
        assert!(!a.matches(""));
        assert_eq!(format!("{a:?}"), "Token(****)");
    }

    #[test]
    fn loopback_needs_a_loopback_host() {
        let open = Access::Loopback;
        for h in [
            "127.0.0.1:10080",
            "localhost:1",
            "LOCALHOST",
            "[::1]:80",
            "127.1.2.3",
        ] {
            assert_eq!(check(&open, Some(h), None), Ok(()), "{h}");
        }
        for h in [
            "evil.example:10080",
            "192.168.2.118:10080",
            "[fe80::1]:80",
            "localhost.evil",
        ] {
            assert_eq!(
                check(&open, Some(h), None),
                Err(Refusal::ForeignHost),
                "{h}"
            );
        }
        assert_eq!(check(&open, None, None), Err(Refusal::ForeignHost));
    }

    #[test]
    fn token_access_needs_the_token_from_any_host() {
        let t = Token::from_secret("0123456789abcdef0123456789abcdef");
        let access = Access::Token(t.clone());
        assert_eq!(check(&access, Some("evil:1"), Some(t.reveal())), Ok(()));
        assert_eq!(
            check(&access, Some("127.0.0.1:1"), None),
            Err(Refusal::NoToken)
        );
        assert_eq!(
            check(&access, Some("127.0.0.1:1"), Some("nope")),
            Err(Refusal::BadToken)
        );
        assert_eq!(Refusal::NoToken.status(), 401);
        assert_eq!(Refusal::BadToken.status(), 403);
    }

    #[test]
    fn origin_must_be_the_page_itself() {
        let host = Some("127.0.0.1:10080");
        assert_eq!(check_origin(Some("http://127.0.0.1:10080"), host), Ok(()));
        assert_eq!(check_origin(None, host), Ok(()));
        for o in [
            "http://evil.example",
            "http://127.0.0.1:10081",
            "https://127.0.0.1:10080",
            "null",
            "http://127.0.0.1:10080.evil",
        ] {
            assert_eq!(
                check_origin(Some(o), host),
                Err(Refusal::ForeignOrigin),
                "{o}"
            );
        }
        assert_eq!(
            check_origin(Some("http://127.0.0.1:10080"), None),
            Err(Refusal::ForeignOrigin)
        );
    }

    #[test]
    fn tokens_are_found_and_masked() {
        assert_eq!(token_from_query("a=1&token=abc"), Some("abc"));
        assert_eq!(token_from_query("token="), None);
        assert_eq!(token_from_cookie("x=1; picow_token=abc"), Some("abc"));
        assert_eq!(token_from_cookie("picow_tokenx=abc"), None);
        assert_eq!(token_from_bearer("Bearer abc"), Some("abc"));
        assert_eq!(
            mask("http://10.0.0.2:10080/?token=0123abcd"),
            "http://10.0.0.2:10080/?token=****"
        );
        assert_eq!(mask("/ws?token=ab&x=1"), "/ws?token=****&x=1");
        assert_eq!(mask("http://127.0.0.1:10080/"), "http://127.0.0.1:10080/");
    }
}
