/* The engine's oneDNN GEMMs (see gemm_onednn.h): bf16 rounding, packing, primitives per block shape and per
 * product shape, and the split over the engine's pool. */
#include "gemm_onednn.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_simd.h"
#include "parallel.h"
#include "prof.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SL_BF16_X86 1
#endif

/* ---- rounding --------------------------------------------------------------------------------- */

static uint16_t round_one(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#ifdef SL_BF16_X86
/* Same arithmetic as round_one, 16 floats at a time (AVX-512F integer ops; no bf16 instructions needed). */
__attribute__((target("avx512f,avx512bw"))) static void round_avx512(uint16_t *dst, const float *src,
                                                                     size_t n) {
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    const __m512i quiet = _mm512_set1_epi32(0x00400000);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i u = _mm512_castps_si512(_mm512_loadu_ps(src + i));
        __m512i r =
            _mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, absmask), inf);
        r = _mm512_mask_or_epi32(r, nan, u, quiet);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    }
    for (; i < n; i++) dst[i] = round_one(src[i]);
}
#endif

static void round_portable(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = round_one(src[i]);
}

void sl_nn_bf16_round(uint16_t *dst, const float *src, size_t n) {
#ifdef SL_BF16_X86
    static _Atomic int have_bw = -1;
    if (have_bw < 0) have_bw = __builtin_cpu_supports("avx512bw");
    if (have_bw && sl_nn_k_simd_active()) {
        round_avx512(dst, src, n);
        return;
    }
#endif
    round_portable(dst, src, n);
}

/* ---- errors recorded by the void GEMM ---------------------------------------------------------- */

static struct {
    pthread_mutex_t lock; /* pool workers record too (sl_nn_dnnl_mm_run) */
    int code;
    char msg[512];
} g_error = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void record_error(int code, const char *msg) {
    pthread_mutex_lock(&g_error.lock);
    if (!g_error.code) {
        g_error.code = code;
        snprintf(g_error.msg, sizeof g_error.msg, "%s", msg);
    }
    pthread_mutex_unlock(&g_error.lock);
}

int sl_nn_dnnl_take_error(sl_err *err) {
    pthread_mutex_lock(&g_error.lock);
    int code = g_error.code;
    if (code) sl_err_set(err, code, "oneDNN GEMM: %s", g_error.msg);
    g_error.code = 0;
    pthread_mutex_unlock(&g_error.lock);
    return code;
}

void sl_nn_bf16_round_rows(uint16_t *dst, size_t ldd, const float *src, size_t lds, int rows, int cols) {
    for (int i = 0; i < rows; i++)
        sl_nn_bf16_round(dst + (size_t)i * ldd, src + (size_t)i * lds, (size_t)cols);
}

static void fill_nan(float *C, int rows, int N, int ldc) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = NAN;
}

#ifndef SEQLORA_HAVE_ONEDNN

int sl_nn_bf16_supported(char *why, size_t why_len) {
    if (why && why_len) snprintf(why, why_len, "this seqlora was built without oneDNN (libdnnl-dev)");
    return 0;
}

int sl_nn_dnnl_fp32_active(void) {
    return 0;
}

void sl_nn_dnnl_fp32_enable(int on) {
    (void)on;
}

int sl_nn_dnnl_mat_create(const float *B, int K, int N, int trans_b, sl_nn_dnnl_type type,
                          sl_nn_dnnl_mat **out, sl_err *err) {
    (void)B, (void)K, (void)N, (void)trans_b;
    *out = NULL;
    return sl_err_set(err, SL_EUSAGE, "%s on the CPU: this seqlora was built without oneDNN (libdnnl-dev)",
                      type == SL_NN_DNNL_BF16 ? "bf16" : "oneDNN fp32");
}

void sl_nn_dnnl_mat_free(sl_nn_dnnl_mat *b) {
    (void)b;
}

size_t sl_nn_dnnl_mat_bytes(const sl_nn_dnnl_mat *b) {
    (void)b;
    return 0;
}

void sl_nn_dnnl_gemm(const sl_nn_dnnl_mat *B, int M, const float *A, int lda, const float *bias,
                     int accumulate, float *C, int ldc) {
    (void)A, (void)lda, (void)bias, (void)accumulate;
    record_error(SL_EINTERNAL, "built without oneDNN");
    if (M > 0 && B) fill_nan(C, M, 1, ldc); /* unreachable: no operand can be made without oneDNN */
}

const sl_nn_dnnl_mm *sl_nn_dnnl_mm_get(int M, int N, int K, int trans_a, int lda, int trans_b, int ldb,
                                       int ldc, float alpha, sl_nn_dnnl_type type, size_t scratch_elems) {
    (void)M, (void)N, (void)K, (void)trans_a, (void)lda, (void)trans_b, (void)ldb, (void)ldc, (void)alpha;
    (void)type, (void)scratch_elems;
    record_error(SL_EINTERNAL, "built without oneDNN");
    return NULL;
}

