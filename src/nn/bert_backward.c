/* The backward pass: gradients of the LoRA matrices and the head. Frozen base weights get none (the
 * activation gradients flow through them to earlier layers), except in full-weight mode (base_grad set,
 * pretraining), where every base weight, LayerNorm and embedding table gets its gradient as well. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "bert_impl.h"
#include "elementwise.h"
#include "layernorm.h"
#include "parallel.h"
#include "prof.h"
#include "softmax.h"

/* Backward of y = x W^T + b + s B A dropout(x): LoRA gradients added; dx assigned (acc = 0) or added
 * (acc = 1), skipped when dx is NULL. */
static float *base_grad_of(const sl_nn_bert *m, const float *w) {
    return m->base_grad + (w - m->base_mem);
}

static void linear_lora_bwd(sl_nn_bert *m, int l, int mod, float *dx, int acc, const float *dy,
                            const float *x, int N, int in, int out, const float *u) {
    const sl_nn_layer_w *lw = &m->layer[l];
    if (m->base_grad) { /* full-weight mode: dW += dy^T x, db += column sums of dy */
        sl_nn_sgemm(1, 0, out, in, N, 1.0f, dy, out, x, in, 1.0f, base_grad_of(m, lw->w[mod]), in);
        sl_nn_k_colsum_add(base_grad_of(m, lw->b[mod]), dy, N, out);
    }
    if (dx && m->w_bwd)
        sl_nn_dnnl_gemm(m->w_bwd[(size_t)l * SL_NN_NMOD + mod], N, dy, out, NULL, acc, dx, in);
    else if (dx)
        sl_nn_sgemm(0, 0, N, in, out, 1.0f, dy, out, lw->w[mod], in, acc ? 1.0f : 0.0f, dx, in);
    const float *A = lw->lora_a[mod], *B = lw->lora_b[mod];
    if (!A) return;
    const int r = m->spec.r;
    const float s = m->scaling;
    const int dropped = m->drop_on && m->spec.dropout > 0;
    const uint64_t hi = sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_LORA + mod);
    const float *xin = x;
    if (dropped) {
        memcpy(m->xd, x, (size_t)N * in * sizeof(float));
        sl_nn_k_dropout_cached(m->xd, (size_t)N * in, m->spec.dropout, m->drop.seed, hi,
                               m->acts[l].lkeep[mod], 1);
        xin = m->xd;
    }
    sl_nn_sgemm(1, 0, out, r, N, s, dy, out, u, r, 1.0f, lw->glora_b[mod], r);
    sl_nn_sgemm(0, 0, N, r, out, s, dy, out, B, r, 0.0f, m->du, r);
    sl_nn_sgemm(1, 0, r, in, N, 1.0f, m->du, r, xin, in, 1.0f, lw->glora_a[mod], in);
    if (!dx) return;
    if (dropped) {
        sl_nn_sgemm(0, 0, N, in, r, 1.0f, m->du, r, A, in, 0.0f, m->dwide, in);
        sl_nn_k_dropout_cached(m->dwide, (size_t)N * in, m->spec.dropout, m->drop.seed, hi,
                               m->acts[l].lkeep[mod], 1);
        sl_nn_k_add(dx, m->dwide, (size_t)N * in);
    } else {
        sl_nn_sgemm(0, 0, N, in, r, 1.0f, m->du, r, A, in, 1.0f, dx, in);
    }
}

typedef struct {
    sl_nn_bert *m;
    int l;
    const sl_nn_acts *a;
    const sl_nn_dnnl_mm *dp, *dv, *dq, *dk; /* bf16 mode: the four products, NULL in fp32 */
} attn_job;

