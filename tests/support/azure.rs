//! Emulators of Azure App Service's two ways in, as read from their source (see
//! `shared/docs/research/azure-and-asks.md` §1.2–§1.10), for tests only:
//!
//! * [`AzureEmulator::windows`] — PTVS's `/ptvsd` WebSocket proxy on Windows App Service
//!   (`WebSocketProxyBase.cs`): any request whose file name is not `ptvsd` falls through
//!   to "the app" (404 by default); a request that is not an upgrade (or any request when
//!   WebSockets are off for the site) gets the proxy's information page with HTTP 200; an
//!   upgrade is answered 101 **first**, and only then is `127.0.0.1:PORT` dialled — when
//!   that fails the connection is dropped without a Close frame; bytes from ptvsd go out as
//!   binary messages, one per TCP read of up to 64 KiB; messages from the client of any
//!   type are written to ptvsd as raw bytes; no pings; concurrent connections; when ptvsd
//!   closes, the WebSocket is aborted (no Close frame); when the client closes (Close frame
//!   or not), the ptvsd leg is closed gracefully (`Shutdown(Both)`, then close: a FIN).
//! * [`AzureEmulator::kudu`] — Kudu's Linux App Service tunnel
//!   (`DebugExtensionMiddleware.cs`): `/AppServiceTunnel/Tunnel.ashx` only (404 else),
//!   HTTP Basic auth (401 else, as the SCM front end does), the `AppsvcTunnelPort` header
//!   picks the port, `?GetStatus&GetStatusAPIVer=2` answers `{port, state, canReachPort,
//!   msg}` after a connect-and-close to the port, any other non-upgrade request gets 400;
//!   an upgrade is accepted first, then the port dialled: failure is a Close 1011
//!   "Connection failure. Connection refused"; ptvsd's end is not passed on; the client's
//!   Close gets a Close 1011 "Connection failure. " and a graceful close of the ptvsd leg.
//!
//! Both run on their own thread (any test, async or not, can use them), serve TLS when
//! given certificates, log what they do ([`AzureEmulator::log`]), and can
//! [`cut`](AzureEmulator::cut) every open session the way a lost network ends them: the
//! client's side is reset, and the proxy closes its ptvsd leg as it always does.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::certs::TestCerts;

/// The title of the proxy's information page (`WebSocketProxy.html`).
pub const PROXY_PAGE_TITLE: &str = "PTVS remote debugging proxy for Microsoft Azure Web Sites";
/// Kudu's tunnel handler.
pub const TUNNEL_PATH: &str = "/AppServiceTunnel/Tunnel.ashx";
const BUFFER: usize = 0x10000;

/// How the Windows site is set up.
#[derive(Debug, Clone)]
pub struct WindowsSite {
    /// The port ptvsd listens on (5678 on Azure; any free port here).
    pub ptvsd_port: u16,
    /// `Web sockets` on in the portal and not disabled in web.config. When off, the proxy
    /// sees no upgrade and answers with its information page.
    pub websockets: bool,
    /// The proxy handler is in web.config (else every request reaches the app).
    pub proxy_deployed: bool,
    /// The handler is there but `Microsoft.PythonTools.WebRole.dll` is not (HTTP 500).
    pub proxy_broken: bool,
    /// What the app answers a request that reaches it: status line and body.
    pub app_answer: (u16, &'static str, &'static str),
}

impl WindowsSite {
    pub fn new(ptvsd_port: u16) -> WindowsSite {
        WindowsSite {
            ptvsd_port,
            websockets: true,
            proxy_deployed: true,
            proxy_broken: false,
            app_answer: (404, "Not Found", "<h1>Not Found</h1>"),
        }
    }
}

/// How the Linux site is set up.
#[derive(Debug, Clone)]
pub struct LinuxSite {
    /// The publishing user name and password the SCM site accepts.
    pub user: String,
    pub password: String,
    /// The port used when the request has no `AppsvcTunnelPort` (Kudu: `APPSVC_TUNNEL_PORT`,
    /// else 2222, SSH).
    pub default_port: u16,
    /// `STARTED`, `STARTING` or `STOPPED` (from `/appsvctmp/status.txt`).
    pub state: &'static str,
    /// A test's rendezvous right after the status check's connect-and-close, before the
    /// status is answered: where a test makes the app go away between the check and the
    /// upgrade (a recycle) without racing the client.
    pub after_status_check: Option<Arc<std::sync::Barrier>>,
}

impl LinuxSite {
    /// The publishing credentials of a test site.
    pub const USER: &'static str = "$my-site";
    pub const PASSWORD: &'static str = "Pw0-publishing-9xQ";