uint16_t *sl_nn_dnnl_worker_scratch(int worker) {
    (void)worker;
    return NULL;
}

void sl_nn_dnnl_inject_failures(int n) {
    (void)n;
}

void sl_nn_dnnl_mm_run(const sl_nn_dnnl_mm *mm, int worker, const void *A, const void *B, float *C) {
    (void)mm, (void)worker, (void)A, (void)B, (void)C;
    record_error(SL_EINTERNAL, "built without oneDNN");
}

#else /* SEQLORA_HAVE_ONEDNN */
#include <dnnl.h>
#include <omp.h>

static dnnl_data_type_t dt_of(sl_nn_dnnl_type t) {
    return t == SL_NN_DNNL_BF16 ? dnnl_bf16 : dnnl_f32;
}

/* The memory objects of a primitive's arguments (at most ARGS), one set per pool worker, made once in the
 * driving thread; a task only points them at its buffers (dnnl_memory_set_data_handle). */
#define ARGS 5
typedef struct {
    dnnl_memory_t (*set)[ARGS];
    int n; /* workers with a set */
} arg_sets;

/* One oneDNN matmul primitive for one block shape: rows x K (fp32: leading dimension lda; bf16: the
 * worker's contiguous rounded copy) times the operand, into rows x N with leading dimension ldc; variant
 * bit 0 = with bias, bit 1 = accumulate (a sum post-op). */
typedef struct prim {
    int rows, lda, ldc, variant;
    dnnl_primitive_t p;
    dnnl_memory_desc_t a_md, c_md;
    size_t scratch;
    arg_sets args; /* src, weights, dst, scratchpad, bias (with a bias) */
    struct prim *next;
} prim;

struct sl_nn_dnnl_mat {
    sl_nn_dnnl_type type;
    int K, N, trans_b;
    dnnl_memory_desc_t w_md, bias_md;
    void *w;        /* bf16: the packed weights (owned, w_md's layout); fp32: the caller's B (strided w_md) */
    size_t w_bytes; /* owned bytes */
    prim *prims;
};

/* Per-worker state: a stream, oneDNN's scratchpad, the bf16 copy of a block of A, the mm scratch. */
typedef struct {
    dnnl_stream_t stream;
    void *scratch;
    size_t scratch_len;
    uint16_t *a16;
    size_t a16_len;
    float *tail_a, *tail_c; /* the last block of an fp32 A and of C, padded to BLOCK rows */
    size_t tail_a_len, tail_c_len;
    uint16_t *t16; /* sl_nn_dnnl_worker_scratch */
    size_t t16_len;
} worker_state;

/* Rows per block of a frozen-operand GEMM. Fixed, so that the primitives made are bounded (a full block and a
 * padded last block per operand and variant) whatever the M a long-running `serve` sees; 128 rows already run
 * at full speed (4096 x 768 x 3072: within 2% of 256-row blocks, 1 thread). */
#define BLOCK 128

static struct {
    pthread_once_t once;
    int bf16_ok, fp32_ok;
    char bf16_why[256];
    dnnl_engine_t engine;
    worker_state *w;
    int n_w;
} g = {.once = PTHREAD_ONCE_INIT};

static atomic_int fp32_enabled = 1;
static atomic_int injected_failures; /* sl_nn_dnnl_inject_failures */

void sl_nn_dnnl_inject_failures(int n) {
    atomic_store(&injected_failures, n > 0 ? n : 0);
}

/* 1 when this primitive creation is to fail (a test asked for it). */
static int inject_failure(void) {
    int n = atomic_load(&injected_failures);
    while (n > 0 && !atomic_compare_exchange_weak(&injected_failures, &n, n - 1)) {
    }
    return n > 0;
}

