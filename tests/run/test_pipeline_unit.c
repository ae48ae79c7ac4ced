/* Unit tests of the `seqlora run` internals (src/cli/pipeline*.c) that need no model:
 * config validation messages and defaults, baseline tables (rank with ties, Laplace rates), the stage wiring
 * of both modes, and the init-model spec checks. The numbers expected here are worked out by hand from the
 * definitions in pipeline.h (ranks, smoothed rates), not copied from the program's output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/pipeline.h"
#include "nn/init_model.h"
#include "test.h"
#include "util/fs.h"

static const char *tmpdir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("SEQLORA_TEST_TMP");
        snprintf(dir, sizeof dir, "%s/pipeline_unit", t && *t ? t : "/tmp");
        sl_err e;
        sl_fs_mkdirs(dir, &e);
    }
    return dir;
}

static char *write_tmp(const char *name, const char *text) {
    char *p = sl_fs_join(tmpdir(), name);
    sl_err e;
    if (sl_fs_write_atomic(p, text, strlen(text), &e)) {
        free(p);
        return NULL;
    }
    return p;
}

/* Check a config text: expect rc, and (when rc != 0) the message to contain `needle`. */
static void check_config(const char *text, int want_rc, const char *needle) {
    sl_err e;
    sl_err_clear(&e);
    json_error_t je;
    json_t *user = json_loads(text, 0, &je);
    CHECK(user != NULL);
    json_t *out = NULL;
    int rc = sl_pipeline_config_check(user, "cfg.json", "/base", &out, &e);
    CHECK_EQ_INT(rc, want_rc);
    if (rc && needle && !strstr(e.msg, needle)) {
        fprintf(stderr, "message '%s' does not contain '%s'\n", e.msg, needle);
        CHECK(0);
    }
    CHECK((rc == 0) == (out != NULL));
    json_decref(out);
    json_decref(user);
}

static void test_config(void) {
    const char *ok = "{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}}";
    check_config(ok, 0, NULL);
    check_config("{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"trian\": {}}", SL_EUSAGE,
                 "unknown key 'trian'");
    check_config("{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"train\": {\"lr\": \"x\"}}",
                 SL_EUSAGE, "train.lr: expected a number, got a string");
    check_config(
        "{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"split\": {\"test_fraction\": 1.5}}",
        SL_EUSAGE, "split.test_fraction: expected a value in [0.01, 0.99], got 1.5");
    check_config("{\"data\": {\"reference\": \"r.fa\"}}", SL_EUSAGE, "data.variants: required");
    check_config("[]", SL_EUSAGE, "expected a JSON object");
    check_config(
        "{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"base\": {\"pretrain\": {}}}", 0,
        NULL);
    check_config("{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"base\": {\"pretrain\": "
                 "{\"epoch\": 2}}}",
                 SL_EUSAGE, "unknown key 'base.pretrain.epoch'");
    check_config("{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"base\": {\"pretrain\": "
                 "{\"init\": {\"hidden_size\": 30, \"num_attention_heads\": 4}}}}",
                 SL_EUSAGE, "base.pretrain.init.hidden_size: expected a multiple of num_attention_heads");
    check_config("{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"base\": {\"train\": {}}}",
                 SL_EUSAGE, "unknown key 'train' (expected \"init\" or \"pretrain\")");
    check_config("{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"base\": {\"init\": "
                 "{\"hidden_size\": 30, \"num_attention_heads\": 4}}}",
                 SL_EUSAGE, "base.init.hidden_size: expected a multiple of num_attention_heads");

    /* defaults and paths */
    json_t *d = sl_pipeline_config_defaults();
    CHECK(d != NULL);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(json_object_get(d, "lora"), "r")), 16);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(d, "train"), "lr")), 3e-4, 1e-15);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(json_object_get(d, "train"), "max_length")), 512);
    json_decref(d);
    json_t *user = json_loads(ok, 0, NULL), *out = NULL;
    sl_err e;
    CHECK_EQ_INT(sl_pipeline_config_check(user, "cfg.json", "/base", &out, &e), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(out, "data"), "reference")), "/base/r.fa");
    json_decref(user);
    json_decref(out);

    /* the embedded demo config is a valid config */
    user = json_loads(sl_pipeline_demo_config(), 0, NULL);
    CHECK(user != NULL);
    CHECK_EQ_INT(sl_pipeline_config_check(user, "demo", "/d", &out, &e), 0);
    json_decref(user);
    json_decref(out);
}

