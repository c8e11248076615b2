//! The `launch` request: run a local script under ptvsd and attach to it.
//!
//! Owns: [`LaunchConfig`] (the launch arguments, parsed and checked), the program's
//! process (its own process group, so stopping it stops what it started), forwarding its
//! stdout/stderr pipes as `output` events, attaching over tcp with the same machinery as
//! `attach` (retrying while ptvsd's port is not open yet), and ending it: `exited` with the
//! real exit code, then `terminated`.
//!
//! The command line is `python -u -m ptvsd --wait --no-output-redirection --secret S
//! --interface 127.0.0.1 --port P PROGRAM - ARGS…` (ptvsd passes only what follows `-` to
//! the script). With `--no-output-redirection`, and `RedirectOutput` left out of the attach
//! options, ptvsd forwards no output at all: the pipes are the one source, which gives the
//! exact stdout/stderr split on every ptvsd version, no duplicates, and also what the
//! program prints before the attach and after a detach. `redirectOutput: false` sends the
//! pipes to the log instead of the editor.
//!
//! Must not know: the wire protocol (it goes through `handshake` and the session).

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use super::config::AttachConfig;
use super::lifecycle::Phase;
use super::{AttachFailure, Connected, Handled, Input, Reply, Session};
use crate::dap::bodies::ExitedEventBody;
use crate::dap::requests::DisconnectArguments;
use crate::dap::types::Request;
use crate::legacy::messages::{BreakpointId, Command, ConditionKind, PassCountKind};
use crate::legacy::{handshake, Limits};
use crate::process_group;
use crate::python;
use crate::transport::{self, TransportError};

/// The keys `launch` understands besides the attach keys it passes on.
pub const LAUNCH_KEYS: &[(&str, &str)] = &[
    ("program", "the script to run; a relative path is resolved against `cwd`"),
    ("args", "the script's arguments, a list of strings"),
    ("python", "the interpreter, with ptvsd 2.x/3.x installed (default python3)"),
    ("cwd", "the working directory (default: the adapter's)"),
    ("env", "environment variables, merged over the adapter's; null removes one"),
    ("redirectOutput", "forward the program's stdout/stderr to the editor (default true)"),
    ("stopOnEntry", "stop at the program's first statement (default false)"),
];

/// Attach keys that mean the same thing for a launched program.
const PASSED_ON: &[&str] =
    &["justMyCode", "django", "pathMappings", "localRoot", "remoteRoot", "connectTimeout", "requestTimeout"];

/// ptvsd ids of the entry breakpoints: block 0x7FF, which the editor's breakpoints
/// (even blocks of 2^20 below 2^31) never use.
const ENTRY_IDS: BreakpointId = 0x7FF << 20;
/// At most this many entry breakpoints (a first statement longer than that still stops
/// at its first line).
const ENTRY_LINES: usize = 200;

/// How long the pipe readers may take to deliver the last output after the exit (a
/// grandchild may hold the pipes open).
const PIPE_DRAIN: Duration = Duration::from_secs(1);
/// How long a pipe reader waits for more output before sending what it has.
const COALESCE: Duration = Duration::from_millis(5);
/// … and at most this long in all, so a steady trickle is not held back.
const COALESCE_LIMIT: Duration = Duration::from_millis(25);
/// The most output one `output` event carries.
const COALESCE_MAX: usize = 64 * 1024;
/// Pause between connection attempts while ptvsd's port is not open yet.
const CONNECT_RETRY: Duration = Duration::from_millis(50);

/// A checked `launch` configuration.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    pub python: String,
    /// Absolute, and an existing file.
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// `Some` sets, `None` removes.
    pub env: Vec<(String, Option<String>)>,
    pub redirect_output: bool,
    /// Stop at the program's first statement (not at ptvsd's attach break, which with
    /// `--wait` is inside `threading.py`).
    pub stop_on_entry: bool,
    /// The attach keys that apply, checked by [`AttachConfig`] once the port is known.
    attach_keys: Map<String, Value>,
}