static void attention_bwd_task(void *p, size_t task, int worker) {
    const attn_job *j = p;
    sl_nn_bert *m = j->m;
    const sl_nn_acts *a = j->a;
    const int T = m->T, H = m->cfg.hidden, nh = m->cfg.heads, d = H / nh;
    const int b = (int)task / nh, h = (int)task % nh;
    const float scale = 1.0f / sqrtf((float)d);
    const float pdrop = m->drop_on ? m->cfg.attn_dropout : 0.0f;
    const size_t off = (size_t)b * T * H + (size_t)h * d;
    const float *P = a->P + task * T * T;
    const float *Pd = P;
    float *sp = m->scratch + (size_t)worker * 2 * T * T, *dP = sp + (size_t)T * T;
    const uint64_t *bits = a->keep + task * (((size_t)T * T + 63) / 64);
    const float dscale = pdrop > 0 ? 1.0f / (1.0f - pdrop) : 1.0f;
    if (pdrop > 0) {
        sl_nn_k_apply_bits(sp, P, bits, (size_t)T * T, dscale);
        Pd = sp;
    }
    if (j->dp && !m->bf16) { /* oneDNN fp32: the operands where they lie */
        sl_nn_dnnl_mm_run(j->dp, worker, m->dctx + off, a->v + off, dP);
        sl_nn_dnnl_mm_run(j->dv, worker, Pd, m->dctx + off, m->dv + off);
        if (pdrop > 0) sl_nn_k_apply_bits(dP, dP, bits, (size_t)T * T, dscale);
        for (int i = 0; i < T; i++) sl_nn_k_softmax_bwd(dP + (size_t)i * T, P + (size_t)i * T, T);
        sl_nn_dnnl_mm_run(j->dq, worker, dP, a->k + off, m->dq + off);
        sl_nn_dnnl_mm_run(j->dk, worker, dP, a->q + off, m->dk + off);
        return;
    }
    if (j->dp) { /* bf16 mode: operands rounded to bf16 in the worker's scratch, products in fp32 */
        uint16_t *c16 = sl_nn_dnnl_worker_scratch(worker), *v16 = c16 + (size_t)T * d,
                 *k16 = v16 + (size_t)T * d, *q16 = k16 + (size_t)T * d, *p16 = q16 + (size_t)T * d;
        sl_nn_bf16_round_rows(c16, (size_t)d, m->dctx + off, (size_t)H, T, d);
        sl_nn_bf16_round_rows(v16, (size_t)d, a->v + off, (size_t)H, T, d);
        sl_nn_dnnl_mm_run(j->dp, worker, c16, v16, dP);
        sl_nn_bf16_round(p16, Pd, (size_t)T * T);
        sl_nn_dnnl_mm_run(j->dv, worker, p16, c16, m->dv + off);
        if (pdrop > 0) sl_nn_k_apply_bits(dP, dP, bits, (size_t)T * T, dscale);
        for (int i = 0; i < T; i++) sl_nn_k_softmax_bwd(dP + (size_t)i * T, P + (size_t)i * T, T);
        sl_nn_bf16_round(p16, dP, (size_t)T * T);
        sl_nn_bf16_round_rows(k16, (size_t)d, a->k + off, (size_t)H, T, d);
        sl_nn_bf16_round_rows(q16, (size_t)d, a->q + off, (size_t)H, T, d);
        sl_nn_dnnl_mm_run(j->dq, worker, p16, k16, m->dq + off);
        sl_nn_dnnl_mm_run(j->dk, worker, p16, q16, m->dk + off);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d, 1.0f, m->dctx + off, H, a->v + off, H, 0.0f,
                dP, T);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, d, T, 1.0f, Pd, T, m->dctx + off, H, 0.0f,
                m->dv + off, H);
    if (pdrop > 0) sl_nn_k_apply_bits(dP, dP, bits, (size_t)T * T, dscale);
    for (int i = 0; i < T; i++) sl_nn_k_softmax_bwd(dP + (size_t)i * T, P + (size_t)i * T, T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d, T, scale, dP, T, a->k + off, H, 0.0f,
                m->dq + off, H);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, d, T, scale, dP, T, a->q + off, H, 0.0f,
                m->dk + off, H);
}

