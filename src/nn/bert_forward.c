/* The forward pass and the losses. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "bert_impl.h"
#include "elementwise.h"
#include "parallel.h"
#include "prof.h"
#include "softmax.h"

/* y = x W^T + b (+ LoRA branch, keeping A x in u). x is [N, in]. */
static void linear_lora(sl_nn_bert *m, int l, int mod, float *y, const float *x, int N, int in, int out,
                        float *u) {
    const sl_nn_layer_w *lw = &m->layer[l];
    if (m->w_fwd)
        sl_nn_dnnl_gemm(m->w_fwd[(size_t)l * SL_NN_NMOD + mod], N, x, in, lw->b[mod], 0, y, out);
    else
        sl_nn_k_linear(y, x, lw->w[mod], lw->b[mod], N, in, out);
    const float *A = lw->lora_a[mod], *B = lw->lora_b[mod];
    if (!A) return;
    const int r = m->spec.r;
    const float *xin = x;
    if (m->drop_on && m->spec.dropout > 0) {
        memcpy(m->xd, x, (size_t)N * in * sizeof(float));
        sl_nn_k_dropout_cached(m->xd, (size_t)N * in, m->spec.dropout, m->drop.seed,
                               sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_LORA + mod), m->acts[l].lkeep[mod],
                               0);
        xin = m->xd;
    }
    sl_nn_sgemm(0, 1, N, r, in, 1.0f, xin, in, A, in, 0.0f, u, r);
    sl_nn_sgemm(0, 1, N, out, r, m->scaling, u, r, B, r, 1.0f, y, out);
}

typedef struct {
    sl_nn_bert *m;
    int l, B, T;
    sl_nn_acts *a;
    const sl_nn_dnnl_mm *qk, *pv; /* bf16 mode: the two products, NULL in fp32 */
} attn_job;

/* One (batch row, head): P = softmax(q k^T / sqrt(d) over the unmasked keys), ctx = dropout(P) v. */
static void attention_task(void *p, size_t task, int worker) {
    const attn_job *j = p;
    sl_nn_bert *m = j->m;
    const sl_nn_acts *a = j->a;
    const int T = j->T, H = m->cfg.hidden, nh = m->cfg.heads, d = H / nh;
    const int b = (int)task / nh, h = (int)task % nh;
    const float scale = 1.0f / sqrtf((float)d);
    const float pdrop = m->drop_on ? m->cfg.attn_dropout : 0.0f;
    const int32_t *mk = m->mask + (size_t)b * T;
    const size_t off = (size_t)b * T * H + (size_t)h * d;
    /* training keeps P for the backward pass; inference softmaxes into the worker's scratch, which stays in
     * cache for the PV product, instead of writing B x heads x T x T floats to memory */
    float *P = m->training ? a->P + task * T * T : m->scratch + ((size_t)worker * 2 + 1) * T * T;
    /* bf16 mode: q, k, v and dropout(P) rounded to bf16 in the worker's scratch, products in fp32 */
    uint16_t *v16 = NULL, *p16 = NULL;
    if (j->qk && m->bf16) {
        uint16_t *q16 = sl_nn_dnnl_worker_scratch(worker), *k16 = q16 + (size_t)T * d;
        v16 = k16 + (size_t)T * d, p16 = v16 + (size_t)T * d;
        sl_nn_bf16_round_rows(q16, (size_t)d, a->q + off, (size_t)H, T, d);
        sl_nn_bf16_round_rows(k16, (size_t)d, a->k + off, (size_t)H, T, d);
        sl_nn_dnnl_mm_run(j->qk, worker, q16, k16, P);
    } else if (j->qk) {
        sl_nn_dnnl_mm_run(j->qk, worker, a->q + off, a->k + off, P);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d, scale, a->q + off, H, a->k + off, H,
                    0.0f, P, T);
    }
    for (int i = 0; i < T; i++) sl_nn_k_softmax_masked(P + (size_t)i * T, mk, T);
    const float *Pd = P;
    if (pdrop > 0) {
        float *sp = m->scratch + (size_t)worker * 2 * T * T;
        const uint64_t hi = sl_nn_drop_hi(m->drop.micro, j->l, SL_NN_DROP_ATTN);
        if (a->keep) { /* training: keep the mask as bits for the backward pass */
            uint64_t *bits = a->keep + task * (((size_t)T * T + 63) / 64);
            sl_nn_k_dropout_bits(bits, (size_t)T * T, pdrop, m->drop.seed, hi, task * T * T);
            sl_nn_k_apply_bits(sp, P, bits, (size_t)T * T, 1.0f / (1.0f - pdrop));
        } else {
            memcpy(sp, P, (size_t)T * T * sizeof(float));
            sl_nn_k_dropout(sp, (size_t)T * T, pdrop, m->drop.seed, hi, task * T * T);
        }
        Pd = sp;
    }
    if (j->pv && m->bf16) {
        sl_nn_bf16_round(p16, Pd, (size_t)T * T);
        sl_nn_bf16_round_rows(v16, (size_t)d, a->v + off, (size_t)H, T, d);
        sl_nn_dnnl_mm_run(j->pv, worker, p16, v16, a->ctx + off);
    } else if (j->pv) {
        sl_nn_dnnl_mm_run(j->pv, worker, Pd, a->v + off, a->ctx + off);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d, T, 1.0f, Pd, T, a->v + off, H, 0.0f,
                    a->ctx + off, H);
    }
}

