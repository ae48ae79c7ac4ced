#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* qsort has no context argument: the scores being ordered are passed through a thread-local pointer. */
static _Thread_local const double *sort_scores;

static int cmp_desc(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double si = sort_scores[i], sj = sort_scores[j];
    if (si > sj) return -1;
    if (si < sj) return 1;
    return i < j ? -1 : (i > j);
}

int sl_nn_order_desc(const double *score, size_t n, size_t **order, sl_err *err) {
    size_t *o = malloc((n ? n : 1) * sizeof *o);
    if (!o) return sl_err_set(err, SL_ENOMEM, "cannot allocate a sort order of %zu rows", n);
    for (size_t i = 0; i < n; i++) o[i] = i;
    sort_scores = score;
    qsort(o, n, sizeof *o, cmp_desc);
    sort_scores = NULL;
    *order = o;
    return 0;
}

int sl_nn_clf_curve_init(sl_nn_clf_curve *c, size_t cap, sl_err *err) {
    memset(c, 0, sizeof *c);
    size_t k = cap ? cap : 1;
    c->fps = malloc(k * sizeof(double));
    c->tps = malloc(k * sizeof(double));
    c->thr = malloc(k * sizeof(double));
    if (!c->fps || !c->tps || !c->thr) {
        sl_nn_clf_curve_free(c);
        return sl_err_set(err, SL_ENOMEM, "cannot allocate a curve of %zu points", cap);
    }
    c->cap = cap;
    return 0;
}

void sl_nn_clf_curve_free(sl_nn_clf_curve *c) {
    free(c->fps);
    free(c->tps);
    free(c->thr);
    memset(c, 0, sizeof *c);
}

void sl_nn_clf_curve_fill(sl_nn_clf_curve *c, const uint8_t *y, const double *score, const size_t *order,
                          const uint32_t *weight, size_t n) {
    /* Walk rows from the highest score; a point is emitted at the last row of each run of equal scores
     * (sklearn: distinct_value_indices = nonzero(diff(score)), plus the last row). */
    double tp = 0, fp = 0;
    size_t m = 0;
    int open = 0; /* a run of equal scores has rows not yet emitted */
    double cur = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = order[r];
        double w = weight ? (double)weight[i] : 1.0;
        if (w == 0) continue;
        if (open && score[i] != cur) {
            c->fps[m] = fp;
            c->tps[m] = tp;
            c->thr[m] = cur;
            m++;
        }
        cur = score[i];
        open = 1;
        if (y[i])
            tp += w;
        else
            fp += w;
    }
    if (open) {
        c->fps[m] = fp;
        c->tps[m] = tp;
        c->thr[m] = cur;
        m++;
    }
    c->n = m;
}

/* Is point i (of the curve's n) kept by drop_intermediate? sklearn keeps the ends and every point where
 * the second difference of fps or tps is non-zero (i.e. not collinear on a horizontal/vertical run). */
static int roc_keep(const sl_nn_clf_curve *c, size_t i, int drop) {
    if (!drop || c->n <= 2 || i == 0 || i == c->n - 1) return 1;
    double dfp = c->fps[i + 1] - 2 * c->fps[i] + c->fps[i - 1];
    double dtp = c->tps[i + 1] - 2 * c->tps[i] + c->tps[i - 1];
    return dfp != 0 || dtp != 0;
}

int sl_nn_roc_curve(const sl_nn_clf_curve *c, int drop, double **fpr, double **tpr, double **thr, size_t *m,
                    sl_err *err) {
    size_t cap = c->n + 1;
    double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y), *t = malloc(cap * sizeof *t);
    if (!x || !y || !t) {
        free(x);
        free(y);
        free(t);
        return sl_err_set(err, SL_ENOMEM, "cannot allocate a ROC curve of %zu points", cap);
    }
    size_t k = 1;
    x[0] = 0;
    y[0] = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!roc_keep(c, i, drop)) continue;
        x[k] = c->fps[i];
        y[k] = c->tps[i];
        t[k] = c->thr[i];
        k++;
    }
    t[0] = k > 1 ? t[1] + 1 : 1;
    double fl = x[k - 1], tl = y[k - 1];
    for (size_t i = 0; i < k; i++) {
        x[i] = fl > 0 ? x[i] / fl : NAN;
        y[i] = tl > 0 ? y[i] / tl : NAN;
    }
    *fpr = x;
    *tpr = y;
    *thr = t;
    *m = k;
    return 0;
}

