# Injected ENOSPC/EIO at each publishing system call (SEQLORA_FAULT=op:N[:EIO]): a clear error, non-zero exit,
# and nothing published (no blob file, no index entry, no record, no temp file left).
. "$(dirname "$0")/common.sh"
S=st
gen big.bin 3000000 3
printf 'small\n' >small.txt
"$STORE_DRIVER" put $S small.txt >/dev/null # the store exists, with one blob
d=$(sha256sum big.bin | cut -c1-64)
state() { (find $S/blobs $S/actions -type f | sort; sq ls --store $S; sq ls --blobs --store $S; ls $S/tmp) 2>&1; }
state >before.txt
for spec in write:1 write:2 write:3 fsync:1 link:1 write:2:EIO fsync:1:EIO; do
    set +e
    SEQLORA_FAULT=$spec "$STORE_DRIVER" put $S big.bin >out.txt 2>err.txt
    rc=$?
    set -e
    check "$spec: put fails" [ $rc -ne 0 ]
    if [ "${spec##*:}" = EIO ]; then want="Input/output error"; else want="No space left on device"; fi
    check "$spec: the error says '$want'" grep -q "$want" err.txt
    check "$spec: nothing on stdout" [ ! -s out.txt ]
    check "$spec: nothing published, no temp file left" sh -c "$(declare -f state sq); S=$S SEQLORA_BIN=$SEQLORA_BIN; state | cmp -s - before.txt"
done
# a fault in the dir fsync after link: the complete blob may stay, but it is not indexed and nothing is partial
set +e
SEQLORA_FAULT=fsync:2 "$STORE_DRIVER" put $S big.bin >/dev/null 2>err.txt
rc=$?
set -e
check "fsync:2 (the folder): put fails with ENOSPC" [ $rc -ne 0 ] && grep -q "No space left" err.txt
check "fsync:2: every published blob is whole" "$STORE_DRIVER" check $S
# a step whose record write fails (links: input (exists), output blob, record) publishes no record; the next run succeeds
set +e
SEQLORA_FAULT=link:3 "$STORE_DRIVER" run $S test.concat '{"sep":"x"}' a=small.txt >/dev/null 2>err.txt
rc=$?
set -e
check "link:3 (the record) during a run: the run fails" [ $rc -ne 0 ] && grep -q "No space left" err.txt
check "link:3: no record published" [ -z "$(find $S/actions -name '*.json')" ]
set +e
SEQLORA_FAULT=write:4 "$STORE_DRIVER" run $S test.concat '{"sep":"x"}' a=small.txt a=big.bin >/dev/null 2>err.txt
rc=$?
set -e
check "write:4 during a run: the run fails with a clear error" [ $rc -ne 0 ] && grep -q "No space left" err.txt
check "write:4: no record published" [ -z "$(find $S/actions -name '*.json')" ]
check "then a run without faults succeeds" "$STORE_DRIVER" run $S test.concat '{"sep":"x"}' a=small.txt a=big.bin
check "and the store verifies" sq verify --store $S --quiet
finish
