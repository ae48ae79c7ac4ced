#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "history.h"
#include "metrics.h"
#include "plots.h"
#include "util/fs.h"
#include "util/json.h"

void sl_nn_report_opts_init(sl_nn_report_opts *o) {
    memset(o, 0, sizeof *o);
    o->task = SL_NN_TASK_AUTO;
    o->threshold = 0.5;
    o->bootstrap = 1000;
    o->ci_level = 0.95;
}

/* A JSON number, or null for NaN/inf (JSON has no NaN). */
static json_t *jnum(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* One binary problem (a class against the rest): truth, score, the descending order and a curve buffer. */
typedef struct {
    uint8_t *y;
    double *score;
    size_t *order;
    sl_nn_clf_curve curve;
    size_t pos, neg; /* counts in the full data */
} binprob;

static int binprob_init(binprob *b, size_t n, sl_err *err) {
    memset(b, 0, sizeof *b);
    b->y = malloc(n ? n : 1);
    b->score = malloc((n ? n : 1) * sizeof *b->score);
    if (!b->y || !b->score) return sl_err_set(err, SL_ENOMEM, "out of memory");
    return sl_nn_clf_curve_init(&b->curve, n, err);
}

/* After y and score are set: sort and fill the curve for the full data. */
static int binprob_prepare(binprob *b, size_t n, sl_err *err) {
    int rc = sl_nn_order_desc(b->score, n, &b->order, err);
    if (rc) return rc;
    b->pos = b->neg = 0;
    for (size_t i = 0; i < n; i++) b->y[i] ? b->pos++ : b->neg++;
    sl_nn_clf_curve_fill(&b->curve, b->y, b->score, b->order, NULL, n);
    return 0;
}

static void binprob_free(binprob *b) {
    free(b->y);
    free(b->score);
    free(b->order);
    sl_nn_clf_curve_free(&b->curve);
}

/* Add ROC and PR series for `b` to the plot arrays; the arrays are owned by the caller's lists. */
typedef struct {
    sl_nn_series s[2 * 64];
    double *owned[6 * 64];
    char *names[2 * 64];
    size_t ns, no, nn;
} plotset;

static void plotset_free(plotset *p) {
    for (size_t i = 0; i < p->no; i++) free(p->owned[i]);
    for (size_t i = 0; i < p->nn; i++) free(p->names[i]);
}

enum { MAX_PLOTTED = 64 };

static int add_curves(plotset *roc, plotset *pr, const binprob *b, const char *label, sl_err *err) {
    if (roc->ns >= MAX_PLOTTED || pr->ns >= MAX_PLOTTED)
        return 0; /* a legend carries 64: plot the first 64 */
    double *fpr, *tpr, *thr, *prec, *rec, *pthr;
    size_t m, mp;
    int rc = sl_nn_roc_curve(&b->curve, 1, &fpr, &tpr, &thr, &m, err);
    if (rc) return rc;
    rc = sl_nn_pr_curve(&b->curve, &prec, &rec, &pthr, &mp, err);
    if (rc) {
        free(fpr);
        free(tpr);
        free(thr);
        return rc;
    }
    char buf[256];
    double auc = sl_nn_roc_auc(&b->curve), ap = sl_nn_average_precision(&b->curve);
    if (b->pos && b->neg) {
        snprintf(buf, sizeof buf, "%s%sAUC = %.4f", label ? label : "", label ? ": " : "", auc);
        roc->owned[roc->no++] = fpr;
        roc->owned[roc->no++] = tpr;
        roc->names[roc->nn] = strdup(buf);
        roc->s[roc->ns++] = (sl_nn_series){.name = roc->names[roc->nn++], .x = fpr, .y = tpr, .n = m};
    } else {
        free(fpr);
        free(tpr);
    }
    free(thr);
    snprintf(buf, sizeof buf, "%s%sAP = %.4f", label ? label : "", label ? ": " : "", ap);
    pr->owned[pr->no++] = rec;
    pr->owned[pr->no++] = prec;
    pr->names[pr->nn] = strdup(buf);
    pr->s[pr->ns++] = (sl_nn_series){.name = pr->names[pr->nn++], .x = rec, .y = prec, .n = mp, .step = 1};
    free(pthr);
    return 0;
}

static int write_curves(const char *out_dir, plotset *roc, plotset *pr, json_t *plots, sl_err *err) {
    int rc = 0;
    char *path;
    if (roc->ns) {
        sl_nn_plot p = {.title = "ROC curve",
                        .xlabel = "False positive rate",
                        .ylabel = "True positive rate",
                        .xmin = 0,
                        .xmax = 1,
                        .ymin = 0,
                        .ymax = 1,
                        .diagonal = 1};
        path = sl_fs_join(out_dir, "roc.svg");
        rc = path ? sl_nn_svg_write(path, &p, roc->s, roc->ns, err)
                  : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(path);
        if (rc) return rc;
        json_array_append_new(plots, json_string("roc.svg"));
    }
    if (pr->ns) {
        sl_nn_plot p = {.title = "Precision-recall curve",
                        .xlabel = "Recall",
                        .ylabel = "Precision",
                        .xmin = 0,
                        .xmax = 1,
                        .ymin = 0,
                        .ymax = 1};
        path = sl_fs_join(out_dir, "pr.svg");
        rc = path ? sl_nn_svg_write(path, &p, pr->s, pr->ns, err)
                  : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(path);
        if (rc) return rc;
        json_array_append_new(plots, json_string("pr.svg"));
    }
    return 0;
}

/* ---- bootstrap statistics ---- */

typedef struct {
    const sl_nn_pred_table *t;
    binprob *bp; /* k binary problems (binary: 1) */
    int nbp;
    const int *pred; /* predicted class per row (single-label) */
    double *cm;
    int ovr_ok; /* multi-class macro AUC defined on the full data */
} bootctx;

static void stats_binary(const uint32_t *w, double *out, void *vctx) {
    bootctx *c = vctx;
    binprob *b = &c->bp[0];
    sl_nn_clf_curve_fill(&b->curve, b->y, b->score, b->order, w, c->t->n);
    out[0] = sl_nn_roc_auc(&b->curve);
    out[1] = sl_nn_average_precision(&b->curve);
    sl_nn_confusion(c->t->label, c->pred, w, c->t->n, 2, c->cm);
    out[2] = sl_nn_accuracy(c->cm, 2);
    out[3] = sl_nn_f1_macro(c->cm, 2);
    out[4] = sl_nn_mcc(c->cm, 2);
}

static void stats_multiclass(const uint32_t *w, double *out, void *vctx) {
    bootctx *c = vctx;
    int k = c->t->k;
    sl_nn_confusion(c->t->label, c->pred, w, c->t->n, k, c->cm);
    out[0] = sl_nn_accuracy(c->cm, k);
    out[1] = sl_nn_f1_macro(c->cm, k);
    out[2] = sl_nn_mcc(c->cm, k);
    double s = 0;
    for (int j = 0; j < c->nbp && c->ovr_ok; j++) {
        sl_nn_clf_curve_fill(&c->bp[j].curve, c->bp[j].y, c->bp[j].score, c->bp[j].order, w, c->t->n);
        s += sl_nn_roc_auc(&c->bp[j].curve);
    }
    out[3] = c->ovr_ok ? s / k : NAN;
}

static void stats_multilabel(const uint32_t *w, double *out, void *vctx) {
    bootctx *c = vctx;
    double ap = 0, auc = 0;
    for (int j = 0; j < c->nbp; j++) {
        sl_nn_clf_curve_fill(&c->bp[j].curve, c->bp[j].y, c->bp[j].score, c->bp[j].order, w, c->t->n);
        ap += sl_nn_average_precision(&c->bp[j].curve);
        auc += sl_nn_roc_auc(&c->bp[j].curve);
    }
    out[0] = ap / c->nbp;
    out[1] = auc / c->nbp; /* NaN when a label lacks a class */
}

static void stats_regression(const uint32_t *w, double *out, void *vctx) {
    bootctx *c = vctx;
    out[0] = sl_nn_mse(c->t->y, c->t->pred, w, c->t->n);
    out[1] = sqrt(out[0]);
    out[2] = sl_nn_r2(c->t->y, c->t->pred, w, c->t->n);
}

static _Thread_local int cmp_rows_ctx_k;
static _Thread_local const uint8_t *cmp_rows_ctx_m;
static int cmp_rows(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int r = memcmp(cmp_rows_ctx_m + i * (size_t)cmp_rows_ctx_k, cmp_rows_ctx_m + j * (size_t)cmp_rows_ctx_k,
                   (size_t)cmp_rows_ctx_k);
    return r ? r : (i > j) - (i < j);
}

/* Strata for a multi-label table: one per distinct set of true labels. */
static int label_set_strata(const sl_nn_pred_table *t, int *strata, int *n_strata, sl_err *err) {
    size_t *idx = malloc((t->n ? t->n : 1) * sizeof *idx);
    if (!idx) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++) idx[i] = i;
    cmp_rows_ctx_k = t->k;
    cmp_rows_ctx_m = t->multi;
    qsort(idx, t->n, sizeof *idx, cmp_rows);
    int s = -1;
    for (size_t r = 0; r < t->n; r++) {
        if (r == 0 ||
            memcmp(t->multi + idx[r] * (size_t)t->k, t->multi + idx[r - 1] * (size_t)t->k, (size_t)t->k))
            s++;
        strata[idx[r]] = s;
    }
    *n_strata = s + 1;
    free(idx);
    return 0;
}

