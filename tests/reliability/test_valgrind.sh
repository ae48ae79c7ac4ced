# valgrind memcheck on small CLI runs: fetch file://, clean, sexcheck, store verify/export/import/gc.
# Required: no memcheck error (invalid read/write, uninitialised use) and no definite leak in any run.
# VALGRIND_FULL=1 (tests/long/valgrind-pipeline.sh) adds init-model + a tiny train, predict and evaluate.
. "$(dirname "$0")/common.sh"
command -v valgrind >/dev/null || {
    echo "SKIP: valgrind is not installed (scripts/install-deps.sh installs it)"
    exit 77
}
vg() { # vg NAME args... -> runs seqlora under memcheck
    local name=$1
    shift
    runs=$((runs + 1))
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --track-origins=no --log-file="vg-$name.log" \
        "$SEQLORA_BIN" "$@" --store S --quiet >"out-$name.txt" 2>"err-$name.txt"; then
        clean_runs=$((clean_runs + 1))
        ok "memcheck clean: seqlora $*"
    else
        rc=$?
        bad "memcheck: seqlora $* (exit $rc): $(grep -m3 -E 'Invalid|uninitialised|definitely|ERROR SUMMARY' "vg-$name.log" | tr '\n' ' ') $(head -c 200 "err-$name.txt")"
    fi
}
runs=0 clean_runs=0
head -c 200000 /dev/urandom >in.bin
sha=$(sha256sum in.bin | cut -c1-64)
vcf=$SEQLORA_TEST_DATA/callers/samtools.vcf
vg fetch fetch "file://$T/in.bin" --sha256 "$sha" -o got.bin
vg fetch-hit fetch "file://$T/in.bin" --sha256 "$sha" -o got2.bin
vg clean clean --vcf "$vcf" -o c.vcf.gz --min-qual 20 --min-dp none
vg verify store verify
vg export store export e.tar
vg gc store gc --grace 0s
vg import store import e.tar
if [ "${VALGRIND_FULL:-0}" = 1 ]; then
    x=$(ls "$SEQLORA_TEST_DATA"/1kg/*.vcf.gz 2>/dev/null | head -1 || true)
    [ -n "$x" ] && vg sexcheck sexcheck --vcf "$x" --build GRCh37 -o sex.tsv
    vg stats store stats
fi
result valgrind "$runs" "$clean_runs" "memcheck (definite leaks, invalid accesses) on fetch/clean/verify/export/gc/import CLI runs"
finish
