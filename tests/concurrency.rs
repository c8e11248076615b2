//! Real concurrency against real ptvsd (3.0.0 on Python 3.6, binary; 3.2.1 on Python
//! 3.11, JSON): many worker threads running the same code, and editor requests sent in
//! parallel the way VS Code sends them. The four groups of issue 10 §4:
//!
//! 1. 8 workers hitting one breakpoint: rounds of stop → threads + stackTrace → `next`
//!    (and rounds with `continue`): every stop has a stack for the stopped thread, every
//!    step gets its `stopped`, ptvsd stays alive, and the workers keep running after the
//!    detach (a new session stops in one of them);
//! 2. locals + 3 watches sent together at each of 40 stops: every response arrives and
//!    is right;
//! 3. `pause` with 12 threads, twice in a row each round: every thread reported stopped
//!    has a stack, and it never deadlocks;
//! 4. a burst of 20 evaluations and variables expansions at one stop: all answered, each
//!    with the right result.
//!
//! `CONCURRENCY_ROUNDS=N` shortens the rounds for a local run; CI runs the full counts.
//! Timings are printed (BENCHMARKS-style numbers), never asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::time::{Duration, Instant};

use client::DapClient;
use serde_json::{json, Value};
use support::{line_of, program, PeerOptions, PtvsdPeer};

/// The two peers of every group: (python, ptvsd).
const PEERS: [(&str, &str); 2] = [("3.6", "3.0.0"), ("3.11", "3.2.1")];

fn rounds(full: usize) -> usize {
    std::env::var("CONCURRENCY_ROUNDS").ok().and_then(|r| r.parse().ok()).map(|r: usize| r.min(full)).unwrap_or(full)
}

async fn attach(peer: &PtvsdPeer, breakpoints: &[(std::path::PathBuf, i64)]) -> DapClient {
    let level = std::env::var("CONCURRENCY_LOG_LEVEL").unwrap_or_else(|_| "debug".to_string());
    let mut client = DapClient::spawn(&["--log-level", &level]).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap", "linesStartAt1": true, "columnsStartAt1": true })).await;
    let url = format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port());
    client.ok("attach", json!({ "url": url, "connectTimeout": 10, "requestTimeout": 15 })).await;
    client.wait_event("initialized").await;
    for (path, line) in breakpoints {
        client.ok("setBreakpoints", json!({ "source": { "path": path }, "breakpoints": [{ "line": line }] })).await;
    }
    client.ok("configurationDone", Value::Null).await;
    client
}

async fn end(mut client: DapClient) {
    client.ok("disconnect", json!({})).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{}", client.stderr());
    assert!(!client.stderr().contains("panicked"), "{}", client.stderr());
}

async fn next_stop(client: &mut DapClient) -> Value {
    client.wait_event_where("stopped", Duration::from_secs(20), |_| true).await
}

/// Resumes (`continue` or a step): stops reported before its response are over (every
/// thread continued), so they are dropped; the next stop comes after it.
async fn resume(client: &mut DapClient, command: &str, thread: &Value) -> Value {
    let response = client.request(command, json!({ "threadId": thread })).await;
    client.take_buffered_events();
    response
}

/// The stopped thread has a stack, and its name is listed.
async fn inspect(client: &mut DapClient, stopped: &Value) -> Value {
    let thread = stopped["body"]["threadId"].clone();
    let threads = client.ok("threads", Value::Null).await;
    assert!(threads["threads"].as_array().unwrap().iter().any(|t| t["id"] == thread), "{threads}");
    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    assert!(
        !stack["stackFrames"].as_array().unwrap().is_empty(),
        "no stack for the stopped thread: {stopped} {stack}\n----- the adapter's log -----\n{}",
        client.stderr_tail(200)
    );
    stack
}

// ---- 1. eight workers, one breakpoint ----------------------------------------------