static void attention_bwd(sl_nn_bert *m, int l, const sl_nn_acts *a) {
    attn_job j = {m, l, a, NULL, NULL, NULL, NULL};
    if (m->w_bwd) { /* oneDNN: bf16 operands are contiguous copies (ld d), fp32 ones the slices (ld H) */
        const int T = m->T, H = m->cfg.hidden, d = H / m->cfg.heads, ld = m->bf16 ? d : H;
        const float scale = 1.0f / sqrtf((float)d);
        const sl_nn_dnnl_type ty = m->bf16 ? SL_NN_DNNL_BF16 : SL_NN_DNNL_FP32;
        const size_t scratch = m->bf16 ? 4 * (size_t)T * d + (size_t)T * T : 0;
        j.dp = sl_nn_dnnl_mm_get(T, T, d, 0, ld, 1, ld, T, 1.0f, ty, scratch); /* dctx v^T */
        j.dv = sl_nn_dnnl_mm_get(T, d, T, 1, T, 0, ld, H, 1.0f, ty, scratch);  /* dropout(P)^T dctx */
        j.dq = sl_nn_dnnl_mm_get(T, d, T, 0, T, 0, ld, H, scale, ty, scratch); /* dP k */
        j.dk = sl_nn_dnnl_mm_get(T, d, T, 1, T, 0, ld, H, scale, ty, scratch); /* dP^T q */
        if (!j.dp || !j.dv || !j.dq || !j.dk) {
            if (m->bf16) return;              /* recorded; the backward fails at its end */
            j.dp = j.dv = j.dq = j.dk = NULL; /* fp32: OpenBLAS runs them */
        }
    }
    double t0 = sl_nn_prof_begin();
    sl_nn_parallel_for((size_t)m->B * m->cfg.heads, attention_bwd_task, &j);
    if (t0 != 0.0)
        sl_nn_prof_flops(8.0 * m->B * m->T * m->T * m->cfg.hidden); /* 4 GEMMs of 2 T T d per head */
    sl_nn_prof_end(SL_NN_PH_ATTENTION, t0);
}

/* LayerNorm weight / bias gradients (full-weight mode): gw += sum_n dy * xhat, gb += sum_n dy. */
static void layernorm_param_bwd(sl_nn_bert *m, const float *w, const float *b, const float *dy,
                                const float *x, const float *mean, const float *rstd, int N, int H) {
    sl_nn_k_layernorm_param_bwd(base_grad_of(m, w), base_grad_of(m, b), dy, x, mean, rstd, N, H);
}

/* Embeddings (full-weight mode): dh0 = dL/d(embedding output) in m->dh. The LayerNorm input and its
 * statistics are recomputed from the ids (cheaper than keeping them). */
static void embeddings_bwd(sl_nn_bert *m) {
    const sl_nn_bert_config *c = &m->cfg;
    const int B = m->B, T = m->T, H = c->hidden, N = B * T;
    float *dy = m->dh, *x = m->dq, *y = m->dk, *dx = m->dv;
    float *mean = m->acts[0].ln1_mean, *rstd = m->acts[0].ln1_rstd; /* free once the encoder is done */
    if (m->drop_on)
        sl_nn_k_dropout(dy, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                        sl_nn_drop_hi(m->drop.micro, -1, SL_NN_DROP_EMB), 0);
    for (int i = 0; i < N; i++) {
        float *row = x + (size_t)i * H;
        const float *we = m->word + (size_t)m->ids_copy[i] * H, *pe = m->pos + (size_t)(i % T) * H;
        for (int j = 0; j < H; j++) row[j] = we[j] + pe[j] + m->type[j];
    }
    sl_nn_k_layernorm(y, mean, rstd, x, m->emb_ln_w, m->emb_ln_b, N, H, c->ln_eps);
    layernorm_param_bwd(m, m->emb_ln_w, m->emb_ln_b, dy, x, mean, rstd, N, H);
    sl_nn_k_layernorm_bwd(dx, dy, x, mean, rstd, m->emb_ln_w, N, H, 0);
    float *gword = base_grad_of(m, m->word), *gpos = base_grad_of(m, m->pos),
          *gtype = base_grad_of(m, m->type);
    for (int i = 0; i < N; i++) { /* in token order: the sums do not depend on the thread count */
        const float *d = dx + (size_t)i * H;
        float *gw = gword + (size_t)m->ids_copy[i] * H, *gp = gpos + (size_t)(i % T) * H;
        for (int j = 0; j < H; j++) {
            gw[j] += d[j];
            gp[j] += d[j];
            gtype[j] += d[j];
        }
    }
}