fn invalid(key: &str, problem: impl std::fmt::Display) -> String {
    format!("launch configuration: `{key}` {problem}")
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl LaunchConfig {
    /// Parses and checks the `launch` arguments: the program must exist, `cwd` must be a
    /// directory. Relative paths are resolved against `cwd`, then the adapter's directory.
    pub fn from_arguments(arguments: &Value) -> Result<Self, String> {
        let empty = Map::new();
        let map = match arguments {
            Value::Object(map) => map,
            Value::Null => &empty,
            other => return Err(invalid("arguments", format!("must be an object, got {other}"))),
        };
        let get = |key: &str| map.get(key).filter(|v| !v.is_null());
        let string = |key: &str| -> Result<Option<String>, String> {
            match get(key) {
                None => Ok(None),
                Some(value) => text_of(value)
                    .filter(|s| !s.is_empty())
                    .map(Some)
                    .ok_or_else(|| invalid(key, format!("must be a non-empty string, got {value}"))),
            }
        };
        let here = std::env::current_dir().map_err(|e| format!("cannot read the adapter's working directory: {e}"))?;
        let cwd = match string("cwd")? {
            None => None,
            Some(dir) => {
                let dir = here.join(dir);
                if !dir.is_dir() {
                    return Err(invalid("cwd", format!("{} is not a directory", dir.display())));
                }
                Some(dir)
            }
        };
        let Some(program) = string("program")? else {
            return Err(invalid("program", "is required: the path of the script to run"));
        };
        let program = cwd.as_deref().unwrap_or(&here).join(program);
        if !program.is_file() {
            return Err(format!(
                "the program {} does not exist (a relative `program` is resolved against `cwd`)",
                program.display()
            ));
        }
        let args = match get("args") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    text_of(item)
                        .ok_or_else(|| invalid("args", format!("must be a list of strings; {item} is not one")))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(invalid("args", format!("must be a list of strings, got {other}"))),
        };
        let env = match get("env") {
            None => Vec::new(),
            Some(Value::Object(vars)) => vars
                .iter()
                .map(|(key, value)| match value {
                    Value::Null => Ok((key.clone(), None)),
                    other => text_of(other)
                        .map(|v| (key.clone(), Some(v)))
                        .ok_or_else(|| invalid("env", format!("values must be strings; {key} is {other}"))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(invalid("env", format!("must be an object of NAME: value, got {other}"))),
        };
        if let Some((key, _)) = env.iter().find(|(key, _)| key.is_empty() || key.contains('=') || key.contains('\0')) {
            return Err(invalid("env", format!("has an invalid variable name {key:?}")));
        }
        let redirect_output = match get("redirectOutput") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(invalid("redirectOutput", format!("must be true or false, got {other}"))),
        };
        let stop_on_entry = match get("stopOnEntry") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(invalid("stopOnEntry", format!("must be true or false, got {other}"))),
        };
        let attach_keys: Map<String, Value> =
            PASSED_ON.iter().filter_map(|key| map.get(*key).map(|v| (key.to_string(), v.clone()))).collect();
        let config = LaunchConfig {
            python: string("python")?.unwrap_or_else(|| "python3".to_string()),
            program,
            args,
            cwd,
            env,
            redirect_output,
            stop_on_entry,
            attach_keys,
        };
        // Check the attach keys now, before anything is started.
        config.attach_config(1, "check")?;
        Ok(config)
    }

    /// The attach configuration for ptvsd on 127.0.0.1:`port`.
    pub fn attach_config(&self, port: u16, secret: &str) -> Result<AttachConfig, String> {
        let mut map = self.attach_keys.clone();
        map.insert("url".to_string(), json!(format!("tcp://{secret}@127.0.0.1:{port}")));
        let mut config = AttachConfig::from_arguments(&Value::Object(map))
            .map_err(|e| e.to_string().replace("attach configuration", "launch configuration"))?;
        // ptvsd runs with --no-output-redirection; the pipes carry the output.
        config.redirect_output = false;
        // The attach break is released silently; stopOnEntry uses entry breakpoints.
        config.stop_on_entry = false;
        Ok(config)
    }

    /// The arguments after the interpreter.
    pub fn command_args(&self, port: u16, secret: &str) -> Vec<String> {
        let mut args: Vec<String> = [
            "-u",
            "-m",
            "ptvsd",
            "--wait",
            "--no-output-redirection",
            "--secret",
            secret,
            "--interface",
            "127.0.0.1",
            "--port",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(port.to_string());
        args.push(self.program.to_string_lossy().into_owned());
        args.push("-".to_string());
        args.extend(self.args.iter().cloned());
        args
    }
}

/// What the launched program's tasks report to the session loop.
#[derive(Debug)]
pub enum LaunchInput {
    /// Text from the program's stdout or stderr pipe.
    Output { category: &'static str, text: String },
    /// The program exited (`stopped`: because we stopped it).
    Exited { status: Option<ExitStatus>, stopped: bool },
    /// The connection to the program's ptvsd, or why there is none.
    Attached(Box<Result<Connected, String>>),
}

/// A request answered once the program is gone.
#[derive(Debug)]
enum AfterExit {
    Terminate(Request),
    Disconnect(Request),
}

/// The launched program.
pub struct Launched {
    pid: u32,
    name: String,
    /// Tells the supervisor to stop the process group.
    stop: Option<oneshot::Sender<()>>,
    /// Becomes true once the supervisor reaped the program.
    done: watch::Receiver<bool>,
    attach_task: Option<AbortHandle>,
    exited: bool,
    stopping: bool,
    terminated_sent: bool,
    after_exit: Vec<AfterExit>,
    /// For stopOnEntry: the program and the lines of its first statement.
    entry: Option<(PathBuf, Vec<i64>)>,
    /// The ptvsd ids of the entry breakpoints while they are set.
    entry_ids: Vec<(BreakpointId, i64)>,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched").field("pid", &self.pid).field("exited", &self.exited).finish_non_exhaustive()
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        // Normally the session stopped it already; this is the safety net.
        if !*self.done.borrow() {
            process_group::kill_now(self.pid);
        }
    }
}

impl Session {
    /// `launch`: check, start, attach. Errors before the start are the response (and an
    /// `output` event); later ones arrive as [`LaunchInput`]s.
    pub(super) async fn launch(&mut self, request: &Request, arguments: &Value) -> Handled {
        let result = self.start_launch(request, arguments).await;
        if let Err(message) = &result {
            self.output("important", &format!("{message}\n")).await;
        }
        // Answered when the attach to the launched program succeeds or fails.
        result.map(|()| Reply::Later).map_err(Into::into)
    }

    async fn start_launch(&mut self, request: &Request, arguments: &Value) -> Result<(), String> {
        if !matches!(self.lifecycle.phase(), Phase::Idle) || self.launched.is_some() {
            return Err(
                "this session is already debugging a program; start a new debug session to launch another".to_string()
            );
        }
        let config = LaunchConfig::from_arguments(arguments)?;
        let info = python::probe(&config.python, &config.env, config.cwd.as_deref()).await.map_err(|e| {
            format!("{e}; set the `python` attribute to a Python 2.7–3.11 with ptvsd 2.x/3.x installed")
        })?;
        let ptvsd = info.check_ptvsd("the `python` attribute")?;
        let port = free_port().map_err(|e| format!("cannot find a free port on 127.0.0.1 for ptvsd: {e}"))?;
        let secret = random_secret();
        let attach = config.attach_config(port, &secret)?;

        let interpreter =
            if info.executable.is_file() { info.executable.clone() } else { PathBuf::from(&config.python) };
        let mut command = tokio::process::Command::new(&interpreter);
        command
            .args(config.command_args(port, &secret))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        python::apply_env(&mut command, &config.env);
        if let Some(cwd) = &config.cwd {
            command.current_dir(cwd);
        }
        process_group::own_group(&mut command);
        let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", interpreter.display()))?;
        let Some(pid) = child.id() else {
            return Err("the program exited as soon as it started".to_string());
        };
        let name = config.program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        tracing::info!(pid, program = %config.program.display(), python = %interpreter.display(), port, "launched");

        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = watch::channel(false);
        let pumps = [
            child
                .stdout
                .take()
                .map(|pipe| tokio::spawn(pump(pipe, "stdout", config.redirect_output, self.inputs.clone()))),
            child
                .stderr
                .take()
                .map(|pipe| tokio::spawn(pump(pipe, "stderr", config.redirect_output, self.inputs.clone()))),
        ];
        tokio::spawn(supervise(
            child,
            pid,
            stop_rx,
            pumps.into_iter().flatten().collect(),
            self.inputs.clone(),
            done_tx,
        ));

        self.output(
            "console",
            &format!(
                "Launched {} with {} (Python {}, ptvsd {ptvsd}): process {pid}.\n",
                config.program.display(),
                interpreter.display(),
                info.version_text()
            ),
        )
        .await;
        let attach_task = self.start_launch_attach(&attach, done_rx.clone());
        self.launched = Some(Launched {
            pid,
            name,
            stop: Some(stop_tx),
            done: done_rx,
            attach_task: Some(attach_task),
            exited: false,
            stopping: false,
            terminated_sent: false,
            after_exit: Vec::new(),
            entry: config.stop_on_entry.then(|| (config.program.clone(), first_statement_lines(&config.program))),
            entry_ids: Vec::new(),
        });
        self.lifecycle.enter(Phase::Attaching { request: request.clone() });
        self.config = Some(attach);
        Ok(())
    }

    /// Connects to the program's ptvsd as soon as its port is open (connection refused
    /// is retried until `connectTimeout`; nothing is ever connected and closed half-way,
    /// which would wedge ptvsd's accept thread), then attaches.
    fn start_launch_attach(&self, config: &AttachConfig, mut done: watch::Receiver<bool>) -> AbortHandle {
        let endpoint = config.endpoint.clone();
        let options = config.connect.clone();
        let debug_options = config.debug_options();
        let timeout = config.handshake_timeout;
        let inputs = self.inputs.clone();
        let task = tokio::spawn(async move {
            let connect = async {
                let deadline = Instant::now() + timeout;
                let stream = loop {
                    match transport::connect(&endpoint, &options).await {
                        Ok(stream) => break stream,
                        Err(TransportError::Refused { .. }) if Instant::now() < deadline => tokio::time::sleep(CONNECT_RETRY).await,
                        Err(TransportError::Refused { .. }) => {
                            return Err(format!("ptvsd in the program did not open its port within {} s (raise `connectTimeout` if the program starts slowly)", timeout.as_secs()))
                        }
                        Err(error) => return Err(AttachFailure::from(error).to_string()),
                    }
                };
                let attached =
                    handshake::attach(stream, endpoint.secret().expose(), &debug_options, Limits::default(), timeout)
                        .await
                        .map_err(|e| AttachFailure::from(e).to_string())?;
                Ok(Connected { framed: attached.framed, dialect: attached.dialect, info: attached.info })
            };
            let result = tokio::select! {
                result = connect => result,
                () = exited(&mut done) => Err("the program exited before ptvsd accepted the debugger".to_string()),
            };
            let _ = inputs.send(Input::Launch(LaunchInput::Attached(Box::new(result)))).await;
        });
        task.abort_handle()
    }

    pub(super) async fn on_launch_input(&mut self, input: LaunchInput) {
        match input {
            LaunchInput::Output { category, text } => self.program_output(category, &text).await,
            LaunchInput::Attached(result) => match *result {
                Ok(connected) if matches!(self.lifecycle.phase(), Phase::Attaching { .. }) => {
                    self.on_attached(Ok(connected)).await;
                    self.set_entry_breakpoints().await;
                }
                Ok(connected) => connected.framed.into_inner().abort().await,
                Err(message) => {
                    let Phase::Attaching { request } = self.lifecycle.take() else {
                        return;
                    };
                    let message = super::capitalise(&message);
                    self.stop_launched();
                    self.report_fatal(Some(&request), "important", &message).await;
                }
            },
            LaunchInput::Exited { status, stopped } => self.on_program_exit(status, stopped).await,
        }
    }

    async fn on_program_exit(&mut self, status: Option<ExitStatus>, stopped: bool) {
        let Some(launched) = self.launched.as_mut() else { return };
        launched.exited = true;
        if let Some(task) = launched.attach_task.take() {
            task.abort();
        }
        let stopping = launched.stopping || stopped;
        let after_exit = std::mem::take(&mut launched.after_exit);
        let (pid, name) = (launched.pid, launched.name.clone());
        let code = status.as_ref().map(process_group::exit_code).unwrap_or(-1);
        let sentence = match status.as_ref().and_then(process_group::killed_by) {
            _ if stopping => format!("Stopped {name} (process {pid})."),
            Some(signal) => format!("{name} (process {pid}) was killed by {signal}."),
            None => format!("{name} (process {pid}) exited with code {code}."),
        };
        self.output("console", &format!("{sentence}\n")).await;
        self.send_event(&ExitedEventBody { exit_code: code }).await;
        let attaching = if matches!(self.lifecycle.phase(), Phase::Attaching { .. }) {
            self.lifecycle.take()
        } else {
            Phase::Ended
        };
        if let Phase::Attaching { request } = attaching {
            let message = if stopping {
                "The launch was cancelled: the program was stopped before the debugger attached".to_string()
            } else {
                format!("The program exited with code {code} before the debugger could attach; its output says why")
            };
            self.answer(&request, Err(message.into())).await;
        }
        for after in &after_exit {
            if let AfterExit::Terminate(request) = after {
                self.answer(request, Ok(None)).await;
            }
        }
        if self.connection.is_up() {
            // Its socket is gone with it; end the session the usual way.
            self.connection_lost(None).await;
        } else {
            self.lifecycle.enter(Phase::Ended);
        }
        self.announce_terminated().await;
        for after in after_exit {
            if let AfterExit::Disconnect(request) = after {
                self.answer(&request, Ok(None)).await;
                self.lifecycle.close();
            }
        }
    }

    /// stopOnEntry: breakpoints on every line of the program's first statement, sent
    /// before the attach break is released; the first hit is reported as the entry stop
    /// and removes them all.
    async fn set_entry_breakpoints(&mut self) {
        let Some((program, lines)) = self.launched.as_mut().and_then(|l| l.entry.take()) else { return };
        let local = program.to_string_lossy().into_owned();
        let remote = self.config.as_ref().map(|c| c.paths.to_remote(&local)).unwrap_or(local);
        let mut ids = Vec::new();
        for (i, line) in lines.into_iter().enumerate() {
            let id = ENTRY_IDS + i as BreakpointId;
            let command = Command::SetBreakpoint {
                id,
                line,
                file: remote.clone(),
                condition_kind: ConditionKind::Always,
                condition: String::new(),
                pass_count_kind: PassCountKind::Always,
                pass_count: 0,
            };
            if self.send(command).await.is_err() {
                break;
            }
            ids.push((id, line));
        }
        if let Some(launched) = self.launched.as_mut() {
            launched.entry_ids = ids;
        }
    }

    /// A hit of an entry breakpoint: remove them all and report the entry stop. False
    /// when `id` is not one of them.
    pub(super) async fn on_entry_breakpoint(&mut self, id: BreakpointId, thread: i64) -> bool {
        let Some(launched) = self.launched.as_mut() else { return false };
        if !launched.entry_ids.iter().any(|(entry, _)| *entry == id) {
            return false;
        }
        for (id, line) in std::mem::take(&mut launched.entry_ids) {
            // Twice, as for the editor's breakpoints (spec §6.6).
            let _ = self.send(Command::RemoveBreakpoint { id, line }).await;
            let _ = self.send(Command::RemoveBreakpoint { id, line }).await;
        }
        self.report_stop(thread, "entry", None, vec![]).await;
        true
    }

    /// `terminated`, once: for a launched program only after it has exited (so `exited`
    /// comes first). Returns whether it was sent now.
    pub(super) async fn announce_terminated(&mut self) -> bool {
        if let Some(launched) = self.launched.as_mut() {
            if !launched.exited || launched.terminated_sent {
                return false;
            }
            launched.terminated_sent = true;
        }
        self.bare_event("terminated").await;
        true
    }

    /// What `connection_lost` should say for a launched program: `None` when nothing was
    /// launched (say the usual), `Some(None)` to say nothing (the exit is reported with
    /// its code).
    pub(super) fn launch_lost_sentence(&self, reason: Option<&str>) -> Option<Option<String>> {
        let launched = self.launched.as_ref()?;
        if launched.exited || launched.stopping || self.lifecycle.program_exited() {
            return Some(None);
        }
        Some(reason.map(|reason| {
            format!(
                "The connection to ptvsd in {} (process {}) was lost: {reason}. Stop the session to end the program.\n",
                launched.name, launched.pid
            )
        }))
    }

    /// `terminate` for a launched program: stop its process group, answer once it exited.
    pub(super) async fn terminate_launched(&mut self, request: &Request) -> Handled {
        let Some(launched) = self.launched.as_mut() else { return Err("nothing was launched".into()) };
        if launched.exited {
            return Ok(Reply::Ack);
        }
        launched.after_exit.push(AfterExit::Terminate(request.clone()));
        self.stop_launched();
        Ok(Reply::Later)
    }

    /// `disconnect` for a launched program: the program stops with the session (its
    /// output pipes end with the adapter anyway).
    pub(super) async fn disconnect_launched(
        &mut self,
        request: &Request,
        args: Option<DisconnectArguments>,
    ) -> Handled {
        let keep = args.and_then(|a| a.terminate_debuggee) == Some(false);
        let Some(launched) = self.launched.as_mut() else { return Err("nothing was launched".into()) };
        if launched.exited {
            self.lifecycle.close();
            return Ok(Reply::Ack);
        }
        launched.after_exit.push(AfterExit::Disconnect(request.clone()));
        if keep {
            self.output("console", "ptvsd-dap started this program, so it stops with the debug session.\n").await;
        }
        self.stop_launched();
        Ok(Reply::Later)
    }

    /// Asks the supervisor to stop the program's process group (SIGTERM, then SIGKILL).
    fn stop_launched(&mut self) {
        if let Some(launched) = self.launched.as_mut() {
            if !launched.exited {
                launched.stopping = true;
                if let Some(stop) = launched.stop.take() {
                    let _ = stop.send(());
                }
            }
        }
    }

    /// At the end of the session: stop the program and wait (bounded) until it is gone.
    pub(super) async fn end_launched(&mut self) {
        self.stop_launched();
        let Some(launched) = self.launched.as_mut() else { return };
        let mut done = launched.done.clone();
        let _ = tokio::time::timeout(process_group::GRACE + Duration::from_secs(2), exited(&mut done)).await;
    }
}

/// Completes once the supervisor has reaped the program (or is gone).
async fn exited(done: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here.
    let _ = done.wait_for(|done| *done).await.map(|_| ());
}

/// Owns the child: waits for its exit, or stops its group when told to (or when the
/// session drops the sender), lets the pipes drain, then reports the exit.
async fn supervise(
    mut child: tokio::process::Child,
    pid: u32,
    mut stop: oneshot::Receiver<()>,
    pumps: Vec<JoinHandle<()>>,
    inputs: mpsc::Sender<Input>,
    done: watch::Sender<bool>,
) {
    let (status, stopped) = tokio::select! {
        status = child.wait() => (status.ok(), false),
        _ = &mut stop => (process_group::stop(&mut child, pid, process_group::GRACE).await, true),
    };
    tracing::info!(pid, ?status, stopped, "the launched program exited");
    let deadline = Instant::now() + PIPE_DRAIN;
    for mut pump in pumps {
        if tokio::time::timeout_at(deadline, &mut pump).await.is_err() {
            pump.abort();
        }
    }
    // Bounded: at the end of the session nobody reads the inputs any more.
    let _ = tokio::time::timeout(PIPE_DRAIN, inputs.send(Input::Launch(LaunchInput::Exited { status, stopped }))).await;
    let _ = done.send(true);
}

/// Forwards one pipe as `output` events (or to the log), whole UTF-8 characters only.
async fn pump(mut pipe: impl AsyncRead + Unpin, category: &'static str, forward: bool, inputs: mpsc::Sender<Input>) {
    let mut buffer = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    let mut open = true;
    while open {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => pending.extend_from_slice(&buffer[..n]),
        }
        // `python -u` writes a print() in pieces ("result", " ", "1", "\n"): gather what
        // follows closely into one event. (`read` is cancel-safe.)
        let until = Instant::now() + COALESCE_LIMIT;
        while pending.len() < COALESCE_MAX {
            let wait = (Instant::now() + COALESCE).min(until);
            match tokio::time::timeout_at(wait, pipe.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    open = false;
                    break;
                }
                Ok(Ok(n)) => pending.extend_from_slice(&buffer[..n]),
                Err(_) => break,
            }
        }
        let text = take_text(&mut pending);
        if !text.is_empty() && !deliver(&inputs, category, forward, text).await {
            return;
        }
    }
    if !pending.is_empty() {
        let text = String::from_utf8_lossy(&pending).into_owned();
        deliver(&inputs, category, forward, text).await;
    }
}

