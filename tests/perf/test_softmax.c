/* The attention softmax kernels (src/nn/softmax.c): the AVX-512 and portable paths give the same bits
 * (rows of every length 1..67 and 127, 128, 129, 512, 515, random masks, scores with NaN, +-inf and
 * values from -200 to 200 apart), and the results are within 2 ulp (forward) of the softmax computed in
 * double with libm's exp, the backward within 1e-6 relative (+1e-12 absolute, for g[j] - sum cancelling)
 * of the double formula. The masked positions are exactly +0, a row without keys is all +0, a NaN score
 * among the keys gives NaN at its position (the row sum is NaN, so the others become 0, as before the
 * kernels were vectorised: the NaN reaches the attention output and the loss). */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "nn/kernels_simd.h"
#include "nn/softmax.h"
#include "test.h"

static uint64_t rs = 88172645463325252ULL;
static double urand(void) { /* xorshift64, [0, 1) */
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static double ulp_of(double v) {
    float f = (float)fabs(v);
    return f < FLT_MIN ? 0x1p-149 : (double)nextafterf(f, INFINITY) - (double)f;
}

static void one_row(int T, int spread, int special, size_t *bad_paths, double *max_ulp, double *max_bwd,
                    size_t *bad_semantics) {
    float row[600], r1[600], r0[600], g[600], g1[600], g0[600];
    int32_t mk[600];
    int keys = 0;
    for (int j = 0; j < T; j++) {
        row[j] = (float)((urand() * 2 - 1) * spread);
        g[j] = (float)(urand() * 2 - 1);
        mk[j] = special == 2 ? 0 : urand() < 0.8;
        keys += mk[j] != 0;
    }
    if (special == 1 && T > 3) {
        row[1] = -INFINITY;
        row[2] = NAN;
        mk[2] = 0; /* a NaN score under the mask is ignored */
    }
    if (special == 3) row[T - 1] = NAN, mk[T - 1] = 1, keys++;
    memcpy(r1, row, sizeof(float) * T);
    memcpy(r0, row, sizeof(float) * T);
    sl_nn_k_simd_enable(1);
    sl_nn_k_softmax_masked(r1, mk, T);
    sl_nn_k_simd_enable(0);
    sl_nn_k_softmax_masked(r0, mk, T);
    memcpy(g1, g, sizeof(float) * T);
    memcpy(g0, g, sizeof(float) * T);
    sl_nn_k_softmax_bwd(g0, r0, T);
    sl_nn_k_simd_enable(1);
    sl_nn_k_softmax_bwd(g1, r1, T);
    *bad_paths += memcmp(r1, r0, sizeof(float) * T) != 0 || memcmp(g1, g0, sizeof(float) * T) != 0;
    if (special == 3) {
        *bad_semantics += !isnan(r1[T - 1]);
        return;
    }
    double mx = -INFINITY, s = 0, dot = 0;
    for (int j = 0; j < T; j++)
        if (mk[j] && row[j] > mx) mx = row[j];
    for (int j = 0; j < T; j++)
        if (mk[j]) s += exp((double)(row[j] - (float)mx));
    for (int j = 0; j < T; j++) {
        double ref = mk[j] ? exp((double)(row[j] - (float)mx)) / s : 0.0;
        if (!mk[j] || keys == 0) {
            *bad_semantics += r1[j] != 0.0f || signbit(r1[j]);
            continue;
        }
        *max_ulp = fmax(*max_ulp, fabs(r1[j] - ref) / ulp_of(ref));
        dot += (double)r1[j] * g[j];
    }
    for (int j = 0; j < T; j++) {
        double ref = r1[j] * (g[j] - dot);
        if (fabs(g1[j] - ref) > 1e-6 * fabs(ref) + 1e-12) ++*bad_semantics;
        if (fabs(ref) > 1e-6) *max_bwd = fmax(*max_bwd, fabs(g1[j] - ref) / fabs(ref));
    }
}

int main(void) {
    static const int lens[] = {127, 128, 129, 512, 515};
    size_t bad_paths = 0, bad_sem = 0, rows = 0;
    double max_ulp = 0, max_bwd = 0;
    for (int spread = 1; spread <= 200; spread *= 5)
        for (int special = 0; special < 4; special++) {
            for (int T = 1; T <= 67; T++, rows++)
                one_row(T, spread, special, &bad_paths, &max_ulp, &max_bwd, &bad_sem);
            for (size_t i = 0; i < sizeof lens / sizeof *lens; i++, rows++)
                one_row(lens[i], spread, special, &bad_paths, &max_ulp, &max_bwd, &bad_sem);
        }
    printf("%zu rows (%s): %zu differ between the paths; forward max error %.3g ulp vs double; backward max "
           "relative error %.3g (|ref| > 1e-6); %zu violations of the bounds or the masked/NaN semantics\n",
           rows, sl_nn_k_simd_active() ? "AVX-512 vs portable C" : "portable C only, no AVX-512 here",
           bad_paths, max_ulp, max_bwd, bad_sem);
    CHECK_EQ_INT(bad_paths, 0);
    CHECK_EQ_INT(bad_sem, 0);
    CHECK(max_ulp <= 2.0);
    CHECK(max_bwd <= 1e-6);
    sl_nn_k_simd_enable(1);
    return TEST_RESULT_UNLESS_SKIPPED(
        sl_nn_k_simd_active(), "no AVX-512 on this CPU: the AVX-512 vs portable C comparison did not run");
}
