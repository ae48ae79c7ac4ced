/* Unit tests of the fetch area that need no server: GDC manifests (the real TCGA-BRCA one and malformed
 * variants), FASTA checks, Ensembl URLs, and file:// downloads (verification against the RFC 1321 / FIPS
 * 180-2 test vectors, resume from a partial file, a corrupted partial, a missing file) and the fetch step
 * itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio/download.h"
#include "bio/ensembl.h"
#include "bio/gdc.h"
#include "steps/fetch.h"
#include "test.h"
#include "util/fs.h"
#include "util/sha256.h"

static char tmpdir[4096];

static char *tpath(const char *name) {
    return sl_fs_join(tmpdir, name);
}

static void test_real_manifest(void) {
    const char *data = getenv("SEQLORA_TEST_DATA");
    CHECK(data != NULL);
    if (!data) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/gdc/gdc_manifest.tcga-brca-star-counts.txt", data);
    sl_bio_gdc_manifest m;
    sl_err err;
    sl_err_clear(&err);
    int rc = sl_bio_gdc_manifest_read(path, &m, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK_EQ_INT(m.n, 1231); /* wc -l minus the header */
    CHECK_EQ_STR(m.files[0].id, "ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13");
    CHECK_EQ_STR(m.files[0].filename,
                 "dadd1789-354a-4abb-8d4e-8556166cf341.rna_seq.augmented_star_gene_counts.tsv");
    CHECK_EQ_STR(m.files[0].md5, "0948d5b1ea684cd62a6ec7dafbeda026");
    CHECK_EQ_INT(m.files[0].size, 4235051);
    CHECK_EQ_INT(m.files[0].line, 2);
    CHECK_EQ_STR(m.files[1230].id, "3782bc2e-5a29-4380-9b44-735ca1ac8896");
    CHECK_EQ_STR(m.files[1230].md5, "f728f3a8f8f881e8a3be1da9d061ae5b");
    CHECK_EQ_INT(m.files[1230].size, 4230598);
    CHECK_EQ_INT(m.files[1230].line, 1232);
    char *url = sl_bio_gdc_data_url("https://api.gdc.cancer.gov/", m.files[0].id);
    CHECK_EQ_STR(url, "https://api.gdc.cancer.gov/data/ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13");
    free(url);
    sl_bio_gdc_manifest_free(&m);
}

#define HDR "id\tfilename\tmd5\tsize\tstate\n"
#define ROW1 "ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13\ta.tsv\t0948d5b1ea684cd62a6ec7dafbeda026\t10\treleased\n"
#define ROW2 "0e1999e0-9c02-4804-88b6-60b46d100739\tb.tsv\t331108d6b22c2bddaf114649f714c220\t20\treleased\n"

/* Parse `text`; expect failure with a message containing each of the NULL-terminated fragments. */
static void expect_bad(const char *text, const char *frag1, const char *frag2) {
    sl_bio_gdc_manifest m;
    sl_err err;
    sl_err_clear(&err);
    int rc = sl_bio_gdc_manifest_parse(text, strlen(text), "m.txt", &m, &err);
    CHECK_EQ_INT(rc, SL_EDATA);
    CHECK_EQ_INT(m.n, 0);
    if (frag1 && !strstr(err.msg, frag1)) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, frag1);
        test_failures++;
    }
    if (frag2 && !strstr(err.msg, frag2)) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, frag2);
        test_failures++;
    }
}

