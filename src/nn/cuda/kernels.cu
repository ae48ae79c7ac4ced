/* The element-wise and row kernels of the CUDA backend (see kernels.h). Row reductions accumulate in
 * double, as the CPU engine does, so that fp32 results agree to a few float ulps. */
#include <math.h>

#include "check.h"
#include "elem.h"
#include "kernels.h"

namespace {

constexpr int kThreads = 256;

unsigned grid_for(size_t n, int threads = kThreads) {
    size_t g = (n + threads - 1) / threads;
    if (g > 65535u * 16u) g = 65535u * 16u; /* grid-stride loops cover the rest */
    return (unsigned)(g ? g : 1);
}

#define GRID_STRIDE(i, n)                                                                                    \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                                  \
         i += (size_t)gridDim.x * blockDim.x)

/* Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the result. */
template <typename T> __device__ T block_sum(T v) {
    __shared__ T part[32];
    __shared__ T total;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    if (lane == 0) part[wid] = v;
    __syncthreads();
    if (wid == 0) {
        const int nw = blockDim.x >> 5;
        T x = lane < nw ? part[lane] : T(0);
        for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
        if (lane == 0) total = x;
    }
    __syncthreads();
    T r = total;
    __syncthreads(); /* part/total may be reused by a following call */
    return r;
}

__device__ float block_max(float v) {
    __shared__ float part[32];
    __shared__ float total;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    if (lane == 0) part[wid] = v;
    __syncthreads();
    if (wid == 0) {
        const int nw = blockDim.x >> 5;
        float x = lane < nw ? part[lane] : -INFINITY;
        for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_down_sync(0xffffffffu, x, o));
        if (lane == 0) total = x;
    }
    __syncthreads();
    float r = total;
    __syncthreads();
    return r;
}

__global__ void k_embed(float *x, const int32_t *ids, const float *word, const float *pos, const float *type,
                        size_t n, int T, int H) {
    GRID_STRIDE(i, n) {
        size_t row = i / H;
        int j = (int)(i % H), t = (int)(row % T);
        x[i] = pos ? word[(size_t)ids[row] * H + j] + pos[(size_t)t * H + j] + type[j]
                   : word[(size_t)ids[row] * H + j] + type[j];
    }
}

__global__ void k_embed_esm(float *x, const int32_t *ids, const float *word, const float *pos,
                            const int32_t *pos_ids, const float *row_div, int mask_id, size_t n, int T,
                            int H) {
    GRID_STRIDE(i, n) {
        size_t row = i / H;
        int j = (int)(i % H);
        const int id = ids[row];
        float v = word[(size_t)id * H + j];
        if (row_div) v = id == mask_id ? 0.0f : v * 0.88f / row_div[row / T];
        if (pos) v += pos[(size_t)pos_ids[row] * H + j];
        x[i] = v;
    }
}

__global__ void k_zero_rows(float *x, const int32_t *mask, size_t n, int H) {
    GRID_STRIDE(i, n) if (!mask[i / H]) x[i] = 0.0f;
}

/* one thread per (row, head, i < d/2) */
__global__ void k_rotary(float *x, const float *cos_t, const float *sin_t, size_t n, int T, int nh, int d,
                         int ld, int inverse) {
    const int h2 = d / 2;
    GRID_STRIDE(e, n) {
        const size_t row = e / ((size_t)nh * h2);
        const int hd = (int)(e / h2 % nh), i = (int)(e % h2), t = (int)(row % T);
        float *r = x + row * ld + (size_t)hd * d;
        const float *c = cos_t + (size_t)t * d, *sn = sin_t + (size_t)t * d;
        sl_cuda_rotary_pair(&r[i], &r[i + h2], c[i], sn[i], c[i + h2], sn[i + h2], inverse);
    }
}

__global__ void k_alibi_add(float *P, const float *slopes, size_t n, int heads, int T) {
    GRID_STRIDE(e, n) {
        const int j = (int)(e % T), i = (int)(e / T % T), h = (int)(e / ((size_t)T * T) % heads);
        P[e] += sl_cuda_alibi(slopes[h], i, j);
    }
}

__global__ void k_glu(float *y, const float *x, size_t n, int ni, int kind) {
    GRID_STRIDE(e, n) {
        const size_t row = e / ni;
        const int j = (int)(e % ni);
        const float a = x[row * 2 * ni + j], g = x[row * 2 * ni + ni + j];
        y[e] = kind == SL_CUDA_GLU_GE ? sl_cuda_geglu(a, g) : sl_cuda_swiglu(a, g);
    }
}

