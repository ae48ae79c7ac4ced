# The runner through the driver and the `seqlora store` commands: hit/miss byte-identical outputs (files,
# gzip inputs stored raw, folders), show/cat/log, index deletion + reindex, export/import, pins.
. "$(dirname "$0")/common.sh"
S=st
printf 'chr1\t100\tA\tG\n' >a.tsv
printf 'chr2\t200\tC\tT\n' >b.tsv
printf 'ACGT%.0s' $(seq 1 5000) | gzip -c >ref.fa.gz
mkdir -p model/sub && printf '{"hidden": 8}\n' >model/config.json && gen model/sub/w.bin 20000 1

r1=$("$STORE_DRIVER" run $S test.concat '{"sep":"|"}' a=a.tsv a=b.tsv b=ref.fa.gz -o out.txt=o1.txt)
r2=$("$STORE_DRIVER" run $S test.concat '{"sep":"|"}' a=a.tsv a=b.tsv b=ref.fa.gz -o out.txt=o2.txt 2>err.txt)
check "first run is a miss" [ "${r1#* }" = miss ]
check "second run is a hit with the same key" [ "$r2" = "${r1% *} hit" ]
check "the hit says cached: on stderr" grep -q "^cached: test.concat ${r1:0:12}$" err.txt
check "hit and miss outputs are byte-identical" cmp -s o1.txt o2.txt
check "outputs are regular files" [ -f o2.txt ] && [ ! -L o2.txt ]
python3 - <<'PY' || bad "output content"
import gzip
want = open('a.tsv','rb').read() + b'|' + open('b.tsv','rb').read() + b'|' + open('ref.fa.gz','rb').read()
assert open('o1.txt','rb').read() == want
PY
gzd=$(sha256sum ref.fa.gz | cut -c1-64)
check "a gzip input is stored raw (the blob file is the input)" cmp -s ref.fa.gz "$S/blobs/sha256/${gzd:0:2}/${gzd:2:2}/$gzd"
check "store cat gives the input back" cmp -s <(sq cat --store $S "${gzd:0:10}") ref.fa.gz
k=${r1% *}
check "store cat of an action with one output" cmp -s <(sq cat --store $S "${k:0:8}") o1.txt
check "store show prints the record" sh -c "$SEQLORA_BIN store show --store $S ${k:0:8} | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"key\"]==\"$k\"'"
check "store log names the inputs" sh -c "$SEQLORA_BIN store log --store $S ${k:0:8} | grep -q 'input   b = ref.fa.gz'"

t1=$("$STORE_DRIVER" run $S test.tree '{}' model=model -o adapter=ad1)
t2=$("$STORE_DRIVER" run $S test.tree '{}' model=model -o adapter=ad2)
check "folder step: miss then hit" [ "${t1#* }" = miss ] && [ "${t2#* }" = hit ]
check "folder outputs byte-identical on hit and miss" diff -r ad1 ad2
check "folder output content" sh -c "python3 -c \"import sys; a=open('model/sub/w.bin','rb').read(); b=open('ad2/sub/w.bin','rb').read(); sys.exit(a[::-1]!=b)\""

sq ls --store $S >ls1.txt
sq ls --blobs --store $S >blobs1.txt
check "store ls lists 2 actions" [ "$(wc -l <ls1.txt)" -eq 2 ]
rm -rf $S/index
sq reindex --store $S
sq ls --store $S >ls2.txt
sq ls --blobs --store $S >blobs2.txt
check "delete the index + reindex: same store ls" cmp -s ls1.txt ls2.txt
check "delete the index + reindex: same blob list" cmp -s blobs1.txt blobs2.txt
rm -rf $S/index
sq ls --store $S >ls3.txt
check "a deleted index is refilled at open" cmp -s ls1.txt ls3.txt

sq export --store $S all.tar
sq import --store fresh all.tar
sq ls --store fresh >ls4.txt
sq ls --blobs --store fresh >blobs4.txt
check "export → import into an empty store: same store ls" cmp -s ls1.txt ls4.txt
check "export → import: same blobs" cmp -s blobs1.txt blobs4.txt
check "export → import: verify is clean" sq verify --store fresh --quiet
r3=$("$STORE_DRIVER" run fresh test.concat '{"sep":"|"}' a=a.tsv a=b.tsv b=ref.fa.gz -o out.txt=o3.txt)
check "the imported store answers the same action from cache" [ "$r3" = "$k hit" ] && cmp -s o1.txt o3.txt
sq export --store $S part.tar "${t1:0:10}"
sq import --store part part.tar
check "export of one action carries what it needs" [ "$(sq ls --store part | wc -l)" -eq 1 ] && sq verify --store part --quiet

# an archive with a damaged blob member is refused for that member
mkdir -p tamper && (cd tamper && tar xf ../all.tar)
victim=$(find tamper/blobs -type f | head -1)
chmod u+w "$victim"
python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)" "$victim"
(cd tamper && tar cf ../bad.tar blobs actions)
set +e
sq import --store bad bad.tar 2>imp.err
rc=$?
set -e
check "import of a damaged archive exits 4" [ $rc -eq 4 ]
check "the damaged blob was not published" [ ! -e "bad/blobs/sha256/${victim#tamper/blobs/sha256/}" ]
check "the store it went into still verifies" sq verify --store bad --quiet

sq pin --store $S "${k:0:8}"
check "pin is listed" sh -c "$SEQLORA_BIN store pin --store $S | grep -q '^$k	action$'"
sq unpin --store $S "${k:0:8}"
check "unpin removes it" [ -z "$(sq pin --store $S)" ]
set +e
sq show --store $S ffff 2>/dev/null
check "an unknown ID is an error" [ $? -ne 0 ]
sq frobnicate --store $S 2>/dev/null
check "an unknown store command is a usage error" [ $? -eq 2 ]
sq ls --store no-such-store 2>nostore.err
check "a store command on a missing store is an error and creates nothing" [ $? -eq 1 ] && [ ! -e no-such-store ] && grep -q "there is no store at no-such-store" nostore.err
set -e
finish
