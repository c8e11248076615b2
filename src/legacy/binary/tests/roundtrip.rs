//! Round trips: every command through client encode → server decode, every event through
//! server encode → client decode, for v6 and for what v4 and v2 carry.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::{decode_command, decode_event, encode_command, encode_event};
use crate::legacy::messages::{
    Child, Command, ConditionKind, Event, ExceptionMode, ExceptionStop, Frame, FrameKind, HandlerStatement,
    OutputChannel, PassCountKind, PyObject, ReprKind, Variable,
};

/// Any text: ASCII identifiers, arbitrary Unicode (incl. astral and control chars), empty.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z_][a-z0-9_.]{0,12}", any::<String>()]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), -3i64..4, any::<i64>()]
}

/// A wire enum value: mostly the known ones, sometimes anything (read back as `Other`).
fn wire_enum() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..4, any::<i64>()]
}

fn frame_kind() -> impl Strategy<Value = FrameKind> {
    wire_enum().prop_map(FrameKind::from_wire)
}

fn repr_kind() -> impl Strategy<Value = ReprKind> {
    wire_enum().prop_map(ReprKind::from_wire)
}

fn condition_kind() -> impl Strategy<Value = ConditionKind> {
    wire_enum().prop_map(ConditionKind::from_wire)
}

fn pass_count_kind() -> impl Strategy<Value = PassCountKind> {
    wire_enum().prop_map(PassCountKind::from_wire)
}

/// `sehi` expressions: anything but the list terminator.
fn handler_expression() -> impl Strategy<Value = String> {
    text().prop_filter("the sehi terminator", |e| e.trim() != "-")
}

/// Commands v6 carries: all of them.
fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        old_command(),
        (int(), int(), text(), condition_kind(), text(), pass_count_kind(), int()).prop_map(
            |(id, line, file, condition_kind, condition, pass_count_kind, pass_count)| {
                Command::SetBreakpoint { id, line, file, condition_kind, condition, pass_count_kind, pass_count }
            }
        ),
        (int(), condition_kind(), text()).prop_map(|(id, condition_kind, condition)| {
            Command::SetBreakpointCondition { id, condition_kind, condition }
        }),
        (int(), pass_count_kind(), int()).prop_map(|(id, pass_count_kind, pass_count)| {
            Command::SetBreakpointPassCount { id, pass_count_kind, pass_count }
        }),
        (int(), int()).prop_map(|(id, hit_count)| Command::SetBreakpointHitCount { id, hit_count }),
        (int(), int()).prop_map(|(request_id, id)| Command::GetBreakpointHitCount { request_id, id }),
        execute(repr_kind()),
    ]
}

/// Commands with the same meaning in every version (`exec` apart).
fn common_command() -> impl Strategy<Value = Command> {
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
        (int(), int()).prop_map(|(id, line)| Command::RemoveBreakpoint { id, line }),
        (int(), int(), text()).prop_map(|(id, line, file)| Command::SetDjangoBreakpoint { id, line, file }),
        (int(), int(), text()).prop_map(|(id, line, file)| Command::RemoveDjangoBreakpoint { id, line, file }),
        (text(), int(), int(), int(), frame_kind()).prop_map(|(text, thread, frame, execution_id, frame_kind)| {
            Command::EnumChildren { text, thread, frame, execution_id, frame_kind }
        }),
        (int(), int(), int()).prop_map(|(thread, frame, line)| Command::SetLineNumber { thread, frame, line }),
        (int(), vec((text(), int()), 0..4)).prop_map(|(default_mode, exceptions)| {
            Command::SetExceptionInfo {
                default_mode,
                exceptions: exceptions.into_iter().map(|(name, mode)| ExceptionMode { name, mode }).collect(),
            }
        }),
        (text(), vec((int(), int(), vec(handler_expression(), 0..3)), 0..3)).prop_map(|(file, statements)| {
            Command::SetExceptionHandlerInfo {
                file,
                statements: statements
                    .into_iter()
                    .map(|(start_line, end_line, expressions)| HandlerStatement { start_line, end_line, expressions })
                    .collect(),
            }
        }),
        Just(Command::Detach),
        Just(Command::LastAck),
    ]
}

fn execute(repr_kind: impl Strategy<Value = ReprKind>) -> impl Strategy<Value = Command> {
    (text(), int(), int(), int(), frame_kind(), repr_kind).prop_map(
        |(text, thread, frame, execution_id, frame_kind, repr_kind)| Command::Execute {
            text,
            thread,
            frame,
            execution_id,
            frame_kind,
            repr_kind,
        },
    )
}

/// A v2/v4 condition: only what (condition, break-when-changed) can express.
fn old_condition() -> impl Strategy<Value = (ConditionKind, String)> {
    prop_oneof![
        Just((ConditionKind::Always, String::new())),
        text().prop_filter("non-empty", |c| !c.is_empty()).prop_map(|c| (ConditionKind::WhenTrue, c)),
        text().prop_map(|c| (ConditionKind::WhenChanged, c)),
    ]
}

/// Commands v4 carries; v2 also, except raw evaluations.
fn old_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        common_command(),
        (int(), int(), text(), old_condition()).prop_map(|(id, line, file, (condition_kind, condition))| {
            Command::SetBreakpoint {
                id,
                line,
                file,
                condition_kind,
                condition,
                pass_count_kind: PassCountKind::Always,
                pass_count: 0,
            }
        }),
        (int(), old_condition()).prop_map(|(id, (condition_kind, condition))| {
            Command::SetBreakpointCondition { id, condition_kind, condition }
        }),
    ]
}

fn v4_command() -> impl Strategy<Value = Command> {
    prop_oneof![old_command(), execute(repr_kind())]
}

