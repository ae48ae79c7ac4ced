/* adapter_config.json reading and writing (PEFT LoraConfig). */
#include "peft_config.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"
#include "util/regex_guard.h"

static void free_list(char **l, size_t n) {
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

void sl_nn_peft_config_free(sl_nn_peft_config *c) {
    if (!c) return;
    free(c->task_type);
    free_list(c->target_modules, c->n_target_modules);
    free(c->target_modules_regex);
    free_list(c->modules_to_save, c->n_modules_to_save);
    free(c->bias);
    free(c->init_lora_weights);
    free(c->base_model_name_or_path);
    free(c->revision);
    free(c->layers_to_transform);
    free_list(c->layers_pattern, c->n_layers_pattern);
    json_decref(c->rank_pattern);
    json_decref(c->alpha_pattern);
    json_decref(c->extra);
    memset(c, 0, sizeof *c);
}

int sl_nn_peft_config_init(sl_nn_peft_config *c, sl_err *err) {
    memset(c, 0, sizeof *c);
    c->r = 8;
    c->lora_alpha = 8;
    c->bias = strdup("none");
    c->init_lora_weights = strdup("true");
    c->rank_pattern = json_object();
    c->alpha_pattern = json_object();
    c->extra = json_object();
    if (!c->bias || !c->init_lora_weights || !c->rank_pattern || !c->alpha_pattern || !c->extra) {
        sl_nn_peft_config_free(c);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    return 0;
}

int sl_nn_peft_config_set_list(char ***field, size_t *n_field, const char *const *items, size_t n,
                               sl_err *err) {
    char **l = NULL;
    if (items) {
        l = calloc(n ? n : 1, sizeof *l);
        if (!l) return sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            if (!(l[i] = strdup(items[i]))) {
                free_list(l, i);
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            }
        }
    }
    free_list(*field, *n_field);
    *field = l;
    *n_field = items ? n : 0;
    return 0;
}

double sl_nn_peft_config_scaling(const sl_nn_peft_config *c) {
    return c->use_rslora ? c->lora_alpha / sqrt((double)c->r) : c->lora_alpha / (double)c->r;
}

/* ---- reading -------------------------------------------------------------------------------------- */

/* Keys of the PEFT 0.13 LoraConfig (what we write). */
static const char *const keys_013[] = {"alpha_pattern",
                                       "auto_mapping",
                                       "base_model_name_or_path",
                                       "bias",
                                       "fan_in_fan_out",
                                       "inference_mode",
                                       "init_lora_weights",
                                       "layer_replication",
                                       "layers_pattern",
                                       "layers_to_transform",
                                       "loftq_config",
                                       "lora_alpha",
                                       "lora_dropout",
                                       "megatron_config",
                                       "megatron_core",
                                       "modules_to_save",
                                       "peft_type",
                                       "r",
                                       "rank_pattern",
                                       "revision",
                                       "target_modules",
                                       "task_type",
                                       "use_dora",
                                       "use_rslora",
                                       NULL};

/* Keys of other PEFT versions that are harmless at their inactive value: "null" (null only), "false"
 * (false or null), "any" (ignored whatever the value). */
static const struct {
    const char *key, *inactive;
} later_keys[] = {
    {"exclude_modules", "null"},
    {"lora_bias", "false"},
    {"eva_config", "null"},
    {"corda_config", "null"},
    {"trainable_token_indices", "null"},
    {"qalora_group_size", "any"},
    {"use_qalora", "false"},
    {"target_parameters", "null"},
    {"alora_invocation_tokens", "null"},
    {"arrow_config", "null"},
    {"ensure_weight_tying", "false"},
    {"peft_version", "any"},
    {"lora_ga_config", "null"},
    {"use_bdlora", "false"},
    {"monteclora_config", "null"},
    {"velora_config", "null"},
    {"runtime_config", "any"},
};

static int is_013_key(const char *k) {
    for (int i = 0; keys_013[i]; i++)
        if (!strcmp(keys_013[i], k)) return 1;
    return 0;
}

static int get_opt_str(const json_t *root, const char *key, char **out, const char *path, sl_err *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v))
        return sl_err_set(err, SL_EDATA, "%s: \"%s\" must be a string or null", path, key);
    free(*out);
    if (!(*out = strdup(json_string_value(v)))) return sl_err_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

