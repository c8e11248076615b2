#!/usr/bin/env bash
# Installs the real peers the integration tests run against, in a cache outside the clone
# (so every clone and CI run on this machine reuses it), and writes peers.json there for
# the tests to read. ENV_DIR is $PTVSD_TEST_ENV_DIR, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/ptvsd-dap/test-env:
#
#   ENV_DIR/py3.6-ptvsd{2.0.0,2.1.0,2.2.0,3.0.0,3.1.0,3.2.1}/   CPython 3.6 + ptvsd from PyPI
#   ENV_DIR/py3.11-ptvsd{2.0.0,2.1.0,2.2.0,3.0.0,3.1.0,3.2.1}/  CPython 3.11 + ptvsd from PyPI
#   ENV_DIR/py2.7-ptvsd{3.0.0,3.2.1}/               CPython 2.7 (smoke flow)
#   ENV_DIR/py3.6-ptvsd{3.0.0,3.2.1}-django/        CPython 3.6 + ptvsd + Django 1.11 (template
#                                                   breakpoints; listed as django_peers)
#   ENV_DIR/websockify/ + ENV_DIR/bin/websockify    websockify from PyPI (CPython 3.11)
#   ENV_DIR/tools/                                  virtualenv (builds the 2.7 venvs)
#   ENV_DIR/tinyproxy/usr/bin/tinyproxy             tinyproxy from Debian (tinyproxy-bin, unpacked
#                                                   with dpkg-deb, no root needed): the HTTP CONNECT
#                                                   proxy of tests/http_proxy.rs
#   ENV_DIR/wfastcgi/wfastcgi.py                    wfastcgi from PyPI (the FastCGI host of Windows
#                                                   App Service), for tests/wfastcgi.rs
#   ENV_DIR/node/node_modules/                      npm ci of tests/node/package-lock.json;
#                                                   tests/node/node_modules links to it
#   ENV_DIR/peers.json                              what the tests read (tests/support/peers.rs)
#
# About 1 GB; 1.5-3 minutes the first time on 2 cores, well under a second afterwards.
# It installs no interpreter: CPython 3.6, 3.11 (and 2.7) must be there already (pyenv).
#
# Idempotent: each venv carries a stamp of what it was built from and is only rebuilt
# when that changes. Runs one at a time per ENV_DIR (flock), so clones can share it.
#
# Interpreters are looked up as $PYENV_ROOT/versions/X.Y.*/bin/python (newest patch),
# then as pythonX.Y on PATH; PTVSD_TEST_PYTHON_2_7 / _3_6 / _3_11 override the lookup.
# ptvsd 2.x/3.x cannot run on CPython >= 3.12 (they import `imp`).
#
# A missing CPython 3.6 or 3.11 is always an error. CPython 2.7 and npm are optional
# locally (a warning, and the tests that need them skip), but with CI=true nothing is
# optional.
#
# Environment: CI=true (strict), SETUP_TEST_ENV_JOBS (parallel venv builds, default 2),
# PTVSD_TEST_ENV_DIR (build somewhere else; the tests then need the same variable),
# SETUP_TEST_ENV_ONLY=django (build only the Django peers and print them; no peers.json,
# nothing else touched) or SETUP_TEST_ENV_ONLY=tools (only tinyproxy and wfastcgi, and
# print their paths):
#
#   PTVSD_TEST_ENV_DIR=/tmp/try SETUP_TEST_ENV_ONLY=django scripts/setup-test-env.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_DIR="${PTVSD_TEST_ENV_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/ptvsd-dap/test-env}"
ONLY="${SETUP_TEST_ENV_ONLY:-}"
case "$ONLY" in "" | django | tools) ;; *) echo "setup-test-env: SETUP_TEST_ENV_ONLY must be empty, django or tools" >&2; exit 2 ;; esac
LOG_DIR="$ENV_DIR/logs"
NODE_DIR="$ROOT/tests/node"

