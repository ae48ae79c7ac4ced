/* DNABERT-2: config.json, loading, the trainable arena, activations, PEFT adapters. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnabert2_impl.h"
#include "family_common.h"
#include "safetensors.h"
#include "torch_pickle.h"
#include "util/fs.h"
#include "util/json.h"

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

static const char *const d2_frozen[] = {"bert.pooler.dense", NULL};
const sl_nn_adapter_layout sl_nn_d2_layout = {
    "bert.encoder.layer",
    d2_paths,
    SL_NN_D2_NMOD,
    "DNABERT-2",
    "target_modules: null (PEFT has no default for DNABERT-2) — name the modules, e.g. Wqkv",
    d2_frozen,
    "bert.pooler.dense, which seqlora does not do",
    "Wqkv, attention.output.dense, gated_layers and/or wo",
    "Wqkv, attention.output.dense, gated_layers, wo",
};

int sl_nn_dnabert2_lora_targets(const char *const *names, size_t n, unsigned *targets, sl_err *err) {
    return sl_nn_family_lora_targets(&sl_nn_d2_layout, names, n, targets, err);
}

int sl_nn_dnabert2_adapter_read_config(const char *dir, sl_nn_lora_spec *spec, sl_err *err) {
    return sl_nn_family_adapter_read_config(dir, &sl_nn_d2_layout, spec, err);
}

/* ---- weights ------------------------------------------------------------------------------- */

/* The frozen base, in its arena order: the embeddings (no position table); per layer Wqkv, attention.output
 * (weight, bias), gated_layers (no bias), wo, the two LayerNorms; the pooler last when it is not trained. */
static int load_base(sl_nn_dnabert2 *m, const sl_nn_ckpt *ck, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    const int64_t H = c->hidden;
    sl_nn_tensor_table t = {.ck = ck};
    int rc;
    if (!(m->layer = calloc((size_t)c->layers, sizeof *m->layer)))
        return sl_err_set(err, SL_ENOMEM, "out of memory for the base weights");
    if ((rc = sl_nn_base_add_bert_embeddings(&t, c, &m->word, NULL, &m->type, &m->emb_ln_w, &m->emb_ln_b,
                                             err)))
        goto out;
    for (int l = 0; l < c->layers; l++) {
        sl_nn_d2_layer *lw = &m->layer[l];
        for (int mod = 0; mod < SL_NN_D2_NMOD; mod++) {
            const int in = sl_nn_d2_mod_in(c, mod), o = sl_nn_d2_mod_out(c, mod);
            rc = mod == SL_NN_D2_GATED /* bias=False */
                     ? sl_nn_base_add(&t, &lw->w[mod], SL_NN_BASE_READ, o, in, err,
                                      "encoder.layer.%d.%s.weight", l, d2_paths[mod])
                     : sl_nn_base_add_wb(&t, &lw->w[mod], &lw->b[mod], SL_NN_BASE_READ, o, in, err,
                                         "encoder.layer.%d.%s", l, d2_paths[mod]);
            if (rc) goto out;
        }
        if ((rc = sl_nn_base_add_wb(&t, &lw->ln1_w, &lw->ln1_b, SL_NN_BASE_READ, H, 0, err,
                                    "encoder.layer.%d.attention.output.LayerNorm", l)) ||
            (rc = sl_nn_base_add_wb(&t, &lw->ln2_w, &lw->ln2_b, SL_NN_BASE_READ, H, 0, err,
                                    "encoder.layer.%d.mlp.layernorm", l)))
            goto out;
    }
    if (!m->spec.train_pooler &&
        (rc = sl_nn_base_add_wb(&t, &m->pool_w, &m->pool_b, SL_NN_BASE_KEEP, H, H, err, "pooler.dense")))
        goto out;
out:
    return sl_nn_base_table_finish(&t, rc, &m->base_mem, &m->n_base, NULL, NULL, err);
}

/* LoRA A/B of the adapted Linears, then the pooler when trained, then the classifier (PEFT's key order). */
static int setup_trainable(sl_nn_dnabert2 *m, uint64_t seed, sl_err *err) {
    int in[SL_NN_D2_NMOD], out[SL_NN_D2_NMOD];
    for (int mod = 0; mod < SL_NN_D2_NMOD; mod++)
        in[mod] = sl_nn_d2_mod_in(&m->cfg, mod), out[mod] = sl_nn_d2_mod_out(&m->cfg, mod);
    return sl_nn_bert_cls_trainable(&m->cfg, &m->spec, d2_paths, SL_NN_D2_NMOD, in, out, seed,
                                    SL_NN_BERT_CLS_ARENA(m), err);
}

