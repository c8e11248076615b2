//! Golden bytes: what live ptvsd 3.0.0 (v6) sessions put on the wire.

use super::{decode_command, decode_event, encode_command, encode_event, message, recorded, ALL};
use super::{EXTRAS, LAUNCH, MAIN, PLAIN, SETL, STEPBUG};
use crate::legacy::messages::{
    Child, Command, ConditionKind, Event, ExceptionMode, ExceptionStop, FrameKind, HandlerStatement, OutputChannel,
    PassCountKind, PyObject, ReprKind,
};

const MAIN_TID: i64 = 139_950_154_464_128;
const EXTRAS_TID: i64 = 140_083_569_548_160;
const PLAIN_TID: i64 = 140_403_334_261_632;
const LAUNCH_TID: i64 = 140_612_317_490_048;
const STEPBUG_TID: i64 = 140_500_219_280_256;
const SETL_TID: i64 = 140_393_847_253_888;

fn object(repr: &str, hex: Option<&str>, type_name: &str, length: i64, flags: i64) -> PyObject {
    PyObject { repr: Some(repr.into()), hex: hex.map(Into::into), type_name: type_name.into(), length, flags }
}

fn child(name: &str, expression: &str, value: PyObject) -> Child {
    Child { name: name.into(), expression: Some(expression.into()), value }
}

fn execute(text: &str, frame: i64, execution_id: i64, repr_kind: ReprKind) -> Command {
    Command::Execute {
        text: text.into(),
        thread: MAIN_TID,
        frame,
        execution_id,
        frame_kind: FrameKind::Python,
        repr_kind,
    }
}

fn children(text: &str, thread: i64, execution_id: i64) -> Command {
    Command::EnumChildren { text: text.into(), thread, frame: 0, execution_id, frame_kind: FrameKind::Python }
}

fn breakpoint(id: i64, line: i64, file: &str, pass_count_kind: PassCountKind, pass_count: i64) -> Command {
    Command::SetBreakpoint {
        id,
        line,
        file: file.into(),
        condition_kind: ConditionKind::Always,
        condition: String::new(),
        pass_count_kind,
        pass_count,
    }
}

fn handlers(file: &str, start_line: i64, end_line: i64, expression: &str) -> Command {
    Command::SetExceptionHandlerInfo {
        file: file.into(),
        statements: vec![HandlerStatement { start_line, end_line, expressions: vec![expression.into()] }],
    }
}

/// Every command the probe sent, with its value: encodes to exactly the recorded bytes.
#[test]
fn commands_encode_to_the_recorded_bytes() {
    let extras_file = "/opt/peer/target_extras.py";
    let cases: Vec<(&str, &str, usize, Command)> = vec![
        (MAIN, "brkp", 0, breakpoint(1, 11, "/opt/peer/target.py", PassCountKind::Always, 0)),
        (MAIN, "resa (resume after attach break)", 0, Command::ResumeAll),
        (MAIN, "thrf", 0, Command::GetThreadFrames { thread: MAIN_TID }),
        (MAIN, "chld", 0, children("data", MAIN_TID, 100)),
        (MAIN, "chld", 1, children("data[2]", MAIN_TID, 101)),
        (MAIN, "chld", 2, children("pt", MAIN_TID, 102)),
        (MAIN, "exec", 0, execute("n * 100 + len(data)", 0, 200, ReprKind::Normal)),
        (MAIN, "exec", 1, execute("i", 1, 201, ReprKind::Normal)),
        (MAIN, "exec", 2, execute("undefined_name_xyz", 0, 202, ReprKind::Normal)),
        (MAIN, "exec", 3, execute("\"abc\" * 3", 0, 203, ReprKind::Raw)),
        (MAIN, "bkgh", 0, Command::GetBreakpointHitCount { request_id: 300, id: 1 }),
        (MAIN, "stpv", 0, Command::StepOver { thread: MAIN_TID }),
        (
            MAIN,
            "brkc",
            0,
            Command::SetBreakpointCondition {
                id: 1,
                condition_kind: ConditionKind::WhenTrue,
                condition: "n == 2".into(),
            },
        ),
        (MAIN, "resa", 0, Command::ResumeAll),
        (MAIN, "brkr", 0, Command::RemoveBreakpoint { id: 1, line: 11 }),
        (
            EXTRAS,
            "sexi",
            0,
            Command::SetExceptionInfo {
                default_mode: 32,
                exceptions: vec![ExceptionMode { name: "builtins.ValueError".into(), mode: 1 }],
            },
        ),
        (EXTRAS, "brkp", 0, breakpoint(5, 6, extras_file, PassCountKind::EveryNth, 2)),
        (EXTRAS, "sehi (reply to REQH)", 0, handlers("target_extras.py", 10, 12, "ValueError")),
        (EXTRAS, "chld", 0, children("__exception_info", EXTRAS_TID, 400)),
        (EXTRAS, "bkgh", 0, Command::GetBreakpointHitCount { request_id: 301, id: 5 }),
        (EXTRAS, "brka", 0, Command::BreakAll),
        (EXTRAS, "detc", 0, Command::Detach),
        (LAUNCH, "sehi (reply to REQH)", 0, handlers("<frozen genericpath>", 0, 2_147_483_647, "*")),
        (LAUNCH, "lack", 0, Command::LastAck),
        (STEPBUG, "brkp", 1, breakpoint(10, 6, extras_file, PassCountKind::Always, 0)),
        (STEPBUG, "ares", 0, Command::AutoResumeThread { thread: STEPBUG_TID }),
        (STEPBUG, "clst", 0, Command::ClearStepping { thread: STEPBUG_TID }),
        (SETL, "setl", 0, Command::SetLineNumber { thread: SETL_TID, frame: 0, line: 5 }),
    ];
    for (transcript, label, nth, command) in cases {
        let recorded = message(transcript, label, nth);
        assert_eq!(encode_command(6, command.clone()).unwrap(), recorded, "{label} #{nth}");
        assert_eq!(decode_command(6, &recorded).unwrap(), command, "{label} #{nth}");
    }
}

