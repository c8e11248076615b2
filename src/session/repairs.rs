//! What the adapter runs inside the debuggee to repair ptvsd, and the pure functions around
//! it (building each expression, reading its result).
//!
//! Owns: the Python text of every repair and probe, and how their results and ptvsd's
//! evaluation failures are read. Each is evaluated with `exec` on a thread ptvsd reports
//! stopped (the attach break, or the first stop of a session); the session decides when
//! ([`attach_break_evaluations`]).
//!
//! Must not know: the session's state, the wire dialect, DAP.
//!
//! Rules every expression here keeps (each one is checked by a test that runs it in
//! CPython 2.7, 3.6 and 3.11 against the real ptvsd modules of every supported release):
//! * it is one Python expression that binds no names in the user's frame and sees none of
//!   its names either (the statements run in a fresh private namespace through
//!   `compile`/`eval`);
//! * it is idempotent: what it installs carries a marker and is installed once per
//!   process, however many debuggers attach;
//! * it is invisible to the program: it changes only ptvsd's own functions and state;
//! * it never raises on a ptvsd it does not recognise (it does nothing there).
//!
//! The repairs, in the order [`attach_repair_expression`] runs them:
//! * [`REPAIR_OUTPUT`], [`REPAIR_WFASTCGI`], [`REPAIR_UNBLOCK`], [`REPAIR_MODULES`]: stacked output wrappers,
//!   output lost under wfastcgi (Windows App Service),
//!   a double lock release, a module list that grows at every attach;
//! * [`CONNECTION_GUARD_BODY`]: the end of ptvsd's connection (FIN or reset) counts as a detach,
//!   so a debugger that vanishes leaves the app running, idle and attachable;
//! * [`NAME_EXCEPTIONS_BODY`]: a failed evaluation reports `Type: message` and its traceback,
//!   not only `str(exception)`;
//! * [`WORK_SLOT_BODY`]: an evaluation sent right after the previous one's answer is not
//!   refused as "previous evaluation has not completed";
//! * [`FORGET_OLD_LOOPS_BODY`]: a detached binary loop is freed at the next attach;
//! * [`BREAK_ALL_LOCKS_BODY`]: two threads stopping for one break-all cannot wait for each
//!   other's lock (which wedged the program and ptvsd's command loop);
//! * [`stale_handler_probe_expression`]: lists the files of threads parked forever on a handler query
//!   an earlier debugger never answered (the re-attach bug); the session answers each one.
//!
//! and, as an evaluation of its own (its failure must not stop the others),
//! [`REPAIR_NODELAY`]: `TCP_NODELAY` on ptvsd's own socket (one round trip less per reply
//! over a real network). The list the session runs is [`attach_break_evaluations`].

use super::logpoints::py_literal;
use super::Session;
use crate::legacy::messages::PyObject;

/// One expression run at the attach break, and what to do with its value.
pub(super) struct AttachBreakEvaluation {
    /// One Python expression (binds no names in the user's frame).
    pub text: String,
    /// Called once with the value, or the failure sentence.
    pub on_result: fn(&mut Session, Result<PyObject, String>),
}

/// What the session runs at the attach break (or the first stop of a session), in order.
/// The session queues every entry on the stopped thread through the per-thread scheduler
/// (`work`), hands each result to its `on_result`, then sends one harmless command on the
/// thread if it is still stopped (the guard's fence, [`CONNECTION_GUARD_BODY`]) before it
/// releases or reports the stop. To add a repair: add its body to
/// [`attach_repair_expression`] (one private namespace, so one round trip and one
/// failure), or an entry here when its result needs its own `on_result`.
pub(super) fn attach_break_evaluations() -> Vec<AttachBreakEvaluation> {
    vec![
        AttachBreakEvaluation { text: attach_repair_expression(), on_result: answer_stale_handler_queries },
        // Its own evaluation: `setsockopt` on a socket that is already gone raises, which
        // must not take the other repairs with it.
        AttachBreakEvaluation {
            text: in_private_namespace(REPAIR_NODELAY),
            on_result: |_, result| log_failure(result, "TCP_NODELAY"),
        },
    ]
}

/// Best effort: a failure is only logged.
fn log_failure(result: Result<PyObject, String>, what: &str) {
    if let Err(error) = result {
        tracing::debug!(%error, what, "an attach-break repair failed");
    }
}

