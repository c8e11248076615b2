# Debuggee with several threads: N named workers ("worker-1" ...) each loop over
# step(); the main thread waits for them. Runs on CPython 2.7, 3.6 and 3.11.
#
#   threads.py [WORKERS [ITERATIONS [DELAY_SECONDS]]]   (through ptvsd: ... threads.py - W I D)
#
# ITERATIONS 0 (the default) loops until killed, at most $PTVSD_TEST_MAX_SECONDS
# (default 600), and every thread stops early when the parent (the test) has gone.
from __future__ import print_function

import os
import sys
import threading
import time

DEADLINE = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
PARENT = os.getppid()


def step(idx, i):
    value = idx * 1000 + i  # MARK: threads-step
    return value


def worker(idx, iterations, delay):
    i = 0
    last = None
    while iterations == 0 or i < iterations:
        last = step(idx, i)
        time.sleep(delay)
        i += 1
        if time.time() > DEADLINE or os.getppid() != PARENT:
            break
    print("worker-%d finished at %r" % (idx, last))


def main(argv):
    workers = int(argv[1]) if len(argv) > 1 else 3
    iterations = int(argv[2]) if len(argv) > 2 else 0
    delay = float(argv[3]) if len(argv) > 3 else 0.1
    print("threads started pid", os.getpid())
    threads = []
    for idx in range(1, workers + 1):
        t = threading.Thread(target=worker, args=(idx, iterations, delay), name="worker-%d" % idx)
        t.daemon = True
        t.start()
        threads.append(t)
    print("started", workers, "workers")
    for t in threads:
        while t.is_alive():
            t.join(0.2)  # MARK: threads-join
    print("joined")


main(sys.argv)
