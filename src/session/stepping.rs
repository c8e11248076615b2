//! Continue, steps, pause, terminate and disconnect: everything that releases ptvsd's
//! threads or ends the attach, through one gate.
//!
//! Owns: [`Release`] and the gate ([`Session::pump`]): a resume, step or detach is sent
//! only when the per-thread scheduler is empty (nothing queued, nothing in flight), so a
//! resume never overtakes work ptvsd has queued on a thread (which would leave that
//! thread parked again after the resume, or raise "release unlocked lock", threading doc
//! §1.2–§1.3). No timer decides anything here: the thread states (`threads`) and the
//! queues (`work`) alone do. After every resume the fence (`threads` rule 2) goes out.
//! Also owns the detach sequence (`lifecycle::Disconnect`).
//!
//! The component, [`Stepping`], owns the state of all this: the step in progress
//! ([`Step`]), the releases waiting at the gate, the `goto` waiting for its set-line reply
//! ([`GotoWait`]; nothing else goes to its thread meanwhile), the logpoints being logged
//! ([`Logging`]) and the threads to probe for a silent stop.
//!
//! Must not know: how stops are reported (`events`), request argument parsing.

use std::collections::VecDeque;

use tokio::time::Instant;

use super::lifecycle::{AttachBreak, DetachReason, Disconnect, Phase};
use super::threads::ThreadState;
use super::work::Job;
use super::{Handled, Reply, RequestError, Session, Waiter, DISCONNECT_WAIT};
use crate::dap::bodies::{ContinueResponseBody, ContinuedEventBody};
use crate::dap::types::Request;
use crate::legacy::messages::{Command, FrameKind, ReprKind, ThreadId};

/// Everything about releasing threads: the step in progress, the releases waiting at the
/// gate, the `goto` waiting for its reply, the logpoints being logged, and the threads to
/// probe for a silent stop.
#[derive(Debug, Default)]
pub(super) struct Stepping {
    /// The step in progress, until its stop is reported.
    step: Option<Step>,
    /// Resumes, steps and the detach, waiting until no work is queued or in flight.
    releases: VecDeque<Release>,
    /// A `goto` waiting for its set-line reply; nothing else is sent to its thread meanwhile.
    goto: Option<GotoWait>,
    /// Logpoint evaluations in flight.
    logging: Logging,
    /// Threads that sent their own frame list with no stop event while a silent stop would
    /// strand them; probed in `pump` if still without an event.
    suspects: Vec<ThreadId>,
}

impl Stepping {
    /// The step in progress, until its stop is reported.
    pub(super) fn step(&self) -> Option<Step> {
        self.step
    }

    /// A step went out (the editor's, or one the adapter added to `step`).
    pub(super) fn step_sent(&mut self, step: Step) {
        self.step = Some(step);
    }

    /// The program was resumed without a step: none is in progress.
    pub(super) fn step_cleared(&mut self) {
        self.step = None;
    }

    /// The next release, unless the gate must hold it: the detach waits while a handler
    /// query is outstanding (`queries_outstanding`, threading doc §4.4).
    pub(super) fn next_release(&mut self, queries_outstanding: bool) -> Option<Release> {
        if queries_outstanding && matches!(self.releases.front(), Some(Release::Detach)) {
            return None;
        }
        self.releases.pop_front()
    }

    /// Every release still waiting (the connection is gone).
    pub(super) fn take_releases(&mut self) -> VecDeque<Release> {
        std::mem::take(&mut self.releases)
    }

    /// A `goto` now waits for its set-line reply.
    pub(super) fn wait_for_goto(&mut self, goto: GotoWait) {
        self.goto = Some(goto);
    }

    /// A `goto` waits for its reply.
    pub(super) fn goto_pending(&self) -> bool {
        self.goto.is_some()
    }

    /// The `goto` waiting for its reply, if any (its reply came, or it ends unanswered).
    pub(super) fn take_goto(&mut self) -> Option<GotoWait> {
        self.goto.take()
    }

