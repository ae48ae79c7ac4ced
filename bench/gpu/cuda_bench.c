/* The toolkit-only driver of the CUDA backend for GPU sessions: it needs libseqlora_cuda.so (dlopen) and
 * libc, nothing else (no htslib, jansson, OpenBLAS), so it builds on a machine that has only the CUDA
 * toolkit.
 *
 *   cuda_bench MODULE.so plan  [model options]    the device-memory plan (no GPU needed)
 *   cuda_bench MODULE.so check REF.bin            parity with the CPU engine (exit 0 pass, 1 fail, 77 no GPU)
 *   cuda_bench MODULE.so bench [model options] [--steps N] [--warmup N]
 *                                                 training-step throughput (one JSON line)
 *
 * model options: --family bert|esm|d2 --batch B --seq T --precision fp32|bf16|fp16 --layers L --hidden H
 *                --heads NH --inter I --vocab V --rank r (defaults: bert, DNABERT-base shape, LoRA r=8 on
 *                query and value (d2: Wqkv), 2 labels; see build_random for the families).
 *
 * REF.bin is written by tests/cuda/refgen.c from the CPU engines (tests/data/cuda/ref_*.bin; the family is
 * in the file). The parity measure is ||gpu - cpu|| / ||cpu|| over each whole tensor (logits, the gradient
 * arena), and the largest relative step-wise difference of the 50-step loss curves. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/nn/cuda/sl_cuda.h"
#include "../../tests/cuda/refio.h"
#include "util/rng.h"

static const sl_cuda_api *api;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ---- the model description ---- */

typedef struct model_opts {
    int batch, seq, precision, layers, hidden, heads, inter, vocab, rank, steps, warmup;
    int family; /* SL_CUDA_FAMILY_*: bert, esm (NT v2 layout), d2 (DNABERT-2) */
} model_opts;

typedef struct built {
    sl_cuda_desc d;
    float *base; /* all random base weights (and the rotary tables / ALiBi slopes) */
    const float **lp;
    int64_t *offs;
    size_t *sizes;
    float *tparams;
} built;

/* A random model of the given shape and family (weights ~ U(+-0.035), about init_range 0.02; LayerNorm 1/0),
 * classifier of 2 labels. BERT: LoRA on query and value, pooler frozen, all dropouts 0.1. esm (the
 * Nucleotide Transformer v2 layout): rotary, bias-free SwiGLU feed-forward, emb_layer_norm_after, LoRA on
 * query and value, the classifier head (dense + out_proj) trained, token dropout on, no base dropout (as
 * the checkpoints). d2 (DNABERT-2): fused Wqkv with LoRA, ALiBi, GeGLU, hidden dropout 0.1, attention
 * dropout 0 (as the published model), pooler frozen. The arena follows the CPU engines' order. */
