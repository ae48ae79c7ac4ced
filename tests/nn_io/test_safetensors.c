/* safetensors: malformed files are rejected with specific messages (and no crash under ASan), the
 * half-precision conversions are exact, and written files read back. Parity with the Python library is
 * in test_safetensors_peer.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/safetensors.h"
#include "test.h"
#include "util/fs.h"

static char tmpdir[4096];

/* Write 8-byte length + header + data bytes to a file; returns its path (static buffer). */
static const char *write_raw(const char *name, uint64_t hlen, const char *header, size_t header_bytes,
                             const void *data, size_t data_len) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(len8, 1, 8, f);
    if (header_bytes) fwrite(header, 1, header_bytes, f);
    if (data_len) fwrite(data, 1, data_len, f);
    fclose(f);
    return path;
}

static const char *write_st(const char *name, const char *header, size_t data_len) {
    static unsigned char zeros[4096];
    return write_raw(name, strlen(header), header, strlen(header), zeros, data_len);
}

/* The file must be rejected with SL_EDATA and a message containing `want`. */
static void expect_reject(const char *path, const char *want) {
    sl_nn_st_file *f = (sl_nn_st_file *)1;
    sl_err err;
    sl_err_clear(&err);
    int rc = sl_nn_st_open(path, &f, &err);
    CHECK_EQ_INT(rc, SL_EDATA);
    CHECK(f == NULL);
    if (!strstr(err.msg, want)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, want);
        test_failures++;
    }
    if (!strstr(err.msg, path)) {
        fprintf(stderr, "  message \"%s\" does not name the file\n", err.msg);
        test_failures++;
    }
    if (rc == 0) sl_nn_st_close(f);
}

