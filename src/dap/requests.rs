//! Typed requests from the editor.
//!
//! Owns: [`RequestCommand`], a closed enum of the requests the adapter understands with an
//! [`RequestCommand::Unknown`] catch-all, their argument types, and [`ArgumentsError`],
//! which names the bad field so the session can answer with a useful error response.
//! Must not know: what the session does with a request.
//!
//! Argument types come from dap-types 0.0.1 where they are exact
//! ([`InitializeRequestArguments`], [`DisconnectArguments`], [`TerminateArguments`],
//! [`SetExceptionBreakpointsArguments`], and the small closed enums and format structs).
//! The rest are ours: dap-types reads every id and line as `u64`, while the ids we hand
//! out are `i64` like the rest of the crate, and the schema's integers may be negative.
//! The dap-types argument types are only read: they serialise `None` as `null`, so test
//! clients should build those requests with `json!`. dap-types' unit-struct arguments (`configurationDone`, `loadedSources`, `threads`) are
//! never parsed: they reject the `{}` that Helix sends.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

pub use dap_types::{
    DisconnectArguments, ExceptionBreakMode, ExceptionFilterOptions, ExceptionOptions, ExceptionPathSegment,
    InitializeRequestArguments, InitializeRequestArgumentsPathFormat, SetExceptionBreakpointsArguments,
    SteppingGranularity, TerminateArguments, VariablesArgumentsFilter,
};

use super::bodies::Source;
use super::types::Request;

/// A request from the editor, by command, with typed arguments.
#[derive(Debug, Clone)]
pub enum RequestCommand {
    Initialize(InitializeRequestArguments),
    /// Raw: the session parses its own configuration, leniently (editors add keys).
    Attach(Value),
    /// Raw, like `Attach`.
    Launch(Value),
    ConfigurationDone,
    SetBreakpoints(SetBreakpointsArguments),
    SetFunctionBreakpoints(SetFunctionBreakpointsArguments),
    SetExceptionBreakpoints(SetExceptionBreakpointsArguments),
    Threads,
    StackTrace(StackTraceArguments),
    Scopes(ScopesArguments),
    Variables(VariablesArguments),
    Evaluate(EvaluateArguments),
    Continue(ContinueArguments),
    Next(NextArguments),
    StepIn(StepInArguments),
    StepOut(StepOutArguments),
    Pause(PauseArguments),
    /// `None` when the editor sent no arguments (or `null`).
    Disconnect(Option<DisconnectArguments>),
    /// `None` when the editor sent no arguments (or `null`).
    Terminate(Option<TerminateArguments>),
    SetVariable(SetVariableArguments),
    SetExpression(SetExpressionArguments),
    Source(SourceArguments),
    ExceptionInfo(ExceptionInfoArguments),
    Goto(GotoArguments),
    GotoTargets(GotoTargetsArguments),
    Completions(CompletionsArguments),
    Modules(ModulesArguments),
    LoadedSources,
    /// A command this adapter does not implement; answer it with an error response.
    Unknown {
        command: String,
    },
}

impl RequestCommand {
    /// Reads the command and arguments of `request`. Missing, `null` and `{}` arguments
    /// are all accepted where the arguments have no required field; extra keys are
    /// ignored everywhere.
    pub fn parse(request: &Request) -> Result<RequestCommand, ArgumentsError> {
        let parser = Parser { request };
        Ok(match request.command.as_str() {
            "initialize" => RequestCommand::Initialize(parser.arguments()?),
            "attach" => RequestCommand::Attach(parser.raw()),
            "launch" => RequestCommand::Launch(parser.raw()),
            "configurationDone" => RequestCommand::ConfigurationDone,
            "setBreakpoints" => RequestCommand::SetBreakpoints(parser.arguments()?),
            "setFunctionBreakpoints" => RequestCommand::SetFunctionBreakpoints(parser.arguments()?),
            "setExceptionBreakpoints" => RequestCommand::SetExceptionBreakpoints(parser.arguments()?),
            "threads" => RequestCommand::Threads,
            "stackTrace" => RequestCommand::StackTrace(parser.arguments()?),
            "scopes" => RequestCommand::Scopes(parser.arguments()?),
            "variables" => RequestCommand::Variables(parser.arguments()?),
            "evaluate" => RequestCommand::Evaluate(parser.arguments()?),
            "continue" => RequestCommand::Continue(parser.arguments()?),
            "next" => RequestCommand::Next(parser.arguments()?),
            "stepIn" => RequestCommand::StepIn(parser.arguments()?),
            "stepOut" => RequestCommand::StepOut(parser.arguments()?),
            "pause" => RequestCommand::Pause(parser.arguments()?),
            "disconnect" => RequestCommand::Disconnect(parser.optional_arguments()?),
            "terminate" => RequestCommand::Terminate(parser.optional_arguments()?),
            "setVariable" => RequestCommand::SetVariable(parser.arguments()?),
            "setExpression" => RequestCommand::SetExpression(parser.arguments()?),
            "source" => RequestCommand::Source(parser.arguments()?),
            "exceptionInfo" => RequestCommand::ExceptionInfo(parser.arguments()?),
            "goto" => RequestCommand::Goto(parser.arguments()?),
            "gotoTargets" => RequestCommand::GotoTargets(parser.arguments()?),
            "completions" => RequestCommand::Completions(parser.arguments()?),
            "modules" => RequestCommand::Modules(parser.arguments()?),
            "loadedSources" => RequestCommand::LoadedSources,
            other => RequestCommand::Unknown { command: other.to_owned() },
        })
    }
}

