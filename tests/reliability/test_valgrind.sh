# valgrind memcheck on small CLI runs: fetch file://, clean, store verify/export/import/gc, and a model
# pipeline on a tiny seeded random model (init-model → train → predict → evaluate --predictions → evaluate
# --base/--adapter/--dataset → package --embed-base → score on raw DNA; about 15 s under memcheck).
# Required: no memcheck error (invalid read/write, uninitialised use) and no definite leak in any run, and
# the pipeline's outputs complete (score: one row per input row, the same probabilities as evaluate's).
# VALGRIND_FULL=1 (tests/long/valgrind-pipeline.sh) adds sexcheck on a 1000 Genomes VCF and store stats.
. "$(dirname "$0")/common.sh"
command -v valgrind >/dev/null || {
    echo "SKIP: valgrind is not installed (scripts/install-deps.sh installs it)"
    exit 77
}
vg() { # vg NAME args... -> runs seqlora under memcheck
    local name=$1
    shift
    runs=$((runs + 1))
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --track-origins=no --log-file="vg-$name.log" \
        "$SEQLORA_BIN" "$@" --store S --quiet >"out-$name.txt" 2>"err-$name.txt"; then
        clean_runs=$((clean_runs + 1))
        ok "memcheck clean: seqlora $*"
    else
        rc=$?
        bad "memcheck: seqlora $* (exit $rc): $(grep -m3 -E 'Invalid|uninitialised|definitely|ERROR SUMMARY' "vg-$name.log" | tr '\n' ' ') $(head -c 200 "err-$name.txt")"
    fi
}
runs=0 clean_runs=0
head -c 200000 /dev/urandom >in.bin
sha=$(sha256sum in.bin | cut -c1-64)
vcf=$SEQLORA_TEST_DATA/callers/samtools.vcf
vg fetch fetch "file://$T/in.bin" --sha256 "$sha" -o got.bin
vg fetch-hit fetch "file://$T/in.bin" --sha256 "$sha" -o got2.bin
vg clean clean --vcf "$vcf" -o c.vcf.gz --min-qual 20 --min-dp none
vg verify store verify
vg export store export e.tar
vg gc store gc --grace 0s
vg import store import e.tar
# The model pipeline, one thread (memcheck serialises threads anyway; BLAS stays single-threaded).
echo '{"hidden_size":16,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":32,"max_position_embeddings":40,"initializer_range":0.02}' >cfg.json
python3 - <<'PY'
import random
r = random.Random(7)
rows = []
for i in range(24):
    s = "".join(r.choice("ACGT") for _ in range(20))
    rows.append((f"r{i}", s, "pos" if s.count("G") > s.count("C") else "neg"))
with open("kmer.tsv", "w") as f:
    f.write("id\tsequence\tlabel\n" + "".join(f"{i}\t{' '.join(s[j:j + 3] for j in range(18))}\t{l}\n" for i, s, l in rows))
with open("dna.tsv", "w") as f:
    f.write("id\tsequence\tlabel\n" + "".join(f"{i}\t{s}\t{l}\n" for i, s, l in rows))
PY
vg init-model init-model --config cfg.json --vocab-kmer 3 -o base --threads 1
vg train train --base base --train kmer.tsv -o adapter --epochs 1 --batch-size 8 --max-length 24 --threads 1
vg predict predict --base base --adapter adapter --input kmer.tsv -o pred.tsv --threads 1
vg evaluate-pred evaluate --predictions pred.tsv -o rep-pred --bootstrap 20
vg evaluate evaluate --base base --adapter adapter --dataset kmer.tsv -o rep --bootstrap 20 --threads 1
vg package package --base base --adapter adapter --report rep --embed-base -o model.tar.gz --threads 1
vg score score --model model.tar.gz --input dna.tsv -o scores.tsv --threads 1
check "score wrote one row per input row (24)" [ "$(tail -n +2 scores.tsv 2>/dev/null | wc -l)" = 24 ]
check "score gives evaluate's probabilities for the same rows as raw DNA" python3 - <<'PY'
import sys
def probs(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    h = rows[0]
    cols = [i for i, c in enumerate(h) if c.startswith("prob_")]
    return {r[0]: [float(r[i]) for i in cols] for r in rows[1:]}
a, b = probs("rep/predictions.tsv"), probs("scores.tsv")
sys.exit(0 if len(a) == 24 and a.keys() == b.keys() and all(abs(x - y) <= 1e-6 for k in a for x, y in zip(a[k], b[k])) else 1)
PY
if [ "${VALGRIND_FULL:-0}" = 1 ]; then
    x=$(ls "$SEQLORA_TEST_DATA"/1kg/*.vcf.gz 2>/dev/null | head -1 || true)
    [ -n "$x" ] && vg sexcheck sexcheck --vcf "$x" --build GRCh37 -o sex.tsv
    vg stats store stats
fi
result valgrind "$runs" "$clean_runs" "memcheck (definite leaks, invalid accesses) on fetch/clean/verify/export/gc/import and init-model/train/predict/evaluate x2/package/score$([ "${VALGRIND_FULL:-0}" = 1 ] && echo /sexcheck/stats) CLI runs"
finish
