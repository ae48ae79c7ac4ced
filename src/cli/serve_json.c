/* Request parsing, validation and response bodies of `seqlora serve` (see serve.h). */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

void sl_serve_error(sl_serve_reply *r, unsigned status, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->status = status;
    r->json = json_pack("{s:s,s:s}", "status", "error", "error", msg);
    if (field && r->json) json_object_set_new(r->json, "field", json_string(field));
}

char *sl_serve_dump(const json_t *j) {
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
}

/* Parse the body as a JSON object; 422 (malformed JSON / not an object) fills `r`. */
static json_t *parse_body(const char *body, size_t len, sl_serve_reply *r) {
    json_error_t je;
    json_t *j = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!len) {
        sl_serve_error(r, 422, "body", "the request body is empty; expected a JSON object");
        return NULL;
    }
    if (!j) {
        sl_serve_error(r, 422, "body", "malformed JSON at line %d, column %d: %s", je.line, je.column,
                       je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        sl_serve_error(r, 422, "body", "expected a JSON object");
        return NULL;
    }
    return j;
}

/* A sequence field: a non-empty string of A/C/G/T/N (any case; the model's one-letter residues for a protein
 * model). Missing / wrong type: 422; bad characters: 400 naming the 1-based position. Returns the upper-cased
 * copy (malloc'd) or NULL with `r` filled. */
