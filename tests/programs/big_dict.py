# Debuggee with a large dict: `big` holds N entries 'k%05d' -> i * 3, inserted in a
# shuffled order (so its iteration order is neither sorted nor, on Python 2.7, the order
# a smaller dict of the same keys would have), plus 3 entries whose keys' reprs are not
# expressions (`<Key i>` -> -i). Loops over inspect(big) with a pause, so a breakpoint in
# inspect() shows it. Runs on CPython 2.7, 3.6 and 3.11.
#
#   big_dict.py [N [DELAY]]            (through ptvsd: ... big_dict.py - N DELAY)
#
# Stops by itself after $PTVSD_TEST_MAX_SECONDS (default 600) or when its parent (the
# test) has gone.
from __future__ import print_function

import os
import random
import sys
import time


class Key(object):
    def __init__(self, i):
        self.i = i

    def __repr__(self):
        return '<Key %d>' % self.i


def inspect(big):
    size = len(big)  # MARK: big-dict-inspect
    return size


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 1000
    delay = float(argv[2]) if len(argv) > 2 else 0.1
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    order = list(range(n))
    random.Random(13).shuffle(order)
    big = {}
    for i in order:
        big['k%05d' % i] = i * 3
    for i in (1, 2, 3):
        big[Key(i)] = -i
    print("big_dict started pid", os.getpid(), "with", len(big), "entries")
    while time.time() < deadline and os.getppid() == parent:
        inspect(big)
        time.sleep(delay)


main(sys.argv)
