/* Unit tests of the load/arena code the model families share (src/nn/family_common.h), on tiny in-memory
 * checkpoints: a family's checkpoint names (prefix, BERT's gamma/beta), the base table's order, shapes and
 * refusals with the tensor named, the trainable table's LoRA wiring and draw bounds, tensor names that do not
 * fit, the activation bump allocator. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/config_read.h"
#include "nn/family_common.h"
#include "nn/safetensors.h"
#include "test.h"
#include "util/fs.h"

/* An in-memory checkpoint "ckpt" holding the given 1-D / 2-D float tensors, values i + 100 * tensor. */
static sl_nn_st_file *make_ckpt(const char *const *names, const int64_t (*shapes)[2], size_t n) {
    sl_nn_st_wtensor ts[8];
    float *data[8];
    for (size_t i = 0; i < n; i++) {
        size_t numel = (size_t)shapes[i][0] * (size_t)(shapes[i][1] ? shapes[i][1] : 1);
        data[i] = malloc(numel * sizeof(float));
        for (size_t j = 0; j < numel; j++) data[i][j] = (float)(j + 100 * i);
        ts[i] = (sl_nn_st_wtensor){names[i], SL_NN_ST_F32, shapes[i][1] ? 2 : 1, shapes[i], data[i]};
    }
    void *buf = NULL;
    size_t len = 0;
    sl_err err = {0};
    sl_nn_st_file *st = NULL;
    if (sl_nn_st_serialize(ts, n, NULL, &buf, &len, &err) ||
        sl_nn_st_open_memory("ckpt", buf, len, &st, &err))
        fprintf(stderr, "make_ckpt: %s\n", err.msg);
    for (size_t i = 0; i < n; i++) free(data[i]);
    return st;
}

static void test_ckpt_names(void) {
    static const char *const names[] = {"bert.embeddings.LayerNorm.gamma", "encoder.w", "esm.x.bias"};
    static const int64_t shapes[][2] = {{4, 0}, {2, 3}, {4, 0}};
    sl_nn_st_file *st = make_ckpt(names, shapes, 3);
    CHECK(st != NULL);
    if (!st) return;
    sl_err err = {0};
    float v[6];
    const sl_nn_ckpt bert = {st, "bert.", 1}, esm = {st, "esm.", 0};
    /* BERT: the old gamma name under the prefix; a plain name without it */
    CHECK_EQ_INT(sl_nn_ckpt_read(&bert, "embeddings.LayerNorm.weight", 4, 0, v, &err), 0);
    CHECK_NEAR(v[3], 3, 0);
    CHECK_EQ_INT(sl_nn_ckpt_read(&bert, "encoder.w", 2, 3, v, &err), 0);
    CHECK_NEAR(v[5], 105, 0);
    CHECK(sl_nn_ckpt_has(&esm, "x.bias") && sl_nn_ckpt_has(&esm, "encoder.w") && !sl_nn_ckpt_has(&esm, "y"));
    /* without legacy names, gamma is not a weight */
    CHECK_EQ_INT(sl_nn_ckpt_read(&esm, "embeddings.LayerNorm.weight", 4, 0, v, &err), SL_EDATA);
    CHECK(strstr(err.msg, "no tensor esm.embeddings.LayerNorm.weight (expected shape [4])") != NULL);
    CHECK_EQ_INT(sl_nn_ckpt_read(&bert, "missing.bias", 4, 0, v, &err), SL_EDATA);
    CHECK(strstr(err.msg, "no tensor missing.bias (nor bert.missing.bias)") != NULL);
    /* a misshapen tensor is refused, naming it and both shapes */
    CHECK_EQ_INT(sl_nn_ckpt_read(&esm, "encoder.w", 3, 2, v, &err), SL_EDATA);
    CHECK(strstr(err.msg, "encoder.w") && strstr(err.msg, "[2, 3]") && strstr(err.msg, "[3, 2]"));
    sl_nn_st_close(st);
}

