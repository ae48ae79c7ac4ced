/* Family dispatch: detect the family from config.json and route to the BERT or ESM engine. */
#include "model.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "dnabert2.h"
#include "esm.h"
#include "family_common.h"
#include "peft_config.h"
#include "util/json.h"

struct sl_nn_model {
    sl_nn_family family;
    sl_nn_bert *bert;
    sl_nn_esm *esm;
    sl_nn_dnabert2 *d2;
};

static int has_prefix_in(const json_t *arr, const char *prefix) {
    size_t i;
    json_t *v;
    if (json_is_array(arr)) json_array_foreach(arr, i, v) {
            if (json_is_string(v) && !strncmp(json_string_value(v), prefix, strlen(prefix))) return 1;
        }
    return 0;
}

int sl_nn_model_family(const char *config_path, sl_nn_family *family, sl_err *err) {
    json_t *o = sl_json_load_file(config_path, err);
    if (!o) return err ? err->code : SL_EDATA;
    int rc = 0;
    json_t *mt = json_object_get(o, "model_type"), *arch = json_object_get(o, "architectures"),
           *am = json_object_get(o, "auto_map");
    const char *type = json_is_string(mt) ? json_string_value(mt) : NULL;
    json_t *amm = json_is_object(am) ? json_object_get(am, "AutoModel") : NULL;
    if (!json_is_object(o)) {
        rc = sl_err_set(err, SL_EDATA, "%s: expected a JSON object", config_path);
    } else if (type ? !strcmp(type, "esm") : has_prefix_in(arch, "Esm")) {
        *family = SL_NN_FAMILY_ESM;
    } else if (!type && ((json_is_string(amm) && strstr(json_string_value(amm), "bert_layers")) ||
                         json_object_get(o, "alibi_starting_size"))) {
        *family = SL_NN_FAMILY_DNABERT2;
    } else if (!type || !strcmp(type, "bert")) {
        *family = SL_NN_FAMILY_BERT;
    } else {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: field 'model_type': '%s' is not supported (expected 'bert' or 'esm')",
                        config_path, type);
    }
    json_decref(o);
    return rc;
}

int sl_nn_model_config_load(const char *config_path, sl_nn_bert_config *cfg, sl_err *err) {
    sl_nn_family f;
    memset(cfg, 0, sizeof *cfg);
    int rc = sl_nn_model_family(config_path, &f, err);
    if (rc) return rc;
    if (f == SL_NN_FAMILY_BERT) return sl_nn_bert_config_load(config_path, cfg, err);
    if (f == SL_NN_FAMILY_DNABERT2) return sl_nn_dnabert2_config_load(config_path, cfg, err);
    sl_nn_esm_config ec;
    if ((rc = sl_nn_esm_config_load(config_path, &ec, err))) return rc;
    *cfg = ec.b; /* ownership of the label names moves to cfg */
    /* absolute positions start at pad_token_id + 1: the longest sequence is shorter than the table */
    if (!ec.rotary) cfg->max_position -= ec.b.pad_token_id + 1;
    if (cfg->max_position < 2) {
        sl_nn_bert_config_free(cfg);
        return sl_err_set(err, SL_EDATA, "%s: field 'max_position_embeddings' leaves no room for a sequence",
                          config_path);
    }
    return 0;
}

