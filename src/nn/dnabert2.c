/* DNABERT-2: config.json, loading, the trainable arena, activations, PEFT adapters. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnabert2_impl.h"
#include "family_common.h"
#include "peft_config.h"
#include "safetensors.h"
#include "torch_pickle.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/rng.h"

static const char *const d2_paths[SL_NN_D2_NMOD] = {"attention.self.Wqkv", "attention.output.dense",
                                                    "mlp.gated_layers", "mlp.wo"};

const char *sl_nn_dnabert2_module_path(int m) {
    return m >= 0 && m < SL_NN_D2_NMOD ? d2_paths[m] : NULL;
}

int sl_nn_d2_mod_in(const sl_nn_bert_config *c, int mod) {
    return mod == SL_NN_D2_WO ? c->intermediate : c->hidden;
}
int sl_nn_d2_mod_out(const sl_nn_bert_config *c, int mod) {
    return mod == SL_NN_D2_WQKV ? 3 * c->hidden : mod == SL_NN_D2_GATED ? 2 * c->intermediate : c->hidden;
}

int sl_nn_dnabert2_is(const char *config_path) {
    json_t *o = sl_json_load_file(config_path, NULL);
    if (!o) return 0;
    json_t *am = json_object_get(o, "auto_map"), *mt = json_object_get(o, "model_type");
    json_t *amm = json_is_object(am) ? json_object_get(am, "AutoModel") : NULL;
    int r = (json_is_string(amm) && strstr(json_string_value(amm), "bert_layers")) ||
            (!mt && json_object_get(o, "alibi_starting_size"));
    json_decref(o);
    return r;
}

int sl_nn_dnabert2_config_load(const char *path, sl_nn_bert_config *cfg, sl_err *err) {
    /* the BERT reader checks and reads everything DNABERT-2's config shares with BertConfig; it refuses
     * nothing DNABERT-2 ships (hidden_act gelu, position_embedding_type absolute, no model_type) */
    int rc = sl_nn_bert_config_load(path, cfg, err);
    if (rc) return rc;
    cfg->max_position = 65536;
    return 0;
}

int sl_nn_dnabert2_lora_targets(const char *const *names, size_t n, unsigned *targets, sl_err *err) {
    unsigned set = 0;
    if (n == 0) return sl_err_set(err, SL_EUSAGE, "no LoRA target modules given");
    for (size_t i = 0; i < n; i++) {
        const char *t = names[i];
        if (!*t) return sl_err_set(err, SL_EUSAGE, "empty LoRA target module name");
        if (sl_nn_target_suffix_match("bert.pooler.dense", t))
            return sl_err_set(err, SL_EUSAGE,
                              "target module '%s' would also adapt bert.pooler.dense; name Wqkv, "
                              "attention.output.dense, gated_layers and/or wo instead",
                              t);
        unsigned hit = 0;
        for (int m = 0; m < SL_NN_D2_NMOD; m++) {
            char full[128];
            snprintf(full, sizeof full, "bert.encoder.layer.0.%s", d2_paths[m]);
            if (sl_nn_target_suffix_match(full, t)) hit |= 1u << m;
        }
        if (!hit)
            return sl_err_set(err, SL_EUSAGE,
                              "target module '%s' matches no Linear of a DNABERT-2 layer (expected Wqkv, "
                              "attention.output.dense, gated_layers, wo or a suffix of them)",
                              t);
        set |= hit;
    }
    *targets = set;
    return 0;
}

