/* Row driver of the gated MLP activations (see glu.h). */
#include "glu.h"

#include <stddef.h>

#include "kernels_simd.h"
#include "parallel.h"
#include "prof.h"

typedef struct {
    const sl_nn_glu_kernels *k;
    float *y, *dx;
    const float *x, *dy;
    int N, ni;
} glu_job;

#define GLU_ROWS 16

static void glu_task(void *p, size_t t, int worker) {
    (void)worker;
    const glu_job *jb = p;
    const sl_nn_glu_kernels *k = jb->k;
    const int ni = jb->ni, r1 = (int)(t + 1) * GLU_ROWS < jb->N ? (int)(t + 1) * GLU_ROWS : jb->N;
    const int fast = sl_nn_k_simd_active();
    for (int r = (int)t * GLU_ROWS; r < r1; r++) {
        const float *a = jb->x + (size_t)r * 2 * ni, *g = a + ni;
        int j = 0;
        if (jb->dy) {
            float *da = jb->dx + (size_t)r * 2 * ni, *dg = da + ni;
            const float *d = jb->dy + (size_t)r * ni;
            if (fast && k->bwd_fast) j = k->bwd_fast(da, dg, d, a, g, ni);
            k->bwd(da + j, dg + j, d + j, a + j, g + j, ni - j);
        } else {
            float *o = jb->y + (size_t)r * ni;
            if (fast && k->fwd_fast) j = k->fwd_fast(o, a, g, ni);
            k->fwd(o + j, a + j, g + j, ni - j);
        }
    }
}

static void run(const glu_job *jb) {
    double t0 = sl_nn_prof_begin();
    sl_nn_parallel_for(((size_t)(jb->N > 0 ? jb->N : 0) + GLU_ROWS - 1) / GLU_ROWS, glu_task, (void *)jb);
    sl_nn_prof_end(SL_NN_PH_GELU, t0);
}

void sl_nn_k_glu(const sl_nn_glu_kernels *k, float *y, const float *x, int N, int ni) {
    glu_job jb = {k, y, NULL, x, NULL, N, ni};
    run(&jb);
}

void sl_nn_k_glu_bwd(const sl_nn_glu_kernels *k, float *dx, const float *dy, const float *x, int N, int ni) {
    glu_job jb = {k, NULL, dx, x, dy, N, ni};
    run(&jb);
}
