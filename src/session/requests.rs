//! DAP requests: the dispatcher (`on_request`: each request parsed once, dispatched once
//! to the component that owns it, and the handler's `Handled` answered through
//! `Session::answer`); each handler returns its typed body, `Ack`, an error, or `Later`
//! when what now holds the request answers it. The handlers here are the session's set-up:
//! `initialize` (and the capabilities), `attach`, `configurationDone`, `setBreakpoints`
//! and `setExceptionBreakpoints`.

use serde_json::Value;
use tokio::time::Instant;

use super::breakpoints::BindWait;
use super::breakpoints::{is_template, parse_hit_condition, BindState, Breakpoint, Requested};
use super::config::AttachConfig;
use super::editor::ClientInfo;
use super::exceptions::{Applying, ExceptionSettings, FILTERS};
use super::lifecycle::{AfterRepairs, AttachBreak, Phase};
use super::paths::is_windows_path;
use super::stepping::StepKind;
use super::work::Job;
use super::{Handled, Reply, RequestError, Session, Waiter, BIND_WAIT, IDLE_NOTICE};
use crate::dap::bodies::{
    Breakpoint as DapBreakpoint, BreakpointReason, Capabilities, ExceptionBreakpointsFilter,
    SetBreakpointsResponseBody, Source,
};
use crate::dap::requests::{SetBreakpointsArguments, SetExceptionBreakpointsArguments};
use crate::dap::types::Request;
use crate::dap::{ArgumentsError, RequestCommand};
use crate::legacy::messages::{Command, ConditionKind, PassCountKind};

/// The commands the dispatcher handles; `initialize` advertises exactly these.
pub const HANDLED_COMMANDS: &[&str] = &[
    "initialize",
    "attach",
    "launch",
    "configurationDone",
    "setBreakpoints",
    "setFunctionBreakpoints",
    "setExceptionBreakpoints",
    "threads",
    "stackTrace",
    "scopes",
    "variables",
    "evaluate",
    "continue",
    "next",
    "stepIn",
    "stepOut",
    "pause",
    "disconnect",
    "terminate",
    "exceptionInfo",
    "setVariable",
    "setExpression",
    "source",
    "modules",
    "loadedSources",
    "completions",
    "gotoTargets",
    "goto",
];

/// The capabilities `initialize` returns.
pub fn capabilities() -> Capabilities {
    let filters = FILTERS
        .iter()
        .map(|(filter, label, description, default)| ExceptionBreakpointsFilter {
            filter: (*filter).to_owned(),
            label: (*label).to_owned(),
            description: Some((*description).to_owned()),
            default: Some(*default),
            ..ExceptionBreakpointsFilter::default()
        })
        .collect();
    Capabilities {
        supports_configuration_done_request: Some(true),
        supports_evaluate_for_hovers: Some(true),
        supports_conditional_breakpoints: Some(true),
        supports_hit_conditional_breakpoints: Some(true),
        supports_log_points: Some(true),
        supports_terminate_request: Some(true),
        support_terminate_debuggee: Some(true),
        supports_delayed_stack_trace_loading: Some(true),
        supports_exception_info_request: Some(true),
        supports_exception_options: Some(true),
        supports_exception_filter_options: Some(true),
        supports_set_variable: Some(true),
        supports_set_expression: Some(true),
        supports_value_formatting_options: Some(true),
        supports_modules_request: Some(true),
        supports_loaded_sources_request: Some(true),
        supports_completions_request: Some(true),
        completion_trigger_characters: Some(vec![".".to_owned()]),
        supports_goto_targets_request: Some(true),
        supports_function_breakpoints: Some(true),
        supports_clipboard_context: Some(true),
        exception_breakpoint_filters: Some(filters),
        ..Capabilities::default()
    }
}

/// The key under which the breakpoints of a source known only by its `sourceReference`
/// are kept (followed by the reference); never a real path.
const REFERENCE_KEY: &str = "\u{0}sourceReference:";

impl From<ArgumentsError> for RequestError {
    /// The editor sent arguments that do not fit the request: it is to blame, and the
    /// user sees which field.
    fn from(error: ArgumentsError) -> Self {
        error.to_string().into()
    }
}

