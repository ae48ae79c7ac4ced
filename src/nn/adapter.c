/* PEFT adapter files (see adapter.h). */
#include "adapter.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_impl.h"
#include "safetensors.h"
#include "util/fs.h"
#include "util/json.h"

static int bad(sl_err *err, const char *path, const char *key, const char *what) {
    return sl_err_set(err, SL_EDATA, "%s: '%s': %s", path, key, what);
}

int sl_nn_adapter_read_config(const char *dir, sl_nn_lora_spec *spec, sl_err *err) {
    char *path = sl_fs_join(dir, "adapter_config.json");
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = 0;
    json_t *o = sl_json_load_file(path, err);
    if (!o) {
        rc = err ? err->code : SL_EDATA;
        free(path);
        return rc;
    }
    memset(spec, 0, sizeof *spec);
    json_t *v;
    if (!json_is_object(o)) {
        rc = sl_err_set(err, SL_EDATA, "%s: expected a JSON object", path);
        goto out;
    }
    v = json_object_get(o, "peft_type");
    if (!v || !json_is_string(v) || strcmp(json_string_value(v), "LORA")) {
        rc = bad(err, path, "peft_type", "expected \"LORA\"");
        goto out;
    }
    v = json_object_get(o, "r");
    spec->r = v && json_is_integer(v) ? (int)json_integer_value(v) : 8;
    if (spec->r < 1 || spec->r > 4096) {
        rc = bad(err, path, "r", "expected an integer 1..4096");
        goto out;
    }
    v = json_object_get(o, "lora_alpha");
    spec->alpha = v && json_is_number(v) ? (float)json_number_value(v) : 8.0f;
    v = json_object_get(o, "lora_dropout");
    spec->dropout = v && json_is_number(v) ? (float)json_number_value(v) : 0.0f;
    if (!(spec->alpha > 0) || spec->dropout < 0 || spec->dropout >= 1) {
        rc = bad(err, path, "lora_alpha/lora_dropout", "alpha must be > 0 and dropout in [0, 1)");
        goto out;
    }
    v = json_object_get(o, "use_rslora");
    spec->use_rslora = v && json_is_true(v);
    if ((v = json_object_get(o, "bias")) && !(json_is_string(v) && !strcmp(json_string_value(v), "none"))) {
        rc = bad(err, path, "bias", "only \"none\" is supported");
        goto out;
    }
    static const char *const must_false[] = {"fan_in_fan_out", "use_dora", "lora_bias"};
    for (size_t i = 0; i < 3; i++)
        if ((v = json_object_get(o, must_false[i])) && json_is_true(v)) {
            rc = bad(err, path, must_false[i], "is not supported (must be false)");
            goto out;
        }
    static const char *const must_empty[] = {"layers_to_transform", "layer_replication", "rank_pattern",
                                             "alpha_pattern"};
    for (size_t i = 0; i < 4; i++)
        if ((v = json_object_get(o, must_empty[i])) && !json_is_null(v) &&
            !((json_is_object(v) && !json_object_size(v)) || (json_is_array(v) && !json_array_size(v)))) {
            rc = bad(err, path, must_empty[i], "is not supported (must be null or empty)");
            goto out;
        }
    v = json_object_get(o, "target_modules");
    if (!v || !json_is_array(v)) {
        rc = bad(err, path, "target_modules",
                 "expected a list of module names (the regex-string form is not supported)");
        goto out;
    }
    size_t n = json_array_size(v);
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            free(names);
            rc = bad(err, path, "target_modules", "expected strings");
            goto out;
        }
        names[i] = json_string_value(e);
        used += (size_t)snprintf(spec->target_names + used,
                                 used < sizeof spec->target_names ? sizeof spec->target_names - used : 0,
                                 "%s%s", i ? "," : "", names[i]);
    }
    rc = sl_nn_lora_targets(names, n, &spec->targets, err);
    free(names);
    if (rc) {
        sl_err_prefix(err, "%s: target_modules: ", path);
        rc = SL_EDATA;
        if (err) err->code = SL_EDATA;
        goto out;
    }
    if ((v = json_object_get(o, "modules_to_save")) && json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) continue;
            const char *s = json_string_value(e);
            if (!strcmp(s, "pooler") || !strcmp(s, "bert.pooler")) spec->train_pooler = 1;
        }
    }
out:
    json_decref(o);
    free(path);
    return rc;
}

int sl_nn_adapter_load_weights(sl_nn_bert *m, const char *dir, sl_err *err) {
    char *path = sl_fs_join(dir, "adapter_model.safetensors");
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_st_file *st = NULL;
    int rc = sl_nn_st_open(path, &st, err);
    if (rc) {
        free(path);
        return rc;
    }
    for (size_t i = 0; i < m->n_params && !rc; i++) {
        const sl_nn_param *p = &m->params[i];
        if (!sl_nn_st_find(st, p->name)) {
            rc = sl_err_set(err, SL_EDATA,
                            "%s: no tensor %s (the adapter does not match the model: LoRA targets, "
                            "rank, or the head)",
                            path, p->name);
            break;
        }
        rc = sl_nn_st_read_f32_shape(st, p->name, p->ndim, p->shape, m->tparams + p->offset, err);
    }
    /* every LoRA / head tensor of the file must have a home here */
    for (size_t i = 0; !rc && i < sl_nn_st_count(st); i++) {
        const sl_nn_st_tensor *t = sl_nn_st_tensor_at(st, i);
        int found = 0;
        for (size_t j = 0; j < m->n_params && !found; j++) found = !strcmp(m->params[j].name, t->name);
        if (!found)
            rc = sl_err_set(err, SL_EDATA,
                            "%s: tensor %s has no counterpart in this model (LoRA targets or "
                            "modules_to_save differ)",
                            path, t->name);
    }
    sl_nn_st_close(st);
    free(path);
    return rc;
}

