/* sexcheck against its peer and the truth: plink 1.9 --check-sex runs on the 1000 Genomes chrX subset (the
 * commands of reference/sexcheck.md, with plink 1.9 alone: --vcf-half-call haploid --split-x b37) and every
 * sample's F must equal plink's within its printed rounding; plink's F-only call must agree with ours;
 * and the inferred sex (ploidy/het evidence, then F) must equal the 1000 Genomes panel for all 1,126. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bio/sexcheck.h"
#include "test.h"
#include "util/fs.h"

static char tmp[4096], data[4096];

typedef struct {
    char iid[64];
    int snpsex;
    double f;
    char ftext[32];
} plink_row;

static void test_f_equals_plink_and_sex_equals_panel(void) {
    char vcf[8192], cmd[32768], panel[8192];
    snprintf(vcf, sizeof vcf, "%s/1kg/1kg_phase3_subset_chrX.vcf.gz", data);
    snprintf(panel, sizeof panel, "%s/1kg/integrated_call_samples_v3.20130502.ALL.panel", data);
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && plink1.9 --vcf '%s' --vcf-half-call haploid --split-x b37 no-fail --biallelic-only "
        "strict "
        "--make-bed --out y >plink1.log 2>&1 && plink1.9 --bfile y --check-sex --out cs >plink2.log 2>&1",
        tmp, vcf);
    CHECK_EQ_INT(system(cmd), 0);
    char cs[8192];
    snprintf(cs, sizeof cs, "%s/cs.sexcheck", tmp);
    FILE *f = fopen(cs, "r");
    CHECK(f != NULL);
    if (!f) return;
    plink_row *pr = calloc(2000, sizeof *pr);
    int np = 0;
    char line[1024];
    if (!fgets(line, sizeof line, f)) line[0] = 0; /* header */
    while (np < 2000 && fgets(line, sizeof line, f)) {
        char fid[64], status[32];
        int pedsex;
        if (sscanf(line, "%63s %63s %d %d %31s %31s", fid, pr[np].iid, &pedsex, &pr[np].snpsex, status,
                   pr[np].ftext) == 6) {
            pr[np].f = strcmp(pr[np].ftext, "nan") ? atof(pr[np].ftext) : NAN;
            np++;
        }
    }
    fclose(f);
    CHECK_EQ_INT(np, 1126);

    sl_bio_sexcheck_opts o;
    sl_bio_sexcheck_opts_init(&o);
    sl_bio_sexcheck_result res;
    sl_err err;
    sl_err_clear(&err);
    int rc = sl_bio_sexcheck(vcf, panel, &o, &res, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        free(pr);
        return;
    }
    CHECK_EQ_INT(res.n, 1126);
    CHECK_EQ_INT(res.sites_used, 1006); /* plink: "1006 Xchr ... variant(s) scanned" */
    int f_equal = 0, fcall_equal = 0, ok = 0, fonly_panel = 0;
    double maxdiff = 0;
    for (size_t i = 0; i < res.n && (int)i < np; i++) {
        const sl_bio_sexcheck_row *r = &res.rows[i];
        CHECK_EQ_STR(r->sample, pr[i].iid);
        /* plink prints 4 significant digits: allow half a unit of the last printed digit */
        const char *dot = strchr(pr[i].ftext, '.');
        int decimals = dot ? (int)strlen(dot + 1) : 0;
        double tol = 0.5 * pow(10, -decimals) + 1e-9;
        double d = fabs(r->f - pr[i].f);
        if (d > maxdiff) maxdiff = d;
        if (d <= tol)
            f_equal++;
        else
            fprintf(stderr, "  %s: F %.6f, plink %s\n", r->sample, r->f, pr[i].ftext);
        int fcall = r->f < 0.2 ? 2 : r->f > 0.8 ? 1 : 0;
        fcall_equal += fcall == pr[i].snpsex;
        ok += !strcmp(r->status, "OK");
        fonly_panel += fcall != 0 && fcall == (int)r->reported;
    }
    fprintf(stderr, "  F equal to plink 1.9 within rounding: %d/%zu (max |diff| %.2g)\n", f_equal, res.n,
            maxdiff);
    fprintf(stderr, "  F-only call equal to plink's SNPSEX: %d/%zu; F-only call agrees with the panel: %d\n",
            fcall_equal, res.n, fonly_panel);
    fprintf(stderr, "  inferred sex (evidence + F) agrees with the panel: %d/%zu\n", ok, res.n);
    CHECK_EQ_INT(f_equal, 1126);
    CHECK_EQ_INT(fcall_equal, 1126);
    CHECK_EQ_INT(fonly_panel, 898); /* reference/sexcheck.md: plink's F-only call agrees for 898 */
    CHECK_EQ_INT(ok, 1126);

    char out[8192];
    snprintf(out, sizeof out, "%s/sexcheck.tsv", tmp);
    CHECK_EQ_INT(sl_bio_sexcheck_write_tsv(&res, out, &err), 0);
    char **names;
    size_t nn;
    CHECK_EQ_INT(sl_bio_sexcheck_read_problems(out, &names, &nn, &err), 0);
    CHECK_EQ_INT(nn, 0);
    sl_bio_sexcheck_free_names(names, nn);
    sl_bio_sexcheck_result_free(&res);
    free(pr);
}

