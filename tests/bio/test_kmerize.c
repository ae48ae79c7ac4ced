/* kmerize building blocks against truth: the spliced BRCA1 CDS taken from the GRCh37 region FASTA through
 * the GFF3 and through the BED equals NM_007294.3's CDS (RefSeq) base for base; the 6-mer text of DNABERT's
 * own fine-tuning file is reproduced exactly from its bases; region-named FASTA coordinates; NT 6-mers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/kmer.h"
#include "bio/reference.h"
#include "bio/regions.h"
#include "bio/tsv.h"
#include "test.h"
#include "util/fs.h"

static char data[4096], tmp[4096];

static char *read_fasta_seq(const char *path) {
    char *d = NULL;
    size_t n;
    sl_err err;
    if (sl_fs_read_all(path, &d, &n, &err)) return NULL;
    char *o = malloc(n + 1);
    size_t k = 0;
    int header = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '>') header = 1;
        if (d[i] == '\n') {
            header = 0;
            continue;
        }
        if (!header) o[k++] = d[i];
    }
    o[k] = 0;
    free(d);
    return o;
}

static void test_cds_equals_refseq(void) {
    char fa[8192], gff[8192], bed[8192], cds[8192];
    snprintf(fa, sizeof fa, "%s/brca1/GRCh37_chr17_41100001-41300000.fa", data);
    snprintf(gff, sizeof gff, "%s/brca1/NM_007294.3.cds.GRCh37.gff3", data);
    snprintf(bed, sizeof bed, "%s/brca1/NM_007294.3.cds.GRCh37.bed", data);
    snprintf(cds, sizeof cds, "%s/brca1/NM_007294.3.cds.fa", data);
    char *truth = read_fasta_seq(cds);
    CHECK(truth && strlen(truth) == 5592);
    sl_err err;
    sl_err_clear(&err);
    sl_bio_ref *ref = NULL;
    CHECK_EQ_INT(sl_bio_ref_open(fa, tmp, &ref, &err), 0);
    if (!ref) return;
    for (int src = 0; src < 2; src++) {
        sl_bio_intervals iv;
        int rc = src ? sl_bio_bed_read(bed, &iv, &err) : sl_bio_cds_read(gff, "NM_007294.3", &iv, &err);
        CHECK_EQ_INT(rc, 0);
        if (rc) continue;
        CHECK_EQ_INT(iv.n, 22);
        char *seq = NULL, strand = 0;
        CHECK_EQ_INT(sl_bio_spliced_sequence(ref, &iv, &seq, &strand, &err), 0);
        CHECK_EQ_INT(strand, '-');
        CHECK(seq && truth && !strcmp(seq, truth));
        CHECK(seq && !strncmp(seq, "ATG", 3) && !strcmp(seq + strlen(seq) - 3, "TGA"));
        free(seq);
        sl_bio_intervals_free(&iv);
    }
    /* region-named sequence: chr17:41197722 is base 97722 of the FASTA; "17" and "chr17" both resolve */
    char *b = NULL;
    CHECK_EQ_INT(sl_bio_ref_fetch(ref, "17", 41197721, 41197722, &b, &err), 0);
    CHECK_EQ_STR(b, "T"); /* Findlay's first record: chr17:41197722 REF T */
    free(b);
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_ref_fetch(ref, "chr17", 41000000, 41000010, &b, &err), SL_ENOTFOUND);
    CHECK(strstr(err.msg, "chr17:41100001-41300000") != NULL);
    sl_bio_ref_close(ref);
    free(truth);
}

static void test_dnabert_text_reproduced(void) {
    char path[8192];
    snprintf(path, sizeof path, "%s/dnabert/sample_ft_6mer.head50.tsv", data);
    sl_bio_tsv *t = NULL;
    sl_err err;
    CHECK_EQ_INT(sl_bio_tsv_open(path, &t, &err), 0);
    if (!t) return;
    CHECK_EQ_INT(sl_bio_tsv_next(t, &err), 1); /* header */
    int rows = 0, equal = 0;
    while (sl_bio_tsv_next(t, &err) == 1) {
        const char *text = t->fields[0];
        /* the bases: first letter of every word, then the rest of the last word */
        size_t n = strlen(text);
        char *bases = malloc(n + 1);
        size_t k = 0;
        const char *w = text, *last = text;
        while (*w) {
            last = w;
            bases[k++] = *w;
            const char *sp = strchr(w, ' ');
            if (!sp) break;
            w = sp + 1;
        }
        for (size_t i = 1; last[i]; i++) bases[k++] = last[i];
        bases[k] = 0;
        char *ours = NULL;
        CHECK_EQ_INT(sl_bio_tokenize(bases, k, SL_BIO_TOK_KMER, 6, &ours, &err), 0);
        equal += ours && !strcmp(ours, text);
        rows++;
        free(ours);
        free(bases);
    }
    sl_bio_tsv_close(t);
    CHECK_EQ_INT(rows, 50);
    CHECK_EQ_INT(equal, 50);
}

static void test_nt6_and_raw(void) {
    sl_err err;
    char *o = NULL;
    /* 6-mers from the left; the chunk "NNAAAA" has N: single bases; the short tail: single bases */
    CHECK_EQ_INT(sl_bio_tokenize("acgtacGGATCCNNAAAAAAT", 21, SL_BIO_TOK_NT6, 6, &o, &err), 0);
    CHECK_EQ_STR(o, "ACGTAC GGATCC N N A A A A A A T");
    free(o);
    CHECK_EQ_INT(sl_bio_tokenize("ACGTACGGATCCNNAAAAAATTTTTTG", 27, SL_BIO_TOK_NT6, 6, &o, &err), 0);
    CHECK_EQ_STR(o, "ACGTAC GGATCC N N A A A A AATTTT T T G");
    free(o);
    CHECK_EQ_INT(sl_bio_tokenize("acgN", 4, SL_BIO_TOK_RAW, 6, &o, &err), 0);
    CHECK_EQ_STR(o, "ACGN");
    free(o);
    CHECK_EQ_INT(sl_bio_tokenize("ACGTA", 5, SL_BIO_TOK_KMER, 3, &o, &err), 0);
    CHECK_EQ_STR(o, "ACG CGT GTA");
    free(o);
    CHECK_EQ_INT(sl_bio_tokenize("ACG", 3, SL_BIO_TOK_KMER, 6, &o, &err), SL_EDATA);
    CHECK_EQ_INT(sl_bio_tokenize("ACGTACGT", 8, SL_BIO_TOK_KMER, 9, &o, &err), SL_EUSAGE);
    char rc[] = "AACGTN";
    sl_bio_revcomp(rc, 6);
    CHECK_EQ_STR(rc, "NACGTT");
}

int main(void) {
    const char *t = getenv("SEQLORA_TEST_TMP"), *d = getenv("SEQLORA_TEST_DATA");
    snprintf(tmp, sizeof tmp, "%s", t ? t : "/tmp/seqlora-test-kmerize");
    snprintf(data, sizeof data, "%s", d ? d : "tests/data");
    sl_err err;
    sl_fs_remove_tree(tmp, &err);
    sl_fs_mkdirs(tmp, &err);
    RUN_TEST(test_cds_equals_refseq);
    RUN_TEST(test_dnabert_text_reproduced);
    RUN_TEST(test_nt6_and_raw);
    return TEST_RESULT();
}
