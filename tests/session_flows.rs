//! The debug session end to end, with our small test client driving the real binary:
//! attach through wss (websockify + test CA) to real ptvsd in both dialects, a
//! breakpoint in a second module set on a *local* path that maps to the debuggee's copy,
//! the hit, the stack, nested variables, evaluate, stepping, output, continue, and
//! disconnect + re-attach. Every message the adapter sends is validated against the
//! official DAP schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod dap_schema;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use client::DapClient;
use serde_json::{json, Value};
use support::{line_of, programs_dir, Peers, Relay, RelayStarter, RemoteSite};

/// A site running `target.py` (see [`RemoteSite`]) behind `relay`.
fn start_site(python: &str, ptvsd: &str, relay: RelayStarter) -> RemoteSite {
    RemoteSite::start(Peers::load().peer(python, ptvsd), "target.py", &["0", "0.05"], relay)
}

/// The site's attach arguments, with the keys editors add of their own (ignored).
fn attach_args(remote: &RemoteSite) -> Value {
    let mut args = remote.attach_args();
    for (key, value) in [("type", "ptvsd-dap"), ("name", "Attach"), ("request", "attach"), ("__sessionId", "x")] {
        args[key] = json!(value);
    }
    args
}

fn lib_path() -> PathBuf {
    programs_dir().join("app").join("lib.py")
}

async fn start_session(remote: &RemoteSite, line: u32) -> (DapClient, Value) {
    let mut client = DapClient::spawn(&[]).await;
    let caps = client.initialize().await;
    assert_eq!(caps["supportsConfigurationDoneRequest"], true);
    client.ok("attach", attach_args(remote)).await;
    client.wait_event("initialized").await;
    let body = client
        .ok("setBreakpoints", json!({ "source": { "path": lib_path() }, "breakpoints": [{ "line": line }] }))
        .await;
    assert_eq!(body["breakpoints"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["breakpoints"][0]["line"], line);
    client.ok("setExceptionBreakpoints", json!({ "filters": ["uncaught"] })).await;
    client.ok("configurationDone", Value::Null).await;
    let stopped =
        client.wait_event_where("stopped", Duration::from_secs(30), |e| e["body"]["reason"] == "breakpoint").await;
    (client, stopped)
}

fn find<'a>(variables: &'a Value, name: &str) -> &'a Value {
    variables
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no variable {name} in {variables}"))
}

async fn variables(client: &mut DapClient, reference: &Value) -> Value {
    assert!(reference.as_i64().unwrap_or(0) > 0, "not expandable: {reference}");
    client.ok("variables", json!({ "variablesReference": reference })).await["variables"].clone()
}

async fn full_flow(python: &str, ptvsd: &str) {
    flow(start_site(python, ptvsd, Relay::websockify)).await;
}

