//! The dialect-neutral codec: one type for the session to frame the remote stream with.
//!
//! Owns: [`Dialect`] and [`ClientCodec`] (binary or JSON behind one `Decoder<Item =
//! Event>` + `Encoder<Command>`), and [`ServerCodec`], its mirror for fake peers.
//! Must not know: the handshake, transports or DAP.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::binary::{BinaryClientCodec, BinaryServerCodec};
use super::error::ProtocolError;
use super::json::{JsonClientCodec, JsonServerCodec};
use super::messages::{Command, Event};
use super::wire::Limits;

/// Which wire dialect a server speaks, with its protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `PTVSDBG` + i64 version: 2 (ptvsd 2.0), 4 (2.1) or 6 (2.2, 3.0).
    Binary { version: i64 },
    /// `Content-Length` framed JSON: 7 (ptvsd 3.1) or 8 (3.2).
    Json { version: i64 },
}

impl Dialect {
    pub fn version(self) -> i64 {
        match self {
            Dialect::Binary { version } | Dialect::Json { version } => version,
        }
    }

    /// `"binary"` or `"json"`.
    pub fn family(self) -> &'static str {
        match self {
            Dialect::Binary { .. } => "binary",
            Dialect::Json { .. } => "json",
        }
    }

    /// Protocol versions this crate speaks.
    pub fn is_supported(self) -> bool {
        match self {
            Dialect::Binary { version } => matches!(version, 2 | 4 | 6),
            Dialect::Json { version } => matches!(version, 7 | 8),
        }
    }

    /// Whether the server answers a breakpoint hit-count request (`bkgh`): binary v2 and
    /// v4 (ptvsd 2.0, 2.1) have no such command.
    pub fn answers_hit_count(self) -> bool {
        !matches!(self, Dialect::Binary { version } if version < 6)
    }

    /// The ptvsd releases that speak this version, for messages.
    pub fn releases(self) -> &'static str {
        match self.version() {
            2 => "ptvsd 2.0",
            4 => "ptvsd 2.1",
            6 => "ptvsd 2.2 or 3.0",
            7 => "ptvsd 3.1",
            8 => "ptvsd 3.2",
            _ => "an unknown ptvsd release",
        }
    }
}

/// A read buffer emptied of a message bigger than this is let go rather than kept.
const KEPT_READ_CAPACITY: usize = 64 * 1024;
/// What a let-go read buffer starts again with (tokio-util's own initial size).
const FRESH_READ_CAPACITY: usize = 8 * 1024;

/// Lets go of a read buffer that grew for one big message (a megabyte of children) once
/// it is empty: its memory is returned as soon as the decoded message's bytes are dropped,
/// not kept for the rest of the session, and it is not alive while the session turns
/// that message into its DAP answer. The next read starts a small buffer.
fn release_big_buffer(src: &mut BytesMut) {
    if src.is_empty() && src.capacity() > KEPT_READ_CAPACITY {
        *src = BytesMut::with_capacity(FRESH_READ_CAPACITY);
    }
}

/// The client side of a session, whichever dialect the server speaks.
#[derive(Debug)]
pub enum ClientCodec {
    Binary(BinaryClientCodec),
    Json(JsonClientCodec),
}

impl ClientCodec {
    pub fn new(dialect: Dialect, limits: Limits, first_json_seq: i64) -> Self {
        match dialect {
            Dialect::Binary { version } => ClientCodec::Binary(BinaryClientCodec::new(version, limits)),
            Dialect::Json { version } => ClientCodec::Json(JsonClientCodec::new(version, limits, first_json_seq)),
        }
    }
}

impl Decoder for ClientCodec {
    type Item = Event;
    type Error = ProtocolError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        let event = match self {
            ClientCodec::Binary(c) => c.decode(src),
            ClientCodec::Json(c) => c.decode(src),
        };
        release_big_buffer(src);
        event
    }

    /// The dialect's own: it names what was cut off (e.g. a truncated `OUTP`, spec §6.3),
    /// where the default says only "bytes remaining on stream".
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        match self {
            ClientCodec::Binary(c) => c.decode_eof(src),
            ClientCodec::Json(c) => c.decode_eof(src),
        }
    }
}

impl Encoder<Command> for ClientCodec {
    type Error = ProtocolError;
    fn encode(&mut self, item: Command, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match self {
            ClientCodec::Binary(c) => c.encode(item, dst),
            ClientCodec::Json(c) => c.encode(item, dst),
        }
    }
}

/// The server side, for fake peers in tests.
#[derive(Debug)]
pub enum ServerCodec {
    Binary(BinaryServerCodec),
    Json(JsonServerCodec),
}

impl ServerCodec {
    pub fn new(dialect: Dialect, limits: Limits) -> Self {
        match dialect {
            Dialect::Binary { version } => ServerCodec::Binary(BinaryServerCodec::new(version, limits)),
            Dialect::Json { version } => ServerCodec::Json(JsonServerCodec::new(version, limits)),
        }
    }
}

impl Decoder for ServerCodec {
    type Item = Command;
    type Error = ProtocolError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        match self {
            ServerCodec::Binary(c) => c.decode(src),
            ServerCodec::Json(c) => c.decode(src),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        match self {
            ServerCodec::Binary(c) => c.decode_eof(src),
            ServerCodec::Json(c) => c.decode_eof(src),
        }
    }
}

impl Encoder<Event> for ServerCodec {
    type Error = ProtocolError;
    fn encode(&mut self, item: Event, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match self {
            ServerCodec::Binary(c) => c.encode(item, dst),
            ServerCodec::Json(c) => c.encode(item, dst),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// Found by the `handshake` fuzz target (one byte, `[0]`, left after an attach reply,
    /// then the server closed): the session frames the remote stream with `ClientCodec`,
    /// which did not pass `decode_eof` on to the dialect's codec, so the end of a stream
    /// in the middle of a message read as "bytes remaining on stream", and a truncated
    /// `OUTP` (spec §6.3) never became [`ProtocolError::TruncatedOutput`].
    #[test]
    fn end_of_stream_is_judged_by_the_dialect_codec() {
        let binary = Dialect::Binary { version: 2 };
        let mut codec = ClientCodec::new(binary, Limits::default(), 1);
        let err = codec.decode_eof(&mut BytesMut::from(&[0u8][..])).unwrap_err();
        assert!(err.to_string().contains("closed in the middle of"), "{err}");

        let mut codec = ClientCodec::new(Dialect::Binary { version: 6 }, Limits::default(), 1);
        let mut truncated_output = BytesMut::from(&b"OUTP"[..]);
        truncated_output.extend_from_slice(&7i64.to_be_bytes());
        assert!(matches!(codec.decode_eof(&mut truncated_output), Err(ProtocolError::TruncatedOutput)));

        let mut codec = ClientCodec::new(Dialect::Json { version: 8 }, Limits::default(), 1);
        let err = codec.decode_eof(&mut BytesMut::from(&b"Content-Length: 5\r\n\r\n{"[..])).unwrap_err();
        assert!(err.to_string().contains("in the middle of a JSON message"), "{err}");

        let mut codec = ServerCodec::new(binary, Limits::default());
        let err = codec.decode_eof(&mut BytesMut::from(&b"stpi"[..])).unwrap_err();
        assert!(err.to_string().contains("closed in the middle of"), "{err}");

        // A clean end is still clean.
        let mut codec = ClientCodec::new(binary, Limits::default(), 1);
        assert!(codec.decode_eof(&mut BytesMut::new()).unwrap().is_none());
    }
}
