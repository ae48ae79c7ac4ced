/* Clinical tables (GDC `clinical.tsv` conventions) → a label table for kmerize's sample mode.
 *
 * Input: a TSV with a header line. Fields may be wrapped in double quotes (GDC quotes values that hold a
 * comma; "" inside is a quote). Missing values, as the GDC portal writes them: empty, "--", "'--",
 * "not reported", "Not Reported", "unknown", "Unknown" (compared case-insensitively).
 * Output: `id<TAB>label[<TAB>covariate...]` with a header line (`id`, `label`, then the covariate column
 * names), one row per kept case, in input order.
 *
 * Rows with a missing id or label are dropped and counted; with a value map, a label value outside the map
 * is dropped and counted ("unmapped"). A duplicate id among the kept rows is an error naming both lines.
 * No kept row is an error. */
#ifndef SEQLORA_BIO_CLINICAL_H
#define SEQLORA_BIO_CLINICAL_H

#include <stddef.h>

#include "util/error.h"

typedef struct sl_bio_clinical_opts {
    const char *id_column;
    const char *label_column;
    const char *const *map_from; /* value → label pairs (NULL = labels as they are) */
    const char *const *map_to;
    size_t n_map;
    const char *const *covariates; /* columns carried through (missing values written as "NA") */
    size_t n_covariates;
} sl_bio_clinical_opts;

typedef struct sl_bio_clinical_stats {
    long rows_in;
    long kept;
    long dropped_missing_id;
    long dropped_missing_label;
    long dropped_unmapped;
    char **labels; /* distinct labels in first-seen order, with their counts */
    long *label_counts;
    size_t n_labels;
} sl_bio_clinical_stats;

/* 1 when `s` is one of the GDC missing-value spellings listed above. */
int sl_bio_clinical_is_missing(const char *s);

/* Convert `in` into the label table `out` (written atomically). `stats` is filled on success and must be
 * released with sl_bio_clinical_stats_free. */
int sl_bio_clinical_convert(const char *in, const char *out, const sl_bio_clinical_opts *opts,
                            sl_bio_clinical_stats *stats, sl_err *err);

void sl_bio_clinical_stats_free(sl_bio_clinical_stats *s);

#endif
