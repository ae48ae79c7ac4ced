"""seqlora pretrain against transformers' BertForMaskedLM and torch.optim.AdamW.

Run by ctest as: python test_pretrain.py <pretrain_tool>. Checks, each able to fail:
  1. one masked batch (with padding, [MASK] and random replacements, labels -100 elsewhere) on a random
     BertForMaskedLM saved by transformers: the MLM loss and the gradient of EVERY weight (embeddings incl.
     the tied decoder, every Linear and LayerNorm, the MLM head) equal torch's within 1e-4 relative;
  2. five AdamW steps (betas 0.9/0.98, eps 1e-6, decay except biases/LayerNorm, clip 1.0): the loss before
     each step equals torch's within 1e-4 relative;
  3. the masking: spans of k consecutive tokens, ~mlm_probability of the maskable tokens, 80/10/10,
     specials and padding never targets;
  4. `seqlora pretrain` on the bundled BRCA1 sequence writes a directory BertForMaskedLM.from_pretrained
     loads with no missing/unexpected keys and the same MLM logits as the C engine (1e-4), the loss falls,
     and `seqlora train --base` accepts it;
  5. 1 vs 2 threads give byte-identical model.safetensors, and so do a gzipped FASTA and a run killed
     (SIGKILL) mid-way and rerun (resumed from its checkpoint). Exits 1 on any failure."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertForMaskedLM

TOOL = sys.argv[1]
BIN = os.environ.get("SEQLORA_BIN")
SRC = os.environ.get("SEQLORA_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = os.environ.get("SEQLORA_TEST_TMP") or tempfile.mkdtemp()
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP, exist_ok=True)
torch.set_num_threads(1)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def write_batch(path, ids, mask, labels):
    B, T = ids.shape
    with open(path, "w") as f:
        f.write(f"{B} {T}\n")
        for arr in (ids, mask, labels):
            f.write(" ".join(str(int(x)) for x in arr.reshape(-1)) + "\n")


# ---- 1 + 2: gradients and AdamW steps ------------------------------------------------------------
V, H = 69, 32  # k = 3: 5 specials + 64 k-mers
torch.manual_seed(7)
cfg = BertConfig(vocab_size=V, hidden_size=H, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                 max_position_embeddings=40, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
model = BertForMaskedLM(cfg)
with torch.no_grad():  # make LayerNorms and biases non-trivial (they start at 1 / 0)
    for n, p in model.named_parameters():
        if "LayerNorm" in n or n.endswith("bias"):
            p.add_(torch.randn_like(p) * 0.1)
mdir = os.path.join(TMP, "mlm_model")
model.save_pretrained(mdir)
rng = np.random.default_rng(3)
B, T = 3, 24
ids = rng.integers(5, V, size=(B, T))
ids[:, 0] = 2
mask = np.ones((B, T), dtype=np.int64)
ids[0, T - 1] = 3
ids[1, 15] = 3
ids[1, 16:] = 0
mask[1, 16:] = 0
ids[2, T - 1] = 3
labels = np.full((B, T), -100)
for b, t in [(0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (0, 8), (1, 1), (1, 2), (1, 9), (2, 10), (2, 11), (2, 20)]:
    labels[b, t] = ids[b, t]
    r = rng.random()
    ids[b, t] = 4 if r < 0.6 else (rng.integers(5, V) if r < 0.8 else ids[b, t])
bpath = os.path.join(TMP, "batch.txt")
write_batch(bpath, ids, mask, labels)

STEPS, LR, WD, CLIP = 5, 1e-3, 0.01, 1.0
gpath = os.path.join(TMP, "grads.safetensors")
out = subprocess.run([TOOL, "grads", mdir, bpath, str(STEPS), str(LR), str(WD), str(CLIP), gpath],
                     capture_output=True, text=True)
check(out.returncode == 0, "pretrain_tool grads ran: " + out.stderr.strip()[-300:])
c_losses = [float(x) for x in out.stdout.split()]

tm = BertForMaskedLM.from_pretrained(mdir)
tm.train()
ti, tmask, tl = (torch.tensor(x) for x in (ids, mask, labels))
decay = [p for n, p in tm.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
nodecay = [p for n, p in tm.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": nodecay, "weight_decay": 0.0}],
                        lr=LR, betas=(0.9, 0.98), eps=1e-6)
t_losses = []
for step in range(STEPS):
    opt.zero_grad()
    loss = tm(input_ids=ti, attention_mask=tmask, labels=tl).loss
    loss.backward()
    t_losses.append(loss.item())
    if step == 0 and os.path.exists(gpath):
        cg = load_file(gpath)
        names = dict(tm.named_parameters())  # tied decoder weight / bias appear once
        seen = set()
        # the error is relative to the tensor's largest gradient, floored at 1e-3 of the largest gradient of
        # the model: the key biases' gradient is exactly 0 in exact arithmetic (softmax is invariant to the
        # q.b_k shift), so both sides hold rounding noise (~1e-13) there
        gmax = max(float(p.grad.abs().max()) for p in names.values())
        for n, p in names.items():
            check(n in cg, f"gradient of {n} written")
            if n in cg:
                seen.add(n)
                g = p.grad.numpy().astype(np.float64)
                e = float(np.max(np.abs(cg[n].numpy() - g)) / max(np.max(np.abs(g)), 1e-3 * gmax))
                check(e < 1e-4, f"gradient {n}: rel err {e:.2e}")
        extra = set(cg) - seen
        check(not extra, f"no gradient without a torch parameter ({sorted(extra)[:3]})")
    torch.nn.utils.clip_grad_norm_(tm.parameters(), CLIP)
    opt.step()
check(len(c_losses) == STEPS, f"{STEPS} losses from the C engine")
if len(c_losses) == STEPS:
    e = rel(c_losses, t_losses)
    check(e < 1e-4, f"loss over {STEPS} AdamW steps: C {c_losses[0]:.5f}->{c_losses[-1]:.5f}, "
          f"torch {t_losses[0]:.5f}->{t_losses[-1]:.5f}, rel err {e:.2e}")
    check(t_losses[-1] < t_losses[0] - 1e-3, "the steps do move the loss (the comparison is not vacuous)")

# ---- 3: masking ------------------------------------------------------------------------------------
# 6-mer vocabulary layout: 0 [PAD] 1 [UNK] 2 [CLS] 3 [SEP] 4 [MASK], k-mers 5..4100
Bm, Tm = 16, 200
mids = rng.integers(5, 4101, size=(Bm, Tm))
mids[:, 0] = 2
mmask = np.ones((Bm, Tm), dtype=np.int64)
mids[:, Tm - 1] = 3
mids[3, 150] = 3
mids[3, 151:] = 0
mmask[3, 151:] = 0
mids[5, 40] = 1  # an [UNK] k-mer
mpath = os.path.join(TMP, "mask_batch.txt")
write_batch(mpath, mids, mmask, np.full((Bm, Tm), -100))
tot_t = tot_m = tot_r = tot_k = 0
maskable = int(((mids >= 5) & (mmask == 1)).sum())
spans_ok = True
for micro in range(20):
    out = subprocess.run([TOOL, "mask", mpath, "6", "0.15", "42", str(micro), "4", "5", "4101", "x"],
                         capture_output=True, text=True, check=True)
    lines = out.stdout.split("\n")
    o = np.array(lines[0].split(), dtype=np.int64).reshape(Bm, Tm)
    lab = np.array(lines[1].split(), dtype=np.int64).reshape(Bm, Tm)
    tgt = lab != -100
    tot_t += int(tgt.sum())
    if np.any(tgt & ((mids < 5) | (mmask == 0))):
        spans_ok = False
    if np.any(lab[tgt] != mids[tgt]) or np.any(o[~tgt] != mids[~tgt]):
        spans_ok = False
    tot_m += int((o[tgt] == 4).sum())
    tot_k += int((o[tgt] == mids[tgt]).sum())
    tot_r += int(((o[tgt] != 4) & (o[tgt] != mids[tgt])).sum())
    # every run of targets away from the ends is a union of 6-token spans: no isolated run shorter than 6
    for b in range(Bm):
        t = 1
        while t < Tm:
            if tgt[b, t]:
                e = t
                while e < Tm and tgt[b, e]:
                    e += 1
                if e - t < 6 and t > 3 and e < Tm - 3 and mids[b, t - 1] >= 5 and mids[b, e] >= 5 and \
                        mmask[b, e] == 1 and not np.any(mids[b, max(0, t - 3):e + 3] < 5):
                    spans_ok = False
                t = e
            else:
                t += 1
frac = tot_t / (maskable * 20)
check(spans_ok, "masking: targets only on k-mer tokens, labels = originals, spans of 6 consecutive tokens")
check(0.11 < frac < 0.16, f"masking: {frac:.3f} of the maskable tokens are targets (mlm_probability 0.15, "
      "spans overlap)")
check(abs(tot_m / tot_t - 0.8) < 0.03 and abs(tot_r / tot_t - 0.1) < 0.03 and abs(tot_k / tot_t - 0.1) < 0.03,
      f"masking: [MASK] {tot_m / tot_t:.3f}, random {tot_r / tot_t:.3f}, kept {tot_k / tot_t:.3f} (0.8/0.1/0.1)")

# ---- 4: the CLI, the checkpoint transformers loads, seqlora train --base -------------------------
FA = os.path.join(SRC, "data", "GRCh37_chr17_41100001-41300000.fa")
cfgp = os.path.join(TMP, "bert_config.json")
json.dump({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
           "max_position_embeddings": 128, "initializer_range": 0.02}, open(cfgp, "w"))
ARGS = ["pretrain", "--fasta", FA, "--config", cfgp, "--window", "64", "--windows-per-epoch", "48",
        "--epochs", "3", "--batch-size", "8", "--lr", "2e-3", "--checkpoint-every", "4", "--quiet"]


def pretrain(store, outdir, threads, extra=()):
    return subprocess.run([BIN] + ARGS + ["--store", store, "--threads", str(threads), "-o", outdir] + list(extra),
                          capture_output=True, text=True)


o1 = os.path.join(TMP, "pt1")
r = pretrain(os.path.join(TMP, "store1"), o1, 1)
check(r.returncode == 0, "seqlora pretrain ran: " + r.stderr.strip()[-300:])
if r.returncode == 0:
    ep = [json.loads(l) for l in open(os.path.join(o1, "metrics.jsonl"))]
    check(len(ep) == 3 and ep[-1]["mlm_loss"] < ep[0]["mlm_loss"] - 0.02,
          f"MLM loss falls over 3 epochs: {[round(e['mlm_loss'], 4) for e in ep]}")
    cfg_out = json.load(open(os.path.join(o1, "config.json")))
    check(cfg_out.get("architectures") == ["BertForMaskedLM"], "config.json says BertForMaskedLM")
    m2, info = BertForMaskedLM.from_pretrained(o1, output_loading_info=True)
    check(not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"],
          f"from_pretrained: no missing/unexpected keys ({info})")
    m2.eval()
    sd = load_file(os.path.join(o1, "model.safetensors"))
    check("cls.predictions.decoder.weight" not in sd, "the tied decoder is not stored twice (as transformers saves)")
    Bq, Tq = 2, 30
    qi = np.random.default_rng(9).integers(5, 4101, size=(Bq, Tq))
    qi[:, 0] = 2
    qi[:, -1] = 3
    qi[1, 5] = 4
    qm = np.ones((Bq, Tq), dtype=np.int64)
    qi[1, 20:] = 0
    qi[1, 19] = 3
    qm[1, 20:] = 0
    qpath = os.path.join(TMP, "logits_batch.txt")
    write_batch(qpath, qi, qm, np.full((Bq, Tq), -100))
    lpath = os.path.join(TMP, "logits.f32")
    r = subprocess.run([TOOL, "logits", o1, qpath, lpath], capture_output=True, text=True)
    check(r.returncode == 0, "pretrain_tool logits ran " + r.stderr[-200:])
    if r.returncode == 0:
        cl = np.fromfile(lpath, dtype=np.float32).reshape(Bq, Tq, -1)
        with torch.no_grad():
            tl_ = m2(input_ids=torch.tensor(qi), attention_mask=torch.tensor(qm)).logits.numpy()
        keep = qm.astype(bool)
        e = rel(cl[keep], tl_[keep])
        check(e < 1e-4, f"MLM logits of the written checkpoint: C engine vs transformers rel err {e:.2e}")
        # an old-style checkpoint (LayerNorm gamma/beta names) gives the same logits
        from safetensors.torch import save_file
        o_old = os.path.join(TMP, "pt1_old")
        shutil.copytree(o1, o_old)
        ren = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
               for k, v in sd.items()}
        save_file(ren, os.path.join(o_old, "model.safetensors"), metadata={"format": "pt"})
        lpath2 = os.path.join(TMP, "logits_old.f32")
        r = subprocess.run([TOOL, "logits", o_old, qpath, lpath2], capture_output=True, text=True)
        check(r.returncode == 0 and open(lpath2, "rb").read() == open(lpath, "rb").read(),
              "gamma/beta LayerNorm names (old checkpoints): the same head and logits " + r.stderr[-200:])
    # seqlora train --base accepts it
    seq = "".join(l.strip() for l in open(FA) if not l.startswith(">")).upper()[:20000]
    rows = ["id\tsequence\tlabel"]
    for i in range(16):
        s = seq[i * 300:i * 300 + 40]
        rows.append(f"s{i}\t{' '.join(s[j:j + 6] for j in range(len(s) - 5))}\t{'a' if i % 2 else 'b'}")
    tsv = os.path.join(TMP, "train.tsv")
    open(tsv, "w").write("\n".join(rows) + "\n")
    r = subprocess.run([BIN, "train", "--base", o1, "--train", tsv, "-o", os.path.join(TMP, "adapter"), "--epochs",
                        "1", "--batch-size", "8", "--store", os.path.join(TMP, "store1"), "--quiet"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "seqlora train --base <pretrained dir> ran: " + r.stderr.strip()[-300:])

    # ---- 5: thread count and kill -9 resume do not change the bytes -------------------------------
    ref = open(os.path.join(o1, "model.safetensors"), "rb").read()
    o2 = os.path.join(TMP, "pt2")
    r = pretrain(os.path.join(TMP, "store2"), o2, 2)
    check(r.returncode == 0 and open(os.path.join(o2, "model.safetensors"), "rb").read() == ref,
          "2 threads: byte-identical model.safetensors")
    import gzip
    fgz = os.path.join(TMP, "brca1.fa.gz")
    with open(FA, "rb") as fi, gzip.open(fgz, "wb") as fo:
        fo.write(fi.read())
    o4 = os.path.join(TMP, "pt4")
    r = subprocess.run([BIN] + ARGS[:2] + [fgz] + ARGS[3:] + ["--store", os.path.join(TMP, "store4"), "--threads",
                                                               "1", "-o", o4], capture_output=True, text=True)
    check(r.returncode == 0 and open(os.path.join(o4, "model.safetensors"), "rb").read() == ref,
          "gzip-compressed FASTA: byte-identical model.safetensors")
    store3, o3 = os.path.join(TMP, "store3"), os.path.join(TMP, "pt3")
    p = subprocess.Popen([BIN] + ARGS + ["--store", store3, "--threads", "1", "-o", o3],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = False
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:  # wait for the first checkpoint, then SIGKILL
        ck = [os.path.join(d, f) for d, _, fs in os.walk(store3) for f in fs if f == "checkpoint.bin"]
        if ck:
            p.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    p.wait()
    check(killed, "the run was killed after its first checkpoint (not finished before)")
    # without --quiet: the resume note is an info line, which --quiet silences
    r = subprocess.run([BIN] + [a for a in ARGS if a != "--quiet"] + ["--store", store3, "--threads", "1", "-o", o3,
                                                                     "--json"], capture_output=True, text=True)
    check(r.returncode == 0 and open(os.path.join(o3, "model.safetensors"), "rb").read() == ref,
          "killed with SIGKILL and rerun: byte-identical model.safetensors")
    check("resumed at step" in r.stderr, "the rerun resumed from the checkpoint (did not start over): " +
          r.stderr.strip()[-200:])
    bad = os.path.join(TMP, "bad.fa")
    open(bad, "w").write("ACGT\n>x\nAC-GT\n")
    r = subprocess.run([BIN] + ARGS[:2] + [bad] + ARGS[3:] + ["--store", store3, "-o", os.path.join(TMP, "bad")],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "bad.fa:1" in r.stderr and not os.path.exists(os.path.join(TMP, "bad")),
          "a malformed FASTA is refused with file:line, nothing written: " + r.stderr.strip()[-200:])

if FAILED:
    print(f"{len(FAILED)} check(s) failed")
    sys.exit(1)
print("all checks passed")
