//! The DAP envelope: what every message from or to the editor looks like.
//!
//! Owns: [`Message`] (tagged by `type`) with [`Request`], [`Response`] and [`Event`];
//! the response builders ([`Response::success`], [`Response::error`]) and the error
//! response's `body.error` object ([`ErrorDetails`]); [`Malformed`], a message that could
//! not be understood but may still be answered. Typed request arguments live in
//! [`super::requests`], typed bodies in [`super::bodies`].
//!
//! Written here rather than taken from dap-types 0.0.1, whose envelope reads `body`
//! instead of `arguments`, has no `message` on responses and writes `None` as `null`.
//! Every `Option` here is left out when `None`; `arguments` may be missing, `null` or `{}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use super::bodies::ResponseBody;
use super::codec::NotJson;

/// One DAP message, in either direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Message {
    Request(Request),
    Response(Response),
    Event(Event),
}

impl Message {
    /// Parses a JSON value from the codec. On failure, keeps what it could find so the
    /// session can still answer (see [`Malformed::error_response`]).
    pub fn from_value(value: Value) -> Result<Message, Malformed> {
        match Message::deserialize(&value) {
            Ok(message) => Ok(message),
            Err(error) => Err(Malformed {
                seq: value.get("seq").and_then(Value::as_i64),
                kind: value.get("type").and_then(Value::as_str).map(str::to_owned),
                command: value.get("command").and_then(Value::as_str).map(str::to_owned),
                reason: format!("it is not a valid DAP message: {error}"),
            }),
        }
    }

    /// The sequence number.
    pub fn seq(&self) -> i64 {
        match self {
            Message::Request(request) => request.seq,
            Message::Response(response) => response.seq,
            Message::Event(event) => event.seq,
        }
    }

    /// Sets the sequence number. Only the writer does this for outgoing messages.
    pub fn set_seq(&mut self, seq: i64) {
        match self {
            Message::Request(request) => request.seq = seq,
            Message::Response(response) => response.seq = seq,
            Message::Event(event) => event.seq = seq,
        }
    }
}

impl From<Request> for Message {
    fn from(request: Request) -> Self {
        Message::Request(request)
    }
}

impl From<Response> for Message {
    fn from(response: Response) -> Self {
        Message::Response(response)
    }
}

impl From<Event> for Message {
    fn from(event: Event) -> Self {
        Message::Event(event)
    }
}

/// A request: from the editor, or a reverse request (such as `runInTerminal`) to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub seq: i64,
    pub command: String,
    /// Missing and `null` both read as `None`; `{}` reads as `Some({})`.
    /// [`super::requests::RequestCommand::parse`] treats the three alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}

impl Request {
    /// A request with a placeholder `seq` (0): the writer numbers it when it is sent.
    pub fn new(command: impl Into<String>, arguments: Option<Value>) -> Self {
        Self { seq: 0, command: command.into(), arguments }
    }
}

/// A response: to an editor request, or from the editor to a reverse request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Response {
    pub seq: i64,
    pub request_seq: i64,
    pub success: bool,
    pub command: String,
    /// Short reason for a failure (`cancelled`, `notStopped`, or free text).
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub body: Option<Value>,
    /// A typed body, written as `body` when the response is serialised: a megabyte of
    /// `variables` goes from its structs straight into the output bytes, with no JSON tree
    /// of it in between. Only the session sets it (and then not `body`); a reader of
    /// `body` calls [`Response::into_json_body`] first.
    #[serde(skip)]
    pub typed_body: Option<Box<ResponseBody>>,
}

impl Serialize for Response {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let fields =
            4 + usize::from(self.message.is_some()) + usize::from(self.body.is_some() || self.typed_body.is_some());
        let mut out = serializer.serialize_struct("Response", fields)?;
        out.serialize_field("seq", &self.seq)?;
        out.serialize_field("request_seq", &self.request_seq)?;
        out.serialize_field("success", &self.success)?;
        out.serialize_field("command", &self.command)?;
        if let Some(message) = &self.message {
            out.serialize_field("message", message)?;
        }
        if let Some(typed) = &self.typed_body {
            out.serialize_field("body", typed)?;
        } else if let Some(body) = &self.body {
            out.serialize_field("body", body)?;
        }
        out.end()
    }
}

/// The id of `body.error` when [`Response::error`] is given no [`ErrorDetails`].
pub const DEFAULT_ERROR_ID: i64 = 1;

