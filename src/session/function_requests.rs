//! `setFunctionBreakpoints`.
//!
//! Function breakpoints: the names are resolved off the session loop (reading and parsing
//! the local files under the path mappings' local roots, `functions`), then
//! [`FunctionBreakpoints`](super::function_breakpoints::FunctionBreakpoints) turns them
//! into line breakpoints that go to ptvsd like any other (same id space, same commands).
//! A name not found locally is looked up in the debuggee at its next stop. The response
//! comes once the names are resolved; binding (BRKS/BRKF) and the lookups are reported as
//! `breakpoint` events. Every `setFunctionBreakpoints` resolves all names again, and so
//! does every stop when a file a site is in has changed, so an edited file moves its
//! function breakpoints.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::breakpoints::{BindState, Breakpoint};
use super::function_breakpoints::{Changes, FunctionBreakpoint, Requested, Resolved, Target};
use super::functions::{lookup_expression, parse_lookup_result, FunctionIndex, FunctionName, Resolution};
use super::requests::file_name;
use super::work::Job;
use super::{Handled, Input, Reply, Session, Waiter};
use crate::dap::bodies::{
    Breakpoint as DapBreakpoint, BreakpointEventBody, BreakpointReason, SetBreakpointsResponseBody, Source,
};
use crate::dap::requests::SetFunctionBreakpointsArguments;
use crate::dap::types::Request;
use crate::legacy::messages::{BreakpointId, Command, ReprKind, ThreadId};

/// The function breakpoints' part of the session: the resolver's cache (shared with the
/// blocking task that resolves) and which request's resolution is the latest.
#[derive(Default)]
pub(super) struct FunctionState {
    index: Arc<Mutex<FunctionIndex>>,
    /// Numbers the resolutions; only the latest request's list is applied.
    requested: u64,
    applied: u64,
    /// A resolution is running (or queued) for this many requests.
    in_flight: usize,
}

impl FunctionState {
    /// A resolution starts: its number, and the cache it reads.
    fn start(&mut self) -> (u64, Arc<Mutex<FunctionIndex>>) {
        self.requested += 1;
        self.in_flight += 1;
        (self.requested, Arc::clone(&self.index))
    }

    /// Resolution `number` is done: whether it is the latest so far (then it is applied).
    fn finished(&mut self, number: u64) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        if number <= self.applied {
            return false;
        }
        self.applied = number;
        true
    }

    /// No resolution is running or queued.
    fn idle(&self) -> bool {
        self.in_flight == 0
    }
}

impl std::fmt::Debug for FunctionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionState")
            .field("requested", &self.requested)
            .field("applied", &self.applied)
            .finish_non_exhaustive()
    }
}

/// A resolution worked out off the loop.
#[derive(Debug)]
pub struct FunctionsResolved {
    /// The request to answer (`None`: a refresh after a file changed).
    request: Option<Request>,
    number: u64,
    requested: Vec<Requested>,
    resolved: Vec<(String, Resolved)>,
}

/// Resolves `names` against `roots` (blocking: reads files).
fn resolve_all(
    index: &Mutex<FunctionIndex>,
    roots: &[PathBuf],
    names: &[String],
    to_remote: &dyn Fn(&str) -> String,
) -> Vec<(String, Resolved)> {
    let Ok(mut index) = index.lock() else {
        return names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    Resolved::Missing { problem: "The function index is unavailable.".into(), ask_debuggee: true },
                )
            })
            .collect();
    };
    names
        .iter()
        .map(|name| {
            let resolved = match FunctionName::parse(name) {
                Err(problem) => Resolved::Missing { problem, ask_debuggee: false },
                Ok(parsed) => match index.resolve(&parsed, roots) {
                    Resolution::Found(locations) => Resolved::Targets(
                        locations
                            .into_iter()
                            .map(|l| {
                                let local = l.path.to_string_lossy().into_owned();
                                Target {
                                    remote_path: to_remote(&local),
                                    local_path: Some(l.path),
                                    line: i64::from(l.line),
                                }
                            })
                            .collect(),
                    ),
                    Resolution::NotFound(problem) => Resolved::Missing { problem, ask_debuggee: true },
                },
            };
            (name.clone(), resolved)
        })
        .collect()
}

impl Session {
    pub(super) async fn set_function_breakpoints(
        &mut self,
        request: &Request,
        args: SetFunctionBreakpointsArguments,
    ) -> Handled {
        let requested: Vec<Requested> = args
            .breakpoints
            .into_iter()
            .map(|b| {
                let refused = Self::refusal(false, b.condition.as_deref(), b.hit_condition.as_deref());
                Requested { name: b.name, condition: b.condition, hit_condition: b.hit_condition, refused }
            })
            .collect();
        // Answered once the names are resolved (`on_functions_resolved`).
        self.resolve_functions(Some(request.clone()), requested);
        Ok(Reply::Later)
    }