__global__ void k_glu_bwd(float *dx, const float *dy, const float *x, size_t n, int ni, int kind) {
    GRID_STRIDE(e, n) {
        const size_t row = e / ni;
        const int j = (int)(e % ni);
        const float a = x[row * 2 * ni + j], g = x[row * 2 * ni + ni + j];
        float da, dg;
        if (kind == SL_CUDA_GLU_GE)
            sl_cuda_geglu_grad(a, g, dy[e], &da, &dg);
        else
            sl_cuda_swiglu_grad(a, g, dy[e], &da, &dg);
        dx[row * 2 * ni + j] = da;
        dx[row * 2 * ni + ni + j] = dg;
    }
}

__global__ void k_embed_bwd(float *gword, const int32_t *ids, const float *dx, size_t n, int H) {
    GRID_STRIDE(i, n) {
        size_t row = i / H;
        atomicAdd(&gword[(size_t)ids[row] * H + i % H], dx[i]);
    }
}

__global__ void k_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w,
                            const float *b, int H, float eps) {
    const size_t row = blockIdx.x;
    const float *xr = x + row * H;
    float *yr = y + row * H;
    double s = 0;
    for (int j = threadIdx.x; j < H; j += blockDim.x) s += xr[j];
    const double m = block_sum(s) / H;
    double v = 0;
    for (int j = threadIdx.x; j < H; j += blockDim.x) v += (xr[j] - m) * (xr[j] - m);
    v = block_sum(v) / H;
    const double rs = 1.0 / sqrt(v + eps);
    for (int j = threadIdx.x; j < H; j += blockDim.x) yr[j] = (float)((xr[j] - m) * rs) * w[j] + b[j];
    if (threadIdx.x == 0) {
        if (mean) mean[row] = (float)m;
        if (rstd) rstd[row] = (float)rs;
    }
}

__global__ void k_layernorm_bwd(float *dx, const float *dy, const float *x, const float *mean,
                                const float *rstd, const float *w, int H, int acc) {
    const size_t row = blockIdx.x;
    const float *xr = x + row * H, *dyr = dy + row * H;
    float *dxr = dx + row * H;
    const double m = mean[row], rs = rstd[row];
    double a = 0, c = 0;
    for (int j = threadIdx.x; j < H; j += blockDim.x) {
        double xh = (xr[j] - m) * rs, g = (double)dyr[j] * w[j];
        a += g;
        c += g * xh;
    }
    a = block_sum(a) / H;
    c = block_sum(c) / H;
    for (int j = threadIdx.x; j < H; j += blockDim.x) {
        double xh = (xr[j] - m) * rs, g = (double)dyr[j] * w[j];
        float d = (float)(rs * (g - a - xh * c));
        dxr[j] = acc ? dxr[j] + d : d;
    }
}

__global__ void k_gelu(float *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] = sl_cuda_gelu(x[i]);
}

__global__ void k_gelu_bwd(float *dx, const float *dy, const float *x, size_t n) {
    GRID_STRIDE(i, n) dx[i] = dy[i] * sl_cuda_gelu_grad(x[i]);
}

/* One thread per Philox counter (4 consecutive stream elements). */
__global__ void k_dropout(float *y, const float *x, size_t n, uint32_t thr, float scale, uint64_t key,
                          uint64_t hi, uint64_t base) {
    const uint64_t g0 = base / 4, g1 = (base + n - 1) / 4;
    GRID_STRIDE(gi, (size_t)(g1 - g0 + 1)) {
        const uint64_t g = g0 + gi;
        sl_philox_out r = sl_philox4x32(key, hi, g);
        for (int w = 0; w < 4; w++) {
            const uint64_t idx = g * 4 + w;
            if (idx < base || idx >= base + n) continue;
            const size_t i = idx - base;
            y[i] = (r.v[w] >> 8) < thr ? 0.0f : x[i] * scale;
        }
    }
}

