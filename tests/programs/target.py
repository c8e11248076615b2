# Debuggee for attach tests: calls app.lib.compute(i) in a slow loop and prints each
# result. Runs on CPython 2.7, 3.6 and 3.11.
#
#   target.py [ITERATIONS [DELAY_SECONDS]]     (through ptvsd: ... target.py - N D)
#
# ITERATIONS 0 (the default) loops until the process is killed. In every case it stops
# by itself after $PTVSD_TEST_MAX_SECONDS (default 600) or when its parent (the test)
# has gone, so an interrupted test run leaves nothing behind.
from __future__ import print_function

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from app.lib import compute  # noqa: E402


def main(argv):
    iterations = int(argv[1]) if len(argv) > 1 else 0
    delay = float(argv[2]) if len(argv) > 2 else 0.1
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    print("target started pid", os.getpid())
    i = 0
    while iterations == 0 or i < iterations:
        r = compute(i)
        print("result", i, r)  # MARK: main-print
        time.sleep(delay)
        i += 1
        if time.time() > deadline or os.getppid() != parent:
            print("target giving up")
            break
    print("done")


main(sys.argv)
