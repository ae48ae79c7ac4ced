/* Unit tests of the store and the runner, in-process: network-FS decision, index location, action keys,
 * records, blobs (zstd and raw), trees, the runner (miss, hit, resume, sha256: inputs), map growth. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "runner.h"
#include "store/store.h"
#include "test.h"
#include "test_steps.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

static char tmproot[4096];

static char *tpath(const char *rel) {
    return sl_fs_join(tmproot, rel);
}

static void write_file(const char *path, const char *text) {
    sl_err e;
    char *dir = sl_fs_dirname(path);
    sl_fs_mkdirs(dir, &e);
    free(dir);
    CHECK(sl_fs_write_atomic(path, text, strlen(text), &e) == 0);
}

static char *read_file(const char *path) {
    char *d = NULL;
    sl_err e;
    if (sl_fs_read_all(path, &d, NULL, &e)) return NULL;
    return d;
}

static void test_netfs(void) {
    const char *name = NULL;
    CHECK_EQ_INT(sl_store_fs_is_network(0x6969, &name), 1);
    CHECK_EQ_STR(name, "nfs");
    CHECK_EQ_INT(sl_store_fs_is_network(0x0BD00BD0, &name), 1);
    CHECK_EQ_STR(name, "lustre");
    CHECK_EQ_INT(sl_store_fs_is_network(0x47504653, &name), 1);
    CHECK_EQ_STR(name, "gpfs");
    CHECK_EQ_INT(sl_store_fs_is_network(0x19830326, &name), 1);
    CHECK_EQ_STR(name, "beegfs");
    CHECK_EQ_INT(sl_store_fs_is_network(0x00C36400, &name), 1);
    CHECK_EQ_STR(name, "cephfs");
    CHECK_EQ_INT(sl_store_fs_is_network(0xFF534D42, NULL), 1);
    CHECK_EQ_INT(sl_store_fs_is_network(0xEF53, &name), 0); /* ext4 */
    CHECK_EQ_STR(name, "local");
    CHECK_EQ_INT(sl_store_fs_is_network(0x58465342, NULL), 0); /* xfs */
    CHECK_EQ_INT(sl_store_fs_is_network(0x01021994, NULL), 0); /* tmpfs */
    /* f_type is a signed long on some ABIs: a sign-extended magic still matches */
    CHECK_EQ_INT(sl_store_fs_is_network((unsigned long)(long)(int)0xFF534D42, NULL), 1);

    char *p = sl_store_index_location("/lustre/proj/store", 1, NULL, "/local/tmp", 1000);
    CHECK(p && !strncmp(p, "/local/tmp/seqlora-index-1000/", 30) && strlen(p) == 30 + 16);
    char *q = sl_store_index_location("/lustre/proj/store", 1, "", NULL, 1000);
    CHECK(q && !strncmp(q, "/tmp/seqlora-index-1000/", 24) && !strcmp(q + 24, p + 30));
    free(q);
    q = sl_store_index_location("/lustre/proj/store", 0, "/scratch/idx", NULL, 7);
    CHECK(q && !strncmp(q, "/scratch/idx/", 13) && !strcmp(q + 13, p + 30));
    free(q);
    q = sl_store_index_location("/home/u/store", 0, NULL, "/x", 7);
    CHECK_EQ_STR(q, "/home/u/store/index");
    free(q);
    q = sl_store_index_location("/lustre/proj/other", 1, NULL, "/local/tmp", 1000);
    CHECK(q && strcmp(q, p)); /* another store, another index */
    free(q);
    free(p);
}

