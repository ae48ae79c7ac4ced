/* The ESM backward pass: gradients of the LoRA matrices and of the classifier (dense + out_proj). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "esm_impl.h"
#include "parallel.h"

static void linear_lora_bwd(sl_nn_esm *m, int l, int mod, float *dx, int acc, const float *dy, const float *x,
                            int N, const float *u) {
    const sl_nn_lora_linear L = sl_nn_esm_lora(m, l, mod);
    sl_nn_lora_linear_bwd(&L, dx, acc, dy, x, N, u);
}

typedef struct {
    sl_nn_esm *m;
    const sl_nn_esm_acts *a;
    const sl_nn_k_attn_dnnl *dn; /* oneDNN products, or NULL: OpenBLAS */
} attn_job;

static void attention_bwd_task(void *p, size_t task, int worker) {
    const attn_job *j = p;
    sl_nn_esm *m = j->m;
    const sl_nn_esm_acts *a = j->a;
    const int T = m->T, H = m->cfg.b.hidden, nh = m->cfg.b.heads, d = H / nh;
    const int b = (int)task / nh, h = (int)task % nh;
    const size_t off = (size_t)b * T * H + (size_t)h * d;
    sl_nn_k_attention_head_bwd(m->dq + off, m->dk + off, m->dv + off, m->scratch + (size_t)worker * T * T,
                               m->dctx + off, a->P + task * T * T, a->q + off, a->k + off, a->v + off, H, H,
                               T, d, 1.0f, j->dn, worker);
}

/* The backward of every (batch row, head) of layer activations a, on the pool. */
static void attention_bwd(sl_nn_esm *m, const sl_nn_esm_acts *a) {
    const int H = m->cfg.b.hidden, d = H / m->cfg.b.heads;
    sl_nn_k_attn_dnnl dn;
    attn_job j = {m, a, NULL};
    if (m->wmats.bwd) { /* oneDNN products, like the Linears */
        int rc = sl_nn_k_attention_dnnl(&dn, 1, m->T, d, H, H, 1.0f, m->wmats.bf16);
        if (rc < 0) return;     /* recorded; the backward fails at its end */
        j.dn = rc ? NULL : &dn; /* 1: fp32 on OpenBLAS */
    }
    sl_nn_parallel_for((size_t)m->B * m->cfg.b.heads, attention_bwd_task, &j);
}

int sl_nn_esm_backward(sl_nn_esm *m, float loss_scale, sl_err *err) {
    if (!m->training || !m->have_labels)
        return sl_err_set(err, SL_EINTERNAL,
                          "backward needs a training model and a forward pass with labels");
    const sl_nn_esm_config *c = &m->cfg;
    const int B = m->B, T = m->T, H = c->b.hidden, NI = c->b.intermediate, C = c->b.num_labels, N = B * T,
              d = H / c->b.heads;
    size_t need = (size_t)sl_nn_get_threads() * T * T;
    if (need > m->scratch_len) {
        float *p = realloc(m->scratch, need * sizeof(float));
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory for attention scratch");
        m->scratch = p;
        m->scratch_len = need;
    }
    /* head: out_proj, tanh, dense on the first token of each row */
    for (size_t i = 0; i < (size_t)B * C; i++) m->dlogits[i] *= loss_scale;
    sl_nn_sgemm(1, 0, C, H, B, 1.0f, m->dlogits, C, m->zd, H, 1.0f, m->gco_w, H);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < C; k++) m->gco_b[k] += m->dlogits[(size_t)b * C + k];
    float *dz = m->dq; /* [B, H] scratch */
    sl_nn_sgemm(0, 0, B, H, C, 1.0f, m->dlogits, C, m->co_w, H, 0.0f, dz, H);
    for (size_t i = 0; i < (size_t)B * H; i++) dz[i] *= 1.0f - m->zd[i] * m->zd[i];
    sl_nn_sgemm(1, 0, H, H, B, 1.0f, dz, H, m->fin, T * H, 1.0f, m->gcd_w, H);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) m->gcd_b[j] += dz[(size_t)b * H + j];
    int lowest = c->b.layers;
    for (int l = 0; l < c->b.layers && lowest == c->b.layers; l++)
        for (int mod = 0; mod < SL_NN_NMOD; mod++)
            if (m->layer[l].lora_a[mod]) lowest = l;
    if (lowest == c->b.layers) return 0;
    float *dfin = m->dtmp;
    memset(dfin, 0, (size_t)N * H * sizeof(float));
    sl_nn_sgemm(0, 0, B, H, H, 1.0f, dz, H, m->cd_w, H, 0.0f, dfin, T * H);
    sl_nn_k_layernorm_bwd(m->dh, dfin, m->h[c->b.layers], m->fin_mean, m->fin_rstd, m->after_w, N, H, 0);
    const float qs = 1.0f / sqrtf((float)d);
    for (int l = c->b.layers - 1; l >= lowest; l--) {
        const sl_nn_esm_acts *a = &m->acts[l];
        const sl_nn_esm_layer *lw = &m->layer[l];
        const int need_dx = l > lowest;
        /* h = Linear_o(act(Linear_i(f))) + a, f = LN_ffn(a); dh holds d h */
        linear_lora_bwd(m, l, SL_NN_MOD_OUTPUT, m->dg, 0, m->dh, a->g, N, a->u[SL_NN_MOD_OUTPUT]);
        if (c->gated_ffn)
            sl_nn_k_swiglu_bwd(m->dI, m->dg, a->inter, N, NI);
        else
            sl_nn_k_gelu_bwd(m->dI, m->dg, a->inter, (size_t)N * NI);
        linear_lora_bwd(m, l, SL_NN_MOD_INTER, m->dtmp, 0, m->dI, a->f, N, a->u[SL_NN_MOD_INTER]);
        sl_nn_k_layernorm_bwd(m->dh, m->dtmp, a->a, a->ln2_mean, a->ln2_rstd, lw->ln2_w, N, H, 1);
        /* a = Linear_ao(ctx) + x; dh now holds d a */
        linear_lora_bwd(m, l, SL_NN_MOD_ATTN_OUT, m->dctx, 0, m->dh, a->ctx, N, a->u[SL_NN_MOD_ATTN_OUT]);
        attention_bwd(m, a);
        if (c->rotary) {
            sl_nn_k_rotary(m->dq, m->cos_t, m->sin_t, B, T, H, d, 1);
            sl_nn_k_rotary(m->dk, m->cos_t, m->sin_t, B, T, H, d, 1);
        }
        for (size_t i = 0; i < (size_t)N * H; i++) m->dq[i] *= qs;
        float *dxl = need_dx ? m->dh2 : NULL;
        linear_lora_bwd(m, l, SL_NN_MOD_QUERY, dxl, 0, m->dq, a->xl, N, a->u[SL_NN_MOD_QUERY]);
        linear_lora_bwd(m, l, SL_NN_MOD_KEY, dxl, 1, m->dk, a->xl, N, a->u[SL_NN_MOD_KEY]);
        linear_lora_bwd(m, l, SL_NN_MOD_VALUE, dxl, 1, m->dv, a->xl, N, a->u[SL_NN_MOD_VALUE]);
        if (need_dx)
            sl_nn_k_layernorm_bwd(m->dh, m->dh2, m->h[l], a->ln1_mean, a->ln1_rstd, lw->ln1_w, N, H, 1);
    }
    return m->wmats.bwd ? sl_nn_dnnl_take_error(err) : 0;
}