    /// Starts resolving `requested` off the loop; the result comes as
    /// [`Input::FunctionsResolved`].
    fn resolve_functions(&mut self, request: Option<Request>, requested: Vec<Requested>) {
        let (number, index) = self.breakpoints.resolver.start();
        let paths = self.config.as_ref().map(|c| c.paths.clone());
        let roots = paths.as_ref().map(|p| p.local_roots()).unwrap_or_default();
        let names: Vec<String> =
            requested.iter().filter(|r| r.refused.is_none()).map(|r| r.name.trim().to_string()).collect();
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let resolved = tokio::task::spawn_blocking(move || {
                let to_remote =
                    |local: &str| paths.as_ref().map(|p| p.to_remote(local)).unwrap_or_else(|| local.to_string());
                resolve_all(&index, &roots, &names, &to_remote)
            })
            .await
            .unwrap_or_default();
            let _ = inputs
                .send(Input::FunctionsResolved(Box::new(FunctionsResolved { request, number, requested, resolved })))
                .await;
        });
    }

    pub(super) async fn on_functions_resolved(&mut self, done: FunctionsResolved) {
        let latest = self.breakpoints.resolver.finished(done.number);
        let FunctionsResolved { request, requested, mut resolved, .. } = done;
        let names: Vec<String> = requested.iter().map(|r| r.name.trim().to_string()).collect();
        if latest {
            let breakpoints = &mut self.breakpoints.source;
            let changes = if request.is_some() {
                self.breakpoints.functions.set(
                    requested,
                    |name| {
                        let at = resolved.iter().position(|(n, _)| n == name);
                        at.map(|i| resolved.swap_remove(i).1).unwrap_or(Resolved::Missing {
                            problem: format!("`{name}` was not resolved."),
                            ask_debuggee: false,
                        })
                    },
                    || breakpoints.allocate_id(),
                )
            } else {
                self.breakpoints.functions.refresh(
                    |name| {
                        let at = resolved.iter().position(|(n, _)| n == name);
                        at.map(|i| resolved.swap_remove(i).1).unwrap_or(Resolved::Missing {
                            problem: format!("`{name}` was not resolved."),
                            ask_debuggee: false,
                        })
                    },
                    || breakpoints.allocate_id(),
                )
            };
            if let Err(error) = self.send_function_changes(&changes).await {
                tracing::warn!(%error, "could not send function breakpoints");
            }
            if request.is_none() {
                self.announce_function_breakpoints(&changes).await;
            }
        }
        // One answer per requested name, in order (an older request answered after a newer
        // one was applied: its names as the newer list has them).
        if let Some(request) = request {
            let breakpoints: Vec<DapBreakpoint> = names
                .iter()
                .map(|name| match self.breakpoints.functions.entries().iter().find(|e| &e.name == name) {
                    Some(entry) => self.function_breakpoint_body(entry),
                    None => DapBreakpoint {
                        verified: false,
                        reason: Some(BreakpointReason::Failed),
                        message: Some("Replaced by a later setFunctionBreakpoints request.".to_owned()),
                        ..DapBreakpoint::default()
                    },
                })
                .collect();
            self.answer(&request, Ok(Some(SetBreakpointsResponseBody { breakpoints }.into()))).await;
        }
    }

    /// Sends `changes` to ptvsd, when attached.
    pub(super) async fn send_function_changes(&mut self, changes: &Changes) -> Result<(), String> {
        if !self.connection.is_up() {
            return Ok(());
        }
        for (id, line) in &changes.removed {
            // Twice: one remove may leave a second key behind (spec §6.6).
            self.send(Command::RemoveBreakpoint { id: *id, line: *line }).await?;
            self.send(Command::RemoveBreakpoint { id: *id, line: *line }).await?;
        }
        for site in &changes.added {
            let b = Breakpoint {
                id: site.id,
                line: site.line,
                condition: site.condition.clone(),
                hit_condition: site.hit_condition.clone(),
                log_message: None,
                state: BindState::Sent,
                message: None,
            };
            self.send_breakpoint(&site.remote_path, &b).await?;
        }
        Ok(())
    }

    /// On a new connection: every site goes to ptvsd again.
    pub(super) async fn resend_function_breakpoints(&mut self) {
        let changes = self.breakpoints.functions.resend_all();
        if let Err(error) = self.send_function_changes(&changes).await {
            tracing::warn!(%error, "could not send function breakpoints");
        }
    }

    /// `breakpoint` events for the function breakpoints whose sites changed.
    async fn announce_function_breakpoints(&mut self, changes: &Changes) {
        let mut ids: Vec<BreakpointId> = Vec::new();
        for site in &changes.added {
            if let Some(entry) = self.breakpoints.functions.by_site(site.id) {
                if !ids.contains(&entry.id) {
                    ids.push(entry.id);
                }
            }
        }
        for id in ids {
            self.announce_function_breakpoint(id).await;
        }
    }

    async fn announce_function_breakpoint(&mut self, id: BreakpointId) {
        let Some(entry) = self.breakpoints.functions.entries().iter().find(|e| e.id == id) else { return };
        let breakpoint =
            BreakpointEventBody { reason: "changed".to_owned(), breakpoint: self.function_breakpoint_body(entry) };
        self.send_event(&breakpoint).await;
    }

    /// BRKS/BRKF for a function breakpoint's site; `false` if `id` is not one.
    pub(super) async fn on_function_site_bind(&mut self, id: BreakpointId, state: BindState) -> bool {
        let Some(dap_id) = self.breakpoints.functions.mark(id, state) else { return false };
        self.announce_function_breakpoint(dap_id).await;
        true
    }

    /// The DAP id of the function breakpoint a hit site belongs to.
    pub(super) fn function_breakpoint_of_site(&self, id: BreakpointId) -> Option<BreakpointId> {
        self.breakpoints.functions.by_site(id).map(|e| e.id)
    }

    fn function_breakpoint_body(&self, e: &FunctionBreakpoint) -> DapBreakpoint {
        let mut body = DapBreakpoint { id: Some(e.id), verified: e.verified(), ..DapBreakpoint::default() };
        let first = e.sites.iter().find(|s| s.state == BindState::Bound).or(e.sites.first());
        if let Some(site) = first {
            let line = self.editor.client().line_to_editor(site.target.line);
            body.line = Some(line);
            if let Some(local) = &site.target.local_path {
                let path = local.to_string_lossy();
                body.source = Some(Source {
                    name: Some(file_name(&path).to_owned()),
                    path: Some(path.into_owned()),
                    ..Source::default()
                });
            }
        }
        if e.verified() {
            if e.sites.len() > 1 {
                let places: Vec<String> =
                    e.sites.iter().map(|s| format!("{}:{}", file_name(&s.target.remote_path), s.target.line)).collect();
                body.message =
                    Some(format!("Set in {} functions named like this: {}.", e.sites.len(), places.join(", ")));
            }
            return body;
        }
        let (message, reason) = match (&e.problem, e.sites.is_empty()) {
            (Some(problem), true) if e.lookup_pending => (problem.clone(), BreakpointReason::Pending),
            (Some(problem), true) => (problem.clone(), BreakpointReason::Failed),
            (_, true) => ("Not resolved yet.".to_string(), BreakpointReason::Pending),
            (_, false) if !self.connection.is_up() => {
                ("Not sent: not attached to a debuggee.".to_string(), BreakpointReason::Pending)
            }
            (_, false) if e.sites.iter().all(|s| s.state == BindState::Pending) => (
                "Pending: the module is not loaded yet; it binds when the module runs.".to_string(),
                BreakpointReason::Pending,
            ),
            (_, false) => {
                ("The debuggee has not confirmed this breakpoint yet.".to_string(), BreakpointReason::Pending)
            }
        };
        body.message = Some(message);
        body.reason = Some(reason);
        body
    }

    /// At a stop: asks the debuggee where the names not found locally are (once each), and
    /// re-resolves when a file a site is in has changed.
    pub(super) fn after_stop_for_functions(&mut self, thread: ThreadId) {
        let pending: Vec<(BreakpointId, String)> =
            self.breakpoints.functions.pending_lookups().map(|(id, n)| (id, n.to_string())).collect();
        if !pending.is_empty() {
            let kind = self.threads.get(thread).and_then(|t| t.frames.first()).map(|f| f.kind);
            if let Some(kind) = kind {
                for (id, name) in pending {
                    let Ok(parsed) = FunctionName::parse(&name) else { continue };
                    let job = Job::execute(lookup_expression(&parsed), 0, kind, ReprKind::Raw);
                    self.queue_work(thread, job, Waiter::FunctionLookup { id });
                }
            }
        }
        if self.breakpoints.resolver.idle() && self.function_sites_changed() {
            let requested = self
                .breakpoints
                .functions
                .entries()
                .iter()
                .map(|e| Requested {
                    name: e.name.clone(),
                    condition: e.condition.clone(),
                    hit_condition: e.hit_condition.clone(),
                    refused: None,
                })
                .collect();
            self.resolve_functions(None, requested);
        }
    }

    /// Whether a local file that holds a site changed since it was parsed.
    fn function_sites_changed(&self) -> bool {
        // Never waits: a resolution holding the index is itself reading the files again.
        let Ok(index) = self.breakpoints.resolver.index.try_lock() else { return false };
        self.breakpoints
            .functions
            .entries()
            .iter()
            .flat_map(|e| e.sites.iter())
            .filter_map(|s| s.target.local_path.as_deref())
            .any(|path| index.changed(path))
    }

    /// The debuggee's answer to a lookup.
    pub(super) async fn on_function_lookup(&mut self, id: BreakpointId, answer: Result<String, String>) {
        let answer = answer.and_then(|text| parse_lookup_result(&text)).map(|found| {
            let local_path =
                self.config.as_ref().and_then(|c| c.paths.try_to_local(&found.remote_path)).map(PathBuf::from);
            let local_path = local_path.filter(|p| p.is_file());
            Target { local_path, remote_path: found.remote_path, line: i64::from(found.line) }
        });
        let breakpoints = &mut self.breakpoints.source;
        let changes = self.breakpoints.functions.looked_up(id, answer, || breakpoints.allocate_id());
        if let Err(error) = self.send_function_changes(&changes).await {
            tracing::warn!(%error, "could not send a function breakpoint");
        }
        self.announce_function_breakpoint(id).await;
    }
}
