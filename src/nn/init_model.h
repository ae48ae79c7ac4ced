/* A randomly initialised BERT base model for k-mer DNA, written as a Hugging Face model directory.
 *
 * What `transformers.BertModel(config)` holds before any training, with transformers' initialisation
 * (BertPreTrainedModel._init_weights): Linear and Embedding weights ~ normal(0, initializer_range), the
 * [PAD] row of the word embeddings zero, Linear biases zero, LayerNorm weight 1 and bias 0. The normals come
 * from the Philox stream (seed, 1) (Box-Muller), so the same spec gives byte-identical files anywhere; they
 * are not torch's generator's numbers.
 *
 * The directory: config.json (BertConfig fields, architectures ["BertModel"]), model.safetensors (BertModel
 * key names without the "bert." prefix, {"format": "pt"} metadata: BertModel.from_pretrained loads it with no
 * missing or unexpected keys), vocab.txt ([PAD] [UNK] [CLS] [SEP] [MASK] then every k-mer over "ATCG" in
 * itertools.product order, as DNABERT's vocabularies), tokenizer_config.json (do_lower_case false).
 *
 * Such a model knows nothing about DNA: it exists so a pipeline can run end to end without a pretrained
 * checkpoint. Fine-tuning LoRA on it is a weak baseline; use a pretrained DNABERT for real work. */
#ifndef SEQLORA_NN_INIT_MODEL_H
#define SEQLORA_NN_INIT_MODEL_H

#include <stdint.h>

#include "util/error.h"

typedef struct sl_nn_init_spec {
    int kmer;          /* k of the vocabulary, 3..8 */
    int hidden;        /* hidden_size, a multiple of heads */
    int layers;        /* num_hidden_layers >= 1 */
    int heads;         /* num_attention_heads >= 1 */
    int intermediate;  /* intermediate_size >= 1 */
    int max_position;  /* max_position_embeddings >= 3 */
    double init_range; /* initializer_range > 0 (transformers: 0.02) */
    uint64_t seed;
} sl_nn_init_spec;

/* transformers' BertConfig defaults scaled down to a demo size: k 6, hidden 64, 2 layers, 4 heads,
 * intermediate 256, 512 positions, initializer_range 0.02, seed 42. */
void sl_nn_init_spec_default(sl_nn_init_spec *s);

/* Check the spec (SL_EUSAGE naming the field and the expected range). */
int sl_nn_init_spec_check(const sl_nn_init_spec *s, sl_err *err);

/* Write the model directory into `dir` (which must exist; files are written atomically one by one).
 * Errors: SL_EUSAGE for a bad spec, SL_ENOMEM, SL_EIO naming the file. */
int sl_nn_init_model_write(const sl_nn_init_spec *s, const char *dir, sl_err *err);

#endif
