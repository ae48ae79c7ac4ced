/* GEMMs of the CPU engine through oneDNN (optional: builds with SEQLORA_HAVE_ONEDNN), in fp32 or bf16.
 *
 * Two kinds of product:
 *   - against a frozen operand (sl_nn_dnnl_mat): a base model's Linear weight, which LoRA never changes.
 *     In fp32 the weight is used where it lies (no copy); in bf16 (`--precision bf16`) it is rounded to
 *     bfloat16 once and packed in the layout of the CPU's bf16 dot-product instructions (AVX512-BF16 or
 *     AMX), and each GEMM rounds its activation rows to bf16 on the fly — the arithmetic of PyTorch's
 *     `torch.autocast("cpu", dtype=torch.bfloat16)` on a Linear;
 *   - of two activations inside a pool task (sl_nn_dnnl_mm: the attention products).
 * Products accumulate in fp32 either way. The kernels are oneDNN's (brgemm); this module owns the rounding,
 * the packing, the primitive caches and the split of the work over the engine's thread pool.
 *
 * Where it is used: fp32 where sl_nn_dnnl_fp32_active() (oneDNN and a CPU with AVX-512, where its brgemm
 * kernels beat the engine's blocked OpenBLAS calls: 10-15% per GEMM on Zen 4; elsewhere the engine keeps
 * OpenBLAS; the environment variable SEQLORA_GEMM=openblas keeps OpenBLAS too, for fp32 results bit-identical
 * to a build without oneDNN), bf16 where sl_nn_bf16_supported().
 *
 * Determinism: as with sl_nn_sgemm, rows are split into blocks that depend only on M and each block is one
 * single-threaded oneDNN primitive, so results do not depend on the thread count. They do depend on the
 * backend: fp32 results of a build with oneDNN differ in the last bits from one without.
 *
 * Errors: the products run inside the engine's void kernels, so a failure there (oneDNN refusing a shape,
 * out of memory) cannot be returned by the call. It fills the affected outputs with NaN and is recorded;
 * the engine calls sl_nn_dnnl_take_error at the end of each pass and fails the pass with the message.
 *
 * Thread-safety: like the pool, driven from one thread at a time (sl_nn_dnnl_mm_run: from its tasks). */
#ifndef SEQLORA_NN_GEMM_ONEDNN_H
#define SEQLORA_NN_GEMM_ONEDNN_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum { SL_NN_DNNL_FP32 = 0, SL_NN_DNNL_BF16 = 1 } sl_nn_dnnl_type;

/* 1 when this build has oneDNN and the CPU has bf16 dot products (AVX512-BF16 or AMX); otherwise 0 and
 * `why` (may be NULL) says what is missing. */
int sl_nn_bf16_supported(char *why, size_t why_len);

/* 1 when the engines run their fp32 frozen-weight GEMMs and attention products through this module: a
 * build with oneDNN, a CPU with AVX-512, SEQLORA_GEMM not "openblas" (read once), and not switched off by
 * sl_nn_dnnl_fp32_enable(0). */
int sl_nn_dnnl_fp32_active(void);

/* Switch the fp32 use off (0) or back on (1; only where available), for tests and benchmarks that compare
 * with the OpenBLAS path. Takes effect for models loaded afterwards. */
void sl_nn_dnnl_fp32_enable(int on);

/* dst[i] = src[i] rounded to bfloat16, nearest even (NaN -> quiet NaN of the same sign), as PyTorch's
 * `tensor.to(torch.bfloat16)`; the result is the upper 16 bits of the float. Vectorised where the CPU has
 * AVX-512 (off with sl_nn_k_simd_enable(0)); the portable path gives the same bits. */
void sl_nn_bf16_round(uint16_t *dst, const float *src, size_t n);

/* dst [rows, cols] (leading dimension ldd) = src [rows, cols] (lds) rounded as by sl_nn_bf16_round. */
void sl_nn_bf16_round_rows(uint16_t *dst, size_t ldd, const float *src, size_t lds, int rows, int cols);

