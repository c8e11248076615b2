//! Whole recorded sessions through the decoders, in one piece and in random chunks:
//! stream boundaries (TCP segments, WebSocket messages) carry no meaning.

use super::{command_stream, decode_in_chunks, event_stream, Chunks, ALL};
use crate::legacy::binary::{BinaryClientCodec, BinaryServerCodec};
use crate::legacy::wire::Limits;

#[test]
fn recorded_event_streams_decode_the_same_in_any_chunking() {
    for (name, transcript) in ALL {
        let (bytes, count) = event_stream(transcript);
        let mut codec = BinaryClientCodec::new(6, Limits::default());
        let whole = decode_in_chunks(&mut codec, &bytes, || bytes.len()).unwrap();
        assert_eq!(whole.len(), count, "{name}");
        for seed in 0..8 {
            let mut sizes = Chunks::new(seed);
            let mut codec = BinaryClientCodec::new(6, Limits::default());
            let chunked = decode_in_chunks(&mut codec, &bytes, || sizes.next(64)).unwrap();
            assert!(chunked == whole, "{name}, seed {seed}");
        }
    }
}

#[test]
fn a_recorded_event_stream_decodes_one_byte_at_a_time() {
    let (bytes, count) = event_stream(super::MAIN);
    let mut codec = BinaryClientCodec::new(6, Limits::default());
    let events = decode_in_chunks(&mut codec, &bytes, || 1).unwrap();
    assert_eq!(events.len(), count);
}

#[test]
fn recorded_command_streams_decode_the_same_in_any_chunking() {
    for (name, transcript) in ALL {
        let (bytes, count) = command_stream(transcript);
        let mut codec = BinaryServerCodec::new(6, Limits::default());
        let whole = decode_in_chunks(&mut codec, &bytes, || bytes.len()).unwrap();
        assert_eq!(whole.len(), count, "{name}");
        for seed in 0..8 {
            let mut sizes = Chunks::new(seed);
            let mut codec = BinaryServerCodec::new(6, Limits::default());
            let chunked = decode_in_chunks(&mut codec, &bytes, || sizes.next(64)).unwrap();
            assert_eq!(chunked, whole, "{name}, seed {seed}");
        }
    }
}
