# kill -9 at random moments of real CLI commands on one store: ingest (`fetch file://`), a cached step
# (`clean`), `store gc --grace 0s`, `store reindex`, `store import` and `store verify`, KILL_ITERS times
# (default 150; exactly that many commands, each killed or finished; bench/reliability/kill-loop.sh runs
# >= 1000). Every artifact whose fetch reported success is pinned right after (pins survive gc). Checked
# every 10 iterations and at the end: the store invariants (store_driver check), `store verify` clean; at
# the end every artifact reported stored is still there with its exact bytes, and an interrupted step
# reruns to the right result. "survived" counts the commands followed by a clean check.
. "$(dirname "$0")/common.sh"
: "${STORE_DRIVER:?}"
N=${KILL_ITERS:-150}
SEED=${KILL_SEED:-11}
vcf=$SEQLORA_TEST_DATA/callers/samtools.vcf
python3 - "$N" <<'PY'
import random, sys
n = int(sys.argv[1])
r = random.Random(5)
base = r.randbytes(2_000_000)
for i in range(n + 1):  # in0 seeds the reference store; iterations 1..n may fetch in1..in<n>
    open(f"in{i}.bin", "wb").write(str(i).encode() + base[: 200_000 + (i * 7919) % 1_500_000])
PY
sl clean --vcf "$vcf" -o ref.vcf.gz --min-qual none --min-dp none --store ref --quiet >/dev/null
sl fetch "file://$T/in0.bin" -o /dev/null --store ref --quiet >/dev/null 2>&1 || true
sl store export ref.tar --store ref --quiet
"$STORE_DRIVER" put S in0.bin >/dev/null
RANDOM=$SEED
killed=0 finished=0 reported=0 checks=0 bad_checks=0 survived=0 last_check=0
: >stored.txt
declare -A ops=()
for i in $(seq 1 "$N"); do
    op=$((RANDOM % 6))
    case $op in
    0) cmd=(fetch "file://$T/in$i.bin" -o "o$i.bin") ;;
    1) cmd=(clean --vcf "$vcf" -o "c$i.vcf.gz" --min-qual "$((RANDOM % 40))" --min-dp none) ;;
    2) cmd=(store gc --grace 0s) ;;
    3) cmd=(store reindex) ;;
    4) cmd=(store import ref.tar) ;;
    5) cmd=(store verify) ;;
    esac
    ops[${cmd[0]}${cmd[1]:0:3}]=$((${ops[${cmd[0]}${cmd[1]:0:3}]:-0} + 1))
    "$SEQLORA_BIN" "${cmd[@]}" --store S --quiet >/dev/null 2>err$((i % 2)).txt &
    pid=$!
    sleep "0.$(printf '%03d' $((RANDOM % 120)))"
    kill -9 $pid 2>/dev/null || true
    set +e
    wait $pid 2>/dev/null
    rc=$?
    set -e
    if [ $rc -eq 137 ]; then
        killed=$((killed + 1))
    else
        finished=$((finished + 1))
        if [ $op = 0 ] && [ $rc = 0 ]; then # reported stored: pin it, remember its digest
            d=$(sha256sum "in$i.bin" | cut -c1-64)
            sl store pin "$d" --store S --quiet || bad "pin of the fetched in$i.bin ($d)"
            echo "$d" >>stored.txt
            reported=$((reported + 1))
        elif [ $rc -ne 0 ] && [ $rc -ne 4 ] && ! grep -q "lock" err$((i % 2)).txt; then
            bad "iteration $i: '${cmd[*]}' exited $rc without being killed: $(head -c 300 err$((i % 2)).txt)"
        fi
    fi
    if [ $((i % 10)) -eq 0 ] || [ $i -eq "$N" ]; then # the iterations since the last check survived if it is clean
        checks=$((checks + 1))
        if store_ok S >inv.txt; then
            survived=$((survived + i - last_check))
        else
            bad_checks=$((bad_checks + 1))
            bad "invariants after iteration $i ('${cmd[*]}'): $(head -c 800 inv.txt)"
        fi
        last_check=$i
    fi
done
echo "kill loop: $N commands, $killed killed, $finished finished first; ops: $(for k in "${!ops[@]}"; do printf '%s=%s ' "$k" "${ops[$k]}"; done)"
lost=0
while read -r d; do
    got=$(sl store cat "$d" --store S 2>/dev/null | sha256sum | cut -c1-64)
    [ "$got" = "$d" ] || {
        lost=$((lost + 1))
        echo "LOST $d"
    }
done <stored.txt
check "the kills landed both before and after completion" [ $killed -gt 0 ] && [ $finished -gt 0 ]
check "$checks invariant checks (store_driver check + verify) all clean" [ $bad_checks -eq 0 ]
check "all $reported artifacts reported stored are still there, byte-exact" [ $lost -eq 0 ]
sl clean --vcf "$vcf" -o final.vcf.gz --min-qual none --min-dp none --store S --quiet >/dev/null
check "a step rerun after the kills gives the fault-free bytes" cmp -s final.vcf.gz ref.vcf.gz
check "the store verifies at the end" sl store verify --store S --quiet
[ $lost -eq 0 ] || survived=0 # a lost artifact: no iteration can be said to have kept its promise
result kill-loop "$N" "$survived" \
    "kill -9 at 0-120 ms of fetch/clean/gc/reindex/import/verify: $killed killed, $finished finished; $checks invariant checks; $reported stored artifacts, $lost lost"
finish
