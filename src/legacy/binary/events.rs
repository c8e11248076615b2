//! Server → client events: their tags and layouts (spec §3.3–§3.7), and the object,
//! frame and child records they carry.
//!
//! `read_event` is what our client runs; `write_event` is its mirror for fake peers.
//! Strings that the model holds as `String` read a null (`N`) as empty.

use bytes::BytesMut;

use super::Layout;
use crate::legacy::error::ProtocolError;
use crate::legacy::messages::{Child, Event, ExceptionStop, Frame, FrameKind, OutputChannel, PyObject, Variable};
use crate::legacy::wire::{put_i64, put_sstr, put_tag, Parse, Reader, Stop};

/// Wire value of a Django frame kind: such frames carry the Python source behind them.
const DJANGO_FRAME: i64 = 2;

/// `EXC2` keys (spec §3.6). Unknown keys are ignored.
const KEY_TYPENAME: &str = "typename";
const KEY_MESSAGE: &str = "message";
const KEY_BREAKTYPE: &str = "breaktype";
const KEY_TRACE: &str = "trace";
const KEY_EXCVALUE: &str = "excvalue";
const UNHANDLED: &str = "unhandled";

/// Parses one event, tag included.
pub(super) fn read_event(r: &mut Reader<'_>, layout: Layout) -> Parse<Event> {
    let tag = r.tag()?;
    let event = match &tag {
        b"NEWT" => Event::ThreadCreate { thread: r.i64()? },
        b"EXTT" => Event::ThreadExit { thread: r.i64()? },
        b"MODL" => {
            let module_id = r.i64()?;
            let file = r.sstr_or_empty("a module file name")?;
            Event::ModuleLoad { module_id, file }
        }
        b"THRF" => read_frame_list(r, layout)?,
        b"LOAD" => Event::ProcessLoad { thread: r.i64()? },
        b"BRKS" => Event::BreakpointSet { id: r.i64()? },
        b"BRKF" => Event::BreakpointFailed { id: r.i64()? },
        b"BRKH" => {
            let id = r.i64()?;
            let thread = r.i64()?;
            Event::BreakpointHit { id, thread }
        }
        b"STPD" => Event::StepDone { thread: r.i64()? },
        b"ASBR" => Event::AsyncBreak { thread: r.i64()? },
        b"EXCP" => read_plain_exception(r)?,
        b"EXC2" => read_rich_exception(r)?,
        b"REQH" => Event::RequestHandlers { file: r.sstr_or_empty("a handler query file name")? },
        b"EXCR" => {
            let execution_id = r.i64()?;
            let value = read_object(r, layout)?;
            Event::ExecutionResult { execution_id, value }
        }
        b"EXCE" => {
            let execution_id = r.i64()?;
            let text = r.sstr_or_empty("an evaluation error")?;
            Event::ExecutionException { execution_id, text }
        }
        b"CHLD" => read_children(r, layout)?,
        b"BKHC" => {
            let request_id = r.i64()?;
            let hit_count = r.i64()?;
            Event::BreakpointHitCount { request_id, hit_count }
        }
        b"SETL" => {
            let ok = r.i64()? != 0;
            let thread = r.i64()?;
            let line = r.i64()?;
            Event::SetLineResult { ok, thread, line }
        }
        b"OUTP" => read_output(r)?,
        b"DETC" => Event::Detach,
        b"LAST" => Event::Last,
        _ => return Err(unknown_tag(&tag)),
    };
    Ok(event)
}

pub(super) fn unknown_tag(tag: &[u8; 4]) -> Stop {
    Stop::Invalid(ProtocolError::UnknownTag { tag: String::from_utf8_lossy(tag).into_owned() })
}

/// `OUTP`: tid, text. A lone surrogate in the program's output makes ptvsd send the tag and
/// the tid but no string, so the next message's tag sits where the kind byte should be
/// (spec §6.3). That is reported as [`ProtocolError::TruncatedOutput`].
fn read_output(r: &mut Reader<'_>) -> Parse<Event> {
    let thread = r.i64()?;
    // `ASBR` starts with a valid kind byte (`A`); its remaining bytes then read as an absurd
    // length. Fewer than 4 bytes here means the string read below stops for more anyway.
    let next_is_async_break = r.peek(4).is_ok_and(|ahead| ahead == b"ASBR");
    let text = match r.sstr("program output") {
        Ok(text) => text.unwrap_or_default(),
        Err(Stop::Invalid(ProtocolError::BadStringKind { .. })) => return Err(ProtocolError::TruncatedOutput.into()),
        Err(Stop::Invalid(ProtocolError::TooLarge { .. } | ProtocolError::NegativeLength { .. }))
            if next_is_async_break =>
        {
            return Err(ProtocolError::TruncatedOutput.into())
        }
        Err(stop) => return Err(stop),
    };
    Ok(Event::Output { thread, text, channel: OutputChannel::Unknown })
}

