//! Attaching again after the connection to ptvsd ends (the `reconnect` attach key).
//!
//! Owns: the retry policy, as a value the session drives ([`Backoff`]): when the next try
//! is due, when to give up (only for the first attach: a session that already ran keeps
//! trying until the user disconnects), which failures are worth another try, and the
//! one-line messages the user sees; and [`retry`], the loop that sleeps between tries
//! (run it in a task the session can abort when the user disconnects).
//!
//! Must not know: sockets, DAP or the wire protocol: a try is a future the caller gives.
//! [`Backoff`] is told the time elapsed since the retries began (so its tests need no
//! clock) and says how long to wait.
//!
//! The policy:
//! * The first try comes [`FIRST_DELAY`] (0.5 s) after the loss (for the first attach:
//!   at once, the next 0.5 s after the first failure); each wait then doubles,
//!   up to [`MAX_DELAY`] (5 s): 0.5, 1, 2, 4, 5, 5, … s. App Service restarts a Python
//!   process in seconds to a minute; a try every 5 s at most costs the site nothing.
//! * For `ws://`/`wss://` every try sends the wake-up request first (`wss://` by default,
//!   or `wakeUrl`): App Service starts the process lazily, on the first HTTP request. Each
//!   try is a whole `transport::connect`, which sends it, so nothing here has to.
//! * The first attach with `reconnect` keeps trying while the site starts, for at most
//!   [`INITIAL_CONNECT_FACTOR`] × `connectTimeout` (8 × 15 s = 2 minutes by default),
//!   instead of failing at the first refused connection. Each try still has its own
//!   `connectTimeout`.
//! * A session that lost its connection keeps trying until it succeeds or the user
//!   disconnects: the point is that the editor never has to attach again by hand.
//! * A wrong secret or an incompatible ptvsd does not cure itself: those end the retries
//!   with the sentence that explains them. "Another debugger is attached" does (the other
//!   one may leave), so it is retried, and said once.

use std::future::Future;
use std::time::Duration;

/// The wait before the first try.
pub const FIRST_DELAY: Duration = Duration::from_millis(500);
/// The longest wait between two tries.
pub const MAX_DELAY: Duration = Duration::from_secs(5);
/// With `reconnect`, the first attach keeps trying for this many times `connectTimeout`.
pub const INITIAL_CONNECT_FACTOR: u32 = 8;

/// Why the retries began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The `attach` request itself: the site may still be starting. Bounded.
    FirstAttach,
    /// A session whose connection ended: unbounded.
    Lost,
}

/// How a try failed, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Refused, reset, timed out, 101-then-EOF through the Azure proxy: nobody listening yet.
    Unreachable,
    /// ptvsd answered that another debugger is attached.
    AlreadyAttached,
    /// ptvsd refused the secret.
    BadSecret,
    /// ptvsd answered with something this adapter cannot speak.
    Incompatible,
}

impl Failure {
    /// Whether another try can succeed without the user changing anything.
    #[must_use]
    pub fn is_retryable(self) -> bool {
        matches!(self, Failure::Unreachable | Failure::AlreadyAttached)
    }
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then try.
    Try { after: Duration },
    /// Stop trying.
    GiveUp,
}

/// The retry state of one endpoint.
#[derive(Debug, Clone)]
pub struct Backoff {
    phase: Phase,
    /// When a [`Phase::FirstAttach`] gives up, counted from the start of the retries.
    limit: Option<Duration>,
    connect_timeout: Duration,
    tries: u32,
    /// The last failure told to the user, so that a repeated one is said once.
    last_said: Option<Failure>,
}

impl Backoff {
    /// The policy for `phase`; `connect_timeout` is the attach key of that name.
    #[must_use]
    pub fn new(phase: Phase, connect_timeout: Duration) -> Backoff {
        let limit = match phase {
            Phase::FirstAttach => Some(connect_timeout.saturating_mul(INITIAL_CONNECT_FACTOR)),
            Phase::Lost => None,
        };
        Backoff { phase, limit, connect_timeout, tries: 0, last_said: None }
    }

