# Web-style debuggee: a worker thread serves a "request" every DELAY seconds (0.3 by
# default); each request validates its input, which raises and catches a ValueError
# (so ptvsd asks the debugger which lines handle exceptions at the first one in each
# session). The main thread only waits. Prints `served N` per request. Runs on CPython
# 2.7, 3.6 and 3.11.
#
#   web_app.py [DELAY_SECONDS]        (through ptvsd: ... web_app.py - D)
#
# Runs until killed, at most $PTVSD_TEST_MAX_SECONDS (default 600), and stops early when
# its parent (the test) has gone.
from __future__ import print_function

import os
import sys
import threading
import time


def validate(n):
    if n >= 0:
        raise ValueError("request %d is not valid" % n)


def handle(n):
    total = n * 2  # MARK: web-app-handle
    try:
        validate(n)
    except ValueError:
        total += 1
    return total


def worker(delay, deadline, parent):
    n = 0
    while time.time() < deadline and os.getppid() == parent:
        n += 1
        handle(n)
        print("served", n)
        sys.stdout.flush()
        time.sleep(delay)


def main(argv):
    delay = float(argv[1]) if len(argv) > 1 else 0.3
    limit = float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    deadline = time.time() + limit
    parent = os.getppid()
    print("web app started pid", os.getpid())
    sys.stdout.flush()
    serving = threading.Thread(target=worker, args=(delay, deadline, parent), name="worker")
    serving.daemon = True
    serving.start()
    while serving.is_alive():
        serving.join(1)


main(sys.argv)