static int get_bool(const json_t *root, const char *key, int *out, const char *path, sl_err *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return sl_err_set(err, SL_EDATA, "%s: \"%s\" must be true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

/* A regular expression read from the file: its size checked before regcomp ever sees it
 * (util/regex_guard.h), then compiled once, so that a pattern regcomp refuses is an error naming the field
 * here rather than a silent "no match" when the modules are matched. */
static int regex_field_check(const char *path, const char *field, const char *pattern, sl_err *err) {
    char what[1024];
    snprintf(what, sizeof what, "%s: %s", path, field);
    int rc = sl_regex_check(pattern, what, err);
    if (rc) return rc;
    regex_t re;
    int bad = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
    if (!bad) {
        regfree(&re);
        return 0;
    }
    char why[256];
    regerror(bad, NULL, why, sizeof why);
    return sl_err_set(err, SL_EDATA, "%s: not a valid POSIX extended regular expression (%s): %s", what, why,
                      pattern);
}

/* A list of strings, or (when allow_str) a single string read as a one-entry list; null leaves NULL. */
static int get_str_list(const json_t *root, const char *key, char ***out, size_t *n, const char *path,
                        sl_err *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return sl_nn_peft_config_set_list(out, n, &s, 1, err);
    }
    if (!json_is_array(v))
        return sl_err_set(err, SL_EDATA, "%s: \"%s\" must be a list of strings or null", path, key);
    size_t m = json_array_size(v);
    const char **items = calloc(m ? m : 1, sizeof *items);
    if (!items) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < m; i++) {
        items[i] = json_string_value(json_array_get(v, i));
        if (!items[i]) {
            free(items);
            return sl_err_set(err, SL_EDATA, "%s: \"%s\"[%zu] must be a string", path, key, i);
        }
    }
    int rc = sl_nn_peft_config_set_list(out, n, items, m, err);
    free(items);
    return rc;
}

static int unsupported(const char *path, const char *key, sl_err *err) {
    return sl_err_set(err, SL_EDATA, "%s: \"%s\" is set, a PEFT feature seqlora does not support", path, key);
}

