//! The debug session: the only place that knows both DAP and the legacy protocol.
//!
//! Owns: all session state, in one [`Session`] value driven by one loop ([`Session::run`])
//! that takes [`Input`]s one at a time: editor requests, remote events, the attach result
//! and timer ticks. Requests that need a reply from the debuggee are parked in the pending
//! table with a deadline; a silent debuggee turns into an error response, never a hang.
//!
//! Must not know: byte layouts of either protocol, or which dialect or transport is in
//! use (it sees `legacy::Command`/`legacy::Event` and a framed stream).
//!
//! Invariants: no request is stepped, resumed or evaluated on a thread ptvsd has not
//! reported stopped (a step on a running thread kills ptvsd's command loop, spec §6.2);
//! no frame index is sent that is not in the thread's latest frame list; `thrf` is never
//! sent; `sehi` is sent once per handler query and never unsolicited.

pub mod breakpoints;
pub mod completions;
pub mod config;
pub mod exceptions;
pub mod function_breakpoints;
pub mod functions;
pub mod handlers;
pub mod handles;
pub mod jumps;
pub mod logpoints;
pub mod paths;
pub mod reconnect;
pub mod sources;
pub mod threads;

mod events;
mod features;
pub mod launch;
mod requests;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::Framed;

use crate::dap::types::{Event as DapEvent, Message, Request, Response};
use crate::legacy::handshake::{self, AttachInfo, HandshakeError, PythonVersion};
use crate::legacy::messages::{Command, Event, ExecutionId, HandlerStatement, ThreadId};
use crate::legacy::{ClientCodec, Dialect, Limits, ProtocolError};
use crate::transport::{self, RemoteStream, TransportError};

use breakpoints::Breakpoints;
use config::AttachConfig;
use handles::Handles;
use threads::Threads;

/// How long a disconnect waits for ptvsd's detach confirmation before closing anyway.
const DETACH_WAIT: Duration = Duration::from_secs(3);
/// How long `setBreakpoints` waits for BRKS/BRKF before answering with what it knows.
const BIND_WAIT: Duration = Duration::from_secs(3);
/// How long after `configurationDone` without an attach break the app counts as idle.
const IDLE_NOTICE: Duration = Duration::from_secs(1);
/// How long a write to the debuggee may block before the connection counts as dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// A message from the editor, already framed.
#[derive(Debug)]
pub enum EditorMessage {
    Request(Request),
    /// A message that could not be parsed; answered with an error response if it had a seq.
    Invalid { seq: Option<i64>, command: Option<String>, reason: String },
}

/// Everything the session loop reacts to.
#[derive(Debug)]
pub enum Input {
    Editor(EditorMessage),
    EditorClosed,
    Remote { generation: u64, event: Event },
    RemoteClosed { generation: u64, error: Option<ProtocolError> },
    Attached(Box<Result<Connected, AttachFailure>>),
    /// From the program a `launch` started.
    Launch(launch::LaunchInput),
    /// The answer to a handler query (REQH), worked out off the session loop.
    Handlers { generation: u64, file: String, statements: Vec<HandlerStatement> },
}

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
    Handshake(#[from] HandshakeError),
}

/// What a request parked in the pending table is waiting for.
#[derive(Debug)]
enum Waiter {
    /// `evaluate`: an ExecutionResult or ExecutionException.
    Evaluate { request: Request, expression: String, frame: handles::FrameRef, hex: bool },
    /// `variables` through `chld`: a Children reply.
    Children { request: Request, shape: requests::ChildrenShape, frame: handles::FrameRef, hex: bool },
    /// `terminate`/`disconnect(terminateDebuggee)`: the exit ends the connection.
    Exit { request: Request },
    /// The output-wrapper repair at the attach break; then release or report the break.
    Entry { thread: i64, report: bool },
    /// A logpoint's message, evaluated on the thread that hit it.
    Log { thread: ThreadId, source: Value, line: i64, started: Instant },
    /// `setVariable`/`setExpression`: the assignment ran; then `target` is read back.
    Assign { request: Request, target: String, frame: handles::FrameRef, hex: bool },
    /// `setVariable`/`setExpression`: the new value.
    AssignRead { request: Request, target: String, frame: handles::FrameRef, hex: bool },
    /// `source`: a file's text read through the debuggee.
    Source { request: Request, reference: i64 },
    /// `completions`: the candidates as one string.
    Completions { request: Request, target: completions::Target },
    /// `goto`: the running file's text, to check the jump before asking for it.
    GotoSource { request: Request, thread: ThreadId, line: i64, reference: i64 },
    /// `goto`: the set-line reply for `thread`.
    Goto { request: Request, thread: ThreadId, line: i64 },
}

