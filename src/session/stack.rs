//! Stack and variables: the `threads`, `stackTrace`, `scopes` and `variables` requests,
//! and how ptvsd's frame lists and children become DAP stack frames, scopes and variables.
//!
//! Owns: the shapes of a `variables` answer ([`ChildrenShape`]), the DAP `Variable` of a
//! ptvsd value (an expandable one gets a `variablesReference` from `handles`), paging,
//! and the checks that a frame can still be read (`check_frame`, `frame_or_top`), which
//! `evaluation` uses too. A `variables` request that needs ptvsd (`chld`) waits in
//! `work` as `Waiter::Children` and is answered with `children_body`.
//!
//! Must not know: how expressions are evaluated or assigned (`evaluation`), when threads
//! resume (`stepping`), the wire. The frame lists are `threads`', the ids `handles`'.

use super::handles::{Container, FrameRef, Handles, Indexed};
use super::paging;
use super::requests::{is_frozen, wants_hex};
use super::work::Job;
use super::{Handled, Reply, RequestError, Session, Waiter};
use crate::dap::bodies::{
    ListedVariable, Scope, ScopesResponseBody, StackFrame, StackFramePresentationHint, StackTraceResponseBody, Thread,
    ThreadsResponseBody, Variable, VariableListBody, VariablesResponseBody,
};
use crate::dap::requests::{ScopesArguments, StackTraceArguments, VariablesArguments, VariablesArgumentsFilter};
use crate::dap::types::Request;
use crate::legacy::messages::{Child, PyObject};

/// How the children of a `variables` request map back to DAP.
#[derive(Debug, Clone)]
pub enum ChildrenShape {
    /// All children of `expression`, then `start`/`count` applied.
    All { start: usize, count: Option<usize> },
    /// A slice `expression[start:start+count]` of a list or tuple: child `[i]` is `[start+i]`.
    Slice { expression: String, start: i64 },
    /// Entries `start..` of the dict `expression`, enumerated as `page`
    /// (`paging::dict_page_expression`): child `[key]` is the dict's own entry.
    DictPage { expression: String, page: String, start: i64 },
    /// `globals()`: dict items shown by name.
    Globals,
}

impl Session {
    pub(super) fn threads_request(&self) -> Handled {
        let threads = self
            .threads
            .iter()
            .map(|(remote, info)| Thread {
                id: info.dap_id,
                name: info.name.clone().unwrap_or_else(|| format!("Thread {remote}")),
            })
            .collect();
        Ok(Reply::body(ThreadsResponseBody { threads }))
    }

    pub(super) fn stack_trace(&mut self, args: StackTraceArguments) -> Handled {
        let remote = self.known_thread(args.thread_id)?;
        let (frames, stopped) = match self.threads.get(remote) {
            Some(info) => (info.frames.clone(), info.shows_frames()),
            None => (Vec::new(), false),
        };
        if !stopped {
            return Ok(Reply::body(StackTraceResponseBody { stack_frames: Vec::new(), total_frames: Some(0) }));
        }
        let total = frames.len();
        let start = usize::try_from(args.start_frame.unwrap_or(0).max(0)).unwrap_or(usize::MAX).min(total);
        let levels = args.levels.filter(|l| *l > 0).and_then(|l| usize::try_from(l).ok()).unwrap_or(total);
        let column = self.editor.client().first_column();
        let line_offset = self.editor.client().line_offset();
        let mut stack = Vec::new();
        for (index, frame) in frames.iter().enumerate().skip(start).take(levels) {
            let id = self.handles.frame_id(FrameRef { thread: remote, index: index as i64, kind: frame.kind });
            stack.push(StackFrame {
                id,
                name: frame.function.clone(),
                source: Some(self.source_body(&frame.file)),
                line: (frame.line - line_offset).max(0),
                column,
                presentation_hint: is_frozen(&frame.file).then_some(StackFramePresentationHint::Subtle),
                ..StackFrame::default()
            });
        }
        let total_frames = Some(i64::try_from(total).unwrap_or(i64::MAX));
        Ok(Reply::body(StackTraceResponseBody { stack_frames: stack, total_frames }))
    }

