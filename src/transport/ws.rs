//! The WebSocket transports (`ws://`, `wss://`): a byte stream carried in binary frames
//! through a relay such as Azure App Service's `/ptvsd` proxy or websockify.
//!
//! Owns: the upgrade request (no user-info, so the secret never enters HTTP; the custom
//! headers), mapping upgrade failures to [`TransportError`]s, and [`WsTransport`], which
//! turns frames into one byte stream: incoming binary messages are concatenated (relays
//! re-chunk, so boundaries mean nothing), each write becomes one binary message, Ping/Pong
//! are left to tungstenite, a Text frame is an error, Close is end-of-file; a Ping is sent
//! every `ping_interval` while the reader is polled.
//! Must not know: the legacy protocol or DAP.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, Stream};
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{timeout_at, Instant, Interval, MissedTickBehavior};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::header::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::endpoint::{Endpoint, Scheme};
use super::error::{AnsweredBy, Stage, TransportError};
use super::tcp::TcpTransport;
use super::{http, proxy, tls, tunnel, ConnectOptions};

/// The largest binary message one write produces; longer writes are split (the caller's
/// `write_all` loops).
const MAX_MESSAGE_PER_WRITE: usize = 256 * 1024;

/// How long [`WsTransport::close`] waits for the Close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The socket under the WebSocket: plain TCP (`ws`) or TLS over TCP (`wss`).
#[derive(Debug)]
pub(crate) enum Carrier {
    Plain(TcpTransport),
    Tls(Box<TlsStream<TcpTransport>>),
}

