/* The element-wise and row kernels of the CUDA backend, each behind a host launcher that checks the launch
 * (C++ only, internal to the module). Semantics mirror src/nn/bert_kernels.c and bert_forward.c; the CPU
 * references in tests/cuda/ compare them element by element. All pointers are device pointers; n, N, H
 * etc. are element counts. Each launcher returns 0 or SL_EINTERNAL with `err` filled. */
#ifndef SEQLORA_NN_CUDA_KERNELS_H
#define SEQLORA_NN_CUDA_KERNELS_H

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#include "util/error.h"
}
#else
#include "util/error.h"
#endif

/* x[row, j] = word[ids[row], j] + pos[row % T, j] + type[j] for N rows of width H; pos NULL: no position
 * term (DNABERT-2). */
int sl_cuda_embed(float *x, const int32_t *ids, const float *word, const float *pos, const float *type, int N,
                  int T, int H, cudaStream_t s, sl_err *err);
/* Embedding gradient: gword[ids[row], j] += dx[row, j] (atomic scatter; order-dependent in the last bit). */
int sl_cuda_embed_bwd(float *gword, const int32_t *ids, const float *dx, int N, int H, cudaStream_t s,
                      sl_err *err);
/* LayerNorm over rows of width H (double-precision row statistics as the CPU engine); y may be x; mean and
 * rstd may be NULL. */
int sl_cuda_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                      int N, int H, float eps, cudaStream_t s, sl_err *err);
/* dx (= or += when acc) LayerNorm backward of dy. */
int sl_cuda_layernorm_bwd(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                          const float *w, int N, int H, int acc, cudaStream_t s, sl_err *err);
int sl_cuda_gelu_fwd(float *y, const float *x, size_t n, cudaStream_t s, sl_err *err);
/* dx = dy * gelu'(x) (dx may be dy). */
int sl_cuda_gelu_bwd(float *dx, const float *dy, const float *x, size_t n, cudaStream_t s, sl_err *err);
/* y = dropout(x) for elements base..base+n-1 of stream (seed, hi); y may be x. p <= 0: y = x. */
int sl_cuda_dropout(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t base,
                    cudaStream_t s, sl_err *err);
/* Keep bits of `tasks` blocks of len elements each: block t uses stream elements t*len.., its bits start at
 * word t * ceil(len/64). */
int sl_cuda_dropout_bits(uint64_t *bits, size_t tasks, size_t len, float p, uint64_t seed, uint64_t hi,
                         cudaStream_t s, sl_err *err);
/* y = bit ? x * scale : 0 over the same blocking as sl_cuda_dropout_bits (y may be x). */
int sl_cuda_apply_bits(float *y, const float *x, const uint64_t *bits, size_t tasks, size_t len, float scale,
                       cudaStream_t s, sl_err *err);
/* Row softmax of P [B * heads * T, T] in place over the keys with mask[b, k] != 0 (others get 0). */
int sl_cuda_softmax_mask(float *P, const int32_t *mask, int B, int heads, int T, cudaStream_t s, sl_err *err);
/* sl_cuda_softmax_mask, and Pd = dropout of P by the keep bits (blocks of T*T per (row, head), as
 * sl_cuda_dropout_bits) in the same pass: bit-identical to softmax then sl_cuda_apply_bits(Pd, P, ...). */
int sl_cuda_softmax_mask_drop(float *P, float *Pd, const int32_t *mask, const uint64_t *bits, float scale,
                              int B, int heads, int T, cudaStream_t s, sl_err *err);
/* sl_cuda_apply_bits(dP, dP, bits, ..., scale) then sl_cuda_softmax_bwd in one pass (bit-identical). */
int sl_cuda_softmax_bwd_drop(float *dP, const float *P, const uint64_t *bits, float scale, size_t rows, int T,
                             cudaStream_t s, sl_err *err);
