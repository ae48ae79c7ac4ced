"""End-to-end `seqlora train` / `seqlora predict` on random tiny ESM-family bases: an ESM-2-style protein
model (rotary, token dropout, 33-token alphabet) and a Nucleotide Transformer v1-style model (absolute
pad-aware positions, 6-mer vocabulary).

Checks: train exits 0 and prints PEFT's trainable-parameter line; 1 and 2 threads give byte-identical adapters; `seqlora predict` probabilities equal those
of transformers' EsmTokenizer + EsmForSequenceClassification + PeftModel.from_pretrained on the adapter
seqlora wrote, within 1e-4; a LoRA target that would adapt the classifier ("dense") is refused with a clear
message and nothing written. Exits 1 on any failure."""
import itertools
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import EsmConfig, EsmForSequenceClassification, EsmTokenizer

BIN = os.environ["SEQLORA_BIN"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_families_cli"), "esm_cli")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []
torch.set_num_threads(1)


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


ESM_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>"] + list("LAGVSERTIDPKQNFYMHWCXBUZO") + [".", "-", "<null_1>", "<mask>"]
NT_VOCAB = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"] + \
    ["".join(p) for p in itertools.product("ATCG", repeat=6)] + list("ATCGN")


def make_base(name, vocab, **kw):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    open(os.path.join(d, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
    json.dump({"model_max_length": 64, "tokenizer_class": "EsmTokenizer"},
              open(os.path.join(d, "tokenizer_config.json"), "w"))
    torch.manual_seed(0)
    cfg = EsmConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, max_position_embeddings=66, num_labels=2, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0, pad_token_id=1, mask_token_id=vocab.index("<mask>"),
                    layer_norm_eps=1e-5, **kw)
    EsmForSequenceClassification(cfg).save_pretrained(d, safe_serialization=True)
    return d


rng = np.random.default_rng(1)


def dataset(path, n, alphabet, motif):
    rows = ["id\tsequence\tlabel"]
    for i in range(n):
        s = "".join(rng.choice(list(alphabet), size=int(rng.integers(10, 40))))
        rows.append(f"s{i}\t{s}\t{'case' if motif in s else 'control'}")
    open(path, "w").write("\n".join(rows) + "\n")


def seqlora(args, store):
    return subprocess.run([BIN] + args + ["--store", store], capture_output=True, text=True)


CASES = [
    ("esm2", ESM_VOCAB, "ACDEFGHIKLMNPQRSTVWY", "K", dict(position_embedding_type="rotary", token_dropout=True)),
    ("ntv1", NT_VOCAB, "ACGT", "GC", dict(position_embedding_type="absolute", token_dropout=False)),
]
for name, vocab, alphabet, motif, kw in CASES:
    base = make_base(name + "_base", vocab, **kw)
    train, evl = os.path.join(TMP, name + "_train.tsv"), os.path.join(TMP, name + "_eval.tsv")
    dataset(train, 48, alphabet, motif)
    dataset(evl, 16, alphabet, motif)
    out = os.path.join(TMP, name + "_adapter")
    store = os.path.join(TMP, name + "_store")
    r = seqlora(["train", "--base", base, "--train", train, "--eval", evl, "-o", out, "--lora-r", "4",
                 "--lora-alpha", "8", "--epochs", "2", "--batch-size", "4", "--lr", "1e-2", "--max-length", "48",
                 "--seed", "3", "--target-modules", "query,key,value,attention.output.dense"], store)
    check(r.returncode == 0, f"{name}: train exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-2000:]))
    check("trainable params:" in r.stdout + r.stderr, f"{name}: trainable-parameter line printed")
    # two threads, a fresh store: the same adapter bytes
    out2 = os.path.join(TMP, name + "_adapter2")
    r2 = seqlora(["train", "--base", base, "--train", train, "--eval", evl, "-o", out2, "--lora-r", "4",
                  "--lora-alpha", "8", "--epochs", "2", "--batch-size", "4", "--lr", "1e-2", "--max-length", "48",
                  "--seed", "3", "--target-modules", "query,key,value,attention.output.dense", "--threads", "2"],
                 store + "2")
    same = r2.returncode == 0 and all(
        open(os.path.join(out, f), "rb").read() == open(os.path.join(out2, f), "rb").read()
        for f in ("adapter_model.safetensors", "adapter_config.json"))
    check(same, f"{name}: 1 and 2 threads give byte-identical adapters")
    pred = os.path.join(TMP, name + "_pred.tsv")
    r = seqlora(["predict", "--base", base, "--adapter", out, "--input", evl, "-o", pred], store)
    check(r.returncode == 0, f"{name}: predict exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-2000:]))
    if r.returncode != 0:
        continue
    rows = [l.rstrip("\n").split("\t") for l in open(pred)]
    check(rows[0] == ["id", "label", "prob_case", "prob_control"], f"{name}: predictions header {rows[0]}")
    tok = EsmTokenizer(os.path.join(base, "vocab.txt"))
    model = PeftModel.from_pretrained(EsmForSequenceClassification.from_pretrained(base), out).eval()
    seqs = [l.rstrip("\n").split("\t") for l in open(evl)][1:]
    enc = tok([s[1] for s in seqs], padding=True, truncation=True, max_length=48, return_tensors="pt")
    with torch.no_grad():
        ref = torch.softmax(model(**enc).logits, -1).numpy()
    ours = np.array([[float(x) for x in row[2:]] for row in rows[1:]])
    diff = float(np.max(np.abs(ours - ref))) if ours.shape == ref.shape else float("inf")
    check(diff < 1e-4, f"{name}: predict probabilities vs EsmTokenizer + PeftModel: max|diff| {diff:.2e} < 1e-4")

    # a PEFT-made adapter (task SEQ_CLS: the classifier, dense + out_proj, saved; random LoRA B) through predict
    torch.manual_seed(5)
    pm = get_peft_model(EsmForSequenceClassification.from_pretrained(base),
                        LoraConfig(task_type="SEQ_CLS", r=2, lora_alpha=4, target_modules=["query", "value"],
                                   init_lora_weights=False))
    peft_dir = os.path.join(TMP, name + "_peft_adapter")
    pm.save_pretrained(peft_dir)
    pred2 = os.path.join(TMP, name + "_pred_peft.tsv")
    r = seqlora(["predict", "--base", base, "--adapter", peft_dir, "--input", evl, "-o", pred2], store)
    check(r.returncode == 0, f"{name}: predict with a PEFT-made adapter exits 0" +
          ("" if r.returncode == 0 else ": " + r.stderr[-1000:]))
    if r.returncode == 0:
        model = PeftModel.from_pretrained(EsmForSequenceClassification.from_pretrained(base), peft_dir).eval()
        with torch.no_grad():
            ref = torch.softmax(model(**enc).logits, -1).numpy()
        rows = [l.rstrip("\n").split("\t") for l in open(pred2)]
        ours = np.array([[float(x) for x in row[2:]] for row in rows[1:]])
        diff = float(np.max(np.abs(ours - ref))) if ours.shape == ref.shape else float("inf")
        check(diff < 1e-4, f"{name}: PEFT-made adapter, predict vs PeftModel: max|diff| {diff:.2e} < 1e-4")

# a target that would adapt the classifier: refused, nothing written
base = os.path.join(TMP, "esm2_base")
bad_out = os.path.join(TMP, "bad_adapter")
r = seqlora(["train", "--base", base, "--train", os.path.join(TMP, "esm2_train.tsv"), "-o", bad_out,
             "--epochs", "1", "--target-modules", "query,dense"], os.path.join(TMP, "esm2_store"))
check(r.returncode != 0 and "dense" in r.stderr and "classifier" in r.stderr and not os.path.exists(bad_out),
      f"target 'dense' refused (exit {r.returncode}): {r.stderr.strip()[-300:]}")

print(f"{len(FAILED)} failed" if FAILED else "all ok")
sys.exit(1 if FAILED else 0)