    /// A started site with the test credentials, tunnelling to `default_port` when a
    /// request names no port.
    pub fn started(default_port: u16) -> LinuxSite {
        LinuxSite {
            user: Self::USER.into(),
            password: Self::PASSWORD.into(),
            default_port,
            state: "STARTED",
            after_status_check: None,
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Windows(WindowsSite),
    Linux(LinuxSite),
}

struct Shared {
    kind: Kind,
    log: Mutex<Vec<String>>,
    sessions: AtomicUsize,
    cut: watch::Sender<u64>,
}

impl Shared {
    fn note(&self, line: String) {
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
    }
}

/// A running emulator on 127.0.0.1; stopped on drop.
pub struct AzureEmulator {
    port: u16,
    tls: bool,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AzureEmulator {
    /// PTVS's `/ptvsd` proxy for a Windows site.
    pub fn windows(site: WindowsSite, tls: Option<&TestCerts>) -> AzureEmulator {
        Self::start(Kind::Windows(site), tls)
    }

    /// Kudu's tunnel for a Linux site.
    pub fn kudu(site: LinuxSite, tls: Option<&TestCerts>) -> AzureEmulator {
        Self::start(Kind::Linux(site), tls)
    }

    fn start(kind: Kind, tls: Option<&TestCerts>) -> AzureEmulator {
        let acceptor = tls.map(acceptor);
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind the emulator");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let port = listener.local_addr().expect("local_addr").port();
        let shared = Arc::new(Shared {
            kind,
            log: Mutex::new(Vec::new()),
            sessions: AtomicUsize::new(0),
            cut: watch::Sender::new(0),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("emulator runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                let accepting = async {
                    while let Ok((stream, _)) = listener.accept().await {
                        let _ = stream.set_nodelay(true);
                        let shared = serving.clone();
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let conn = match acceptor {
                                None => Conn::Plain(stream),
                                Some(acceptor) => match acceptor.accept(stream).await {
                                    Ok(tls) => Conn::Tls(Box::new(tls)),
                                    Err(error) => return shared.note(format!("TLS handshake failed: {error}")),
                                },
                            };
                            serve(conn, shared).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accepting => {}
                    _ = stopped => {}
                }
            });
        });
        AzureEmulator { port, tls: tls.is_some(), shared, stop: Some(stop), thread: Some(thread) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `wss://localhost:PORT/PATH` (or `ws://127.0.0.1:PORT/PATH` without TLS).
    pub fn url(&self, secret: &str, path: &str) -> String {
        let user = if secret.is_empty() { String::new() } else { format!("{secret}@") };
        if self.tls {
            format!("wss://{user}localhost:{}/{}", self.port, path.trim_start_matches('/'))
        } else {
            format!("ws://{user}127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
        }
    }

    /// What it did so far, one line per event.
    pub fn log(&self) -> String {
        self.shared.log.lock().map(|log| log.join("\n")).unwrap_or_default()
    }

    /// How many WebSocket sessions it relayed to ptvsd so far.
    pub fn sessions(&self) -> usize {
        self.shared.sessions.load(Ordering::SeqCst)
    }

    /// Ends every open session as a lost network does: the client's connection is reset,
    /// and the proxy closes its leg to ptvsd (gracefully, as it always does).
    pub fn cut(&self) {
        self.shared.cut.send_modify(|n| *n += 1);
    }
}

impl Drop for AzureEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if std::thread::panicking() {
            eprintln!("----- Azure emulator on :{} -----\n{}\n----- end -----", self.port, self.log());
        }
    }
}

fn acceptor(certs: &TestCerts) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&certs.leaf_pem).expect("leaf.pem").map(|c| c.expect("certificate")).collect();
    let key = PrivateKeyDer::from_pem_file(&certs.leaf_key).expect("leaf.key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// The client's connection, plain or TLS; the TCP socket stays reachable for resets.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("/")
    }
    fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
    fn is_upgrade(&self) -> bool {
        self.header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
            && self.header("connection").is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
            && self.header("sec-websocket-key").is_some()
    }
}

async fn read_request(conn: &mut Conn) -> Option<(Request, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 || buffer.len() > 16 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(length)) = request.parse(&buffer) {
            let parsed = Request {
                method: request.method.unwrap_or("GET").to_string(),
                target: request.path.unwrap_or("/").to_string(),
                headers: request
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect(),
            };
            return Some((parsed, buffer[length..].to_vec()));
        }
    }
}

async fn reply(conn: &mut Conn, status: u16, reason: &str, extra: &str, body: &str, head_only: bool) {
    let text = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{}",
        body.len(),
        if head_only { "" } else { body }
    );
    let _ = conn.write_all(text.as_bytes()).await;
    let _ = conn.flush().await;
    let _ = conn.shutdown().await;
}

async fn switch_protocols(conn: &mut Conn, request: &Request) -> bool {
    let key = request.header("sec-websocket-key").unwrap_or_default();
    let text = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    conn.write_all(text.as_bytes()).await.is_ok() && conn.flush().await.is_ok()
}

