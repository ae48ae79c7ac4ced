/* Unit tests of the engine that need no peer library: gradients against central finite differences
 * (with dropout on, so the dropout backward is checked too — the PEFT parity test runs with dropout off),
 * bit-identical results at 1 and 3 threads, a seeded head/LoRA init, AdamW against its closed form for
 * one step, the linear schedule, and errors on bad input. The model is random, written by this test with
 * the safetensors writer. Runs under ASan/UBSan (label unit). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/adapter.h"
#include "nn/bert.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "test.h"
#include "util/fs.h"
#include "util/rng.h"

enum { V = 40, H = 16, NH = 2, IM = 24, L = 2, P = 16, C = 3 };

static char model_dir[512];

static float *rnd(sl_rng *r, size_t n, float scale, float offset) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = offset + scale * (float)(2 * sl_rng_uniform(r) - 1);
    return x;
}

/* A random BertForSequenceClassification checkpoint with transformers' names. */
static void write_model(void) {
    const char *tmp = getenv("SEQLORA_TEST_TMP");
    char *dir = NULL;
    sl_err err = {0};
    sl_fs_mkdirs(tmp ? tmp : "/tmp", &err);
    CHECK(sl_fs_mkdtemp(tmp ? tmp : "/tmp", "engine-unit-", &dir, &err) == 0);
    snprintf(model_dir, sizeof model_dir, "%s", dir);
    free(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"model_type\": \"bert\", \"vocab_size\": %d, \"hidden_size\": %d, \"num_hidden_layers\": %d, "
            "\"num_attention_heads\": %d, \"intermediate_size\": %d, \"max_position_embeddings\": %d, "
            "\"type_vocab_size\": 2, \"hidden_act\": \"gelu\", \"hidden_dropout_prob\": 0.1, "
            "\"attention_probs_dropout_prob\": 0.1, \"layer_norm_eps\": 1e-12, "
            "\"id2label\": {\"0\": \"a\", \"1\": \"b\", \"2\": \"c\"}}\n",
            V, H, L, NH, IM, P);
    fclose(f);
    sl_rng r;
    sl_rng_init(&r, 9, 1);
    sl_nn_st_wtensor t[64];
    int64_t shapes[64][2];
    float *data[64];
    char names[64][128];
    int n = 0;
#define ADD(nm, d0, d1, nd, scale, off)                                                                      \
    do {                                                                                                     \
        snprintf(names[n], 128, "%s", nm);                                                                   \
        shapes[n][0] = d0;                                                                                   \
        shapes[n][1] = d1;                                                                                   \
        data[n] = rnd(&r, (size_t)(d0) * (nd > 1 ? (d1) : 1), scale, off);                                   \
        t[n] = (sl_nn_st_wtensor){names[n], SL_NN_ST_F32, nd, shapes[n], data[n]};                           \
        n++;                                                                                                 \
    } while (0)
    ADD("bert.embeddings.word_embeddings.weight", V, H, 2, 0.5f, 0);
    ADD("bert.embeddings.position_embeddings.weight", P, H, 2, 0.5f, 0);
    ADD("bert.embeddings.token_type_embeddings.weight", 2, H, 2, 0.5f, 0);
    ADD("bert.embeddings.LayerNorm.weight", H, 0, 1, 0.2f, 1);
    ADD("bert.embeddings.LayerNorm.bias", H, 0, 1, 0.1f, 0);
    static const char *const mods[] = {"attention.self.query",   "attention.self.key", "attention.self.value",
                                       "attention.output.dense", "intermediate.dense", "output.dense"};
    char nm[128];
    for (int l = 0; l < L; l++) {
        for (int m = 0; m < 6; m++) {
            int in = m == 5 ? IM : H, out = m == 4 ? IM : H;
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.weight", l, mods[m]);
            ADD(nm, out, in, 2, 0.4f, 0);
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.bias", l, mods[m]);
            ADD(nm, out, 0, 1, 0.1f, 0);
        }
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(nm, H, 0, 1, 0.2f, 1);
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(nm, H, 0, 1, 0.1f, 0);
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(nm, H, 0, 1, 0.2f, 1);
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.output.LayerNorm.bias", l);
        ADD(nm, H, 0, 1, 0.1f, 0);
    }
    ADD("bert.pooler.dense.weight", H, H, 2, 0.4f, 0);
    ADD("bert.pooler.dense.bias", H, 0, 1, 0.1f, 0);
    ADD("classifier.weight", C, H, 2, 0.5f, 0);
    ADD("classifier.bias", C, 0, 1, 0.1f, 0);
#undef ADD
    snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
    static const char *const meta[] = {"format", "pt", NULL};
    CHECK(sl_nn_st_write(path, t, (size_t)n, meta, &err) == 0);
    for (int i = 0; i < n; i++) free(data[i]);
}

