//! `reconnect`: a session that outlives the app's process, against real ptvsd 3.0.0
//! (binary) and 3.2.1 (JSON) running `tests/programs/restartable.py`, which a test kills
//! and starts again on the same port (as App Service recycles a process):
//! * killed while stopped at a breakpoint, and while running: the session stays open, the
//!   old threads exit, the new process is reported (`process`) and stops at the same
//!   breakpoint with no request from the editor, with the attach-break evaluations
//!   (`repairs`) run in it as at any attach;
//! * the same through the wss relay (`ptvsd-dap relay`, as Azure's `/ptvsd` proxy): the
//!   relay stays up while the app is down, so each try is a WebSocket upgrade that ends
//!   before ptvsd's greeting, until the app is back;
//! * `attach` with `reconnect` waits for an app that is not running yet;
//! * 50 restarts in a row leave no socket behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod dap_schema;
mod support;

use std::time::Duration;

use client::DapClient;
use serde_json::{json, Value};
use support::{line_of, program, Peers, Relay, RestartableApp, TestCerts};

const WAIT: Duration = Duration::from_secs(60);

fn work_line() -> i64 {
    i64::from(line_of(&program("restartable.py"), "work"))
}

async fn start_client() -> DapClient {
    let mut client = DapClient::spawn(&["--log-level", "debug"]).await;
    client.initialize().await;
    client
}

async fn set_breakpoint(client: &mut DapClient, on: bool) {
    let breakpoints = if on { json!([{ "line": work_line() }]) } else { json!([]) };
    client
        .ok("setBreakpoints", json!({ "source": { "path": program("restartable.py") }, "breakpoints": breakpoints }))
        .await;
}

/// Waits for a stop at the breakpoint; returns the DAP thread id.
async fn stop_at_breakpoint(client: &mut DapClient) -> i64 {
    let event = client.wait_event_where("stopped", WAIT, |_| true).await;
    assert_eq!(event["body"]["reason"], "breakpoint", "{event}");
    let thread = event["body"]["threadId"].as_i64().unwrap();
    let trace = client.ok("stackTrace", json!({ "threadId": thread })).await;
    assert_eq!(trace["stackFrames"][0]["line"], work_line(), "{trace}");
    thread
}

async fn wait_output(client: &mut DapClient, needle: &str) -> Value {
    let needle = needle.to_string();
    client
        .wait_event_where("output", WAIT, move |e| e["body"]["output"].as_str().is_some_and(|t| t.contains(&needle)))
        .await
}

/// Waits for the `process` event of `pid`.
/// The app, stopped on `thread`, continues without the breakpoint and is killed while it
/// runs; the session attaches to the restarted process, which stops at the breakpoint.
async fn killed_while_running_stops_again(client: &mut DapClient, app: &mut RestartableApp, thread: i64) {
    set_breakpoint(client, false).await;
    client.ok("continue", json!({ "threadId": thread })).await;
    app.kill();
    wait_output(client, "the connection to the app ended").await;
    let pid = app.restart();
    wait_process(client, pid).await;
    set_breakpoint(client, true).await;
    stop_at_breakpoint(client).await;
}

async fn wait_process(client: &mut DapClient, pid: u32) {
    client.wait_event_where("process", WAIT, |e| e["body"]["systemProcessId"] == pid).await;
}

