/* Internal layout of sl_nn_esm, shared by esm.c (load), esm_forward.c and esm_backward.c, and the extra
 * kernels of kernels_extra.c. Not a public header. */
#ifndef SEQLORA_NN_ESM_IMPL_H
#define SEQLORA_NN_ESM_IMPL_H

#include "bert_impl.h"
#include "lora_linear.h"
#include "esm.h"

typedef struct sl_nn_esm_layer {
    float *w[SL_NN_NMOD], *b[SL_NN_NMOD]; /* [out, in], [out]; b NULL for a bias-free NT v2 FFN */
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b; /* attention.LayerNorm (pre-attention), LayerNorm (pre-FFN) */
    float *lora_a[SL_NN_NMOD], *lora_b[SL_NN_NMOD], *glora_a[SL_NN_NMOD], *glora_b[SL_NN_NMOD];
} sl_nn_esm_layer;

typedef struct sl_nn_esm_acts {
    float *xl, *ln1_mean, *ln1_rstd; /* LN_attn output [N, H] and row stats */
    float *q, *k, *v;                /* [N, H]: q scaled and rotated, k rotated */
    float *P;                        /* [B, heads, T, T] */
    float *ctx;                      /* [N, H] */
    float *a;                        /* attention residual output [N, H] */
    float *f, *ln2_mean, *ln2_rstd;  /* LN_ffn output [N, H] */
    float *inter;                    /* [N, IW] before the activation (IW = I, or 2I gated) */
    float *g;                        /* [N, I] after it */
    float *u[SL_NN_NMOD];            /* [N, r] */
    uint64_t *lkeep[SL_NN_NMOD];     /* LoRA-input dropout bits */
} sl_nn_esm_acts;

struct sl_nn_esm {
    sl_nn_esm_config cfg;
    sl_nn_lora_spec spec;
    float scaling;
    int training, head_loaded, max_batch, max_len;
    float *word, *pos, *emb_ln_w, *emb_ln_b, *after_w, *after_b;
    sl_nn_esm_layer *layer;
    sl_nn_lora_dnnl
        wmats; /* oneDNN operands (fp32 or, sl_nn_esm_use_bf16, bf16): slot l * SL_NN_NMOD + mod */
    float *cd_w, *cd_b, *co_w, *co_b;     /* classifier.dense, classifier.out_proj (trainable) */
    float *gcd_w, *gcd_b, *gco_w, *gco_b; /* their gradients */
    float *base_mem;
    size_t n_base;
    float *tparams, *tgrads;
    size_t n_train;
    sl_nn_param *params;
    size_t n_params;
    float *cos_t, *sin_t; /* rotary tables [max_len, d] */
    /* activations */
    float *act_mem;
    sl_nn_esm_acts *acts;
    float **h;                        /* L + 1 residual streams [N, H] */
    float *fin, *fin_mean, *fin_rstd; /* after emb_layer_norm_after [N, H] */
    float *z, *zd, *logits, *dlogits; /* [B,H] dense output before tanh, tanh output, [B,C] */
    float *xd;                        /* dropped LoRA input [N, max(H, IW)] */
    float *scratch;
    size_t scratch_len;
    float *dh, *dh2, *dq, *dk, *dv, *dctx, *dtmp, *dI, *dg, *du, *dwide;
    int B, T;
    int32_t *mask;
    float *labels;
    int have_labels, drop_on;
    sl_nn_dropout drop;
};

/* Module `mod` of layer `l` as a LoRA Linear (lora_linear.h), with the model's dropout state (esm_forward.c).
 */
sl_nn_lora_linear sl_nn_esm_lora(sl_nn_esm *m, int l, int mod);

/* Width of the output of module kind `mod` / of its input. */
int sl_nn_esm_mod_out(const sl_nn_esm_config *c, int mod);
int sl_nn_esm_mod_in(const sl_nn_esm_config *c, int mod);

/* ---- extra kernels (kernels_extra.c) ---- */

/* inv_freq, cos and sin tables of transformers' RotaryEmbedding for positions 0..T-1 and head size d:
 * cos_t/sin_t [T, d] (the two halves repeat). */