impl AsyncRead for Carrier {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carrier::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Carrier {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Carrier::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carrier::Plain(s) => Pin::new(s).poll_flush(cx),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carrier::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Where a WebSocket goes, for the sentences said about it.
#[derive(Debug, Clone)]
struct Origin {
    /// `host:port`.
    authority: String,
    /// For the App Service tunnel: the container port.
    tunnel_port: Option<u16>,
}

/// A WebSocket connection seen as one byte stream.
#[derive(Debug)]
pub struct WsTransport {
    ws: WebSocketStream<Carrier>,
    /// The unread rest of the last binary message.
    pending: Bytes,
    ping: Option<Interval>,
    eof: bool,
    /// Whether any payload byte arrived: an end before the first one means the relay could
    /// not reach ptvsd (ptvsd always speaks first).
    received: bool,
    origin: Origin,
    /// The App Service tunnel's status, asked before the upgrade.
    tunnel_status: Option<tunnel::TunnelStatus>,
}

impl WsTransport {
    fn new(ws: WebSocketStream<Carrier>, ping_interval: Option<Duration>, origin: Origin) -> Self {
        let ping = ping_interval.filter(|p| !p.is_zero()).map(|period| {
            let mut interval = tokio::time::interval_at(Instant::now() + period, period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        WsTransport { ws, pending: Bytes::new(), ping, eof: false, received: false, origin, tunnel_status: None }
    }

    /// What the App Service tunnel said before the upgrade (`None` for other relays, or
    /// when it gave no status).
    pub fn tunnel_status(&self) -> Option<&tunnel::TunnelStatus> {
        self.tunnel_status.as_ref()
    }

    /// The end of the stream: plain EOF once ptvsd has spoken and the relay closed normally;
    /// before ptvsd's first byte, the error that says the relay could not reach it; after
    /// it, a Close with an error code (Kudu's 1011) as an error with its reason.
    fn end(&mut self, close: Option<(u16, String)>) -> io::Result<()> {
        self.eof = true;
        if !self.received {
            return Err(TransportError::RelayClosedEarly {
                authority: self.origin.authority.clone(),
                close,
                tunnel_port: self.origin.tunnel_port,
            }
            .into_io());
        }
        match close {
            Some((code, reason)) if !matches!(code, 1000 | 1001 | 1005) => {
                Err(TransportError::RelayClosed { code, reason }.into_io())
            }
            _ => Ok(()),
        }
    }

    /// Sends a Close frame (waiting at most a second for it to go out) and drops the
    /// connection. The relay closes its own leg to ptvsd.
    pub async fn close(mut self) {
        match tokio::time::timeout(CLOSE_TIMEOUT, self.ws.close(None)).await {
            Ok(Ok(())) => tracing::debug!("WebSocket Close sent"),
            Ok(Err(error)) => tracing::debug!(%error, "WebSocket close failed"),
            Err(_) => tracing::debug!("WebSocket close timed out"),
        }
    }

    /// Sends a Ping when the interval has elapsed.
    ///
    /// This runs on the reader's task, so it must not touch the Sink's `poll_ready` /
    /// `poll_flush`: tokio-tungstenite keeps one waker slot for Sink operations, and
    /// registering the reader there would steal the wake-up of a writer task blocked on a
    /// full socket. `start_send` registers no waker, and with `write_buffer_size(0)` the
    /// frame goes straight to the socket; if the socket is full it stays queued and the
    /// writer's next flush sends it.
    fn drive_ping(&mut self, cx: &mut Context<'_>) {
        let Some(interval) = &mut self.ping else {
            return;
        };
        let mut due = false;
        while interval.poll_tick(cx).is_ready() {
            due = true;
        }
        if due {
            match Pin::new(&mut self.ws).start_send(Message::Ping(Bytes::new())) {
                Ok(()) => tracing::trace!("WebSocket ping sent"),
                // The read path reports a dead connection.
                Err(error) => tracing::debug!(%error, "WebSocket ping not sent"),
            }
        }
    }
}

/// Turns a tungstenite error on an open connection into an `io::Error`.
fn to_io(error: tungstenite::Error) -> io::Error {
    use tungstenite::error::ProtocolError;
    match error {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::NotConnected, "the WebSocket connection is closed")
        }
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => io::Error::new(
            io::ErrorKind::ConnectionReset,
            "the WebSocket relay dropped the connection without a Close frame",
        ),
        other => io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket error: {other}")),
    }
}

impl AsyncRead for WsTransport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if !this.pending.is_empty() {
            let n = this.pending.len().min(buf.remaining());
            buf.put_slice(&this.pending.split_to(n));
            return Poll::Ready(Ok(()));
        }
        if this.eof {
            return Poll::Ready(Ok(()));
        }
        this.drive_ping(cx);
        loop {
            match Pin::new(&mut this.ws).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(this.end(None)),
                Poll::Ready(Some(Err(error))) => {
                    use tungstenite::error::ProtocolError;
                    // Azure's proxy drops the connection without a Close frame whenever
                    // ptvsd is gone (or was never reached).
                    let dropped = matches!(
                        &error,
                        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)
                    ) || matches!(&error, tungstenite::Error::Io(e) if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe));
                    if dropped && !this.received {
                        return Poll::Ready(this.end(None));
                    }
                    return Poll::Ready(Err(to_io(error)));
                }
                Poll::Ready(Some(Ok(message))) => match message {
                    Message::Binary(mut data) => {
                        if data.is_empty() {
                            continue;
                        }
                        this.received = true;
                        let n = data.len().min(buf.remaining());
                        buf.put_slice(&data.split_to(n));
                        this.pending = data;
                        return Poll::Ready(Ok(()));
                    }
                    Message::Text(_) => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the WebSocket relay sent a text frame; a ptvsd relay sends only binary frames",
                        )));
                    }
                    // tungstenite queues the Pong itself; keep reading.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    Message::Close(frame) => {
                        tracing::debug!(?frame, "WebSocket Close received");
                        let close =
                            frame.map(|f| (u16::from(f.code), f.reason.as_str().chars().take(200).collect::<String>()));
                        // tungstenite queued the Close reply; its next read sends it (through
                        // the reader's waker slot) and then reports the end.
                        let _ = Pin::new(&mut this.ws).poll_next(cx);
                        return Poll::Ready(this.end(close));
                    }
                },
            }
        }
    }
}

impl AsyncWrite for WsTransport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match Pin::new(&mut this.ws).poll_ready(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(error)) => return Poll::Ready(Err(to_io(error))),
            Poll::Ready(Ok(())) => {}
        }
        let n = buf.len().min(MAX_MESSAGE_PER_WRITE);
        let message = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
        Pin::new(&mut this.ws).start_send(message).map_err(to_io)?;
        // Push it out now; callers that never flush still get their bytes sent.
        if let Poll::Ready(Err(error)) = Pin::new(&mut this.ws).poll_flush(cx) {
            return Poll::Ready(Err(to_io(error)));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().ws).poll_close(cx).map_err(to_io)
    }
}

/// Builds the upgrade request: the endpoint's URI without user-info, plus `headers`.
pub(crate) fn upgrade_request(endpoint: &Endpoint, headers: &[(String, String)]) -> Result<Request, TransportError> {
    let mut request = endpoint
        .websocket_uri()
        .into_client_request()
        .map_err(|e| TransportError::InvalidUrl { reason: format!("the WebSocket path cannot be requested: {e}") })?;
    for (name, value) in headers {
        let invalid = |reason| TransportError::InvalidHeader { name: name.clone(), reason };
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("not a valid header name"))?;
        if RESERVED_HEADERS.iter().any(|reserved| header_name.as_str().eq_ignore_ascii_case(reserved)) {
            return Err(invalid("the WebSocket handshake sets it itself"));
        }
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| invalid("its value contains characters not allowed in a header"))?;
        request.headers_mut().append(header_name, header_value);
    }
    Ok(request)
}

