// GPU tests of the backend's kernels (src/nn/cuda/kernels.cu), each against a CPU reference written here
// in double precision (or, for the Philox masks, the shared element code of elem.h run on the host).
// Fresh random inputs from Philox; outputs poisoned with NaN bytes before each launch, so that an
// unwritten element fails. Exit 77 (ctest: SKIPPED) without a CUDA device.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "nn/cuda/check.h"
#include "nn/cuda/elem.h"
#include "nn/cuda/kernels.h"

static int failures = 0;
static sl_rng rng;

static std::vector<float> rnd(size_t n, float lo, float hi) {
    std::vector<float> x(n);
    for (auto &v : x) v = lo + (hi - lo) * (float)sl_rng_uniform(&rng);
    return x;
}

template <typename T> static T *dev(const std::vector<T> &h) {
    T *p = nullptr;
    if (cudaMalloc((void **)&p, h.size() * sizeof(T) + 16) != cudaSuccess) {
        fprintf(stderr, "cudaMalloc failed\n");
        exit(1);
    }
    cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice);
    return p;
}

template <typename T> static T *poisoned(size_t n) {
    T *p = nullptr;
    if (cudaMalloc((void **)&p, n * sizeof(T) + 16) != cudaSuccess) exit(1);
    cudaMemset(p, 0xff, n * sizeof(T));
    return p;
}

template <typename T> static std::vector<T> host(const T *d, size_t n) {
    std::vector<T> h(n);
    cudaDeviceSynchronize();
    cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
}

static double rel(const std::vector<float> &a, const std::vector<double> &b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); i++) {
        if (!isfinite(a[i])) return INFINITY;
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void verdict(const char *what, double v, double tol) {
    bool ok = v <= tol;
    printf("%s %-40s %.3e (tolerance %.0e)\n", ok ? "PASS" : "FAIL", what, v, tol);
    if (!ok) failures++;
}

static void ok_rc(int rc, const sl_err &err) {
    if (rc) {
        printf("FAIL launch: %s\n", err.msg);
        failures++;
    }
}

static void test_layernorm() {
    sl_err err{};
    const int N = 37, H = 300;
    auto x = rnd((size_t)N * H, -2, 3), w = rnd(H, 0.5f, 1.5f), b = rnd(H, -0.2f, 0.2f),
         dy = rnd((size_t)N * H, -1, 1);
    float *dx_ = dev(x), *dw = dev(w), *db = dev(b), *ddy = dev(dy);
    float *y = poisoned<float>((size_t)N * H), *mean = poisoned<float>(N), *rstd = poisoned<float>(N);
    ok_rc(sl_cuda_layernorm(y, mean, rstd, dx_, dw, db, N, H, 1e-12f, 0, &err), err);
    std::vector<double> ry((size_t)N * H), rdx((size_t)N * H);
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int j = 0; j < H; j++) m += x[i * H + j];
        m /= H;
        for (int j = 0; j < H; j++) v += (x[i * H + j] - m) * (x[i * H + j] - m);
        v /= H;
        double rs = 1 / sqrt(v + 1e-12);
        double a = 0, c = 0;
        for (int j = 0; j < H; j++) {
            double xh = (x[i * H + j] - m) * rs;
            ry[i * H + j] = xh * w[j] + b[j];
            a += dy[i * H + j] * w[j];
            c += dy[i * H + j] * w[j] * xh;
        }
        a /= H;
        c /= H;
        for (int j = 0; j < H; j++) {
            double xh = (x[i * H + j] - m) * rs;
            rdx[i * H + j] = rs * (dy[i * H + j] * w[j] - a - xh * c);
        }
    }
    verdict("layernorm forward", rel(host(y, (size_t)N * H), ry), 1e-6);
    float *dxo = poisoned<float>((size_t)N * H);
    ok_rc(sl_cuda_layernorm_bwd(dxo, ddy, dx_, mean, rstd, dw, N, H, 0, 0, &err), err);
    verdict("layernorm backward", rel(host(dxo, (size_t)N * H), rdx), 1e-5);
    ok_rc(sl_cuda_layernorm_bwd(dxo, ddy, dx_, mean, rstd, dw, N, H, 1, 0, &err), err);
    for (auto &v : rdx) v *= 2;
    verdict("layernorm backward, accumulate", rel(host(dxo, (size_t)N * H), rdx), 1e-5);
}

