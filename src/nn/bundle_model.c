/* Opening a packaged model for scoring (see bundle_model.h). */
#include "bundle_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

static char *join_rel(const char *dir, const char *rel) {
    return rel ? sl_fs_join(dir, rel) : NULL;
}

/* Every base file listed in bundle.json must be in `dir` with its recorded digest. */
static int check_base(const char *bundle, const json_t *files, const char *dir, sl_err *err) {
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)files, name, v) {
        if (!json_is_string(v) || !sl_is_sha256_hex(json_string_value(v)))
            return sl_err_set(err, SL_EDATA,
                              "%s: bundle.json: base.files.%s: expected a SHA-256 (64 hex digits)", bundle,
                              name);
        char *p = sl_fs_join(dir, name);
        if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
        uint8_t d[SL_SHA256_LEN];
        char hex[SL_SHA256_HEX_LEN + 1];
        int rc = sl_sha256_file(p, d, NULL, err);
        if (rc) {
            free(p);
            return rc;
        }
        sl_sha256_to_hex(d, hex);
        if (strcmp(hex, json_string_value(v))) {
            rc = sl_err_set(err, SL_EINTEGRITY,
                            "%s has SHA-256 %s but the model %s was trained on one with %s", p, hex, bundle,
                            json_string_value(v));
            free(p);
            return rc;
        }
        free(p);
    }
    return 0;
}

/* The base in `dir` must be of the family bundle.json records (bundles written before the field existed
 * were BERT-family). */
static int check_family(const char *bundle, const json_t *base, const char *dir, sl_err *err) {
    const json_t *f = json_object_get(base, "family");
    if (f && !json_is_string(f))
        return sl_err_set(err, SL_EDATA, "%s: bundle.json: base.family: expected a string", bundle);
    const char *want = f ? json_string_value(f) : "bert", *have = NULL;
    int rc = sl_nn_infer_family_of(dir, &have, err);
    if (rc) return sl_err_prefix(err, "%s: the base model: ", bundle);
    if (strcmp(want, have))
        return sl_err_set(err, SL_EDATA,
                          "%s is a model of family '%s', but %s was trained on a base of family '%s' "
                          "(give the base model it was trained on)",
                          dir, have, bundle, want);
    return 0;
}

