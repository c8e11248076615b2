//! The one typed message model of the legacy ptvsd protocol.
//!
//! Owns: [`Command`] (client → server, after attach), [`Event`] (server → client, after
//! attach) and the values they carry. Both wire dialects (binary v2/v4/v6 and JSON v7/v8)
//! decode into and encode from these types, so nothing above `legacy` knows which dialect
//! is on the wire.
//!
//! Must not know: DAP, transports, or any byte layout. Field names follow the protocol
//! spec (`shared/docs/ptvsd-legacy-protocol.md` §3), not the wire spelling of either dialect.

/// `thread.get_ident()` of a Python thread. Ids are reused by the OS after a thread exits.
pub type ThreadId = i64;
/// A breakpoint id chosen by the client; echoed in bind and hit events.
pub type BreakpointId = i64;
/// An evaluation id chosen by the client; echoed by evaluation and children results.
pub type ExecutionId = i64;
/// 0-based index into a stopped thread's current stack, 0 = innermost.
pub type FrameIndex = i64;

/// Kind of a stack frame (`frame kind` in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    None,
    Python,
    Django,
    Other(i64),
}

impl FrameKind {
    pub fn from_wire(value: i64) -> Self {
        match value {
            0 => Self::None,
            1 => Self::Python,
            2 => Self::Django,
            other => Self::Other(other),
        }
    }
    pub fn to_wire(self) -> i64 {
        match self {
            Self::None => 0,
            Self::Python => 1,
            Self::Django => 2,
            Self::Other(other) => other,
        }
    }
}

/// How an evaluation result is rendered (`repr kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReprKind {
    /// The safe repr (limited length), plus `hex` where it applies.
    Normal,
    /// The raw string value; only works for str/bytes/bytearray results.
    Raw,
    /// Only the raw length, no text.
    RawLength,
    Other(i64),
}

impl ReprKind {
    pub fn from_wire(value: i64) -> Self {
        match value {
            0 => Self::Normal,
            1 => Self::Raw,
            2 => Self::RawLength,
            other => Self::Other(other),
        }
    }
    pub fn to_wire(self) -> i64 {
        match self {
            Self::Normal => 0,
            Self::Raw => 1,
            Self::RawLength => 2,
            Self::Other(other) => other,
        }
    }
}

/// When a breakpoint's condition lets a hit through (v6+ `conditionKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionKind {
    Always,
    WhenTrue,
    WhenChanged,
    Other(i64),
}

impl ConditionKind {
    pub fn from_wire(value: i64) -> Self {
        match value {
            0 => Self::Always,
            1 => Self::WhenTrue,
            2 => Self::WhenChanged,
            other => Self::Other(other),
        }
    }
    pub fn to_wire(self) -> i64 {
        match self {
            Self::Always => 0,
            Self::WhenTrue => 1,
            Self::WhenChanged => 2,
            Self::Other(other) => other,
        }
    }
}

/// How the hit count gates a stop (v6+ `passCountKind`). Never send `EveryNth` with a
/// count of 0: the debuggee dies with `ZeroDivisionError` (spec §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassCountKind {
    Always,
    /// `hits % N == 0`
    EveryNth,
    /// `hits == N`
    WhenEqual,
    /// `hits >= N`
    WhenAtLeast,
    Other(i64),
}

impl PassCountKind {
    pub fn from_wire(value: i64) -> Self {
        match value {
            0 => Self::Always,
            1 => Self::EveryNth,
            2 => Self::WhenEqual,
            3 => Self::WhenAtLeast,
            other => Self::Other(other),
        }
    }
    pub fn to_wire(self) -> i64 {
        match self {
            Self::Always => 0,
            Self::EveryNth => 1,
            Self::WhenEqual => 2,
            Self::WhenAtLeast => 3,
            Self::Other(other) => other,
        }
    }
}

/// Breakpoint language in JSON (`language`); the binary dialect uses separate commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakpointLanguage {
    Python,
    Django,
}

/// The Python object record (`obj`) used in frame lists, results and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PyObject {
    /// The safe repr. `None` for repr kind 2 or a raw request that failed.
    pub repr: Option<String>,
    /// `hex(value)` where that works, else `None`. Unbounded in length.
    pub hex: Option<String>,
    /// `type(value).__name__`; empty for synthesized values (placeholders).
    pub type_name: String,
    /// `len(value)`, or 0. For raw kinds: the raw length in characters.
    pub length: i64,
    /// Bit set of [`PyObject::EXPANDABLE`] and friends.
    pub flags: i64,
}

