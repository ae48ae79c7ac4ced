#!/usr/bin/env bash
# Full fault sweep: every store call site up to N=60 per operation, ENOSPC and EIO.
set -euo pipefail
. "$(dirname "$0")/env.sh"
export SEQLORA_TEST_TMP=${SEQLORA_TEST_TMP:-$build/bench-tmp/fault-sweep} SWEEP_MAX=${SWEEP_MAX:-60} \
    SWEEP_ERRNOS=${SWEEP_ERRNOS:-"ENOSPC EIO"}
exec bash "$root/tests/reliability/test_fault_sweep.sh"
