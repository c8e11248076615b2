//! Where the session is in its life, as one value each instead of a flag per fact.
//!
//! Owns: [`Lifecycle`], the component holding the phase, the attach break and how the
//! connection ended (ptvsd's own attach failure, the program's goodbye); [`Phase`]
//! (initialize → attach → configure → run → detach → end), [`AttachBreak`] (the attach
//! break ptvsd sends after an attach: awaited, held until `configurationDone`, running
//! its repairs, done) and [`Disconnect`] (the steps of ending an attach session).
//! Must not know: DAP messages, the connection.

use tokio::time::Instant;

use crate::dap::types::Request;
use crate::legacy::messages::ThreadId;

/// Where the session is in its life: the one component that says which requests make
/// sense now, whether the attach break is still to come, and how the connection ended.
#[derive(Debug)]
pub struct Lifecycle {
    /// Changed only by [`Lifecycle::enter`] and [`Lifecycle::take`].
    phase: Phase,
    /// Changed only by the attach-break methods below.
    attach_break: AttachBreak,
    /// ptvsd reported that its own attach failed after accepting it (a race in ptvsd).
    attach_failure: Option<String>,
    /// The program said goodbye (DETC we did not ask for) before the connection closed.
    program_exited: bool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            phase: Phase::Uninitialized,
            attach_break: AttachBreak::Awaited { idle_notice: None },
            attach_failure: None,
            program_exited: false,
        }
    }
}

impl Lifecycle {
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The one way the phase changes (logged by name).
    pub fn enter(&mut self, next: Phase) {
        if std::mem::discriminant(&self.phase) != std::mem::discriminant(&next) {
            // By name only: an `Attaching` phase holds the attach request, whose URL
            // carries the secret.
            tracing::debug!(from = self.phase.name(), to = next.name(), "session phase");
        }
        self.phase = next;
    }

    /// Takes the phase out to act on what it holds (the attach request, the detach's
    /// steps), leaving `Ended` until the caller enters the next one.
    pub fn take(&mut self) -> Phase {
        std::mem::replace(&mut self.phase, Phase::Ended)
    }

    /// ptvsd said its own attach failed (`line`, its last line) after accepting it; it
    /// closes next.
    pub fn attach_failed(&mut self, line: String) {
        self.attach_failure = Some(line);
    }

    /// What ptvsd said of its failed attach, once.
    pub fn take_attach_failure(&mut self) -> Option<String> {
        self.attach_failure.take()
    }

    /// The program said goodbye (ptvsd's atexit hook) before the connection closed.
    pub fn program_said_goodbye(&mut self) {
        self.program_exited = true;
    }

    /// The program said goodbye on this connection.
    pub fn program_exited(&self) -> bool {
        self.program_exited
    }

    /// A new connection to the program: nothing is known of how it ends.
    pub fn new_connection(&mut self) {
        self.program_exited = false;
        self.attach_failure = None;
    }

    /// Where the attach break is.
    pub fn attach_break(&self) -> AttachBreak {
        self.attach_break
    }

    /// A new connection: its attach break is still to come. `idle_notice`: when to say the
    /// app is idle if it has not come by then (once the session is configured).
    pub fn await_attach_break(&mut self, idle_notice: Option<Instant>) {
        self.attach_break = AttachBreak::Awaited { idle_notice };
    }

    /// The attach break came on `thread` before `configurationDone`: held so breakpoints
    /// are in place first.
    pub fn hold_attach_break(&mut self, thread: ThreadId) {
        self.attach_break = AttachBreak::Held(thread);
    }

    /// The `count` attach-break evaluations start on `thread`; `then` says what happens to
    /// the stop once they are done.
    pub fn start_repairs(&mut self, thread: ThreadId, then: AfterRepairs, count: usize) {
        self.attach_break = AttachBreak::Repairing { thread, then, remaining: count };
    }

    /// One attach-break evaluation answered. After the last one the attach break is done,
    /// and this returns the stop they ran at and what happens to it.
    pub fn repair_answered(&mut self) -> Option<(ThreadId, AfterRepairs)> {
        let AttachBreak::Repairing { thread, then, remaining } = self.attach_break else { return None };
        let remaining = remaining.saturating_sub(1);
        if remaining > 0 {
            self.attach_break = AttachBreak::Repairing { thread, then, remaining };
            return None;
        }
        self.attach_break = AttachBreak::Done;
        Some((thread, then))
    }

    /// Attached and configured.
    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running)
    }

    /// Ending the attach.
    pub fn is_detaching(&self) -> bool {
        matches!(self.phase, Phase::Detaching(_))
    }

    /// The detach in progress, if any.
    pub fn detach_mut(&mut self) -> Option<&mut Disconnect> {
        match &mut self.phase {
            Phase::Detaching(d) => Some(d),
            _ => None,
        }
    }

    /// The loop ends.
    pub fn close(&mut self) {
        self.enter(Phase::Closed);
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The earliest of the detach's deadline and the time to say the app is idle.
    pub fn deadline(&self) -> Option<Instant> {
        let detach = match &self.phase {
            Phase::Detaching(d) => Some(d.deadline),
            _ => None,
        };
        let idle = match self.attach_break {
            AttachBreak::Awaited { idle_notice } => idle_notice,
            _ => None,
        };
        detach.into_iter().chain(idle).min()
    }

    /// Whether the time to say the app is idle came by `now` (once: the notice is then
    /// cleared).
    pub fn take_idle_notice(&mut self, now: Instant) -> bool {
        match self.attach_break {
            AttachBreak::Awaited { idle_notice: Some(at) } if at <= now => {
                self.attach_break = AttachBreak::Awaited { idle_notice: None };
                true
            }
            _ => false,
        }
    }

    /// Whether the detach in progress ran out of time by `now`.
    pub fn detach_overdue(&self, now: Instant) -> bool {
        matches!(&self.phase, Phase::Detaching(d) if d.deadline <= now)
    }
}

