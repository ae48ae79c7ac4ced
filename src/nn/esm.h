/* The ESM family (ESM-2, Nucleotide Transformer v1 and v2) with a sequence-classification head and LoRA
 * adapters, trained on the CPU: transformers' EsmForSequenceClassification, PEFT LoRA.
 *
 * Math (transformers modeling_esm.py, reference/formats.md §5):
 *   emb = word[id]; token_dropout: rows of <mask> zeroed, every row x (1 - 0.12) / (1 - n_mask / n_tokens);
 *         absolute positions: + pos[cumsum(id != pad) + pad] (pad-aware, ESM-1 / NT v1); rotary: none here;
 *         emb_layer_norm_before: LN; then x *= attention_mask (padding rows zeroed)
 *   per layer (pre-LN): xl = LN_attn(x); q = (Linear_q(xl)) / sqrt(d), k = Linear_k(xl), v = Linear_v(xl);
 *         rotary on q and k (halves, positions 0..T-1); P = softmax(q k^T + mask); ctx = P v;
 *         a = Linear_ao(ctx) + x;  f = LN_ffn(a);
 *         ESM / NT v1: h = Linear_o(gelu_erf(Linear_i(f))) + a
 *         NT v2 (config has add_bias_fnn): Linear_i is [2I, H]; h = Linear_o(silu(u1) * u2) + a, u = [u1|u2]
 *   h_L = emb_layer_norm_after(h_L); head (EsmClassificationHead): z = h_L[:, 0];
 *         logits = out_proj(tanh(dense(z))).
 *   LoRA on a Linear: y = W x + b + B(A(dropout(x))) * scaling, as PEFT.
 * Trainable: the LoRA A/B of the adapted Linears and the whole classifier (PEFT modules_to_save
 * "classifier": dense and out_proj). Dropout of the base model (hidden / attention) is not implemented for
 * training: a training forward with dropout on and a non-zero rate in config.json is refused (ESM-2 and
 * NT checkpoints ship 0.0); LoRA dropout is implemented.
 *
 * Module kinds are the SL_NN_MOD_* of bert.h: ESM's layer tree has the same module paths
 * (attention.self.query ... output.dense) under "esm.encoder.layer.<i>.".
 *
 * Thread-safety: a model is used by one thread at a time; BLAS may use more (sl_nn_set_threads). */
#ifndef SEQLORA_NN_ESM_H
#define SEQLORA_NN_ESM_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "bert_config.h"
#include "util/error.h"

typedef struct sl_nn_esm_config {
    sl_nn_bert_config b; /* sizes, dropouts, eps, pad_token_id, the head (type_vocab unused) */
    int rotary;          /* position_embedding_type "rotary" (else "absolute") */
    int token_dropout;
    int mask_token_id;
    int emb_ln_before; /* emb_layer_norm_before */
    int gated_ffn;     /* NT v2: SwiGLU feed-forward (config.json has add_bias_fnn) */
    int ffn_bias;      /* add_bias_fnn (1 when absent) */
} sl_nn_esm_config;

/* Read an ESM config.json: model_type must be "esm" (or absent with an Esm* architecture);
 * position_embedding_type "absolute" or "rotary" (relative_* is SL_EDATA naming the field); the head as
 * sl_nn_bert_config_load reads it (id2label / num_labels / problem_type). Free with
 * sl_nn_bert_config_free(&cfg->b). */
int sl_nn_esm_config_load(const char *path, sl_nn_esm_config *cfg, sl_err *err);

/* 1 when `config_path` describes an ESM-family model (model_type "esm" or an "Esm..." architecture);
 * 0 otherwise or when it cannot be read. */
int sl_nn_esm_is_esm(const char *config_path);

/* Resolve PEFT target_modules names on the ESM layer tree, as sl_nn_lora_targets does for BERT. A name
 * that would also match the classifier (e.g. "dense", "out_proj", which PEFT would adapt inside the
 * trained classifier) is SL_EUSAGE naming it. */
int sl_nn_esm_lora_targets(const char *const *names, size_t n, unsigned *targets, sl_err *err);

typedef struct sl_nn_esm sl_nn_esm;

