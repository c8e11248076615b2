//! The per-thread work scheduler: everything that runs *on* a stopped debuggee thread.
//!
//! Owns: [`Scheduler`]: one queue per thread of [`Job`]s (`exec`, `chld`) with what waits
//! for each answer, the one item per thread in flight, the execution ids, and the
//! batching of watch evaluations. Must not know: DAP, thread states (the session only
//! asks it for the next command of a thread it knows to be parked), or what a waiter does
//! with its answer.
//!
//! Why: ptvsd keeps **one** work slot per thread (`Thread.unblock_work`): a second `exec`
//! or `chld` sent before the first was answered overwrites it (the first is lost and the
//! loop raises "release unlocked lock") or is refused ("previous evaluation has not
//! completed", an empty `CHLD`) — threading doc §1.3. So exactly one item per thread is
//! in flight; the next goes out when the answer (or its failure, or its deadline) frees
//! the slot. Every item ends in exactly one answer: its result, a failure, or an error
//! when the thread resumes or the connection drops.
//!
//! Batching: evaluations marked `batchable` (watch expressions) that wait together for
//! the same frame are sent as **one** `chld` of the tuple `(e1, e2, …)`: ptvsd enumerates
//! a tuple's items as children `[0]`, `[1]`, …, each a full value record. If the tuple
//! raises, ptvsd answers an empty list; the items are then sent again one at a time, so
//! each error is attributed to its own expression.

use std::collections::{HashMap, VecDeque};

use tokio::time::Instant;

use crate::legacy::messages::{Command, ExecutionId, FrameIndex, FrameKind, ReprKind, ThreadId};

/// At most this many evaluations go into one batch.
pub const MAX_BATCH: usize = 16;

/// One thing to run on a stopped thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Execute { text: String, frame: FrameIndex, frame_kind: FrameKind, repr_kind: ReprKind, batchable: bool },
    Children { text: String, frame: FrameIndex, frame_kind: FrameKind },
}

impl Job {
    /// An evaluation that may share one round trip with others for the same frame.
    pub fn watch(text: String, frame: FrameIndex, frame_kind: FrameKind) -> Job {
        Job::Execute { text, frame, frame_kind, repr_kind: ReprKind::Normal, batchable: true }
    }

    pub fn execute(text: String, frame: FrameIndex, frame_kind: FrameKind, repr_kind: ReprKind) -> Job {
        Job::Execute { text, frame, frame_kind, repr_kind, batchable: false }
    }

    fn batch_key(&self) -> Option<(FrameIndex, FrameKind)> {
        match self {
            Job::Execute { frame, frame_kind, repr_kind: ReprKind::Normal, batchable: true, .. } => {
                Some((*frame, *frame_kind))
            }
            _ => None,
        }
    }

    fn text(&self) -> &str {
        match self {
            Job::Execute { text, .. } | Job::Children { text, .. } => text,
        }
    }
}

#[derive(Debug)]
struct Item<W> {
    job: Job,
    waiter: W,
    deadline: Instant,
    /// Sent again after ptvsd refused it as "still busy" (see [`Scheduler::retry`]).
    retried: bool,
}

#[derive(Debug)]
struct InFlight<W> {
    thread: ThreadId,
    items: Vec<Item<W>>,
    /// Sent as one `chld` of a tuple.
    batch: bool,
}

/// The answer to one in-flight command, handed back with what waited for it.
#[derive(Debug)]
pub struct Finished<W> {
    pub thread: ThreadId,
    /// One item, or the items of a batch in order.
    pub items: Vec<(Job, W)>,
    pub batch: bool,
    /// The item was already sent once more after a refusal.
    pub retried: bool,
}

/// The per-thread queues. `W` is whatever waits for an answer.
#[derive(Debug)]
pub struct Scheduler<W> {
    queues: HashMap<ThreadId, VecDeque<Item<W>>>,
    in_flight: HashMap<ExecutionId, InFlight<W>>,
    next_id: ExecutionId,
    /// Round trips sent (`exec` + `chld`), for measurements and tests.
    pub sent: u64,
}

impl<W> Default for Scheduler<W> {
    fn default() -> Self {
        Self { queues: HashMap::new(), in_flight: HashMap::new(), next_id: 1, sent: 0 }
    }
}

impl<W> Scheduler<W> {
    /// Queues a job for `thread`; it goes out through [`Scheduler::next_command`].
    pub fn push(&mut self, thread: ThreadId, job: Job, waiter: W, deadline: Instant) {
        self.queues.entry(thread).or_default().push_back(Item { job, waiter, deadline, retried: false });
    }

