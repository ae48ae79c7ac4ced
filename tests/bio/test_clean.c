/* `clean` against its peer: for every real caller output in tests/data/callers, the records kept by
 * sl_bio_vcf_clean are exactly (byte for byte, after decompression) those `bcftools view -H -i EXPR` keeps,
 * for EXPR = 'QUAL>30 && INFO/DP>10' and 'QUAL>30 && FMT/DP>10', with all samples and with one sample
 * (`bcftools view -s S`). Plus BCF input, the index, determinism and bad input. Needs bcftools and bgzip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio/vcf_filter.h"
#include "test.h"
#include "util/fs.h"

static char tmp[4096], data[4096];

static int sh(const char *cmd) {
    int rc = system(cmd);
    return rc;
}

static char *slurp(const char *path) {
    char *d = NULL;
    size_t n;
    sl_err err;
    if (sl_fs_read_all(path, &d, &n, &err)) return NULL;
    return d;
}

/* Run clean and compare with bcftools; returns the number of records bcftools kept. */
static long compare_t(const char *file, int fmt_dp, const char *sample, int q, int dp) {
    char in[8192], out[8192], cmd[32768], a[8300], b[8300];
    if (file[0] == '/')
        snprintf(in, sizeof in, "%s", file);
    else
        snprintf(in, sizeof in, "%s/callers/%s", data, file);
    file = strrchr(in, '/') + 1;
    snprintf(out, sizeof out, "%s/%s.%d.%s.%d.%d.vcf.gz", tmp, file, fmt_dp, sample ? sample : "all", q, dp);
    snprintf(a, sizeof a, "%s.bcftools.txt", out);
    snprintf(b, sizeof b, "%s.ours.txt", out);
    snprintf(cmd, sizeof cmd, "bcftools view -H %s%s -i 'QUAL>%d && %s>%d' '%s' > '%s' 2>/dev/null",
             sample ? "-s " : "", sample ? sample : "", q, fmt_dp ? "FMT/DP" : "INFO/DP", dp, in, a);
    CHECK_EQ_INT(sh(cmd), 0);
    sl_bio_clean_opts o;
    sl_bio_clean_opts_init(&o);
    o.dp_field = fmt_dp ? SL_BIO_DP_FORMAT : SL_BIO_DP_INFO;
    o.min_qual = q;
    o.min_dp = dp;
    const char *s[1] = {sample};
    if (sample) {
        o.samples = s;
        o.n_samples = 1;
    }
    o.header_note = "test";
    sl_bio_clean_stats st;
    sl_err err;
    sl_err_clear(&err);
    int rc = sl_bio_vcf_clean(in, out, &o, &st, &err);
    char *expect = slurp(a);
    long n = 0;
    for (char *p = expect; p && *p; p++) n += *p == '\n';
    if (n == 0) {
        /* bcftools keeps nothing: for us an empty result is an error that says so */
        CHECK_EQ_INT(rc, SL_EDATA);
        CHECK(strstr(err.msg, "no record passed") != NULL);
    } else {
        if (rc) fprintf(stderr, "%s: %s\n", file, err.msg);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(st.records_kept, n);
        snprintf(cmd, sizeof cmd, "bgzip -dc '%s' | grep -v '^#' > '%s'", out, b);
        CHECK_EQ_INT(sh(cmd), 0);
        char *got = slurp(b);
        CHECK(got && expect && !strcmp(got, expect));
        free(got);
        char idx[8300];
        snprintf(idx, sizeof idx, "%s.tbi", out);
        CHECK(sl_fs_is_file(idx));
    }
    fprintf(stderr, "  %s QUAL>%d && %s>%d %s: bcftools kept %ld, ours %lld\n", file, q,
            fmt_dp ? "FMT/DP" : "INFO/DP", dp, sample ? sample : "(all samples)", n,
            rc ? 0 : st.records_kept);
    free(expect);
    return n;
}

static long compare(const char *file, int fmt_dp, const char *sample) {
    return compare_t(file, fmt_dp, sample, 30, 10);
}

/* Edge cases of the semantics on a small file: missing QUAL, missing INFO/DP, per-sample FORMAT/DP with
 * one sample missing, FORMAT without DP, QUAL exactly at the threshold. bcftools is the reference. */