static void test_malformed(void) {
    /* truncated: fewer than 8 bytes */
    char p[4200];
    snprintf(p, sizeof p, "%s/tiny.safetensors", tmpdir);
    FILE *f = fopen(p, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    expect_reject(p, "too small");
    /* header length beyond the limit, and beyond the file */
    expect_reject(write_raw("huge.safetensors", 100000001ULL, "{}", 2, NULL, 0), "exceeds the limit");
    expect_reject(write_raw("past.safetensors", 64, "{}", 2, NULL, 0), "past the end");
    /* not JSON, not an object, duplicate keys, NUL padding */
    expect_reject(write_st("notjson.safetensors", "{\"a\":", 0), "not valid JSON");
    expect_reject(write_st("array.safetensors", "[1,2]   ", 0), "JSON object");
    expect_reject(write_st("dup.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           8),
                  "duplicate");
    expect_reject(write_raw("nulpad.safetensors", 8, "{}\0\0\0\0\0\0", 8, NULL, 0), "not valid JSON");
    /* bad dtype, bad shape, bad offsets, unknown field, metadata not strings */
    expect_reject(
        write_st("dtype.safetensors", "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
        "unknown dtype \"F33\"");
    expect_reject(
        write_st("shape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
        "shape[0]");
    expect_reject(write_st("shape2.safetensors",
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4),
                  "shape[0]");
    expect_reject(write_st("mismatch.safetensors",
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20),
                  "expected 24");
    expect_reject(write_st("endbegin.safetensors",
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4),
                  "end before begin");
    expect_reject(write_st("extra.safetensors",
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4),
                  "unknown field \"x\"");
    expect_reject(write_st("nofield.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
                  "shape");
    expect_reject(write_st("meta.safetensors", "{\"__metadata__\":{\"format\":1}}", 0), "must be a string");
    expect_reject(write_st("notobj.safetensors", "{\"w\":[1,2]}", 0), "expected an object");
    /* gap, overlap, not starting at 0, trailing bytes, truncated data */
    expect_reject(write_st("gap.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                           12),
                  "a gap before it");
    expect_reject(write_st("overlap.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           8),
                  "overlaps");
    expect_reject(
        write_st("start.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
        "a gap before it");
    expect_reject(write_st("trailing.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6),
                  "trailing bytes");
    expect_reject(write_st("short.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10),
                  "truncated");
    /* overflow of the element count */
    expect_reject(
        write_st("overflow.safetensors",
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}",
                 4),
        "overflows");
    /* a missing file is not SL_EDATA */
    sl_nn_st_file *fp = NULL;
    sl_err err;
    snprintf(p, sizeof p, "%s/missing.safetensors", tmpdir);
    CHECK_EQ_INT(sl_nn_st_open(p, &fp, &err), SL_ENOTFOUND);
}

static void test_accept_and_read(void) {
    /* I64 buffers, a scalar, an empty tensor and BF16/F16 weights; header key order is irrelevant */
    unsigned char data[8 + 4 + 2 + 2] = {0};
    data[0] = 7;      /* I64 position_ids = [7] */
    float one = 1.5f; /* F32 scalar */
    memcpy(data + 8, &one, 4);
    uint16_t bf = sl_nn_f32_to_bf16(-2.0f), h = sl_nn_f32_to_f16(0.25f);
    memcpy(data + 12, &bf, 2);
    memcpy(data + 14, &h, 2);
    const char *header = "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]},"
                         "\"__metadata__\":{\"format\":\"pt\",\"a\":\"b\"},"
                         "\"pos\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[0,8]},"
                         "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[12,12]},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[12,14]},"
                         "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[14,16]}}";
    const char *path = write_raw("ok.safetensors", strlen(header), header, strlen(header), data, sizeof data);
    sl_nn_st_file *f = NULL;
    sl_err err;
    int rc = sl_nn_st_open(path, &f, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_EQ_INT(sl_nn_st_count(f), 5);
    CHECK_EQ_STR(sl_nn_st_tensor_at(f, 0)->name, "b");
    CHECK_EQ_STR(sl_nn_st_tensor_at(f, 4)->name, "s");
    CHECK(sl_nn_st_tensor_at(f, 5) == NULL);
    CHECK_EQ_STR(sl_nn_st_metadata(f, "format"), "pt");
    CHECK_EQ_STR(sl_nn_st_metadata(f, "a"), "b");
    CHECK(sl_nn_st_metadata(f, "zzz") == NULL);
    CHECK_EQ_INT(sl_nn_st_metadata_count(f), 2);
    const sl_nn_st_tensor *pos = sl_nn_st_find(f, "pos");
    CHECK(pos && pos->dtype == SL_NN_ST_I64 && pos->ndim == 2 && pos->numel == 1);
    float v[3];
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "pos", v, 1, &err), SL_EDATA);
    CHECK(strstr(err.msg, "I64") && strstr(err.msg, "pos"));
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "s", v, 1, &err), 0);
    CHECK(v[0] == 1.5f);
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "b", v, 1, &err), 0);
    CHECK(v[0] == -2.0f);
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "h", v, 1, &err), 0);
    CHECK(v[0] == 0.25f);
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "h", v, 2, &err), SL_EDATA);
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "nope", v, 1, &err), SL_ENOTFOUND);
    CHECK(strstr(err.msg, "nope") != NULL);
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "empty", v, 0, &err), 0);
    int64_t want[2] = {1, 3};
    CHECK_EQ_INT(sl_nn_st_read_f32_shape(f, "empty", 2, want, v, &err), SL_EDATA);
    CHECK(strstr(err.msg, "has shape [0, 3], expected [1, 3]") != NULL);
    sl_nn_st_close(f);
}

