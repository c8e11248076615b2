//! The debuggee's threads as ptvsd runs them: one state machine per thread.
//!
//! Owns: [`Threads`]: small DAP thread ids for ptvsd's large `thread.get_ident()` values
//! (which the OS reuses), cached names, the last frame list of each thread, each thread's
//! [`ThreadState`], the resume generation, the fence after the last resume, and the one
//! break-all (`pause`) in flight. Must not know: DAP messages, the scheduler's queues.
//!
//! # The thread-state rule (from ptvsd's source, `shared/docs/ptvsd-threading.md`)
//!
//! ptvsd parks a stopping thread inside `Thread.block()`: it sends the thread's *named*
//! frame list, then takes the thread's `_block_starting_lock`, sets `_is_blocked`, sends
//! the stop event (BRKH/STPD/ASBR/EXC2/LOAD) and releases the lock (V30:1215–1246,
//! D321:1255–1286). A resume (`resa`, every step) takes the same lock per thread and
//! releases only threads whose `_is_blocked` is set (V30:1842–1853). ptvsd's command loop
//! is sequential, so:
//!
//! 1. a stop event written *before* the loop processed a resume belongs to a thread that
//!    resume released: it is **stale**;
//! 2. the reply to a command sent right after the resume (the **fence**:
//!    `bkgh`/`legacyGetBreakpointHitCount`) is written after the resume finished, so a
//!    stop event received after the fence reply is **new**;
//! 3. a stop event received between sending the resume and the fence reply is
//!    **ambiguous** and is settled by asking ptvsd: `exec "0"` on the thread's frame 0
//!    answers a result when `_is_blocked` is set (parked: a new stop) and `<expression
//!    cannot be evaluated at this time>` when it is not (running: stale). Verified on
//!    3.0.0/py3.6 and 3.2.1/py3.11 (`probe/threading/probe_parked.py`, threading doc §2.3,
//!    §8). Servers without `bkgh` (protocol v2/v4, ptvsd 2.x) have no fence: every stop
//!    after a resume is settled by the probe.
//!
//! Refinements found against real ptvsd (tests/concurrency.rs, tests/stress.rs, 8–50
//! worker threads on 3.0.0/py3.6 and 3.2.1/py3.11), applied in `events`/`stepping`:
//! * the probe is queued as work on the thread; for a thread that was *waking* from the
//!   resume it may run only when that thread next blocks (a silent stop elsewhere), so a
//!   probe result whose frame list (ptvsd sends one before every `exec` result) shows
//!   another place than the report did means the report was stale; the thread is parked
//!   silently then;
//! * a thread that was inside `async_break` when a resume came is not released by it and
//!   parks with no event (§2.2): a named frame list with no stop event in the same burst,
//!   while no stop is shown and no pause is in flight, is probed, and a parked thread is
//!   freed with another resume (safe: the attach-break repair makes a second release a
//!   no-op);
//! * the end of a step (`STPD`) of the thread the step was sent to, parked when it went
//!   out, is new before the fence reply too ([`Threads::verdict_for`]): a parked thread
//!   writes nothing until released, and only the stepping thread writes its `STPD`;
//! * a stop proven while a resume the editor asked for waits in the gate is absorbed by
//!   that resume (not reported); a stop reported before a resume's response is over when
//!   the response says `allThreadsContinued`.
//!
//! Consequences encoded here:
//! * a thread is [`ThreadState::Stopped`] only on a stop event that is new by rule 2 or
//!   proven by rule 3; its `generation` is the resume generation it stopped in, and a
//!   resume moves every thread to [`ThreadState::Resuming`] until the fence reply;
//! * a frame list never changes whether a thread is stopped: a named list is sent *before*
//!   the thread is blocked (so it is at most [`ThreadState::Stopping`]: its frames may be
//!   shown, nothing may be sent to it), and a list without a name comes from another
//!   thread's `update_all_thread_stacks`, which saw this thread *not* blocked (§3): it
//!   never touches a stopped thread's state or frames;
//! * at most one break-all is in flight: a second `pause` before a resume processed the
//!   first is coalesced into it (two `brka` can deadlock two threads on each other's
//!   `_block_starting_lock`, §2.5; the attach repairs also make that wait impossible); a
//!   `pause` during a resume goes out at the fence reply, unless a stop was reported
//!   meanwhile ([`Threads::break_all_due`]).

