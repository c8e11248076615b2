//! Several processes in one DAP session: an `attach` whose `url` (or `port`) is a list.
//!
//! Multi-worker servers (gunicorn, uWSGI, several FastCGI processes) run one ptvsd per
//! worker, each on its own port, and the request the user makes lands on any of them. This
//! component attaches to every endpoint and shows the editor one session.
//!
//! Owns: the decision, at the editor's first `attach`, between one [`Session`] (one
//! endpoint: exactly as always) and this component ([`Router`]); and, for a multi-process
//! session, one inner [`Session`] per endpoint (each with its own transport, secret,
//! handshake, reconnect and thread states), driven over channels as `server` drives one,
//! and the translation between the editor and them:
//! * `initialize` is replayed to each inner session (the editor got its one answer);
//!   `attach` goes to each with its own endpoint, and is answered when the first process
//!   attached (or every one failed);
//! * breakpoints (line, function, exception filters), `configurationDone`, `threads`,
//!   `loadedSources`, `modules`, `disconnect` and `terminate` go to every process, and
//!   their answers are merged into one response (a breakpoint is verified when any process
//!   bound it; [`ids::MergedBreakpoints`]); a process that attaches later (or again) is
//!   sent the configuration the editor set, so the editor sets nothing twice;
//! * requests that name a thread, frame, variables reference or source reference go to the
//!   process that gave that id; ids are encoded per process so none collide
//!   ([`ids::Ids`]); the rest go to the process that stopped last (else the first);
//! * events: thread names carry their process (`[pid 4242] MainThread`); a stop stops
//!   only its process, so `stopped` says `allThreadsStopped: false`, and the other threads
//!   of that process are reported stopped too (reason `pause`, `preserveFocusHint`, which
//!   neither VS Code nor nvim-dap jumps to); `continued` likewise per thread of the
//!   process; the adapter's own lines are prefixed with the process; `terminated` only
//!   when the whole session ends.
//!
//! A process that fails or goes away is said in one console line, and the others carry
//! on; with `reconnect` its inner session attaches again by itself (`session::reconnecting`)
//! and this component sends it nothing new. The session ends when the editor disconnects
//! (every process is detached and keeps running) or when every process is gone.
//!
//! Must not know: the legacy protocol, transports, or how a session works inside; it sees
//! DAP messages only.

pub mod ids;

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::dap::types::{Event as DapEvent, Message, Request, Response};
use crate::session::config::{split_endpoints, AttachConfig};
use crate::session::{EditorMessage, Input, Session};
use ids::{Ids, MergedBreakpoints};

/// Bound on each inner session's queues.
const QUEUE: usize = 1024;

/// A multi-process session about to start: the editor's `initialize` (answered already by
/// the single session it started with) and its `attach`, split per endpoint.
#[derive(Debug)]
pub struct Start {
    initialize: Request,
    attach: Request,
    endpoints: Vec<Value>,
}

/// Where an editor request goes.
#[derive(Debug)]
pub enum Routed {
    /// To the one session (everything until a multi-process attach, and always after a
    /// single attach or a launch).
    Session(Request),
    /// The attach names several endpoints: the one session ends (it never attached), and
    /// [`run`] takes over with this.
    Start(Start),
    /// To the multi-process session.
    Processes(Request),
}

/// Decides, at the editor's first `attach`, whether the session has one process or several.
#[derive(Debug, Default)]
pub struct Router {
    decided: Option<bool>,
    initialize: Option<Request>,
}

