# Debuggee for the feature tests (tests/features.rs): a loop that calls small functions,
# each one a target for a debugger feature. Runs on CPython 2.7, 3.6 and 3.11.
#
#   features.py [DELAY_SECONDS]     (through ptvsd: ... features.py - D)
#
# Every iteration prints "tick I C" where C is what count(I) returned (I * 3 + 100 unless a
# debugger changed it). Triggers are files in the current directory, each removed when
# seen (looked up with os.listdir, which raises nothing, so "raised" exception filters stay
# quiet):
#   trigger-thread  start a thread whose target raises AppError (threading catches it);
#   trigger-boom    raise AppError uncaught: the program ends.
# It stops by itself after $PTVSD_TEST_MAX_SECONDS (default 600) or when its parent (the
# test) has gone. Tests find lines by their "# MARK: name" comments.
from __future__ import print_function

import os
import sys
import threading
import time


class AppError(Exception):
    pass


def risky(i):
    raise ValueError("bad %d" % i)  # MARK: risky-raise


def caught(i):
    try:
        risky(i)  # MARK: caught-call
    except ValueError:
        return i  # MARK: caught-handler


def join_path(i):
    name = os.path.join("dir", "file-%d" % i)  # MARK: join-path
    return name  # MARK: join-return


def count(i):
    counter = i * 3  # MARK: count-line
    counter += 100  # MARK: count-add
    return counter  # MARK: count-return


def worker():
    raise AppError("in thread")  # MARK: thread-raise


def boom(i):
    raise AppError("boom %d" % i)  # MARK: boom-raise


def main(argv):
    delay = float(argv[1]) if len(argv) > 1 else 0.05
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    print("features started pid", os.getpid())
    i = 0
    while True:
        c = count(i)
        caught(i)
        join_path(i)
        seen = os.listdir(".")
        if "trigger-thread" in seen:
            os.remove("trigger-thread")
            t = threading.Thread(target=worker, name="worker")
            t.start()
            t.join()
        if "trigger-boom" in seen:
            os.remove("trigger-boom")
            boom(i)  # MARK: boom-call
        print("tick", i, c)  # MARK: tick
        time.sleep(delay)
        i += 1
        if time.time() > deadline or os.getppid() != parent:
            print("features giving up")
            break


main(sys.argv)
