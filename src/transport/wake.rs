//! The wake-up request sent before a WebSocket connect.
//!
//! App Service starts the site's Python process lazily, on the first HTTP request, and the
//! `/ptvsd` proxy only has something to relay to once it runs. So before `wss://` (or `ws://`
//! when `wake_url` is set) we send `HEAD /` (or to `wake_url`), read the status line and
//! close. Every failure is logged at debug level and ignored: the real connect reports
//! what matters.
//!
//! Owns: that one request, over the same TCP and TLS code as the connection itself.
//! Must not know: the legacy protocol, DAP. Needs no HTTP client dependency.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use url::{Host, Url};

use super::endpoint::{bracket_host, Endpoint, Scheme};
use super::{tls, ConnectOptions};

/// The longest the wake-up may take.
pub(crate) const WAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where to send the wake-up request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct WakeTarget {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
}

/// The target for this endpoint: `wake_url` when set, else the site root for `wss`, else
/// none. A `wake_url` that cannot be used is logged and skipped.
pub(crate) fn target(endpoint: &Endpoint, wake_url: Option<&str>) -> Option<WakeTarget> {
    match wake_url {
        Some(raw) => {
            let parsed = parse_wake_url(raw);
            if parsed.is_none() {
                tracing::warn!("wake URL ignored: it must be an http:// or https:// URL with a host");
            }
            parsed
        }
        // Kudu's tunnel lives on the SCM host; the app is the same name without `.scm`.
        None if super::tunnel::is_tunnel(endpoint) => {
            let site = endpoint.host().to_ascii_lowercase();
            site.strip_suffix(".scm.azurewebsites.net").map(|name| WakeTarget {
                tls: true,
                host: format!("{name}.azurewebsites.net"),
                port: 443,
                path: "/".into(),
            })
        }
        None if endpoint.scheme() == Scheme::Wss => {
            Some(WakeTarget { tls: true, host: endpoint.host().to_owned(), port: endpoint.port(), path: "/".into() })
        }
        None => None,
    }
}

fn parse_wake_url(raw: &str) -> Option<WakeTarget> {
    let url = Url::parse(raw.trim()).ok()?;
    let tls = match url.scheme() {
        "https" | "wss" => true,
        "http" | "ws" => false,
        _ => return None,
    };
    let host = match url.host()? {
        Host::Domain(name) => name.to_owned(),
        Host::Ipv4(addr) => addr.to_string(),
        Host::Ipv6(addr) => addr.to_string(),
    };
    let port = url.port_or_known_default()?;
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(WakeTarget { tls, host, port, path })
}

/// Sends `HEAD` to the target within `timeout` and ignores the outcome.
pub(crate) async fn wake(
    target: &WakeTarget,
    tls_config: Option<Arc<ClientConfig>>,
    options: &ConnectOptions,
    timeout: Duration,
) {
    let started = Instant::now();
    let attempt = tokio::time::timeout(timeout, head(target, tls_config, options, timeout));
    match attempt.await {
        Ok(Ok(status)) => tracing::debug!(
            host = %target.host,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "wake-up request answered"
        ),
        Ok(Err(error)) => tracing::debug!(host = %target.host, %error, "wake-up request failed"),
        Err(_) => tracing::debug!(host = %target.host, "wake-up request timed out"),
    }
}

async fn head(
    target: &WakeTarget,
    tls_config: Option<Arc<ClientConfig>>,
    options: &ConnectOptions,
    timeout: Duration,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let deadline = Instant::now() + timeout;
    let scheme = if target.tls { Scheme::Wss } else { Scheme::Ws };
    let tcp = super::proxy::dial(&target.host, target.port, scheme, &options.proxy, deadline, timeout).await?;
    let request = head_request(target, &options.headers);
    if target.tls {
        let config = match tls_config {
            Some(config) => config,
            None => tls::client_config(options)?,
        };
        let authority = format!("{}:{}", bracket_host(&target.host), target.port);
        let stream = tls::handshake(tcp, &target.host, &authority, Scheme::Wss, config, deadline, timeout).await?;
        exchange(stream, &request).await
    } else {
        exchange(tcp, &request).await
    }
}

fn head_request(target: &WakeTarget, headers: &[(String, String)]) -> String {
    let default_port = if target.tls { 443 } else { 80 };
    let mut host = bracket_host(&target.host);
    if target.port != default_port {
        host = format!("{host}:{}", target.port);
    }
    let mut request =
        format!("HEAD {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ptvsd-dap\r\nConnection: close\r\n", target.path);
    for (name, value) in headers {
        // Only well-formed headers; the upgrade request reports bad ones.
        let clean = |s: &str| !s.is_empty() && !s.contains(['\r', '\n']);
        if clean(name) && !name.contains(':') && !value.contains(['\r', '\n']) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("\r\n");
    request
}

/// Writes the request, reads the status line, closes.
async fn exchange<S>(mut stream: S, request: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut response = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !response.contains(&b'\n') && response.len() < 1024 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..n]);
    }
    let _ = stream.shutdown().await;
    let line = response.split(|b| *b == b'\n').next().unwrap_or_default();
    let status = String::from_utf8_lossy(line).trim().to_owned();
    if status.is_empty() {
        return Err("the server closed the connection without answering".into());
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportError;

    #[test]
    fn default_target_is_the_wss_site_root() -> Result<(), TransportError> {
        let e = Endpoint::parse("wss://s@site.example/ptvsd")?;
        assert_eq!(
            target(&e, None),
            Some(WakeTarget { tls: true, host: "site.example".into(), port: 443, path: "/".into() })
        );
        let e = Endpoint::parse("ws://s@site.example/ptvsd")?;
        assert_eq!(target(&e, None), None);
        let e = Endpoint::parse("wss://s@my-site.scm.azurewebsites.net/AppServiceTunnel/Tunnel.ashx")?;
        assert_eq!(target(&e, None).map(|t| t.host), Some("my-site.azurewebsites.net".to_string()));
        let e = Endpoint::parse("wss://s@localhost:9/AppServiceTunnel/Tunnel.ashx")?;
        assert_eq!(target(&e, None), None);
        Ok(())
    }

    #[test]
    fn wake_url_overrides() -> Result<(), TransportError> {
        let e = Endpoint::parse("ws://s@h/ptvsd")?;
        assert_eq!(
            target(&e, Some("http://h:8080/health?x=1")),
            Some(WakeTarget { tls: false, host: "h".into(), port: 8080, path: "/health?x=1".into() })
        );
        assert_eq!(target(&e, Some("ftp://h/")), None);
        Ok(())
    }

    #[test]
    fn head_request_shape() {
        let t = WakeTarget { tls: true, host: "::1".into(), port: 8443, path: "/".into() };
        let r = head_request(&t, &[("Cookie".into(), "ARRAffinity=1".into())]);
        assert!(r.starts_with("HEAD / HTTP/1.1\r\nHost: [::1]:8443\r\n"), "{r}");
        assert!(r.contains("Cookie: ARRAffinity=1\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\n"), "{r}");
    }
}
