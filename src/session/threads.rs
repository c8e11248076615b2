//! The debuggee's threads as the session knows them.
//!
//! Owns: [`Threads`]: small DAP thread ids for ptvsd's large `thread.get_ident()` values
//! (which the OS reuses), cached names (spec §6.6: frame lists of running threads carry
//! no name, `thrf` replies carry `Dummy-N`), the last pushed frame list of each thread,
//! and whether it is stopped. Must not know: DAP messages.

use std::collections::{BTreeMap, HashMap};

use crate::legacy::messages::{Frame, ThreadId};

/// What the session knows of one thread.
#[derive(Debug, Clone)]
pub struct ThreadInfo {
    pub dap_id: i64,
    pub name: Option<String>,
    /// The last frame list the server pushed for this thread.
    pub frames: Vec<Frame>,
    /// Stopped: frames and frame indexes are valid, and it may be stepped or evaluated in.
    pub stopped: bool,
    /// The reason of the `stopped` event reported for it (`None` for a thread that stopped
    /// silently with the others), until it runs again.
    pub stop_reason: Option<String>,
}

/// All known threads.
#[derive(Debug, Default)]
pub struct Threads {
    by_remote: HashMap<ThreadId, ThreadInfo>,
    by_dap: BTreeMap<i64, ThreadId>,
    next_dap_id: i64,
}

impl Threads {
    /// Registers a thread; returns its DAP id and whether it is new.
    pub fn ensure(&mut self, remote: ThreadId) -> (i64, bool) {
        if let Some(info) = self.by_remote.get(&remote) {
            return (info.dap_id, false);
        }
        self.next_dap_id += 1;
        let dap_id = self.next_dap_id;
        self.by_remote.insert(remote, ThreadInfo { dap_id, name: None, frames: Vec::new(), stopped: false, stop_reason: None });
        self.by_dap.insert(dap_id, remote);
        (dap_id, true)
    }

    /// Forgets a thread (its id may be reused by a new one); returns its DAP id.
    pub fn remove(&mut self, remote: ThreadId) -> Option<i64> {
        let info = self.by_remote.remove(&remote)?;
        self.by_dap.remove(&info.dap_id);
        Some(info.dap_id)
    }

    pub fn remote_of(&self, dap_id: i64) -> Option<ThreadId> {
        self.by_dap.get(&dap_id).copied()
    }

    pub fn get(&self, remote: ThreadId) -> Option<&ThreadInfo> {
        self.by_remote.get(&remote)
    }

    pub fn get_mut(&mut self, remote: ThreadId) -> Option<&mut ThreadInfo> {
        self.by_remote.get_mut(&remote)
    }

    /// Stores a pushed frame list, keeping a good name over a missing or `Dummy-N` one.
    pub fn update_frames(&mut self, remote: ThreadId, name: Option<String>, frames: Vec<Frame>) -> bool {
        let (_, new) = self.ensure(remote);
        if let Some(info) = self.by_remote.get_mut(&remote) {
            if let Some(name) = name {
                let placeholder = name.starts_with("Dummy-");
                if info.name.is_none() || !placeholder {
                    info.name = Some(name);
                }
            }
            info.frames = frames;
        }
        new
    }

    pub fn set_stopped(&mut self, remote: ThreadId, stopped: bool) {
        if let Some(info) = self.by_remote.get_mut(&remote) {
            info.stopped = stopped;
            if !stopped {
                info.stop_reason = None;
            }
        }
    }

    pub fn mark_all_running(&mut self) {
        for info in self.by_remote.values_mut() {
            info.stopped = false;
            info.stop_reason = None;
        }
    }

    pub fn any_stopped(&self) -> Option<ThreadId> {
        self.by_remote.iter().filter(|(_, i)| i.stopped).min_by_key(|(_, i)| i.dap_id).map(|(t, _)| *t)
    }

    /// Threads in DAP id order: (remote id, info).
    pub fn iter(&self) -> impl Iterator<Item = (ThreadId, &ThreadInfo)> {
        self.by_dap.values().filter_map(|remote| self.by_remote.get(remote).map(|info| (*remote, info)))
    }

    pub fn len(&self) -> usize {
        self.by_remote.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_remote.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_ids_get_fresh_dap_ids_and_names_survive_placeholders() {
        let mut t = Threads::default();
        let (a, new) = t.ensure(139950154464128);
        assert!(new);
        t.update_frames(139950154464128, Some("MainThread".into()), vec![]);
        t.update_frames(139950154464128, None, vec![]);
        t.update_frames(139950154464128, Some("Dummy-2".into()), vec![]);
        assert_eq!(t.get(139950154464128).and_then(|i| i.name.clone()).as_deref(), Some("MainThread"));
        assert_eq!(t.remove(139950154464128), Some(a));
        let (b, _) = t.ensure(139950154464128);
        assert_ne!(a, b);
        assert_eq!(t.remote_of(b), Some(139950154464128));
        assert_eq!(t.remote_of(a), None);
    }
}