async fn deliver(inputs: &mpsc::Sender<Input>, category: &'static str, forward: bool, text: String) -> bool {
    if forward {
        inputs.send(Input::Launch(LaunchInput::Output { category, text })).await.is_ok()
    } else {
        tracing::info!(target: "ptvsd_dap::program", category, "{}", text.trim_end());
        true
    }
}

/// Takes the decodable prefix of `pending`, leaving an incomplete trailing character for
/// the next read; invalid bytes become U+FFFD.
fn take_text(pending: &mut Vec<u8>) -> String {
    match std::str::from_utf8(pending) {
        Ok(text) => {
            let text = text.to_string();
            pending.clear();
            text
        }
        Err(error) if error.error_len().is_none() => {
            let valid = error.valid_up_to();
            let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
            pending.drain(..valid);
            text
        }
        Err(_) => {
            // Invalid bytes in the middle: replace them, but keep a trailing partial
            // character for the next read.
            let cut = last_char_start(pending);
            let text = String::from_utf8_lossy(&pending[..cut]).into_owned();
            pending.drain(..cut);
            text
        }
    }
}

/// Where a possibly incomplete last character starts (or the length if it is complete).
fn last_char_start(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(3) {
        let i = len - back;
        let byte = bytes[i];
        if byte & 0xC0 != 0x80 {
            let needed = if byte >= 0xF0 {
                4
            } else if byte >= 0xE0 {
                3
            } else if byte >= 0xC0 {
                2
            } else {
                1
            };
            return if needed > back { i } else { len };
        }
    }
    len
}