impl Router {
    pub fn route(&mut self, mut request: Request) -> Routed {
        match self.decided {
            Some(false) => return Routed::Session(request),
            Some(true) => return Routed::Processes(request),
            None => {}
        }
        match request.command.as_str() {
            "initialize" => self.initialize = Some(request.clone()),
            "launch" => self.decided = Some(false),
            "attach" => {
                self.decided = Some(false);
                // A list that is not usable is refused by the one session, naming the key.
                let split = request.arguments.as_ref().map(split_endpoints);
                match (split, self.initialize.take()) {
                    (Some(Ok(Some(mut endpoints))), _) if endpoints.len() == 1 => request.arguments = endpoints.pop(),
                    (Some(Ok(Some(endpoints))), Some(initialize)) => {
                        self.decided = Some(true);
                        return Routed::Start(Start { initialize, attach: request, endpoints });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Routed::Session(request)
    }

    /// Whether editor messages now go to the multi-process session.
    #[must_use]
    pub fn is_multi(&self) -> bool {
        self.decided == Some(true)
    }
}

/// Runs a multi-process session until the editor disconnects or closes, or every process
/// is gone and the editor disconnects. `editor` carries the editor's messages after the
/// attach (as [`Input::Editor`] and [`Input::EditorClosed`]).
pub async fn run(start: Start, out: mpsc::Sender<Message>, editor: mpsc::Receiver<Input>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut processes = Processes::new(out, tx);
    processes.start(start).await;
    processes.run(editor, rx).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Attaching; gets no configuration yet.
    Attaching,
    /// Attached and configured like the others.
    Live,
    /// Its session ended (attach failed, connection lost without `reconnect`, detached).
    Gone,
}

/// One endpoint and its inner session.
#[derive(Debug)]
struct Process {
    /// The endpoint as the user may read it (the secret redacted).
    endpoint: String,
    pid: Option<i64>,
    inputs: mpsc::Sender<Input>,
    state: State,
    /// Its live threads, by the editor's ids.
    threads: BTreeSet<i64>,
    /// The session's last line of its own (console or important), held until its next
    /// message or the end of the batch: when that is `terminated`, the line becomes the
    /// one line that says the process is gone.
    held: Option<DapEvent>,
    /// Its session's output channel has closed (the session loop ended).
    closed: bool,
    task: Option<JoinHandle<()>>,
}

impl Process {
    fn label(&self) -> String {
        match self.pid {
            Some(pid) => format!("[pid {pid}]"),
            None => format!("[{}]", self.endpoint),
        }
    }
}

/// What an inner request is for.
#[derive(Debug)]
enum Purpose {
    /// The replayed `initialize`: nothing to answer.
    Initialize,
    /// The process's `attach`.
    Attach,
    /// The editor's request, sent to this one process: its answer is the editor's.
    Forward(Request),
    /// One part of a request sent to several processes.
    Part(u64),
    /// Configuration sent again to a process that attached later: `key` names the
    /// breakpoints it set, if any.
    Replay(Option<String>),
}

/// An editor request sent to several processes, waiting for their answers.
#[derive(Debug)]
struct Group {
    request: Request,
    waiting: usize,
    answers: Vec<(usize, Response)>,
}

struct Processes {
    out: mpsc::Sender<Message>,
    /// Each inner session's messages, tagged with its index; `None` when it ended.
    tx: mpsc::Sender<(usize, Option<Message>)>,
    processes: Vec<Process>,
    ids: Ids,
    breakpoints: MergedBreakpoints,
    next_seq: i64,
    pending: HashMap<i64, (usize, Purpose)>,
    groups: HashMap<u64, Group>,
    next_group: u64,
    /// The editor's `attach`, until answered.
    attach: Option<Request>,
    attach_errors: Vec<String>,
    initialized_sent: bool,
    /// The configuration requests the editor sent, the latest of each kind (and of each
    /// source), in order: sent again to a process that attaches later.
    configuration: Vec<(String, Request)>,
    /// Each module's (and loaded source's) file → the process whose reports of it the
    /// editor gets (forked workers load the same ones).
    modules: HashMap<String, usize>,
    /// The process that stopped last: where requests that name no process go.
    last_stopped: Option<usize>,
    /// `terminated` was sent: every process is gone.
    ended: bool,
    /// The editor disconnected (or left): every process is being detached.
    leaving: bool,
    /// The editor asked to terminate: every process detaches (or ends, with
    /// `terminateEndsApp`), and each says so.
    terminating: bool,
}

impl Processes {
    fn new(out: mpsc::Sender<Message>, tx: mpsc::Sender<(usize, Option<Message>)>) -> Self {
        Self {
            out,
            tx,
            processes: Vec::new(),
            ids: Ids::new(1),
            breakpoints: MergedBreakpoints::default(),
            next_seq: 0,
            pending: HashMap::new(),
            groups: HashMap::new(),
            next_group: 0,
            attach: None,
            attach_errors: Vec::new(),
            initialized_sent: false,
            configuration: Vec::new(),
            modules: HashMap::new(),
            last_stopped: None,
            ended: false,
            leaving: false,
            terminating: false,
        }
    }

    /// Starts one inner session per endpoint: `initialize` again, then its `attach`.
    async fn start(&mut self, start: Start) {
        let Start { initialize, attach, endpoints } = start;
        self.ids = Ids::new(endpoints.len());
        tracing::info!(processes = endpoints.len(), "attaching to several processes as one session");
        for (index, arguments) in endpoints.into_iter().enumerate() {
            let endpoint = AttachConfig::from_arguments(&arguments)
                .map(|config| config.endpoint.to_string())
                .unwrap_or_else(|_| format!("endpoint {}", index + 1));
            let (out_tx, mut out_rx) = mpsc::channel::<Message>(QUEUE);
            let (in_tx, in_rx) = mpsc::channel::<Input>(QUEUE);
            let session = Session::new(out_tx, in_tx.clone());
            let task = tokio::spawn(session.run(in_rx));
            let tx = self.tx.clone();
            tokio::spawn(async move {
                while let Some(message) = out_rx.recv().await {
                    if tx.send((index, Some(message))).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send((index, None)).await;
            });
            self.processes.push(Process {
                endpoint,
                pid: None,
                inputs: in_tx,
                state: State::Attaching,
                threads: BTreeSet::new(),
                held: None,
                closed: false,
                task: Some(task),
            });
            self.send(index, &initialize.command, initialize.arguments.clone(), Purpose::Initialize).await;
            self.send(index, &attach.command, Some(arguments), Purpose::Attach).await;
        }
        self.attach = Some(attach);
    }

    async fn run(&mut self, mut editor: mpsc::Receiver<Input>, mut inner: mpsc::Receiver<(usize, Option<Message>)>) {
        loop {
            tokio::select! {
                input = editor.recv() => match input {
                    Some(Input::Editor(EditorMessage::Request(request))) => {
                        if self.on_request(request).await {
                            break;
                        }
                    }
                    Some(Input::Editor(EditorMessage::Invalid { seq, command, reason })) => {
                        tracing::warn!(%reason, "malformed message from the editor");
                        match seq {
                            Some(seq) => {
                                let request = Request { seq, command: command.unwrap_or_else(|| "unknown".to_string()), arguments: None };
                                self.respond_error(&request, &format!("ptvsd-dap could not read this request: {reason}"), true).await;
                            }
                            None => self.output("important", &format!("ptvsd-dap ignored a malformed message from the editor: {reason}\n")).await,
                        }
                    }
                    Some(Input::EditorClosed) | None => {
                        tracing::info!("the editor closed its side; detaching every process");
                        self.leave(None).await;
                        break;
                    }
                    Some(_) => {}
                },
                Some((index, message)) = inner.recv() => {
                    self.on_inner(index, message).await;
                    while let Ok((index, message)) = inner.try_recv() {
                        self.on_inner(index, message).await;
                    }
                    self.flush_held().await;
                    self.check_all_gone().await;
                }
            }
            if self.leaving && self.processes.iter().all(|p| p.closed) {
                break;
            }
        }
        // Every inner session ends: a detach was asked of each; wait for them, reading
        // (and dropping) what they still say so that none blocks on a full queue.
        while self.processes.iter().any(|p| !p.closed) {
            match inner.recv().await {
                Some((index, None)) => self.processes[index].closed = true,
                Some(_) => {}
                None => break,
            }
        }
        for process in &mut self.processes {
            if let Some(task) = process.task.take() {
                let _ = task.await;
            }
        }
    }

    // ---- the editor's requests --------------------------------------------------------

    /// Handles one editor request; `true` when the session is over.
    async fn on_request(&mut self, request: Request) -> bool {
        tracing::debug!(command = %request.command, seq = request.seq, "← editor (processes)");
        let command = request.command.clone();
        if self.ended && command != "disconnect" {
            self.respond_error(&request, "the session has ended: every process is gone", false).await;
            return false;
        }
        match command.as_str() {
            "disconnect" => {
                self.leave(Some(request)).await;
                return self.processes.iter().all(|p| p.closed);
            }
            "terminate" => {
                self.terminating = true;
                let targets = self.indexes(|p| p.state != State::Gone);
                self.fan_out(request, &targets).await;
            }
            "initialize" | "attach" | "launch" => {
                self.respond_error(
                    &request,
                    "this session is already attached; start a new debug session to attach again",
                    true,
                )
                .await;
            }
            "setBreakpoints" | "setFunctionBreakpoints" | "setExceptionBreakpoints" | "configurationDone" => {
                self.configure(request).await;
            }
            "threads" | "loadedSources" | "modules" => {
                let targets = self.indexes(|p| p.state == State::Live);
                self.fan_out(request, &targets).await;
            }
            _ => self.forward(request).await,
        }
        false
    }

    /// A configuration request: sent to every attached process, and kept for the ones
    /// that attach later (or again).
    async fn configure(&mut self, request: Request) {
        let key = configuration_key(&request);
        // A source the editor knows by one process's reference belongs to that process.
        if request.command == "setBreakpoints" {
            let reference =
                request.arguments.as_ref().and_then(|a| a["source"]["sourceReference"].as_i64()).unwrap_or(0);
            if reference > 0 {
                match self.ids.decode(reference) {
                    Some((index, own)) if self.processes[index].state == State::Live => {
                        let mut arguments = request.arguments.clone().unwrap_or(Value::Null);
                        arguments["source"]["sourceReference"] = Value::from(own);
                        let group = self.new_group(request, 1);
                        self.send(index, "setBreakpoints", Some(arguments), Purpose::Part(group)).await;
                    }
                    _ => self.respond_error(&request, "that source belongs to a process that is gone", false).await,
                }
                return;
            }
        }
        match self.configuration.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = request.clone(),
            None => self.configuration.push((key, request.clone())),
        }
        let targets = self.indexes(|p| p.state == State::Live);
        self.fan_out(request, &targets).await;
    }

    /// Sends `request` to the processes at `targets` and answers once all answered.
    async fn fan_out(&mut self, request: Request, targets: &[usize]) {
        if targets.is_empty() {
            self.answer_group(Group { request, waiting: 0, answers: Vec::new() }).await;
            return;
        }
        let group = self.new_group(request.clone(), targets.len());
        for index in targets {
            self.send(*index, &request.command, request.arguments.clone(), Purpose::Part(group)).await;
        }
    }

    fn new_group(&mut self, request: Request, waiting: usize) -> u64 {
        self.next_group += 1;
        self.groups.insert(self.next_group, Group { request, waiting, answers: Vec::new() });
        self.next_group
    }

    /// A request for one process: the one its ids name, else the one that stopped last.
    async fn forward(&mut self, request: Request) {
        let mut arguments = request.arguments.clone().unwrap_or(Value::Null);
        let named = match self.decode_target(&request.command, &mut arguments) {
            Ok(named) => named,
            Err(message) => {
                self.respond_error(&request, message, false).await;
                return;
            }
        };
        let index = named.or_else(|| self.default_process());
        match index {
            Some(index) if self.processes[index].state != State::Gone => {
                let arguments = request.arguments.is_some().then_some(arguments);
                let command = request.command.clone();
                self.send(index, &command, arguments, Purpose::Forward(request)).await;
            }
            Some(_) => {
                self.respond_error(&request, "that process is gone (its threads and frames with it)", false).await
            }
            None => self.respond_error(&request, "no process is attached yet", true).await,
        }
    }

    /// The process an id in the arguments names, with the ids rewritten to its own.
    fn decode_target(&self, command: &str, arguments: &mut Value) -> Result<Option<usize>, &'static str> {
        let key = match command {
            "continue" | "next" | "stepIn" | "stepOut" | "stepBack" | "reverseContinue" | "pause" | "stackTrace"
            | "exceptionInfo" | "goto" => "threadId",
            "scopes" | "setExpression" | "restartFrame" | "stepInTargets" | "evaluate" | "completions" => "frameId",
            "variables" | "setVariable" => "variablesReference",
            "source" => "sourceReference",
            _ => return Ok(None),
        };
        let mut target = self.decode_field(arguments, key)?;
        if command == "source" {
            if let Some(source) = arguments.get_mut("source") {
                if let Some(index) = self.decode_field(source, "sourceReference")? {
                    target = Some(index);
                }
            }
        }
        Ok(target)
    }

    fn decode_field(&self, value: &mut Value, key: &str) -> Result<Option<usize>, &'static str> {
        let Some(id) = value.get(key).and_then(Value::as_i64) else { return Ok(None) };
        if id <= 0 && key != "threadId" {
            return Ok(None);
        }
        match self.ids.decode(id) {
            Some((index, own)) => {
                value[key] = Value::from(own);
                Ok(Some(index))
            }
            None => Err("no process of this session gave that id (it may be from before a restart)"),
        }
    }

    fn default_process(&self) -> Option<usize> {
        self.last_stopped
            .filter(|i| self.processes[*i].state == State::Live)
            .or_else(|| self.processes.iter().position(|p| p.state == State::Live))
    }

    fn indexes(&self, keep: impl Fn(&Process) -> bool) -> Vec<usize> {
        self.processes.iter().enumerate().filter(|(_, p)| keep(p)).map(|(i, _)| i).collect()
    }

    /// The editor disconnects (`request`) or left (`None`): every process detaches.
    async fn leave(&mut self, request: Option<Request>) {
        self.leaving = true;
        let targets = self.indexes(|p| !p.closed);
        match request {
            Some(request) => self.fan_out(request, &targets).await,
            None => {
                for index in targets {
                    let _ = self.processes[index].inputs.send(Input::EditorClosed).await;
                }
            }
        }
    }

    async fn send(&mut self, index: usize, command: &str, arguments: Option<Value>, purpose: Purpose) {
        self.next_seq += 1;
        let seq = self.next_seq;
        let request = Request { seq, command: command.to_string(), arguments };
        self.pending.insert(seq, (index, purpose));
        if self.processes[index].inputs.send(Input::Editor(EditorMessage::Request(request))).await.is_err() {
            // Its session has ended: the answer comes as a failure.
            if let Some((_, purpose)) = self.pending.remove(&seq) {
                let failed = failed_response(seq, command, "that process's session has ended");
                self.on_answer(index, purpose, failed).await;
            }
        }
    }

    // ---- what the inner sessions say --------------------------------------------------

    async fn on_inner(&mut self, index: usize, message: Option<Message>) {
        let Some(message) = message else {
            self.processes[index].closed = true;
            self.flush_held_of(index).await;
            self.gone(index, None).await;
            // Whatever it never answered is answered now.
            let unanswered: Vec<i64> =
                self.pending.iter().filter(|(_, (i, _))| *i == index).map(|(seq, _)| *seq).collect();
            for seq in unanswered {
                if let Some((_, purpose)) = self.pending.remove(&seq) {
                    let failed = failed_response(seq, "unknown", "that process's session ended before it answered");
                    self.on_answer(index, purpose, failed).await;
                }
            }
            return;
        };
        match message {
            Message::Response(response) => {
                if let Some((_, purpose)) = self.pending.remove(&response.request_seq) {
                    // The router reads and merges bodies: as JSON trees.
                    let (seq, command) = (response.request_seq, response.command.clone());
                    let response = match response.into_json_body() {
                        Ok(response) => response,
                        Err(error) => {
                            failed_response(seq, &command, &format!("could not read that process's answer: {error}"))
                        }
                    };
                    self.on_answer(index, purpose, response).await;
                }
            }
            Message::Event(event) => self.on_event(index, event).await,
            Message::Request(_) => {}
        }
    }

    async fn on_answer(&mut self, index: usize, purpose: Purpose, mut response: Response) {
        self.rewrite_response(index, &mut response);
        match purpose {
            Purpose::Initialize => {}
            Purpose::Attach => {
                if !response.success {
                    let message = response.message.clone().unwrap_or_else(|| "the attach failed".to_string());
                    self.attach_errors.push(format!("{}: {message}", self.processes[index].endpoint));
                } else if let Some(attach) = self.attach.take() {
                    self.respond(&attach, None).await;
                }
            }
            Purpose::Forward(request) => {
                let continued = response.success && request.command == "continue";
                let thread = request.arguments.as_ref().and_then(|a| a.get("threadId")).and_then(Value::as_i64);
                let answer = Response { seq: 0, request_seq: request.seq, command: request.command, ..response };
                self.send_message(Message::Response(answer)).await;
                if continued {
                    // The whole process runs again, and the answer said only this thread.
                    let others: Vec<i64> =
                        self.processes[index].threads.iter().copied().filter(|t| Some(*t) != thread).collect();
                    for other in others {
                        self.event("continued", Some(json!({ "threadId": other, "allThreadsContinued": false }))).await;
                    }
                }
            }
            Purpose::Part(group) => {
                let Some(entry) = self.groups.get_mut(&group) else { return };
                entry.answers.push((index, response));
                entry.waiting = entry.waiting.saturating_sub(1);
                if entry.waiting == 0 {
                    if let Some(done) = self.groups.remove(&group) {
                        self.answer_group(done).await;
                    }
                }
            }
            Purpose::Replay(key) => {
                let Some(key) = key else { return };
                let list = response.body.as_ref().and_then(|b| b.get("breakpoints")).and_then(Value::as_array).cloned();
                for breakpoint in self.breakpoints.late_answer(&key, index, &list.unwrap_or_default()) {
                    self.event("breakpoint", Some(json!({ "reason": "changed", "breakpoint": breakpoint }))).await;
                }
            }
        }
    }

    /// Answers a request sent to several processes with one merged response.
    async fn answer_group(&mut self, group: Group) {
        let Group { request, answers, .. } = group;
        let command = request.command.as_str();
        if command == "disconnect" {
            // Every process detached (or was gone): the session is over.
            self.respond(&request, None).await;
            return;
        }
        let succeeded: Vec<&(usize, Response)> = answers.iter().filter(|(_, r)| r.success).collect();
        let is_breakpoints = matches!(command, "setBreakpoints" | "setFunctionBreakpoints" | "setExceptionBreakpoints");
        if succeeded.is_empty() && !answers.is_empty() && !(is_breakpoints && self.ended) {
            // Every process refused: its reason is the editor's (they are the same code).
            let (_, first) = &answers[0];
            let answer =
                Response { seq: 0, request_seq: request.seq, command: request.command.clone(), ..first.clone() };
            self.send_message(Message::Response(answer)).await;
            return;
        }
        let body = match command {
            "setBreakpoints" | "setFunctionBreakpoints" | "setExceptionBreakpoints" => {
                let key = configuration_key(&request);
                let requested = requested_breakpoints(&request);
                let lists: Vec<(usize, Vec<Value>)> = succeeded
                    .iter()
                    .map(|(i, r)| {
                        (
                            *i,
                            r.body
                                .as_ref()
                                .and_then(|b| b.get("breakpoints"))
                                .and_then(Value::as_array)
                                .cloned()
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                let any_list =
                    succeeded.iter().any(|(_, r)| r.body.as_ref().is_some_and(|b| b.get("breakpoints").is_some()));
                let merged = self.breakpoints.merge_answers(&key, requested, &lists);
                if command == "setExceptionBreakpoints" && !any_list {
                    None
                } else {
                    Some(json!({ "breakpoints": merged }))
                }
            }
            "threads" => {
                let threads: Vec<Value> = succeeded
                    .iter()
                    .flat_map(|(_, r)| {
                        r.body
                            .as_ref()
                            .and_then(|b| b.get("threads"))
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect();
                Some(json!({ "threads": threads }))
            }
            "loadedSources" => {
                let mut seen = BTreeSet::new();
                let sources: Vec<Value> = succeeded
                    .iter()
                    .flat_map(|(_, r)| {
                        r.body
                            .as_ref()
                            .and_then(|b| b.get("sources"))
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter(|s| s.get("path").and_then(Value::as_str).is_none_or(|p| seen.insert(p.to_string())))
                    .collect();
                Some(json!({ "sources": sources }))
            }
            "modules" => {
                let mut seen = BTreeSet::new();
                let modules: Vec<Value> = succeeded
                    .iter()
                    .flat_map(|(_, r)| {
                        r.body
                            .as_ref()
                            .and_then(|b| b.get("modules"))
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter(|m| seen.insert(module_key(m)))
                    .collect();
                let total = modules.len();
                Some(json!({ "modules": modules, "totalModules": total }))
            }
            _ => succeeded.first().and_then(|(_, r)| r.body.clone()),
        };
        self.respond(&request, body).await;
    }

    /// Rewrites a process's answer into the editor's ids and names.
    fn rewrite_response(&self, index: usize, response: &mut Response) {
        let Some(body) = response.body.as_mut() else { return };
        let ids = self.ids;
        let each = |body: &mut Value, list: &str, f: &dyn Fn(&mut Value)| {
            if let Some(items) = body.get_mut(list).and_then(Value::as_array_mut) {
                items.iter_mut().for_each(f);
            }
        };
        match response.command.as_str() {
            "threads" => {
                let label = self.processes[index].label();
                each(body, "threads", &|thread| {
                    ids.encode_field(index, thread, "id");
                    let name = thread.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                    thread["name"] = Value::from(format!("{label} {name}"));
                });
            }
            "stackTrace" => each(body, "stackFrames", &|frame| {
                ids.encode_field(index, frame, "id");
                ids.encode_source(index, frame);
            }),
            "scopes" => each(body, "scopes", &|scope| {
                ids.encode_field(index, scope, "variablesReference");
                ids.encode_source(index, scope);
            }),
            "variables" => each(body, "variables", &|variable| ids.encode_field(index, variable, "variablesReference")),
            "evaluate" | "setVariable" | "setExpression" => ids.encode_field(index, body, "variablesReference"),
            "loadedSources" => each(body, "sources", &|source| ids.encode_field(index, source, "sourceReference")),
            "modules" => each(body, "modules", &|module| ids.encode_field(index, module, "id")),
            "setBreakpoints" | "setFunctionBreakpoints" | "setExceptionBreakpoints" => {
                each(body, "breakpoints", &|breakpoint| ids.encode_source(index, breakpoint));
            }
            // Only this process continues.
            "continue" if body.get("allThreadsContinued").is_some() => body["allThreadsContinued"] = Value::Bool(false),
            _ => {}
        }
    }

    async fn on_event(&mut self, index: usize, mut event: DapEvent) {
        if self.processes[index].held.is_some() && event.event != "terminated" {
            self.flush_held_of(index).await;
        }
        let ids = self.ids;
        let label = self.processes[index].label();
        let mut body = event.body.take().unwrap_or(Value::Null);
        match event.event.as_str() {
            "initialized" => {
                let process = &mut self.processes[index];
                if process.state == State::Attaching {
                    process.state = State::Live;
                }
                if self.initialized_sent {
                    self.replay_configuration(index).await;
                } else {
                    self.initialized_sent = true;
                    self.event("initialized", None).await;
                }
            }
            "terminated" => {
                let held = self.processes[index].held.take();
                self.gone(index, held).await;
            }
            // Said when the whole session ends, if ever: a process's exit is its `terminated`.
            "exited" => {}
            "process" => {
                if let Some(pid) = body.get("systemProcessId").and_then(Value::as_i64) {
                    self.processes[index].pid = Some(pid);
                }
                self.event("process", Some(body)).await;
            }
            "thread" => {
                ids.encode_field(index, &mut body, "threadId");
                if let Some(id) = body.get("threadId").and_then(Value::as_i64) {
                    match body.get("reason").and_then(Value::as_str) {
                        Some("started") => {
                            self.processes[index].threads.insert(id);
                        }
                        Some("exited") => {
                            self.processes[index].threads.remove(&id);
                        }
                        _ => {}
                    }
                }
                self.event("thread", Some(body)).await;
            }
            "stopped" => {
                ids.encode_field(index, &mut body, "threadId");
                if let Some(hit) = body.get_mut("hitBreakpointIds").and_then(Value::as_array_mut) {
                    let mapped: Vec<Value> = hit
                        .iter()
                        .filter_map(Value::as_i64)
                        .filter_map(|own| self.breakpoints.editor_id(index, own))
                        .map(Value::from)
                        .collect();
                    *hit = mapped;
                }
                let whole_process = body.get("allThreadsStopped") == Some(&Value::Bool(true));
                body["allThreadsStopped"] = Value::Bool(false);
                let thread = body.get("threadId").and_then(Value::as_i64);
                if let Some(thread) = thread {
                    self.processes[index].threads.insert(thread);
                }
                self.last_stopped = Some(index);
                self.event("stopped", Some(body)).await;
                if whole_process {
                    let others: Vec<i64> =
                        self.processes[index].threads.iter().copied().filter(|t| Some(*t) != thread).collect();
                    for other in others {
                        let sibling = json!({
                            "reason": "pause",
                            "threadId": other,
                            "allThreadsStopped": false,
                            "preserveFocusHint": true,
                            "description": format!("Stopped with its process {label}"),
                        });
                        self.event("stopped", Some(sibling)).await;
                    }
                }
            }
            "continued" => {
                ids.encode_field(index, &mut body, "threadId");
                let whole_process = body.get("allThreadsContinued") != Some(&Value::Bool(false));
                let thread = body.get("threadId").and_then(Value::as_i64);
                body["allThreadsContinued"] = Value::Bool(false);
                self.event("continued", Some(body)).await;
                if whole_process {
                    let others: Vec<i64> =
                        self.processes[index].threads.iter().copied().filter(|t| Some(*t) != thread).collect();
                    for other in others {
                        self.event("continued", Some(json!({ "threadId": other, "allThreadsContinued": false }))).await;
                    }
                }
            }
            "breakpoint" => {
                if let Some(breakpoint) = body.get_mut("breakpoint") {
                    ids.encode_source(index, breakpoint);
                    if let Some(merged) = self.breakpoints.changed(index, breakpoint) {
                        let reason = body.get("reason").cloned().unwrap_or_else(|| Value::from("changed"));
                        self.event("breakpoint", Some(json!({ "reason": reason, "breakpoint": merged }))).await;
                    }
                }
            }
            "output" => {
                ids.encode_field(index, &mut body, "variablesReference");
                ids.encode_source(index, &mut body);
                let category = body.get("category").and_then(Value::as_str).unwrap_or("console").to_string();
                // Before its pid is known, the session's lines name its endpoint themselves.
                if matches!(category.as_str(), "console" | "important") && self.processes[index].pid.is_some() {
                    if let Some(text) = body.get("output").and_then(Value::as_str) {
                        body["output"] = Value::from(prefix_lines(&label, text));
                    }
                }
                // The adapter's own line may be the reason of a `terminated` next.
                if matches!(category.as_str(), "console" | "important")
                    && !self.leaving
                    && self.processes[index].state != State::Gone
                {
                    self.flush_held_of(index).await;
                    self.processes[index].held =
                        Some(DapEvent { seq: 0, event: "output".to_string(), body: Some(body) });
                } else if self.processes[index].state != State::Gone {
                    self.event("output", Some(body)).await;
                }
            }
            // Forked workers load the same modules: each is told once, by the first
            // process that reported it.
            "module" => {
                if let Some(module) = body.get_mut("module") {
                    ids.encode_field(index, module, "id");
                    let key = module_key(module);
                    if *self.modules.entry(key).or_insert(index) == index {
                        self.event("module", Some(body)).await;
                    }
                }
            }
            "loadedSource" => {
                if let Some(source) = body.get_mut("source") {
                    ids.encode_field(index, source, "sourceReference");
                    let key = format!("source:{}", module_key(source));
                    if *self.modules.entry(key).or_insert(index) == index {
                        self.event("loadedSource", Some(body)).await;
                    }
                }
            }
            "invalidated" => {
                ids.encode_field(index, &mut body, "threadId");
                ids.encode_field(index, &mut body, "stackFrameId");
                self.event("invalidated", Some(body)).await;
            }
            other => {
                let other = other.to_string();
                self.event(&other, (!body.is_null()).then_some(body)).await;
            }
        }
    }

    /// Sends a late process the configuration the editor set.
    async fn replay_configuration(&mut self, index: usize) {
        let configuration = self.configuration.clone();
        for (key, request) in configuration {
            let breakpoints = (request.command != "configurationDone").then_some(key);
            self.send(index, &request.command, request.arguments.clone(), Purpose::Replay(breakpoints)).await;
        }
    }

    /// Process `index` is gone (its session ended, or said `terminated`): one line, unless
    /// the editor is leaving; `held` is its last line, which says why.
    async fn gone(&mut self, index: usize, held: Option<DapEvent>) {
        let process = &mut self.processes[index];
        if process.state == State::Gone {
            return;
        }
        let was_live = process.state == State::Live;
        process.state = State::Gone;
        let threads: Vec<i64> = std::mem::take(&mut process.threads).into_iter().collect();
        let label = process.label();
        if self.leaving {
            return;
        }
        for thread in threads {
            self.event("thread", Some(json!({ "reason": "exited", "threadId": thread }))).await;
        }
        for breakpoint in self.breakpoints.forget_process(index) {
            self.event("breakpoint", Some(json!({ "reason": "changed", "breakpoint": breakpoint }))).await;
        }
        if self.last_stopped == Some(index) {
            self.last_stopped = None;
        }
        let others = self.processes.iter().filter(|p| p.state != State::Gone).count();
        let why = held
            .and_then(|e| e.body)
            .and_then(|b| b.get("output").and_then(Value::as_str).map(|t| t.trim().to_string()))
            .map(|t| t.strip_prefix(&label).map(|t| t.trim().to_string()).unwrap_or(t))
            .unwrap_or_else(|| {
                if was_live {
                    "Its debug session ended.".to_string()
                } else {
                    "It could not be attached.".to_string()
                }
            });
        let line = if others > 0 && !self.terminating {
            format!(
                "{label} {why} The other {others} process{} carr{} on.\n",
                if others == 1 { "" } else { "es" },
                if others == 1 { "ies" } else { "y" }
            )
        } else {
            format!("{label} {why}\n")
        };
        self.output("console", &line).await;
    }

    /// Every process is gone: the editor's attach fails (if still unanswered), and the
    /// session ends.
    async fn check_all_gone(&mut self) {
        if self.ended || self.leaving || self.processes.iter().any(|p| p.state != State::Gone) {
            return;
        }
        let failed = self.attach.take().map(|attach| {
            let message = format!(
                "Could not attach to any of the {} processes: {}",
                self.processes.len(),
                self.attach_errors.join("; ")
            );
            (attach, message)
        });
        if let Some((attach, message)) = &failed {
            self.respond_error(attach, message, true).await;
        }
        self.ended = true;
        self.event("terminated", None).await;
        if let Some((_, message)) = failed {
            // Said again after `terminated`, for an editor with a one-line status (Helix).
            self.output("important", &format!("{message}\n")).await;
        }
    }

    async fn flush_held(&mut self) {
        for index in 0..self.processes.len() {
            self.flush_held_of(index).await;
        }
    }

    async fn flush_held_of(&mut self, index: usize) {
        if let Some(held) = self.processes[index].held.take() {
            self.send_message(Message::Event(held)).await;
        }
    }

    // ---- writing to the editor --------------------------------------------------------

    async fn send_message(&mut self, message: Message) {
        if self.out.send(message).await.is_err() {
            tracing::debug!("the editor's writer is gone");
        }
    }

    async fn respond(&mut self, request: &Request, body: Option<Value>) {
        let response = Response {
            seq: 0,
            request_seq: request.seq,
            success: true,
            command: request.command.clone(),
            message: None,
            body,
            typed_body: None,
        };
        self.send_message(Message::Response(response)).await;
    }

    async fn respond_error(&mut self, request: &Request, message: &str, show_user: bool) {
        let mut response = failed_response(request.seq, &request.command, message);
        response.body = Some(
            json!({ "error": { "id": 1, "format": message.replace('{', "(").replace('}', ")"), "showUser": show_user } }),
        );
        self.send_message(Message::Response(response)).await;
    }

    async fn event(&mut self, event: &str, body: Option<Value>) {
        self.send_message(Message::Event(DapEvent { seq: 0, event: event.to_string(), body })).await;
    }

    async fn output(&mut self, category: &str, text: &str) {
        self.event("output", Some(json!({ "category": category, "output": text }))).await;
    }
}

/// What makes a module the same in every process: its file (else its name).
fn module_key(module: &Value) -> String {
    module.get("path").or_else(|| module.get("name")).and_then(Value::as_str).unwrap_or("").to_string()
}

fn failed_response(request_seq: i64, command: &str, message: &str) -> Response {
    Response {
        seq: 0,
        request_seq,
        success: false,
        command: command.to_string(),
        message: Some(message.to_string()),
        body: None,
        typed_body: None,
    }
}

/// What a configuration request sets, so that a later one of the same kind replaces it:
/// the breakpoints of one source, the function breakpoints, the exception filters.
fn configuration_key(request: &Request) -> String {
    let source = request.arguments.as_ref().and_then(|a| a.get("source"));
    match request.command.as_str() {
        "setBreakpoints" => match source.and_then(|s| s.get("path")).and_then(Value::as_str) {
            Some(path) => format!("source:{path}"),
            None => format!(
                "reference:{}",
                source.and_then(|s| s.get("sourceReference")).map(Value::to_string).unwrap_or_default()
            ),
        },
        other => other.to_string(),
    }
}

/// How many breakpoints a request sets (its answer lists as many).
fn requested_breakpoints(request: &Request) -> usize {
    let arguments = request.arguments.as_ref();
    let list = match request.command.as_str() {
        "setBreakpoints" => arguments.and_then(|a| a.get("breakpoints").or_else(|| a.get("lines"))),
        "setFunctionBreakpoints" => arguments.and_then(|a| a.get("breakpoints")),
        _ => None,
    };
    list.and_then(Value::as_array).map_or(0, Vec::len)
}

/// `text` with `label` before each of its lines.
fn prefix_lines(label: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + label.len() + 1);
    for line in text.split_inclusive('\n') {
        out.push_str(label);
        out.push(' ');
        out.push_str(line);
    }
    out
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(seq: i64, command: &str, arguments: Value) -> Request {
        Request { seq, command: command.to_string(), arguments: Some(arguments) }
    }

    #[test]
    fn one_endpoint_goes_to_the_one_session_exactly_as_before() {
        let mut router = Router::default();
        assert!(matches!(router.route(request(1, "initialize", json!({}))), Routed::Session(_)));
        let attach = request(2, "attach", json!({ "url": "tcp://s@127.0.0.1:5678" }));
        match router.route(attach.clone()) {
            Routed::Session(routed) => assert_eq!(routed.arguments, attach.arguments),
            other => panic!("{other:?}"),
        }
        assert!(!router.is_multi());
        assert!(matches!(router.route(request(3, "threads", json!({}))), Routed::Session(_)));
    }

    #[test]
    fn a_list_of_one_is_that_endpoint() {
        let mut router = Router::default();
        router.route(request(1, "initialize", json!({})));
        match router.route(request(2, "attach", json!({ "url": ["tcp://s@127.0.0.1:5678"], "reconnect": true }))) {
            Routed::Session(routed) => {
                assert_eq!(routed.arguments, Some(json!({ "url": "tcp://s@127.0.0.1:5678", "reconnect": true })))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn several_endpoints_start_the_multi_process_session() {
        let mut router = Router::default();
        router.route(request(1, "initialize", json!({ "linesStartAt1": true })));
        match router.route(request(2, "attach", json!({ "host": "127.0.0.1", "port": [5678, "5679"], "secret": "s" })))
        {
            Routed::Start(start) => {
                assert_eq!(start.initialize.seq, 1);
                assert_eq!(start.endpoints.len(), 2);
                assert_eq!(start.endpoints[1]["port"], 5679);
                assert_eq!(start.endpoints[1]["secret"], "s");
            }
            other => panic!("{other:?}"),
        }
        assert!(router.is_multi());
        assert!(matches!(router.route(request(3, "threads", json!({}))), Routed::Processes(_)));
    }

    #[test]
    fn a_bad_list_is_left_to_the_one_session_to_refuse() {
        let mut router = Router::default();
        router.route(request(1, "initialize", json!({})));
        assert!(matches!(router.route(request(2, "attach", json!({ "url": [] }))), Routed::Session(_)));
        assert!(!router.is_multi());
    }

    /// Two processes whose sessions are played by the test: what the editor gets.
    fn two_processes() -> (Processes, mpsc::Receiver<Message>, Vec<mpsc::Receiver<Input>>) {
        let (out, editor) = mpsc::channel(QUEUE);
        let (tx, _rx) = mpsc::channel(QUEUE);
        let mut processes = Processes::new(out, tx);
        processes.ids = Ids::new(2);
        let mut inputs = Vec::new();
        for pid in [100, 200] {
            let (in_tx, in_rx) = mpsc::channel(QUEUE);
            inputs.push(in_rx);
            processes.processes.push(Process {
                endpoint: format!("tcp://***@127.0.0.1:{pid}"),
                pid: Some(pid),
                inputs: in_tx,
                state: State::Live,
                threads: BTreeSet::new(),
                held: None,
                closed: false,
                task: None,
            });
        }
        (processes, editor, inputs)
    }

    fn event(name: &str, body: Value) -> DapEvent {
        DapEvent { seq: 0, event: name.to_string(), body: Some(body) }
    }

    fn sent(editor: &mut mpsc::Receiver<Message>) -> Vec<Value> {
        let mut all = Vec::new();
        while let Ok(message) = editor.try_recv() {
            all.push(serde_json::to_value(&message).unwrap_or(Value::Null));
        }
        all
    }

    #[tokio::test]
    async fn a_stop_stops_only_its_process_and_says_so_for_each_of_its_threads() {
        let (mut processes, mut editor, _inputs) = two_processes();
        for (index, thread) in [(0, 1), (0, 2), (1, 1)] {
            processes.on_event(index, event("thread", json!({ "reason": "started", "threadId": thread }))).await;
        }
        let started = sent(&mut editor);
        let ids: Vec<&Value> = started.iter().map(|m| &m["body"]["threadId"]).collect();
        assert_eq!(ids, [&json!(2), &json!(4), &json!(3)], "never the same id twice");

        processes
            .on_event(1, event("stopped", json!({ "reason": "breakpoint", "threadId": 1, "allThreadsStopped": true })))
            .await;
        let stops = sent(&mut editor);
        assert_eq!(stops.len(), 1, "process 1 has one thread: {stops:?}");
        assert_eq!(stops[0]["body"], json!({ "reason": "breakpoint", "threadId": 3, "allThreadsStopped": false }));

        processes
            .on_event(0, event("stopped", json!({ "reason": "step", "threadId": 2, "allThreadsStopped": true })))
            .await;
        let stops = sent(&mut editor);
        assert_eq!(stops.len(), 2, "{stops:?}");
        assert_eq!(stops[0]["body"]["threadId"], 4);
        assert_eq!(stops[0]["body"]["allThreadsStopped"], false);
        assert_eq!(stops[1]["body"]["threadId"], 2, "the other thread of process 0");
        assert_eq!(stops[1]["body"]["reason"], "pause");
        assert_eq!(stops[1]["body"]["preserveFocusHint"], true);

        processes.on_event(0, event("continued", json!({ "threadId": 2, "allThreadsContinued": true }))).await;
        let continued: Vec<Value> = sent(&mut editor).into_iter().map(|m| m["body"].clone()).collect();
        assert_eq!(
            continued,
            [
                json!({ "threadId": 4, "allThreadsContinued": false }),
                json!({ "threadId": 2, "allThreadsContinued": false })
            ]
        );
    }

    #[tokio::test]
    async fn threads_are_named_after_their_process_and_requests_go_to_the_thread_owner() {
        let (mut processes, _editor, mut inputs) = two_processes();
        let mut response = Response {
            seq: 0,
            request_seq: 1,
            success: true,
            command: "threads".to_string(),
            message: None,
            body: Some(json!({ "threads": [{ "id": 1, "name": "MainThread" }] })),
            typed_body: None,
        };
        processes.rewrite_response(1, &mut response);
        assert_eq!(response.body, Some(json!({ "threads": [{ "id": 3, "name": "[pid 200] MainThread" }] })));

        processes.forward(request(7, "stackTrace", json!({ "threadId": 3 }))).await;
        match inputs[1].try_recv() {
            Ok(Input::Editor(EditorMessage::Request(sent))) => {
                assert_eq!(sent.command, "stackTrace");
                assert_eq!(sent.arguments, Some(json!({ "threadId": 1 })));
            }
            other => panic!("process 1 got {other:?}"),
        }
        assert!(inputs[0].try_recv().is_err(), "process 0 got it too");
    }

    #[tokio::test]
    async fn a_process_that_goes_away_is_one_line_with_its_reason() {
        let (mut processes, mut editor, _inputs) = two_processes();
        processes
            .on_event(
                1,
                event("output", json!({ "category": "console", "output": "The debuggee closed the connection.\n" })),
            )
            .await;
        processes.on_event(1, event("terminated", Value::Null)).await;
        processes.check_all_gone().await;
        let said = sent(&mut editor);
        assert_eq!(said.len(), 1, "{said:?}");
        assert_eq!(said[0]["body"]["category"], "console");
        assert_eq!(
            said[0]["body"]["output"],
            "[pid 200] The debuggee closed the connection. The other 1 process carries on.\n"
        );
        processes.on_event(0, event("terminated", Value::Null)).await;
        processes.check_all_gone().await;
        let said = sent(&mut editor);
        assert_eq!(said.last().map(|m| m["event"].clone()), Some(json!("terminated")), "{said:?}");
    }

    #[test]
    fn lines_of_a_process_carry_its_label() {
        assert_eq!(prefix_lines("[pid 7]", "a\nb\n"), "[pid 7] a\n[pid 7] b\n");
        assert_eq!(prefix_lines("[pid 7]", "a"), "[pid 7] a");
    }
}
