"""seqlora CPU engine vs PyTorch + PEFT: one LoRA training step, side by side, in one run.

usage: run_bench.py NN_BENCH_STEP [--config tiny|dnabert|both] [--steps N] [--threads N] [--out results.jsonl]
                    [--baseline OLD_NN_BENCH_STEP]

For each config a random BertForSequenceClassification is saved with transformers (the same weights feed
both engines), then each engine runs in its own process (so peak RSS is its own): 1 untimed warm-up step +
N timed steps of forward + loss + backward + clip + AdamW with LoRA r16/alpha32/dropout 0.1 on query,value
(PEFT), batch 8, all tokens real. Prints s/step (median), tokens/s and peak RSS for both and the ratios."""
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


def torch_worker(model_dir, batch, seq, steps, threads):
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
    model.train()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, model.config.vocab_size, (batch, seq), generator=g)
    labels = torch.randint(0, 2, (batch,), generator=g)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    times = []
    for s in range(steps + 1):
        a = time.time()
        opt.zero_grad()
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        times.append(time.time() - a)
    st = sorted(times[1:])
    med = st[len(st) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"engine": "pytorch+peft", "torch": torch.__version__, "threads": threads, "batch": batch,
                      "seq": seq, "load_s": round(load_s, 3), "warmup_s": round(times[0], 3),
                      "step_s": [round(t, 4) for t in times[1:]], "median_s": round(med, 4),
                      "tokens_per_s": round(batch * seq / med, 1), "peak_rss_mb": round(rss, 1),
                      "last_loss": round(loss.item(), 6)}))


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
        torch_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_step")
    ap.add_argument("--config", default="tiny", choices=["tiny", "dnabert", "both"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="seqlora threads")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch.set_num_threads (0 = torch's default; OpenBLAS keeps its own pool)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--baseline", default=None,
                    help="an older nn_bench_step to run in the same session (before/after of a change)")
    a = ap.parse_args()
    names = ["tiny", "dnabert"] if a.config == "both" else [a.config]
    tmp = tempfile.mkdtemp(prefix="seqlora-bench-")
    for name in names:
        cfg = CONFIGS[name]
        d = os.path.join(tmp, name)
        make_model(cfg, d)
        res = {}
        runs = [("seqlora", [a.bench_step, d, str(cfg["batch"]), str(cfg["seq"]), str(a.steps), str(a.threads)]),
                ("pytorch+peft", [sys.executable, __file__, "--torch-worker", d, str(cfg["batch"]), str(cfg["seq"]),
                                  str(a.steps), str(a.torch_threads)])]
        if a.baseline:
            runs.append(("seqlora-baseline",
                         [a.baseline, d, str(cfg["batch"]), str(cfg["seq"]), str(a.steps), str(a.threads)]))
        for eng, cmd in runs:
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{eng} failed: {out.stderr[-2000:]}")
            res[eng] = json.loads(out.stdout.strip().splitlines()[-1])
            res[eng]["config"] = name
            res[eng]["engine"] = eng
            res[eng]["loadavg_1m"] = round(os.getloadavg()[0], 2)
        s, t = res["seqlora"], res["pytorch+peft"]
        print(f"\n{name}: {cfg['layers']}x{cfg['hidden']}, {cfg['heads']} heads, seq {cfg['seq']}, batch {cfg['batch']}, "
              f"seqlora {a.threads} threads, torch threads {a.torch_threads or 'default'}, {a.steps} timed steps")
        print(f"  {'':16s} {'s/step':>8s} {'tokens/s':>10s} {'peak RSS MB':>12s}")
        for eng in res:
            r = res[eng]
            print(f"  {eng:16s} {r['median_s']:8.3f} {r['tokens_per_s']:10.1f} {r['peak_rss_mb']:12.1f}")
        print(f"  ratio seqlora/pytorch: s/step {s['median_s'] / t['median_s']:.2f}, tokens/s "
              f"{s['tokens_per_s'] / t['tokens_per_s']:.2f}, peak RSS {s['peak_rss_mb'] / t['peak_rss_mb']:.2f}")
        if a.baseline:
            print(f"  ratio seqlora/baseline: s/step {s['median_s'] / res['seqlora-baseline']['median_s']:.2f}")
        print(f"  load average (1 min) after each engine: "
              + ", ".join(f"{e} {res[e]['loadavg_1m']}" for e in res))
        if a.out:
            with open(a.out, "a") as f:
                for eng in res:
                    f.write(json.dumps(res[eng]) + "\n")


if __name__ == "__main__":
    main()