    pub(super) fn scopes(&mut self, args: ScopesArguments) -> Handled {
        let frame = self
            .handles
            .frame(args.frame_id)
            .ok_or_else(|| format!("frame {} is no longer valid: the program has run since", args.frame_id))?;
        let function = self
            .threads
            .get(frame.thread)
            .and_then(|t| usize::try_from(frame.index).ok().and_then(|i| t.frames.get(i)))
            .map(|f| f.function.clone());
        let mut scopes = Vec::new();
        if function.as_deref() == Some("<module>") {
            let reference = self.handles.container_id(Container::Locals(frame));
            scopes.push(Scope {
                name: "Globals".to_owned(),
                variables_reference: reference,
                expensive: false,
                ..Scope::default()
            });
        } else {
            let locals = self.handles.container_id(Container::Locals(frame));
            scopes.push(Scope {
                name: "Locals".to_owned(),
                presentation_hint: Some("locals".to_owned()),
                variables_reference: locals,
                expensive: false,
                ..Scope::default()
            });
            let globals = self.handles.container_id(Container::Globals(frame));
            scopes.push(Scope {
                name: "Globals".to_owned(),
                variables_reference: globals,
                expensive: true,
                ..Scope::default()
            });
        }
        Ok(Reply::body(ScopesResponseBody { scopes }))
    }

    pub(super) async fn variables(&mut self, request: &Request, args: VariablesArguments) -> Handled {
        let container = self.handles.container(args.variables_reference).cloned().ok_or_else(|| {
            RequestError::quiet(format!(
                "variablesReference {} is no longer valid: the program has run since",
                args.variables_reference
            ))
        })?;
        let start = args.start.unwrap_or(0).max(0);
        let count = args.count.filter(|c| *c > 0);
        let hex = wants_hex(args.format.as_ref());
        match container {
            Container::Locals(frame) => {
                let variables = self
                    .threads
                    .get(frame.thread)
                    .and_then(|t| usize::try_from(frame.index).ok().and_then(|i| t.frames.get(i)))
                    .map(|f| f.variables.clone())
                    .unwrap_or_default();
                let mut out = Vec::new();
                for var in variables
                    .iter()
                    .filter(|v| !(v.value.type_name.is_empty() && v.value.repr.as_deref() == Some("<undefined>")))
                {
                    out.push(self.handles.variable(frame, &var.name, Some(&var.name), &var.value, hex));
                }
                let variables = page(out, start, count);
                Ok(Reply::body(VariablesResponseBody { variables }))
            }
            Container::Globals(frame) => {
                self.enum_children(request, frame, "globals()".to_string(), ChildrenShape::Globals, hex).await
            }
            Container::Expression { frame, expression, indexed } => match (args.filter, indexed) {
                (Some(VariablesArgumentsFilter::Named), Some(_)) => Ok(Reply::body(VariablesResponseBody::default())),
                (Some(VariablesArgumentsFilter::Indexed), Some(indexed)) if count.is_some() || start > 0 => {
                    let end = count.map(|c| start.saturating_add(c)).unwrap_or(indexed.length()).min(indexed.length());
                    match indexed {
                        Indexed::Sequence(_) => {
                            let text = format!("({expression})[{start}:{end}]");
                            self.enum_children(request, frame, text, ChildrenShape::Slice { expression, start }, hex)
                                .await
                        }
                        Indexed::Dict(_) => {
                            let page = paging::dict_page_expression(&expression, start, end);
                            self.enum_children(
                                request,
                                frame,
                                page.clone(),
                                ChildrenShape::DictPage { expression, page, start },
                                hex,
                            )
                            .await
                        }
                    }
                }
                _ => {
                    let shape = ChildrenShape::All {
                        start: usize::try_from(start).unwrap_or(0),
                        count: count.and_then(|c| usize::try_from(c).ok()),
                    };
                    self.enum_children(request, frame, expression, shape, hex).await
                }
            },
        }
    }

