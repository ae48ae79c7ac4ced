/* Folding LoRA into the base weights: a full Hugging Face checkpoint that transformers loads as a plain
 * BertForSequenceClassification with the logits of PeftModel(base, adapter) — what PEFT's
 * merge_and_unload() + save_pretrained() give:
 *   W' = W + scaling * B A   for every adapted Linear (B [out, r], A [r, in]; scaling = alpha/r, or
 *                            alpha/sqrt(r) with rslora), biases unchanged;
 *   the pooler (when trained) and the classifier come from the adapter.
 * Written tensors are F32 with the canonical transformers names ("bert.embeddings...", "classifier.weight");
 * config.json is the base's with id2label/label2id/problem_type/architectures set for the head. */
#ifndef SEQLORA_NN_MERGE_H
#define SEQLORA_NN_MERGE_H

#include "bert.h"
#include "util/error.h"

/* Write `m` merged into the existing directory `out_dir`: config.json (from `base_dir`/config.json with the
 * head fields replaced), model.safetensors (metadata {"format": "pt"}), and copies of the tokenizer files
 * found in `tokenizer_dir` (vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json).
 * Files are written atomically; on failure some may exist and the caller discards out_dir. The model is
 * not modified. */
int sl_nn_merge_write(const sl_nn_bert *m, const char *base_dir, const char *tokenizer_dir,
                      const char *out_dir, sl_err *err);

/* The same for any family, from the files: the base checkpoint of `base_dir` (model.safetensors,
 * pytorch_model.bin or shards, any float dtype) and `adapter_dir`/adapter_model.safetensors (PEFT key names
 * "base_model.model.<module>.lora_A.weight" ...):
 *   every float base tensor is written as F32 under its name with the model prefix ("esm." for family
 *   "esm", "bert." for "dnabert2" / "bert") added when the checkpoint lacks it; integer buffers and a
 *   masked-LM head (lm_head.*, cls.*) are dropped; an adapted Linear weight becomes W + scaling * B A
 *   (scaling from `spec`: alpha/r, or alpha/sqrt(r) with use_rslora);
 *   every other adapter tensor (modules_to_save: classifier, pooler; trained biases) replaces or adds the
 *   base's tensor of that name.
 * config.json is the base's with the head (`labels`, `problem`) and architectures
 * (EsmForSequenceClassification / BertForSequenceClassification) set; other fields (auto_map, model_type)
 * are kept, so the family is detected as before. What PEFT's merge_and_unload() + save_pretrained() give.
 * Errors (SL_EDATA naming the file and tensor): a LoRA module the base has no weight of, shapes that
 * disagree, LoRA tensors other than Linear A/B (embeddings, DoRA), tensors of more than 2 dimensions. */
int sl_nn_merge_write_files(const char *base_dir, const char *adapter_dir, const sl_nn_lora_spec *spec,
                            const char *family, const char *const *labels, int n_labels,
                            sl_nn_problem problem, const char *tokenizer_dir, const char *out_dir,
                            sl_err *err);

/* The tokenizer file names copied above, NULL-terminated. */
extern const char *const sl_nn_tokenizer_files[];

#endif
