//! Several processes in one session (`url` as a list), under real ptvsd 3.0.0 (binary
//! protocol) and 3.2.1 (JSON) running `tests/programs/workers.py`, a pre-forking server
//! with one ptvsd per worker:
//! * requests that land on different workers stop at the same breakpoint, each stop
//!   reported with its own thread id and a `[pid …]` thread name;
//! * one process stepped and evaluated while another keeps answering HTTP requests;
//! * a worker killed mid-session: one console line, the others carry on, and with
//!   `reconnect` the restarted worker is attached again and stops at the breakpoint;
//! * disconnect leaves every worker running and attachable.
//!
//! And the apps themselves: each worker runs its own ptvsd (`ptvsd-dap probe` reaches each
//! one and reports that worker's pid), a request lands on another worker while one is
//! busy, a killed worker comes back on its port, and `tests/programs/restartable.py` comes
//! back on the same port after a kill.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod dap_schema;
mod support;

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

use client::DapClient;
use serde_json::{json, Value};
use support::{free_port, line_of, program, PeerInfo, Peers, RestartableApp, Workers};

fn probe_pid(url: &str) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_ptvsd-dap"))
        .args(["probe", "--json", url])
        .output()
        .expect("run ptvsd-dap probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "probe failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let report: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("no JSON from probe ({e}): {stdout}"));
    report["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {report}"))
}

/// ptvsd 3.0.0 and 3.2.1, on different Pythons.
fn peers() -> [&'static PeerInfo; 2] {
    let peers = Peers::load();
    [peers.peer("3.11", "3.0.0"), peers.peer("3.6", "3.2.1")]
}

/// The worker index and pid in a `worker N pid P …` answer.
fn answered_by(body: &str) -> (usize, u32) {
    let words: Vec<&str> = body.split_whitespace().collect();
    assert!(words.len() >= 4 && words[0] == "worker" && words[2] == "pid", "unexpected answer {body:?}");
    (words[1].parse().unwrap(), words[3].parse().unwrap())
}

#[test]
fn each_worker_runs_its_own_ptvsd_and_takes_requests_while_another_is_busy() {
    for peer in peers() {
        let mut workers = Workers::start(peer, 2);
        let pids = [workers.worker_pid(0), workers.worker_pid(1)];
        assert_ne!(pids[0], pids[1]);
        assert!(!pids.contains(&workers.parent_pid()));
        for (index, pid) in pids.iter().enumerate() {
            assert_eq!(probe_pid(&workers.url(index)), u64::from(*pid), "{}: worker {index}", peer.name);
        }
        // One worker busy: the next requests all land on the other one.
        let hold = workers.hold();
        let (other, other_pid) = answered_by(&workers.get("/pid"));
        let (again, _) = answered_by(&workers.get("/anything"));
        assert_eq!(other, again);
        let (held, held_pid) = answered_by(&hold.release());
        assert_ne!(held, other, "{}: the busy worker answered", peer.name);
        assert_eq!([held_pid, other_pid], [pids[held], pids[other]]);
    }
}

#[test]
fn a_killed_worker_comes_back_on_its_port() {
    for peer in peers() {
        let mut workers = Workers::start(peer, 2);
        let old = workers.worker_pid(1);
        let new = workers.kill_worker(1, true);
        assert_ne!(old, new);
        assert_eq!(probe_pid(&workers.url(1)), u64::from(new), "{}", peer.name);
        assert_eq!(probe_pid(&workers.url(0)), u64::from(workers.worker_pid(0)), "{}", peer.name);
        assert!(workers.output().contains(&format!("worker 1 pid {old} exited")), "{}", workers.output());
    }
}