impl Response {
    /// A successful response to `request` carrying `body`. A body that serialises to
    /// `null` (such as `()`) is left out. Outgoing `seq` is a placeholder (0) until the
    /// writer numbers it.
    pub fn success<B: Serialize + ?Sized>(request: &Request, body: &B) -> Response {
        match to_body(body) {
            Ok(body) => Response {
                seq: 0,
                request_seq: request.seq,
                success: true,
                command: request.command.clone(),
                message: None,
                body,
                typed_body: None,
            },
            Err(error) => Response::error(
                request,
                format!("ptvsd-dap could not serialise its response (this is a bug in ptvsd-dap): {error}"),
                None,
            ),
        }
    }

    /// A successful response with no body.
    pub fn ack(request: &Request) -> Response {
        Response::success(request, &())
    }

    /// A failed response to `request`. `message` becomes both the response's `message` and,
    /// unless `details` says otherwise, the `format` of `body.error`.
    pub fn error(request: &Request, message: impl Into<String>, details: Option<ErrorDetails>) -> Response {
        Response::error_to(request.seq, request.command.clone(), message, details)
    }

    /// A failed response to a request known only by its `seq` and `command`, e.g. one
    /// that could not be parsed.
    pub fn error_to(
        request_seq: i64,
        command: impl Into<String>,
        message: impl Into<String>,
        details: Option<ErrorDetails>,
    ) -> Response {
        let message = message.into();
        let error = details.unwrap_or_else(|| ErrorDetails::new(DEFAULT_ERROR_ID, message.clone()));
        let mut body = serde_json::Map::new();
        // An `ErrorDetails` holds only strings, integers and booleans: this cannot fail.
        if let Ok(error) = serde_json::to_value(error) {
            body.insert("error".to_owned(), error);
        }
        Response {
            seq: 0,
            request_seq,
            success: false,
            command: command.into(),
            message: Some(message),
            body: Some(Value::Object(body)),
            typed_body: None,
        }
    }

    /// A successful response whose typed body is serialised only when it is written.
    pub fn with_typed_body(request: &Request, body: Option<ResponseBody>) -> Response {
        Response {
            seq: 0,
            request_seq: request.seq,
            success: true,
            command: request.command.clone(),
            message: None,
            body: None,
            typed_body: body.map(Box::new),
        }
    }

    /// The same response with a typed body turned into `body` (a JSON tree), for code that
    /// reads bodies (the multi-process router, tests).
    pub fn into_json_body(mut self) -> Result<Response, serde_json::Error> {
        if let Some(typed) = self.typed_body.take() {
            self.body = Some(serde_json::to_value(&*typed)?).filter(|v| !v.is_null());
        }
        Ok(self)
    }

    /// A response for a request the session gave up on: `message: "cancelled"`.
    pub fn cancelled(request: &Request) -> Response {
        Response::error(request, "cancelled", None)
    }
}

/// The `body.error` of an error response: the schema's `Message` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// A unique identifier for the message.
    pub id: i64,
    /// The text shown to the user. `{name}` is replaced by `variables["name"]`.
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_telemetry: Option<bool>,
    /// If true, the editor shows the message to the user (a notification in VS Code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_user: Option<bool>,
    /// A link to more information, and its label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_label: Option<String>,
}

impl ErrorDetails {
    pub fn new(id: i64, format: impl Into<String>) -> Self {
        Self { id, format: format.into(), ..Self::default() }
    }

    /// Asks the editor to show the message to the user.
    pub fn show_user(mut self) -> Self {
        self.show_user = Some(true);
        self
    }
}

/// An event to the editor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i64,
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl Event {
    /// An event with a typed body (see [`super::bodies`]); `seq` is a placeholder (0)
    /// until the writer numbers it.
    pub fn new<B: super::bodies::EventBody>(body: &B) -> Event {
        match to_body(body) {
            Ok(body) => Event { seq: 0, event: B::EVENT.to_owned(), body },
            Err(error) => {
                // Our bodies hold only strings, numbers, booleans and string-keyed maps, so
                // this is unreachable in practice; send the event rather than nothing.
                tracing::error!(event = B::EVENT, %error, "could not serialise a DAP event body; sending it without one");
                Event { seq: 0, event: B::EVENT.to_owned(), body: None }
            }
        }
    }

    /// An event with no body, such as `initialized`.
    pub fn bare(event: impl Into<String>) -> Event {
        Event { seq: 0, event: event.into(), body: None }
    }

    /// The `initialized` event: the editor may now send its configuration.
    pub fn initialized() -> Event {
        Event::bare("initialized")
    }
}

/// `Some(value)`, or `None` for a body that serialises to `null`.
fn to_body<B: Serialize + ?Sized>(body: &B) -> Result<Option<Value>, serde_json::Error> {
    Ok(match serde_json::to_value(body)? {
        Value::Null => None,
        value => Some(value),
    })
}

