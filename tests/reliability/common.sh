# Shared by the reliability script tests: a fresh folder, helpers, and the store invariants.
set -euo pipefail
: "${SEQLORA_BIN:?}" "${SEQLORA_TEST_TMP:?}" "${SEQLORA_TEST_DATA:?}"
T="$SEQLORA_TEST_TMP"
rm -rf "$T"
mkdir -p "$T"
cd "$T"
unset SEQLORA_STORE SEQLORA_INDEX_DIR SEQLORA_FAULT GDC_TOKEN
export SEQLORA_LOG=${SEQLORA_LOG:-info}
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
sl() { "$SEQLORA_BIN" "$@"; }
# RESULT lines are collected by scripts/reliability-report.sh into docs/reliability.md:
#   result NAME TRIED SURVIVED [NOTE...]
result() { echo "RESULT	$1	$2	$3	${*:4}"; }
# Store invariants after a fault or a kill: the store driver's check (every index entry has its whole
# blob, every blob file is whole, every indexed action has its outputs), no file left in tmp/ by a
# finished process, and `store verify` clean (exit 0).
store_ok() { # store_ok STORE -> 0 when every invariant holds (prints what failed)
    local s=$1
    if [ -n "${STORE_DRIVER:-}" ] && ! "$STORE_DRIVER" check "$s" >inv.out 2>&1; then
        echo "invariant check failed:"
        cat inv.out
        return 1
    fi
    if ! "$SEQLORA_BIN" store verify --store "$s" --quiet >verify.out 2>&1; then
        echo "verify not clean:"
        cat verify.out
        return 1
    fi
    return 0
}