/* One thread per 64-bit word of one block's mask. */
__global__ void k_dropout_bits(uint64_t *bits, size_t tasks, size_t len, uint32_t thr, uint64_t key,
                               uint64_t hi) {
    const size_t words = (len + 63) / 64;
    GRID_STRIDE(wi, tasks * words) {
        const size_t t = wi / words, w0 = (wi % words) * 64;
        const size_t w1 = w0 + 64 < len ? w0 + 64 : len;
        uint64_t word = 0;
        sl_philox_out r;
        uint64_t have = ~(uint64_t)0;
        for (size_t i = w0; i < w1; i++) {
            const uint64_t idx = (uint64_t)t * len + i;
            if (idx / 4 != have) {
                have = idx / 4;
                r = sl_philox4x32(key, hi, have);
            }
            const unsigned w = (unsigned)(idx % 4); /* selects, not a run-time index (no local memory) */
            const uint32_t v = w == 0 ? r.v[0] : w == 1 ? r.v[1] : w == 2 ? r.v[2] : r.v[3];
            if ((v >> 8) >= thr) word |= (uint64_t)1 << (i - w0);
        }
        bits[wi] = word;
    }
}

__global__ void k_apply_bits(float *y, const float *x, const uint64_t *bits, size_t tasks, size_t len,
                             float scale) {
    const size_t words = (len + 63) / 64;
    GRID_STRIDE(i, tasks * len) {
        const size_t t = i / len, e = i % len;
        const uint64_t w = bits[t * words + e / 64];
        y[i] = (w >> (e % 64)) & 1 ? x[i] * scale : 0.0f;
    }
}

/* One block per row of P. */
__global__ void k_softmax_mask(float *P, const int32_t *mask, int heads, int T) {
    const size_t row = blockIdx.x;
    const int b = (int)(row / ((size_t)heads * T));
    const int32_t *mk = mask + (size_t)b * T;
    float *p = P + row * T;
    float mx = -INFINITY;
    for (int k = threadIdx.x; k < T; k += blockDim.x)
        if (mk[k] && p[k] > mx) mx = p[k];
    mx = block_max(mx);
    double s = 0;
    for (int k = threadIdx.x; k < T; k += blockDim.x) {
        float e = mk[k] ? expf(p[k] - mx) : 0.0f;
        p[k] = e;
        s += e;
    }
    s = block_sum(s);
    const float inv = s > 0 ? (float)(1.0 / s) : 0.0f;
    for (int k = threadIdx.x; k < T; k += blockDim.x) p[k] *= inv;
}

/* The keep bit of element e of block `task` (blocks of len elements, ceil(len/64) words each). */
__device__ inline bool keep_bit(const uint64_t *bits, size_t task, size_t len, size_t e) {
    return (bits[task * ((len + 63) / 64) + e / 64] >> (e % 64)) & 1;
}

/* One block per row of P: the softmax, then Pd = the dropped copy (same float ops as k_apply_bits). */
__global__ void k_softmax_mask_drop(float *P, float *Pd, const int32_t *mask, const uint64_t *bits,
                                    float scale, int heads, int T) {
    const size_t row = blockIdx.x, task = row / T, i = row % T, len = (size_t)T * T;
    const int b = (int)(row / ((size_t)heads * T));
    const int32_t *mk = mask + (size_t)b * T;
    float *p = P + row * T, *pd = Pd + row * T;
    float mx = -INFINITY;
    for (int k = threadIdx.x; k < T; k += blockDim.x)
        if (mk[k] && p[k] > mx) mx = p[k];
    mx = block_max(mx);
    double s = 0;
    for (int k = threadIdx.x; k < T; k += blockDim.x) {
        float e = mk[k] ? expf(p[k] - mx) : 0.0f;
        p[k] = e;
        s += e;
    }
    s = block_sum(s);
    const float inv = s > 0 ? (float)(1.0 / s) : 0.0f;
    for (int k = threadIdx.x; k < T; k += blockDim.x) {
        const float v = p[k] * inv;
        p[k] = v;
        pd[k] = keep_bit(bits, task, len, i * T + k) ? v * scale : 0.0f;
    }
}

/* One block per row: dP masked and scaled by the keep bits, then the softmax backward. */
__global__ void k_softmax_bwd_drop(float *dP, const float *P, const uint64_t *bits, float scale, int T) {
    const size_t row = blockIdx.x, task = row / T, i = row % T, len = (size_t)T * T;
    const float *pr = P + row * T;
    float *gr = dP + row * T;
    double sum = 0;
    for (int k = threadIdx.x; k < T; k += blockDim.x) {
        const float g = keep_bit(bits, task, len, i * T + k) ? gr[k] * scale : 0.0f;
        gr[k] = g;
        sum += (double)pr[k] * g;
    }
    sum = block_sum(sum);
    for (int k = threadIdx.x; k < T; k += blockDim.x) gr[k] = pr[k] * (float)(gr[k] - sum);
}