int sl_nn_peft_config_read(const char *path, sl_nn_peft_config *c, sl_err *err) {
    int rc = sl_nn_peft_config_init(c, err);
    if (rc) return rc;
    if (!sl_fs_exists(path)) return sl_err_set(err, SL_ENOTFOUND, "%s: no such file", path);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return sl_err_set(err, SL_EDATA, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sl_err_set(err, SL_EDATA, "%s: expected a JSON object", path);
    }
    json_t *v;
    const char *key;
    /* peft_type (the one required key) */
    v = json_object_get(root, "peft_type");
    if (!json_is_string(v)) {
        rc = sl_err_set(err, SL_EDATA, "%s: missing \"peft_type\" (expected \"LORA\")", path);
        goto out;
    }
    if (strcmp(json_string_value(v), "LORA")) {
        rc = sl_err_set(err, SL_EDATA, "%s: peft_type \"%s\" is not supported (expected \"LORA\")", path,
                        json_string_value(v));
        goto out;
    }
    if ((rc = get_opt_str(root, "task_type", &c->task_type, path, err))) goto out;
    v = json_object_get(root, "r");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 1000000) {
            rc = sl_err_set(err, SL_EDATA, "%s: \"r\" must be a positive integer", path);
            goto out;
        }
        c->r = (int)json_integer_value(v);
    }
    v = json_object_get(root, "lora_alpha");
    if (v) {
        if (!json_is_number(v)) {
            rc = sl_err_set(err, SL_EDATA, "%s: \"lora_alpha\" must be a number", path);
            goto out;
        }
        c->lora_alpha = json_number_value(v);
    }
    v = json_object_get(root, "lora_dropout");
    if (v) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) >= 1) {
            rc = sl_err_set(err, SL_EDATA, "%s: \"lora_dropout\" must be a number in [0, 1)", path);
            goto out;
        }
        c->lora_dropout = json_number_value(v);
    }
    v = json_object_get(root, "target_modules");
    if (json_is_string(v)) {
        if ((rc = regex_field_check(path, "\"target_modules\"", json_string_value(v), err))) goto out;
        if (!(c->target_modules_regex = strdup(json_string_value(v)))) goto oom;
    } else if ((rc = get_str_list(root, "target_modules", &c->target_modules, &c->n_target_modules, path,
                                  err))) {
        goto out;
    }
    v = json_object_get(root, "modules_to_save");
    if (json_is_string(v)) {
        rc = sl_err_set(err, SL_EDATA, "%s: \"modules_to_save\" must be a list of strings or null", path);
        goto out;
    }
    if ((rc = get_str_list(root, "modules_to_save", &c->modules_to_save, &c->n_modules_to_save, path, err)))
        goto out;
    if ((rc = get_opt_str(root, "bias", &c->bias, path, err))) goto out;
    if (strcmp(c->bias, "none") && strcmp(c->bias, "all") && strcmp(c->bias, "lora_only")) {
        rc = sl_err_set(err, SL_EDATA, "%s: \"bias\" must be \"none\", \"all\" or \"lora_only\"", path);
        goto out;
    }
    if ((rc = get_bool(root, "fan_in_fan_out", &c->fan_in_fan_out, path, err))) goto out;
    if ((rc = get_bool(root, "use_rslora", &c->use_rslora, path, err))) goto out;
    if ((rc = get_bool(root, "inference_mode", &c->inference_mode, path, err))) goto out;
    v = json_object_get(root, "init_lora_weights");
    if (v && !json_is_null(v)) {
        const char *s = json_is_true(v) ? "true" : json_is_false(v) ? "false" : json_string_value(v);
        if (!s) {
            rc = sl_err_set(err, SL_EDATA, "%s: \"init_lora_weights\" must be true, false or a method name",
                            path);
            goto out;
        }
        free(c->init_lora_weights);
        if (!(c->init_lora_weights = strdup(s))) goto oom;
    }
    if ((rc = get_opt_str(root, "base_model_name_or_path", &c->base_model_name_or_path, path, err))) goto out;
    if ((rc = get_opt_str(root, "revision", &c->revision, path, err))) goto out;
    v = json_object_get(root, "layers_to_transform");
    if (v && !json_is_null(v)) {
        size_t m = json_is_array(v) ? json_array_size(v) : 1;
        c->layers_to_transform = calloc(m ? m : 1, sizeof(int));
        if (!c->layers_to_transform) goto oom;
        for (size_t i = 0; i < m; i++) {
            json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 1000000) {
                rc = sl_err_set(err, SL_EDATA,
                                "%s: \"layers_to_transform\" must be a layer index or a list of them", path);
                goto out;
            }
            c->layers_to_transform[i] = (int)json_integer_value(e);
        }
        c->n_layers_to_transform = m;
        c->layers_to_transform_scalar = !json_is_array(v);
    }
    if ((rc = get_str_list(root, "layers_pattern", &c->layers_pattern, &c->n_layers_pattern, path, err)))
        goto out;
    c->layers_pattern_scalar = json_is_string(json_object_get(root, "layers_pattern"));
    for (size_t i = 0; i < c->n_layers_pattern; i++)
        if ((rc = regex_field_check(path, "\"layers_pattern\"", c->layers_pattern[i], err))) goto out;
    const char *pats[2] = {"rank_pattern", "alpha_pattern"};
    json_t **dst[2] = {&c->rank_pattern, &c->alpha_pattern};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(root, pats[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_object(v)) {
            rc = sl_err_set(err, SL_EDATA, "%s: \"%s\" must be an object", path, pats[i]);
            goto out;
        }
        json_t *pv;
        json_object_foreach(v, key, pv) {
            if (!json_is_number(pv) || (i == 0 && !json_is_integer(pv))) {
                rc = sl_err_set(err, SL_EDATA, "%s: %s[\"%s\"] must be a%s number", path, pats[i], key,
                                i == 0 ? "n integer" : "");
                goto out;
            }
            char what[64];
            snprintf(what, sizeof what, "a key of \"%s\"", pats[i]);
            if ((rc = regex_field_check(path, what, key, err))) goto out;
        }
        json_decref(*dst[i]);
        *dst[i] = json_deep_copy(v);
        if (!*dst[i]) goto oom;
    }
    /* features that change the adapter's math and that seqlora does not implement */
    v = json_object_get(root, "use_dora");
    if (json_is_true(v)) {
        rc = unsupported(path, "use_dora", err);
        goto out;
    }
    v = json_object_get(root, "layer_replication");
    if (v && !json_is_null(v)) {
        rc = unsupported(path, "layer_replication", err);
        goto out;
    }
    /* the rest: 0.13 keys without effect here, later keys at their inactive value, unknown keys kept */
    json_object_foreach(root, key, v) {
        if (is_013_key(key)) continue;
        size_t i = 0, n = sizeof later_keys / sizeof later_keys[0];
        for (; i < n && strcmp(later_keys[i].key, key); i++) continue;
        if (i < n) {
            const char *in = later_keys[i].inactive;
            int inactive =
                !strcmp(in, "any") || json_is_null(v) || (!strcmp(in, "false") && json_is_false(v));
            if (!inactive) {
                rc = unsupported(path, key, err);
                goto out;
            }
            continue;
        }
        if (json_object_set(c->extra, key, v)) goto oom;
    }
