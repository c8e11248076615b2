# Debuggee of the benchmark harness (benches/harness). CPython 3.11 (runs on 2.7 too).
#
#   bench_app.py roundtrip          calls hot() every 10 ms; stepping stays inside its loop
#   bench_app.py bigvars            builds a 10 000-element list and dict every 50 ms
#   bench_app.py output BYTES CHUNK writes BYTES of output in CHUNK-sized writes, once the
#                                   harness opens GATE at the burst-break breakpoint
#   bench_app.py anchor             one call of compute(), then exits (the debugpy anchor)
#   bench_app.py wan                calls wan() every 10 ms: locals with a 1 000-entry dict and
#                                   a 10 000-item list (the WAN group)
#
# The harness finds lines by their "# MARK: name" comments. Every mode gives up after
# $PTVSD_TEST_MAX_SECONDS (600) or once its parent (the harness) has gone.
from __future__ import print_function

import os
import sys
import time

CONFIG = {'steps': 3}
GATE = {'go': False}
PARENT = os.getppid()
DEADLINE = time.time() + float(os.environ.get('PTVSD_TEST_MAX_SECONDS', '600'))


def hot():
    i = 0
    total = 0  # MARK: hot-break
    while i < CONFIG['steps']:
        i += 1
        total += i
    return total


def big():
    big_list = [i * 3 for i in range(10000)]
    big_dict = dict(('k%05d' % i, i) for i in range(10000))
    return len(big_list) + len(big_dict)  # MARK: big-break


def burst(total, chunk):
    if not GATE['go']:  # MARK: burst-break
        return
    GATE['go'] = False
    block = ('x' * 99 + '\n') * (chunk // 100)
    write = sys.stdout.write
    written = 0
    while written < total:
        write(block)
        written += len(block)
    write('BENCH-OUTPUT-END\n')
    sys.stdout.flush()


def compute(n):
    data = [n, n * 2, {'k': n}]
    info = {'n': n, 'square': n * n, 'label': 'item-%d' % n}
    total = n * 10  # MARK: anchor-break
    return total + len(data) + len(info)


WAN_LIST = list(range(10000))
WAN_DICT = dict(('k%04d' % i, i) for i in range(1000))


def wan(i):
    small = {'n': i, 'label': 'item-%d' % i}
    items = WAN_LIST
    table = WAN_DICT
    total = i * 2  # MARK: wan-break
    total += len(small) + len(items) + len(table)  # MARK: wan-step
    return total


def main(argv):
    mode = argv[1] if len(argv) > 1 else 'roundtrip'
    print('bench_app ready', mode, os.getpid())
    sys.stdout.flush()
    if mode == 'anchor':
        print('result', compute(7))
        return
    pause = 0.05 if mode == 'bigvars' else 0.01
    i = 0
    while time.time() < DEADLINE and os.getppid() == PARENT:
        if mode == 'roundtrip':
            hot()
        elif mode == 'bigvars':
            big()
        elif mode == 'wan':
            i += 1
            wan(i)
        elif mode == 'output':
            burst(int(argv[2]), int(argv[3]))
        time.sleep(pause)


main(sys.argv)
