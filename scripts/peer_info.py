"""Print what one test venv holds, as one line of JSON (runs on Python 2.7 and 3.x).

Used by scripts/setup-test-env.sh to verify a freshly built venv: it imports the
installed ptvsd (the import is the check) and reports the interpreter version, the
ptvsd distribution version (from its installed metadata, since ptvsd 2.2.0 has no
__version__) and the legacy wire protocol version the server will announce.

    python peer_info.py EXPECTED_PTVSD_VERSION [EXPECTED_DJANGO_VERSION]

With a Django version it also imports Django, checks its version and reports it.
"""
import glob
import json
import os
import re
import sys
import warnings

warnings.simplefilter("ignore")  # ptvsd imports the deprecated `imp` module

import ptvsd  # noqa: E402
import ptvsd.attach_server as attach_server  # noqa: E402

expected = sys.argv[1]
site = os.path.dirname(os.path.dirname(os.path.abspath(ptvsd.__file__)))
versions = []
for meta in glob.glob(os.path.join(site, "ptvsd-*-info")):
    # ptvsd-3.2.1.dist-info, ptvsd-2.2.0-py3.6.egg-info
    m = re.match(r"ptvsd-([0-9]+(?:\.[0-9]+)*)[.-]", os.path.basename(meta))
    versions.append(m.group(1) if m else os.path.basename(meta))
if versions != [expected]:
    sys.stderr.write("expected ptvsd %s, installed metadata says %r\n" % (expected, versions))
    sys.exit(1)

info = {
    "python_version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    "python_executable": sys.executable,
    "ptvsd": expected,
    "ptvsd_file": os.path.abspath(ptvsd.__file__),
    "protocol_version": attach_server.PTVSDBG_VER,
}
if len(sys.argv) > 2:
    import django  # noqa: E402

    if django.get_version() != sys.argv[2]:
        sys.stderr.write("expected Django %s, found %s\n" % (sys.argv[2], django.get_version()))
        sys.exit(1)
    info["django"] = django.get_version()
print(json.dumps(info, sort_keys=True))