out:
    json_decref(root);
    return rc;
oom:
    json_decref(root);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
}

/* ---- writing -------------------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s) {
    return s ? json_string(s) : json_null();
}

static json_t *list_or_null(char *const *l, size_t n) {
    if (!l) return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_string(l[i]));
    return a;
}

/* The fewest significant digits (<= 17) that print `x` so it reads back exactly, as Python's repr. */
static int repr_digits(double x) {
    for (int p = 1; p < 17; p++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x) return p;
    }
    return 17;
}

static json_t *number(double x, int *digits) {
    if (x == floor(x) && fabs(x) < 1e15) return json_integer((json_int_t)x);
    int d = repr_digits(x);
    if (d > *digits) *digits = d;
    return json_real(x);
}

/* jansson prints exponents as "1e-5"; Python's repr (and so PEFT's file) as "1e-05" / "1e+16". Rewrite
 * the exponents of numbers outside strings. Returns a new string (NULL on allocation failure). */
static char *python_exponents(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(2 * n + 1), *q = o;
    if (!o) return NULL;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        *q++ = ch;
        if (in_str) {
            if (ch == '\\' && i + 1 < n)
                *q++ = s[++i];
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
            continue;
        }
        if ((ch == 'e' || ch == 'E') && i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') {
            char sign = '+';
            if (s[i + 1] == '-' || s[i + 1] == '+') sign = s[++i];
            size_t d = i + 1, nd = 0;
            while (s[d + nd] >= '0' && s[d + nd] <= '9') nd++;
            *q++ = sign;
            if (nd == 1) *q++ = '0';
            memcpy(q, s + d, nd);
            q += nd;
            i = d + nd - 1;
        }
    }
    *q = '\0';
    return o;
}

