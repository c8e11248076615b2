# Debuggee for Django template breakpoints (tests/features.rs): renders
# templates/page.html with Django 1.11 in a slow loop, without a web server.
# Runs on CPython 2.7 and 3.6 with Django 1.11 installed.
#
#   django_app.py [DELAY_SECONDS]     (through ptvsd: ... django_app.py - D)
#
# Every iteration prints "page I LENGTH". It stops by itself after
# $PTVSD_TEST_MAX_SECONDS (default 600) or when its parent (the test) has gone.
from __future__ import print_function

import os
import sys
import time

import django
from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))

settings.configure(
    DEBUG=True,
    TEMPLATES=[{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(HERE, "templates")],
        # Debug templates keep each token's position, which ptvsd maps to lines.
        "OPTIONS": {"debug": True},
    }],
)
django.setup()

from django.template.loader import get_template  # noqa: E402


def render(i):
    html = get_template("page.html").render({"n": i, "items": ["a", "b", "c"]})  # MARK: render
    return html


def main(argv):
    delay = float(argv[1]) if len(argv) > 1 else 0.05
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    print("django_app started pid", os.getpid(), "django", django.get_version())
    i = 0
    while True:
        html = render(i)
        print("page", i, len(html))  # MARK: page
        time.sleep(delay)
        i += 1
        if time.time() > deadline or os.getppid() != parent:
            print("django_app giving up")
            break


main(sys.argv)