/// Whether a value format asks for hexadecimal integers.
pub(super) fn wants_hex(format: Option<&crate::dap::requests::ValueFormat>) -> bool {
    format.and_then(|f| f.hex) == Some(true)
}

pub(super) fn is_frozen(file: &str) -> bool {
    file.contains("<frozen ")
}

pub(super) fn file_name(path: &str) -> &str {
    let cut = if is_windows_path(path) { path.rfind(['/', '\\']) } else { path.rfind('/') };
    cut.map(|i| &path[i + 1..]).unwrap_or(path)
}

impl Session {
    pub(super) async fn on_request(&mut self, request: Request) {
        tracing::debug!(command = %request.command, seq = request.seq, "← editor");
        if matches!(self.lifecycle.phase(), Phase::Uninitialized)
            && request.command != "initialize"
            && request.command != "disconnect"
        {
            self.answer(&request, Err("the first request must be `initialize`".into())).await;
            return;
        }
        let command = match RequestCommand::parse(&request) {
            Ok(command) => command,
            Err(error) => {
                self.answer(&request, Err(RequestError::from(error))).await;
                return;
            }
        };
        let result = match command {
            RequestCommand::Initialize(args) => self.initialize(args),
            RequestCommand::Attach(args) => self.attach(&request, &args).await,
            RequestCommand::Launch(args) => self.launch(&request, &args).await,
            RequestCommand::ConfigurationDone => self.configuration_done().await,
            RequestCommand::SetBreakpoints(args) => self.set_breakpoints(&request, args).await,
            RequestCommand::SetFunctionBreakpoints(args) => self.set_function_breakpoints(&request, args).await,
            RequestCommand::SetExceptionBreakpoints(args) => self.set_exception_breakpoints(&request, args).await,
            RequestCommand::Threads => self.threads_request(),
            RequestCommand::StackTrace(args) => self.stack_trace(args),
            RequestCommand::Scopes(args) => self.scopes(args),
            RequestCommand::Variables(args) => self.variables(&request, args).await,
            RequestCommand::Evaluate(args) => self.evaluate(&request, args).await,
            RequestCommand::Continue(args) => self.continue_request(&request, args.thread_id).await,
            RequestCommand::Next(args) => self.step(&request, args.thread_id, StepKind::Over).await,
            RequestCommand::StepIn(args) => self.step(&request, args.thread_id, StepKind::In).await,
            RequestCommand::StepOut(args) => self.step(&request, args.thread_id, StepKind::Out).await,
            RequestCommand::Pause(args) => self.pause(args.thread_id).await,
            RequestCommand::Disconnect(args) if self.launched.is_some() => {
                self.disconnect_launched(&request, args).await
            }
            RequestCommand::Disconnect(args) => {
                self.disconnect(&request, args.and_then(|a| a.terminate_debuggee) == Some(true)).await
            }
            RequestCommand::Terminate(_) if self.launched.is_some() => self.terminate_launched(&request).await,
            RequestCommand::Terminate(_) => self.terminate(&request).await,
            RequestCommand::ExceptionInfo(args) => self.exception_info(args),
            RequestCommand::SetVariable(args) => self.set_variable(&request, args).await,
            RequestCommand::SetExpression(args) => self.set_expression(&request, args).await,
            RequestCommand::Source(args) => self.source(&request, args).await,
            RequestCommand::Modules(args) => self.modules(args),
            RequestCommand::LoadedSources => self.loaded_sources(),
            RequestCommand::Completions(args) => self.completions(&request, args).await,
            RequestCommand::GotoTargets(args) => self.goto_targets(args),
            RequestCommand::Goto(args) => self.goto(&request, args).await,
            RequestCommand::Unknown { command } => {
                debug_assert!(!HANDLED_COMMANDS.contains(&command.as_str()));
                Err(format!("ptvsd-dap does not support the `{command}` request").into())
            }
        };
        match result {
            Ok(Reply::Body(body)) => self.answer(&request, Ok(Some(*body))).await,
            Ok(Reply::Ack) => self.answer(&request, Ok(None)).await,
            Ok(Reply::Later) => {}
            Err(error) => self.answer(&request, Err(error)).await,
        }
    }

