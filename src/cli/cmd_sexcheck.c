/* seqlora sexcheck: X-chromosome sex check (the `sexcheck` step). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
    "usage: seqlora sexcheck --vcf IN --build GRCh37|GRCh38 -o OUT.tsv [options]\n\n"
    "Per sample: the X-chromosome inbreeding coefficient F over biallelic sites outside PAR1/PAR2,\n"
    "computed as plink 1.9 --check-sex computes it, the haploid and heterozygous call counts, the\n"
    "evidence that decided the inferred sex (haploid X calls → male; diploid X with heterozygous calls\n"
    "in a file that writes male X haploid → female; else F < 0.2 female, F > 0.8 male), the reported\n"
    "sex and a status (OK / PROBLEM / UNKNOWN). Columns: sample F sites haploid_calls het_calls\n"
    "evidence inferred_sex reported_sex status. `seqlora clean --sex-table` drops PROBLEM samples.\n\n";

int sl_cmd_sexcheck(int argc, char **argv) {
    const char *vcf = NULL, *out = NULL, *sex = NULL, *build = "GRCh37";
    double fmax = 0.2, mmin = 0.8;
    const sl_cli_opt opts[] = {
        {.name = "vcf",
         .arg = "FILE",
         .help = "VCF/BCF with chromosome X genotypes (required)",
         .str = &vcf,
         .flags = SL_CLI_REQUIRED},
        {.name = "build",
         .arg = "B",
         .help = "GRCh37 (default) or GRCh38: where PAR1/PAR2 are",
         .str = &build},
        {.name = "sex-table",
         .arg = "FILE",
         .help = "reported sexes: TSV with a header; columns sample (or IID, id) and sex\n"
                 "(or gender): male/female/M/F/1/2; the 1000 Genomes panel works as is",
         .str = &sex},
        SL_CLI_REAL_OPT("female-max", "F", "F below this is female, 0..1 (default 0.2)", &fmax, 0, 1, 0,
                        "female_max"),
        SL_CLI_REAL_OPT("male-min", "F", "F above this is male, 0..1 (default 0.8)", &mmin, 0, 1, 0,
                        "male_min"),
        SL_CLI_OPT_OUTPUT(&out, "FILE", "the TSV to write (required)", SL_CLI_REQUIRED),
        {0},
    };
    const sl_cli_command cmd = {.name = "sexcheck", .header = header, .opts = opts, .width = 20};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    rc = 0;
    int b38 = !strcasecmp(build, "GRCh38") || !strcasecmp(build, "hg38");
    if (fmax > mmin)
        rc = sl_err_set(&a.err, SL_EUSAGE, "--female-max %g must not exceed --male-min %g", fmax, mmin);
    else if (!b38 && strcasecmp(build, "GRCh37") && strcasecmp(build, "hg19"))
        rc = sl_err_set(&a.err, SL_EUSAGE, "--build: expected GRCh37 or GRCh38, got '%s'", build);
    else if (json_object_set_new(a.params, "build", json_string(b38 ? "GRCh38" : "GRCh37")))
        rc = sl_err_set(&a.err, SL_ENOMEM, "out of memory");
    if (rc) return sl_cli_fail(&a, rc);
    sl_run_input inputs[2] = {{"vcf", vcf}, {"sex_table", sex}};
    sl_run_output outputs[1] = {{"sexcheck.tsv", out}};
    rc = sl_cli_run_step("sexcheck", a.params, inputs, sex ? 2 : 1, outputs, 1, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
