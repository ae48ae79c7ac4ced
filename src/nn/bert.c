/* Loading a BERT checkpoint, setting up LoRA and the trainable arena, allocating the activations. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_impl.h"
#include "safetensors.h"
#include "torch_pickle.h"
#include "util/fs.h"
#include "util/rng.h"

static const char *const module_paths[SL_NN_NMOD] = {
    "attention.self.query",   "attention.self.key", "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense",
};

const char *sl_nn_module_path(int m) {
    return m >= 0 && m < SL_NN_NMOD ? module_paths[m] : NULL;
}

static int suffix_match(const char *name, const char *t) {
    size_t n = strlen(name), k = strlen(t);
    if (!strcmp(name, t)) return 1;
    return n > k && name[n - k - 1] == '.' && !strcmp(name + n - k, t);
}

int sl_nn_lora_targets(const char *const *names, size_t n, unsigned *targets, sl_err *err) {
    unsigned set = 0;
    if (n == 0) return sl_err_set(err, SL_EUSAGE, "no LoRA target modules given");
    for (size_t i = 0; i < n; i++) {
        const char *t = names[i];
        if (!*t) return sl_err_set(err, SL_EUSAGE, "empty LoRA target module name");
        if (suffix_match("bert.pooler.dense", t))
            return sl_err_set(
                err, SL_EUSAGE,
                "target module '%s' would also adapt bert.pooler.dense, which seqlora does not do; "
                "name attention.output.dense, intermediate.dense and/or output.dense instead",
                t);
        unsigned hit = 0;
        for (int m = 0; m < SL_NN_NMOD; m++) {
            char full[128];
            snprintf(full, sizeof full, "bert.encoder.layer.0.%s", module_paths[m]);
            if (suffix_match(full, t)) hit |= 1u << m;
        }
        if (!hit)
            return sl_err_set(
                err, SL_EUSAGE,
                "target module '%s' matches no Linear of a BERT layer (expected query, key, value, "
                "attention.output.dense, intermediate.dense, output.dense or a suffix of them)",
                t);
        set |= hit;
    }
    *targets = set;
    return 0;
}

/* ---- weights -------------------------------------------------------------------------------- */

/* Read `name` (with or without "bert.", old gamma/beta names) with the given shape. */
static int read_w(const sl_nn_st_file *st, const char *name, int ndim, int64_t d0, int64_t d1, float *dst,
                  sl_err *err) {
    int64_t shape[2] = {d0, d1};
    char cand[4][256];
    int nc = 0;
    snprintf(cand[nc++], 256, "bert.%s", name);
    snprintf(cand[nc++], 256, "%s", name);
    size_t len = strlen(name);
    if (strstr(name, "LayerNorm.")) {
        const char *alt = NULL;
        size_t cut = 0;
        if (len > 7 && !strcmp(name + len - 7, ".weight"))
            alt = ".gamma", cut = 7;
        else if (len > 5 && !strcmp(name + len - 5, ".bias"))
            alt = ".beta", cut = 5;
        if (alt) {
            snprintf(cand[nc++], 256, "bert.%.*s%s", (int)(len - cut), name, alt);
            snprintf(cand[nc++], 256, "%.*s%s", (int)(len - cut), name, alt);
        }
    }
    for (int i = 0; i < nc; i++)
        if (sl_nn_st_find(st, cand[i])) return sl_nn_st_read_f32_shape(st, cand[i], ndim, shape, dst, err);
    return sl_err_set(err, SL_EDATA, "%s: no tensor %s (nor bert.%s)", sl_nn_st_path(st), name, name);
}

static int has_w(const sl_nn_st_file *st, const char *name) {
    char b[256];
    snprintf(b, sizeof b, "bert.%s", name);
    return sl_nn_st_find(st, b) || sl_nn_st_find(st, name);
}