char *sl_nn_peft_config_dumps(const sl_nn_peft_config *c, sl_err *err) {
    if (c->r <= 0) {
        sl_err_set(err, SL_EUSAGE, "adapter config: r must be positive, not %d", c->r);
        return NULL;
    }
    if (c->target_modules && c->target_modules_regex) {
        sl_err_set(err, SL_EUSAGE, "adapter config: target_modules is either a list or a regex, not both");
        return NULL;
    }
    if (!(c->lora_dropout >= 0 && c->lora_dropout < 1)) {
        sl_err_set(err, SL_EUSAGE, "adapter config: lora_dropout must be in [0, 1)");
        return NULL;
    }
    int digits = 1;
    const json_t *pats[2] = {c->rank_pattern, c->alpha_pattern};
    for (int i = 0; i < 2; i++) {
        const char *k;
        json_t *pv;
        if (!pats[i]) continue;
        json_object_foreach((json_t *)pats[i], k, pv) {
            if (json_is_real(pv) && repr_digits(json_real_value(pv)) > digits)
                digits = repr_digits(json_real_value(pv));
        }
    }
    json_t *o = json_object();
    if (!o) goto oom;
    int bad = 0;
    bad |= json_object_set_new(o, "alpha_pattern",
                               json_deep_copy(c->alpha_pattern ? c->alpha_pattern : json_object()));
    bad |= json_object_set_new(o, "auto_mapping", json_null());
    bad |= json_object_set_new(o, "base_model_name_or_path", str_or_null(c->base_model_name_or_path));
    bad |= json_object_set_new(o, "bias", json_string(c->bias ? c->bias : "none"));
    bad |= json_object_set_new(o, "fan_in_fan_out", json_boolean(c->fan_in_fan_out));
    bad |= json_object_set_new(o, "inference_mode", json_boolean(c->inference_mode));
    const char *init = c->init_lora_weights ? c->init_lora_weights : "true";
    bad |= json_object_set_new(o, "init_lora_weights",
                               !strcmp(init, "true")    ? json_true()
                               : !strcmp(init, "false") ? json_false()
                                                        : json_string(init));
    bad |= json_object_set_new(o, "layer_replication", json_null());
    json_t *lp = c->layers_pattern && c->layers_pattern_scalar && c->n_layers_pattern == 1
                     ? json_string(c->layers_pattern[0])
                     : list_or_null(c->layers_pattern, c->n_layers_pattern);
    bad |= json_object_set_new(o, "layers_pattern", lp);
    json_t *lt = json_null();
    if (c->layers_to_transform && c->layers_to_transform_scalar && c->n_layers_to_transform == 1) {
        lt = json_integer(c->layers_to_transform[0]);
    } else if (c->layers_to_transform) {
        lt = json_array();
        for (size_t i = 0; lt && i < c->n_layers_to_transform; i++)
            json_array_append_new(lt, json_integer(c->layers_to_transform[i]));
    }
    bad |= json_object_set_new(o, "layers_to_transform", lt);
    bad |= json_object_set_new(o, "loftq_config", json_object());
    bad |= json_object_set_new(o, "lora_alpha", number(c->lora_alpha, &digits));
    bad |= json_object_set_new(o, "lora_dropout", number(c->lora_dropout, &digits));
    if (c->lora_dropout == 0) json_object_set_new(o, "lora_dropout", json_real(0.0));
    bad |= json_object_set_new(o, "megatron_config", json_null());
    bad |= json_object_set_new(o, "megatron_core", json_string("megatron.core"));
    bad |= json_object_set_new(o, "modules_to_save", list_or_null(c->modules_to_save, c->n_modules_to_save));
    bad |= json_object_set_new(o, "peft_type", json_string("LORA"));
    bad |= json_object_set_new(o, "r", json_integer(c->r));
    bad |= json_object_set_new(o, "rank_pattern",
                               json_deep_copy(c->rank_pattern ? c->rank_pattern : json_object()));
    bad |= json_object_set_new(o, "revision", str_or_null(c->revision));
    bad |=
        json_object_set_new(o, "target_modules",
                            c->target_modules_regex ? json_string(c->target_modules_regex)
                                                    : list_or_null(c->target_modules, c->n_target_modules));
    bad |= json_object_set_new(o, "task_type", str_or_null(c->task_type));
    bad |= json_object_set_new(o, "use_dora", json_false());
    bad |= json_object_set_new(o, "use_rslora", json_boolean(c->use_rslora));
    if (bad) goto oom;
    /* json.dumps(indent=2, sort_keys=True): ", " is "," at line ends; reals printed as repr */
    char *s =
        json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(digits));
    json_decref(o);
    char *py = s ? python_exponents(s) : NULL;
    free(s);
    if (!py) sl_err_set(err, SL_ENOMEM, "out of memory");
    return py;
oom:
    json_decref(o);
    sl_err_set(err, SL_ENOMEM, "out of memory");
    return NULL;
}

