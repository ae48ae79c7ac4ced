/* PEFT adapter files (see adapter.h). */
#include "adapter.h"

#include "bert_impl.h"
#include "family_common.h"

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
