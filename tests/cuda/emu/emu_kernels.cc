// Host implementations of the kernel launchers of src/nn/cuda/kernels.h, for the emulated module
// (tests/cuda/emu/): they let src/nn/cuda/model.cu — the orchestration: GEMM shapes and transposes,
// strides, buffer aliasing, dropout streams, the backward order — run on a machine without a GPU, against
// the CPU engine's reference. The kernels themselves are tested on a GPU by tests/cuda/test_kernels.cu.
// Same element code (elem.h) and the same double-precision row statistics as the kernels.
#include <math.h>
#include <string.h>

#include "nn/cuda/elem.h"
#include "nn/cuda/kernels.h"

int sl_cuda_embed(float *x, const int32_t *ids, const float *word, const float *pos, const float *type, int N,
                  int T, int H, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < (size_t)N * H; i++) {
        size_t row = i / H;
        int j = (int)(i % H), t = (int)(row % T);
        x[i] = pos ? word[(size_t)ids[row] * H + j] + pos[(size_t)t * H + j] + type[j]
                   : word[(size_t)ids[row] * H + j] + type[j];
    }
    return 0;
}

int sl_cuda_embed_bwd(float *gword, const int32_t *ids, const float *dx, int N, int H, cudaStream_t,
                      sl_err *) {
    for (size_t i = 0; i < (size_t)N * H; i++) gword[(size_t)ids[i / H] * H + i % H] += dx[i];
    return 0;
}

int sl_cuda_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                      int N, int H, float eps, cudaStream_t, sl_err *) {
    for (int i = 0; i < N; i++) {
        const float *xr = x + (size_t)i * H;
        float *yr = y + (size_t)i * H;
        double s = 0, v = 0;
        for (int j = 0; j < H; j++) s += xr[j];
        double m = s / H;
        for (int j = 0; j < H; j++) v += (xr[j] - m) * (xr[j] - m);
        v /= H;
        double rs = 1.0 / sqrt(v + eps);
        for (int j = 0; j < H; j++) yr[j] = (float)((xr[j] - m) * rs) * w[j] + b[j];
        if (mean) mean[i] = (float)m;
        if (rstd) rstd[i] = (float)rs;
    }
    return 0;
}

int sl_cuda_layernorm_bwd(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                          const float *w, int N, int H, int acc, cudaStream_t, sl_err *) {
    for (int i = 0; i < N; i++) {
        const float *xr = x + (size_t)i * H, *dyr = dy + (size_t)i * H;
        float *dxr = dx + (size_t)i * H;
        double m = mean[i], rs = rstd[i], a = 0, c = 0;
        for (int j = 0; j < H; j++) {
            double xh = (xr[j] - m) * rs, g = (double)dyr[j] * w[j];
            a += g;
            c += g * xh;
        }
        a /= H;
        c /= H;
        for (int j = 0; j < H; j++) {
            double xh = (xr[j] - m) * rs, g = (double)dyr[j] * w[j];
            float d = (float)(rs * (g - a - xh * c));
            dxr[j] = acc ? dxr[j] + d : d;
        }
    }
    return 0;
}

int sl_cuda_gelu_fwd(float *y, const float *x, size_t n, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < n; i++) y[i] = sl_cuda_gelu(x[i]);
    return 0;
}

int sl_cuda_gelu_bwd(float *dx, const float *dy, const float *x, size_t n, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * sl_cuda_gelu_grad(x[i]);
    return 0;
}

int sl_cuda_dropout(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t base,
                    cudaStream_t, sl_err *) {
    if (p <= 0) {
        if (y != x) memmove(y, x, n * sizeof(float));
        return 0;
    }
    const uint32_t thr = sl_cuda_drop_thr(p);
    const float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        y[i] = sl_cuda_keep(sl_cuda_drop_key(seed), hi, base + i, thr) ? x[i] * scale : 0.0f;
    return 0;
}

int sl_cuda_dropout_bits(uint64_t *bits, size_t tasks, size_t len, float p, uint64_t seed, uint64_t hi,
                         cudaStream_t, sl_err *) {
    const size_t words = (len + 63) / 64;
    const uint32_t thr = sl_cuda_drop_thr(p);
    memset(bits, 0, tasks * words * sizeof(uint64_t));
    for (size_t t = 0; t < tasks; t++)
        for (size_t i = 0; i < len; i++)
            if (sl_cuda_keep(sl_cuda_drop_key(seed), hi, t * len + i, thr))
                bits[t * words + i / 64] |= (uint64_t)1 << (i % 64);
    return 0;
}

