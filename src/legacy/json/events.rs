//! Server → client messages of the JSON dialect: events and the response bodies that carry
//! results (spec §3.3–§3.8), both directions.
//!
//! Owns: event names and body keys, the [`PyObject`] / frame / child layouts, and which
//! [`Event`] variants travel as responses rather than events (`BreakpointHitCount`,
//! `SetLineResult`, `CommandFailed`). Must not know: framing, sequence numbers, or which
//! request a response answers (the codecs keep that).

use serde_json::{json, Value};

use super::fields::{self, Bad, Fields, Res};
use crate::legacy::error::ProtocolError;
use crate::legacy::messages::{Child, Event, ExceptionStop, Frame, FrameKind, OutputChannel, PyObject, Variable};
use crate::legacy::wire::Limits;

pub(super) const THREAD_CREATE: &str = "legacyThreadCreate";
pub(super) const THREAD_EXIT: &str = "legacyThreadExit";
pub(super) const MODULE_LOAD: &str = "legacyModuleLoad";
pub(super) const MODULES_CHANGED: &str = "legacyModulesChanged";
pub(super) const THREAD_FRAME_LIST: &str = "legacyThreadFrameList";
pub(super) const PROCESS_LOAD: &str = "legacyProcessLoad";
pub(super) const BREAKPOINT_SET: &str = "legacyBreakpointSet";
pub(super) const BREAKPOINT_FAILED: &str = "legacyBreakpointFailed";
pub(super) const BREAKPOINT_HIT: &str = "legacyBreakpointHit";
pub(super) const STEP_DONE: &str = "legacyStepDone";
pub(super) const ASYNC_BREAK: &str = "legacyAsyncBreak";
pub(super) const EXCEPTION: &str = "legacyException";
pub(super) const REQUEST_HANDLERS: &str = "legacyRequestHandlers";
pub(super) const EXECUTION_RESULT: &str = "legacyExecutionResult";
pub(super) const EXECUTION_EXCEPTION: &str = "legacyExecutionException";
pub(super) const ENUM_CHILDREN_RESULT: &str = "legacyEnumChildrenResult";
pub(super) const DEBUGGER_OUTPUT: &str = "legacyDebuggerOutput";
pub(super) const DETACH: &str = "legacyDetach";
pub(super) const LAST: &str = "legacyLast";

/// Every event name this module decodes (anything else is [`Event::Unknown`]).
pub(super) const KNOWN_EVENTS: &[&str] = &[
    THREAD_CREATE,
    THREAD_EXIT,
    MODULE_LOAD,
    MODULES_CHANGED,
    THREAD_FRAME_LIST,
    PROCESS_LOAD,
    BREAKPOINT_SET,
    BREAKPOINT_FAILED,
    BREAKPOINT_HIT,
    STEP_DONE,
    ASYNC_BREAK,
    EXCEPTION,
    REQUEST_HANDLERS,
    EXECUTION_RESULT,
    EXECUTION_EXCEPTION,
    ENUM_CHILDREN_RESULT,
    DEBUGGER_OUTPUT,
    DETACH,
    LAST,
];

/// `legacyException` `breaktype` value of an unhandled exception.
const UNHANDLED: &str = "unhandled";

/// Decodes the body of the event `name`. Unknown names give [`Event::Unknown`].
pub(super) fn decode_event(name: String, body: Option<Value>, limits: &Limits) -> Result<Event, ProtocolError> {
    let known = KNOWN_EVENTS.iter().any(|known| *known == name);
    if !known {
        return Ok(Event::Unknown { name });
    }
    let decoded = Fields::from_optional(body)
        .map_err(|bad| bad.within("body"))
        .and_then(|mut body| decode_known(&name, &mut body, limits));
    decoded.map_err(|bad| bad.into_error(&format!("event {name}")))
}

