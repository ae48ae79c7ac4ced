/* The arenas every family lays out from a list of named tensors (family_common.h): the frozen base weights,
 * the trainable parameters with their gradients, and the activations. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family_common.h"

static int vname(char *dst, size_t cap, sl_err *err, const char *fmt, va_list ap) {
    int n = vsnprintf(dst, cap, fmt, ap);
    if (n < 0 || (size_t)n >= cap)
        return sl_err_set(err, SL_EINTERNAL, "tensor name '%.60s...' is longer than %zu bytes", dst, cap - 1);
    return 0;
}

int sl_nn_tensor_name(char *dst, size_t cap, sl_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(dst, cap, err, fmt, ap);
    va_end(ap);
    return rc;
}

/* Append tensor (the base prefix +) `name` of shape [d0] (d1 == 0) or [d0, d1]. */
static int append(sl_nn_tensor_table *t, const char *name, int64_t d0, int64_t d1, float **val, float **grad,
                  int kind, sl_err *err) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        sl_nn_param *np = realloc(t->params, nc * sizeof *np);
        if (np) t->params = np;
        struct sl_nn_tensor_slot *ns = np ? realloc(t->slots, nc * sizeof *ns) : NULL;
        if (!ns)
            return sl_err_set(err, SL_ENOMEM, "out of memory for the %s",
                              t->ck ? "base weights" : "trainable parameters");
        t->slots = ns;
        t->cap = nc;
    }
    sl_nn_param *p = &t->params[t->n];
    memset(p, 0, sizeof *p);
    int rc = sl_nn_tensor_name(p->name, sizeof p->name, err, "%s%s", t->ck ? t->ck->prefix : "", name);
    if (rc) return rc;
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    p->offset = t->n_floats;
    t->slots[t->n++] = (struct sl_nn_tensor_slot){val, grad, kind};
    t->n_floats += p->numel;
    return 0;
}

void sl_nn_tensor_table_free(sl_nn_tensor_table *t) {
    free(t->params);
    free(t->slots);
    t->params = NULL;
    t->slots = NULL;
    t->n = t->cap = t->n_floats = 0;
}

/* ---- the frozen base weights ----------------------------------------------------------------------- */

int sl_nn_base_add(sl_nn_tensor_table *t, float **slot, int kind, int64_t d0, int64_t d1, sl_err *err,
                   const char *fmt, ...) {
    char name[sizeof t->params[0].name];
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(name, sizeof name, err, fmt, ap);
    va_end(ap);
    return rc ? rc : append(t, name, d0, d1, slot, NULL, kind, err);
}

int sl_nn_base_add_wb(sl_nn_tensor_table *t, float **w, float **b, int kind, int64_t d0, int64_t d1,
                      sl_err *err, const char *fmt, ...) {
    char name[sizeof t->params[0].name];
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(name, sizeof name, err, fmt, ap);
    va_end(ap);
    if (!rc) rc = sl_nn_base_add(t, w, kind, d0, d1, err, "%s.weight", name);
    return rc ? rc : sl_nn_base_add(t, b, kind, d0, 0, err, "%s.bias", name);
}

int sl_nn_base_add_bert_embeddings(sl_nn_tensor_table *t, const sl_nn_bert_config *c, float **word,
                                   float **pos, float **type, float **ln_w, float **ln_b, sl_err *err) {
    const int64_t H = c->hidden;
    int rc =
        sl_nn_base_add(t, word, SL_NN_BASE_READ, c->vocab_size, H, err, "embeddings.word_embeddings.weight");
    if (!rc && pos)
        rc = sl_nn_base_add(t, pos, SL_NN_BASE_READ, c->max_position, H, err,
                            "embeddings.position_embeddings.weight");
    if (!rc)
        rc = sl_nn_base_add(t, type, SL_NN_BASE_READ, c->type_vocab, H, err,
                            "embeddings.token_type_embeddings.weight");
    return rc ? rc : sl_nn_base_add_wb(t, ln_w, ln_b, SL_NN_BASE_READ, H, 0, err, "embeddings.LayerNorm");
}