use std::collections::{BTreeMap, HashMap};

use crate::legacy::messages::{Frame, FrameKind, ThreadId};

/// Where one thread is, as far as ptvsd's own checks are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadState {
    /// Running: nothing that needs a parked thread may be sent to it.
    Running,
    /// It sent its own named frame list (it entered `block()`), but no stop event that
    /// proves it is parked. Its frames may be shown; nothing may be sent to it.
    Stopping,
    /// A stop event arrived while a resume was not known to be processed: the `exec "0"`
    /// probe is asking ptvsd whether it is parked.
    Probing,
    /// Parked in ptvsd in resume generation `generation`: steps, evaluations, children
    /// and set-line may be sent.
    Stopped { generation: u64 },
    /// A resume was sent and its fence reply has not arrived.
    Resuming,
}

/// What the session knows of one thread.
#[derive(Debug, Clone)]
pub struct ThreadInfo {
    pub dap_id: i64,
    pub name: Option<String>,
    /// The last frame list ptvsd sent for it while it was stopping or stopped (or, while
    /// it runs, any list: shown nowhere).
    pub frames: Vec<Frame>,
    pub state: ThreadState,
    /// The reason of the `stopped` event reported for it (`None` for a thread that stopped
    /// silently with the others), until it runs again.
    pub stop_reason: Option<String>,
}

impl ThreadInfo {
    /// Parked in the current generation: work may be sent to it.
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, ThreadState::Stopped { .. })
    }

    /// Its frames belong to a stop (confirmed or on its way): `stackTrace` shows them.
    pub fn shows_frames(&self) -> bool {
        matches!(self.state, ThreadState::Stopped { .. } | ThreadState::Stopping | ThreadState::Probing)
    }
}

/// The fence after the last resume (rule 2 above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fence {
    /// No resume since the last fence reply: stop events are new.
    Passed,
    /// Waiting for the reply with this request id.
    Waiting(i64),
    /// The server has no `bkgh` (protocol v2/v4): every stop after a resume is probed.
    Unavailable,
}

/// How a stop event is to be treated (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopVerdict {
    /// After the fence: a new stop.
    New,
    /// Before the fence reply: ask ptvsd with the probe.
    Ambiguous,
}

/// All known threads and the resume/fence/pause bookkeeping that decides their states.
#[derive(Debug)]
pub struct Threads {
    by_remote: HashMap<ThreadId, ThreadInfo>,
    by_dap: BTreeMap<i64, ThreadId>,
    next_dap_id: i64,
    /// Incremented by every resume the session sends (continue, steps, resume-one).
    generation: u64,
    fence: Fence,
    next_fence_id: i64,
    /// A break-all was sent (or is due at the fence reply) and no resume was sent since.
    break_all_in_flight: bool,
    /// A `pause` arrived while a resume's fence was pending: the break-all goes out at the
    /// fence reply (a break-all must not race the resume, §2.5).
    break_all_after_fence: bool,
    /// A `stopped` event was sent in the current generation.
    reported_in_generation: bool,
    /// Any resume was ever sent (before the first one every stop is new).
    resumed_once: bool,
    /// The thread the last resume stepped, when it was parked as the step went out: the
    /// one stop report that cannot be stale before the fence (see [`Threads::verdict`]).
    stepped_from_park: Option<ThreadId>,
}

impl Default for Threads {
    fn default() -> Self {
        Self {
            by_remote: HashMap::new(),
            by_dap: BTreeMap::new(),
            next_dap_id: 0,
            generation: 0,
            fence: Fence::Passed,
            next_fence_id: 1_000_000,
            break_all_in_flight: false,
            break_all_after_fence: false,
            reported_in_generation: false,
            resumed_once: false,
            stepped_from_park: None,
        }
    }
}

