/* Backend selection and the run-time loading of the CUDA module (see backend.h). */
#include "backend.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bert_impl.h"
#include "gemm_onednn.h"
#include "dnabert2_impl.h"
#include "esm_impl.h"
#include "model.h"
#include "util/fs.h"

int sl_nn_device_parse(const char *s, sl_nn_device *out, sl_err *err) {
    if (!s) s = "";
    if (!strcmp(s, "auto")) {
        *out = (sl_nn_device){SL_NN_DEVICE_AUTO, -1};
        return 0;
    }
    if (!strcmp(s, "cpu")) {
        *out = (sl_nn_device){SL_NN_DEVICE_CPU, -1};
        return 0;
    }
    if (!strcmp(s, "cuda")) {
        *out = (sl_nn_device){SL_NN_DEVICE_CUDA, -1};
        return 0;
    }
    if (!strncmp(s, "cuda:", 5) && s[5] >= '0' && s[5] <= '9') {
        char *end = NULL;
        long v = strtol(s + 5, &end, 10);
        if (*end == '\0' && v >= 0 && v < 1024) {
            *out = (sl_nn_device){SL_NN_DEVICE_CUDA, (int)v};
            return 0;
        }
    }
    return sl_err_set(err, SL_EUSAGE, "--device: '%s' is not a device (expected auto, cpu, cuda or cuda:N)",
                      s);
}

const char *sl_nn_device_format(const sl_nn_device *d, char *buf, size_t n) {
    if (d->kind == SL_NN_DEVICE_AUTO)
        snprintf(buf, n, "auto");
    else if (d->kind == SL_NN_DEVICE_CPU)
        snprintf(buf, n, "cpu");
    else
        snprintf(buf, n, "cuda:%d", d->index < 0 ? 0 : d->index);
    return buf;
}

int sl_nn_precision_parse(const char *s, int *out, sl_err *err) {
    static const char *const names[] = {"fp32", "bf16", "fp16"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return sl_err_set(err, SL_EUSAGE, "--precision: '%s' is not a precision (expected fp32, bf16 or fp16)",
                      s ? s : "");
}

const char *sl_nn_precision_name(int p) {
    return p == SL_CUDA_BF16 ? "bf16" : p == SL_CUDA_FP16 ? "fp16" : "fp32";
}

/* ---- loading the module ---- */

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const sl_cuda_api *loaded;
static char load_why[1024];

static const char *const MODULE = "libseqlora_cuda.so";

/* Copy src into dst[n], truncated. */
static void copy_str(char *dst, size_t n, const char *src) {
    if (!n) return;
    size_t l = strlen(src);
    if (l >= n) l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static void *try_open(const char *path, char *why, size_t n) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h && why[0] == '\0') {
        const char *e = dlerror();
        copy_str(why, n, e ? e : path);
    }
    return h;
}

static void load_module(void) {
    char why[sizeof load_why - 64] = "";
    const char *env = getenv("SEQLORA_CUDA_MODULE");
    void *h = NULL;
    if (env && *env) {
        if (!strcmp(env, "none")) {
            snprintf(load_why, sizeof load_why, "disabled by SEQLORA_CUDA_MODULE=none");
            return;
        }
        h = try_open(env, why, sizeof why);
    } else {
        char exe[PATH_MAX], path[PATH_MAX + 64];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len > 0) {
            exe[len] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash) *slash = '\0';
            static const char *const rel[] = {"", "/../lib/seqlora", "/../lib"};
            for (size_t i = 0; i < sizeof rel / sizeof *rel && !h; i++) {
                snprintf(path, sizeof path, "%s%s/%s", exe, rel[i], MODULE);
                if (access(path, R_OK) == 0) h = try_open(path, why, sizeof why);
            }
        }
#ifdef SEQLORA_CUDA_BUILD_DIR
        if (!h) {
            snprintf(path, sizeof path, "%s/%s", SEQLORA_CUDA_BUILD_DIR, MODULE);
            if (access(path, R_OK) == 0) h = try_open(path, why, sizeof why);
        }
