"""seqlora CPU engine vs PyTorch + PEFT: one LoRA training step, or one inference forward pass, side by side.

usage: run_bench.py NN_BENCH_STEP [--config tiny|dnabert|both] [--mode train|infer|both] [--steps N]
                    [--threads N] [--torch-threads N] [--tuned-torch] [--out results.jsonl]
                    [--baseline OLD_NN_BENCH_STEP] [--peak-gflops 234] [--precision fp32|bf16]

For each config a random BertForSequenceClassification is saved with transformers (the same weights feed
both engines), then each engine runs in its own process (so peak RSS is its own): 1 untimed warm-up step +
N timed steps, LoRA r16/alpha32/dropout 0.1 on query,value (PEFT), batch 8, all tokens real.
  train: forward + loss + backward + clip + AdamW (model.train(), dropout on).
  infer: one forward pass to the logits (seqlora: the model loaded for inference; PyTorch: model.eval()
         under torch.no_grad()), LoRA unmerged in both.
Prints s/step (median wall time), the median CPU seconds per step of the process (all threads: steadier
than wall time while other jobs load the machine; PyTorch's may include OpenMP threads spinning), tokens/s
and peak RSS for every engine and the ratios, the seqlora engine's
per-phase profile (src/nn/prof.h) and the achieved GFLOP/s (the GEMM and attention-product operations the
seqlora step performs, counted from the shapes it ran, divided by each engine's median step time) against
--peak-gflops (the FP32 peak of the machine; 234 GFLOP/s measured on the build machine, docs/performance.md).
--tuned-torch runs PyTorch with the environment measured best there (OMP_WAIT_POLICY=passive,
MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_=68719476736) and, with --torch-threads 0, 2 threads.
--precision bf16 runs seqlora's bf16 mode (nn_bench_step's 8th argument: the frozen encoder Linears in bf16,
fp32 accumulation) and adds a third engine, pytorch+peft-bf16: the same PyTorch worker (same environment)
with the forward under torch.autocast("cpu", dtype=torch.bfloat16) (train: forward + loss inside autocast,
backward, clipping and AdamW outside, PyTorch's AMP recipe; infer: no_grad + autocast). seqlora's ratios
are then printed against both PyTorch runs, and % of the bf16 peak (2x --peak-gflops: AVX512-BF16's dot
products do twice the FP32 FMA's work per instruction) next to % of the FP32 peak. Every record carries
"precision"."""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CONFIGS = {
    "tiny": dict(layers=4, hidden=256, heads=4, inter=1024, seq=128, batch=8, vocab=4101),
    "dnabert": dict(layers=12, hidden=768, heads=12, inter=3072, seq=512, batch=8, vocab=4101),
}


