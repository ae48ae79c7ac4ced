/* Unit tests of src/nn/metrics, bootstrap, plots and pred_table against definitions (not against numbers
 * taken from this code): AUC = Mann-Whitney U / (n+ n-) with ties counted 1/2; a metric with multiplicities
 * equals the metric on the expanded sample; percentiles of 1..n; strata are preserved by the bootstrap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/bootstrap.h"
#include "nn/metrics.h"
#include "nn/plots.h"
#include "nn/pred_table.h"
#include "test.h"
#include "util/rng.h"

static double auc_of(const uint8_t *y, const double *s, const uint32_t *w, size_t n) {
    size_t *order;
    sl_nn_clf_curve c;
    if (sl_nn_order_desc(s, n, &order, NULL) || sl_nn_clf_curve_init(&c, n, NULL)) return -1;
    sl_nn_clf_curve_fill(&c, y, s, order, w, n);
    double a = sl_nn_roc_auc(&c);
    sl_nn_clf_curve_free(&c);
    free(order);
    return a;
}

static double ap_of(const uint8_t *y, const double *s, const uint32_t *w, size_t n) {
    size_t *order;
    sl_nn_clf_curve c;
    if (sl_nn_order_desc(s, n, &order, NULL) || sl_nn_clf_curve_init(&c, n, NULL)) return -1;
    sl_nn_clf_curve_fill(&c, y, s, order, w, n);
    double a = sl_nn_average_precision(&c);
    sl_nn_clf_curve_free(&c);
    free(order);
    return a;
}

static void test_auc_is_mann_whitney(void) {
    sl_rng r;
    sl_rng_init(&r, 7, 1);
    for (int trial = 0; trial < 50; trial++) {
        size_t n = 2 + sl_rng_below(&r, 300);
        uint8_t *y = malloc(n);
        double *s = malloc(n * sizeof *s);
        for (size_t i = 0; i < n; i++) {
            y[i] = sl_rng_below(&r, 2);
            s[i] = sl_rng_below(&r, 1 + trial % 7) / 7.0; /* heavy ties */
        }
        y[0] = 0;
        y[1] = 1;
        double u = 0, np = 0, nn = 0;
        for (size_t i = 0; i < n; i++) {
            if (y[i])
                np++;
            else
                nn++;
            if (!y[i]) continue;
            for (size_t j = 0; j < n; j++)
                if (!y[j]) u += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
        CHECK_NEAR(auc_of(y, s, NULL, n), u / (np * nn), 1e-12);
        free(y);
        free(s);
    }
}

static void test_one_class_is_nan(void) {
    uint8_t y[4] = {1, 1, 1, 1};
    double s[4] = {0.1, 0.2, 0.2, 0.9};
    CHECK(isnan(auc_of(y, s, NULL, 4)));
    uint8_t z[4] = {0, 0, 0, 0};
    CHECK(isnan(auc_of(z, s, NULL, 4)));
    CHECK_NEAR(ap_of(z, s, NULL, 4), 0.0, 0); /* sklearn 1.2.1: no positives → AP 0 */
    uint8_t all[4] = {1, 1, 1, 1};
    CHECK_NEAR(ap_of(all, s, NULL, 4), 1.0, 1e-15);
}

