/* ESM family: config.json, loading the checkpoint, the trainable arena, the activations, PEFT adapters. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_read.h"
#include "esm_impl.h"
#include "family_common.h"
#include "safetensors.h"
#include "torch_pickle.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/rng.h"

/* ---- config.json --------------------------------------------------------------------------- */

static int esm_architecture(const json_t *o) {
    json_t *a = json_object_get(o, "architectures");
    size_t i;
    json_t *v;
    if (json_is_array(a)) json_array_foreach(a, i, v) {
            if (json_is_string(v) && !strncmp(json_string_value(v), "Esm", 3)) return 1;
        }
    return 0;
}

int sl_nn_esm_is_esm(const char *config_path) {
    json_t *o = sl_json_load_file(config_path, NULL);
    if (!o) return 0;
    json_t *mt = json_object_get(o, "model_type");
    int r = (json_is_string(mt) && !strcmp(json_string_value(mt), "esm")) || (!mt && esm_architecture(o));
    json_decref(o);
    return r;
}

int sl_nn_esm_config_load(const char *path, sl_nn_esm_config *cfg, sl_err *err) {
    memset(cfg, 0, sizeof *cfg);
    json_t *o = sl_json_load_file(path, err);
    if (!o) return err ? err->code : SL_EDATA;
    sl_nn_bert_config *b = &cfg->b;
    int rc = 0;
    json_t *v;
    if (!json_is_object(o)) {
        rc = sl_err_set(err, SL_EDATA, "%s: expected a JSON object", path);
        goto out;
    }
    v = json_object_get(o, "model_type");
    if (v ? !(json_is_string(v) && !strcmp(json_string_value(v), "esm")) : !esm_architecture(o)) {
        rc = sl_err_set(err, SL_EDATA, "%s: field 'model_type': expected \"esm\" for an ESM-family model",
                        path);
        goto out;
    }
    const char *pet = "absolute";
    if ((v = json_object_get(o, "position_embedding_type")) && !json_is_null(v)) {
        if (!json_is_string(v)) {
            rc = sl_err_set(err, SL_EDATA, "%s: field 'position_embedding_type': expected a string", path);
            goto out;
        }
        pet = json_string_value(v);
    }
    if (!strcmp(pet, "rotary"))
        cfg->rotary = 1;
    else if (strcmp(pet, "absolute")) {
        rc = sl_err_set(err, SL_EDATA,
                        "%s: field 'position_embedding_type': '%s' is not supported (expected 'absolute' or "
                        "'rotary')",
                        path, pet);
        goto out;
    }
    if ((v = json_object_get(o, "is_folding_model")) && json_is_true(v)) {
        rc =
            sl_err_set(err, SL_EDATA, "%s: field 'is_folding_model': ESMFold models are not supported", path);
        goto out;
    }
    /* EsmConfig has no defaults for vocab_size / pad / mask: they must be there */
    if (!json_is_integer(json_object_get(o, "vocab_size")) ||
        !json_is_integer(json_object_get(o, "pad_token_id"))) {
        rc = sl_err_set(err, SL_EDATA, "%s: fields 'vocab_size' and 'pad_token_id' must be integers", path);
        goto out;
    }
    if ((rc = sl_nn_cfg_int(o, path, "vocab_size", 33, 1, &b->vocab_size, err)) ||
        (rc = sl_nn_cfg_int(o, path, "hidden_size", 768, 2, &b->hidden, err)) ||
        (rc = sl_nn_cfg_int(o, path, "num_hidden_layers", 12, 1, &b->layers, err)) ||
        (rc = sl_nn_cfg_int(o, path, "num_attention_heads", 12, 1, &b->heads, err)) ||
        (rc = sl_nn_cfg_int(o, path, "intermediate_size", 3072, 1, &b->intermediate, err)) ||
        (rc = sl_nn_cfg_int(o, path, "max_position_embeddings", 1026, 1, &b->max_position, err)) ||
        (rc = sl_nn_cfg_int(o, path, "pad_token_id", 1, 0, &b->pad_token_id, err)) ||
        (rc = sl_nn_cfg_int(o, path, "mask_token_id", -1, -1, &cfg->mask_token_id, err)) ||
        (rc = sl_nn_cfg_real(o, path, "hidden_dropout_prob", 0.1, &b->hidden_dropout, err)) ||
        (rc = sl_nn_cfg_real(o, path, "attention_probs_dropout_prob", 0.1, &b->attn_dropout, err)) ||
        (rc = sl_nn_cfg_real(o, path, "layer_norm_eps", 1e-12, &b->ln_eps, err)) ||
        (rc = sl_nn_cfg_real(o, path, "initializer_range", 0.02, &b->init_range, err)) ||
        (rc = sl_nn_cfg_bool(o, path, "token_dropout", 0, &cfg->token_dropout, err)) ||
        (rc = sl_nn_cfg_bool(o, path, "emb_layer_norm_before", 0, &cfg->emb_ln_before, err)) ||
        (rc = sl_nn_cfg_bool(o, path, "add_bias_fnn", 1, &cfg->ffn_bias, err)))
        goto out;
    b->type_vocab = 1;
    b->classifier_dropout = b->hidden_dropout; /* EsmClassificationHead uses hidden_dropout_prob */
    cfg->gated_ffn = json_object_get(o, "add_bias_fnn") != NULL;
    if (b->hidden % b->heads || (b->hidden / b->heads) % 2) {
        rc = sl_err_set(
            err, SL_EDATA,
            "%s: hidden_size %d must be a multiple of num_attention_heads %d with an even head size", path,
            b->hidden, b->heads);
        goto out;
    }
    if (b->pad_token_id >= b->vocab_size || cfg->mask_token_id >= b->vocab_size) {
        rc = sl_err_set(err, SL_EDATA, "%s: pad_token_id %d / mask_token_id %d not below vocab_size %d", path,
                        b->pad_token_id, cfg->mask_token_id, b->vocab_size);
        goto out;
    }
    if (cfg->token_dropout && cfg->mask_token_id < 0) {
        rc = sl_err_set(err, SL_EDATA, "%s: token_dropout needs field 'mask_token_id'", path);
        goto out;
    }
    if (b->hidden_dropout >= 1 || b->attn_dropout >= 1) {
        rc = sl_err_set(err, SL_EDATA, "%s: dropout probabilities must be < 1", path);
        goto out;
    }
    rc = sl_nn_cfg_head(o, path, b, err);
out:
    json_decref(o);
    if (rc) sl_nn_bert_config_free(b);
    return rc;
}