# 2.0.0 speaks protocol 2, 2.1.0 protocol 4 (both sdists; they run on 3.6 and 3.11).
PTVSD_VERSIONS=(2.0.0 2.1.0 2.2.0 3.0.0 3.1.0 3.2.1)
PY27_PTVSD_VERSIONS=(3.0.0 3.2.1)
WEBSOCKIFY_VERSION=0.13.0
# The last virtualenv release that can still create CPython 2.7 environments.
VIRTUALENV_VERSION=20.21.1
# Django for template breakpoints: 1.11 LTS is of ptvsd 3.x's era (its DebugLexer gives
# tokens the `position` ptvsd reads) and runs on CPython 3.6; pytz is its one dependency.
DJANGO_PTVSD_VERSIONS=(3.0.0 3.2.1)
DJANGO_VERSION=1.11.29
PYTZ_VERSION=2024.2
# Bump to force every venv to be rebuilt.
STAMP_REV=1

STRICT=0
if [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; then STRICT=1; fi
JOBS="${SETUP_TEST_ENV_JOBS:-2}"

# Keep pip quiet and non-interactive; the images' pip.conf (cert, find-links) still applies.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_WARN_SCRIPT_LOCATION=1
export PYTHONWARNINGS=ignore

START_US=${EPOCHREALTIME/./}
say() { printf 'setup-test-env: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

mkdir -p "$ENV_DIR" "$LOG_DIR" "$ENV_DIR/bin"
# One setup at a time per ENV_DIR: clones (and CI runs) of this machine share it.
exec 9> "$ENV_DIR/.setup.lock"
if ! flock -n 9; then
  say "waiting for another setup-test-env.sh using $ENV_DIR"
  flock 9
fi
say "installing into $ENV_DIR"

# --- tinyproxy (Debian) ----------------------------------------------------------------

# The real HTTP CONNECT proxy the proxy tests go through: Debian's tinyproxy-bin, fetched
# with `apt-get download` (refreshing the package lists once if it is not found) and
# unpacked into the env dir, so it needs no root and no system install. Its only
# dependency is libc. Optional locally (the proxy tests then print SKIPPED); with CI=true
# a missing tinyproxy fails the setup.
TINYPROXY_DIR="$ENV_DIR/tinyproxy"
TINYPROXY_BIN="$TINYPROXY_DIR/usr/bin/tinyproxy"
install_tinyproxy() {
  [[ -x "$TINYPROXY_BIN" ]] && "$TINYPROXY_BIN" -v > /dev/null 2>&1 && return 0
  command -v apt-get > /dev/null 2>&1 && command -v dpkg-deb > /dev/null 2>&1 || return 1
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt's _apt user writes the download here
  if ! (cd "$tmp" && { apt-get download tinyproxy-bin || { apt-get update && apt-get download tinyproxy-bin; }; }) > "$LOG_DIR/tinyproxy.log" 2>&1; then
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$TINYPROXY_DIR"
  mkdir -p "$TINYPROXY_DIR"
  dpkg-deb -x "$tmp"/tinyproxy-bin_*.deb "$TINYPROXY_DIR" >> "$LOG_DIR/tinyproxy.log" 2>&1 || { rm -rf "$tmp"; return 1; }
  rm -rf "$tmp"
  "$TINYPROXY_BIN" -v >> "$LOG_DIR/tinyproxy.log" 2>&1
}
TINYPROXY_OK=false
if [[ "$ONLY" == "" || "$ONLY" == tools ]]; then
  if install_tinyproxy; then
    TINYPROXY_OK=true
  elif ((STRICT)); then
    cat "$LOG_DIR/tinyproxy.log" >&2 2> /dev/null || true
    die "tinyproxy could not be installed (required with CI=true): apt-get download tinyproxy-bin failed"
  else
    say "warning: tinyproxy could not be installed: the HTTP proxy tests cannot run (see $LOG_DIR/tinyproxy.log)"
  fi
fi

# --- wfastcgi (PyPI) --------------------------------------------------------------------

# wfastcgi.py is one pure-Python file (the sdist's only module); the tests put its folder
# on PYTHONPATH of a ptvsd peer. Fetched with the pip of any Python at hand.
WFASTCGI_VERSION=3.0.0
WFASTCGI_DIR="$ENV_DIR/wfastcgi"
install_wfastcgi() {
  [[ -f "$WFASTCGI_DIR/wfastcgi.py" && "$(cat "$WFASTCGI_DIR/$STAMP_NAME" 2> /dev/null)" == "$WFASTCGI_VERSION" ]] && return 0
  local py tmp
  py=$(command -v python3.11 || command -v python3 || true)
  [[ -n "$py" ]] || return 1
  tmp=$(mktemp -d)
  if ! "$py" -m pip download --no-deps --no-binary :all: "wfastcgi==$WFASTCGI_VERSION" -d "$tmp" > "$LOG_DIR/wfastcgi.log" 2>&1; then
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$WFASTCGI_DIR"
  mkdir -p "$WFASTCGI_DIR"
  tar -xzf "$tmp/wfastcgi-$WFASTCGI_VERSION.tar.gz" -C "$tmp" &&
    cp "$tmp/wfastcgi-$WFASTCGI_VERSION/wfastcgi.py" "$WFASTCGI_DIR/" &&
    printf '%s' "$WFASTCGI_VERSION" > "$WFASTCGI_DIR/$STAMP_NAME"
  local ok=$?
  rm -rf "$tmp"
  return $ok
}
STAMP_NAME=.setup-stamp
WFASTCGI_OK=false
if [[ "$ONLY" == "" || "$ONLY" == tools ]]; then
  if install_wfastcgi; then
    WFASTCGI_OK=true
  elif ((STRICT)); then
    cat "$LOG_DIR/wfastcgi.log" >&2 2> /dev/null || true
    die "wfastcgi could not be downloaded from PyPI (required with CI=true)"
  else
    say "warning: wfastcgi could not be downloaded: the wfastcgi tests cannot run (see $LOG_DIR/wfastcgi.log)"
  fi
fi
if [[ "$ONLY" == tools ]]; then
  [[ $TINYPROXY_OK == true ]] || die "tinyproxy could not be installed"
  [[ $WFASTCGI_OK == true ]] || die "wfastcgi could not be downloaded"
  printf '%s\n%s\n' "$TINYPROXY_BIN" "$WFASTCGI_DIR"
  exit 0
fi

# --- interpreters ----------------------------------------------------------------------

# find_python X.Y -> prints the path of a CPython X.Y interpreter, or nothing.
find_python() {
  local want=$1 var="PTVSD_TEST_PYTHON_${1//./_}" cand=""
  if [[ -n "${!var:-}" ]]; then
    cand="${!var}"
  else
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    cand=$(ls -d "$root"/versions/"$want".*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z "$cand" ]]; then cand=$(command -v "python$want" || true); fi
  fi
  [[ -n "$cand" && -x "$cand" ]] || return 0
  local got
  got=$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
  if [[ "$got" != "$want" ]]; then
    say "warning: $cand is Python '$got', not $want; ignoring it"
    return 0
  fi
  printf '%s\n' "$cand"
}

PY36=$(find_python 3.6)
PY311=$(find_python 3.11)
PY27=$(find_python 2.7)
missing=()
[[ -n "$PY36" ]] || missing+=("CPython 3.6 (e.g. pyenv install 3.6.15, or set PTVSD_TEST_PYTHON_3_6)")
[[ -n "$PY311" ]] || missing+=("CPython 3.11 (e.g. pyenv install 3.11.7, or set PTVSD_TEST_PYTHON_3_11)")
if [[ -z "$PY27" && -z "$ONLY" ]]; then
  if ((STRICT)); then
    missing+=("CPython 2.7 (e.g. pyenv install 2.7.18, or set PTVSD_TEST_PYTHON_2_7)")
  else
    say "warning: no CPython 2.7 found: the 2.7 smoke peers are not installed (required with CI=true)"
  fi
fi
if ((${#missing[@]})); then
  for m in "${missing[@]}"; do say "missing required interpreter: $m"; done
  exit 1
fi

# --- venv builders ---------------------------------------------------------------------

STAMP_NAME=.setup-stamp
INFO_NAME=.peer.json

# stamp_ok DIR SPEC -> true when DIR was fully built from SPEC and its python still runs.
stamp_ok() {
  [[ -f "$1/$STAMP_NAME" && -x "$1/bin/python" ]] && [[ "$(cat "$1/$STAMP_NAME")" == "$2" ]]
}

# build_peer NAME PYTHON_PATH PTVSD_VERSION (runs in a subshell; output goes to its log)
build_peer() {
  local name=$1 py=$2 ver=$3 dir="$ENV_DIR/$1"
  rm -rf "$dir"
  case "$name" in
    py2.7-*)
      "$ENV_DIR/tools/bin/virtualenv" --no-periodic-update --no-download \
        --app-data "$ENV_DIR/tools/app-data" -p "$py" "$dir"
      ;;
    *)
      "$py" -m venv "$dir"
      ;;
  esac
  # 2.0.0 to 3.1.0 are zip sdists (setup.py): pip 18 (3.6) runs setup.py install,
  # pip 20 (2.7) and pip 23 (3.11) build a wheel (3.11: in an isolated build env).
  case "$name" in
    *-django)
      "$dir/bin/python" -m pip install "ptvsd==$ver" "Django==$DJANGO_VERSION" "pytz==$PYTZ_VERSION"
      "$dir/bin/python" "$ROOT/scripts/peer_info.py" "$ver" "$DJANGO_VERSION" > "$dir/$INFO_NAME"
      ;;
    *)
      "$dir/bin/python" -m pip install "ptvsd==$ver"
      "$dir/bin/python" "$ROOT/scripts/peer_info.py" "$ver" > "$dir/$INFO_NAME"
      ;;
  esac
  cat "$dir/$INFO_NAME"
}

