/* seqlora clean: QUAL/DP filtering of a VCF/BCF with bcftools semantics (the `clean` step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
    "usage: seqlora clean --vcf IN.vcf[.gz]|IN.bcf -o OUT.vcf.gz [options]\n\n"
    "Keep the records with QUAL > MIN_QUAL and DP > MIN_DP, exactly the records\n"
    "`bcftools view -i 'QUAL>30 && INFO/DP>10'` keeps (or FMT/DP with --dp-field FORMAT/DP). The\n"
    "thresholds are strict (> not >=), as in the seed's design: a record with QUAL 30 or DP 10 is "
    "dropped.\n"
    "A missing QUAL or DP fails the test. FORMAT/DP passes when any sample of the input has DP > MIN_DP\n"
    "(bcftools' semantics, tested before --samples subsets the samples). The input is validated (VCF\n"
    "4.x rules); the output is a bgzipped VCF with a .tbi (or .csi) index next to it.\n\n";

int sl_cmd_clean(int argc, char **argv) {
    const char *vcf = NULL, *out = NULL, *sex = NULL, *dp_field = NULL, *samples = NULL;
    double min_qual = 30, min_dp = 10;
    int csi = 0;
    const sl_cli_opt opts[] = {
        {.name = "vcf",
         .arg = "FILE",
         .help = "input VCF, VCF.gz or BCF (required)",
         .str = &vcf,
         .flags = SL_CLI_REQUIRED},
        SL_CLI_OPT_OUTPUT(&out, "FILE",
                          "output .vcf.gz; the index is written as FILE.tbi / FILE.csi (required)",
                          SL_CLI_REQUIRED),
        SL_CLI_REAL_OPT("min-qual", "Q", "keep QUAL > Q (default 30; 'none' disables the QUAL test)",
                        &min_qual, 0, INFINITY, SL_CLI_NONE_OK | SL_CLI_IF_GIVEN, "min_qual"),
        SL_CLI_REAL_OPT("min-dp", "D", "keep DP > D (default 10; 'none' disables the depth test)", &min_dp, 0,
                        INFINITY, SL_CLI_NONE_OK | SL_CLI_IF_GIVEN, "min_dp"),
        {.name = "dp-field", .arg = "F", .help = "INFO/DP (default) or FORMAT/DP", .str = &dp_field},
        {.name = "samples",
         .arg = "A,B,...",
         .help = "keep these samples, in this order (INFO/AC and AN recomputed, as bcftools)",
         .str = &samples},
        {.name = "sex-table",
         .arg = "FILE",
         .help = "a `seqlora sexcheck` table: drop the samples whose status is PROBLEM",
         .str = &sex},
        {.name = "csi",
         .help = "write a CSI index instead of tabix (contigs longer than 2^29 bases)",
         .flag = &csi},
        {0},
    };
    const sl_cli_command cmd = {.name = "clean", .header = header, .opts = opts, .width = 24};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    rc = 0;
    if (dp_field && strcmp(dp_field, "INFO/DP") && strcmp(dp_field, "FORMAT/DP") &&
        strcmp(dp_field, "FMT/DP"))
        rc = sl_err_set(&a.err, SL_EUSAGE, "--dp-field: expected INFO/DP or FORMAT/DP, got '%s'", dp_field);
    else if (dp_field &&
             json_object_set_new(a.params, "dp_field",
                                 json_string(strcmp(dp_field, "INFO/DP") ? "FORMAT/DP" : "INFO/DP")))
        rc = sl_err_set(&a.err, SL_ENOMEM, "out of memory");
    if (!rc && samples) {
        sl_cli_list one = {&samples, 1, 1};
        if (!(rc = sl_cli_list_param(&one, ",", a.params, "samples", &a.err)) &&
            !json_array_size(json_object_get(a.params, "samples")))
            rc = sl_err_set(&a.err, SL_EUSAGE,
                            "--samples: expected a comma-separated list of sample names, got '%s'", samples);
    }
    if (!rc && json_object_set_new(a.params, "index", json_string(csi ? "csi" : "tbi")))
        rc = sl_err_set(&a.err, SL_ENOMEM, "out of memory");
    size_t n = strlen(out) + 5;
    char *idx = rc ? NULL : malloc(n);
    if (!rc && !idx) rc = sl_err_set(&a.err, SL_ENOMEM, "out of memory");
    if (rc) return sl_cli_fail(&a, rc);
    snprintf(idx, n, "%s.%s", out, csi ? "csi" : "tbi");
    sl_run_input inputs[2] = {{"vcf", vcf}, {"sex_table", sex}};
    sl_run_output outputs[2] = {{"clean.vcf.gz", out}, {csi ? "clean.vcf.gz.csi" : "clean.vcf.gz.tbi", idx}};
    rc = sl_cli_run_step("clean", a.params, inputs, sex ? 2 : 1, outputs, 2, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    free(idx);
    return rc;
}
