/* DNABERT-2 forward (ALiBi attention, fused Wqkv, GeGLU MLP, post-LN) and backward (LoRA, pooler when
 * trained, classifier). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnabert2_impl.h"
#include "lora_linear.h"
#include "parallel.h"

/* module `mod` of layer `l` as a LoRA Linear (lora_linear.h) */
static sl_nn_lora_linear lora_of(sl_nn_dnabert2 *m, int l, int mod) {
    const sl_nn_d2_layer *lw = &m->layer[l];
    const size_t slot = (size_t)l * SL_NN_D2_NMOD + mod;
    return (sl_nn_lora_linear){.w = lw->w[mod],
                               .b = lw->b[mod],
                               .wd = m->wmats.fwd ? m->wmats.fwd[slot] : NULL,
                               .wd_t = m->wmats.bwd ? m->wmats.bwd[slot] : NULL,
                               .A = lw->lora_a[mod],
                               .B = lw->lora_b[mod],
                               .gA = lw->glora_a[mod],
                               .gB = lw->glora_b[mod],
                               .in = sl_nn_d2_mod_in(&m->cfg, mod),
                               .out = sl_nn_d2_mod_out(&m->cfg, mod),
                               .r = m->spec.r,
                               .scaling = m->scaling,
                               .dropout = m->drop_on ? (float)m->spec.dropout : 0.0f,
                               .seed = m->drop.seed,
                               .hi = sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_LORA + mod),
                               .keep = m->acts[l].lkeep[mod],
                               .xd = m->xd,
                               .du = m->du,
                               .dwide = m->dwide};
}

static void linear_lora(sl_nn_dnabert2 *m, int l, int mod, float *y, const float *x, int N, float *u) {
    const sl_nn_lora_linear L = lora_of(m, l, mod);
    sl_nn_lora_linear_fwd(&L, y, x, N, u);
}

static void linear_lora_bwd(sl_nn_dnabert2 *m, int l, int mod, float *dx, int acc, const float *dy,
                            const float *x, int N, const float *u) {
    const sl_nn_lora_linear L = lora_of(m, l, mod);
    sl_nn_lora_linear_bwd(&L, dx, acc, dy, x, N, u);
}

typedef struct {
    sl_nn_dnabert2 *m;
    const sl_nn_d2_acts *a;
    const sl_nn_k_attn_dnnl *dn; /* oneDNN products, or NULL: OpenBLAS */
} attn_job;

static void attention_task(void *p, size_t task, int worker) {
    const attn_job *j = p;
    sl_nn_dnabert2 *m = j->m;
    const int T = m->T, H = m->cfg.hidden, nh = m->cfg.heads, d = H / nh;
    const int b = (int)task / nh, h = (int)task % nh;
    const float *qkv = j->a->qkv + (size_t)b * T * 3 * H + (size_t)h * d;
    sl_nn_k_attention_head(j->a->P + task * T * T, j->a->ctx + (size_t)b * T * H + (size_t)h * d, qkv,
                           qkv + H, qkv + 2 * H, 3 * H, H, T, d, 1.0f / sqrtf((float)d),
                           m->alibi + (size_t)h * T * T, m->mask + (size_t)b * T, j->dn, worker);
}

static void attention_bwd_task(void *p, size_t task, int worker) {
    const attn_job *j = p;
    sl_nn_dnabert2 *m = j->m;
    const int T = m->T, H = m->cfg.hidden, nh = m->cfg.heads, d = H / nh;
    const int b = (int)task / nh, h = (int)task % nh;
    const size_t o3 = (size_t)b * T * 3 * H + (size_t)h * d;
    const float *qkv = j->a->qkv + o3;
    float *dqkv = m->dqkv + o3;
    sl_nn_k_attention_head_bwd(dqkv, dqkv + H, dqkv + 2 * H, m->scratch + (size_t)worker * T * T,
                               m->dctx + (size_t)b * T * H + (size_t)h * d, j->a->P + task * T * T, qkv,
                               qkv + H, qkv + 2 * H, 3 * H, H, T, d, 1.0f / sqrtf((float)d), j->dn, worker);
}

