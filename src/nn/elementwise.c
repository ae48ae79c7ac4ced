/* Element-wise passes split across the thread pool (see elementwise.h). */
#include "elementwise.h"

#include "parallel.h"

#define ADD_CHUNK ((size_t)1 << 16)
#define BIAS_ROWS 64
#define COL_BLOCK 128

typedef struct {
    float *y;
    const float *x;
    size_t n;
    int out;
} add_job;

static void add_task(void *p, size_t t, int worker) {
    (void)worker;
    const add_job *j = p;
    size_t i1 = (t + 1) * ADD_CHUNK < j->n ? (t + 1) * ADD_CHUNK : j->n;
    for (size_t i = t * ADD_CHUNK; i < i1; i++) j->y[i] += j->x[i];
}

void sl_nn_k_add(float *y, const float *x, size_t n) {
    add_job j = {y, x, n, 0};
    sl_nn_parallel_for((n + ADD_CHUNK - 1) / ADD_CHUNK, add_task, &j);
}

static void bias_task(void *p, size_t t, int worker) {
    (void)worker;
    const add_job *j = p;
    size_t r1 = (t + 1) * BIAS_ROWS < j->n ? (t + 1) * BIAS_ROWS : j->n;
    for (size_t r = t * BIAS_ROWS; r < r1; r++) {
        float *row = j->y + r * (size_t)j->out;
        for (int c = 0; c < j->out; c++) row[c] += j->x[c];
    }
}

typedef struct {
    float *g;
    const float *dy;
    int N, out;
} colsum_job;

static void colsum_task(void *p, size_t t, int worker) {
    (void)worker;
    const colsum_job *j = p;
    const int c0 = (int)t * COL_BLOCK, c1 = c0 + COL_BLOCK < j->out ? c0 + COL_BLOCK : j->out;
    for (int n = 0; n < j->N; n++) {
        const float *row = j->dy + (size_t)n * j->out;
        for (int c = c0; c < c1; c++) j->g[c] += row[c];
    }
}

void sl_nn_k_colsum_add(float *g, const float *dy, int N, int out) {
    if (N <= 0 || out <= 0) return;
    colsum_job j = {g, dy, N, out};
    sl_nn_parallel_for(((size_t)out + COL_BLOCK - 1) / COL_BLOCK, colsum_task, &j);
}

void sl_nn_k_add_bias(float *y, const float *b, int N, int out) {
    if (N <= 0 || out <= 0) return;
    add_job j = {y, b, (size_t)N, out};
    sl_nn_parallel_for(((size_t)N + BIAS_ROWS - 1) / BIAS_ROWS, bias_task, &j);
}
