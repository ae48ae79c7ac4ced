/* Model families behind one handle: the family is read from config.json (model_type / architectures /
 * auto_map) and every call is routed to the BERT engine (bert.h) or the ESM engine (esm.h). The trainer
 * and predict use this so that `seqlora train` / `predict` take any supported base.
 *
 * Families: BERT (model_type "bert", or none with no other hint: BertFor*, DNABERT, ProtBERT, BioBERT,
 * PubMedBERT), ESM (model_type "esm" or an Esm* architecture: ESM-2, ESM-1b, Nucleotide Transformer v1
 * and v2) and DNABERT-2 (no model_type, auto_map naming bert_layers or alibi_starting_size: MosaicBERT,
 * dnabert2.h). Any other model_type is SL_EDATA naming the field.
 *
 * The semantics of each call are those of the sl_nn_bert_* / sl_nn_adapter_* function of the same name;
 * thread-safety as there (one thread per model). */
#ifndef SEQLORA_NN_MODEL_H
#define SEQLORA_NN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "bert_config.h"
#include "util/error.h"

typedef enum { SL_NN_FAMILY_BERT = 0, SL_NN_FAMILY_ESM = 1, SL_NN_FAMILY_DNABERT2 = 2 } sl_nn_family;

/* The family of the model whose config.json is `config_path`. SL_ENOTFOUND / SL_EDATA (unreadable file,
 * unsupported model_type or architecture, DNABERT-2) with the file and field named. */
int sl_nn_model_family(const char *config_path, sl_nn_family *family, sl_err *err);

/* Read config.json of any supported family into the common part (sizes, max_position, the head). Free
 * with sl_nn_bert_config_free. */
int sl_nn_model_config_load(const char *config_path, sl_nn_bert_config *cfg, sl_err *err);

typedef struct sl_nn_model sl_nn_model;

/* As sl_nn_bert_load / sl_nn_esm_load for the family of `model_dir`. */
int sl_nn_model_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                     uint64_t seed, int max_batch, int max_len, int training, sl_nn_model **out, sl_err *err);
void sl_nn_model_free(sl_nn_model *m);

sl_nn_family sl_nn_model_get_family(const sl_nn_model *m);
/* The BERT engine model behind `m` (for the CUDA backend, which runs that engine's layout), or NULL for
 * the other families. Owned by `m`. */
sl_nn_bert *sl_nn_model_bert(sl_nn_model *m);
/* The ESM / DNABERT-2 engine model behind `m` (for the CUDA backend's description of those layouts), or NULL
 * for the other families. Owned by `m`. */
struct sl_nn_esm *sl_nn_model_esm(sl_nn_model *m);
struct sl_nn_dnabert2 *sl_nn_model_dnabert2(sl_nn_model *m);
const sl_nn_bert_config *sl_nn_model_get_config(const sl_nn_model *m);
const sl_nn_lora_spec *sl_nn_model_get_spec(const sl_nn_model *m);
float *sl_nn_model_train_params(sl_nn_model *m);
float *sl_nn_model_train_grads(sl_nn_model *m);
size_t sl_nn_model_n_train(const sl_nn_model *m);
const sl_nn_param *sl_nn_model_params(const sl_nn_model *m, size_t *n);
const float *sl_nn_model_logits(const sl_nn_model *m);
int sl_nn_model_head_loaded(const sl_nn_model *m);
void sl_nn_model_zero_grad(sl_nn_model *m);
int sl_nn_model_forward(sl_nn_model *m, const int32_t *ids, const int32_t *mask, int B, int T,
                        const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err);
int sl_nn_model_backward(sl_nn_model *m, float loss_scale, sl_err *err);

/* bf16 mode of the CPU engine (sl_nn_bert_use_bf16, sl_nn_esm_use_bf16, sl_nn_dnabert2_use_bf16): the
 * frozen encoder Linears multiply in bf16 with fp32 accumulation. Call after load, before a forward.
 * SL_EUSAGE when bf16 is not supported here (sl_nn_bf16_supported). */
int sl_nn_model_use_bf16(sl_nn_model *m, sl_err *err);

/* PEFT adapter files of the model's family (adapter.h for BERT, sl_nn_esm_adapter_* for ESM). */
int sl_nn_model_adapter_load_weights(sl_nn_model *m, const char *dir, sl_err *err);
int sl_nn_model_adapter_write(const sl_nn_model *m, const float *params, const char *dir,
                              const char *base_name, sl_err *err);
/* PEFT target_modules names -> the bit set of the family of `model_dir` (bert.h SL_NN_MOD_* for BERT and
 * ESM, SL_NN_D2_* for DNABERT-2), with that family's refusals. */
int sl_nn_model_lora_targets(const char *model_dir, const char *const *names, size_t n, unsigned *targets,
                             sl_err *err);
/* adapter_config.json of `adapter_dir` read for the family of `model_dir` (sl_nn_adapter_read_config, or
 * the DNABERT-2 module names). */
int sl_nn_model_adapter_read_config(const char *model_dir, const char *adapter_dir, sl_nn_lora_spec *spec,
                                    sl_err *err);
/* PEFT's print_trainable_parameters() line. */
void sl_nn_model_trainable_line(const sl_nn_model *m, char *buf, size_t len);

#endif