static void test_manifest_variants(void) {
    sl_bio_gdc_manifest m;
    sl_err err;
    const char *crlf =
        "state\tsize\tmd5\tfilename\tid\r\n"
        "released\t10\t0948D5B1EA684CD62A6EC7DAFBEDA026\ta.tsv\tEAD53B27-6AD9-4B96-B5D4-0D4F06FB2D13\r\n"
        "\r\n";
    CHECK_EQ_INT(sl_bio_gdc_manifest_parse(crlf, strlen(crlf), "crlf.txt", &m, &err), 0);
    CHECK_EQ_INT(m.n, 1);
    if (m.n == 1) {
        CHECK_EQ_STR(m.files[0].id, "ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13");
        CHECK_EQ_STR(m.files[0].md5, "0948d5b1ea684cd62a6ec7dafbeda026");
        CHECK_EQ_INT(m.files[0].size, 10);
    }
    sl_bio_gdc_manifest_free(&m);

    expect_bad("", "empty manifest", NULL);
    expect_bad(HDR, "lists no files", NULL);
    expect_bad("id\tfilename\tsize\tstate\n", "m.txt:1", "'md5'");
    expect_bad(HDR ROW1 "not-a-uuid\tc.tsv\t331108d6b22c2bddaf114649f714c220\t20\treleased\n", "m.txt:3",
               "'id'");
    expect_bad(HDR ROW1 "0e1999e0-9c02-4804-88b6-60b46d100739\tc.tsv\t331108d6\t20\treleased\n", "m.txt:3",
               "'md5'");
    expect_bad(
        HDR ROW1
        "0e1999e0-9c02-4804-88b6-60b46d100739\tc.tsv\t331108d6b22c2bddaf114649f714c220\t-4\treleased\n",
        "m.txt:3", "'size'");
    expect_bad(
        HDR ROW1
        "0e1999e0-9c02-4804-88b6-60b46d100739\tc.tsv\t331108d6b22c2bddaf114649f714c220\t4x\treleased\n",
        "m.txt:3", "'size'");
    expect_bad(
        HDR "0e1999e0-9c02-4804-88b6-60b46d100739\t../etc/x\t331108d6b22c2bddaf114649f714c220\t4\treleased\n",
        "m.txt:2", "'filename'");
    expect_bad(HDR ROW1
               "0e1999e0-9c02-4804-88b6-60b46d100739\ta.tsv\t331108d6b22c2bddaf114649f714c220\t4\treleased\n",
               "m.txt:3", "line 2");
    expect_bad(HDR ROW1
               "ead53b27-6ad9-4b96-b5d4-0d4f06fb2d13\tc.tsv\t331108d6b22c2bddaf114649f714c220\t4\treleased\n",
               "m.txt:3", "'id'");
    expect_bad(HDR ROW1 "0e1999e0-9c02-4804-88b6-60b46d100739\tb.tsv\n", "m.txt:3", "fields");
    const char *ok = HDR ROW1 ROW2;
    CHECK_EQ_INT(sl_bio_gdc_manifest_parse(ok, strlen(ok), "ok.txt", &m, &err), 0);
    CHECK_EQ_INT(m.n, 2);
    sl_bio_gdc_manifest_free(&m);
}