    #[must_use]
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// How many tries have been scheduled.
    #[must_use]
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// The next step, `elapsed` after the retries began, the previous try having failed
    /// with `failure` (`None` before the first). A wait that would end past the limit of
    /// a first attach is cut to end at the limit; once the limit has passed, give up.
    pub fn next(&mut self, elapsed: Duration, failure: Option<Failure>) -> Next {
        if failure.is_some_and(|f| !f.is_retryable()) {
            return Next::GiveUp;
        }
        let mut after = match (self.phase, self.tries) {
            (Phase::FirstAttach, 0) => Duration::ZERO,
            (Phase::FirstAttach, tries) => delay(tries - 1),
            (Phase::Lost, tries) => delay(tries),
        };
        if let Some(limit) = self.limit {
            if elapsed >= limit {
                return Next::GiveUp;
            }
            after = after.min(limit - elapsed);
        }
        self.tries = self.tries.saturating_add(1);
        Next::Try { after }
    }

    /// The line to show for a failed try, or `None` when the same failure was already
    /// said (tries are not narrated one by one).
    pub fn failure_message(&mut self, failure: Failure) -> Option<String> {
        if self.last_said == Some(failure) {
            return None;
        }
        self.last_said = Some(failure);
        match failure {
            Failure::AlreadyAttached => Some(
                "ptvsd-dap: another debugger is attached to the app; still trying, and attaching as soon as it leaves."
                    .to_string(),
            ),
            Failure::Unreachable | Failure::BadSecret | Failure::Incompatible => None,
        }
    }
}

/// Runs `attempt` until it succeeds or `backoff` gives up, sleeping (tokio's timer) before
/// each try as `backoff` says, and passing the lines worth showing to `say`. The error is
/// the sentence for the user: the failure's own for one that does not cure itself, or
/// [`gave_up_message`] when a first attach ran out of time. Cancel it by dropping it.
pub async fn retry<T, F, Fut>(backoff: &mut Backoff, mut attempt: F, mut say: impl FnMut(String)) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, (Failure, String)>>,
{
    let started = tokio::time::Instant::now();
    let mut last: Option<(Failure, String)> = None;
    loop {
        match backoff.next(started.elapsed(), last.as_ref().map(|(failure, _)| *failure)) {
            Next::Try { after } => tokio::time::sleep(after).await,
            Next::GiveUp => {
                let (failure, message) = last.unwrap_or((Failure::Unreachable, "no try was made".to_string()));
                return Err(if failure.is_retryable() {
                    gave_up_message(backoff.connect_timeout, &message)
                } else {
                    message
                });
            }
        }
        match attempt().await {
            Ok(value) => return Ok(value),
            Err((failure, message)) => {
                if let Some(line) = backoff.failure_message(failure) {
                    say(line);
                }
                last = Some((failure, message));
            }
        }
    }
}

/// The wait before try number `tries` (0-based): 0.5 s doubling up to [`MAX_DELAY`].
#[must_use]
pub fn delay(tries: u32) -> Duration {
    let doubled = FIRST_DELAY.saturating_mul(1u32.checked_shl(tries.min(16)).unwrap_or(u32::MAX));
    doubled.min(MAX_DELAY)
}

/// The line shown when the connection ends and the session stays open; `reason` is the
/// sentence that says why it ended.
#[must_use]
pub fn lost_message(reason: &str) -> String {
    let reason = reason.trim_end_matches('.');
    format!(
        "ptvsd-dap: the connection to the app ended ({reason}); the session stays open and attaches again when the app is back (disconnect to stop)."
    )
}

/// The line shown when the session is attached again.
#[must_use]
pub fn reattached_message(pid: Option<u32>, waited: Duration) -> String {
    let process = pid.map_or_else(|| "the app".to_string(), |pid| format!("process {pid}"));
    format!(
        "ptvsd-dap: attached again to {process} after {:.1} s; breakpoints and exception settings are set again.",
        waited.as_secs_f64()
    )
}