static sl_nn_bert *load(unsigned targets, int pooler, sl_err *err) {
    sl_nn_lora_spec s = {.r = 3, .alpha = 5, .dropout = 0.2f, .targets = targets, .train_pooler = pooler};
    sl_nn_bert *m = NULL;
    CHECK(sl_nn_bert_load(model_dir, NULL, &s, 11, 3, 7, 1, &m, err) == 0);
    return m;
}

static const int32_t ids[3 * 7] = {2, 5, 9, 11, 30, 3, 0, 2, 7, 7, 8, 3, 0, 0, 2, 39, 20, 21, 22, 23, 3};
static const int32_t mask[3 * 7] = {1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1};
static const float labels[3] = {2, 0, 1};

static void test_gradients_vs_finite_differences(void) {
    sl_err err = {0};
    sl_nn_set_threads(1);
    sl_nn_bert *m = load(0x3f, 1, &err);
    if (!m) return;
    /* make B non-zero so every LoRA gradient is non-trivial */
    float *p = sl_nn_bert_train_params(m);
    size_t n = sl_nn_bert_n_train(m);
    sl_rng r;
    sl_rng_init(&r, 3, 3);
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0) p[i] = 0.3f * (float)(2 * sl_rng_uniform(&r) - 1);
    sl_nn_dropout drop = {77, 5};
    float loss;
    sl_nn_bert_zero_grad(m);
    CHECK(sl_nn_bert_forward(m, ids, mask, 3, 7, labels, &drop, &loss, &err) == 0);
    CHECK(sl_nn_bert_backward(m, 1.0f, &err) == 0);
    float *g = malloc(n * sizeof(float));
    memcpy(g, sl_nn_bert_train_grads(m), n * sizeof(float));
    size_t np;
    const sl_nn_param *ps = sl_nn_bert_params(m, &np);
    int checked = 0, bad = 0;
    for (size_t k = 0; k < np; k++) {
        for (int rep = 0; rep < 3; rep++) { /* 3 coordinates of every tensor */
            size_t i = ps[k].offset + sl_rng_below(&r, (uint32_t)ps[k].numel);
            float keep = p[i], lp, lm;
            const float eps = 1e-2f;
            p[i] = keep + eps;
            sl_nn_bert_forward(m, ids, mask, 3, 7, labels, &drop, &lp, &err);
            p[i] = keep - eps;
            sl_nn_bert_forward(m, ids, mask, 3, 7, labels, &drop, &lm, &err);
            p[i] = keep;
            double fd = ((double)lp - lm) / (2 * eps);
            double tol = 2e-3 + 2e-2 * fabs(fd);
            checked++;
            if (fabs(fd - g[i]) > tol) {
                bad++;
                fprintf(stderr, "  %s[%zu]: backward %.6g, finite difference %.6g\n", ps[k].name,
                        i - ps[k].offset, g[i], fd);
            }
        }
    }
    fprintf(stderr, "  %d coordinates of %zu tensors checked against finite differences\n", checked, np);
    CHECK(bad == 0);
    free(g);
    sl_nn_bert_free(m);
}

static void test_threads_bit_identical(void) {
    sl_err err = {0};
    float *res[2] = {0};
    int threads[2] = {1, 3};
    size_t n = 0;
    for (int t = 0; t < 2; t++) {
        sl_nn_set_threads(threads[t]);
        sl_nn_bert *m = load(0x3f, 0, &err);
        if (!m) return;
        sl_nn_dropout drop = {1, 2};
        float loss;
        sl_nn_bert_zero_grad(m);
        CHECK(sl_nn_bert_forward(m, ids, mask, 3, 7, labels, &drop, &loss, &err) == 0);
        CHECK(sl_nn_bert_backward(m, 1.0f, &err) == 0);
        n = sl_nn_bert_n_train(m);
        res[t] = malloc((n + 9) * sizeof(float));
        memcpy(res[t], sl_nn_bert_train_grads(m), n * sizeof(float));
        memcpy(res[t] + n, sl_nn_bert_logits(m), 9 * sizeof(float));
        sl_nn_bert_free(m);
    }
    CHECK(memcmp(res[0], res[1], (n + 9) * sizeof(float)) == 0);
    free(res[0]);
    free(res[1]);
    sl_nn_set_threads(1);
}

