# kill -9 of ingests and runs at random moments, 240 times: no published partial blob, no index entry without
# its files, no record without its outputs; verify is clean at the end.
. "$(dirname "$0")/common.sh"
S=st
N=240
python3 - "$N" <<'PY'
import random, sys
n = int(sys.argv[1])
r = random.Random(42)
base = r.randbytes(400_000)
for i in range(n):
    # half random (incompressible), half text (compressible); each one different
    body = base[: 200_000 + 800 * i] if i % 2 else (b"ACGT" * 60_000 + str(i).encode()) * 2
    open(f"in{i}.bin", "wb").write(str(i).encode() + body)
PY
"$STORE_DRIVER" put $S in0.bin >/dev/null # the store and its index exist before the first kill
killed=0
finished=0
maxd=40 # ms; adapted so that kills keep landing both during and after the work on a slow or busy machine
wk=0
wf=0
for i in $(seq 1 $((N - 1))); do
    if [ $((i % 2)) -eq 0 ]; then
        "$STORE_DRIVER" put $S in$i.bin >/dev/null 2>&1 &
    else
        "$STORE_DRIVER" run $S test.concat "{\"sep\":\"$i\"}" a=in$i.bin a=in$((i - 1)).bin --quiet >/dev/null 2>&1 &
    fi
    pid=$!
    sleep "$(printf '0.%03d' $((RANDOM % maxd)))"
    kill -9 $pid 2>/dev/null || true
    set +e
    wait $pid
    rc=$?
    set -e
    if [ $rc -eq 137 ]; then
        killed=$((killed + 1))
        wk=$((wk + 1))
    else
        finished=$((finished + 1))
        wf=$((wf + 1))
    fi
    if [ $((i % 20)) -eq 0 ]; then
        if [ $wf -eq 0 ] && [ $maxd -lt 900 ]; then maxd=$((maxd * 2)); fi
        if [ $wk -eq 0 ] && [ $maxd -gt 5 ]; then maxd=$((maxd / 2)); fi
        wk=0
        wf=0
    fi
    if [ $((i % 30)) -eq 0 ]; then
        if ! "$STORE_DRIVER" check $S >check.out 2>check.err; then
            cat check.err
            bad "invariants after iteration $i"
        fi
    fi
done
echo "killed $killed, finished before the kill $finished (final max delay $maxd ms)"
check "the kills landed both before and after completion" [ $killed -gt 20 ] && [ $finished -gt 0 ]
check "every index entry has its whole blob, every blob file is whole, every indexed action has its outputs" \
    "$STORE_DRIVER" check $S
cat check.out 2>/dev/null || true
check "verify is clean" sq verify --store $S --quiet
# the interrupted actions run to completion afterwards, from whatever state the kills left
for i in 1 3 5 7; do
    "$STORE_DRIVER" run $S test.concat "{\"sep\":\"$i\"}" a=in$i.bin a=in$((i - 1)).bin -o out.txt=out$i.txt --quiet >/dev/null
    python3 -c "import sys; i=int(sys.argv[1]); a=open(f'in{i}.bin','rb').read(); b=open(f'in{i-1}.bin','rb').read(); sys.exit(open(f'out{i}.txt','rb').read()!=a+str(i).encode()+b)" $i ||
        bad "rerun $i gives the right bytes"
done
check "after the reruns the store verifies" sq verify --store $S --quiet
finish
