/* PEFT adapter files (see adapter.h). */
#include "adapter.h"

#include <stdio.h>

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