async fn survives_restarts(python: &str, ptvsd: &str, via_relay: bool) {
    let mut app = RestartableApp::start(Peers::load().peer(python, ptvsd), &["0.05"]);
    let dir = tempfile::tempdir().unwrap();
    let mut args = json!({ "url": app.url(), "reconnect": true });
    let _relay = via_relay.then(|| {
        let certs = TestCerts::generate(dir.path());
        let relay = Relay::builtin(app.port(), Some(&certs));
        args = json!({ "url": relay.wss_url("/ptvsd").replace("wss://", &format!("wss://{}@", app.secret())), "caFile": dir.path().join("ca.pem"), "reconnect": true });
        relay
    });
    let mut client = start_client().await;
    client.ok("attach", args).await;
    client.wait_event("initialized").await;
    set_breakpoint(&mut client, true).await;
    client.ok("configurationDone", Value::Null).await;
    let old_thread = stop_at_breakpoint(&mut client).await;

    // Killed while stopped at the breakpoint.
    app.kill();
    let lost = wait_output(&mut client, "the connection to the app ended").await;
    assert_eq!(lost["body"]["category"], "console");
    client
        .wait_event_where("thread", WAIT, |e| e["body"]["reason"] == "exited" && e["body"]["threadId"] == old_thread)
        .await;
    let pid = app.restart();
    wait_process(&mut client, pid).await;
    wait_output(&mut client, &format!("attached again to process {pid}")).await;
    // The same breakpoint stops in the new process: nothing was asked of the editor.
    let thread = stop_at_breakpoint(&mut client).await;
    // The attach-break evaluations ran in the new process as at any attach: a failed
    // evaluation names its exception (`repairs`), which ptvsd alone does not.
    let trace = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let frame = trace["stackFrames"][0]["id"].clone();
    let failed =
        client.request("evaluate", json!({ "expression": "{}['k']", "frameId": frame, "context": "watch" })).await;
    assert_eq!(failed["success"], false, "{failed}");
    assert_eq!(failed["message"], "KeyError: 'k'", "the repairs did not run in the new process: {failed}");

    // Killed while running.
    killed_while_running_stops_again(&mut client, &mut app, thread).await;

    client.ok("disconnect", Value::Null).await;
    // Detached, not ended: the app keeps running.
    assert!(app.exited().is_none(), "the app ended with the session:\n{}", app.output());
    for message in &client.received {
        if let Err(error) = dap_schema::validate_dap_message_strict(message) {
            panic!("message does not match the DAP schema: {error}\n{message}");
        }
    }
}

#[tokio::test]
async fn a_restarted_app_stops_at_the_same_breakpoint_ptvsd_3_0_0() {
    survives_restarts("3.11", "3.0.0", false).await;
}

#[tokio::test]
async fn a_restarted_app_stops_at_the_same_breakpoint_ptvsd_3_2_1() {
    survives_restarts("3.6", "3.2.1", false).await;
}

#[tokio::test]
async fn a_restarted_app_behind_the_wss_relay_is_attached_again() {
    survives_restarts("3.6", "3.2.1", true).await;
}

async fn waits_for_the_app(python: &str, ptvsd: &str) {
    let mut app = RestartableApp::not_started(Peers::load().peer(python, ptvsd), &["0.05"]);
    let mut client = start_client().await;
    let seq = client.send_request("attach", json!({ "url": app.url(), "reconnect": true, "connectTimeout": 5 })).await;
    // Nothing listens yet: the attach keeps trying instead of failing.
    let started = std::time::Instant::now();
    while !client.stderr().contains("attach try failed") {
        assert!(started.elapsed() < WAIT, "no failed try logged:\n{}", client.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = app.restart();
    let response = client.response_to(seq, "attach").await;
    assert_eq!(response["success"], true, "{response}");
    client.wait_event("initialized").await;
    wait_process(&mut client, pid).await;
    client.ok("disconnect", Value::Null).await;
}

#[tokio::test]
async fn attach_with_reconnect_waits_for_an_app_that_is_starting_ptvsd_3_0_0() {
    waits_for_the_app("3.11", "3.0.0").await;
}

#[tokio::test]
async fn attach_with_reconnect_waits_for_an_app_that_is_starting_ptvsd_3_2_1() {
    waits_for_the_app("3.6", "3.2.1").await;
}

/// The adapter's open sockets (`/proc/PID/fd` entries that are sockets).
fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")))
        .count()
}

/// A number field of `/proc/PID/status` (`VmRSS:` in kB, `Threads:`).
fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// 50 restarts in a row: every one is followed by a re-attach, and the adapter holds as
/// many sockets at the end as after the first attach (one connection, no leftovers).
#[tokio::test]
async fn fifty_restarts_in_a_row_leave_no_sockets_behind() {
    let mut app = RestartableApp::start(Peers::load().peer("3.6", "3.2.1"), &["0.2"]);
    let mut client = start_client().await;
    let adapter = client.pid().unwrap();
    client.ok("attach", json!({ "url": app.url(), "reconnect": true, "redirectOutput": false })).await;
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    let first = app.pid().unwrap();
    wait_process(&mut client, first).await;
    let before = sockets_of(adapter);
    let (rss_first, threads_first) = (status_field(adapter, "VmRSS:"), status_field(adapter, "Threads:"));
    for _ in 0..50 {
        app.kill();
        wait_output(&mut client, "the connection to the app ended").await;
        let pid = app.restart();
        wait_process(&mut client, pid).await;
        wait_output(&mut client, &format!("attached again to process {pid}")).await;
    }
    assert_eq!(sockets_of(adapter), before, "sockets after 50 restarts");
    // Printed, not asserted (memory is measured, not tested): the note of issue 15 quotes it.
    eprintln!(
        "adapter after the first attach: VmRSS {rss_first} kB, {threads_first} threads; after 50 restarts: VmRSS {} kB (VmHWM {} kB), {} threads",
        status_field(adapter, "VmRSS:"),
        status_field(adapter, "VmHWM:"),
        status_field(adapter, "Threads:")
    );
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(WAIT).await, Some(0));
}

