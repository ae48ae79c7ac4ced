/* The bf16 GEMM of the CPU engine (src/nn/gemm_bf16.c).
 *
 * Rounding: ties to even on hand-made bit patterns, NaN kept quiet with its sign, infinities and the
 * largest finite values (rounding up to inf, as PyTorch does), and the AVX-512 and portable paths give
 * the same bits on 1e6 random floats of every exponent.
 * GEMM: against the same products computed in double from the bf16-rounded operands, for row counts that
 * exercise full and partial blocks (1 .. 4100), both operand orientations, bias, accumulation and a
 * leading dimension wider than N; within 2e-6 of the sum of |products| (fp32 accumulation), and the
 * results do not depend on the thread count (1, 2 and 3 threads, byte for byte).
 * Without oneDNN or a CPU with bf16 dot products, the GEMM checks cannot run: exit 77 (Skipped) after the
 * rounding checks. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gemm_bf16.h"
#include "nn/kernels_simd.h"
#include "nn/parallel.h"
#include "test.h"

static uint64_t rs = 0x9E3779B97F4A7C15ULL;
static uint64_t next64(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static float urandf(void) {
    return (float)((double)(next64() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint16_t round1(float f) {
    uint16_t h;
    sl_nn_bf16_round(&h, &f, 1);
    return h;
}

static void test_rounding(void) {
    /* 1.0 + half an ulp of bf16: a tie, to even (down); 1.0 + 1.5 ulp: a tie, to even (up). */
    CHECK_EQ_INT(round1(from_bits(0x3F808000u)), 0x3F80);
    CHECK_EQ_INT(round1(from_bits(0x3F818000u)), 0x3F82);
    CHECK_EQ_INT(round1(from_bits(0x3F808001u)), 0x3F81); /* above the tie: up */
    CHECK_EQ_INT(round1(from_bits(0x3F807FFFu)), 0x3F80); /* below: down */
    CHECK_EQ_INT(round1(-2.0f), 0xC000);
    CHECK_EQ_INT(round1(INFINITY), 0x7F80);
    CHECK_EQ_INT(round1(-INFINITY), 0xFF80);
    CHECK_EQ_INT(round1(from_bits(0x7F7FFFFFu)), 0x7F80);          /* FLT_MAX rounds to inf */
    CHECK_EQ_INT(round1(from_bits(0x00000001u)), 0x0000);          /* the smallest subnormal rounds to 0 */
    CHECK_EQ_INT(round1(from_bits(0x7FA00000u)), 0x7FE0);          /* signalling NaN -> quiet, payload kept */
    CHECK_EQ_INT(round1(from_bits(0xFFC00001u)), 0xFFC0);          /* negative NaN keeps its sign */
    CHECK_EQ_INT(round1(from_bits(0x7F800001u)) & 0x7FC0, 0x7FC0); /* low-payload NaN stays NaN */
    CHECK(sl_nn_bf16_to_float(0x3F80) == 1.0f);

    enum { n = 1000003 };
    float *x = malloc(n * sizeof *x);
    uint16_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)next64();
        x[i] = from_bits(u);
    }
    sl_nn_k_simd_enable(1);
    sl_nn_bf16_round(a, x, n);
    sl_nn_k_simd_enable(0);
    sl_nn_bf16_round(b, x, n);
    sl_nn_k_simd_enable(1);
    CHECK(memcmp(a, b, n * sizeof *a) == 0);
    /* every non-NaN result is one of the two bf16 values around x, the nearer one */
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            bad += !isnan(sl_nn_bf16_to_float(a[i]));
            continue;
        }
        double v = x[i], r = sl_nn_bf16_to_float(a[i]);
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        double lo = sl_nn_bf16_to_float((uint16_t)(u >> 16)),
               hi = sl_nn_bf16_to_float((uint16_t)((u >> 16) + 1));
        if (isinf(v)) {
            bad += r != v;
            continue;
        }
        /* past the largest bf16 the next value is +-2^128, which the rounding writes as +-inf */
        if (isinf(hi)) hi = copysign(ldexp(1.0, 128), v);
        if (isinf(r)) r = copysign(ldexp(1.0, 128), v);
        bad += !(r == lo || r == hi) || fabs(r - v) > fabs((r == lo ? hi : lo) - v);
    }
    CHECK_EQ_INT((long long)bad, 0);
    free(x), free(a), free(b);
}

