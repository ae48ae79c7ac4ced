/* The predictions TSV that `seqlora predict` writes and `seqlora evaluate` reads.
 *
 *   single-label: id  label  prob_<class0>  prob_<class1> ...   (softmax; label = a class name)
 *   multi-label:  id  label  prob_<class0> ...                  (sigmoid; label = comma-separated class
 *                                                                names, empty for none)
 *   regression:   id  label  prediction                         (label = the true value)
 *
 * Columns are found by name in the header (their order is free; other columns, e.g. logits, are ignored).
 * Every value is validated: probabilities finite and in [0, 1], regression values finite, labels among the
 * classes of the header. Errors name the file, line and column. */
#ifndef SEQLORA_NN_PRED_TABLE_H
#define SEQLORA_NN_PRED_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum sl_nn_task {
    SL_NN_TASK_AUTO = 0,   /* regression when there is a `prediction` column; multi-label when a label is
                              empty or holds a comma (or there is one class); else binary (2 classes) or
                              multi-class */
    SL_NN_TASK_BINARY,     /* single-label with exactly 2 classes */
    SL_NN_TASK_MULTICLASS, /* single-label with 2 or more classes, evaluated as multi-class */
    SL_NN_TASK_MULTILABEL,
    SL_NN_TASK_REGRESSION,
} sl_nn_task;

/* "auto", "binary", ... ↔ enum. Parse returns SL_EUSAGE with err filled for an unknown name. */
const char *sl_nn_task_name(sl_nn_task task);
int sl_nn_task_parse(const char *name, sl_nn_task *task, sl_err *err);

typedef struct sl_nn_pred_table {
    sl_nn_task task; /* resolved (never AUTO after a successful read) */
    size_t n;        /* rows */
    int k;           /* classes (0 for regression) */
    char **classes;  /* k class names, in header order */
    double *prob;    /* n*k probabilities, row-major (classification) */
    int *label;      /* n class indices (single-label) */
    uint8_t *multi;  /* n*k 0/1 indicators (multi-label) */
    double *y;       /* n true values (regression) */
    double *pred;    /* n predictions (regression) */
    size_t *line;    /* the file line of each row (1-based; the header is line 1) */
} sl_nn_pred_table;

/* Read and validate `path` as `task` (SL_NN_TASK_AUTO to detect). On success *t owns its arrays (free with
 * sl_nn_pred_table_free); on failure *t is empty and err says file:line, column and what was expected
 * (SL_EDATA; SL_EIO when the file cannot be read). An empty table (header only) is an error. */
int sl_nn_pred_table_read(const char *path, sl_nn_task task, sl_nn_pred_table *t, sl_err *err);

void sl_nn_pred_table_free(sl_nn_pred_table *t);

#endif
