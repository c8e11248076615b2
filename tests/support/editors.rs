//! The real editors for the end-to-end tests (`tests/editors.rs`), as installed by
//! `scripts/setup-editors.sh`, and what driving them needs:
//!
//! * [`Editors`] — where each editor is (`editors.json` in the editors cache); a missing
//!   one is a skip with a note locally and a panic under `CI=true`.
//! * [`TwoRoots`] — the debuggee program copied twice: `remote/` is where ptvsd runs it,
//!   `local/` is the workspace the editor opens (so path mappings are exercised).
//! * [`Tmux`] — a terminal program in a private tmux server: keys in, screen out, and
//!   [`Tmux::wait_for`] the screen to show something.
//! * [`adapter_dir`] (the folder of the built `ptvsd-dap`, to put on `PATH` as a user
//!   would), [`artifacts_dir`] (`target/editor-e2e/NAME`, kept as CI artefacts),
//!   [`editor_driver`] (`tests/editors/NAME`, the JavaScript/Lua drivers).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const SETUP_HINT: &str = "run scripts/setup-editors.sh (it writes editors.json in the editors cache)";

/// What `scripts/setup-editors.sh` installed; `None` for what it could not.
#[derive(Debug, Default)]
pub struct Editors {
    pub chromium: Option<PathBuf>,
    pub tmux: Option<PathBuf>,
    pub playwright_core: Option<PathBuf>,
    pub code_server: Option<PathBuf>,
    pub nvim: Option<PathBuf>,
    pub nvim_dap: Option<PathBuf>,
    pub hx: Option<PathBuf>,
    pub helix_runtime: Option<PathBuf>,
}

/// The editors cache, as `scripts/setup-editors.sh` computes it.
pub fn editors_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("PTVSD_EDITORS_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache"));
    base.join("ptvsd-dap").join("editors")
}

impl Editors {
    pub fn load() -> &'static Editors {
        static EDITORS: OnceLock<Editors> = OnceLock::new();
        EDITORS.get_or_init(|| {
            let path = editors_cache().join("editors.json");
            let Ok(text) = std::fs::read_to_string(&path) else {
                return Editors::default();
            };
            let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let get = |key: &str| json[key].as_str().map(PathBuf::from).filter(|p| p.exists());
            Editors {
                chromium: get("chromium"),
                tmux: get("tmux"),
                playwright_core: get("playwright_core"),
                code_server: get("code_server"),
                nvim: get("nvim"),
                nvim_dap: get("nvim_dap"),
                hx: get("hx"),
                helix_runtime: get("helix_runtime"),
            }
        })
    }

    /// All of `paths` when each is there; otherwise `None` with a note on stderr, or a
    /// panic under `CI=true` (a missing editor is a failure there, never a skip).
    pub fn require<const N: usize>(editor: &str, paths: [&Option<PathBuf>; N]) -> Option<[PathBuf; N]> {
        if paths.iter().all(|p| p.is_some()) {
            return Some(paths.map(|p| p.clone().unwrap_or_default()));
        }
        if super::is_ci() {
            panic!("CI=true but {editor} is not installed; {SETUP_HINT}");
        }
        eprintln!("note: skipping: {editor} is not installed; {SETUP_HINT}");
        None
    }
}

/// The folder holding the `ptvsd-dap` built for these tests (put it first on `PATH`).
pub fn adapter_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_ptvsd-dap"));
    exe.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `PATH` with [`adapter_dir`] first.
pub fn path_with_adapter() -> std::ffi::OsString {
    let mut dirs = vec![adapter_dir()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// `target/editor-e2e/NAME/`, emptied: screenshots and transcripts kept as CI artefacts.
pub fn artifacts_dir(name: &str) -> PathBuf {
    let dir = super::repo_root().join("target").join("editor-e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// `tests/editors/NAME`: a driver script for one editor.
pub fn editor_driver(name: &str) -> PathBuf {
    super::repo_root().join("tests").join("editors").join(name)
}

/// `tests/programs/target.py` and its `app/` package, copied into `local/` (the
/// editor's workspace) and `remote/` (where ptvsd runs it).
pub struct TwoRoots {
    pub dir: tempfile::TempDir,
    pub local: PathBuf,
    pub remote: PathBuf,
}

impl TwoRoots {
    pub fn new() -> TwoRoots {
        let dir =
            tempfile::Builder::new().prefix("ptvsd-dap-editor-").tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let local = dir.path().join("local");
        let remote = dir.path().join("remote");
        for root in [&local, &remote] {
            std::fs::create_dir_all(root.join("app")).unwrap_or_else(|e| panic!("mkdir: {e}"));
            for name in ["target.py", "app/__init__.py", "app/lib.py"] {
                std::fs::copy(super::program(name), root.join(name)).unwrap_or_else(|e| panic!("copy {name}: {e}"));
            }
        }
        TwoRoots { dir, local, remote }
    }
}

/// A program in its own tmux server (`tmux -L NAME`), killed on drop.
pub struct Tmux {
    tmux: PathBuf,
    socket: String,
}

impl Tmux {
    /// Starts `command` (run by `sh -c`) in a `width`×`height` terminal, in `cwd`, with `env`.
    pub fn start(tmux: &Path, command: &str, cwd: &Path, env: &[(&str, &std::ffi::OsStr)], size: (u16, u16)) -> Tmux {
        let socket = format!("ptvsd-dap-{}-{}", std::process::id(), super::peers::random_secret());
        let mut cmd = Command::new(tmux);
        cmd.args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &size.0.to_string(),
            "-y",
            &size.1.to_string(),
        ]);
        cmd.arg("-c").arg(cwd).arg(command);
        // The server is new (its own socket), so it and its program inherit this
        // environment (`new-session -e` does not override PATH for the first command).
        for (key, value) in env {
            cmd.env(key, value);
        }
        let status = cmd.status().unwrap_or_else(|e| panic!("tmux: {e}"));
        assert!(status.success(), "tmux new-session failed: {status}");
        Tmux { tmux: tmux.to_path_buf(), socket }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.tmux)
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("tmux: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Keys as tmux names them (`"Enter"`, `"Escape"`, `"C-c"`, `"space"`, or text with `-l`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "0", "-l", text]);
    }

    /// The visible screen as text.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    /// Waits until `wanted` holds for the screen; returns that screen. Panics with the
    /// last screen after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if wanted(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("the screen did not show {what} within {timeout:?}; it shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid of the program in the pane.
    pub fn pane_pid(&self) -> u32 {
        self.run(&["display-message", "-p", "-t", "0", "#{pane_pid}"]).trim().parse().unwrap_or(0)
    }

    /// Waits for `needle` on the screen.
    pub fn wait_for_text(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for(&format!("{needle:?}"), timeout, |s| s.contains(needle))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- last screen:\n{}", self.screen());
        }
        self.run(&["kill-server"]);
    }
}

/// The pids of the processes below `pid` (children, grandchildren, …) whose command name
/// is `name`, from /proc.
pub fn descendants_named(pid: u32, name: &str) -> Vec<u32> {
    let mut parents = std::collections::HashMap::new();
    let mut names = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid …; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let ppid = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        parents.insert(child, ppid);
        names.insert(child, stat[open + 1..close].to_string());
    }
    let below = |mut p: u32| {
        while let Some(&parent) = parents.get(&p) {
            if parent == pid {
                return true;
            }
            if parent <= 1 {
                return false;
            }
            p = parent;
        }
        false
    };
    // comm is cut to 15 bytes.
    let short: String = name.chars().take(15).collect();
    names.iter().filter(|(p, n)| **n == short && below(**p)).map(|(p, _)| *p).collect()
}
