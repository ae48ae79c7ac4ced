/* The oneDNN GEMMs of the CPU engine (src/nn/gemm_onednn.c), fp32 and bf16.
 *
 * Rounding: ties to even on hand-made bit patterns, NaN kept quiet with its sign, infinities and the
 * largest finite values (rounding up to inf, as PyTorch does), and the AVX-512 and portable paths give
 * the same bits on 1e6 random floats of every exponent.
 * Frozen-operand GEMM: against the same products computed in double from the operands (bf16: rounded), for
 * row counts that exercise full and partial blocks (1 .. 4100), both operand orientations, bias,
 * accumulation, leading dimensions wider than K and N; within 2e-6 of the sum of |products| (fp32
 * accumulation), and the results do not depend on the thread count (1, 2 and 3 threads, byte for byte).
 * Activation products (attention): strided operands, transposed A or B, alpha, run from pool tasks;
 * same bound, 1 and 2 threads byte for byte.
 * A shape oneDNN refuses (injected): fp32 falls back to OpenBLAS with the same result and nothing recorded;
 * bf16 records the failure (the pass fails) and leaves NaN.
 * Where a type is not available (no oneDNN; fp32 needs AVX-512, bf16 AVX512-BF16/AMX) its checks cannot
 * run: exit 77 (Skipped) after the others. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gemm_onednn.h"
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
static double rnd(float x, sl_nn_dnnl_type type) {
    return type == SL_NN_DNNL_BF16 ? sl_nn_bf16_to_float(round1(x)) : (double)x;
}

/* C = alpha op(A) op(B) (+ bias) (+ C0) in double, operands rounded as the type does; scale = the sum of
 * |terms| per element (what fp32 accumulation errors are relative to). A is [M, K] (lda) or, trans_a,
 * [K, M]; B is [K, N] (ldb) or, trans_b, [N, K]. */
static void reference(const float *A, int lda, int trans_a, const float *B, int ldb, int trans_b, int M,
                      int K, int N, double alpha, const float *bias, const float *C0, sl_nn_dnnl_type type,
                      double *ref, double *scale) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, a = 0;
            for (int k = 0; k < K; k++) {
                double x = rnd(trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k], type);
                double w = rnd(trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j], type);
                s += alpha * x * w;
                a += fabs(alpha * x * w);
            }
            if (bias) s += bias[j], a += fabs(bias[j]);
            if (C0) s += C0[(size_t)i * N + j], a += fabs(C0[(size_t)i * N + j]);
            ref[(size_t)i * N + j] = s;
            scale[(size_t)i * N + j] = a;
        }
}

/* Worst |C - ref| / scale over the M x N block of C (ldc); NaN when any output is NaN. */
static double worst_error(const float *C, int ldc, const double *ref, const double *scale, int M, int N) {
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double e =
                fabs(C[(size_t)i * ldc + j] - ref[(size_t)i * N + j]) / (scale[(size_t)i * N + j] + 1e-30);
            if (!(e <= worst)) worst = e;
        }
    return worst;
}

static const char *tname(sl_nn_dnnl_type t) {
    return t == SL_NN_DNNL_BF16 ? "bf16" : "fp32";
}

static void one_case(sl_nn_dnnl_type type, int M, int K, int N, int trans_b, int with_bias, int accumulate,
                     int ldc_extra, int lda_extra) {
    const int ldc = N + ldc_extra, lda = K + lda_extra;
    float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * N),
          *bias = malloc(sizeof(float) * N);
    float *C0 = malloc(sizeof(float) * M * N), *C[3];
    double *ref = malloc(sizeof(double) * M * N), *scale = malloc(sizeof(double) * M * N);
    for (size_t i = 0; i < (size_t)M * lda; i++) A[i] = urandf() * 3;
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = urandf() * 0.1f;
    for (int i = 0; i < N; i++) bias[i] = urandf();
    for (size_t i = 0; i < (size_t)M * N; i++) C0[i] = urandf() * 2;
    sl_nn_dnnl_mat *mat = NULL;
    sl_err err = {0};
    int rc = sl_nn_dnnl_mat_create(B, K, N, trans_b, type, &mat, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    /* bf16 packs a copy; fp32 uses B where it lies */
    CHECK(type == SL_NN_DNNL_BF16 ? sl_nn_dnnl_mat_bytes(mat) >= (size_t)K * N * 2
                                  : sl_nn_dnnl_mat_bytes(mat) == 0);
    reference(A, lda, 0, B, trans_b ? K : N, trans_b, M, K, N, 1.0, with_bias ? bias : NULL,
              accumulate ? C0 : NULL, type, ref, scale);
    for (int t = 0; t < 3; t++) {
        C[t] = malloc(sizeof(float) * M * ldc);
        for (int i = 0; i < M; i++) {
            memcpy(C[t] + (size_t)i * ldc, C0 + (size_t)i * N, sizeof(float) * N);
            for (int j = N; j < ldc; j++) C[t][(size_t)i * ldc + j] = -7.0f; /* must stay */
        }
        sl_nn_set_threads(t + 1);
        sl_nn_dnnl_gemm(mat, M, A, lda, with_bias ? bias : NULL, accumulate, C[t], ldc);
        CHECK_EQ_INT(sl_nn_dnnl_take_error(&err), 0);
    }
    double worst = worst_error(C[0], ldc, ref, scale, M, N);
    size_t untouched_bad = 0;
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++) untouched_bad += C[0][(size_t)i * ldc + j] != -7.0f;
    if (!(worst < 2e-6))
        fprintf(stderr, "%s M %d K %d N %d trans %d bias %d acc %d: worst %.3g\n", tname(type), M, K, N,
                trans_b, with_bias, accumulate, worst);
    CHECK(worst < 2e-6);
    CHECK_EQ_INT((long long)untouched_bad, 0);
    CHECK(memcmp(C[0], C[1], sizeof(float) * M * ldc) == 0);
    CHECK(memcmp(C[0], C[2], sizeof(float) * M * ldc) == 0);
    sl_nn_dnnl_mat_free(mat);
    for (int t = 0; t < 3; t++) free(C[t]);
    free(A), free(B), free(bias), free(C0), free(ref), free(scale);
}