/// The repairs' value is the stale handler-query probe's: each file found parked gets the
/// normal handler answer. A failure is only logged (the repairs are best effort).
fn answer_stale_handler_queries(session: &mut Session, result: Result<PyObject, String>) {
    match result {
        Ok(value) => {
            for file in parse_stale_handler_files(value.repr.as_deref().unwrap_or_default()) {
                session.answer_stale_handler_query(file);
            }
        }
        Err(error) => tracing::debug!(%error, "the attach-break repairs failed"),
    }
}

/// ptvsd wraps `sys.stdout`/`sys.stderr` in a new `_DebuggerOutput` at every attach and
/// never unwraps them under `-m ptvsd` or `enable_attach`, so after N attaches every write
/// is reported N times. This expression makes each outermost wrapper point past the
/// stacked ones (and its `buffer` likewise). It is one expression, so it binds no names
/// in the user's frame; it works on Python 2.7 to 3.11 and is a no-op when nothing is
/// stacked.
///
/// The wrapper it bypasses stays alive until the next attach's repair (in the outer
/// wrapper's `ptvsd_dap_bypassed`; that repair lets the one before it go): `print()`
/// holds `sys.stdout` as a borrowed reference for the whole call (CPython up to 3.11),
/// so a thread between two writes of one `print` on the wrapper of the earlier attach
/// would go on with freed memory if that wrapper's last reference went away here. Seen
/// as a debuggee crashing with SIGSEGV in `PyObject_GetAttr` under `builtin_print`
/// right after a second attach (py3.11, ptvsd 3.0.0). Keeping every bypassed wrapper
/// instead (a chain that grows by one per attach) changed when Python's collector frees
/// ptvsd's detached connections enough to fail the stress test's descriptor check.
pub const REPAIR_OUTPUT: &str =
    "list((lambda s, i: i is not s and (s.__dict__.__setitem__('ptvsd_dap_bypassed', s.old_out), \
getattr(s.old_out, '__dict__', {}).pop('ptvsd_dap_bypassed', None), \
setattr(s, 'old_out', i.old_out), \
hasattr(s, 'buffer') and hasattr(i, 'buffer') and setattr(s.buffer, 'buffer', i.buffer.buffer)))\
(s, (lambda f: f(f, s))(lambda f, o: f(f, o.old_out) if type(getattr(o, 'old_out', None)) is type(o) else o)) \
for s in (__import__('sys').stdout, __import__('sys').stderr))";

/// ptvsd releases a stopped thread by releasing a lock the thread then takes again, and
/// picks the threads to release by a flag the thread clears only once it has woken. A
/// resume, step or detach that comes before then releases the lock a second time and
/// raises "release unlocked lock": a resume leaves the rest of the threads stopped for
/// good, a detach dies before ptvsd marks itself detached (every later attach is then
/// refused), and on ptvsd 2.2/3.0 the command loop dies. This expression makes
/// `Thread.unblock` skip a lock that is already released (the thread is being woken
/// anyway). Like [`REPAIR_OUTPUT`] it binds no names and works on Python 2.7 to 3.11,
/// for ptvsd 2.0 to 3.0 (`ptvsd.visualstudio_py_debugger`) and 3.1/3.2 (`ptvsd.debugger`).
pub const REPAIR_UNBLOCK: &str = "list(setattr(m.Thread, 'unblock', lambda self: self._block_lock.release() \
if self._block_lock.locked() else None) for m in (__import__('sys').modules.get('ptvsd.debugger'), \
__import__('sys').modules.get('ptvsd.visualstudio_py_debugger')) if hasattr(m, 'Thread'))";

/// ptvsd appends every loaded module to its `MODULES` list again at every attach (and
/// reports the whole list at the next one), so each attach costs more than the last: after
/// 1000 attaches an app with 1000 modules holds a million entries and sends a million
/// module reports per attach. This expression removes the repeated entries in place (the
/// first one per file stays; entries appended meanwhile by other threads are kept), so
/// the list stays at one entry per module however often the app is attached.
pub const REPAIR_MODULES: &str = "list((lambda l: [l.pop(i) for i in sorted(set(range(len(l))) - \
set(dict((e[0], i) for i, e in reversed(list(enumerate(l)))).values()), reverse=True)])(m.MODULES) \
for m in (__import__('sys').modules.get('ptvsd.debugger'), __import__('sys').modules.get('ptvsd.visualstudio_py_debugger')) \
if hasattr(m, 'MODULES'))";

