/* The MLM head, its loss and the k-mer span masking (see mlm.h). */
#include "mlm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_impl.h"
#include "parallel.h"
#include "safetensors.h"
#include "torch_pickle.h"
#include "util/rng.h"

static const char *const tensor_names[SL_NN_MLM_NT] = {
    "cls.predictions.transform.dense.weight",
    "cls.predictions.transform.dense.bias",
    "cls.predictions.transform.LayerNorm.weight",
    "cls.predictions.transform.LayerNorm.bias",
    "cls.predictions.bias",
};

static float rng_normal(sl_rng *r) {
    double u1 = sl_rng_uniform(r), u2 = sl_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

int sl_nn_mlm_head_init(sl_nn_mlm_head *h, int H, int V, float ln_eps, float init_range, uint64_t seed,
                        sl_err *err) {
    memset(h, 0, sizeof *h);
    h->H = H;
    h->V = V;
    h->ln_eps = ln_eps;
    const size_t sizes[SL_NN_MLM_NT] = {(size_t)H * H, (size_t)H, (size_t)H, (size_t)H, (size_t)V};
    size_t off = 0;
    for (int i = 0; i < SL_NN_MLM_NT; i++) {
        sl_nn_param *p = &h->tensors[i];
        snprintf(p->name, sizeof p->name, "%s", tensor_names[i]);
        p->ndim = i == SL_NN_MLM_DENSE_W ? 2 : 1;
        p->shape[0] = i == SL_NN_MLM_BIAS ? V : H;
        p->shape[1] = i == SL_NN_MLM_DENSE_W ? H : 0;
        p->numel = sizes[i];
        p->offset = off;
        off += sizes[i];
    }
    h->n = off;
    h->params = calloc(off, sizeof(float));
    h->grads = calloc(off, sizeof(float));
    if (!h->params || !h->grads) {
        sl_nn_mlm_head_free(h);
        return sl_err_set(err, SL_ENOMEM, "out of memory for the MLM head");
    }
    sl_rng r;
    sl_rng_init(&r, seed, 4);
    float *w = h->params + h->tensors[SL_NN_MLM_DENSE_W].offset;
    for (size_t i = 0; i < (size_t)H * H; i++) w[i] = rng_normal(&r) * init_range;
    float *lw = h->params + h->tensors[SL_NN_MLM_LN_W].offset;
    for (int i = 0; i < H; i++) lw[i] = 1.0f;
    return 0;
}

/* The stored name of head tensor i: the transformers name, or the old gamma/beta LayerNorm one. */
static const char *stored_name(const sl_nn_st_file *st, int i, char *buf, size_t n) {
    if (sl_nn_st_find(st, tensor_names[i])) return tensor_names[i];
    if (i == SL_NN_MLM_LN_W || i == SL_NN_MLM_LN_B) {
        snprintf(buf, n, "cls.predictions.transform.LayerNorm.%s", i == SL_NN_MLM_LN_W ? "gamma" : "beta");
        if (sl_nn_st_find(st, buf)) return buf;
    }
    return NULL;
}

int sl_nn_mlm_head_load(sl_nn_mlm_head *h, const char *model_dir, int *loaded, sl_err *err) {
    *loaded = 0;
    sl_nn_st_file *st = NULL;
    int rc = sl_nn_model_weights_open(model_dir, &st, err);
    if (rc) return rc;
    char buf[SL_NN_MLM_NT][96];
    int have = 1;
    for (int i = 0; i < SL_NN_MLM_NT; i++) have &= stored_name(st, i, buf[i], sizeof buf[i]) != NULL;
    if (have) {
        for (int i = 0; i < SL_NN_MLM_NT && !rc; i++) {
            const sl_nn_param *p = &h->tensors[i];
            rc = sl_nn_st_read_f32_shape(st, stored_name(st, i, buf[i], sizeof buf[i]), p->ndim, p->shape,
                                         h->params + p->offset, err);
        }
        if (!rc) *loaded = 1;
    }
    sl_nn_st_close(st);
    return rc;
}

static void free_acts(sl_nn_mlm_head *h) {
    free(h->pos);
    free(h->target);
    free(h->x);
    free(h->pre);
    free(h->gel);
    free(h->mean);
    free(h->rstd);
    free(h->t);
    free(h->dlogits);
    free(h->tmp);
    h->pos = h->target = NULL;
    h->x = h->pre = h->gel = h->mean = h->rstd = h->t = h->dlogits = h->tmp = NULL;
    h->cap = 0;
}

void sl_nn_mlm_head_free(sl_nn_mlm_head *h) {
    if (!h) return;
    free(h->params);
    free(h->grads);
    h->params = h->grads = NULL;
    free_acts(h);
}

static int reserve(sl_nn_mlm_head *h, int rows, sl_err *err) {
    if (rows <= h->cap) return 0;
    free_acts(h);
    const size_t R = (size_t)rows, H = (size_t)h->H, V = (size_t)h->V;
    h->pos = malloc(R * sizeof(int32_t));
    h->target = malloc(R * sizeof(int32_t));
    h->x = malloc(R * H * sizeof(float));
    h->pre = malloc(R * H * sizeof(float));
    h->gel = malloc(R * H * sizeof(float));
    h->mean = malloc(R * sizeof(float));
    h->rstd = malloc(R * sizeof(float));
    h->t = malloc(R * H * sizeof(float));
    h->dlogits = malloc(R * V * sizeof(float));
    h->tmp = malloc(R * H * sizeof(float));
    if (!h->pos || !h->target || !h->x || !h->pre || !h->gel || !h->mean || !h->rstd || !h->t ||
        !h->dlogits || !h->tmp) {
        free_acts(h);
        return sl_err_set(err, SL_ENOMEM, "out of memory for the MLM head activations (%d rows)", rows);
    }
    h->cap = rows;
    return 0;
}

#define P(h, i) ((h)->params + (h)->tensors[i].offset)
#define G(h, i) ((h)->grads + (h)->tensors[i].offset)

void sl_nn_mlm_logits(const sl_nn_mlm_head *h, const float *word, float *out) {
    const int R = h->rows, H = h->H, V = h->V;
    sl_nn_sgemm(0, 1, R, V, H, 1.0f, h->t, H, word, H, 0.0f, out, V);
    const float *bias = P(h, SL_NN_MLM_BIAS);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) out[(size_t)r * V + v] += bias[v];
}

