//! ptvsd events: each one updates the session's view and becomes zero or more DAP events
//! or completes a parked request.

use serde_json::{json, Value};

use super::breakpoints::BindState;
use super::handles::FrameRef;
use super::requests::{is_frozen, page, ChildrenShape};
use super::{ExceptionRecord, Phase, Session, StepKind, Waiter};
use crate::legacy::messages::{Child, Command, Event, ExceptionStop, OutputChannel};

/// At most this many steps are added to get out of `<frozen …>` code after one step.
const MAX_AUTO_STEPS: u32 = 20;

impl Session {
    pub(super) async fn on_event(&mut self, event: Event) {
        tracing::trace!(?event, "ptvsd →");
        match event {
            Event::ThreadCreate { thread } => {
                let (id, new) = self.threads.ensure(thread);
                if new {
                    self.event("thread", Some(json!({ "reason": "started", "threadId": id }))).await;
                }
            }
            Event::ThreadExit { thread } => {
                if let Some(id) = self.threads.remove(thread) {
                    self.event("thread", Some(json!({ "reason": "exited", "threadId": id }))).await;
                }
            }
            Event::ModuleLoad { module_id, file } => {
                // ptvsd reports a file again under new ids (several imports, and every
                // re-attach): one module per path.
                if !self.sources.add_module(module_id, &file) {
                    return;
                }
                let module = self.module_json(module_id, &file);
                self.event("module", Some(json!({ "reason": "new", "module": module }))).await;
                let source = self.source_json(&file);
                self.event("loadedSource", Some(json!({ "reason": "new", "source": source }))).await;
            }
            Event::ModulesChanged | Event::Unknown { .. } => {}
            Event::FrameList { thread, name, frames } => {
                let stopped = name.is_some();
                let new = self.threads.update_frames(thread, name, frames);
                // A named list is sent by the thread itself as it stops; running threads'
                // lists carry no name (spec §3.4).
                self.threads.set_stopped(thread, stopped);
                if new {
                    if let Some(info) = self.threads.get(thread) {
                        let id = info.dap_id;
                        self.event("thread", Some(json!({ "reason": "started", "threadId": id }))).await;
                    }
                }
            }
            Event::ProcessLoad { thread } => {
                self.threads.ensure(thread);
                self.threads.set_stopped(thread, true);
                self.entry_break_seen = true;
                self.idle_notice = None;
                let stop_on_entry = self.config.as_ref().is_some_and(|c| c.stop_on_entry);
                if self.phase == Phase::Running {
                    self.handle_entry(thread, stop_on_entry).await;
                } else {
                    // Held until configurationDone, so breakpoints are in place first.
                    self.entry_break = Some(thread);
                }
            }
            Event::BreakpointSet { id } => self.on_bind(id, BindState::Bound).await,
            Event::BreakpointFailed { id } => self.on_bind(id, BindState::Pending).await,
            Event::BreakpointHit { id, thread } => {
                self.threads.ensure(thread);
                self.threads.set_stopped(thread, true);
                if self.on_entry_breakpoint(id, thread).await {
                    return;
                }
                let Some((local_path, b)) = self.breakpoints.find(id).map(|(p, b)| (p.to_string(), b.clone())) else {
                    // A stale breakpoint from an earlier session (spec §4.8): resume it.
                    tracing::info!(id, "resuming a hit of an unknown breakpoint");
                    let _ = self.send(Command::ResumeThread { thread }).await;
                    self.threads.set_stopped(thread, false);
                    return;
                };
                if let Some(message) = b.log_message.as_deref().filter(|m| !m.is_empty()) {
                    self.log_point(thread, &local_path, b.line, message).await;
                    return;
                }
                self.report_stop(thread, "breakpoint", None, vec![id]).await;
            }
            Event::StepDone { thread } => {
                self.threads.ensure(thread);
                self.threads.set_stopped(thread, true);
                if self.step_out_of_frozen(thread).await {
                    return;
                }
                self.report_stop(thread, "step", None, vec![]).await;
            }
            Event::AsyncBreak { thread } => {
                self.threads.ensure(thread);
                self.threads.set_stopped(thread, true);
                self.report_stop(thread, "pause", None, vec![]).await;
            }
            Event::Exception(stop) => self.on_exception(stop).await,
            Event::RequestHandlers { file } => {
                // HOOK(reattach): remembered so the stale-query probe does not answer it twice.
                self.handler_queries.insert(file.clone());
                self.answer_handler_query(file);
            }
            Event::ExecutionResult { execution_id, value } => {
                if let Some(pending) = self.pending.remove(&execution_id) {
                    self.on_execution_result(pending.waiter, value).await;
                }
            }
            Event::ExecutionException { execution_id, text } => {
                if let Some(pending) = self.pending.remove(&execution_id) {
                    // HOOK(reattach): `Type: message`, and the traceback in the REPL.
                    self.evaluation_failed(pending.waiter, &text).await;
                }
            }
            Event::Children { execution_id, children } => {
                if let Some(pending) = self.pending.remove(&execution_id) {
                    match pending.waiter {
                        Waiter::Children { request, shape, frame, hex } => {
                            let variables = self.children_json(frame, &shape, children, hex);
                            self.respond(&request, Some(json!({ "variables": variables }))).await;
                        }
                        other => self.fail_waiter(other, "the debuggee sent unexpected children").await,
                    }
                }
            }
            Event::SetLineResult { ok, thread, line } => self.on_set_line(ok, thread, line).await,
            Event::BreakpointHitCount { .. } => {}
            Event::Output { text, channel, .. } => {
                if self.config.as_ref().is_some_and(|c| c.redirect_output) {
                    let category = match channel {
                        OutputChannel::Stdout => "stdout",
                        OutputChannel::Stderr => "stderr",
                        OutputChannel::Debug => "console",
                        OutputChannel::Unknown => "stdout",
                    };
                    self.event("output", Some(json!({ "category": category, "output": text }))).await;
                }
            }
            Event::Detach => {
                if let Some((request, _)) = self.detach_wait.take() {
                    self.finish_disconnect(request).await;
                } else {
                    // ptvsd's atexit hook: the program is ending (spec §4.7).
                    self.program_exited = true;
                }
            }
            Event::Last => {
                let _ = self.send(Command::LastAck).await;
            }
            Event::CommandFailed { command, message } => {
                tracing::debug!(%command, %message, "ptvsd reported a failed request");
                if command.contains("DebuggerAttach") {
                    // ptvsd answered `accepted` and then failed attaching (e.g. "dictionary
                    // changed size during iteration" over sys.modules); it closes next.
                    let last = message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("an error").trim().to_string();
                    self.attach_failure = Some(last);
                    return;
                }
                let wanted_children = command.contains("Children");
                let wanted_eval = command.contains("Execute");
                let wanted_goto = command.contains("SetLineNumber");
                if wanted_children || wanted_eval || wanted_goto {
                    let oldest = self
                        .pending
                        .iter()
                        .filter(|(_, p)| match p.waiter {
                            Waiter::Children { .. } => wanted_children,
                            Waiter::Goto { .. } => wanted_goto,
                            ref other => other.is_execute() && wanted_eval,
                        })
                        .min_by_key(|(id, _)| **id)
                        .map(|(id, _)| *id);
                    if let Some(p) = oldest.and_then(|id| self.pending.remove(&id)) {
                        let line = message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("the debuggee could not run the request").to_string();
                        self.fail_waiter(p.waiter, &line).await;
                    }
                }
            }
        }
    }

