//! HOOK(reattach): the session's side of the debuggee repairs in `repairs` — what it does
//! with their results, and the detach that waits for handler answers. Kept apart so that
//! the rebuilt session core can take each piece over as it is:
//!
//! * [`Session::after_repairs`]: the attach repair's result (stale handler queries to
//!   answer), and the fence that makes the binary loop read through the connection guard.
//! * [`Session::start_detach_when_ready`]: a `disconnect` sends its detach only once no
//!   handler query is waiting for its answer (ptvsd-threading.md §4.4, prevention).
//! * [`Session::evaluation_failed`]: a failed `exec` as `Type: message`, with the
//!   traceback in the REPL.
//!
//! Must not know: the Python text of the repairs (that is `repairs`).

use serde_json::json;
use tokio::time::Instant;

use super::repairs;
use super::{Session, Waiter, DETACH_WAIT};
use crate::legacy::messages::{Command, PyObject};

impl Session {
    /// The attach repair answered on `thread` (still stopped): answer each handler query an
    /// earlier debugger left unanswered — through the same path as a live query, so the
    /// parked thread gets the right handlers — unless ptvsd asked it on this connection
    /// (then it is a live query, answered once). Then one harmless command (clear stepping
    /// on the stopped thread): the binary loop reads it through its old reader and every
    /// later command through the connection guard.
    pub(super) async fn after_repairs(&mut self, thread: i64, value: &PyObject) {
        for file in repairs::parse_stale_handler_files(value.repr.as_deref().unwrap_or_default()) {
            if self.handler_queries.contains(&file) {
                continue;
            }
            tracing::info!(%file, "answering a handler query an earlier debugger left unanswered");
            self.handler_queries.insert(file.clone());
            self.answer_handler_query(file);
        }
        if self.threads.get(thread).is_some_and(|t| t.stopped) {
            let _ = self.send(Command::ClearStepping { thread }).await;
        }
    }

    /// The repairs' `exec` for the first stop of a session without an attach break.
    pub(super) fn park_repairs(&mut self, execution_id: i64, thread: i64) {
        self.park(execution_id, Waiter::Repairs { thread });
    }

    /// `disconnect` (without ending the app): the detach goes out once the threads the last
    /// resume released have woken and every handler query has its answer, or after
    /// [`DETACH_WAIT`] without one.
    pub(super) fn begin_detach(&mut self, request: crate::dap::types::Request) {
        let now = Instant::now();
        let settled = self.remote.as_ref().map(|r| r.work.borrow().settle_until).unwrap_or(now);
        self.detach_start = Some((request, settled.max(now), now + DETACH_WAIT));
    }

    /// Sends the detach of [`Self::begin_detach`] when it is due.
    pub(super) async fn start_detach_when_ready(&mut self) {
        let now = Instant::now();
        let due = match &self.detach_start {
            Some((_, not_before, give_up)) => *not_before <= now && (self.handler_answers_pending == 0 || *give_up <= now),
            None => false,
        };
        if !due {
            return;
        }
        let Some((request, _, _)) = self.detach_start.take() else { return };
        if self.handler_answers_pending > 0 {
            tracing::warn!(pending = self.handler_answers_pending, "detaching with handler queries unanswered");
        }
        match self.send(Command::Detach).await {
            Ok(()) => self.detach_wait = Some((request, now + DETACH_WAIT)),
            Err(message) => self.respond_error(&request, &message).await,
        }
    }

    /// A failed `exec` for `waiter`: its summary (`KeyError: 'k'`) answers the request;
    /// an `evaluate` from the REPL first shows the traceback as error output.
    pub(super) async fn evaluation_failed(&mut self, waiter: Waiter, text: &str) {
        let failure = repairs::evaluation_failure(text);
        if let (Waiter::Evaluate { context: Some(context), .. }, Some(traceback)) = (&waiter, &failure.traceback) {
            if context == "repl" {
                self.event("output", Some(json!({ "category": "stderr", "output": traceback }))).await;
            }
        }
        self.fail_waiter(waiter, &failure.summary).await;
    }
}