def peak_rss_mb():
    """VmHWM of this process (its own address space's peak resident set). ru_maxrss is not used: after
    fork + exec it starts from the parent's resident set, which here holds torch and the model it built."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def torch_worker(model_dir, batch, seq, steps, threads, mode="train", precision="fp32"):
    import contextlib

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import BertForSequenceClassification
    if threads > 0:
        torch.set_num_threads(threads)
    t0 = time.time()
    model = get_peft_model(BertForSequenceClassification.from_pretrained(model_dir),
                           LoraConfig(task_type="SEQ_CLS", r=16, lora_alpha=32, lora_dropout=0.1,
                                      target_modules=["query", "value"]))
    load_s = time.time() - t0
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, model.config.vocab_size, (batch, seq), generator=g)
    labels = torch.randint(0, 2, (batch,), generator=g)
    times, cpu = [], []
    loss = None

    def autocast():  # a fresh context each step
        if precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    if mode == "infer":
        model.eval()
        with torch.no_grad():
            for s in range(steps + 1):
                a, ca = time.time(), time.process_time()
                with autocast():
                    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
                logits.float().sum().item()
                times.append(time.time() - a)
                cpu.append(time.process_time() - ca)
    else:
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
        for s in range(steps + 1):
            a, ca = time.time(), time.process_time()
            opt.zero_grad()
            with autocast():
                loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            times.append(time.time() - a)
            cpu.append(time.process_time() - ca)
    st = sorted(times[1:])
    med = st[len(st) // 2]
    rss = peak_rss_mb()
    rec = {"engine": "pytorch+peft" + ("-bf16" if precision == "bf16" else ""), "mode": mode,
           "precision": precision, "torch": torch.__version__,
           "threads": torch.get_num_threads(), "batch": batch, "seq": seq, "load_s": round(load_s, 3),
           "warmup_s": round(times[0], 3), "step_s": [round(t, 4) for t in times[1:]], "median_s": round(med, 4),
           "cpu_median_s": round(sorted(cpu[1:])[len(cpu[1:]) // 2], 4), "tokens_per_s": round(batch * seq / med, 1), "peak_rss_mb": round(rss, 1)}
    if loss is not None:
        rec["last_loss"] = round(loss.item(), 6)
    print(json.dumps(rec))


def make_model(cfg, d):
    import torch
    from transformers import BertConfig, BertForSequenceClassification
    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(
        vocab_size=cfg["vocab"], hidden_size=cfg["hidden"], num_hidden_layers=cfg["layers"],
        num_attention_heads=cfg["heads"], intermediate_size=cfg["inter"], max_position_embeddings=512,
        num_labels=2)).save_pretrained(d, safe_serialization=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--torch-worker":
        torch_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
                     sys.argv[7] if len(sys.argv) > 7 else "train", sys.argv[8] if len(sys.argv) > 8 else "fp32")
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_step")
    ap.add_argument("--config", default="tiny", choices=["tiny", "dnabert", "both"])
    ap.add_argument("--mode", default="train", choices=["train", "infer", "both"])
    ap.add_argument("--tuned-torch", action="store_true",
                    help="PyTorch with OMP_WAIT_POLICY=passive and the glibc malloc settings of bench-pytorch-cpu")
    ap.add_argument("--peak-gflops", type=float, default=234.0, help="the machine's measured FP32 peak")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                    help="seqlora's precision; bf16 also runs PyTorch under torch.autocast(bfloat16)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="seqlora threads")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch.set_num_threads (0 = torch's default; OpenBLAS keeps its own pool)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--baseline", default=None,
                    help="an older nn_bench_step to run in the same session (before/after of a change)")
    a = ap.parse_args()
    names = ["tiny", "dnabert"] if a.config == "both" else [a.config]
    modes = ["train", "infer"] if a.mode == "both" else [a.mode]
    torch_env = dict(os.environ)
    torch_threads = a.torch_threads
    if a.tuned_torch:
        torch_env.update(OMP_WAIT_POLICY="passive", MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_="68719476736")
        torch_threads = torch_threads or 2
    tmp = tempfile.mkdtemp(prefix="seqlora-bench-")
    for name in names:
        cfg = CONFIGS[name]
        d = os.path.join(tmp, name)
        make_model(cfg, d)
        for mode in modes:
            run_one(a, name, cfg, d, mode, torch_env, torch_threads)


def run_one(a, name, cfg, d, mode, torch_env, torch_threads):
    # train is the default: a baseline binary from before [train|infer] existed still runs the training step;
    # the precision is the 8th argument, so bf16 passes the mode explicitly
    shape = [d, str(cfg["batch"]), str(cfg["seq"]), str(a.steps), str(a.threads)]
    if a.precision == "bf16":
        shape += [mode, "bf16"]
    elif mode != "train":
        shape += [mode]
    worker = [sys.executable, __file__, "--torch-worker", d, str(cfg["batch"]), str(cfg["seq"]), str(a.steps),
              str(torch_threads), mode]
    runs = [("seqlora", [a.bench_step] + shape, None), ("pytorch+peft", worker + ["fp32"], torch_env)]
    if a.precision == "bf16":
        runs.append(("pytorch+peft-bf16", worker + ["bf16"], torch_env))
    if a.baseline:
        runs.append(("seqlora-baseline", [a.baseline] + shape, None))
    res = {}
    for eng, cmd, env in runs:
        load0 = os.getloadavg()[0]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode:
            sys.exit(f"{eng} failed: {out.stderr[-2000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if r.get("mode", "train") != mode:  # an old binary without [train|infer] ignores the argument
            sys.exit(f"{eng} ran mode {r.get('mode', 'train')}, not {mode}")
        want = "fp32" if eng == "pytorch+peft" else a.precision
        if r.get("precision", "fp32") != want:  # an old binary without [fp32|bf16] ignores the argument
            sys.exit(f"{eng} ran precision {r.get('precision', 'fp32')}, not {want}")
        r.update(config=name, engine=eng, mode=mode, precision=want, loadavg_1m_before=round(load0, 2),
                 loadavg_1m=round(os.getloadavg()[0], 2))
        res[eng] = r
    s = res["seqlora"]
    flops = s.get("gflop_per_step", 0.0)
    print(f"\n{name} {mode}: {cfg['layers']}x{cfg['hidden']}, {cfg['heads']} heads, seq {cfg['seq']}, "
          f"batch {cfg['batch']}, seqlora {a.precision} {a.threads} threads, torch threads {torch_threads or 'default'}"
          f"{' (tuned env)' if a.tuned_torch else ''}, {a.steps} timed steps")
    bf16 = a.precision == "bf16"
    print(f"  {'':17s} {'s/step':>8s} {'cpu s':>7s} {'tokens/s':>10s} {'peak RSS MB':>12s} {'GFLOP/s':>8s} "
          f"{'% peak':>7s}" + (f"{'%bf16pk':>8s}" if bf16 else "") + "  load avg before/after")
    for eng in res:
        r = res[eng]
        gf = flops / r["median_s"] if flops else 0.0
        print(f"  {eng:17s} {r['median_s']:8.3f} {r.get('cpu_median_s', float('nan')):7.3f} {r['tokens_per_s']:10.1f} {r['peak_rss_mb']:12.1f} {gf:8.1f} "
              f"{100 * gf / a.peak_gflops:6.1f}%" + (f"{100 * gf / (2 * a.peak_gflops):7.1f}%" if bf16 else "")
              + f"  {r['loadavg_1m_before']}/{r['loadavg_1m']}")
    for peer in ["pytorch+peft"] + (["pytorch+peft-bf16"] if bf16 else []):
        t = res[peer]
        print(f"  ratio seqlora/{peer}: s/step {s['median_s'] / t['median_s']:.2f}, tokens/s "
              f"{s['tokens_per_s'] / t['tokens_per_s']:.2f}, peak RSS {s['peak_rss_mb'] / t['peak_rss_mb']:.2f}")
    if a.baseline:
        b = res["seqlora-baseline"]
        print(f"  ratio seqlora/baseline: s/step {s['median_s'] / b['median_s']:.2f}"
              + (f", cpu s/step {s['cpu_median_s'] / b['cpu_median_s']:.2f}" if "cpu_median_s" in b else ""))
    if "phases_s" in s:
        step = sum(s["step_s"]) / len(s["step_s"])
        print(f"  seqlora phases (mean s/step of {step:.3f}; {flops:.1f} GFLOP/step counted, GEMM+attention "
              f"phases at {s.get('gemm_gflops', 0):.1f} GFLOP/s):")
        print("    " + ", ".join(f"{k} {v:.3f} ({100 * v / step:.0f}%)" for k, v in s["phases_s"].items()))
    if a.out:
        with open(a.out, "a") as f:
            for eng in res:
                f.write(json.dumps(res[eng]) + "\n")


if __name__ == "__main__":
    main()