int sl_nn_dnabert2_adapter_read_config(const char *dir, sl_nn_lora_spec *spec, sl_err *err) {
    char *path = sl_fs_join(dir, "adapter_config.json");
    if (!path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_peft_config cfg;
    memset(spec, 0, sizeof *spec);
    int rc = sl_nn_peft_config_read(path, &cfg, err);
    if (rc) goto out;
    const char *why = NULL;
    if (strcmp(cfg.bias, "none"))
        why = "bias: only \"none\" is supported";
    else if (cfg.fan_in_fan_out)
        why = "fan_in_fan_out: not supported";
    else if (cfg.layers_to_transform)
        why = "layers_to_transform: not supported (every layer is adapted)";
    else if (json_object_size(cfg.rank_pattern) || json_object_size(cfg.alpha_pattern))
        why = "rank_pattern/alpha_pattern: per-module ranks are not supported yet";
    else if (!cfg.target_modules && !cfg.target_modules_regex)
        why = "target_modules: null (PEFT has no default for DNABERT-2) — name the modules, e.g. Wqkv";
    else if (sl_nn_peft_config_targets(&cfg, "bert.pooler.dense"))
        why = "target_modules adapt bert.pooler.dense, which seqlora does not do";
    if (why) {
        rc = sl_err_set(err, SL_EDATA, "%s: %s", path, why);
        goto out;
    }
    spec->r = cfg.r;
    spec->alpha = (float)cfg.lora_alpha;
    spec->dropout = (float)cfg.lora_dropout;
    spec->use_rslora = cfg.use_rslora;
    char name[160];
    for (int mod = 0; mod < SL_NN_D2_NMOD; mod++) {
        snprintf(name, sizeof name, "bert.encoder.layer.0.%s", d2_paths[mod]);
        if (sl_nn_peft_config_targets(&cfg, name)) spec->targets |= 1u << mod;
    }
    if (!spec->targets) {
        rc = sl_err_set(err, SL_EDATA, "%s: target_modules match no Linear of a DNABERT-2 layer", path);
        goto out;
    }
    if (cfg.target_modules_regex) {
        spec->target_regex = 1;
        snprintf(spec->target_names, sizeof spec->target_names, "%s", cfg.target_modules_regex);
    } else {
        size_t used = 0;
        for (size_t i = 0; i < cfg.n_target_modules && used < sizeof spec->target_names; i++)
            used += (size_t)snprintf(spec->target_names + used, sizeof spec->target_names - used, "%s%s",
                                     i ? "," : "", cfg.target_modules[i]);
    }
    for (size_t i = 0; i < cfg.n_modules_to_save; i++)
        if (!strcmp(cfg.modules_to_save[i], "pooler") || !strcmp(cfg.modules_to_save[i], "bert.pooler"))
            spec->train_pooler = 1;
out:
    sl_nn_peft_config_free(&cfg);
    free(path);
    return rc;
}

/* ---- weights ------------------------------------------------------------------------------- */

static int has_w(const sl_nn_st_file *st, const char *name) {
    char b[288];
    snprintf(b, sizeof b, "bert.%s", name);
    return sl_nn_st_find(st, b) || sl_nn_st_find(st, name);
}

static int read_w(const sl_nn_st_file *st, const char *name, int ndim, int64_t d0, int64_t d1, float *dst,
                  sl_err *err) {
    int64_t shape[2] = {d0, d1};
    char b[288];
    snprintf(b, sizeof b, "bert.%s", name);
    if (sl_nn_st_find(st, b)) return sl_nn_st_read_f32_shape(st, b, ndim, shape, dst, err);
    if (sl_nn_st_find(st, name)) return sl_nn_st_read_f32_shape(st, name, ndim, shape, dst, err);
    return sl_err_set(err, SL_EDATA, "%s: no tensor bert.%s (expected shape [%lld%s%lld])", sl_nn_st_path(st),
                      name, (long long)d0, ndim > 1 ? ", " : "", ndim > 1 ? (long long)d1 : 0LL);
}

static int setup_trainable(sl_nn_dnabert2 *m, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    sl_nn_param_table t = {0};
    char name[256];
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < SL_NN_D2_NMOD; mod++) {
            if (!(m->spec.targets & (1u << mod))) continue;
            snprintf(name, sizeof name, "base_model.model.bert.encoder.layer.%d.%s.lora_A.weight", l,
                     d2_paths[mod]);
            if (!sl_nn_param_table_add(&t, name, m->spec.r, sl_nn_d2_mod_in(c, mod), 2)) goto nomem;
            snprintf(name, sizeof name, "base_model.model.bert.encoder.layer.%d.%s.lora_B.weight", l,
                     d2_paths[mod]);
            if (!sl_nn_param_table_add(&t, name, sl_nn_d2_mod_out(c, mod), m->spec.r, 2)) goto nomem;
        }
    if (m->spec.train_pooler &&
        (!sl_nn_param_table_add(&t, "base_model.model.bert.pooler.dense.weight", c->hidden, c->hidden, 2) ||
         !sl_nn_param_table_add(&t, "base_model.model.bert.pooler.dense.bias", c->hidden, 0, 1)))
        goto nomem;
    if (!sl_nn_param_table_add(&t, "base_model.model.classifier.weight", c->num_labels, c->hidden, 2) ||
        !sl_nn_param_table_add(&t, "base_model.model.classifier.bias", c->num_labels, 0, 1))
        goto nomem;
    m->params = t.params;
    m->n_params = t.n;
    m->n_train = t.n_train;
    t.params = NULL;
    m->tparams = calloc(m->n_train, sizeof(float));
    m->tgrads = calloc(m->n_train, sizeof(float));
    if (!m->tparams || !m->tgrads) goto nomem;
    size_t pi = 0;
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < SL_NN_D2_NMOD; mod++) {
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
    free(t.params);
    return sl_err_set(err, SL_ENOMEM, "out of memory for the trainable parameters");
}

