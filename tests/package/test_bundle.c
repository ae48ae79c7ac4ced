/* Unit tests of the model-bundle container (src/nn/bundle.h): round trip, determinism, name rules, and
 * hostile archives built with libarchive directly (path traversal, links, missing/extra/wrong checksums). */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/bundle.h"
#include "test.h"
#include "util/fs.h"
#include "util/sha256.h"

static char *tmp;

static char *path(const char *name) {
    return sl_fs_join(tmp, name);
}

static void put(const char *name, const char *text) {
    char *p = path(name);
    sl_err e;
    sl_err_clear(&e);
    CHECK(sl_fs_write_atomic(p, text, strlen(text), &e) == 0);
    free(p);
}

static char *slurp(const char *p, size_t *len) {
    char *d = NULL;
    sl_err e;
    sl_err_clear(&e);
    if (sl_fs_read_all(p, &d, len, &e)) return NULL;
    return d;
}

/* A fresh empty directory under tmp. */
static char *fresh(const char *name) {
    char *p = path(name);
    sl_err e;
    sl_err_clear(&e);
    sl_fs_remove_tree(p, &e);
    CHECK(sl_fs_mkdirs(p, &e) == 0);
    return p;
}

static void test_round_trip(void) {
    put("a.txt", "alpha\n");
    put("b.bin", "beta beta\n");
    char *a = path("a.txt"), *b = path("b.bin"), *out1 = path("one.tar.gz"), *out2 = path("two.tar.gz");
    sl_nn_bundle_entry e1[] = {{"z/b.bin", b}, {"a.txt", a}}, e2[] = {{"a.txt", a}, {"z/b.bin", b}};
    sl_err err;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_nn_bundle_write(out1, e1, 2, &err), 0);
    sleep(1); /* a later write must give the same bytes (no timestamps) */
    CHECK_EQ_INT(sl_nn_bundle_write(out2, e2, 2, &err), 0);
    size_t l1 = 0, l2 = 0;
    char *d1 = slurp(out1, &l1), *d2 = slurp(out2, &l2);
    CHECK(d1 && d2 && l1 == l2 && !memcmp(d1, d2, l1));
    char *dest = fresh("x1");
    CHECK_EQ_INT(sl_nn_bundle_extract(out1, dest, &err), 0);
    char *pb = sl_fs_join(dest, "z/b.bin"), *ps = sl_fs_join(dest, "SHA256SUMS");
    size_t lb = 0, lsum = 0;
    char *db = slurp(pb, &lb), *dsum = slurp(ps, &lsum);
    CHECK(db && !strcmp(db, "beta beta\n"));
    uint8_t dg[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1], line[200];
    sl_sha256_buf("alpha\n", 6, dg);
    sl_sha256_to_hex(dg, hex);
    snprintf(line, sizeof line, "%s  a.txt\n", hex);
    CHECK(dsum && !strncmp(dsum, line, strlen(line))); /* sha256sum format, sorted */
    free(d1), free(d2), free(db), free(dsum), free(pb), free(ps), free(dest), free(a), free(b), free(out1),
        free(out2);
}

static void test_names(void) {
    CHECK(sl_nn_bundle_name_ok("adapter/adapter_config.json"));
    CHECK(!sl_nn_bundle_name_ok("/etc/passwd"));
    CHECK(!sl_nn_bundle_name_ok("../x"));
    CHECK(!sl_nn_bundle_name_ok("a/../../x"));
    CHECK(!sl_nn_bundle_name_ok("a//b"));
    CHECK(!sl_nn_bundle_name_ok("a/./b"));
    CHECK(!sl_nn_bundle_name_ok(""));
    CHECK(!sl_nn_bundle_name_ok("a\nb"));
    char *a = path("a.txt"), *out = path("bad.tar.gz");
    sl_nn_bundle_entry dup[] = {{"a", a}, {"a", a}}, sums[] = {{"SHA256SUMS", a}}, trav[] = {{"../a", a}};
    sl_err err;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_nn_bundle_write(out, dup, 2, &err), SL_EUSAGE);
    CHECK_EQ_INT(sl_nn_bundle_write(out, sums, 1, &err), SL_EUSAGE);
    CHECK_EQ_INT(sl_nn_bundle_write(out, trav, 1, &err), SL_EUSAGE);
    CHECK(!sl_fs_exists(out)); /* nothing left behind */
    free(a), free(out);
}

