/* Fuzz target: GDC clinical TSVs (src/bio/clinical.h) converted to an id/label table with a value map
 * and a covariate, and the sex table / sexcheck TSV readers (src/bio/sexcheck.h, src/bio/tsv.h) on the
 * same bytes. */
#include <stdlib.h>

#include "bio/clinical.h"
#include "bio/sexcheck.h"
#include "bio/tsv.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = fz_file("clinical.tsv", data, size);
    sl_err err;
    static const char *const from[2] = {"Dead", "Alive"}, *const to[2] = {"1", "0"};
    static const char *const cov[1] = {"gender"};
    sl_bio_clinical_opts o = {"case_submitter_id", "vital_status", from, to, 2, cov, 1};
    sl_bio_clinical_stats st;
    if (!sl_bio_clinical_convert(in, fz_path("labels.tsv"), &o, &st, &err)) sl_bio_clinical_stats_free(&st);
    sl_bio_clinical_opts plain = {"case_submitter_id", "vital_status", NULL, NULL, 0, NULL, 0};
    if (!sl_bio_clinical_convert(in, fz_path("labels.tsv"), &plain, &st, &err))
        sl_bio_clinical_stats_free(&st);

    char **names = NULL;
    size_t n = 0;
    if (!sl_bio_sexcheck_read_problems(in, &names, &n, &err)) sl_bio_sexcheck_free_names(names, n);

    sl_bio_tsv *t = NULL;
    if (!sl_bio_tsv_open(in, &t, &err)) {
        (void)sl_bio_tsv_find(t, "sex");
        for (int i = 0; i < 100000 && sl_bio_tsv_next(t, &err) > 0; i++) {
        }
        sl_bio_tsv_close(t);
    }
    return 0;
}
