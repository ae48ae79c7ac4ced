#!/usr/bin/env python3
"""The PyTorch + PEFT side of bench/gpu: the same model shape, data, batch, LoRA and optimizer step as
cuda_bench's `bench` (DNABERT-base shape, LoRA r=8 alpha=16 dropout 0.1 on query/value, 2 labels, AdamW,
clip 1.0, dropout on), timed on the same GPU. Eager PyTorch (whatever attention implementation transformers
picks there, recorded), fp32 (TF32 off, torch's default) or bf16 autocast with fp32 master weights.
Prints one JSON line."""
import argparse
import json
import sys
import time

import torch


def step_flops(B, T, L, H, I, r):
    # the same count as cuda_bench.c step_flops(): frozen base, LoRA on query/value
    N = B * T
    lin = 2 * N * (4 * H * H + 2 * H * I)
    att = 4 * B * T * T * H
    lora = 2 * 2 * N * r * (2 * H)
    return L * (2 * lin + 3 * att + 4 * lora)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--inter", type=int, default=3072)
    ap.add_argument("--vocab", type=int, default=4101)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--device", default="cuda", help="cpu: a smoke test of this script (tiny shapes)")
    a = ap.parse_args()
    dev = a.device
    if dev == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"impl": "torch+peft", "skipped": "no CUDA device"}))
        return 77
    import transformers
    import peft
    from transformers import BertConfig, BertForSequenceClassification

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
                     num_attention_heads=a.heads, intermediate_size=a.inter,
                     max_position_embeddings=max(512, a.seq), num_labels=2)
    model = BertForSequenceClassification(cfg)
    lcfg = peft.LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.1, target_modules=["query", "value"],
                           task_type=peft.TaskType.SEQ_CLS)
    model = peft.get_peft_model(model, lcfg).to(dev)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(5, a.vocab, (a.batch, a.seq), generator=g).to(dev)
    mask = torch.ones_like(ids)
    labels = (torch.arange(a.batch) % 2).to(dev)
    use_bf16 = a.precision == "bf16"

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=use_bf16):
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return out.loss

    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    for _ in range(a.warmup):
        step()
    sync()
    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    losses = [step() for _ in range(a.steps)]
    sync()
    dt = time.perf_counter() - t0
    sps = a.steps / dt
    fl = step_flops(a.batch, a.seq, a.layers, a.hidden, a.inter, a.rank)
    print(json.dumps({
        "impl": "torch+peft", "precision": a.precision, "batch": a.batch, "seq": a.seq, "steps": a.steps,
        "steps_per_s": round(sps, 3), "tokens_per_s": round(sps * a.batch * a.seq),
        "tflops": round(fl * sps / 1e12, 1), "mfu_vs_790": round(fl * sps / 790e12, 4),
        "peak_device_used_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2) if dev == "cuda" else 0.0,
        "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if dev == "cuda" else 0.0,
        "mean_loss": round(float(torch.stack(losses).float().mean()), 4),
        "attn_implementation": getattr(model.config, "_attn_implementation", "?"),
        "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
        "device": torch.cuda.get_device_name(0) if dev == "cuda" else "cpu"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
