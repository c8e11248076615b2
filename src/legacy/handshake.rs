//! The connection handshake: dialect detection, version echo, secret, then INFO or ATCH.
//!
//! Owns: [`HandshakeError`] (one actionable sentence per way an attach can fail),
//! [`ProcessInfo`], [`AttachInfo`] and the two entry points [`info`] and [`attach`].
//! The server speaks first (spec §1.4): `PTVSDBG` + version selects the binary dialect,
//! `Content-Length:` the JSON one. After a successful attach the same byte stream, with
//! any bytes already read, is handed over framed by a [`ClientCodec`].
//!
//! Must not know: DAP, or which transport carries the bytes. It never logs the secret.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde_json::{json, Value};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::codec::{Decoder, Framed, FramedParts};

use super::codec::{ClientCodec, Dialect};
use super::error::ProtocolError;
use super::json;
use super::messages::Event;
use super::wire::{put_cstr, put_i64, Limits, Reader, Stop};

const SIGNATURE: &[u8; 7] = b"PTVSDBG";
const JSON_GREETING: &[u8] = b"Content";
/// The binary version we echo when the server's is one we do not speak: the server then
/// sees a mismatch and closes cleanly instead of waiting for a secret.
const FALLBACK_BINARY_VERSION: i64 = 6;
const FALLBACK_JSON_VERSION: i64 = 8;
/// After an accepted attach: how long a pause in ptvsd's burst of thread and module
/// reports means the burst is over (see [`Handshake::settle`]).
const SETTLE_QUIET: Duration = Duration::from_millis(150);
/// The longest [`Handshake::settle`] waits, however long the burst goes on.
const SETTLE_MAX: Duration = Duration::from_secs(2);

/// Who the debuggee says it is (`INFO` / `legacyRemoteDebuggerInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: i64,
    pub executable: String,
    pub user: String,
    /// E.g. `CPython 3.11.7 (Linux 64-bit)`.
    pub python_version: String,
}

/// The debuggee's Python version as the attach reply reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PythonVersion {
    pub major: i64,
    pub minor: i64,
    pub micro: i64,
}

impl std::fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// The accepted attach (`ACPT` + pid + version / `accepted: true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachInfo {
    pub pid: i64,
    pub python: PythonVersion,
}

/// A live debug session: the stream framed with the dialect's codec.
pub struct Attached<S> {
    pub dialect: Dialect,
    pub info: AttachInfo,
    pub framed: Framed<S, ClientCodec>,
}

impl<S> std::fmt::Debug for Attached<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached").field("dialect", &self.dialect).field("info", &self.info).finish_non_exhaustive()
    }
}

/// Why a handshake failed, as a sentence the user can act on.
#[derive(Debug, Error)]
pub enum HandshakeError {
    #[error("the debuggee accepted the connection but sent nothing within {seconds} s. ptvsd's single accept thread may be busy with another client (or wedged by an earlier broken handshake: restart the app), the port may be ptvsd's TLS listener (--certfile; use a TLS terminator and tcps://), or the server is not ptvsd 2.x/3.x (ptvsd 4+ and debugpy speak DAP directly)")]
    NoGreeting { seconds: u64 },

