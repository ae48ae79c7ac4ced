"""Fixtures for the workflow tests, written into a directory given on the command line:

  base_model/   a tiny random DNABERT-style BERT (6-mer vocabulary, hidden 32, 2 layers) saved by transformers,
                standing in for a real checkpoint (no network here, and `seqlora pretrain` is not there yet);
  data/         variant-window datasets from the embedded demo data (data/: the BRCA1 GRCh37 region and the
                Findlay et al. 2018 SGE variants): for each LOF or FUNC SNV, the 31-base window centred on it
                with ALT applied, as overlapping 6-mers; label LOF/FUNC; two folds split by exon (test exons
                never in training). A stand-in for `seqlora kmerize` + `seqlora split` until those commands exist.

usage: python fixtures.py OUTDIR"""
import itertools
import json
import os
import random
import sys

import torch
from transformers import BertConfig, BertForSequenceClassification

SRC = os.environ.get("SEQLORA_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
out = sys.argv[1]
os.makedirs(out, exist_ok=True)

# ---- tiny base model -----------------------------------------------------------------------------------
base = os.path.join(out, "base_model")
os.makedirs(base, exist_ok=True)
kmers = ["".join(p) for p in itertools.product("ACGT", repeat=6)]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + kmers
with open(os.path.join(base, "vocab.txt"), "w") as f:
    f.write("\n".join(vocab) + "\n")
with open(os.path.join(base, "tokenizer_config.json"), "w") as f:
    json.dump({"do_lower_case": False, "model_max_length": 64}, f)
torch.manual_seed(0)
cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64, num_labels=2)
BertForSequenceClassification(cfg).save_pretrained(base, safe_serialization=True)

# ---- datasets from the demo data -------------------------------------------------------------------------
fa = open(os.path.join(SRC, "data", "GRCh37_chr17_41100001-41300000.fa")).read().split("\n", 1)[1].replace("\n", "")
offset = 41100000  # base i (1-based) of the region is chr17:41100000+i
half = 15
rows = {}
for line in open(os.path.join(SRC, "data", "findlay2018_sge.GRCh37.vcf")):
    if line.startswith("#"):
        continue
    chrom, pos, _, ref, alt, _, _, info = line.rstrip("\n").split("\t")[:8]
    kv = dict(x.split("=", 1) for x in info.split(";") if "=" in x)
    if kv.get("FUNC_CLASS") not in ("LOF", "FUNC") or len(ref) != 1 or len(alt) != 1:
        continue
    i = int(pos) - offset - 1
    assert fa[i].upper() == ref, (pos, fa[i], ref)
    win = (fa[i - half:i] + alt + fa[i + 1:i + 1 + half]).upper()
    vid = f"{chrom}_{pos}_{ref}_{alt}"
    rows.setdefault(kv["EXON"], []).append((vid, " ".join(win[j:j + 6] for j in range(len(win) - 5)), kv["FUNC_CLASS"]))

rng = random.Random(1)
exons = sorted(rows)
rng.shuffle(exons)


def take(exon_list, per_class):
    """Up to per_class rows of each label from these exons (small, so the test stays fast)."""
    picked = []
    for label in ("FUNC", "LOF"):
        pool = [r for e in exon_list for r in rows[e] if r[2] == label]
        rng.shuffle(pool)
        picked += pool[:per_class]
    return sorted(picked)


def write(path, data):
    with open(path, "w") as f:
        f.write("id\tsequence\tlabel\n")
        for r in data:
            f.write("\t".join(r) + "\n")


d = os.path.join(out, "data")
os.makedirs(d, exist_ok=True)
n = len(exons)
for k in range(2):
    test_ex = exons[k * n // 4:(k + 1) * n // 4]
    eval_ex = exons[(k + 2) * n // 4:(k + 3) * n // 4]
    train_ex = [e for e in exons if e not in test_ex and e not in eval_ex]
    write(os.path.join(d, f"fold{k}.train.tsv"), take(train_ex, 40))
    write(os.path.join(d, f"fold{k}.eval.tsv"), take(eval_ex, 12))
    write(os.path.join(d, f"fold{k}.test.tsv"), take(test_ex, 12))
print(f"fixtures in {out}: base_model/, data/fold{{0,1}}.{{train,eval,test}}.tsv from {n} exons")
