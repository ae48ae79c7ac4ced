/* PEFT target names and adapter files shared by the ESM and DNABERT-2 engines (family_common.h). */
#include "family_common.h"

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
            rc = sl_err_set(err, SL_EDATA, "%s: no tensor %s (the adapter and the model disagree)",
                            sl_nn_st_path(st), p->name);
        else
            rc = sl_nn_st_read_f32_shape(st, p->name, p->ndim, p->shape, values + p->offset, err);
    }
    for (size_t i = 0; i < sl_nn_st_count(st) && !rc; i++) {
        const char *nm = sl_nn_st_tensor_at(st, i)->name;
        if (!strstr(nm, ".lora_")) continue;
        size_t j = 0;
        while (j < np && strcmp(params[j].name, nm)) j++;
        if (j == np)
            rc = sl_err_set(err, SL_EDATA,
                            "%s: tensor %s has no slot in this model (the adapter and the model disagree)",
                            sl_nn_st_path(st), nm);
    }
    sl_nn_st_close(st);
    return rc;
}
