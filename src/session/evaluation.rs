//! Evaluation in a stopped frame: `evaluate` (watch, hover, repl, clipboard),
//! `setVariable`/`setExpression` (the assignment through `exec`, then the value read
//! back) and `completions`; and the typed body each gets when ptvsd's result comes.
//!
//! Clipboard: the untruncated `repr()` of the expression, read raw (ptvsd's normal repr
//! is cut at 65 536 characters and 30 inside containers, spec §6.3).
//!
//! Owns: the handlers, [`AssignKind`], and the bodies of their answers
//! (`EvaluateResponseBody`, `SetVariableResponseBody`, `SetExpressionResponseBody`,
//! `CompletionsResponseBody`). Each request waits in `work` as a `Waiter` (`waiters`);
//! watches and hovers are queued batchable (`Job::watch`), so the watches of one stop
//! share one round trip.
//!
//! Must not know: the wire, how work is scheduled or when threads resume; which frames
//! exist (`stack::check_frame`/`frame_or_top` decide).

use super::completions;
use super::handles::{Container, FrameRef, Handles};
use super::logpoints::py_literal;
use super::requests::wants_hex;
use super::work::Job;
use super::{Handled, Reply, RequestError, Session, Waiter};
use crate::dap::bodies::{
    CompletionItem, CompletionItemType, CompletionsResponseBody, EvaluateResponseBody, ResponseBody,
    SetExpressionResponseBody, SetVariableResponseBody,
};
use crate::dap::requests::{CompletionsArguments, EvaluateArguments, SetExpressionArguments, SetVariableArguments};
use crate::dap::types::Request;
use crate::legacy::messages::{PyObject, ReprKind};

/// Which request an assignment answers (their bodies differ in the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AssignKind {
    /// `setVariable`.
    Variable,
    /// `setExpression`.
    Expression,
}

/// The DAP type of a completion kind from [`completions::parse_result`].
fn completion_type(kind: &str) -> CompletionItemType {
    match kind {
        "module" => CompletionItemType::Module,
        "class" => CompletionItemType::Class,
        "property" => CompletionItemType::Property,
        "function" => CompletionItemType::Function,
        _ => CompletionItemType::Variable,
    }
}

/// The `evaluate` body of a clipboard read: the raw, untruncated `repr()`.
pub(super) fn clipboard_body(value: PyObject) -> EvaluateResponseBody {
    EvaluateResponseBody { result: value.repr.unwrap_or_default(), ..EvaluateResponseBody::default() }
}

impl Session {
    /// `evaluate`: watch expressions (and hovers) are queued as batchable, so the
    /// watches of one stop share one round trip.
    pub(super) async fn evaluate(&mut self, request: &Request, args: EvaluateArguments) -> Handled {
        let quiet = matches!(args.context.as_deref(), Some("hover" | "watch"));
        let frame = self.frame_or_top(args.frame_id, "evaluate").map_err(|e| {
            if quiet {
                RequestError::quiet(e.message)
            } else {
                e
            }
        })?;
        self.check_frame(frame).map_err(|e| {
            if quiet {
                e
            } else {
                RequestError { message: e.message, blame: super::Blame::User }
            }
        })?;
        if args.context.as_deref() == Some("clipboard") {
            self.evaluate_for_clipboard(request, &args.expression, frame);
            return Ok(Reply::Later);
        }
        let job = if args.context.as_deref() == Some("watch") {
            Job::watch(args.expression.clone(), frame.index, frame.kind)
        } else {
            Job::execute(args.expression.clone(), frame.index, frame.kind, crate::legacy::messages::ReprKind::Normal)
        };
        let hex = wants_hex(args.format.as_ref());
        let repl = args.context.as_deref() == Some("repl");
        self.queue_work(
            frame.thread,
            job,
            Waiter::Evaluate { request: request.clone(), expression: args.expression, frame, hex, quiet, repl },
        );
        Ok(Reply::Later)
    }

    /// `evaluate` with `context: "clipboard"`: the untruncated `repr()`.
    pub(super) fn evaluate_for_clipboard(&mut self, request: &Request, expression: &str, frame: FrameRef) {
        // Parentheses on their own lines: a trailing comment in the expression stays harmless.
        let text = format!("repr((\n{expression}\n))");
        let job = Job::execute(text, frame.index, frame.kind, ReprKind::Raw);
        self.queue_work(frame.thread, job, Waiter::Clipboard { request: request.clone() });
    }

    /// Assigns `target = value` in the frame through `exec` (the assignment persists,
    /// spec §3.8), then reads `target` back.
    async fn assign(
        &mut self,
        request: &Request,
        frame: FrameRef,
        target: String,
        value: &str,
        hex: bool,
        kind: AssignKind,
    ) -> Handled {
        self.check_frame(frame)?;
        if value.trim().is_empty() {
            return Err("give a value (a Python expression) to assign".into());
        }
        let job = Job::execute(format!("{target} = {value}"), frame.index, frame.kind, ReprKind::Normal);
        self.queue_work(frame.thread, job, Waiter::Assign { request: request.clone(), target, frame, hex, kind });
        Ok(Reply::Later)
    }

