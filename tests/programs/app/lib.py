# Library module of tests/programs/target.py. Runs on CPython 2.7, 3.6 and 3.11.
# Tests find lines by their "# MARK: name" comments (support::programs::line_of), so
# lines can move; keep each mark unique.


class Point(object):
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __repr__(self):
        return "Point(%r, %r)" % (self.x, self.y)


def compute(n):
    data = [n, n * 2, {'k': n}]
    info = {'n': n, 'square': n * n, 'label': 'item-%d' % n}
    pt = Point(n, n + 1)
    total = n * 10  # MARK: compute-total
    total += 1  # MARK: compute-step
    total += len(data) + len(info) - 6
    return total  # MARK: compute-return