static json_t *config_json(const sl_nn_bert *m, const char *base_name) {
    const sl_nn_lora_spec *s = &m->spec;
    json_t *o = json_object();
    json_t *targets = json_array();
    char buf[sizeof s->target_names];
    snprintf(buf, sizeof buf, "%s", s->target_names);
    if (!buf[0]) { /* no names kept: the module paths of the set */
        size_t used = 0;
        for (int mod = 0; mod < SL_NN_NMOD; mod++)
            if (s->targets & (1u << mod))
                used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", used ? "," : "",
                                         sl_nn_module_path(mod));
    }
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        json_array_append_new(targets, json_string(tok));
    json_t *mts = json_array();
    json_array_append_new(mts, json_string("classifier"));
    json_array_append_new(mts, json_string("score"));
    if (s->train_pooler) json_array_append_new(mts, json_string("pooler"));
    json_object_set_new(o, "alpha_pattern", json_object());
    json_object_set_new(o, "auto_mapping", json_null());
    json_object_set_new(o, "base_model_name_or_path", base_name ? json_string(base_name) : json_null());
    json_object_set_new(o, "bias", json_string("none"));
    json_object_set_new(o, "fan_in_fan_out", json_false());
    json_object_set_new(o, "inference_mode", json_true());
    json_object_set_new(o, "init_lora_weights", json_true());
    json_object_set_new(o, "layer_replication", json_null());
    json_object_set_new(o, "layers_pattern", json_null());
    json_object_set_new(o, "layers_to_transform", json_null());
    json_object_set_new(o, "loftq_config", json_object());
    json_object_set_new(o, "lora_alpha", json_real(s->alpha));
    if (s->alpha == (float)(long long)s->alpha)
        json_object_set_new(o, "lora_alpha", json_integer((long long)s->alpha));
    json_object_set_new(o, "lora_dropout", json_real((double)s->dropout));
    json_object_set_new(o, "megatron_config", json_null());
    json_object_set_new(o, "megatron_core", json_string("megatron.core"));
    json_object_set_new(o, "modules_to_save", mts);
    json_object_set_new(o, "peft_type", json_string("LORA"));
    json_object_set_new(o, "r", json_integer(s->r));
    json_object_set_new(o, "rank_pattern", json_object());
    json_object_set_new(o, "revision", json_null());
    json_object_set_new(o, "target_modules", targets);
    json_object_set_new(o, "task_type", json_string("SEQ_CLS"));
    json_object_set_new(o, "use_dora", json_false());
    json_object_set_new(o, "use_rslora", s->use_rslora ? json_true() : json_false());
    return o;
}

int sl_nn_adapter_write(const sl_nn_bert *m, const float *params, const char *dir, const char *base_name,
                        sl_err *err) {
    if (!params) params = m->tparams;
    sl_nn_st_wtensor *ts = calloc(m->n_params, sizeof *ts);
    if (!ts) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n_params; i++) {
        const sl_nn_param *p = &m->params[i];
        ts[i].name = p->name;
        ts[i].dtype = SL_NN_ST_F32;
        ts[i].ndim = p->ndim;
        ts[i].shape = p->shape;
        ts[i].data = params + p->offset;
    }
    static const char *const meta[] = {"format", "pt", NULL};
    char *path = sl_fs_join(dir, "adapter_model.safetensors");
    int rc =
        path ? sl_nn_st_write(path, ts, m->n_params, meta, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(path);
    free(ts);
    if (rc) return rc;
    json_t *o = config_json(m, base_name);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(o);
    path = sl_fs_join(dir, "adapter_config.json");
    if (!text || !path)
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    else
        rc = sl_fs_write_atomic(path, text, strlen(text), err);
    free(text);
    free(path);
    return rc;
}

/* n with thousands separators, as Python's {:,d} */
static void commas(size_t n, char *out, size_t len) {
    char digits[32];
    int nd = snprintf(digits, sizeof digits, "%zu", n), o = 0;
    for (int i = 0; i < nd && (size_t)o + 2 < len; i++) {
        if (i && (nd - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
}

void sl_nn_trainable_line(const sl_nn_bert *m, char *buf, size_t len) {
    size_t tr = m->n_train, all = sl_nn_bert_n_total(m);
    char a[40], b[40];
    commas(tr, a, sizeof a);
    commas(all, b, sizeof b);
    snprintf(buf, len, "trainable params: %s || all params: %s || trainable%%: %.4f", a, b,
             all ? 100.0 * (double)tr / (double)all : 0.0);
}
