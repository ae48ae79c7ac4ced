/* Runtime-dispatched AVX-512 paths of the dropout, GELU, softmax and LayerNorm kernels (bit-identical to
 * the portable C). */
#ifndef SL_NN_KERNELS_SIMD_H
#define SL_NN_KERNELS_SIMD_H

/* 1 when the AVX-512 paths are used: the CPU has AVX-512F and BMI2, the build targets x86-64 with
 * GCC/Clang, and sl_nn_k_simd_enable(0) was not called. Thread-safe. */
int sl_nn_k_simd_active(void);

/* Turn the AVX-512 paths off (0) or back on (1, only takes effect where the CPU has them). For tests that
 * compare both paths; the masks and outputs are the same either way. Thread-safe (an atomic flag), but a
 * kernel running concurrently may use either path. */
void sl_nn_k_simd_enable(int on);

/* ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)): the fixed order in which the kernels add their 8
 * interleaved partial sums (element j of a row goes to sum j % 8, as one AVX-512 register of doubles). */
static inline double sl_nn_tree8(const double a[8]) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

#endif
