#!/usr/bin/env python3
"""Print the short table of bench/gpu/run.sh from OUTDIR/{check.log,kernels.log,bench.jsonl}."""
import json
import os
import sys


def count(path, word):
    try:
        with open(path) as f:
            return sum(1 for line in f if line.startswith(word))
    except OSError:
        return None


def main(out):
    print("== seqlora CUDA backend on this GPU ==")
    for name in ("kernels", "check"):
        p = os.path.join(out, name + ".log")
        npass, nfail, nskip = count(p, "PASS"), count(p, "FAIL"), count(p, "SKIP")
        print(f"{name:8s} PASS {npass}  FAIL {nfail}  SKIP {nskip}   ({p})")
    p = os.path.join(out, "cli.log")  # the CLI path (tests/cuda/test_train_device.py): "ok   " / "FAIL "
    if os.path.exists(p):
        print(f"{'cli':8s} PASS {count(p, 'ok   ')}  FAIL {count(p, 'FAIL ')}  SKIP 0   ({p})")
    rows = []
    try:
        with open(os.path.join(out, "bench.jsonl")) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    print(f"{'impl':12s} {'prec':5s} {'B':>3s} {'T':>4s} {'steps/s':>8s} {'tokens/s':>9s} {'TFLOP/s':>8s} "
          f"{'MFU':>6s} {'peak GiB':>8s} {'fwd/bwd/opt ms':>16s}")
    by = {}
    for r in rows:
        if "steps_per_s" not in r:
            continue
        by[(r["impl"], r["precision"], r["batch"])] = r
        print(f"{r['impl']:12s} {r['precision']:5s} {r['batch']:3d} {r['seq']:4d} {r['steps_per_s']:8.2f} "
              f"{r['tokens_per_s']:9.0f} {r['tflops']:8.1f} {100 * r['mfu_vs_790']:5.1f}% "
              f"{r['peak_device_used_gib']:8.2f} "
              + (f"{r['ms_forward']:5.1f}/{r['ms_backward']:5.1f}/{r['ms_optimizer']:4.1f}" if "ms_forward" in r else ""))
    for (impl, prec, b), r in sorted(by.items()):
        if impl != "seqlora-cuda":
            continue
        t = by.get(("torch+peft", prec, b))
        if t:
            print(f"speed-up vs torch+peft, {prec} batch {b}: {r['steps_per_s'] / t['steps_per_s']:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1])
