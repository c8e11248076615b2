//! The debug session: the only place that knows both DAP and the legacy protocol.
//!
//! Owns: the loop ([`Session::run`]) that takes [`Input`]s one at a time (editor
//! requests, remote events, the attach result, launch events, handler answers), and one
//! field per component; each component is a struct in its own file that owns its state
//! and has the synchronous logic over it as methods:
//! `editor` (`Editor`: the DAP writer, the client's line/column base, the program's
//! output lines), `lifecycle` (`Lifecycle`: the phase, the attach break, the detach
//! steps, how the connection ended), `connection` (`Connection`: the link to ptvsd, its
//! generation, the Python version, the `reconnect` retries), `config` and `launched`,
//! `threads` (the per-thread state machine, generations, fence, pause), `work` (the
//! per-thread scheduler of `exec`/`chld`), `stepping` (`Stepping`: the step in progress,
//! the releases at the gate, the `goto` wait, logpoints being logged, silent-stop
//! suspects), `handles` (frame ids and `variablesReference`s, and the variables built
//! from them), `sources`, `breakpoints` (`BreakpointState`: source and function
//! breakpoints, the resolver, the bind waits) and `exceptions` (`Exceptions`: the
//! settings, the last exception stop and raise, the handler queries outstanding).
//!
//! The `impl Session` blocks in the other files are the orchestration that crosses
//! components or awaits a send: `requests` (dispatch, and the set-up requests), `stack`
//! (threads, stackTrace, scopes, variables), `evaluation` (evaluate, setVariable,
//! setExpression, completions), `waiters` (what waits for a work item, and where its
//! answer goes), `frame_requests` (logpoints, handler queries, sources, goto),
//! `events` (ptvsd's events), `stepping` (continue, steps, pause and every resume
//! through one gate, [`Session::pump`]), `connection`, `reconnecting`, `repairs`
//! (attach-break evaluations) and `launch`.
//!
//! Must not know: byte layouts of either protocol, or which dialect or transport is in
//! use (it sees `legacy::Command`/`legacy::Event` and a framed stream).
//!
//! Invariants (each is enforced in one place, named here):
//! * every DAP request gets exactly one response, through [`Session::answer`]
//!   (`requests::on_request` answers what a handler returns; every waiter in `work` is
//!   answered, failed, expired or drained, `waiters`);
//! * nothing that needs a parked thread (step, resume-one, `exec`, `chld`, set-line) is
//!   sent to a thread that is not `Stopped` in the current generation (`threads`,
//!   `Session::pump`); the only exception is the `exec "0"` probe, which ptvsd answers
//!   safely on a running thread;
//! * one work item per thread in flight (`work`); no resume or detach while one is in
//!   flight (`Session::pump` runs releases only when the scheduler is empty);
//! * every handler query (REQH) is answered, in every phase (`events`, `Input::Handlers`),
//!   and the detach waits until none is outstanding (`stepping::try_detach`);
//! * all output to the editor goes through `Editor::send` (`editor`); program output
//!   through [`Session::program_output`]; a fatal failure is reported by
//!   [`Session::report_fatal`].

pub mod breakpoints;
pub mod completions;
pub mod config;
pub mod exceptions;
pub mod function_breakpoints;
pub mod functions;
pub mod handles;
pub mod jumps;
pub mod logpoints;
pub mod paging;
pub mod paths;
pub mod reconnect;
pub mod sources;
pub mod threads;
pub mod try_ranges;
pub mod work;

mod connection;
mod editor;
mod evaluation;
mod events;
mod frame_requests;
mod function_requests;
pub mod launch;
mod lifecycle;
pub mod output;
mod reconnecting;
pub mod repairs;
mod requests;
mod stack;
mod stepping;
mod waiters;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::dap::bodies::ResponseBody;

use crate::dap::types::{Message, Request};
use crate::legacy::messages::{Event, HandlerStatement};
use crate::legacy::ProtocolError;

use config::AttachConfig;
use handles::Handles;
use lifecycle::{Lifecycle, Phase};
use threads::Threads;
use waiters::Waiter;
use work::Scheduler;

pub use connection::{AttachFailure, Connected};

/// How long a disconnect waits for ptvsd's detach confirmation, and for the handler
/// answers and evaluations that must be delivered before the detach, before closing anyway.
const DISCONNECT_WAIT: Duration = Duration::from_secs(3);
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
    Invalid {
        seq: Option<i64>,
        command: Option<String>,
        reason: String,
    },
}

