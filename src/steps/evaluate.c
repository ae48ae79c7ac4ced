/* The `evaluate` step: a predictions TSV (and optionally the trainer's metrics.jsonl) → a report directory
 * with metrics.json (scikit-learn-equal metrics, bootstrap intervals, confusion matrix) and SVG plots.
 * See src/nn/report.h for what is computed and docs/steps/evaluate.md for the user's view.
 *
 * Inputs:  predictions (file), or base_model (directory) + dataset (file) [+ adapter (directory)] to predict
 *          first (the predictions are then kept as report/predictions.tsv); history (file, optional).
 * Output:  report (directory): metrics.json, roc.svg, pr.svg, loss.svg, metrics_history.svg as they apply.
 * Params:  task ("auto"), threshold (0.5), positive_class (absent = the second class), bootstrap (1000),
 *          seed (0), ci_level (0.95). */
#include <stdlib.h>
#include <string.h>

#include "nn/predict.h"
#include "nn/report.h"
#include "nn/backend.h"
#include "step.h"
#include "util/fs.h"
#include "util/json.h"

static int check_keys(const json_t *params, const char *const *known, sl_err *err) {
    if (!json_is_object(params))
        return sl_err_set(err, SL_EUSAGE, "evaluate: parameters must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, key);
        if (!ok) return sl_err_set(err, SL_EUSAGE, "evaluate: unknown parameter '%s'", key);
    }
    return 0;
}

/* Turn the canonical parameters into report options. */
static int evaluate_opts(const json_t *params, sl_nn_report_opts *o, sl_err *err) {
    static const char *const known[] = {"task",     "threshold", "positive_class", "bootstrap", "seed",
                                        "ci_level", "device",    "precision",      NULL};
    int rc = check_keys(params, known, err);
    if (rc) return rc;
    sl_nn_report_opts_init(o);
    const char *task = NULL;
    long long boot = 0, seed = 0;
    if ((rc = sl_json_get_str(params, "task", "auto", &task, err)) ||
        (rc = sl_nn_task_parse(task, &o->task, err)) ||
        (rc = sl_json_get_real(params, "threshold", 0.5, &o->threshold, err)) ||
        (rc = sl_json_get_str(params, "positive_class", NULL, &o->positive_class, err)) ||
        (rc = sl_json_get_int(params, "bootstrap", 1000, &boot, err)) ||
        (rc = sl_json_get_int(params, "seed", 0, &seed, err)) ||
        (rc = sl_json_get_real(params, "ci_level", 0.95, &o->ci_level, err)))
        return rc;
    if (boot < 0 || boot > 1000000)
        return sl_err_set(err, SL_EUSAGE, "evaluate: parameter 'bootstrap' must be in [0, 1000000], got %lld",
                          boot);
    if (seed < 0)
        return sl_err_set(err, SL_EUSAGE, "evaluate: parameter 'seed' must be >= 0, got %lld", seed);
    o->bootstrap = (size_t)boot;
    o->seed = (uint64_t)seed;
    return 0;
}

static int run_evaluate(const sl_step_ctx *ctx) {
    sl_err *err = ctx->err;
    sl_nn_report_opts o;
    int rc = evaluate_opts(ctx->params, &o, err);
    if (rc) return rc;
    const char *pred = sl_step_input(ctx, "predictions");
    const char *base = sl_step_input(ctx, "base_model"), *adapter = sl_step_input(ctx, "adapter");
    const char *dataset = sl_step_input(ctx, "dataset");
    if (pred && (base || adapter || dataset))
        return sl_err_set(err, SL_EUSAGE,
                          "evaluate: give either predictions or a model and a dataset, not both");
    if (!pred && (!base || !dataset))
        return sl_err_set(err, SL_EUSAGE,
                          "evaluate: needs 'predictions', or 'base_model' and 'dataset' "
                          "(and optionally 'adapter') to predict first");
    o.history = sl_step_input(ctx, "history");

    char *dir = sl_step_out_path(ctx, "report");
    char *own_pred = dir && !pred ? sl_fs_join(dir, "predictions.tsv") : NULL;
    if (!dir || (!pred && !own_pred)) {
        free(dir);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    json_t *report = NULL;
    rc = sl_fs_mkdirs(dir, err);
    if (!rc && !pred) {
        /* device/precision: only a CUDA run has them (the CLI's --device; docs/gpu.md "Action keys") */
        const char *device = NULL, *precision = NULL;
        int prec = 0;
        if (!(rc = sl_json_get_str(ctx->params, "device", "cpu", &device, err)) &&
            !(rc = sl_json_get_str(ctx->params, "precision", "fp32", &precision, err)) &&
            !(rc = sl_nn_precision_parse(precision, &prec, err)) && strcmp(device, "cpu") &&
            strcmp(device, "cuda"))
            rc = sl_err_set(err, SL_EUSAGE, "evaluate: device '%s' (expected cpu or cuda)", device);
        if (!rc)
            rc = sl_nn_predict_dataset_on(base, adapter, dataset, own_pred, ctx->threads,
                                          strcmp(device, "cuda") ? -1 : sl_nn_cuda_ordinal(), prec, err);
        pred = own_pred;
    }
    if (!rc) rc = sl_nn_report_write(pred, &o, dir, &report, err);
    free(own_pred);
    free(dir);
    if (rc) return rc;
    if (ctx->summary) {
        json_object_set(ctx->summary, "task", json_object_get(report, "task"));
        json_object_set(ctx->summary, "n", json_object_get(report, "n"));
        json_object_set(ctx->summary, "metrics", json_object_get(report, "metrics"));
    }
    json_decref(report);
    return 0;
}

static const sl_step_io evaluate_inputs[] = {
    {"predictions", SL_IO_FILE | SL_IO_OPTIONAL}, {"base_model", SL_IO_DIR | SL_IO_OPTIONAL},
    {"adapter", SL_IO_DIR | SL_IO_OPTIONAL},      {"dataset", SL_IO_FILE | SL_IO_OPTIONAL},
    {"history", SL_IO_FILE | SL_IO_OPTIONAL},     {NULL, 0},
};

static const sl_step_io evaluate_outputs[] = {
    {"report", SL_IO_DIR},
    {NULL, 0},
};

const sl_step sl_step_evaluate = {
    .name = "evaluate",
    .version = 1,
    .summary = "metrics (equal to scikit-learn), bootstrap intervals and ROC/PR/loss plots from predictions",
    .inputs = evaluate_inputs,
    .outputs = evaluate_outputs,
    .run = run_evaluate,
};
