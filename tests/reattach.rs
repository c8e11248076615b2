//! Attaching again and again to one running app, against real ptvsd (2.0.0 to 3.2.1), over
//! `tcp://` and through `ptvsd-dap relay` (wss; and websockify, which closes its leg to ptvsd
//! gracefully, for one binary and one JSON version): every attach sets a breakpoint and must
//! stop at it, and each ends differently — disconnect right after continue, disconnect
//! while stopped, the adapter killed (SIGKILL) while stopped, the adapter killed while
//! the app runs. After each, the app must serve requests again, use no more CPU than before
//! the first attach, and accept the next debugger.
//!
//! The app (`web_app.py`) is the shape that showed the re-attach bug: a worker thread
//! serves a request every 0.3 s and raises and catches a `ValueError` in each, so ptvsd
//! asks the debugger a handler query right after every resume from the breakpoint
//! (ptvsd-threading.md §4.3). The first attach also checks that failed evaluations name
//! their exception in the watch, hover and REPL contexts, and that the REPL shows the
//! traceback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use client::DapClient;
use serde_json::{json, Value};
use support::{cpu_ticks_over, line_of, program, PeerInfo, PeerOptions, Peers, PtvsdPeer, Relay, TestCerts};

/// The window over which the app's CPU use is measured.
const CPU_WINDOW: Duration = Duration::from_millis(1500);
/// How long a stop at the breakpoint may take once configured.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// The app and the way to it.
struct App {
    peer: PtvsdPeer,
    relay: Option<(Relay, TestCerts, tempfile::TempDir)>,
    /// CPU ticks over [`CPU_WINDOW`] before any debugger attached.
    baseline_ticks: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Tcp,
    /// `ptvsd-dap relay` (wss), which closes its leg to ptvsd with a reset.
    Relay,
    /// websockify (wss), which closes its leg to ptvsd gracefully, as Azure's proxy does.
    Websockify,
}

impl App {
    fn start(info: &PeerInfo, via: Via) -> App {
        let mut peer = PtvsdPeer::start_peer(info, &program("web_app.py"), PeerOptions::new().args(["0.3"]));
        peer.wait_for_output("served 2", Duration::from_secs(30));
        let relay = (via != Via::Tcp).then(|| {
            let dir = tempfile::tempdir().unwrap();
            let certs = TestCerts::generate(dir.path());
            let relay = if via == Via::Relay {
                Relay::builtin(peer.port(), Some(&certs))
            } else {
                Relay::websockify(peer.port(), Some(&certs))
            };
            (relay, certs, dir)
        });
        let baseline_ticks = cpu_ticks_over(peer.pid(), CPU_WINDOW);
        App { peer, relay, baseline_ticks }
    }

    fn attach_args(&self) -> Value {
        match &self.relay {
            None => json!({ "url": format!("tcp://{}@127.0.0.1:{}", self.peer.secret(), self.peer.port()) }),
            Some((relay, _, dir)) => json!({
                "url": format!("wss://{}@127.0.0.1:{}/ptvsd", self.peer.secret(), relay.port()),
                "caFile": dir.path().join("ca.pem"),
            }),
        }
    }

    fn served(&self) -> usize {
        self.peer.output().matches("served ").count()
    }

    /// The app serves requests again, spends no more CPU than before the first attach (a
    /// spinning ptvsd loop costs ~150 ticks in the window; the bound is generous), and
    /// (checked by the caller's next attach) accepts the next debugger.
    /// `adapter_log` (the last session's) goes into a failure.
    fn assert_running_and_idle(&mut self, after: &str, adapter_log: &str) {
        let name = self.peer.info().name.clone();
        let served = self.served();
        let next = format!("served {}\n", served + 2);
        self.peer.wait_for_output_or_explain(&next, Duration::from_secs(15), || {
            format!("----- the adapter's log ({after}) -----\n{adapter_log}")
        });
        let ticks = cpu_ticks_over(self.peer.pid(), CPU_WINDOW);
        let bound = (self.baseline_ticks * 3).max(self.baseline_ticks + 40);
        eprintln!(
            "{name}: after {after}: {ticks} CPU ticks in {CPU_WINDOW:?} (before the first attach: {})",
            self.baseline_ticks
        );
        assert!(ticks <= bound, "{name}: after {after} the app used {ticks} CPU ticks in {CPU_WINDOW:?}, before the first attach {} (bound {bound})", self.baseline_ticks);
    }
}

fn web_app() -> PathBuf {
    program("web_app.py")
}