static void init_once(void) {
    if (dnnl_engine_create(&g.engine, dnnl_cpu, 0) != dnnl_success) {
        snprintf(g.bf16_why, sizeof g.bf16_why, "oneDNN could not create its CPU engine");
        return;
    }
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* brgemm, the kernels this module is for, starts at AVX-512 (avx512_core) */
    g.fp32_ok = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
    const char *gemm = getenv("SEQLORA_GEMM"); /* "openblas": fp32 as in a build without oneDNN */
    if (gemm && !strcmp(gemm, "openblas")) g.fp32_ok = 0;
    g.bf16_ok = (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    if (!g.bf16_ok)
        snprintf(g.bf16_why, sizeof g.bf16_why,
                 "this CPU has no bf16 dot-product instructions (AVX512-BF16 or AMX), so bf16 would be "
                 "slower than fp32");
}

int sl_nn_bf16_supported(char *why, size_t why_len) {
    pthread_once(&g.once, init_once);
    if (!g.bf16_ok && why && why_len) snprintf(why, why_len, "%s", g.bf16_why);
    return g.bf16_ok;
}

int sl_nn_dnnl_fp32_active(void) {
    pthread_once(&g.once, init_once);
    return g.fp32_ok && atomic_load(&fp32_enabled);
}

void sl_nn_dnnl_fp32_enable(int on) {
    atomic_store(&fp32_enabled, on != 0);
}

static int type_ok(sl_nn_dnnl_type t, char *why, size_t why_len) {
    pthread_once(&g.once, init_once);
    if (t == SL_NN_DNNL_BF16) return sl_nn_bf16_supported(why, why_len);
    if (!g.fp32_ok) snprintf(why, why_len, "oneDNN's fp32 kernels here need AVX-512");
    return g.fp32_ok;
}

/* oneDNN sizes its work by omp_get_max_threads() of the calling thread, both when a primitive is created
 * and when it runs; the pool supplies the parallelism, so every call here is single-threaded. */
static void one_thread(void) {
    if (omp_get_max_threads() != 1) omp_set_num_threads(1);
}

static void *alloc64(size_t bytes) {
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 64) ? NULL : p;
}

/* Streams for n workers, and each worker's oneDNN scratchpad and bf16 block of A at least this large. */
static int grow(void **p, size_t *len, size_t need) {
    if (*len >= need) return 0;
    free(*p);
    *len = 0;
    if (!(*p = alloc64(need))) return SL_ENOMEM;
    *len = need;
    return 0;
}

/* Each worker's fp32 tail buffers: A [BLOCK, K] (fp32 only) and C [BLOCK, N]. */
static int tails_ready(int n, size_t a_bytes, size_t c_bytes, char *msg, size_t msg_len) {
    for (int i = 0; i < n; i++)
        if (grow((void **)&g.w[i].tail_a, &g.w[i].tail_a_len, a_bytes) ||
            grow((void **)&g.w[i].tail_c, &g.w[i].tail_c_len, c_bytes))
            return snprintf(msg, msg_len, "out of memory"), SL_ENOMEM;
    return 0;
}

static int workers_ready(int n, size_t scratch, size_t a16, char *msg, size_t msg_len) {
    if (n > g.n_w) {
        worker_state *w = realloc(g.w, (size_t)n * sizeof *w);
        if (!w) return snprintf(msg, msg_len, "out of memory"), SL_ENOMEM;
        memset(w + g.n_w, 0, (size_t)(n - g.n_w) * sizeof *w);
        g.w = w;
        for (; g.n_w < n; g.n_w++)
            if (dnnl_stream_create(&w[g.n_w].stream, g.engine, dnnl_stream_default_flags) != dnnl_success)
                return snprintf(msg, msg_len, "oneDNN could not create a stream"), SL_EINTERNAL;
    }
    for (int i = 0; i < n; i++) {
        worker_state *w = &g.w[i];
        if (w->scratch_len < scratch) {
            free(w->scratch);
            w->scratch_len = 0;
            if (!(w->scratch = alloc64(scratch))) return snprintf(msg, msg_len, "out of memory"), SL_ENOMEM;
            w->scratch_len = scratch;
        }
        if (w->a16_len < a16) {
            free(w->a16);
            w->a16_len = 0;
            if (!(w->a16 = alloc64(a16 * sizeof(uint16_t))))
                return snprintf(msg, msg_len, "out of memory"), SL_ENOMEM;
            w->a16_len = a16;
        }
    }
    return 0;
}

static void arg_sets_free(arg_sets *a) {
    for (int i = 0; i < a->n; i++)
        for (int k = 0; k < ARGS; k++)
            if (a->set[i][k]) dnnl_memory_destroy(a->set[i][k]);
    free(a->set);
    a->set = NULL, a->n = 0;
}

/* Sets for workers [a->n, n): argument k described by mds[k] (NULL: no such argument) with handles[k]. */
static int arg_sets_ready(arg_sets *a, int n, const dnnl_memory_desc_t *const mds[ARGS],
                          void *const handles[ARGS], char *msg, size_t msg_len) {
    if (a->n >= n) return 0;
    dnnl_memory_t(*set)[ARGS] = realloc(a->set, (size_t)n * sizeof *set);
    if (!set) return snprintf(msg, msg_len, "out of memory"), SL_ENOMEM;
    a->set = set;
    for (; a->n < n; a->n++) {
        dnnl_memory_t *m = set[a->n];
        memset(m, 0, ARGS * sizeof *m);
        for (int k = 0; k < ARGS; k++) {
            dnnl_status_t s = mds[k] ? dnnl_memory_create(&m[k], mds[k], g.engine, handles[k]) : dnnl_success;
            if (s) {
                for (int i = 0; i < k; i++)
                    if (m[i]) dnnl_memory_destroy(m[i]);
                return snprintf(msg, msg_len, "oneDNN could not create memory objects (status %d)", (int)s),
                       SL_EINTERNAL;
            }
        }
    }
    return 0;
}

