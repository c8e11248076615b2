//! The ptvsd peers installed by `scripts/setup-test-env.sh`, and running them.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use super::net::{free_port, loopback, wait_until_listening};
use super::process::LoggedChild;

const SETUP_HINT: &str = "run scripts/setup-test-env.sh (it installs the test peers)";

/// `peers.json`, as written by `scripts/setup-test-env.sh` (see [`peers_json_path`]).
#[derive(Debug, Clone, Deserialize)]
pub struct Peers {
    pub schema: u32,
    pub env_dir: PathBuf,
    pub peers: Vec<PeerInfo>,
    /// Venvs that also have Django (1.11), for template breakpoints; never returned by
    /// [`Peers::find`].
    #[serde(default)]
    pub django_peers: Vec<PeerInfo>,
    pub websockify: Websockify,
    /// `tests/node/node_modules`, when node and npm were available.
    pub node_modules: Option<PathBuf>,
    /// Debian's tinyproxy, unpacked by the setup (absent from older `peers.json` files).
    #[serde(default)]
    pub tinyproxy: Option<PathBuf>,
    /// The folder holding PyPI's `wfastcgi.py` (absent from older `peers.json` files).
    #[serde(default)]
    pub wfastcgi: Option<PathBuf>,
}

/// One venv: a CPython with one ptvsd version installed.
#[derive(Debug, Clone, Deserialize)]
pub struct PeerInfo {
    /// e.g. `py3.11-ptvsd3.2.1`
    pub name: String,
    /// `"2.7"`, `"3.6"` or `"3.11"`
    pub python: String,
    /// e.g. `"3.11.7"`
    pub python_version: String,
    /// the venv's `bin/python`
    pub python_path: PathBuf,
    /// e.g. `"3.2.1"`
    pub ptvsd: String,
    pub ptvsd_file: PathBuf,
    /// `PTVSDBG_VER` of the installed ptvsd: 2 (2.0.0), 4 (2.1.0), 6 (2.2.0, 3.0.0), 7 (3.1.0), 8 (3.2.x)
    pub protocol_version: u32,
    pub venv: PathBuf,
    /// The Django version installed beside ptvsd (only in `django_peers`).
    #[serde(default)]
    pub django: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Websockify {
    pub path: PathBuf,
    pub version: String,
}

/// The legacy protocol family a peer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `PTVSDBG` + 8-byte version, then tagged binary messages (v2/v4/v6).
    Binary,
    /// `Content-Length` framed JSON (v7/v8).
    Json,
}

impl PeerInfo {
    pub fn family(&self) -> Family {
        if self.protocol_version >= 7 {
            Family::Json
        } else {
            Family::Binary
        }
    }
}

static PEERS: OnceLock<Peers> = OnceLock::new();

/// Where `scripts/setup-test-env.sh` installs by default: `$XDG_CACHE_HOME/ptvsd-dap/test-env`
/// (`~/.cache/…`), outside the clone, so every clone and CI run of a machine shares it.
pub fn default_env_dir() -> PathBuf {
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache"),
    };
    cache.join("ptvsd-dap").join("test-env")
}

/// The `peers.json` the tests read, first found of: the file `$PTVSD_TEST_PEERS` names;
/// `$PTVSD_TEST_ENV_DIR/peers.json` (as the setup script was told); the default cache
/// ([`default_env_dir`]); a checkout's own `.test-env/peers.json` (a link or an older
/// layout). When none exists, the default cache's path (for the error message).
pub fn peers_json_path() -> PathBuf {
    if let Some(path) = std::env::var_os("PTVSD_TEST_PEERS") {
        return PathBuf::from(path);
    }
    if let Some(dir) = std::env::var_os("PTVSD_TEST_ENV_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir).join("peers.json");
    }
    let cached = default_env_dir().join("peers.json");
    let in_checkout = super::repo_root().join(".test-env").join("peers.json");
    if !cached.exists() && in_checkout.exists() {
        return in_checkout;
    }
    cached
}

