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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    fn frame(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    /// The whole reading path: every kind of bad input becomes a value, and the two that
    /// carry a request `seq` can be answered.
    #[tokio::test]
    async fn reading_path_turns_every_problem_into_a_value() {
        let mut bytes = b"garbage\r\n".to_vec();
        bytes.extend(frame(r#"{"seq":1,"type":"request","command":"evaluate","arguments":{"expression":"#));
        bytes.extend(frame(r#"{"seq":2,"type":"request"}"#));
        bytes.extend(frame(r#"{"seq":3,"type":"request","command":"stackTrace","arguments":{"threadId":"x"}}"#));
        bytes.extend(frame(r#"{"seq":4,"type":"request","command":"threads","arguments":{}}"#));
        let incoming: Vec<Incoming> = reader(&bytes[..]).map(|frame| Incoming::from(frame.unwrap())).collect().await;
        assert_eq!(incoming.len(), 5, "{incoming:?}");

        assert!(matches!(incoming[0], Incoming::Framing(FramingError::BadHeader { .. })));
        let Incoming::Malformed(not_json) = &incoming[1] else { panic!("{incoming:?}") };
        let answer = not_json.error_response().unwrap();
        assert_eq!((answer.request_seq, answer.command.as_str(), answer.success), (1, "evaluate", false));
        let Incoming::Malformed(no_command) = &incoming[2] else { panic!("{incoming:?}") };
        assert_eq!(no_command.error_response().unwrap().request_seq, 2);

        let Incoming::Message(Message::Request(bad_args)) = &incoming[3] else { panic!("{incoming:?}") };
        let error = RequestCommand::parse(bad_args).unwrap_err();
        let answer = Response::error(bad_args, error.to_string(), None);
        assert_eq!(answer.request_seq, 3);
        assert!(answer.message.unwrap().contains("threadId"));

        let Incoming::Message(Message::Request(threads)) = &incoming[4] else { panic!("{incoming:?}") };
        assert!(matches!(RequestCommand::parse(threads), Ok(RequestCommand::Threads)));
    }
}