/* Every (batch row, head) of layer activations a (backward: its backward), on the pool. */
static void attention(sl_nn_dnabert2 *m, const sl_nn_d2_acts *a, int backward) {
    const int H = m->cfg.hidden, d = H / m->cfg.heads;
    sl_nn_k_attn_dnnl dn;
    attn_job j = {m, a, NULL};
    if (backward ? m->wmats.bwd != NULL : m->wmats.fwd != NULL) { /* oneDNN products, like the Linears */
        int rc =
            sl_nn_k_attention_dnnl(&dn, backward, m->T, d, 3 * H, H, 1.0f / sqrtf((float)d), m->wmats.bf16);
        if (rc < 0) return;     /* recorded; the pass fails at its end */
        j.dn = rc ? NULL : &dn; /* 1: fp32 on OpenBLAS */
    }
    sl_nn_parallel_for((size_t)m->B * m->cfg.heads, backward ? attention_bwd_task : attention_task, &j);
}

int sl_nn_dnabert2_forward(sl_nn_dnabert2 *m, const int32_t *ids, const int32_t *mask, int B, int T,
                           const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    if (B < 1 || B > m->max_batch || T < 1 || T > m->max_len)
        return sl_err_set(err, SL_EINTERNAL, "batch %dx%d exceeds the allocated %dx%d", B, T, m->max_batch,
                          m->max_len);
    const int H = c->hidden, NI = c->intermediate, N = B * T, C = c->num_labels, nh = c->heads;
    for (int i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return sl_err_set(err, SL_EDATA, "token id %d out of range (vocab_size %d)", ids[i],
                              c->vocab_size);
    for (int b = 0; b < B; b++)
        if (!mask[(size_t)b * T]) return sl_err_set(err, SL_EDATA, "row %d of the batch has no tokens", b);
    if (drop && c->attn_dropout > 0)
        return sl_err_set(err, SL_EUSAGE,
                          "training DNABERT-2 with attention_probs_dropout_prob %g is not implemented (the "
                          "published model uses 0)",
                          (double)c->attn_dropout);
    memcpy(m->mask, mask, (size_t)N * sizeof(int32_t));
    m->B = B;
    m->T = T;
    m->drop_on = drop != NULL;
    if (drop) m->drop = *drop;
    m->have_labels = labels != NULL;
    if (labels) {
        size_t nl = c->problem == SL_NN_SINGLE_LABEL ? (size_t)B : (size_t)B * C;
        for (size_t i = 0; i < nl; i++) {
            if (!isfinite(labels[i])) return sl_err_set(err, SL_EDATA, "label %zu is not a finite number", i);
            if (c->problem == SL_NN_SINGLE_LABEL &&
                (labels[i] < 0 || labels[i] >= C || labels[i] != (int)labels[i]))
                return sl_err_set(err, SL_EDATA, "class index %g out of range 0..%d", labels[i], C - 1);
        }
        memcpy(m->labels, labels, nl * sizeof(float));
    }
    if (m->alibi_T != T) { /* alibi[h, i, j] = slope_h * -|i - j| (float32, as torch) */
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++)
                    m->alibi[((size_t)h * T + i) * T + j] = m->slopes[h] * -(float)abs(i - j);
        m->alibi_T = T;
    }
    float *x = m->h[0];
    for (int i = 0; i < N; i++) {
        float *row = x + (size_t)i * H;
        const float *we = m->word + (size_t)ids[i] * H;
        for (int j = 0; j < H; j++) row[j] = we[j] + m->type[j];
    }
    sl_nn_k_layernorm(x, NULL, NULL, x, m->emb_ln_w, m->emb_ln_b, N, H, c->ln_eps);
    if (m->drop_on)
        sl_nn_k_dropout(x, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                        sl_nn_drop_hi(m->drop.micro, -1, SL_NN_DROP_EMB), 0);
    for (int l = 0; l < c->layers; l++) {
        sl_nn_d2_acts *a = &m->acts[l];
        const sl_nn_d2_layer *lw = &m->layer[l];
        const float *xin = m->h[l];
        float *out = m->h[l + 1];
        linear_lora(m, l, SL_NN_D2_WQKV, a->qkv, xin, N, a->u[SL_NN_D2_WQKV]);
        attention(m, a, 0);
        linear_lora(m, l, SL_NN_D2_AO, a->ln1_in, a->ctx, N, a->u[SL_NN_D2_AO]);
        if (m->drop_on)
            sl_nn_k_dropout_cached(a->ln1_in, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                                   sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_AO), a->ao_keep, 0);
        for (size_t i = 0; i < (size_t)N * H; i++) a->ln1_in[i] += xin[i];
        sl_nn_k_layernorm(a->h1, a->ln1_mean, a->ln1_rstd, a->ln1_in, lw->ln1_w, lw->ln1_b, N, H, c->ln_eps);
        linear_lora(m, l, SL_NN_D2_GATED, a->gated, a->h1, N, a->u[SL_NN_D2_GATED]);
        sl_nn_k_geglu(a->g, a->gated, N, NI);
        if (m->drop_on) /* bert_layers.py BertGatedLinearUnitMLP: dropout before wo */
            sl_nn_k_dropout_cached(a->g, (size_t)N * NI, c->hidden_dropout, m->drop.seed,
                                   sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_OUT), a->out_keep, 0);
        linear_lora(m, l, SL_NN_D2_WO, a->ln2_in, a->g, N, a->u[SL_NN_D2_WO]);
        for (size_t i = 0; i < (size_t)N * H; i++) a->ln2_in[i] += a->h1[i];
        sl_nn_k_layernorm(out, a->ln2_mean, a->ln2_rstd, a->ln2_in, lw->ln2_w, lw->ln2_b, N, H, c->ln_eps);
    }
    int rc;
    if (m->wmats.fwd && (rc = sl_nn_dnnl_take_error(err))) return rc;
    const float *last = m->h[c->layers];
    sl_nn_sgemm(0, 1, B, H, H, 1.0f, last, T * H, m->pool_w, H, 0.0f, m->pooled, H);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++)
            m->pooled[(size_t)b * H + j] = tanhf(m->pooled[(size_t)b * H + j] + m->pool_b[j]);
    memcpy(m->pooled_drop, m->pooled, (size_t)B * H * sizeof(float));
    if (m->drop_on)
        sl_nn_k_dropout(m->pooled_drop, (size_t)B * H, c->classifier_dropout, m->drop.seed,
                        sl_nn_drop_hi(m->drop.micro, -1, SL_NN_DROP_CLS), 0);
    sl_nn_k_linear(m->logits, m->pooled_drop, m->cls_w, m->cls_b, B, H, C);
    if (labels) {
        float lv = sl_nn_k_seqcls_loss(c->problem, m->logits, m->labels, B, C, m->dlogits);
        if (loss) *loss = lv;
        if (!isfinite(lv)) return sl_err_set(err, SL_EDATA, "the loss is not finite (%g)", lv);
    }
    return 0;
}