    async fn on_bind(&mut self, id: i64, state: BindState) {
        let Some((local_path, b)) = self.breakpoints.mark(id, state) else { return };
        // A setBreakpoints waiting for this id answers once all its ids are known.
        let mut answered = false;
        let mut done = Vec::new();
        for (i, wait) in self.bind_waits.iter_mut().enumerate() {
            if let Some(pos) = wait.waiting.iter().position(|w| *w == id) {
                wait.waiting.remove(pos);
                answered = true;
                if wait.waiting.is_empty() {
                    done.push(i);
                }
            }
        }
        for i in done.into_iter().rev() {
            let wait = self.bind_waits.remove(i);
            self.answer_breakpoints(wait.request, &wait.local_path).await;
        }
        if !answered {
            let breakpoint = self.breakpoint_json(&local_path, &b);
            self.event("breakpoint", Some(json!({ "reason": "changed", "breakpoint": breakpoint }))).await;
        }
    }

    async fn on_exception(&mut self, stop: ExceptionStop) {
        let thread = stop.thread;
        self.threads.ensure(thread);
        self.threads.set_stopped(thread, true);
        let stack: Vec<(String, i64, String)> =
            self.threads.get(thread).map(|t| t.frames.iter().map(|f| (f.file.clone(), f.line, f.function.clone())).collect()).unwrap_or_default();
        // With "raised", ptvsd re-reports an exception in every frame it unwinds through;
        // a trace of more than one line marks a re-report (spec §3.6). The old form (EXCP,
        // ptvsd 2.2) has no trace: there a re-report is the same exception on the same
        // thread with the previous stack less its innermost frames.
        let unwinding = match (&stop.trace, &self.last_raise) {
            (Some(trace), _) => trace.lines().count() > 1,
            (None, Some((t, type_name, message, previous))) => {
                *t == thread
                    && *type_name == stop.type_name
                    && *message == stop.message
                    && stack.len() < previous.len()
                    && stack.iter().zip(&previous[previous.len() - stack.len()..]).all(|(a, b)| a.0 == b.0 && a.2 == b.2)
            }
            (None, None) => false,
        };
        self.last_raise = Some((thread, stop.type_name.clone(), stop.message.clone(), stack.clone()));
        let re_report = !stop.unhandled && unwinding;
        // On 3.11 frozen stdlib modules count as user code (spec §5.3): with justMyCode an
        // exception stop inside one is library noise (os.path.exists raising and catching).
        let just_my_code = self.just_my_code();
        let in_frozen = just_my_code && self.threads.get(thread).and_then(|t| t.frames.first()).is_some_and(|f| is_frozen(&f.file));
        if re_report || in_frozen {
            // Not while a logpoint is being evaluated (it resumes) or a stop is shown.
            if self.logging.pending == 0 && !self.stop_on_display(thread) {
                let _ = self.resume_all().await;
            }
            return;
        }
        let description = if stop.message.is_empty() { stop.type_name.clone() } else { format!("{}: {}", stop.type_name, stop.message) };
        let dap_thread = self.threads.get(thread).map(|t| t.dap_id).unwrap_or(0);
        self.last_exception = Some(ExceptionRecord { dap_thread, stop, stack });
        self.report_stop(thread, "exception", Some(description), vec![]).await;
    }

