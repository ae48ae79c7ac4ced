/* Internal layout of sl_nn_bert, shared by bert.c (load), bert_forward.c and bert_backward.c. Not a
 * public header: only src/nn code includes it. */
#ifndef SEQLORA_NN_BERT_IMPL_H
#define SEQLORA_NN_BERT_IMPL_H

#include "bert.h"
#include "gemm_onednn.h"

/* Tensor ids mixed into the dropout counter. */
enum {
    SL_NN_DROP_EMB = 1,
    SL_NN_DROP_ATTN = 2,
    SL_NN_DROP_AO = 3,
    SL_NN_DROP_OUT = 4,
    SL_NN_DROP_CLS = 5,
    SL_NN_DROP_LORA = 8, /* + module kind */
};

typedef struct sl_nn_acts {
    float *q, *k, *v;                    /* [N, H] */
    float *P;                            /* [B, heads, T, T] softmax output (before dropout) */
    float *ctx;                          /* [N, H] attention output (after dropout on P) */
    float *ln1_in, *ln1_mean, *ln1_rstd; /* LayerNorm 1 input [N, H] and row stats [N] */
    float *h1;                           /* [N, H] */
    float *inter, *gel;                  /* [N, I] before / after GELU */
    float *ln2_in, *ln2_mean, *ln2_rstd;
    float *u[SL_NN_NMOD]; /* [N, r] LoRA A outputs */
    uint64_t *keep; /* attention-dropout keep bits, per (batch row, head) ceil(T*T/64) words; training only */
    uint64_t *ao_keep, *out_keep; /* hidden-dropout keep bits [N*H] (training with hidden dropout) */
    uint64_t *lkeep[SL_NN_NMOD];  /* LoRA-input dropout keep bits [N*in] (training with lora_dropout) */
} sl_nn_acts;

struct sl_nn_bert {
    sl_nn_bert_config cfg;
    sl_nn_lora_spec spec;
    float scaling; /* LoRA scaling */
    int training;
    int head_loaded; /* classifier came from the checkpoint */
    int max_batch, max_len;
    /* frozen base */
    float *word, *pos, *type, *emb_ln_w, *emb_ln_b;
    sl_nn_layer_w *layer;
    float *pool_w, *pool_b; /* into base or into the trainable arena (train_pooler) */
    float *cls_w, *cls_b;   /* into the trainable arena */
    float *gpool_w, *gpool_b, *gcls_w, *gcls_b;
    float *base_mem; /* base weights (one allocation) */
    size_t n_base;   /* floats in base_mem (pooler excluded when trained) */
    /* trainable arena */
    float *tparams, *tgrads;
    size_t n_train;
    sl_nn_param *params;
    size_t n_params;
    /* activations */
    float *act_mem;
    sl_nn_acts *acts;                     /* per layer (all alias acts[0] when !training) */
    float **h;                            /* layers+1 hidden states [N, H] */
    float *pooled, *pooled_drop, *logits; /* [B,H], [B,H], [B,C] */
    float *dlogits;
    /* scratch */
    float *xd;      /* [N, max(H, I)] dropped LoRA input */
    float *scratch; /* per worker: 2 x [T, T] */
    size_t scratch_len;
    float *dh, *dh2;                   /* [N, H] */
    float *dq, *dk, *dv, *dctx, *dtmp; /* [N, H] */
    float *dI;                         /* [N, I] */
    float *du;                         /* [N, r] */
    float *dwide;                      /* [N, max(H,I)] */
    /* last forward */
    int B, T;
    const int32_t *mask; /* caller's, valid until the next forward */
    int32_t *mask_copy;
    float *labels; /* copy [B * C] */
    int have_labels;
    sl_nn_dropout drop;
    int drop_on;
    /* full-weight mode (sl_nn_bert_enable_full_grad): gradients of every base weight, laid out as
     * base_mem; the named views of base_mem; the last forward's ids (for the embedding gradients) */
    float *base_grad;
    sl_nn_param *base_params;
    size_t n_base_params;
    int32_t *ids_copy;
    /* the frozen encoder Linears as oneDNN operands (gemm_onednn.h) for y = x W^T and, when training, for
     * dx = dy W, [layer * SL_NN_NMOD + module]: fp32 (W in place) where sl_nn_dnnl_fp32_active, bf16 (packed)
     * in bf16 mode; NULL: OpenBLAS. The attention products go through oneDNN too when they are set. */
    sl_nn_dnnl_mat **w_fwd, **w_bwd;
    int bf16; /* bf16 mode (sl_nn_bert_use_bf16) */
};

/* Make sure the per-worker attention scratch fits T and the current thread count (bert.c). */
int sl_nn_bert_scratch(sl_nn_bert *m, int T, sl_err *err);

/* kernels (bert_kernels.c) */
void sl_nn_k_linear(float *y, const float *x, const float *w, const float *b, int N, int in, int out);
void sl_nn_k_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                       int N, int H, float eps);
/* dx = LN backward of dy; dx is ASSIGNED when acc = 0, added to when acc = 1. */
void sl_nn_k_layernorm_bwd(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                           const float *w, int N, int H, int acc);
void sl_nn_k_gelu(float *y, const float *x, size_t n);
void sl_nn_k_gelu_bwd(float *dx, const float *dy, const float *x, size_t n); /* dx = dy * gelu'(x) */
/* Multiply x[i] by the dropout keep/scale factor of element base + i of the stream (seed, hi). */
void sl_nn_k_dropout(float *x, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t base);
/* Dropout of x[0..n) (element i of the stream (seed, hi)) that remembers its mask: with bits == NULL as
 * sl_nn_k_dropout; with bits and !replay, draw the mask into bits and apply it; with replay, apply bits. */
void sl_nn_k_dropout_cached(float *x, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t *bits,
                            int replay);
/* Bit i of bits = 1 when element base + i is kept (same draws as sl_nn_k_dropout). */
void sl_nn_k_dropout_bits(uint64_t *bits, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t base);
/* y[i] = bit i ? x[i] * scale : 0 (y may be x). */
void sl_nn_k_apply_bits(float *y, const float *x, const uint64_t *bits, size_t n, float scale);
uint64_t sl_nn_drop_hi(uint64_t micro, int layer, int tensor);

#endif
