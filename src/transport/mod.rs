//! The byte pipe to the debuggee: `tcp://`, `tcps://`, `ws://` and `wss://`.
//!
//! Owns: parsing debuggee addresses ([`Endpoint`], [`Secret`]), connecting
//! ([`connect`] with [`ConnectOptions`]), and the resulting [`RemoteStream`], one
//! `AsyncRead + AsyncWrite` byte stream whatever the scheme, with an abortive close
//! ([`RemoteStream::abort`]). Failures are [`TransportError`]s that read as one actionable
//! sentence.
//!
//! Must not know: the legacy protocol (the secret is only carried here, never sent; the
//! handshake above sends it), DAP, editors. Must never log or format the secret: only the
//! redacted [`Endpoint`] `Display` goes into logs and errors.
//!
//! Modules: [`endpoint`] (URLs, secret), [`error`], [`tcp`] (NODELAY, QUICKACK, RST
//! close), [`proxy`] (HTTP `CONNECT` proxies, the one way a TCP connection is opened),
//! [`tls`] (rustls configuration and failure classification), [`ws`] (WebSocket as a byte
//! stream), [`tunnel`] (Kudu's Linux App Service tunnel: credentials, port, status),
//! `http` (the few plain HTTP exchanges), `wake` (the `HEAD /` that starts a sleeping App
//! Service site).

pub mod endpoint;
pub mod error;
mod http;
pub mod proxy;
pub mod tcp;
pub mod tls;
pub mod tunnel;
mod wake;
pub mod ws;

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

pub use endpoint::{Endpoint, Scheme, Secret, DEFAULT_PTVSD_PORT};
pub use error::{AnsweredBy, ProxyFailure, Stage, TlsFailure, TransportError};
pub use proxy::{ProxyChoice, ProxyUrl};
pub use tcp::TcpTransport;
pub use tunnel::{TunnelOptions, TunnelStatus};
pub use ws::WsTransport;

/// How to connect.
///
/// `Debug` shows header names but not their values (cookies, tokens), and the wake URL
/// without user-info or query.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Extra CA certificates (PEM) trusted besides Mozilla's roots (`caFile`, `--ca-file`).
    pub ca_file: Option<PathBuf>,
    /// Accept any TLS certificate. Opt-in only, for testing.
    pub insecure_tls: bool,
    /// Extra headers for the WebSocket upgrade (e.g. `Cookie: ARRAffinity=…`) and the
    /// wake-up request.
    pub headers: Vec<(String, String)>,
    /// The time allowed for resolving, connecting, and the TLS and WebSocket handshakes
    /// together. Default 10 s.
    pub connect_timeout: Duration,
    /// WebSocket keep-alive Ping period; `None` sends none. Default 30 s.
    pub ping_interval: Option<Duration>,
    /// An `http(s)://` URL to `HEAD` before a WebSocket connect, to start a lazily started
    /// site. When `None`, `wss://` endpoints wake `https://HOST:PORT/` and `ws://` ones send
    /// nothing.
    pub wake_url: Option<String>,
    /// The HTTP proxy: from the environment (default), none, or the `proxy` key's.
    pub proxy: ProxyChoice,
    /// Kudu's App Service tunnel: publishing credentials and container port (used only for
    /// a tunnel URL, see [`tunnel::is_tunnel`]).
    pub tunnel: TunnelOptions,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            ca_file: None,
            insecure_tls: false,
            headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            ping_interval: Some(Duration::from_secs(30)),
            wake_url: None,
            proxy: ProxyChoice::default(),
            tunnel: TunnelOptions::default(),
        }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<String> = self.headers.iter().map(|(name, _)| format!("{name}: ***")).collect();
        f.debug_struct("ConnectOptions")
            .field("ca_file", &self.ca_file)
            .field("insecure_tls", &self.insecure_tls)
            .field("headers", &headers)
            .field("connect_timeout", &self.connect_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("wake_url", &self.wake_url.as_deref().map(redact_url))
            .field("proxy", &self.proxy)
            .field("tunnel", &self.tunnel)
            .finish()
    }
}

/// A URL for logs: user-info and query replaced by `***`. Unparseable input is
/// replaced as a whole.
fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw.trim()) else {
        return "***".to_string();
    };
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("***");
        let _ = url.set_password(None);
    }
    if url.query().is_some() {
        url.set_query(Some("***"));
    }
    url.set_fragment(None);
    url.to_string()
}

/// A connection to the debuggee, as one byte stream.
#[derive(Debug)]
pub enum RemoteStream {
    /// `tcp://`.
    Tcp(TcpTransport),
    /// `tcps://`.
    Tls(Box<TlsStream<TcpTransport>>),
    /// `ws://` or `wss://`.
    Ws(Box<WsTransport>),
}

