/* Action keys and action records: immutable, self-checksummed canonical JSON files under actions/. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

static int hash_canonical(const json_t *v, char hex[65], sl_err *err) {
    char *text = sl_json_canonical(v);
    if (!text) return sl_err_set(err, SL_ENOMEM, "cannot encode JSON");
    uint8_t d[32];
    sl_sha256_buf(text, strlen(text), d);
    sl_sha256_to_hex(d, hex);
    free(text);
    return 0;
}

static int check_inputs(const json_t *inputs, sl_err *err) {
    if (!json_is_object(inputs))
        return sl_err_set(err, SL_EDATA, "\"inputs\" must be an object of role → [digest]");
    const char *role;
    json_t *arr;
    json_object_foreach((json_t *)inputs, role, arr) {
        if (!json_is_array(arr))
            return sl_err_set(err, SL_EDATA, "inputs.%s must be an array of digests", role);
        size_t i;
        json_t *d;
        json_array_foreach(arr, i, d) {
            if (!json_is_string(d) || !sl_is_sha256_hex(json_string_value(d)))
                return sl_err_set(err, SL_EDATA, "inputs.%s[%zu] must be a 64-hex-digit SHA-256", role, i);
        }
    }
    return 0;
}

int sl_store_action_key(const char *step, int version, const json_t *params, const json_t *inputs,
                        char key[65], sl_err *err) {
    if (!json_is_object(params))
        return sl_err_set(err, SL_EUSAGE, "the parameters of %s must be a JSON object", step);
    int rc = check_inputs(inputs, err);
    if (rc) return rc;
    json_t *k = json_pack("{s:O, s:O, s:i, s:s, s:i}", "inputs", inputs, "params", params, "schema", 1,
                          "step", step, "version", version);
    if (!k) return sl_err_set(err, SL_ENOMEM, "out of memory");
    rc = hash_canonical(k, key, err);
    json_decref(k);
    return rc;
}

int sl_store_record_checksum(const json_t *record, char hex[65], sl_err *err) {
    json_t *copy = json_copy((json_t *)record);
    if (!copy) return sl_err_set(err, SL_ENOMEM, "out of memory");
    json_object_del(copy, "checksum");
    int rc = hash_canonical(copy, hex, err);
    json_decref(copy);
    return rc;
}

int sl_store_record_check(const json_t *r, const char *expect_key, sl_err *err) {
    if (!json_is_object(r)) return sl_err_set(err, SL_EINTEGRITY, "an action record must be a JSON object");
    const char *key = json_string_value(json_object_get(r, "key"));
    const char *step = json_string_value(json_object_get(r, "step"));
    const char *sum = json_string_value(json_object_get(r, "checksum"));
    json_t *outputs = json_object_get(r, "outputs");
    if (json_integer_value(json_object_get(r, "schema")) != 1 || !key || !sl_is_sha256_hex(key) || !step ||
        !json_is_integer(json_object_get(r, "version")) || !json_is_object(json_object_get(r, "params")) ||
        !json_is_object(outputs) || !sum)
        return sl_err_set(err, SL_EINTEGRITY,
                          "action record %s: missing or malformed members (schema 1, key, step, "
                          "version, params, inputs, outputs, checksum)",
                          key ? key : "?");
    sl_err sub;
    if (check_inputs(json_object_get(r, "inputs"), &sub))
        return sl_err_set(err, SL_EINTEGRITY, "action record %s: %s", key, sub.msg);
    const char *name;
    json_t *o;
    json_object_foreach(outputs, name, o) {
        const char *d = json_string_value(json_object_get(o, "digest"));
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!d || !sl_is_sha256_hex(d) || !type || (strcmp(type, "file") && strcmp(type, "tree")))
            return sl_err_set(err, SL_EINTEGRITY,
                              "action record %s: output '%s' needs a digest and a type file|tree", key, name);
    }
    char got[65];
    int rc = sl_store_record_checksum(r, got, err);
    if (rc) return rc;
    if (strcmp(got, sum))
        return sl_err_set(err, SL_EINTEGRITY,
                          "action record %s is corrupt: its checksum is %s, the content hashes to %s", key,
                          sum, got);
    rc = sl_store_action_key(step, (int)json_integer_value(json_object_get(r, "version")),
                             json_object_get(r, "params"), json_object_get(r, "inputs"), got, err);
    if (rc) return rc;
    if (strcmp(got, key))
        return sl_err_set(err, SL_EINTEGRITY,
                          "action record %s is corrupt: its step, parameters and inputs give the key %s", key,
                          got);
    if (expect_key && strcmp(expect_key, key))
        return sl_err_set(err, SL_EINTEGRITY, "action record file for %s holds the record of %s", expect_key,
                          key);
    return 0;
}

char *sl_store_record_path(const sl_store *s, const char *key) {
    size_t n = strlen(s->root) + 96;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/actions/%.2s/%s.json", s->root, key, key);
    return p;
}

int sl_store_record_load_file(const char *path, const char *expect_key, json_t **record, sl_err *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = sl_fs_read_all(path, &text, &len, err);
    if (rc) return rc;
    json_error_t je;
    json_t *r = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!r)
        return sl_err_set(err, SL_EINTEGRITY, "action record %s is corrupt: %d:%d: %s", path, je.line,
                          je.column, je.text);
    rc = sl_store_record_check(r, expect_key, err);
    if (rc) {
        json_decref(r);
        return sl_err_prefix(err, "%s", path);
    }
    *record = r;
    return 0;
}

int sl_store_record_put(sl_store *s, json_t *record, int replace, sl_err *err) {
    char sum[65];
    json_object_del(record, "checksum");
    int rc = sl_store_record_checksum(record, sum, err);
    if (rc) return rc;
    json_object_set_new(record, "checksum", json_string(sum));
    rc = sl_store_record_check(record, NULL, err);
    if (rc) return rc;
    const char *key = json_string_value(json_object_get(record, "key"));
    char *text = sl_json_canonical(record);
    char *path = sl_store_record_path(s, key);
    if (!text || !path) {
        free(text);
        free(path);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        free(path);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    rc = sl_store_write_small(s, path, line, n + 1, replace, err);
    free(line);
    free(path);
    if (!rc) rc = sl_store_index_put_action(s, record, err);
    return rc;
}

int sl_store_record_get(sl_store *s, const char *key, json_t **record, sl_err *err) {
    char *path = sl_store_record_path(s, key);
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = sl_store_record_load_file(path, key, record, err);
    free(path);
    return rc;
}

void sl_store_record_touch(sl_store *s, const char *key) {
    char *path = sl_store_record_path(s, key);
    if (path) utimensat(AT_FDCWD, path, NULL, 0);
    free(path);
}

void sl_store_record_each_artifact(const json_t *r, void (*fn)(void *, const char *, int, int), void *user) {
    const char *name;
    json_t *o;
    json_object_foreach(json_object_get(r, "outputs"), name, o) {
        const char *d = json_string_value(json_object_get(o, "digest"));
        const char *t = json_string_value(json_object_get(o, "type"));
        if (d) fn(user, d, t && !strcmp(t, "tree"), 1);
    }
    /* input_files tells which inputs are trees; inputs alone lists every digest. */
    json_t *files = json_object_get(r, "input_files");
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *d = json_string_value(json_object_get(f, "digest"));
        const char *t = json_string_value(json_object_get(f, "type"));
        if (d && sl_is_sha256_hex(d)) fn(user, d, t && !strcmp(t, "tree"), 0);
    }
    if (!json_array_size(files)) {
        const char *role;
        json_t *arr;
        json_object_foreach(json_object_get(r, "inputs"), role, arr) {
            json_array_foreach(arr, i, f) fn(user, json_string_value(f), 0, 0);
        }
    }
}