#[test]
fn the_restartable_app_comes_back_on_the_same_port() {
    for peer in peers() {
        let mut app = RestartableApp::start(peer, &[]);
        let first = app.pid().unwrap();
        assert_eq!(probe_pid(&app.url()), u64::from(first));
        app.kill();
        let second = app.restart();
        assert_ne!(first, second);
        assert_eq!(probe_pid(&app.url()), u64::from(second), "{}", peer.name);
        assert_eq!(app.starts(), 2);
        // EXIT_AFTER: the app ends by itself with status 3.
        let mut crashing = RestartableApp::start(peer, &["0.01", "3"]);
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = crashing.exited() {
                break status;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "{}", crashing.output());
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(3), "{}", crashing.output());
    }
}

// ---- one session, several processes ---------------------------------------------------

const WAIT: Duration = Duration::from_secs(60);
const WORKERS: usize = 3;

fn handle_line() -> i64 {
    i64::from(line_of(&program("workers.py"), "handle"))
}

/// The `url` list of every worker.
fn urls(workers: &Workers) -> Value {
    Value::from((0..workers.ptvsd_ports().len()).map(|i| workers.url(i)).collect::<Vec<_>>())
}

/// An editor attached to every worker, with a breakpoint in `handle_request` (unless
/// `breakpoint` is false) and the configuration done.
async fn attach_all(workers: &Workers, extra: Value, breakpoint: bool) -> DapClient {
    let mut client = DapClient::spawn(&["--log-level", "debug"]).await;
    client.initialize().await;
    let mut arguments = json!({ "url": urls(workers), "redirectOutput": false });
    if let (Some(arguments), Value::Object(extra)) = (arguments.as_object_mut(), extra) {
        arguments.extend(extra);
    }
    client.ok("attach", arguments).await;
    client.wait_event("initialized").await;
    set_breakpoint(&mut client, breakpoint).await;
    client.ok("configurationDone", Value::Null).await;
    // Every worker reports its process.
    let mut pids = BTreeSet::new();
    while pids.len() < workers.ptvsd_ports().len() {
        let event = client.wait_event_where("process", WAIT, |_| true).await;
        pids.insert(event["body"]["systemProcessId"].as_u64().unwrap());
    }
    let expected: BTreeSet<u64> = (0..workers.ptvsd_ports().len()).map(|i| u64::from(workers.worker_pid(i))).collect();
    assert_eq!(pids, expected);
    client
}

async fn set_breakpoint(client: &mut DapClient, on: bool) {
    let breakpoints = if on { json!([{ "line": handle_line() }]) } else { json!([]) };
    let body = client
        .ok("setBreakpoints", json!({ "source": { "path": program("workers.py") }, "breakpoints": breakpoints }))
        .await;
    assert_eq!(body["breakpoints"].as_array().unwrap().len(), usize::from(on), "{body}");
}

/// The pid in a `[pid N] name` thread name.
fn pid_of_name(name: &str) -> u32 {
    let rest = name.strip_prefix("[pid ").unwrap_or_else(|| panic!("no process in the thread name {name:?}"));
    rest[..rest.find(']').unwrap()].parse().unwrap()
}

