//! Function breakpoints against real CPython 2.7, 3.6 and 3.11 (the peers' interpreters).
//!
//! * `static_lines_are_where_every_python_stops`: the line `session::functions` picks for
//!   each function of `tests/programs/functions.py` (and `functions_async.py` on 3.x) is a
//!   line where CPython's tracer reports a `line` event when the function is called
//!   (ptvsd checks line breakpoints on those events), and no event of a later line comes
//!   first: the breakpoint stops before any of the body has run.
//! * `lookup_expression_finds_the_first_line_in_every_python`: the fallback expression,
//!   evaluated as ptvsd evaluates (`eval(text, f_globals, f_locals)` in a function frame),
//!   names the file and the line of the first `line` event for every kind of name.
//!
//! And through the adapter, against real ptvsd 3.0.0 (binary) and 3.2.1 (JSON) running
//! `functions.py` from a "remote" copy, attached over tcp with a path mapping to a "local"
//! copy: `function_breakpoints_stop_in_the_named_functions_…` (names, conditions, unknown
//! and malformed names, the stop reason, an edited local file moving the breakpoint, the
//! clipboard context's untruncated value) and `…_are_looked_up_in_the_debuggee_…` (no
//! local sources: the name is resolved in a stopped frame).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod dap_schema;
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use client::DapClient;
use ptvsd_dap::session::functions::{functions_in_source, lookup_expression, parse_lookup_result, FunctionName};
use serde_json::{json, Value};
use support::{line_of, program, PeerInfo, PeerOptions, Peers, PtvsdPeer};

/// Calls every function (by its code object, arguments `None`) under `sys.settrace` and
/// records the lines of its first `line` events; then evaluates the lookup expressions
/// given on stdin in a function frame. Python 2.7 and 3.x. Prints one JSON object:
/// `{"events": {co_name: [lines]}, "lookups": [text]}`.
const HARNESS: &str = r#"
import json, os, sys, types
sys.path.insert(0, os.path.dirname(sys.argv[1]))

class Stop(Exception):
    pass

def cells(n):
    def make(v):
        return (lambda: v).__closure__[0]
    return tuple(make(None) for _ in range(n))

def events(code, g, limit=4):
    f = types.FunctionType(code, g, code.co_name, None, cells(len(code.co_freevars)) if code.co_freevars else None)
    n = code.co_argcount
    kwonly = getattr(code, 'co_kwonlyargcount', 0)
    kw = dict((name, None) for name in code.co_varnames[n:n + kwonly])
    seen = []
    def local(frame, event, arg):
        if frame.f_code is code and event == 'line':
            seen.append(frame.f_lineno)
            if len(seen) >= limit:
                raise Stop()
        return local
    def top(frame, event, arg):
        return local if frame.f_code is code else None
    sys.settrace(top)
    try:
        r = f(*([None] * n), **kw)
        if code.co_flags & 0x20:
            next(r)
        elif code.co_flags & 0x180:
            r.send(None)
    except BaseException:
        pass
    finally:
        sys.settrace(None)
    return seen

def walk(code):
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield c
            for d in walk(c):
                yield d

out = {'events': {}, 'lookups': []}
for path in sys.argv[1:]:
    top_code = compile(open(path).read(), path, 'exec')
    for c in walk(top_code):
        if not c.co_name.startswith('<'):
            out['events'][c.co_name] = events(c, {'__name__': 'fixture', '__builtins__': __builtins__})

import functions
def stopped_here(expressions):
    local_value = 1
    results = []
    for e in expressions:
        results.append(eval(e, globals(), locals()))
    return results
out['lookups'] = stopped_here(json.load(sys.stdin))
sys.stdout.write(json.dumps(out))
"#;

struct Run {
    events: BTreeMap<String, Vec<u32>>,
    lookups: Vec<String>,
}

