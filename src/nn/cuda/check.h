/* Error checking for CUDA runtime and cuBLAS calls inside the backend module (C++ only). Each macro
 * returns the SL_E* code from the enclosing function after filling `err` (which must be in scope) with
 * the call, its status string and the source line. SL_CU_LAUNCH checks the last error after a launch. */
#ifndef SEQLORA_NN_CUDA_CHECK_H
#define SEQLORA_NN_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" {
#include "util/error.h"
}
#else
#include "util/error.h"
#endif

#define SL_CU(call)                                                                                          \
    do {                                                                                                     \
        cudaError_t sl_e_ = (call);                                                                          \
        if (sl_e_ != cudaSuccess)                                                                            \
            return sl_err_set(err, sl_e_ == cudaErrorMemoryAllocation ? SL_ENOMEM : SL_EINTERNAL,            \
                              "%s:%d: %s: %s (%s)", __FILE__, __LINE__, #call, cudaGetErrorString(sl_e_),    \
                              cudaGetErrorName(sl_e_));                                                      \
    } while (0)

#define SL_CU_LAUNCH() SL_CU(cudaGetLastError())

#define SL_CUBLAS(call)                                                                                      \
    do {                                                                                                     \
        cublasStatus_t sl_s_ = (call);                                                                       \
        if (sl_s_ != CUBLAS_STATUS_SUCCESS)                                                                  \
            return sl_err_set(err, sl_s_ == CUBLAS_STATUS_ALLOC_FAILED ? SL_ENOMEM : SL_EINTERNAL,           \
                              "%s:%d: %s: %s", __FILE__, __LINE__, #call, cublasGetStatusString(sl_s_));     \
    } while (0)

/* Propagate a non-zero return code. */
#define SL_TRY(expr)                                                                                         \
    do {                                                                                                     \
        int sl_rc_ = (expr);                                                                                 \
        if (sl_rc_) return sl_rc_;                                                                           \
    } while (0)

#endif