#endif
        if (!h) h = try_open(MODULE, why, sizeof why);
    }
    if (!h) {
        snprintf(load_why, sizeof load_why, "cannot load the CUDA module: %s", why);
        return;
    }
    sl_cuda_get_api_fn get = NULL;
    *(void **)&get = dlsym(h, "sl_cuda_get_api");
    const sl_cuda_api *api = get ? get() : NULL;
    if (!api || api->abi != SL_CUDA_ABI) {
        snprintf(load_why, sizeof load_why, "the CUDA module has ABI %d, this program needs %d",
                 api ? api->abi : -1, SL_CUDA_ABI);
        dlclose(h);
        return;
    }
    loaded = api; /* the handle stays open for the life of the process */
}

const sl_cuda_api *sl_nn_cuda_api(char *why, size_t why_len) {
    pthread_once(&load_once, load_module);
    if (!loaded && why) copy_str(why, why_len, load_why);
    return loaded;
}

int sl_nn_device_resolve(const sl_nn_device *req, sl_nn_device *out, char *note, size_t note_len,
                         sl_err *err) {
    if (note && note_len) note[0] = '\0';
    if (req->kind == SL_NN_DEVICE_CPU) {
        *out = *req;
        return 0;
    }
    char why[1024] = "";
    int n = 0;
    const sl_cuda_api *api = sl_nn_cuda_api(why, sizeof why);
    sl_err e2 = {0};
    if (api && api->device_count(&n, &e2))
        copy_str(why, sizeof why, e2.msg);
    else if (api && n == 0)
        snprintf(why, sizeof why, "no CUDA device is visible (driver missing or no GPU)");
    if (req->kind == SL_NN_DEVICE_AUTO) {
        if (api && n > 0) {
            *out = (sl_nn_device){SL_NN_DEVICE_CUDA, 0};
            return 0;
        }
        *out = (sl_nn_device){SL_NN_DEVICE_CPU, -1};
        if (note && note_len) snprintf(note, note_len, "using the CPU: %s", why);
        return 0;
    }
    int idx = req->index < 0 ? 0 : req->index;
    if (!api || n == 0) return sl_err_set(err, SL_EUSAGE, "--device cuda: %s", why);
    if (idx >= n)
        return sl_err_set(err, SL_EUSAGE, "--device cuda:%d: only %d CUDA device(s) visible", idx, n);
    *out = (sl_nn_device){SL_NN_DEVICE_CUDA, idx};
    return 0;
}

static _Atomic int cuda_ordinal;

void sl_nn_cuda_set_ordinal(int ordinal) {
    cuda_ordinal = ordinal < 0 ? 0 : ordinal;
}

int sl_nn_cuda_ordinal(void) {
    return cuda_ordinal;
}

int sl_nn_device_select(const char *device, const char *precision, sl_nn_device *out, int *prec, char *note,
                        size_t note_len, sl_err *err) {
    sl_nn_device req;
    int rc;
    if (note && note_len) note[0] = '\0';
    if ((rc = sl_nn_device_parse(device ? device : "auto", &req, err)) ||
        (rc = sl_nn_precision_parse(precision ? precision : "fp32", prec, err)))
        return rc;
    char bf16_why[256] = "";
    const int cpu_bf16 = sl_nn_bf16_supported(bf16_why, sizeof bf16_why);
    if (req.kind == SL_NN_DEVICE_CPU && *prec == SL_CUDA_FP16)
        return sl_err_set(err, SL_EUSAGE,
                          "--precision fp16: the CPU engine runs fp32 or bf16 (use --device cuda for fp16)");
    if (req.kind == SL_NN_DEVICE_CPU && *prec == SL_CUDA_BF16 && !cpu_bf16)
        return sl_err_set(err, SL_EUSAGE, "--precision bf16 on the CPU: %s (use fp32, or --device cuda)",
                          bf16_why);
    char why[1200] = "";
    if ((rc = sl_nn_device_resolve(&req, out, why, sizeof why, err))) return rc;
    if (out->kind == SL_NN_DEVICE_CPU && *prec != SL_CUDA_FP32 && !(*prec == SL_CUDA_BF16 && cpu_bf16)) {
        size_t l = strlen(why);
        snprintf(why + l, sizeof why - l, "; --precision %s does not run on this CPU, running fp32",
                 sl_nn_precision_name(*prec));
        *prec = SL_CUDA_FP32;
    }
    if (note && note_len) copy_str(note, note_len, why);
    return 0;
}