int sl_nn_bundle_model_open(const sl_nn_bundle_model_opts *o, sl_nn_bundle_model **out, sl_err *err) {
    *out = NULL;
    sl_nn_bundle_model *m = calloc(1, sizeof(*m));
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    m->positive = -1;
    char *model_dir = NULL, *adapter_dir = NULL, *tok_dir = NULL, *p = NULL;
    int rc;
    uint8_t d[SL_SHA256_LEN];
    if (!sl_fs_is_file(o->bundle)) {
        rc = sl_err_set(err, SL_ENOTFOUND, "%s: no such model bundle", o->bundle);
        goto fail;
    }
    if ((rc = sl_sha256_file(o->bundle, d, NULL, err))) goto fail;
    sl_sha256_to_hex(d, m->digest);
    const char *tmp = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if ((rc = sl_fs_mkdtemp(tmp, "seqlora-model-", &m->dir, err))) goto fail;
    if ((rc = sl_nn_bundle_extract(o->bundle, m->dir, err))) goto fail;
    if (!(p = sl_fs_join(m->dir, "bundle.json"))) goto nomem;
    if (!sl_fs_is_file(p)) {
        rc = sl_err_set(err, SL_EDATA, "%s: no bundle.json (not a seqlora model bundle)", o->bundle);
        goto fail;
    }
    if (!(m->meta = sl_json_load_file(p, err))) {
        rc = err ? err->code : SL_EDATA;
        goto fail;
    }
    free(p);
    p = NULL;
    const json_t *task = json_object_get(m->meta, "task"), *tokj = json_object_get(m->meta, "tokenizer"),
                 *inf = json_object_get(m->meta, "inference"), *base = json_object_get(m->meta, "base");
    const char *fmt = json_string_value(json_object_get(m->meta, "format"));
    if (!fmt || strcmp(fmt, SL_NN_MODEL_FORMAT)) {
        rc = sl_err_set(err, SL_EDATA, "%s: bundle.json: format is '%s', expected '%s'", o->bundle,
                        fmt ? fmt : "", SL_NN_MODEL_FORMAT);
        goto fail;
    }
    if (!json_is_object(task) || !json_is_object(tokj) || !json_is_object(inf) || !json_is_object(base) ||
        !json_is_integer(json_object_get(task, "max_length")) ||
        !json_is_integer(json_object_get(tokj, "kmer")) ||
        !json_is_number(json_object_get(task, "threshold")) ||
        !json_is_object(json_object_get(base, "files"))) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: bundle.json: expected task{max_length, threshold}, tokenizer{kmer}, inference, "
                        "base{files}",
                        o->bundle);
        goto fail;
    }
    m->threshold = json_number_value(json_object_get(task, "threshold"));
    const char *merged = json_string_value(json_object_get(m->meta, "merged")),
               *adapter = json_string_value(json_object_get(m->meta, "adapter")),
               *tokd = json_string_value(json_object_get(tokj, "dir"));
    if (!(tok_dir = join_rel(m->dir, tokd ? tokd : "tokenizer"))) goto nomem;
    if (merged && !(merged && o->prefer_adapter && adapter)) {
        if (!(model_dir = join_rel(m->dir, merged))) goto nomem;
        m->weights = "merged";
    } else {
        if (!adapter) {
            rc = sl_err_set(err, SL_EDATA, "%s: bundle.json names neither merged weights nor an adapter",
                            o->bundle);
            goto fail;
        }
        if (!(adapter_dir = join_rel(m->dir, adapter))) goto nomem;
        m->weights = "adapter";
        if (json_is_true(json_object_get(base, "embedded"))) {
            if (!(model_dir = sl_fs_join(m->dir, "base"))) goto nomem;
        } else {
            if (!o->base_dir) {
                const char *nm = json_string_value(json_object_get(base, "name"));
                rc = sl_err_set(
                    err, SL_EUSAGE,
                    "%s does not embed its base model%s%s%s: give the base model directory (--base DIR)",
                    o->bundle, nm && *nm ? " (" : "", nm && *nm ? nm : "", nm && *nm ? ")" : "");
                goto fail;
            }
            if (!(model_dir = strdup(o->base_dir))) goto nomem;
        }
        if ((rc = check_family(o->bundle, base, model_dir, err)) ||
            (rc = check_base(o->bundle, json_object_get(base, "files"), model_dir, err)))
            goto fail;
    }
    sl_nn_infer_opts io = {
        .model_dir = model_dir,
        .adapter_dir = adapter_dir,
        .tokenizer_dir = tok_dir,
        .max_length = (int)json_integer_value(json_object_get(task, "max_length")),
        .kmer = (int)json_integer_value(json_object_get(tokj, "kmer")),
        .window = o->window ? o->window : (int)json_integer_value(json_object_get(inf, "window")),
        .stride = o->stride ? o->stride : (int)json_integer_value(json_object_get(inf, "stride")),
        .max_batch = o->max_batch,
        .threads = o->threads,
        .cuda = o->cuda,
        .cuda_device = o->cuda_device,
        .precision = o->precision,
    };
    if (io.kmer == 0) io.kmer = -1; /* recorded as "no k-mers": never re-detect */
    if ((rc = sl_nn_infer_open(&io, &m->infer, err))) goto fail;
    const char *pos = json_string_value(json_object_get(task, "positive_class"));
    if (pos && sl_nn_infer_problem(m->infer) == SL_NN_SINGLE_LABEL)
        for (int i = 0; i < sl_nn_infer_num_outputs(m->infer); i++)
            if (!strcmp(sl_nn_infer_label(m->infer, i), pos)) m->positive = i;
    /* optional parts for people: the card and the metrics */
    if ((p = sl_fs_join(m->dir, "MODEL_CARD.md")) && sl_fs_is_file(p)) {
        size_t len;
        if ((rc = sl_fs_read_all(p, &m->card, &len, err))) goto fail;
    }
    free(p);
    p = NULL;
    const char *rep = json_string_value(json_object_get(m->meta, "report"));
    if (rep && (p = join_rel(m->dir, rep))) {
        char *mp = sl_fs_join(p, "metrics.json");
        if (mp && sl_fs_is_file(mp)) m->metrics = sl_json_load_file(mp, NULL);
        free(mp);
    }
    free(p);
    free(model_dir);
    free(adapter_dir);
    free(tok_dir);
    *out = m;
    return 0;
nomem:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
fail:
    free(p);
    free(model_dir);
    free(adapter_dir);
    free(tok_dir);
    sl_nn_bundle_model_close(m);
    return rc;
}

void sl_nn_bundle_model_close(sl_nn_bundle_model *m) {
    if (!m) return;
    sl_nn_infer_free(m->infer);
    json_decref(m->meta);
    json_decref(m->metrics);
    free(m->card);
    if (m->dir) {
        sl_err e;
        sl_err_clear(&e);
        sl_fs_remove_tree(m->dir, &e);
        free(m->dir);
    }
    free(m);
}
