//! Golden tests against the live ptvsd 3.2.1 (v8) and 3.1.0 (v7) transcripts.

use bytes::BytesMut;
use serde_json::{json, Value};
use tokio_util::codec::{Decoder, Encoder};

use super::fixtures::{self, client, decode_all, decode_transcript, entries, framed, server_stream, Dir};
use crate::legacy::json::{decode_frame, JsonServerCodec};
use crate::legacy::messages::{
    Command, ConditionKind, Event, ExceptionMode, ExceptionStop, FrameKind, HandlerStatement, OutputChannel,
    PassCountKind, PyObject, ReprKind,
};
use crate::legacy::wire::Limits;

const V8_TID: i64 = 139658688338816;
const V7_TID: i64 = 139624716172160;
const EXTRAS_TID: i64 = 140628621265792;

fn obj(repr: Option<&str>, hex: Option<&str>, type_name: &str, length: i64, flags: i64) -> PyObject {
    PyObject {
        repr: repr.map(str::to_owned),
        hex: hex.map(str::to_owned),
        type_name: type_name.to_owned(),
        length,
        flags,
    }
}

fn encode_one(codec: &mut crate::legacy::json::JsonClientCodec, command: Command) -> Value {
    let mut buf = BytesMut::new();
    codec.encode(command, &mut buf).unwrap();
    let value = decode_frame(&mut buf, &Limits::default()).unwrap().unwrap();
    if value["command"] == "legacyDetach" {
        let goodbye = decode_frame(&mut buf, &Limits::default()).unwrap().unwrap();
        assert_eq!(goodbye["command"], crate::legacy::json::GOODBYE);
    }
    assert!(buf.is_empty());
    value
}

fn outputs(events: &[Event]) -> Vec<(&str, OutputChannel)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Output { text, channel, .. } => Some((text.as_str(), *channel)),
            _ => None,
        })
        .collect()
}

fn failures(events: &[Event]) -> Vec<(String, &str)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CommandFailed { command, message } => {
                Some((crate::legacy::json::failed_command_name(command), message.as_str()))
            }
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Requests: what the client codec encodes must be what went over the wire.

/// Replays a transcript: every debug-session request is decoded by the server codec,
/// re-encoded by a client codec (whose seq must match), and compared with the transcript's
/// JSON; every server message is fed to the same client codec. Returns the events.
fn replay(transcript: &str, version: i64) -> (Vec<Event>, usize) {
    let mut client = client(version);
    let mut server = JsonServerCodec::new(version, Limits::default());
    let mut events = Vec::new();
    let mut compared = 0;
    for entry in entries(transcript) {
        match entry.dir {
            Dir::ServerToClient => events.extend(decode_all(&mut client, &framed(&entry.body))),
            Dir::ClientToServer => {
                let mut expected = entry.json();
                let command = expected["command"].as_str().unwrap().to_owned();
                if command.starts_with("legacyRemote") {
                    continue; // the handshake is not this codec's business
                }
                let mut wire = BytesMut::from(&framed(&entry.body)[..]);
                let mut decoded = server.decode(&mut wire).unwrap().unwrap();
                if let Command::GetBreakpointHitCount { request_id, .. } = &mut decoded {
                    // The server side reads the seq as request id; the client's own id is
                    // what must come back in the event.
                    assert_eq!(Value::from(*request_id), expected["seq"]);
                    *request_id += 1000;
                }
                // The probe deliberately sent one `legacyExecuteText` without the v8 keys to
                // show the KeyError; this codec always sends them.
                if command == "legacyExecuteText" && expected["arguments"].get("moduleName").is_none() {
                    assert_eq!(expected["arguments"]["text"], json!("1"));
                    expected["arguments"]["moduleName"] = Value::Null;
                    expected["arguments"]["printResult"] = json!(false);
                }
                assert_eq!(encode_one(&mut client, decoded), expected, "request {}", entry.body);
                compared += 1;
            }
        }
    }
    (events, compared)
}

