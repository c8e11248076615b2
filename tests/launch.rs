//! The `launch` request against real ptvsd: the adapter starts `tests/programs/launchee.py`
//! under a venv's Python, with arguments, a working directory and an environment
//! variable, attaches, stops at a breakpoint, forwards stdout and stderr separately and
//! once, and stops the whole process tree on `terminate`; a program that ends by itself
//! gives `exited` with its code, then `terminated`; unsuitable interpreters and missing
//! programs are refused with one clear sentence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod dap_schema;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use client::DapClient;
use serde_json::{json, Value};
use support::{is_ci, line_of, program, programs_dir, PeerInfo, Peers};

fn lib_path() -> PathBuf {
    programs_dir().join("app").join("lib.py")
}

async fn start() -> DapClient {
    let mut client = DapClient::spawn(&["--log-level", "debug"]).await;
    client.initialize().await;
    client
}

fn output_of(client: &DapClient, category: &str) -> String {
    client
        .received
        .iter()
        .filter(|m| m["event"] == "output" && m["body"]["category"] == category)
        .filter_map(|m| m["body"]["output"].as_str())
        .collect()
}

/// Waits until `category` output contains `needle`.
async fn wait_output(client: &mut DapClient, category: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = output_of(client, category);
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} on {category} within 20 s; got:\n{text}\nall output:\n{}\nstderr:\n{}",
            client.output_text(),
            client.stderr()
        );
        client.drain(Duration::from_millis(100)).await;
    }
}

/// A process is gone when it has no `/proc` entry or is a zombie nobody reaped yet.
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_gone(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gone(pid) {
        assert!(Instant::now() < deadline, "{what} (pid {pid}) is still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn number_after(text: &str, prefix: &str) -> u32 {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"))
}

/// Launch with args, cwd and env; breakpoint; output split; terminate kills the tree.
async fn breakpoint_flow(peer: &PeerInfo) {
    let cwd = tempfile::tempdir().unwrap();
    let mut client = start().await;
    let launched = client
        .request(
            "launch",
            json!({
                "program": program("launchee.py"),
                "python": peer.python_path,
                "args": ["0", "0", "0.05"],
                "cwd": cwd.path(),
                "env": { "PTVSD_DAP_TEST_VAR": "hello from launch", "PTVSD_DAP_TEST_SPAWN_CHILD": "1" },
                "type": "ptvsd-dap", "request": "launch", "name": "Launch", "__sessionId": "x",
            }),
        )
        .await;
    assert_eq!(launched["success"], true, "{launched}\nstderr:\n{}", client.stderr());
    client.wait_event("initialized").await;
    let process = client.wait_event("process").await;
    assert_eq!(process["body"]["startMethod"], "launch");
    let line = line_of(&lib_path(), "compute-total");
    let body = client
        .ok("setBreakpoints", json!({ "source": { "path": lib_path() }, "breakpoints": [{ "line": line }] }))
        .await;
    assert_eq!(body["breakpoints"][0]["line"], line);
    client.ok("configurationDone", Value::Null).await;
    let stopped =
        client.wait_event_where("stopped", Duration::from_secs(30), |e| e["body"]["reason"] == "breakpoint").await;
    let thread = stopped["body"]["threadId"].clone();

    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    assert_eq!(stack["stackFrames"][0]["name"], "compute");
    assert_eq!(stack["stackFrames"][0]["line"], line);
    assert_eq!(stack["stackFrames"][0]["source"]["path"], lib_path().to_string_lossy().as_ref());
    let frame = stack["stackFrames"][0]["id"].clone();
    let n = client.ok("evaluate", json!({ "expression": "n", "frameId": frame, "context": "repl" })).await;
    assert_eq!(n["result"], "0");

    // Everything printed before the breakpoint, on the right channel, once.
    let stdout = wait_output(&mut client, "stdout", "child pid").await;
    let canonical_cwd = cwd.path().canonicalize().unwrap();
    assert!(stdout.contains("argv 0 0 0.05\n"), "{stdout}");
    assert!(stdout.contains(&format!("cwd {}\n", canonical_cwd.display())), "{stdout}");
    assert_eq!(stdout.matches("env hello from launch\n").count(), 1, "{stdout}");
    let stderr = wait_output(&mut client, "stderr", "launchee stderr line").await;
    assert_eq!(stderr.matches("launchee stderr line").count(), 1, "{stderr}");
    assert!(!stdout.contains("launchee stderr line"), "stderr text on stdout: {stdout}");
    let pid = number_after(&stdout, "pid ");
    let child_pid = number_after(&stdout, "child pid ");
    assert_eq!(process["body"]["systemProcessId"], pid);
    assert!(!gone(child_pid), "the program's child is not running");

    // It runs on after the breakpoint is cleared, printing once per result.
    client.ok("setBreakpoints", json!({ "source": { "path": lib_path() }, "breakpoints": [] })).await;
    client.ok("continue", json!({ "threadId": thread })).await;
    let stdout = wait_output(&mut client, "stdout", "result 2 ").await;
    assert_eq!(stdout.matches("result 1 11\n").count(), 1, "{stdout}");

    // terminate stops the program and its child: exited, then terminated.
    client.ok("terminate", Value::Null).await;
    let exited = client.wait_event("exited").await;
    assert!(exited["body"]["exitCode"].is_i64(), "{exited}");
    client.wait_event("terminated").await;
    wait_gone(pid, "the launched program");
    wait_gone(child_pid, "the launched program's child");
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
    dap_schema::assert_all_valid(&client.received);
}