int sl_nn_peft_config_write(const char *path, const sl_nn_peft_config *c, sl_err *err) {
    char *s = sl_nn_peft_config_dumps(c, err);
    if (!s) return err ? err->code : SL_ENOMEM;
    int rc = sl_fs_write_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

/* ---- target matching ------------------------------------------------------------------------------ */

/* Python's re.match(pattern, s) with a POSIX ERE (anchored at the start); the value of group `g` as an
 * int, or -1 when there is no match. */
static int regex_group_int(const char *pattern, const char *s, int g) {
    regex_t re;
    regmatch_t m[4];
    if (sl_regex_check(pattern, "layers_pattern", NULL) || regcomp(&re, pattern, REG_EXTENDED)) return -1;
    int v = -1;
    if (regexec(&re, s, 4, m, 0) == 0 && m[g].rm_so >= 0) v = atoi(s + m[g].rm_so);
    regfree(&re);
    return v;
}

/* The layer index of a module as PEFT 0.13 finds it: re.match(r".*\.[^.]*\.(\d+)\.", name), or with
 * layers_pattern rf".*\.{pattern}\.(\d+)\." for the first pattern that matches. */
static int layer_index(const sl_nn_peft_config *c, const char *name) {
    if (!c->layers_pattern || !c->n_layers_pattern)
        return regex_group_int("^.*\\.[^.]*\\.([0-9]+)\\.", name, 1);
    for (size_t i = 0; i < c->n_layers_pattern; i++) {
        size_t l = strlen(c->layers_pattern[i]) + 32;
        char *pat = malloc(l);
        if (!pat) return -1;
        snprintf(pat, l, "^.*\\.(%s)\\.([0-9]+)\\.", c->layers_pattern[i]);
        int v = regex_group_int(pat, name, 2);
        free(pat);
        if (v >= 0) return v;
    }
    return -1;
}

static int ends_with_component(const char *name, const char *t) {
    size_t ln = strlen(name), lt = strlen(t);
    if (ln == lt) return !strcmp(name, t);
    return ln > lt && name[ln - lt - 1] == '.' && !strcmp(name + ln - lt, t);
}

int sl_nn_peft_config_targets(const sl_nn_peft_config *c, const char *name) {
    int hit = 0;
    if (c->target_modules_regex) {
        size_t l = strlen(c->target_modules_regex);
        char *pat = malloc(l + 5);
        if (!pat) return 0;
        snprintf(pat, l + 5, "^(%s)$", c->target_modules_regex);
        regex_t re;
        if (!sl_regex_check(pat, "target_modules", NULL) &&
            regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) == 0) {
            hit = regexec(&re, name, 0, NULL, 0) == 0;
            regfree(&re);
        }
        free(pat);
    } else {
        for (size_t i = 0; i < c->n_target_modules && !hit; i++)
            hit = ends_with_component(name, c->target_modules[i]);
    }
    if (!hit) return 0;
    for (size_t i = 0; i < c->n_modules_to_save; i++) {
        /* PEFT skips modules inside a modules_to_save module: (^|.*\.)m($|\..*) */
        const char *m = c->modules_to_save[i], *p = name;
        size_t lm = strlen(m);
        while ((p = strstr(p, m))) {
            if ((p == name || p[-1] == '.') && (p[lm] == '\0' || p[lm] == '.')) return 0;
            p++;
        }
    }
    if (c->layers_to_transform) {
        int idx = layer_index(c, name);
        for (size_t i = 0; i < c->n_layers_to_transform; i++)
            if (c->layers_to_transform[i] == idx) return 1;
        return 0;
    }
    return 1;
}

/* re.match(rf".*\.{key}$", name) with a POSIX ERE. */
static int pattern_matches(const char *key, const char *name) {
    size_t l = strlen(key) + 16;
    char *pat = malloc(l);
    if (!pat) return 0;
    snprintf(pat, l, "^.*\\.(%s)$", key);
    regex_t re;
    int hit = 0;
    if (!sl_regex_check(pat, "pattern key", NULL) && regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) == 0) {
        hit = regexec(&re, name, 0, NULL, 0) == 0;
        regfree(&re);
    }
    free(pat);
    return hit;
}

void sl_nn_peft_config_module_rank(const sl_nn_peft_config *c, const char *name, int *r, double *alpha) {
    *r = c->r;
    *alpha = c->lora_alpha;
    const char *hit = NULL, *key;
    json_t *v;
    const json_t *maps[2] = {c->rank_pattern, c->alpha_pattern};
    for (int m = 0; m < 2 && !hit; m++) {
        if (!maps[m]) continue;
        json_object_foreach((json_t *)maps[m], key, v) {
            if (pattern_matches(key, name)) {
                hit = key;
                break;
            }
        }
    }
    if (!hit) return;
    json_t *rv = c->rank_pattern ? json_object_get(c->rank_pattern, hit) : NULL;
    json_t *av = c->alpha_pattern ? json_object_get(c->alpha_pattern, hit) : NULL;
    if (json_is_integer(rv)) *r = (int)json_integer_value(rv);
    if (json_is_number(av)) *alpha = json_number_value(av);
}