static float rng_normal(sl_rng *r) {
    double u1 = sl_rng_uniform(r), u2 = sl_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/* ---- the trainable arena ------------------------------------------------------------------- */

static sl_nn_param *add_param(sl_nn_bert *m, size_t *cap, const char *name, int64_t d0, int64_t d1,
                              int ndim) {
    if (m->n_params == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        sl_nn_param *p = realloc(m->params, nc * sizeof *p);
        if (!p) return NULL;
        m->params = p;
        *cap = nc;
    }
    sl_nn_param *p = &m->params[m->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->shape[0] = d0;
    p->shape[1] = ndim > 1 ? d1 : 0;
    p->numel = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
    p->offset = m->n_train;
    m->n_train += p->numel;
    return p;
}

static int mod_in(const sl_nn_bert_config *c, int mod) {
    return mod == SL_NN_MOD_OUTPUT ? c->intermediate : c->hidden;
}
static int mod_out(const sl_nn_bert_config *c, int mod) {
    return mod == SL_NN_MOD_INTER ? c->intermediate : c->hidden;
}

static int setup_trainable(sl_nn_bert *m, int pooler_missing, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    size_t cap = 0;
    char name[256];
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < SL_NN_NMOD; mod++) {
            if (!(m->spec.targets & (1u << mod))) continue;
            snprintf(name, sizeof name, "base_model.model.bert.encoder.layer.%d.%s.lora_A.weight", l,
                     module_paths[mod]);
            if (!add_param(m, &cap, name, m->spec.r, mod_in(c, mod), 2)) goto nomem;
            snprintf(name, sizeof name, "base_model.model.bert.encoder.layer.%d.%s.lora_B.weight", l,
                     module_paths[mod]);
            if (!add_param(m, &cap, name, mod_out(c, mod), m->spec.r, 2)) goto nomem;
        }
    if (m->spec.train_pooler || pooler_missing) {
        m->spec.train_pooler = 1;
        if (!add_param(m, &cap, "base_model.model.bert.pooler.dense.weight", c->hidden, c->hidden, 2))
            goto nomem;
        if (!add_param(m, &cap, "base_model.model.bert.pooler.dense.bias", c->hidden, 0, 1)) goto nomem;
    }
    if (!add_param(m, &cap, "base_model.model.classifier.weight", c->num_labels, c->hidden, 2)) goto nomem;
    if (!add_param(m, &cap, "base_model.model.classifier.bias", c->num_labels, 0, 1)) goto nomem;
    m->tparams = calloc(m->n_train, sizeof(float));
    m->tgrads = calloc(m->n_train, sizeof(float));
    if (!m->tparams || !m->tgrads) goto nomem;
    size_t pi = 0;
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < SL_NN_NMOD; mod++) {
            if (!(m->spec.targets & (1u << mod))) continue;
            m->layer[l].lora_a[mod] = m->tparams + m->params[pi].offset;
            m->layer[l].glora_a[mod] = m->tgrads + m->params[pi++].offset;
            m->layer[l].lora_b[mod] = m->tparams + m->params[pi].offset;
            m->layer[l].glora_b[mod] = m->tgrads + m->params[pi++].offset;
        }
    if (m->spec.train_pooler) {
        m->pool_w = m->tparams + m->params[pi].offset;
        m->gpool_w = m->tgrads + m->params[pi++].offset;
        m->pool_b = m->tparams + m->params[pi].offset;
        m->gpool_b = m->tgrads + m->params[pi++].offset;
    }
    m->cls_w = m->tparams + m->params[pi].offset;
    m->gcls_w = m->tgrads + m->params[pi++].offset;
    m->cls_b = m->tparams + m->params[pi].offset;
    m->gcls_b = m->tgrads + m->params[pi++].offset;
    return 0;
nomem:
    return sl_err_set(err, SL_ENOMEM, "out of memory for the trainable parameters");
}

/* ---- activations --------------------------------------------------------------------------- */