/* ---- LoRA targets -------------------------------------------------------------------------- */

static const char *const esm_frozen[] = {"classifier.dense", "classifier.out_proj", NULL};
const sl_nn_adapter_layout sl_nn_esm_layout = {
    "esm.encoder.layer",
    sl_nn_module_paths,
    SL_NN_NMOD,
    "ESM",
    "target_modules: null (PEFT's per-model default) — name the modules",
    esm_frozen,
    "the ESM classifier (classifier.dense / out_proj), which is trained whole",
    "attention.output.dense, intermediate.dense and/or output.dense",
    "query, key, value, attention.output.dense, intermediate.dense, output.dense",
};

int sl_nn_esm_lora_targets(const char *const *names, size_t n, unsigned *targets, sl_err *err) {
    return sl_nn_family_lora_targets(&sl_nn_esm_layout, names, n, targets, err);
}

/* ---- weights ------------------------------------------------------------------------------- */

int sl_nn_esm_mod_out(const sl_nn_esm_config *c, int mod) {
    if (mod == SL_NN_MOD_INTER) return c->gated_ffn ? 2 * c->b.intermediate : c->b.intermediate;
    return c->b.hidden;
}
int sl_nn_esm_mod_in(const sl_nn_esm_config *c, int mod) {
    return mod == SL_NN_MOD_OUTPUT ? c->b.intermediate : c->b.hidden;
}

/* The frozen base, in its arena order: word (and position) embeddings, the embedding LayerNorm (read when
 * emb_layer_norm_before), emb_layer_norm_after; per layer the six Linears (weight, bias: NT v2's bias-free
 * FFN keeps the space, and its checkpoint must not have the biases) and the two LayerNorms. */