/// Every command in every transcript parses as a v6 server would and re-encodes to the
/// same bytes.
#[test]
fn every_recorded_command_round_trips() {
    let mut seen = 0;
    for (name, transcript) in ALL {
        for m in recorded(transcript).into_iter().filter(super::Recorded::is_command) {
            let command = decode_command(6, &m.bytes).unwrap_or_else(|e| panic!("{name} {}: {e}", m.label));
            assert_eq!(encode_command(6, command).unwrap(), m.bytes, "{name} {}", m.label);
            seen += 1;
        }
    }
    assert!(seen > 60, "only {seen} commands");
}

/// Every event in every transcript decodes (consuming exactly its bytes) and the server
/// codec writes it back byte for byte.
#[test]
fn every_recorded_event_round_trips() {
    let mut seen = 0;
    for (name, transcript) in ALL {
        for m in recorded(transcript).into_iter().filter(super::Recorded::is_event) {
            let event = decode_event(6, &m.bytes).unwrap_or_else(|e| panic!("{name} {}: {e}", m.label));
            assert_eq!(encode_event(6, event).unwrap(), m.bytes, "{name} {}", m.label);
            seen += 1;
        }
    }
    assert!(seen > 700, "only {seen} events");
}

fn event(transcript: &str, tag: &str, nth: usize) -> Event {
    decode_event(6, &message(transcript, &format!("event {tag}"), nth)).unwrap()
}

#[test]
fn simple_events_decode_to_the_recorded_values() {
    let cases: Vec<(&str, &str, usize, Event)> = vec![
        (MAIN, "NEWT", 0, Event::ThreadCreate { thread: MAIN_TID }),
        (MAIN, "LOAD", 0, Event::ProcessLoad { thread: MAIN_TID }),
        (MAIN, "BRKF", 0, Event::BreakpointFailed { id: 1 }),
        (MAIN, "BRKS", 0, Event::BreakpointSet { id: 1 }),
        (MAIN, "BRKH", 1, Event::BreakpointHit { id: 1, thread: MAIN_TID }),
        (MAIN, "STPD", 0, Event::StepDone { thread: MAIN_TID }),
        (MAIN, "BKHC", 0, Event::BreakpointHitCount { request_id: 300, hit_count: 1 }),
        (MAIN, "DETC", 0, Event::Detach),
        (
            MAIN,
            "MODL",
            0,
            Event::ModuleLoad {
                module_id: 0,
                file: "/home/.pyenv/versions/3.11.7/lib/python3.11/importlib/_bootstrap.py".into(),
            },
        ),
        (MAIN, "OUTP", 0, Event::Output { thread: MAIN_TID, text: "result".into(), channel: OutputChannel::Unknown }),
        (MAIN, "OUTP", 5, Event::Output { thread: MAIN_TID, text: "\n".into(), channel: OutputChannel::Unknown }),
        (
            MAIN,
            "EXCE",
            0,
            Event::ExecutionException { execution_id: 202, text: "name 'undefined_name_xyz' is not defined".into() },
        ),
        (MAIN, "EXCR", 0, Event::ExecutionResult { execution_id: 200, value: object("3", Some("0x3"), "int", 0, 0) }),
        (MAIN, "EXCR", 1, Event::ExecutionResult { execution_id: 201, value: object("0", Some("0x0"), "int", 0, 0) }),
        (
            MAIN,
            "EXCR",
            2,
            Event::ExecutionResult {
                execution_id: 203,
                value: object("abcabcabc", None, "str", 9, PyObject::RAW | PyObject::HAS_RAW_REPR),
            },
        ),
        (EXTRAS, "REQH", 0, Event::RequestHandlers { file: "target_extras.py".into() }),
        (EXTRAS, "ASBR", 0, Event::AsyncBreak { thread: EXTRAS_TID }),
        (EXTRAS, "BKHC", 0, Event::BreakpointHitCount { request_id: 301, hit_count: 2 }),
        (LAUNCH, "EXTT", 0, Event::ThreadExit { thread: LAUNCH_TID }),
        (LAUNCH, "LAST", 0, Event::Last),
    ];
    for (transcript, tag, nth, expected) in cases {
        assert_eq!(event(transcript, tag, nth), expected, "{tag} #{nth}");
    }
}

