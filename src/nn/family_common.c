/* PEFT target names and adapter files of every model family (family_common.h). */
#include "family_common.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peft_config.h"
#include "safetensors.h"
#include "util/fs.h"

int sl_nn_target_suffix_match(const char *name, const char *t) {
    size_t n = strlen(name), k = strlen(t);
    if (!strcmp(name, t)) return 1;
    return n > k && name[n - k - 1] == '.' && !strcmp(name + n - k, t);
}

int sl_nn_family_lora_targets(const sl_nn_adapter_layout *lay, const char *const *names, size_t n,
                              unsigned *targets, sl_err *err) {
    unsigned set = 0;
    if (n == 0) return sl_err_set(err, SL_EUSAGE, "no LoRA target modules given");
    for (size_t i = 0; i < n; i++) {
        const char *t = names[i];
        if (!*t) return sl_err_set(err, SL_EUSAGE, "empty LoRA target module name");
        for (const char *const *f = lay->frozen; *f; f++)
            if (sl_nn_target_suffix_match(*f, t))
                return sl_err_set(err, SL_EUSAGE, "target module '%s' would also adapt %s; name %s instead",
                                  t, lay->frozen_what, lay->suggest);
        unsigned hit = 0;
        for (int m = 0; m < lay->n_kinds; m++) {
            char full[160];
            snprintf(full, sizeof full, "%s.0.%s", lay->layer_prefix, lay->paths[m]);
            if (sl_nn_target_suffix_match(full, t)) hit |= 1u << m;
        }
        if (!hit)
            return sl_err_set(
                err, SL_EUSAGE,
                "target module '%s' matches no Linear of the %s layers (expected %s or a suffix of "
                "them)",
                t, lay->family, lay->expected);
        set |= hit;
    }
    *targets = set;
    return 0;
}

/* The shortest decimal that reads back as the float f (0.1f -> 0.1), as PEFT writes Python floats. */
static double short_double(float f) {
    char b[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)f);
        double d = strtod(b, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

int sl_nn_family_adapter_read_config(const char *dir, const sl_nn_adapter_layout *lay, sl_nn_lora_spec *spec,
                                     sl_err *err) {
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
        why = lay->null_targets;
    if (why) {
        rc = sl_err_set(err, SL_EDATA, "%s: %s", path, why);
        goto out;
    }
    for (const char *const *f = lay->frozen; *f; f++)
        if (sl_nn_peft_config_targets(&cfg, *f)) {
            rc = sl_err_set(err, SL_EDATA, "%s: target_modules adapt %s", path, lay->frozen_what);
            goto out;
        }
    spec->r = cfg.r;
    spec->alpha = (float)cfg.lora_alpha;
    spec->dropout = (float)cfg.lora_dropout;
    spec->use_rslora = cfg.use_rslora;
    /* which Linear kinds PEFT adapts, decided by PEFT's own matching rule on the module paths */
    char name[160];
    for (int mod = 0; mod < lay->n_kinds; mod++) {
        int hit = -1;
        for (int l = 0; l < 2; l++) { /* the same answer in every layer (no layers_to_transform) */
            snprintf(name, sizeof name, "%s.%d.%s", lay->layer_prefix, l, lay->paths[mod]);
            int h = sl_nn_peft_config_targets(&cfg, name);
            if (hit >= 0 && h != hit) {
                rc = sl_err_set(err, SL_EDATA,
                                "%s: target_modules adapt %s in some layers only; not supported", path,
                                lay->paths[mod]);
                goto out;
            }
            hit = h;
        }
        if (hit) spec->targets |= 1u << mod;
    }
    if (!spec->targets) {
        rc = sl_err_set(err, SL_EDATA, "%s: target_modules match no Linear of the %s layers", path,
                        lay->family);
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

int sl_nn_family_adapter_write(const sl_nn_param *params, size_t np, const float *values,
                               const sl_nn_lora_spec *s, const char *const *module_paths, int n_modules,
                               const char *const *mts, size_t n_mts, const char *dir, const char *base_name,
                               sl_err *err) {
    sl_nn_st_wtensor *ts = calloc(np ? np : 1, sizeof *ts);
    if (!ts) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < np; i++)
        ts[i] = (sl_nn_st_wtensor){params[i].name, SL_NN_ST_F32, params[i].ndim, params[i].shape,
                                   values + params[i].offset};
    static const char *const meta[] = {"format", "pt", NULL};
    char *path = sl_fs_join(dir, "adapter_model.safetensors");
    int rc = path ? sl_nn_st_write(path, ts, np, meta, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(path);
    free(ts);
    if (rc) return rc;
    sl_nn_peft_config cfg;
    char buf[sizeof s->target_names];
    const char *names[64];
    size_t n = 0;
    path = NULL;
    if ((rc = sl_nn_peft_config_init(&cfg, err))) goto out;
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
            for (int mod = 0; mod < n_modules && n < 64; mod++)
                if (s->targets & (1u << mod)) names[n++] = module_paths[mod];
        for (char *save = NULL, *tok = buf[0] ? strtok_r(buf, ",", &save) : NULL; tok && n < 64;
             tok = strtok_r(NULL, ",", &save))
            names[n++] = tok;
        if ((rc = sl_nn_peft_config_set_list(&cfg.target_modules, &cfg.n_target_modules, names, n, err)))
            goto out;
    }
    if ((rc = sl_nn_peft_config_set_list(&cfg.modules_to_save, &cfg.n_modules_to_save, mts, n_mts, err)))
        goto out;
    if (!(path = sl_fs_join(dir, "adapter_config.json"))) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    rc = sl_nn_peft_config_write(path, &cfg, err);
out:
    free(path);
    sl_nn_peft_config_free(&cfg);
    return rc;
}

int sl_nn_family_adapter_load(const sl_nn_param *params, size_t np, float *values, const char *dir,
                              sl_err *err) {
    char *path = sl_fs_join(dir, "adapter_model.safetensors");
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_st_file *st = NULL;
    int rc = sl_nn_st_open(path, &st, err);
    free(path);
    if (rc) return rc;
    for (size_t i = 0; i < np && !rc; i++) {
        const sl_nn_param *p = &params[i];
        if (!sl_nn_st_find(st, p->name))
            rc = sl_err_set(err, SL_EDATA,
                            "%s: no tensor %s (the adapter does not match the model: LoRA targets, rank, or "
                            "the head)",
                            sl_nn_st_path(st), p->name);
        else
            rc = sl_nn_st_read_f32_shape(st, p->name, p->ndim, p->shape, values + p->offset, err);
    }
    /* every tensor of the file must have a home here */
    for (size_t i = 0; i < sl_nn_st_count(st) && !rc; i++) {
        const char *nm = sl_nn_st_tensor_at(st, i)->name;
        size_t j = 0;
        while (j < np && strcmp(params[j].name, nm)) j++;
        if (j == np)
            rc = sl_err_set(err, SL_EDATA,
                            "%s: tensor %s has no counterpart in this model (LoRA targets or modules_to_save "
                            "differ)",
                            sl_nn_st_path(st), nm);
    }
    sl_nn_st_close(st);
    return rc;
}
