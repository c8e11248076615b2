//! The TCP leg every scheme starts with.
//!
//! Owns: resolving the host (all addresses, tried in order), connecting within the
//! deadline, `TCP_NODELAY`, re-arming `TCP_QUICKACK` before every read on Linux, and the
//! abortive close (`SO_LINGER` 0, which sends RST). ptvsd writes most replies as several
//! small `send()`s; with delayed ACKs on our side and Nagle on its side each request/reply
//! round trip takes ~44 ms instead of ~0.4 ms, hence QUICKACK.
//! Must not know: TLS, WebSocket framing, the legacy protocol, DAP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::error::{Stage, TransportError};

/// A connected TCP stream with `TCP_NODELAY` set, which re-arms `TCP_QUICKACK` (Linux)
/// before each read.
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
}

impl TcpTransport {
    /// Wraps a connected stream, sets `TCP_NODELAY`, and makes every close abortive.
    ///
    /// ptvsd misbehaves on a graceful FIN in several states: mid-handshake its single
    /// accept thread spins and never serves anyone again, and after attach its reader
    /// spins at 100 % CPU (legacy spec §4.8). A reset is harmless in all of them, so a
    /// dropped stream always resets, whatever path dropped it.
    pub fn new(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_zero_linger()?;
        Ok(TcpTransport { stream })
    }

    /// The underlying socket.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// Makes the eventual close abortive: once the socket is dropped the peer gets RST,
    /// not FIN, and unsent data is discarded.
    pub fn set_abortive_close(&self) -> io::Result<()> {
        self.stream.set_zero_linger()
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn arm_quickack(stream: &TcpStream) {
    // Best effort: a failure only costs latency.
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn arm_quickack(_stream: &TcpStream) {}

impl AsyncRead for TcpTransport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        arm_quickack(&this.stream);
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpTransport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Resolves `host`, then tries each address in turn until one accepts, all before
/// `deadline`. `timeout` is only used to word the error.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    deadline: Instant,
    timeout: std::time::Duration,
) -> Result<TcpTransport, TransportError> {
    let authority = super::endpoint::bracket_host(host) + ":" + &port.to_string();
    let timed_out = |stage| TransportError::Timeout { authority: authority.clone(), stage, after: timeout };
    let addrs: Vec<_> = match timeout_at(deadline, tokio::net::lookup_host((host, port))).await {
        Err(_) => return Err(timed_out(Stage::Resolve)),
        Ok(Err(source)) => return Err(TransportError::Dns { host: host.to_owned(), source }),
        Ok(Ok(addrs)) => addrs.collect(),
    };
    if addrs.is_empty() {
        return Err(TransportError::Dns {
            host: host.to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses found"),
        });
    }
    let mut last_error = None;
    for addr in addrs {
        tracing::debug!(%addr, "tcp connect");
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(timed_out(Stage::Connect)),
            Ok(Ok(stream)) => {
                return TcpTransport::new(stream).map_err(|source| TransportError::Io {
                    authority: authority.clone(),
                    stage: Stage::Connect,
                    source,
                });
            }
            Ok(Err(error)) => {
                tracing::debug!(%addr, %error, "tcp connect failed");
                last_error = Some(error);
            }
        }
    }
    Err(connect_error(authority, last_error))
}

/// Maps the last connect error of all addresses.
fn connect_error(authority: String, error: Option<io::Error>) -> TransportError {
    match error {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => TransportError::Refused { authority, relay: false },
        Some(source) => TransportError::Io { authority, stage: Stage::Connect, source },
        None => TransportError::Io {
            authority,
            stage: Stage::Connect,
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses to connect to"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_maps_to_refused() {
        let e = connect_error("h:1".into(), Some(io::Error::from(io::ErrorKind::ConnectionRefused)));
        assert!(matches!(e, TransportError::Refused { .. }), "{e:?}");
        assert!(e.to_string().contains("nothing is listening on h:1"), "{e}");
    }
}
