#!/usr/bin/env bash
# valgrind memcheck over the CLI runs of tests/reliability/test_valgrind.sh (store commands and the tiny-model
# init-model → train → predict → evaluate → package → score pipeline) plus sexcheck and store stats.
set -euo pipefail
. "$(dirname "$0")/../../bench/reliability/env.sh"
export SEQLORA_TEST_TMP=${SEQLORA_TEST_TMP:-$build/bench-tmp/valgrind} VALGRIND_FULL=1
exec bash "$root/tests/reliability/test_valgrind.sh"