static void test_embed_gelu() {
    sl_err err{};
    const int V = 50, T = 9, H = 40, N = 3 * T;
    auto word = rnd((size_t)V * H, -1, 1), pos = rnd((size_t)T * H, -1, 1), type = rnd(H, -1, 1);
    std::vector<int32_t> ids(N);
    for (auto &v : ids) v = (int32_t)sl_rng_below(&rng, V);
    float *x = poisoned<float>((size_t)N * H);
    int32_t *dids = dev(ids);
    ok_rc(sl_cuda_embed(x, dids, dev(word), dev(pos), dev(type), N, T, H, 0, &err), err);
    std::vector<double> ref((size_t)N * H), gref((size_t)V * H, 0.0);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < H; j++)
            ref[i * H + j] = (double)word[ids[i] * H + j] + pos[(i % T) * H + j] + type[j];
    verdict("embedding gather", rel(host(x, (size_t)N * H), ref), 1e-7);
    auto dx = rnd((size_t)N * H, -1, 1);
    std::vector<float> zero((size_t)V * H, 0.0f);
    float *gw = dev(zero);
    ok_rc(sl_cuda_embed_bwd(gw, dids, dev(dx), N, H, 0, &err), err);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < H; j++) gref[ids[i] * H + j] += dx[i * H + j];
    verdict("embedding gradient (scatter-add)", rel(host(gw, (size_t)V * H), gref), 1e-6);
    const size_t n = 100003;
    auto g = rnd(n, -7, 7), dy = rnd(n, -1, 1);
    float *dg = dev(g), *y = poisoned<float>(n), *dz = poisoned<float>(n);
    ok_rc(sl_cuda_gelu_fwd(y, dg, n, 0, &err), err);
    ok_rc(sl_cuda_gelu_bwd(dz, dev(dy), dg, n, 0, &err), err);
    std::vector<double> r1(n), r2(n);
    for (size_t i = 0; i < n; i++) {
        double v = g[i], cdf = 0.5 * (1 + erf(v / sqrt(2.0)));
        r1[i] = v * cdf;
        r2[i] = dy[i] * (cdf + v * exp(-0.5 * v * v) / sqrt(2 * M_PI));
    }
    verdict("gelu forward (exact erf)", rel(host(y, n), r1), 1e-6);
    verdict("gelu backward", rel(host(dz, n), r2), 1e-6);
}