impl Threads {
    /// Registers a thread; returns its DAP id and whether it is new.
    pub fn ensure(&mut self, remote: ThreadId) -> (i64, bool) {
        if let Some(info) = self.by_remote.get(&remote) {
            return (info.dap_id, false);
        }
        self.next_dap_id += 1;
        let dap_id = self.next_dap_id;
        self.by_remote.insert(
            remote,
            ThreadInfo { dap_id, name: None, frames: Vec::new(), state: ThreadState::Running, stop_reason: None },
        );
        self.by_dap.insert(dap_id, remote);
        (dap_id, true)
    }

    /// Forgets a thread (its id may be reused by a new one); returns its DAP id.
    pub fn remove(&mut self, remote: ThreadId) -> Option<i64> {
        let info = self.by_remote.remove(&remote)?;
        self.by_dap.remove(&info.dap_id);
        Some(info.dap_id)
    }

    pub fn remote_of(&self, dap_id: i64) -> Option<ThreadId> {
        self.by_dap.get(&dap_id).copied()
    }

    pub fn get(&self, remote: ThreadId) -> Option<&ThreadInfo> {
        self.by_remote.get(&remote)
    }

    /// The kind of the thread's innermost frame (Python when its frames are not known),
    /// which ptvsd wants with every `exec`/`chld` on that frame.
    pub fn top_frame_kind(&self, remote: ThreadId) -> FrameKind {
        self.get(remote).and_then(|t| t.frames.first()).map(|f| f.kind).unwrap_or(FrameKind::Python)
    }

    /// ptvsd moved the thread's current line (`setl`) and sends no new frame list: its top
    /// frame is now at `line`.
    pub fn moved_to_line(&mut self, remote: ThreadId, line: i64) {
        if let Some(frame) = self.by_remote.get_mut(&remote).and_then(|t| t.frames.first_mut()) {
            frame.line = line;
        }
    }

    /// The current resume generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Stores a frame list. A named one (the thread's own, sent as it enters `block()`
    /// or after an evaluation) moves a running thread to `Stopping` and keeps a good name
    /// over a `Dummy-N` one; one without a name changes nothing for a thread that is
    /// stopping or stopped. Returns whether the thread is new, and whether it just became
    /// `Stopping` (it entered `block()`).
    pub fn frame_list(&mut self, remote: ThreadId, name: Option<String>, frames: Vec<Frame>) -> (bool, bool) {
        let (_, new) = self.ensure(remote);
        let Some(info) = self.by_remote.get_mut(&remote) else { return (new, false) };
        let mut stopping = false;
        match name {
            Some(name) => {
                if info.name.is_none() || !name.starts_with("Dummy-") {
                    info.name = Some(name);
                }
                if matches!(info.state, ThreadState::Running | ThreadState::Resuming) {
                    info.state = ThreadState::Stopping;
                    stopping = true;
                }
                info.frames = frames;
            }
            None => {
                if !info.shows_frames() {
                    info.frames = frames;
                }
            }
        }
        (new, stopping)
    }

    /// A thread that parks without a stop event now would stay parked for good: a resume
    /// was sent since the last stop the editor was shown, and no pause is in flight. (A
    /// thread that was inside ptvsd's `async_break` when a resume came is not released
    /// by it, threading doc §2.2; it must be freed with another resume.)
    pub fn silent_stop_strands(&self) -> bool {
        self.resumed_once && !self.reported_in_generation && !self.break_all_in_flight
    }

    /// How to treat a stop event that just arrived (module doc, rules 1–3).
    ///
    /// One refinement of rule 3: the end of a step (`STPD`) of the thread the step was
    /// sent to, when that thread was parked as the step went out, is new even before the
    /// fence reply. A parked thread writes nothing until a resume releases it (it waits in
    /// `Thread.block()`), the step is the only resume since (every resume clears this),
    /// and `STPD` is written only by the stepping thread itself, once per step, before it
    /// blocks again (V30:1120–1127, 1184; D321:1157–1164, 1223; the loop writes one only
    /// for `legacyAutoResumeThread`, which the adapter never sends): so it was written
    /// after the loop processed this step. Without it, ptvsd's stepping thread regularly beats
    /// the loop's fence reply (the loop gives up the GIL to read the fence), and the probe
    /// costs one more round trip per step.
    pub fn verdict_for(&mut self, remote: ThreadId, step_done: bool) -> StopVerdict {
        if step_done && matches!(self.fence, Fence::Waiting(_)) && self.stepped_from_park == Some(remote) {
            self.stepped_from_park = None;
            return StopVerdict::New;
        }
        self.verdict()
    }

