/* The `clinical` step: a GDC-style clinical TSV → `id label [covariates...]` (see src/bio/clinical.h).
 *
 * Inputs:  tsv (file).
 * Outputs: labels.tsv.
 * Params:  id_column, label_column (required), map (object value → label, optional), covariates (array of
 *          column names, optional). */
#include <stdlib.h>
#include <string.h>

#include "bio/clinical.h"
#include "step.h"
#include "util/json.h"

static int run_clinical(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *p = ctx->params;
    static const char *const known[] = {"id_column", "label_column", "map", "covariates", NULL};
    const char *key;
    json_t *v;
    if (!json_is_object(p)) return sl_err_set(err, SL_EUSAGE, "clinical: parameters must be a JSON object");
    json_object_foreach((json_t *)p, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "clinical: unknown parameter '%s'", key);
    }
    sl_bio_clinical_opts o;
    memset(&o, 0, sizeof o);
    int rc;
    if ((rc = sl_json_get_str(p, "id_column", NULL, &o.id_column, err)) ||
        (rc = sl_json_get_str(p, "label_column", NULL, &o.label_column, err)))
        return rc;
    if (!o.id_column || !o.label_column)
        return sl_err_set(err, SL_EUSAGE, "clinical: parameters 'id_column' and 'label_column' are required");
    json_t *map = json_object_get(p, "map"), *cov = json_object_get(p, "covariates");
    if (map && !json_is_object(map))
        return sl_err_set(err, SL_EUSAGE, "clinical: 'map' must be an object value → label");
    if (cov && !json_is_array(cov))
        return sl_err_set(err, SL_EUSAGE, "clinical: 'covariates' must be an array of names");
    size_t nm = map ? json_object_size(map) : 0, nc = cov ? json_array_size(cov) : 0;
    const char **from = calloc(nm + 1, sizeof *from), **to = calloc(nm + 1, sizeof *to),
               **covs = calloc(nc + 1, sizeof *covs);
    if (!from || !to || !covs) {
        free(from);
        free(to);
        free(covs);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    size_t i = 0;
    if (map) json_object_foreach(map, key, v) {
            from[i] = key;
            to[i] = json_string_value(v);
            if (!to[i]) rc = sl_err_set(err, SL_EUSAGE, "clinical: map value for '%s' must be a string", key);
            i++;
        }
    for (i = 0; i < nc && !rc; i++)
        if (!(covs[i] = json_string_value(json_array_get(cov, i))))
            rc = sl_err_set(err, SL_EUSAGE, "clinical: covariates must be strings");
    o.map_from = from;
    o.map_to = to;
    o.n_map = nm;
    o.covariates = covs;
    o.n_covariates = nc;
    sl_bio_clinical_stats st;
    memset(&st, 0, sizeof st);
    char *out = NULL;
    if (!rc) {
        out = sl_step_out_path(ctx, "labels.tsv");
        rc = out ? sl_bio_clinical_convert(sl_step_input(ctx, "tsv"), out, &o, &st, err)
                 : sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (!rc && ctx->summary) {
        json_object_set_new(ctx->summary, "rows_in", json_integer(st.rows_in));
        json_object_set_new(ctx->summary, "kept", json_integer(st.kept));
        json_object_set_new(ctx->summary, "dropped_missing_id", json_integer(st.dropped_missing_id));
        json_object_set_new(ctx->summary, "dropped_missing_label", json_integer(st.dropped_missing_label));
        json_object_set_new(ctx->summary, "dropped_unmapped", json_integer(st.dropped_unmapped));
        json_t *counts = json_object();
        for (size_t k = 0; k < st.n_labels; k++)
            json_object_set_new(counts, st.labels[k], json_integer(st.label_counts[k]));
        json_object_set_new(ctx->summary, "label_counts", counts);
    }
    sl_bio_clinical_stats_free(&st);
    free(out);
    free(from);
    free(to);
    free(covs);
    return rc;
}

static const sl_step_io clinical_inputs[] = {{"tsv", SL_IO_FILE}, {NULL, 0}};
static const sl_step_io clinical_outputs[] = {{"labels.tsv", SL_IO_FILE}, {NULL, 0}};

const sl_step sl_step_clinical = {
    .name = "clinical",
    .version = 1,
    .summary =
        "GDC clinical.tsv → id/label table (missing '--'/'not reported' dropped and counted, value map)",
    .inputs = clinical_inputs,
    .outputs = clinical_outputs,
    .run = run_clinical,
};