static int load_base(sl_nn_esm *m, const sl_nn_ckpt *ck, sl_err *err) {
    const sl_nn_esm_config *c = &m->cfg;
    const int64_t H = c->b.hidden;
    sl_nn_tensor_table t = {.ck = ck, .absent_why = "config.json says add_bias_fnn false"};
    int rc;
    if (!(m->layer = calloc((size_t)c->b.layers, sizeof *m->layer)))
        return sl_err_set(err, SL_ENOMEM, "out of memory for the base weights");
    if ((rc = sl_nn_base_add(&t, &m->word, SL_NN_BASE_READ, c->b.vocab_size, H, err,
                             "embeddings.word_embeddings.weight")) ||
        (!c->rotary && (rc = sl_nn_base_add(&t, &m->pos, SL_NN_BASE_READ, c->b.max_position, H, err,
                                            "embeddings.position_embeddings.weight"))) ||
        (rc = sl_nn_base_add_wb(&t, &m->emb_ln_w, &m->emb_ln_b,
                                c->emb_ln_before ? SL_NN_BASE_READ : SL_NN_BASE_KEEP, H, 0, err,
                                "embeddings.layer_norm")) ||
        (rc = sl_nn_base_add_wb(&t, &m->after_w, &m->after_b, SL_NN_BASE_READ, H, 0, err,
                                "encoder.emb_layer_norm_after")))
        goto out;
    static const char *const lns[2] = {"attention.LayerNorm", "LayerNorm"};
    for (int l = 0; l < c->b.layers; l++) {
        sl_nn_esm_layer *lw = &m->layer[l];
        for (int mod = 0; mod < SL_NN_NMOD; mod++) {
            const int in = sl_nn_esm_mod_in(c, mod), o = sl_nn_esm_mod_out(c, mod);
            const int biased = c->ffn_bias || (mod != SL_NN_MOD_INTER && mod != SL_NN_MOD_OUTPUT);
            if ((rc = sl_nn_base_add(&t, &lw->w[mod], SL_NN_BASE_READ, o, in, err,
                                     "encoder.layer.%d.%s.weight", l, sl_nn_module_path(mod))) ||
                (rc = sl_nn_base_add(&t, &lw->b[mod], biased ? SL_NN_BASE_READ : SL_NN_BASE_ABSENT, o, 0, err,
                                     "encoder.layer.%d.%s.bias", l, sl_nn_module_path(mod))))
                goto out;
        }
        if ((rc = sl_nn_base_add_wb(&t, &lw->ln1_w, &lw->ln1_b, SL_NN_BASE_READ, H, 0, err,
                                    "encoder.layer.%d.%s", l, lns[0])) ||
            (rc = sl_nn_base_add_wb(&t, &lw->ln2_w, &lw->ln2_b, SL_NN_BASE_READ, H, 0, err,
                                    "encoder.layer.%d.%s", l, lns[1])))
            goto out;
    }
out:
    return sl_nn_base_table_finish(&t, rc, &m->base_mem, &m->n_base, NULL, NULL, err);
}

/* LoRA A/B of the adapted Linears, then the whole classifier (PEFT's modules_to_save: dense, out_proj). */
static int setup_trainable(sl_nn_esm *m, uint64_t seed, sl_err *err) {
    const sl_nn_esm_config *c = &m->cfg;
    const int64_t H = c->b.hidden, C = c->b.num_labels;
    int in[SL_NN_NMOD], out[SL_NN_NMOD];
    for (int mod = 0; mod < SL_NN_NMOD; mod++)
        in[mod] = sl_nn_esm_mod_in(c, mod), out[mod] = sl_nn_esm_mod_out(c, mod);
    sl_nn_tensor_table t = {0};
    int rc =
        sl_nn_param_table_add_lora(&t, "base_model.model.esm.encoder.layer", c->b.layers, sl_nn_module_paths,
                                   SL_NN_NMOD, in, out, &m->spec, SL_NN_LORA_SLOTS(m->layer), err);
    if (!rc)
        rc = sl_nn_param_table_add(&t, "base_model.model.classifier.dense.weight", H, H, &m->cd_w, &m->gcd_w,
                                   err);
    if (!rc)
        rc = sl_nn_param_table_add(&t, "base_model.model.classifier.dense.bias", H, 0, &m->cd_b, &m->gcd_b,
                                   err);
    if (!rc)
        rc = sl_nn_param_table_add(&t, "base_model.model.classifier.out_proj.weight", C, H, &m->co_w,
                                   &m->gco_w, err);
    if (!rc)
        rc = sl_nn_param_table_add(&t, "base_model.model.classifier.out_proj.bias", C, 0, &m->co_b, &m->gco_b,
                                   err);
    return sl_nn_param_table_finish(&t, rc, seed, &m->params, &m->n_params, &m->n_train, &m->tparams,
                                    &m->tgrads, err);
}

