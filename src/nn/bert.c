/* Loading a BERT checkpoint, setting up LoRA and the trainable arena, allocating the activations. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_impl.h"
#include "family_common.h"
#include "safetensors.h"
#include "torch_pickle.h"
#include "util/fs.h"

const char *const sl_nn_module_paths[SL_NN_NMOD] = {
    "attention.self.query",   "attention.self.key", "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense",
};

const char *sl_nn_module_path(int m) {
    return m >= 0 && m < SL_NN_NMOD ? sl_nn_module_paths[m] : NULL;
}

static const char *const bert_frozen[] = {"bert.pooler.dense", NULL};
const sl_nn_adapter_layout sl_nn_bert_layout = {
    "bert.encoder.layer",
    sl_nn_module_paths,
    SL_NN_NMOD,
    "BERT",
    "target_modules: null (PEFT's per-model default) — name the modules",
    bert_frozen,
    "bert.pooler.dense, which seqlora does not do",
    "attention.output.dense, intermediate.dense and/or output.dense",
    "query, key, value, attention.output.dense, intermediate.dense, output.dense",
};

int sl_nn_lora_targets(const char *const *names, size_t n, unsigned *targets, sl_err *err) {
    return sl_nn_family_lora_targets(&sl_nn_bert_layout, names, n, targets, err);
}

static int mod_in(const sl_nn_bert_config *c, int mod) {
    return mod == SL_NN_MOD_OUTPUT ? c->intermediate : c->hidden;
}
static int mod_out(const sl_nn_bert_config *c, int mod) {
    return mod == SL_NN_MOD_INTER ? c->intermediate : c->hidden;
}

static int wmats_make(sl_nn_bert *m, sl_nn_dnnl_type type, sl_err *err);

/* ---- weights -------------------------------------------------------------------------------- */

/* The frozen base, in its arena order: the embeddings; per layer the six Linears (weight, bias) and the two
 * LayerNorms; the pooler last when it is not trained (read with the head). The table's tensors stay as the
 * named views of full-weight mode ("bert." + the BertModel name). */
static int load_base(sl_nn_bert *m, const sl_nn_ckpt *ck, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    const int64_t H = c->hidden;
    sl_nn_tensor_table t = {.ck = ck};
    int rc;
    if (!(m->layer = calloc((size_t)c->layers, sizeof *m->layer)))
        return sl_err_set(err, SL_ENOMEM, "out of memory for the base weights");
    if ((rc = sl_nn_base_add_bert_embeddings(&t, c, &m->word, &m->pos, &m->type, &m->emb_ln_w, &m->emb_ln_b,
                                             err)))
        goto out;
    for (int l = 0; l < c->layers; l++) {
        sl_nn_layer_w *lw = &m->layer[l];
        for (int mod = 0; mod < SL_NN_NMOD; mod++)
            if ((rc = sl_nn_base_add_wb(&t, &lw->w[mod], &lw->b[mod], SL_NN_BASE_READ, mod_out(c, mod),
                                        mod_in(c, mod), err, "encoder.layer.%d.%s", l,
                                        sl_nn_module_paths[mod])))
                goto out;
        if ((rc = sl_nn_base_add_wb(&t, &lw->ln1_w, &lw->ln1_b, SL_NN_BASE_READ, H, 0, err,
                                    "encoder.layer.%d.attention.output.LayerNorm", l)) ||
            (rc = sl_nn_base_add_wb(&t, &lw->ln2_w, &lw->ln2_b, SL_NN_BASE_READ, H, 0, err,
                                    "encoder.layer.%d.output.LayerNorm", l)))
            goto out;
    }
    if (!m->spec.train_pooler &&
        (rc = sl_nn_base_add_wb(&t, &m->pool_w, &m->pool_b, SL_NN_BASE_KEEP, H, H, err, "pooler.dense")))
        goto out;
out:
    return sl_nn_base_table_finish(&t, rc, &m->base_mem, &m->n_base, &m->base_params, &m->n_base_params, err);
}

/* ---- the trainable arena ------------------------------------------------------------------- */

