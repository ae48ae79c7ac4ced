# Store fault injection at every call site in turn: for each publishing system call (write, fsync, rename,
# link; SEQLORA_FAULT=op:N:errno, src/store/store_internal.h) and each errno (ENOSPC, EIO), fail the 1st, 2nd,
# ... call of that operation in real CLI commands — an ingest (`fetch file://`), a cached step through the
# runner (`clean`), `store import` and `store pin` — until the command no longer makes an Nth call. After each:
#   - either the command succeeded with exactly the fault-free output, or it failed with a non-zero exit, an
#     error that names the errno, and no -o output file (nothing half-written published);
#   - the store invariants hold (store_driver check: every index entry has its whole blob, every indexed
#     action has its outputs) and `store verify` is clean;
#   - a rerun without the fault succeeds and gives the fault-free bytes (nothing lost, nothing poisoned).
# CI: SWEEP_MAX=6, ENOSPC only (SWEEP_ERRNOS); bench/reliability/fault-sweep.sh runs N up to 60 with ENOSPC and EIO.
. "$(dirname "$0")/common.sh"
: "${STORE_DRIVER:?}"
MAX=${SWEEP_MAX:-6}
ERRNOS=${SWEEP_ERRNOS:-ENOSPC}
python3 - <<'PY'
import random
r = random.Random(7)
open("in.bin", "wb").write(r.randbytes(300_000) + b"ACGT" * 50_000)
PY
vcf=$SEQLORA_TEST_DATA/callers/samtools.vcf
sha=$(sha256sum in.bin | cut -c1-64)
# fault-free references
sl fetch "file://$T/in.bin" --sha256 "$sha" -o ref.fetch --store ref --quiet >/dev/null
sl clean --vcf "$vcf" -o ref.vcf.gz --min-qual none --min-dp none --store ref --quiet >/dev/null
sl store export ref.tar --store ref --quiet
printf 'small\n' >small.txt
"$STORE_DRIVER" put base small.txt >/dev/null # an existing store with one unrelated blob
tried=0 survived=0 failed_ok=0 succeeded=0
scenario() { # scenario NAME -> runs it on store S, output out.* ; sets rc
    set +e
    case $1 in
    fetch) sl fetch "file://$T/in.bin" --sha256 "$sha" -o out.fetch --store S --quiet >/dev/null ;;
    clean) sl clean --vcf "$vcf" -o out.vcf.gz --min-qual none --min-dp none --store S --quiet >/dev/null ;;
    import) sl store import ref.tar --store S --quiet ;;
    pin) sl store import ref.tar --store S --quiet >/dev/null 2>&1 && SEQLORA_FAULT=${FAULT:-} sl store pin \
        "$(sha256sum ref.fetch | cut -c1-64)" --store S --quiet ;;
    esac
    rc=$?
    set -e
}
same_output() { # same_output NAME -> the outputs equal the fault-free ones
    case $1 in
    fetch) cmp -s out.fetch ref.fetch ;;
    clean) cmp -s out.vcf.gz ref.vcf.gz && [ -s out.vcf.gz.tbi ] ;;
    import | pin) [ "$(sl store ls --blobs --store S | wc -l)" = "$(($(sl store ls --blobs --store ref | wc -l) + 1))" ] ;;
    esac
}
no_output() { case $1 in fetch) [ ! -e out.fetch ] ;; clean) [ ! -e out.vcf.gz ] ;; *) true ;; esac; }
for name in fetch clean import pin; do
    for op in write fsync rename link; do
        for e in $ERRNOS; do
            [ $e = EIO ] && want="Input/output error" || want="No space left on device"
            clean_runs=0
            for n in $(seq 1 "$MAX"); do
                rm -rf S out.*
                cp -a base S
                tried=$((tried + 1))
                what="$name $op:$n:$e"
                export FAULT=$op:$n:$e
                if [ $name = pin ]; then scenario pin 2>err.txt; else SEQLORA_FAULT=$FAULT scenario $name 2>err.txt; fi
                unset FAULT
                good=1
                if [ $rc -eq 0 ]; then
                    same_output $name || { bad "$what: succeeded but the output differs"; good=0; }
                    succeeded=$((succeeded + 1))
                    clean_runs=$((clean_runs + 1))
                else
                    grep -q "$want" err.txt || { bad "$what: exit $rc without '$want': $(head -c 300 err.txt)"; good=0; }
                    [ $rc -ge 128 ] && { bad "$what: killed by signal $((rc - 128))"; good=0; }
                    no_output $name || { bad "$what: failed but left its -o output"; good=0; }
                    failed_ok=$((failed_ok + 1))
                    clean_runs=0
                fi
                store_ok S >inv.txt || { bad "$what: store invariants: $(head -c 500 inv.txt)"; good=0; }
                rm -f out.*
                scenario $name 2>err2.txt
                if [ $rc -ne 0 ] || ! same_output $name; then
                    bad "$what: the rerun without a fault did not give the fault-free result: $(head -c 300 err2.txt)"
                    good=0
                fi
                [ $good = 1 ] && survived=$((survived + 1))
                # two clean successes in a row: this command makes no more calls of $op
                [ $clean_runs -ge 2 ] && break
            done
        done
    done
done
echo "fault sweep: $tried injected runs, $failed_ok failed cleanly, $succeeded completed (fault absorbed or not reached)"
check "every injected fault left a consistent store, no partial output, and a rerun that gives the same bytes" \
    [ "$survived" -eq "$tried" ]
result fault-sweep "$tried" "$survived" "fetch/clean/import/pin x write/fsync/rename/link x $ERRNOS, N=1..$MAX per op; $failed_ok clean failures, $succeeded completed"
finish
