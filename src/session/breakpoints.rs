//! Source breakpoints: what the editor asked for, what ptvsd was told, and what bound.
//!
//! Owns: [`Breakpoints`]: per local file, the editor's breakpoints with stable ids (a
//! breakpoint on the same line keeps its id across `setBreakpoints` calls), the ptvsd id
//! space (random-based, so stale ids from older sessions cannot collide: spec §4.8), and
//! the bound/pending state from BRKS/BRKF, and breakpoints refused before they reach ptvsd
//! (a hit condition it cannot express). Also [`parse_hit_condition`] and [`is_template`].
//! Must not know: DAP messages or the wire.
//!
//! Also the session's breakpoints component, `BreakpointState`: the source breakpoints,
//! the function breakpoints with their resolver's state, and the `setBreakpoints`
//! requests waiting for their binding (it holds those requests; the model above does
//! not look into them).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::function_breakpoints::FunctionBreakpoints;
use super::function_requests::FunctionState;
use crate::dap::types::Request;
use crate::legacy::messages::{BreakpointId, PassCountKind};

/// The session's breakpoints component: the source breakpoints, the function breakpoints
/// and their resolver's state, and the `setBreakpoints` requests waiting for their binding.
#[derive(Debug, Default)]
pub(super) struct BreakpointState {
    /// Source breakpoints (and the ptvsd id space, which function breakpoints' sites share).
    pub(super) source: Breakpoints,
    /// Function breakpoints and their sites.
    pub(super) functions: FunctionBreakpoints,
    /// The resolver of function names: its cache and which resolution is the latest.
    pub(super) resolver: FunctionState,
    /// `setBreakpoints` requests waiting for BRKS/BRKF of the ids they added.
    bind_waits: Vec<BindWait>,
}

/// A `setBreakpoints` waiting for BRKS/BRKF of the ids it added.
#[derive(Debug)]
pub(super) struct BindWait {
    pub(super) request: Request,
    pub(super) local_path: String,
    pub(super) waiting: Vec<i64>,
    pub(super) deadline: Instant,
}

impl BreakpointState {
    /// A `setBreakpoints` answered once its ids are bound (or at its deadline).
    pub(super) fn wait_for_binds(&mut self, wait: BindWait) {
        self.bind_waits.push(wait);
    }

    /// When the first bind wait times out.
    pub(super) fn bind_deadline(&self) -> Option<Instant> {
        self.bind_waits.iter().map(|w| w.deadline).min()
    }

    /// The bind waits whose deadline passed by `now`, taken.
    pub(super) fn expired_binds(&mut self, now: Instant) -> Vec<BindWait> {
        let (due, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.bind_waits).into_iter().partition(|w| w.deadline <= now);
        self.bind_waits = keep;
        due
    }

    /// Every bind wait, taken (the connection or the session ended).
    pub(super) fn take_bind_waits(&mut self) -> Vec<BindWait> {
        std::mem::take(&mut self.bind_waits)
    }

    /// Breakpoint `id` bound or failed: whether a bind wait was waiting for it, and the
    /// waits that now know all their ids (taken, to be answered in this order: the last
    /// queued first).
    pub(super) fn bound(&mut self, id: i64) -> (bool, Vec<BindWait>) {
        let mut answered = false;
        let mut done = Vec::new();
        for (i, wait) in self.bind_waits.iter_mut().enumerate() {
            if let Some(pos) = wait.waiting.iter().position(|w| *w == id) {
                wait.waiting.remove(pos);
                answered = true;
                if wait.waiting.is_empty() {
                    done.push(i);
                }
            }
        }
        let done = done.into_iter().rev().map(|i| self.bind_waits.remove(i)).collect();
        (answered, done)
    }
}

/// Bound state reported by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindState {
    /// Sent, no answer yet.
    Sent,
    /// BRKS: the module is loaded.
    Bound,
    /// BRKF: pending until the module runs.
    Pending,
    /// Never sent: the adapter refused it (see [`Breakpoint::message`]).
    Refused,
}

/// One breakpoint the editor set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakpoint {
    pub id: BreakpointId,
    pub line: i64,
    pub condition: Option<String>,
    pub hit_condition: Option<String>,
    pub log_message: Option<String>,
    pub state: BindState,
    /// Why it was refused ([`BindState::Refused`]).
    pub message: Option<String>,
}