static void test_dropout() {
    sl_err err{};
    const size_t n = 70001;
    const float p = 0.3f;
    const uint64_t seed = 99, hi = sl_cuda_drop_hi(4, 2, 3), base = 5;
    auto x = rnd(n, -1, 1);
    float *dx = dev(x), *y = poisoned<float>(n);
    ok_rc(sl_cuda_dropout(y, dx, n, p, seed, hi, base, 0, &err), err);
    auto hy = host(y, n);
    const uint32_t thr = sl_cuda_drop_thr(p);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float want =
            sl_cuda_keep(sl_cuda_drop_key(seed), hi, base + i, thr) ? x[i] * (1.0f / (1.0f - p)) : 0.0f;
        if (hy[i] != want) bad++;
    }
    verdict("dropout = host Philox mask (mismatches)", (double)bad, 0);
    const size_t tasks = 5, len = 333, words = (len + 63) / 64;
    uint64_t *bits = poisoned<uint64_t>(tasks * words);
    ok_rc(sl_cuda_dropout_bits(bits, tasks, len, p, seed, hi, 0, &err), err);
    auto hb = host(bits, tasks * words);
    bad = 0;
    for (size_t t = 0; t < tasks; t++)
        for (size_t i = 0; i < len; i++) {
            int k = sl_cuda_keep(sl_cuda_drop_key(seed), hi, t * len + i, thr);
            if ((int)((hb[t * words + i / 64] >> (i % 64)) & 1) != k) bad++;
        }
    verdict("dropout keep bits (mismatches)", (double)bad, 0);
    auto px = rnd(tasks * len, 0, 1);
    float *dpx = dev(px), *py = poisoned<float>(tasks * len), *pz = poisoned<float>(tasks * len);
    ok_rc(sl_cuda_apply_bits(py, dpx, bits, tasks, len, 2.0f, 0, &err), err);
    ok_rc(sl_cuda_dropout(pz, dpx, tasks * len, p, seed, hi, 0, 0, &err), err);
    auto a = host(py, tasks * len), b = host(pz, tasks * len);
    bad = 0;
    for (size_t i = 0; i < a.size(); i++) {
        int k = sl_cuda_keep(sl_cuda_drop_key(seed), hi, i, thr);
        if (a[i] != (k ? px[i] * 2.0f : 0.0f) || (b[i] != 0.0f) != (k != 0)) bad++;
    }
    verdict("apply bits = dropout mask (mismatches)", (double)bad, 0);
}

static void test_softmax() {
    sl_err err{};
    const int B = 3, NH = 2, T = 45;
    const size_t rows = (size_t)B * NH * T;
    auto P = rnd(rows * T, -4, 4), dP = rnd(rows * T, -1, 1);
    std::vector<int32_t> mask((size_t)B * T);
    const int lens[3] = {T, 17, 1};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) mask[b * T + t] = t < lens[b];
    float *dPm = dev(P), *ddP = dev(dP);
    ok_rc(sl_cuda_softmax_mask(dPm, dev(mask), B, NH, T, 0, &err), err);
    std::vector<double> ref(rows * T), gref(rows * T);
    for (size_t r = 0; r < rows; r++) {
        const int b = (int)(r / (NH * T));
        double mx = -INFINITY, s = 0;
        for (int k = 0; k < T; k++)
            if (mask[b * T + k]) mx = fmax(mx, P[r * T + k]);
        for (int k = 0; k < T; k++) s += mask[b * T + k] ? exp(P[r * T + k] - mx) : 0;
        double dot = 0;
        for (int k = 0; k < T; k++) {
            ref[r * T + k] = mask[b * T + k] ? exp(P[r * T + k] - mx) / s : 0;
            dot += ref[r * T + k] * dP[r * T + k];
        }
        for (int k = 0; k < T; k++) gref[r * T + k] = ref[r * T + k] * (dP[r * T + k] - dot);
    }
    auto hp = host(dPm, rows * T);
    verdict("masked softmax", rel(hp, ref), 1e-6);
    size_t leaked = 0;
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < T; k++)
            if (!mask[(r / (NH * T)) * T + k] && hp[r * T + k] != 0.0f) leaked++;
    verdict("padding keys get exactly 0 (count)", (double)leaked, 0);
    ok_rc(sl_cuda_softmax_bwd(ddP, dPm, rows, T, 0, &err), err);
    verdict("softmax backward", rel(host(ddP, rows * T), gref), 1e-5);
    /* the fused softmax+dropout kernels equal the two-kernel sequences bit for bit (T * T = 2025: the keep
     * bits of a row straddle 64-bit words) */
    const size_t tasks = (size_t)B * NH, len = (size_t)T * T, words = (len + 63) / 64;
    const float p = 0.25f, sc = 1.0f / (1.0f - p);
    uint64_t *bits = poisoned<uint64_t>(tasks * words);
    ok_rc(sl_cuda_dropout_bits(bits, tasks, len, p, 5, 77, 0, &err), err);
    float *P1 = dev(P), *P2 = dev(P), *Pd1 = poisoned<float>(rows * T), *Pd2 = poisoned<float>(rows * T);
    int32_t *dmask = dev(mask);
    ok_rc(sl_cuda_softmax_mask(P1, dmask, B, NH, T, 0, &err), err);
    ok_rc(sl_cuda_apply_bits(Pd1, P1, bits, tasks, len, sc, 0, &err), err);
    ok_rc(sl_cuda_softmax_mask_drop(P2, Pd2, dmask, bits, sc, B, NH, T, 0, &err), err);
    const bool same_p = host(P1, rows * T) == host(P2, rows * T),
               same_pd = host(Pd1, rows * T) == host(Pd2, rows * T);
    verdict("fused softmax+dropout = softmax, apply (bits)", same_p && same_pd ? 0.0 : 1.0, 0);
    float *g1 = dev(dP), *g2 = dev(dP);
    ok_rc(sl_cuda_apply_bits(g1, g1, bits, tasks, len, sc, 0, &err), err);
    ok_rc(sl_cuda_softmax_bwd(g1, P1, rows, T, 0, &err), err);
    ok_rc(sl_cuda_softmax_bwd_drop(g2, P1, bits, sc, rows, T, 0, &err), err);
    verdict("fused dropout+softmax backward = apply, backward",
            host(g1, rows * T) == host(g2, rows * T) ? 0.0 : 1.0, 0);
}