static int run_bootstrap(const sl_nn_report_opts *o, const sl_nn_pred_table *t, const int *strata,
                         int n_strata, const char *stratified_by, const char *const *names, size_t n_stats,
                         sl_nn_boot_fn fn, bootctx *ctx, const json_t *metrics, json_t *report, sl_err *err) {
    if (o->bootstrap == 0) return 0;
    sl_nn_boot_ci ci[8];
    int rc = sl_nn_bootstrap(t->n, strata, n_strata, o->bootstrap, o->seed, o->ci_level, n_stats, fn, ctx, ci,
                             err);
    if (rc) return rc;
    json_t *iv = json_object();
    for (size_t k = 0; k < n_stats; k++) {
        if (json_is_null(json_object_get(metrics, names[k]))) continue;
        json_object_set_new(iv, names[k],
                            json_pack("{s:o,s:o,s:I}", "lower", jnum(ci[k].lo), "upper", jnum(ci[k].hi),
                                      "defined", (json_int_t)ci[k].n_valid));
    }
    json_object_set_new(report, "bootstrap",
                        json_pack("{s:I,s:I,s:f,s:s,s:s,s:o}", "resamples", (json_int_t)o->bootstrap, "seed",
                                  (json_int_t)o->seed, "level", o->ci_level, "method", "percentile",
                                  "stratified_by", stratified_by, "intervals", iv));
    return 0;
}

