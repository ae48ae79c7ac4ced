/* adapter_config.json: defaults, a config built in code written and read back, scaling, target matching,
 * and refused files. Parity with PEFT is in test_peft_config_peer.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/peft_config.h"
#include "test.h"
#include "util/fs.h"

static char tmpdir[4096];

static void test_roundtrip(void) {
    sl_nn_peft_config c;
    sl_err err;
    CHECK_EQ_INT(sl_nn_peft_config_init(&c, &err), 0);
    CHECK_EQ_INT(c.r, 8);
    c.r = 16;
    c.lora_alpha = 32;
    c.lora_dropout = 0.1;
    c.inference_mode = 1;
    c.task_type = strdup("SEQ_CLS");
    c.base_model_name_or_path = strdup("zhihan1996/DNA_bert_6");
    const char *targets[] = {"query", "value"}, *save[] = {"classifier", "score"};
    CHECK_EQ_INT(sl_nn_peft_config_set_list(&c.target_modules, &c.n_target_modules, targets, 2, &err), 0);
    CHECK_EQ_INT(sl_nn_peft_config_set_list(&c.modules_to_save, &c.n_modules_to_save, save, 2, &err), 0);
    CHECK_NEAR(sl_nn_peft_config_scaling(&c), 2.0, 1e-15);
    c.use_rslora = 1;
    CHECK_NEAR(sl_nn_peft_config_scaling(&c), 8.0, 1e-15);
    c.use_rslora = 0;
    char *path = sl_fs_join(tmpdir, "adapter_config.json");
    CHECK_EQ_INT(sl_nn_peft_config_write(path, &c, &err), 0);
    sl_nn_peft_config d;
    CHECK_EQ_INT(sl_nn_peft_config_read(path, &d, &err), 0);
    CHECK_EQ_INT(d.r, 16);
    CHECK_NEAR(d.lora_alpha, 32, 0);
    CHECK_NEAR(d.lora_dropout, 0.1, 0);
    CHECK_EQ_INT(d.n_target_modules, 2);
    CHECK_EQ_STR(d.target_modules[1], "value");
    CHECK_EQ_STR(d.task_type, "SEQ_CLS");
    CHECK_EQ_STR(d.init_lora_weights, "true");
    CHECK(d.inference_mode == 1 && d.layers_to_transform == NULL);
    /* the text is PEFT's: sorted keys, two-space indent, no trailing newline */
    char *text;
    size_t len;
    CHECK_EQ_INT(sl_fs_read_all(path, &text, &len, &err), 0);
    CHECK(len > 2 && text[0] == '{' && text[len - 1] == '}');
    CHECK(strstr(text, "{\n  \"alpha_pattern\": {},\n  \"auto_mapping\": null,\n") == text);
    CHECK(strstr(text, "\"lora_dropout\": 0.1,\n") != NULL);
    free(text);
    /* targets: list matching on dotted suffixes, modules_to_save excluded, layers_to_transform */
    CHECK(sl_nn_peft_config_targets(&d, "bert.encoder.layer.0.attention.self.query"));
    CHECK(!sl_nn_peft_config_targets(&d, "bert.encoder.layer.0.attention.self.xquery"));
    CHECK(!sl_nn_peft_config_targets(&d, "bert.encoder.layer.0.attention.self.key"));
    int layers[] = {1};
    d.layers_to_transform = malloc(sizeof layers);
    memcpy(d.layers_to_transform, layers, sizeof layers);
    d.n_layers_to_transform = 1;
    CHECK(!sl_nn_peft_config_targets(&d, "bert.encoder.layer.0.attention.self.query"));
    CHECK(sl_nn_peft_config_targets(&d, "bert.encoder.layer.1.attention.self.value"));
    sl_nn_peft_config_free(&d);
    /* invalid configs are not written */
    c.r = 0;
    char *bad = sl_fs_join(tmpdir, "bad.json");
    CHECK_EQ_INT(sl_nn_peft_config_write(bad, &c, &err), SL_EUSAGE);
    CHECK(!sl_fs_exists(bad));
    free(bad);
    sl_nn_peft_config_free(&c);
    free(path);
}

static void expect_refused(const char *json, int code, const char *want) {
    char *path = sl_fs_join(tmpdir, "cfg.json");
    sl_err err;
    sl_fs_write_atomic(path, json, strlen(json), &err);
    sl_nn_peft_config c;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_nn_peft_config_read(path, &c, &err), code);
    if (!strstr(err.msg, want)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, want);
        test_failures++;
    }
    sl_nn_peft_config_free(&c);
    free(path);
}

static void test_refused(void) {
    expect_refused("{\"r\": 8}", SL_EDATA, "peft_type");
    expect_refused("{\"peft_type\": \"LORA\", \"r\": -1}", SL_EDATA, "\"r\"");
    expect_refused("{\"peft_type\": \"LORA\", \"use_dora\": true}", SL_EDATA, "use_dora");
    expect_refused("{\"peft_type\": \"LORA\", \"lora_alpha\": \"x\"}", SL_EDATA, "lora_alpha");
    expect_refused("{\"peft_type\": \"LORA\", \"rank_pattern\": {\"q\": 1.5}}", SL_EDATA, "rank_pattern");
    expect_refused("{\"peft_type\": \"LORA\", \"r\": 8, \"r\": 4}", SL_EDATA, "duplicate");
    expect_refused("[1]", SL_EDATA, "JSON object");
    char *missing = sl_fs_join(tmpdir, "none.json");
    sl_nn_peft_config c;
    sl_err err;
    CHECK_EQ_INT(sl_nn_peft_config_read(missing, &c, &err), SL_ENOTFOUND);
    sl_nn_peft_config_free(&c);
    free(missing);
}

int main(void) {
    const char *base = getenv("SEQLORA_TEST_TMP");
    if (!base) base = "/tmp";
    sl_err err;
    sl_fs_mkdirs(base, &err);
    char *dir = NULL;
    if (sl_fs_mkdtemp(base, "peft-", &dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s", dir);
    RUN_TEST(test_roundtrip);
    RUN_TEST(test_refused);
    sl_fs_remove_tree(dir, &err);
    free(dir);
    return TEST_RESULT();
}
