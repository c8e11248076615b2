//! The live transcripts (copied from `shared/docs/probe/`) and helpers to replay them.
//!
//! A transcript line looks like
//! `[  0.096] S->C Content-Length: 97\r\n\r\n{"type": "event", …}` where `\r\n` is written
//! as the four characters `\`, `r`, `\`, `n`. ptvsd's bodies are pure ASCII, so the text
//! after the header is byte-for-byte what was on the wire. Lines of other shapes (notes,
//! the pipelining experiment of the misc run) are skipped.

use bytes::BytesMut;
use serde_json::Value;
use tokio_util::codec::Decoder;

use crate::legacy::json::JsonClientCodec;
use crate::legacy::messages::Event;
use crate::legacy::wire::Limits;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/legacy/", $name))
    };
}

/// ptvsd 3.2.1 main scenario.
pub const V8: &str = fixture!("json_transcript_v8.txt");
/// ptvsd 3.2.1: exception, handler query, async break, setl, hit count, detach.
pub const V8_EXTRAS: &str = fixture!("json_transcript_v8_extras.txt");
/// ptvsd 3.2.1: several connections (rejects, pipelining, lone surrogate, re-attach).
pub const V8_MISC: &str = fixture!("json_transcript_v8_misc.txt");
/// ptvsd 3.2.1: step onto a breakpoint, auto-resume failure.
pub const V8_STEPBUG: &str = fixture!("json_transcript_v8_stepbug.txt");
/// ptvsd 3.2.1: set next line on 3.11 (fails with result 0).
pub const V8_SETL: &str = fixture!("json_transcript_v8_setl.txt");
/// ptvsd 3.2.1: uncaught exception (`breaktype: unhandled`, stderr output).
pub const V8_UNCAUGHT: &str = fixture!("json_transcript_v8_uncaught.txt");
/// ptvsd 3.1.0 main scenario.
pub const V7: &str = fixture!("json_transcript_v7.txt");

pub const ALL: &[(&str, &str)] = &[
    ("v8", V8),
    ("v8_extras", V8_EXTRAS),
    ("v8_misc", V8_MISC),
    ("v8_stepbug", V8_STEPBUG),
    ("v8_setl", V8_SETL),
    ("v8_uncaught", V8_UNCAUGHT),
    ("v7", V7),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ServerToClient,
    ClientToServer,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub dir: Dir,
    pub body: String,
}

impl Entry {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Every framed message of a transcript, in order.
pub fn entries(transcript: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in transcript.lines() {
        let (dir, rest) = if let Some(at) = line.find("] S->C Content-Length: ") {
            (Dir::ServerToClient, &line[at + "] S->C Content-Length: ".len()..])
        } else if let Some(at) = line.find("] C->S Content-Length: ") {
            (Dir::ClientToServer, &line[at + "] C->S Content-Length: ".len()..])
        } else {
            continue;
        };
        let (length, body) = rest.split_once("\\r\\n\\r\\n").unwrap();
        let length: usize = length.parse().unwrap();
        assert_eq!(body.len(), length, "transcript body length mismatch in {line}");
        out.push(Entry { dir, body: body.to_owned() });
    }
    out
}

/// One framed message as ptvsd sends it.
pub fn framed(body: &str) -> Vec<u8> {
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Everything the server sent, as one byte stream.
pub fn server_stream(transcript: &str) -> Vec<u8> {
    entries(transcript).iter().filter(|e| e.dir == Dir::ServerToClient).flat_map(|e| framed(&e.body)).collect()
}

/// A client codec as the session creates it after a JSON handshake (seqs 1 and 2 used).
pub fn client(version: i64) -> JsonClientCodec {
    JsonClientCodec::new(version, Limits::default(), 3)
}

/// Decodes everything in `bytes` in one piece; the buffer must end empty.
pub fn decode_all(codec: &mut JsonClientCodec, bytes: &[u8]) -> Vec<Event> {
    let mut buf = BytesMut::from(bytes);
    let mut events = Vec::new();
    while let Some(event) = codec.decode(&mut buf).unwrap() {
        events.push(event);
    }
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    events
}

/// Decodes the whole server stream of a transcript with a fresh client codec.
pub fn decode_transcript(transcript: &str, version: i64) -> Vec<Event> {
    decode_all(&mut client(version), &server_stream(transcript))
}