peer_spec() { # NAME PYTHON_PATH PTVSD_VERSION
  printf 'rev=%s name=%s python=%s ptvsd=%s' "$STAMP_REV" "$1" "$(readlink -f "$2")" "$3"
  case "$1" in *-django) printf ' django=%s pytz=%s' "$DJANGO_VERSION" "$PYTZ_VERSION" ;; esac
}

# The tool venv (CPython 3.11) that creates the 2.7 venvs.
if [[ -n "$PY27" && -z "$ONLY" ]]; then
  spec="rev=$STAMP_REV python=$(readlink -f "$PY311") virtualenv=$VIRTUALENV_VERSION"
  if ! stamp_ok "$ENV_DIR/tools" "$spec"; then
    say "building tools venv (virtualenv $VIRTUALENV_VERSION)"
    rm -rf "$ENV_DIR/tools"
    { "$PY311" -m venv "$ENV_DIR/tools" &&
      "$ENV_DIR/tools/bin/python" -m pip install "virtualenv==$VIRTUALENV_VERSION"; } \
      > "$LOG_DIR/tools.log" 2>&1 || { cat "$LOG_DIR/tools.log" >&2; die "tools venv failed"; }
    printf '%s' "$spec" > "$ENV_DIR/tools/$STAMP_NAME"
  fi
