# A pre-forking web server, as gunicorn, uWSGI or several FastCGI processes run an app:
# the parent binds one HTTP port and forks one worker per ptvsd port; each worker calls
# ptvsd.enable_attach() on its own port (as an app does in its WSGI entry) and serves
# requests from the shared socket, so a request lands on whichever worker accepts it.
# A worker that dies is started again on the same ptvsd port. Python 2.7 and 3.x.
#
#   workers.py SECRET HTTP_PORT PTVSD_PORT [PTVSD_PORT ...]
#
# Prints `parent <pid> http <port>` and, per worker (again after a restart),
# `worker <index> pid <pid> ptvsd <port> ready`. Requests:
#   GET /pid              -> `worker <index> pid <pid>`
#   GET /hold?until=PATH  -> prints `worker <index> holding`, answers once PATH exists
#                            (a test keeps one worker busy so the next request goes to
#                            another one)
#   GET /<anything else>  -> handle_request(): where the tests put breakpoints
# Every process stops by itself after $PTVSD_TEST_MAX_SECONDS (600) or once the process
# that started the parent has gone.
import os
import signal
import socket
import sys
import time

MAX_SECONDS = float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
# A worker's exit status when its ptvsd port is taken by another process.
PORT_IN_USE = 3


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def handle_request(index, path):
    answer = "worker %d pid %d path %s" % (index, os.getpid(), path)  # MARK: handle
    return answer


def respond(conn, index):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    path = parts[1] if len(parts) > 1 else "/"
    if path == "/pid":
        body = "worker %d pid %d" % (index, os.getpid())
    elif path.startswith("/hold?until="):
        latch = path[len("/hold?until="):]
        say("worker %d holding" % index)
        while not os.path.exists(latch):
            time.sleep(0.02)
        body = "worker %d pid %d released" % (index, os.getpid())
    else:
        body = handle_request(index, path)
    payload = body.encode("utf-8")
    head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(payload)
    conn.sendall(head.encode("latin-1") + payload)


def worker(index, listener, secret, port, deadline, parent):
    import errno
    import ptvsd
    try:
        ptvsd.enable_attach(secret, address=("127.0.0.1", port))
    except socket.error as e:
        if e.errno == errno.EADDRINUSE:
            # Another process holds the port: starting again here cannot help.
            say("worker %d port %d in use" % (index, port))
            os._exit(PORT_IN_USE)
        raise
    say("worker %d pid %d ptvsd %d ready" % (index, os.getpid(), port))
    listener.settimeout(0.5)
    while time.time() < deadline and os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        try:
            conn.settimeout(30)
            respond(conn, index)
        except Exception as e:  # a client that went away must not end the worker
            say("worker %d request failed: %r" % (index, e))
        finally:
            conn.close()
    os._exit(0)


def main(argv):
    secret, http_port, ptvsd_ports = argv[1], int(argv[2]), [int(p) for p in argv[3:]]
    deadline = time.time() + MAX_SECONDS
    grandparent = os.getppid()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", http_port))
    except socket.error:
        say("parent http %d in use" % http_port)
        raise
    listener.listen(64)
    say("parent %d http %d" % (os.getpid(), http_port))
    me = os.getpid()
    children = {}

    def spawn(index):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                worker(index, listener, secret, ptvsd_ports[index], deadline, me)
            except BaseException as e:
                say("worker %d failed: %r" % (index, e))
            finally:
                os._exit(1)
        children[pid] = index

    def stop(signum, frame):
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    for index in range(len(ptvsd_ports)):
        spawn(index)
    while time.time() < deadline and os.getppid() == grandparent:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except OSError:
            pid = 0
        if pid and pid in children:
            index = children.pop(pid)
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == PORT_IN_USE:
                say("worker %d pid %d exited: its port is in use; not starting it again" % (index, pid))
            else:
                say("worker %d pid %d exited (status %d); starting it again" % (index, pid, status))
                spawn(index)
        time.sleep(0.05)
    stop(None, None)


if __name__ == "__main__":
    main(sys.argv)