/* Allocate the base, point the slots into it, read what is to be read. */
static int base_load(sl_nn_tensor_table *t, float **mem, sl_err *err) {
    *mem = malloc((t->n_floats ? t->n_floats : 1) * sizeof(float));
    if (!*mem) return sl_err_set(err, SL_ENOMEM, "out of memory for the base weights");
    const size_t skip = strlen(t->ck->prefix);
    for (size_t i = 0; i < t->n; i++) {
        const sl_nn_param *p = &t->params[i];
        const char *name = p->name + skip; /* as the family names it, without the prefix */
        const int kind = t->slots[i].kind;
        float *dst = kind == SL_NN_BASE_ABSENT ? NULL : *mem + p->offset;
        *t->slots[i].val = dst;
        if (kind == SL_NN_BASE_READ) {
            int rc = sl_nn_ckpt_read(t->ck, name, p->shape[0], p->shape[1], dst, err);
            if (rc) return rc;
        } else if (kind == SL_NN_BASE_ABSENT && sl_nn_ckpt_has(t->ck, name)) {
            return sl_err_set(err, SL_EDATA, "%s: tensor %s present but %s", sl_nn_st_path(t->ck->st),
                              p->name, t->absent_why ? t->absent_why : "the model has no such tensor");
        }
    }
    return 0;
}

int sl_nn_base_table_finish(sl_nn_tensor_table *t, int rc, float **mem, size_t *n_floats,
                            sl_nn_param **params, size_t *n_params, sl_err *err) {
    if (!rc) rc = base_load(t, mem, err);
    *n_floats = t->n_floats;
    if (params) {
        *params = t->params;
        *n_params = t->n;
        t->params = NULL;
    }
    sl_nn_tensor_table_free(t);
    return rc;
}

/* ---- the trainable arena --------------------------------------------------------------------------- */

int sl_nn_param_table_add(sl_nn_tensor_table *t, const char *name, int64_t d0, int64_t d1, float **val,
                          float **grad, sl_err *err) {
    return append(t, name, d0, d1, val, grad, SL_NN_TRAIN_ZERO, err);
}

int sl_nn_param_table_add_lora(sl_nn_tensor_table *t, const char *prefix, int layers,
                               const char *const *paths, int n_kinds, const int *in, const int *out,
                               const sl_nn_lora_spec *spec, sl_nn_lora_slots s, sl_err *err) {
    char name[sizeof t->params[0].name];
    int rc = 0;
    for (int l = 0; l < layers && !rc; l++) {
        const size_t at = (size_t)l * s.stride; /* byte offset of layer l's struct */
        float **a = (float **)(void *)((char *)s.a + at), **b = (float **)(void *)((char *)s.b + at);
        float **ga = (float **)(void *)((char *)s.ga + at), **gb = (float **)(void *)((char *)s.gb + at);
        for (int k = 0; k < n_kinds && !rc; k++) {
            if (!(spec->targets & (1u << k))) continue;
            if (!(rc = sl_nn_tensor_name(name, sizeof name, err, "%s.%d.%s.lora_A.weight", prefix, l,
                                         paths[k])))
                rc = append(t, name, spec->r, in[k], &a[k], &ga[k], SL_NN_TRAIN_LORA_A, err);
            if (!rc && !(rc = sl_nn_tensor_name(name, sizeof name, err, "%s.%d.%s.lora_B.weight", prefix, l,
                                                paths[k])))
                rc = append(t, name, out[k], spec->r, &b[k], &gb[k], SL_NN_TRAIN_ZERO, err);
        }
    }
    return rc;
}

/* BertForSequenceClassification's trainable head after the LoRA matrices: the pooler when `pooler`, then the
 * classifier. */
static int add_bert_head(sl_nn_tensor_table *t, int64_t H, int64_t C, int pooler, sl_nn_bert_head_slots s,
                         sl_err *err) {
    int rc = 0;
    if (pooler && ((rc = sl_nn_param_table_add(t, "base_model.model.bert.pooler.dense.weight", H, H, s.pool_w,
                                               s.gpool_w, err)) ||
                   (rc = sl_nn_param_table_add(t, "base_model.model.bert.pooler.dense.bias", H, 0, s.pool_b,
                                               s.gpool_b, err))))
        return rc;
    if ((rc = sl_nn_param_table_add(t, "base_model.model.classifier.weight", C, H, s.cls_w, s.gcls_w, err)))
        return rc;
    return sl_nn_param_table_add(t, "base_model.model.classifier.bias", C, 0, s.cls_b, s.gcls_b, err);
}