    async fn enum_children(
        &mut self,
        request: &Request,
        frame: FrameRef,
        text: String,
        shape: ChildrenShape,
        hex: bool,
    ) -> Handled {
        self.check_frame(frame)?;
        let job = Job::Children { text, frame: frame.index, frame_kind: frame.kind };
        self.queue_work(frame.thread, job, Waiter::Children { request: request.clone(), shape, frame, hex });
        Ok(Reply::Later)
    }

    /// The frame must belong to a stopped thread's current stack, and no resume may be
    /// waiting to go out (the work would be cut off by it).
    pub(super) fn check_frame(&self, frame: FrameRef) -> Result<(), RequestError> {
        let thread = self.threads.get(frame.thread).ok_or("that thread has exited")?;
        if !thread.is_stopped() {
            return Err(RequestError::quiet(format!(
                "thread {} is running; values can only be read while it is stopped (pause it first)",
                thread.dap_id
            )));
        }
        if usize::try_from(frame.index).map_or(true, |i| i >= thread.frames.len()) {
            return Err(RequestError::quiet("that frame is no longer on the stack"));
        }
        if self.stepping.resume_all_queued() || self.stepping.detach_queued() {
            return Err(RequestError::quiet("the program is resuming"));
        }
        Ok(())
    }

    /// The frame a request names, or the top frame of a stopped thread.
    pub(super) fn frame_or_top(&self, frame_id: Option<i64>, what: &str) -> Result<FrameRef, RequestError> {
        match frame_id {
            Some(id) => self.handles.frame(id).ok_or_else(|| {
                RequestError::quiet(format!("frame {id} is no longer valid: the program has run since"))
            }),
            None => {
                let thread = self
                    .threads
                    .any_stopped()
                    .ok_or_else(|| format!("{what} needs a stopped program: pause it or wait for a breakpoint"))?;
                let kind = self.threads.top_frame_kind(thread);
                Ok(FrameRef { thread, index: 0, kind })
            }
        }
    }
}

/// The variables the handles name: building a DAP variable registers its container, so
/// these are the handles' own (they need nothing else of the session).
impl Handles {
    /// A DAP variable for a value, registering a container when it can be expanded.
    /// `hex`: show integers in hexadecimal (ptvsd sends `hex(value)` alongside the repr).
    pub(super) fn variable(
        &mut self,
        frame: FrameRef,
        name: &str,
        expression: Option<&str>,
        value: &PyObject,
        hex: bool,
    ) -> Variable {
        let mut v = Variable {
            name: name.to_owned(),
            value: shown_value(value, hex).to_owned(),
            type_: (!value.type_name.is_empty()).then(|| value.type_name.clone()),
            ..Variable::default()
        };
        if let Some(expression) = expression {
            v.evaluate_name = Some(expression.to_owned());
            (v.variables_reference, v.indexed_variables) = self.expandable(frame, expression, value);
        }
        v
    }

    /// [`Handles::variable`] of a value the caller gives up: its strings are moved.
    fn listed_variable(
        &mut self,
        frame: FrameRef,
        name: String,
        expression: Option<String>,
        value: PyObject,
        hex: bool,
    ) -> ListedVariable {
        let (variables_reference, indexed_variables) = match &expression {
            Some(expression) => self.expandable(frame, expression, &value),
            None => (0, None),
        };
        let type_ = (!value.type_name.is_empty()).then_some(value.type_name);
        let shown = match value.hex {
            Some(h) if hex && type_.as_deref() != Some("bool") => h,
            _ => value.repr.unwrap_or_default(),
        };
        ListedVariable { name, value: shown, type_, evaluate_name: expression, variables_reference, indexed_variables }
    }

