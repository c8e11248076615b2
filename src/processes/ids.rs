//! The ids a multi-process session shows the editor, and the breakpoints it merges.
//!
//! Owns: [`Ids`], the one encoding of a process's own ids (thread ids, frame ids,
//! `variablesReference`s, `sourceReference`s) into ids that never collide across
//! processes and say which process they belong to, and [`MergedBreakpoints`], the editor's
//! breakpoint ids over every process's own, with the merged state the editor sees (a
//! breakpoint is verified when any process bound it).
//! Must not know: sessions, channels or ptvsd; it is pure.
//!
//! The encoding is arithmetic, so no table grows with the session: a process's id `n ≥ 1`
//! is `n × count + index` for the process at `index` of `count`. `0` (DAP's "none" for
//! references) and negative ids are left as they are and belong to no process.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// The id encoding of a session of `count` processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    count: i64,
}

/// The largest id DAP clients written in JavaScript represent exactly (2^53 − 1).
const MAX_SAFE: i64 = (1 << 53) - 1;

impl Ids {
    /// `count` ≥ 1 processes.
    #[must_use]
    pub fn new(count: usize) -> Ids {
        Ids { count: i64::try_from(count.max(1)).unwrap_or(i64::MAX) }
    }

    /// Process `index`'s id `id` as the editor sees it; `0` and negative ids unchanged,
    /// `None` when the encoded id would not fit what an editor can represent.
    #[must_use]
    pub fn encode(&self, index: usize, id: i64) -> Option<i64> {
        if id <= 0 {
            return Some(id);
        }
        let index = i64::try_from(index).ok().filter(|i| *i < self.count)?;
        id.checked_mul(self.count)?.checked_add(index).filter(|v| *v <= MAX_SAFE)
    }

    /// The process and its own id behind an editor's id; `None` for `0`, negative ids and
    /// ids no process gave.
    #[must_use]
    pub fn decode(&self, id: i64) -> Option<(usize, i64)> {
        if id <= 0 {
            return None;
        }
        let inner = id / self.count;
        let index = usize::try_from(id % self.count).ok()?;
        (inner >= 1).then_some((index, inner))
    }

    /// Rewrites the integer at `value[key]` (when there is one) from process `index`'s id.
    pub fn encode_field(&self, index: usize, value: &mut Value, key: &str) {
        if let Some(id) = value.get(key).and_then(Value::as_i64) {
            // An id too large to encode cannot be told apart from another process's:
            // say "none" rather than point at the wrong process.
            value[key] = Value::from(self.encode(index, id).unwrap_or(0));
        }
    }

    /// `value.source.sourceReference`, when there is one.
    pub fn encode_source(&self, index: usize, value: &mut Value) {
        if let Some(source) = value.get_mut("source") {
            self.encode_field(index, source, "sourceReference");
        }
    }
}

/// Breakpoints as the editor sees them over every process: one editor id per breakpoint
/// the editor set, bound to each process's own id for it.
#[derive(Debug, Default)]
pub struct MergedBreakpoints {
    next_id: i64,
    /// (process, its own id) → the editor's id.
    by_process: HashMap<(usize, i64), i64>,
    /// The editor's id → each process's latest report of it (a DAP `Breakpoint`).
    reports: HashMap<i64, BTreeMap<usize, Value>>,
    /// The editor's ids of the last answer for each request key (a source, the function
    /// breakpoints, the exception filters), in the order of the answer.
    answers: HashMap<String, Vec<i64>>,
}

