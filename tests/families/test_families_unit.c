/* Unit tests of the ESM engine without Python (so they also run under ASan/UBSan): the rotary transpose,
 * SwiGLU's derivative, LoRA + classifier gradients of tiny random ESM-2 / NT v1 / NT v2 models against
 * central finite differences of the loss, the family dispatch and config errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/esm.h"
#include "nn/esm_impl.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "test.h"
#include "util/fs.h"
#include "util/rng.h"

static char *tmp_dir;

static double urand(sl_rng *r) {
    return 2.0 * sl_rng_uniform(r) - 1.0;
}

static void test_rotary_transpose(void) {
    enum { B = 2, T = 5, H = 8, D = 4 };
    float c[T * D], s[T * D], x[B * T * H], y[B * T * H], rx[B * T * H], ry[B * T * H];
    sl_rng r;
    sl_rng_init(&r, 1, 0);
    for (int i = 0; i < B * T * H; i++) x[i] = rx[i] = (float)urand(&r), y[i] = ry[i] = (float)urand(&r);
    sl_nn_k_rotary_tables(c, s, T, D);
    CHECK_NEAR(c[0], 1.0, 1e-7); /* position 0: identity */
    sl_nn_k_rotary(rx, c, s, B, T, H, D, 0);
    sl_nn_k_rotary(ry, c, s, B, T, H, D, 1);
    double a = 0, b = 0, n0 = 0, n1 = 0;
    for (int i = 0; i < B * T * H; i++) a += (double)rx[i] * y[i], b += (double)x[i] * ry[i];
    for (int i = 0; i < B * T * H; i++) n0 += (double)x[i] * x[i], n1 += (double)rx[i] * rx[i];
    CHECK_NEAR(a, b, 1e-5);   /* <R x, y> = <x, R^T y> */
    CHECK_NEAR(n0, n1, 1e-4); /* a rotation keeps the norm */
}

static void test_swiglu_derivative(void) {
    float x[8], dx[8], y[4], yp[4], ym[4], dy[4] = {0.3f, -1.1f, 0.7f, 2.0f};
    sl_rng r;
    sl_rng_init(&r, 2, 0);
    for (int i = 0; i < 8; i++) x[i] = (float)(2 * urand(&r));
    sl_nn_k_swiglu(y, x, 1, 4);
    sl_nn_k_swiglu_bwd(dx, dy, x, 1, 4);
    for (int i = 0; i < 8; i++) {
        float keep = x[i];
        x[i] = keep + 1e-3f;
        sl_nn_k_swiglu(yp, x, 1, 4);
        x[i] = keep - 1e-3f;
        sl_nn_k_swiglu(ym, x, 1, 4);
        x[i] = keep;
        double fd = 0;
        for (int j = 0; j < 4; j++) fd += dy[j] * ((double)yp[j] - ym[j]) / 2e-3;
        CHECK_NEAR(dx[i], fd, 2e-3);
    }
}

