//! `ptvsd-dap relay`: a WebSocket → TCP relay for self-hosted debuggees, doing for a
//! container or VM behind an HTTP-only ingress what Azure App Service's `/ptvsd` proxy does:
//! it accepts `ws://` or `wss://` connections on any path and relays the bytes of binary
//! messages to ptvsd's TCP port, and the target's bytes back as binary messages.
//!
//! It behaves like websockify, so either can stand in for the other (and for Azure):
//! binary frames only (a text frame closes the session with 1003), message boundaries mean
//! nothing (each TCP read becomes one message), a connect failure closes with 1011, the
//! target closing closes the WebSocket. A plain GET gets an HTML page that shows the URL to
//! use; other methods get 405.
//!
//! Owns: the listener loop, TLS termination (rustls with the ring provider, TLS 1.2+), the
//! HTTP upgrade, one task per session, the socket options of the TCP leg (TCP_NODELAY,
//! TCP_QUICKACK re-armed before every read, and a close by reset, since ptvsd spins at
//! 100 % CPU after a FIN), keep-alive pings, message size caps and graceful shutdown.
//!
//! Must not know: the ptvsd wire protocol, the secret (it travels inside the byte stream),
//! or DAP. It is a byte pipe, and it does not use [`crate::transport`].

mod http;
mod pipe;
mod socket;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;

/// Largest message we accept from a client (tungstenite's default, stated explicitly).
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;
/// Largest frame we accept from a client.
pub const MAX_FRAME_SIZE: usize = 16 << 20;
/// How long a new connection has for its TLS handshake and its HTTP request head.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After shutdown is asked for, how long open sessions have to close before they are
/// aborted. Each session closes itself well within this (Close frame wait + drain).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the relay listens on and where it relays to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The address asked for (for [`bind`]); [`serve`] uses whatever listener it is given.
    pub listen: SocketAddr,
    /// `host:port` of the ptvsd server, resolved at each connection.
    pub target: String,
    /// PEM certificate chain and PEM private key: serve `wss://` instead of `ws://`.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl RelayConfig {
    /// `ws` or `wss`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "wss"
        } else {
            "ws"
        }
    }

    /// Checks the target's form and loads the TLS files, so a command line can fail before
    /// it binds and announces anything. [`serve`] does the same checks.
    pub fn validate(&self) -> Result<(), RelayError> {
        check_target(&self.target)?;
        if let Some((cert, key)) = &self.tls {
            load_tls(cert, key)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the target {0:?} is not of the form HOST:PORT (for example 127.0.0.1:5678)")]
    Target(String),
    #[error("cannot read the TLS certificate chain from {path}: {message}")]
    TlsCert { path: PathBuf, message: String },
    #[error("cannot read the TLS private key from {path}: {message}")]
    TlsKey { path: PathBuf, message: String },
    #[error("the TLS certificate and key cannot be used together: {0}")]
    TlsConfig(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("the listening socket is unusable: {0}")]
    Listener(io::Error),
}

fn check_target(target: &str) -> Result<(), RelayError> {
    match target.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port != 0) => Ok(()),
        _ => Err(RelayError::Target(target.to_string())),
    }
}

/// Binds `config.listen`.
pub async fn bind(config: &RelayConfig) -> Result<TcpListener, RelayError> {
    TcpListener::bind(config.listen).await.map_err(|source| RelayError::Bind { addr: config.listen, source })
}

