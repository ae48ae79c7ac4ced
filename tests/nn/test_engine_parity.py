"""Parity of the seqlora engine with transformers + PEFT + torch.optim.AdamW on random tiny BERT models.

Run by ctest as: python test_engine_parity.py <nn_engine_tool>. Each case saves a random
BertForSequenceClassification (transformers), runs the C engine on the same token ids through
nn_engine_tool, and compares: logits and losses (forward), LoRA and classifier gradients after one step,
20 AdamW steps of loss with the linear schedule and gradient clipping, and the adapter seqlora writes
loaded back by PeftModel.from_pretrained. Exits 1 on any mismatch."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertForSequenceClassification, BertModel, get_scheduler

TOOL = sys.argv[1]
TMP = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
os.makedirs(TMP, exist_ok=True)
torch.set_num_threads(1)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def make_base(name, layers, hidden, heads, inter, vocab, num_labels, problem_type, seed, cls=True):
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=inter, max_position_embeddings=64, num_labels=num_labels,
                     problem_type=problem_type, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(cfg)
    with torch.no_grad():  # make LayerNorms and biases non-trivial
        for n, p in model.named_parameters():
            if "LayerNorm" in n:
                p.add_(torch.randn_like(p) * 0.1)
            elif n.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.02)
    d = os.path.join(TMP, name)
    if cls:
        model.save_pretrained(d, safe_serialization=True)
    else:  # a BertModel checkpoint (no "bert." prefix, no classifier) with old gamma/beta LayerNorm names
        model.bert.save_pretrained(d, safe_serialization=True)
        sd = load_file(os.path.join(d, "model.safetensors"))
        sd = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
              for k, v in sd.items()}
        save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        c = json.load(open(os.path.join(d, "config.json")))
        c["num_labels"] = num_labels
        c["problem_type"] = problem_type
        json.dump(c, open(os.path.join(d, "config.json"), "w"))
    return d


def make_batches(n, B, T, vocab, num_labels, problem_type, seed):
    g = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lens = g.integers(2, T + 1, size=B)
        lens[0] = T  # at least one full row, the others padded
        ids = g.integers(5, vocab, size=(B, T))
        ids[:, 0] = 2
        mask = (np.arange(T)[None, :] < lens[:, None]).astype(int)
        ids = ids * mask
        if problem_type == "single_label_classification":
            labels = g.integers(0, num_labels, size=B).tolist()
        elif problem_type == "multi_label_classification":
            labels = g.integers(0, 2, size=(B, num_labels)).astype(float).tolist()
        else:
            labels = g.normal(size=(B, num_labels)).tolist()
        out.append({"ids": ids.tolist(), "mask": mask.tolist(), "labels": labels})
    return out


def torch_batch(b, problem_type):
    lab = torch.tensor(b["labels"])
    if problem_type == "single_label_classification":
        lab = lab.long()
    else:
        lab = lab.float()
    return dict(input_ids=torch.tensor(b["ids"]), attention_mask=torch.tensor(b["mask"]), labels=lab)


def run_tool(spec, name):
    sp = os.path.join(TMP, name + ".spec.json")
    op = os.path.join(TMP, name + ".out.json")
    json.dump(spec, open(sp, "w"))
    r = subprocess.run([TOOL, sp, op], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr)
        raise SystemExit("engine_tool failed on " + name)
    return json.load(open(op))


def file_key(n):
    n = n.replace(".modules_to_save.default", "").replace(".default", "")
    return n


def maxrel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


# ---- 1. forward parity: logits and loss, several shapes, vocabularies and heads -----------------
FWD = [
    # name, layers, hidden, heads, inter, vocab, labels, problem, B, T
    ("dnabert_1x32", 1, 32, 1, 64, 4101, 2, "single_label_classification", 3, 13),
    ("protbert_2x64", 2, 64, 4, 128, 30, 3, "multi_label_classification", 4, 17),
    ("dnabert_4x128", 4, 128, 8, 256, 4101, 1, "regression", 2, 9),
    ("bert_3x48", 3, 48, 3, 96, 100, 4, "single_label_classification", 5, 21),
    ("bert_2x32_reg3", 2, 32, 2, 64, 50, 3, "regression", 3, 7),
]
for i, (name, L, H, nh, I, V, C, pt, B, T) in enumerate(FWD):
    d = make_base(name, L, H, nh, I, V, C, pt, seed=10 + i)
    batch = make_batches(1, B, T, V, C, pt, seed=100 + i)
    model = BertForSequenceClassification.from_pretrained(d).eval()
    with torch.no_grad():
        ref = model(**torch_batch(batch[0], pt))
    out = run_tool({"model_dir": d, "seed": 1, "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "targets": ["query", "value"]},
                    "batches": batch, "steps": 0}, name)
    lg = np.array(out["logits"]).reshape(B, C)
    diff = float(np.max(np.abs(lg - ref.logits.numpy())))
    check(diff < 1e-4, f"{name}: logits max|diff| {diff:.2e} < 1e-4 ({pt}, L{L} H{H} heads{nh} T{T})")
    ldiff = abs(out["loss"] - ref.loss.item())
    check(ldiff < 1e-4, f"{name}: loss {out['loss']:.6f} vs transformers {ref.loss.item():.6f} (|diff| {ldiff:.2e})")

# a checkpoint that ships only pytorch_model.bin (as DNABERT does)
d = make_base("bin_2x32", 2, 32, 2, 64, 4101, 2, "single_label_classification", seed=30)
BertForSequenceClassification.from_pretrained(d).save_pretrained(d + "_bin", safe_serialization=False)
check(not os.path.exists(os.path.join(d + "_bin", "model.safetensors")), "bin_2x32: saved as pytorch_model.bin only")
batch = make_batches(1, 3, 10, 4101, 2, "single_label_classification", seed=130)
model = BertForSequenceClassification.from_pretrained(d + "_bin").eval()
with torch.no_grad():
    ref = model(**torch_batch(batch[0], "single_label_classification"))
out = run_tool({"model_dir": d + "_bin", "seed": 1, "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "targets": ["query"]},
                "batches": batch, "steps": 0}, "bin_2x32")
diff = float(np.max(np.abs(np.array(out["logits"]).reshape(3, 2) - ref.logits.numpy())))
check(diff < 1e-4, f"bin_2x32: pytorch_model.bin base, logits max|diff| {diff:.2e} < 1e-4")

# ---- 2. gradients, 20 AdamW steps, adapter round trip with PEFT -----------------------------------
TRAIN = [
    # name, layers, hidden, heads, inter, vocab, labels, problem, targets, r, alpha, rslora, warmup, clip, accum
    ("tr_single", 2, 64, 4, 128, 4101, 2, "single_label_classification", ["query", "value"], 4, 8, False, 5, 1.0, 1),
    ("tr_all", 2, 48, 3, 96, 30, 3, "multi_label_classification",
     ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"], 8, 16, True, 0, 0.5, 1),
    ("tr_reg", 3, 32, 2, 64, 100, 1, "regression", ["key", "dense"], 2, 4, False, 3, 1.0, 1),
    ("tr_accum", 2, 32, 2, 64, 4101, 2, "single_label_classification", r".*\.(query|value|output\.dense)", 4, 8,
     False, 2, 1.0, 3),  # PEFT's regex-string target_modules
]
for i, (name, L, H, nh, I, V, C, pt, targets, r, alpha, rs, warm, clip, accum) in enumerate(TRAIN):
    if isinstance(targets, list) and "dense" in targets:  # PEFT would adapt bert.pooler.dense too: seqlora refuses; use the explicit names
        targets = ["key", "attention.output.dense", "intermediate.dense", "output.dense"]
    d = make_base(name, L, H, nh, I, V, C, pt, seed=20 + i)
    batches = make_batches(4, 4, 11, V, C, pt, seed=200 + i)
    torch.manual_seed(7)
    pm = get_peft_model(BertForSequenceClassification.from_pretrained(d),
                        LoraConfig(task_type="SEQ_CLS", r=r, lora_alpha=alpha, lora_dropout=0.0,
                                   target_modules=targets, use_rslora=rs))
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    init = os.path.join(TMP, name + "_init")
    pm.save_pretrained(init)
    lr, wd, steps = 3e-3, 0.01, 20
    out_adapter = os.path.join(TMP, name + "_out")
    os.makedirs(out_adapter, exist_ok=True)
    out = run_tool({"model_dir": d, "seed": 1, "init_adapter": init, "write_adapter": out_adapter, "batches": batches,
                    "steps": steps, "lr": lr, "weight_decay": wd, "warmup": warm, "total": steps, "max_grad_norm": clip,
                    "accum": accum},
                   name)
    # the trainable-parameter line as PEFT prints it
    trainable = sum(p.numel() for p in pm.parameters() if p.requires_grad)
    total = sum(p.numel() for p in pm.parameters())
    want = f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {100 * trainable / total:.4f}"
    check(out["trainable_line"] == want,
          f"{name}: '{out['trainable_line']}' vs PEFT '{want}'")
    pm.train()
    params = [(n, p) for n, p in pm.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW([p for _, p in params], lr=lr, weight_decay=wd)
    sched = get_scheduler("linear", opt, num_warmup_steps=warm, num_training_steps=steps)
    losses = []
    for s in range(steps):
        opt.zero_grad()
        lsum = 0.0
        for a in range(accum):  # gradient accumulation: each micro-batch's loss divided by the group size
            res = pm(**torch_batch(batches[(s * accum + a) % len(batches)], pt))
            (res.loss / accum).backward()
            lsum += res.loss.item()
        if s == 0:
            worst = 0.0
            for n, p in params:
                k = file_key(n)
                if k not in out["grads"]:
                    check(False, f"{name}: no gradient for {k}")
                    continue
                if accum == 1:
                    worst = max(worst, maxrel(np.array(out["grads"][k]).reshape(p.shape), p.grad.numpy()))
            if accum == 1:
                check(worst < 1e-4, f"{name}: gradients of {len(params)} tensors, worst max|diff|/max|ref| {worst:.2e} < 1e-4")
        losses.append(lsum / accum)
        torch.nn.utils.clip_grad_norm_([p for _, p in params], clip)
        opt.step()
        sched.step()
    ld = float(np.max(np.abs(np.array(out["losses"]) - np.array(losses))))
    check(ld < 1e-4, f"{name}: {steps} AdamW steps (accumulating {accum}), loss {losses[0]:.5f} -> {losses[-1]:.5f}, max|diff| {ld:.2e} < 1e-4")
    # seqlora's adapter loaded by PEFT gives seqlora's logits
    base = BertForSequenceClassification.from_pretrained(d)
    loaded = PeftModel.from_pretrained(base, out_adapter).eval()
    with torch.no_grad():
        lg = loaded(**{k: v for k, v in torch_batch(batches[0], pt).items() if k != "labels"}).logits.numpy()
    diff = float(np.max(np.abs(lg.reshape(-1) - np.array(out["final_logits"]))))
    check(diff < 1e-4, f"{name}: seqlora adapter in PEFT: logits max|diff| {diff:.2e} < 1e-4")

# ---- 3. a base without a classifier (BertModel, gamma/beta names): new head, adapter carries it ------
d = make_base("bertmodel_nohead", 2, 32, 2, 64, 4101, 2, "single_label_classification", seed=40, cls=False)
batches = make_batches(2, 3, 9, 4101, 2, "single_label_classification", seed=400)
out_adapter = os.path.join(TMP, "nohead_out")
os.makedirs(out_adapter, exist_ok=True)
out = run_tool({"model_dir": d, "seed": 5, "write_adapter": out_adapter, "batches": batches, "steps": 3, "lr": 1e-2,
                "weight_decay": 0.0, "warmup": 0, "total": 3, "max_grad_norm": 1.0,
                "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "targets": ["query", "value"]}}, "nohead")
w = load_file(os.path.join(out_adapter, "adapter_model.safetensors"))["base_model.model.classifier.weight"]
check(abs(float(w.std()) - 0.02) < 0.01, f"nohead: new classifier drawn with std {float(w.std()):.4f} (~0.02)")
base = BertForSequenceClassification.from_pretrained(d, num_labels=2)
loaded = PeftModel.from_pretrained(base, out_adapter).eval()
with torch.no_grad():
    lg = loaded(input_ids=torch.tensor(batches[0]["ids"]), attention_mask=torch.tensor(batches[0]["mask"])).logits.numpy()
diff = float(np.max(np.abs(lg.reshape(-1) - np.array(out["final_logits"]))))
check(diff < 1e-4, f"nohead: gamma/beta BertModel base + seqlora adapter in PEFT: logits max|diff| {diff:.2e} < 1e-4")

# ---- 4. a BertForMaskedLM checkpoint (no pooler, no classifier): both drawn, the pooler trained and saved --
from transformers import BertForMaskedLM
torch.manual_seed(41)
mlm = BertForMaskedLM(BertConfig(vocab_size=4101, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
                                 attention_probs_dropout_prob=0.0))
d = os.path.join(TMP, "mlm_base")
mlm.save_pretrained(d, safe_serialization=True)
batches = make_batches(2, 3, 9, 4101, 2, "single_label_classification", seed=410)
out_adapter = os.path.join(TMP, "mlm_out")
os.makedirs(out_adapter, exist_ok=True)
out = run_tool({"model_dir": d, "seed": 6, "write_adapter": out_adapter, "batches": batches, "steps": 3, "lr": 1e-2,
                "weight_decay": 0.0, "warmup": 0, "total": 3, "max_grad_norm": 1.0, "num_labels": 2,
                "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "targets": ["query", "value"]}}, "mlm")
keys = set(load_file(os.path.join(out_adapter, "adapter_model.safetensors")).keys())
check("base_model.model.bert.pooler.dense.weight" in keys, "mlm: the drawn pooler is trained and saved")
base = BertForSequenceClassification.from_pretrained(d, num_labels=2)
loaded = PeftModel.from_pretrained(base, out_adapter).eval()
with torch.no_grad():
    lg = loaded(input_ids=torch.tensor(batches[0]["ids"]), attention_mask=torch.tensor(batches[0]["mask"])).logits.numpy()
diff = float(np.max(np.abs(lg.reshape(-1) - np.array(out["final_logits"]))))
check(diff < 1e-4, f"mlm: BertForMaskedLM base + seqlora adapter (pooler in modules_to_save) in PEFT: logits max|diff| {diff:.2e}")

print("FAILED: %d" % len(FAILED))
sys.exit(1 if FAILED else 0)