/* dP = P * (dP - rowsum(P * dP)) in place, rows of length T. */
int sl_cuda_softmax_bwd(float *dP, const float *P, size_t rows, int T, cudaStream_t s, sl_err *err);
/* y += x. */
int sl_cuda_add(float *y, const float *x, size_t n, cudaStream_t s, sl_err *err);
/* y *= a. */
int sl_cuda_scale(float *y, float a, size_t n, cudaStream_t s, sl_err *err);
/* y[i, j] += b[j] for N rows of width W; with tanh_out: y = tanh(y + b). */
int sl_cuda_bias(float *y, const float *b, int N, int W, int tanh_out, cudaStream_t s, sl_err *err);
/* g[j] += sum_i x[i * ld + j], i < N, j < W. */
int sl_cuda_colsum_add(float *g, const float *x, int N, int W, int ld, cudaStream_t s, sl_err *err);
/* dx *= 1 - y^2 (tanh backward). */
int sl_cuda_tanh_bwd(float *dx, const float *y, size_t n, cudaStream_t s, sl_err *err);
/* Losses of the CPU engine: per-row (single-label) or per-element contributions to the summed loss go to
 * part[] (double; the host sums them), the mean-loss gradient to g. problem as sl_cuda_desc. */
int sl_cuda_loss(double *part, float *g, const float *logits, const float *labels, int B, int C, int problem,
                 cudaStream_t s, sl_err *err);
/* fp32 -> bf16 / fp16 (round to nearest even; fp16 overflows to inf). */
int sl_cuda_to_bf16(__nv_bfloat16 *y, const float *x, size_t n, cudaStream_t s, sl_err *err);
int sl_cuda_to_fp16(__half *y, const float *x, size_t n, cudaStream_t s, sl_err *err);
/* acc[0] += sum x^2 (double atomics). */
int sl_cuda_sumsq(double *acc, const float *x, size_t n, cudaStream_t s, sl_err *err);
/* AdamW as sl_nn_adamw_step with the step constants computed on the host in float. */
typedef struct sl_cuda_adamw_k {
    float decay, b1, b2, omb1, omb2, step_size, bc2s, eps;
} sl_cuda_adamw_k;
int sl_cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, sl_cuda_adamw_k k, cudaStream_t s,
                  sl_err *err);

/* ---- ESM / Nucleotide Transformer and DNABERT-2 (src/nn/esm_forward.c, dnabert2_pass.c) ---- */

/* ESM embeddings of N rows of width H (T per sequence): x[row] = w + (pos ? pos[pos_ids[row]] : 0) with
 * w = word[ids[row]], or with token dropout (row_div != NULL) w = 0 for ids[row] == mask_id, else
 * word[ids[row]] * 0.88f / row_div[row / T]. */
int sl_cuda_embed_esm(float *x, const int32_t *ids, const float *word, const float *pos,
                      const int32_t *pos_ids, const float *row_div, int mask_id, int N, int T, int H,
                      cudaStream_t s, sl_err *err);
/* x[row, :] = 0 for the rows with mask[row] == 0. */
int sl_cuda_zero_rows(float *x, const int32_t *mask, int N, int H, cudaStream_t s, sl_err *err);
/* Rotary position embedding in place on N = B*T rows (row stride ld) of nh heads of size d (head h at
 * column h*d), position row % T, tables cos_t/sin_t [>= T, d]; inverse = 1: the transpose (backward). */
int sl_cuda_rotary(float *x, const float *cos_t, const float *sin_t, int N, int T, int nh, int d, int ld,
                   int inverse, cudaStream_t s, sl_err *err);
/* P[b, h, i, j] += slopes[h] * -|i - j| (ALiBi) for P [B, heads, T, T]. */
int sl_cuda_alibi_add(float *P, const float *slopes, int B, int heads, int T, cudaStream_t s, sl_err *err);
/* Gated units: y[n, j] = act(x[n, j]) * x[n, ni + j] for x [N, 2ni], y [N, ni]; kind SL_CUDA_GLU_SWI
 * (silu, NT v2) or SL_CUDA_GLU_GE (exact-erf gelu, DNABERT-2). The backward assigns dx [N, 2ni]. */
enum { SL_CUDA_GLU_SWI = 0, SL_CUDA_GLU_GE = 1 };
int sl_cuda_glu(float *y, const float *x, int N, int ni, int kind, cudaStream_t s, sl_err *err);
int sl_cuda_glu_bwd(float *dx, const float *dy, const float *x, int N, int ni, int kind, cudaStream_t s,
                    sl_err *err);

#endif