const RESERVED_HEADERS: [&str; 6] =
    ["host", "connection", "upgrade", "sec-websocket-version", "sec-websocket-key", "sec-websocket-extensions"];

/// The title of the page Azure's `/ptvsd` proxy answers a request that is not an upgrade
/// with.
pub const PROXY_PAGE_TITLE: &str = "PTVS remote debugging proxy";

/// Maps a failed upgrade. A 200 whose body did not arrive with the head is asked for again
/// (with a plain GET) to tell the proxy's own page from the app's.
async fn upgrade_error(
    error: tungstenite::Error,
    endpoint: &Endpoint,
    options: &ConnectOptions,
    tls_config: Option<Arc<ClientConfig>>,
    deadline: Instant,
) -> TransportError {
    let authority = endpoint.authority();
    let path = endpoint.path().split(['?', '#']).next().unwrap_or("/").to_owned();
    match error {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let answered_by = if tunnel::is_tunnel(endpoint) {
                AnsweredBy::Tunnel
            } else if status != 200 {
                AnsweredBy::Unknown
            } else {
                let tail = response.body().as_deref().unwrap_or_default();
                let page = if contains(tail, PROXY_PAGE_TITLE.as_bytes()) {
                    true
                } else {
                    let target = format!("{}:{}", endpoint.host_for_url(), endpoint.port());
                    let request = http::request_text("GET", endpoint.path(), &target, &options.headers);
                    match http_exchange(endpoint, options, tls_config, &request, deadline).await {
                        Ok(answer) => contains(&answer.body, PROXY_PAGE_TITLE.as_bytes()),
                        Err(error) => {
                            tracing::debug!(%error, "could not fetch the page the upgrade was answered with");
                            false
                        }
                    }
                };
                if page {
                    AnsweredBy::ProxyInfoPage
                } else {
                    AnsweredBy::Unknown
                }
            };
            TransportError::HttpStatus { status, authority, path, answered_by }
        }
        tungstenite::Error::Io(source) => TransportError::Io { authority, stage: Stage::Upgrade, source },
        other => TransportError::WebSocket { authority, detail: other.to_string() },
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Opens the socket under the WebSocket: TCP (through the HTTP proxy, if any), then TLS for
/// `wss`.
async fn open_carrier(
    endpoint: &Endpoint,
    options: &ConnectOptions,
    tls_config: Option<Arc<ClientConfig>>,
    deadline: Instant,
) -> Result<Carrier, TransportError> {
    let timeout = options.connect_timeout;
    let tcp =
        proxy::dial(endpoint.host(), endpoint.port(), endpoint.scheme(), &options.proxy, deadline, timeout).await?;
    Ok(match (endpoint.scheme(), tls_config) {
        (Scheme::Wss, Some(config)) => {
            let stream =
                tls::handshake(tcp, endpoint.host(), &endpoint.authority(), Scheme::Wss, config, deadline, timeout)
                    .await?;
            Carrier::Tls(Box::new(stream))
        }
        _ => Carrier::Plain(tcp),
    })
}

/// One plain HTTP exchange with the WebSocket endpoint's server (same TCP, proxy and TLS).
async fn http_exchange(
    endpoint: &Endpoint,
    options: &ConnectOptions,
    tls_config: Option<Arc<ClientConfig>>,
    request: &str,
    deadline: Instant,
) -> Result<http::Response, TransportError> {
    let authority = endpoint.authority();
    let mut carrier = open_carrier(endpoint, options, tls_config, deadline).await?;
    match timeout_at(deadline, http::exchange(&mut carrier, request)).await {
        Err(_) => Err(TransportError::Timeout { authority, stage: Stage::Upgrade, after: options.connect_timeout }),
        Ok(Err(error)) => Err(TransportError::WebSocket { authority, detail: error.to_string() }),
        Ok(Ok(response)) => Ok(response),
    }
}

/// Asks Kudu's tunnel whether it can reach the container port (`?GetStatus`).
pub(crate) async fn tunnel_status(
    endpoint: &Endpoint,
    options: &ConnectOptions,
    tls_config: Option<Arc<ClientConfig>>,
    headers: &[(String, String)],
    deadline: Instant,
) -> Result<Option<tunnel::TunnelStatus>, TransportError> {
    let target = format!("{}:{}", endpoint.host_for_url(), endpoint.port());
    let mut all = options.headers.clone();
    all.extend(headers.iter().cloned());
    let request = http::request_text("GET", &tunnel::status_target(endpoint), &target, &all);
    let response = http_exchange(endpoint, options, tls_config, &request, deadline).await?;
    let path = endpoint.path().split(['?', '#']).next().unwrap_or("/").to_owned();
    match response.status {
        200 => Ok(tunnel::parse_status(&response.body)),
        401 | 404 => Err(TransportError::HttpStatus {
            status: response.status,
            authority: endpoint.authority(),
            path,
            answered_by: AnsweredBy::Tunnel,
        }),
        other => {
            tracing::debug!(status = other, "the tunnel's status request was not answered; connecting anyway");
            Ok(None)
        }
    }
}

/// Connects TCP (and TLS for `wss`), then upgrades to WebSocket, all before `deadline`.
/// For Kudu's App Service tunnel the publishing credentials and container port go with
/// every request, and the tunnel's status is asked first.
pub(crate) async fn connect(
    endpoint: &Endpoint,
    options: &ConnectOptions,
    tls_config: Option<Arc<ClientConfig>>,
    deadline: Instant,
) -> Result<WsTransport, TransportError> {
    let mut headers = options.headers.clone();
    let mut status = None;
    let tunnel_port = if tunnel::is_tunnel(endpoint) {
        let tunnel_headers = tunnel::headers(&options.tunnel)?;
        status = tunnel_status(endpoint, options, tls_config.clone(), &tunnel_headers, deadline).await?;
        if let Some(status) = &status {
            tracing::debug!(port = status.port, state = %status.state, reachable = status.can_reach_port, "App Service tunnel status");
            if !status.can_reach_port {
                return Err(TransportError::TunnelUnreachable {
                    authority: endpoint.authority(),
                    status: status.clone(),
                });
            }
        }
        headers.extend(tunnel_headers);
        Some(options.tunnel.port())
    } else {
        None
    };
    let request = upgrade_request(endpoint, &headers)?;
    let authority = endpoint.authority();
    let timeout = options.connect_timeout;
    let tcp =
        proxy::dial(endpoint.host(), endpoint.port(), endpoint.scheme(), &options.proxy, deadline, timeout).await?;
    let carrier = match (endpoint.scheme(), tls_config.clone()) {
        (Scheme::Wss, Some(config)) => {
            let stream =
                tls::handshake(tcp, endpoint.host(), &authority, Scheme::Wss, config, deadline, timeout).await?;
            Carrier::Tls(Box::new(stream))
        }
        _ => Carrier::Plain(tcp),
    };
    // Write each frame straight through: a ptvsd message is small and latency matters, and
    // pings sent from the read side (see `drive_ping`) must not wait for a flush.
    let config = WebSocketConfig::default().write_buffer_size(0);
    let upgrade = tokio_tungstenite::client_async_with_config(request, carrier, Some(config));
    match timeout_at(deadline, upgrade).await {
        Err(_) => Err(TransportError::Timeout { authority, stage: Stage::Upgrade, after: timeout }),
        Ok(Err(error)) => Err(upgrade_error(error, endpoint, options, tls_config, deadline).await),
        Ok(Ok((ws, response))) => {
            tracing::debug!(status = %response.status(), "WebSocket upgraded");
            let mut transport = WsTransport::new(ws, options.ping_interval, Origin { authority, tunnel_port });
            transport.tunnel_status = status;
            Ok(transport)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Result<Endpoint, TransportError> {
        Endpoint::parse(url)
    }

    #[test]
    fn request_has_no_user_info() -> Result<(), TransportError> {
        let e = endpoint("wss://s%40cr%3At@site.example/ptvsd?x=1")?;
        let request = upgrade_request(&e, &[])?;
        let uri = request.uri().to_string();
        assert_eq!(uri, "wss://site.example:443/ptvsd?x=1");
        assert!(request.headers().get("authorization").is_none());
        Ok(())
    }

    #[test]
    fn custom_headers_are_added() -> Result<(), TransportError> {
        let e = endpoint("ws://s@h/ptvsd")?;
        let headers = vec![("Cookie".to_owned(), "ARRAffinity=abc".to_owned())];
        let request = upgrade_request(&e, &headers)?;
        assert_eq!(request.headers().get("cookie").map(|v| v.as_bytes()), Some(&b"ARRAffinity=abc"[..]));
        Ok(())
    }

    #[test]
    fn bad_and_reserved_headers_are_refused() -> Result<(), TransportError> {
        let e = endpoint("ws://s@h/ptvsd")?;
        for (name, value) in [("Host", "x"), ("bad name", "x"), ("X-Ok", "line\nbreak")] {
            let err = upgrade_request(&e, &[(name.to_owned(), value.to_owned())]).err();
            assert!(matches!(err, Some(TransportError::InvalidHeader { .. })), "{name}: {err:?}");
        }
        Ok(())
    }
}
