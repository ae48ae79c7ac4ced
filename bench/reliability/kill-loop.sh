#!/usr/bin/env bash
# Long kill -9 loop (tests/reliability/test_kill_loop.sh with >= 1,000 commands): KILL_ITERS (default 1000).
set -euo pipefail
. "$(dirname "$0")/env.sh"
export SEQLORA_TEST_TMP=${SEQLORA_TEST_TMP:-$build/bench-tmp/kill-loop} KILL_ITERS=${KILL_ITERS:-1000}
exec bash "$root/tests/reliability/test_kill_loop.sh"
