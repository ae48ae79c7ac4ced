"""`--precision bf16` on the CPU (oneDNN, AVX512-BF16/AMX) through the real CLI, on random tiny BERTs.

  * train: `--device cpu --precision bf16` trains (its own action: not a cache hit of the fp32 run, and
    `--device auto --precision bf16` without CUDA is the same action, a cache hit); the adapter bytes differ
    from the fp32 adapter's (bf16 really ran) while PEFT's logits of the two adapters (PyTorch fp32, the
    peer) agree within 1e-3 relative L2 (measured 1.5e-5 on this model); per-epoch train loss within 1e-3
    relative (measured 6e-7); 1 and 2 threads give the same adapter bytes;
  * predict / evaluate --base: probabilities within 2e-2 of the fp32 run's and not equal, their own action;
  * score and serve on a bundle: score bf16 within 2e-2 of score fp32 and not equal; serve --precision bf16
    reports bf16 in /healthz and returns score bf16's probabilities (within 1e-5; the batch composition may
    differ between the two);
  * fp16 on the CPU: exit 2 naming --precision, nothing written;
  * fp32 (any machine): predictions with oneDNN's fp32 GEMMs (where `seqlora backends` says so) and with
    SEQLORA_GEMM=openblas agree within 1e-6 and differ in the last bits only when oneDNN ran.
Where this build or CPU has no bf16 path (`seqlora backends` says why), the refusal is checked (exit 2 naming
the reason, nothing written) and the test exits 77 (Skipped). Exits 1 on any failure."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import torch
from peft import PeftModel
from transformers import BertForSequenceClassification, BertTokenizer

SRC = os.environ["SEQLORA_SOURCE_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests", "package"))
from common import make_model, maxdiff, probs, random_dna  # noqa: E402

BIN = os.environ["SEQLORA_BIN"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp"), "cpu_bf16_cli")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def seqlora(args, store, threads=1):
    return subprocess.run([BIN] + args + ["--store", store, "--threads", str(threads)], capture_output=True,
                          text=True, env=dict(os.environ, SEQLORA_CUDA_MODULE="none"))


def read(p):
    return open(p, "rb").read()


def ran_step(stderr):
    return "trainable params: " in stderr


rng = np.random.default_rng(5)
base, adapter = make_model(os.path.join(TMP, "model"))


def dataset(path, n):
    rows = ["id\tsequence\tlabel"]
    for i in range(n):
        s = random_dna(rng, 1, 14, 40)[0]
        rows.append(f"s{i}\t{' '.join(s[j:j + 6] for j in range(len(s) - 5))}\t"
                    f"{'pathogenic' if s.count('GC') >= 2 else 'benign'}")
    open(path, "w").write("\n".join(rows) + "\n")


train, evl = os.path.join(TMP, "train.tsv"), os.path.join(TMP, "eval.tsv")
dataset(train, 48)
dataset(evl, 24)
store = os.path.join(TMP, "store")
backends = subprocess.run([BIN, "backends"], capture_output=True, text=True,
                          env=dict(os.environ, SEQLORA_CUDA_MODULE="none")).stdout
HAVE = "bf16: oneDNN" in backends


def train_args(out, extra=()):
    # no --eval: the best-epoch choice (an AUC tie broken by the last bits) would compare different epochs
    return ["train", "--base", base, "--train", train, "-o", out, "--lora-r", "4", "--lora-alpha",
            "8", "--epochs", "2", "--batch-size", "4", "--lr", "5e-3", "--max-length", "40", "--seed", "7",
            "--patience", "0", "--target-modules", "query,key,value,intermediate.dense"] + list(extra)


# refusals first (any machine): fp16 on the CPU; bf16 where the CPU has no bf16 path
out = os.path.join(TMP, "refused")
r = seqlora(train_args(out, ["--device", "cpu", "--precision", "fp16"]), os.path.join(TMP, "store_refused"))
check(r.returncode == 2 and "--precision fp16" in r.stderr and not os.path.exists(out)
      and not os.path.exists(os.path.join(TMP, "store_refused")),
      f"train --device cpu --precision fp16: exit 2 naming the option, nothing written ({r.returncode})")
# fp32 GEMM library (any machine): oneDNN where `backends` says so, OpenBLAS with SEQLORA_GEMM=openblas; the
# two agree to rounding, and differ in the last bits exactly when oneDNN's fp32 path is active
p_def, p_blas = os.path.join(TMP, "pred_fp32_default.tsv"), os.path.join(TMP, "pred_fp32_openblas.tsv")
r1 = seqlora(["predict", "--base", base, "--adapter", adapter, "--input", evl, "-o", p_def, "--no-cache"], store)
r2 = subprocess.run([BIN, "predict", "--base", base, "--adapter", adapter, "--input", evl, "-o", p_blas, "--no-cache",
                     "--store", store, "--threads", "1"], capture_output=True, text=True,
                    env=dict(os.environ, SEQLORA_CUDA_MODULE="none", SEQLORA_GEMM="openblas"))
if r1.returncode == 0 and r2.returncode == 0:
    onednn_fp32 = "fp32 GEMMs: oneDNN" in backends
    d = maxdiff(probs(p_def)[1], probs(p_blas)[1])
    check(d <= 1e-6 and (d > 0) == onednn_fp32,
          f"fp32 predict, default ({'oneDNN' if onednn_fp32 else 'OpenBLAS'}) vs SEQLORA_GEMM=openblas: max |diff| "
          f"{d:.2e} (<= 1e-6, and > 0 exactly when oneDNN runs the fp32 GEMMs)")
else:
    check(False, "fp32 predict with both GEMM libraries: " + (r1.stderr + r2.stderr)[-500:])
if not HAVE:
    why = backends.splitlines()[0] if backends else ""
    r = seqlora(train_args(out, ["--device", "cpu", "--precision", "bf16"]), os.path.join(TMP, "store_refused"))
    check(r.returncode == 2 and "--precision bf16 on the CPU" in r.stderr and not os.path.exists(out),
          f"train --device cpu --precision bf16 where unsupported: exit 2 with the reason ({r.stderr.strip()[-200:]})")
    if FAILED:
        sys.exit(1)
    print(f"SKIPPED: no bf16 on this CPU/build ({why})")
    sys.exit(77)

# ---- train ----------------------------------------------------------------------------------------------------
fp32 = os.path.join(TMP, "fp32")
r = seqlora(train_args(fp32), store)
check(r.returncode == 0, "train fp32" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
bf16 = os.path.join(TMP, "bf16")
r = seqlora(train_args(bf16, ["--device", "cpu", "--precision", "bf16"]), store)
check(r.returncode == 0 and ran_step(r.stderr),
      "train --device cpu --precision bf16: trains, not a cache hit of the fp32 run"
      + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
if r.returncode:
    sys.exit(1)
r = seqlora(train_args(os.path.join(TMP, "bf16_auto"), ["--device", "auto", "--precision", "bf16"]), store)
check(r.returncode == 0 and not ran_step(r.stderr) and
      read(os.path.join(bf16, "adapter_model.safetensors")) ==
      read(os.path.join(TMP, "bf16_auto", "adapter_model.safetensors")),
      "--device auto --precision bf16 without CUDA: the same action as --device cpu --precision bf16 (cache hit)")
r = seqlora(train_args(os.path.join(TMP, "bf16_t2"), ["--precision", "bf16", "--no-cache"]),
            os.path.join(TMP, "store_t2"), threads=2)
check(r.returncode == 0 and ran_step(r.stderr) and read(os.path.join(bf16, "adapter_model.safetensors")) ==
      read(os.path.join(TMP, "bf16_t2", "adapter_model.safetensors")),
      "train bf16 with 2 threads: the 1-thread adapter, byte for byte")
check(read(os.path.join(fp32, "adapter_model.safetensors")) != read(os.path.join(bf16, "adapter_model.safetensors")),
      "the bf16 adapter's bytes differ from the fp32 adapter's (bf16 really ran)")
tok = BertTokenizer(os.path.join(base, "vocab.txt"), do_lower_case=False)
seqs = [l.rstrip("\n").split("\t") for l in open(evl)][1:]
enc = tok([s[1] for s in seqs], padding=True, truncation=True, max_length=40, return_tensors="pt")


def peft_logits(ad):
    m = PeftModel.from_pretrained(BertForSequenceClassification.from_pretrained(base), ad).eval()
    with torch.no_grad():
        return m(**enc).logits.double().numpy()


ref = peft_logits(fp32)
e = float(np.linalg.norm(peft_logits(bf16) - ref) / np.linalg.norm(ref))
check(e <= 1e-3, f"PEFT (PyTorch fp32) logits of the bf16-trained adapter vs the fp32-trained one: relative L2 "
                 f"{e:.2e} <= 1e-3")
lf = [json.loads(x) for x in open(os.path.join(fp32, "metrics.jsonl"))]
lb = [json.loads(x) for x in open(os.path.join(bf16, "metrics.jsonl"))]
dl = max(abs(a["train_loss"] - b["train_loss"]) / a["train_loss"] for a, b in zip(lf, lb))
check(len(lf) == len(lb) == 2 and dl <= 1e-3, f"per-epoch train loss bf16 vs fp32: max relative diff {dl:.2e}")

# ---- predict / evaluate ---------------------------------------------------------------------------------------
pf, pb = os.path.join(TMP, "pred_fp32.tsv"), os.path.join(TMP, "pred_bf16.tsv")
r1 = seqlora(["predict", "--base", base, "--adapter", adapter, "--input", evl, "-o", pf], store)
r2 = seqlora(["predict", "--base", base, "--adapter", adapter, "--input", evl, "-o", pb, "--precision", "bf16"],
             store)
ok = r1.returncode == 0 and r2.returncode == 0
check(ok, "predict fp32 and bf16 exit 0" + ("" if ok else ": " + (r1.stderr + r2.stderr)[-800:]))
if ok:
    d = maxdiff(probs(pf)[1], probs(pb)[1])
    check(0 < d <= 2e-2, f"predict --precision bf16 vs fp32: max |diff| of probabilities {d:.2e} (0 < d <= 2e-2)")
    check("cached:" not in r2.stderr, "predict bf16 is its own action (not the fp32 run's cached file)")
ev = os.path.join(TMP, "eval_bf16")
r = seqlora(["evaluate", "--base", base, "--adapter", adapter, "--dataset", evl, "-o", ev, "--precision", "bf16"],
            store)
check(r.returncode == 0 and os.path.exists(os.path.join(ev, "metrics.json")),
      "evaluate --base --precision bf16 exits 0 with metrics.json" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))

# ---- score / serve on a bundle ---------------------------------------------------------------------------------
bundle = os.path.join(TMP, "bundle.tar.gz")
r = seqlora(["package", "--base", base, "--adapter", adapter, "-o", bundle, "--embed-base"], store)
check(r.returncode == 0, "package" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
qs = random_dna(rng, 12, 20, 40) + random_dna(rng, 6, 70, 200)
fasta = os.path.join(TMP, "q.fa")
with open(fasta, "w") as f:
    f.write("".join(f">q{i}\n{s}\n" for i, s in enumerate(qs)))
sf, sb = os.path.join(TMP, "score_fp32.tsv"), os.path.join(TMP, "score_bf16.tsv")
r1 = seqlora(["score", "--model", bundle, "--input", fasta, "-o", sf], store)
r2 = seqlora(["score", "--model", bundle, "--input", fasta, "-o", sb, "--precision", "bf16"], store)
ok = r1.returncode == 0 and r2.returncode == 0
check(ok, "score fp32 and bf16 exit 0" + ("" if ok else ": " + (r1.stderr + r2.stderr)[-800:]))
if ok:
    hdr, score_bf16 = probs(sb)
    d = maxdiff(probs(sf)[1], score_bf16)
    check(0 < d <= 2e-2, f"score --precision bf16 vs fp32: max |diff| {d:.2e} (0 < d <= 2e-2), {len(score_bf16)} "
                         f"sequences of one and several windows")
    log = open(os.path.join(TMP, "serve.log"), "w+")
    p = subprocess.Popen([BIN, "serve", "--model", bundle, "--port", "0", "--threads", "1", "--precision", "bf16"],
                         stdout=subprocess.PIPE, stderr=log, text=True, env=dict(os.environ, SEQLORA_CUDA_MODULE="none"))
    url = p.stdout.readline().strip()
    if url.startswith("http://"):
        port = int(url.rsplit(":", 1)[1])

        def req(method, path, body=None):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Content-Type": "application/json"})
            resp = c.getresponse()
            out = resp.status, json.loads(resp.read().decode())
            c.close()
            return out

        st, h = req("GET", "/healthz")
        check(st == 200 and h.get("device") == "cpu" and h.get("precision") == "bf16",
              f"serve --precision bf16: /healthz says {h}")
        st, j = req("POST", "/v1/predict", {"sequences": [{"id": f"q{i}", "sequence": s} for i, s in enumerate(qs)]})
        got = {}
        if st == 200:
            for res in j["results"]:
                got[res["id"]] = np.array([res["probabilities"][k] for k in sorted(res["probabilities"])])
        order = np.argsort([c[len("prob_"):] for c in hdr if c.startswith("prob_")])
        d = maxdiff({k: v[order] for k, v in score_bf16.items()}, got)
        check(st == 200 and d <= 1e-5, f"serve bf16 /v1/predict vs score bf16: max |diff| {d:.2e} (<= 1e-5)")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=120)
    log.seek(0)
    check(url.startswith("http://") and rc == 0, f"serve --precision bf16 starts and stops cleanly (exit {rc}): "
                                                 f"{log.read()[-300:] if rc else ''}")

print("FAILED:" if FAILED else "all passed", *FAILED, sep="\n  ")
sys.exit(1 if FAILED else 0)
