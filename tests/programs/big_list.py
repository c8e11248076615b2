# Debuggee with a large list: `big` holds N integers (big[i] == i * 3) and loops over
# inspect(big) with a pause, so a breakpoint in inspect() shows it. Runs on CPython 2.7,
# 3.6 and 3.11.
#
#   big_list.py [N [DELAY]]            (through ptvsd: ... big_list.py - N DELAY)
#
# Stops by itself after $PTVSD_TEST_MAX_SECONDS (default 600) or when its parent (the
# test) has gone.
from __future__ import print_function

import os
import sys
import time


def inspect(big):
    size = len(big)  # MARK: big-list-inspect
    return size


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 100000
    delay = float(argv[2]) if len(argv) > 2 else 0.1
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    big = [i * 3 for i in range(n)]
    print("big_list started pid", os.getpid(), "with", n, "items")
    while time.time() < deadline and os.getppid() == parent:
        inspect(big)
        time.sleep(delay)


main(sys.argv)