impl MergedBreakpoints {
    /// Merges the answers of several processes to one request (`key` names what it set:
    /// a source, the function breakpoints, …) that set `requested` breakpoints: the k-th
    /// breakpoint of every answer is the editor's k-th breakpoint (unverified while no
    /// process answered). Returns the merged list.
    pub fn merge_answers(&mut self, key: &str, requested: usize, answers: &[(usize, Vec<Value>)]) -> Vec<Value> {
        let length = answers.iter().map(|(_, list)| list.len()).max().unwrap_or(0).max(requested);
        let mut ids = Vec::with_capacity(length);
        for k in 0..length {
            let known = answers.iter().find_map(|(index, list)| {
                let own = list.get(k)?.get("id")?.as_i64()?;
                self.by_process.get(&(*index, own)).copied()
            });
            let id = known.unwrap_or_else(|| {
                self.next_id += 1;
                self.next_id
            });
            ids.push(id);
        }
        // What the editor no longer sets is forgotten.
        if let Some(old) = self.answers.insert(key.to_string(), ids.clone()) {
            for id in old.into_iter().filter(|id| !ids.contains(id)) {
                self.reports.remove(&id);
                self.by_process.retain(|_, editor| *editor != id);
            }
        }
        for (index, list) in answers {
            self.by_process.retain(|(process, _), editor| *process != *index || !ids.contains(editor));
            for (k, report) in list.iter().enumerate() {
                self.record(*index, ids[k], report);
            }
        }
        ids.iter().map(|id| self.merged(*id)).collect()
    }

    /// A late answer of one process to a request already answered for the editor (a
    /// process that attached later, or attached again): binds its ids to the editor's.
    /// Returns the breakpoints whose merged state changed.
    pub fn late_answer(&mut self, key: &str, index: usize, answer: &[Value]) -> Vec<Value> {
        let Some(ids) = self.answers.get(key).cloned() else { return Vec::new() };
        self.by_process.retain(|(process, _), editor| *process != index || !ids.contains(editor));
        let mut changed = Vec::new();
        for (id, report) in ids.iter().zip(answer) {
            let before = self.merged(*id);
            self.record(index, *id, report);
            let after = self.merged(*id);
            if after != before {
                changed.push(after);
            }
        }
        changed
    }

    /// A process reported a change of its breakpoint `report` (a `breakpoint` event):
    /// the merged breakpoint when it changed for the editor.
    pub fn changed(&mut self, index: usize, report: &Value) -> Option<Value> {
        let own = report.get("id")?.as_i64()?;
        let id = *self.by_process.get(&(index, own))?;
        let before = self.merged(id);
        self.record(index, id, report);
        let after = self.merged(id);
        (after != before).then_some(after)
    }

    /// The editor's id of process `index`'s breakpoint `own`.
    #[must_use]
    pub fn editor_id(&self, index: usize, own: i64) -> Option<i64> {
        self.by_process.get(&(index, own)).copied()
    }

    /// A process is gone: its reports no longer count. Returns the breakpoints whose
    /// merged state changed.
    pub fn forget_process(&mut self, index: usize) -> Vec<Value> {
        self.by_process.retain(|(process, _), _| *process != index);
        let ids: Vec<i64> = self.reports.iter().filter(|(_, r)| r.contains_key(&index)).map(|(id, _)| *id).collect();
        let mut changed = Vec::new();
        for id in ids {
            let before = self.merged(id);
            if let Some(reports) = self.reports.get_mut(&id) {
                reports.remove(&index);
            }
            let after = self.merged(id);
            if after != before && self.reports.get(&id).is_some_and(|r| !r.is_empty()) {
                changed.push(after);
            }
        }
        changed
    }

    fn record(&mut self, index: usize, id: i64, report: &Value) {
        if let Some(own) = report.get("id").and_then(Value::as_i64) {
            self.by_process.insert((index, own), id);
        }
        self.reports.entry(id).or_default().insert(index, report.clone());
    }