/// Every command [`RequestCommand::parse`] knows, for capability checks and tests.
pub const KNOWN_COMMANDS: &[&str] = &[
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
    "setVariable",
    "setExpression",
    "source",
    "exceptionInfo",
    "goto",
    "gotoTargets",
    "completions",
    "modules",
    "loadedSources",
];

/// The editor sent arguments that do not fit the request. The editor (or the user's
/// configuration) is to blame; the session answers with an error response and goes on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ArgumentsError {
    pub command: String,
    /// Where in `arguments` the problem is, e.g. `threadId` or `breakpoints[1].line`;
    /// `None` when it is the arguments as a whole (or could not be located).
    pub field: Option<String>,
    /// serde's description, e.g. ``invalid type: string "x", expected i64``.
    pub reason: String,
}

impl fmt::Display for ArgumentsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the editor sent invalid arguments for the '{}' request", self.command)?;
        match &self.field {
            Some(field) => write!(f, ": {field}: {}", self.reason),
            None => write!(f, ": {}", self.reason),
        }
    }
}

struct Parser<'a> {
    request: &'a Request,
}

impl Parser<'_> {
    /// The arguments, with missing and `null` read as `{}`.
    fn arguments<T: DeserializeOwned>(&self) -> Result<T, ArgumentsError> {
        match &self.request.arguments {
            Some(value) if !value.is_null() => self.deserialize(value),
            _ => self.deserialize(&Value::Object(serde_json::Map::new())),
        }
    }

    /// `None` for missing or `null` arguments.
    fn optional_arguments<T: DeserializeOwned>(&self) -> Result<Option<T>, ArgumentsError> {
        match &self.request.arguments {
            Some(value) if !value.is_null() => self.deserialize(value).map(Some),
            _ => Ok(None),
        }
    }

    /// The arguments as they are, with missing and `null` read as `{}`.
    fn raw(&self) -> Value {
        match &self.request.arguments {
            Some(value) if !value.is_null() => value.clone(),
            _ => Value::Object(serde_json::Map::new()),
        }
    }

    fn deserialize<T: DeserializeOwned>(&self, value: &Value) -> Result<T, ArgumentsError> {
        // serde would read an array as a struct's fields in order; DAP arguments are objects.
        if !value.is_object() {
            let found = match value {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                Value::Null | Value::Object(_) => "null",
            };
            return Err(ArgumentsError {
                command: self.request.command.clone(),
                field: None,
                reason: format!("expected an object, found {found}"),
            });
        }
        T::deserialize(value).map_err(|error| {
            let (field, reason) = match locate_error::<T>(value) {
                Some((field, reason)) => (field, reason),
                None => (None, error.to_string()),
            };
            ArgumentsError { command: self.request.command.clone(), field, reason }
        })
    }
}

