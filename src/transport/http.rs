//! The few HTTP/1.1 exchanges the transport makes besides the WebSocket upgrade: a `GET`
//! (the App Service tunnel's status, the page a proxy answered an upgrade with) and the
//! response head of an HTTP proxy's `CONNECT`.
//!
//! Owns: writing one request, reading one response within caps ([`MAX_HEAD`],
//! [`MAX_BODY`]) with `Content-Length`, chunked or until-close bodies, and HTTP Basic
//! credentials ([`basic_credentials`]). Must not know: what the answers mean (the callers
//! do), the legacy protocol, DAP. Never logs a request: its headers may carry credentials.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest response head read.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// The most of a response body read; the rest is ignored.
pub(crate) const MAX_BODY: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

/// One response, body capped at [`MAX_BODY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why an exchange failed (the callers turn it into a sentence).
#[derive(Debug)]
pub(crate) enum HttpFailure {
    /// The server closed before a complete response head.
    Closed,
    /// Not an HTTP response, or a head over [`MAX_HEAD`].
    Malformed(String),
    Io(std::io::Error),
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpFailure::Closed => f.write_str("the server closed the connection without a complete answer"),
            HttpFailure::Malformed(detail) => write!(f, "the answer is not valid HTTP ({detail})"),
            HttpFailure::Io(error) => write!(f, "{error}"),
        }
    }
}

impl From<std::io::Error> for HttpFailure {
    fn from(error: std::io::Error) -> Self {
        HttpFailure::Io(error)
    }
}

/// `Basic base64(user:password)`, the value of an `Authorization` or
/// `Proxy-Authorization` header.
pub(crate) fn basic_credentials(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The text of a request: `METHOD TARGET HTTP/1.1`, `Host`, the given headers, and
/// `Connection: close`. Headers with a line break are left out (the upgrade request
/// reports them).
pub(crate) fn request_text(method: &str, target: &str, host: &str, headers: &[(String, String)]) -> String {
    let mut text = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ptvsd-dap\r\n");
    for (name, value) in headers {
        let clean = !name.is_empty() && !name.contains([':', '\r', '\n']) && !value.contains(['\r', '\n']);
        if clean {
            text.push_str(name);
            text.push_str(": ");
            text.push_str(value);
            text.push_str("\r\n");
        }
    }
    text.push_str("Connection: close\r\n\r\n");
    text
}

/// Reads a response head one byte at a time, so that nothing after it is consumed (after
/// a proxy's `200` to `CONNECT` the next bytes are the target's).
pub(crate) async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(u16, Vec<(String, String)>), HttpFailure> {
    let mut buffer = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    loop {
        if buffer.len() >= MAX_HEAD {
            return Err(HttpFailure::Malformed(format!("a response head longer than {MAX_HEAD} bytes")));
        }
        if stream.read(&mut byte).await? == 0 {
            return Err(HttpFailure::Closed);
        }
        buffer.push(byte[0]);
        if buffer.ends_with(b"\r\n\r\n") || buffer.ends_with(b"\n\n") {
            return parse_head(&buffer).map(|(status, headers, _)| (status, headers));
        }
    }
}

/// A parsed response head: status, headers (names lower-cased), and its length in bytes.
type Head = (u16, Vec<(String, String)>, usize);

fn parse_head(buffer: &[u8]) -> Result<Head, HttpFailure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => {
            let status = response.code.unwrap_or(0);
            let headers = response
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_string()))
                .collect();
            Ok((status, headers, length))
        }
        Ok(httparse::Status::Partial) => Err(HttpFailure::Closed),
        Err(error) => Err(HttpFailure::Malformed(error.to_string())),
    }
}

/// Sends `request` and reads the whole response (body capped).
pub(crate) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &str,
) -> Result<Response, HttpFailure> {
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let (status, headers, head_len) = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(HttpFailure::Closed);
        }
        buffer.extend_from_slice(&chunk[..read]);
        match parse_head(&buffer) {
            Ok(parsed) => break parsed,
            Err(HttpFailure::Closed) if buffer.len() < MAX_HEAD => continue,
            Err(HttpFailure::Closed) => {
                return Err(HttpFailure::Malformed(format!("a response head longer than {MAX_HEAD} bytes")))
            }
            Err(other) => return Err(other),
        }
    };
    let mut body = buffer.split_off(head_len);
    let find = |name: &str| headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let chunked = find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = find("content-length").and_then(|v| v.parse::<usize>().ok());
    // Read until the body is complete, the cap is reached, or the server closes.
    loop {
        let complete = if chunked {
            dechunk(&body).is_some()
        } else if let Some(length) = length {
            body.len() >= length
        } else {
            false
        };
        if complete || body.len() >= MAX_BODY {
            break;
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let mut body = if chunked { dechunk(&body).unwrap_or(body) } else { body };
    if let Some(length) = length {
        body.truncate(length);
    }
    body.truncate(MAX_BODY);
    Ok(Response { status, headers, body })
}

/// The body of a complete chunked encoding; `None` while incomplete.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(basic_credentials("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[tokio::test]
    async fn reads_content_length_chunked_and_until_close_bodies() {
        for (wire, body) in [
            (&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA"[..], &b"hello"[..]),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\n\r\n", b"hello"),
            (b"HTTP/1.0 200 OK\r\n\r\nhello", b"hello"),
        ] {
            let (mut client, mut server) = tokio::io::duplex(4096);
            let wire = wire.to_vec();
            let task = tokio::spawn(async move {
                let mut request = [0u8; 512];
                let _ = server.read(&mut request).await;
                server.write_all(&wire).await.ok();
            });
            let response = exchange(&mut client, "GET / HTTP/1.1\r\n\r\n").await.map_err(|e| e.to_string());
            let _ = task.await;
            assert_eq!(response.map(|r| (r.status, r.body)), Ok((200, body.to_vec())));
        }
    }

    #[tokio::test]
    async fn read_head_leaves_what_follows() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        server.write_all(b"HTTP/1.1 200 Connection established\r\nX: y\r\n\r\nPTVSDBG").await.ok();
        let (status, headers) = read_head(&mut client).await.map_err(|e| e.to_string()).unwrap_or_default();
        assert_eq!(status, 200);
        assert_eq!(headers, vec![("x".to_string(), "y".to_string())]);
        let mut rest = [0u8; 7];
        client.read_exact(&mut rest).await.ok();
        assert_eq!(&rest, b"PTVSDBG");
    }

    #[test]
    fn request_text_drops_headers_with_line_breaks() {
        let text =
            request_text("GET", "/x", "h:1", &[("A".into(), "b".into()), ("C".into(), "d\r\nInjected: 1".into())]);
        assert!(text.starts_with("GET /x HTTP/1.1\r\nHost: h:1\r\n"), "{text}");
        assert!(text.contains("A: b\r\n") && !text.contains("Injected"), "{text}");
    }
}