    pub fn verdict(&self) -> StopVerdict {
        match self.fence {
            Fence::Passed => StopVerdict::New,
            Fence::Waiting(_) => StopVerdict::Ambiguous,
            Fence::Unavailable if self.resumed_once => StopVerdict::Ambiguous,
            Fence::Unavailable => StopVerdict::New,
        }
    }

    /// The thread is parked now (a new stop, or the probe proved it).
    pub fn confirm_stopped(&mut self, remote: ThreadId) {
        self.ensure(remote);
        let generation = self.generation;
        if let Some(info) = self.by_remote.get_mut(&remote) {
            info.state = ThreadState::Stopped { generation };
        }
    }

    /// The probe is asking whether the thread is parked.
    pub fn start_probe(&mut self, remote: ThreadId) {
        self.ensure(remote);
        if let Some(info) = self.by_remote.get_mut(&remote) {
            if !info.is_stopped() {
                info.state = ThreadState::Probing;
            }
        }
    }

    /// The probe (or a refused evaluation) showed the thread is not parked.
    pub fn mark_running(&mut self, remote: ThreadId) {
        if let Some(info) = self.by_remote.get_mut(&remote) {
            info.state = ThreadState::Running;
            info.stop_reason = None;
        }
    }

    /// A resume of every thread (continue, any step) is being sent: returns the fence
    /// request id to send right after it (none when the server has no fence).
    pub fn resume_all(&mut self) -> Option<i64> {
        self.stepped_from_park = None;
        self.generation += 1;
        self.resumed_once = true;
        self.reported_in_generation = false;
        self.break_all_in_flight = false;
        self.break_all_after_fence = false;
        for info in self.by_remote.values_mut() {
            if info.state != ThreadState::Running {
                info.state = ThreadState::Resuming;
            }
            info.stop_reason = None;
        }
        self.arm_fence()
    }

    /// A resume of one thread (`rest`) is being sent.
    /// A step of `remote` (which resumes every thread) is being sent.
    pub fn step_all(&mut self, remote: ThreadId) -> Option<i64> {
        let parked = self.get(remote).is_some_and(ThreadInfo::is_stopped);
        let fence = self.resume_all();
        self.stepped_from_park = parked.then_some(remote);
        fence
    }

    pub fn resume_one(&mut self, remote: ThreadId) -> Option<i64> {
        self.stepped_from_park = None;
        self.generation += 1;
        self.resumed_once = true;
        if let Some(info) = self.by_remote.get_mut(&remote) {
            info.state = ThreadState::Resuming;
            info.stop_reason = None;
        }
        self.arm_fence()
    }

    fn arm_fence(&mut self) -> Option<i64> {
        let id = self.marker_id()?;
        self.fence = Fence::Waiting(id);
        Some(id)
    }

    /// A new id for a hit-count request (`bkgh`) whose reply marks the point where ptvsd's
    /// loop has processed what was sent before it (the fence after a resume is one);
    /// `None` when this server answers none (protocol v2/v4, ptvsd 2.0/2.1).
    pub fn marker_id(&mut self) -> Option<i64> {
        if self.fence == Fence::Unavailable {
            return None;
        }
        self.next_fence_id += 1;
        Some(self.next_fence_id)
    }

    /// The server cannot answer a fence: settle every later stop with the probe.
    pub fn fence_unavailable(&mut self) {
        self.fence = Fence::Unavailable;
    }

    /// A hit-count reply arrived; returns whether it was the fence of the last resume
    /// (then every thread still resuming is running; a break-all may be due,
    /// [`Threads::break_all_due`]).
    pub fn fence_reply(&mut self, request_id: i64) -> bool {
        if self.fence != Fence::Waiting(request_id) {
            return false;
        }
        self.fence = Fence::Passed;
        for info in self.by_remote.values_mut() {
            if info.state == ThreadState::Resuming {
                info.state = ThreadState::Running;
            }
        }
        true
    }