async fn flow(remote: RemoteSite) {
    let line = line_of(&lib_path(), "compute-total");
    let (mut client, stopped) = start_session(&remote, line).await;
    let thread = stopped["body"]["threadId"].clone();
    assert_eq!(stopped["body"]["allThreadsStopped"], true);

    let threads = client.ok("threads", Value::Null).await;
    assert!(
        threads["threads"].as_array().unwrap().iter().any(|t| t["id"] == thread && t["name"] == "MainThread"),
        "{threads}"
    );

    // The stack, with local paths.
    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let frames = stack["stackFrames"].as_array().unwrap();
    assert_eq!(frames[0]["name"], "compute");
    assert_eq!(frames[0]["line"], line);
    assert_eq!(frames[0]["source"]["path"], lib_path().to_string_lossy().as_ref());
    assert_eq!(frames[1]["name"], "main");
    assert_eq!(frames[1]["source"]["path"], programs_dir().join("target.py").to_string_lossy().as_ref());
    let paged = client.ok("stackTrace", json!({ "threadId": thread, "startFrame": 1, "levels": 1 })).await;
    assert_eq!(paged["stackFrames"].as_array().unwrap().len(), 1);
    assert_eq!(paged["stackFrames"][0]["name"], "main");
    assert_eq!(paged["totalFrames"], stack["totalFrames"]);
    let frame_id = frames[0]["id"].clone();

    // Nested variables.
    let scopes = client.ok("scopes", json!({ "frameId": frame_id })).await;
    let locals = variables(&mut client, &scopes["scopes"][0]["variablesReference"]).await;
    let n: i64 = find(&locals, "n")["value"].as_str().unwrap().parse().unwrap();
    let data = find(&locals, "data");
    assert_eq!(data["value"], format!("[{}, {}, {{'k': {}}}]", n, n * 2, n));
    assert_eq!(data["indexedVariables"], 3);
    let items = variables(&mut client, &data["variablesReference"]).await;
    assert_eq!(find(&items, "[1]")["value"], (n * 2).to_string());
    let inner = variables(&mut client, &find(&items, "[2]")["variablesReference"]).await;
    assert_eq!(find(&inner, "['k']")["value"], n.to_string());
    assert_eq!(find(&inner, "['k']")["evaluateName"], "data[2]['k']");
    let info = variables(&mut client, &find(&locals, "info")["variablesReference"]).await;
    assert_eq!(find(&info, "['square']")["value"], (n * n).to_string());
    let pt = variables(&mut client, &find(&locals, "pt")["variablesReference"]).await;
    assert_eq!(find(&pt, "x")["value"], n.to_string());
    assert_eq!(find(&pt, "y")["value"], (n + 1).to_string());
    // Paging through a slice of the list.
    let page = client
        .ok(
            "variables",
            json!({ "variablesReference": data["variablesReference"], "filter": "indexed", "start": 1, "count": 2 }),
        )
        .await;
    let names: Vec<_> =
        page["variables"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["[1]", "[2]"]);
    assert_eq!(page["variables"][0]["value"], (n * 2).to_string());

    // Evaluate, and Python's message on failure.
    let result = client
        .ok("evaluate", json!({ "expression": "n * 100 + len(data)", "frameId": frame_id, "context": "repl" }))
        .await;
    assert_eq!(result["result"], (n * 100 + 3).to_string());
    let failed = client
        .request("evaluate", json!({ "expression": "undefined_name_xyz", "frameId": frame_id, "context": "watch" }))
        .await;
    assert_eq!(failed["success"], false);
    assert!(failed["message"].as_str().unwrap().contains("name 'undefined_name_xyz' is not defined"), "{failed}");
    let hover = client.ok("evaluate", json!({ "expression": "pt", "frameId": frame_id, "context": "hover" })).await;
    assert!(hover["variablesReference"].as_i64().unwrap() > 0, "{hover}");

    // Step over, in, out.
    client.ok("next", json!({ "threadId": thread })).await;
    client.wait_event_where("stopped", client::TIMEOUT, |e| e["body"]["reason"] == "step").await;
    let top = client.ok("stackTrace", json!({ "threadId": thread, "levels": 1 })).await;
    assert_eq!(top["stackFrames"][0]["line"], line_of(&lib_path(), "compute-step"));
    client.ok("stepIn", json!({ "threadId": thread })).await;
    client.wait_event_where("stopped", client::TIMEOUT, |e| e["body"]["reason"] == "step").await;
    client.ok("stepOut", json!({ "threadId": thread })).await;
    client.wait_event_where("stopped", client::TIMEOUT, |e| e["body"]["reason"] == "step").await;
    let top = client.ok("stackTrace", json!({ "threadId": thread, "levels": 1 })).await;
    assert_eq!(top["stackFrames"][0]["name"], "main", "{top}");
    assert_eq!(top["stackFrames"][0]["source"]["path"], programs_dir().join("target.py").to_string_lossy().as_ref());

    // A step on a running thread is refused, never sent (it kills ptvsd's loop).
    client.ok("setBreakpoints", json!({ "source": { "path": lib_path() }, "breakpoints": [] })).await;
    let cont = client.ok("continue", json!({ "threadId": thread })).await;
    assert_eq!(cont["allThreadsContinued"], true);
    let refused = client.request("next", json!({ "threadId": thread })).await;
    assert_eq!(refused["success"], false, "{refused}");

    // Output keeps flowing while it runs: the program's own lines, on stdout.
    let before = client.output_text().matches("result").count();
    client.drain(Duration::from_millis(800)).await;
    let text = client.output_text();
    assert!(text.matches("result").count() > before, "no new program output after continue");
    assert!(text.contains(&format!("result {} {}", n + 1, (n + 1) * 10 + 1)), "missing the next result line");
    assert!(client.received.iter().any(|m| m["event"] == "output" && m["body"]["category"] == "stdout"));

    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
    dap_schema::assert_all_valid(&client.received);
    let secret_leaks = client.received.iter().filter(|m| m.to_string().contains(remote.peer.secret())).count();
    assert_eq!(secret_leaks, 0, "the secret appeared in DAP messages");

    // Re-attach to the same, still running process.
    let (mut again, stopped) = start_session(&remote, line).await;
    assert_eq!(stopped["body"]["reason"], "breakpoint");
    again.ok("disconnect", Value::Null).await;
    assert_eq!(again.wait_exit(Duration::from_secs(10)).await, Some(0));
    dap_schema::assert_all_valid(&again.received);
    assert!(remote.peer.output().contains("result"), "the program stopped running");
}