/// Every thread the session shows: id → pid of its process (from its name).
async fn threads(client: &mut DapClient) -> HashMap<i64, u32> {
    let body = client.ok("threads", Value::Null).await;
    body["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_i64().unwrap(), pid_of_name(t["name"].as_str().unwrap())))
        .collect()
}

/// Sends a request that a worker with the breakpoint takes, and waits for its stop:
/// (the request, the stopped thread, its process's pid).
async fn request_and_stop(client: &mut DapClient, workers: &Workers, path: &str) -> (JoinHandle<String>, i64, u32) {
    let request = workers.get_in_background(path);
    let stopped = client.wait_event_where("stopped", WAIT, |e| e["body"]["reason"] == "breakpoint").await;
    assert_eq!(stopped["body"]["allThreadsStopped"], false, "a stop stops only its process: {stopped}");
    let thread = stopped["body"]["threadId"].as_i64().unwrap();
    let trace = client.ok("stackTrace", json!({ "threadId": thread })).await;
    assert_eq!(trace["stackFrames"][0]["line"], handle_line(), "{trace}");
    let pid = *threads(client).await.get(&thread).unwrap_or_else(|| panic!("thread {thread} not listed"));
    (request, thread, pid)
}

fn assert_valid(client: &DapClient) {
    for message in &client.received {
        if let Err(error) = dap_schema::validate_dap_message_strict(message) {
            panic!("message does not match the DAP schema: {error}\n{message}");
        }
    }
}

async fn requests_on_different_workers_stop_at_the_same_breakpoint(peer: &PeerInfo) {
    let workers = Workers::start(peer, WORKERS);
    let mut client = attach_all(&workers, json!({}), true).await;
    // A stopped worker takes no request: each next one lands on another worker.
    let mut stops = Vec::new();
    for n in 0..WORKERS {
        stops.push(request_and_stop(&mut client, &workers, &format!("/request-{n}")).await);
    }
    let thread_ids: BTreeSet<i64> = stops.iter().map(|(_, t, _)| *t).collect();
    let pids: BTreeSet<u32> = stops.iter().map(|(_, _, p)| *p).collect();
    assert_eq!(thread_ids.len(), WORKERS, "{}: thread ids collide", peer.name);
    assert_eq!(pids, (0..WORKERS).map(|i| workers.worker_pid(i)).collect(), "{}", peer.name);
    // Every thread is named after its process.
    let listed = threads(&mut client).await;
    assert!(listed.values().all(|pid| pids.contains(pid)), "{listed:?}");
    // Forked workers load the same modules: each is told once.
    let modules: Vec<&str> = client
        .received
        .iter()
        .filter(|m| m["event"] == "module")
        .filter_map(|m| m["body"]["module"]["path"].as_str())
        .collect();
    assert!(!modules.is_empty());
    assert_eq!(modules.iter().collect::<BTreeSet<_>>().len(), modules.len(), "{}: a module told twice", peer.name);
    // Each continue resumes its own process: every request is answered by its worker.
    for (request, thread, pid) in stops {
        client.ok("continue", json!({ "threadId": thread })).await;
        let (_, answered) = answered_by(&request.join().unwrap());
        assert_eq!(answered, pid, "{}", peer.name);
    }
    client.ok("disconnect", Value::Null).await;
    assert_valid(&client);
}

#[tokio::test]
async fn requests_on_different_workers_stop_at_the_same_breakpoint_ptvsd_3_0_0() {
    requests_on_different_workers_stop_at_the_same_breakpoint(peers()[0]).await;
}

#[tokio::test]
async fn requests_on_different_workers_stop_at_the_same_breakpoint_ptvsd_3_2_1() {
    requests_on_different_workers_stop_at_the_same_breakpoint(peers()[1]).await;
}

async fn one_process_steps_and_evaluates_while_another_serves(peer: &PeerInfo) {
    let workers = Workers::start(peer, WORKERS);
    let mut client = attach_all(&workers, json!({}), true).await;
    let (request, thread, pid) = request_and_stop(&mut client, &workers, "/stepped").await;
    set_breakpoint(&mut client, false).await;
    // Another worker answers while this one is stopped.
    let (_, other) = answered_by(&workers.get("/pid"));
    assert_ne!(other, pid, "{}", peer.name);

    let trace = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let frame = trace["stackFrames"][0]["id"].clone();
    let path = client.ok("evaluate", json!({ "expression": "path", "frameId": frame, "context": "watch" })).await;
    assert_eq!(path["result"], "'/stepped'", "{}", peer.name);
    client.ok("next", json!({ "threadId": thread })).await;
    let stepped = client.wait_event_where("stopped", WAIT, |e| e["body"]["reason"] == "step").await;
    assert_eq!(stepped["body"]["threadId"], thread, "{stepped}");
    let trace = client.ok("stackTrace", json!({ "threadId": thread })).await;
    assert_eq!(trace["stackFrames"][0]["line"], handle_line() + 1, "{trace}");
    let frame = trace["stackFrames"][0]["id"].clone();
    let answer = client.ok("evaluate", json!({ "expression": "answer", "frameId": frame, "context": "repl" })).await;
    assert!(answer["result"].as_str().unwrap().contains(&format!("pid {pid} path /stepped")), "{answer}");
    // Still stopped after the step: the others still serve.
    let (_, other) = answered_by(&workers.get("/pid"));
    assert_ne!(other, pid, "{}", peer.name);

    client.ok("continue", json!({ "threadId": thread })).await;
    assert_eq!(answered_by(&request.join().unwrap()).1, pid);
    client.ok("disconnect", Value::Null).await;
    assert_valid(&client);
}

#[tokio::test]
async fn one_process_steps_and_evaluates_while_another_serves_ptvsd_3_0_0() {
    one_process_steps_and_evaluates_while_another_serves(peers()[0]).await;
}

#[tokio::test]
async fn one_process_steps_and_evaluates_while_another_serves_ptvsd_3_2_1() {
    one_process_steps_and_evaluates_while_another_serves(peers()[1]).await;
}

/// The console lines that name process `pid`.
fn lines_about(client: &DapClient, pid: u32) -> Vec<Value> {
    client
        .received
        .iter()
        .filter(|m| {
            m["event"] == "output"
                && m["body"]["output"].as_str().is_some_and(|t| t.starts_with(&format!("[pid {pid}]")))
        })
        .cloned()
        .collect()
}

async fn a_killed_worker_is_said_once_and_the_others_carry_on(peer: &PeerInfo) {
    let mut workers = Workers::start(peer, WORKERS);
    let mut client = attach_all(&workers, json!({}), true).await;
    let mut stops = Vec::new();
    for n in 0..WORKERS {
        stops.push(request_and_stop(&mut client, &workers, &format!("/before-{n}")).await);
    }
    let before = lines_about(&client, workers.worker_pid(1)).len();
    let killed = workers.kill_worker(1, false);
    let gone = client
        .wait_event_where("output", WAIT, |e| e["body"]["output"].as_str().is_some_and(|t| t.contains("carry on")))
        .await;
    assert_eq!(gone["body"]["category"], "console", "{gone}");
    assert!(gone["body"]["output"].as_str().unwrap().starts_with(&format!("[pid {killed}]")), "{gone}");
    let killed_thread = stops.iter().find(|(_, _, pid)| *pid == killed).map(|(_, t, _)| *t).unwrap();
    client
        .wait_event_where("thread", WAIT, |e| e["body"]["reason"] == "exited" && e["body"]["threadId"] == killed_thread)
        .await;
    // The others carry on: they are still stopped, and continue answers their requests.
    let listed = threads(&mut client).await;
    assert!(!listed.values().any(|pid| *pid == killed), "{listed:?}");
    for (request, thread, pid) in stops {
        if pid == killed {
            assert!(request.join().is_err(), "the killed worker answered");
            continue;
        }
        client.ok("continue", json!({ "threadId": thread })).await;
        assert_eq!(answered_by(&request.join().unwrap()).1, pid, "{}", peer.name);
    }
    // Said in one line: nothing else about the killed process since it was stopped.
    let about: Vec<Value> = lines_about(&client, killed).into_iter().skip(before).collect();
    assert_eq!(about.len(), 1, "{}: {about:?}", peer.name);
    client.ok("disconnect", Value::Null).await;
    assert_valid(&client);
}

#[tokio::test]
async fn a_killed_worker_is_said_once_and_the_others_carry_on_ptvsd_3_0_0() {
    a_killed_worker_is_said_once_and_the_others_carry_on(peers()[0]).await;
}

#[tokio::test]
async fn a_killed_worker_is_said_once_and_the_others_carry_on_ptvsd_3_2_1() {
    a_killed_worker_is_said_once_and_the_others_carry_on(peers()[1]).await;
}

async fn with_reconnect_a_restarted_worker_is_attached_again(peer: &PeerInfo) {
    let mut workers = Workers::start(peer, WORKERS);
    let mut client = attach_all(&workers, json!({ "reconnect": true }), true).await;
    let old = workers.worker_pid(1);
    let new = workers.kill_worker(1, true);
    let lost = client
        .wait_event_where("output", WAIT, |e| {
            e["body"]["output"].as_str().is_some_and(|t| {
                t.starts_with(&format!("[pid {old}]")) && t.contains("the connection to the app ended")
            })
        })
        .await;
    assert_eq!(lost["body"]["category"], "console", "{lost}");
    client.wait_event_where("process", WAIT, |e| e["body"]["systemProcessId"] == new).await;
    // Every worker, the restarted one too, stops at the breakpoint: no request from the
    // editor set it again.
    let mut stops = Vec::new();
    for n in 0..WORKERS {
        stops.push(request_and_stop(&mut client, &workers, &format!("/after-{n}")).await);
    }
    let pids: BTreeSet<u32> = stops.iter().map(|(_, _, p)| *p).collect();
    assert!(pids.contains(&new), "{}: the restarted worker did not stop: {pids:?}", peer.name);
    for (request, thread, pid) in stops {
        client.ok("continue", json!({ "threadId": thread })).await;
        assert_eq!(answered_by(&request.join().unwrap()).1, pid);
    }
    client.ok("disconnect", Value::Null).await;
    assert_valid(&client);
}

#[tokio::test]
async fn with_reconnect_a_restarted_worker_is_attached_again_ptvsd_3_0_0() {
    with_reconnect_a_restarted_worker_is_attached_again(peers()[0]).await;
}

#[tokio::test]
async fn with_reconnect_a_restarted_worker_is_attached_again_ptvsd_3_2_1() {
    with_reconnect_a_restarted_worker_is_attached_again(peers()[1]).await;
}

async fn disconnect_leaves_every_worker_running_and_attachable(peer: &PeerInfo) {
    let workers = Workers::start(peer, WORKERS);
    let mut client = attach_all(&workers, json!({}), true).await;
    let (request, _, pid) = request_and_stop(&mut client, &workers, "/left").await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(WAIT).await, Some(0));
    assert!(!client.received.iter().any(|m| m["event"] == "terminated"), "a disconnect is not an end of the processes");
    assert_valid(&client);
    // The stopped worker runs again and answers; every worker still serves.
    assert_eq!(answered_by(&request.join().unwrap()).1, pid);
    for index in 0..WORKERS {
        assert_eq!(
            probe_pid(&workers.url(index)),
            u64::from(workers.worker_pid(index)),
            "{}: worker {index}",
            peer.name
        );
    }
    // And the whole set can be attached again.
    let mut again = attach_all(&workers, json!({}), false).await;
    again.ok("disconnect", Value::Null).await;
    assert_valid(&again);
    answered_by(&workers.get("/pid"));
}