    /// Queues a job ahead of everything else for `thread` (the attach-break repairs, the
    /// stop probe).
    pub fn push_front(&mut self, thread: ThreadId, job: Job, waiter: W, deadline: Instant) {
        self.queues.entry(thread).or_default().push_front(Item { job, waiter, deadline, retried: false });
    }

    /// ptvsd answered before its thread had cleared its "working" flag and refused the
    /// item ("previous evaluation has not completed", or an empty children list): ptvsd
    /// sends a work item's answer from inside the item, a moment before the thread is
    /// ready for the next one (threading doc §1.2–§1.3). Sends it once more, first.
    pub fn retry(&mut self, thread: ThreadId, job: Job, waiter: W, deadline: Instant) {
        self.queues.entry(thread).or_default().push_front(Item { job, waiter, deadline, retried: true });
    }

    /// Threads with queued work and nothing in flight.
    pub fn ready_threads(&self) -> Vec<ThreadId> {
        let mut ready: Vec<ThreadId> =
            self.queues.iter().filter(|(t, q)| !q.is_empty() && !self.busy(**t)).map(|(t, _)| *t).collect();
        ready.sort_unstable();
        ready
    }

    fn busy(&self, thread: ThreadId) -> bool {
        self.in_flight.values().any(|f| f.thread == thread)
    }

    /// Takes the next item (or batch) of `thread` and returns the command to send; the
    /// caller has checked that the thread is parked.
    pub fn next_command(&mut self, thread: ThreadId) -> Option<Command> {
        if self.busy(thread) {
            return None;
        }
        let queue = self.queues.get_mut(&thread)?;
        let first = queue.pop_front()?;
        let mut items = vec![first];
        if let Some(key) = items[0].job.batch_key() {
            while items.len() < MAX_BATCH && queue.front().is_some_and(|i| i.job.batch_key() == Some(key)) {
                if let Some(item) = queue.pop_front() {
                    items.push(item);
                }
            }
        }
        if queue.is_empty() {
            self.queues.remove(&thread);
        }
        let execution_id = self.next_id;
        self.next_id += 1;
        self.sent += 1;
        let batch = items.len() > 1;
        let command = if batch {
            let (frame, frame_kind) = items[0].job.batch_key().unwrap_or((0, FrameKind::Python));
            let text = format!("({},)", items.iter().map(|i| i.job.text()).collect::<Vec<_>>().join(", "));
            Command::EnumChildren { text, thread, frame, execution_id, frame_kind }
        } else {
            match &items[0].job {
                Job::Execute { text, frame, frame_kind, repr_kind, .. } => Command::Execute {
                    text: text.clone(),
                    thread,
                    frame: *frame,
                    execution_id,
                    frame_kind: *frame_kind,
                    repr_kind: *repr_kind,
                },
                Job::Children { text, frame, frame_kind } => Command::EnumChildren {
                    text: text.clone(),
                    thread,
                    frame: *frame,
                    execution_id,
                    frame_kind: *frame_kind,
                },
            }
        };
        self.in_flight.insert(execution_id, InFlight { thread, items, batch });
        Some(command)
    }

    /// The answer to `execution_id` arrived: frees its thread's slot.
    pub fn finish(&mut self, execution_id: ExecutionId) -> Option<Finished<W>> {
        let f = self.in_flight.remove(&execution_id)?;
        let retried = f.items.iter().any(|i| i.retried);
        Some(Finished {
            thread: f.thread,
            items: f.items.into_iter().map(|i| (i.job, i.waiter)).collect(),
            batch: f.batch,
            retried,
        })
    }

    /// The in-flight item of `thread`, if any (for failures that name no execution id).
    pub fn in_flight_on(&self, thread: Option<ThreadId>) -> Option<ExecutionId> {
        self.in_flight.iter().filter(|(_, f)| thread.is_none_or(|t| f.thread == t)).map(|(id, _)| *id).min()
    }

    /// A batch failed as a whole: its items go back to the front of the queue, to be sent
    /// one at a time.
    pub fn unbatch(&mut self, thread: ThreadId, items: Vec<(Job, W)>, deadline: Instant) {
        let queue = self.queues.entry(thread).or_default();
        for (job, waiter) in items.into_iter().rev() {
            let job = match job {
                Job::Execute { text, frame, frame_kind, repr_kind, .. } => {
                    Job::Execute { text, frame, frame_kind, repr_kind, batchable: false }
                }
                other => other,
            };
            queue.push_front(Item { job, waiter, deadline, retried: false });
        }
    }

    /// The thread resumed: its queued (not yet sent) items can no longer run.
    pub fn drain_queued(&mut self, thread: ThreadId) -> Vec<W> {
        self.queues.remove(&thread).map(|q| q.into_iter().map(|i| i.waiter).collect()).unwrap_or_default()
    }