impl Peers {
    /// Reads [`peers_json_path`] (once per test binary). Panics, telling to run
    /// `scripts/setup-test-env.sh`, when it or a venv it lists is missing.
    pub fn load() -> &'static Peers {
        PEERS.get_or_init(|| {
            let path = peers_json_path();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}; {SETUP_HINT}", path.display()));
            let peers: Peers =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad {}: {e}; {SETUP_HINT}", path.display()));
            assert_eq!(peers.schema, 1, "unknown peers.json schema; {SETUP_HINT}");
            for p in peers.peers.iter().chain(&peers.django_peers) {
                assert!(
                    p.python_path.exists() && p.ptvsd_file.exists(),
                    "venv {} is gone ({} missing); {SETUP_HINT}",
                    p.name,
                    p.python_path.display()
                );
            }
            assert!(peers.websockify.path.exists(), "{} is missing; {SETUP_HINT}", peers.websockify.path.display());
            peers
        })
    }

    /// The peer for `python` (`"3.6"`, `"3.11"`, `"2.7"`) and `ptvsd` (`"3.2.1"`, …), if
    /// installed.
    pub fn find(&self, python: &str, ptvsd: &str) -> Option<&PeerInfo> {
        self.peers.iter().find(|p| p.python == python && p.ptvsd == ptvsd)
    }

    /// The peer for `python` and `ptvsd`; panics when it is not installed.
    pub fn peer(&self, python: &str, ptvsd: &str) -> &PeerInfo {
        self.find(python, ptvsd).unwrap_or_else(|| {
            let have: Vec<&str> = self.peers.iter().map(|p| p.name.as_str()).collect();
            panic!("no peer with Python {python} and ptvsd {ptvsd} (installed: {have:?}); {SETUP_HINT}")
        })
    }

    /// For peers that are optional on a developer machine (CPython 2.7): `None`, with a
    /// note on stderr, when it is missing locally; a panic when it is missing in CI.
    pub fn optional_peer(&self, python: &str, ptvsd: &str) -> Option<&PeerInfo> {
        let found = self.find(python, ptvsd);
        if found.is_none() {
            assert!(!super::is_ci(), "CI=true but the Python {python} / ptvsd {ptvsd} peer is missing; {SETUP_HINT}");
            eprintln!("SKIPPED: no Python {python} / ptvsd {ptvsd} peer on this machine");
        }
        found
    }

    /// The peer with Django for `python` and `ptvsd`: `None`, with a note on stderr, when
    /// it is missing locally (a `peers.json` from before the Django peers); a panic when it
    /// is missing in CI.
    pub fn django_peer(&self, python: &str, ptvsd: &str) -> Option<&PeerInfo> {
        let found = self.django_peers.iter().find(|p| p.python == python && p.ptvsd == ptvsd);
        if found.is_none() {
            assert!(
                !super::is_ci(),
                "CI=true but the Python {python} / ptvsd {ptvsd} / Django peer is missing; {SETUP_HINT}"
            );
            eprintln!("SKIPPED: no Python {python} / ptvsd {ptvsd} peer with Django on this machine; {SETUP_HINT}");
        }
        found
    }

    /// The tinyproxy executable: `$PTVSD_TEST_TINYPROXY`, else the one `peers.json` lists.
    /// `None`, with a note on stderr, when there is none locally; a panic in CI.
    pub fn tinyproxy(&self) -> Option<PathBuf> {
        let found = std::env::var_os("PTVSD_TEST_TINYPROXY")
            .map(PathBuf::from)
            .or_else(|| self.tinyproxy.clone())
            .filter(|p| p.exists());
        if found.is_none() {
            assert!(!super::is_ci(), "CI=true but tinyproxy is missing; {SETUP_HINT}");
            eprintln!("SKIPPED: no tinyproxy on this machine; {SETUP_HINT} (or set PTVSD_TEST_TINYPROXY)");
        }
        found
    }

    /// The folder with `wfastcgi.py`: `$PTVSD_TEST_WFASTCGI`, else the one `peers.json`
    /// lists. `None`, with a note on stderr, when there is none locally; a panic in CI.
    pub fn wfastcgi(&self) -> Option<PathBuf> {
        let found = std::env::var_os("PTVSD_TEST_WFASTCGI")
            .map(PathBuf::from)
            .or_else(|| self.wfastcgi.clone())
            .filter(|p| p.join("wfastcgi.py").exists());
        if found.is_none() {
            assert!(!super::is_ci(), "CI=true but wfastcgi is missing; {SETUP_HINT}");
            eprintln!("SKIPPED: no wfastcgi on this machine; {SETUP_HINT} (or set PTVSD_TEST_WFASTCGI)");
        }
        found
    }

    /// The `websockify` executable.
    pub fn websockify(&self) -> &Path {
        &self.websockify.path
    }
}