static void test_adamw_closed_form(void) {
    sl_err err = {0};
    sl_nn_adamw o;
    CHECK(sl_nn_adamw_init(&o, 2, 0.1, &err) == 0);
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.25f};
    sl_nn_adamw_step(&o, 0.01, p, g);
    /* step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps) after the decay */
    CHECK_NEAR(p[0], 1.0 * (1 - 0.01 * 0.1) - 0.01 * 0.5 / (0.5 + 1e-8), 1e-7);
    CHECK_NEAR(p[1], -2.0 * (1 - 0.01 * 0.1) + 0.01 * 0.25 / (0.25 + 1e-8), 1e-7);
    sl_nn_adamw_free(&o);
    CHECK_NEAR(sl_nn_lr_linear_factor(0, 4, 10), 0.0, 0);
    CHECK_NEAR(sl_nn_lr_linear_factor(2, 4, 10), 0.5, 0);
    CHECK_NEAR(sl_nn_lr_linear_factor(4, 4, 10), 1.0, 0);
    CHECK_NEAR(sl_nn_lr_linear_factor(7, 4, 10), 0.5, 0);
    CHECK_NEAR(sl_nn_lr_linear_factor(12, 4, 10), 0.0, 0);
    float gr[3] = {3, 4, 12};
    size_t sizes[2] = {2, 1};
    double nrm = sl_nn_clip_grad_norm(gr, sizes, 2, 1.3);
    CHECK_NEAR(nrm, 13.0, 1e-9);
    CHECK_NEAR(gr[2], 12 * 1.3 / (13 + 1e-6), 1e-6);
}

static void test_seeded_init_and_errors(void) {
    sl_err err = {0};
    sl_nn_bert *a = load(0x5, 0, &err), *b = load(0x5, 0, &err);
    if (!a || !b) return;
    CHECK(memcmp(sl_nn_bert_train_params(a), sl_nn_bert_train_params(b),
                 sl_nn_bert_n_train(a) * sizeof(float)) == 0);
    CHECK(sl_nn_bert_head_loaded(a));
    int32_t bad_ids[7] = {2, 5, V, 3, 0, 0, 0};
    float loss;
    CHECK(sl_nn_bert_forward(a, bad_ids, mask, 1, 7, labels, NULL, &loss, &err) == SL_EDATA);
    CHECK(strstr(err.msg, "out of range") != NULL);
    float bad_label[1] = {3};
    CHECK(sl_nn_bert_forward(a, ids, mask, 1, 7, bad_label, NULL, &loss, &err) == SL_EDATA);
    CHECK(sl_nn_bert_forward(a, ids, mask, 4, 7, labels, NULL, &loss, &err) ==
          SL_EINTERNAL); /* over capacity */
    unsigned t;
    const char *pooler[] = {"dense"};
    CHECK(sl_nn_lora_targets(pooler, 1, &t, &err) == SL_EUSAGE);
    const char *none[] = {"nonexistent"};
    CHECK(sl_nn_lora_targets(none, 1, &t, &err) == SL_EUSAGE);
    const char *od[] = {"output.dense"};
    CHECK(sl_nn_lora_targets(od, 1, &t, &err) == 0 &&
          t == ((1u << SL_NN_MOD_ATTN_OUT) | (1u << SL_NN_MOD_OUTPUT)));
    sl_nn_bert_free(a);
    sl_nn_bert_free(b);
    /* a missing model file is a clear error */
    sl_nn_lora_spec s = {.r = 2, .alpha = 2, .targets = 1};
    sl_nn_bert *m = NULL;
    CHECK(sl_nn_bert_load("/nonexistent-dir", NULL, &s, 1, 1, 4, 0, &m, &err) != 0 && m == NULL);
}

int main(void) {
    write_model();
    RUN_TEST(test_gradients_vs_finite_differences);
    RUN_TEST(test_threads_bit_identical);
    RUN_TEST(test_adamw_closed_form);
    RUN_TEST(test_seeded_init_and_errors);
    sl_err err = {0};
    sl_fs_remove_tree(model_dir, &err);
    sl_nn_set_threads(1);
    return TEST_RESULT();
}