static json_t *confusion_json(const sl_nn_pred_table *t, const double *cm) {
    json_t *labels = json_array(), *rows = json_array();
    for (int i = 0; i < t->k; i++) {
        json_array_append_new(labels, json_string(t->classes[i]));
        json_t *row = json_array();
        for (int j = 0; j < t->k; j++) json_array_append_new(row, json_integer((json_int_t)cm[i * t->k + j]));
        json_array_append_new(rows, row);
    }
    return json_pack("{s:o,s:s,s:s,s:o}", "labels", labels, "rows", "true", "columns", "predicted", "matrix",
                     rows);
}

/* ---- the tasks ---- */

static int report_single_label(const sl_nn_pred_table *t, const sl_nn_report_opts *o, const char *out_dir,
                               json_t *report, json_t *plots, sl_err *err) {
    const int k = t->k;
    const size_t n = t->n;
    const int binary = t->task == SL_NN_TASK_BINARY;
    int pos = 1, rc = 0;
    if (binary && o->positive_class) {
        pos = -1;
        for (int c = 0; c < k; c++)
            if (!strcmp(t->classes[c], o->positive_class)) pos = c;
        if (pos < 0)
            return sl_err_set(err, SL_EUSAGE,
                              "positive class '%s' is not a class of the predictions (%s, %s)",
                              o->positive_class, t->classes[0], t->classes[1]);
    }
    int nbp = binary ? 1 : k;
    binprob *bp = calloc((size_t)nbp, sizeof *bp);
    int *pred = malloc(n * sizeof *pred);
    double *cm = malloc((size_t)k * (size_t)k * sizeof *cm);
    double *prec = malloc((size_t)k * sizeof *prec), *rec = malloc((size_t)k * sizeof *rec);
    double *f1 = malloc((size_t)k * sizeof *f1);
    size_t *counts = calloc((size_t)k, sizeof *counts);
    plotset *roc = calloc(1, sizeof *roc), *pr = calloc(1, sizeof *pr);
    json_t *metrics = json_object(), *per_class = json_object(), *notes = json_array();
    if (!bp || !pred || !cm || !prec || !rec || !f1 || !counts || !roc || !pr) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) counts[t->label[i]]++;

    /* Predictions. */
    for (size_t i = 0; i < n; i++) {
        const double *p = t->prob + i * (size_t)k;
        if (binary) {
            pred[i] = p[pos] >= o->threshold ? pos : 1 - pos;
        } else {
            int best = 0;
            for (int c = 1; c < k; c++)
                if (p[c] > p[best]) best = c;
            pred[i] = best;
        }
    }
    sl_nn_confusion(t->label, pred, NULL, n, k, cm);
    sl_nn_prf_per_class(cm, k, prec, rec, f1);

    /* Ranking problems: the positive class (binary) or each class against the rest. */
    for (int j = 0; j < nbp && !rc; j++) {
        int c = binary ? pos : j;
        rc = binprob_init(&bp[j], n, err);
        if (rc) break;
        for (size_t i = 0; i < n; i++) {
            bp[j].y[i] = t->label[i] == c;
            bp[j].score[i] = t->prob[i * (size_t)k + (size_t)c];
        }
        rc = binprob_prepare(&bp[j], n, err);
    }
    if (rc) goto done;

    if (binary) {
        if (!bp[0].pos || !bp[0].neg) {
            int only = t->label[0];
            rc = sl_err_set(
                err, SL_EDATA,
                "ROC AUC is undefined: every row has label '%s' (column 'label'); the evaluation needs "
                "both classes '%s' and '%s'",
                t->classes[only], t->classes[0], t->classes[1]);
            goto done;
        }
        json_object_set_new(metrics, "roc_auc", jnum(sl_nn_roc_auc(&bp[0].curve)));
        json_object_set_new(metrics, "average_precision", jnum(sl_nn_average_precision(&bp[0].curve)));
        rc = add_curves(roc, pr, &bp[0], NULL, err);
        if (rc) goto done;
    } else {
        int all_present = 1, sums_ok = 1;
        for (int c = 0; c < k; c++) all_present &= counts[c] > 0;
        for (size_t i = 0; i < n && sums_ok; i++) {
            double s = 0;
            for (int c = 0; c < k; c++) s += t->prob[i * (size_t)k + (size_t)c];
            sums_ok = fabs(s - 1.0) <= 1e-8 + 1e-5 * fabs(s); /* numpy.allclose(1, sum) */
        }
        double mean = 0;
        for (int c = 0; c < k; c++) {
            mean += sl_nn_roc_auc(&bp[c].curve);
            rc = add_curves(roc, pr, &bp[c], t->classes[c], err);
            if (rc) goto done;
        }
        int ovr_ok = all_present && sums_ok;
        json_object_set_new(metrics, "roc_auc_ovr_macro", ovr_ok ? jnum(mean / k) : json_null());
        if (!all_present)
            json_array_append_new(notes, json_string("roc_auc_ovr_macro is undefined: a class has no rows"));
        else if (!sums_ok)
            json_array_append_new(notes,
                                  json_string("roc_auc_ovr_macro is undefined: the class probabilities of a "
                                              "row do not sum to 1 (scikit-learn refuses them)"));
    }
    json_object_set_new(metrics, "accuracy", jnum(sl_nn_accuracy(cm, k)));
    json_object_set_new(metrics, "f1_macro", jnum(sl_nn_f1_macro(cm, k)));
    json_object_set_new(metrics, "mcc", jnum(sl_nn_mcc(cm, k)));
    for (int c = 0; c < k; c++) {
        json_t *pc = json_pack("{s:I,s:o,s:o,s:o}", "support", (json_int_t)counts[c], "precision",
                               jnum(prec[c]), "recall", jnum(rec[c]), "f1", jnum(f1[c]));
        if (!binary) {
            json_object_set_new(pc, "roc_auc", jnum(sl_nn_roc_auc(&bp[c].curve)));
            json_object_set_new(pc, "average_precision", jnum(sl_nn_average_precision(&bp[c].curve)));
        }
        json_object_set_new(per_class, t->classes[c], pc);
    }
    if (binary) {
        json_object_set_new(report, "positive_class", json_string(t->classes[pos]));
        json_object_set_new(report, "threshold", json_real(o->threshold));
    } else {
        json_object_set_new(report, "decision", json_string("argmax"));
    }
    json_object_set_new(report, "metrics", metrics);
    json_object_set_new(report, "per_class", per_class);
    json_object_set_new(report, "confusion_matrix", confusion_json(t, cm));
    metrics = per_class = NULL;

    {
        bootctx ctx = {.t = t, .bp = bp, .nbp = nbp, .pred = pred, .cm = cm};
        const json_t *m = json_object_get(report, "metrics");
        if (binary) {
            static const char *const names[] = {"roc_auc", "average_precision", "accuracy", "f1_macro",
                                                "mcc"};
            rc = run_bootstrap(o, t, t->label, k, "class", names, 5, stats_binary, &ctx, m, report, err);
        } else {
            static const char *const names[] = {"accuracy", "f1_macro", "mcc", "roc_auc_ovr_macro"};
            ctx.ovr_ok = !json_is_null(json_object_get(m, "roc_auc_ovr_macro"));
            rc = run_bootstrap(o, t, t->label, k, "class", names, 4, stats_multiclass, &ctx, m, report, err);
        }
        if (rc) goto done;
    }
    rc = write_curves(out_dir, roc, pr, plots, err);

