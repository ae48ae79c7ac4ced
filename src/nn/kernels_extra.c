/* Kernels the non-BERT families need: rotary position embeddings, a per-head attention with an
 * additive bias (ALiBi) and the sequence-classification losses, written once for every family. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "esm_impl.h"
#include "parallel.h"
#include "softmax.h"

void sl_nn_k_rotary_tables(float *cos_t, float *sin_t, int T, int d) {
    const int h = d / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < h; i++) {
            /* as torch: inv_freq = 1 / 10000^(2i/d) in float32, freqs = t * inv_freq in float32 */
            float inv = 1.0f / powf(10000.0f, (float)(2 * i) / (float)d);
            float f = (float)t * inv;
            float c = cosf(f), s = sinf(f);
            cos_t[(size_t)t * d + i] = cos_t[(size_t)t * d + i + h] = c;
            sin_t[(size_t)t * d + i] = sin_t[(size_t)t * d + i + h] = s;
        }
}

typedef struct {
    float *x;
    const float *cos_t, *sin_t;
    int B, T, H, d;
    float sg;
} rotary_job;

#define ROTARY_ROWS 32

/* Rows (b, t) = [32 task, 32 task + 32) of the B x T rows: each row's heads rotated in place. */
static void rotary_task(void *p, size_t task, int worker) {
    (void)worker;
    const rotary_job *j = p;
    const int h = j->d / 2, nh = j->H / j->d, n = j->B * j->T;
    const int r1 = (int)(task + 1) * ROTARY_ROWS < n ? (int)(task + 1) * ROTARY_ROWS : n;
    for (int row = (int)task * ROTARY_ROWS; row < r1; row++) {
        const int t = row % j->T;
        const float *c = j->cos_t + (size_t)t * j->d, *s = j->sin_t + (size_t)t * j->d;
        for (int hd = 0; hd < nh; hd++) {
            float *r = j->x + (size_t)row * j->H + (size_t)hd * j->d;
            for (int i = 0; i < h; i++) {
                float x1 = r[i], x2 = r[i + h];
                /* forward: [x1 c - x2 s, x2 c + x1 s]; transpose: [x1 c + x2 s, x2 c - x1 s] */
                r[i] = x1 * c[i] - j->sg * x2 * s[i];
                r[i + h] = x2 * c[i + h] + j->sg * x1 * s[i + h];
            }
        }
    }
}

void sl_nn_k_rotary(float *x, const float *cos_t, const float *sin_t, int B, int T, int H, int d,
                    int inverse) {
    rotary_job j = {x, cos_t, sin_t, B, T, H, d, inverse ? -1.0f : 1.0f};
    size_t n = (size_t)(B > 0 ? B : 0) * (size_t)(T > 0 ? T : 0);
    sl_nn_parallel_for((n + ROTARY_ROWS - 1) / ROTARY_ROWS, rotary_task, &j);
}

float sl_nn_k_seqcls_loss(sl_nn_problem problem, const float *x, const float *y, int B, int C, float *g) {
    double total = 0;
    if (problem == SL_NN_SINGLE_LABEL) {
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
        if (problem == SL_NN_MULTI_LABEL) {
            total += (xi > 0 ? xi : 0) - xi * yi + log1p(exp(-fabs(xi)));
            g[i] = (float)((1.0 / (1.0 + exp(-xi)) - yi) / (double)n);
        } else {
            total += (xi - yi) * (xi - yi);
            g[i] = (float)(2.0 * (xi - yi) / (double)n);
        }
    }
    return (float)(total / (double)n);
}

int sl_nn_k_attention_dnnl(sl_nn_k_attn_dnnl *p, int backward, int T, int d, int ld, int ldo, float scale,
                           int bf16) {
    /* bf16 operands are contiguous rounded copies (leading dimension d), fp32 ones the slices themselves */
    const sl_nn_dnnl_type ty = bf16 ? SL_NN_DNNL_BF16 : SL_NN_DNNL_FP32;
    const int lq = bf16 ? d : ld, lo = bf16 ? d : ldo;
    memset(p, 0, sizeof *p);
    p->bf16 = bf16;
    if (!backward) {
        const size_t scratch = bf16 ? 2 * (size_t)T * d + (size_t)T * T : 0;
        p->qk = sl_nn_dnnl_mm_get(T, T, d, 0, lq, 1, lq, T, scale, ty, scratch); /* scale q k^T */
        p->pv = sl_nn_dnnl_mm_get(T, d, T, 0, T, 0, lq, ldo, 1.0f, ty, scratch); /* P v */
        return p->qk && p->pv ? 0 : bf16 ? -1 : 1;
    }
    const size_t scratch = bf16 ? 4 * (size_t)T * d + (size_t)T * T : 0;
    p->dp = sl_nn_dnnl_mm_get(T, T, d, 0, lo, 1, lq, T, 1.0f, ty, scratch);  /* dctx v^T */
    p->dv = sl_nn_dnnl_mm_get(T, d, T, 1, T, 0, lo, ld, 1.0f, ty, scratch);  /* P^T dctx */
    p->dq = sl_nn_dnnl_mm_get(T, d, T, 0, T, 0, lq, ld, scale, ty, scratch); /* scale dP k */
    p->dk = sl_nn_dnnl_mm_get(T, d, T, 1, T, 0, lq, ld, scale, ty, scratch); /* scale dP^T q */
    return p->dp && p->dv && p->dq && p->dk ? 0 : bf16 ? -1 : 1;
}