/* A matmul primitive descriptor for a block of rows of A times the operand's weights (w_md, or
 * format_tag_any when NULL: bf16 packing picks its layout) into rows x N (ldc), with bias and/or a sum
 * post-op per variant. */
static dnnl_status_t make_pd(const sl_nn_dnnl_mat *b, int rows, int lda, int ldc, int variant,
                             const dnnl_memory_desc_t *w_md, dnnl_memory_desc_t *a_md,
                             dnnl_memory_desc_t *c_md, dnnl_primitive_desc_t *pd) {
    const dnnl_data_type_t dt = dt_of(b->type);
    dnnl_dims_t ad = {rows, b->K}, as = {lda, 1}, cd = {rows, b->N}, wd = {b->K, b->N}, cs = {ldc, 1};
    dnnl_memory_desc_t any;
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_strides(a_md, 2, ad, dt, as)) ||
        (s = dnnl_memory_desc_init_by_strides(c_md, 2, cd, dnnl_f32, cs)) ||
        (s = dnnl_memory_desc_init_by_tag(&any, 2, wd, dt, dnnl_format_tag_any)))
        return s;
    dnnl_matmul_desc_t md;
    if ((s = dnnl_matmul_desc_init(&md, a_md, w_md ? w_md : &any, (variant & 1) ? &b->bias_md : NULL, c_md)))
        return s;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (!(s = dnnl_primitive_attr_create(&attr)) &&
        !(s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) && (variant & 2) &&
        !(s = dnnl_post_ops_create(&po)) && !(s = dnnl_post_ops_append_sum(po, 1.0f)))
        s = dnnl_primitive_attr_set_post_ops(attr, po);
    if (!s) {
        one_thread();
        s = dnnl_primitive_desc_create(pd, &md, attr, g.engine, NULL);
    }
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return s;
}

static prim *find_prim(sl_nn_dnnl_mat *b, int rows, int lda, int ldc, int variant, char *msg,
                       size_t msg_len) {
    for (prim *p = b->prims; p; p = p->next)
        if (p->rows == rows && p->lda == lda && p->ldc == ldc && p->variant == variant) return p;
    prim *p = calloc(1, sizeof *p);
    if (!p) return snprintf(msg, msg_len, "out of memory"), NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = make_pd(b, rows, lda, ldc, variant, &b->w_md, &p->a_md, &p->c_md, &pd);
    if (!s) {
        const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        p->scratch = sp ? dnnl_memory_desc_get_size(sp) : 0;
        s = inject_failure() ? dnnl_unimplemented : dnnl_primitive_create(&p->p, pd);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (s) {
        free(p);
        snprintf(msg, msg_len, "oneDNN refused a %d x %d x %d matmul (status %d)", rows, b->K, b->N, (int)s);
        return NULL;
    }
    p->rows = rows, p->lda = lda, p->ldc = ldc, p->variant = variant;
    p->next = b->prims;
    b->prims = p;
    return p;
}

/* bf16: round B, let a BLOCK-row primitive pick the packed layout, reorder into it. */
static dnnl_status_t pack_bf16(sl_nn_dnnl_mat *b, const float *B, int trans_b) {
    const int K = b->K, N = b->N;
    uint16_t *plain = malloc((size_t)K * N * sizeof *plain);
    if (!plain) return dnnl_out_of_memory;
    sl_nn_bf16_round(plain, B, (size_t)K * N); /* our rounding, so weights and activations round alike */
    dnnl_dims_t wd = {K, N}, ws = {trans_b ? 1 : N, trans_b ? K : 1};
    dnnl_memory_desc_t plain_md, a_md, c_md;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_status_t s = make_pd(b, BLOCK, K, N, 0, NULL, &a_md, &c_md, &pd);
    if (!s) {
        b->w_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        b->w_bytes = dnnl_memory_desc_get_size(&b->w_md);
        if (!(b->w = alloc64(b->w_bytes))) s = dnnl_out_of_memory;
    }
    if (!s && !(s = dnnl_memory_desc_init_by_strides(&plain_md, 2, wd, dnnl_bf16, ws)) &&
        !(s = dnnl_reorder_primitive_desc_create(&rpd, &plain_md, g.engine, &b->w_md, g.engine, NULL)) &&
        !(s = dnnl_primitive_create(&reorder, rpd)) &&
        !(s = dnnl_memory_create(&from, &plain_md, g.engine, plain)) &&
        !(s = dnnl_memory_create(&to, &b->w_md, g.engine, b->w)) &&
        !(s = dnnl_stream_create(&stream, g.engine, dnnl_stream_default_flags))) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        if (!(s = dnnl_primitive_execute(reorder, stream, 2, args))) s = dnnl_stream_wait(stream);
    }
    if (stream) dnnl_stream_destroy(stream);
    if (to) dnnl_memory_destroy(to);
    if (from) dnnl_memory_destroy(from);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    free(plain);
    return s;
}

