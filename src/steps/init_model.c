/* The `init_model` step: a randomly initialised BERT base for k-mer DNA (src/nn/init_model.h).
 *
 * Inputs:  none.
 * Outputs: model (dir: config.json, model.safetensors, vocab.txt, tokenizer_config.json).
 * Params:  kmer (6), hidden_size (64), num_hidden_layers (2), num_attention_heads (4), intermediate_size
 * (256), max_position_embeddings (512), initializer_range (0.02), seed (42). */
#include <stdlib.h>
#include <string.h>

#include "nn/init_model.h"
#include "step.h"
#include "util/fs.h"
#include "util/json.h"

static int run_init_model(const sl_step_ctx *ctx) {
    static const char *const known[] = {"kmer",
                                        "hidden_size",
                                        "num_hidden_layers",
                                        "num_attention_heads",
                                        "intermediate_size",
                                        "max_position_embeddings",
                                        "initializer_range",
                                        "seed",
                                        NULL};
    const json_t *p = ctx->params;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)p, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(ctx->err, SL_EUSAGE, "init_model: unknown parameter '%s'", key);
    }
    sl_nn_init_spec s;
    sl_nn_init_spec_default(&s);
    long long k, h, l, a, i, m, seed;
    int rc;
    if ((rc = sl_json_get_int(p, "kmer", s.kmer, &k, ctx->err)) ||
        (rc = sl_json_get_int(p, "hidden_size", s.hidden, &h, ctx->err)) ||
        (rc = sl_json_get_int(p, "num_hidden_layers", s.layers, &l, ctx->err)) ||
        (rc = sl_json_get_int(p, "num_attention_heads", s.heads, &a, ctx->err)) ||
        (rc = sl_json_get_int(p, "intermediate_size", s.intermediate, &i, ctx->err)) ||
        (rc = sl_json_get_int(p, "max_position_embeddings", s.max_position, &m, ctx->err)) ||
        (rc = sl_json_get_real(p, "initializer_range", s.init_range, &s.init_range, ctx->err)) ||
        (rc = sl_json_get_int(p, "seed", (long long)s.seed, &seed, ctx->err)))
        return rc;
    if (k < 0 || k > 64 || h < 0 || h > 1 << 20 || l < 0 || l > 1 << 20 || a < 0 || a > 1 << 20 || i < 0 ||
        i > 1 << 20 || m < 0 || m > 1 << 20 || seed < 0)
        return sl_err_set(ctx->err, SL_EUSAGE, "init_model: a size parameter is out of range");
    s.kmer = (int)k;
    s.hidden = (int)h;
    s.layers = (int)l;
    s.heads = (int)a;
    s.intermediate = (int)i;
    s.max_position = (int)m;
    s.seed = (uint64_t)seed;
    char *dir = sl_step_out_path(ctx, "model");
    if (!dir) return sl_err_set(ctx->err, SL_ENOMEM, "out of memory");
    rc = sl_fs_mkdirs(dir, ctx->err);
    if (!rc) rc = sl_nn_init_model_write(&s, dir, ctx->err);
    free(dir);
    if (!rc && ctx->summary) {
        json_object_set_new(ctx->summary, "random_init", json_true());
        json_object_set_new(ctx->summary, "vocab_size", json_integer(5 + (1LL << (2 * s.kmer))));
    }
    return rc;
}

static const sl_step_io init_model_inputs[] = {{NULL, 0}};
static const sl_step_io init_model_outputs[] = {{"model", SL_IO_DIR}, {NULL, 0}};

const sl_step sl_step_init_model = {
    .name = "init_model",
    .version = 1,
    .summary =
        "a randomly initialised BERT base (transformers' init, seeded) with a DNABERT k-mer vocabulary",
    .inputs = init_model_inputs,
    .outputs = init_model_outputs,
    .run = run_init_model,
};
