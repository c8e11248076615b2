//! Errors of the transport layer.
//!
//! Owns: [`TransportError`] and [`TlsFailure`]. Every variant renders as one sentence a
//! user can act on (what failed, and what to change), and no variant carries the secret:
//! the request URIs, hosts and paths stored here never contain the URL's user-info.
//! Must not know: the legacy protocol or DAP (the option names quoted in messages are the
//! documented `caFile` / `--ca-file`).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use super::endpoint::{Endpoint, Scheme};

/// Which step of connecting was under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Looking up the host name.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (`tcps`, `wss`).
    TlsHandshake,
    /// The HTTP upgrade to WebSocket (`ws`, `wss`).
    Upgrade,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Resolve => "the host name lookup",
            Stage::Connect => "the TCP connect",
            Stage::TlsHandshake => "the TLS handshake",
            Stage::Upgrade => "the WebSocket upgrade",
        })
    }
}

/// Why a TLS handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The certificate chain does not lead to a trusted root (e.g. a private CA that was
    /// not given with `caFile`).
    UnknownIssuer,
    /// The certificate does not cover the name we connected to.
    NameMismatch {
        /// The name we connected to.
        expected: String,
        /// The names the certificate lists (may be empty when rustls did not say).
        presented: Vec<String>,
    },
    /// The certificate is expired or not yet valid.
    Expired,
    /// Anything else: alerts, protocol version mismatch, a non-TLS peer, EOF.
    Other {
        /// rustls' or the socket's description.
        detail: String,
    },
}

