/* The `fetch_ensembl` step: a sequence from the Ensembl REST API, checked to be FASTA. See fetch.h. */
#include <stdlib.h>
#include <string.h>

#include "bio/ensembl.h"
#include "fetch.h"
#include "util/fs.h"
#include "util/json.h"

enum { MAX_FASTA_BYTES = 256 << 20 };

static int run_fetch_ensembl(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const char *id = NULL, *type = NULL, *base = NULL;
    int rc;
    if (!json_is_object(ctx->params))
        return sl_err_set(err, SL_EUSAGE, "fetch_ensembl: parameters must be an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ctx->params, key, v) {
        if (strcmp(key, "id") && strcmp(key, "type") && strcmp(key, "url"))
            return sl_err_set(err, SL_EUSAGE, "fetch_ensembl: unknown parameter '%s'", key);
    }
    if ((rc = sl_json_get_str(ctx->params, "id", NULL, &id, err)) ||
        (rc = sl_json_get_str(ctx->params, "type", "genomic", &type, err)) ||
        (rc = sl_json_get_str(ctx->params, "url", "https://rest.ensembl.org", &base, err)))
        return rc;
    if (!id || !sl_bio_ensembl_id_ok(id))
        return sl_err_set(err, SL_EUSAGE,
                          "fetch_ensembl: parameter 'id': expected an Ensembl stable ID "
                          "(letters, digits, '.', '_', '-'), got '%s'",
                          id ? id : "(none)");
    if (!sl_bio_ensembl_type_ok(type))
        return sl_err_set(err, SL_EUSAGE,
                          "fetch_ensembl: parameter 'type': expected genomic, cds, cdna or protein, got '%s'",
                          type);
    char *url = sl_bio_ensembl_sequence_url(base, id, type);
    if (!url) return sl_err_set(err, SL_ENOMEM, "out of memory");

    sl_bio_dl_opts opts = *sl_step_fetch_transport();
    static const char *const headers[] = {SL_BIO_ENSEMBL_FASTA_HEADER, NULL};
    opts.headers = headers;
    opts.secret_header = NULL; /* a token for another service never goes to Ensembl */
    opts.secret_value = NULL;
    opts.progress = NULL;
    char *body = NULL;
    size_t len = 0;
    rc = sl_bio_download_mem(url, MAX_FASTA_BYTES, &opts, &body, &len, err);
    size_t records = 0;
    if (!rc) rc = sl_bio_fasta_check(body, len, url, &records, err);
    if (!rc) {
        char *out = sl_step_out_path(ctx, "sequence.fa");
        if (!out) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        /* keep the bytes as served; end with a newline so the file concatenates cleanly */
        if (!rc && len && body[len - 1] != '\n') body[len++] = '\n'; /* body has room: its NUL */
        if (!rc) rc = sl_fs_write_atomic(out, body, len, err);
        free(out);
    }
    if (!rc && ctx->summary) {
        json_object_set_new(ctx->summary, "records", json_integer((json_int_t)records));
        json_object_set_new(ctx->summary, "bytes", json_integer((json_int_t)len));
    }
    free(body);
    free(url);
    return rc;
}

static const sl_step_io ens_inputs[] = {{NULL, 0}};
static const sl_step_io ens_outputs[] = {{"sequence.fa", SL_IO_FILE}, {NULL, 0}};

const sl_step sl_step_fetch_ensembl = {
    .name = "fetch_ensembl",
    .version = 1,
    .summary = "fetch a gene/transcript/protein sequence as FASTA from the Ensembl REST API",
    .inputs = ens_inputs,
    .outputs = ens_outputs,
    .run = run_fetch_ensembl,
};