/// wfastcgi (the FastCGI host of Python sites on Windows App Service) replaces
/// `sys.stdout` and `sys.stderr` with a fresh `StringIO` at every request, so ptvsd's output
/// wrappers, installed on the streams of the moment it attached, are gone at the next
/// request and `print` output stops reaching the editor. This expression (a no-op unless
/// wfastcgi's module is loaded, as `__main__` on Azure or as `wfastcgi`) keeps the current
/// wrappers on the module and subclasses `handle_response` (a class whose static methods
/// wfastcgi also uses), which wfastcgi instantiates right after replacing the streams, so
/// that each request's streams get a copy of the wrapper writing
/// to them (a bare new instance given the wrapper's attributes: `copy` would trip over the
/// wrapper's `__getattr__`): output goes to the editor and into the response as before. Once per process
/// (a marker on the wrapper); each attach only refreshes the wrappers kept. After a
/// detach the copies just write through (ptvsd's own `DETACHED` check). Binds no names;
/// Python 2.7 to 3.11; ptvsd 2.x/3.x (`_DebuggerOutput` in both).
pub const REPAIR_WFASTCGI: &str = "list((setattr(m, 'ptvsd_dap_streams', (__import__('sys').stdout, __import__('sys').stderr)), \
getattr(m.handle_response, 'ptvsd_dap_rewraps', False) or setattr(m, 'handle_response', (lambda orig, rewrap: \
type('handle_response', (orig,), {'ptvsd_dap_rewraps': True, '__init__': (lambda mod: lambda self, *a, **k: \
(rewrap(mod), orig.__init__(self, *a, **k))[1])(m)}))\
(m.handle_response, lambda mod: [setattr(__import__('sys'), name, (lambda c: (c.__dict__.update(w.__dict__), \
c.__dict__.pop('buffer', None), setattr(c, 'old_out', getattr(__import__('sys'), name)), c)[3])(object.__new__(type(w)))) \
for name, w in zip(('stdout', 'stderr'), mod.ptvsd_dap_streams) if type(w).__name__ == '_DebuggerOutput' \
and type(getattr(__import__('sys'), name)).__name__ != '_DebuggerOutput']))) \
for m in set(filter(None, (__import__('sys').modules.get('wfastcgi'), __import__('sys').modules.get('__main__')))) \
if hasattr(m, 'handle_response') and hasattr(m, 'read_fastcgi_record'))";

/// ptvsd writes each message as two `send()` calls (the JSON header and body; the binary
/// dialect field by field) on a socket with Nagle's algorithm on, so over a real network the
/// rest of every reply waits until the adapter's ACK of its first segment has crossed the
/// link: one round trip more per evaluation, step or expansion (BENCHMARKS.md, "Over a
/// WAN link"). This expression sets `TCP_NODELAY` on ptvsd's own socket: `DebuggerLoop`'s
/// socket in 3.1/3.2 (`ptvsd.debugger`, `SocketIO.__socket`), the module's `conn` in
/// 2.2 to 3.0 (`ptvsd.visualstudio_py_debugger`). Setting it again is a no-op; it binds no
/// names and works on Python 2.7 to 3.11; a socket without `setsockopt` is skipped.
pub const REPAIR_NODELAY: &str = "list(s.setsockopt(__import__('socket').IPPROTO_TCP, __import__('socket').TCP_NODELAY, 1) \
for s in (getattr(getattr(m, 'DebuggerLoop', None) and m.DebuggerLoop.instance, '_SocketIO__socket', None) or getattr(m, 'conn', None) \
for m in (__import__('sys').modules.get('ptvsd.debugger'), __import__('sys').modules.get('ptvsd.visualstudio_py_debugger')) if m) \
if hasattr(s, 'setsockopt'))";

/// Shared by the probe and the guard: finds ptvsd's module (`m`, or None) and the threads
/// parked in `is_handled` (2.0/2.1: `IsHandled`) at its *second* `handler_lock.acquire()`,
/// that is, waiting for the answer to a handler query they already sent. The first
/// `acquire` is only a wait for another thread's query and must not be answered (a `sehi`
/// without a pending query releases an unlocked lock, which kills binary ptvsd's loop).
/// 2.0/2.1 have no `filename` local: the file is the raising frame's `co_filename`, as in
/// their REQH. Python 2.7 has no `traceback.walk_stack`, hence the `f_back` walk.
const PARKED_QUERIES: &str = r#"
import sys
m = sys.modules.get('ptvsd.debugger') or sys.modules.get('ptvsd.visualstudio_py_debugger')