int sl_nn_mlm_forward(sl_nn_mlm_head *h, const float *hidden, const float *word, const int32_t *labels, int N,
                      float *loss, sl_err *err) {
    const int H = h->H, V = h->V;
    int rows = 0;
    for (int i = 0; i < N; i++) {
        if (labels[i] == -100) continue;
        if (labels[i] < 0 || labels[i] >= V)
            return sl_err_set(err, SL_EDATA, "MLM label %d at position %d out of range (vocab %d)", labels[i],
                              i, V);
        rows++;
    }
    if (!rows) return sl_err_set(err, SL_EDATA, "the batch has no masked token to predict");
    int rc = reserve(h, rows, err);
    if (rc) return rc;
    h->rows = rows;
    h->N = N;
    for (int i = 0, r = 0; i < N; i++)
        if (labels[i] != -100) {
            h->pos[r] = i;
            h->target[r] = labels[i];
            memcpy(h->x + (size_t)r * H, hidden + (size_t)i * H, (size_t)H * sizeof(float));
            r++;
        }
    sl_nn_k_linear(h->pre, h->x, P(h, SL_NN_MLM_DENSE_W), P(h, SL_NN_MLM_DENSE_B), rows, H, H);
    sl_nn_k_gelu(h->gel, h->pre, (size_t)rows * H);
    sl_nn_k_layernorm(h->t, h->mean, h->rstd, h->gel, P(h, SL_NN_MLM_LN_W), P(h, SL_NN_MLM_LN_B), rows, H,
                      h->ln_eps);
    sl_nn_mlm_logits(h, word, h->dlogits);
    double total = 0;
    for (int r = 0; r < rows; r++) {
        float *row = h->dlogits + (size_t)r * V;
        float mx = row[0];
        for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
        double s = 0;
        for (int v = 0; v < V; v++) s += exp((double)row[v] - mx);
        const double lse = mx + log(s);
        total += lse - row[h->target[r]];
        for (int v = 0; v < V; v++) row[v] = (float)((exp(row[v] - lse) - (v == h->target[r])) / rows);
    }
    *loss = (float)(total / rows);
    if (!isfinite(*loss)) return sl_err_set(err, SL_EDATA, "the MLM loss is not finite (%g)", *loss);
    return 0;
}