void sl_nn_k_rotary_tables(float *cos_t, float *sin_t, int T, int d);
/* In place on x [B*T rows of H], heads of size d: x = x cos + rotate_half(x) sin (inverse = 1: the
 * transpose, for the backward pass). */
void sl_nn_k_rotary(float *x, const float *cos_t, const float *sin_t, int B, int T, int H, int d,
                    int inverse);
/* SwiGLU: y[n, j] = silu(x[n, j]) * x[n, I + j] for x [N, 2I], y [N, I]. */
void sl_nn_k_swiglu(float *y, const float *x, int N, int ni);
/* Its backward: dx [N, 2I] from dy [N, I] and x. */
void sl_nn_k_swiglu_bwd(float *dx, const float *dy, const float *x, int N, int ni);
/* The sequence-classification losses of transformers (cross-entropy / BCE-with-logits / MSE, mean
 * reduction) of logits [B, C] against labels (B class indices, or [B, C]); dlogits = d(loss)/d(logits).
 * Returns the loss. */
float sl_nn_k_seqcls_loss(sl_nn_problem problem, const float *logits, const float *labels, int B, int C,
                          float *dlogits);
/* The oneDNN products of sl_nn_k_attention_head (qk, pv) or of its backward (dp, dv, dq, dk) for one shape,
 * fp32 or bf16 (gemm_onednn.h). A NULL sl_nn_k_attn_dnnl * given to the kernels means OpenBLAS. */
typedef struct {
    const sl_nn_dnnl_mm *qk, *pv, *dp, *dv, *dq, *dk;
    int bf16; /* operands rounded to bf16 in the worker's scratch (sl_nn_dnnl_worker_scratch) */
} sl_nn_k_attn_dnnl;
/* Make the products for T, d, ld, ldo, scale of the kernels below (backward 0: the forward's; 1: the
 * backward's), and the bf16 per-worker scratch they need. Driving thread only, before the pool runs the
 * tasks (the pool's current thread count). 0; -1 when a bf16 one could not be made: then the failure is
 * recorded for sl_nn_dnnl_take_error, which the pass must call, and the kernels must not run; 1 when an fp32
 * one could not be made: nothing is recorded, and the kernels run on OpenBLAS (pass NULL for `p`). */
int sl_nn_k_attention_dnnl(sl_nn_k_attn_dnnl *p, int backward, int T, int d, int ld, int ldo, float scale,
                           int bf16);
/* Masked softmax attention of one (batch row, head) with scores scale `scale` and an optional additive
 * bias [T, T] (NULL = none): P = softmax(scale q k^T + bias over keys with mask 1), ctx = P v. q, k, v
 * are strided by ld, ctx by ldo (rows of length d). dn: the products (sl_nn_k_attention_dnnl, run on pool
 * worker `worker`: in bf16 the operands q, k, v, P are rounded to bf16) or NULL (OpenBLAS). */
void sl_nn_k_attention_head(float *P, float *ctx, const float *q, const float *k, const float *v, int ld,
                            int ldo, int T, int d, float scale, const float *bias, const int32_t *mask,
                            const sl_nn_k_attn_dnnl *dn, int worker);
/* Its backward: from dctx (stride ldo) and P, dq, dk, dv (assigned, stride ld); dP scratch [T, T]. dn,
 * worker: as above, the backward's products (bf16: dctx, v, P, dP, k, q rounded), or NULL. */
void sl_nn_k_attention_head_bwd(float *dq, float *dk, float *dv, float *dP, const float *dctx, const float *P,
                                const float *q, const float *k, const float *v, int ld, int ldo, int T, int d,
                                float scale, const sl_nn_k_attn_dnnl *dn, int worker);
/* GeGLU (DNABERT-2's gated MLP): y[n, j] = gelu_erf(x[n, j]) * x[n, ni + j] for x [N, 2ni]; its backward. */
void sl_nn_k_geglu(float *y, const float *x, int N, int ni);
void sl_nn_k_geglu_bwd(float *dx, const float *dy, const float *x, int N, int ni);

#endif
