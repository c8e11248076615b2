//! The handshake against a scripted fake server: `handshake::info` and `handshake::attach`
//! over `tokio::io::duplex`, on a current-thread runtime with paused time, so that a
//! silent server costs no wall time.
//!
//! The input is an [`Arbitrary`] [`Script`]: the greeting (binary or JSON, any version, or
//! something else), the replies (ACPT/RJCT or `accepted`, INFO/ATCH fields, JSON noise),
//! edits of the rendered bytes (truncation, insertion, corruption), how the server reads
//! (drains, answers each write, never reads), and how it ends (close, silence, half-close,
//! early close). Checks: no panic; the handshake always finishes, within its timeout; an
//! error never shows the secret; and a clean script gets the outcome it asks for.
#![no_main]

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use futures_util::StreamExt;
use fuzz_support::{cap_allocations, feed, CappedAlloc};
use libfuzzer_sys::fuzz_target;
use ptvsd_dap::legacy::binary::BinaryClientCodec;
use ptvsd_dap::legacy::handshake::{self, HandshakeError};
use ptvsd_dap::legacy::json::JsonClientCodec;
use ptvsd_dap::legacy::messages::Event;
use ptvsd_dap::legacy::{Dialect, Limits};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

const LIMITS: Limits = Limits { max_string: 1 << 10, max_count: 64, max_message: 8 << 10 };
/// How long past its own timeout a handshake may take before it counts as hung. Virtual
/// time: with the clock paused, waiting costs nothing.
const GRACE: Duration = Duration::from_secs(3600);
/// Events read after an attach.
const MAX_EVENTS: usize = 64;

#[derive(Arbitrary, Debug)]
struct Script {
    attach: bool,
    greeting: Greeting,
    /// Bytes after the last reply: the first events of the session.
    trailing: Vec<u8>,
    edits: Vec<Edit>,
    end: End,
    style: Style,
    /// Duplex buffer size (1 + this).
    capacity: u16,
    /// Largest write of the server (1 + this).
    write_chunk: u8,
    /// The handshake timeout in virtual milliseconds (1 + this).
    timeout_ms: u16,
    /// The secret, after [`SECRET_MARK`].
    secret: String,
    debug_options: String,
}

/// Starts every secret, so that a secret in an error message is not mistaken for the
/// message's own words (a secret "JSON" is in many of them).
const SECRET_MARK: &str = "s3cr\u{2603}t:";

#[derive(Arbitrary, Debug)]
enum Greeting {
    Binary {
        version: Version,
        replies: Box<BinaryReplies>,
    },
    Json {
        version: Version,
        connected: bool,
        replies: Box<JsonReplies>,
    },
    /// Anything at all, e.g. a recorded server stream (replay seeds) or an HTTP answer.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Version {
    Two,
    Four,
    Six,
    Seven,
    Eight,
    Other(i64),
}