    /// Whether the break-all a `pause` left for the fence reply goes out now: the fence
    /// passed and no stop was reported since the resume (a reported stop answers the
    /// pause: sending it then would arm ptvsd's flag for nothing, and the next stop,
    /// whatever its reason, would send one more stop report to settle, §2.5).
    pub fn break_all_due(&mut self) -> bool {
        if !self.break_all_after_fence || self.fence != Fence::Passed {
            return false;
        }
        self.break_all_after_fence = false;
        true
    }

    /// `pause`: whether a break-all must be sent now (false: one is in flight or due at
    /// the fence reply, or the program is already shown stopped; the request is
    /// coalesced into it).
    pub fn begin_break_all(&mut self) -> bool {
        if self.break_all_in_flight || (self.reported_in_generation && self.any_stopped().is_some()) {
            return false;
        }
        self.break_all_in_flight = true;
        if matches!(self.fence, Fence::Waiting(_)) {
            self.break_all_after_fence = true;
            return false;
        }
        true
    }

    /// A break-all was sent and no resume went out since.
    pub fn break_all_in_flight(&self) -> bool {
        self.break_all_in_flight
    }

    /// A `stopped` event for a pause is the second of its generation (a duplicate ASBR):
    /// the editor already shows every thread stopped.
    pub fn already_reported(&self) -> bool {
        self.reported_in_generation
    }

    /// A `stopped` event is being sent for `remote`.
    pub fn reported(&mut self, remote: ThreadId, reason: &str) {
        self.reported_in_generation = true;
        // The program is shown stopped: a pause waiting for the fence is answered by it.
        self.break_all_after_fence = false;
        if let Some(info) = self.by_remote.get_mut(&remote) {
            info.stop_reason = Some(reason.to_string());
        }
    }

    /// The connection is gone or being closed: nothing is parked any more.
    pub fn forget_states(&mut self) {
        for info in self.by_remote.values_mut() {
            info.state = ThreadState::Running;
            info.stop_reason = None;
        }
    }

    /// A thread parked in the current generation (the lowest DAP id).
    pub fn any_stopped(&self) -> Option<ThreadId> {
        self.iter().find(|(_, i)| i.is_stopped()).map(|(t, _)| t)
    }

    /// A thread parked in the current generation whose frame list shows at least one frame
    /// (ptvsd hides its own code's frames: a thread stopped inside it shows none); the
    /// lowest DAP id.
    pub fn any_stopped_with_frames(&self) -> Option<ThreadId> {
        self.iter().find(|(_, i)| i.is_stopped() && !i.frames.is_empty()).map(|(t, _)| t)
    }

    /// Threads in DAP id order: (remote id, info).
    pub fn iter(&self) -> impl Iterator<Item = (ThreadId, &ThreadInfo)> {
        self.by_dap.values().filter_map(|remote| self.by_remote.get(remote).map(|info| (*remote, info)))
    }