static void attention(sl_nn_bert *m, int l, sl_nn_acts *a, int B, int T) {
    attn_job j = {m, l, B, T, a, NULL, NULL};
    if (m->w_fwd) { /* oneDNN: bf16 operands are contiguous copies (ld d), fp32 ones the slices (ld H) */
        const int H = m->cfg.hidden, d = H / m->cfg.heads, ld = m->bf16 ? d : H;
        const sl_nn_dnnl_type type = m->bf16 ? SL_NN_DNNL_BF16 : SL_NN_DNNL_FP32;
        const size_t scratch = m->bf16 ? 3 * (size_t)T * d + (size_t)T * T : 0;
        j.qk = sl_nn_dnnl_mm_get(T, T, d, 0, ld, 1, ld, T, 1.0f / sqrtf((float)d), type, scratch);
        j.pv = sl_nn_dnnl_mm_get(T, d, T, 0, T, 0, ld, H, 1.0f, type, scratch);
        if ((!j.qk || !j.pv) && m->bf16) return; /* recorded; the forward fails at the end of the encoder */
        if (!j.qk || !j.pv) j.qk = j.pv = NULL;  /* fp32: OpenBLAS runs them */
    }
    double t0 = sl_nn_prof_begin();
    sl_nn_parallel_for((size_t)B * m->cfg.heads, attention_task, &j);
    if (t0 != 0.0)
        sl_nn_prof_flops(4.0 * B * T * T * m->cfg.hidden); /* QK^T and PV: 2 T T d each, per head */
    sl_nn_prof_end(SL_NN_PH_ATTENTION, t0);
}

typedef struct {
    const sl_nn_bert *m;
    const int32_t *ids;
    float *x;
    int N, T;
} emb_job;

#define EMB_ROWS 64

/* Rows [64 t, 64 t + 64) of the embedding sum word + position + token type (type 0). */
static void emb_task(void *p, size_t task, int worker) {
    (void)worker;
    const emb_job *j = p;
    const sl_nn_bert *m = j->m;
    const int H = m->cfg.hidden;
    const int r1 = (int)(task + 1) * EMB_ROWS < j->N ? (int)(task + 1) * EMB_ROWS : j->N;
    for (int i = (int)task * EMB_ROWS; i < r1; i++) {
        float *row = j->x + (size_t)i * H;
        const float *we = m->word + (size_t)j->ids[i] * H, *pe = m->pos + (size_t)(i % j->T) * H;
        for (int c = 0; c < H; c++) row[c] = we[c] + pe[c] + m->type[c];
    }
}

static float loss_and_grad(sl_nn_bert *m, int B) {
    const int C = m->cfg.num_labels;
    const float *x = m->logits, *y = m->labels;
    float *g = m->dlogits;
    double total = 0;
    if (m->cfg.problem == SL_NN_SINGLE_LABEL) {
        for (int b = 0; b < B; b++) {
            const float *row = x + (size_t)b * C;
            int t = (int)y[b];
            float mx = row[0];
            for (int c = 1; c < C; c++) mx = row[c] > mx ? row[c] : mx;
            double s = 0;
            for (int c = 0; c < C; c++) s += exp((double)row[c] - mx);
            double lse = mx + log(s);
            total += lse - row[t];
            for (int c = 0; c < C; c++) g[(size_t)b * C + c] = (float)((exp(row[c] - lse) - (c == t)) / B);
        }
        return (float)(total / B);
    }
    size_t n = (size_t)B * C;
    for (size_t i = 0; i < n; i++) {
        double xi = x[i], yi = y[i];
        if (m->cfg.problem == SL_NN_MULTI_LABEL) {
            total += (xi > 0 ? xi : 0) - xi * yi + log1p(exp(-fabs(xi)));
            g[i] = (float)((1.0 / (1.0 + exp(-xi)) - yi) / (double)n);
        } else {
            total += (xi - yi) * (xi - yi);
            g[i] = (float)(2.0 * (xi - yi) / (double)n);
        }
    }
    return (float)(total / (double)n);
}