double sl_nn_roc_auc(const sl_nn_clf_curve *c) {
    if (c->n == 0) return NAN;
    double fl = c->fps[c->n - 1], tl = c->tps[c->n - 1];
    if (!(fl > 0) || !(tl > 0)) return NAN;
    /* np.trapz over the kept points, starting at (0, 0): sum(dx * (y[i] + y[i-1]) / 2). */
    double area = 0, px = 0, py = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!roc_keep(c, i, 1)) continue;
        double x = c->fps[i] / fl, y = c->tps[i] / tl;
        area += (x - px) * (y + py) / 2.0;
        px = x;
        py = y;
    }
    return area;
}

int sl_nn_pr_curve(const sl_nn_clf_curve *c, double **precision, double **recall, double **thr, size_t *m,
                   sl_err *err) {
    size_t k = c->n + 1;
    double *p = malloc(k * sizeof *p), *r = malloc(k * sizeof *r), *t = malloc(k * sizeof *t);
    if (!p || !r || !t) {
        free(p);
        free(r);
        free(t);
        return sl_err_set(err, SL_ENOMEM, "cannot allocate a precision-recall curve of %zu points", k);
    }
    double tl = c->n ? c->tps[c->n - 1] : 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t j = c->n - 1 - i; /* sklearn reverses the arrays */
        double ps = c->tps[i] + c->fps[i];
        p[j] = ps != 0 ? c->tps[i] / ps : 0;
        r[j] = tl == 0 ? 1 : c->tps[i] / tl;
        t[j] = c->thr[i];
    }
    p[c->n] = 1;
    r[c->n] = 0;
    *precision = p;
    *recall = r;
    *thr = t;
    *m = k;
    return 0;
}

double sl_nn_average_precision(const sl_nn_clf_curve *c) {
    if (c->n == 0) return NAN;
    double tl = c->tps[c->n - 1];
    /* In sklearn's (reversed) arrays the sum runs from the lowest threshold up; here index i of the curve is
     * position n-1-i there. Term j: (recall[j+1] - recall[j]) * precision[j]. */
    double sum = 0;
    for (size_t j = 0; j < c->n; j++) {
        size_t i = c->n - 1 - j;
        double ps = c->tps[i] + c->fps[i];
        double prec = ps != 0 ? c->tps[i] / ps : 0;
        double rj = tl == 0 ? 1 : c->tps[i] / tl;
        double rnext = j + 1 < c->n ? (tl == 0 ? 1 : c->tps[i - 1] / tl) : 0;
        sum += (rnext - rj) * prec;
    }
    return -sum;
}

void sl_nn_confusion(const int *y_true, const int *y_pred, const uint32_t *weight, size_t n, int k,
                     double *cm) {
    memset(cm, 0, (size_t)k * (size_t)k * sizeof *cm);
    for (size_t i = 0; i < n; i++) {
        int t = y_true[i], p = y_pred[i];
        if (t < 0 || t >= k || p < 0 || p >= k) continue;
        cm[(size_t)t * (size_t)k + (size_t)p] += weight ? (double)weight[i] : 1.0;
    }
}

static double cm_total(const double *cm, int k) {
    double s = 0;
    for (int i = 0; i < k * k; i++) s += cm[i];
    return s;
}

