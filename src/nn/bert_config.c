/* config.json → sl_nn_bert_config. */
#include "bert_config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_read.h"
#include "util/json.h"

int sl_nn_problem_parse(const char *s) {
    if (!strcmp(s, "single_label_classification")) return SL_NN_SINGLE_LABEL;
    if (!strcmp(s, "multi_label_classification")) return SL_NN_MULTI_LABEL;
    if (!strcmp(s, "regression")) return SL_NN_REGRESSION;
    return -1;
}

const char *sl_nn_problem_name(sl_nn_problem p) {
    switch (p) {
        case SL_NN_MULTI_LABEL:
            return "multi_label_classification";
        case SL_NN_REGRESSION:
            return "regression";
        default:
            return "single_label_classification";
    }
}

static void free_labels(sl_nn_bert_config *cfg) {
    if (cfg->labels)
        for (int i = 0; i < cfg->num_labels; i++) free(cfg->labels[i]);
    free(cfg->labels);
    cfg->labels = NULL;
}

/* The most labels a head may have (a classifier's output width). */
enum { MAX_LABELS = 100000 };

int sl_nn_bert_config_set_head(sl_nn_bert_config *cfg, int n, const char *const *names, sl_nn_problem p,
                               sl_err *err) {
    if (n < 1 || n > MAX_LABELS) return sl_err_set(err, SL_EUSAGE, "number of labels %d out of range", n);
    char **labels = calloc((size_t)n, sizeof *labels);
    if (!labels) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "LABEL_%d", i);
        labels[i] = strdup(names ? names[i] : tmp);
        if (!labels[i]) {
            for (int j = 0; j < i; j++) free(labels[j]);
            free(labels);
            return sl_err_set(err, SL_ENOMEM, "out of memory");
        }
    }
    free_labels(cfg);
    cfg->labels = labels;
    cfg->num_labels = n;
    cfg->problem = p;
    cfg->has_problem_type = 1;
    return 0;
}

int sl_nn_cfg_head(const json_t *o, const char *path, sl_nn_bert_config *cfg, sl_err *err) {
    /* id2label wins over num_labels (PretrainedConfig does the same) */
    json_t *id2label = json_object_get(o, "id2label"), *v;
    const int named = id2label && json_is_object(id2label) && json_object_size(id2label) > 0;
    int n = 2, rc;
    if (named)
        n = (int)json_object_size(id2label);
    else if ((rc = sl_nn_cfg_int(o, path, "num_labels", 2, 1, &n, err)))
        return rc;
    if (n > MAX_LABELS) /* before anything is sized by it */
        return sl_err_set(err, SL_EDATA, "%s: %d labels (num_labels or id2label) is more than %d", path, n,
                          MAX_LABELS);
    sl_nn_problem p = n == 1 ? SL_NN_REGRESSION : SL_NN_SINGLE_LABEL;
    int has_pt = 0;
    if ((v = json_object_get(o, "problem_type")) && !json_is_null(v)) {
        int q = json_is_string(v) ? sl_nn_problem_parse(json_string_value(v)) : -1;
        if (q < 0)
            return json_is_string(v)
                       ? sl_err_set(err, SL_EDATA, "%s: field 'problem_type': unknown value '%s'", path,
                                    json_string_value(v))
                       : sl_err_set(err, SL_EDATA, "%s: field 'problem_type': expected a string", path);
        p = (sl_nn_problem)q;
        has_pt = 1;
    }
    const char **names = calloc((size_t)n, sizeof *names);
    if (!names) return sl_err_set(err, SL_ENOMEM, "out of memory");
    char key[32];
    int all = named;
    for (int i = 0; i < n && named; i++) {
        snprintf(key, sizeof key, "%d", i);
        json_t *nm = json_object_get(id2label, key);
        if (!json_is_string(nm)) {
            free(names);
            return sl_err_set(err, SL_EDATA, "%s: field 'id2label': no string label for id %d", path, i);
        }
        names[i] = json_string_value(nm);
    }
    rc = sl_nn_bert_config_set_head(cfg, n, all ? names : NULL, p, err);
    if (!rc) cfg->has_problem_type = has_pt;
    free(names);
    return rc;
}

