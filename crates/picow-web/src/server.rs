//! The HTTP and WebSocket server: the page's files, the access checks, and
//! one WebSocket session per open page, linked to a [`Backend`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::assets;
use crate::protocol::{self, Command, Problem, WebMsg};
use crate::security::{self, Access, Refusal};

/// The largest message a page may send (a file is sent in pieces well
/// below this); a larger one closes that page's WebSocket with 1009.
pub const MAX_MESSAGE: usize = 256 * 1024;
/// What waits for one page at most, in bytes of JSON lines: a page that
/// falls further behind is given a fresh snapshot once it has caught up.
pub const OUTBOX: usize = 4 << 20;

/// The default address of the page.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 10080);

/// What waits to be sent to one page: JSON lines, bounded in bytes, taken
/// all at once by the page's session (so a page that is behind gets one
/// large message instead of many small ones).
#[derive(Debug)]
pub struct Outbox {
    state: std::sync::Mutex<(String, bool)>,
    ready: tokio::sync::Notify,
    limit: usize,
}

/// What [`Outbox::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued.
    Queued,
    /// Not queued: the page is that far behind.
    Full,
    /// The page is gone.
    Closed,
}

impl Outbox {
    /// An empty outbox holding at most `limit` bytes.
    pub fn new(limit: usize) -> Outbox {
        Outbox {
            state: std::sync::Mutex::new((String::new(), false)),
            ready: tokio::sync::Notify::new(),
            limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (String, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends lines (`\n`-separated, without a final newline).
    pub fn push(&self, lines: &str) -> Pushed {
        let mut st = self.lock();
        if st.1 {
            return Pushed::Closed;
        }
        if !st.0.is_empty() && st.0.len() + lines.len() > self.limit {
            return Pushed::Full;
        }
        if !st.0.is_empty() {
            st.0.push('\n');
        }
        st.0.push_str(lines);
        drop(st);
        self.ready.notify_one();
        Pushed::Queued
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.lock().0.is_empty()
    }

    /// No more pushes are taken; the session ends once it has sent what
    /// waits.
    pub fn close(&self) {
        self.lock().1 = true;
        self.ready.notify_one();
    }

    /// Waits for lines and takes them all; `None` when closed and empty.
    pub async fn take(&self) -> Option<String> {
        loop {
            {
                let mut st = self.lock();
                if !st.0.is_empty() {
                    return Some(std::mem::take(&mut st.0));
                }
                if st.1 {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }
}

/// One open page, as the backend sees it: what to send it, and the
/// commands it sends. When the page goes (closed or reloaded) its outbox
/// is closed and its command channel ends; that is all the backend hears:
/// nothing a page does by going away reaches the boards.
#[derive(Debug)]
pub struct PageLink {
    /// JSON lines for the page.
    pub outbox: Arc<Outbox>,
    /// The page's commands, parsed and with the token checked.
    pub commands: mpsc::Sender<Command>,
}

/// What the pages are connected to: `picow serve`'s engine.
pub trait Backend: Send + Sync + 'static {
    /// A page opened its WebSocket. An error (too many pages) is sent to
    /// the page, which is then closed.
    fn attach(&self) -> Result<PageLink, Problem>;
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The address could not be bound.
    #[error("cannot listen on {addr} for the web page: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// No random numbers for the token.
    #[error("cannot make a token for the web page: {0}")]
    Token(getrandom::Error),
}

/// A bound page server, not yet running.
#[derive(Debug)]
pub struct WebServer {
    listener: TcpListener,
    access: Access,
    local: SocketAddr,
}

#[derive(Clone)]
struct Shared {
    access: Access,
    backend: Arc<dyn Backend>,
    stop: watch::Receiver<bool>,
}

impl WebServer {
    /// Binds `addr` (port 0 picks a free port). A non-loopback address
    /// gets a fresh token.
    pub async fn bind(addr: SocketAddr) -> Result<WebServer, WebError> {
        let access = Access::for_bind(addr.ip()).map_err(WebError::Token)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| WebError::Bind { addr, source })?;
        Self::from_listener(listener, access).map_err(|source| WebError::Bind { addr, source })
    }

    /// A server on a listener that is already bound, with the given access
    /// rule.
    pub fn from_listener(listener: TcpListener, access: Access) -> io::Result<WebServer> {
        let local = listener.local_addr()?;
        Ok(WebServer {
            listener,
            access,
            local,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The access rule (and the token, if any).
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The addresses to open, with the token when one is needed: the bound
    /// address, or for a wildcard, `127.0.0.1` and each of `lan`.
    pub fn urls(&self, lan: &[IpAddr]) -> Vec<String> {
        let port = self.local.port();
        let query = match self.access.token() {
            Some(t) => format!("?token={}", t.reveal()),
            None => String::new(),
        };
        let url = |ip: IpAddr| match ip {
            IpAddr::V4(a) => format!("http://{a}:{port}/{query}"),
            IpAddr::V6(a) => format!("http://[{a}]:{port}/{query}"),
        };
        let ip = self.local.ip();
        if !ip.is_unspecified() {
            return vec![url(ip)];
        }
        let mut out = vec![url(IpAddr::V4(Ipv4Addr::LOCALHOST))];
        out.extend(
            lan.iter()
                .filter(|l| !(self.local.is_ipv4() && l.is_ipv6()))
                .map(|&l| url(l)),
        );
        out
    }

    /// Serves until `shutdown` completes; then every page's WebSocket is
    /// closed and this returns.
    pub async fn run(
        self,
        backend: Arc<dyn Backend>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let (stop_tx, stop) = watch::channel(false);
        let shared = Shared {
            access: self.access,
            backend,
            stop,
        };
        let app = router(shared);
        let signal = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        axum::serve(self.listener, app)
            .with_graceful_shutdown(signal)
            .await
    }
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/ws", get(ws))
        .route("/{*path}", get(asset))
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// The headers every response carries.
fn harden(headers: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, security::CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The token a request shows: `?token=`, the cookie, or a bearer header.
fn request_token<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.query()
        .and_then(security::token_from_query)
        .or_else(|| header_str(headers, header::COOKIE).and_then(security::token_from_cookie))
        .or_else(|| {
            header_str(headers, header::AUTHORIZATION).and_then(security::token_from_bearer)
        })
}

fn refuse(r: Refusal) -> Response {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::FORBIDDEN);
    let mut resp = (status, format!("{}\n", r.message())).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Every request: the access check first, the security headers on every
/// answer (refusals too).
async fn guard(State(shared): State<Shared>, req: Request, next: Next) -> Response {
    let host = header_str(req.headers(), header::HOST);
    let checked = security::check(
        &shared.access,
        host,
        request_token(req.uri(), req.headers()),
    );
    tracing::debug!(
        method = %req.method(),
        uri = %security::mask(&req.uri().to_string()),
        ok = checked.is_ok(),
        "web request"
    );
    let mut resp = match checked {
        Ok(()) => next.run(req).await,
        Err(r) => refuse(r),
    };
    harden(resp.headers_mut());
    resp
}

async fn index(State(shared): State<Shared>, uri: Uri) -> Response {
    let token = shared.access.token().map(|t| t.reveal().to_owned());
    let mut resp = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        assets::index(token.as_deref()),
    )
        .into_response();
    // Opened with ?token=: the page's own requests carry it as a cookie
    // from now on (the guard has checked it is the right one).
    let from_query = uri.query().and_then(security::token_from_query).is_some();
    if let (Some(t), true) = (token, from_query) {
        let cookie = format!(
            "{}={t}; Path=/; HttpOnly; SameSite=Strict",
            security::COOKIE
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn asset(uri: Uri) -> Response {
    match assets::find(uri.path()) {
        Some(a) => ([(header::CONTENT_TYPE, a.mime)], Body::from(a.body)).into_response(),
        None => (StatusCode::NOT_FOUND, "no such page\n").into_response(),
    }
}

async fn ws(
    State(shared): State<Shared>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let host = header_str(&headers, header::HOST);
    if let Err(r) = security::check_origin(header_str(&headers, header::ORIGIN), host) {
        return refuse(r);
    }
    let attached = shared.backend.attach();
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            match attached {
                Ok(link) => session(socket, link, shared).await,
                Err(problem) => {
                    let mut socket = socket;
                    let line = WebMsg::Error { cmd: None, problem }.to_line();
                    let _ = socket.send(Message::Text(line.into())).await;
                    close(&mut socket, close_code::AGAIN, "too many pages are open").await;
                }
            }
        })
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        socket.send(Message::Close(Some(frame))),
    )
    .await;
}

async fn send_line(socket: &mut WebSocket, line: String) -> bool {
    socket.send(Message::Text(line.into())).await.is_ok()
}

/// One page: what the backend has for it goes out, its messages come in.
async fn session(socket: WebSocket, link: PageLink, shared: Shared) {
    let outbox = link.outbox.clone();
    serve_page(socket, link, shared).await;
    // However the page went, the backend stops queueing for it.
    outbox.close();
}

async fn serve_page(mut socket: WebSocket, link: PageLink, shared: Shared) {
    let mut stop = shared.stop.clone();
    loop {
        tokio::select! {
            _ = stop.changed() => {
                close(&mut socket, close_code::AWAY, "picow serve stopped").await;
                return;
            }
            out = link.outbox.take() => {
                let Some(text) = out else {
                    close(&mut socket, close_code::AWAY, "picow serve stopped").await;
                    return;
                };
                if !send_line(&mut socket, text).await {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                None | Some(Ok(Message::Close(_))) => return,
                Some(Err(e)) => {
                    // Too big, or not the WebSocket protocol: say so and
                    // close this page; the server and the boards go on.
                    let inner = e.into_inner();
                    let (code, reason) = match inner.downcast_ref::<tungstenite::Error>() {
                        Some(tungstenite::Error::Capacity(_)) => {
                            (close_code::SIZE, "message too big")
                        }
                        _ => (close_code::PROTOCOL, "not a valid WebSocket frame"),
                    };
                    close(&mut socket, code, reason).await;
                    return;
                }
                Some(Ok(Message::Text(text))) => {
                    let access = &shared.access;
                    let parsed = protocol::parse(text.as_str(), |given| match access.token() {
                        None => true,
                        Some(t) => given.is_some_and(|g| t.matches(g)),
                    });
                    match parsed {
                        Ok(cmd) => {
                            if link.commands.send(cmd).await.is_err() {
                                close(&mut socket, close_code::AWAY, "picow serve stopped").await;
                                return;
                            }
                        }
                        Err(problem) => {
                            let token = problem.code == "token";
                            let line = WebMsg::Error { cmd: None, problem }.to_line();
                            if !send_line(&mut socket, line).await {
                                return;
                            }
                            if token {
                                close(&mut socket, close_code::POLICY, "missing or wrong token").await;
                                return;
                            }
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let problem = Problem::new("binary", "binary messages are not commands: send JSON text");
                    if !send_line(&mut socket, WebMsg::Error { cmd: None, problem }.to_line()).await {
                        return;
                    }
                }
                // Pings are answered by the WebSocket layer.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            }
        }
    }
}
