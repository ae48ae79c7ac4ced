/* PEFT LoRA Linear forward/backward (lora_linear.h). */
#include "lora_linear.h"

#include <stdlib.h>
#include <string.h>

#include "bert_impl.h"
#include "parallel.h"

/* x, or dropout(x) in L->xd with the module's mask (drawn when `reuse` is 0, else the kept bits) */
static const float *lora_input(const sl_nn_lora_linear *L, const float *x, int N, int reuse) {
    if (L->dropout <= 0) return x;
    memcpy(L->xd, x, (size_t)N * L->in * sizeof(float));
    sl_nn_k_dropout_cached(L->xd, (size_t)N * L->in, L->dropout, L->seed, L->hi, L->keep, reuse);
    return L->xd;
}

void sl_nn_lora_linear_fwd(const sl_nn_lora_linear *L, float *y, const float *x, int N, float *u) {
    const int in = L->in, out = L->out, r = L->r;
    if (L->wd)
        sl_nn_dnnl_gemm(L->wd, N, x, in, L->b, 0, y, out);
    else
        sl_nn_k_linear(y, x, L->w, L->b, N, in, out);
    if (!L->A) return;
    const float *xin = lora_input(L, x, N, 0);
    sl_nn_sgemm(0, 1, N, r, in, 1.0f, xin, in, L->A, in, 0.0f, u, r);
    sl_nn_sgemm(0, 1, N, out, r, L->scaling, u, r, L->B, r, 1.0f, y, out);
}

void sl_nn_lora_linear_bwd(const sl_nn_lora_linear *L, float *dx, int acc, const float *dy, const float *x,
                           int N, const float *u) {
    const int in = L->in, out = L->out, r = L->r;
    if (dx && L->wd_t)
        sl_nn_dnnl_gemm(L->wd_t, N, dy, out, NULL, acc, dx, in);
    else if (dx)
        sl_nn_sgemm(0, 0, N, in, out, 1.0f, dy, out, L->w, in, acc ? 1.0f : 0.0f, dx, in);
    if (!L->A) return;
    const float s = L->scaling;
    const float *xin = lora_input(L, x, N, 1);
    sl_nn_sgemm(1, 0, out, r, N, s, dy, out, u, r, 1.0f, L->gB, r);
    sl_nn_sgemm(0, 0, N, r, out, s, dy, out, L->B, r, 0.0f, L->du, r);
    sl_nn_sgemm(1, 0, r, in, N, 1.0f, L->du, r, xin, in, 1.0f, L->gA, in);
    if (!dx) return;
    if (L->dropout > 0) { /* the input gradient of the LoRA branch goes back through the same mask */
        sl_nn_sgemm(0, 0, N, in, r, 1.0f, L->du, r, L->A, in, 0.0f, L->dwide, in);
        sl_nn_k_dropout_cached(L->dwide, (size_t)N * in, L->dropout, L->seed, L->hi, L->keep, 1);
        for (size_t i = 0; i < (size_t)N * in; i++) dx[i] += L->dwide[i];
    } else {
        sl_nn_sgemm(0, 0, N, in, r, 1.0f, L->du, r, L->A, in, 1.0f, dx, in);
    }
}

void sl_nn_lora_dnnl_free(sl_nn_lora_dnnl *s) {
    for (size_t i = 0; i < s->n; i++) {
        if (s->fwd) sl_nn_dnnl_mat_free(s->fwd[i]);
        if (s->bwd) sl_nn_dnnl_mat_free(s->bwd[i]);
    }
    free(s->fwd);
    free(s->bwd);
    memset(s, 0, sizeof *s);
}

int sl_nn_lora_dnnl_make(sl_nn_lora_dnnl *s, size_t n, sl_nn_lora_weight_fn weight, const void *model,
                         int training, sl_nn_dnnl_type type, sl_err *err) {
    sl_nn_lora_dnnl t = {.n = n, .bf16 = type == SL_NN_DNNL_BF16};
    t.fwd = calloc(n ? n : 1, sizeof *t.fwd);
    if (training) t.bwd = calloc(n ? n : 1, sizeof *t.bwd);
    int rc = !t.fwd || (training && !t.bwd)
                 ? sl_err_set(err, SL_ENOMEM, "out of memory for the GEMM operands")
                 : 0;
    for (size_t i = 0; i < n && !rc; i++) {
        int in = 0, out = 0;
        const float *w = weight(model, i, &in, &out);
        if (!w) continue;
        rc = sl_nn_dnnl_mat_create(w, in, out, 1, type, &t.fwd[i], err);
        if (!rc && t.bwd) rc = sl_nn_dnnl_mat_create(w, out, in, 0, type, &t.bwd[i], err);
    }
    if (rc) {
        sl_nn_lora_dnnl_free(&t);
        return rc;
    }
    sl_nn_lora_dnnl_free(s);
    *s = t;
    return 0;
}