__global__ void k_softmax_bwd(float *dP, const float *P, int T) {
    const size_t row = blockIdx.x;
    const float *pr = P + row * T;
    float *gr = dP + row * T;
    double sum = 0;
    for (int k = threadIdx.x; k < T; k += blockDim.x) sum += (double)pr[k] * gr[k];
    sum = block_sum(sum);
    for (int k = threadIdx.x; k < T; k += blockDim.x) gr[k] = pr[k] * (float)(gr[k] - sum);
}

__global__ void k_add(float *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] += x[i];
}

__global__ void k_scale(float *y, float a, size_t n) {
    GRID_STRIDE(i, n) y[i] *= a;
}

__global__ void k_bias(float *y, const float *b, size_t n, int W, int tanh_out) {
    GRID_STRIDE(i, n) {
        float v = y[i] + b[i % W];
        y[i] = tanh_out ? tanhf(v) : v;
    }
}

__global__ void k_colsum_add(float *g, const float *x, int N, int W, int ld) {
    GRID_STRIDE(j, (size_t)W) {
        float s = g[j];
        for (int i = 0; i < N; i++) s += x[(size_t)i * ld + j];
        g[j] = s;
    }
}

__global__ void k_tanh_bwd(float *dx, const float *y, size_t n) {
    GRID_STRIDE(i, n) dx[i] *= 1.0f - y[i] * y[i];
}

__global__ void k_loss_single(double *part, float *g, const float *x, const float *y, int B, int C) {
    GRID_STRIDE(bi, (size_t)B) {
        const int b = (int)bi;
        const float *row = x + (size_t)b * C;
        const int t = (int)y[b];
        float mx = row[0];
        for (int c = 1; c < C; c++) mx = row[c] > mx ? row[c] : mx;
        double s = 0;
        for (int c = 0; c < C; c++) s += exp((double)row[c] - mx);
        const double lse = mx + log(s);
        part[b] = lse - row[t];
        for (int c = 0; c < C; c++) g[(size_t)b * C + c] = (float)((exp(row[c] - lse) - (c == t)) / B);
    }
}

__global__ void k_loss_elem(double *part, float *g, const float *x, const float *y, size_t n, int multi) {
    GRID_STRIDE(i, n) {
        const double xi = x[i], yi = y[i];
        if (multi) {
            part[i] = (xi > 0 ? xi : 0) - xi * yi + log1p(exp(-fabs(xi)));
            g[i] = (float)((1.0 / (1.0 + exp(-xi)) - yi) / (double)n);
        } else {
            part[i] = (xi - yi) * (xi - yi);
            g[i] = (float)(2.0 * (xi - yi) / (double)n);
        }
    }
}

__global__ void k_to_bf16(__nv_bfloat16 *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] = __float2bfloat16_rn(x[i]);
}

__global__ void k_to_fp16(__half *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] = __float2half_rn(x[i]);
}

__global__ void k_sumsq(double *acc, const float *x, size_t n) {
    double s = 0;
    GRID_STRIDE(i, n) s += (double)x[i] * x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) atomicAdd(acc, s);
}

__global__ void k_adamw(float *params, const float *grads, float *mm, float *vv, size_t n,
                        sl_cuda_adamw_k k) {
    GRID_STRIDE(i, n) {
        float g = grads[i];
        float p = params[i] * k.decay;
        float m = mm[i] * k.b1 + g * k.omb1;
        float v = vv[i] * k.b2 + k.omb2 * g * g;
        float denom = sqrtf(v) / k.bc2s + k.eps;
        params[i] = p - k.step_size * (m / denom);
        mm[i] = m;
        vv[i] = v;
    }
}

int row_threads(int width) {
    int t = 32;
    while (t < width && t < 512) t *= 2;
    return t;
}

} // namespace

#define LAUNCH1(kernel, n, ...)                                                                              \
    do {                                                                                                     \
        if ((n) == 0) return 0;                                                                              \
        kernel<<<grid_for(n), kThreads, 0, s>>>(__VA_ARGS__);                                                \
        SL_CU_LAUNCH();                                                                                      \
        return 0;                                                                                            \
    } while (0)