static void test_score_baseline(void) {
    /* scores 5, 1, 3, 3, NA, 9: ranks among the 5 valued rows (ties averaged): 4, 1, 2.5, 2.5, 5 →
     * (rank-1)/(n-1) = 0.75, 0, 0.375, 0.375, 1 */
    char *in = write_tmp("score.tsv", "id\tsequence\tlabel\tcadd\n"
                                      "a\tACG\tLOF\t5\nb\tACG\tFUNC\t1\nc\tACG\tFUNC\t3\nd\tACG\tLOF\t3\n"
                                      "e\tACG\tLOF\tNA\nf\tACG\tLOF\t9\n");
    char *out = sl_fs_join(tmpdir(), "score.pred.tsv");
    const char *cls[2] = {"FUNC", "LOF"};
    size_t dropped = 99;
    sl_err e;
    CHECK_EQ_INT(sl_pipeline_score_baseline(in, "cadd", cls, out, &dropped, &e), 0);
    CHECK_EQ_INT((int)dropped, 1);
    char *text = NULL;
    size_t len = 0;
    CHECK_EQ_INT(sl_fs_read_all(out, &text, &len, &e), 0);
    CHECK_EQ_STR(text, "id\tlabel\tprob_FUNC\tprob_LOF\n"
                       "a\tLOF\t0.25\t0.75\nb\tFUNC\t1\t0\nc\tFUNC\t0.625\t0.375\nd\tLOF\t0.625\t0.375\n"
                       "f\tLOF\t0\t1\n");
    free(text);
    /* a value that is not a number is an error naming the line and column */
    char *bad = write_tmp("score_bad.tsv", "id\tsequence\tlabel\tcadd\na\tA\tLOF\t5\nb\tA\tFUNC\tx1\n");
    CHECK_EQ_INT(sl_pipeline_score_baseline(bad, "cadd", cls, out, &dropped, &e), SL_EDATA);
    CHECK(strstr(e.msg, ":3:") != NULL && strstr(e.msg, "'cadd'") != NULL);
    CHECK_EQ_INT(sl_pipeline_score_baseline(in, "nope", cls, out, &dropped, &e), SL_EDATA);
    CHECK(strstr(e.msg, "no column 'nope'") != NULL);
    free(bad);
    free(in);
    free(out);
}

static void test_category_baseline(void) {
    /* training: Nonsense LOF LOF FUNC; Missense FUNC FUNC FUNC LOF → P(LOF|Nonsense) = (2+1)/(3+2) = 0.6,
     * P(LOF|Missense) = (1+1)/(4+2) = 1/3, unseen (Synonymous): overall (3+1)/(7+2) = 4/9 */
    char *tr = write_tmp("cat_train.tsv", "id\tsequence\tlabel\tconsequence\n"
                                          "1\tA\tLOF\tNonsense\n2\tA\tLOF\tNonsense\n3\tA\tFUNC\tNonsense\n"
                                          "4\tA\tFUNC\tMissense\n5\tA\tFUNC\tMissense\n6\tA\tFUNC\tMissense\n"
                                          "7\tA\tLOF\tMissense\n");
    char *te =
        write_tmp("cat_test.tsv", "id\tsequence\tlabel\tconsequence\n"
                                  "x\tA\tLOF\tNonsense\ny\tA\tFUNC\tMissense\nz\tA\tFUNC\tSynonymous\n");
    char *out = sl_fs_join(tmpdir(), "cat.pred.tsv");
    const char *cls[2] = {"FUNC", "LOF"};
    sl_err e;
    CHECK_EQ_INT(sl_pipeline_category_baseline(tr, te, "consequence", cls, 2, out, &e), 0);
    char *text = NULL;
    size_t len = 0;
    CHECK_EQ_INT(sl_fs_read_all(out, &text, &len, &e), 0);
    CHECK_EQ_STR(text,
                 "id\tlabel\tprob_FUNC\tprob_LOF\n"
                 "x\tLOF\t0.4\t0.6\ny\tFUNC\t0.666666667\t0.333333333\nz\tFUNC\t0.555555556\t0.444444444\n");
    free(text);
    char **labels = NULL;
    size_t n = 0;
    CHECK_EQ_INT(sl_pipeline_dataset_labels(tr, &labels, &n, &e), 0);
    CHECK_EQ_INT((int)n, 2);
    if (n == 2) {
        CHECK_EQ_STR(labels[0], "FUNC");
        CHECK_EQ_STR(labels[1], "LOF");
    }
    for (size_t i = 0; i < n; i++) free(labels[i]);
    free(labels);
    free(tr);
    free(te);
    free(out);
}