    #[error("the server does not speak the ptvsd debugger protocol: it began with {start:?}{hint}")]
    NotPtvsd { start: String, hint: &'static str },

    #[error("the debuggee speaks ptvsd {family} protocol version {version}, which ptvsd-dap does not support; supported: 2, 4, 6 (binary: ptvsd 2.0 to 3.0) and 7, 8 (JSON: ptvsd 3.1 and 3.2)")]
    UnsupportedVersion { family: &'static str, version: i64 },

    #[error("the debuggee rejected the secret: check the secret in the URL (on Azure App Service it is the WSGI_PTVSD_SECRET value in web.debug.config)")]
    WrongSecret,

    #[error("the debuggee requires a secret, and the URL carried none: put it before the host, as tcp://SECRET@HOST:PORT or wss://SECRET@SITE/ptvsd (on Azure App Service it is the WSGI_PTVSD_SECRET value in web.debug.config)")]
    NoSecret,

    #[error("another debugger is already attached to this process (Visual Studio, or an earlier session that did not detach); detach it, or restart the app")]
    AlreadyAttached,

    #[error("the debuggee closed the connection {stage}; attach again if the app is still running, and restart the app if this keeps happening")]
    Closed { stage: &'static str },

    #[error("the debuggee stopped answering {stage} (no reply within {seconds} s)")]
    Timeout { stage: &'static str, seconds: u64 },

    #[error("the debuggee refused the request {stage}: {message}")]
    Refused { stage: &'static str, message: String },

    /// The greeting contradicted the expected dialect the requests went out for (or the
    /// server closed before greeting): attach again on a new connection without one.
    #[error("the debuggee does not speak the protocol it spoke last time (it now greets as {}); attach again", found.map_or("nothing".to_owned(), |d| format!("{} version {}", d.family(), d.version())))]
    Unexpected { found: Option<Dialect> },

    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

impl From<std::io::Error> for HandshakeError {
    fn from(error: std::io::Error) -> Self {
        HandshakeError::Protocol(ProtocolError::Io(error))
    }
}

/// Connects far enough to ask who the debuggee is, then closes promptly (the accept
/// thread is blocked until we do).
pub async fn info<S>(
    stream: S,
    secret: &str,
    limits: Limits,
    timeout: Duration,
) -> Result<(Dialect, ProcessInfo), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hs = Handshake::new(stream, limits, timeout);
    let dialect = hs.greeting().await?;
    let info = match dialect {
        Dialect::Binary { version } => {
            // The server reads the echo, the secret and the command with exact-length
            // reads, so all three go in one write (one round trip fewer on a slow link).
            let mut out = binary_authentication(version, secret);
            out.extend_from_slice(b"INFO");
            hs.send(&out, "checking the secret").await?;
            hs.binary_secret_reply(secret).await?;
            let info = hs.binary_info().await?;
            // v4/v6 wait for a byte or a close: the caller drops the stream at once, so the
            // accept thread moves on.
            info
        }
        Dialect::Json { version } => {
            // ptvsd's handshake reader buffers its reads and handles the requests in
            // order, so the request follows the authentication in the same write.
            let (authenticate, mut out) = json_authentication(&mut hs.next_seq, version, secret);
            let request = json_queue(&mut hs.next_seq, &mut out, "legacyRemoteDebuggerInfo", json!({}));
            hs.send(&out, "checking the secret").await?;
            hs.json_authenticated(authenticate, secret).await?;
            let body = hs.json_response(request, "asking for process information").await?;
            ProcessInfo {
                pid: int_field(&body, "processId")?,
                executable: str_field(&body, "executable"),
                user: str_field(&body, "user"),
                python_version: str_field(&body, "pythonVersion"),
            }
        }
    };
    Ok((dialect, info))
}

/// Connects, authenticates and attaches with the given debug options (spec §2.3).
pub async fn attach<S>(
    stream: S,
    secret: &str,
    debug_options: &str,
    limits: Limits,
    timeout: Duration,
) -> Result<Attached<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    attach_expecting(stream, secret, debug_options, limits, timeout, None).await
}

/// [`attach`], with the dialect the server is expected to speak. A JSON expectation sends
/// authenticate + attach at once, before the greeting is read (the server then answers
/// greeting and both responses together: two round trips fewer); the greeting must then
/// say the same JSON version, else [`HandshakeError::Unexpected`]: the caller closes this
/// connection and attaches again with [`attach`]. That is safe only for the JSON requests:
/// a binary server that reads anything but `PTVSDBG` closes silently and keeps accepting,
/// a JSON server of the other version refuses the authentication and closes (spec §1.4,
/// §2.1, §2.2). A binary expectation changes nothing (binary bytes never go out early).
pub async fn attach_expecting<S>(
    stream: S,
    secret: &str,
    debug_options: &str,
    limits: Limits,
    timeout: Duration,
    expected: Option<Dialect>,
) -> Result<Attached<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hs = Handshake::new(stream, limits, timeout);
    let early = match expected {
        Some(dialect @ Dialect::Json { version }) if dialect.is_supported() => Some(version),
        _ => None,
    };
    let mut sent = None;
    if let Some(version) = early {
        let requests = json_authenticate_and_attach(&mut hs.next_seq, version, secret, debug_options);
        match hs.send(&requests.2, "checking the secret").await {
            Ok(()) => sent = Some((requests.0, requests.1)),
            Err(HandshakeError::Protocol(ProtocolError::Io(_))) => {
                return Err(HandshakeError::Unexpected { found: None })
            }
            Err(other) => return Err(other),
        }
    }
    let dialect = match hs.greeting().await {
        Ok(dialect) => dialect,
        // A server that closed (or reset) before or during its greeting may be a binary
        // one that read our JSON: the plain handshake on a new connection tells.
        Err(HandshakeError::Closed { .. } | HandshakeError::Protocol(ProtocolError::Io(_))) if early.is_some() => {
            return Err(HandshakeError::Unexpected { found: None })
        }
        Err(error) => return Err(error),
    };
    if let Some(version) = early {
        if dialect != (Dialect::Json { version }) {
            // The server is answering our requests (JSON of the other version: a refusal)
            // or closing (binary). Closing first would make its answer fail, and ptvsd
            // 3.1 then lets that error end its accept thread: wait for its close.
            hs.wait_for_close().await;
            return Err(HandshakeError::Unexpected { found: Some(dialect) });
        }
    }
    let info = match dialect {
        Dialect::Binary { version } => {
            // Echo, secret and ATCH in one write: the server reads each with an
            // exact-length read (after RJCT it closes without reading the rest).
            let mut out = binary_authentication(version, secret);
            out.extend_from_slice(b"ATCH");
            // v2/v4 read no options: sending them would be taken as the first command.
            if version >= 6 {
                put_cstr(&mut out, debug_options);
            }
            hs.send(&out, "checking the secret").await?;
            hs.binary_secret_reply(secret).await?;
            hs.binary_attach_reply().await?
        }
        Dialect::Json { version } => {
            // Authenticate and attach in one write: ptvsd's handshake reader buffers its
            // reads and handles them in order (after a refused secret it closes without
            // reading on). Nothing may follow the attach until its response arrives
            // (spec §2.2): requests pipelined behind it are silently lost.
            let (authenticate, attach) = match sent {
                Some(seqs) => seqs,
                None => {
                    let (authenticate, attach, out) =
                        json_authenticate_and_attach(&mut hs.next_seq, version, secret, debug_options);
                    hs.send(&out, "checking the secret").await?;
                    (authenticate, attach)
                }
            };
            hs.json_authenticated(authenticate, secret).await?;
            let body = hs.json_response(attach, "attaching").await?;
            if body.get("accepted").and_then(Value::as_bool) != Some(true) {
                return Err(HandshakeError::AlreadyAttached);
            }
            AttachInfo {
                pid: int_field(&body, "processId")?,
                python: PythonVersion {
                    major: int_field(&body, "pythonMajor")?,
                    minor: int_field(&body, "pythonMinor")?,
                    micro: int_field(&body, "pythonMicro")?,
                },
            }
        }
    };
    hs.settle(dialect).await;
    let codec = ClientCodec::new(dialect, limits, hs.next_seq);
    let mut parts = FramedParts::new::<super::messages::Command>(hs.stream, codec);
    parts.read_buf = hs.buf;
    Ok(Attached { dialect, info, framed: Framed::from_parts(parts) })
}

struct Handshake<S> {
    stream: S,
    buf: BytesMut,
    limits: Limits,
    timeout: Duration,
    deadline: Instant,
    next_seq: i64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Handshake<S> {
    fn new(stream: S, limits: Limits, timeout: Duration) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(4096),
            limits,
            timeout,
            deadline: Instant::now() + timeout,
            next_seq: 1,
        }
    }

    fn seconds(&self) -> u64 {
        self.timeout.as_secs().max(1)
    }

    /// Reads more bytes; `Ok(false)` at end of stream.
    async fn read_more(&mut self, stage: &'static str) -> Result<bool, HandshakeError> {
        let read = tokio::time::timeout_at(self.deadline, self.stream.read_buf(&mut self.buf)).await;
        match read {
            Err(_) if stage == "greeting" => Err(HandshakeError::NoGreeting { seconds: self.seconds() }),
            Err(_) => Err(HandshakeError::Timeout { stage, seconds: self.seconds() }),
            Ok(Ok(0)) => Ok(false),
            Ok(Ok(_)) => Ok(true),
            // The requests go out together (see `attach`): a server that closes after
            // reading only the first leaves the rest unread, and its kernel answers them
            // with a reset. That is the same close, and says the same to the user.
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionReset => Ok(false),
            Ok(Err(error)) => Err(error.into()),
        }
    }

    async fn fill(&mut self, need: usize, stage: &'static str, closed: &'static str) -> Result<(), HandshakeError> {
        while self.buf.len() < need {
            if !self.read_more(stage).await? {
                return Err(HandshakeError::Closed { stage: closed });
            }
        }
        Ok(())
    }

    /// Writes `bytes`, within the same deadline as the reads: a server that stops reading
    /// (a full socket buffer) must not hold the handshake past its timeout.
    async fn send(&mut self, bytes: &[u8], stage: &'static str) -> Result<(), HandshakeError> {
        let stream = &mut self.stream;
        let write = async move {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout_at(self.deadline, write).await {
            Ok(written) => Ok(written?),
            Err(_) => Err(HandshakeError::Timeout { stage, seconds: self.seconds() }),
        }
    }

    /// Reads and drops whatever comes until the server closes (or the handshake's deadline,
    /// at most [`SETTLE_MAX`] from now).
    async fn wait_for_close(&mut self) {
        let until = self.deadline.min(Instant::now() + SETTLE_MAX);
        loop {
            self.buf.clear();
            match tokio::time::timeout_at(until, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => continue,
                _ => return,
            }
        }
    }

    /// Detects the dialect from the first bytes (spec §1.4).
    async fn greeting(&mut self) -> Result<Dialect, HandshakeError> {
        while self.buf.len() < SIGNATURE.len() {
            if !self.read_more("greeting").await? {
                if self.buf.is_empty() {
                    return Err(HandshakeError::Closed { stage: "before saying anything (another debugger may be connecting, or the port belongs to something else)" });
                }
                if SIGNATURE.starts_with(&self.buf) || JSON_GREETING.starts_with(&self.buf) {
                    return Err(HandshakeError::Closed { stage: "in the middle of its greeting" });
                }
                break;
            }
            if !SIGNATURE.starts_with(&self.buf) && !JSON_GREETING.starts_with(&self.buf) {
                break;
            }
        }
        if self.buf.starts_with(SIGNATURE) {
            self.fill(15, "greeting", "in the middle of its greeting").await?;
            let version = i64::from_be_bytes(array8(&self.buf[7..15]));
            self.buf.advance(15);
            let dialect = Dialect::Binary { version };
            if !dialect.is_supported() {
                // Echo a version it will refuse, so it closes cleanly.
                let mut out = BytesMut::from(&SIGNATURE[..]);
                put_i64(&mut out, FALLBACK_BINARY_VERSION);
                let _ = self.send(&out, "greeting").await;
                return Err(HandshakeError::UnsupportedVersion { family: "binary", version });
            }
            return Ok(dialect);
        }
        if self.buf.starts_with(JSON_GREETING) {
            let event = self.json_frame("greeting").await?;
            let version = event.pointer("/body/debuggerProtocolVersion").and_then(Value::as_i64).ok_or_else(|| {
                ProtocolError::Malformed { detail: "the greeting has no debuggerProtocolVersion".into() }
            })?;
            let dialect = Dialect::Json { version };
            if event.get("event").and_then(Value::as_str) != Some("legacyRemoteConnected") {
                return Err(ProtocolError::Malformed {
                    detail: "the first JSON message is not legacyRemoteConnected".into(),
                }
                .into());
            }
            if !dialect.is_supported() {
                let _ = self.json_send("greeting", "legacyRemoteDebuggerAuthenticate", json!({
                    "debuggerName": "PTVSDBG", "debuggerProtocolVersion": FALLBACK_JSON_VERSION, "clientSecret": ""
                })).await;
                return Err(HandshakeError::UnsupportedVersion { family: "JSON", version });
            }
            return Ok(dialect);
        }
        let start: String =
            self.buf.iter().take(16).flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect();
        let hint = if self.buf.starts_with(b"HTTP/") {
            "; an HTTP server answered: for a WebSocket proxy use ws:// or wss://"
        } else if self.buf.first() == Some(&0x16) || self.buf.first() == Some(&0x15) {
            "; it looks like TLS: use tcps:// or wss://"
        } else {
            ""
        };
        Err(HandshakeError::NotPtvsd { start, hint })
    }

    /// Waits until ptvsd has finished accepting the attach, keeping every byte read.
    ///
    /// ptvsd (2.2 to 3.2, both dialects) starts its command loop, then reports every
    /// thread (`NEWT`) and module (`MODL`), and only then marks itself attached
    /// (`DETACHED = False` at the end of `attach_process_from_socket`). A detach that the
    /// command loop runs before that is undone by it, and ptvsd then refuses every later
    /// attach as "already attached" until the app restarts. So the attach counts as
    /// complete once that burst is over: when an event other than a thread or module
    /// report (or v8's "modules changed") arrives (the attach break, output: both come only after it), or nothing
    /// arrives for [`SETTLE_QUIET`], or after [`SETTLE_MAX`]. Anything unexpected (an
    /// error, the end of the stream) also ends the wait; the session then reports it.
    async fn settle(&mut self, dialect: Dialect) {
        let mut scan = self.buf.clone();
        let mut codec = ClientCodec::new(dialect, self.limits, self.next_seq);
        // Part of the attach: it fits in the handshake's own deadline too.
        let give_up = self.deadline.min(Instant::now() + SETTLE_MAX);
        loop {
            loop {
                match codec.decode(&mut scan) {
                    Ok(Some(Event::ThreadCreate { .. } | Event::ModuleLoad { .. } | Event::ModulesChanged)) => continue,
                    Ok(None) => break,
                    Ok(Some(_)) | Err(_) => return,
                }
            }
            let until = give_up.min(Instant::now() + SETTLE_QUIET);
            let before = self.buf.len();
            match tokio::time::timeout_at(until, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => scan.extend_from_slice(&self.buf[before..]),
                _ => return,
            }
        }
    }

    /// Reads ACPT or RJCT, the server's verdict on the echo and the secret.
    async fn binary_secret_reply(&mut self, secret: &str) -> Result<(), HandshakeError> {
        self.fill(4, "checking the secret", "after receiving the secret (wrong protocol version?)").await?;
        let reply = self.buf.split_to(4);
        match &reply[..] {
            b"ACPT" => Ok(()),
            b"RJCT" => Err(rejected(secret)),
            other => Err(ProtocolError::Malformed {
                detail: format!("expected ACPT or RJCT after the secret, got {:?}", String::from_utf8_lossy(other)),
            }
            .into()),
        }
    }

    /// Parses a binary reply with `parse`, reading until it is complete.
    async fn binary_reply<T>(
        &mut self,
        stage: &'static str,
        mut parse: impl FnMut(&mut Reader<'_>) -> Result<T, Stop>,
    ) -> Result<T, HandshakeError> {
        loop {
            let mut reader = Reader::new(&self.buf, self.limits);
            match parse(&mut reader) {
                Ok(value) => {
                    let used = reader.position();
                    self.buf.advance(used);
                    return Ok(value);
                }
                Err(Stop::Invalid(error)) => return Err(error.into()),
                Err(Stop::NeedBytes(_)) => {
                    if !self.read_more(stage).await? {
                        return Err(HandshakeError::Closed { stage });
                    }
                }
            }
        }
    }

    async fn binary_info(&mut self) -> Result<ProcessInfo, HandshakeError> {
        self.binary_reply("while answering INFO", |r| {
            Ok(ProcessInfo {
                pid: r.i64()?,
                executable: r.sstr_or_empty("executable")?,
                user: r.sstr_or_empty("user name")?,
                python_version: r.sstr_or_empty("Python version")?,
            })
        })
        .await
    }

    async fn binary_attach_reply(&mut self) -> Result<AttachInfo, HandshakeError> {
        self.fill(4, "attaching", "while attaching").await?;
        if self.buf.starts_with(b"RJCT") {
            return Err(HandshakeError::AlreadyAttached);
        }
        if !self.buf.starts_with(b"ACPT") {
            return Err(ProtocolError::Malformed {
                detail: format!("expected ACPT or RJCT after ATCH, got {:?}", String::from_utf8_lossy(&self.buf[..4])),
            }
            .into());
        }
        self.binary_reply("while attaching", |r| {
            r.tag()?;
            Ok(AttachInfo {
                pid: r.i64()?,
                python: PythonVersion { major: r.i64()?, minor: r.i64()?, micro: r.i64()? },
            })
        })
        .await
    }

    async fn json_frame(&mut self, stage: &'static str) -> Result<Value, HandshakeError> {
        loop {
            if let Some(value) = json::decode_frame(&mut self.buf, &self.limits)? {
                return Ok(value);
            }
            if !self.read_more(stage).await? {
                return Err(HandshakeError::Closed { stage: closed_while(stage) });
            }
        }
    }

    async fn json_send(&mut self, stage: &'static str, command: &str, arguments: Value) -> Result<i64, HandshakeError> {
        let mut out = BytesMut::new();
        let seq = json_queue(&mut self.next_seq, &mut out, command, arguments);
        self.send(&out, stage).await?;
        Ok(seq)
    }

    /// Waits for the response to request `seq` (already sent) and returns its body.
    async fn json_response(&mut self, seq: i64, stage: &'static str) -> Result<Value, HandshakeError> {
        loop {
            let message = self.json_frame(stage).await?;
            if message.get("type").and_then(Value::as_str) != Some("response")
                || message.get("request_seq").and_then(Value::as_i64) != Some(seq)
            {
                continue;
            }
            if message.get("success").and_then(Value::as_bool) != Some(true) {
                let text = message.get("message").and_then(Value::as_str).unwrap_or("no reason given");
                return Err(HandshakeError::Refused { stage, message: first_line(text) });
            }
            return Ok(message.get("body").cloned().unwrap_or(Value::Null));
        }
    }

    /// Waits for the verdict on the authentication request `seq`.
    async fn json_authenticated(&mut self, seq: i64, secret: &str) -> Result<(), HandshakeError> {
        let body = self.json_response(seq, "checking the secret").await?;
        // `success: true` does not mean accepted (spec §2.2).
        if body.get("accepted").and_then(Value::as_bool) == Some(true) {
            Ok(())
        } else {
            Err(rejected(secret))
        }
    }
}

/// A rejected secret: wrong, or missing altogether.
fn rejected(secret: &str) -> HandshakeError {
    if secret.is_empty() {
        HandshakeError::NoSecret
    } else {
        HandshakeError::WrongSecret
    }
}

/// The binary echo of the server's signature and version, then the secret.
fn binary_authentication(version: i64, secret: &str) -> BytesMut {
    let mut out = BytesMut::from(&SIGNATURE[..]);
    put_i64(&mut out, version);
    put_cstr(&mut out, secret);
    out
}

/// Encodes a JSON request onto `out`; returns its seq.
fn json_queue(next_seq: &mut i64, out: &mut BytesMut, command: &str, arguments: Value) -> i64 {
    let seq = *next_seq;
    *next_seq += 1;
    json::encode_frame(&json!({ "type": "request", "seq": seq, "command": command, "arguments": arguments }), out);
    seq
}

/// Authenticate + attach, encoded for one write; returns both seqs and the bytes.
fn json_authenticate_and_attach(
    next_seq: &mut i64,
    version: i64,
    secret: &str,
    debug_options: &str,
) -> (i64, i64, BytesMut) {
    let (authenticate, mut out) = json_authentication(next_seq, version, secret);
    let attach = json_queue(next_seq, &mut out, "legacyRemoteDebuggerAttach", json!({ "debugOptions": debug_options }));
    (authenticate, attach, out)
}

/// The JSON authentication request, encoded; returns its seq and the bytes.
fn json_authentication(next_seq: &mut i64, version: i64, secret: &str) -> (i64, BytesMut) {
    let mut out = BytesMut::new();
    let seq = json_queue(
        next_seq,
        &mut out,
        "legacyRemoteDebuggerAuthenticate",
        json!({ "debuggerName": "PTVSDBG", "debuggerProtocolVersion": version, "clientSecret": secret }),
    );
    (seq, out)
}

/// "closed the connection …" for a JSON handshake step.
fn closed_while(stage: &'static str) -> &'static str {
    match stage {
        "greeting" => "in the middle of its greeting",
        "checking the secret" => "while checking the secret",
        "attaching" => "while attaching",
        "asking for process information" => "while answering the request for process information",
        other => other,
    }
}

fn array8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(text).trim().to_string()
}

fn int_field(body: &Value, key: &str) -> Result<i64, HandshakeError> {
    body.get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| ProtocolError::Malformed { detail: format!("the reply has no integer {key:?}") }.into())
}

fn str_field(body: &Value, key: &str) -> String {
    body.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{duplex, DuplexStream};

    const T: Duration = Duration::from_secs(5);

    fn be(v: i64) -> [u8; 8] {
        v.to_be_bytes()
    }

    fn sstr(s: &str) -> Vec<u8> {
        let mut v = vec![b'U'];
        v.extend_from_slice(&be(s.len() as i64));
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn json_frame(v: Value) -> Vec<u8> {
        let body = v.to_string();
        format!("Content-Length: {}\r\n\r\n{}", body.len(), body).into_bytes()
    }

    /// A scripted server: sends `greeting`, then after each expected client chunk of
    /// `expect[i]` bytes, sends `replies[i]`. Returns what the client wrote.
    fn server(greeting: Vec<u8>, steps: Vec<(usize, Vec<u8>)>) -> (DuplexStream, tokio::task::JoinHandle<Vec<u8>>) {
        let (client, mut server) = duplex(1 << 16);
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            server.write_all(&greeting).await.unwrap();
            for (expect, reply) in steps {
                let mut chunk = vec![0u8; expect];
                if server.read_exact(&mut chunk).await.is_err() {
                    return seen;
                }
                seen.extend_from_slice(&chunk);
                server.write_all(&reply).await.unwrap();
            }
            let mut rest = Vec::new();
            let _ = server.read_to_end(&mut rest).await;
            seen.extend_from_slice(&rest);
            seen
        });
        (client, task)
    }

    fn binary_greeting(version: i64) -> Vec<u8> {
        let mut g = b"PTVSDBG".to_vec();
        g.extend_from_slice(&be(version));
        g
    }

    #[tokio::test]
    async fn binary_info_sends_echo_secret_and_info() {
        let mut info = be(28781).to_vec();
        info.extend(sstr("/usr/bin/python3"));
        info.extend(sstr("root"));
        info.extend(sstr("CPython 3.11.7 (Linux 64-bit)"));
        let (client, task) = server(binary_greeting(6), vec![(15 + 8 + 6, b"ACPT".to_vec()), (4, info)]);
        let (dialect, info) = super::info(client, "s3cret", Limits::default(), T).await.unwrap();
        assert_eq!(dialect, Dialect::Binary { version: 6 });
        assert_eq!(info.pid, 28781);
        assert_eq!(info.python_version, "CPython 3.11.7 (Linux 64-bit)");
        let seen = task.await.unwrap();
        let mut expected = binary_greeting(6);
        expected.extend_from_slice(&be(6));
        expected.extend_from_slice(b"s3cret");
        expected.extend_from_slice(b"INFO");
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn binary_attach_keeps_bytes_that_follow_the_reply() {
        let mut reply = b"ACPT".to_vec();
        for v in [28781, 3, 11, 7] {
            reply.extend_from_slice(&be(v));
        }
        reply.extend_from_slice(b"NEWT");
        let options = "RedirectOutput, RichExceptions";
        let (client, _task) =
            server(binary_greeting(6), vec![(15 + 8 + 6, b"ACPT".to_vec()), (4 + 8 + options.len(), reply)]);
        let attached = super::attach(client, "s3cret", options, Limits::default(), T).await.unwrap();
        assert_eq!(attached.info.pid, 28781);
        assert_eq!(attached.info.python, PythonVersion { major: 3, minor: 11, micro: 7 });
        // The NEWT that arrived with the reply must not be lost.
        assert!(attached.framed.read_buffer().starts_with(b"NEWT") || attached.framed.read_buffer().is_empty());
    }

    /// ptvsd's attach burst: NEWT, MODL, a pause shorter than SETTLE_QUIET, MODL, then
    /// `tail` (or silence).
    async fn attach_with_burst(tail: Option<Vec<u8>>) -> (Duration, Vec<Event>) {
        use futures_util::StreamExt;
        let mut accept = b"ACPT".to_vec();
        for v in [1, 3, 11, 7] {
            accept.extend_from_slice(&be(v));
        }
        let mut newt = b"NEWT".to_vec();
        newt.extend_from_slice(&be(5));
        let modl = |id: i64| {
            let mut m = b"MODL".to_vec();
            m.extend_from_slice(&be(id));
            m.extend(sstr("/srv/app.py"));
            m
        };
        let (client, mut server) = duplex(1 << 16);
        tokio::spawn(async move {
            server.write_all(&binary_greeting(6)).await.unwrap();
            let mut chunk = vec![0u8; 15 + 8 + 1];
            server.read_exact(&mut chunk).await.unwrap();
            server.write_all(b"ACPT").await.unwrap();
            let mut chunk = vec![0u8; 4 + 8];
            server.read_exact(&mut chunk).await.unwrap();
            server.write_all(&[accept, newt, modl(1)].concat()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            server.write_all(&modl(2)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(tail) = tail {
                server.write_all(&tail).await.unwrap();
            }
            let mut rest = Vec::new();
            let _ = server.read_to_end(&mut rest).await;
        });
        let started = Instant::now();
        let attached = super::attach(client, "s", "", Limits::default(), T).await.unwrap();
        let took = started.elapsed();
        let mut framed = attached.framed;
        let mut events = Vec::new();
        while let Ok(Some(Ok(event))) = tokio::time::timeout(Duration::from_millis(10), framed.next()).await {
            events.push(event);
        }
        (took, events)
    }

    #[tokio::test(start_paused = true)]
    async fn attach_completes_after_the_thread_and_module_burst() {
        // Silence after the burst: done SETTLE_QUIET after the last report.
        let (took, events) = attach_with_burst(None).await;
        assert!(took >= Duration::from_millis(100) + SETTLE_QUIET && took < Duration::from_millis(400), "{took:?}");
        assert_eq!(events.len(), 3, "{events:?}");
        // The attach break (or output) comes only after ptvsd marked itself attached.
        let mut load = b"LOAD".to_vec();
        load.extend_from_slice(&be(5));
        let (took, events) = attach_with_burst(Some(load)).await;
        assert!(took >= Duration::from_millis(120) && took < Duration::from_millis(120) + SETTLE_QUIET, "{took:?}");
        assert_eq!(events.len(), 4, "{events:?}");
        assert_eq!(events[3], Event::ProcessLoad { thread: 5 });
    }

    #[tokio::test]
    async fn binary_v4_attach_sends_no_options() {
        let mut reply = b"ACPT".to_vec();
        for v in [1, 3, 6, 15] {
            reply.extend_from_slice(&be(v));
        }
        let (client, task) = server(binary_greeting(4), vec![(15 + 8, b"ACPT".to_vec()), (4, reply)]);
        let attached = super::attach(client, "", "RedirectOutput", Limits::default(), T).await.unwrap();
        assert_eq!(attached.dialect, Dialect::Binary { version: 4 });
        drop(attached);
        let seen = task.await.unwrap();
        assert!(seen.ends_with(b"ATCH"));
    }

    #[tokio::test]
    async fn wrong_secret_is_named() {
        let (client, _task) = server(binary_greeting(6), vec![(15 + 8 + 5, b"RJCT".to_vec())]);
        let err = super::info(client, "wrong", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::WrongSecret), "{err}");
        assert!(err.to_string().contains("WSGI_PTVSD_SECRET"));
        let (client, _task) = server(binary_greeting(6), vec![(15 + 8, b"RJCT".to_vec())]);
        let err = super::info(client, "", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::NoSecret), "{err}");
        assert!(
            err.to_string().contains("the URL carried none") && !err.to_string().contains("rejected the secret"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn already_attached_is_named() {
        let (client, _task) =
            server(binary_greeting(6), vec![(15 + 8 + 1, b"ACPT".to_vec()), (4 + 8, b"RJCT".to_vec())]);
        let err = super::attach(client, "s", "", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::AlreadyAttached), "{err}");
    }

    #[tokio::test]
    async fn version_5_is_refused_with_the_supported_list() {
        let (client, task) = server(binary_greeting(5), vec![]);
        let err = super::info(client, "s", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::UnsupportedVersion { version: 5, .. }), "{err}");
        assert!(err.to_string().contains("version 5"));
        // We echoed a version the server will refuse, so it closes cleanly.
        assert_eq!(task.await.unwrap(), binary_greeting(6));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_becomes_a_sentence() {
        let (client, _server) = duplex(64);
        let err = super::info(client, "s", Limits::default(), Duration::from_secs(3)).await.unwrap_err();
        assert!(matches!(err, HandshakeError::NoGreeting { seconds: 3 }), "{err}");
        assert!(err.to_string().contains("TLS"));
    }

    /// Found by the `handshake` fuzz target: a server that stops reading (here a 1-byte
    /// pipe nobody drains) held the echo + secret write forever, past the timeout.
    #[tokio::test(start_paused = true)]
    async fn a_server_that_stops_reading_cannot_outlast_the_timeout() {
        let (client, mut server) = duplex(1);
        let _server = tokio::spawn(async move {
            server.write_all(&binary_greeting(6)).await.unwrap();
            std::future::pending::<()>().await;
            drop(server);
        });
        let start = Instant::now();
        let info = super::info(client, "s3cret", Limits::default(), Duration::from_secs(3));
        // Virtual time: the guard fires at once if the handshake waits on nothing but I/O.
        let err = tokio::time::timeout(Duration::from_secs(60), info).await.expect("hung").unwrap_err();
        assert!(matches!(err, HandshakeError::Timeout { stage: "checking the secret", seconds: 3 }), "{err}");
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn garbage_and_http_are_not_ptvsd() {
        let (client, _task) = server(b"SSH-2.0-OpenSSH\r\n".to_vec(), vec![]);
        let err = super::info(client, "s", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::NotPtvsd { .. }), "{err}");
        let (client, _task) = server(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), vec![]);
        let err = super::info(client, "s", Limits::default(), T).await.unwrap_err();
        assert!(err.to_string().contains("ws://"), "{err}");
    }

    #[tokio::test]
    async fn close_before_greeting_and_mid_greeting() {
        let (client, server) = duplex(64);
        drop(server);
        let err = super::info(client, "s", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Closed { .. }), "{err}");
        let (client, mut server) = duplex(64);
        server.write_all(b"PTVSDB").await.unwrap();
        drop(server);
        let err = super::info(client, "s", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Closed { .. }), "{err}");
        let (client, mut server) = duplex(64);
        server.write_all(b"PTVSDBG\0\0").await.unwrap();
        drop(server);
        let err = super::info(client, "s", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Closed { .. }), "{err}");
    }

    fn connected(version: i64) -> Vec<u8> {
        json_frame(
            json!({"type": "event", "seq": 0, "event": "legacyRemoteConnected", "body": {"debuggerName": "PTVSDBG", "debuggerProtocolVersion": version}}),
        )
    }

    fn response(seq: i64, command: &str, body: Value) -> Vec<u8> {
        json_frame(
            json!({"type": "response", "seq": seq, "request_seq": seq, "success": true, "command": command, "message": "", "body": body}),
        )
    }

    /// A JSON server that answers each request in turn (reading whole frames).
    fn json_server(version: i64, replies: Vec<Vec<u8>>) -> (DuplexStream, tokio::task::JoinHandle<Vec<Value>>) {
        let (client, mut server) = duplex(1 << 16);
        let task = tokio::spawn(async move {
            server.write_all(&connected(version)).await.unwrap();
            let mut seen = Vec::new();
            let mut buf = BytesMut::new();
            for reply in replies {
                let request = loop {
                    if let Some(v) = json::decode_frame(&mut buf, &Limits::default()).unwrap() {
                        break v;
                    }
                    if server.read_buf(&mut buf).await.unwrap() == 0 {
                        return seen;
                    }
                };
                seen.push(request);
                server.write_all(&reply).await.unwrap();
            }
            seen
        });
        (client, task)
    }

    #[tokio::test]
    async fn json_attach_waits_for_the_response() {
        let (client, task) = json_server(
            8,
            vec![
                response(1, "legacyRemoteDebuggerAuthenticate", json!({"accepted": true})),
                response(
                    2,
                    "legacyRemoteDebuggerAttach",
                    json!({"accepted": true, "processId": 30343, "pythonMajor": 3, "pythonMinor": 11, "pythonMicro": 7}),
                ),
            ],
        );
        let attached =
            super::attach(client, "s3cret", "RedirectOutput, RichExceptions", Limits::default(), T).await.unwrap();
        assert_eq!(attached.dialect, Dialect::Json { version: 8 });
        assert_eq!(attached.info.pid, 30343);
        let seen = task.await.unwrap();
        assert_eq!(seen[0]["arguments"]["clientSecret"], "s3cret");
        assert_eq!(seen[0]["arguments"]["debuggerProtocolVersion"], 8);
        assert_eq!(seen[1]["arguments"]["debugOptions"], "RedirectOutput, RichExceptions");
    }

    /// A server that answers nothing until `expect` bytes of requests are in: a client that
    /// waits for one answer before sending the next request times out against it.
    fn server_answering_after(
        greeting: Vec<u8>,
        expect: usize,
        replies: Vec<u8>,
    ) -> (DuplexStream, tokio::task::JoinHandle<Vec<u8>>) {
        let (client, mut server) = duplex(1 << 16);
        let task = tokio::spawn(async move {
            server.write_all(&greeting).await.unwrap();
            let mut seen = vec![0u8; expect];
            if server.read_exact(&mut seen).await.is_err() {
                return Vec::new();
            }
            server.write_all(&replies).await.unwrap();
            let mut rest = Vec::new();
            let _ = server.read_to_end(&mut rest).await;
            seen
        });
        (client, task)
    }

    #[tokio::test]
    async fn json_authenticate_and_attach_go_out_in_one_write() {
        let authenticate = json_authentication(&mut 1, 8, "s3cret").1;
        let mut attach = BytesMut::new();
        json_queue(&mut 2, &mut attach, "legacyRemoteDebuggerAttach", json!({ "debugOptions": "RedirectOutput" }));
        let mut replies = response(1, "legacyRemoteDebuggerAuthenticate", json!({"accepted": true}));
        replies.extend(response(
            2,
            "legacyRemoteDebuggerAttach",
            json!({"accepted": true, "processId": 7, "pythonMajor": 3, "pythonMinor": 6, "pythonMicro": 8}),
        ));
        let (client, task) = server_answering_after(connected(8), authenticate.len() + attach.len(), replies);
        let attached = super::attach(client, "s3cret", "RedirectOutput", Limits::default(), T).await.unwrap();
        assert_eq!(attached.info.pid, 7);
        drop(attached);
        let mut expected = authenticate.to_vec();
        expected.extend_from_slice(&attach);
        assert_eq!(task.await.unwrap(), expected);
    }

    /// A server that reads the requests before it greets: only an attach that expects its
    /// dialect gets an answer from it.
    #[tokio::test]
    async fn an_expected_json_dialect_sends_before_the_greeting() {
        let (_, _, requests) = json_authenticate_and_attach(&mut 1, 8, "s3cret", "RedirectOutput");
        let mut replies = connected(8);
        replies.extend(response(1, "legacyRemoteDebuggerAuthenticate", json!({"accepted": true})));
        replies.extend(response(
            2,
            "legacyRemoteDebuggerAttach",
            json!({"accepted": true, "processId": 7, "pythonMajor": 3, "pythonMinor": 6, "pythonMicro": 8}),
        ));
        let expected = requests.to_vec();
        let (client, mut server) = duplex(1 << 16);
        let task = tokio::spawn(async move {
            let mut seen = vec![0u8; expected.len()];
            server.read_exact(&mut seen).await.unwrap();
            server.write_all(&replies).await.unwrap();
            let mut rest = Vec::new();
            let _ = server.read_to_end(&mut rest).await;
            seen
        });
        let json8 = Some(Dialect::Json { version: 8 });
        let attached =
            super::attach_expecting(client, "s3cret", "RedirectOutput", Limits::default(), T, json8).await.unwrap();
        assert_eq!((attached.dialect, attached.info.pid), (Dialect::Json { version: 8 }, 7));
        drop(attached);
        assert_eq!(task.await.unwrap(), requests.to_vec());
    }

    /// The greeting contradicts the expectation: the caller is told, with what it found.
    #[tokio::test]
    async fn a_contradicted_expectation_is_unexpected() {
        let json8 = Some(Dialect::Json { version: 8 });
        // Binary ptvsd closes after reading 7 bytes that are not PTVSDBG.
        let (client, task) = server(binary_greeting(6), vec![]);
        let err = super::attach_expecting(client, "s", "", Limits::default(), T, json8).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Unexpected { found: Some(Dialect::Binary { version: 6 }) }), "{err}");
        drop(task);
        // JSON ptvsd of the other version refuses the authentication and closes.
        let (client, _task) =
            json_server(7, vec![response(1, "legacyRemoteDebuggerAuthenticate", json!({"accepted": false}))]);
        let err = super::attach_expecting(client, "s", "", Limits::default(), T, json8).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Unexpected { found: Some(Dialect::Json { version: 7 }) }), "{err}");
        // Closed before greeting.
        let (client, server) = duplex(64);
        drop(server);
        let err = super::attach_expecting(client, "s", "", Limits::default(), T, json8).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Unexpected { found: None }), "{err}");
        // A binary expectation changes nothing: nothing goes out before the greeting (a
        // server that waits for a byte first never greets).
        let (client, mut server) = duplex(64);
        let _task = tokio::spawn(async move {
            let mut byte = [0u8; 1];
            if server.read_exact(&mut byte).await.is_ok() {
                let _ = server.write_all(&binary_greeting(6)).await;
            }
            std::future::pending::<()>().await;
            drop(server);
        });
        let binary = Some(Dialect::Binary { version: 6 });
        let err = super::attach_expecting(client, "s", "", Limits::default(), Duration::from_millis(300), binary)
            .await
            .unwrap_err();
        assert!(matches!(err, HandshakeError::NoGreeting { .. }), "{err}");
    }

    #[tokio::test]
    async fn binary_echo_secret_and_attach_go_out_in_one_write() {
        let options = "RedirectOutput";
        let mut expected = binary_authentication(6, "s3cret").to_vec();
        expected.extend_from_slice(b"ATCH");
        let mut with_options = BytesMut::new();
        put_cstr(&mut with_options, options);
        expected.extend_from_slice(&with_options);
        let mut replies = b"ACPT".to_vec();
        replies.extend_from_slice(b"ACPT");
        for v in [7, 3, 6, 8] {
            replies.extend_from_slice(&be(v));
        }
        let (client, task) = server_answering_after(binary_greeting(6), expected.len(), replies);
        let attached = super::attach(client, "s3cret", options, Limits::default(), T).await.unwrap();
        assert_eq!(attached.info.python, PythonVersion { major: 3, minor: 6, micro: 8 });
        drop(attached);
        assert_eq!(task.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn a_refused_secret_is_named_although_the_attach_went_out_with_it() {
        // RJCT, then the server closes without reading the ATCH that followed the secret.
        let (client, task) = server(binary_greeting(6), vec![(15 + 8 + 6, b"RJCT".to_vec())]);
        let err = super::attach(client, "s3cret", "", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::WrongSecret), "{err}");
        drop(task);
    }

    #[tokio::test]
    async fn json_success_true_but_not_accepted_is_a_wrong_secret() {
        let (client, _task) =
            json_server(7, vec![response(1, "legacyRemoteDebuggerAuthenticate", json!({"accepted": false}))]);
        let err = super::info(client, "nope", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::WrongSecret), "{err}");
    }

    #[tokio::test]
    async fn json_info_and_already_attached() {
        let (client, _task) = json_server(
            8,
            vec![
                response(1, "legacyRemoteDebuggerAuthenticate", json!({"accepted": true})),
                response(
                    2,
                    "legacyRemoteDebuggerInfo",
                    json!({"processId": 30901, "executable": "/usr/bin/python3", "user": "root", "pythonVersion": "CPython 3.11.7 (Linux 64-bit)"}),
                ),
            ],
        );
        let (dialect, info) = super::info(client, "s", Limits::default(), T).await.unwrap();
        assert_eq!((dialect.family(), info.pid, info.user.as_str()), ("json", 30901, "root"));

        let (client, _task) = json_server(
            8,
            vec![
                response(1, "legacyRemoteDebuggerAuthenticate", json!({"accepted": true})),
                response(2, "legacyRemoteDebuggerAttach", json!({"accepted": false})),
            ],
        );
        let err = super::attach(client, "s", "", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::AlreadyAttached), "{err}");
    }

    #[tokio::test]
    async fn json_version_6_is_unsupported() {
        let (client, _task) = json_server(6, vec![]);
        let err = super::info(client, "s", Limits::default(), T).await.unwrap_err();
        assert!(matches!(err, HandshakeError::UnsupportedVersion { version: 6, .. }), "{err}");
    }
}