static int build_random(const model_opts *o, built *b) {
    memset(b, 0, sizeof *b);
    sl_cuda_desc *d = &b->d;
    const int fam = o->family, esm = fam == SL_CUDA_FAMILY_ESM, d2 = fam == SL_CUDA_FAMILY_DNABERT2;
    const size_t H = o->hidden, I = o->inter, L = o->layers, V = o->vocab, P = 512 > o->seq ? 512 : o->seq,
                 dh = H / o->heads;
    const float drop = esm ? 0.0f : 0.1f;
    *d = (sl_cuda_desc){.vocab = o->vocab,
                        .hidden = o->hidden,
                        .layers = o->layers,
                        .heads = o->heads,
                        .inter = o->inter,
                        .max_pos = (int)P,
                        .num_labels = 2,
                        .problem = 0,
                        .ln_eps = 1e-12f,
                        .hidden_dropout = drop,
                        .attn_dropout = d2 ? 0.0f : drop,
                        .cls_dropout = drop,
                        .lora_r = o->rank,
                        .lora_scaling = 2.0f,
                        .lora_dropout = 0.1f,
                        .max_batch = o->batch,
                        .max_len = o->seq,
                        .precision = o->precision,
                        .training = 1,
                        .family = fam,
                        .rotary = esm,
                        .token_dropout = esm,
                        .mask_token_id = esm ? o->vocab - 1 : 0,
                        .pad_token_id = 1,
                        .gated_ffn = esm};
    /* Linear k: [out, in], biased or not */
    size_t in[6], out[6], nmod = d2 ? 4 : 6;
    int biased[6];
    for (size_t k = 0; k < 6; k++) {
        in[k] = (d2 ? k == 3 : k == 5) ? I : H;
        out[k] = d2 ? (k == 0 ? 3 * H : k == 2 ? 2 * I : H) : k == 4 ? (esm ? 2 * I : I) : H;
        biased[k] = d2 ? k != 2 : !(esm && k >= 4);
    }
    size_t per_layer = 4 * H;
    for (size_t k = 0; k < nmod; k++) per_layer += in[k] * out[k] + out[k];
    size_t nbase = V * H + P * H + 3 * H + L * per_layer + H * H + H + 2 * H + 2 * (size_t)o->seq * dh +
                   (size_t)o->heads;
    b->base = malloc(nbase * sizeof(float));
    b->lp = calloc(L * SL_CUDA_LAYER_PTRS + 1, sizeof *b->lp);
    b->offs = calloc(2 * L * 6 + 1, sizeof *b->offs);
    b->sizes = calloc(4 * L + 4, sizeof *b->sizes);
    if (!b->base || !b->lp || !b->offs || !b->sizes) return -1;
    sl_rng r;
    sl_rng_init(&r, 42, 1);
    float *x = b->base;
#define TAKE(dst, n, scale, off)                                                                             \
    do {                                                                                                     \
        dst = x;                                                                                             \
        for (size_t i_ = 0; i_ < (n); i_++) x[i_] = (off) + (scale) * (float)(2 * sl_rng_uniform(&r) - 1);   \
        x += (n);                                                                                            \
    } while (0)
    const float *w;
    TAKE(d->word, V * H, 0.035f, 0);
    if (!esm && !d2) TAKE(d->pos, P * H, 0.035f, 0);
    if (!esm) {
        TAKE(d->type, H, 0.035f, 0);
        TAKE(d->emb_ln_w, H, 0, 1);
        TAKE(d->emb_ln_b, H, 0, 0);
    }
    for (size_t l = 0; l < L; l++) {
        const float **p = b->lp + l * SL_CUDA_LAYER_PTRS;
        for (size_t k = 0; k < nmod; k++) {
            TAKE(w, in[k] * out[k], 0.035f, 0);
            p[k] = w;
            if (biased[k]) {
                TAKE(w, out[k], 0.01f, 0);
                p[6 + k] = w;
            }
        }
        TAKE(p[12], H, 0, 1);
        TAKE(p[13], H, 0, 0);
        TAKE(p[14], H, 0, 1);
        TAKE(p[15], H, 0, 0);
    }
    if (esm) {
        TAKE(d->after_w, H, 0, 1);
        TAKE(d->after_b, H, 0, 0);
        float *c = x, *sn = x + (size_t)o->seq * dh; /* as transformers' RotaryEmbedding, in float */
        for (int t = 0; t < o->seq; t++)
            for (size_t i = 0; i < dh / 2; i++) {
                float f = (float)t * (1.0f / powf(10000.0f, (float)(2 * i) / (float)dh));
                c[t * dh + i] = c[t * dh + i + dh / 2] = cosf(f);
                sn[t * dh + i] = sn[t * dh + i + dh / 2] = sinf(f);
            }
        d->rot_cos = c;
        d->rot_sin = sn;
        x += 2 * (size_t)o->seq * dh;
    } else {
        TAKE(d->pool_w, H * H, 0.035f, 0);
        TAKE(d->pool_b, H, 0, 0);
    }
    if (d2) { /* ALiBi slopes of bert_layers.py for `heads` heads */
        int c2 = 1;
        while (c2 * 2 <= o->heads) c2 *= 2;
        for (int h = 0; h < o->heads; h++) {
            double nn = h < c2 ? c2 : 2.0 * c2, start = pow(2.0, -pow(2.0, -(log2(nn) - 3)));
            x[h] = (float)(start * pow(start, h < c2 ? h : 2 * (h - c2)));
        }
        d->alibi_slopes = x;
        x += o->heads;
    }
#undef TAKE
    /* arena: per layer the LoRA A/B of the adapted modules (BERT, esm: query, value; d2: Wqkv), then (esm)
     * classifier.dense, then the classifier / out_proj weight and bias */
    const size_t r_ = o->rank;
    size_t off = 0, nt = 0;
    for (size_t l = 0; l < L; l++)
        for (int k = 0; k < 6; k++) {
            b->offs[l * 6 + k] = b->offs[(L + l) * 6 + k] = -1;
            if (d2 ? k != 0 : k != 0 && k != 2) continue;
            b->offs[l * 6 + k] = (int64_t)off;
            b->sizes[nt++] = r_ * in[k];
            off += r_ * in[k];
            b->offs[(L + l) * 6 + k] = (int64_t)off;
            b->sizes[nt++] = out[k] * r_;
            off += out[k] * r_;
        }
    d->pool_w_off = d->pool_b_off = -1;
    if (esm) {
        d->pool_w_off = (int64_t)off;
        b->sizes[nt++] = H * H;
        off += H * H;
        d->pool_b_off = (int64_t)off;
        b->sizes[nt++] = H;
        off += H;
    }
    d->cls_w_off = (int64_t)off;
    b->sizes[nt++] = 2 * H;
    off += 2 * H;
    d->cls_b_off = (int64_t)off;
    b->sizes[nt++] = 2;
    off += 2;
    b->tparams = malloc(off * sizeof(float));
    for (size_t i = 0; i < off; i++) b->tparams[i] = 0.02f * (float)(2 * sl_rng_uniform(&r) - 1);
    d->layer = b->lp;
    d->lora_a_off = b->offs;
    d->lora_b_off = b->offs + L * 6;
    d->tparams = b->tparams;
    d->n_train = off;
    d->tensor_sizes = b->sizes;
    d->n_tensors = nt;
    return 0;
}

