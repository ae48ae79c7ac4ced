# System-call fault injection under everything the process runs (htslib's output and index writes, LMDB,
# libcurl's download writes, our own publish calls), through the LD_PRELOAD shim fault_shim.so: for each
# operation (write, fsync, close, rename, link, open-with-create) the 1st, 2nd, ... call on a regular file
# fails with ENOSPC (and EIO with SHIM_ERRNOS), in `clean`, `sexcheck`, `fetch file://`, `store import`,
# `store gc` and `store reindex`, until the command makes no Nth call (the shim logs when it fires) or
# SHIM_MAX (CI default 6; bench/reliability/shim-sweep.sh: 80). After each:
#   - a run whose fault fired either failed (non-zero exit, not a signal, a message, no -o output) or
#     completed with exactly the fault-free output: never a silent wrong result;
#   - the store invariants hold and `store verify` is clean;
#   - a rerun without the fault gives the fault-free result.
#
# Known issues (docs/reliability.md), counted and printed as KNOWN unless STRICT_SHIM=1 (the DISABLED ctest
# reliability_shim_strict):
#   partial-output: a step whose 2nd output fails to materialise (e.g. the .tbi rename) exits 1 but leaves
#     the 1st output (the .vcf.gz) at -o;
#   gc-index: `store gc` deletes files before its index transaction commits; when an index write or the
#     commit fails (write/fsync of LMDB), the index keeps entries for deleted records and blobs, and gc may
#     still exit 0; a second gc and `store verify` do not notice, `store reindex` repairs.
. "$(dirname "$0")/common.sh"
: "${STORE_DRIVER:?}" "${FAULT_SHIM:?}"
MAX=${SHIM_MAX:-6}
ERRNOS=${SHIM_ERRNOS:-ENOSPC}
OPS=${SHIM_OPS:-"write fsync close rename link open"}
vcf=$SEQLORA_TEST_DATA/callers/samtools.vcf
xvcf=$SEQLORA_TEST_DATA/1kg/1kg_phase3_subset_chrX.vcf.gz
head -c 300000 /dev/urandom >in.bin
head -c 200000 /dev/urandom >in2.bin
sha2=$(sha256sum in2.bin | cut -c1-64)
# base: a store with one fetched file; full: base + every scenario's result (for gc/reindex)
sl fetch "file://$T/in.bin" -o /dev/null --store base --quiet >/dev/null
cp -a base full
sl clean --vcf "$vcf" -o ref.vcf.gz --min-qual none --min-dp none --store full --quiet >/dev/null
sl sexcheck --vcf "$xvcf" --build GRCh37 -o ref.sex.tsv --store full --quiet >/dev/null
sl fetch "file://$T/in2.bin" --sha256 "$sha2" -o ref.in2 --store full --quiet >/dev/null
sl store export ref.tar --store full --quiet
cp -a full gcref && sl store gc --grace 0s --store gcref --quiet && sl store ls --blobs --store gcref >ref.gc.txt
sl store ls --blobs --store full >ref.full.txt
scenario() { # scenario NAME [env...] -> rc
    set +e
    case $1 in
    clean) env "${@:2}" "$SEQLORA_BIN" clean --vcf "$vcf" -o out.vcf.gz --min-qual none --min-dp none --store S --quiet ;;
    sexcheck) env "${@:2}" "$SEQLORA_BIN" sexcheck --vcf "$xvcf" --build GRCh37 -o out.sex.tsv --store S --quiet ;;
    fetch) env "${@:2}" "$SEQLORA_BIN" fetch "file://$T/in2.bin" --sha256 "$sha2" -o out.in2 --store S --quiet ;;
    import) env "${@:2}" "$SEQLORA_BIN" store import ref.tar --store S --quiet ;;
    gc) env "${@:2}" "$SEQLORA_BIN" store gc --grace 0s --store S --quiet ;;
    reindex) env "${@:2}" "$SEQLORA_BIN" store reindex --store S --quiet ;;
    esac >/dev/null
    rc=$?
    set -e
}
start_store() { case $1 in gc | reindex) cp -a full S ;; *) cp -a base S ;; esac; }
same_output() {
    case $1 in
    clean) cmp -s out.vcf.gz ref.vcf.gz && [ -s out.vcf.gz.tbi ] ;;
    sexcheck) cmp -s out.sex.tsv ref.sex.tsv ;;
    fetch) cmp -s out.in2 ref.in2 ;;
    import) sl store ls --blobs --store S | cmp -s - ref.full.txt ;;
    gc) sl store ls --blobs --store S | cmp -s - ref.gc.txt ;;
    reindex) sl store ls --blobs --store S | cmp -s - ref.full.txt ;;
    esac
}
no_output() {
    case $1 in clean) [ ! -e out.vcf.gz ] ;; sexcheck) [ ! -e out.sex.tsv ] ;; fetch) [ ! -e out.in2 ] ;; *) true ;; esac
}
tried=0 survived=0 fired_failed=0 fired_ok=0 known=0
STRICT=${STRICT_SHIM:-0}
for name in clean sexcheck fetch import gc reindex; do
    for op in $OPS; do
        for e in $ERRNOS; do
            for n in $(seq 1 "$MAX"); do
                rm -rf S out.* shim.log
                start_store $name
                scenario $name LD_PRELOAD="$FAULT_SHIM" SEQLORA_SHIM_FAULT="$op:$n:$e" SEQLORA_SHIM_LOG="$T/shim.log" 2>err.txt
                [ -s shim.log ] || break # this command makes fewer than n such calls
                tried=$((tried + 1))
                what="$name $op:$n:$e"
                good=1
                if [ "$STRICT" != 1 ] && [ $name = gc ] && ! store_ok S >inv.txt &&
                    ! grep -v -e '^index \(action\|entry\) .*No such file' -e '^invariant check failed' -e '^entries=' inv.txt | grep -q .; then
                    echo "KNOWN gc-index: $what (exit $rc) left index entries whose files gc deleted; reindexing"
                    known=$((known + 1))
                    sl store reindex --store S --quiet # the repair a user would have to run
                fi
                if [ $rc -ge 128 ]; then
                    bad "$what: killed by signal $((rc - 128)): $(head -c 300 err.txt)"
                    good=0
                elif [ $rc -ne 0 ]; then
                    fired_failed=$((fired_failed + 1))
                    [ -s err.txt ] || { bad "$what: exit $rc without a message"; good=0; }
                    if ! no_output $name; then
                        if [ "$STRICT" != 1 ] && [ $name = clean ] && [ -e out.vcf.gz ] && [ ! -e out.vcf.gz.tbi ]; then
                            echo "KNOWN partial-output: $what left out.vcf.gz without its index"
                            known=$((known + 1))
                        else
                            bad "$what: failed but left its -o output"
                            good=0
                        fi
                    fi
                elif same_output $name; then
                    fired_ok=$((fired_ok + 1)) # the fault was absorbed (retried, or a fallback) with the right result
                else
                    bad "$what: exit 0 with a wrong or missing result (silent failure)"
                    good=0
                fi
                store_ok S >inv.txt || { bad "$what: store invariants: $(head -c 500 inv.txt)"; good=0; }
                rm -f out.*
                scenario $name 2>err2.txt
                if [ $rc -ne 0 ] || ! same_output $name; then
                    bad "$what: the rerun without a fault did not give the fault-free result: $(head -c 300 err2.txt)"
                    good=0
                fi
                [ $good = 1 ] && survived=$((survived + 1))
            done
        done
    done
done
echo "shim sweep: $tried fired faults, $fired_failed failures, $fired_ok absorbed with the right result, $known known issues"
check "every fired fault ended in a clean failure or the right result, with a consistent store and a good rerun" \
    [ "$survived" -eq "$tried" ]
check "faults fired at all (the shim is live)" [ "$tried" -gt 0 ]
result shim-sweep "$tried" "$survived" "LD_PRELOAD shim: $OPS x $ERRNOS, N=1..$MAX, in clean/sexcheck/fetch/import/gc/reindex; $fired_failed failed, $fired_ok absorbed; known issues hit: $known"
finish