    pub(super) async fn set_variable(&mut self, request: &Request, args: SetVariableArguments) -> Handled {
        let container = self.handles.container(args.variables_reference).cloned().ok_or_else(|| {
            format!("variablesReference {} is no longer valid: the program has run since", args.variables_reference)
        })?;
        let name = args.name.trim();
        let (frame, target) = match container {
            Container::Locals(frame) => (frame, name.to_string()),
            Container::Globals(frame) => (frame, format!("globals()[{}]", py_literal(name))),
            Container::Expression { frame, expression, .. } => {
                if name.starts_with('[') && name.ends_with(']') {
                    (frame, format!("({expression}){name}"))
                } else if !name.is_empty() && name.chars().all(|c| c == '_' || c.is_alphanumeric()) {
                    (frame, format!("({expression}).{name}"))
                } else {
                    return Err(
                        format!("`{name}` cannot be assigned to: set it through the debug console instead").into()
                    );
                }
            }
        };
        let hex = wants_hex(args.format.as_ref());
        self.assign(request, frame, target, &args.value, hex, AssignKind::Variable).await
    }

    pub(super) async fn set_expression(&mut self, request: &Request, args: SetExpressionArguments) -> Handled {
        let frame = self.frame_or_top(args.frame_id, "setExpression")?;
        let hex = wants_hex(args.format.as_ref());
        self.assign(request, frame, args.expression.trim().to_string(), &args.value, hex, AssignKind::Expression).await
    }

    pub(super) async fn completions(&mut self, request: &Request, args: CompletionsArguments) -> Handled {
        // Only the line the cursor is on counts (`line` is for multi-line input).
        let text = match args.line.filter(|l| *l > 0) {
            Some(line) => {
                let first = self.editor.client().first_line();
                args.text.split('\n').nth(usize::try_from(line - first).unwrap_or(0)).unwrap_or("").to_string()
            }
            None => args.text.clone(),
        };
        let column = args.column - self.editor.client().first_column();
        let target = usize::try_from(column).ok().and_then(|c| completions::target(&text, c));
        let frame = self.frame_or_top(args.frame_id, "completions").and_then(|f| self.check_frame(f).map(|()| f));
        let (Some(target), Ok(frame)) = (target, frame) else {
            return Ok(Reply::body(CompletionsResponseBody::default()));
        };
        let job = Job::execute(completions::expression(&target), frame.index, frame.kind, ReprKind::Raw);
        self.queue_work(frame.thread, job, Waiter::Completions { request: request.clone(), target });
        Ok(Reply::Later)
    }

    /// The assignment ran: queue the read of the new value (the frame must still be there).
    pub(super) fn read_back(
        &mut self,
        request: &Request,
        target: String,
        frame: FrameRef,
        hex: bool,
        kind: AssignKind,
    ) -> Result<(), RequestError> {
        self.check_frame(frame)?;
        let job = Job::execute(target.clone(), frame.index, frame.kind, ReprKind::Normal);
        self.queue_work(frame.thread, job, Waiter::AssignRead { request: request.clone(), target, frame, hex, kind });
        Ok(())
    }
}

/// The bodies of evaluated and assigned values, built from the handles alone.
impl Handles {
    /// The `evaluate` body of a value.
    pub(super) fn evaluate_body(
        &mut self,
        frame: FrameRef,
        expression: &str,
        value: &PyObject,
        hex: bool,
    ) -> EvaluateResponseBody {
        let v = self.variable(frame, "", Some(expression), value, hex);
        EvaluateResponseBody {
            result: v.value,
            type_: v.type_,
            variables_reference: v.variables_reference,
            indexed_variables: v.indexed_variables,
            ..EvaluateResponseBody::default()
        }
    }

    /// The `setVariable` or `setExpression` body of the value read back.
    pub(super) fn assigned_body(
        &mut self,
        kind: AssignKind,
        frame: FrameRef,
        target: &str,
        value: &PyObject,
        hex: bool,
    ) -> ResponseBody {
        let v = self.variable(frame, "", Some(target), value, hex);
        match kind {
            AssignKind::Variable => SetVariableResponseBody {
                value: v.value,
                type_: v.type_,
                variables_reference: Some(v.variables_reference),
                indexed_variables: v.indexed_variables,
                ..SetVariableResponseBody::default()
            }
            .into(),
            AssignKind::Expression => SetExpressionResponseBody {
                value: v.value,
                type_: v.type_,
                variables_reference: Some(v.variables_reference),
                indexed_variables: v.indexed_variables,
                ..SetExpressionResponseBody::default()
            }
            .into(),
        }
    }
}

/// The `completions` body of the candidates the debuggee listed; `first_column`: the
/// editor's number of the first column.
pub(super) fn completions_body(
    first_column: i64,
    target: &completions::Target,
    value: &PyObject,
) -> CompletionsResponseBody {
    let start = target.start_utf16 as i64 + first_column;
    let length = target.prefix.encode_utf16().count() as i64;
    let targets = completions::parse_result(value.repr.as_deref().unwrap_or_default())
        .into_iter()
        .map(|(label, kind)| CompletionItem {
            label,
            type_: Some(completion_type(kind)),
            start: Some(start),
            length: Some(length),
            ..CompletionItem::default()
        })
        .collect();
    CompletionsResponseBody { targets }
}