static void built_free(built *b) {
    free(b->base);
    free(b->lp);
    free(b->offs);
    free(b->sizes);
    free(b->tparams);
}

static int parse_prec(const char *s) {
    return !strcmp(s, "bf16")   ? SL_CUDA_BF16
           : !strcmp(s, "fp16") ? SL_CUDA_FP16
           : !strcmp(s, "fp32") ? SL_CUDA_FP32
                                : -1;
}

static const char *prec_name(int p) {
    return p == SL_CUDA_BF16 ? "bf16" : p == SL_CUDA_FP16 ? "fp16" : "fp32";
}

static int parse_opts(int argc, char **argv, model_opts *o) {
    *o = (model_opts){8, 512, SL_CUDA_BF16, 12, 768, 12, 3072, 4101, 8, 20, 3, SL_CUDA_FAMILY_BERT};
    for (int i = 0; i < argc; i++) {
        if (i + 1 >= argc) return -1;
        const char *k = argv[i], *v = argv[++i];
        if (!strcmp(k, "--precision")) {
            if ((o->precision = parse_prec(v)) < 0) return -1;
            continue;
        }
        if (!strcmp(k, "--family")) {
            o->family = !strcmp(v, "bert")  ? SL_CUDA_FAMILY_BERT
                        : !strcmp(v, "esm") ? SL_CUDA_FAMILY_ESM
                        : !strcmp(v, "d2")  ? SL_CUDA_FAMILY_DNABERT2
                                            : -1;
            if (o->family < 0) return -1;
            continue;
        }
        int *dst = !strcmp(k, "--batch")    ? &o->batch
                   : !strcmp(k, "--seq")    ? &o->seq
                   : !strcmp(k, "--layers") ? &o->layers
                   : !strcmp(k, "--hidden") ? &o->hidden
                   : !strcmp(k, "--heads")  ? &o->heads
                   : !strcmp(k, "--inter")  ? &o->inter
                   : !strcmp(k, "--vocab")  ? &o->vocab
                   : !strcmp(k, "--rank")   ? &o->rank
                   : !strcmp(k, "--steps")  ? &o->steps
                   : !strcmp(k, "--warmup") ? &o->warmup
                                            : NULL;
        if (!dst || (*dst = atoi(v)) < 0) return -1;
    }
    return o->batch > 0 && o->seq > 0 && o->hidden % o->heads == 0 ? 0 : -1;
}

/* Matmul FLOPs of one training step (frozen base): forward Linear 2N(4H^2 + 2HI) (BERT; 4H^2 + 3HI for the
 * gated feed-forwards of esm and d2), attention 4BT^2H per layer; the backward repeats the Linear
 * input-gradient GEMMs once and the attention GEMMs twice (no weight gradients for the frozen base); LoRA
 * adds 2Nr(in+out) per adapted module forward (query + value: 2 x 2H; d2's Wqkv: 4H) and three times that
 * backward. */
static double step_flops(const model_opts *o) {
    double N = (double)o->batch * o->seq, H = o->hidden, I = o->inter, T = o->seq, B = o->batch;
    const int gated = o->family != SL_CUDA_FAMILY_BERT;
    double lin = 2 * N * (4 * H * H + (gated ? 3 : 2) * H * I), att = 4 * B * T * T * H,
           lora = 2 * N * o->rank * (4 * H);
    return o->layers * (2 * lin + 3 * att + 4 * lora);
}

static const char *family_name(int f) {
    return f == SL_CUDA_FAMILY_ESM ? "esm" : f == SL_CUDA_FAMILY_DNABERT2 ? "d2" : "bert";
}

static void print_plan(const sl_cuda_mem *m) {
    const double G = 1024.0 * 1024 * 1024;
    printf("\"plan_gib\": {\"weights\": %.3f, \"activations\": %.3f, \"scratch\": %.3f, \"optimizer\": %.4f, "
           "\"workspace\": %.3f, \"total\": %.3f}",
           m->weights / G, m->activations / G, m->scratch / G, m->optimizer / G, m->workspace / G,
           m->total / G);
}

static int cmd_plan(int argc, char **argv) {
    model_opts o;
    if (parse_opts(argc, argv, &o)) return 2;
    built b;
    sl_err err = {0};
    if (build_random(&o, &b)) return 1;
    sl_cuda_mem mem;
    if (api->plan(&b.d, &mem, &err)) {
        fprintf(stderr, "plan: %s\n", err.msg);
        return 1;
    }
    printf("{\"family\": \"%s\", \"layers\": %d, \"hidden\": %d, \"batch\": %d, \"seq\": %d, \"precision\": "
           "\"%s\", ",
           family_name(o.family), o.layers, o.hidden, o.batch, o.seq, prec_name(o.precision));
    print_plan(&mem);
    printf("}\n");
    built_free(&b);
    return 0;
}

