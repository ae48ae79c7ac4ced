/* seqlora clinical: a GDC-style clinical table → an id/label table (the `clinical` step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
    "usage: seqlora clinical --tsv IN --id-column C --label-column C -o OUT.tsv [options]\n\n"
    "Turn a clinical table (GDC portal clinical.tsv conventions: a header line, '--' and 'not reported'\n"
    "for missing values, double-quoted fields) into `id<TAB>label[<TAB>covariates]` for kmerize's "
    "sample\n"
    "mode. Rows with a missing id or label are dropped and counted (printed on stderr); duplicate ids\n"
    "are an error.\n\n";

int sl_cmd_clinical(int argc, char **argv) {
    const char *tsv = NULL, *out = NULL, *idc = NULL, *labc = NULL;
    const char *map_v[256], *cov_v[256];
    sl_cli_list map = {map_v, 0, 256}, cov = {cov_v, 0, 256};
    const sl_cli_opt opts[] = {
        {.name = "tsv",
         .arg = "FILE",
         .help = "clinical table (required)",
         .str = &tsv,
         .flags = SL_CLI_REQUIRED},
        {.name = "id-column",
         .arg = "C",
         .help = "the case/sample id column, e.g. submitter_id (required)",
         .str = &idc,
         .flags = SL_CLI_REQUIRED,
         .param = "id_column"},
        {.name = "label-column",
         .arg = "C",
         .help = "the label column, e.g. vital_status (required)",
         .str = &labc,
         .flags = SL_CLI_REQUIRED,
         .param = "label_column"},
        {.name = "map",
         .arg = "VALUE=LABEL",
         .help = "rename a label value (repeatable); with any --map, values not mapped are\n"
                 "dropped and counted",
         .list = &map},
        {.name = "covariate",
         .arg = "C",
         .help = "carry column C through (repeatable), e.g. gender, age_at_diagnosis",
         .list = &cov},
        SL_CLI_OPT_OUTPUT(&out, "FILE", "the label table to write (required)", SL_CLI_REQUIRED),
        {0},
    };
    const sl_cli_command cmd = {.name = "clinical", .header = header, .opts = opts, .width = 23};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    if ((rc = sl_cli_map_param(&map, "--map", a.params, "map", &a.err)) ||
        (rc = sl_cli_list_param(&cov, NULL, a.params, "covariates", &a.err)))
        return sl_cli_fail(&a, rc);
    sl_run_input inputs[1] = {{"tsv", tsv}};
    sl_run_output outputs[1] = {{"labels.tsv", out}};
    sl_run_result res = {0};
    rc = sl_cli_run_step("clinical", a.params, inputs, 1, outputs, 1, &a.common, &res);
    sl_cli_args_free(&a);
    if (rc == 0) {
        json_t *sum = res.record ? json_object_get(res.record, "summary") : NULL;
        if (sum && !a.common.quiet)
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
    return rc;
}
