/* One PEFT LoRA Linear, y = x W^T + b + scaling * (dropout(x) A^T) B^T, forward and backward, for the engines
 * whose layers keep their weights per module (ESM/NT, DNABERT-2). The dropout mask is drawn by the forward
 * from Philox (seed, hi) into `keep` and reused by the backward, as in the BERT engine. Not thread-safe on
 * one descriptor's scratch. */
#ifndef SEQLORA_NN_LORA_LINEAR_H
#define SEQLORA_NN_LORA_LINEAR_H

#include <stdint.h>

typedef struct {
    const float *w, *b;     /* frozen weight [out, in], bias [out] or NULL */
    const float *A, *B;     /* LoRA [r, in] and [out, r]; NULL A = the module is not adapted */
    float *gA, *gB;         /* their gradients (the backward adds into them) */
    int in, out, r;         /* sizes */
    float scaling;          /* lora_alpha / r (or rsLoRA's) */
    float dropout;          /* LoRA dropout p; 0 = none (not training, or p 0) */
    uint64_t seed, hi;      /* Philox key and counter high word of this module's mask */
    uint64_t *keep;         /* mask bits: written by the forward, read by the backward */
    float *xd, *du, *dwide; /* scratch: [N, in], [N, r], [N, in] */
} sl_nn_lora_linear;

/* y [N, out] = the layer applied to x [N, in]; u [N, r] keeps dropout(x) A^T for the backward. */
void sl_nn_lora_linear_fwd(const sl_nn_lora_linear *L, float *y, const float *x, int N, float *u);

/* Backward for dy [N, out]: LoRA gradients added into gA/gB; dx [N, in] assigned (acc 0) or added (acc 1),
 * skipped when dx is NULL. x and u as given to the forward. */
void sl_nn_lora_linear_bwd(const sl_nn_lora_linear *L, float *dx, int acc, const float *dy, const float *x,
                           int N, const float *u);

#endif