/// `EXCP`: typeName, tid, breakType (1 = unhandled), message.
fn read_plain_exception(r: &mut Reader<'_>) -> Parse<Event> {
    let type_name = r.sstr_or_empty("an exception type name")?;
    let thread = r.i64()?;
    let break_type = r.i64()?;
    let message = r.sstr_or_empty("an exception message")?;
    Ok(Event::Exception(ExceptionStop {
        thread,
        type_name,
        message,
        unhandled: break_type == 1,
        trace: None,
        exc_value: None,
        rich: false,
    }))
}

/// `EXC2`: tid, n, n × (key, value).
fn read_rich_exception(r: &mut Reader<'_>) -> Parse<Event> {
    let thread = r.i64()?;
    let count = r.count("exception details")?;
    let mut stop = ExceptionStop {
        thread,
        type_name: String::new(),
        message: String::new(),
        unhandled: false,
        trace: None,
        exc_value: None,
        rich: true,
    };
    for _ in 0..count {
        let key = r.sstr("an exception detail key")?;
        let value = r.sstr("an exception detail")?;
        match key.as_deref() {
            Some(KEY_TYPENAME) => stop.type_name = value.unwrap_or_default(),
            Some(KEY_MESSAGE) => stop.message = value.unwrap_or_default(),
            Some(KEY_BREAKTYPE) => stop.unhandled = value.as_deref() == Some(UNHANDLED),
            Some(KEY_TRACE) => stop.trace = value,
            Some(KEY_EXCVALUE) => stop.exc_value = value,
            _ => {}
        }
    }
    Ok(Event::Exception(stop))
}

/// The object record (spec §3.1): v4+ repr, hex, type, length, flags; v2 repr, hex, type,
/// expandable (mapped to [`PyObject::EXPANDABLE`], length 0).
fn read_object(r: &mut Reader<'_>, layout: Layout) -> Parse<PyObject> {
    let repr = r.sstr("a value's repr")?;
    let hex = r.sstr("a value's hex repr")?;
    let type_name = r.sstr_or_empty("a type name")?;
    if layout.is_v2() {
        let expandable = r.i64()?;
        let flags = if expandable != 0 { PyObject::EXPANDABLE } else { 0 };
        return Ok(PyObject { repr, hex, type_name, length: 0, flags });
    }
    let length = r.i64()?;
    let flags = r.i64()?;
    Ok(PyObject { repr, hex, type_name, length, flags })
}

fn write_object(dst: &mut BytesMut, value: &PyObject, layout: Layout) {
    put_sstr(dst, value.repr.as_deref());
    put_sstr(dst, value.hex.as_deref());
    put_sstr(dst, Some(&value.type_name));
    if layout.is_v2() {
        put_i64(dst, i64::from(value.is_expandable()));
    } else {
        put_i64(dst, value.length);
        put_i64(dst, value.flags);
    }
}

/// `THRF` (spec §3.4).
fn read_frame_list(r: &mut Reader<'_>, layout: Layout) -> Parse<Event> {
    let thread = r.i64()?;
    let name = r.sstr("a thread name")?;
    let count = r.count("stack frames")?;
    // Grows with frames actually parsed, never with the peer's count.
    let mut frames = Vec::new();
    for _ in 0..count {
        frames.push(read_frame(r, layout)?);
    }
    Ok(Event::FrameList { thread, name, frames })
}

fn read_frame(r: &mut Reader<'_>, layout: Layout) -> Parse<Frame> {
    let start_line = r.i64()?;
    let end_line = r.i64()?;
    let line = r.i64()?;
    let function = r.sstr_or_empty("a function name")?;
    let file = r.sstr_or_empty("a frame's file name")?;
    let arg_count = r.i64()?;
    let kind = r.i64()?;
    let django_source = if kind == DJANGO_FRAME {
        let source_file = r.sstr_or_empty("a Django frame's source file")?;
        let source_line = r.i64()?;
        Some((source_file, source_line))
    } else {
        None
    };
    let count = r.count("frame variables")?;
    let mut variables = Vec::new();
    for _ in 0..count {
        let name = r.sstr_or_empty("a variable name")?;
        let value = read_object(r, layout)?;
        variables.push(Variable { name, value });
    }
    Ok(Frame {
        start_line,
        end_line,
        line,
        function,
        file,
        arg_count,
        kind: FrameKind::from_wire(kind),
        django_source,
        variables,
    })
}

