"""seqlora init-model against transformers: the directory it writes is a BERT base that
- BertModel.from_pretrained loads with no missing, unexpected or mismatched keys (and
  BertForSequenceClassification misses only the new classifier);
- has transformers' initialisation: Linear/Embedding weights with mean ~0 and std ~initializer_range, the
  [PAD] embedding row zero, biases 0, LayerNorm 1/0;
- comes with a vocab.txt that BertTokenizer loads: 5 specials then every 6-mer in itertools.product("ATCG")
  order, tokenising DNABERT 6-mer text to the ids that order implies;
- runs a finite forward pass in transformers (seqlora's own engine trains on it in test_run_pipeline.py);
- is byte-identical for the same seed, different for another seed (the output is content-addressed).
"""
import hashlib
import itertools
import json
import os
import subprocess
import sys

import torch
from transformers import BertForSequenceClassification, BertModel, BertTokenizer

BIN = os.environ["SEQLORA_BIN"]
TMP = os.environ.get("SEQLORA_TEST_TMP", "/tmp")
os.makedirs(TMP, exist_ok=True)
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, file=sys.stderr)
    if not cond:
        failures += 1


cfg = os.path.join(TMP, "bert_config.json")
json.dump({"hidden_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 96,
           "max_position_embeddings": 80, "initializer_range": 0.05}, open(cfg, "w"))
store = os.path.join(TMP, "store")


def init(out, seed, k=6):
    r = subprocess.run([BIN, "init-model", "--config", cfg, "--vocab-kmer", str(k), "--seed", str(seed), "-o", out,
                        "--store", store], capture_output=True, text=True)
    check(r.returncode == 0, f"init-model k={k} seed={seed}: {r.stderr.strip()}")
    return out


def digest(d):
    return {n: hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest() for n in sorted(os.listdir(d))}


m1 = init(os.path.join(TMP, "m1"), 7)
m2 = init(os.path.join(TMP, "m2"), 7)
m3 = init(os.path.join(TMP, "m3"), 8)
check(digest(m1) == digest(m2), "same seed: byte-identical directory")
check(digest(m1)["model.safetensors"] != digest(m3)["model.safetensors"], "another seed: other weights")

model, info = BertModel.from_pretrained(m1, output_loading_info=True, add_pooling_layer=True)
check(not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"],
      f"BertModel loads it with no missing/unexpected/mismatched keys {info}")
c = model.config
check((c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size, c.max_position_embeddings,
       c.vocab_size) == (48, 3, 4, 96, 80, 4101), "config.json carries the requested sizes and the 6-mer vocab size")
cls, info = BertForSequenceClassification.from_pretrained(m1, num_labels=2, output_loading_info=True)
check(sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"] and not info["unexpected_keys"],
      f"BertForSequenceClassification misses only the classifier {info['missing_keys']}")

sd = model.state_dict()
bad = []
for name, t in sd.items():
    if name.endswith("position_ids"):
        continue
    if "LayerNorm.weight" in name:
        ok = torch.all(t == 1)
    elif name.endswith(".bias"):
        ok = torch.all(t == 0)
    else:
        w = t[1:] if name == "embeddings.word_embeddings.weight" else t
        n = w.numel()
        # mean within 5 standard errors, std within 5% (n >= 96) of initializer_range
        ok = abs(w.mean().item()) < 5 * 0.05 / n ** 0.5 and abs(w.std().item() / 0.05 - 1) < max(0.05, 5 / n ** 0.5)
    if not ok:
        bad.append(name)
check(not bad, f"transformers' initialisation statistics for all {len(sd)} tensors {bad[:4]}")
check(torch.all(sd["embeddings.word_embeddings.weight"][0] == 0), "the [PAD] embedding row is zero")

tok = BertTokenizer.from_pretrained(m1)
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["".join(p) for p in itertools.product("ATCG", repeat=6)]
check(open(os.path.join(m1, "vocab.txt")).read().split("\n")[:-1] == vocab, "vocab.txt = specials + product('ATCG', 6)")
seq = "GATTACAGATTACAGGCT"
text = " ".join(seq[i:i + 6] for i in range(len(seq) - 5))
ids = tok(text)["input_ids"]
check(ids == [2] + [vocab.index(w) for w in text.split()] + [3], "BertTokenizer maps DNABERT 6-mer text to those ids")
with torch.no_grad():
    out = model(torch.tensor([ids]))
check(torch.isfinite(out.last_hidden_state).all().item(), "a forward pass in transformers is finite")

m4 = init(os.path.join(TMP, "m4"), 7, k=3)
check(len(open(os.path.join(m4, "vocab.txt")).read().split()) == 5 + 64, "k=3: 69 tokens")

r = subprocess.run([BIN, "init-model", "--vocab-kmer", "9", "-o", os.path.join(TMP, "bad")], capture_output=True, text=True)
check(r.returncode == 2 and "--vocab-kmer" in r.stderr, "k=9 is a usage error naming --vocab-kmer")
json.dump({"hidden_size": 50, "num_attention_heads": 4}, open(os.path.join(TMP, "bad.json"), "w"))
r = subprocess.run([BIN, "init-model", "--config", os.path.join(TMP, "bad.json"), "-o", os.path.join(TMP, "bad"),
                    "--store", store], capture_output=True, text=True)
check(r.returncode == 2 and "hidden_size" in r.stderr and not os.path.exists(os.path.join(TMP, "bad")),
      f"hidden 50 with 4 heads: usage error naming hidden_size, nothing written ({r.stderr.strip()})")

print(f"{failures} failure(s)", file=sys.stderr)
sys.exit(1 if failures else 0)
