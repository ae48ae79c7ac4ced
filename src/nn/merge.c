/* Folding LoRA into the base weights and writing a plain Hugging Face checkpoint (see merge.h). */
#include "merge.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_impl.h"
#include "safetensors.h"
#include "util/fs.h"
#include "util/json.h"

const char *const sl_nn_tokenizer_files[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                             "special_tokens_map.json", NULL};

typedef struct {
    sl_nn_st_wtensor *t;
    int64_t (*shape)[2];
    char (*name)[160];
    float **owned; /* merged copies to free */
    size_t n, cap, n_owned;
} tlist;

static int add(tlist *l, const char *name, const float *data, int64_t d0, int64_t d1, sl_err *err) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        sl_nn_st_wtensor *t = realloc(l->t, nc * sizeof(*t));
        if (t) l->t = t;
        int64_t(*sh)[2] = realloc(l->shape, nc * sizeof(*sh));
        if (sh) l->shape = sh;
        char(*nm)[160] = realloc(l->name, nc * sizeof(*nm));
        if (nm) l->name = nm;
        if (!t || !sh || !nm) return sl_err_set(err, SL_ENOMEM, "out of memory");
        l->cap = nc;
    }
    snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
    l->shape[l->n][0] = d0;
    l->shape[l->n][1] = d1;
    l->t[l->n] = (sl_nn_st_wtensor){.name = NULL, .dtype = SL_NN_ST_F32, .ndim = d1 ? 2 : 1, .data = data};
    l->n++;
    return 0;
}

/* W + scaling * B A as a new [out, in] array. */
static float *merged_weight(const float *W, const float *A, const float *B, int out, int in, int r,
                            float scaling) {
    float *w = malloc((size_t)out * in * sizeof(float));
    if (!w) return NULL;
    for (int o = 0; o < out; o++) {
        for (int i = 0; i < in; i++) {
            float d = 0;
            for (int k = 0; k < r; k++) d += B[(size_t)o * r + k] * A[(size_t)k * in + i];
            w[(size_t)o * in + i] = W[(size_t)o * in + i] + d * scaling;
        }
    }
    return w;
}

static int write_config(const sl_nn_bert *m, const char *base_dir, const char *out_dir, sl_err *err) {
    char *src = sl_fs_join(base_dir, "config.json"), *dst = sl_fs_join(out_dir, "config.json");
    json_t *c = src ? sl_json_load_file(src, err) : NULL;
    int rc = 0;
    if (!src || !dst) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (!c) {
        rc = err ? err->code : SL_EDATA;
        goto out;
    }
    json_t *id2 = json_object(), *l2id = json_object();
    for (int i = 0; i < m->cfg.num_labels; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        json_object_set_new(id2, k, json_string(m->cfg.labels[i]));
        json_object_set_new(l2id, m->cfg.labels[i], json_integer(i));
    }
    json_object_del(c, "num_labels");
    json_object_set_new(c, "id2label", id2);
    json_object_set_new(c, "label2id", l2id);
    json_object_set_new(c, "problem_type", json_string(sl_nn_problem_name(m->cfg.problem)));
    json_object_set_new(c, "architectures", json_pack("[s]", "BertForSequenceClassification"));
    json_object_set_new(c, "torch_dtype", json_string("float32"));
    rc = sl_json_write_file(dst, c, 1, err);
out:
    json_decref(c);
    free(src);
    free(dst);
    return rc;
}

int sl_nn_merge_write(const sl_nn_bert *m, const char *base_dir, const char *tokenizer_dir,
                      const char *out_dir, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    const int64_t H = c->hidden, I = c->intermediate;
    tlist l = {0};
    char name[160];
    int rc = 0;
    l.owned = calloc((size_t)c->layers * SL_NN_NMOD + 1, sizeof(float *));
    if (!l.owned) return sl_err_set(err, SL_ENOMEM, "out of memory");
#define ADD(nm, p, a, b)                                                                                     \
    do {                                                                                                     \
        if ((rc = add(&l, nm, p, a, b, err))) goto out;                                                      \
    } while (0)
    ADD("bert.embeddings.word_embeddings.weight", m->word, c->vocab_size, H);
    ADD("bert.embeddings.position_embeddings.weight", m->pos, c->max_position, H);
    ADD("bert.embeddings.token_type_embeddings.weight", m->type, c->type_vocab, H);
    ADD("bert.embeddings.LayerNorm.weight", m->emb_ln_w, H, 0);
    ADD("bert.embeddings.LayerNorm.bias", m->emb_ln_b, H, 0);
    for (int li = 0; li < c->layers; li++) {
        const sl_nn_layer_w *lw = &m->layer[li];
        for (int mod = 0; mod < SL_NN_NMOD; mod++) {
            int64_t out = mod == SL_NN_MOD_INTER ? I : H, in = mod == SL_NN_MOD_OUTPUT ? I : H;
            const float *w = lw->w[mod];
            if (lw->lora_a[mod]) {
                float *mw = merged_weight(w, lw->lora_a[mod], lw->lora_b[mod], (int)out, (int)in, m->spec.r,
                                          m->scaling);
                if (!mw) {
                    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
                    goto out;
                }
                l.owned[l.n_owned++] = mw;
                w = mw;
            }
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.weight", li, sl_nn_module_path(mod));
            ADD(name, w, out, in);
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.bias", li, sl_nn_module_path(mod));
            ADD(name, lw->b[mod], out, 0);
        }
        snprintf(name, sizeof name, "bert.encoder.layer.%d.attention.output.LayerNorm.weight", li);
        ADD(name, lw->ln1_w, H, 0);
        snprintf(name, sizeof name, "bert.encoder.layer.%d.attention.output.LayerNorm.bias", li);
        ADD(name, lw->ln1_b, H, 0);
        snprintf(name, sizeof name, "bert.encoder.layer.%d.output.LayerNorm.weight", li);
        ADD(name, lw->ln2_w, H, 0);
        snprintf(name, sizeof name, "bert.encoder.layer.%d.output.LayerNorm.bias", li);
        ADD(name, lw->ln2_b, H, 0);
    }
    ADD("bert.pooler.dense.weight", m->pool_w, H, H);
    ADD("bert.pooler.dense.bias", m->pool_b, H, 0);
    ADD("classifier.weight", m->cls_w, c->num_labels, H);
    ADD("classifier.bias", m->cls_b, c->num_labels, 0);
#undef ADD
    for (size_t i = 0; i < l.n; i++) {
        l.t[i].name = l.name[i];
        l.t[i].shape = l.shape[i];
    }
    char *st = sl_fs_join(out_dir, "model.safetensors");
    if (!st) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    static const char *const meta[] = {"format", "pt", NULL};
    rc = sl_nn_st_write(st, l.t, l.n, meta, err);
    free(st);
    if (rc || (rc = write_config(m, base_dir, out_dir, err))) goto out;
    for (int i = 0; sl_nn_tokenizer_files[i]; i++) {
        char *src = sl_fs_join(tokenizer_dir, sl_nn_tokenizer_files[i]),
             *dst = sl_fs_join(out_dir, sl_nn_tokenizer_files[i]);
        if (!src || !dst)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        else if (sl_fs_is_file(src))
            rc = sl_fs_copy_atomic(src, dst, err);
        free(src);
        free(dst);
        if (rc) goto out;
    }
out:
    for (size_t i = 0; i < l.n_owned; i++) free(l.owned[i]);
    free(l.owned);
    free(l.t);
    free(l.shape);
    free(l.name);
    return rc;
}
