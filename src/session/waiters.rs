//! What waits for a work item (`exec`/`chld`) on a stopped thread, and where its answer
//! goes.
//!
//! Owns: [`Waiter`] (one per work item: the request it answers, or the session's own
//! purpose: a probe, an attach-break evaluation, a logpoint, a function lookup),
//! [`WorkAnswer`], and the routing: `on_work_answer` (a batch split again, or sent again
//! one at a time; one retry of an item ptvsd refused as busy), `on_work_value`,
//! `on_execution_result`, and `fail_waiter`, so every waiter ends in exactly one answer
//! (its result, a failure sentence, its deadline, or a failure when the thread resumes,
//! the session detaches or the connection drops).
//!
//! Must not know: how each body is built (`evaluation`, `stack`, `frame_requests` build
//! them; this module hands them on to `Session::answer`), the wire, the scheduling.

use tokio::time::Instant;

use super::completions;
use super::evaluation::{clipboard_body, AssignKind};
use super::handles::FrameRef;
use super::repairs;
use super::stack::ChildrenShape;
use super::stepping::Release;
use super::work::{Finished, Job};
use super::{Blame, RequestError, Session};
use crate::dap::bodies::{CompletionsResponseBody, SourceResponseBody};
use crate::dap::types::Request;
use crate::legacy::messages::{Child, Event, PyObject, ThreadId};

/// What waits for the answer of a work item (`exec`/`chld`) on a stopped thread.
#[derive(Debug)]
pub(super) enum Waiter {
    /// `evaluate`: an ExecutionResult or ExecutionException.
    Evaluate { request: Request, expression: String, frame: FrameRef, hex: bool, quiet: bool, repl: bool },
    /// `variables` through `chld`: a Children reply.
    Children { request: Request, shape: ChildrenShape, frame: FrameRef, hex: bool },
    /// `terminate`/`disconnect(terminateDebuggee)`: the exit ends the connection.
    Exit { request: Request },
    /// The `exec "0"` probe of a thread that entered `block()` with no stop event while a
    /// silent stop would strand it: if it is parked, it is freed with another resume.
    SilentProbe { thread: ThreadId },
    /// One attach-break evaluation (`repairs`), by its index in the list.
    AttachBreak { index: usize },
    /// The `exec "0"` probe of an ambiguous stop: a result means the thread is parked
    /// and `stop` is a new stop; an exception means it is running and `stop` was stale.
    /// `top`: the thread's innermost frame (file, line) when the report came; a result
    /// from somewhere else means the report was stale and the thread parked again
    /// silently later (the probe ran when it next blocked).
    Probe { thread: ThreadId, stop: Box<Event>, top: Option<(String, i64)> },
    /// A logpoint's message, evaluated on the thread that hit it.
    Log { thread: ThreadId, source: crate::dap::bodies::Source, line: i64, started: Instant },
    /// `setVariable`/`setExpression`: the assignment ran; then `target` is read back.
    Assign { request: Request, target: String, frame: FrameRef, hex: bool, kind: AssignKind },
    /// `setVariable`/`setExpression`: the new value.
    AssignRead { request: Request, target: String, frame: FrameRef, hex: bool, kind: AssignKind },
    /// `source`: a file's text read through the debuggee.
    Source { request: Request, reference: i64 },
    /// `completions`: the candidates as one string.
    Completions { request: Request, target: completions::Target },
    /// `goto`: the running file's text, to check the jump before asking for it.
    GotoSource { request: Request, thread: ThreadId, line: i64, reference: i64 },
    /// `evaluate` in the `clipboard` context: the untruncated repr, read raw.
    Clipboard { request: Request },
    /// Where the debuggee says a function breakpoint's function is (its DAP id).
    FunctionLookup { id: i64 },
}

/// What answered a work item.
#[derive(Debug)]
pub(super) enum WorkAnswer {
    Value(PyObject),
    Failed(String),
    Children(Vec<Child>),
}