static void test_keys(void) {
    sl_err e;
    char k1[65], k2[65], k3[65], k4[65];
    json_t *p1 =
        json_loads("{\"k\":21,\"alpha\":0.5,\"name\":\"x\",\"nested\":{\"b\":1,\"a\":[1,2]}}", 0, NULL);
    json_t *p2 =
        json_loads("{\"nested\":{\"a\":[1,2],\"b\":1},\"name\":\"x\",\"alpha\":0.5,\"k\":21}", 0, NULL);
    json_t *p3 =
        json_loads("{\"k\":22,\"alpha\":0.5,\"name\":\"x\",\"nested\":{\"b\":1,\"a\":[1,2]}}", 0, NULL);
    json_t *in = json_loads("{\"vcf\":[\""
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "\"]}",
                            0, NULL);
    CHECK(sl_store_action_key("clean", 1, p1, in, k1, &e) == 0);
    CHECK(sl_store_action_key("clean", 1, p2, in, k2, &e) == 0);
    CHECK(sl_store_action_key("clean", 1, p3, in, k3, &e) == 0);
    CHECK(sl_store_action_key("clean", 2, p1, in, k4, &e) == 0);
    CHECK_EQ_STR(k1, k2);
    CHECK(strcmp(k1, k3) != 0);
    CHECK(strcmp(k1, k4) != 0);
    /* the key is the SHA-256 of this exact canonical text (docs/store.md) */
    const char *canon =
        "{\"inputs\":{\"vcf\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]},"
        "\"params\":{\"alpha\":0.5,\"k\":21,\"name\":\"x\",\"nested\":{\"a\":[1,2],\"b\":1}},"
        "\"schema\":1,\"step\":\"clean\",\"version\":1}";
    uint8_t d[32];
    char hex[65];
    sl_sha256_buf(canon, strlen(canon), d);
    sl_sha256_to_hex(d, hex);
    CHECK_EQ_STR(k1, hex);
    json_t *bad = json_loads("{\"vcf\":[\"nothex\"]}", 0, NULL);
    CHECK(sl_store_action_key("clean", 1, p1, bad, k4, &e) == SL_EDATA);
    json_decref(bad);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    json_decref(in);
}

static void test_blobs(void) {
    sl_err e;
    sl_store *s = NULL;
    char *root = tpath("blobs-store");
    CHECK(sl_store_open(root, &s, &e) == 0);
    if (!s) return;
    /* plain text → zstd; the digest is that of the raw bytes */
    const char *text = "ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\n";
    char hex[65], hex2[65];
    sl_store_blob_info info;
    CHECK(sl_store_put_buf(s, text, strlen(text), hex, &info, &e) == 0);
    uint8_t d[32];
    char want[65];
    sl_sha256_buf(text, strlen(text), d);
    sl_sha256_to_hex(d, want);
    CHECK_EQ_STR(hex, want);
    CHECK_EQ_INT(info.codec, SL_STORE_CODEC_ZSTD);
    CHECK_EQ_INT(info.size, strlen(text));
    CHECK(info.stored < info.size);
    /* the same content again: same digest, still one blob */
    CHECK(sl_store_put_buf(s, text, strlen(text), hex2, NULL, &e) == 0);
    CHECK_EQ_STR(hex, hex2);
    char *back = NULL;
    size_t len = 0;
    CHECK(sl_store_read_blob_mem(s, hex, &back, &len, &e) == 0);
    CHECK(back && len == strlen(text) && !memcmp(back, text, len));
    free(back);
    /* an empty blob */
    CHECK(sl_store_put_buf(s, "", 0, hex2, &info, &e) == 0);
    CHECK_EQ_STR(hex2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sl_store_read_blob_mem(s, hex2, &back, &len, &e) == 0 && len == 0);
    free(back);
    /* gzip input is stored raw: the blob file holds exactly the input bytes */
    char *gz = tpath("in.txt.gz");
    gzFile g = gzopen(gz, "wb");
    gzputs(g, text);
    gzclose(g);
    CHECK(sl_store_put_file(s, gz, hex2, &info, &e) == 0);
    CHECK_EQ_INT(info.codec, SL_STORE_CODEC_RAW);
    char *bp = sl_store_blob_path(s, hex2);
    uint8_t d1[32], d2[32];
    uint64_t n1, n2;
    CHECK(sl_sha256_file(gz, d1, &n1, &e) == 0 && sl_sha256_file(bp, d2, &n2, &e) == 0);
    CHECK(!memcmp(d1, d2, 32) && n1 == n2);
    /* materialise byte-identical */
    char *m = tpath("materialised.gz");
    CHECK(sl_store_materialise_file(s, hex2, m, &e) == 0);
    CHECK(sl_sha256_file(m, d2, &n2, &e) == 0 && !memcmp(d1, d2, 32));
    /* a missing blob */
    CHECK(sl_store_read_blob(s, "0000000000000000000000000000000000000000000000000000000000000000", NULL,
                             NULL, &e) == SL_ENOTFOUND);
    free(m);
    free(bp);
    free(gz);
    sl_store_close(s);
    free(root);
}

