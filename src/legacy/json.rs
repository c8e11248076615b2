//! STUB — replaced by the JSON codec (v7/v8). The public API below is the contract.

use bytes::BytesMut;
use serde_json::Value;
use tokio_util::codec::{Decoder, Encoder};

use super::error::ProtocolError;
use super::messages::{Command, Event};
use super::wire::Limits;

/// Decodes one `Content-Length` framed JSON body (lenient about lone surrogates).
/// `Ok(None)` means more bytes are needed; nothing is consumed until a whole frame is there.
pub fn decode_frame(_src: &mut BytesMut, _limits: &Limits) -> Result<Option<Value>, ProtocolError> {
    Err(ProtocolError::Unsupported { command: "decode_frame", version: 0 })
}

/// Appends one framed message (header and body) to `dst`.
pub fn encode_frame(_value: &Value, _dst: &mut BytesMut) {}

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
