# Debuggee that runs one line N times as fast as it can (for a breakpoint whose condition
# never holds, or a logpoint), prints "hot loop done N" and how long it took, then idles.
# Runs on CPython 2.7, 3.6 and 3.11.
#
#   hot_loop.py [N]                    (through ptvsd: ... hot_loop.py - N)
#
# Stops by itself after $PTVSD_TEST_MAX_SECONDS (default 600) or when its parent (the
# test) has gone.
from __future__ import print_function

import os
import sys
import time


def step(n, total):
    total += n  # MARK: hot-loop-line
    return total


def main(argv):
    count = int(argv[1]) if len(argv) > 1 else 10000
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    print("hot_loop started pid", os.getpid())
    started = time.time()
    total = 0
    for n in range(count):
        total = step(n, total)
    print("hot loop done %d total %d in %.2f s" % (count, total, time.time() - started))
    while time.time() < deadline and os.getppid() == parent:
        time.sleep(0.2)


main(sys.argv)