static void test_records(void) {
    sl_err e;
    sl_store *s = NULL;
    char *root = tpath("rec-store");
    CHECK(sl_store_open(root, &s, &e) == 0);
    if (!s) return;
    char blob[65], key[65];
    CHECK(sl_store_put_buf(s, "hello\n", 6, blob, NULL, &e) == 0);
    json_t *params = json_pack("{s:i}", "n", 3);
    json_t *inputs = json_pack("{s:[s]}", "x", blob);
    CHECK(sl_store_action_key("demo", 1, params, inputs, key, &e) == 0);
    json_t *rec = json_pack("{s:i, s:s, s:s, s:i, s:O, s:O, s:{s:{s:s, s:i, s:s}}, s:i}", "schema", 1, "key",
                            key, "step", "demo", "version", 1, "params", params, "inputs", inputs, "outputs",
                            "o", "digest", blob, "size", 6, "type", "file", "exit_status", 0);
    CHECK(sl_store_record_put(s, rec, 0, &e) == 0);
    json_t *got = NULL;
    CHECK(sl_store_record_get(s, key, &got, &e) == 0);
    CHECK(got && json_equal(got, rec));
    json_decref(got);
    /* tamper: a changed parameter breaks the checksum, and with the checksum redone, the key */
    json_t *bad = json_deep_copy(rec);
    json_object_set_new(json_object_get(bad, "params"), "n", json_integer(4));
    CHECK(sl_store_record_check(bad, NULL, &e) == SL_EINTEGRITY);
    char sum[65];
    sl_store_record_checksum(bad, sum, &e);
    json_object_set_new(bad, "checksum", json_string(sum));
    CHECK(sl_store_record_check(bad, NULL, &e) == SL_EINTEGRITY);
    CHECK(strstr(e.msg, "give the key") != NULL);
    json_decref(bad);
    /* lookups by prefix */
    char hex[65], kind = 0;
    char pre[13];
    memcpy(pre, key, 12);
    pre[12] = 0;
    CHECK(sl_store_resolve(s, pre, hex, &kind, &e) == 0 && kind == 'a' && !strcmp(hex, key));
    memcpy(pre, blob, 12);
    CHECK(sl_store_resolve(s, pre, hex, &kind, &e) == 0 && kind == 'b' && !strcmp(hex, blob));
    CHECK(sl_store_resolve(s, "zz", hex, &kind, &e) == SL_EUSAGE);
    char **keys = NULL;
    size_t n = 0;
    CHECK(sl_store_edges(s, blob, 1, &keys, &n, &e) == 0 && n == 1 && !strcmp(keys[0], key));
    sl_store_free_strings(keys, n);
    CHECK(sl_store_edges(s, blob, 0, &keys, &n, &e) == 0 && n == 1);
    sl_store_free_strings(keys, n);
    json_decref(params);
    json_decref(inputs);
    json_decref(rec);
    sl_store_close(s);
    free(root);
}

