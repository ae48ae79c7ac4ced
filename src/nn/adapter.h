/* PEFT LoRA adapters on disk: `adapter_config.json` + `adapter_model.safetensors`, with the key names and
 * the config key set PEFT 0.13 writes (reference/formats.md §6.3-6.6), so that
 * PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(base), dir) loads what
 * seqlora writes, and seqlora loads what PEFT writes. */
#ifndef SEQLORA_NN_ADAPTER_H
#define SEQLORA_NN_ADAPTER_H

#include "bert.h"
#include "util/error.h"

/* Read `dir`/adapter_config.json (peft_config.h) into a LoRA spec: r, lora_alpha, lora_dropout, use_rslora,
 * target_modules (a list or PEFT's regex string, resolved with PEFT's matching rule on the BERT module
 * paths), "pooler" in modules_to_save. Settings seqlora cannot honour (bias other than "none",
 * fan_in_fan_out, use_dora, layers_to_transform, rank/alpha patterns, a target on bert.pooler.dense, a
 * peft_type other than LORA) are SL_EDATA naming the key. */
int sl_nn_adapter_read_config(const char *dir, sl_nn_lora_spec *spec, sl_err *err);

/* Set the model's trainable tensors (LoRA A/B, classifier, pooler when trained) from
 * `dir`/adapter_model.safetensors. Every trainable tensor must be present with its shape; a LoRA key the
 * model has no slot for is SL_EDATA (the adapter and the model disagree). */
int sl_nn_adapter_load_weights(sl_nn_bert *m, const char *dir, sl_err *err);

/* Write the adapter of `m` into the existing directory `dir`, taking the trainable values from `params`
 * (n_train floats in the arena layout; NULL = the model's current ones). `base_name` goes to
 * base_model_name_or_path (may be NULL). Both files are written atomically. */
int sl_nn_adapter_write(const sl_nn_bert *m, const float *params, const char *dir, const char *base_name,
                        sl_err *err);

/* The number of classes of the sequence-classification head saved in `dir`/adapter_model.safetensors, for
 * an adapter without seqlora_head.json (a PEFT-made one): the length of base_model.model.classifier.bias
 * (BERT, DNABERT-2) or base_model.model.classifier.out_proj.bias (ESM's EsmClassificationHead). SL_EDATA
 * naming the file when it has neither. */
int sl_nn_adapter_num_labels(const char *dir, int *n, sl_err *err);

#endif
