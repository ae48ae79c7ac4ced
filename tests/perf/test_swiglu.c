/* The SwiGLU kernels (src/nn/swiglu.c): the AVX-512 and portable paths give the same bits, and the results
 * are within float rounding of the definition evaluated in double with libm's exp: y = silu(a) g and
 * dg = dy silu(a) within 2.5e-7 relative, da = dy g sigmoid(a) (1 + a (1 - sigmoid(a))) within 1e-6 relative
 * (+1e-12 absolute). Inputs sweep a over [-60, 60] with zeros, a NaN and both infinities in the rows. */
#include <stdint.h>
#include <string.h>

#include "nn/esm_impl.h"
#include "nn/kernels_simd.h"
#include "test.h"

enum { R = 5, NI = 2051 };

static double sig(double a) {
    return 1.0 / (1.0 + exp(-a));
}

int main(void) {
    float *x = malloc(sizeof(float) * R * 2 * NI), *y1 = malloc(sizeof(float) * R * NI),
          *y0 = malloc(sizeof(float) * R * NI), *dy = malloc(sizeof(float) * R * NI),
          *d1 = malloc(sizeof(float) * R * 2 * NI), *d0 = malloc(sizeof(float) * R * 2 * NI);
    CHECK(x && y1 && y0 && dy && d1 && d0);
    if (x && y1 && y0 && dy && d1 && d0) {
        for (size_t i = 0; i < (size_t)R * 2 * NI; i++)
            x[i] = i % 211 == 0 ? 0.0f : (float)((i * 2654435761u) % 120001) / 1000.0f - 60.0f;
        for (size_t i = 0; i < (size_t)R * NI; i++) dy[i] = (float)((i * 40503u) % 2001) / 1000.0f - 1.0f;
        x[3] = NAN, x[5] = INFINITY, x[7] = -INFINITY; /* in a: not checked against the formula */
        sl_nn_k_simd_enable(1);
        sl_nn_k_swiglu(y1, x, R, NI);
        sl_nn_k_swiglu_bwd(d1, dy, x, R, NI);
        sl_nn_k_simd_enable(0);
        sl_nn_k_swiglu(y0, x, R, NI);
        sl_nn_k_swiglu_bwd(d0, dy, x, R, NI);
        sl_nn_k_simd_enable(1);
        size_t bad_paths = memcmp(y1, y0, sizeof(float) * R * NI) != 0;
        bad_paths += memcmp(d1, d0, sizeof(float) * R * 2 * NI) != 0;
        size_t bad = 0, checked = 0;
        for (int r = 0; r < R; r++)
            for (int j = 0; j < NI; j++) {
                const float *a = x + (size_t)r * 2 * NI, *g = a + NI;
                if (!isfinite(a[j])) continue;
                double s = sig(a[j]), silu = a[j] * s, d = dy[(size_t)r * NI + j];
                double ry = silu * g[j], rdg = d * silu, rda = d * g[j] * (s * (1 + a[j] * (1 - s)));
                bad += fabs(y1[(size_t)r * NI + j] - ry) > 2.5e-7 * fabs(ry) + 1e-37;
                bad += fabs(d1[(size_t)r * 2 * NI + NI + j] - rdg) > 2.5e-7 * fabs(rdg) + 1e-37;
                bad += fabs(d1[(size_t)r * 2 * NI + j] - rda) > 1e-6 * fabs(rda) + 1e-12;
                checked++;
            }
        CHECK(isnan(y1[3]));
        printf("swiglu (%s): %zu path differences; %zu of %zu values outside the bounds\n",
               sl_nn_k_simd_active() ? "AVX-512 vs portable C" : "portable C only, no AVX-512 here",
               bad_paths, bad, checked);
        CHECK_EQ_INT(bad_paths, 0);
        CHECK_EQ_INT(bad, 0);
    }
    free(x), free(y1), free(y0), free(dy), free(d1), free(d0);
    sl_nn_k_simd_enable(1);
    return TEST_RESULT_UNLESS_SKIPPED(
        sl_nn_k_simd_active(), "no AVX-512 on this CPU: the AVX-512 vs portable C comparison did not run");
}
