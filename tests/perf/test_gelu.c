/* The GELU kernels (src/nn/gelu.c) against libm in double precision, on a dense sweep of floats:
 *   - the AVX-512 and portable paths give the same bits (forward and backward, with NaN, infinities, zeros,
 *     subnormals and huge values among the inputs);
 *   - the forward is within 1 ulp of x * Phi(x) computed with libm's double erfc, the backward (dy = 1)
 *     within 1 ulp of Phi(x) + x phi(x) (plus 1e-13 absolute near its root at x ~ -0.75);
 *   - the difference to the previous kernel, 0.5 x (1 + erff(x / sqrt 2)) in float, is reported and bounded
 *     (that formula cancels for negative x, so the bound is absolute: 4e-7 max(1, |x|)), and both kernels'
 *     errors against the double reference are printed side by side. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "nn/bert_impl.h"
#include "nn/esm_impl.h"
#include "nn/kernels_simd.h"
#include "test.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* the float spacing at |v| (the subnormal spacing below FLT_MIN) */
static double ulp_at(double v) {
    float f = (float)fabs(v);
    if (f < FLT_MIN) return 0x1p-149;
    if (isinf(f)) return 0x1p104;
    return (double)nextafterf(f, INFINITY) - (double)f;
}

static double ref_cdf(double x) {
    return 0.5 * erfc(-x / sqrt(2.0));
}

static double ref_dgelu(double x) {
    return ref_cdf(x) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

/* a sweep over the float bit patterns of [-40, 40] (stride 797: ~2.8 M values) plus special values */
static size_t make_inputs(float **out) {
    const uint32_t top = to_bits(40.0f), stride = 797;
    size_t cap = 2 * (size_t)(top / stride + 1) + 64, n = 0;
    float *x = malloc(cap * sizeof *x);
    if (!x) return 0;
    for (uint32_t u = 0; u <= top; u += stride) {
        x[n++] = from_bits(u);
        x[n++] = -from_bits(u);
    }
    const float special[] = {0.0f,
                             -0.0f,
                             INFINITY,
                             -INFINITY,
                             NAN,
                             FLT_MAX,
                             -FLT_MAX,
                             FLT_MIN,
                             -FLT_MIN,
                             0x1p-149f,
                             -0x1p-149f,
                             2.5f,
                             -2.5f,
                             nextafterf(2.5f, 3),
                             -nextafterf(2.5f, 3),
                             15.0f,
                             -15.0f,
                             37.0f,
                             -37.0f,
                             1e4f,
                             -1e4f,
                             -0.7517915f};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++) x[n++] = special[i];
    *out = x;
    return n;
}

