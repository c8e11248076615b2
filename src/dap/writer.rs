//! The one place outgoing DAP messages are numbered.
//!
//! Owns: [`DapWriter`], which gives every message it sends the next `seq` (1, 2, 3, …)
//! and writes it through [`DapCodec`] to any `AsyncWrite`: stdout, or a TCP socket.
//! Whatever `seq` a message carries before it is sent is overwritten.
//! Must not know: what the messages mean.

use futures_util::SinkExt;
use tokio::io::AsyncWrite;
use tokio_util::codec::FramedWrite;

use super::bodies::EventBody;
use super::codec::{DapCodec, DapCodecError};
use super::types::{Event, Message};

/// Numbers and writes messages to the editor.
#[derive(Debug)]
pub struct DapWriter<W> {
    sink: FramedWrite<W, DapCodec>,
    next_seq: i64,
}

impl<W: AsyncWrite + Unpin> DapWriter<W> {
    pub fn new(writer: W) -> Self {
        Self { sink: FramedWrite::new(writer, DapCodec::new()), next_seq: 1 }
    }

    /// Numbers `message`, writes it and flushes. Returns the `seq` it was given, which a
    /// reverse request's response will carry as `request_seq`.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<i64, DapCodecError> {
        let mut message = message.into();
        let seq = self.next_seq;
        message.set_seq(seq);
        self.next_seq += 1;
        self.sink.send(message).await?;
        Ok(seq)
    }

    /// Sends an event with a typed body.
    pub async fn send_event<B: EventBody>(&mut self, body: &B) -> Result<i64, DapCodecError> {
        self.send(Event::new(body)).await
    }

    /// The `seq` the next message will get.
    pub fn next_seq(&self) -> i64 {
        self.next_seq
    }

    /// Flushes and shuts the writer down (for a socket: sends FIN).
    pub async fn close(&mut self) -> Result<(), DapCodecError> {
        SinkExt::<Message>::close(&mut self.sink).await
    }

    pub fn get_ref(&self) -> &W {
        self.sink.get_ref()
    }

    pub fn into_inner(self) -> W {
        self.sink.into_inner()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use futures_util::StreamExt;
    use serde_json::json;
    use tokio_util::codec::FramedRead;

    use super::*;
    use crate::dap::bodies::OutputEventBody;
    use crate::dap::codec::Frame;
    use crate::dap::types::{Request, Response};

    #[tokio::test]
    async fn numbers_every_message_in_order() {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let mut writer = DapWriter::new(ours);
        let request = Request { seq: 7, command: "threads".into(), arguments: None };
        assert_eq!(writer.send(Response::ack(&request)).await.unwrap(), 1);
        let output = OutputEventBody { output: "hi\n".into(), ..Default::default() };
        assert_eq!(writer.send_event(&output).await.unwrap(), 2);
        // A reverse request is numbered too; its placeholder seq is overwritten.
        let mut reverse = Request::new("runInTerminal", Some(json!({"args": ["python"]})));
        reverse.seq = 99;
        assert_eq!(writer.send(reverse).await.unwrap(), 3);
        assert_eq!(writer.next_seq(), 4);
        drop(writer);

        let frames: Vec<Frame> = FramedRead::new(theirs, DapCodec::new()).map(|f| f.unwrap()).collect().await;
        assert_eq!(
            frames,
            vec![
                Frame::Json(json!({"type":"response","seq":1,"request_seq":7,"success":true,"command":"threads"})),
                Frame::Json(json!({"type":"event","seq":2,"event":"output","body":{"output":"hi\n"}})),
                Frame::Json(
                    json!({"type":"request","seq":3,"command":"runInTerminal","arguments":{"args":["python"]}})
                ),
            ]
        );
    }
}