static void test_runner(void) {
    sl_err e;
    sl_err_clear(&e);
    char *root = tpath("run-store");
    char *a1 = tpath("inputs/one.txt"), *a2 = tpath("inputs/two.txt"), *a1b = tpath("elsewhere/renamed.txt");
    write_file(a1, "first\n");
    write_file(a2, "second\n");
    write_file(a1b, "first\n");
    char *out1 = tpath("out/a.txt"), *out2 = tpath("out/b.txt");
    char *od = sl_fs_dirname(out1);
    sl_fs_mkdirs(od, &e);
    free(od);
    json_t *params = json_pack("{s:s}", "sep", "--");
    sl_run_input ins[] = {{"a", a1}, {"a", a2}};
    sl_run_output outs[] = {{"out.txt", out1}};
    sl_run_opts opts = {.store_dir = root, .threads = 1, .quiet = 1};
    sl_run_result r1, r2;
    CHECK(sl_runner_run(&sl_test_concat_step, params, ins, 2, outs, 1, &opts, &r1, &e) == 0);
    CHECK_EQ_INT(r1.cached, 0);
    char *t = read_file(out1);
    CHECK_EQ_STR(t, "first\n--second\n");
    free(t);
    /* a hit: same inputs under another path, parameters spelled in another order */
    sl_run_input ins2[] = {{"a", a1b}, {"a", a2}};
    sl_run_output outs2[] = {{"out.txt", out2}};
    CHECK(sl_runner_run(&sl_test_concat_step, params, ins2, 2, outs2, 1, &opts, &r2, &e) == 0);
    CHECK_EQ_INT(r2.cached, 1);
    CHECK_EQ_STR(r1.key, r2.key);
    char *t1 = read_file(out1), *t2 = read_file(out2);
    CHECK(t1 && t2 && !strcmp(t1, t2));
    free(t1);
    free(t2);
    struct stat st;
    CHECK(lstat(out2, &st) == 0 && S_ISREG(st.st_mode));
    /* the record */
    json_t *rec = r1.record;
    CHECK_EQ_STR(json_string_value(json_object_get(rec, "step")), "test.concat");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(rec, "summary"), "bytes")), 15);
    CHECK(json_is_string(json_object_get(json_object_get(rec, "provenance"), "host")));
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(rec, "inputs"), "a")), 2);
    const char *outdigest = json_string_value(
        json_object_get(json_object_get(json_object_get(rec, "outputs"), "out.txt"), "digest"));
    json_decref(r1.record);
    json_decref(r2.record);
    (void)outdigest;
    /* input order matters within a role */
    sl_run_input ins3[] = {{"a", a2}, {"a", a1}};
    CHECK(sl_runner_run(&sl_test_concat_step, params, ins3, 2, NULL, 0, &opts, &r2, &e) == 0);
    CHECK(strcmp(r1.key, r2.key) != 0 && r2.cached == 0);
    json_decref(r2.record);
    /* a sha256: input names an artifact in the store */
    uint8_t d[32];
    char ref[80] = "sha256:";
    sl_sha256_file(a1, d, NULL, &e);
    sl_sha256_to_hex(d, ref + 7);
    sl_run_input ins4[] = {{"a", ref}, {"a", a2}};
    CHECK(sl_runner_run(&sl_test_concat_step, params, ins4, 2, NULL, 0, &opts, &r2, &e) == 0);
    CHECK_EQ_INT(r2.cached, 1);
    CHECK_EQ_STR(r2.key, r1.key);
    json_decref(r2.record);
    /* usage errors */
    sl_run_input bad[] = {{"nope", a1}};
    CHECK(sl_runner_run(&sl_test_concat_step, params, bad, 1, NULL, 0, &opts, &r2, &e) == SL_EUSAGE);
    CHECK(sl_runner_run(&sl_test_concat_step, params, NULL, 0, NULL, 0, &opts, &r2, &e) == SL_EUSAGE);
    sl_run_input badb[] = {{"a", a1}, {"b", a1}, {"b", a2}};
    CHECK(sl_runner_run(&sl_test_concat_step, params, badb, 3, NULL, 0, &opts, &r2, &e) == SL_EUSAGE);
    char *tree_dir = tpath("inputs");
    sl_run_input dirin[] = {{"a", tree_dir}};
    CHECK(sl_runner_run(&sl_test_concat_step, params, dirin, 1, NULL, 0, &opts, &r2, &e) == SL_EUSAGE);
    /* resume: the first attempt fails and leaves its workdir; the second sees it; success removes it */
    json_t *pf = json_pack("{s:s, s:b}", "sep", "+", "fail_first", 1);
    CHECK(sl_runner_run(&sl_test_concat_step, pf, ins, 2, NULL, 0, &opts, &r2, &e) == SL_EIO);
    CHECK(strstr(e.msg, "test.concat") != NULL);
    char *wd = NULL;
    sl_run_result r3;
    CHECK(sl_runner_run(&sl_test_concat_step, pf, ins, 2, NULL, 0, &opts, &r3, &e) == 0);
    CHECK(json_is_true(json_object_get(json_object_get(r3.record, "summary"), "resumed")));
    char rel[128];
    snprintf(rel, sizeof rel, "work/%s", r3.key);
    wd = sl_fs_join(root, rel);
    CHECK(!sl_fs_exists(wd));
    free(wd);
    json_decref(r3.record);
    json_decref(pf);
    /* tree in, tree out */
    char *model = tpath("model");
    write_file(model, "");
    unlink(model);
    char *mf1 = tpath("model/config.json"), *mf2 = tpath("model/sub/weights.bin");
    write_file(mf1, "{\"hidden\": 8}\n");
    write_file(mf2, "0123456789");
    chmod(mf2, 0755);
    char *ad1 = tpath("out/adapter1"), *ad2 = tpath("out/adapter2");
    sl_run_input tin[] = {{"model", model}};
    sl_run_output tout1[] = {{"adapter", ad1}}, tout2[] = {{"adapter", ad2}};
    json_t *empty = json_object();
    CHECK(sl_runner_run(&sl_test_tree_step, empty, tin, 1, tout1, 1, &opts, &r2, &e) == 0 && !r2.cached);
    json_decref(r2.record);
    CHECK(sl_runner_run(&sl_test_tree_step, empty, tin, 1, tout2, 1, &opts, &r2, &e) == 0 && r2.cached);
    CHECK_EQ_STR(json_string_value(json_object_get(
                     json_object_get(json_object_get(r2.record, "outputs"), "adapter"), "type")),
                 "tree");
    json_decref(r2.record);
    char *w1 = tpath("out/adapter1/sub/weights.bin"), *w2 = tpath("out/adapter2/sub/weights.bin");
    char *c2 = tpath("out/adapter2/count");
    t1 = read_file(w1);
    t2 = read_file(w2);
    CHECK_EQ_STR(t1, "9876543210");
    CHECK_EQ_STR(t2, "9876543210");
    free(t1);
    free(t2);
    t1 = read_file(c2);
    CHECK_EQ_STR(t1, "2\n");
    free(t1);
    /* a stored folder keeps the executable bit and comes back byte-identical */
    {
        sl_store *s = NULL;
        char th[65];
        char *copy = tpath("out/model-copy"), *cw = tpath("out/model-copy/sub/weights.bin");
        CHECK(sl_store_open(root, &s, &e) == 0);
        CHECK(s && sl_store_put_tree(s, model, th, &e) == 0);
        CHECK(s && sl_store_materialise_tree(s, th, copy, &e) == 0);
        CHECK(stat(cw, &st) == 0 && (st.st_mode & 0100));
        t1 = read_file(cw);
        CHECK_EQ_STR(t1, "0123456789");
        free(t1);
        sl_store_close(s);
        free(copy);
        free(cw);
    }
    /* materialising again over an existing folder replaces it */
    CHECK(sl_runner_run(&sl_test_tree_step, empty, tin, 1, tout2, 1, &opts, &r2, &e) == 0 && r2.cached);
    json_decref(r2.record);
    json_decref(empty);
    free(w1);
    free(w2);
    free(c2);
    free(ad1);
    free(ad2);
    free(mf1);
    free(mf2);
    free(model);
    free(tree_dir);
    json_decref(params);
    free(a1);
    free(a2);
    free(a1b);
    free(out1);
    free(out2);
    free(root);
}

