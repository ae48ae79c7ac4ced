/* seqlora clean: QUAL/DP filtering of a VCF/BCF with bcftools semantics (the `clean` step). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora clean --vcf IN.vcf[.gz]|IN.bcf -o OUT.vcf.gz [options]\n\n"
        "Keep the records with QUAL > MIN_QUAL and DP > MIN_DP, exactly the records\n"
        "`bcftools view -i 'QUAL>30 && INFO/DP>10'` keeps (or FMT/DP with --dp-field FORMAT/DP). The\n"
        "thresholds are strict (> not >=), as in the seed's design: a record with QUAL 30 or DP 10 is "
        "dropped.\n"
        "A missing QUAL or DP fails the test. FORMAT/DP passes when any sample of the input has DP > MIN_DP\n"
        "(bcftools' semantics, tested before --samples subsets the samples). The input is validated (VCF\n"
        "4.x rules); the output is a bgzipped VCF with a .tbi (or .csi) index next to it.\n\n"
        "options:\n"
        "  --vcf FILE              input VCF, VCF.gz or BCF (required)\n"
        "  -o, --output FILE       output .vcf.gz; the index is written as FILE.tbi / FILE.csi (required)\n"
        "  --min-qual Q            keep QUAL > Q (default 30; 'none' disables the QUAL test)\n"
        "  --min-dp D              keep DP > D (default 10; 'none' disables the depth test)\n"
        "  --dp-field F            INFO/DP (default) or FORMAT/DP\n"
        "  --samples A,B,...       keep these samples, in this order (INFO/AC and AN recomputed, as "
        "bcftools)\n"
        "  --sex-table FILE        a `seqlora sexcheck` table: drop the samples whose status is PROBLEM\n"
        "  --csi                   write a CSI index instead of tabix (contigs longer than 2^29 "
        "bases)\n\n" SL_CLI_COMMON_HELP);
}

enum { OPT_VCF = 0x2001, OPT_MIN_QUAL, OPT_MIN_DP, OPT_DP_FIELD, OPT_SAMPLES, OPT_SEX_TABLE, OPT_CSI };

static int threshold(const char *opt, const char *arg, json_t *params, const char *key, sl_err *err) {
    if (!strcmp(arg, "none")) return json_object_set_new(params, key, json_null());
    double v;
    if (sl_cli_parse_real(opt, arg, &v, err)) return -1;
    return json_object_set_new(params, key, json_real(v));
}

int sl_cmd_clean(int argc, char **argv) {
    static const struct option longopts[] = {
        {"vcf", required_argument, 0, OPT_VCF},
        {"output", required_argument, 0, 'o'},
        {"min-qual", required_argument, 0, OPT_MIN_QUAL},
        {"min-dp", required_argument, 0, OPT_MIN_DP},
        {"dp-field", required_argument, 0, OPT_DP_FIELD},
        {"samples", required_argument, 0, OPT_SAMPLES},
        {"sex-table", required_argument, 0, OPT_SEX_TABLE},
        {"csi", no_argument, 0, OPT_CSI},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *vcf = NULL, *out = NULL, *sex = NULL;
    json_t *params = json_object();
    int opt, rc, csi = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case OPT_VCF:
                vcf = optarg;
                break;
            case 'o':
                out = optarg;
                break;
            case OPT_SEX_TABLE:
                sex = optarg;
                break;
            case OPT_CSI:
                csi = 1;
                break;
            case OPT_MIN_QUAL:
            case OPT_MIN_DP:
                if (threshold(opt == OPT_MIN_QUAL ? "--min-qual" : "--min-dp", optarg, params,
                              opt == OPT_MIN_QUAL ? "min_qual" : "min_dp", &err)) {
                    json_decref(params);
                    return sl_cli_report(SL_EUSAGE, &err);
                }
                break;
            case OPT_DP_FIELD:
                if (strcmp(optarg, "INFO/DP") && strcmp(optarg, "FORMAT/DP") && strcmp(optarg, "FMT/DP")) {
                    json_decref(params);
                    return sl_cli_usage_error("--dp-field: expected INFO/DP or FORMAT/DP, got '%s'", optarg);
                }
                json_object_set_new(params, "dp_field",
                                    json_string(strcmp(optarg, "INFO/DP") ? "FORMAT/DP" : "INFO/DP"));
                break;
            case OPT_SAMPLES: {
                json_t *arr = json_array();
                char *copy = strdup(optarg), *save = NULL;
                for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                    json_array_append_new(arr, json_string(t));
                free(copy);
                if (json_array_size(arr) == 0) {
                    json_decref(arr);
                    json_decref(params);
                    return sl_cli_usage_error("--samples: expected a comma-separated list of sample names");
                }
                json_object_set_new(params, "samples", arr);
                break;
            }
            case 'h':
                json_decref(params);
                usage(stdout);
                return 0;
            default:
                rc = sl_cli_common_opt(&common, opt, optarg, &err);
                if (rc < 0) {
                    json_decref(params);
                    return sl_cli_report(rc, &err);
                }
                if (rc == 0) {
                    json_decref(params);
                    usage(stderr);
                    return 2;
                }
        }
    }
    if (optind < argc) {
        json_decref(params);
        return sl_cli_usage_error("clean: unexpected argument '%s'", argv[optind]);
    }
    if (!vcf || !out) {
        json_decref(params);
        return sl_cli_usage_error("clean: --vcf and -o are required (see seqlora clean --help)");
    }
    json_object_set_new(params, "index", json_string(csi ? "csi" : "tbi"));
    size_t n = strlen(out) + 8;
    char *idx = malloc(n);
    if (!idx) {
        json_decref(params);
        return sl_cli_usage_error("out of memory");
    }
    snprintf(idx, n, "%s.%s", out, csi ? "csi" : "tbi");
    sl_run_input inputs[2] = {{"vcf", vcf}, {"sex_table", sex}};
    sl_run_output outputs[2] = {{"clean.vcf.gz", out}, {csi ? "clean.vcf.gz.csi" : "clean.vcf.gz.tbi", idx}};
    rc = sl_cli_run_step("clean", params, inputs, sex ? 2 : 1, outputs, 2, &common, NULL);
    json_decref(params);
    if (rc == 0) printf("%s\n", out);
    free(idx);
    return rc;
}
