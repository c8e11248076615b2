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
    #[error(
        "the debuggee address is not valid ({reason}); {}",
        Endpoint::ACCEPTED_FORMS
    )]
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
    #[error("nothing is listening on {authority} (connection refused); is the app running with ptvsd enabled, and is the port right?")]
    Refused {
        /// `host:port`.
        authority: String,
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
    #[error("{}", http_sentence(*status, authority, path))]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// `host:port`.
        authority: String,
        /// The requested path (no user-info).
        path: String,
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
    #[error("the WebSocket upgrade at {authority} failed ({detail}); is this a WebSocket endpoint that relays to ptvsd?")]
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

fn unsupported_scheme(scheme: Option<&str>) -> String {
    match scheme {
        Some(scheme) => format!(
            "the debuggee address uses the unsupported scheme `{scheme}://`; {}",
            Endpoint::ACCEPTED_FORMS
        ),
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

fn http_sentence(status: u16, authority: &str, path: &str) -> String {
    match status {
        503 => format!(
            "{authority} answered the WebSocket upgrade with HTTP 503: Web sockets are off for the App Service site (turn on \"Web sockets\" in the portal under Configuration > General settings), or the site is stopped"
        ),
        404 => format!(
            "{authority} answered HTTP 404 for {path}: the ptvsd WebSocket proxy is not deployed there (deploy web.debug.config with the ptvsd proxy handler, or check the path in the address)"
        ),
        401 | 403 => format!(
            "{authority} refused the WebSocket upgrade with HTTP {status}: the front end requires authentication or restricts client IP addresses (check the site's authentication and access restrictions)"
        ),
        _ => format!(
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
        let e = |status| {
            TransportError::HttpStatus {
                status,
                authority: "site:443".into(),
                path: "/ptvsd".into(),
            }
            .to_string()
        };
        assert!(e(503).contains("Web sockets"));
        assert!(e(503).contains("Configuration > General settings"));
        assert!(e(404).contains("/ptvsd"));
        assert!(e(404).contains("web.debug.config"));
        assert!(e(401).contains("authentication"));
        assert!(e(403).contains("IP addresses"));
        assert!(e(502).contains("HTTP 502"));
    }

    #[test]
    fn tls_sentences() {
        let e = |kind, scheme| {
            TransportError::Tls {
                kind,
                scheme,
                authority: "h:1".into(),
            }
            .to_string()
        };
        let unknown = e(TlsFailure::UnknownIssuer, Scheme::Wss);
        assert!(
            unknown.contains("caFile") && unknown.contains("--ca-file"),
            "{unknown}"
        );
        let mismatch = e(
            TlsFailure::NameMismatch {
                expected: "localhost".into(),
                presented: vec!["other.example".into()],
            },
            Scheme::Tcps,
        );
        assert!(mismatch.contains("`localhost`") && mismatch.contains("other.example"));
        let other = e(TlsFailure::Other { detail: "x".into() }, Scheme::Tcps);
        assert!(
            other.contains("TLS 1.0") && other.contains("stunnel"),
            "{other}"
        );
        let other = e(TlsFailure::Other { detail: "x".into() }, Scheme::Wss);
        assert!(!other.contains("TLS 1.0"), "{other}");
    }

    #[test]
    fn timeout_names_the_seconds() {
        let e = TransportError::Timeout {
            authority: "h:1".into(),
            stage: Stage::Connect,
            after: Duration::from_secs(10),
        };
        assert!(e.to_string().contains("within 10 s"), "{e}");
        let e = TransportError::Timeout {
            authority: "h:1".into(),
            stage: Stage::Upgrade,
            after: Duration::from_millis(500),
        };
        assert!(e.to_string().contains("within 0.5 s"), "{e}");
    }
}