/// Everything the session loop reacts to.
#[derive(Debug)]
pub enum Input {
    Editor(EditorMessage),
    EditorClosed,
    Remote {
        generation: u64,
        event: Event,
    },
    RemoteClosed {
        generation: u64,
        error: Option<ProtocolError>,
    },
    Attached(Box<Result<Connected, AttachFailure>>),
    /// From the program a `launch` started.
    Launch(launch::LaunchInput),
    /// The answer to a handler query (REQH), worked out off the session loop.
    Handlers {
        generation: u64,
        file: String,
        statements: Vec<HandlerStatement>,
    },
    /// A line for the user from a task (the retries of `reconnect`).
    Note(String),
    /// Function breakpoint names resolved off the session loop.
    FunctionsResolved(Box<function_requests::FunctionsResolved>),
}

/// Who is to blame for a failed request, which decides whether the editor shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The user asked for something that cannot be done: show it.
    User,
    /// The debuggee or the connection failed: show it.
    Debuggee,
    /// Expected and harmless (a stale hover, an old handle): do not pop it up.
    Nobody,
}

/// A failed request: a sentence and who is to blame.
#[derive(Debug, Clone)]
pub struct RequestError {
    pub message: String,
    pub blame: Blame,
}

impl RequestError {
    pub fn quiet(message: impl Into<String>) -> Self {
        Self { message: message.into(), blame: Blame::Nobody }
    }
}

impl From<String> for RequestError {
    fn from(message: String) -> Self {
        Self { message, blame: Blame::User }
    }
}

impl From<&str> for RequestError {
    fn from(message: &str) -> Self {
        Self { message: message.to_string(), blame: Blame::User }
    }
}

/// What a request handler returns when it did not fail.
#[derive(Debug)]
pub enum Reply {
    /// Success with this body; the dispatcher answers.
    Body(Box<ResponseBody>),
    /// Success without a body; the dispatcher answers.
    Ack,
    /// The answer comes later, from what now holds the request (a waiter in `work`, a
    /// release, a bind wait, the attach, a launched program's exit), or it was given
    /// already because events must follow it (`terminate`, `disconnect`); always
    /// through [`Session::answer`].
    Later,
}

impl Reply {
    pub fn body(body: impl Into<ResponseBody>) -> Self {
        Reply::Body(Box::new(body.into()))
    }
}

/// What a request handler returns: its reply, or why the request failed.
pub type Handled = Result<Reply, RequestError>;

/// A request's answer: its body (if it has one), or why it failed.
pub type Answer = Result<Option<ResponseBody>, RequestError>;

/// The session: the loop and its components.
pub struct Session {
    editor: editor::Editor,
    inputs: mpsc::Sender<Input>,
    lifecycle: Lifecycle,
    config: Option<AttachConfig>,
    connection: connection::Connection,
    threads: Threads,
    work: Scheduler<Waiter>,
    handles: Handles,
    breakpoints: breakpoints::BreakpointState,
    exceptions: exceptions::Exceptions,
    sources: sources::Sources,
    stepping: stepping::Stepping,
    /// The program `launch` started, if any.
    launched: Option<launch::Launched>,
}

impl Session {
    /// A session that writes DAP messages to `out` and feeds itself through `inputs`.
    pub fn new(out: mpsc::Sender<Message>, inputs: mpsc::Sender<Input>) -> Self {
        Self {
            editor: editor::Editor::new(out),
            inputs,
            lifecycle: Lifecycle::default(),
            config: None,
            connection: connection::Connection::default(),
            threads: Threads::default(),
            work: Scheduler::default(),
            handles: Handles::default(),
            breakpoints: breakpoints::BreakpointState::default(),
            exceptions: exceptions::Exceptions::default(),
            sources: sources::Sources::default(),
            stepping: stepping::Stepping::default(),
            launched: None,
        }
    }