static void test_gemm(sl_nn_dnnl_type type) {
    static const int rows[] = {1, 7, 63, 64, 100, 257, 1000, 1031};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        one_case(type, rows[i], 96, 80, (int)(i & 1), 1, 0, 0, 0);
    one_case(type, 300, 64, 48, 0, 0, 1, 5, 7);
    one_case(type, 300, 64, 48, 1, 1, 1, 0, 0);
    one_case(type, 4100, 768, 64, 1, 1, 0, 0, 0); /* a BERT-wide K, 17 blocks */
    one_case(type, 129, 33, 17, 0, 1, 1, 3, 2);   /* odd K and N */
}

/* The activation products (attention): strided operands, both transpositions, alpha, run from pool tasks
 * (one product per task, outputs interleaved in C by ldc), results independent of the thread count. */
typedef struct {
    const sl_nn_dnnl_mm *mm;
    sl_nn_dnnl_type type;
    const float *A, *B;
    size_t a_size, b_size;
    int lda, ldb, a_rows, a_cols, b_rows, b_cols, N;
    float *C;
    int ldc;
} mm_job;

static void mm_task(void *ctx, size_t task, int worker) {
    const mm_job *j = ctx;
    const float *A = j->A + task * j->a_size, *B = j->B + task * j->b_size;
    float *C = j->C + task * (size_t)j->N; /* task t writes columns [t N, t N + N) */
    if (j->type == SL_NN_DNNL_FP32) {
        sl_nn_dnnl_mm_run(j->mm, worker, A, B, C);
        return;
    }
    uint16_t *a16 = sl_nn_dnnl_worker_scratch(worker), *b16 = a16 + (size_t)j->a_rows * j->lda;
    sl_nn_bf16_round_rows(a16, (size_t)j->lda, A, (size_t)j->lda, j->a_rows, j->a_cols);
    sl_nn_bf16_round_rows(b16, (size_t)j->ldb, B, (size_t)j->ldb, j->b_rows, j->b_cols);
    sl_nn_dnnl_mm_run(j->mm, worker, a16, b16, C);
}

static void mm_case(sl_nn_dnnl_type type, int M, int N, int K, int trans_a, int trans_b, float alpha) {
    enum { tasks = 5 };
    const int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K, b_rows = trans_b ? N : K,
              b_cols = trans_b ? K : N;
    const int lda = a_cols + 3, ldb = b_cols + 1, ldc = tasks * N;
    const size_t a_size = (size_t)a_rows * lda, b_size = (size_t)b_rows * ldb;
    float *A = malloc(sizeof(float) * a_size * tasks), *B = malloc(sizeof(float) * b_size * tasks);
    float *C[2] = {malloc(sizeof(float) * M * ldc), malloc(sizeof(float) * M * ldc)};
    double *ref = malloc(sizeof(double) * M * N), *scale = malloc(sizeof(double) * M * N);
    for (size_t i = 0; i < a_size * tasks; i++) A[i] = urandf();
    for (size_t i = 0; i < b_size * tasks; i++) B[i] = urandf();
    sl_err err = {0};
    for (int t = 0; t < 2; t++) {
        sl_nn_set_threads(t + 1);
        const size_t scratch = type == SL_NN_DNNL_BF16 ? a_size + b_size : 0;
        mm_job j = {sl_nn_dnnl_mm_get(M, N, K, trans_a, lda, trans_b, ldb, ldc, alpha, type, scratch),
                    type,
                    A,
                    B,
                    a_size,
                    b_size,
                    lda,
                    ldb,
                    a_rows,
                    a_cols,
                    b_rows,
                    b_cols,
                    N,
                    C[t],
                    ldc};
        CHECK(j.mm != NULL);
        if (!j.mm) {
            sl_nn_dnnl_take_error(&err);
            fprintf(stderr, "%s\n", err.msg);
            return;
        }
        sl_nn_parallel_for(tasks, mm_task, &j);
        CHECK_EQ_INT(sl_nn_dnnl_take_error(&err), 0);
    }
    double worst = 0;
    for (int t = 0; t < tasks; t++) {
        reference(A + t * a_size, lda, trans_a, B + t * b_size, ldb, trans_b, M, K, N, alpha, NULL, NULL,
                  type, ref, scale);
        double e = worst_error(C[0] + (size_t)t * N, ldc, ref, scale, M, N);
        if (!(e <= worst)) worst = e;
    }
    if (!(worst < 2e-6))
        fprintf(stderr, "mm %s M %d N %d K %d ta %d tb %d: worst %.3g\n", tname(type), M, N, K, trans_a,
                trans_b, worst);
    CHECK(worst < 2e-6);
    CHECK(memcmp(C[0], C[1], sizeof(float) * M * ldc) == 0);
    free(A), free(B), free(C[0]), free(C[1]), free(ref), free(scale);
}

