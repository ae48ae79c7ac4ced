# 8 processes at once, several rounds, ingesting overlapping content and running overlapping actions
# (same keys too: one runs, the others wait for it) in one store, with a small LMDB map so they also race to grow it: all succeed, the
# outputs are right, and verify is clean.
. "$(dirname "$0")/common.sh"
S=st
export SEQLORA_INDEX_MAPSIZE=65536
python3 - <<'PY'
import random
r = random.Random(5)
for i in range(6):
    open(f"f{i}.bin", "wb").write(r.randbytes(150_000) + (b"ACGT" * 30_000))
PY
mkdir -p tree/a && cp f0.bin f1.bin tree/ && cp f2.bin tree/a/
for round in 1 2 3; do
    pids=""
    for p in 1 2 3 4 5 6 7 8; do
        (
            set -e
            x=$(((p + round) % 6))
            y=$(((p + 1) % 6))
            "$STORE_DRIVER" put $S f$x.bin >/dev/null
            "$STORE_DRIVER" puttree $S tree >/dev/null
            # pairs repeat across processes: the same action key is run by several at once
            "$STORE_DRIVER" run $S test.concat '{"sep":"/"}' a=f$x.bin a=f$y.bin -o out.txt=o$round.$p.txt --quiet >>runs.$round.$p
            "$STORE_DRIVER" run $S test.tree '{}' model=tree -o adapter=t$round.$p --quiet >>runs.$round.$p
            python3 -c "import sys; a,b,o=sys.argv[1:]; sys.exit(open(o,'rb').read()!=open(a,'rb').read()+b'/'+open(b,'rb').read())" \
                f$x.bin f$y.bin o$round.$p.txt
        ) >log.$round.$p 2>&1 &
        pids="$pids $!"
    done
    n_fail=0
    for pid in $pids; do wait $pid || n_fail=$((n_fail + 1)); done
    check "round $round: all 8 processes succeeded with the right output" [ $n_fail -eq 0 ]
    [ $n_fail -eq 0 ] || cat log.$round.*
done
check "each distinct action ran exactly once (the others waited for it and hit)" \
    sh -c 'test "$(cat runs.* | grep -c miss)" -eq "$(cat runs.* | cut -d" " -f1 | sort -u | wc -l)"'
check "the folder outputs are identical across processes" sh -c 'for d in t*.*; do diff -r t1.1 "$d" || exit 1; done'
check "every index entry and blob is whole" "$STORE_DRIVER" check $S
check "verify is clean" sq verify --store $S --quiet
check "one record per distinct action" [ "$(sq ls --store $S | wc -l)" -eq "$(find $S/actions -name '*.json' | wc -l)" ]
check "no temp files left behind" [ -z "$(find $S/tmp -mindepth 1)" ]
finish
