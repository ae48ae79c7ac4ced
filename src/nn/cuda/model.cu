/* The LoRA model on one CUDA device: one device allocation carved into weights, activations, scratch,
 * the trainable arena with its gradients and AdamW moments, and the cuBLAS workspace; forward, backward
 * and the optimizer step with the CPU engine's semantics, step for step, so that every intermediate can be
 * compared: BERT (src/nn/bert_forward.c, bert_backward.c), ESM / Nucleotide Transformer (esm_forward.c,
 * esm_backward.c: pre-LN, rotary or absolute positions, token-dropout scaling, SwiGLU, the final
 * LayerNorm and EsmClassificationHead) and DNABERT-2 (dnabert2_pass.c: fused Wqkv, ALiBi, GeGLU, post-LN),
 * and optim.c for the step.
 *
 * Precision: fp32 runs every GEMM in true fp32 (no TF32). bf16/fp16 keep the frozen Linear weights in
 * bf16/fp16 only (no fp32 copy) and cast each GEMM's activation operand to the same type (fp32
 * accumulation and output); the attention GEMMs run on fp32 storage with CUBLAS_COMPUTE_32F_FAST_16BF/16F.
 * Embeddings, biases, LayerNorm, pooler, LoRA and head stay fp32; activations are stored in fp32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "check.h"
#include "elem.h"
#include "kernels.h"
#include "model.h"

/* Named (not anonymous): sl_cuda_model below has members of these types. */
namespace sl_cuda_detail {

enum { MOD_Q = 0, MOD_K, MOD_V, MOD_AO, MOD_I, MOD_O, NMOD = 6 };
enum { DROP_EMB = 1, DROP_ATTN = 2, DROP_AO = 3, DROP_OUT = 4, DROP_CLS = 5, DROP_LORA = 8 };

const size_t kWorkspace = (size_t)32 << 20; /* cuBLAS workspace */

struct Acts {
    float *q, *k, *v, *P, *ctx, *ln1_in, *ln1_mean, *ln1_rstd, *h1, *inter, *gel, *ln2_in, *ln2_mean,
        *ln2_rstd;
    float *u[NMOD];
    uint64_t *keep;
};

/* Per-layer activations by family (names are BERT's):
 *   BERT: h1 = LN1 output, ln1_in / ln2_in = the post-LN inputs, inter / gel = intermediate before/after
 * GELU; ESM:  h1 = LN_attn(x) (ln1 stats), ln1_in = a (attention residual), ln2_in = LN_ffn(a) (ln2 stats),
 *         inter [N, I or 2I] before the activation, gel [N, I] after it;
 *   DNABERT-2: q = Wqkv output [N, 3H] (k = q + H, v = q + 2H, row stride 3H), inter [N, 2I] (gated_layers),
 *         gel = GeGLU output after dropout [N, I]; otherwise as BERT. */
struct Layer {
    void *w[NMOD]; /* fp32, bf16 or fp16; NULL past the family's module count */
    float *b[NMOD], *ln1_w, *ln1_b, *ln2_w, *ln2_b; /* b[k] NULL: a bias-free Linear */
    float *la[NMOD], *lb[NMOD], *gla[NMOD], *glb[NMOD];
};

} // namespace sl_cuda_detail

using namespace sl_cuda_detail;

struct sl_cuda_model {
    sl_cuda_desc d;
    std::vector<int64_t> la_off, lb_off;
    std::vector<size_t> tsizes;
    int dev = 0;
    cudaStream_t s = nullptr;
    cublasHandle_t h = nullptr;
    char *arena = nullptr;
    sl_cuda_mem mem{};
    /* weights */
    float *word, *pos, *type, *eln_w, *eln_b, *pool_w, *pool_b, *cls_w, *cls_b;
    float *after_w = nullptr, *after_b = nullptr, *rot_cos = nullptr, *rot_sin = nullptr, *slopes = nullptr;
    float *gpool_w, *gpool_b, *gcls_w, *gcls_b;
    std::vector<Layer> L;
    float *tparams, *tgrads, *adam_m, *adam_v;
    /* activations */
    std::vector<Acts> A;
    std::vector<float *> hs;
    float *pooled, *pooled_drop, *logits, *dlogits, *labels;
    float *fin = nullptr, *fin_mean = nullptr, *fin_rstd = nullptr, *row_div = nullptr; /* ESM */
    int32_t *pos_ids = nullptr;                                                         /* ESM absolute */
    std::vector<int32_t> h_pos_ids;
    std::vector<float> h_row_div;
    double *loss_part, *sumsq;
    int32_t *ids, *mask;
    /* scratch */
    void *xh;
    float *xd, *Pd, *dP, *dh, *dh2, *dq, *dk, *dv, *dctx, *dtmp, *dI, *du, *dwide, *dg = nullptr;
    void *ws;
    /* last forward */
    int B = 0, T = 0, drop_on = 0, have_labels = 0;
    int qkv_ld = 0; /* row stride of q, k, v and their gradients: H, or 3H (DNABERT-2's fused Wqkv) */
    uint64_t seed = 0, micro = 0;
    cudaDataType_t wtype = CUDA_R_32F;
    cublasComputeType_t attn_ct = CUBLAS_COMPUTE_32F;
};