    /// The `goto` waiting for its reply on `thread`, if any.
    pub(super) fn take_goto_on(&mut self, thread: ThreadId) -> Option<GotoWait> {
        self.goto.take_if(|g| g.thread == thread)
    }

    /// `thread` entered `block()` with no stop event: probe it at the next `pump`.
    pub(super) fn suspect(&mut self, thread: ThreadId) {
        self.suspects.push(thread);
    }

    /// The threads to probe for a silent stop.
    pub(super) fn take_suspects(&mut self) -> Vec<ThreadId> {
        std::mem::take(&mut self.suspects)
    }

    /// Queues a release; it goes out from [`Session::pump`].
    pub(super) fn release(&mut self, release: Release) {
        self.releases.push_back(release);
    }

    /// A release that resumes every thread is queued.
    pub(super) fn resume_all_queued(&self) -> bool {
        self.releases.iter().any(Release::resumes_all)
    }

    /// The detach is queued.
    pub(super) fn detach_queued(&self) -> bool {
        self.releases.iter().any(|r| matches!(r, Release::Detach))
    }

    /// Drops the queued freeing of silently parked threads (a stop was reported).
    pub(super) fn forget_free_silent(&mut self) {
        self.releases.retain(|r| !matches!(r, Release::FreeSilent));
    }

    /// A `goto` waits for its reply on `thread`.
    pub(super) fn goto_waits_on(&self, thread: ThreadId) -> bool {
        self.goto.as_ref().is_some_and(|g| g.thread == thread)
    }

    /// When the `goto` waiting for its reply times out.
    pub(super) fn goto_deadline(&self) -> Option<Instant> {
        self.goto.as_ref().map(|g| g.deadline)
    }

    /// The `goto` whose reply did not come by `now`.
    pub(super) fn expired_goto(&mut self, now: Instant) -> Option<GotoWait> {
        self.goto.take_if(|g| g.deadline <= now)
    }

    /// A logpoint of this stop is being logged.
    pub(super) fn start_logging(&mut self) {
        self.logging.pending += 1;
    }

    /// Logpoints are being logged.
    pub(super) fn logging(&self) -> bool {
        self.logging.pending > 0
    }

    /// One logpoint is done: `None` while others are left; when it was the last,
    /// whether a stop was reported meanwhile (then the program is not resumed).
    pub(super) fn finish_logging(&mut self) -> Option<bool> {
        self.logging.pending = self.logging.pending.saturating_sub(1);
        if self.logging.pending > 0 {
            return None;
        }
        Some(std::mem::take(&mut self.logging.hold))
    }

    /// A stop is reported: the step in progress is over, and logpoints being logged must
    /// not resume the program when they are done.
    pub(super) fn on_stop_reported(&mut self) {
        self.step = None;
        if self.logging.pending > 0 {
            self.logging.hold = true;
        }
    }
}

/// A `goto` waiting for its set-line reply (not a work item: ptvsd runs `setl` on its
/// loop thread; it is sent only to a stopped thread with nothing in flight).
#[derive(Debug)]
pub(super) struct GotoWait {
    pub(super) request: Request,
    pub(super) thread: ThreadId,
    pub(super) line: i64,
    pub(super) deadline: Instant,
}

/// The kind of a step the editor asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StepKind {
    Over,
    In,
    Out,
}

/// A step in progress, until its stop is reported.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub(super) thread: ThreadId,
    pub(super) kind: StepKind,
    /// Steps the adapter added to get out of `<frozen …>` code.
    pub(super) auto_steps: u32,
    /// The last added step was a step out of `<frozen …>` code.
    pub(super) leaving_frozen: bool,
}

/// Logpoint evaluations in flight: the program resumes when the last one is done, unless
/// a real stop was reported meanwhile.
#[derive(Debug, Default)]
pub(super) struct Logging {
    pub(super) pending: usize,
    /// A stop was reported while logging: do not resume.
    pub(super) hold: bool,
}

