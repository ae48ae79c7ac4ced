"""Parity of seqlora's DNABERT-2 engine with a PyTorch reference of the MosaicBERT layer code + PEFT LoRA +
torch.optim.AdamW on random tiny models.

Run by ctest as: python test_dnabert2_parity.py <families_tool>.

The reference (D2Ref below) is written here from the description of the published remote code in
reference/formats.md §4.2-4.3 (zhihan1996/DNABERT-2-117M, files bert_layers.py and configuration_bert.py
of the Hugging Face hub repository, main branch as read for formats.md; the files themselves cannot be
downloaded here): embeddings LN(word + token_type[0]) without positions; Wqkv = Linear(H, 3H) split
'b s (t h d)' with t = 3 outermost; scores q k^T / sqrt(d) + ALiBi (-slope_h |i - j|, slopes from
_get_alibi_head_slopes) + (1 - mask) * -10000; attention.output = LN(dropout(dense(ctx)) + x);
BertGatedLinearUnitMLP: gated_layers = Linear(H, 2I, bias=False), gelu(exact) on the first I columns times
the last I, dropout, wo, layernorm(. + residual); pooler tanh(dense(h[:, 0])); classifier on
dropout(pooled). MosaicBERT's unpadding (dropping padded tokens before the layers) changes nothing for the
real tokens and is not reproduced. What was NOT checked against the original: the hub file itself, its
Triton flash-attention path, and a real DNABERT-2-117M checkpoint.

Checks: logits and loss within 1e-4; LoRA (Wqkv, and all four module kinds) + classifier (+ pooler)
gradients within 1e-4; 20 AdamW steps; the adapter seqlora writes loads in PEFT with seqlora's logits; a
checkpoint without a pooler (as published); bad input."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import get_scheduler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from d2_reference import D2Ref, alibi_slopes  # noqa: E402

TOOL = sys.argv[1]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp(), "families_d2")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
torch.set_num_threads(1)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def make_base(name, L, H, nh, I, V, C, pt, seed, pooler=True):
    torch.manual_seed(seed)
    model = D2Ref(V, H, L, nh, I, C, pt)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm" in n or "layernorm" in n:
                p.add_(torch.randn_like(p) * 0.1)
            elif n.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.02)
            elif "embeddings" not in n:
                p.copy_(torch.randn_like(p) * 0.1)
    model.eval()
    d = os.path.join(TMP, name)
    os.makedirs(d)
    sd = {k: v.contiguous() for k, v in model.state_dict().items() if pooler or "pooler" not in k}
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    cfg = {"alibi_starting_size": 512, "attention_probs_dropout_prob": 0.0, "classifier_dropout": None,
           "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": H, "initializer_range": 0.02,
           "intermediate_size": I, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
           "num_attention_heads": nh, "num_hidden_layers": L, "position_embedding_type": "absolute",
           "type_vocab_size": 2, "vocab_size": V, "num_labels": C, "problem_type": pt,
           "auto_map": {"AutoConfig": "configuration_bert.BertConfig", "AutoModel": "bert_layers.BertModel",
                        "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification"}}
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    return d, model


def make_batches(n, B, T, V, C, pt, seed):
    g = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lens = g.integers(3, T + 1, size=B)
        lens[0] = T
        ids = g.integers(5, V, size=(B, T))
        ids[:, 0] = 1
        mask = (np.arange(T)[None, :] < lens[:, None]).astype(int)
        ids = np.where(mask == 1, ids, 3)
        if pt == "single_label_classification":
            labels = g.integers(0, C, size=B).tolist()
        elif pt == "multi_label_classification":
            labels = g.integers(0, 2, size=(B, C)).astype(float).tolist()
        else:
            labels = g.normal(size=(B, C)).tolist()
        out.append({"ids": ids.tolist(), "mask": mask.tolist(), "labels": labels})
    return out


def torch_batch(b, pt):
    lab = torch.tensor(b["labels"])
    lab = lab.long() if pt == "single_label_classification" else lab.float()
    return dict(input_ids=torch.tensor(b["ids"]), attention_mask=torch.tensor(b["mask"]), labels=lab)


def run_tool(spec, name, expect_error=False):
    sp, op = os.path.join(TMP, name + ".spec.json"), os.path.join(TMP, name + ".out.json")
    json.dump(spec, open(sp, "w"))
    r = subprocess.run([TOOL, sp, op], capture_output=True, text=True)
    if expect_error:
        return r.returncode, (json.load(open(op)) if r.returncode == 2 else {"error": r.stderr})
    if r.returncode != 0:
        print(r.stderr)
        raise SystemExit("families_tool failed on " + name)
    return json.load(open(op))


def maxrel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


check(np.allclose(alibi_slopes(12), [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625,
                                     0.70710678, 0.35355339, 0.1767767, 0.08838835]),
      "reference ALiBi slopes for 12 heads are formats.md's")
CASES = [
    # name, layers, hidden, heads, inter, vocab, labels, problem, B, T, pooler, targets
    ("d2_2x32_h4", 2, 32, 4, 48, 4096, 3, "single_label_classification", 3, 13, True, ["Wqkv"]),
    ("d2_3x48_h6_nopool", 3, 48, 6, 64, 300, 1, "regression", 4, 11, False,
     ["Wqkv", "attention.output.dense", "gated_layers", "wo"]),
    ("d2_2x40_h5_multi", 2, 40, 5, 56, 100, 2, "multi_label_classification", 2, 17, True, ["Wqkv", "wo"]),
]
for i, (name, L, H, nh, I, V, C, pt, B, T, pooler, targets) in enumerate(CASES):
    d, model = make_base(name, L, H, nh, I, V, C, pt, 10 + i, pooler)
    batches = make_batches(3, B, T, V, C, pt, 20 + i)
    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "targets": targets}
    if pooler:  # 1. forward of the base with its own pooler and classifier
        out = run_tool({"model_dir": d, "seed": 1, "lora": lora, "batches": batches[:1], "num_labels": C,
                        "problem_type": pt}, name + ".fwd")
        with torch.no_grad():
            ref = model(**torch_batch(batches[0], pt))
        e = maxrel(out["logits"], ref.logits.numpy().ravel())
        check(e < 1e-4, f"{name}: logits vs the PyTorch reference (max rel diff {e:.2e})")
        e = abs(out["loss"] - ref.loss.item()) / max(abs(ref.loss.item()), 1e-12)
        check(e < 1e-4, f"{name}: loss {out['loss']:.6f} vs {ref.loss.item():.6f} (rel {e:.2e})")
    # 2. gradients from a PEFT adapter with random non-zero B (the pooler in modules_to_save when the
    # checkpoint has none, as seqlora trains it then)
    torch.manual_seed(30 + i)
    mts = ["classifier"] + ([] if pooler else ["pooler"])
    pm = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=targets,
                                          modules_to_save=mts, init_lora_weights=False))
    init_dir = os.path.join(TMP, name + ".init")
    pm.save_pretrained(init_dir)
    pm.train()
    pm.zero_grad()
    r = pm(**torch_batch(batches[0], pt))
    r.loss.backward()
    tgrads = {}
    for n_, p in pm.named_parameters():
        if p.requires_grad:
            tgrads[n_.replace(".modules_to_save.default", "").replace(".default", "")] = p.grad.detach().numpy().ravel()
    steps = 20
    wa = os.path.join(TMP, name + ".out_adapter")
    os.makedirs(wa)
    out = run_tool({"model_dir": d, "seed": 1, "init_adapter": init_dir, "batches": batches, "steps": steps,
                    "lr": 5e-3, "weight_decay": 0.01, "warmup": 3, "total": steps, "max_grad_norm": 1.0,
                    "num_labels": C, "problem_type": pt, "write_adapter": wa}, name + ".train")
    e = maxrel(out["logits"], r.logits.detach().numpy().ravel())
    check(e < 1e-4, f"{name}: logits with the PEFT adapter vs reference + PEFT (max rel diff {e:.2e})")
    check(set(out["grads"]) == set(tgrads), f"{name}: trainable tensors are PEFT's ({len(tgrads)})")
    worst = max(maxrel(out["grads"][k], tgrads[k]) for k in tgrads if k in out["grads"])
    check(worst < 1e-4, f"{name}: LoRA + head gradients vs PEFT (worst rel diff {worst:.2e})")
    nt, na = pm.get_nb_trainable_parameters()
    check(out["n_train"] == nt, f"{name}: {out['n_train']} trainable parameters, PEFT {nt}")
    # 3. 20 AdamW steps
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-3, weight_decay=0.01)
    sch = get_scheduler("linear", opt, num_warmup_steps=3, num_training_steps=steps)
    losses = []
    for s in range(steps):
        opt.zero_grad()
        r = pm(**torch_batch(batches[s % len(batches)], pt))
        r.loss.backward()
        losses.append(r.loss.item())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sch.step()
    e = max(abs(a - b) for a, b in zip(out["losses"], losses)) / max(abs(losses[0]), 1e-12)
    check(e < 1e-4, f"{name}: 20 AdamW steps, loss {losses[0]:.4f} -> {losses[-1]:.4f}, curves within {e:.2e}")
    # 4. the adapter seqlora wrote, loaded by PEFT on a fresh reference with the checkpoint's weights
    base = D2Ref(V, H, L, nh, I, C, pt)
    base.load_state_dict(load_file(os.path.join(d, "model.safetensors")), strict=False)
    base.eval()
    pl = PeftModel.from_pretrained(base, wa).eval()
    with torch.no_grad():
        lg = pl(**torch_batch(batches[0], pt)).logits
    e = maxrel(out["final_logits"], lg.numpy().ravel())
    check(e < 1e-4, f"{name}: adapter written by seqlora, loaded by PeftModel: logits within {e:.2e}")

# the published checkpoint ships only pytorch_model.bin: the same model from a torch.save state dict
d, model = make_base("d2_bin", 2, 32, 4, 48, 4096, 2, "single_label_classification", 40)
torch.save(load_file(os.path.join(d, "model.safetensors")), os.path.join(d, "pytorch_model.bin"))
os.remove(os.path.join(d, "model.safetensors"))
bb = make_batches(1, 3, 9, 4096, 2, "single_label_classification", 41)
out = run_tool({"model_dir": d, "seed": 1, "lora": {"r": 2, "alpha": 4, "dropout": 0.0, "targets": ["Wqkv"]},
                "batches": bb, "num_labels": 2, "problem_type": "single_label_classification"}, "d2_bin.fwd")
with torch.no_grad():
    ref = model(**torch_batch(bb[0], "single_label_classification"))
e = maxrel(out["logits"], ref.logits.numpy().ravel())
check(e < 1e-4, f"d2_bin: pytorch_model.bin checkpoint, logits vs the reference (max rel diff {e:.2e})")

# 5. bad input
d, _ = make_base("bad_base", 1, 16, 2, 24, 50, 2, "single_label_classification", 7)
b1 = make_batches(1, 2, 6, 50, 2, "single_label_classification", 8)


def bad(name, mutate, want, targets=("Wqkv",)):
    bd = os.path.join(TMP, name)
    shutil.copytree(d, bd)
    mutate(bd)
    rc, o = run_tool({"model_dir": bd, "seed": 1, "lora": {"r": 2, "alpha": 4, "dropout": 0.0,
                      "targets": list(targets)}, "batches": b1}, name, expect_error=True)
    msg = o.get("error", "")
    check(rc == 2 and all(w in msg for w in want), f"bad input {name}: exit {rc}, message: {msg}")


def st_edit(fn):
    def f(bd):
        p = os.path.join(bd, "model.safetensors")
        sd = load_file(p)
        fn(sd)
        save_file(sd, p, metadata={"format": "pt"})
    return f


bad("missing_wo", st_edit(lambda sd: sd.pop("bert.encoder.layer.0.mlp.wo.weight")),
    ["bert.encoder.layer.0.mlp.wo.weight", "[16, 24]"])
bad("unfused_qkv", st_edit(lambda sd: sd.__setitem__("bert.encoder.layer.0.attention.self.Wqkv.weight",
                                                     torch.zeros(16, 16))),
    ["bert.encoder.layer.0.attention.self.Wqkv.weight", "[48, 16]"])
bad("target_query", lambda bd: None, ["query", "Wqkv"], targets=("query",))
bad("target_dense", lambda bd: None, ["dense", "pooler"], targets=("dense",))

print(f"{len(FAILED)} failed" if FAILED else "all ok")
sys.exit(1 if FAILED else 0)