void sl_nn_mlm_backward(sl_nn_mlm_head *h, const float *word, float *gword, float *dhidden) {
    const int R = h->rows, H = h->H, V = h->V;
    float *gb = G(h, SL_NN_MLM_BIAS);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) gb[v] += h->dlogits[(size_t)r * V + v];
    sl_nn_sgemm(1, 0, V, H, R, 1.0f, h->dlogits, V, h->t, H, 1.0f, gword, H); /* tied decoder */
    float *dt = h->tmp;
    sl_nn_sgemm(0, 0, R, H, V, 1.0f, h->dlogits, V, word, H, 0.0f, dt, H);
    /* LayerNorm: parameter gradients, then the input gradient (into pre's gradient buffer) */
    float *glw = G(h, SL_NN_MLM_LN_W), *glb = G(h, SL_NN_MLM_LN_B);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < H; j++) {
            const size_t i = (size_t)r * H + j;
            glw[j] += dt[i] * ((h->gel[i] - h->mean[r]) * h->rstd[r]);
            glb[j] += dt[i];
        }
    float *dpre = h->t; /* t is no longer needed */
    sl_nn_k_layernorm_bwd(dpre, dt, h->gel, h->mean, h->rstd, P(h, SL_NN_MLM_LN_W), R, H, 0);
    sl_nn_k_gelu_bwd(dpre, dpre, h->pre, (size_t)R * H);
    sl_nn_sgemm(1, 0, H, H, R, 1.0f, dpre, H, h->x, H, 1.0f, G(h, SL_NN_MLM_DENSE_W), H);
    float *gdb = G(h, SL_NN_MLM_DENSE_B);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < H; j++) gdb[j] += dpre[(size_t)r * H + j];
    sl_nn_sgemm(0, 0, R, H, H, 1.0f, dpre, H, P(h, SL_NN_MLM_DENSE_W), H, 0.0f, dt, H);
    memset(dhidden, 0, (size_t)h->N * H * sizeof(float));
    for (int r = 0; r < R; r++)
        memcpy(dhidden + (size_t)h->pos[r] * H, dt + (size_t)r * H, H * sizeof(float));
}

/* ---- masking ------------------------------------------------------------------------------- */

static int is_special(const sl_nn_mlm_mask_opts *o, int32_t id) {
    for (int i = 0; i < o->n_special; i++)
        if (o->special[i] == id) return 1;
    return 0;
}

int sl_nn_mlm_mask(const sl_nn_mlm_mask_opts *o, const int32_t *ids, const int32_t *mask, int B, int T,
                   uint64_t seed, uint64_t micro, int32_t *out_ids, int32_t *labels) {
    const size_t N = (size_t)B * T;
    const int span = o->span > 0 ? o->span : 1, lo = -((span - 1) / 2), hi = span / 2;
    const double pc = o->probability / span;
    sl_rng r;
    sl_rng_init(&r, seed, (5ull << 48) + micro);
    memcpy(out_ids, ids, N * sizeof(int32_t));
    for (size_t i = 0; i < N; i++) labels[i] = -100;
    int first = -1;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const size_t i = (size_t)b * T + t;
            const int ok = mask[i] && !is_special(o, ids[i]);
            const double u = sl_rng_uniform(&r); /* drawn for every position: a fixed number of draws */
            if (!ok) continue;
            if (first < 0) first = (int)i;
            if (u >= pc) continue;
            for (int d = lo; d <= hi; d++) {
                const int tt = t + d;
                if (tt < 0 || tt >= T) continue;
                const size_t j = (size_t)b * T + tt;
                if (mask[j] && !is_special(o, ids[j])) labels[j] = ids[j];
            }
        }
    int n = 0;
    for (size_t i = 0; i < N; i++) n += labels[i] != -100;
    if (!n && first >= 0) {
        const int b = first / T, t = first % T;
        for (int d = lo; d <= hi; d++) {
            const int tt = t + d;
            if (tt < 0 || tt >= T) continue;
            const size_t j = (size_t)b * T + tt;
            if (mask[j] && !is_special(o, ids[j])) labels[j] = ids[j], n++;
        }
    }
    const uint32_t nreg = (uint32_t)(o->vocab_size - o->first_regular);
    for (size_t i = 0; i < N; i++) {
        const double u1 = sl_rng_uniform(&r), u2 = sl_rng_uniform(&r);
        const uint32_t rnd = sl_rng_u32(&r);
        if (labels[i] == -100) continue;
        if (u1 < 0.8)
            out_ids[i] = o->mask_id;
        else if (u2 < 0.5 && nreg > 0)
            out_ids[i] = o->first_regular + (int32_t)(rnd % nreg);
    }
    return n;
}
