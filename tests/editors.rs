//! End-to-end tests in the three real editors, set up as `editors/README.md` tells a user:
//! VS Code (code-server in headless Chromium, the packaged extension), Neovim with nvim-dap
//! and `editors/neovim/ptvsd-dap.lua`, and Helix in tmux with `editors/helix/languages.toml`,
//! each against real ptvsd running a real program. The editors come from
//! `scripts/setup-editors.sh`; without them a test skips locally and fails under `CI=true`.
//!
//! The drivers for VS Code (JavaScript) and Neovim (Lua) are in `tests/editors/`; Helix is
//! driven from here through tmux. Screenshots and transcripts: `target/editor-e2e/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::editors::{artifacts_dir, editor_driver, path_with_adapter};
use support::{line_of, AzureEmulator, Editors, LinuxSite, PeerOptions, PtvsdPeer, Tmux, TwoRoots};

/// The peer every editor test attaches to: the newest ptvsd on the newest Python.
const PYTHON: &str = "3.11";
const PTVSD: &str = "3.2.1";

/// `target.py` looping forever from `roots.remote`, printing a line every 0.3 s.
fn start_app(roots: &TwoRoots) -> PtvsdPeer {
    PtvsdPeer::start(PYTHON, PTVSD, &roots.remote.join("target.py"), PeerOptions::new().args(["0", "0.3"]))
}

