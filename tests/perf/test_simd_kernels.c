/* The dropout kernels' AVX-512 paths draw the same masks and write the same bits as the definition
 * "element base + i is kept iff (Philox4x32-10 word (base+i) % 4 of counter (hi, (base+i) / 4) under key
 * seed ^ golden) >> 8 >= ceil(p * 2^24)" (sl_philox4x32 from util/rng.h, the function the CUDA module
 * shares), at every length and start alignment, with the fast path on and off. On a CPU without AVX-512 both
 * runs take the portable path; the test says which it checked. */
#include <stdint.h>
#include <string.h>

#include "nn/bert_impl.h"
#include "nn/kernels_simd.h"
#include "test.h"
#include "util/rng.h"

static int ref_keep(float p, uint64_t seed, uint64_t hi, uint64_t idx) {
    double t = (double)p * 16777216.0;
    uint32_t thr = (uint32_t)t;
    if ((double)thr < t) thr++;
    sl_philox_out r = sl_philox4x32(seed ^ 0x9e3779b97f4a7c15ULL, hi, idx / 4);
    return (r.v[idx % 4] >> 8) >= thr;
}

static void check_masks(void) {
    static const size_t lens[] = {1, 3, 63, 64, 65, 127, 128, 200, 1000, 4096, 16384 + 17};
    static const uint64_t bases[] = {0, 1, 2, 3, 4, 64, 1000, 16384, ((uint64_t)1 << 34) - 8};
    static const float ps[] = {0.1f, 0.5f, 0.9f, 1e-7f};
    size_t maxn = 16384 + 17, nw = (maxn + 63) / 64;
    uint64_t *bits = malloc(nw * sizeof *bits);
    float *x = malloc(maxn * sizeof *x), *y = malloc(maxn * sizeof *y);
    CHECK(bits && x && y);
    if (!bits || !x || !y) goto out;
    for (size_t i = 0; i < maxn; i++) /* signed values, zeros, a NaN and an infinity */
        x[i] = i % 97 == 0 ? 0.0f : (i % 2 ? -1.0f : 1.0f) * (float)(i % 1013) * 0.37f;
    x[5] = NAN;
    x[70] = -INFINITY;
    for (int simd = 1; simd >= 0; simd--) {
        sl_nn_k_simd_enable(simd);
        long bad = 0, badv = 0, kept = 0, total = 0;
        for (size_t a = 0; a < sizeof lens / sizeof *lens; a++)
            for (size_t b = 0; b < sizeof bases / sizeof *bases; b++)
                for (size_t c = 0; c < sizeof ps / sizeof *ps; c++) {
                    size_t n = lens[a];
                    uint64_t hi = sl_nn_drop_hi(7 + c, (int)b, (int)a);
                    memset(bits, 0xa5, nw * sizeof *bits);
                    sl_nn_k_dropout_bits(bits, n, ps[c], 1234 + b, hi, bases[b]);
                    float scale = 1.0f / (1.0f - ps[c]);
                    sl_nn_k_apply_bits(y, x, bits, n, scale);
                    for (size_t i = 0; i < n; i++) {
                        int k = ref_keep(ps[c], 1234 + b, hi, bases[b] + i);
                        int got = (int)((bits[i / 64] >> (i % 64)) & 1);
                        bad += got != k;
                        kept += k;
                        total++;
                        float want = k ? x[i] * scale : 0.0f;
                        badv += memcmp(&want, &y[i], sizeof want) != 0;
                    }
                    for (size_t i = n; i < (n + 63) / 64 * 64; i++) bad += (bits[i / 64] >> (i % 64)) & 1;
                    /* the mask-free in-place dropout: the same draws and values */
                    memcpy(y, x, n * sizeof *x);
                    sl_nn_k_dropout(y, n, ps[c], 1234 + b, hi, bases[b]);
                    for (size_t i = 0; i < n; i++) {
                        float want = ref_keep(ps[c], 1234 + b, hi, bases[b] + i) ? x[i] * scale : 0.0f;
                        badv += memcmp(&want, &y[i], sizeof want) != 0;
                    }
                }
        fprintf(stderr, "%s path: %ld elements, %ld kept, %ld mask and %ld value mismatches\n",
                simd && sl_nn_k_simd_active() ? "AVX-512" : "portable", total, kept, bad, badv);
        CHECK_EQ_INT(bad, 0);
        CHECK_EQ_INT(badv, 0);
        CHECK(kept > 0 && kept < total);
    }
    sl_nn_k_simd_enable(1);
out:
    free(bits);
    free(x);
    free(y);
}

/* sl_nn_k_dropout_cached draws the same mask with and without the fast path (its chunks start at 64-aligned
 * elements) and replays it. */
static void check_cached(void) {
    size_t n = (1 << 17) + 100;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    uint64_t *ba = malloc((n + 63) / 64 * 8), *bb = malloc((n + 63) / 64 * 8);
    CHECK(a && b && ba && bb);
    if (a && b && ba && bb) {
        for (size_t i = 0; i < n; i++) a[i] = b[i] = (float)(i % 31) - 15.0f;
        sl_nn_k_simd_enable(1);
        sl_nn_k_dropout_cached(a, n, 0.1f, 99, 5, ba, 0);
        sl_nn_k_simd_enable(0);
        sl_nn_k_dropout_cached(b, n, 0.1f, 99, 5, bb, 0);
        CHECK(memcmp(a, b, n * sizeof *a) == 0);
        CHECK(memcmp(ba, bb, (n + 63) / 64 * 8) == 0);
        for (size_t i = 0; i < n; i++) b[i] = (float)(i % 31) - 15.0f;
        sl_nn_k_dropout(b, n, 0.1f, 99, 5, 0); /* the mask-free path: same draws */
        CHECK(memcmp(a, b, n * sizeof *a) == 0);
        sl_nn_k_simd_enable(1);
        for (size_t i = 0; i < n; i++) b[i] = (float)(i % 31) - 15.0f;
        sl_nn_k_dropout(b, n, 0.1f, 99, 5, 0);
        CHECK(memcmp(a, b, n * sizeof *a) == 0);
        sl_nn_k_simd_enable(1);
    }
    free(a);
    free(b);
    free(ba);
    free(bb);
}

int main(void) {
    RUN_TEST(check_masks);
    RUN_TEST(check_cached);
    sl_nn_k_simd_enable(1);
    return TEST_RESULT_UNLESS_SKIPPED(
        sl_nn_k_simd_active(), "no AVX-512 on this CPU: the AVX-512 vs portable C comparison did not run");
}
