/* Internal layout of sl_nn_dnabert2 (dnabert2.c load, dnabert2_pass.c forward/backward). Not public. */
#ifndef SEQLORA_NN_DNABERT2_IMPL_H
#define SEQLORA_NN_DNABERT2_IMPL_H

#include "dnabert2.h"
#include "esm_impl.h"

typedef struct sl_nn_d2_layer {
    float *w[SL_NN_D2_NMOD], *b[SL_NN_D2_NMOD]; /* b[GATED] is NULL */
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;       /* attention.output.LayerNorm, mlp.layernorm */
    float *lora_a[SL_NN_D2_NMOD], *lora_b[SL_NN_D2_NMOD], *glora_a[SL_NN_D2_NMOD], *glora_b[SL_NN_D2_NMOD];
} sl_nn_d2_layer;

typedef struct sl_nn_d2_acts {
    float *qkv;                          /* [N, 3H] */
    float *P;                            /* [B, heads, T, T] */
    float *ctx;                          /* [N, H] */
    float *ln1_in, *ln1_mean, *ln1_rstd; /* [N, H] */
    float *h1;                           /* [N, H] */
    float *gated;                        /* [N, 2I] */
    float *g;                            /* [N, I] */
    float *ln2_in, *ln2_mean, *ln2_rstd; /* [N, H] */
    float *u[SL_NN_D2_NMOD];
    uint64_t *ao_keep, *out_keep, *lkeep[SL_NN_D2_NMOD]; /* out_keep: dropout of g [N, I] */
} sl_nn_d2_acts;

struct sl_nn_dnabert2 {
    sl_nn_bert_config cfg;
    sl_nn_lora_spec spec;
    float scaling;
    int training, head_loaded, max_batch, max_len;
    float *word, *type, *emb_ln_w, *emb_ln_b;
    sl_nn_d2_layer *layer;
    sl_nn_lora_dnnl
        wmats; /* oneDNN operands (fp32 or, sl_nn_dnabert2_use_bf16, bf16): slot l * SL_NN_D2_NMOD + mod */
    float *pool_w, *pool_b, *cls_w, *cls_b, *gpool_w, *gpool_b, *gcls_w, *gcls_b;
    float *base_mem;
    size_t n_base;
    float *tparams, *tgrads;
    size_t n_train;
    sl_nn_param *params;
    size_t n_params;
    float *slopes; /* [heads] */
    float *alibi;  /* [heads, T, T] for the current T */
    int alibi_T;
    float *act_mem;
    sl_nn_d2_acts *acts;
    float **h;
    float *pooled, *pooled_drop, *logits, *dlogits;
    float *xd, *scratch;
    size_t scratch_len;
    float *dh, *dh2, *dqkv, *dctx, *dtmp, *dG, *dg, *du, *dwide;
    int B, T;
    int32_t *mask;
    float *labels;
    int have_labels, drop_on;
    sl_nn_dropout drop;
};

int sl_nn_d2_mod_in(const sl_nn_bert_config *c, int mod);
int sl_nn_d2_mod_out(const sl_nn_bert_config *c, int mod);

#endif
