/* Typed fields of a model's config.json (BERT, ESM, DNABERT-2), read with the error messages every family's
 * reader gives: "PATH: field 'KEY': expected ..." / "... value V out of range". Internal to src/nn.
 * A missing or null field takes the default. Thread-safety: none needed (pure functions of their input). */
#ifndef SEQLORA_NN_CONFIG_READ_H
#define SEQLORA_NN_CONFIG_READ_H

#include <jansson.h>

#include "bert_config.h"
#include "util/error.h"

/* *out = the integer field `key` of `o` (`path` names the file in errors), or `def`. Not an integer is
 * SL_EDATA "expected an integer"; a value below `min` or above 1e9 is SL_EDATA "value V out of range". */
int sl_nn_cfg_int(const json_t *o, const char *path, const char *key, long long def, long long min, int *out,
                  sl_err *err);

/* *out = the number field `key` (integer or real) as a float, or `def`. Not a number is SL_EDATA "expected a
 * number"; a value outside [0, 1e9) (or NaN) is SL_EDATA "value V out of range". */
int sl_nn_cfg_real(const json_t *o, const char *path, const char *key, double def, float *out, sl_err *err);

/* *out = 1 / 0 for the boolean field `key`, or `def`. Anything but true/false is SL_EDATA "expected true or
 * false". */
int sl_nn_cfg_bool(const json_t *o, const char *path, const char *key, int def, int *out, sl_err *err);

/* The task head of `o` into cfg (sl_nn_bert_config_set_head): the labels of id2label when it is a non-empty
 * object (each id 0..n-1 must map to a string: SL_EDATA "field 'id2label': no string label for id I"), else
 * num_labels (default 2), at most 100000 (SL_EDATA); problem_type when present and not null (one of the three
 * names, else SL_EDATA naming the field), else regression for one label and single-label classification
 * otherwise; has_problem_type says which. Implemented in bert_config.c. */
int sl_nn_cfg_head(const json_t *o, const char *path, sl_nn_bert_config *cfg, sl_err *err);

#endif
