/* Typed config.json fields shared by the model families' config readers (config_read.h). */
#include "config_read.h"

int sl_nn_cfg_int(const json_t *o, const char *path, const char *key, long long def, long long min, int *out,
                  sl_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = (int)def;
        return 0;
    }
    if (!json_is_integer(v))
        return sl_err_set(err, SL_EDATA, "%s: field '%s': expected an integer", path, key);
    long long x = json_integer_value(v);
    if (x < min || x > 1000000000)
        return sl_err_set(err, SL_EDATA, "%s: field '%s': value %lld out of range", path, key, x);
    *out = (int)x;
    return 0;
}

int sl_nn_cfg_real(const json_t *o, const char *path, const char *key, double def, float *out, sl_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = (float)def;
        return 0;
    }
    if (!json_is_number(v)) return sl_err_set(err, SL_EDATA, "%s: field '%s': expected a number", path, key);
    double x = json_number_value(v);
    if (!(x >= 0 && x < 1e9))
        return sl_err_set(err, SL_EDATA, "%s: field '%s': value %g out of range", path, key, x);
    *out = (float)x;
    return 0;
}

int sl_nn_cfg_bool(const json_t *o, const char *path, const char *key, int def, int *out, sl_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return sl_err_set(err, SL_EDATA, "%s: field '%s': expected true or false", path, key);
    *out = json_is_true(v);
    return 0;
}