const char *sl_nn_backends_describe(char *buf, size_t n) {
    size_t len = 0;
    char bf16_why[256] = "";
    const char *fp32 = sl_nn_dnnl_fp32_active() ? "oneDNN" : "OpenBLAS";
    if (sl_nn_bf16_supported(bf16_why, sizeof bf16_why))
        len += (size_t)snprintf(buf, n, "cpu (fp32 GEMMs: %s; bf16: oneDNN)\n", fp32);
    else
        len += (size_t)snprintf(buf, n, "cpu (fp32 GEMMs: %s; bf16: no, %s)\n", fp32, bf16_why);
    char why[1024] = "";
    const sl_cuda_api *api = sl_nn_cuda_api(why, sizeof why);
    int count = 0;
    sl_err err = {0};
    if (api && api->device_count(&count, &err) == 0 && count == 0)
        snprintf(why, sizeof why, "no CUDA device is visible; %s", api->build);
    for (int i = 0; api && i < count && len < n; i++) {
        char name[256] = "";
        size_t mem = 0;
        int ma = 0, mi = 0;
        if (api->device_info(i, name, sizeof name, &mem, &ma, &mi, &err)) continue;
        len += (size_t)snprintf(buf + len, n - len, "cuda:%d %s, %.1f GiB, sm_%d%d (%s)\n", i, name,
                                (double)mem / (1 << 30), ma, mi, api->build);
    }
    if ((!api || count == 0) && len < n) snprintf(buf + len, n - len, "cuda: not usable (%s)\n", why);
    return buf;
}

/* ---- the model description ---- */

/* The three arrays of a description of L layers and n_params trainable tensors; LoRA offsets all -1. */
static int desc_alloc(sl_nn_cuda_desc *out, size_t L, size_t n_params, sl_err *err) {
    memset(out, 0, sizeof *out);
    out->layer_ptrs = calloc(L * SL_CUDA_LAYER_PTRS + 1, sizeof *out->layer_ptrs);
    out->offs = calloc(2 * L * SL_NN_NMOD + 1, sizeof *out->offs);
    out->sizes = calloc(n_params + 1, sizeof *out->sizes);
    if (!out->layer_ptrs || !out->offs || !out->sizes) {
        sl_nn_cuda_desc_free(out);
        return sl_err_set(err, SL_ENOMEM, "out of memory for the CUDA model description");
    }
    for (size_t i = 0; i < 2 * L * SL_NN_NMOD; i++) out->offs[i] = -1;
    out->d.layer = out->layer_ptrs;
    out->d.lora_a_off = out->offs;
    out->d.lora_b_off = out->offs + L * SL_NN_NMOD;
    return 0;
}

/* The clip norm walks the arena as consecutive tensors: the params table must tile it in order. */
static int desc_tensors(sl_nn_cuda_desc *out, const sl_nn_param *params, size_t n_params, sl_err *err) {
    size_t off = 0;
    for (size_t i = 0; i < n_params; i++) {
        if (params[i].offset != off) {
            sl_nn_cuda_desc_free(out);
            return sl_err_set(err, SL_EINTERNAL, "trainable tensor %s is not at arena offset %zu",
                              params[i].name, off);
        }
        out->sizes[i] = params[i].numel;
        off += params[i].numel;
    }
    out->d.tensor_sizes = out->sizes;
    out->d.n_tensors = n_params;
    return 0;
}

