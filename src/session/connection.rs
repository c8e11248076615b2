//! The link to ptvsd: connecting and attaching, sending, closing, and losing it.
//!
//! Owns: [`Connection`], the component: [`Remote`] (the write half and the reader task of
//! one connection), the connection generation, the debuggee's Python version and the
//! `reconnect` retries while they run; `send` (every command to ptvsd goes through it, with a
//! write deadline), the abortive close, and turning a lost connection into one sentence.
//! The reader task only forwards events as [`Input::Remote`]; it shares no state with the
//! session. Must not know: DAP requests other than `attach` (answered here once connected).

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::Framed;

use super::breakpoints::BindState;
use super::lifecycle::Phase;
use super::{capitalise, Input, Session, SEND_TIMEOUT};
use crate::dap::bodies::{ProcessEventBody, ProcessEventStartMethod};
use crate::dialects;
use crate::legacy::handshake::{self, AttachInfo, HandshakeError, PythonVersion};
use crate::legacy::messages::Command;
use crate::legacy::{ClientCodec, Dialect, Limits, ProtocolError};
use crate::transport::{self, RemoteStream, TransportError};

use super::config::AttachConfig;

/// A successful connection and handshake.
pub struct Connected {
    pub framed: Framed<RemoteStream, ClientCodec>,
    pub dialect: Dialect,
    pub info: AttachInfo,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected").field("dialect", &self.dialect).field("info", &self.info).finish_non_exhaustive()
    }
}

/// Why an attach failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachFailure {
    #[error("cannot reach the debuggee: {0}")]
    Transport(#[from] TransportError),
    #[error("the ptvsd handshake failed: {0}")]
    Handshake(HandshakeError),
    /// With `reconnect`: the retries ended; the sentence says why.
    #[error("{0}")]
    Retries(String),
}

impl From<HandshakeError> for AttachFailure {
    /// A handshake that failed because the transport found out why the connection ended
    /// (a relay that could not reach ptvsd) is a transport failure.
    fn from(error: HandshakeError) -> Self {
        match error {
            HandshakeError::Protocol(ProtocolError::Io(io)) => match TransportError::carried_by(io) {
                Ok(transport) => AttachFailure::Transport(transport),
                Err(io) => AttachFailure::Handshake(HandshakeError::Protocol(ProtocolError::Io(io))),
            },
            other => AttachFailure::Handshake(other),
        }
    }
}

/// The link to ptvsd: the live connection (if any), which connection it is, what the
/// attach reply said, and the retries of `reconnect` while they run.
#[derive(Default)]
pub(super) struct Connection {
    remote: Option<Remote>,
    /// Incremented per connection: inputs of an old connection are ignored.
    generation: u64,
    /// The debuggee's Python version, from the attach reply.
    python: Option<PythonVersion>,
    /// The retries of `reconnect`, while they run.
    retrying: Option<super::reconnecting::Retrying>,
}

/// Why a command was not written.
pub(super) enum WriteError {
    /// Not sent, and the connection is as it was (not attached; a command this ptvsd's
    /// protocol version cannot express).
    Refused(String),
    /// The write failed or stalled: the connection is lost.
    Lost(String),
}

