//! HTTP proxies: every connection (tcp, tcps, ws, wss, and the wake-up and status
//! requests) can go through an HTTP proxy with `CONNECT`, as corporate networks require.
//!
//! Owns: [`ProxyChoice`] (the `proxy` attach key, or the environment as curl reads it),
//! [`ProxyUrl`] (whose `Debug`/`Display` never show the credentials), the `NO_PROXY`
//! match, the `CONNECT` exchange and [`dial`], the one way the transport opens a TCP
//! connection. Which environment variable applies: `https_proxy`/`HTTPS_PROXY` for tcp,
//! tcps and wss (none of them is plain HTTP, so each is tunnelled like https), and
//! `http_proxy`/`HTTP_PROXY` for ws; the lower-case name wins, as in curl.
//! Must not know: TLS, WebSocket framing, the legacy protocol, DAP.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::{timeout_at, Instant};

use super::endpoint::{bracket_host, Scheme, Secret};
use super::error::{ProxyFailure, Stage, TransportError};
use super::http;
use super::tcp::{self, TcpTransport};

/// The port of a proxy URL that names none (curl's default).
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// Which proxy to use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProxyChoice {
    /// `https_proxy`/`HTTPS_PROXY` (`http_proxy`/`HTTP_PROXY` for ws), unless the host is in
    /// `no_proxy`/`NO_PROXY`, read at each connect.
    #[default]
    FromEnvironment,
    /// No proxy, whatever the environment says (`"proxy": ""`).
    Off,
    /// This proxy, for every host (the `proxy` key).
    Url(ProxyUrl),
}

/// An HTTP proxy: `http://[USER:PASSWORD@]HOST[:PORT]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
    /// User and password, percent-decoded.
    credentials: Option<(String, Secret)>,
}

