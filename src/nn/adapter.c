/* PEFT adapter files (see adapter.h). */
#include "adapter.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_impl.h"
#include "peft_config.h"
#include "safetensors.h"
#include "util/fs.h"
#include "util/json.h"

int sl_nn_adapter_read_config(const char *dir, sl_nn_lora_spec *spec, sl_err *err) {
    char *path = sl_fs_join(dir, "adapter_config.json");
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_peft_config cfg;
    memset(spec, 0, sizeof *spec);
    int rc = sl_nn_peft_config_read(path, &cfg, err);
    if (rc) goto out;
    const char *why = NULL;
    if (strcmp(cfg.bias, "none"))
        why = "bias: only \"none\" is supported";
    else if (cfg.fan_in_fan_out)
        why = "fan_in_fan_out: not supported";
    else if (cfg.layers_to_transform)
        why = "layers_to_transform: not supported (every layer is adapted)";
    else if (json_object_size(cfg.rank_pattern) || json_object_size(cfg.alpha_pattern))
        why = "rank_pattern/alpha_pattern: per-module ranks are not supported yet";
    else if (!cfg.target_modules && !cfg.target_modules_regex)
        why = "target_modules: null (PEFT's per-model default) — name the modules";
    if (why) {
        rc = sl_err_set(err, SL_EDATA, "%s: %s", path, why);
        goto out;
    }
    spec->r = cfg.r;
    spec->alpha = (float)cfg.lora_alpha;
    spec->dropout = (float)cfg.lora_dropout;
    spec->use_rslora = cfg.use_rslora;
    /* which Linear kinds PEFT adapts, decided by PEFT's own matching rule on the module paths */
    char name[160];
    for (int mod = 0; mod < SL_NN_NMOD; mod++) {
        int hit = -1;
        for (int l = 0; l < 2; l++) { /* the same answer in every layer (no layers_to_transform) */
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s", l, sl_nn_module_path(mod));
            int h = sl_nn_peft_config_targets(&cfg, name);
            if (hit >= 0 && h != hit) {
                rc = sl_err_set(err, SL_EDATA,
                                "%s: target_modules adapt %s in some layers only; not supported", path,
                                sl_nn_module_path(mod));
                goto out;
            }
            hit = h;
        }
        if (hit) spec->targets |= 1u << mod;
    }
    if (sl_nn_peft_config_targets(&cfg, "bert.pooler.dense")) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: target_modules adapt bert.pooler.dense, which seqlora does not do", path);
        goto out;
    }
    if (!spec->targets) {
        rc = sl_err_set(err, SL_EDATA, "%s: target_modules match no Linear of a BERT layer", path);
        goto out;
    }
    if (cfg.target_modules_regex) {
        spec->target_regex = 1;
        snprintf(spec->target_names, sizeof spec->target_names, "%s", cfg.target_modules_regex);
    } else {
        size_t used = 0;
        for (size_t i = 0; i < cfg.n_target_modules && used < sizeof spec->target_names; i++)
            used += (size_t)snprintf(spec->target_names + used, sizeof spec->target_names - used, "%s%s",
                                     i ? "," : "", cfg.target_modules[i]);
    }
    for (size_t i = 0; i < cfg.n_modules_to_save; i++)
        if (!strcmp(cfg.modules_to_save[i], "pooler") || !strcmp(cfg.modules_to_save[i], "bert.pooler"))
            spec->train_pooler = 1;
out:
    sl_nn_peft_config_free(&cfg);
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

/* The shortest decimal that reads back as the float f, as a double (0.1f -> 0.1, not 0.10000000149...). */
static double short_double(float f) {
    char b[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)f);
        double d = strtod(b, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

/* The adapter_config.json of `m` in PEFT's form (peft_config.h). */
static int config_write(const sl_nn_bert *m, const char *path, const char *base_name, sl_err *err) {
    const sl_nn_lora_spec *s = &m->spec;
    sl_nn_peft_config cfg;
    int rc = sl_nn_peft_config_init(&cfg, err);
    char buf[sizeof s->target_names];
    const char *names[SL_NN_NMOD * 4 + 4];
    size_t n = 0;
    if (rc) goto out;
    cfg.task_type = strdup("SEQ_CLS");
    cfg.r = s->r;
    cfg.lora_alpha = short_double(s->alpha);
    cfg.lora_dropout = short_double(s->dropout);
    cfg.use_rslora = s->use_rslora;
    cfg.inference_mode = 1;
    cfg.base_model_name_or_path = base_name ? strdup(base_name) : NULL;
    if (!cfg.task_type || (base_name && !cfg.base_model_name_or_path)) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (s->target_regex) {
        if (!(cfg.target_modules_regex = strdup(s->target_names))) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
    } else {
        snprintf(buf, sizeof buf, "%s", s->target_names);
        if (!buf[0]) /* no names kept: the module paths of the set */
            for (int mod = 0; mod < SL_NN_NMOD; mod++)
                if (s->targets & (1u << mod)) names[n++] = sl_nn_module_path(mod);
        for (char *save = NULL, *tok = buf[0] ? strtok_r(buf, ",", &save) : NULL; tok && n < SL_NN_NMOD * 4;
             tok = strtok_r(NULL, ",", &save))
            names[n++] = tok;
        if ((rc = sl_nn_peft_config_set_list(&cfg.target_modules, &cfg.n_target_modules, names, n, err)))
            goto out;
    }
    const char *mts[3] = {"classifier", "score", "pooler"};
    if ((rc = sl_nn_peft_config_set_list(&cfg.modules_to_save, &cfg.n_modules_to_save, mts,
                                         s->train_pooler ? 3 : 2, err)))
        goto out;
    rc = sl_nn_peft_config_write(path, &cfg, err);
out:
    sl_nn_peft_config_free(&cfg);
    return rc;
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
    path = sl_fs_join(dir, "adapter_config.json");
    rc = path ? config_write(m, path, base_name, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
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