/// Something that releases threads, waiting for the scheduler to be empty.
#[derive(Debug)]
pub(super) enum Release {
    /// `continue`: resume every thread (clearing the step mode of `thread` if stopped).
    Continue { request: Request, thread: ThreadId },
    /// `next`/`stepIn`/`stepOut` of `thread`.
    Step { request: Request, thread: ThreadId, kind: StepKind },
    /// The adapter's own resume (the attach break, a logpoint, an exception re-report);
    /// `clear_stepping`: a thread whose step mode is cleared first.
    Resume { clear_stepping: Option<ThreadId> },
    /// A step of `kind` the adapter adds (past frozen code; a step cancelled by a
    /// logpoint); `stepping` is the step in progress afterwards.
    AutoStep { stepping: Step, kind: StepKind, clear_stepping: Option<ThreadId> },
    /// Resume one thread (a stale hit of a breakpoint of an earlier session).
    ResumeThread(ThreadId),
    /// Free threads parked silently after a resume (no stop shown, no pause in flight).
    FreeSilent,
    /// The detach of a disconnect, terminate or a closed editor.
    Detach,
}

impl Release {
    /// It resumes every thread ptvsd has parked.
    pub(super) fn resumes_all(&self) -> bool {
        matches!(
            self,
            Release::Continue { .. } | Release::Step { .. } | Release::Resume { .. } | Release::AutoStep { .. }
        )
    }
}

impl StepKind {
    pub(super) fn command(self, thread: ThreadId) -> Command {
        match self {
            StepKind::Over => Command::StepOver { thread },
            StepKind::In => Command::StepInto { thread },
            StepKind::Out => Command::StepOut { thread },
        }
    }
}

/// The thread a step command steps (every step resumes all threads).
fn stepped_thread(command: &Command) -> Option<ThreadId> {
    match command {
        Command::StepOver { thread } | Command::StepInto { thread } | Command::StepOut { thread } => Some(*thread),
        _ => None,
    }
}

/// `os._exit` on a stopped thread: ptvsd has no terminate command (spec §3.2).
fn exit_job() -> Job {
    Job::execute("__import__('os')._exit(0)".to_string(), 0, FrameKind::Python, ReprKind::Normal)
}

impl Session {
    /// Queues a release; it goes out from [`Session::pump`].
    pub(super) fn release(&mut self, release: Release) {
        self.stepping.release(release);
    }

    /// Sends what may be sent now: the next work item of every parked thread, then, when
    /// no work is left, the releases in order. Called after every input.
    pub(super) async fn pump(&mut self) {
        self.probe_suspects();
        loop {
            for thread in self.work.ready_threads() {
                let state = self.threads.get(thread).map(|t| t.state);
                if !matches!(state, Some(ThreadState::Stopped { .. } | ThreadState::Probing)) {
                    for waiter in self.work.drain_queued(thread) {
                        self.fail_waiter(
                            waiter,
                            "the thread is running; pause the program (or wait for a breakpoint) first",
                        )
                        .await;
                    }
                    continue;
                }
                if self.stepping.goto_waits_on(thread) {
                    continue;
                }
                if let Some(command) = self.work.next_command(thread) {
                    if self.send(command).await.is_err() {
                        return;
                    }
                }
            }
            if !self.work.is_empty() || self.stepping.goto_pending() {
                return;
            }
            // The detach waits until every handler query is answered (§4.4).
            let Some(release) = self.stepping.next_release(self.exceptions.handler_queries_outstanding()) else {
                return;
            };
            self.perform(release).await;
            if !self.connection.is_up() {
                return;
            }
        }
    }

    /// Threads that entered `block()` with no stop event in the same burst, while a silent
    /// stop would strand them: ask ptvsd whether they are parked (then they are freed).
    fn probe_suspects(&mut self) {
        let suspects = self.stepping.take_suspects();
        if !self.threads.silent_stop_strands()
            || !self.lifecycle.is_running()
            || self.lifecycle.attach_break() != AttachBreak::Done
        {
            return;
        }
        for thread in suspects {
            let Some(info) = self.threads.get(thread).filter(|t| t.state == ThreadState::Stopping) else { continue };
            let kind = info.frames.first().map(|f| f.kind).unwrap_or(FrameKind::Python);
            let deadline = Instant::now() + self.request_timeout();
            self.work.push(
                thread,
                Job::execute("0".to_string(), 0, kind, ReprKind::Normal),
                Waiter::SilentProbe { thread },
                deadline,
            );
            self.threads.start_probe(thread);
        }
    }

