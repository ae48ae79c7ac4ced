"""`seqlora evaluate --base DIR --dataset TEST.tsv`: prediction then the report, in one cached step.

A tiny random BERT classifier with a DNA 3-mer vocabulary is made with transformers; the report's
predictions.tsv must hold transformers' softmax probabilities (within 1e-4) and metrics.json must equal
scikit-learn on those predictions."""
import itertools
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
from sklearn import metrics as skm
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

BIN = os.environ["SEQLORA_BIN"]
TMP = os.environ.get("SEQLORA_TEST_TMP") or "/tmp/seqlora-eval-model"
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, file=sys.stderr)
    if not cond:
        failures.append(msg)


def make_model(d):
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=3)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + kmers
    os.makedirs(d)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    tok = BertTokenizer(os.path.join(d, "vocab.txt"), do_lower_case=False)
    tok.save_pretrained(d)
    torch.manual_seed(3)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, num_labels=2,
                     id2label={0: "benign", 1: "pathogenic"}, label2id={"benign": 0, "pathogenic": 1},
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(cfg)
    with torch.no_grad():  # a classifier with a spread of scores
        model.classifier.weight.mul_(20)
    model.save_pretrained(d, safe_serialization=True)
    return tok, model.eval()


def main():
    base = os.path.join(TMP, "base")
    tok, model = make_model(base)
    rng = np.random.default_rng(5)
    rows = []
    for i in range(40):
        seq = "".join(rng.choice(list("ACGT"), size=int(rng.integers(5, 20))))
        kmers = " ".join(seq[j:j + 3] for j in range(len(seq) - 2))
        rows.append((f"v{i}", kmers, "pathogenic" if i % 2 else "benign"))
    data = os.path.join(TMP, "test.tsv")
    with open(data, "w") as f:
        f.write("id\tsequence\tlabel\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    out = os.path.join(TMP, "report")
    cmd = [BIN, "evaluate", "--store", os.path.join(TMP, "store"), "--base", base, "--dataset", data, "-o", out,
           "--bootstrap", "200"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 0, f"evaluate --base --dataset exits 0 ({r.stderr.strip()})")
    if r.returncode:
        return 1
    # transformers' probabilities for the same rows
    with torch.no_grad():
        enc = tok([r[1] for r in rows], padding=True, return_tensors="pt")
        ref = torch.softmax(model(**enc).logits, dim=-1).numpy()
    pred_rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "predictions.tsv"))]
    header = pred_rows[0]
    check(header[:2] == ["id", "label"] and "prob_benign" in header and "prob_pathogenic" in header,
          f"predictions header {header}")
    ip, ib = header.index("prob_pathogenic"), header.index("prob_benign")
    ours = np.array([[float(r[ib]), float(r[ip])] for r in pred_rows[1:]])
    check(ours.shape == ref.shape and np.abs(ours - ref).max() < 1e-4,
          f"probabilities equal transformers' (max |diff| {np.abs(ours - ref).max():.2e})")
    y = np.array([1 if r[1] == "pathogenic" else 0 for r in pred_rows[1:]])
    rep = json.load(open(os.path.join(out, "metrics.json")))
    m = rep["metrics"]
    check(rep["task"] == "binary" and rep["positive_class"] == "pathogenic", "binary task, positive class pathogenic")
    check(math.isclose(m["roc_auc"], skm.roc_auc_score(y, ours[:, 1]), rel_tol=1e-12),
          f"roc_auc {m['roc_auc']} equals sklearn on the predictions")
    check(math.isclose(m["average_precision"], skm.average_precision_score(y, ours[:, 1]), rel_tol=1e-12),
          "average_precision equals sklearn")
    check(math.isclose(m["mcc"], skm.matthews_corrcoef(y, (ours[:, 1] >= 0.5).astype(int)), rel_tol=1e-12,
                       abs_tol=1e-15), "mcc equals sklearn")
    check(abs(m["roc_auc"] - skm.roc_auc_score(y, ref[:, 1])) < 0.05,
          "roc_auc close to sklearn on transformers' probabilities")
    # a second run is a cache hit with the same bytes
    before = open(os.path.join(out, "metrics.json"), "rb").read()
    shutil.rmtree(out)
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 0 and "cached" in r.stderr, f"second run is cached ({r.stderr.strip()})")
    check(open(os.path.join(out, "metrics.json"), "rb").read() == before, "cached report has the same bytes")
    # both modes at once is a usage error
    r = subprocess.run(cmd + ["--predictions", os.path.join(out, "predictions.tsv")], capture_output=True, text=True)
    check(r.returncode == 2, f"--predictions with --base is a usage error ({r.stderr.strip()})")
    print(f"{len(failures)} failures", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
