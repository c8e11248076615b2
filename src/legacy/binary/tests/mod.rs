//! Tests of the binary codec: golden bytes from live ptvsd 3.0.0 transcripts, whole
//! sessions fed in random chunks, round trips for every message and version, and
//! malformed input.

mod golden;
mod malformed;
mod roundtrip;
mod stream;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::{BinaryClientCodec, BinaryServerCodec};
use crate::legacy::messages::{Command, Event};
use crate::legacy::wire::Limits;
use crate::legacy::ProtocolError;

/// Transcripts of live v6 sessions (copies of `shared/docs/probe/transcript_v6*.txt`).
pub(super) const MAIN: &str = include_str!("../../../../tests/fixtures/legacy/transcript_v6.txt");
pub(super) const EXTRAS: &str = include_str!("../../../../tests/fixtures/legacy/transcript_v6_extras.txt");
pub(super) const PLAIN: &str = include_str!("../../../../tests/fixtures/legacy/transcript_v6_extras_plain.txt");
pub(super) const LAUNCH: &str = include_str!("../../../../tests/fixtures/legacy/transcript_v6_launch.txt");
pub(super) const STEPBUG: &str = include_str!("../../../../tests/fixtures/legacy/transcript_v6_stepbug.txt");
pub(super) const SETL: &str = include_str!("../../../../tests/fixtures/legacy/transcript_v6_setl.txt");

pub(super) const ALL: [(&str, &str); 6] = [
    ("transcript_v6.txt", MAIN),
    ("transcript_v6_extras.txt", EXTRAS),
    ("transcript_v6_extras_plain.txt", PLAIN),
    ("transcript_v6_launch.txt", LAUNCH),
    ("transcript_v6_stepbug.txt", STEPBUG),
    ("transcript_v6_setl.txt", SETL),
];

/// Client → server messages of the handshake, which this codec does not speak.
const HANDSHAKE_LABELS: [&str; 3] = ["signature echo", "secret", "ATCH + debug options"];

/// One message of a transcript.
#[derive(Debug)]
pub(super) struct Recorded {
    pub from_server: bool,
    pub label: String,
    pub bytes: Vec<u8>,
}

impl Recorded {
    /// A server event of the debug session (`event XXXX`).
    pub fn is_event(&self) -> bool {
        self.from_server && self.label.starts_with("event ")
    }

    /// A client command of the debug session.
    pub fn is_command(&self) -> bool {
        !self.from_server && !HANDSHAKE_LABELS.contains(&self.label.as_str())
    }
}

/// Parses a transcript: `[  0.006] S->C label  (N bytes)` headers, each followed by hex
/// dump lines `      0000  50 54 …  |ascii|`. Notes (`## …`) are skipped.
pub(super) fn recorded(transcript: &str) -> Vec<Recorded> {
    let mut out: Vec<(Recorded, usize)> = Vec::new();
    for line in transcript.lines() {
        if line.starts_with('[') {
            let (_, rest) = line.split_once("] ").unwrap();
            let (from_server, rest) = match (rest.strip_prefix("S->C "), rest.strip_prefix("C->S ")) {
                (Some(rest), _) => (true, rest),
                (None, Some(rest)) => (false, rest),
                (None, None) => continue,
            };
            let open = rest.rfind("  (").unwrap();
            let size: usize = rest[open + 3..].trim_end_matches(" bytes)").parse().unwrap();
            let label = rest[..open].to_string();
            out.push((Recorded { from_server, label, bytes: Vec::new() }, size));
        } else if let Some(dump) = line.strip_prefix("      ") {
            assert!(!dump.contains("bytes elided"), "a transcript with elided bytes cannot be replayed");
            let Some((offset, rest)) = dump.split_once("  ") else {
                continue;
            };
            if offset.len() != 4 || !offset.chars().all(|c| c.is_ascii_hexdigit()) {
                continue;
            }
            let (hex, _) = rest.split_once("  |").unwrap();
            let (message, _) = out.last_mut().unwrap();
            message.bytes.extend(hex.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()));
        }
    }
    out.into_iter()
        .map(|(message, size)| {
            assert_eq!(message.bytes.len(), size, "size of {:?}", message.label);
            message
        })
        .collect()
}

