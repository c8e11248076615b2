"""Runs ptvsd-dap's debuggee-side repairs against the real ptvsd installed in this
interpreter (used by src/session/repairs/tests.rs; Python 2.7 and 3.x).

    python check.py SCENARIO < expressions.json

Prints `ok` and exits 0, or prints what went wrong and exits 1. Each scenario runs in
its own process because what the repairs install lasts for the life of the process.
"""
import json
import os
import socket
import sys
import tempfile
import threading
import time
import warnings

warnings.simplefilter("ignore")
try:
    import ptvsd.debugger as m
except ImportError:
    import ptvsd.visualstudio_py_debugger as m

EXPR = json.loads(sys.stdin.read())
FAILURES = []
TIMEOUT = 10


def check(ok, what):
    if not ok:
        FAILURES.append(what)


def evaluate(name, shadowing=None):
    """Evaluates an expression as ptvsd does: in a user frame's globals and locals."""
    user_globals = {'__name__': 'app'}
    user_globals.update(shadowing or {})
    user_locals = {'x_user': 1}
    value = eval(compile(EXPR[name], '<debug input>', 'eval'), user_globals, user_locals)
    check(user_locals == {'x_user': 1}, '%s bound names in the frame: %r' % (name, sorted(user_locals)))
    check(set(user_globals) <= set(['__name__', '__builtins__']) | set(shadowing or {}), '%s bound globals: %r' % (name, sorted(user_globals)))
    return value


def wait_until(predicate, what):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    FAILURES.append('timed out waiting for ' + what)
    return False


APP_DIR = tempfile.mkdtemp()


def app_module(name):
    """A user file that raises and catches a ValueError; returns (path, exc_info)."""
    path = os.path.join(APP_DIR, name + '.py')
    with open(path, 'w') as f:
        f.write('import sys\n\ndef boom():\n    try:\n        raise ValueError("v")\n    except ValueError:\n        return sys.exc_info()\n')
    namespace = {}
    exec(compile(open(path).read(), path, 'exec'), namespace)
    return path, namespace['boom']()


def query_handlers(exc_info, results):
    """What ptvsd does for an exception in a file it has no handler data for."""
    method = getattr(m.BREAK_ON, 'is_handled', None) or getattr(m.BREAK_ON, 'IsHandled')
    results.append(method(None, exc_info[0], exc_info[1], exc_info[2]))


def park_query(name, results):
    path, exc_info = app_module(name)
    t = threading.Thread(target=query_handlers, args=(exc_info, results))
    t.daemon = True
    t.start()
    return path, t


def decode(result):
    import binascii
    return [binascii.unhexlify(part.encode('ascii')).decode('utf-8') for part in result.split(',') if part]


def answer(path):
    """What the adapter's sehi does: handler data for the file, then the release."""
    m.BREAK_ON.handler_cache[path] = [(1, 100, set(['ValueError']))]
    m.BREAK_ON.handler_lock.release()


