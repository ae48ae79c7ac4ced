/* Host-side checks of the CUDA backend that need no GPU: --device/--precision parsing, the element
 * functions the kernels share with their host side (src/nn/cuda/elem.h) against the CPU engine's own
 * kernels (Philox dropout masks and GELU must be bit-identical), the fp16 loss scaler, and the module
 * loader: with argv[1] a built libseqlora_cuda.so it must load on this machine whatever the driver, report
 * its devices, resolve --device auto to the CPU with a note when there is none, refuse --device cuda, and
 * plan the 12-GB-card scenario (DNABERT-base, seq 512, batch 8, bf16) under 12 GiB. With argv[1] = none
 * the loader must fail cleanly and auto must still give the CPU. Label unit (runs under ASan/UBSan). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/bert_impl.h"
#include "nn/cuda/elem.h"
#include "test.h"

static void test_device_parse(void) {
    sl_err err = {0};
    sl_nn_device d;
    CHECK(sl_nn_device_parse("auto", &d, &err) == 0 && d.kind == SL_NN_DEVICE_AUTO);
    CHECK(sl_nn_device_parse("cpu", &d, &err) == 0 && d.kind == SL_NN_DEVICE_CPU);
    CHECK(sl_nn_device_parse("cuda", &d, &err) == 0 && d.kind == SL_NN_DEVICE_CUDA && d.index == -1);
    CHECK(sl_nn_device_parse("cuda:0", &d, &err) == 0 && d.kind == SL_NN_DEVICE_CUDA && d.index == 0);
    CHECK(sl_nn_device_parse("cuda:12", &d, &err) == 0 && d.index == 12);
    char buf[32];
    CHECK_EQ_STR(sl_nn_device_format(&d, buf, sizeof buf), "cuda:12");
    static const char *const bad[] = {"",       "gpu",     "CUDA",       "cuda:", "cuda:-1",
                                      "cuda:x", "cuda:1x", "cuda:99999", "cpu:0", " cuda"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sl_err_clear(&err);
        CHECK(sl_nn_device_parse(bad[i], &d, &err) == SL_EUSAGE);
        CHECK(strstr(err.msg, "expected auto, cpu, cuda or cuda:N") != NULL);
    }
    int p = -1;
    CHECK(sl_nn_precision_parse("fp32", &p, &err) == 0 && p == SL_CUDA_FP32);
    CHECK(sl_nn_precision_parse("bf16", &p, &err) == 0 && p == SL_CUDA_BF16);
    CHECK(sl_nn_precision_parse("fp16", &p, &err) == 0 && p == SL_CUDA_FP16);
    CHECK(sl_nn_precision_parse("fp8", &p, &err) == SL_EUSAGE && strstr(err.msg, "fp8"));
    CHECK_EQ_STR(sl_nn_precision_name(SL_CUDA_BF16), "bf16");
}

/* The kernels decide keep/drop with elem.h; the CPU engine with bert_kernels.c. Same bits required. */
static void test_dropout_masks_match_cpu_engine(void) {
    const float ps[] = {0.1f, 0.37f, 0.5f, 0.9f};
    const uint64_t bases[] = {0, 3, 4096 * 7 + 1};
    enum { N = 20011 };
    uint64_t *bits = malloc((N + 63) / 64 * sizeof(uint64_t));
    float *x = malloc(N * sizeof(float));
    int mismatches = 0, kept = 0;
    for (size_t pi = 0; pi < 4; pi++)
        for (size_t bi = 0; bi < 3; bi++) {
            const uint64_t seed = 1234 + pi, hi = sl_nn_drop_hi(9 + bi, (int)bi - 1, SL_NN_DROP_ATTN);
            CHECK(hi == sl_cuda_drop_hi(9 + bi, (int)bi - 1, SL_NN_DROP_ATTN));
            sl_nn_k_dropout_bits(bits, N, ps[pi], seed, hi, bases[bi]);
            for (size_t i = 0; i < N; i++) x[i] = 1.0f;
            sl_nn_k_dropout(x, N, ps[pi], seed, hi, bases[bi]);
            const uint32_t thr = sl_cuda_drop_thr(ps[pi]);
            const float scale = 1.0f / (1.0f - ps[pi]);
            for (size_t i = 0; i < N; i++) {
                int k = sl_cuda_keep(sl_cuda_drop_key(seed), hi, bases[bi] + i, thr);
                int cpu_bit = (int)((bits[i / 64] >> (i % 64)) & 1);
                float cpu_val = x[i];
                if (k != cpu_bit || cpu_val != (k ? scale : 0.0f)) mismatches++;
                kept += k;
            }
        }
    CHECK_EQ_INT(mismatches, 0);
    /* not all kept or all dropped: the comparison had something to compare */
    CHECK(kept > 0 && kept < 4 * 3 * N);
    /* the threshold is the integer form of k < p * 2^24 */
    CHECK(sl_cuda_drop_thr(0.5f) == 8388608u);
    CHECK(sl_cuda_drop_thr(0.1f) == (uint32_t)ceil((double)0.1f * 16777216.0));
    free(bits);
    free(x);
}