    fn initialize(&mut self, args: crate::dap::requests::InitializeRequestArguments) -> Handled {
        self.editor.set_client(ClientInfo::from_initialize(args.lines_start_at1, args.columns_start_at1));
        if matches!(self.lifecycle.phase(), Phase::Uninitialized) {
            self.lifecycle.enter(Phase::Idle);
        }
        Ok(Reply::body(capabilities()))
    }

    async fn attach(&mut self, request: &Request, arguments: &Value) -> Handled {
        if !matches!(self.lifecycle.phase(), Phase::Idle) {
            return Err(
                "this session is already attached (or attaching); start a new debug session to attach again".into()
            );
        }
        let config = AttachConfig::from_arguments(arguments).map_err(|e| e.to_string())?;
        if !config.unknown_keys.is_empty() {
            tracing::debug!(keys = ?config.unknown_keys, "ignoring unknown attach keys");
        }
        if config.connect.insecure_tls {
            self.output(
                "important",
                "TLS certificate verification is off (insecureTls): anyone on the path can read the session.\n",
            )
            .await;
        }
        self.output("console", &format!("Connecting to {}…\n", config.endpoint)).await;
        self.lifecycle.enter(Phase::Attaching { request: request.clone() });
        let reconnect = config.reconnect;
        self.config = Some(config.clone());
        if reconnect && self.launched.is_none() {
            // Keeps trying while the site starts (reconnect::INITIAL_CONNECT_FACTOR).
            self.start_retries(super::reconnect::Phase::FirstAttach);
        } else {
            self.start_attach(&config);
        }
        // Answered when the attach succeeds or fails (`connection`).
        Ok(Reply::Later)
    }

    async fn configuration_done(&mut self) -> Handled {
        if !matches!(self.lifecycle.phase(), Phase::Configuring) {
            return Ok(Reply::Ack);
        }
        self.lifecycle.enter(Phase::Running);
        let stop_on_entry = self.config.as_ref().is_some_and(|c| c.stop_on_entry);
        match self.lifecycle.attach_break() {
            AttachBreak::Held(thread) => {
                let then = if stop_on_entry { AfterRepairs::Report } else { AfterRepairs::Release };
                self.run_attach_break(thread, then);
            }
            AttachBreak::Awaited { .. } => {
                // The attach break comes when the app next runs a line; it is released (or
                // reported, with stopOnEntry) then. If that takes a while the app is idle.
                self.lifecycle.await_attach_break(Some(Instant::now() + IDLE_NOTICE));
            }
            AttachBreak::Repairing { .. } | AttachBreak::Done => {}
        }
        Ok(Reply::Ack)
    }

    /// Sends the exception table. ptvsd forgets the handler tables it cached (REQH) when
    /// it gets one, so a changed `userUnhandled` takes effect at once.
    pub(super) async fn send_exception_info(&mut self) -> Result<(), String> {
        let (default_mode, exceptions) = self.exceptions.settings().table();
        self.send(Command::SetExceptionInfo { default_mode, exceptions }).await
    }

    /// Answered once ptvsd applies the settings, so that an exception the program raises
    /// after the response is judged by them: while the program runs, by the reply to a
    /// hit-count request sent after the `sexi` (ptvsd's loop handles commands in order).
    /// Before `configurationDone` the attach break holds the program, and ptvsd 2.0/2.1
    /// have no such request: answered at once.
    async fn set_exception_breakpoints(
        &mut self,
        request: &Request,
        args: SetExceptionBreakpointsArguments,
    ) -> Handled {
        let filter_options = args.filter_options.unwrap_or_default();
        let exception_options = args.exception_options.unwrap_or_default();
        self.exceptions.set_settings(ExceptionSettings::from_request(
            &args.filters,
            &filter_options,
            &exception_options,
        )?);
        if !self.connection.is_up() {
            return Ok(Reply::Ack);
        }
        self.send_exception_info().await?;
        if !matches!(self.lifecycle.phase(), Phase::Running) {
            return Ok(Reply::Ack);
        }
        let Some(request_id) = self.threads.marker_id() else { return Ok(Reply::Ack) };
        if !self.send_marker(request_id).await {
            return Ok(Reply::Ack);
        }
        let deadline = Instant::now() + self.request_timeout();
        self.exceptions.wait_applied(Applying { request_id, request: request.clone(), deadline });
        Ok(Reply::Later)
    }