impl Session {
    /// Answers a waiter that will get no result.
    pub(super) async fn fail_waiter(&mut self, waiter: Waiter, message: &str) {
        match waiter {
            Waiter::Evaluate { request, quiet, .. } => {
                let error = if quiet {
                    RequestError::quiet(message)
                } else {
                    RequestError { message: message.to_string(), blame: Blame::Debuggee }
                };
                self.answer(&request, Err(error)).await;
            }
            Waiter::Children { request, .. }
            | Waiter::Exit { request }
            | Waiter::Assign { request, .. }
            | Waiter::AssignRead { request, .. }
            | Waiter::Source { request, .. }
            | Waiter::Clipboard { request }
            | Waiter::GotoSource { request, .. } => {
                self.answer(&request, Err(RequestError { message: message.to_string(), blame: Blame::Debuggee })).await;
            }
            Waiter::Completions { request, .. } => {
                // Nothing to offer (an unknown name before the dot, a running program).
                tracing::debug!(%message, "completions failed");
                self.answer(&request, Ok(Some(CompletionsResponseBody::default().into()))).await;
            }
            Waiter::Log { thread, source, line, started } => {
                let text = format!("Logpoint error: {message}\n");
                self.log_output(&text, source, line).await;
                self.finish_logpoint(thread, started).await;
            }
            Waiter::AttachBreak { index } => self.attach_break_result(index, Err(message.to_string())).await,
            Waiter::FunctionLookup { id } => {
                // Boxed: answering may send, and a failed send fails waiters again.
                Box::pin(self.on_function_lookup(id, Err(format!("The debuggee could not look it up: {message}."))))
                    .await;
            }
            Waiter::SilentProbe { thread } => self.threads.mark_running(thread),
            Waiter::Probe { thread, stop, .. } => {
                tracing::debug!(%message, ?stop, "the probe says the thread runs: the stop was stale");
                self.threads.mark_running(thread);
            }
        }
    }

    /// The answer to a work item (or batch) arrived.
    pub(super) async fn on_work_answer(&mut self, finished: Finished<Waiter>, answer: WorkAnswer) {
        let Finished { thread, mut items, batch, retried } = finished;
        if batch {
            let values: Option<Vec<PyObject>> = match &answer {
                WorkAnswer::Children(children) => {
                    let items_only: Vec<&Child> = children.iter().filter(|c| c.name.starts_with('[')).collect();
                    (items_only.len() == items.len()
                        && items_only.iter().enumerate().all(|(i, c)| c.name == format!("[{i}]")))
                    .then(|| items_only.into_iter().map(|c| c.value.clone()).collect())
                }
                _ => None,
            };
            match values {
                Some(values) => {
                    for ((job, waiter), value) in items.into_iter().zip(values) {
                        self.on_work_value(thread, job, waiter, value).await;
                    }
                }
                None => {
                    // The tuple raised (or could not be read): one at a time, so each
                    // error belongs to its own expression.
                    let deadline = Instant::now() + self.request_timeout();
                    self.work.unbatch(thread, items, deadline);
                }
            }
            return;
        }
        let Some((job, waiter)) = items.pop() else { return };
        let refused = match &answer {
            WorkAnswer::Failed(text) => text.contains("previous evaluation has not completed"),
            WorkAnswer::Children(children) => children.is_empty() && matches!(waiter, Waiter::Children { .. }),
            WorkAnswer::Value(_) => false,
        };
        if refused && !retried {
            tracing::debug!(thread, "ptvsd refused a work item while finishing the previous one; sending it again");
            let deadline = Instant::now() + self.request_timeout();
            self.work.retry(thread, job, waiter, deadline);
            return;
        }
        match answer {
            WorkAnswer::Value(value) => self.on_work_value(thread, job, waiter, value).await,
            WorkAnswer::Failed(text) => {
                if text.contains("cannot be evaluated at this time") && !matches!(waiter, Waiter::Probe { .. }) {
                    // ptvsd found the thread not parked: it is running.
                    self.threads.mark_running(thread);
                }
                // `KeyError: 'k'`, not ptvsd's bare `'k'` (`repairs::NAME_EXCEPTIONS_BODY`);
                // the REPL also shows the traceback.
                let failure = repairs::evaluation_failure(&text);
                if let (Waiter::Evaluate { repl: true, .. }, Some(traceback)) = (&waiter, &failure.traceback) {
                    self.output("stderr", traceback).await;
                }
                self.fail_waiter(waiter, &failure.summary).await;
            }
            WorkAnswer::Children(children) => match waiter {
                Waiter::Children { request, shape, frame, hex } => {
                    let body = self.handles.children_body(frame, &shape, children, hex);
                    self.answer(&request, Ok(Some(body.into()))).await;
                }
                other => self.fail_waiter(other, "the debuggee sent unexpected children").await,
            },
        }
    }