/* The activation buffers in their order (sl_nn_bump: run once to measure, once to place). */
static void acts_layout(void *model, sl_nn_bump *b) {
    sl_nn_esm *m = model;
    const sl_nn_esm_config *c = &m->cfg;
    const size_t N = (size_t)m->max_batch * m->max_len, H = c->b.hidden, NI = c->b.intermediate,
                 IW = (size_t)sl_nn_esm_mod_out(c, SL_NN_MOD_INTER), r = m->spec.r, L = c->b.layers,
                 nh = c->b.heads, T = m->max_len, Bm = m->max_batch, C = c->b.num_labels;
    const size_t W = IW > H ? IW : H;
    size_t nact = m->training ? L : 1;
    size_t lwords[SL_NN_NMOD] = {0};
    for (int mod = 0; mod < SL_NN_NMOD; mod++)
        if ((m->spec.targets & (1u << mod)) && m->training && m->spec.dropout > 0)
            lwords[mod] = (N * (size_t)sl_nn_esm_mod_in(c, mod) + 63) / 64;
    size_t nhb = m->training ? L + 1 : 2;
#define TAKE(ptr, n) ((ptr) = sl_nn_bump_take(b, (n)))
    for (size_t l = 0; l < nact; l++) {
        sl_nn_esm_acts *a = &m->acts[l];
        TAKE(a->xl, N * H);
        TAKE(a->ln1_mean, N);
        TAKE(a->ln1_rstd, N);
        TAKE(a->q, N * H);
        TAKE(a->k, N * H);
        TAKE(a->v, N * H);
        TAKE(a->P, Bm * nh * T * T);
        TAKE(a->ctx, N * H);
        TAKE(a->a, N * H);
        TAKE(a->f, N * H);
        TAKE(a->ln2_mean, N);
        TAKE(a->ln2_rstd, N);
        TAKE(a->inter, N * IW);
        TAKE(a->g, N * NI);
        for (int mod = 0; mod < SL_NN_NMOD; mod++) {
            if (m->spec.targets & (1u << mod)) TAKE(a->u[mod], N * r);
            if (lwords[mod]) a->lkeep[mod] = sl_nn_bump_bits(b, lwords[mod]);
        }
    }
    for (size_t l = nact; l < L; l++) m->acts[l] = m->acts[0];
    for (size_t l = 0; l < nhb; l++) TAKE(m->h[l], N * H);
    for (size_t l = nhb; l <= L; l++) m->h[l] = m->h[l % 2];
    TAKE(m->fin, N * H);
    TAKE(m->fin_mean, N);
    TAKE(m->fin_rstd, N);
    TAKE(m->z, Bm * H);
    TAKE(m->zd, Bm * H);
    TAKE(m->logits, Bm * C);
    TAKE(m->dlogits, Bm * C);
    TAKE(m->xd, N * W);
    if (m->training) {
        TAKE(m->dh, N * H);
        TAKE(m->dh2, N * H);
        TAKE(m->dq, N * H);
        TAKE(m->dk, N * H);
        TAKE(m->dv, N * H);
        TAKE(m->dctx, N * H);
        TAKE(m->dtmp, N * H);
        TAKE(m->dI, N * W);
        TAKE(m->dg, N * NI);
        TAKE(m->du, N * r);
        TAKE(m->dwide, N * W);
    }
#undef TAKE
}

static int alloc_acts(sl_nn_esm *m, sl_err *err) {
    const size_t L = m->cfg.b.layers, N = (size_t)m->max_batch * m->max_len;
    m->acts = calloc(L, sizeof *m->acts);
    m->h = calloc(L + 1, sizeof *m->h);
    m->labels = malloc((size_t)m->max_batch * m->cfg.b.num_labels * sizeof(float));
    m->mask = malloc(N * sizeof(int32_t));
    return sl_nn_bump_alloc(acts_layout, m, &m->act_mem, m->acts && m->h && m->labels && m->mask,
                            m->max_batch, m->max_len, err);
}