/// Why connecting to the debuggee failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The address is not a URL, or lacks a host.
    #[error("the debuggee address is not valid ({reason}); {}", Endpoint::ACCEPTED_FORMS)]
    InvalidUrl {
        /// What is wrong with it (never the URL itself).
        reason: String,
    },

    /// The URL's scheme is none of tcp, tcps, ws, wss.
    #[error("{}", unsupported_scheme(scheme.as_deref()))]
    UnsupportedScheme {
        /// The scheme, when the input clearly had one (`x://`); `None` otherwise.
        scheme: Option<String>,
    },

    /// DNS lookup failed.
    #[error("the host name `{host}` could not be resolved ({source}); check its spelling and this computer's network and DNS settings")]
    Dns {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },

    /// Connection refused.
    #[error("{}", refused_sentence(authority, *relay))]
    Refused {
        /// `host:port`.
        authority: String,
        /// Whether that address is a web server or WebSocket proxy (ws, wss) rather than
        /// ptvsd itself (tcp, tcps).
        relay: bool,
    },

    /// No connection (or handshake) within `connect_timeout`.
    #[error("{}", timeout_sentence(authority, *stage, *after))]
    Timeout {
        /// `host:port`.
        authority: String,
        /// The step that did not finish.
        stage: Stage,
        /// The configured timeout.
        after: Duration,
    },

    /// The server answered the WebSocket upgrade with something other than 101.
    #[error("{}", http_sentence(*status, authority, path, *answered_by))]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// `host:port`.
        authority: String,
        /// The requested path (no user-info, no query).
        path: String,
        /// What is known about who answered.
        answered_by: AnsweredBy,
    },

    /// The relay upgraded to WebSocket, then ended the connection before the debuggee's
    /// first byte: it could not reach ptvsd (Azure's `/ptvsd` proxy dials ptvsd only after
    /// the upgrade; Kudu's tunnel says why in a Close frame).
    #[error("{}", closed_early_sentence(authority, close.as_ref(), *tunnel_port))]
    RelayClosedEarly {
        /// `host:port`.
        authority: String,
        /// The Close frame's code and reason, when the relay sent one.
        close: Option<(u16, String)>,
        /// The container port, for the App Service tunnel; `None` for any other relay.
        tunnel_port: Option<u16>,
    },

    /// The relay closed an established session with an error code (Kudu's 1011).
    #[error("the WebSocket relay closed the connection with code {code}{}", reason_suffix(reason))]
    RelayClosed {
        /// The Close frame's code.
        code: u16,
        /// Its reason text.
        reason: String,
    },

    /// The App Service tunnel's status probe says the port cannot be reached.
    #[error("the App Service tunnel at {authority} cannot reach ptvsd: {status}. Start ptvsd in the app with ptvsd.enable_attach(SECRET, address=('0.0.0.0', {})), send the site a request so that the app starts, and make `tunnelPort` match that port", status.port)]
    TunnelUnreachable {
        /// `host:port` of the SCM site.
        authority: String,
        /// The tunnel's answer.
        status: super::tunnel::TunnelStatus,
    },

    /// A tunnel URL without publishing credentials.
    #[error("{}", credentials_sentence(*missing_user, *missing_password))]
    TunnelCredentialsMissing {
        /// No user name was given.
        missing_user: bool,
        /// No password was given.
        missing_password: bool,
    },

    /// The HTTP proxy did not open the tunnel.
    #[error("{}", proxy_sentence(proxy, target, failure))]
    Proxy {
        /// The proxy's `host:port` (never its credentials).
        proxy: String,
        /// `host:port` asked for.
        target: String,
        /// What went wrong.
        failure: ProxyFailure,
    },

    /// The proxy setting cannot be used.
    #[error("the HTTP proxy setting in {origin} is not valid ({reason}); use http://[USER:PASSWORD@]HOST:PORT")]
    InvalidProxy {
        /// Where it came from: the `proxy` key, `HTTPS_PROXY`, …
        origin: String,
        /// What is wrong (never the value).
        reason: String,
    },

    /// The TLS handshake failed.
    #[error("{}", tls_sentence(kind, *scheme, authority))]
    Tls {
        /// What went wrong.
        kind: TlsFailure,
        /// `tcps` or `wss`: the advice differs.
        scheme: Scheme,
        /// `host:port`.
        authority: String,
    },

    /// The CA file could not be read or holds no certificate.
    #[error("the CA file {} could not be used ({detail}); `caFile` (`--ca-file`) must name a PEM file with one or more CA certificates", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// A custom upgrade header cannot be sent.
    #[error("the custom header {name:?} cannot be sent with the WebSocket upgrade: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// Why not.
        reason: &'static str,
    },

    /// The WebSocket handshake failed for a reason other than an HTTP status.
    #[error(
        "the WebSocket upgrade at {authority} failed ({detail}); is this a WebSocket endpoint that relays to ptvsd?"
    )]
    WebSocket {
        /// `host:port`.
        authority: String,
        /// tungstenite's description (it never sees the secret).
        detail: String,
    },

    /// Any other socket error.
    #[error("the connection to {authority} failed during {stage}: {source}")]
    Io {
        /// `host:port`.
        authority: String,
        /// Where it failed.
        stage: Stage,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Who answered a WebSocket upgrade with a status other than 101.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnsweredBy {
    /// The page of Azure's `/ptvsd` proxy ("PTVS remote debugging proxy for Microsoft Azure
    /// Web Sites"): the proxy is there, the upgrade did not happen.
    ProxyInfoPage,
    /// Kudu's App Service tunnel (the URL's path is its handler).
    Tunnel,
    /// Anything else.
    Unknown,
}

/// Why an HTTP proxy did not open a tunnel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyFailure {
    /// Nothing listens on the proxy's port.
    Refused,
    /// It could not be reached at all.
    Unreachable {
        /// Why.
        detail: String,
    },
    /// 407 (or 401): it wants (other) credentials.
    AuthenticationRequired {
        /// Whether the proxy URL carried a user name and password.
        had_credentials: bool,
        /// The status it answered.
        status: u16,
    },
    /// 403: its rules forbid the target.
    Forbidden,
    /// Another status.
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// No answer in time.
    Timeout {
        /// The configured timeout.
        after: Duration,
    },
    /// It closed the connection without answering.
    Closed,
    /// Its answer was not HTTP.
    Malformed {
        /// Why.
        detail: String,
    },
}

