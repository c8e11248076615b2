# Runs wfastcgi (PyPI's wfastcgi.py, the FastCGI host of Python sites on Windows App
# Service) as IIS does, on any OS: FastCGI records arrive on stdin (here a socket the test
# holds) and the answers go back on it. wfastcgi reads its settings from the web.config of
# the site's folder (the APPL_PHYSICAL_PATH parameter), enables ptvsd at the first request
# when WSGI_PTVSD_SECRET is set, and replaces sys.stdout and sys.stderr with a fresh
# StringIO for every request, exactly as on Azure.
#
#   PYTHONPATH=<dir with wfastcgi.py> python wfastcgi_host.py
#
# wfastcgi binds Windows functions through ctypes.windll at import; only its file watcher
# uses them, and web.config turns that off (WSGI_RESTART_FILE_REGEX empty), so a stub that
# fails every call is enough.
import ctypes
import sys


class _Unavailable(object):
    restype = None
    argtypes = None

    def __call__(self, *args):
        raise OSError("not available outside Windows")


class _Kernel32(object):
    def __getattr__(self, name):
        return _Unavailable()


class _WinDll(object):
    kernel32 = _Kernel32()


if not hasattr(ctypes, "windll"):
    ctypes.windll = _WinDll()

import wfastcgi  # noqa: E402

wfastcgi.main()
