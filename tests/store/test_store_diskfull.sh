# A real full disk: a 4 MiB tmpfs holds the store (and its index). Ingesting more than fits fails with a
# clear ENOSPC error and publishes nothing; afterwards small ingests and runs still work and verify is clean.
# Needs permission to mount a tmpfs (root, or a user namespace); otherwise the test reports itself skipped
# (exit 77), never passed.
. "$(dirname "$0")/common.sh"
mnt="$T/mnt"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null; then
    if command -v unshare >/dev/null && [ -z "${STORE_DISKFULL_NS:-}" ] &&
        unshare -rm true 2>/dev/null; then
        exec env STORE_DISKFULL_NS=1 unshare -rm bash "$0"
    fi
    echo "skipped: cannot mount a tmpfs here"
    exit 77
fi
trap 'umount "$mnt" 2>/dev/null || true' EXIT
S="$mnt/st"
printf 'small\n' >small.txt
"$STORE_DRIVER" put $S small.txt >/dev/null
gen big.bin 6000000 4 # incompressible, larger than the file system
state() { (find $S/blobs $S/actions -type f | sort; "$SEQLORA_BIN" store ls --store $S; "$SEQLORA_BIN" store ls --blobs --store $S; ls $S/tmp) 2>&1; }
state >before.txt
set +e
"$STORE_DRIVER" put $S big.bin >out.txt 2>err.txt
rc=$?
set -e
cat err.txt
check "ingest on a full disk fails" [ $rc -ne 0 ]
check "with a clear error naming the file and the cause" grep -q "cannot store big.bin.*No space left on device" err.txt
check "nothing published, no temp file left" sh -c "$(declare -f state); S=$S SEQLORA_BIN=$SEQLORA_BIN; state | cmp -s - before.txt"
set +e
"$STORE_DRIVER" run $S test.concat '{"sep":"-"}' a=big.bin a=small.txt >/dev/null 2>err2.txt
rc=$?
set -e
check "a step whose input does not fit fails with ENOSPC" [ $rc -ne 0 ] && grep -q "No space left on device" err2.txt
check "and publishes no record" [ -z "$(find $S/actions -name '*.json')" ]
check "small work still succeeds on the same store" "$STORE_DRIVER" run $S test.concat '{"sep":"-"}' a=small.txt a=small.txt -o out.txt=o.txt
check "with the right bytes" sh -c "printf 'small\n-small\n' | cmp -s - o.txt"
check "verify is clean" "$SEQLORA_BIN" store verify --store $S --quiet
check "every index entry and blob is whole" "$STORE_DRIVER" check $S
finish
