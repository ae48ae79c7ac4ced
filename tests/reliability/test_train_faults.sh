# Training faults: `seqlora train` (a tiny seeded model from `init-model`) is interrupted by SIGTERM or SIGKILL
# at random moments, or has a write/fsync/rename fail (LD_PRELOAD shim, ENOSPC: the disk filling up while
# it checkpoints); then the same command is rerun without the fault. Required every time: the rerun
# succeeds and its adapter (adapter_model.safetensors, adapter_config.json, seqlora_head.json, metrics.jsonl)
# is byte-identical to an uninterrupted run's; a SIGTERM'd run exits non-zero (130/143) without publishing
# an adapter at -o; the store verifies. TRAIN_ITERS interruptions (default 8), TRAIN_SHIM_MAX shim faults
# per operation (default 3).
. "$(dirname "$0")/common.sh"
ITERS=${TRAIN_ITERS:-8}
SHIM_MAX=${TRAIN_SHIM_MAX:-3}
echo '{"hidden_size":32,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":64,"max_position_embeddings":64,"initializer_range":0.02}' >cfg.json
sl init-model --config cfg.json --vocab-kmer 3 -o base --store S0 --quiet >/dev/null
python3 - <<'PY'
import random
r = random.Random(1)
for name, n in (("train.tsv", 384), ("eval.tsv", 64)):
    with open(name, "w") as f:
        f.write("id\tsequence\tlabel\n")
        for i in range(n):
            s = "".join(r.choice("ACGT") for _ in range(30))
            lab = "pos" if s.count("G") > s.count("C") else "neg"
            f.write(f"{name[0]}{i}\t" + " ".join(s[j:j + 3] for j in range(28)) + f"\t{lab}\n")
PY
# Every run uses its own copy of the store S0 (which holds no training result), so a rerun is not a cache
# hit of another run: it resumes from what the interrupted run left, or starts over.
train() { # train OUT STORE [env...] -> rc
    local out=$1 store=$2
    shift 2
    set +e
    env "$@" "$SEQLORA_BIN" train --base base --train train.tsv --eval eval.tsv -o "$out" --epochs 12 --batch-size 8 \
        --max-length 32 --checkpoint-every 5 --patience 0 --threads 1 --store "$store" --quiet >/dev/null 2>train.err
    rc=$?
    set -e
}
files="adapter_model.safetensors adapter_config.json seqlora_head.json metrics.jsonl"
same() { for f in $files; do cmp -s "$1/$f" ref/$f || return 1; done; }
cp -a S0 Sref
start=$(date +%s%N)
train ref Sref
dur_ms=$((($(date +%s%N) - start) / 1000000))
check "uninterrupted training run" [ $rc -eq 0 ]
for f in $files; do [ -s ref/$f ] || bad "reference run wrote no $f"; done
echo "uninterrupted run: $dur_ms ms"
tried=0 survived=0 landed=0
RANDOM=${TRAIN_SEED:-3}
for i in $(seq 1 "$ITERS"); do
    sig=$([ $((i % 2)) -eq 0 ] && echo KILL || echo TERM)
    rm -rf "o$i" S
    cp -a S0 S
    set +e
    "$SEQLORA_BIN" train --base base --train train.tsv --eval eval.tsv -o "o$i" --epochs 12 --batch-size 8 \
        --max-length 32 --checkpoint-every 5 --patience 0 --threads 1 --store S --quiet >/dev/null 2>kill.err &
    pid=$!
    sleep "$(python3 -c "import sys; print(int(sys.argv[1]) / 1000 * int(sys.argv[2]) / 32768)" "$dur_ms" "$RANDOM")"
    kill -s $sig $pid 2>/dev/null
    wait $pid 2>/dev/null
    krc=$?
    set -e
    tried=$((tried + 1))
    good=1
    if [ $krc -ne 0 ]; then
        landed=$((landed + 1))
        [ -e "o$i/adapter_model.safetensors" ] && { bad "$sig at iteration $i: an adapter was published by the interrupted run"; good=0; }
        if [ $sig = TERM ] && [ $krc -ne 130 ] && [ $krc -ne 143 ]; then
            bad "SIGTERM: exit $krc (expected 130 or 143): $(head -c 200 kill.err)"
            good=0
        fi
    fi
    train "o$i" S
    if [ $rc -ne 0 ] || ! same "o$i"; then
        bad "rerun after $sig at iteration $i: exit $rc, adapter $(same "o$i" && echo identical || echo DIFFERENT): $(head -c 300 train.err)"
        good=0
    fi
    sl store verify --store S --quiet || { bad "verify after $sig at iteration $i"; good=0; }
    [ $good = 1 ] && survived=$((survived + 1))
done
shim_tried=0 shim_survived=0
if [ -n "${FAULT_SHIM:-}" ]; then
    for op in write fsync rename; do
        for n in $(seq 1 "$SHIM_MAX"); do
            rm -rf "s$op$n" shim.log S
            cp -a S0 S
            train "s$op$n" S LD_PRELOAD="$FAULT_SHIM" SEQLORA_SHIM_FAULT="$op:$n:ENOSPC" SEQLORA_SHIM_LOG="$T/shim.log"
            [ -s shim.log ] || break
            frc=$rc
            shim_tried=$((shim_tried + 1))
            good=1
            if [ $frc -ne 0 ] && [ -e "s$op$n/adapter_model.safetensors" ]; then
                bad "$op:$n ENOSPC: failed (exit $frc) but published an adapter"
                good=0
            elif [ $frc -eq 0 ] && ! same "s$op$n"; then
                bad "$op:$n ENOSPC: exit 0 with a different adapter (silent failure)"
                good=0
            fi
            rm -rf "s$op$n"
            train "s$op$n" S
            if [ $rc -ne 0 ] || ! same "s$op$n"; then
                bad "rerun after $op:$n ENOSPC: exit $rc, adapter differs or missing: $(head -c 300 train.err)"
                good=0
            fi
            sl store verify --store S --quiet || { bad "verify after $op:$n ENOSPC"; good=0; }
            [ $good = 1 ] && shim_survived=$((shim_survived + 1))
        done
    done
fi
check "the interruptions landed during training ($landed of $tried)" [ $landed -gt 0 ]
check "every rerun after SIGTERM/SIGKILL finished byte-identical to the uninterrupted run" [ $survived -eq $tried ]
check "every rerun after an injected ENOSPC finished byte-identical" [ $shim_survived -eq $shim_tried ]
result train-faults "$((tried + shim_tried))" "$((survived + shim_survived))" \
    "train: $tried SIGTERM/SIGKILL at random moments ($landed landed), $shim_tried ENOSPC at write/fsync/rename; reruns byte-identical to an uninterrupted run"
finish
