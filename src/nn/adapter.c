/* PEFT adapter files (see adapter.h). */
#include "adapter.h"

#include <stdlib.h>

#include "bert_impl.h"
#include "family_common.h"
#include "safetensors.h"
#include "util/fs.h"

int sl_nn_adapter_read_config(const char *dir, sl_nn_lora_spec *spec, sl_err *err) {
    return sl_nn_family_adapter_read_config(dir, &sl_nn_bert_layout, spec, err);
}

int sl_nn_adapter_load_weights(sl_nn_bert *m, const char *dir, sl_err *err) {
    return sl_nn_family_adapter_load(m->params, m->n_params, m->tparams, dir, err);
}

int sl_nn_adapter_write(const sl_nn_bert *m, const float *params, const char *dir, const char *base_name,
                        sl_err *err) {
    static const char *const mts[3] = {"classifier", "score", "pooler"};
    return sl_nn_family_adapter_write(m->params, m->n_params, params ? params : m->tparams, &m->spec,
                                      sl_nn_module_paths, SL_NN_NMOD, mts, m->spec.train_pooler ? 3 : 2, dir,
                                      base_name, err);
}

int sl_nn_adapter_num_labels(const char *dir, int *n, sl_err *err) {
    static const char *const heads[] = {"base_model.model.classifier.bias",
                                        "base_model.model.classifier.out_proj.bias"};
    char *path = sl_fs_join(dir, "adapter_model.safetensors");
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_st_file *st = NULL;
    int rc = sl_nn_st_open(path, &st, err);
    if (!rc) {
        const sl_nn_st_tensor *t = NULL;
        for (size_t i = 0; !t && i < sizeof heads / sizeof *heads; i++) t = sl_nn_st_find(st, heads[i]);
        if (!t || t->ndim != 1)
            rc = sl_err_set(err, SL_EDATA, "%s: no 1-D %s or %s (not a sequence-classification adapter)",
                            path, heads[0], heads[1]);
        else
            *n = (int)t->shape[0];
    }
    sl_nn_st_close(st);
    free(path);
    return rc;
}
