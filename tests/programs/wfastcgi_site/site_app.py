# The WSGI app of the wfastcgi site (WSGI_HANDLER=site_app.application): every request
# prints `handled N` (to sys.stdout, which wfastcgi has just replaced) and answers
# `total T` with T = 3N + 1 for GET /?n=N.
from __future__ import print_function


def handle(n):
    total = 3 * n + 1  # MARK: site-handle
    return total


def application(environ, start_response):
    query = environ.get("QUERY_STRING", "")
    n = int(query.split("n=", 1)[1]) if "n=" in query else 0
    total = handle(n)
    print("handled", n)
    body = ("total %d\n" % total).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