static const float *esm_weight(const void *model, size_t i, int *in, int *out);

int sl_nn_esm_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                   uint64_t seed, int max_batch, int max_len, int training, sl_nn_esm **out, sl_err *err) {
    *out = NULL;
    int rc = sl_nn_family_check_args(spec, max_batch, max_len, err);
    if (rc) return rc;
    sl_nn_esm *m = calloc(1, sizeof *m);
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_st_file *st = NULL;
    char *path = sl_fs_join(model_dir, "config.json");
    if (!path) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    rc = sl_nn_esm_config_load(path, &m->cfg, err);
    free(path);
    sl_nn_esm_config *c = &m->cfg;
    if (rc || (rc = sl_nn_family_set_head(&c->b, head, err))) goto fail;
    /* absolute positions: the first token gets pad_token_id + 1 */
    if (!c->rotary && max_len > c->b.max_position - c->b.pad_token_id - 1)
        max_len = c->b.max_position - c->b.pad_token_id - 1;
    if (max_len < 2) {
        rc = sl_err_set(err, SL_EDATA, "%s: max_position_embeddings %d leaves no room for a sequence",
                        model_dir, c->b.max_position);
        goto fail;
    }
    m->spec = *spec;
    m->scaling = sl_nn_lora_scaling(spec);
    m->training = training;
    m->max_batch = max_batch;
    m->max_len = max_len;
    if ((rc = sl_nn_model_weights_open(model_dir, &st, err))) goto fail;
    if (c->rotary) {
        const size_t d = (size_t)(c->b.hidden / c->b.heads);
        m->cos_t = malloc((size_t)max_len * d * sizeof(float));
        m->sin_t = malloc((size_t)max_len * d * sizeof(float));
        if (!m->cos_t || !m->sin_t) {
            rc = sl_err_set(err, SL_ENOMEM, "out of memory for the base weights");
            goto fail;
        }
        sl_nn_k_rotary_tables(m->cos_t, m->sin_t, max_len, (int)d);
    }
    const sl_nn_ckpt ck = {st, "esm.", 0};
    if ((rc = load_base(m, &ck, err)) || (rc = setup_trainable(m, seed, err))) goto fail;
    /* the classifier: from the checkpoint when all four tensors fit, else drawn (dense, then out_proj) */
    const int64_t H = c->b.hidden, C = c->b.num_labels;
    const sl_nn_st_tensor *t[4] = {
        sl_nn_st_find(st, "classifier.dense.weight"), sl_nn_st_find(st, "classifier.dense.bias"),
        sl_nn_st_find(st, "classifier.out_proj.weight"), sl_nn_st_find(st, "classifier.out_proj.bias")};
    if (t[0] && t[1] && t[2] && t[3] && t[2]->ndim == 2 && t[2]->shape[0] == C && t[3]->ndim == 1 &&
        t[3]->shape[0] == C) {
        int64_t sh[4][2] = {{H, H}, {H, 0}, {C, H}, {C, 0}};
        float *dst[4] = {m->cd_w, m->cd_b, m->co_w, m->co_b};
        for (int i = 0; i < 4; i++)
            if ((rc = sl_nn_st_read_f32_shape(st, t[i]->name, i % 2 ? 1 : 2, sh[i], dst[i], err))) goto fail;
        m->head_loaded = 1;
    } else {
        sl_rng rh;
        sl_rng_init(&rh, seed, 3);
        sl_nn_draw_normal(m->cd_w, (size_t)(H * H), c->b.init_range, &rh);
        sl_nn_draw_normal(m->co_w, (size_t)(C * H), c->b.init_range, &rh);
    }
    sl_nn_st_close(st);
    st = NULL;
    if ((rc = alloc_acts(m, err))) goto fail;
    /* fp32 GEMMs through oneDNN where it is faster (gemm_onednn.h); if it refuses, OpenBLAS runs them */
    sl_err ignored = {0};
    if (sl_nn_dnnl_fp32_active())
        (void)sl_nn_lora_dnnl_make(&m->wmats, (size_t)c->b.layers * SL_NN_NMOD, esm_weight, m, m->training,
                                   SL_NN_DNNL_FP32, &ignored);
    *out = m;
    return 0;
fail:
    sl_nn_st_close(st);
    sl_nn_esm_free(m);
    return rc;
}

