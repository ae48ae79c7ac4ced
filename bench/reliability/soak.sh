#!/usr/bin/env bash
# 16 processes ingesting, pinning, reading and running a cached step on overlapping artifacts while gc
# --grace 0s runs in a loop (tests/reliability/test_concurrent_gc.sh at CONC_PROCS=16, CONC_ROUNDS=20, strict
# about pins: STRICT_PIN=1).
set -euo pipefail
. "$(dirname "$0")/env.sh"
export SEQLORA_TEST_TMP=${SEQLORA_TEST_TMP:-$build/bench-tmp/soak} CONC_PROCS=${CONC_PROCS:-16} \
    CONC_ROUNDS=${CONC_ROUNDS:-20} STRICT_PIN=${STRICT_PIN:-1}
exec bash "$root/tests/reliability/test_concurrent_gc.sh"
