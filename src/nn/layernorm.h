/* LayerNorm parameter gradients (layernorm.c; the forward and input-gradient kernels are declared in
 * bert_impl.h). */
#ifndef SEQLORA_NN_LAYERNORM_H
#define SEQLORA_NN_LAYERNORM_H

/* gw[j] += sum over rows n (in order) of dy[n,j] * ((x[n,j] - mean[n]) * rstd[n]), gb[j] += sum of dy[n,j]:
 * the weight and bias gradients of a LayerNorm over N rows of H, from its input x and the row statistics the
 * forward stored. Split by blocks of columns: the sums' order, and so the bits, do not depend on the
 * thread count. */
void sl_nn_k_layernorm_param_bwd(float *gw, float *gb, const float *dy, const float *x, const float *mean,
                                 const float *rstd, int N, int H);

#endif
