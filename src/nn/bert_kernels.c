/* The element-wise and row kernels of the BERT forward/backward, and the Linear GEMM (OpenBLAS). */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "bert_impl.h"
#include "elementwise.h"
#include "kernels_simd.h"
#include "parallel.h"
#include "prof.h"
#include "util/rng.h"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SL_NN_HAVE_AVX512_PATH 1
#include <immintrin.h>
#endif

static atomic_int simd_enabled = 1;

void sl_nn_k_simd_enable(int on) {
    atomic_store(&simd_enabled, on ? 1 : 0);
}

int sl_nn_k_simd_active(void) {
#ifdef SL_NN_HAVE_AVX512_PATH
    return atomic_load(&simd_enabled) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2");
#else
    return 0;
#endif
}

void sl_nn_k_linear(float *y, const float *x, const float *w, const float *b, int N, int in, int out) {
    sl_nn_sgemm(0, 1, N, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (b) sl_nn_k_add_bias(y, b, N, out);
}

uint64_t sl_nn_drop_hi(uint64_t micro, int layer, int tensor) {
    return (micro << 16) | ((uint64_t)(layer + 1) << 6) | (uint64_t)tensor;
}

/* ---- dropout: element base+i keeps when its 24-bit Philox draw k satisfies k / 2^24 >= p ---- */

/* The integer threshold: a 24-bit draw k is dropped iff k < thr, i.e. (double)k < p * 2^24. */
static uint32_t drop_thr(float p) {
    double t = (double)p * 16777216.0;
    uint32_t c = (uint32_t)t;
    return (double)c < t ? c + 1 : c;
}

typedef struct {
    float *x;
    size_t n;
    uint32_t thr;
    float scale;
    uint64_t key, hi, base;
} drop_job;

#ifdef SL_NN_HAVE_AVX512_PATH
static void dropout_words_avx512(uint64_t *bits, size_t nw, uint32_t thr, uint64_t key, uint64_t hi,
                                 uint64_t base);
static void apply_words_avx512(float *y, const float *x, const uint64_t *bits, size_t nw, float scale);
#endif

static void dropout_range(const drop_job *j, size_t i0, size_t i1) {
    size_t i = i0;
#ifdef SL_NN_HAVE_AVX512_PATH
    if ((j->base + i) % 4 == 0 && i1 - i >= 64 && sl_nn_k_simd_active())
        for (; i + 64 <= i1; i += 64) { /* one mask word at a time, applied at once: same draws */
            uint64_t w;
            dropout_words_avx512(&w, 1, j->thr, j->key, j->hi, j->base + i);
            apply_words_avx512(j->x + i, j->x + i, &w, 1, j->scale);
        }
#endif
    while (i < i1) {
        uint64_t idx = j->base + i;
        sl_philox_out r = sl_philox4x32(j->key, j->hi, idx / 4);
        for (unsigned w = (unsigned)(idx % 4); w < 4 && i < i1; w++, i++)
            j->x[i] = (r.v[w] >> 8) < j->thr ? 0.0f : j->x[i] * j->scale;
    }
}

#ifdef SL_NN_HAVE_AVX512_PATH
/* Philox4x32-10 for the 8 64-bit counters in ctr (each lane's 32-bit words in the low halves of 64-bit
 * lanes, so _mm512_mul_epu32 gives the full 32x32->64 products); the same rounds as sl_philox4x32. */
__attribute__((target("avx512f"))) static void philox8_avx512(__m512i ctr, uint64_t key, uint64_t hi,
                                                              __m512i out[4]) {
    const __m512i lo32 = _mm512_set1_epi64(0xffffffffLL);
    const __m512i m0 = _mm512_set1_epi64(0xD2511F53LL), m1 = _mm512_set1_epi64(0xCD9E8D57LL);
    __m512i c0 = _mm512_and_si512(ctr, lo32), c1 = _mm512_srli_epi64(ctr, 32);
    __m512i c2 = _mm512_set1_epi64((long long)(uint32_t)hi), c3 = _mm512_set1_epi64((long long)(hi >> 32));
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        __m512i p0 = _mm512_mul_epu32(m0, c0), p1 = _mm512_mul_epu32(m1, c2);
        __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p1, 32), c1),
                                      _mm512_set1_epi64((long long)k0));
        __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p0, 32), c3),
                                      _mm512_set1_epi64((long long)k1));
        c1 = _mm512_and_si512(p1, lo32);
        c3 = _mm512_and_si512(p0, lo32);
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Words [0, nw) of the keep mask of elements base + 64 w .. (base % 4 == 0): 16 counters per word. */
__attribute__((target("avx512f,bmi2"))) static void
dropout_words_avx512(uint64_t *bits, size_t nw, uint32_t thr, uint64_t key, uint64_t hi, uint64_t base) {
    const __m512i step = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), vthr = _mm512_set1_epi64(thr);
    for (size_t w = 0; w < nw; w++) {
        uint64_t ctr0 = base / 4 + 16 * (uint64_t)w;
        __m512i a[4], b[4];
        philox8_avx512(_mm512_add_epi64(_mm512_set1_epi64((long long)ctr0), step), key, hi, a);
        philox8_avx512(_mm512_add_epi64(_mm512_set1_epi64((long long)(ctr0 + 8)), step), key, hi, b);
        uint64_t word = 0;
        for (int q = 0; q < 4; q++) { /* element 4 j + q (counter j, output word q) keeps iff draw >= thr */
            unsigned ma = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(a[q], 8), vthr);
            unsigned mb = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(b[q], 8), vthr);
            word |= _pdep_u64((uint64_t)(ma | mb << 8), 0x1111111111111111ULL << q);
        }
        bits[w] = word;
    }
}

