//! Client → server requests of the JSON dialect (spec §3.2), both directions.
//!
//! Owns: command names and argument keys, exactly as ptvsd 3.1/3.2 read them (strict key
//! lookup: every key a handler reads must be present). Must not know: framing, sequence
//! numbers or the envelope.

use serde_json::{json, Value};

use super::fields::{self, Bad, Fields, Res};
use crate::legacy::error::ProtocolError;
use crate::legacy::messages::{
    Command, ConditionKind, ExceptionMode, FrameKind, HandlerStatement, PassCountKind, ReprKind,
};
use crate::legacy::wire::Limits;

pub(super) const STEP_INTO: &str = "legacyStepInto";
pub(super) const STEP_OUT: &str = "legacyStepOut";
pub(super) const STEP_OVER: &str = "legacyStepOver";
pub(super) const BREAK_ALL: &str = "legacyBreakAll";
pub(super) const RESUME_ALL: &str = "legacyResumeAll";
pub(super) const RESUME_THREAD: &str = "legacyResumeThread";
pub(super) const AUTO_RESUME_THREAD: &str = "legacyAutoResumeThread";
pub(super) const CLEAR_STEPPING: &str = "legacyClearStepping";
pub(super) const GET_THREAD_FRAMES: &str = "legacyGetThreadFrames";
pub(super) const SET_BREAKPOINT: &str = "legacySetBreakpoint";
pub(super) const SET_BREAKPOINT_CONDITION: &str = "legacySetBreakpointCondition";
pub(super) const SET_BREAKPOINT_PASS_COUNT: &str = "legacySetBreakpointPassCount";
pub(super) const SET_BREAKPOINT_HIT_COUNT: &str = "legacySetBreakpointHitCount";
pub(super) const GET_BREAKPOINT_HIT_COUNT: &str = "legacyGetBreakpointHitCount";
pub(super) const REMOVE_BREAKPOINT: &str = "legacyRemoveBreakpoint";
pub(super) const EXECUTE_TEXT: &str = "legacyExecuteText";
pub(super) const ENUM_CHILDREN: &str = "legacyEnumChildren";
pub(super) const SET_LINE_NUMBER: &str = "legacySetLineNumber";
pub(super) const SET_EXCEPTION_INFO: &str = "legacySetExceptionInfo";
pub(super) const SET_EXCEPTION_HANDLER_INFO: &str = "legacySetExceptionHandlerInfo";
pub(super) const DETACH: &str = "legacyDetach";
pub(super) const LAST_ACK: &str = "legacyLastAck";

/// Every command name this module decodes.
pub(super) const KNOWN_COMMANDS: &[&str] = &[
    STEP_INTO,
    STEP_OUT,
    STEP_OVER,
    BREAK_ALL,
    RESUME_ALL,
    RESUME_THREAD,
    AUTO_RESUME_THREAD,
    CLEAR_STEPPING,
    GET_THREAD_FRAMES,
    SET_BREAKPOINT,
    SET_BREAKPOINT_CONDITION,
    SET_BREAKPOINT_PASS_COUNT,
    SET_BREAKPOINT_HIT_COUNT,
    GET_BREAKPOINT_HIT_COUNT,
    REMOVE_BREAKPOINT,
    EXECUTE_TEXT,
    ENUM_CHILDREN,
    SET_LINE_NUMBER,
    SET_EXCEPTION_INFO,
    SET_EXCEPTION_HANDLER_INFO,
    DETACH,
    LAST_ACK,
];

/// `language` of `legacySetBreakpoint` / `legacyRemoveBreakpoint`.
const LANGUAGE_PYTHON: i64 = 0;
const LANGUAGE_DJANGO: i64 = 1;