static const char *stage_step(const sl_pipeline *p, size_t i) {
    return p->stages[i].kind == SL_PIPE_STEP ? p->stages[i].step : "(baseline)";
}

/* base.pretrain: init_model -> pretrain (init_from = init_model's model, fasta = data.reference or
 * base.pretrain.fasta) -> train/evaluate/package on the pretrained model */
static void test_build_pretrain(void) {
    sl_err e;
    json_t *user = json_loads(
               "{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, \"kmer\": {\"k\": 4}, "
               "\"base\": {\"pretrain\": {\"epochs\": 3, \"init\": {\"hidden_size\": 32}}}}",
               0, NULL),
           *cfg = NULL;
    CHECK_EQ_INT(sl_pipeline_config_check(user, "c", "/b", &cfg, &e), 0);
    sl_pipeline p;
    CHECK_EQ_INT(sl_pipeline_build(cfg, "/out", &p, &e), 0);
    static const char *const want[] = {"kmerize",    "split",    "split",      "init_model",
                                       "pretrain",   "train",    "evaluate",   "package",
                                       "(baseline)", "evaluate", "(baseline)", "evaluate"};
    CHECK_EQ_INT((int)p.n, 12);
    for (size_t i = 0; i < p.n && i < 12; i++) CHECK_EQ_STR(stage_step(&p, i), want[i]);
    CHECK(p.pretrained && !p.random_base);
    CHECK_EQ_INT((int)p.i_pretrain, 4);
    const sl_pipe_stage *pt = &p.stages[4];
    CHECK_EQ_STR(pt->in[0].role, "fasta");
    CHECK_EQ_STR(pt->in[0].path, "/b/r.fa");
    CHECK_EQ_STR(pt->in[1].role, "init_from");
    CHECK_EQ_INT(pt->in[1].from, 3);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(pt->params, "epochs")), 3);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(pt->params, "kmer")), 4);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(p.stages[3].params, "hidden_size")), 32);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(p.stages[3].params, "kmer")), 4);
    CHECK(json_object_get(pt->params, "init") == NULL && json_object_get(pt->params, "fasta") == NULL);
    CHECK_EQ_INT(p.stages[p.i_train].in[0].from, 4);
    CHECK_EQ_INT(p.stages[p.i_eval_model].in[0].from, 4);
    CHECK_EQ_INT(p.stages[p.i_package].in[0].from, 4);
    sl_pipeline_free(&p);
    json_decref(user);
    json_decref(cfg);
    user = json_loads("{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}, "
                      "\"base\": {\"pretrain\": {\"fasta\": \"g.fa.gz\"}}}",
                      0, NULL);
    CHECK_EQ_INT(sl_pipeline_config_check(user, "c", "/b", &cfg, &e), 0);
    CHECK_EQ_INT(sl_pipeline_build(cfg, "/out", &p, &e), 0);
    CHECK_EQ_STR(p.stages[p.i_pretrain].in[0].path, "/b/g.fa.gz");
    sl_pipeline_free(&p);
    json_decref(user);
    json_decref(cfg);
}

