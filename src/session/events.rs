//! ptvsd's events: each one updates a component and becomes zero or more DAP events;
//! the answer to a work item goes to its waiter (`waiters`).
//!
//! Stop reports (BRKH, STPD, ASBR, EXC2/EXCP, LOAD) first pass the thread-state rule
//! (`threads`): a stop after the fence is new; one before the fence reply is settled by
//! the `exec "0"` probe, and only a proven stop is acted on (`on_stop`).

use tokio::time::Instant;

use super::breakpoints::BindState;
use super::exceptions::{ExceptionRecord, Stack};
use super::lifecycle::{AfterRepairs, AttachBreak, Phase};
use super::repairs::attach_break_evaluations;
use super::requests::is_frozen;
use super::stepping::Release;
use super::stepping::StepKind;
use super::threads::StopVerdict;
use super::waiters::WorkAnswer;
use super::work::Job;
use super::{Session, Waiter};
use crate::dap::bodies::{
    BreakpointEventBody, LoadedSourceEventBody, LoadedSourceEventReason, ModuleEventBody, ModuleEventReason,
    StoppedEventBody, ThreadEventBody,
};
use crate::legacy::messages::{
    Command, Event, ExceptionStop, FailedCommand, OutputChannel, PyObject, ReprKind, ThreadId,
};

/// At most this many steps are added to get out of `<frozen …>` code after one step.
const MAX_AUTO_STEPS: u32 = 20;

/// The thread a stop report is about.
fn stop_thread(event: &Event) -> Option<ThreadId> {
    match event {
        Event::ProcessLoad { thread }
        | Event::BreakpointHit { thread, .. }
        | Event::StepDone { thread }
        | Event::AsyncBreak { thread } => Some(*thread),
        Event::Exception(stop) => Some(stop.thread),
        _ => None,
    }
}