static void test_base_table(void) {
    static const char *const names[] = {"esm.a.weight", "esm.a.bias", "esm.c.bias"};
    static const int64_t shapes[][2] = {{2, 3}, {2, 0}, {2, 0}};
    sl_nn_st_file *st = make_ckpt(names, shapes, 3);
    CHECK(st != NULL);
    if (!st) return;
    const sl_nn_ckpt ck = {st, "esm.", 0};
    sl_err err = {0};
    float dummy = 0, *w = NULL, *b = NULL, *keep = NULL, *absent = &dummy, *mem = NULL;
    sl_nn_param *views = NULL;
    size_t nf = 0, nv = 0;
    /* READ a Linear, KEEP a tensor the family fills, ABSENT one the checkpoint lacks */
    sl_nn_tensor_table t = {.ck = &ck, .absent_why = "the config says so"};
    int rc = sl_nn_base_add_wb(&t, &w, &b, SL_NN_BASE_READ, 2, 3, &err, "%s", "a");
    if (!rc) rc = sl_nn_base_add(&t, &keep, SL_NN_BASE_KEEP, 5, 0, &err, "k");
    if (!rc) rc = sl_nn_base_add(&t, &absent, SL_NN_BASE_ABSENT, 2, 0, &err, "b.bias");
    CHECK_EQ_INT(sl_nn_base_table_finish(&t, rc, &mem, &nf, &views, &nv, &err), 0);
    CHECK_EQ_INT((int)nf, 6 + 2 + 5 + 2);
    CHECK_EQ_INT((int)nv, 4);
    CHECK(w == mem && b == mem + 6 && keep == mem + 8 && absent == NULL);
    if (w && b) CHECK(w[5] == 5 && b[1] == 101);
    if (views) {
        CHECK_EQ_STR(views[1].name, "esm.a.bias");
        CHECK_EQ_INT((int)views[2].offset, 8);
    }
    free(mem);
    free(views);
    /* an ABSENT tensor the checkpoint has is refused with the reason */
    sl_nn_tensor_table t2 = {.ck = &ck, .absent_why = "config.json says add_bias_fnn false"};
    rc = sl_nn_base_add(&t2, &absent, SL_NN_BASE_ABSENT, 2, 0, &err, "c.bias");
    CHECK_EQ_INT(sl_nn_base_table_finish(&t2, rc, &mem, &nf, NULL, NULL, &err), SL_EDATA);
    CHECK(strstr(err.msg, "ckpt: tensor esm.c.bias present but config.json says add_bias_fnn false") != NULL);
    free(mem);
    sl_nn_st_close(st);
}

typedef struct layer {
    float *w;
    float *lora_a[3], *lora_b[3], *glora_a[3], *glora_b[3];
} layer;