impl RemoteStream {
    /// Closes the connection abortively.
    ///
    /// tcp and tcps: `SO_LINGER` 0, then drop, so the peer gets RST. ptvsd's reader thread
    /// spins at 100 % CPU after a graceful FIN, but exits on RST (legacy spec §4.8). No TLS
    /// close_notify is sent. ws and wss: a Close frame (waiting at most a second), then
    /// drop; the relay closes its own leg to ptvsd.
    pub async fn abort(self) {
        match self {
            RemoteStream::Tcp(stream) => {
                if let Err(error) = stream.set_abortive_close() {
                    tracing::debug!(%error, "SO_LINGER 0 failed; closing normally");
                }
            }
            RemoteStream::Tls(stream) => {
                if let Err(error) = stream.get_ref().0.set_abortive_close() {
                    tracing::debug!(%error, "SO_LINGER 0 failed; closing normally");
                }
            }
            RemoteStream::Ws(stream) => stream.close().await,
        }
    }

    /// What Kudu's App Service tunnel said of the container port before the upgrade.
    pub fn tunnel_status(&self) -> Option<&TunnelStatus> {
        match self {
            RemoteStream::Ws(stream) => stream.tunnel_status(),
            _ => None,
        }
    }

    /// The scheme this stream was opened with (`Ws` stands for both ws and wss).
    pub fn kind(&self) -> &'static str {
        match self {
            RemoteStream::Tcp(_) => "tcp",
            RemoteStream::Tls(_) => "tls",
            RemoteStream::Ws(_) => "websocket",
        }
    }
}

impl AsyncRead for RemoteStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RemoteStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            RemoteStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            RemoteStream::Ws(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RemoteStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            RemoteStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            RemoteStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            RemoteStream::Ws(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RemoteStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            RemoteStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            RemoteStream::Ws(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RemoteStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            RemoteStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            RemoteStream::Ws(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Connects to the debuggee.
///
/// The returned stream carries the raw ptvsd byte stream; the legacy handshake (and the
/// secret) are the caller's business. For `ws`/`wss` a wake-up `HEAD` goes first (see
/// [`ConnectOptions::wake_url`]); it has its own short timeout, outside `connect_timeout`.
pub async fn connect(endpoint: &Endpoint, options: &ConnectOptions) -> Result<RemoteStream, TransportError> {
    tracing::debug!(%endpoint, "connecting");
    let timeout = options.connect_timeout;
    let tls_config = if endpoint.scheme().is_tls() { Some(tls::client_config(options)?) } else { None };
    let stream = match endpoint.scheme() {
        Scheme::Tcp => {
            let deadline = Instant::now() + timeout;
            RemoteStream::Tcp(
                proxy::dial(endpoint.host(), endpoint.port(), Scheme::Tcp, &options.proxy, deadline, timeout).await?,
            )
        }
        Scheme::Tcps => {
            let deadline = Instant::now() + timeout;
            let tcp =
                proxy::dial(endpoint.host(), endpoint.port(), Scheme::Tcps, &options.proxy, deadline, timeout).await?;
            let config = match tls_config {
                Some(config) => config,
                None => tls::client_config(options)?,
            };
            let stream =
                tls::handshake(tcp, endpoint.host(), &endpoint.authority(), Scheme::Tcps, config, deadline, timeout)
                    .await?;
            RemoteStream::Tls(Box::new(stream))
        }
        Scheme::Ws | Scheme::Wss => {
            if let Some(target) = wake::target(endpoint, options.wake_url.as_deref()) {
                let wake_timeout = wake::WAKE_TIMEOUT.min(timeout);
                wake::wake(&target, tls_config.clone(), options, wake_timeout).await;
            }
            let deadline = Instant::now() + timeout;
            RemoteStream::Ws(Box::new(ws::connect(endpoint, options, tls_config, deadline).await?))
        }
    };
    tracing::debug!(%endpoint, kind = stream.kind(), "connected");
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_byte_stream<T: AsyncRead + AsyncWrite + Unpin + Send + 'static>() {}

    #[test]
    fn remote_stream_is_one_sendable_byte_stream() {
        assert_byte_stream::<RemoteStream>();
    }

    #[test]
    fn debug_hides_header_values_and_url_credentials() -> Result<(), TransportError> {
        let options = ConnectOptions {
            headers: vec![("Cookie".into(), "ARRAffinity=abc123".into())],
            wake_url: Some("https://me:pa55@site.example/health?token=t0k3n#frag".into()),
            proxy: ProxyChoice::Url(ProxyUrl::parse("http://proxyuser:pr0xypw@proxy.example:3128", "k")?),
            tunnel: TunnelOptions {
                user: Some("$tunneluser".into()),
                password: Some(Secret::new("tunnelpw")),
                port: Some(8000),
            },
            ..ConnectOptions::default()
        };
        let text = format!("{options:?}");
        assert!(
            text.contains("Cookie: ***") && text.contains("site.example/health") && text.contains("proxy.example:3128"),
            "{text}"
        );
        for hidden in ["abc123", "pa55", "me:", "t0k3n", "frag", "proxyuser", "pr0xypw", "tunneluser", "tunnelpw"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        assert_eq!(redact_url("not a url with s3cret"), "***");
        Ok(())
    }

    #[test]
    fn defaults() {
        let o = ConnectOptions::default();
        assert_eq!(o.connect_timeout, Duration::from_secs(10));
        assert_eq!(o.ping_interval, Some(Duration::from_secs(30)));
        assert!(!o.insecure_tls && o.ca_file.is_none() && o.wake_url.is_none());
    }
}
