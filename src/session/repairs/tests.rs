//! The repairs run in real CPython (2.7, 3.6, 3.11) against the real ptvsd modules of every
//! test peer (`scripts/setup-test-env.sh`), through `check.py`; plus the pure readers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::*;

/// The `peers.json` the integration tests read (`tests/support/peers.rs`), in the same
/// order: `$PTVSD_TEST_PEERS`; `$PTVSD_TEST_ENV_DIR/peers.json`; the setup script's default
/// cache `$XDG_CACHE_HOME/ptvsd-dap/test-env` (`~/.cache/…`); the checkout's `.test-env`.
fn peers_json() -> PathBuf {
    if let Some(path) = std::env::var_os("PTVSD_TEST_PEERS") {
        return PathBuf::from(path);
    }
    if let Some(dir) = std::env::var_os("PTVSD_TEST_ENV_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir).join("peers.json");
    }
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache"),
    };
    let cached = cache.join("ptvsd-dap").join("test-env").join("peers.json");
    let in_checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-env/peers.json");
    if !cached.exists() && in_checkout.exists() {
        return in_checkout;
    }
    cached
}

/// (venv name, python) of every peer in the test environment's `peers.json`.
fn peers() -> Vec<(String, PathBuf)> {
    let file = peers_json();
    let ci = matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"));
    let Ok(text) = std::fs::read_to_string(&file) else {
        assert!(!ci, "{} is missing: run scripts/setup-test-env.sh", file.display());
        eprintln!("SKIPPED: {} is missing (run scripts/setup-test-env.sh)", file.display());
        return Vec::new();
    };
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), PathBuf::from(p["python_path"].as_str().unwrap())))
        .collect()
}

fn expressions() -> String {
    serde_json::json!({
        "attach": attach_repair_expression(),
        "probe": stale_handler_probe_expression(),
        "guard": connection_guard_expression(),
        "names": name_exceptions_expression(),
    })
    .to_string()
}

/// Runs `check.py SCENARIO` with `python`; returns its stdout, failing with its output.
fn run_check(name: &str, python: &Path, scenario: &str, input: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/session/repairs/check.py");
    let mut child = Command::new(python)
        .arg(&script)
        .arg(scenario)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: cannot run {}: {e}", python.display()));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "{name} {scenario}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs one scenario on every peer, a few peers at a time.
fn on_every_peer(scenario: &str) -> Vec<(String, String)> {
    let input = expressions();
    let peers = peers();
    let mut results = Vec::new();
    for chunk in peers.chunks(4) {
        let handles: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|(name, python)| {
                let input = input.clone();
                let scenario = scenario.to_string();
                std::thread::spawn(move || {
                    let out = run_check(&name, &python, &scenario, &input);
                    (name, out)
                })
            })
            .collect();
        for handle in handles {
            results.push(handle.join().unwrap_or_else(|_| panic!("a {scenario} check failed (see above)")));
        }
    }
    results
}

#[test]
fn probe_finds_only_threads_waiting_for_an_answer_in_real_ptvsd() {
    on_every_peer("probe");
}

#[test]
fn guard_turns_a_graceful_close_into_a_detach_in_real_ptvsd() {
    on_every_peer("guard-fin");
}

#[test]
fn guard_turns_a_reset_into_a_detach_in_real_ptvsd() {
    on_every_peer("guard-rst");
}

#[test]
fn guard_installed_while_the_loop_reads_takes_effect_after_a_fence_in_real_ptvsd() {
    on_every_peer("guard-fence-fin");
    on_every_peer("guard-fence-rst");
}

#[test]
fn guard_of_an_old_connection_leaves_the_new_debugger_attached_in_real_ptvsd() {
    on_every_peer("stale-loop");
}

#[test]
fn a_detached_binary_loop_is_freed_at_the_next_attach_not_by_the_collector_in_real_ptvsd() {
    on_every_peer("old-loops");
}

#[test]
fn two_threads_stopping_for_one_break_all_never_wait_for_each_other_in_real_ptvsd() {
    on_every_peer("break-all-locks");
}

#[test]
fn a_debugger_attaching_the_moment_a_lost_connection_detaches_stays_attached_in_real_ptvsd() {
    on_every_peer("attach-in-the-detach");
}

#[test]
fn detached_ptvsd_asks_no_handler_query_and_a_detach_releases_a_parked_one_in_real_ptvsd() {
    on_every_peer("detached");
}

