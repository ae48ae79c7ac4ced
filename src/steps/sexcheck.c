/* The `sexcheck` step: X-chromosome F as plink 1.9 --check-sex computes it, plus ploidy/heterozygosity
 * evidence, an inferred sex and a status per sample (see src/bio/sexcheck.h).
 *
 * Inputs:  vcf (file), sex_table (file, optional: reported sexes).
 * Outputs: sexcheck.tsv.
 * Params:  build ("GRCh37" or "GRCh38"), female_max (0.2), male_min (0.8). */
#include <stdlib.h>
#include <string.h>

#include "bio/sexcheck.h"
#include "step.h"
#include "util/json.h"

static int run_sexcheck(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *p = ctx->params;
    static const char *const known[] = {"build", "female_max", "male_min", NULL};
    const char *key;
    json_t *v;
    if (!json_is_object(p)) return sl_err_set(err, SL_EUSAGE, "sexcheck: parameters must be a JSON object");
    json_object_foreach((json_t *)p, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "sexcheck: unknown parameter '%s'", key);
    }
    sl_bio_sexcheck_opts o;
    sl_bio_sexcheck_opts_init(&o);
    const char *build = NULL;
    int rc;
    if ((rc = sl_json_get_str(p, "build", "GRCh37", &build, err)) ||
        (rc = sl_bio_build_parse(build, &o.build, err)) ||
        (rc = sl_json_get_real(p, "female_max", 0.2, &o.female_max, err)) ||
        (rc = sl_json_get_real(p, "male_min", 0.8, &o.male_min, err)))
        return rc;
    if (!(o.female_max <= o.male_min))
        return sl_err_set(err, SL_EUSAGE, "sexcheck: female_max (%g) must not exceed male_min (%g)",
                          o.female_max, o.male_min);
    sl_bio_sexcheck_result res;
    rc = sl_bio_sexcheck(sl_step_input(ctx, "vcf"), sl_step_input(ctx, "sex_table"), &o, &res, err);
    if (rc) return rc;
    char *out = sl_step_out_path(ctx, "sexcheck.tsv");
    rc = out ? sl_bio_sexcheck_write_tsv(&res, out, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc && ctx->summary) {
        long male = 0, female = 0, unknown = 0, ok = 0, problem = 0;
        for (size_t i = 0; i < res.n; i++) {
            male += res.rows[i].inferred == SL_BIO_SEX_MALE;
            female += res.rows[i].inferred == SL_BIO_SEX_FEMALE;
            unknown += res.rows[i].inferred == SL_BIO_SEX_UNKNOWN;
            ok += !strcmp(res.rows[i].status, "OK");
            problem += !strcmp(res.rows[i].status, "PROBLEM");
        }
        json_object_set_new(ctx->summary, "samples", json_integer((json_int_t)res.n));
        json_object_set_new(ctx->summary, "x_sites_used", json_integer(res.sites_used));
        json_object_set_new(ctx->summary, "inferred_male", json_integer(male));
        json_object_set_new(ctx->summary, "inferred_female", json_integer(female));
        json_object_set_new(ctx->summary, "inferred_unknown", json_integer(unknown));
        json_object_set_new(ctx->summary, "status_ok", json_integer(ok));
        json_object_set_new(ctx->summary, "status_problem", json_integer(problem));
    }
    free(out);
    sl_bio_sexcheck_result_free(&res);
    return rc;
}

static const sl_step_io sexcheck_inputs[] = {
    {"vcf", SL_IO_FILE},
    {"sex_table", SL_IO_FILE | SL_IO_OPTIONAL},
    {NULL, 0},
};
static const sl_step_io sexcheck_outputs[] = {
    {"sexcheck.tsv", SL_IO_FILE},
    {NULL, 0},
};

const sl_step sl_step_sexcheck = {
    .name = "sexcheck",
    .version = 1,
    .summary = "X-chromosome F (as plink 1.9 --check-sex) with ploidy/het evidence → inferred sex per sample",
    .inputs = sexcheck_inputs,
    .outputs = sexcheck_outputs,
    .run = run_sexcheck,
};
