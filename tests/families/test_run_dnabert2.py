"""`seqlora run` with a DNABERT-2 base: a tiny random MosaicBERT base (tests/families/bases.py) given as the config's
base folder, raw-sequence tokens (the BPE tokenizer splits the DNA itself), LoRA on Wqkv, every 8th Findlay variant,
2 epochs.

Checks: the run exits 0 with every step ran; the adapter targets Wqkv; the bundle records the dnabert2 family, the
bpe tokenizer and raw DNA (kmer 0) with the data window; `score` with the bundle on the test rows gives exactly the
probabilities `seqlora predict DATASET` gives with the run's adapter; the run's evaluation saw every test row.
Exits 1 on any failure."""
import json
import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bases import make_d2  # noqa: E402

BIN = os.environ["SEQLORA_BIN"]
SRC = os.environ["SEQLORA_SOURCE_DIR"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_families_run"), "run_dnabert2")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


base = os.path.join(TMP, "dnabert2_base")
make_d2(base, np.random.default_rng(7))
vcf = os.path.join(TMP, "findlay_eighth.vcf")
with open(os.path.join(SRC, "data", "findlay2018_sge.GRCh37.vcf")) as f, open(vcf, "w") as out:
    n = 0
    for line in f:
        if line.startswith("#"):
            out.write(line)
        else:
            if n % 8 == 0:
                out.write(line)
            n += 1
config = {
    "description": "CI: DNABERT-2 base",
    "data": {"reference": os.path.join(SRC, "data", "GRCh37_chr17_41100001-41300000.fa"), "variants": vcf,
             "window": 41, "strand": "-"},
    "kmer": {"tokens": "raw"},
    "split": {"test_fraction": 0.3, "validation_fraction": 0.25},
    "base": base,
    "lora": {"r": 4, "target_modules": ["Wqkv"]},
    "train": {"epochs": 2, "patience": 0, "max_length": 48, "batch_size": 16},
    "evaluate": {"bootstrap": 50, "positive_class": "LOF"},
}
cfg = os.path.join(TMP, "config.json")
json.dump(config, open(cfg, "w"), indent=2)
store, outdir = os.path.join(TMP, "store"), os.path.join(TMP, "out")
r = subprocess.run([BIN, "run", cfg, "--store", store, "-o", outdir, "--threads", "2"], capture_output=True, text=True,
                   timeout=800)
check(r.returncode == 0, "run with a DNABERT-2 base exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-3000:]))
if r.returncode == 0:
    ran = [l for l in r.stderr.splitlines() if l.startswith("  ") and "  ran  " in l]
    for step in ("kmerize", "train", "evaluate model", "package"):
        check(any(l.strip().startswith(step) for l in ran), f"step '{step}' ran")
    ac = json.load(open(os.path.join(outdir, "model/adapter/adapter_config.json")))
    check(ac["target_modules"] == ["Wqkv"], f"adapter targets {ac['target_modules']}")
    bundle = os.path.join(outdir, "model.tar.gz")
    with tarfile.open(bundle) as t:
        meta = json.load(t.extractfile("bundle.json"))
    check(meta["base"]["family"] == "dnabert2" and meta["tokenizer"]["kind"] == "bpe" and meta["tokenizer"]["kmer"] == 0
          and meta["inference"]["window"] == 41,
          f"bundle: family {meta['base'].get('family')}, tokenizer {meta['tokenizer'].get('kind')}, "
          f"kmer {meta['tokenizer']['kmer']}, window {meta['inference']['window']}")
    test = os.path.join(outdir, "data", "test.tsv")
    scores, pred = os.path.join(TMP, "scores.tsv"), os.path.join(TMP, "pred.tsv")
    r1 = subprocess.run([BIN, "score", "--model", bundle, "--base", base, "--input", test, "-o", scores, "--store",
                         store], capture_output=True, text=True)
    r2 = subprocess.run([BIN, "predict", "--base", base, "--adapter", os.path.join(outdir, "model/adapter"), "--input",
                         test, "-o", pred, "--store", store], capture_output=True, text=True)
    ok = r1.returncode == 0 and r2.returncode == 0
    check(ok, "score and predict exit 0" + ("" if ok else ": " + r1.stderr[-500:] + r2.stderr[-500:]))
    if r1.returncode == 0 and r2.returncode == 0:
        s = [l.rstrip("\n").split("\t") for l in open(scores)]
        p = [l.rstrip("\n").split("\t") for l in open(pred)]
        check(len(s) > 10 and [row[:4] for row in s] == p and all(row[4] == "1" for row in s[1:]),
              f"score with the bundle == predict DATASET on the {len(p) - 1} test rows (one 41-base window each)")
        m = json.load(open(os.path.join(outdir, "report/model/metrics.json")))
        check(m["n"] == len(p) - 1, f"evaluated on the {m['n']} test rows")

print(f"{len(FAILED)} failed" if FAILED else "all ok")
sys.exit(1 if FAILED else 0)