#[test]
fn repairs_run_in_a_frame_that_shadows_builtins_in_real_ptvsd() {
    on_every_peer("shadowed");
}

#[test]
fn an_exec_right_after_the_previous_answer_is_queued_not_refused_in_real_ptvsd() {
    on_every_peer("work-slot");
}

#[test]
fn evaluation_failures_name_their_exception_in_real_ptvsd() {
    for (name, out) in on_every_peer("names") {
        let line = out.lines().next().unwrap_or_default();
        let reports: Vec<String> = serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {out}"));
        let failures: Vec<EvaluationFailure> = reports.iter().map(|r| evaluation_failure(r)).collect();
        let python2 = name.starts_with("py2.");
        let division = if python2 {
            "ZeroDivisionError: integer division or modulo by zero"
        } else {
            "ZeroDivisionError: division by zero"
        };
        let summaries: Vec<&str> = failures.iter().map(|f| f.summary.as_str()).collect();
        assert_eq!(
            summaries[..3],
            ["KeyError: 'k'", division, "NameError: name 'x' is not defined"],
            "{name}: {reports:?}"
        );
        assert!(summaries[3].starts_with("SyntaxError: "), "{name}: {reports:?}");
        for failure in &failures[..3] {
            let traceback = failure.traceback.as_deref().unwrap_or_default();
            assert!(traceback.starts_with("Traceback (most recent call last):\n"), "{name}: {traceback}");
            assert!(traceback.contains("File \"<debug input>\", line 1"), "{name}: {traceback}");
        }
    }
}

#[test]
fn exception_naming_falls_back_to_ptvsd_when_formatting_fails_in_real_ptvsd() {
    on_every_peer("names-fallback");
}

#[test]
fn stale_handler_files_are_read_from_hex() {
    assert_eq!(parse_stale_handler_files("''"), Vec::<String>::new());
    assert_eq!(parse_stale_handler_files("'2f612f622e7079'"), vec!["/a/b.py"]);
    assert_eq!(parse_stale_handler_files("u'2f612e7079,2fc3a92e7079'"), vec!["/a.py", "/é.py"]);
    for junk in ["None", "'2f6'", "'zz'", "('2f61',)", "", "'", "'2f61"] {
        assert_eq!(parse_stale_handler_files(junk), Vec::<String>::new(), "{junk}");
    }
}

#[test]
fn evaluation_failures_are_read_from_a_traceback_or_kept_as_ptvsd_sent_them() {
    let named = evaluation_failure(
        "Traceback (most recent call last):\n  File \"<debug input>\", line 1, in <module>\nKeyError: 'k'\n",
    );
    assert_eq!(named.summary, "KeyError: 'k'");
    assert!(named.traceback.is_some_and(|t| t.contains("<debug input>")));
    let bare = evaluation_failure("ZeroDivisionError: division by zero\n");
    assert_eq!(bare, EvaluationFailure { summary: "ZeroDivisionError: division by zero".to_string(), traceback: None });
    let syntax =
        evaluation_failure("  File \"<debug input>\", line 1\n    1 +\n      ^\nSyntaxError: invalid syntax\n");
    assert_eq!(syntax.summary, "SyntaxError: invalid syntax");
    for own in ["'k'", "<expression cannot be evaluated at this time>", "", "\n"] {
        assert_eq!(evaluation_failure(own).summary, own, "{own:?}");
    }
}