fi

# (name python ptvsd) triples to build.
PEERS=()
if [[ -z "$ONLY" ]]; then
  for v in "${PTVSD_VERSIONS[@]}"; do PEERS+=("py3.6-ptvsd$v" "$PY36" "$v"); done
  for v in "${PTVSD_VERSIONS[@]}"; do PEERS+=("py3.11-ptvsd$v" "$PY311" "$v"); done
  if [[ -n "$PY27" ]]; then
    for v in "${PY27_PTVSD_VERSIONS[@]}"; do PEERS+=("py2.7-ptvsd$v" "$PY27" "$v"); done
  fi
fi
for v in "${DJANGO_PTVSD_VERSIONS[@]}"; do PEERS+=("py3.6-ptvsd$v-django" "$PY36" "$v"); done

declare -A PIDS=() STARTED=()
failed=()
since() { # START_US -> "1.234s"
  local ms=$(((${EPOCHREALTIME/./} - $1) / 1000))
  printf '%d.%03ds' $((ms / 1000)) $((ms % 1000))
}
reap_one() {
  local pid name
  wait -n -p pid || true
  if [[ -z "${pid:-}" ]]; then # no child left (should not happen): collect the rest
    for name in "${!PIDS[@]}"; do
      unset 'PIDS[$name]'
      failed+=("$name")
    done
    return
  fi
  for name in "${!PIDS[@]}"; do
    if [[ "${PIDS[$name]}" == "$pid" ]]; then
      unset 'PIDS[$name]'
      if [[ -f "$ENV_DIR/$name/$STAMP_NAME.new" ]]; then
        mv "$ENV_DIR/$name/$STAMP_NAME.new" "$ENV_DIR/$name/$STAMP_NAME"
        say "built $name in $(since "${STARTED[$name]}")"
      else
        failed+=("$name")
        say "FAILED to build $name; its log ($LOG_DIR/$name.log):"
        sed 's/^/    /' "$LOG_DIR/$name.log" >&2
      fi
      return
    fi
  done
}

