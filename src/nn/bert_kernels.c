/* The element-wise and row kernels of the BERT forward/backward, and the Linear GEMM (OpenBLAS). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "bert_impl.h"
#include "parallel.h"
#include "util/rng.h"

void sl_nn_k_linear(float *y, const float *x, const float *w, const float *b, int N, int in, int out) {
    sl_nn_sgemm(0, 1, N, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (b)
        for (int i = 0; i < N; i++) {
            float *row = y + (size_t)i * out;
            for (int j = 0; j < out; j++) row[j] += b[j];
        }
}

void sl_nn_k_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                       int N, int H, float eps) {
    for (int i = 0; i < N; i++) {
        const float *xr = x + (size_t)i * H;
        float *yr = y + (size_t)i * H;
        double s = 0;
        for (int j = 0; j < H; j++) s += xr[j];
        double m = s / H, v = 0;
        for (int j = 0; j < H; j++) v += (xr[j] - m) * (xr[j] - m);
        v /= H;
        double rs = 1.0 / sqrt(v + eps);
        for (int j = 0; j < H; j++) yr[j] = (float)((xr[j] - m) * rs) * w[j] + b[j];
        if (mean) mean[i] = (float)m;
        if (rstd) rstd[i] = (float)rs;
    }
}

void sl_nn_k_layernorm_bwd(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                           const float *w, int N, int H, int acc) {
    for (int i = 0; i < N; i++) {
        const float *xr = x + (size_t)i * H, *dyr = dy + (size_t)i * H;
        float *dxr = dx + (size_t)i * H;
        double m = mean[i], rs = rstd[i];
        double a = 0, c = 0; /* mean(dxhat), mean(dxhat * xhat) */
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
}

void sl_nn_k_gelu(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

void sl_nn_k_gelu_bwd(float *dx, const float *dy, const float *x, size_t n) {
    const float inv_sqrt_2pi = 0.3989422804014327f;
    for (size_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * x[i] * x[i]);
        dx[i] = dy[i] * (cdf + x[i] * pdf);
    }
}

uint64_t sl_nn_drop_hi(uint64_t micro, int layer, int tensor) {
    return (micro << 16) | ((uint64_t)(layer + 1) << 6) | (uint64_t)tensor;
}

void sl_nn_k_dropout(float *x, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t base) {
    if (p <= 0) return;
    float scale = 1.0f / (1.0f - p);
    uint64_t key = seed ^ 0x9e3779b97f4a7c15ULL;
    sl_philox_out r = {{0, 0, 0, 0}};
    uint64_t have = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t idx = base + i;
        if (idx / 4 != have) {
            have = idx / 4;
            r = sl_philox4x32(key, hi, have);
        }
        x[i] = sl_rng_u01(r.v[idx % 4]) < p ? 0.0f : x[i] * scale;
    }
}