static int alloc_acts(sl_nn_bert *m, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    size_t N = (size_t)m->max_batch * m->max_len, H = c->hidden, NI = c->intermediate, r = m->spec.r;
    size_t W = H > NI ? H : NI, L = c->layers, nh = c->heads, T = m->max_len;
    size_t nact = m->training ? L : 1;
    size_t per = 7 * N * H + (size_t)m->max_batch * nh * T * T + 4 * N + 2 * N * NI;
    int nlora = 0;
    for (int mod = 0; mod < SL_NN_NMOD; mod++) nlora += (m->spec.targets >> mod) & 1;
    per += (size_t)nlora * N * r;
    const size_t keep_words =
        m->training && c->attn_dropout > 0 ? (size_t)m->max_batch * nh * ((T * T + 63) / 64) : 0;
    per += keep_words * 2 + 1; /* uint64 words as pairs of floats, + 1 for alignment */
    /* hidden / LoRA-input dropout masks, kept for the backward pass */
    const size_t hid_words = m->training && c->hidden_dropout > 0 ? (N * H + 63) / 64 : 0;
    size_t lora_words[SL_NN_NMOD] = {0};
    for (int mod = 0; mod < SL_NN_NMOD; mod++)
        if (m->training && m->spec.dropout > 0 && (m->spec.targets & (1u << mod)))
            lora_words[mod] = (N * (size_t)mod_in(c, mod) + 63) / 64;
    per += 2 * hid_words * 2 + 1;
    for (int mod = 0; mod < SL_NN_NMOD; mod++) per += lora_words[mod] * 2 + 1;
    size_t nh_bufs = m->training ? L + 1 : 2;
    size_t total = nact * per + nh_bufs * N * H + 2 * (size_t)m->max_batch * H +
                   2 * (size_t)m->max_batch * c->num_labels;
    total += N * W; /* xd */
    if (m->training) total += 7 * N * H + N * NI + N * r + N * W;
    double gib = (double)total * 4 / (1 << 30);
    m->act_mem = malloc(total * sizeof(float));
    m->acts = calloc(L, sizeof *m->acts);
    m->h = calloc(L + 1, sizeof *m->h);
    if (!m->act_mem || !m->acts || !m->h)
        return sl_err_set(err, SL_ENOMEM, "out of memory for activations (%.2f GiB for batch %d x length %d)",
                          gib, m->max_batch, m->max_len);
    float *p = m->act_mem;
#define TAKE(ptr, n) (ptr = p, p += (n))
    for (size_t l = 0; l < nact; l++) {
        sl_nn_acts *a = &m->acts[l];
        TAKE(a->q, N * H);
        TAKE(a->k, N * H);
        TAKE(a->v, N * H);
        TAKE(a->P, (size_t)m->max_batch * nh * T * T);
        TAKE(a->ctx, N * H);
        TAKE(a->ln1_in, N * H);
        TAKE(a->ln1_mean, N);
        TAKE(a->ln1_rstd, N);
        TAKE(a->h1, N * H);
        TAKE(a->inter, N * NI);
        TAKE(a->gel, N * NI);
        TAKE(a->ln2_in, N * H);
        TAKE(a->ln2_mean, N);
        TAKE(a->ln2_rstd, N);
        for (int mod = 0; mod < SL_NN_NMOD; mod++)
            if (m->spec.targets & (1u << mod)) TAKE(a->u[mod], N * r);
        if (keep_words || hid_words) {
            if ((uintptr_t)p & 7) p++;
        }
        if (keep_words) {
            a->keep = (uint64_t *)(void *)p;
            p += keep_words * 2;
        }
        if (hid_words) {
            a->ao_keep = (uint64_t *)(void *)p;
            p += hid_words * 2;
            a->out_keep = (uint64_t *)(void *)p;
            p += hid_words * 2;
        }
        for (int mod = 0; mod < SL_NN_NMOD; mod++)
            if (lora_words[mod]) {
                if ((uintptr_t)p & 7) p++;
                a->lkeep[mod] = (uint64_t *)(void *)p;
                p += lora_words[mod] * 2;
            }
    }
    for (size_t l = nact; l < L; l++) m->acts[l] = m->acts[0];
    for (size_t l = 0; l < nh_bufs; l++) TAKE(m->h[l], N * H);
    for (size_t l = nh_bufs; l <= L; l++) m->h[l] = m->h[l % 2];
    TAKE(m->pooled, (size_t)m->max_batch * H);
    TAKE(m->pooled_drop, (size_t)m->max_batch * H);
    TAKE(m->logits, (size_t)m->max_batch * c->num_labels);
    TAKE(m->dlogits, (size_t)m->max_batch * c->num_labels);
    TAKE(m->xd, N * W);
    if (m->training) {
        TAKE(m->dh, N * H);
        TAKE(m->dh2, N * H);
        TAKE(m->dq, N * H);
        TAKE(m->dk, N * H);
        TAKE(m->dv, N * H);
        TAKE(m->dctx, N * H);
        TAKE(m->dtmp, N * H);
        TAKE(m->dI, N * NI);
        TAKE(m->du, N * r);
        TAKE(m->dwide, N * W);
    }
#undef TAKE
    m->labels = malloc((size_t)m->max_batch * c->num_labels * sizeof(float));
    m->mask_copy = malloc(N * sizeof(int32_t));
    if (!m->labels || !m->mask_copy) return sl_err_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

/* ---- load ---------------------------------------------------------------------------------- */

int sl_nn_bert_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                    uint64_t seed, int max_batch, int max_len, int training, sl_nn_bert **out, sl_err *err) {
    *out = NULL;
    if (!spec || spec->r < 1 || spec->r > 4096 || !(spec->alpha > 0) || spec->dropout < 0 ||
        spec->dropout >= 1)
        return sl_err_set(err, SL_EUSAGE, "LoRA: r must be 1..4096, alpha > 0 and dropout in [0, 1)");
    if (max_batch < 1 || max_len < 2)
        return sl_err_set(err, SL_EUSAGE, "batch size and max length must be positive");
    sl_nn_bert *m = calloc(1, sizeof *m);
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_st_file *st = NULL;
    int rc;
    char *path = sl_fs_join(model_dir, "config.json");
    if (!path) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    rc = sl_nn_bert_config_load(path, &m->cfg, err);
    free(path);
    if (rc) goto fail;
    if (head && (rc = sl_nn_bert_config_set_head(&m->cfg, head->num_labels, (const char *const *)head->labels,
                                                 head->problem, err)))
        goto fail;
    sl_nn_bert_config *c = &m->cfg;
    if (max_len > c->max_position) max_len = c->max_position;
    m->spec = *spec;
    m->scaling = spec->use_rslora ? spec->alpha / sqrtf((float)spec->r) : spec->alpha / (float)spec->r;
    m->training = training;
    m->max_batch = max_batch;
    m->max_len = max_len;
    /* model.safetensors, pytorch_model.bin (converted in memory) or a sharded checkpoint */
    if ((rc = sl_nn_model_weights_open(model_dir, &st, err))) goto fail;
    int pooler_missing = !has_w(st, "pooler.dense.weight");
    size_t H = c->hidden, NI = c->intermediate, L = c->layers;
    size_t per_layer = 4 * (H * H + H) + 2 * (H * NI) + NI + H + 4 * H;
    m->n_base = (size_t)c->vocab_size * H + (size_t)c->max_position * H + (size_t)c->type_vocab * H + 2 * H +
                L * per_layer + (spec->train_pooler || pooler_missing ? 0 : H * H + H);
    m->base_mem = malloc(m->n_base * sizeof(float));
    m->layer = calloc(L, sizeof *m->layer);
    if (!m->base_mem || !m->layer) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory for the base weights");
        goto fail;
    }
    float *p = m->base_mem;