#[test]
fn every_request_of_the_single_session_transcripts_is_reproduced() {
    let runs = [
        (fixtures::V8, 8, 18),
        (fixtures::V8_EXTRAS, 8, 15),
        (fixtures::V8_STEPBUG, 8, 11),
        (fixtures::V8_SETL, 8, 5),
        (fixtures::V8_UNCAUGHT, 8, 5),
        (fixtures::V7, 7, 18),
    ];
    for (transcript, version, requests) in runs {
        let (events, compared) = replay(transcript, version);
        assert_eq!(compared, requests);
        // Replaying interleaved gives the same events as decoding the stream alone, except
        // that hit counts now map back to the client's request id.
        // Detach replies are held back after our own detach until the goodbye is
        // answered (these transcripts predate it), so compare without them.
        let alone = decode_transcript(transcript, version);
        let not_detach = |e: &&Event| {
            !matches!(e, Event::Detach)
                && !matches!(e, Event::CommandFailed { command: crate::legacy::messages::FailedCommand::Detach, .. })
        };
        assert_eq!(events.iter().filter(not_detach).count(), alone.iter().filter(not_detach).count());
    }
}

#[test]
fn hit_count_responses_map_back_to_the_request_id() {
    let (events, _) = replay(fixtures::V8, 8);
    assert!(events.contains(&Event::BreakpointHitCount { request_id: 1014, hit_count: 1 }));
    let (events, _) = replay(fixtures::V8_EXTRAS, 8);
    assert!(events.contains(&Event::BreakpointHitCount { request_id: 1010, hit_count: 2 }));
    let (events, _) = replay(fixtures::V8_SETL, 8);
    assert!(events.contains(&Event::BreakpointHitCount { request_id: 1007, hit_count: 1 }));
}

#[test]
fn hand_written_requests_match_the_transcripts() {
    let mut c = client(8);
    assert_eq!(
        encode_one(
            &mut c,
            Command::SetBreakpoint {
                id: 1,
                line: 11,
                file: "/opt/peer/target.py".into(),
                condition_kind: ConditionKind::Always,
                condition: String::new(),
                pass_count_kind: PassCountKind::Always,
                pass_count: 0,
            }
        ),
        json!({"type": "request", "seq": 3, "command": "legacySetBreakpoint", "arguments": {"breakpointId": 1, "breakpointLineNo": 11, "breakpointFileName": "/opt/peer/target.py", "conditionKind": 0, "condition": "", "passCountKind": 0, "passCount": 0, "language": 0}})
    );
    assert_eq!(
        encode_one(&mut c, Command::ResumeAll),
        json!({"type": "request", "seq": 4, "command": "legacyResumeAll", "arguments": {}})
    );
    assert_eq!(
        encode_one(
            &mut c,
            Command::EnumChildren {
                text: "data".into(),
                thread: V8_TID,
                frame: 0,
                execution_id: 100,
                frame_kind: FrameKind::Python
            }
        ),
        json!({"type": "request", "seq": 5, "command": "legacyEnumChildren", "arguments": {"text": "data", "threadId": 139658688338816i64, "frameId": 0, "executionId": 100, "frameKind": 1}})
    );
    assert_eq!(
        encode_one(
            &mut c,
            Command::Execute {
                text: "\"abc\" * 3".into(),
                thread: V8_TID,
                frame: 0,
                execution_id: 203,
                frame_kind: FrameKind::Python,
                repr_kind: ReprKind::Raw,
            }
        ),
        json!({"type": "request", "seq": 6, "command": "legacyExecuteText", "arguments": {"text": "\"abc\" * 3", "threadId": 139658688338816i64, "frameId": 0, "executionId": 203, "frameKind": 1, "reprKind": 1, "moduleName": null, "printResult": false}})
    );
    assert_eq!(
        encode_one(&mut c, Command::RemoveBreakpoint { id: 1, line: 11 }),
        json!({"type": "request", "seq": 7, "command": "legacyRemoveBreakpoint", "arguments": {"breakpointId": 1, "breakpointLineNo": 11, "language": 0}})
    );
    assert_eq!(
        encode_one(
            &mut c,
            Command::SetExceptionInfo {
                default_mode: 32,
                exceptions: vec![ExceptionMode { name: "builtins.ValueError".into(), mode: 1 }],
            }
        ),
        json!({"type": "request", "seq": 8, "command": "legacySetExceptionInfo", "arguments": {"defaultBreakOnMode": 32, "breakOn": [{"name": "builtins.ValueError", "mode": 1}]}})
    );
    assert_eq!(
        encode_one(
            &mut c,
            Command::SetExceptionHandlerInfo {
                file: "target_extras.py".into(),
                statements: vec![HandlerStatement {
                    start_line: 10,
                    end_line: 12,
                    expressions: vec!["ValueError".into()]
                }],
            }
        ),
        json!({"type": "request", "seq": 9, "command": "legacySetExceptionHandlerInfo", "arguments": {"fileName": "target_extras.py", "statements": [{"lineStart": 10, "lineEnd": 12, "expressions": ["ValueError"]}]}})
    );
    assert_eq!(
        encode_one(&mut c, Command::SetLineNumber { thread: EXTRAS_TID, frame: 0, line: 5 }),
        json!({"type": "request", "seq": 10, "command": "legacySetLineNumber", "arguments": {"threadId": 140628621265792i64, "frameId": 0, "lineNo": 5}})
    );
    assert_eq!(
        encode_one(&mut c, Command::GetBreakpointHitCount { request_id: 77, id: 5 }),
        json!({"type": "request", "seq": 11, "command": "legacyGetBreakpointHitCount", "arguments": {"breakpointId": 5}})
    );
}