static void test_losses_small() {
    sl_err err{};
    const int B = 6, C = 4;
    auto x = rnd((size_t)B * C, -3, 3);
    float *dx = dev(x), *g = poisoned<float>((size_t)B * C);
    double *part = poisoned<double>((size_t)B * C);
    for (int problem = 0; problem < 3; problem++) {
        std::vector<float> y;
        if (problem == 0)
            for (int b = 0; b < B; b++) y.push_back((float)(b % C));
        else
            y = problem == 1 ? std::vector<float>(B * C, 0.0f) : rnd((size_t)B * C, -2, 2);
        if (problem == 1)
            for (int i = 0; i < B * C; i++) y[i] = (float)(sl_rng_below(&rng, 2));
        ok_rc(sl_cuda_loss(part, g, dx, dev(y), B, C, problem, 0, &err), err);
        const size_t np = problem == 0 ? B : (size_t)B * C;
        auto hp = host(part, np);
        double loss = 0, ref = 0;
        for (double v : hp) loss += v;
        loss /= (double)np;
        std::vector<double> gref((size_t)B * C);
        for (int b = 0; b < B; b++) {
            if (problem == 0) {
                double mx = -INFINITY, s = 0;
                for (int c = 0; c < C; c++) mx = fmax(mx, x[b * C + c]);
                for (int c = 0; c < C; c++) s += exp(x[b * C + c] - mx);
                int t = (int)y[b];
                ref += mx + log(s) - x[b * C + t];
                for (int c = 0; c < C; c++) gref[b * C + c] = (exp(x[b * C + c] - mx) / s - (c == t)) / B;
            } else
                for (int c = 0; c < C; c++) {
                    double xi = x[b * C + c], yi = y[b * C + c];
                    if (problem == 1) {
                        double sg = 1 / (1 + exp(-xi));
                        ref += -(yi * log(sg) + (1 - yi) * log(1 - sg));
                        gref[b * C + c] = (sg - yi) / (B * C);
                    } else {
                        ref += (xi - yi) * (xi - yi);
                        gref[b * C + c] = 2 * (xi - yi) / (B * C);
                    }
                }
        }
        ref /= (double)np;
        char what[64];
        snprintf(what, sizeof what, "loss value, problem %d", problem);
        verdict(what, fabs(loss - ref) / fabs(ref), 1e-9);
        snprintf(what, sizeof what, "loss gradient, problem %d", problem);
        verdict(what, rel(host(g, (size_t)B * C), gref), 1e-6);
    }
}

