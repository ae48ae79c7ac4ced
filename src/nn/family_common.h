/* Helpers shared by the ESM and DNABERT-2 engines (esm.c, dnabert2.c): the trainable-parameter table, the
 * normal draws transformers' initialisers are matched with, PEFT's target-name rule and the PEFT adapter
 * files. Internal to src/nn. */
#ifndef SEQLORA_NN_FAMILY_COMMON_H
#define SEQLORA_NN_FAMILY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "util/error.h"
#include "util/rng.h"

/* A growable table of trainable tensors laid out one after another in an arena of *n_train floats. */
typedef struct sl_nn_param_table {
    sl_nn_param *params;
    size_t n, cap;
    size_t n_train; /* floats so far */
} sl_nn_param_table;

/* Append tensor `name` of shape [d0] (ndim 1) or [d0, d1]; NULL when out of memory. */
sl_nn_param *sl_nn_param_table_add(sl_nn_param_table *t, const char *name, int64_t d0, int64_t d1, int ndim);

/* A standard normal draw (Box-Muller on two Philox uniforms). */
float sl_nn_rng_normal(sl_rng *r);

/* PEFT's list rule: `name` equals `target` or ends with "." + target. */
int sl_nn_target_suffix_match(const char *name, const char *target);

/* Write `dir`/adapter_model.safetensors (the n tensors of `params`, values from `values`) and
 * `dir`/adapter_config.json (SEQ_CLS, the spec's r/alpha/dropout/rslora, its target names or, when none
 * were kept, the paths of module_paths[i] for the set bits of spec->targets; modules_to_save as given). */
int sl_nn_family_adapter_write(const sl_nn_param *params, size_t n, const float *values,
                               const sl_nn_lora_spec *spec, const char *const *module_paths, int n_modules,
                               const char *const *modules_to_save, size_t n_modules_to_save, const char *dir,
                               const char *base_name, sl_err *err);

/* Read every tensor of `params` from `dir`/adapter_model.safetensors into `values` (shape-checked); a LoRA
 * tensor of the file with no slot in `params` is SL_EDATA (the adapter and the model disagree). */
int sl_nn_family_adapter_load(const sl_nn_param *params, size_t n, float *values, const char *dir,
                              sl_err *err);

#endif
