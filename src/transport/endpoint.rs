//! Debuggee addresses: [`Endpoint`] and the [`Secret`] carried in its user-info.
//!
//! Owns: parsing `tcp://`, `tcps://`, `ws://` and `wss://` URLs, their default ports, the
//! percent-decoding of the secret, and the redacted rendering of both (`Display` and
//! `Debug` never show the secret). Must not know: what the secret is for (the legacy
//! handshake uses it), DAP, or how a connection is made.

use std::fmt;

use url::{Host, Url};

use super::error::TransportError;

/// The port ptvsd listens on when none is given (`ptvsd.DEFAULT_PORT`).
pub const DEFAULT_PTVSD_PORT: u16 = 5678;

/// How the adapter reaches the debuggee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain TCP straight to ptvsd's port.
    Tcp,
    /// TLS 1.2+ over TCP, to a TLS terminator in front of ptvsd.
    Tcps,
    /// WebSocket relay (binary frames carry the TCP byte stream).
    Ws,
    /// WebSocket relay over TLS (Azure App Service's `/ptvsd` proxy).
    Wss,
}

impl Scheme {
    /// The scheme as written in a URL (`"tcp"`, `"tcps"`, `"ws"`, `"wss"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Tcp => "tcp",
            Scheme::Tcps => "tcps",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }

    /// The port used when the URL names none: 5678 for tcp and tcps, 80 for ws, 443 for wss.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Tcp | Scheme::Tcps => DEFAULT_PTVSD_PORT,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// Whether the connection is wrapped in TLS (`tcps`, `wss`).
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Tcps | Scheme::Wss)
    }

    /// Whether the bytes travel inside WebSocket frames (`ws`, `wss`).
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }

    fn from_url_scheme(scheme: &str) -> Option<Self> {
        match scheme {
            "tcp" => Some(Scheme::Tcp),
            "tcps" => Some(Scheme::Tcps),
            "ws" => Some(Scheme::Ws),
            "wss" => Some(Scheme::Wss),
            _ => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ptvsd secret. `Debug` and `Display` print `***`; [`Secret::expose`] is the only way
/// to read it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret that is already decoded (not percent-encoded).
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself. Call this only where the secret is sent to the debuggee.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no secret was given (ptvsd then accepts any client that sends an empty one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the debuggee is, parsed from a URL such as `tcp://SECRET@HOST:PORT` or
/// `wss://SECRET@SITE.azurewebsites.net/ptvsd`.
///
/// `Display` and `Debug` redact the secret: `wss://***@site.azurewebsites.net/ptvsd`.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    /// Host name or IP address; IPv6 addresses without brackets.
    host: String,
    port: u16,
    /// Path and query, at least `/`. Only the WebSocket schemes send it anywhere.
    path: String,
    secret: Secret,
}

const ACCEPTED_FORMS: &str = "use tcp://SECRET@HOST[:PORT], tcps://SECRET@HOST[:PORT], \
ws://SECRET@HOST[:PORT]/PATH or wss://SECRET@HOST[:PORT]/PATH";

impl Endpoint {
    /// The address forms [`Endpoint::parse`] accepts, for messages.
    pub const ACCEPTED_FORMS: &'static str = ACCEPTED_FORMS;

    /// Parses a debuggee URL.
    ///
    /// The secret is the percent-decoded user-info: `user`, or `user:password` when the URL
    /// has a password (so `s%40cr%3At@host` gives `s@cr:t`, and `a:b@host` gives `a:b`).
    /// Default ports: 5678 for `tcp`/`tcps`, 80 for `ws`, 443 for `wss`.
    pub fn parse(input: &str) -> Result<Endpoint, TransportError> {
        let input = input.trim();
        let url = Url::parse(input).map_err(|e| TransportError::InvalidUrl { reason: e.to_string() })?;
        let scheme = match Scheme::from_url_scheme(url.scheme()) {
            Some(scheme) => scheme,
            None => {
                // Echo the scheme only when the input really has the `scheme://` shape;
                // `user:password@host` (a forgotten scheme) would otherwise print the user.
                let shown = input
                    .get(url.scheme().len()..)
                    .filter(|rest| rest.starts_with("://"))
                    .map(|_| url.scheme().to_owned());
                return Err(TransportError::UnsupportedScheme { scheme: shown });
            }
        };
        let host = match url.host() {
            None => None,
            Some(Host::Domain(name)) => {
                if name.contains('%') {
                    return Err(TransportError::InvalidUrl {
                        reason: "the host name contains characters that are not allowed".into(),
                    });
                }
                Some(name.to_owned()).filter(|name| !name.is_empty())
            }
            Some(Host::Ipv4(addr)) => Some(addr.to_string()),
            Some(Host::Ipv6(addr)) => Some(addr.to_string()),
        };
        let Some(host) = host else {
            return Err(TransportError::InvalidUrl { reason: "the address has no host name".into() });
        };
        let port = url.port().unwrap_or(scheme.default_port());
        if port == 0 {
            return Err(TransportError::InvalidUrl { reason: "port 0 cannot be connected to".into() });
        }
        let mut secret = percent_decode(url.username())?;
        if let Some(password) = url.password() {
            secret.push(':');
            secret.push_str(&percent_decode(password)?);
        }
        let mut path = url.path().to_owned();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        Ok(Endpoint { scheme, host, port, path, secret: Secret(secret) })
    }

    /// A plain `tcp://` endpoint. Brackets around an IPv6 host are removed.
    pub fn from_parts(host: impl Into<String>, port: u16, secret: Secret) -> Endpoint {
        let host = host.into();
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).map(str::to_owned).unwrap_or(host);
        Endpoint { scheme: Scheme::Tcp, host, port, path: "/".into(), secret }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (the scheme's default when the URL named none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query (at least `/`); the WebSocket schemes request it, tcp ignores it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The ptvsd secret (empty when the URL had no user-info).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The host as written in a URL: IPv6 addresses get brackets.
    pub(crate) fn host_for_url(&self) -> String {
        bracket_host(&self.host)
    }

    /// `host:port` for messages (IPv6 in brackets).
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host_for_url(), self.port)
    }

    /// The WebSocket request URI: no user-info, so the secret never enters HTTP.
    pub(crate) fn websocket_uri(&self) -> String {
        format!("{}://{}:{}{}", self.scheme.as_str(), self.host_for_url(), self.port, self.path)
    }
}

pub(crate) fn bracket_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if !self.secret.is_empty() {
            f.write_str("***@")?;
        }
        f.write_str(&self.host_for_url())?;
        // ws/wss on their standard ports read better without them; ptvsd's 5678 is
        // nobody's standard, so tcp/tcps always show the port.
        if !(self.scheme.is_websocket() && self.port == self.scheme.default_port()) {
            write!(f, ":{}", self.port)?;
        }
        if self.path != "/" {
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_decode(input: &str) -> Result<String, TransportError> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
            let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| TransportError::InvalidUrl {
        reason: "the secret (the user-info before '@') is not valid UTF-8 after percent-decoding".into(),
    })
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Endpoint {
        match Endpoint::parse(input) {
            Ok(endpoint) => endpoint,
            Err(e) => panic!("{input}: {e}"),
        }
    }

    #[test]
    fn tcp_with_port() {
        let e = parse("tcp://s3cret@127.0.0.1:5679");
        assert_eq!(e.scheme(), Scheme::Tcp);
        assert_eq!(e.host(), "127.0.0.1");
        assert_eq!(e.port(), 5679);
        assert_eq!(e.secret().expose(), "s3cret");
    }

    #[test]
    fn default_ports() {
        assert_eq!(parse("tcp://s@host").port(), 5678);
        assert_eq!(parse("tcps://s@host").port(), 5678);
        assert_eq!(parse("ws://s@host/ptvsd").port(), 80);
        assert_eq!(parse("wss://s@site.azurewebsites.net/ptvsd").port(), 443);
        // An explicit standard port is still that port.
        assert_eq!(parse("wss://s@host:443/ptvsd").port(), 443);
        assert_eq!(parse("ws://s@host:8080/x").port(), 8080);
        assert_eq!(parse("tcp://s@host:80").port(), 80);
    }

    #[test]
    fn wss_path_and_query() {
        let e = parse("wss://s@Site.AzureWebsites.net/ptvsd?a=1");
        assert_eq!(e.scheme(), Scheme::Wss);
        assert_eq!(e.host(), "site.azurewebsites.net");
        assert_eq!(e.path(), "/ptvsd?a=1");
        assert_eq!(e.websocket_uri(), "wss://site.azurewebsites.net:443/ptvsd?a=1");
        assert_eq!(parse("ws://s@h").path(), "/");
        assert_eq!(parse("tcp://s@h:1").path(), "/");
    }

    #[test]
    fn percent_decoded_secret() {
        let e = parse("tcps://s%40cr%3At@[::1]:5678");
        assert_eq!(e.secret().expose(), "s@cr:t");
        assert_eq!(e.host(), "::1");
        assert_eq!(e.authority(), "[::1]:5678");
    }

    #[test]
    fn user_and_password_form_one_secret() {
        assert_eq!(parse("tcp://user:pa%20ss@h").secret().expose(), "user:pa ss");
        assert_eq!(parse("wss://%E2%9C%93@h/p").secret().expose(), "\u{2713}");
    }

    #[test]
    fn no_secret_is_empty() {
        let e = parse("tcp://localhost:5678");
        assert!(e.secret().is_empty());
        assert_eq!(e.to_string(), "tcp://localhost:5678");
    }

    #[test]
    fn ipv6_hosts() {
        let e = parse("ws://x@[fe80::1]:9000/ptvsd");
        assert_eq!(e.host(), "fe80::1");
        assert_eq!(e.port(), 9000);
        assert_eq!(e.websocket_uri(), "ws://[fe80::1]:9000/ptvsd");
        assert_eq!(e.to_string(), "ws://***@[fe80::1]:9000/ptvsd");
        let e = parse("tcp://x@[::1]");
        assert_eq!(e.host(), "::1");
        assert_eq!(e.port(), 5678);
    }

    #[test]
    fn missing_host() {
        for input in ["tcp://", "tcp://s@:5678", "tcp:host", "wss://", "wss://s@/ptvsd"] {
            let err = Endpoint::parse(input).err();
            assert!(matches!(err, Some(TransportError::InvalidUrl { .. })), "{input}: {err:?}");
        }
    }

    #[test]
    fn bad_urls_name_the_accepted_forms() {
        for input in ["", "not a url", "tcp://h:99999", "tcp://h:0"] {
            let err = Endpoint::parse(input).err();
            assert!(matches!(err, Some(TransportError::InvalidUrl { .. })), "{input}: {err:?}");
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("tcp://SECRET@HOST[:PORT]"), "{text}");
        }
    }

    #[test]
    fn unknown_scheme() {
        let err = Endpoint::parse("https://s@host/ptvsd").err();
        match &err {
            Some(TransportError::UnsupportedScheme { scheme }) => {
                assert_eq!(scheme.as_deref(), Some("https"));
            }
            other => panic!("{other:?}"),
        }
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("https"), "{text}");
        assert!(text.contains("wss://SECRET@HOST"), "{text}");
    }

    #[test]
    fn forgotten_scheme_does_not_echo_the_user() {
        // `hunter2:x@host` parses as scheme `hunter2`; the message must not repeat it.
        let err = Endpoint::parse("hunter2:x@host:5678").err();
        assert!(matches!(err, Some(TransportError::UnsupportedScheme { scheme: None })), "{err:?}");
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn display_and_debug_redact_the_secret() {
        let inputs = [
            ("wss://s%40cr%3At@site.azurewebsites.net/ptvsd", "wss://***@site.azurewebsites.net/ptvsd"),
            ("tcp://s%40cr%3At@127.0.0.1", "tcp://***@127.0.0.1:5678"),
            ("tcps://user:s%40cr%3At@h:1", "tcps://***@h:1"),
            ("ws://s%40cr%3At@h:80/p", "ws://***@h/p"),
        ];
        for (input, shown) in inputs {
            let e = parse(input);
            let display = e.to_string();
            let debug = format!("{e:?} {e:#?} {:?} {}", e.secret(), e.secret());
            assert_eq!(display, shown);
            for text in [&display, &debug] {
                assert!(!text.contains("s@cr:t"), "{text}");
                assert!(!text.contains("s%40cr%3At"), "{text}");
                assert!(!text.contains("cr"), "{text}");
            }
        }
    }

    #[test]
    fn secret_formatting() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn from_parts_is_plain_tcp() {
        let e = Endpoint::from_parts("[::1]", 7000, Secret::new("k"));
        assert_eq!(e.scheme(), Scheme::Tcp);
        assert_eq!(e.host(), "::1");
        assert_eq!(e.port(), 7000);
        assert_eq!(e.secret().expose(), "k");
        assert_eq!(e.to_string(), "tcp://***@[::1]:7000");
    }

    #[test]
    fn invalid_utf8_secret_is_rejected() {
        let err = Endpoint::parse("tcp://%FF@h").err();
        assert!(matches!(err, Some(TransportError::InvalidUrl { .. })), "{err:?}");
    }
}
