//! Client → server commands: their tags and layouts (spec §3.2), per protocol version.
//!
//! `write_command` is what our client sends; `read_command` is its mirror for fake peers
//! and reads the layouts a ptvsd server of that version reads. Client strings carry no
//! kind byte.

use bytes::BytesMut;

use super::events::{put_len, unknown_tag};
use super::Layout;
use crate::legacy::error::ProtocolError;
use crate::legacy::messages::{
    Command, ConditionKind, ExceptionMode, FrameKind, HandlerStatement, PassCountKind, ReprKind,
};
use crate::legacy::wire::{put_cstr, put_i64, put_tag, Parse, Reader};

/// Ends the expression list of one `sehi` statement.
const HANDLER_LIST_END: &str = "-";

/// Writes one command, or fails without writing anything if this version cannot carry it.
pub(super) fn write_command(dst: &mut BytesMut, command: &Command, layout: Layout) -> Result<(), ProtocolError> {
    let version = layout.version();
    match command {
        Command::StepInto { thread } => tag_i64(dst, b"stpi", *thread),
        Command::StepOut { thread } => tag_i64(dst, b"stpo", *thread),
        Command::StepOver { thread } => tag_i64(dst, b"stpv", *thread),
        Command::BreakAll => put_tag(dst, b"brka"),
        Command::ResumeAll => put_tag(dst, b"resa"),
        Command::ResumeThread { thread } => tag_i64(dst, b"rest", *thread),
        Command::AutoResumeThread { thread } => tag_i64(dst, b"ares", *thread),
        Command::ClearStepping { thread } => tag_i64(dst, b"clst", *thread),
        Command::GetThreadFrames { thread } => tag_i64(dst, b"thrf", *thread),
        Command::SetBreakpoint { id, line, file, condition_kind, condition, pass_count_kind, pass_count } => {
            if layout.old_breakpoints() {
                if *pass_count_kind != PassCountKind::Always {
                    return Err(ProtocolError::Unsupported { command: "a breakpoint pass count", version });
                }
                let (condition, when_changed) = old_condition(*condition_kind, condition, version)?;
                tag_i64(dst, b"brkp", *id);
                put_i64(dst, *line);
                put_cstr(dst, file);
                put_cstr(dst, condition);
                put_i64(dst, when_changed);
            } else {
                tag_i64(dst, b"brkp", *id);
                put_i64(dst, *line);
                put_cstr(dst, file);
                put_i64(dst, condition_kind.to_wire());
                put_cstr(dst, condition);
                put_i64(dst, pass_count_kind.to_wire());
                put_i64(dst, *pass_count);
            }
        }
        Command::SetBreakpointCondition { id, condition_kind, condition } => {
            if layout.old_breakpoints() {
                let (condition, when_changed) = old_condition(*condition_kind, condition, version)?;
                tag_i64(dst, b"brkc", *id);
                put_cstr(dst, condition);
                put_i64(dst, when_changed);
            } else {
                tag_i64(dst, b"brkc", *id);
                put_i64(dst, condition_kind.to_wire());
                put_cstr(dst, condition);
            }
        }
        Command::SetBreakpointPassCount { id, pass_count_kind, pass_count } => {
            if layout.old_breakpoints() {
                return Err(ProtocolError::Unsupported { command: "setting a breakpoint pass count (bkpc)", version });
            }
            tag_i64(dst, b"bkpc", *id);
            put_i64(dst, pass_count_kind.to_wire());
            put_i64(dst, *pass_count);
        }
        Command::SetBreakpointHitCount { id, hit_count } => {
            if layout.old_breakpoints() {
                return Err(ProtocolError::Unsupported { command: "setting a breakpoint hit count (bksh)", version });
            }
            tag_i64(dst, b"bksh", *id);
            put_i64(dst, *hit_count);
        }
        Command::GetBreakpointHitCount { request_id, id } => {
            if layout.old_breakpoints() {
                return Err(ProtocolError::Unsupported { command: "reading a breakpoint hit count (bkgh)", version });
            }
            tag_i64(dst, b"bkgh", *request_id);
            put_i64(dst, *id);
        }
        // Note the order: line first, unlike `brkp`.
        Command::RemoveBreakpoint { id, line } => {
            tag_i64(dst, b"brkr", *line);
            put_i64(dst, *id);
        }
        Command::SetDjangoBreakpoint { id, line, file } => {
            tag_i64(dst, b"bkda", *id);
            put_i64(dst, *line);
            put_cstr(dst, file);
        }
        Command::RemoveDjangoBreakpoint { id, line, file } => {
            tag_i64(dst, b"bkdr", *line);
            put_i64(dst, *id);
            put_cstr(dst, file);
        }
        Command::Execute { text, thread, frame, execution_id, frame_kind, repr_kind } => {
            // v2 has no repr kind: it always answers with the normal repr.
            if layout.is_v2() && *repr_kind != ReprKind::Normal {
                return Err(ProtocolError::Unsupported { command: "a raw evaluation (exec repr kind)", version });
            }
            put_tag(dst, b"exec");
            put_cstr(dst, text);
            put_i64(dst, *thread);
            put_i64(dst, *frame);
            put_i64(dst, *execution_id);
            put_i64(dst, frame_kind.to_wire());
            if !layout.is_v2() {
                put_i64(dst, repr_kind.to_wire());
            }
        }
        Command::EnumChildren { text, thread, frame, execution_id, frame_kind } => {
            put_tag(dst, b"chld");
            put_cstr(dst, text);
            put_i64(dst, *thread);
            put_i64(dst, *frame);
            put_i64(dst, *execution_id);
            put_i64(dst, frame_kind.to_wire());
            if layout.is_v2() {
                // childIsEnumerate
                put_i64(dst, 0);
            }
        }
        Command::SetLineNumber { thread, frame, line } => {
            tag_i64(dst, b"setl", *thread);
            put_i64(dst, *frame);
            put_i64(dst, *line);
        }
        Command::SetExceptionInfo { default_mode, exceptions } => {
            tag_i64(dst, b"sexi", *default_mode);
            put_len(dst, exceptions.len());
            for exception in exceptions {
                put_i64(dst, exception.mode);
                put_cstr(dst, &exception.name);
            }
        }
        Command::SetExceptionHandlerInfo { file, statements } => {
            // The server strips the first expression before comparing it with "-".
            let has_terminator = statements
                .iter()
                .flat_map(|statement| &statement.expressions)
                .any(|expression| expression.trim() == HANDLER_LIST_END);
            if has_terminator {
                return Err(ProtocolError::Unsupported {
                    command: "a handler expression \"-\" (the list terminator of sehi)",
                    version,
                });
            }
            put_tag(dst, b"sehi");
            put_cstr(dst, file);
            put_len(dst, statements.len());
            for statement in statements {
                put_i64(dst, statement.start_line);
                put_i64(dst, statement.end_line);
                for expression in &statement.expressions {
                    put_cstr(dst, expression);
                }
                put_cstr(dst, HANDLER_LIST_END);
            }
        }
        Command::Detach => put_tag(dst, b"detc"),
        Command::LastAck => put_tag(dst, b"lack"),
    }
    Ok(())
}