impl Connection {
    /// Writes one command within the write deadline.
    pub(super) async fn write(&mut self, command: Command) -> Result<(), WriteError> {
        let Some(remote) = self.remote.as_mut() else {
            return Err(WriteError::Refused("not attached to a debuggee".to_string()));
        };
        tracing::debug!(?command, "→ ptvsd");
        match tokio::time::timeout(SEND_TIMEOUT, remote.sink.send(command)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(ProtocolError::Unsupported { command, version })) => Err(WriteError::Refused(format!(
                "{command} is not supported by this debuggee's ptvsd (protocol version {version})"
            ))),
            Ok(Err(error)) => Err(WriteError::Lost(error.to_string())),
            Err(_) => Err(WriteError::Lost(format!("the debuggee stopped reading for {} s", SEND_TIMEOUT.as_secs()))),
        }
    }

    /// Whether an input of connection `generation` is of the current one.
    pub(super) fn is_current(&self, generation: u64) -> bool {
        generation == self.generation
    }

    /// Whether a connection to ptvsd is up.
    pub(super) fn is_up(&self) -> bool {
        self.remote.is_some()
    }

    /// The current connection's generation.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The debuggee's Python version, from the attach reply.
    pub(super) fn python(&self) -> Option<PythonVersion> {
        self.python
    }

    /// A new connection is being set up: returns its generation (inputs of earlier ones
    /// are ignored from now on).
    pub(super) fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// The new connection is up.
    pub(super) fn connected(&mut self, remote: Remote, python: PythonVersion) {
        self.remote = Some(remote);
        self.python = Some(python);
    }

    /// The live connection, taken to be closed.
    pub(super) fn take_remote(&mut self) -> Option<Remote> {
        self.remote.take()
    }

    /// `reconnect` starts retrying; returns the retry it replaces, if one ran.
    pub(super) fn start_retrying(
        &mut self,
        retrying: super::reconnecting::Retrying,
    ) -> Option<super::reconnecting::Retrying> {
        self.retrying.replace(retrying)
    }

    /// The retries end (attached again, given up, or the session ends); returns them.
    pub(super) fn stop_retrying(&mut self) -> Option<super::reconnecting::Retrying> {
        self.retrying.take()
    }
}

type RemoteEvents = futures_util::stream::SplitStream<Framed<RemoteStream, ClientCodec>>;

/// The live connection to ptvsd.
pub(super) struct Remote {
    sink: SplitSink<Framed<RemoteStream, ClientCodec>, Command>,
    /// The reader task hands its half back when told to stop (or when the stream ends),
    /// so the connection can be closed abortively.
    reader: tokio::task::JoinHandle<RemoteEvents>,
    stop_reader: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Remote {
    /// Closes the connection abortively (RST): a graceful close makes ptvsd spin at 100 %
    /// CPU in the debuggee (spec §4.8).
    async fn close_abortively(mut self) {
        if let Some(stop) = self.stop_reader.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(std::time::Duration::from_secs(1), &mut self.reader).await {
            Ok(Ok(stream)) => match self.sink.reunite(stream) {
                Ok(framed) => framed.into_inner().abort().await,
                Err(error) => tracing::warn!(%error, "could not reunite the remote stream; closing it normally"),
            },
            _ => {
                self.reader.abort();
                tracing::warn!("the remote reader did not stop; closing normally");
            }
        }
    }
}

impl Session {
    /// Sends one command; a write that fails or stalls ends the connection.
    pub(super) async fn send(&mut self, command: Command) -> Result<(), String> {
        match self.connection.write(command).await {
            Ok(()) => Ok(()),
            Err(WriteError::Refused(text)) => Err(text),
            Err(WriteError::Lost(text)) => {
                self.connection_lost(Some(text.clone())).await;
                Err(text)
            }
        }
    }

    /// Closes the connection abortively (RST): a graceful close makes ptvsd spin at 100 %
    /// CPU in the debuggee (spec §4.8).
    pub(super) async fn close_remote(&mut self) {
        let Some(remote) = self.connection.take_remote() else { return };
        self.threads.forget_states();
        remote.close_abortively().await;
    }