#[tokio::test]
async fn disconnect_leaves_every_worker_running_and_attachable_ptvsd_3_0_0() {
    disconnect_leaves_every_worker_running_and_attachable(peers()[0]).await;
}

#[tokio::test]
async fn disconnect_leaves_every_worker_running_and_attachable_ptvsd_3_2_1() {
    disconnect_leaves_every_worker_running_and_attachable(peers()[1]).await;
}

/// An endpoint that is not up yet when the session attaches (with `reconnect`) joins it
/// when it comes up, with the breakpoints the editor set meanwhile: it stops with no
/// request from the editor.
async fn an_endpoint_that_comes_up_later_joins_with_the_breakpoints(peer: &PeerInfo) {
    let workers = Workers::start(peer, 1);
    let mut app = RestartableApp::not_started(peer, &["0.05"]);
    let mut client = DapClient::spawn(&["--log-level", "debug"]).await;
    client.initialize().await;
    client
        .ok("attach", json!({ "url": [workers.url(0), app.url()], "reconnect": true, "redirectOutput": false }))
        .await;
    client.wait_event("initialized").await;
    let work = i64::from(line_of(&program("restartable.py"), "work"));
    let set = client
        .ok(
            "setBreakpoints",
            json!({ "source": { "path": program("restartable.py") }, "breakpoints": [{ "line": work }] }),
        )
        .await;
    let id = set["breakpoints"][0]["id"].clone();
    client.ok("configurationDone", Value::Null).await;
    let pid = app.restart();
    client.wait_event_where("process", WAIT, |e| e["body"]["systemProcessId"] == pid).await;
    let stopped = client.wait_event_where("stopped", WAIT, |e| e["body"]["reason"] == "breakpoint").await;
    assert_eq!(stopped["body"]["hitBreakpointIds"], json!([id]), "{stopped}");
    let thread = stopped["body"]["threadId"].as_i64().unwrap();
    assert_eq!(threads(&mut client).await.get(&thread), Some(&pid), "{}", peer.name);
    let trace = client.ok("stackTrace", json!({ "threadId": thread })).await;
    assert_eq!(trace["stackFrames"][0]["line"], work, "{trace}");
    // The worker that was attached from the start still serves.
    answered_by(&workers.get("/pid"));
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(WAIT).await, Some(0));
    assert!(app.exited().is_none(), "the app ended with the session:\n{}", app.output());
    assert_eq!(probe_pid(&app.url()), u64::from(pid));
    assert_valid(&client);
}