static int alloc_acts(sl_nn_dnabert2 *m, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    const size_t N = (size_t)m->max_batch * m->max_len, H = c->hidden, NI = c->intermediate, r = m->spec.r,
                 L = c->layers, nh = c->heads, T = m->max_len, Bm = m->max_batch, C = c->num_labels;
    const size_t W = 2 * NI > 3 * H ? 2 * NI : 3 * H;
    const size_t nact = m->training ? L : 1;
    const size_t hid_words = m->training && c->hidden_dropout > 0 ? (N * H + 63) / 64 : 0;
    const size_t mlp_words = m->training && c->hidden_dropout > 0 ? (N * NI + 63) / 64 : 0;
    size_t lwords[SL_NN_D2_NMOD] = {0};
    size_t per = 3 * N * H + Bm * nh * T * T + 4 * N * H + 4 * N + 2 * N * NI + N * NI + (hid_words * 2 + 1) +
                 (mlp_words * 2 + 1);
    for (int mod = 0; mod < SL_NN_D2_NMOD; mod++)
        if (m->spec.targets & (1u << mod)) {
            per += N * r;
            if (m->training && m->spec.dropout > 0)
                lwords[mod] = (N * (size_t)sl_nn_d2_mod_in(c, mod) + 63) / 64, per += lwords[mod] * 2 + 1;
        }
    const size_t nhb = m->training ? L + 1 : 2;
    size_t total = nact * per + nhb * N * H + 2 * Bm * H + 2 * Bm * C + N * W + nh + nh * T * T;
    if (m->training) total += 2 * N * H + 3 * N * H + 2 * N * H + 2 * N * NI + N * NI + N * r + N * W;
    m->act_mem = malloc(total * sizeof(float));
    m->acts = calloc(L, sizeof *m->acts);
    m->h = calloc(L + 1, sizeof *m->h);
    m->labels = malloc(Bm * C * sizeof(float));
    m->mask = malloc(N * sizeof(int32_t));
    if (!m->act_mem || !m->acts || !m->h || !m->labels || !m->mask)
        return sl_err_set(err, SL_ENOMEM, "out of memory for activations (%.2f GiB for batch %d x length %d)",
                          (double)total * 4 / (1 << 30), m->max_batch, m->max_len);
    float *p = m->act_mem;
#define TAKE(ptr, n) (ptr = p, p += (n))
#define TAKE_BITS(ptr, words)                                                                                \
    do {                                                                                                     \
        if ((uintptr_t)p & 7) p++;                                                                           \
        ptr = (uint64_t *)(void *)p;                                                                         \
        p += (words)*2;                                                                                      \
    } while (0)
    for (size_t l = 0; l < nact; l++) {
        sl_nn_d2_acts *a = &m->acts[l];
        TAKE(a->qkv, 3 * N * H);
        TAKE(a->P, Bm * nh * T * T);
        TAKE(a->ctx, N * H);
        TAKE(a->ln1_in, N * H);
        TAKE(a->ln1_mean, N);
        TAKE(a->ln1_rstd, N);
        TAKE(a->h1, N * H);
        TAKE(a->gated, 2 * N * NI);
        TAKE(a->g, N * NI);
        TAKE(a->ln2_in, N * H);
        TAKE(a->ln2_mean, N);
        TAKE(a->ln2_rstd, N);
        if (hid_words) {
            TAKE_BITS(a->ao_keep, hid_words);
            TAKE_BITS(a->out_keep, mlp_words); /* dropout on the GeGLU output [N, I] */
        }
        for (int mod = 0; mod < SL_NN_D2_NMOD; mod++) {
            if (m->spec.targets & (1u << mod)) TAKE(a->u[mod], N * r);
            if (lwords[mod]) TAKE_BITS(a->lkeep[mod], lwords[mod]);
        }
    }
#undef TAKE_BITS
    for (size_t l = nact; l < L; l++) m->acts[l] = m->acts[0];
    for (size_t l = 0; l < nhb; l++) TAKE(m->h[l], N * H);
    for (size_t l = nhb; l <= L; l++) m->h[l] = m->h[l % 2];
    TAKE(m->pooled, Bm * H);
    TAKE(m->pooled_drop, Bm * H);
    TAKE(m->logits, Bm * C);
    TAKE(m->dlogits, Bm * C);
    TAKE(m->xd, N * W);
    TAKE(m->slopes, nh);
    TAKE(m->alibi, nh * T * T);
    if (m->training) {
        TAKE(m->dh, N * H);
        TAKE(m->dh2, N * H);
        TAKE(m->dqkv, 3 * N * H);
        TAKE(m->dctx, N * H);
        TAKE(m->dtmp, N * H);
        TAKE(m->dG, 2 * N * NI);
        TAKE(m->dg, N * NI);
        TAKE(m->du, N * r);
        TAKE(m->dwide, N * W);
    }
#undef TAKE
    /* ALiBi slopes (bert_layers.py _get_alibi_head_slopes) */
    const int n = (int)nh;
    int c2 = 1;
    while (c2 * 2 <= n) c2 *= 2;
    for (int h = 0; h < n; h++) {
        double nn_ = h < c2 ? c2 : 2.0 * c2;
        int idx = h < c2 ? h : 2 * (h - c2);
        double start = pow(2.0, -pow(2.0, -(log2(nn_) - 3)));
        m->slopes[h] = (float)(start * pow(start, idx));
    }
    m->alibi_T = 0;
    return 0;
}