static char *get_sequence(const sl_serve *srv, const json_t *obj, const char *key, const char *field,
                          sl_serve_reply *r) {
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        sl_serve_error(r, 422, field, "missing field '%s'", field);
        return NULL;
    }
    if (!json_is_string(v)) {
        sl_serve_error(r, 422, field, "field '%s' must be a string", field);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    long long bad;
    const sl_nn_infer *in = srv->model->infer;
    if (sl_nn_infer_check_seq(in, s, len, &bad)) {
        if (bad < 0)
            sl_serve_error(r, 400, field, "field '%s' is empty", field);
        else {
            unsigned char c = (unsigned char)s[bad];
            if (c >= 0x20 && c < 0x7f)
                sl_serve_error(r, 400, field, "field '%s': position %lld: '%c' is not %s", field, bad + 1, c,
                               sl_nn_infer_alphabet(in));
            else
                sl_serve_error(r, 400, field, "field '%s': position %lld: byte 0x%02x is not %s", field,
                               bad + 1, c, sl_nn_infer_alphabet(in));
            if (r->json) json_object_set_new(r->json, "position", json_integer(bad + 1));
        }
        return NULL;
    }
    char *u = malloc(len + 1);
    if (!u) {
        sl_serve_error(r, 500, NULL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < len; i++) u[i] = (char)toupper((unsigned char)s[i]);
    u[len] = 0;
    return u;
}

static double round4(double p) {
    return round(p * 10000.0) / 10000.0;
}

/* The index of the class the risk probability is about. */
static int risk_class(const sl_serve *s) {
    int C = sl_nn_infer_num_outputs(s->model->infer);
    return s->model->positive >= 0 ? s->model->positive : C - 1;
}

/* 413 when scoring `n` sequences would take more than SL_SERVE_MAX_WINDOWS model windows. */
static int too_many_windows(const sl_serve *s, const char *const *seqs, size_t n, const char *field,
                            sl_serve_reply *r) {
    size_t w = 0;
    for (size_t i = 0; i < n; i++) w += sl_nn_infer_n_windows(s->model->infer, strlen(seqs[i]));
    if (w <= SL_SERVE_MAX_WINDOWS) return 0;
    sl_serve_error(r, 413, field,
                   "the request needs %zu model windows of %d bases; at most %d per request (split it)", w,
                   sl_nn_infer_window(s->model->infer), SL_SERVE_MAX_WINDOWS);
    return 1;
}

/* Score under the model lock. */
static int score_locked(sl_serve *s, const char *const *seqs, size_t n, double *out, size_t *nw,
                        sl_err *err) {
    pthread_mutex_lock(&s->model_lock);
    int rc = sl_nn_infer_score_dna(s->model->infer, seqs, n, out, nw, err);
    pthread_mutex_unlock(&s->model_lock);
    return rc;
}

void sl_serve_predict_risk(sl_serve *s, const char *body, size_t len, sl_serve_reply *r) {
    json_t *j = parse_body(body, len, r);
    if (!j) return;
    char *seq = get_sequence(s, j, "brca1_sequence", "brca1_sequence", r);
    json_decref(j);
    if (!seq) return;
    const int C = sl_nn_infer_num_outputs(s->model->infer);
    double *p = malloc((size_t)C * sizeof(double));
    sl_err err;
    sl_err_clear(&err);
    if (!p) {
        free(seq);
        sl_serve_error(r, 500, NULL, "out of memory");
        return;
    }
    const char *const one[1] = {seq};
    if (too_many_windows(s, one, 1, "brca1_sequence", r)) {
        /* r filled */
    } else if (score_locked(s, one, 1, p, NULL, &err)) {
        sl_serve_error(r, 500, NULL, "scoring failed: %s", err.msg);
    } else {
        double risk = p[risk_class(s)];
        r->status = 200;
        r->json = json_pack("{s:s,s:s,s:f,s:s}", "status", "success", "brca1_sequence", seq,
                            "breast_cancer_risk_probability", round4(risk), "interpretation",
                            risk > s->model->threshold ? "High risk" : "Low risk");
    }
    free(p);
    free(seq);
}

/* One result object for probabilities p[0..C). */
static json_t *result_json(const sl_serve *s, const char *id, const double *p, size_t windows) {
    sl_nn_infer *in = s->model->infer;
    const int C = sl_nn_infer_num_outputs(in);
    json_t *o = json_object(), *probs = json_object();
    json_object_set_new(o, "id", json_string(id));
    if (sl_nn_infer_problem(in) == SL_NN_REGRESSION) {
        json_object_set_new(o, "prediction", json_real(p[0]));
    } else {
        int best = 0;
        for (int c = 0; c < C; c++) {
            json_object_set_new(probs, sl_nn_infer_label(in, c), json_real(p[c]));
            if (p[c] > p[best]) best = c;
        }
        json_object_set_new(o, "probabilities", probs);
        probs = NULL;
        if (s->model->positive >= 0) {
            double risk = p[s->model->positive];
            json_object_set_new(o, "positive_class_probability", json_real(risk));
            json_object_set_new(o, "interpretation",
                                json_string(risk > s->model->threshold ? "High risk" : "Low risk"));
        } else {
            json_object_set_new(o, "prediction", json_string(sl_nn_infer_label(in, best)));
        }
    }
    json_decref(probs);
    json_object_set_new(o, "windows", json_integer((json_int_t)windows));
    return o;
}

/* The id of item i: its "id" string, else its 1-based index. */
static const char *item_id(const json_t *item, size_t i, char buf[32]) {
    const json_t *v = json_object_get(item, "id");
    if (json_is_string(v)) return json_string_value(v);
    snprintf(buf, 32, "%zu", i + 1);
    return buf;
}

static void predict_sequences(sl_serve *s, const json_t *arr, sl_serve_reply *r) {
    size_t n = json_array_size(arr);
    const int C = sl_nn_infer_num_outputs(s->model->infer);
    char **seqs = calloc(n ? n : 1, sizeof(char *));
    double *p = malloc(n * (size_t)C * sizeof(double) + 1);
    size_t *nw = malloc(n * sizeof(size_t) + 1);
    sl_err err;
    sl_err_clear(&err);
    if (!seqs || !p || !nw) {
        sl_serve_error(r, 500, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(arr, i);
        char field[64];
        snprintf(field, sizeof field, "sequences[%zu].sequence", i);
        if (!json_is_object(it)) {
            snprintf(field, sizeof field, "sequences[%zu]", i);
            sl_serve_error(r, 422, field, "'%s' must be an object {\"id\", \"sequence\"}", field);
            goto out;
        }
        if (!(seqs[i] = get_sequence(s, it, "sequence", field, r))) goto out;
    }
    if (too_many_windows(s, (const char *const *)seqs, n, "sequences", r)) goto out;
    if (score_locked(s, (const char *const *)seqs, n, p, nw, &err)) {
        sl_serve_error(r, 500, NULL, "scoring failed: %s", err.msg);
        goto out;
    }
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        json_array_append_new(res, result_json(s, item_id(json_array_get(arr, i), i, buf), p + i * C, nw[i]));
    }
    r->status = 200;
    r->json = json_pack("{s:s,s:s,s:o}", "status", "success", "model", s->model->digest, "results", res);
out:
    for (size_t i = 0; seqs && i < n; i++) free(seqs[i]);
    free(seqs);
    free(p);
    free(nw);
}

/* Variants: {"id", "sequence" (the REF context), "position" (1-based in it), "ref", "alt"}. */
static void predict_variants(sl_serve *s, const json_t *arr, sl_serve_reply *r) {
    size_t n = json_array_size(arr);
    const int C = sl_nn_infer_num_outputs(s->model->infer);
    char **w = calloc(2 * n + 1, sizeof(char *));
    double *p = malloc(2 * n * (size_t)C * sizeof(double) + 1);
    sl_err err;
    sl_err_clear(&err);
    if (!w || !p) {
        sl_serve_error(r, 500, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(arr, i);
        char field[64];
        if (!json_is_object(it)) {
            snprintf(field, sizeof field, "variants[%zu]", i);
            sl_serve_error(r, 422, field,
                           "'%s' must be an object {\"id\", \"sequence\", \"position\", \"ref\", \"alt\"}",
                           field);
            goto out;
        }
        snprintf(field, sizeof field, "variants[%zu].sequence", i);
        if (!(w[2 * i] = get_sequence(s, it, "sequence", field, r))) goto out;
        char *ref, *alt;
        snprintf(field, sizeof field, "variants[%zu].ref", i);
        if (!(ref = get_sequence(s, it, "ref", field, r))) goto out;
        snprintf(field, sizeof field, "variants[%zu].alt", i);
        if (!(alt = get_sequence(s, it, "alt", field, r))) {
            free(ref);
            goto out;
        }
        const json_t *pos = json_object_get(it, "position");
        size_t L = strlen(w[2 * i]), rl = strlen(ref), al = strlen(alt);
        snprintf(field, sizeof field, "variants[%zu].position", i);
        if (!json_is_integer(pos) || json_integer_value(pos) < 1 ||
            (size_t)json_integer_value(pos) + rl - 1 > L) {
            sl_serve_error(r, pos ? 400 : 422, field,
                           "'%s' must be an integer from 1 to %zu (1-based, ref inside the sequence)", field,
                           L >= rl ? L - rl + 1 : 0);
            free(ref);
            free(alt);
            goto out;
        }
        size_t off = (size_t)json_integer_value(pos) - 1;
        if (strncmp(w[2 * i] + off, ref, rl)) {
            snprintf(field, sizeof field, "variants[%zu].ref", i);
            sl_serve_error(r, 400, field, "'%s' is %s but the sequence has %.*s at position %zu", field, ref,
                           (int)rl, w[2 * i] + off, off + 1);
            free(ref);
            free(alt);
            goto out;
        }
        char *a = malloc(L - rl + al + 1);
        if (!a) {
            free(ref);
            free(alt);
            sl_serve_error(r, 500, NULL, "out of memory");
            goto out;
        }
        memcpy(a, w[2 * i], off);
        memcpy(a + off, alt, al);
        memcpy(a + off + al, w[2 * i] + off + rl, L - off - rl + 1);
        w[2 * i + 1] = a;
        free(ref);
        free(alt);
    }
    if (too_many_windows(s, (const char *const *)w, 2 * n, "variants", r)) goto out;
    if (score_locked(s, (const char *const *)w, 2 * n, p, NULL, &err)) {
        sl_serve_error(r, 500, NULL, "scoring failed: %s", err.msg);
        goto out;
    }
    int k = risk_class(s);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        double pr = p[2 * i * C + k], pa = p[(2 * i + 1) * C + k];
        json_array_append_new(res,
                              json_pack("{s:s,s:f,s:f,s:f}", "id", item_id(json_array_get(arr, i), i, buf),
                                        "p_ref", pr, "p_alt", pa, "delta", pa - pr));
    }
    const char *cls = sl_nn_infer_problem(s->model->infer) == SL_NN_REGRESSION
                          ? "prediction"
                          : sl_nn_infer_label(s->model->infer, k);
    r->status = 200;
    r->json = json_pack("{s:s,s:s,s:s,s:o}", "status", "success", "model", s->model->digest, "class", cls,
                        "results", res);
out:
    for (size_t i = 0; w && i < 2 * n; i++) free(w[i]);
    free(w);
    free(p);
}

void sl_serve_v1_predict(sl_serve *s, const char *body, size_t len, sl_serve_reply *r) {
    json_t *j = parse_body(body, len, r);
    if (!j) return;
    const json_t *seqs = json_object_get(j, "sequences"), *vars = json_object_get(j, "variants");
    if (!seqs && !vars) {
        sl_serve_error(r, 422, "sequences", "missing field 'sequences' (or 'variants')");
    } else if (seqs && vars) {
        sl_serve_error(r, 422, "variants", "give either 'sequences' or 'variants', not both");
    } else {
        const json_t *arr = seqs ? seqs : vars;
        const char *field = seqs ? "sequences" : "variants";
        if (!json_is_array(arr) || json_array_size(arr) == 0)
            sl_serve_error(r, 422, field, "field '%s' must be a non-empty array", field);
        else if (json_array_size(arr) > SL_SERVE_MAX_BATCH)
            sl_serve_error(r, 413, field, "at most %d items per request (got %zu)", SL_SERVE_MAX_BATCH,
                           json_array_size(arr));
        else if (seqs)
            predict_sequences(s, arr, r);
        else
            predict_variants(s, arr, r);
    }
    json_decref(j);
}

json_t *sl_serve_model_info(const sl_serve *s) {
    const sl_nn_bundle_model *m = s->model;
    sl_nn_infer *in = m->infer;
    json_t *o = json_object();
    json_object_set_new(o, "digest", json_string(m->digest));
    json_object_set(o, "bundle", m->meta);
    json_object_set_new(o, "weights", json_string(m->weights));
    /* an sl_serve set up without them (the fuzz harness) runs on the CPU in fp32 */
    json_object_set_new(o, "device", json_string(s->device[0] ? s->device : "cpu"));
    json_object_set_new(o, "precision", json_string(s->precision ? s->precision : "fp32"));
    json_object_set_new(o, "threshold", json_real(m->threshold));
    json_object_set_new(o, "inference",
                        json_pack("{s:i,s:i,s:i,s:i}", "window", sl_nn_infer_window(in), "stride",
                                  sl_nn_infer_stride(in), "kmer", sl_nn_infer_kmer(in), "max_length",
                                  sl_nn_infer_max_length(in)));
    json_object_set_new(o, "metrics", m->metrics ? json_incref(m->metrics) : json_null());
    json_object_set_new(o, "model_card", m->card ? json_string(m->card) : json_null());
    /* the provenance: the bundle's RO-Crate and its digest */
    char *crate = sl_fs_join(m->dir, "ro-crate-metadata.json");
    uint8_t d[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1];
    json_t *rc = crate ? sl_json_load_file(crate, NULL) : NULL;
    if (rc && !sl_sha256_file(crate, d, NULL, NULL)) {
        sl_sha256_to_hex(d, hex);
        json_object_set_new(o, "provenance", json_pack("{s:s,s:o}", "ro_crate_sha256", hex, "ro_crate", rc));
    } else {
        json_decref(rc);
        json_object_set_new(o, "provenance", json_null());
    }
    free(crate);
    return o;
}