int sl_nn_dnnl_mat_create(const float *B, int K, int N, int trans_b, sl_nn_dnnl_type type,
                          sl_nn_dnnl_mat **out, sl_err *err) {
    *out = NULL;
    char why[256] = "";
    const char *what = type == SL_NN_DNNL_BF16 ? "bf16" : "oneDNN fp32";
    if (!type_ok(type, why, sizeof why)) return sl_err_set(err, SL_EUSAGE, "%s on the CPU: %s", what, why);
    if (K <= 0 || N <= 0) return sl_err_set(err, SL_EINTERNAL, "%s operand of %d x %d", what, K, N);
    sl_nn_dnnl_mat *b = calloc(1, sizeof *b);
    if (!b) return sl_err_set(err, SL_ENOMEM, "%s operand of %d x %d: out of memory", what, K, N);
    b->type = type, b->K = K, b->N = N, b->trans_b = trans_b;
    dnnl_dims_t bd = {1, N}, wd = {K, N}, ws = {trans_b ? 1 : N, trans_b ? K : 1};
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&b->bias_md, 2, bd, dnnl_f32, dnnl_ab);
    if (!s && type == SL_NN_DNNL_BF16) {
        s = pack_bf16(b, B, trans_b);
    } else if (!s) { /* fp32: B where it lies; check once that a block primitive accepts it */
        b->w = (void *)B;
        char msg[256];
        if (!(s = dnnl_memory_desc_init_by_strides(&b->w_md, 2, wd, dnnl_f32, ws)) &&
            !find_prim(b, BLOCK, K, N, 0, msg, sizeof msg))
            s = dnnl_unimplemented;
    }
    if (s) {
        sl_nn_dnnl_mat_free(b);
        if (s == dnnl_out_of_memory)
            return sl_err_set(err, SL_ENOMEM, "%s operand of %d x %d: out of memory", what, K, N);
        return sl_err_set(err, SL_EINTERNAL, "oneDNN could not make a %d x %d %s operand (status %d)", K, N,
                          what, (int)s);
    }
    *out = b;
    return 0;
}

void sl_nn_dnnl_mat_free(sl_nn_dnnl_mat *b) {
    if (!b) return;
    for (prim *p = b->prims, *next; p; p = next) {
        next = p->next;
        dnnl_primitive_destroy(p->p);
        arg_sets_free(&p->args);
        free(p);
    }
    if (b->type == SL_NN_DNNL_BF16) free(b->w);
    free(b);
}

size_t sl_nn_dnnl_mat_bytes(const sl_nn_dnnl_mat *b) {
    return b ? b->w_bytes : 0;
}

/* The argument sets of p for n workers (driving thread only). */
static int prim_args_ready(const sl_nn_dnnl_mat *b, prim *p, int n, char *msg, size_t msg_len) {
    dnnl_memory_desc_t sp_md;
    dnnl_dims_t sd = {(dnnl_dim_t)(p->scratch ? p->scratch : 1)};
    if (dnnl_memory_desc_init_by_tag(&sp_md, 1, sd, dnnl_u8, dnnl_a))
        return snprintf(msg, msg_len, "oneDNN refused a scratchpad descriptor"), SL_EINTERNAL;
    const dnnl_memory_desc_t *mds[ARGS] = {&p->a_md, &b->w_md, &p->c_md, &sp_md,
                                           (p->variant & 1) ? &b->bias_md : NULL};
    void *handles[ARGS] = {DNNL_MEMORY_NONE, b->w, DNNL_MEMORY_NONE, DNNL_MEMORY_NONE, DNNL_MEMORY_NONE};
    return arg_sets_ready(&p->args, n, mds, handles, msg, msg_len);
}

typedef struct {
    const sl_nn_dnnl_mat *b;
    const prim *full, *tail; /* a block in place; the padded last block (contiguous, in the tail buffers) */
    int M, lda, ldc, accumulate;
    const float *A, *bias;
    float *C;
    atomic_int failed;
} gemm_job;