/* A random tiny ESM checkpoint in dir: H 8, 2 heads, I 12, 2 layers, vocab 10 (pad 1, mask 9). */
static void write_model(const char *dir, int rotary, int gated, int token_dropout) {
    enum { H = 8, NI = 12, L = 2, V = 10, P = 20 };
    const int IW = gated ? 2 * NI : NI;
    sl_nn_st_wtensor ts[64];
    char names[64][128];
    int64_t shapes[64][2];
    float *bufs[64];
    int n = 0;
    sl_rng r;
    sl_rng_init(&r, 42 + rotary + 2 * gated, 0);
#define ADD(nm, d0, d1, scale, off)                                                                          \
    do {                                                                                                     \
        snprintf(names[n], sizeof names[n], "%s", nm);                                                       \
        shapes[n][0] = d0, shapes[n][1] = d1;                                                                \
        size_t cnt = (size_t)(d0) * ((d1) ? (d1) : 1);                                                       \
        bufs[n] = malloc(cnt * sizeof(float));                                                               \
        for (size_t q = 0; q < cnt; q++) bufs[n][q] = (float)((off) + (scale)*urand(&r));                    \
        ts[n] = (sl_nn_st_wtensor){names[n], SL_NN_ST_F32, (d1) ? 2 : 1, shapes[n], bufs[n]};                \
        n++;                                                                                                 \
    } while (0)
    char nm[128];
    ADD("esm.embeddings.word_embeddings.weight", V, H, 1.0, 0);
    if (!rotary) ADD("esm.embeddings.position_embeddings.weight", P, H, 0.5, 0);
    ADD("esm.encoder.emb_layer_norm_after.weight", H, 0, 0.1, 1);
    ADD("esm.encoder.emb_layer_norm_after.bias", H, 0, 0.1, 0);
    for (int l = 0; l < L; l++) {
        const char *lin[6] = {"attention.self.query",   "attention.self.key", "attention.self.value",
                              "attention.output.dense", "intermediate.dense", "output.dense"};
        int outs[6] = {H, H, H, H, IW, H}, ins[6] = {H, H, H, H, H, NI};
        for (int k = 0; k < 6; k++) {
            snprintf(nm, sizeof nm, "esm.encoder.layer.%d.%s.weight", l, lin[k]);
            ADD(nm, outs[k], ins[k], 0.4, 0);
            if (gated && k >= 4) continue;
            snprintf(nm, sizeof nm, "esm.encoder.layer.%d.%s.bias", l, lin[k]);
            ADD(nm, outs[k], 0, 0.1, 0);
        }
        const char *lns[2] = {"attention.LayerNorm", "LayerNorm"};
        for (int k = 0; k < 2; k++) {
            snprintf(nm, sizeof nm, "esm.encoder.layer.%d.%s.weight", l, lns[k]);
            ADD(nm, H, 0, 0.1, 1);
            snprintf(nm, sizeof nm, "esm.encoder.layer.%d.%s.bias", l, lns[k]);
            ADD(nm, H, 0, 0.1, 0);
        }
    }
#undef ADD
    sl_err err = {0};
    char *p = sl_fs_join(dir, "model.safetensors");
    CHECK_EQ_INT(sl_nn_st_write(p, ts, (size_t)n, NULL, &err), 0);
    free(p);
    for (int i = 0; i < n; i++) free(bufs[i]);
    char cfg[1024];
    int len = snprintf(
        cfg, sizeof cfg,
        "{\"model_type\": \"esm\", \"vocab_size\": %d, \"hidden_size\": %d, \"num_hidden_layers\": %d, "
        "\"num_attention_heads\": 2, \"intermediate_size\": %d, \"max_position_embeddings\": %d, "
        "\"pad_token_id\": 1, \"mask_token_id\": 9, \"hidden_dropout_prob\": 0.0, "
        "\"attention_probs_dropout_prob\": 0.0, \"layer_norm_eps\": 1e-5, "
        "\"position_embedding_type\": \"%s\", \"token_dropout\": %s%s, \"num_labels\": 3}",
        V, H, L, NI, P, rotary ? "rotary" : "absolute", token_dropout ? "true" : "false",
        gated ? ", \"add_bias_fnn\": false" : "");
    p = sl_fs_join(dir, "config.json");
    CHECK_EQ_INT(sl_fs_write_atomic(p, cfg, (size_t)len, &err), 0);
    free(p);
}

/* A random tiny DNABERT-2 checkpoint: H 12, 3 heads (not a power of 2), I 10, 2 layers, vocab 10, no
 * pooler; hidden dropout 0.1 in config.json. */