    async fn perform(&mut self, release: Release) {
        match release {
            Release::Continue { request, thread } => {
                if self.threads.get(thread).is_some_and(|t| t.is_stopped()) {
                    // A step that landed on a breakpoint keeps its step mode; clear it so
                    // the program runs freely (spec §4.5).
                    let _ = self.send(Command::ClearStepping { thread }).await;
                }
                self.stepping.step_cleared();
                match self.resume_all(Command::ResumeAll).await {
                    Ok(()) => {
                        let answer = ContinueResponseBody { all_threads_continued: Some(true) };
                        self.answer(&request, Ok(Some(answer.into()))).await
                    }
                    Err(error) => self.answer(&request, Err(error.into())).await,
                }
            }
            Release::Step { request, thread, kind } => {
                let dap = self.threads.get(thread).map(|t| t.dap_id).unwrap_or_default();
                if !self.threads.get(thread).is_some_and(|t| t.is_stopped()) {
                    let error =
                        format!("thread {dap} is running (it resumed or is not stopped yet): pause the program first");
                    self.answer(&request, Err(error.into())).await;
                    return;
                }
                match self.resume_all(kind.command(thread)).await {
                    Ok(()) => {
                        self.stepping.step_sent(Step { thread, kind, auto_steps: 0, leaving_frozen: false });
                        self.answer(&request, Ok(None)).await;
                        // ptvsd resumes every thread for a step: say so, so the editor
                        // redraws them all as running.
                        let continued = ContinuedEventBody { thread_id: dap, all_threads_continued: Some(true) };
                        self.send_event(&continued).await;
                    }
                    Err(error) => self.answer(&request, Err(error.into())).await,
                }
            }
            Release::Resume { clear_stepping } => {
                let pause = self.threads.break_all_in_flight();
                if pause {
                    // The editor asked to pause: the adapter's own resume (the attach
                    // break, a logpoint) would swallow it. The program is stopped: say so,
                    // on a thread the editor can show.
                    if let Some(thread) = self.threads.any_stopped_with_frames() {
                        self.report_stop(thread, "pause", None, vec![]).await;
                        return;
                    }
                }
                if let Some(thread) = clear_stepping.filter(|t| self.threads.get(*t).is_some_and(|i| i.is_stopped())) {
                    let _ = self.send(Command::ClearStepping { thread }).await;
                }
                if let Err(error) = self.resume_all(Command::ResumeAll).await {
                    tracing::warn!(%error, "could not resume");
                    return;
                }
                // Stopped only where ptvsd shows no frame (a thread inside ptvsd's own
                // code, e.g. writing output, took the attach break): the pause breaks all
                // again once the resume is processed, and stops in the program's code.
                if pause && self.threads.begin_break_all() {
                    tracing::debug!("pause: breaking all again after the adapter's own resume");
                    let _ = self.send(Command::BreakAll).await;
                }
            }
            Release::AutoStep { stepping, kind, clear_stepping } => {
                if !self.threads.get(stepping.thread).is_some_and(|t| t.is_stopped()) {
                    tracing::debug!("the thread to step again is not stopped; not stepping");
                    return;
                }
                if let Some(thread) = clear_stepping.filter(|t| self.threads.get(*t).is_some_and(|i| i.is_stopped())) {
                    let _ = self.send(Command::ClearStepping { thread }).await;
                }
                if self.resume_all(kind.command(stepping.thread)).await.is_ok() {
                    self.stepping.step_sent(stepping);
                }
            }
            Release::ResumeThread(thread) => {
                if !self.threads.get(thread).is_some_and(|t| t.is_stopped()) {
                    return;
                }
                if self.send(Command::ResumeThread { thread }).await.is_ok() {
                    let fence = self.threads.resume_one(thread);
                    self.send_fence(fence).await;
                }
            }
            Release::FreeSilent => {
                if self.threads.silent_stop_strands() && self.threads.any_stopped().is_some() {
                    if let Err(error) = self.resume_all(Command::ResumeAll).await {
                        tracing::warn!(%error, "could not free a silently parked thread");
                    }
                }
            }
            Release::Detach => {
                if let Some(d) = self.lifecycle.detach_mut() {
                    d.sent = true;
                }
                if self.send(Command::Detach).await.is_err() {
                    self.finish_detach().await;
                }
            }
        }
    }

