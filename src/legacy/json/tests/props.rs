//! Round-trip properties: client encode → server decode for every [`Command`], server
//! encode → client decode for every [`Event`], under arbitrary chunking; and the framing
//! never panics on arbitrary bytes.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use super::fixtures::client;
use crate::legacy::json::events::KNOWN_EVENTS;
use crate::legacy::json::{decode_frame, JsonServerCodec};
use crate::legacy::messages::{
    Child, Command, ConditionKind, Event, ExceptionMode, ExceptionStop, Frame, FrameKind, HandlerStatement,
    OutputChannel, PassCountKind, PyObject, ReprKind, Variable,
};
use crate::legacy::wire::Limits;

/// Strings with non-ASCII, astral and JSON-special characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => vec(any::<char>(), 0..12).prop_map(String::from_iter),
        1 => "[ -~]{0,12}",
        1 => prop::sample::select(vec![
            "", "\u{1F600}", "é中\u{10FFFF}", "\u{FFFD}", "\\udc80", "\"\\\n\t\u{0}", "<module>", "\u{2028}",
        ])
        .prop_map(str::to_owned),
    ]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), -2i64..300, Just(i64::MAX), Just(i64::MIN)]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn small_enum() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 0i64..4, 1 => any::<i64>()]
}

fn py_object() -> impl Strategy<Value = PyObject> {
    (opt_text(), opt_text(), text(), int(), int()).prop_map(|(repr, hex, type_name, length, flags)| PyObject {
        repr,
        hex,
        type_name,
        length,
        flags,
    })
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        (int(), int(), int(), text(), text(), int(), small_enum()),
        prop::option::of((text(), int())),
        vec((text(), py_object()).prop_map(|(name, value)| Variable { name, value }), 0..4),
    )
        .prop_map(|((start_line, end_line, line, function, file, arg_count, kind), django_source, variables)| {
            Frame {
                start_line,
                end_line,
                line,
                function,
                file,
                arg_count,
                kind: FrameKind::from_wire(kind),
                django_source,
                variables,
            }
        })
}

