/* A BERT-family encoder with a sequence-classification head and LoRA adapters, trained on the CPU.
 *
 * Layout (llm.c style): the frozen base weights are plain float arrays loaded once; everything trainable
 * (LoRA A/B of every adapted Linear, the classifier, optionally the pooler) lives in ONE arena with a
 * parallel gradient arena, so the optimizer and the checkpoint are flat loops over `n_train` floats.
 * Activations are allocated once for (max_batch, max_len) and reused every step.
 *
 * Math (transformers BertForSequenceClassification, PEFT LoRA):
 *   emb  = dropout(LN(word[id] + pos[t] + type[0]))
 *   per layer: q,k,v = Linear(x)(+LoRA); P = softmax(q k^T / sqrt(d) + mask); ctx = dropout(P) v
 *              h1 = LN(dropout(Linear_ao(ctx)) + x); h2 = LN(dropout(Linear_o(gelu(Linear_i(h1)))) + h1)
 *   pooled = tanh(Linear_pool(h[:,0])); logits = Linear_cls(dropout(pooled))
 *   LoRA on a Linear: y = W x + b + B(A(dropout(x))) * scaling, scaling = alpha/r (alpha/sqrt(r) rslora).
 * Padding keys get probability exactly 0 (transformers adds the dtype minimum, whose exp is 0).
 *
 * Dropout masks come from Philox (util/rng.h) keyed by (seed, micro-batch number, layer, tensor), so they
 * do not depend on the thread count and are the same after a resume.
 *
 * Thread-safety: a model is used by one thread at a time; BLAS may use more (sl_nn_set_threads). */
#ifndef SEQLORA_NN_BERT_H
#define SEQLORA_NN_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "bert_config.h"
#include "parallel.h"
#include "util/error.h"

/* The Linear modules of an encoder layer LoRA can adapt, in PEFT module-path order. */
enum {
    SL_NN_MOD_QUERY = 0, /* attention.self.query */
    SL_NN_MOD_KEY,       /* attention.self.key */
    SL_NN_MOD_VALUE,     /* attention.self.value */
    SL_NN_MOD_ATTN_OUT,  /* attention.output.dense */
    SL_NN_MOD_INTER,     /* intermediate.dense */
    SL_NN_MOD_OUTPUT,    /* output.dense */
    SL_NN_NMOD
};

/* The module path below "bert.encoder.layer.<i>." of module kind `m`. */
const char *sl_nn_module_path(int m);

typedef struct sl_nn_lora_spec {
    int r;                  /* rank (> 0) */
    float alpha;            /* lora_alpha */
    float dropout;          /* lora_dropout on the LoRA branch input */
    int use_rslora;         /* scaling alpha/sqrt(r) instead of alpha/r */
    unsigned targets;       /* bit m set = module kind m adapted in every layer */
    int train_pooler;       /* pooler in modules_to_save */
    char target_names[512]; /* the target_modules as given, comma-separated (written back to the adapter),
                               or PEFT's regex-string form when target_regex is set */
    int target_regex;
} sl_nn_lora_spec;

/* Resolve PEFT `target_modules` names (list semantics: a module matches when its full name equals the
 * target or ends with "." + target) into a bit set over SL_NN_MOD_*. A target matching nothing, or one that
 * would also match bert.pooler.dense (e.g. "dense"), is SL_EUSAGE. */
int sl_nn_lora_targets(const char *const *names, size_t n, unsigned *targets, sl_err *err);

/* One trainable tensor: a view into the trainable arena. */
typedef struct sl_nn_param {
    char name[160]; /* the PEFT file key, e.g.
                       base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight */
    int ndim;
    int64_t shape[2];
    size_t offset, numel;
} sl_nn_param;

typedef struct sl_nn_layer_w {
    float *w[SL_NN_NMOD], *b[SL_NN_NMOD];           /* base Linear weights [out,in] and biases [out] */
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;           /* attention.output.LayerNorm, output.LayerNorm */
    float *lora_a[SL_NN_NMOD], *lora_b[SL_NN_NMOD]; /* into the trainable arena, NULL when not adapted */
    float *glora_a[SL_NN_NMOD], *glora_b[SL_NN_NMOD];
} sl_nn_layer_w;

typedef struct sl_nn_bert sl_nn_bert;

/* Load a Hugging Face model directory (config.json + model.safetensors) with the head described by
 * `head` (num_labels, label names, problem type; NULL = the one of config.json), and set up LoRA per
 * `spec`. Tensor names with and without the "bert." prefix and the old gamma/beta LayerNorm names are
 * accepted. A classifier of the right shape in the checkpoint is used; otherwise a new one is drawn as
 * transformers does (normal(0, initializer_range), bias 0) from Philox stream (seed, 3). LoRA A is
 * kaiming-uniform(a=sqrt(5)) from stream (seed, 2), B is zero. A missing pooler is drawn the same way and
 * then trained (it must travel with the adapter). Capacity: batches up to max_batch x max_len tokens.
 * `training` = 0 allocates activations for inference only. */
int sl_nn_bert_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                    uint64_t seed, int max_batch, int max_len, int training, sl_nn_bert **out, sl_err *err);