    /// The `variablesReference` and `indexedVariables` of a value reached by `expression`:
    /// a container is registered when it can be expanded; `(0, None)` otherwise.
    fn expandable(&mut self, frame: FrameRef, expression: &str, value: &PyObject) -> (i64, Option<i64>) {
        if !value.is_expandable() {
            return (0, None);
        }
        let indexed = Indexed::of(&value.type_name, value.length);
        let container = Container::Expression { frame, expression: expression.to_string(), indexed };
        (self.container_id(container), indexed.map(Indexed::length))
    }

    /// The `variables` body of a `chld` answer. The children are consumed in place: their
    /// strings become the variables' (10 000 children are one allocation, not two).
    pub(super) fn children_body(
        &mut self,
        frame: FrameRef,
        shape: &ChildrenShape,
        children: Vec<Child>,
        hex: bool,
    ) -> VariableListBody {
        let mut variables = self.children(frame, shape, children, hex);
        // Built in the children's own allocation, which is bigger (136-byte children, and
        // the spare room the decoder grew it by): what is not used goes back before the
        // answer is written.
        variables.shrink_to_fit();
        VariableListBody { variables }
    }

    fn children(
        &mut self,
        frame: FrameRef,
        shape: &ChildrenShape,
        children: Vec<Child>,
        hex: bool,
    ) -> Vec<ListedVariable> {
        match shape {
            ChildrenShape::All { start, count } => {
                // `items()` is a synthetic child ptvsd adds to dicts; the items follow it.
                let all: Vec<ListedVariable> = children
                    .into_iter()
                    .filter(|c| !is_items_view(c))
                    .map(|c| self.listed_variable(frame, c.name, c.expression, c.value, hex))
                    .collect();
                page(all, *start as i64, count.map(|c| c as i64))
            }
            ChildrenShape::Slice { expression, start } => children
                .into_iter()
                .filter_map(|c| {
                    let index: i64 = c.name.strip_prefix('[')?.strip_suffix(']')?.parse().ok()?;
                    let absolute = start + index;
                    let name = format!("[{absolute}]");
                    let expr = format!("({expression})[{absolute}]");
                    Some(self.listed_variable(frame, name, Some(expr), c.value, hex))
                })
                .collect(),
            ChildrenShape::DictPage { expression, page, start } => children
                .into_iter()
                .filter(|c| paging::is_entry(&c.name))
                .map(|c| {
                    let name =
                        paging::dict_entry_expression(expression, page, *start, &c.name, c.expression.as_deref());
                    self.listed_variable(frame, c.name, name, c.value, hex)
                })
                .collect(),
            ChildrenShape::Globals => children
                .into_iter()
                .filter(|c| !is_items_view(c))
                .map(|c| {
                    let name = match c.name.strip_prefix("['").and_then(|n| n.strip_suffix("']")) {
                        Some(name) => name.to_string(),
                        None => c.name,
                    };
                    self.listed_variable(frame, name, c.expression, c.value, hex)
                })
                .collect(),
        }
    }
}

/// What a variable shows of `value`: its repr, or `hex(value)` when asked for (not for
/// a bool, whose hex ptvsd also sends).
fn shown_value(value: &PyObject, hex: bool) -> &str {
    match &value.hex {
        Some(h) if hex && value.type_name != "bool" => h,
        _ => value.repr.as_deref().unwrap_or_default(),
    }
}

/// Applies DAP `start`/`count` to a full list.
pub(super) fn page<T>(items: Vec<T>, start: i64, count: Option<i64>) -> Vec<T> {
    let start = usize::try_from(start).unwrap_or(0);
    let iter = items.into_iter().skip(start);
    match count.and_then(|c| usize::try_from(c).ok()) {
        Some(c) => iter.take(c).collect(),
        None => iter.collect(),
    }
}

/// ptvsd's synthetic `items()` child of a dict (`viewitems()` on Python 2.7; spec §3.7).
fn is_items_view(child: &Child) -> bool {
    matches!(child.name.as_str(), "items()" | "viewitems()") && child.value.type_name.is_empty()
}