#[test]
fn children_decode_with_their_expressions() {
    let int = |repr: &str, hex: &str| object(repr, Some(hex), "int", 0, 0);
    assert_eq!(
        event(MAIN, "CHLD", 0),
        Event::Children {
            execution_id: 100,
            children: vec![
                child("[0]", "data[0]", int("0", "0x0")),
                child("[1]", "data[1]", int("0", "0x0")),
                child("[2]", "data[2]", object("{'k': 0}", None, "dict", 1, PyObject::EXPANDABLE)),
            ],
        }
    );
    assert_eq!(
        event(MAIN, "CHLD", 1),
        Event::Children {
            execution_id: 101,
            children: vec![
                child(
                    "items()",
                    "data[2].items()",
                    object("", None, "", 0, PyObject::EXPANDABLE | PyObject::METHOD_CALL)
                ),
                child("['k']", "data[2]['k']", int("0", "0x0")),
            ],
        }
    );
    assert_eq!(
        event(MAIN, "CHLD", 2),
        Event::Children {
            execution_id: 102,
            children: vec![child("x", "pt.x", int("0", "0x0")), child("y", "pt.y", int("1", "0x1"))],
        }
    );
}

#[test]
fn rich_exception_decodes_every_key() {
    assert_eq!(
        event(EXTRAS, "EXC2", 0),
        Event::Exception(ExceptionStop {
            thread: EXTRAS_TID,
            type_name: "ValueError".into(),
            message: "bad 1".into(),
            unhandled: false,
            trace: Some("'target_extras.py',11,'risky','raise ValueError(\"bad %d\" % k)'".into()),
            exc_value: Some("__exception_info".into()),
            rich: true,
        })
    );
}

#[test]
fn plain_exception_decodes_with_break_type_zero_as_handled() {
    assert_eq!(
        event(PLAIN, "EXCP", 0),
        Event::Exception(ExceptionStop {
            thread: PLAIN_TID,
            type_name: "ValueError".into(),
            message: "bad 1".into(),
            unhandled: false,
            trace: None,
            exc_value: None,
            rich: false,
        })
    );
}

/// The frame list pushed before the first breakpoint hit (spec §3.4's annotated example).
#[test]
fn frame_list_decodes_frames_and_variables() {
    let Event::FrameList { thread, name, frames } = event(MAIN, "THRF", 1) else { panic!("not a frame list") };
    assert_eq!(thread, MAIN_TID);
    assert_eq!(name.as_deref(), Some("MainThread"));
    let functions: Vec<&str> = frames.iter().map(|f| f.function.as_str()).collect();
    assert_eq!(functions, ["compute", "main", "<module>"]);
    let top = &frames[0];
    assert_eq!((top.start_line, top.end_line, top.line), (8, 13, 11));
    assert_eq!(top.file, "/opt/peer/target.py");
    assert_eq!((top.arg_count, top.kind, &top.django_source), (1, FrameKind::Python, &None));
    let variables: Vec<(&str, Option<&str>, &str, i64, i64)> = top
        .variables
        .iter()
        .map(|v| (v.name.as_str(), v.value.repr.as_deref(), v.value.type_name.as_str(), v.value.length, v.value.flags))
        .collect();
    assert_eq!(
        variables,
        [
            ("n", Some("0"), "int", 0, 0),
            ("data", Some("[0, 0, {'k': 0}]"), "list", 3, 1),
            ("pt", Some("<__main__.Point object at 0x7f48add076d0>"), "Point", 0, 1),
            ("total", Some("<undefined>"), "", 0, 0),
            ("Point", Some("<class '__main__.Point'>"), "type", 0, 1),
        ]
    );
    assert_eq!(top.variables[0].value.hex.as_deref(), Some("0x0"));
    assert!(frames.iter().all(|f| f.kind == FrameKind::Python && f.file == "/opt/peer/target.py"));
}

/// The reply to `thrf` is produced on the debugger's own thread: wrong name (spec §3.4).
#[test]
fn requested_frame_list_carries_the_debugger_thread_name() {
    let Event::FrameList { name, frames, .. } = event(MAIN, "THRF", 2) else { panic!("not a frame list") };
    assert_eq!(name.as_deref(), Some("Dummy-2"));
    assert_eq!(frames.len(), 3);
}