/// The command name and `arguments` object of a request.
pub(super) fn encode_command(command: Command) -> (&'static str, Value) {
    match command {
        Command::StepInto { thread } => (STEP_INTO, json!({ "threadId": thread })),
        Command::StepOut { thread } => (STEP_OUT, json!({ "threadId": thread })),
        Command::StepOver { thread } => (STEP_OVER, json!({ "threadId": thread })),
        Command::BreakAll => (BREAK_ALL, json!({})),
        Command::ResumeAll => (RESUME_ALL, json!({})),
        Command::ResumeThread { thread } => (RESUME_THREAD, json!({ "threadId": thread })),
        Command::AutoResumeThread { thread } => (AUTO_RESUME_THREAD, json!({ "threadId": thread })),
        Command::ClearStepping { thread } => (CLEAR_STEPPING, json!({ "threadId": thread })),
        Command::GetThreadFrames { thread } => (GET_THREAD_FRAMES, json!({ "threadId": thread })),
        Command::SetBreakpoint { id, line, file, condition_kind, condition, pass_count_kind, pass_count } => (
            SET_BREAKPOINT,
            json!({
                "breakpointId": id,
                "breakpointLineNo": line,
                "breakpointFileName": file,
                "conditionKind": condition_kind.to_wire(),
                "condition": condition,
                "passCountKind": pass_count_kind.to_wire(),
                "passCount": pass_count,
                "language": LANGUAGE_PYTHON,
            }),
        ),
        Command::SetBreakpointCondition { id, condition_kind, condition } => (
            SET_BREAKPOINT_CONDITION,
            json!({ "breakpointId": id, "conditionKind": condition_kind.to_wire(), "condition": condition }),
        ),
        Command::SetBreakpointPassCount { id, pass_count_kind, pass_count } => (
            SET_BREAKPOINT_PASS_COUNT,
            json!({ "breakpointId": id, "passCountKind": pass_count_kind.to_wire(), "passCount": pass_count }),
        ),
        Command::SetBreakpointHitCount { id, hit_count } => {
            (SET_BREAKPOINT_HIT_COUNT, json!({ "breakpointId": id, "hitCount": hit_count }))
        }
        // The request id stays with the client codec; the wire carries only the seq.
        Command::GetBreakpointHitCount { request_id: _, id } => {
            (GET_BREAKPOINT_HIT_COUNT, json!({ "breakpointId": id }))
        }
        Command::RemoveBreakpoint { id, line } => {
            (REMOVE_BREAKPOINT, json!({ "breakpointId": id, "breakpointLineNo": line, "language": LANGUAGE_PYTHON }))
        }
        // ptvsd reads every key of a Python breakpoint before looking at the language.
        Command::SetDjangoBreakpoint { id, line, file } => (
            SET_BREAKPOINT,
            json!({
                "breakpointId": id,
                "breakpointLineNo": line,
                "breakpointFileName": file,
                "conditionKind": ConditionKind::Always.to_wire(),
                "condition": "",
                "passCountKind": PassCountKind::Always.to_wire(),
                "passCount": 0,
                "language": LANGUAGE_DJANGO,
            }),
        ),
        Command::RemoveDjangoBreakpoint { id, line, file } => (
            REMOVE_BREAKPOINT,
            json!({
                "breakpointId": id,
                "breakpointLineNo": line,
                "breakpointFileName": file,
                "language": LANGUAGE_DJANGO,
            }),
        ),
        // v8 (3.2) requires `moduleName` and `printResult`; v7 ignores them (spec §6.1).
        Command::Execute { text, thread, frame, execution_id, frame_kind, repr_kind } => (
            EXECUTE_TEXT,
            json!({
                "text": text,
                "threadId": thread,
                "frameId": frame,
                "executionId": execution_id,
                "frameKind": frame_kind.to_wire(),
                "reprKind": repr_kind.to_wire(),
                "moduleName": null,
                "printResult": false,
            }),
        ),
        Command::EnumChildren { text, thread, frame, execution_id, frame_kind } => (
            ENUM_CHILDREN,
            json!({
                "text": text,
                "threadId": thread,
                "frameId": frame,
                "executionId": execution_id,
                "frameKind": frame_kind.to_wire(),
            }),
        ),
        Command::SetLineNumber { thread, frame, line } => {
            (SET_LINE_NUMBER, json!({ "threadId": thread, "frameId": frame, "lineNo": line }))
        }
        Command::SetExceptionInfo { default_mode, exceptions } => (
            SET_EXCEPTION_INFO,
            json!({
                "defaultBreakOnMode": default_mode,
                "breakOn": exceptions
                    .into_iter()
                    .map(|e| json!({ "name": e.name, "mode": e.mode }))
                    .collect::<Vec<_>>(),
            }),
        ),
        Command::SetExceptionHandlerInfo { file, statements } => (
            SET_EXCEPTION_HANDLER_INFO,
            json!({
                "fileName": file,
                "statements": statements
                    .into_iter()
                    .map(|s| json!({ "lineStart": s.start_line, "lineEnd": s.end_line, "expressions": s.expressions }))
                    .collect::<Vec<_>>(),
            }),
        ),
        Command::Detach => (DETACH, json!({})),
        Command::LastAck => (LAST_ACK, json!({})),
    }
}

/// Decodes the request `command` with `arguments`. `seq` becomes the `request_id` of
/// [`Command::GetBreakpointHitCount`]. Extra keys are ignored, as ptvsd does; keys ptvsd
/// would read must be present, except `moduleName`/`printResult` (v7 has neither).
pub(super) fn decode_command(
    command: &str,
    seq: i64,
    arguments: Option<Value>,
    limits: &Limits,
) -> Result<Command, ProtocolError> {
    if !KNOWN_COMMANDS.contains(&command) {
        return Err(ProtocolError::Malformed { detail: format!("unknown command {command:?}") });
    }
    Fields::from_optional(arguments)
        .map_err(|bad| bad.within("arguments"))
        .and_then(|mut args| decode_known(command, seq, &mut args, limits))
        .map_err(|bad| bad.into_error(&format!("request {command}")))
}