fn v2_command() -> impl Strategy<Value = Command> {
    prop_oneof![old_command(), execute(Just(ReprKind::Normal))]
}

fn object() -> impl Strategy<Value = PyObject> {
    (option::of(text()), option::of(text()), text(), int(), int())
        .prop_map(|(repr, hex, type_name, length, flags)| PyObject { repr, hex, type_name, length, flags })
}

/// The v2 record: no length, and only the expandable flag.
fn v2_object() -> impl Strategy<Value = PyObject> {
    (option::of(text()), option::of(text()), text(), any::<bool>()).prop_map(|(repr, hex, type_name, expandable)| {
        PyObject { repr, hex, type_name, length: 0, flags: if expandable { PyObject::EXPANDABLE } else { 0 } }
    })
}

fn frame(object: BoxedStrategy<PyObject>) -> impl Strategy<Value = Frame> {
    ((int(), int(), int(), text(), text(), int()), frame_kind(), (text(), int()), vec((text(), object), 0..4)).prop_map(
        |((start_line, end_line, line, function, file, arg_count), kind, source, variables)| Frame {
            start_line,
            end_line,
            line,
            function,
            file,
            arg_count,
            kind,
            django_source: (kind == FrameKind::Django).then_some(source),
            variables: variables.into_iter().map(|(name, value)| Variable { name, value }).collect(),
        },
    )
}

fn exception() -> impl Strategy<Value = ExceptionStop> {
    (int(), text(), text(), any::<bool>(), option::of(text()), option::of(text()), any::<bool>()).prop_map(
        |(thread, type_name, message, unhandled, trace, exc_value, rich)| ExceptionStop {
            thread,
            type_name,
            message,
            unhandled,
            // EXCP carries neither.
            trace: trace.filter(|_| rich),
            exc_value: exc_value.filter(|_| rich),
            rich,
        },
    )
}

/// Events whose layout is the same in every version, given the object record.
fn event_with(object: BoxedStrategy<PyObject>, children: BoxedStrategy<Vec<Child>>) -> impl Strategy<Value = Event> {
    prop_oneof![
        int().prop_map(|thread| Event::ThreadCreate { thread }),
        int().prop_map(|thread| Event::ThreadExit { thread }),
        (int(), text()).prop_map(|(module_id, file)| Event::ModuleLoad { module_id, file }),
        (int(), option::of(text()), vec(frame(object.clone()), 0..3))
            .prop_map(|(thread, name, frames)| Event::FrameList { thread, name, frames }),
        int().prop_map(|thread| Event::ProcessLoad { thread }),
        int().prop_map(|id| Event::BreakpointSet { id }),
        int().prop_map(|id| Event::BreakpointFailed { id }),
        (int(), int()).prop_map(|(id, thread)| Event::BreakpointHit { id, thread }),
        int().prop_map(|thread| Event::StepDone { thread }),
        int().prop_map(|thread| Event::AsyncBreak { thread }),
        exception().prop_map(Event::Exception),
        text().prop_map(|file| Event::RequestHandlers { file }),
        (int(), object).prop_map(|(execution_id, value)| Event::ExecutionResult { execution_id, value }),
        (int(), text()).prop_map(|(execution_id, text)| Event::ExecutionException { execution_id, text }),
        (int(), children).prop_map(|(execution_id, children)| Event::Children { execution_id, children }),
        (int(), int()).prop_map(|(request_id, hit_count)| Event::BreakpointHitCount { request_id, hit_count }),
        (any::<bool>(), int(), int()).prop_map(|(ok, thread, line)| Event::SetLineResult { ok, thread, line }),
        (int(), text()).prop_map(|(thread, text)| Event::Output { thread, text, channel: OutputChannel::Unknown }),
        Just(Event::Detach),
        Just(Event::Last),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    let children = vec((text(), option::of(text()), object()), 0..4)
        .prop_map(|c| c.into_iter().map(|(name, expression, value)| Child { name, expression, value }).collect());
    event_with(object().boxed(), children.boxed())
}

/// v2 children: no expressions; attributes (plain names) come before `[…]` items.
fn v2_event() -> impl Strategy<Value = Event> {
    let attribute = ("[a-z_][a-z0-9_]{0,8}", v2_object());
    let index = ("\\[[^\\]]{0,8}\\]", v2_object());
    let children = (vec(attribute, 0..3), vec(index, 0..3)).prop_map(|(attributes, indices)| {
        attributes.into_iter().chain(indices).map(|(name, value)| Child { name, expression: None, value }).collect()
    });
    event_with(v2_object().boxed(), children.boxed())
}

fn command_round_trips(version: i64, command: Command) -> Result<(), TestCaseError> {
    let bytes = encode_command(version, command.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let decoded = decode_command(version, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(decoded, command);
    Ok(())
}

fn event_round_trips(version: i64, event: Event) -> Result<(), TestCaseError> {
    let bytes = encode_event(version, event.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let decoded = decode_event(version, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(decoded, event);
    Ok(())
}

proptest! {
    #[test]
    fn v6_commands_round_trip(command in command()) {
        command_round_trips(6, command)?;
    }

    #[test]
    fn v4_commands_round_trip(command in v4_command()) {
        command_round_trips(4, command)?;
    }

    #[test]
    fn v2_commands_round_trip(command in v2_command()) {
        command_round_trips(2, command)?;
    }

    #[test]
    fn v6_events_round_trip(event in event()) {
        event_round_trips(6, event)?;
    }

    #[test]
    fn v4_events_round_trip(event in event()) {
        event_round_trips(4, event)?;
    }

    #[test]
    fn v2_events_round_trip(event in v2_event()) {
        event_round_trips(2, event)?;
    }
}
