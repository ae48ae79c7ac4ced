/* The BERT-family configuration read from a Hugging Face `config.json` (BertConfig fields), plus the
 * task head: number of labels, their names (id2label) and the problem type. */
#ifndef SEQLORA_NN_BERT_CONFIG_H
#define SEQLORA_NN_BERT_CONFIG_H

#include "util/error.h"

typedef enum {
    SL_NN_SINGLE_LABEL = 0, /* softmax + cross-entropy (binary and multi-class) */
    SL_NN_MULTI_LABEL = 1,  /* sigmoid per class + BCE-with-logits */
    SL_NN_REGRESSION = 2,   /* identity + MSE */
} sl_nn_problem;

typedef struct sl_nn_bert_config {
    int vocab_size, hidden, layers, heads, intermediate, max_position, type_vocab, pad_token_id;
    float hidden_dropout, attn_dropout, classifier_dropout, ln_eps, init_range;
    int num_labels;
    char **labels; /* num_labels names (id2label order); owned */
    sl_nn_problem problem;
    int has_problem_type; /* 1 when config.json names problem_type */
} sl_nn_bert_config;

/* Read `path` (a config.json). Only `position_embedding_type: absolute` and `hidden_act: gelu` are
 * accepted; anything else is SL_EDATA naming the field. num_labels comes from id2label when present (as
 * transformers does), else `num_labels`, else 2. Free with sl_nn_bert_config_free. */
int sl_nn_bert_config_load(const char *path, sl_nn_bert_config *cfg, sl_err *err);

/* Replace the head description: `n` labels named `names` (copied; NULL = LABEL_0..), problem `p`. */
int sl_nn_bert_config_set_head(sl_nn_bert_config *cfg, int n, const char *const *names, sl_nn_problem p,
                               sl_err *err);

/* "single_label_classification" etc. <-> enum; returns -1 for an unknown name. */
int sl_nn_problem_parse(const char *s);
const char *sl_nn_problem_name(sl_nn_problem p);

void sl_nn_bert_config_free(sl_nn_bert_config *cfg);

#endif