/* The fields every family shares: the config's sizes and dropouts, LoRA, capacity, mode, the arena. */
static void desc_fill(sl_cuda_desc *d, const sl_nn_bert_config *c, const sl_nn_lora_spec *spec, float scaling,
                      int max_batch, int max_len, int training, int precision, const float *tparams,
                      size_t n_train) {
    d->vocab = c->vocab_size;
    d->hidden = c->hidden;
    d->layers = c->layers;
    d->heads = c->heads;
    d->inter = c->intermediate;
    d->max_pos = c->max_position;
    d->num_labels = c->num_labels;
    d->problem = (int)c->problem;
    d->ln_eps = c->ln_eps;
    d->hidden_dropout = c->hidden_dropout;
    d->attn_dropout = c->attn_dropout;
    d->cls_dropout = c->classifier_dropout;
    d->lora_r = spec->r;
    d->lora_scaling = scaling;
    d->lora_dropout = spec->dropout;
    d->max_batch = max_batch;
    d->max_len = max_len;
    d->precision = precision;
    d->training = training;
    d->tparams = tparams;
    d->n_train = n_train;
}

/* Layer l's pointers (nmod Linears, then the two LayerNorms) and LoRA offsets. */
static void desc_layer(sl_nn_cuda_desc *out, size_t l, int nmod, float *const *w, float *const *b,
                       float *const *la, float *const *lb, const float *ln1_w, const float *ln1_b,
                       const float *ln2_w, const float *ln2_b) {
    const float **p = out->layer_ptrs + l * SL_CUDA_LAYER_PTRS;
    const size_t L = (size_t)out->d.layers;
    for (int k = 0; k < nmod; k++) {
        p[k] = w[k];
        p[SL_NN_NMOD + k] = b[k];
        out->offs[l * SL_NN_NMOD + (size_t)k] = la[k] ? la[k] - out->d.tparams : -1;
        out->offs[(L + l) * SL_NN_NMOD + (size_t)k] = lb[k] ? lb[k] - out->d.tparams : -1;
    }
    p[12] = ln1_w;
    p[13] = ln1_b;
    p[14] = ln2_w;
    p[15] = ln2_b;
}

/* The BERT-style head: the classifier in the arena, the pooler trained (in the arena) or frozen. */
static void desc_head(sl_cuda_desc *d, const float *cls_w, const float *cls_b, int pool_trained,
                      const float *pool_w, const float *pool_b) {
    d->cls_w_off = cls_w - d->tparams;
    d->cls_b_off = cls_b - d->tparams;
    d->pool_w_off = pool_trained ? pool_w - d->tparams : -1;
    d->pool_b_off = pool_trained ? pool_b - d->tparams : -1;
    d->pool_w = pool_trained ? NULL : pool_w;
    d->pool_b = pool_trained ? NULL : pool_b;
}

int sl_nn_cuda_desc_from_bert(const sl_nn_bert *m, int precision, sl_nn_cuda_desc *out, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    int rc = desc_alloc(out, (size_t)c->layers, m->n_params, err);
    if (rc) return rc;
    sl_cuda_desc *d = &out->d;
    desc_fill(d, c, &m->spec, m->scaling, m->max_batch, m->max_len, m->training, precision, m->tparams,
              m->n_train);
    d->family = SL_CUDA_FAMILY_BERT;
    d->word = m->word;
    d->pos = m->pos;
    d->type = m->type;
    d->emb_ln_w = m->emb_ln_w;
    d->emb_ln_b = m->emb_ln_b;
    for (int l = 0; l < c->layers; l++) {
        const sl_nn_layer_w *lw = &m->layer[l];
        desc_layer(out, (size_t)l, SL_NN_NMOD, lw->w, lw->b, lw->lora_a, lw->lora_b, lw->ln1_w, lw->ln1_b,
                   lw->ln2_w, lw->ln2_b);
    }
    desc_head(d, m->cls_w, m->cls_b, m->spec.train_pooler, m->pool_w, m->pool_b);
    return desc_tensors(out, m->params, m->n_params, err);
}

