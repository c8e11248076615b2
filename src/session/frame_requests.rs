//! The debugpy-parity features beside evaluation: logpoints, handler queries (REQH),
//! exception details, sources read through the debuggee, modules and loaded sources, and
//! set next statement. Each builds on `exec` in a stopped frame (spec §3.8) or on state
//! the session already keeps; the pure parts live in `logpoints`, `exceptions`, `sources`
//! and `jumps`. (`evaluate`, `setVariable`/`setExpression` and `completions` are
//! `evaluation`'s.) The state they keep belongs to components: the handler queries
//! outstanding and the last exception stop to `exceptions::Exceptions`, the `goto`
//! waiting for its reply and the logpoints being logged to `stepping::Stepping`.

use std::path::Path;

use tokio::time::Instant;

use super::exceptions::{format_traceback, is_library_path, parse_trace_line, TraceEntry};
use super::logpoints::{self, py_literal};
use super::requests::{file_name, is_frozen};
use super::sources::MAX_REMOTE_SOURCE;
use super::stepping::GotoWait;
use super::stepping::Release;
use super::work::Job;
use super::{Handled, Reply, Session, Waiter};
use crate::dap::bodies::{
    ExceptionBreakMode, ExceptionDetails, ExceptionInfoResponseBody, GotoTarget, GotoTargetsResponseBody,
    LoadedSourcesResponseBody, Module, ModuleId, ModulesResponseBody, OutputEventBody, Source, SourcePresentationHint,
    SourceResponseBody,
};
use crate::dap::requests::{
    ExceptionInfoArguments, GotoArguments, GotoTargetsArguments, ModulesArguments, SourceArguments,
};
use crate::dap::types::Request;
use crate::legacy::messages::{Command, FrameKind, ReprKind, ThreadId};

/// CPython from this version on cannot set the next statement from ptvsd's thread, and
/// binary ptvsd deadlocks trying (spec §5.3).
const GOTO_UNSUPPORTED_FROM: (i64, i64) = (3, 11);

/// The expression that reads a debuggee file as text (UTF-8, bad bytes replaced), at most
/// [`MAX_REMOTE_SOURCE`] bytes, closing it again; the same on Python 2.7 and 3.x.
fn read_file_expression(remote: &str) -> String {
    format!(
        "(lambda f: (f.read({MAX_REMOTE_SOURCE}).decode('utf-8', 'replace'), f.close())[0])(__import__('io').open({}, 'rb'))",
        py_literal(remote)
    )
}

/// Line `line` (1-based) of a local file, if it can be read (for tracebacks).
fn local_line(path: &str, line: i64) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > super::try_ranges::MAX_SOURCE_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    text.lines().nth(usize::try_from(line).ok()?.checked_sub(1)?).map(|l| l.trim().to_string())
}

impl Session {
    fn to_local(&self, remote: &str) -> String {
        self.config.as_ref().map(|c| c.paths.to_local(remote)).unwrap_or_else(|| remote.to_string())
    }

    pub(super) fn just_my_code(&self) -> bool {
        self.config.as_ref().is_none_or(|c| c.just_my_code)
    }

    /// The DAP source of a debuggee file: its local path when that file exists, a
    /// `sourceReference` (text fetched through the debuggee) when it does not, and only a
    /// name for `<frozen …>` modules, which have no file.
    /// The DAP source of a debuggee file: its local copy, or a `sourceReference` the
    /// editor reads through the debuggee.
    pub(super) fn source_body(&mut self, remote: &str) -> Source {
        if is_frozen(remote) {
            let name = remote.rfind("<frozen ").map(|i| &remote[i..]).unwrap_or(remote);
            return Source {
                name: Some(name.to_owned()),
                presentation_hint: Some(SourcePresentationHint::Deemphasize),
                ..Source::default()
            };
        }
        let local = self.to_local(remote);
        if Path::new(&local).is_file() {
            return Source { name: Some(file_name(&local).to_owned()), path: Some(local), ..Source::default() };
        }
        let reference = self.sources.reference(remote);
        Source {
            name: Some(file_name(remote).to_owned()),
            source_reference: Some(reference),
            origin: Some("read from the debuggee".to_owned()),
            ..Source::default()
        }
    }