impl Session {
    pub(super) async fn on_event(&mut self, event: Event) {
        match &event {
            // The bulky ones (every module, every output line, children) at trace level.
            Event::ModuleLoad { .. }
            | Event::Output { .. }
            | Event::Children { .. }
            | Event::FrameList { .. }
            | Event::ExecutionResult { .. } => {
                tracing::trace!(?event, "ptvsd →");
            }
            _ => tracing::debug!(?event, "ptvsd →"),
        }
        if let Some(thread) = stop_thread(&event) {
            self.on_stop_report(thread, event).await;
            return;
        }
        match event {
            Event::ThreadCreate { thread } => {
                let (id, new) = self.threads.ensure(thread);
                if new {
                    self.send_event(&ThreadEventBody { reason: "started".to_owned(), thread_id: id }).await;
                }
            }
            Event::ThreadExit { thread } => {
                for waiter in self.work.drain_queued(thread) {
                    self.fail_waiter(waiter, "the thread has exited").await;
                }
                if let Some(id) = self.threads.remove(thread) {
                    self.send_event(&ThreadEventBody { reason: "exited".to_owned(), thread_id: id }).await;
                }
            }
            Event::ModuleLoad { module_id, file } => {
                // ptvsd reports a file again under new ids (several imports, and every
                // re-attach): one module per path.
                if !self.sources.add_module(module_id, &file) {
                    return;
                }
                let module =
                    ModuleEventBody { reason: ModuleEventReason::New, module: self.module_body(module_id, &file) };
                self.send_event(&module).await;
                let source =
                    LoadedSourceEventBody { reason: LoadedSourceEventReason::New, source: self.source_body(&file) };
                self.send_event(&source).await;
            }
            Event::ModulesChanged | Event::Unknown { .. } => {}
            Event::FrameList { thread, name, frames } => {
                // Never changes whether a thread is stopped (threads module doc).
                let (new, stopping) = self.threads.frame_list(thread, name, frames);
                if stopping && self.threads.silent_stop_strands() {
                    // It may park with no event (a silent stop after a resume); asked in
                    // `pump` unless its stop event came in the same burst.
                    self.stepping.suspect(thread);
                }
                if new {
                    if let Some(id) = self.threads.get(thread).map(|t| t.dap_id) {
                        self.send_event(&ThreadEventBody { reason: "started".to_owned(), thread_id: id }).await;
                    }
                }
            }
            Event::BreakpointSet { id } => self.on_bind(id, BindState::Bound).await,
            Event::BreakpointFailed { id } => self.on_bind(id, BindState::Pending).await,
            Event::RequestHandlers { file } => {
                self.exceptions.handler_query(&file);
                self.answer_handler_query(file);
            }
            Event::ExecutionResult { execution_id, value } => {
                if let Some(finished) = self.work.finish(execution_id) {
                    self.on_work_answer(finished, WorkAnswer::Value(value)).await;
                }
            }
            Event::ExecutionException { execution_id, text } => {
                if let Some(finished) = self.work.finish(execution_id) {
                    self.on_work_answer(finished, WorkAnswer::Failed(text)).await;
                }
            }
            Event::Children { execution_id, children } => {
                if let Some(finished) = self.work.finish(execution_id) {
                    self.on_work_answer(finished, WorkAnswer::Children(children)).await;
                }
            }
            Event::SetLineResult { ok, thread, line } => self.on_set_line(ok, thread, line).await,
            Event::BreakpointHitCount { request_id, .. } => {
                if let Some(request) = self.exceptions.applied(request_id) {
                    self.answer(&request, Ok(None)).await;
                }
                if self.threads.fence_reply(request_id) {
                    tracing::trace!(request_id, "fence passed: later stops are new");
                    // A `pause` that came while the resume was not yet processed.
                    self.send_due_break_all().await;
                }
            }
            Event::Output { text, channel, .. } => {
                if self.config.as_ref().is_some_and(|c| c.redirect_output) {
                    let category = match channel {
                        OutputChannel::Stdout => "stdout",
                        OutputChannel::Stderr => "stderr",
                        OutputChannel::Debug => "console",
                        OutputChannel::Unknown => "stdout",
                    };
                    self.program_output(category, &text).await;
                }
            }
            Event::Detach => {
                if matches!(self.lifecycle.phase(), Phase::Detaching(d) if d.sent) {
                    self.on_detach_confirmed().await;
                } else {
                    // ptvsd's atexit hook: the program is ending (spec §4.7).
                    self.lifecycle.program_said_goodbye();
                }
            }
            Event::Last => {
                let _ = self.send(Command::LastAck).await;
            }
            Event::CommandFailed { command, message } => self.on_command_failed(command, message).await,
            Event::ProcessLoad { .. }
            | Event::BreakpointHit { .. }
            | Event::StepDone { .. }
            | Event::AsyncBreak { .. }
            | Event::Exception(_) => {}
        }
    }

