/* The module's exported table (sl_cuda.h): device queries and the model functions. */
#include <stdio.h>

#include <cublasLt.h>

#include "check.h"
#include "model.h"
#include "sl_cuda.h"

namespace {

int device_count(int *n, sl_err *err) {
    (void)err;
    *n = 0;
    int c = 0;
    cudaError_t e = cudaGetDeviceCount(&c);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* no driver / no device: zero devices, not an error */
        return 0;
    }
    *n = c;
    return 0;
}

int device_info(int dev, char *name, size_t name_len, size_t *mem_total, int *cc_major, int *cc_minor,
                sl_err *err) {
    cudaDeviceProp p;
    SL_CU(cudaGetDeviceProperties(&p, dev));
    if (name && name_len) snprintf(name, name_len, "%s", p.name);
    if (mem_total) *mem_total = p.totalGlobalMem;
    if (cc_major) *cc_major = p.major;
    if (cc_minor) *cc_minor = p.minor;
    return 0;
}

char build_str[160];

const char *build_info() {
    int rt = 0;
    if (cudaRuntimeGetVersion(&rt) != cudaSuccess) rt = 0;
    snprintf(build_str, sizeof build_str,
             "CUDA runtime %d.%d (built with %d.%d), cuBLAS %d.%d.%d, cuBLASLt %zu", rt / 1000,
             rt % 1000 / 10, CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, CUBLAS_VER_MAJOR,
             CUBLAS_VER_MINOR, CUBLAS_VER_PATCH, cublasLtGetVersion());
    return build_str;
}

sl_cuda_api api = {
    SL_CUDA_ABI,
    nullptr,
    device_count,
    device_info,
    sl_cuda_model_plan,
    sl_cuda_model_create,
    sl_cuda_model_destroy,
    sl_cuda_model_forward,
    sl_cuda_model_backward,
    sl_cuda_model_zero_grad,
    sl_cuda_model_get_logits,
    sl_cuda_model_get_train,
    sl_cuda_model_set_train,
    sl_cuda_model_scale_grads,
    sl_cuda_model_clip,
    sl_cuda_model_adamw,
    sl_cuda_model_memory,
    sl_cuda_model_sync,
};

} // namespace

extern "C" __attribute__((visibility("default"))) const sl_cuda_api *sl_cuda_get_api(void) {
    if (!api.build) api.build = build_info();
    return &api;
}
