/* Unit tests for src/util: sha256 vectors, canonical JSON, atomic files, Philox. */
#include "test.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/rng.h"
#include "util/sha256.h"

#include <unistd.h>

static void test_sha256_vectors(void) {
    uint8_t d[SL_SHA256_LEN];
    char hex[65];
    sl_sha256_buf("abc", 3, d);
    sl_sha256_to_hex(d, hex);
    CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sl_sha256_buf("", 0, d);
    sl_sha256_to_hex(d, hex);
    CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    uint8_t back[SL_SHA256_LEN];
    CHECK_EQ_INT(sl_sha256_from_hex(hex, back), 0);
    CHECK(memcmp(back, d, SL_SHA256_LEN) == 0);
    CHECK(sl_sha256_from_hex("xyz", back) == SL_EDATA);
}

static void test_canonical_json_order(void) {
    json_t *a = json_loads("{\"b\": 1, \"a\": [1, 2.5, \"x\"], \"c\": {\"z\": null, \"y\": true}}", 0, NULL);
    json_t *b = json_loads("{\"c\":{\"y\":true,\"z\":null},\"a\":[1,2.5,\"x\"],\"b\":1}", 0, NULL);
    char *ca = sl_json_canonical(a), *cb = sl_json_canonical(b);
    CHECK_EQ_STR(ca, cb);
    CHECK_EQ_STR(ca, "{\"a\":[1,2.5,\"x\"],\"b\":1,\"c\":{\"y\":true,\"z\":null}}");
    free(ca);
    free(cb);
    json_decref(a);
    json_decref(b);
}

static void test_atomic_write(void) {
    const char *tmp = getenv("SEQLORA_TEST_TMP");
    char *dir = NULL;
    sl_err err;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_fs_mkdirs(tmp ? tmp : "/tmp/seqlora-test-util", &err), 0);
    CHECK_EQ_INT(sl_fs_mkdtemp(tmp ? tmp : "/tmp/seqlora-test-util", "fs", &dir, &err), 0);
    char *p = sl_fs_join(dir, "a.txt");
    CHECK_EQ_INT(sl_fs_write_atomic(p, "hello", 5, &err), 0);
    char *data = NULL;
    size_t n = 0;
    CHECK_EQ_INT(sl_fs_read_all(p, &data, &n, &err), 0);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_STR(data, "hello");
    free(data);
    char *missing = sl_fs_join(dir, "missing");
    CHECK_EQ_INT(sl_fs_read_all(missing, &data, &n, &err), SL_ENOTFOUND);
    CHECK(strstr(err.msg, "missing") != NULL);
    CHECK_EQ_INT(sl_fs_remove_tree(dir, &err), 0);
    CHECK(!sl_fs_exists(dir));
    free(missing);
    free(p);
    free(dir);
}

static void test_philox(void) {
    /* Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors). */
    sl_philox_out o = sl_philox4x32(0, 0, 0);
    CHECK_EQ_INT(o.v[0], 0x6627e8d5u);
    CHECK_EQ_INT(o.v[1], 0xe169c58du);
    CHECK_EQ_INT(o.v[2], 0xbc57ac4cu);
    CHECK_EQ_INT(o.v[3], 0x9b00dbd8u);
    /* ctr = ffffffff x4, key = ffffffff x2 */
    o = sl_philox4x32(UINT64_MAX, UINT64_MAX, UINT64_MAX);
    CHECK_EQ_INT(o.v[0], 0x408f276du);
    CHECK_EQ_INT(o.v[1], 0x41c83b0eu);
    CHECK_EQ_INT(o.v[2], 0xa20bc7c6u);
    CHECK_EQ_INT(o.v[3], 0x6d5451fdu);
    sl_rng r;
    sl_rng_init(&r, 42, 1);
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) counts[sl_rng_below(&r, 10)]++;
    for (int i = 0; i < 10; i++) CHECK(counts[i] > 9500 && counts[i] < 10500);
}

int main(void) {
    RUN_TEST(test_sha256_vectors);
    RUN_TEST(test_canonical_json_order);
    RUN_TEST(test_atomic_write);
    RUN_TEST(test_philox);
    return TEST_RESULT();
}