/* y[i] = bit i ? x[i] * scale : +0 for whole 64-element words: a masked multiply, same IEEE product. */
__attribute__((target("avx512f"))) static void
apply_words_avx512(float *y, const float *x, const uint64_t *bits, size_t nw, float scale) {
    const __m512 s = _mm512_set1_ps(scale);
    for (size_t w = 0; w < nw; w++) {
        uint64_t m = bits[w];
        for (int q = 0; q < 4; q++) {
            __m512 v = _mm512_loadu_ps(x + 64 * w + 16 * q);
            _mm512_storeu_ps(y + 64 * w + 16 * q, _mm512_maskz_mul_ps((__mmask16)(m >> (16 * q)), v, s));
        }
    }
}
#endif

void sl_nn_k_dropout_bits(uint64_t *bits, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t base) {
    const uint32_t thr = drop_thr(p);
    const uint64_t key = seed ^ 0x9e3779b97f4a7c15ULL;
    size_t i = 0;
#ifdef SL_NN_HAVE_AVX512_PATH
    if (base % 4 == 0 && n >= 64 && sl_nn_k_simd_active()) {
        dropout_words_avx512(bits, n / 64, thr, key, hi, base); /* assigns whole words */
        i = n / 64 * 64;
    }
#endif
    memset(bits + i / 64, 0, ((n + 63) / 64 - i / 64) * sizeof(uint64_t));
    while (i < n) {
        uint64_t idx = base + i;
        sl_philox_out r = sl_philox4x32(key, hi, idx / 4);
        for (unsigned w = (unsigned)(idx % 4); w < 4 && i < n; w++, i++)
            if ((r.v[w] >> 8) >= thr) bits[i / 64] |= (uint64_t)1 << (i % 64);
    }
}

void sl_nn_k_apply_bits(float *y, const float *x, const uint64_t *bits, size_t n, float scale) {
    size_t i = 0;
#ifdef SL_NN_HAVE_AVX512_PATH
    if (n >= 64 && sl_nn_k_simd_active()) {
        apply_words_avx512(y, x, bits, n / 64, scale);
        i = n / 64 * 64;
    }
#endif
    for (; i + 64 <= n; i += 64) {
        uint64_t w = bits[i / 64];
        for (int k = 0; k < 64; k++) y[i + k] = (w >> k) & 1 ? x[i + k] * scale : 0.0f;
    }
    for (; i < n; i++) y[i] = (bits[i / 64] >> (i % 64)) & 1 ? x[i] * scale : 0.0f;
}

#define DROP_CHUNK ((size_t)1 << 16)

typedef struct {
    float *x;
    uint64_t *bits;
    size_t n;
    float p, scale;
    uint64_t seed, hi;
    int replay;
} cached_job;

static void cached_task(void *vp, size_t t, int worker) {
    (void)worker;
    const cached_job *j = vp;
    size_t i0 = t * DROP_CHUNK,
           n = j->n - i0 < DROP_CHUNK ? j->n - i0 : DROP_CHUNK; /* i0 is a multiple of 64 */
    if (!j->replay) sl_nn_k_dropout_bits(j->bits + i0 / 64, n, j->p, j->seed, j->hi, i0);
    sl_nn_k_apply_bits(j->x + i0, j->x + i0, j->bits + i0 / 64, n, j->scale);
}

void sl_nn_k_dropout_cached(float *x, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t *bits,
                            int replay) {
    if (p <= 0) return;
    if (!bits) {
        sl_nn_k_dropout(x, n, p, seed, hi, 0);
        return;
    }
    cached_job j = {x, bits, n, p, 1.0f / (1.0f - p), seed, hi, replay};
    double t0 = sl_nn_prof_begin();
    sl_nn_parallel_for((n + DROP_CHUNK - 1) / DROP_CHUNK, cached_task, &j);
    sl_nn_prof_end(SL_NN_PH_DROPOUT, t0);
}

static void dropout_task(void *p, size_t t, int worker) {
    (void)worker;
    const drop_job *j = p;
    size_t i0 = t * DROP_CHUNK, i1 = i0 + DROP_CHUNK < j->n ? i0 + DROP_CHUNK : j->n;
    dropout_range(j, i0, i1);
}

void sl_nn_k_dropout(float *x, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t base) {
    if (p <= 0) return;
    drop_job j = {x, n, drop_thr(p), 1.0f / (1.0f - p), seed ^ 0x9e3779b97f4a7c15ULL, hi, base};
    double t0 = sl_nn_prof_begin();
    if (n <= DROP_CHUNK || sl_nn_get_threads() == 1)
        dropout_range(&j, 0, n);
    else
        sl_nn_parallel_for((n + DROP_CHUNK - 1) / DROP_CHUNK, dropout_task, &j);
    sl_nn_prof_end(SL_NN_PH_DROPOUT, t0);
}