int sl_nn_bert_forward(sl_nn_bert *m, const int32_t *ids, const int32_t *mask, int B, int T,
                       const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    if (B < 1 || B > m->max_batch || T < 1 || T > m->max_len)
        return sl_err_set(err, SL_EINTERNAL, "batch %dx%d exceeds the allocated %dx%d", B, T, m->max_batch,
                          m->max_len);
    const int H = c->hidden, NI = c->intermediate, N = B * T, C = c->num_labels;
    int rc;
    for (int i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return sl_err_set(err, SL_EDATA, "token id %d out of range (vocab_size %d)", ids[i],
                              c->vocab_size);
    for (int b = 0; b < B; b++)
        if (!mask[(size_t)b * T]) return sl_err_set(err, SL_EDATA, "row %d of the batch has no tokens", b);
    if ((rc = sl_nn_bert_scratch(m, T, err))) return rc;
    memcpy(m->mask_copy, mask, (size_t)N * sizeof(int32_t));
    m->mask = m->mask_copy;
    if (m->ids_copy) memcpy(m->ids_copy, ids, (size_t)N * sizeof(int32_t));
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
    /* embeddings */
    float *x = m->h[0];
    emb_job ej = {m, ids, x, N, T};
    sl_nn_parallel_for(((size_t)N + EMB_ROWS - 1) / EMB_ROWS, emb_task, &ej);
    sl_nn_k_layernorm(x, NULL, NULL, x, m->emb_ln_w, m->emb_ln_b, N, H, c->ln_eps);
    if (m->drop_on)
        sl_nn_k_dropout(x, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                        sl_nn_drop_hi(m->drop.micro, -1, SL_NN_DROP_EMB), 0);
    /* encoder */
    for (int l = 0; l < c->layers; l++) {
        sl_nn_acts *a = &m->acts[l];
        const float *xin = m->h[l];
        float *out = m->h[l + 1];
        linear_lora(m, l, SL_NN_MOD_QUERY, a->q, xin, N, H, H, a->u[SL_NN_MOD_QUERY]);
        linear_lora(m, l, SL_NN_MOD_KEY, a->k, xin, N, H, H, a->u[SL_NN_MOD_KEY]);
        linear_lora(m, l, SL_NN_MOD_VALUE, a->v, xin, N, H, H, a->u[SL_NN_MOD_VALUE]);
        attention(m, l, a, B, T);
        linear_lora(m, l, SL_NN_MOD_ATTN_OUT, a->ln1_in, a->ctx, N, H, H, a->u[SL_NN_MOD_ATTN_OUT]);
        if (m->drop_on)
            sl_nn_k_dropout_cached(a->ln1_in, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                                   sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_AO), a->ao_keep, 0);
        sl_nn_k_add(a->ln1_in, xin, (size_t)N * H);
        sl_nn_k_layernorm(a->h1, a->ln1_mean, a->ln1_rstd, a->ln1_in, m->layer[l].ln1_w, m->layer[l].ln1_b, N,
                          H, c->ln_eps);
        linear_lora(m, l, SL_NN_MOD_INTER, a->inter, a->h1, N, H, NI, a->u[SL_NN_MOD_INTER]);
        sl_nn_k_gelu(a->gel, a->inter, (size_t)N * NI);
        linear_lora(m, l, SL_NN_MOD_OUTPUT, a->ln2_in, a->gel, N, NI, H, a->u[SL_NN_MOD_OUTPUT]);
        if (m->drop_on)
            sl_nn_k_dropout_cached(a->ln2_in, (size_t)N * H, c->hidden_dropout, m->drop.seed,
                                   sl_nn_drop_hi(m->drop.micro, l, SL_NN_DROP_OUT), a->out_keep, 0);
        sl_nn_k_add(a->ln2_in, a->h1, (size_t)N * H);
        sl_nn_k_layernorm(out, a->ln2_mean, a->ln2_rstd, a->ln2_in, m->layer[l].ln2_w, m->layer[l].ln2_b, N,
                          H, c->ln_eps);
    }
    if (m->w_fwd && (rc = sl_nn_dnnl_take_error(err))) return rc;
    /* pooler on [CLS], classifier */
    const float *last = m->h[c->layers];
    sl_nn_sgemm(0, 1, B, H, H, 1.0f, last, T * H, m->pool_w, H, 0.0f, m->pooled, H);
    for (int b = 0; b < B; b++) {
        float *p = m->pooled + (size_t)b * H;
        for (int j = 0; j < H; j++) p[j] = tanhf(p[j] + m->pool_b[j]);
    }
    memcpy(m->pooled_drop, m->pooled, (size_t)B * H * sizeof(float));
    if (m->drop_on)
        sl_nn_k_dropout(m->pooled_drop, (size_t)B * H, c->classifier_dropout, m->drop.seed,
                        sl_nn_drop_hi(m->drop.micro, -1, SL_NN_DROP_CLS), 0);
    sl_nn_k_linear(m->logits, m->pooled_drop, m->cls_w, m->cls_b, B, H, C);
    if (labels) {
        float lv = loss_and_grad(m, B);
        if (loss) *loss = lv;
        if (!isfinite(lv)) return sl_err_set(err, SL_EDATA, "the loss is not finite (%g)", lv);
    }
    return 0;
}