/* LoRA A/B of the adapted Linears, then the pooler when trained, then the classifier (PEFT's key order). */
static int setup_trainable(sl_nn_bert *m, uint64_t seed, sl_err *err) {
    int in[SL_NN_NMOD], out[SL_NN_NMOD];
    for (int mod = 0; mod < SL_NN_NMOD; mod++)
        in[mod] = mod_in(&m->cfg, mod), out[mod] = mod_out(&m->cfg, mod);
    return sl_nn_bert_cls_trainable(&m->cfg, &m->spec, sl_nn_module_paths, SL_NN_NMOD, in, out, seed,
                                    SL_NN_BERT_CLS_ARENA(m), err);
}

/* ---- activations --------------------------------------------------------------------------- */

/* The activation buffers in their order (sl_nn_bump: run once to measure, once to place). */
static void acts_layout(void *model, sl_nn_bump *b) {
    sl_nn_bert *m = model;
    const sl_nn_bert_config *c = &m->cfg;
    size_t N = (size_t)m->max_batch * m->max_len, H = c->hidden, NI = c->intermediate, r = m->spec.r;
    size_t W = H > NI ? H : NI, L = c->layers, nh = c->heads, T = m->max_len;
    size_t nact = m->training ? L : 1;
    const size_t keep_words =
        m->training && c->attn_dropout > 0 ? (size_t)m->max_batch * nh * ((T * T + 63) / 64) : 0;
    /* hidden / LoRA-input dropout masks, kept for the backward pass */
    const size_t hid_words = m->training && c->hidden_dropout > 0 ? (N * H + 63) / 64 : 0;
    size_t lora_words[SL_NN_NMOD] = {0};
    for (int mod = 0; mod < SL_NN_NMOD; mod++)
        if (m->training && m->spec.dropout > 0 && (m->spec.targets & (1u << mod)))
            lora_words[mod] = (N * (size_t)mod_in(c, mod) + 63) / 64;
    size_t nh_bufs = m->training ? L + 1 : 2;
#define TAKE(ptr, n) ((ptr) = sl_nn_bump_take(b, (n)))
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
        if (keep_words) a->keep = sl_nn_bump_bits(b, keep_words);
        if (hid_words) {
            a->ao_keep = sl_nn_bump_bits(b, hid_words);
            a->out_keep = sl_nn_bump_bits(b, hid_words);
        }
        for (int mod = 0; mod < SL_NN_NMOD; mod++)
            if (lora_words[mod]) a->lkeep[mod] = sl_nn_bump_bits(b, lora_words[mod]);
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
}