static void gemm_task(void *ctx, size_t task, int worker) {
    gemm_job *j = ctx;
    const int s = (int)task * BLOCK, K = j->b->K, N = j->b->N;
    const int rows = j->M - s < BLOCK ? j->M - s : BLOCK, tail = rows < BLOCK;
    const prim *p = tail ? j->tail : j->full;
    worker_state *w = &g.w[worker];
    const float *A = j->A + (size_t)s * j->lda;
    float *C = j->C + (size_t)s * j->ldc;
    const void *src = A;
    if (j->b->type == SL_NN_DNNL_BF16) {
        sl_nn_bf16_round_rows(w->a16, (size_t)K, A, (size_t)j->lda, rows, K);
        if (tail) memset(w->a16 + (size_t)rows * K, 0, (size_t)(BLOCK - rows) * K * sizeof(uint16_t));
        src = w->a16;
    } else if (tail) {
        for (int i = 0; i < rows; i++)
            memcpy(w->tail_a + (size_t)i * K, A + (size_t)i * j->lda, K * sizeof(float));
        memset(w->tail_a + (size_t)rows * K, 0, (size_t)(BLOCK - rows) * K * sizeof(float));
        src = w->tail_a;
    }
    float *dst = C;
    if (tail) {
        dst = w->tail_c;
        if (j->accumulate)
            for (int i = 0; i < rows; i++)
                memcpy(dst + (size_t)i * N, C + (size_t)i * j->ldc, N * sizeof(float));
        memset(dst + (size_t)(j->accumulate ? rows : 0) * N, 0,
               (size_t)(BLOCK - (j->accumulate ? rows : 0)) * N * sizeof(float));
    }
    dnnl_memory_t *m = p->args.set[worker];
    dnnl_status_t st;
    one_thread();
    if (!(st = dnnl_memory_set_data_handle(m[0], (void *)src)) &&
        !(st = dnnl_memory_set_data_handle(m[2], dst)) &&
        !(st = dnnl_memory_set_data_handle(m[3], w->scratch)) &&
        !(st = (p->variant & 1) ? dnnl_memory_set_data_handle(m[4], (void *)j->bias) : dnnl_success)) {
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, m[0]},
                                   {DNNL_ARG_WEIGHTS, m[1]},
                                   {DNNL_ARG_DST, m[2]},
                                   {DNNL_ARG_SCRATCHPAD, m[3]},
                                   {DNNL_ARG_BIAS, m[4]}};
        if (!(st = dnnl_primitive_execute(p->p, w->stream, (p->variant & 1) ? 5 : 4, args)))
            st = dnnl_stream_wait(w->stream);
    }
    if (st) {
        fill_nan(C, rows, N, j->ldc);
        atomic_store(&j->failed, (int)st);
    } else if (tail) {
        for (int i = 0; i < rows; i++) memcpy(C + (size_t)i * j->ldc, dst + (size_t)i * N, N * sizeof(float));
    }
}

void sl_nn_dnnl_gemm(const sl_nn_dnnl_mat *B, int M, const float *A, int lda, const float *bias,
                     int accumulate, float *C, int ldc) {
    if (M <= 0) return;
    double t0 = sl_nn_prof_begin();
    sl_nn_dnnl_mat *b = (sl_nn_dnnl_mat *)B; /* the primitive cache grows; the operand does not change */
    const int bf16 = b->type == SL_NN_DNNL_BF16;
    const int variant = (bias ? 1 : 0) | (accumulate ? 2 : 0);
    char msg[256] = "";
    gemm_job j = {
        .b = b, .M = M, .lda = lda, .ldc = ldc, .accumulate = accumulate, .A = A, .bias = bias, .C = C};
    int code = SL_EINTERNAL;
    /* A block in place: A's rows (fp32) or their bf16 copy; the last block when M % BLOCK != 0 (M < BLOCK
     * included) is padded with zero rows into contiguous tail buffers, so only these two shapes exist. */
    j.full = M >= BLOCK ? find_prim(b, BLOCK, bf16 ? b->K : lda, ldc, variant, msg, sizeof msg) : NULL;
    j.tail = M % BLOCK ? find_prim(b, BLOCK, b->K, b->N, variant, msg, sizeof msg) : NULL;
    if ((j.full || M < BLOCK) && (j.tail || M % BLOCK == 0)) {
        size_t scratch = 0;
        if (j.full) scratch = j.full->scratch;
        if (j.tail && j.tail->scratch > scratch) scratch = j.tail->scratch;
        const int n = sl_nn_get_threads();
        code = workers_ready(n, scratch, bf16 ? (size_t)BLOCK * b->K : 0, msg, sizeof msg);
        if (!code && j.tail)
            code = tails_ready(n, bf16 ? 0 : (size_t)BLOCK * b->K * sizeof(float),
                               (size_t)BLOCK * b->N * sizeof(float), msg, sizeof msg);
        if (!code && j.full) code = prim_args_ready(b, (prim *)j.full, n, msg, sizeof msg);
        if (!code && j.tail) code = prim_args_ready(b, (prim *)j.tail, n, msg, sizeof msg);
    }
    if (code && !bf16) { /* fp32: OpenBLAS computes the same product (B is the caller's, in place) */
        sl_nn_prof_end(SL_NN_PH_GEMM, t0);
        sl_nn_sgemm(0, b->trans_b, M, b->N, b->K, 1.0f, A, lda, (const float *)b->w, b->trans_b ? b->K : b->N,
                    accumulate ? 1.0f : 0.0f, C, ldc);
        for (int i = 0; bias && i < M; i++)
            for (int k = 0; k < b->N; k++) C[(size_t)i * ldc + k] += bias[k];
        return;
    }
    if (code) {
        if (!msg[0]) snprintf(msg, sizeof msg, "out of memory");
        record_error(code, msg);
        fill_nan(C, M, b->N, ldc);
    } else {
        sl_nn_parallel_for((size_t)(M + BLOCK - 1) / BLOCK, gemm_task, &j);
        if (atomic_load(&j.failed)) {
            snprintf(msg, sizeof msg, "oneDNN failed on a %d x %d x %d matmul (status %d)", M, b->K, b->N,
                     atomic_load(&j.failed));
            record_error(SL_EINTERNAL, msg);
        }
    }
    if (t0 != 0.0) sl_nn_prof_flops(2.0 * M * b->N * b->K);
    sl_nn_prof_end(SL_NN_PH_GEMM, t0);
}