impl PyObject {
    pub const EXPANDABLE: i64 = 1;
    pub const METHOD_CALL: i64 = 2;
    pub const SIDE_EFFECTS: i64 = 4;
    pub const RAW: i64 = 8;
    pub const HAS_RAW_REPR: i64 = 16;

    pub fn is_expandable(&self) -> bool {
        self.flags & Self::EXPANDABLE != 0
    }
}

/// One variable of a frame: a name and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub value: PyObject,
}

/// One stack frame of a frame list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The code object's first line.
    pub start_line: i64,
    /// Unreliable (spec §5.3): computed from `co_lnotab`.
    pub end_line: i64,
    /// The current line.
    pub line: i64,
    /// `<module>` for module code.
    pub function: String,
    /// Absolute path as the debuggee sees it (or `<cwd>/<frozen x>` on 3.11).
    pub file: String,
    /// `co_argcount`: the first N variables are the arguments.
    pub arg_count: i64,
    pub kind: FrameKind,
    /// For Django frames: the Python source file and line behind the template frame.
    pub django_source: Option<(String, i64)>,
    pub variables: Vec<Variable>,
}

/// One child of an expanded expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    /// Attribute name, `[index]`, `[repr(key)]`, `items()`, `Results View` or `[...]`.
    pub name: String,
    /// A complete Python expression for this child. `None` for the `[...]` "too many
    /// items" placeholder, and for v2 servers, which send no expressions.
    pub expression: Option<String>,
    pub value: PyObject,
}

/// One `try` statement range answering a handler query (`sehi`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerStatement {
    /// Line of the `try`.
    pub start_line: i64,
    /// Last line of the try body + 1 (exclusive).
    pub end_line: i64,
    /// Handler type names; `*` (or an empty list) means "handles everything".
    pub expressions: Vec<String>,
}

/// One entry of the exception table sent with `sexi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionMode {
    /// `module.Name`; builtins as `builtins.X` (Py3) or `exceptions.X` (Py2).
    pub name: String,
    /// Bit mask: 0 never, 0x01 always (first chance), 0x20 user-unhandled.
    pub mode: i64,
}

impl ExceptionMode {
    pub const NEVER: i64 = 0;
    pub const ALWAYS: i64 = 0x01;
    pub const USER_UNHANDLED: i64 = 0x20;
}

/// Where a chunk of program output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputChannel {
    Stdout,
    Stderr,
    /// ptvsd 3.2.1's `channel: "debug"`.
    Debug,
    /// The server did not say (binary, v7, or writes to `sys.stdout.buffer`).
    Unknown,
}

/// An exception stop (`EXCP`, `EXC2`, `legacyException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionStop {
    pub thread: ThreadId,
    /// Bare for builtins in v6 (`ValueError`), module-qualified otherwise.
    pub type_name: String,
    /// `str(exception)`, unbounded.
    pub message: String,
    /// The server classified it as unhandled (EXCP breakType 1, EXC2 `breaktype`).
    pub unhandled: bool,
    /// Traceback so far, one line per entry (rich form only).
    pub trace: Option<String>,
    /// Name of the injected local holding exception details (rich form only).
    pub exc_value: Option<String>,
    /// The server sent the rich form (`EXC2` / `legacyException`) rather than `EXCP`.
    pub rich: bool,
}

/// The command a failure response (JSON only) answers, so nothing above `legacy` matches
/// the dialect's command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedCommand {
    /// An `exec`; the id when the codec still knew which request it was.
    Execute {
        execution_id: Option<ExecutionId>,
    },
    /// A `chld`; the id when the codec still knew which request it was.
    EnumChildren {
        execution_id: Option<ExecutionId>,
    },
    SetLineNumber,
    /// ptvsd accepted the attach, then failed attaching (a race inside ptvsd).
    Attach,
    Detach,
    /// Any other command, by its wire name (only logged).
    Other(String),
}