static void test_gelu_matches_cpu_engine(void) {
    enum { N = 12001 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float)), *one = malloc(N * sizeof(float)),
          *g = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) {
        x[i] = -8.0f + 16.0f * (float)i / (N - 1);
        one[i] = 1.0f;
    }
    sl_nn_k_gelu(y, x, N);
    sl_nn_k_gelu_bwd(g, one, x, N);
    /* the CPU engine evaluates Phi in double (src/nn/gelu.c, correctly rounded nearly everywhere); the
     * kernels' float erff form agrees within a few float ulps, far below the parity tolerances (1e-4) */
    double dy = 0, dg = 0;
    for (int i = 0; i < N; i++) {
        double ey = fabs((double)sl_cuda_gelu(x[i]) - y[i]),
               eg = fabs((double)sl_cuda_gelu_grad(x[i]) - g[i]);
        if (!(ey <= dy)) dy = ey;
        if (!(eg <= dg)) dg = eg;
    }
    printf("gelu vs the CPU engine: max |diff| %.3g (value), %.3g (derivative)\n", dy, dg);
    CHECK(dy <= 2e-6 && dg <= 2e-6);
    /* and against the closed form in double, so that both are not wrong the same way (absolute error: the
     * float form loses relative accuracy in the far negative tail, where gelu is ~0) */
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double xd = x[i], ref = 0.5 * xd * (1 + erf(xd / sqrt(2.0)));
        double e = fabs(sl_cuda_gelu(x[i]) - ref);
        if (e > worst) worst = e;
    }
    CHECK(worst < 2e-6);
    free(x);
    free(y);
    free(one);
    free(g);
}

static void test_loss_scaler(void) {
    sl_nn_loss_scaler s;
    sl_nn_loss_scaler_init(&s, 0, 3);
    CHECK(s.scale == 65536.0f);
    CHECK(sl_nn_loss_scaler_update(&s, 0) == 0 && s.scale == 32768.0f && s.skipped == 1);
    CHECK(sl_nn_loss_scaler_update(&s, 1) == 1 && s.scale == 32768.0f);
    CHECK(sl_nn_loss_scaler_update(&s, 1) == 1 && s.scale == 32768.0f);
    CHECK(sl_nn_loss_scaler_update(&s, 1) == 1 && s.scale == 65536.0f);
    CHECK(sl_nn_loss_scaler_update(&s, 1) == 1 && sl_nn_loss_scaler_update(&s, 0) == 0 &&
          s.scale == 32768.0f);
}

/* DNABERT-base (12 x 768, 12 heads, 3072, vocab 4101), LoRA r=8 on query/value, 2 labels. */
static void dnabert_desc(sl_cuda_desc *d, int64_t *offs, int B, int T, int prec) {
    memset(d, 0, sizeof *d);
    *d = (sl_cuda_desc){.vocab = 4101,
                        .hidden = 768,
                        .layers = 12,
                        .heads = 12,
                        .inter = 3072,
                        .max_pos = 512,
                        .num_labels = 2,
                        .attn_dropout = 0.1f,
                        .lora_r = 8,
                        .max_batch = B,
                        .max_len = T,
                        .precision = prec,
                        .training = 1};
    size_t off = 0;
    for (int l = 0; l < 12; l++)
        for (int k = 0; k < 6; k++) {
            offs[l * 6 + k] = offs[72 + l * 6 + k] = -1;
            if (k == 0 || k == 2) {
                offs[l * 6 + k] = (int64_t)off;
                offs[72 + l * 6 + k] = (int64_t)(off + 8 * 768);
                off += 2 * 8 * 768;
            }
        }
    d->lora_a_off = offs;
    d->lora_b_off = offs + 72;
    d->cls_w_off = (int64_t)off;
    d->cls_b_off = (int64_t)off + 2 * 768;
    d->pool_w_off = d->pool_b_off = -1;
    d->n_train = off + 2 * 768 + 2;
}