/// A new adapter attached to `app`, stopped at the breakpoint in `handle` (on the worker).
async fn attach_and_stop(app: &App) -> (DapClient, Value) {
    attach_and_stop_with(app, &[]).await
}

/// [`attach_and_stop`] with environment variables for the adapter.
async fn attach_and_stop_with(app: &App, env: &[(&str, &str)]) -> (DapClient, Value) {
    let name = &app.peer.info().name;
    // Debug logs: a failure message shows what the adapter saw.
    let mut client = DapClient::spawn_with_env(&["--log-level", "ptvsd_dap=debug"], env).await;
    client.initialize().await;
    client.ok("attach", app.attach_args()).await;
    client.wait_event("initialized").await;
    let line = line_of(&web_app(), "web-app-handle");
    let body = client
        .ok("setBreakpoints", json!({ "source": { "path": web_app() }, "breakpoints": [{ "line": line }] }))
        .await;
    // Answered during the attach without waiting for ptvsd: unverified, then verified by
    // a `breakpoint` event once ptvsd has bound it.
    assert_eq!(body["breakpoints"][0]["verified"], false, "{name}: {body}");
    let id = body["breakpoints"][0]["id"].clone();
    client
        .wait_event_where("breakpoint", STOP_WAIT, |e| {
            e["body"]["breakpoint"]["id"] == id && e["body"]["breakpoint"]["verified"] == true
        })
        .await;
    client.ok("setExceptionBreakpoints", json!({ "filters": ["uncaught"] })).await;
    client.ok("configurationDone", Value::Null).await;
    let stopped = client.wait_event_where("stopped", STOP_WAIT, |e| e["body"]["reason"] == "breakpoint").await;
    (client, stopped)
}

/// The top frame of the stopped thread.
async fn top_frame(client: &mut DapClient, stopped: &Value) -> Value {
    let stack = client.ok("stackTrace", json!({ "threadId": stopped["body"]["threadId"], "levels": 1 })).await;
    assert_eq!(stack["stackFrames"][0]["name"], "handle", "{stack}");
    stack["stackFrames"][0]["id"].clone()
}

/// Failed evaluations name their exception in every context; the REPL also shows the
/// traceback (as error output, before the response).
async fn check_evaluation_failures(client: &mut DapClient, frame: &Value, python2: bool) {
    let division = if python2 {
        "ZeroDivisionError: integer division or modulo by zero"
    } else {
        "ZeroDivisionError: division by zero"
    };
    let cases = [("{}['k']", "KeyError: 'k'"), ("1/0", division), ("x", "NameError: name 'x' is not defined")];
    for context in ["watch", "hover", "repl"] {
        for (expression, expected) in cases {
            let response = client
                .request("evaluate", json!({ "expression": expression, "frameId": frame, "context": context }))
                .await;
            assert_eq!(response["success"], false, "{expression} in {context}: {response}");
            assert_eq!(response["message"], expected, "{expression} in {context}: {response}");
        }
    }
    let tracebacks: Vec<String> = client
        .received
        .iter()
        .filter(|m| m["event"] == "output" && m["body"]["category"] == "stderr")
        .filter_map(|m| m["body"]["output"].as_str().map(str::to_string))
        .filter(|t| t.starts_with("Traceback (most recent call last):"))
        .collect();
    assert_eq!(tracebacks.len(), cases.len(), "one traceback per failed REPL evaluation: {tracebacks:?}");
    for ((_, expected), traceback) in cases.iter().zip(&tracebacks) {
        assert!(
            traceback.contains("File \"<debug input>\", line 1") && traceback.trim_end().ends_with(expected),
            "{traceback}"
        );
        assert!(!traceback.contains("ptvsd"), "ptvsd's own frames in the traceback: {traceback}");
    }
}

fn kill_adapter(client: &DapClient) {
    let pid = client.pid().expect("a spawned adapter");
    let status = std::process::Command::new("kill").arg("-KILL").arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -KILL {pid}");
}