    /// Keeps `<frozen …>` code (3.11's frozen stdlib, which ptvsd counts as user code, spec
    /// §5.3) out of stepping, with justMyCode: a step that ends in it steps out again; once
    /// back in user code, a step in goes on stepping in (into the next call on the line, or
    /// to the next line), as if the frozen call had been stepped over. Bounded; returns
    /// whether it stepped again instead of letting the stop be reported.
    async fn step_out_of_frozen(&mut self, thread: i64) -> bool {
        let just_my_code = self.just_my_code();
        let Some(mut stepping) = self.stepping.filter(|s| s.thread == thread) else { return false };
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
        if self.send(next.command(thread)).await.is_err() {
            return false;
        }
        self.stepping = Some(stepping);
        self.threads.mark_all_running();
        self.handles.clear();
        true
    }

    /// The attach break, once configured: repair the output wrappers while the thread is
    /// stopped, then report the break (stopOnEntry) or release it.
    pub(super) async fn handle_entry(&mut self, thread: i64, report: bool) {
        if self.output_repaired {
            self.finish_entry(thread, report).await;
            return;
        }
        self.output_repaired = true;
        let execution_id = self.execution_id();
        if self.send(repair_command(thread, execution_id)).await.is_ok() {
            // Wait for it: a resume could overtake the work queued on the thread.
            self.park(execution_id, Waiter::Entry { thread, report });
        }
    }

