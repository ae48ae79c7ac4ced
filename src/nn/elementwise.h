/* Element-wise passes of the encoder split across the engine's thread pool (elementwise.c). Every output
 * element is computed by one task with the same operations whatever the thread count, so results do not
 * depend on it. */
#ifndef SEQLORA_NN_ELEMENTWISE_H
#define SEQLORA_NN_ELEMENTWISE_H

#include <stddef.h>

/* y[i] += x[i] for i < n (y and x must not overlap unless equal). */
void sl_nn_k_add(float *y, const float *x, size_t n);

/* Each of the N rows of y ([N, out], row-major) gets b[j] added to column j. */
void sl_nn_k_add_bias(float *y, const float *b, int N, int out);

/* g[j] += the sum of dy[n, j] over the rows n = 0 .. N-1, added in row order, for j < out (the bias gradient
 * of a Linear layer); split by blocks of columns, so the order and the bits do not depend on the threads. */
void sl_nn_k_colsum_add(float *g, const float *dy, int N, int out);

#endif
