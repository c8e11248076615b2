# An app that a test kills and starts again on the same ptvsd port, as App Service
# recycles a Python process: it calls ptvsd.enable_attach() itself at start (as
# wfastcgi does), then calls work(i) in a slow loop. Python 2.7 and 3.x.
#
#   restartable.py SECRET PTVSD_PORT [DELAY_SECONDS [EXIT_AFTER]]
#
# Prints `app pid <pid> ptvsd <port> ready`, then `work <i>` per call. With EXIT_AFTER,
# it exits by itself with status 3 after that many calls (an app that crashes). It
# stops after $PTVSD_TEST_MAX_SECONDS (600) or once its parent has gone.
import os
import sys
import time

import ptvsd


def work(i):
    total = i * 2  # MARK: work
    return total


def main(argv):
    secret, port = argv[1], int(argv[2])
    delay = float(argv[3]) if len(argv) > 3 else 0.1
    exit_after = int(argv[4]) if len(argv) > 4 else 0
    ptvsd.enable_attach(secret, address=("127.0.0.1", port))
    sys.stdout.write("app pid %d ptvsd %d ready\n" % (os.getpid(), port))
    sys.stdout.flush()
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    i = 0
    while time.time() < deadline and os.getppid() == parent:
        i += 1
        work(i)
        sys.stdout.write("work %d\n" % i)
        sys.stdout.flush()
        if exit_after and i >= exit_after:
            sys.exit(3)
        time.sleep(delay)


if __name__ == "__main__":
    main(sys.argv)