impl Waiter {
    /// Whether it waits for the result of an `exec` (so a failed `exec` answers it).
    fn is_execute(&self) -> bool {
        !matches!(self, Waiter::Children { .. } | Waiter::Goto { .. })
    }
}

/// The kind of a step the editor asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Over,
    In,
    Out,
}

impl StepKind {
    fn command(self, thread: ThreadId) -> Command {
        match self {
            StepKind::Over => Command::StepOver { thread },
            StepKind::In => Command::StepInto { thread },
            StepKind::Out => Command::StepOut { thread },
        }
    }
}

/// A step in progress, until its stop is reported.
#[derive(Debug, Clone, Copy)]
struct Stepping {
    thread: ThreadId,
    kind: StepKind,
    /// Steps the adapter added to get out of `<frozen …>` code.
    auto_steps: u32,
    /// The last added step was a step out of `<frozen …>` code.
    leaving_frozen: bool,
}

/// Logpoint evaluations in flight: the program resumes when the last one is done, unless
/// a real stop was reported meanwhile.
#[derive(Debug, Default)]
struct Logging {
    pending: usize,
    /// A stop was reported while logging: do not resume.
    hold: bool,
}

/// A thread's stack as (file, line, function), innermost first.
type Stack = Vec<(String, i64, String)>;

/// The last exception stop, for `exceptionInfo`.
#[derive(Debug, Clone)]
struct ExceptionRecord {
    dap_thread: i64,
    stop: crate::legacy::messages::ExceptionStop,
    /// The thread's stack at the stop.
    stack: Stack,
}

#[derive(Debug)]
struct Pending {
    waiter: Waiter,
    deadline: Instant,
}

/// A `setBreakpoints` waiting for BRKS/BRKF of the ids it added.
#[derive(Debug)]
struct BindWait {
    request: Request,
    local_path: String,
    waiting: Vec<i64>,
    deadline: Instant,
}

/// The live connection to ptvsd.
struct Remote {
    sink: SplitSink<Framed<RemoteStream, ClientCodec>, Command>,
    /// The reader task hands its half back when told to stop (or when the stream ends),
    /// so the connection can be closed abortively.
    reader: tokio::task::JoinHandle<RemoteEvents>,
    stop_reader: Option<tokio::sync::oneshot::Sender<()>>,
    /// Work that releases ptvsd's stopped threads; the reader task counts the answers.
    /// Resumes, steps and detaches wait for it to settle (see [`Session::send`]).
    work: std::sync::Arc<tokio::sync::watch::Sender<ThreadWork>>,
}

/// What the session has asked ptvsd's stopped threads to do.
#[derive(Debug, Clone, Copy)]
struct ThreadWork {
    /// `exec`/`chld` sent and not answered yet.
    in_flight: usize,
    /// Until when threads released by the last resume or step may not have woken yet.
    settle_until: Instant,
}

/// How long a thread released by a resume or step may take to wake up (and ptvsd still
/// sees it as blocked); plus [`THREAD_SETTLE_EACH`] per known thread, since they all
/// compete for the GIL as they wake.
const THREAD_SETTLE: Duration = Duration::from_millis(100);
const THREAD_SETTLE_EACH: Duration = Duration::from_millis(3);
const THREAD_SETTLE_MAX: Duration = Duration::from_secs(1);

/// Whether an event answers an `exec` or `chld` (and ends that work on its thread).
fn answers_work(event: &Event) -> bool {
    match event {
        Event::ExecutionResult { .. } | Event::ExecutionException { .. } | Event::Children { .. } => true,
        Event::CommandFailed { command, .. } => command.contains("Execute") || command.contains("Children"),
        _ => false,
    }
}

