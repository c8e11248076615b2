//! Sources the editor cannot open from disk, and the modules the debuggee loaded.
//!
//! Owns: [`Sources`]: a stable `sourceReference` per debuggee file that has no local copy
//! (handed out for the whole session, so the editor can keep a tab open across stops),
//! the text fetched for it, and the loaded modules in load order. Must not know: DAP
//! messages or the wire.

use std::collections::HashMap;

/// The largest file the `source` request reads through the debuggee.
pub const MAX_REMOTE_SOURCE: usize = 8 * 1024 * 1024;

/// One module as the debuggee reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub id: i64,
    /// The debuggee's path.
    pub remote: String,
}

#[derive(Debug, Default)]
pub struct Sources {
    /// `sourceReference` - 1 → debuggee path.
    references: Vec<String>,
    by_path: HashMap<String, i64>,
    /// Fetched text by reference.
    content: HashMap<i64, String>,
    modules: Vec<Module>,
}

impl Sources {
    /// The reference for a debuggee path, handing out a new one the first time.
    pub fn reference(&mut self, remote: &str) -> i64 {
        if let Some(r) = self.by_path.get(remote) {
            return *r;
        }
        self.references.push(remote.to_string());
        let r = self.references.len() as i64;
        self.by_path.insert(remote.to_string(), r);
        r
    }

    /// The debuggee path of a reference.
    pub fn path(&self, reference: i64) -> Option<&str> {
        usize::try_from(reference)
            .ok()
            .and_then(|r| r.checked_sub(1))
            .and_then(|i| self.references.get(i))
            .map(String::as_str)
    }

    pub fn content(&self, reference: i64) -> Option<&str> {
        self.content.get(&reference).map(String::as_str)
    }

    pub fn set_content(&mut self, reference: i64, text: String) {
        self.content.insert(reference, text);
    }

    /// Records a loaded module; `false` if its path was already known (ptvsd reports
    /// files again under new ids: several imports, and every re-attach).
    pub fn add_module(&mut self, id: i64, remote: &str) -> bool {
        if self.modules.iter().any(|m| m.remote == remote) {
            return false;
        }
        self.modules.push(Module { id, remote: remote.to_string() });
        true
    }

    pub fn modules(&self) -> &[Module] {
        &self.modules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_stable_and_modules_unique() {
        let mut s = Sources::default();
        let a = s.reference("/r/a.py");
        let b = s.reference("/r/b.py");
        assert_eq!(s.reference("/r/a.py"), a);
        assert_ne!(a, b);
        assert!(a > 0 && b > 0);
        assert_eq!(s.path(b), Some("/r/b.py"));
        assert_eq!(s.path(0), None);
        assert_eq!(s.path(99), None);
        assert!(s.add_module(3, "/r/a.py"));
        assert!(!s.add_module(9, "/r/a.py"));
        assert_eq!(s.modules().len(), 1);
    }
}