    /// Starts connecting in the background; the result comes back as [`Input::Attached`].
    pub(super) fn start_attach(&mut self, config: &AttachConfig) {
        let config = config.clone();
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let result = connect_and_attach(&config).await;
            let _ = inputs.send(Input::Attached(Box::new(result))).await;
        });
    }

    pub(super) async fn on_attached(&mut self, result: Result<Connected, AttachFailure>) {
        let reattaching = matches!(self.lifecycle.phase(), Phase::Reconnecting);
        let request = match self.lifecycle.take() {
            Phase::Attaching { request } => Some(request),
            Phase::Reconnecting => None,
            // The editor left during the attach: detach what connected, then close.
            Phase::Detaching(d) => {
                self.lifecycle.enter(Phase::Detaching(d));
                None
            }
            other => {
                self.lifecycle.enter(other);
                if let Ok(connected) = result {
                    connected.framed.into_inner().abort().await;
                }
                return;
            }
        };
        let connected = match result {
            Ok(connected) => connected,
            Err(error) => {
                let sentence = capitalise(&error.to_string());
                self.connection.stop_retrying();
                match request {
                    Some(request) => self.report_fatal(Some(&request), "important", &sentence).await,
                    None if reattaching => {
                        self.report_fatal(
                            None,
                            "important",
                            &format!("ptvsd-dap stopped trying to attach again: {sentence}"),
                        )
                        .await
                    }
                    None => self.lifecycle.enter(Phase::Closed),
                }
                return;
            }
        };
        let generation = self.connection.next_generation();
        self.exceptions.new_connection();
        let (sink, mut stream) = connected.framed.split();
        let inputs = self.inputs.clone();
        let (stop_reader, mut stop) = tokio::sync::oneshot::channel::<()>();
        let reader = tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = &mut stop => return stream,
                    next = stream.next() => next,
                };
                match next {
                    Some(Ok(event)) => {
                        if inputs.send(Input::Remote { generation, event }).await.is_err() {
                            return stream;
                        }
                    }
                    Some(Err(error)) => {
                        let _ = inputs.send(Input::RemoteClosed { generation, error: Some(error) }).await;
                        return stream;
                    }
                    None => {
                        let _ = inputs.send(Input::RemoteClosed { generation, error: None }).await;
                        return stream;
                    }
                }
            }
        });
        let info = connected.info;
        let dialect = connected.dialect;
        self.connection.connected(Remote { sink, reader, stop_reader: Some(stop_reader) }, info.python);
        self.threads = super::threads::Threads::default();
        if !dialect.answers_hit_count() {
            self.threads.fence_unavailable();
        }
        self.lifecycle.await_attach_break(None);
        tracing::info!(pid = info.pid, python = %info.python, version = dialect.version(), "attached");
        let request = match request {
            Some(request) => Some(request),
            None if reattaching => None,
            None => {
                // Detaching already (the editor left).
                self.try_detach().await;
                return;
            }
        };
        self.lifecycle.enter(Phase::Configuring);
        // A new process knows none of the breakpoints: all unconfirmed until it says.
        let ids: Vec<i64> = self.breakpoints.source.all().map(|(_, b)| b.id).collect();
        for id in ids {
            self.breakpoints.source.mark(id, BindState::Sent);
        }

        // Exception settings and known breakpoints go out before the attach break is
        // released (spec §4.9).
        if let Err(error) = self.send_exception_info().await {
            tracing::warn!(%error, "could not send exception settings");
        }
        let all: Vec<_> = self.breakpoints.source.all().map(|(f, b)| (f.remote_path.clone(), b.clone())).collect();
        for (remote_path, b) in all {
            let _ = self.send_breakpoint(&remote_path, &b).await;
        }
        self.resend_function_breakpoints().await;

        let Some(request) = request else {
            self.reattached(info.pid).await;
            let process = ProcessEventBody {
                name: format!("python (pid {})", info.pid),
                system_process_id: Some(info.pid),
                is_local_process: Some(false),
                start_method: Some(ProcessEventStartMethod::Attach),
                pointer_size: None,
            };
            self.send_event(&process).await;
            return;
        };
        self.connection.stop_retrying();
        self.answer(&request, Ok(None)).await;
        let endpoint = self.config.as_ref().map(|c| c.endpoint.to_string()).unwrap_or_default();
        self.output(
            "console",
            &format!(
                "Attached to process {} (Python {}) at {endpoint}: ptvsd protocol {} ({}, {}).\n",
                info.pid,
                info.python,
                dialect.version(),
                dialect.family(),
                dialect.releases()
            ),
        )
        .await;
        let process = ProcessEventBody {
            name: format!("python (pid {})", info.pid),
            system_process_id: Some(info.pid),
            is_local_process: Some(self.launched.is_some()),
            start_method: Some(if self.launched.is_some() {
                ProcessEventStartMethod::Launch
            } else {
                ProcessEventStartMethod::Attach
            }),
            pointer_size: None,
        };
        self.send_event(&process).await;
        self.bare_event("initialized").await;
    }

    pub(super) async fn on_remote_closed(&mut self, error: Option<ProtocolError>) {
        tracing::debug!(?error, "the connection to ptvsd ended");
        if self.lifecycle.is_detaching() {
            self.finish_detach().await;
            return;
        }
        self.connection_lost(error.map(|e| e.to_string())).await;
    }

    /// The connection is gone: fail what waits, say why, and end the session.
    pub(super) async fn connection_lost(&mut self, reason: Option<String>) {
        if matches!(self.lifecycle.phase(), Phase::Ended | Phase::Closed | Phase::Reconnecting) {
            return;
        }
        if self.lifecycle.is_detaching() {
            self.finish_detach().await;
            return;
        }
        self.lifecycle.enter(Phase::Ended);
        self.close_remote().await;
        let mut terminating = false;
        let waiters = self.work.drain_all();
        let mut others = Vec::new();
        for waiter in waiters {
            match waiter {
                super::Waiter::Exit { request } => {
                    terminating = true;
                    self.answer(&request, Ok(None)).await;
                }
                other => others.push(other),
            }
        }
        if self.reconnects() && !terminating {
            let reason = reason.clone().or_else(|| self.lifecycle.take_attach_failure()).unwrap_or_else(|| {
                if self.lifecycle.program_exited() {
                    "the program exited".to_string()
                } else {
                    "ptvsd closed the connection".to_string()
                }
            });
            for waiter in others {
                self.fail_waiter(waiter, &format!("The connection to the app ended ({reason})")).await;
            }
            self.end_waiting_releases("the connection to the app ended", "the connection to the app ended").await;
            self.lost_and_retrying(&reason).await;
            return;
        }
        let attach_failure = self.lifecycle.take_attach_failure();
        let sentence = match (&reason, self.lifecycle.program_exited() || terminating) {
            (_, _) if attach_failure.is_some() => format!(
                "ptvsd failed while attaching ({}), then closed the connection. This is a race inside ptvsd, usually with the app importing modules at that moment: attach again.",
                attach_failure.unwrap_or_default()
            ),
            (None, true) => "The program exited.".to_string(),
            (None, false) => "The debuggee closed the connection: the program exited or was stopped, or the relay dropped it. Attach again once it runs.".to_string(),
            (Some(reason), _) => format!("The connection to the debuggee was lost: {reason}. Attach again to continue debugging."),
        };
        for waiter in others {
            self.fail_waiter(waiter, &sentence).await;
        }
        self.end_waiting_releases(&sentence, &sentence).await;
        match self.launch_lost_sentence(reason.as_deref()) {
            None if reason.is_some() => self.report_fatal(None, "important", &sentence).await,
            None => self.report_fatal(None, "console", &sentence).await,
            Some(Some(text)) => self.report_fatal(None, "important", text.trim_end()).await,
            Some(None) => {
                self.announce_terminated().await;
            }
        }
    }
}