fn child() -> impl Strategy<Value = Child> {
    (text(), opt_text(), py_object()).prop_map(|(name, expression, value)| Child { name, expression, value })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        int().prop_map(|thread| Command::StepInto { thread }),
        int().prop_map(|thread| Command::StepOut { thread }),
        int().prop_map(|thread| Command::StepOver { thread }),
        Just(Command::BreakAll),
        Just(Command::ResumeAll),
        int().prop_map(|thread| Command::ResumeThread { thread }),
        int().prop_map(|thread| Command::AutoResumeThread { thread }),
        int().prop_map(|thread| Command::ClearStepping { thread }),
        int().prop_map(|thread| Command::GetThreadFrames { thread }),
        (int(), int(), text(), small_enum(), text(), small_enum(), int()).prop_map(
            |(id, line, file, ck, condition, pk, pass_count)| Command::SetBreakpoint {
                id,
                line,
                file,
                condition_kind: ConditionKind::from_wire(ck),
                condition,
                pass_count_kind: PassCountKind::from_wire(pk),
                pass_count,
            }
        ),
        (int(), small_enum(), text()).prop_map(|(id, ck, condition)| Command::SetBreakpointCondition {
            id,
            condition_kind: ConditionKind::from_wire(ck),
            condition,
        }),
        (int(), small_enum(), int()).prop_map(|(id, pk, pass_count)| Command::SetBreakpointPassCount {
            id,
            pass_count_kind: PassCountKind::from_wire(pk),
            pass_count,
        }),
        (int(), int()).prop_map(|(id, hit_count)| Command::SetBreakpointHitCount { id, hit_count }),
        (int(), int()).prop_map(|(request_id, id)| Command::GetBreakpointHitCount { request_id, id }),
        (int(), int()).prop_map(|(id, line)| Command::RemoveBreakpoint { id, line }),
        (int(), int(), text()).prop_map(|(id, line, file)| Command::SetDjangoBreakpoint { id, line, file }),
        (int(), int(), text()).prop_map(|(id, line, file)| Command::RemoveDjangoBreakpoint { id, line, file }),
        (text(), int(), int(), int(), small_enum(), small_enum()).prop_map(
            |(text, thread, frame, execution_id, fk, rk)| Command::Execute {
                text,
                thread,
                frame,
                execution_id,
                frame_kind: FrameKind::from_wire(fk),
                repr_kind: ReprKind::from_wire(rk),
            }
        ),
        (text(), int(), int(), int(), small_enum()).prop_map(|(text, thread, frame, execution_id, fk)| {
            Command::EnumChildren { text, thread, frame, execution_id, frame_kind: FrameKind::from_wire(fk) }
        }),
        (int(), int(), int()).prop_map(|(thread, frame, line)| Command::SetLineNumber { thread, frame, line }),
        (int(), vec((text(), int()).prop_map(|(name, mode)| ExceptionMode { name, mode }), 0..4))
            .prop_map(|(default_mode, exceptions)| Command::SetExceptionInfo { default_mode, exceptions }),
        (
            text(),
            vec(
                (int(), int(), vec(text(), 0..3)).prop_map(|(start_line, end_line, expressions)| HandlerStatement {
                    start_line,
                    end_line,
                    expressions
                }),
                0..3
            )
        )
            .prop_map(|(file, statements)| Command::SetExceptionHandlerInfo { file, statements }),
        Just(Command::Detach),
        Just(Command::LastAck),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        int().prop_map(|thread| Event::ThreadCreate { thread }),
        int().prop_map(|thread| Event::ThreadExit { thread }),
        (int(), text()).prop_map(|(module_id, file)| Event::ModuleLoad { module_id, file }),
        Just(Event::ModulesChanged),
        (int(), opt_text(), vec(frame(), 0..3)).prop_map(|(thread, name, frames)| Event::FrameList {
            thread,
            name,
            frames
        }),
        int().prop_map(|thread| Event::ProcessLoad { thread }),
        int().prop_map(|id| Event::BreakpointSet { id }),
        int().prop_map(|id| Event::BreakpointFailed { id }),
        (int(), int()).prop_map(|(id, thread)| Event::BreakpointHit { id, thread }),
        int().prop_map(|thread| Event::StepDone { thread }),
        int().prop_map(|thread| Event::AsyncBreak { thread }),
        // JSON servers only send the rich form.
        (int(), text(), text(), any::<bool>(), opt_text(), opt_text()).prop_map(
            |(thread, type_name, message, unhandled, trace, exc_value)| Event::Exception(ExceptionStop {
                thread,
                type_name,
                message,
                unhandled,
                trace,
                exc_value,
                rich: true,
            })
        ),
        text().prop_map(|file| Event::RequestHandlers { file }),
        (int(), py_object()).prop_map(|(execution_id, value)| Event::ExecutionResult { execution_id, value }),
        (int(), text()).prop_map(|(execution_id, text)| Event::ExecutionException { execution_id, text }),
        (int(), vec(child(), 0..4)).prop_map(|(execution_id, children)| Event::Children { execution_id, children }),
        (int(), int()).prop_map(|(request_id, hit_count)| Event::BreakpointHitCount { request_id, hit_count }),
        (any::<bool>(), int(), int()).prop_map(|(ok, thread, line)| Event::SetLineResult { ok, thread, line }),
        (
            int(),
            text(),
            prop::sample::select(vec![
                OutputChannel::Stdout,
                OutputChannel::Stderr,
                OutputChannel::Debug,
                OutputChannel::Unknown
            ])
        )
            .prop_map(|(thread, text, channel)| Event::Output { thread, text, channel }),
        Just(Event::Detach),
        Just(Event::Last),
        (text(), text())
            .prop_filter("a known command name decodes to its typed variant", |(command, _)| !command
                .starts_with("legacy"))
            .prop_map(|(command, message)| Event::CommandFailed {
                command: crate::legacy::messages::FailedCommand::Other(command),
                message
            }),
        text()
            .prop_filter("a known event name decodes to its variant", |name| !KNOWN_EVENTS.contains(&name.as_str()))
            .prop_map(|name| Event::Unknown { name }),
    ]
}

/// What the server side reads back: the request id of a hit-count request is its seq.
fn as_received(command: Command, seq: i64) -> Command {
    match command {
        Command::GetBreakpointHitCount { id, .. } => Command::GetBreakpointHitCount { request_id: seq, id },
        other => other,
    }
}

/// Feeds `bytes` to `decoder` in pieces of the given sizes (cycled), collecting items.
fn decode_chunked<D: Decoder>(decoder: &mut D, bytes: &[u8], sizes: &[usize]) -> Vec<D::Item>
where
    D::Error: std::fmt::Debug,
{
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        buf.extend_from_slice(&bytes[at..end]);
        at = end;
        while let Some(item) = decoder.decode(&mut buf).unwrap() {
            out.push(item);
        }
    }
    assert!(buf.is_empty());
    out
}

