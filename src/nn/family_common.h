/* Helpers shared by the model families (bert.c, esm.c, dnabert2.c): the load prologue, the checkpoint-tensor
 * reader with each family's name mapping, the base-weight and trainable arenas laid out from lists of named
 * tensors, the activation arena, the head draws transformers' initialisers are matched with, PEFT's
 * target-name rule and the PEFT adapter files (one reader/writer, each family's module names as data). Each
 * family keeps its own layout, names and layer math; these are the parts that are the same. Internal to
 * src/nn.
 *
 * Ownership: a table owns its arrays until sl_nn_tensor_table_free; a model takes over `params` by copying
 * the pointer and setting it to NULL in the table. Thread-safety: none needed (one thread loads one model).
 */
#ifndef SEQLORA_NN_FAMILY_COMMON_H
#define SEQLORA_NN_FAMILY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "safetensors.h"
#include "util/error.h"
#include "util/rng.h"

/* ---- load prologue (family_load.c) ----------------------------------------------------------------- */

/* The argument checks every family's load makes: r 1..4096, alpha > 0, dropout in [0, 1) (SL_EUSAGE "LoRA:
 * ..."), max_batch >= 1 and max_len >= 2 (SL_EUSAGE). */
int sl_nn_family_check_args(const sl_nn_lora_spec *spec, int max_batch, int max_len, sl_err *err);

/* PEFT's LoRA scaling: alpha / r, or alpha / sqrt(r) with use_rslora. */
float sl_nn_lora_scaling(const sl_nn_lora_spec *spec);

/* Replace the head of `cfg` (num_labels, label names, problem type) by that of `head`; nothing when `head` is
 * NULL. Errors as sl_nn_bert_config_set_head. */
int sl_nn_family_set_head(sl_nn_bert_config *cfg, const sl_nn_bert_config *head, sl_err *err);

/* Format a tensor name into dst[cap] (family_arena.c). A name that does not fit is SL_EINTERNAL naming its
 * start: names are built by seqlora from fixed parts and layer numbers, so this guards an invariant. */