/// A message from the editor that could not be understood (not JSON, or not a DAP
/// message), with what could be salvaged to answer it anyway.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the editor sent a message that ptvsd-dap cannot read: {reason}")]
pub struct Malformed {
    /// The message's `seq`, if one could be found.
    pub seq: Option<i64>,
    /// Its `type` (`request`, `response`, `event`), if one could be found.
    pub kind: Option<String>,
    /// Its `command`, if one could be found.
    pub command: Option<String>,
    /// What is wrong with it.
    pub reason: String,
}

impl Malformed {
    /// The error response that answers this message, when it can be answered: it has a
    /// positive `seq` and is (or may be) a request. A broken response or event from the
    /// editor is never answered.
    pub fn error_response(&self) -> Option<Response> {
        let seq = self.seq.filter(|&seq| seq > 0)?;
        if self.kind.as_deref().is_some_and(|kind| kind != "request") {
            return None;
        }
        Some(Response::error_to(seq, self.command.clone().unwrap_or_default(), self.to_string(), None))
    }
}

impl From<NotJson> for Malformed {
    /// Salvages `seq`, `type` and `command` from the raw text by looking for the first
    /// `"seq"`, `"type"` and `"command"` keys. Best effort: the body is broken anyway.
    fn from(not_json: NotJson) -> Self {
        let raw = &not_json.raw[..];
        Malformed {
            seq: find_key(raw, b"\"seq\"").and_then(leading_integer),
            kind: find_key(raw, b"\"type\"").and_then(leading_string),
            command: find_key(raw, b"\"command\"").and_then(leading_string),
            reason: format!("it is not valid JSON: {}", not_json.error),
        }
    }
}

/// The bytes after the first `key` followed by optional whitespace and a colon.
fn find_key<'a>(raw: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(found) = raw.get(from..)?.windows(key.len()).position(|w| w == key) {
        let after = raw.get(from + found + key.len()..)?;
        let after = after.trim_ascii_start();
        if let Some(value) = after.strip_prefix(b":") {
            return Some(value.trim_ascii_start());
        }
        from += found + 1;
    }
    None
}

fn leading_integer(text: &[u8]) -> Option<i64> {
    let end = text
        .iter()
        .enumerate()
        .position(|(i, &b)| !(b.is_ascii_digit() || (i == 0 && b == b'-')))
        .unwrap_or(text.len());
    std::str::from_utf8(text.get(..end)?).ok()?.parse().ok()
}

