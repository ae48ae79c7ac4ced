"""Inference on the CUDA backend: `score`, `predict --model` and `serve` with --device/--precision, through the
emulated CUDA module (SEQLORA_CUDA_EMU: the module's model code on the host, tests/cuda/emu/) against the CPU.

  * bundles of three kinds: a DNABERT-style BERT (PEFT adapter, base embedded), the same as merged weights
    (`package --merged`), and a Nucleotide Transformer v1 (ESM family; adapter trained by `seqlora train`);
  * `score --device cuda` == `score` on the CPU within 1e-5 (fp32; 1e-4 on a GPU: bench/gpu/run.sh), bf16 within
    5e-2 and not equal on sequences of one and of several windows
    (batches of 16 windows padded to the longest, as on the CPU); `predict --model --device cuda` gives the
    same file as `score --device cuda`;
  * the action key: `score --device cuda` is its own action (not the CPU's cached bytes, "cached:" absent),
    `--device cpu` and `--device auto` without a usable module are the no-flag run's action (a cache hit) with
    the one-line note for auto, byte-identical output;
  * refusals: --device cuda without the module (SEQLORA_CUDA_MODULE=none) is exit 2 naming the reason, for
    score and serve; --device cpu --precision fp16 is exit 2 (CPU bf16: tests/cli/test_cpu_bf16_cli.py);
  * `serve --device cuda`: /healthz and /v1/model report cuda:0 / fp32, /v1/predict == CPU `score` within 1e-5;
    `serve --device auto` without the module: the note, cpu in /healthz.
Exits 1 on any failure."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np

SRC = os.environ["SEQLORA_SOURCE_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests", "package"))
sys.path.insert(0, os.path.join(SRC, "tests", "families"))
from common import make_model, maxdiff, probs, random_dna  # noqa: E402
from bases import make_nt  # noqa: E402

BIN, EMU = os.environ["SEQLORA_BIN"], os.environ["SEQLORA_CUDA_EMU"]
TMP = os.path.join(os.environ.get("SEQLORA_TEST_TMP", "/tmp"), "cuda_infer_device")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
FAILED = []
KIND = os.environ.get("SEQLORA_CUDA_KIND", "emulated")  # bench/gpu/run.sh: "gpu" (EMU = the real module)
TOL = 1e-4 if KIND == "gpu" else 1e-5  # fp32; a GPU's cuBLAS sums in another order (docs/gpu.md)


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def seqlora(args, store, module="none"):
    env = dict(os.environ, SEQLORA_CUDA_MODULE=module)
    return subprocess.run([BIN] + args + ["--store", store, "--threads", "1"], capture_output=True, text=True,
                          env=env)


rng = np.random.default_rng(23)
# ---- the bundles -----------------------------------------------------------------------------------------------
bert_base, bert_adapter = make_model(os.path.join(TMP, "bert"))
nt_base = os.path.join(TMP, "nt_base")
make_nt(nt_base)
nt_train = os.path.join(TMP, "nt_train.tsv")
with open(nt_train, "w") as f:
    f.write("id\tsequence\tlabel\n")
    for i, s in enumerate(random_dna(rng, 32, 12, 30)):
        f.write(f"t{i}\t{s}\t{'case' if 'GC' in s else 'control'}\n")
pstore = os.path.join(TMP, "store_package")
nt_adapter = os.path.join(TMP, "nt_adapter")
r = seqlora(["train", "--base", nt_base, "--train", nt_train, "-o", nt_adapter, "--lora-r", "4", "--lora-alpha", "8",
             "--epochs", "1", "--batch-size", "8", "--lr", "2e-2", "--max-length", "32", "--seed", "3",
             "--device", "cpu"], pstore)
check(r.returncode == 0, "NT v1: train on the CPU" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
BUNDLES = {}
for name, base, adapter, extra in (("bert", bert_base, bert_adapter, ["--embed-base"]),
                                   ("bert_merged", bert_base, bert_adapter, ["--merged"]),
                                   ("ntv1", nt_base, nt_adapter, ["--embed-base"])):
    bundle = os.path.join(TMP, name + ".tar.gz")
    r = seqlora(["package", "--base", base, "--adapter", adapter, "-o", bundle] + extra, pstore)
    check(r.returncode == 0, f"{name}: package" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
    if r.returncode == 0:
        BUNDLES[name] = bundle

# sequences of one window and of several (BERT 6-mers: 67 bases a window; NT: 30), lower case and N included
seqs = random_dna(rng, 20, 20, 40) + random_dna(rng, 14, 70, 260)
seqs[3] = seqs[3][:5] + "N" + seqs[3][6:]
seqs[25] = seqs[25].lower()
fasta = os.path.join(TMP, "seqs.fa")
with open(fasta, "w") as f:
    f.write("".join(f">q{i}\n{s}\n" for i, s in enumerate(seqs)))

# ---- score / predict --model: device vs CPU ----------------------------------------------------------------------
CPU_OUT = {}
for name, bundle in BUNDLES.items():
    store = os.path.join(TMP, "store_" + name)
    cpu, dev = os.path.join(TMP, name + "_cpu.tsv"), os.path.join(TMP, name + "_cuda.tsv")
    r = seqlora(["score", "--model", bundle, "--input", fasta, "-o", cpu], store)
    check(r.returncode == 0, f"{name}: score on the CPU (no --device, no module)" +
          ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
    r2 = seqlora(["score", "--model", bundle, "--input", fasta, "-o", dev, "--device", "cuda"], store, EMU)
    check(r2.returncode == 0 and "cached:" not in r2.stderr,
          f"{name}: score --device cuda ({KIND}) runs (its own action, not the CPU's cached bytes)" +
          ("" if r2.returncode == 0 else ": " + r2.stderr[-800:]))
    if r.returncode or r2.returncode:
        continue
    hc, pc = probs(cpu)
    hd, pd = probs(dev)
    windows = sum(1 for l in open(cpu).read().splitlines()[1:] if not l.endswith("\t1"))
    d = maxdiff(pc, pd)
    check(hc == hd and d <= TOL and len(pc) == len(seqs),
          f"{name}: score --device cuda ({KIND}) vs CPU: max |diff| {d:.2e} (bound {TOL:g}) on {len(pc)} sequences, "
          f"{windows} of them in several windows")
    CPU_OUT[name] = pc
    pm = os.path.join(TMP, name + "_predict_model.tsv")
    r = seqlora(["predict", "--model", bundle, "--input", fasta, "-o", pm, "--device", "cuda"], store, EMU)
    check(r.returncode == 0 and open(pm).read() == open(dev).read(),
          f"{name}: predict --model --device cuda == score --device cuda, byte for byte" +
          ("" if r.returncode == 0 else ": " + r.stderr[-500:]))
    if name == "bert":  # bf16 GEMMs (docs/gpu.md: within 5e-2 of fp32), its own action
        bf = os.path.join(TMP, name + "_cuda_bf16.tsv")
        r = seqlora(["score", "--model", bundle, "--input", fasta, "-o", bf, "--device", "cuda", "--precision", "bf16"],
                    store, EMU)
        db = maxdiff(pc, probs(bf)[1]) if r.returncode == 0 else float("inf")
        check(r.returncode == 0 and "cached:" not in r.stderr and 0 < db <= 5e-2,
              f"{name}: score --device cuda --precision bf16 ({KIND}): its own action, max |diff| vs CPU {db:.2e} "
              f"(bound 5e-2, not 0)" + ("" if r.returncode == 0 else ": " + r.stderr[-500:]))
    # the CPU's action key is unchanged: --device cpu and auto (no module) hit the no-flag run's entry
    for flag in ("cpu", "auto"):
        out = os.path.join(TMP, f"{name}_{flag}.tsv")
        r = seqlora(["score", "--model", bundle, "--input", fasta, "-o", out, "--device", flag], store)
        note = [l for l in r.stderr.splitlines() if "using the CPU" in l]
        check(r.returncode == 0 and "cached: score" in r.stderr and open(out).read() == open(cpu).read() and
              len(note) == (1 if flag == "auto" else 0),
              f"{name}: score --device {flag} without the module: the no-flag run's action (cache hit), same bytes" +
              (", one note line" if flag == "auto" else "") + ("" if r.returncode == 0 else ": " + r.stderr[-500:]))

# ---- refusals --------------------------------------------------------------------------------------------------
if "bert" in BUNDLES:
    b = BUNDLES["bert"]
    store = os.path.join(TMP, "store_refusals")
    out = os.path.join(TMP, "refused.tsv")
    r = seqlora(["score", "--model", b, "--input", fasta, "-o", out, "--device", "cuda"], store)
    check(r.returncode == 2 and "SEQLORA_CUDA_MODULE=none" in r.stderr and not os.path.exists(out),
          f"score --device cuda without the module: exit 2 with the reason, nothing written (exit {r.returncode}: "
          f"{r.stderr.strip()[-200:]})")
    r = seqlora(["score", "--model", b, "--input", fasta, "-o", out, "--device", "cpu", "--precision", "fp16"], store)
    check(r.returncode == 2 and "fp32" in r.stderr and not os.path.exists(out),
          f"score --device cpu --precision fp16: exit 2 (exit {r.returncode})")
    r = seqlora(["score", "--model", b, "--input", fasta, "-o", out, "--device", "gpu"], store)
    check(r.returncode == 2 and "--device" in r.stderr, f"score --device gpu: exit 2 naming the option ({r.returncode})")
    p = subprocess.run([BIN, "serve", "--model", b, "--port", "0", "--device", "cuda"], capture_output=True, text=True,
                       env=dict(os.environ, SEQLORA_CUDA_MODULE="none"), timeout=120)
    check(p.returncode == 2 and "SEQLORA_CUDA_MODULE=none" in p.stderr and not p.stdout,
          f"serve --device cuda without the module: exit 2 with the reason before listening (exit {p.returncode})")


# ---- serve ---------------------------------------------------------------------------------------------------
class Server:
    def __init__(self, model, module, *extra):
        self.log = open(os.path.join(TMP, f"serve_{len(extra)}_{os.path.basename(model)}.log"), "w+")
        self.p = subprocess.Popen([BIN, "serve", "--model", model, "--port", "0", "--threads", "2"] + list(extra),
                                  stdout=subprocess.PIPE, stderr=self.log, text=True,
                                  env=dict(os.environ, SEQLORA_CUDA_MODULE=module))
        url = self.p.stdout.readline().strip()
        self.port = int(url.rsplit(":", 1)[1]) if url.startswith("http://") else None

    def req(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        resp = c.getresponse()
        text = resp.read().decode()
        c.close()
        return resp.status, json.loads(text)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=120)
        self.log.seek(0)
        return rc, self.log.read()


for name in ("bert", "ntv1"):
    if name not in CPU_OUT:
        continue
    srv = Server(BUNDLES[name], EMU, "--device", "cuda")
    if srv.port is None:
        rc, log = srv.stop()
        check(False, f"{name}: serve --device cuda starts: {log[-500:]}")
        continue
    st, h = srv.req("GET", "/healthz")
    check(st == 200 and h.get("device") == "cuda:0" and h.get("precision") == "fp32",
          f"{name}: serve --device cuda: /healthz says {h}")
    st, m = srv.req("GET", "/v1/model")
    check(st == 200 and m.get("device") == "cuda:0" and m.get("precision") == "fp32",
          f"{name}: /v1/model reports device {m.get('device')} precision {m.get('precision')}")
    st, j = srv.req("POST", "/v1/predict", {"sequences": [{"id": f"q{i}", "sequence": s} for i, s in enumerate(seqs)]})
    got = {}
    if st == 200:
        for res in j["results"]:
            got[res["id"]] = np.array([res["probabilities"][k] for k in sorted(res["probabilities"])])
    ref = CPU_OUT[name]
    hdr = probs(os.path.join(TMP, name + "_cpu.tsv"))[0]
    order = np.argsort([h[len("prob_"):] for h in hdr if h.startswith("prob_")])
    d = maxdiff({k: v[order] for k, v in ref.items()}, got)
    check(st == 200 and d <= TOL, f"{name}: serve --device cuda /v1/predict vs CPU score: max |diff| {d:.2e} "
                                  f"(bound {TOL:g}), {len(got)} sequences")
    rc, log = srv.stop()
    check(rc == 0 and "on cuda:0 (fp32)" in log, f"{name}: serve --device cuda: the start line names the device, exit 0")

if "bert" in BUNDLES:
    srv = Server(BUNDLES["bert"], "none")
    st, h = (srv.req("GET", "/healthz") if srv.port else (0, {}))
    rc, log = srv.stop()
    note = [l for l in log.splitlines() if "using the CPU" in l]
    check(st == 200 and h.get("device") == "cpu" and h.get("precision") == "fp32" and len(note) == 1 and rc == 0,
          f"serve (default --device auto) without the module: the CPU, one note line; /healthz {h}" +
          ("" if rc == 0 and len(note) == 1 else f" (exit {rc}, log: {log[-400:]})"))

print("FAILED:" if FAILED else "all passed", *FAILED, sep="\n  ")
sys.exit(1 if FAILED else 0)
