//! Codec behaviour on unusual and malformed messages, and the server codec's bookkeeping.

use bytes::BytesMut;
use serde_json::{json, Value};
use tokio_util::codec::{Decoder, Encoder};

use super::fixtures::{client, decode_all, framed};
use crate::legacy::error::ProtocolError;
use crate::legacy::json::{decode_frame, JsonClientCodec, JsonServerCodec, MAX_PENDING};
use crate::legacy::messages::{Command, Event, FailedCommand, OutputChannel};
use crate::legacy::wire::Limits;

fn decode_one(codec: &mut JsonClientCodec, body: &str) -> Result<Option<Event>, ProtocolError> {
    let mut buf = BytesMut::from(&framed(body)[..]);
    let result = codec.decode(&mut buf);
    assert!(buf.is_empty(), "the frame must be consumed even when it is rejected");
    result
}

fn event(name: &str, body: Value) -> String {
    json!({"type": "event", "seq": 7, "event": name, "body": body}).to_string()
}

fn malformed_detail(result: Result<Option<Event>, ProtocolError>) -> String {
    match result {
        Err(ProtocolError::Malformed { detail }) => detail,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn unknown_event_keeps_the_stream_in_sync() {
    let mut bytes = framed(&event("legacySomethingNew", json!({"x": [1, 2, {"y": null}]})));
    bytes.extend(framed(&event("legacyThreadExit", json!({"threadId": 5}))));
    let events = decode_all(&mut client(8), &bytes);
    assert_eq!(events, [Event::Unknown { name: "legacySomethingNew".into() }, Event::ThreadExit { thread: 5 }]);
}

#[test]
fn failed_response_becomes_command_failed() {
    let body = r#"{"type": "response", "seq": 156, "request_seq": 13, "success": false, "command": "legacyExecuteText", "message": "KeyError: 'moduleName'\n", "body": {}}"#;
    assert_eq!(
        decode_one(&mut client(8), body).unwrap(),
        Some(Event::CommandFailed {
            command: FailedCommand::Execute { execution_id: None },
            message: "KeyError: 'moduleName'\n".into()
        })
    );
    // Null or absent message and command read as empty.
    let body = r#"{"type": "response", "seq": 1, "request_seq": 2, "success": false, "message": null}"#;
    assert_eq!(
        decode_one(&mut client(8), body).unwrap(),
        Some(Event::CommandFailed { command: FailedCommand::Other(String::new()), message: String::new() })
    );
}

#[test]
fn successful_empty_responses_are_swallowed_and_decoding_continues() {
    let mut bytes = Vec::new();
    for command in ["legacySetBreakpoint", "legacyResumeAll", "legacyRemoteDebuggerAttach"] {
        bytes.extend(framed(
            &json!({"type": "response", "seq": 1, "request_seq": 3, "success": true, "command": command, "message": "", "body": {}})
                .to_string(),
        ));
    }
    bytes.extend(framed(&event("legacyBreakpointFailed", json!({"breakpointId": 1}))));
    let mut buf = BytesMut::from(&bytes[..]);
    let mut codec = client(8);
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Event::BreakpointFailed { id: 1 }));
    assert!(buf.is_empty());
    // Only swallowed responses: nothing to report, everything consumed.
    let mut buf = BytesMut::from(
        &bytes[..bytes.len() - framed(&event("legacyBreakpointFailed", json!({"breakpointId": 1}))).len()],
    );
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    assert!(buf.is_empty());
}

#[test]
fn hit_count_requests_are_remembered_by_seq_and_the_memory_is_bounded() {
    let mut codec = client(8);
    let mut sink = BytesMut::new();
    for request_id in 0..(MAX_PENDING as i64 + 50) {
        codec.encode(Command::GetBreakpointHitCount { request_id: 5000 + request_id, id: 1 }, &mut sink).unwrap();
    }
    assert_eq!(codec.hit_count_requests.len(), MAX_PENDING);
    let response = |request_seq: i64| {
        json!({"type": "response", "seq": 9, "request_seq": request_seq, "success": true, "command": "legacyGetBreakpointHitCount", "message": "", "body": {"hitCount": 4}})
            .to_string()
    };
    // The newest (seq 3 + 305) is remembered; the oldest (seq 3) was forgotten.
    let newest = 3 + MAX_PENDING as i64 + 49;
    assert_eq!(
        decode_one(&mut codec, &response(newest)).unwrap(),
        Some(Event::BreakpointHitCount { request_id: 5000 + MAX_PENDING as i64 + 49, hit_count: 4 })
    );
    assert_eq!(
        decode_one(&mut codec, &response(3)).unwrap(),
        Some(Event::BreakpointHitCount { request_id: 3, hit_count: 4 })
    );
    // Answered requests are forgotten, failed ones too.
    assert_eq!(codec.hit_count_requests.len(), MAX_PENDING - 1);
    let failed = json!({"type": "response", "seq": 10, "request_seq": newest - 1, "success": false, "command": "legacyGetBreakpointHitCount", "message": "boom", "body": {}});
    assert!(matches!(decode_one(&mut codec, &failed.to_string()).unwrap(), Some(Event::CommandFailed { .. })));
    assert_eq!(codec.hit_count_requests.len(), MAX_PENDING - 2);
}

