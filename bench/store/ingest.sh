#!/usr/bin/env bash
# Ingest throughput of the store against its peers on the same bytes: `sha256sum` + `zstd -3 -c` (what the
# store does in one pass: hash the raw bytes, compress at level 3 with checksums) and a plain `cp`.
# usage: bench/store/ingest.sh BUILD_DIR [MB]   (BUILD_DIR has tests/store/store_driver)
set -euo pipefail
build=${1:?usage: ingest.sh BUILD_DIR [MB]}
mb=${2:-64}
driver=$build/tests/store/store_driver
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# FASTA-like text: 60-column lines of A/C/G/T with some N runs (compresses like real sequence, ~3.5x)
python3 - "$work/in.fa" "$mb" <<'PY'
import random, sys
r = random.Random(1)
out = open(sys.argv[1], "w")
n = int(sys.argv[2]) << 20
out.write(">chrSynthetic\n")
w = 0
while w < n:
    line = "".join(r.choice("ACGT") for _ in range(60)) if r.random() > 0.01 else "N" * 60
    out.write(line + "\n")
    w += 61
PY
size=$(stat -c %s "$work/in.fa")
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
sync
ts=$(t "$driver" put "$work/store" "$work/in.fa")
rm -rf "$work/store"
ts2=$(t "$driver" put "$work/store" "$work/in.fa")
tp=$(t sh -c "sha256sum '$work/in.fa' && zstd -3 --check -q -c '$work/in.fa' > '$work/peer.zst' && sync '$work/peer.zst'")
tc=$(t sh -c "cp '$work/in.fa' '$work/copy' && sync '$work/copy'")
stored=$(find "$work/store/blobs" -type f -printf '%s\n' | head -1)
printf 'bytes\t%d\nstore put (2 runs)\t%.2f s, %.2f s\t%.0f MB/s\nsha256sum + zstd -3 + sync\t%.2f s\t%.0f MB/s\ncp + sync\t%.2f s\t%.0f MB/s\ncompression ratio\t%.2f\n' \
    "$size" "$ts" "$ts2" "$(echo "$size / $ts2 / 1000000" | bc -l)" "$tp" "$(echo "$size / $tp / 1000000" | bc -l)" \
    "$tc" "$(echo "$size / $tc / 1000000" | bc -l)" "$(echo "$size / $stored" | bc -l)"