static void test_trainable_table(void) {
    layer ls[2] = {0};
    static const char *const paths[3] = {"q", "k", "ffn"};
    const int in[3] = {4, 4, 8}, out[3] = {4, 4, 2};
    const sl_nn_lora_spec spec = {.r = 2, .alpha = 4, .targets = 5}; /* q and ffn */
    float *head = NULL, *ghead = NULL, *tp = NULL, *tg = NULL;
    sl_nn_param *params = NULL;
    size_t np = 0, nt = 0;
    sl_err err = {0};
    sl_nn_tensor_table t = {0};
    int rc =
        sl_nn_param_table_add_lora(&t, "m.layer", 2, paths, 3, in, out, &spec, SL_NN_LORA_SLOTS(ls), &err);
    if (!rc) rc = sl_nn_param_table_add(&t, "m.head.weight", 3, 4, &head, &ghead, &err);
    CHECK_EQ_INT(sl_nn_param_table_finish(&t, rc, 7, &params, &np, &nt, &tp, &tg, &err), 0);
    CHECK_EQ_INT((int)np, 2 * 2 * 2 + 1);
    CHECK_EQ_INT((int)nt, 2 * (2 * 4 + 4 * 2 + 2 * 8 + 2 * 2) + 12);
    if (np == 9) {
        /* PEFT's order: layer by layer, kind by kind, A before B */
        CHECK_EQ_STR(params[0].name, "m.layer.0.q.lora_A.weight");
        CHECK_EQ_STR(params[3].name, "m.layer.0.ffn.lora_B.weight");
        CHECK_EQ_STR(params[4].name, "m.layer.1.q.lora_A.weight");
        CHECK(params[3].shape[0] == 2 && params[3].shape[1] == 2 && params[2].shape[1] == 8);
        CHECK(ls[1].lora_a[2] == tp + params[6].offset && ls[1].glora_b[2] == tg + params[7].offset);
        CHECK(ls[0].lora_a[1] == NULL && head == tp + params[8].offset && ghead == tg + params[8].offset);
        /* A within U(-1/sqrt(in), 1/sqrt(in)) and not all zero; B and the rest zero */
        int nonzero = 0, inside = 1;
        for (size_t j = 0; j < params[2].numel; j++) {
            float a = ls[0].lora_a[2][j];
            nonzero += a != 0;
            inside &= fabsf(a) <= 1.0f / sqrtf(8.0f);
        }
        CHECK(nonzero > 0 && inside);
        int zero = 1;
        for (size_t j = params[1].offset; j < params[2].offset; j++) zero &= tp[j] == 0;
        for (size_t j = params[8].offset; j < nt; j++) zero &= tp[j] == 0;
        CHECK(zero);
    }
    free(params);
    free(tp);
    free(tg);
}

static void test_names(void) {
    char name[16];
    sl_err err = {0};
    CHECK_EQ_INT(sl_nn_tensor_name(name, sizeof name, &err, "a.%d.b", 12), 0);
    CHECK_EQ_STR(name, "a.12.b");
    CHECK_EQ_INT(sl_nn_tensor_name(name, sizeof name, &err, "layer.%d.attention", 3), SL_EINTERNAL);
    CHECK(strstr(err.msg, "layer.3.attenti") && strstr(err.msg, "longer than 15 bytes"));
    /* a trainable name over the 159 bytes of sl_nn_param.name is refused, not cut */
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    sl_nn_tensor_table t = {0};
    float *v = NULL;
    CHECK_EQ_INT(sl_nn_param_table_add(&t, longname, 1, 0, &v, NULL, &err), SL_EINTERNAL);
    sl_nn_tensor_table_free(&t);
}

typedef struct acts {
    float *x, *y;
    uint64_t *bits, *bits2;
} acts;

static void layout(void *model, sl_nn_bump *b) {
    acts *a = model;
    a->x = sl_nn_bump_take(b, 3);
    a->bits = sl_nn_bump_bits(b, 2);
    a->y = sl_nn_bump_take(b, 1);
    a->bits2 = sl_nn_bump_bits(b, 1);
}

static void test_bump(void) {
    acts a = {0};
    float *mem = NULL;
    sl_err err = {0};
    CHECK_EQ_INT(sl_nn_bump_alloc(layout, &a, &mem, 1, 2, 3, &err), 0);
    CHECK(a.x == mem && (float *)(void *)a.bits == mem + 4 && a.y == mem + 8 &&
          (float *)(void *)a.bits2 == mem + 10);
    CHECK((uintptr_t)a.bits % 8 == 0 && (uintptr_t)a.bits2 % 8 == 0);
    free(mem);
    CHECK_EQ_INT(sl_nn_bump_alloc(layout, &a, &mem, 0, 2, 3, &err), SL_ENOMEM);
    CHECK(strstr(err.msg, "out of memory for activations (batch 2 x length 3)") != NULL && mem == NULL);
}

/* The LoRA target names of each family's layout: kinds by PEFT's suffix rule, the modules LoRA must not
 * reach and names matching nothing refused with the family's lists. */
