# A small web app, as a site on App Service is: one thread serving HTTP requests one at a
# time (as wfastcgi does), each handled by handle() in this file. Prints
# `serving PORT` once it listens, and `served N` after each request. Runs on CPython 2.7,
# 3.6 and 3.11.
#
#   web_server.py PORT      (through ptvsd: ... web_server.py - PORT)
#
# GET /?n=N answers `total T` with T = 3N + 1. Stops after $PTVSD_TEST_MAX_SECONDS
# (default 600), or when its parent (the test) has gone.
from __future__ import print_function

import os
import sys
import threading
import time

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs, urlparse
except ImportError:  # Python 2.7
    from BaseHTTPServer import BaseHTTPRequestHandler, HTTPServer
    from urlparse import parse_qs, urlparse

SERVED = [0]


def handle(n):
    total = 3 * n + 1  # MARK: web-handle
    return total


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        query = parse_qs(urlparse(self.path).query)
        total = handle(int(query.get("n", ["0"])[0]))
        body = ("total %d\n" % total).encode("ascii")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        SERVED[0] += 1
        print("served", SERVED[0])

    def log_message(self, *args):
        pass


def watchdog(parent, limit):
    deadline = time.time() + limit
    while time.time() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def main(argv):
    port = int(argv[1])
    limit = float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    guard = threading.Thread(target=watchdog, args=(os.getppid(), limit))
    guard.daemon = True
    guard.start()
    server = HTTPServer(("127.0.0.1", port), Handler)
    print("serving", port)
    sys.stdout.flush()
    server.serve_forever(poll_interval=0.1)


main(sys.argv)