static void test_module(const char *module) {
    sl_err err = {0};
    char why[1024] = "", note[1200] = "";
    sl_nn_device req, got;
    sl_nn_device_parse("auto", &req, &err);
    const sl_cuda_api *api = sl_nn_cuda_api(why, sizeof why);
    if (!strcmp(module, "none")) {
        CHECK(api == NULL && strstr(why, "SEQLORA_CUDA_MODULE=none"));
        CHECK(sl_nn_device_resolve(&req, &got, note, sizeof note, &err) == 0 && got.kind == SL_NN_DEVICE_CPU);
        CHECK(strstr(note, "using the CPU") != NULL);
        sl_nn_device_parse("cuda:0", &req, &err);
        CHECK(sl_nn_device_resolve(&req, &got, note, sizeof note, &err) == SL_EUSAGE);
        return;
    }
    CHECK(api != NULL);
    if (!api) {
        fprintf(stderr, "module %s did not load: %s\n", module, why);
        return;
    }
    CHECK(api->abi == SL_CUDA_ABI && api->build && strstr(api->build, "cuBLAS"));
    int n = -1;
    CHECK(api->device_count(&n, &err) == 0 && n >= 0);
    printf("module: %s; %d device(s)\n", api->build, n);
    CHECK(sl_nn_device_resolve(&req, &got, note, sizeof note, &err) == 0);
    CHECK(got.kind == (n > 0 ? SL_NN_DEVICE_CUDA : SL_NN_DEVICE_CPU));
    if (n == 0) CHECK(strstr(note, "using the CPU: no CUDA device") != NULL);
    sl_nn_device_parse("cuda:0", &req, &err);
    CHECK(sl_nn_device_resolve(&req, &got, note, sizeof note, &err) == (n > 0 ? 0 : SL_EUSAGE));
    sl_nn_device_parse("cuda:1000", &req, &err);
    CHECK(sl_nn_device_resolve(&req, &got, note, sizeof note, &err) == SL_EUSAGE);
    char buf[2048];
    sl_nn_backends_describe(buf, sizeof buf);
    CHECK(strncmp(buf, "cpu (fp32 GEMMs: ", 17) == 0 && strstr(buf, "; bf16: ") != NULL &&
          strstr(buf, "cuda") != NULL);
    /* the memory plan of the 12-GB-card scenario */
    int64_t offs[144];
    sl_cuda_desc d;
    dnabert_desc(&d, offs, 8, 512, SL_CUDA_BF16);
    sl_cuda_mem mem;
    CHECK(api->plan(&d, &mem, &err) == 0);
    printf(
        "plan DNABERT-base bf16 B8 T512: weights %.3f GiB, activations %.3f, scratch %.3f, optimizer %.4f, "
        "workspace %.3f, total %.3f GiB\n",
        mem.weights / 1073741824.0, mem.activations / 1073741824.0, mem.scratch / 1073741824.0,
        mem.optimizer / 1073741824.0, mem.workspace / 1073741824.0, mem.total / 1073741824.0);
    CHECK(mem.total == mem.weights + mem.activations + mem.scratch + mem.optimizer + mem.workspace);
    /* leave >= 1.5 GiB of a 12 GiB card for the CUDA context and cuBLAS handles */
    CHECK(mem.total < (size_t)(10.5 * 1073741824.0));
    sl_cuda_mem m32;
    dnabert_desc(&d, offs, 8, 512, SL_CUDA_FP32);
    CHECK(api->plan(&d, &m32, &err) == 0);
    /* bf16 halves the frozen Linear weights (85 M floats) */
    CHECK(m32.weights > mem.weights + (size_t)150e6);
    d.hidden = 770; /* not a multiple of the heads */
    CHECK(api->plan(&d, &mem, &err) == SL_EUSAGE);
    /* create without a device fails with a message, never crashes */
    if (n == 0) {
        sl_cuda_model *m = NULL;
        dnabert_desc(&d, offs, 1, 8, SL_CUDA_FP32);
        sl_err_clear(&err);
        CHECK(api->create(&d, 0, &m, &err) != 0 && m == NULL && err.msg[0] != '\0');
        printf("create without a device: %s\n", err.msg);
    }
}

int main(int argc, char **argv) {
    const char *module = argc > 1 ? argv[1] : "none";
    setenv("SEQLORA_CUDA_MODULE", module, 1);
    RUN_TEST(test_device_parse);
    RUN_TEST(test_dropout_masks_match_cpu_engine);
    RUN_TEST(test_gelu_matches_cpu_engine);
    RUN_TEST(test_loss_scaler);
    test_module(module);
    return TEST_RESULT();
}