int sl_nn_dnabert2_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                        uint64_t seed, int max_batch, int max_len, int training, sl_nn_dnabert2 **out,
                        sl_err *err) {
    *out = NULL;
    if (!spec || spec->r < 1 || spec->r > 4096 || !(spec->alpha > 0) || spec->dropout < 0 ||
        spec->dropout >= 1)
        return sl_err_set(err, SL_EUSAGE, "LoRA: r must be 1..4096, alpha > 0 and dropout in [0, 1)");
    if (max_batch < 1 || max_len < 2)
        return sl_err_set(err, SL_EUSAGE, "batch size and max length must be positive");
    if (spec->targets >> SL_NN_D2_NMOD)
        return sl_err_set(err, SL_EUSAGE, "LoRA targets are not DNABERT-2 modules");
    sl_nn_dnabert2 *m = calloc(1, sizeof *m);
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_st_file *st = NULL;
    int rc;
    char *path = sl_fs_join(model_dir, "config.json");
    if (!path) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    rc = sl_nn_dnabert2_config_load(path, &m->cfg, err);
    free(path);
    if (rc) goto fail;
    sl_nn_bert_config *c = &m->cfg;
    if (head && (rc = sl_nn_bert_config_set_head(c, head->num_labels, (const char *const *)head->labels,
                                                 head->problem, err)))
        goto fail;
    m->spec = *spec;
    m->scaling = spec->use_rslora ? spec->alpha / sqrtf((float)spec->r) : spec->alpha / (float)spec->r;
    m->training = training;
    m->max_batch = max_batch;
    m->max_len = max_len;
    if ((rc = sl_nn_model_weights_open(model_dir, &st, err))) goto fail;
    int pooler_missing = !has_w(st, "pooler.dense.weight");
    if (pooler_missing) m->spec.train_pooler = 1;
    const size_t H = c->hidden, NI = c->intermediate, L = c->layers, V = c->vocab_size;
    size_t per_layer = 3 * H * H + 3 * H + H * H + H + 2 * NI * H + NI * H + H + 4 * H;
    m->n_base =
        V * H + (size_t)c->type_vocab * H + 2 * H + L * per_layer + (m->spec.train_pooler ? 0 : H * H + H);
    m->base_mem = malloc(m->n_base * sizeof(float));
    m->layer = calloc(L, sizeof *m->layer);
    if (!m->base_mem || !m->layer) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory for the base weights");
        goto fail;
    }
    float *p = m->base_mem;