static void test_misc() {
    sl_err err{};
    const size_t n = 50021;
    auto x = rnd(n, -300, 300);
    float *dx = dev(x);
    __nv_bfloat16 *hb = poisoned<__nv_bfloat16>(n);
    __half *hh = poisoned<__half>(n);
    ok_rc(sl_cuda_to_bf16(hb, dx, n, 0, &err), err);
    ok_rc(sl_cuda_to_fp16(hh, dx, n, 0, &err), err);
    auto b = host(hb, n);
    auto h = host(hh, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        /* round to nearest even, checked bit-exactly against the host conversions of cuda_bf16.h / fp16.h */
        __nv_bfloat16 rb = __float2bfloat16_rn(x[i]);
        __half rh = __float2half_rn(x[i]);
        if (memcmp(&rb, &b[i], 2) || memcmp(&rh, &h[i], 2)) bad++;
    }
    verdict("bf16/fp16 casts (mismatches)", (double)bad, 0);
    /* sum of squares, AdamW, bias/tanh, column sums */
    double *acc = dev(std::vector<double>(1, 0.0));
    ok_rc(sl_cuda_sumsq(acc, dx, n, 0, &err), err);
    double ss = 0;
    for (float v : x) ss += (double)v * v;
    verdict("sum of squares", fabs(host(acc, 1)[0] - ss) / ss, 1e-12);
    const size_t m = 4099;
    auto p = rnd(m, -1, 1), g = rnd(m, -1, 1), mo = rnd(m, -0.1f, 0.1f), vo = rnd(m, 0, 0.01f);
    float *dp = dev(p), *dm = dev(mo), *dv = dev(vo);
    const double lr = 1e-3, wd = 0.01;
    const long long t = 7;
    sl_cuda_adamw_k k;
    k.decay = (float)(1 - lr * wd);
    k.b1 = 0.9f;
    k.b2 = 0.999f;
    k.omb1 = (float)(1 - 0.9);
    k.omb2 = (float)(1 - 0.999);
    k.step_size = (float)(lr / (1 - pow(0.9, t)));
    k.bc2s = (float)sqrt(1 - pow(0.999, t));
    k.eps = 1e-8f;
    ok_rc(sl_cuda_adamw(dp, dev(g), dm, dv, m, k, 0, &err), err);
    std::vector<double> rp(m);
    for (size_t i = 0; i < m; i++) {
        double mm = 0.9 * mo[i] + 0.1 * g[i], vv = 0.999 * vo[i] + 0.001 * (double)g[i] * g[i];
        double mh = mm / (1 - pow(0.9, t)), vh = vv / (1 - pow(0.999, t));
        rp[i] = p[i] * (1 - lr * wd) - lr * mh / (sqrt(vh) + 1e-8);
    }
    verdict("AdamW step (torch.optim.AdamW)", rel(host(dp, m), rp), 1e-6);
    const int N = 13, W = 70;
    auto y = rnd((size_t)N * W, -2, 2), bias = rnd(W, -1, 1);
    float *dy = dev(y), *gcol = dev(std::vector<float>(W, 1.0f));
    ok_rc(sl_cuda_colsum_add(gcol, dy, N, W, W, 0, &err), err);
    std::vector<double> rc(W, 1.0), rt((size_t)N * W);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < W; j++) {
            rc[j] += y[i * W + j];
            rt[i * W + j] = tanh((double)y[i * W + j] + bias[j]);
        }
    verdict("column sums (bias gradients)", rel(host(gcol, W), rc), 1e-6);
    ok_rc(sl_cuda_bias(dy, dev(bias), N, W, 1, 0, &err), err);
    verdict("bias + tanh (pooler)", rel(host(dy, (size_t)N * W), rt), 1e-6);
}

/* The ESM / DNABERT-2 kernels against references written here in double from the published math
 * (transformers modeling_esm.py, bert_layers.py), not from elem.h. */