#[tokio::test]
async fn binary_ptvsd_3_0_on_python_3_6() {
    full_flow("3.6", "3.0.0").await;
}

#[tokio::test]
async fn binary_ptvsd_3_0_on_python_3_11() {
    full_flow("3.11", "3.0.0").await;
}

#[tokio::test]
async fn binary_ptvsd_2_2_on_python_3_6() {
    full_flow("3.6", "2.2.0").await;
}

#[tokio::test]
async fn json_ptvsd_3_2_on_python_3_6() {
    full_flow("3.6", "3.2.1").await;
}

#[tokio::test]
async fn json_ptvsd_3_2_on_python_3_11() {
    full_flow("3.11", "3.2.1").await;
}

#[tokio::test]
async fn json_ptvsd_3_1_on_python_3_11() {
    full_flow("3.11", "3.1.0").await;
}

/// `ptvsd-dap relay` in place of websockify: the same flow through our own wss relay.
#[tokio::test]
async fn json_ptvsd_3_2_on_python_3_11_through_the_builtin_relay() {
    flow(start_site("3.11", "3.2.1", Relay::builtin)).await;
}

#[tokio::test]
async fn binary_ptvsd_3_0_on_python_3_6_through_the_builtin_relay() {
    flow(start_site("3.6", "3.0.0", Relay::builtin)).await;
}

/// ptvsd forwards each `write()`: a `print` is its text, then `"\n"`. The session sends
/// them as one `output` event per whole line (`session::output`), in both families.
async fn program_output_in_whole_lines(python: &str, ptvsd: &str) {
    let remote = start_site(python, ptvsd, Relay::websockify);
    let mut client = DapClient::spawn(&[]).await;
    client.initialize().await;
    client.ok("attach", attach_args(&remote)).await;
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    for _ in 0..10 {
        let event =
            client.wait_event_where("output", Duration::from_secs(30), |e| e["body"]["category"] == "stdout").await;
        let text = event["body"]["output"].as_str().unwrap_or_default().to_string();
        let whole_lines = text.ends_with('\n') && text.lines().all(|l| l.starts_with("result "));
        assert!(whole_lines, "{python}/{ptvsd}: an output event that is not whole lines: {text:?}");
    }
    client.ok("disconnect", json!({})).await;
}

#[tokio::test]
async fn program_output_comes_in_whole_lines_binary_ptvsd_3_0() {
    program_output_in_whole_lines("3.6", "3.0.0").await;
}

#[tokio::test]
async fn program_output_comes_in_whole_lines_json_ptvsd_3_2() {
    program_output_in_whole_lines("3.11", "3.2.1").await;
}

/// The emulator of Azure's `/ptvsd` proxy in websockify's place: the upgrade comes before
/// the dial, no Close frames, a graceful close of the ptvsd leg after each session.
#[tokio::test]
async fn json_ptvsd_3_2_on_python_3_11_through_the_azure_proxy_emulator() {
    flow(start_site("3.11", "3.2.1", Relay::azure_windows)).await;
}

#[tokio::test]
async fn binary_ptvsd_3_0_on_python_3_6_through_the_azure_proxy_emulator() {
    flow(start_site("3.6", "3.0.0", Relay::azure_windows)).await;
}

#[tokio::test]
async fn binary_ptvsd_2_2_on_python_3_11_through_the_azure_proxy_emulator() {
    flow(start_site("3.11", "2.2.0", Relay::azure_windows)).await;
}

#[tokio::test]
async fn json_ptvsd_3_1_on_python_3_6_through_the_azure_proxy_emulator() {
    flow(start_site("3.6", "3.1.0", Relay::azure_windows)).await;
}