/// Finds which field of `value` made `T` fail to deserialise.
///
/// serde_json reports the position of an error only when it parses text, so `value` is
/// laid out again as text with one key or array element per line, recording the JSON
/// path of each line; parsing that text fails at the same place, and its line number
/// gives the path. Only runs on the error path.
/// `None` if the text parses after all (it should not).
fn locate_error<T: DeserializeOwned>(value: &Value) -> Option<(Option<String>, String)> {
    let mut layout = Layout { text: String::new(), paths: vec![String::new()] };
    layout.value(value, "");
    let error = serde_json::from_str::<T>(&layout.text).err()?;
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = error.to_string();
    let reason = message.strip_suffix(&position).unwrap_or(&message).to_owned();
    let field = error.line().checked_sub(1).and_then(|line| layout.paths.get(line)).filter(|p| !p.is_empty());
    Some((field.cloned(), reason))
}

/// JSON text with a path recorded for each line (`paths[n]` is line `n + 1`).
struct Layout {
    text: String,
    paths: Vec<String>,
}

impl Layout {
    fn newline(&mut self, path: &str) {
        self.text.push('\n');
        self.paths.push(path.to_owned());
    }

    fn value(&mut self, value: &Value, path: &str) {
        match value {
            Value::Object(map) => {
                self.text.push('{');
                for (i, (key, child)) in map.iter().enumerate() {
                    if i > 0 {
                        self.text.push(',');
                    }
                    let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    self.newline(&child_path);
                    // `Value`'s `Display` is its compact JSON text, escapes included.
                    self.text.push_str(&Value::String(key.clone()).to_string());
                    self.text.push(':');
                    self.value(child, &child_path);
                }
                // An error found at the closing brace (a missing field) belongs to the object.
                self.newline(path);
                self.text.push('}');
            }
            Value::Array(items) => {
                self.text.push('[');
                for (i, child) in items.iter().enumerate() {
                    if i > 0 {
                        self.text.push(',');
                    }
                    let child_path = format!("{path}[{i}]");
                    self.newline(&child_path);
                    self.value(child, &child_path);
                }
                self.newline(path);
                self.text.push(']');
            }
            scalar => self.text.push_str(&scalar.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Argument types of our own (see the module doc for why)
// ---------------------------------------------------------------------------------------

/// How to format values. (dap-types' version has no `PartialEq` and writes `null`s.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueFormat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<bool>,
}

/// How to format stack frames: the flags of [`ValueFormat`] plus frame-specific ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackFrameFormat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_types: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_names: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_values: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_all: Option<bool>,
}

/// `setBreakpoints`: replaces all breakpoints of one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetBreakpointsArguments {
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakpoints: Option<Vec<SourceBreakpoint>>,
    /// Deprecated form of `breakpoints`: lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_modified: Option<bool>,
}

/// Arguments of `setFunctionBreakpoints`: the whole list for the session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetFunctionBreakpointsArguments {
    pub breakpoints: Vec<FunctionBreakpoint>,
}

/// One requested function breakpoint: `func`, `module.func` or `Class.method`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionBreakpoint {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_condition: Option<String>,
}

