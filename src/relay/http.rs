//! The HTTP/1.1 side of the relay: read one request head, then either complete the
//! WebSocket upgrade (RFC 6455 §4.2) or answer with the info page, 405 or 400.
//!
//! We do the upgrade ourselves instead of calling tungstenite's `accept`, because
//! tungstenite cannot answer a request that is not an upgrade, and a bad upgrade should get
//! a status line rather than a dropped connection.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The largest request head we read. Browsers send a few hundred bytes; Azure's front end
/// adds a few headers; 16 KiB is far above either.
pub(super) const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// One parsed request head, owned.
#[derive(Debug)]
pub(super) struct Head {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// Header names lower-cased; values as sent (lossy UTF-8).
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Whether a comma-separated header contains `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    }

    /// The path without the query (the query may carry things we should not log).
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("/")
    }
}

#[derive(Debug)]
pub(super) enum HeadError {
    /// The peer closed before sending a complete head (port scanners, health checks).
    Eof,
    TooLarge,
    Malformed(httparse::Error),
    Io(std::io::Error),
}

/// Reads until the end of the request head. Returns the head and any bytes after it (a
/// client may pipeline its first WebSocket frame behind the upgrade request).
pub(super) async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(Head, Vec<u8>), HeadError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let room = MAX_HEAD.saturating_sub(buffer.len()).min(chunk.len());
        if room == 0 {
            return Err(HeadError::TooLarge);
        }
        let read = stream.read(&mut chunk[..room]).await.map_err(HeadError::Io)?;
        if read == 0 {
            return Err(HeadError::Eof);
        }
        buffer.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buffer) {
            Ok(httparse::Status::Complete(length)) => {
                let head = Head {
                    method: request.method.unwrap_or("").to_string(),
                    target: request.path.unwrap_or("/").to_string(),
                    minor_version: request.version.unwrap_or(0),
                    headers: request
                        .headers
                        .iter()
                        .map(|header| {
                            (header.name.to_ascii_lowercase(), String::from_utf8_lossy(header.value).into_owned())
                        })
                        .collect(),
                };
                let rest = buffer.get(length..).map(<[u8]>::to_vec).unwrap_or_default();
                return Ok((head, rest));
            }
            Ok(httparse::Status::Partial) => continue,
            Err(error) => return Err(HeadError::Malformed(error)),
        }
    }
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// A valid WebSocket upgrade: send this 101 response, then speak WebSocket.
    Upgrade { response: String },
    /// Anything else: send this response and close.
    Reply(Reply),
}

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Reply {
    pub status: u16,
    pub reason: &'static str,
    pub extra_headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: String,
    /// False for HEAD: headers (with the body's length) but no body.
    pub send_body: bool,
}

impl Reply {
    fn text(status: u16, reason: &'static str, body: impl Into<String>) -> Reply {
        let mut body = body.into();
        body.push('\n');
        Reply {
            status,
            reason,
            extra_headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body,
            send_body: true,
        }
    }

    pub fn bad_request(message: &str) -> Reply {
        Reply::text(400, "Bad Request", message)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256 + self.body.len());
        let _ = write!(out, "HTTP/1.1 {} {}\r\n", self.status, self.reason);
        let _ = write!(out, "Server: ptvsd-dap-relay\r\n");
        let _ = write!(out, "Content-Type: {}\r\n", self.content_type);
        let _ = write!(out, "Content-Length: {}\r\n", self.body.len());
        let _ = write!(out, "Cache-Control: no-store\r\n");
        let _ = write!(out, "X-Content-Type-Options: nosniff\r\n");
        let _ = write!(out, "Connection: close\r\n");
        for (name, value) in &self.extra_headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.push_str("\r\n");
        if self.send_body {
            out.push_str(&self.body);
        }
        out.into_bytes()
    }
}

/// What the info page needs to know besides the request.
pub(super) struct PageContext<'a> {
    /// `ws` or `wss`.
    pub scheme: &'static str,
    /// The address we listen on, used when the request has no `Host` header.
    pub local: std::net::SocketAddr,
    /// The `host:port` we relay to.
    pub target: &'a str,
}

/// Decides what to do with a request head.
pub(super) fn route(head: &Head, page: &PageContext<'_>) -> Route {
    if head.has_token("upgrade", "websocket") {
        return upgrade(head);
    }
    match head.method.as_str() {
        "GET" => Route::Reply(info_page(head, page, true)),
        "HEAD" => Route::Reply(info_page(head, page, false)),
        _ => {
            let mut reply = Reply::text(
                405,
                "Method Not Allowed",
                "This is a ptvsd-dap relay: GET shows an info page, GET with a WebSocket upgrade opens a tunnel.",
            );
            reply.extra_headers.push(("Allow", "GET, HEAD".to_string()));
            Route::Reply(reply)
        }
    }
}

fn upgrade(head: &Head) -> Route {
    if head.method != "GET" {
        let mut reply = Reply::text(405, "Method Not Allowed", "A WebSocket upgrade must use GET.");
        reply.extra_headers.push(("Allow", "GET, HEAD".to_string()));
        return Route::Reply(reply);
    }
    if head.minor_version < 1 {
        return Route::Reply(Reply::bad_request("A WebSocket upgrade needs HTTP/1.1."));
    }
    if !head.has_token("connection", "upgrade") {
        return Route::Reply(Reply::bad_request("A WebSocket upgrade needs `Connection: Upgrade`."));
    }
    if head.header("sec-websocket-version").map(str::trim) != Some("13") {
        let mut reply = Reply::text(426, "Upgrade Required", "Only WebSocket version 13 is supported.");
        reply.extra_headers.push(("Sec-WebSocket-Version", "13".to_string()));
        return Route::Reply(reply);
    }
    let key = match head.header("sec-websocket-key").map(str::trim) {
        Some(key) if is_valid_key(key) => key,
        _ => return Route::Reply(Reply::bad_request("A WebSocket upgrade needs a valid `Sec-WebSocket-Key`.")),
    };
    let mut response = String::with_capacity(256);
    response.push_str("HTTP/1.1 101 Switching Protocols\r\n");
    response.push_str("Server: ptvsd-dap-relay\r\n");
    response.push_str("Upgrade: websocket\r\n");
    response.push_str("Connection: Upgrade\r\n");
    let _ = write!(response, "Sec-WebSocket-Accept: {}\r\n", derive_accept_key(key.as_bytes()));
    // Like websockify: select `binary` when offered; otherwise select none (the tunnel
    // needs no subprotocol; Azure's proxy and PTVS use none).
    if head.has_token("sec-websocket-protocol", "binary") {
        response.push_str("Sec-WebSocket-Protocol: binary\r\n");
    }
    response.push_str("\r\n");
    Route::Upgrade { response }
}

/// RFC 6455: the key is the base64 of 16 bytes, i.e. 22 base64 characters and `==`.
fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == 24
        && bytes.ends_with(b"==")
        && bytes[..22].iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/')
}

fn info_page(head: &Head, page: &PageContext<'_>, send_body: bool) -> Reply {
    let local = page.local.to_string();
    let host = head.header("host").map(str::trim).filter(|host| !host.is_empty()).unwrap_or(&local);
    let path = match head.path() {
        "" | "/" => "/ptvsd",
        path => path,
    };
    let example = format!("{}://SECRET@{}{}", page.scheme, escape(host), escape(path));
    let target = escape(page.target);
    let body = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>ptvsd-dap relay</title></head>
<body>
<h1>ptvsd-dap relay</h1>
<p>This endpoint relays WebSocket connections to a Python process running the legacy
ptvsd 2.x/3.x debugger at <code>{target}</code>, like the <code>/ptvsd</code> endpoint of
Azure App Service. It is a byte pipe: it accepts binary WebSocket messages on any path and
knows nothing of the debugger's protocol.</p>
<p>To attach, give ptvsd-dap (or Visual Studio's Python tools) a URL of the form</p>
<pre>ws(s)://SECRET@HOST:PORT/PATH</pre>
<p>for this relay, for example</p>
<pre>{example}</pre>
<p>where <code>SECRET</code> is the secret the debuggee passed to
<code>ptvsd.enable_attach()</code>. Any path works.</p>
</body>
</html>
"#
    );
    Reply {
        status: 200,
        reason: "OK",
        extra_headers: Vec::new(),
        content_type: "text/html; charset=utf-8",
        body,
        send_body,
    }
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            ch if ch.is_control() => out.push('\u{fffd}'),
            ch => out.push(ch),
        }
    }
    out
}

/// Sends a reply, then closes politely: shut down our side, and discard what the client
/// still sends (a request body) for a moment, so that closing with unread data does not
/// reset the connection before the client has read the reply.
pub(super) async fn send_reply<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reply: &Reply,
) -> std::io::Result<()> {
    stream.write_all(&reply.to_bytes()).await?;
    stream.flush().await?;
    stream.shutdown().await?;
    let discard = async {
        let mut sink = [0u8; 4096];
        let mut total = 0usize;
        while total < 1024 * 1024 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(read) => total += read,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), discard).await;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let status = request.parse(text.as_bytes()).unwrap();
        assert!(status.is_complete());
        Head {
            method: request.method.unwrap().to_string(),
            target: request.path.unwrap().to_string(),
            minor_version: request.version.unwrap(),
            headers: request
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                .collect(),
        }
    }

    fn page() -> PageContext<'static> {
        PageContext { scheme: "wss", local: "127.0.0.1:8443".parse().unwrap(), target: "127.0.0.1:5678" }
    }

    const UPGRADE: &str = "GET /any/path?x=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    #[test]
    fn upgrade_gets_the_rfc_accept_key() {
        let Route::Upgrade { response } = route(&head(UPGRADE), &page()) else { panic!("not an upgrade") };
        assert!(response.starts_with("HTTP/1.1 101 "));
        // The example from RFC 6455 §1.3.
        assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(!response.contains("Sec-WebSocket-Protocol"));
    }

    #[test]
    fn binary_subprotocol_is_selected_when_offered() {
        let text = UPGRADE.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat, binary\r\n\r\n");
        let Route::Upgrade { response } = route(&head(&text), &page()) else { panic!("not an upgrade") };
        assert!(response.contains("Sec-WebSocket-Protocol: binary\r\n"));
    }

    #[test]
    fn bad_upgrades_get_a_status() {
        let cases = [
            (UPGRADE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), 400),
            (UPGRADE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Key: short"), 400),
            (UPGRADE.replace("Version: 13", "Version: 8"), 426),
            (UPGRADE.replace("keep-alive, Upgrade", "keep-alive"), 400),
            (UPGRADE.replace("HTTP/1.1", "HTTP/1.0"), 400),
            (UPGRADE.replace("GET ", "POST "), 405),
        ];
        for (text, status) in cases {
            let Route::Reply(reply) = route(&head(&text), &page()) else { panic!("upgraded: {text}") };
            assert_eq!(reply.status, status, "{text}");
        }
    }

    #[test]
    fn info_page_shows_the_url_form_and_escapes_the_host() {
        let text = "GET /ptvsd?secret=x HTTP/1.1\r\nHost: <evil>:1\r\n\r\n";
        let Route::Reply(reply) = route(&head(text), &page()) else { panic!("upgraded") };
        assert_eq!(reply.status, 200);
        assert!(reply.body.contains("ws(s)://SECRET@HOST:PORT/PATH"));
        assert!(reply.body.contains("wss://SECRET@&lt;evil&gt;:1/ptvsd</pre>"));
        assert!(reply.body.contains("127.0.0.1:5678"));
        assert!(!reply.body.contains("secret=x"));
        let bytes = String::from_utf8(reply.to_bytes()).unwrap();
        assert!(bytes.contains(&format!("Content-Length: {}\r\n", reply.body.len())));
    }

    #[test]
    fn info_page_without_host_uses_the_local_address() {
        let Route::Reply(reply) = route(&head("GET / HTTP/1.0\r\n\r\n"), &page()) else { panic!("upgraded") };
        assert!(reply.body.contains("wss://SECRET@127.0.0.1:8443/ptvsd"));
    }

    #[test]
    fn head_has_no_body_and_other_methods_get_405() {
        let Route::Reply(reply) = route(&head("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), &page()) else { panic!() };
        let bytes = String::from_utf8(reply.to_bytes()).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 200 OK\r\n") && bytes.ends_with("\r\n\r\n"));
        let Route::Reply(reply) = route(&head("DELETE / HTTP/1.1\r\nHost: h\r\n\r\n"), &page()) else { panic!() };
        assert_eq!(reply.status, 405);
        assert!(reply.extra_headers.contains(&("Allow", "GET, HEAD".to_string())));
    }

    #[tokio::test]
    async fn read_head_keeps_pipelined_bytes_and_rejects_oversize_heads() {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n\x82\x01";
        let (head, rest) = read_head(&mut input).await.unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(rest, b"\x82\x01");

        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let mut input = big.as_bytes();
        assert!(matches!(read_head(&mut input).await, Err(HeadError::TooLarge)));

        let mut input: &[u8] = b"GET / HTTP/1.1\r\nHo";
        assert!(matches!(read_head(&mut input).await, Err(HeadError::Eof)));

        let mut input: &[u8] = b"\x16\x03\x01\x00\x05hello\r\n\r\n";
        assert!(matches!(read_head(&mut input).await, Err(HeadError::Malformed(_))));
    }
}