def attach_like():
    """The connection state of an attached ptvsd: a loop on a loopback TCP connection."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    m._INTERCEPTING_FOR_ATTACH = True
    m.DETACHED = False
    m.conn = server
    # Nobody reads the client side: what ptvsd writes here fits in the socket buffers (a
    # reader thread would defer the close below, and with it the FIN or reset).
    loop = m.DebuggerLoop(server)
    return client, loop


def fence(client):
    """A harmless command with no effect: clear stepping of an unknown thread."""
    if hasattr(m.DebuggerLoop, '_buffered_read_line_as_ascii'):
        body = json.dumps({'type': 'request', 'seq': 1, 'command': 'legacyClearStepping', 'arguments': {'threadId': 0}}).encode('utf-8')
        client.sendall(('Content-Length: %d\r\n\r\n' % len(body)).encode('ascii') + body)
    else:
        client.sendall(b'clst' + b'\0' * 8)


def close(client, how):
    if how == 'rst':
        import struct
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    client.close()


def is_closed(sock):
    try:
        return sock.fileno() == -1
    except socket.error:
        return True  # Python 2: a closed socket has no descriptor


def loop_thread(loop):
    t = threading.Thread(target=loop.loop)
    t.daemon = True
    t.start()
    return t




def scenario_probe():
    check(evaluate('probe') == '', 'the probe found a parked query where there is none')
    results_a, results_b = [], []
    path_a, thread_a = park_query('app_a', results_a)
    wait_until(lambda: decode(evaluate('probe')) == [path_a], 'the probe to find the parked query of app_a')
    # A second thread queries another file: it waits at the first acquire, behind app_a's
    # query, and must not be reported (answering it would release an unlocked lock).
    path_b, thread_b = park_query('app_b', results_b)
    time.sleep(0.2)
    check(decode(evaluate('attach')) == [path_a], 'the attach repair reported more than the parked query')
    check(thread_a.is_alive() and thread_b.is_alive(), 'a parked query ran on before its answer')
    answer(path_a)
    thread_a.join(TIMEOUT)
    check(results_a == [True], 'the answered query did not classify the exception as handled: %r' % results_a)
    wait_until(lambda: decode(evaluate('probe')) == [path_b], 'the probe to find app_b once app_a was answered')
    answer(path_b)
    thread_b.join(TIMEOUT)
    check(results_b == [True], 'the second answered query: %r' % results_b)
    check(evaluate('probe') == '', 'the probe still finds a query after all were answered')


def scenario_guard(how, installed_before_loop):
    client, loop = attach_like()
    if installed_before_loop:
        evaluate('guard')
    t = loop_thread(loop)
    if not installed_before_loop:
        time.sleep(0.1)
        evaluate('attach')
        evaluate('attach')
        fence(client)
        time.sleep(0.1)
    # A thread parked on a handler query at the moment the connection ends.
    results = []
    path, parked = park_query('app_guard', results)
    wait_until(lambda: decode(evaluate('probe')) == [path], 'the parked query before the close')
    close(client, how)
    t.join(TIMEOUT)
    check(not t.is_alive(), 'the command loop still runs after the connection ended (%s)' % how)
    wait_until(lambda: m.DETACHED is True, 'the detach after the connection ended (%s)' % how)
    parked.join(TIMEOUT)
    check(results == [True], 'the parked query was not released as handled: %r' % results)
    # A second attach and loss work the same way (the guard is installed once).
    reader = m.read_bytes if not hasattr(m.DebuggerLoop, '_buffered_read_line_as_ascii') else m.DebuggerLoop._buffered_read_line_as_ascii
    evaluate('guard')
    evaluate('attach')
    again = m.read_bytes if not hasattr(m.DebuggerLoop, '_buffered_read_line_as_ascii') else m.DebuggerLoop._buffered_read_line_as_ascii
    check(reader is again or getattr(reader, '__func__', reader) is getattr(again, '__func__', again), 'a second install replaced the guard')
    client, loop = attach_like()
    t = loop_thread(loop)
    fence(client)
    time.sleep(0.1)
    check(t.is_alive() and m.DETACHED is False, 'a harmless command ended the loop')
    close(client, 'fin' if how == 'rst' else 'rst')
    t.join(TIMEOUT)
    check(not t.is_alive(), 'the second connection end did not end the loop')
    wait_until(lambda: m.DETACHED is True, 'the second connection end to detach')


def scenario_stale_loop():
    """A JSON loop whose connection ends after another debugger attached detaches nothing
    and leaves the new loop's connection alone (binary loops read the current connection)."""
    if not hasattr(m.DebuggerLoop, '_buffered_read_line_as_ascii'):
        return
    evaluate('guard')
    old_client, old_loop = attach_like()
    old = loop_thread(old_loop)
    new_client, new_loop = attach_like()
    new = loop_thread(new_loop)
    close(old_client, 'fin')
    wait_until(lambda: is_closed(old_loop._SocketIO__socket), 'the old connection to be closed')
    check(m.DebuggerLoop.instance is new_loop, 'the old loop cleared the current one')
    check(m.DETACHED is False, 'the old connection ending detached the new debugger')
    check(new.is_alive(), 'the new loop ended with the old connection')
    close(new_client, 'rst')
    new.join(TIMEOUT)
    wait_until(lambda: m.DETACHED is True, 'the new connection ending to detach')