/* Metrics with multiplicities equal the metrics on the expanded sample. */
static void test_weights_equal_expansion(void) {
    sl_rng r;
    sl_rng_init(&r, 11, 2);
    for (int trial = 0; trial < 40; trial++) {
        size_t n = 3 + sl_rng_below(&r, 120);
        uint8_t *y = malloc(n);
        double *s = malloc(n * sizeof *s), *yr = malloc(n * sizeof *yr), *pr = malloc(n * sizeof *pr);
        uint32_t *w = malloc(n * sizeof *w);
        int *yt = malloc(n * sizeof *yt), *yp = malloc(n * sizeof *yp);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            y[i] = sl_rng_below(&r, 2);
            s[i] = sl_rng_below(&r, 10) / 9.0;
            w[i] = sl_rng_below(&r, 4);
            yr[i] = sl_rng_below(&r, 50) / 7.0;
            pr[i] = yr[i] + (sl_rng_below(&r, 21) - 10.0) / 13.0;
            yt[i] = y[i];
            yp[i] = s[i] >= 0.5;
            m += w[i];
        }
        y[0] = 0, y[1] = 1, w[0] = w[1] = 1, yt[0] = 0, yt[1] = 1;
        m = 0;
        for (size_t i = 0; i < n; i++) m += w[i];
        uint8_t *ey = malloc(m);
        double *es = malloc(m * sizeof *es), *eyr = malloc(m * sizeof *eyr), *epr = malloc(m * sizeof *epr);
        int *eyt = malloc(m * sizeof *eyt), *eyp = malloc(m * sizeof *eyp);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            for (uint32_t j = 0; j < w[i]; j++, k++) {
                ey[k] = y[i], es[k] = s[i], eyr[k] = yr[i], epr[k] = pr[i], eyt[k] = yt[i], eyp[k] = yp[i];
            }
        CHECK_NEAR(auc_of(y, s, w, n), auc_of(ey, es, NULL, m), 1e-12);
        CHECK_NEAR(ap_of(y, s, w, n), ap_of(ey, es, NULL, m), 1e-12);
        double cw[4], ce[4];
        sl_nn_confusion(yt, yp, w, n, 2, cw);
        sl_nn_confusion(eyt, eyp, NULL, m, 2, ce);
        for (int i = 0; i < 4; i++) CHECK_NEAR(cw[i], ce[i], 0);
        CHECK_NEAR(sl_nn_mcc(cw, 2), sl_nn_mcc(ce, 2), 1e-12);
        CHECK_NEAR(sl_nn_f1_macro(cw, 2), sl_nn_f1_macro(ce, 2), 1e-12);
        CHECK_NEAR(sl_nn_mse(yr, pr, w, n), sl_nn_mse(eyr, epr, NULL, m), 1e-12);
        CHECK_NEAR(sl_nn_r2(yr, pr, w, n), sl_nn_r2(eyr, epr, NULL, m), 1e-12);
        free(y), free(s), free(yr), free(pr), free(w), free(yt), free(yp);
        free(ey), free(es), free(eyr), free(epr), free(eyt), free(eyp);
    }
}

static void test_threshold_metrics_by_hand(void) {
    /* truth 0 0 1 1 1, prediction 0 1 1 1 0: TN=1 FP=1 FN=1 TP=2 */
    int yt[5] = {0, 0, 1, 1, 1}, yp[5] = {0, 1, 1, 1, 0};
    double cm[4];
    sl_nn_confusion(yt, yp, NULL, 5, 2, cm);
    CHECK_NEAR(cm[0], 1, 0);
    CHECK_NEAR(cm[1], 1, 0);
    CHECK_NEAR(cm[2], 1, 0);
    CHECK_NEAR(cm[3], 2, 0);
    CHECK_NEAR(sl_nn_accuracy(cm, 2), 0.6, 1e-15);
    /* F1(class1) = 2*2/(4+1+1) = 2/3, F1(class0) = 2/(2+1+1) = 1/2 */
    CHECK_NEAR(sl_nn_f1_macro(cm, 2), (2.0 / 3 + 0.5) / 2, 1e-15);
    /* MCC = (TP*TN - FP*FN)/sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2-1)/sqrt(3*3*2*2) = 1/6 */
    CHECK_NEAR(sl_nn_mcc(cm, 2), 1.0 / 6, 1e-15);
    /* a class never true nor predicted is not averaged (sklearn's labels=None) */
    double cm3[9] = {2, 0, 0, 0, 3, 0, 0, 0, 0};
    CHECK_NEAR(sl_nn_f1_macro(cm3, 3), 1.0, 1e-15);
    double constant[4] = {0, 0, 0, 5};
    CHECK_NEAR(sl_nn_mcc(constant, 2), 0.0, 0);
}