def parked_handler_queries(m):
    found = {}
    lock = getattr(getattr(m, 'BREAK_ON', None), 'handler_lock', None)
    if lock is None or not lock.locked():
        return found
    cls = m.BREAK_ON.__class__
    method = getattr(cls, 'is_handled', None) or getattr(cls, 'IsHandled', None)
    code = getattr(getattr(method, '__func__', method), '__code__', None)
    if code is None:
        return found
    try:
        import inspect
        lines, first = inspect.getsourcelines(code)
        waits = [first + i for i, text in enumerate(lines) if 'handler_lock.acquire()' in text]
    except Exception:
        waits = []
    if len(waits) != 2:
        return found
    for frame in list(sys._current_frames().values()):
        while frame is not None:
            if frame.f_code is code and frame.f_lineno == waits[1]:
                name = frame.f_locals.get('filename')
                if name is None:
                    name = frame.f_locals['cur_frame'].f_code.co_filename
                found[name] = frame
            frame = frame.f_back
    return found
"#;

/// Sets `result` to the parked threads' file names, each UTF-8 and hex-encoded, joined by
/// commas (a top-level string: ptvsd's repr cuts strings nested in a list to 30
/// characters, and hex needs no unescaping). See [`parse_stale_handler_files`].
const STALE_HANDLER_PROBE_BODY: &str = r#"
import binascii
result = ','.join(binascii.hexlify(n if isinstance(n, bytes) else n.encode('utf-8')).decode('ascii')
                  for n in sorted(parked_handler_queries(m)))
"#;

/// The stale handler-query probe. Why: a handler query (REQH) that is never answered parks the raising thread forever in
/// `is_handled` with `handler_lock` held; detach does not release it, so the next debugger's
/// breakpoints in that thread never fire, and every other thread's first query blocks too
/// (ptvsd-threading.md §4.3). The session answers each file this finds with a normal
/// `sehi` for that file, which releases the lock and lets the thread run on with the right
/// answer (§4.4). It finds nothing when nothing is parked, so no `sehi` is ever blind.
pub fn stale_handler_probe_expression() -> String {
    in_private_namespace(&format!("{PARKED_QUERIES}{STALE_HANDLER_PROBE_BODY}"))
}

/// Makes ptvsd's command loop treat the end of its connection as a detach.
///
/// ptvsd never detaches on its own when its debugger goes away: after a FIN its reader
/// spins at 100 % CPU forever and the process refuses every later attach; after a reset
/// its loop ends but the process still counts as attached (ptvsd-threading.md §5). Either
/// happens whenever the adapter dies without detaching (SIGKILL, a closed laptop, a relay
/// that drops), and a thread stopped at a breakpoint then stays stopped.
///
/// Handler queries after a detach: ptvsd keeps asking them once detached (its exception
/// settings survive the detach), and the question parks the raising thread with nobody
/// left to answer — after a disconnect while stopped, the first exception of the resumed
/// request does exactly that. So a detached ptvsd asks nothing (`is_handled` says
/// "handled", as with no debugger) — from the moment a detach starts releasing threads
/// (a thread it wakes must not ask before `DETACHED` is set) until the next debugger's
/// connection — and `detach_threads` (every detach: the debugger's, a failed send, the
/// guard's own) also releases a query parked at that moment, as "handled". A thread that
/// was running and had already passed that check when the detach began can still park on
/// its query (a window of microseconds); the next attach's probe answers it.
///
/// This wraps the loop's reader (binary 2.0–3.0: the module global `read_bytes`, looked up
/// at every command; JSON 3.1–3.2: `DebuggerLoop`'s two buffered reads) so that an end of
/// stream or a failed `recv` (reset, any socket error but EINTR) closes the socket and,
/// if this loop is still the current connection and ptvsd is not detached yet, does what
/// a debugger's detach does, minus the reply it cannot send: releases stopped threads (and
/// a parked handler query, above), marks the process detached, runs the detach callbacks;
/// and ends the loop with `DebuggerExitException`, which every loop catches. A JSON loop
/// ends first and the detach follows on a thread of its own (ptvsd's original
/// `start_new_thread`: neither traced nor reported) once the loop's last act, clearing
/// `DebuggerLoop.instance` and `debugger_thread_id`, is done: the detach lets ptvsd's
/// attach server take the next debugger, whose connection that last act would otherwise
/// silence (seen with a relay dropped and an attach right after it). A JSON loop whose connection ends after a newer debugger
/// attached (possible only if its goodbye never came) detaches nothing and parks for good
/// on a private lock instead of ending: ptvsd's `loop()` ends with
/// `DebuggerLoop.instance = None`, which would silence the newer debugger. (A binary loop
/// reads the module's current connection, so there is no old binary loop to tell apart.)
/// Installed once per process (marker `ptvsd_dap_guard`).
///
/// The binary loop is already inside the old `read_bytes` while this runs, so the guard
/// takes effect one command later: the session sends a harmless command after the result
/// (any dialect; JSON loops look the reader up at every line and need none).
const CONNECTION_GUARD_BODY: &str = r#"
import errno, socket