type RemoteEvents = futures_util::stream::SplitStream<Framed<RemoteStream, ClientCodec>>;

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before `attach` succeeded.
    Idle,
    /// `attach` is connecting.
    Attaching,
    /// Attached; `configurationDone` not yet received.
    Configuring,
    /// Attached and configured.
    Running,
    /// The connection is gone; waiting for the editor's `disconnect`.
    Ended,
}

/// Client preferences from `initialize`.
#[derive(Debug, Clone, Copy)]
struct ClientInfo {
    lines_start_at_1: bool,
    columns_start_at_1: bool,
    supports_progress: bool,
}

/// The whole state of one debug session.
pub struct Session {
    out: mpsc::Sender<Message>,
    inputs: mpsc::Sender<Input>,
    phase: Phase,
    initialized: bool,
    client: ClientInfo,
    config: Option<AttachConfig>,
    remote: Option<Remote>,
    generation: u64,
    threads: Threads,
    handles: Handles,
    breakpoints: Breakpoints,
    exceptions: exceptions::ExceptionSettings,
    /// The debuggee's Python version, from the attach reply.
    python: Option<PythonVersion>,
    sources: sources::Sources,
    stepping: Option<Stepping>,
    logging: Logging,
    pending: HashMap<ExecutionId, Pending>,
    bind_waits: Vec<BindWait>,
    detach_wait: Option<(Request, Instant)>,
    attach_request: Option<Request>,
    /// The attach break (LOAD) arrived and is held until `configurationDone`.
    entry_break: Option<i64>,
    entry_break_seen: bool,
    /// When to say that the app is idle, if the attach break has not come by then.
    idle_notice: Option<Instant>,
    /// The last exception stop, for `exceptionInfo`.
    last_exception: Option<ExceptionRecord>,
    /// The last exception event (reported or not): (thread, type, message, stack), to
    /// recognise re-reports of it in the frames it unwinds through.
    last_raise: Option<(ThreadId, String, String, Stack)>,
    /// The stacked output wrappers of earlier attaches have been collapsed.
    output_repaired: bool,
    /// ptvsd reported that its own attach failed after accepting it (a race in ptvsd).
    attach_failure: Option<String>,
    /// The program said goodbye (DETC we did not ask for) before the connection closed.
    program_exited: bool,
    next_execution_id: ExecutionId,
    exit: bool,
    /// The program `launch` started, if any.
    launched: Option<launch::Launched>,
}

impl Session {
    /// A session that writes DAP messages to `out` and feeds itself through `inputs`.
    pub fn new(out: mpsc::Sender<Message>, inputs: mpsc::Sender<Input>) -> Self {
        Self {
            out,
            inputs,
            phase: Phase::Idle,
            initialized: false,
            client: ClientInfo { lines_start_at_1: true, columns_start_at_1: true, supports_progress: false },
            config: None,
            remote: None,
            generation: 0,
            threads: Threads::default(),
            handles: Handles::default(),
            breakpoints: Breakpoints::default(),
            exceptions: exceptions::ExceptionSettings::default(),
            python: None,
            sources: sources::Sources::default(),
            stepping: None,
            logging: Logging::default(),
            pending: HashMap::new(),
            bind_waits: Vec::new(),
            detach_wait: None,
            attach_request: None,
            entry_break: None,
            entry_break_seen: false,
            idle_notice: None,
            last_exception: None,
            last_raise: None,
            program_exited: false,
            output_repaired: false,
            attach_failure: None,
            next_execution_id: 1,
            exit: false,
            launched: None,
        }
    }