fn write_frame(dst: &mut BytesMut, frame: &Frame, layout: Layout) {
    put_i64(dst, frame.start_line);
    put_i64(dst, frame.end_line);
    put_i64(dst, frame.line);
    put_sstr(dst, Some(&frame.function));
    put_sstr(dst, Some(&frame.file));
    put_i64(dst, frame.arg_count);
    let kind = frame.kind.to_wire();
    put_i64(dst, kind);
    // Decided by the wire value, as the reader does, so the stream stays parseable.
    if kind == DJANGO_FRAME {
        match &frame.django_source {
            Some((file, line)) => {
                put_sstr(dst, Some(file));
                put_i64(dst, *line);
            }
            None => {
                put_sstr(dst, None);
                put_i64(dst, 0);
            }
        }
    }
    put_len(dst, frame.variables.len());
    for variable in &frame.variables {
        put_sstr(dst, Some(&variable.name));
        write_object(dst, &variable.value, layout);
    }
}

/// The fewest bytes a child takes: v2 a null name, three null strings of the object and
/// its 8-byte expandable flag (v4+ has more: an expression and two 8-byte fields).
const MIN_CHILD_BYTES: usize = 12;

/// `CHLD` (spec §3.7). v4+: eid, n × (name, expression, obj). v2: eid, attribute count,
/// index count, indicesAreIndex, indicesAreEnumerate, attributes then indices as
/// (name, obj), without expressions.
fn read_children(r: &mut Reader<'_>, layout: Layout) -> Parse<Event> {
    let execution_id = r.i64()?;
    // Sized once from the count (10 000 children: 1.4 MB, not 2.2 MB after doubling), but
    // never beyond what the bytes at hand can hold: a child takes at least
    // `MIN_CHILD_BYTES`, so a forged count reserves nothing the message does not carry.
    let reserve = |count: usize, r: &Reader<'_>| Vec::with_capacity(count.min(r.remaining() / MIN_CHILD_BYTES));
    let mut children;
    if layout.is_v2() {
        let attributes = r.count("child attributes")?;
        let indices = r.count("child indices")?;
        let _indices_are_index = r.i64()?;
        let _indices_are_enumerate = r.i64()?;
        children = reserve(attributes.saturating_add(indices), r);
        for _ in 0..attributes.saturating_add(indices) {
            let name = r.sstr_or_empty("a child name")?;
            let value = read_object(r, layout)?;
            children.push(Child { name, expression: None, value });
        }
    } else {
        let count = r.count("children")?;
        children = reserve(count, r);
        for _ in 0..count {
            let name = r.sstr_or_empty("a child name")?;
            let expression = r.sstr("a child expression")?;
            let value = read_object(r, layout)?;
            children.push(Child { name, expression, value });
        }
    }
    Ok(Event::Children { execution_id, children })
}

fn write_children(dst: &mut BytesMut, execution_id: i64, children: &[Child], layout: Layout) {
    put_i64(dst, execution_id);
    if layout.is_v2() {
        // Like ptvsd 2.0: named attributes first, then `[…]` items. Expressions are dropped.
        let is_index = |child: &&Child| child.name.starts_with('[');
        let attributes: Vec<&Child> = children.iter().filter(|c| !is_index(c)).collect();
        let indices: Vec<&Child> = children.iter().filter(is_index).collect();
        put_len(dst, attributes.len());
        put_len(dst, indices.len());
        put_i64(dst, i64::from(!indices.is_empty()));
        put_i64(dst, 0);
        for child in attributes.into_iter().chain(indices) {
            put_sstr(dst, Some(&child.name));
            write_object(dst, &child.value, layout);
        }
    } else {
        put_len(dst, children.len());
        for child in children {
            put_sstr(dst, Some(&child.name));
            put_sstr(dst, child.expression.as_deref());
            write_object(dst, &child.value, layout);
        }
    }
}

