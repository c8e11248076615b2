//! ptvsd events: each one updates the session's view and becomes zero or more DAP events
//! or completes a parked request.

use serde_json::{json, Value};

use super::breakpoints::BindState;
use super::handles::FrameRef;
use super::requests::{page, ChildrenShape};
use super::{Phase, Session, Waiter};
use crate::legacy::messages::{Child, Command, Event, ExceptionStop, HandlerStatement, OutputChannel};

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
                if !self.module_paths.insert(file.clone()) {
                    return;
                }
                let local = self.config.as_ref().map(|c| c.paths.to_local(&file)).unwrap_or_else(|| file.clone());
                let name = local.rsplit(['/', '\\']).next().unwrap_or(&local).to_string();
                self.event("module", Some(json!({ "reason": "new", "module": { "id": module_id, "name": name, "path": local } }))).await;
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
                if self.breakpoints.find(id).is_none() {
                    // A stale breakpoint from an earlier session (spec §4.8): resume it.
                    tracing::info!(id, "resuming a hit of an unknown breakpoint");
                    let _ = self.send(Command::ResumeThread { thread }).await;
                    self.threads.set_stopped(thread, false);
                    return;
                }
                self.report_stop(thread, "breakpoint", None, vec![id]).await;
            }
            Event::StepDone { thread } => {
                self.threads.ensure(thread);
                self.threads.set_stopped(thread, true);
                self.report_stop(thread, "step", None, vec![]).await;
            }
            Event::AsyncBreak { thread } => {
                self.threads.ensure(thread);
                self.threads.set_stopped(thread, true);
                self.report_stop(thread, "pause", None, vec![]).await;
            }
            Event::Exception(stop) => self.on_exception(stop).await,
            Event::RequestHandlers { file } => {
                // Answered at once: the raising thread blocks until we do (spec §3.5).
                let statements = vec![HandlerStatement { start_line: 0, end_line: i64::from(i32::MAX), expressions: vec!["*".to_string()] }];
                let _ = self.send(Command::SetExceptionHandlerInfo { file, statements }).await;
            }
            Event::ExecutionResult { execution_id, value } => {
                if let Some(pending) = self.pending.remove(&execution_id) {
                    match pending.waiter {
                        Waiter::Entry { thread, report } => self.finish_entry(thread, report).await,
                        Waiter::Evaluate { request, expression, frame } => {
                            let v = self.variable_json(frame, "", Some(&expression), &value);
                            let mut body = json!({ "result": v["value"], "variablesReference": v["variablesReference"] });
                            if let Some(t) = v.get("type") {
                                body["type"] = t.clone();
                            }
                            if let Some(n) = v.get("indexedVariables") {
                                body["indexedVariables"] = n.clone();
                            }
                            self.respond(&request, Some(body)).await;
                        }
                        other => self.fail_waiter(other, "the debuggee sent an unexpected evaluation result").await,
                    }
                }
            }
            Event::ExecutionException { execution_id, text } => {
                if let Some(pending) = self.pending.remove(&execution_id) {
                    self.fail_waiter(pending.waiter, &text).await;
                }
            }
            Event::Children { execution_id, children } => {
                if let Some(pending) = self.pending.remove(&execution_id) {
                    match pending.waiter {
                        Waiter::Children { request, shape, frame } => {
                            let variables = self.children_json(frame, &shape, children);
                            self.respond(&request, Some(json!({ "variables": variables }))).await;
                        }
                        other => self.fail_waiter(other, "the debuggee sent unexpected children").await,
                    }
                }
            }
            Event::BreakpointHitCount { .. } | Event::SetLineResult { .. } => {}
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
                let wanted_children = command.contains("Children");
                let wanted_eval = command.contains("Execute");
                if wanted_children || wanted_eval {
                    let oldest = self
                        .pending
                        .iter()
                        .filter(|(_, p)| match p.waiter {
                            Waiter::Children { .. } => wanted_children,
                            Waiter::Evaluate { .. } | Waiter::Exit { .. } | Waiter::Entry { .. } => wanted_eval,
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
        // With "raised", ptvsd re-reports an exception in every frame it unwinds through;
        // a trace of more than one line marks a re-report (spec §3.6).
        let re_report = !stop.unhandled && stop.trace.as_deref().is_some_and(|t| t.lines().count() > 1);
        if re_report {
            let _ = self.resume_all().await;
            return;
        }
        let description = if stop.message.is_empty() { stop.type_name.clone() } else { format!("{}: {}", stop.type_name, stop.message) };
        let dap_id = self.threads.get(thread).map(|t| t.dap_id).unwrap_or(0);
        self.last_exception = Some((dap_id, stop));
        self.report_stop(thread, "exception", Some(description), vec![]).await;
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
        if !self.output_repaired {
            // The attach break never came (the app was idle): repair at the first stop.
            // The thread stays stopped, so nothing can overtake it; its result is ignored.
            self.output_repaired = true;
            let execution_id = self.execution_id();
            let _ = self.send(repair_command(thread, execution_id)).await;
        }
        let Some(id) = self.threads.get(thread).map(|t| t.dap_id) else { return };
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

    fn children_json(&mut self, frame: FrameRef, shape: &ChildrenShape, children: Vec<Child>) -> Vec<Value> {
        match shape {
            ChildrenShape::All { start, count } => {
                // `items()` is a synthetic child ptvsd adds to dicts; the items follow it.
                let all: Vec<Value> = children
                    .iter()
                    .filter(|c| !is_items_view(c))
                    .map(|c| self.variable_json(frame, &c.name, c.expression.as_deref(), &c.value))
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
                    Some(self.variable_json(frame, &name, Some(&expr), &c.value))
                })
                .collect(),
            ChildrenShape::Globals => children
                .iter()
                .filter(|c| !is_items_view(c))
                .map(|c| {
                    let name = c.name.strip_prefix("['").and_then(|n| n.strip_suffix("']")).unwrap_or(&c.name).to_string();
                    let expr = c.expression.clone();
                    self.variable_json(frame, &name, expr.as_deref(), &c.value)
                })
                .collect(),
        }
    }
}

/// ptvsd's synthetic `items()` child of a dict (spec §3.7).
fn is_items_view(child: &Child) -> bool {
    child.name == "items()" && child.value.type_name.is_empty()
}

/// ptvsd wraps `sys.stdout`/`sys.stderr` in a new `_DebuggerOutput` at every attach and
/// never unwraps them under `-m ptvsd` or `enable_attach`, so after N attaches every write
/// is reported N times. This expression makes each outermost wrapper point past the
/// stacked ones (and its `buffer` likewise). It is one expression, so it binds no names
/// in the user's frame; it works on Python 2.7 to 3.11 and is a no-op when nothing is
/// stacked.
pub(super) const REPAIR_OUTPUT: &str = "list((lambda s, i: i is not s and (setattr(s, 'old_out', i.old_out), \
hasattr(s, 'buffer') and hasattr(i, 'buffer') and setattr(s.buffer, 'buffer', i.buffer.buffer)))\
(s, (lambda f: f(f, s))(lambda f, o: f(f, o.old_out) if type(getattr(o, 'old_out', None)) is type(o) else o)) \
for s in (__import__('sys').stdout, __import__('sys').stderr))";

/// ptvsd releases a stopped thread by releasing a lock the thread then takes again, and
/// picks the threads to release by a flag the thread clears only once it has woken. A
/// resume, step or detach that comes before then releases the lock a second time and
/// raises "release unlocked lock": a resume leaves the rest of the threads stopped for
/// good, a detach dies before ptvsd marks itself detached (every later attach is then
/// refused), and on ptvsd 2.2/3.0 the command loop dies. This expression makes
/// `Thread.unblock` skip a lock that is already released (the thread is being woken
/// anyway). Like [`REPAIR_OUTPUT`] it binds no names and works on Python 2.7 to 3.11,
/// for ptvsd 2.2 to 3.0 (`ptvsd.visualstudio_py_debugger`) and 3.1/3.2 (`ptvsd.debugger`).
pub(super) const REPAIR_UNBLOCK: &str = "list(setattr(m.Thread, 'unblock', lambda self: self._block_lock.release() \
if self._block_lock.locked() else None) for m in (__import__('sys').modules.get('ptvsd.debugger'), \
__import__('sys').modules.get('ptvsd.visualstudio_py_debugger')) if hasattr(m, 'Thread'))";

/// ptvsd appends every loaded module to its `MODULES` list again at every attach (and
/// reports the whole list at the next one), so each attach costs more than the last: after
/// 1000 attaches an app with 1000 modules holds a million entries and sends a million
/// module reports per attach. This expression removes the repeated entries in place (the
/// first one per file stays; entries appended meanwhile by other threads are kept), so
/// the list stays at one entry per module however often the app is attached.
pub(super) const REPAIR_MODULES: &str = "list((lambda l: [l.pop(i) for i in sorted(set(range(len(l))) - \
set(dict((e[0], i) for i, e in reversed(list(enumerate(l)))).values()), reverse=True)])(m.MODULES) \
for m in (__import__('sys').modules.get('ptvsd.debugger'), __import__('sys').modules.get('ptvsd.visualstudio_py_debugger')) \
if hasattr(m, 'MODULES'))";

fn repair_command(thread: i64, execution_id: i64) -> Command {
    Command::Execute {
        text: format!("({REPAIR_OUTPUT}, {REPAIR_UNBLOCK}, {REPAIR_MODULES})"),
        thread,
        frame: 0,
        execution_id,
        frame_kind: crate::legacy::messages::FrameKind::Python,
        repr_kind: crate::legacy::messages::ReprKind::Normal,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::{REPAIR_MODULES, REPAIR_OUTPUT, REPAIR_UNBLOCK};

    #[test]
    fn module_repair_removes_repeated_entries_in_real_python() {
        let script = format!(
            r#"
import sys, types
fake = types.ModuleType('ptvsd.visualstudio_py_debugger')
fake.MODULES = [('a.py', 1), ('b.py', 2), ('a.py', 3), ('c.py', 4), ('b.py', 5), ('a.py', 6)]
sys.modules['ptvsd.visualstudio_py_debugger'] = fake
def f():
    eval(compile({expr:?}, '<repair>', 'eval'))
    return sorted(locals())
names = f()
ok = fake.MODULES == [('a.py', 1), ('b.py', 2), ('c.py', 4)] and names == []
eval(compile({expr:?}, '<repair>', 'eval'))
sys.stdout.write('repaired' if ok and len(fake.MODULES) == 3 else 'broken %r %r' % (fake.MODULES, names))
"#,
            expr = REPAIR_MODULES
        );
        let out = std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3 is needed for this test");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "repaired", "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs the unblock repair in a real CPython against a stand-in for ptvsd's
    /// `Thread`: a second release of an already released lock must do nothing.
    #[test]
    fn unblock_repair_makes_a_second_release_harmless_in_real_python() {
        let script = format!(
            r#"
import sys, threading, types
fake = types.ModuleType('ptvsd.debugger')
class Thread(object):
    def __init__(self): self._block_lock = threading.Lock(); self._block_lock.acquire()
    def unblock(self): self._block_lock.release()
fake.Thread = Thread
sys.modules['ptvsd.debugger'] = fake
t = Thread()
t.unblock()
try:
    t.unblock()
    sys.stdout.write('broken: no error before the repair')
    sys.exit()
except RuntimeError:
    pass
t._block_lock.acquire()
eval(compile({expr:?}, '<repair>', 'eval'))
t.unblock()
t.unblock()
ok = not t._block_lock.locked() and 'm' not in dir()
t._block_lock.acquire()
t.unblock()
sys.stdout.write('repaired' if ok and not t._block_lock.locked() else 'broken')
"#,
            expr = REPAIR_UNBLOCK
        );
        let out = std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3 is needed for this test");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "repaired", "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs the repair in a real CPython against three stacked wrappers shaped like
    /// ptvsd's `_DebuggerOutput`/`DebuggerBuffer`, and against none.
    #[test]
    fn output_repair_collapses_stacked_wrappers_in_real_python() {
        let script = format!(
            r#"
import sys
class B(object):
    def __init__(self, b): self.buffer = b
class W(object):
    def __init__(self, o):
        self.old_out = o
        if hasattr(o, 'buffer'): self.buffer = B(o.buffer)
real = sys.stdout
sys.stdout = W(W(W(real)))
eval(compile({expr:?}, '<repair>', 'eval'))
ok = sys.stdout.old_out is real and sys.stdout.buffer.buffer is real.buffer
sys.stdout = real
eval(compile({expr:?}, '<repair>', 'eval'))
ok = ok and sys.stdout is real
sys.stdout.write('repaired' if ok else 'broken')
"#,
            expr = REPAIR_OUTPUT
        );
        let out = std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3 is needed for this test");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "repaired", "{}", String::from_utf8_lossy(&out.stderr));
    }
}