#define TAKE(ptr, n) (ptr = p, p += (n))
    TAKE(m->word, V * H);
    TAKE(m->type, (size_t)c->type_vocab * H);
    TAKE(m->emb_ln_w, H);
    TAKE(m->emb_ln_b, H);
    if ((rc = read_w(st, "embeddings.word_embeddings.weight", 2, (int64_t)V, (int64_t)H, m->word, err)) ||
        (rc = read_w(st, "embeddings.token_type_embeddings.weight", 2, c->type_vocab, (int64_t)H, m->type,
                     err)) ||
        (rc = read_w(st, "embeddings.LayerNorm.weight", 1, (int64_t)H, 0, m->emb_ln_w, err)) ||
        (rc = read_w(st, "embeddings.LayerNorm.bias", 1, (int64_t)H, 0, m->emb_ln_b, err)))
        goto fail;
    char name[256];
    for (size_t l = 0; l < L; l++) {
        sl_nn_d2_layer *lw = &m->layer[l];
        for (int mod = 0; mod < SL_NN_D2_NMOD; mod++) {
            int in = sl_nn_d2_mod_in(c, mod), o = sl_nn_d2_mod_out(c, mod);
            TAKE(lw->w[mod], (size_t)in * o);
            snprintf(name, sizeof name, "encoder.layer.%zu.%s.weight", l, d2_paths[mod]);
            if ((rc = read_w(st, name, 2, o, in, lw->w[mod], err))) goto fail;
            if (mod == SL_NN_D2_GATED) continue; /* bias=False */
            TAKE(lw->b[mod], (size_t)o);
            snprintf(name, sizeof name, "encoder.layer.%zu.%s.bias", l, d2_paths[mod]);
            if ((rc = read_w(st, name, 1, o, 0, lw->b[mod], err))) goto fail;
        }
        TAKE(lw->ln1_w, H);
        TAKE(lw->ln1_b, H);
        TAKE(lw->ln2_w, H);
        TAKE(lw->ln2_b, H);
        static const char *const lns[4] = {"attention.output.LayerNorm.weight",
                                           "attention.output.LayerNorm.bias", "mlp.layernorm.weight",
                                           "mlp.layernorm.bias"};
        float *dst[4] = {lw->ln1_w, lw->ln1_b, lw->ln2_w, lw->ln2_b};
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "encoder.layer.%zu.%s", l, lns[i]);
            if ((rc = read_w(st, name, 1, (int64_t)H, 0, dst[i], err))) goto fail;
        }
    }
    if (!m->spec.train_pooler) {
        TAKE(m->pool_w, H * H);
        TAKE(m->pool_b, H);
    }
