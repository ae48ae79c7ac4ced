/* PEFT LoRA adapter configuration (`adapter_config.json`), read and written as PEFT does.
 *
 * Writing: exactly the key set PEFT 0.13 writes (alpha_pattern ... use_rslora, 24 keys; formats.md §6.5-6.6),
 * keys sorted, two-space indentation, no trailing newline — the bytes `json.dumps(indent=2,
 * sort_keys=True)` gives. Files with this key set load unchanged in PEFT 0.10-0.13 (which reject unknown
 * keys) and in PEFT >= 0.14 (missing keys take their defaults).
 *
 * Reading: a file written by any PEFT version (0.3 ... 0.20). Keys PEFT >= 0.14 added are accepted when
 * they hold their inactive default (null, false, {} ...); a non-default value of a feature seqlora does not
 * implement (use_dora, layer_replication, exclude_modules, lora_bias, trainable_token_indices,
 * target_parameters, ...) is SL_EDATA naming the key. Keys no version knows are ignored (as PEFT >= 0.14
 * does) and kept in `extra`. peft_type must be "LORA". */
#ifndef SEQLORA_NN_PEFT_CONFIG_H
#define SEQLORA_NN_PEFT_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

typedef struct sl_nn_peft_config {
    char *task_type; /* "SEQ_CLS", ... or NULL (null) */
    int r;           /* > 0 */
    double lora_alpha;
    double lora_dropout; /* [0, 1) */
    /* target_modules: either a list (module name == entry or ends with "." + entry) or a regex string
     * (re.fullmatch against the module name); both NULL = PEFT's per-model default */
    char **target_modules;
    size_t n_target_modules;
    char *target_modules_regex;
    char **modules_to_save; /* NULL (null) or a list */
    size_t n_modules_to_save;
    char *bias; /* "none", "all", "lora_only" */
    int fan_in_fan_out;
    int use_rslora;                /* scaling alpha / sqrt(r) instead of alpha / r */
    char *init_lora_weights;       /* "true", "false", or PEFT's method string ("gaussian", "pissa", ...) */
    char *base_model_name_or_path; /* may be NULL */
    char *revision;                /* may be NULL */
    int inference_mode;
    int *layers_to_transform; /* NULL (null) or a list of layer indices */
    size_t n_layers_to_transform;
    int layers_to_transform_scalar; /* written as a bare integer (a file had one; needs exactly one entry) */
    char **layers_pattern;          /* NULL (null) or a list (a bare string is read as a one-entry list) */
    size_t n_layers_pattern;
    int layers_pattern_scalar; /* written as a bare string (a file had one; needs exactly one entry) */
    json_t *rank_pattern;      /* object: module regex -> int; never NULL after init/read */
    json_t *alpha_pattern;     /* object: module regex -> number; never NULL after init/read */
    json_t *extra;             /* unknown keys of a read file (never written); never NULL after init/read */
} sl_nn_peft_config;

/* PEFT's LoraConfig defaults (r 8, lora_alpha 8, dropout 0, bias "none", init true, everything else
 * null/false/empty). Returns SL_ENOMEM on allocation failure. Free with sl_nn_peft_config_free. */
int sl_nn_peft_config_init(sl_nn_peft_config *cfg, sl_err *err);

/* Release everything the config owns (the struct itself is the caller's). */
void sl_nn_peft_config_free(sl_nn_peft_config *cfg);

/* Read `path` (an adapter_config.json) into *cfg (initialised here; free it even on failure). Errors name
 * the file and the key: SL_ENOTFOUND (no file), SL_EDATA (bad JSON, wrong types, r <= 0, dropout out of
 * range, unsupported peft_type or feature). */
int sl_nn_peft_config_read(const char *path, sl_nn_peft_config *cfg, sl_err *err);

/* Write *cfg to `path` atomically with the PEFT 0.13 key set (see above). SL_EUSAGE for an invalid
 * config (r <= 0, both target forms set, ...). */
int sl_nn_peft_config_write(const char *path, const sl_nn_peft_config *cfg, sl_err *err);

/* The serialised text sl_nn_peft_config_write would write (malloc'd; NULL + err on failure). */
char *sl_nn_peft_config_dumps(const sl_nn_peft_config *cfg, sl_err *err);

/* Set list fields (copies the strings; n = 0 with NULL list sets null). */
int sl_nn_peft_config_set_list(char ***field, size_t *n_field, const char *const *items, size_t n,
                               sl_err *err);

/* The LoRA scaling: lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora. */
double sl_nn_peft_config_scaling(const sl_nn_peft_config *cfg);

/* 1 when PEFT would put a LoRA layer on the module `name` (a full dotted module path such as
 * "bert.encoder.layer.0.attention.self.query"): target_modules match (list: exact or "." suffix; regex:
 * POSIX extended full match, which agrees with Python's re for the plain patterns adapters use), not a
 * modules_to_save module, and within layers_to_transform when set. */
int sl_nn_peft_config_targets(const sl_nn_peft_config *cfg, const char *name);

/* The rank and alpha PEFT gives the LoRA layer on module `name` (rank_pattern / alpha_pattern, PEFT 0.13
 * rule: the first key of rank_pattern then alpha_pattern for which re.match(rf".*\.{key}$", name) holds
 * is looked up in both maps, defaulting to r and lora_alpha). Keys are POSIX extended regexes here. */
void sl_nn_peft_config_module_rank(const sl_nn_peft_config *cfg, const char *name, int *r, double *alpha);

#endif
