/* seqlora evaluate: metrics, bootstrap intervals and plots from a predictions TSV (the `evaluate` step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"
#include "util/fs.h"

static const char header[] =
    "usage: seqlora evaluate --predictions PRED.tsv -o REPORT_DIR [options]\n"
    "       seqlora evaluate --base DIR [--adapter DIR] --dataset TEST.tsv -o REPORT_DIR [options]\n\n"
    "Evaluate predictions (id, label, prob_<class>... or prediction) as scikit-learn would: ROC AUC,\n"
    "average precision, accuracy, macro-F1, MCC, confusion matrix (binary, multi-class), mAP\n"
    "(multi-label), MSE and R2 (regression), with bootstrap confidence intervals, and write\n"
    "REPORT_DIR/metrics.json, roc.svg, pr.svg (and loss.svg with --history).\n\n";

int sl_cmd_evaluate(int argc, char **argv) {
    const char *base = NULL, *adapter = NULL, *dataset = NULL, *device = NULL, *precision = NULL;
    const char *pred = NULL, *out = NULL, *history = NULL, *task = NULL, *pos = NULL;
    double threshold = 0.5, level = 0.95;
    long long boot = 1000, seed = 0;
    const sl_cli_opt opts[] = {
        {.name = "predictions",
         .arg = "FILE",
         .help = "predictions TSV from `seqlora predict`",
         .str = &pred},
        SL_CLI_OPT_BASE(&base, "or: a Hugging Face model directory to predict with first ...", 0),
        {.name = "adapter",
         .arg = "DIR",
         .help = "... with this LoRA adapter (PEFT layout) ...",
         .str = &adapter},
        {.name = "dataset",
         .arg = "FILE",
         .help = "... on this dataset TSV (id, sequence, label); the predictions are kept\n"
                 "in REPORT_DIR/predictions.tsv",
         .str = &dataset},
        SL_CLI_OPT_OUTPUT(&out, "DIR", "the report directory to write (required)", SL_CLI_REQUIRED),
        {.name = "task",
         .arg = "NAME",
         .help = "auto (default), binary, multiclass, multilabel or regression",
         .str = &task,
         .param = "task"},
        SL_CLI_REAL_OPT("threshold", "T", "binary decision threshold: positive when prob >= T (default 0.5)",
                        &threshold, 0, 1, 0, "threshold"),
        {.name = "positive-class",
         .arg = "NAME",
         .help = "binary positive class (default: the second prob_ column)",
         .str = &pos,
         .param = "positive_class"},
        SL_CLI_INT_OPT("bootstrap", "N", "bootstrap resamples for the intervals, 0 = none (default 1000)",
                       &boot, 0, 1000000, "bootstrap"),
        SL_CLI_REAL_OPT("ci-level", "L", "confidence level of the intervals (default 0.95)", &level, 0, 1,
                        SL_CLI_LO_OPEN | SL_CLI_HI_OPEN, "ci_level"),
        SL_CLI_OPT_SEED(&seed, "S", "bootstrap seed (default 0)"),
        {.name = "history",
         .arg = "FILE",
         .help = "the trainer's metrics.jsonl: plot loss and metrics per epoch",
         .str = &history},
        SL_CLI_OPT_DEVICE(&device, "with --base: auto (default), cpu, cuda, cuda:N (as seqlora predict)"),
        SL_CLI_OPT_PRECISION(&precision, "with --base: fp32 (default), bf16, fp16 (fp16: CUDA only)"),
        {0},
    };
    const sl_cli_command cmd = {.name = "evaluate",
                                .header = header,
                                .opts = opts,
                                .width = 24,
                                .footer =
                                    "stdout: the path of metrics.json, or with --json its content.\n\n"};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    rc = 0;
    if (pred && (base || adapter || dataset))
        rc = sl_err_set(&a.err, SL_EUSAGE, "evaluate: give --predictions, or --base and --dataset, not both");
    else if (!pred && (!base || !dataset))
        rc = sl_err_set(
            &a.err, SL_EUSAGE,
            "evaluate: --predictions, or --base and --dataset, is required (see seqlora evaluate --help)");
    else if (pred && (device || precision))
        rc = sl_err_set(&a.err, SL_EUSAGE, "evaluate: --device and --precision apply to --base only");
    else if (base)
        rc = sl_cli_device_params(device, precision, &a.common, a.params, &a.err);
    if (rc) return sl_cli_fail(&a, rc);
    sl_run_input inputs[5];
    size_t n_in = 0;
    if (pred) inputs[n_in++] = (sl_run_input){"predictions", pred};
    if (base) inputs[n_in++] = (sl_run_input){"base_model", base};
    if (adapter) inputs[n_in++] = (sl_run_input){"adapter", adapter};
    if (dataset) inputs[n_in++] = (sl_run_input){"dataset", dataset};
    if (history) inputs[n_in++] = (sl_run_input){"history", history};
    sl_run_output outputs[1] = {{"report", out}};
    rc = sl_cli_run_step("evaluate", a.params, inputs, n_in, outputs, 1, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0 && !a.common.quiet) fprintf(stderr, "seqlora: report written to %s\n", out);
    if (rc != 0) return rc;
    char *metrics = sl_fs_join(out, "metrics.json");
    if (!metrics) return sl_cli_report(sl_err_set(&a.err, SL_ENOMEM, "out of memory"), &a.err);
    if (a.common.json) { /* the report itself on stdout */
        char *text = NULL;
        size_t len = 0;
        rc = sl_fs_read_all(metrics, &text, &len, &a.err);
        if (!rc) fwrite(text, 1, len, stdout);
        free(text);
        rc = sl_cli_report(rc, &a.err);
    } else {
        printf("%s\n", metrics);
    }
    free(metrics);
    return rc;
}