/// Builds the TLS acceptor: rustls with the ring provider, TLS 1.2 and 1.3, ALPN http/1.1.
pub fn load_tls(cert: &Path, key: &Path) -> Result<TlsAcceptor, RelayError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| RelayError::TlsCert { path: cert.to_path_buf(), message: error.to_string() })?;
    if chain.is_empty() {
        return Err(RelayError::TlsCert {
            path: cert.to_path_buf(),
            message: "no CERTIFICATE in the file".to_string(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| RelayError::TlsKey { path: key.to_path_buf(), message: error.to_string() })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| RelayError::TlsConfig(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|error| RelayError::TlsConfig(error.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE_SIZE)).max_frame_size(Some(MAX_FRAME_SIZE))
}

/// What every connection task shares.
struct Shared {
    target: String,
    scheme: &'static str,
    local: SocketAddr,
    tls: Option<TlsAcceptor>,
}

/// Serves relay connections on `listener` until `shutdown` completes, then stops
/// accepting, closes the open sessions (Close 1001 to the client, reset to the target)
/// and returns within a few seconds.
pub async fn serve(
    listener: TcpListener,
    config: RelayConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RelayError> {
    check_target(&config.target)?;
    let tls = match &config.tls {
        Some((cert, key)) => Some(load_tls(cert, key)?),
        None => None,
    };
    let local = listener.local_addr().map_err(RelayError::Listener)?;
    let shared = Arc::new(Shared { scheme: config.scheme(), target: config.target, local, tls });
    tracing::info!(listen = %local, scheme = shared.scheme, target_addr = %shared.target, "relay started");

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut sessions = JoinSet::new();
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    next_id += 1;
                    let span = tracing::info_span!("relay", id = next_id, %peer);
                    sessions.spawn(connection(stream, Arc::clone(&shared), stop_rx.clone()).instrument(span));
                }
                Err(error) => {
                    // Out of descriptors and the like: do not spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(joined) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(error) = joined {
                    tracing::error!(%error, "a relay session task failed");
                }
            }
        }
    }
    drop(listener);
    tracing::info!(open = sessions.len(), "relay shutting down");
    let _ = stop_tx.send(true);
    let drain = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(open = sessions.len(), "aborting sessions that did not close in time");
        sessions.shutdown().await;
    }
    tracing::info!("relay stopped");
    Ok(())
}

/// One accepted connection: TLS (if configured), the HTTP request, then either a reply or
/// a relayed session.
async fn connection(stream: TcpStream, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    // Our small WebSocket frames to the client must not wait for Nagle either.
    socket::set_nodelay(&stream);
    match &shared.tls {
        Some(acceptor) => {
            let mut stop_handshake = stop.clone();
            let accepted = tokio::select! {
                accepted = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => accepted,
                () = stopped(&mut stop_handshake) => return,
            };
            match accepted {
                Ok(Ok(tls)) => http_then_relay(tls, &shared, stop).await,
                Ok(Err(error)) => tracing::info!(%error, "TLS handshake failed"),
                Err(_) => tracing::info!("TLS handshake timed out"),
            }
        }
        None => http_then_relay(stream, &shared, stop).await,
    }
}

async fn http_then_relay<S>(mut stream: S, shared: &Shared, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let read = tokio::select! {
        read = tokio::time::timeout(HANDSHAKE_TIMEOUT, http::read_head(&mut stream)) => read,
        () = stopped(&mut stop) => return,
    };
    let (head, rest) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(http::HeadError::Eof)) => return tracing::debug!("closed before a complete request"),
        Ok(Err(http::HeadError::Io(error))) => return tracing::debug!(%error, "error reading the request"),
        Ok(Err(http::HeadError::TooLarge)) => {
            tracing::info!("request head too large");
            let _ = http::send_reply(&mut stream, &http::Reply::bad_request("The request head is too large.")).await;
            return;
        }
        Ok(Err(http::HeadError::Malformed(error))) => {
            tracing::info!(%error, "malformed request");
            let _ = http::send_reply(&mut stream, &http::Reply::bad_request("Malformed HTTP request.")).await;
            return;
        }
        Err(_) => return tracing::debug!("timed out waiting for the request"),
    };
    let page = http::PageContext { scheme: shared.scheme, local: shared.local, target: &shared.target };
    match http::route(&head, &page) {
        http::Route::Reply(reply) => {
            tracing::info!(method = head.method, path = head.path(), status = reply.status, "HTTP request");
            if let Err(error) = http::send_reply(&mut stream, &reply).await {
                tracing::debug!(%error, "error sending the reply");
            }
        }
        http::Route::Upgrade { response } => {
            tracing::info!(path = head.path(), "WebSocket upgrade");
            let sent = async {
                stream.write_all(response.as_bytes()).await?;
                stream.flush().await
            };
            if let Err(error) = sent.await {
                return tracing::info!(%error, "error completing the upgrade");
            }
            let ws = WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(ws_config())).await;
            pipe::run(ws, &shared.target, stop).await;
            tracing::info!("session ended");
        }
    }
}

/// Completes once shutdown has been asked for (or the server is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here.
    let _ = stop.wait_for(|stopping| *stopping).await.map(|_| ());
}
