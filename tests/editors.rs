//! End-to-end tests in the three real editors, set up as `editors/README.md` tells a user:
//! VS Code (code-server in headless Chromium, the packaged extension), Neovim with nvim-dap
//! and `editors/neovim/ptvsd-dap.lua`, and Helix in tmux with `editors/helix/languages.toml`,
//! each against real ptvsd running a real program. The editors come from
//! `scripts/setup-editors.sh`; without them a test skips locally and fails under `CI=true`.
//!
//! The drivers for VS Code (JavaScript) and Neovim (Lua) are in `tests/editors/`; Helix is
//! driven from here through tmux. Screenshots and transcripts: `target/editor-e2e/`.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::editors::{artifacts_dir, editor_driver, path_with_adapter};
use support::{line_of, Editors, PeerOptions, PtvsdPeer, Relay, Tmux, TwoRoots};

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
        assert!(std::time::Instant::now() < deadline, "the app printed nothing more for 20 s: stopped?\n{}", app.output());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn compute_line(root: &Path, mark: &str) -> u32 {
    line_of(&root.join("app").join("lib.py"), mark)
}

// ---- Neovim ------------------------------------------------------------------------

/// `editors/neovim/ptvsd-dap.lua` with its FILL IN values replaced, as a user edits it.
fn neovim_configuration(tcp_port: u16, ws_port: u16, remote_root: &Path) -> String {
    let text = std::fs::read_to_string(support::repo_root().join("editors/neovim/ptvsd-dap.lua")).unwrap_or_default();
    let remote = remote_root.display().to_string();
    let edited = text
        .replace("'@127.0.0.1:5678'", &format!("'@127.0.0.1:{tcp_port}'"))
        .replace("remoteRoot = '/srv/app'", &format!("remoteRoot = '{remote}'"))
        .replace("'wss://' .. secret() .. '@mysite.azurewebsites.net/ptvsd'", &format!("'ws://' .. secret() .. '@127.0.0.1:{ws_port}/ptvsd'"))
        .replace("remoteRoot = '/home/site/wwwroot'", &format!("remoteRoot = '{remote}'"));
    assert!(edited.contains(&format!("127.0.0.1:{tcp_port}")) && edited.contains(&format!("127.0.0.1:{ws_port}/ptvsd")), "the FILL IN lines of ptvsd-dap.lua moved");
    edited
}

/// Runs the Lua driver in a headless Neovim configured as editors/README.md says;
/// returns its transcript.
fn run_neovim(nvim: &Path, nvim_dap: &Path, roots: &TwoRoots, configuration: &str, params: Value, label: &str) -> Value {
    let home = roots.dir.path().join(format!("nvim-{label}"));
    let lua_dir = home.join("config/nvim/lua");
    std::fs::create_dir_all(&lua_dir).unwrap_or_default();
    // README: copy ptvsd-dap.lua to ~/.config/nvim/lua/, edit the FILL IN lines, and
    // require it from init.lua after nvim-dap.
    std::fs::write(lua_dir.join("ptvsd-dap.lua"), configuration).unwrap_or_default();
    let init = format!(
        "vim.opt.runtimepath:prepend({dap:?})\nrequire('ptvsd-dap')\ndofile({driver:?})\n",
        dap = nvim_dap.display().to_string(),
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
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", nvim.display()));
    let transcript = std::fs::read_to_string(&result)
        .unwrap_or_else(|e| panic!("nvim wrote no transcript ({e}); exit {}; stderr:\n{}", output.status, String::from_utf8_lossy(&output.stderr)));
    let transcript: Value = serde_json::from_str(&transcript).unwrap_or_else(|e| panic!("{e}: {transcript}"));
    eprintln!("--- neovim {label}: {transcript:#}");
    transcript
}

fn neovim_flow(url_kind: &str) {
    let editors = Editors::load();
    let Some([nvim, nvim_dap]) = Editors::require("Neovim with nvim-dap", [&editors.nvim, &editors.nvim_dap]) else { return };
    let roots = TwoRoots::new();
    let mut app = start_app(&roots);
    let relay = Relay::builtin(app.port(), None);
    let configuration = neovim_configuration(app.port(), relay.port(), &roots.remote);
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
    assert_eq!(stops[1]["line"].as_u64(), Some(compute_line(&roots.local, "compute-step").into()), "{t:#}");
    assert_eq!((stops[2]["reason"].as_str(), stops[2]["line"].as_u64()), (Some("breakpoint"), Some(line.into())));
    let n: i64 = t["variables"]["n"].as_str().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no n in VARIABLES: {t:#}"));
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
    assert!(outputs.iter().any(|o| o["category"] == "stdout" && o["output"].as_str().is_some_and(|s| s.starts_with("result ") && s.ends_with('\n'))), "{t:#}");
    assert!(!outputs.iter().any(|o| o["output"] == "\n"), "an output event that is only a line end: {t:#}");
    // Disconnect left the app running.
    assert_app_runs(&mut app);
}

#[test]
fn neovim_debugs_over_tcp_with_path_mappings() {
    neovim_flow("tcp");
}

#[test]
fn neovim_debugs_over_ws_through_the_relay_with_path_mappings() {
    neovim_flow("ws");
}

#[test]
fn neovim_shows_the_adapters_sentence_for_a_wrong_secret_and_a_silent_port() {
    let editors = Editors::load();
    let Some([nvim, nvim_dap]) = Editors::require("Neovim with nvim-dap", [&editors.nvim, &editors.nvim_dap]) else { return };
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
    let configuration = neovim_configuration(silent_port, 1, &roots.remote).replace("remoteRoot = ", "connectTimeout = 6,\n    remoteRoot = ");
    let params = json!({ "scenario": "fail", "config": "ptvsd: attach over TCP", "secret": "any" });
    let t = run_neovim(&nvim, &nvim_dap, &roots, &configuration, params, "silent-port");
    assert_eq!(t["error"], Value::Null, "{t:#}");
    let notes = t["notes"].to_string();
    assert!(notes.contains("Error on attach: ") && notes.contains("sent nothing within 6 s"), "{notes}");
    assert!(!notes.contains("didn't respond"), "{notes}");
    drop(silent);
    assert_app_runs(&mut app);
}