#define TAKE(ptr, n) (ptr = p, p += (n))
    TAKE(m->word, (size_t)c->vocab_size * H);
    TAKE(m->pos, (size_t)c->max_position * H);
    TAKE(m->type, (size_t)c->type_vocab * H);
    TAKE(m->emb_ln_w, H);
    TAKE(m->emb_ln_b, H);
    if ((rc = read_w(st, "embeddings.word_embeddings.weight", 2, c->vocab_size, (int64_t)H, m->word, err)) ||
        (rc = read_w(st, "embeddings.position_embeddings.weight", 2, c->max_position, (int64_t)H, m->pos,
                     err)) ||
        (rc = read_w(st, "embeddings.token_type_embeddings.weight", 2, c->type_vocab, (int64_t)H, m->type,
                     err)) ||
        (rc = read_w(st, "embeddings.LayerNorm.weight", 1, (int64_t)H, 0, m->emb_ln_w, err)) ||
        (rc = read_w(st, "embeddings.LayerNorm.bias", 1, (int64_t)H, 0, m->emb_ln_b, err)))
        goto fail;
    char name[256];
    for (size_t l = 0; l < L; l++) {
        sl_nn_layer_w *lw = &m->layer[l];
        for (int mod = 0; mod < SL_NN_NMOD; mod++) {
            int in = mod_in(c, mod), o = mod_out(c, mod);
            TAKE(lw->w[mod], (size_t)in * o);
            TAKE(lw->b[mod], (size_t)o);
            snprintf(name, sizeof name, "encoder.layer.%zu.%s.weight", l, module_paths[mod]);
            if ((rc = read_w(st, name, 2, o, in, lw->w[mod], err))) goto fail;
            snprintf(name, sizeof name, "encoder.layer.%zu.%s.bias", l, module_paths[mod]);
            if ((rc = read_w(st, name, 1, o, 0, lw->b[mod], err))) goto fail;
        }
        TAKE(lw->ln1_w, H);
        TAKE(lw->ln1_b, H);
        TAKE(lw->ln2_w, H);
        TAKE(lw->ln2_b, H);
        snprintf(name, sizeof name, "encoder.layer.%zu.attention.output.LayerNorm.weight", l);
        if ((rc = read_w(st, name, 1, (int64_t)H, 0, lw->ln1_w, err))) goto fail;
        snprintf(name, sizeof name, "encoder.layer.%zu.attention.output.LayerNorm.bias", l);
        if ((rc = read_w(st, name, 1, (int64_t)H, 0, lw->ln1_b, err))) goto fail;
        snprintf(name, sizeof name, "encoder.layer.%zu.output.LayerNorm.weight", l);
        if ((rc = read_w(st, name, 1, (int64_t)H, 0, lw->ln2_w, err))) goto fail;
        snprintf(name, sizeof name, "encoder.layer.%zu.output.LayerNorm.bias", l);
        if ((rc = read_w(st, name, 1, (int64_t)H, 0, lw->ln2_b, err))) goto fail;
    }
    if (!(spec->train_pooler || pooler_missing)) {
        TAKE(m->pool_w, H * H);
        TAKE(m->pool_b, H);
    }