static void write_d2_model(const char *dir) {
    enum { H = 12, NI = 10, L = 2, V = 10 };
    sl_nn_st_wtensor ts[64];
    char names[64][128];
    int64_t shapes[64][2];
    float *bufs[64];
    int n = 0;
    sl_rng r;
    sl_rng_init(&r, 77, 0);
    char nm[128];
#define ADD(name_, d0, d1, scale, off)                                                                       \
    do {                                                                                                     \
        snprintf(names[n], sizeof names[n], "%s", name_);                                                    \
        shapes[n][0] = d0, shapes[n][1] = d1;                                                                \
        size_t cnt = (size_t)(d0) * ((d1) ? (d1) : 1);                                                       \
        bufs[n] = malloc(cnt * sizeof(float));                                                               \
        for (size_t q = 0; q < cnt; q++) bufs[n][q] = (float)((off) + (scale)*urand(&r));                    \
        ts[n] = (sl_nn_st_wtensor){names[n], SL_NN_ST_F32, (d1) ? 2 : 1, shapes[n], bufs[n]};                \
        n++;                                                                                                 \
    } while (0)
    ADD("bert.embeddings.word_embeddings.weight", V, H, 1.0, 0);
    ADD("bert.embeddings.token_type_embeddings.weight", 2, H, 0.5, 0);
    ADD("bert.embeddings.LayerNorm.weight", H, 0, 0.1, 1);
    ADD("bert.embeddings.LayerNorm.bias", H, 0, 0.1, 0);
    for (int l = 0; l < L; l++) {
        const char *lin[4] = {"attention.self.Wqkv", "attention.output.dense", "mlp.gated_layers", "mlp.wo"};
        int outs[4] = {3 * H, H, 2 * NI, H}, ins[4] = {H, H, H, NI};
        for (int k = 0; k < 4; k++) {
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.weight", l, lin[k]);
            ADD(nm, outs[k], ins[k], 0.4, 0);
            if (k == 2) continue;
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.bias", l, lin[k]);
            ADD(nm, outs[k], 0, 0.1, 0);
        }
        const char *lns[2] = {"attention.output.LayerNorm", "mlp.layernorm"};
        for (int k = 0; k < 2; k++) {
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.weight", l, lns[k]);
            ADD(nm, H, 0, 0.1, 1);
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.bias", l, lns[k]);
            ADD(nm, H, 0, 0.1, 0);
        }
    }
#undef ADD
    sl_err err = {0};
    char *p = sl_fs_join(dir, "model.safetensors");
    CHECK_EQ_INT(sl_nn_st_write(p, ts, (size_t)n, NULL, &err), 0);
    free(p);
    for (int i = 0; i < n; i++) free(bufs[i]);
    const char *cfg =
        "{\"alibi_starting_size\": 512, \"vocab_size\": 10, \"hidden_size\": 12, "
        "\"num_hidden_layers\": 2, \"num_attention_heads\": 3, \"intermediate_size\": 10, "
        "\"hidden_dropout_prob\": 0.1, \"attention_probs_dropout_prob\": 0.0, \"num_labels\": 3}";
    p = sl_fs_join(dir, "config.json");
    CHECK_EQ_INT(sl_fs_write_atomic(p, cfg, strlen(cfg), &err), 0);
    free(p);
}

static const sl_nn_dropout *g_drop;

static double loss_of(sl_nn_model *m, const int32_t *ids, const int32_t *mask, const float *labels) {
    float loss = 0;
    sl_err err = {0};
    CHECK_EQ_INT(sl_nn_model_forward(m, ids, mask, 2, 6, labels, g_drop, &loss, &err), 0);
    return loss;
}

