"""End-to-end `seqlora train` / `seqlora predict` on a random tiny DNABERT-2 base (MosaicBERT config with
auto_map, BPE tokenizer.json, no pooler in the checkpoint, LoRA on Wqkv).

Checks: train exits 0; 1 and 2 threads give byte-identical adapters; `seqlora predict` probabilities equal those of the `tokenizers` BPE tokenizer +
the PyTorch reference of DNABERT-2 (d2_reference.py) + PeftModel.from_pretrained on seqlora's adapter
within 1e-4; a PEFT-made adapter (from the reference) predicts the same through seqlora. Exits 1 on any
failure."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from d2_reference import D2Ref  # noqa: E402

BIN = os.environ["SEQLORA_BIN"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_families_cli"), "d2_cli")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []
torch.set_num_threads(1)


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


rng = np.random.default_rng(5)
seqs = ["".join(rng.choice(list("ACGT"), size=int(rng.integers(20, 60)))) for _ in range(200)]
base = os.path.join(TMP, "base")
os.makedirs(base)
tok = Tokenizer(models.BPE(unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
tok.train_from_iterator(seqs, trainers.BpeTrainer(vocab_size=80, special_tokens=["[UNK]", "[CLS]", "[SEP]",
                                                                                 "[PAD]", "[MASK]"]))
tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                   special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
tok.save(os.path.join(base, "tokenizer.json"))
json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "cls_token": "[CLS]",
           "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]"},
          open(os.path.join(base, "tokenizer_config.json"), "w"))
V, H, L, NH, I = tok.get_vocab_size(), 32, 2, 4, 48
torch.manual_seed(0)
model = D2Ref(V, H, L, NH, I, 2, "single_label_classification")
sd = {k: v for k, v in model.state_dict().items() if "pooler" not in k}  # as published: no pooler
save_file(sd, os.path.join(base, "model.safetensors"), metadata={"format": "pt"})
json.dump({"alibi_starting_size": 512, "attention_probs_dropout_prob": 0.0, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.1, "hidden_size": H, "intermediate_size": I, "layer_norm_eps": 1e-12,
           "max_position_embeddings": 512, "num_attention_heads": NH, "num_hidden_layers": L,
           "type_vocab_size": 2, "vocab_size": V,
           "auto_map": {"AutoConfig": "configuration_bert.BertConfig", "AutoModel": "bert_layers.BertModel"}},
          open(os.path.join(base, "config.json"), "w"))


def dataset(path, rows):
    out = ["id\tsequence\tlabel"] + [f"s{i}\t{s}\t{'case' if 'GCGC' in s else 'control'}" for i, s in rows]
    open(path, "w").write("\n".join(out) + "\n")


train, evl = os.path.join(TMP, "train.tsv"), os.path.join(TMP, "eval.tsv")
dataset(train, list(enumerate(seqs[:64])))
dataset(evl, list(enumerate(seqs[64:80])))


def seqlora(args):
    return subprocess.run([BIN] + args + ["--store", os.path.join(TMP, "store")], capture_output=True, text=True)


def reference_probs(adapter):
    m = D2Ref(V, H, L, NH, I, 2, "single_label_classification")
    m.load_state_dict(load_file(os.path.join(base, "model.safetensors")), strict=False)
    pm = PeftModel.from_pretrained(m.eval(), adapter).eval()
    rows = [l.rstrip("\n").split("\t") for l in open(evl)][1:]
    enc = [tok.encode(r[1]).ids[:32] for r in rows]
    T = max(len(e) for e in enc)
    ids = torch.tensor([e + [3] * (T - len(e)) for e in enc])
    mask = torch.tensor([[1] * len(e) + [0] * (T - len(e)) for e in enc])
    with torch.no_grad():
        return torch.softmax(pm(input_ids=ids, attention_mask=mask).logits, -1).numpy()


def compare(pred, adapter, what):
    rows = [l.rstrip("\n").split("\t") for l in open(pred)]
    check(rows[0] == ["id", "label", "prob_case", "prob_control"], f"{what}: header {rows[0]}")
    ours = np.array([[float(x) for x in row[2:]] for row in rows[1:]])
    ref = reference_probs(adapter)
    diff = float(np.max(np.abs(ours - ref))) if ours.shape == ref.shape else float("inf")
    check(diff < 1e-4, f"{what}: probabilities vs tokenizers + reference + PeftModel: max|diff| {diff:.2e} < 1e-4")


out = os.path.join(TMP, "adapter")
r = seqlora(["train", "--base", base, "--train", train, "--eval", evl, "-o", out, "--lora-r", "4", "--lora-alpha",
             "8", "--epochs", "2", "--batch-size", "4", "--lr", "1e-2", "--max-length", "32", "--seed", "3",
             "--target-modules", "Wqkv"])
check(r.returncode == 0, "train on a DNABERT-2 base exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-2000:]))
if r.returncode == 0:
    out2 = os.path.join(TMP, "adapter2")
    r2 = subprocess.run([BIN, "train", "--base", base, "--train", train, "--eval", evl, "-o", out2, "--lora-r", "4",
                         "--lora-alpha", "8", "--epochs", "2", "--batch-size", "4", "--lr", "1e-2", "--max-length",
                         "32", "--seed", "3", "--target-modules", "Wqkv", "--threads", "2", "--store",
                         os.path.join(TMP, "store2")], capture_output=True, text=True)
    check(r2.returncode == 0 and open(os.path.join(out, "adapter_model.safetensors"), "rb").read() ==
          open(os.path.join(out2, "adapter_model.safetensors"), "rb").read(),
          "1 and 2 threads (hidden dropout 0.1 on) give byte-identical adapters")
    cfg = json.load(open(os.path.join(out, "adapter_config.json")))
    check(cfg["target_modules"] == ["Wqkv"] and "pooler" in cfg["modules_to_save"],
          f"adapter_config: targets {cfg['target_modules']}, modules_to_save {cfg['modules_to_save']}")
    pred = os.path.join(TMP, "pred.tsv")
    r = seqlora(["predict", "--base", base, "--adapter", out, "--input", evl, "-o", pred])
    check(r.returncode == 0, "predict exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-2000:]))
    if r.returncode == 0:
        compare(pred, out, "seqlora adapter")

# a PEFT-made adapter (LoRA on Wqkv, random B; classifier and pooler saved) predicted through seqlora
torch.manual_seed(9)
m = D2Ref(V, H, L, NH, I, 2, "single_label_classification")
m.load_state_dict(load_file(os.path.join(base, "model.safetensors")), strict=False)
pm = get_peft_model(m, LoraConfig(r=2, lora_alpha=4, target_modules=["Wqkv"], modules_to_save=["classifier", "pooler"],
                                  init_lora_weights=False))
peft_dir = os.path.join(TMP, "peft_adapter")
pm.save_pretrained(peft_dir)
pred2 = os.path.join(TMP, "pred_peft.tsv")
r = seqlora(["predict", "--base", base, "--adapter", peft_dir, "--input", evl, "-o", pred2, "--labels",
             "case,control"])
if r.returncode != 0:  # --labels may not exist; without it predict names classes LABEL_0..
    r = seqlora(["predict", "--base", base, "--adapter", peft_dir, "--input", evl, "-o", pred2])
check(r.returncode == 0, "predict with a PEFT-made adapter exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-1000:]))
if r.returncode == 0:
    rows = [l.rstrip("\n").split("\t") for l in open(pred2)]
    ours = np.array([[float(x) for x in row[2:]] for row in rows[1:]])
    ref = reference_probs(peft_dir)
    diff = float(np.max(np.abs(ours - ref))) if ours.shape == ref.shape else float("inf")
    check(diff < 1e-4, f"PEFT-made adapter: header {rows[0]}, probabilities max|diff| {diff:.2e} < 1e-4")

print(f"{len(FAILED)} failed" if FAILED else "all ok")
sys.exit(1 if FAILED else 0)
