/* Attention softmax rows: the masked softmax of the forward pass and its backward.
 *
 * exp is evaluated in double (exp_double.h) and rounded to float once, so it agrees with a correctly rounded
 * expf. Row sums are accumulated in double in 8 interleaved partial sums (element j into sum j % 8) added in
 * a fixed tree at the end. Two paths, chosen at run time: AVX-512F (8 doubles at a time) and portable C
 * performing the same IEEE operations in the same order, so both give the same bits. */
#include <math.h>
#include <stdint.h>

#include "softmax.h"

#include "exp_double.h"
#include "kernels_simd.h"

#ifdef __clang__
/* the two paths must round the same: no fused multiply-adds but the explicit ones */
#pragma STDC FP_CONTRACT OFF
#endif

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SL_NN_SOFTMAX_AVX512 1
#include <immintrin.h>
#endif

#define SM_MIN_ARG (-110.0) /* exp(-110) ~ 2e-48 rounds to +0 in float, as every smaller argument */

/* exp(x) for x <= 0 or NaN, in double, rounded to float (x below SM_MIN_ARG gives +0). */
static float exp_c(float xf) {
    double x = xf;
    if (isnan(x)) return xf;
    x = SM_MIN_ARG > x ? SM_MIN_ARG : x;
    return (float)sl_nn_exp_neg(x);
}

static void softmax_c(float *row, const int32_t *mk, int T) {
    float mx = -INFINITY;
    for (int j = 0; j < T; j++)
        if (mk[j] && row[j] > mx) mx = row[j];
    double acc[8] = {0};
    for (int j = 0; j < T; j++) {
        float e = mk[j] ? exp_c(row[j] - mx) : 0.0f;
        row[j] = e;
        acc[j % 8] += e;
    }
    double s = sl_nn_tree8(acc);
    float inv = s > 0 ? (float)(1.0 / s) : 0.0f;
    for (int j = 0; j < T; j++) row[j] *= inv;
}

static void softmax_bwd_c(float *g, const float *p, int T) {
    double acc[8] = {0};
    for (int j = 0; j < T; j++) acc[j % 8] += (double)p[j] * g[j];
    double sum = sl_nn_tree8(acc);
    for (int j = 0; j < T; j++) g[j] = p[j] * (float)(g[j] - sum);
}

#ifdef SL_NN_SOFTMAX_AVX512
#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __m256 exp8(__m256 xf) {
    __m512d x = _mm512_cvtps_pd(xf);
    x = _mm512_max_pd(_mm512_set1_pd(SM_MIN_ARG), x); /* a NaN x stays NaN (second operand) */
    return _mm512_cvtpd_ps(sl_nn_exp_neg8(x));
}

AVX512 static void softmax_avx512(float *row, const int32_t *mk, int T) {
    __m512 vmx = _mm512_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 16 <= T; j += 16) { /* lanes with a key: mx = v > mx ? v : mx (a NaN v is skipped) */
        __mmask16 k = _mm512_test_epi32_mask(_mm512_loadu_si512(mk + j), _mm512_set1_epi32(-1));
        vmx = _mm512_mask_max_ps(vmx, k, _mm512_loadu_ps(row + j), vmx);
    }
    float mx = _mm512_reduce_max_ps(vmx);
    for (; j < T; j++)
        if (mk[j] && row[j] > mx) mx = row[j];
    const __m256 vm = _mm256_set1_ps(mx);
    __m512d acc = _mm512_setzero_pd();
    for (j = 0; j + 8 <= T; j += 8) {
        __mmask8 k = (__mmask8)_mm512_test_epi32_mask(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(mk + j))), _mm512_set1_epi32(-1));
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm));
        e = _mm512_castps512_ps256(_mm512_maskz_mov_ps(k, _mm512_castps256_ps512(e)));
        _mm256_storeu_ps(row + j, e);
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(e));
    }
    double a[8];
    _mm512_storeu_pd(a, acc);
    for (; j < T; j++) {
        float e = mk[j] ? exp_c(row[j] - mx) : 0.0f;
        row[j] = e;
        a[j % 8] += e;
    }
    double s = sl_nn_tree8(a);
    float inv = s > 0 ? (float)(1.0 / s) : 0.0f;
    const __m512 vi = _mm512_set1_ps(inv);
    for (j = 0; j + 16 <= T; j += 16) _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), vi));
    for (; j < T; j++) row[j] *= inv;
}

AVX512 static void softmax_bwd_avx512(float *g, const float *p, int T) {
    __m512d acc = _mm512_setzero_pd();
    int j = 0;
    for (; j + 8 <= T; j += 8)
        acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p + j)),
                                               _mm512_cvtps_pd(_mm256_loadu_ps(g + j))));
    double a[8];
    _mm512_storeu_pd(a, acc);
    for (; j < T; j++) a[j % 8] += (double)p[j] * g[j];
    const double sum = sl_nn_tree8(a);
    const __m512d vs = _mm512_set1_pd(sum);
    for (j = 0; j + 8 <= T; j += 8) {
        __m256 d = _mm512_cvtpd_ps(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(g + j)), vs));
        _mm256_storeu_ps(g + j, _mm256_mul_ps(_mm256_loadu_ps(p + j), d));
    }
    for (; j < T; j++) g[j] = p[j] * (float)(g[j] - sum);
}
#endif

void sl_nn_k_softmax_masked(float *row, const int32_t *mk, int T) {
#ifdef SL_NN_SOFTMAX_AVX512
    if (sl_nn_k_simd_active()) {
        softmax_avx512(row, mk, T);
        return;
    }
#endif
    softmax_c(row, mk, T);
}

void sl_nn_k_softmax_bwd(float *g, const float *p, int T) {
#ifdef SL_NN_SOFTMAX_AVX512
    if (sl_nn_k_simd_active()) {
        softmax_bwd_avx512(g, p, T);
        return;
    }
#endif
    softmax_bwd_c(g, p, T);
}
