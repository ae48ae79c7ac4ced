/* The `predict` step: per-row class probabilities (or regression values) for a dataset TSV from a base
 * model and an optional LoRA adapter (src/nn/predict.h).
 *
 * Inputs:  base (dir), adapter (dir, optional), input (file).
 * Output:  predictions.tsv (id, label, prob_<class>... | prediction).
 * Params:  device ("cpu" default | "cuda"), precision ("fp32" default | "bf16" | "fp16"; fp16 cuda only) —
 *          the CLI writes them only for a CUDA run or a CPU bf16 run; the CUDA ordinal is
 *          sl_nn_cuda_ordinal() (not in the key). */
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/predict.h"
#include "util/json.h"
#include "step.h"

static int run_predict(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    const json_t *p = ctx->params;
    if (!json_is_object(p)) return sl_err_set(err, SL_EUSAGE, "predict: parameters must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)p, key, v) {
        if (strcmp(key, "device") && strcmp(key, "precision"))
            return sl_err_set(err, SL_EUSAGE, "predict: unknown parameter '%s' (expected device, precision)",
                              key);
    }
    const char *device, *precision;
    int prec, rc;
    if ((rc = sl_json_get_str(p, "device", "cpu", &device, err)) ||
        (rc = sl_json_get_str(p, "precision", "fp32", &precision, err)))
        return rc;
    if (strcmp(device, "cpu") && strcmp(device, "cuda"))
        return sl_err_set(err, SL_EUSAGE, "predict: device '%s' (expected cpu or cuda)", device);
    if ((rc = sl_nn_precision_parse(precision, &prec, err))) return rc;
    const int cuda_device = strcmp(device, "cuda") ? -1 : sl_nn_cuda_ordinal();
    const char *base = sl_step_input(ctx, "base"), *input = sl_step_input(ctx, "input");
    if (!base || !input)
        return sl_err_set(err, SL_EUSAGE, "predict: the inputs 'base' and 'input' are required");
    char *out = sl_step_out_path(ctx, "predictions.tsv");
    if (!out) return sl_err_set(err, SL_ENOMEM, "out of memory");
    rc = sl_nn_predict_dataset_on(base, sl_step_input(ctx, "adapter"), input, out, ctx->threads, cuda_device,
                                  prec, err);
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