async fn eight_workers(python: &str, ptvsd: &str, step: bool) {
    let script = program("threads.py");
    let line = line_of(&script, "threads-step") as i64;
    let peer = PtvsdPeer::start(python, ptvsd, &script, PeerOptions::new().args(["8", "0", "0.01"]));
    let mut client = attach(&peer, &[(script.clone(), line)]).await;
    let total = rounds(200);
    let started = Instant::now();
    let mut stopped = next_stop(&mut client).await;
    for round in 0..total {
        inspect(&mut client, &stopped).await;
        let thread = stopped["body"]["threadId"].clone();
        let command = if step { "next" } else { "continue" };
        let response = resume(&mut client, command, &thread).await;
        assert_eq!(response["success"], true, "round {round}: {command} failed: {response}");
        // Every step gets its stop: the step's own, or a breakpoint of another worker
        // (which cancels the step in ptvsd).
        stopped = next_stop(&mut client).await;
    }
    let took = started.elapsed();
    eprintln!(
        "ptvsd {ptvsd}/py{python}: {total} rounds of stop → threads + stackTrace → {} in {took:.1?} ({:.1?} per round)",
        if step { "next" } else { "continue" },
        took / total as u32
    );
    client.ok("continue", json!({ "threadId": stopped["body"]["threadId"] })).await;
    end(client).await;
    // ptvsd is alive and the workers run: a new session stops in one of them.
    let mut again = attach(&peer, &[(script.clone(), line)]).await;
    let stop =
        again.wait_event_where("stopped", Duration::from_secs(20), |e| e["body"]["reason"] == "breakpoint").await;
    inspect(&mut again, &stop).await;
    again.ok("continue", json!({ "threadId": stop["body"]["threadId"] })).await;
    end(again).await;
}

#[tokio::test]
async fn eight_workers_stepping_at_one_breakpoint() {
    for (python, ptvsd) in PEERS {
        eight_workers(python, ptvsd, true).await;
    }
}

#[tokio::test]
async fn eight_workers_continuing_at_one_breakpoint() {
    for (python, ptvsd) in PEERS {
        eight_workers(python, ptvsd, false).await;
    }
}

// ---- 2. locals + 3 watches at each stop -----------------------------------------------

#[tokio::test]
async fn locals_and_three_watches_at_forty_stops() {
    for (python, ptvsd) in PEERS {
        let script = program("threads.py");
        let line = line_of(&script, "threads-step") as i64;
        let peer = PtvsdPeer::start(python, ptvsd, &script, PeerOptions::new().args(["8", "0", "0.01"]));
        let mut client = attach(&peer, &[(script.clone(), line)]).await;
        let total = rounds(40);
        let (mut burst_time, mut continue_before, mut continue_after) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for round in 0..total {
            let stopped = next_stop(&mut client).await;
            let thread = stopped["body"]["threadId"].clone();
            // Before the burst: a continue on a quiet stop, for comparison.
            if round % 2 == 0 {
                let t = Instant::now();
                assert_eq!(resume(&mut client, "continue", &thread).await["success"], true);
                continue_before += t.elapsed();
                continue;
            }
            let stack = inspect(&mut client, &stopped).await;
            let frame = stack["stackFrames"][0]["id"].clone();
            let scopes = client.ok("scopes", json!({ "frameId": frame })).await;
            let started = Instant::now();
            let v = client
                .send_request("variables", json!({ "variablesReference": scopes["scopes"][0]["variablesReference"] }))
                .await;
            let watches: Vec<i64> = {
                let mut seqs = Vec::new();
                for expression in ["idx", "i", "idx * 1000 + i"] {
                    seqs.push(
                        client
                            .send_request(
                                "evaluate",
                                json!({ "expression": expression, "frameId": frame, "context": "watch" }),
                            )
                            .await,
                    );
                }
                seqs
            };
            let locals = client.response_to(v, "variables").await;
            let local = |name: &str| {
                locals["body"]["variables"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["name"] == name)
                    .map(|v| v["value"].as_str().unwrap().parse::<i64>().unwrap())
            };
            let (idx, i) = (local("idx").expect("idx in locals"), local("i").expect("i in locals"));
            for (seq, expected) in watches.iter().zip([idx, i, idx * 1000 + i]) {
                let response = client.response_to(*seq, "evaluate").await;
                assert_eq!(response["success"], true, "round {round}: {response}");
                assert_eq!(response["body"]["result"], expected.to_string(), "round {round}: {response}");
            }
            burst_time += started.elapsed();
            let t = Instant::now();
            assert_eq!(resume(&mut client, "continue", &thread).await["success"], true);
            continue_after += t.elapsed();
        }
        let bursts = (total / 2).max(1) as u32;
        let quiet = (total - total / 2).max(1) as u32;
        eprintln!(
            "ptvsd {ptvsd}/py{python}: locals + 3 watches answered in {:.1?} per stop; continue {:.1?} on a quiet stop, {:.1?} after the burst",
            burst_time / bursts,
            continue_before / quiet,
            continue_after / bursts
        );
        end(client).await;
    }
}

// ---- 3. pause with twelve threads ---------------------------------------------------