static void test_lora_targets(void) {
    sl_err err = {0};
    unsigned t = 0;
    const char *q[] = {"query", "output.dense"}, *dense[] = {"dense"}, *wqkv[] = {"Wqkv", "wo"},
               *pool[] = {"pooler.dense"}, *foo[] = {"foo"};
    CHECK_EQ_INT(sl_nn_family_lora_targets(&sl_nn_bert_layout, q, 2, &t, &err), 0);
    CHECK_EQ_INT((int)t, (1 << 0) | (1 << 3) | (1 << 5)); /* output.dense: attention.output.dense too */
    CHECK_EQ_INT(sl_nn_family_lora_targets(&sl_nn_d2_layout, wqkv, 2, &t, &err), 0);
    CHECK_EQ_INT((int)t, (1 << 0) | (1 << 3));
    CHECK_EQ_INT(sl_nn_family_lora_targets(&sl_nn_bert_layout, pool, 1, &t, &err), SL_EUSAGE);
    CHECK(strstr(err.msg, "'pooler.dense' would also adapt bert.pooler.dense") != NULL);
    CHECK_EQ_INT(sl_nn_family_lora_targets(&sl_nn_esm_layout, dense, 1, &t, &err), SL_EUSAGE);
    CHECK(strstr(err.msg, "ESM classifier") != NULL);
    CHECK_EQ_INT(sl_nn_family_lora_targets(&sl_nn_d2_layout, foo, 1, &t, &err), SL_EUSAGE);
    CHECK(strstr(err.msg, "'foo' matches no Linear of the DNABERT-2 layers (expected Wqkv") != NULL);
    CHECK_EQ_INT(sl_nn_family_lora_targets(&sl_nn_d2_layout, foo, 0, &t, &err), SL_EUSAGE);
}

static const char *tmp_dir(const char *name) {
    static char dir[4096];
    const char *base = getenv("SEQLORA_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/family_common_%s", base ? base : "/tmp", name);
    sl_fs_mkdirs(dir, NULL);
    return dir;
}

/* adapter_config.json: a regex reaching layer 0 only is refused for DNABERT-2 as for BERT. */
static void test_adapter_config(void) {
    const char *dir = tmp_dir("cfg");
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    const char *one_layer = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": "
                            "\"bert\\\\.encoder\\\\.layer\\\\.0\\\\.attention\\\\.self\\\\.Wqkv\"}";
    sl_err err = {0};
    sl_nn_lora_spec spec;
    CHECK_EQ_INT(sl_fs_write_atomic(path, one_layer, strlen(one_layer), &err), 0);
    CHECK_EQ_INT(sl_nn_family_adapter_read_config(dir, &sl_nn_d2_layout, &spec, &err), SL_EDATA);
    CHECK(strstr(err.msg, "adapt attention.self.Wqkv in some layers only") != NULL);
    const char *list = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": "
                       "[\"Wqkv\"], \"modules_to_save\": [\"classifier\", \"pooler\"]}";
    CHECK_EQ_INT(sl_fs_write_atomic(path, list, strlen(list), &err), 0);
    CHECK_EQ_INT(sl_nn_family_adapter_read_config(dir, &sl_nn_d2_layout, &spec, &err), 0);
    CHECK(spec.targets == 1u && spec.r == 4 && spec.train_pooler && !strcmp(spec.target_names, "Wqkv"));
    CHECK_EQ_INT(sl_nn_family_adapter_read_config(dir, &sl_nn_bert_layout, &spec, &err), SL_EDATA);
    CHECK(strstr(err.msg, "target_modules match no Linear of the BERT layers") != NULL);
    /* a regex is matched against the family's own module names (PEFT writes esm.encoder.layer... for ESM) */
    const char *esm = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": "
                      "\"esm\\\\.encoder\\\\.layer\\\\.[0-9]+\\\\.attention\\\\.self\\\\.(query|value)\"}";
    CHECK_EQ_INT(sl_fs_write_atomic(path, esm, strlen(esm), &err), 0);
    CHECK_EQ_INT(sl_nn_family_adapter_read_config(dir, &sl_nn_esm_layout, &spec, &err), 0);
    CHECK(spec.targets == 5u && spec.target_regex);
    CHECK_EQ_INT(sl_nn_family_adapter_read_config(dir, &sl_nn_bert_layout, &spec, &err), SL_EDATA);
}

