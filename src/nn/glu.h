/* The row driver of the gated MLP activations (glu.c), shared by GeGLU (gelu.c) and SwiGLU (swiglu.c): each
 * row of x holds [a | g] (2 ni floats), the forward writes y = act(a) g (ni floats), the backward writes
 * [da | dg] into dx from dy. Rows are split across the thread pool in blocks fixed by the shape; within a
 * row, the vectorised kernel (when given and sl_nn_k_simd_active()) does a prefix and the portable one the
 * rest, which must give the same bits. The time goes to the profile's activation phase. */
#ifndef SEQLORA_NN_GLU_H
#define SEQLORA_NN_GLU_H

typedef struct {
    /* forward of the first n elements of a row: the fast kernel returns how many it did (may be 0) */
    int (*fwd_fast)(float *y, const float *a, const float *g, int n); /* NULL: none */
    void (*fwd)(float *y, const float *a, const float *g, int n);
    int (*bwd_fast)(float *da, float *dg, const float *dy, const float *a, const float *g,
                    int n); /* or NULL */
    void (*bwd)(float *da, float *dg, const float *dy, const float *a, const float *g, int n);
} sl_nn_glu_kernels;

/* y [N, ni] from x [N, 2 ni]. */
void sl_nn_k_glu(const sl_nn_glu_kernels *k, float *y, const float *x, int N, int ni);

/* dx [N, 2 ni] (assigned) from dy [N, ni] and x [N, 2 ni]. */
void sl_nn_k_glu_bwd(const sl_nn_glu_kernels *k, float *dx, const float *dy, const float *x, int N, int ni);

#endif
