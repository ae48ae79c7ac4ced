"""End-to-end `seqlora train` / `seqlora predict` on a random tiny DNABERT-style model (6-mer vocab).

Checks: 1 vs 2 threads give byte-identical adapters; a run killed with SIGKILL mid-epoch and rerun gives
the adapter of an uninterrupted run byte for byte; `seqlora predict` probabilities equal those of
transformers' tokenizer + PeftModel.from_pretrained on the same adapter within 1e-4; metrics.jsonl has a
line per epoch; the trainable-parameter line is printed. Exits 1 on any failure."""
import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import torch
from peft import PeftModel
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

BIN = os.environ["SEQLORA_BIN"]
TMP = os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_train_cli")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


# a tiny DNABERT-like base: 6-mer vocabulary in DNABERT's order, dropout on
base = os.path.join(TMP, "base")
os.makedirs(base)
kmers = ["".join(p) for p in itertools.product("ACGT", repeat=6)]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + kmers
open(os.path.join(base, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
json.dump({"do_lower_case": False, "model_max_length": 64}, open(os.path.join(base, "tokenizer_config.json"), "w"))
torch.manual_seed(0)
cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64, num_labels=2)
BertForSequenceClassification(cfg).save_pretrained(base, safe_serialization=True)

rng = np.random.default_rng(1)


def dataset(path, n):
    rows = ["id\tsequence\tlabel"]
    for i in range(n):
        L = int(rng.integers(12, 30))
        s = "".join(rng.choice(list("ACGT"), size=L))
        lab = "case" if s.count("GC") >= 2 else "control"
        rows.append(f"s{i}\t{' '.join(s[j:j + 6] for j in range(L - 5))}\t{lab}")
    open(path, "w").write("\n".join(rows) + "\n")


train, evl = os.path.join(TMP, "train.tsv"), os.path.join(TMP, "eval.tsv")
dataset(train, 96)
dataset(evl, 24)


def seqlora(args, store, **kw):
    return subprocess.run([BIN] + args + ["--store", store], capture_output=True, text=True, **kw)


def train_args(out, extra=()):
    return ["train", "--base", base, "--train", train, "--eval", evl, "-o", out, "--lora-r", "4", "--lora-alpha", "8",
            "--epochs", "3", "--batch-size", "4", "--lr", "1e-2", "--max-length", "32", "--seed", "7",
            "--checkpoint-every", "3", "--target-modules", "query,key,value,intermediate.dense"] + list(extra)


def read(p):
    return open(p, "rb").read()


# 1. reference run, 1 thread
a1 = os.path.join(TMP, "a1")
r = seqlora(train_args(a1) + ["--threads", "1"], os.path.join(TMP, "store1"))
check(r.returncode == 0, "train (1 thread) exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-2000:]))
if r.returncode:
    sys.exit(1)
check("trainable params: " in r.stderr, "the trainable-parameter line is printed")
check("overfitting" in r.stderr, "the overfitting warning (eval AUC falls while the train loss falls) is printed")
lines = [json.loads(x) for x in open(os.path.join(a1, "metrics.jsonl"))]
check(len(lines) >= 1 and all("train_loss" in x and "eval_auc" in x for x in lines),
      f"metrics.jsonl: {len(lines)} epoch lines with train_loss and eval_auc")
for f in ("adapter_config.json", "adapter_model.safetensors", "seqlora_head.json"):
    check(os.path.isfile(os.path.join(a1, f)), f"adapter has {f}")

# 2. two threads, fresh store: byte-identical
a2 = os.path.join(TMP, "a2")
r = seqlora(train_args(a2) + ["--threads", "2"], os.path.join(TMP, "store2"))
check(r.returncode == 0, "train (2 threads) exits 0")
same = all(read(os.path.join(a1, f)) == read(os.path.join(a2, f))
           for f in ("adapter_model.safetensors", "adapter_config.json", "metrics.jsonl"))
check(same, "1 and 2 threads: byte-identical adapter and metrics.jsonl")

# 3. kill -9 mid-epoch, rerun: byte-identical to the uninterrupted run
store3 = os.path.join(TMP, "store3")
a3 = os.path.join(TMP, "a3")
p = subprocess.Popen([BIN] + train_args(a3) + ["--threads", "1", "--store", store3], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
ckpt, killed_at = None, None
deadline = time.time() + 120
while time.time() < deadline and p.poll() is None:
    for root, _, files in os.walk(store3):
        if "checkpoint.bin" in files:
            ckpt = os.path.join(root, "checkpoint.bin")
    if ckpt:
        try:
            hdr = open(ckpt, "rb").read(8 + 32 + 8 + 8 * 3)
            epoch, batch, step = struct.unpack("<qqq", hdr[48:72])
        except (OSError, struct.error):
            continue
        if batch > 0:  # a mid-epoch checkpoint exists: kill now
            os.kill(p.pid, signal.SIGKILL)
            killed_at = (epoch, batch, step)
            break
    time.sleep(0.01)
p.wait()
check(killed_at is not None, f"killed with SIGKILL after a mid-epoch checkpoint (epoch {killed_at and killed_at[0]}, "
      f"batch {killed_at and killed_at[1]}, step {killed_at and killed_at[2]})")
check(not os.path.exists(os.path.join(a3, "adapter_model.safetensors")), "nothing published by the killed run")
r = seqlora(train_args(a3) + ["--threads", "1"], store3)
check(r.returncode == 0 and "resuming from" in r.stderr, "rerun resumes from the checkpoint")
same = all(read(os.path.join(a1, f)) == read(os.path.join(a3, f)) for f in ("adapter_model.safetensors", "metrics.jsonl"))
check(same, "resumed run: byte-identical adapter and metrics.jsonl to the uninterrupted run")

# 4. predict vs transformers tokenizer + PEFT
pred = os.path.join(TMP, "pred.tsv")
r = seqlora(["predict", "--base", base, "--adapter", a1, "--input", evl, "-o", pred], os.path.join(TMP, "store1"))
check(r.returncode == 0, "predict exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-2000:]))
rows = [l.rstrip("\n").split("\t") for l in open(pred)]
check(rows[0] == ["id", "label", "prob_case", "prob_control"], f"predictions header {rows[0]}")
tok = BertTokenizer(os.path.join(base, "vocab.txt"), do_lower_case=False)
model = PeftModel.from_pretrained(BertForSequenceClassification.from_pretrained(base), a1).eval()
seqs = [l.rstrip("\n").split("\t") for l in open(evl)][1:]
enc = tok([s[1] for s in seqs], padding=True, truncation=True, max_length=32, return_tensors="pt")
with torch.no_grad():
    ref = torch.softmax(model(**enc).logits, -1).numpy()
ours = np.array([[float(x) for x in row[2:]] for row in rows[1:]])
diff = float(np.max(np.abs(ours - ref)))
check(ours.shape == ref.shape and diff < 1e-4, f"predict probabilities vs tokenizer + PeftModel: max|diff| {diff:.2e} < 1e-4")
check([row[1] for row in rows[1:]] == [s[2] for s in seqs], "predict copies the labels")
# the adapter kept is the best epoch's, and the trainer's eval AUC is scikit-learn's on its predictions
from sklearn.metrics import roc_auc_score
auc = roc_auc_score([1 if row[1] == "control" else 0 for row in rows[1:]], [float(row[3]) for row in rows[1:]])
best = max(lines, key=lambda x: x["eval_auc"])
check(abs(auc - best["eval_auc"]) < 1e-6 and best.get("best") is True and best["epoch"] < lines[-1]["epoch"],
      f"adapter = best epoch ({best['epoch']}): sklearn AUC of its predictions {auc:.6f} == eval_auc {best['eval_auc']:.6f}")

# 5. a PEFT-made adapter (no seqlora_head.json): predict reads it, and train continues from it (--init-adapter)
from peft import LoraConfig, get_peft_model
torch.manual_seed(3)
pm = get_peft_model(BertForSequenceClassification.from_pretrained(base),
                    LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=["query", "value"]))
with torch.no_grad():
    for n, prm in pm.named_parameters():
        if "lora_B" in n:
            prm.normal_(0, 0.1)
peft_dir = os.path.join(TMP, "peft_adapter")
pm.save_pretrained(peft_dir)
pred2 = os.path.join(TMP, "pred_peft.tsv")
r = seqlora(["predict", "--base", base, "--adapter", peft_dir, "--input", evl, "-o", pred2], os.path.join(TMP, "store1"))
check(r.returncode == 0, "predict with a PEFT-made adapter exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-1000:]))
rows2 = [l.rstrip("\n").split("\t") for l in open(pred2)]
pm.eval()
with torch.no_grad():
    ref2 = torch.softmax(pm(**enc).logits, -1).numpy()
ours2 = np.array([[float(x) for x in row[2:]] for row in rows2[1:]])
diff2 = float(np.max(np.abs(ours2 - ref2)))
check(rows2[0][2:] == ["prob_LABEL_0", "prob_LABEL_1"] and diff2 < 1e-4,
      f"PEFT-made adapter: header {rows2[0]}, probabilities vs PEFT max|diff| {diff2:.2e} < 1e-4")
a4 = os.path.join(TMP, "a4")
r = seqlora(["train", "--base", base, "--train", train, "-o", a4, "--epochs", "1", "--batch-size", "8",
             "--max-length", "32", "--init-adapter", peft_dir, "--labels", "control,case"], os.path.join(TMP, "store1"))
cfg4 = json.load(open(os.path.join(a4, "adapter_config.json"))) if r.returncode == 0 else {}
check(r.returncode == 0 and cfg4.get("r") == 4 and sorted(cfg4.get("target_modules", [])) == ["query", "value"],
      "train --init-adapter from a PEFT adapter: its r and targets are kept" + ("" if r.returncode == 0 else ": " + r.stderr[-1000:]))

# 6. bad input: a clear error, exit 3, nothing written
bad = os.path.join(TMP, "bad.tsv")
open(bad, "w").write("id\tsequence\tlabel\nx\tACGTAC\tcase\ny\n")
r = seqlora(train_args(os.path.join(TMP, "a_bad")) + ["--train", bad], os.path.join(TMP, "store1"))
check(r.returncode == 3 and "bad.tsv:3" in r.stderr and not os.path.exists(os.path.join(TMP, "a_bad")),
      f"malformed TSV: exit {r.returncode}, message names the line: {r.stderr.strip()[-200:]}")

print("FAILED: %d" % len(FAILED))
sys.exit(1 if FAILED else 0)