int sl_cuda_embed(float *x, const int32_t *ids, const float *word, const float *pos, const float *type, int N,
                  int T, int H, cudaStream_t s, sl_err *err) {
    size_t n = (size_t)N * H;
    LAUNCH1(k_embed, n, x, ids, word, pos, type, n, T, H);
}

int sl_cuda_embed_bwd(float *gword, const int32_t *ids, const float *dx, int N, int H, cudaStream_t s,
                      sl_err *err) {
    size_t n = (size_t)N * H;
    LAUNCH1(k_embed_bwd, n, gword, ids, dx, n, H);
}

int sl_cuda_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                      int N, int H, float eps, cudaStream_t s, sl_err *err) {
    if (N <= 0) return 0;
    k_layernorm<<<N, row_threads(H), 0, s>>>(y, mean, rstd, x, w, b, H, eps);
    SL_CU_LAUNCH();
    return 0;
}

int sl_cuda_layernorm_bwd(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                          const float *w, int N, int H, int acc, cudaStream_t s, sl_err *err) {
    if (N <= 0) return 0;
    k_layernorm_bwd<<<N, row_threads(H), 0, s>>>(dx, dy, x, mean, rstd, w, H, acc);
    SL_CU_LAUNCH();
    return 0;
}

int sl_cuda_gelu_fwd(float *y, const float *x, size_t n, cudaStream_t s, sl_err *err) {
    LAUNCH1(k_gelu, n, y, x, n);
}

int sl_cuda_gelu_bwd(float *dx, const float *dy, const float *x, size_t n, cudaStream_t s, sl_err *err) {
    LAUNCH1(k_gelu_bwd, n, dx, dy, x, n);
}

int sl_cuda_dropout(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t hi, uint64_t base,
                    cudaStream_t s, sl_err *err) {
    if (n == 0) return 0;
    if (p <= 0) {
        if (y != x) SL_CU(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, s));
        return 0;
    }
    const size_t groups = (base + n - 1) / 4 - base / 4 + 1;
    k_dropout<<<grid_for(groups), kThreads, 0, s>>>(y, x, n, sl_cuda_drop_thr(p), 1.0f / (1.0f - p),
                                                    sl_cuda_drop_key(seed), hi, base);
    SL_CU_LAUNCH();
    return 0;
}

int sl_cuda_dropout_bits(uint64_t *bits, size_t tasks, size_t len, float p, uint64_t seed, uint64_t hi,
                         cudaStream_t s, sl_err *err) {
    size_t n = tasks * ((len + 63) / 64);
    LAUNCH1(k_dropout_bits, n, bits, tasks, len, sl_cuda_drop_thr(p), sl_cuda_drop_key(seed), hi);
}

int sl_cuda_apply_bits(float *y, const float *x, const uint64_t *bits, size_t tasks, size_t len, float scale,
                       cudaStream_t s, sl_err *err) {
    size_t n = tasks * len;
    LAUNCH1(k_apply_bits, n, y, x, bits, tasks, len, scale);
}

int sl_cuda_softmax_mask(float *P, const int32_t *mask, int B, int heads, int T, cudaStream_t s,
                         sl_err *err) {
    size_t rows = (size_t)B * heads * T;
    if (rows == 0) return 0;
    k_softmax_mask<<<(unsigned)rows, row_threads(T), 0, s>>>(P, mask, heads, T);
    SL_CU_LAUNCH();
    return 0;
}

int sl_cuda_softmax_bwd(float *dP, const float *P, size_t rows, int T, cudaStream_t s, sl_err *err) {
    if (rows == 0) return 0;
    k_softmax_bwd<<<(unsigned)rows, row_threads(T), 0, s>>>(dP, P, T);
    SL_CU_LAUNCH();
    return 0;
}

int sl_cuda_softmax_mask_drop(float *P, float *Pd, const int32_t *mask, const uint64_t *bits, float scale,
                              int B, int heads, int T, cudaStream_t s, sl_err *err) {
    size_t rows = (size_t)B * heads * T;
    if (rows == 0) return 0;
    k_softmax_mask_drop<<<(unsigned)rows, row_threads(T), 0, s>>>(P, Pd, mask, bits, scale, heads, T);
    SL_CU_LAUNCH();
    return 0;
}

int sl_cuda_softmax_bwd_drop(float *dP, const float *P, const uint64_t *bits, float scale, size_t rows, int T,
                             cudaStream_t s, sl_err *err) {
    if (rows == 0) return 0;
    k_softmax_bwd_drop<<<(unsigned)rows, row_threads(T), 0, s>>>(dP, P, bits, scale, T);
    SL_CU_LAUNCH();
    return 0;
}