/// One attach: the transport's connection, then ptvsd's handshake up to the attach reply.
/// Both the first attach and every reconnect try go through here. A `tcp://` endpoint that
/// spoke JSON before (this run or, through the cache file, an earlier one: [`dialects`])
/// gets authenticate + attach before its greeting; when the greeting disagrees, one new
/// connection with the plain handshake follows.
pub(super) async fn connect_and_attach(config: &AttachConfig) -> Result<Connected, AttachFailure> {
    let endpoint = &config.endpoint;
    let key = dialects::key(endpoint);
    let expected = key.as_deref().and_then(dialects::expected);
    let secret = endpoint.secret().expose();
    let options = config.debug_options();
    if let Some(dialect) = expected {
        tracing::debug!(?dialect, "the endpoint spoke this before: attaching without waiting for the greeting");
    }
    let stream = transport::connect(endpoint, &config.connect).await?;
    let first =
        handshake::attach_expecting(stream, secret, &options, Limits::default(), config.handshake_timeout, expected)
            .await;
    let attached = match first {
        Err(HandshakeError::Unexpected { found }) => {
            tracing::info!(?expected, ?found, "the debuggee's greeting was not the expected one; connecting again");
            if let Some(key) = &key {
                dialects::contradicted(key);
            }
            let stream = transport::connect(endpoint, &config.connect).await?;
            handshake::attach(stream, secret, &options, Limits::default(), config.handshake_timeout).await?
        }
        other => other?,
    };
    if let Some(key) = &key {
        dialects::confirmed(key, attached.dialect);
    }
    Ok(Connected { framed: attached.framed, dialect: attached.dialect, info: attached.info })
}
