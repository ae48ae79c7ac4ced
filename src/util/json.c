#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "fs.h"

char *sl_json_canonical(const json_t *value) {
    return json_dumps(value, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

json_t *sl_json_load_file(const char *path, sl_err *err) {
    json_error_t je;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!v) sl_err_set(err, SL_EDATA, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
    return v;
}

int sl_json_write_file(const char *path, const json_t *value, int pretty, sl_err *err) {
    size_t flags = JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
    flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
    char *text = json_dumps(value, flags);
    if (!text) return sl_err_set(err, SL_ENOMEM, "cannot encode JSON for %s", path);
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    int rc;
    if (!buf) {
        rc = sl_err_set(err, SL_ENOMEM, "cannot encode JSON for %s", path);
    } else {
        memcpy(buf, text, n);
        buf[n] = '\n';
        rc = sl_fs_write_atomic(path, buf, n + 1, err);
        free(buf);
    }
    free(text);
    return rc;
}

static json_t *lookup(const json_t *obj, const char *key) {
    return obj && json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

int sl_json_get_int(const json_t *obj, const char *key, long long def, long long *out, sl_err *err) {
    json_t *v = lookup(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) return sl_err_set(err, SL_EUSAGE, "parameter '%s': expected an integer", key);
    *out = json_integer_value(v);
    return 0;
}

int sl_json_get_real(const json_t *obj, const char *key, double def, double *out, sl_err *err) {
    json_t *v = lookup(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return sl_err_set(err, SL_EUSAGE, "parameter '%s': expected a number", key);
    *out = json_number_value(v);
    return 0;
}

int sl_json_get_bool(const json_t *obj, const char *key, int def, int *out, sl_err *err) {
    json_t *v = lookup(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) return sl_err_set(err, SL_EUSAGE, "parameter '%s': expected true or false", key);
    *out = json_is_true(v);
    return 0;
}

int sl_json_get_str(const json_t *obj, const char *key, const char *def, const char **out, sl_err *err) {
    json_t *v = lookup(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_string(v)) return sl_err_set(err, SL_EUSAGE, "parameter '%s': expected a string", key);
    *out = json_string_value(v);
    return 0;
}
