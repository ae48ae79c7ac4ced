# gc against a concurrent writer: a writer loop keeps running steps (each verifies its materialised
# output) while gc --grace 0 runs again and again; nothing a running step or a pin references is removed,
# the writer never fails, and verify is clean. Then: the grace period protects recent records, pins keep
# their lineage, old temp files go.
. "$(dirname "$0")/common.sh"
S=st
python3 -c "
import random
r = random.Random(9)
for i in range(4): open(f'g{i}.bin','wb').write(r.randbytes(100_000))"
# a pinned chain: x → y; pinning y keeps y's record, x's record (its producer) and all their blobs
kx=$("$STORE_DRIVER" run $S test.concat '{"sep":"x"}' a=g0.bin -o out.txt=x.txt --quiet | cut -d' ' -f1)
ky=$("$STORE_DRIVER" run $S test.concat '{"sep":"y"}' a=x.txt a=g1.bin -o out.txt=y.txt --quiet | cut -d' ' -f1)
yd=$(sha256sum y.txt | cut -c1-64)
sq pin --store $S "$yd"
"$STORE_DRIVER" run $S test.concat '{"sep":"unpinned"}' a=g2.bin --quiet >/dev/null
sq gc --store $S --quiet
check "gc with the default grace removes nothing recent" [ "$(sq ls --store $S | wc -l)" -eq 3 ]

(
    set -e
    for i in $(seq 1 25); do
        "$STORE_DRIVER" run $S test.concat "{\"sep\":\"w$i\"}" a=g$((i % 4)).bin a=g$(((i + 1) % 4)).bin \
            -o out.txt=w.txt --quiet >/dev/null
        python3 -c "import sys; a,b,s=sys.argv[1:]; sys.exit(open('w.txt','rb').read()!=open(a,'rb').read()+s.encode()+open(b,'rb').read())" \
            g$((i % 4)).bin g$(((i + 1) % 4)).bin w$i
    done
) >writer.log 2>&1 &
writer=$!
gcs=0
while kill -0 $writer 2>/dev/null; do
    sq gc --store $S --grace 0 --quiet --wait 60
    gcs=$((gcs + 1))
done
set +e
wait $writer
wrc=$?
set -e
echo "gc ran $gcs times during the writer"
check "the writer never failed while gc ran" [ $wrc -eq 0 ]
[ $wrc -eq 0 ] || cat writer.log
check "gc ran concurrently" [ $gcs -ge 2 ]
check "verify is clean after concurrent gc" sq verify --store $S --quiet
check "the pinned artifact's record survives" sh -c "$SEQLORA_BIN store ls --store $S | grep -q ^$ky"
check "and so does its upstream record (lineage)" sh -c "$SEQLORA_BIN store ls --store $S | grep -q ^$kx"
check "the pinned chain is still a cache hit" sh -c "$STORE_DRIVER run $S test.concat '{\"sep\":\"y\"}' a=x.txt a=g1.bin --quiet | grep -q hit"
check "store prov of the pinned artifact still names the original input" \
    sh -c "$SEQLORA_BIN store prov --store $S $yd | grep -q $(sha256sum g0.bin | cut -c1-64)"
check "the unpinned old record was collected" sh -c "! $SEQLORA_BIN store ls --store $S | grep -q 'unpinned'"
touch -d '3 days ago' $S/tmp/stale.tmp 2>/dev/null || { : >$S/tmp/stale.tmp && touch -d '3 days ago' $S/tmp/stale.tmp; }
sq gc --store $S --quiet
check "gc removes temp files older than the grace period" [ ! -e $S/tmp/stale.tmp ]
sq unpin --store $S "$yd"
sq gc --store $S --grace 0 --quiet
check "after unpinning, gc --grace 0 empties the store" [ -z "$(sq ls --store $S)" ] && [ -z "$(sq ls --blobs --store $S)" ]
check "and it still verifies" sq verify --store $S --quiet
finish