    pub fn len(&self) -> usize {
        self.by_remote.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_remote.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reused_ids_get_fresh_dap_ids_and_names_survive_placeholders() {
        let mut t = Threads::default();
        let (a, new) = t.ensure(139950154464128);
        assert!(new);
        let _ = t.frame_list(139950154464128, Some("MainThread".into()), vec![]);
        let _ = t.frame_list(139950154464128, None, vec![]);
        let _ = t.frame_list(139950154464128, Some("Dummy-2".into()), vec![]);
        assert_eq!(t.get(139950154464128).and_then(|i| i.name.clone()).as_deref(), Some("MainThread"));
        assert_eq!(t.remove(139950154464128), Some(a));
        let (b, _) = t.ensure(139950154464128);
        assert_ne!(a, b);
        assert_eq!(t.remote_of(b), Some(139950154464128));
        assert_eq!(t.remote_of(a), None);
    }

    fn frame(line: i64) -> Frame {
        Frame {
            start_line: 1,
            end_line: 9,
            line,
            function: "f".into(),
            file: "/a.py".into(),
            arg_count: 0,
            kind: crate::legacy::messages::FrameKind::Python,
            django_source: None,
            variables: vec![],
        }
    }

    #[test]
    fn a_nameless_frame_list_never_changes_a_stopped_thread() {
        let mut t = Threads::default();
        assert_eq!(t.frame_list(1, Some("worker".into()), vec![frame(5)]), (true, true));
        assert_eq!(t.get(1).map(|i| i.state), Some(ThreadState::Stopping));
        t.confirm_stopped(1);
        assert_eq!(t.frame_list(1, None, vec![frame(7), frame(8)]), (false, false));
        let info = t.get(1).unwrap();
        assert!(info.is_stopped());
        assert_eq!(info.frames.len(), 1);
        assert_eq!(info.frames[0].line, 5);
    }

    #[test]
    fn only_the_step_end_of_the_thread_stepped_from_a_park_is_new_before_the_fence() {
        let mut t = Threads::default();
        t.confirm_stopped(1);
        t.ensure(2);
        t.step_all(1).unwrap();
        // Another thread's report, or another kind of stop of the stepped thread: probe.
        assert_eq!(t.verdict_for(2, true), StopVerdict::Ambiguous);
        assert_eq!(t.verdict_for(1, false), StopVerdict::Ambiguous);
        // The step's end: new, once.
        assert_eq!(t.verdict_for(1, true), StopVerdict::New);
        assert_eq!(t.verdict_for(1, true), StopVerdict::Ambiguous);
        // A thread that was not parked when the step went out: its report may be stale.
        let mut t = Threads::default();
        t.ensure(1);
        t.step_all(1).unwrap();
        assert_eq!(t.verdict_for(1, true), StopVerdict::Ambiguous);
        // Any later resume forgets the step.
        let mut t = Threads::default();
        t.confirm_stopped(1);
        t.step_all(1).unwrap();
        t.resume_all().unwrap();
        assert_eq!(t.verdict_for(1, true), StopVerdict::Ambiguous);
    }

    #[test]
    fn stops_before_the_fence_reply_are_ambiguous_and_after_it_new() {
        let mut t = Threads::default();
        t.confirm_stopped(1);
        assert_eq!(t.verdict(), StopVerdict::New);
        let fence = t.resume_all().unwrap();
        assert_eq!(t.get(1).map(|i| i.state), Some(ThreadState::Resuming));
        assert_eq!(t.verdict(), StopVerdict::Ambiguous);
        assert!(!t.fence_reply(fence - 1));
        assert!(t.fence_reply(fence));
        assert_eq!(t.get(1).map(|i| i.state), Some(ThreadState::Running));
        assert_eq!(t.verdict(), StopVerdict::New);
        t.fence_unavailable();
        assert_eq!(t.resume_all(), None);
        assert_eq!(t.verdict(), StopVerdict::Ambiguous);
    }

    #[test]
    fn a_second_pause_is_coalesced_until_a_resume() {
        let mut t = Threads::default();
        t.ensure(1);
        assert!(t.begin_break_all());
        assert!(!t.begin_break_all());
        t.confirm_stopped(1);
        t.reported(1, "pause");
        assert!(!t.begin_break_all(), "stopped already");
        let fence = t.resume_all().unwrap();
        assert!(!t.begin_break_all(), "not before the resume is processed");
        assert!(t.fence_reply(fence));
        assert!(t.break_all_due(), "at the fence reply");
        assert!(!t.begin_break_all());
    }

    #[test]
    fn a_pause_waiting_for_the_fence_is_answered_by_a_stop_reported_meanwhile() {
        let mut t = Threads::default();
        t.confirm_stopped(1);
        t.ensure(2);
        let fence = t.resume_all().unwrap();
        assert!(!t.begin_break_all(), "not before the resume is processed");
        assert!(!t.break_all_due(), "not before the fence reply");
        // A stop of thread 2 was proven and reported before the fence reply.
        t.confirm_stopped(2);
        t.reported(2, "breakpoint");
        assert!(t.fence_reply(fence));
        assert!(!t.break_all_due(), "the program is shown stopped");
        assert!(!t.begin_break_all());
    }
}