/// The message of a first attach that gave up waiting for the site.
#[must_use]
pub fn gave_up_message(connect_timeout: Duration, last_error: &str) -> String {
    let waited = connect_timeout.saturating_mul(INITIAL_CONNECT_FACTOR);
    format!(
        "the debuggee did not answer within {} s ({INITIAL_CONNECT_FACTOR} × connectTimeout, with reconnect): {last_error}",
        waited.as_secs()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn waits_start_at_half_a_second_and_double_up_to_five() {
        let waits: Vec<f64> = (0..8).map(|t| delay(t).as_secs_f64()).collect();
        assert_eq!(waits, vec![0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn a_lost_session_tries_forever() {
        let mut b = Backoff::new(Phase::Lost, secs(15.0));
        let mut elapsed = Duration::ZERO;
        for i in 0..10_000u32 {
            match b.next(elapsed, (i > 0).then_some(Failure::Unreachable)) {
                Next::Try { after } => {
                    assert!(after >= FIRST_DELAY && after <= MAX_DELAY);
                    elapsed += after + secs(15.0);
                }
                Next::GiveUp => panic!("gave up after {i} tries"),
            }
        }
        assert_eq!(b.tries(), 10_000);
        let mut fresh = Backoff::new(Phase::Lost, secs(15.0));
        assert_eq!(fresh.next(Duration::ZERO, None), Next::Try { after: FIRST_DELAY });
        let mut first = Backoff::new(Phase::FirstAttach, secs(15.0));
        assert_eq!(first.next(Duration::ZERO, None), Next::Try { after: Duration::ZERO });
        assert_eq!(first.next(Duration::ZERO, Some(Failure::Unreachable)), Next::Try { after: FIRST_DELAY });
    }

    #[test]
    fn the_first_attach_gives_up_after_the_factor_times_connect_timeout() {
        let timeout = secs(2.0);
        let limit = timeout * INITIAL_CONNECT_FACTOR;
        let mut b = Backoff::new(Phase::FirstAttach, timeout);
        let mut elapsed = Duration::ZERO;
        let mut tries = 0;
        while let Next::Try { after } = b.next(elapsed, (tries > 0).then_some(Failure::Unreachable)) {
            assert!(elapsed + after <= limit, "a try after the limit");
            elapsed += after;
            tries += 1;
        }
        assert_eq!(elapsed, limit, "the last wait ends exactly at the limit");
        assert!(tries >= 4, "{tries}");
        assert!(gave_up_message(timeout, "refused").contains("16 s"));
    }

    #[test]
    fn failures_that_do_not_cure_themselves_stop_the_retries() {
        for phase in [Phase::FirstAttach, Phase::Lost] {
            let mut b = Backoff::new(phase, secs(15.0));
            assert_eq!(b.next(Duration::ZERO, Some(Failure::BadSecret)), Next::GiveUp);
            assert_eq!(b.next(Duration::ZERO, Some(Failure::Incompatible)), Next::GiveUp);
            assert!(matches!(b.next(Duration::ZERO, Some(Failure::AlreadyAttached)), Next::Try { .. }));
            assert_eq!(b.phase(), phase);
        }
    }

    #[test]
    fn messages_are_single_sentences_said_once() {
        let mut b = Backoff::new(Phase::Lost, secs(15.0));
        let first = b.failure_message(Failure::AlreadyAttached).unwrap();
        assert!(first.contains("another debugger"));
        assert_eq!(b.failure_message(Failure::AlreadyAttached), None);
        assert_eq!(b.failure_message(Failure::Unreachable), None);
        assert!(b.failure_message(Failure::AlreadyAttached).is_some(), "said again after something else");
        let lost = lost_message("ptvsd closed the connection.");
        assert!(lost.contains("(ptvsd closed the connection)") && !lost.contains('\n'));
        let back = reattached_message(Some(4242), secs(7.25));
        assert!(back.contains("process 4242") && back.contains("7.2 s"), "{back}");
        assert!(reattached_message(None, secs(0.5)).contains("the app after 0.5 s;"));
    }

    /// The first attach tries at once; tokio's paused clock shows the schedule.
    #[tokio::test(start_paused = true)]
    async fn retry_sleeps_between_tries_and_returns_the_first_success() {
        let start = tokio::time::Instant::now();
        let mut tries = Vec::new();
        let mut said = Vec::new();
        let mut backoff = Backoff::new(Phase::FirstAttach, secs(15.0));
        let result = retry(
            &mut backoff,
            || {
                tries.push(start.elapsed());
                let n = tries.len();
                async move {
                    match n {
                        1 | 2 => Err((Failure::Unreachable, "refused".to_string())),
                        3 | 4 => Err((Failure::AlreadyAttached, "attached".to_string())),
                        _ => Ok(n),
                    }
                }
            },
            |line| said.push(line),
        )
        .await;
        assert_eq!(result, Ok(5));
        let at: Vec<f64> = tries.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(at, vec![0.0, 0.5, 1.5, 3.5, 7.5]);
        assert_eq!(said.len(), 1, "{said:?}");
        // A lost session waits 0.5 s before its first try.
        let start = tokio::time::Instant::now();
        let mut lost = Backoff::new(Phase::Lost, secs(15.0));
        let first = retry(&mut lost, || async { Ok::<_, (Failure, String)>(start.elapsed()) }, |_| {}).await;
        assert_eq!(first, Ok(FIRST_DELAY));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_gives_up_with_a_sentence() {
        let mut backoff = Backoff::new(Phase::FirstAttach, secs(1.0));
        let result: Result<(), String> =
            retry(&mut backoff, || async { Err((Failure::Unreachable, "connection refused".to_string())) }, |_| {})
                .await;
        let message = result.unwrap_err();
        assert!(message.contains("within 8 s") && message.contains("connection refused"), "{message}");
        let mut backoff = Backoff::new(Phase::Lost, secs(1.0));
        let result: Result<(), String> =
            retry(&mut backoff, || async { Err((Failure::BadSecret, "the secret is wrong".to_string())) }, |_| {})
                .await;
        assert_eq!(result, Err("the secret is wrong".to_string()));
        assert_eq!(backoff.tries(), 1);
    }

    #[test]
    fn the_attach_key_documents_this_policy() {
        let key = crate::session::config::ATTACH_KEYS.iter().find(|k| k.name == "reconnect").unwrap();
        let factor = format!("{INITIAL_CONNECT_FACTOR} × connectTimeout");
        let waits = format!("every {} to {} s", FIRST_DELAY.as_secs_f64(), MAX_DELAY.as_secs());
        assert!(key.description.contains(&factor) && key.description.contains(&waits), "{}", key.description);
    }

    proptest! {
        /// Whatever the timeout and the failures: waits stay within [0, 5 s], a first
        /// attach never schedules a try past its limit, and only retryable failures retry.
        #[test]
        fn waits_are_bounded(
            timeout_ms in 1u64..3_600_000,
            steps in proptest::collection::vec((0u64..20_000, 0usize..4), 1..200),
            first in any::<bool>(),
        ) {
            let phase = if first { Phase::FirstAttach } else { Phase::Lost };
            let timeout = Duration::from_millis(timeout_ms);
            let mut b = Backoff::new(phase, timeout);
            let mut elapsed = Duration::ZERO;
            for (spent_ms, kind) in steps {
                let failure = [Failure::Unreachable, Failure::AlreadyAttached, Failure::BadSecret, Failure::Incompatible][kind];
                match b.next(elapsed, Some(failure)) {
                    Next::Try { after } => {
                        prop_assert!(failure.is_retryable());
                        prop_assert!(after <= MAX_DELAY);
                        if first {
                            prop_assert!(elapsed + after <= timeout * INITIAL_CONNECT_FACTOR);
                        }
                        elapsed += after + Duration::from_millis(spent_ms);
                    }
                    Next::GiveUp => {
                        prop_assert!(!failure.is_retryable() || (first && elapsed >= timeout * INITIAL_CONNECT_FACTOR));
                        break;
                    }
                }
            }
        }
    }
}