/// A client → server command of the debug session (after attach).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    StepInto {
        thread: ThreadId,
    },
    StepOut {
        thread: ThreadId,
    },
    StepOver {
        thread: ThreadId,
    },
    BreakAll,
    ResumeAll,
    ResumeThread {
        thread: ThreadId,
    },
    AutoResumeThread {
        thread: ThreadId,
    },
    ClearStepping {
        thread: ThreadId,
    },
    /// Never send to a binary server: ptvsd 2.2.0 does not know it (spec §6.1).
    GetThreadFrames {
        thread: ThreadId,
    },
    SetBreakpoint {
        id: BreakpointId,
        line: i64,
        file: String,
        condition_kind: ConditionKind,
        condition: String,
        pass_count_kind: PassCountKind,
        pass_count: i64,
    },
    SetBreakpointCondition {
        id: BreakpointId,
        condition_kind: ConditionKind,
        condition: String,
    },
    SetBreakpointPassCount {
        id: BreakpointId,
        pass_count_kind: PassCountKind,
        pass_count: i64,
    },
    SetBreakpointHitCount {
        id: BreakpointId,
        hit_count: i64,
    },
    /// Answered by [`Event::BreakpointHitCount`] with the same `request_id`.
    GetBreakpointHitCount {
        request_id: i64,
        id: BreakpointId,
    },
    RemoveBreakpoint {
        id: BreakpointId,
        line: i64,
    },
    SetDjangoBreakpoint {
        id: BreakpointId,
        line: i64,
        file: String,
    },
    RemoveDjangoBreakpoint {
        id: BreakpointId,
        line: i64,
        file: String,
    },
    /// Evaluate (or exec) `text` in a frame of a stopped thread.
    Execute {
        text: String,
        thread: ThreadId,
        frame: FrameIndex,
        execution_id: ExecutionId,
        frame_kind: FrameKind,
        repr_kind: ReprKind,
    },
    EnumChildren {
        text: String,
        thread: ThreadId,
        frame: FrameIndex,
        execution_id: ExecutionId,
        frame_kind: FrameKind,
    },
    /// Set next statement. Deadlocks binary servers on CPython 3.11 (spec §5.3).
    SetLineNumber {
        thread: ThreadId,
        frame: FrameIndex,
        line: i64,
    },
    /// Replaces the whole exception table, including ptvsd's built-in "never" entries.
    SetExceptionInfo {
        default_mode: i64,
        exceptions: Vec<ExceptionMode>,
    },
    /// The answer to one [`Event::RequestHandlers`]; never send it unsolicited.
    SetExceptionHandlerInfo {
        file: String,
        statements: Vec<HandlerStatement>,
    },
    Detach,
    /// The answer to [`Event::Last`] (launch mode).
    LastAck,
}

/// A server → client event of the debug session (after attach).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ThreadCreate {
        thread: ThreadId,
    },
    ThreadExit {
        thread: ThreadId,
    },
    ModuleLoad {
        module_id: i64,
        file: String,
    },
    /// v8 only: `sys.modules` changed.
    ModulesChanged,
    /// The full stack (with variables) of one thread. `name` is null for running threads.
    FrameList {
        thread: ThreadId,
        name: Option<String>,
        frames: Vec<Frame>,
    },
    /// The attach (or launch) break.
    ProcessLoad {
        thread: ThreadId,
    },
    BreakpointSet {
        id: BreakpointId,
    },
    /// The module is not loaded yet: the breakpoint is pending.
    BreakpointFailed {
        id: BreakpointId,
    },
    BreakpointHit {
        id: BreakpointId,
        thread: ThreadId,
    },
    StepDone {
        thread: ThreadId,
    },
    AsyncBreak {
        thread: ThreadId,
    },
    Exception(ExceptionStop),
    /// Blocking query: the raising thread waits for exactly one
    /// [`Command::SetExceptionHandlerInfo`] echoing `file`.
    RequestHandlers {
        file: String,
    },
    ExecutionResult {
        execution_id: ExecutionId,
        value: PyObject,
    },
    ExecutionException {
        execution_id: ExecutionId,
        text: String,
    },
    Children {
        execution_id: ExecutionId,
        children: Vec<Child>,
    },
    BreakpointHitCount {
        request_id: i64,
        hit_count: i64,
    },
    /// Reply to [`Command::SetLineNumber`]; `line` is 0 on failure.
    SetLineResult {
        ok: bool,
        thread: ThreadId,
        line: i64,
    },
    Output {
        thread: ThreadId,
        text: String,
        channel: OutputChannel,
    },
    Detach,
    /// Launch mode: the script finished; answer with [`Command::LastAck`].
    Last,
    /// JSON only: a request failed (`success: false`), e.g. the second response of
    /// `legacyDetach`, or an evaluation in a frame that does not exist.
    CommandFailed {
        command: FailedCommand,
        message: String,
    },
    /// JSON only: an event name this model does not know. The stream stays in sync.
    Unknown {
        name: String,
    },
}