/* The encoder from dL/d(last hidden state) in m->dh down to the lowest layer with something to train
 * (in full-weight mode: all of them, then the embeddings). */
static void encoder_bwd(sl_nn_bert *m) {
    const sl_nn_bert_config *c = &m->cfg;
    const int B = m->B, T = m->T, H = c->hidden, NI = c->intermediate, N = B * T;
    const int full = m->base_grad != NULL;
    (void)T;
    /* the lowest layer that has anything to train */
    int lowest = full ? 0 : c->layers;
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < SL_NN_NMOD; mod++)
            if (m->layer[l].lora_a[mod] && lowest == c->layers) lowest = l;
    for (int l = c->layers - 1; l >= lowest; l--) {
        const sl_nn_acts *a = &m->acts[l];
        const sl_nn_layer_w *lw = &m->layer[l];
        const float *xin = m->h[l];
        const int need_dx = l > lowest || full;
        float *dz = m->dtmp, *dout = m->dk, *dao = m->dq;
        /* LayerNorm 2: dz = d(ln2_in) = d(o dropped) = d(h1) residual part */
        if (full)
            layernorm_param_bwd(m, lw->ln2_w, lw->ln2_b, m->dh, a->ln2_in, a->ln2_mean, a->ln2_rstd, N, H);
        sl_nn_k_layernorm_bwd(dz, m->dh, a->ln2_in, a->ln2_mean, a->ln2_rstd, lw->ln2_w, N, H, 0);
        memcpy(dout, dz, (size_t)N * H * sizeof(float));
        if (m->drop_on)
            sl_nn_k_dropout_cached(dout, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                                   sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_OUT), a->out_keep, 1);
        linear_lora_bwd(m, l, SL_NN_MOD_OUTPUT, m->dI, 0, dout, a->gel, N, NI, H, a->u[SL_NN_MOD_OUTPUT]);
        sl_nn_k_gelu_bwd(m->dI, m->dI, a->inter, (size_t)N * NI);
        linear_lora_bwd(m, l, SL_NN_MOD_INTER, dz, 1, m->dI, a->h1, N, H, NI, a->u[SL_NN_MOD_INTER]);
        /* LayerNorm 1: dh2 = d(xin) residual part; dao = d(attention output) */
        if (full) layernorm_param_bwd(m, lw->ln1_w, lw->ln1_b, dz, a->ln1_in, a->ln1_mean, a->ln1_rstd, N, H);
        sl_nn_k_layernorm_bwd(m->dh2, dz, a->ln1_in, a->ln1_mean, a->ln1_rstd, lw->ln1_w, N, H, 0);
        memcpy(dao, m->dh2, (size_t)N * H * sizeof(float));
        if (m->drop_on)
            sl_nn_k_dropout_cached(dao, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                                   sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_AO), a->ao_keep, 1);
        linear_lora_bwd(m, l, SL_NN_MOD_ATTN_OUT, m->dctx, 0, dao, a->ctx, N, H, H, a->u[SL_NN_MOD_ATTN_OUT]);
        attention_bwd(m, l, a);
        linear_lora_bwd(m, l, SL_NN_MOD_QUERY, need_dx ? m->dh2 : NULL, 1, m->dq, xin, N, H, H,
                        a->u[SL_NN_MOD_QUERY]);
        linear_lora_bwd(m, l, SL_NN_MOD_KEY, need_dx ? m->dh2 : NULL, 1, m->dk, xin, N, H, H,
                        a->u[SL_NN_MOD_KEY]);
        linear_lora_bwd(m, l, SL_NN_MOD_VALUE, need_dx ? m->dh2 : NULL, 1, m->dv, xin, N, H, H,
                        a->u[SL_NN_MOD_VALUE]);
        float *t = m->dh;
        m->dh = m->dh2;
        m->dh2 = t;
    }
    if (full) embeddings_bwd(m);
}