/* Write a tar.gz by hand: entries (name, content or NULL for a symlink to /etc/passwd). */
static void hand_tar(const char *out, const char *const *names, const char *const *contents, int n) {
    struct archive *w = archive_write_new();
    archive_write_set_format_pax_restricted(w);
    archive_write_add_filter_gzip(w);
    CHECK(archive_write_open_filename(w, out) == ARCHIVE_OK);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        if (contents[i]) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)strlen(contents[i]));
        } else {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, "/etc/passwd");
        }
        archive_entry_set_perm(e, 0644);
        archive_write_header(w, e);
        if (contents[i]) archive_write_data(w, contents[i], strlen(contents[i]));
        archive_entry_free(e);
    }
    archive_write_free(w);
}

static int extract_code(const char *name, const char *const *names, const char *const *contents, int n,
                        char *msg, size_t msg_len) {
    char *out = path(name), *dest = fresh("xh");
    hand_tar(out, names, contents, n);
    sl_err err;
    sl_err_clear(&err);
    int rc = sl_nn_bundle_extract(out, dest, &err);
    snprintf(msg, msg_len, "%s", err.msg);
    free(out), free(dest);
    return rc;
}

static void test_hostile(void) {
    uint8_t dg[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1], sums[200], msg[4096];
    sl_sha256_buf("x\n", 2, dg);
    sl_sha256_to_hex(dg, hex);
    snprintf(sums, sizeof sums, "%s  a\n", hex);
    {
        const char *n[] = {"SHA256SUMS", "a"}, *c[] = {sums, "x\n"};
        CHECK_EQ_INT(extract_code("ok.tgz", n, c, 2, msg, sizeof msg), 0);
    }
    {
        const char *n[] = {"SHA256SUMS", "../a"}, *c[] = {sums, "x\n"};
        CHECK_EQ_INT(extract_code("trav.tgz", n, c, 2, msg, sizeof msg), SL_EDATA);
        CHECK(strstr(msg, "unsafe name") != NULL);
    }
    {
        const char *n[] = {"SHA256SUMS", "/tmp/a"}, *c[] = {sums, "x\n"};
        CHECK_EQ_INT(extract_code("abs.tgz", n, c, 2, msg, sizeof msg), SL_EDATA);
    }
    {
        const char *n[] = {"SHA256SUMS", "a"}, *c[] = {sums, NULL};
        CHECK_EQ_INT(extract_code("link.tgz", n, c, 2, msg, sizeof msg), SL_EDATA);
        CHECK(strstr(msg, "not a regular file") != NULL);
    }
    {
        const char *n[] = {"a"}, *c[] = {"x\n"};
        CHECK_EQ_INT(extract_code("nosums.tgz", n, c, 1, msg, sizeof msg), SL_EINTEGRITY);
    }
    {
        const char *n[] = {"SHA256SUMS", "a"}, *c[] = {sums, "y\n"};
        CHECK_EQ_INT(extract_code("wrong.tgz", n, c, 2, msg, sizeof msg), SL_EINTEGRITY);
        CHECK(strstr(msg, "'a'") != NULL);
    }
    {
        const char *n[] = {"SHA256SUMS", "a", "extra"}, *c[] = {sums, "x\n", "z"};
        CHECK_EQ_INT(extract_code("extra.tgz", n, c, 3, msg, sizeof msg), SL_EINTEGRITY);
        CHECK(strstr(msg, "extra") != NULL);
    }
    {
        const char *n[] = {"SHA256SUMS"}, *c[] = {sums};
        CHECK_EQ_INT(extract_code("missing.tgz", n, c, 1, msg, sizeof msg), SL_EINTEGRITY);
    }
    {
        const char *n[] = {"SHA256SUMS", "a", "a"}, *c[] = {sums, "x\n", "x\n"};
        CHECK_EQ_INT(extract_code("twice.tgz", n, c, 3, msg, sizeof msg), SL_EDATA);
    }
    put("plain.txt", "not an archive at all\n");
    char *p = path("plain.txt"), *dest = fresh("xp"), *none = path("none.tgz");
    sl_err err;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_nn_bundle_extract(p, dest, &err), SL_EDATA);
    CHECK_EQ_INT(sl_nn_bundle_extract(none, dest, &err), SL_ENOTFOUND);
    free(p), free(dest), free(none);
}

int main(void) {
    const char *base = getenv("SEQLORA_TEST_TMP") ? getenv("SEQLORA_TEST_TMP") : "/tmp";
    sl_err e;
    sl_err_clear(&e);
    sl_fs_mkdirs(base, &e);
    if (sl_fs_mkdtemp(base, "bundle-", &tmp, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    RUN_TEST(test_round_trip);
    RUN_TEST(test_names);
    RUN_TEST(test_hostile);
    sl_fs_remove_tree(tmp, &e);
    free(tmp);
    return TEST_RESULT();
}
