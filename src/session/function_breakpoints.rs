//! Function breakpoints: the editor's list, where each one landed, and what ptvsd was told.
//!
//! Owns: [`FunctionBreakpoints`]: per name the editor set, its DAP id (kept while the name
//! stays in the list), its condition and hit condition, the line breakpoints it became
//! ([`Site`]s: one per matching definition, each with its own ptvsd id and bind state) or
//! why it has none, and whether it waits for the debuggee lookup (a stopped frame). Every
//! change comes back as the [`Changes`] to send, so ptvsd always holds exactly the sites
//! listed here.
//!
//! Must not know: DAP messages, the wire, or how a name is resolved and a path mapped (the
//! caller passes the resolution: `session::functions` and the path mapper).

use std::path::PathBuf;

use crate::legacy::messages::BreakpointId;

use super::breakpoints::BindState;

/// A function breakpoint as the editor sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub name: String,
    pub condition: Option<String>,
    pub hit_condition: Option<String>,
    /// Why the adapter will not send it (a hit condition ptvsd cannot express).
    pub refused: Option<String>,
}

/// Where a name resolved to, as the session hands it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `None` when only the debuggee knows the file (the lookup fallback, unmapped path).
    pub local_path: Option<PathBuf>,
    /// The path ptvsd knows the file by.
    pub remote_path: String,
    pub line: i64,
}

/// One line breakpoint a function breakpoint became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The ptvsd breakpoint id (not the DAP id).
    pub id: BreakpointId,
    pub target: Target,
    pub state: BindState,
}

/// One function breakpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionBreakpoint {
    /// The DAP id the editor knows it by.
    pub id: BreakpointId,
    pub name: String,
    pub condition: Option<String>,
    pub hit_condition: Option<String>,
    pub sites: Vec<Site>,
    /// Why it has no site (not found, no statement to stop on, refused, bad name).
    pub problem: Option<String>,
    /// Not found in the local sources: to be looked up in the debuggee at the next stop.
    pub lookup_pending: bool,
    refused: bool,
}

impl FunctionBreakpoint {
    /// Verified when some site is bound in the debuggee.
    #[must_use]
    pub fn verified(&self) -> bool {
        self.sites.iter().any(|s| s.state == BindState::Bound)
    }
}

/// A line breakpoint to set in ptvsd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteToSet {
    pub id: BreakpointId,
    pub remote_path: String,
    pub line: i64,
    pub condition: Option<String>,
    pub hit_condition: Option<String>,
}

/// What must change in ptvsd.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<SiteToSet>,
    /// (ptvsd id, line) of sites to remove.
    pub removed: Vec<(BreakpointId, i64)>,
}

impl Changes {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// How a name resolved: targets, or the sentence why there are none and whether the
/// debuggee should be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Targets(Vec<Target>),
    Missing { problem: String, ask_debuggee: bool },
}

/// All function breakpoints, in the editor's order.
#[derive(Debug, Default)]
pub struct FunctionBreakpoints {
    entries: Vec<FunctionBreakpoint>,
}

impl FunctionBreakpoints {
    /// Replaces the list. A name already set keeps its DAP id; its sites are resolved
    /// again with `resolve` (so a `setFunctionBreakpoints` also picks up changed files).
    /// `next_id` hands out ids from the source breakpoints' id space.
    pub fn set(
        &mut self,
        requested: Vec<Requested>,
        mut resolve: impl FnMut(&str) -> Resolved,
        mut next_id: impl FnMut() -> BreakpointId,
    ) -> Changes {
        let mut old = std::mem::take(&mut self.entries);
        let mut changes = Changes::default();
        for r in requested {
            let name = r.name.trim().to_string();
            let existing = old.iter().position(|e| e.name == name).map(|i| old.remove(i));
            let mut entry = match existing {
                Some(mut e) => {
                    if e.condition != r.condition
                        || e.hit_condition != r.hit_condition
                        || e.refused != r.refused.is_some()
                    {
                        // ptvsd keeps a breakpoint's condition: set the sites again.
                        changes.removed.extend(e.sites.drain(..).map(|s| (s.id, s.target.line)));
                        e.condition = r.condition;
                        e.hit_condition = r.hit_condition;
                    }
                    e.refused = r.refused.is_some();
                    e
                }
                None => FunctionBreakpoint {
                    id: next_id(),
                    name,
                    condition: r.condition,
                    hit_condition: r.hit_condition,
                    sites: Vec::new(),
                    problem: None,
                    lookup_pending: false,
                    refused: r.refused.is_some(),
                },
            };
            let resolution = match r.refused {
                Some(problem) => Resolved::Missing { problem, ask_debuggee: false },
                None => resolve(&entry.name),
            };
            apply(&mut entry, resolution, &mut next_id, &mut changes);
            self.entries.push(entry);
        }
        for gone in old {
            changes.removed.extend(gone.sites.into_iter().map(|s| (s.id, s.target.line)));
        }
        changes
    }