impl TransportError {
    /// The same error, said of a web server or WebSocket proxy when `relay` (ws, wss).
    pub(crate) fn through_relay(self, relay: bool) -> TransportError {
        match self {
            TransportError::Refused { authority, .. } => TransportError::Refused { authority, relay },
            other => other,
        }
    }

    /// Wraps this error in an `io::Error`, for a failure found while reading the stream.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(self)
    }

    /// The transport error an `io::Error` read from a [`super::RemoteStream`] carries, if
    /// any: the layers above report it as it is instead of as a broken connection.
    pub fn carried_by(error: io::Error) -> Result<TransportError, io::Error> {
        if error.get_ref().is_some_and(|inner| inner.is::<TransportError>()) {
            if let Some(inner) = error.into_inner() {
                return inner.downcast::<TransportError>().map(|boxed| *boxed).map_err(io::Error::other);
            }
            return Err(io::Error::other("connection failed"));
        }
        Err(error)
    }
}

fn refused_sentence(authority: &str, relay: bool) -> String {
    if relay {
        format!("nothing is listening on {authority} (connection refused): no web server answers there, so neither the site nor its WebSocket proxy can be reached on that port; check the host name and port in the URL (wss:// uses 443 unless it names another)")
    } else {
        format!("nothing is listening on {authority} (connection refused); is the app running with ptvsd enabled, and is the port right?")
    }
}

fn reason_suffix(reason: &str) -> String {
    let reason = reason.trim();
    if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    }
}

fn closed_early_sentence(authority: &str, close: Option<&(u16, String)>, tunnel_port: Option<u16>) -> String {
    let said = match close {
        Some((code, reason)) => format!(" with WebSocket close code {code}{}", reason_suffix(reason)),
        None => " without a word".to_string(),
    };
    match tunnel_port {
        Some(port) => format!(
            "the App Service tunnel at {authority} accepted the WebSocket, then closed it{said} before ptvsd said anything: it could not reach port {port} in the site's container. Likely causes: the app has not started yet (send the site a request, then attach again); ptvsd is not enabled, or listens on another port (call ptvsd.enable_attach(SECRET, address=('0.0.0.0', {port})), and set `tunnelPort` to its port)"
        ),
        None => format!(
            "the WebSocket proxy at {authority} accepted the connection, then closed it{said} before ptvsd said anything: the proxy could not reach ptvsd on its port (5678 on Azure App Service). Likely causes: the app has not started yet (send it a request, e.g. open the site in a browser, then attach again); it was recycled after being idle; ptvsd is not enabled (WSGI_PTVSD_SECRET empty, or ptvsd not installed) or listens on another port than 5678"
        ),
    }
}

fn credentials_sentence(missing_user: bool, missing_password: bool) -> String {
    let missing = match (missing_user, missing_password) {
        (true, true) => "the site's publishing credentials",
        (true, false) => "the publishing user name",
        _ => "the publishing password",
    };
    format!(
        "the App Service tunnel (/AppServiceTunnel/Tunnel.ashx) needs {missing}: set `tunnelUser` and `tunnelPassword` in the attach configuration, or PTVSD_DAP_TUNNEL_USER and PTVSD_DAP_TUNNEL_PASSWORD in the adapter's environment (they are userName and userPWD in the site's publish profile); the URL's user-info stays the ptvsd secret"
    )
}

