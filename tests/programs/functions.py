"""Function breakpoint fixture (Python 2.7 and 3.x): one function of each shape.

Every function name is unique in this file and in functions_async.py, so a test can
match CPython's code objects to tree-sitter's definitions by name. Run as a program, it
calls `plain` and `Klass.method` in a slow loop (for breakpoints under real ptvsd)
until $PTVSD_TEST_MAX_SECONDS (600) have passed or its parent has gone.
"""
import functools
import os
import sys
import time


def plain(a, b=1):  # MARK: plain def
    x = a  # MARK: plain body
    return x


def with_doc():
    """A docstring runs no code."""
    return 1


def doc_only():
    """Nothing else."""


def passes_first():
    pass
    42
    "a second string"
    return 2


def one_liner(): return 3


def deco(f):
    return f


def wrapper_deco(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)
    return wrapper


@deco
@deco
def decorated(x):
    # a comment first

    y = x
    return y


@wrapper_deco
def wrapped(x):
    z = x
    return z


class Klass(object):
    """Class docstring."""

    def method(self):  # MARK: method def
        return self  # MARK: method body

    class Inner:
        def inner_method(self, *a, **k):
            '''d'''
            w = 1
            return w

    @staticmethod
    def static_m():
        # comment first

        q = 1
        return q

    @classmethod
    def class_m(cls):
        return cls

    @property
    def prop(self):
        return 1


def gen():
    yield 1


def outer():
    v = 1

    def nested():
        return v
    return nested


def multi_line_args(
        a,
        b):
    return (a,
            b)


def loops_forever():
    while True:
        global counter
        counter = 1
        return counter


def starts_with_try():
    try:
        return 1
    except ValueError:
        return 2


def starts_with_decorated_def():
    @deco
    def local():
        return 1
    return local


def main(argv):
    delay = float(argv[1]) if len(argv) > 1 else 0.2
    deadline = time.time() + float(os.environ.get("PTVSD_TEST_MAX_SECONDS", "600"))
    parent = os.getppid()
    i = 0
    while time.time() < deadline and os.getppid() == parent:
        i += 1
        plain(i)
        Klass().method()
        sys.stdout.write('tick %d\n' % i)
        sys.stdout.flush()
        time.sleep(delay)


if __name__ == '__main__':
    main(sys.argv)
