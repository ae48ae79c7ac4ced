"""Shared fixtures for the package/score/serve tests: a tiny random DNABERT-style base model (6-mer vocabulary)
with a random PEFT LoRA adapter made by the real peft library, and a reference scorer built on transformers +
PEFT that implements the documented windowing (docs/deploy.md) independently of seqlora."""
import itertools
import json
import os
import subprocess

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

BIN = os.environ["SEQLORA_BIN"]
K = 6
MAXLEN = 64
WINDOW = MAXLEN - 2 + K - 1  # bases one window holds
STRIDE = WINDOW // 2


def make_model(root, seed=0, labels=("benign", "pathogenic")):
    """Write root/base (BertForSequenceClassification) and root/adapter (PEFT LoRA, random A and B)."""
    base = os.path.join(root, "base")
    adapter = os.path.join(root, "adapter")
    os.makedirs(base, exist_ok=True)
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=K)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + kmers
    with open(os.path.join(base, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(base, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False, "model_max_length": MAXLEN}, f)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=MAXLEN, num_labels=len(labels),
                     id2label={i: l for i, l in enumerate(labels)}, label2id={l: i for i, l in enumerate(labels)})
    BertForSequenceClassification(cfg).save_pretrained(base, safe_serialization=True)
    model = BertForSequenceClassification.from_pretrained(base)
    lcfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["query", "key", "value", "intermediate.dense"],
                      modules_to_save=["classifier"], task_type="SEQ_CLS", init_lora_weights=False)
    pm = get_peft_model(model, lcfg)
    with torch.no_grad():  # make the classifier differ from the base's so the adapter's head matters
        for n, p in pm.named_parameters():
            if "modules_to_save" in n:
                p.add_(torch.randn_like(p) * 3.0)
    pm.save_pretrained(adapter)
    return base, adapter


class Reference:
    """transformers BertTokenizer + PeftModel, with the documented k-mer and window rules."""

    def __init__(self, base, adapter):
        self.tok = BertTokenizer.from_pretrained(base)
        m = BertForSequenceClassification.from_pretrained(base)
        self.model = PeftModel.from_pretrained(m, adapter).eval()

    def probs_text(self, texts):
        enc = self.tok(texts, padding=True, truncation=True, max_length=MAXLEN, return_tensors="pt")
        with torch.no_grad():
            return torch.softmax(self.model(**enc).logits.double(), -1).numpy()

    @staticmethod
    def kmers(s):
        s = s.upper()
        return " ".join(s[i:i + K] for i in range(len(s) - K + 1)) if len(s) >= K else s

    def probs_dna(self, seq, window=WINDOW, stride=STRIDE):
        L = len(seq)
        starts = [0] if L <= window else list(range(0, L - window, stride)) + [L - window]
        p = self.probs_text([self.kmers(seq[s:s + window]) for s in starts])
        return p.mean(0), len(starts)


def random_dna(rng, n, lo, hi):
    return ["".join(rng.choice(list("ACGT"), size=int(rng.integers(lo, hi)))) for _ in range(n)]


def run(args, store, threads=2, **kw):
    return subprocess.run([BIN] + args + ["--store", store, "--threads", str(threads)], capture_output=True, text=True,
                          **kw)


def read_tsv(path):
    with open(path) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    return lines[0], lines[1:]


def probs(path):
    """The header of a score/predict TSV and id -> its prob_* columns."""
    header, rows = read_tsv(path)
    cols = [i for i, h in enumerate(header) if h.startswith("prob_")]
    return header, {r[0]: np.array([float(r[i]) for i in cols]) for r in rows}


def maxdiff(a, b):
    """max |a[k] - b[k]| over the ids of two probs() dicts; inf when their ids differ or are none."""
    if set(a) != set(b) or not a:
        return float("inf")
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
