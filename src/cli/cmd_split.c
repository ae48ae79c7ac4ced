/* seqlora split: train/test split of a dataset TSV (the `split` step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
    "usage: seqlora split --dataset DATASET.tsv --seed S -o OUTDIR [options]\n\n"
    "Split a dataset (`seqlora kmerize` output) into OUTDIR/train.tsv and OUTDIR/test.tsv (same "
    "header),\n"
    "with OUTDIR/split.json (counts per side and label, actual test fraction, warnings). Stratified by\n"
    "label by default (7:3); --group-by keeps every row of a group (an exon, a gene, a family) on one\n"
    "side; --folds K assigns K folds (OUTDIR/folds.tsv) and uses --fold I as the test set. Labels with\n"
    "fewer than 50 rows (the seed's minimum) are warned about; --min-per-class makes it an error.\n"
    "Augmentation adds rows to the training set only, seeded and recorded.\n\n";

int sl_cmd_split(int argc, char **argv) {
    const char *dataset = NULL, *out = NULL, *group = NULL, *augment = NULL;
    long long seed = 0, folds = 0, fold = 0, warn = 50, min = 0;
    double frac = 0.3;
    int stratify = 1;
    const sl_cli_opt opts[] = {
        {.name = "dataset",
         .arg = "FILE",
         .help = "the dataset TSV (required)",
         .str = &dataset,
         .flags = SL_CLI_REQUIRED},
        {.name = "seed",
         .arg = "S",
         .help = "random seed (required; the split is a pure function of data and seed)",
         .num = &seed,
         .imin = 0,
         .imax = 1LL << 62,
         .flags = SL_CLI_REQUIRED,
         .param = "seed"},
        SL_CLI_OPT_OUTPUT(&out, "DIR",
                          "where to write train.tsv, test.tsv, split.json [, folds.tsv] (required)",
                          SL_CLI_REQUIRED),
        SL_CLI_REAL_OPT("test-fraction", "F", "test share, 0 < F < 1 (default 0.3)", &frac, 0, 1,
                        SL_CLI_LO_OPEN | SL_CLI_HI_OPEN | SL_CLI_IF_GIVEN, "test_fraction"),
        {.name = "stratify",
         .help = "stratify by label (the default); --no-stratify: a plain random split",
         .flag = &stratify,
         .flags = SL_CLI_IF_GIVEN,
         .param = "stratify"},
        {.name = "no-stratify",
         .flag = &stratify,
         .flags = SL_CLI_NEGATE | SL_CLI_IF_GIVEN,
         .param = "stratify"},
        {.name = "group-by",
         .arg = "COLUMN",
         .help = "split by groups of this column (e.g. exon)",
         .str = &group,
         .param = "group_by"},
        {.name = "folds",
         .arg = "K",
         .help = "k-fold assignment (K in 2..1000); --fold I picks the test fold (default 0)",
         .num = &folds,
         .imin = 0,
         .imax = 1000,
         .flags = SL_CLI_IF_GIVEN,
         .param = "folds"},
        {.name = "fold",
         .arg = "I",
         .num = &fold,
         .imin = 0,
         .imax = 999,
         .flags = SL_CLI_IF_GIVEN,
         .param = "fold"},
        {.name = "warn-per-class",
         .arg = "N",
         .help = "warn below N rows per label (default 50)",
         .num = &warn,
         .imin = 0,
         .imax = 1LL << 40,
         .flags = SL_CLI_IF_GIVEN,
         .param = "warn_min"},
        {.name = "min-per-class",
         .arg = "N",
         .help = "error below N rows per label (default: off)",
         .num = &min,
         .imin = 0,
         .imax = 1LL << 40,
         .flags = SL_CLI_IF_GIVEN,
         .param = "hard_min"},
        {.name = "augment",
         .arg = "SPEC",
         .help = "training rows only: substitute:P (bases replaced with probability P)\n"
                 "and/or revcomp, comma-separated, e.g. substitute:0.03,revcomp",
         .str = &augment,
         .param = "augment"},
        {0},
    };
    const sl_cli_command cmd = {.name = "split", .header = header, .opts = opts, .width = 24};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    rc = 0;
    char *paths[4];
    const char *names[4] = {"train.tsv", "test.tsv", "split.json", "folds.tsv"};
    sl_run_output outputs[4];
    for (int i = 0; i < 4; i++) {
        paths[i] = sl_cli_default_in(NULL, out, names[i]);
        outputs[i] = (sl_run_output){names[i], paths[i]};
        if (!paths[i]) rc = sl_err_set(&a.err, SL_ENOMEM, "out of memory");
    }
    if (rc) {
        for (int i = 0; i < 4; i++) free(paths[i]);
        return sl_cli_fail(&a, rc);
    }
    /* the runner creates `out` when it writes the outputs: a failed step leaves no empty directory */
    sl_run_input inputs[1] = {{"dataset", dataset}};
    sl_run_result res = {0};
    rc = sl_cli_run_step("split", a.params, inputs, 1, outputs, folds > 1 ? 4 : 3, &a.common, &res);
    if (rc == 0) {
        json_t *w = res.record ? json_object_get(json_object_get(res.record, "summary"), "warnings") : NULL;
        size_t i;
        json_t *x;
        if (!a.common.quiet)
            json_array_foreach(w, i, x) fprintf(stderr, "seqlora: warning: %s\n", json_string_value(x));
        printf("%s\n", out);
    }
    if (res.record) json_decref(res.record);
    for (int i = 0; i < 4; i++) free(paths[i]);
    sl_cli_args_free(&a);
    return rc;
}