#[test]
fn django_breakpoints_carry_language_1_and_every_key() {
    // Not in the transcripts (no Django app); keys as ptvsd 3.2.1's handlers read them.
    let mut c = client(8);
    assert_eq!(
        encode_one(&mut c, Command::SetDjangoBreakpoint { id: 12, line: 4, file: "/app/templates/index.html".into() }),
        json!({"type": "request", "seq": 3, "command": "legacySetBreakpoint", "arguments": {"breakpointId": 12, "breakpointLineNo": 4, "breakpointFileName": "/app/templates/index.html", "conditionKind": 0, "condition": "", "passCountKind": 0, "passCount": 0, "language": 1}})
    );
    assert_eq!(
        encode_one(
            &mut c,
            Command::RemoveDjangoBreakpoint { id: 12, line: 4, file: "/app/templates/index.html".into() }
        ),
        json!({"type": "request", "seq": 4, "command": "legacyRemoveBreakpoint", "arguments": {"breakpointId": 12, "breakpointLineNo": 4, "breakpointFileName": "/app/templates/index.html", "language": 1}})
    );
}

// ---------------------------------------------------------------------------------------
// Server messages: every kind in the transcripts decodes to the expected event.

#[test]
fn v8_main_session() {
    let events = decode_transcript(fixtures::V8, 8);
    // The handshake's event is unknown to the session model; its responses are swallowed.
    assert_eq!(events[0], Event::Unknown { name: "legacyRemoteConnected".into() });
    assert_eq!(events[1], Event::ThreadCreate { thread: V8_TID });
    assert_eq!(
        events[2],
        Event::ModuleLoad {
            module_id: 0,
            file: "/home/.pyenv/versions/3.11.7/lib/python3.11/importlib/_bootstrap.py".into()
        }
    );
    assert_eq!(events.iter().filter(|e| matches!(e, Event::ModuleLoad { .. })).count(), 125);
    assert_eq!(events.iter().filter(|e| matches!(e, Event::ModulesChanged)).count(), 2);
    assert_eq!(events.iter().filter(|e| matches!(e, Event::FrameList { .. })).count(), 10);
    assert!(events.contains(&Event::ProcessLoad { thread: V8_TID }));
    assert!(events.contains(&Event::BreakpointFailed { id: 1 }));
    assert!(events.contains(&Event::BreakpointSet { id: 1 }));
    assert_eq!(events.iter().filter(|e| **e == Event::BreakpointHit { id: 1, thread: V8_TID }).count(), 2);
    assert!(events.contains(&Event::StepDone { thread: V8_TID }));
    assert_eq!(events.last(), Some(&Event::Detach));

    // The frame list pushed before the first breakpoint hit: compute:11.
    let hit = events.iter().position(|e| matches!(e, Event::BreakpointHit { .. })).unwrap();
    let Event::FrameList { thread, name, frames } = &events[hit - 1] else {
        panic!("expected a frame list before the hit, got {:?}", events[hit - 1]);
    };
    assert_eq!(*thread, V8_TID);
    assert_eq!(name.as_deref(), Some("MainThread"));
    assert_eq!(frames.len(), 3);
    let compute = &frames[0];
    assert_eq!(
        (compute.start_line, compute.end_line, compute.line, compute.function.as_str(), compute.file.as_str()),
        (8, 13, 11, "compute", "/opt/peer/target.py")
    );
    assert_eq!((compute.arg_count, compute.kind, &compute.django_source), (1, FrameKind::Python, &None));
    let names: Vec<&str> = compute.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["n", "data", "pt", "total", "Point"]);
    assert_eq!(compute.variables[0].value, obj(Some("0"), Some("0x0"), "int", 0, 0));
    assert_eq!(compute.variables[1].value, obj(Some("[0, 0, {'k': 0}]"), None, "list", 3, 1));
    assert_eq!(compute.variables[2].value, obj(Some("<__main__.Point object at 0x7f04d15aded0>"), None, "Point", 0, 1));
    assert_eq!(compute.variables[3].value, obj(Some("<undefined>"), None, "", 0, 0));
    assert_eq!(compute.variables[4].value, obj(Some("<class '__main__.Point'>"), None, "type", 0, 1));
    assert!(compute.variables[1].value.is_expandable());
    assert_eq!((frames[1].function.as_str(), frames[1].line), ("main", 17));
    assert_eq!((frames[2].function.as_str(), frames[2].line, frames[2].start_line), ("<module>", 21, 1));
    assert_eq!(frames[2].variables[0].name, "__name__");
    assert_eq!(frames[2].variables[0].value, obj(Some("'__main__'"), None, "str", 8, 16));

    // `thrf` answers are produced on the debugger thread: wrong name.
    assert!(events.iter().any(|e| matches!(e, Event::FrameList { name: Some(name), .. } if name == "Dummy-2")));

    // Children of `data`, of `data[2]` and of `pt`.
    let children = |id: i64| {
        events
            .iter()
            .find_map(|e| match e {
                Event::Children { execution_id, children } if *execution_id == id => Some(children.clone()),
                _ => None,
            })
            .unwrap()
    };
    let data = children(100);
    assert_eq!(data.len(), 3);
    assert_eq!((data[0].name.as_str(), data[0].expression.as_deref()), ("[0]", Some("data[0]")));
    assert_eq!(data[0].value, obj(Some("0"), Some("0x0"), "int", 0, 0));
    assert_eq!((data[2].name.as_str(), data[2].expression.as_deref()), ("[2]", Some("data[2]")));
    assert_eq!(data[2].value, obj(Some("{'k': 0}"), None, "dict", 1, 1));
    let dict = children(101);
    assert_eq!((dict[0].name.as_str(), dict[0].expression.as_deref()), ("items()", Some("data[2].items()")));
    assert_eq!(dict[0].value, obj(Some(""), None, "", 0, 3));
    assert_eq!((dict[1].name.as_str(), dict[1].expression.as_deref()), ("['k']", Some("data[2]['k']")));
    let pt = children(102);
    assert_eq!(pt.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(pt[1].value, obj(Some("1"), Some("0x1"), "int", 0, 0));

    // Evaluations.
    assert!(
        events.contains(&Event::ExecutionResult { execution_id: 200, value: obj(Some("3"), Some("0x3"), "int", 0, 0) })
    );
    assert!(
        events.contains(&Event::ExecutionResult { execution_id: 201, value: obj(Some("0"), Some("0x0"), "int", 0, 0) })
    );
    assert!(events.contains(&Event::ExecutionException {
        execution_id: 202,
        text: "name 'undefined_name_xyz' is not defined".into()
    }));
    assert!(events.contains(&Event::ExecutionResult {
        execution_id: 203,
        value: obj(Some("abcabcabc"), None, "str", 9, PyObject::RAW | PyObject::HAS_RAW_REPR)
    }));

    // The v8 KeyError for the request without `moduleName`.
    let failed = failures(&events);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "legacyExecuteText");
    assert!(failed[0].1.ends_with("KeyError: 'moduleName'\n"), "{}", failed[0].1);

    // Without a remembered request the hit count reports the response's request_seq.
    assert!(events.contains(&Event::BreakpointHitCount { request_id: 14, hit_count: 1 }));

    // 3.2.1 output: one event per write, channel "stdout".
    let out = outputs(&events);
    assert_eq!(out.len(), 26);
    assert_eq!(
        &out[..6],
        &[
            ("result", OutputChannel::Stdout),
            (" ", OutputChannel::Stdout),
            ("0", OutputChannel::Stdout),
            (" ", OutputChannel::Stdout),
            ("1", OutputChannel::Stdout),
            ("\n", OutputChannel::Stdout),
        ]
    );
    assert_eq!(
        out.iter().map(|(t, _)| *t).collect::<String>(),
        "result 0 1\nresult 1 11\nresult 2 21\nresult 3 31\ndone\n"
    );
}