    /// Sends a command that resumes every thread (a resume or a step), then the fence.
    async fn resume_all(&mut self, command: Command) -> Result<(), String> {
        let stepped = stepped_thread(&command);
        self.send(command).await?;
        let fence = match stepped {
            Some(thread) => self.threads.step_all(thread),
            None => self.threads.resume_all(),
        };
        self.handles.clear();
        self.send_fence(fence).await;
        Ok(())
    }

    /// The fence after a resume: a hit-count request whose reply is written only after
    /// ptvsd's loop finished the resume (`threads`, rule 2).
    async fn send_fence(&mut self, fence: Option<i64>) {
        if let Some(request_id) = fence {
            if !self.send_marker(request_id).await && self.connection.is_up() {
                self.threads.fence_unavailable();
            }
        }
    }

    /// Sends the hit-count request `request_id` (from [`Threads::marker_id`]), whose reply
    /// ptvsd writes only after it has processed every command sent before it; false when
    /// it could not be sent.
    ///
    /// [`Threads::marker_id`]: super::threads::Threads::marker_id
    pub(super) async fn send_marker(&mut self, request_id: i64) -> bool {
        self.send(Command::GetBreakpointHitCount { request_id, id: 0 }).await.is_ok()
    }

    /// The connection is gone or the session ends: every release still waiting fails with
    /// `sentence`, the `goto` waiting for its reply with `goto_sentence`, and the held
    /// configuration requests are answered (each request gets its one answer).
    pub(super) async fn end_waiting_releases(&mut self, sentence: &str, goto_sentence: &str) {
        self.fail_releases(sentence).await;
        if let Some(goto) = self.stepping.take_goto() {
            self.answer(&goto.request, Err(goto_sentence.into())).await;
        }
        self.answer_held_configuration(None).await;
    }

    /// Fails every release still waiting (the connection is gone).
    async fn fail_releases(&mut self, sentence: &str) {
        for release in self.stepping.take_releases() {
            match release {
                Release::Continue { request, .. } | Release::Step { request, .. } => {
                    self.answer(&request, Err(sentence.into())).await
                }
                Release::Resume { .. }
                | Release::AutoStep { .. }
                | Release::ResumeThread(_)
                | Release::FreeSilent
                | Release::Detach => {}
            }
        }
    }

    /// The DAP thread id names a known thread: its ptvsd id.
    pub(super) fn known_thread(&self, dap_thread: i64) -> Result<ThreadId, RequestError> {
        self.threads
            .remote_of(dap_thread)
            .ok_or_else(|| format!("there is no thread {dap_thread} (it may have exited)").into())
    }

    fn attached(&self) -> Result<(), RequestError> {
        if !self.connection.is_up() || !self.lifecycle.phase().is_attached() {
            return Err("not attached to a debuggee".into());
        }
        if self.lifecycle.is_detaching() {
            return Err("the session is detaching".into());
        }
        Ok(())
    }

    // ---- requests --------------------------------------------------------------------

    pub(super) async fn continue_request(&mut self, request: &Request, dap_thread: i64) -> Handled {
        self.attached()?;
        let thread = self.known_thread(dap_thread)?;
        self.release(Release::Continue { request: request.clone(), thread });
        Ok(Reply::Later)
    }

