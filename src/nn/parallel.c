/* Thread pool + deterministic blocked GEMM (see parallel.h). */
#include "parallel.h"

#include "prof.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define MAX_THREADS 256

static struct {
    pthread_t th[MAX_THREADS];
    int n; /* threads including the caller */
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    sl_nn_task_fn fn;
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;
    int active;
    uint64_t gen;
    uint64_t
        start_gen; /* gen when the workers were created (a worker must not miss a job posted before it ran) */
    int quit;
} pool = {.n = 1,
          .mu = PTHREAD_MUTEX_INITIALIZER,
          .start = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

/* BLAS must run single-threaded inside our tasks (its own threading would change the summation order with
 * the machine's core count), also for callers that never call sl_nn_set_threads. */
static atomic_int blas_pinned;

static void pin_blas(void) {
    if (!atomic_load(&blas_pinned)) {
        openblas_set_num_threads(1);
        atomic_store(&blas_pinned, 1);
    }
}

static void run_tasks(int worker) {
    for (;;) {
        size_t t = atomic_fetch_add(&pool.next, 1);
        if (t >= pool.n_tasks) break;
        pool.fn(pool.ctx, t, worker);
    }
}

static void *worker_main(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t seen = pool.start_gen; /* written before pthread_create */
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen && !pool.quit) pthread_cond_wait(&pool.start, &pool.mu);
        if (pool.quit) break;
        seen = pool.gen;
        pthread_mutex_unlock(&pool.mu);
        run_tasks(id);
        pthread_mutex_lock(&pool.mu);
        if (--pool.active == 0) pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

void sl_nn_set_threads(int n) {
    pin_blas();
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    if (n == pool.n) return;
    pthread_mutex_lock(&pool.mu);
    pool.quit = 1;
    pthread_cond_broadcast(&pool.start);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 1; i < pool.n; i++) pthread_join(pool.th[i], NULL);
    pool.quit = 0;
    pool.n = 1;
    pool.start_gen = pool.gen;
    for (int i = 1; i < n; i++) {
        if (pthread_create(&pool.th[i], NULL, worker_main, (void *)(intptr_t)i))
            break; /* fewer threads: still correct */
        pool.n = i + 1;
    }
}

int sl_nn_get_threads(void) {
    return pool.n;
}

void sl_nn_parallel_for(size_t n_tasks, sl_nn_task_fn fn, void *ctx) {
    pin_blas();
    if (n_tasks == 0) return;
    if (pool.n == 1 || n_tasks == 1) {
        for (size_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    atomic_store(&pool.next, 0);
    pool.active = pool.n - 1;
    pool.gen++;
    pthread_cond_broadcast(&pool.start);
    pthread_mutex_unlock(&pool.mu);
    run_tasks(0);
    pthread_mutex_lock(&pool.mu);
    while (pool.active > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc, by_rows, block;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void gemm_task(void *p, size_t t, int worker) {
    (void)worker;
    const gemm_job *j = p;
    int s = (int)t * j->block;
    if (j->by_rows) {
        int m = j->M - s < j->block ? j->M - s : j->block;
        const float *A = j->ta ? j->A + s : j->A + (size_t)s * j->lda;
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, m,
                    j->N, j->K, j->alpha, A, j->lda, j->B, j->ldb, j->beta, j->C + (size_t)s * j->ldc,
                    j->ldc);
    } else {
        int n = j->N - s < j->block ? j->N - s : j->block;
        const float *B = j->tb ? j->B + (size_t)s * j->ldb : j->B + s;
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, j->M,
                    n, j->K, j->alpha, j->A, j->lda, B, j->ldb, j->beta, j->C + s, j->ldc);
    }
}

void sl_nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    double t0 = sl_nn_prof_begin();
    gemm_job j = {trans_a, trans_b, M, N, K, lda, ldb, ldc, 1, 128, alpha, beta, A, B, C};
    /* Blocks depend only on the shape: rows when there are several blocks of them, else columns of 128.
     * Each row block packs all of op(B) again, so row blocks are as large as keeps 16 of them (enough
     * tasks for 16 threads), between 128 and 512 rows: at 4096 rows x 768 or 3072 that is 256 rows,
     * ~10% less CPU time per GEMM than 128 (OpenBLAS 0.3.21, one thread, Zen 4). */
    if (M < 256 && N >= 256)
        j.by_rows = 0;
    else
        j.block = M / 16 / 64 * 64 < 128 ? 128 : (M / 16 / 64 * 64 > 512 ? 512 : M / 16 / 64 * 64);
    int extent = j.by_rows ? M : N;
    size_t n_tasks = (size_t)(extent + j.block - 1) / (size_t)j.block;
    sl_nn_parallel_for(n_tasks, gemm_task, &j);
    if (t0 != 0.0) sl_nn_prof_flops(2.0 * M * N * (K > 0 ? K : 0));
    sl_nn_prof_end(SL_NN_PH_GEMM, t0);
}