impl Version {
    fn value(self) -> i64 {
        match self {
            Version::Two => 2,
            Version::Four => 4,
            Version::Six => 6,
            Version::Seven => 7,
            Version::Eight => 8,
            Version::Other(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Tag {
    Accept,
    Reject,
    Other([u8; 4]),
}

impl Tag {
    fn bytes(&self) -> [u8; 4] {
        match self {
            Tag::Accept => *b"ACPT",
            Tag::Reject => *b"RJCT",
            Tag::Other(bytes) => *bytes,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct BinaryReplies {
    auth: Tag,
    pid: i64,
    executable: SStr,
    user: SStr,
    python_version: SStr,
    attach: Tag,
    python: [i64; 3],
}

/// A server string as the wire carries it.
#[derive(Arbitrary, Debug)]
enum SStr {
    Null,
    Utf8(String),
    Latin1(Vec<u8>),
    /// An unknown kind byte.
    Kind(u8),
    /// A `U` string whose length is not the length of what follows.
    Claim(i64, Vec<u8>),
}

impl SStr {
    fn render(&self, out: &mut Vec<u8>) {
        match self {
            SStr::Null => out.push(b'N'),
            SStr::Utf8(text) => {
                out.push(b'U');
                out.extend_from_slice(&(text.len() as i64).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            SStr::Latin1(bytes) => {
                out.push(b'A');
                out.extend_from_slice(&(bytes.len() as i64).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            SStr::Kind(kind) => out.push(*kind),
            SStr::Claim(length, bytes) => {
                out.push(b'U');
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }

    /// Whether the client must read it (null reads as empty).
    fn is_valid(&self) -> bool {
        match self {
            SStr::Null => true,
            SStr::Utf8(text) => text.len() <= LIMITS.max_string,
            SStr::Latin1(bytes) => bytes.len() <= LIMITS.max_string,
            SStr::Kind(_) | SStr::Claim(..) => false,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct JsonReplies {
    auth: JsonReply,
    info: JsonReply,
    attach: JsonReply,
    /// Frames the server slips in before each response.
    noise: Vec<Noise>,
}

#[derive(Arbitrary, Debug)]
struct JsonReply {
    success: bool,
    message: String,
    request_seq: Seq,
    accepted: Option<bool>,
    /// `processId`, then `pythonMajor`, `pythonMinor`, `pythonMicro` (attach).
    ints: [Field; 4],
    /// `executable`, `user`, `pythonVersion` (info).
    strings: [Option<String>; 3],
}

#[derive(Arbitrary, Debug)]
enum Seq {
    Right,
    Missing,
    Other(i64),
}

#[derive(Arbitrary, Debug)]
enum Field {
    Int(i64),
    Float(f64),
    Text(String),
    Null,
    Missing,
}

impl Field {
    fn put(&self, body: &mut serde_json::Map<String, Value>, key: &str) {
        let value = match self {
            Field::Int(n) => json!(n),
            Field::Float(f) => json!(f),
            Field::Text(text) => json!(text),
            Field::Null => Value::Null,
            Field::Missing => return,
        };
        body.insert(key.to_owned(), value);
    }

    fn int(&self) -> Option<i64> {
        match self {
            Field::Int(n) => Some(*n),
            _ => None,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Noise {
    Event(String),
    Response { request_seq: i64, success: bool },
    NotAnObject(i64),
}

#[derive(Arbitrary, Debug)]
struct Edit {
    /// Which segment (greeting, auth reply, INFO/ATCH reply, trailing) the edit is in.
    segment: u8,
    at: u16,
    kind: EditKind,
}

#[derive(Arbitrary, Debug)]
enum EditKind {
    Truncate,
    Insert(Vec<u8>),
    Xor(u8),
    Drop,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Closes after the last segment.
    Close,
    /// Stays connected and says nothing more.
    Silent,
    /// Shuts down its sending side, keeps reading.
    HalfClose,
    /// Closes after this many segments.
    CloseAfter(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Reads and discards everything the client sends, as it arrives.
    Drains,
    /// Waits for bytes from the client before each reply.
    Answers,
    /// Never reads.
    Deaf,
}

/// What a clean script must lead to.
#[derive(Debug, PartialEq)]
enum Expected {
    Ok { pid: i64 },
    Unsupported,
    WrongSecret,
    AlreadyAttached,
    Refused,
}

fuzz_target!(|input: Input| {
    cap_allocations(1 << 20, 64 << 20);
    run(input.0);
});

/// A [`Script`]; or, for input starting with `R`, a replay (see [`Script::replay`]).
#[derive(Debug)]
struct Input(Script);

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Script::arbitrary(u).map(Input)
    }

    fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<Self> {
        let data = u.take_rest();
        match data {
            [b'R', flags, stream @ ..] => Ok(Input(Script::replay(*flags, stream))),
            _ => Script::arbitrary_take_rest(Unstructured::new(data)).map(Input),
        }
    }
}

impl Script {
    /// Replay mode (`R`, flags, bytes): the server sends `stream` exactly, e.g. the server's
    /// side of a recorded session. Flags: bit 0 attach (else info), bits 1-2 the style,
    /// bits 3-4 the end, bit 5 small writes, bit 6 a small duplex buffer.
    fn replay(flags: u8, stream: &[u8]) -> Script {
        Script {
            attach: flags & 1 != 0,
            greeting: Greeting::Raw(stream.to_vec()),
            trailing: Vec::new(),
            edits: Vec::new(),
            end: [End::Close, End::Silent, End::HalfClose, End::Close][usize::from(flags >> 3 & 3)],
            style: [Style::Drains, Style::Answers, Style::Deaf, Style::Drains][usize::from(flags >> 1 & 3)],
            capacity: if flags & 0x40 != 0 { 15 } else { u16::MAX },
            write_chunk: if flags & 0x20 != 0 { 6 } else { u8::MAX },
            timeout_ms: 4999,
            secret: "s3cret".to_owned(),
            debug_options: "RedirectOutput, RichExceptions".to_owned(),
        }
    }
}

fn run(script: Script) {
    let segments = render(&script);
    let expected = expected(&script);
    let timeout = Duration::from_millis(1 + u64::from(script.timeout_ms));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build();
    let Ok(runtime) = runtime else { panic!("no runtime") };
    let (client, server) = tokio::io::duplex(1 + usize::from(script.capacity));
    // The mark may show up in an error that quotes the server, if the server sent it.
    let server_says_secret = segments.iter().any(|segment| contains(segment, "\u{2603}".as_bytes()));

    let outcome = runtime.block_on(async {
        tokio::spawn(serve(server, segments, script.style, script.end, 1 + usize::from(script.write_chunk)));
        tokio::time::timeout(timeout + GRACE, client_side(&script, client, timeout)).await
    });
    drop(runtime);

    let Ok((result, elapsed, session)) = outcome else {
        panic!("the handshake did not finish within {:?} of virtual time (timeout {timeout:?})", timeout + GRACE);
    };
    assert!(elapsed <= timeout, "the handshake took {elapsed:?}, more than its timeout {timeout:?}");
    if let Err(error) = &result {
        let text = error.to_string();
        assert!(!text.contains('\u{2603}') || server_says_secret, "the error shows the secret: {text}");
    }
    if let Some(expected) = expected {
        let got = match &result {
            Ok(pid) => Some(Expected::Ok { pid: *pid }),
            Err(HandshakeError::UnsupportedVersion { .. }) => Some(Expected::Unsupported),
            Err(HandshakeError::WrongSecret) => Some(Expected::WrongSecret),
            Err(HandshakeError::AlreadyAttached) => Some(Expected::AlreadyAttached),
            Err(HandshakeError::Refused { .. }) => Some(Expected::Refused),
            Err(_) => None,
        };
        assert_eq!(got, Some(expected), "a clean script went wrong: {result:?}");
        if let Some(session) = session {
            hand_over_loses_nothing(&script, session);
        }
    }
}

/// What the session read after a successful attach.
struct Session {
    dialect: Dialect,
    events: Vec<Event>,
    /// The error that ended the stream, rendered.
    error: Option<String>,
}

/// The first events of a clean attach are exactly what the trailing bytes decode to: the
/// bytes the handshake read past the reply are handed over, none lost, none doubled.
fn hand_over_loses_nothing(script: &Script, session: Session) {
    // The dialect's own codec, as the session should use it, end of stream included.
    let trailing = &script.trailing;
    let whole = [trailing.len()];
    let reference = match session.dialect {
        Dialect::Binary { version } => feed(&mut BinaryClientCodec::new(version, LIMITS), trailing, &whole),
        Dialect::Json { version } => feed(&mut JsonClientCodec::new(version, LIMITS, 3), trailing, &whole),
    };
    let expected: Vec<Event> = reference.items.into_iter().take(MAX_EVENTS).collect();
    assert_eq!(session.events, expected, "the session does not start with the bytes after the reply");
    // A silent server never ends the stream, so a partial message is no error (yet).
    if script.end != End::Silent && session.events.len() < MAX_EVENTS {
        let reference = reference.error.map(|(text, _)| text);
        assert_eq!(session.error, reference, "the session ended differently");
    }
}

/// Runs `info` or `attach`; after an attach, reads what events follow for a while.
/// Returns the pid (or the error), how long the handshake itself took, and after an
/// attach the session's first events.
async fn client_side(
    script: &Script,
    client: DuplexStream,
    timeout: Duration,
) -> (Result<i64, HandshakeError>, Duration, Option<Session>) {
    let secret = format!("{SECRET_MARK}{}", script.secret);
    let start = Instant::now();
    if !script.attach {
        let result = handshake::info(client, &secret, LIMITS, timeout).await;
        let elapsed = start.elapsed();
        if let Ok((dialect, _)) = &result {
            assert!(dialect.is_supported(), "info succeeded with {dialect:?}");
        }
        return (result.map(|(_, info)| info.pid), elapsed, None);
    }
    let result = handshake::attach(client, &secret, &script.debug_options, LIMITS, timeout).await;
    let elapsed = start.elapsed();
    let mut attached = match result {
        Ok(attached) => attached,
        Err(error) => return (Err(error), elapsed, None),
    };
    assert!(attached.dialect.is_supported(), "attach succeeded with {:?}", attached.dialect);
    // The bytes that came with the reply belong to the session: read them.
    let mut session = Session { dialect: attached.dialect, events: Vec::new(), error: None };
    while session.events.len() < MAX_EVENTS {
        match tokio::time::timeout(Duration::from_secs(1), attached.framed.next()).await {
            Ok(Some(Ok(event))) => session.events.push(event),
            Ok(Some(Err(error))) => {
                session.error = Some(error.to_string());
                break;
            }
            Ok(None) | Err(_) => break,
        }
    }
    (Ok(attached.info.pid), elapsed, Some(session))
}

async fn serve(server: DuplexStream, segments: Vec<Vec<u8>>, style: Style, end: End, chunk: usize) {
    let (mut reader, mut writer) = tokio::io::split(server);
    let mut drain = None;
    if style == Style::Drains {
        drain = Some(tokio::spawn(async move {
            let mut sink = [0u8; 512];
            while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
        }));
        write_segments(&mut writer, &segments, None::<&mut tokio::io::ReadHalf<DuplexStream>>, end, chunk).await;
    } else {
        let answer = if style == Style::Answers { Some(&mut reader) } else { None };
        write_segments(&mut writer, &segments, answer, end, chunk).await;
    }
    match end {
        End::Close | End::CloseAfter(_) => {
            // Both halves must go for the stream to close: stop the drain, which holds one.
            let _ = writer.shutdown().await;
            if let Some(drain) = drain {
                drain.abort();
            }
        }
        End::Silent => std::future::pending::<()>().await,
        End::HalfClose => {
            let _ = writer.shutdown().await;
            std::future::pending::<()>().await;
        }
    }
}

async fn write_segments<R: tokio::io::AsyncRead + Unpin>(
    writer: &mut tokio::io::WriteHalf<DuplexStream>,
    segments: &[Vec<u8>],
    mut answer: Option<&mut R>,
    end: End,
    chunk: usize,
) {
    let count = match end {
        End::CloseAfter(n) => usize::from(n).min(segments.len()),
        _ => segments.len(),
    };
    for (i, segment) in segments.iter().take(count).enumerate() {
        if i > 0 {
            if let Some(reader) = answer.as_deref_mut() {
                let mut heard = [0u8; 512];
                if !matches!(reader.read(&mut heard).await, Ok(n) if n > 0) {
                    return;
                }
            }
        }
        for piece in segment.chunks(chunk) {
            if writer.write_all(piece).await.is_err() {
                return;
            }
        }
    }
}

/// The server's bytes, in segments: greeting, auth reply, INFO/ATCH reply, trailing.
fn render(script: &Script) -> Vec<Vec<u8>> {
    let mut segments = match &script.greeting {
        Greeting::Binary { version, replies: b } => {
            let mut greeting = b"PTVSDBG".to_vec();
            greeting.extend_from_slice(&version.value().to_be_bytes());
            let mut reply = Vec::new();
            if script.attach {
                reply.extend_from_slice(&b.attach.bytes());
                for n in [b.pid, b.python[0], b.python[1], b.python[2]] {
                    reply.extend_from_slice(&n.to_be_bytes());
                }
            } else {
                reply.extend_from_slice(&b.pid.to_be_bytes());
                for s in [&b.executable, &b.user, &b.python_version] {
                    s.render(&mut reply);
                }
            }
            vec![greeting, b.auth.bytes().to_vec(), reply]
        }
        Greeting::Json { version, connected, replies: j } => {
            let event = if *connected { "legacyRemoteConnected" } else { "legacyRemoteDetached" };
            let greeting = frame(&json!({
                "type": "event", "seq": 0, "event": event,
                "body": {"debuggerName": "PTVSDBG", "debuggerProtocolVersion": version.value()},
            }));
            let mut auth = noise(&j.noise);
            auth.extend(response(&j.auth, 1, "legacyRemoteDebuggerAuthenticate", false));
            let mut reply = noise(&j.noise);
            if script.attach {
                reply.extend(response(&j.attach, 2, "legacyRemoteDebuggerAttach", true));
            } else {
                reply.extend(response(&j.info, 2, "legacyRemoteDebuggerInfo", false));
            }
            vec![greeting, auth, reply]
        }
        Greeting::Raw(bytes) => vec![bytes.clone()],
    };
    segments.push(script.trailing.clone());
    for edit in script.edits.iter().take(8) {
        let index = usize::from(edit.segment) % segments.len();
        let segment = &mut segments[index];
        let at = usize::from(edit.at).min(segment.len());
        match &edit.kind {
            EditKind::Truncate => segment.truncate(at),
            EditKind::Insert(bytes) => {
                segment.splice(at..at, bytes.iter().copied());
            }
            EditKind::Xor(mask) => {
                if let Some(byte) = segment.get_mut(at) {
                    *byte ^= mask;
                }
            }
            EditKind::Drop => segment.clear(),
        }
    }
    segments
}

fn frame(value: &Value) -> Vec<u8> {
    let body = value.to_string();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn noise(noise: &[Noise]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in noise.iter().take(4) {
        out.extend(frame(&match item {
            Noise::Event(name) => json!({"type": "event", "seq": 7, "event": name, "body": {}}),
            Noise::Response { request_seq, success } => json!({
                "type": "response", "seq": 7, "request_seq": request_seq, "success": success,
                "command": "legacyRemoteDebuggerInfo", "message": "noise", "body": {"accepted": false},
            }),
            Noise::NotAnObject(n) => json!([n]),
        }));
    }
    out
}

fn response(reply: &JsonReply, seq: i64, command: &str, attach: bool) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    if let Some(accepted) = reply.accepted {
        body.insert("accepted".to_owned(), json!(accepted));
    }
    reply.ints[0].put(&mut body, "processId");
    if attach {
        for (field, key) in reply.ints[1..].iter().zip(["pythonMajor", "pythonMinor", "pythonMicro"]) {
            field.put(&mut body, key);
        }
    } else {
        for (text, key) in reply.strings.iter().zip(["executable", "user", "pythonVersion"]) {
            if let Some(text) = text {
                body.insert(key.to_owned(), json!(text));
            }
        }
    }
    let mut message = json!({
        "type": "response", "seq": seq, "success": reply.success,
        "command": command, "message": reply.message, "body": body,
    });
    let request_seq = match reply.request_seq {
        Seq::Right => Some(seq),
        Seq::Missing => None,
        Seq::Other(other) => Some(other),
    };
    if let (Some(request_seq), Value::Object(map)) = (request_seq, &mut message) {
        map.insert("request_seq".to_owned(), json!(request_seq));
    }
    frame(&message)
}

/// The outcome a script must have, where the script decides it; `None` where it leaves it
/// open: edits; a server that does not read everything (the client's writes may fill the
/// pipe, and the handshake times out); or one that closes (it sends all its replies at
/// once, so it may be gone before the client's INFO or ATCH, which then fails).
fn expected(script: &Script) -> Option<Expected> {
    let reads_to_the_end = matches!(script.end, End::Silent | End::HalfClose);
    if !script.edits.is_empty() || !reads_to_the_end || script.style != Style::Drains {
        return None;
    }
    match &script.greeting {
        Greeting::Raw(_) => None,
        Greeting::Binary { version, replies: b } => {
            if !matches!(version.value(), 2 | 4 | 6) {
                return Some(Expected::Unsupported);
            }
            match b.auth {
                Tag::Accept => {}
                Tag::Reject => return Some(Expected::WrongSecret),
                Tag::Other(_) => return None,
            }
            if script.attach {
                return match b.attach {
                    Tag::Accept => Some(Expected::Ok { pid: b.pid }),
                    Tag::Reject => Some(Expected::AlreadyAttached),
                    Tag::Other(_) => None,
                };
            }
            [&b.executable, &b.user, &b.python_version]
                .iter()
                .all(|s| s.is_valid())
                .then_some(Expected::Ok { pid: b.pid })
        }
        Greeting::Json { version, connected, replies: j } => {
            if !connected {
                return None;
            }
            if !matches!(version.value(), 7 | 8) {
                return Some(Expected::Unsupported);
            }
            let confusing = j.noise.iter().take(4).any(|n| matches!(n, Noise::Response { request_seq: 1 | 2, .. }));
            if confusing {
                return None;
            }
            let auth = &j.auth;
            if !matches!(auth.request_seq, Seq::Right) {
                return None;
            }
            if !auth.success {
                return Some(Expected::Refused);
            }
            if auth.accepted != Some(true) {
                return Some(Expected::WrongSecret);
            }
            let reply = if script.attach { &j.attach } else { &j.info };
            if !matches!(reply.request_seq, Seq::Right) {
                return None;
            }
            if !reply.success {
                return Some(Expected::Refused);
            }
            if script.attach && reply.accepted != Some(true) {
                return Some(Expected::AlreadyAttached);
            }
            let pid = reply.ints[0].int()?;
            if script.attach && reply.ints[1..].iter().any(|f| f.int().is_none()) {
                return None;
            }
            Some(Expected::Ok { pid })
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