    /// The editor's view of breakpoint `id`: the first process's report that is verified,
    /// else the first report; with the editor's id. Source references inside are left to
    /// the caller (they were encoded per process before they got here).
    fn merged(&self, id: i64) -> Value {
        let reports = self.reports.get(&id);
        let chosen = reports
            .and_then(|r| {
                r.values().find(|b| b.get("verified") == Some(&Value::Bool(true))).or_else(|| r.values().next())
            })
            .cloned();
        let mut merged = chosen.unwrap_or_else(|| serde_json::json!({ "verified": false }));
        merged["id"] = Value::from(id);
        merged
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_of_different_processes_never_collide_and_decode_to_their_process() {
        let ids = Ids::new(3);
        let mut seen = std::collections::HashSet::new();
        for index in 0..3 {
            for own in 1..100 {
                let outer = ids.encode(index, own).unwrap();
                assert!(seen.insert(outer), "{outer} given twice");
                assert_eq!(ids.decode(outer), Some((index, own)));
            }
        }
        assert_eq!(ids.encode(1, 0), Some(0));
        assert_eq!(ids.decode(0), None);
        assert_eq!(ids.decode(-4), None);
        assert_eq!(ids.decode(2), None, "below count: no process gave it");
        assert_eq!(ids.encode(3, 1), None, "no such process");
        assert_eq!(ids.encode(0, MAX_SAFE), None, "beyond what an editor represents");
    }

    #[test]
    fn a_breakpoint_is_verified_when_any_process_bound_it() {
        let mut merged = MergedBreakpoints::default();
        let answers = vec![
            (0, vec![json!({ "id": 5, "verified": false, "message": "not loaded" })]),
            (1, vec![json!({ "id": 7, "verified": true, "line": 12 })]),
        ];
        let list = merged.merge_answers("a.py", 1, &answers);
        assert_eq!(list, vec![json!({ "id": 1, "verified": true, "line": 12 })]);
        // Process 0 binds it too: nothing changes for the editor.
        assert_eq!(merged.changed(0, &json!({ "id": 5, "verified": true, "line": 12 })), None);
        // Process 1 is gone: process 0's report stands.
        assert!(merged.forget_process(1).is_empty());
        // The same breakpoint set again keeps its id.
        let again = merged.merge_answers("a.py", 1, &[(0, vec![json!({ "id": 5, "verified": true, "line": 12 })])]);
        assert_eq!(again[0]["id"], 1);
    }

    #[test]
    fn a_late_process_binds_to_the_editors_ids_and_reports_only_changes() {
        let mut merged = MergedBreakpoints::default();
        merged.merge_answers(
            "a.py",
            2,
            &[(0, vec![json!({ "id": 1, "verified": false }), json!({ "id": 2, "verified": true })])],
        );
        let changed = merged.late_answer(
            "a.py",
            1,
            &[json!({ "id": 9, "verified": true }), json!({ "id": 10, "verified": true })],
        );
        assert_eq!(changed, vec![json!({ "id": 1, "verified": true })]);
        assert_eq!(
            merged.changed(1, &json!({ "id": 9, "verified": false })),
            Some(json!({ "id": 1, "verified": false }))
        );
        assert_eq!(merged.changed(1, &json!({ "id": 99, "verified": true })), None, "unknown ids are ignored");
    }

    #[test]
    fn breakpoints_the_editor_removed_are_forgotten() {
        let mut merged = MergedBreakpoints::default();
        merged.merge_answers("a.py", 1, &[(0, vec![json!({ "id": 1, "verified": true })])]);
        let list = merged.merge_answers("a.py", 0, &[(0, vec![])]);
        assert!(list.is_empty());
        assert_eq!(merged.changed(0, &json!({ "id": 1, "verified": false })), None);
    }

    #[test]
    fn breakpoints_set_before_any_process_attached_get_ids_and_bind_later() {
        let mut merged = MergedBreakpoints::default();
        let list = merged.merge_answers("a.py", 2, &[]);
        assert_eq!(list, vec![json!({ "id": 1, "verified": false }), json!({ "id": 2, "verified": false })]);
        let changed = merged.late_answer(
            "a.py",
            0,
            &[json!({ "id": 3, "verified": true }), json!({ "id": 4, "verified": false })],
        );
        assert_eq!(changed, vec![json!({ "id": 1, "verified": true })]);
        assert_eq!(merged.editor_id(0, 4), Some(2));
    }
}