static int alloc_acts(sl_nn_bert *m, sl_err *err) {
    const size_t L = m->cfg.layers, N = (size_t)m->max_batch * m->max_len;
    m->acts = calloc(L, sizeof *m->acts);
    m->h = calloc(L + 1, sizeof *m->h);
    int rc = sl_nn_bump_alloc(acts_layout, m, &m->act_mem, m->acts && m->h, m->max_batch, m->max_len, err);
    if (rc) return rc;
    m->labels = malloc((size_t)m->max_batch * m->cfg.num_labels * sizeof(float));
    m->mask_copy = malloc(N * sizeof(int32_t));
    if (!m->labels || !m->mask_copy) return sl_err_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

/* ---- load ---------------------------------------------------------------------------------- */

int sl_nn_bert_load(const char *model_dir, const sl_nn_bert_config *head, const sl_nn_lora_spec *spec,
                    uint64_t seed, int max_batch, int max_len, int training, sl_nn_bert **out, sl_err *err) {
    *out = NULL;
    int rc = sl_nn_family_check_args(spec, max_batch, max_len, err);
    if (rc) return rc;
    sl_nn_bert *m = calloc(1, sizeof *m);
    if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_nn_st_file *st = NULL;
    char *path = sl_fs_join(model_dir, "config.json");
    if (!path) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    rc = sl_nn_bert_config_load(path, &m->cfg, err);
    free(path);
    if (rc || (rc = sl_nn_family_set_head(&m->cfg, head, err))) goto fail;
    sl_nn_bert_config *c = &m->cfg;
    if (max_len > c->max_position) max_len = c->max_position;
    m->spec = *spec;
    m->scaling = sl_nn_lora_scaling(spec);
    m->training = training;
    m->max_batch = max_batch;
    m->max_len = max_len;
    /* model.safetensors, pytorch_model.bin (converted in memory) or a sharded checkpoint */
    if ((rc = sl_nn_model_weights_open(model_dir, &st, err))) goto fail;
    const sl_nn_ckpt ck = {st, "bert.", 1};
    const int pooler_missing = !sl_nn_ckpt_has(&ck, "pooler.dense.weight");
    if (pooler_missing) m->spec.train_pooler = 1; /* drawn, then trained: it travels with the adapter */
    if ((rc = load_base(m, &ck, err)) || (rc = setup_trainable(m, seed, err)) ||
        (rc = sl_nn_bert_head_load(&ck, c->hidden, c->num_labels, c->init_range, seed, pooler_missing,
                                   SL_NN_BERT_HEAD_SLOTS(m), &m->head_loaded, err)))
        goto fail;
    sl_nn_st_close(st);
    st = NULL;
    if ((rc = alloc_acts(m, err))) goto fail;
    /* fp32 GEMMs through oneDNN where it is faster (gemm_onednn.h); if it refuses, OpenBLAS runs them */
    sl_err ignored = {0};
    if (sl_nn_dnnl_fp32_active()) (void)wmats_make(m, SL_NN_DNNL_FP32, &ignored);
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

static void wmats_free(sl_nn_dnnl_mat **fwd, sl_nn_dnnl_mat **bwd, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (fwd) sl_nn_dnnl_mat_free(fwd[i]);
        if (bwd) sl_nn_dnnl_mat_free(bwd[i]);
    }
    free(fwd);
    free(bwd);
}

/* The frozen encoder Linears as oneDNN operands of `type`, for y = x W^T and, for a training model,
 * dx = dy W; they replace the current ones only when all were made. */
static int wmats_make(sl_nn_bert *m, sl_nn_dnnl_type type, sl_err *err) {
    const size_t n = (size_t)m->cfg.layers * SL_NN_NMOD;
    sl_nn_dnnl_mat **fwd = calloc(n, sizeof *fwd), **bwd = m->training ? calloc(n, sizeof *bwd) : NULL;
    int rc =
        !fwd || (m->training && !bwd) ? sl_err_set(err, SL_ENOMEM, "out of memory for the GEMM operands") : 0;
    for (int l = 0; l < m->cfg.layers && !rc; l++)
        for (int mod = 0; mod < SL_NN_NMOD && !rc; mod++) {
            const size_t i = (size_t)l * SL_NN_NMOD + mod;
            const int in = mod_in(&m->cfg, mod), out = mod_out(&m->cfg, mod);
            rc = sl_nn_dnnl_mat_create(m->layer[l].w[mod], in, out, 1, type, &fwd[i], err);
            if (!rc && bwd) rc = sl_nn_dnnl_mat_create(m->layer[l].w[mod], out, in, 0, type, &bwd[i], err);
        }
    if (rc) {
        wmats_free(fwd, bwd, n);
        return rc;
    }
    wmats_free(m->w_fwd, m->w_bwd, n);
    m->w_fwd = fwd, m->w_bwd = bwd;
    m->bf16 = type == SL_NN_DNNL_BF16;
    return 0;
}

int sl_nn_bert_use_bf16(sl_nn_bert *m, sl_err *err) {
    if (m->bf16) return 0;
    if (m->base_grad)
        return sl_err_set(err, SL_EUSAGE, "bf16 mode needs frozen base weights (not full-weight training)");
    return wmats_make(m, SL_NN_DNNL_BF16, err);
}

int sl_nn_bert_is_bf16(const sl_nn_bert *m) {
    return m->bf16;
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
    wmats_free(m->w_fwd, m->w_bwd, (size_t)m->cfg.layers * SL_NN_NMOD);
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

int sl_nn_bert_enable_full_grad(sl_nn_bert *m, sl_err *err) {
    if (m->base_grad) return 0;
    if (m->bf16)
        return sl_err_set(err, SL_EUSAGE, "full-weight training is fp32 only (the model is in bf16 mode)");
    if (!m->training) return sl_err_set(err, SL_EINTERNAL, "full-weight gradients need a training model");
    m->base_grad = calloc(m->n_base, sizeof(float));
    m->ids_copy = malloc((size_t)m->max_batch * m->max_len * sizeof(int32_t));
    if (!m->base_grad || !m->ids_copy) {
        free(m->base_grad);
        free(m->ids_copy);
        m->base_grad = NULL;
        m->ids_copy = NULL;
        return sl_err_set(err, SL_ENOMEM, "out of memory for the base-weight gradients");
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