static void test_mm(sl_nn_dnnl_type type) {
    mm_case(type, 128, 128, 64, 0, 1, 0.125f); /* q k^T / sqrt(d) */
    mm_case(type, 128, 64, 128, 0, 0, 1.0f);   /* P v */
    mm_case(type, 77, 32, 77, 1, 0, 1.0f);     /* P^T dctx, odd T */
    mm_case(type, 77, 32, 77, 1, 0, 0.3f);     /* dP^T q */
}

/* When oneDNN refuses a shape: fp32 products fall back to OpenBLAS (same result within the bound, nothing
 * recorded); bf16 ones record the failure and leave NaN, and the pass fails. */
static void refusal_case(sl_nn_dnnl_type type) {
    enum { M = 200, K = 48, N = 40 };
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N),
          *bias = malloc(sizeof(float) * N);
    float *C = malloc(sizeof(float) * M * (N + 3));
    double *ref = malloc(sizeof(double) * M * N), *scale = malloc(sizeof(double) * M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = urandf();
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = urandf();
    for (int i = 0; i < N; i++) bias[i] = urandf();
    sl_nn_dnnl_mat *mat = NULL;
    sl_err err = {0};
    sl_nn_set_threads(2);
    CHECK_EQ_INT(sl_nn_dnnl_mat_create(B, K, N, 1, type, &mat, &err), 0);
    if (!mat) return;
    sl_nn_dnnl_take_error(&err);
    sl_nn_dnnl_inject_failures(1); /* the next block primitive (ldc N + 3 is a new shape) is refused */
    sl_nn_dnnl_gemm(mat, M, A, K, bias, 0, C, N + 3);
    int rc = sl_nn_dnnl_take_error(&err);
    reference(A, K, 0, B, K, 1, M, K, N, 1.0, bias, NULL, type, ref, scale);
    double worst = worst_error(C, N + 3, ref, scale, M, N);
    if (type == SL_NN_DNNL_FP32) {
        CHECK_EQ_INT(rc, 0);
        CHECK(worst < 2e-6);
    } else {
        CHECK(rc == SL_EINTERNAL && strstr(err.msg, "refused") != NULL);
        CHECK(isnan(C[0]));
    }
    sl_nn_dnnl_inject_failures(1);
    const sl_nn_dnnl_mm *mm = sl_nn_dnnl_mm_get(33, 34, 35, 0, 35, 0, 34, 34, 1.0f, type, 4096);
    rc = sl_nn_dnnl_take_error(&err);
    CHECK(mm == NULL);
    CHECK_EQ_INT(rc, type == SL_NN_DNNL_FP32 ? 0 : SL_EINTERNAL); /* fp32: the caller uses OpenBLAS */
    sl_nn_dnnl_inject_failures(0);
    sl_nn_dnnl_mat_free(mat);
    free(A), free(B), free(bias), free(C), free(ref), free(scale);
}

static void test_fp32(void) {
    refusal_case(SL_NN_DNNL_FP32);
    test_gemm(SL_NN_DNNL_FP32);
    test_mm(SL_NN_DNNL_FP32);
}

static void test_bf16(void) {
    refusal_case(SL_NN_DNNL_BF16);
    test_gemm(SL_NN_DNNL_BF16);
    test_mm(SL_NN_DNNL_BF16);
}

int main(void) {
    RUN_TEST(test_rounding);
    char why[256];
    int skipped = 0;
    if (sl_nn_dnnl_fp32_active()) {
        RUN_TEST(test_fp32);
    } else {
        fprintf(stderr, "SKIPPED the fp32 checks: oneDNN's fp32 path is not active here\n");
        skipped = 1;
    }
    if (!sl_nn_bf16_supported(why, sizeof why)) {
        sl_nn_dnnl_mat *m = NULL;
        sl_err err = {0};
        float w[4] = {0};
        CHECK_EQ_INT(sl_nn_dnnl_mat_create(w, 2, 2, 0, SL_NN_DNNL_BF16, &m, &err), SL_EUSAGE);
        CHECK(m == NULL && strstr(err.msg, "bf16") != NULL);
        fprintf(stderr, "SKIPPED the bf16 checks: %s\n", why);
        skipped = 1;
    } else {
        RUN_TEST(test_bf16);
    }
    int failed = TEST_RESULT();
    return failed ? failed : skipped ? 77 : 0;
}