/* Plan, then run: what sl_runner_plan (`seqlora run --dry-run`) says, the run then does (the same key;
 * planned cached exactly when the run answers from the store), in every state of the store: empty, after a
 * run, with an output blob lost (the record stays, the run must redo the step), and under no_cache. */
static void plan_then_run(const sl_step *step, const json_t *params, const sl_run_input *ins, size_t n,
                          const sl_run_opts *opts, int want_cached, json_t **record) {
    sl_err e;
    sl_run_plan plan;
    sl_run_result r;
    CHECK(sl_runner_plan(step, params, ins, n, opts, &plan, &e) == 0);
    CHECK(sl_runner_run(step, params, ins, n, NULL, 0, opts, &r, &e) == 0);
    CHECK_EQ_STR(plan.key, r.key);
    CHECK_EQ_INT(plan.cached, want_cached);
    CHECK_EQ_INT(r.cached, plan.cached);
    CHECK((plan.record != NULL) == plan.cached);
    json_decref(plan.record);
    if (record)
        *record = r.record;
    else
        json_decref(r.record);
}

static void test_plan_agrees(void) {
    sl_err e;
    char *root = tpath("plan-store"), *a = tpath("plan/a.txt"), *b = tpath("plan/b.txt"),
         *m = tpath("plan/model");
    char *mf = tpath("plan/model/w.bin");
    write_file(a, "plan a\n");
    write_file(b, "plan b\n");
    write_file(mf, "weights");
    json_t *params = json_pack("{s:s, s:f}", "sep", ":", "x", 0.25);
    sl_run_input ins[] = {{"a", a}, {"a", b}, {"b", a}};
    sl_run_opts opts = {.store_dir = root, .threads = 1, .quiet = 1};
    json_t *rec = NULL;
    plan_then_run(&sl_test_concat_step, params, ins, 3, &opts, 0, NULL); /* empty store: run */
    plan_then_run(&sl_test_concat_step, params, ins, 3, &opts, 1, &rec); /* then cached */
    /* an output blob lost (as after a quarantine): the record alone is not a hit */
    sl_store *s = NULL;
    CHECK(sl_store_open(root, &s, &e) == 0);
    const char *d = sl_runner_output_digest(rec, "out.txt");
    CHECK(d != NULL);
    char *bp = s && d ? sl_store_blob_path(s, d) : NULL;
    CHECK(bp && unlink(bp) == 0);
    free(bp);
    sl_store_close(s);
    json_decref(rec);
    plan_then_run(&sl_test_concat_step, params, ins, 3, &opts, 0, NULL);
    plan_then_run(&sl_test_concat_step, params, ins, 3, &opts, 1, NULL);
    sl_run_opts no_cache = opts;
    no_cache.no_cache = 1;
    plan_then_run(&sl_test_concat_step, params, ins, 3, &no_cache, 0, NULL);
    /* a folder input, and sha256: references to what the store holds */
    sl_run_input tin[] = {{"model", m}};
    json_t *empty = json_object();
    plan_then_run(&sl_test_tree_step, empty, tin, 1, &opts, 0, &rec);
    json_decref(rec);
    plan_then_run(&sl_test_tree_step, empty, tin, 1, &opts, 1, NULL);
    char hex[65], ref[80];
    CHECK(sl_store_open(root, &s, &e) == 0 && sl_store_put_file(s, a, hex, NULL, &e) == 0);
    sl_store_close(s);
    snprintf(ref, sizeof ref, "sha256:%s", hex);
    sl_run_input rins[] = {{"a", ref}, {"a", b}, {"b", a}};
    plan_then_run(&sl_test_concat_step, params, rins, 3, &opts, 1, NULL); /* the same key as by path */
    json_decref(empty);
    json_decref(params);
    free(root);
    free(a);
    free(b);
    free(m);
    free(mf);
}