void sl_nn_k_attention_head(float *P, float *ctx, const float *q, const float *k, const float *v, int ld,
                            int ldo, int T, int d, float scale, const float *bias, const int32_t *mk,
                            const sl_nn_k_attn_dnnl *dn, int worker) {
    /* bf16: q, k, v and P rounded into the worker's scratch, products accumulated in fp32 */
    uint16_t *q16 = dn && dn->bf16 ? sl_nn_dnnl_worker_scratch(worker) : NULL;
    if (q16) {
        uint16_t *k16 = q16 + (size_t)T * d;
        sl_nn_bf16_round_rows(q16, (size_t)d, q, (size_t)ld, T, d);
        sl_nn_bf16_round_rows(k16, (size_t)d, k, (size_t)ld, T, d);
        sl_nn_dnnl_mm_run(dn->qk, worker, q16, k16, P);
    } else if (dn) {
        sl_nn_dnnl_mm_run(dn->qk, worker, q, k, P);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d, scale, q, ld, k, ld, 0.0f, P, T);
    }
    for (int i = 0; i < T; i++) {
        float *row = P + (size_t)i * T;
        if (bias)
            for (int j = 0; j < T; j++) row[j] += bias[(size_t)i * T + j];
        sl_nn_k_softmax_masked(row, mk, T);
    }
    if (q16) { /* q16 and k16 are free again */
        uint16_t *v16 = q16, *p16 = q16 + (size_t)T * d;
        sl_nn_bf16_round(p16, P, (size_t)T * T);
        sl_nn_bf16_round_rows(v16, (size_t)d, v, (size_t)ld, T, d);
        sl_nn_dnnl_mm_run(dn->pv, worker, p16, v16, ctx);
    } else if (dn) {
        sl_nn_dnnl_mm_run(dn->pv, worker, P, v, ctx);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d, T, 1.0f, P, T, v, ld, 0.0f, ctx, ldo);
    }
}

void sl_nn_k_attention_head_bwd(float *dq, float *dk, float *dv, float *dP, const float *dctx, const float *P,
                                const float *q, const float *k, const float *v, int ld, int ldo, int T, int d,
                                float scale, const sl_nn_k_attn_dnnl *dn, int worker) {
    if (dn && dn->bf16) { /* operands rounded into the worker's scratch, products accumulated in fp32 */
        uint16_t *c16 = sl_nn_dnnl_worker_scratch(worker), *v16 = c16 + (size_t)T * d,
                 *k16 = v16 + (size_t)T * d, *q16 = k16 + (size_t)T * d, *p16 = q16 + (size_t)T * d;
        sl_nn_bf16_round_rows(c16, (size_t)d, dctx, (size_t)ldo, T, d);
        sl_nn_bf16_round_rows(v16, (size_t)d, v, (size_t)ld, T, d);
        sl_nn_dnnl_mm_run(dn->dp, worker, c16, v16, dP);
        sl_nn_bf16_round(p16, P, (size_t)T * T);
        sl_nn_dnnl_mm_run(dn->dv, worker, p16, c16, dv);
        for (int i = 0; i < T; i++) sl_nn_k_softmax_bwd(dP + (size_t)i * T, P + (size_t)i * T, T);
        sl_nn_bf16_round(p16, dP, (size_t)T * T);
        sl_nn_bf16_round_rows(k16, (size_t)d, k, (size_t)ld, T, d);
        sl_nn_bf16_round_rows(q16, (size_t)d, q, (size_t)ld, T, d);
        sl_nn_dnnl_mm_run(dn->dq, worker, p16, k16, dq);
        sl_nn_dnnl_mm_run(dn->dk, worker, p16, q16, dk);
        return;
    }
    if (dn) { /* fp32 oneDNN: the operands where they lie */
        sl_nn_dnnl_mm_run(dn->dp, worker, dctx, v, dP);
        sl_nn_dnnl_mm_run(dn->dv, worker, P, dctx, dv);
        for (int i = 0; i < T; i++) sl_nn_k_softmax_bwd(dP + (size_t)i * T, P + (size_t)i * T, T);
        sl_nn_dnnl_mm_run(dn->dq, worker, dP, k, dq);
        sl_nn_dnnl_mm_run(dn->dk, worker, dP, q, dk);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d, 1.0f, dctx, ldo, v, ld, 0.0f, dP, T);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, d, T, 1.0f, P, T, dctx, ldo, 0.0f, dv, ld);
    for (int i = 0; i < T; i++) sl_nn_k_softmax_bwd(dP + (size_t)i * T, P + (size_t)i * T, T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d, T, scale, dP, T, k, ld, 0.0f, dq, ld);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, d, T, scale, dP, T, q, ld, 0.0f, dk, ld);
}
