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

/* The tokenizer file names copied above, NULL-terminated. */
extern const char *const sl_nn_tokenizer_files[];

#endif
