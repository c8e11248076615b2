//! The JSON dialect (protocol versions 7 and 8: ptvsd 3.1 and 3.2), spec §1.3 and §3.
//!
//! Owns: `Content-Length` framing ([`decode_frame`], [`encode_frame`], also used by the
//! handshake), lenient JSON parsing (ptvsd emits lone surrogate escapes such as
//! `"\udc80"`, which are read as U+FFFD), the `legacy*` request/event/response envelopes
//! and their keys, and the mapping between them and [`Command`] / [`Event`]:
//!
//! * [`JsonClientCodec`] numbers requests, remembers which seq asked for a breakpoint hit
//!   count (so the response maps back to the [`Command`]'s `request_id`), swallows
//!   `success:true` responses that carry nothing, and turns `success:false` responses into
//!   [`Event::CommandFailed`];
//! * [`JsonServerCodec`] is its mirror for fake peers and round-trip tests.
//!
//! Every peer-supplied size is capped by [`Limits`] before anything is allocated for it.
//! Must not know: DAP, transports, the handshake sequence (it only borrows the framing),
//! or the binary dialect.

mod commands;
mod events;
mod fields;
mod frame;
mod typed;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::io;

use bytes::BytesMut;
use serde_json::{json, Value};
use tokio_util::codec::{Decoder, Encoder};

use self::fields::{Fields, Res};
use super::error::ProtocolError;
use super::messages::{Command, Event, ExecutionId, FailedCommand};
use super::wire::Limits;

pub use self::frame::{decode_frame, encode_frame};

/// At most this many hit-count requests are remembered while awaiting their responses;
/// beyond it the oldest is forgotten (its response then reports the seq as request id).
const MAX_PENDING: usize = 256;

/// Client side: decodes server events and responses, encodes client commands.
#[derive(Debug)]
pub struct JsonClientCodec {
    pub(crate) version: i64,
    pub(crate) limits: Limits,
    next_seq: i64,
    /// seq of an unanswered `legacyGetBreakpointHitCount` → the command's `request_id`.
    hit_count_requests: BTreeMap<i64, i64>,
    /// seq of an unanswered `exec`/`chld` → its execution id, so a failure response
    /// names the evaluation it failed.
    work_requests: BTreeMap<i64, ExecutionId>,
    /// A `legacyDetach` + goodbye was sent and the goodbye is not answered yet.
    detaching: bool,
}

impl JsonClientCodec {
    /// `first_seq`: the first request seq to use (the handshake used the ones before it).
    pub fn new(version: i64, limits: Limits, first_seq: i64) -> Self {
        Self {
            version,
            limits,
            next_seq: first_seq,
            hit_count_requests: BTreeMap::new(),
            work_requests: BTreeMap::new(),
            detaching: false,
        }
    }

    /// The protocol version (7 or 8) negotiated in the handshake.
    pub fn version(&self) -> i64 {
        self.version
    }

    fn remember_hit_count_request(&mut self, seq: i64, request_id: i64) {
        self.hit_count_requests.insert(seq, request_id);
        while self.hit_count_requests.len() > MAX_PENDING {
            self.hit_count_requests.pop_first();
        }
    }

    fn remember_work_request(&mut self, seq: i64, execution_id: ExecutionId) {
        self.work_requests.insert(seq, execution_id);
        while self.work_requests.len() > MAX_PENDING {
            self.work_requests.pop_first();
        }
    }

    /// The typed command a failure response answers.
    fn failed_command(&mut self, command: &str, request_seq: Option<i64>) -> FailedCommand {
        let execution_id = request_seq.and_then(|seq| self.work_requests.remove(&seq));
        match command {
            commands::EXECUTE_TEXT => FailedCommand::Execute { execution_id },
            commands::ENUM_CHILDREN => FailedCommand::EnumChildren { execution_id },
            commands::SET_LINE_NUMBER => FailedCommand::SetLineNumber,
            commands::DETACH => FailedCommand::Detach,
            ATTACH => FailedCommand::Attach,
            other => FailedCommand::Other(other.to_string()),
        }
    }

    /// One decoded message; `None` when it is a response with nothing to report.
    fn interpret(&mut self, message: Value) -> Result<Option<Event>, ProtocolError> {
        let (kind, mut message) = envelope(message, "server message")?;
        match kind.as_str() {
            "event" => {
                let name = message.req("event", fields::string).map_err(|bad| bad.into_error("event"))?;
                let body = message.opt("body", Ok).map_err(|bad| bad.into_error("event"))?;
                let event = events::decode_event(name, body, &self.limits)?;
                if self.detaching && event == Event::Detach {
                    // Reported when the goodbye is answered (see `response`).
                    return Ok(None);
                }
                Ok(Some(event))
            }
            "response" => self.response(message),
            other => Err(ProtocolError::Malformed { detail: format!("unexpected message type {other:?}") }),
        }
    }