/// Five attaches to one app, each stopping at its breakpoint:
/// 1. evaluation failures, clear the breakpoint, continue, disconnect at once;
/// 2. disconnect while stopped;
/// 3. the adapter killed while stopped;
/// 4. continue, then the adapter killed while the app runs;
/// 5. a last attach that must stop too, then a clean disconnect.
async fn attach_five_times(python: &str, ptvsd: &str, via: Via) {
    let info = Peers::load().peer(python, ptvsd);
    let mut app = App::start(info, via);
    let name = format!("{} via {via:?}", info.name);

    // 1. The everyday flow that left a handler query unanswered (the re-attach bug).
    let (mut client, stopped) = attach_and_stop(&app).await;
    let frame = top_frame(&mut client, &stopped).await;
    check_evaluation_failures(&mut client, &frame, python == "2.7").await;
    client.ok("setBreakpoints", json!({ "source": { "path": web_app() }, "breakpoints": [] })).await;
    client.ok("continue", json!({ "threadId": stopped["body"]["threadId"] })).await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{name}: {}", client.stderr());
    app.assert_running_and_idle("a disconnect right after continue", &client.stderr());

    // 2. Disconnect while stopped at the breakpoint.
    let (mut client, _) = attach_and_stop(&app).await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{name}: {}", client.stderr());
    app.assert_running_and_idle("a disconnect while stopped", &client.stderr());

    // 3. The adapter killed while the app is stopped at the breakpoint.
    let (client, _) = attach_and_stop(&app).await;
    kill_adapter(&client);
    let log = client.stderr();
    drop(client);
    app.assert_running_and_idle("the adapter was killed while the app was stopped", &log);

    // 4. The adapter killed while the app runs (after a stop and continue).
    let (mut client, stopped) = attach_and_stop(&app).await;
    client.ok("setBreakpoints", json!({ "source": { "path": web_app() }, "breakpoints": [] })).await;
    client.ok("continue", json!({ "threadId": stopped["body"]["threadId"] })).await;
    let served = app.served();
    app.peer.wait_for_output(&format!("served {}\n", served + 1), Duration::from_secs(15));
    kill_adapter(&client);
    let log = client.stderr();
    drop(client);
    app.assert_running_and_idle("the adapter was killed while the app ran", &log);

    // 5. The next debugger is accepted and its breakpoint fires.
    let (mut client, _) = attach_and_stop(&app).await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{name}: {}", client.stderr());
    app.assert_running_and_idle("the last disconnect", &client.stderr());
}

macro_rules! reattach_tests {
    ($($name:ident: $python:expr, $ptvsd:expr, $via:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            attach_five_times($python, $ptvsd, $via).await;
        }
    )*};
}

reattach_tests! {
    every_attach_stops_at_its_breakpoint_ptvsd_2_0_0_py3_11_tcp: "3.11", "2.0.0", Via::Tcp;
    every_attach_stops_at_its_breakpoint_ptvsd_2_1_0_py3_11_tcp: "3.11", "2.1.0", Via::Tcp;
    every_attach_stops_at_its_breakpoint_ptvsd_2_2_0_py3_11_tcp: "3.11", "2.2.0", Via::Tcp;
    every_attach_stops_at_its_breakpoint_ptvsd_3_0_0_py3_11_tcp: "3.11", "3.0.0", Via::Tcp;
    every_attach_stops_at_its_breakpoint_ptvsd_3_1_0_py3_11_tcp: "3.11", "3.1.0", Via::Tcp;
    every_attach_stops_at_its_breakpoint_ptvsd_3_2_1_py3_11_tcp: "3.11", "3.2.1", Via::Tcp;
    every_attach_stops_at_its_breakpoint_ptvsd_2_0_0_py3_6_relay: "3.6", "2.0.0", Via::Relay;
    every_attach_stops_at_its_breakpoint_ptvsd_2_1_0_py3_6_relay: "3.6", "2.1.0", Via::Relay;
    every_attach_stops_at_its_breakpoint_ptvsd_2_2_0_py3_6_relay: "3.6", "2.2.0", Via::Relay;
    every_attach_stops_at_its_breakpoint_ptvsd_3_0_0_py3_6_relay: "3.6", "3.0.0", Via::Relay;
    every_attach_stops_at_its_breakpoint_ptvsd_3_1_0_py3_6_relay: "3.6", "3.1.0", Via::Relay;
    every_attach_stops_at_its_breakpoint_ptvsd_3_2_1_py3_6_relay: "3.6", "3.2.1", Via::Relay;
    every_attach_stops_at_its_breakpoint_ptvsd_3_0_0_py3_11_websockify: "3.11", "3.0.0", Via::Websockify;
    every_attach_stops_at_its_breakpoint_ptvsd_3_2_1_py3_11_websockify: "3.11", "3.2.1", Via::Websockify;
}

/// The adapter's log lines that say which handshake ran.
const EARLY: &str = "attaching without waiting for the greeting";
const FELL_BACK: &str = "was not the expected one; connecting again";

