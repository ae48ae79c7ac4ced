/* LayerNorm forward and backward over rows of H floats (statistics in double).
 *
 * Row sums are accumulated in double in 8 interleaved partial sums (element j into sum j % 8), added in a
 * fixed tree. Two paths, chosen at run time: AVX-512F (8 doubles at a time) and portable C performing the
 * same IEEE operations in the same order (no fused multiply-adds in either), so both give the same bits,
 * and rows are split into thread tasks by shape only, so the thread count does not change them. */
#include <math.h>
#include <stddef.h>

#include "bert_impl.h"
#include "kernels_simd.h"
#include "layernorm.h"
#include "parallel.h"
#include "prof.h"

#ifdef __clang__
/* the two paths must round the same: no fused multiply-adds but the explicit ones */
#pragma STDC FP_CONTRACT OFF
#endif

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SL_NN_LN_AVX512 1
#include <immintrin.h>
#endif

static void ln_row_c(float *yr, float *mean, float *rstd, const float *xr, const float *w, const float *b,
                     int H, float eps) {
    double acc[8] = {0};
    for (int j = 0; j < H; j++) acc[j % 8] += xr[j];
    const double m = sl_nn_tree8(acc) / H;
    for (int k = 0; k < 8; k++) acc[k] = 0;
    for (int j = 0; j < H; j++) acc[j % 8] += (xr[j] - m) * (xr[j] - m);
    const double rs = 1.0 / sqrt(sl_nn_tree8(acc) / H + eps);
    for (int j = 0; j < H; j++) yr[j] = (float)((xr[j] - m) * rs) * w[j] + b[j];
    if (mean) *mean = (float)m;
    if (rstd) *rstd = (float)rs;
}

static void ln_bwd_row_c(float *dxr, const float *dyr, const float *xr, float mean, float rstd,
                         const float *w, int H, int acc) {
    const double m = mean, rs = rstd;
    double sa[8] = {0}, sc[8] = {0}; /* sums of dxhat and dxhat * xhat */
    for (int j = 0; j < H; j++) {
        double xh = (xr[j] - m) * rs, g = (double)dyr[j] * w[j];
        sa[j % 8] += g;
        sc[j % 8] += g * xh;
    }
    const double a = sl_nn_tree8(sa) / H, c = sl_nn_tree8(sc) / H;
    for (int j = 0; j < H; j++) {
        double xh = (xr[j] - m) * rs, g = (double)dyr[j] * w[j];
        float d = (float)(rs * (g - a - xh * c));
        dxr[j] = acc ? dxr[j] + d : d;
    }
}

#ifdef SL_NN_LN_AVX512
#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __m512d load8(const float *p) {
    return _mm512_cvtps_pd(_mm256_loadu_ps(p));
}

AVX512 static void ln_row_avx512(float *yr, float *mean, float *rstd, const float *xr, const float *w,
                                 const float *b, int H, float eps) {
    const int H8 = H / 8 * 8;
    double acc[8];
    __m512d s = _mm512_setzero_pd();
    for (int j = 0; j < H8; j += 8) s = _mm512_add_pd(s, load8(xr + j));
    _mm512_storeu_pd(acc, s);
    for (int j = H8; j < H; j++) acc[j % 8] += xr[j];
    const double m = sl_nn_tree8(acc) / H;
    const __m512d vm = _mm512_set1_pd(m);
    s = _mm512_setzero_pd();
    for (int j = 0; j < H8; j += 8) {
        __m512d d = _mm512_sub_pd(load8(xr + j), vm);
        s = _mm512_add_pd(s, _mm512_mul_pd(d, d));
    }
    _mm512_storeu_pd(acc, s);
    for (int j = H8; j < H; j++) acc[j % 8] += (xr[j] - m) * (xr[j] - m);
    const double rs = 1.0 / sqrt(sl_nn_tree8(acc) / H + eps);
    const __m512d vr = _mm512_set1_pd(rs);
    for (int j = 0; j < H8; j += 8) {
        __m256 xh = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_sub_pd(load8(xr + j), vm), vr));
        _mm256_storeu_ps(yr + j,
                         _mm256_add_ps(_mm256_mul_ps(xh, _mm256_loadu_ps(w + j)), _mm256_loadu_ps(b + j)));
    }
    for (int j = H8; j < H; j++) yr[j] = (float)((xr[j] - m) * rs) * w[j] + b[j];
    if (mean) *mean = (float)m;
    if (rstd) *rstd = (float)rs;
}

AVX512 static void ln_bwd_row_avx512(float *dxr, const float *dyr, const float *xr, float mean, float rstd,
                                     const float *w, int H, int acc) {
    const int H8 = H / 8 * 8;
    const double m = mean, rs = rstd;
    const __m512d vm = _mm512_set1_pd(m), vr = _mm512_set1_pd(rs);
    __m512d va = _mm512_setzero_pd(), vc = _mm512_setzero_pd();
    for (int j = 0; j < H8; j += 8) {
        __m512d xh = _mm512_mul_pd(_mm512_sub_pd(load8(xr + j), vm), vr);
        __m512d g = _mm512_mul_pd(load8(dyr + j), load8(w + j));
        va = _mm512_add_pd(va, g);
        vc = _mm512_add_pd(vc, _mm512_mul_pd(g, xh));
    }
    double sa[8], sc[8];
    _mm512_storeu_pd(sa, va);
    _mm512_storeu_pd(sc, vc);
    for (int j = H8; j < H; j++) {
        double xh = (xr[j] - m) * rs, g = (double)dyr[j] * w[j];
        sa[j % 8] += g;
        sc[j % 8] += g * xh;
    }
    const double a = sl_nn_tree8(sa) / H, c = sl_nn_tree8(sc) / H;
    const __m512d vA = _mm512_set1_pd(a), vC = _mm512_set1_pd(c);
    for (int j = 0; j < H8; j += 8) {
        __m512d xh = _mm512_mul_pd(_mm512_sub_pd(load8(xr + j), vm), vr);
        __m512d g = _mm512_mul_pd(load8(dyr + j), load8(w + j));
        __m256 d =
            _mm512_cvtpd_ps(_mm512_mul_pd(vr, _mm512_sub_pd(_mm512_sub_pd(g, vA), _mm512_mul_pd(xh, vC))));
        _mm256_storeu_ps(dxr + j, acc ? _mm256_add_ps(_mm256_loadu_ps(dxr + j), d) : d);
    }
    for (int j = H8; j < H; j++) {
        double xh = (xr[j] - m) * rs, g = (double)dyr[j] * w[j];
        float d = (float)(rs * (g - a - xh * c));
        dxr[j] = acc ? dxr[j] + d : d;
    }
}
#endif

