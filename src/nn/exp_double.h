/* exp(y) for y in [-700, 0], evaluated in double for the vectorised kernels (GELU/GeGLU, softmax, SwiGLU):
 * y = k ln 2 + r with |r| <= ln 2 / 2 (Cody-Waite: ln 2 split into a 33-bit head, so k * head is exact, and
 * the rest of ln 2), exp(r) by its Taylor polynomial of degree 11 (truncation < 2e-16 relative), then
 * exactly scaled by 2^k. A scalar version and an AVX-512F one (8 lanes) that perform the same IEEE operations
 * in the same order (fused multiply-adds in both), so they give the same bits. Callers keep y in range and
 * NaN out of the scalar version (its (int) conversion of k). Header-only: static functions. */
#ifndef SEQLORA_NN_EXP_DOUBLE_H
#define SEQLORA_NN_EXP_DOUBLE_H

#include <math.h>

/* 1/n!, n = 0 .. 11, correctly rounded */
static const double sl_nn_exp_c[12] = {
    0x1.0000000000000p+0,  0x1.0000000000000p+0,  0x1.0000000000000p-1,  0x1.5555555555555p-3,
    0x1.5555555555555p-5,  0x1.1111111111111p-7,  0x1.6c16c16c16c17p-10, 0x1.a01a01a01a01ap-13,
    0x1.a01a01a01a01ap-16, 0x1.71de3a556c734p-19, 0x1.27e4fb7789f5cp-22, 0x1.ae64567f544e4p-26,
};
#define SL_NN_EXP_LOG2E 0x1.71547652b82fep+0
#define SL_NN_EXP_LN2_HI 0x1.62e42fef00000p-1  /* ln 2 to 33 significant bits */
#define SL_NN_EXP_LN2_LO 0x1.473de6af278edp-34 /* ln 2 - hi, from ln 2 to 60 digits (gelu_fit.py) */

static inline double sl_nn_exp_neg(double y) {
    double k = nearbyint(y * SL_NN_EXP_LOG2E);
    double r = fma(-k, SL_NN_EXP_LN2_HI, y);
    r = fma(-k, SL_NN_EXP_LN2_LO, r);
    double p = sl_nn_exp_c[11];
    for (int i = 10; i >= 0; i--) p = fma(p, r, sl_nn_exp_c[i]);
    return ldexp(p, (int)k);
}

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

__attribute__((target("avx512f"))) static inline __m512d sl_nn_exp_neg8(__m512d y) {
    __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(y, _mm512_set1_pd(SL_NN_EXP_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(SL_NN_EXP_LN2_HI), y);
    r = _mm512_fnmadd_pd(k, _mm512_set1_pd(SL_NN_EXP_LN2_LO), r);
    __m512d p = _mm512_set1_pd(sl_nn_exp_c[11]);
    for (int i = 10; i >= 0; i--) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(sl_nn_exp_c[i]));
    return _mm512_scalef_pd(p, k);
}
#endif

#endif
