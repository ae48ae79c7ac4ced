# verify detects one flipped byte in a blob and in a record: exit 4, the bad file moves to quarantine/,
# its index entry goes; --sample checks a subset.
. "$(dirname "$0")/common.sh"
S=st
gen in1.bin 300000 7
gen in2.bin 1000 8
"$STORE_DRIVER" run $S test.concat '{"sep":"-"}' a=in1.bin -o out.txt=o.txt >/dev/null
"$STORE_DRIVER" run $S test.concat '{"sep":"+"}' a=in2.bin >/dev/null
check "a fresh store verifies" sq verify --store $S --quiet
check "a sampled verify is clean too" sq verify --store $S --sample 50 --quiet

flip() { # flip one byte in the middle of a file
    chmod u+w "$1"
    python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0x20; open(p,'wb').write(b)" "$1"
}
d=$(sha256sum in1.bin | cut -c1-64)
blob=$S/blobs/sha256/${d:0:2}/${d:2:2}/$d
flip "$blob"
set +e
sq verify --store $S >v1.out 2>v1.err
rc=$?
set -e
check "a flipped byte in a blob: verify exits 4" [ $rc -eq 4 ]
check "the report names the blob" grep -q "bad blob $d" v1.out
check "the blob moved to quarantine" [ ! -e "$blob" ] && ls $S/quarantine | grep -q "^$d"
check "its index entry is gone" sh -c "! $SEQLORA_BIN store ls --blobs --store $S | grep -q $d"
check "the record that used it reports the missing blob" grep -q "references the missing blob $d" v1.out
r2=$("$STORE_DRIVER" run $S test.concat '{"sep":"-"}' a=in1.bin -o out.txt=o2.txt)
check "a run re-ingests the input and is served again" cmp -s o.txt o2.txt
check "after re-ingesting, verify is clean" sq verify --store $S --quiet

rec=$(find $S/actions -name '*.json' | head -1)
key=$(basename "$rec" .json)
flip "$rec"
set +e
sq verify --store $S >v2.out 2>v2.err
rc=$?
set -e
check "a flipped byte in a record: verify exits 4" [ $rc -eq 4 ]
check "the report names the record" grep -q "bad action record $key" v2.out
check "the record moved to quarantine" [ ! -e "$rec" ] && ls $S/quarantine | grep -q "^$key.json"
check "its index entry is gone" sh -c "! $SEQLORA_BIN store ls --store $S | grep -q ^$key"
check "then verify is clean" sq verify --store $S --quiet

# a flipped byte in the record's checksum field itself, and a record whose bytes parse but differ
rec=$(find $S/actions -name '*.json' | head -1)
key=$(basename "$rec" .json)
chmod u+w "$rec"
python3 - "$rec" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
i = t.index('"checksum":"') + len('"checksum":"')
c = '0' if t[i] != '0' else '1'
open(p, 'w').write(t[:i] + c + t[i + 1:])
PY
set +e
sq verify --store $S >v3.out 2>&1
rc=$?
set -e
check "a changed checksum digit: verify exits 4" [ $rc -eq 4 ]

# a cache hit whose output blob is damaged quarantines it and runs the step again, with the right bytes
gen in3.bin 5000 11
"$STORE_DRIVER" run $S test.concat '{"sep":"h"}' a=in3.bin -o out.txt=h1.txt --quiet >/dev/null
od=$(sha256sum h1.txt | cut -c1-64)
flip "$S/blobs/sha256/${od:0:2}/${od:2:2}/$od"
r=$("$STORE_DRIVER" run $S test.concat '{"sep":"h"}' a=in3.bin -o out.txt=h2.txt 2>heal.err)
check "a damaged output on a hit: the step runs again" [ "${r#* }" = miss ] && grep -q "running the step again" heal.err
check "and the output is right" cmp -s h1.txt h2.txt
check "the damaged blob is in quarantine, the store verifies" sh -c "ls $S/quarantine | grep -q ^$od && $SEQLORA_BIN store verify --store $S --quiet"
finish
