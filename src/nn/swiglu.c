/* SwiGLU (Nucleotide Transformer v2's gated MLP): x = [a | g] per row, y = silu(a) g, silu(a) = a sigmoid(a);
 * backward dg = dy silu(a), da = dy g sigmoid(a) (1 + a (1 - sigmoid(a))).
 *
 * sigmoid is evaluated in double from exp(-|a|) (exp_double.h; no overflow for any float), silu(a) rounded
 * to float once. Two paths, chosen at run time: AVX-512F (8 doubles at a time) and portable C performing the
 * same IEEE operations in the same order, so both give the same bits; rows are split across the thread pool
 * by shape only. */
#include <math.h>
#include <stddef.h>

#include "esm_impl.h"
#include "exp_double.h"
#include "glu.h"
#include "kernels_simd.h"

#ifdef __clang__
/* the two paths must round the same: no fused multiply-adds but the explicit ones */
#pragma STDC FP_CONTRACT OFF
#endif

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SL_NN_SWIGLU_AVX512 1
#include <immintrin.h>
#endif

#define SW_T_MAX 700.0 /* exp(-700) is still a normal double; sigmoid(+-700) is 1 / ~1e-304 */

static double sigmoid_c(double a) {
    const double e = sl_nn_exp_neg(-fmin(fabs(a), SW_T_MAX)); /* fmin: a NaN a takes the 700 branch */
    return a >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static void swiglu_row_c(float *y, const float *a, const float *g, int ni) {
    for (int j = 0; j < ni; j++) {
        double ad = a[j];
        y[j] = (float)(ad * sigmoid_c(ad)) * g[j];
    }
}

static void swiglu_bwd_row_c(float *da, float *dg, const float *dy, const float *a, const float *g, int ni) {
    for (int j = 0; j < ni; j++) {
        double ad = a[j], s = sigmoid_c(ad);
        dg[j] = dy[j] * (float)(ad * s);
        da[j] = (float)((double)dy[j] * (double)g[j] * (s * (1.0 + ad * (1.0 - s))));
    }
}

#ifdef SL_NN_SWIGLU_AVX512
#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __m512d sigmoid8(__m512d a) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d t = _mm512_min_pd(_mm512_abs_pd(a), _mm512_set1_pd(SW_T_MAX)); /* NaN -> 700 (second operand) */
    __m512d e = sl_nn_exp_neg8(_mm512_sub_pd(_mm512_setzero_pd(), t));
    __m512d d = _mm512_add_pd(one, e);
    __mmask8 pos = _mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_GE_OQ);
    return _mm512_mask_blend_pd(pos, _mm512_div_pd(e, d), _mm512_div_pd(one, d));
}

AVX512 static int swiglu_row_avx512(float *y, const float *a, const float *g, int ni) {
    int j = 0;
    for (; j + 8 <= ni; j += 8) {
        __m512d ad = _mm512_cvtps_pd(_mm256_loadu_ps(a + j));
        __m256 silu = _mm512_cvtpd_ps(_mm512_mul_pd(ad, sigmoid8(ad)));
        _mm256_storeu_ps(y + j, _mm256_mul_ps(silu, _mm256_loadu_ps(g + j)));
    }
    return j;
}

AVX512 static int swiglu_bwd_row_avx512(float *da, float *dg, const float *dy, const float *a, const float *g,
                                        int ni) {
    const __m512d one = _mm512_set1_pd(1.0);
    int j = 0;
    for (; j + 8 <= ni; j += 8) {
        __m512d ad = _mm512_cvtps_pd(_mm256_loadu_ps(a + j)), s = sigmoid8(ad);
        __m256 d = _mm256_loadu_ps(dy + j);
        _mm256_storeu_ps(dg + j, _mm256_mul_ps(d, _mm512_cvtpd_ps(_mm512_mul_pd(ad, s))));
        __m512d deriv = _mm512_mul_pd(s, _mm512_add_pd(one, _mm512_mul_pd(ad, _mm512_sub_pd(one, s))));
        __m512d dgg = _mm512_mul_pd(_mm512_cvtps_pd(d), _mm512_cvtps_pd(_mm256_loadu_ps(g + j)));
        _mm256_storeu_ps(da + j, _mm512_cvtpd_ps(_mm512_mul_pd(dgg, deriv)));
    }
    return j;
}
#endif

static const sl_nn_glu_kernels swiglu_kernels = {
#ifdef SL_NN_SWIGLU_AVX512
    swiglu_row_avx512,
    swiglu_row_c,
    swiglu_bwd_row_avx512,
    swiglu_bwd_row_c,
#else
    NULL,
    swiglu_row_c,
    NULL,
    swiglu_bwd_row_c,
#endif
};

void sl_nn_k_swiglu(float *y, const float *x, int N, int ni) {
    sl_nn_k_glu(&swiglu_kernels, y, x, N, ni);
}

void sl_nn_k_swiglu_bwd(float *dx, const float *dy, const float *x, int N, int ni) {
    sl_nn_k_glu_bwd(&swiglu_kernels, dx, dy, x, N, ni);
}