/// Resets the client's connection: no Close frame, no TLS close_notify (ASP.NET's abort).
fn abort(ws: WebSocketStream<Conn>) {
    let _ = socket2::SockRef::from(ws.get_ref().tcp()).set_linger(Some(Duration::ZERO));
    drop(ws);
}

/// `Shutdown(Both)`, then close: ptvsd sees a FIN.
fn close_gracefully(tcp: TcpStream) {
    let _ = socket2::SockRef::from(&tcp).shutdown(std::net::Shutdown::Both);
    drop(tcp);
}

async fn serve(mut conn: Conn, shared: Arc<Shared>) {
    let Some((request, rest)) = read_request(&mut conn).await else { return };
    let kind = shared.kind.clone();
    match kind {
        Kind::Windows(site) => serve_windows(conn, request, rest, site, shared).await,
        Kind::Linux(site) => serve_linux(conn, request, rest, site, shared).await,
    }
}

async fn serve_windows(mut conn: Conn, request: Request, rest: Vec<u8>, site: WindowsSite, shared: Arc<Shared>) {
    let head_only = request.method.eq_ignore_ascii_case("HEAD");
    // IIS matches the handler's `path="ptvsd"` against the file name.
    let file_name = request.path().rsplit('/').next().unwrap_or("");
    if !site.proxy_deployed || !file_name.eq_ignore_ascii_case("ptvsd") {
        shared.note(format!("{} {} -> the app ({})", request.method, request.path(), site.app_answer.0));
        let (status, reason, body) = site.app_answer;
        return reply(&mut conn, status, reason, "", body, head_only).await;
    }
    if site.proxy_broken {
        shared.note(format!("{} {} -> 500 (handler type not found)", request.method, request.path()));
        let body = "<title>Could not load type 'Microsoft.PythonTools.Debugger.WebSocketProxy'.</title>";
        return reply(&mut conn, 500, "Internal Server Error", "", body, head_only).await;
    }
    if !request.is_upgrade() || !site.websockets {
        shared.note(format!("{} {} -> 200 information page", request.method, request.path()));
        let body = format!(
            "<html><head><title>{PROXY_PAGE_TITLE}</title></head><body>To debug, enter the following URL in the Qualifier textbox: <strong>wss://secret@{}{}</strong> where secret is the value of WSGI_PTVSD_SECRET in web.debug.config.</body></html>",
            request.header("host").unwrap_or("localhost"),
            request.target
        );
        return reply(&mut conn, 200, "OK", "", &body, head_only).await;
    }
    // AcceptWebSocketRequest: the upgrade succeeds before anything else happens.
    if !switch_protocols(&mut conn, &request).await {
        return;
    }
    let mut ws = WebSocketStream::from_partially_read(conn, rest, Role::Server, None).await;
    let tcp = match TcpStream::connect(("127.0.0.1", site.ptvsd_port)).await {
        Ok(tcp) => tcp,
        Err(error) => {
            // The SocketException escapes the handler; ASP.NET logs it and aborts.
            shared.note(format!(
                "101, then connecting to localhost:{} failed ({error}): connection aborted",
                site.ptvsd_port
            ));
            return abort(ws);
        }
    };
    let _ = tcp.set_nodelay(true);
    shared.sessions.fetch_add(1, Ordering::SeqCst);
    shared.note(format!(
        "session {}: relaying to localhost:{}",
        shared.sessions.load(Ordering::SeqCst),
        site.ptvsd_port
    ));
    let mut cut = shared.cut.subscribe();
    let (mut from_ptvsd, mut to_ptvsd) = tcp.into_split();
    let mut buffer = vec![0u8; BUFFER];
    let end = loop {
        tokio::select! {
            read = from_ptvsd.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break "ptvsd closed",
                // One binary message per read, whatever it holds.
                Ok(n) => if ws.send(Message::binary(buffer[..n].to_vec())).await.is_err() { break "client gone" },
            },
            message = ws.next() => match message {
                // The type is not checked: every payload goes to ptvsd as raw bytes.
                Some(Ok(Message::Binary(data))) => if to_ptvsd.write_all(&data).await.is_err() { break "ptvsd closed" },
                Some(Ok(Message::Text(text))) => if to_ptvsd.write_all(text.as_bytes()).await.is_err() { break "ptvsd closed" },
                Some(Ok(Message::Close(_))) => break "client closed",
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break "client gone",
            },
            _ = cut.changed() => break "network cut",
        }
    };
    let tcp = match to_ptvsd.reunite(from_ptvsd) {
        Ok(tcp) => tcp,
        Err(_) => return,
    };
    shared.note(format!("session ended: {end}"));
    match end {
        // cts.Cancel() aborts the WebSocket while a receive is pending: no Close frame.
        "ptvsd closed" => abort(ws),
        // The Close reply goes out (about a second later on Azure), then the TCP leg closes.
        "client closed" => {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })),
            )
            .await;
            drop(ws);
        }
        _ => abort(ws),
    }
    close_gracefully(tcp);
}