static void test_semantics_edge_cases(void) {
    char path[8192];
    snprintf(path, sizeof path, "%s/edge.vcf", tmp);
    FILE *f = fopen(path, "w");
    fputs("##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
          "##INFO=<ID=DP,Number=1,Type=Integer,Description=\"d\">\n"
          "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"g\">\n"
          "##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"d\">\n"
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n"
          "1\t1\ta\tA\tC\t.\t.\tDP=20\tGT:DP\t0/1:20\t0/1:5\n"
          "1\t2\tb\tA\tC\t40\t.\t.\tGT:DP\t0/1:20\t0/1:5\n"
          "1\t3\tc\tA\tC\t40\t.\tDP=20\tGT:DP\t0/1:.\t0/1:5\n"
          "1\t4\td\tA\tC\t40\t.\tDP=20\tGT:DP\t0/1:5\t0/1:50\n"
          "1\t5\te\tA\tC\t40\t.\tDP=20\tGT\t0/1\t0/1\n"
          "1\t6\tf\tA\tC\t30\t.\tDP=11\tGT:DP\t0/1:11\t0/1:11\n"
          "1\t7\tg\tA\tC\t30.5\t.\tDP=10\tGT:DP\t0/1:10\t0/1:10\n"
          "1\t8\th\tA\tC\t31\t.\tDP=11\tGT:DP\t0/1:11\t0/1:11\n",
          f);
    fclose(f);
    CHECK_EQ_INT(compare_t(path, 0, NULL, 30, 10), 4);
    CHECK_EQ_INT(compare_t(path, 1, NULL, 30, 10), 3);
    CHECK_EQ_INT(compare_t(path, 1, "B", 30, 10), 3);
    compare_t(path, 0, "A", 20, 5);
    compare_t(path, 1, NULL, 0, 10);
}

static void test_against_bcftools(void) {
    static const char *files[] = {"freebayes.vcf.gz", "gatk.vcf.gz", "samtools.vcf", "bcftools.vcf.gz"};
    long total = 0;
    for (int i = 0; i < 4; i++)
        for (int f = 0; f < 2; f++) total += compare(files[i], f, NULL);
    /* one sample of a multi-sample file: bcftools tests FMT/DP on all input samples before subsetting.
     * bcftools refuses to subset samples when a contig is undeclared ("Undefined tags in the header,
     * cannot proceed in the sample subset mode"), so the peer runs on a copy of freebayes.vcf.gz with the
     * ##contig line added; ours runs on the same copy. */
    char fixed[8192], cmd[32768];
    snprintf(fixed, sizeof fixed, "%s/freebayes.contig.vcf.gz", tmp);
    snprintf(cmd, sizeof cmd,
             "bgzip -dc '%s/callers/freebayes.vcf.gz' | sed '2i ##contig=<ID=chr22>' | bgzip > '%s'", data,
             fixed);
    CHECK_EQ_INT(sh(cmd), 0);
    total += compare(fixed, 1, "NA12891");
    total += compare(fixed, 0, "NA12891");
    total += compare(fixed, 1, "NA12878");
    total += compare("gatk.vcf.gz", 1, "BLANK");
    /* thresholds where INFO/DP and FORMAT/DP disagree on these files */
    compare_t("gatk.vcf.gz", 1, NULL, 100, 249);
    compare_t("gatk.vcf.gz", 0, NULL, 100, 1500);
    compare_t(fixed, 1, NULL, 50, 60);
    compare_t(fixed, 0, NULL, 50, 60);
    compare_t(fixed, 1, "NA12891", 20, 40);
    CHECK(total > 300);
}

