/* The engine's thread pool and deterministic GEMM.
 *
 * Results must not depend on the thread count (the thread budget is not part of a cache key), and
 * OpenBLAS's own threading does not guarantee that. So BLAS always runs single-threaded and the engine
 * splits work itself into tasks whose boundaries depend only on the problem shape; any thread may run
 * any task, and every output element is computed by exactly one task in a fixed order.
 *
 * One pool per process, driven from one thread at a time (the engine is not re-entrant). */
#ifndef SEQLORA_NN_PARALLEL_H
#define SEQLORA_NN_PARALLEL_H

#include <stddef.h>

/* Set the number of threads (>= 1; workers are started or stopped as needed) and pin BLAS to one. */
void sl_nn_set_threads(int n);
int sl_nn_get_threads(void);

/* Run fn(ctx, task, worker) for task = 0..n_tasks-1 across the pool; worker is in [0, threads). Returns
 * when all tasks are done. */
typedef void (*sl_nn_task_fn)(void *ctx, size_t task, int worker);
void sl_nn_parallel_for(size_t n_tasks, sl_nn_task_fn fn, void *ctx);

/* Row-major C = alpha op(A) op(B) + beta C (cblas_sgemm semantics), split into shape-determined blocks
 * of rows (or columns when M is small) computed in parallel. */
void sl_nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

#endif
