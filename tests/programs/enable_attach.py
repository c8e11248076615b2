# Starts ptvsd the way an application (e.g. a WSGI app on Azure App Service) does, by
# calling ptvsd.enable_attach() itself, then runs a debuggee script as __main__.
# The other way, `python -m ptvsd --secret S --interface H --port P [--wait] script`,
# works in every ptvsd version the tests use; this one is PeerOptions::enable_attach().
#
#   enable_attach.py SECRET HOST PORT WAIT(0|1) REDIRECT_OUTPUT(0|1) SCRIPT [ARGS...]
import os
import runpy
import sys

import ptvsd

secret, host, port, wait, redirect = sys.argv[1:6]
script = os.path.abspath(sys.argv[6])
ptvsd.enable_attach(secret, address=(host, int(port)), redirect_output=redirect == "1")
if wait == "1":
    ptvsd.wait_for_attach()
sys.argv = [script] + sys.argv[7:]
sys.path[0] = os.path.dirname(script)
runpy.run_path(script, run_name="__main__")