    fn response(&mut self, mut message: Fields) -> Result<Option<Event>, ProtocolError> {
        let head = |message: &mut Fields| -> Res<(Option<i64>, String, bool)> {
            Ok((
                message.opt("request_seq", fields::int)?,
                message.opt_string("command")?.unwrap_or_default(),
                message.req("success", fields::boolean)?,
            ))
        };
        let (request_seq, command, success) = head(&mut message).map_err(|bad| bad.into_error("response"))?;
        let hit_count_request = request_seq.and_then(|seq| self.hit_count_requests.remove(&seq));
        if success {
            if let Some(seq) = request_seq {
                self.work_requests.remove(&seq);
            }
        }
        if self.detaching {
            // A client-initiated detach is complete only once ptvsd has answered the
            // goodbye: it then ends its loop by itself. Closing any earlier can reset the
            // connection under ptvsd's own reply to `legacyDetach`; it swallows that
            // error and spins on the dead socket. Both detach replies (success, then the
            // swallowed exit signal as a failure) are noise here.
            if command == GOODBYE {
                self.detaching = false;
                return Ok(Some(Event::Detach));
            }
            if command == commands::DETACH {
                return Ok(None);
            }
        }
        if !success {
            let message = message
                .opt_string("message")
                .map_err(|bad| bad.into_error(&format!("response to {command}")))?
                .unwrap_or_default();
            let command = self.failed_command(&command, request_seq);
            return Ok(Some(Event::CommandFailed { command, message }));
        }
        let body = message.opt("body", Ok).map_err(|bad| bad.into_error(&format!("response to {command}")))?;
        match command.as_str() {
            commands::GET_BREAKPOINT_HIT_COUNT => {
                let hit_count = events::hit_count(body)?;
                // A response we did not ask for (or forgot) still says which request it answers.
                let request_id = hit_count_request.or(request_seq).unwrap_or(0);
                Ok(Some(Event::BreakpointHitCount { request_id, hit_count }))
            }
            commands::SET_LINE_NUMBER => events::set_line_result(body).map(Some),
            _ => Ok(None),
        }
    }
}

impl Decoder for JsonClientCodec {
    type Item = Event;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        while let Some(mut body) = frame::next_body(src, &self.limits)? {
            // Children and frame lists (megabytes for a big collection) without a Value tree.
            if let Some(event) = typed::decode_big_event(&body, &self.limits) {
                return Ok(Some(event));
            }
            let message = frame::parse_body(&mut body)?;
            if let Some(event) = self.interpret(message)? {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        decode_eof(self, src)
    }
}

impl Encoder<Command> for JsonClientCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Command, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        match &item {
            Command::GetBreakpointHitCount { request_id, .. } => self.remember_hit_count_request(seq, *request_id),
            Command::Execute { execution_id, .. } | Command::EnumChildren { execution_id, .. } => {
                self.remember_work_request(seq, *execution_id)
            }
            _ => {}
        }
        let detach = matches!(item, Command::Detach);
        self.detaching |= detach;
        let (command, arguments) = commands::encode_command(item);
        let request = json!({ "type": "request", "seq": seq, "command": command, "arguments": arguments });
        encode_frame(&request, dst);
        if detach {
            // ptvsd 3.x swallows its own exit signal after `legacyDetach` and keeps its
            // command loop running; once the connection is closed gracefully (as a relay
            // does) that loop spins at 100 % CPU. An unknown command makes it exit and
            // close the socket itself. Commands run in order, so the detach completes first.
            // Seq 0 (ptvsd's default) keeps our own numbering one per command.
            encode_frame(&json!({ "type": "request", "seq": 0, "command": GOODBYE, "arguments": {} }), dst);
        }
        Ok(())
    }
}

/// The attach request's name (the handshake sends it; its late failure arrives here).
pub(crate) const ATTACH: &str = "legacyRemoteDebuggerAttach";