/* C = bf16(A) op(bf16(B)) (+ bias) (+ C0) in double; err_scale = sum |products| per element. */
static void reference(const float *A, const float *B, int M, int K, int N, int trans_b, const float *bias,
                      const float *C0, double *ref, double *scale) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, a = 0;
            for (int k = 0; k < K; k++) {
                double x = sl_nn_bf16_to_float(round1(A[(size_t)i * K + k]));
                double w = sl_nn_bf16_to_float(round1(trans_b ? B[(size_t)j * K + k] : B[(size_t)k * N + j]));
                s += x * w;
                a += fabs(x * w);
            }
            if (bias) s += bias[j], a += fabs(bias[j]);
            if (C0) s += C0[(size_t)i * N + j], a += fabs(C0[(size_t)i * N + j]);
            ref[(size_t)i * N + j] = s;
            scale[(size_t)i * N + j] = a;
        }
}

static void one_case(int M, int K, int N, int trans_b, int with_bias, int accumulate, int ldc_extra) {
    const int ldc = N + ldc_extra;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N),
          *bias = malloc(sizeof(float) * N);
    float *C0 = malloc(sizeof(float) * M * N), *C[3];
    double *ref = malloc(sizeof(double) * M * N), *scale = malloc(sizeof(double) * M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = urandf() * 3;
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = urandf() * 0.1f;
    for (int i = 0; i < N; i++) bias[i] = urandf();
    for (size_t i = 0; i < (size_t)M * N; i++) C0[i] = urandf() * 2;
    sl_nn_bf16_mat *mat = NULL;
    sl_err err = {0};
    int rc = sl_nn_bf16_mat_create(B, K, N, trans_b, &mat, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(sl_nn_bf16_mat_bytes(mat) >= (size_t)K * N * 2);
    reference(A, B, M, K, N, trans_b, with_bias ? bias : NULL, accumulate ? C0 : NULL, ref, scale);
    for (int t = 0; t < 3; t++) {
        C[t] = malloc(sizeof(float) * M * ldc);
        for (int i = 0; i < M; i++) {
            memcpy(C[t] + (size_t)i * ldc, C0 + (size_t)i * N, sizeof(float) * N);
            for (int j = N; j < ldc; j++) C[t][(size_t)i * ldc + j] = -7.0f; /* must stay */
        }
        sl_nn_set_threads(t + 1);
        sl_nn_bf16_gemm(mat, M, A, K, with_bias ? bias : NULL, accumulate, C[t], ldc);
        CHECK_EQ_INT(sl_nn_bf16_take_error(&err), 0);
    }
    double worst = 0;
    size_t untouched_bad = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double e =
                fabs(C[0][(size_t)i * ldc + j] - ref[(size_t)i * N + j]) / (scale[(size_t)i * N + j] + 1e-30);
            if (!(e <= worst)) worst = e; /* NaN makes worst NaN */
        }
        for (int j = N; j < ldc; j++) untouched_bad += C[0][(size_t)i * ldc + j] != -7.0f;
    }
    if (!(worst < 2e-6))
        fprintf(stderr, "M %d K %d N %d trans %d bias %d acc %d: worst %.3g\n", M, K, N, trans_b, with_bias,
                accumulate, worst);
    CHECK(worst < 2e-6);
    CHECK_EQ_INT((long long)untouched_bad, 0);
    CHECK(memcmp(C[0], C[1], sizeof(float) * M * ldc) == 0);
    CHECK(memcmp(C[0], C[2], sizeof(float) * M * ldc) == 0);
    sl_nn_bf16_mat_free(mat);
    for (int t = 0; t < 3; t++) free(C[t]);
    free(A), free(B), free(bias), free(C0), free(ref), free(scale);
}

static void test_gemm(void) {
    static const int rows[] = {1, 7, 63, 64, 100, 257, 1000, 1031};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) one_case(rows[i], 96, 80, (int)(i & 1), 1, 0, 0);
    one_case(300, 64, 48, 0, 0, 1, 5);
    one_case(300, 64, 48, 1, 1, 1, 0);
    one_case(4100, 768, 64, 1, 1, 0, 0); /* a BERT-wide K, 17 blocks */
    one_case(129, 33, 17, 0, 1, 1, 3);   /* odd K and N */
}

int main(void) {
    RUN_TEST(test_rounding);
    char why[256];
    if (!sl_nn_bf16_supported(why, sizeof why)) {
        sl_nn_bf16_mat *m = NULL;
        sl_err err = {0};
        float w[4] = {0};
        CHECK_EQ_INT(sl_nn_bf16_mat_create(w, 2, 2, 0, &m, &err), SL_EUSAGE);
        CHECK(m == NULL && strstr(err.msg, "bf16") != NULL);
        int failed = TEST_RESULT();
        if (failed) return failed;
        fprintf(stderr, "SKIPPED the GEMM checks: %s\n", why);
        return 77;
    }
    RUN_TEST(test_gemm);
    return TEST_RESULT();
}