double sl_nn_accuracy(const double *cm, int k) {
    double s = cm_total(cm, k), c = 0;
    if (s == 0) return NAN;
    for (int i = 0; i < k; i++) c += cm[i * k + i];
    return c / s;
}

void sl_nn_prf_per_class(const double *cm, int k, double *precision, double *recall, double *f1) {
    for (int c = 0; c < k; c++) {
        double tp = cm[c * k + c], pred = 0, truth = 0;
        for (int j = 0; j < k; j++) {
            pred += cm[j * k + c];
            truth += cm[c * k + j];
        }
        /* sklearn: precision and recall with 0/0 → 0, then F = 2PR/(P+R) with a zero denominator set to 1. */
        double p = pred != 0 ? tp / pred : 0, r = truth != 0 ? tp / truth : 0;
        double denom = p + r;
        if (denom == 0) denom = 1;
        if (precision) precision[c] = p;
        if (recall) recall[c] = r;
        if (f1) f1[c] = 2 * p * r / denom;
    }
}

double sl_nn_f1_macro(const double *cm, int k) {
    if (cm_total(cm, k) == 0) return NAN;
    double sum = 0;
    int used = 0;
    for (int c = 0; c < k; c++) {
        double pred = 0, truth = 0;
        for (int j = 0; j < k; j++) {
            pred += cm[j * k + c];
            truth += cm[c * k + j];
        }
        if (pred == 0 && truth == 0) continue; /* not in sklearn's unique_labels(y_true, y_pred) */
        double tp = cm[c * k + c];
        double p = pred != 0 ? tp / pred : 0, r = truth != 0 ? tp / truth : 0;
        double denom = p + r;
        if (denom == 0) denom = 1;
        sum += 2 * p * r / denom;
        used++;
    }
    return sum / used;
}

double sl_nn_mcc(const double *cm, int k) {
    double s = cm_total(cm, k);
    if (s == 0) return NAN;
    double c = 0, tp = 0, pp = 0, tt = 0;
    for (int i = 0; i < k; i++) {
        double t = 0, p = 0;
        for (int j = 0; j < k; j++) {
            t += cm[i * k + j];
            p += cm[j * k + i];
        }
        c += cm[i * k + i];
        tp += t * p;
        pp += p * p;
        tt += t * t;
    }
    double cov_tp = c * s - tp, cov_pp = s * s - pp, cov_tt = s * s - tt;
    if (cov_pp * cov_tt == 0) return 0.0;
    return cov_tp / sqrt(cov_tt * cov_pp);
}

double sl_nn_mse(const double *y, const double *pred, const uint32_t *weight, size_t n) {
    long double num = 0, wsum = 0;
    for (size_t i = 0; i < n; i++) {
        double w = weight ? (double)weight[i] : 1.0;
        double d = y[i] - pred[i];
        num += (long double)w * d * d;
        wsum += w;
    }
    return wsum > 0 ? (double)(num / wsum) : NAN;
}

double sl_nn_r2(const double *y, const double *pred, const uint32_t *weight, size_t n) {
    long double wsum = 0, ysum = 0;
    for (size_t i = 0; i < n; i++) {
        double w = weight ? (double)weight[i] : 1.0;
        wsum += w;
        ysum += (long double)w * y[i];
    }
    if (wsum < 2) return NAN;
    double mean = (double)(ysum / wsum);
    long double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double w = weight ? (double)weight[i] : 1.0;
        if (w == 0) continue;
        double d = y[i] - pred[i], e = y[i] - mean;
        num += (long double)w * d * d;
        den += (long double)w * e * e;
    }
    if (num == 0) return 1.0;
    if (den == 0) return 0.0;
    return 1.0 - (double)num / (double)den;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double sl_nn_percentile(double *values, size_t n, double q) {
    if (n == 0) return NAN;
    qsort(values, n, sizeof *values, cmp_double);
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) return values[n - 1];
    double t = pos - (double)lo, a = values[lo], b = values[lo + 1], d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t; /* numpy's _lerp */
}
