//! The races of a real session, replayed deterministically: the adapter runs in this
//! process (`DapClient::in_process`, over `tokio::io::duplex`) against the scripted
//! ptvsd (`support::scripted`), which plays each interleaving in a fixed order. Each test
//! is one race from ptvsd's thread model (`shared/docs/ptvsd-threading.md`): the stale
//! stop report, a burst of evaluations at one stop, the nameless frame list, the double
//! pause, disconnect during a pending evaluation, handler queries around the detach and
//! across a reconnect, and terminate right after configurationDone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::time::Duration;

use client::DapClient;
use ptvsd_dap::legacy::messages::{Child, Command, Event};
use serde_json::{json, Value};
use support::scripted::{frame, value, Peer, ScriptedPtvsd};

/// How long "nothing more is sent" is watched for, after the event that would cause it.
const QUIET: Duration = Duration::from_millis(300);

thread_local! {
    /// The id the adapter gave the breakpoint at views.py:10 (one test per thread).
    static BREAKPOINT: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

fn bp() -> i64 {
    BREAKPOINT.with(|b| b.get())
}

const MAIN: i64 = 1;
const WORKER: i64 = 2;

/// A session attached to a scripted ptvsd, up to `initialized`: the attach arguments are
/// the server's url, `requestTimeout` 5 and `extra`'s keys. The server is returned for a
/// reconnect to accept on.
async fn connected(json: bool, extra: Value) -> (DapClient, ScriptedPtvsd, Peer) {
    let ptvsd = ScriptedPtvsd::listen(json).await;
    let mut client = DapClient::in_process();
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    let mut arguments = json!({ "url": ptvsd.url(), "requestTimeout": 5 });
    if let (Some(arguments), Value::Object(extra)) = (arguments.as_object_mut(), extra) {
        arguments.extend(extra);
    }
    let seq = client.send_request("attach", arguments).await;
    let peer = ptvsd.accept().await;
    let response = client.response_to(seq, "attach").await;
    assert_eq!(response["success"], true, "{response}");
    client.wait_event("initialized").await;
    (client, ptvsd, peer)
}

/// An attached, configured session whose attach break was released (its repairs
/// answered, the resume and its fence seen and answered).
async fn attached(json: bool) -> (DapClient, Peer) {
    let (mut client, _ptvsd, mut peer) = connected(json, Value::Null).await;
    // A breakpoint at views.py:10 (`breakpoint_stop` hits it).
    let seq = client
        .send_request(
            "setBreakpoints",
            json!({ "source": { "path": "/srv/app/views.py" }, "breakpoints": [{ "line": 10 }] }),
        )
        .await;
    let Command::SetBreakpoint { id, .. } = peer.until(|c| matches!(c, Command::SetBreakpoint { .. })).await else {
        unreachable!()
    };
    peer.send(Event::BreakpointSet { id }).await;
    client.response_to(seq, "setBreakpoints").await;
    BREAKPOINT.with(|b| b.set(id));
    client.ok("configurationDone", Value::Null).await;
    peer.send(Event::ThreadCreate { thread: WORKER }).await;
    peer.attach_break(MAIN, vec![frame("main", 3, &[])]).await;
    peer.until(|c| matches!(c, Command::ResumeAll)).await;
    let fence = peer.next().await;
    peer.answer_fence(&fence).await;
    (client, peer)
}

/// `thread` stops at a breakpoint (after the fence: a new stop); returns its DAP id.
async fn breakpoint_stop(client: &mut DapClient, peer: &mut Peer, thread: i64) -> i64 {
    peer.stop(
        thread,
        vec![frame("handler", 10, &[("n", value("1", "int"))]), frame("main", 3, &[])],
        Event::BreakpointHit { id: bp(), thread },
    )
    .await;
    let stopped = client.wait_event_where("stopped", Duration::from_secs(5), |_| true).await;
    stopped["body"]["threadId"].as_i64().unwrap()
}

fn stopped_events(client: &DapClient) -> usize {
    client.received.iter().filter(|m| m["event"] == "stopped").count()
}

async fn disconnect(client: &mut DapClient, peer: &mut Peer) {
    let seq = client.send_request("disconnect", json!({})).await;
    peer.until(|c| matches!(c, Command::Detach)).await;
    peer.confirm_detach().await;
    assert_eq!(client.response_to(seq, "disconnect").await["success"], true);
}

#[tokio::test]
async fn a_stop_report_before_the_fence_is_probed_and_a_stale_one_is_dropped() {
    for json in [false, true] {
        let (mut client, mut peer) = attached(json).await;
        let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
        let seq = client.send_request("continue", json!({ "threadId": thread })).await;
        assert!(matches!(peer.next().await, Command::ClearStepping { .. }));
        assert!(matches!(peer.next().await, Command::ResumeAll));
        let fence = peer.next().await;
        assert!(matches!(fence, Command::GetBreakpointHitCount { .. }), "{fence:?}");
        assert_eq!(client.response_to(seq, "continue").await["success"], true);
        // ptvsd wrote this stop before it processed the resume: stale.
        peer.stop(WORKER, vec![frame("handler", 10, &[])], Event::BreakpointHit { id: bp(), thread: WORKER }).await;
        let Command::Execute { text, thread: probed, execution_id, .. } = peer.next().await else { panic!("no probe") };
        assert_eq!((text.as_str(), probed), ("0", WORKER));
        peer.send(Event::ExecutionException {
            execution_id,
            text: "<expression cannot be evaluated at this time>".into(),
        })
        .await;
        peer.answer_fence(&fence).await;
        // The stale stop is neither reported nor acted on; a step on it is refused.
        let step = client.request("next", json!({ "threadId": thread })).await;
        assert_eq!(step["success"], false, "{step}");
        assert!(step["message"].as_str().unwrap().contains("running"), "{step}");
        assert_eq!(stopped_events(&client), 1);
        // After the fence reply a stop is new: reported without a probe.
        let before = peer.log.len();
        peer.stop(WORKER, vec![frame("handler", 10, &[])], Event::BreakpointHit { id: bp(), thread: WORKER }).await;
        client.wait_event_where("stopped", Duration::from_secs(5), |_| true).await;
        assert_eq!(stopped_events(&client), 2);
        disconnect(&mut client, &mut peer).await;
        assert!(
            !peer.log[before..].iter().any(|c| matches!(c, Command::Execute { text, .. } if text == "0")),
            "{:?}",
            &peer.log[before..]
        );
    }
}

#[tokio::test]
async fn an_ambiguous_stop_the_probe_proves_parked_is_reported() {
    let (mut client, mut peer) = attached(false).await;
    let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
    client.send_request("continue", json!({ "threadId": thread })).await;
    peer.until(|c| matches!(c, Command::ResumeAll)).await;
    let fence = peer.next().await;
    peer.stop(MAIN, vec![frame("main", 4, &[])], Event::BreakpointHit { id: bp(), thread: MAIN }).await;
    let Command::Execute { execution_id, .. } = peer.next().await else { panic!("no probe") };
    peer.send(Event::FrameList { thread: MAIN, name: Some("thread-1".into()), frames: vec![frame("main", 4, &[])] })
        .await;
    peer.send(Event::ExecutionResult { execution_id, value: value("0", "int") }).await;
    let stopped = client.wait_event_where("stopped", Duration::from_secs(5), |_| true).await;
    assert_eq!(stopped["body"]["reason"], "breakpoint");
    peer.answer_fence(&fence).await;
    disconnect(&mut client, &mut peer).await;
}

#[tokio::test]
async fn a_burst_of_watches_is_one_round_trip_and_every_one_is_answered() {
    let (mut client, mut peer) = attached(false).await;
    let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let frame_id = stack["stackFrames"][0]["id"].clone();
    let scopes = client.ok("scopes", json!({ "frameId": frame_id })).await;
    let locals = scopes["scopes"][0]["variablesReference"].clone();
    // What VS Code sends at a stop: locals and every watch at once.
    let v = client.send_request("variables", json!({ "variablesReference": locals })).await;
    let watches: Vec<i64> = {
        let mut seqs = Vec::new();
        for expression in ["n", "n + 1", "str(n)"] {
            seqs.push(
                client
                    .send_request(
                        "evaluate",
                        json!({ "expression": expression, "frameId": frame_id, "context": "watch" }),
                    )
                    .await,
            );
        }
        seqs
    };
    let Command::EnumChildren { text, execution_id, .. } = peer.next().await else {
        panic!("the watches were not batched: {:?}", peer.log)
    };
    assert_eq!(text, "(n, n + 1, str(n),)");
    let children = [("1", "int"), ("2", "int"), ("'1'", "str")]
        .iter()
        .enumerate()
        .map(|(i, (repr, ty))| Child {
            name: format!("[{i}]"),
            expression: Some(format!("{text}[{i}]")),
            value: value(repr, ty),
        })
        .collect();
    peer.send(Event::Children { execution_id, children }).await;
    let locals = client.response_to(v, "variables").await;
    assert_eq!(locals["body"]["variables"][0]["value"], "1", "{locals}");
    for (seq, expected) in watches.iter().zip(["1", "2", "'1'"]) {
        let response = client.response_to(*seq, "evaluate").await;
        assert_eq!(response["body"]["result"], expected, "{response}");
    }
    assert!(peer.next_within(QUIET).await.is_none(), "more than one round trip: {:?}", peer.log);
    disconnect(&mut client, &mut peer).await;
}

#[tokio::test]
async fn a_batch_that_raises_is_sent_again_one_at_a_time_in_order() {
    let (mut client, mut peer) = attached(true).await;
    let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let frame_id = stack["stackFrames"][0]["id"].clone();
    let seqs = [
        client.send_request("evaluate", json!({ "expression": "n", "frameId": frame_id, "context": "watch" })).await,
        client.send_request("evaluate", json!({ "expression": "1/0", "frameId": frame_id, "context": "watch" })).await,
    ];
    let Command::EnumChildren { execution_id, .. } = peer.next().await else { panic!() };
    // The tuple raised: ptvsd answers no children.
    peer.send(Event::Children { execution_id, children: vec![] }).await;
    let Command::Execute { text, execution_id, .. } = peer.next().await else { panic!() };
    assert_eq!(text, "n");
    // One item per thread in flight: the second waits for this answer.
    assert!(peer.next_within(QUIET).await.is_none(), "two evaluations in flight on one thread");
    peer.send(Event::ExecutionResult { execution_id, value: value("1", "int") }).await;
    let Command::Execute { text, execution_id, .. } = peer.next().await else { panic!() };
    assert_eq!(text, "1/0");
    peer.send(Event::ExecutionException { execution_id, text: "ZeroDivisionError: division by zero".into() }).await;
    assert_eq!(client.response_to(seqs[0], "evaluate").await["body"]["result"], "1");
    let failed = client.response_to(seqs[1], "evaluate").await;
    assert_eq!(failed["success"], false);
    assert!(failed["message"].as_str().unwrap().contains("ZeroDivisionError"), "{failed}");
    disconnect(&mut client, &mut peer).await;
}

#[tokio::test]
async fn a_nameless_frame_list_leaves_a_stopped_thread_stopped() {
    let (mut client, mut peer) = attached(false).await;
    let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
    // Another thread's stop sends this thread's stack without a name (it saw it running).
    peer.send(Event::FrameList { thread: WORKER, name: None, frames: vec![frame("elsewhere", 50, &[])] }).await;
    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    assert_eq!(stack["stackFrames"][0]["name"], "handler", "{stack}");
    assert_eq!(stack["stackFrames"][0]["line"], 10, "{stack}");
    let seq = client
        .send_request(
            "evaluate",
            json!({ "expression": "n", "frameId": stack["stackFrames"][0]["id"], "context": "repl" }),
        )
        .await;
    let Command::Execute { execution_id, .. } = peer.next().await else { panic!() };
    peer.send(Event::ExecutionResult { execution_id, value: value("1", "int") }).await;
    assert_eq!(client.response_to(seq, "evaluate").await["body"]["result"], "1");
    disconnect(&mut client, &mut peer).await;
}

#[tokio::test]
async fn two_pauses_send_one_break_all_and_give_one_stopped_event() {
    let (mut client, mut peer) = attached(true).await;
    client.ok("pause", json!({ "threadId": 1 })).await;
    client.ok("pause", json!({ "threadId": 1 })).await;
    assert!(matches!(peer.next().await, Command::BreakAll));
    assert!(peer.next_within(QUIET).await.is_none(), "a second break-all: {:?}", peer.log);
    peer.stop(MAIN, vec![frame("main", 3, &[])], Event::AsyncBreak { thread: MAIN }).await;
    client.wait_event_where("stopped", Duration::from_secs(5), |e| e["body"]["allThreadsStopped"] == true).await;
    // 3.2.1 can send a second async break for one request.
    peer.stop(WORKER, vec![frame("handler", 10, &[])], Event::AsyncBreak { thread: WORKER }).await;
    let threads = client.ok("threads", Value::Null).await;
    assert_eq!(stopped_events(&client), 1, "{threads}");
    disconnect(&mut client, &mut peer).await;
}

#[tokio::test]
async fn disconnect_during_a_pending_evaluate_answers_it_before_detaching() {
    let (mut client, mut peer) = attached(false).await;
    let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let evaluate = client
        .send_request(
            "evaluate",
            json!({ "expression": "slow()", "frameId": stack["stackFrames"][0]["id"], "context": "repl" }),
        )
        .await;
    let Command::Execute { execution_id, .. } = peer.next().await else { panic!() };
    let disconnect = client.send_request("disconnect", json!({})).await;
    // No detach while the evaluation runs on the thread.
    assert!(peer.next_within(QUIET).await.is_none(), "{:?}", peer.log);
    peer.send(Event::ExecutionResult { execution_id, value: value("42", "int") }).await;
    assert!(matches!(peer.next().await, Command::Detach));
    peer.confirm_detach().await;
    assert_eq!(client.response_to(evaluate, "evaluate").await["body"]["result"], "42");
    assert_eq!(client.response_to(disconnect, "disconnect").await["success"], true);
}

#[tokio::test]
async fn a_handler_query_right_before_disconnect_is_answered_before_the_detach() {
    let (mut client, mut peer) = attached(false).await;
    peer.send(Event::RequestHandlers { file: "/srv/app/views.py".into() }).await;
    let seq = client.send_request("disconnect", json!({})).await;
    let first = peer.next().await;
    assert!(
        matches!(&first, Command::SetExceptionHandlerInfo { file, .. } if file == "/srv/app/views.py"),
        "{first:?}"
    );
    assert!(matches!(peer.next().await, Command::Detach));
    peer.confirm_detach().await;
    assert_eq!(client.response_to(seq, "disconnect").await["success"], true);
}

#[tokio::test]
async fn a_handler_query_after_the_detach_was_sent_is_answered_before_closing() {
    let (mut client, mut peer) = attached(true).await;
    let seq = client.send_request("disconnect", json!({})).await;
    assert!(matches!(peer.next().await, Command::Detach));
    // The query crossed the detach on the wire (v7/v8 keep reading after it).
    peer.send(Event::RequestHandlers { file: "/srv/app/views.py".into() }).await;
    peer.confirm_detach().await;
    let answer = peer.next().await;
    assert!(
        matches!(&answer, Command::SetExceptionHandlerInfo { file, .. } if file == "/srv/app/views.py"),
        "{answer:?}"
    );
    assert_eq!(client.response_to(seq, "disconnect").await["success"], true);
}

#[tokio::test]
async fn terminate_right_after_configuration_done_detaches_and_leaves_the_app_running() {
    let ptvsd = ScriptedPtvsd::listen(false).await;
    let mut client = DapClient::in_process();
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    let seq = client.send_request("attach", json!({ "url": ptvsd.url() })).await;
    let mut peer = ptvsd.accept().await;
    client.response_to(seq, "attach").await;
    peer.attach_break(MAIN, vec![frame("main", 3, &[])]).await;
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    client.ok("terminate", json!({})).await;
    let detach = peer.until(|c| matches!(c, Command::Detach)).await;
    assert!(matches!(detach, Command::Detach));
    assert!(
        !peer.log.iter().any(|c| matches!(c, Command::Execute { text, .. } if text.contains("_exit"))),
        "the app was ended: {:?}",
        peer.log
    );
    peer.confirm_detach().await;
    client.wait_event("terminated").await;
    client.ok("disconnect", json!({})).await;
}

#[tokio::test]
async fn steps_and_continues_on_running_or_unknown_threads_fail_with_a_sentence() {
    let (mut client, mut peer) = attached(false).await;
    let step = client.request("next", json!({ "threadId": 1 })).await;
    assert_eq!(step["success"], false);
    assert!(step["message"].as_str().unwrap().contains("pause"), "{step}");
    for command in ["continue", "pause", "next"] {
        let response = client.request(command, json!({ "threadId": 777 })).await;
        assert_eq!(response["success"], false, "{command}: {response}");
        assert!(response["message"].as_str().unwrap().contains("no thread 777"), "{response}");
    }
    // Nothing reached ptvsd.
    assert!(peer.next_within(QUIET).await.is_none(), "{:?}", peer.log);
    disconnect(&mut client, &mut peer).await;
}

#[tokio::test]
async fn a_step_says_every_thread_continued() {
    let (mut client, mut peer) = attached(false).await;
    let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
    client.ok("next", json!({ "threadId": thread })).await;
    let continued = client.wait_event("continued").await;
    assert_eq!(continued["body"]["allThreadsContinued"], true, "{continued}");
    assert!(matches!(peer.next().await, Command::StepOver { thread: WORKER }));
    let fence = peer.next().await;
    peer.answer_fence(&fence).await;
    peer.stop(WORKER, vec![frame("handler", 11, &[])], Event::StepDone { thread: WORKER }).await;
    let stopped = client.wait_event_where("stopped", Duration::from_secs(5), |e| e["body"]["reason"] == "step").await;
    assert_eq!(stopped["body"]["threadId"], thread);
    disconnect(&mut client, &mut peer).await;
}

/// With `reconnect`: ptvsd asks a handler query and the connection drops before the
/// answer reaches it (the thread stays parked on it in a process that lives on, e.g. a
/// relay that dropped). The session attaches again, the attach-break evaluations run on
/// the new connection, and the file the stale-query probe finds is answered there.
#[tokio::test]
async fn a_handler_query_lost_with_the_connection_is_answered_after_the_reconnect() {
    let (mut client, ptvsd, mut peer) = connected(false, json!({ "reconnect": true })).await;
    client.ok("configurationDone", Value::Null).await;
    peer.attach_break(MAIN, vec![frame("main", 3, &[])]).await;
    peer.until(|c| matches!(c, Command::ResumeAll)).await;
    let fence = peer.next().await;
    peer.answer_fence(&fence).await;

    peer.send(Event::RequestHandlers { file: "/srv/app/views.py".into() }).await;
    drop(peer);
    client
        .wait_event_where("output", Duration::from_secs(5), |e| {
            e["body"]["output"].as_str().is_some_and(|t| t.contains("the connection to the app ended"))
        })
        .await;

    let mut peer = ptvsd.accept().await;
    peer.attach_break(MAIN, vec![frame("main", 3, &[])]).await;
    let Command::Execute { execution_id, .. } = peer.until(|c| matches!(c, Command::Execute { .. })).await else {
        unreachable!()
    };
    // The probe's answer: the parked query's file, hex-encoded (`repairs`).
    let hex: String = "/srv/app/views.py".bytes().map(|b| format!("{b:02x}")).collect();
    peer.send(Event::ExecutionResult { execution_id, value: value(&format!("'{hex}'"), "str") }).await;
    let answer = peer.until(|c| matches!(c, Command::SetExceptionHandlerInfo { .. })).await;
    assert!(
        matches!(&answer, Command::SetExceptionHandlerInfo { file, .. } if file == "/srv/app/views.py"),
        "{answer:?}"
    );
    client
        .wait_event_where("output", Duration::from_secs(5), |e| {
            e["body"]["output"].as_str().is_some_and(|t| t.contains("attached again"))
        })
        .await;
}

/// The race fixed in 273140f: a step ends in `<frozen …>` code (3.11's frozen stdlib, which
/// the adapter steps out of with justMyCode). The stepped thread's frame list comes alone,
/// so it is probed as a possible silent park, and the probe's answer queues the resume
/// that frees a silently parked thread; its stop event comes next. That resume must not
/// go out: the stop is a real one, and the step out of the frozen code has to be sent to
/// the still stopped thread. (Another thread's probe still in flight holds both in the
/// gate, so the order is fixed.)
#[tokio::test]
async fn a_step_into_frozen_code_steps_out_even_after_a_silent_probe_answered() {
    let (mut client, mut peer) = attached(false).await;
    let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
    client.ok("next", json!({ "threadId": thread })).await;
    assert!(matches!(peer.next().await, Command::StepOver { thread: WORKER }));
    let fence = peer.next().await;
    peer.answer_fence(&fence).await;
    let mut frozen = frame("_find_and_load", 1000, &[]);
    frozen.file = "<frozen importlib._bootstrap>".into();
    let stack = vec![frozen, frame("handler", 10, &[])];
    // The stepped thread's frame list alone: probed.
    peer.send(Event::FrameList { thread: WORKER, name: Some(format!("thread-{WORKER}")), frames: stack.clone() }).await;
    let Command::Execute { text, thread: probed, execution_id: worker_probe, .. } = peer.next().await else {
        panic!("no probe: {:?}", peer.log)
    };
    assert_eq!((text.as_str(), probed), ("0", WORKER));
    // Another thread enters `block()` too: probed, and its probe stays in flight.
    peer.send(Event::FrameList {
        thread: MAIN,
        name: Some(format!("thread-{MAIN}")),
        frames: vec![frame("main", 4, &[])],
    })
    .await;
    let Command::Execute { text, thread: probed, execution_id: main_probe, .. } = peer.next().await else {
        panic!("no probe: {:?}", peer.log)
    };
    assert_eq!((text.as_str(), probed), ("0", MAIN));
    // The stepped thread is parked (the probe answers), then its step stop comes.
    peer.send(Event::ExecutionResult { execution_id: worker_probe, value: value("0", "int") }).await;
    peer.send(Event::StepDone { thread: WORKER }).await;
    // The other thread was running after all: the gate opens.
    peer.send(Event::ExecutionException {
        execution_id: main_probe,
        text: "Error: cannot be evaluated at this time".into(),
    })
    .await;
    let next = peer.next().await;
    let recent: Vec<&Command> = peer.log.iter().rev().take(6).collect();
    assert!(
        matches!(next, Command::StepOut { thread: WORKER }),
        "expected the step out of frozen code, got {next:?}; latest commands first: {recent:?}"
    );
    let fence = peer.next().await;
    peer.answer_fence(&fence).await;
    peer.stop(WORKER, vec![frame("handler", 11, &[])], Event::StepDone { thread: WORKER }).await;
    let stopped = client.wait_event_where("stopped", Duration::from_secs(5), |e| e["body"]["reason"] == "step").await;
    assert_eq!(stopped["body"]["threadId"], thread);
    disconnect(&mut client, &mut peer).await;
}

#[tokio::test]
async fn exception_settings_changed_while_running_are_answered_once_ptvsd_applied_them() {
    for json in [false, true] {
        let (mut client, mut peer) = attached(json).await;
        // The program runs: an exception it raises right after the response must be
        // judged by the new settings, so the response waits for ptvsd's loop to pass them.
        let seq = client.send_request("setExceptionBreakpoints", json!({ "filters": ["raised"] })).await;
        assert!(matches!(peer.next().await, Command::SetExceptionInfo { .. }));
        let fence = peer.next().await;
        client.drain(QUIET).await;
        assert!(
            !client.received.iter().any(|m| m["type"] == "response" && m["request_seq"] == seq),
            "answered before ptvsd applied the settings"
        );
        peer.answer_fence(&fence).await;
        assert_eq!(client.response_to(seq, "setExceptionBreakpoints").await["success"], true);

        // One still waiting when the session ends is answered too, before the disconnect.
        let seq = client.send_request("setExceptionBreakpoints", json!({ "filters": [] })).await;
        assert!(matches!(peer.next().await, Command::SetExceptionInfo { .. }));
        assert!(matches!(peer.next().await, Command::GetBreakpointHitCount { .. }));
        let disconnect = client.send_request("disconnect", json!({})).await;
        peer.until(|c| matches!(c, Command::Detach)).await;
        peer.confirm_detach().await;
        assert_eq!(client.response_to(seq, "setExceptionBreakpoints").await["success"], true);
        assert_eq!(client.response_to(disconnect, "disconnect").await["success"], true);
        let order: Vec<_> =
            client.received.iter().filter(|m| m["type"] == "response").map(|m| m["command"].clone()).collect();
        assert_eq!(order[order.len() - 2..], [json!("setExceptionBreakpoints"), json!("disconnect")]);
    }
}

#[tokio::test]
async fn a_pause_during_a_resume_is_answered_by_a_stop_reported_before_the_fence_reply() {
    for json in [false, true] {
        let (mut client, mut peer) = attached(json).await;
        for stale in [false, true] {
            let thread = breakpoint_stop(&mut client, &mut peer, WORKER).await;
            let seq = client.send_request("continue", json!({ "threadId": thread })).await;
            peer.until(|c| matches!(c, Command::ResumeAll)).await;
            let fence = peer.next().await;
            assert!(matches!(fence, Command::GetBreakpointHitCount { .. }), "{fence:?}");
            assert_eq!(client.response_to(seq, "continue").await["success"], true);
            client.take_buffered_events();
            client.ok("pause", json!({ "threadId": 1 })).await;
            // A stop report written while ptvsd's loop was still resuming: the probe asks.
            peer.stop(WORKER, vec![frame("handler", 10, &[])], Event::BreakpointHit { id: bp(), thread: WORKER }).await;
            let Command::Execute { text, execution_id, .. } = peer.next().await else { panic!("no probe") };
            assert_eq!(text, "0");
            let shown = if stale {
                peer.send(Event::ExecutionException {
                    execution_id,
                    text: "<expression cannot be evaluated at this time>".into(),
                })
                .await;
                peer.answer_fence(&fence).await;
                // The program runs: the pause breaks all at the fence reply.
                assert!(matches!(peer.next().await, Command::BreakAll), "{:?}", peer.log);
                peer.stop(MAIN, vec![frame("main", 3, &[])], Event::AsyncBreak { thread: MAIN }).await;
                None
            } else {
                // Parked: a new stop, shown; it answers the pause.
                peer.send(Event::ExecutionResult { execution_id, value: value("0", "int") }).await;
                let stopped = client.wait_event_where("stopped", Duration::from_secs(5), |_| true).await;
                peer.answer_fence(&fence).await;
                Some(stopped)
            };
            let stopped = match shown {
                Some(stopped) => stopped,
                None => client.wait_event_where("stopped", Duration::from_secs(5), |_| true).await,
            };
            let expected = if stale { "pause" } else { "breakpoint" };
            assert_eq!(stopped["body"]["reason"], expected, "{stopped}");
            // A break-all now would arm ptvsd's flag for nothing.
            assert!(peer.next_within(QUIET).await.is_none(), "after the stop: {:?}", peer.log);
            let seq = client.send_request("continue", json!({ "threadId": stopped["body"]["threadId"] })).await;
            peer.until(|c| matches!(c, Command::ResumeAll)).await;
            let fence = peer.next().await;
            peer.answer_fence(&fence).await;
            assert_eq!(client.response_to(seq, "continue").await["success"], true);
        }
        disconnect(&mut client, &mut peer).await;
    }
}

#[tokio::test]
async fn a_pause_or_stop_on_entry_at_an_attach_break_ptvsd_shows_no_frame_of_stops_where_the_editor_can_show_it() {
    for (json, stop_on_entry) in [(false, false), (true, false), (false, true), (true, true)] {
        let (mut client, _ptvsd, mut peer) = connected(json, json!({ "stopOnEntry": stop_on_entry })).await;
        client.ok("configurationDone", Value::Null).await;
        peer.send(Event::ThreadCreate { thread: WORKER }).await;
        // The main thread takes the attach break inside ptvsd's own code (writing output):
        // ptvsd hides those frames, so its list is empty.
        peer.attach_break(MAIN, vec![]).await;
        let repairs = peer.until(|c| matches!(c, Command::EnumChildren { .. })).await;
        if !stop_on_entry {
            let threads = client.ok("threads", Value::Null).await;
            client.ok("pause", json!({ "threadId": threads["threads"][0]["id"] })).await;
            assert!(matches!(peer.next().await, Command::BreakAll));
        }
        peer.answer_as_ptvsd(&repairs).await;
        // The stop is not shown on a thread without a stack: the attach break is released
        // and, once that is processed, the program is broken into.
        let resume = peer.until(|c| matches!(c, Command::ResumeAll)).await;
        assert!(matches!(resume, Command::ResumeAll));
        let fence = peer.next().await;
        peer.answer_fence(&fence).await;
        assert!(matches!(peer.next().await, Command::BreakAll), "{:?}", peer.log);
        peer.stop(WORKER, vec![frame("handler", 10, &[])], Event::AsyncBreak { thread: WORKER }).await;
        let stopped = client.wait_event_where("stopped", Duration::from_secs(5), |_| true).await;
        assert_eq!(stopped["body"]["reason"], "pause", "{stopped}");
        let stack = client.ok("stackTrace", json!({ "threadId": stopped["body"]["threadId"] })).await;
        assert_eq!(stack["stackFrames"][0]["name"], "handler", "{stack}");
        assert_eq!(stopped_events(&client), 1);
        disconnect(&mut client, &mut peer).await;
    }
}
