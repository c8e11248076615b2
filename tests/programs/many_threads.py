# Debuggee with many threads that all reach the same line at once: N workers
# ("hitter-1" ...) wait at a barrier, then each calls hit() exactly once, then idle until
# the test is over. Runs on CPython 2.7, 3.6 and 3.11.
#
#   many_threads.py [WORKERS]          (through ptvsd: ... many_threads.py - N)
#
# Stops by itself after $PTVSD_TEST_MAX_SECONDS (default 600) or when its parent (the
# test) has gone.
from __future__ import print_function

import os
import sys
import threading
import time

DEADLINE = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
PARENT = os.getppid()
GO = threading.Event()
READY = []
READY_LOCK = threading.Lock()


def alive():
    return time.time() < DEADLINE and os.getppid() == PARENT


def hit(idx):
    value = idx * 10  # MARK: many-threads-hit
    return value


def worker(idx):
    with READY_LOCK:
        READY.append(idx)
    GO.wait()
    result = hit(idx)
    print("hitter-%d passed with %d" % (idx, result))
    while alive():
        time.sleep(0.2)


def main(argv):
    workers = int(argv[1]) if len(argv) > 1 else 50
    print("many_threads started pid", os.getpid())
    threads = []
    for idx in range(1, workers + 1):
        t = threading.Thread(target=worker, args=(idx,), name="hitter-%d" % idx)
        t.daemon = True
        t.start()
        threads.append(t)
    while len(READY) < workers and alive():
        time.sleep(0.01)
    print("all", workers, "workers ready")
    GO.set()
    while alive():
        time.sleep(0.2)  # MARK: many-threads-idle


main(sys.argv)