int sl_nn_param_table_finish(sl_nn_tensor_table *t, int rc, uint64_t seed, sl_nn_param **params,
                             size_t *n_params, size_t *n_train, float **tparams, float **tgrads,
                             sl_err *err) {
    *params = t->params;
    *n_params = t->n;
    *n_train = t->n_floats;
    t->params = NULL;
    if (!rc) {
        *tparams = calloc(t->n_floats ? t->n_floats : 1, sizeof(float));
        *tgrads = calloc(t->n_floats ? t->n_floats : 1, sizeof(float));
        if (!*tparams || !*tgrads)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory for the trainable parameters");
    }
    sl_rng ra;
    sl_rng_init(&ra, seed, 2);
    for (size_t i = 0; i < t->n && !rc; i++) {
        const sl_nn_param *p = &(*params)[i];
        const struct sl_nn_tensor_slot *s = &t->slots[i];
        if (s->val) *s->val = *tparams + p->offset;
        if (s->grad) *s->grad = *tgrads + p->offset;
        if (s->kind != SL_NN_TRAIN_LORA_A) continue;
        /* kaiming-uniform(a=sqrt(5)) of A [r, in] = U(-1/sqrt(in), 1/sqrt(in)) */
        const double bound = 1.0 / sqrt((double)p->shape[1]);
        float *A = *tparams + p->offset;
        for (size_t j = 0; j < p->numel; j++) A[j] = (float)((2.0 * sl_rng_uniform(&ra) - 1.0) * bound);
    }
    sl_nn_tensor_table_free(t);
    return rc;
}

int sl_nn_bert_cls_trainable(const sl_nn_bert_config *c, const sl_nn_lora_spec *spec,
                             const char *const *paths, int n_kinds, const int *in, const int *out,
                             uint64_t seed, sl_nn_bert_cls_arena a, sl_err *err) {
    sl_nn_tensor_table t = {0};
    int rc = sl_nn_param_table_add_lora(&t, "base_model.model.bert.encoder.layer", c->layers, paths, n_kinds,
                                        in, out, spec, a.lora, err);
    if (!rc) rc = add_bert_head(&t, c->hidden, c->num_labels, spec->train_pooler, a.head, err);
    return sl_nn_param_table_finish(&t, rc, seed, a.params, a.n_params, a.n_train, a.tparams, a.tgrads, err);
}

/* ---- activations ----------------------------------------------------------------------------------- */

float *sl_nn_bump_take(sl_nn_bump *b, size_t n) {
    float *p = b->base ? b->base + b->n : NULL;
    b->n += n;
    return p;
}

uint64_t *sl_nn_bump_bits(sl_nn_bump *b, size_t words) {
    if (b->n & 1) b->n++; /* two floats per word; malloc's alignment covers the rest */
    return (uint64_t *)(void *)sl_nn_bump_take(b, 2 * words);
}

int sl_nn_bump_alloc(void (*layout)(void *model, sl_nn_bump *b), void *model, float **mem, int others_ok,
                     int max_batch, int max_len, sl_err *err) {
    *mem = NULL;
    if (!others_ok) /* the layout cannot be measured without the caller's arrays */
        return sl_err_set(err, SL_ENOMEM, "out of memory for activations (batch %d x length %d)", max_batch,
                          max_len);
    sl_nn_bump b = {NULL, 0};
    layout(model, &b);
    if (!(*mem = malloc((b.n ? b.n : 1) * sizeof(float))))
        return sl_err_set(err, SL_ENOMEM, "out of memory for activations (%.2f GiB for batch %d x length %d)",
                          (double)b.n * 4 / (1 << 30), max_batch, max_len);
    b = (sl_nn_bump){*mem, 0};
    layout(model, &b);
    return 0;
}