    /// Runs until the editor disconnects or closes its side.
    pub async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        while !self.lifecycle.is_closed() {
            let deadline = self.next_deadline();
            let input = tokio::select! {
                input = inputs.recv() => input,
                _ = sleep_until(deadline) => {
                    self.expire().await;
                    self.pump().await;
                    continue;
                }
            };
            let Some(input) = input else { break };
            self.handle(input).await;
            // Take what else has arrived before sending work: requests that come as one
            // burst (locals and watches at a stop) are queued together, so evaluations for
            // one frame share one round trip.
            tokio::task::yield_now().await;
            while let Ok(input) = inputs.try_recv() {
                self.handle(input).await;
            }
            self.pump().await;
        }
        self.flush_program_output().await;
        if let Some(retrying) = self.connection.stop_retrying() {
            retrying.cancel();
        }
        self.close_remote().await;
        self.end_launched().await;
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Editor(EditorMessage::Request(request)) => self.on_request(request).await,
            Input::Editor(EditorMessage::Invalid { seq, command, reason }) => {
                tracing::warn!(%reason, "malformed message from the editor");
                if let Some(seq) = seq {
                    let command = command.unwrap_or_else(|| "unknown".to_string());
                    let request = Request { seq, command, arguments: None };
                    self.answer(&request, Err(format!("ptvsd-dap could not read this request: {reason}").into())).await;
                } else {
                    self.output(
                        "important",
                        &format!("ptvsd-dap ignored a malformed message from the editor: {reason}\n"),
                    )
                    .await;
                }
            }
            Input::EditorClosed => {
                tracing::info!("the editor closed its side; detaching");
                self.begin_detach(lifecycle::DetachReason::EditorClosed).await;
            }
            Input::Remote { generation, event } if self.connection.is_current(generation) => self.on_event(event).await,
            Input::RemoteClosed { generation, error } if self.connection.is_current(generation) => {
                self.on_remote_closed(error).await
            }
            Input::Handlers { generation, file, statements } if self.connection.is_current(generation) => {
                // Answered in every phase while the connection is up, also while detaching
                // (a query left unanswered parks a debuggee thread for good).
                self.exceptions.handler_answered();
                if self.connection.is_up() {
                    let _ = self.send(crate::legacy::Command::SetExceptionHandlerInfo { file, statements }).await;
                }
                self.after_handler_answer().await;
            }
            Input::Remote { .. } | Input::RemoteClosed { .. } | Input::Handlers { .. } => {}
            Input::FunctionsResolved(done) => self.on_functions_resolved(*done).await,
            Input::Note(line) => {
                if matches!(self.lifecycle.phase(), Phase::Reconnecting | Phase::Attaching { .. }) {
                    self.output("console", &format!("{line}\n")).await;
                }
            }
            Input::Attached(result) => self.on_attached(*result).await,
            Input::Launch(input) => self.on_launch_input(input).await,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let work = self.work.next_deadline();
        let binds = self.breakpoints.bind_deadline();
        let exceptions = self.exceptions.apply_deadline();
        let goto = self.stepping.goto_deadline();
        let lifecycle = self.lifecycle.deadline();
        let partial_line = self.editor.deadline();
        work.into_iter().chain(binds).chain(exceptions).chain(goto).chain(lifecycle).chain(partial_line).min()
    }

    /// Answers everything whose deadline passed.
    async fn expire(&mut self) {
        let now = Instant::now();
        let sent = self.editor.expire(now).await;
        self.on_editor(sent);
        if self.lifecycle.take_idle_notice(now) && self.lifecycle.is_running() {
            let text = if self.config.as_ref().is_some_and(|c| c.stop_on_entry) {
                "Waiting for the app to run: send it a request. It will stop at the first line it executes.\n"
            } else {
                "Waiting for the app to run: send it a request. Breakpoints bind as their modules load.\n"
            };
            self.output("console", text).await;
        }
        let seconds = self.request_timeout().as_secs();
        for waiter in self.work.expire(now) {
            let message = format!(
                "the debuggee did not answer within {seconds} s (it may be busy, or its debugger thread may be stuck)"
            );
            self.fail_waiter(waiter, &message).await;
        }
        if let Some(goto) = self.stepping.expired_goto(now) {
            self.answer(&goto.request, Err(format!("the debuggee did not answer within {seconds} s").into())).await;
        }
        self.answer_held_configuration(Some(now)).await;
        if self.lifecycle.detach_overdue(now) {
            tracing::warn!("the detach did not complete in time; closing anyway");
            self.finish_detach().await;
        }
    }

    fn request_timeout(&self) -> Duration {
        self.config.as_ref().map(|c| c.request_timeout).unwrap_or(Duration::from_secs(15))
    }

    /// Tells the editor that the session is over and why: the one place for it. The order
    /// makes the sentence visible in every editor, and last in an editor with a one-line
    /// status:
    /// 1. the sentence as `output` (`category`: `important`, or `console` for a plain
    ///    end): VS Code's DEBUG CONSOLE and nvim-dap's REPL keep it (both drop output that
    ///    comes after `terminated`);
    /// 2. the error response to the request that failed (if one waits), the sentence as
    ///    its message: VS Code shows a dialog, nvim-dap a notification;
    /// 3. `terminated`: Helix replaces its status line with "Terminated debugging session";
    /// 4. the sentence again as `output`, which Helix then shows.
    ///
    /// When `terminated` is not sent now (a `launch` session sends it after the program's
    /// exit, see `announce_terminated`), the sentence is said once.
    async fn report_fatal(&mut self, request: Option<&Request>, category: &str, sentence: &str) {
        let line = format!("{sentence}\n");
        self.output(category, &line).await;
        if let Some(request) = request {
            self.answer(request, Err(RequestError { message: sentence.to_string(), blame: Blame::Debuggee })).await;
        }
        if self.announce_terminated().await {
            self.output(category, &line).await;
        }
    }

    // ---- waiters ---------------------------------------------------------------------
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
