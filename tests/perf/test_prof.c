/* The engine's phase profile (src/nn/prof.h): off by default and then free of effects; when on, GEMMs
 * through sl_nn_sgemm count 2 M N K operations and their time goes to the "gemm" phase; a region opened
 * inside another (or by a pool worker while the driver's is open) is not timed; reset zeroes everything;
 * the profile does not change results. */
#include <stdlib.h>
#include <time.h>

#include "nn/parallel.h"
#include "nn/prof.h"
#include "test.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u + seed) % 1000) / 500.0f - 1.0f;
}

static void check_gemm_counts(void) {
    const int M = 300, N = 200, K = 70;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K);
    float *C0 = malloc(sizeof(float) * M * N), *C1 = malloc(sizeof(float) * M * N);
    CHECK(A && B && C0 && C1);
    if (A && B && C0 && C1) {
        fill(A, (size_t)M * K, 1);
        fill(B, (size_t)N * K, 2);
        CHECK(!sl_nn_prof_enabled());
        sl_nn_sgemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C0, N);
        CHECK(sl_nn_prof_total_flops() == 0.0 && sl_nn_prof_seconds(SL_NN_PH_GEMM) == 0.0);
        sl_nn_prof_enable(1);
        double w0 = now_s();
        sl_nn_sgemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C1, N);
        sl_nn_sgemm(0, 0, 20, 300, 10, 1.0f, A, 10, B, 300, 0.0f, C1 + 100, 300); /* 20x300x10 more */
        sl_nn_sgemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C1, N);
        CHECK(sl_nn_prof_total_flops() == 2.0 * (2.0 * M * N * K) + 2.0 * 20 * 300 * 10);
        double wall = now_s() - w0;
        CHECK(sl_nn_prof_seconds(SL_NN_PH_GEMM) > 0.0);
        CHECK(sl_nn_prof_seconds(SL_NN_PH_GEMM) <= wall); /* the workers' share is not added twice */
        for (int p = 1; p < SL_NN_PH_N; p++) CHECK(sl_nn_prof_seconds((sl_nn_phase)p) == 0.0);
        CHECK(!memcmp(C0, C1, sizeof(float) * M * N)); /* same bits with the profile on */
        /* nesting: the inner region is not timed, the outer one is */
        double outer = sl_nn_prof_begin();
        CHECK(outer > 0.0);
        CHECK(sl_nn_prof_begin() == 0.0);
        double before = sl_nn_prof_seconds(SL_NN_PH_GELU);
        sl_nn_prof_end(SL_NN_PH_GELU, 0.0);
        CHECK(sl_nn_prof_seconds(SL_NN_PH_GELU) == before);
        sl_nn_prof_end(SL_NN_PH_OPTIMIZER, outer);
        CHECK(sl_nn_prof_seconds(SL_NN_PH_OPTIMIZER) > 0.0);
        double again = sl_nn_prof_begin(); /* closed: a new region opens */
        CHECK(again > 0.0);
        sl_nn_prof_end(SL_NN_PH_OPTIMIZER, again);
        sl_nn_prof_reset();
        for (int p = 0; p < SL_NN_PH_N; p++) CHECK(sl_nn_prof_seconds((sl_nn_phase)p) == 0.0);
        CHECK(sl_nn_prof_total_flops() == 0.0);
        sl_nn_prof_enable(0);
        CHECK(sl_nn_prof_begin() == 0.0);
        CHECK_EQ_STR(sl_nn_prof_name(SL_NN_PH_ATTENTION), "attention");
    }
    free(A), free(B), free(C0), free(C1);
}

int main(void) {
    sl_nn_set_threads(2); /* GEMM tasks run on a worker too: their time must not be added twice */
    check_gemm_counts();
    sl_nn_set_threads(1);
    return TEST_RESULT();
}
