/* The `split` step: a dataset TSV → train.tsv + test.tsv (+ folds.tsv for k-fold) + split.json
 * (see src/bio/split.h).
 *
 * Inputs:  dataset (file).
 * Outputs: train.tsv, test.tsv, split.json, folds.tsv (only with folds > 1).
 * Params:  test_fraction (0.3), stratify (true), group_by (column), folds (0), fold (0), seed (required),
 *          warn_min (50), hard_min (0), augment ("substitute:0.03,revcomp" or absent). */
#include <stdlib.h>
#include <string.h>

#include "bio/split.h"
#include "step.h"
#include "util/json.h"

static int run_split(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *p = ctx->params;
    static const char *const known[] = {"test_fraction", "stratify", "group_by", "folds",   "fold",
                                        "seed",          "warn_min", "hard_min", "augment", NULL};
    const char *key;
    json_t *v;
    if (!json_is_object(p)) return sl_err_set(err, SL_EUSAGE, "split: parameters must be a JSON object");
    json_object_foreach((json_t *)p, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "split: unknown parameter '%s'", key);
    }
    if (!json_object_get(p, "seed")) return sl_err_set(err, SL_EUSAGE, "split: parameter 'seed' is required");
    sl_bio_split_opts o;
    sl_bio_split_opts_init(&o);
    long long folds, fold, seed, warn_min, hard_min;
    const char *augment = NULL;
    int rc;
    if ((rc = sl_json_get_real(p, "test_fraction", 0.3, &o.test_fraction, err)) ||
        (rc = sl_json_get_bool(p, "stratify", 1, &o.stratify, err)) ||
        (rc = sl_json_get_str(p, "group_by", NULL, &o.group_by, err)) ||
        (rc = sl_json_get_int(p, "folds", 0, &folds, err)) ||
        (rc = sl_json_get_int(p, "fold", 0, &fold, err)) ||
        (rc = sl_json_get_int(p, "seed", 0, &seed, err)) ||
        (rc = sl_json_get_int(p, "warn_min", 50, &warn_min, err)) ||
        (rc = sl_json_get_int(p, "hard_min", 0, &hard_min, err)) ||
        (rc = sl_json_get_str(p, "augment", NULL, &augment, err)) ||
        (rc = sl_bio_augment_parse(augment, &o, err)))
        return rc;
    if (folds < 0 || folds > 1000 || seed < 0)
        return sl_err_set(err, SL_EUSAGE, "split: folds in 0..1000, seed >= 0");
    o.warn_min = (long)warn_min;
    o.hard_min = (long)hard_min;
    o.folds = (int)folds;
    o.fold = (int)fold;
    o.seed = (uint64_t)seed;
    char *train = sl_step_out_path(ctx, "train.tsv"), *test = sl_step_out_path(ctx, "test.tsv"),
         *folds_path = sl_step_out_path(ctx, "folds.tsv"), *sum = sl_step_out_path(ctx, "split.json");
    json_t *summary = json_object();
    if (!train || !test || !folds_path || !sum || !summary) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc)
        rc = sl_bio_split(sl_step_input(ctx, "dataset"), train, test, o.folds > 1 ? folds_path : NULL, &o,
                          summary, err);
    if (!rc) rc = sl_json_write_file(sum, summary, 1, err);
    if (!rc && ctx->summary) json_object_update(ctx->summary, summary);
    json_decref(summary);
    free(train);
    free(test);
    free(folds_path);
    free(sum);
    return rc;
}

static const sl_step_io split_inputs[] = {{"dataset", SL_IO_FILE}, {NULL, 0}};
static const sl_step_io split_outputs[] = {
    {"train.tsv", SL_IO_FILE},
    {"test.tsv", SL_IO_FILE},
    {"split.json", SL_IO_FILE},
    {"folds.tsv", SL_IO_FILE | SL_IO_OPTIONAL},
    {NULL, 0},
};

const sl_step sl_step_split = {
    .name = "split",
    .version = 1,
    .summary =
        "seeded stratified / grouped / k-fold train-test split of a dataset, with training-only augmentation",
    .inputs = split_inputs,
    .outputs = split_outputs,
    .run = run_split,
};