static void test_percentile(void) {
    double v[5] = {5, 3, 1, 4, 2};
    CHECK_NEAR(sl_nn_percentile(v, 5, 0.5), 3, 0);
    CHECK_NEAR(sl_nn_percentile(v, 5, 0.0), 1, 0);
    CHECK_NEAR(sl_nn_percentile(v, 5, 1.0), 5, 0);
    double w[4] = {4, 1, 3, 2};
    CHECK_NEAR(sl_nn_percentile(w, 4, 0.5), 2.5, 1e-15);
    CHECK_NEAR(sl_nn_percentile(w, 4, 0.25), 1.75, 1e-15);
    CHECK(isnan(sl_nn_percentile(w, 0, 0.5)));
}

typedef struct {
    const int *strata;
    size_t n;
    int bad;
    size_t calls;
} boot_probe;

static void probe_fn(const uint32_t *counts, double *out, void *ctx) {
    boot_probe *p = ctx;
    size_t per[2] = {0, 0}, want[2] = {0, 0};
    double mean = 0;
    for (size_t i = 0; i < p->n; i++) {
        per[p->strata[i]] += counts[i];
        want[p->strata[i]]++;
        mean += counts[i] * (double)i;
    }
    if (per[0] != want[0] || per[1] != want[1]) p->bad++;
    p->calls++;
    out[0] = mean / (double)p->n;
    out[1] = NAN;
}

static void test_bootstrap_strata_and_seed(void) {
    enum { N = 50 };
    int strata[N];
    for (int i = 0; i < N; i++) strata[i] = i % 5 == 0; /* 10 in stratum 1, 40 in stratum 0 */
    boot_probe p = {strata, N, 0, 0};
    sl_nn_boot_ci a[2], b[2], c[2];
    CHECK_EQ_INT(sl_nn_bootstrap(N, strata, 2, 200, 42, 0.9, 2, probe_fn, &p, a, NULL), 0);
    CHECK_EQ_INT(p.bad, 0);
    CHECK_EQ_INT(p.calls, 200);
    CHECK_EQ_INT(a[0].n_valid, 200);
    CHECK_EQ_INT(a[1].n_valid, 0);
    CHECK(isnan(a[1].lo) && isnan(a[1].hi));
    CHECK(a[0].lo < 24.5 && a[0].hi > 24.5); /* the mean index of the data */
    CHECK_EQ_INT(sl_nn_bootstrap(N, strata, 2, 200, 42, 0.9, 2, probe_fn, &p, b, NULL), 0);
    CHECK(a[0].lo == b[0].lo && a[0].hi == b[0].hi);
    CHECK_EQ_INT(sl_nn_bootstrap(N, strata, 2, 200, 43, 0.9, 2, probe_fn, &p, c, NULL), 0);
    CHECK(a[0].lo != c[0].lo || a[0].hi != c[0].hi);
    sl_err err;
    CHECK_EQ_INT(sl_nn_bootstrap(N, strata, 2, 10, 1, 1.5, 2, probe_fn, &p, c, &err), SL_EUSAGE);
    int badstrata[N] = {0};
    badstrata[3] = 7;
    CHECK_EQ_INT(sl_nn_bootstrap(N, badstrata, 2, 10, 1, 0.9, 2, probe_fn, &p, c, &err), SL_EUSAGE);
}

static void test_svg_escapes(void) {
    double x[3] = {0, 0.5, 1}, y[3] = {0, NAN, 1};
    sl_nn_series s = {.name = "a<b & \"c\"", .x = x, .y = y, .n = 3};
    sl_nn_plot p = {
        .title = "t<>", .xlabel = "x", .ylabel = "y", .xmin = NAN, .xmax = NAN, .ymin = NAN, .ymax = NAN};
    char *svg = NULL;
    CHECK_EQ_INT(sl_nn_svg_render(&p, &s, 1, &svg, NULL), 0);
    CHECK(svg && strstr(svg, "data-name=\"a&lt;b &amp; &quot;c&quot;\""));
    CHECK(svg && strstr(svg, "data-y=\"0 nan 1\""));
    CHECK(svg && strstr(svg, "<title>t&lt;&gt;</title>"));
    free(svg);
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static void expect_error(const char *text, sl_nn_task task, const char *want1, const char *want2) {
    char path[] = "/tmp/sl_pred_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    close(fd);
    write_file(path, text);
    sl_nn_pred_table t;
    sl_err err;
    sl_err_clear(&err);
    int rc = sl_nn_pred_table_read(path, task, &t, &err);
    CHECK_EQ_INT(rc, SL_EDATA);
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2))) {
        fprintf(stderr, "message '%s' lacks '%s' / '%s'\n", err.msg, want1, want2 ? want2 : "");
        test_failures++;
    }
    CHECK(strstr(err.msg, path) != NULL);
    unlink(path);
}