/// How the debuggee starts ptvsd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Launcher {
    /// `python -u -m ptvsd --secret S --interface 127.0.0.1 --port P [--wait]
    /// [--no-output-redirection] script [- args…]` (the CLI is the same in 2.2.0–3.2.1).
    #[default]
    Cli,
    /// `tests/programs/enable_attach.py`: the program calls
    /// `ptvsd.enable_attach(secret, address=(host, port))` itself (as a WSGI app on
    /// Azure does), optionally `ptvsd.wait_for_attach()`, then runs the script.
    EnableAttach,
}

/// Options for [`PtvsdPeer::start`]; `PeerOptions::default()` = CLI launcher, no
/// `--wait`, output redirection on, random secret, no script arguments.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// `--wait`: the program does not start until a debugger attaches.
    pub wait: bool,
    /// Arguments for the script (passed after ptvsd's `-` separator).
    pub args: Vec<String>,
    /// Extra environment variables for the debuggee.
    pub env: Vec<(String, String)>,
    /// `false` = `--no-output-redirection` (no output events to the debugger).
    pub redirect_output: bool,
    pub launcher: Launcher,
    /// Fixed secret instead of a random one.
    pub secret: Option<String>,
    /// Working directory (default: the script's directory).
    pub cwd: Option<PathBuf>,
    /// How long to wait for the port to accept connections.
    pub startup_timeout: Duration,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            wait: false,
            args: Vec::new(),
            env: Vec::new(),
            redirect_output: true,
            launcher: Launcher::Cli,
            secret: None,
            cwd: None,
            startup_timeout: Duration::from_secs(30),
        }
    }
}

impl PeerOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn wait(mut self) -> Self {
        self.wait = true;
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
    pub fn no_output_redirection(mut self) -> Self {
        self.redirect_output = false;
        self
    }
    pub fn enable_attach(mut self) -> Self {
        self.launcher = Launcher::EnableAttach;
        self
    }
    pub fn secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_owned());
        self
    }
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }
}

/// A running debuggee with ptvsd listening on 127.0.0.1; killed on drop (its output
/// is printed to stderr if the test is panicking).
pub struct PtvsdPeer {
    info: PeerInfo,
    port: u16,
    secret: String,
    child: LoggedChild,
}

impl PtvsdPeer {
    /// Starts `script` under the peer for `python` (`"3.6"`, `"3.11"`, `"2.7"`) and
    /// `ptvsd` (`"2.2.0"`, `"3.0.0"`, `"3.1.0"`, `"3.2.1"`) on a free port and returns once
    /// the port accepts connections.
    pub fn start(python: &str, ptvsd: &str, script: &Path, options: PeerOptions) -> PtvsdPeer {
        let info = Peers::load().peer(python, ptvsd).clone();
        Self::start_peer(&info, script, options)
    }

