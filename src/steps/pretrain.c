/* The `pretrain` step: masked-language-model pretraining of a BERT-family k-mer model on FASTA
 * sequences (src/nn/pretrainer.h).
 *
 * Inputs:  fasta (file, several allowed, in order), config (file, optional: a BertConfig JSON to start
 *          from scratch), init_from (dir, optional: a Hugging Face model directory to continue); exactly
 *          one of config / init_from.
 * Outputs: model (dir: config.json with architectures ["BertForMaskedLM"], model.safetensors, vocab.txt,
 *          tokenizer_config.json, special_tokens_map.json), metrics.jsonl (the mean MLM loss per epoch).
 * Params:  kmer (6), window (512 tokens incl. [CLS]/[SEP]), windows_per_epoch (0 = cover both strands
 *          once), epochs (1), batch_size (8), lr (4e-4), warmup_steps (0), weight_decay (0.01),
 *          mlm_probability (0.15), max_grad_norm (1.0), seed (42), checkpoint_every (50).
 * Checkpoints go to ctx->workdir, so a killed run resumes where it stopped and ends with the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "nn/parallel.h"
#include "nn/pretrainer.h"
#include "step.h"
#include "util/fs.h"
#include "util/json.h"

static int check_keys(const json_t *params, sl_err *err) {
    static const char *const known[] = {"kmer",
                                        "window",
                                        "windows_per_epoch",
                                        "epochs",
                                        "batch_size",
                                        "lr",
                                        "warmup_steps",
                                        "weight_decay",
                                        "mlm_probability",
                                        "max_grad_norm",
                                        "seed",
                                        "checkpoint_every",
                                        NULL};
    if (!json_is_object(params))
        return sl_err_set(err, SL_EUSAGE, "pretrain: parameters must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "pretrain: unknown parameter '%s'", key);
    }
    return 0;
}

static int run_pretrain(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *p = ctx->params;
    int rc = check_keys(p, err);
    if (rc) return rc;
    sl_nn_pretrain_opts o;
    sl_nn_pretrain_opts_default(&o);
    long long kmer, window, wpe, epochs, bs, warm, seed, ck;
    if ((rc = sl_json_get_int(p, "kmer", 6, &kmer, err)) ||
        (rc = sl_json_get_int(p, "window", 512, &window, err)) ||
        (rc = sl_json_get_int(p, "windows_per_epoch", 0, &wpe, err)) ||
        (rc = sl_json_get_int(p, "epochs", 1, &epochs, err)) ||
        (rc = sl_json_get_int(p, "batch_size", 8, &bs, err)) ||
        (rc = sl_json_get_real(p, "lr", 4e-4, &o.lr, err)) ||
        (rc = sl_json_get_int(p, "warmup_steps", 0, &warm, err)) ||
        (rc = sl_json_get_real(p, "weight_decay", 0.01, &o.weight_decay, err)) ||
        (rc = sl_json_get_real(p, "mlm_probability", 0.15, &o.mlm_probability, err)) ||
        (rc = sl_json_get_real(p, "max_grad_norm", 1.0, &o.max_grad_norm, err)) ||
        (rc = sl_json_get_int(p, "seed", 42, &seed, err)) ||
        (rc = sl_json_get_int(p, "checkpoint_every", 50, &ck, err)))
        return rc;
    if (kmer < 3 || kmer > 8 || window < 3 || window > 100000 || wpe < 0 || wpe > 100000000 || epochs < 1 ||
        epochs > 100000 || bs < 1 || bs > 65536 || warm < 0 || seed < 0 || ck < 0)
        return sl_err_set(err, SL_EUSAGE,
                          "pretrain: a numeric parameter is out of range (kmer 3..8, window >= 3, epochs and "
                          "batch_size >= 1, windows_per_epoch/warmup_steps/seed/checkpoint_every >= 0)");
    o.kmer = (int)kmer;
    o.window = (int)window;
    o.windows_per_epoch = (int)wpe;
    o.epochs = (int)epochs;
    o.batch_size = (int)bs;
    o.warmup_steps = (int)warm;
    o.seed = (uint64_t)seed;
    o.checkpoint_every = ck;
    o.progress = 1;
    const char *fasta[256];
    size_t nf = sl_step_inputs(ctx, "fasta", fasta, 256);
    if (nf > 256) return sl_err_set(err, SL_EUSAGE, "pretrain: at most 256 FASTA inputs");
    o.fasta = fasta;
    o.n_fasta = (int)nf;
    o.config_path = sl_step_input(ctx, "config");
    o.init_from = sl_step_input(ctx, "init_from");
    o.workdir = ctx->workdir;
    char *mdir = sl_step_out_path(ctx, "model"), *mpath = sl_step_out_path(ctx, "metrics.jsonl");
    if (!mdir || !mpath) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc) rc = sl_fs_mkdirs(mdir, err);
    o.out_dir = mdir;
    o.metrics_path = mpath;
    sl_nn_set_threads(ctx->threads);
    sl_nn_pretrain_result res;
    memset(&res, 0, sizeof res);
    if (!rc) rc = sl_nn_pretrain(&o, &res, err);
    if (!rc && ctx->summary) {
        json_object_set_new(ctx->summary, "epochs", json_integer(res.epochs));
        json_object_set_new(ctx->summary, "steps", json_integer(res.steps));
        json_object_set_new(ctx->summary, "windows_per_epoch", json_integer(res.windows_per_epoch));
        json_object_set_new(ctx->summary, "parameters", json_integer(res.n_params));
        json_object_set_new(ctx->summary, "first_epoch_mlm_loss", json_real(res.first_loss));
        json_object_set_new(ctx->summary, "last_epoch_mlm_loss", json_real(res.last_loss));
    }
    free(mdir);
    free(mpath);
    return rc;
}

static const sl_step_io pretrain_inputs[] = {
    {"fasta", SL_IO_FILE | SL_IO_MULTI},
    {"config", SL_IO_FILE | SL_IO_OPTIONAL},
    {"init_from", SL_IO_DIR | SL_IO_OPTIONAL},
    {NULL, 0},
};

static const sl_step_io pretrain_outputs[] = {
    {"model", SL_IO_DIR},
    {"metrics.jsonl", SL_IO_FILE},
    {NULL, 0},
};

const sl_step sl_step_pretrain = {
    .name = "pretrain",
    .version = 1,
    .summary = "masked-language-model pretraining of a BERT k-mer model into a BertForMaskedLM checkpoint",
    .inputs = pretrain_inputs,
    .outputs = pretrain_outputs,
    .run = run_pretrain,
};