    /// Answers the configuration requests held for ptvsd's confirmation (`setBreakpoints`
    /// waiting for binds, `setExceptionBreakpoints` for their application): those whose
    /// deadline passed by `now`, or all of them (`None`) when the connection or the
    /// session ends.
    pub(super) async fn answer_held_configuration(&mut self, now: Option<Instant>) {
        let binds = match now {
            Some(now) => self.breakpoints.expired_binds(now),
            None => self.breakpoints.take_bind_waits(),
        };
        for wait in binds {
            self.answer_breakpoints(wait.request, &wait.local_path).await;
        }
        for request in self.exceptions.take_applying(now) {
            self.answer(&request, Ok(None)).await;
        }
    }

    /// Sends one breakpoint: a Django template breakpoint (which ptvsd never confirms, so it
    /// counts as bound at once) or a Python one. Refused breakpoints are never sent.
    pub(super) async fn send_breakpoint(&mut self, remote_path: &str, b: &Breakpoint) -> Result<(), String> {
        if b.state == BindState::Refused {
            return Ok(());
        }
        if is_template(remote_path) {
            self.send(Command::SetDjangoBreakpoint { id: b.id, line: b.line, file: remote_path.to_string() }).await?;
            self.breakpoints.source.mark(b.id, BindState::Bound);
            return Ok(());
        }
        let (condition_kind, condition) = match &b.condition {
            Some(c) if !c.trim().is_empty() => (ConditionKind::WhenTrue, c.clone()),
            _ => (ConditionKind::Always, String::new()),
        };
        let (pass_count_kind, pass_count) = match &b.hit_condition {
            Some(h) if !h.trim().is_empty() => parse_hit_condition(h)?,
            _ => (PassCountKind::Always, 0),
        };
        if pass_count_kind != PassCountKind::Always && pass_count < 1 {
            // Never: pass count 0 kills the debuggee (spec §3.2). parse_hit_condition
            // does not produce it; this keeps it that way.
            return Err("a hit count below 1 cannot be sent to ptvsd".into());
        }
        self.send(Command::SetBreakpoint {
            id: b.id,
            line: b.line,
            file: remote_path.to_string(),
            condition_kind,
            condition,
            pass_count_kind,
            pass_count,
        })
        .await
    }

    async fn remove_breakpoint(&mut self, remote_path: &str, b: &Breakpoint) -> Result<(), String> {
        if b.state == BindState::Refused {
            return Ok(());
        }
        if is_template(remote_path) {
            return self
                .send(Command::RemoveDjangoBreakpoint { id: b.id, line: b.line, file: remote_path.to_string() })
                .await;
        }
        // Twice: one remove may leave a second key behind (spec §6.6).
        self.send(Command::RemoveBreakpoint { id: b.id, line: b.line }).await?;
        self.send(Command::RemoveBreakpoint { id: b.id, line: b.line }).await
    }

    /// Why a requested breakpoint cannot be sent, if it cannot.
    pub(super) fn refusal(template: bool, condition: Option<&str>, hit_condition: Option<&str>) -> Option<String> {
        let condition = condition.filter(|c| !c.trim().is_empty());
        let hit_condition = hit_condition.filter(|h| !h.trim().is_empty());
        if template && (condition.is_some() || hit_condition.is_some()) {
            return Some(
                "Django template breakpoints cannot have a condition or a hit count: ptvsd has none for them."
                    .to_string(),
            );
        }
        hit_condition.and_then(|h| parse_hit_condition(h).err()).map(|e| capitalise_first(&e) + ".")
    }

