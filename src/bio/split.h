/* Train/test splits of a dataset TSV (dataset.h format: a header line, then id, sequence, label, metadata).
 *
 *   - stratified (default): within each label the rows are shuffled (seeded) and round(test_fraction * n)
 *     of them go to the test set, so both sides keep the class proportions;
 *   - random: the same on all rows at once (stratify off);
 *   - grouped (`group_by` COLUMN): all rows of a group land on one side. Groups are shuffled (seeded) and
 *     taken into the test set, largest first among equals, while that brings the test size closer to
 *     test_fraction * N (exact fractions are not always reachable; the summary reports the actual one);
 *   - k-fold (`folds` K > 1): every row (or group) gets a fold 0..K-1 (stratified: within each label in
 *     turn; grouped: each group to the currently smallest fold), and fold `fold` is the test set.
 * Randomness: Philox (util/rng.h) keyed by `seed`; the same seed gives the same split on any machine.
 *
 * Augmentation (training rows only, never test rows), seeded and recorded: `substitute:P` adds a copy of
 * each training row with every base replaced by a different random base with probability P (id
 * "<id>#sub"); `revcomp` adds the reverse complement (id "<id>#rc"; a ref_sequence column is
 * reverse-complemented too). The sequence text is decoded and re-encoded in its own representation
 * (overlapping k-mers, NT 6-mers or raw bases, detected from the text).
 *
 * Class minimum: a label with fewer than `warn_min` rows (default 50, the seed's minimum) adds a warning to
 * the summary; fewer than `hard_min` (default 0 = off) is an error. */
#ifndef SEQLORA_BIO_SPLIT_H
#define SEQLORA_BIO_SPLIT_H

#include <jansson.h>
#include <stdint.h>

#include "util/error.h"

typedef struct sl_bio_split_opts {
    double test_fraction; /* default 0.3 */
    int stratify;         /* default 1 */
    const char *group_by; /* NULL = no grouping */
    int folds;            /* 0 or 1 = a single split */
    int fold;             /* which fold is the test set */
    uint64_t seed;
    long warn_min;     /* default 50 */
    long hard_min;     /* default 0 */
    double substitute; /* 0 = off */
    int revcomp;
} sl_bio_split_opts;

void sl_bio_split_opts_init(sl_bio_split_opts *o);

/* Parse "substitute:0.03,revcomp" into o->substitute / o->revcomp ("" or "none" = no augmentation). */
int sl_bio_augment_parse(const char *spec, sl_bio_split_opts *o, sl_err *err);

/* Split `dataset` into `train` and `test` (same header), and, when folds > 1 and `folds_path` is not NULL,
 * write `id<TAB>fold` for every row there. Fills `summary` (counts per side and label, groups, actual test
 * fraction, augmentation, warnings). */
int sl_bio_split(const char *dataset, const char *train, const char *test, const char *folds_path,
                 const sl_bio_split_opts *o, json_t *summary, sl_err *err);

#endif