/// The wire name of a failed command (server side).
pub(crate) fn failed_command_name(command: &FailedCommand) -> String {
    match command {
        FailedCommand::Execute { .. } => commands::EXECUTE_TEXT.to_string(),
        FailedCommand::EnumChildren { .. } => commands::ENUM_CHILDREN.to_string(),
        FailedCommand::SetLineNumber => commands::SET_LINE_NUMBER.to_string(),
        FailedCommand::Detach => commands::DETACH.to_string(),
        FailedCommand::Attach => ATTACH.to_string(),
        FailedCommand::Other(name) => name.clone(),
    }
}

/// The unknown command sent after `legacyDetach` to end ptvsd's command loop.
pub const GOODBYE: &str = "ptvsdDapGoodbye";

/// Server side (fake peers, round-trip tests): decodes requests, encodes events/responses.
///
/// Like ptvsd, it numbers events and responses with one counter starting at 0. Responses
/// echo the seq of the last request of the same command (0 if none), except hit counts,
/// whose `request_id` is the request's seq by construction.
#[derive(Debug)]
pub struct JsonServerCodec {
    pub(crate) version: i64,
    pub(crate) limits: Limits,
    next_seq: i64,
    /// The seq of the last request decoded, per command name.
    last_request: HashMap<&'static str, i64>,
}

impl JsonServerCodec {
    pub fn new(version: i64, limits: Limits) -> Self {
        Self { version, limits, next_seq: 0, last_request: HashMap::new() }
    }

    /// The protocol version (7 or 8) this peer pretends to speak.
    pub fn version(&self) -> i64 {
        self.version
    }

    fn interpret(&mut self, message: Value) -> Result<Command, ProtocolError> {
        let (kind, mut message) = envelope(message, "client message")?;
        if kind != "request" {
            return Err(ProtocolError::Malformed {
                detail: format!("expected a request, got a message of type {kind:?}"),
            });
        }
        let head = |message: &mut Fields| -> Res<(String, i64, Option<Value>)> {
            Ok((
                message.req("command", fields::string)?,
                // ptvsd defaults both (spec §1.3).
                message.opt("seq", fields::int)?.unwrap_or(0),
                message.opt("arguments", Ok)?,
            ))
        };
        let (command, seq, arguments) = head(&mut message).map_err(|bad| bad.into_error("request"))?;
        let decoded = commands::decode_command(&command, seq, arguments, &self.limits)?;
        if let Some(name) = commands::KNOWN_COMMANDS.iter().find(|name| **name == command) {
            self.last_request.insert(name, seq);
        }
        Ok(decoded)
    }

    fn take_seq(&mut self) -> i64 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }
}

impl Decoder for JsonServerCodec {
    type Item = Command;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        loop {
            match decode_frame(src, &self.limits)? {
                // Our own goodbye after a detach is not a command of the model.
                Some(message) if message.get("command").and_then(Value::as_str) == Some(GOODBYE) => continue,
                Some(message) => return self.interpret(message).map(Some),
                None => return Ok(None),
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        decode_eof(self, src)
    }
}

impl Encoder<Event> for JsonServerCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Event, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let seq = self.take_seq();
        let message = match events::encode_event(item) {
            events::Outgoing::Event { name, body } => {
                json!({ "type": "event", "seq": seq, "event": name, "body": body })
            }
            events::Outgoing::Response { command, request_seq, success, message, body } => {
                let request_seq = request_seq.or_else(|| self.last_request.get(command.as_str()).copied()).unwrap_or(0);
                json!({
                    "type": "response",
                    "seq": seq,
                    "request_seq": request_seq,
                    "success": success,
                    "command": command,
                    "message": message,
                    "body": body,
                })
            }
        };
        encode_frame(&message, dst);
        Ok(())
    }
}

/// Splits a message into its `type` and the remaining keys.
fn envelope(message: Value, what: &str) -> Result<(String, Fields), ProtocolError> {
    let split = |message: Value| -> Res<(String, Fields)> {
        let mut message = Fields::from_value(message)?;
        Ok((message.req("type", fields::string)?, message))
    };
    split(message).map_err(|bad| bad.into_error(what))
}

/// At end of stream a partial frame is an error that says so (the default one reads
/// "bytes remaining on stream").
fn decode_eof<D>(decoder: &mut D, src: &mut BytesMut) -> Result<Option<D::Item>, ProtocolError>
where
    D: Decoder<Error = ProtocolError>,
{
    match decoder.decode(src)? {
        Some(item) => Ok(Some(item)),
        None if src.is_empty() => Ok(None),
        None => Err(ProtocolError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the connection closed in the middle of a JSON message ({} bytes of it arrived)", src.len()),
        ))),
    }
}