fn run(peer: &PeerInfo, files: &[&Path], names: &[&str]) -> Run {
    let expressions: Vec<String> = names.iter().map(|n| lookup_expression(&FunctionName::parse(n).unwrap())).collect();
    let mut child = Command::new(&peer.python_path)
        .arg("-c")
        .arg(HARNESS)
        .args(files)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", peer.python_path.display()));
    child.stdin.take().unwrap().write_all(&serde_json::to_vec(&expressions).unwrap()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{} harness failed: {}", peer.name, String::from_utf8_lossy(&output.stderr));
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let events = serde_json::from_value(value["events"].clone()).unwrap();
    let lookups = serde_json::from_value(value["lookups"].clone()).unwrap();
    Run { events, lookups }
}

/// One interpreter per Python version the peers cover (2.7 is optional off CI).
fn interpreters() -> Vec<&'static PeerInfo> {
    let peers = Peers::load();
    let mut out: Vec<&PeerInfo> = Vec::new();
    out.extend(peers.optional_peer("2.7", "3.2.1"));
    out.push(peers.peer("3.6", "3.2.1"));
    out.push(peers.peer("3.11", "3.2.1"));
    out
}

fn fixture_files(peer: &PeerInfo) -> Vec<std::path::PathBuf> {
    let mut files = vec![program("functions.py")];
    if peer.python != "2.7" {
        files.push(program("functions_async.py"));
    }
    files
}

#[test]
fn static_lines_are_where_every_python_stops() {
    for peer in interpreters() {
        let files = fixture_files(peer);
        let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let run = run(peer, &paths, &[]);
        let mut checked = 0;
        for file in &files {
            let source = std::fs::read_to_string(file).unwrap();
            for def in functions_in_source(&source).unwrap() {
                let short = def.qualname.last().unwrap();
                let events =
                    run.events.get(short).unwrap_or_else(|| panic!("{}: no code object for {short}", peer.name));
                let Some(line) = def.body_line else {
                    assert_eq!(short, "doc_only", "only doc_only has no line");
                    continue;
                };
                let at = events.iter().position(|l| *l == line);
                assert!(at.is_some(), "{}: {short}: our line {line} never fires; events {events:?}", peer.name);
                assert!(
                    events[..at.unwrap()].iter().all(|l| *l < line),
                    "{}: {short}: a later line fired before ours ({line}): {events:?}",
                    peer.name
                );
                checked += 1;
            }
        }
        assert!(checked >= 20, "{}: only {checked} functions checked", peer.name);
    }
}

#[test]
fn lookup_expression_finds_the_first_line_in_every_python() {
    // (name as typed, the code object's co_name)
    let names = [
        ("functions.plain", "plain"),
        ("plain", "plain"),
        ("functions.with_doc", "with_doc"),
        ("functions.doc_only", "doc_only"),
        ("functions.passes_first", "passes_first"),
        ("functions.one_liner", "one_liner"),
        ("functions.decorated", "decorated"),
        ("functions.Klass.method", "method"),
        ("Klass.method", "method"),
        ("functions.Klass.Inner.inner_method", "inner_method"),
        ("functions.Klass.static_m", "static_m"),
        ("functions.Klass.class_m", "class_m"),
        ("functions.Klass.prop", "prop"),
        ("functions.gen", "gen"),
        ("functions.outer", "outer"),
        ("functions.loops_forever", "loops_forever"),
        ("functions.starts_with_try", "starts_with_try"),
        ("functions.starts_with_decorated_def", "starts_with_decorated_def"),
        ("functions.multi_line_args", "multi_line_args"),
    ];
    let fixture = program("functions.py");
    for peer in interpreters() {
        let typed: Vec<&str> = names
            .iter()
            .map(|(n, _)| *n)
            .chain(["functions.wrapped", "no_such_function", "functions.Klass", "local_value"])
            .collect();
        let run = run(peer, &[fixture.as_path()], &typed);
        assert_eq!(run.lookups.len(), typed.len());
        for ((name, co_name), text) in names.iter().zip(&run.lookups) {
            let found = parse_lookup_result(text).unwrap_or_else(|e| panic!("{}: {name}: {e}", peer.name));
            assert_eq!(Path::new(&found.remote_path).file_name().unwrap(), "functions.py", "{}: {name}", peer.name);
            assert_eq!(&found.name, co_name, "{}: {name}", peer.name);
            let first = run.events[*co_name].first().copied();
            assert_eq!(
                Some(found.line),
                first,
                "{}: {name}: the lookup says {}, the tracer {first:?}",
                peer.name,
                found.line
            );
        }
        let rest = &run.lookups[names.len()..];
        // `functools.wraps`: 3.x unwraps `__wrapped__` to the user's function; 2.7 has no
        // `__wrapped__` and names the wrapper.
        let wrapped = parse_lookup_result(&rest[0]).unwrap();
        let expected = if peer.python == "2.7" { "wrapper" } else { "wrapped" };
        assert_eq!(wrapped.name, expected, "{}", peer.name);
        for (text, why) in rest[1..].iter().zip(["is not defined", "not a Python function", "not a Python function"]) {
            let err = parse_lookup_result(text).unwrap_err();
            assert!(err.contains(why), "{}: {text:?} → {err}", peer.name);
        }
    }
}

