/* clinical under the sanitizers: quoted GDC fields, missing values, a map, no row left (an error; once a
 * qsort(NULL, 0) found by the fuzzer), duplicate ids. The peer test against Python's csv module on the real
 * TCGA-BRCA export is test_clinical.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/clinical.h"
#include "test.h"
#include "util/fs.h"

static char tmp[4096];

static const char *write_file(const char *name, const char *text) {
    static char path[8192];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_convert(void) {
    char in[8192], out[8192];
    snprintf(in, sizeof in, "%s",
             write_file("c.tsv", "case\tvital\tdx\n"
                                 "A\talive\t\"Duct, NOS\"\n"
                                 "B\t--\tx\n"
                                 "--\tdead\tx\n"
                                 "C\t\"dead\"\t'--\n"
                                 "D\tnot reported\tx\n"));
    snprintf(out, sizeof out, "%s/labels.tsv", tmp);
    const char *cov[1] = {"dx"};
    sl_bio_clinical_opts o = {"case", "vital", NULL, NULL, 0, cov, 1};
    sl_bio_clinical_stats st;
    sl_err err;
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_clinical_convert(in, out, &o, &st, &err), 0);
    CHECK_EQ_INT(st.rows_in, 5);
    CHECK_EQ_INT(st.kept, 2);
    CHECK_EQ_INT(st.dropped_missing_id, 1);
    CHECK_EQ_INT(st.dropped_missing_label, 2);
    sl_bio_clinical_stats_free(&st);
    char *txt = NULL;
    size_t n;
    CHECK_EQ_INT(sl_fs_read_all(out, &txt, &n, &err), 0);
    CHECK_EQ_STR(txt, "id\tlabel\tdx\nA\talive\tDuct, NOS\nC\tdead\tNA\n");
    free(txt);
    /* a map that keeps nothing: an error, not an empty table */
    const char *from[1] = {"alive_x"}, *to[1] = {"0"};
    sl_bio_clinical_opts m = {"case", "vital", from, to, 1, NULL, 0};
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_clinical_convert(in, out, &m, &st, &err), SL_EDATA);
    CHECK(strstr(err.msg, "no row left") != NULL);
    /* duplicate ids */
    snprintf(in, sizeof in, "%s", write_file("d.tsv", "case\tvital\nA\talive\nB\tdead\nA\tdead\n"));
    sl_err_clear(&err);
    sl_bio_clinical_opts plain = {"case", "vital", NULL, NULL, 0, NULL, 0};
    CHECK_EQ_INT(sl_bio_clinical_convert(in, out, &plain, &st, &err), SL_EDATA);
    CHECK(strstr(err.msg, "duplicate id 'A' on lines 2 and 4") != NULL);
}

int main(void) {
    const char *t = getenv("SEQLORA_TEST_TMP");
    snprintf(tmp, sizeof tmp, "%s", t ? t : "/tmp/seqlora-test-clinical");
    sl_err err;
    sl_fs_remove_tree(tmp, &err);
    sl_fs_mkdirs(tmp, &err);
    RUN_TEST(test_convert);
    return TEST_RESULT();
}