static void test_build(void) {
    sl_err e;
    json_t *user = json_loads("{\"data\": {\"reference\": \"r.fa\", \"variants\": \"v.vcf\"}}", 0, NULL),
           *cfg = NULL;
    CHECK_EQ_INT(sl_pipeline_config_check(user, "c", "/b", &cfg, &e), 0);
    sl_pipeline p;
    CHECK_EQ_INT(sl_pipeline_build(cfg, "/out", &p, &e), 0);
    static const char *const want[] = {"kmerize",  "split",      "split",   "init_model",
                                       "train",    "evaluate",   "package", "(baseline)",
                                       "evaluate", "(baseline)", "evaluate"};
    CHECK_EQ_INT((int)p.n, 11);
    for (size_t i = 0; i < p.n && i < 11; i++) CHECK_EQ_STR(stage_step(&p, i), want[i]);
    /* train reads the validation split's train.tsv and eval from its test.tsv, the base from init_model */
    const sl_pipe_stage *t = &p.stages[p.i_train];
    CHECK_EQ_INT(t->in[0].from, 3);
    CHECK_EQ_INT(t->in[1].from, (int)p.i_split_val);
    CHECK_EQ_STR(t->in[1].output, "train.tsv");
    CHECK_EQ_STR(t->in[2].output, "test.tsv");
    CHECK_EQ_INT((int)json_integer_value(json_object_get(t->params, "lora_r")), 16);
    CHECK_EQ_STR(json_string_value(json_object_get(t->params, "target_modules")), "query,value");
    CHECK(p.random_base);
    sl_pipeline_free(&p);
    json_decref(user);
    json_decref(cfg);

    /* sample mode with sexcheck, without validation split, with a base path */
    user = json_loads(
        "{\"data\": {\"mode\": \"sample\", \"reference\": \"r.fa\", \"vcf\": \"c.vcf\", "
        "\"clinical\": \"c.tsv\", \"region\": \"chr17:1-100\"}, \"sexcheck\": {\"enabled\": true},"
        " \"split\": {\"validation_fraction\": 0, \"group_by\": null}, \"base\": \"/m/dnabert\","
        " \"baselines\": {\"scores\": null, \"category\": null}, \"package\": {\"enabled\": false}}",
        0, NULL);
    CHECK_EQ_INT(sl_pipeline_config_check(user, "c", "/b", &cfg, &e), 0);
    CHECK_EQ_INT(sl_pipeline_build(cfg, "/out", &p, &e), 0);
    static const char *const want2[] = {"sexcheck", "clean", "clinical", "kmerize",
                                        "split",    "train", "evaluate"};
    CHECK_EQ_INT((int)p.n, 7);
    for (size_t i = 0; i < p.n && i < 7; i++) CHECK_EQ_STR(stage_step(&p, i), want2[i]);
    CHECK(!p.random_base);
    CHECK(!p.pretrained);
    CHECK(p.i_pretrain == SIZE_MAX);
    CHECK_EQ_STR(p.stages[1].in[1].role, "sex_table");
    CHECK_EQ_STR(p.stages[3].in[0].output, "clean.vcf.gz");
    CHECK_EQ_STR(p.stages[p.i_train].in[0].path, "/m/dnabert");
    CHECK(json_object_get(p.stages[p.i_train].params, "metric") == NULL); /* no validation set: no metric */
    sl_pipeline_free(&p);
    json_decref(user);
    json_decref(cfg);
}

static void test_init_spec(void) {
    sl_nn_init_spec s;
    sl_nn_init_spec_default(&s);
    sl_err e;
    CHECK_EQ_INT(sl_nn_init_spec_check(&s, &e), 0);
    s.hidden = 30;
    CHECK_EQ_INT(sl_nn_init_spec_check(&s, &e), SL_EUSAGE);
    sl_nn_init_spec_default(&s);
    s.kmer = 9;
    CHECK_EQ_INT(sl_nn_init_spec_check(&s, &e), SL_EUSAGE);
    CHECK(strstr(e.msg, "kmer") != NULL);
}

int main(void) {
    RUN_TEST(test_config);
    RUN_TEST(test_score_baseline);
    RUN_TEST(test_category_baseline);
    RUN_TEST(test_build);
    RUN_TEST(test_build_pretrain);
    RUN_TEST(test_init_spec);
    return TEST_RESULT();
}
