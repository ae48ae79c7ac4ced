/* The evaluation report: from a predictions TSV (pred_table.h) to REPORT_DIR/metrics.json and SVG plots.
 *
 * Per task (metrics as scikit-learn 1.2.1 computes them, see metrics.h):
 *   binary      roc_auc, average_precision, accuracy, f1_macro, mcc, confusion matrix and per-class
 *               precision/recall/F1 at `threshold` (a row is predicted positive when its positive-class
 *               probability is >= threshold, the convention of roc_curve's thresholds); roc.svg, pr.svg.
 *               Both classes must be present in the labels (ROC AUC is undefined otherwise: an error).
 *   multiclass  accuracy, f1_macro, mcc, confusion matrix (prediction = the most probable class, the first
 *               on a tie, like numpy.argmax), per-class one-vs-rest roc_auc and average precision, and
 *               roc_auc_ovr_macro (roc_auc_score(multi_class="ovr", average="macro")) when every class is
 *               present and every row's probabilities sum to 1 (numpy.allclose), else null with a note;
 *               roc.svg and pr.svg with one curve per class.
 *   multilabel  map (average_precision_score(average="macro")), per-label average precision and roc_auc,
 *               roc_auc_macro when every label has both classes (else null with a note); roc.svg, pr.svg.
 *   regression  mse, rmse, r2.
 * Bootstrap percentile intervals for the headline metrics (bootstrap.h), stratified by the true class
 * (multi-label: by the exact set of true labels; regression: not stratified).
 * With a training history (history.h): loss.svg, and metrics_history.svg when it has metric keys.
 * The report depends only on the bytes of the inputs and the options (no paths, times or hosts in it). */
#ifndef SEQLORA_NN_REPORT_H
#define SEQLORA_NN_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pred_table.h"
#include "util/error.h"

typedef struct sl_nn_report_opts {
    sl_nn_task task;            /* SL_NN_TASK_AUTO: detect from the table */
    double threshold;           /* binary decision threshold, in [0, 1]; default 0.5 */
    const char *positive_class; /* binary positive class; NULL = the second prob_ column */
    size_t bootstrap;           /* resamples; 0 = no intervals; default 1000 */
    uint64_t seed;              /* bootstrap seed; default 0 */
    double ci_level;            /* confidence level in (0, 1); default 0.95 */
    const char *history;        /* a metrics.jsonl to plot, or NULL */
} sl_nn_report_opts;

/* The defaults above. */
void sl_nn_report_opts_init(sl_nn_report_opts *o);

/* Evaluate `predictions_tsv` and write metrics.json (+ the plots) into the existing directory `out_dir`.
 * When `report` is not NULL it receives a new reference to the metrics.json object. Errors: SL_EDATA for bad
 * input (file:line, column), SL_EUSAGE for bad options (unknown positive class, threshold or level out of
 * range), SL_EIO, SL_ENOMEM. On error the caller discards out_dir (files may have been written). */
int sl_nn_report_write(const char *predictions_tsv, const sl_nn_report_opts *o, const char *out_dir,
                       json_t **report, sl_err *err);

#endif