#[test]
fn v8_extras_exception_async_break_setl_and_detach() {
    let events = decode_transcript(fixtures::V8_EXTRAS, 8);
    assert!(events.contains(&Event::RequestHandlers { file: "target_extras.py".into() }));
    let exception = events
        .iter()
        .find_map(|e| match e {
            Event::Exception(stop) => Some(stop.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        exception,
        ExceptionStop {
            thread: EXTRAS_TID,
            type_name: "ValueError".into(),
            message: "bad 1".into(),
            unhandled: false,
            trace: Some("'target_extras.py',11,'risky','raise ValueError(\"bad %d\" % k)'".into()),
            exc_value: Some("__exception_info".into()),
            rich: true,
        }
    );
    // The frame list before the exception: risky:11 with `k`.
    let at = events.iter().position(|e| matches!(e, Event::Exception(_))).unwrap();
    let Event::FrameList { frames, .. } = &events[at - 1] else { panic!("{:?}", events[at - 1]) };
    assert_eq!((frames[0].function.as_str(), frames[0].line), ("risky", 11));
    assert_eq!(frames[0].variables[0].name, "k");

    let Some(Event::Children { children, .. }) =
        events.iter().find(|e| matches!(e, Event::Children { execution_id: 400, .. }))
    else {
        panic!("no children for 400")
    };
    assert_eq!(
        children.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["items()", "['exception']", "['exception_type']", "['message']"]
    );
    assert_eq!(children[3].value, obj(Some("'bad 1'"), None, "str", 5, 16));

    assert!(events.contains(&Event::BreakpointHit { id: 5, thread: EXTRAS_TID }));
    assert!(events.contains(&Event::BreakpointHitCount { request_id: 10, hit_count: 2 }));
    assert!(events.contains(&Event::SetLineResult { ok: false, thread: EXTRAS_TID, line: 0 }));
    assert!(events.contains(&Event::AsyncBreak { thread: EXTRAS_TID }));

    // legacyDetach: success (swallowed), the event, then a second, failed response (§4.8);
    // at process exit a second detach event.
    let detach = events.iter().position(|e| *e == Event::Detach).unwrap();
    let Event::CommandFailed { command, message } = &events[detach + 1] else {
        panic!("expected the second detach response, got {:?}", events[detach + 1]);
    };
    assert_eq!(*command, crate::legacy::messages::FailedCommand::Detach);
    assert!(message.ends_with("ptvsd.debugger.DebuggerExitException\n"), "{message}");
    assert_eq!(events[detach + 2], Event::Detach);
    assert_eq!(events.len(), detach + 3);
}

#[test]
fn v8_misc_lone_surrogate_output_and_rejections() {
    let events = decode_transcript(fixtures::V8_MISC, 8);
    let tid = 140355912129408;
    assert!(events.contains(&Event::Output { thread: tid, text: "\u{FFFD}".into(), channel: OutputChannel::Stdout }));
    assert!(
        events.contains(&Event::ExecutionResult { execution_id: 5, value: obj(Some("None"), None, "NoneType", 0, 0) })
    );
    let failed = failures(&events);
    assert_eq!(
        (failed[0].0.as_str(), failed[0].1),
        ("legacyRemoteDebuggerInfo", "legacyRemoteDebuggerAuthenticate request must be sent first.")
    );
    assert_eq!(failed.iter().filter(|(c, _)| *c == "legacyDetach").count(), 2);
    assert_eq!(events.iter().filter(|e| **e == Event::Detach).count(), 2);
    assert_eq!(events.iter().filter(|e| **e == Event::Unknown { name: "legacyRemoteConnected".into() }).count(), 5);
}

#[test]
fn v8_stepbug_auto_resume_fails_with_a_second_response() {
    let events = decode_transcript(fixtures::V8_STEPBUG, 8);
    let tid = 140122223733632;
    assert!(events.contains(&Event::BreakpointHit { id: 10, thread: tid }));
    let failed = failures(&events);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "legacyAutoResumeThread");
    assert!(failed[0].1.ends_with("NameError: name 'tid' is not defined\n"));
    assert!(events.contains(&Event::StepDone { thread: tid }));
    assert_eq!(events.last(), Some(&Event::BreakpointHit { id: 9, thread: tid }));
}

#[test]
fn v8_setl_result_is_zero_on_python_311() {
    let events = decode_transcript(fixtures::V8_SETL, 8);
    let tid = 140479851608960;
    assert!(events.contains(&Event::SetLineResult { ok: false, thread: tid, line: 0 }));
    assert!(events.contains(&Event::BreakpointHitCount { request_id: 7, hit_count: 1 }));
    assert!(events.contains(&Event::BreakpointHit { id: 7, thread: tid }));
}

#[test]
fn v8_uncaught_exception_is_unhandled_and_stderr_is_separate() {
    let events = decode_transcript(fixtures::V8_UNCAUGHT, 8);
    let tid = 140475608980352;
    assert!(events.contains(&Event::Exception(ExceptionStop {
        thread: tid,
        type_name: "ZeroDivisionError".into(),
        message: "division by zero".into(),
        unhandled: true,
        trace: Some("'uncaught_target.py',2,'boom','return 10 / v'".into()),
        exc_value: Some("__exception_info".into()),
        rich: true,
    })));
    let out = outputs(&events);
    assert!(out.contains(&("  File \"uncaught_target.py\", line 6, in main\n    boom(0)\n", OutputChannel::Stderr)));
    assert!(out.contains(&("about to fail", OutputChannel::Stdout)));
    assert!(events.contains(&Event::RequestHandlers { file: "<frozen runpy>".into() }));
}

#[test]
fn v7_session_has_no_output_channel_and_no_modules_changed() {
    let events = decode_transcript(fixtures::V7, 7);
    assert!(!events.contains(&Event::ModulesChanged));
    let out = outputs(&events);
    assert_eq!(out.len(), 26);
    assert!(out.iter().all(|(_, channel)| *channel == OutputChannel::Unknown));
    assert_eq!(out[0], ("result", OutputChannel::Unknown));
    // v7 ignores the missing `moduleName`: the evaluation simply runs.
    assert!(failures(&events).is_empty());
    assert!(
        events.contains(&Event::ExecutionResult { execution_id: 204, value: obj(Some("1"), Some("0x1"), "int", 0, 0) })
    );
    let Some(Event::FrameList { frames, .. }) = events.iter().find(
        |e| matches!(e, Event::FrameList { frames, .. } if frames.first().is_some_and(|f| f.function == "compute")),
    ) else {
        panic!("no compute frame list")
    };
    assert_eq!(frames[0].variables.len(), 5);
    assert!(events.contains(&Event::BreakpointHit { id: 1, thread: V7_TID }));
    assert!(events.contains(&Event::BreakpointHitCount { request_id: 14, hit_count: 1 }));
    assert_eq!(events.last(), Some(&Event::Detach));
}

// ---------------------------------------------------------------------------------------
// Chunking: bytes arrive in arbitrary pieces.

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn chunk(&mut self) -> usize {
        (self.next() % 64) as usize + 1
    }
}