    async fn on_command_failed(&mut self, command: FailedCommand, message: String) {
        tracing::debug!(?command, %message, "ptvsd reported a failed request");
        let last_line = message.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string());
        match command {
            FailedCommand::Attach => {
                // ptvsd answered `accepted` and then failed attaching (e.g. "dictionary
                // changed size during iteration" over sys.modules); it closes next.
                self.lifecycle.attach_failed(last_line.unwrap_or_else(|| "an error".to_string()));
            }
            FailedCommand::Execute { execution_id } | FailedCommand::EnumChildren { execution_id } => {
                let id = execution_id.or_else(|| self.work.in_flight_on(None));
                if let Some(finished) = id.and_then(|id| self.work.finish(id)) {
                    let text = last_line.unwrap_or_else(|| "the debuggee could not run the request".to_string());
                    self.on_work_answer(finished, WorkAnswer::Failed(text)).await;
                }
            }
            FailedCommand::SetLineNumber => {
                if let Some(goto) = self.stepping.take_goto() {
                    let text = last_line.unwrap_or_else(|| "the debuggee could not move the line".to_string());
                    self.answer(&goto.request, Err(text.into())).await;
                }
            }
            FailedCommand::Detach | FailedCommand::Other(_) => {}
        }
    }

    // ---- stops -------------------------------------------------------------------------

    /// A stop report: new (act on it), or ambiguous (probe first). Threading doc §2.3.
    async fn on_stop_report(&mut self, thread: ThreadId, event: Event) {
        self.threads.ensure(thread);
        match self.threads.verdict_for(thread, matches!(event, Event::StepDone { .. })) {
            StopVerdict::New => {
                self.threads.confirm_stopped(thread);
                self.on_stop(event).await;
            }
            StopVerdict::Ambiguous => {
                tracing::debug!(thread, "a stop report before the fence: asking ptvsd whether the thread is parked");
                self.threads.start_probe(thread);
                let kind = self.threads.top_frame_kind(thread);
                let deadline = Instant::now() + self.request_timeout();
                let probe = Job::execute("0".to_string(), 0, kind, ReprKind::Normal);
                let top = self.top_frame(thread);
                self.work.push_front(thread, probe, Waiter::Probe { thread, stop: Box::new(event), top }, deadline);
            }
        }
    }

    /// A proven stop (the thread is parked in the current generation).
    pub(super) async fn on_stop(&mut self, event: Event) {
        // A stop with its event is not a silent park: a `FreeSilent` queued by a silent
        // probe answered just before (the thread parked again after a step, and its frame
        // list came before this report) would resume this stop away, also when it is not
        // reported but stepped on (past frozen code).
        self.stepping.forget_free_silent();
        match event {
            Event::ProcessLoad { thread } => {
                if let AttachBreak::Awaited { .. } = self.lifecycle.attach_break() {
                    let stop_on_entry = self.config.as_ref().is_some_and(|c| c.stop_on_entry);
                    if self.lifecycle.is_running() {
                        let then = if stop_on_entry { AfterRepairs::Report } else { AfterRepairs::Release };
                        self.run_attach_break(thread, then);
                    } else {
                        // Held until configurationDone, so breakpoints are in place first.
                        self.lifecycle.hold_attach_break(thread);
                    }
                } else {
                    // A second attach break (ptvsd sends one per attach): release it.
                    self.release(Release::Resume { clear_stepping: None });
                }
            }
            Event::BreakpointHit { id, thread } => {
                if self.on_entry_breakpoint(id, thread).await {
                    return;
                }
                if let Some(function) = self.function_breakpoint_of_site(id) {
                    self.report_stop(thread, "function breakpoint", None, vec![function]).await;
                    return;
                }
                let Some((local_path, b)) = self.breakpoints.source.find(id).map(|(p, b)| (p.to_string(), b.clone()))
                else {
                    // A stale breakpoint from an earlier session (spec §4.8): resume it.
                    tracing::info!(id, "resuming a hit of an unknown breakpoint");
                    self.release(Release::ResumeThread(thread));
                    return;
                };
                if let Some(message) = b.log_message.as_deref().filter(|m| !m.is_empty()) {
                    self.log_point(thread, &local_path, b.line, message).await;
                    return;
                }
                self.report_stop(thread, "breakpoint", None, vec![id]).await;
            }
            Event::StepDone { thread } => {
                if self.step_out_of_frozen(thread) {
                    return;
                }
                self.report_stop(thread, "step", None, vec![]).await;
            }
            Event::AsyncBreak { thread } => {
                if self.threads.already_reported() {
                    // A second ASBR of one pause (3.2.1 can send two): the editor already
                    // shows every thread stopped.
                    tracing::debug!(thread, "a second stop report of one pause; not reported again");
                    return;
                }
                self.report_stop(thread, "pause", None, vec![]).await;
            }
            Event::Exception(stop) => self.on_exception(stop).await,
            _ => {}
        }
    }

    async fn on_bind(&mut self, id: i64, state: BindState) {
        let Some((local_path, b)) = self.breakpoints.source.mark(id, state) else {
            self.on_function_site_bind(id, state).await;
            return;
        };
        // A setBreakpoints waiting for this id answers once all its ids are known.
        let (answered, done) = self.breakpoints.bound(id);
        for wait in done {
            self.answer_breakpoints(wait.request, &wait.local_path).await;
        }
        if !answered {
            let breakpoint =
                BreakpointEventBody { reason: "changed".to_owned(), breakpoint: self.breakpoint_body(&local_path, &b) };
            self.send_event(&breakpoint).await;
        }
    }

    async fn on_exception(&mut self, stop: ExceptionStop) {
        let thread = stop.thread;
        let stack: Stack = self
            .threads
            .get(thread)
            .map(|t| t.frames.iter().map(|f| (f.file.clone(), f.line, f.function.clone())).collect())
            .unwrap_or_default();
        // A re-report of the last exception in a frame it unwinds through (`Exceptions::on_raise`).
        let unwinding = self.exceptions.on_raise(&stop, &stack);
        let re_report = !stop.unhandled && unwinding;
        // On 3.11 frozen stdlib modules count as user code (spec §5.3): with justMyCode an
        // exception stop inside one is library noise (os.path.exists raising and catching).
        let just_my_code = self.just_my_code();
        let in_frozen =
            just_my_code && self.threads.get(thread).and_then(|t| t.frames.first()).is_some_and(|f| is_frozen(&f.file));
        if re_report || in_frozen {
            // Not while a logpoint is being evaluated (it resumes) or a stop is shown.
            if !self.stepping.logging() && !self.stop_on_display(thread) {
                self.release(Release::Resume { clear_stepping: None });
            }
            return;
        }
        let description = if stop.message.is_empty() {
            stop.type_name.clone()
        } else {
            format!("{}: {}", stop.type_name, stop.message)
        };
        let dap_thread = self.threads.get(thread).map(|t| t.dap_id).unwrap_or(0);
        self.exceptions.record_stop(ExceptionRecord { dap_thread, stop, stack });
        self.report_stop(thread, "exception", Some(description), vec![]).await;
    }

    /// Keeps `<frozen …>` code (3.11's frozen stdlib, which ptvsd counts as user code, spec
    /// §5.3) out of stepping, with justMyCode: a step that ends in it steps out again; once
    /// back in user code, a step in goes on stepping in (into the next call on the line, or
    /// to the next line), as if the frozen call had been stepped over. Bounded; returns
    /// whether it stepped again instead of letting the stop be reported.
    fn step_out_of_frozen(&mut self, thread: ThreadId) -> bool {
        let just_my_code = self.just_my_code();
        let Some(mut stepping) = self.stepping.step().filter(|s| s.thread == thread) else { return false };
        let frozen = self.threads.get(thread).and_then(|t| t.frames.first()).is_some_and(|f| is_frozen(&f.file));
        if !just_my_code || stepping.auto_steps >= MAX_AUTO_STEPS {
            return false;
        }
        let next = if frozen {
            StepKind::Out
        } else if stepping.leaving_frozen && stepping.kind == StepKind::In {
            StepKind::In
        } else {
            return false;
        };
        stepping.auto_steps += 1;
        stepping.leaving_frozen = frozen;
        tracing::debug!(auto_steps = stepping.auto_steps, ?next, "stepping past frozen code");
        self.release(Release::AutoStep { stepping, kind: next, clear_stepping: None });
        true
    }

    /// The innermost frame of a thread's last frame list: (file, line).
    pub(super) fn top_frame(&self, thread: ThreadId) -> Option<(String, i64)> {
        self.threads.get(thread).and_then(|t| t.frames.first()).map(|f| (f.file.clone(), f.line))
    }

    // ---- the attach break ---------------------------------------------------------------

    /// Queues the attach-break evaluations (`repairs`) on the stopped thread, ahead of
    /// anything else for it; `then` says what happens to the stop once they are done.
    pub(super) fn run_attach_break(&mut self, thread: ThreadId, then: AfterRepairs) {
        let evaluations = attach_break_evaluations();
        let deadline = Instant::now() + self.request_timeout();
        let kind = self.threads.top_frame_kind(thread);
        self.lifecycle.start_repairs(thread, then, evaluations.len());
        for (index, evaluation) in evaluations.into_iter().enumerate().rev() {
            self.work.push_front(thread, Job::watch(evaluation.text, 0, kind), Waiter::AttachBreak { index }, deadline);
        }
    }

    /// One attach-break evaluation answered: hand its value on; after the last one,
    /// report or release the stop.
    pub(super) async fn attach_break_result(&mut self, index: usize, result: Result<PyObject, String>) {
        if let Some(evaluation) = attach_break_evaluations().into_iter().nth(index) {
            (evaluation.on_result)(self, result);
        }
        if let Some((thread, then)) = self.lifecycle.repair_answered() {
            // Boxed: the guard's fence can lose the connection, which fails waiters.
            Box::pin(self.attach_break_done(thread, then)).await;
        }
    }

    /// The attach-break evaluations at `thread`'s stop are done: `then` happens to it.
    async fn attach_break_done(&mut self, thread: ThreadId, then: AfterRepairs) {
        if self.threads.get(thread).is_some_and(|t| t.is_stopped()) {
            // The fence of the connection guard (`repairs::CONNECTION_GUARD_BODY`): binary
            // ptvsd's loop reads this one harmless command through its old reader and
            // every later one through the guard.
            let _ = self.send(Command::ClearStepping { thread }).await;
        }
        match then {
            // ptvsd shows no frame of the thread that took the attach break (it was inside
            // ptvsd's own code): the program stops where the editor can show it instead,
            // by a break-all once the attach break is released (reported as a pause).
            AfterRepairs::Report if self.threads.get(thread).is_some_and(|t| t.frames.is_empty()) => {
                let _ = self.threads.begin_break_all();
                self.release(Release::Resume { clear_stepping: None });
            }
            AfterRepairs::Report => self.report_stop(thread, "entry", None, vec![]).await,
            // Not when a stop was shown meanwhile (a breakpoint hit while the repairs ran):
            // the attach break is then part of that all-stop and ends with it.
            AfterRepairs::Release if self.threads.already_reported() => {}
            AfterRepairs::Release => self.release(Release::Resume { clear_stepping: None }),
            AfterRepairs::Keep => {}
        }
    }

    /// Sends `stopped` for a thread; every thread is stopped with it (ptvsd stops all).
    pub(super) async fn report_stop(
        &mut self,
        thread: ThreadId,
        reason: &str,
        description: Option<String>,
        hit: Vec<i64>,
    ) {
        if self.stepping.resume_all_queued() {
            // The editor asked to resume before this stop could be reported: the resume
            // (waiting for the scheduler) releases this thread too, so the stop is over.
            tracing::debug!(thread, reason, "a stop absorbed by the resume waiting to go out");
            return;
        }
        // The step is over; logpoints being evaluated must not resume the program now.
        self.stepping.on_stop_reported();
        if let AttachBreak::Awaited { .. } = self.lifecycle.attach_break() {
            // The attach break never came (the app was idle): the evaluations run at the
            // first stop, ahead of anything the editor asks on this thread.
            self.run_attach_break(thread, AfterRepairs::Keep);
        }
        let Some(id) = self.threads.get(thread).map(|t| t.dap_id) else { return };
        // The program is shown stopped: threads parked silently are part of this stop.
        self.stepping.forget_free_silent();
        self.threads.reported(thread, reason);
        let stopped = StoppedEventBody {
            reason: reason.to_owned(),
            thread_id: Some(id),
            all_threads_stopped: Some(true),
            text: description.clone(),
            description,
            hit_breakpoint_ids: (!hit.is_empty()).then_some(hit),
            ..StoppedEventBody::default()
        };
        self.send_event(&stopped).await;
        self.after_stop_for_functions(thread);
    }

    // ---- work answers -----------------------------------------------------------------
}