    async fn on_work_value(&mut self, _thread: ThreadId, _job: Job, waiter: Waiter, value: PyObject) {
        match waiter {
            Waiter::Probe { thread, stop, top } => {
                self.threads.confirm_stopped(thread);
                if top.is_some() && self.top_frame(thread) != top {
                    // ptvsd ran the probe only when the thread blocked again elsewhere (a
                    // silent stop after the resume): the report itself was stale.
                    tracing::debug!(thread, ?top, now = ?self.top_frame(thread), "the probe ran at a later silent stop: the report was stale");
                    if self.threads.silent_stop_strands() && !self.stepping.resume_all_queued() {
                        self.release(Release::FreeSilent);
                    }
                    return;
                }
                tracing::debug!(thread, "the probe says the thread is parked: a new stop");
                self.on_stop(*stop).await;
            }
            Waiter::SilentProbe { thread } => {
                self.threads.confirm_stopped(thread);
                if self.threads.silent_stop_strands() && !self.stepping.resume_all_queued() {
                    tracing::debug!(thread, "a thread parked with no stop event after a resume: freeing it");
                    self.release(Release::FreeSilent);
                }
            }
            Waiter::AttachBreak { index } => self.attach_break_result(index, Ok(value)).await,
            other => self.on_execution_result(other, value).await,
        }
    }

    pub(super) async fn on_execution_result(&mut self, waiter: Waiter, value: PyObject) {
        match waiter {
            Waiter::Evaluate { request, expression, frame, hex, .. } => {
                let body = self.handles.evaluate_body(frame, &expression, &value, hex);
                self.answer(&request, Ok(Some(body.into()))).await;
            }
            Waiter::Log { thread, source, line, started } => {
                let text = format!("{}\n", value.repr.unwrap_or_default());
                self.log_output(&text, source, line).await;
                self.finish_logpoint(thread, started).await;
            }
            Waiter::Assign { request, target, frame, hex, kind } => {
                if let Err(error) = self.read_back(&request, target, frame, hex, kind) {
                    self.answer(&request, Err(error)).await;
                }
            }
            Waiter::AssignRead { request, target, frame, hex, kind } => {
                let body = self.handles.assigned_body(kind, frame, &target, &value, hex);
                self.answer(&request, Ok(Some(body))).await;
            }
            Waiter::Source { request, reference } => {
                let content = value.repr.unwrap_or_default();
                self.sources.set_content(reference, content.clone());
                self.answer(
                    &request,
                    Ok(Some(SourceResponseBody { content, mime_type: Some("text/x-python".to_owned()) }.into())),
                )
                .await;
            }
            Waiter::GotoSource { request, thread, line, reference } => {
                self.sources.set_content(reference, value.repr.unwrap_or_default());
                if let Err(error) = self.checked_goto(&request, thread, line, reference).await {
                    self.answer(&request, Err(error)).await;
                }
            }
            Waiter::Completions { request, target } => {
                let body = super::evaluation::completions_body(self.editor.client().first_column(), &target, &value);
                self.answer(&request, Ok(Some(body.into()))).await;
            }
            Waiter::Clipboard { request } => {
                let body = clipboard_body(value);
                self.answer(&request, Ok(Some(body.into()))).await;
            }
            Waiter::FunctionLookup { id } => {
                let answer =
                    value.repr.ok_or_else(|| "The debuggee gave no answer to the function lookup.".to_string());
                self.on_function_lookup(id, answer).await;
            }
            other @ (Waiter::Children { .. }
            | Waiter::Exit { .. }
            | Waiter::Probe { .. }
            | Waiter::SilentProbe { .. }
            | Waiter::AttachBreak { .. }) => {
                self.fail_waiter(other, "the debuggee sent an unexpected evaluation result").await;
            }
        }
    }
}