static void layernorm_rows(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                           int N, int H, float eps) {
#ifdef SL_NN_LN_AVX512
    const int simd = sl_nn_k_simd_active();
#endif
    for (int i = 0; i < N; i++) {
        float *mi = mean ? mean + i : NULL, *ri = rstd ? rstd + i : NULL;
#ifdef SL_NN_LN_AVX512
        if (simd) {
            ln_row_avx512(y + (size_t)i * H, mi, ri, x + (size_t)i * H, w, b, H, eps);
            continue;
        }
#endif
        ln_row_c(y + (size_t)i * H, mi, ri, x + (size_t)i * H, w, b, H, eps);
    }
}

static void layernorm_bwd_rows(float *dx, const float *dy, const float *x, const float *mean,
                               const float *rstd, const float *w, int N, int H, int acc) {
#ifdef SL_NN_LN_AVX512
    const int simd = sl_nn_k_simd_active();
#endif
    for (int i = 0; i < N; i++) {
        size_t o = (size_t)i * H;
#ifdef SL_NN_LN_AVX512
        if (simd) {
            ln_bwd_row_avx512(dx + o, dy + o, x + o, mean[i], rstd[i], w, H, acc);
            continue;
        }
#endif
        ln_bwd_row_c(dx + o, dy + o, x + o, mean[i], rstd[i], w, H, acc);
    }
}

typedef struct {
    float *gw, *gb;
    const float *dy, *x, *mean, *rstd;
    int N, H;
} ln_param_job;

#define LN_COLS 128

static void ln_param_task(void *p, size_t t, int worker) {
    (void)worker;
    const ln_param_job *j = p;
    const int c0 = (int)t * LN_COLS, c1 = c0 + LN_COLS < j->H ? c0 + LN_COLS : j->H;
    for (int n = 0; n < j->N; n++) {
        const float *dr = j->dy + (size_t)n * j->H, *xr = j->x + (size_t)n * j->H;
        for (int c = c0; c < c1; c++) {
            j->gw[c] += dr[c] * ((xr[c] - j->mean[n]) * j->rstd[n]);
            j->gb[c] += dr[c];
        }
    }
}

void sl_nn_k_layernorm_param_bwd(float *gw, float *gb, const float *dy, const float *x, const float *mean,
                                 const float *rstd, int N, int H) {
    ln_param_job j = {gw, gb, dy, x, mean, rstd, N, H};
    double t0 = sl_nn_prof_begin();
    sl_nn_parallel_for(((size_t)H + LN_COLS - 1) / LN_COLS, ln_param_task, &j);
    sl_nn_prof_end(SL_NN_PH_LAYERNORM, t0);
}

typedef struct {
    float *y, *mean, *rstd;
    const float *x, *w, *b, *dy, *m, *r;
    int N, H, acc;
    float eps;
} ln_job;

#define LN_ROWS 64

static void ln_task(void *p, size_t t, int worker) {
    (void)worker;
    const ln_job *j = p;
    size_t r0 = t * LN_ROWS;
    int n = j->N - (int)r0 < LN_ROWS ? j->N - (int)r0 : LN_ROWS;
    layernorm_rows(j->y + r0 * j->H, j->mean ? j->mean + r0 : NULL, j->rstd ? j->rstd + r0 : NULL,
                   j->x + r0 * j->H, j->w, j->b, n, j->H, j->eps);
}

static void ln_bwd_task(void *p, size_t t, int worker) {
    (void)worker;
    const ln_job *j = p;
    size_t r0 = t * LN_ROWS;
    int n = j->N - (int)r0 < LN_ROWS ? j->N - (int)r0 : LN_ROWS;
    layernorm_bwd_rows(j->y + r0 * j->H, j->dy + r0 * j->H, j->x + r0 * j->H, j->m + r0, j->r + r0, j->w, n,
                       j->H, j->acc);
}

void sl_nn_k_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                       int N, int H, float eps) {
    ln_job j = {.y = y, .mean = mean, .rstd = rstd, .x = x, .w = w, .b = b, .N = N, .H = H, .eps = eps};
    double t0 = sl_nn_prof_begin();
    sl_nn_parallel_for(((size_t)N + LN_ROWS - 1) / LN_ROWS, ln_task, &j);
    sl_nn_prof_end(SL_NN_PH_LAYERNORM, t0);
}

void sl_nn_k_layernorm_bwd(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                           const float *w, int N, int H, int acc) {
    ln_job j = {.y = dx, .dy = dy, .x = x, .m = mean, .r = rstd, .w = w, .N = N, .H = H, .acc = acc};
    double t0 = sl_nn_prof_begin();
    sl_nn_parallel_for(((size_t)N + LN_ROWS - 1) / LN_ROWS, ln_bwd_task, &j);
    sl_nn_prof_end(SL_NN_PH_LAYERNORM, t0);
}