// ---- through the adapter ---------------------------------------------------------------

/// `functions.py` running under ptvsd from a "remote" folder, and a "local" copy of it.
struct App {
    peer: PtvsdPeer,
    _dir: tempfile::TempDir,
    local: std::path::PathBuf,
    remote: std::path::PathBuf,
}

impl App {
    fn start(info: &PeerInfo) -> App {
        let dir = tempfile::tempdir().unwrap();
        let (local, remote) = (dir.path().join("local"), dir.path().join("site"));
        for root in [&local, &remote] {
            std::fs::create_dir_all(root).unwrap();
            std::fs::copy(program("functions.py"), root.join("functions.py")).unwrap();
        }
        let peer =
            PtvsdPeer::start_peer(info, &remote.join("functions.py"), PeerOptions::new().args(["0.05"]).cwd(&remote));
        App { peer, _dir: dir, local, remote }
    }

    fn url(&self) -> String {
        format!("tcp://{}@127.0.0.1:{}", self.peer.secret(), self.peer.port())
    }
}

fn mark(name: &str) -> i64 {
    i64::from(line_of(&program("functions.py"), name))
}

/// initialize and attach; returns the client and the capabilities. The caller sets its
/// breakpoints and sends configurationDone.
async fn attach(args: Value) -> (DapClient, Value) {
    let mut client = DapClient::spawn(&["--log-level", "debug"]).await;
    let caps = client.initialize().await;
    client.ok("attach", args).await;
    client.wait_event("initialized").await;
    (client, caps)
}

