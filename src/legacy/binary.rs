//! STUB — replaced by the binary codec (v2/v4/v6). The public API below is the contract.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::error::ProtocolError;
use super::messages::{Command, Event};
use super::wire::Limits;

/// Client side: decodes server events, encodes client commands.
#[derive(Debug)]
pub struct BinaryClientCodec {
    pub(crate) version: i64,
    pub(crate) limits: Limits,
}

impl BinaryClientCodec {
    pub fn new(version: i64, limits: Limits) -> Self {
        Self { version, limits }
    }
}

impl Decoder for BinaryClientCodec {
    type Item = Event;
    type Error = ProtocolError;
    fn decode(&mut self, _src: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        Err(ProtocolError::Unsupported { command: "decode", version: self.version })
    }
}

impl Encoder<Command> for BinaryClientCodec {
    type Error = ProtocolError;
    fn encode(&mut self, _item: Command, _dst: &mut BytesMut) -> Result<(), ProtocolError> {
        Err(ProtocolError::Unsupported { command: "encode", version: self.version })
    }
}

/// Server side (fake peers, round-trip tests): decodes commands, encodes events.
#[derive(Debug)]
pub struct BinaryServerCodec {
    pub(crate) version: i64,
    pub(crate) limits: Limits,
}

impl BinaryServerCodec {
    pub fn new(version: i64, limits: Limits) -> Self {
        Self { version, limits }
    }
}

impl Decoder for BinaryServerCodec {
    type Item = Command;
    type Error = ProtocolError;
    fn decode(&mut self, _src: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        Err(ProtocolError::Unsupported { command: "decode", version: self.version })
    }
}

impl Encoder<Event> for BinaryServerCodec {
    type Error = ProtocolError;
    fn encode(&mut self, _item: Event, _dst: &mut BytesMut) -> Result<(), ProtocolError> {
        Err(ProtocolError::Unsupported { command: "encode", version: self.version })
    }
}