static void test_families() {
    sl_err err{};
    /* embeddings without positions (DNABERT-2) */
    {
        const int V = 30, T = 7, H = 24, N = 2 * T;
        auto word = rnd((size_t)V * H, -1, 1), type = rnd(H, -1, 1);
        std::vector<int32_t> ids(N);
        for (auto &v : ids) v = (int32_t)sl_rng_below(&rng, V);
        float *x = poisoned<float>((size_t)N * H);
        ok_rc(sl_cuda_embed(x, dev(ids), dev(word), nullptr, dev(type), N, T, H, 0, &err), err);
        std::vector<double> ref((size_t)N * H);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < H; j++) ref[i * H + j] = (double)word[ids[i] * H + j] + type[j];
        verdict("embed without positions (DNABERT-2)", rel(host(x, (size_t)N * H), ref), 1e-7);
    }
    /* ESM embeddings: token dropout scaling, <mask> rows 0, pad-aware absolute positions; zero_rows */
    {
        const int V = 33, T = 9, H = 20, B = 3, N = B * T, P = 16, mask_id = 32;
        auto word = rnd((size_t)V * H, -1, 1), pos = rnd((size_t)P * H, -1, 1);
        std::vector<int32_t> ids(N), pid(N), mk(N);
        std::vector<float> div(B);
        for (int i = 0; i < N; i++) {
            ids[i] = i % 5 == 2 ? mask_id : 2 + (int32_t)sl_rng_below(&rng, V - 3);
            pid[i] = (int32_t)sl_rng_below(&rng, P);
            mk[i] = i % T < T - 1 - i / T;
        }
        for (int b = 0; b < B; b++) div[b] = 0.5f + 0.1f * (float)b;
        float *x = poisoned<float>((size_t)N * H);
        int32_t *dpid = dev(pid), *dmk = dev(mk);
        float *dword = dev(word), *dpos = dev(pos), *ddiv = dev(div);
        ok_rc(sl_cuda_embed_esm(x, dev(ids), dword, dpos, dpid, ddiv, mask_id, N, T, H, 0, &err), err);
        std::vector<double> ref((size_t)N * H), ref2((size_t)N * H);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < H; j++) {
                double w = ids[i] == mask_id ? 0.0 : (double)word[ids[i] * H + j] * 0.88 / div[i / T];
                ref[i * H + j] = w + pos[pid[i] * H + j];
                ref2[i * H + j] = mk[i] ? ref[i * H + j] : 0.0;
            }
        verdict("ESM embeddings (token dropout, positions)", rel(host(x, (size_t)N * H), ref), 1e-6);
        ok_rc(sl_cuda_zero_rows(x, dmk, N, H, 0, &err), err);
        verdict("zero padding rows", rel(host(x, (size_t)N * H), ref2), 1e-6);
        float *y = poisoned<float>((size_t)N * H);
        ok_rc(sl_cuda_embed_esm(y, dev(ids), dword, nullptr, nullptr, nullptr, mask_id, N, T, H, 0, &err),
              err);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < H; j++) ref[i * H + j] = word[ids[i] * H + j];
        verdict("ESM embeddings (rotary model: word only)", rel(host(y, (size_t)N * H), ref), 1e-7);
    }
    /* rotary: forward, then the inverse restores the input; strided rows (ld > nh * d) */
    {
        const int T = 11, nh = 3, d = 8, ld = nh * d + 5, N = 2 * T;
        auto x = rnd((size_t)N * ld, -1, 1);
        std::vector<float> ct((size_t)T * d), st((size_t)T * d);
        std::vector<double> ref(x.begin(), x.end());
        for (int t = 0; t < T; t++)
            for (int i = 0; i < d / 2; i++) {
                double f = t / pow(10000.0, 2.0 * i / d);
                ct[t * d + i] = ct[t * d + i + d / 2] = (float)cos(f);
                st[t * d + i] = st[t * d + i + d / 2] = (float)sin(f);
            }
        for (int r = 0; r < N; r++)
            for (int h = 0; h < nh; h++)
                for (int i = 0; i < d / 2; i++) {
                    const size_t o = (size_t)r * ld + h * d;
                    const int t = r % T;
                    double x1 = x[o + i], x2 = x[o + i + d / 2];
                    ref[o + i] = x1 * ct[t * d + i] - x2 * st[t * d + i];
                    ref[o + i + d / 2] = x2 * ct[t * d + i] + x1 * st[t * d + i];
                }
        float *dx = dev(x), *dct = dev(ct), *dst = dev(st);
        ok_rc(sl_cuda_rotary(dx, dct, dst, N, T, nh, d, ld, 0, 0, &err), err);
        verdict("rotary forward (strided rows)", rel(host(dx, (size_t)N * ld), ref), 1e-6);
        ok_rc(sl_cuda_rotary(dx, dct, dst, N, T, nh, d, ld, 1, 0, &err), err);
        std::vector<double> orig(x.begin(), x.end());
        verdict("rotary inverse restores the input", rel(host(dx, (size_t)N * ld), orig), 1e-6);
    }
    /* ALiBi */
    {
        const int B = 2, nh = 6, T = 13;
        const size_t n = (size_t)B * nh * T * T;
        auto P = rnd(n, -2, 2), slopes = rnd(nh, 0.01f, 0.5f);
        std::vector<double> ref(n);
        for (size_t e = 0; e < n; e++) {
            int j = (int)(e % T), i = (int)(e / T % T), h = (int)(e / ((size_t)T * T) % nh);
            ref[e] = P[e] - (double)slopes[h] * fabs((double)(i - j));
        }
        float *dP = dev(P);
        ok_rc(sl_cuda_alibi_add(dP, dev(slopes), B, nh, T, 0, &err), err);
        verdict("ALiBi bias added", rel(host(dP, n), ref), 1e-6);
    }
    /* gated units: SwiGLU (NT v2), GeGLU (DNABERT-2), forward and backward */
    for (int kind = 0; kind < 2; kind++) {
        const int N = 17, ni = 45;
        auto x = rnd((size_t)N * 2 * ni, -3, 3), dy = rnd((size_t)N * ni, -1, 1);
        std::vector<double> ry((size_t)N * ni), rdx((size_t)N * 2 * ni);
        for (int r = 0; r < N; r++)
            for (int j = 0; j < ni; j++) {
                double a = x[r * 2 * ni + j], g = x[r * 2 * ni + ni + j], act, dact;
                if (kind == SL_CUDA_GLU_SWI) {
                    double sg = 1 / (1 + exp(-a));
                    act = a * sg;
                    dact = sg * (1 + a * (1 - sg));
                } else {
                    double cdf = 0.5 * (1 + erf(a / sqrt(2.0)));
                    act = a * cdf;
                    dact = cdf + a * exp(-0.5 * a * a) / sqrt(2 * M_PI);
                }
                ry[r * ni + j] = act * g;
                rdx[r * 2 * ni + j] = dy[r * ni + j] * g * dact;
                rdx[r * 2 * ni + ni + j] = dy[r * ni + j] * act;
            }
        float *dxin = dev(x), *y = poisoned<float>((size_t)N * ni), *dx = poisoned<float>((size_t)N * 2 * ni);
        ok_rc(sl_cuda_glu(y, dxin, N, ni, kind, 0, &err), err);
        ok_rc(sl_cuda_glu_bwd(dx, dev(dy), dxin, N, ni, kind, 0, &err), err);
        verdict(kind ? "GeGLU forward" : "SwiGLU forward", rel(host(y, (size_t)N * ni), ry), 1e-6);
        verdict(kind ? "GeGLU backward" : "SwiGLU backward", rel(host(dx, (size_t)N * 2 * ni), rdx), 1e-6);
    }
}

int main() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    sl_rng_init(&rng, 20261128, 9);
    test_layernorm();
    test_embed_gelu();
    test_dropout();
    test_softmax();
    test_losses_small();
    test_misc();
    test_families();
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        printf("FAIL device error: %s\n", cudaGetErrorString(e));
        failures++;
    }
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