#undef TAKE
    if ((rc = setup_trainable(m, pooler_missing, err))) goto fail;
    /* the pooler: from the checkpoint, or drawn (stream 3, before the classifier) */
    sl_rng rh;
    sl_rng_init(&rh, seed, 3);
    if (!pooler_missing) {
        if ((rc = read_w(st, "pooler.dense.weight", 2, (int64_t)H, (int64_t)H, m->pool_w, err)) ||
            (rc = read_w(st, "pooler.dense.bias", 1, (int64_t)H, 0, m->pool_b, err)))
            goto fail;
    } else {
        for (size_t i = 0; i < H * H; i++) m->pool_w[i] = rng_normal(&rh) * c->init_range;
        memset(m->pool_b, 0, H * sizeof(float));
    }
    /* the classifier: from the checkpoint when its shape fits, else drawn */
    const sl_nn_st_tensor *cw = sl_nn_st_find(st, "classifier.weight");
    const sl_nn_st_tensor *cb = sl_nn_st_find(st, "classifier.bias");
    if (cw && cb && cw->ndim == 2 && cw->shape[0] == c->num_labels && cw->shape[1] == (int64_t)H &&
        cb->ndim == 1 && cb->shape[0] == c->num_labels) {
        if ((rc = sl_nn_st_tensor_to_f32(st, cw, m->cls_w, (size_t)c->num_labels * H, err)) ||
            (rc = sl_nn_st_tensor_to_f32(st, cb, m->cls_b, (size_t)c->num_labels, err)))
            goto fail;
        m->head_loaded = 1;
    } else {
        for (size_t i = 0; i < (size_t)c->num_labels * H; i++) m->cls_w[i] = rng_normal(&rh) * c->init_range;
        memset(m->cls_b, 0, (size_t)c->num_labels * sizeof(float));
    }
    /* LoRA: A kaiming-uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0 */
    sl_rng ra;
    sl_rng_init(&ra, seed, 2);
    for (size_t l = 0; l < L; l++)
        for (int mod = 0; mod < SL_NN_NMOD; mod++) {
            float *A = m->layer[l].lora_a[mod];
            if (!A) continue;
            int in = mod_in(c, mod);
            double bound = 1.0 / sqrt((double)in);
            for (size_t i = 0; i < (size_t)spec->r * in; i++)
                A[i] = (float)((2.0 * sl_rng_uniform(&ra) - 1.0) * bound);
        }
    sl_nn_st_close(st);
    st = NULL;
    if ((rc = alloc_acts(m, err))) goto fail;
    *out = m;
    return 0;