impl Breakpoint {
    /// A logpoint: ptvsd stops, the adapter logs and resumes.
    pub fn is_logpoint(&self) -> bool {
        self.log_message.as_deref().is_some_and(|m| !m.is_empty())
    }
}

/// The breakpoints of one local file.
#[derive(Debug, Clone, Default)]
pub struct FileBreakpoints {
    /// The path the debuggee knows the file by.
    pub remote_path: String,
    pub entries: Vec<Breakpoint>,
}

/// All source breakpoints, by local path.
#[derive(Debug)]
pub struct Breakpoints {
    files: HashMap<String, FileBreakpoints>,
    next_id: BreakpointId,
}

impl Default for Breakpoints {
    fn default() -> Self {
        // DAP breakpoint ids are int32: a random block of 2^20 ids below 2^31, so stale
        // ids from earlier sessions (pending breakpoints survive a detach) rarely collide.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as i64 ^ d.as_secs() as i64)
            .unwrap_or(0);
        let base = ((nanos ^ i64::from(std::process::id())) & 0x7FE) << 20;
        Self { files: HashMap::new(), next_id: base + 1 }
    }
}

/// What must change on the server after a `setBreakpoints`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<Breakpoint>,
    pub removed: Vec<Breakpoint>,
    /// Same id and line, different condition or hit condition.
    pub changed: Vec<Breakpoint>,
}

/// A requested breakpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub line: i64,
    pub condition: Option<String>,
    pub hit_condition: Option<String>,
    pub log_message: Option<String>,
    /// Why the adapter will not send it; it is reported unverified with this message.
    pub refused: Option<String>,
}

impl Breakpoints {
    /// A fresh id from this id space, for breakpoints kept elsewhere (function breakpoints
    /// and their sites), so that no two breakpoints ptvsd holds share an id.
    pub fn allocate_id(&mut self) -> BreakpointId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Replaces the breakpoints of `local_path`; ids are kept for lines already set.
    pub fn set(&mut self, local_path: &str, remote_path: &str, requested: Vec<Requested>) -> Changes {
        let old = self.files.remove(local_path).unwrap_or_default();
        let mut old_entries = old.entries;
        let mut changes = Changes::default();
        let mut entries = Vec::new();
        for r in requested {
            let existing = old_entries.iter().position(|b| b.line == r.line).map(|i| old_entries.remove(i));
            let refused = r.refused.is_some();
            let entry = match existing {
                // Same line, and still sent (or still refused): keep the id.
                Some(mut b) if old.remote_path == remote_path && (b.state == BindState::Refused) == refused => {
                    if b.condition != r.condition || b.hit_condition != r.hit_condition {
                        b.condition = r.condition;
                        b.hit_condition = r.hit_condition;
                        if !refused {
                            changes.changed.push(b.clone());
                        }
                    }
                    b.message = r.refused;
                    b.log_message = r.log_message;
                    b
                }
                other => {
                    if let Some(b) = other {
                        changes.removed.push(b);
                    }
                    let state = if refused { BindState::Refused } else { BindState::Sent };
                    let b = Breakpoint {
                        id: self.next_id,
                        line: r.line,
                        condition: r.condition,
                        hit_condition: r.hit_condition,
                        log_message: r.log_message,
                        state,
                        message: r.refused,
                    };
                    self.next_id += 1;
                    if !refused {
                        changes.added.push(b.clone());
                    }
                    b
                }
            };
            entries.push(entry);
        }
        changes.removed.extend(old_entries);
        if !entries.is_empty() {
            self.files
                .insert(local_path.to_string(), FileBreakpoints { remote_path: remote_path.to_string(), entries });
        }
        changes
    }

    pub fn file(&self, local_path: &str) -> Option<&FileBreakpoints> {
        self.files.get(local_path)
    }

    /// Records BRKS/BRKF; returns the local path and the breakpoint if the id is ours.
    pub fn mark(&mut self, id: BreakpointId, state: BindState) -> Option<(String, Breakpoint)> {
        for (path, file) in &mut self.files {
            if let Some(b) = file.entries.iter_mut().find(|b| b.id == id) {
                b.state = state;
                return Some((path.clone(), b.clone()));
            }
        }
        None
    }

    pub fn find(&self, id: BreakpointId) -> Option<(&str, &Breakpoint)> {
        self.files.iter().find_map(|(path, f)| f.entries.iter().find(|b| b.id == id).map(|b| (path.as_str(), b)))
    }