fn decode_known(command: &str, seq: i64, args: &mut Fields, limits: &Limits) -> Res<Command> {
    let decoded = match command {
        STEP_INTO => Command::StepInto { thread: args.int("threadId")? },
        STEP_OUT => Command::StepOut { thread: args.int("threadId")? },
        STEP_OVER => Command::StepOver { thread: args.int("threadId")? },
        BREAK_ALL => Command::BreakAll,
        RESUME_ALL => Command::ResumeAll,
        RESUME_THREAD => Command::ResumeThread { thread: args.int("threadId")? },
        AUTO_RESUME_THREAD => Command::AutoResumeThread { thread: args.int("threadId")? },
        CLEAR_STEPPING => Command::ClearStepping { thread: args.int("threadId")? },
        GET_THREAD_FRAMES => Command::GetThreadFrames { thread: args.int("threadId")? },
        SET_BREAKPOINT => {
            let id = args.int("breakpointId")?;
            let line = args.int("breakpointLineNo")?;
            let file = args.string("breakpointFileName")?;
            let condition_kind = ConditionKind::from_wire(args.int("conditionKind")?);
            let condition = args.string("condition")?;
            let pass_count_kind = PassCountKind::from_wire(args.int("passCountKind")?);
            let pass_count = args.int("passCount")?;
            match language(args)? {
                LANGUAGE_DJANGO => Command::SetDjangoBreakpoint { id, line, file },
                _ => Command::SetBreakpoint { id, line, file, condition_kind, condition, pass_count_kind, pass_count },
            }
        }
        SET_BREAKPOINT_CONDITION => Command::SetBreakpointCondition {
            id: args.int("breakpointId")?,
            condition_kind: ConditionKind::from_wire(args.int("conditionKind")?),
            condition: args.string("condition")?,
        },
        SET_BREAKPOINT_PASS_COUNT => Command::SetBreakpointPassCount {
            id: args.int("breakpointId")?,
            pass_count_kind: PassCountKind::from_wire(args.int("passCountKind")?),
            pass_count: args.int("passCount")?,
        },
        SET_BREAKPOINT_HIT_COUNT => {
            Command::SetBreakpointHitCount { id: args.int("breakpointId")?, hit_count: args.int("hitCount")? }
        }
        GET_BREAKPOINT_HIT_COUNT => Command::GetBreakpointHitCount { request_id: seq, id: args.int("breakpointId")? },
        REMOVE_BREAKPOINT => {
            let line = args.int("breakpointLineNo")?;
            let id = args.int("breakpointId")?;
            match language(args)? {
                LANGUAGE_DJANGO => {
                    Command::RemoveDjangoBreakpoint { id, line, file: args.string("breakpointFileName")? }
                }
                _ => Command::RemoveBreakpoint { id, line },
            }
        }
        EXECUTE_TEXT => Command::Execute {
            text: args.string("text")?,
            thread: args.int("threadId")?,
            frame: args.int("frameId")?,
            execution_id: args.int("executionId")?,
            frame_kind: FrameKind::from_wire(args.int("frameKind")?),
            repr_kind: ReprKind::from_wire(args.int("reprKind")?),
        },
        ENUM_CHILDREN => Command::EnumChildren {
            text: args.string("text")?,
            thread: args.int("threadId")?,
            frame: args.int("frameId")?,
            execution_id: args.int("executionId")?,
            frame_kind: FrameKind::from_wire(args.int("frameKind")?),
        },
        SET_LINE_NUMBER => Command::SetLineNumber {
            thread: args.int("threadId")?,
            frame: args.int("frameId")?,
            line: args.int("lineNo")?,
        },
        SET_EXCEPTION_INFO => Command::SetExceptionInfo {
            default_mode: args.int("defaultBreakOnMode")?,
            exceptions: args.list("breakOn", "exception entries", limits.max_count, exception_mode)?,
        },
        SET_EXCEPTION_HANDLER_INFO => Command::SetExceptionHandlerInfo {
            file: args.string("fileName")?,
            statements: args
                .list("statements", "handler statements", limits.max_count, |v| handler_statement(v, limits))?,
        },
        DETACH => Command::Detach,
        LAST_ACK => Command::LastAck,
        _ => return Err(Bad::invalid("unknown command")),
    };
    Ok(decoded)
}

/// `language`: 0 Python, 1 Django; ptvsd answers anything else with "Unknown language".
fn language(args: &mut Fields) -> Res<i64> {
    args.req("language", |value| match fields::int(value)? {
        language @ (LANGUAGE_PYTHON | LANGUAGE_DJANGO) => Ok(language),
        other => Err(Bad::invalid(format!("unknown language {other}"))),
    })
}

fn exception_mode(value: Value) -> Res<ExceptionMode> {
    let mut entry = Fields::from_value(value)?;
    Ok(ExceptionMode { name: entry.string("name")?, mode: entry.int("mode")? })
}

fn handler_statement(value: Value, limits: &Limits) -> Res<HandlerStatement> {
    let mut statement = Fields::from_value(value)?;
    Ok(HandlerStatement {
        start_line: statement.int("lineStart")?,
        end_line: statement.int("lineEnd")?,
        expressions: statement.list("expressions", "handler expressions", limits.max_count, fields::string)?,
    })
}
