/* LoRA fine-tuning of a BERT-family classifier: the training loop with seeded data order, gradient
 * accumulation, clipping, AdamW + linear schedule, per-epoch evaluation with early stopping on a metric,
 * the best adapter kept, and resumable checkpoints.
 *
 * Determinism: the output (adapter bytes and metrics.jsonl) depends only on the options and input bytes —
 * not on the thread count, and not on whether the run was interrupted and resumed from a checkpoint.
 * On CUDA (opts.cuda) it is the CPU's within tolerance, not byte for byte, and two GPU runs may differ in
 * the last bits (docs/gpu.md).
 * Checkpoints (workdir/checkpoint.bin, written atomically) hold the trainable weights, the AdamW moments,
 * the step / epoch / batch position, the best weights and metric, and the metrics so far; the data order
 * and dropout masks are functions of (seed, epoch, micro-batch number), so nothing else is needed. */
#ifndef SEQLORA_NN_TRAINER_H
#define SEQLORA_NN_TRAINER_H

#include <stdint.h>

#include "bert.h"
#include "util/error.h"

typedef struct sl_nn_train_opts {
    const char *base_dir;     /* Hugging Face model directory */
    const char *train_tsv;    /* dataset TSV with labels */
    const char *eval_tsv;     /* NULL = no evaluation, no early stopping, the last weights are kept */
    const char *init_adapter; /* NULL, or a PEFT adapter to start from (its LoRA settings win) */
    const char *out_dir;      /* existing directory: adapter_config.json, adapter_model.safetensors,
                                 seqlora_head.json */
    const char *metrics_path; /* metrics.jsonl (NULL = not written) */
    const char *workdir;      /* checkpoints (NULL = none) */
    const char *base_name;    /* base_model_name_or_path for the adapter config (NULL = none) */
    sl_nn_lora_spec spec;
    double lr, weight_decay, max_grad_norm; /* max_grad_norm <= 0: no clipping */
    int epochs, batch_size, grad_accum, warmup_steps, max_length,
        patience;               /* patience 0 = never stop early */
    long long checkpoint_every; /* also checkpoint every N optimizer steps (0 = at epoch ends only) */
    uint64_t seed;
    const char *metric; /* auc, accuracy, f1, mcc, loss, mse, r2 */
    sl_nn_problem problem;
    const char *const *labels; /* class names in index order; NULL = sorted unique labels of train_tsv */
    int n_labels;
    int progress; /* draw a progress bar (TTY only) and log one line per epoch */
    /* CUDA (src/nn/backend.h; BERT-family bases only): cuda = 0 trains on the CPU engine (precision
     * SL_CUDA_FP32, or SL_CUDA_BF16 for its bf16 mode, sl_nn_model_use_bf16); 1 on CUDA device cuda_device
     * with the frozen base's GEMMs in `precision` (SL_CUDA_FP32, _BF16, _FP16). The CPU model stays the owner
     * of the weights: the device arena is copied back before each evaluation, checkpoint and the adapter
     * write, so those files are the CPU code's. */
    int cuda, cuda_device, precision;
} sl_nn_train_opts;

/* Defaults of the seed pipeline: r 16, alpha 32, dropout 0.1, query,value, lr 3e-4, wd 0.01, 10 epochs,
 * batch 8, accum 1, warmup 0, max length 512, patience 3, seed 42, metric auc, clip 1.0. */
void sl_nn_train_opts_default(sl_nn_train_opts *o);

typedef struct sl_nn_train_result {
    int epochs_run;
    long long steps;
    int best_epoch;     /* 1-based; 0 when there is no evaluation */
    double best_metric; /* NaN when there is no evaluation */
    double last_train_loss;
    int resumed; /* 1 when the run continued from a checkpoint */
    char trainable_line[160];
} sl_nn_train_result;

/* Train and write the adapter. Logs progress through util/log (stderr). Errors name the file and line
 * of bad input; nothing is written to out_dir on failure. `res` may be NULL. */
int sl_nn_train(const sl_nn_train_opts *o, sl_nn_train_result *res, sl_err *err);

/* The class names, problem type and max length the adapter in `dir` was trained with
 * (seqlora_head.json). Returns SL_ENOTFOUND when the file is absent. */
int sl_nn_head_read(const char *dir, char ***labels, int *n, sl_nn_problem *problem, int *max_length,
                    sl_err *err);

#endif