def scenario_attach_in_the_detach():
    """A debugger that attaches the moment a lost JSON connection's detach lets it (ptvsd's
    attach server waits only for DETACHED) keeps its connection: the old loop's own end
    (`DebuggerLoop.instance = None`, `debugger_thread_id = -1`) comes before the detach,
    never after it. A detach callback attaches, as the attach server would in that window."""
    if not hasattr(m.DebuggerLoop, '_buffered_read_line_as_ascii'):
        return
    evaluate('guard')
    old_client, old_loop = attach_like()
    old = loop_thread(old_loop)
    attached = []

    def attach_now():
        client, loop = attach_like()
        m.debugger_thread_id = 4242
        attached.append((client, loop, loop_thread(loop)))
    m.DETACH_CALLBACKS.append(attach_now)
    close(old_client, 'fin')
    old.join(TIMEOUT)
    check(not old.is_alive(), 'the old loop still runs after its connection ended')
    if not wait_until(lambda: attached, 'the detach that lets the next debugger attach'):
        return
    m.DETACH_CALLBACKS.remove(attach_now)
    # Both the old loop's end (joined above) and the detach (the callback ran) are over.
    client, loop, thread = attached[0]
    check(m.DebuggerLoop.instance is loop, "the old loop's end cleared the new debugger's connection")
    check(m.debugger_thread_id == 4242, "the old loop's end reset the new debugger's thread id")
    check(m.DETACHED is False, 'the new debugger is detached')
    close(client, 'rst')
    thread.join(TIMEOUT)
    wait_until(lambda: m.DETACHED is True, 'the new connection ending to detach')


def scenario_names():
    evaluate('names')
    evaluate('attach')
    reports = []
    m.report_execution_error = lambda text, execution_id: reports.append(text)
    # Shaped like ptvsd's run_locally: compile and eval in ptvsd's file, report from there.
    internal = compile(
        'import sys\n'
        'def run(text, scope, report):\n'
        '    try:\n'
        '        eval(compile(text, "<debug input>", "eval"), {}, scope)\n'
        '    except:\n'
        '        report(1, sys.exc_info())\n', '/site/ptvsd/fake.py', 'exec')
    fake_ptvsd = {}
    exec(internal, fake_ptvsd)
    for text in ("d['k']", '1/0', 'x', '1 +'):
        fake_ptvsd['run'](text, {'d': {}}, m.report_execution_exception)
    print(json.dumps(reports))
    check(all('fake.py' not in r for r in reports), "ptvsd's own frames are in the traceback")


def scenario_names_fallback():
    """A value whose str() raises still gets reported (by ptvsd's own function if need be)."""
    evaluate('names')
    reports = []
    m.report_execution_error = lambda text, execution_id: reports.append(text)

    class Odd(Exception):
        def __str__(self):
            raise RuntimeError('no str')
    try:
        raise Odd()
    except Exception:
        m.report_execution_exception(1, sys.exc_info())
    check(len(reports) == 1, 'nothing was reported for an exception without str(): %r' % reports)


def scenario_detached():
    """A detached ptvsd asks no handler query, and a detach releases a parked one."""
    evaluate('attach')
    client, loop = attach_like()
    results = []
    path, parked = park_query('app_detach', results)
    wait_until(lambda: decode(evaluate('probe')) == [path], 'the parked query before the detach')
    m.detach_threads()
    m.detach_process()
    parked.join(TIMEOUT)
    check(results == [True], 'the detach did not release the parked query as handled: %r' % results)
    later = []
    path, thread = park_query('app_after', later)
    thread.join(TIMEOUT)
    check(later == [True], 'a detached ptvsd asked a handler query: %r' % later)
    check(not m.BREAK_ON.handler_lock.locked(), 'the handler lock is held after the detach')
    close(client, 'rst')


def scenario_shadowed():
    """The frame the repairs run in may shadow builtins (threading.py defines enumerate)."""
    shadowing = dict((name, threading.enumerate) for name in ('enumerate', 'list', 'set', 'sorted', 'dict', 'reversed', 'len', 'range', 'getattr', 'hasattr', 'type', 'setattr', 'isinstance'))
    check(evaluate('attach', shadowing) == '', 'the attach repairs failed with shadowed builtins')
    check(getattr(m.report_execution_exception, 'ptvsd_dap_names', False), 'the exception naming was not installed')


def scenario_work_slot():
    """An exec that arrives while the thread is finishing the previous one waits for it."""
    original = getattr(m.Thread.run_on_thread, '__func__', m.Thread.run_on_thread)
    names = original.__code__.co_varnames[:original.__code__.co_argcount]
    evaluate('attach')
    reports = []
    m.report_execution_error = lambda text, execution_id: reports.append(text)
    thread = m.Thread.__new__(m.Thread)
    thread._is_blocked = True
    thread._is_working = True
    thread._block_starting_lock = threading.Lock()
    thread._block_lock = threading.Lock()
    thread._block_lock.acquire()
    thread.unblock_work = None

    def finish():
        time.sleep(0.05)
        thread._is_working = False
    threading.Thread(target=finish).start()
    args = ['0', None, 7, 0] + ([False] if 'print_result' in names else [])
    thread.run_on_thread(*args)
    check(reports == [], 'the exec was refused: %r' % reports)
    check(thread.unblock_work is not None and not thread._block_lock.locked(), 'the exec was not queued on the thread')


