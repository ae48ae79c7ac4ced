/* Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, "Parallel random numbers: as easy as
 * 1, 2, 3"). The value at (key, counter) does not depend on which thread or device asks for it, so a
 * dropout mask is the same on the CPU and the GPU and at any thread count, and a run can resume mid-epoch
 * without replaying a generator's state. Header-only so CUDA kernels can use the same code. */
#ifndef SEQLORA_UTIL_RNG_H
#define SEQLORA_UTIL_RNG_H

#include <stdint.h>

#if defined(__CUDACC__)
#define SL_RNG_FN static inline __host__ __device__
#else
#define SL_RNG_FN static inline
#endif

typedef struct {
    uint32_t v[4];
} sl_philox_out;

SL_RNG_FN void sl_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* Philox4x32 with 10 rounds: four 32-bit words for the 128-bit counter `ctr` under the 64-bit `key`. */
SL_RNG_FN sl_philox_out sl_philox4x32(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo) {
    uint32_t c0 = (uint32_t)ctr_lo, c1 = (uint32_t)(ctr_lo >> 32), c2 = (uint32_t)ctr_hi, c3 = (uint32_t)(ctr_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        sl_philox_mulhilo(0xD2511F53u, c0, &hi0, &lo0);
        sl_philox_mulhilo(0xCD9E8D57u, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    sl_philox_out out = {{c0, c1, c2, c3}};
    return out;
}

/* A uniform float in [0, 1) from 24 random bits (exactly representable, identical on every device). */
SL_RNG_FN float sl_rng_u01(uint32_t bits) {
    return (float)(bits >> 8) * (1.0f / 16777216.0f);
}

/* A uniform double in [0, 1) from 53 random bits. */
SL_RNG_FN double sl_rng_u01_double(uint32_t a, uint32_t b) {
    return (double)(((uint64_t)a << 21) ^ (b >> 11)) * (1.0 / 9007199254740992.0);
}

/* A sequential stream over Philox for host code that needs many numbers in order (shuffles, init).
 * `stream` separates independent uses under one seed (e.g. 1 = data order, 2 = LoRA init). */
typedef struct {
    uint64_t key;
    uint64_t stream;
    uint64_t counter;
    sl_philox_out buf;
    int used; /* words of buf consumed; 4 = empty */
} sl_rng;

SL_RNG_FN void sl_rng_init(sl_rng *r, uint64_t seed, uint64_t stream) {
    r->key = seed;
    r->stream = stream;
    r->counter = 0;
    r->used = 4;
}

SL_RNG_FN uint32_t sl_rng_u32(sl_rng *r) {
    if (r->used == 4) {
        r->buf = sl_philox4x32(r->key, r->stream, r->counter++);
        r->used = 0;
    }
    return r->buf.v[r->used++];
}

SL_RNG_FN double sl_rng_uniform(sl_rng *r) {
    uint32_t a = sl_rng_u32(r);
    uint32_t b = sl_rng_u32(r);
    return sl_rng_u01_double(a, b);
}

/* Unbiased integer in [0, n) (Lemire's method), n > 0. */
SL_RNG_FN uint32_t sl_rng_below(sl_rng *r, uint32_t n) {
    uint64_t m = (uint64_t)sl_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)sl_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

#endif
