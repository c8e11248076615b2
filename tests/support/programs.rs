//! The debuggee programs under `tests/programs/` (Python 2.7, 3.6 and 3.11):
//!
//! * `target.py [ITERATIONS [DELAY]]` — calls `app.lib.compute(i)` (in
//!   `app/lib.py`, a second module) in a slow loop and prints `result i total`;
//!   `compute` has a list, a dict and a `Point` instance as locals.
//! * `sleeper.py [SECONDS [DELAY]]` — idle loop, prints only at start and end.
//! * `web_app.py [DELAY]` — a worker thread serves a request every DELAY s, raising and
//!   catching a `ValueError` in each; prints `served N`.
//! * `threads.py [WORKERS [ITERATIONS [DELAY]]]` — named worker threads `worker-N`.
//! * `features.py [DELAY]` — one small function per debugger feature, `tick i c` lines,
//!   trigger files for exceptions (see the file).
//! * `django_app.py [DELAY]` — renders `templates/page.html` with Django 1.11 in a loop.
//! * `functions.py [DELAY]` — one function of each shape for function breakpoints
//!   (`functions_async.py`: coroutines, 3.x); run, it calls `plain` and `Klass.method`.
//! * `enable_attach.py` — wrapper used by [`Launcher::EnableAttach`](super::Launcher).
//!
//! Iterations 0 (the default) means "until killed"; every program also stops by itself
//! after `$PTVSD_TEST_MAX_SECONDS` (600) or once its parent process has gone.
//! Interesting lines carry a `# MARK: name` comment; find them with [`line_of`].

use std::path::{Path, PathBuf};

/// `tests/programs/`.
pub fn programs_dir() -> PathBuf {
    super::repo_root().join("tests").join("programs")
}

/// Absolute path of `tests/programs/<name>` (e.g. `"target.py"`, `"app/lib.py"`).
pub fn program(name: &str) -> PathBuf {
    let path = programs_dir().join(name);
    assert!(path.is_file(), "no debuggee program {}", path.display());
    path
}

/// The 1-based line of `file` that carries the comment `# MARK: <mark>`.
pub fn line_of(file: &Path, mark: &str) -> u32 {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let needle = format!("# MARK: {mark}");
    let mut hits = text.lines().enumerate().filter(|(_, line)| line.trim_end().ends_with(&needle));
    let (index, _) = hits.next().unwrap_or_else(|| panic!("no `{needle}` in {}", file.display()));
    assert!(hits.next().is_none(), "`{needle}` is not unique in {}", file.display());
    u32::try_from(index + 1).expect("line number fits u32")
}