def ptvsd_dap_release_parked_queries():
    try:
        for name in parked_handler_queries(m):
            m.BREAK_ON.handler_cache[name] = [(None, None, set('*'))]
            m.BREAK_ON.handler_lock.release()
    except Exception:
        pass

def ptvsd_dap_connection():
    loop = getattr(m, 'DebuggerLoop', None)
    return loop.instance if hasattr(loop, 'instance') else getattr(m, 'conn', None)

def ptvsd_dap_weakly(connection):
    # Weakly: the detached loop and its socket go as soon as nothing else holds them.
    try:
        import weakref
        return weakref.ref(connection)
    except TypeError:
        return lambda: connection

def ptvsd_dap_detach_threads():
    ptvsd_dap_detach_threads.detached_from = ptvsd_dap_weakly(ptvsd_dap_connection())
    try:
        ptvsd_dap_detach_threads.original()
    finally:
        ptvsd_dap_release_parked_queries()
ptvsd_dap_detach_threads.ptvsd_dap_guard = True
ptvsd_dap_detach_threads.detached_from = lambda: None

def ptvsd_dap_guard_queries(original):
    def is_handled(thread, ex_type, ex_value, trace):
        detached_from = getattr(m.detach_threads, 'detached_from', None)
        if callable(detached_from):
            detached_from = detached_from()
        if m.DETACHED or (detached_from is not None and detached_from is ptvsd_dap_connection()):
            return True
        return original(thread, ex_type, ex_value, trace)
    return is_handled

def ptvsd_dap_detach():
    if not m.DETACHED:
        for step in (m.detach_threads, m.detach_process):
            try:
                step()
            except Exception:
                pass
        for callback in list(m.DETACH_CALLBACKS):
            try:
                callback()
            except Exception:
                pass

def ptvsd_dap_connection_lost(current, sock):
    try:
        sock.close()
    except Exception:
        pass
    if current:
        ptvsd_dap_detach()
    raise m.DebuggerExitException()

def ptvsd_dap_detach_after_loop(loop):
    import time
    deadline = time.time() + 2
    while m.DebuggerLoop.instance is loop and time.time() < deadline:
        time.sleep(0.001)
    ptvsd_dap_detach()

def ptvsd_dap_guard_json(original):
    def guarded(self, *args):
        try:
            result = original(self, *args)
        except Exception:
            result = None
        if result is None:
            if self is not m.DebuggerLoop.instance and m.DebuggerLoop.instance is not None:
                # An old loop: ending it would clear the new debugger's connection
                # (`loop()` ends with `DebuggerLoop.instance = None`), so it parks.
                try:
                    self._SocketIO__socket.close()
                except Exception:
                    pass
                import threading
                parked = threading.Lock()
                parked.acquire()
                parked.acquire()
            start = getattr(m, '_thread_start_new_thread', None)
            if start is None:
                ptvsd_dap_connection_lost(True, getattr(self, '_SocketIO__socket', None))
            # The detach lets the next debugger attach, so it waits for this loop's end,
            # which clears `DebuggerLoop.instance` and `debugger_thread_id`: after the
            # detach that would silence the next debugger.
            start(ptvsd_dap_detach_after_loop, (self,))
            ptvsd_dap_connection_lost(False, getattr(self, '_SocketIO__socket', None))
        return result
    return guarded

def ptvsd_dap_read_bytes(conn, count):
    chunks = []
    got = 0
    while got < count:
        try:
            chunk = conn.recv(count - got)
        except socket.error as error:
            if getattr(error, 'errno', None) == errno.EINTR:
                continue
            chunk = None
        if not chunk:
            ptvsd_dap_connection_lost(conn is m.conn, conn)
        chunks.append(chunk)
        got += len(chunk)
    return b''.join(chunks)
ptvsd_dap_read_bytes.ptvsd_dap_guard = True