    pub(super) async fn step(&mut self, request: &Request, dap_thread: i64, kind: StepKind) -> Handled {
        self.attached()?;
        let thread = self.known_thread(dap_thread)?;
        if !self.threads.get(thread).is_some_and(|t| t.is_stopped()) {
            return Err(format!("thread {dap_thread} is running (it may be in native code and not stopped yet): pause the program first, or step the thread that stopped").into());
        }
        self.release(Release::Step { request: request.clone(), thread, kind });
        Ok(Reply::Later)
    }

    /// `pause`: one break-all in flight at a time; a second `pause` before the first was
    /// resumed is coalesced into it (two break-alls can deadlock ptvsd, §2.5).
    pub(super) async fn pause(&mut self, dap_thread: i64) -> Handled {
        self.attached()?;
        self.known_thread(dap_thread)?;
        if self.threads.begin_break_all() {
            self.send(Command::BreakAll).await?;
        } else {
            tracing::debug!("pause coalesced into the break-all in flight (or the program is stopped)");
        }
        Ok(Reply::Ack)
    }

    /// Sends the break-all of a `pause` that waited for a resume's fence reply, unless a
    /// stop was reported meanwhile (`Threads::break_all_due`).
    pub(super) async fn send_due_break_all(&mut self) {
        if self.threads.break_all_due() {
            let _ = self.send(Command::BreakAll).await;
        }
    }

    /// `disconnect` of an attach session: detach (the app keeps running and accepts the
    /// next debugger), or with `terminateDebuggee` end the app where ptvsd can.
    pub(super) async fn disconnect(&mut self, request: &Request, terminate_debuggee: bool) -> Handled {
        if !self.connection.is_up() {
            if let Phase::Attaching { .. } = self.lifecycle.phase() {
                // The attach is still connecting: detach it once it has.
                let Phase::Attaching { request: attach } = self.lifecycle.take() else {
                    return Ok(Reply::Ack);
                };
                self.answer(&attach, Err("the editor disconnected during the attach".into())).await;
                self.lifecycle.enter(Phase::Detaching(Disconnect {
                    reason: DetachReason::Disconnect(request.clone()),
                    sent: false,
                    confirmed: false,
                    deadline: Instant::now() + DISCONNECT_WAIT,
                }));
                // Answered when the detach is done (`finish_detach`).
                return Ok(Reply::Later);
            }
            self.lifecycle.close();
            return Ok(Reply::Ack);
        }
        if self.lifecycle.is_detaching() {
            return Err("the session is already disconnecting".into());
        }
        if terminate_debuggee {
            if let Some(thread) = self.threads.any_stopped() {
                self.end_app(request, thread).await;
                return Ok(Reply::Later);
            }
            self.output("important", "The app is running, so it cannot be terminated from here (ptvsd has no terminate command); detaching instead.\n").await;
        }
        // Answered when the detach is done (`finish_detach`).
        self.begin_detach(DetachReason::Disconnect(request.clone())).await;
        Ok(Reply::Later)
    }

    /// `terminate` of an attach session: detach, unless `terminateEndsApp` asks to end
    /// the app (possible only while a thread is stopped).
    pub(super) async fn terminate(&mut self, request: &Request) -> Handled {
        if matches!(self.lifecycle.phase(), Phase::Reconnecting) {
            // Stop trying to attach again; the session ends.
            if let Some(retrying) = self.connection.stop_retrying() {
                retrying.cancel();
            }
            self.lifecycle.enter(Phase::Ended);
        }
        if !self.connection.is_up() {
            // Answered before `terminated`.
            self.answer(request, Ok(None)).await;
            self.announce_terminated().await;
            return Ok(Reply::Later);
        }
        if self.lifecycle.is_detaching() {
            return Ok(Reply::Ack);
        }
        if self.config.as_ref().is_some_and(|c| c.terminate_ends_app) {
            let Some(thread) = self.threads.any_stopped() else {
                return Err(
                    "ptvsd can only end the app while it is stopped: pause it first, or disconnect to detach".into()
                );
            };
            self.end_app(request, thread).await;
            return Ok(Reply::Later);
        }
        // Answered before the detach fails what waits and ends the session.
        self.answer(request, Ok(None)).await;
        self.begin_detach(DetachReason::Terminate).await;
        Ok(Reply::Later)
    }

