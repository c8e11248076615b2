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
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use ptvsd_dap::session::functions::{functions_in_source, lookup_expression, parse_lookup_result, FunctionName};
use serde_json::Value;
use support::{program, PeerInfo, Peers};

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
                let events = run.events.get(short).unwrap_or_else(|| panic!("{}: no code object for {short}", peer.name));
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
        let typed: Vec<&str> = names.iter().map(|(n, _)| *n).chain(["functions.wrapped", "no_such_function", "functions.Klass", "local_value"]).collect();
        let run = run(peer, &[fixture.as_path()], &typed);
        assert_eq!(run.lookups.len(), typed.len());
        for ((name, co_name), text) in names.iter().zip(&run.lookups) {
            let found = parse_lookup_result(text).unwrap_or_else(|e| panic!("{}: {name}: {e}", peer.name));
            assert_eq!(Path::new(&found.remote_path).file_name().unwrap(), "functions.py", "{}: {name}", peer.name);
            assert_eq!(&found.name, co_name, "{}: {name}", peer.name);
            let first = run.events[*co_name].first().copied();
            assert_eq!(Some(found.line), first, "{}: {name}: the lookup says {}, the tracer {first:?}", peer.name, found.line);
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