fn proxy_sentence(proxy: &str, target: &str, failure: &ProxyFailure) -> String {
    match failure {
        ProxyFailure::Refused => format!(
            "nothing is listening on the HTTP proxy {proxy} (connection refused); check the proxy setting (the `proxy` key, or HTTPS_PROXY / HTTP_PROXY)"
        ),
        ProxyFailure::Unreachable { detail } => format!("the HTTP proxy {proxy} cannot be reached ({detail}); check the proxy setting (the `proxy` key, or HTTPS_PROXY / HTTP_PROXY)"),
        ProxyFailure::AuthenticationRequired { had_credentials: true, status } => format!(
            "the HTTP proxy {proxy} refused the user name and password in the proxy URL (HTTP {status}, authentication required); check them (http://USER:PASSWORD@HOST:PORT, percent-encoded)"
        ),
        ProxyFailure::AuthenticationRequired { had_credentials: false, status } => format!(
            "the HTTP proxy {proxy} requires authentication (HTTP {status}); put the user name and password in the proxy URL: http://USER:PASSWORD@HOST:PORT (the `proxy` key, or HTTPS_PROXY)"
        ),
        ProxyFailure::Forbidden => format!(
            "the HTTP proxy {proxy} refused to open a tunnel to {target} (403 Forbidden): its rules do not allow that host or port (many proxies allow CONNECT only to port 443); ask its administrator, or add the host to NO_PROXY if it can be reached directly"
        ),
        ProxyFailure::Status { status } => format!("the HTTP proxy {proxy} answered CONNECT {target} with HTTP {status} instead of 200; it did not open the tunnel"),
        ProxyFailure::Timeout { after } => format!(
            "the HTTP proxy {proxy} did not open a tunnel to {target} within {}; the proxy, or the way from it to {target}, is too slow or blocked, or it is not an HTTP proxy", seconds(*after)
        ),
        ProxyFailure::Closed => format!("the HTTP proxy {proxy} closed the connection without answering CONNECT {target}; is it an HTTP proxy?"),
        ProxyFailure::Malformed { detail } => format!("the HTTP proxy {proxy} answered CONNECT {target} with something that is not HTTP ({detail}); is it an HTTP proxy?"),
    }
}

fn unsupported_scheme(scheme: Option<&str>) -> String {
    match scheme {
        Some(scheme) => {
            format!("the debuggee address uses the unsupported scheme `{scheme}://`; {}", Endpoint::ACCEPTED_FORMS)
        }
        None => format!(
            "the debuggee address does not start with tcp://, tcps://, ws:// or wss://; {}",
            Endpoint::ACCEPTED_FORMS
        ),
    }
}

/// `10 s`, `0.5 s`.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn timeout_sentence(authority: &str, stage: Stage, after: Duration) -> String {
    let after = seconds(after);
    match stage {
        Stage::Resolve => format!(
            "the host name in {authority} could not be resolved within {after}; check this computer's network and DNS settings"
        ),
        Stage::Connect => format!(
            "no connection to {authority} within {after}; check the host name, the port and any firewall in between"
        ),
        Stage::TlsHandshake => format!(
            "connected to {authority}, but the TLS handshake did not finish within {after}; is it a TLS endpoint?"
        ),
        Stage::Upgrade => format!(
            "connected to {authority}, but the WebSocket upgrade got no answer within {after}; the site may still be starting, so try again"
        ),
    }
}