done:
    if (json_array_size(notes)) json_object_set(report, "notes", notes);
    json_decref(notes);
    json_decref(metrics);
    json_decref(per_class);
    if (bp)
        for (int j = 0; j < nbp; j++) binprob_free(&bp[j]);
    free(bp);
    free(pred);
    free(cm);
    free(prec);
    free(rec);
    free(f1);
    free(counts);
    if (roc) plotset_free(roc);
    if (pr) plotset_free(pr);
    free(roc);
    free(pr);
    return rc;
}

static int report_multilabel(const sl_nn_pred_table *t, const sl_nn_report_opts *o, const char *out_dir,
                             json_t *report, json_t *plots, sl_err *err) {
    const int k = t->k;
    const size_t n = t->n;
    int rc = 0, n_strata = 0;
    binprob *bp = calloc((size_t)k, sizeof *bp);
    int *strata = malloc(n * sizeof *strata);
    plotset *roc = calloc(1, sizeof *roc), *pr = calloc(1, sizeof *pr);
    json_t *metrics = json_object(), *per_label = json_object(), *notes = json_array();
    if (!bp || !strata || !roc || !pr) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    double ap_sum = 0, auc_sum = 0;
    int auc_ok = 1;
    for (int c = 0; c < k; c++) {
        rc = binprob_init(&bp[c], n, err);
        if (rc) goto done;
        for (size_t i = 0; i < n; i++) {
            bp[c].y[i] = t->multi[i * (size_t)k + (size_t)c];
            bp[c].score[i] = t->prob[i * (size_t)k + (size_t)c];
        }
        rc = binprob_prepare(&bp[c], n, err);
        if (rc) goto done;
        double ap = sl_nn_average_precision(&bp[c].curve), auc = sl_nn_roc_auc(&bp[c].curve);
        ap_sum += ap;
        auc_sum += auc;
        auc_ok &= !isnan(auc);
        json_object_set_new(per_label, t->classes[c],
                            json_pack("{s:I,s:o,s:o}", "support", (json_int_t)bp[c].pos, "average_precision",
                                      jnum(ap), "roc_auc", jnum(auc)));
        rc = add_curves(roc, pr, &bp[c], t->classes[c], err);
        if (rc) goto done;
    }
    json_object_set_new(metrics, "map", jnum(ap_sum / k));
    json_object_set_new(metrics, "roc_auc_macro", auc_ok ? jnum(auc_sum / k) : json_null());
    if (!auc_ok)
        json_array_append_new(notes,
                              json_string("roc_auc_macro is undefined: a label is present in every row or "
                                          "in none"));
    for (int c = 0; c < k; c++)
        if (!bp[c].pos) {
            char buf[300];
            snprintf(buf, sizeof buf,
                     "label '%s' has no positive rows: its average precision is 0 (as in "
                     "scikit-learn)",
                     t->classes[c]);
            json_array_append_new(notes, json_string(buf));
        }
    json_object_set_new(report, "metrics", metrics);
    json_object_set_new(report, "per_label", per_label);
    metrics = per_label = NULL;
    rc = label_set_strata(t, strata, &n_strata, err);
    if (rc) goto done;
    {
        static const char *const names[] = {"map", "roc_auc_macro"};
        bootctx ctx = {.t = t, .bp = bp, .nbp = k};
        rc = run_bootstrap(o, t, strata, n_strata, "label set", names, 2, stats_multilabel, &ctx,
                           json_object_get(report, "metrics"), report, err);
        if (rc) goto done;
    }
    rc = write_curves(out_dir, roc, pr, plots, err);
done:
    if (json_array_size(notes)) json_object_set(report, "notes", notes);
    json_decref(notes);
    json_decref(metrics);
    json_decref(per_label);
    if (bp)
        for (int c = 0; c < k; c++) binprob_free(&bp[c]);
    free(bp);
    free(strata);
    if (roc) plotset_free(roc);
    if (pr) plotset_free(pr);
    free(roc);
    free(pr);
    return rc;
}