for ((i = 0; i < ${#PEERS[@]}; i += 3)); do
  name=${PEERS[i]} py=${PEERS[i + 1]} ver=${PEERS[i + 2]}
  spec=$(peer_spec "$name" "$py" "$ver")
  if stamp_ok "$ENV_DIR/$name" "$spec" && [[ -s "$ENV_DIR/$name/$INFO_NAME" ]]; then continue; fi
  while ((${#PIDS[@]} >= JOBS)); do reap_one; done
  say "building $name ($py, ptvsd==$ver)"
  ( # set -e holds here: the stamp is only written when every step succeeded
    build_peer "$name" "$py" "$ver"
    printf '%s' "$spec" > "$ENV_DIR/$name/$STAMP_NAME.new"
  ) > "$LOG_DIR/$name.log" 2>&1 &
  PIDS[$name]=$!
  STARTED[$name]=${EPOCHREALTIME/./}
done
while ((${#PIDS[@]})); do reap_one; done
((${#failed[@]} == 0)) || die "could not build: ${failed[*]}"

if [[ "$ONLY" == django ]]; then
  for ((i = 0; i < ${#PEERS[@]}; i += 3)); do
    printf '%s %s\n' "$ENV_DIR/${PEERS[i]}" "$(cat "$ENV_DIR/${PEERS[i]}/$INFO_NAME")"
  done
  say "ready: the Django peers in $ENV_DIR (no peers.json written) in $(since "$START_US")"
  exit 0
fi

# --- websockify ------------------------------------------------------------------------

# The PyPI package declares numpy, requests, jwcrypto and redis; plain proxying (with or
# without TLS) needs none of them (numpy only speeds up frame unmasking), so --no-deps.
WS_DIR="$ENV_DIR/websockify"
spec="rev=$STAMP_REV python=$(readlink -f "$PY311") websockify=$WEBSOCKIFY_VERSION"
if ! stamp_ok "$WS_DIR" "$spec"; then
  say "building websockify venv (websockify $WEBSOCKIFY_VERSION, --no-deps)"
  rm -rf "$WS_DIR"
  { "$PY311" -m venv "$WS_DIR" &&
    "$WS_DIR/bin/python" -m pip install --no-deps "websockify==$WEBSOCKIFY_VERSION" &&
    "$WS_DIR/bin/python" -c 'import websockify.websocketproxy' &&
    "$WS_DIR/bin/websockify" --help > /dev/null; } \
    > "$LOG_DIR/websockify.log" 2>&1 || { cat "$LOG_DIR/websockify.log" >&2; die "websockify venv failed"; }
  printf '%s' "$spec" > "$WS_DIR/$STAMP_NAME"
fi
ln -sfn "$WS_DIR/bin/websockify" "$ENV_DIR/bin/websockify"

# --- node packages ---------------------------------------------------------------------

# npm ci runs in ENV_DIR/node (a copy of tests/node's package.json and lock), and
# tests/node/node_modules is a link to its node_modules: node resolves the tests'
# imports from there.
NODE_OK=false
NODE_CACHE="$ENV_DIR/node"
if command -v npm > /dev/null 2>&1 && command -v node > /dev/null 2>&1; then
  spec="rev=$STAMP_REV node=$(node --version) lock=$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$NODE_CACHE/node_modules/$STAMP_NAME" && "$(cat "$NODE_CACHE/node_modules/$STAMP_NAME")" == "$spec" ]]; then
    NODE_OK=true
  else
    say "npm ci in $NODE_CACHE (tests/node's package-lock.json)"
    mkdir -p "$NODE_CACHE"
    cp "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" "$NODE_CACHE/"
    if (cd "$NODE_CACHE" && npm ci --no-audit --no-fund --loglevel=error) > "$LOG_DIR/npm.log" 2>&1; then
      printf '%s' "$spec" > "$NODE_CACHE/node_modules/$STAMP_NAME"
      NODE_OK=true
    else
      cat "$LOG_DIR/npm.log" >&2
      die "npm ci failed in $NODE_CACHE"
    fi
  fi
  # A real directory there is an older checkout's own install: the link replaces it.
  if [[ -d "$NODE_DIR/node_modules" && ! -L "$NODE_DIR/node_modules" ]]; then rm -rf "$NODE_DIR/node_modules"; fi
  ln -sfn "$NODE_CACHE/node_modules" "$NODE_DIR/node_modules"
elif ((STRICT)); then
  die "node/npm not found (required with CI=true): apt-get install nodejs npm"
else
  say "warning: node/npm not found: the editor-side node tests cannot run"
fi

# --- peers.json ------------------------------------------------------------------------

PEER_NAMES=()
for ((i = 0; i < ${#PEERS[@]}; i += 3)); do PEER_NAMES+=("${PEERS[i]}"); done
TINYPROXY_PATH=""
[[ $TINYPROXY_OK == true ]] && TINYPROXY_PATH="$TINYPROXY_BIN"
WFASTCGI_PATH=""
[[ $WFASTCGI_OK == true ]] && WFASTCGI_PATH="$WFASTCGI_DIR"
"$PY311" - "$ENV_DIR" "$WEBSOCKIFY_VERSION" "$NODE_OK" "$NODE_CACHE" "$TINYPROXY_PATH" "$WFASTCGI_PATH" "${PEER_NAMES[@]}" <<'PY'
import json, os, sys
env_dir, ws_version, node_ok, node_dir, tinyproxy, wfastcgi, names = sys.argv[1], sys.argv[2], sys.argv[3] == "true", sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7:]
peers = []
django_peers = []
for name in names:
    with open(os.path.join(env_dir, name, ".peer.json")) as f:
        info = json.load(f)
    python = name.split("-")[0][len("py"):]
    peer = {
        "name": name,
        "python": python,
        "python_version": info["python_version"],
        "python_path": os.path.join(env_dir, name, "bin", "python"),
        "ptvsd": info["ptvsd"],
        "ptvsd_file": info["ptvsd_file"],
        "protocol_version": info["protocol_version"],
        "venv": os.path.join(env_dir, name),
    }
    if name.endswith("-django"):
        # Kept apart so that tests looking up a (Python, ptvsd) peer never get these.
        peer["django"] = info["django"]
        django_peers.append(peer)
    else:
        peers.append(peer)
doc = {
    "schema": 1,
    "env_dir": env_dir,
    "peers": peers,
    "django_peers": django_peers,
    "websockify": {"path": os.path.join(env_dir, "bin", "websockify"), "version": ws_version},
    "node_modules": os.path.join(node_dir, "node_modules") if node_ok else None,
    "tinyproxy": tinyproxy or None,
    "wfastcgi": wfastcgi or None,
}
tmp = os.path.join(env_dir, "peers.json.tmp")
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2, sort_keys=True)
    f.write("\n")
os.replace(tmp, os.path.join(env_dir, "peers.json"))
PY

extra=""
[[ $NODE_OK == true ]] && extra=", node packages"
[[ $TINYPROXY_OK == true ]] && extra="$extra, tinyproxy"
[[ $WFASTCGI_OK == true ]] && extra="$extra, wfastcgi $WFASTCGI_VERSION"
say "ready: $ENV_DIR/peers.json ($((${#PEERS[@]} / 3)) ptvsd peers (${#DJANGO_PTVSD_VERSIONS[@]} with Django $DJANGO_VERSION), websockify $WEBSOCKIFY_VERSION$extra) in $(since "$START_US")"