    pub(super) async fn finish_entry(&mut self, thread: i64, report: bool) {
        if report {
            self.report_stop(thread, "entry", None, vec![]).await;
        } else if let Err(error) = self.resume_all().await {
            tracing::warn!(%error, "could not release the attach break");
        }
    }

    /// Sends `stopped` for a thread; every thread is stopped with it (ptvsd stops all).
    pub(super) async fn report_stop(&mut self, thread: i64, reason: &str, description: Option<String>, hit: Vec<i64>) {
        self.threads.set_stopped(thread, true);
        self.stepping = None;
        if self.logging.pending > 0 {
            // Logpoints are being evaluated: they must not resume the program now.
            self.logging.hold = true;
        }
        if !self.output_repaired {
            // The attach break never came (the app was idle): repair at the first stop.
            // The thread stays stopped, so nothing can overtake it; its result is ignored.
            self.output_repaired = true;
            let execution_id = self.execution_id();
            if self.send(repair_command(thread, execution_id)).await.is_ok() {
                // HOOK(reattach): its result lists stale handler queries.
                self.park_repairs(execution_id, thread);
            }
        }
        let Some(id) = self.threads.get(thread).map(|t| t.dap_id) else { return };
        if let Some(info) = self.threads.get_mut(thread) {
            info.stop_reason = Some(reason.to_string());
        }
        let mut body = json!({ "reason": reason, "threadId": id, "allThreadsStopped": true });
        if let Some(description) = description {
            body["description"] = json!(description.clone());
            body["text"] = json!(description);
        }
        if !hit.is_empty() {
            body["hitBreakpointIds"] = json!(hit);
        }
        self.event("stopped", Some(body)).await;
    }

    fn children_json(&mut self, frame: FrameRef, shape: &ChildrenShape, children: Vec<Child>, hex: bool) -> Vec<Value> {
        match shape {
            ChildrenShape::All { start, count } => {
                // `items()` is a synthetic child ptvsd adds to dicts; the items follow it.
                let all: Vec<Value> = children
                    .iter()
                    .filter(|c| !is_items_view(c))
                    .map(|c| self.variable_json(frame, &c.name, c.expression.as_deref(), &c.value, hex))
                    .collect();
                page(all, *start as i64, count.map(|c| c as i64))
            }
            ChildrenShape::Slice { expression, start } => children
                .iter()
                .filter_map(|c| {
                    let index: i64 = c.name.strip_prefix('[')?.strip_suffix(']')?.parse().ok()?;
                    let absolute = start + index;
                    let name = format!("[{absolute}]");
                    let expr = format!("({expression})[{absolute}]");
                    Some(self.variable_json(frame, &name, Some(&expr), &c.value, hex))
                })
                .collect(),
            ChildrenShape::Globals => children
                .iter()
                .filter(|c| !is_items_view(c))
                .map(|c| {
                    let name = c.name.strip_prefix("['").and_then(|n| n.strip_suffix("']")).unwrap_or(&c.name).to_string();
                    let expr = c.expression.clone();
                    self.variable_json(frame, &name, expr.as_deref(), &c.value, hex)
                })
                .collect(),
        }
    }
}

/// ptvsd's synthetic `items()` child of a dict (spec §3.7).
fn is_items_view(child: &Child) -> bool {
    child.name == "items()" && child.value.type_name.is_empty()
}

fn repair_command(thread: i64, execution_id: i64) -> Command {
    Command::Execute {
        text: super::repairs::attach_repair_expression(),
        thread,
        frame: 0,
        execution_id,
        frame_kind: crate::legacy::messages::FrameKind::Python,
        repr_kind: crate::legacy::messages::ReprKind::Normal,
    }
}
