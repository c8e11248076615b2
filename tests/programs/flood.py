# Debuggee that prints a lot: BYTES bytes of 'x' lines in writes of CHUNK bytes, between
# a "flood begin" and a "flood end N" line, then idles. Runs on CPython 2.7, 3.6 and 3.11.
#
#   flood.py BYTES [CHUNK]             (through ptvsd: ... flood.py - BYTES CHUNK)
#
# Every write is CHUNK-1 'x' and a newline (the last one may be shorter). Stops by itself
# after $PTVSD_TEST_MAX_SECONDS (default 600) or when its parent (the test) has gone.
from __future__ import print_function

import os
import sys
import time


def main(argv):
    total = int(argv[1]) if len(argv) > 1 else 1 << 20
    chunk = int(argv[2]) if len(argv) > 2 else 1 << 16
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    line = "x" * (chunk - 1) + "\n"
    sys.stdout.write("flood begin\n")
    sys.stdout.flush()
    started = time.time()
    left = total
    while left > 0:
        n = min(chunk, left)
        sys.stdout.write(line if n == chunk else "x" * (n - 1) + "\n")  # MARK: flood-write
        left -= n
    sys.stdout.write("flood end %d\n" % total)
    sys.stdout.flush()
    sys.stderr.write("flood took %.2f s\n" % (time.time() - started))
    while time.time() < deadline and os.getppid() == parent:
        time.sleep(0.2)


main(sys.argv)