if m is not None and hasattr(m, 'BREAK_ON') and not getattr(m.BREAK_ON, 'ptvsd_dap_guard', False):
    ptvsd_dap_query = 'is_handled' if hasattr(m.BREAK_ON.__class__, 'is_handled') else 'IsHandled'
    setattr(m.BREAK_ON, ptvsd_dap_query, ptvsd_dap_guard_queries(getattr(m.BREAK_ON, ptvsd_dap_query)))
    m.BREAK_ON.ptvsd_dap_guard = True
if m is not None and hasattr(m, 'detach_threads') and not getattr(m.detach_threads, 'ptvsd_dap_guard', False):
    ptvsd_dap_detach_threads.original = m.detach_threads
    m.detach_threads = ptvsd_dap_detach_threads

if m is None:
    pass
elif hasattr(getattr(m, 'DebuggerLoop', None), '_buffered_read_line_as_ascii'):
    if not getattr(m.DebuggerLoop, 'ptvsd_dap_guard', False):
        m.DebuggerLoop._buffered_read_line_as_ascii = ptvsd_dap_guard_json(m.DebuggerLoop._buffered_read_line_as_ascii)
        m.DebuggerLoop._buffered_read_as_utf8 = ptvsd_dap_guard_json(m.DebuggerLoop._buffered_read_as_utf8)
        m.DebuggerLoop.ptvsd_dap_guard = True
elif hasattr(m, 'read_bytes') and hasattr(m, 'conn'):
    if not getattr(m.read_bytes, 'ptvsd_dap_guard', False):
        m.read_bytes = ptvsd_dap_read_bytes
"#;

/// ptvsd reports a failed evaluation as `str(exception)` only (`report_execution_exception`,
/// every release), so `d['k']` fails with `'k'` and `1/0` with `division by zero`. This
/// replaces that module function (which `run_locally` looks up at every call) with one
/// that reports the whole traceback as `traceback.format_exception` prints it, without
/// ptvsd's own leading frames (as ptvsd's REPL does), e.g. `Traceback (most recent call
/// last):\n  File "<debug input>", line 1, in <module>\nKeyError: 'k'\n`; the session shows
/// its last line (`KeyError: 'k'`) and, in the REPL, the traceback ([`evaluation_failure`]).
/// Any failure while formatting falls back to ptvsd's own function. Runs on the stopped
/// thread that evaluated, inside ptvsd's trace function (so nothing in it is traced).
/// Marker `ptvsd_dap_names`. Another debugger attaching later sees the same, readable text.
const NAME_EXCEPTIONS_BODY: &str = r#"
import traceback