    /// Like [`PtvsdPeer::start`], for a [`PeerInfo`] from [`Peers`].
    pub fn start_peer(info: &PeerInfo, script: &Path, options: PeerOptions) -> PtvsdPeer {
        let script = std::path::absolute(script).expect("absolute script path");
        assert!(script.is_file(), "no debuggee script {}", script.display());
        let secret = options.secret.clone().unwrap_or_else(random_secret);
        let mut last_failure = String::new();
        // The port comes from free_port(), which another process may take first:
        // retry with a new port when the debuggee dies on "Address already in use".
        for _attempt in 0..3 {
            let port = free_port();
            let cmd = command(info, &script, &options, &secret, port);
            let label = format!("{} {}", info.name, script.file_name().unwrap_or_default().to_string_lossy());
            let mut child = LoggedChild::spawn(&label, cmd, false);
            let waited = wait_until_listening(port, options.startup_timeout, true, || match child.exited() {
                Some(status) => Err(format!("exited with {status}")),
                None => Ok(()),
            });
            match waited {
                Ok(_) => {
                    return PtvsdPeer { info: info.clone(), port, secret, child };
                }
                Err(e) => {
                    let out = child.output();
                    last_failure = format!("{label} on port {port}: {e}; output:\n{out}");
                    if !out.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("ptvsd peer did not start: {last_failure}");
    }

    pub fn info(&self) -> &PeerInfo {
        &self.info
    }
    pub fn family(&self) -> Family {
        self.info.family()
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
    pub fn secret(&self) -> &str {
        &self.secret
    }
    /// What the program printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.child.output()
    }
    /// Waits until the output contains `needle`; returns the whole output.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> String {
        self.child.wait_for_output(needle, timeout)
    }
    /// [`Self::wait_for_output`], with `explain()` (e.g. the adapter's log) in the failure.
    pub fn wait_for_output_or_explain(
        &mut self,
        needle: &str,
        timeout: Duration,
        explain: impl Fn() -> String,
    ) -> String {
        self.child.wait_for_output_or_explain(needle, timeout, explain)
    }
    /// `Some(status)` once the debuggee has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.exited()
    }
    /// Kills the debuggee now (drop does the same).
    pub fn kill(&mut self) {
        self.child.kill();
    }
}

fn command(info: &PeerInfo, script: &Path, options: &PeerOptions, secret: &str, port: u16) -> Command {
    let mut cmd = Command::new(&info.python_path);
    cmd.arg("-u");
    match options.launcher {
        Launcher::Cli => {
            cmd.args(["-m", "ptvsd", "--secret", secret, "--interface", "127.0.0.1", "--port"]).arg(port.to_string());
            if options.wait {
                cmd.arg("--wait");
            }
            if !options.redirect_output {
                cmd.arg("--no-output-redirection");
            }
            cmd.arg(script);
            if !options.args.is_empty() {
                cmd.arg("-").args(&options.args);
            }
        }
        Launcher::EnableAttach => {
            cmd.arg(super::programs::program("enable_attach.py"))
                .args([secret, "127.0.0.1"])
                .arg(port.to_string())
                .arg(if options.wait { "1" } else { "0" })
                .arg(if options.redirect_output { "1" } else { "0" })
                .arg(script)
                .args(&options.args);
        }
    }
    let cwd =
        options.cwd.clone().or_else(|| script.parent().map(Path::to_path_buf)).expect("script has a parent directory");
    cmd.current_dir(cwd)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONSTARTUP")
        .env("PYTHONUNBUFFERED", "1")
        // A debuggee that crashes prints every thread's Python stack in the test's output.
        .env("PYTHONFAULTHANDLER", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in &options.env {
        cmd.env(k, v);
    }
    cmd
}

/// A fresh random secret (alphanumeric, 20 characters).
pub fn random_secret() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::from("s");
    while out.len() < 20 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(20);
    out
}