static void test_half_conversions(void) {
    /* every finite f16 / bf16 survives a round trip through f32 */
    int bad16 = 0, badbf = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float f = sl_nn_f16_to_f32(h);
        if (f == f && sl_nn_f32_to_f16(f) != h) bad16++;
        float g = sl_nn_bf16_to_f32(h);
        if (g == g && sl_nn_f32_to_bf16(g) != h) badbf++;
    }
    CHECK_EQ_INT(bad16, 0);
    CHECK_EQ_INT(badbf, 0);
    /* known values and ties to even */
    CHECK_EQ_INT(sl_nn_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(sl_nn_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(sl_nn_f32_to_f16(65520.0f), 0x7c00);              /* rounds up to inf */
    CHECK_EQ_INT(sl_nn_f32_to_f16(1.0f + 1.0f / 2048.0f), 0x3c00); /* tie -> even */
    CHECK_EQ_INT(sl_nn_f32_to_f16(1.0f + 3.0f / 2048.0f), 0x3c02);
    CHECK_EQ_INT(sl_nn_f32_to_f16(5.9604645e-08f), 0x0001);        /* smallest subnormal */
    CHECK_EQ_INT(sl_nn_f32_to_f16(2.9802322e-08f), 0x0000);        /* half of it: tie -> 0 */
    CHECK_EQ_INT(sl_nn_f32_to_bf16(1.0f + 1.0f / 256.0f), 0x3f80); /* tie -> even */
    CHECK(sl_nn_f16_to_f32(0x0001) == 5.9604645e-08f);
}

static void test_write_roundtrip(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    float a[6] = {1, 2, 3, 4, 5, 6}, s = 9;
    uint16_t hb[2] = {sl_nn_f32_to_bf16(0.5f), sl_nn_f32_to_bf16(-4)};
    int64_t sa[2] = {2, 3}, sh[1] = {2};
    sl_nn_st_wtensor t[3] = {{"z.weight", SL_NN_ST_F32, 2, sa, a},
                             {"half \"q\"\n", SL_NN_ST_BF16, 1, sh, hb},
                             {"a.scalar", SL_NN_ST_F32, 0, NULL, &s}};
    const char *meta[] = {"format", "pt", NULL};
    sl_err err;
    CHECK_EQ_INT(sl_nn_st_write(path, t, 3, meta, &err), 0);
    sl_nn_st_file *f = NULL;
    CHECK_EQ_INT(sl_nn_st_open(path, &f, &err), 0);
    if (!f) return;
    float b[6];
    CHECK_EQ_INT(sl_nn_st_read_f32_shape(f, "z.weight", 2, sa, b, &err), 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "half \"q\"\n", b, 2, &err), 0);
    CHECK(b[0] == 0.5f && b[1] == -4.0f);
    CHECK_EQ_INT(sl_nn_st_read_f32(f, "a.scalar", b, 1, &err), 0);
    CHECK(b[0] == 9.0f);
    CHECK_EQ_STR(sl_nn_st_metadata(f, "format"), "pt");
    sl_nn_st_close(f);
    /* the same image in memory: identical bytes to the file, and it opens */
    void *buf;
    size_t len;
    CHECK_EQ_INT(sl_nn_st_serialize(t, 3, meta, &buf, &len, &err), 0);
    char *disk;
    size_t dlen;
    CHECK_EQ_INT(sl_fs_read_all(path, &disk, &dlen, &err), 0);
    CHECK(len == dlen && memcmp(buf, disk, len) == 0);
    free(disk);
    CHECK_EQ_INT(sl_nn_st_open_memory("mem", buf, len, &f, &err), 0);
    if (f) {
        CHECK_EQ_INT(sl_nn_st_read_f32(f, "a.scalar", b, 1, &err), 0);
        CHECK(b[0] == 9.0f);
        CHECK_EQ_STR(sl_nn_st_path(f), "mem");
        sl_nn_st_close(f);
    }
    char *junk = malloc(16);
    memcpy(junk, "\x08\0\0\0\0\0\0\0{\"a\":1}  ", 16);
    CHECK_EQ_INT(sl_nn_st_open_memory("junk", junk, 16, &f, &err), SL_EDATA); /* junk is freed */
    CHECK(f == NULL && strstr(err.msg, "junk") != NULL);
    /* duplicate names are refused and nothing is written */
    snprintf(path, sizeof path, "%s/dup_w.safetensors", tmpdir);
    sl_nn_st_wtensor d[2] = {{"x", SL_NN_ST_F32, 0, NULL, &s}, {"x", SL_NN_ST_F32, 0, NULL, &s}};
    CHECK_EQ_INT(sl_nn_st_write(path, d, 2, meta, &err), SL_EUSAGE);
    CHECK(!sl_fs_exists(path));
}

int main(void) {
    const char *base = getenv("SEQLORA_TEST_TMP");
    if (!base) base = "/tmp";
    sl_err err;
    sl_fs_mkdirs(base, &err);
    char *dir = NULL;
    if (sl_fs_mkdtemp(base, "st-", &dir, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s", dir);
    RUN_TEST(test_malformed);
    RUN_TEST(test_accept_and_read);
    RUN_TEST(test_half_conversions);
    RUN_TEST(test_write_roundtrip);
    sl_fs_remove_tree(dir, &err);
    free(dir);
    return TEST_RESULT();
}
