/* The dataset and split library code under the sanitizers (the CLI-level peer tests live in
 * test_kmerize_modes.py and test_split.py): variant mode on the Findlay VCF (2,529 FUNC/LOF rows, 101-base
 * windows), sample mode on a tiny two-sample VCF written here (SNV and deletion applied on the right
 * haplotype, IUPAC code), FASTA mode, and split with groups, folds and augmentation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/dataset.h"
#include "bio/split.h"
#include "test.h"
#include "util/fs.h"

static char data[4096], tmp[4096];

static char *slurp(const char *path) {
    char *d = NULL;
    size_t n;
    sl_err err;
    return sl_fs_read_all(path, &d, &n, &err) ? NULL : d;
}

static long count_lines(const char *s) {
    long n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

static void test_variant_mode(void) {
    char fa[8192], vcf[8192], out[8192];
    snprintf(fa, sizeof fa, "%s/brca1/GRCh37_chr17_41100001-41300000.fa", data);
    snprintf(vcf, sizeof vcf, "%s/brca1/findlay2018_sge.GRCh37.vcf", data);
    snprintf(out, sizeof out, "%s/variants.tsv", tmp);
    sl_err err;
    sl_err_clear(&err);
    sl_bio_ref *ref = NULL;
    CHECK_EQ_INT(sl_bio_ref_open(fa, tmp, &ref, &err), 0);
    if (!ref) return;
    sl_bio_kmerize_opts o;
    sl_bio_kmerize_opts_init(&o);
    o.label_field = "FUNC_CLASS";
    const char *from[2] = {"FUNC", "LOF"}, *to[2] = {"FUNC", "LOF"};
    o.map_from = from;
    o.map_to = to;
    o.n_map = 2;
    o.strand = '-';
    o.ref_column = 1;
    json_t *sum = json_object();
    int rc = sl_bio_kmerize_variants(vcf, ref, &o, out, sum, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(sum, "rows")), 2529);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(sum, "label_counts"), "LOF")), 557);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(sum, "length"), "min")), 101);
    json_decref(sum);
    char *txt = slurp(out);
    CHECK_EQ_INT(count_lines(txt), 2530);
    free(txt);
    /* FASTA mode on the same reference, tiled */
    o.stride = 50000;
    o.window = 100000;
    o.tok = SL_BIO_TOK_RAW;
    o.n_map = 0;
    sum = json_object();
    CHECK_EQ_INT(sl_bio_kmerize_fasta(ref, NULL, &o, out, sum, &err), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(sum, "rows")),
                 3); /* 200 kb in 100 kb windows every 50 kb */
    json_decref(sum);
    sl_bio_ref_close(ref);
}

static void test_sample_mode(void) {
    char fa[8192], vcf[8192], lab[8192], out[8192];
    snprintf(fa, sizeof fa, "%s/brca1/GRCh37_chr17_41100001-41300000.fa", data);
    snprintf(vcf, sizeof vcf, "%s/tiny.vcf", tmp);
    snprintf(lab, sizeof lab, "%s/tiny_labels.tsv", tmp);
    snprintf(out, sizeof out, "%s/tiny_out.tsv", tmp);
    sl_err err;
    sl_err_clear(&err);
    sl_bio_ref *ref = NULL;
    CHECK_EQ_INT(sl_bio_ref_open(fa, tmp, &ref, &err), 0);
    if (!ref) return;
    char *region = NULL;
    CHECK_EQ_INT(sl_bio_ref_fetch(ref, "chr17", 41197710, 41197730, &region, &err),
                 0); /* 1-based 41197711..730 */
    /* SNV at 41197722 (T>A; region index 11), deletion at 41197725 (CA>C; index 14-15) */
    CHECK(region && region[11] == 'T');
    FILE *f = fopen(vcf, "w");
    fprintf(
        f,
        "##fileformat=VCFv4.2\n##contig=<ID=chr17>\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"g\">\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
        "chr17\t41197722\t.\tT\tA\t.\tPASS\t.\tGT\t0|1\t1|1\n"
        "chr17\t41197725\t.\t%c%c\t%c\t.\tPASS\t.\tGT\t1|0\t0|0\n",
        region[14], region[15], region[14]);
    fclose(f);
    f = fopen(lab, "w");
    fputs("id\tlabel\nS1\tcase\nS2\tcontrol\n", f);
    fclose(f);
    sl_bio_intervals iv = {calloc(1, sizeof(sl_bio_interval)), 1};
    CHECK_EQ_INT(sl_bio_region_parse("chr17:41197711-41197730", iv.v, &err), 0);
    sl_bio_kmerize_opts o;
    sl_bio_kmerize_opts_init(&o);
    o.tok = SL_BIO_TOK_RAW;
    o.haplotype = SL_BIO_HAP_BOTH;
    CHECK_EQ_INT(sl_bio_kmerize_samples(vcf, lab, ref, &iv, &o, out, NULL, &err), 0);
    char *txt = slurp(out);
    char h1[32], h2[32], s2[32];
    snprintf(h1, sizeof h1, "%s", region);
    memmove(h1 + 15, h1 + 16, strlen(h1 + 16) + 1); /* S1 haplotype 1: the deletion */
    snprintf(h2, sizeof h2, "%s", region);
    h2[11] = 'A'; /* S1 haplotype 2: the SNV */
    snprintf(s2, sizeof s2, "%s", h2);
    char line[256];
    snprintf(line, sizeof line, "S1_1\t%s\tcase\tS1\t1\t1\n", h1);
    CHECK(txt && strstr(txt, line));
    snprintf(line, sizeof line, "S1_2\t%s\tcase\tS1\t2\t1\n", h2);
    CHECK(txt && strstr(txt, line));
    snprintf(line, sizeof line, "S2_2\t%s\tcontrol\tS2\t2\t1\n", s2);
    CHECK(txt && strstr(txt, line));
    free(txt);
    /* IUPAC: S1 is heterozygous for a deletion → error; S2 alone would be fine */
    o.haplotype = SL_BIO_HAP_IUPAC;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_kmerize_samples(vcf, lab, ref, &iv, &o, out, NULL, &err), SL_EDATA);
    CHECK(strstr(err.msg, "IUPAC") != NULL);
    free(iv.v);
    free(region);
    sl_bio_ref_close(ref);
}

