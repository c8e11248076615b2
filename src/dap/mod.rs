//! The editor-facing protocol: the Debug Adapter Protocol over a byte stream.
//!
//! Owns: framing ([`codec`]: `Content-Length`, caps, resynchronisation), the message
//! envelope ([`types`]), typed requests from the editor ([`requests`]), typed bodies of
//! what we send ([`bodies`]), and the numbering of outgoing messages ([`writer`]).
//!
//! Must not know: ptvsd, the legacy protocol, the remote or its transports. Those meet
//! DAP only in the session.
//!
//! Reading, one step per type change:
//!
//! ```text
//! bytes ─DapCodec─▶ Frame ─Incoming::from─▶ Message ─RequestCommand::parse─▶ RequestCommand
//! ```
//!
//! Nothing on that path ends the session except an I/O error: a broken header, a body
//! that is not JSON, a message that is not DAP, or arguments of the wrong shape each
//! become a value the session can log or answer with an error response.
//!
//! Writing: build a [`Response`] from its [`Request`] ([`Response::success`],
//! [`Response::error`]) or an [`Event`] from a typed body ([`Event::new`]), and hand it to
//! the [`DapWriter`], the only place that assigns outgoing `seq`.

pub mod bodies;
pub mod codec;
pub mod requests;
pub mod types;
pub mod writer;

use tokio::io::AsyncRead;
use tokio_util::codec::FramedRead;

pub use bodies::EventBody;
pub use codec::{DapCodec, DapCodecError, DapLimits, Frame, FramingError, NotJson};
pub use requests::{ArgumentsError, RequestCommand};
pub use types::{ErrorDetails, Event, Malformed, Message, Request, Response};
pub use writer::DapWriter;

/// A stream of [`Frame`]s from the editor.
pub type DapReader<R> = FramedRead<R, DapCodec>;

/// Frames `reader` (stdin, or a socket) with the default limits.
pub fn reader<R: AsyncRead>(reader: R) -> DapReader<R> {
    FramedRead::new(reader, DapCodec::new())
}

/// What one frame from the editor amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A well-formed DAP message.
    Message(Message),
    /// Not JSON, or not a DAP message; [`Malformed::error_response`] may answer it.
    Malformed(Malformed),
    /// A broken header; the codec has skipped to the next frame. Worth a log line.
    Framing(FramingError),
}

impl From<Frame> for Incoming {
    fn from(frame: Frame) -> Self {
        match frame {
            Frame::Json(value) => match Message::from_value(value) {
                Ok(message) => Incoming::Message(message),
                Err(malformed) => Incoming::Malformed(malformed),
            },
            Frame::NotJson(not_json) => Incoming::Malformed(Malformed::from(not_json)),
            Frame::Framing(error) => Incoming::Framing(error),
        }
    }
}
