/* Element functions shared by the CUDA kernels and their host-side tests: the dropout keep decision and
 * the exact-erf GELU with its derivative. Plain C, usable from C (tests, compiled by gcc) and from CUDA
 * (compiled as __host__ __device__), so the same source decides a mask on both sides.
 *
 * The dropout rule is the CPU engine's (src/nn/bert_kernels.c): element `idx` of the stream (seed, hi)
 * takes word idx % 4 of Philox4x32(seed ^ 0x9e3779b97f4a7c15, counter (hi, idx / 4)); it is dropped when
 * its top 24 bits k satisfy k < p * 2^24, kept (and scaled by 1 / (1 - p)) otherwise. */
#ifndef SEQLORA_NN_CUDA_ELEM_H
#define SEQLORA_NN_CUDA_ELEM_H

#include <math.h>
#include <stdint.h>

#include "util/rng.h"

#if defined(__CUDACC__)
#define SL_CUDA_FN static inline __host__ __device__
#else
#define SL_CUDA_FN static inline
#endif

/* The Philox key of a dropout stream under the run seed. */
SL_CUDA_FN uint64_t sl_cuda_drop_key(uint64_t seed) {
    return seed ^ 0x9e3779b97f4a7c15ULL;
}

/* The integer threshold: a 24-bit draw k is dropped iff k < thr (equivalent to (double)k < p * 2^24). */
SL_CUDA_FN uint32_t sl_cuda_drop_thr(float p) {
    double t = (double)p * 16777216.0;
    uint32_t c = (uint32_t)t;
    return (double)c < t ? c + 1 : c;
}

/* 1 when element idx of the stream (key, hi) is kept. */
SL_CUDA_FN int sl_cuda_keep(uint64_t key, uint64_t hi, uint64_t idx, uint32_t thr) {
    sl_philox_out r = sl_philox4x32(key, hi, idx / 4);
    return (r.v[idx % 4] >> 8) >= thr;
}

/* The tensor word of the dropout counter, as sl_nn_drop_hi. */
SL_CUDA_FN uint64_t sl_cuda_drop_hi(uint64_t micro, int layer, int tensor) {
    return (micro << 16) | ((uint64_t)(layer + 1) << 6) | (uint64_t)tensor;
}

/* gelu(x) = x Phi(x) with the exact erf, in float as the CPU engine evaluates it. */
SL_CUDA_FN float sl_cuda_gelu(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
}

/* gelu'(x) = Phi(x) + x phi(x). */
SL_CUDA_FN float sl_cuda_gelu_grad(float x) {
    float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752440f));
    float pdf = 0.3989422804014327f * expf(-0.5f * x * x);
    return cdf + x * pdf;
}

/* ---- the ESM / DNABERT-2 element functions (src/nn/kernels_extra.c, in the same float arithmetic) ---- */

SL_CUDA_FN float sl_cuda_sigmoid(float x) {
    return 1.0f / (1.0f + expf(-x));
}

/* SwiGLU (NT v2): silu(a) * g. */
SL_CUDA_FN float sl_cuda_swiglu(float a, float g) {
    return a * sl_cuda_sigmoid(a) * g;
}

/* Its gradients: *da, *dg from dy. */
SL_CUDA_FN void sl_cuda_swiglu_grad(float a, float g, float dy, float *da, float *dg) {
    float s = sl_cuda_sigmoid(a), silu = a * s;
    *dg = dy * silu;
    *da = dy * g * s * (1.0f + a * (1.0f - s));
}

/* GeGLU (DNABERT-2's gated MLP): gelu_erf(a) * g. */
SL_CUDA_FN float sl_cuda_geglu(float a, float g) {
    return 0.5f * a * (1.0f + erff(a * 0.70710678118654752440f)) * g;
}

SL_CUDA_FN void sl_cuda_geglu_grad(float a, float g, float dy, float *da, float *dg) {
    float cdf = 0.5f * (1.0f + erff(a * 0.70710678118654752440f));
    float pdf = expf(-0.5f * a * a) * 0.3989422804014327f;
    *dg = dy * a * cdf;
    *da = dy * g * (cdf + a * pdf);
}

/* Rotary embedding of the pair (x1 = r[i], x2 = r[i + d/2]) with cos/sin c1, s1 (index i) and c2, s2
 * (index i + d/2): forward [x1 c1 - x2 s1, x2 c2 + x1 s2]; inverse (its transpose) with the signs flipped. */
SL_CUDA_FN void sl_cuda_rotary_pair(float *r1, float *r2, float c1, float s1, float c2, float s2,
                                    int inverse) {
    const float sg = inverse ? -1.0f : 1.0f, x1 = *r1, x2 = *r2;
    *r1 = x1 * c1 - sg * x2 * s1;
    *r2 = x2 * c2 + sg * x1 * s2;
}

/* The ALiBi bias of head slope `slope` between query i and key j: slope * -|i - j| in float. */
SL_CUDA_FN float sl_cuda_alibi(float slope, int i, int j) {
    return slope * -(float)(i > j ? i - j : j - i);
}

#endif
