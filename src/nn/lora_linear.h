/* One PEFT LoRA Linear, y = x W^T + b + scaling * (dropout(x) A^T) B^T, forward and backward, for the engines
 * whose layers keep their weights per module (ESM/NT, DNABERT-2). The dropout mask is drawn by the forward
 * from Philox (seed, hi) into `keep` and reused by the backward, as in the BERT engine. The frozen product
 * x W^T (and the input gradient dy W) runs on oneDNN operands of W when the engine made them (gemm_onednn.h:
 * W in place in fp32, packed bf16 copies in bf16 mode), else on OpenBLAS; the LoRA branch stays fp32. Not
 * thread-safe on one descriptor's scratch. */
#ifndef SEQLORA_NN_LORA_LINEAR_H
#define SEQLORA_NN_LORA_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "gemm_onednn.h"
#include "util/error.h"

typedef struct {
    const float *w, *b;         /* frozen weight [out, in], bias [out] or NULL */
    const sl_nn_dnnl_mat *wd;   /* W as a oneDNN operand for y = x W^T (K = in, N = out), or NULL: OpenBLAS */
    const sl_nn_dnnl_mat *wd_t; /* training: W as a oneDNN operand for dx = dy W (K = out, N = in), or NULL */
    const float *A, *B;         /* LoRA [r, in] and [out, r]; NULL A = the module is not adapted */
    float *gA, *gB;             /* their gradients (the backward adds into them) */
    int in, out, r;             /* sizes */
    float scaling;              /* lora_alpha / r (or rsLoRA's) */
    float dropout;              /* LoRA dropout p; 0 = none (not training, or p 0) */
    uint64_t seed, hi;          /* Philox key and counter high word of this module's mask */
    uint64_t *keep;             /* mask bits: written by the forward, read by the backward */
    float *xd, *du, *dwide;     /* scratch: [N, in], [N, r], [N, in] */
} sl_nn_lora_linear;

/* y [N, out] = the layer applied to x [N, in]; u [N, r] keeps dropout(x) A^T for the backward. */
void sl_nn_lora_linear_fwd(const sl_nn_lora_linear *L, float *y, const float *x, int N, float *u);

/* Backward for dy [N, out]: LoRA gradients added into gA/gB; dx [N, in] assigned (acc 0) or added (acc 1),
 * skipped when dx is NULL. x and u as given to the forward. */
void sl_nn_lora_linear_bwd(const sl_nn_lora_linear *L, float *dx, int acc, const float *dy, const float *x,
                           int N, const float *u);

/* An engine's frozen Linears as oneDNN operands: fwd[i] for y = x W_i^T and, for a training model, bwd[i]
 * for dx = dy W_i (NULL otherwise); fp32 (W in place) or bf16 (packed copies: bf16 mode). All-zero =
 * OpenBLAS. */
typedef struct {
    sl_nn_dnnl_mat **fwd, **bwd;
    size_t n;
    int bf16; /* bf16 mode */
} sl_nn_lora_dnnl;

/* The frozen weight of slot i of an engine, [*out, *in] row-major (NULL: no Linear in that slot). */
typedef const float *(*sl_nn_lora_weight_fn)(const void *model, size_t i, int *in, int *out);

/* Make the operands of `type` of slots 0..n-1 (weight(model, i, ..)), the input-gradient ones too when
 * `training`; an empty slot stays NULL. They replace what `s` held only when all were made (on error `s` is
 * unchanged). Memory: none in fp32; in bf16 2 bytes per weight, twice when training. SL_EUSAGE when the type
 * is not available here (sl_nn_bf16_supported: the message says why), SL_ENOMEM, SL_EINTERNAL when oneDNN
 * refuses a shape. */
int sl_nn_lora_dnnl_make(sl_nn_lora_dnnl *s, size_t n, sl_nn_lora_weight_fn weight, const void *model,
                         int training, sl_nn_dnnl_type type, sl_err *err);

/* Free what sl_nn_lora_dnnl_make made and zero `s` (an all-zero `s` is fine). */
void sl_nn_lora_dnnl_free(sl_nn_lora_dnnl *s);

#endif