/// Waits for a stop; returns (reason, hit ids, DAP thread id, top frame line, top frame id).
async fn stopped(client: &mut DapClient) -> (String, Vec<i64>, i64, i64, i64) {
    let event = client.wait_event("stopped").await;
    let thread = event["body"]["threadId"].as_i64().unwrap();
    let trace = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let top = &trace["stackFrames"][0];
    let hits = event["body"]["hitBreakpointIds"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    (
        event["body"]["reason"].as_str().unwrap_or_default().to_string(),
        hits,
        thread,
        top["line"].as_i64().unwrap(),
        top["id"].as_i64().unwrap(),
    )
}

async fn function_breakpoints_through_the_adapter(python: &str, ptvsd: &str) {
    let app = App::start(Peers::load().peer(python, ptvsd));
    let (mut client, caps) =
        attach(json!({ "url": app.url(), "pathMappings": [{ "localRoot": app.local, "remoteRoot": app.remote }] }))
            .await;
    assert_eq!(caps["supportsFunctionBreakpoints"], true);
    assert_eq!(caps["supportsClipboardContext"], true);
    let body = client
        .ok(
            "setFunctionBreakpoints",
            json!({ "breakpoints": [
                { "name": "plain", "condition": "a % 2 == 0" },
                { "name": "functions.Klass.method", "hitCondition": "2" },
                { "name": "no_such_function" },
                { "name": "1bad" },
                { "name": "doc_only" },
            ] }),
        )
        .await;
    let bps = body["breakpoints"].as_array().unwrap().clone();
    assert_eq!(bps.len(), 5, "{body}");
    let local_file = app.local.join("functions.py");
    assert_eq!(bps[0]["line"], mark("plain body"), "{body}");
    assert_eq!(bps[0]["source"]["path"], json!(local_file), "{body}");
    assert_eq!(bps[1]["line"], mark("method body"), "{body}");
    assert_eq!(bps[2]["verified"], false);
    assert!(bps[2]["message"].as_str().unwrap().contains("No function `no_such_function`"), "{body}");
    assert_eq!(bps[3]["reason"], "failed");
    assert!(bps[4]["message"].as_str().unwrap().contains("no statement to stop on"), "{body}");
    let (plain_id, method_id) = (bps[0]["id"].as_i64().unwrap(), bps[1]["id"].as_i64().unwrap());
    client.ok("configurationDone", Value::Null).await;
    // Bound in the debuggee: verified.
    client
        .wait_event_where("breakpoint", Duration::from_secs(30), |e| {
            e["body"]["breakpoint"]["id"] == plain_id && e["body"]["breakpoint"]["verified"] == true
        })
        .await;

    // The first stop: `plain` with an even argument.
    let (reason, hits, thread, line, frame) = stopped(&mut client).await;
    assert_eq!((reason.as_str(), hits.as_slice(), line), ("function breakpoint", &[plain_id][..], mark("plain body")));
    let a = client.ok("evaluate", json!({ "expression": "a", "frameId": frame, "context": "repl" })).await;
    assert_eq!(a["result"].as_str().unwrap().parse::<i64>().unwrap() % 2, 0, "{a}");
    // The clipboard gets the whole value; the repl shows ptvsd's cut repr.
    let long = "'x' * 70000";
    let repl = client.ok("evaluate", json!({ "expression": long, "frameId": frame, "context": "repl" })).await;
    let clipboard =
        client.ok("evaluate", json!({ "expression": long, "frameId": frame, "context": "clipboard" })).await;
    assert!(repl["result"].as_str().unwrap().len() < 70_000);
    assert_eq!(clipboard["result"].as_str().unwrap(), format!("'{}'", "x".repeat(70_000)));
    let list = client
        .ok(
            "evaluate",
            json!({ "expression": "list(range(40))  # a comment", "frameId": frame, "context": "clipboard" }),
        )
        .await;
    assert_eq!(list["result"].as_str().unwrap(), format!("{:?}", (0..40).collect::<Vec<i32>>()));
    // `no_such_function` was asked of the debuggee at this stop: still unknown there.
    let no_such = bps[2]["id"].clone();
    let answer = client
        .wait_event_where("breakpoint", Duration::from_secs(30), |e| e["body"]["breakpoint"]["id"] == no_such)
        .await;
    assert!(answer["body"]["breakpoint"]["message"].as_str().unwrap().contains("The debuggee says"), "{answer}");

    // An edited local file: the breakpoint follows the function at the next stop.
    let text = std::fs::read_to_string(&local_file).unwrap();
    std::fs::write(&local_file, format!("# one more line\n{text}")).unwrap();
    client.ok("continue", json!({ "threadId": thread })).await;
    // The next stop: Klass.method on its second call (hit condition 2), or plain again.
    let mut seen_method = false;
    for _ in 0..6 {
        let (reason, hits, thread, line, _) = stopped(&mut client).await;
        assert_eq!(reason, "function breakpoint");
        if hits == [method_id] {
            assert_eq!(line, mark("method body"));
            seen_method = true;
        } else {
            assert_eq!(hits, [plain_id]);
        }
        client.ok("continue", json!({ "threadId": thread })).await;
        if seen_method {
            break;
        }
    }
    assert!(seen_method, "Klass.method never stopped");
    let moved = client
        .wait_event_where("breakpoint", Duration::from_secs(30), |e| {
            e["body"]["breakpoint"]["id"] == plain_id && e["body"]["breakpoint"]["line"] == mark("plain body") + 1
        })
        .await;
    assert_eq!(moved["body"]["reason"], "changed");
    // Cleared: the app runs on untouched.
    let body = client.ok("setFunctionBreakpoints", json!({ "breakpoints": [] })).await;
    assert_eq!(body["breakpoints"], json!([]));
    client.ok("disconnect", Value::Null).await;
    dap_schema::assert_all_valid(&client.received);
}

#[tokio::test]
async fn function_breakpoints_stop_in_the_named_functions_ptvsd_3_0_0() {
    function_breakpoints_through_the_adapter("3.11", "3.0.0").await;
}

#[tokio::test]
async fn function_breakpoints_stop_in_the_named_functions_ptvsd_3_2_1() {
    function_breakpoints_through_the_adapter("3.6", "3.2.1").await;
}

/// No path mapping: nothing local to search, so the name is looked up in the debuggee at
/// the first stop (a line breakpoint by the debuggee's path), and the function breakpoint
/// then stops as any other.
async fn looked_up_in_the_debuggee(python: &str, ptvsd: &str) {
    let app = App::start(Peers::load().peer(python, ptvsd));
    let (mut client, _) = attach(json!({ "url": app.url() })).await;
    let body = client.ok("setFunctionBreakpoints", json!({ "breakpoints": [{ "name": "plain" }] })).await;
    let fb = body["breakpoints"][0].clone();
    assert_eq!(fb["verified"], false);
    assert!(fb["message"].as_str().unwrap().contains("no local folder is mapped"), "{fb}");
    let remote_file = app.remote.join("functions.py");
    client
        .ok(
            "setBreakpoints",
            json!({ "source": { "path": remote_file }, "breakpoints": [{ "line": mark("method body") }] }),
        )
        .await;
    client.ok("configurationDone", Value::Null).await;
    let (reason, _, thread, line, _) = stopped(&mut client).await;
    assert_eq!((reason.as_str(), line), ("breakpoint", mark("method body")));
    let found = client
        .wait_event_where("breakpoint", Duration::from_secs(30), |e| {
            e["body"]["breakpoint"]["id"] == fb["id"] && e["body"]["breakpoint"]["line"] == mark("plain body")
        })
        .await;
    assert!(
        found["body"]["breakpoint"].get("source").is_none()
            || found["body"]["breakpoint"]["source"]["path"] == json!(remote_file),
        "{found}"
    );
    client.ok("setBreakpoints", json!({ "source": { "path": remote_file }, "breakpoints": [] })).await;
    client.ok("continue", json!({ "threadId": thread })).await;
    let (reason, hits, _, line, _) = stopped(&mut client).await;
    assert_eq!(
        (reason.as_str(), hits, line),
        ("function breakpoint", vec![fb["id"].as_i64().unwrap()], mark("plain body"))
    );
    client.ok("disconnect", Value::Null).await;
    dap_schema::assert_all_valid(&client.received);
}

#[tokio::test]
async fn function_breakpoints_without_local_sources_are_looked_up_in_the_debuggee_ptvsd_3_0_0() {
    looked_up_in_the_debuggee("3.11", "3.0.0").await;
}

#[tokio::test]
async fn function_breakpoints_without_local_sources_are_looked_up_in_the_debuggee_ptvsd_3_2_1() {
    looked_up_in_the_debuggee("3.6", "3.2.1").await;
}