    /// Ends the app with `os._exit` on a stopped thread; the request is answered when the
    /// connection closes.
    async fn end_app(&mut self, request: &Request, thread: ThreadId) {
        for waiter in self.work.drain_all_queued() {
            self.fail_waiter(waiter, "the program is being ended").await;
        }
        let deadline = Instant::now() + self.request_timeout();
        self.work.push(thread, exit_job(), Waiter::Exit { request: request.clone() }, deadline);
    }

    /// Starts the detach: queued work fails, work in flight is answered first, the
    /// detach goes out once nothing is in flight and no handler query is outstanding.
    pub(super) async fn begin_detach(&mut self, reason: DetachReason) {
        let deadline = Instant::now() + DISCONNECT_WAIT;
        match self.lifecycle.take() {
            Phase::Attaching { request } => {
                // Wait for the connection, then detach it (`on_attached`).
                self.answer(&request, Err("the editor left during the attach".into())).await;
                self.lifecycle.enter(Phase::Detaching(Disconnect { reason, sent: false, confirmed: false, deadline }));
                return;
            }
            Phase::Detaching(d) => {
                self.lifecycle.enter(Phase::Detaching(d));
                return;
            }
            _ if !self.connection.is_up() => {
                self.lifecycle.enter(Phase::Detaching(Disconnect { reason, sent: false, confirmed: true, deadline }));
                self.finish_detach().await;
                return;
            }
            _ => {}
        }
        self.lifecycle.enter(Phase::Detaching(Disconnect { reason, sent: false, confirmed: false, deadline }));
        for waiter in self.work.drain_all_queued() {
            self.fail_waiter(waiter, "the session is ending (disconnect)").await;
        }
        self.fail_releases("the session is ending (disconnect)").await;
        self.release(Release::Detach);
    }

    /// Detaching and connected: queue the detach (after `on_attached` during a detach).
    pub(super) async fn try_detach(&mut self) {
        if self.connection.is_up() && !self.stepping.detach_queued() {
            self.release(Release::Detach);
        }
    }

    /// ptvsd confirmed the detach: finish once every handler query is answered.
    pub(super) async fn on_detach_confirmed(&mut self) {
        if let Some(d) = self.lifecycle.detach_mut() {
            d.confirmed = true;
        }
        if !self.exceptions.handler_queries_outstanding() {
            self.finish_detach().await;
        }
    }

    /// A handler answer was sent: a confirmed detach may finish now.
    pub(super) async fn after_handler_answer(&mut self) {
        if matches!(self.lifecycle.phase(), Phase::Detaching(d) if d.confirmed)
            && !self.exceptions.handler_queries_outstanding()
        {
            self.finish_detach().await;
        }
    }

    /// Ends the detach: close, answer whatever still waits, and answer the editor.
    pub(super) async fn finish_detach(&mut self) {
        let Phase::Detaching(disconnect) = self.lifecycle.take() else { return };
        // Output the program printed before the detach is said before the session ends.
        self.flush_program_output().await;
        self.close_remote().await;
        for waiter in self.work.drain_all() {
            self.fail_waiter(waiter, "the session ended before the debuggee answered").await;
        }
        self.end_waiting_releases("the session ended", "the session ended before the debuggee answered").await;
        match disconnect.reason {
            DetachReason::Disconnect(request) => {
                self.answer(&request, Ok(None)).await;
                self.lifecycle.close();
            }
            DetachReason::Terminate => {
                self.output("console", "Detached: the app keeps running and accepts the next debugger.\n").await;
                self.lifecycle.enter(Phase::Ended);
                self.announce_terminated().await;
            }
            DetachReason::EditorClosed => self.lifecycle.enter(Phase::Closed),
        }
    }
}
