/* The `clean` step: a VCF/BCF → the records passing QUAL > min_qual and DP > min_dp (bcftools view -i
 * semantics, see src/bio/vcf_filter.h), optionally a subset of samples and without the samples a sex
 * check flagged, as a bgzipped VCF with its index.
 *
 * Inputs:  vcf (file), sex_table (file, optional: `seqlora sexcheck` output; samples with status PROBLEM
 *          are dropped).
 * Outputs: clean.vcf.gz, and clean.vcf.gz.tbi or clean.vcf.gz.csi (params.index).
 * Params:  min_qual (30; null = no QUAL test), min_dp (10; null = no depth test), dp_field ("INFO/DP" or
 *          "FORMAT/DP"), samples (array of names, absent = all), index ("tbi" or "csi"). */
#include <stdlib.h>
#include <string.h>

#include "bio/sexcheck.h"
#include "bio/vcf_filter.h"
#include "step.h"
#include "util/json.h"

static int check_keys(const json_t *params, sl_err *err) {
    static const char *const known[] = {"min_qual", "min_dp", "dp_field", "samples", "index", NULL};
    if (!json_is_object(params)) return sl_err_set(err, SL_EUSAGE, "clean: parameters must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "clean: unknown parameter '%s'", key);
    }
    return 0;
}

/* A number, null (= test disabled) or absent (= default). */
static int get_threshold(const json_t *params, const char *key, double def, int *use, double *out,
                         sl_err *err) {
    json_t *v = json_object_get(params, key);
    *use = 1;
    *out = def;
    if (!v) return 0;
    if (json_is_null(v)) {
        *use = 0;
        return 0;
    }
    if (!json_is_number(v))
        return sl_err_set(err, SL_EUSAGE, "clean: parameter '%s' must be a number or null", key);
    *out = json_number_value(v);
    return 0;
}

static int run_clean(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *p = ctx->params;
    int rc = check_keys(p, err);
    if (rc) return rc;
    sl_bio_clean_opts o;
    sl_bio_clean_opts_init(&o);
    int use_dp = 1;
    const char *dp_field = NULL, *index = NULL;
    if ((rc = get_threshold(p, "min_qual", 30, &o.use_qual, &o.min_qual, err)) ||
        (rc = get_threshold(p, "min_dp", 10, &use_dp, &o.min_dp, err)) ||
        (rc = sl_json_get_str(p, "dp_field", "INFO/DP", &dp_field, err)) ||
        (rc = sl_json_get_str(p, "index", "tbi", &index, err)))
        return rc;
    if (!strcmp(dp_field, "INFO/DP"))
        o.dp_field = SL_BIO_DP_INFO;
    else if (!strcmp(dp_field, "FORMAT/DP") || !strcmp(dp_field, "FMT/DP"))
        o.dp_field = SL_BIO_DP_FORMAT;
    else
        return sl_err_set(err, SL_EUSAGE, "clean: dp_field must be INFO/DP or FORMAT/DP, got '%s'", dp_field);
    if (!use_dp) o.dp_field = SL_BIO_DP_NONE;
    if (strcmp(index, "tbi") && strcmp(index, "csi"))
        return sl_err_set(err, SL_EUSAGE, "clean: index must be tbi or csi, got '%s'", index);
    o.index_csi = !strcmp(index, "csi");

    const char **samples = NULL;
    json_t *js = json_object_get(p, "samples");
    if (js) {
        if (!json_is_array(js) || json_array_size(js) == 0)
            return sl_err_set(err, SL_EUSAGE,
                              "clean: parameter 'samples' must be a non-empty array of names");
        samples = calloc(json_array_size(js), sizeof *samples);
        if (!samples) return sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(js); i++) {
            samples[i] = json_string_value(json_array_get(js, i));
            if (!samples[i] || !*samples[i]) {
                free(samples);
                return sl_err_set(err, SL_EUSAGE, "clean: parameter 'samples' must hold non-empty strings");
            }
        }
        o.samples = samples;
        o.n_samples = json_array_size(js);
    }
    char **drop = NULL;
    size_t ndrop = 0;
    const char *sex = sl_step_input(ctx, "sex_table");
    if (sex && (rc = sl_bio_sexcheck_read_problems(sex, &drop, &ndrop, err))) {
        free(samples);
        return rc;
    }
    o.drop = (const char *const *)drop;
    o.n_drop = ndrop;

    char *note = sl_json_canonical(p);
    char *hdr = NULL;
    if (note) {
        size_t n = strlen(note) + 64;
        hdr = malloc(n);
        if (hdr) snprintf(hdr, n, "step_version:1 params:%s", note);
    }
    free(note);
    o.header_note = hdr;
    char *out = sl_step_out_path(ctx, "clean.vcf.gz");
    sl_bio_clean_stats st;
    if (!out || !hdr)
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    else
        rc = sl_bio_vcf_clean(sl_step_input(ctx, "vcf"), out, &o, &st, err);
    if (!rc && ctx->summary) {
        json_object_set_new(ctx->summary, "records_in", json_integer(st.records_in));
        json_object_set_new(ctx->summary, "records_kept", json_integer(st.records_kept));
        json_object_set_new(ctx->summary, "failed_qual", json_integer(st.failed_qual));
        json_object_set_new(ctx->summary, "failed_dp", json_integer(st.failed_dp));
        json_object_set_new(ctx->summary, "samples_in", json_integer(st.samples_in));
        json_object_set_new(ctx->summary, "samples_out", json_integer(st.samples_out));
        json_object_set_new(ctx->summary, "samples_dropped_by_sex_check", json_integer((json_int_t)ndrop));
    }
    free(out);
    free(hdr);
    free(samples);
    sl_bio_sexcheck_free_names(drop, ndrop);
    return rc;
}

static const sl_step_io clean_inputs[] = {
    {"vcf", SL_IO_FILE},
    {"sex_table", SL_IO_FILE | SL_IO_OPTIONAL},
    {NULL, 0},
};
static const sl_step_io clean_outputs[] = {
    {"clean.vcf.gz", SL_IO_FILE},
    {"clean.vcf.gz.tbi", SL_IO_FILE | SL_IO_OPTIONAL},
    {"clean.vcf.gz.csi", SL_IO_FILE | SL_IO_OPTIONAL},
    {NULL, 0},
};

const sl_step sl_step_clean = {
    .name = "clean",
    .version = 1,
    .summary = "keep the VCF records with QUAL > 30 and DP > 10 (bcftools semantics), subset samples, index",
    .inputs = clean_inputs,
    .outputs = clean_outputs,
    .run = run_clean,
};
