"""`seqlora train --device/--precision` end to end, on a random tiny BERT (6-mer vocab, dropout on).

Without a GPU (always):
  * --device auto with no usable CUDA module trains on the CPU, prints the one-line note, and is the same
    action as a run without the flag (a cache hit in the same store, byte-identical adapter);
  * --device cuda without a usable module/device: exit 2 with the reason, nothing written;
    --device cpu --precision fp16: exit 2; --device auto --precision bf16 without CUDA is the CPU's bf16 mode
    where the CPU has it (tests/cli/test_cpu_bf16_cli.py checks that mode), else fp32 with a note.
With the emulated CUDA module (SEQLORA_CUDA_EMU = tests/cuda/emu built as a shared object; model.cu/api.cu
on the host), through the real CLI:
  * --device cuda --precision fp32 is a different action from the CPU run (no cache hit: device and
    precision are in the action key of a CUDA run); the adapter's logits (PEFT on PyTorch, the peer) are
    within 1e-4 relative of the CPU-trained adapter's;
  * --precision bf16: within 5e-2 relative (docs/gpu.md); a key different from fp32;
  * a run killed with SIGKILL after a mid-epoch checkpoint resumes on the device and ends with the adapter
    of the uninterrupted emulated run, byte for byte (the emulator is deterministic; a GPU is not: there
    the check is the tolerance).
Exits 1 on any failure."""
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
EMU = os.environ.get("SEQLORA_CUDA_EMU", "")
KIND = os.environ.get("SEQLORA_CUDA_KIND", "emulated")  # bench/gpu/run.sh: "gpu" (EMU = the real module)
TMP = os.environ.get("SEQLORA_TEST_TMP", "/tmp/seqlora_train_device")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


base = os.path.join(TMP, "base")
os.makedirs(base)
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["".join(p) for p in itertools.product("ACGT", repeat=6)]
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
        rows.append(f"s{i}\t{' '.join(s[j:j + 6] for j in range(L - 5))}\t{'case' if s.count('GC') >= 2 else 'control'}")
    open(path, "w").write("\n".join(rows) + "\n")


train, evl = os.path.join(TMP, "train.tsv"), os.path.join(TMP, "eval.tsv")
dataset(train, 48)
dataset(evl, 16)


def seqlora(args, store, module="none", **kw):
    env = dict(os.environ, SEQLORA_CUDA_MODULE=module)
    return subprocess.run([BIN] + args + ["--store", store, "--threads", "1"], capture_output=True, text=True,
                          env=env, **kw)


def train_args(out, extra=()):
    return ["train", "--base", base, "--train", train, "--eval", evl, "-o", out, "--lora-r", "4", "--lora-alpha",
            "8", "--epochs", "2", "--batch-size", "4", "--lr", "5e-3", "--max-length", "32", "--seed", "7",
            "--checkpoint-every", "2", "--patience", "0", "--train-pooler",
            "--target-modules", "query,key,value,intermediate.dense"] + list(extra)


def read(p):
    return open(p, "rb").read()


def ran_step(stderr):
    """The step executed (not a cache hit): the trainer logged its trainable-parameter line."""
    return "trainable params: " in stderr


