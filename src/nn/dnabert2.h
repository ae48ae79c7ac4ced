/* DNABERT-2 (zhihan1996/DNABERT-2-117M, MosaicBERT remote code `bert_layers.py`) with its
 * BertForSequenceClassification head and LoRA adapters, trained on the CPU.
 *
 * Math (reference/formats.md §4.2):
 *   emb = dropout(LN(word[id] + type[0]))  (no position embeddings)
 *   per layer (post-LN): qkv = Wqkv x  [N, 3H]: rows [0,H) q, [H,2H) k, [2H,3H) v, heads (h, d) inside;
 *        P = softmax(q k^T / sqrt(d) + alibi + mask); ctx = P v;  alibi[h,i,j] = -slope_h |i - j|,
 *        slopes: n a power of 2: start = 2^(-2^-(log2 n - 3)), slope_h = start^(h+1); otherwise those of
 *        the largest power of 2 c below n, then every other slope of 2c; mask: (1 - m) * -10000;
 *        h1 = LN(dropout(dense(ctx)) + x);  u = gated_layers(h1) [N, 2I] (no bias);
 *        h2 = LN(wo(dropout(gelu_erf(u[:, :I]) * u[:, I:])) + h1)
 *   pooled = tanh(pooler(h[:, 0])); logits = classifier(dropout(pooled)).
 * LoRA module kinds (PEFT target names): Wqkv, attention.output.dense, gated_layers, wo, under
 * "bert.encoder.layer.<i>.". A checkpoint without a pooler (the published one has none) gets one drawn and
 * trained, as the BERT engine does. Hidden dropout is implemented for training; attention dropout (0.0 in
 * DNABERT-2) is refused when non-zero.
 *
 * Thread-safety: one thread per model; BLAS may use more. */
#ifndef SEQLORA_NN_DNABERT2_H
#define SEQLORA_NN_DNABERT2_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "bert_config.h"
#include "util/error.h"

enum { SL_NN_D2_WQKV = 0, SL_NN_D2_AO, SL_NN_D2_GATED, SL_NN_D2_WO, SL_NN_D2_NMOD };

/* Module path of kind m below "bert.encoder.layer.<i>.". */
const char *sl_nn_dnabert2_module_path(int m);

/* 1 when the config.json at `path` is a DNABERT-2 / MosaicBERT one (auto_map naming bert_layers, or
 * alibi_starting_size present without a model_type). */
int sl_nn_dnabert2_is(const char *config_path);

/* Read a DNABERT-2 config.json (sizes, dropouts, eps, head as sl_nn_bert_config_load). max_position is set
 * to 65536 (ALiBi has no position table). */
int sl_nn_dnabert2_config_load(const char *path, sl_nn_bert_config *cfg, sl_err *err);

/* PEFT target_modules names -> bit set over SL_NN_D2_*; one that matches nothing or would adapt
 * bert.pooler.dense (e.g. "dense") is SL_EUSAGE. */
int sl_nn_dnabert2_lora_targets(const char *const *names, size_t n, unsigned *targets, sl_err *err);

/* Read `dir`/adapter_config.json into a spec for this family (the checks of sl_nn_adapter_read_config). */
int sl_nn_dnabert2_adapter_read_config(const char *dir, sl_nn_lora_spec *spec, sl_err *err);

typedef struct sl_nn_dnabert2 sl_nn_dnabert2;

/* As sl_nn_bert_load; spec->targets is a set over SL_NN_D2_*. Tensor names with and without "bert.". */
int sl_nn_dnabert2_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                        uint64_t seed, int max_batch, int max_len, int training, sl_nn_dnabert2 **out,
                        sl_err *err);
void sl_nn_dnabert2_free(sl_nn_dnabert2 *m);

/* bf16 mode, as sl_nn_bert_use_bf16: the frozen encoder Linears (the fused Wqkv [3H, H], attention.output.
 * dense, mlp.gated_layers [2I, H] and mlp.wo) multiply in bf16 (gemm_onednn.h: weights rounded once and
 * packed, activations rounded on the fly, fp32 accumulation) in the forward and, for a training model, in
 * the input-gradient GEMMs of the backward; so do the attention products (both operands rounded; the ALiBi
 * bias and softmax stay fp32). Embeddings, GeGLU, LayerNorms, LoRA, pooler, classifier, losses and the
 * optimizer stay fp32. Call after load (and after loading an adapter), before a
 * forward; idempotent. Memory: 2 bytes per encoder Linear weight, twice for a training model; freed by
 * sl_nn_dnabert2_free. SL_EUSAGE when bf16 is not supported here (sl_nn_bf16_supported), SL_ENOMEM,
 * SL_EINTERNAL when oneDNN refuses to pack a weight; on error the model stays in fp32 mode. */
int sl_nn_dnabert2_use_bf16(sl_nn_dnabert2 *m, sl_err *err);

const sl_nn_bert_config *sl_nn_dnabert2_get_config(const sl_nn_dnabert2 *m);
const sl_nn_lora_spec *sl_nn_dnabert2_get_spec(const sl_nn_dnabert2 *m);
float *sl_nn_dnabert2_train_params(sl_nn_dnabert2 *m);
float *sl_nn_dnabert2_train_grads(sl_nn_dnabert2 *m);
size_t sl_nn_dnabert2_n_train(const sl_nn_dnabert2 *m);
size_t sl_nn_dnabert2_n_total(const sl_nn_dnabert2 *m);
const sl_nn_param *sl_nn_dnabert2_params(const sl_nn_dnabert2 *m, size_t *n);
const float *sl_nn_dnabert2_logits(const sl_nn_dnabert2 *m);
int sl_nn_dnabert2_head_loaded(const sl_nn_dnabert2 *m);
void sl_nn_dnabert2_zero_grad(sl_nn_dnabert2 *m);

/* As sl_nn_bert_forward / sl_nn_bert_backward. */
int sl_nn_dnabert2_forward(sl_nn_dnabert2 *m, const int32_t *ids, const int32_t *mask, int B, int T,
                           const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err);
int sl_nn_dnabert2_backward(sl_nn_dnabert2 *m, float loss_scale, sl_err *err);

/* PEFT adapter files (keys base_model.model.bert.encoder.layer.N.attention.self.Wqkv.lora_A.weight, ...,
 * base_model.model.classifier.weight, base_model.model.bert.pooler.dense.* when the pooler is trained). */
int sl_nn_dnabert2_adapter_write(const sl_nn_dnabert2 *m, const float *params, const char *dir,
                                 const char *base_name, sl_err *err);
int sl_nn_dnabert2_adapter_load_weights(sl_nn_dnabert2 *m, const char *dir, sl_err *err);

#endif
