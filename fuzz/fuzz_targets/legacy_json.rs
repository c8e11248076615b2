//! The JSON dialect (v7/v8): arbitrary bytes through `decode_frame`, `JsonClientCodec`
//! (what a ptvsd 3.1/3.2 server sends us) and `JsonServerCodec` (what a fake peer reads).
//!
//! Input: byte 0 picks the version (bit 0: 7 or 8) and the chunking (bits 1-7); the rest
//! is the stream. Checks: no panic; no allocation beyond the caps; nothing buffered beyond
//! a header and a body; the same results whole or in pieces; and every message decoded,
//! encoded again by the opposite side, decodes to the same value.
#![no_main]

use bytes::BytesMut;
use fuzz_support::{cap_allocations, chunk_sizes, feed, CappedAlloc, Decoded};
use libfuzzer_sys::fuzz_target;
use ptvsd_dap::legacy::json::{decode_frame, encode_frame, JsonClientCodec, JsonServerCodec};
use ptvsd_dap::legacy::messages::{Command, Event};
use ptvsd_dap::legacy::{Limits, ProtocolError};
use serde_json::Value;
use tokio_util::codec::{Decoder, Encoder};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

const LIMITS: Limits = Limits { max_string: 2 << 10, max_count: 64, max_message: 8 << 10 };
/// `frame::MAX_HEADER`, which is not public.
const MAX_HEADER: usize = 8 << 10;

fuzz_target!(|data: &[u8]| {
    cap_allocations(1 << 20, 64 << 20);
    let Some((&control, stream)) = data.split_first() else { return };
    let version = if control & 1 == 0 { 7 } else { 8 };
    let sizes = chunk_sizes(control >> 1, stream.len());

    let frames = feed(&mut Frames, stream, &sizes);
    let whole = feed(&mut Frames, stream, &[stream.len()]);
    same_verdict(&frames, &whole, "frames");
    bounded(&frames);

    let events = feed(&mut JsonClientCodec::new(version, LIMITS, 1), stream, &sizes);
    let whole = feed(&mut JsonClientCodec::new(version, LIMITS, 1), stream, &[stream.len()]);
    same_verdict(&events, &whole, "events");
    bounded(&events);

    let commands = feed(&mut JsonServerCodec::new(version, LIMITS), stream, &sizes);
    let whole = feed(&mut JsonServerCodec::new(version, LIMITS), stream, &[stream.len()]);
    same_verdict(&commands, &whole, "commands");
    bounded(&commands);

    for frame in frames.items {
        frame_round_trips(frame);
    }
    for event in events.items {
        event_round_trips(version, event);
    }
    for command in commands.items {
        command_round_trips(version, command);
    }
});

/// `decode_frame` as a `Decoder`, the way the handshake uses it.
struct Frames;

impl Decoder for Frames {
    type Item = Value;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Value>, ProtocolError> {
        decode_frame(src, &LIMITS)
    }
}

fn same_verdict<T: PartialEq + std::fmt::Debug>(chunked: &Decoded<T>, whole: &Decoded<T>, what: &str) {
    assert_eq!(chunked.items, whole.items, "{what} depend on the chunking");
    assert_eq!(
        chunked.error.is_some(),
        whole.error.is_some(),
        "{what}: the verdict depends on the chunking: chunked {:?}, whole {:?}",
        chunked.error,
        whole.error
    );
}

fn bounded<T>(decoded: &Decoded<T>) {
    assert!(decoded.max_buffered <= MAX_HEADER + LIMITS.max_message, "buffered {} bytes", decoded.max_buffered);
}

/// A frame we read, framed again, reads back the same (the framing carries any value).
fn frame_round_trips(value: Value) {
    let mut bytes = BytesMut::new();
    encode_frame(&value, &mut bytes);
    let again = decode_frame(&mut bytes, &Limits::default());
    match again {
        // Floats may come back one ulp off (serde_json without `float_roundtrip`).
        Ok(Some(again)) => assert!(again == value || has_float(&value), "{value} came back as {again}"),
        other => panic!("{value} did not decode again: {other:?}"),
    }
    assert!(bytes.is_empty());
}

fn event_round_trips(version: i64, event: Event) {
    let mut bytes = BytesMut::new();
    if let Err(error) = JsonServerCodec::new(version, Limits::default()).encode(event.clone(), &mut bytes) {
        panic!("v{version}: could not encode the decoded {event:?}: {error}");
    }
    let mut codec = JsonClientCodec::new(version, Limits::default(), 1);
    match codec.decode_eof(&mut bytes) {
        Ok(Some(again)) => assert_eq!(again, event, "v{version}: the event changed in a round trip"),
        other => panic!("v{version}: {event:?} did not decode again: {other:?}"),
    }
    assert!(bytes.is_empty(), "v{version}: {} bytes left after a round trip", bytes.len());
}

fn command_round_trips(version: i64, command: Command) {
    // The hit-count request's id is the request's seq on the wire.
    let first_seq = match command {
        Command::GetBreakpointHitCount { request_id, .. } => request_id,
        _ => 1,
    };
    let mut bytes = BytesMut::new();
    if let Err(error) = JsonClientCodec::new(version, Limits::default(), first_seq).encode(command.clone(), &mut bytes)
    {
        panic!("v{version}: could not encode the decoded {command:?}: {error}");
    }
    let mut codec = JsonServerCodec::new(version, Limits::default());
    match codec.decode_eof(&mut bytes) {
        Ok(Some(again)) => assert_eq!(again, command, "v{version}: the command changed in a round trip"),
        other => panic!("v{version}: {command:?} did not decode again: {other:?}"),
    }
    // A detach is followed by the goodbye request, which the server side skips.
    if command == Command::Detach {
        assert!(matches!(codec.decode_eof(&mut bytes), Ok(None)), "v{version}: the goodbye after a detach was not skipped");
    }
    assert!(bytes.is_empty(), "v{version}: {} bytes left after a round trip", bytes.len());
}

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}
