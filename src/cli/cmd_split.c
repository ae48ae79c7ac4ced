/* seqlora split: train/test split of a dataset TSV (the `split` step). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"
#include "util/fs.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora split --dataset DATASET.tsv --seed S -o OUTDIR [options]\n\n"
        "Split a dataset (`seqlora kmerize` output) into OUTDIR/train.tsv and OUTDIR/test.tsv (same "
        "header),\n"
        "with OUTDIR/split.json (counts per side and label, actual test fraction, warnings). Stratified by\n"
        "label by default (7:3); --group-by keeps every row of a group (an exon, a gene, a family) on one\n"
        "side; --folds K assigns K folds (OUTDIR/folds.tsv) and uses --fold I as the test set. Labels with\n"
        "fewer than 50 rows (the seed's minimum) are warned about; --min-per-class makes it an error.\n"
        "Augmentation adds rows to the training set only, seeded and recorded.\n\n"
        "options:\n"
        "  --dataset FILE          the dataset TSV (required)\n"
        "  --seed S                random seed (required; the split is a pure function of data and seed)\n"
        "  -o, --output DIR        where to write train.tsv, test.tsv, split.json [, folds.tsv] (required)\n"
        "  --test-fraction F       test share, 0 < F < 1 (default 0.3)\n"
        "  --stratify              stratify by label (the default); --no-stratify: a plain random split\n"
        "  --no-stratify\n"
        "  --group-by COLUMN       split by groups of this column (e.g. exon)\n"
        "  --folds K               k-fold assignment (K >= 2); --fold I picks the test fold (default 0)\n"
        "  --fold I\n"
        "  --warn-per-class N      warn below N rows per label (default 50)\n"
        "  --min-per-class N       error below N rows per label (default: off)\n"
        "  --augment SPEC          training rows only: substitute:P (bases replaced with probability P)\n"
        "                          and/or revcomp, comma-separated, e.g. "
        "substitute:0.03,revcomp\n\n" SL_CLI_COMMON_HELP);
}

enum {
    OPT_DATASET = 0x2001,
    OPT_SEED,
    OPT_FRAC,
    OPT_NOSTRAT,
    OPT_GROUP,
    OPT_FOLDS,
    OPT_FOLD,
    OPT_WARN,
    OPT_MIN,
    OPT_AUG,
    OPT_STRAT
};

int sl_cmd_split(int argc, char **argv) {
    static const struct option longopts[] = {
        {"dataset", required_argument, 0, OPT_DATASET},
        {"seed", required_argument, 0, OPT_SEED},
        {"output", required_argument, 0, 'o'},
        {"test-fraction", required_argument, 0, OPT_FRAC},
        {"no-stratify", no_argument, 0, OPT_NOSTRAT},
        {"stratify", no_argument, 0, OPT_STRAT},
        {"group-by", required_argument, 0, OPT_GROUP},
        {"folds", required_argument, 0, OPT_FOLDS},
        {"fold", required_argument, 0, OPT_FOLD},
        {"warn-per-class", required_argument, 0, OPT_WARN},
        {"min-per-class", required_argument, 0, OPT_MIN},
        {"augment", required_argument, 0, OPT_AUG},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *dataset = NULL, *out = NULL;
    json_t *params = json_object();
    long long v;
    double f;
    int opt, rc = 0, have_seed = 0, folds = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case OPT_DATASET:
                dataset = optarg;
                break;
            case 'o':
                out = optarg;
                break;
            case OPT_NOSTRAT:
                json_object_set_new(params, "stratify", json_false());
                break;
            case OPT_STRAT:
                json_object_set_new(params, "stratify", json_true());
                break;
            case OPT_GROUP:
                json_object_set_new(params, "group_by", json_string(optarg));
                break;
            case OPT_AUG:
                json_object_set_new(params, "augment", json_string(optarg));
                break;
            case OPT_FRAC:
                if (sl_cli_parse_real("--test-fraction", optarg, &f, &err)) {
                    rc = sl_cli_report(SL_EUSAGE, &err);
                    goto out;
                }
                if (!(f > 0 && f < 1)) {
                    rc = sl_cli_usage_error("--test-fraction: expected 0 < F < 1, got %s", optarg);
                    goto out;
                }
                json_object_set_new(params, "test_fraction", json_real(f));
                break;
            case OPT_SEED:
            case OPT_FOLDS:
            case OPT_FOLD:
            case OPT_WARN:
            case OPT_MIN: {
                const char *names[] = {"--seed", "--folds", "--fold", "--warn-per-class", "--min-per-class"};
                const char *keys[] = {"seed", "folds", "fold", "warn_min", "hard_min"};
                int i = opt == OPT_SEED    ? 0
                        : opt == OPT_FOLDS ? 1
                        : opt == OPT_FOLD  ? 2
                        : opt == OPT_WARN  ? 3
                                           : 4;
                if (sl_cli_parse_int(names[i], optarg, 0, (long long)1 << 62, &v, &err)) {
                    rc = sl_cli_report(SL_EUSAGE, &err);
                    goto out;
                }
                json_object_set_new(params, keys[i], json_integer(v));
                if (opt == OPT_SEED) have_seed = 1;
                if (opt == OPT_FOLDS) folds = (int)v;
                break;
            }
            case 'h':
                usage(stdout);
                goto out;
            default:
                rc = sl_cli_common_opt(&common, opt, optarg, &err);
                if (rc < 0) {
                    rc = sl_cli_report(rc, &err);
                    goto out;
                }
                if (rc == 0) {
                    usage(stderr);
                    rc = 2;
                    goto out;
                }
                rc = 0;
        }
    }
    if (optind < argc) {
        rc = sl_cli_usage_error("split: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!dataset || !out || !have_seed) {
        rc = sl_cli_usage_error("split: --dataset, --seed and -o are required (see seqlora split --help)");
        goto out;
    }
    if (sl_fs_mkdirs(out, &err)) {
        rc = sl_cli_report(err.code, &err);
        goto out;
    }
    char *paths[4];
    const char *names[4] = {"train.tsv", "test.tsv", "split.json", "folds.tsv"};
    sl_run_output outputs[4];
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(out) + 16;
        paths[i] = malloc(n);
        snprintf(paths[i], n, "%s/%s", out, names[i]);
        outputs[i] = (sl_run_output){names[i], paths[i]};
    }
    sl_run_input inputs[1] = {{"dataset", dataset}};
    sl_run_result res = {0};
    rc = sl_cli_run_step("split", params, inputs, 1, outputs, folds > 1 ? 4 : 3, &common, &res);
    if (rc == 0) {
        json_t *w = res.record ? json_object_get(json_object_get(res.record, "summary"), "warnings") : NULL;
        size_t i;
        json_t *x;
        if (!common.quiet)
            json_array_foreach(w, i, x) fprintf(stderr, "seqlora: warning: %s\n", json_string_value(x));
        printf("%s\n", out);
    }
    if (res.record) json_decref(res.record);
    for (int i = 0; i < 4; i++) free(paths[i]);
out:
    json_decref(params);
    return rc;
}
