// A host stand-in for the parts of the CUDA runtime and cuBLAS that src/nn/cuda/{model,api}.cu call, for
// the emulated module: "device" memory is host memory, copies are memcpy, streams do nothing, and
// cublasGemmStridedBatchedEx is a plain loop with cuBLAS's column-major semantics. Inputs in bf16/fp16
// (and fp32 inputs under the FAST_16BF/16F compute types) are rounded as the tensor cores see them;
// accumulation is in double. One emulated device, "emulated (host)".
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t allocated;
static const size_t kTotal = (size_t)80 << 30;

extern "C" {

cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev) {
    if (dev != 0) return cudaErrorInvalidDevice;
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "emulated (host)");
    p->totalGlobalMem = kTotal;
    p->major = 0;
    p->minor = 0;
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int *v) {
    *v = CUDART_VERSION;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int dev) {
    return dev == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int) {
    *s = (cudaStream_t)malloc(16);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    free((void *)s);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) {
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void) {
    return cudaSuccess;
}
const char *cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess ? "no error" : "emulated error";
}
const char *cudaGetErrorName(cudaError_t e) {
    return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated";
}
cudaError_t cudaMalloc(void **p, size_t n) {
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!*p) return cudaErrorMemoryAllocation;
    /* poison: every buffer must be written before it is read */
    memset(*p, 0xff, n);
    allocated += n;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *fr, size_t *total) {
    *total = kTotal;
    *fr = kTotal - allocated;
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) {
    memmove(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t) {
    memmove(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *d, int v, size_t n) {
    memset(d, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) {
    memset(d, v, n);
    return cudaSuccess;
}

cublasStatus_t cublasCreate_v2(cublasHandle_t *h) {
    *h = (cublasHandle_t)malloc(16);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    free((void *)h);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) {
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) {
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t, void *, size_t) {
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_NOT_SUPPORTED";
}
size_t cublasLtGetVersion(void) {
    return 0;
}

static double load(const void *p, cudaDataType_t t, size_t i, cublasComputeType_t ct) {
    float v;
    if (t == CUDA_R_16BF)
        v = __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    else if (t == CUDA_R_16F)
        v = __half2float(((const __half *)p)[i]);
    else
        v = ((const float *)p)[i];
    if (t == CUDA_R_32F && ct == CUBLAS_COMPUTE_32F_FAST_16BF) v = __bfloat162float(__float2bfloat16_rn(v));
    if (t == CUDA_R_32F && ct == CUBLAS_COMPUTE_32F_FAST_16F) v = __half2float(__float2half_rn(v));
    return v;
}

/* Column-major: C[i + j ldc] = alpha sum_k op(A)[i,k] op(B)[k,j] + beta C, per batch. */
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, const void *alpha, const void *A, cudaDataType_t at,
                                          int lda, long long sA, const void *B, cudaDataType_t bt, int ldb,
                                          long long sB, const void *beta, void *C, cudaDataType_t ctype,
                                          int ldc, long long sC, int batch, cublasComputeType_t ct,
                                          cublasGemmAlgo_t) {
    if (ctype != CUDA_R_32F || at != bt) return CUBLAS_STATUS_NOT_SUPPORTED;
    const size_t es = at == CUDA_R_32F ? 4 : 2;
    const double al = *(const float *)alpha, be = *(const float *)beta;
    /* op(A) as [m][k] and op(B) as [n][k], converted once, so the inner loop is contiguous */
    double *a = (double *)malloc(((size_t)m * k + 1) * sizeof(double));
    double *b = (double *)malloc(((size_t)n * k + 1) * sizeof(double));
    if (!a || !b) {
        free(a);
        free(b);
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    for (int q = 0; q < batch; q++) {
        const char *Ab = (const char *)A + (size_t)q * sA * es, *Bb = (const char *)B + (size_t)q * sB * es;
        float *Cb = (float *)C + (size_t)q * sC;
        for (int i = 0; i < m; i++)
            for (int l = 0; l < k; l++)
                a[(size_t)i * k + l] =
                    load(Ab, at,
                         ta == CUBLAS_OP_N ? (size_t)i + (size_t)l * lda : (size_t)l + (size_t)i * lda, ct);
        for (int j = 0; j < n; j++)
            for (int l = 0; l < k; l++)
                b[(size_t)j * k + l] =
                    load(Bb, bt,
                         tb == CUBLAS_OP_N ? (size_t)l + (size_t)j * ldb : (size_t)j + (size_t)l * ldb, ct);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                const double *ar = a + (size_t)i * k, *br = b + (size_t)j * k;
                double s = 0;
                for (int l = 0; l < k; l++) s += ar[l] * br[l];
                float *c = &Cb[(size_t)i + (size_t)j * ldc];
                *c = (float)(al * s + (be != 0 ? be * *c : 0.0));
            }
    }
    free(a);
    free(b);
    return CUBLAS_STATUS_SUCCESS;
}
}