/// One requested breakpoint or logpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceBreakpoint {
    pub line: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_condition: Option<String>,
    /// If non-empty, log this (with `{expr}` interpolated) instead of stopping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackTraceArguments {
    pub thread_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_frame: Option<i64>,
    /// Missing or 0: all frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<StackFrameFormat>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopesArguments {
    pub frame_id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariablesArguments {
    pub variables_reference: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<VariablesArgumentsFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    /// Missing or 0: all variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ValueFormat>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateArguments {
    pub expression: String,
    /// Missing: evaluate in the global scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_id: Option<i64>,
    /// Open enum: `watch`, `repl`, `hover`, `clipboard`, `variables`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ValueFormat>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinueArguments {
    pub thread_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_thread: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextArguments {
    pub thread_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_thread: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<SteppingGranularity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepInArguments {
    pub thread_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_thread: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<SteppingGranularity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepOutArguments {
    pub thread_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_thread: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<SteppingGranularity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseArguments {
    pub thread_id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetVariableArguments {
    pub variables_reference: i64,
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ValueFormat>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetExpressionArguments {
    pub expression: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ValueFormat>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceArguments {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Same as `source.sourceReference`, kept for old clients; required by the schema, but
    /// read as 0 (none) when missing, as clients that send only `source` expect.
    #[serde(default)]
    pub source_reference: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionInfoArguments {
    pub thread_id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GotoArguments {
    pub thread_id: i64,
    pub target_id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GotoTargetsArguments {
    pub source: Source,
    pub line: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletionsArguments {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_id: Option<i64>,
    pub text: String,
    /// Position in `text`, in UTF-16 code units.
    pub column: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
}

/// Required by the schema, but every field is optional; missing reads as `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModulesArguments {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_module: Option<i64>,
    /// Missing or 0: all modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_count: Option<i64>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dap::types::Message;

    /// Parses a whole request message as it arrives from an editor.
    fn command(message: Value) -> Result<RequestCommand, ArgumentsError> {
        let Message::Request(request) = Message::from_value(message).unwrap() else { panic!("not a request") };
        RequestCommand::parse(&request)
    }

    #[test]
    fn vscode_initialize_and_attach() {
        let initialize = command(json!({
            "command": "initialize",
            "arguments": {
                "clientID": "vscode", "clientName": "Visual Studio Code", "adapterID": "ptvsd-legacy",
                "pathFormat": "path", "linesStartAt1": true, "columnsStartAt1": true,
                "supportsVariableType": true, "supportsVariablePaging": true, "supportsRunInTerminalRequest": true,
                "locale": "en", "supportsProgressReporting": true, "supportsInvalidatedEvent": true,
                "supportsMemoryReferences": true, "supportsArgsCanBeInterpretedByShell": true,
                "supportsMemoryEvent": true, "supportsStartDebuggingRequest": true, "supportsANSIStyling": true
            },
            "type": "request", "seq": 1
        }))
        .unwrap();
        let RequestCommand::Initialize(args) = initialize else { panic!("{initialize:?}") };
        assert_eq!(args.adapter_id, "ptvsd-legacy");
        assert_eq!(args.lines_start_at1, Some(true));
        assert_eq!(args.path_format, Some(InitializeRequestArgumentsPathFormat::Path));

        let attach = command(json!({
            "command": "attach",
            "arguments": {
                "type": "ptvsd-legacy", "request": "attach", "name": "Attach",
                "url": "wss://secret@app.azurewebsites.net/_ptvsd", "pathMappings": [],
                "__configurationTarget": 6, "__sessionId": "0b1c"
            },
            "type": "request", "seq": 2
        }))
        .unwrap();
        let RequestCommand::Attach(args) = attach else { panic!("{attach:?}") };
        assert_eq!(args["__sessionId"], "0b1c");
        assert_eq!(args["url"], "wss://secret@app.azurewebsites.net/_ptvsd");
    }

    #[test]
    fn helix_sends_empty_objects() {
        for (name, expected) in [("configurationDone", "ConfigurationDone"), ("threads", "Threads")] {
            let parsed = command(json!({"seq": 3, "type": "request", "command": name, "arguments": {}})).unwrap();
            assert_eq!(format!("{parsed:?}"), expected);
        }
        let parsed = command(json!({
            "seq": 4, "type": "request", "command": "attach",
            "arguments": {"url": "tcp://localhost:5678", "cwd": "/home/u/project"}
        }))
        .unwrap();
        assert!(matches!(parsed, RequestCommand::Attach(ref v) if v["cwd"] == "/home/u/project"));
        // Helix's `disconnect` with no arguments is `null`.
        let parsed = command(json!({"seq": 5, "type": "request", "command": "disconnect", "arguments": null})).unwrap();
        assert!(matches!(parsed, RequestCommand::Disconnect(None)));
        let parsed = command(json!({
            "seq": 6, "type": "request", "command": "setBreakpoints",
            "arguments": {"source": {"path": "/app/main.py"}, "breakpoints": [{"line": 3}, {"line": 7, "condition": "x > 1"}], "sourceModified": false}
        }))
        .unwrap();
        let RequestCommand::SetBreakpoints(args) = parsed else { panic!("{parsed:?}") };
        assert_eq!(args.source.path.as_deref(), Some("/app/main.py"));
        assert_eq!(args.breakpoints.unwrap()[1].condition.as_deref(), Some("x > 1"));
    }

    #[test]
    fn nvim_dap_sends_no_arguments() {
        for name in ["configurationDone", "threads", "loadedSources"] {
            let parsed = command(json!({"seq": 1, "type": "request", "command": name})).unwrap();
            assert!(
                matches!(
                    parsed,
                    RequestCommand::ConfigurationDone | RequestCommand::Threads | RequestCommand::LoadedSources
                ),
                "{parsed:?}"
            );
        }
        let parsed = command(json!({"seq": 2, "type": "request", "command": "disconnect"})).unwrap();
        assert!(matches!(parsed, RequestCommand::Disconnect(None)));
        let parsed = command(json!({"seq": 3, "type": "request", "command": "terminate"})).unwrap();
        assert!(matches!(parsed, RequestCommand::Terminate(None)));
        let parsed = command(json!({"seq": 4, "type": "request", "command": "modules"})).unwrap();
        assert!(matches!(parsed, RequestCommand::Modules(ModulesArguments { start_module: None, module_count: None })));
        // nvim-dap sends the whole configuration as attach arguments.
        let parsed = command(json!({
            "seq": 5, "type": "request", "command": "attach",
            "arguments": {"type": "ptvsd", "request": "attach", "name": "remote", "url": "ws://h/p", "justMyCode": false}
        }))
        .unwrap();
        assert!(matches!(parsed, RequestCommand::Attach(ref v) if v["justMyCode"] == false));
        // Attach with no arguments reads as `{}`; the session reports what is missing.
        let parsed = command(json!({"seq": 6, "type": "request", "command": "attach"})).unwrap();
        assert!(matches!(parsed, RequestCommand::Attach(ref v) if v == &json!({})));
    }

    #[test]
    fn typed_arguments_parse() {
        let parsed = command(json!({"seq": 1, "type": "request", "command": "stackTrace",
            "arguments": {"threadId": 1, "startFrame": 0, "levels": 20, "format": {"parameters": true}}}))
        .unwrap();
        assert!(matches!(
            parsed,
            RequestCommand::StackTrace(StackTraceArguments { thread_id: 1, levels: Some(20), .. })
        ));
        let parsed = command(json!({"seq": 2, "type": "request", "command": "variables",
            "arguments": {"variablesReference": 1000, "filter": "named", "format": {"hex": false}}}))
        .unwrap();
        assert!(matches!(
            parsed,
            RequestCommand::Variables(VariablesArguments {
                variables_reference: 1000,
                filter: Some(VariablesArgumentsFilter::Named),
                ..
            })
        ));
        let parsed = command(json!({"seq": 3, "type": "request", "command": "evaluate",
            "arguments": {"expression": "len(x)", "frameId": 2, "context": "someFutureContext"}}))
        .unwrap();
        let RequestCommand::Evaluate(args) = parsed else { panic!() };
        assert_eq!(args.context.as_deref(), Some("someFutureContext"));
        let parsed = command(json!({"seq": 4, "type": "request", "command": "next",
            "arguments": {"threadId": -1, "granularity": "line"}}))
        .unwrap();
        assert!(matches!(
            parsed,
            RequestCommand::Next(NextArguments { thread_id: -1, granularity: Some(SteppingGranularity::Line), .. })
        ));
        let parsed = command(json!({"seq": 5, "type": "request", "command": "setExceptionBreakpoints",
            "arguments": {"filters": ["raised"], "filterOptions": [{"filterId": "uncaught", "condition": "1"}],
                          "exceptionOptions": [{"path": [{"names": ["ValueError"]}], "breakMode": "always"}]}}))
        .unwrap();
        let RequestCommand::SetExceptionBreakpoints(args) = parsed else { panic!() };
        assert_eq!(args.filters, vec!["raised"]);
        let parsed = command(json!({"seq": 6, "type": "request", "command": "source",
            "arguments": {"source": {"name": "<string>", "sourceReference": 7}, "sourceReference": 7}}))
        .unwrap();
        assert!(matches!(parsed, RequestCommand::Source(SourceArguments { source_reference: 7, .. })));
        let parsed = command(json!({"seq": 7, "type": "request", "command": "disconnect",
            "arguments": {"restart": false, "terminateDebuggee": false}}))
        .unwrap();
        assert!(matches!(
            parsed,
            RequestCommand::Disconnect(Some(DisconnectArguments { terminate_debuggee: Some(false), .. }))
        ));
    }

    #[test]
    fn every_known_command_is_parsed_and_matches_dap_types_names() {
        use dap_types::requests::{self as r, Request as _};
        let dap_types_names = [
            r::Initialize::COMMAND,
            r::Attach::COMMAND,
            r::Launch::COMMAND,
            r::ConfigurationDone::COMMAND,
            r::SetBreakpoints::COMMAND,
            r::SetFunctionBreakpoints::COMMAND,
            r::SetExceptionBreakpoints::COMMAND,
            r::Threads::COMMAND,
            r::StackTrace::COMMAND,
            r::Scopes::COMMAND,
            r::Variables::COMMAND,
            r::Evaluate::COMMAND,
            r::Continue::COMMAND,
            r::Next::COMMAND,
            r::StepIn::COMMAND,
            r::StepOut::COMMAND,
            r::Pause::COMMAND,
            r::Disconnect::COMMAND,
            r::Terminate::COMMAND,
            r::SetVariable::COMMAND,
            r::SetExpression::COMMAND,
            r::Source::COMMAND,
            r::ExceptionInfo::COMMAND,
            r::Goto::COMMAND,
            r::GotoTargets::COMMAND,
            r::Completions::COMMAND,
            r::Modules::COMMAND,
            r::LoadedSources::COMMAND,
        ];
        assert_eq!(KNOWN_COMMANDS, dap_types_names);
        for name in KNOWN_COMMANDS {
            let request = Request { seq: 1, command: (*name).to_owned(), arguments: None };
            // Missing arguments may be an error, but never `Unknown`.
            if let Ok(parsed) = RequestCommand::parse(&request) {
                assert!(!matches!(parsed, RequestCommand::Unknown { .. }), "{name}");
            }
        }
    }

    #[test]
    fn unknown_command() {
        let parsed = command(json!({"seq": 9, "type": "request", "command": "readMemory", "arguments": {"memoryReference": "0x0", "count": 4}}))
            .unwrap();
        assert!(matches!(parsed, RequestCommand::Unknown { ref command } if command == "readMemory"));
    }

    #[test]
    fn invalid_arguments_name_the_field() {
        let err =
            command(json!({"seq": 1, "type": "request", "command": "stackTrace", "arguments": {"threadId": "x"}}))
                .unwrap_err();
        assert_eq!(err.command, "stackTrace");
        assert_eq!(err.field.as_deref(), Some("threadId"));
        assert!(err.reason.starts_with("invalid type: string \"x\""), "{err}");
        assert!(!err.reason.contains("line"), "{err}");
        assert_eq!(
            err.to_string(),
            format!("the editor sent invalid arguments for the 'stackTrace' request: threadId: {}", err.reason)
        );

        let err = command(json!({"seq": 1, "type": "request", "command": "stackTrace", "arguments": {}})).unwrap_err();
        assert_eq!(err.field, None);
        assert_eq!(err.reason, "missing field `threadId`");
        let err = command(json!({"seq": 1, "type": "request", "command": "stackTrace"})).unwrap_err();
        assert_eq!(err.reason, "missing field `threadId`");

        let err = command(json!({"seq": 1, "type": "request", "command": "setBreakpoints",
            "arguments": {"source": {"path": "/a.py"}, "breakpoints": [{"line": 1}, {"line": 2.5}]}}))
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("breakpoints[1].line"));

        let err = command(json!({"seq": 1, "type": "request", "command": "setBreakpoints",
            "arguments": {"source": {"path": "/a.py"}, "breakpoints": [{"line": 1}, {"column": 2}]}}))
        .unwrap_err();
        assert_eq!((err.field.as_deref(), err.reason.as_str()), (Some("breakpoints[1]"), "missing field `line`"));

        let err = command(json!({"seq": 1, "type": "request", "command": "setBreakpoints",
            "arguments": {"source": {"path": "/a.py", "presentationHint": "loud"}}}))
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("source.presentationHint"));

        let err =
            command(json!({"seq": 1, "type": "request", "command": "initialize", "arguments": {"clientID": "x"}}))
                .unwrap_err();
        assert_eq!(err.reason, "missing field `adapterID`");

        let err =
            command(json!({"seq": 1, "type": "request", "command": "evaluate", "arguments": ["1 + 1"]})).unwrap_err();
        assert_eq!(err.field, None);
        assert_eq!(err.reason, "expected an object, found an array");

        let err =
            command(json!({"seq": 1, "type": "request", "command": "disconnect", "arguments": {"restart": "yes"}}))
                .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("restart"));

        // Keys with characters that need escaping do not confuse the layout.
        let err = command(json!({"seq": 1, "type": "request", "command": "pause",
            "arguments": {"we\"ird\nkey": {"a": [1, {"b": "c\nd"}]}, "threadId": true}}))
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("threadId"));
    }
}