    pub(super) fn module_body(&mut self, id: i64, remote: &str) -> Module {
        let local = self.to_local(remote);
        let name = file_name(&local).to_string();
        let is_user_code = self.just_my_code().then(|| !is_library_path(remote));
        Module { id: ModuleId::Number(id), name, path: Some(local), is_user_code, ..Module::default() }
    }

    // ---- handler queries (REQH) -------------------------------------------------------

    /// Answers ptvsd's "which lines of this file handle exceptions" query off the session
    /// loop (the file may be large), from the local copy of the file; the raising thread
    /// in the debuggee waits until then (spec §3.5). Library files (standard library,
    /// installed packages, frozen modules) declare no handlers when `userUnhandled` is on,
    /// so an exception that escapes the user's code into them counts as unhandled.
    /// The caller counts the query as outstanding (`Exceptions::handler_query`) first: the detach
    /// waits for its answer.
    pub(super) fn answer_handler_query(&mut self, file: String) {
        let library = self.just_my_code() && is_library_path(&file);
        let no_handlers = library && self.exceptions.settings().user_unhandled;
        let local = if is_frozen(&file) { None } else { Some(self.to_local(&file)) };
        let generation = self.connection.generation();
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let file_for_task = file.clone();
            let statements = if no_handlers {
                Vec::new()
            } else {
                tokio::task::spawn_blocking(move || super::try_ranges::answer_for_file(local.as_deref().map(Path::new)))
                    .await
                    .unwrap_or_else(|_| super::try_ranges::whole_file())
            };
            tracing::debug!(file = %file_for_task, statements = statements.len(), "answering a handler query");
            let _ = inputs.send(super::Input::Handlers { generation, file, statements }).await;
        });
    }

    /// A handler query an earlier debugger left unanswered (the stale-query probe in
    /// `repairs` found a thread parked on it): answered like a live one, so the thread
    /// runs on with the right handlers — unless ptvsd asked it on this connection (then
    /// it is that live query, answered once). Counted as outstanding like one ptvsd sent,
    /// so the detach waits for its answer too.
    pub(super) fn answer_stale_handler_query(&mut self, file: String) {
        if self.exceptions.stale_handler_query(&file) {
            tracing::info!(%file, "answering a handler query an earlier debugger left unanswered");
            self.answer_handler_query(file);
        }
    }

    // ---- results of exec ------------------------------------------------------------

    // ---- logpoints --------------------------------------------------------------------

    /// A logpoint was hit: ptvsd has stopped the program. Evaluate the message in one
    /// `exec` on the thread (none when it has no `{expression}`), print it, resume.
    pub(super) async fn log_point(&mut self, thread: ThreadId, local_path: &str, line: i64, message: &str) {
        let started = Instant::now();
        let source = Source {
            name: Some(file_name(local_path).to_owned()),
            path: Some(local_path.to_owned()),
            ..Source::default()
        };
        let parts = logpoints::parse(message);
        self.stepping.start_logging();
        if let Some(text) = logpoints::plain_text(&parts) {
            self.log_output(&format!("{text}\n"), source, line).await;
            self.finish_logpoint(thread, started).await;
            return;
        }
        let kind = self.threads.top_frame_kind(thread);
        // Raw: the whole string; a normal repr is quoted and cut at 65 536 characters.
        let job = Job::execute(logpoints::expression(&parts), 0, kind, ReprKind::Raw);
        self.queue_work(thread, job, Waiter::Log { thread, source, line, started });
    }

    pub(super) async fn log_output(&mut self, text: &str, source: Source, line: i64) {
        let line = self.editor.client().line_to_editor(line);
        let output = OutputEventBody {
            category: Some("console".to_owned()),
            output: text.to_owned(),
            source: Some(source),
            line: Some(line),
            ..OutputEventBody::default()
        };
        self.send_event(&output).await;
    }

    /// One logpoint is done. When none is left: resume the program (clearing the step
    /// mode ptvsd keeps when a step lands on a breakpoint, spec §4.5) — or, if the user
    /// was stepping this thread, report the step as done there; and nothing if a real
    /// stop was reported meanwhile.
    pub(super) async fn finish_logpoint(&mut self, thread: ThreadId, started: Instant) {
        let Some(hold) = self.stepping.finish_logging() else { return };
        tracing::debug!(elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, hold, "logpoint done");
        if hold || !self.connection.is_up() || self.stop_on_display(thread) {
            return;
        }
        let stopped = self.threads.get(thread).is_some_and(|t| t.is_stopped());
        match self.stepping.step() {
            Some(s) if s.thread == thread => {
                // The step landed on the logpoint: report the step as done there.
                self.report_stop(thread, "step", None, vec![]).await;
                return;
            }
            // The logpoint's stop cancelled a step of another thread (spec §4.5), which
            // stopped with it: step it again from where it is.
            Some(s) if self.threads.get(s.thread).is_some_and(|t| t.is_stopped()) => {
                self.release(Release::AutoStep {
                    stepping: s,
                    kind: s.kind,
                    clear_stepping: stopped.then_some(thread),
                });
                return;
            }
            _ => {}
        }
        self.release(Release::Resume { clear_stepping: stopped.then_some(thread) });
    }

    /// Whether a thread other than `thread` has a stop the editor was told about: then the
    /// adapter must not resume the program on its own.
    pub(super) fn stop_on_display(&self, thread: ThreadId) -> bool {
        self.threads.iter().any(|(t, info)| t != thread && info.is_stopped() && info.stop_reason.is_some())
    }

    // ---- setVariable / setExpression --------------------------------------------------

    // ---- exceptionInfo ----------------------------------------------------------------

    pub(super) fn exception_info(&mut self, args: ExceptionInfoArguments) -> Handled {
        let Some(record) = self.exceptions.last_stop_on(args.thread_id) else {
            return Err(format!("thread {} did not stop on an exception", args.thread_id).into());
        };
        let stop = &record.stop;
        let trace: Vec<TraceEntry> =
            stop.trace.as_deref().map(|t| t.lines().filter_map(parse_trace_line).collect()).unwrap_or_default();
        // The trace holds the frames the exception has unwound so far, starting with the
        // current frame (spec §3.6); the rest of the stack comes from the frame list. The
        // old EXCP form has no trace: the whole stack comes from the frame list.
        let skip = usize::from(!trace.is_empty());
        let outer: Vec<TraceEntry> = record
            .stack
            .iter()
            .skip(skip)
            .rev()
            .map(|(file, line, function)| TraceEntry {
                file: file.clone(),
                line: *line,
                function: function.clone(),
                text: local_line(&self.to_local(file), *line),
            })
            .collect();
        let stack_trace = format_traceback(&outer, &trace, &stop.type_name, &stop.message, |p| self.to_local(p));
        let details = ExceptionDetails {
            message: Some(stop.message.clone()),
            type_name: Some(stop.type_name.clone()),
            full_type_name: Some(stop.type_name.clone()),
            evaluate_name: stop.exc_value.as_ref().map(|name| format!("{name}['exception']")),
            stack_trace: Some(stack_trace),
            inner_exception: None,
        };
        let break_mode = match stop.unhandled {
            true if self.exceptions.settings().user_unhandled && !self.exceptions.settings().uncaught => {
                ExceptionBreakMode::UserUnhandled
            }
            true => ExceptionBreakMode::Unhandled,
            false => ExceptionBreakMode::Always,
        };
        let answer = ExceptionInfoResponseBody {
            exception_id: stop.type_name.clone(),
            description: Some(stop.message.clone()),
            break_mode,
            details: Some(details),
        };
        Ok(Reply::body(answer))
    }

    // ---- sources and modules ----------------------------------------------------------

    pub(super) async fn source(&mut self, request: &Request, args: SourceArguments) -> Handled {
        let reference =
            args.source.as_ref().and_then(|s| s.source_reference).filter(|r| *r > 0).unwrap_or(args.source_reference);
        if reference <= 0 {
            // A path: the editor could read it itself, but answer if we can.
            let path =
                args.source.and_then(|s| s.path).ok_or("the source request needs a sourceReference or a path")?;
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
            let content = String::from_utf8_lossy(&bytes).into_owned();
            return Ok(Reply::body(SourceResponseBody { content, mime_type: Some("text/x-python".to_owned()) }));
        }
        let remote = self
            .sources
            .path(reference)
            .map(str::to_string)
            .ok_or_else(|| format!("sourceReference {reference} is unknown"))?;
        if let Some(content) = self.sources.content(reference).map(str::to_string) {
            return Ok(Reply::body(SourceResponseBody { content, mime_type: Some("text/x-python".to_owned()) }));
        }
        let thread = self
            .threads
            .any_stopped()
            .ok_or_else(|| format!("{remote} has no local copy and ptvsd can only read it while the program is stopped: pause it, or add a pathMappings entry"))?;
        let kind = self.threads.top_frame_kind(thread);
        // Raw: the whole text, not a repr cut at 65 536 characters (spec §6.3).
        let job = Job::execute(read_file_expression(&remote), 0, kind, ReprKind::Raw);
        self.queue_work(thread, job, Waiter::Source { request: request.clone(), reference });
        Ok(Reply::Later)
    }

    pub(super) fn modules(&mut self, args: ModulesArguments) -> Handled {
        let all: Vec<(i64, String)> = self.sources.modules().iter().map(|m| (m.id, m.remote.clone())).collect();
        let total = all.len();
        let start = usize::try_from(args.start_module.unwrap_or(0).max(0)).unwrap_or(usize::MAX);
        let count = args.module_count.filter(|c| *c > 0).and_then(|c| usize::try_from(c).ok()).unwrap_or(usize::MAX);
        let modules = all.iter().skip(start).take(count).map(|(id, remote)| self.module_body(*id, remote)).collect();
        let total_modules = Some(i64::try_from(total).unwrap_or(i64::MAX));
        Ok(Reply::body(ModulesResponseBody { modules, total_modules }))
    }

    pub(super) fn loaded_sources(&mut self) -> Handled {
        let remotes: Vec<String> = self.sources.modules().iter().map(|m| m.remote.clone()).collect();
        let sources = remotes.iter().map(|r| self.source_body(r)).collect();
        Ok(Reply::body(LoadedSourcesResponseBody { sources }))
    }

    // ---- completions ------------------------------------------------------------------

    // ---- set next statement -----------------------------------------------------------

    /// Refuses set next statement where the runtime cannot do it.
    fn goto_supported(&self) -> Result<(), String> {
        match self.connection.python() {
            None => Err("not attached to a debuggee".to_string()),
            Some(v) if (v.major, v.minor) >= GOTO_UNSUPPORTED_FROM => Err(format!(
                "set next statement is not supported by Python {}.{} (ptvsd cannot move the line there); it works with Python 3.10 and older",
                v.major, v.minor
            )),
            Some(_) => Ok(()),
        }
    }

    pub(super) fn goto_targets(&mut self, args: GotoTargetsArguments) -> Handled {
        self.goto_supported()?;
        let line = args.line + self.editor.client().line_offset();
        if line < 1 {
            return Err("no such line".into());
        }
        // Only the innermost frame of a stopped thread can move, within its own file.
        let path = args.source.path.ok_or("set next statement needs a source with a path")?;
        let remote = self.config.as_ref().map(|c| c.paths.to_remote(&path)).unwrap_or_else(|| path.clone());
        let here = self
            .threads
            .iter()
            .any(|(_, t)| t.is_stopped() && t.frames.first().is_some_and(|f| f.file == remote || f.file == path));
        if !here {
            return Err(
                "set next statement only moves within the function a stopped thread is running (its innermost frame)"
                    .into(),
            );
        }
        let shown = self.editor.client().line_to_editor(line);
        // The target id is the (1-based) line: `goto` checks it against the thread's frame.
        let target = GotoTarget { id: line, label: format!("Line {line}"), line: shown, ..GotoTarget::default() };
        Ok(Reply::body(GotoTargetsResponseBody { targets: vec![target] }))
    }

    /// Set next statement. Every jump is first checked against the running file as the
    /// debuggee has it (read through it once, then cached): binary ptvsd deadlocks for good
    /// when CPython refuses a jump, and CPython takes some jumps that corrupt the frame
    /// (see `jumps`).
    pub(super) async fn goto(&mut self, request: &Request, args: GotoArguments) -> Handled {
        self.goto_supported()?;
        let remote = self
            .threads
            .remote_of(args.thread_id)
            .ok_or_else(|| format!("there is no thread {} (it may have exited)", args.thread_id))?;
        let line = args.target_id;
        let file = self.goto_frame_file(remote)?;
        if self.stepping.goto_waits_on(remote)
            || self.work.any(|w| matches!(w, Waiter::GotoSource { thread, .. } if *thread == remote))
        {
            return Err("set next statement is already in progress on this thread".into());
        }
        let reference = self.sources.reference(&file);
        if self.sources.content(reference).is_some() {
            return self.checked_goto(request, remote, line, reference).await;
        }
        let job = Job::execute(read_file_expression(&file), 0, FrameKind::Python, ReprKind::Raw);
        self.queue_work(remote, job, Waiter::GotoSource { request: request.clone(), thread: remote, line, reference });
        Ok(Reply::Later)
    }

    /// The debuggee's path of the innermost frame of a thread that can jump.
    fn goto_frame_file(&self, thread: ThreadId) -> Result<String, String> {
        let info = self
            .threads
            .get(thread)
            .filter(|t| t.is_stopped())
            .ok_or("the thread is running: set next statement needs a stopped thread")?;
        if info.stop_reason.as_deref().is_some_and(|r| !matches!(r, "breakpoint" | "step" | "pause" | "goto")) {
            return Err("set next statement works after a breakpoint, a step or a pause, not while stopped on an exception or at the attach break".into());
        }
        let top = info.frames.first().ok_or("the thread has no frames")?;
        if top.kind != FrameKind::Python || is_frozen(&top.file) {
            return Err("set next statement works only in Python source files".into());
        }
        Ok(top.file.clone())
    }

    /// Checks the jump against the cached text of the running file, then asks for it.
    pub(super) async fn checked_goto(
        &mut self,
        request: &Request,
        thread: ThreadId,
        line: i64,
        reference: i64,
    ) -> Handled {
        let file = self.goto_frame_file(thread)?;
        if self.sources.path(reference) != Some(file.as_str()) {
            return Err("the thread has moved to another file".into());
        }
        let current = self.threads.get(thread).and_then(|t| t.frames.first()).map(|f| f.line).unwrap_or(0);
        let source = self.sources.content(reference).unwrap_or_default();
        super::jumps::check_jump(source, current, line).map_err(|why| format!("cannot move to line {line}: {why}"))?;
        if self.work.in_flight_on(Some(thread)).is_some() {
            return Err("an evaluation is still running on this thread; try again".into());
        }
        // ptvsd moves the innermost frame of the thread (spec §3.2).
        self.send(Command::SetLineNumber { thread, frame: 0, line }).await?;
        let deadline = Instant::now() + self.request_timeout();
        self.stepping.wait_for_goto(GotoWait { request: request.clone(), thread, line, deadline });
        Ok(Reply::Later)
    }

    pub(super) async fn on_set_line(&mut self, ok: bool, thread: ThreadId, line: i64) {
        let Some(GotoWait { request, line: wanted, .. }) = self.stepping.take_goto_on(thread) else {
            return;
        };
        if !ok {
            self.answer(&request, Err(format!("Python could not move to line {wanted} (a jump into or out of a block such as a loop or try, or a line without code)").into())).await;
            return;
        }
        // ptvsd sends no new frame list: move the top frame ourselves.
        self.threads.moved_to_line(thread, line);
        self.handles.clear();
        self.answer(&request, Ok(None)).await;
        self.report_stop(thread, "goto", None, vec![]).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::read_file_expression;

    /// The file-reading expression returns the whole text of a file whose name needs
    /// escaping, in a real CPython.
    #[test]
    fn read_file_expression_reads_tricky_names_in_real_python() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("it's a \"file\" é.py");
        let text = "x = 'é'\n".repeat(10_000);
        std::fs::write(&path, &text).unwrap();
        let literal = super::py_literal(&path.to_string_lossy());
        let code = format!("import io, sys\nv = {}\nsys.stdout.write(str(len(v)) + ' ' + str(v == io.open({literal}, encoding='utf-8').read()))", read_file_expression(&path.to_string_lossy()));
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(&code)
            .output()
            .expect("python3 is needed for this test");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{} True", text.chars().count()),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
