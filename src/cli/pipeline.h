/* `seqlora run`: a whole pipeline from one JSON config (docs/run.md, docs/config.schema.json).
 *
 *   pipeline_config.c  the config: validation (unknown keys and wrong types are errors naming the key),
 *                      defaults (the seed's: k 6, 7:3 split, r 16, alpha 32, ...), relative paths, the demo
 *   pipeline_plan.c    the stages (steps with parameters and inputs wired to earlier outputs), planning
 *                      (keys, cached or not) and running them through the runner
 *   pipeline_baseline.c  score and category baselines written as predictions tables
 *   pipeline_report.c  the summary on stderr/stdout, summary.json and report.md
 *
 * Not thread-safe (one pipeline per process). */
#ifndef SEQLORA_CLI_PIPELINE_H
#define SEQLORA_CLI_PIPELINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "runner.h"
#include "util/error.h"

/* ---- config ------------------------------------------------------------------------------------------ */

/* The effective configuration of `path` (NULL = the embedded demo): the user's values checked against the
 * schema, every missing key filled with its default, every path made absolute (relative paths are taken
 * from the config file's folder; the demo's from the demo data folder, see sl_pipeline_demo_data_dir).
 * Errors: SL_EUSAGE naming "<file>: <key.path>: <what was expected>" (unknown key, wrong type, value out of
 * range, missing required key), SL_EDATA for a file that is not JSON, SL_ENOTFOUND. *out is a new reference.
 */
int sl_pipeline_config_load(const char *path, json_t **out, sl_err *err);

/* Validate and complete an already parsed config (`origin` names it in messages, `base_dir` resolves
 * relative paths; NULL = leave them). Same errors as above. */
int sl_pipeline_config_check(const json_t *user, const char *origin, const char *base_dir, json_t **out,
                             sl_err *err);

/* Every default as one config object (a new reference): what `seqlora run --print-config` shows for {}. */
json_t *sl_pipeline_config_defaults(void);

/* The embedded demo's config text (paths relative to the demo data folder). */
const char *sl_pipeline_demo_config(void);

/* The folder holding the embedded demo data: $SEQLORA_DEMO_DATA when set, else the first of
 * <exe>/../data, <exe>/../../data, <exe>/../share/seqlora/data, ./data that holds the demo FASTA.
 * A malloc'd absolute path, or NULL with err filled (SL_ENOTFOUND naming the places looked at). */
char *sl_pipeline_demo_data_dir(sl_err *err);

/* ---- stages ------------------------------------------------------------------------------------------ */

#define SL_PIPE_MAX_IN 6
#define SL_PIPE_MAX_OUT 4

/* An input of a stage: a path or sha256: reference (`path`), or the output `output` of stage `from`. */
typedef struct sl_pipe_in {
    const char *role;
    char *path;         /* owned; NULL when from >= 0 */
    int from;           /* index of the stage producing it, or -1 */
    const char *output; /* output name of that stage */
} sl_pipe_in;

typedef struct sl_pipe_out {
    const char *name; /* output name */
    char *dest;       /* owned: where it is materialised under OUTDIR (NULL = store only) */
} sl_pipe_out;

typedef enum { SL_PIPE_STEP = 0, SL_PIPE_BASELINE } sl_pipe_kind;

typedef struct sl_pipe_stage {
    char label[48]; /* what the user sees: "kmerize", "split test", "evaluate cadd", ... */
    sl_pipe_kind kind;
    const char *step; /* step name (SL_PIPE_STEP) */
    json_t *params;   /* owned */
    sl_pipe_in in[SL_PIPE_MAX_IN];
    size_t n_in;
    sl_pipe_out out[SL_PIPE_MAX_OUT];
    size_t n_out;
    /* SL_PIPE_BASELINE: write the predictions table `baseline_out` from stage `baseline_src` outputs */
    char *baseline_column; /* owned: the metadata column */
    int baseline_score;    /* 1 = a numeric score column, 0 = a category column (rate per category) */
    char *baseline_out;    /* owned: the predictions TSV written */
    /* filled by planning / running */
    int state; /* 0 = unknown (an earlier stage will run), 1 = cached, 2 = will run, 3 = ran */
    char key[65];
    double seconds;
    json_t *record; /* owned: the action record once known */
} sl_pipe_stage;

typedef struct sl_pipeline {
    json_t *config;  /* the effective config (owned) */
    char *outdir;    /* owned, absolute */
    int random_base; /* 1 when the base is randomly initialised (and not pretrained) */
    int pretrained;  /* 1 when the base is initialised and then MLM-pretrained here (base.pretrain) */
    sl_pipe_stage *stages;
    size_t n;
    size_t i_kmerize, i_split_test, i_split_val, i_pretrain, i_train, i_eval_model,
        i_package; /* SIZE_MAX = none */
    size_t i_baseline_eval[8];
    char *baseline_names[8];
    size_t n_baselines;
} sl_pipeline;

/* Build the stages of `config` (effective) writing under `outdir`. */
int sl_pipeline_build(const json_t *config, const char *outdir, sl_pipeline *p, sl_err *err);

void sl_pipeline_free(sl_pipeline *p);

/* Plan: for every stage whose inputs are known, its key and whether it is cached (state 1 or 2; 0 when an
 * earlier stage must run first; never cached with opts->no_cache). Adds input files to the store (see
 * sl_runner_plan), runs nothing. */
int sl_pipeline_plan(sl_pipeline *p, const sl_run_opts *opts, sl_err *err);

/* Run every stage in order (each cached or run through sl_runner_run), printing one line per stage on
 * stderr unless opts->quiet. Stops at the first failure (err names the stage). */
int sl_pipeline_run(sl_pipeline *p, const sl_run_opts *opts, sl_err *err);

/* ---- baselines --------------------------------------------------------------------------------------- */

/* Score baseline: a predictions TSV (id label prob_<c0> prob_<c1>) for the binary task of `test_tsv`, the
 * positive class' probability being the rank of the row's value of numeric column `column` among the test
 * rows, scaled to [0, 1] ((rank-1)/(n-1), ties sharing their average rank; AUROC is rank-based, so it is
 * the score's own AUROC). `classes` = the two class names, the second positive. Rows whose value is NA are
 * dropped and counted in *dropped. */
int sl_pipeline_score_baseline(const char *test_tsv, const char *column, const char *const classes[2],
                               const char *out_tsv, size_t *dropped, sl_err *err);

/* Category baseline: for each value of column `column`, the class frequencies among the rows of
 * `train_tsv` with that value (Laplace-smoothed: (count+1)/(n+K)); a value never seen in training gets the
 * overall training frequencies. Written as the predictions TSV of `test_tsv` for `classes` (K names). */
int sl_pipeline_category_baseline(const char *train_tsv, const char *test_tsv, const char *column,
                                  const char *const *classes, size_t k, const char *out_tsv, sl_err *err);

/* The sorted distinct labels of a dataset TSV (malloc'd strings; free each and the array). */
int sl_pipeline_dataset_labels(const char *tsv, char ***labels, size_t *n, sl_err *err);

/* ---- report ------------------------------------------------------------------------------------------ */

/* The final summary: `summary.json` and `report.md` in OUTDIR, and a short text summary on `out`
 * (stderr for people). */
int sl_pipeline_report(const sl_pipeline *p, FILE *out, sl_err *err);

#endif
