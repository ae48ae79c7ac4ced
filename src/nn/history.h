/* Training history plots from the trainer's metrics.jsonl: one JSON object per line, e.g.
 *   {"epoch":1,"train_loss":0.69,"eval_loss":0.61,"eval_auc":0.74,"lr":0.0003,"seconds":12.5}
 * The x axis is "epoch" (lines without a numeric "epoch" are not plotted; when no line has one, the line
 * number is used). Every other numeric key is a series, in order of first appearance, except bookkeeping keys
 * ("step", "seconds", "time", "lr", "learning_rate", "tokens_per_s"); a key missing from a line leaves a gap.
 * Keys whose name contains "loss" go to the loss plot, the others (metrics) to the metric plot. */
#ifndef SEQLORA_NN_HISTORY_H
#define SEQLORA_NN_HISTORY_H

#include "util/error.h"

/* Read `jsonl` and write the loss plot to `loss_svg` (always, possibly empty of series) and the metric plot
 * to `metric_svg` when there is at least one metric key (*wrote_metric = 1). Errors: SL_EIO when unreadable,
 * SL_EDATA naming file:line for a line that is not a JSON object. Blank lines are skipped. */
int sl_nn_history_plot(const char *jsonl, const char *loss_svg, const char *metric_svg, int *wrote_metric,
                       sl_err *err);

#endif
