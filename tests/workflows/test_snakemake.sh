#!/usr/bin/env bash
# The Snakemake workflow, for real (snakemake 9 from the test venv, seqlora from this build):
#   1. `snakemake --lint` is clean with the shipped config and with the test config;
#   2. the test config (.test/config/config.yaml, its paths made absolute) runs on the demo data: init-model
#      (tiny random BERT) -> kmerize (Findlay BRCA1 variants) -> split (3 exon-grouped folds) -> split_eval ->
#      train (2 ranks x 2 folds) -> evaluate -> package: every seqlora job says `ran:`, the sweep table has a
#      row per point, every point has a bundle;
#   3. a second run in the same directory has nothing to do;
#   4. a fresh working directory with the same store: every seqlora rule is a store cache hit (`cached:` in
#      its log, no `ran:`), and every output file is byte-identical to the first run's.
set -euo pipefail
src=${SEQLORA_SOURCE_DIR:?}
tmp=${SEQLORA_TEST_TMP:?}/snakemake
py=${SEQLORA_PYTHON:?}
rm -rf "$tmp"
mkdir -p "$tmp"
export PATH="$(dirname "${SEQLORA_BIN:?}"):$PATH"
unset SEQLORA_STORE
wf=$src/workflows/snakemake
snakefile=$wf/workflow/Snakefile
testcfg=$wf/.test/config/config.yaml
smk() { "$py" -m snakemake -s "$snakefile" --cores 2 "$@"; }
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

# 1. lint
# (run from a scratch directory: snakemake writes .snakemake/ into its working directory)
mkdir -p "$tmp/lint"
(cd "$tmp/lint" && "$py" -m snakemake -s "$snakefile" --configfile "$wf/config/config.yaml" --lint > "$tmp/lint-default.txt" 2>&1) && lint1=0 || lint1=$?
(cd "$tmp/lint" && "$py" -m snakemake -s "$snakefile" --configfile "$testcfg" --lint > "$tmp/lint-test.txt" 2>&1) && lint2=0 || lint2=$?
check "snakemake --lint clean (shipped config)" '[[ $lint1 == 0 ]] && grep -q "workflow is in a good condition" "$tmp/lint-default.txt"'
check "snakemake --lint clean (test config)" '[[ $lint2 == 0 ]] && grep -q "workflow is in a good condition" "$tmp/lint-test.txt"'
[[ $lint1 == 0 && $lint2 == 0 ]] || cat "$tmp"/lint-*.txt

# 1b. the shipped config's plan (a dry run from a directory where its ../../data paths resolve):
#     1 init-model + 1 kmerize + 5 + 5 splits + 45 x (train, evaluate, package) + summary + all = 149 jobs
mkdir -p "$tmp/dry/wf/snakemake"
ln -s "$src/data" "$tmp/dry/data"
(cd "$tmp/dry/wf/snakemake" && "$py" -m snakemake -s "$snakefile" --configfile "$wf/config/config.yaml" -n > "$tmp/dry.txt" 2>&1) && rc=0 || rc=$?
total=$(awk '$1 == "total" {print $2}' "$tmp/dry.txt" | head -1)
check "shipped config: a dry run plans 149 jobs, 45 trainings ($total)" '[[ $rc == 0 && $total == 149 ]] && grep -qE "seqlora_train +45" "$tmp/dry.txt"'

(cd "$tmp/dry/wf/snakemake" && "$py" -m snakemake -s "$snakefile" --configfile "$wf/config/config.yaml" --config gpu=True -n > "$tmp/dry-gpu.txt" 2>&1) && rc=0 || rc=$?
ngpu=$(grep -A10 "^rule seqlora_train:" "$tmp/dry-gpu.txt" | grep -c "resources: .*gpu=1" || true)
check "gpu: true gives every training job a gpu=1 resource ($ngpu/45)" '[[ $rc == 0 && $ngpu == 45 ]]'

# 2. first run (the test config with absolute paths, so it runs in any directory)
mkdir -p "$tmp/run1"
"$py" - "$testcfg" "$tmp/config.yaml" <<'PY'
import os, sys, yaml
src, dst = sys.argv[1:]
wf = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(src))))  # workflows/snakemake
c = yaml.safe_load(open(src))
for k in ("variants", "reference"):
    c[k] = os.path.normpath(os.path.join(wf, c[k]))
c["init_model"]["config"] = os.path.normpath(os.path.join(wf, c["init_model"]["config"]))
yaml.safe_dump(c, open(dst, "w"), sort_keys=False)
PY
testcfg=$tmp/config.yaml
(cd "$tmp/run1" && smk --configfile "$testcfg" > "$tmp/run1.out" 2>&1) && rc=0 || rc=$?
check "first run succeeds" '[[ $rc == 0 ]]'
[[ $rc == 0 ]] || { tail -50 "$tmp/run1.out"; cat "$tmp"/run1/logs/*/*.log 2>/dev/null | tail -30; exit 1; }
mapfile -t logs < <(cd "$tmp/run1" && find logs -name '*.log' ! -path 'logs/sweep/*' | sort)
check "19 seqlora jobs: init_model, pretrain, kmerize, 2+2 splits, 4 x (train, evaluate, package) (${#logs[@]})" '[[ ${#logs[@]} == 19 ]]'
nbundles=$(ls "$tmp"/run1/results/package/*.tar.gz | wc -l)
check "a bundle per sweep point ($nbundles)" '[[ $nbundles == 4 ]]'
ran=$(cd "$tmp/run1" && grep -l "^ran: " "${logs[@]}" | wc -l)
check "every seqlora job ran in the first run ($ran/${#logs[@]})" '[[ $ran == ${#logs[@]} ]]'
rows=$(($(wc -l < "$tmp/run1/results/sweep/summary.tsv") - 1))
check "sweep summary has 4 points ($rows)" '[[ $rows == 4 ]] && head -1 "$tmp/run1/results/sweep/summary.tsv" | grep -q "roc_auc"'

# 3. second run: nothing to do
(cd "$tmp/run1" && smk --configfile "$testcfg" > "$tmp/run2.out" 2>&1) && rc=0 || rc=$?
check "second run has nothing to do" '[[ $rc == 0 ]] && grep -q "Nothing to be done" "$tmp/run2.out"'

# 4. fresh working directory, same store
mkdir -p "$tmp/run3"
(cd "$tmp/run3" && smk --configfile "$testcfg" --config store="$tmp/run1/store" > "$tmp/run3.out" 2>&1) && rc=0 || rc=$?
check "fresh directory run succeeds" '[[ $rc == 0 ]]'
hits=0
for l in "${logs[@]}"; do
  if grep -q "^cached: " "$tmp/run3/$l" && ! grep -q "^ran: " "$tmp/run3/$l"; then
    hits=$((hits + 1))
  else
    echo "not a cache hit: $l"; cat "$tmp/run3/$l"
  fi
done
check "every seqlora job is a store cache hit in a fresh directory ($hits/${#logs[@]})" '[[ $hits == ${#logs[@]} ]]'
differ=0
while IFS= read -r f; do
  cmp -s "$tmp/run1/$f" "$tmp/run3/$f" || { echo "differs: $f"; differ=$((differ + 1)); }
done < <(cd "$tmp/run1" && find results -type f | sort)
nfiles=$(cd "$tmp/run1" && find results -type f | wc -l)
check "all $nfiles result files byte-identical on a cache hit" '[[ $differ == 0 && $nfiles -gt 40 ]]'
exit $fail
