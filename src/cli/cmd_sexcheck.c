/* seqlora sexcheck: X-chromosome sex check (the `sexcheck` step). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli_common.h"
#include "commands.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora sexcheck --vcf IN --build GRCh37|GRCh38 -o OUT.tsv [options]\n\n"
        "Per sample: the X-chromosome inbreeding coefficient F over biallelic sites outside PAR1/PAR2,\n"
        "computed as plink 1.9 --check-sex computes it, the haploid and heterozygous call counts, the\n"
        "evidence that decided the inferred sex (haploid X calls → male; diploid X with heterozygous calls\n"
        "in a file that writes male X haploid → female; else F < 0.2 female, F > 0.8 male), the reported\n"
        "sex and a status (OK / PROBLEM / UNKNOWN). Columns: sample F sites haploid_calls het_calls\n"
        "evidence inferred_sex reported_sex status. `seqlora clean --sex-table` drops PROBLEM samples.\n\n"
        "options:\n"
        "  --vcf FILE          VCF/BCF with chromosome X genotypes (required)\n"
        "  --build B           GRCh37 (default) or GRCh38: where PAR1/PAR2 are\n"
        "  --sex-table FILE    reported sexes: TSV with a header; columns sample (or IID, id) and sex\n"
        "                      (or gender): male/female/M/F/1/2; the 1000 Genomes panel works as is\n"
        "  --female-max F      F below this is female (default 0.2)\n"
        "  --male-min F        F above this is male (default 0.8)\n"
        "  -o, --output FILE   the TSV to write (required)\n\n" SL_CLI_COMMON_HELP);
}

enum { OPT_VCF = 0x2001, OPT_BUILD, OPT_SEX_TABLE, OPT_FEMALE_MAX, OPT_MALE_MIN };

int sl_cmd_sexcheck(int argc, char **argv) {
    static const struct option longopts[] = {
        {"vcf", required_argument, 0, OPT_VCF},
        {"build", required_argument, 0, OPT_BUILD},
        {"sex-table", required_argument, 0, OPT_SEX_TABLE},
        {"female-max", required_argument, 0, OPT_FEMALE_MAX},
        {"male-min", required_argument, 0, OPT_MALE_MIN},
        {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *vcf = NULL, *out = NULL, *sex = NULL, *build = "GRCh37";
    double fmax = 0.2, mmin = 0.8;
    int opt, rc;
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
            case OPT_BUILD:
                build = optarg;
                break;
            case OPT_FEMALE_MAX:
                if (sl_cli_parse_real("--female-max", optarg, &fmax, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                break;
            case OPT_MALE_MIN:
                if (sl_cli_parse_real("--male-min", optarg, &mmin, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                break;
            case 'h':
                usage(stdout);
                return 0;
            default:
                rc = sl_cli_common_opt(&common, opt, optarg, &err);
                if (rc < 0) return sl_cli_report(rc, &err);
                if (rc == 0) {
                    usage(stderr);
                    return 2;
                }
        }
    }
    if (optind < argc) return sl_cli_usage_error("sexcheck: unexpected argument '%s'", argv[optind]);
    if (!vcf || !out)
        return sl_cli_usage_error("sexcheck: --vcf and -o are required (see seqlora sexcheck --help)");
    if (strcasecmp(build, "GRCh37") && strcasecmp(build, "GRCh38") && strcasecmp(build, "hg19") &&
        strcasecmp(build, "hg38"))
        return sl_cli_usage_error("--build: expected GRCh37 or GRCh38, got '%s'", build);
    json_t *params = json_object();
    json_object_set_new(
        params, "build",
        json_string(strcasecmp(build, "GRCh38") && strcasecmp(build, "hg38") ? "GRCh37" : "GRCh38"));
    json_object_set_new(params, "female_max", json_real(fmax));
    json_object_set_new(params, "male_min", json_real(mmin));
    sl_run_input inputs[2] = {{"vcf", vcf}, {"sex_table", sex}};
    sl_run_output outputs[1] = {{"sexcheck.tsv", out}};
    rc = sl_cli_run_step("sexcheck", params, inputs, sex ? 2 : 1, outputs, 1, &common, NULL);
    json_decref(params);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