int sl_nn_bert_config_load(const char *path, sl_nn_bert_config *cfg, sl_err *err) {
    memset(cfg, 0, sizeof *cfg);
    json_t *o = sl_json_load_file(path, err);
    if (!o) return err ? err->code : SL_EDATA;
    int rc = 0;
    if (!json_is_object(o)) {
        rc = sl_err_set(err, SL_EDATA, "%s: expected a JSON object", path);
        goto out;
    }
    const char *s;
    json_t *v;
    if ((v = json_object_get(o, "model_type")) && json_is_string(v)) {
        s = json_string_value(v);
        if (strcmp(s, "bert")) {
            rc = sl_err_set(err, SL_EDATA, "%s: model_type '%s' is not supported (expected 'bert')", path, s);
            goto out;
        }
    }
    if ((v = json_object_get(o, "position_embedding_type")) && json_is_string(v) &&
        strcmp(json_string_value(v), "absolute")) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: position_embedding_type '%s' is not supported (expected 'absolute')", path,
                        json_string_value(v));
        goto out;
    }
    if ((v = json_object_get(o, "hidden_act")) &&
        !(json_is_string(v) && !strcmp(json_string_value(v), "gelu"))) {
        rc = sl_err_set(err, SL_EDATA, "%s: hidden_act must be \"gelu\" (exact erf GELU)", path);
        goto out;
    }
    if ((rc = sl_nn_cfg_int(o, path, "vocab_size", 30522, 1, &cfg->vocab_size, err)) ||
        (rc = sl_nn_cfg_int(o, path, "hidden_size", 768, 1, &cfg->hidden, err)) ||
        (rc = sl_nn_cfg_int(o, path, "num_hidden_layers", 12, 1, &cfg->layers, err)) ||
        (rc = sl_nn_cfg_int(o, path, "num_attention_heads", 12, 1, &cfg->heads, err)) ||
        (rc = sl_nn_cfg_int(o, path, "intermediate_size", 3072, 1, &cfg->intermediate, err)) ||
        (rc = sl_nn_cfg_int(o, path, "max_position_embeddings", 512, 1, &cfg->max_position, err)) ||
        (rc = sl_nn_cfg_int(o, path, "type_vocab_size", 2, 1, &cfg->type_vocab, err)) ||
        (rc = sl_nn_cfg_int(o, path, "pad_token_id", 0, 0, &cfg->pad_token_id, err)) ||
        (rc = sl_nn_cfg_real(o, path, "hidden_dropout_prob", 0.1, &cfg->hidden_dropout, err)) ||
        (rc = sl_nn_cfg_real(o, path, "attention_probs_dropout_prob", 0.1, &cfg->attn_dropout, err)) ||
        (rc = sl_nn_cfg_real(o, path, "layer_norm_eps", 1e-12, &cfg->ln_eps, err)) ||
        (rc = sl_nn_cfg_real(o, path, "initializer_range", 0.02, &cfg->init_range, err)))
        goto out;
    if ((rc = sl_nn_cfg_real(o, path, "classifier_dropout", cfg->hidden_dropout, &cfg->classifier_dropout,
                             err)))
        goto out;
    if (cfg->hidden % cfg->heads) {
        rc = sl_err_set(err, SL_EDATA, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path,
                        cfg->hidden, cfg->heads);
        goto out;
    }
    if (cfg->hidden_dropout >= 1 || cfg->attn_dropout >= 1 || cfg->classifier_dropout >= 1) {
        rc = sl_err_set(err, SL_EDATA, "%s: dropout probabilities must be < 1", path);
        goto out;
    }
    rc = sl_nn_cfg_head(o, path, cfg, err);
out:
    json_decref(o);
    if (rc) sl_nn_bert_config_free(cfg);
    return rc;
}

void sl_nn_bert_config_free(sl_nn_bert_config *cfg) {
    if (!cfg) return;
    free_labels(cfg);
    cfg->num_labels = 0;
}