/// The lines of the program's first statement (a module docstring counts: its line
/// event is at its first line on Python 3, at its last on 2.7). Empty if the file cannot
/// be read or holds no statement.
fn first_statement_lines(program: &std::path::Path) -> Vec<i64> {
    let Ok(source) = std::fs::read(program) else { return Vec::new() };
    let source = String::from_utf8_lossy(&source).replace("\r\n", "\n").replace('\r', "\n");
    let source = source.strip_prefix('\u{feff}').unwrap_or(&source);
    let mut parser = tree_sitter::Parser::new();
    if parser.set_language(&tree_sitter_python::LANGUAGE.into()).is_err() {
        return Vec::new();
    }
    let Some(tree) = parser.parse(source, None) else { return Vec::new() };
    let root = tree.root_node();
    let mut cursor = root.walk();
    let first = root.named_children(&mut cursor).find(|node| node.kind() != "comment");
    let Some(first) = first else { return Vec::new() };
    let (start, end) = (first.start_position().row, first.end_position().row);
    (start..=end).take(ENTRY_LINES).map(|row| i64::try_from(row).unwrap_or(i64::MAX - 1) + 1).collect()
}

/// A free port on 127.0.0.1 (released again: ptvsd binds it right after).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// 32 hex digits from the OS's random source.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if from_os.is_err() {
        // No /dev/urandom: SipHash keys are seeded from the OS's randomness too.
        use std::hash::{BuildHasher, Hasher};
        for chunk in bytes.chunks_mut(8) {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0),
            );
            chunk.copy_from_slice(&hasher.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_never_split() {
        let mut pending = "héllo".as_bytes()[..2].to_vec();
        assert_eq!(take_text(&mut pending), "h");
        pending.extend_from_slice(&"héllo".as_bytes()[2..]);
        assert_eq!(take_text(&mut pending), "éllo");
        assert!(pending.is_empty());
        let mut bad = vec![b'a', 0xff, b'b', 0xe2, 0x82];
        assert_eq!(take_text(&mut bad), "a\u{fffd}b");
        assert_eq!(bad, vec![0xe2, 0x82]);
        bad.push(0xac);
        assert_eq!(take_text(&mut bad), "€");
    }

    #[test]
    fn configuration_errors_name_the_key() {
        let program = std::env::current_exe().unwrap();
        let ok = LaunchConfig::from_arguments(
            &json!({ "program": program, "args": ["a", 2], "env": { "X": "1", "Y": null }, "stopOnEntry": true }),
        )
        .unwrap();
        assert_eq!(ok.args, ["a", "2"]);
        assert_eq!(ok.env, [("X".to_string(), Some("1".to_string())), ("Y".to_string(), None)]);
        assert_eq!(ok.python, "python3");
        let args = ok.command_args(5678, "s");
        let dash = args.iter().position(|a| a == "-").unwrap();
        assert_eq!(args[dash - 1], program.to_string_lossy());
        assert_eq!(&args[dash + 1..], ["a", "2"]);
        assert!(ok.stop_on_entry && !ok.attach_config(5678, "s").unwrap().stop_on_entry);
        assert!(!ok.attach_config(5678, "s").unwrap().redirect_output);

        let missing = LaunchConfig::from_arguments(&Value::Null).unwrap_err();
        assert!(missing.contains("`program` is required"), "{missing}");
        let nowhere = LaunchConfig::from_arguments(&json!({ "program": "/no/such/script.py" })).unwrap_err();
        assert!(nowhere.contains("/no/such/script.py does not exist"), "{nowhere}");
        let bad_args = LaunchConfig::from_arguments(&json!({ "program": program, "args": "a b" })).unwrap_err();
        assert!(bad_args.contains("`args` must be a list of strings"), "{bad_args}");
        let bad_key =
            LaunchConfig::from_arguments(&json!({ "program": program, "requestTimeout": "soon" })).unwrap_err();
        assert!(bad_key.starts_with("launch configuration: `requestTimeout`"), "{bad_key}");
        let bad_cwd = LaunchConfig::from_arguments(&json!({ "program": program, "cwd": "/no/such/dir" })).unwrap_err();
        assert!(bad_cwd.contains("`cwd` /no/such/dir is not a directory"), "{bad_cwd}");
    }

    #[test]
    fn first_statement() {
        let dir = std::env::temp_dir().join(format!("ptvsd-dap-entry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.py");
        std::fs::write(
            &file,
            "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\n\"\"\"Doc\n\nstring.\"\"\"\nimport os\n",
        )
        .unwrap();
        assert_eq!(first_statement_lines(&file), [4, 5, 6]);
        std::fs::write(&file, "# only\n\nx = 1  # c\ny = 2\n").unwrap();
        assert_eq!(first_statement_lines(&file), [3]);
        std::fs::write(&file, "# nothing\n").unwrap();
        assert!(first_statement_lines(&file).is_empty());
        assert!(first_statement_lines(&dir.join("missing.py")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrets_are_random_hex() {
        let a = random_secret();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_secret());
    }
}