static void gradcheck(int rotary, int gated, int token_dropout, int d2) {
    char *dir = NULL;
    sl_err err = {0};
    CHECK_EQ_INT(sl_fs_mkdtemp(tmp_dir, "esm", &dir, &err), 0);
    if (d2)
        write_d2_model(dir);
    else
        write_model(dir, rotary, gated, token_dropout);
    /* DNABERT-2: every module kind, LoRA dropout and the config's hidden dropout on, with fixed masks */
    sl_nn_lora_spec spec = {.r = 2, .alpha = 4, .targets = d2 ? 0xfu : 0x3fu, .dropout = d2 ? 0.2f : 0.0f};
    const sl_nn_dropout drop = {11, 3};
    g_drop = d2 ? &drop : NULL;
    sl_nn_model *m = NULL;
    int rc = sl_nn_model_load(dir, NULL, &spec, 5, 2, 6, 1, &m, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        free(dir);
        return;
    }
    CHECK_EQ_INT(sl_nn_model_get_family(m), d2 ? SL_NN_FAMILY_DNABERT2 : SL_NN_FAMILY_ESM);
    float *p = sl_nn_model_train_params(m);
    size_t nt = sl_nn_model_n_train(m);
    sl_rng r;
    sl_rng_init(&r, 7, 0);
    for (size_t i = 0; i < nt; i++) p[i] = (float)(0.3 * urand(&r)); /* non-zero B as well */
    const int32_t ids[12] = {0, 4, 9, 6, 7, 2, 0, 5, 5, 8, 1, 1},
                  mask[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    const float labels[2] = {2, 0};
    sl_nn_model_zero_grad(m);
    loss_of(m, ids, mask, labels);
    CHECK_EQ_INT(sl_nn_model_backward(m, 1.0f, &err), 0);
    const float *g = sl_nn_model_train_grads(m);
    double worst = 0;
    for (size_t i = 0; i < nt; i += 7) {
        float keep = p[i];
        p[i] = keep + 1e-2f;
        double lp = loss_of(m, ids, mask, labels);
        p[i] = keep - 1e-2f;
        double lm = loss_of(m, ids, mask, labels);
        p[i] = keep;
        double fd = (lp - lm) / 2e-2, e = fabs(fd - g[i]) / (fabs(fd) + 1e-2);
        if (e > worst) worst = e;
    }
    fprintf(stderr,
            "  %s rotary %d gated %d token_dropout %d: %zu trainable, worst rel gradient error %.2e\n",
            d2 ? "DNABERT-2 (dropout on)" : "ESM", rotary, gated, token_dropout, nt, worst);
    CHECK(worst < 2e-2);
    sl_nn_model_free(m);
    sl_fs_remove_tree(dir, NULL);
    free(dir);
}

static void test_gradients(void) {
    gradcheck(1, 0, 1, 0); /* ESM-2 */
    gradcheck(0, 0, 0, 0); /* NT v1 */
    gradcheck(1, 1, 0, 0); /* NT v2 */
    gradcheck(0, 0, 0, 1); /* DNABERT-2 */
}

static void write_cfg(const char *dir, const char *json) {
    char *p = sl_fs_join(dir, "config.json");
    sl_fs_write_atomic(p, json, strlen(json), NULL);
    free(p);
}

static void test_family_errors(void) {
    char *dir = NULL, *p;
    sl_err err = {0};
    sl_nn_family f;
    CHECK_EQ_INT(sl_fs_mkdtemp(tmp_dir, "fam", &dir, &err), 0);
    p = sl_fs_join(dir, "config.json");
    write_cfg(dir, "{\"model_type\": \"bert\"}");
    CHECK(sl_nn_model_family(p, &f, &err) == 0 && f == SL_NN_FAMILY_BERT);
    write_cfg(dir, "{\"architectures\": [\"EsmForMaskedLM\"]}");
    CHECK(sl_nn_model_family(p, &f, &err) == 0 && f == SL_NN_FAMILY_ESM);
    write_cfg(dir, "{\"model_type\": \"roberta\"}");
    CHECK(sl_nn_model_family(p, &f, &err) == SL_EDATA && strstr(err.msg, "'model_type'") &&
          strstr(err.msg, "roberta"));
    write_cfg(dir, "{\"auto_map\": {\"AutoModel\": \"bert_layers.BertModel\"}}");
    CHECK(sl_nn_model_family(p, &f, &err) == 0 && f == SL_NN_FAMILY_DNABERT2);
    write_cfg(dir, "{\"alibi_starting_size\": 512}");
    CHECK(sl_nn_model_family(p, &f, &err) == 0 && f == SL_NN_FAMILY_DNABERT2);
    sl_nn_esm_config c;
    write_cfg(
        dir,
        "{\"model_type\": \"esm\", \"vocab_size\": 33, \"pad_token_id\": 1, \"position_embedding_type\": "
        "\"relative_key\"}");
    CHECK(sl_nn_esm_config_load(p, &c, &err) == SL_EDATA && strstr(err.msg, "position_embedding_type"));
    write_cfg(dir, "{\"model_type\": \"esm\", \"pad_token_id\": 1}");
    CHECK(sl_nn_esm_config_load(p, &c, &err) == SL_EDATA && strstr(err.msg, "vocab_size"));
    write_cfg(dir, "{\"model_type\": \"esm\", \"vocab_size\": 33, \"pad_token_id\": 1, \"hidden_size\": 10, "
                   "\"num_attention_heads\": 4}");
    CHECK(sl_nn_esm_config_load(p, &c, &err) == SL_EDATA && strstr(err.msg, "num_attention_heads"));
    write_cfg(dir,
              "{\"model_type\": \"esm\", \"vocab_size\": 33, \"pad_token_id\": 1, \"token_dropout\": true}");
    CHECK(sl_nn_esm_config_load(p, &c, &err) == SL_EDATA && strstr(err.msg, "mask_token_id"));
    unsigned t;
    const char *dense[1] = {"dense"}, *ok[2] = {"query", "output.dense"};
    CHECK(sl_nn_esm_lora_targets(dense, 1, &t, &err) == SL_EUSAGE && strstr(err.msg, "classifier"));
    CHECK(sl_nn_esm_lora_targets(ok, 2, &t, &err) == 0 &&
          t == (1u << SL_NN_MOD_QUERY | 1u << SL_NN_MOD_ATTN_OUT | 1u << SL_NN_MOD_OUTPUT));
    free(p);
    sl_fs_remove_tree(dir, NULL);
    free(dir);
}

/* config.json files as published (field values of reference/formats.md §4.1 for DNABERT-2-117M and §5.1 for
 * facebook/esm2_t6_8M_UR50D) are recognised and read with the right sizes. */
static void test_published_configs(void) {
    char *dir = NULL, *p;
    sl_err err = {0};
    sl_nn_family f;
    sl_nn_bert_config c;
    CHECK_EQ_INT(sl_fs_mkdtemp(tmp_dir, "pub", &dir, &err), 0);
    p = sl_fs_join(dir, "config.json");
    write_cfg(
        dir,
        "{\"alibi_starting_size\": 512, \"attention_probs_dropout_prob\": 0.0, \"auto_map\": "
        "{\"AutoConfig\": \"configuration_bert.BertConfig\", \"AutoModel\": \"bert_layers.BertModel\", "
        "\"AutoModelForMaskedLM\": \"bert_layers.BertForMaskedLM\", \"AutoModelForSequenceClassification\": "
        "\"bert_layers.BertForSequenceClassification\"}, \"classifier_dropout\": null, \"hidden_act\": "
        "\"gelu\", \"hidden_dropout_prob\": 0.1, \"hidden_size\": 768, \"initializer_range\": 0.02, "
        "\"intermediate_size\": 3072, \"layer_norm_eps\": 1e-12, \"max_position_embeddings\": 512, "
        "\"num_attention_heads\": 12, \"num_hidden_layers\": 12, \"position_embedding_type\": "
        "\"absolute\", \"torch_dtype\": \"float32\", \"transformers_version\": \"4.28.0\", "
        "\"type_vocab_size\": 2, \"vocab_size\": 4096}");
    CHECK(sl_nn_model_family(p, &f, &err) == 0 && f == SL_NN_FAMILY_DNABERT2);
    if (sl_nn_model_config_load(p, &c, &err) == 0) {
        CHECK(c.hidden == 768 && c.layers == 12 && c.heads == 12 && c.intermediate == 3072 &&
              c.vocab_size == 4096);
        CHECK_NEAR(c.classifier_dropout, 0.1, 1e-7); /* null -> hidden_dropout_prob */
        CHECK(c.max_position > 512);                 /* ALiBi: no position table */
        sl_nn_bert_config_free(&c);
    } else {
        CHECK(0);
    }
    write_cfg(
        dir,
        "{\"architectures\": [\"EsmForMaskedLM\"], \"attention_probs_dropout_prob\": 0.0, "
        "\"emb_layer_norm_before\": false, \"esmfold_config\": null, \"hidden_act\": \"gelu\", "
        "\"hidden_dropout_prob\": 0.0, \"hidden_size\": 320, \"initializer_range\": 0.02, "
        "\"intermediate_size\": 1280, \"is_folding_model\": false, \"layer_norm_eps\": 1e-05, "
        "\"mask_token_id\": 32, \"max_position_embeddings\": 1026, \"model_type\": \"esm\", "
        "\"num_attention_heads\": 20, \"num_hidden_layers\": 6, \"pad_token_id\": 1, "
        "\"position_embedding_type\": \"rotary\", \"token_dropout\": true, \"torch_dtype\": \"float32\", "
        "\"use_cache\": true, \"vocab_list\": null, \"vocab_size\": 33}");
    sl_nn_esm_config ec;
    CHECK(sl_nn_model_family(p, &f, &err) == 0 && f == SL_NN_FAMILY_ESM);
    if (sl_nn_esm_config_load(p, &ec, &err) == 0) {
        CHECK(ec.b.hidden == 320 && ec.b.layers == 6 && ec.b.heads == 20 && ec.b.intermediate == 1280);
        CHECK(ec.rotary && ec.token_dropout && ec.mask_token_id == 32 && ec.b.pad_token_id == 1 &&
              !ec.gated_ffn);
        CHECK_NEAR(ec.b.ln_eps, 1e-5, 1e-12);
        sl_nn_bert_config_free(&ec.b);
    } else {
        CHECK(0);
    }
    free(p);
    sl_fs_remove_tree(dir, NULL);
    free(dir);
}

int main(void) {
    const char *t = getenv("SEQLORA_TEST_TMP");
    tmp_dir = strdup(t ? t : "/tmp");
    sl_fs_mkdirs(tmp_dir, NULL);
    RUN_TEST(test_rotary_transpose);
    RUN_TEST(test_swiglu_derivative);
    RUN_TEST(test_gradients);
    RUN_TEST(test_family_errors);
    RUN_TEST(test_published_configs);
    free(tmp_dir);
    return TEST_RESULT();
}
