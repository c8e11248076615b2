# Debuggee for launch tests. Prints its arguments, working directory, $PTVSD_DAP_TEST_VAR
# and pid on stdout and one line on stderr; with $PTVSD_DAP_TEST_SPAWN_CHILD=1 starts a
# child process (same process group) that runs for two minutes and prints its pid; then calls app.lib.compute(i)
# ITERATIONS times (0 = until stopped) and exits with EXIT_CODE. Runs on CPython 2.7,
# 3.6 and 3.11.
#
#   launchee.py [EXIT_CODE [ITERATIONS [DELAY_SECONDS]]]
#
# Like the other programs it gives up after $PTVSD_TEST_MAX_SECONDS (600) or when its
# parent has gone.
from __future__ import print_function

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from app.lib import compute  # noqa: E402

# The child does not notice its parent's death: only stopping the process group ends it
# before its two minutes are up.
CHILD = "import time\ndeadline = time.time() + 120\nwhile time.time() < deadline:\n    time.sleep(0.1)\n"


def main(argv):
    code = int(argv[1]) if len(argv) > 1 else 0
    iterations = int(argv[2]) if len(argv) > 2 else 0
    delay = float(argv[3]) if len(argv) > 3 else 0.1
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    print("argv", " ".join(argv[1:]))
    print("cwd", os.getcwd())
    print("env", os.environ.get("PTVSD_DAP_TEST_VAR", "<unset>"))
    print("pid", os.getpid())
    sys.stderr.write("launchee stderr line\n")
    sys.stderr.flush()
    if os.environ.get("PTVSD_DAP_TEST_SPAWN_CHILD") == "1":
        child = subprocess.Popen([sys.executable, "-c", CHILD])
        print("child pid", child.pid)
    i = 0
    while iterations == 0 or i < iterations:
        r = compute(i)
        print("result", i, r)  # MARK: launchee-print
        time.sleep(delay)
        i += 1
        if time.time() > deadline or os.getppid() != parent:
            print("launchee giving up")
            break
    print("launchee done")
    sys.exit(code)


main(sys.argv)