    async fn set_breakpoints(&mut self, request: &Request, args: SetBreakpointsArguments) -> Handled {
        // A source with a path, or one the adapter handed out as a `sourceReference` (a
        // debuggee file without a local copy, keyed by its debuggee path).
        let (local_path, remote_path) = match (args.source.path, args.source.source_reference.filter(|r| *r > 0)) {
            (Some(path), _) => {
                let remote = self.config.as_ref().map(|c| c.paths.to_remote(&path)).unwrap_or_else(|| path.clone());
                (path, remote)
            }
            (None, Some(reference)) => {
                let remote = self
                    .sources
                    .path(reference)
                    .ok_or_else(|| format!("sourceReference {reference} is unknown"))?
                    .to_string();
                (format!("{REFERENCE_KEY}{reference}"), remote)
            }
            (None, None) => return Err("setBreakpoints needs a source with a path or a sourceReference".into()),
        };
        let template = is_template(&local_path);
        let line_offset = self.editor.client().line_offset();
        let requested: Vec<Requested> = match (args.breakpoints, args.lines) {
            (Some(bps), _) => bps
                .into_iter()
                .map(|b| {
                    let refused = Self::refusal(template, b.condition.as_deref(), b.hit_condition.as_deref());
                    Requested {
                        line: b.line + line_offset,
                        condition: b.condition,
                        hit_condition: b.hit_condition,
                        log_message: b.log_message,
                        refused,
                    }
                })
                .collect(),
            (None, Some(lines)) => lines
                .into_iter()
                .map(|line| Requested {
                    line: line + line_offset,
                    condition: None,
                    hit_condition: None,
                    log_message: None,
                    refused: None,
                })
                .collect(),
            (None, None) => Vec::new(),
        };
        let changes = self.breakpoints.source.set(&local_path, &remote_path, requested);
        let mut waiting = Vec::new();
        if self.connection.is_up() {
            for b in &changes.removed {
                self.remove_breakpoint(&remote_path, b).await?;
            }
            for b in &changes.changed {
                // Re-set in place: same id, new condition and pass count.
                self.send_breakpoint(&remote_path, b).await?;
            }
            for b in &changes.added {
                self.send_breakpoint(&remote_path, b).await?;
                if !template {
                    waiting.push(b.id);
                }
            }
        }
        // During the attach (before `configurationDone`) the answer does not wait for
        // ptvsd's confirmation: the breakpoints went out above either way, and the wait
        // is a round trip or two on the way to the first stop over a slow link (ptvsd's
        // reply is split by Nagle until the NODELAY repair runs at the attach break). They
        // are unverified in the answer; each one's binding follows as a `breakpoint`
        // event (`on_bind`), which every editor applies by id.
        let confirm_later = matches!(self.lifecycle.phase(), Phase::Configuring);
        if waiting.is_empty() || confirm_later {
            return Ok(Reply::body(self.breakpoints_body(&local_path)));
        }
        self.breakpoints.wait_for_binds(BindWait {
            request: request.clone(),
            local_path,
            waiting,
            deadline: Instant::now() + BIND_WAIT,
        });
        Ok(Reply::Later)
    }

    pub(super) fn breakpoint_body(&self, local_path: &str, b: &Breakpoint) -> DapBreakpoint {
        let line = self.editor.client().line_to_editor(b.line);
        let reference = local_path.strip_prefix(REFERENCE_KEY).and_then(|r| r.parse::<i64>().ok());
        let source = match reference {
            Some(reference) => Source {
                name: Some(file_name(self.sources.path(reference).unwrap_or_default()).to_owned()),
                source_reference: Some(reference),
                ..Source::default()
            },
            None => Source {
                name: Some(file_name(local_path).to_owned()),
                path: Some(local_path.to_owned()),
                ..Source::default()
            },
        };
        let (message, reason) = match b.state {
            BindState::Bound => (None, None),
            BindState::Pending => (
                Some("Pending: the module is not loaded yet; it binds when the module runs.".to_string()),
                Some(BreakpointReason::Pending),
            ),
            BindState::Sent if !self.connection.is_up() => {
                (Some("Not sent: not attached to a debuggee.".to_string()), None)
            }
            BindState::Sent => (
                Some("The debuggee has not confirmed this breakpoint yet.".to_string()),
                Some(BreakpointReason::Pending),
            ),
            BindState::Refused => (
                Some(b.message.clone().unwrap_or_else(|| "This breakpoint cannot be set.".to_string())),
                Some(BreakpointReason::Failed),
            ),
        };
        DapBreakpoint {
            id: Some(b.id),
            verified: b.state == BindState::Bound,
            message,
            source: Some(source),
            line: Some(line),
            reason,
            ..DapBreakpoint::default()
        }
    }