static void test_pred_table_errors(void) {
    expect_error("id\tprob_a\tprob_b\nx\t0.5\t0.5\n", SL_NN_TASK_AUTO, ":1:", "'label'");
    expect_error("id\tlabel\tprob_a\tprob_b\nx\ta\t0.5\t0.5\ny\tb\t1.5\t0.5\n", SL_NN_TASK_AUTO,
                 ":3:", "prob_a");
    expect_error("id\tlabel\tprob_a\tprob_b\nx\ta\tnan\t0.5\n", SL_NN_TASK_AUTO, ":2:", "prob_a");
    expect_error("id\tlabel\tprob_a\tprob_b\nx\tc\t0.5\t0.5\n", SL_NN_TASK_AUTO, ":2:", "unknown class 'c'");
    expect_error("id\tlabel\tprob_a\tprob_b\nx\ta\t0.5\n", SL_NN_TASK_AUTO, ":2:", "fields");
    expect_error("id\tlabel\tprediction\nx\t1.0\tinf\n", SL_NN_TASK_AUTO, ":2:", "'prediction'");
    expect_error("id\tlabel\tprob_a\tprob_b\n", SL_NN_TASK_AUTO, "no rows", NULL);
    expect_error("id\tlabel\tprob_a\tprob_b\nx\t\t0.5\t0.5\ny\t\t0.1\t0.9\n", SL_NN_TASK_AUTO,
                 "'label' is empty", NULL);
    expect_error("id\tlabel\tprob_a\tprob_b\tprob_c\nx\ta\t0.2\t0.3\t0.5\n", SL_NN_TASK_BINARY,
                 ":1:", "exactly 2");

    sl_nn_pred_table t;
    char path[] = "/tmp/sl_pred_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    close(fd);
    write_file(path, "id\tlogit_a\tlabel\tprob_a\tprob_b\r\nx\t3\tb\t0.25\t0.75\r\ny\t1\ta\t1\t0\r\n\n");
    CHECK_EQ_INT(sl_nn_pred_table_read(path, SL_NN_TASK_AUTO, &t, NULL), 0);
    CHECK_EQ_INT(t.task, SL_NN_TASK_BINARY);
    CHECK_EQ_INT(t.n, 2);
    CHECK_EQ_INT(t.label[0], 1);
    CHECK_NEAR(t.prob[1], 0.75, 0);
    CHECK_EQ_INT(t.line[1], 3);
    sl_nn_pred_table_free(&t);
    write_file(path, "id\tlabel\tprob_a\tprob_b\nx\ta,b\t0.25\t0.75\ny\t\t1\t0\n");
    CHECK_EQ_INT(sl_nn_pred_table_read(path, SL_NN_TASK_AUTO, &t, NULL), 0);
    CHECK_EQ_INT(t.task, SL_NN_TASK_MULTILABEL);
    CHECK(t.multi[0] == 1 && t.multi[1] == 1 && t.multi[2] == 0 && t.multi[3] == 0);
    sl_nn_pred_table_free(&t);
    unlink(path);
}

int main(void) {
    RUN_TEST(test_auc_is_mann_whitney);
    RUN_TEST(test_one_class_is_nan);
    RUN_TEST(test_weights_equal_expansion);
    RUN_TEST(test_threshold_metrics_by_hand);
    RUN_TEST(test_percentile);
    RUN_TEST(test_bootstrap_strata_and_seed);
    RUN_TEST(test_svg_escapes);
    RUN_TEST(test_pred_table_errors);
    return TEST_RESULT();
}