static void test_split(void) {
    char ds[8192], tr[8192], te[8192], fo[8192];
    snprintf(ds, sizeof ds, "%s/ds.tsv", tmp);
    snprintf(tr, sizeof tr, "%s/train.tsv", tmp);
    snprintf(te, sizeof te, "%s/test.tsv", tmp);
    snprintf(fo, sizeof fo, "%s/folds.tsv", tmp);
    FILE *f = fopen(ds, "w");
    fputs("id\tsequence\tlabel\tgroup\n", f);
    for (int i = 0; i < 200; i++)
        fprintf(f, "r%d\tACGTAC CGTACG GTACGT\t%s\tg%d\n", i, i % 4 ? "a" : "b", i % 10);
    fclose(f);
    sl_bio_split_opts o;
    sl_bio_split_opts_init(&o);
    o.seed = 3;
    sl_err err;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_augment_parse("substitute:0.5,revcomp", &o, &err), 0);
    json_t *sum = json_object();
    CHECK_EQ_INT(sl_bio_split(ds, tr, te, NULL, &o, sum, &err), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(sum, "test")), 60);
    CHECK_EQ_INT(json_integer_value(json_object_get(sum, "train")), 140 * 3);
    CHECK_EQ_INT(json_array_size(json_object_get(sum, "warnings")), 0);
    json_decref(sum);
    char *t = slurp(tr);
    CHECK(t && strstr(t, "#rc\tACGTAC CGTACG GTACGT\t")); /* ACGTACGT is its own reverse complement */
    free(t);
    o.group_by = "group";
    o.folds = 5;
    o.fold = 2;
    o.substitute = 0;
    o.revcomp = 0;
    sum = json_object();
    CHECK_EQ_INT(sl_bio_split(ds, tr, te, fo, &o, sum, &err), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(sum, "test")), 40); /* 2 of 10 groups of 20 */
    json_decref(sum);
    char *folds = slurp(fo);
    CHECK_EQ_INT(count_lines(folds), 201);
    free(folds);
    sl_bio_split_opts_init(&o);
    o.hard_min = 60;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_split(ds, tr, te, NULL, &o, NULL, &err), SL_EDATA);
    CHECK(strstr(err.msg, "label 'b' has 50 rows") != NULL);
    CHECK_EQ_INT(sl_bio_augment_parse("substitute:2", &o, &err), SL_EUSAGE);
    CHECK_EQ_INT(sl_bio_augment_parse("shuffle", &o, &err), SL_EUSAGE);
}

int main(void) {
    const char *t = getenv("SEQLORA_TEST_TMP"), *d = getenv("SEQLORA_TEST_DATA");
    snprintf(tmp, sizeof tmp, "%s", t ? t : "/tmp/seqlora-test-dataset");
    snprintf(data, sizeof data, "%s", d ? d : "tests/data");
    sl_err err;
    sl_fs_remove_tree(tmp, &err);
    sl_fs_mkdirs(tmp, &err);
    RUN_TEST(test_variant_mode);
    RUN_TEST(test_sample_mode);
    RUN_TEST(test_split);
    return TEST_RESULT();
}