int sl_nn_cuda_desc_from_esm(const sl_nn_esm *m, int precision, sl_nn_cuda_desc *out, sl_err *err) {
    const sl_nn_esm_config *c = &m->cfg;
    const sl_nn_bert_config *b = &c->b;
    int rc = desc_alloc(out, (size_t)b->layers, m->n_params, err);
    if (rc) return rc;
    sl_cuda_desc *d = &out->d;
    desc_fill(d, b, &m->spec, m->scaling, m->max_batch, m->max_len, m->training, precision, m->tparams,
              m->n_train);
    d->family = SL_CUDA_FAMILY_ESM;
    /* rotary models have no position table: the capacity is the only bound */
    if (c->rotary && m->max_len > b->max_position) d->max_pos = m->max_len;
    d->cls_dropout = 0; /* EsmClassificationHead's dropouts use hidden_dropout_prob, refused in training */
    d->word = m->word;
    d->pos = c->rotary ? NULL : m->pos;
    d->emb_ln_w = c->emb_ln_before ? m->emb_ln_w : NULL;
    d->emb_ln_b = c->emb_ln_before ? m->emb_ln_b : NULL;
    for (int l = 0; l < b->layers; l++) {
        const sl_nn_esm_layer *lw = &m->layer[l];
        desc_layer(out, (size_t)l, SL_NN_NMOD, lw->w, lw->b, lw->lora_a, lw->lora_b, lw->ln1_w, lw->ln1_b,
                   lw->ln2_w, lw->ln2_b);
    }
    /* classifier.out_proj is the classifier, classifier.dense (+ tanh) a trained pooler */
    desc_head(d, m->co_w, m->co_b, 1, m->cd_w, m->cd_b);
    d->rotary = c->rotary;
    d->token_dropout = c->token_dropout;
    d->mask_token_id = c->mask_token_id;
    d->pad_token_id = b->pad_token_id;
    d->emb_ln_before = c->emb_ln_before;
    d->gated_ffn = c->gated_ffn;
    d->after_w = m->after_w;
    d->after_b = m->after_b;
    d->rot_cos = c->rotary ? m->cos_t : NULL;
    d->rot_sin = c->rotary ? m->sin_t : NULL;
    return desc_tensors(out, m->params, m->n_params, err);
}

int sl_nn_cuda_desc_from_dnabert2(const sl_nn_dnabert2 *m, int precision, sl_nn_cuda_desc *out, sl_err *err) {
    const sl_nn_bert_config *c = &m->cfg;
    int rc = desc_alloc(out, (size_t)c->layers, m->n_params, err);
    if (rc) return rc;
    sl_cuda_desc *d = &out->d;
    desc_fill(d, c, &m->spec, m->scaling, m->max_batch, m->max_len, m->training, precision, m->tparams,
              m->n_train);
    d->family = SL_CUDA_FAMILY_DNABERT2;
    if (m->max_len > c->max_position) d->max_pos = m->max_len; /* ALiBi: no position table */
    d->word = m->word;
    d->type = m->type; /* token type 0 */
    d->emb_ln_w = m->emb_ln_w;
    d->emb_ln_b = m->emb_ln_b;
    for (int l = 0; l < c->layers; l++) {
        const sl_nn_d2_layer *lw = &m->layer[l];
        desc_layer(out, (size_t)l, SL_NN_D2_NMOD, lw->w, lw->b, lw->lora_a, lw->lora_b, lw->ln1_w, lw->ln1_b,
                   lw->ln2_w, lw->ln2_b);
    }
    desc_head(d, m->cls_w, m->cls_b, m->spec.train_pooler, m->pool_w, m->pool_b);
    d->alibi_slopes = m->slopes;
    return desc_tensors(out, m->params, m->n_params, err);
}

int sl_nn_cuda_desc_from_model(sl_nn_model *m, int precision, sl_nn_cuda_desc *out, sl_err *err) {
    switch (sl_nn_model_get_family(m)) {
        case SL_NN_FAMILY_ESM:
            return sl_nn_cuda_desc_from_esm(sl_nn_model_esm(m), precision, out, err);
        case SL_NN_FAMILY_DNABERT2:
            return sl_nn_cuda_desc_from_dnabert2(sl_nn_model_dnabert2(m), precision, out, err);
        default:
            return sl_nn_cuda_desc_from_bert(sl_nn_model_bert(m), precision, out, err);
    }
}

