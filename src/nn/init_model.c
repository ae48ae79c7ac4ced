/* A randomly initialised BERT base for k-mer DNA (see init_model.h). */
#include "init_model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family_common.h"
#include "safetensors.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/rng.h"

void sl_nn_init_spec_default(sl_nn_init_spec *s) {
    s->kmer = 6;
    s->hidden = 64;
    s->layers = 2;
    s->heads = 4;
    s->intermediate = 256;
    s->max_position = 512;
    s->init_range = 0.02;
    s->seed = 42;
}

int sl_nn_init_spec_check(const sl_nn_init_spec *s, sl_err *err) {
    if (s->kmer < 3 || s->kmer > 8)
        return sl_err_set(err, SL_EUSAGE, "init-model: kmer: expected 3..8, got %d", s->kmer);
    if (s->heads < 1 || s->heads > 256)
        return sl_err_set(err, SL_EUSAGE, "init-model: num_attention_heads: expected 1..256, got %d",
                          s->heads);
    if (s->hidden < 1 || s->hidden > 8192 || s->hidden % s->heads)
        return sl_err_set(
            err, SL_EUSAGE,
            "init-model: hidden_size: expected 1..8192 and a multiple of num_attention_heads (%d), "
            "got %d",
            s->heads, s->hidden);
    if (s->layers < 1 || s->layers > 128)
        return sl_err_set(err, SL_EUSAGE, "init-model: num_hidden_layers: expected 1..128, got %d",
                          s->layers);
    if (s->intermediate < 1 || s->intermediate > 65536)
        return sl_err_set(err, SL_EUSAGE, "init-model: intermediate_size: expected 1..65536, got %d",
                          s->intermediate);
    if (s->max_position < 3 || s->max_position > 65536)
        return sl_err_set(err, SL_EUSAGE, "init-model: max_position_embeddings: expected 3..65536, got %d",
                          s->max_position);
    if (!(s->init_range > 0 && s->init_range < 10))
        return sl_err_set(err, SL_EUSAGE,
                          "init-model: initializer_range: expected a value in (0, 10), got %g",
                          s->init_range);
    return 0;
}