fn http_sentence(status: u16, authority: &str, path: &str, answered_by: AnsweredBy) -> String {
    match (status, answered_by) {
        (401, AnsweredBy::Tunnel) => format!(
            "{authority} refused the publishing credentials (HTTP 401): check `tunnelUser` and `tunnelPassword` (or PTVSD_DAP_TUNNEL_USER / PTVSD_DAP_TUNNEL_PASSWORD); they are userName and userPWD in the site's publish profile"
        ),
        (404, AnsweredBy::Tunnel) => format!(
            "{authority} answered HTTP 404 for {path}: there is no App Service tunnel there; it is https://SITE.scm.azurewebsites.net/AppServiceTunnel/Tunnel.ashx, on Linux App Service only"
        ),
        (200, AnsweredBy::ProxyInfoPage) => format!(
            "{authority} answered the WebSocket upgrade for {path} with the ptvsd proxy's information page (HTTP 200): the proxy is deployed, but WebSockets are not enabled for the site; turn on \"Web sockets\" in the portal (Configuration > General settings) and remove any <webSocket enabled=\"false\"/> from web.config, or a proxy in between removed the Upgrade header"
        ),
        (200 | 300..=399 | 404, AnsweredBy::Unknown | AnsweredBy::ProxyInfoPage) => format!(
            "{authority} answered {path} with HTTP {status}{}: the request reached the app, not the ptvsd WebSocket proxy; the proxy is not deployed (publish web.debug.config with the ptvsd handler and Microsoft.PythonTools.WebRole.dll in bin) or the path is wrong (it ends in /ptvsd)",
            if (300..=399).contains(&status) { " (a redirect)" } else { "" }
        ),
        (500, AnsweredBy::Unknown | AnsweredBy::ProxyInfoPage) => format!(
            "{authority} answered the WebSocket upgrade for {path} with HTTP 500: the ptvsd proxy is deployed but failed to load (is Microsoft.PythonTools.WebRole.dll in the site's bin folder?), or the app failed"
        ),
        (503, _) => format!(
            "{authority} answered the WebSocket upgrade with HTTP 503: Web sockets are off for the App Service site (turn on \"Web sockets\" in the portal under Configuration > General settings), or the site is stopped"
        ),
        (401 | 403, _) => format!(
            "{authority} refused the WebSocket upgrade with HTTP {status}: the front end requires authentication or restricts client IP addresses (check the site's authentication and access restrictions)"
        ),
        (_, _) => format!(
            "{authority} answered the WebSocket upgrade for {path} with HTTP {status} instead of 101 Switching Protocols"
        ),
    }
}