fn decode_known(name: &str, body: &mut Fields, limits: &Limits) -> Res<Event> {
    let event = match name {
        THREAD_CREATE => Event::ThreadCreate { thread: body.int("threadId")? },
        THREAD_EXIT => Event::ThreadExit { thread: body.int("threadId")? },
        MODULE_LOAD => Event::ModuleLoad { module_id: body.int("moduleId")?, file: body.string("moduleFileName")? },
        MODULES_CHANGED => Event::ModulesChanged,
        THREAD_FRAME_LIST => Event::FrameList {
            thread: body.int("threadId")?,
            name: body.nullable_string("threadName")?,
            frames: body.list("threadFrames", "frames", limits.max_count, |v| frame(v, limits))?,
        },
        PROCESS_LOAD => Event::ProcessLoad { thread: body.int("threadId")? },
        BREAKPOINT_SET => Event::BreakpointSet { id: body.int("breakpointId")? },
        BREAKPOINT_FAILED => Event::BreakpointFailed { id: body.int("breakpointId")? },
        BREAKPOINT_HIT => Event::BreakpointHit { id: body.int("breakpointId")?, thread: body.int("threadId")? },
        STEP_DONE => Event::StepDone { thread: body.int("threadId")? },
        ASYNC_BREAK => Event::AsyncBreak { thread: body.int("threadId")? },
        EXCEPTION => Event::Exception(exception(body)?),
        REQUEST_HANDLERS => Event::RequestHandlers { file: body.string("fileName")? },
        EXECUTION_RESULT => {
            Event::ExecutionResult { execution_id: body.int("executionId")?, value: body.req("obj", py_object)? }
        }
        EXECUTION_EXCEPTION => {
            Event::ExecutionException { execution_id: body.int("executionId")?, text: body.string("exceptionText")? }
        }
        ENUM_CHILDREN_RESULT => Event::Children {
            execution_id: body.int("executionId")?,
            children: body.list("children", "children", limits.max_count, child)?,
        },
        DEBUGGER_OUTPUT => output(body)?,
        DETACH => Event::Detach,
        LAST => Event::Last,
        _ => return Err(Bad::invalid("unknown event")),
    };
    Ok(event)
}

/// `{threadId, data: {typename, message, breaktype?, trace?, excvalue?}}` (spec §3.6).
/// JSON servers only send the rich form.
fn exception(body: &mut Fields) -> Res<ExceptionStop> {
    let thread = body.int("threadId")?;
    body.req("data", |value| {
        let mut data = Fields::from_value(value)?;
        let type_name = data.string("typename")?;
        let message = data.string("message")?;
        let breaktype = data.opt_string("breaktype")?;
        Ok(ExceptionStop {
            thread,
            type_name,
            message,
            unhandled: breaktype.as_deref() == Some(UNHANDLED),
            trace: data.opt_string("trace")?,
            exc_value: data.opt_string("excvalue")?,
            rich: true,
        })
    })
}

/// `{threadId, output}` plus `channel` (3.2.1), `isStdOut` (3.2.0) or neither (3.1.0, and
/// writes to `sys.stdout.buffer`).
fn output(body: &mut Fields) -> Res<Event> {
    let thread = body.int("threadId")?;
    let text = body.string("output")?;
    let channel = match body.opt_string("channel")?.as_deref() {
        Some("stdout") => OutputChannel::Stdout,
        Some("stderr") => OutputChannel::Stderr,
        Some("debug") => OutputChannel::Debug,
        Some(_) => OutputChannel::Unknown,
        None => match body.opt("isStdOut", fields::boolean)? {
            Some(true) => OutputChannel::Stdout,
            Some(false) => OutputChannel::Stderr,
            None => OutputChannel::Unknown,
        },
    };
    Ok(Event::Output { thread, text, channel })
}

/// `{objRepr, hexRepr, typeName, length, flags}`.
fn py_object(value: Value) -> Res<PyObject> {
    let mut obj = Fields::from_value(value)?;
    Ok(PyObject {
        repr: obj.nullable_string("objRepr")?,
        hex: obj.nullable_string("hexRepr")?,
        type_name: obj.string("typeName")?,
        length: obj.int("length")?,
        flags: obj.int("flags")?,
    })
}