#[tokio::test]
async fn launch_json_ptvsd_3_2_on_python_3_11() {
    breakpoint_flow(Peers::load().peer("3.11", "3.2.1")).await;
}

#[tokio::test]
async fn launch_binary_ptvsd_2_2_on_python_3_6() {
    breakpoint_flow(Peers::load().peer("3.6", "2.2.0")).await;
}

#[tokio::test]
async fn launch_binary_ptvsd_3_0_on_python_2_7() {
    if let Some(peer) = Peers::load().optional_peer("2.7", "3.0.0") {
        breakpoint_flow(peer).await;
    }
}

/// A program that ends by itself: its output, then `exited` with its code, then
/// `terminated`; disconnect afterwards ends the adapter.
#[tokio::test]
async fn exit_code_then_terminated() {
    let peer = Peers::load().peer("3.11", "3.2.1");
    let mut client = start().await;
    client
        .ok(
            "launch",
            json!({ "program": program("launchee.py"), "python": peer.python_path, "args": ["3", "2", "0.01"] }),
        )
        .await;
    client.wait_event("initialized").await;
    // `sys.exit(3)` is an uncaught SystemExit with a non-zero code, which stops under the
    // default `uncaught` filter (as with debugpy); this test is about the exit itself.
    client.ok("setExceptionBreakpoints", json!({ "filters": [] })).await;
    client.ok("configurationDone", Value::Null).await;
    let exited = client.wait_event("exited").await;
    assert_eq!(exited["body"]["exitCode"], 3, "{exited}");
    client.wait_event("terminated").await;
    let order: Vec<&str> = client
        .received
        .iter()
        .filter_map(|m| m["event"].as_str())
        .filter(|e| *e == "exited" || *e == "terminated")
        .collect();
    assert_eq!(order, ["exited", "terminated"]);
    let stdout = output_of(&client, "stdout");
    assert!(stdout.contains("result 1 11\nlaunchee done\n"), "{stdout}");
    assert!(client.output_text().contains("exited with code 3"), "{}", client.output_text());
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
    dap_schema::assert_all_valid(&client.received);
}

/// Disconnect while running also stops the program (the adapter started it).
#[tokio::test]
async fn disconnect_stops_the_program() {
    let peer = Peers::load().peer("3.11", "3.2.1");
    let mut client = start().await;
    client
        .ok(
            "launch",
            json!({ "program": program("launchee.py"), "python": peer.python_path, "args": ["0", "0", "0.05"] }),
        )
        .await;
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    let stdout = wait_output(&mut client, "stdout", "result 1 ").await;
    let pid = number_after(&stdout, "pid ");
    client.ok("disconnect", json!({ "terminateDebuggee": true })).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
    wait_gone(pid, "the launched program");
}

/// The adapter going away (stdin closed) does not leave the program behind.
#[tokio::test]
async fn closing_the_adapter_stops_the_program() {
    let peer = Peers::load().peer("3.11", "3.2.1");
    let mut client = start().await;
    client
        .ok(
            "launch",
            json!({ "program": program("launchee.py"), "python": peer.python_path, "args": ["0", "0", "0.05"] }),
        )
        .await;
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    let stdout = wait_output(&mut client, "stdout", "result 1 ").await;
    let pid = number_after(&stdout, "pid ");
    client.close_stdin();
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
    wait_gone(pid, "the launched program");
}

async fn refused(arguments: Value) -> String {
    let mut client = start().await;
    let response = client.request("launch", arguments).await;
    assert_eq!(response["success"], false, "{response}");
    let message = response["message"].as_str().unwrap().to_string();
    client.drain(Duration::from_millis(200)).await;
    let important = output_of(&client, "important");
    assert!(important.contains(&message), "the error is not also an output event: {important:?} vs {message:?}");
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
    message
}

/// The base interpreter of a venv (`home` in its pyvenv.cfg): no ptvsd there.
fn base_python(venv: &Path) -> PathBuf {
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    let home =
        cfg.lines().find_map(|l| l.strip_prefix("home")).map(|v| v.trim_start_matches([' ', '=']).trim()).unwrap();
    Path::new(home).join("python3")
}

