#!/usr/bin/env bash
# Packages the VS Code extension (editors/vscode) as platform-specific .vsix files, each
# with the ptvsd-dap adapter built for that platform inside (bin/ptvsd-dap), so that
# installing the .vsix is all a VS Code user needs:
#
#   scripts/package-vsix.sh                       the host's platform (linux-x64 here)
#   scripts/package-vsix.sh x86_64-unknown-linux-musl aarch64-unknown-linux-gnu
#                                                 Rust targets (each must be installed:
#                                                 `rustup target add`, plus its linker)
#   PACKAGE_VSIX_BINARY=PATH scripts/package-vsix.sh
#                                                 package this binary for the host instead
#                                                 of building one
#   scripts/package-vsix.sh OUT.vsix              the host's platform, written to OUT.vsix
#                                                 (tests/editors.rs installs it into
#                                                 code-server; keep it calling this script)
#
# Builds with `cargo build --release --locked` (the shipped profile), stages a copy of
# editors/vscode with bin/ptvsd-dap and LICENSE, and runs `vsce package --target T`.
# Writes target/vsix/ptvsd-dap-T-VERSION.vsix and prints each path on stdout.
# vsce comes from tests/node/node_modules (scripts/setup-test-env.sh installs it), else
# `npx @vscode/vsce` (needs node 20 or later and the npm registry).
#
# Rust target -> VS Code target: x86_64/aarch64-unknown-linux-gnu -> linux-x64/-arm64,
# x86_64/aarch64-unknown-linux-musl -> alpine-x64/-arm64, x86_64/aarch64-apple-darwin ->
# darwin-x64/-arm64, x86_64/aarch64-pc-windows-msvc -> win32-x64/-arm64.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"
VSCE_VERSION=3.9.2

say() { printf 'package-vsix: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

vscode_target() { # RUST_TRIPLE -> VS Code target, or nothing
  case "$1" in
    x86_64-unknown-linux-gnu) echo linux-x64 ;;
    aarch64-unknown-linux-gnu) echo linux-arm64 ;;
    armv7-unknown-linux-gnueabihf) echo linux-armhf ;;
    x86_64-unknown-linux-musl) echo alpine-x64 ;;
    aarch64-unknown-linux-musl) echo alpine-arm64 ;;
    x86_64-apple-darwin) echo darwin-x64 ;;
    aarch64-apple-darwin) echo darwin-arm64 ;;
    x86_64-pc-windows-msvc | x86_64-pc-windows-gnu) echo win32-x64 ;;
    aarch64-pc-windows-msvc) echo win32-arm64 ;;
  esac
}

command -v cargo > /dev/null || die "cargo not found (PATH=$PATH)"
command -v node > /dev/null || die "node not found: the .vsix is made by vsce, which needs node 20 or later"
HOST=$(rustc -vV | sed -n 's/^host: //p')
OUT_FILE=""
if [[ "${1:-}" == *.vsix ]]; then
  OUT_FILE="$1"
  shift
  (($# == 0)) || die "with an output file (OUT.vsix) the .vsix is for the host only: no Rust targets"
  mkdir -p "$(dirname "$OUT_FILE")"
  OUT_FILE="$(cd "$(dirname "$OUT_FILE")" && pwd)/$(basename "$OUT_FILE")"
fi
TRIPLES=("$@")
((${#TRIPLES[@]})) || TRIPLES=("$HOST")
if [[ -n "${PACKAGE_VSIX_BINARY:-}" ]] && [[ "${TRIPLES[*]}" != "$HOST" ]]; then
  die "PACKAGE_VSIX_BINARY packages one binary, for the host ($HOST) only"
fi

VSCE=(node "$ROOT/tests/node/node_modules/@vscode/vsce/vsce")
[[ -f "${VSCE[1]}" ]] || VSCE=(npx --yes "@vscode/vsce@$VSCE_VERSION")
VERSION=$(node -p "require('$ROOT/editors/vscode/package.json').version")
OUT_DIR="$ROOT/target/vsix"
mkdir -p "$OUT_DIR"
STAGE_ROOT=$(mktemp -d)
trap 'rm -rf "$STAGE_ROOT"' EXIT

for triple in "${TRIPLES[@]}"; do
  target=$(vscode_target "$triple")
  [[ -n "$target" ]] || die "no VS Code target for the Rust target $triple"
  exe=ptvsd-dap
  [[ "$triple" == *windows* ]] && exe=ptvsd-dap.exe
  if [[ -n "${PACKAGE_VSIX_BINARY:-}" ]]; then
    binary="$PACKAGE_VSIX_BINARY"
  elif [[ "$triple" == "$HOST" ]]; then
    say "building the adapter (cargo build --release --locked)"
    cargo build --release --locked --bin ptvsd-dap >&2
    binary="${CARGO_TARGET_DIR:-$ROOT/target}/release/$exe"
  else
    rustup target list --installed 2> /dev/null | grep -qx "$triple" ||
      die "the Rust target $triple is not installed (rustup target add $triple, and a linker for it)"
    say "building the adapter for $triple (cargo build --release --locked --target $triple)"
    cargo build --release --locked --bin ptvsd-dap --target "$triple" >&2
    binary="${CARGO_TARGET_DIR:-$ROOT/target}/$triple/release/$exe"
  fi
  [[ -x "$binary" ]] || die "no executable adapter at $binary"

  stage="$STAGE_ROOT/$target"
  mkdir -p "$stage/bin"
  # Only what editors/vscode tracks (no node_modules, no old .vsix), plus the adapter.
  cp editors/vscode/package.json editors/vscode/.vscodeignore editors/vscode/*.js editors/vscode/*.md "$stage/"
  cp LICENSE "$stage/LICENSE"
  install -m 0755 "$binary" "$stage/bin/$exe"
  vsix="${OUT_FILE:-$OUT_DIR/ptvsd-dap-$target-$VERSION.vsix}"
  say "packaging $target ($(du -k "$binary" | cut -f1) KiB adapter)"
  (cd "$stage" && "${VSCE[@]}" package --target "$target" --no-dependencies --allow-missing-repository --out "$vsix") >&2 ||
    die "vsce package failed for $target"
  printf '%s\n' "$vsix"
done