/// v2/v4 breakpoints carry a condition and a break-when-changed flag instead of a kind.
fn old_condition(kind: ConditionKind, condition: &str, version: i64) -> Result<(&str, i64), ProtocolError> {
    match kind {
        ConditionKind::Always => Ok(("", 0)),
        ConditionKind::WhenTrue => Ok((condition, 0)),
        ConditionKind::WhenChanged => Ok((condition, 1)),
        ConditionKind::Other(_) => Err(ProtocolError::Unsupported {
            command: "a breakpoint condition kind other than always, when true or when changed",
            version,
        }),
    }
}

fn from_old_condition(condition: String, when_changed: i64) -> (ConditionKind, String) {
    let kind = if when_changed != 0 {
        ConditionKind::WhenChanged
    } else if condition.is_empty() {
        ConditionKind::Always
    } else {
        ConditionKind::WhenTrue
    };
    (kind, condition)
}

/// Parses one command as a ptvsd server of this version would. Tags the version does not
/// know are [`ProtocolError::UnknownTag`] (a real server's command loop ends there).
pub(super) fn read_command(r: &mut Reader<'_>, layout: Layout) -> Parse<Command> {
    let tag = r.tag()?;
    let command = match &tag {
        b"stpi" => Command::StepInto { thread: r.i64()? },
        b"stpo" => Command::StepOut { thread: r.i64()? },
        b"stpv" => Command::StepOver { thread: r.i64()? },
        b"brka" => Command::BreakAll,
        b"resa" => Command::ResumeAll,
        b"rest" => Command::ResumeThread { thread: r.i64()? },
        b"ares" => Command::AutoResumeThread { thread: r.i64()? },
        b"clst" => Command::ClearStepping { thread: r.i64()? },
        b"thrf" => Command::GetThreadFrames { thread: r.i64()? },
        b"brkp" if layout.old_breakpoints() => {
            let id = r.i64()?;
            let line = r.i64()?;
            let file = r.cstr("a breakpoint file name")?;
            let condition = r.cstr("a breakpoint condition")?;
            let (condition_kind, condition) = from_old_condition(condition, r.i64()?);
            Command::SetBreakpoint {
                id,
                line,
                file,
                condition_kind,
                condition,
                pass_count_kind: PassCountKind::Always,
                pass_count: 0,
            }
        }
        b"brkp" => {
            let id = r.i64()?;
            let line = r.i64()?;
            let file = r.cstr("a breakpoint file name")?;
            let condition_kind = ConditionKind::from_wire(r.i64()?);
            let condition = r.cstr("a breakpoint condition")?;
            let pass_count_kind = PassCountKind::from_wire(r.i64()?);
            let pass_count = r.i64()?;
            Command::SetBreakpoint { id, line, file, condition_kind, condition, pass_count_kind, pass_count }
        }
        b"brkc" if layout.old_breakpoints() => {
            let id = r.i64()?;
            let condition = r.cstr("a breakpoint condition")?;
            let (condition_kind, condition) = from_old_condition(condition, r.i64()?);
            Command::SetBreakpointCondition { id, condition_kind, condition }
        }
        b"brkc" => {
            let id = r.i64()?;
            let condition_kind = ConditionKind::from_wire(r.i64()?);
            let condition = r.cstr("a breakpoint condition")?;
            Command::SetBreakpointCondition { id, condition_kind, condition }
        }
        b"bkpc" if !layout.old_breakpoints() => {
            let id = r.i64()?;
            let pass_count_kind = PassCountKind::from_wire(r.i64()?);
            let pass_count = r.i64()?;
            Command::SetBreakpointPassCount { id, pass_count_kind, pass_count }
        }
        b"bksh" if !layout.old_breakpoints() => {
            let id = r.i64()?;
            let hit_count = r.i64()?;
            Command::SetBreakpointHitCount { id, hit_count }
        }
        b"bkgh" if !layout.old_breakpoints() => {
            let request_id = r.i64()?;
            let id = r.i64()?;
            Command::GetBreakpointHitCount { request_id, id }
        }
        b"brkr" => {
            let line = r.i64()?;
            let id = r.i64()?;
            Command::RemoveBreakpoint { id, line }
        }
        b"bkda" => {
            let id = r.i64()?;
            let line = r.i64()?;
            let file = r.cstr("a template file name")?;
            Command::SetDjangoBreakpoint { id, line, file }
        }
        b"bkdr" => {
            let line = r.i64()?;
            let id = r.i64()?;
            let file = r.cstr("a template file name")?;
            Command::RemoveDjangoBreakpoint { id, line, file }
        }
        b"exec" => {
            let text = r.cstr("an expression")?;
            let thread = r.i64()?;
            let frame = r.i64()?;
            let execution_id = r.i64()?;
            let frame_kind = FrameKind::from_wire(r.i64()?);
            let repr_kind = if layout.is_v2() { ReprKind::Normal } else { ReprKind::from_wire(r.i64()?) };
            Command::Execute { text, thread, frame, execution_id, frame_kind, repr_kind }
        }
        b"chld" => {
            let text = r.cstr("an expression")?;
            let thread = r.i64()?;
            let frame = r.i64()?;
            let execution_id = r.i64()?;
            let frame_kind = FrameKind::from_wire(r.i64()?);
            if layout.is_v2() {
                let _child_is_enumerate = r.i64()?;
            }
            Command::EnumChildren { text, thread, frame, execution_id, frame_kind }
        }
        b"setl" => {
            let thread = r.i64()?;
            let frame = r.i64()?;
            let line = r.i64()?;
            Command::SetLineNumber { thread, frame, line }
        }
        b"sexi" => {
            let default_mode = r.i64()?;
            let count = r.count("exception modes")?;
            let mut exceptions = Vec::new();
            for _ in 0..count {
                let mode = r.i64()?;
                let name = r.cstr("an exception name")?;
                exceptions.push(ExceptionMode { name, mode });
            }
            Command::SetExceptionInfo { default_mode, exceptions }
        }
        b"sehi" => read_handler_info(r)?,
        b"detc" => Command::Detach,
        b"lack" => Command::LastAck,
        _ => return Err(unknown_tag(&tag)),
    };
    Ok(command)
}

/// `sehi`: file, n, n × (start, end, expression …, "-").
fn read_handler_info(r: &mut Reader<'_>) -> Parse<Command> {
    let file = r.cstr("a handler file name")?;
    let count = r.count("handler statements")?;
    let limit = r.limits().max_count;
    let mut statements = Vec::new();
    for _ in 0..count {
        let start_line = r.i64()?;
        let end_line = r.i64()?;
        let mut expressions = Vec::new();
        loop {
            let expression = r.cstr("a handler expression")?;
            if expression.trim() == HANDLER_LIST_END {
                break;
            }
            if expressions.len() >= limit {
                return Err(ProtocolError::TooLarge {
                    what: "handler expressions",
                    size: expressions.len() as u64 + 1,
                    limit: limit as u64,
                }
                .into());
            }
            expressions.push(expression);
        }
        statements.push(HandlerStatement { start_line, end_line, expressions });
    }
    Ok(Command::SetExceptionHandlerInfo { file, statements })
}

fn tag_i64(dst: &mut BytesMut, tag: &[u8; 4], value: i64) {
    put_tag(dst, tag);
    put_i64(dst, value);
}