void sl_nn_esm_free(sl_nn_esm *m) {
    if (!m) return;
    sl_nn_bert_config_free(&m->cfg.b);
    free(m->base_mem);
    free(m->layer);
    free(m->tparams);
    free(m->tgrads);
    free(m->params);
    free(m->cos_t);
    free(m->sin_t);
    free(m->act_mem);
    free(m->acts);
    free(m->h);
    free(m->scratch);
    free(m->labels);
    free(m->mask);
    sl_nn_lora_dnnl_free(&m->wmats);
    free(m);
}

/* slot l * SL_NN_NMOD + mod of sl_nn_esm.wmats */
static const float *esm_weight(const void *model, size_t i, int *in, int *out) {
    const sl_nn_esm *m = model;
    const int mod = (int)(i % SL_NN_NMOD);
    *in = sl_nn_esm_mod_in(&m->cfg, mod);
    *out = sl_nn_esm_mod_out(&m->cfg, mod);
    return m->layer[i / SL_NN_NMOD].w[mod];
}

int sl_nn_esm_use_bf16(sl_nn_esm *m, sl_err *err) {
    if (m->wmats.bf16) return 0;
    return sl_nn_lora_dnnl_make(&m->wmats, (size_t)m->cfg.b.layers * SL_NN_NMOD, esm_weight, m, m->training,
                                SL_NN_DNNL_BF16, err);
}

const sl_nn_esm_config *sl_nn_esm_get_config(const sl_nn_esm *m) {
    return &m->cfg;
}
const sl_nn_lora_spec *sl_nn_esm_get_spec(const sl_nn_esm *m) {
    return &m->spec;
}
int sl_nn_esm_head_loaded(const sl_nn_esm *m) {
    return m->head_loaded;
}
size_t sl_nn_esm_n_total(const sl_nn_esm *m) {
    const sl_nn_esm_config *c = &m->cfg;
    const size_t H = c->b.hidden, I = c->b.intermediate, L = c->b.layers, C = c->b.num_labels;
    const size_t IW = (size_t)sl_nn_esm_mod_out(c, SL_NN_MOD_INTER), fb = c->ffn_bias ? 1 : 0;
    size_t n = (size_t)c->b.vocab_size * H + (size_t)c->b.max_position * H + (c->emb_ln_before ? 2 * H : 0);
    n += L * (4 * (H * H + H) + 4 * H + IW * H + fb * IW + I * H + fb * H);
    n += 2 * H + L * (size_t)c->b.heads + 1; /* emb_layer_norm_after, contact_head.regression */
    n += H * H + H + C * H + C;              /* the original classifier */
    return n + m->n_train;
}
float *sl_nn_esm_train_params(sl_nn_esm *m) {
    return m->tparams;
}
float *sl_nn_esm_train_grads(sl_nn_esm *m) {
    return m->tgrads;
}
size_t sl_nn_esm_n_train(const sl_nn_esm *m) {
    return m->n_train;
}
const sl_nn_param *sl_nn_esm_params(const sl_nn_esm *m, size_t *n) {
    *n = m->n_params;
    return m->params;
}
const float *sl_nn_esm_logits(const sl_nn_esm *m) {
    return m->logits;
}
void sl_nn_esm_zero_grad(sl_nn_esm *m) {
    memset(m->tgrads, 0, m->n_train * sizeof(float));
}

/* ---- PEFT adapters ------------------------------------------------------------------------- */

int sl_nn_esm_adapter_write(const sl_nn_esm *m, const float *params, const char *dir, const char *base_name,
                            sl_err *err) {
    static const char *const mts[2] = {"classifier", "score"};
    return sl_nn_family_adapter_write(m->params, m->n_params, params ? params : m->tparams, &m->spec,
                                      sl_nn_module_paths, SL_NN_NMOD, mts, 2, dir, base_name, err);
}

int sl_nn_esm_adapter_load_weights(sl_nn_esm *m, const char *dir, sl_err *err) {
    return sl_nn_family_adapter_load(m->params, m->n_params, m->tparams, dir, err);
}