int sl_cuda_apply_bits(float *y, const float *x, const uint64_t *bits, size_t tasks, size_t len, float scale,
                       cudaStream_t, sl_err *) {
    const size_t words = (len + 63) / 64;
    for (size_t i = 0; i < tasks * len; i++) {
        size_t t = i / len, e = i % len;
        y[i] = (bits[t * words + e / 64] >> (e % 64)) & 1 ? x[i] * scale : 0.0f;
    }
    return 0;
}

int sl_cuda_softmax_mask(float *P, const int32_t *mask, int B, int heads, int T, cudaStream_t, sl_err *) {
    for (size_t r = 0; r < (size_t)B * heads * T; r++) {
        const int32_t *mk = mask + (r / ((size_t)heads * T)) * T;
        float *p = P + r * T, mx = -INFINITY;
        for (int k = 0; k < T; k++)
            if (mk[k] && p[k] > mx) mx = p[k];
        double s = 0;
        for (int k = 0; k < T; k++) {
            float e = mk[k] ? expf(p[k] - mx) : 0.0f;
            p[k] = e;
            s += e;
        }
        float inv = s > 0 ? (float)(1.0 / s) : 0.0f;
        for (int k = 0; k < T; k++) p[k] *= inv;
    }
    return 0;
}

int sl_cuda_softmax_bwd(float *dP, const float *P, size_t rows, int T, cudaStream_t, sl_err *) {
    for (size_t r = 0; r < rows; r++) {
        const float *pr = P + r * T;
        float *gr = dP + r * T;
        double sum = 0;
        for (int k = 0; k < T; k++) sum += (double)pr[k] * gr[k];
        for (int k = 0; k < T; k++) gr[k] = pr[k] * (float)(gr[k] - sum);
    }
    return 0;
}

int sl_cuda_softmax_mask_drop(float *P, float *Pd, const int32_t *mask, const uint64_t *bits, float scale,
                              int B, int heads, int T, cudaStream_t st, sl_err *err) {
    sl_cuda_softmax_mask(P, mask, B, heads, T, st, err);
    return sl_cuda_apply_bits(Pd, P, bits, (size_t)B * heads, (size_t)T * T, scale, st, err);
}

int sl_cuda_softmax_bwd_drop(float *dP, const float *P, const uint64_t *bits, float scale, size_t rows, int T,
                             cudaStream_t st, sl_err *err) {
    sl_cuda_apply_bits(dP, dP, bits, rows / T, (size_t)T * T, scale, st, err);
    return sl_cuda_softmax_bwd(dP, P, rows, T, st, err);
}

int sl_cuda_add(float *y, const float *x, size_t n, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
    return 0;
}

int sl_cuda_scale(float *y, float a, size_t n, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < n; i++) y[i] *= a;
    return 0;
}

int sl_cuda_bias(float *y, const float *b, int N, int W, int tanh_out, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < (size_t)N * W; i++) {
        float v = y[i] + b[i % W];
        y[i] = tanh_out ? tanhf(v) : v;
    }
    return 0;
}

int sl_cuda_colsum_add(float *g, const float *x, int N, int W, int ld, cudaStream_t, sl_err *) {
    for (int j = 0; j < W; j++) {
        float s = g[j];
        for (int i = 0; i < N; i++) s += x[(size_t)i * ld + j];
        g[j] = s;
    }
    return 0;
}

int sl_cuda_tanh_bwd(float *dx, const float *y, size_t n, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < n; i++) dx[i] *= 1.0f - y[i] * y[i];
    return 0;
}

int sl_cuda_loss(double *part, float *g, const float *x, const float *y, int B, int C, int problem,
                 cudaStream_t, sl_err *) {
    if (problem == 0) {
        for (int b = 0; b < B; b++) {
            const float *row = x + (size_t)b * C;
            int t = (int)y[b];
            float mx = row[0];
            for (int c = 1; c < C; c++) mx = row[c] > mx ? row[c] : mx;
            double s = 0;
            for (int c = 0; c < C; c++) s += exp((double)row[c] - mx);
            double lse = mx + log(s);
            part[b] = lse - row[t];
            for (int c = 0; c < C; c++) g[(size_t)b * C + c] = (float)((exp(row[c] - lse) - (c == t)) / B);
        }
        return 0;
    }
    size_t n = (size_t)B * C;
    for (size_t i = 0; i < n; i++) {
        double xi = x[i], yi = y[i];
        if (problem == 1) {
            part[i] = (xi > 0 ? xi : 0) - xi * yi + log1p(exp(-fabs(xi)));
            g[i] = (float)((1.0 / (1.0 + exp(-xi)) - yi) / (double)n);
        } else {
            part[i] = (xi - yi) * (xi - yi);
            g[i] = (float)(2.0 * (xi - yi) / (double)n);
        }
    }
    return 0;
}