fail:
    sl_nn_st_close(st);
    sl_nn_bert_free(m);
    return rc;
}

int sl_nn_bert_scratch(sl_nn_bert *m, int T, sl_err *err) {
    size_t need = (size_t)sl_nn_get_threads() * 2 * (size_t)T * T;
    if (need <= m->scratch_len) return 0;
    float *p = realloc(m->scratch, need * sizeof(float));
    if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory for attention scratch");
    m->scratch = p;
    m->scratch_len = need;
    return 0;
}

void sl_nn_bert_free(sl_nn_bert *m) {
    if (!m) return;
    sl_nn_bert_config_free(&m->cfg);
    free(m->base_mem);
    free(m->layer);
    free(m->tparams);
    free(m->tgrads);
    free(m->params);
    free(m->act_mem);
    free(m->scratch);
    free(m->acts);
    free(m->h);
    free(m->labels);
    free(m->mask_copy);
    free(m->base_grad);
    free(m->base_params);
    free(m->ids_copy);
    free(m);
}

const sl_nn_bert_config *sl_nn_bert_get_config(const sl_nn_bert *m) {
    return &m->cfg;
}
const sl_nn_lora_spec *sl_nn_bert_get_spec(const sl_nn_bert *m) {
    return &m->spec;
}
float *sl_nn_bert_train_params(sl_nn_bert *m) {
    return m->tparams;
}
float *sl_nn_bert_train_grads(sl_nn_bert *m) {
    return m->tgrads;
}
size_t sl_nn_bert_n_train(const sl_nn_bert *m) {
    return m->n_train;
}
size_t sl_nn_bert_n_total(const sl_nn_bert *m) {
    /* PEFT counts the frozen base (with its original classifier and pooler) plus the trainable copies */
    size_t H = m->cfg.hidden;
    size_t base = m->n_base + (m->spec.train_pooler ? H * H + H : 0) + (size_t)m->cfg.num_labels * (H + 1);
    return base + m->n_train;
}
const sl_nn_param *sl_nn_bert_params(const sl_nn_bert *m, size_t *n) {
    *n = m->n_params;
    return m->params;
}
const float *sl_nn_bert_logits(const sl_nn_bert *m) {
    return m->logits;
}
int sl_nn_bert_head_loaded(const sl_nn_bert *m) {
    return m->head_loaded;
}
int sl_nn_bert_pooler_trained(const sl_nn_bert *m) {
    return m->spec.train_pooler;
}
void sl_nn_bert_zero_grad(sl_nn_bert *m) {
    memset(m->tgrads, 0, m->n_train * sizeof(float));
    if (m->base_grad) memset(m->base_grad, 0, m->n_base * sizeof(float));
}