static void check_paths_identical(const float *x, size_t n) {
    float *y1 = malloc(n * sizeof *y1), *y0 = malloc(n * sizeof *y0), *dy = malloc(n * sizeof *dy);
    float *d1 = malloc(n * sizeof *d1), *d0 = malloc(n * sizeof *d0);
    CHECK(y1 && y0 && dy && d1 && d0);
    if (y1 && y0 && dy && d1 && d0) {
        for (size_t i = 0; i < n; i++) dy[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
        dy[7] = 1e30f;
        sl_nn_k_simd_enable(1);
        int simd = sl_nn_k_simd_active();
        sl_nn_k_gelu(y1, x, n);
        sl_nn_k_gelu_bwd(d1, dy, x, n);
        sl_nn_k_simd_enable(0);
        sl_nn_k_gelu(y0, x, n);
        sl_nn_k_gelu_bwd(d0, dy, x, n);
        sl_nn_k_simd_enable(1);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += to_bits(y1[i]) != to_bits(y0[i]) || to_bits(d1[i]) != to_bits(d0[i]);
        printf("paths: %s vs portable C on %zu inputs: %zu differ\n",
               simd ? "AVX-512" : "portable C (no AVX-512 here)", n, bad);
        CHECK_EQ_INT(bad, 0);
    }
    free(y1), free(y0), free(dy), free(d1), free(d0);
}

static void check_accuracy(const float *x, size_t n) {
    float *y = malloc(n * sizeof *y), *d = malloc(n * sizeof *d), *one = malloc(n * sizeof *one);
    CHECK(y && d && one);
    if (y && d && one) {
        for (size_t i = 0; i < n; i++) one[i] = 1.0f;
        sl_nn_k_gelu(y, x, n);
        sl_nn_k_gelu_bwd(d, one, x, n);
        double new_ulp = 0, old_ulp = 0, new_dulp = 0, old_dulp = 0, old_abs = 0, old_rel = 0;
        size_t bad_f = 0, bad_b = 0, bad_old = 0;
        for (size_t i = 0; i < n; i++) {
            double xd = x[i];
            if (isnan(xd)) {
                bad_f += !isnan(y[i]);
                bad_b += !isnan(d[i]);
                continue;
            }
            if (isinf(xd)) {
                bad_f += xd > 0 ? y[i] != INFINITY : !(isinf(y[i]) || isnan(y[i]) || y[i] == 0);
                continue;
            }
            double rf = xd * ref_cdf(xd), rb = ref_dgelu(xd);
            float of = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
            float ocdf = 0.5f * (1.0f + erff(x[i] * (float)M_SQRT1_2));
            float ob = ocdf + x[i] * (0.3989422804014327f * expf(-0.5f * x[i] * x[i]));
            double ef = fabs(y[i] - rf) / ulp_at(rf), eb = fabs(d[i] - rb) / ulp_at(rb);
            if (ef > 1.0) bad_f++;
            if (fabs(d[i] - rb) > ulp_at(rb) + 1e-13) bad_b++;
            new_ulp = fmax(new_ulp, ef);
            if (fabs(rb) > 1e-6) new_dulp = fmax(new_dulp, eb);
            if (isfinite(of)) {
                old_ulp = fmax(old_ulp, fabs(of - rf) / ulp_at(rf));
                if (fabs(rb) > 1e-6) old_dulp = fmax(old_dulp, fabs(ob - rb) / ulp_at(rb));
                double ad = fabs((double)y[i] - of);
                old_abs = fmax(old_abs, ad);
                if (fabs(of) > 1e-30) old_rel = fmax(old_rel, ad / fabs(of));
                if (ad > 4e-7 * fmax(1.0, fabs(xd))) bad_old++;
            }
        }
        printf("forward  max error vs double reference: new %.3g ulp, old (float erff) %.3g ulp\n", new_ulp,
               old_ulp);
        printf("backward max error vs double reference (|ref| > 1e-6): new %.3g ulp, old %.3g ulp\n",
               new_dulp, old_dulp);
        printf("new vs old forward: max abs difference %.3g, max rel difference %.3g (|old| > 1e-30)\n",
               old_abs, old_rel);
        CHECK_EQ_INT(bad_f, 0);
        CHECK_EQ_INT(bad_b, 0);
        CHECK_EQ_INT(bad_old, 0);
    }
    free(y), free(d), free(one);
}

/* GeGLU (DNABERT-2): y = gelu(a) g with gelu(a) exactly the GELU kernel's float; dg = dy gelu(a) exactly;
 * da within 1e-6 relative (+1e-12) of dy g (Phi(a) + a phi(a)) in double; both paths the same bits. */
static void check_geglu(void) {
    enum { R = 3, NI = 1029 };
    float *x = malloc(sizeof(float) * R * 2 * NI), *y1 = malloc(sizeof(float) * R * NI),
          *y0 = malloc(sizeof(float) * R * NI), *dy = malloc(sizeof(float) * R * NI),
          *d1 = malloc(sizeof(float) * R * 2 * NI), *d0 = malloc(sizeof(float) * R * 2 * NI),
          *ga = malloc(sizeof(float) * NI);
    CHECK(x && y1 && y0 && dy && d1 && d0 && ga);
    if (x && y1 && y0 && dy && d1 && d0 && ga) {
        for (size_t i = 0; i < (size_t)R * 2 * NI; i++)
            x[i] = (float)((i * 2654435761u) % 12001) / 1000.0f - 6.0f;
        for (size_t i = 0; i < (size_t)R * NI; i++) dy[i] = (float)((i * 40503u) % 2001) / 1000.0f - 1.0f;
        sl_nn_k_simd_enable(1);
        sl_nn_k_geglu(y1, x, R, NI);
        sl_nn_k_geglu_bwd(d1, dy, x, R, NI);
        sl_nn_k_simd_enable(0);
        sl_nn_k_geglu(y0, x, R, NI);
        sl_nn_k_geglu_bwd(d0, dy, x, R, NI);
        sl_nn_k_simd_enable(1);
        size_t bad_paths = 0, bad = 0;
        for (size_t i = 0; i < (size_t)R * NI; i++) bad_paths += to_bits(y1[i]) != to_bits(y0[i]);
        for (size_t i = 0; i < (size_t)R * 2 * NI; i++) bad_paths += to_bits(d1[i]) != to_bits(d0[i]);
        for (int r = 0; r < R; r++) {
            const float *a = x + (size_t)r * 2 * NI, *g = a + NI, *d = dy + (size_t)r * NI;
            sl_nn_k_gelu(ga, a, NI);
            for (int j = 0; j < NI; j++) {
                bad += to_bits(y1[(size_t)r * NI + j]) != to_bits(ga[j] * g[j]);
                bad += to_bits(d1[(size_t)r * 2 * NI + NI + j]) != to_bits(d[j] * ga[j]);
                double ref = (double)d[j] * g[j] * ref_dgelu(a[j]);
                bad += fabs(d1[(size_t)r * 2 * NI + j] - ref) > 1e-6 * fabs(ref) + 1e-12;
            }
        }
        printf("geglu: %zu values differ between the paths, %zu outside the bounds\n", bad_paths, bad);
        CHECK_EQ_INT(bad_paths, 0);
        CHECK_EQ_INT(bad, 0);
    }
    free(x), free(y1), free(y0), free(dy), free(d1), free(d0), free(ga);
}

int main(void) {
    float *x = NULL;
    size_t n = make_inputs(&x);
    CHECK(n > 0);
    if (n) {
        check_paths_identical(x, n);
        check_accuracy(x, n);
    }
    check_geglu();
    free(x);
    sl_nn_k_simd_enable(1);
    return TEST_RESULT_UNLESS_SKIPPED(
        sl_nn_k_simd_active(), "no AVX-512 on this CPU: the AVX-512 vs portable C comparison did not run");
}