/* One normal(0, 1) number by Box-Muller from two uniforms of the stream (u1 in (0, 1]). */
static float normal01(sl_rng *r) {
    double u1 = 1.0 - sl_rng_uniform(r), u2 = sl_rng_uniform(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

typedef struct tensors {
    sl_nn_st_wtensor *t;
    char **names;
    int64_t (*shapes)[2];
    float **data;
    size_t n, cap;
} tensors;

static void tensors_free(tensors *ts) {
    for (size_t i = 0; i < ts->n; i++) {
        free(ts->names[i]);
        free(ts->data[i]);
    }
    free(ts->t);
    free(ts->names);
    free(ts->shapes);
    free(ts->data);
}

enum { FILL_NORMAL, FILL_ZERO, FILL_ONE };

/* Append one tensor [d0] (d1 == 0) or [d0, d1], filled as asked. */
static int add(tensors *ts, sl_rng *r, double range, const char *name, int64_t d0, int64_t d1, int fill,
               sl_err *err) {
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 32;
        void *a = realloc(ts->names, cap * sizeof *ts->names), *b = NULL, *c = NULL;
        if (a) ts->names = a;
        b = a ? realloc(ts->shapes, cap * sizeof *ts->shapes) : NULL;
        if (b) ts->shapes = b;
        c = b ? realloc(ts->data, cap * sizeof *ts->data) : NULL;
        if (c) ts->data = c;
        if (!c) return sl_err_set(err, SL_ENOMEM, "out of memory");
        ts->cap = cap;
    }
    size_t numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    float *v = malloc(numel * sizeof *v);
    char *nm = strdup(name);
    if (!v || !nm) {
        free(v);
        free(nm);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < numel; i++)
        v[i] = fill == FILL_NORMAL ? (float)(normal01(r) * range) : fill == FILL_ONE ? 1.0f : 0.0f;
    ts->names[ts->n] = nm;
    ts->data[ts->n] = v;
    ts->shapes[ts->n][0] = d0;
    ts->shapes[ts->n][1] = d1;
    ts->n++;
    return 0;
}

/* "<prefix>.weight" [d0, d1] ([d0] when d1 == 0) filled as asked and "<prefix>.bias" [d0] zero: a Linear
 * [out, in] (weight normal) or a LayerNorm [h] (weight one). */
static int add_wb(tensors *ts, sl_rng *r, double range, const char *prefix, int d0, int d1, int fill_w,
                  sl_err *err) {
    char name[160];
    int rc = sl_nn_tensor_name(name, sizeof name, err, "%s.weight", prefix);
    if (!rc) rc = add(ts, r, range, name, d0, d1, fill_w, err);
    if (!rc) rc = sl_nn_tensor_name(name, sizeof name, err, "%s.bias", prefix);
    return rc ? rc : add(ts, r, range, name, d0, 0, FILL_ZERO, err);
}

static int add_linear(tensors *ts, sl_rng *r, double range, const char *prefix, int out, int in,
                      sl_err *err) {
    return add_wb(ts, r, range, prefix, out, in, FILL_NORMAL, err);
}

static int add_layernorm(tensors *ts, const char *prefix, int h, sl_err *err) {
    return add_wb(ts, NULL, 0, prefix, h, 0, FILL_ONE, err);
}

static int vocab_size(int k) {
    return 5 + (1 << (2 * k));
}

static int write_vocab(const char *dir, int k, sl_err *err) {
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    size_t n = (size_t)1 << (2 * k), len = 0;
    char *buf = malloc(64 + n * (size_t)(k + 1));
    if (!buf) return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (int i = 0; i < 5; i++) len += (size_t)sprintf(buf + len, "%s\n", specials[i]);
    for (size_t w = 0; w < n; w++) { /* itertools.product("ATCG", repeat=k): the last base varies fastest */
        for (int j = 0; j < k; j++) buf[len + (size_t)j] = "ATCG"[(w >> (2 * (k - 1 - j))) & 3];
        buf[len + (size_t)k] = '\n';
        len += (size_t)k + 1;
    }
    char *path = sl_fs_join(dir, "vocab.txt");
    int rc = path ? sl_fs_write_atomic(path, buf, len, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(path);
    free(buf);
    return rc;
}

static int write_json(const char *dir, const char *name, json_t *v, sl_err *err) {
    char *path = sl_fs_join(dir, name);
    int rc = !v || !path ? sl_err_set(err, SL_ENOMEM, "out of memory") : sl_json_write_file(path, v, 1, err);
    free(path);
    json_decref(v);
    return rc;
}

static int write_config(const sl_nn_init_spec *s, const char *dir, sl_err *err) {
    json_t *c = json_pack(
        "{s:[s], s:f, s:n, s:s, s:f, s:i, s:f, s:i, s:f, s:i, s:s, s:i, s:i, s:i, s:s, s:i, s:b, s:i}",
        "architectures", "BertModel", "attention_probs_dropout_prob", 0.1, "classifier_dropout", "hidden_act",
        "gelu", "hidden_dropout_prob", 0.1, "hidden_size", s->hidden, "initializer_range", s->init_range,
        "intermediate_size", s->intermediate, "layer_norm_eps", 1e-12, "max_position_embeddings",
        s->max_position, "model_type", "bert", "num_attention_heads", s->heads, "num_hidden_layers",
        s->layers, "pad_token_id", 0, "position_embedding_type", "absolute", "type_vocab_size", 2,
        "use_cache", 1, "vocab_size", vocab_size(s->kmer));
    return write_json(dir, "config.json", c, err);
}

int sl_nn_init_model_write(const sl_nn_init_spec *s, const char *dir, sl_err *err) {
    int rc = sl_nn_init_spec_check(s, err);
    if (rc) return rc;
    int H = s->hidden, V = vocab_size(s->kmer);
    double R = s->init_range;
    sl_rng r;
    sl_rng_init(&r, s->seed, 1);
    tensors ts = {0};
    char p[160];
    rc = add(&ts, &r, R, "embeddings.word_embeddings.weight", V, H, FILL_NORMAL, err);
    if (!rc) memset(ts.data[ts.n - 1], 0, (size_t)H * sizeof(float)); /* padding_idx = 0 */
    if (!rc)
        rc = add(&ts, &r, R, "embeddings.position_embeddings.weight", s->max_position, H, FILL_NORMAL, err);
    if (!rc) rc = add(&ts, &r, R, "embeddings.token_type_embeddings.weight", 2, H, FILL_NORMAL, err);
    if (!rc) rc = add_layernorm(&ts, "embeddings.LayerNorm", H, err);
    static const char *const attn[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                                       "attention.output.dense"};
    for (int l = 0; !rc && l < s->layers; l++) {
        for (int m = 0; !rc && m < 4; m++) {
            snprintf(p, sizeof p, "encoder.layer.%d.%s", l, attn[m]);
            rc = add_linear(&ts, &r, R, p, H, H, err);
        }
        snprintf(p, sizeof p, "encoder.layer.%d.attention.output.LayerNorm", l);
        if (!rc) rc = add_layernorm(&ts, p, H, err);
        snprintf(p, sizeof p, "encoder.layer.%d.intermediate.dense", l);
        if (!rc) rc = add_linear(&ts, &r, R, p, s->intermediate, H, err);
        snprintf(p, sizeof p, "encoder.layer.%d.output.dense", l);
        if (!rc) rc = add_linear(&ts, &r, R, p, H, s->intermediate, err);
        snprintf(p, sizeof p, "encoder.layer.%d.output.LayerNorm", l);
        if (!rc) rc = add_layernorm(&ts, p, H, err);
    }
    if (!rc) rc = add_linear(&ts, &r, R, "pooler.dense", H, H, err);
    if (!rc) {
        ts.t = calloc(ts.n, sizeof *ts.t);
        if (!ts.t) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < ts.n; i++)
        ts.t[i] =
            (sl_nn_st_wtensor){ts.names[i], SL_NN_ST_F32, ts.shapes[i][1] ? 2 : 1, ts.shapes[i], ts.data[i]};
    if (!rc) {
        static const char *const meta[] = {"format", "pt", NULL};
        char *path = sl_fs_join(dir, "model.safetensors");
        rc = path ? sl_nn_st_write(path, ts.t, ts.n, meta, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
        free(path);
    }
    tensors_free(&ts);
    if (!rc) rc = write_config(s, dir, err);
    if (!rc) rc = write_vocab(dir, s->kmer, err);
    if (!rc)
        rc = write_json(dir, "tokenizer_config.json",
                        json_pack("{s:b, s:i, s:s}", "do_lower_case", 0, "model_max_length", s->max_position,
                                  "tokenizer_class", "BertTokenizer"),
                        err);
    return rc;
}