/// One entry of `threadFrames` (spec §3.4).
fn frame(value: Value, limits: &Limits) -> Res<Frame> {
    let mut frame = Fields::from_value(value)?;
    let django_source = if frame.contains("djangoSourceFile") || frame.contains("djangoSourceLine") {
        let file = frame.opt_string("djangoSourceFile")?.unwrap_or_default();
        let line = frame.opt("djangoSourceLine", fields::int)?.unwrap_or(0);
        Some((file, line))
    } else {
        None
    };
    Ok(Frame {
        start_line: frame.int("startLine")?,
        end_line: frame.int("endLine")?,
        line: frame.int("lineNo")?,
        function: frame.string("frameName")?,
        file: frame.string("fileName")?,
        arg_count: frame.int("argCount")?,
        kind: FrameKind::from_wire(frame.int("frameKind")?),
        django_source,
        variables: frame.list("variables", "variables", limits.max_count, variable)?,
    })
}

fn variable(value: Value) -> Res<Variable> {
    let mut variable = Fields::from_value(value)?;
    Ok(Variable { name: variable.string("name")?, value: variable.req("obj", py_object)? })
}

fn child(value: Value) -> Res<Child> {
    let mut child = Fields::from_value(value)?;
    Ok(Child {
        name: child.string("name")?,
        expression: child.nullable_string("expression")?,
        value: child.req("obj", py_object)?,
    })
}

/// `legacyGetBreakpointHitCount`'s response body `{hitCount}`.
pub(super) fn hit_count(body: Option<Value>) -> Result<i64, ProtocolError> {
    Fields::from_optional(body)
        .and_then(|mut body| body.int("hitCount"))
        .map_err(|bad| bad.into_error("response to legacyGetBreakpointHitCount"))
}

/// `legacySetLineNumber`'s response body `{result, threadId, newLineNo}`.
pub(super) fn set_line_result(body: Option<Value>) -> Result<Event, ProtocolError> {
    let decode = |mut body: Fields| -> Res<Event> {
        // `result` is 1 or 0; accept a boolean too.
        let ok = body.req("result", |value| match value {
            Value::Bool(b) => Ok(b),
            other => fields::int(other).map(|n| n != 0),
        })?;
        Ok(Event::SetLineResult { ok, thread: body.int("threadId")?, line: body.int("newLineNo")? })
    };
    Fields::from_optional(body).and_then(decode).map_err(|bad| bad.into_error("response to legacySetLineNumber"))
}

// ---------------------------------------------------------------------------------------
// Encoding (server side)

/// How an [`Event`] travels.
#[derive(Debug)]
pub(super) enum Outgoing {
    Event {
        name: String,
        body: Value,
    },
    /// A response to a request of `command`; `request_seq` is known for hit counts only.
    Response {
        command: String,
        request_seq: Option<i64>,
        success: bool,
        message: String,
        body: Value,
    },
}

