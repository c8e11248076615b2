#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this):
#   1. scripts/setup-test-env.sh    real peers: ptvsd venvs, websockify, node packages, in
#                                   ${XDG_CACHE_HOME:-~/.cache}/ptvsd-dap (outside the clone:
#                                   1.5-3 min once per machine, under a second afterwards)
#      scripts/setup-editors.sh     real editors: code-server + Chromium, Neovim + nvim-dap,
#                                   Helix (cached outside the clone; tests/editors.rs)
#   2. cargo fmt --check (rustfmt.toml), cargo clippy --all-targets -- -D warnings
#   3. cargo test --all-targets     unit tests, the integration tests against the peers, and
#                                   tests/install.rs (a release build, cargo install,
#                                   cargo publish --dry-run, the .vsix)
#   4. scripts/fuzz.sh              every fuzz target (4) for FUZZ_SECONDS (default 60) each:
#                                   4 min of fuzzing plus the fuzz build; cargo-fuzz is
#                                   installed once into the same cache
# With CI=true nothing is optional: a missing interpreter or peer fails the run.
# Nothing is installed globally or into ~/.cargo/bin; the clone gets target/, fuzz/target
# and the link tests/node/node_modules. About 4 GB of disk in all (README: Develop).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() {
  local name=$1 start=${EPOCHREALTIME/./}
  shift
  printf '==> %s\n' "$name"
  "$@"
  local ms=$(((${EPOCHREALTIME/./} - start) / 1000))
  printf '==> %s: done in %d.%03ds\n' "$name" $((ms / 1000)) $((ms % 1000))
}

command -v cargo > /dev/null || { echo "test-all: cargo not found (PATH=$PATH)" >&2; exit 1; }

# CI builds once: incremental state would only add gigabytes to target/.
if [[ "${CI:-}" == "true" ]]; then export CARGO_INCREMENTAL=0; fi

# A full disk shows up as a linker crash ("Bus error") or "No space left on device" deep in
# the build; say it up front instead.
free_kb=$(df -Pk "$ROOT" | awk 'NR == 2 { print $4 }')
if [[ -n "$free_kb" && "$free_kb" -lt $((5 * 1024 * 1024)) ]]; then
  echo "test-all: only $((free_kb / 1024)) MB free on the disk holding $ROOT; the suite needs" \
    "about 4 GB (target/, fuzz/target, the caches). Free some space (cargo clean in other" \
    "checkouts) if the build fails with 'No space left on device'." >&2
fi

step "setup test env" scripts/setup-test-env.sh
step "setup editors" scripts/setup-editors.sh
step "format" cargo fmt --check
step "clippy" cargo clippy --locked --all-targets -- -D warnings
step "tests" cargo test --locked --all-targets
step "fuzz" scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