namespace {

/* Carve the device arena (base = NULL: only count). Every buffer is 256-byte aligned. */
struct Carver {
    char *base;
    size_t off = 0;
    size_t *bucket;
    void *take(size_t bytes) {
        size_t a = (bytes + 255) & ~(size_t)255;
        void *p = base ? base + off : nullptr;
        off += a;
        *bucket += a;
        return p;
    }
    float *f(size_t n) {
        return (float *)take(n * sizeof(float));
    }
};

size_t wbytes(int precision) {
    return precision == SL_CUDA_FP32 ? 4 : 2;
}

/* Module count and Linear shapes of the family (sl_nn_esm_mod_in/out, sl_nn_d2_mod_in/out). */
int nmods(const sl_cuda_desc &d) {
    return d.family == SL_CUDA_FAMILY_DNABERT2 ? 4 : NMOD;
}
size_t mod_in(const sl_cuda_desc &d, int k) {
    const size_t H = d.hidden, I = d.inter;
    if (d.family == SL_CUDA_FAMILY_DNABERT2) return k == 3 ? I : H;
    return k == MOD_O ? I : H;
}
size_t mod_out(const sl_cuda_desc &d, int k) {
    const size_t H = d.hidden, I = d.inter;
    if (d.family == SL_CUDA_FAMILY_DNABERT2) return k == 0 ? 3 * H : k == 2 ? 2 * I : H;
    if (d.family == SL_CUDA_FAMILY_ESM && k == MOD_I && d.gated_ffn) return 2 * I;
    return k == MOD_I ? I : H;
}
/* Width of the feed-forward's first output (before the activation). */
size_t ffn_width(const sl_cuda_desc &d) {
    return mod_out(d, d.family == SL_CUDA_FAMILY_DNABERT2 ? 2 : MOD_I);
}
bool has_pos(const sl_cuda_desc &d) {
    return d.family == SL_CUDA_FAMILY_BERT || (d.family == SL_CUDA_FAMILY_ESM && !d.rotary);
}
bool has_emb_ln(const sl_cuda_desc &d) {
    return d.family != SL_CUDA_FAMILY_ESM || d.emb_ln_before;
}
bool glu(const sl_cuda_desc &d) {
    return d.family == SL_CUDA_FAMILY_DNABERT2 || (d.family == SL_CUDA_FAMILY_ESM && d.gated_ffn);
}

void carve(sl_cuda_model *m, char *base) {
    const sl_cuda_desc &d = m->d;
    sl_cuda_mem &mem = m->mem;
    mem = sl_cuda_mem{};
    Carver c{base, 0, &mem.weights};
    const size_t H = d.hidden, I = d.inter, N = (size_t)d.max_batch * d.max_len, r = d.lora_r;
    const size_t W = H > I ? H : I, nh = d.heads, PP = (size_t)d.max_batch * nh * d.max_len * d.max_len;
    const size_t IW = ffn_width(d), QW = d.family == SL_CUDA_FAMILY_DNABERT2 ? 3 * H : H;
    size_t WX = W; /* the widest Linear operand (bf16/fp16 casts) */
    for (int k = 0; k < nmods(d); k++) WX = std::max(WX, std::max(mod_in(d, k), mod_out(d, k)));
    const size_t C = d.num_labels, Bm = d.max_batch;
    const int train = d.training;
    const size_t ws = wbytes(d.precision);
    m->word = c.f((size_t)d.vocab * H);
    m->pos = has_pos(d) ? c.f((size_t)d.max_pos * H) : nullptr;
    m->type = d.family != SL_CUDA_FAMILY_ESM ? c.f(H) : nullptr;
    m->eln_w = has_emb_ln(d) ? c.f(H) : nullptr;
    m->eln_b = has_emb_ln(d) ? c.f(H) : nullptr;
    if (d.family == SL_CUDA_FAMILY_ESM) {
        m->after_w = c.f(H);
        m->after_b = c.f(H);
        if (d.rotary) {
            m->rot_cos = c.f((size_t)d.max_len * (H / nh));
            m->rot_sin = c.f((size_t)d.max_len * (H / nh));
        }
    }
    if (d.family == SL_CUDA_FAMILY_DNABERT2) m->slopes = c.f(nh);
    m->L.assign(d.layers, Layer{});
    for (int l = 0; l < d.layers; l++) {
        Layer &y = m->L[l];
        for (int k = 0; k < nmods(d); k++) {
            y.w[k] = c.take(mod_in(d, k) * mod_out(d, k) * ws);
            y.b[k] = c.f(mod_out(d, k));
        }
        y.ln1_w = c.f(H);
        y.ln1_b = c.f(H);
        y.ln2_w = c.f(H);
        y.ln2_b = c.f(H);
    }
    const bool pool_trained = d.pool_w_off >= 0;
    if (!pool_trained) {
        m->pool_w = c.f(H * H);
        m->pool_b = c.f(H);
    }
    /* trainable arena: params, grads, moments */
    c.bucket = &mem.optimizer;
    m->tparams = c.f(d.n_train);
    m->tgrads = train ? c.f(d.n_train) : nullptr;
    m->adam_m = train ? c.f(d.n_train) : nullptr;
    m->adam_v = train ? c.f(d.n_train) : nullptr;
    m->sumsq = train ? (double *)c.take((d.n_tensors + 1) * sizeof(double)) : nullptr;
    auto tp = [&](float *arena, int64_t off) { return arena && off >= 0 ? arena + off : nullptr; };
    for (int l = 0; l < d.layers; l++)
        for (int k = 0; k < NMOD; k++) {
            Layer &y = m->L[l];
            y.la[k] = tp(m->tparams, m->la_off[(size_t)l * NMOD + k]);
            y.lb[k] = tp(m->tparams, m->lb_off[(size_t)l * NMOD + k]);
            y.gla[k] = tp(m->tgrads, m->la_off[(size_t)l * NMOD + k]);
            y.glb[k] = tp(m->tgrads, m->lb_off[(size_t)l * NMOD + k]);
            if (!base) y.la[k] = m->la_off[(size_t)l * NMOD + k] >= 0 ? (float *)1 : nullptr; /* "present" */
        }
    m->cls_w = tp(m->tparams, d.cls_w_off);
    m->cls_b = tp(m->tparams, d.cls_b_off);
    m->gcls_w = tp(m->tgrads, d.cls_w_off);
    m->gcls_b = tp(m->tgrads, d.cls_b_off);
    if (pool_trained) {
        m->pool_w = tp(m->tparams, d.pool_w_off);
        m->pool_b = tp(m->tparams, d.pool_b_off);
    }
    m->gpool_w = tp(m->tgrads, d.pool_w_off);
    m->gpool_b = tp(m->tgrads, d.pool_b_off);
    /* activations: per layer when training, one shared set otherwise */
    c.bucket = &mem.activations;
    const int nsets = train ? d.layers : 1;
    m->A.assign(d.layers, Acts{});
    for (int l = 0; l < nsets; l++) {
        Acts &a = m->A[l];
        a.q = c.f(N * QW);
        if (d.family == SL_CUDA_FAMILY_DNABERT2) {
            a.k = a.q ? a.q + H : nullptr;
            a.v = a.q ? a.q + 2 * H : nullptr;
        } else {
            a.k = c.f(N * H);
            a.v = c.f(N * H);
        }
        a.P = c.f(PP);
        a.ctx = c.f(N * H);
        a.ln1_in = c.f(N * H);
        a.ln1_mean = c.f(N);
        a.ln1_rstd = c.f(N);
        a.h1 = c.f(N * H);
        a.inter = c.f(N * IW);
        a.gel = c.f(N * I);
        a.ln2_in = c.f(N * H);
        a.ln2_mean = c.f(N);
        a.ln2_rstd = c.f(N);
        for (int k = 0; k < NMOD; k++)
            a.u[k] = m->la_off[(size_t)l * NMOD + k] >= 0 || !train ? c.f(N * (r ? r : 1)) : nullptr;
        const size_t words = ((size_t)d.max_len * d.max_len + 63) / 64;
        a.keep = train && d.attn_dropout > 0 ? (uint64_t *)c.take((size_t)Bm * nh * words * sizeof(uint64_t))
                                             : nullptr;
    }
    for (int l = nsets; l < d.layers; l++) m->A[l] = m->A[0];
    m->hs.assign(d.layers + 1, nullptr);
    /* hidden states: all kept when training, two ping-pong buffers for inference */
    for (int l = 0; l <= d.layers; l++) m->hs[l] = train || l < 2 ? c.f(N * H) : m->hs[l % 2];
    m->pooled = c.f(Bm * H);
    m->pooled_drop = c.f(Bm * H);
    m->logits = c.f(Bm * C);
    m->dlogits = c.f(Bm * C);
    m->labels = c.f(Bm * C);
    m->loss_part = (double *)c.take(Bm * C * sizeof(double));
    m->ids = (int32_t *)c.take(N * sizeof(int32_t));
    m->mask = (int32_t *)c.take(N * sizeof(int32_t));
    if (d.family == SL_CUDA_FAMILY_ESM) {
        m->fin = c.f(N * H);
        m->fin_mean = c.f(N);
        m->fin_rstd = c.f(N);
        if (!d.rotary) m->pos_ids = (int32_t *)c.take(N * sizeof(int32_t));
        if (d.token_dropout) m->row_div = c.f(Bm);
    }
    /* scratch */
    c.bucket = &mem.scratch;
    m->xh = d.precision != SL_CUDA_FP32 ? c.take(N * WX * 2) : nullptr;
    m->xd = c.f(N * W);
    m->Pd = c.f(PP);
    if (train) {
        m->dP = c.f(PP);
        m->dh = c.f(N * H);
        m->dh2 = c.f(N * H);
        m->dq = c.f(N * QW);
        if (d.family == SL_CUDA_FAMILY_DNABERT2) {
            m->dk = m->dq ? m->dq + H : nullptr;
            m->dv = m->dq ? m->dq + 2 * H : nullptr;
        } else {
            m->dk = c.f(N * H);
            m->dv = c.f(N * H);
        }
        m->dctx = c.f(N * H);
        m->dtmp = c.f(N * H);
        m->dI = c.f(N * IW);
        if (glu(d)) m->dg = c.f(N * I);
        m->du = c.f(N * (r ? r : 1));
        m->dwide = c.f(N * W);
    }
    c.bucket = &mem.workspace;
    m->ws = c.take(kWorkspace);
    mem.total = c.off;
}

int check_desc(const sl_cuda_desc *d, sl_err *err) {
    if (d->hidden <= 0 || d->heads <= 0 || d->hidden % d->heads || d->layers < 0 || d->inter <= 0 ||
        d->vocab <= 0 || d->max_pos <= 0 || d->num_labels <= 0 || d->max_batch <= 0 || d->max_len <= 0 ||
        (has_pos(*d) && d->max_len > d->max_pos) || d->lora_r < 0 || d->problem < 0 || d->problem > 2 ||
        d->precision < SL_CUDA_FP32 || d->precision > SL_CUDA_FP16 || d->cls_w_off < 0 || d->cls_b_off < 0 ||
        (d->layers > 0 && (!d->lora_a_off || !d->lora_b_off)) || d->family < SL_CUDA_FAMILY_BERT ||
        d->family > SL_CUDA_FAMILY_DNABERT2 ||
        (d->family == SL_CUDA_FAMILY_ESM && d->rotary && (d->hidden / d->heads) % 2))
        return sl_err_set(err, SL_EUSAGE, "invalid CUDA model description");
    return 0;
}

int copy_desc(sl_cuda_model *m, const sl_cuda_desc *d) {
    m->d = *d;
    const size_t nl = (size_t)d->layers * NMOD;
    m->la_off.assign(d->lora_a_off, d->lora_a_off + nl);
    m->lb_off.assign(d->lora_b_off, d->lora_b_off + nl);
    if (d->tensor_sizes)
        m->tsizes.assign(d->tensor_sizes, d->tensor_sizes + d->n_tensors);
    else
        m->tsizes.assign(1, d->n_train);
    return 0;
}

/* Row-major GEMM as sl_nn_sgemm (C = alpha op(A) op(B) + beta C, fp32 C), strided-batched, on column-major
 * cuBLAS by computing C^T = op(B)^T op(A)^T. */
int gemm(sl_cuda_model *m, int ta, int tb, int M, int Nn, int K, float alpha, const void *A,
         cudaDataType_t at, int lda, long long sA, const void *B, cudaDataType_t bt, int ldb, long long sB,
         float beta, float *C, int ldc, long long sC, int batch, cublasComputeType_t ct, sl_err *err) {
    if (M == 0 || Nn == 0) return 0;
    SL_CUBLAS(cublasGemmStridedBatchedEx(m->h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                         Nn, M, K, &alpha, B, bt, ldb, sB, A, at, lda, sA, &beta, C,
                                         CUDA_R_32F, ldc, sC, batch, ct, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* fp32 GEMM in true fp32. */
int sgemm(sl_cuda_model *m, int ta, int tb, int M, int Nn, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc, sl_err *err) {
    return gemm(m, ta, tb, M, Nn, K, alpha, A, CUDA_R_32F, lda, 0, B, CUDA_R_32F, ldb, 0, beta, C, ldc, 0, 1,
                CUBLAS_COMPUTE_32F, err);
}

/* Cast n floats to the weight type into xh. */
int to_wtype(sl_cuda_model *m, const float *x, size_t n, sl_err *err) {
    if (m->d.precision == SL_CUDA_BF16) return sl_cuda_to_bf16((__nv_bfloat16 *)m->xh, x, n, m->s, err);
    return sl_cuda_to_fp16((__half *)m->xh, x, n, m->s, err);
}

/* y = x W^T (W [out, in] in the weight type). */
int base_fwd(sl_cuda_model *m, float *y, const float *x, const void *W, int N, int in, int out, sl_err *err) {
    if (m->d.precision == SL_CUDA_FP32)
        return sgemm(m, 0, 1, N, out, in, 1.0f, x, in, (const float *)W, in, 0.0f, y, out, err);
    SL_TRY(to_wtype(m, x, (size_t)N * in, err));
    return gemm(m, 0, 1, N, out, in, 1.0f, m->xh, m->wtype, in, 0, W, m->wtype, in, 0, 0.0f, y, out, 0, 1,
                CUBLAS_COMPUTE_32F, err);
}

/* dx (= or +=) dy W. */
int base_bwd(sl_cuda_model *m, float *dx, int acc, const float *dy, const void *W, int N, int in, int out,
             sl_err *err) {
    if (m->d.precision == SL_CUDA_FP32)
        return sgemm(m, 0, 0, N, in, out, 1.0f, dy, out, (const float *)W, in, acc ? 1.0f : 0.0f, dx, in,
                     err);
    SL_TRY(to_wtype(m, dy, (size_t)N * out, err));
    return gemm(m, 0, 0, N, in, out, 1.0f, m->xh, m->wtype, out, 0, W, m->wtype, in, 0, acc ? 1.0f : 0.0f, dx,
                in, 0, 1, CUBLAS_COMPUTE_32F, err);
}

uint64_t hi_of(sl_cuda_model *m, int l, int t) {
    return sl_cuda_drop_hi(m->micro, l, t);
}

int linear_lora(sl_cuda_model *m, int l, int k, float *y, const float *x, int N, int in, int out, float *u,
                sl_err *err) {
    const Layer &w = m->L[l];
    SL_TRY(base_fwd(m, y, x, w.w[k], N, in, out, err));
    if (w.b[k]) SL_TRY(sl_cuda_bias(y, w.b[k], N, out, 0, m->s, err));
    if (!w.la[k]) return 0;
    const int r = m->d.lora_r;
    const float *xin = x;
    if (m->drop_on && m->d.lora_dropout > 0) {
        SL_TRY(sl_cuda_dropout(m->xd, x, (size_t)N * in, m->d.lora_dropout, m->seed,
                               hi_of(m, l, DROP_LORA + k), 0, m->s, err));
        xin = m->xd;
    }
    SL_TRY(sgemm(m, 0, 1, N, r, in, 1.0f, xin, in, w.la[k], in, 0.0f, u, r, err));
    return sgemm(m, 0, 1, N, out, r, m->d.lora_scaling, u, r, w.lb[k], r, 1.0f, y, out, err);
}

int linear_lora_bwd(sl_cuda_model *m, int l, int k, float *dx, int acc, const float *dy, const float *x,
                    int N, int in, int out, const float *u, sl_err *err) {
    const Layer &w = m->L[l];
    if (dx) SL_TRY(base_bwd(m, dx, acc, dy, w.w[k], N, in, out, err));
    if (!w.la[k]) return 0;
    const int r = m->d.lora_r;
    const float s = m->d.lora_scaling;
    const int dropped = m->drop_on && m->d.lora_dropout > 0;
    const uint64_t hi = hi_of(m, l, DROP_LORA + k);
    const float *xin = x;
    if (dropped) {
        SL_TRY(sl_cuda_dropout(m->xd, x, (size_t)N * in, m->d.lora_dropout, m->seed, hi, 0, m->s, err));
        xin = m->xd;
    }
    SL_TRY(sgemm(m, 1, 0, out, r, N, s, dy, out, u, r, 1.0f, w.glb[k], r, err));
    SL_TRY(sgemm(m, 0, 0, N, r, out, s, dy, out, w.lb[k], r, 0.0f, m->du, r, err));
    SL_TRY(sgemm(m, 1, 0, r, in, N, 1.0f, m->du, r, xin, in, 1.0f, w.gla[k], in, err));
    if (!dx) return 0;
    if (dropped) {
        SL_TRY(sgemm(m, 0, 0, N, in, r, 1.0f, m->du, r, w.la[k], in, 0.0f, m->dwide, in, err));
        SL_TRY(sl_cuda_dropout(m->dwide, m->dwide, (size_t)N * in, m->d.lora_dropout, m->seed, hi, 0, m->s,
                               err));
        return sl_cuda_add(dx, m->dwide, (size_t)N * in, m->s, err);
    }
    return sgemm(m, 0, 0, N, in, r, 1.0f, m->du, r, w.la[k], in, 1.0f, dx, in, err);
}

/* The per-(batch row, head) attention GEMMs, as strided-batched calls: for each batch row over the heads
 * (head stride sX), or for each head over the batch rows (row stride bX), whichever makes fewer calls. */
int attn_gemm(sl_cuda_model *m, int ta, int tb, int M, int Nn, int K, float alpha, const float *A, int lda,
              long long sA, long long bA, const float *Bm, int ldb, long long sB, long long bB, float *C,
              int ldc, long long sC, long long bC, sl_err *err) {
    const int nh = m->d.heads;
    if (m->B <= nh) {
        for (int b = 0; b < m->B; b++)
            SL_TRY(gemm(m, ta, tb, M, Nn, K, alpha, A + b * bA, CUDA_R_32F, lda, sA, Bm + b * bB, CUDA_R_32F,
                        ldb, sB, 0.0f, C + b * bC, ldc, sC, nh, m->attn_ct, err));
    } else {
        for (int h = 0; h < nh; h++)
            SL_TRY(gemm(m, ta, tb, M, Nn, K, alpha, A + h * sA, CUDA_R_32F, lda, bA, Bm + h * sB, CUDA_R_32F,
                        ldb, bB, 0.0f, C + h * sC, ldc, bC, m->B, m->attn_ct, err));
    }
    return 0;
}

/* The score scale: ESM's query is scaled (and rotated) before the attention, the others scale here. */
float attn_scale(const sl_cuda_model *m) {
    return m->d.family == SL_CUDA_FAMILY_ESM ? 1.0f : 1.0f / sqrtf((float)(m->d.hidden / m->d.heads));
}

/* q, k, v (row stride qkv_ld) -> P (+ ALiBi for DNABERT-2), dropout, ctx [N, H]. */
int attention(sl_cuda_model *m, int l, const Acts &a, sl_err *err) {
    const int T = m->T, H = m->d.hidden, nh = m->d.heads, dd = H / nh, ld = m->qkv_ld;
    const long long TH = (long long)T * H, TL = (long long)T * ld, TT = (long long)T * T;
    const float scale = attn_scale(m);
    const float pdrop = m->drop_on ? m->d.attn_dropout : 0.0f;
    SL_TRY(attn_gemm(m, 0, 1, T, T, dd, scale, a.q, ld, dd, TL, a.k, ld, dd, TL, a.P, T, TT, nh * TT, err));
    if (m->slopes) SL_TRY(sl_cuda_alibi_add(a.P, m->slopes, m->B, nh, T, m->s, err));
    const float *Pd = a.P;
    const size_t tasks = (size_t)m->B * nh;
    const uint64_t hi = hi_of(m, l, DROP_ATTN);
    if (pdrop > 0 && a.keep) { /* training: keep bits for the backward; softmax and dropout in one pass */
        SL_TRY(sl_cuda_dropout_bits(a.keep, tasks, (size_t)TT, pdrop, m->seed, hi, m->s, err));
        SL_TRY(sl_cuda_softmax_mask_drop(a.P, m->Pd, m->mask, a.keep, 1.0f / (1.0f - pdrop), m->B, nh, T,
                                         m->s, err));
        Pd = m->Pd;
    } else {
        SL_TRY(sl_cuda_softmax_mask(a.P, m->mask, m->B, nh, T, m->s, err));
        if (pdrop > 0) {
            SL_TRY(sl_cuda_dropout(m->Pd, a.P, tasks * TT, pdrop, m->seed, hi, 0, m->s, err));
            Pd = m->Pd;
        }
    }
    return attn_gemm(m, 0, 0, T, dd, T, 1.0f, Pd, T, TT, nh * TT, a.v, ld, dd, TL, a.ctx, H, dd, TH, err);
}

int attention_bwd(sl_cuda_model *m, int l, const Acts &a, sl_err *err) {
    (void)l;
    const int T = m->T, H = m->d.hidden, nh = m->d.heads, dd = H / nh, ld = m->qkv_ld;
    const long long TH = (long long)T * H, TL = (long long)T * ld, TT = (long long)T * T;
    const float scale = attn_scale(m);
    const float pdrop = m->drop_on ? m->d.attn_dropout : 0.0f;
    const size_t tasks = (size_t)m->B * nh;
    const float dscale = pdrop > 0 ? 1.0f / (1.0f - pdrop) : 1.0f;
    const float *Pd = a.P;
    if (pdrop > 0) {
        SL_TRY(sl_cuda_apply_bits(m->Pd, a.P, a.keep, tasks, (size_t)TT, dscale, m->s, err));
        Pd = m->Pd;
    }
    SL_TRY(
        attn_gemm(m, 0, 1, T, T, dd, 1.0f, m->dctx, H, dd, TH, a.v, ld, dd, TL, m->dP, T, TT, nh * TT, err));
    SL_TRY(
        attn_gemm(m, 1, 0, T, dd, T, 1.0f, Pd, T, TT, nh * TT, m->dctx, H, dd, TH, m->dv, ld, dd, TL, err));
    if (pdrop > 0)
        SL_TRY(sl_cuda_softmax_bwd_drop(m->dP, a.P, a.keep, dscale, tasks * T, T, m->s, err));
    else
        SL_TRY(sl_cuda_softmax_bwd(m->dP, a.P, tasks * T, T, m->s, err));
    SL_TRY(
        attn_gemm(m, 0, 0, T, dd, T, scale, m->dP, T, TT, nh * TT, a.k, ld, dd, TL, m->dq, ld, dd, TL, err));
    return attn_gemm(m, 1, 0, T, dd, T, scale, m->dP, T, TT, nh * TT, a.q, ld, dd, TL, m->dk, ld, dd, TL,
                     err);
}

int note_peak(sl_cuda_model *m, sl_err *err) {
    size_t fr = 0, tot = 0;
    SL_CU(cudaMemGetInfo(&fr, &tot));
    if (tot - fr > m->mem.device_used_peak) m->mem.device_used_peak = tot - fr;
    m->mem.device_total = tot;
    return 0;
}

int upload_f(float *dst, const float *src, size_t n, const char *what, sl_err *err) {
    if (!src) return sl_err_set(err, SL_EUSAGE, "CUDA model description: %s is missing", what);
    SL_CU(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyHostToDevice));
    return 0;
}

/* A frozen Linear weight: fp32 straight, else through a staging buffer and a cast kernel. */
int upload_w(sl_cuda_model *m, void *dst, const float *src, size_t n, float *stage, sl_err *err) {
    if (!src) return sl_err_set(err, SL_EUSAGE, "CUDA model description: a Linear weight is missing");
    if (m->d.precision == SL_CUDA_FP32) return upload_f((float *)dst, src, n, "weight", err);
    SL_CU(cudaMemcpy(stage, src, n * sizeof(float), cudaMemcpyHostToDevice));
    if (m->d.precision == SL_CUDA_BF16)
        SL_TRY(sl_cuda_to_bf16((__nv_bfloat16 *)dst, stage, n, m->s, err));
    else
        SL_TRY(sl_cuda_to_fp16((__half *)dst, stage, n, m->s, err));
    SL_CU(cudaStreamSynchronize(m->s));
    return 0;
}

int create(const sl_cuda_desc *d, int dev, sl_cuda_model *m, sl_err *err) {
    copy_desc(m, d);
    m->dev = dev;
    m->wtype = d->precision == SL_CUDA_BF16   ? CUDA_R_16BF
               : d->precision == SL_CUDA_FP16 ? CUDA_R_16F
                                              : CUDA_R_32F;
    m->attn_ct = d->precision == SL_CUDA_BF16   ? CUBLAS_COMPUTE_32F_FAST_16BF
                 : d->precision == SL_CUDA_FP16 ? CUBLAS_COMPUTE_32F_FAST_16F
                                                : CUBLAS_COMPUTE_32F;
    SL_CU(cudaSetDevice(dev));
    SL_CU(cudaStreamCreateWithFlags(&m->s, cudaStreamNonBlocking));
    SL_CUBLAS(cublasCreate(&m->h));
    SL_CUBLAS(cublasSetStream(m->h, m->s));
    SL_CUBLAS(cublasSetMathMode(m->h, CUBLAS_DEFAULT_MATH)); /* no TF32 in fp32 GEMMs */
    carve(m, nullptr);
    const size_t total = m->mem.total;
    SL_CU(cudaMalloc((void **)&m->arena, total));
    carve(m, m->arena);
    SL_CUBLAS(cublasSetWorkspace(m->h, m->ws, kWorkspace));
    const size_t H = d->hidden, dh = H / d->heads;
    m->qkv_ld = d->family == SL_CUDA_FAMILY_DNABERT2 ? 3 * d->hidden : d->hidden;
    SL_TRY(upload_f(m->word, d->word, (size_t)d->vocab * H, "word embeddings", err));
    if (m->pos) SL_TRY(upload_f(m->pos, d->pos, (size_t)d->max_pos * H, "position embeddings", err));
    if (m->type) SL_TRY(upload_f(m->type, d->type, H, "token type embeddings", err));
    if (m->eln_w) SL_TRY(upload_f(m->eln_w, d->emb_ln_w, H, "embedding LayerNorm", err));
    if (m->eln_b) SL_TRY(upload_f(m->eln_b, d->emb_ln_b, H, "embedding LayerNorm", err));
    if (m->after_w) SL_TRY(upload_f(m->after_w, d->after_w, H, "emb_layer_norm_after", err));
    if (m->after_b) SL_TRY(upload_f(m->after_b, d->after_b, H, "emb_layer_norm_after", err));
    if (m->rot_cos)
        SL_TRY(upload_f(m->rot_cos, d->rot_cos, (size_t)d->max_len * dh, "rotary cos table", err));
    if (m->rot_sin)
        SL_TRY(upload_f(m->rot_sin, d->rot_sin, (size_t)d->max_len * dh, "rotary sin table", err));
    if (m->slopes) SL_TRY(upload_f(m->slopes, d->alibi_slopes, (size_t)d->heads, "ALiBi slopes", err));
    size_t wmax = 0;
    for (int k = 0; k < nmods(*d); k++) wmax = std::max(wmax, mod_in(*d, k) * mod_out(*d, k));
    float *stage = nullptr;
    if (d->precision != SL_CUDA_FP32) SL_CU(cudaMalloc((void **)&stage, wmax * sizeof(float)));
    int rc = 0;
    for (int l = 0; l < d->layers && !rc; l++) {
        const float *const *p = d->layer + (size_t)l * SL_CUDA_LAYER_PTRS;
        Layer &y = m->L[l];
        for (int k = 0; k < nmods(*d) && !rc; k++) {
            size_t in = mod_in(*d, k), out = mod_out(*d, k);
            rc = upload_w(m, y.w[k], p[k], in * out, stage, err);
            if (rc) break;
            if (p[NMOD + k])
                rc = upload_f(y.b[k], p[NMOD + k], out, "Linear bias", err);
            else
                y.b[k] = nullptr; /* bias-free (NT v2 feed-forward, DNABERT-2 gated_layers) */
        }
        if (!rc) rc = upload_f(y.ln1_w, p[12], H, "LayerNorm", err);
        if (!rc) rc = upload_f(y.ln1_b, p[13], H, "LayerNorm", err);
        if (!rc) rc = upload_f(y.ln2_w, p[14], H, "LayerNorm", err);
        if (!rc) rc = upload_f(y.ln2_b, p[15], H, "LayerNorm", err);
    }
    if (stage) cudaFree(stage);
    if (rc) return rc;
    if (d->pool_w_off < 0) {
        SL_TRY(upload_f(m->pool_w, d->pool_w, H * H, "pooler weight", err));
        SL_TRY(upload_f(m->pool_b, d->pool_b, H, "pooler bias", err));
    }
    SL_TRY(upload_f(m->tparams, d->tparams, d->n_train, "trainable arena", err));
    if (d->training) {
        SL_CU(cudaMemset(m->tgrads, 0, d->n_train * sizeof(float)));
        SL_CU(cudaMemset(m->adam_m, 0, d->n_train * sizeof(float)));
        SL_CU(cudaMemset(m->adam_v, 0, d->n_train * sizeof(float)));
    }
    m->d.word = m->d.pos = m->d.type = m->d.emb_ln_w = m->d.emb_ln_b = m->d.pool_w = m->d.pool_b =
        m->d.tparams = m->d.after_w = m->d.after_b = m->d.rot_cos = m->d.rot_sin = m->d.alibi_slopes =
            nullptr;
    m->d.layer = nullptr;
    m->d.lora_a_off = m->d.lora_b_off = nullptr;
    m->d.tensor_sizes = nullptr;
    SL_CU(cudaDeviceSynchronize());
    return note_peak(m, err);
}

/* ---- forward, per family ---- */

/* The embeddings into hs[0] (ids and mask already on the device; host copies for ESM's positions). */
int embeddings(sl_cuda_model *m, const int32_t *ids, const int32_t *mask, sl_err *err) {
    const sl_cuda_desc &d = m->d;
    const int B = m->B, T = m->T, H = d.hidden, N = B * T;
    const size_t NH = (size_t)N * H;
    float *x = m->hs[0];
    if (d.family == SL_CUDA_FAMILY_ESM) {
        /* the per-row token-dropout divisor and the pad-aware position ids, as esm_forward.c */
        m->h_pos_ids.assign((size_t)N, 0);
        m->h_row_div.assign((size_t)B, 1.0f);
        for (int b = 0; b < B; b++) {
            const int32_t *id = ids + (size_t)b * T, *mk = mask + (size_t)b * T;
            int nmask = 0, src = 0, pos = 0;
            for (int t = 0; t < T; t++) nmask += id[t] == d.mask_token_id, src += mk[t] != 0;
            m->h_row_div[b] = 1.0f - (float)nmask / (float)src;
            for (int t = 0; t < T; t++) {
                int pid = d.pad_token_id;
                if (id[t] != d.pad_token_id) pid = ++pos + d.pad_token_id;
                if (!d.rotary && pid >= d.max_pos)
                    return sl_err_set(err, SL_EDATA,
                                      "position %d of row %d exceeds max_position_embeddings %d", pid, b,
                                      d.max_pos);
                m->h_pos_ids[(size_t)b * T + t] = pid;
            }
        }
        if (m->pos_ids)
            SL_CU(cudaMemcpyAsync(m->pos_ids, m->h_pos_ids.data(), (size_t)N * sizeof(int32_t),
                                  cudaMemcpyHostToDevice, m->s));
        if (m->row_div)
            SL_CU(cudaMemcpyAsync(m->row_div, m->h_row_div.data(), (size_t)B * sizeof(float),
                                  cudaMemcpyHostToDevice, m->s));
        SL_TRY(sl_cuda_embed_esm(x, m->ids, m->word, m->pos_ids ? m->pos : nullptr, m->pos_ids, m->row_div,
                                 d.mask_token_id, N, T, H, m->s, err));
        if (d.emb_ln_before)
            SL_TRY(sl_cuda_layernorm(x, nullptr, nullptr, x, m->eln_w, m->eln_b, N, H, d.ln_eps, m->s, err));
        SL_TRY(sl_cuda_zero_rows(x, m->mask, N, H, m->s, err));
        SL_CU(cudaStreamSynchronize(m->s)); /* the host vectors are reused by the next forward */
        return 0;
    }
    SL_TRY(sl_cuda_embed(x, m->ids, m->word, m->pos, m->type, N, T, H, m->s, err));
    SL_TRY(sl_cuda_layernorm(x, nullptr, nullptr, x, m->eln_w, m->eln_b, N, H, d.ln_eps, m->s, err));
    if (m->drop_on)
        SL_TRY(sl_cuda_dropout(x, x, NH, d.hidden_dropout, m->seed, hi_of(m, -1, DROP_EMB), 0, m->s, err));
    return 0;
}

/* The end of a post-LN sub-block: y = dropout(y) (hidden dropout of stream `drop_t` of layer l; 0 = none)
 * + res, then out = LayerNorm(y) keeping its row statistics. */
int residual_ln(sl_cuda_model *m, int l, float *y, const float *res, int drop_t, float *out, float *mean,
                float *rstd, const float *w, const float *b, sl_err *err) {
    const sl_cuda_desc &d = m->d;
    const int N = m->B * m->T;
    const size_t NH = (size_t)N * d.hidden;
    if (m->drop_on && drop_t)
        SL_TRY(sl_cuda_dropout(y, y, NH, d.hidden_dropout, m->seed, hi_of(m, l, drop_t), 0, m->s, err));
    SL_TRY(sl_cuda_add(y, res, NH, m->s, err));
    return sl_cuda_layernorm(out, mean, rstd, y, w, b, N, d.hidden, d.ln_eps, m->s, err);
}

/* BERT (post-LN): bert_forward.c. */
int layer_bert(sl_cuda_model *m, int l, sl_err *err) {
    const int H = m->d.hidden, NI = m->d.inter, N = m->B * m->T;
    const Acts &a = m->A[l];
    const Layer &w = m->L[l];
    const float *xin = m->hs[l];
    float *out = m->hs[l + 1];
    SL_TRY(linear_lora(m, l, MOD_Q, a.q, xin, N, H, H, a.u[MOD_Q], err));
    SL_TRY(linear_lora(m, l, MOD_K, a.k, xin, N, H, H, a.u[MOD_K], err));
    SL_TRY(linear_lora(m, l, MOD_V, a.v, xin, N, H, H, a.u[MOD_V], err));
    SL_TRY(attention(m, l, a, err));
    SL_TRY(linear_lora(m, l, MOD_AO, a.ln1_in, a.ctx, N, H, H, a.u[MOD_AO], err));
    SL_TRY(residual_ln(m, l, a.ln1_in, xin, DROP_AO, a.h1, a.ln1_mean, a.ln1_rstd, w.ln1_w, w.ln1_b, err));
    SL_TRY(linear_lora(m, l, MOD_I, a.inter, a.h1, N, H, NI, a.u[MOD_I], err));
    SL_TRY(sl_cuda_gelu_fwd(a.gel, a.inter, (size_t)N * NI, m->s, err));
    SL_TRY(linear_lora(m, l, MOD_O, a.ln2_in, a.gel, N, NI, H, a.u[MOD_O], err));
    return residual_ln(m, l, a.ln2_in, a.h1, DROP_OUT, out, a.ln2_mean, a.ln2_rstd, w.ln2_w, w.ln2_b, err);
}

/* ESM / Nucleotide Transformer (pre-LN): esm_forward.c. */
int layer_esm(sl_cuda_model *m, int l, sl_err *err) {
    const sl_cuda_desc &d = m->d;
    const int H = d.hidden, NI = d.inter, N = m->B * m->T, nh = d.heads, dd = H / nh;
    const int IW = (int)ffn_width(d);
    const size_t NH = (size_t)N * H;
    const Acts &a = m->A[l];
    const Layer &w = m->L[l];
    const float *x = m->hs[l];
    float *out = m->hs[l + 1];
    SL_TRY(sl_cuda_layernorm(a.h1, a.ln1_mean, a.ln1_rstd, x, w.ln1_w, w.ln1_b, N, H, d.ln_eps, m->s, err));
    SL_TRY(linear_lora(m, l, MOD_Q, a.q, a.h1, N, H, H, a.u[MOD_Q], err));
    SL_TRY(linear_lora(m, l, MOD_K, a.k, a.h1, N, H, H, a.u[MOD_K], err));
    SL_TRY(linear_lora(m, l, MOD_V, a.v, a.h1, N, H, H, a.u[MOD_V], err));
    SL_TRY(sl_cuda_scale(a.q, 1.0f / sqrtf((float)dd), NH, m->s, err));
    if (d.rotary) {
        SL_TRY(sl_cuda_rotary(a.q, m->rot_cos, m->rot_sin, N, m->T, nh, dd, H, 0, m->s, err));
        SL_TRY(sl_cuda_rotary(a.k, m->rot_cos, m->rot_sin, N, m->T, nh, dd, H, 0, m->s, err));
    }
    SL_TRY(attention(m, l, a, err));
    SL_TRY(linear_lora(m, l, MOD_AO, a.ln1_in, a.ctx, N, H, H, a.u[MOD_AO], err));
    SL_TRY(sl_cuda_add(a.ln1_in, x, NH, m->s, err));
    SL_TRY(sl_cuda_layernorm(a.ln2_in, a.ln2_mean, a.ln2_rstd, a.ln1_in, w.ln2_w, w.ln2_b, N, H, d.ln_eps,
                             m->s, err));
    SL_TRY(linear_lora(m, l, MOD_I, a.inter, a.ln2_in, N, H, IW, a.u[MOD_I], err));
    if (d.gated_ffn)
        SL_TRY(sl_cuda_glu(a.gel, a.inter, N, NI, SL_CUDA_GLU_SWI, m->s, err));
    else
        SL_TRY(sl_cuda_gelu_fwd(a.gel, a.inter, (size_t)N * NI, m->s, err));
    SL_TRY(linear_lora(m, l, MOD_O, out, a.gel, N, NI, H, a.u[MOD_O], err));
    return sl_cuda_add(out, a.ln1_in, NH, m->s, err);
}

/* DNABERT-2 (post-LN, fused Wqkv, ALiBi, GeGLU): dnabert2_pass.c. Module k: 0 Wqkv, 1 attention.output.dense,
 * 2 gated_layers, 3 wo. */
int layer_d2(sl_cuda_model *m, int l, sl_err *err) {
    const sl_cuda_desc &d = m->d;
    const int H = d.hidden, NI = d.inter, N = m->B * m->T;
    const Acts &a = m->A[l];
    const Layer &w = m->L[l];
    const float *xin = m->hs[l];
    float *out = m->hs[l + 1];
    SL_TRY(linear_lora(m, l, 0, a.q, xin, N, H, 3 * H, a.u[0], err));
    SL_TRY(attention(m, l, a, err));
    SL_TRY(linear_lora(m, l, 1, a.ln1_in, a.ctx, N, H, H, a.u[1], err));
    SL_TRY(residual_ln(m, l, a.ln1_in, xin, DROP_AO, a.h1, a.ln1_mean, a.ln1_rstd, w.ln1_w, w.ln1_b, err));
    SL_TRY(linear_lora(m, l, 2, a.inter, a.h1, N, H, 2 * NI, a.u[2], err));
    SL_TRY(sl_cuda_glu(a.gel, a.inter, N, NI, SL_CUDA_GLU_GE, m->s, err));
    if (m->drop_on) /* bert_layers.py: dropout before wo */
        SL_TRY(sl_cuda_dropout(a.gel, a.gel, (size_t)N * NI, d.hidden_dropout, m->seed, hi_of(m, l, DROP_OUT),
                               0, m->s, err));
    SL_TRY(linear_lora(m, l, 3, a.ln2_in, a.gel, N, NI, H, a.u[3], err));
    return residual_ln(m, l, a.ln2_in, a.h1, 0, out, a.ln2_mean, a.ln2_rstd, w.ln2_w, w.ln2_b, err);
}

/* ---- backward, per family (dh holds d(output of layer l) on entry; dh/dh2 swap roles) ---- */

int layer_bert_bwd(sl_cuda_model *m, int l, int need_dx, sl_err *err) {
    const sl_cuda_desc &d = m->d;
    const int H = d.hidden, NI = d.inter, N = m->B * m->T;
    const size_t NH = (size_t)N * H;
    const Acts &a = m->A[l];
    const Layer &lw = m->L[l];
    const float *xin = m->hs[l];
    float *dz = m->dtmp, *dout = m->dk, *dao = m->dq;
    SL_TRY(sl_cuda_layernorm_bwd(dz, m->dh, a.ln2_in, a.ln2_mean, a.ln2_rstd, lw.ln2_w, N, H, 0, m->s, err));
    SL_TRY(sl_cuda_dropout(dout, dz, NH, m->drop_on ? d.hidden_dropout : 0.0f, m->seed, hi_of(m, l, DROP_OUT),
                           0, m->s, err));
    SL_TRY(linear_lora_bwd(m, l, MOD_O, m->dI, 0, dout, a.gel, N, NI, H, a.u[MOD_O], err));
    SL_TRY(sl_cuda_gelu_bwd(m->dI, m->dI, a.inter, (size_t)N * NI, m->s, err));
    SL_TRY(linear_lora_bwd(m, l, MOD_I, dz, 1, m->dI, a.h1, N, H, NI, a.u[MOD_I], err));
    SL_TRY(sl_cuda_layernorm_bwd(m->dh2, dz, a.ln1_in, a.ln1_mean, a.ln1_rstd, lw.ln1_w, N, H, 0, m->s, err));
    SL_TRY(sl_cuda_dropout(dao, m->dh2, NH, m->drop_on ? d.hidden_dropout : 0.0f, m->seed,
                           hi_of(m, l, DROP_AO), 0, m->s, err));
    SL_TRY(linear_lora_bwd(m, l, MOD_AO, m->dctx, 0, dao, a.ctx, N, H, H, a.u[MOD_AO], err));
    SL_TRY(attention_bwd(m, l, a, err));
    float *dx = need_dx ? m->dh2 : nullptr;
    SL_TRY(linear_lora_bwd(m, l, MOD_Q, dx, 1, m->dq, xin, N, H, H, a.u[MOD_Q], err));
    SL_TRY(linear_lora_bwd(m, l, MOD_K, dx, 1, m->dk, xin, N, H, H, a.u[MOD_K], err));
    SL_TRY(linear_lora_bwd(m, l, MOD_V, dx, 1, m->dv, xin, N, H, H, a.u[MOD_V], err));
    std::swap(m->dh, m->dh2);
    return 0;
}

/* esm_backward.c: dh is accumulated in place (the residual stream), dh2 is the LN_attn input gradient. */
int layer_esm_bwd(sl_cuda_model *m, int l, int need_dx, sl_err *err) {
    const sl_cuda_desc &d = m->d;
    const int H = d.hidden, NI = d.inter, N = m->B * m->T, nh = d.heads, dd = H / nh;
    const int IW = (int)ffn_width(d);
    const Acts &a = m->A[l];
    const Layer &lw = m->L[l];
    float *dgl = d.gated_ffn ? m->dg : m->dI;
    SL_TRY(linear_lora_bwd(m, l, MOD_O, dgl, 0, m->dh, a.gel, N, NI, H, a.u[MOD_O], err));
    if (d.gated_ffn)
        SL_TRY(sl_cuda_glu_bwd(m->dI, m->dg, a.inter, N, NI, SL_CUDA_GLU_SWI, m->s, err));
    else
        SL_TRY(sl_cuda_gelu_bwd(m->dI, m->dI, a.inter, (size_t)N * NI, m->s, err));
    SL_TRY(linear_lora_bwd(m, l, MOD_I, m->dtmp, 0, m->dI, a.ln2_in, N, H, IW, a.u[MOD_I], err));
    SL_TRY(sl_cuda_layernorm_bwd(m->dh, m->dtmp, a.ln1_in, a.ln2_mean, a.ln2_rstd, lw.ln2_w, N, H, 1, m->s,
                                 err));
    SL_TRY(linear_lora_bwd(m, l, MOD_AO, m->dctx, 0, m->dh, a.ctx, N, H, H, a.u[MOD_AO], err));
    SL_TRY(attention_bwd(m, l, a, err));
    if (d.rotary) {
        SL_TRY(sl_cuda_rotary(m->dq, m->rot_cos, m->rot_sin, N, m->T, nh, dd, H, 1, m->s, err));
        SL_TRY(sl_cuda_rotary(m->dk, m->rot_cos, m->rot_sin, N, m->T, nh, dd, H, 1, m->s, err));
    }
    SL_TRY(sl_cuda_scale(m->dq, 1.0f / sqrtf((float)dd), (size_t)N * H, m->s, err));
    float *dxl = need_dx ? m->dh2 : nullptr;
    SL_TRY(linear_lora_bwd(m, l, MOD_Q, dxl, 0, m->dq, a.h1, N, H, H, a.u[MOD_Q], err));
    SL_TRY(linear_lora_bwd(m, l, MOD_K, dxl, 1, m->dk, a.h1, N, H, H, a.u[MOD_K], err));
    SL_TRY(linear_lora_bwd(m, l, MOD_V, dxl, 1, m->dv, a.h1, N, H, H, a.u[MOD_V], err));
    if (need_dx)
        SL_TRY(sl_cuda_layernorm_bwd(m->dh, m->dh2, m->hs[l], a.ln1_mean, a.ln1_rstd, lw.ln1_w, N, H, 1, m->s,
                                     err));
    return 0;
}

/* dnabert2_pass.c's backward. */
int layer_d2_bwd(sl_cuda_model *m, int l, int need_dx, sl_err *err) {
    const sl_cuda_desc &d = m->d;
    const int H = d.hidden, NI = d.inter, N = m->B * m->T;
    const size_t NH = (size_t)N * H;
    const Acts &a = m->A[l];
    const Layer &lw = m->L[l];
    float *dz = m->dtmp;
    SL_TRY(sl_cuda_layernorm_bwd(dz, m->dh, a.ln2_in, a.ln2_mean, a.ln2_rstd, lw.ln2_w, N, H, 0, m->s, err));
    SL_TRY(linear_lora_bwd(m, l, 3, m->dg, 0, dz, a.gel, N, NI, H, a.u[3], err));
    if (m->drop_on)
        SL_TRY(sl_cuda_dropout(m->dg, m->dg, (size_t)N * NI, d.hidden_dropout, m->seed, hi_of(m, l, DROP_OUT),
                               0, m->s, err));
    SL_TRY(sl_cuda_glu_bwd(m->dI, m->dg, a.inter, N, NI, SL_CUDA_GLU_GE, m->s, err));
    SL_TRY(linear_lora_bwd(m, l, 2, dz, 1, m->dI, a.h1, N, H, 2 * NI, a.u[2], err));
    SL_TRY(sl_cuda_layernorm_bwd(m->dh2, dz, a.ln1_in, a.ln1_mean, a.ln1_rstd, lw.ln1_w, N, H, 0, m->s, err));
    SL_TRY(sl_cuda_dropout(dz, m->dh2, NH, m->drop_on ? d.hidden_dropout : 0.0f, m->seed,
                           hi_of(m, l, DROP_AO), 0, m->s, err));
    SL_TRY(linear_lora_bwd(m, l, 1, m->dctx, 0, dz, a.ctx, N, H, H, a.u[1], err));
    SL_TRY(attention_bwd(m, l, a, err));
    SL_TRY(
        linear_lora_bwd(m, l, 0, need_dx ? m->dh2 : nullptr, 1, m->dq, m->hs[l], N, H, 3 * H, a.u[0], err));
    std::swap(m->dh, m->dh2);
    return 0;
}

} // namespace

int sl_cuda_model_plan(const sl_cuda_desc *d, sl_cuda_mem *out, sl_err *err) {
    SL_TRY(check_desc(d, err));
    sl_cuda_model m;
    copy_desc(&m, d);
    carve(&m, nullptr);
    *out = m.mem;
    return 0;
}

int sl_cuda_model_create(const sl_cuda_desc *d, int dev, sl_cuda_model **out, sl_err *err) {
    *out = nullptr;
    SL_TRY(check_desc(d, err));
    sl_cuda_model *m = new (std::nothrow) sl_cuda_model();
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of host memory for the CUDA model");
    int rc = create(d, dev, m, err);
    if (rc) {
        sl_err_prefix(err, "creating the CUDA model on device %d", dev);
        sl_cuda_model_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

void sl_cuda_model_destroy(sl_cuda_model *m) {
    if (!m) return;
    if (m->h) cublasDestroy(m->h);
    if (m->arena) cudaFree(m->arena);
    if (m->s) cudaStreamDestroy(m->s);
    delete m;
}

int sl_cuda_model_forward(sl_cuda_model *m, const int32_t *ids, const int32_t *mask, int B, int T,
                          const float *labels, int drop_on, uint64_t seed, uint64_t micro, float *loss,
                          sl_err *err) {
    const sl_cuda_desc &d = m->d;
    if (B < 1 || B > d.max_batch || T < 1 || T > d.max_len)
        return sl_err_set(err, SL_EINTERNAL, "batch %dx%d exceeds the allocated %dx%d", B, T, d.max_batch,
                          d.max_len);
    const int H = d.hidden, N = B * T, C = d.num_labels;
    for (int i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= d.vocab)
            return sl_err_set(err, SL_EDATA, "token id %d out of range (vocab_size %d)", ids[i], d.vocab);
    for (int b = 0; b < B; b++)
        if (!mask[(size_t)b * T]) return sl_err_set(err, SL_EDATA, "row %d of the batch has no tokens", b);
    size_t nl = d.problem == 0 ? (size_t)B : (size_t)B * C;
    if (labels)
        for (size_t i = 0; i < nl; i++) {
            if (!isfinite(labels[i])) return sl_err_set(err, SL_EDATA, "label %zu is not a finite number", i);
            if (d.problem == 0 && (labels[i] < 0 || labels[i] >= C || labels[i] != (int)labels[i]))
                return sl_err_set(err, SL_EDATA, "class index %g out of range 0..%d", labels[i], C - 1);
        }
    if (drop_on && d.family == SL_CUDA_FAMILY_ESM && (d.hidden_dropout > 0 || d.attn_dropout > 0))
        return sl_err_set(
            err, SL_EUSAGE,
            "training an ESM model with hidden_dropout_prob %g / attention_probs_dropout_prob %g "
            "is not implemented (ESM-2 and Nucleotide Transformer checkpoints use 0)",
            (double)d.hidden_dropout, (double)d.attn_dropout);
    if (drop_on && d.family == SL_CUDA_FAMILY_DNABERT2 && d.attn_dropout > 0)
        return sl_err_set(err, SL_EUSAGE,
                          "training DNABERT-2 with attention_probs_dropout_prob %g is not implemented (the "
                          "published model uses 0)",
                          (double)d.attn_dropout);
    SL_CU(cudaSetDevice(m->dev));
    m->B = B;
    m->T = T;
    m->drop_on = drop_on;
    m->seed = seed;
    m->micro = micro;
    m->have_labels = labels != nullptr;
    SL_CU(cudaMemcpyAsync(m->ids, ids, (size_t)N * sizeof(int32_t), cudaMemcpyHostToDevice, m->s));
    SL_CU(cudaMemcpyAsync(m->mask, mask, (size_t)N * sizeof(int32_t), cudaMemcpyHostToDevice, m->s));
    if (labels) SL_CU(cudaMemcpyAsync(m->labels, labels, nl * sizeof(float), cudaMemcpyHostToDevice, m->s));
    SL_TRY(embeddings(m, ids, mask, err));
    for (int l = 0; l < d.layers; l++)
        SL_TRY(d.family == SL_CUDA_FAMILY_ESM        ? layer_esm(m, l, err)
               : d.family == SL_CUDA_FAMILY_DNABERT2 ? layer_d2(m, l, err)
                                                     : layer_bert(m, l, err));
    if (d.family == SL_CUDA_FAMILY_ESM) /* emb_layer_norm_after; the head reads its first token */
        SL_TRY(sl_cuda_layernorm(m->fin, m->fin_mean, m->fin_rstd, m->hs[d.layers], m->after_w, m->after_b, N,
                                 H, d.ln_eps, m->s, err));
    const float *last = d.family == SL_CUDA_FAMILY_ESM ? m->fin : m->hs[d.layers];
    SL_TRY(sgemm(m, 0, 1, B, H, H, 1.0f, last, T * H, m->pool_w, H, 0.0f, m->pooled, H, err));
    SL_TRY(sl_cuda_bias(m->pooled, m->pool_b, B, H, 1, m->s, err));
    SL_TRY(sl_cuda_dropout(m->pooled_drop, m->pooled, (size_t)B * H, drop_on ? d.cls_dropout : 0.0f, seed,
                           hi_of(m, -1, DROP_CLS), 0, m->s, err));
    SL_TRY(sgemm(m, 0, 1, B, C, H, 1.0f, m->pooled_drop, H, m->cls_w, H, 0.0f, m->logits, C, err));
    SL_TRY(sl_cuda_bias(m->logits, m->cls_b, B, C, 0, m->s, err));
    if (labels) {
        SL_TRY(sl_cuda_loss(m->loss_part, m->dlogits, m->logits, m->labels, B, C, d.problem, m->s, err));
        std::vector<double> part(nl);
        SL_CU(cudaMemcpyAsync(part.data(), m->loss_part, nl * sizeof(double), cudaMemcpyDeviceToHost, m->s));
        SL_CU(cudaStreamSynchronize(m->s));
        double total = 0;
        for (size_t i = 0; i < nl; i++) total += part[i];
        float lv = (float)(total / (double)nl);
        if (loss) *loss = lv;
        if (!isfinite(lv)) return sl_err_set(err, SL_EDATA, "the loss is not finite (%g)", lv);
    }
    return note_peak(m, err);
}

int sl_cuda_model_backward(sl_cuda_model *m, float loss_scale, sl_err *err) {
    const sl_cuda_desc &d = m->d;
    if (!d.training || !m->have_labels)
        return sl_err_set(err, SL_EINTERNAL,
                          "backward needs a training model and a forward pass with labels");
    SL_CU(cudaSetDevice(m->dev));
    const int B = m->B, T = m->T, H = d.hidden, C = d.num_labels, N = B * T;
    const size_t NH = (size_t)N * H;
    float *dpd = m->dtmp;
    SL_TRY(sl_cuda_scale(m->dlogits, loss_scale, (size_t)B * C, m->s, err));
    SL_TRY(sgemm(m, 1, 0, C, H, B, 1.0f, m->dlogits, C, m->pooled_drop, H, 1.0f, m->gcls_w, H, err));
    SL_TRY(sl_cuda_colsum_add(m->gcls_b, m->dlogits, B, C, C, m->s, err));
    SL_TRY(sgemm(m, 0, 0, B, H, C, 1.0f, m->dlogits, C, m->cls_w, H, 0.0f, dpd, H, err));
    if (m->drop_on)
        SL_TRY(sl_cuda_dropout(dpd, dpd, (size_t)B * H, d.cls_dropout, m->seed, hi_of(m, -1, DROP_CLS), 0,
                               m->s, err));
    SL_TRY(sl_cuda_tanh_bwd(dpd, m->pooled, (size_t)B * H, m->s, err));
    const float *last = d.family == SL_CUDA_FAMILY_ESM ? m->fin : m->hs[d.layers];
    if (m->gpool_w) {
        SL_TRY(sgemm(m, 1, 0, H, H, B, 1.0f, dpd, H, last, T * H, 1.0f, m->gpool_w, H, err));
        SL_TRY(sl_cuda_colsum_add(m->gpool_b, dpd, B, H, H, m->s, err));
    }
    SL_CU(cudaMemsetAsync(m->dh, 0, NH * sizeof(float), m->s));
    SL_TRY(sgemm(m, 0, 0, B, H, H, 1.0f, dpd, H, m->pool_w, H, 0.0f, m->dh, T * H, err));
    int lowest = d.layers;
    for (int l = 0; l < d.layers && lowest == d.layers; l++)
        for (int k = 0; k < NMOD; k++)
            if (m->L[l].la[k]) {
                lowest = l;
                break;
            }
    if (d.family == SL_CUDA_FAMILY_ESM && lowest < d.layers) { /* through emb_layer_norm_after */
        SL_TRY(sl_cuda_layernorm_bwd(m->dh2, m->dh, m->hs[d.layers], m->fin_mean, m->fin_rstd, m->after_w, N,
                                     H, 0, m->s, err));
        std::swap(m->dh, m->dh2);
    }
    for (int l = d.layers - 1; l >= lowest; l--)
        SL_TRY(d.family == SL_CUDA_FAMILY_ESM        ? layer_esm_bwd(m, l, l > lowest, err)
               : d.family == SL_CUDA_FAMILY_DNABERT2 ? layer_d2_bwd(m, l, l > lowest, err)
                                                     : layer_bert_bwd(m, l, l > lowest, err));
    return note_peak(m, err);
}

int sl_cuda_model_zero_grad(sl_cuda_model *m, sl_err *err) {
    if (!m->tgrads) return 0;
    SL_CU(cudaMemsetAsync(m->tgrads, 0, m->d.n_train * sizeof(float), m->s));
    return 0;
}

int sl_cuda_model_get_logits(sl_cuda_model *m, float *logits, sl_err *err) {
    SL_CU(cudaMemcpyAsync(logits, m->logits, (size_t)m->B * m->d.num_labels * sizeof(float),
                          cudaMemcpyDeviceToHost, m->s));
    SL_CU(cudaStreamSynchronize(m->s));
    return 0;
}

static int xfer(void *dst, const void *src, size_t n, cudaMemcpyKind k, cudaStream_t s, sl_err *err) {
    if (!dst || !src) return 0;
    SL_CU(cudaMemcpyAsync(dst, src, n * sizeof(float), k, s));
    return 0;
}

int sl_cuda_model_get_train(sl_cuda_model *m, float *params, float *grads, float *adam_m, float *adam_v,
                            sl_err *err) {
    const size_t n = m->d.n_train;
    SL_TRY(xfer(params, m->tparams, n, cudaMemcpyDeviceToHost, m->s, err));
    SL_TRY(xfer(grads, m->tgrads, n, cudaMemcpyDeviceToHost, m->s, err));
    SL_TRY(xfer(adam_m, m->adam_m, n, cudaMemcpyDeviceToHost, m->s, err));
    SL_TRY(xfer(adam_v, m->adam_v, n, cudaMemcpyDeviceToHost, m->s, err));
    SL_CU(cudaStreamSynchronize(m->s));
    return 0;
}

int sl_cuda_model_set_train(sl_cuda_model *m, const float *params, const float *grads, const float *adam_m,
                            const float *adam_v, sl_err *err) {
    const size_t n = m->d.n_train;
    SL_TRY(xfer(m->tparams, params, n, cudaMemcpyHostToDevice, m->s, err));
    SL_TRY(xfer(m->tgrads, grads, n, cudaMemcpyHostToDevice, m->s, err));
    SL_TRY(xfer(m->adam_m, adam_m, n, cudaMemcpyHostToDevice, m->s, err));
    SL_TRY(xfer(m->adam_v, adam_v, n, cudaMemcpyHostToDevice, m->s, err));
    SL_CU(cudaStreamSynchronize(m->s));
    return 0;
}

int sl_cuda_model_scale_grads(sl_cuda_model *m, float s, sl_err *err) {
    return sl_cuda_scale(m->tgrads, s, m->d.n_train, m->s, err);
}

int sl_cuda_model_clip(sl_cuda_model *m, double max_norm, double *norm, int *finite, sl_err *err) {
    if (!m->tgrads) return sl_err_set(err, SL_EINTERNAL, "clip_grad_norm on an inference model");
    const size_t nt = m->tsizes.size();
    SL_CU(cudaMemsetAsync(m->sumsq, 0, (nt + 1) * sizeof(double), m->s));
    size_t off = 0;
    for (size_t t = 0; t < nt; t++) {
        SL_TRY(sl_cuda_sumsq(m->sumsq + t, m->tgrads + off, m->tsizes[t], m->s, err));
        off += m->tsizes[t];
    }
    std::vector<double> ss(nt);
    SL_CU(cudaMemcpyAsync(ss.data(), m->sumsq, nt * sizeof(double), cudaMemcpyDeviceToHost, m->s));
    SL_CU(cudaStreamSynchronize(m->s));
    double total = 0;
    for (size_t t = 0; t < nt; t++) {
        double nrm = (float)sqrt(ss[t]);
        total += nrm * nrm;
    }
    total = sqrt(total);
    *norm = total;
    *finite = isfinite(total) ? 1 : 0;
    if (!*finite) return 0;
    if (max_norm > 0) {
        double coef = max_norm / (total + 1e-6);
        if (coef < 1.0) SL_TRY(sl_cuda_scale(m->tgrads, (float)coef, off, m->s, err));
    }
    return 0;
}

int sl_cuda_model_adamw(sl_cuda_model *m, double lr, double beta1, double beta2, double eps, double wd,
                        long long t, sl_err *err) {
    if (!m->tgrads) return sl_err_set(err, SL_EINTERNAL, "AdamW on an inference model");
    const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    sl_cuda_adamw_k k;
    k.decay = (float)(1.0 - lr * wd);
    k.b1 = (float)beta1;
    k.b2 = (float)beta2;
    k.omb1 = (float)(1.0 - beta1);
    k.omb2 = (float)(1.0 - beta2);
    k.step_size = (float)(lr / bc1);
    k.bc2s = (float)sqrt(bc2);
    k.eps = (float)eps;
    return sl_cuda_adamw(m->tparams, m->tgrads, m->adam_m, m->adam_v, m->d.n_train, k, m->s, err);
}

int sl_cuda_model_memory(sl_cuda_model *m, sl_cuda_mem *out, sl_err *err) {
    SL_TRY(note_peak(m, err));
    *out = m->mem;
    return 0;
}

int sl_cuda_model_sync(sl_cuda_model *m, sl_err *err) {
    SL_CU(cudaStreamSynchronize(m->s));
    return 0;
}
