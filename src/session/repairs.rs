//! The attach-break evaluations: debuggee-side expressions that repair what earlier
//! attaches left behind in ptvsd, run on the thread of the first stop of a session (the
//! attach break, or the first stop when the app was idle) before it is released or shown.
//!
//! Owns: the expressions ([`REPAIR_OUTPUT`], [`REPAIR_UNBLOCK`], [`REPAIR_MODULES`],
//! [`REPAIR_NODELAY`]) and
//! [`attach_break_evaluations`], the list the session runs. Must not know: how they are
//! sent. The session queues every entry on the stopped thread through the per-thread
//! scheduler (`work`), as watch-like evaluations (so they share one round trip when they
//! can), and hands each result to the entry's `on_result` before it releases (or reports)
//! the stop. To add a repair: add an entry to the list; its `on_result` gets the session
//! and may queue more work or answer a handler query (`Session::answer_handler_query`).

use super::Session;
use crate::legacy::messages::PyObject;

/// One expression run at the attach break, and what to do with its value.
pub(super) struct AttachBreakEvaluation {
    /// One Python expression (binds no names in the user's frame).
    pub text: String,
    /// Called once with the value, or the failure sentence.
    pub on_result: fn(&mut Session, Result<PyObject, String>),
}

/// What runs at the attach break, in order.
pub(super) fn attach_break_evaluations() -> Vec<AttachBreakEvaluation> {
    vec![
        AttachBreakEvaluation { text: REPAIR_OUTPUT.to_string(), on_result: |_, result| log_failure(result, "output wrappers") },
        AttachBreakEvaluation { text: REPAIR_UNBLOCK.to_string(), on_result: |_, result| log_failure(result, "unblock") },
        AttachBreakEvaluation { text: REPAIR_MODULES.to_string(), on_result: |_, result| log_failure(result, "module list") },
        AttachBreakEvaluation { text: REPAIR_NODELAY.to_string(), on_result: |_, result| log_failure(result, "TCP_NODELAY") },
    ]
}

/// The repairs are best effort: a failure is only logged.
fn log_failure(result: Result<PyObject, String>, what: &str) {
    if let Err(error) = result {
        tracing::debug!(%error, what, "an attach-break repair failed");
    }
}

/// ptvsd wraps `sys.stdout`/`sys.stderr` in a new `_DebuggerOutput` at every attach and
/// never unwraps them under `-m ptvsd` or `enable_attach`, so after N attaches every write
/// is reported N times. This expression makes each outermost wrapper point past the
/// stacked ones (and its `buffer` likewise). It is one expression, so it binds no names
/// in the user's frame; it works on Python 2.7 to 3.11 and is a no-op when nothing is
/// stacked.
pub(super) const REPAIR_OUTPUT: &str = "list((lambda s, i: i is not s and (setattr(s, 'old_out', i.old_out), \
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
/// for ptvsd 2.2 to 3.0 (`ptvsd.visualstudio_py_debugger`) and 3.1/3.2 (`ptvsd.debugger`).
pub(super) const REPAIR_UNBLOCK: &str = "list(setattr(m.Thread, 'unblock', lambda self: self._block_lock.release() \
if self._block_lock.locked() else None) for m in (__import__('sys').modules.get('ptvsd.debugger'), \
__import__('sys').modules.get('ptvsd.visualstudio_py_debugger')) if hasattr(m, 'Thread'))";

/// ptvsd appends every loaded module to its `MODULES` list again at every attach (and
/// reports the whole list at the next one), so each attach costs more than the last: after
/// 1000 attaches an app with 1000 modules holds a million entries and sends a million
/// module reports per attach. This expression removes the repeated entries in place (the
/// first one per file stays; entries appended meanwhile by other threads are kept), so
/// the list stays at one entry per module however often the app is attached.
pub(super) const REPAIR_MODULES: &str = "list((lambda l: [l.pop(i) for i in sorted(set(range(len(l))) - \
set(dict((e[0], i) for i, e in reversed(list(enumerate(l)))).values()), reverse=True)])(m.MODULES) \
for m in (__import__('sys').modules.get('ptvsd.debugger'), __import__('sys').modules.get('ptvsd.visualstudio_py_debugger')) \
if hasattr(m, 'MODULES'))";

/// ptvsd writes each message as two `send()` calls (the JSON header and body; the binary
/// dialect field by field) on a socket with Nagle's algorithm on, so over a real network the
/// rest of every reply waits until the adapter's ACK of its first segment has crossed the
/// link: one round trip more per evaluation, step or expansion (BENCHMARKS.md, "Over a
/// WAN link"). This expression sets `TCP_NODELAY` on ptvsd's own socket: `DebuggerLoop`'s
/// socket in 3.1/3.2 (`ptvsd.debugger`, `SocketIO.__socket`), the module's `conn` in
/// 2.2 to 3.0 (`ptvsd.visualstudio_py_debugger`). Setting it again is a no-op; it binds no
/// names and works on Python 2.7 to 3.11; a socket without `setsockopt` is skipped.
pub(super) const REPAIR_NODELAY: &str = "list(s.setsockopt(__import__('socket').IPPROTO_TCP, __import__('socket').TCP_NODELAY, 1) \
for s in (getattr(getattr(m, 'DebuggerLoop', None) and m.DebuggerLoop.instance, '_SocketIO__socket', None) or getattr(m, 'conn', None) \
for m in (__import__('sys').modules.get('ptvsd.debugger'), __import__('sys').modules.get('ptvsd.visualstudio_py_debugger')) if m) \
if hasattr(s, 'setsockopt'))";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::{REPAIR_MODULES, REPAIR_NODELAY, REPAIR_OUTPUT, REPAIR_UNBLOCK};

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
        let out = std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3 is needed for this test");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "repaired", "{}", String::from_utf8_lossy(&out.stderr));
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
        let out = std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3 is needed for this test");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "repaired", "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs the unblock repair in a real CPython against a stand-in for ptvsd's
    /// `Thread`: a second release of an already released lock must do nothing.
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
except RuntimeError:
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
        let out = std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3 is needed for this test");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "repaired", "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs the repair in a real CPython against three stacked wrappers shaped like
    /// ptvsd's `_DebuggerOutput`/`DebuggerBuffer`, and against none.
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
ok = sys.stdout.old_out is real and sys.stdout.buffer.buffer is real.buffer
sys.stdout = real
eval(compile({expr:?}, '<repair>', 'eval'))
ok = ok and sys.stdout is real
sys.stdout.write('repaired' if ok else 'broken')
"#,
            expr = REPAIR_OUTPUT
        );
        let out = std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3 is needed for this test");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "repaired", "{}", String::from_utf8_lossy(&out.stderr));
    }
}