impl ProxyUrl {
    /// Parses a proxy URL; `origin` names where it came from, for the error (`the \`proxy\`
    /// key`, `HTTPS_PROXY`). A URL without a scheme is taken as `http://`, as curl does.
    pub fn parse(input: &str, origin: &str) -> Result<ProxyUrl, TransportError> {
        let invalid =
            |reason: &str| TransportError::InvalidProxy { origin: origin.to_string(), reason: reason.to_string() };
        let input = input.trim();
        let with_scheme = if input.contains("://") { input.to_string() } else { format!("http://{input}") };
        let url = url::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(invalid(
                    "a TLS connection to the proxy itself (https://) is not supported; use its http:// address",
                ))
            }
            other => {
                return Err(invalid(&format!("`{other}://` proxies are not supported, only http:// (HTTP CONNECT)")))
            }
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_string(),
            Some(url::Host::Ipv4(addr)) => addr.to_string(),
            Some(url::Host::Ipv6(addr)) => addr.to_string(),
            _ => return Err(invalid("it has no host name")),
        };
        let port = url.port().unwrap_or(DEFAULT_PROXY_PORT);
        let credentials = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let decode = |s: &str| {
                percent_decode(s)
                    .ok_or_else(|| invalid("the user name or password is not valid UTF-8 after percent-decoding"))
            };
            Some((decode(url.username())?, Secret::new(decode(url.password().unwrap_or(""))?)))
        };
        Ok(ProxyUrl { host, port, credentials })
    }

    /// `host:port`, for messages and logs (never the credentials).
    pub fn authority(&self) -> String {
        format!("{}:{}", bracket_host(&self.host), self.port)
    }

    /// Whether the URL carried a user name and password.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = if self.credentials.is_some() { "***@" } else { "" };
        write!(f, "http://{user}{}", self.authority())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
        if bytes[i] == b'%' {
            if let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The proxy for a connection to `host` over `scheme`, if any. `env` looks up an
/// environment variable (`std::env::var` in real use).
pub(crate) fn select(
    choice: &ProxyChoice,
    scheme: Scheme,
    host: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, TransportError> {
    match choice {
        ProxyChoice::Off => Ok(None),
        ProxyChoice::Url(url) => Ok(Some(url.clone())),
        ProxyChoice::FromEnvironment => {
            let names: &[&str] = match scheme {
                Scheme::Ws => &["http_proxy", "HTTP_PROXY"],
                Scheme::Tcp | Scheme::Tcps | Scheme::Wss => &["https_proxy", "HTTPS_PROXY"],
            };
            let Some((name, value)) =
                names.iter().find_map(|name| env(name).filter(|v| !v.trim().is_empty()).map(|v| (*name, v)))
            else {
                return Ok(None);
            };
            let no_proxy = env("no_proxy").or_else(|| env("NO_PROXY")).unwrap_or_default();
            if bypasses(&no_proxy, host) {
                tracing::debug!(host, "NO_PROXY matches: connecting directly");
                return Ok(None);
            }
            ProxyUrl::parse(&value, name).map(Some)
        }
    }
}

/// Whether `NO_PROXY` (comma-separated) exempts `host`, as curl reads it: `*` exempts
/// every host; a name exempts itself and its subdomains (a leading dot is ignored); an IP
/// address exempts itself, and `ADDRESS/BITS` a range. Ports in entries are ignored.
pub(crate) fn bypasses(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    let host_ip: Option<IpAddr> = host.parse().ok();
    no_proxy.split(',').map(str::trim).filter(|entry| !entry.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry.to_ascii_lowercase();
        if let Some((network, bits)) = entry.split_once('/') {
            return match (
                host_ip,
                network.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>(),
                bits.parse::<u32>(),
            ) {
                (Some(ip), Ok(net), Ok(bits)) => in_network(ip, net, bits),
                _ => false,
            };
        }
        // `host:port` and `[v6]:port` entries: the port is not compared.
        let name = if entry.starts_with('[') {
            entry.trim_start_matches('[').split(']').next().unwrap_or("").to_string()
        } else if entry.matches(':').count() == 1 {
            entry.split(':').next().unwrap_or("").to_string()
        } else {
            entry.clone()
        };
        if let (Some(ip), Ok(other)) = (host_ip, name.parse::<IpAddr>()) {
            return ip == other;
        }
        let name = name.trim_start_matches('.').trim_end_matches('.');
        !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
    })
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u32) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Opens a TCP connection to `host:port` for `scheme`, directly or through the proxy
/// `choice` selects, before `deadline` (`timeout` only words the errors).
pub(crate) async fn dial(
    host: &str,
    port: u16,
    scheme: Scheme,
    choice: &ProxyChoice,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpTransport, TransportError> {
    let env = |name: &str| std::env::var(name).ok();
    let Some(proxy) = select(choice, scheme, host, &env)? else {
        return tcp::connect(host, port, deadline, timeout).await.map_err(|e| e.through_relay(scheme.is_websocket()));
    };
    let target = format!("{}:{port}", bracket_host(host));
    tracing::debug!(proxy = %proxy.authority(), %target, "connecting through an HTTP proxy");
    let failed = |failure| TransportError::Proxy { proxy: proxy.authority(), target: target.clone(), failure };
    let mut stream = match tcp::connect(&proxy.host, proxy.port, deadline, timeout).await {
        Ok(stream) => stream,
        Err(TransportError::Refused { .. }) => return Err(failed(ProxyFailure::Refused)),
        Err(TransportError::Timeout { stage: Stage::Connect | Stage::Resolve, .. }) => {
            return Err(failed(ProxyFailure::Timeout { after: timeout }))
        }
        Err(TransportError::Dns { source, .. }) => {
            return Err(failed(ProxyFailure::Unreachable {
                detail: format!("its host name could not be resolved: {source}"),
            }))
        }
        Err(other) => return Err(failed(ProxyFailure::Unreachable { detail: other.to_string() })),
    };
    let mut headers = Vec::new();
    if let Some((user, password)) = &proxy.credentials {
        headers.push(("Proxy-Authorization".to_string(), http::basic_credentials(user, password.expose())));
    }
    let mut request = http::request_text("CONNECT", &target, &target, &headers);
    // CONNECT keeps the connection: drop the `Connection: close` request_text adds.
    request = request.replace("Connection: close\r\n", "Proxy-Connection: keep-alive\r\n");
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        http::read_head(&mut stream).await
    };
    let (status, _headers) = match timeout_at(deadline, exchange).await {
        Err(_) => return Err(failed(ProxyFailure::Timeout { after: timeout })),
        Ok(Err(http::HttpFailure::Closed)) => return Err(failed(ProxyFailure::Closed)),
        Ok(Err(other)) => return Err(failed(ProxyFailure::Malformed { detail: other.to_string() })),
        Ok(Ok(head)) => head,
    };
    match status {
        200..=299 => {
            tracing::debug!(proxy = %proxy.authority(), %target, status, "proxy tunnel open");
            Ok(stream)
        }
        // tinyproxy answers wrong credentials with 401 rather than 407.
        407 | 401 => {
            Err(failed(ProxyFailure::AuthenticationRequired { had_credentials: proxy.has_credentials(), status }))
        }
        403 => Err(failed(ProxyFailure::Forbidden)),
        other => Err(failed(ProxyFailure::Status { status: other })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn parses_and_redacts() -> Result<(), TransportError> {
        let p = ProxyUrl::parse("http://us%40r:p%3Ass@proxy.corp:3128", "the `proxy` key")?;
        assert_eq!(p.authority(), "proxy.corp:3128");
        assert_eq!(p.credentials.as_ref().map(|(u, s)| (u.as_str(), s.expose())), Some(("us@r", "p:ss")));
        let shown = format!("{p} {p:?}");
        assert!(!shown.contains("us") && !shown.contains("p:ss") && !shown.contains("%3A"), "{shown}");
        assert_eq!(ProxyUrl::parse("proxy.corp", "HTTPS_PROXY")?.authority(), "proxy.corp:1080");
        assert_eq!(ProxyUrl::parse("http://[::1]:8080/", "x")?.authority(), "[::1]:8080");
        for bad in ["socks5://h:1", "https://h:1", "http://"] {
            let e = ProxyUrl::parse(bad, "HTTPS_PROXY").err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("HTTPS_PROXY"), "{bad}: {e}");
        }
        Ok(())
    }

    #[test]
    fn no_proxy_as_curl() {
        assert!(bypasses("*", "anything.example"));
        assert!(bypasses("example.com", "example.com") && bypasses("example.com", "a.b.example.com"));
        assert!(bypasses(".example.com", "a.example.com") && bypasses(" other, example.com ", "x.example.com"));
        assert!(!bypasses("example.com", "notexample.com") && !bypasses("", "example.com"));
        assert!(bypasses("localhost,127.0.0.1", "127.0.0.1") && !bypasses("127.0.0.1", "127.0.0.2"));
        assert!(bypasses("10.0.0.0/8", "10.2.3.4") && !bypasses("10.0.0.0/8", "11.0.0.1"));
        assert!(bypasses("::1", "::1") && bypasses("[::1]:8080", "[::1]") && bypasses("fd00::/8", "fd12::1"));
        assert!(bypasses("site.example:443", "site.example"));
    }

    #[test]
    fn environment_selection_follows_the_scheme_and_no_proxy() -> Result<(), TransportError> {
        let env = env_of(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("HTTP_PROXY", "http://plain:3"),
            ("NO_PROXY", "internal.example"),
        ]);
        let pick =
            |scheme, host| select(&ProxyChoice::FromEnvironment, scheme, host, &env).map(|p| p.map(|p| p.authority()));
        assert_eq!(pick(Scheme::Wss, "site.example")?, Some("lower:1".to_string()));
        assert_eq!(pick(Scheme::Tcp, "site.example")?, Some("lower:1".to_string()));
        assert_eq!(pick(Scheme::Ws, "site.example")?, Some("plain:3".to_string()));
        assert_eq!(pick(Scheme::Wss, "a.internal.example")?, None);
        let explicit = ProxyChoice::Url(ProxyUrl::parse("http://p:9", "k")?);
        assert_eq!(
            select(&explicit, Scheme::Wss, "a.internal.example", &env)?.map(|p| p.authority()),
            Some("p:9".to_string())
        );
        assert_eq!(select(&ProxyChoice::Off, Scheme::Wss, "site.example", &env)?, None);
        let none = env_of(&[("HTTPS_PROXY", "  ")]);
        assert_eq!(select(&ProxyChoice::FromEnvironment, Scheme::Wss, "h", &none)?, None);
        Ok(())
    }
}
