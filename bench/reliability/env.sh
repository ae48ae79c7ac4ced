# Sourced by the long reliability runs: the environment ctest gives the tests, from a build folder
# (SEQLORA_BUILD, default build/; it must contain the seqlora CLI and tests/store/store_driver).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${SEQLORA_BUILD:-$root/build}
export SEQLORA_BIN=${SEQLORA_BIN:-$build/src/cli/seqlora}
export STORE_DRIVER=${STORE_DRIVER:-$build/tests/store/store_driver}
export SEQLORA_SOURCE_DIR=$root SEQLORA_TEST_DATA=$root/tests/data
export SEQLORA_PYTHON=${SEQLORA_PYTHON:-$root/.venv/bin/python}
for f in "$SEQLORA_BIN" "$STORE_DRIVER"; do
    [ -x "$f" ] || { echo "missing $f: build first (cmake --build $build)" >&2; exit 2; }
done
export FAULT_SHIM=${FAULT_SHIM:-$build/tests/reliability/libseqlora_fault_shim.so}
