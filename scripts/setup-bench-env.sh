#!/usr/bin/env bash
# Installs what the benchmark harness (benches/adapter.rs) needs beyond the test env, into BENCH_ENV =
# ${PTVSD_BENCH_ENV_DIR:-${XDG_CACHE_HOME:-~/.cache}/ptvsd-dap/bench-env} (outside the clone):
#   BENCH_ENV/debugpy      CPython 3.11 + debugpy 1.8.22 (the modern anchor, group 4)
#   BENCH_ENV/websockify   CPython 3.11 + websockify 0.13.0 + numpy (websockify's fast
#                           unmasking path, so the relay comparison is against its best)
# Idempotent: a venv whose check passes is left alone. The harness skips what is missing.
set -euo pipefail
ENV_DIR="${PTVSD_BENCH_ENV_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/ptvsd-dap/bench-env}"
DEBUGPY_VERSION=1.8.22
WEBSOCKIFY_VERSION=0.13.0
NUMPY_VERSION=2.2.6

find_python() {
  if [[ -n "${PTVSD_TEST_PYTHON_3_11:-}" ]]; then echo "$PTVSD_TEST_PYTHON_3_11"; return; fi
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  local newest
  newest="$(ls -d "$root"/versions/3.11.*/bin/python 2>/dev/null | sort -V | tail -1 || true)"
  if [[ -n "$newest" ]]; then echo "$newest"; return; fi
  command -v python3.11
}

PYTHON="$(find_python)"
mkdir -p "$ENV_DIR"

make_venv() { # name check-code packages...
  local name=$1 check=$2
  shift 2
  local venv="$ENV_DIR/$name"
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "$check" > /dev/null 2>&1; then
    echo "bench env: $name ok"
    return
  fi
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  "$venv/bin/python" -c "$check"
  echo "bench env: $name installed"
}

make_venv debugpy "import debugpy; assert debugpy.__version__ == '$DEBUGPY_VERSION'" "debugpy==$DEBUGPY_VERSION"
make_venv websockify "import websockify, numpy; from importlib.metadata import version; assert version('websockify') == '$WEBSOCKIFY_VERSION'" \
  --no-deps "websockify==$WEBSOCKIFY_VERSION" "numpy==$NUMPY_VERSION"