/* ---- products of two activations ------------------------------------------------------------------ */

struct sl_nn_dnnl_mm {
    int M, N, K, trans_a, lda, trans_b, ldb, ldc;
    float alpha;
    sl_nn_dnnl_type type;
    dnnl_primitive_t p;
    dnnl_memory_desc_t a_md, b_md, c_md, sp_md;
    size_t scratch;
    arg_sets args; /* src, weights, dst, scratchpad */
    struct sl_nn_dnnl_mm *next;
};

/* The cache, most recently used first, at most MM_CACHE entries: the shapes follow the sequence length, which
 * a long-running `serve` sees many of. A pass asks for at most 4 products before running them, so an entry
 * it holds is never the one evicted. */
#define MM_CACHE 64
static sl_nn_dnnl_mm *g_mms;
static int g_n_mms;

static void mm_free(sl_nn_dnnl_mm *mm) {
    dnnl_primitive_destroy(mm->p);
    arg_sets_free(&mm->args);
    free(mm);
}

static sl_nn_dnnl_mm *mm_make(const sl_nn_dnnl_mm *key, char *msg, size_t msg_len) {
    sl_nn_dnnl_mm *mm = malloc(sizeof *mm);
    if (!mm) return snprintf(msg, msg_len, "out of memory"), NULL;
    *mm = *key;
    const dnnl_data_type_t dt = dt_of(mm->type);
    dnnl_dims_t ad = {mm->M, mm->K}, as = {mm->trans_a ? 1 : mm->lda, mm->trans_a ? mm->lda : 1};
    dnnl_dims_t bd = {mm->K, mm->N}, bs = {mm->trans_b ? 1 : mm->ldb, mm->trans_b ? mm->ldb : 1};
    dnnl_dims_t cd = {mm->M, mm->N}, cs = {mm->ldc, 1};
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    if (!(s = dnnl_memory_desc_init_by_strides(&mm->a_md, 2, ad, dt, as)) &&
        !(s = dnnl_memory_desc_init_by_strides(&mm->b_md, 2, bd, dt, bs)) &&
        !(s = dnnl_memory_desc_init_by_strides(&mm->c_md, 2, cd, dnnl_f32, cs)) &&
        !(s = dnnl_matmul_desc_init(&md, &mm->a_md, &mm->b_md, NULL, &mm->c_md)) &&
        !(s = dnnl_primitive_attr_create(&attr)) &&
        !(s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) &&
        !(s = mm->alpha != 1.0f ? dnnl_primitive_attr_set_output_scales(attr, 1, 0, &mm->alpha)
                                : dnnl_success)) {
        one_thread();
        if (!(s = dnnl_primitive_desc_create(&pd, &md, attr, g.engine, NULL))) {
            const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
            mm->scratch = sp ? dnnl_memory_desc_get_size(sp) : 0;
            dnnl_dims_t sd = {(dnnl_dim_t)(mm->scratch ? mm->scratch : 1)};
            if (!(s = dnnl_memory_desc_init_by_tag(&mm->sp_md, 1, sd, dnnl_u8, dnnl_a)))
                s = inject_failure() ? dnnl_unimplemented : dnnl_primitive_create(&mm->p, pd);
        }
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s) {
        free(mm);
        snprintf(msg, msg_len, "oneDNN refused a %d x %d x %d product (status %d)", key->M, key->K, key->N,
                 (int)s);
        return NULL;
    }
    return mm;
}

