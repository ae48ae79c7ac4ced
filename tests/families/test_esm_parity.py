"""Parity of seqlora's ESM-family engine (ESM-2, ESM-1b-style, Nucleotide Transformer v1 and v2) with
transformers' EsmForSequenceClassification + PEFT LoRA + torch.optim.AdamW on random tiny models.

Run by ctest as: python test_esm_parity.py <families_esm_tool>. Checks, each able to fail:
  1. logits and loss of random tiny models equal transformers' within 1e-4 (relative to the largest logit);
  2. LoRA and classifier gradients (adapter with non-zero B, written by PEFT and read by seqlora) within 1e-4;
  3. 20 AdamW steps (linear schedule, warmup, clipping): the loss curves within 1e-4;
  4. the adapter seqlora writes loads in PeftModel.from_pretrained and gives seqlora's logits;
  5. bad input: unsupported position_embedding_type, a missing tensor, a misshapen tensor (vocab_size in
     config.json not the checkpoint's), a LoRA target that would hit the classifier -> clear errors.

NT v2 (rotary, bias-free SwiGLU feed-forward) has no transformers class: its reference is transformers'
EsmForSequenceClassification with EsmIntermediate / EsmOutput replaced as the Nucleotide Transformer v2 hub
code (InstaDeepAI/nucleotide-transformer-v2-*, modeling_esm.py) does, per reference/formats.md §5.5:
intermediate.dense = Linear(H, 2I, bias=add_bias_fnn), x1, x2 = split(out), silu(x1) * x2;
output.dense = Linear(I, H, bias=add_bias_fnn). That file could not be downloaded here; the description
was taken from formats.md, which cites a saved copy of the hub config and code."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import EsmConfig, EsmForSequenceClassification, get_scheduler

TOOL = sys.argv[1]
TMP = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
TMP = os.path.join(TMP, "families_esm")
os.makedirs(TMP, exist_ok=True)
torch.set_num_threads(1)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


class NTv2Intermediate(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = torch.nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=cfg.add_bias_fnn)

    def forward(self, x):
        x = self.dense(x)
        x1, x2 = x.split(x.size(-1) // 2, -1)
        return torch.nn.functional.silu(x1) * x2


def make_base(name, kind, layers, hidden, heads, inter, vocab, num_labels, problem_type, seed):
    torch.manual_seed(seed)
    extra = dict(position_embedding_type="rotary", token_dropout=True, emb_layer_norm_before=False)
    if kind == "esm1b":
        extra = dict(position_embedding_type="absolute", token_dropout=False, emb_layer_norm_before=True)
    elif kind == "ntv1":
        extra = dict(position_embedding_type="absolute", token_dropout=False, emb_layer_norm_before=False)
    elif kind == "ntv2":
        extra = dict(position_embedding_type="rotary", token_dropout=False, emb_layer_norm_before=False)
    cfg = EsmConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                    intermediate_size=inter, max_position_embeddings=40, num_labels=num_labels,
                    problem_type=problem_type, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                    pad_token_id=1, mask_token_id=vocab - 1, layer_norm_eps=1e-5, **extra)
    if kind == "ntv2":
        cfg.add_bias_fnn = False
    model = EsmForSequenceClassification(cfg)
    if kind == "ntv2":
        for layer in model.esm.encoder.layer:
            layer.intermediate = NTv2Intermediate(cfg)
            layer.output.dense = torch.nn.Linear(inter, hidden, bias=False)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm" in n or "layer_norm" in n:
                p.add_(torch.randn_like(p) * 0.1)
            elif n.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.02)
            elif "intermediate" in n or "output.dense" in n or "self." in n:
                p.copy_(torch.randn_like(p) * 0.08)
    model.eval()
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    sd = {k: v.contiguous() for k, v in model.state_dict().items() if "rotary_embeddings" not in k}
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    cfg.save_pretrained(d)
    return d, model


def make_batches(n, B, T, vocab, num_labels, problem_type, seed, masks=False):
    g = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lens = g.integers(3, T + 1, size=B)
        lens[0] = T
        ids = g.integers(4, vocab - 1, size=(B, T))
        if masks:  # some <mask> tokens (token_dropout rescaling)
            ids[g.random(size=(B, T)) < 0.15] = vocab - 1
        ids[:, 0] = 0
        mask = (np.arange(T)[None, :] < lens[:, None]).astype(int)
        ids = np.where(mask == 1, ids, 1)
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
    lab = lab.long() if problem_type == "single_label_classification" else lab.float()
    return dict(input_ids=torch.tensor(b["ids"]), attention_mask=torch.tensor(b["mask"]), labels=lab)


def run_tool(spec, name, expect_error=False):
    sp = os.path.join(TMP, name + ".spec.json")
    op = os.path.join(TMP, name + ".out.json")
    json.dump(spec, open(sp, "w"))
    r = subprocess.run([TOOL, sp, op], capture_output=True, text=True)
    if expect_error:
        return r.returncode, (json.load(open(op)) if r.returncode == 2 else {"error": r.stderr})
    if r.returncode != 0:
        print(r.stderr)
        raise SystemExit("esm_tool failed on " + name)
    return json.load(open(op))


def maxrel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "targets": ["query", "value", "intermediate.dense", "output.dense"]}
CASES = [
    # name, kind, layers, hidden, heads, inter, vocab, labels, problem, B, T, masks
    ("esm2_2x32", "esm2", 2, 32, 4, 64, 33, 2, "single_label_classification", 3, 13, True),
    ("esm1b_2x48", "esm1b", 2, 48, 3, 96, 33, 3, "multi_label_classification", 4, 11, False),
    ("ntv1_3x32", "ntv1", 3, 32, 2, 64, 4107, 1, "regression", 3, 9, False),
    ("ntv2_2x32", "ntv2", 2, 32, 4, 48, 4107, 2, "single_label_classification", 4, 15, False),
]
for i, (name, kind, L, H, nh, I, V, C, pt, B, T, masks) in enumerate(CASES):
    d, model = make_base(name, kind, L, H, nh, I, V, C, pt, 100 + i)
    batches = make_batches(3, B, T, V, C, pt, 200 + i, masks)
    # 1. forward of the base with its own classifier
    out = run_tool({"model_dir": d, "seed": 1, "lora": LORA, "batches": batches[:1]}, name + ".fwd")
    with torch.no_grad():
        ref = model(**torch_batch(batches[0], pt))
    e = maxrel(out["logits"], ref.logits.numpy().ravel())
    check(e < 1e-4, f"{name}: logits vs transformers (max rel diff {e:.2e})")
    e = abs(out["loss"] - ref.loss.item()) / max(abs(ref.loss.item()), 1e-12)
    check(e < 1e-4, f"{name}: loss {out['loss']:.6f} vs {ref.loss.item():.6f} (rel {e:.2e})")
    # 2. gradients, from a PEFT adapter with random non-zero B
    torch.manual_seed(300 + i)
    pcfg = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, lora_dropout=0.0,
                      target_modules=LORA["targets"], init_lora_weights=False)
    pm = get_peft_model(model, pcfg)
    init_dir = os.path.join(TMP, name + ".init")
    pm.save_pretrained(init_dir)
    pm.train()
    tb = torch_batch(batches[0], pt)
    pm.zero_grad()
    r = pm(**tb)
    r.loss.backward()
    tgrads = {}
    for n_, p in pm.named_parameters():
        if p.requires_grad:
            k = n_.replace(".modules_to_save.default", "").replace(".default", "")
            tgrads[k] = p.grad.detach().numpy().ravel()
    steps = 20
    out = run_tool({"model_dir": d, "seed": 1, "init_adapter": init_dir, "batches": batches, "steps": steps,
                    "lr": 5e-3, "weight_decay": 0.01, "warmup": 3, "total": steps, "max_grad_norm": 1.0,
                    "write_adapter": os.path.join(TMP, name + ".out_adapter")}
                   if os.makedirs(os.path.join(TMP, name + ".out_adapter"), exist_ok=True) is None else {},
                   name + ".train")
    check(set(out["grads"]) == set(tgrads), f"{name}: trainable tensors are PEFT's ({len(tgrads)})")
    nt, na = pm.get_nb_trainable_parameters()
    check((out["n_train"], out["n_total"]) == (nt, na),
          f"{name}: parameter counts {out['n_train']}/{out['n_total']} vs PEFT's {nt}/{na}")
    worst = max(maxrel(out["grads"][k], tgrads[k]) for k in tgrads if k in out["grads"])
    check(worst < 1e-4, f"{name}: LoRA + classifier gradients vs PEFT (worst rel diff {worst:.2e})")
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
    # 4. the adapter seqlora wrote, loaded by PEFT
    base = EsmForSequenceClassification.from_pretrained(d) if kind != "ntv2" else None
    if kind == "ntv2":  # rebuild the NT v2 reference module tree, then load the base weights
        _, base = make_base(name + ".rt", kind, L, H, nh, I, V, C, pt, 100 + i)
        base.load_state_dict(load_file(os.path.join(d, "model.safetensors")), strict=False)
    base.eval()
    pl = PeftModel.from_pretrained(base, os.path.join(TMP, name + ".out_adapter"))
    pl.eval()
    with torch.no_grad():
        lg = pl(**{k: v for k, v in torch_batch(batches[0], pt).items() if k != "labels"}).logits
    e = maxrel(out["final_logits"], lg.numpy().ravel())
    check(e < 1e-4, f"{name}: adapter written by seqlora, loaded by PeftModel: logits within {e:.2e}")

# 5. bad input
d, _ = make_base("bad_base", "esm2", 1, 16, 2, 32, 33, 2, "single_label_classification", 7)
b1 = make_batches(1, 2, 6, 33, 2, "single_label_classification", 8)


def bad(name, mutate, want, lora=LORA):
    bd = os.path.join(TMP, name)
    shutil.rmtree(bd, ignore_errors=True)
    shutil.copytree(d, bd)
    mutate(bd)
    rc, o = run_tool({"model_dir": bd, "seed": 1, "lora": lora, "batches": b1}, name, expect_error=True)
    msg = o.get("error", "")
    check(rc == 2 and all(w in msg for w in want), f"bad input {name}: exit {rc}, message: {msg}")


def edit_cfg(**kv):
    def f(bd):
        c = json.load(open(os.path.join(bd, "config.json")))
        c.update(kv)
        json.dump(c, open(os.path.join(bd, "config.json"), "w"))
    return f


def drop_tensor(key):
    def f(bd):
        p = os.path.join(bd, "model.safetensors")
        sd = load_file(p)
        del sd[key]
        save_file(sd, p, metadata={"format": "pt"})
    return f


bad("relative_key", edit_cfg(position_embedding_type="relative_key"), ["position_embedding_type", "relative_key"])
bad("model_type", edit_cfg(model_type="roberta"), ["model_type", "esm"])
bad("missing_tensor", drop_tensor("esm.encoder.layer.0.attention.self.key.weight"),
    ["esm.encoder.layer.0.attention.self.key.weight", "[16, 16]"])
bad("vocab_mismatch", edit_cfg(vocab_size=40), ["esm.embeddings.word_embeddings.weight"])
bad("target_dense", lambda bd: None, ["dense", "classifier"], lora=dict(LORA, targets=["query", "dense"]))

# a PEFT adapter made with target "dense" (PEFT then puts LoRA inside classifier.dense): refused, naming it
_, m_bad = make_base("bad_dense_adapter_base", "esm2", 1, 16, 2, 32, 33, 2, "single_label_classification", 9)
pd = get_peft_model(m_bad, LoraConfig(task_type="SEQ_CLS", r=2, lora_alpha=4, target_modules=["query", "dense"]))
pd_dir = os.path.join(TMP, "bad_dense_adapter")
pd.save_pretrained(pd_dir)
rc, o = run_tool({"model_dir": os.path.join(TMP, "bad_dense_adapter_base"), "seed": 1, "init_adapter": pd_dir,
                  "batches": b1}, "bad_dense_adapter", expect_error=True)
check(rc != 0 and "classifier.dense" in o.get("error", ""),
      f"a PEFT adapter with LoRA inside the classifier is refused: {o.get('error', '').strip()[-200:]}")

print(f"{len(FAILED)} failed" if FAILED else "all ok")
sys.exit(1 if FAILED else 0)