def ptvsd_dap_report_execution_exception(execution_id, exc_info, original=getattr(m, 'report_execution_exception', None)):
    try:
        tb = exc_info[2]
        while tb is not None and ('/ptvsd/' in tb.tb_frame.f_code.co_filename or '\\ptvsd\\' in tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        text = ''.join(traceback.format_exception(exc_info[0], exc_info[1], tb))
    except Exception:
        return original(execution_id, exc_info)
    m.report_execution_error(text, execution_id)
ptvsd_dap_report_execution_exception.ptvsd_dap_names = True

if m is not None and hasattr(m, 'report_execution_exception') and hasattr(m, 'report_execution_error'):
    if not getattr(m.report_execution_exception, 'ptvsd_dap_names', False):
        m.report_execution_exception = ptvsd_dap_report_execution_exception
"#;

/// A stopped thread answers an evaluation (`EXCR`/`EXCE`, `CHLD`) from inside its work
/// item and only then marks itself ready for the next one (`_is_working = False`), so the
/// next `exec`/`chld` the session sends as soon as it has the answer can find the thread
/// "working" and is refused with `<error: previous evaluation has not completed>` (exec) or
/// an empty child list (chld): ptvsd-threading.md §1.3, seen on Python 2.7, whose thread
/// switches are coarse. This makes `run_on_thread` and `enum_child_on_thread` (run on the
/// loop thread) wait for that flag, up to 200 ms, before they look at it; a thread that is
/// really still evaluating is then refused as before. Marker `ptvsd_dap_waits`.
const WORK_SLOT_BODY: &str = r#"
import time

def ptvsd_dap_wait_for_work_slot(original):
    def wait_then_queue(self, *args, **kwargs):
        waited = 0
        while getattr(self, '_is_working', False) and getattr(self, '_is_blocked', False) and waited < 200:
            time.sleep(0.001)
            waited += 1
        return original(self, *args, **kwargs)
    wait_then_queue.ptvsd_dap_waits = True
    return wait_then_queue

if m is not None and hasattr(m, 'Thread'):
    for ptvsd_dap_name in ('run_on_thread', 'enum_child_on_thread'):
        ptvsd_dap_method = getattr(m.Thread, ptvsd_dap_name, None)
        if ptvsd_dap_method is not None and not getattr(ptvsd_dap_method, 'ptvsd_dap_waits', False):
            setattr(m.Thread, ptvsd_dap_name, ptvsd_dap_wait_for_work_slot(getattr(ptvsd_dap_method, '__func__', ptvsd_dap_method)))
"#;

/// Binary ptvsd (2.0–3.0) keeps a table of its own bound methods in each `DebuggerLoop`,
/// so every loop is a reference cycle: after its detach the loop, and the socket it holds,
/// stay until Python's cyclic collector runs a full collection, which in a long-lived app
/// is rare. Measured on 3.0.0/py3.11: the debuggee's descriptors rose from 13 to 42 over
/// 1,000 attach/detach cycles. This remembers each attach's loop (weakly, on ptvsd's
/// module) and, at the next attach, empties the table of every earlier loop whose thread
/// has ended (no frame of `loop` with it as `self` on any thread's stack), which frees it
/// and closes its socket at once. The current loop and one still running are left alone.
/// JSON loops (3.1/3.2) dispatch by name and have no table: nothing to do there.
const FORGET_OLD_LOOPS_BODY: &str = r#"
import weakref

def ptvsd_dap_forget_old_loops(m):
    loop_class = getattr(m, 'DebuggerLoop', None)
    current = getattr(loop_class, 'instance', None)
    if current is None or not isinstance(getattr(current, 'command_table', None), dict):
        return
    loops = getattr(m, 'ptvsd_dap_loops', None)
    if loops is None:
        loops = m.ptvsd_dap_loops = weakref.WeakSet()
    code = getattr(getattr(loop_class.loop, '__func__', loop_class.loop), '__code__', None)
    running = set()
    for frame in list(sys._current_frames().values()):
        while frame is not None:
            if frame.f_code is code:
                running.add(id(frame.f_locals.get('self')))
            frame = frame.f_back
    for old in list(loops):
        if old is not current and id(old) not in running:
            loops.discard(old)
            old.command_table = {}
    loops.add(current)

if m is not None:
    try:
        ptvsd_dap_forget_old_loops(m)
    except Exception:
        pass
"#;

/// A thread that wins a break-all's `ASBR` (ptvsd's `async_break`) then calls
/// `update_all_thread_stacks` from inside its own `block()`, holding its own
/// `_block_starting_lock`, and takes every other thread's lock in turn (every release).
/// Two such winners wait for each other's lock for good, and the command loop hangs at
/// the next resume, which needs both locks: the program is wedged until it restarts. Two
/// winners come from one break-all on 3.1/3.2 (the flag is tested without a lock) and on
/// every release from a break-all armed again while the first winner is still in there
/// (seen on 3.0.0: a `pause` coinciding with the attach break leaves the flag armed, and
/// the next `pause` re-arms it; threading doc §2.5). This replaces the module function
/// (which the winner looks up at each call) with one that, when called by a thread inside
/// its own `block()`, skips each thread whose lock is taken instead of waiting for it;
/// those frame lists (of threads not stopped yet) are only informational. Every other
/// call (a thread about to stop, holding no lock) goes to ptvsd's own function. Marker
/// `ptvsd_dap_guard`.
const BREAK_ALL_LOCKS_BODY: &str = r#"
def ptvsd_dap_update_all_thread_stacks(original):
    def update_all_thread_stacks(blocking_thread=None, check_is_blocked=True):
        if blocking_thread is None or not getattr(blocking_thread, '_is_blocked', False):
            return original(blocking_thread, check_is_blocked)
        m.THREADS_LOCK.acquire()
        try:
            threads = list(m.THREADS.values())
        finally:
            m.THREADS_LOCK.release()
        for thread in threads:
            if thread is blocking_thread:
                continue
            lock = thread._block_starting_lock
            if not lock.acquire(False):
                continue
            busy = check_is_blocked and thread._is_blocked
            lock.release()
            if busy:
                continue
            frames = thread.get_frame_list()
            if not lock.acquire(False):
                continue
            try:
                if not check_is_blocked or not thread._is_blocked:
                    thread.send_frame_list(frames)
            finally:
                lock.release()
    update_all_thread_stacks.ptvsd_dap_guard = True
    return update_all_thread_stacks

if m is not None and hasattr(m, 'THREADS_LOCK') and callable(getattr(m, 'update_all_thread_stacks', None)):
    if not getattr(m.update_all_thread_stacks, 'ptvsd_dap_guard', False):
        m.update_all_thread_stacks = ptvsd_dap_update_all_thread_stacks(m.update_all_thread_stacks)
"#;

/// One expression that runs Python statements in a fresh private namespace and evaluates
/// to that namespace's `result` (None if it sets none). Works on Python 2.7 (where `eval`
/// of an `exec`-mode code object runs it) and 3.x; binds no names in the user's frame.
fn in_private_namespace(statements: &str) -> String {
    format!(
        "(lambda ns: (eval(compile({}, '<ptvsd-dap>', 'exec'), ns), ns.get('result'))[1])({{}})",
        py_literal(statements)
    )
}

/// The connection guard alone (see [`CONNECTION_GUARD_BODY`]).
pub fn connection_guard_expression() -> String {
    in_private_namespace(&format!("{PARKED_QUERIES}{CONNECTION_GUARD_BODY}"))
}

/// The exception-naming patch alone (see [`NAME_EXCEPTIONS_BODY`]).
pub fn name_exceptions_expression() -> String {
    in_private_namespace(&format!("{PARKED_QUERIES}{NAME_EXCEPTIONS_BODY}"))
}

/// Everything the session runs at the attach break (or the first stop of a session), as
/// one evaluation on the stopped thread: the three repairs, the connection guard, the
/// exception naming, then the stale handler-query probe, whose result is the value of the
/// whole expression (read it with [`parse_stale_handler_files`]). All of it runs in the
/// private namespace, where only builtins are seen: the stopped frame may be a module that
/// shadows one (`threading.py` defines `enumerate`, which broke the module repair when the
/// attach break landed there).
pub fn attach_repair_expression() -> String {
    in_private_namespace(&format!(
        "{REPAIR_OUTPUT}\n{REPAIR_WFASTCGI}\n{REPAIR_UNBLOCK}\n{REPAIR_MODULES}\n{PARKED_QUERIES}{CONNECTION_GUARD_BODY}{NAME_EXCEPTIONS_BODY}{WORK_SLOT_BODY}{FORGET_OLD_LOOPS_BODY}{BREAK_ALL_LOCKS_BODY}{STALE_HANDLER_PROBE_BODY}"
    ))
}

/// The file names in the probe's result: the repr of a string of comma-separated hex
/// (`'2f6170702e7079'`, or `u'…'` on Python 2). Anything else (an older repair, None, a
/// malformed answer) yields no names, so a `sehi` is never sent blind.
pub fn parse_stale_handler_files(repr: &str) -> Vec<String> {
    let inner = repr.strip_prefix('u').unwrap_or(repr);
    let Some(inner) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) else { return Vec::new() };
    inner
        .split(',')
        .filter(|part| !part.is_empty())
        .filter_map(|part| {
            if part.len() % 2 != 0 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let bytes: Option<Vec<u8>> =
                (0..part.len()).step_by(2).map(|i| u8::from_str_radix(&part[i..i + 2], 16).ok()).collect();
            bytes.map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .collect()
}

/// A failed evaluation as the user should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationFailure {
    /// One line naming the exception: `KeyError: 'k'` (or ptvsd's own text, e.g.
    /// `<expression cannot be evaluated at this time>`).
    pub summary: String,
    /// The traceback as Python prints it, when [`NAME_EXCEPTIONS_BODY`] reported one.
    pub traceback: Option<String>,
}

/// Reads the text of an `EXCE`/`legacyExecutionException`. With [`NAME_EXCEPTIONS_BODY`]
/// installed it is `traceback.format_exception`'s output, which ends with a newline: the
/// summary is everything after the traceback's last indented line (the exception line(s);
/// a `SyntaxError`'s caret lines are indented too), joined. Without it (a session whose
/// repairs have not run yet) the text is ptvsd's own and is kept as it is.
pub fn evaluation_failure(text: &str) -> EvaluationFailure {
    if !text.ends_with('\n') || text.trim().is_empty() {
        return EvaluationFailure { summary: text.to_string(), traceback: None };
    }
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().rposition(|l| l.starts_with(' ')).map_or(0, |i| i + 1);
    let summary = lines[start..].iter().map(|l| l.trim_end()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    let summary = if summary.is_empty() { text.trim().to_string() } else { summary };
    let traceback = if lines.len() > 1 { Some(text.to_string()) } else { None };
    EvaluationFailure { summary, traceback }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