    /// Runs until the editor disconnects or closes its side.
    pub async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        while !self.exit {
            let deadline = self.next_deadline();
            let input = tokio::select! {
                input = inputs.recv() => input,
                _ = sleep_until(deadline) => {
                    self.expire().await;
                    continue;
                }
            };
            match input {
                Some(input) => self.handle(input).await,
                None => break,
            }
        }
        self.close_remote().await;
        self.end_launched().await;
        if self.attach_request.is_some() {
            self.abandon_attach(&mut inputs).await;
        }
    }

    /// The editor left while an attach was in flight. Once ptvsd has accepted an attach
    /// it counts as attached until it is detached (or, for a while, until a write fails):
    /// dropping the new connection would leave the app refusing the next debugger. So
    /// wait for the attach (at most [`DETACH_WAIT`]), and detach it properly.
    async fn abandon_attach(&mut self, inputs: &mut mpsc::Receiver<Input>) {
        let deadline = Instant::now() + DETACH_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, inputs.recv()).await {
                Ok(Some(Input::Attached(result))) => {
                    if let Ok(connected) = *result {
                        tracing::info!("the editor left during the attach; detaching");
                        let mut framed = connected.framed;
                        if tokio::time::timeout(SEND_TIMEOUT, framed.send(Command::Detach)).await.is_ok_and(|sent| sent.is_ok()) {
                            let confirmed = async {
                                while let Some(Ok(event)) = framed.next().await {
                                    if event == Event::Detach {
                                        return;
                                    }
                                }
                            };
                            let _ = tokio::time::timeout_at(Instant::now() + DETACH_WAIT, confirmed).await;
                        }
                        framed.into_inner().abort().await;
                    }
                    return;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return,
            }
        }
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Editor(EditorMessage::Request(request)) => self.on_request(request).await,
            Input::Editor(EditorMessage::Invalid { seq, command, reason }) => {
                tracing::warn!(%reason, "malformed message from the editor");
                if let Some(seq) = seq {
                    let command = command.unwrap_or_else(|| "unknown".to_string());
                    let request = Request { seq, command, arguments: None };
                    self.respond_error(&request, &format!("ptvsd-dap could not read this request: {reason}")).await;
                } else {
                    self.output("important", &format!("ptvsd-dap ignored a malformed message from the editor: {reason}\n")).await;
                }
            }
            Input::EditorClosed => {
                tracing::info!("the editor closed its side; detaching");
                self.detach_quietly().await;
                self.exit = true;
            }
            Input::Remote { generation, event } if generation == self.generation => self.on_event(event).await,
            Input::RemoteClosed { generation, error } if generation == self.generation => self.on_remote_closed(error).await,
            Input::Handlers { generation, file, statements } if generation == self.generation && self.remote.is_some() => {
                let _ = self.send(Command::SetExceptionHandlerInfo { file, statements }).await;
            }
            Input::Remote { .. } | Input::RemoteClosed { .. } | Input::Handlers { .. } => {}
            Input::Attached(result) => self.on_attached(*result).await,
            Input::Launch(input) => self.on_launch_input(input).await,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let pending = self.pending.values().map(|p| p.deadline);
        let binds = self.bind_waits.iter().map(|w| w.deadline);
        let detach = self.detach_wait.iter().map(|(_, d)| *d);
        pending.chain(binds).chain(detach).chain(self.idle_notice).min()
    }

    /// Answers every request whose deadline passed.
    async fn expire(&mut self) {
        let now = Instant::now();
        if self.idle_notice.is_some_and(|d| d <= now) {
            self.idle_notice = None;
            if !self.entry_break_seen && self.phase == Phase::Running {
                let text = if self.config.as_ref().is_some_and(|c| c.stop_on_entry) {
                    "Waiting for the app to run: send it a request. It will stop at the first line it executes.\n"
                } else {
                    "Waiting for the app to run: send it a request. Breakpoints bind as their modules load.\n"
                };
                self.output("console", text).await;
            }
        }
        let seconds = self.request_timeout().as_secs();
        let expired: Vec<ExecutionId> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                let message = format!("the debuggee did not answer within {seconds} s (it may be busy, or its debugger thread may be stuck)");
                self.fail_waiter(p.waiter, &message).await;
            }
        }
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.bind_waits).into_iter().partition(|w| w.deadline <= now);
        self.bind_waits = keep;
        for wait in due {
            self.answer_breakpoints(wait.request, &wait.local_path).await;
        }
        if self.detach_wait.as_ref().is_some_and(|(_, d)| *d <= now) {
            if let Some((request, _)) = self.detach_wait.take() {
                tracing::warn!("no detach confirmation; closing anyway");
                self.finish_disconnect(request).await;
            }
        }
    }

    fn request_timeout(&self) -> Duration {
        self.config.as_ref().map(|c| c.request_timeout).unwrap_or(Duration::from_secs(15))
    }

    async fn fail_waiter(&mut self, waiter: Waiter, message: &str) {
        match waiter {
            Waiter::Evaluate { request, .. }
            | Waiter::Children { request, .. }
            | Waiter::Exit { request }
            | Waiter::Assign { request, .. }
            | Waiter::AssignRead { request, .. }
            | Waiter::Source { request, .. }
            | Waiter::GotoSource { request, .. }
            | Waiter::Goto { request, .. } => {
                self.respond_error(&request, message).await;
            }
            Waiter::Completions { request, .. } => {
                // Nothing to offer (an unknown name before the dot, a running program).
                tracing::debug!(%message, "completions failed");
                self.respond(&request, Some(json!({ "targets": [] }))).await;
            }
            Waiter::Log { thread, source, line, started } => {
                let text = format!("Logpoint error: {message}\n");
                self.log_output(&text, source, line).await;
                // Boxed: finishing resumes the program, which can lose the connection.
                Box::pin(self.finish_logpoint(thread, started)).await;
            }
            Waiter::Entry { thread, report } => {
                tracing::debug!(%message, "output repair did not answer");
                if self.remote.is_some() {
                    // Boxed: releasing the break can lose the connection, which fails
                    // waiters again.
                    Box::pin(self.finish_entry(thread, report)).await;
                }
            }
        }
    }

    // ---- writing to the editor -------------------------------------------------------

    async fn send_message(&mut self, message: Message) {
        if self.out.send(message).await.is_err() {
            // The writer is gone: the editor closed stdout. Nothing more to say.
            self.exit = true;
        }
    }

    async fn respond(&mut self, request: &Request, body: Option<Value>) {
        let response = Response { seq: 0, request_seq: request.seq, success: true, command: request.command.clone(), message: None, body };
        self.send_message(Message::Response(response)).await;
    }

    async fn respond_error(&mut self, request: &Request, message: &str) {
        let body = json!({ "error": { "id": 1, "format": escape_format(message), "showUser": true } });
        let response = Response {
            seq: 0,
            request_seq: request.seq,
            success: false,
            command: request.command.clone(),
            message: Some(message.to_string()),
            body: Some(body),
        };
        self.send_message(Message::Response(response)).await;
    }

    async fn event(&mut self, event: &str, body: Option<Value>) {
        self.send_message(Message::Event(DapEvent { seq: 0, event: event.to_string(), body })).await;
    }

    async fn output(&mut self, category: &str, text: &str) {
        self.event("output", Some(json!({ "category": category, "output": text }))).await;
    }

    // ---- talking to ptvsd -------------------------------------------------------------

    /// Sends one command; a write that fails or stalls ends the connection.
    ///
    /// Commands that release ptvsd's stopped threads wait until the threads released
    /// before have woken up. ptvsd releases a stopped thread by releasing a lock the
    /// thread then takes again, and it decides which threads to release by a flag the
    /// thread clears only once it runs: a resume, step or detach sent before then
    /// releases the lock a second time ("release unlocked lock"). In a resume that
    /// leaves the threads after it in ptvsd's list stopped for good while the editor
    /// sees them running; in a detach (and in any command on ptvsd 2.2/3.0) it kills the
    /// command loop before ptvsd marks itself detached, so the app refuses every later
    /// attach as "already attached" until it restarts. So:
    /// * a resume, step or detach first waits (at most [`DETACH_WAIT`]) until every
    ///   `exec`/`chld` is answered (the thread answers after it woke);
    /// * every such command, and `exec`/`chld`, waits until the threads released by the
    ///   last resume or step have had [`THREAD_SETTLE`] to wake.
    async fn send(&mut self, command: Command) -> Result<(), String> {
        let releases = matches!(
            command,
            Command::ResumeAll
                | Command::ResumeThread { .. }
                | Command::AutoResumeThread { .. }
                | Command::StepInto { .. }
                | Command::StepOut { .. }
                | Command::StepOver { .. }
        );
        let works = matches!(command, Command::Execute { .. } | Command::EnumChildren { .. });
        if let Some(remote) = self.remote.as_ref() {
            let mut work = remote.work.subscribe();
            let detach = matches!(command, Command::Detach);
            if (releases || detach) && tokio::time::timeout(DETACH_WAIT, work.wait_for(|w| w.in_flight == 0)).await.is_err() {
                tracing::warn!("releasing threads while the debuggee still runs an evaluation");
            }
            if releases || works || detach {
                let until = work.borrow().settle_until;
                tokio::time::sleep_until(until).await;
            }
        }
        let settle = (THREAD_SETTLE + THREAD_SETTLE_EACH * u32::try_from(self.threads.len()).unwrap_or(u32::MAX)).min(THREAD_SETTLE_MAX);
        let Some(remote) = self.remote.as_mut() else {
            return Err("not attached to a debuggee".to_string());
        };
        tracing::debug!(?command, "→ ptvsd");
        // Counted before it goes out: the answer can arrive before `send` returns.
        if works {
            remote.work.send_modify(|w| w.in_flight += 1);
        }
        if releases {
            remote.work.send_modify(|w| w.settle_until = Instant::now() + settle);
        }
        match tokio::time::timeout(SEND_TIMEOUT, remote.sink.send(command)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(ProtocolError::Unsupported { command, version })) => {
                Err(format!("{command} is not supported by this debuggee's ptvsd (protocol version {version})"))
            }
            Ok(Err(error)) => {
                let text = error.to_string();
                self.connection_lost(Some(text.clone())).await;
                Err(text)
            }
            Err(_) => {
                let text = format!("the debuggee stopped reading for {} s", SEND_TIMEOUT.as_secs());
                self.connection_lost(Some(text.clone())).await;
                Err(text)
            }
        }
    }

    fn execution_id(&mut self) -> ExecutionId {
        self.next_execution_id += 1;
        self.next_execution_id
    }

    fn park(&mut self, id: ExecutionId, waiter: Waiter) {
        let deadline = Instant::now() + self.request_timeout();
        self.pending.insert(id, Pending { waiter, deadline });
    }

    /// Closes the connection abortively (RST): a graceful close makes ptvsd spin at 100 %
    /// CPU in the debuggee (spec §4.8).
    async fn close_remote(&mut self) {
        let Some(mut remote) = self.remote.take() else { return };
        if let Some(stop) = remote.stop_reader.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(Duration::from_secs(1), &mut remote.reader).await {
            Ok(Ok(stream)) => match remote.sink.reunite(stream) {
                Ok(framed) => framed.into_inner().abort().await,
                Err(error) => tracing::warn!(%error, "could not reunite the remote stream; closing it normally"),
            },
            _ => {
                remote.reader.abort();
                tracing::warn!("the remote reader did not stop; closing normally");
            }
        }
    }

    /// Detaches without an editor request (stdin closed): best effort, bounded.
    async fn detach_quietly(&mut self) {
        if self.remote.is_some() {
            let _ = self.send(Command::Detach).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.close_remote().await;
    }

    // ---- attach ----------------------------------------------------------------------

    /// Starts connecting in the background; the result comes back as [`Input::Attached`].
    fn start_attach(&mut self, config: &AttachConfig) {
        let endpoint = config.endpoint.clone();
        let options = config.connect.clone();
        let debug_options = config.debug_options();
        let timeout = config.handshake_timeout;
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let result = async {
                let stream = transport::connect(&endpoint, &options).await?;
                let attached = handshake::attach(stream, endpoint.secret().expose(), &debug_options, Limits::default(), timeout).await?;
                Ok::<_, AttachFailure>(Connected { framed: attached.framed, dialect: attached.dialect, info: attached.info })
            }
            .await;
            let _ = inputs.send(Input::Attached(Box::new(result))).await;
        });
    }

    async fn on_attached(&mut self, result: Result<Connected, AttachFailure>) {
        let Some(request) = self.attach_request.take() else { return };
        let connected = match result {
            Ok(connected) => connected,
            Err(error) => {
                self.phase = Phase::Ended;
                let message = error.to_string();
                self.output("important", &format!("{}\n", capitalise(&message))).await;
                self.respond_error(&request, &capitalise(&message)).await;
                self.event("terminated", None).await;
                return;
            }
        };
        self.generation += 1;
        let generation = self.generation;
        let (sink, mut stream) = connected.framed.split();
        let inputs = self.inputs.clone();
        let (stop_reader, mut stop) = tokio::sync::oneshot::channel::<()>();
        let work = std::sync::Arc::new(tokio::sync::watch::Sender::new(ThreadWork { in_flight: 0, settle_until: Instant::now() }));
        let answered = work.clone();
        let reader = tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = &mut stop => return stream,
                    next = stream.next() => next,
                };
                match next {
                    Some(Ok(event)) => {
                        if answers_work(&event) {
                            answered.send_modify(|w| w.in_flight = w.in_flight.saturating_sub(1));
                        }
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
        self.python = Some(info.python);
        self.remote = Some(Remote { sink, reader, stop_reader: Some(stop_reader), work });
        self.phase = Phase::Configuring;
        tracing::info!(pid = info.pid, python = %info.python, version = dialect.version(), "attached");

        // Exception settings and known breakpoints go out before the attach break is
        // released (spec §4.9).
        if let Err(error) = self.send_exception_info().await {
            tracing::warn!(%error, "could not send exception settings");
        }
        let all: Vec<_> = self.breakpoints.all().map(|(f, b)| (f.remote_path.clone(), b.clone())).collect();
        for (remote_path, b) in all {
            let _ = self.send_breakpoint(&remote_path, &b).await;
        }

        self.respond(&request, None).await;
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
        self.event(
            "process",
            Some(json!({ "name": format!("python (pid {})", info.pid), "systemProcessId": info.pid, "isLocalProcess": self.launched.is_some(), "startMethod": if self.launched.is_some() { "launch" } else { "attach" } })),
        )
        .await;
        self.event("initialized", None).await;
    }

    // ---- connection loss -------------------------------------------------------------

    async fn on_remote_closed(&mut self, error: Option<ProtocolError>) {
        if let Some((request, _)) = self.detach_wait.take() {
            self.finish_disconnect(request).await;
            return;
        }
        self.connection_lost(error.map(|e| e.to_string())).await;
    }

    /// The connection is gone: fail what waits, say why, and end the session.
    async fn connection_lost(&mut self, reason: Option<String>) {
        if self.phase == Phase::Ended {
            return;
        }
        self.phase = Phase::Ended;
        self.close_remote().await;
        let exit_waiters: Vec<Request> = {
            let ids: Vec<ExecutionId> = self.pending.iter().filter(|(_, p)| matches!(p.waiter, Waiter::Exit { .. })).map(|(id, _)| *id).collect();
            ids.into_iter().filter_map(|id| self.pending.remove(&id)).filter_map(|p| match p.waiter { Waiter::Exit { request } => Some(request), _ => None }).collect()
        };
        let terminating = !exit_waiters.is_empty();
        for request in exit_waiters {
            self.respond(&request, None).await;
        }
        let attach_failure = self.attach_failure.take();
        let sentence = match (&reason, self.program_exited || terminating) {
            (_, _) if attach_failure.is_some() => format!(
                "ptvsd failed while attaching ({}), then closed the connection. This is a race inside ptvsd, usually with the app importing modules at that moment: attach again.",
                attach_failure.unwrap_or_default()
            ),
            (None, true) => "The program exited.".to_string(),
            (None, false) => "The debuggee closed the connection: the program exited or was stopped, or the relay dropped it. Attach again once it runs.".to_string(),
            (Some(reason), _) => format!("The connection to the debuggee was lost: {reason}. Attach again to continue debugging."),
        };
        let waiters: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        for p in waiters {
            self.fail_waiter(p.waiter, &sentence).await;
        }
        for wait in std::mem::take(&mut self.bind_waits) {
            self.answer_breakpoints(wait.request, &wait.local_path).await;
        }
        match self.launch_lost_sentence(reason.as_deref()) {
            None => self.output(if reason.is_some() { "important" } else { "console" }, &format!("{sentence}\n")).await,
            Some(Some(text)) => self.output("important", &text).await,
            Some(None) => {}
        }
        self.announce_terminated().await;
    }

    async fn finish_disconnect(&mut self, request: Request) {
        self.close_remote().await;
        self.phase = Phase::Ended;
        self.respond(&request, None).await;
        self.exit = true;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// DAP's `Message.format` treats `{name}` as a placeholder.
fn escape_format(text: &str) -> String {
    text.replace('{', "(").replace('}', ")")
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