int sl_nn_dnabert2_backward(sl_nn_dnabert2 *m, float loss_scale, sl_err *err) {
    if (!m->training || !m->have_labels)
        return sl_err_set(err, SL_EINTERNAL,
                          "backward needs a training model and a forward pass with labels");
    const sl_nn_bert_config *c = &m->cfg;
    const int B = m->B, T = m->T, H = c->hidden, NI = c->intermediate, C = c->num_labels, N = B * T;
    size_t need = (size_t)sl_nn_get_threads() * T * T;
    if (need > m->scratch_len) {
        float *p = realloc(m->scratch, need * sizeof(float));
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory for attention scratch");
        m->scratch = p;
        m->scratch_len = need;
    }
    float *dpd = m->dtmp;
    for (size_t i = 0; i < (size_t)B * C; i++) m->dlogits[i] *= loss_scale;
    sl_nn_sgemm(1, 0, C, H, B, 1.0f, m->dlogits, C, m->pooled_drop, H, 1.0f, m->gcls_w, H);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < C; k++) m->gcls_b[k] += m->dlogits[(size_t)b * C + k];
    sl_nn_sgemm(0, 0, B, H, C, 1.0f, m->dlogits, C, m->cls_w, H, 0.0f, dpd, H);
    if (m->drop_on)
        sl_nn_k_dropout(dpd, (size_t)B * H, c->classifier_dropout, m->drop.seed,
                        sl_nn_drop_hi(m->drop.micro, -1, SL_NN_DROP_CLS), 0);
    for (size_t i = 0; i < (size_t)B * H; i++) dpd[i] *= 1.0f - m->pooled[i] * m->pooled[i];
    const float *last = m->h[c->layers];
    if (m->spec.train_pooler) {
        sl_nn_sgemm(1, 0, H, H, B, 1.0f, dpd, H, last, T * H, 1.0f, m->gpool_w, H);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) m->gpool_b[j] += dpd[(size_t)b * H + j];
    }
    int lowest = c->layers;
    for (int l = 0; l < c->layers && lowest == c->layers; l++)
        for (int mod = 0; mod < SL_NN_D2_NMOD; mod++)
            if (m->layer[l].lora_a[mod]) lowest = l;
    if (lowest == c->layers) return 0;
    memset(m->dh, 0, (size_t)N * H * sizeof(float));
    sl_nn_sgemm(0, 0, B, H, H, 1.0f, dpd, H, m->pool_w, H, 0.0f, m->dh, T * H);
    for (int l = c->layers - 1; l >= lowest; l--) {
        const sl_nn_d2_acts *a = &m->acts[l];
        const sl_nn_d2_layer *lw = &m->layer[l];
        const int need_dx = l > lowest;
        float *dz = m->dtmp;
        /* mlp.layernorm: dz = d(ln2_in) = d h1 (residual part) */
        sl_nn_k_layernorm_bwd(dz, m->dh, a->ln2_in, a->ln2_mean, a->ln2_rstd, lw->ln2_w, N, H, 0);
        linear_lora_bwd(m, l, SL_NN_D2_WO, m->dg, 0, dz, a->g, N, a->u[SL_NN_D2_WO]);
        if (m->drop_on)
            sl_nn_k_dropout_cached(m->dg, (size_t)N * NI, c->hidden_dropout, m->drop.seed,
                                   sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_OUT), a->out_keep, 1);
        sl_nn_k_geglu_bwd(m->dG, m->dg, a->gated, N, NI);
        linear_lora_bwd(m, l, SL_NN_D2_GATED, dz, 1, m->dG, a->h1, N, a->u[SL_NN_D2_GATED]);
        /* attention.output.LayerNorm: dh2 = d(ln1_in) = d x (residual part) */
        sl_nn_k_layernorm_bwd(m->dh2, dz, a->ln1_in, a->ln1_mean, a->ln1_rstd, lw->ln1_w, N, H, 0);
        memcpy(dz, m->dh2, (size_t)N * H * sizeof(float));
        if (m->drop_on)
            sl_nn_k_dropout_cached(dz, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                                   sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_AO), a->ao_keep, 1);
        linear_lora_bwd(m, l, SL_NN_D2_AO, m->dctx, 0, dz, a->ctx, N, a->u[SL_NN_D2_AO]);
        attention(m, a, 1);
        linear_lora_bwd(m, l, SL_NN_D2_WQKV, need_dx ? m->dh2 : NULL, 1, m->dqkv, m->h[l], N,
                        a->u[SL_NN_D2_WQKV]);
        float *t = m->dh;
        m->dh = m->dh2;
        m->dh2 = t;
    }
    return m->wmats.bwd ? sl_nn_dnnl_take_error(err) : 0;
}