#[test]
fn client_seq_counts_up_from_first_seq() {
    let mut codec = JsonClientCodec::new(7, Limits::default(), 42);
    let mut buf = BytesMut::new();
    codec.encode(Command::BreakAll, &mut buf).unwrap();
    codec.encode(Command::Detach, &mut buf).unwrap();
    let first = decode_frame(&mut buf, &Limits::default()).unwrap().unwrap();
    let second = decode_frame(&mut buf, &Limits::default()).unwrap().unwrap();
    assert_eq!(first, json!({"type": "request", "seq": 42, "command": "legacyBreakAll", "arguments": {}}));
    assert_eq!(second, json!({"type": "request", "seq": 43, "command": "legacyDetach", "arguments": {}}));
    assert_eq!(codec.version(), 7);
}

#[test]
fn output_channels_of_every_ptvsd_release() {
    let cases = [
        (json!({"threadId": 1, "output": "a", "channel": "stdout"}), OutputChannel::Stdout),
        (json!({"threadId": 1, "output": "a", "channel": "stderr"}), OutputChannel::Stderr),
        (json!({"threadId": 1, "output": "a", "channel": "debug"}), OutputChannel::Debug),
        (json!({"threadId": 1, "output": "a", "channel": "other"}), OutputChannel::Unknown),
        (json!({"threadId": 1, "output": "a", "isStdOut": true}), OutputChannel::Stdout),
        (json!({"threadId": 1, "output": "a", "isStdOut": false}), OutputChannel::Stderr),
        (json!({"threadId": 1, "output": "a", "channel": null, "isStdOut": false}), OutputChannel::Stderr),
        (json!({"threadId": 1, "output": "a"}), OutputChannel::Unknown),
    ];
    for (body, channel) in cases {
        assert_eq!(
            decode_one(&mut client(8), &event("legacyDebuggerOutput", body.clone())).unwrap(),
            Some(Event::Output { thread: 1, text: "a".into(), channel }),
            "{body}"
        );
    }
}

#[test]
fn null_strings_read_as_empty_and_extra_keys_are_ignored() {
    let body = json!({"moduleId": 3, "moduleFileName": null, "somethingElse": [1]});
    assert_eq!(
        decode_one(&mut client(8), &event("legacyModuleLoad", body)).unwrap(),
        Some(Event::ModuleLoad { module_id: 3, file: String::new() })
    );
    // A body-less event.
    let bare = r#"{"type": "event", "seq": 1, "event": "legacyModulesChanged"}"#;
    assert_eq!(decode_one(&mut client(8), bare).unwrap(), Some(Event::ModulesChanged));
}

#[test]
fn django_frames_carry_their_python_source() {
    let frame = json!({"startLine": 1, "endLine": 9, "lineNo": 4, "frameName": "render", "fileName": "/t/index.html",
        "argCount": 0, "frameKind": 2, "variables": [], "djangoSourceFile": "/app/views.py", "djangoSourceLine": 12});
    let body = json!({"threadId": 1, "threadName": null, "threadFrames": [frame]});
    let Some(Event::FrameList { name, frames, .. }) =
        decode_one(&mut client(8), &event("legacyThreadFrameList", body)).unwrap()
    else {
        panic!("not a frame list")
    };
    assert_eq!(name, None);
    assert_eq!(frames[0].kind, crate::legacy::messages::FrameKind::Django);
    assert_eq!(frames[0].django_source, Some(("/app/views.py".to_owned(), 12)));
}

#[test]
fn missing_keys_are_malformed_with_the_path() {
    let detail = malformed_detail(decode_one(&mut client(8), &event("legacyThreadCreate", json!({}))));
    assert!(detail.contains("legacyThreadCreate") && detail.contains("`threadId` is missing"), "{detail}");

    let frame = json!({"startLine": 1, "endLine": 2, "lineNo": 1, "frameName": "f", "fileName": "x.py", "argCount": 0,
        "frameKind": 1, "variables": [{"name": "a", "obj": {"objRepr": "1", "hexRepr": null, "typeName": "int", "length": 0}}]});
    let body = json!({"threadId": 1, "threadName": "MainThread", "threadFrames": [frame]});
    let detail = malformed_detail(decode_one(&mut client(8), &event("legacyThreadFrameList", body)));
    assert!(detail.contains("`threadFrames[0].variables[0].obj.flags` is missing"), "{detail}");

    let body = json!({"threadId": 1, "data": {"message": "m"}});
    let detail = malformed_detail(decode_one(&mut client(8), &event("legacyException", body)));
    assert!(detail.contains("`data.typename` is missing"), "{detail}");
}

