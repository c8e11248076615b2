//! The editor's byte stream: arbitrary bytes through `DapCodec`, cut into reads derived
//! from the input, then every frame through `Incoming::from` and `RequestCommand::parse`,
//! and every answer the session could build back through the encoder.
//!
//! Input: byte 0 picks the limits (bit 7) and the chunking (bits 0-6); the rest is the
//! stream. Checks: no panic; nothing buffered beyond the limits; no body over
//! `max_message`; the same frames whether the stream arrives whole or in pieces; every
//! well-formed message survives encode → decode.
#![no_main]

use bytes::BytesMut;
use fuzz_support::{cap_allocations, chunk_sizes, feed, CappedAlloc, Decoded};
use libfuzzer_sys::fuzz_target;
use ptvsd_dap::dap::{DapCodec, DapLimits, Frame, Incoming, Message, RequestCommand, Response};
use serde_json::Value;
use tokio_util::codec::{Decoder, Encoder};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// Small limits, so that over-limit lengths and headers are common.
const TINY: DapLimits = DapLimits { max_message: 256, max_header: 64 };
const SMALL: DapLimits = DapLimits { max_message: 8 << 10, max_header: 1 << 10 };

fuzz_target!(|data: &[u8]| {
    // Nothing here needs more than a few MiB; a length trusted before it is checked would.
    cap_allocations(1 << 20, 64 << 20);
    let Some((&control, stream)) = data.split_first() else { return };
    let limits = if control & 0x80 != 0 { TINY } else { SMALL };

    let chunked = feed(&mut DapCodec::with_limits(limits), stream, &chunk_sizes(control & 0x7f, stream.len()));
    let whole = feed(&mut DapCodec::with_limits(limits), stream, &[stream.len()]);

    check_bounds(&chunked, limits);
    check_bounds(&whole, limits);
    assert_eq!(
        shape(&chunked),
        shape(&whole),
        "the frames depend on how the stream was cut (chunked {:?} vs whole {:?})",
        chunked.items,
        whole.items
    );

    for frame in chunked.items {
        interpret(frame);
    }
});

fn check_bounds(decoded: &Decoded<Frame>, limits: DapLimits) {
    // Waiting in the header: at most a header section; in a body: less than the body.
    let cap = limits.max_header.max(limits.max_message);
    assert!(decoded.max_buffered <= cap, "buffered {} bytes, limits {limits:?}", decoded.max_buffered);
    for frame in &decoded.items {
        if let Frame::NotJson(not_json) = frame {
            assert!(not_json.raw.len() <= limits.max_message, "a body of {} bytes came through", not_json.raw.len());
        }
    }
}

/// The frames with framing errors reduced to their kind of event: where a broken header
/// is noticed (a partial line that cannot become a header fails at once) and so what the
/// error quotes may depend on the cuts; that an error happened, and what follows it, may not.
fn shape(decoded: &Decoded<Frame>) -> (Vec<String>, bool) {
    let frames = decoded
        .items
        .iter()
        .map(|frame| match frame {
            Frame::Json(value) => format!("json {value}"),
            Frame::NotJson(not_json) => format!("not json {:?}", not_json.raw),
            Frame::Framing(_) => "framing error".to_owned(),
        })
        .collect();
    (frames, decoded.error.is_some())
}

/// What the session does with a frame, and what it could send back.
fn interpret(frame: Frame) {
    match Incoming::from(frame) {
        Incoming::Message(message) => {
            if let Message::Request(request) = &message {
                match RequestCommand::parse(request) {
                    Ok(command) => {
                        let _ = format!("{command:?}");
                        encodes(Response::ack(request).into());
                    }
                    Err(error) => encodes(Response::error(request, error.to_string(), None).into()),
                }
            }
            round_trips(message);
        }
        Incoming::Malformed(malformed) => {
            if let Some(response) = malformed.error_response() {
                assert!(!response.success);
                encodes(response.into());
            }
        }
        Incoming::Framing(error) => {
            let _ = error.to_string();
        }
    }
}

fn encodes(message: Message) {
    let mut out = BytesMut::new();
    if let Err(error) = DapCodec::new().encode(&message, &mut out) {
        panic!("could not encode {message:?}: {error}");
    }
}

/// A message we read, written back and read again, is the same message. Skipped for
/// messages with floats: serde_json without `float_roundtrip` may read its own output of
/// a float one ulp off.
fn round_trips(message: Message) {
    let mut out = BytesMut::new();
    if let Err(error) = DapCodec::new().encode(&message, &mut out) {
        panic!("could not encode {message:?}: {error}");
    }
    let value = serde_json::to_value(&message).unwrap_or(Value::Null);
    if has_float(&value) {
        return;
    }
    let again = DapCodec::new().decode(&mut out);
    let Ok(Some(Frame::Json(value))) = again else {
        panic!("{message:?} did not decode again: {again:?}");
    };
    let again = Message::from_value(value);
    assert_eq!(again.as_ref().ok(), Some(&message), "round trip changed the message: {again:?}");
    assert!(out.is_empty());
}

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}