/* adapter_model.safetensors: every tensor of the model must be in the file, and every tensor of the file
 * (LoRA or head) must have a slot in the model. */
static void test_adapter_weights(void) {
    const char *dir = tmp_dir("w");
    sl_nn_param ps[2] = {{"base_model.model.x.lora_A.weight", 2, {2, 3}, 0, 6},
                         {"base_model.model.classifier.bias", 1, {2, 0}, 6, 2}};
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8] = {0};
    sl_nn_lora_spec spec = {.r = 2, .alpha = 4, .targets = 1};
    const char *paths[] = {"x"}, *mts[] = {"classifier"};
    sl_err err = {0};
    CHECK_EQ_INT(sl_nn_family_adapter_write(ps, 2, v, &spec, paths, 1, mts, 1, dir, NULL, &err), 0);
    CHECK_EQ_INT(sl_nn_family_adapter_load(ps, 2, back, dir, &err), 0);
    CHECK(!memcmp(v, back, sizeof v));
    CHECK_EQ_INT(sl_nn_family_adapter_load(ps, 1, back, dir, &err), SL_EDATA);
    CHECK(strstr(err.msg, "tensor base_model.model.classifier.bias has no counterpart in this model") !=
          NULL);
    sl_nn_param other = {"base_model.model.y.lora_A.weight", 2, {2, 3}, 0, 6};
    CHECK_EQ_INT(sl_nn_family_adapter_load(&other, 1, back, dir, &err), SL_EDATA);
    CHECK(strstr(err.msg, "no tensor base_model.model.y.lora_A.weight (the adapter does not match") != NULL);
}

/* config.json's head, the same for every family. */
static void test_cfg_head(void) {
    sl_err err = {0};
    sl_nn_bert_config c = {0};
    json_t *o = json_loads("{\"num_labels\": 200000}", 0, NULL);
    CHECK_EQ_INT(sl_nn_cfg_head(o, "c.json", &c, &err), SL_EDATA);
    CHECK(strstr(err.msg, "c.json: 200000 labels (num_labels or id2label) is more than 100000") != NULL);
    json_decref(o);
    o = json_loads("{\"id2label\": {\"0\": \"a\", \"1\": 3}}", 0, NULL);
    CHECK_EQ_INT(sl_nn_cfg_head(o, "c.json", &c, &err), SL_EDATA);
    CHECK(strstr(err.msg, "field 'id2label': no string label for id 1") != NULL);
    json_decref(o);
    o = json_loads("{\"num_labels\": 3, \"problem_type\": 7}", 0, NULL);
    CHECK_EQ_INT(sl_nn_cfg_head(o, "c.json", &c, &err), SL_EDATA);
    CHECK(strstr(err.msg, "field 'problem_type': expected a string") != NULL);
    json_decref(o);
    o = json_loads("{\"id2label\": {\"0\": \"neg\", \"1\": \"pos\"}, \"problem_type\": "
                   "\"multi_label_classification\"}",
                   0, NULL);
    CHECK_EQ_INT(sl_nn_cfg_head(o, "c.json", &c, &err), 0);
    CHECK(c.num_labels == 2 && !strcmp(c.labels[1], "pos") && c.problem == SL_NN_MULTI_LABEL &&
          c.has_problem_type);
    json_decref(o);
    sl_nn_bert_config_free(&c);
}

int main(void) {
    RUN_TEST(test_ckpt_names);
    RUN_TEST(test_base_table);
    RUN_TEST(test_trainable_table);
    RUN_TEST(test_names);
    RUN_TEST(test_bump);
    RUN_TEST(test_lora_targets);
    RUN_TEST(test_adapter_config);
    RUN_TEST(test_adapter_weights);
    RUN_TEST(test_cfg_head);
    return TEST_RESULT();
}
