/* seqlora clinical: a GDC-style clinical table → an id/label table (the `clinical` step). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora clinical --tsv IN --id-column C --label-column C -o OUT.tsv [options]\n\n"
        "Turn a clinical table (GDC portal clinical.tsv conventions: a header line, '--' and 'not reported'\n"
        "for missing values, double-quoted fields) into `id<TAB>label[<TAB>covariates]` for kmerize's "
        "sample\n"
        "mode. Rows with a missing id or label are dropped and counted (printed on stderr); duplicate ids\n"
        "are an error.\n\n"
        "options:\n"
        "  --tsv FILE             clinical table (required)\n"
        "  --id-column C          the case/sample id column, e.g. submitter_id (required)\n"
        "  --label-column C       the label column, e.g. vital_status (required)\n"
        "  --map VALUE=LABEL      rename a label value (repeatable); with any --map, values not mapped are\n"
        "                         dropped and counted\n"
        "  --covariate C          carry column C through (repeatable), e.g. gender, age_at_diagnosis\n"
        "  -o, --output FILE      the label table to write (required)\n\n" SL_CLI_COMMON_HELP);
}

enum { OPT_TSV = 0x2001, OPT_ID, OPT_LABEL, OPT_MAP, OPT_COV };

int sl_cmd_clinical(int argc, char **argv) {
    static const struct option longopts[] = {
        {"tsv", required_argument, 0, OPT_TSV},
        {"id-column", required_argument, 0, OPT_ID},
        {"label-column", required_argument, 0, OPT_LABEL},
        {"map", required_argument, 0, OPT_MAP},
        {"covariate", required_argument, 0, OPT_COV},
        {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *tsv = NULL, *out = NULL, *idc = NULL, *labc = NULL;
    json_t *map = json_object(), *cov = json_array();
    int opt, rc = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case OPT_TSV:
                tsv = optarg;
                break;
            case 'o':
                out = optarg;
                break;
            case OPT_ID:
                idc = optarg;
                break;
            case OPT_LABEL:
                labc = optarg;
                break;
            case OPT_COV:
                json_array_append_new(cov, json_string(optarg));
                break;
            case OPT_MAP: {
                const char *eq = strrchr(optarg, '=');
                if (!eq || eq == optarg || !eq[1]) {
                    rc = sl_cli_usage_error("--map: expected VALUE=LABEL, got '%s'", optarg);
                    goto out;
                }
                char *k = strndup(optarg, (size_t)(eq - optarg));
                json_object_set_new(map, k, json_string(eq + 1));
                free(k);
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
        rc = sl_cli_usage_error("clinical: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!tsv || !out || !idc || !labc) {
        rc = sl_cli_usage_error("clinical: --tsv, --id-column, --label-column and -o are required");
        goto out;
    }
    json_t *params = json_object();
    json_object_set_new(params, "id_column", json_string(idc));
    json_object_set_new(params, "label_column", json_string(labc));
    if (json_object_size(map)) json_object_set(params, "map", map);
    if (json_array_size(cov)) json_object_set(params, "covariates", cov);
    sl_run_input inputs[1] = {{"tsv", tsv}};
    sl_run_output outputs[1] = {{"labels.tsv", out}};
    sl_run_result res = {0};
    rc = sl_cli_run_step("clinical", params, inputs, 1, outputs, 1, &common, &res);
    json_decref(params);
    if (rc == 0) {
        json_t *sum = res.record ? json_object_get(res.record, "summary") : NULL;
        if (sum && !common.quiet)
            fprintf(stderr,
                    "seqlora: clinical: %lld rows, kept %lld; dropped %lld without id, %lld without label, "
                    "%lld unmapped\n",
                    (long long)json_integer_value(json_object_get(sum, "rows_in")),
                    (long long)json_integer_value(json_object_get(sum, "kept")),
                    (long long)json_integer_value(json_object_get(sum, "dropped_missing_id")),
                    (long long)json_integer_value(json_object_get(sum, "dropped_missing_label")),
                    (long long)json_integer_value(json_object_get(sum, "dropped_unmapped")));
        printf("%s\n", out);
    }
    if (res.record) json_decref(res.record);
out:
    json_decref(map);
    json_decref(cov);
    return rc;
}