pub(super) fn encode_event(event: Event) -> Outgoing {
    let plain = |name: &str, body: Value| Outgoing::Event { name: name.to_owned(), body };
    match event {
        Event::ThreadCreate { thread } => plain(THREAD_CREATE, json!({ "threadId": thread })),
        Event::ThreadExit { thread } => plain(THREAD_EXIT, json!({ "threadId": thread })),
        Event::ModuleLoad { module_id, file } => {
            plain(MODULE_LOAD, json!({ "moduleId": module_id, "moduleFileName": file }))
        }
        Event::ModulesChanged => plain(MODULES_CHANGED, json!({})),
        Event::FrameList { thread, name, frames } => plain(
            THREAD_FRAME_LIST,
            json!({
                "threadId": thread,
                "threadName": name,
                "threadFrames": frames.into_iter().map(frame_value).collect::<Vec<_>>(),
            }),
        ),
        Event::ProcessLoad { thread } => plain(PROCESS_LOAD, json!({ "threadId": thread })),
        Event::BreakpointSet { id } => plain(BREAKPOINT_SET, json!({ "breakpointId": id })),
        Event::BreakpointFailed { id } => plain(BREAKPOINT_FAILED, json!({ "breakpointId": id })),
        Event::BreakpointHit { id, thread } => plain(BREAKPOINT_HIT, json!({ "breakpointId": id, "threadId": thread })),
        Event::StepDone { thread } => plain(STEP_DONE, json!({ "threadId": thread })),
        Event::AsyncBreak { thread } => plain(ASYNC_BREAK, json!({ "threadId": thread })),
        Event::Exception(stop) => plain(EXCEPTION, exception_value(stop)),
        Event::RequestHandlers { file } => plain(REQUEST_HANDLERS, json!({ "fileName": file })),
        Event::ExecutionResult { execution_id, value } => {
            plain(EXECUTION_RESULT, json!({ "executionId": execution_id, "obj": py_object_value(value) }))
        }
        Event::ExecutionException { execution_id, text } => {
            plain(EXECUTION_EXCEPTION, json!({ "executionId": execution_id, "exceptionText": text }))
        }
        Event::Children { execution_id, children } => plain(
            ENUM_CHILDREN_RESULT,
            json!({
                "executionId": execution_id,
                "children": children.into_iter().map(child_value).collect::<Vec<_>>(),
            }),
        ),
        Event::Output { thread, text, channel } => {
            let mut body = json!({ "threadId": thread, "output": text });
            let channel = match channel {
                OutputChannel::Stdout => Some("stdout"),
                OutputChannel::Stderr => Some("stderr"),
                OutputChannel::Debug => Some("debug"),
                OutputChannel::Unknown => None,
            };
            if let (Some(channel), Value::Object(map)) = (channel, &mut body) {
                map.insert("channel".to_owned(), Value::from(channel));
            }
            plain(DEBUGGER_OUTPUT, body)
        }
        Event::Detach => plain(DETACH, json!({})),
        Event::Last => plain(LAST, json!({})),
        Event::Unknown { name } => Outgoing::Event { name, body: json!({}) },
        Event::BreakpointHitCount { request_id, hit_count } => Outgoing::Response {
            command: super::commands::GET_BREAKPOINT_HIT_COUNT.to_owned(),
            request_seq: Some(request_id),
            success: true,
            message: String::new(),
            body: json!({ "hitCount": hit_count }),
        },
        Event::SetLineResult { ok, thread, line } => Outgoing::Response {
            command: super::commands::SET_LINE_NUMBER.to_owned(),
            request_seq: None,
            success: true,
            message: String::new(),
            body: json!({ "result": i64::from(ok), "threadId": thread, "newLineNo": line }),
        },
        Event::CommandFailed { command, message } => Outgoing::Response {
            command: super::failed_command_name(&command),
            request_seq: None,
            success: false,
            message,
            body: json!({}),
        },
    }
}

fn exception_value(stop: ExceptionStop) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("typename".to_owned(), Value::from(stop.type_name));
    data.insert("message".to_owned(), Value::from(stop.message));
    if stop.unhandled {
        data.insert("breaktype".to_owned(), Value::from(UNHANDLED));
    }
    if let Some(trace) = stop.trace {
        data.insert("trace".to_owned(), Value::from(trace));
    }
    if let Some(exc_value) = stop.exc_value {
        data.insert("excvalue".to_owned(), Value::from(exc_value));
    }
    json!({ "threadId": stop.thread, "data": data })
}

fn py_object_value(obj: PyObject) -> Value {
    json!({
        "objRepr": obj.repr,
        "hexRepr": obj.hex,
        "typeName": obj.type_name,
        "length": obj.length,
        "flags": obj.flags,
    })
}

fn frame_value(frame: Frame) -> Value {
    let mut value = json!({
        "startLine": frame.start_line,
        "endLine": frame.end_line,
        "lineNo": frame.line,
        "frameName": frame.function,
        "fileName": frame.file,
        "argCount": frame.arg_count,
        "frameKind": frame.kind.to_wire(),
        "variables": frame
            .variables
            .into_iter()
            .map(|v| json!({ "name": v.name, "obj": py_object_value(v.value) }))
            .collect::<Vec<_>>(),
    });
    if let (Some((file, line)), Value::Object(map)) = (frame.django_source, &mut value) {
        map.insert("djangoSourceFile".to_owned(), Value::from(file));
        map.insert("djangoSourceLine".to_owned(), Value::from(line));
    }
    value
}

fn child_value(child: Child) -> Value {
    json!({ "name": child.name, "expression": child.expression, "obj": py_object_value(child.value) })
}
