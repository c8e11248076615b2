//! The JSON dialect (protocol versions 7 and 8: ptvsd 3.1 and 3.2), spec §1.3 and §3.
//!
//! Owns: `Content-Length` framing ([`decode_frame`], [`encode_frame`], also used by the
//! handshake) and lenient JSON parsing (ptvsd emits lone surrogate escapes such as
//! `"\udc80"`, which are read as U+FFFD). The codecs below are still stubs.
//! Must not know: DAP, transports, the handshake sequence, or the binary dialect.

mod frame;

#[cfg(test)]
mod tests;

pub use self::frame::{decode_frame, encode_frame};

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::error::ProtocolError;
use super::messages::{Command, Event};
use super::wire::Limits;

/// Client side: decodes server events and responses, encodes client commands.
#[derive(Debug)]
pub struct JsonClientCodec {
    pub(crate) version: i64,
    pub(crate) limits: Limits,
}

impl JsonClientCodec {
    /// `first_seq`: the first request seq to use (the handshake used the ones before it).
    pub fn new(version: i64, limits: Limits, first_seq: i64) -> Self {
        let _ = first_seq;
        Self { version, limits }
    }
}

impl Decoder for JsonClientCodec {
    type Item = Event;
    type Error = ProtocolError;
    fn decode(&mut self, _src: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        Err(ProtocolError::Unsupported { command: "decode", version: self.version })
    }
}

impl Encoder<Command> for JsonClientCodec {
    type Error = ProtocolError;
    fn encode(&mut self, _item: Command, _dst: &mut BytesMut) -> Result<(), ProtocolError> {
        Err(ProtocolError::Unsupported { command: "encode", version: self.version })
    }
}

/// Server side (fake peers, round-trip tests): decodes requests, encodes events/responses.
#[derive(Debug)]
pub struct JsonServerCodec {
    pub(crate) version: i64,
    pub(crate) limits: Limits,
}

impl JsonServerCodec {
    pub fn new(version: i64, limits: Limits) -> Self {
        Self { version, limits }
    }
}

impl Decoder for JsonServerCodec {
    type Item = Command;
    type Error = ProtocolError;
    fn decode(&mut self, _src: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        Err(ProtocolError::Unsupported { command: "decode", version: self.version })
    }
}

impl Encoder<Event> for JsonServerCodec {
    type Error = ProtocolError;
    fn encode(&mut self, _item: Event, _dst: &mut BytesMut) -> Result<(), ProtocolError> {
        Err(ProtocolError::Unsupported { command: "encode", version: self.version })
    }
}
