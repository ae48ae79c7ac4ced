/* Folding LoRA into the base weights and writing a plain Hugging Face checkpoint (see merge.h): from the
 * loaded BERT engine, or from the files for any family. */
#include "merge.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_impl.h"
#include "safetensors.h"
#include "torch_pickle.h"
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
    if (strlen(name) >= sizeof(l->name[0]))
        return sl_err_set(err, SL_EDATA, "tensor name %s is longer than %zu bytes", name,
                          sizeof(l->name[0]) - 1);
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

/* config.json of `base_dir` with the head (labels, problem type) and the architecture replaced. */
static int write_config(const char *const *labels, int n_labels, sl_nn_problem problem, const char *arch,
                        const char *base_dir, const char *out_dir, sl_err *err) {
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
    for (int i = 0; i < n_labels; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        json_object_set_new(id2, k, json_string(labels[i]));
        json_object_set_new(l2id, labels[i], json_integer(i));
    }
    json_object_del(c, "num_labels");
    json_object_set_new(c, "id2label", id2);
    json_object_set_new(c, "label2id", l2id);
    json_object_set_new(c, "problem_type", json_string(sl_nn_problem_name(problem)));
    json_object_set_new(c, "architectures", json_pack("[s]", arch));
    json_object_set_new(c, "torch_dtype", json_string("float32"));
    rc = sl_json_write_file(dst, c, 1, err);
out:
    json_decref(c);
    free(src);
    free(dst);
    return rc;
}

/* Copy the tokenizer files of `tokenizer_dir` that exist into `out_dir`. */
static int copy_tokenizer(const char *tokenizer_dir, const char *out_dir, sl_err *err) {
    int rc = 0;
    for (int i = 0; !rc && sl_nn_tokenizer_files[i]; i++) {
        char *src = sl_fs_join(tokenizer_dir, sl_nn_tokenizer_files[i]),
             *dst = sl_fs_join(out_dir, sl_nn_tokenizer_files[i]);
        if (!src || !dst)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        else if (sl_fs_is_file(src))
            rc = sl_fs_copy_atomic(src, dst, err);
        free(src);
        free(dst);
    }
    return rc;
}

static void tlist_free(tlist *l) {
    for (size_t i = 0; i < l->n_owned; i++) free(l->owned[i]);
    free(l->owned);
    free(l->t);
    free(l->shape);
    free(l->name);
}

/* out_dir/model.safetensors from the list, config.json and the tokenizer files. */
static int write_checkpoint(tlist *l, const char *const *labels, int n_labels, sl_nn_problem problem,
                            const char *arch, const char *base_dir, const char *tokenizer_dir,
                            const char *out_dir, sl_err *err) {
    for (size_t i = 0; i < l->n; i++) {
        l->t[i].name = l->name[i];
        l->t[i].shape = l->shape[i];
    }
    char *st = sl_fs_join(out_dir, "model.safetensors");
    if (!st) return sl_err_set(err, SL_ENOMEM, "out of memory");
    static const char *const meta[] = {"format", "pt", NULL};
    int rc = sl_nn_st_write(st, l->t, l->n, meta, err);
    free(st);
    if (!rc) rc = write_config(labels, n_labels, problem, arch, base_dir, out_dir, err);
    if (!rc) rc = copy_tokenizer(tokenizer_dir, out_dir, err);
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
    rc = write_checkpoint(&l, (const char *const *)c->labels, c->num_labels, c->problem,
                          "BertForSequenceClassification", base_dir, tokenizer_dir, out_dir, err);
out:
    tlist_free(&l);
    return rc;
}

/* ---- any family, from the files: base checkpoint + adapter_model.safetensors ------------------------- */

#define ADAPTER_PREFIX "base_model.model."

typedef struct {
    char module[200]; /* e.g. "esm.encoder.layer.0.attention.self.query" */
    const sl_nn_st_tensor *a, *b;
    int used;
} lora_pair;

/* `name` with the model prefix ("esm." / "bert.") added when the checkpoint stores it without (the
 * engines accept both), unless it is the head's ("classifier."). */
static void canonical(const char *name, const char *prefix, char *out, size_t len) {
    if (!strncmp(name, prefix, strlen(prefix)) || !strncmp(name, "classifier.", 11))
        snprintf(out, len, "%s", name);
    else
        snprintf(out, len, "%s%s", prefix, name);
}