int sl_nn_bert_backward(sl_nn_bert *m, float loss_scale, sl_err *err) {
    if (!m->training || !m->have_labels)
        return sl_err_set(err, SL_EINTERNAL,
                          "backward needs a training model and a forward pass with labels");
    const sl_nn_bert_config *c = &m->cfg;
    int rc = sl_nn_bert_scratch(m, m->T, err);
    if (rc) return rc;
    const int B = m->B, T = m->T, H = c->hidden, C = c->num_labels, N = B * T;
    /* classifier */
    float *dpd = m->dtmp;
    for (size_t i = 0; i < (size_t)B * C; i++) m->dlogits[i] *= loss_scale;
    sl_nn_sgemm(1, 0, C, H, B, 1.0f, m->dlogits, C, m->pooled_drop, H, 1.0f, m->gcls_w, H);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < C; k++) m->gcls_b[k] += m->dlogits[(size_t)b * C + k];
    sl_nn_sgemm(0, 0, B, H, C, 1.0f, m->dlogits, C, m->cls_w, H, 0.0f, dpd, H);
    if (m->drop_on)
        sl_nn_k_dropout(dpd, (size_t)B * H, c->classifier_dropout, m->drop.seed,
                        sl_nn_drop_hi(m->drop.micro, -1, SL_NN_DROP_CLS), 0);
    /* pooler: tanh' then into the [CLS] rows of dh */
    for (size_t i = 0; i < (size_t)B * H; i++) dpd[i] *= 1.0f - m->pooled[i] * m->pooled[i];
    const float *last = m->h[c->layers];
    if (m->spec.train_pooler) {
        sl_nn_sgemm(1, 0, H, H, B, 1.0f, dpd, H, last, T * H, 1.0f, m->gpool_w, H);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) m->gpool_b[j] += dpd[(size_t)b * H + j];
    } else if (m->base_grad) {
        sl_nn_sgemm(1, 0, H, H, B, 1.0f, dpd, H, last, T * H, 1.0f, base_grad_of(m, m->pool_w), H);
        float *gb = base_grad_of(m, m->pool_b);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) gb[j] += dpd[(size_t)b * H + j];
    }
    memset(m->dh, 0, (size_t)N * H * sizeof(float));
    sl_nn_sgemm(0, 0, B, H, H, 1.0f, dpd, H, m->pool_w, H, 0.0f, m->dh, T * H);
    encoder_bwd(m);
    return m->w_bwd ? sl_nn_dnnl_take_error(err) : 0;
}

int sl_nn_bert_backward_hidden(sl_nn_bert *m, const float *dh, sl_err *err) {
    if (!m->training) return sl_err_set(err, SL_EINTERNAL, "backward needs a model loaded for training");
    int rc = sl_nn_bert_scratch(m, m->T, err);
    if (rc) return rc;
    memcpy(m->dh, dh, (size_t)m->B * m->T * m->cfg.hidden * sizeof(float));
    encoder_bwd(m);
    return m->w_bwd ? sl_nn_dnnl_take_error(err) : 0;
}
