#!/usr/bin/env bash
# Time the embedded demo: a cold run (empty store) and a warm run (everything cached), as the README
# promises (cold <= 15 min on two cores, warm <= 10 s). Prints a Markdown table; nothing is asserted.
#
#   bench/demo/bench_demo.sh [SEQLORA_BIN] [THREADS]     (defaults: build/src/cli/seqlora, 2)
#
# The store and outputs go to a fresh temporary folder (removed at the end unless KEEP=1); the outputs of
# the cold run are left in $TMP/out when KEEP=1 so scripts/demo-results.sh can turn them into the table.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$here/build/src/cli/seqlora}
threads=${2:-2}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/seqlora-bench-demo.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>>"$tmp/log"; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN { print b - a }'; }

cold=$(t "$bin" run --store "$tmp/store" -o "$tmp/out" --threads "$threads")
warm=$(t "$bin" run --store "$tmp/store" -o "$tmp/out" --threads "$threads")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo "| run | wall time (s) | threads | machine |"
echo "|---|---|---|---|"
printf '| cold (empty store) | %.1f | %s | %s, %s cores online |\n' "$cold" "$threads" "$cpu" "$(nproc)"
printf '| warm (all cached) | %.2f | %s | |\n' "$warm" "$threads"
grep -E '^  [a-z]' "$tmp/log" | head -40 >&2
[ "${KEEP:-0}" = 1 ] && echo "outputs kept in $tmp/out" >&2
exit 0