#[test]
fn every_expression_is_one_python_expression() {
    for (name, python) in peers().into_iter().filter(|(n, _)| n.ends_with("3.2.1")) {
        for expression in [
            attach_repair_expression(),
            stale_handler_probe_expression(),
            connection_guard_expression(),
            name_exceptions_expression(),
        ] {
            let out = Command::new(&python)
                .arg("-c")
                .arg("import sys; compile(sys.argv[1], '<debug input>', 'eval')")
                .arg(&expression)
                .output()
                .unwrap();
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// Runs `script` (which prints `repaired`) in every distinct interpreter of the peers.
fn in_every_python(script: &str) {
    let mut seen = std::collections::HashSet::new();
    for (name, python) in peers() {
        let version = name.split('-').next().unwrap_or_default().to_string();
        if !seen.insert(version) {
            continue;
        }
        // Debug allocator (3.x): a use of freed memory crashes instead of passing by luck.
        let out = Command::new(&python).env("PYTHONMALLOC", "debug").arg("-c").arg(script).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "repaired",
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn module_repair_removes_repeated_entries_in_real_python() {
    let script = format!(
        r#"
import sys, types
fake = types.ModuleType('ptvsd.visualstudio_py_debugger')
fake.MODULES = [('a.py', 1), ('b.py', 2), ('a.py', 3), ('c.py', 4), ('b.py', 5), ('a.py', 6)]
sys.modules['ptvsd.visualstudio_py_debugger'] = fake
def f():
    eval(compile({expr:?}, '<repair>', 'eval'))
    return sorted(locals())
names = f()
ok = fake.MODULES == [('a.py', 1), ('b.py', 2), ('c.py', 4)] and names == []
eval(compile({expr:?}, '<repair>', 'eval'))
sys.stdout.write('repaired' if ok and len(fake.MODULES) == 3 else 'broken %r %r' % (fake.MODULES, names))
"#,
        expr = REPAIR_MODULES
    );
    in_every_python(&script);
}

/// Runs the unblock repair against a stand-in for ptvsd's `Thread`: a second release of
/// an already released lock must do nothing.
#[test]
fn unblock_repair_makes_a_second_release_harmless_in_real_python() {
    let script = format!(
        r#"
import sys, threading, types
fake = types.ModuleType('ptvsd.debugger')
class Thread(object):
    def __init__(self): self._block_lock = threading.Lock(); self._block_lock.acquire()
    def unblock(self): self._block_lock.release()
fake.Thread = Thread
sys.modules['ptvsd.debugger'] = fake
t = Thread()
t.unblock()
try:
    t.unblock()
    sys.stdout.write('broken: no error before the repair')
    sys.exit()
except (RuntimeError, Exception):
    pass
t._block_lock.acquire()
eval(compile({expr:?}, '<repair>', 'eval'))
t.unblock()
t.unblock()
ok = not t._block_lock.locked() and 'm' not in dir()
t._block_lock.acquire()
t.unblock()
sys.stdout.write('repaired' if ok and not t._block_lock.locked() else 'broken')
"#,
        expr = REPAIR_UNBLOCK
    );
    in_every_python(&script);
}

/// Runs the output repair against three stacked wrappers shaped like ptvsd's
/// `_DebuggerOutput`/`DebuggerBuffer`, and against none.
#[test]
fn output_repair_collapses_stacked_wrappers_in_real_python() {
    let script = format!(
        r#"
import sys
class B(object):
    def __init__(self, b): self.buffer = b
class W(object):
    def __init__(self, o):
        self.old_out = o
        if hasattr(o, 'buffer'): self.buffer = B(o.buffer)
real = sys.stdout
sys.stdout = W(W(W(real)))
eval(compile({expr:?}, '<repair>', 'eval'))
ok = sys.stdout.old_out is real and getattr(getattr(sys.stdout, 'buffer', None), 'buffer', None) is getattr(real, 'buffer', None)
sys.stdout = real
eval(compile({expr:?}, '<repair>', 'eval'))
ok = ok and sys.stdout is real
sys.stdout.write('repaired' if ok else 'broken')
"#,
        expr = REPAIR_OUTPUT
    );
    in_every_python(&script);
}

/// A thread in the middle of a `print()` on the wrapper of an earlier attach while the
/// output repair bypasses that wrapper: `print()` holds `sys.stdout` borrowed (CPython up
/// to 3.11), so the bypassed wrapper must stay alive until the print is done. Without
/// that, the wrapper is freed under the print (the debuggee crashed with SIGSEGV after a
/// second attach; `PYTHONMALLOC=debug` makes the use of freed memory crash every time).
#[test]
fn output_repair_keeps_a_bypassed_wrapper_alive_for_a_print_in_progress_in_real_python() {
    let script = format!(
        r#"
from __future__ import print_function
import gc, sys, threading, weakref
class Sink(object):
    def __init__(self): self.parts = []
    def write(self, text): self.parts.append(text)
    def flush(self): pass
class W(object):
    def __init__(self, o): self.old_out = o
    def write(self, text):
        if text == 'first':
            entered.set()
            resume.wait()
        self.old_out.write(text)
    def __getattr__(self, name): return getattr(self.old_out, name)
entered, resume, sink, real = threading.Event(), threading.Event(), Sink(), sys.stdout
sys.stdout = W(sink)
printer = threading.Thread(target=lambda: print('first', 'second', sep='', end=''))
printer.start()
entered.wait()
sys.stdout = W(sys.stdout)
earlier = weakref.ref(sys.stdout.old_out)
eval(compile({expr:?}, '<repair>', 'eval'))
gc.collect()
alive = earlier() is not None
resume.set()
printer.join()
outer_bypasses = sys.stdout.old_out is sink
sys.stdout.write('third')
sys.stdout = real
ok = alive and outer_bypasses and [p for p in sink.parts if p] == ['first', 'second', 'third']
sys.stdout.write('repaired' if ok else 'broken: alive %r, bypassed %r, %r' % (alive, outer_bypasses, sink.parts))
"#,
        expr = REPAIR_OUTPUT
    );
    in_every_python(&script);
}

/// The wfastcgi repair in every CPython against a stand-in for wfastcgi's module and
/// ptvsd's wrapper: a request's fresh StringIO gets a wrapper that writes to it, and
/// the repair binds no names and installs once.
#[test]
fn wfastcgi_repair_rewraps_each_requests_streams_in_real_python() {
    let script = format!(
        r#"
import sys, types
try:
    from cStringIO import StringIO
except ImportError:
    from io import StringIO
sent = []
class _DebuggerOutput(object):
    def __init__(self, old_out): self.old_out = old_out
    def write(self, value):
        sent.append(value)
        self.old_out.write(value)
fake = types.ModuleType('wfastcgi')
calls = []
class handle_response(object):
    def __init__(self, *args): calls.append(args)
    @staticmethod
    def _decode_header(name, value): return name, value
fake.handle_response = handle_response
fake.read_fastcgi_record = lambda stream: None
sys.modules['wfastcgi'] = fake
real_out, real_err = sys.stdout, sys.stderr
sys.stdout = _DebuggerOutput(StringIO())
sys.stderr = _DebuggerOutput(StringIO())
def f():
    eval(compile({expr:?}, '<repair>', 'eval'))
    eval(compile({expr:?}, '<repair>', 'eval'))
    return sorted(locals())
names = f()
out = sys.stdout = StringIO()
sys.stderr = StringIO()
result = fake.handle_response(1, 2)
print('handled')
wrapped = type(sys.stdout).__name__
sys.stdout, sys.stderr = real_out, real_err
ok = names == [] and isinstance(result, handle_response) and result._decode_header(1, 2) == (1, 2) and calls == [(1, 2)] and sent == ['handled', chr(10)] and out.getvalue() == 'handled' + chr(10) and wrapped == '_DebuggerOutput'
ok = ok and getattr(fake.handle_response, 'ptvsd_dap_rewraps', False) and fake.handle_response.__bases__ == (handle_response,)
sys.stdout.write('repaired' if ok else 'broken %r %r %r %r' % (names, sent, out.getvalue(), wrapped))
"#,
        expr = REPAIR_WFASTCGI
    );
    in_every_python(&script);
}

/// Runs the repair in a real CPython against stand-ins for both ptvsd layouts (3.1/3.2:
/// the socket inside `DebuggerLoop.instance`; 2.2–3.0: the module's `conn`): both
/// sockets get TCP_NODELAY, twice is harmless, and no name is bound.
#[test]
fn nodelay_repair_sets_tcp_nodelay_on_ptvsds_socket_in_real_python() {
    let script = format!(
        r#"
import socket, sys, types
server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(2)
a = socket.create_connection(server.getsockname()); b = socket.create_connection(server.getsockname())
json = types.ModuleType('ptvsd.debugger')
class SocketIO(object):
    def __init__(self, s): self.__socket = s
class DebuggerLoop(SocketIO):
    instance = None
json.DebuggerLoop = DebuggerLoop
DebuggerLoop.instance = DebuggerLoop(a)
binary = types.ModuleType('ptvsd.visualstudio_py_debugger')
binary.conn = b
sys.modules['ptvsd.debugger'] = json
sys.modules['ptvsd.visualstudio_py_debugger'] = binary
nodelay = lambda s: s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
before = nodelay(a) or nodelay(b)
def f():
    eval(compile({expr:?}, '<repair>', 'eval'))
    eval(compile({expr:?}, '<repair>', 'eval'))
    return sorted(locals())
names = f()
ok = not before and nodelay(a) and nodelay(b) and names == []
DebuggerLoop.instance = None
del binary.conn
eval(compile({expr:?}, '<repair>', 'eval'))
sys.stdout.write('repaired' if ok else 'broken %r %r' % (before, names))
"#,
        expr = REPAIR_NODELAY
    );
    let out =
        std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3 is needed for this test");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "repaired", "{}", String::from_utf8_lossy(&out.stderr));
}