/* The activation buffers in their order (sl_nn_bump: run once to measure, once to place). */
static void acts_layout(void *model, sl_nn_bump *b) {
    sl_nn_dnabert2 *m = model;
    const sl_nn_bert_config *c = &m->cfg;
    const size_t N = (size_t)m->max_batch * m->max_len, H = c->hidden, NI = c->intermediate, r = m->spec.r,
                 L = c->layers, nh = c->heads, T = m->max_len, Bm = m->max_batch, C = c->num_labels;
    const size_t W = 2 * NI > 3 * H ? 2 * NI : 3 * H;
    const size_t nact = m->training ? L : 1;
    const size_t hid_words = m->training && c->hidden_dropout > 0 ? (N * H + 63) / 64 : 0;
    const size_t mlp_words = m->training && c->hidden_dropout > 0 ? (N * NI + 63) / 64 : 0;
    size_t lwords[SL_NN_D2_NMOD] = {0};
    for (int mod = 0; mod < SL_NN_D2_NMOD; mod++)
        if ((m->spec.targets & (1u << mod)) && m->training && m->spec.dropout > 0)
            lwords[mod] = (N * (size_t)sl_nn_d2_mod_in(c, mod) + 63) / 64;
    const size_t nhb = m->training ? L + 1 : 2;
#define TAKE(ptr, n) ((ptr) = sl_nn_bump_take(b, (n)))
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
            a->ao_keep = sl_nn_bump_bits(b, hid_words);
            a->out_keep = sl_nn_bump_bits(b, mlp_words); /* dropout on the GeGLU output [N, I] */
        }
        for (int mod = 0; mod < SL_NN_D2_NMOD; mod++) {
            if (m->spec.targets & (1u << mod)) TAKE(a->u[mod], N * r);
            if (lwords[mod]) a->lkeep[mod] = sl_nn_bump_bits(b, lwords[mod]);
        }
    }
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
}

static int alloc_acts(sl_nn_dnabert2 *m, sl_err *err) {
    const size_t L = m->cfg.layers, N = (size_t)m->max_batch * m->max_len;
    m->acts = calloc(L, sizeof *m->acts);
    m->h = calloc(L + 1, sizeof *m->h);
    m->labels = malloc((size_t)m->max_batch * m->cfg.num_labels * sizeof(float));
    m->mask = malloc(N * sizeof(int32_t));
    int rc = sl_nn_bump_alloc(acts_layout, m, &m->act_mem, m->acts && m->h && m->labels && m->mask,
                              m->max_batch, m->max_len, err);
    if (rc) return rc;
    const int nh = m->cfg.heads;
    /* ALiBi slopes (bert_layers.py _get_alibi_head_slopes) */
    int c2 = 1;
    while (c2 * 2 <= nh) c2 *= 2;
    for (int h = 0; h < nh; h++) {
        double nn_ = h < c2 ? c2 : 2.0 * c2;
        int idx = h < c2 ? h : 2 * (h - c2);
        double start = pow(2.0, -pow(2.0, -(log2(nn_) - 3)));
        m->slopes[h] = (float)(start * pow(start, idx));
    }
    m->alibi_T = 0;
    return 0;
}

static const float *d2_weight(const void *model, size_t i, int *in, int *out);

int sl_nn_dnabert2_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                        uint64_t seed, int max_batch, int max_len, int training, sl_nn_dnabert2 **out,
                        sl_err *err) {
    *out = NULL;
    int rc = sl_nn_family_check_args(spec, max_batch, max_len, err);
    if (rc) return rc;
    if (spec->targets >> SL_NN_D2_NMOD)
        return sl_err_set(err, SL_EUSAGE, "LoRA targets are not DNABERT-2 modules");
    sl_nn_dnabert2 *m = calloc(1, sizeof *m);
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_st_file *st = NULL;
    char *path = sl_fs_join(model_dir, "config.json");
    if (!path) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    rc = sl_nn_dnabert2_config_load(path, &m->cfg, err);
    free(path);
    if (rc || (rc = sl_nn_family_set_head(&m->cfg, head, err))) goto fail;
    const sl_nn_bert_config *c = &m->cfg;
    m->spec = *spec;
    m->scaling = sl_nn_lora_scaling(spec);
    m->training = training;
    m->max_batch = max_batch;
    m->max_len = max_len;
    if ((rc = sl_nn_model_weights_open(model_dir, &st, err))) goto fail;
    const sl_nn_ckpt ck = {st, "bert.", 0};
    const int pooler_missing = !sl_nn_ckpt_has(&ck, "pooler.dense.weight");
    if (pooler_missing) m->spec.train_pooler = 1;
    if ((rc = load_base(m, &ck, err)) || (rc = setup_trainable(m, seed, err)) ||
        (rc = sl_nn_bert_head_load(&ck, c->hidden, c->num_labels, c->init_range, seed, pooler_missing,
                                   SL_NN_BERT_HEAD_SLOTS(m), &m->head_loaded, err)))
        goto fail;
    sl_nn_st_close(st);
    st = NULL;
    if ((rc = alloc_acts(m, err))) goto fail;
    /* fp32 GEMMs through oneDNN where it is faster (gemm_onednn.h); if it refuses, OpenBLAS runs them */
    sl_err ignored = {0};
    if (sl_nn_dnnl_fp32_active())
        (void)sl_nn_lora_dnnl_make(&m->wmats, (size_t)c->layers * SL_NN_D2_NMOD, d2_weight, m, m->training,
                                   SL_NN_DNNL_FP32, &ignored);
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
    sl_nn_lora_dnnl_free(&m->wmats);
    free(m);
}

/* slot l * SL_NN_D2_NMOD + mod of sl_nn_dnabert2.wmats */
static const float *d2_weight(const void *model, size_t i, int *in, int *out) {
    const sl_nn_dnabert2 *m = model;
    const int mod = (int)(i % SL_NN_D2_NMOD);
    *in = sl_nn_d2_mod_in(&m->cfg, mod);
    *out = sl_nn_d2_mod_out(&m->cfg, mod);
    return m->layer[i / SL_NN_D2_NMOD].w[mod];
}

int sl_nn_dnabert2_use_bf16(sl_nn_dnabert2 *m, sl_err *err) {
    if (m->wmats.bf16) return 0;
    return sl_nn_lora_dnnl_make(&m->wmats, (size_t)m->cfg.layers * SL_NN_D2_NMOD, d2_weight, m, m->training,
                                SL_NN_DNNL_BF16, err);
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
