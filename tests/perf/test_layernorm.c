/* The LayerNorm kernels (src/nn/layernorm.c): the AVX-512 and portable paths give the same bits (forward,
 * in place too, and backward with assign and accumulate) for row widths 1..67, 128, 256, 768 and 1030,
 * rows with large offsets and tiny spreads; the forward is within 1e-6 relative (of the row's largest
 * |y|) and the backward within 1e-6 (of rstd times the row's largest |dy w|) of the formulas evaluated in
 * long double (the backward from the float mean and rstd the forward stored, as the engine does). */
#include <stdint.h>
#include <string.h>

#include "nn/bert_impl.h"
#include "nn/kernels_simd.h"
#include "test.h"

static uint64_t rs = 0x2545F4914F6CDD1DULL;
static double urand(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

enum { N = 5, MAXH = 1030 };

static void run(int H, double offset, double spread, size_t *bad_paths, double *err_f, double *err_b) {
    static float x[N * MAXH], w[MAXH], b[MAXH], dy[N * MAXH], y1[N * MAXH], y0[N * MAXH], yi[N * MAXH];
    static float d1[N * MAXH], d0[N * MAXH];
    float m1[N], r1[N], m0[N], r0[N];
    for (int i = 0; i < N * H; i++) {
        x[i] = (float)(offset + spread * (urand() * 2 - 1));
        dy[i] = (float)(urand() * 2 - 1);
    }
    for (int j = 0; j < H; j++) w[j] = (float)(0.5 + urand()), b[j] = (float)(urand() - 0.5);
    sl_nn_k_simd_enable(1);
    sl_nn_k_layernorm(y1, m1, r1, x, w, b, N, H, 1e-12f);
    memcpy(yi, x, sizeof(float) * N * H);
    sl_nn_k_layernorm(yi, NULL, NULL, yi, w, b, N, H, 1e-12f); /* in place, as the embeddings */
    for (int i = 0; i < N * H; i++) d1[i] = 0.25f;
    sl_nn_k_layernorm_bwd(d1, dy, x, m1, r1, w, N, H, 1);
    sl_nn_k_simd_enable(0);
    sl_nn_k_layernorm(y0, m0, r0, x, w, b, N, H, 1e-12f);
    for (int i = 0; i < N * H; i++) d0[i] = 0.25f;
    sl_nn_k_layernorm_bwd(d0, dy, x, m0, r0, w, N, H, 1);
    sl_nn_k_simd_enable(1);
    *bad_paths += memcmp(y1, y0, sizeof(float) * N * H) != 0 || memcmp(y1, yi, sizeof(float) * N * H) != 0 ||
                  memcmp(m1, m0, sizeof m1) != 0 || memcmp(r1, r0, sizeof r1) != 0 ||
                  memcmp(d1, d0, sizeof(float) * N * H) != 0;
    sl_nn_k_layernorm_bwd(d0, dy, x, m1, r1, w, N, H, 0); /* assign */
    for (int i = 0; i < N * H; i++)
        *bad_paths += d0[i] + 0.25f != d1[i] && fabsf(d0[i] + 0.25f - d1[i]) > 1e-6f;
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * H, *dr = dy + (size_t)n * H;
        long double s = 0, v = 0, ga = 0, gc = 0, ymax = 0, gmax = 0;
        for (int j = 0; j < H; j++) s += xr[j];
        long double m = s / H;
        for (int j = 0; j < H; j++) v += (xr[j] - m) * (xr[j] - m);
        long double r = 1 / sqrtl(v / H + 1e-12f);
        const long double ms = m1[n], rsd = r1[n]; /* the stored statistics the backward uses */
        for (int j = 0; j < H; j++) {
            long double xh = (xr[j] - ms) * rsd, g = (long double)dr[j] * w[j];
            ga += g;
            gc += g * xh;
            gmax = fmaxl(gmax, fabsl(g));
            ymax = fmaxl(ymax, fabsl((xr[j] - m) * r * w[j] + b[j]));
        }
        ga /= H;
        gc /= H;
        for (int j = 0; j < H; j++) {
            long double xh = (xr[j] - ms) * rsd, g = (long double)dr[j] * w[j];
            long double ry = (xr[j] - m) * r * w[j] + b[j], rd = rsd * (g - ga - xh * gc);
            long double sd = rsd * gmax > 0 ? rsd * gmax : 1;
            *err_f = fmax(*err_f, (double)(fabsl(y1[(size_t)n * H + j] - ry) / (ymax > 0 ? ymax : 1)));
            *err_b = fmax(*err_b, (double)(fabsl(d0[(size_t)n * H + j] - rd) / sd));
        }
    }
}

int main(void) {
    static const int wide[] = {128, 256, 768, 1030};
    size_t bad = 0, cases = 0;
    double ef = 0, eb = 0;
    for (int H = 1; H <= 67 + 4; H++) {
        int h = H <= 67 ? H : wide[H - 68];
        run(h, 0.0, 1.0, &bad, &ef, &eb);
        run(h, 100.0, 0.01, &bad, &ef, &eb);
        run(h, -3.0, 30.0, &bad, &ef, &eb);
        cases += 3;
    }
    printf("%zu cases (%s): %zu differ between the paths; forward max error %.3g (of the row's "
           "largest |y|), backward %.3g (of rstd max |dy w|)\n",
           cases, sl_nn_k_simd_active() ? "AVX-512 vs portable C" : "portable C only, no AVX-512 here", bad,
           ef, eb);
    CHECK_EQ_INT(bad, 0);
    CHECK(ef <= 1e-6);
    CHECK(eb <= 1e-6);
    sl_nn_k_simd_enable(1);
    return TEST_RESULT_UNLESS_SKIPPED(
        sl_nn_k_simd_active(), "no AVX-512 on this CPU: the AVX-512 vs portable C comparison did not run");
}