int sl_nn_model_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                     uint64_t seed, int max_batch, int max_len, int training, sl_nn_model **out,
                     sl_err *err) {
    *out = NULL;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", model_dir) >= sizeof path)
        return sl_err_set(err, SL_EUSAGE, "model directory path too long");
    sl_nn_model *m = calloc(1, sizeof *m);
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = sl_nn_model_family(path, &m->family, err);
    if (!rc)
        rc = m->family == SL_NN_FAMILY_ESM
                 ? sl_nn_esm_load(model_dir, head, spec, seed, max_batch, max_len, training, &m->esm, err)
             : m->family == SL_NN_FAMILY_DNABERT2
                 ? sl_nn_dnabert2_load(model_dir, head, spec, seed, max_batch, max_len, training, &m->d2, err)
                 : sl_nn_bert_load(model_dir, head, spec, seed, max_batch, max_len, training, &m->bert, err);
    if (rc) {
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void sl_nn_model_free(sl_nn_model *m) {
    if (!m) return;
    sl_nn_bert_free(m->bert);
    sl_nn_esm_free(m->esm);
    sl_nn_dnabert2_free(m->d2);
    free(m);
}

sl_nn_family sl_nn_model_get_family(const sl_nn_model *m) {
    return m->family;
}
sl_nn_bert *sl_nn_model_bert(sl_nn_model *m) {
    return m->family == SL_NN_FAMILY_BERT ? m->bert : NULL;
}
struct sl_nn_esm *sl_nn_model_esm(sl_nn_model *m) {
    return m->family == SL_NN_FAMILY_ESM ? m->esm : NULL;
}
struct sl_nn_dnabert2 *sl_nn_model_dnabert2(sl_nn_model *m) {
    return m->family == SL_NN_FAMILY_DNABERT2 ? m->d2 : NULL;
}
const sl_nn_bert_config *sl_nn_model_get_config(const sl_nn_model *m) {
    return m->esm  ? &sl_nn_esm_get_config(m->esm)->b
           : m->d2 ? sl_nn_dnabert2_get_config(m->d2)
                   : sl_nn_bert_get_config(m->bert);
}
const sl_nn_lora_spec *sl_nn_model_get_spec(const sl_nn_model *m) {
    return m->esm  ? sl_nn_esm_get_spec(m->esm)
           : m->d2 ? sl_nn_dnabert2_get_spec(m->d2)
                   : sl_nn_bert_get_spec(m->bert);
}
float *sl_nn_model_train_params(sl_nn_model *m) {
    return m->esm  ? sl_nn_esm_train_params(m->esm)
           : m->d2 ? sl_nn_dnabert2_train_params(m->d2)
                   : sl_nn_bert_train_params(m->bert);
}
float *sl_nn_model_train_grads(sl_nn_model *m) {
    return m->esm  ? sl_nn_esm_train_grads(m->esm)
           : m->d2 ? sl_nn_dnabert2_train_grads(m->d2)
                   : sl_nn_bert_train_grads(m->bert);
}
size_t sl_nn_model_n_train(const sl_nn_model *m) {
    return m->esm  ? sl_nn_esm_n_train(m->esm)
           : m->d2 ? sl_nn_dnabert2_n_train(m->d2)
                   : sl_nn_bert_n_train(m->bert);
}
const sl_nn_param *sl_nn_model_params(const sl_nn_model *m, size_t *n) {
    return m->esm  ? sl_nn_esm_params(m->esm, n)
           : m->d2 ? sl_nn_dnabert2_params(m->d2, n)
                   : sl_nn_bert_params(m->bert, n);
}
const float *sl_nn_model_logits(const sl_nn_model *m) {
    return m->esm  ? sl_nn_esm_logits(m->esm)
           : m->d2 ? sl_nn_dnabert2_logits(m->d2)
                   : sl_nn_bert_logits(m->bert);
}
int sl_nn_model_head_loaded(const sl_nn_model *m) {
    return m->esm  ? sl_nn_esm_head_loaded(m->esm)
           : m->d2 ? sl_nn_dnabert2_head_loaded(m->d2)
                   : sl_nn_bert_head_loaded(m->bert);
}
void sl_nn_model_zero_grad(sl_nn_model *m) {
    if (m->esm)
        sl_nn_esm_zero_grad(m->esm);
    else if (m->d2)
        sl_nn_dnabert2_zero_grad(m->d2);
    else
        sl_nn_bert_zero_grad(m->bert);
}
int sl_nn_model_forward(sl_nn_model *m, const int32_t *ids, const int32_t *mask, int B, int T,
                        const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err) {
    if (m->esm) return sl_nn_esm_forward(m->esm, ids, mask, B, T, labels, drop, loss, err);
    if (m->d2) return sl_nn_dnabert2_forward(m->d2, ids, mask, B, T, labels, drop, loss, err);
    return sl_nn_bert_forward(m->bert, ids, mask, B, T, labels, drop, loss, err);
}
int sl_nn_model_backward(sl_nn_model *m, float loss_scale, sl_err *err) {
    if (m->esm) return sl_nn_esm_backward(m->esm, loss_scale, err);
    if (m->d2) return sl_nn_dnabert2_backward(m->d2, loss_scale, err);
    return sl_nn_bert_backward(m->bert, loss_scale, err);
}
int sl_nn_model_use_bf16(sl_nn_model *m, sl_err *err) {
    if (m->esm) return sl_nn_esm_use_bf16(m->esm, err);
    if (m->d2) return sl_nn_dnabert2_use_bf16(m->d2, err);
    return sl_nn_bert_use_bf16(m->bert, err);
}
int sl_nn_model_adapter_load_weights(sl_nn_model *m, const char *dir, sl_err *err) {
    if (m->esm) return sl_nn_esm_adapter_load_weights(m->esm, dir, err);
    if (m->d2) return sl_nn_dnabert2_adapter_load_weights(m->d2, dir, err);
    return sl_nn_adapter_load_weights(m->bert, dir, err);
}
int sl_nn_model_adapter_write(const sl_nn_model *m, const float *params, const char *dir,
                              const char *base_name, sl_err *err) {
    if (m->esm) return sl_nn_esm_adapter_write(m->esm, params, dir, base_name, err);
    if (m->d2) return sl_nn_dnabert2_adapter_write(m->d2, params, dir, base_name, err);
    return sl_nn_adapter_write(m->bert, params, dir, base_name, err);
}

static int family_of_dir(const char *model_dir, sl_nn_family *f, sl_err *err) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", model_dir) >= sizeof path)
        return sl_err_set(err, SL_EUSAGE, "model directory path too long");
    return sl_nn_model_family(path, f, err);
}

int sl_nn_model_lora_targets(const char *model_dir, const char *const *names, size_t n, unsigned *targets,
                             sl_err *err) {
    sl_nn_family f;
    int rc = family_of_dir(model_dir, &f, err);
    if (rc) return rc;
    if (f == SL_NN_FAMILY_ESM) return sl_nn_esm_lora_targets(names, n, targets, err);
    if (f == SL_NN_FAMILY_DNABERT2) return sl_nn_dnabert2_lora_targets(names, n, targets, err);
    return sl_nn_lora_targets(names, n, targets, err);
}

int sl_nn_model_adapter_read_config(const char *model_dir, const char *adapter_dir, sl_nn_lora_spec *spec,
                                    sl_err *err) {
    sl_nn_family f;
    int rc = family_of_dir(model_dir, &f, err);
    if (rc) return rc;
    if (f == SL_NN_FAMILY_DNABERT2) return sl_nn_dnabert2_adapter_read_config(adapter_dir, spec, err);
    if (f == SL_NN_FAMILY_ESM) { /* PEFT would put LoRA inside the ESM classifier for e.g. "dense" */
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/adapter_config.json", adapter_dir) >= sizeof path)
            return sl_err_set(err, SL_EUSAGE, "adapter directory path too long");
        sl_nn_peft_config cfg;
        if ((rc = sl_nn_peft_config_read(path, &cfg, err))) {
            sl_nn_peft_config_free(&cfg);
            return rc;
        }
        /* (sl_nn_peft_config_targets skips modules_to_save, but PEFT injects LoRA before wrapping them) */
        int hit = 0;
        for (size_t i = 0; i < cfg.n_target_modules; i++)
            hit |= sl_nn_target_suffix_match("classifier.dense", cfg.target_modules[i]) ||
                   sl_nn_target_suffix_match("classifier.out_proj", cfg.target_modules[i]);
        sl_nn_peft_config_free(&cfg);
        if (hit)
            return sl_err_set(
                err, SL_EDATA,
                "%s: target_modules put LoRA on the ESM classifier (classifier.dense / out_proj), "
                "which seqlora trains whole; not supported",
                path);
        return sl_nn_family_adapter_read_config(adapter_dir, &sl_nn_esm_layout, spec, err);
    }
    return sl_nn_adapter_read_config(adapter_dir, spec, err);
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

void sl_nn_model_trainable_line(const sl_nn_model *m, char *buf, size_t len) {
    size_t tr = sl_nn_model_n_train(m), all = m->esm  ? sl_nn_esm_n_total(m->esm)
                                              : m->d2 ? sl_nn_dnabert2_n_total(m->d2)
                                                      : sl_nn_bert_n_total(m->bert);
    char a[40], b[40];
    commas(tr, a, sizeof a);
    commas(all, b, sizeof b);
    snprintf(buf, len, "trainable params: %s || all params: %s || trainable%%: %.4f", a, b,
             all ? 100.0 * (double)tr / (double)all : 0.0);
}
