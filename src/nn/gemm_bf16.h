/* bf16 GEMMs against frozen operands on the CPU: the `--precision bf16` path of the CPU engine.
 *
 * LoRA leaves the base model frozen, so its Linear weights can be rounded to bfloat16 once, packed in the
 * layout the CPU's bf16 dot-product instructions want (AVX512-BF16, or AMX where present), and multiplied
 * with activations rounded to bf16 on the fly, the products accumulated in fp32 — the arithmetic of
 * PyTorch's `torch.autocast("cpu", dtype=torch.bfloat16)` on a Linear. The GEMM itself is oneDNN's
 * (brgemm kernels); this module owns the rounding, the packing, and the split of the work over the
 * engine's thread pool.
 *
 * Determinism: as with sl_nn_sgemm, the rows of A are split into blocks that depend only on M, each block
 * is computed by one single-threaded oneDNN primitive, so results do not depend on the thread count.
 *
 * Errors: a GEMM runs inside the engine's void kernels, so a failure there (oneDNN refusing a shape, out of
 * memory) cannot be returned by the call. It fills the affected rows of C with NaN and is recorded; the
 * engine calls sl_nn_bf16_take_error at the end of each pass and fails the pass with the message.
 *
 * Thread-safety: like the pool, driven from one thread at a time. */
#ifndef SEQLORA_NN_GEMM_BF16_H
#define SEQLORA_NN_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* 1 when this build has oneDNN and the CPU has bf16 dot products (AVX512-BF16 or AMX); otherwise 0 and
 * `why` (may be NULL) says what is missing. */
int sl_nn_bf16_supported(char *why, size_t why_len);

/* dst[i] = src[i] rounded to bfloat16, nearest even (NaN -> quiet NaN of the same sign), as PyTorch's
 * `tensor.to(torch.bfloat16)`; the result is the upper 16 bits of the float. Vectorised where the CPU has
 * AVX-512 (off with sl_nn_k_simd_enable(0)); the portable path gives the same bits. */
void sl_nn_bf16_round(uint16_t *dst, const float *src, size_t n);

/* The float a bf16 value stands for. */
static inline float sl_nn_bf16_to_float(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

/* A frozen right-hand operand op(B) [K, N] in bf16, packed for the GEMM. */
typedef struct sl_nn_bf16_mat sl_nn_bf16_mat;

/* Round and pack op(B): B is row-major fp32, [K, N] when trans_b is 0, [N, K] when trans_b is 1 (a PyTorch
 * Linear weight [out, in] for y = x W^T is B with trans_b 1, K = in, N = out; its input gradient
 * dx = dy W is B with trans_b 0, K = out, N = in). B is not referenced afterwards. SL_EUSAGE when bf16 is
 * not supported here (see sl_nn_bf16_supported), SL_ENOMEM, SL_EINTERNAL when oneDNN refuses. */
int sl_nn_bf16_mat_create(const float *B, int K, int N, int trans_b, sl_nn_bf16_mat **out, sl_err *err);

/* Free a packed operand (NULL is fine). */
void sl_nn_bf16_mat_free(sl_nn_bf16_mat *b);

/* Bytes held by a packed operand (weights and cached primitives' descriptors not counted). */
size_t sl_nn_bf16_mat_bytes(const sl_nn_bf16_mat *b);

/* C [M, N] (leading dimension ldc) = bf16(A) op(B) + bias, where A is fp32 [M, K] with leading dimension
 * lda, rounded to bf16 as by sl_nn_bf16_round; bias [N] may be NULL; with accumulate the result is added
 * to C instead of replacing it. Products and sums in fp32. Runs on the engine's pool (sl_nn_set_threads). */
void sl_nn_bf16_gemm(const sl_nn_bf16_mat *B, int M, const float *A, int lda, const float *bias,
                     int accumulate, float *C, int ldc);

/* ---- products of two activations inside pool tasks (attention) ---------------------------------- */

/* One product shape: C [M, N] (fp32, leading dimension ldc) = alpha op(A) op(B) of bf16 operands, op(A)
 * [M, K] (A row-major [M, K], or [K, M] with trans_a; leading dimension lda), op(B) [K, N] (B [K, N], or
 * [N, K] with trans_b; ldb). */
typedef struct sl_nn_bf16_mm sl_nn_bf16_mm;

/* The product of that shape, made or found in a process-wide cache, and per-worker bf16 scratch of at
 * least scratch_elems elements for the pool's current threads (sl_nn_bf16_worker_scratch). Driving thread
 * only, before the pool runs the tasks that use it. NULL on failure (recorded: sl_nn_bf16_take_error). */
const sl_nn_bf16_mm *sl_nn_bf16_mm_get(int M, int N, int K, int trans_a, int lda, int trans_b, int ldb,
                                       int ldc, float alpha, size_t scratch_elems);

/* Worker `worker`'s bf16 scratch (at least the largest scratch_elems asked of sl_nn_bf16_mm_get). */
uint16_t *sl_nn_bf16_worker_scratch(int worker);

/* Run mm in a pool task on worker `worker`: A and B bf16 as described by mm (rounded by the caller, e.g. with
 * sl_nn_bf16_round_rows), C fp32. On failure C's M x N is NaN and the error is recorded. */
void sl_nn_bf16_mm_run(const sl_nn_bf16_mm *mm, int worker, const uint16_t *A, const uint16_t *B, float *C);

/* dst [rows, cols] (leading dimension ldd) = src [rows, cols] (lds) rounded as by sl_nn_bf16_round. */
void sl_nn_bf16_round_rows(uint16_t *dst, size_t ldd, const float *src, size_t lds, int rows, int cols);

/* The first failure of sl_nn_bf16_gemm or sl_nn_bf16_mm_* since the last call (then cleared): 0 when there
 * was none, otherwise its code with the message in err. */
int sl_nn_bf16_take_error(sl_err *err);

#endif
