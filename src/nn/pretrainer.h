/* Masked-language-model pretraining of a BERT-family k-mer model (all weights trained), writing a
 * Hugging Face BertForMaskedLM checkpoint directory.
 *
 * Data: every epoch draws `windows_per_epoch` random windows from the given FASTA sequences (a sequence
 * chosen with probability proportional to its number of window starts, a uniform start, the forward or the
 * reverse-complement strand with probability 1/2), each cut into overlapping k-mers ([CLS] k-mers [SEP],
 * `window` tokens at most; a k-mer with a base other than ACGT is [UNK] and never a target). Window g
 * (counted over all epochs) comes from Philox stream (seed, 2^48 * 6 + g); the masking of step s from
 * (seed, 2^48 * 5 + s) (mlm.h); dropout from (seed, s). So the output depends only on the options and
 * the input bytes — not on the thread count, nor on an interruption (checkpoint.bin in workdir holds the
 * weights, the AdamW moments, the step and the losses so far, written atomically at every epoch end and
 * every checkpoint_every steps).
 *
 * Optimiser (DNABERT's run_pretrain.py): AdamW betas (0.9, 0.98), eps 1e-6, weight decay on every weight
 * except biases and LayerNorm weights, linear warm-up then linear decay to 0, gradient clipping to norm
 * max_grad_norm (torch.nn.utils.clip_grad_norm_). */
#ifndef SEQLORA_NN_PRETRAINER_H
#define SEQLORA_NN_PRETRAINER_H

#include <stdint.h>

#include "util/error.h"

typedef struct sl_nn_pretrain_opts {
    const char *const *fasta; /* FASTA files (plain text) */
    int n_fasta;
    const char *config_path;  /* from scratch: a BertConfig JSON (hidden_size, num_hidden_layers,
                                 num_attention_heads, intermediate_size, max_position_embeddings,
                                 initializer_range are used; the vocabulary is the k-mer one) */
    const char *init_from;    /* or continue from this model directory (its vocabulary and config) */
    const char *out_dir;      /* existing directory for the checkpoint */
    const char *metrics_path; /* per-epoch MLM loss as JSON lines (NULL = not written) */
    const char *workdir;      /* checkpoints and the initial model (NULL = a temporary folder, no resume) */
    int kmer, window, windows_per_epoch, epochs, batch_size, warmup_steps;
    double lr, weight_decay, mlm_probability, max_grad_norm;
    long long checkpoint_every;
    uint64_t seed;
    int progress;
} sl_nn_pretrain_opts;

/* k 6, window 512, windows_per_epoch 0 (= enough windows to cover every sequence's both strands once),
 * 1 epoch, batch 8, lr 4e-4, warmup 0, weight decay 0.01, mlm_probability 0.15, clip 1.0, checkpoint every
 * 50 steps, seed 42. */
void sl_nn_pretrain_opts_default(sl_nn_pretrain_opts *o);

typedef struct sl_nn_pretrain_result {
    int epochs;
    long long steps;
    double first_loss, last_loss; /* mean MLM loss of the first and the last epoch */
    int windows_per_epoch;
    long long n_params;
    int resumed;
} sl_nn_pretrain_result;

/* Pretrain and write config.json (architectures ["BertForMaskedLM"]), model.safetensors (BertForMaskedLM
 * names, the decoder tied to the word embeddings as transformers saves it), vocab.txt,
 * tokenizer_config.json, special_tokens_map.json into o->out_dir. Errors: SL_EUSAGE for bad options,
 * SL_EDATA naming the file for bad input, SL_EIO, SL_ENOMEM. */
int sl_nn_pretrain(const sl_nn_pretrain_opts *o, sl_nn_pretrain_result *res, sl_err *err);

/* For parity tests: load model_dir (its cls.predictions.* head when present, else a new one from seed),
 * and take `steps` optimiser steps (the pretraining AdamW, clipping and weight-decay groups, constant lr,
 * dropout off) on one fixed masked batch: ids / mask / labels [B, T] (labels -100 = not a target).
 * losses[steps] receives the loss before each step. When grads_out is not NULL, the gradients of the
 * first step (before clipping) are written there as a safetensors file under the BertForMaskedLM names
 * (the word embeddings' gradient includes the tied decoder's). */
int sl_nn_pretrain_fixed_batch(const char *model_dir, const int32_t *ids, const int32_t *mask,
                               const int32_t *labels, int B, int T, int steps, double lr, double weight_decay,
                               double max_grad_norm, uint64_t seed, float *losses, const char *grads_out,
                               sl_err *err);

#endif