    /// Resolves every entry again (a file changed); same rules as [`FunctionBreakpoints::set`].
    pub fn refresh(
        &mut self,
        mut resolve: impl FnMut(&str) -> Resolved,
        mut next_id: impl FnMut() -> BreakpointId,
    ) -> Changes {
        let mut changes = Changes::default();
        for entry in &mut self.entries {
            if entry.refused || entry.sites.iter().any(|s| s.target.local_path.is_none()) {
                // Refused stays refused; what the debuggee told us has no local file to re-read.
                continue;
            }
            let resolution = resolve(&entry.name);
            apply(entry, resolution, &mut next_id, &mut changes);
        }
        changes
    }

    /// The names waiting for the debuggee lookup, with their DAP ids.
    pub fn pending_lookups(&self) -> impl Iterator<Item = (BreakpointId, &str)> {
        self.entries.iter().filter(|e| e.lookup_pending).map(|e| (e.id, e.name.as_str()))
    }

    /// The debuggee's answer for the breakpoint with DAP id `id`: a target, or why not.
    /// Either way it is not asked again until the list changes.
    pub fn looked_up(
        &mut self,
        id: BreakpointId,
        answer: Result<Target, String>,
        mut next_id: impl FnMut() -> BreakpointId,
    ) -> Changes {
        let mut changes = Changes::default();
        let Some(entry) = self.entries.iter_mut().find(|e| e.id == id && e.lookup_pending) else { return changes };
        entry.lookup_pending = false;
        match answer {
            Ok(target) => apply(entry, Resolved::Targets(vec![target]), &mut next_id, &mut changes),
            Err(problem) => entry.problem = Some(problem),
        }
        changes
    }

    /// Records ptvsd's BRKS/BRKF for a site; the DAP id of its function breakpoint.
    pub fn mark(&mut self, site_id: BreakpointId, state: BindState) -> Option<BreakpointId> {
        self.entries.iter_mut().find_map(|e| {
            let site = e.sites.iter_mut().find(|s| s.id == site_id)?;
            site.state = state;
            Some(e.id)
        })
    }

    /// The function breakpoint a site belongs to.
    #[must_use]
    pub fn by_site(&self, site_id: BreakpointId) -> Option<&FunctionBreakpoint> {
        self.entries.iter().find(|e| e.sites.iter().any(|s| s.id == site_id))
    }

    /// Every site to set again on a new connection (reconnect), all marked unconfirmed.
    pub fn resend_all(&mut self) -> Changes {
        let mut changes = Changes::default();
        for entry in &mut self.entries {
            for site in &mut entry.sites {
                site.state = BindState::Sent;
                changes.added.push(to_set(entry.condition.as_ref(), entry.hit_condition.as_ref(), site));
            }
        }
        changes
    }

    /// In the editor's order.
    #[must_use]
    pub fn entries(&self) -> &[FunctionBreakpoint] {
        &self.entries
    }
}

fn to_set(condition: Option<&String>, hit_condition: Option<&String>, site: &Site) -> SiteToSet {
    SiteToSet {
        id: site.id,
        remote_path: site.target.remote_path.clone(),
        line: site.target.line,
        condition: condition.cloned(),
        hit_condition: hit_condition.cloned(),
    }
}

