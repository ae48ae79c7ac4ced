/* Evaluation metrics with scikit-learn 1.2.1's definitions (sklearn/metrics/_ranking.py, _classification.py,
 * _regression.py), including its handling of tied scores, so a number here equals the number a user gets from
 * sklearn on the same predictions (within floating-point rounding of the summation order).
 *
 * Every function accepts optional per-row integer multiplicities `weight` (NULL = every row once). A metric
 * computed with weights equals the metric on the sample where row i is repeated weight[i] times (rows with
 * weight 0 are absent); the bootstrap (bootstrap.h) uses this to evaluate a resample in O(n) without
 * re-sorting. Undefined metrics (e.g. ROC AUC with one class present) are returned as NaN; the caller decides
 * whether that is an error. All functions are pure and thread-safe on distinct outputs. */
#ifndef SEQLORA_NN_METRICS_H
#define SEQLORA_NN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Row indices ordered by score descending; ties keep the lower index first. *order is malloc'd (caller
 * frees). Scores must not be NaN (not checked here). */
int sl_nn_order_desc(const double *score, size_t n, size_t **order, sl_err *err);

/* sklearn's _binary_clf_curve: one point per distinct score (highest first) with the cumulative false and
 * true positive counts of the rows scoring >= that threshold. Buffers are owned by the struct and sized for
 * `cap` rows, so one curve can be refilled for every bootstrap resample. */
typedef struct sl_nn_clf_curve {
    size_t n;    /* number of points (distinct scores among rows with non-zero weight) */
    size_t cap;  /* capacity of the arrays */
    double *fps; /* cumulative false positives at each threshold */
    double *tps; /* cumulative true positives */
    double *thr; /* the threshold (the score) */
} sl_nn_clf_curve;

/* Allocate a curve for up to `cap` points (SL_ENOMEM on failure). */
int sl_nn_clf_curve_init(sl_nn_clf_curve *c, size_t cap, sl_err *err);
void sl_nn_clf_curve_free(sl_nn_clf_curve *c);

/* Fill `c` from binary truth `y` (0/1), `score`, the descending `order` from sl_nn_order_desc and optional
 * `weight`. c->cap must be >= n. */
void sl_nn_clf_curve_fill(sl_nn_clf_curve *c, const uint8_t *y, const double *score, const size_t *order,
                          const uint32_t *weight, size_t n);

/* roc_curve(drop_intermediate=`drop`): *m points written into malloc'd fpr, tpr, thr (caller frees each).
 * The first threshold is thr[1] + 1 as in sklearn 1.2.1 (1.3 uses +inf). fpr (tpr) is all NaN when there
 * are no negatives (positives). */
int sl_nn_roc_curve(const sl_nn_clf_curve *c, int drop, double **fpr, double **tpr, double **thr, size_t *m,
                    sl_err *err);

/* roc_auc_score for a binary problem: trapezoidal area under roc_curve(drop_intermediate=True). NaN unless
 * both classes are present. Allocation-free. */
double sl_nn_roc_auc(const sl_nn_clf_curve *c);

/* precision_recall_curve: *m = c->n + 1 points (precision, recall in decreasing-threshold-reversed order as
 * sklearn returns them, ending with precision 1, recall 0) and c->n thresholds in increasing order. When
 * there are no positives recall is 1 at every threshold (sklearn's convention). */
int sl_nn_pr_curve(const sl_nn_clf_curve *c, double **precision, double **recall, double **thr, size_t *m,
                   sl_err *err);

/* average_precision_score (binary): -sum(diff(recall) * precision[:-1]), the step-wise (non-interpolated)
 * area; 0 when there are no positives (as sklearn 1.2.1 returns). NaN when the curve is empty. */
double sl_nn_average_precision(const sl_nn_clf_curve *c);

/* Confusion matrix over classes 0..k-1: cm[t*k + p] += weight of rows with truth t predicted p (rows true,
 * columns predicted, like sklearn). cm (k*k) is zeroed first. Labels outside [0,k) are ignored. */
void sl_nn_confusion(const int *y_true, const int *y_pred, const uint32_t *weight, size_t n, int k,
                     double *cm);

/* From a confusion matrix: accuracy_score; f1_score(average="macro") over the labels present in truth or
 * prediction (sklearn's labels=None: a class with an all-zero row and column is not averaged), 0/0 → 0
 * (zero_division="warn"/0); matthews_corrcoef (0 when the denominator is 0). NaN for an empty matrix. */
double sl_nn_accuracy(const double *cm, int k);
double sl_nn_f1_macro(const double *cm, int k);
double sl_nn_mcc(const double *cm, int k);

/* Per-class precision, recall and F1 (each array of k, may be NULL) with 0/0 → 0. */
void sl_nn_prf_per_class(const double *cm, int k, double *precision, double *recall, double *f1);

/* mean_squared_error and r2_score (force_finite=True: 1 when predictions are perfect, 0 when the truth is
 * constant but predictions are not; NaN with fewer than 2 rows). */
double sl_nn_mse(const double *y, const double *pred, const uint32_t *weight, size_t n);
double sl_nn_r2(const double *y, const double *pred, const uint32_t *weight, size_t n);

/* numpy.percentile(values, 100*q) with the default linear interpolation over the n values (sorted in place).
 * NaN when n == 0. */
double sl_nn_percentile(double *values, size_t n, double q);

#endif
