//! Local ⇄ remote path mapping.
//!
//! Owns: [`PathMapper`]. The longest matching prefix wins; Windows-style paths (a drive
//! letter or backslashes, as App Service's `D:\home\site\wwwroot`) compare
//! case-insensitively with either separator, and the tail is re-joined with the other
//! side's separator. Must not know: DAP or the legacy protocol.

/// One `localRoot` ⇄ `remoteRoot` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMapping {
    pub local_root: String,
    pub remote_root: String,
}

/// Maps paths between the editor's machine and the debuggee's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathMapper {
    mappings: Vec<PathMapping>,
}

/// Whether a path is written the Windows way.
pub fn is_windows_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':') || path.contains('\\')
}

/// Splits a path into its components, ignoring empty ones and either separator.
fn components(path: &str, windows: bool) -> Vec<&str> {
    if windows {
        path.split(['/', '\\']).filter(|c| !c.is_empty() && *c != ".").collect()
    } else {
        path.split('/').filter(|c| !c.is_empty() && *c != ".").collect()
    }
}

/// If `path` lies under `root`, the remaining components.
fn strip_root<'a>(path: &'a str, root: &str) -> Option<Vec<&'a str>> {
    let windows = is_windows_path(root) || is_windows_path(path);
    let path_parts = components(path, windows);
    let root_parts = components(root, windows);
    if root_parts.len() > path_parts.len() {
        return None;
    }
    let same =
        root_parts.iter().zip(&path_parts).all(|(r, p)| if windows { r.eq_ignore_ascii_case(p) } else { r == p });
    same.then(|| path_parts[root_parts.len()..].to_vec())
}

fn join(root: &str, tail: &[&str]) -> String {
    if tail.is_empty() {
        return root.to_string();
    }
    let separator = if is_windows_path(root) && !root.contains('/') { '\\' } else { '/' };
    let mut out = root.trim_end_matches(['/', '\\']).to_string();
    if out.is_empty() && !root.is_empty() {
        // The root was "/" (or "\").
        out.push(separator);
    } else {
        out.push(separator);
    }
    out.push_str(&tail.join(&separator.to_string()));
    out
}

impl PathMapper {
    pub fn new(mappings: Vec<PathMapping>) -> Self {
        Self { mappings }
    }

    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }

    /// The mappings' local folders, in the order given.
    pub fn local_roots(&self) -> Vec<std::path::PathBuf> {
        self.mappings.iter().map(|m| std::path::PathBuf::from(&m.local_root)).collect()
    }

    fn map(
        &self,
        path: &str,
        from: impl Fn(&PathMapping) -> &str,
        to: impl Fn(&PathMapping) -> &str,
    ) -> Option<String> {
        let windows = is_windows_path(path);
        self.mappings
            .iter()
            .filter_map(|m| {
                strip_root(path, from(m))
                    .map(|tail| (components(from(m), windows || is_windows_path(from(m))).len(), m, tail))
            })
            .max_by_key(|(depth, _, _)| *depth)
            .map(|(_, m, tail)| join(to(m), &tail))
    }

    /// The debuggee's path for a local file; unchanged when no mapping applies.
    pub fn to_remote(&self, local: &str) -> String {
        self.map(local, |m| &m.local_root, |m| &m.remote_root).unwrap_or_else(|| local.to_string())
    }

    /// The local path for a debuggee's file, if a mapping applies.
    pub fn try_to_local(&self, remote: &str) -> Option<String> {
        self.map(remote, |m| &m.remote_root, |m| &m.local_root)
    }

    /// The local path for a debuggee's file; unchanged when no mapping applies.
    pub fn to_local(&self, remote: &str) -> String {
        self.try_to_local(remote).unwrap_or_else(|| remote.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(pairs: &[(&str, &str)]) -> PathMapper {
        PathMapper::new(
            pairs.iter().map(|(l, r)| PathMapping { local_root: l.to_string(), remote_root: r.to_string() }).collect(),
        )
    }

    #[test]
    fn longest_prefix_wins() {
        let m = mapper(&[("/src", "/app"), ("/src/lib", "/opt/lib")]);
        assert_eq!(m.to_remote("/src/lib/x.py"), "/opt/lib/x.py");
        assert_eq!(m.to_remote("/src/main.py"), "/app/main.py");
        assert_eq!(m.to_local("/opt/lib/x.py"), "/src/lib/x.py");
        assert_eq!(m.to_local("/app/sub/y.py"), "/src/sub/y.py");
    }

    #[test]
    fn prefix_must_match_whole_components() {
        let m = mapper(&[("/src", "/app")]);
        assert_eq!(m.to_local("/application/x.py"), "/application/x.py");
        assert_eq!(m.try_to_local("/application/x.py"), None);
    }

    #[test]
    fn windows_remote_maps_to_posix_local_and_back() {
        let m = mapper(&[("/home/me/site", r"D:\home\site\wwwroot")]);
        assert_eq!(m.to_local(r"D:\home\site\wwwroot\app\views.py"), "/home/me/site/app/views.py");
        assert_eq!(m.to_local(r"d:\HOME\site\WWWROOT\app.py"), "/home/me/site/app.py");
        assert_eq!(m.to_local("D:/home/site/wwwroot/app.py"), "/home/me/site/app.py");
        assert_eq!(m.to_remote("/home/me/site/app/views.py"), r"D:\home\site\wwwroot\app\views.py");
    }

    #[test]
    fn posix_matching_is_case_sensitive() {
        let m = mapper(&[("/src", "/app")]);
        assert_eq!(m.try_to_local("/App/x.py"), None);
    }

    #[test]
    fn trailing_separators_and_root_mappings() {
        let m = mapper(&[("/src/", "/app/")]);
        assert_eq!(m.to_remote("/src/x.py"), "/app/x.py");
        let m = mapper(&[("/", "/")]);
        assert_eq!(m.to_local("/x/y.py"), "/x/y.py");
        let m = mapper(&[(r"C:\work\site", "/home/site/wwwroot")]);
        assert_eq!(m.to_local("/home/site/wwwroot/a/b.py"), r"C:\work\site\a\b.py");
        assert_eq!(m.to_remote(r"c:\Work\site\a\b.py"), "/home/site/wwwroot/a/b.py");
    }

    #[test]
    fn unmapped_paths_pass_through() {
        let m = mapper(&[]);
        assert_eq!(m.to_local("/x.py"), "/x.py");
        assert_eq!(m.to_remote("/x.py"), "/x.py");
    }
}
