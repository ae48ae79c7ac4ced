/* Attention softmax rows (softmax.c): vectorised, runtime-dispatched (AVX-512F or portable C, same bits). */
#ifndef SEQLORA_NN_SOFTMAX_H
#define SEQLORA_NN_SOFTMAX_H

#include <stdint.h>

/* row[j] = exp(row[j] - m) / sum over keys, for j with mk[j] != 0 (m = their maximum), 0 where mk[j] == 0;
 * a row without keys becomes all zeros; a NaN score among the keys makes the sum NaN, so its position
 * becomes NaN and the others 0. T >= 1. */
void sl_nn_k_softmax_masked(float *row, const int32_t *mk, int T);

/* Backward of a softmax row p: g[j] = p[j] (g[j] - sum_k p[k] g[k]), in place. */
void sl_nn_k_softmax_bwd(float *g, const float *p, int T);

#endif