    /// Every queued item of every thread.
    pub fn drain_all_queued(&mut self) -> Vec<W> {
        let threads: Vec<ThreadId> = self.queues.keys().copied().collect();
        threads.into_iter().flat_map(|t| self.drain_queued(t)).collect()
    }

    /// Everything, in flight or queued (the connection is gone).
    pub fn drain_all(&mut self) -> Vec<W> {
        let mut all: Vec<W> = self.in_flight.drain().flat_map(|(_, f)| f.items.into_iter().map(|i| i.waiter)).collect();
        all.extend(self.drain_all_queued());
        all
    }

    /// Items whose deadline passed, queued or in flight; an expired in-flight item frees
    /// its thread's slot (a late answer is then ignored).
    pub fn expire(&mut self, now: Instant) -> Vec<W> {
        let mut expired = Vec::new();
        let ids: Vec<ExecutionId> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.items.iter().all(|i| i.deadline <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(f) = self.in_flight.remove(&id) {
                expired.extend(f.items.into_iter().map(|i| i.waiter));
            }
        }
        for queue in self.queues.values_mut() {
            let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(queue).into_iter().partition(|i| i.deadline <= now);
            *queue = keep.into();
            expired.extend(due.into_iter().map(|i| i.waiter));
        }
        self.queues.retain(|_, q| !q.is_empty());
        expired
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let queued = self.queues.values().flat_map(|q| q.iter().map(|i| i.deadline));
        let flying = self.in_flight.values().filter_map(|f| f.items.iter().map(|i| i.deadline).max());
        queued.chain(flying).min()
    }

    /// Nothing is in flight on any thread: a resume cannot overtake queued work.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Whether anything is queued or in flight.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty() && self.queues.is_empty()
    }

    /// Waiters queued or in flight that match `f`.
    pub fn any(&self, f: impl Fn(&W) -> bool) -> bool {
        self.in_flight.values().flat_map(|x| x.items.iter()).chain(self.queues.values().flatten()).any(|i| f(&i.waiter))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(15)
    }

    #[test]
    fn one_item_per_thread_is_in_flight() {
        let mut s: Scheduler<&str> = Scheduler::default();
        s.push(1, Job::execute("a".into(), 0, FrameKind::Python, ReprKind::Normal), "a", later());
        s.push(1, Job::Children { text: "b".into(), frame: 0, frame_kind: FrameKind::Python }, "b", later());
        s.push(2, Job::execute("c".into(), 0, FrameKind::Python, ReprKind::Normal), "c", later());
        assert_eq!(s.ready_threads(), vec![1, 2]);
        let Some(Command::Execute { execution_id, .. }) = s.next_command(1) else { panic!() };
        assert!(s.next_command(1).is_none(), "second item must wait");
        assert!(s.next_command(2).is_some(), "other threads are independent");
        assert!(!s.is_idle());
        let done = s.finish(execution_id).unwrap();
        assert_eq!(done.items[0].1, "a");
        assert!(matches!(s.next_command(1), Some(Command::EnumChildren { .. })));
    }

    #[test]
    fn watches_for_one_frame_go_out_as_one_tuple() {
        let mut s: Scheduler<u8> = Scheduler::default();
        for (i, e) in ["x", "y + 1", "len(z)"].iter().enumerate() {
            s.push(7, Job::watch(e.to_string(), 0, FrameKind::Python), i as u8, later());
        }
        s.push(7, Job::watch("w".into(), 1, FrameKind::Python), 9, later());
        let Some(Command::EnumChildren { text, execution_id, .. }) = s.next_command(7) else { panic!() };
        assert_eq!(text, "(x, y + 1, len(z),)");
        let done = s.finish(execution_id).unwrap();
        assert!(done.batch);
        assert_eq!(done.items.len(), 3);
        s.unbatch(7, done.items, later());
        assert!(matches!(s.next_command(7), Some(Command::Execute { text, .. }) if text == "x"));
    }

    #[test]
    fn an_expired_item_frees_the_slot() {
        let mut s: Scheduler<u8> = Scheduler::default();
        let now = Instant::now();
        s.push(1, Job::execute("a".into(), 0, FrameKind::Python, ReprKind::Normal), 1, now);
        s.push(1, Job::execute("b".into(), 0, FrameKind::Python, ReprKind::Normal), 2, later());
        s.next_command(1).unwrap();
        assert_eq!(s.expire(now), vec![1]);
        assert!(s.is_idle());
        assert!(s.next_command(1).is_some());
    }
}