int sl_cuda_add(float *y, const float *x, size_t n, cudaStream_t s, sl_err *err) {
    LAUNCH1(k_add, n, y, x, n);
}

int sl_cuda_scale(float *y, float a, size_t n, cudaStream_t s, sl_err *err) {
    LAUNCH1(k_scale, n, y, a, n);
}

int sl_cuda_bias(float *y, const float *b, int N, int W, int tanh_out, cudaStream_t s, sl_err *err) {
    size_t n = (size_t)N * W;
    LAUNCH1(k_bias, n, y, b, n, W, tanh_out);
}

int sl_cuda_colsum_add(float *g, const float *x, int N, int W, int ld, cudaStream_t s, sl_err *err) {
    LAUNCH1(k_colsum_add, (size_t)W, g, x, N, W, ld);
}

int sl_cuda_tanh_bwd(float *dx, const float *y, size_t n, cudaStream_t s, sl_err *err) {
    LAUNCH1(k_tanh_bwd, n, dx, y, n);
}

int sl_cuda_loss(double *part, float *g, const float *logits, const float *labels, int B, int C, int problem,
                 cudaStream_t s, sl_err *err) {
    if (problem == 0) LAUNCH1(k_loss_single, (size_t)B, part, g, logits, labels, B, C);
    size_t n = (size_t)B * C;
    LAUNCH1(k_loss_elem, n, part, g, logits, labels, n, problem == 1);
}

int sl_cuda_to_bf16(__nv_bfloat16 *y, const float *x, size_t n, cudaStream_t s, sl_err *err) {
    LAUNCH1(k_to_bf16, n, y, x, n);
}

int sl_cuda_to_fp16(__half *y, const float *x, size_t n, cudaStream_t s, sl_err *err) {
    LAUNCH1(k_to_fp16, n, y, x, n);
}

int sl_cuda_sumsq(double *acc, const float *x, size_t n, cudaStream_t s, sl_err *err) {
    if (n == 0) return 0;
    unsigned g = grid_for(n);
    if (g > 1024) g = 1024;
    k_sumsq<<<g, kThreads, 0, s>>>(acc, x, n);
    SL_CU_LAUNCH();
    return 0;
}

int sl_cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, sl_cuda_adamw_k k, cudaStream_t s,
                  sl_err *err) {
    LAUNCH1(k_adamw, n, p, g, m, v, n, k);
}

int sl_cuda_embed_esm(float *x, const int32_t *ids, const float *word, const float *pos,
                      const int32_t *pos_ids, const float *row_div, int mask_id, int N, int T, int H,
                      cudaStream_t s, sl_err *err) {
    size_t n = (size_t)N * H;
    LAUNCH1(k_embed_esm, n, x, ids, word, pos, pos_ids, row_div, mask_id, n, T, H);
}

int sl_cuda_zero_rows(float *x, const int32_t *mask, int N, int H, cudaStream_t s, sl_err *err) {
    size_t n = (size_t)N * H;
    LAUNCH1(k_zero_rows, n, x, mask, n, H);
}

int sl_cuda_rotary(float *x, const float *cos_t, const float *sin_t, int N, int T, int nh, int d, int ld,
                   int inverse, cudaStream_t s, sl_err *err) {
    size_t n = (size_t)N * nh * (d / 2);
    LAUNCH1(k_rotary, n, x, cos_t, sin_t, n, T, nh, d, ld, inverse);
}

int sl_cuda_alibi_add(float *P, const float *slopes, int B, int heads, int T, cudaStream_t s, sl_err *err) {
    size_t n = (size_t)B * heads * T * T;
    LAUNCH1(k_alibi_add, n, P, slopes, n, heads, T);
}

int sl_cuda_glu(float *y, const float *x, int N, int ni, int kind, cudaStream_t s, sl_err *err) {
    size_t n = (size_t)N * ni;
    LAUNCH1(k_glu, n, y, x, n, ni, kind);
}

int sl_cuda_glu_bwd(float *dx, const float *dy, const float *x, int N, int ni, int kind, cudaStream_t s,
                    sl_err *err) {
    size_t n = (size_t)N * ni;
    LAUNCH1(k_glu_bwd, n, dx, dy, x, n, ni, kind);
}