/// Makes `entry`'s sites those of `resolution`: kept sites keep their id and state, new
/// ones get ids and go into `changes.added`, dropped ones into `changes.removed`.
fn apply(
    entry: &mut FunctionBreakpoint,
    resolution: Resolved,
    next_id: &mut impl FnMut() -> BreakpointId,
    changes: &mut Changes,
) {
    let targets = match resolution {
        Resolved::Targets(targets) => {
            entry.problem = None;
            entry.lookup_pending = false;
            targets
        }
        Resolved::Missing { problem, ask_debuggee } => {
            entry.problem = Some(problem);
            entry.lookup_pending = ask_debuggee;
            Vec::new()
        }
    };
    let mut old = std::mem::take(&mut entry.sites);
    for target in targets {
        let kept = old.iter().position(|s| s.target.remote_path == target.remote_path && s.target.line == target.line);
        let site = match kept {
            Some(i) => {
                let mut site = old.remove(i);
                site.target = target;
                site
            }
            None => {
                let site = Site { id: next_id(), target, state: BindState::Sent };
                changes.added.push(to_set(entry.condition.as_ref(), entry.hit_condition.as_ref(), &site));
                site
            }
        };
        if !entry
            .sites
            .iter()
            .any(|s| s.target.remote_path == site.target.remote_path && s.target.line == site.target.line)
        {
            entry.sites.push(site);
        }
    }
    changes.removed.extend(old.into_iter().map(|s| (s.id, s.target.line)));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn req(name: &str) -> Requested {
        Requested { name: name.to_string(), condition: None, hit_condition: None, refused: None }
    }

    fn target(file: &str, line: i64) -> Target {
        Target { local_path: Some(PathBuf::from(format!("/l/{file}"))), remote_path: format!("/r/{file}"), line }
    }

    fn ids() -> impl FnMut() -> BreakpointId {
        let mut next = 100;
        move || {
            next += 1;
            next
        }
    }

    /// `a` → a.py:3; `multi` → a.py:10 and b.py:4; `gone` not found (ask the debuggee).
    fn resolver(a_line: i64) -> impl FnMut(&str) -> Resolved {
        move |name| match name {
            "a" => Resolved::Targets(vec![target("a.py", a_line)]),
            "multi" => Resolved::Targets(vec![target("a.py", 10), target("b.py", 4)]),
            _ => Resolved::Missing { problem: format!("No function `{name}`"), ask_debuggee: true },
        }
    }

    #[test]
    fn ids_are_stable_and_changes_are_minimal() {
        let mut next = ids();
        let mut f = FunctionBreakpoints::default();
        let c = f.set(vec![req("a"), req("multi"), req("gone")], resolver(3), &mut next);
        assert_eq!(
            c.added.iter().map(|s| (s.remote_path.as_str(), s.line)).collect::<Vec<_>>(),
            vec![("/r/a.py", 3), ("/r/a.py", 10), ("/r/b.py", 4)]
        );
        assert!(c.removed.is_empty());
        let dap_ids: Vec<BreakpointId> = f.entries().iter().map(|e| e.id).collect();
        assert_eq!(f.pending_lookups().map(|(_, n)| n).collect::<Vec<_>>(), vec!["gone"]);
        assert_eq!(f.entries()[2].problem.as_deref(), Some("No function `gone`"));
        // Same list again: nothing to send, same ids.
        let c = f.set(vec![req("a"), req("multi"), req("gone")], resolver(3), &mut next);
        assert!(c.is_empty(), "{c:?}");
        assert_eq!(f.entries().iter().map(|e| e.id).collect::<Vec<_>>(), dap_ids);
        // `a` dropped, a condition on `multi`: a's site removed, multi's sites set again.
        let mut multi = req("multi");
        multi.condition = Some("x > 1".into());
        let c = f.set(vec![multi], resolver(3), &mut next);
        assert_eq!(c.removed.len(), 3);
        assert_eq!(c.added.len(), 2);
        assert!(c.added.iter().all(|s| s.condition.as_deref() == Some("x > 1")));
        assert_eq!(f.entries()[0].id, dap_ids[1]);
        let c = f.set(vec![], resolver(3), &mut next);
        assert_eq!(c.removed.len(), 2);
        assert!(f.entries().is_empty());
    }

    #[test]
    fn a_changed_file_moves_the_site() {
        let mut next = ids();
        let mut f = FunctionBreakpoints::default();
        f.set(vec![req("a"), req("multi")], resolver(3), &mut next);
        let old_site = f.entries()[0].sites[0].id;
        assert!(f.refresh(resolver(3), &mut next).is_empty());
        let c = f.refresh(resolver(5), &mut next);
        assert_eq!(c.removed, vec![(old_site, 3)]);
        assert_eq!(c.added.iter().map(|s| s.line).collect::<Vec<_>>(), vec![5]);
        assert_eq!(f.entries()[0].sites[0].target.line, 5);
    }

    #[test]
    fn binding_and_hits_map_to_the_function_breakpoint() {
        let mut next = ids();
        let mut f = FunctionBreakpoints::default();
        f.set(vec![req("multi")], resolver(3), &mut next);
        let entry = f.entries()[0].clone();
        assert!(!entry.verified());
        assert_eq!(f.mark(entry.sites[1].id, BindState::Pending), Some(entry.id));
        assert!(!f.entries()[0].verified());
        assert_eq!(f.mark(entry.sites[0].id, BindState::Bound), Some(entry.id));
        assert!(f.entries()[0].verified());
        assert_eq!(f.by_site(entry.sites[1].id).map(|e| e.id), Some(entry.id));
        assert_eq!(f.mark(9_999, BindState::Bound), None);
        // A new connection: everything is sent again, unconfirmed.
        let again = f.resend_all();
        assert_eq!(again.added.len(), 2);
        assert!(!f.entries()[0].verified());
    }

    #[test]
    fn the_debuggee_lookup_fills_in_missing_names_once() {
        let mut next = ids();
        let mut f = FunctionBreakpoints::default();
        f.set(vec![req("gone"), req("other")], resolver(3), &mut next);
        let ids: Vec<BreakpointId> = f.pending_lookups().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), 2);
        let remote = Target { local_path: None, remote_path: "/srv/x.py".into(), line: 7 };
        let c = f.looked_up(ids[0], Ok(remote.clone()), &mut next);
        assert_eq!(c.added.len(), 1);
        assert_eq!(f.entries()[0].sites[0].target, remote);
        assert_eq!(f.entries()[0].problem, None);
        let c = f.looked_up(ids[1], Err("The debuggee says: other is not defined.".into()), &mut next);
        assert!(c.is_empty());
        assert_eq!(f.entries()[1].problem.as_deref(), Some("The debuggee says: other is not defined."));
        assert_eq!(f.pending_lookups().count(), 0);
        // Asked once: a second answer changes nothing; a refresh keeps the remote site.
        assert!(f.looked_up(ids[0], Ok(remote), &mut next).is_empty());
        assert!(f.refresh(resolver(3), &mut next).removed.is_empty());
    }

    #[test]
    fn refused_breakpoints_are_never_sent() {
        let mut next = ids();
        let mut f = FunctionBreakpoints::default();
        let mut bad = req("a");
        bad.hit_condition = Some("< 3".into());
        bad.refused = Some("hit condition \"< 3\" cannot be expressed".into());
        let c = f.set(vec![bad.clone()], resolver(3), &mut next);
        assert!(c.is_empty());
        assert!(f.entries()[0].problem.as_deref().unwrap().contains("cannot be expressed"));
        assert_eq!(f.pending_lookups().count(), 0);
        assert!(f.refresh(resolver(3), &mut next).is_empty());
        // Fixed by the user: now it is sent.
        let c = f.set(vec![req("a")], resolver(3), &mut next);
        assert_eq!(c.added.len(), 1);
    }
}