/// Attaches with the cache file holding `expectation` (a line such as `json 8`, or raw
/// bytes), stops at the breakpoint and disconnects; returns the adapter's log.
async fn attach_expecting(app: &mut App, cache: &std::path::Path, expectation: Option<&[u8]>) -> String {
    let name = app.peer.info().name.clone();
    if let Some(bytes) = expectation {
        std::fs::write(cache, bytes).unwrap();
    }
    let cache = cache.to_string_lossy().to_string();
    let (mut client, _) = attach_and_stop_with(app, &[("PTVSD_DAP_DIALECTS", cache.as_str())]).await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{name}: {}", client.stderr());
    app.assert_running_and_idle("an attach with an expected dialect", &client.stderr());
    client.stderr()
}

/// An expected dialect (issue #13): with the right JSON version, authenticate + attach go
/// out before the greeting; with a wrong one (binary ptvsd, the other JSON version) the
/// adapter connects again with the plain handshake, and ptvsd stays attachable. The cache
/// file then holds the JSON dialect it found (no line for a binary one), never the secret,
/// and a corrupt file counts as no expectation.
async fn expected_dialects(ptvsd: &str) {
    let info = Peers::load().peer("3.11", ptvsd);
    let mut app = App::start(info, Via::Tcp);
    let name = info.name.clone();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("dialects");
    let key = format!("tcp://127.0.0.1:{}/", app.peer.port());
    let actual = match ptvsd {
        "3.1.0" => Some(7),
        "3.2.1" => Some(8),
        _ => None,
    };
    let line = |version: i64| format!("{key}\tjson {version}\n");

    // A wrong expectation: every binary version and the other JSON version.
    let wrong = match actual {
        Some(7) => 8,
        _ => 7,
    };
    let log = attach_expecting(&mut app, &cache, Some(line(wrong).as_bytes())).await;
    assert!(log.contains(EARLY) && log.contains(FELL_BACK), "{name}: no fallback from json {wrong}:\n{log}");
    let written = std::fs::read_to_string(&cache).unwrap_or_default();
    assert_eq!(written, actual.map(line).unwrap_or_default(), "{name}: the cache after the fallback");

    // Still attachable; a JSON server is now expected rightly (a binary one not at all).
    let log = attach_expecting(&mut app, &cache, None).await;
    assert!(!log.contains(FELL_BACK), "{name}: a second fallback:\n{log}");
    assert_eq!(log.contains(EARLY), actual.is_some(), "{name}: the second attach:\n{log}");

    if let Some(version) = actual {
        // The right expectation from a fresh file.
        let log = attach_expecting(&mut app, &cache, Some(line(version).as_bytes())).await;
        assert!(log.contains(EARLY) && !log.contains(FELL_BACK), "{name}: json {version} expected:\n{log}");
        let written = std::fs::read_to_string(&cache).unwrap();
        assert_eq!(written, line(version), "{name}");
        assert!(!written.contains(app.peer.secret()), "{name}: the secret in the cache: {written}");
        assert!(!log.contains(app.peer.secret()), "{name}: the secret in the log");
        // A corrupt file: no expectation, the plain handshake, then a good file again.
        let log = attach_expecting(&mut app, &cache, Some(b"\xff\xfe\0garbage\tjson\n\tjson 8\n")).await;
        assert!(!log.contains(EARLY) && !log.contains(FELL_BACK), "{name}: a corrupt cache:\n{log}");
        assert_eq!(std::fs::read_to_string(&cache).unwrap(), line(version), "{name}: rewritten");
    }
}

macro_rules! expected_dialect_tests {
    ($($name:ident: $ptvsd:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            expected_dialects($ptvsd).await;
        }
    )*};
}

expected_dialect_tests! {
    an_expected_dialect_attaches_or_falls_back_ptvsd_2_0_0: "2.0.0";
    an_expected_dialect_attaches_or_falls_back_ptvsd_2_1_0: "2.1.0";
    an_expected_dialect_attaches_or_falls_back_ptvsd_2_2_0: "2.2.0";
    an_expected_dialect_attaches_or_falls_back_ptvsd_3_0_0: "3.0.0";
    an_expected_dialect_attaches_or_falls_back_ptvsd_3_1_0: "3.1.0";
    an_expected_dialect_attaches_or_falls_back_ptvsd_3_2_1: "3.2.1";
}

/// Python 2.7 (optional on a developer machine, required in CI): the same five attaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attach_stops_at_its_breakpoint_on_python_2_7() {
    for ptvsd in ["3.0.0", "3.2.1"] {
        if Peers::load().optional_peer("2.7", ptvsd).is_some() {
            attach_five_times("2.7", ptvsd, Via::Tcp).await;
        }
    }
}