void sl_nn_cuda_desc_free(sl_nn_cuda_desc *d) {
    free(d->layer_ptrs);
    free(d->offs);
    free(d->sizes);
    d->layer_ptrs = NULL;
    d->offs = NULL;
    d->sizes = NULL;
}

/* ---- a CPU-engine model on a CUDA device ---- */

/* The wrapper around a filled description (owned by the wrapper from here on, also on failure). */
static int wrapper_create(sl_nn_cuda_desc *desc, int device, int precision, sl_nn_cuda_bert **out,
                          sl_err *err) {
    *out = NULL;
    char why[1024] = "";
    const sl_cuda_api *api = sl_nn_cuda_api(why, sizeof why);
    sl_nn_cuda_bert *cb = api ? calloc(1, sizeof *cb) : NULL;
    if (!cb) {
        sl_nn_cuda_desc_free(desc);
        return api ? sl_err_set(err, SL_ENOMEM, "out of memory")
                   : sl_err_set(err, SL_EUSAGE, "CUDA backend: %s", why);
    }
    cb->api = api;
    cb->precision = precision;
    cb->desc = *desc;
    sl_nn_loss_scaler_init(&cb->scaler, 65536.0f, 2000);
    int rc = api->create(&cb->desc.d, device, &cb->dev, err);
    if (rc) {
        sl_nn_cuda_bert_free(cb);
        return rc;
    }
    *out = cb;
    return 0;
}

int sl_nn_cuda_model_create(sl_nn_model *m, int device, int precision, sl_nn_cuda_bert **out, sl_err *err) {
    *out = NULL;
    sl_nn_cuda_desc desc;
    int rc = sl_nn_cuda_desc_from_model(m, precision, &desc, err);
    return rc ? rc : wrapper_create(&desc, device, precision, out, err);
}

int sl_nn_cuda_model_to_host(sl_nn_cuda_bert *cb, sl_nn_model *m, sl_nn_adamw *opt, sl_err *err) {
    const size_t n = sl_nn_model_n_train(m);
    if (n != cb->desc.d.n_train || (opt && opt->n != n))
        return sl_err_set(err, SL_EINTERNAL, "arena of %zu floats (optimizer %zu) for a device arena of %zu",
                          n, opt ? opt->n : n, cb->desc.d.n_train);
    return cb->api->get_train(cb->dev, sl_nn_model_train_params(m), NULL, opt ? opt->m : NULL,
                              opt ? opt->v : NULL, err);
}

int sl_nn_cuda_model_from_host(sl_nn_cuda_bert *cb, sl_nn_model *m, const sl_nn_adamw *opt, sl_err *err) {
    const size_t n = sl_nn_model_n_train(m);
    if (n != cb->desc.d.n_train || (opt && opt->n != n))
        return sl_err_set(err, SL_EINTERNAL, "arena of %zu floats (optimizer %zu) for a device arena of %zu",
                          n, opt ? opt->n : n, cb->desc.d.n_train);
    return cb->api->set_train(cb->dev, sl_nn_model_train_params(m), NULL, opt ? opt->m : NULL,
                              opt ? opt->v : NULL, err);
}

int sl_nn_cuda_bert_create(const sl_nn_bert *m, int device, int precision, sl_nn_cuda_bert **out,
                           sl_err *err) {
    *out = NULL;
    sl_nn_cuda_desc desc;
    int rc = sl_nn_cuda_desc_from_bert(m, precision, &desc, err);
    return rc ? rc : wrapper_create(&desc, device, precision, out, err);
}

void sl_nn_cuda_bert_free(sl_nn_cuda_bert *cb) {
    if (!cb) return;
    if (cb->dev) cb->api->destroy(cb->dev);
    sl_nn_cuda_desc_free(&cb->desc);
    free(cb);
}