int sl_nn_merge_write_files(const char *base_dir, const char *adapter_dir, const sl_nn_lora_spec *spec,
                            const char *family, const char *const *labels, int n_labels,
                            sl_nn_problem problem, const char *tokenizer_dir, const char *out_dir,
                            sl_err *err) {
    const int esm = !strcmp(family, "esm");
    const char *prefix = esm ? "esm." : "bert.";
    const float scaling =
        spec->use_rslora ? spec->alpha / sqrtf((float)spec->r) : spec->alpha / (float)spec->r;
    sl_nn_st_file *base = NULL, *ad = NULL;
    lora_pair *pairs = NULL;
    size_t n_pairs = 0;
    tlist l = {0};
    char *path = NULL;
    int rc;
    if ((rc = sl_nn_model_weights_open(base_dir, &base, err))) return rc;
    if (!(path = sl_fs_join(adapter_dir, "adapter_model.safetensors"))) goto nomem;
    if ((rc = sl_nn_st_open(path, &ad, err))) goto out;
    size_t n_ad = sl_nn_st_count(ad), n_base = sl_nn_st_count(base);
    if (!(pairs = calloc(n_ad + 1, sizeof *pairs)) ||
        !(l.owned = calloc(n_base + 2 * n_ad + 1, sizeof(float *))))
        goto nomem;
    /* the adapter: LoRA pairs by module, every other tensor replaces (or adds) the base's */
    for (size_t i = 0; i < n_ad; i++) {
        const sl_nn_st_tensor *t = sl_nn_st_tensor_at(ad, i);
        if (strncmp(t->name, ADAPTER_PREFIX, strlen(ADAPTER_PREFIX))) {
            rc = sl_err_set(err, SL_EDATA, "%s: tensor %s: expected a name starting with '%s'", path, t->name,
                            ADAPTER_PREFIX);
            goto out;
        }
        const char *k = t->name + strlen(ADAPTER_PREFIX), *lo = strstr(k, ".lora_");
        if (!lo) continue;
        int is_a = !strcmp(lo, ".lora_A.weight"), is_b = !strcmp(lo, ".lora_B.weight");
        if ((!is_a && !is_b) || t->ndim != 2 || (size_t)(lo - k) >= sizeof pairs[0].module) {
            rc = sl_err_set(err, SL_EDATA,
                            "%s: tensor %s: only LoRA A/B matrices of Linear layers can be merged", path,
                            t->name);
            goto out;
        }
        size_t j = 0;
        while (j < n_pairs &&
               (strlen(pairs[j].module) != (size_t)(lo - k) || strncmp(pairs[j].module, k, (size_t)(lo - k))))
            j++;
        if (j == n_pairs) snprintf(pairs[n_pairs++].module, sizeof pairs[0].module, "%.*s", (int)(lo - k), k);
        if (is_a)
            pairs[j].a = t;
        else
            pairs[j].b = t;
    }
    for (size_t j = 0; j < n_pairs; j++)
        if (!pairs[j].a || !pairs[j].b || pairs[j].a->shape[0] != spec->r ||
            pairs[j].b->shape[1] != spec->r) {
            rc = sl_err_set(err, SL_EDATA, "%s: module %s: expected lora_A [%d, in] and lora_B [out, %d]",
                            path, pairs[j].module, spec->r, spec->r);
            goto out;
        }
    /* the base, merged */
    for (size_t i = 0; i < n_base; i++) {
        const sl_nn_st_tensor *t = sl_nn_st_tensor_at(base, i);
        char name[256], key[300];
        canonical(t->name, prefix, name, sizeof name);
        /* a masked-LM head is no part of a classifier */
        if (!strncmp(t->name, "lm_head.", 8) || !strncmp(t->name, "cls.", 4)) continue;
        snprintf(key, sizeof key, ADAPTER_PREFIX "%s", name);
        if (sl_nn_st_find(ad, key)) continue; /* trained copy from the adapter (modules_to_save) */
        if (t->ndim > 2) {
            rc = sl_err_set(err, SL_EDATA, "%s: tensor %s has %d dimensions (a merge writes up to 2)",
                            base_dir, t->name, t->ndim);
            goto out;
        }
        lora_pair *pr = NULL;
        size_t nl = strlen(name);
        for (size_t j = 0; j < n_pairs && !pr; j++)
            if (nl == strlen(pairs[j].module) + 7 && !strncmp(name, pairs[j].module, nl - 7) &&
                !strcmp(name + nl - 7, ".weight"))
                pr = &pairs[j];
        int64_t d0 = t->ndim ? t->shape[0] : 1, d1 = t->ndim == 2 ? t->shape[1] : 0;
        if (t->dtype != SL_NN_ST_F32 && t->dtype != SL_NN_ST_F16 && t->dtype != SL_NN_ST_BF16) {
            if (pr) {
                rc = sl_err_set(err, SL_EDATA, "%s: tensor %s: LoRA on a %s weight", base_dir, t->name,
                                sl_nn_st_dtype_name(t->dtype));
                goto out;
            }
            continue; /* integer buffers (position_ids ...): transformers rebuilds them */
        }
        float *w = malloc(t->numel * sizeof(float) + 1);
        if (!w) goto nomem;
        l.owned[l.n_owned++] = w;
        if ((rc = sl_nn_st_tensor_to_f32(base, t, w, t->numel, err))) goto out;
        if (pr) {
            const int64_t r = spec->r, in = pr->a->shape[1], o = pr->b->shape[0];
            if (t->ndim != 2 || d0 != o || d1 != in) {
                rc = sl_err_set(err, SL_EDATA,
                                "%s: tensor %s has shape [%lld, %lld] but the adapter's LoRA on it is [%lld, "
                                "%lld]",
                                base_dir, t->name, (long long)d0, (long long)d1, (long long)o, (long long)in);
                goto out;
            }
            float *A = malloc((size_t)(r * in) * sizeof(float)), *B = malloc((size_t)(o * r) * sizeof(float));
            float *mw = NULL;
            if (A && B && !(rc = sl_nn_st_tensor_to_f32(ad, pr->a, A, (size_t)(r * in), err)) &&
                !(rc = sl_nn_st_tensor_to_f32(ad, pr->b, B, (size_t)(o * r), err)))
                mw = merged_weight(w, A, B, (int)o, (int)in, (int)r, scaling);
            free(A);
            free(B);
            if (rc) goto out;
            if (!mw) goto nomem;
            l.owned[l.n_owned++] = mw;
            w = mw;
            pr->used = 1;
        }
        if ((rc = add(&l, name, w, d0, d1, err))) goto out;
    }
    for (size_t j = 0; j < n_pairs; j++)
        if (!pairs[j].used) {
            rc = sl_err_set(err, SL_EDATA,
                            "%s: the adapter adapts %s, which the base model in %s has no weight of", path,
                            pairs[j].module, base_dir);
            goto out;
        }
    /* the adapter's trained modules (classifier, pooler, biases) */
    for (size_t i = 0; i < n_ad; i++) {
        const sl_nn_st_tensor *t = sl_nn_st_tensor_at(ad, i);
        const char *k = t->name + strlen(ADAPTER_PREFIX);
        if (strstr(k, ".lora_")) continue;
        if (t->ndim < 1 || t->ndim > 2) {
            rc = sl_err_set(err, SL_EDATA, "%s: tensor %s: expected 1 or 2 dimensions", path, t->name);
            goto out;
        }
        float *w = malloc(t->numel * sizeof(float) + 1);
        if (!w) goto nomem;
        l.owned[l.n_owned++] = w;
        if ((rc = sl_nn_st_tensor_to_f32(ad, t, w, t->numel, err)) ||
            (rc = add(&l, k, w, t->shape[0], t->ndim == 2 ? t->shape[1] : 0, err)))
            goto out;
    }
    rc = write_checkpoint(&l, labels, n_labels, problem,
                          esm ? "EsmForSequenceClassification" : "BertForSequenceClassification", base_dir,
                          tokenizer_dir, out_dir, err);
    goto out;
nomem:
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
out:
    tlist_free(&l);
    free(pairs);
    free(path);
    sl_nn_st_close(ad);
    sl_nn_st_close(base);
    return rc;
}
