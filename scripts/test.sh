#!/usr/bin/env bash
# Set up (dependencies, peers) and run the whole test suite:
#   1. install what the build and the tests need (scripts/install-deps.sh test);
#   2. a -Wall -Wextra -Werror build, all tests (unit, integration, peer parity) under ctest;
#   3. an ASan+UBSan build, the unit tests under the sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
scripts/install-deps.sh test

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEQLORA_WERROR=ON
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs" ${SEQLORA_CTEST_ARGS:-})

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSEQLORA_WERROR=ON -DSEQLORA_SANITIZE=ON -DSEQLORA_CUDA=OFF
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$jobs" -L unit)

# 4. bounded fuzzing (tests/fuzz, docs/reliability.md): every libFuzzer target for SEQLORA_FUZZ_SECONDS each
#    (default 12 s; 18 targets ≈ 3.6 min) from the committed seeds; a new crash fails CI and its input is saved
#    under tests/fuzz/known-crashes/. Needs clang; SEQLORA_FUZZ_SECONDS=0 skips the stage.
if [ "${SEQLORA_FUZZ_SECONDS:-12}" != 0 ] && command -v clang >/dev/null; then
  scripts/fuzz.sh "${SEQLORA_FUZZ_SECONDS:-12}"
fi
