//! The session side of `reconnect`: attaching with retries, and attaching again when the
//! connection to ptvsd ends other than by the user's disconnect.
//!
//! Owns: the retry task (connect + handshake per try, through
//! [`reconnect::retry`](super::reconnect::retry)), its cancellation, turning an attach
//! failure into a [`Failure`], and what the session does around a loss and a re-attach:
//! the old threads are reported exited, the session stays open in
//! [`Phase::Reconnecting`], and on success the exception settings and every breakpoint are
//! sent again (the editor sets nothing again), the new process is reported, and the attach
//! break runs the attach-break evaluations (`repairs`: the connection guard, the stale
//! handler-query probe, …) on the new connection as at any attach, then is released.
//! Must not know: the policy's numbers (`reconnect`).
//!
//! A connection is never dropped gracefully (ptvsd would spin): a try that connects after
//! the session was cancelled or ended closes its connection with a reset.

use tokio::sync::watch;
use tokio::time::Instant;

use super::connection::{connect_and_attach, AttachFailure};
use super::lifecycle::Phase;
use super::reconnect::{self, Backoff, Failure};
use super::{Input, Session, IDLE_NOTICE};
use crate::legacy::handshake::HandshakeError;
use crate::transport::{ProxyFailure, TransportError};

/// The retry task of a session with `reconnect`.
#[derive(Debug)]
pub(super) struct Retrying {
    cancel: watch::Sender<bool>,
    /// When the retries began (for the "attached again after N s" line).
    pub(super) since: Instant,
}

impl Retrying {
    pub(super) fn cancel(&self) {
        let _ = self.cancel.send(true);
    }
}

/// Whether another try can succeed by itself.
fn classify(error: &AttachFailure) -> Failure {
    match error {
        AttachFailure::Transport(e) => match e {
            TransportError::InvalidUrl { .. }
            | TransportError::UnsupportedScheme { .. }
            | TransportError::Tls { .. }
            | TransportError::CaFile { .. }
            | TransportError::InvalidHeader { .. } => Failure::Incompatible,
            // Settings only the user can change: credentials, the proxy's rules.
            TransportError::TunnelCredentialsMissing { .. }
            | TransportError::InvalidProxy { .. }
            | TransportError::HttpStatus { status: 401, .. }
            | TransportError::Proxy {
                failure: ProxyFailure::AuthenticationRequired { .. } | ProxyFailure::Forbidden,
                ..
            } => Failure::Incompatible,
            _ => Failure::Unreachable,
        },
        AttachFailure::Handshake(e) => match e {
            HandshakeError::WrongSecret => Failure::BadSecret,
            HandshakeError::AlreadyAttached => Failure::AlreadyAttached,
            HandshakeError::NotPtvsd { .. } | HandshakeError::UnsupportedVersion { .. } => Failure::Incompatible,
            _ => Failure::Unreachable,
        },
        AttachFailure::Retries(_) => Failure::Incompatible,
    }
}

impl Session {
    /// Whether this session attaches again after a loss: `reconnect` on, an attach (not a
    /// `launch`, whose program is ours and ended).
    pub(super) fn reconnects(&self) -> bool {
        self.launched.is_none() && self.config.as_ref().is_some_and(|c| c.reconnect)
    }

    /// Starts the retry task; its result comes as [`Input::Attached`], its notes as
    /// [`Input::Note`].
    pub(super) fn start_retries(&mut self, phase: reconnect::Phase) {
        let Some(config) = self.config.as_ref() else { return };
        let config = config.clone();
        let mut backoff = Backoff::new(phase, config.connect.connect_timeout);
        let inputs = self.inputs.clone();
        let (cancel, cancelled) = watch::channel(false);
        if let Some(old) = self.connection.start_retrying(Retrying { cancel, since: Instant::now() }) {
            old.cancel();
        }
        tokio::spawn(async move {
            let notes = inputs.clone();
            let result = reconnect::retry(
                &mut backoff,
                || {
                    let (config, cancelled) = (&config, cancelled.clone());
                    async move {
                        if *cancelled.borrow() {
                            return Err((Failure::Incompatible, "cancelled".to_string()));
                        }
                        connect_and_attach(config).await.map_err(|error| {
                            tracing::debug!(%error, "attach try failed");
                            (classify(&error), error.to_string())
                        })
                    }
                },
                |line| {
                    let _ = notes.try_send(Input::Note(line));
                },
            )
            .await;
            if *cancelled.borrow() {
                if let Ok(connected) = result {
                    connected.framed.into_inner().abort().await;
                }
                return;
            }
            let result = result.map_err(AttachFailure::Retries);
            if let Err(tokio::sync::mpsc::error::SendError(Input::Attached(unsent))) =
                inputs.send(Input::Attached(Box::new(result))).await
            {
                // The session is gone: close what connected with a reset.
                if let Ok(connected) = *unsent {
                    connected.framed.into_inner().abort().await;
                }
            }
        });
    }

    /// The connection ended and the session attaches again: the threads are gone, the
    /// user is told in one line, the retries start. `sentence` says why it ended.
    pub(super) async fn lost_and_retrying(&mut self, sentence: &str) {
        let exited: Vec<i64> = self.threads.iter().map(|(_, info)| info.dap_id).collect();
        for id in exited {
            self.send_event(&crate::dap::bodies::ThreadEventBody { reason: "exited".to_owned(), thread_id: id }).await;
        }
        self.threads = super::threads::Threads::default();
        self.lifecycle.new_connection();
        self.lifecycle.enter(Phase::Reconnecting);
        self.output("console", &format!("{}\n", reconnect::lost_message(sentence))).await;
        self.start_retries(reconnect::Phase::Lost);
    }

    /// After a re-attach: the editor configured the session before, so it runs at once;
    /// the attach break is released when it comes.
    pub(super) async fn reattached(&mut self, pid: i64) {
        let waited = self.connection.stop_retrying().map(|r| r.since.elapsed()).unwrap_or_default();
        self.lifecycle.enter(Phase::Running);
        self.lifecycle.await_attach_break(Some(Instant::now() + IDLE_NOTICE));
        self.output("console", &format!("{}\n", reconnect::reattached_message(u32::try_from(pid).ok(), waited))).await;
    }
}