int sl_cuda_to_bf16(__nv_bfloat16 *y, const float *x, size_t n, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < n; i++) y[i] = __float2bfloat16_rn(x[i]);
    return 0;
}

int sl_cuda_to_fp16(__half *y, const float *x, size_t n, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < n; i++) y[i] = __float2half_rn(x[i]);
    return 0;
}

int sl_cuda_sumsq(double *acc, const float *x, size_t n, cudaStream_t, sl_err *) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    *acc += s;
    return 0;
}

int sl_cuda_adamw(float *params, const float *grads, float *mm, float *vv, size_t n, sl_cuda_adamw_k k,
                  cudaStream_t, sl_err *) {
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        float p = params[i] * k.decay;
        float m = mm[i] * k.b1 + g * k.omb1;
        float v = vv[i] * k.b2 + k.omb2 * g * g;
        float denom = sqrtf(v) / k.bc2s + k.eps;
        params[i] = p - k.step_size * (m / denom);
        mm[i] = m;
        vv[i] = v;
    }
    return 0;
}

int sl_cuda_embed_esm(float *x, const int32_t *ids, const float *word, const float *pos,
                      const int32_t *pos_ids, const float *row_div, int mask_id, int N, int T, int H,
                      cudaStream_t, sl_err *) {
    for (size_t i = 0; i < (size_t)N * H; i++) {
        size_t row = i / H;
        int j = (int)(i % H);
        const int id = ids[row];
        float v = word[(size_t)id * H + j];
        if (row_div) v = id == mask_id ? 0.0f : v * 0.88f / row_div[row / T];
        if (pos) v += pos[(size_t)pos_ids[row] * H + j];
        x[i] = v;
    }
    return 0;
}

int sl_cuda_zero_rows(float *x, const int32_t *mask, int N, int H, cudaStream_t, sl_err *) {
    for (size_t i = 0; i < (size_t)N * H; i++)
        if (!mask[i / H]) x[i] = 0.0f;
    return 0;
}

int sl_cuda_rotary(float *x, const float *cos_t, const float *sin_t, int N, int T, int nh, int d, int ld,
                   int inverse, cudaStream_t, sl_err *) {
    const int h2 = d / 2;
    for (int row = 0; row < N; row++) {
        const float *c = cos_t + (size_t)(row % T) * d, *sn = sin_t + (size_t)(row % T) * d;
        for (int hd = 0; hd < nh; hd++) {
            float *r = x + (size_t)row * ld + (size_t)hd * d;
            for (int i = 0; i < h2; i++)
                sl_cuda_rotary_pair(&r[i], &r[i + h2], c[i], sn[i], c[i + h2], sn[i + h2], inverse);
        }
    }
    return 0;
}

int sl_cuda_alibi_add(float *P, const float *slopes, int B, int heads, int T, cudaStream_t, sl_err *) {
    for (size_t bh = 0; bh < (size_t)B * heads; bh++)
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) P[(bh * T + i) * T + j] += sl_cuda_alibi(slopes[bh % heads], i, j);
    return 0;
}

int sl_cuda_glu(float *y, const float *x, int N, int ni, int kind, cudaStream_t, sl_err *) {
    for (size_t row = 0; row < (size_t)N; row++)
        for (int j = 0; j < ni; j++) {
            const float a = x[row * 2 * ni + j], g = x[row * 2 * ni + ni + j];
            y[row * ni + j] = kind == SL_CUDA_GLU_GE ? sl_cuda_geglu(a, g) : sl_cuda_swiglu(a, g);
        }
    return 0;
}

int sl_cuda_glu_bwd(float *dx, const float *dy, const float *x, int N, int ni, int kind, cudaStream_t,
                    sl_err *) {
    for (size_t row = 0; row < (size_t)N; row++)
        for (int j = 0; j < ni; j++) {
            const float a = x[row * 2 * ni + j], g = x[row * 2 * ni + ni + j];
            float da, dg;
            if (kind == SL_CUDA_GLU_GE)
                sl_cuda_geglu_grad(a, g, dy[row * ni + j], &da, &dg);
            else
                sl_cuda_swiglu_grad(a, g, dy[row * ni + j], &da, &dg);
            dx[row * 2 * ni + j] = da;
            dx[row * 2 * ni + ni + j] = dg;
        }
    return 0;
}