def scenario_old_loops():
    """A detached binary loop (a reference cycle through its table of bound methods) is
    freed by the next attach's repairs, not whenever Python's cyclic collector gets to it;
    the current loop and one that still runs keep their tables."""
    if hasattr(m.DebuggerLoop, '_buffered_read_line_as_ascii'):
        return
    import gc
    import weakref
    gc.disable()
    client, loop = attach_like()
    t = loop_thread(loop)
    evaluate('attach')
    old = weakref.ref(loop)
    client.sendall(b'detc')
    t.join(TIMEOUT)
    check(not t.is_alive(), 'the loop did not end at the detach')
    del loop, t
    check(old() is not None, 'the detached loop was freed without the repair: no cycle to break')
    client2, loop2 = attach_like()
    t2 = loop_thread(loop2)
    evaluate('attach')
    check(old() is None, 'the detached loop outlived the next attach')
    check(t2.is_alive() and len(loop2.command_table) > 0, 'the repair emptied the current loop')
    # A third attach while the second loop still reads its connection: that loop stays.
    client3, loop3 = attach_like()
    t3 = loop_thread(loop3)
    evaluate('attach')
    check(t2.is_alive() and len(loop2.command_table) > 0, 'the repair emptied a loop that still runs')
    gc.enable()


def scenario_break_all_locks():
    """A thread stopping for a break-all, inside its own block() and holding its own lock,
    skips a thread whose lock another stopping thread holds instead of waiting for it
    (two such threads waited for each other for good); it still sends the frame list of
    a running thread whose lock is free, and a call from a thread not yet blocked is
    ptvsd's own."""
    evaluate('attach')
    sent = []

    def fake(name, blocked):
        thread = m.Thread.__new__(m.Thread)
        thread._is_blocked = blocked
        thread._block_starting_lock = threading.Lock()
        thread.get_frame_list = lambda: [name]
        thread.send_frame_list = lambda frames, thread_name=None: sent.append(frames[0])
        return thread
    winner, other_winner, running = fake('winner', True), fake('other', True), fake('running', False)
    other_winner._is_blocked = False  # sampled as not yet blocked, but its lock is held
    winner._block_starting_lock.acquire()
    other_winner._block_starting_lock.acquire()
    saved = dict(m.THREADS)
    m.THREADS.clear()
    m.THREADS.update({1: winner, 2: other_winner, 3: running})
    try:
        done = threading.Event()

        def stop():
            m.update_all_thread_stacks(winner)
            done.set()
        stopper = threading.Thread(target=stop)
        stopper.daemon = True
        stopper.start()
        check(done.wait(TIMEOUT), 'the stopping thread waited for the lock another stopping thread holds')
        check(sent == ['running'], 'frame lists sent: %r' % sent)
        other_winner._block_starting_lock.release()
        winner._block_starting_lock.release()
        done.wait(TIMEOUT)
        del sent[:]
        m.update_all_thread_stacks(running)
        check(sorted(sent) == ['other'], 'ptvsd\'s own function was not called for a thread not blocked: %r' % sent)
    finally:
        m.THREADS.clear()
        m.THREADS.update(saved)
    check(getattr(m.update_all_thread_stacks, 'ptvsd_dap_guard', False), 'the repair is not installed')


SCENARIOS = {
    'work-slot': scenario_work_slot,
    'detached': scenario_detached,
    'shadowed': scenario_shadowed,
    'probe': scenario_probe,
    'guard-fin': lambda: scenario_guard('fin', True),
    'guard-rst': lambda: scenario_guard('rst', True),
    'guard-fence-fin': lambda: scenario_guard('fin', False),
    'guard-fence-rst': lambda: scenario_guard('rst', False),
    'stale-loop': scenario_stale_loop,
    'old-loops': scenario_old_loops,
    'break-all-locks': scenario_break_all_locks,
    'attach-in-the-detach': scenario_attach_in_the_detach,
    'names': scenario_names,
    'names-fallback': scenario_names_fallback,
}

SCENARIOS[sys.argv[1]]()
if FAILURES:
    print('FAILED: ' + '; '.join(FAILURES))
    sys.stdout.flush()
    os._exit(1)
print('ok')
sys.stdout.flush()
os._exit(0)