static void test_map_growth(void) {
    /* a tiny LMDB map must grow (MDB_MAP_FULL → resize → retry) rather than fail */
    setenv("SEQLORA_INDEX_MAPSIZE", "65536", 1);
    sl_err e;
    sl_store *s = NULL;
    char *root = tpath("grow-store");
    CHECK(sl_store_open(root, &s, &e) == 0);
    unsetenv("SEQLORA_INDEX_MAPSIZE");
    if (!s) return;
    int ok = 1;
    for (int i = 0; i < 600 && ok; i++) {
        char buf[64], hex[65];
        int n = snprintf(buf, sizeof buf, "blob number %d\n", i);
        if (sl_store_put_buf(s, buf, (size_t)n, hex, NULL, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            ok = 0;
        }
    }
    CHECK(ok);
    sl_store_close(s);
    free(root);
}

int main(void) {
    const char *t = getenv("SEQLORA_TEST_TMP");
    snprintf(tmproot, sizeof tmproot, "%s/test_store", t && *t ? t : "/tmp");
    sl_err e;
    sl_fs_remove_tree(tmproot, &e);
    sl_fs_mkdirs(tmproot, &e);
    RUN_TEST(test_netfs);
    RUN_TEST(test_keys);
    RUN_TEST(test_blobs);
    RUN_TEST(test_records);
    RUN_TEST(test_runner);
    RUN_TEST(test_plan_agrees);
    RUN_TEST(test_map_growth);
    return TEST_RESULT();
}
