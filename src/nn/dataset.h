/* Dataset TSVs for training and prediction: header `id<TAB>sequence[<TAB>label[<TAB>...]]` (columns found
 * by name; others ignored), one row per example. `sequence` is the tokenizer's input text (space-separated
 * k-mers for DNABERT). `label` is a class name (single-label), a comma-separated list of class names, empty
 * for none (multi-label), or a number (regression). */
#ifndef SEQLORA_NN_DATASET_H
#define SEQLORA_NN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "bert_config.h"
#include "tokenizer.h"
#include "util/error.h"

typedef struct sl_nn_dataset {
    size_t n;
    int max_len;         /* row stride of ids / mask */
    int32_t *ids, *mask; /* [n, max_len], padded */
    int *len;            /* real tokens per row */
    int num_labels;
    sl_nn_problem problem;
    float *labels;     /* single-label: [n] class indices; else [n, num_labels]; NULL without labels */
    char **id;         /* [n] row ids */
    char **label_text; /* [n] the label field as written ("" when the file has no label column) */
    size_t *line;      /* [n] 1-based file lines */
} sl_nn_dataset;

/* The sorted (strcmp) unique class names of the label column of `path` (single-label: the values;
 * multi-label: the comma-separated names). *names is malloc'd (free each and the array). SL_EDATA when
 * there is no label column or no class. */
int sl_nn_dataset_classes(const char *path, sl_nn_problem problem, char ***names, int *n, sl_err *err);

/* Read and tokenize `path`. `head` gives the class names / problem type used to encode labels; with
 * need_labels a missing label column or an unknown class is SL_EDATA naming the file and line; without,
 * labels are read when the column exists and parses, else ds->labels is NULL. */
int sl_nn_dataset_load(const char *path, const sl_nn_tokenizer *tok, int max_len,
                       const sl_nn_bert_config *head, int need_labels, sl_nn_dataset *ds, sl_err *err);

void sl_nn_dataset_free(sl_nn_dataset *ds);

#endif