/// The session's phase.
#[derive(Debug)]
pub enum Phase {
    /// Before `initialize`: only `initialize` and `disconnect` are answered.
    Uninitialized,
    /// Initialized, not attached.
    Idle,
    /// `attach`/`launch` is connecting; answered when the connection is up (or failed).
    Attaching { request: Request },
    /// Attached; `configurationDone` not yet received.
    Configuring,
    /// Attached and configured.
    Running,
    /// Ending the attach (see [`Disconnect`]).
    Detaching(Disconnect),
    /// The connection ended and `reconnect` is on: the session stays open while the
    /// retries run (`reconnecting`).
    Reconnecting,
    /// The connection is gone; waiting for the editor's `disconnect`.
    Ended,
    /// The loop ends.
    Closed,
}

impl Phase {
    /// The phase's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Uninitialized => "uninitialized",
            Phase::Idle => "idle",
            Phase::Attaching { .. } => "attaching",
            Phase::Configuring => "configuring",
            Phase::Running => "running",
            Phase::Detaching(_) => "detaching",
            Phase::Reconnecting => "reconnecting",
            Phase::Ended => "ended",
            Phase::Closed => "closed",
        }
    }

    pub fn is_attached(&self) -> bool {
        matches!(self, Phase::Configuring | Phase::Running | Phase::Detaching(_))
    }
}

/// What the editor asked for that ends in a detach.
#[derive(Debug)]
pub enum DetachReason {
    /// `disconnect`: answered once ptvsd confirmed (or the wait ended); then the loop ends.
    Disconnect(Request),
    /// `terminate` of an attach session: answered at once; `terminated` follows the detach.
    Terminate,
    /// The editor closed its side.
    EditorClosed,
}

/// The steps of a detach. Invariant (threading doc §4.3/§4.4): every handler query
/// (REQH) is answered in every step; the detach goes out only when no query is
/// outstanding and no work is in flight on a thread.
#[derive(Debug)]
pub struct Disconnect {
    pub reason: DetachReason,
    /// `detach` has been sent; waiting for ptvsd's confirmation.
    pub sent: bool,
    /// ptvsd confirmed the detach; waiting only for handler answers still being computed.
    pub confirmed: bool,
    /// The whole disconnect ends (answered, connection closed) by then.
    pub deadline: Instant,
}

/// The attach break (LOAD): ptvsd stops one thread after every attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachBreak {
    /// Not arrived yet; `idle_notice`: when to say the app is idle (set at
    /// `configurationDone`).
    Awaited { idle_notice: Option<Instant> },
    /// Arrived before `configurationDone`: held so breakpoints are in place first.
    Held(ThreadId),
    /// The attach-break evaluations run on `thread`; then `then`.
    Repairing { thread: ThreadId, then: AfterRepairs, remaining: usize },
    /// Done (or the repairs ran at the first stop instead).
    Done,
}

/// What happens to the stop the attach-break evaluations ran at, once they are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRepairs {
    /// Report it as the entry stop (stopOnEntry).
    Report,
    /// Release it (the attach break without stopOnEntry).
    Release,
    /// Nothing: it is a stop the editor was already told about (the app was idle and
    /// this is its first stop).
    Keep,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attach_break_is_done_when_its_last_repair_answers_and_says_what_follows() {
        let mut lifecycle = Lifecycle::default();
        lifecycle.hold_attach_break(7);
        assert_eq!(lifecycle.attach_break(), AttachBreak::Held(7));
        lifecycle.start_repairs(7, AfterRepairs::Release, 2);
        assert_eq!(lifecycle.repair_answered(), None);
        assert_eq!(lifecycle.repair_answered(), Some((7, AfterRepairs::Release)));
        assert_eq!(lifecycle.attach_break(), AttachBreak::Done);
        // A late answer after the attach break is done changes nothing.
        assert_eq!(lifecycle.repair_answered(), None);
        assert_eq!(lifecycle.attach_break(), AttachBreak::Done);
    }

    #[test]
    fn the_idle_notice_is_given_once_when_due() {
        let mut lifecycle = Lifecycle::default();
        let now = Instant::now();
        lifecycle.await_attach_break(Some(now));
        assert_eq!(lifecycle.deadline(), Some(now));
        assert!(lifecycle.take_idle_notice(now));
        assert!(!lifecycle.take_idle_notice(now));
        assert_eq!(lifecycle.attach_break(), AttachBreak::Awaited { idle_notice: None });
    }
}