static int report_regression(const sl_nn_pred_table *t, const sl_nn_report_opts *o, json_t *report,
                             sl_err *err) {
    double mse = sl_nn_mse(t->y, t->pred, NULL, t->n);
    json_t *metrics = json_pack("{s:o,s:o,s:o}", "mse", jnum(mse), "rmse", jnum(sqrt(mse)), "r2",
                                jnum(sl_nn_r2(t->y, t->pred, NULL, t->n)));
    json_object_set_new(report, "metrics", metrics);
    static const char *const names[] = {"mse", "rmse", "r2"};
    bootctx ctx = {.t = t};
    return run_bootstrap(o, t, NULL, 1, "none", names, 3, stats_regression, &ctx, metrics, report, err);
}

int sl_nn_report_write(const char *predictions_tsv, const sl_nn_report_opts *o, const char *out_dir,
                       json_t **report_out, sl_err *err) {
    if (report_out) *report_out = NULL;
    if (!(o->threshold >= 0 && o->threshold <= 1))
        return sl_err_set(err, SL_EUSAGE, "threshold must be in [0, 1], got %g", o->threshold);
    if (!(o->ci_level > 0 && o->ci_level < 1))
        return sl_err_set(err, SL_EUSAGE, "confidence level must be in (0, 1), got %g", o->ci_level);
    sl_nn_pred_table t;
    int rc = sl_nn_pred_table_read(predictions_tsv, o->task, &t, err);
    if (rc) return rc;
    if (o->positive_class && t.task != SL_NN_TASK_BINARY) {
        sl_nn_pred_table_free(&t);
        return sl_err_set(err, SL_EUSAGE, "--positive-class applies to binary tasks; %s is %s",
                          predictions_tsv, sl_nn_task_name(t.task));
    }
    json_t *report = json_object(), *plots = json_array();
    json_object_set_new(report, "schema", json_string("seqlora.evaluate/1"));
    json_object_set_new(report, "task", json_string(sl_nn_task_name(t.task)));
    json_object_set_new(report, "n", json_integer((json_int_t)t.n));
    if (t.k) {
        json_t *cl = json_array();
        for (int c = 0; c < t.k; c++) json_array_append_new(cl, json_string(t.classes[c]));
        json_object_set_new(report, "classes", cl);
    }
    switch (t.task) {
        case SL_NN_TASK_BINARY:
        case SL_NN_TASK_MULTICLASS:
            rc = report_single_label(&t, o, out_dir, report, plots, err);
            break;
        case SL_NN_TASK_MULTILABEL:
            rc = report_multilabel(&t, o, out_dir, report, plots, err);
            break;
        default:
            rc = report_regression(&t, o, report, err);
            break;
    }
    if (rc == SL_EDATA) sl_err_prefix(err, "%s", predictions_tsv); /* data errors of the whole table */
    if (!rc && o->history) {
        char *loss = sl_fs_join(out_dir, "loss.svg"), *hist = sl_fs_join(out_dir, "metrics_history.svg");
        int wrote = 0;
        rc = loss && hist ? sl_nn_history_plot(o->history, loss, hist, &wrote, err)
                          : sl_err_set(err, SL_ENOMEM, "out of memory");
        if (!rc) {
            json_array_append_new(plots, json_string("loss.svg"));
            if (wrote) json_array_append_new(plots, json_string("metrics_history.svg"));
        }
        free(loss);
        free(hist);
    }
    json_object_set_new(report, "plots", plots);
    if (!rc) {
        char *path = sl_fs_join(out_dir, "metrics.json");
        rc = path ? sl_json_write_file(path, report, 1, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(path);
    }
    sl_nn_pred_table_free(&t);
    if (!rc && report_out)
        *report_out = report;
    else
        json_decref(report);
    return rc;
}