#[tokio::test]
async fn pause_twice_with_twelve_threads() {
    for (python, ptvsd) in PEERS {
        let script = program("threads.py");
        let peer = PtvsdPeer::start(python, ptvsd, &script, PeerOptions::new().args(["12", "0", "0.001"]));
        let mut client = attach(&peer, &[]).await;
        let total = rounds(20);
        for round in 0..total {
            let a = client.send_request("pause", json!({ "threadId": 1 })).await;
            let b = client.send_request("pause", json!({ "threadId": 1 })).await;
            assert_eq!(client.response_to(a, "pause").await["success"], true);
            assert_eq!(client.response_to(b, "pause").await["success"], true);
            let stopped = next_stop(&mut client).await;
            assert_eq!(stopped["body"]["allThreadsStopped"], true, "{stopped}");
            inspect(&mut client, &stopped).await;
            let response = resume(&mut client, "continue", &stopped["body"]["threadId"]).await;
            assert_eq!(response["success"], true, "round {round}: {response}");
        }
        eprintln!("ptvsd {ptvsd}/py{python}: {total} rounds of two pauses with 12 threads");
        end(client).await;
    }
}

// ---- 4. a burst of 20 at one stop ---------------------------------------------------

#[tokio::test]
async fn a_burst_of_twenty_evaluations_and_expansions_at_one_stop() {
    for (python, ptvsd) in PEERS {
        let script = program("target.py");
        let lib = program("app/lib.py");
        let line = line_of(&lib, "compute-total") as i64;
        let peer = PtvsdPeer::start(python, ptvsd, &script, PeerOptions::new().args(["0", "0.02"]));
        let mut client = attach(&peer, &[(lib.clone(), line)]).await;
        let stopped = next_stop(&mut client).await;
        let stack = inspect(&mut client, &stopped).await;
        let frame = stack["stackFrames"][0]["id"].clone();
        let scopes = client.ok("scopes", json!({ "frameId": frame })).await;
        let locals =
            client.ok("variables", json!({ "variablesReference": scopes["scopes"][0]["variablesReference"] })).await;
        let var = |name: &str| {
            locals["variables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name}: {locals}"))
        };
        let n: i64 = var("n")["value"].as_str().unwrap().parse().unwrap();
        let evaluations: Vec<(&str, String)> = vec![
            ("n", n.to_string()),
            ("n * 2", (n * 2).to_string()),
            ("len(data)", "3".into()),
            ("info['label']", format!("'item-{n}'")),
            ("pt.x", n.to_string()),
            ("pt.y", (n + 1).to_string()),
            ("data[2]['k']", n.to_string()),
            ("n + 100", (n + 100).to_string()),
            ("str(n)", format!("'{n}'")),
            ("info['square']", (n * n).to_string()),
        ];
        let expansions = ["data", "info", "pt", "data", "info", "pt", "data", "info", "pt", "data"];
        let mut pending = Vec::new();
        for (i, (expression, expected)) in evaluations.iter().enumerate() {
            let context = if i % 2 == 0 { "watch" } else { "repl" };
            let seq = client
                .send_request("evaluate", json!({ "expression": expression, "frameId": frame, "context": context }))
                .await;
            pending.push((seq, "evaluate", expected.clone()));
            let name = expansions[i];
            let seq = client
                .send_request("variables", json!({ "variablesReference": var(name)["variablesReference"] }))
                .await;
            pending.push((seq, "variables", name.to_string()));
        }
        for (seq, command, expected) in pending {
            let response = client.response_to(seq, command).await;
            assert_eq!(response["success"], true, "{response}");
            if command == "evaluate" {
                assert_eq!(response["body"]["result"], expected, "{response}");
                continue;
            }
            let children: Vec<(String, String)> = response["body"]["variables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v["name"].as_str().unwrap_or_default().to_string(),
                        v["value"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let has = |name: &str, value: String| {
                children.iter().any(|(n, v)| {
                    (n == name || n == &format!("'{name}'") || n == &format!("['{name}']")) && *v == value
                })
            };
            match expected.as_str() {
                "data" => assert!(has("[0]", n.to_string()) && has("[1]", (n * 2).to_string()), "data: {children:?}"),
                "info" => assert!(has("n", n.to_string()) && has("square", (n * n).to_string()), "info: {children:?}"),
                _ => assert!(has("x", n.to_string()) && has("y", (n + 1).to_string()), "pt: {children:?}"),
            }
        }
        client.ok("continue", json!({ "threadId": stopped["body"]["threadId"] })).await;
        end(client).await;
    }
}