void sl_nn_bert_free(sl_nn_bert *m);

/* Accessors. */
const sl_nn_bert_config *sl_nn_bert_get_config(const sl_nn_bert *m);
const sl_nn_lora_spec *sl_nn_bert_get_spec(const sl_nn_bert *m);
float *sl_nn_bert_train_params(sl_nn_bert *m);  /* the trainable arena */
float *sl_nn_bert_train_grads(sl_nn_bert *m);   /* its gradients (accumulated by backward) */
size_t sl_nn_bert_n_train(const sl_nn_bert *m); /* floats in the arena */
size_t sl_nn_bert_n_total(const sl_nn_bert *m); /* all parameters (base + LoRA + head) as PEFT counts */
const sl_nn_param *sl_nn_bert_params(const sl_nn_bert *m, size_t *n);
const float *sl_nn_bert_logits(const sl_nn_bert *m); /* [B, num_labels] of the last forward */
int sl_nn_bert_pooler_trained(const sl_nn_bert *m);
int sl_nn_bert_head_loaded(const sl_nn_bert *m); /* 1 when the classifier came from the checkpoint */

/* Dropout for one forward pass: off when NULL. */
typedef struct sl_nn_dropout {
    uint64_t seed;  /* the run seed */
    uint64_t micro; /* a unique number for this micro-batch (e.g. the global micro-batch counter) */
} sl_nn_dropout;

/* Forward a batch: ids and mask [B, T] row-major (mask 1 = token, 0 = padding). With `labels` (single
 * label: B class indices as floats; multi-label / regression: [B, num_labels]) the mean loss goes to
 * *loss. B <= max_batch, T <= max_len and <= max_position_embeddings; ids must be < vocab_size. */
int sl_nn_bert_forward(sl_nn_bert *m, const int32_t *ids, const int32_t *mask, int B, int T,
                       const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err);

/* Backward of the last forward (which must have had labels, on a model loaded with training = 1):
 * adds d(loss_scale * loss)/dθ to the trainable gradients. */
int sl_nn_bert_backward(sl_nn_bert *m, float loss_scale, sl_err *err);

/* Zero the trainable gradients (and the base-weight gradients in full-weight mode). */
void sl_nn_bert_zero_grad(sl_nn_bert *m);

/* ---- full-weight mode (pretraining) ----------------------------------------------------------
 * Every base weight (embeddings, encoder Linears and LayerNorms) gets a gradient too. The LoRA path is
 * unchanged when this is never called. */

/* Allocate the base-weight gradients (zeroed) and the named views; idempotent. SL_ENOMEM; SL_EINTERNAL
 * on a model loaded with training = 0. */
int sl_nn_bert_enable_full_grad(sl_nn_bert *m, sl_err *err); /* SL_EUSAGE in bf16 mode */

/* ---- bf16 mode ---------------------------------------------------------------------------------
 * The frozen encoder Linears (query, key, value, attention output, intermediate, output) multiply in bf16
 * (nn/gemm_onednn.h: weights rounded once and packed, activations rounded on the fly, fp32 accumulation), in
 * the forward and, for a training model, in the input-gradient GEMMs of the backward; so do the attention
 * products (QK^T, PV and their gradients: both operands rounded). Embeddings, LoRA, softmax, masks,
 * dropout, LayerNorm, pooler, classifier, losses and the optimizer stay fp32. */

/* Switch to bf16 mode; call after load, before a forward. Memory: 2 bytes per encoder Linear weight, twice
 * for a training model. SL_EUSAGE when bf16 is not supported here (no oneDNN, or a CPU without bf16 dot
 * products) or in full-weight mode (the base weights change); SL_ENOMEM; SL_EINTERNAL. */
int sl_nn_bert_use_bf16(sl_nn_bert *m, sl_err *err);

/* 1 in bf16 mode. */
int sl_nn_bert_is_bf16(const sl_nn_bert *m);

/* The base weights as named tensors: BertModel names with the "bert." prefix
 * ("bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight", ...,
 * a pooler held in the base last as "bert.pooler.dense.*"); offsets index sl_nn_bert_base_params and
 * sl_nn_bert_base_grads (NULL until sl_nn_bert_enable_full_grad). */
const sl_nn_param *sl_nn_bert_base_tensors(const sl_nn_bert *m, size_t *n);
float *sl_nn_bert_base_params(sl_nn_bert *m);
float *sl_nn_bert_base_grads(sl_nn_bert *m);
size_t sl_nn_bert_n_base(const sl_nn_bert *m);

/* The last forward's final hidden states [B, T, H] (valid until the next forward). */
const float *sl_nn_bert_last_hidden(const sl_nn_bert *m);

/* Backward of the last forward from dL/d(last hidden state) `dh` [B, T, H] (read, not kept), for a head
 * other than the classifier (e.g. the MLM head, mlm.h): adds the gradients of the LoRA matrices and, in
 * full-weight mode, of every base weight; the classifier and pooler get none. The forward may have been
 * run without labels. */
int sl_nn_bert_backward_hidden(sl_nn_bert *m, const float *dh, sl_err *err);

/* The thread count: sl_nn_set_threads in parallel.h (results do not depend on it). */

#endif
