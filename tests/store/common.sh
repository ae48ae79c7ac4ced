# Shared by the store script tests: a fresh folder, the tools, and check helpers.
set -euo pipefail
: "${SEQLORA_BIN:?}" "${STORE_DRIVER:?}" "${SEQLORA_TEST_TMP:?}"
T="$SEQLORA_TEST_TMP"
rm -rf "$T"
mkdir -p "$T"
cd "$T"
unset SEQLORA_STORE SEQLORA_INDEX_DIR SEQLORA_FAULT
failures=0
ok() { echo "ok   $*"; }
bad() {
    echo "FAIL $*"
    failures=$((failures + 1))
}
check() { # check "description" command...
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed"
        exit 1
    fi
    echo "all checks passed"
}
sq() { "$SEQLORA_BIN" store "$@"; }
# a deterministic pseudo-random file: gen NAME BYTES SEED
gen() { python3 -c "import random,sys; r=random.Random(int(sys.argv[3])); open(sys.argv[1],'wb').write(bytes(r.getrandbits(8) for _ in range(int(sys.argv[2]))))" "$@"; }