async fn serve_linux(mut conn: Conn, request: Request, rest: Vec<u8>, site: LinuxSite, shared: Arc<Shared>) {
    if !request.path().eq_ignore_ascii_case(TUNNEL_PATH) {
        shared.note(format!("{} {} -> 404", request.method, request.path()));
        return reply(&mut conn, 404, "Not Found", "", "", false).await;
    }
    let expected = format!("Basic {}", base64(format!("{}:{}", site.user, site.password).as_bytes()));
    if request.header("authorization") != Some(expected.as_str()) {
        shared.note(format!(
            "{} {} -> 401 (credentials {})",
            request.method,
            request.path(),
            if request.header("authorization").is_some() { "wrong" } else { "missing" }
        ));
        return reply(&mut conn, 401, "Unauthorized", "WWW-Authenticate: Basic realm=\"site\"\r\n", "", false).await;
    }
    let port = request
        .header("appsvctunnelport")
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(site.default_port);
    if !request.is_upgrade() {
        if !request.query().to_ascii_lowercase().contains("getstatus") {
            shared.note(format!("{} {} -> 400", request.method, request.path()));
            return reply(&mut conn, 400, "Bad Request", "", "", false).await;
        }
        // `using (Socket testSocket …) { testSocket.Connect(…); }`: connect, then close.
        let reachable = TcpStream::connect(("127.0.0.1", port)).await.is_ok();
        shared.note(format!("GetStatus: port {port} reachable: {reachable}"));
        if let Some(barrier) = site.after_status_check.clone() {
            let _ = tokio::task::spawn_blocking(move || barrier.wait()).await;
        }
        let msg = if reachable { "" } else { "Unable to connect to WebApp" };
        let json = format!(r#"{{"port":{port},"state":"{}","canReachPort":{reachable},"msg":"{msg}"}}"#, site.state);
        // ASP.NET Core writes it chunked.
        let text = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{json}\r\n0\r\n\r\n",
            json.len()
        );
        let _ = conn.write_all(text.as_bytes()).await;
        let _ = conn.shutdown().await;
        return;
    }
    if !switch_protocols(&mut conn, &request).await {
        return;
    }
    let mut ws = WebSocketStream::from_partially_read(conn, rest, Role::Server, None).await;
    let close = |reason: String| Message::Close(Some(CloseFrame { code: CloseCode::Error, reason: reason.into() }));
    let tcp = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(tcp) => tcp,
        Err(_) => {
            shared.note(format!("101, then port {port} unreachable: Close 1011"));
            let _ = ws.send(close("Connection failure. Connection refused".into())).await;
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    shared.sessions.fetch_add(1, Ordering::SeqCst);
    shared.note(format!("session {}: tunnel to port {port}", shared.sessions.load(Ordering::SeqCst)));
    let mut cut = shared.cut.subscribe();
    let (mut from_ptvsd, mut to_ptvsd) = tcp.into_split();
    let mut buffer = vec![0u8; BUFFER];
    let mut ptvsd_open = true;
    let end = loop {
        tokio::select! {
            read = from_ptvsd.read(&mut buffer), if ptvsd_open => match read {
                // Kudu does not tell the client that the debuggee went away.
                Ok(0) | Err(_) => ptvsd_open = false,
                Ok(n) => if ws.send(Message::binary(buffer[..n].to_vec())).await.is_err() { break None },
            },
            message = ws.next() => match message {
                Some(Ok(Message::Binary(data))) => if let Err(error) = to_ptvsd.write_all(&data).await { break Some(format!("Connection failure. {error}")) },
                Some(Ok(Message::Text(text))) => if let Err(error) = to_ptvsd.write_all(text.as_bytes()).await { break Some(format!("Connection failure. {error}")) },
                Some(Ok(Message::Close(_))) => break Some("Connection failure. ".to_string()),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break None,
            },
            _ = cut.changed() => break None,
        }
    };
    shared.note(format!("session ended: {}", end.as_deref().unwrap_or("client gone")));
    match end {
        Some(reason) => {
            let _ = tokio::time::timeout(Duration::from_secs(5), ws.send(close(reason))).await;
            drop(ws);
        }
        None => abort(ws),
    }
    if let Ok(tcp) = to_ptvsd.reunite(from_ptvsd) {
        // Socket.Close(): graceful.
        drop(tcp);
    }
}

/// Standard base64 (RFC 4648) for the expected `Authorization` header.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