#[test]
fn wrong_types_are_malformed() {
    let cases = [
        ("legacyThreadCreate", json!({"threadId": "1"}), "`threadId` is a string, expected an integer"),
        ("legacyBreakpointHit", json!({"breakpointId": 1, "threadId": 1.5}), "`threadId`: 1.5 does not fit"),
        (
            "legacyModuleLoad",
            json!({"moduleId": 1, "moduleFileName": 7}),
            "`moduleFileName` is a number, expected a string",
        ),
        (
            "legacyEnumChildrenResult",
            json!({"executionId": 1, "children": {}}),
            "`children` is an object, expected an array",
        ),
        ("legacyDebuggerOutput", json!({"threadId": 1, "output": "x", "isStdOut": 1}), "`isStdOut` is a number"),
        ("legacyException", json!({"threadId": 1, "data": []}), "`data` is an array"),
        ("legacyThreadExit", json!([1]), "`body` is an array, expected an object"),
        ("legacyStepDone", json!({"threadId": 18446744073709551615u64}), "does not fit a 64-bit integer"),
    ];
    for (name, body, expected) in cases {
        let detail = malformed_detail(decode_one(&mut client(8), &event(name, body)));
        assert!(detail.contains(expected), "{name}: {detail}");
    }
    // Integral floats are numbers all the same.
    assert_eq!(
        decode_one(&mut client(8), &event("legacyThreadCreate", json!({"threadId": 5.0}))).unwrap(),
        Some(Event::ThreadCreate { thread: 5 })
    );
}

#[test]
fn broken_envelopes_are_malformed() {
    for body in [
        "[1, 2]",
        "42",
        r#"{"seq": 1, "event": "legacyDetach"}"#,
        r#"{"type": "event", "seq": 1}"#,
        r#"{"type": "event", "event": 5}"#,
        r#"{"type": "request", "seq": 1, "command": "x"}"#,
        r#"{"type": "response", "request_seq": 1, "command": "legacyDetach"}"#,
        r#"{"type": "response", "success": "yes"}"#,
        r#"{"type": "response", "success": true, "command": "legacySetLineNumber", "body": {"result": 1}}"#,
        r#"{"type": "response", "success": true, "command": "legacyGetBreakpointHitCount", "body": {}}"#,
    ] {
        malformed_detail(decode_one(&mut client(8), body));
    }
}

#[test]
fn too_many_elements_are_too_large() {
    let limits = Limits { max_count: 2, ..Limits::default() };
    let mut codec = JsonClientCodec::new(8, limits, 3);
    let child = json!({"name": "a", "expression": "a", "obj": {"objRepr": "1", "hexRepr": null, "typeName": "int", "length": 0, "flags": 0}});
    let body = json!({"executionId": 1, "children": [child.clone(), child.clone(), child]});
    assert!(matches!(
        decode_one(&mut codec, &event("legacyEnumChildrenResult", body)),
        Err(ProtocolError::TooLarge { what: "children", size: 3, limit: 2 })
    ));
}

#[test]
fn set_line_result_accepts_integers_and_booleans() {
    for (result, ok) in [(json!(1), true), (json!(0), false), (json!(true), true)] {
        let body = json!({"type": "response", "seq": 1, "request_seq": 6, "success": true, "command": "legacySetLineNumber",
            "message": "", "body": {"result": result, "threadId": 9, "newLineNo": 5}});
        assert_eq!(
            decode_one(&mut client(8), &body.to_string()).unwrap(),
            Some(Event::SetLineResult { ok, thread: 9, line: 5 })
        );
    }
}

#[test]
fn a_partial_frame_at_end_of_stream_is_an_unexpected_eof() {
    let bytes = framed(&event("legacyDetach", json!({})));
    let mut buf = BytesMut::from(&bytes[..bytes.len() - 1]);
    match client(8).decode_eof(&mut buf) {
        Err(ProtocolError::Io(error)) => assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("expected an unexpected EOF, got {other:?}"),
    }
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(client(8).decode_eof(&mut buf).unwrap(), Some(Event::Detach));
    assert_eq!(client(8).decode_eof(&mut buf).unwrap(), None);
}