fn leading_string(text: &[u8]) -> Option<String> {
    serde_json::Deserializer::from_slice(text).into_iter::<String>().next()?.ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Message {
        Message::from_value(value).unwrap()
    }

    #[test]
    fn a_typed_body_is_written_as_body_and_reads_back_as_json() {
        use crate::dap::bodies::{Thread, ThreadsResponseBody};
        let request = Request::new("threads", None);
        let body =
            ResponseBody::Threads(ThreadsResponseBody { threads: vec![Thread { id: 1, name: "MainThread".into() }] });
        let response = Response::with_typed_body(&request, Some(body));
        let written = serde_json::to_value(&response).unwrap();
        assert_eq!(written["body"], json!({ "threads": [{ "id": 1, "name": "MainThread" }] }));
        let read = response.into_json_body().unwrap();
        assert_eq!((read.body, read.typed_body), (Some(written["body"].clone()), None));
        let ack = serde_json::to_value(Response::with_typed_body(&request, None)).unwrap();
        assert!(ack.get("body").is_none() && ack.get("message").is_none(), "{ack}");
    }

    #[test]
    fn requests_accept_missing_null_and_empty_arguments() {
        let missing = parse(json!({"seq":1,"type":"request","command":"threads"}));
        let null = parse(json!({"seq":1,"type":"request","command":"threads","arguments":null}));
        let empty = parse(json!({"seq":1,"type":"request","command":"threads","arguments":{}}));
        let Message::Request(missing) = missing else { panic!() };
        let Message::Request(null) = null else { panic!() };
        let Message::Request(empty) = empty else { panic!() };
        assert_eq!(missing.arguments, None);
        assert_eq!(null.arguments, None);
        assert_eq!(empty.arguments, Some(json!({})));
    }

    #[test]
    fn responses_and_events_parse_with_and_without_optional_fields() {
        let Message::Response(r) = parse(
            json!({"seq":3,"type":"response","request_seq":2,"success":false,"command":"runInTerminal","message":"no"}),
        ) else {
            panic!()
        };
        assert_eq!(r.message.as_deref(), Some("no"));
        assert_eq!(r.body, None);
        let Message::Event(e) = parse(json!({"seq":4,"type":"event","event":"initialized","body":null})) else {
            panic!()
        };
        assert_eq!(e.body, None);
    }

    #[test]
    fn none_is_left_out_not_null() {
        let request = Request { seq: 5, command: "threads".into(), arguments: None };
        let text = serde_json::to_string(&Message::Request(request.clone())).unwrap();
        assert_eq!(text, r#"{"type":"request","seq":5,"command":"threads"}"#);
        let text = serde_json::to_string(&Message::Response(Response::ack(&request))).unwrap();
        assert_eq!(text, r#"{"type":"response","seq":0,"request_seq":5,"success":true,"command":"threads"}"#);
        let text = serde_json::to_string(&Message::Event(Event::initialized())).unwrap();
        assert_eq!(text, r#"{"type":"event","seq":0,"event":"initialized"}"#);
    }

    #[test]
    fn success_echoes_request_seq_and_command() {
        let request = Request { seq: 9, command: "threads".into(), arguments: Some(json!({})) };
        let response = Response::success(&request, &json!({"threads": []}));
        assert_eq!(
            (response.request_seq, response.command.as_str(), response.success, response.body),
            (9, "threads", true, Some(json!({"threads": []})))
        );
    }

    #[test]
    fn error_carries_message_and_body_error() {
        let request = Request { seq: 4, command: "evaluate".into(), arguments: None };
        let response = Response::error(&request, "name 'x' is not defined", None);
        assert!(!response.success);
        assert_eq!(response.message.as_deref(), Some("name 'x' is not defined"));
        assert_eq!(
            response.body,
            Some(json!({"error": {"id": DEFAULT_ERROR_ID, "format": "name 'x' is not defined"}}))
        );

        let details = ErrorDetails::new(2001, "Could not connect to {url}").show_user();
        let response = Response::error(&request, "could not connect", Some(details));
        assert_eq!(
            response.body,
            Some(json!({"error": {"id": 2001, "format": "Could not connect to {url}", "showUser": true}}))
        );
    }

    #[test]
    fn unknown_type_and_missing_fields_are_malformed_with_salvage() {
        let err = Message::from_value(json!({"seq":7,"type":"request","arguments":{}})).unwrap_err();
        assert_eq!((err.seq, err.kind.as_deref(), err.command.as_deref()), (Some(7), Some("request"), None));
        assert!(err.reason.contains("command"), "{err}");
        let response = err.error_response().unwrap();
        assert_eq!((response.request_seq, response.success), (7, false));

        let err = Message::from_value(json!({"seq":8,"type":"notify","command":"x"})).unwrap_err();
        assert!(err.error_response().is_none(), "not a request: {err:?}");

        let err = Message::from_value(json!({"seq":"x","type":"request","command":"threads"})).unwrap_err();
        assert_eq!(err.seq, None);
        assert!(err.error_response().is_none());

        let err = Message::from_value(json!([1, 2])).unwrap_err();
        assert_eq!((err.seq, err.kind, err.command), (None, None, None));
    }

    #[test]
    fn not_json_salvages_seq_and_command() {
        let not_json = NotJson {
            raw: Bytes::from_static(
                br#"{"command": "evaluate", "seq" : 12, "type":"request", "arguments": {"expression": "#,
            ),
            error: "EOF while parsing".into(),
        };
        let malformed = Malformed::from(not_json);
        assert_eq!(malformed.seq, Some(12));
        assert_eq!(malformed.kind.as_deref(), Some("request"));
        assert_eq!(malformed.command.as_deref(), Some("evaluate"));
        let response = malformed.error_response().unwrap();
        assert_eq!((response.request_seq, response.command.as_str()), (12, "evaluate"));
        assert!(response.message.unwrap().contains("not valid JSON"));

        // `"request_seq"` is not `"seq"`; the body of a broken response is not answered.
        let not_json =
            NotJson { raw: Bytes::from_static(br#"{"type":"response","request_seq":3,"seq":4,"#), error: "EOF".into() };
        let malformed = Malformed::from(not_json);
        assert_eq!(malformed.seq, Some(4));
        assert!(malformed.error_response().is_none());

        let not_json = NotJson { raw: Bytes::from_static(b"\xff\xfe garbage"), error: "bad".into() };
        let malformed = Malformed::from(not_json);
        assert_eq!((malformed.seq, malformed.kind, malformed.command), (None, None, None));
    }

    #[test]
    fn seq_accessors() {
        let mut message = Message::Event(Event::bare("x"));
        message.set_seq(42);
        assert_eq!(message.seq(), 42);
    }
}
