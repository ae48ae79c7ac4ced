#!/usr/bin/env bash
# The committed CLI reference (docs/cli/) is what scripts/gen-cli-docs.sh makes from this build's --help.
set -euo pipefail
src=${SEQLORA_SOURCE_DIR:?}
tmp=${SEQLORA_TEST_TMP:?}/cli-docs
rm -rf "$tmp"
mkdir -p "$tmp"
"$src/scripts/gen-cli-docs.sh" "${SEQLORA_BIN:?}" "$tmp"
test -s "$tmp/README.md"
n_cmds=$(ls "$tmp" | grep -cv '^README.md$' || true)
echo "generated README.md + $n_cmds command pages"
if ! diff -ru "$src/docs/cli" "$tmp"; then
  echo "FAIL: docs/cli is stale; regenerate it: scripts/gen-cli-docs.sh <build>/src/cli/seqlora docs/cli" >&2
  exit 1
fi
echo "docs/cli matches the program's --help"
