//! Source breakpoints: what the editor asked for, what ptvsd was told, and what bound.
//!
//! Owns: [`Breakpoints`]: per local file, the editor's breakpoints with stable ids (a
//! breakpoint on the same line keeps its id across `setBreakpoints` calls), the ptvsd id
//! space (random-based, so stale ids from older sessions cannot collide: spec §4.8), and
//! the bound/pending state from BRKS/BRKF. Also [`parse_hit_condition`]. Must not know:
//! DAP messages or the wire.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::legacy::messages::{BreakpointId, PassCountKind};

/// Bound state reported by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindState {
    /// Sent, no answer yet.
    Sent,
    /// BRKS: the module is loaded.
    Bound,
    /// BRKF: pending until the module runs.
    Pending,
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
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos() as i64 ^ d.as_secs() as i64).unwrap_or(0);
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
}

impl Breakpoints {
    /// Replaces the breakpoints of `local_path`; ids are kept for lines already set.
    pub fn set(&mut self, local_path: &str, remote_path: &str, requested: Vec<Requested>) -> Changes {
        let old = self.files.remove(local_path).unwrap_or_default();
        let mut old_entries = old.entries;
        let mut changes = Changes::default();
        let mut entries = Vec::new();
        for r in requested {
            let existing = old_entries.iter().position(|b| b.line == r.line).map(|i| old_entries.remove(i));
            let entry = match existing {
                Some(mut b) if old.remote_path == remote_path => {
                    if b.condition != r.condition || b.hit_condition != r.hit_condition {
                        b.condition = r.condition;
                        b.hit_condition = r.hit_condition;
                        changes.changed.push(b.clone());
                    }
                    b.log_message = r.log_message;
                    b
                }
                other => {
                    if let Some(b) = other {
                        changes.removed.push(b);
                    }
                    let b = Breakpoint { id: self.next_id, line: r.line, condition: r.condition, hit_condition: r.hit_condition, log_message: r.log_message, state: BindState::Sent };
                    self.next_id += 1;
                    changes.added.push(b.clone());
                    b
                }
            };
            entries.push(entry);
        }
        changes.removed.extend(old_entries);
        if !entries.is_empty() {
            self.files.insert(local_path.to_string(), FileBreakpoints { remote_path: remote_path.to_string(), entries });
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

    /// Every breakpoint, for sending them all after attach.
    pub fn all(&self) -> impl Iterator<Item = (&FileBreakpoints, &Breakpoint)> {
        self.files.values().flat_map(|f| f.entries.iter().map(move |b| (f, b)))
    }
}

/// Parses a DAP `hitCondition` into ptvsd's pass-count kind and count.
/// `N` and `== N` stop on the N-th hit, `>= N` from the N-th on, `> N` after the N-th,
/// `% N` on every N-th. A count of 0 is refused: pass count 0 with "every N-th" crashes
/// the debuggee (spec §3.2), and 0 means nothing useful for the others.
pub fn parse_hit_condition(text: &str) -> Result<(PassCountKind, i64), String> {
    let t = text.trim();
    let (kind, number, offset) = if let Some(rest) = t.strip_prefix(">=") {
        (PassCountKind::WhenAtLeast, rest, 0)
    } else if let Some(rest) = t.strip_prefix("==") {
        (PassCountKind::WhenEqual, rest, 0)
    } else if let Some(rest) = t.strip_prefix('>') {
        (PassCountKind::WhenAtLeast, rest, 1)
    } else if let Some(rest) = t.strip_prefix('%') {
        (PassCountKind::EveryNth, rest, 0)
    } else {
        (PassCountKind::WhenEqual, t, 0)
    };
    let usage = "use N, == N, >= N, > N or % N with a whole number N of at least 1";
    let n: i64 = number.trim().parse().map_err(|_| format!("hit condition {text:?} is not understood: {usage}"))?;
    if n < 1 {
        return Err(format!("hit condition {text:?} needs a count of at least 1: {usage}"));
    }
    Ok((kind, n.saturating_add(offset)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req(line: i64, condition: Option<&str>) -> Requested {
        Requested { line, condition: condition.map(String::from), hit_condition: None, log_message: None }
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
        assert!(parse_hit_condition("% 0").is_err());
        assert!(parse_hit_condition("0").is_err());
        assert!(parse_hit_condition("often").is_err());
    }
}