static void test_bcf_input_and_determinism(void) {
    char bcf[8192], o1[8192], o2[8192], cmd[32768];
    snprintf(bcf, sizeof bcf, "%s/freebayes.bcf", tmp);
    snprintf(cmd, sizeof cmd,
             "bcftools view --no-version -Ob -o '%s' '%s/freebayes.contig.vcf.gz' 2>/dev/null", bcf, tmp);
    CHECK_EQ_INT(sh(cmd), 0);
    snprintf(o1, sizeof o1, "%s/det1.vcf.gz", tmp);
    snprintf(o2, sizeof o2, "%s/det2.vcf.gz", tmp);
    sl_bio_clean_opts o;
    sl_bio_clean_opts_init(&o);
    o.index_csi = 1;
    sl_bio_clean_stats st;
    sl_err err;
    CHECK_EQ_INT(sl_bio_vcf_clean(bcf, o1, &o, &st, &err), 0);
    CHECK_EQ_INT(st.records_kept, 98); /* SOURCES.md: 98 of 104 pass QUAL>30 && INFO/DP>10 */
    char in[8192];
    snprintf(in, sizeof in, "%s/freebayes.contig.vcf.gz", tmp);
    CHECK_EQ_INT(sl_bio_vcf_clean(in, o2, &o, &st, &err), 0);
    snprintf(cmd, sizeof cmd, "cmp -s <(bgzip -dc '%s' | grep -v '^#') <(bgzip -dc '%s' | grep -v '^#')", o1,
             o2);
    char full[33000];
    snprintf(full, sizeof full, "bash -c \"%s\"", cmd);
    CHECK_EQ_INT(sh(full), 0); /* the same records from BCF and from VCF input */
    char o3[8192];
    snprintf(o3, sizeof o3, "%s/det3.vcf.gz", tmp);
    CHECK_EQ_INT(sl_bio_vcf_clean(in, o3, &o, &st, &err), 0);
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", o2, o3);
    CHECK_EQ_INT(sh(cmd), 0); /* byte-identical output on a rerun */
    char csi[8300];
    snprintf(csi, sizeof csi, "%s.csi", o1);
    CHECK(sl_fs_is_file(csi));
}

static void test_bad_input(void) {
    char trunc[8192], out[8192], cmd[32768];
    sl_bio_clean_opts o;
    sl_bio_clean_opts_init(&o);
    sl_err err;
    snprintf(out, sizeof out, "%s/bad.vcf.gz", tmp);
    /* truncated gzip */
    snprintf(trunc, sizeof trunc, "%s/trunc.vcf.gz", tmp);
    snprintf(cmd, sizeof cmd, "head -c 5000 '%s/callers/freebayes.vcf.gz' > '%s'", data, trunc);
    CHECK_EQ_INT(sh(cmd), 0);
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_vcf_clean(trunc, out, &o, NULL, &err), SL_EDATA);
    CHECK(strstr(err.msg, "trunc.vcf.gz") != NULL);
    /* unknown sample */
    char in[8192];
    snprintf(in, sizeof in, "%s/callers/freebayes.vcf.gz", data);
    const char *s[1] = {"NOBODY"};
    o.samples = s;
    o.n_samples = 1;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_vcf_clean(in, out, &o, NULL, &err), SL_EUSAGE);
    CHECK(strstr(err.msg, "NOBODY") != NULL);
    /* not a VCF */
    o.samples = NULL;
    o.n_samples = 0;
    char fa[8192];
    snprintf(fa, sizeof fa, "%s/brca1/NM_007294.3.cds.fa", data);
    sl_err_clear(&err);
    CHECK(sl_bio_vcf_clean(fa, out, &o, NULL, &err) < 0);
    fprintf(stderr, "  not a VCF: %s\n", err.msg);
    /* missing file */
    sl_err_clear(&err);
    CHECK(sl_bio_vcf_clean("/nonexistent.vcf", out, &o, NULL, &err) < 0);
}

int main(void) {
    const char *t = getenv("SEQLORA_TEST_TMP"), *d = getenv("SEQLORA_TEST_DATA");
    snprintf(tmp, sizeof tmp, "%s", t ? t : "/tmp/seqlora-test-clean");
    snprintf(data, sizeof data, "%s", d ? d : "tests/data");
    sl_err err;
    sl_fs_remove_tree(tmp, &err);
    sl_fs_mkdirs(tmp, &err);
    RUN_TEST(test_semantics_edge_cases);
    RUN_TEST(test_against_bcftools);
    RUN_TEST(test_bcf_input_and_determinism);
    RUN_TEST(test_bad_input);
    return TEST_RESULT();
}