store = os.path.join(TMP, "store")
# 1. CPU, no flag
cpu = os.path.join(TMP, "cpu")
r = seqlora(train_args(cpu), store)
check(r.returncode == 0 and ran_step(r.stderr), "train without --device exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-1500:]))
if r.returncode:
    sys.exit(1)
# 2. --device auto without a usable CUDA module: the note, the same action (a cache hit), the same bytes
auto = os.path.join(TMP, "auto")
r = seqlora(train_args(auto, ["--device", "auto"]), store)
note = [l for l in r.stderr.splitlines() if "using the CPU" in l]
check(r.returncode == 0 and len(note) == 1 and "SEQLORA_CUDA_MODULE=none" in note[0],
      f"--device auto falls back to the CPU with one note line: {note}")
check(r.returncode == 0 and not ran_step(r.stderr), "--device auto on the CPU is the no-flag run's action (cache hit)")
check(read(os.path.join(cpu, "adapter_model.safetensors")) == read(os.path.join(auto, "adapter_model.safetensors")),
      "--device auto on the CPU: byte-identical adapter")
auto2 = os.path.join(TMP, "auto_fresh")
r = seqlora(train_args(auto2, ["--device", "auto", "--no-cache"]), os.path.join(TMP, "store_auto"))
check(r.returncode == 0 and ran_step(r.stderr) and
      read(os.path.join(cpu, "adapter_model.safetensors")) == read(os.path.join(auto2, "adapter_model.safetensors")),
      "--device auto, fresh store, really trained: byte-identical adapter to the no-flag run")
CPU_BF16 = "bf16: oneDNN" in subprocess.run([BIN, "backends"], capture_output=True, text=True,
                                            env=dict(os.environ, SEQLORA_CUDA_MODULE="none")).stdout
r = seqlora(train_args(os.path.join(TMP, "auto_bf16"), ["--device", "auto", "--precision", "bf16"]), store)
if CPU_BF16:
    check(r.returncode == 0 and "running fp32" not in r.stderr and ran_step(r.stderr),
          "--device auto --precision bf16 without CUDA: the CPU's bf16 mode, its own action (not the fp32 run's)")
else:
    check(r.returncode == 0 and "running fp32" in r.stderr and not ran_step(r.stderr),
          "--device auto --precision bf16 on a CPU without bf16: fp32 with a note, the CPU action")
# 3. refusals
out = os.path.join(TMP, "refused")
r = seqlora(train_args(out, ["--device", "cuda"]), store)
check(r.returncode == 2 and "--device cuda" in r.stderr and "disabled" in r.stderr and not os.path.exists(out),
      f"--device cuda without CUDA: exit {r.returncode}, {r.stderr.strip()[-160:]}")
r = seqlora(train_args(out, ["--device", "cpu", "--precision", "fp16"]), store)
check(r.returncode == 2 and "fp32 or bf16" in r.stderr and not os.path.exists(out),
      f"--device cpu --precision fp16: exit {r.returncode}, {r.stderr.strip()[-160:]}")
r = seqlora(train_args(out, ["--device", "gpu"]), store)
check(r.returncode == 2 and not os.path.exists(out), f"--device gpu: exit {r.returncode}, {r.stderr.strip()[-160:]}")

if not EMU:
    print("NOTE: the emulated-device parts were not run (SEQLORA_CUDA_EMU unset: built without the CUDA toolkit)")
    print("FAILED: %d" % len(FAILED))
    sys.exit(1 if FAILED else 0)

# 4. the emulated device through the CLI
tok = BertTokenizer(os.path.join(base, "vocab.txt"), do_lower_case=False)
seqs = [l.rstrip("\n").split("\t") for l in open(evl)][1:]
enc = tok([s[1] for s in seqs], padding=True, truncation=True, max_length=32, return_tensors="pt")


def peft_logits(adapter):
    m = PeftModel.from_pretrained(BertForSequenceClassification.from_pretrained(base), adapter).eval()
    with torch.no_grad():
        return m(**enc).logits.double().numpy()


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


ref = peft_logits(cpu)
emu = {}
for prec, tol in (("fp32", 1e-4), ("bf16", 5e-2), ("fp16", 5e-2)):
    d = os.path.join(TMP, "emu_" + prec)
    r = seqlora(train_args(d, ["--device", "cuda", "--precision", prec]), store, EMU)
    check(r.returncode == 0 and ran_step(r.stderr) and "training on cuda:0 (%s)" % prec in r.stderr,
          f"--device cuda --precision {prec} ({KIND}) trains, not a cache hit of the CPU run" +
          ("" if r.returncode == 0 else ": " + r.stderr[-1500:]))
    if r.returncode:
        continue
    emu[prec] = d
    cfg_same = read(os.path.join(cpu, "adapter_config.json")) == read(os.path.join(d, "adapter_config.json"))
    e = rel(peft_logits(d), ref)
    check(cfg_same and e <= tol, f"{prec} {KIND} adapter vs CPU adapter: PEFT logits relative L2 {e:.2e} <= {tol:g}")
    lc = [json.loads(x) for x in open(os.path.join(cpu, "metrics.jsonl"))]
    le = [json.loads(x) for x in open(os.path.join(d, "metrics.jsonl"))]
    dl = max(abs(a["train_loss"] - b["train_loss"]) / a["train_loss"] for a, b in zip(lc, le))
    check(len(lc) == len(le) and dl <= tol, f"{prec}: per-epoch train loss vs CPU, max relative diff {dl:.2e}")
for prec in ("bf16", "fp16"):
    differ = "fp32" in emu and prec in emu and read(os.path.join(emu["fp32"], "adapter_model.safetensors")) != read(
        os.path.join(emu[prec], "adapter_model.safetensors"))
    check(differ, f"{prec} really ran in {prec}: its adapter bytes differ from the fp32 device run's")

# 4a. (ESM and DNABERT-2 bases on the device: tests/cuda/test_families_device.py)

# 4b. predict on the emulated device: the CPU's probabilities within tolerance, its own action
def probs(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    return rows[0], np.array([[float(x) for x in row[2:]] for row in rows[1:]])


pc = os.path.join(TMP, "pred_cpu.tsv")
r = seqlora(["predict", "--base", base, "--adapter", cpu, "--input", evl, "-o", pc], store)
check(r.returncode == 0, "predict on the CPU exits 0" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
pa = os.path.join(TMP, "pred_auto.tsv")
r = seqlora(["predict", "--base", base, "--adapter", cpu, "--input", evl, "-o", pa, "--device", "auto"], store)
check(r.returncode == 0 and "using the CPU" in r.stderr and read(pa) == read(pc),
      "predict --device auto without CUDA: the note and the CPU bytes")
r = seqlora(["predict", "--base", base, "--adapter", cpu, "--input", evl, "-o", pa, "--device", "cuda"], store)
check(r.returncode == 2, f"predict --device cuda without CUDA: exit {r.returncode}")
hc, yc = probs(pc)
for prec, tol in (("fp32", 1e-4), ("bf16", 2e-2)):
    pd = os.path.join(TMP, f"pred_emu_{prec}.tsv")
    r = seqlora(["predict", "--base", base, "--adapter", cpu, "--input", evl, "-o", pd, "--device", "cuda",
                 "--precision", prec], store, EMU)
    ok = r.returncode == 0
    check(ok, f"predict --device cuda --precision {prec} ({KIND}) exits 0" + ("" if ok else ": " + r.stderr[-800:]))
    if ok:
        hd, yd = probs(pd)
        d = float(np.max(np.abs(yd - yc)))
        check(hd == hc and yd.shape == yc.shape and d <= tol,
              f"predict {prec} on the {KIND} device vs the CPU: max|prob diff| {d:.2e} <= {tol:g}")
        check(read(pd) != read(pc), f"predict {prec} on the device is its own action (not the CPU's cached bytes)")

# 4c. evaluate --base predicts first: on the emulated device, the CPU's metrics within tolerance
def ev(out, extra, module="none"):
    return seqlora(["evaluate", "--base", base, "--adapter", cpu, "--dataset", evl, "-o", out, "--bootstrap", "0"]
                   + extra, store, module)


r = ev(os.path.join(TMP, "ev_cpu"), [])
r2 = ev(os.path.join(TMP, "ev_emu"), ["--device", "cuda"], EMU)
check(r.returncode == 0 and r2.returncode == 0, f"evaluate --base on the CPU and --device cuda ({KIND}) exit 0" +
      ("" if r.returncode == 0 and r2.returncode == 0 else ": " + (r.stderr + r2.stderr)[-800:]))
if r.returncode == 0 and r2.returncode == 0:
    mc = json.load(open(os.path.join(TMP, "ev_cpu", "metrics.json")))["metrics"]
    me = json.load(open(os.path.join(TMP, "ev_emu", "metrics.json")))["metrics"]
    num = [k for k, v in mc.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    d = max((abs(mc[k] - me.get(k, float("inf"))) for k in num), default=float("inf"))
    check(len(num) > 0 and d <= 1e-4, f"evaluate --device cuda vs CPU: {len(num)} metrics, max |diff| {d:.2e} <= 1e-4")
    _, ye = probs(os.path.join(TMP, "ev_emu", "predictions.tsv"))
    check(read(os.path.join(TMP, "ev_emu", "predictions.tsv")) != read(pc) and float(np.max(np.abs(ye - yc))) <= 1e-4,
          "evaluate --device cuda predicted on the device (its own bytes, the CPU's within 1e-4)")
r = seqlora(["evaluate", "--predictions", pc, "-o", os.path.join(TMP, "ev_bad"), "--device", "cuda"], store)
check(r.returncode == 2 and "--base only" in r.stderr, f"evaluate --predictions --device: exit {r.returncode}")

# 5. kill -9 on the emulated device after a mid-epoch checkpoint, rerun: the uninterrupted run's bytes
if "fp32" in emu:
    store5 = os.path.join(TMP, "store5")
    a5 = os.path.join(TMP, "emu_resumed")
    env = dict(os.environ, SEQLORA_CUDA_MODULE=EMU)
    p = subprocess.Popen([BIN] + train_args(a5, ["--device", "cuda"]) + ["--threads", "1", "--store", store5],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    killed_at = None
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None and killed_at is None:
        for root, _, files in os.walk(store5):
            if "checkpoint.bin" in files:
                try:
                    hdr = open(os.path.join(root, "checkpoint.bin"), "rb").read(72)
                    epoch, batch, step = struct.unpack("<qqq", hdr[48:72])
                except (OSError, struct.error):
                    continue
                if batch > 0 or epoch > 0:
                    os.kill(p.pid, signal.SIGKILL)
                    killed_at = (epoch, batch, step)
        time.sleep(0.005)
    p.wait()
    check(killed_at is not None and not os.path.exists(os.path.join(a5, "adapter_model.safetensors")),
          f"{KIND} run killed with SIGKILL after a checkpoint (epoch, batch, step) = {killed_at}, nothing published")
    r = seqlora(train_args(a5, ["--device", "cuda"]), store5, EMU)
    check(r.returncode == 0 and "resuming from" in r.stderr, f"rerun on the {KIND} device resumes from the checkpoint")
    same = r.returncode == 0 and all(read(os.path.join(emu["fp32"], f)) == read(os.path.join(a5, f))
                                     for f in ("adapter_model.safetensors", "metrics.jsonl"))
    check(same, f"resumed {KIND} run: byte-identical adapter and metrics.jsonl to the uninterrupted {KIND} run")

print("FAILED: %d" % len(FAILED))
sys.exit(1 if FAILED else 0)