#[test]
fn transcripts_decode_the_same_in_random_chunks() {
    for (name, transcript) in fixtures::ALL {
        let version = if *name == "v7" { 7 } else { 8 };
        let stream = server_stream(transcript);
        let whole = decode_transcript(transcript, version);
        for seed in [1u64, 0x9E37_79B9_7F4A_7C15, 0xDEAD_BEEF] {
            let mut rng = Rng(seed);
            let mut codec = client(version);
            let mut buf = BytesMut::new();
            let mut events = Vec::new();
            let mut at = 0;
            while at < stream.len() {
                let end = (at + rng.chunk()).min(stream.len());
                buf.extend_from_slice(&stream[at..end]);
                at = end;
                while let Some(event) = codec.decode(&mut buf).unwrap() {
                    events.push(event);
                }
            }
            assert!(buf.is_empty());
            assert_eq!(events, whole, "{name}, seed {seed:#x}");
        }
    }
}

#[test]
fn detach_is_followed_by_a_goodbye_that_ends_ptvsds_command_loop() {
    let mut codec = crate::legacy::json::JsonClientCodec::new(8, Limits::default(), 5);
    let mut buf = BytesMut::new();
    codec.encode(Command::Detach, &mut buf).unwrap();
    let detach = decode_frame(&mut buf, &Limits::default()).unwrap().unwrap();
    let goodbye = decode_frame(&mut buf, &Limits::default()).unwrap().unwrap();
    assert_eq!(detach["command"], "legacyDetach");
    assert_eq!(detach["seq"], 5);
    assert_eq!(goodbye["command"], crate::legacy::json::GOODBYE);
    assert!(buf.is_empty());
    // The fake server does not see it as a command.
    let mut server = crate::legacy::json::JsonServerCodec::new(8, Limits::default());
    let mut wire = BytesMut::new();
    codec.encode(Command::Detach, &mut wire).unwrap();
    assert_eq!(server.decode(&mut wire).unwrap(), Some(Command::Detach));
    assert_eq!(server.decode(&mut wire).unwrap(), None);
}

