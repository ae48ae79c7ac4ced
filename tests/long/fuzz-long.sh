#!/usr/bin/env bash
# Long fuzzing: every libFuzzer target for FUZZ_SECONDS each (default 3600), via scripts/fuzz.sh.
set -euo pipefail
exec "$(dirname "$0")/../../scripts/fuzz.sh" "${FUZZ_SECONDS:-3600}" "$@"