    /// Answers a `setBreakpoints` that waited for its binds (or ran out of time).
    pub(super) async fn answer_breakpoints(&mut self, request: Request, local_path: &str) {
        let body = self.breakpoints_body(local_path);
        self.answer(&request, Ok(Some(body.into()))).await;
    }

    /// The `setBreakpoints` body for a file: one breakpoint per requested line, in order.
    fn breakpoints_body(&self, local_path: &str) -> SetBreakpointsResponseBody {
        let requested_lines: Vec<i64> = self
            .breakpoints
            .source
            .file(local_path)
            .map(|f| f.entries.iter().map(|b| b.line).collect())
            .unwrap_or_default();
        let breakpoints: Vec<DapBreakpoint> = self
            .breakpoints
            .source
            .file(local_path)
            .map(|f| f.entries.iter().map(|b| self.breakpoint_body(local_path, b)).collect())
            .unwrap_or_default();
        debug_assert_eq!(requested_lines.len(), breakpoints.len());
        SetBreakpointsResponseBody { breakpoints }
    }

    /// Queues a work item on a stopped thread; it goes out from `pump`.
    pub(super) fn queue_work(&mut self, thread: crate::legacy::messages::ThreadId, job: Job, waiter: Waiter) {
        let deadline = tokio::time::Instant::now() + self.request_timeout();
        self.work.push(thread, job, waiter, deadline);
    }
}