/// `json.dumps` with its default `ensure_ascii`: every non-ASCII character as `\uXXXX`,
/// astral ones as surrogate pairs.
fn python_dumps_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn every_command_survives_client_encode_then_server_decode(
        commands in vec(command(), 1..6),
        first_seq in 3i64..1_000_000,
        sizes in vec(1usize..=64, 1..8),
    ) {
        let mut client = crate::legacy::json::JsonClientCodec::new(8, Limits::default(), first_seq);
        let mut wire = BytesMut::new();
        for command in &commands {
            client.encode(command.clone(), &mut wire).unwrap();
        }
        let mut server = JsonServerCodec::new(8, Limits::default());
        let received = decode_chunked(&mut server, &wire, &sizes);
        let expected: Vec<Command> = commands
            .into_iter()
            .zip(first_seq..)
            .map(|(command, seq)| as_received(command, seq))
            .collect();
        prop_assert_eq!(received, expected);
    }

    #[test]
    fn every_event_survives_server_encode_then_client_decode(
        events in vec(event(), 1..6),
        sizes in vec(1usize..=64, 1..8),
    ) {
        let mut server = JsonServerCodec::new(8, Limits::default());
        let mut wire = BytesMut::new();
        for event in &events {
            server.encode(event.clone(), &mut wire).unwrap();
        }
        let received = decode_chunked(&mut client(8), &wire, &sizes);
        prop_assert_eq!(received, events);
    }

    #[test]
    fn hit_counts_come_back_with_the_client_request_id(request_id in int(), id in int(), hit_count in int()) {
        let mut client = client(8);
        let mut server = JsonServerCodec::new(8, Limits::default());
        let mut wire = BytesMut::new();
        client.encode(Command::GetBreakpointHitCount { request_id, id }, &mut wire).unwrap();
        let Some(Command::GetBreakpointHitCount { request_id: seq, .. }) = server.decode(&mut wire).unwrap() else {
            panic!("not a hit-count request");
        };
        server.encode(Event::BreakpointHitCount { request_id: seq, hit_count }, &mut wire).unwrap();
        prop_assert_eq!(client.decode(&mut wire).unwrap(), Some(Event::BreakpointHitCount { request_id, hit_count }));
    }

    #[test]
    fn ptvsd_style_ascii_escapes_decode_to_the_original_text(s in text()) {
        let body = format!("{{\"output\": {}}}", python_dumps_string(&s));
        prop_assert!(body.is_ascii());
        let mut buf = BytesMut::from(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
        let value = decode_frame(&mut buf, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(value["output"].as_str(), Some(s.as_str()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300), with_header in any::<bool>()) {
        let mut input = if with_header {
            format!("Content-Length: {}\r\n\r\n", bytes.len()).into_bytes()
        } else {
            Vec::new()
        };
        input.extend_from_slice(&bytes);
        let mut buf = BytesMut::from(&input[..]);
        let _ = decode_frame(&mut buf, &Limits::default());
        let mut buf = BytesMut::from(&input[..]);
        let _ = client(8).decode(&mut buf);
        let mut buf = BytesMut::from(&input[..]);
        let _ = JsonServerCodec::new(8, Limits::default()).decode(&mut buf);
    }

    #[test]
    fn arbitrary_json_messages_never_panic(value in arbitrary_json()) {
        for wrapped in [
            value.clone(),
            serde_json::json!({"type": "event", "seq": 1, "event": "legacyThreadFrameList", "body": value.clone()}),
            serde_json::json!({"type": "response", "success": true, "command": "legacySetLineNumber", "body": value.clone()}),
            serde_json::json!({"type": "request", "seq": 1, "command": "legacySetExceptionHandlerInfo", "arguments": value}),
        ] {
            let mut buf = BytesMut::new();
            crate::legacy::json::encode_frame(&wrapped, &mut buf);
            let _ = client(8).decode(&mut buf.clone());
            let _ = JsonServerCodec::new(8, Limits::default()).decode(&mut buf);
        }
    }
}

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let keys = prop::sample::select(vec![
            "threadId",
            "threadName",
            "threadFrames",
            "variables",
            "obj",
            "objRepr",
            "flags",
            "name",
            "fileName",
            "statements",
            "lineStart",
            "expressions",
            "result",
            "x",
        ]);
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::from),
            vec((keys, inner), 0..6)
                .prop_map(|pairs| { Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()) }),
        ]
    })
}