#[tokio::test]
async fn python_without_ptvsd_is_refused() {
    let peer = Peers::load().peer("3.11", "3.2.1");
    let python = base_python(&peer.venv);
    let message = refused(json!({ "program": program("launchee.py"), "python": python })).await;
    assert!(message.starts_with("ptvsd is not installed for /"), "{message}");
    assert!(message.contains(": pip install 'ptvsd<4'"), "{message}");
}

#[tokio::test]
async fn python_3_12_is_refused() {
    let pythons: Vec<PathBuf> = std::fs::read_dir("/root/.pyenv/versions")
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("3.12."))
                .map(|e| e.path().join("bin").join("python"))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    let Some(python) = pythons.first() else {
        assert!(!is_ci(), "no CPython 3.12 under /root/.pyenv/versions");
        eprintln!("SKIPPED: no CPython 3.12 under /root/.pyenv/versions");
        return;
    };
    let message = refused(json!({ "program": program("launchee.py"), "python": python })).await;
    assert!(message.contains("ptvsd 2.x/3.x cannot run on Python 3.12"), "{message}");
    assert!(message.contains("(it imports `imp`"), "{message}");
    assert!(message.ends_with("choose python3.11 or older with the `python` attribute"), "{message}");
}

#[tokio::test]
async fn missing_program_and_interpreter_are_refused() {
    let peer = Peers::load().peer("3.11", "3.2.1");
    let message =
        refused(json!({ "program": "no_such_script.py", "cwd": programs_dir(), "python": peer.python_path })).await;
    assert!(
        message.contains(&format!("{} does not exist", programs_dir().join("no_such_script.py").display())),
        "{message}"
    );
    let message = refused(json!({ "program": program("launchee.py"), "python": "/no/such/python3" })).await;
    assert!(message.contains("cannot find the Python interpreter `/no/such/python3`"), "{message}");
    let message = refused(json!({ "python": peer.python_path })).await;
    assert!(message.contains("`program` is required"), "{message}");
}

/// stopOnEntry stops at the program's first statement (not in ptvsd's `--wait`), once.
async fn stop_on_entry(peer: &PeerInfo) {
    let mut client = start().await;
    client.ok("launch", json!({ "program": program("launchee.py"), "python": peer.python_path, "args": ["0", "2", "0.01"], "stopOnEntry": true })).await;
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    let stopped = client.wait_event("stopped").await;
    assert_eq!(stopped["body"]["reason"], "entry", "{stopped}");
    let thread = stopped["body"]["threadId"].clone();
    let stack = client.ok("stackTrace", json!({ "threadId": thread, "levels": 1 })).await;
    let first = std::fs::read_to_string(program("launchee.py"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("from __future__"))
        .unwrap()
        + 1;
    assert_eq!(stack["stackFrames"][0]["line"], first, "{stack}");
    assert_eq!(stack["stackFrames"][0]["source"]["path"], program("launchee.py").to_string_lossy().as_ref());
    assert!(output_of(&client, "stdout").is_empty(), "the program ran before the entry stop");
    client.ok("continue", json!({ "threadId": thread })).await;
    let exited = client.wait_event("exited").await;
    assert_eq!(exited["body"]["exitCode"], 0);
    client.wait_event("terminated").await;
    let stops = client.received.iter().filter(|m| m["event"] == "stopped").count();
    assert_eq!(stops, 1, "stopped more than once");
    assert!(output_of(&client, "stdout").contains("launchee done"));
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test]
async fn stop_on_entry_json_ptvsd_3_2_on_python_3_11() {
    stop_on_entry(Peers::load().peer("3.11", "3.2.1")).await;
}

#[tokio::test]
async fn stop_on_entry_binary_ptvsd_2_2_on_python_3_6() {
    stop_on_entry(Peers::load().peer("3.6", "2.2.0")).await;
}

/// terminate while the program is stopped (at the entry stop) ends it too.
#[tokio::test]
async fn terminate_while_stopped() {
    let peer = Peers::load().peer("3.11", "3.2.1");
    let mut client = start().await;
    client
        .ok("launch", json!({ "program": program("launchee.py"), "python": peer.python_path, "stopOnEntry": true }))
        .await;
    client.wait_event("initialized").await;
    let process = client.wait_event("process").await;
    let pid = u32::try_from(process["body"]["systemProcessId"].as_u64().unwrap()).unwrap();
    client.ok("configurationDone", Value::Null).await;
    client.wait_event_where("stopped", Duration::from_secs(30), |e| e["body"]["reason"] == "entry").await;
    client.ok("terminate", Value::Null).await;
    let exited = client.wait_event("exited").await;
    assert_eq!(exited["body"]["exitCode"], 128 + 15, "{exited}");
    client.wait_event("terminated").await;
    wait_gone(pid, "the launched program");
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
}