/* The float a bf16 value stands for. */
static inline float sl_nn_bf16_to_float(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

/* ---- products against a frozen operand ------------------------------------------------------------ */

/* A frozen right-hand operand op(B) [K, N]. */
typedef struct sl_nn_dnnl_mat sl_nn_dnnl_mat;

/* Make op(B) of row-major fp32 B: [K, N] when trans_b is 0, [N, K] when trans_b is 1 (a PyTorch Linear
 * weight [out, in] for y = x W^T is B with trans_b 1, K = in, N = out; its input gradient dx = dy W is B
 * with trans_b 0, K = out, N = in). fp32: B is used in place and must outlive the operand; bf16: B is
 * rounded and packed, and not referenced afterwards. SL_EUSAGE when the type is not available here
 * (sl_nn_bf16_supported / sl_nn_dnnl_fp32_active), SL_ENOMEM, SL_EINTERNAL when oneDNN refuses. */
int sl_nn_dnnl_mat_create(const float *B, int K, int N, int trans_b, sl_nn_dnnl_type type,
                          sl_nn_dnnl_mat **out, sl_err *err);

/* Free an operand (NULL is fine). */
void sl_nn_dnnl_mat_free(sl_nn_dnnl_mat *b);

/* Bytes the operand holds (0 in fp32, which uses B in place; primitives' descriptors not counted). */
size_t sl_nn_dnnl_mat_bytes(const sl_nn_dnnl_mat *b);

/* C [M, N] (leading dimension ldc) = A op(B) + bias, where A is fp32 [M, K] with leading dimension lda (bf16:
 * rounded as by sl_nn_bf16_round); bias [N] may be NULL; with accumulate the result is added to C instead
 * of replacing it. Runs on the engine's pool (sl_nn_set_threads). When oneDNN refuses an fp32 block shape,
 * OpenBLAS computes the product instead (nothing recorded); a bf16 failure is recorded. */
void sl_nn_dnnl_gemm(const sl_nn_dnnl_mat *B, int M, const float *A, int lda, const float *bias,
                     int accumulate, float *C, int ldc);

/* ---- products of two activations inside pool tasks (attention) ---------------------------------- */

/* One product shape: C [M, N] (fp32, leading dimension ldc) = alpha op(A) op(B), op(A) [M, K] (A row-major
 * [M, K], or [K, M] with trans_a; leading dimension lda), op(B) [K, N] (B [K, N], or [N, K] with trans_b;
 * ldb), A and B of `type` (bf16 operands are rounded by the caller, e.g. with sl_nn_bf16_round_rows). */
typedef struct sl_nn_dnnl_mm sl_nn_dnnl_mm;

/* The product of that shape, made or found in a process-wide cache, and per-worker bf16 scratch of at
 * least scratch_elems elements for the pool's current threads (sl_nn_dnnl_worker_scratch). Driving thread
 * only, before the pool runs the tasks that use it. NULL on failure: recorded for sl_nn_dnnl_take_error in
 * bf16; in fp32 nothing is recorded and the caller runs the product on OpenBLAS instead. */
const sl_nn_dnnl_mm *sl_nn_dnnl_mm_get(int M, int N, int K, int trans_a, int lda, int trans_b, int ldb,
                                       int ldc, float alpha, sl_nn_dnnl_type type, size_t scratch_elems);

/* Worker `worker`'s bf16 scratch (at least the largest scratch_elems asked of sl_nn_dnnl_mm_get). */
uint16_t *sl_nn_dnnl_worker_scratch(int worker);

/* Run mm in a pool task on worker `worker` (A and B: float * or uint16_t * as its type). On failure C's
 * M x N is NaN and the error is recorded. */
void sl_nn_dnnl_mm_run(const sl_nn_dnnl_mm *mm, int worker, const void *A, const void *B, float *C);

/* For tests: make the next n primitive creations fail as if oneDNN refused the shape (0 = none). */
void sl_nn_dnnl_inject_failures(int n);

/* The first failure of sl_nn_dnnl_gemm or sl_nn_dnnl_mm_* since the last call (then cleared): 0 when there
 * was none, otherwise its code with the message in err. */
int sl_nn_dnnl_take_error(sl_err *err);

#endif