int sl_nn_cuda_bert_forward(sl_nn_cuda_bert *cb, const int32_t *ids, const int32_t *mask, int B, int T,
                            const float *labels, const sl_nn_dropout *drop, float *loss, sl_err *err) {
    return cb->api->forward(cb->dev, ids, mask, B, T, labels, drop != NULL, drop ? drop->seed : 0,
                            drop ? drop->micro : 0, loss, err);
}

int sl_nn_cuda_bert_backward(sl_nn_cuda_bert *cb, float loss_scale, sl_err *err) {
    if (cb->precision == SL_CUDA_FP16) loss_scale *= cb->scaler.scale;
    return cb->api->backward(cb->dev, loss_scale, err);
}

int sl_nn_cuda_bert_zero_grad(sl_nn_cuda_bert *cb, sl_err *err) {
    return cb->api->zero_grad(cb->dev, err);
}

int sl_nn_cuda_bert_logits(sl_nn_cuda_bert *cb, float *logits, sl_err *err) {
    return cb->api->get_logits(cb->dev, logits, err);
}

int sl_nn_cuda_bert_step(sl_nn_cuda_bert *cb, sl_nn_adamw *opt, double lr, double max_norm, double *norm,
                         int *taken, sl_err *err) {
    int rc, finite = 1;
    *taken = 0;
    if (cb->precision == SL_CUDA_FP16 && (rc = cb->api->scale_grads(cb->dev, 1.0f / cb->scaler.scale, err)))
        return rc;
    if ((rc = cb->api->clip_grad_norm(cb->dev, max_norm, norm, &finite, err))) return rc;
    if (cb->precision == SL_CUDA_FP16) {
        if (!sl_nn_loss_scaler_update(&cb->scaler, finite)) return 0;
    } else if (!finite) {
        return sl_err_set(err, SL_EDATA, "a gradient is not finite (norm %g)", *norm);
    }
    if ((rc = cb->api->adamw(cb->dev, lr, opt->beta1, opt->beta2, opt->eps, opt->weight_decay, opt->t + 1,
                             err)))
        return rc;
    opt->t++;
    *taken = 1;
    return 0;
}

int sl_nn_cuda_bert_to_host(sl_nn_cuda_bert *cb, sl_nn_bert *m, sl_nn_adamw *opt, sl_err *err) {
    if (opt && opt->n != m->n_train)
        return sl_err_set(err, SL_EINTERNAL, "optimizer of %zu floats for an arena of %zu", opt->n,
                          m->n_train);
    return cb->api->get_train(cb->dev, m->tparams, NULL, opt ? opt->m : NULL, opt ? opt->v : NULL, err);
}

int sl_nn_cuda_bert_from_host(sl_nn_cuda_bert *cb, const sl_nn_bert *m, const sl_nn_adamw *opt, sl_err *err) {
    if (opt && opt->n != m->n_train)
        return sl_err_set(err, SL_EINTERNAL, "optimizer of %zu floats for an arena of %zu", opt->n,
                          m->n_train);
    return cb->api->set_train(cb->dev, m->tparams, NULL, opt ? opt->m : NULL, opt ? opt->v : NULL, err);
}

int sl_nn_cuda_bert_memory(sl_nn_cuda_bert *cb, sl_cuda_mem *mem, sl_err *err) {
    return cb->api->memory(cb->dev, mem, err);
}

/* ---- fp16 loss scaling ---- */

void sl_nn_loss_scaler_init(sl_nn_loss_scaler *s, float init_scale, int interval) {
    s->scale = init_scale > 0 ? init_scale : 65536.0f;
    s->interval = interval > 0 ? interval : 2000;
    s->good = 0;
    s->skipped = 0;
}

int sl_nn_loss_scaler_update(sl_nn_loss_scaler *s, int finite) {
    if (!finite) {
        s->scale *= 0.5f;
        s->good = 0;
        s->skipped++;
        return 0;
    }
    if (++s->good >= s->interval) {
        s->scale *= 2.0f;
        s->good = 0;
    }
    return 1;
}
