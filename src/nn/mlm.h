/* The masked-language-model part of pretraining: BERT's MLM head (transformers BertOnlyMLMHead), its
 * cross-entropy loss over the masked positions, and the masking of a batch of k-mer tokens.
 *
 * Head (transformers BertLMPredictionHead): t = LayerNorm(gelu(h W^T + b)); logits = t E^T + bias, where
 * E is the word-embedding table (the decoder weight is tied to it, as BertForMaskedLM ties it) and bias is
 * `cls.predictions.bias`. Only the masked positions are pushed through the head: the loss and every
 * gradient equal those of the full [B, T, V] logits with labels -100 elsewhere (CrossEntropyLoss's mean
 * over the non-ignored positions).
 *
 * Masking (DNABERT's scheme for overlapping k-mers, see docs/steps/pretrain.md): a k-mer overlaps its
 * k-1 neighbours on each side, so a lone masked token could be read off them. Span centres are drawn
 * with probability mlm_probability / k over the maskable positions (not [CLS]/[SEP]/[PAD]/[UNK]), and the
 * span of k consecutive tokens centre-(k-1)/2 .. centre+k/2 is masked (DNABERT's MASK_LIST: k = 6 ->
 * offsets -2..+3); so about mlm_probability of the tokens are masked (a little less where spans
 * overlap). With span 1 this is plain BERT masking. Each masked token becomes [MASK] with probability
 * 0.8, a random k-mer token (never a special one) with 0.1, and stays with 0.1; its label is the
 * original id, every other label is -100. The draws come from the Philox stream (seed, 2^48 * 5 + micro),
 * so a batch's masking depends only on (seed, micro-batch number). A batch with no masked token gets
 * one span at its first maskable position (an empty loss would be NaN).
 *
 * Thread-safety: a head is used by one thread at a time. */
#ifndef SEQLORA_NN_MLM_H
#define SEQLORA_NN_MLM_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "util/error.h"

/* The head's tensors in its parameter arena, in this order. */
enum {
    SL_NN_MLM_DENSE_W = 0,
    SL_NN_MLM_DENSE_B,
    SL_NN_MLM_LN_W,
    SL_NN_MLM_LN_B,
    SL_NN_MLM_BIAS,
    SL_NN_MLM_NT
};

typedef struct sl_nn_mlm_head {
    int H, V;
    float ln_eps;
    float *params, *grads; /* n floats each (owned) */
    size_t n;
    sl_nn_param tensors[SL_NN_MLM_NT]; /* names "cls.predictions.transform.dense.weight", ... */
    /* the last forward: rows = masked positions */
    int rows, cap, N;
    int32_t *pos, *target;                                  /* [rows] */
    float *x, *pre, *gel, *mean, *rstd, *t, *dlogits, *tmp; /* [rows, H] ([rows] stats, [rows, V] dlogits) */
} sl_nn_mlm_head;

/* A new head for hidden size H and vocabulary V: dense ~ normal(0, init_range) from Philox stream
 * (seed, 4), biases 0, LayerNorm 1 / 0 (transformers' _init_weights). SL_ENOMEM. */
int sl_nn_mlm_head_init(sl_nn_mlm_head *h, int H, int V, float ln_eps, float init_range, uint64_t seed,
                        sl_err *err);

/* Replace the initial weights by the checkpoint's cls.predictions.* tensors (LayerNorm as weight/bias or
 * the old gamma/beta) when model_dir holds all of them (*loaded = 1), else leave them (*loaded = 0). A
 * present tensor of the wrong shape is SL_EDATA. */
int sl_nn_mlm_head_load(sl_nn_mlm_head *h, const char *model_dir, int *loaded, sl_err *err);

void sl_nn_mlm_head_free(sl_nn_mlm_head *h);

/* Forward and loss: hidden [N, H] (the encoder's last hidden state), word [V, H] (the tied decoder),
 * labels [N] (-100 = not a target, else 0..V-1). The mean cross-entropy over the targets goes to *loss
 * and dL/dlogits is kept for sl_nn_mlm_backward. No target at all, or a label out of range, is SL_EDATA. */
int sl_nn_mlm_forward(sl_nn_mlm_head *h, const float *hidden, const float *word, const int32_t *labels, int N,
                      float *loss, sl_err *err);

/* The full logits [rows, V] of the last forward's target rows (for tests); `out` holds rows * V floats. */
void sl_nn_mlm_logits(const sl_nn_mlm_head *h, const float *word, float *out);

/* Backward of the last forward: adds the head's gradients to h->grads and the tied decoder's to gword
 * [V, H]; dhidden [N, H] is ASSIGNED (zero outside the target rows). */
void sl_nn_mlm_backward(sl_nn_mlm_head *h, const float *word, float *gword, float *dhidden);

/* The masking described above. */
typedef struct sl_nn_mlm_mask_opts {
    double probability;                /* target fraction of masked tokens, (0, 1) */
    int span;                          /* tokens per masked span (k for overlapping k-mers, 1 = plain BERT) */
    int32_t mask_id;                   /* [MASK] */
    int32_t first_regular, vocab_size; /* random replacements are drawn from [first_regular, vocab_size) */
    const int32_t *special;            /* ids never chosen as targets ([CLS] [SEP] [PAD] [UNK]) */
    int n_special;
} sl_nn_mlm_mask_opts;

/* ids/mask [B, T] in; masked ids and labels [B, T] out. Returns the number of targets. */
int sl_nn_mlm_mask(const sl_nn_mlm_mask_opts *o, const int32_t *ids, const int32_t *mask, int B, int T,
                   uint64_t seed, uint64_t micro, int32_t *out_ids, int32_t *labels);

#endif