fn tls_sentence(kind: &TlsFailure, scheme: Scheme, authority: &str) -> String {
    match kind {
        TlsFailure::UnknownIssuer => format!(
            "the TLS certificate of {authority} is not signed by a certificate authority this adapter trusts; pass the CA certificate (PEM) with the `caFile` option (`--ca-file` on the command line)"
        ),
        TlsFailure::NameMismatch {
            expected,
            presented,
        } => {
            let covers = if presented.is_empty() {
                String::new()
            } else {
                format!(" (it covers {})", presented.join(", "))
            };
            format!(
                "the TLS certificate of {authority} does not cover the name `{expected}`{covers}; connect using a name the certificate lists, or reissue the certificate for this name"
            )
        }
        TlsFailure::Expired => format!(
            "the TLS certificate of {authority} is expired or not yet valid; renew it, or check this computer's clock"
        ),
        TlsFailure::Other { detail } => match scheme {
            Scheme::Tcps => format!(
                "the TLS handshake with {authority} failed ({detail}); ptvsd's own `--certfile` listener only speaks TLS 1.0, which this adapter does not support, so a tcps:// address must point at a TLS terminator (such as stunnel or nginx) in front of ptvsd's plain TCP port"
            ),
            _ => format!("the TLS handshake with {authority} failed ({detail}); is this a TLS endpoint?"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_sentences() {
        let by = |status, answered_by| {
            TransportError::HttpStatus { status, authority: "site:443".into(), path: "/ptvsd".into(), answered_by }
                .to_string()
        };
        let e = |status| by(status, AnsweredBy::Unknown);
        assert!(e(503).contains("Web sockets"));
        assert!(e(503).contains("Configuration > General settings"));
        assert!(e(404).contains("/ptvsd"));
        assert!(e(404).contains("web.debug.config"));
        for status in [200, 302, 404] {
            assert!(e(status).contains("reached the app, not the ptvsd WebSocket proxy"), "{}", e(status));
        }
        assert!(e(302).contains("redirect"));
        assert!(e(500).contains("Microsoft.PythonTools.WebRole.dll"));
        let page = by(200, AnsweredBy::ProxyInfoPage);
        assert!(page.contains("WebSockets are not enabled") && page.contains("web.config"), "{page}");
        assert!(e(401).contains("authentication"));
        assert!(e(403).contains("IP addresses"));
        assert!(e(502).contains("HTTP 502"));
        assert!(by(401, AnsweredBy::Tunnel).contains("tunnelUser"));
        assert!(by(404, AnsweredBy::Tunnel).contains("Linux App Service"));
    }

    #[test]
    fn tls_sentences() {
        let e = |kind, scheme| TransportError::Tls { kind, scheme, authority: "h:1".into() }.to_string();
        let unknown = e(TlsFailure::UnknownIssuer, Scheme::Wss);
        assert!(unknown.contains("caFile") && unknown.contains("--ca-file"), "{unknown}");
        let mismatch = e(
            TlsFailure::NameMismatch { expected: "localhost".into(), presented: vec!["other.example".into()] },
            Scheme::Tcps,
        );
        assert!(mismatch.contains("`localhost`") && mismatch.contains("other.example"));
        let other = e(TlsFailure::Other { detail: "x".into() }, Scheme::Tcps);
        assert!(other.contains("TLS 1.0") && other.contains("stunnel"), "{other}");
        let other = e(TlsFailure::Other { detail: "x".into() }, Scheme::Wss);
        assert!(!other.contains("TLS 1.0"), "{other}");
    }

    #[test]
    fn refused_names_the_site_for_websockets_and_the_app_for_tcp() {
        let e = |relay| TransportError::Refused { authority: "h:1".into(), relay }.to_string();
        assert!(
            e(true).contains("neither the site nor its WebSocket proxy") && !e(true).contains("the app"),
            "{}",
            e(true)
        );
        assert!(e(false).contains("is the app running with ptvsd enabled"), "{}", e(false));
    }

    #[test]
    fn a_relay_closing_early_lists_the_causes() {
        let windows = TransportError::RelayClosedEarly { authority: "site:443".into(), close: None, tunnel_port: None }
            .to_string();
        for needle in
            ["could not reach ptvsd", "5678", "not started yet", "send it a request", "recycled", "another port"]
        {
            assert!(windows.contains(needle), "{needle}: {windows}");
        }
        let tunnel = TransportError::RelayClosedEarly {
            authority: "site.scm:443".into(),
            close: Some((1011, "Connection failure. Connection refused".into())),
            tunnel_port: Some(8000),
        }
        .to_string();
        for needle in ["1011", "Connection failure. Connection refused", "port 8000", "tunnelPort"] {
            assert!(tunnel.contains(needle), "{needle}: {tunnel}");
        }
    }

    #[test]
    fn proxy_sentences() {
        let e = |failure| {
            TransportError::Proxy { proxy: "proxy:3128".into(), target: "site:443".into(), failure }.to_string()
        };
        assert!(e(ProxyFailure::AuthenticationRequired { had_credentials: false, status: 407 })
            .contains("http://USER:PASSWORD@HOST:PORT"));
        assert!(e(ProxyFailure::AuthenticationRequired { had_credentials: true, status: 401 })
            .contains("refused the user name and password"));
        assert!(e(ProxyFailure::Forbidden).contains("403") && e(ProxyFailure::Forbidden).contains("NO_PROXY"));
        assert!(e(ProxyFailure::Timeout { after: Duration::from_secs(5) }).contains("within 5 s"));
        assert!(e(ProxyFailure::Refused).contains("HTTPS_PROXY"));
    }

    #[test]
    fn an_io_error_carries_a_transport_error_up() {
        let io = TransportError::RelayClosed { code: 1011, reason: "x".into() }.into_io();
        assert!(matches!(TransportError::carried_by(io), Ok(TransportError::RelayClosed { code: 1011, .. })));
        let plain = io::Error::other("plain");
        assert!(TransportError::carried_by(plain).is_err());
    }

    #[test]
    fn timeout_names_the_seconds() {
        let e =
            TransportError::Timeout { authority: "h:1".into(), stage: Stage::Connect, after: Duration::from_secs(10) };
        assert!(e.to_string().contains("within 10 s"), "{e}");
        let e = TransportError::Timeout {
            authority: "h:1".into(),
            stage: Stage::Upgrade,
            after: Duration::from_millis(500),
        };
        assert!(e.to_string().contains("within 0.5 s"), "{e}");
    }
}
