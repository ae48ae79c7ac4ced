#!/usr/bin/env bash
# Full LD_PRELOAD system-call fault sweep (tests/reliability/test_shim_sweep.sh): N up to 80 per operation,
# ENOSPC and EIO.
set -euo pipefail
. "$(dirname "$0")/env.sh"
export SEQLORA_TEST_TMP=${SEQLORA_TEST_TMP:-$build/bench-tmp/shim-sweep} SHIM_MAX=${SHIM_MAX:-80} \
    SHIM_ERRNOS=${SHIM_ERRNOS:-"ENOSPC EIO"}
exec bash "$root/tests/reliability/test_shim_sweep.sh"
