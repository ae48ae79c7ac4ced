/* The parts of loading a model that every family shares (family_common.h): argument checks, tensor names,
 * reading checkpoint tensors under a family's naming, the classification head's draws. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "family_common.h"

int sl_nn_family_check_args(const sl_nn_lora_spec *spec, int max_batch, int max_len, sl_err *err) {
    if (!spec || spec->r < 1 || spec->r > 4096 || !(spec->alpha > 0) || spec->dropout < 0 ||
        spec->dropout >= 1)
        return sl_err_set(err, SL_EUSAGE, "LoRA: r must be 1..4096, alpha > 0 and dropout in [0, 1)");
    if (max_batch < 1 || max_len < 2)
        return sl_err_set(err, SL_EUSAGE, "batch size and max length must be positive");
    return 0;
}

float sl_nn_lora_scaling(const sl_nn_lora_spec *spec) {
    return spec->use_rslora ? spec->alpha / sqrtf((float)spec->r) : spec->alpha / (float)spec->r;
}

int sl_nn_family_set_head(sl_nn_bert_config *cfg, const sl_nn_bert_config *head, sl_err *err) {
    if (!head) return 0;
    return sl_nn_bert_config_set_head(cfg, head->num_labels, (const char *const *)head->labels, head->problem,
                                      err);
}

/* ---- checkpoint tensors -------------------------------------------------------------------------- */

enum { CAND_LEN = 320 };

/* The names `name` may have in the checkpoint, most specific first; returns how many (2 to 4), or 0 when
 * the name is too long to hold. */
static int candidates(const sl_nn_ckpt *ck, const char *name, char cand[4][CAND_LEN]) {
    size_t len = strlen(name);
    if (strlen(ck->prefix) + len + 8 > CAND_LEN) return 0;
    int nc = 0;
    snprintf(cand[nc++], CAND_LEN, "%s%s", ck->prefix, name);
    snprintf(cand[nc++], CAND_LEN, "%s", name);
    if (ck->legacy_ln && strstr(name, "LayerNorm.")) {
        const char *alt = NULL;
        size_t cut = 0;
        if (len > 7 && !strcmp(name + len - 7, ".weight"))
            alt = ".gamma", cut = 7;
        else if (len > 5 && !strcmp(name + len - 5, ".bias"))
            alt = ".beta", cut = 5;
        if (alt) {
            snprintf(cand[nc++], CAND_LEN, "%s%.*s%s", ck->prefix, (int)(len - cut), name, alt);
            snprintf(cand[nc++], CAND_LEN, "%.*s%s", (int)(len - cut), name, alt);
        }
    }
    return nc;
}

int sl_nn_ckpt_has(const sl_nn_ckpt *ck, const char *name) {
    char cand[4][CAND_LEN];
    if (!candidates(ck, name, cand)) return 0;
    return sl_nn_st_find(ck->st, cand[0]) || sl_nn_st_find(ck->st, cand[1]);
}

int sl_nn_ckpt_read(const sl_nn_ckpt *ck, const char *name, int64_t d0, int64_t d1, float *dst, sl_err *err) {
    const int64_t shape[2] = {d0, d1};
    char cand[4][CAND_LEN];
    int nc = candidates(ck, name, cand);
    if (!nc) return sl_err_set(err, SL_EINTERNAL, "tensor name '%.60s...' is too long", name);
    for (int i = 0; i < nc; i++)
        if (sl_nn_st_find(ck->st, cand[i]))
            return sl_nn_st_read_f32_shape(ck->st, cand[i], d1 ? 2 : 1, shape, dst, err);
    if (ck->legacy_ln)
        return sl_err_set(err, SL_EDATA, "%s: no tensor %s (nor %s)", sl_nn_st_path(ck->st), name, cand[0]);
    if (d1)
        return sl_err_set(err, SL_EDATA, "%s: no tensor %s (expected shape [%lld, %lld])",
                          sl_nn_st_path(ck->st), cand[0], (long long)d0, (long long)d1);
    return sl_err_set(err, SL_EDATA, "%s: no tensor %s (expected shape [%lld])", sl_nn_st_path(ck->st),
                      cand[0], (long long)d0);
}

/* ---- heads ----------------------------------------------------------------------------------------- */

float sl_nn_rng_normal(sl_rng *r) {
    double u1 = sl_rng_uniform(r), u2 = sl_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void sl_nn_draw_normal(float *x, size_t n, float std, sl_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = sl_nn_rng_normal(r) * std;
}

int sl_nn_bert_head_load(const sl_nn_ckpt *ck, int64_t H, int64_t C, float init_range, uint64_t seed,
                         int pooler_missing, sl_nn_bert_head_slots s, int *loaded, sl_err *err) {
    int rc;
    sl_rng rh;
    sl_rng_init(&rh, seed, 3);
    *loaded = 0;
    if (!pooler_missing) {
        if ((rc = sl_nn_ckpt_read(ck, "pooler.dense.weight", H, H, *s.pool_w, err)) ||
            (rc = sl_nn_ckpt_read(ck, "pooler.dense.bias", H, 0, *s.pool_b, err)))
            return rc;
    } else {
        sl_nn_draw_normal(*s.pool_w, (size_t)(H * H), init_range, &rh);
    }
    const sl_nn_st_tensor *cw = sl_nn_st_find(ck->st, "classifier.weight"),
                          *cb = sl_nn_st_find(ck->st, "classifier.bias");
    if (cw && cb && cw->ndim == 2 && cw->shape[0] == C && cw->shape[1] == H && cb->ndim == 1 &&
        cb->shape[0] == C) {
        if ((rc = sl_nn_st_tensor_to_f32(ck->st, cw, *s.cls_w, (size_t)(C * H), err)) ||
            (rc = sl_nn_st_tensor_to_f32(ck->st, cb, *s.cls_b, (size_t)C, err)))
            return rc;
        *loaded = 1;
    } else {
        sl_nn_draw_normal(*s.cls_w, (size_t)(C * H), init_range, &rh);
    }
    return 0;
}