/* ---- full-weight mode ---------------------------------------------------------------------- */

static int add_base(sl_nn_bert *m, const char *name, const float *w, int64_t d0, int64_t d1) {
    sl_nn_param *p = &m->base_params[m->n_base_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "bert.%s", name);
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    p->offset = (size_t)(w - m->base_mem);
    return 0;
}

int sl_nn_bert_enable_full_grad(sl_nn_bert *m, sl_err *err) {
    if (m->base_grad) return 0;
    if (!m->training) return sl_err_set(err, SL_EINTERNAL, "full-weight gradients need a training model");
    const sl_nn_bert_config *c = &m->cfg;
    const int64_t H = c->hidden;
    size_t cap = 5 + (size_t)c->layers * (2 * SL_NN_NMOD + 4) + 2;
    m->base_grad = calloc(m->n_base, sizeof(float));
    m->base_params = calloc(cap, sizeof *m->base_params);
    m->ids_copy = malloc((size_t)m->max_batch * m->max_len * sizeof(int32_t));
    if (!m->base_grad || !m->base_params || !m->ids_copy) {
        free(m->base_grad);
        free(m->base_params);
        free(m->ids_copy);
        m->base_grad = NULL;
        m->base_params = NULL;
        m->ids_copy = NULL;
        return sl_err_set(err, SL_ENOMEM, "out of memory for the base-weight gradients");
    }
    m->n_base_params = 0;
    add_base(m, "embeddings.word_embeddings.weight", m->word, c->vocab_size, H);
    add_base(m, "embeddings.position_embeddings.weight", m->pos, c->max_position, H);
    add_base(m, "embeddings.token_type_embeddings.weight", m->type, c->type_vocab, H);
    add_base(m, "embeddings.LayerNorm.weight", m->emb_ln_w, H, 0);
    add_base(m, "embeddings.LayerNorm.bias", m->emb_ln_b, H, 0);
    char name[200];
    for (int l = 0; l < c->layers; l++) {
        const sl_nn_layer_w *lw = &m->layer[l];
        for (int mod = 0; mod < SL_NN_NMOD; mod++) {
            snprintf(name, sizeof name, "encoder.layer.%d.%s.weight", l, module_paths[mod]);
            add_base(m, name, lw->w[mod], mod_out(c, mod), mod_in(c, mod));
            snprintf(name, sizeof name, "encoder.layer.%d.%s.bias", l, module_paths[mod]);
            add_base(m, name, lw->b[mod], mod_out(c, mod), 0);
        }
        snprintf(name, sizeof name, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        add_base(m, name, lw->ln1_w, H, 0);
        snprintf(name, sizeof name, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        add_base(m, name, lw->ln1_b, H, 0);
        snprintf(name, sizeof name, "encoder.layer.%d.output.LayerNorm.weight", l);
        add_base(m, name, lw->ln2_w, H, 0);
        snprintf(name, sizeof name, "encoder.layer.%d.output.LayerNorm.bias", l);
        add_base(m, name, lw->ln2_b, H, 0);
    }
    if (!m->spec.train_pooler) {
        add_base(m, "pooler.dense.weight", m->pool_w, H, H);
        add_base(m, "pooler.dense.bias", m->pool_b, H, 0);
    }
    return 0;
}

const sl_nn_param *sl_nn_bert_base_tensors(const sl_nn_bert *m, size_t *n) {
    *n = m->n_base_params;
    return m->base_params;
}
float *sl_nn_bert_base_params(sl_nn_bert *m) {
    return m->base_mem;
}
float *sl_nn_bert_base_grads(sl_nn_bert *m) {
    return m->base_grad;
}
size_t sl_nn_bert_n_base(const sl_nn_bert *m) {
    return m->n_base;
}
const float *sl_nn_bert_last_hidden(const sl_nn_bert *m) {
    return m->h[m->cfg.layers];
}
