/* The `predict` step: per-row class probabilities (or regression values) for a dataset TSV from a base
 * model and an optional LoRA adapter (src/nn/predict.h).
 *
 * Inputs:  base (dir), adapter (dir, optional), input (file).
 * Output:  predictions.tsv (id, label, prob_<class>... | prediction).
 * Params:  none. */
#include <stdlib.h>

#include "nn/predict.h"
#include "step.h"

static int run_predict(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    if (!json_is_object(ctx->params) || json_object_size(ctx->params) != 0)
        return sl_err_set(err, SL_EUSAGE, "predict: takes no parameters");
    const char *base = sl_step_input(ctx, "base"), *input = sl_step_input(ctx, "input");
    if (!base || !input)
        return sl_err_set(err, SL_EUSAGE, "predict: the inputs 'base' and 'input' are required");
    char *out = sl_step_out_path(ctx, "predictions.tsv");
    if (!out) return sl_err_set(err, SL_ENOMEM, "out of memory");
    int rc = sl_nn_predict_dataset(base, sl_step_input(ctx, "adapter"), input, out, ctx->threads, err);
    free(out);
    return rc;
}

static const sl_step_io predict_inputs[] = {
    {"base", SL_IO_DIR},
    {"adapter", SL_IO_DIR | SL_IO_OPTIONAL},
    {"input", SL_IO_FILE},
    {NULL, 0},
};

static const sl_step_io predict_outputs[] = {
    {"predictions.tsv", SL_IO_FILE},
    {NULL, 0},
};

const sl_step sl_step_predict = {
    .name = "predict",
    .version = 1,
    .summary = "class probabilities or regression values per row, from a base model and a LoRA adapter",
    .inputs = predict_inputs,
    .outputs = predict_outputs,
    .run = run_predict,
};