int sl_nn_tensor_name(char *dst, size_t cap, sl_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- checkpoint tensors (family_load.c) ------------------------------------------------------------ */

/* A checkpoint seen with a family's naming: an encoder tensor `name` ("embeddings.word_embeddings.weight")
 * is found as prefix + name ("bert.", "esm.") or as name; with legacy_ln (BERT) a LayerNorm ".weight" /
 * ".bias" is also found under the old ".gamma" / ".beta" names. */
typedef struct sl_nn_ckpt {
    const sl_nn_st_file *st;
    const char *prefix;
    int legacy_ln;
} sl_nn_ckpt;

/* 1 when the checkpoint has `name` (prefixed or not; legacy names not consulted). */
int sl_nn_ckpt_has(const sl_nn_ckpt *ck, const char *name);

/* Read `name` as float32 of shape [d0] (d1 == 0) or [d0, d1] into dst. A missing tensor is SL_EDATA naming
 * it (with legacy_ln: "no tensor NAME (nor PREFIXNAME)"; otherwise "no tensor PREFIXNAME (expected shape
 * [d0, d1])"); a misshapen one is SL_EDATA from sl_nn_st_read_f32_shape, which names it and both shapes. */
int sl_nn_ckpt_read(const sl_nn_ckpt *ck, const char *name, int64_t d0, int64_t d1, float *dst, sl_err *err);

/* ---- tables of named tensors: the base and the trainable arenas (family_arena.c) ------------------- */

/* What a table entry is and how its memory is filled. */
enum {
    SL_NN_BASE_READ = 0, /* base: read from the checkpoint */
    SL_NN_BASE_KEEP,     /* base: space only, the family fills it (e.g. the pooler, read with the head) */
    SL_NN_BASE_ABSENT,   /* base: space only, the checkpoint must not have it (its address set to NULL) */
    SL_NN_TRAIN_ZERO,    /* trainable, starts at 0 */
    SL_NN_TRAIN_LORA_A,  /* trainable, a LoRA A matrix drawn by sl_nn_param_table_finish */
};

/* Named tensors laid out one after another in one float allocation, in the order they are added: the frozen
 * base (names carry the checkpoint's prefix, ck->prefix + name) or the trainable arena with its parallel
 * gradient arena (the optimizer state and the checkpoints follow this order). Zero-initialise; set `ck` (and
 * `absent_why`) before the first add to a base table; a trainable table has ck == NULL. */
typedef struct sl_nn_tensor_table {
    const sl_nn_ckpt *ck;   /* base: the checkpoint */
    const char *absent_why; /* base: why an ABSENT tensor must not be there ("config.json says ...") */
    sl_nn_param *params;    /* the tensors: names, shapes, offsets into the allocation */
    struct sl_nn_tensor_slot {
        float **val,
            **grad; /* where the tensor's address / its gradient's goes (grad: trainable, may be NULL) */
        int kind;   /* SL_NN_BASE_* / SL_NN_TRAIN_* */
    } * slots;
    size_t n, cap;
    size_t n_floats; /* floats so far */
} sl_nn_tensor_table;

/* Free the table's arrays (params too when not taken over: a model takes them by copying the pointer and
 * setting it to NULL here). */
void sl_nn_tensor_table_free(sl_nn_tensor_table *t);

/* Base: append tensor (ck->prefix + the formatted name) of shape [d0] (d1 == 0) or [d0, d1], `kind` one of
 * SL_NN_BASE_*, whose address goes to *slot. SL_ENOMEM ("out of memory for the base weights"), or
 * SL_EINTERNAL for a name over 159 bytes. */
int sl_nn_base_add(sl_nn_tensor_table *t, float **slot, int kind, int64_t d0, int64_t d1, sl_err *err,
                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Base: append "<name>.weight" of shape [d0, d1] ([d0] when d1 == 0) and "<name>.bias" [d0], both `kind`: a
 * Linear [out, in] + [out] or a LayerNorm [H] + [H]. Errors as sl_nn_base_add. */
int sl_nn_base_add_wb(sl_nn_tensor_table *t, float **w, float **b, int kind, int64_t d0, int64_t d1,
                      sl_err *err, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* Base: BertEmbeddings (BERT, DNABERT-2): word_embeddings [V, H], position_embeddings [P, H] (none when `pos`
 * is NULL: ALiBi), token_type_embeddings [TV, H], LayerNorm [H] + [H], all read. Errors as sl_nn_base_add. */
int sl_nn_base_add_bert_embeddings(sl_nn_tensor_table *t, const sl_nn_bert_config *c, float **word,
                                   float **pos, float **type, float **ln_w, float **ln_b, sl_err *err);

/* Base: finish the table. With rc == 0, allocate *mem (malloc, t->n_floats floats; the caller frees it),
 * point every slot into it and read the READ tensors from t->ck in table order (sl_nn_ckpt_read: the first
 * missing or misshapen one is the error; an ABSENT tensor the checkpoint has is SL_EDATA "FILE: tensor NAME
 * present but <absent_why>"). Always: *n_floats = t->n_floats, the tensors go to *params / *n_params when
 * params is not NULL (named views of the allocation, the caller frees them), and the table is freed.
 * Returns rc when non-zero (an error of the caller's adds), else the load's result. */
int sl_nn_base_table_finish(sl_nn_tensor_table *t, int rc, float **mem, size_t *n_floats,
                            sl_nn_param **params, size_t *n_params, sl_err *err);

/* Trainable: append tensor `name` of shape [d0] (d1 == 0) or [d0, d1], starting at 0; its addresses go to
 * *val and *grad (either may be NULL). SL_ENOMEM ("out of memory for the trainable parameters");
 * SL_EINTERNAL for a name over 159 bytes. */
int sl_nn_param_table_add(sl_nn_tensor_table *t, const char *name, int64_t d0, int64_t d1, float **val,
                          float **grad, sl_err *err);

/* Where a family keeps its per-layer LoRA pointers: layer 0's arrays lora_a[], lora_b[], glora_a[], glora_b[]
 * (indexed by module kind) and the size of one layer struct. SL_NN_LORA_SLOTS(m->layer) fills it for any
 * layer struct with those four arrays. */
typedef struct sl_nn_lora_slots {
    float **a, **b, **ga, **gb;
    size_t stride;
} sl_nn_lora_slots;
#define SL_NN_LORA_SLOTS(layers)                                                                             \
    ((sl_nn_lora_slots){(layers)[0].lora_a, (layers)[0].lora_b, (layers)[0].glora_a, (layers)[0].glora_b,    \
                        sizeof(layers)[0]})

/* Append the LoRA matrices PEFT names "<prefix>.<l>.<paths[k]>.lora_A.weight" [r, in[k]] and ".lora_B.weight"
 * [out[k], r] for every layer l < layers and every module kind k < n_kinds set in spec->targets: layer by
 * layer, kind by kind, A before B (PEFT's key order). Errors as sl_nn_param_table_add. */
int sl_nn_param_table_add_lora(sl_nn_tensor_table *t, const char *prefix, int layers,
                               const char *const *paths, int n_kinds, const int *in, const int *out,
                               const sl_nn_lora_spec *spec, sl_nn_lora_slots slots, sl_err *err);

/* The trainable head of BertForSequenceClassification in a model struct (BERT, DNABERT-2): where the pooler's
 * and the classifier's values and gradients go. SL_NN_BERT_HEAD_SLOTS(m) fills it from the fields pool_w,
 * pool_b, cls_w, cls_b, gpool_w, gpool_b, gcls_w, gcls_b. */
typedef struct sl_nn_bert_head_slots {
    float **pool_w, **pool_b, **cls_w, **cls_b, **gpool_w, **gpool_b, **gcls_w, **gcls_b;
} sl_nn_bert_head_slots;
#define SL_NN_BERT_HEAD_SLOTS(m)                                                                             \
    ((sl_nn_bert_head_slots){&(m)->pool_w, &(m)->pool_b, &(m)->cls_w, &(m)->cls_b, &(m)->gpool_w,            \
                             &(m)->gpool_b, &(m)->gcls_w, &(m)->gcls_b})

/* Hand the trainable table to the model: *params / *n_params (the tensors) and *n_train take them over,
 * also on failure, and the table is freed. Then allocate the arena *tparams and the gradient arena *tgrads
 * (zeroed; the model frees them), point every slot into them and draw each LoRA A as PEFT does
 * (kaiming-uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in))) from Philox stream (seed, 2), in table order;
 * LoRA B and the rest stay 0. SL_ENOMEM, or `rc` when non-zero (an error of the caller's adds: the table is
 * only handed over). */
int sl_nn_param_table_finish(sl_nn_tensor_table *t, int rc, uint64_t seed, sl_nn_param **params,
                             size_t *n_params, size_t *n_train, float **tparams, float **tgrads, sl_err *err);

/* Where a BertForSequenceClassification-style model (BERT, DNABERT-2) keeps its trainable arena: the LoRA
 * and head slots and the fields the table is handed to. SL_NN_BERT_CLS_ARENA(m) fills it from the fields
 * layer, pool_w ... gcls_b, params, n_params, n_train, tparams, tgrads. */
typedef struct sl_nn_bert_cls_arena {
    sl_nn_lora_slots lora;
    sl_nn_bert_head_slots head;
    sl_nn_param **params;
    size_t *n_params, *n_train;
    float **tparams, **tgrads;
} sl_nn_bert_cls_arena;
#define SL_NN_BERT_CLS_ARENA(m)                                                                              \
    ((sl_nn_bert_cls_arena){SL_NN_LORA_SLOTS((m)->layer), SL_NN_BERT_HEAD_SLOTS(m), &(m)->params,            \
                            &(m)->n_params, &(m)->n_train, &(m)->tparams, &(m)->tgrads})

/* The trainable arena of BertForSequenceClassification, in PEFT's key order: the LoRA matrices of the module
 * kinds `paths` (widths in/out) under "base_model.model.bert.encoder.layer", then the pooler
 * ("base_model.model.bert.pooler.dense.weight" [H, H], ".bias" [H]) when spec->train_pooler, then
 * "base_model.model.classifier.weight" [C, H] and ".bias" [C]; handed to the model and drawn as
 * sl_nn_param_table_finish does. */
int sl_nn_bert_cls_trainable(const sl_nn_bert_config *c, const sl_nn_lora_spec *spec,
                             const char *const *paths, int n_kinds, const int *in, const int *out,
                             uint64_t seed, sl_nn_bert_cls_arena a, sl_err *err);

/* ---- heads (family_load.c) ------------------------------------------------------------------------- */

/* A standard normal draw (Box-Muller on two Philox uniforms). */
float sl_nn_rng_normal(sl_rng *r);

/* x[0..n) = normal(0, std) draws of `r` (transformers' _init_weights for a Linear weight). */
void sl_nn_draw_normal(float *x, size_t n, float std, sl_rng *r);

/* The pooler and classifier of BertForSequenceClassification (BERT, DNABERT-2): the pooler [H, H] + [H] is
 * read from the checkpoint unless `pooler_missing`, else drawn (normal(0, init_range), bias 0) from Philox
 * stream (seed, 3); then the classifier is read when "classifier.weight" [C, H] and "classifier.bias" [C]
 * are both there with those shapes (*loaded = 1), else drawn from the same stream after the pooler. Values go
 * where *s.pool_w ... *s.cls_b point (zeroed memory). Errors as sl_nn_ckpt_read. */
int sl_nn_bert_head_load(const sl_nn_ckpt *ck, int64_t H, int64_t C, float init_range, uint64_t seed,
                         int pooler_missing, sl_nn_bert_head_slots s, int *loaded, sl_err *err);

/* ---- activations (family_arena.c) ------------------------------------------------------------------ */

/* A bump allocator over one float allocation: a layout function takes its buffers in order, once with
 * base == NULL to measure and once to place them (the same calls both times). */
typedef struct sl_nn_bump {
    float *base;
    size_t n; /* floats taken so far */
} sl_nn_bump;

/* n floats (NULL while measuring). */
float *sl_nn_bump_take(sl_nn_bump *b, size_t n);
/* `words` 64-bit words, 8-byte aligned (the allocation is, and the offset is made even). */
uint64_t *sl_nn_bump_bits(sl_nn_bump *b, size_t words);

/* Measure `layout`, allocate *mem (the caller frees it) and place the layout in it. The layout writes into
 * arrays of the caller's (per-layer structs): `others_ok` = 0 says one of them could not be allocated, which
 * is SL_ENOMEM "out of memory for activations (batch B x length T)" without measuring; *mem not allocated is
 * "out of memory for activations (X GiB for batch B x length T)". */
int sl_nn_bump_alloc(void (*layout)(void *model, sl_nn_bump *b), void *model, float **mem, int others_ok,
                     int max_batch, int max_len, sl_err *err);

/* ---- PEFT (family_common.c) ------------------------------------------------------------------------ */

/* PEFT's list rule: `name` equals `target` or ends with "." + target. */
int sl_nn_target_suffix_match(const char *name, const char *target);

/* A family's PEFT module names, as data: its layers are "<layer_prefix>.<l>.<paths[k]>" for the module kinds
 * k < n_kinds (the bits of sl_nn_lora_spec.targets); `family` names it in messages ("BERT"); `null_targets`
 * is the reason given when adapter_config.json has target_modules null. `frozen` (NULL-terminated) are the
 * module names outside the layers a target name must not reach, described by `frozen_what`
 * ("bert.pooler.dense, which seqlora does not do"); `suggest` and `expected` list the names to use in
 * messages. */
typedef struct sl_nn_adapter_layout {
    const char *layer_prefix;
    const char *const *paths;
    int n_kinds;
    const char *family;
    const char *null_targets;
    const char *const *frozen;
    const char *frozen_what;
    const char *suggest;
    const char *expected;
} sl_nn_adapter_layout;

/* The paths of BERT's (and ESM's) six Linear kinds inside a layer, by SL_NN_MOD_* (bert.c). */
extern const char *const sl_nn_module_paths[SL_NN_NMOD];

/* Each family's layout: BERT (bert.c), ESM (esm.c), DNABERT-2 (dnabert2.c). */
extern const sl_nn_adapter_layout sl_nn_bert_layout, sl_nn_esm_layout, sl_nn_d2_layout;

/* The module kinds of the family `lay` that the LoRA target names names[0..n) adapt, by PEFT's list rule
 * (sl_nn_target_suffix_match on layer 0's module paths), into *targets. SL_EUSAGE for no names, an empty
 * name, a name that would also reach a module of lay->frozen, or one that matches no module of the family. */
int sl_nn_family_lora_targets(const sl_nn_adapter_layout *lay, const char *const *names, size_t n,
                              unsigned *targets, sl_err *err);

/* Read `dir`/adapter_config.json (peft_config.h) into *spec (zeroed first) for the family `lay`: r,
 * lora_alpha, lora_dropout, use_rslora, the target names (a list or PEFT's regex string, kept as written) and
 * the module kinds they adapt, decided with PEFT's own matching rule on layers 0 and 1 of the module paths,
 * and "pooler" / "bert.pooler" in modules_to_save (train_pooler). SL_EDATA "PATH: KEY: why" for what seqlora
 * cannot honour: bias other than "none", fan_in_fan_out, layers_to_transform, rank/alpha patterns, null
 * target_modules, a target on a module of lay->frozen, targets that differ between layers or match no module
 * of the family; peft_type other than LORA and malformed files as sl_nn_peft_config_read. */
int sl_nn_family_adapter_read_config(const char *dir, const sl_nn_adapter_layout *lay, sl_nn_lora_spec *spec,
                                     sl_err *err);

/* Write `dir`/adapter_model.safetensors (the n tensors of `params`, values from `values`) and
 * `dir`/adapter_config.json (SEQ_CLS, the spec's r/alpha/dropout/rslora, its target names or, when none
 * were kept, the paths of module_paths[i] for the set bits of spec->targets; modules_to_save as given). */
int sl_nn_family_adapter_write(const sl_nn_param *params, size_t n, const float *values,
                               const sl_nn_lora_spec *spec, const char *const *module_paths, int n_modules,
                               const char *const *modules_to_save, size_t n_modules_to_save, const char *dir,
                               const char *base_name, sl_err *err);

/* Read every tensor of `params` from `dir`/adapter_model.safetensors into `values` (shape-checked). A tensor
 * of `params` missing from the file, or a tensor of the file with no counterpart in `params`, is SL_EDATA
 * naming the file and the tensor (the adapter and the model differ in LoRA targets, rank or head). */
int sl_nn_family_adapter_load(const sl_nn_param *params, size_t n, float *values, const char *dir,
                              sl_err *err);

#endif