// ---------------------------------------------------------------------------------------
// Server codec.

fn server_decode(server: &mut JsonServerCodec, body: &str) -> Result<Option<Command>, ProtocolError> {
    server.decode(&mut BytesMut::from(&framed(body)[..]))
}

fn server_encode(server: &mut JsonServerCodec, event: Event) -> Value {
    let mut buf = BytesMut::new();
    server.encode(event, &mut buf).unwrap();
    decode_frame(&mut buf, &Limits::default()).unwrap().unwrap()
}

#[test]
fn server_defaults_seq_and_arguments_like_ptvsd() {
    let mut server = JsonServerCodec::new(8, Limits::default());
    assert_eq!(
        server_decode(&mut server, r#"{"type": "request", "command": "legacyResumeAll"}"#).unwrap(),
        Some(Command::ResumeAll)
    );
    assert_eq!(
        server_decode(
            &mut server,
            r#"{"type": "request", "command": "legacyGetBreakpointHitCount", "arguments": {"breakpointId": 2}}"#
        )
        .unwrap(),
        Some(Command::GetBreakpointHitCount { request_id: 0, id: 2 })
    );
    assert_eq!(server.version(), 8);
}

#[test]
fn server_rejects_unknown_commands_bad_languages_and_missing_keys() {
    let mut server = JsonServerCodec::new(8, Limits::default());
    for body in [
        r#"{"type": "request", "seq": 1, "command": "legacyExit", "arguments": {}}"#,
        r#"{"type": "request", "seq": 1, "command": "legacyRemoveBreakpoint", "arguments": {"breakpointId": 1, "breakpointLineNo": 2, "language": 2}}"#,
        r#"{"type": "request", "seq": 1, "command": "legacyRemoveBreakpoint", "arguments": {"breakpointId": 1, "breakpointLineNo": 2, "language": 1}}"#,
        r#"{"type": "request", "seq": 1, "command": "legacyStepOver", "arguments": {}}"#,
        r#"{"type": "event", "seq": 1, "event": "legacyDetach", "body": {}}"#,
    ] {
        assert!(matches!(server_decode(&mut server, body), Err(ProtocolError::Malformed { .. })), "{body}");
    }
    // v7-style execute without the v8 keys is accepted (as 3.1.0 does).
    let v7 = r#"{"type": "request", "seq": 13, "command": "legacyExecuteText", "arguments": {"text": "1", "threadId": 1, "frameId": 0, "executionId": 204, "frameKind": 1, "reprKind": 0}}"#;
    assert!(matches!(server_decode(&mut server, v7).unwrap(), Some(Command::Execute { execution_id: 204, .. })));
}

#[test]
fn server_numbers_messages_and_echoes_request_seqs() {
    let mut server = JsonServerCodec::new(8, Limits::default());
    assert_eq!(
        server_encode(&mut server, Event::ThreadCreate { thread: 1 }),
        json!({"type": "event", "seq": 0, "event": "legacyThreadCreate", "body": {"threadId": 1}})
    );
    let setl = r#"{"type": "request", "seq": 41, "command": "legacySetLineNumber", "arguments": {"threadId": 1, "frameId": 0, "lineNo": 5}}"#;
    server_decode(&mut server, setl).unwrap();
    assert_eq!(
        server_encode(&mut server, Event::SetLineResult { ok: true, thread: 1, line: 5 }),
        json!({"type": "response", "seq": 1, "request_seq": 41, "success": true, "command": "legacySetLineNumber", "message": "",
            "body": {"result": 1, "threadId": 1, "newLineNo": 5}})
    );
    let detach = r#"{"type": "request", "seq": 42, "command": "legacyDetach", "arguments": {}}"#;
    assert_eq!(server_decode(&mut server, detach).unwrap(), Some(Command::Detach));
    assert_eq!(
        server_encode(
            &mut server,
            Event::CommandFailed { command: FailedCommand::Detach, message: "Traceback".into() }
        ),
        json!({"type": "response", "seq": 2, "request_seq": 42, "success": false, "command": "legacyDetach", "message": "Traceback", "body": {}})
    );
    assert_eq!(
        server_encode(&mut server, Event::BreakpointHitCount { request_id: 77, hit_count: 3 }),
        json!({"type": "response", "seq": 3, "request_seq": 77, "success": true, "command": "legacyGetBreakpointHitCount", "message": "",
            "body": {"hitCount": 3}})
    );
    assert_eq!(
        server_encode(
            &mut server,
            Event::CommandFailed { command: FailedCommand::Other("legacyNeverSent".into()), message: String::new() }
        )["request_seq"],
        json!(0)
    );
}