static void test_fasta_and_ensembl(void) {
    sl_err err;
    size_t n = 0;
    const char *good = ">ENST00000357654.9 cds\nATGGATTTATCTGCTCTTCG\nCGTTGAAGAAGTACAAAATG\n>second\nACGTN\n";
    CHECK_EQ_INT(sl_bio_fasta_check(good, strlen(good), "x", &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(sl_bio_fasta_check("", 0, "x", &n, &err), SL_EDATA);
    CHECK(strstr(err.msg, "empty") != NULL);
    const char *html = "<html><body>maintenance</body></html>";
    CHECK_EQ_INT(sl_bio_fasta_check(html, strlen(html), "x", &n, &err), SL_EDATA);
    CHECK(strstr(err.msg, "<html>") != NULL);
    const char *nosq = ">a\n>b\nACGT\n";
    CHECK_EQ_INT(sl_bio_fasta_check(nosq, strlen(nosq), "x", &n, &err), SL_EDATA);
    CHECK(strstr(err.msg, "x:2") != NULL);
    const char *badc = ">a\nAC{GT\n";
    CHECK_EQ_INT(sl_bio_fasta_check(badc, strlen(badc), "x", &n, &err), SL_EDATA);
    CHECK(strstr(err.msg, "x:2") != NULL);

    char *url = sl_bio_ensembl_sequence_url("https://rest.ensembl.org/", "ENST00000357654", "cds");
    CHECK_EQ_STR(url, "https://rest.ensembl.org/sequence/id/ENST00000357654?type=cds");
    free(url);
    CHECK(sl_bio_ensembl_sequence_url("https://rest.ensembl.org", "../admin", "cds") == NULL);
    CHECK(sl_bio_ensembl_sequence_url("https://rest.ensembl.org", "ENSG1?x=y", "cds") == NULL);
    CHECK(sl_bio_ensembl_sequence_url("https://rest.ensembl.org", "ENSG1", "exon") == NULL);
    CHECK(!sl_bio_ensembl_id_ok(""));
    CHECK(sl_bio_ensembl_id_ok("ENSG00000012048.23"));
}

/* A file URL for a path under tmpdir (malloc'd). */
static char *file_url(const char *path) {
    size_t n = strlen(path) + 8;
    char *u = malloc(n);
    snprintf(u, n, "file://%s", path);
    return u;
}

static void test_file_download(void) {
    sl_err err;
    sl_err_clear(&err);
    /* the classic test vectors: MD5("abc") (RFC 1321 A.5) and SHA-256("abc") (FIPS 180-2 B.1) */
    char *src = tpath("abc.txt"), *part = tpath("abc.part");
    CHECK_EQ_INT(sl_fs_write_atomic(src, "abc", 3, &err), 0);
    char *url = file_url(src);
    sl_bio_dl_expect ex = {"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                           "900150983cd24fb0d6963f7d28e17f72", 3};
    sl_bio_dl_stats st;
    CHECK_EQ_INT(sl_bio_download_file(url, part, &ex, NULL, &st, &err), 0);
    CHECK_EQ_INT(st.size, 3);
    CHECK_EQ_STR(st.md5, "900150983cd24fb0d6963f7d28e17f72");
    unlink(part);

    /* a wrong expectation: integrity error, nothing left behind */
    sl_bio_dl_expect wrong = {NULL, "900150983cd24fb0d6963f7d28e17f73", -1};
    CHECK_EQ_INT(sl_bio_download_file(url, part, &wrong, NULL, &st, &err), SL_EINTEGRITY);
    CHECK(strstr(err.msg, "expected md5 900150983cd24fb0d6963f7d28e17f73") != NULL);
    CHECK(!sl_fs_exists(part));
    sl_bio_dl_expect wsize = {NULL, NULL, 4};
    sl_bio_dl_opts fast;
    sl_bio_dl_opts_init(&fast);
    fast.retry_delay_s = 0.001;
    CHECK_EQ_INT(sl_bio_download_file(url, part, &wsize, &fast, &st, &err), SL_EINTEGRITY);
    CHECK(!sl_fs_exists(part));
    sl_bio_dl_expect badhex = {"abc", NULL, -1};
    CHECK_EQ_INT(sl_bio_download_file(url, part, &badhex, NULL, &st, &err), SL_EUSAGE);
    free(url);
    free(src);

    /* resume: 300 kB, the partial file already holds the first 100 kB */
    enum { N = 300000, HAVE = 100000 };
    unsigned char *buf = malloc(N);
    for (int i = 0; i < N; i++) buf[i] = (unsigned char)((i * 2654435761u) >> 24);
    char *big = tpath("big.bin");
    CHECK_EQ_INT(sl_fs_write_atomic(big, buf, N, &err), 0);
    uint8_t d[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1];
    CHECK_EQ_INT(sl_sha256_file(big, d, NULL, &err), 0);
    sl_sha256_to_hex(d, hex);
    url = file_url(big);
    CHECK_EQ_INT(sl_fs_write_atomic(part, buf, HAVE, &err), 0);
    sl_bio_dl_expect exb = {hex, NULL, N};
    CHECK_EQ_INT(sl_bio_download_file(url, part, &exb, NULL, &st, &err), 0);
    CHECK_EQ_INT(st.resumed, 1);
    CHECK_EQ_INT(st.bytes_transferred, N - HAVE);
    CHECK_EQ_STR(st.sha256, hex);
    /* already complete: no transfer at all */
    CHECK_EQ_INT(sl_bio_download_file(url, part, &exb, NULL, &st, &err), 0);
    CHECK_EQ_INT(st.attempts, 0);
    CHECK_EQ_INT(st.bytes_transferred, 0);
    unlink(part);

    /* a corrupted partial: the resumed result fails verification, so it is fetched again from zero */
    buf[5] ^= 0x55;
    CHECK_EQ_INT(sl_fs_write_atomic(part, buf, HAVE, &err), 0);
    CHECK_EQ_INT(sl_bio_download_file(url, part, &exb, NULL, &st, &err), 0);
    CHECK_EQ_INT(st.attempts, 2);
    CHECK_EQ_INT(st.bytes_transferred, N - HAVE + N);
    CHECK_EQ_STR(st.sha256, hex);
    unlink(part);
    buf[5] ^= 0x55;

    /* a partial longer than the expected size starts over */
    unsigned char *longer = calloc(1, N + 10);
    CHECK_EQ_INT(sl_fs_write_atomic(part, longer, N + 10, &err), 0);
    CHECK_EQ_INT(sl_bio_download_file(url, part, &exb, NULL, &st, &err), 0);
    CHECK_EQ_INT(st.bytes_transferred, N);
    free(longer);
    unlink(part);

    /* in memory */
    char *body = NULL;
    size_t len = 0;
    CHECK_EQ_INT(sl_bio_download_mem(url, N, NULL, &body, &len, &err), 0);
    CHECK_EQ_INT(len, N);
    CHECK(body && memcmp(body, buf, N) == 0);
    free(body);
    CHECK_EQ_INT(sl_bio_download_mem(url, N - 1, NULL, &body, &len, &err), SL_EDATA);
    CHECK(body == NULL);
    free(url);

    /* a missing file, an unsupported scheme */
    char *missing = tpath("missing.bin");
    url = file_url(missing);
    CHECK_EQ_INT(sl_bio_download_file(url, part, NULL, NULL, &st, &err), SL_ENOTFOUND);
    CHECK(strstr(err.msg, "missing.bin") != NULL);
    free(url);
    free(missing);
    unlink(part);
    CHECK_EQ_INT(sl_bio_download_file("gopher://x/y", part, NULL, NULL, &st, &err), SL_EUSAGE);
    CHECK_EQ_INT(sl_bio_download_file("/plain/path", part, NULL, NULL, &st, &err), SL_EUSAGE);
    free(buf);
    free(big);
    free(part);
}

static void test_step(void) {
    sl_err err;
    sl_err_clear(&err);
    char *src = tpath("abc.txt"), *outdir = tpath("out"), *workdir = tpath("work");
    sl_fs_mkdirs(outdir, &err);
    sl_fs_mkdirs(workdir, &err);
    char *url = file_url(src);
    const sl_step *step = sl_step_find("fetch");
    CHECK(step != NULL);
    if (!step) return;
    json_t *params = json_pack("{s:s, s:s, s:i}", "url", url, "sha256",
                               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "size", 3);
    sl_step_ctx ctx = {.params = params,
                       .outdir = outdir,
                       .workdir = workdir,
                       .threads = 1,
                       .summary = json_object(),
                       .err = &err};
    CHECK_EQ_INT(step->run(&ctx), 0);
    char *out = sl_fs_join(outdir, "file");
    char *data = NULL;
    size_t len = 0;
    CHECK_EQ_INT(sl_fs_read_all(out, &data, &len, &err), 0);
    CHECK(len == 3 && data && !memcmp(data, "abc", 3));
    free(data);
    CHECK_EQ_INT(json_integer_value(json_object_get(ctx.summary, "bytes")), 3);
    unlink(out);
    json_decref(ctx.summary);
    json_decref(params);

    /* a mismatch: integrity error, the outdir stays empty */
    params = json_pack("{s:s, s:s}", "url", url, "md5", "00000000000000000000000000000000");
    ctx.params = params;
    ctx.summary = json_object();
    CHECK_EQ_INT(step->run(&ctx), SL_EINTEGRITY);
    CHECK(!sl_fs_exists(out));
    json_decref(ctx.summary);
    json_decref(params);

    /* unknown parameters and a missing url are usage errors */
    params = json_pack("{s:s, s:s}", "url", url, "sha265", "x");
    ctx.params = params;
    CHECK_EQ_INT(step->run(&ctx), SL_EUSAGE);
    CHECK(strstr(err.msg, "sha265") != NULL);
    json_decref(params);
    params = json_object();
    ctx.params = params;
    CHECK_EQ_INT(step->run(&ctx), SL_EUSAGE);
    json_decref(params);
    free(out);
    free(url);
    free(src);
    free(outdir);
    free(workdir);
}

int main(void) {
    const char *base = getenv("SEQLORA_TEST_TMP");
    if (!base) base = "/tmp";
    sl_err err;
    sl_fs_mkdirs(base, &err);
    snprintf(tmpdir, sizeof tmpdir, "%s/fetchlibXXXXXX", base);
    if (!mkdtemp(tmpdir)) return 1;
    RUN_TEST(test_real_manifest);
    RUN_TEST(test_manifest_variants);
    RUN_TEST(test_fasta_and_ensembl);
    RUN_TEST(test_file_download);
    RUN_TEST(test_step);
    sl_fs_remove_tree(tmpdir, &err);
    return TEST_RESULT();
}
