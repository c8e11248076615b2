//! The binary dialect (v2/v4/v6): arbitrary bytes through `BinaryClientCodec` (what a
//! ptvsd server sends us) and `BinaryServerCodec` (what a fake peer reads from us).
//!
//! Input: byte 0 picks the version (`% 3`: 2, 4, 6) and the chunking (`/ 3`); the rest is
//! the stream, read by both codecs. Checks: no panic; no allocation beyond the caps; the
//! same messages and the same verdict whether the stream arrives whole or in pieces; and
//! every message decoded, encoded again by the opposite side, decodes to the same value.
#![no_main]

use bytes::BytesMut;
use fuzz_support::{cap_allocations, chunk_sizes, feed, CappedAlloc, Decoded};
use libfuzzer_sys::fuzz_target;
use ptvsd_dap::legacy::binary::{BinaryClientCodec, BinaryServerCodec};
use ptvsd_dap::legacy::messages::{Command, Event};
use ptvsd_dap::legacy::Limits;
use tokio_util::codec::{Decoder, Encoder};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// Small limits: claimed lengths and counts over them are common in fuzzed input.
const LIMITS: Limits = Limits { max_string: 2 << 10, max_count: 64, max_message: 8 << 10 };

fuzz_target!(|data: &[u8]| {
    cap_allocations(1 << 20, 64 << 20);
    let Some((&control, stream)) = data.split_first() else { return };
    let version = [2, 4, 6][usize::from(control % 3)];
    let sizes = chunk_sizes(control / 3, stream.len());

    let events = feed(&mut BinaryClientCodec::new(version, LIMITS), stream, &sizes);
    let whole = feed(&mut BinaryClientCodec::new(version, LIMITS), stream, &[stream.len()]);
    same_verdict(&events, &whole, "events");
    bounded(&events);

    let commands = feed(&mut BinaryServerCodec::new(version, LIMITS), stream, &sizes);
    let whole = feed(&mut BinaryServerCodec::new(version, LIMITS), stream, &[stream.len()]);
    same_verdict(&commands, &whole, "commands");
    bounded(&commands);

    for event in events.items {
        event_round_trips(version, event);
    }
    for command in commands.items {
        command_round_trips(version, command);
    }
});

/// The module promises results that do not depend on the chunking. Which error ends the
/// stream may (a message over `max_message` is refused as soon as that is known, while the
/// whole stream may show a corrupt field first), but not whether one does.
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
    // An incomplete message is refused as soon as it is known to need more than
    // `max_message` bytes, so what waits for more is always less than that.
    assert!(decoded.max_buffered < LIMITS.max_message, "buffered {} bytes", decoded.max_buffered);
}

fn event_round_trips(version: i64, event: Event) {
    let mut bytes = BytesMut::new();
    if let Err(error) = BinaryServerCodec::new(version, Limits::default()).encode(event.clone(), &mut bytes) {
        panic!("v{version}: could not encode the decoded {event:?}: {error}");
    }
    // Default limits: a null string re-encoded as an empty one, or Latin-1 as UTF-8, grows.
    let mut codec = BinaryClientCodec::new(version, Limits::default());
    let again = codec.decode_eof(&mut bytes);
    let expected = canonical(version, event);
    match again {
        Ok(Some(again)) => assert_eq!(again, expected, "v{version}: the event changed in a round trip"),
        other => panic!("v{version}: {expected:?} did not decode again: {other:?}"),
    }
    assert!(bytes.is_empty(), "v{version}: {} bytes left after a round trip", bytes.len());
}

/// What a decoded event looks like after the fake server writes it: v2 `CHLD` carries
/// named attributes first, then `[…]` items, so the server writes them in that order.
fn canonical(version: i64, event: Event) -> Event {
    match event {
        Event::Children { execution_id, children } if version < 4 => {
            let (mut attributes, indices): (Vec<_>, Vec<_>) =
                children.into_iter().partition(|child| !child.name.starts_with('['));
            attributes.extend(indices);
            Event::Children { execution_id, children: attributes }
        }
        other => other,
    }
}

fn command_round_trips(version: i64, command: Command) {
    let mut bytes = BytesMut::new();
    if let Err(error) = BinaryClientCodec::new(version, Limits::default()).encode(command.clone(), &mut bytes) {
        panic!("v{version}: could not encode the decoded {command:?}: {error}");
    }
    let mut codec = BinaryServerCodec::new(version, Limits::default());
    match codec.decode_eof(&mut bytes) {
        Ok(Some(again)) => assert_eq!(again, command, "v{version}: the command changed in a round trip"),
        other => panic!("v{version}: {command:?} did not decode again: {other:?}"),
    }
    assert!(bytes.is_empty(), "v{version}: {} bytes left after a round trip", bytes.len());
}