static int devices(void) {
    int n = 0;
    sl_err err = {0};
    if (api->device_count(&n, &err) || n == 0) {
        printf("SKIP: no CUDA device visible\n");
        return 0;
    }
    char name[256];
    size_t mem = 0;
    int ma = 0, mi = 0;
    if (!api->device_info(0, name, sizeof name, &mem, &ma, &mi, &err))
        printf("device 0: %s, %.1f GiB, sm_%d%d; %s\n", name, mem / 1073741824.0, ma, mi, api->build);
    return n;
}

static int cmd_bench(int argc, char **argv) {
    model_opts o;
    if (parse_opts(argc, argv, &o)) return 2;
    if (!devices()) return 77;
    built b;
    sl_err err = {0};
    if (build_random(&o, &b)) return 1;
    sl_cuda_model *m = NULL;
    if (api->create(&b.d, 0, &m, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    const int B = o.batch, T = o.seq;
    int32_t *ids = malloc((size_t)B * T * sizeof(int32_t)), *mask = malloc((size_t)B * T * sizeof(int32_t));
    float *labels = malloc((size_t)B * sizeof(float));
    sl_rng r;
    sl_rng_init(&r, 7, 1);
    for (int i = 0; i < B * T; i++) {
        ids[i] = 5 + (int32_t)sl_rng_below(&r, (uint32_t)o.vocab - 6); /* below esm's <mask> (vocab - 1) */
        mask[i] = 1;
    }
    for (int i = 0; i < B; i++) labels[i] = (float)(i % 2);
    double t0 = 0, loss_sum = 0;
    int rc = 0;
    float loss = 0;
    for (int s = 0; s < o.warmup + o.steps && !rc; s++) {
        if (s == o.warmup) {
            rc = api->sync(m, &err);
            t0 = now();
        }
        double norm;
        int finite;
        rc = rc || api->zero_grad(m, &err);
        rc = rc || api->forward(m, ids, mask, B, T, labels, 1, 1, (uint64_t)s, &loss, &err);
        rc = rc || api->backward(m, 1.0f, &err);
        rc = rc || api->clip_grad_norm(m, 1.0, &norm, &finite, &err);
        rc = rc || api->adamw(m, 1e-4, 0.9, 0.999, 1e-8, 0.01, s + 1, &err);
        if (s >= o.warmup) loss_sum += loss;
    }
    rc = rc || api->sync(m, &err);
    double dt = now() - t0;
    /* where the time goes: 3 more steps, synchronised after each phase (host clock) */
    double tf = 0, tb = 0, to = 0;
    for (int s = 0; s < 3 && !rc; s++) {
        double norm, t1;
        int finite;
        rc = rc || api->zero_grad(m, &err);
        rc = rc || api->sync(m, &err);
        t1 = now();
        rc = rc ||
             api->forward(m, ids, mask, B, T, labels, 1, 1, (uint64_t)(o.warmup + o.steps + s), &loss, &err);
        rc = rc || api->sync(m, &err);
        tf += now() - t1;
        t1 = now();
        rc = rc || api->backward(m, 1.0f, &err);
        rc = rc || api->sync(m, &err);
        tb += now() - t1;
        t1 = now();
        rc = rc || api->clip_grad_norm(m, 1.0, &norm, &finite, &err);
        rc = rc || api->adamw(m, 1e-4, 0.9, 0.999, 1e-8, 0.01, o.warmup + o.steps + s + 1, &err);
        rc = rc || api->sync(m, &err);
        to += now() - t1;
    }
    sl_cuda_mem mem = {0};
    rc = rc || api->memory(m, &mem, &err);
    if (rc) {
        fprintf(stderr, "bench: %s\n", err.msg);
        api->destroy(m);
        return 1;
    }
    double sps = o.steps / dt, fl = step_flops(&o);
    printf(
        "{\"impl\": \"%s\", \"precision\": \"%s\", \"batch\": %d, \"seq\": %d, \"steps\": %d, "
        "\"steps_per_s\": %.3f, \"tokens_per_s\": %.0f, \"tflops\": %.1f, \"mfu_vs_790\": %.4f, "
        "\"peak_device_used_gib\": %.2f, \"mean_loss\": %.4f, \"ms_forward\": %.2f, \"ms_backward\": %.2f, "
        "\"ms_optimizer\": %.2f, ",
        o.family == SL_CUDA_FAMILY_BERT  ? "seqlora-cuda"
        : o.family == SL_CUDA_FAMILY_ESM ? "seqlora-esm"
                                         : "seqlora-d2",
        prec_name(o.precision), B, T, o.steps, sps, sps * B * T, fl * sps / 1e12, fl * sps / 790e12,
        mem.device_used_peak / 1073741824.0, loss_sum / o.steps, tf / 3 * 1e3, tb / 3 * 1e3, to / 3 * 1e3);
    print_plan(&mem);
    printf("}\n");
    api->destroy(m);
    built_free(&b);
    free(ids);
    free(mask);
    free(labels);
    return 0;
}

/* ---- parity with the CPU engine ---- */

static int failures;

static void verdict(const char *what, const char *prec, double v, double tol) {
    int ok = v <= tol; /* NaN fails */
    printf("%-4s %-5s %-34s %.3e (tolerance %.0e)\n", ok ? "PASS" : "FAIL", prec, what, v, tol);
    if (!ok) failures++;
}

#define NEED(ptr)                                                                                            \
    do {                                                                                                     \
        if (!(ptr)) {                                                                                        \
            fprintf(stderr, "check: reference record missing or malformed: %s\n", #ptr);                     \
            return 1;                                                                                        \
        }                                                                                                    \
    } while (0)

/* The device state is the arena and the AdamW moments: 6 steps in one model must equal 3 steps, the state
 * copied to the host (get_train), a new model created from it (set_train), and 3 more steps, byte for
 * byte. No clipping (its norm sums with double atomics, whose order a GPU does not fix); dropout on. */
static void resume_check(const sl_cuda_desc *d, const int32_t *ids, const int32_t *mask, int B, int T,
                         const float *labels, const double *hp, const float *tp0, size_t n) {
    float *st[2][3]; /* [run][params, m, v] */
    float *zeros = calloc(n, sizeof(float));
    int rc = 0;
    sl_err err = {0};
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 3; i++) st[r][i] = calloc(n, sizeof(float));
    for (int run = 0; run < 2 && !rc; run++) {
        sl_cuda_model *m = NULL;
        rc = api->create(d, 0, &m, &err);
        rc = rc || api->set_train(m, tp0, zeros, zeros, zeros, &err);
        for (int s = 0; s < 6 && !rc; s++) {
            if (run == 1 && s == 3) { /* "resume": state to the host, a fresh model from it */
                rc = rc || api->get_train(m, st[1][0], NULL, st[1][1], st[1][2], &err);
                api->destroy(m);
                m = NULL;
                rc = rc || api->create(d, 0, &m, &err);
                rc = rc || api->set_train(m, st[1][0], zeros, st[1][1], st[1][2], &err);
            }
            float loss;
            double norm;
            int finite;
            rc = rc || api->zero_grad(m, &err);
            rc = rc || api->forward(m, ids, mask, B, T, labels, 1, (uint64_t)hp[3], (uint64_t)s, &loss, &err);
            rc = rc || api->backward(m, 1.0f, &err);
            rc = rc || api->clip_grad_norm(m, 0.0, &norm, &finite, &err);
            rc = rc || api->adamw(m, hp[0], 0.9, 0.999, 1e-8, hp[1], s + 1, &err);
        }
        rc = rc || api->get_train(m, st[run][0], NULL, st[run][1], st[run][2], &err);
        if (m) api->destroy(m);
    }
    if (rc) {
        printf("FAIL fp32  resume: %s\n", err.msg);
        failures++;
    } else {
        int same = 1;
        for (int i = 0; i < 3; i++) same &= !memcmp(st[0][i], st[1][i], n * sizeof(float));
        printf("%-4s fp32  %-34s %s\n", same ? "PASS" : "FAIL", "resume after 3 of 6 steps",
               same ? "parameters and AdamW moments byte-identical" : "differs");
        if (!same) failures++;
    }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 3; i++) free(st[r][i]);
    free(zeros);
}

/* What the CPU engines refuse, the module refuses: base dropout in an ESM training forward (hidden or
 * attention), attention dropout in a DNABERT-2 one; SL_EUSAGE naming the setting, nothing run. */
static void refusal_check(const sl_cuda_desc *d0, const int32_t *ids, const int32_t *mask, int B, int T,
                          const float *labels) {
    if (d0->family == SL_CUDA_FAMILY_BERT) return;
    sl_cuda_desc d = *d0;
    if (d.family == SL_CUDA_FAMILY_ESM)
        d.hidden_dropout = 0.1f;
    else
        d.attn_dropout = 0.1f;
    sl_cuda_model *m = NULL;
    sl_err err = {0};
    float loss;
    int rc = api->create(&d, 0, &m, &err);
    if (!rc) rc = api->forward(m, ids, mask, B, T, labels, 1, 1, 0, &loss, &err);
    const int ok = rc == SL_EUSAGE && strstr(err.msg, "not implemented") != NULL;
    printf("%-4s fp32  %-34s %s\n", ok ? "PASS" : "FAIL", "base dropout refused in training",
           ok ? err.msg : "accepted, or another error");
    if (!ok) failures++;
    /* without dropout the same model runs */
    err.msg[0] = 0;
    rc = m ? api->forward(m, ids, mask, B, T, labels, 0, 0, 0, &loss, &err) : -1;
    printf("%-4s fp32  %-34s %s\n", rc ? "FAIL" : "PASS", "... and runs without dropout", rc ? err.msg : "");
    if (rc) failures++;
    if (m) api->destroy(m);
}

static int cmd_check(const char *path) {
    ref_file rf;
    char msg[512];
    if (ref_read(path, &rf, msg, sizeof msg)) {
        fprintf(stderr, "check: %s\n", msg);
        return 1;
    }
    const int32_t *dims = ref_get(&rf, "dims", REF_I32, 14, NULL);
    const float *fp = ref_get(&rf, "fparams", REF_F32, 6, NULL);
    const double *hp = ref_get(&rf, "hparams", REF_F64, 4, NULL);
    NEED(dims);
    NEED(fp);
    NEED(hp);
    const int L = dims[2], B = dims[11], T = dims[12], STEPS = dims[13], C = dims[6];
    sl_cuda_desc d = {.vocab = dims[0],
                      .hidden = dims[1],
                      .layers = L,
                      .heads = dims[3],
                      .inter = dims[4],
                      .max_pos = dims[5],
                      .num_labels = C,
                      .problem = dims[7],
                      .ln_eps = fp[0],
                      .hidden_dropout = fp[1],
                      .attn_dropout = fp[2],
                      .cls_dropout = fp[3],
                      .lora_r = dims[8],
                      .lora_scaling = fp[4],
                      .lora_dropout = fp[5],
                      .max_batch = dims[9],
                      .max_len = dims[10],
                      .training = 1};
    /* the family (ABI 2): absent = BERT, whose records are all required */
    const int32_t *fam = ref_get(&rf, "family", REF_I32, 7, NULL);
    if (fam) {
        d.family = fam[0];
        d.rotary = fam[1];
        d.token_dropout = fam[2];
        d.mask_token_id = fam[3];
        d.pad_token_id = fam[4];
        d.emb_ln_before = fam[5];
        d.gated_ffn = fam[6];
        d.after_w = ref_get(&rf, "after_w", REF_F32, 0, NULL);
        d.after_b = ref_get(&rf, "after_b", REF_F32, 0, NULL);
        d.rot_cos = ref_get(&rf, "rot_cos", REF_F32, 0, NULL);
        d.rot_sin = ref_get(&rf, "rot_sin", REF_F32, 0, NULL);
        d.alibi_slopes = ref_get(&rf, "alibi_slopes", REF_F32, 0, NULL);
    }
    const int bert = d.family == SL_CUDA_FAMILY_BERT;
    d.word = ref_get(&rf, "word", REF_F32, 0, NULL);
    d.pos = ref_get(&rf, "pos", REF_F32, 0, NULL);
    d.type = ref_get(&rf, "type", REF_F32, 0, NULL);
    d.emb_ln_w = ref_get(&rf, "emb_ln_w", REF_F32, 0, NULL);
    d.emb_ln_b = ref_get(&rf, "emb_ln_b", REF_F32, 0, NULL);
    const float **lp = calloc((size_t)L * SL_CUDA_LAYER_PTRS + 1, sizeof *lp);
    char name[64];
    for (int l = 0; l < L; l++)
        for (int k = 0; k < SL_CUDA_LAYER_PTRS; k++) {
            snprintf(name, sizeof name, "layer.%d.%d", l, k);
            lp[l * SL_CUDA_LAYER_PTRS + k] = ref_get(&rf, name, REF_F32, 0, NULL);
            /* other families: a bias-free Linear or a module the family lacks has no record (the module
             * rejects a missing weight or LayerNorm when the model is created) */
            if (bert) NEED(lp[l * SL_CUDA_LAYER_PTRS + k]);
        }
    d.layer = lp;
    d.lora_a_off = ref_get(&rf, "lora_a_off", REF_I64, (uint64_t)L * 6, NULL);
    d.lora_b_off = ref_get(&rf, "lora_b_off", REF_I64, (uint64_t)L * 6, NULL);
    const int64_t *head = ref_get(&rf, "head_off", REF_I64, 4, NULL);
    uint64_t nt = 0, n = 0;
    const int64_t *ts = ref_get(&rf, "tensor_sizes", REF_I64, 0, &nt);
    const float *tp0 = ref_get(&rf, "tparams0", REF_F32, 0, &n);
    NEED(d.word && d.lora_a_off && d.lora_b_off);
    if (bert) NEED(d.pos && d.type && d.emb_ln_w && d.emb_ln_b);
    NEED(head && ts && tp0);
    d.cls_w_off = head[0];
    d.cls_b_off = head[1];
    d.pool_w_off = head[2];
    d.pool_b_off = head[3];
    if (d.pool_w_off < 0) {
        d.pool_w = ref_get(&rf, "pool_w", REF_F32, 0, NULL);
        d.pool_b = ref_get(&rf, "pool_b", REF_F32, 0, NULL);
    }
    size_t *sizes = calloc(nt + 1, sizeof *sizes);
    for (uint64_t i = 0; i < nt; i++) sizes[i] = (size_t)ts[i];
    d.tensor_sizes = sizes;
    d.n_tensors = nt;
    d.tparams = tp0;
    d.n_train = n;
    const int32_t *ids = ref_get(&rf, "ids", REF_I32, (uint64_t)B * T, NULL);
    const int32_t *mask = ref_get(&rf, "mask", REF_I32, (uint64_t)B * T, NULL);
    const float *labels = ref_get(&rf, "labels", REF_F32, 0, NULL);
    const float *lg0 = ref_get(&rf, "logits_nodrop", REF_F32, (uint64_t)B * C, NULL);
    const float *lg1 = ref_get(&rf, "logits_drop", REF_F32, (uint64_t)B * C, NULL);
    const float *g0 = ref_get(&rf, "grads_nodrop", REF_F32, n, NULL);
    const float *g1 = ref_get(&rf, "grads_drop", REF_F32, n, NULL);
    const double *l0 = ref_get(&rf, "loss_nodrop", REF_F64, 1, NULL);
    const double *l1 = ref_get(&rf, "loss_drop", REF_F64, 1, NULL);
    const double *curve = ref_get(&rf, "curve", REF_F64, (uint64_t)STEPS, NULL);
    const float *tpf = ref_get(&rf, "tparams_final", REF_F32, n, NULL);
    NEED(ids && mask && labels && lg0 && lg1 && g0 && g1 && l0 && l1 && curve && tpf);
    /* the reference is complete: now the device */
    if (!devices()) {
        printf("reference %s: %zu records, n_train %llu, complete\n", path, rf.n, (unsigned long long)n);
        free(sizes);
        free(lp);
        ref_free(&rf);
        return 77;
    }
    float *logits = malloc((size_t)B * C * sizeof(float)), *grads = malloc(n * sizeof(float)),
          *params = malloc(n * sizeof(float)), *zeros = calloc(n, sizeof(float));
    const int precs[] = {SL_CUDA_FP32, SL_CUDA_BF16, SL_CUDA_FP16};
    for (int pi = 0; pi < 3; pi++) {
        const int prec = precs[pi];
        const char *pn = prec_name(prec);
        /* fp32: the stated 1e-4; bf16/fp16 GEMM operands (8/11-bit mantissas): 2e-2 */
        const double tol = prec == SL_CUDA_FP32 ? 1e-4 : 2e-2, ctol = prec == SL_CUDA_FP32 ? 1e-3 : 5e-2;
        /* fp16: a static loss scale keeps the activation gradients out of fp16's subnormal range (the
         * trainer uses the dynamic scaler of src/nn/backend.c); the gradients are unscaled before use */
        const float ls = prec == SL_CUDA_FP16 ? 1024.0f : 1.0f;
        d.precision = prec;
        sl_cuda_model *m = NULL;
        sl_err err = {0};
        if (api->create(&d, 0, &m, &err)) {
            printf("FAIL %-5s create: %s\n", pn, err.msg);
            failures++;
            continue;
        }
        float loss = 0;
        int rc = 0;
        /* poison the host buffers so that unwritten values show */
        for (size_t i = 0; i < n; i++) grads[i] = NAN;
        for (int i = 0; i < B * C; i++) logits[i] = NAN;
        rc = rc || api->zero_grad(m, &err);
        rc = rc || api->forward(m, ids, mask, B, T, labels, 0, 0, 0, &loss, &err);
        rc = rc || api->get_logits(m, logits, &err);
        rc = rc || api->backward(m, ls, &err);
        rc = rc || (ls != 1.0f && api->scale_grads(m, 1.0f / ls, &err));
        rc = rc || api->get_train(m, NULL, grads, NULL, NULL, &err);
        if (rc) {
            printf("FAIL %-5s %s\n", pn, err.msg);
            failures++;
            api->destroy(m);
            continue;
        }
        verdict("logits, dropout off", pn, rel_l2(logits, lg0, (size_t)B * C), tol);
        verdict("loss, dropout off", pn, fabs(loss - *l0) / fabs(*l0), tol);
        verdict("LoRA+head grads, dropout off", pn, rel_l2(grads, g0, n), tol);
        /* a sub-batch of the first rows (fewer rows than heads: the other attention-GEMM loop) */
        const int Bs = B / 2;
        rc = rc || api->forward(m, ids, mask, Bs, T, labels, 0, 0, 0, &loss, &err);
        for (int i = 0; i < Bs * C; i++) logits[i] = NAN;
        rc = rc || api->get_logits(m, logits, &err);
        if (!rc) verdict("logits of a sub-batch, dropout off", pn, rel_l2(logits, lg0, (size_t)Bs * C), tol);
        for (size_t i = 0; i < n; i++) grads[i] = NAN;
        rc = rc || api->zero_grad(m, &err);
        rc = rc || api->forward(m, ids, mask, B, T, labels, 1, (uint64_t)hp[3], 3, &loss, &err);
        rc = rc || api->get_logits(m, logits, &err);
        rc = rc || api->backward(m, ls, &err);
        rc = rc || (ls != 1.0f && api->scale_grads(m, 1.0f / ls, &err));
        rc = rc || api->get_train(m, NULL, grads, NULL, NULL, &err);
        if (!rc) {
            verdict("logits, dropout on (Philox masks)", pn, rel_l2(logits, lg1, (size_t)B * C), tol);
            verdict("loss, dropout on", pn, fabs(loss - *l1) / fabs(*l1), tol);
            verdict("LoRA+head grads, dropout on", pn, rel_l2(grads, g1, n), tol);
        }
        /* 50 AdamW steps from the same start, as refgen */
        rc = rc || api->set_train(m, tp0, zeros, zeros, zeros, &err);
        double worst = 0;
        printf("     %-5s loss curve (step: cpu gpu):", pn);
        for (int s = 0; s < STEPS && !rc; s++) {
            double norm;
            int finite;
            rc = rc || api->zero_grad(m, &err);
            rc = rc || api->forward(m, ids, mask, B, T, labels, 1, (uint64_t)hp[3], (uint64_t)s, &loss, &err);
            rc = rc || api->backward(m, ls, &err);
            rc = rc || (ls != 1.0f && api->scale_grads(m, 1.0f / ls, &err));
            rc = rc || api->clip_grad_norm(m, hp[2], &norm, &finite, &err);
            rc = rc || api->adamw(m, hp[0], 0.9, 0.999, 1e-8, hp[1], s + 1, &err);
            /* relative to the starting loss: the curve, not the last digits of a loss near 0 */
            double rd = fabs(loss - curve[s]) / fabs(curve[0]);
            if (!(rd <= worst)) worst = rd;
            if (s % 10 == 0 || s == STEPS - 1) printf(" %d: %.5f %.5f", s, curve[s], loss);
        }
        printf("\n");
        rc = rc || api->get_train(m, params, NULL, NULL, NULL, &err);
        if (rc) {
            printf("FAIL %-5s %s\n", pn, err.msg);
            failures++;
        } else {
            verdict("50-step loss curve, max |diff| / loss0", pn, worst, ctol);
            verdict("parameters after 50 steps", pn, rel_l2(params, tpf, n), ctol);
        }
        sl_cuda_mem mem;
        if (!api->memory(m, &mem, &err))
            printf("     %-5s model allocation %.1f MiB, device in use at peak %.1f MiB\n", pn,
                   mem.total / 1048576.0, mem.device_used_peak / 1048576.0);
        api->destroy(m);
        /* inference (training = 0: one activation set, ping-pong hidden states; the predict/serve path) */
        d.training = 0;
        err.code = 0;
        err.msg[0] = 0;
        rc = api->create(&d, 0, &m, &err);
        for (int i = 0; i < B * C; i++) logits[i] = NAN;
        rc = rc || api->forward(m, ids, mask, B, T, NULL, 0, 0, 0, NULL, &err);
        rc = rc || api->get_logits(m, logits, &err);
        if (rc) {
            printf("FAIL %-5s inference model: %s\n", pn, err.msg);
            failures++;
        } else {
            verdict("inference model logits", pn, rel_l2(logits, lg0, (size_t)B * C), tol);
        }
        if (m) api->destroy(m);
        m = NULL;
        d.training = 1;
        if (prec == SL_CUDA_FP32) {
            resume_check(&d, ids, mask, B, T, labels, hp, tp0, n);
            refusal_check(&d, ids, mask, B, T, labels);
        }
    }
    free(logits);
    free(grads);
    free(params);
    free(zeros);
    free(sizes);
    free(lp);
    ref_free(&rf);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODULE.so plan|check|bench [args]\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 1;
    }
    sl_cuda_get_api_fn get = NULL;
    *(void **)&get = dlsym(h, "sl_cuda_get_api");
    api = get ? get() : NULL;
    if (!api || api->abi != SL_CUDA_ABI) {
        fprintf(stderr, "%s: not a seqlora CUDA module of ABI %d\n", argv[1], SL_CUDA_ABI);
        return 1;
    }
    if (!strcmp(argv[2], "plan")) return cmd_plan(argc - 3, argv + 3);
    if (!strcmp(argv[2], "bench")) return cmd_bench(argc - 3, argv + 3);
    if (!strcmp(argv[2], "check") && argc == 4) return cmd_check(argv[3]);
    fprintf(stderr, "usage: %s MODULE.so plan|check REF.bin|bench [args]\n", argv[0]);
    return 2;
}