/// Writes one event as a server would. JSON-only events cannot be written.
pub(super) fn write_event(dst: &mut BytesMut, event: &Event, layout: Layout) -> Result<(), ProtocolError> {
    let version = layout.version();
    match event {
        Event::ThreadCreate { thread } => tag_i64(dst, b"NEWT", *thread),
        Event::ThreadExit { thread } => tag_i64(dst, b"EXTT", *thread),
        Event::ModuleLoad { module_id, file } => {
            tag_i64(dst, b"MODL", *module_id);
            put_sstr(dst, Some(file));
        }
        Event::ModulesChanged => return Err(ProtocolError::Unsupported { command: "legacyModulesChanged", version }),
        Event::FrameList { thread, name, frames } => {
            tag_i64(dst, b"THRF", *thread);
            put_sstr(dst, name.as_deref());
            put_len(dst, frames.len());
            for frame in frames {
                write_frame(dst, frame, layout);
            }
        }
        Event::ProcessLoad { thread } => tag_i64(dst, b"LOAD", *thread),
        Event::BreakpointSet { id } => tag_i64(dst, b"BRKS", *id),
        Event::BreakpointFailed { id } => tag_i64(dst, b"BRKF", *id),
        Event::BreakpointHit { id, thread } => {
            tag_i64(dst, b"BRKH", *id);
            put_i64(dst, *thread);
        }
        Event::StepDone { thread } => tag_i64(dst, b"STPD", *thread),
        Event::AsyncBreak { thread } => tag_i64(dst, b"ASBR", *thread),
        Event::Exception(stop) if stop.rich => {
            let mut entries: Vec<(&str, &str)> = vec![(KEY_TYPENAME, &stop.type_name), (KEY_MESSAGE, &stop.message)];
            if stop.unhandled {
                entries.push((KEY_BREAKTYPE, UNHANDLED));
            }
            if let Some(trace) = &stop.trace {
                entries.push((KEY_TRACE, trace));
            }
            if let Some(exc_value) = &stop.exc_value {
                entries.push((KEY_EXCVALUE, exc_value));
            }
            tag_i64(dst, b"EXC2", stop.thread);
            put_len(dst, entries.len());
            for (key, value) in entries {
                put_sstr(dst, Some(key));
                put_sstr(dst, Some(value));
            }
        }
        Event::Exception(stop) => {
            put_tag(dst, b"EXCP");
            put_sstr(dst, Some(&stop.type_name));
            put_i64(dst, stop.thread);
            put_i64(dst, i64::from(stop.unhandled));
            put_sstr(dst, Some(&stop.message));
        }
        Event::RequestHandlers { file } => {
            put_tag(dst, b"REQH");
            put_sstr(dst, Some(file));
        }
        Event::ExecutionResult { execution_id, value } => {
            tag_i64(dst, b"EXCR", *execution_id);
            write_object(dst, value, layout);
        }
        Event::ExecutionException { execution_id, text } => {
            tag_i64(dst, b"EXCE", *execution_id);
            put_sstr(dst, Some(text));
        }
        Event::Children { execution_id, children } => {
            put_tag(dst, b"CHLD");
            write_children(dst, *execution_id, children, layout);
        }
        Event::BreakpointHitCount { request_id, hit_count } => {
            tag_i64(dst, b"BKHC", *request_id);
            put_i64(dst, *hit_count);
        }
        Event::SetLineResult { ok, thread, line } => {
            tag_i64(dst, b"SETL", i64::from(*ok));
            put_i64(dst, *thread);
            put_i64(dst, *line);
        }
        Event::Output { thread, text, channel: _ } => {
            tag_i64(dst, b"OUTP", *thread);
            put_sstr(dst, Some(text));
        }
        Event::Detach => put_tag(dst, b"DETC"),
        Event::Last => put_tag(dst, b"LAST"),
        Event::CommandFailed { .. } => {
            return Err(ProtocolError::Unsupported { command: "a failure response", version })
        }
        Event::Unknown { .. } => return Err(ProtocolError::Unsupported { command: "an unknown JSON event", version }),
    }
    Ok(())
}

fn tag_i64(dst: &mut BytesMut, tag: &[u8; 4], value: i64) {
    put_tag(dst, tag);
    put_i64(dst, value);
}

/// A count or length we send. Buffers never come near `i64::MAX` bytes.
pub(super) fn put_len(dst: &mut BytesMut, len: usize) {
    put_i64(dst, i64::try_from(len).unwrap_or(i64::MAX));
}
