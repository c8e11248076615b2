"""The sample app of `ptvsd-dap demo`: a tiny shop that prices shopping carts.

    python app.py PORT

GET /checkout?user=NAME&items=N answers with the cart's total as JSON. The demo runs it
under ptvsd (like App Service would) and breaks in handle_request(). It stops by itself
when the process that started it has gone. Runs on CPython 2.7 and 3.6-3.11.
"""
from __future__ import print_function

import json
import os
import sys

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs, urlparse
except ImportError:  # Python 2.7
    from BaseHTTPServer import BaseHTTPRequestHandler, HTTPServer
    from urlparse import parse_qs, urlparse

CATALOGUE = {"apple": 0.5, "bread": 2.25, "coffee": 7.0, "dates": 4.5, "eggs": 3.2}


class Cart(object):
    def __init__(self, user):
        self.user = user
        self.items = []

    def add(self, name, quantity):
        self.items.append({"name": name, "quantity": quantity, "price": CATALOGUE[name]})

    def __repr__(self):
        return "Cart(%r, %d items)" % (self.user, len(self.items))


def handle_request(query):
    user = query.get("user", ["guest"])[0]
    count = int(query.get("items", ["2"])[0])
    cart = Cart(user)
    for position, name in enumerate(sorted(CATALOGUE)[:count]):
        cart.add(name, position + 1)
    total = 0.0
    for item in cart.items:
        total += item["price"] * item["quantity"]
    order = {"user": user, "lines": len(cart.items), "total": round(total, 2), "currency": "EUR"}
    return order  # MARK: breakpoint


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/checkout":
            self.send_error(404, "try /checkout?user=alice&items=3")
            return
        order = handle_request(parse_qs(url.query))
        body = json.dumps(order, sort_keys=True).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print("served %s for %s: total %s" % (url.path, order["user"], order["total"]))

    def log_message(self, *args):
        pass


def main(argv):
    port = int(argv[1]) if len(argv) > 1 else 8000
    server = HTTPServer(("127.0.0.1", port), Handler)
    server.timeout = 0.5
    print("shop listening on http://127.0.0.1:%d/checkout" % port)
    parent = os.getppid()
    while os.getppid() == parent:
        server.handle_request()
    print("shop stopping: its parent has gone")


main(sys.argv)