/* Load a Hugging Face ESM directory (config.json + model.safetensors / pytorch_model.bin / shards) with
 * the head `head` (NULL = config.json's) and LoRA per `spec`. Tensor names with and without "esm." are
 * accepted; a missing or misshapen tensor is SL_EDATA naming it and the shape expected. A classifier of
 * the right shapes in the checkpoint is used, otherwise drawn as transformers does (normal(0,
 * initializer_range), bias 0; Philox stream (seed, 3)); LoRA A kaiming-uniform from stream (seed, 2), B 0.
 * Capacity max_batch x max_len (max_len capped for absolute positions). `training` = 0: inference only. */
int sl_nn_esm_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                   uint64_t seed, int max_batch, int max_len, int training, sl_nn_esm **out, sl_err *err);

void sl_nn_esm_free(sl_nn_esm *m);

/* bf16 mode, as sl_nn_bert_use_bf16: the frozen encoder Linears (query, key, value, attention output, the
 * intermediate — NT v2's fused [2I, H] SwiGLU one included — and output) multiply in bf16 (gemm_onednn.h:
 * weights rounded once and packed, activations rounded on the fly, fp32 accumulation) in the forward and,
 * for a training model, in the input-gradient GEMMs of the backward; so do the attention products (both
 * operands rounded). Embeddings, rotary, softmax, LayerNorms, LoRA, the classifier, the losses and the
 * optimizer stay fp32. Call after load (and after
 * loading an adapter, which does not touch the frozen weights), before a forward; idempotent. Memory: 2
 * bytes per encoder Linear weight, twice for a training model; freed by sl_nn_esm_free. SL_EUSAGE when bf16
 * is not supported here (sl_nn_bf16_supported: no oneDNN, or a CPU without bf16 dot products), SL_ENOMEM,
 * SL_EINTERNAL when oneDNN refuses to pack a weight; on error the model stays in fp32 mode. */
int sl_nn_esm_use_bf16(sl_nn_esm *m, sl_err *err);

const sl_nn_esm_config *sl_nn_esm_get_config(const sl_nn_esm *m);
const sl_nn_lora_spec *sl_nn_esm_get_spec(const sl_nn_esm *m);
int sl_nn_esm_head_loaded(const sl_nn_esm *m); /* 1 when the classifier came from the checkpoint */
/* All parameters as PEFT counts them: the frozen EsmForSequenceClassification (position embeddings and the
 * contact head included, which transformers always creates) plus the trainable copies. */
size_t sl_nn_esm_n_total(const sl_nn_esm *m);
float *sl_nn_esm_train_params(sl_nn_esm *m);
float *sl_nn_esm_train_grads(sl_nn_esm *m);
size_t sl_nn_esm_n_train(const sl_nn_esm *m);
const sl_nn_param *sl_nn_esm_params(const sl_nn_esm *m, size_t *n);
const float *sl_nn_esm_logits(const sl_nn_esm *m); /* [B, num_labels] of the last forward */
void sl_nn_esm_zero_grad(sl_nn_esm *m);

/* Forward a batch (ids, mask [B, T], mask 1 = token); labels / loss as sl_nn_bert_forward. Ids must be
 * < vocab_size; absolute positions must stay < max_position_embeddings (SL_EDATA otherwise). */
int sl_nn_esm_forward(sl_nn_esm *m, const int32_t *ids, const int32_t *mask, int B, int T,
                      const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err);

/* Backward of the last forward (with labels, training model): adds d(loss_scale * loss)/dθ. */
int sl_nn_esm_backward(sl_nn_esm *m, float loss_scale, sl_err *err);

/* PEFT adapter files: write adapter_config.json + adapter_model.safetensors (PEFT 0.13 key names,
 * base_model.model.esm.encoder.layer.N....lora_A.weight, base_model.model.classifier.dense.weight ...) into
 * the existing directory `dir`; `params` NULL = the current ones. */
int sl_nn_esm_adapter_write(const sl_nn_esm *m, const float *params, const char *dir, const char *base_name,
                            sl_err *err);

/* Set the trainable tensors from `dir`/adapter_model.safetensors (every one present with its shape; a
 * LoRA key the model has no slot for is SL_EDATA). The spec comes from sl_nn_adapter_read_config. */
int sl_nn_esm_adapter_load_weights(sl_nn_esm *m, const char *dir, sl_err *err);

#endif