#[test]
fn our_detach_completes_when_the_goodbye_is_answered() {
    let mut codec = crate::legacy::json::JsonClientCodec::new(8, Limits::default(), 5);
    let mut out = BytesMut::new();
    codec.encode(Command::Detach, &mut out).unwrap();
    let frame = |v: Value| {
        let body = v.to_string();
        format!("Content-Length: {}\r\n\r\n{}", body.len(), body)
    };
    let mut wire = BytesMut::new();
    wire.extend_from_slice(frame(serde_json::json!({"type": "response", "seq": 1, "request_seq": 5, "success": true, "command": "legacyDetach", "message": "", "body": {}})).as_bytes());
    wire.extend_from_slice(
        frame(serde_json::json!({"type": "event", "seq": 2, "event": "legacyDetach", "body": {}})).as_bytes(),
    );
    wire.extend_from_slice(frame(serde_json::json!({"type": "response", "seq": 3, "request_seq": 5, "success": false, "command": "legacyDetach", "message": "DebuggerExitException", "body": {}})).as_bytes());
    assert_eq!(codec.decode(&mut wire).unwrap(), None, "nothing until the goodbye is answered");
    wire.extend_from_slice(frame(serde_json::json!({"type": "response", "seq": 4, "request_seq": 0, "success": false, "command": "ptvsdDapGoodbye", "message": "Unknown command", "body": {}})).as_bytes());
    assert_eq!(codec.decode(&mut wire).unwrap(), Some(Event::Detach));
    // An unsolicited detach (the program exiting) still comes through.
    wire.extend_from_slice(
        frame(serde_json::json!({"type": "event", "seq": 5, "event": "legacyDetach", "body": {}})).as_bytes(),
    );
    assert_eq!(codec.decode(&mut wire).unwrap(), Some(Event::Detach));
}