/// Killed while the attach is under way (the handshake, or the burst of thread and module
/// reports after it): however far it got, the session ends up attached to the new
/// process and stops at a breakpoint there.
async fn killed_during_the_attach(python: &str, ptvsd: &str) {
    let mut app = RestartableApp::start(Peers::load().peer(python, ptvsd), &["0.05"]);
    let mut client = start_client().await;
    let seq = client.send_request("attach", json!({ "url": app.url(), "reconnect": true })).await;
    app.kill();
    let pid = app.restart();
    let response = client.response_to(seq, "attach").await;
    assert_eq!(response["success"], true, "{response}");
    client.wait_event("initialized").await;
    set_breakpoint(&mut client, true).await;
    client.ok("configurationDone", Value::Null).await;
    wait_process(&mut client, pid).await;
    stop_at_breakpoint(&mut client).await;
    client.ok("disconnect", Value::Null).await;
}

#[tokio::test]
async fn killed_during_the_attach_the_session_attaches_to_the_new_process_ptvsd_3_0_0() {
    killed_during_the_attach("3.11", "3.0.0").await;
}

#[tokio::test]
async fn killed_during_the_attach_the_session_attaches_to_the_new_process_ptvsd_3_2_1() {
    killed_during_the_attach("3.6", "3.2.1").await;
}

/// Within one adapter (issue #13): the attach again after a restart sends authenticate +
/// attach before ptvsd's greeting, expecting the dialect the first attach found, from the
/// adapter's memory (the cache file is gone by then).
#[tokio::test]
async fn the_attach_again_expects_the_dialect_of_the_first_ptvsd_3_2_1() {
    const EARLY: &str = "attaching without waiting for the greeting";
    const FELL_BACK: &str = "was not the expected one; connecting again";
    let mut app = RestartableApp::start(Peers::load().peer("3.11", "3.2.1"), &["0.05"]);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("dialects");
    let env = [("PTVSD_DAP_DIALECTS", cache.to_str().unwrap())];
    let mut client = DapClient::spawn_with_env(&["--log-level", "debug"], &env).await;
    client.initialize().await;
    client.ok("attach", json!({ "url": app.url(), "reconnect": true })).await;
    client.wait_event("initialized").await;
    set_breakpoint(&mut client, true).await;
    client.ok("configurationDone", Value::Null).await;
    let thread = stop_at_breakpoint(&mut client).await;
    assert!(!client.stderr().contains(EARLY), "nothing was expected at the first attach:\n{}", client.stderr());
    let written = std::fs::read_to_string(&cache).unwrap();
    assert!(written.ends_with("\tjson 8\n") && !written.contains(app.secret()), "{written}");
    std::fs::remove_file(&cache).unwrap();

    killed_while_running_stops_again(&mut client, &mut app, thread).await;
    let log = client.stderr();
    assert!(log.contains(EARLY) && !log.contains(FELL_BACK), "the attach again expected nothing:\n{log}");
    client.ok("disconnect", Value::Null).await;
}
