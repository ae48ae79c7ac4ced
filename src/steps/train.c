/* The `train` step: LoRA fine-tuning of a BERT-family base on a dataset TSV (src/nn/trainer.h).
 *
 * Inputs:  base (dir: a Hugging Face model directory), train (file), eval (file, optional),
 *          init_adapter (dir, optional: a PEFT adapter to start from).
 * Outputs: adapter (dir: adapter_config.json, adapter_model.safetensors, seqlora_head.json),
 *          metrics.jsonl (one JSON line per epoch).
 * Params:  lora_r, lora_alpha, lora_dropout, target_modules ("query,value"), use_rslora, train_pooler, lr,
 *          weight_decay, max_grad_norm, epochs, batch_size, grad_accum, warmup_steps, max_length, patience,
 *          seed, metric, problem_type, labels ("A,B"; absent = sorted unique training labels),
 *          checkpoint_every, base_name, device ("cpu" default | "cuda"), precision ("fp32" default |
 *          "bf16" | "fp16"; fp16 cuda only). The CLI writes device/precision only for a CUDA run and
 *          precision for a CPU bf16 run, so a CPU fp32 run's key is the same with or without --device and
 *          --precision fp32; the CUDA ordinal is not a parameter
 *          (sl_nn_cuda_ordinal(), set by the CLI): docs/gpu.md "Action keys".
 * Checkpoints go to ctx->workdir, so a killed run resumes where it stopped and ends with the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/bert.h"
#include "nn/model.h"
#include "nn/trainer.h"
#include "step.h"
#include "util/fs.h"
#include "util/json.h"

static int split_list(const char *s, char ***out, int *n, sl_err *err) {
    *out = NULL;
    *n = 0;
    char *dup = strdup(s);
    if (!dup) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int cap = 0;
    for (char *save = NULL, *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nn = realloc(*out, (size_t)cap * sizeof *nn);
            if (!nn) {
                free(dup);
                return sl_err_set(err, SL_ENOMEM, "out of memory");
            }
            *out = nn;
        }
        (*out)[(*n)++] = strdup(tok);
    }
    free(dup);
    return 0;
}

static void free_list(char **l, int n) {
    for (int i = 0; i < n; i++) free(l[i]);
    free(l);
}

static int check_keys(const json_t *params, sl_err *err) {
    static const char *const known[] = {
        "lora_r",       "lora_alpha",       "lora_dropout",  "target_modules", "use_rslora", "train_pooler",
        "lr",           "weight_decay",     "max_grad_norm", "epochs",         "batch_size", "grad_accum",
        "warmup_steps", "max_length",       "patience",      "seed",           "metric",     "problem_type",
        "labels",       "checkpoint_every", "base_name",     "device",         "precision",  NULL};
    if (!json_is_object(params)) return sl_err_set(err, SL_EUSAGE, "train: parameters must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "train: unknown parameter '%s'", key);
    }
    return 0;
}

static int run_train(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *p = ctx->params;
    int rc = check_keys(p, err);
    if (rc) return rc;
    sl_nn_train_opts o;
    sl_nn_train_opts_default(&o);
    long long r, epochs, bs, acc, warm, maxlen, pat, seed, ck;
    double alpha, drop;
    int rslora, pooler;
    const char *targets, *metric, *pt, *labels, *base_name, *device, *precision;
    if ((rc = sl_json_get_int(p, "lora_r", 16, &r, err)) ||
        (rc = sl_json_get_real(p, "lora_alpha", 32, &alpha, err)) ||
        (rc = sl_json_get_real(p, "lora_dropout", 0.1, &drop, err)) ||
        (rc = sl_json_get_str(p, "target_modules", "query,value", &targets, err)) ||
        (rc = sl_json_get_bool(p, "use_rslora", 0, &rslora, err)) ||
        (rc = sl_json_get_bool(p, "train_pooler", 0, &pooler, err)) ||
        (rc = sl_json_get_real(p, "lr", 3e-4, &o.lr, err)) ||
        (rc = sl_json_get_real(p, "weight_decay", 0.01, &o.weight_decay, err)) ||
        (rc = sl_json_get_real(p, "max_grad_norm", 1.0, &o.max_grad_norm, err)) ||
        (rc = sl_json_get_int(p, "epochs", 10, &epochs, err)) ||
        (rc = sl_json_get_int(p, "batch_size", 8, &bs, err)) ||
        (rc = sl_json_get_int(p, "grad_accum", 1, &acc, err)) ||
        (rc = sl_json_get_int(p, "warmup_steps", 0, &warm, err)) ||
        (rc = sl_json_get_int(p, "max_length", 512, &maxlen, err)) ||
        (rc = sl_json_get_int(p, "patience", 3, &pat, err)) ||
        (rc = sl_json_get_int(p, "seed", 42, &seed, err)) ||
        (rc = sl_json_get_str(p, "metric", NULL, &metric, err)) ||
        (rc = sl_json_get_str(p, "problem_type", "single_label_classification", &pt, err)) ||
        (rc = sl_json_get_str(p, "labels", NULL, &labels, err)) ||
        (rc = sl_json_get_int(p, "checkpoint_every", 0, &ck, err)) ||
        (rc = sl_json_get_str(p, "base_name", NULL, &base_name, err)) ||
        (rc = sl_json_get_str(p, "device", "cpu", &device, err)) ||
        (rc = sl_json_get_str(p, "precision", "fp32", &precision, err)))
        return rc;
    if (strcmp(device, "cpu") && strcmp(device, "cuda"))
        return sl_err_set(err, SL_EUSAGE, "train: device '%s' (expected cpu or cuda)", device);
    o.cuda = !strcmp(device, "cuda");
    if ((rc = sl_nn_precision_parse(precision, &o.precision, err))) return rc;
    if (!o.cuda && o.precision == SL_CUDA_FP16)
        return sl_err_set(err, SL_EUSAGE,
                          "train: precision '%s' needs device cuda (the CPU runs fp32 or bf16)", precision);
    o.cuda_device = sl_nn_cuda_ordinal();
    if (r < 1 || r > 4096 || epochs < 1 || epochs > 100000 || bs < 1 || bs > 65536 || acc < 1 ||
        acc > 65536 || warm < 0 || maxlen < 3 || maxlen > 1000000 || pat < 0 || pat > 100000 || seed < 0 ||
        ck < 0)
        return sl_err_set(err, SL_EUSAGE,
                          "train: a numeric parameter is out of range (r 1..4096, epochs/batch/accum >= 1, "
                          "max_length >= 3, warmup/patience/seed/checkpoint_every >= 0)");
    int prob = sl_nn_problem_parse(pt);
    if (prob < 0)
        return sl_err_set(err, SL_EUSAGE,
                          "train: problem_type '%s' (expected single_label_classification, "
                          "multi_label_classification or regression)",
                          pt);
    o.problem = (sl_nn_problem)prob;
    o.metric = metric ? metric : o.problem == SL_NN_REGRESSION ? "mse" : "auc";
    o.spec.r = (int)r;
    o.spec.alpha = (float)alpha;
    o.spec.dropout = (float)drop;
    o.spec.use_rslora = rslora;
    o.spec.train_pooler = pooler;
    o.epochs = (int)epochs;
    o.batch_size = (int)bs;
    o.grad_accum = (int)acc;
    o.warmup_steps = (int)warm;
    o.max_length = (int)maxlen;
    o.patience = (int)pat;
    o.seed = (uint64_t)seed;
    o.checkpoint_every = ck;
    o.base_name = base_name;
    o.progress = 1;
    char **tl = NULL, **ll = NULL;
    int nt = 0, nl = 0;
    if ((rc = split_list(targets, &tl, &nt, err))) return rc;
    snprintf(o.spec.target_names, sizeof o.spec.target_names, "%s", targets);
    /* the module names of the base's family (BERT/ESM query..., DNABERT-2 Wqkv...) */
    const char *tbase = sl_step_input(ctx, "base");
    if ((rc = tbase
                  ? sl_nn_model_lora_targets(tbase, (const char *const *)tl, (size_t)nt, &o.spec.targets, err)
                  : sl_nn_lora_targets((const char *const *)tl, (size_t)nt, &o.spec.targets, err)))
        goto out;
    if (labels) {
        if ((rc = split_list(labels, &ll, &nl, err))) goto out;
        o.labels = (const char *const *)ll;
        o.n_labels = nl;
    }
    o.base_dir = sl_step_input(ctx, "base");
    o.train_tsv = sl_step_input(ctx, "train");
    o.eval_tsv = sl_step_input(ctx, "eval");
    o.init_adapter = sl_step_input(ctx, "init_adapter");
    o.workdir = ctx->workdir;
    if (!o.base_dir || !o.train_tsv) {
        rc = sl_err_set(err, SL_EUSAGE, "train: the inputs 'base' and 'train' are required");
        goto out;
    }
    char *adir = sl_step_out_path(ctx, "adapter"), *mpath = sl_step_out_path(ctx, "metrics.jsonl");
    if (!adir || !mpath) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc) rc = sl_fs_mkdirs(adir, err);
    o.out_dir = adir;
    o.metrics_path = mpath;
    sl_nn_set_threads(ctx->threads);
    sl_nn_train_result res;
    if (!rc) rc = sl_nn_train(&o, &res, err);
    if (!rc && ctx->summary) {
        json_object_set_new(ctx->summary, "epochs", json_integer(res.epochs_run));
        json_object_set_new(ctx->summary, "steps", json_integer(res.steps));
        json_object_set_new(ctx->summary, "trainable", json_string(res.trainable_line));
        json_object_set_new(ctx->summary, "last_train_loss", json_real(res.last_train_loss));
        if (res.best_epoch) {
            json_object_set_new(ctx->summary, "best_epoch", json_integer(res.best_epoch));
            json_object_set_new(ctx->summary, "best_metric", json_real(res.best_metric));
        }
    }
    free(adir);
    free(mpath);
out:
    free_list(tl, nt);
    free_list(ll, nl);
    return rc;
}

static const sl_step_io train_inputs[] = {
    {"base", SL_IO_DIR},
    {"train", SL_IO_FILE},
    {"eval", SL_IO_FILE | SL_IO_OPTIONAL},
    {"init_adapter", SL_IO_DIR | SL_IO_OPTIONAL},
    {NULL, 0},
};

static const sl_step_io train_outputs[] = {
    {"adapter", SL_IO_DIR},
    {"metrics.jsonl", SL_IO_FILE},
    {NULL, 0},
};

const sl_step sl_step_train = {
    .name = "train",
    .version = 2, /* 2: adapter_config.json written by peft_config.c (PEFT's bytes) */
    .summary = "LoRA fine-tuning of a BERT-family model into a PEFT adapter (resumable, deterministic)",
    .inputs = train_inputs,
    .outputs = train_outputs,
    .run = run_train,
};