fn capitalise_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::dap::types::Message;
    use tokio::sync::mpsc;

    /// Capability → the request it promises.
    const CAPABILITY_REQUESTS: &[(&str, &str)] = &[
        ("supportsConfigurationDoneRequest", "configurationDone"),
        ("supportsTerminateRequest", "terminate"),
        ("supportsExceptionInfoRequest", "exceptionInfo"),
        ("supportsGotoTargetsRequest", "gotoTargets"),
        ("supportsSetVariable", "setVariable"),
        ("supportsSetExpression", "setExpression"),
        ("supportsCompletionsRequest", "completions"),
        ("supportsModulesRequest", "modules"),
        ("supportsLoadedSourcesRequest", "loadedSources"),
        ("supportsRestartRequest", "restart"),
        ("supportsStepBack", "stepBack"),
        ("supportsFunctionBreakpoints", "setFunctionBreakpoints"),
        ("supportsDataBreakpoints", "dataBreakpointInfo"),
        ("supportsDisassembleRequest", "disassemble"),
        ("supportsReadMemoryRequest", "readMemory"),
        ("supportsStepInTargetsRequest", "stepInTargets"),
        ("supportsRestartFrame", "restartFrame"),
        ("supportsCancelRequest", "cancel"),
        ("supportsBreakpointLocationsRequest", "breakpointLocations"),
        ("supportsTerminateThreadsRequest", "terminateThreads"),
        ("supportsWriteMemoryRequest", "writeMemory"),
    ];

    /// Capabilities that promise a behaviour rather than a request, each with whether it
    /// is implemented (and so advertised), and what implements it.
    const CAPABILITY_FEATURES: &[(&str, bool, &str)] = &[
        ("supportsEvaluateForHovers", true, "evaluate with context hover"),
        ("supportsConditionalBreakpoints", true, "condition on brkp"),
        ("supportsHitConditionalBreakpoints", true, "parse_hit_condition → pass count"),
        ("supportsLogPoints", true, "log_point: one exec per hit, then resume"),
        ("supportTerminateDebuggee", true, "disconnect terminateDebuggee → os._exit"),
        ("supportsDelayedStackTraceLoading", true, "stackTrace startFrame/levels"),
        ("supportsExceptionOptions", true, "ExceptionSettings::from_request"),
        ("supportsExceptionFilterOptions", true, "filterOptions read as filters"),
        ("supportsValueFormattingOptions", true, "format.hex from the object's hex field"),
        ("completionTriggerCharacters", true, "completions after a dot"),
        ("exceptionBreakpointFilters", true, "raised, uncaught, userUnhandled"),
        ("supportsStepBack", false, "ptvsd cannot"),
        ("supportsSteppingGranularity", false, "ptvsd steps by line only"),
        ("supportsSingleThreadExecutionRequests", false, "ptvsd resumes all threads"),
        ("supportsClipboardContext", true, "evaluate: repr() read raw, untruncated"),
        ("supportSuspendDebuggee", false, "detach always resumes"),
        ("supportsInstructionBreakpoints", false, "no instructions"),
        ("supportsDataBreakpointBytes", false, "no data breakpoints"),
        ("supportsANSIStyling", false, "plain text"),
    ];

    async fn answer(command: &str) -> Value {
        let (out_tx, mut out_rx) = mpsc::channel(64);
        let (in_tx, in_rx) = mpsc::channel(64);
        let session = Session::new(out_tx, in_tx.clone());
        let task = tokio::spawn(session.run(in_rx));
        for (seq, cmd) in [(1, "initialize"), (2, command)] {
            let arguments = (seq == 1).then(|| serde_json::json!({ "adapterID": "ptvsd-dap" }));
            in_tx
                .send(crate::session::Input::Editor(crate::session::EditorMessage::Request(Request {
                    seq,
                    command: cmd.into(),
                    arguments,
                })))
                .await
                .unwrap();
        }
        let mut found = None;
        while let Some(message) = out_rx.recv().await {
            if let Message::Response(r) = message {
                if r.request_seq == 2 {
                    found = Some(serde_json::to_value(&r).unwrap());
                    break;
                }
            }
        }
        drop(in_tx);
        task.abort();
        found.unwrap()
    }

    fn unsupported(response: &Value) -> bool {
        response["success"] == false && response["message"].as_str().unwrap_or("").contains("does not support")
    }

    #[tokio::test]
    async fn advertised_capabilities_match_the_dispatcher() {
        let caps = serde_json::to_value(capabilities()).unwrap();
        for (capability, command) in CAPABILITY_REQUESTS {
            let advertised = caps.get(*capability).and_then(Value::as_bool).unwrap_or(false);
            let handled = HANDLED_COMMANDS.contains(command);
            assert_eq!(advertised, handled, "{capability} advertised={advertised} but `{command}` handled={handled}");
            let response = answer(command).await;
            assert_eq!(!unsupported(&response), handled, "`{command}`: {response}");
        }
        for command in HANDLED_COMMANDS {
            let response = answer(command).await;
            assert!(
                !unsupported(&response),
                "`{command}` is listed as handled but the dispatcher refuses it: {response}"
            );
        }
        for (capability, implemented, what) in CAPABILITY_FEATURES {
            let advertised = caps.get(*capability).is_some_and(|v| v.as_bool() != Some(false));
            assert_eq!(advertised, *implemented, "{capability} ({what}) advertised={advertised}");
        }
        // Every advertised capability has a row in one of the tables.
        for key in caps.as_object().unwrap().keys() {
            let known = CAPABILITY_REQUESTS.iter().any(|(c, _)| c == key)
                || CAPABILITY_FEATURES.iter().any(|(c, _, _)| c == key)
                || ["supportsConfigurationDoneRequest", "supportsTerminateRequest", "supportsExceptionInfoRequest"]
                    .contains(&key.as_str());
            assert!(known, "{key} is advertised but in no table of this test");
        }
        let filters: Vec<&str> = caps["exceptionBreakpointFilters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["filter"].as_str().unwrap())
            .collect();
        assert_eq!(filters, ["raised", "uncaught", "userUnhandled"]);
    }

    #[tokio::test]
    async fn requests_before_initialize_are_refused() {
        let (out_tx, mut out_rx) = mpsc::channel(8);
        let (in_tx, in_rx) = mpsc::channel(8);
        tokio::spawn(Session::new(out_tx, in_tx.clone()).run(in_rx));
        in_tx
            .send(crate::session::Input::Editor(crate::session::EditorMessage::Request(Request {
                seq: 7,
                command: "threads".into(),
                arguments: None,
            })))
            .await
            .unwrap();
        let Some(Message::Response(r)) = out_rx.recv().await else { panic!("no response") };
        assert!(!r.success);
        assert_eq!(r.request_seq, 7);
        assert!(r.message.unwrap().contains("initialize"));
    }
}