#undef TAKE
    if ((rc = setup_trainable(m, err))) goto fail;
    sl_rng rh;
    sl_rng_init(&rh, seed, 3);
    if (!pooler_missing) {
        if ((rc = read_w(st, "pooler.dense.weight", 2, (int64_t)H, (int64_t)H, m->pool_w, err)) ||
            (rc = read_w(st, "pooler.dense.bias", 1, (int64_t)H, 0, m->pool_b, err)))
            goto fail;
    } else {
        for (size_t i = 0; i < H * H; i++) m->pool_w[i] = sl_nn_rng_normal(&rh) * c->init_range;
    }
    const sl_nn_st_tensor *cw = sl_nn_st_find(st, "classifier.weight"),
                          *cb = sl_nn_st_find(st, "classifier.bias");
    if (cw && cb && cw->ndim == 2 && cw->shape[0] == c->num_labels && cw->shape[1] == (int64_t)H &&
        cb->ndim == 1 && cb->shape[0] == c->num_labels) {
        if ((rc = sl_nn_st_tensor_to_f32(st, cw, m->cls_w, (size_t)c->num_labels * H, err)) ||
            (rc = sl_nn_st_tensor_to_f32(st, cb, m->cls_b, (size_t)c->num_labels, err)))
            goto fail;
        m->head_loaded = 1;
    } else {
        for (size_t i = 0; i < (size_t)c->num_labels * H; i++)
            m->cls_w[i] = sl_nn_rng_normal(&rh) * c->init_range;
    }
    sl_rng ra;
    sl_rng_init(&ra, seed, 2);
    for (size_t l = 0; l < L; l++)
        for (int mod = 0; mod < SL_NN_D2_NMOD; mod++) {
            float *A = m->layer[l].lora_a[mod];
            if (!A) continue;
            int in = sl_nn_d2_mod_in(c, mod);
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
    sl_nn_dnabert2_free(m);
    return rc;
}

void sl_nn_dnabert2_free(sl_nn_dnabert2 *m) {
    if (!m) return;
    sl_nn_bert_config_free(&m->cfg);
    free(m->base_mem);
    free(m->layer);
    free(m->tparams);
    free(m->tgrads);
    free(m->params);
    free(m->act_mem);
    free(m->acts);
    free(m->h);
    free(m->scratch);
    free(m->labels);
    free(m->mask);
    free(m);
}

const sl_nn_bert_config *sl_nn_dnabert2_get_config(const sl_nn_dnabert2 *m) {
    return &m->cfg;
}
const sl_nn_lora_spec *sl_nn_dnabert2_get_spec(const sl_nn_dnabert2 *m) {
    return &m->spec;
}
float *sl_nn_dnabert2_train_params(sl_nn_dnabert2 *m) {
    return m->tparams;
}
float *sl_nn_dnabert2_train_grads(sl_nn_dnabert2 *m) {
    return m->tgrads;
}
size_t sl_nn_dnabert2_n_train(const sl_nn_dnabert2 *m) {
    return m->n_train;
}
size_t sl_nn_dnabert2_n_total(const sl_nn_dnabert2 *m) {
    const size_t H = m->cfg.hidden;
    return m->n_base + (m->spec.train_pooler ? H * H + H : 0) + (size_t)m->cfg.num_labels * (H + 1) +
           m->n_train;
}
const sl_nn_param *sl_nn_dnabert2_params(const sl_nn_dnabert2 *m, size_t *n) {
    *n = m->n_params;
    return m->params;
}
const float *sl_nn_dnabert2_logits(const sl_nn_dnabert2 *m) {
    return m->logits;
}
int sl_nn_dnabert2_head_loaded(const sl_nn_dnabert2 *m) {
    return m->head_loaded;
}
void sl_nn_dnabert2_zero_grad(sl_nn_dnabert2 *m) {
    memset(m->tgrads, 0, m->n_train * sizeof(float));
}

int sl_nn_dnabert2_adapter_write(const sl_nn_dnabert2 *m, const float *params, const char *dir,
                                 const char *base_name, sl_err *err) {
    static const char *const mts[3] = {"classifier", "score", "pooler"};
    return sl_nn_family_adapter_write(m->params, m->n_params, params ? params : m->tparams, &m->spec,
                                      d2_paths, SL_NN_D2_NMOD, mts, m->spec.train_pooler ? 3 : 2, dir,
                                      base_name, err);
}

int sl_nn_dnabert2_adapter_load_weights(sl_nn_dnabert2 *m, const char *dir, sl_err *err) {
    return sl_nn_family_adapter_load(m->params, m->n_params, m->tparams, dir, err);
}
