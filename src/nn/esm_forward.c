/* The ESM forward pass (pre-LN layers, rotary or absolute positions, token-dropout scaling, SwiGLU for NT
 * v2) and the EsmClassificationHead. */
#include <math.h>
#include <string.h>

#include "esm_impl.h"
#include "parallel.h"

sl_nn_lora_linear sl_nn_esm_lora(sl_nn_esm *m, int l, int mod) {
    const sl_nn_esm_layer *lw = &m->layer[l];
    const size_t slot = (size_t)l * SL_NN_NMOD + mod;
    return (sl_nn_lora_linear){.w = lw->w[mod],
                               .b = lw->b[mod],
                               .wd = m->wmats.fwd ? m->wmats.fwd[slot] : NULL,
                               .wd_t = m->wmats.bwd ? m->wmats.bwd[slot] : NULL,
                               .A = lw->lora_a[mod],
                               .B = lw->lora_b[mod],
                               .gA = lw->glora_a[mod],
                               .gB = lw->glora_b[mod],
                               .in = sl_nn_esm_mod_in(&m->cfg, mod),
                               .out = sl_nn_esm_mod_out(&m->cfg, mod),
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

static void linear_lora(sl_nn_esm *m, int l, int mod, float *y, const float *x, int N, float *u) {
    const sl_nn_lora_linear L = sl_nn_esm_lora(m, l, mod);
    sl_nn_lora_linear_fwd(&L, y, x, N, u);
}

typedef struct {
    sl_nn_esm *m;
    sl_nn_esm_acts *a;
    const sl_nn_k_attn_dnnl *dn; /* oneDNN products, or NULL: OpenBLAS */
} attn_job;

static void attention_task(void *p, size_t task, int worker) {
    const attn_job *j = p;
    sl_nn_esm *m = j->m;
    sl_nn_esm_acts *a = j->a;
    const int T = m->T, H = m->cfg.b.hidden, nh = m->cfg.b.heads, d = H / nh;
    const int b = (int)task / nh, h = (int)task % nh;
    const size_t off = (size_t)b * T * H + (size_t)h * d;
    /* the query is already scaled by d^-0.5 (ESM scales before rotary) */
    sl_nn_k_attention_head(a->P + task * T * T, a->ctx + off, a->q + off, a->k + off, a->v + off, H, H, T, d,
                           1.0f, NULL, m->mask + (size_t)b * T, j->dn, worker);
}

/* Every (batch row, head) of layer activations a, on the pool. */
static void attention(sl_nn_esm *m, sl_nn_esm_acts *a) {
    const int H = m->cfg.b.hidden, d = H / m->cfg.b.heads;
    sl_nn_k_attn_dnnl dn;
    attn_job j = {m, a, NULL};
    if (m->wmats.fwd) { /* oneDNN products, like the Linears */
        int rc = sl_nn_k_attention_dnnl(&dn, 0, m->T, d, H, H, 1.0f, m->wmats.bf16);
        if (rc < 0) return;     /* recorded; the forward fails at the end of the encoder */
        j.dn = rc ? NULL : &dn; /* 1: fp32 on OpenBLAS */
    }
    sl_nn_parallel_for((size_t)m->B * m->cfg.b.heads, attention_task, &j);
}

static void embeddings(sl_nn_esm *m, const int32_t *ids, const int32_t *mask, int B, int T) {
    const sl_nn_esm_config *c = &m->cfg;
    const int H = c->b.hidden, pad = c->b.pad_token_id;
    float *x = m->h[0];
    for (int b = 0; b < B; b++) {
        const int32_t *id = ids + (size_t)b * T, *mk = mask + (size_t)b * T;
        float scale = 1.0f;
        int nmask = 0, src = 0;
        for (int t = 0; t < T; t++) nmask += id[t] == c->mask_token_id, src += mk[t] != 0;
        if (c->token_dropout) scale = 1.0f - (float)nmask / (float)src;
        int pos = 0;
        for (int t = 0; t < T; t++) {
            float *row = x + ((size_t)b * T + t) * H;
            const float *we = m->word + (size_t)id[t] * H;
            if (c->token_dropout) {
                /* transformers: (emb * (1 - 0.15 * 0.8)) / (1 - mask_ratio_observed); masked rows 0 */
                const int zero = id[t] == c->mask_token_id;
                for (int j = 0; j < H; j++) row[j] = zero ? 0.0f : we[j] * 0.88f / scale;
            } else {
                memcpy(row, we, (size_t)H * sizeof(float));
            }
            if (!c->rotary) { /* pad-aware positions: cumsum(id != pad) * (id != pad) + pad */
                int pid = pad;
                if (id[t] != pad) pid = ++pos + pad;
                const float *pe = m->pos + (size_t)pid * H;
                for (int j = 0; j < H; j++) row[j] += pe[j];
            }
        }
    }
    const int N = B * T;
    if (c->emb_ln_before) sl_nn_k_layernorm(x, NULL, NULL, x, m->emb_ln_w, m->emb_ln_b, N, H, c->b.ln_eps);
    for (int i = 0; i < N; i++)
        if (!mask[i]) memset(x + (size_t)i * H, 0, (size_t)H * sizeof(float));
}

int sl_nn_esm_forward(sl_nn_esm *m, const int32_t *ids, const int32_t *mask, int B, int T,
                      const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err) {
    const sl_nn_esm_config *c = &m->cfg;
    if (B < 1 || B > m->max_batch || T < 1 || T > m->max_len)
        return sl_err_set(err, SL_EINTERNAL, "batch %dx%d exceeds the allocated %dx%d", B, T, m->max_batch,
                          m->max_len);
    const int H = c->b.hidden, N = B * T, C = c->b.num_labels, d = H / c->b.heads, NI = c->b.intermediate;
    for (int i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= c->b.vocab_size)
            return sl_err_set(err, SL_EDATA, "token id %d out of range (vocab_size %d)", ids[i],
                              c->b.vocab_size);
    for (int b = 0; b < B; b++)
        if (!mask[(size_t)b * T]) return sl_err_set(err, SL_EDATA, "row %d of the batch has no tokens", b);
    if (drop && (c->b.hidden_dropout > 0 || c->b.attn_dropout > 0))
        return sl_err_set(
            err, SL_EUSAGE,
            "training an ESM model with hidden_dropout_prob %g / attention_probs_dropout_prob %g "
            "is not implemented (ESM-2 and Nucleotide Transformer checkpoints use 0)",
            (double)c->b.hidden_dropout, (double)c->b.attn_dropout);
    memcpy(m->mask, mask, (size_t)N * sizeof(int32_t));
    m->B = B;
    m->T = T;
    m->drop_on = drop != NULL;
    if (drop) m->drop = *drop;
    m->have_labels = labels != NULL;
    if (labels) {
        size_t nl = c->b.problem == SL_NN_SINGLE_LABEL ? (size_t)B : (size_t)B * C;
        for (size_t i = 0; i < nl; i++) {
            if (!isfinite(labels[i])) return sl_err_set(err, SL_EDATA, "label %zu is not a finite number", i);
            if (c->b.problem == SL_NN_SINGLE_LABEL &&
                (labels[i] < 0 || labels[i] >= C || labels[i] != (int)labels[i]))
                return sl_err_set(err, SL_EDATA, "class index %g out of range 0..%d", labels[i], C - 1);
        }
        memcpy(m->labels, labels, nl * sizeof(float));
    }
    embeddings(m, ids, mask, B, T);
    const float qs = 1.0f / sqrtf((float)d);
    for (int l = 0; l < c->b.layers; l++) {
        sl_nn_esm_acts *a = &m->acts[l];
        const sl_nn_esm_layer *lw = &m->layer[l];
        const float *x = m->h[l];
        float *out = m->h[l + 1];
        sl_nn_k_layernorm(a->xl, a->ln1_mean, a->ln1_rstd, x, lw->ln1_w, lw->ln1_b, N, H, c->b.ln_eps);
        linear_lora(m, l, SL_NN_MOD_QUERY, a->q, a->xl, N, a->u[SL_NN_MOD_QUERY]);
        linear_lora(m, l, SL_NN_MOD_KEY, a->k, a->xl, N, a->u[SL_NN_MOD_KEY]);
        linear_lora(m, l, SL_NN_MOD_VALUE, a->v, a->xl, N, a->u[SL_NN_MOD_VALUE]);
        for (size_t i = 0; i < (size_t)N * H; i++) a->q[i] *= qs;
        if (c->rotary) {
            sl_nn_k_rotary(a->q, m->cos_t, m->sin_t, B, T, H, d, 0);
            sl_nn_k_rotary(a->k, m->cos_t, m->sin_t, B, T, H, d, 0);
        }
        attention(m, a);
        linear_lora(m, l, SL_NN_MOD_ATTN_OUT, a->a, a->ctx, N, a->u[SL_NN_MOD_ATTN_OUT]);
        for (size_t i = 0; i < (size_t)N * H; i++) a->a[i] += x[i];
        sl_nn_k_layernorm(a->f, a->ln2_mean, a->ln2_rstd, a->a, lw->ln2_w, lw->ln2_b, N, H, c->b.ln_eps);
        linear_lora(m, l, SL_NN_MOD_INTER, a->inter, a->f, N, a->u[SL_NN_MOD_INTER]);
        if (c->gated_ffn)
            sl_nn_k_swiglu(a->g, a->inter, N, NI);
        else
            sl_nn_k_gelu(a->g, a->inter, (size_t)N * NI);
        linear_lora(m, l, SL_NN_MOD_OUTPUT, out, a->g, N, a->u[SL_NN_MOD_OUTPUT]);
        for (size_t i = 0; i < (size_t)N * H; i++) out[i] += a->a[i];
    }
    int rc;
    if (m->wmats.fwd && (rc = sl_nn_dnnl_take_error(err))) return rc;
    sl_nn_k_layernorm(m->fin, m->fin_mean, m->fin_rstd, m->h[c->b.layers], m->after_w, m->after_b, N, H,
                      c->b.ln_eps);
    /* EsmClassificationHead on the first token */
    sl_nn_sgemm(0, 1, B, H, H, 1.0f, m->fin, T * H, m->cd_w, H, 0.0f, m->z, H);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) m->zd[(size_t)b * H + j] = tanhf(m->z[(size_t)b * H + j] + m->cd_b[j]);
    sl_nn_k_linear(m->logits, m->zd, m->co_w, m->co_b, B, H, C);
    if (labels) {
        float lv = sl_nn_k_seqcls_loss(c->b.problem, m->logits, m->labels, B, C, m->dlogits);
        if (loss) *loss = lv;
        if (!isfinite(lv)) return sl_err_set(err, SL_EDATA, "the loss is not finite (%g)", lv);
    }
    return 0;
}
