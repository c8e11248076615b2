# Idle debuggee: sleeps in short naps (so a pending attach break happens within
# DELAY_SECONDS) and prints nothing in between. Runs on CPython 2.7, 3.6 and 3.11.
#
#   sleeper.py [SECONDS [DELAY_SECONDS]]      (through ptvsd: ... sleeper.py - S D)
#
# SECONDS 0 (the default) sleeps until killed, at most $PTVSD_TEST_MAX_SECONDS
# (default 600), and stops early when its parent (the test) has gone.
from __future__ import print_function

import os
import sys
import time


def main(argv):
    seconds = float(argv[1]) if len(argv) > 1 else 0
    delay = float(argv[2]) if len(argv) > 2 else 0.25
    limit = float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    if seconds <= 0 or seconds > limit:
        seconds = limit
    deadline = time.time() + seconds
    parent = os.getppid()
    print("sleeper started pid", os.getpid())
    while time.time() < deadline and os.getppid() == parent:
        time.sleep(delay)  # MARK: sleeper-nap
    print("sleeper done")


main(sys.argv)