/// Waits for the app to print another `result` line than those it printed so far: it
/// runs, it is not stopped at a breakpoint.
fn assert_app_runs(app: &mut PtvsdPeer) {
    let seen = app.output().matches("result ").count();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if app.output().matches("result ").count() > seen {
            return;
        }
        assert!(app.exited().is_none(), "the app exited:\n{}", app.output());
        assert!(
            std::time::Instant::now() < deadline,
            "the app printed nothing more for 20 s: stopped?\n{}",
            app.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn compute_line(root: &Path, mark: &str) -> u32 {
    line_of(&root.join("app").join("lib.py"), mark)
}

// ---- Neovim ------------------------------------------------------------------------

/// How a user configures `editors/neovim/ptvsd-dap.lua` for the test's app, as
/// editors/README.md says: the file copied as it is, except the App Service (Linux) entry's
/// site, which here is the Kudu tunnel emulator on `tunnel_port` (plain ws: no TLS), its
/// `tunnelPort` the app's port and its remote root the app's folder; the TCP entry's
/// address and remote root come from `vim.g.ptvsd_dap`, set in init.lua before the
/// `require`. The publishing credentials come from the environment ([`run_neovim`]).
struct NeovimConfiguration {
    /// The file's text.
    file: String,
    /// The `vim.g.ptvsd_dap = { … }` line of init.lua.
    settings: String,
}

fn neovim_configuration(tcp_port: u16, tunnel_port: u16, remote_root: &Path) -> NeovimConfiguration {
    let text = std::fs::read_to_string(support::repo_root().join("editors/neovim/ptvsd-dap.lua")).unwrap_or_default();
    let remote = remote_root.display().to_string();
    let linux_site = "site() .. '.scm.azurewebsites.net/AppServiceTunnel/Tunnel.ashx'";
    let linux_port = "tunnelPort = 5678,";
    let linux_root = "remoteRoot = '/home/site/wwwroot'";
    assert!(
        [linux_site, linux_port, linux_root].iter().all(|part| text.matches(part).count() == 1),
        "the App Service (Linux) entry of ptvsd-dap.lua changed: update this test"
    );
    let file = text
        .replace(linux_site, &format!("'127.0.0.1:{tunnel_port}{}'", support::azure::TUNNEL_PATH))
        .replace("'wss://' .. secret() .. '@' .. '127.0.0.1", "'ws://' .. secret() .. '@' .. '127.0.0.1")
        .replace(linux_port, &format!("tunnelPort = {tcp_port},"))
        .replace(linux_root, &format!("remoteRoot = '{remote}'"));
    let settings = format!("vim.g.ptvsd_dap = {{ address = '127.0.0.1:{tcp_port}', remote_root = {remote:?} }}");
    NeovimConfiguration { file, settings }
}

/// Runs the Lua driver in a headless Neovim configured as editors/README.md says;
/// returns its transcript.
fn run_neovim(
    nvim: &Path,
    nvim_dap: &Path,
    roots: &TwoRoots,
    configuration: &NeovimConfiguration,
    params: Value,
    label: &str,
) -> Value {
    let home = roots.dir.path().join(format!("nvim-{label}"));
    let lua_dir = home.join("config/nvim/lua");
    std::fs::create_dir_all(&lua_dir).unwrap_or_default();
    // README: copy ptvsd-dap.lua to ~/.config/nvim/lua/, set vim.g.ptvsd_dap and require
    // it from init.lua after nvim-dap.
    std::fs::write(lua_dir.join("ptvsd-dap.lua"), &configuration.file).unwrap_or_default();
    let init = format!(
        "vim.opt.runtimepath:prepend({dap:?})\n{settings}\nrequire('ptvsd-dap')\ndofile({driver:?})\n",
        dap = nvim_dap.display().to_string(),
        settings = configuration.settings,
        driver = editor_driver("neovim.lua").display().to_string()
    );
    std::fs::write(home.join("config/nvim/init.lua"), init).unwrap_or_default();
    let result = artifacts_dir(&format!("neovim-{label}")).join("transcript.json");
    let mut params = params;
    params["result"] = json!(result);
    let params_file = home.join("params.json");
    std::fs::write(&params_file, params.to_string()).unwrap_or_default();
    let output = Command::new(nvim)
        .arg("--headless")
        .current_dir(&roots.local)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("PATH", path_with_adapter())
        .env("PTVSD_E2E_PARAMS", &params_file)
        // The Linux App Service entry's publishing credentials, as the user sets them.
        .env("PTVSD_DAP_TUNNEL_USER", LinuxSite::USER)
        .env("PTVSD_DAP_TUNNEL_PASSWORD", LinuxSite::PASSWORD)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", nvim.display()));
    let transcript = std::fs::read_to_string(&result).unwrap_or_else(|e| {
        panic!(
            "nvim wrote no transcript ({e}); exit {}; stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let transcript: Value = serde_json::from_str(&transcript).unwrap_or_else(|e| panic!("{e}: {transcript}"));
    eprintln!("--- neovim {label}: {transcript:#}");
    transcript
}

fn neovim_flow(url_kind: &str) {
    let editors = Editors::load();
    let Some([nvim, nvim_dap]) = Editors::require("Neovim with nvim-dap", [&editors.nvim, &editors.nvim_dap]) else {
        return;
    };
    let roots = TwoRoots::new();
    let mut app = start_app(&roots);
    let tunnel = AzureEmulator::kudu(LinuxSite::started(2222), None);
    let configuration = neovim_configuration(app.port(), tunnel.port(), &roots.remote);
    let name = if url_kind == "tcp" { "ptvsd: attach over TCP" } else { "ptvsd: attach to Azure App Service (Linux)" };
    let file = roots.local.join("app").join("lib.py");
    let line = compute_line(&roots.local, "compute-total");
    let params = json!({ "scenario": "flow", "config": name, "secret": app.secret(), "file": file, "line": line });
    let t = run_neovim(&nvim, &nvim_dap, &roots, &configuration, params, url_kind);

    assert_eq!(t["error"], Value::Null, "the flow failed: {t:#}");
    let stops = t["stops"].as_array().cloned().unwrap_or_default();
    assert_eq!(stops.len(), 3, "{t:#}");
    // The stop shows the local copy (path mapping), at the breakpoint, then the next line.
    assert_eq!(stops[0]["path"], json!(file), "{t:#}");
    assert_eq!((stops[0]["reason"].as_str(), stops[0]["line"].as_u64()), (Some("breakpoint"), Some(line.into())));
    assert_eq!(t["breakpoints_verified"], json!([true]), "nvim-dap does not show the breakpoint verified: {t:#}");
    assert_eq!(stops[1]["line"].as_u64(), Some(compute_line(&roots.local, "compute-step").into()), "{t:#}");
    assert_eq!((stops[2]["reason"].as_str(), stops[2]["line"].as_u64()), (Some("breakpoint"), Some(line.into())));
    let n: i64 =
        t["variables"]["n"].as_str().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no n in VARIABLES: {t:#}"));
    for name in ["data", "info", "pt"] {
        assert!(t["variables"][name].is_string(), "no {name} in VARIABLES: {t:#}");
    }
    assert_eq!(t["call_stack"][0], "compute", "{t:#}");
    assert_eq!(t["call_stack"][1], "main", "{t:#}");
    assert_eq!(t["watch"], json!(format!("'item-{n}'")), "{t:#}");
    assert_eq!(t["after_step"], json!((n * 10).to_string()), "{t:#}");
    assert_eq!(t["ended"], true);
    let notes = t["notes"].to_string();
    assert!(!notes.contains("didn't respond"), "{notes}");
    // Program output comes in whole lines: no event is just a line end.
    let outputs = t["outputs"].as_array().cloned().unwrap_or_default();
    assert!(
        outputs.iter().any(|o| o["category"] == "stdout"
            && o["output"].as_str().is_some_and(|s| s.starts_with("result ") && s.ends_with('\n'))),
        "{t:#}"
    );
    assert!(!outputs.iter().any(|o| o["output"] == "\n"), "an output event that is only a line end: {t:#}");
    // Disconnect left the app running.
    assert_app_runs(&mut app);
}

#[test]
fn neovim_debugs_over_tcp_with_path_mappings() {
    neovim_flow("tcp");
}

#[test]
fn neovim_debugs_through_the_app_service_tunnel_with_path_mappings() {
    neovim_flow("tunnel");
}

#[test]
fn neovim_shows_the_adapters_sentence_for_a_wrong_secret_and_a_silent_port() {
    let editors = Editors::load();
    let Some([nvim, nvim_dap]) = Editors::require("Neovim with nvim-dap", [&editors.nvim, &editors.nvim_dap]) else {
        return;
    };
    let roots = TwoRoots::new();
    let mut app = start_app(&roots);
    // A port that accepts connections and never speaks, for an attach that outlasts
    // nvim-dap's default 4 s: its "didn't respond" warning would come before the sentence.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let silent_port = silent.local_addr().map(|a| a.port()).unwrap_or_default();

    let configuration = neovim_configuration(app.port(), 1, &roots.remote);
    let params = json!({ "scenario": "fail", "config": "ptvsd: attach over TCP", "secret": "wrong" });
    let t = run_neovim(&nvim, &nvim_dap, &roots, &configuration, params, "wrong-secret");
    assert_eq!(t["error"], Value::Null, "{t:#}");
    let notes = t["notes"].to_string();
    assert!(notes.contains("Error on attach: ") && notes.contains("the debuggee rejected the secret"), "{notes}");
    assert!(!notes.contains("didn't respond"), "{notes}");

    // The user's file, with a shorter connectTimeout (still longer than 4 s).
    let mut configuration = neovim_configuration(silent_port, 1, &roots.remote);
    configuration.file =
        configuration.file.replace("remoteRoot = function()", "connectTimeout = 6,\n    remoteRoot = function()");
    assert!(
        configuration.file.contains("connectTimeout = 6"),
        "the TCP entry of ptvsd-dap.lua changed: update this test"
    );
    let params = json!({ "scenario": "fail", "config": "ptvsd: attach over TCP", "secret": "any" });
    let t = run_neovim(&nvim, &nvim_dap, &roots, &configuration, params, "silent-port");
    assert_eq!(t["error"], Value::Null, "{t:#}");
    let notes = t["notes"].to_string();
    assert!(notes.contains("Error on attach: ") && notes.contains("sent nothing within 6 s"), "{notes}");
    assert!(!notes.contains("didn't respond"), "{notes}");
    drop(silent);
    assert_app_runs(&mut app);
}

// ---- Helix -------------------------------------------------------------------------

/// Helix (the vendored `hx`) in tmux, set up as editors/README.md says: the shipped
/// languages.toml in the user's config folder, `ptvsd-dap` on PATH; it opens
/// `app/lib.py` of `roots.local`.
struct Helix {
    tmux: Tmux,
    cache: PathBuf,
}

/// How long a step of the Helix flow may take to show on screen.
const SHOWS: Duration = Duration::from_secs(30);

impl Helix {
    fn start(roots: &TwoRoots) -> Option<Helix> {
        let editors = Editors::load();
        let [tmux, hx, runtime] =
            Editors::require("Helix in tmux", [&editors.tmux, &editors.hx, &editors.helix_runtime])?;
        let home = tempfile::Builder::new()
            .prefix("ptvsd-dap-helix-")
            .tempdir_in(roots.dir.path())
            .map(|d| d.keep())
            .unwrap_or_default();
        let config = home.join("config");
        std::fs::create_dir_all(config.join("helix")).unwrap_or_default();
        std::fs::copy(support::repo_root().join("editors/helix/languages.toml"), config.join("helix/languages.toml"))
            .unwrap_or_default();
        let cache = home.join("cache");
        let path = path_with_adapter();
        let env: Vec<(&str, &std::ffi::OsStr)> = vec![
            ("XDG_CONFIG_HOME", config.as_os_str()),
            ("XDG_DATA_HOME", home.as_os_str()),
            ("XDG_CACHE_HOME", cache.as_os_str()),
            ("HELIX_RUNTIME", runtime.as_os_str()),
            ("PATH", path.as_os_str()),
            ("TERM", std::ffi::OsStr::new("xterm-256color")),
        ];
        let command = format!("exec {} app/lib.py", hx.display());
        // Wide enough for the longest sentence on the one-line status.
        let tmux = Tmux::start(&tmux, &command, &roots.local, &env, (320, 50));
        tmux.wait_for_text("app/lib.py", SHOWS);
        Some(Helix { tmux, cache })
    }

    /// The status line (the last line of the screen).
    fn status(&self) -> String {
        self.tmux.screen().lines().last().unwrap_or_default().trim().to_string()
    }

    fn command(&self, command: &str) {
        self.tmux.type_text(&format!(":{command}"));
        self.tmux.keys(&["Enter"]);
    }

    /// A key of the sticky debug menu (`space G`), then leaves the menu.
    fn debug_key(&self, key: &str) {
        self.tmux.keys(&["space", "G", key]);
        self.leave_menu();
    }

    /// Escape, once the debug menu shows, and wait for it to go (an Escape sent right
    /// before another key would reach Helix as Alt+key).
    fn leave_menu(&self) {
        self.tmux.wait_for_text("Debug (experimental)", SHOWS);
        self.escape_until_gone("Debug (experimental)");
    }

    fn escape_until_gone(&self, text: &str) {
        self.tmux.keys(&["Escape"]);
        self.tmux.wait_for(&format!("{text:?} to go"), SHOWS, |s| !s.contains(text));
    }

    /// Answers the prompt that shows `prompt` (Enter alone takes the default).
    fn answer(&self, prompt: &str, text: &str) {
        self.tmux.wait_for_text(prompt.trim_end(), SHOWS);
        if !text.is_empty() {
            self.tmux.type_text(text);
        }
        self.tmux.keys(&["Enter"]);
    }

    /// Waits for the stop marker on `line` (the status saying why is cleared by the next
    /// key, so it is not waited for).
    fn wait_stop(&self, line: u32) -> String {
        self.tmux.wait_for_text(&format!("▶{line:>4} "), SHOWS)
    }

    /// `:debug-eval "EXPR"`; the status line shows the result.
    fn eval(&self, expression: &str) -> String {
        // The status before, to tell the new value from what was there (the same value
        // twice in a row would not show a change: the flow avoids that).
        let before = self.status();
        self.command(&format!("debug-eval \"{expression}\""));
        let line = self.tmux.wait_for(&format!("the value of {expression}"), SHOWS, |s| {
            let last = s.lines().last().unwrap_or_default().trim();
            !last.is_empty() && !last.starts_with(':') && last != before && !last.contains("stopped because")
        });
        line.lines().last().unwrap_or_default().trim().to_string()
    }

    /// Goes to `line` and toggles a breakpoint there.
    fn breakpoint(&self, line: u32) {
        self.command(&line.to_string());
        self.debug_key("b");
        self.tmux.wait_for_text(&format!("◯{line:>4} "), SHOWS);
    }

    /// `space G l`, the TCP template, its five prompts.
    fn attach_from_the_picker(&self, port: u16, secret: &str, remote_root: &Path) {
        self.tmux.keys(&["space", "G", "l"]);
        self.tmux.wait_for_text("attach over TCP", SHOWS);
        self.tmux.type_text("over TCP");
        // The picker filters in the background: wait for the one match.
        self.tmux.wait_for_text(" 1/3 ", SHOWS);
        self.tmux.keys(&["Enter"]);
        self.answer("host [127.0.0.1]: ", "");
        self.answer("port [5678]: ", &port.to_string());
        self.answer("secret: ", secret);
        self.answer("local root [.]: ", "");
        self.answer("remote root [/srv/app]: ", &remote_root.display().to_string());
        self.leave_menu();
    }

    /// Waits until Helix has no adapter process any more (the session is over for good).
    fn wait_adapter_gone(&self) {
        let pid = self.tmux.pane_pid();
        let deadline = std::time::Instant::now() + SHOWS;
        while !support::editors::descendants_named(pid, "ptvsd-dap").is_empty() {
            assert!(std::time::Instant::now() < deadline, "the adapter is still running:\n{}", self.tmux.screen());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Helix {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(log) = std::fs::read_to_string(self.cache.join("helix/helix.log")) {
                let tail: Vec<&str> = log.lines().filter(|l| !l.contains("Unhandled event")).collect();
                eprintln!("--- helix.log (last lines):\n{}", tail[tail.len().saturating_sub(30)..].join("\n"));
            }
        }
    }
}

#[test]
fn helix_debugs_from_the_template_picker_with_path_mappings() {
    let roots = TwoRoots::new();
    let Some(helix) = Helix::start(&roots) else { return };
    let app = start_app(&roots);
    let line = compute_line(&roots.local, "compute-total");
    helix.breakpoint(line);
    helix.attach_from_the_picker(app.port(), app.secret(), &roots.remote);
    helix.wait_stop(line);

    // Variables.
    helix.tmux.keys(&["space", "G", "v"]);
    let screen = helix.tmux.wait_for_text("▸ Locals", SHOWS);
    let _ = std::fs::write(artifacts_dir("helix").join("variables.txt"), &screen);
    let n: i64 = screen
        .lines()
        .find_map(|l| {
            l.split_once(" n: int = ")
                .map(|(_, v)| v.split_whitespace().next().unwrap_or_default().parse().unwrap_or(-1))
        })
        .unwrap_or_else(|| panic!("no n in the variables:\n{screen}"));
    assert!(screen.contains(&format!("info: dict = {{'label': 'item-{n}'")), "{screen}");
    assert!(screen.contains(&format!("pt: Point = Point({n}, {})", n + 1)), "{screen}");
    helix.escape_until_gone("▸ Locals");
    helix.leave_menu();

    assert_eq!(helix.eval("info['label']"), format!("'item-{n}'"));
    helix.debug_key("n");
    helix.wait_stop(compute_line(&roots.local, "compute-step"));
    // Labelled values, so that each differs from the status line before it (no `%`:
    // Helix expands `%x` in command lines).
    assert_eq!(helix.eval("'total=' + str(total)"), format!("'total={}'", n * 10));
    assert_eq!(helix.eval("'n=' + str(n)"), format!("'n={n}'"));
    helix.debug_key("c");
    helix.wait_stop(line);
    assert_eq!(helix.eval("'n=' + str(n)"), format!("'n={}'", n + 1));
}

#[test]
fn helix_ending_the_session_leaves_the_app_running_and_a_second_attach_works() {
    // Helix's "end session" sends `terminate`, never `disconnect`, and waits for
    // `terminated`: in an attach session `terminate` detaches and then says `terminated`.
    let roots = TwoRoots::new();
    let Some(helix) = Helix::start(&roots) else { return };
    let mut app = start_app(&roots);
    let line = compute_line(&roots.local, "compute-total");
    helix.breakpoint(line);
    helix.attach_from_the_picker(app.port(), app.secret(), &roots.remote);
    helix.wait_stop(line);
    helix.debug_key("t");
    helix.wait_adapter_gone();
    assert_app_runs(&mut app);

    // Attach again, this time with :debug-start and the template's arguments.
    let remote = roots.remote.display().to_string();
    helix.command(&format!("debug-start 'attach over TCP' 127.0.0.1 {} {} . {remote}", app.port(), app.secret()));
    helix.wait_stop(line);
    helix.debug_key("t");
    helix.wait_adapter_gone();
    assert_app_runs(&mut app);
}

#[test]
fn helix_shows_the_adapters_sentence_for_a_wrong_secret_last() {
    let roots = TwoRoots::new();
    let Some(helix) = Helix::start(&roots) else { return };
    let mut app = start_app(&roots);
    let remote = roots.remote.display().to_string();
    helix.command(&format!("debug-start 'attach over TCP' 127.0.0.1 {} wrong . {remote}", app.port()));
    let sentence = "the debuggee rejected the secret: check the secret in the URL";
    helix.tmux.wait_for_text(sentence, SHOWS);
    // Nothing can come after the adapter has gone: the sentence is what stays.
    helix.wait_adapter_gone();
    let screen = helix.tmux.screen();
    let _ = std::fs::write(artifacts_dir("helix-wrong-secret").join("screen.txt"), &screen);
    let status = helix.status();
    assert!(status.starts_with("Debug (important): ") && status.contains(sentence), "the status line says: {status}");
    assert_app_runs(&mut app);
}

// ---- VS Code -----------------------------------------------------------------------

/// code-server with the extension packaged by `scripts/package-vsix.sh` installed, on a
/// free port, opening `roots.local` as its workspace; stopped on drop.
struct CodeServer {
    _server: support::process::LoggedChild,
    url: String,
}

impl CodeServer {
    fn start(code_server: &Path, roots: &TwoRoots, launch: Value) -> CodeServer {
        let data = roots.dir.path().join("code-server");
        let (user_data, extensions, config) =
            (data.join("user-data"), data.join("extensions"), data.join("config.yaml"));
        std::fs::create_dir_all(user_data.join("Machine")).unwrap_or_default();
        std::fs::write(&config, "auth: none\n").unwrap_or_default();
        // The adapter's path is a machine setting: code-server reads it from Machine/.
        let machine = json!({ "ptvsdDap.adapterPath": env!("CARGO_BIN_EXE_ptvsd-dap") });
        std::fs::write(user_data.join("Machine/settings.json"), machine.to_string()).unwrap_or_default();
        std::fs::create_dir_all(user_data.join("User")).unwrap_or_default();
        std::fs::write(user_data.join("User/settings.json"), json!({ "workbench.startupEditor": "none" }).to_string())
            .unwrap_or_default();
        std::fs::create_dir_all(roots.local.join(".vscode")).unwrap_or_default();
        std::fs::write(
            roots.local.join(".vscode/launch.json"),
            serde_json::to_string_pretty(&json!({ "version": "0.2.0", "configurations": [launch] }))
                .unwrap_or_default(),
        )
        .unwrap_or_default();

        let vsix = roots.dir.path().join("ptvsd-dap.vsix");
        // The .vsix bundles this build's adapter (no release build); the Machine setting
        // above points at the same binary and is what the extension uses first.
        let packaged = Command::new("bash")
            .arg(support::repo_root().join("scripts/package-vsix.sh"))
            .arg(&vsix)
            .env("PACKAGE_VSIX_BINARY", env!("CARGO_BIN_EXE_ptvsd-dap"))
            .output()
            .unwrap_or_else(|e| panic!("package-vsix.sh: {e}"));
        assert!(
            packaged.status.success() && vsix.is_file(),
            "scripts/package-vsix.sh failed:\n{}",
            String::from_utf8_lossy(&packaged.stderr)
        );

        let base = |cmd: &mut Command| {
            cmd.arg(code_server)
                .arg("--config")
                .arg(&config)
                .arg("--user-data-dir")
                .arg(&user_data)
                .arg("--extensions-dir")
                .arg(&extensions);
        };
        let mut install = Command::new("node");
        base(&mut install);
        let installed =
            install.arg("--install-extension").arg(&vsix).output().unwrap_or_else(|e| panic!("code-server: {e}"));
        assert!(
            installed.status.success(),
            "code-server --install-extension failed:\n{}{}",
            String::from_utf8_lossy(&installed.stdout),
            String::from_utf8_lossy(&installed.stderr)
        );

        let port = support::free_port();
        let mut cmd = Command::new("node");
        base(&mut cmd);
        cmd.args(["--auth", "none", "--bind-addr", &format!("127.0.0.1:{port}")])
            .args([
                "--disable-telemetry",
                "--disable-update-check",
                "--disable-workspace-trust",
                "--disable-getting-started-override",
            ])
            .arg(&roots.local)
            .env("PATH", path_with_adapter());
        let mut server = support::process::LoggedChild::spawn("code-server", cmd, true);
        support::net::wait_until_listening(port, Duration::from_secs(60), false, || match server.exited() {
            Some(status) => Err(format!("exited with {status}")),
            None => Ok(()),
        })
        .unwrap_or_else(|e| panic!("code-server did not start: {e}\n{}", server.output()));
        let url = format!("http://127.0.0.1:{port}/?folder={}", roots.local.display());
        CodeServer { _server: server, url }
    }
}

/// The extension's snippet `label` from editors/vscode/package.json, as VS Code inserts it
/// with the placeholders `${N:…}` filled in by `fill[N-1]`.
fn vscode_snippet(label: &str, fill: &[&str]) -> Value {
    let package: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("editors/vscode/package.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    let snippets =
        package["contributes"]["debuggers"][0]["configurationSnippets"].as_array().cloned().unwrap_or_default();
    let body = snippets
        .into_iter()
        .find(|s| s["label"] == label)
        .map(|s| s["body"].clone())
        .unwrap_or_else(|| panic!("no snippet {label}"));
    fn expand(value: &Value, fill: &[&str]) -> Value {
        match value {
            Value::String(text) => {
                // Snippet syntax first (placeholders, `\$`), then `^"…"`: a JSON string
                // literal inserted as is.
                let mut text = text.clone();
                for (i, value) in fill.iter().enumerate() {
                    let start = format!("${{{}:", i + 1);
                    while let Some(at) = text.find(&start) {
                        let end = text[at..].find('}').map(|e| at + e).unwrap_or(text.len() - 1);
                        text.replace_range(at..=end, value);
                    }
                }
                let text = text.replace("\\$", "$");
                match text.strip_prefix('^') {
                    Some(literal) => Value::String(
                        serde_json::from_str::<String>(literal).unwrap_or_else(|e| panic!("{literal}: {e}")),
                    ),
                    None => Value::String(text),
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| expand(v, fill)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), expand(v, fill))).collect()),
            other => other.clone(),
        }
    }
    expand(&body, fill)
}

/// Starts code-server for `launch` and runs the JavaScript driver with `params`; returns
/// its transcript and the artefacts folder.
fn run_vscode(roots: &TwoRoots, launch: Value, mut params: Value, label: &str) -> (Value, PathBuf) {
    let editors = Editors::load();
    let (Some(chromium), Some(playwright), Some(code_server)) =
        (&editors.chromium, &editors.playwright_core, &editors.code_server)
    else {
        unreachable!("checked by the caller")
    };
    let server = CodeServer::start(code_server, roots, launch);
    let out = artifacts_dir(&format!("vscode-{label}"));
    for (key, value) in [
        ("url", json!(server.url)),
        ("playwright", json!(playwright)),
        ("chromium", json!(chromium)),
        ("out", json!(out)),
    ] {
        params[key] = value;
    }
    let params_file = roots.dir.path().join("vscode-params.json");
    std::fs::write(&params_file, params.to_string()).unwrap_or_default();
    let driver = Command::new("node")
        .arg(editor_driver("vscode.mjs"))
        .env("PTVSD_E2E_PARAMS", &params_file)
        .output()
        .unwrap_or_else(|e| panic!("node: {e}"));
    let transcript = std::fs::read_to_string(out.join("transcript.json")).unwrap_or_default();
    let t: Value = serde_json::from_str(&transcript)
        .unwrap_or_else(|e| panic!("no transcript ({e}); driver stderr:\n{}", String::from_utf8_lossy(&driver.stderr)));
    eprintln!("--- vscode {label}: {t:#}\n{}", String::from_utf8_lossy(&driver.stderr));
    (t, out)
}

fn vscode_editors() -> bool {
    let editors = Editors::load();
    Editors::require("code-server in Chromium", [&editors.chromium, &editors.playwright_core, &editors.code_server])
        .is_some()
}

fn vscode_flow(kind: &str) {
    if !vscode_editors() {
        return;
    }
    let roots = TwoRoots::new();
    let mut app = start_app(&roots);
    let remote = roots.remote.display().to_string();
    let certs;
    let _tunnel;
    let launch = if kind == "tcp" {
        vscode_snippet("ptvsd-dap: Attach over TCP", &["127.0.0.1", &app.port().to_string(), &remote])
    } else {
        certs = support::TestCerts::generate(&roots.dir.path().join("certs"));
        let tunnel = AzureEmulator::kudu(LinuxSite::started(2222), Some(&certs));
        // The user points the Linux snippet at the site (here Kudu's tunnel, emulated), the
        // port ptvsd listens on, the publishing credentials, the root and the CA.
        let mut launch = vscode_snippet("ptvsd-dap: Attach to Azure App Service (Linux)", &["mysite"]);
        let url = launch["url"]
            .as_str()
            .unwrap_or_default()
            .replace("mysite.scm.azurewebsites.net", &format!("localhost:{}", tunnel.port()));
        launch["url"] = json!(url);
        launch["tunnelPort"] = json!(app.port());
        launch["tunnelUser"] = json!(LinuxSite::USER);
        launch["tunnelPassword"] = json!(LinuxSite::PASSWORD);
        launch["pathMappings"][0]["remoteRoot"] = json!(remote);
        launch["caFile"] = json!(certs.ca_pem);
        _tunnel = tunnel;
        launch
    };
    let line = compute_line(&roots.local, "compute-total");
    let params = json!({
        "scenario": "flow", "file": "app/lib.py", "line": line, "step_line": compute_line(&roots.local, "compute-step"),
        "secret": app.secret(), "watch": "info['label']",
    });
    let (t, out) = run_vscode(&roots, launch, params, kind);
    assert_eq!(t["ok"], true, "the flow failed (screenshots in {}): {}", out.display(), t["failure"]);

    let variables = t["variables"].as_str().unwrap_or_default();
    let n: i64 =
        variables.lines().find_map(|l| l.trim().strip_prefix("n = ").and_then(|v| v.trim().parse().ok())).unwrap_or(-1);
    assert!(
        variables.contains("data = ")
            && variables.contains("info = ")
            && variables.contains(&format!("pt = Point({n}, {})", n + 1)),
        "VARIABLES:\n{variables}"
    );
    let call_stack = t["call_stack"].as_str().unwrap_or_default();
    assert!(
        call_stack.contains("compute")
            && call_stack.contains("lib.py")
            && call_stack.contains("main")
            && call_stack.contains("target.py"),
        "CALL STACK:\n{call_stack}"
    );
    let watch = t["watch"].as_str().unwrap_or_default();
    assert!(n >= 0 && watch.contains(&format!("'item-{n}'")), "n = {n}; WATCH:\n{watch}\nVARIABLES:\n{variables}");
    let watch = t["watch_after_continue"].as_str().unwrap_or_default();
    assert!(watch.contains(&format!("'item-{}'", n + 1)), "WATCH after continue:\n{watch}");
    assert!(out.join("stopped.png").is_file());
    // Stop (Shift+F5) in an attach session detaches: the app runs on.
    assert_app_runs(&mut app);
}

#[test]
fn vscode_debugs_over_tcp_with_the_packaged_extension() {
    vscode_flow("tcp");
}

#[test]
fn vscode_debugs_through_the_app_service_tunnel_over_wss() {
    vscode_flow("wss");
}

#[test]
fn vscode_shows_the_adapters_sentence_for_a_wrong_secret() {
    if !vscode_editors() {
        return;
    }
    let roots = TwoRoots::new();
    let mut app = start_app(&roots);
    let launch = vscode_snippet(
        "ptvsd-dap: Attach over TCP",
        &["127.0.0.1", &app.port().to_string(), &roots.remote.display().to_string()],
    );
    let params = json!({ "scenario": "fail", "file": "app/lib.py", "line": 1, "secret": "wrong" });
    let (t, out) = run_vscode(&roots, launch, params, "wrong-secret");
    assert_eq!(t["ok"], true, "the flow failed (screenshots in {}): {}", out.display(), t["failure"]);
    let shown = t["error"].as_str().unwrap_or_default();
    assert!(shown.contains("the debuggee rejected the secret: check the secret in the URL"), "VS Code shows: {shown}");
    let console = t["console"].as_str().unwrap_or_default();
    assert!(console.contains("the debuggee rejected the secret"), "the DEBUG CONSOLE shows: {console}");
    assert_app_runs(&mut app);
}