    /// Every breakpoint, for sending them all after attach (refused ones included: the
    /// caller skips them).
    pub fn all(&self) -> impl Iterator<Item = (&FileBreakpoints, &Breakpoint)> {
        self.files.values().flat_map(|f| f.entries.iter().map(move |b| (f, b)))
    }
}

/// Whether a file is a Django template: its breakpoints use ptvsd's Django commands
/// (spec §4.2), which have no conditions and no bind events.
pub fn is_template(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".html", ".htm", ".djt", ".djhtml"].iter().any(|ext| lower.ends_with(ext))
}

/// Parses a DAP `hitCondition` into ptvsd's pass-count kind and count, with debugpy's
/// (and VS Code's js-debug) meanings, counting hits from 1 (only hits whose condition
/// passed count, spec §3.2): `N`, `== N` (also `=`, `===`) stop on the N-th hit only,
/// `>= N` on the N-th and every later one, `> N` after the N-th, `% N` on every N-th
/// (N, 2N, …). ptvsd has no "fewer than N", so `< N` and `<= N` are refused, as is a count
/// of 0: pass count 0 with "every N-th" crashes the debuggee (spec §3.2), and 0 means
/// nothing useful for the others.
pub fn parse_hit_condition(text: &str) -> Result<(PassCountKind, i64), String> {
    let t = text.trim();
    let usage = "use N, == N, >= N, > N or % N with a whole number N of at least 1";
    if t.starts_with('<') {
        return Err(format!(
            "hit condition {text:?} cannot be expressed in ptvsd, which has no \"fewer than N hits\": {usage}"
        ));
    }
    let (kind, number, offset) = if let Some(rest) = t.strip_prefix(">=") {
        (PassCountKind::WhenAtLeast, rest, 0)
    } else if let Some(rest) = t.strip_prefix("===").or_else(|| t.strip_prefix("==")).or_else(|| t.strip_prefix('=')) {
        (PassCountKind::WhenEqual, rest, 0)
    } else if let Some(rest) = t.strip_prefix('>') {
        (PassCountKind::WhenAtLeast, rest, 1)
    } else if let Some(rest) = t.strip_prefix('%') {
        (PassCountKind::EveryNth, rest, 0)
    } else {
        (PassCountKind::WhenEqual, t, 0)
    };
    let number = number.trim();
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("hit condition {text:?} is not understood: {usage}"));
    }
    let n: i64 =
        number.parse().map_err(|_| format!("hit condition {text:?} has a count that is too large: {usage}"))?;
    if n < 1 {
        return Err(format!("hit condition {text:?} needs a count of at least 1: {usage}"));
    }
    Ok((kind, n.saturating_add(offset)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bind_wait(seq: i64, waiting: Vec<i64>) -> BindWait {
        BindWait {
            request: Request { seq, command: "setBreakpoints".to_string(), arguments: None },
            local_path: "app.py".to_string(),
            waiting,
            deadline: Instant::now(),
        }
    }

    #[test]
    fn bind_waits_are_answered_once_all_their_ids_are_known() {
        let mut state = BreakpointState::default();
        state.wait_for_binds(bind_wait(1, vec![10, 11]));
        state.wait_for_binds(bind_wait(2, vec![11]));
        state.wait_for_binds(bind_wait(3, vec![11, 12]));
        let (answered, done) = state.bound(11);
        assert!(answered);
        assert_eq!(done.iter().map(|w| w.request.seq).collect::<Vec<_>>(), vec![2]);
        let (answered, done) = state.bound(99);
        assert!(!answered && done.is_empty());
        let (_, done) = state.bound(10);
        assert_eq!(done.iter().map(|w| w.request.seq).collect::<Vec<_>>(), vec![1]);
        assert_eq!(state.take_bind_waits().len(), 1);
        assert!(state.bind_deadline().is_none());
    }

    fn req(line: i64, condition: Option<&str>) -> Requested {
        Requested {
            line,
            condition: condition.map(String::from),
            hit_condition: None,
            log_message: None,
            refused: None,
        }
    }

    #[test]
    fn ids_are_stable_per_line_and_changes_are_minimal() {
        let mut b = Breakpoints::default();
        let c = b.set("/l/a.py", "/r/a.py", vec![req(3, None), req(7, None)]);
        assert_eq!(c.added.len(), 2);
        let id7 = c.added[1].id;
        let c = b.set("/l/a.py", "/r/a.py", vec![req(7, Some("x > 1")), req(9, None)]);
        assert_eq!(c.added.iter().map(|b| b.line).collect::<Vec<_>>(), vec![9]);
        assert_eq!(c.removed.iter().map(|b| b.line).collect::<Vec<_>>(), vec![3]);
        assert_eq!(c.changed.len(), 1);
        assert_eq!(c.changed[0].id, id7);
        let c = b.set("/l/a.py", "/r/a.py", vec![]);
        assert_eq!(c.removed.len(), 2);
        assert!(b.file("/l/a.py").is_none());
    }

    #[test]
    fn ids_fit_in_int32() {
        for _ in 0..100 {
            let mut b = Breakpoints::default();
            let c = b.set("/a.py", "/a.py", vec![req(1, None)]);
            assert!(c.added[0].id > 0 && c.added[0].id < i64::from(i32::MAX) - (1 << 20), "{}", c.added[0].id);
        }
    }

    #[test]
    fn hit_conditions() {
        assert_eq!(parse_hit_condition("5"), Ok((PassCountKind::WhenEqual, 5)));
        assert_eq!(parse_hit_condition("== 2"), Ok((PassCountKind::WhenEqual, 2)));
        assert_eq!(parse_hit_condition(">= 3"), Ok((PassCountKind::WhenAtLeast, 3)));
        assert_eq!(parse_hit_condition("> 3"), Ok((PassCountKind::WhenAtLeast, 4)));
        assert_eq!(parse_hit_condition("%2"), Ok((PassCountKind::EveryNth, 2)));
        assert_eq!(parse_hit_condition("=4"), Ok((PassCountKind::WhenEqual, 4)));
        assert_eq!(parse_hit_condition("=== 4"), Ok((PassCountKind::WhenEqual, 4)));
        assert!(parse_hit_condition("% 0").is_err());
        assert!(parse_hit_condition("0").is_err());
        assert!(parse_hit_condition("often").is_err());
        assert!(parse_hit_condition("< 3").unwrap_err().contains("fewer than"));
        assert!(parse_hit_condition("<= 3").is_err());
        assert!(parse_hit_condition("-1").is_err());
        assert!(parse_hit_condition("+1").is_err());
        assert!(parse_hit_condition("99999999999999999999").is_err());
        assert!(parse_hit_condition("").is_err());
    }

    #[test]
    fn refused_breakpoints_are_kept_but_never_sent() {
        let mut b = Breakpoints::default();
        let mut bad = req(3, None);
        bad.refused = Some("no".into());
        let c = b.set("/l/a.py", "/r/a.py", vec![bad.clone(), req(5, None)]);
        assert_eq!(c.added.iter().map(|b| b.line).collect::<Vec<_>>(), vec![5]);
        let entries = &b.file("/l/a.py").unwrap().entries;
        assert_eq!(entries[0].state, BindState::Refused);
        assert_eq!(entries[0].message.as_deref(), Some("no"));
        let refused_id = entries[0].id;
        // Still refused: same id, nothing to send.
        let c = b.set("/l/a.py", "/r/a.py", vec![bad, req(5, None)]);
        assert_eq!(c, Changes::default());
        assert_eq!(b.file("/l/a.py").unwrap().entries[0].id, refused_id);
        // Now acceptable: a new breakpoint goes out.
        let c = b.set("/l/a.py", "/r/a.py", vec![req(3, None), req(5, None)]);
        assert_eq!(c.added.len(), 1);
        assert_eq!(c.removed.len(), 1);
        assert_eq!(c.removed[0].state, BindState::Refused);
        // And refused again: the sent one is removed, nothing added.
        let mut bad = req(3, None);
        bad.refused = Some("no".into());
        let c = b.set("/l/a.py", "/r/a.py", vec![bad, req(5, None)]);
        assert!(c.added.is_empty());
        assert_eq!(c.removed.len(), 1);
        assert_ne!(c.removed[0].state, BindState::Refused);
    }

    #[test]
    fn templates() {
        assert!(is_template("/srv/app/templates/index.html"));
        assert!(is_template(r"D:\site\templates\Page.DJT"));
        assert!(!is_template("/srv/app/views.py"));
    }
}
