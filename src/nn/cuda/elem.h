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

#endif
