#!/usr/bin/env bash
# Long training-fault run (tests/reliability/test_train_faults.sh): 60 SIGTERM/SIGKILL interruptions and up
# to 20 ENOSPC faults per operation.
set -euo pipefail
. "$(dirname "$0")/env.sh"
export SEQLORA_TEST_TMP=${SEQLORA_TEST_TMP:-$build/bench-tmp/train-faults} TRAIN_ITERS=${TRAIN_ITERS:-60} \
    TRAIN_SHIM_MAX=${TRAIN_SHIM_MAX:-20}
exec bash "$root/tests/reliability/test_train_faults.sh"