/// The bytes of the `nth` message (0-based) with this exact label.
pub(super) fn message(transcript: &str, label: &str, nth: usize) -> Vec<u8> {
    recorded(transcript).into_iter().filter(|m| m.label == label).nth(nth).unwrap().bytes
}

/// Everything the server sent after attach, as one byte stream, and how many events.
pub(super) fn event_stream(transcript: &str) -> (Vec<u8>, usize) {
    let events: Vec<Recorded> = recorded(transcript).into_iter().filter(Recorded::is_event).collect();
    (events.iter().flat_map(|m| m.bytes.clone()).collect(), events.len())
}

/// Everything the client sent after attach, as one byte stream, and how many commands.
pub(super) fn command_stream(transcript: &str) -> (Vec<u8>, usize) {
    let commands: Vec<Recorded> = recorded(transcript).into_iter().filter(Recorded::is_command).collect();
    (commands.iter().flat_map(|m| m.bytes.clone()).collect(), commands.len())
}

pub(super) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<char> = text.chars().filter(char::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(&pair.iter().collect::<String>(), 16).unwrap()).collect()
}

pub(super) fn i64_bytes(value: i64) -> [u8; 8] {
    value.to_be_bytes()
}

/// Decodes exactly one event that spans all of `bytes`.
pub(super) fn decode_event(version: i64, bytes: &[u8]) -> Result<Event, ProtocolError> {
    let mut codec = BinaryClientCodec::new(version, Limits::default());
    let mut src = BytesMut::from(bytes);
    let event = codec.decode(&mut src)?.unwrap();
    assert!(src.is_empty(), "{} bytes left after {event:?}", src.len());
    Ok(event)
}

/// Decodes exactly one command that spans all of `bytes`.
pub(super) fn decode_command(version: i64, bytes: &[u8]) -> Result<Command, ProtocolError> {
    let mut codec = BinaryServerCodec::new(version, Limits::default());
    let mut src = BytesMut::from(bytes);
    let command = codec.decode(&mut src)?.unwrap();
    assert!(src.is_empty(), "{} bytes left after {command:?}", src.len());
    Ok(command)
}

pub(super) fn encode_command(version: i64, command: Command) -> Result<Vec<u8>, ProtocolError> {
    let mut dst = BytesMut::new();
    BinaryClientCodec::new(version, Limits::default()).encode(command, &mut dst)?;
    Ok(dst.to_vec())
}

pub(super) fn encode_event(version: i64, event: Event) -> Result<Vec<u8>, ProtocolError> {
    let mut dst = BytesMut::new();
    BinaryServerCodec::new(version, Limits::default()).encode(event, &mut dst)?;
    Ok(dst.to_vec())
}

/// A deterministic xorshift generator for chunk sizes.
pub(super) struct Chunks(u64);

impl Chunks {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A chunk size in `1..=max`.
    pub fn next(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % max as u64) as usize + 1
    }
}

/// Feeds `bytes` to a decoder in chunks of the given sizes, collecting every item, then
/// signals end of stream.
pub(super) fn decode_in_chunks<D: Decoder<Error = ProtocolError>>(
    codec: &mut D,
    bytes: &[u8],
    mut chunk: impl FnMut() -> usize,
) -> Result<Vec<D::Item>, ProtocolError> {
    let mut src = BytesMut::new();
    let mut items = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let end = (pos + chunk()).min(bytes.len());
        src.extend_from_slice(&bytes[pos..end]);
        pos = end;
        while let Some(item) = codec.decode(&mut src)? {
            items.push(item);
        }
    }
    while let Some(item) = codec.decode_eof(&mut src)? {
        items.push(item);
    }
    Ok(items)
}