#[tokio::test]
async fn an_endpoint_that_comes_up_later_joins_with_the_breakpoints_ptvsd_3_0_0() {
    an_endpoint_that_comes_up_later_joins_with_the_breakpoints(peers()[0]).await;
}

#[tokio::test]
async fn an_endpoint_that_comes_up_later_joins_with_the_breakpoints_ptvsd_3_2_1() {
    an_endpoint_that_comes_up_later_joins_with_the_breakpoints(peers()[1]).await;
}

/// No endpoint answers: the attach fails with every endpoint's reason, the session ends
/// (`terminated`), and a disconnect is still answered.
#[tokio::test]
async fn an_attach_that_reaches_no_endpoint_fails_with_every_reason() {
    let ports = [free_port(), free_port()];
    let urls: Vec<String> = ports.iter().map(|p| format!("tcp://s@127.0.0.1:{p}")).collect();
    let mut client = DapClient::spawn(&[]).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    let response = client.request("attach", json!({ "url": urls, "connectTimeout": 5 })).await;
    assert_eq!(response["success"], false, "{response}");
    let message = response["message"].as_str().unwrap();
    assert!(message.starts_with("Could not attach to any of the 2 processes"), "{message}");
    for port in ports {
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    }
    assert!(!message.contains("s@"), "the secret is in {message}");
    client.wait_event("terminated").await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(WAIT).await, Some(0));
    assert_valid(&client);
}

/// Closing the editor's side detaches every process (the adapter exits, the app runs on).
#[tokio::test]
async fn an_editor_that_leaves_detaches_every_process() {
    let peer = peers()[1];
    let workers = Workers::start(peer, 2);
    let mut client = attach_all(&workers, json!({}), true).await;
    let (request, _, pid) = request_and_stop(&mut client, &workers, "/left").await;
    client.close_stdin();
    assert_eq!(client.wait_exit(WAIT).await, Some(0));
    assert_eq!(answered_by(&request.join().unwrap()).1, pid);
    for index in 0..2 {
        assert_eq!(probe_pid(&workers.url(index)), u64::from(workers.worker_pid(index)));
    }
}
