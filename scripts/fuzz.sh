#!/usr/bin/env bash
# Fuzzes the codecs and the handshake (fuzz/, cargo-fuzz layout) for a fixed time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     default 60
#   FUZZ_TARGETS="dap_codec handshake" scripts/fuzz.sh 300    only some targets
#
# Cost with the default 60 s: 4 targets x 60 s of fuzzing, plus the build of the fuzz crate
# (fuzz/target, a few minutes cold on 2 cores, seconds warm), plus once per machine the
# install of cargo-fuzz. Bounded: each run stops after SECONDS_PER_TARGET (libFuzzer's
# -max_total_time, each input at most 10 s) and is killed 120 s after that at the latest.
#
# Installs cargo-fuzz 0.13.2 if it is missing, into the project's cache outside the clone
# (${XDG_CACHE_HOME:-~/.cache}/ptvsd-dap/tools/cargo-fuzz/bin, not ~/.cargo/bin; about
# 3 minutes once), builds every target once with
# `--sanitizer none` (ASan needs nightly; this runs on stable), runs each target from the
# seeds in fuzz/corpus/<target>/ plus what earlier runs found (fuzz/work/<target>/, not
# committed), and prints one line per target. Exits 1 if any target crashed (panic, abort,
# allocation over the target's cap, or an input slower than 10 s); the input is left in
# fuzz/artifacts/<target>/ and the log in fuzz/work/logs/<target>.log.
#
# Reproduce a crash:   cargo fuzz run --sanitizer none <target> fuzz/artifacts/<target>/<file>
# Show its input:      cargo fuzz fmt --sanitizer none <target> fuzz/artifacts/<target>/<file>
# Regenerate seeds:    python3 fuzz/make-corpus.py
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

SECONDS_PER_TARGET="${1:-60}"
if ! [[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (a positive integer, default 60)" >&2
  exit 2
fi
TARGETS=(${FUZZ_TARGETS:-dap_codec legacy_binary legacy_json handshake})
CARGO_FUZZ_VERSION=0.13.2

started=${EPOCHREALTIME/./}
elapsed() { local ms=$(((${EPOCHREALTIME/./} - $1) / 1000)); printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100)); }

command -v cargo > /dev/null || { echo "fuzz: cargo not found (PATH=$PATH)" >&2; exit 1; }

CARGO_FUZZ_ROOT="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/ptvsd-dap/tools/cargo-fuzz"
export PATH="$CARGO_FUZZ_ROOT/bin:$PATH"
if [[ "$(cargo fuzz --version 2> /dev/null || true)" != *"$CARGO_FUZZ_VERSION"* ]]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $CARGO_FUZZ_ROOT"
  t=${EPOCHREALTIME/./}
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet --root "$CARGO_FUZZ_ROOT"
  echo "fuzz: installed cargo-fuzz in $(elapsed "$t")"
fi

echo "fuzz: building ${TARGETS[*]} (release, debug assertions, no sanitizer)"
t=${EPOCHREALTIME/./}
if [[ -z "${FUZZ_TARGETS:-}" ]]; then
  cargo fuzz build --sanitizer none # all at once: one pass over the dependencies
else
  for target in "${TARGETS[@]}"; do cargo fuzz build --sanitizer none "$target"; done
fi
echo "fuzz: built in $(elapsed "$t")"

mkdir -p fuzz/work/logs
failed=()
summaries=()
for target in "${TARGETS[@]}"; do
  [[ -d "fuzz/corpus/$target" ]] || { echo "fuzz: no seeds in fuzz/corpus/$target" >&2; exit 1; }
  mkdir -p "fuzz/work/$target" "fuzz/artifacts/$target"
  log="fuzz/work/logs/$target.log"
  echo "fuzz: running $target for ${SECONDS_PER_TARGET}s"
  status=0
  # The first corpus directory receives what the run finds; the seeds are only read.
  timeout --kill-after=10 $((SECONDS_PER_TARGET + 120)) \
    cargo fuzz run --sanitizer none "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target/" > "$log" 2>&1 || status=$?

  # "#123456  DONE   cov: 2938 ft: 11440 corp: 1431/1761Kb ..." and "Done 123456 runs in 60 second(s)"
  stats=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
  runs=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | awk '{print $2 " runs in " $5 " s"}' || true)
  [[ -n "$runs" ]] || runs="$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}' || echo '?') runs"
  cov=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+\/[0-9]+[a-zA-Z]+).*/cov \1, features \2, corpus \3/p' <<< "$stats")
  if ((status == 0)); then
    line="fuzz: $target: ok, $runs, ${cov:-no coverage figures}"
  else
    failed+=("$target")
    artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //' || true)
    line="fuzz: $target: CRASHED (exit $status) after $runs, ${cov:-no coverage figures}; input: ${artifact:-see $log}"
    echo "---- $log (last 40 lines) ----" >&2
    tail -n 40 "$log" >&2
    echo "----" >&2
  fi
  echo "$line"
  summaries+=("$line")
done

echo "fuzz: summary (${SECONDS_PER_TARGET}s per target, $(elapsed "$started") in all)"
printf '%s\n' "${summaries[@]}"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