static void test_swapped_sex_is_a_problem(void) {
    char vcf[8192], table[8192];
    snprintf(vcf, sizeof vcf, "%s/1kg/1kg_phase3_subset_chrX.vcf.gz", data);
    snprintf(table, sizeof table, "%s/swapped.tsv", tmp);
    FILE *f = fopen(table, "w");
    fputs("sample\tsex\nHG00096\tfemale\nHG00097\tmale\nHG00099\t--\n", f);
    fclose(f);
    sl_bio_sexcheck_opts o;
    sl_bio_sexcheck_opts_init(&o);
    sl_bio_sexcheck_result res;
    sl_err err;
    int rc = sl_bio_sexcheck(vcf, table, &o, &res, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc) return;
    CHECK_EQ_STR(res.rows[0].status, "PROBLEM");
    CHECK_EQ_STR(res.rows[1].status, "PROBLEM");
    CHECK_EQ_STR(res.rows[2].status, "UNKNOWN");
    CHECK_EQ_STR(res.rows[3].status, "UNKNOWN"); /* not in the table */
    char out[8192];
    snprintf(out, sizeof out, "%s/swapped.sexcheck.tsv", tmp);
    CHECK_EQ_INT(sl_bio_sexcheck_write_tsv(&res, out, &err), 0);
    char **names;
    size_t nn;
    CHECK_EQ_INT(sl_bio_sexcheck_read_problems(out, &names, &nn, &err), 0);
    CHECK_EQ_INT(nn, 2);
    if (nn == 2) {
        CHECK_EQ_STR(names[0], "HG00096");
        CHECK_EQ_STR(names[1], "HG00097");
    }
    sl_bio_sexcheck_free_names(names, nn);
    sl_bio_sexcheck_result_free(&res);
    /* duplicate sample in the table, wrong build */
    f = fopen(table, "w");
    fputs("sample\tsex\nHG00096\tfemale\nHG00096\tmale\n", f);
    fclose(f);
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_sexcheck(vcf, table, &o, &res, &err), SL_EDATA);
    CHECK(strstr(err.msg, "twice") != NULL);
    char callers[8192];
    snprintf(callers, sizeof callers, "%s/callers/gatk.vcf.gz", data);
    sl_err_clear(&err);
    CHECK_EQ_INT(sl_bio_sexcheck(callers, NULL, &o, &res, &err), SL_EDATA);
    CHECK(strstr(err.msg, "no usable X site") != NULL);
}

int main(void) {
    const char *t = getenv("SEQLORA_TEST_TMP"), *d = getenv("SEQLORA_TEST_DATA");
    snprintf(tmp, sizeof tmp, "%s", t ? t : "/tmp/seqlora-test-sexcheck");
    snprintf(data, sizeof data, "%s", d ? d : "tests/data");
    sl_err err;
    sl_fs_remove_tree(tmp, &err);
    sl_fs_mkdirs(tmp, &err);
    RUN_TEST(test_f_equals_plink_and_sex_equals_panel);
    RUN_TEST(test_swapped_sex_is_a_problem);
    return TEST_RESULT();
}