static int mm_args_ready(sl_nn_dnnl_mm *mm, int n, char *msg, size_t msg_len) {
    const dnnl_memory_desc_t *mds[ARGS] = {&mm->a_md, &mm->b_md, &mm->c_md, &mm->sp_md, NULL};
    void *handles[ARGS] = {DNNL_MEMORY_NONE, DNNL_MEMORY_NONE, DNNL_MEMORY_NONE, DNNL_MEMORY_NONE,
                           DNNL_MEMORY_NONE};
    return arg_sets_ready(&mm->args, n, mds, handles, msg, msg_len);
}

const sl_nn_dnnl_mm *sl_nn_dnnl_mm_get(int M, int N, int K, int trans_a, int lda, int trans_b, int ldb,
                                       int ldc, float alpha, sl_nn_dnnl_type type, size_t scratch_elems) {
    char msg[256] = "";
    if (!type_ok(type, msg, sizeof msg)) {
        if (type == SL_NN_DNNL_BF16) record_error(SL_EUSAGE, msg);
        return NULL;
    }
    const sl_nn_dnnl_mm key = {.M = M,
                               .N = N,
                               .K = K,
                               .trans_a = trans_a,
                               .lda = lda,
                               .trans_b = trans_b,
                               .ldb = ldb,
                               .ldc = ldc,
                               .alpha = alpha,
                               .type = type};
    sl_nn_dnnl_mm *mm = g_mms, **link = &g_mms;
    for (; mm; link = &mm->next, mm = mm->next)
        if (mm->M == M && mm->N == N && mm->K == K && mm->trans_a == trans_a && mm->lda == lda &&
            mm->trans_b == trans_b && mm->ldb == ldb && mm->ldc == ldc && mm->alpha == alpha &&
            mm->type == type)
            break;
    if (mm) { /* to the front */
        *link = mm->next;
        mm->next = g_mms;
        g_mms = mm;
    } else if ((mm = mm_make(&key, msg, sizeof msg))) {
        mm->next = g_mms;
        g_mms = mm;
        if (++g_n_mms > MM_CACHE) { /* drop the least recently used */
            sl_nn_dnnl_mm **last = &g_mms;
            while ((*last)->next) last = &(*last)->next;
            mm_free(*last);
            *last = NULL;
            g_n_mms--;
        }
    }
    const int n = sl_nn_get_threads();
    int code = mm ? workers_ready(n, mm->scratch, 0, msg, sizeof msg) : SL_EINTERNAL;
    if (!code) code = mm_args_ready(mm, n, msg, sizeof msg);
    for (int i = 0; !code && i < n; i++) {
        worker_state *w = &g.w[i];
        if (w->t16_len >= scratch_elems) continue;
        free(w->t16);
        w->t16_len = 0;
        if (!(w->t16 = alloc64(scratch_elems * sizeof(uint16_t))))
            code = SL_ENOMEM, snprintf(msg, sizeof msg, "out of memory");
        else
            w->t16_len = scratch_elems;
    }
    if (code) {
        if (type == SL_NN_DNNL_BF16) record_error(code, msg); /* fp32: the caller falls back to OpenBLAS */
        return NULL;
    }
    return mm;
}

uint16_t *sl_nn_dnnl_worker_scratch(int worker) {
    return worker < g.n_w ? g.w[worker].t16 : NULL;
}

void sl_nn_dnnl_mm_run(const sl_nn_dnnl_mm *mm, int worker, const void *A, const void *B, float *C) {
    dnnl_memory_t *m = mm->args.set[worker];
    worker_state *w = &g.w[worker];
    dnnl_status_t st;
    one_thread();
    if (!(st = dnnl_memory_set_data_handle(m[0], (void *)A)) &&
        !(st = dnnl_memory_set_data_handle(m[1], (void *)B)) &&
        !(st = dnnl_memory_set_data_handle(m[2], C)) &&
        !(st = dnnl_memory_set_data_handle(m[3], w->scratch))) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, m[0]},
                                   {DNNL_ARG_WEIGHTS, m[1]},
                                   {DNNL_ARG_DST, m[2]},
                                   {DNNL_ARG_SCRATCHPAD, m[3]}};
        if (!(st = dnnl_primitive_execute(mm->p, w->stream, 4, args))) st = dnnl_stream_wait(w->stream);
    }
    if (st) {
        fill_nan(C, mm->M, mm->N, mm->ldc);
        char msg[128];
        snprintf(msg, sizeof msg, "oneDNN failed on a %d x %d x %d product (status %d)", mm->M, mm->K, mm->N,
                 (int)st);
        record_error(SL_EINTERNAL, msg);
    }
}
#endif /* SEQLORA_HAVE_ONEDNN */
