#!/usr/bin/env bash
# The README's first command: set up, build, and run the embedded demo.
#
#   scripts/demo.sh [OUTDIR]         (default OUTDIR: ./seqlora-demo; store: ./store or $SEQLORA_STORE)
#
# 1. scripts/install-deps.sh build   compilers and libraries (Debian/Ubuntu; uses sudo when not root;
#                                     SEQLORA_SKIP_DEPS=1 skips it on a machine that has them)
# 2. a Release build into ./build
# 3. `seqlora run` with no arguments: BRCA1 saturation genome editing variants (Findlay et al. 2018),
#    LOF vs FUNC on held-out exons, next to CADD and a consequence-class baseline, on a small BERT that the
#    run first MLM-pretrains on the bundled BRCA1 region. About a minute on two cores from a cold store
#    (measured 44 s, docs/run.md); a second run is all cache hits (under a second). The report is OUTDIR/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-seqlora-demo}
if [ "${SEQLORA_SKIP_DEPS:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then scripts/install-deps.sh build; else sudo scripts/install-deps.sh build; fi
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build --target seqlora
./build/src/cli/seqlora run -o "$out"
echo "report: $out/report.md" >&2
