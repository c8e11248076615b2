#!/usr/bin/env bash
# Packages the VS Code extension (editors/vscode) as a .vsix and prints its path:
#
#   scripts/package-vsix.sh [OUT.vsix]     (default: target/vsix/ptvsd-dap.vsix)
#
# Uses @vscode/vsce from tests/node (installed by scripts/setup-test-env.sh), or npx.
# The end-to-end test installs what this script makes into code-server
# (tests/editors.rs); keep them calling this script rather than vsce.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/target/vsix/ptvsd-dap.vsix}"
mkdir -p "$(dirname "$OUT")"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
VSCE="$ROOT/tests/node/node_modules/@vscode/vsce/vsce"
cd "$ROOT/editors/vscode"
if [[ -f "$VSCE" ]]; then
  node "$VSCE" package --no-dependencies --allow-missing-repository --skip-license --out "$OUT" >&2
else
  npx --yes @vscode/vsce package --no-dependencies --allow-missing-repository --skip-license --out "$OUT" >&2
fi
echo "$OUT"
