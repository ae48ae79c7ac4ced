/* seqlora evaluate: metrics, bootstrap intervals and plots from a predictions TSV (the `evaluate` step). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"
#include "nn/backend.h"
#include "util/log.h"
#include "util/fs.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora evaluate --predictions PRED.tsv -o REPORT_DIR [options]\n"
        "       seqlora evaluate --base DIR [--adapter DIR] --dataset TEST.tsv -o REPORT_DIR [options]\n\n"
        "Evaluate predictions (id, label, prob_<class>... or prediction) as scikit-learn would: ROC AUC,\n"
        "average precision, accuracy, macro-F1, MCC, confusion matrix (binary, multi-class), mAP\n"
        "(multi-label), MSE and R2 (regression), with bootstrap confidence intervals, and write\n"
        "REPORT_DIR/metrics.json, roc.svg, pr.svg (and loss.svg with --history).\n\n"
        "options:\n"
        "  --predictions FILE      predictions TSV from `seqlora predict`\n"
        "  --base DIR              or: a Hugging Face model directory to predict with first ...\n"
        "  --adapter DIR           ... with this LoRA adapter (PEFT layout) ...\n"
        "  --dataset FILE          ... on this dataset TSV (id, sequence, label); the predictions are kept\n"
        "                          in REPORT_DIR/predictions.tsv\n"
        "  -o, --output DIR        the report directory to write (required)\n"
        "  --task NAME             auto (default), binary, multiclass, multilabel or regression\n"
        "  --threshold T           binary decision threshold: positive when prob >= T (default 0.5)\n"
        "  --positive-class NAME   binary positive class (default: the second prob_ column)\n"
        "  --bootstrap N           bootstrap resamples for the intervals, 0 = none (default 1000)\n"
        "  --ci-level L            confidence level of the intervals (default 0.95)\n"
        "  --seed S                bootstrap seed (default 0)\n"
        "  --history FILE          the trainer's metrics.jsonl: plot loss and metrics per epoch\n"
        "  --device D              with --base: auto (default), cpu, cuda, cuda:N (as seqlora predict)\n"
        "  --precision P           with --base: fp32 (default), bf16, fp16 (CUDA only)\n\n"
        "stdout: the path of metrics.json, or with --json its content.\n\n" SL_CLI_COMMON_HELP);
}

enum {
    OPT_PRED = 0x2001,
    OPT_BASE,
    OPT_ADAPTER,
    OPT_DATASET,
    OPT_TASK,
    OPT_THRESHOLD,
    OPT_POS,
    OPT_BOOT,
    OPT_LEVEL,
    OPT_SEED,
    OPT_HISTORY,
    OPT_DEVICE,
    OPT_PRECISION
};

int sl_cmd_evaluate(int argc, char **argv) {
    static const struct option longopts[] = {
        {"predictions", required_argument, 0, OPT_PRED},
        {"base", required_argument, 0, OPT_BASE},
        {"adapter", required_argument, 0, OPT_ADAPTER},
        {"dataset", required_argument, 0, OPT_DATASET},
        {"device", required_argument, 0, OPT_DEVICE},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"output", required_argument, 0, 'o'},
        {"task", required_argument, 0, OPT_TASK},
        {"threshold", required_argument, 0, OPT_THRESHOLD},
        {"positive-class", required_argument, 0, OPT_POS},
        {"bootstrap", required_argument, 0, OPT_BOOT},
        {"ci-level", required_argument, 0, OPT_LEVEL},
        {"seed", required_argument, 0, OPT_SEED},
        {"history", required_argument, 0, OPT_HISTORY},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *base = NULL, *adapter = NULL, *dataset = NULL, *device = NULL, *precision = NULL;
    const char *pred = NULL, *out = NULL, *history = NULL, *task = NULL, *pos = NULL;
    double threshold = 0.5, level = 0.95;
    long long boot = 1000, seed = 0;
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case OPT_PRED:
                pred = optarg;
                break;
            case OPT_BASE:
                base = optarg;
                break;
            case OPT_ADAPTER:
                adapter = optarg;
                break;
            case OPT_DATASET:
                dataset = optarg;
                break;
            case 'o':
                out = optarg;
                break;
            case OPT_TASK:
                task = optarg;
                break;
            case OPT_POS:
                pos = optarg;
                break;
            case OPT_HISTORY:
                history = optarg;
                break;
            case OPT_DEVICE:
                device = optarg;
                break;
            case OPT_PRECISION:
                precision = optarg;
                break;
            case OPT_THRESHOLD:
                if (sl_cli_parse_real("--threshold", optarg, &threshold, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                if (threshold < 0 || threshold > 1)
                    return sl_cli_usage_error("--threshold: expected a value in [0, 1]");
                break;
            case OPT_LEVEL:
                if (sl_cli_parse_real("--ci-level", optarg, &level, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                if (!(level > 0 && level < 1))
                    return sl_cli_usage_error("--ci-level: expected a value in (0, 1)");
                break;
            case OPT_BOOT:
                if (sl_cli_parse_int("--bootstrap", optarg, 0, 1000000, &boot, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                break;
            case OPT_SEED:
                if (sl_cli_parse_int("--seed", optarg, 0, (long long)1 << 62, &seed, &err))
                    return sl_cli_report(SL_EUSAGE, &err);
                break;
            case 'h':
                usage(stdout);
                return 0;
            default:
                rc = sl_cli_common_opt(&common, opt, optarg, &err);
                if (rc < 0) return sl_cli_report(rc, &err);
                if (rc == 0) {
                    usage(stderr);
                    return 2;
                }
        }
    }
    if (optind < argc) return sl_cli_usage_error("evaluate: unexpected argument '%s'", argv[optind]);
    if (pred && (base || adapter || dataset))
        return sl_cli_usage_error("evaluate: give --predictions, or --base and --dataset, not both");
    if (!pred && (!base || !dataset))
        return sl_cli_usage_error(
            "evaluate: --predictions, or --base and --dataset, is required (see seqlora "
            "evaluate --help)");
    if (!out) return sl_cli_usage_error("evaluate: -o REPORT_DIR is required");
    if (pred && (device || precision))
        return sl_cli_usage_error("evaluate: --device and --precision apply to --base only");
    sl_nn_device dev = {SL_NN_DEVICE_CPU, -1};
    int prec = 0;
    if (base) {
        char note[1400];
        if ((rc = sl_nn_device_select(device, precision, base, &dev, &prec, note, sizeof note, &err)))
            return sl_cli_report(rc, &err);
        if (note[0] && !common.quiet) sl_log_info("%s", note);
    }

    json_t *params = json_object();
    if (task) json_object_set_new(params, "task", json_string(task));
    json_object_set_new(params, "threshold", json_real(threshold));
    if (pos) json_object_set_new(params, "positive_class", json_string(pos));
    json_object_set_new(params, "bootstrap", json_integer(boot));
    json_object_set_new(params, "ci_level", json_real(level));
    json_object_set_new(params, "seed", json_integer(seed));
    if (dev.kind == SL_NN_DEVICE_CUDA) {
        json_object_set_new(params, "device", json_string("cuda"));
        json_object_set_new(params, "precision", json_string(sl_nn_precision_name(prec)));
        sl_nn_cuda_set_ordinal(dev.index);
    }
    sl_run_input inputs[5];
    size_t n_in = 0;
    if (pred) inputs[n_in++] = (sl_run_input){"predictions", pred};
    if (base) inputs[n_in++] = (sl_run_input){"base_model", base};
    if (adapter) inputs[n_in++] = (sl_run_input){"adapter", adapter};
    if (dataset) inputs[n_in++] = (sl_run_input){"dataset", dataset};
    if (history) inputs[n_in++] = (sl_run_input){"history", history};
    sl_run_output outputs[1] = {{"report", out}};
    rc = sl_cli_run_step("evaluate", params, inputs, n_in, outputs, 1, &common, NULL);
    json_decref(params);
    if (rc == 0 && !common.quiet) fprintf(stderr, "seqlora: report written to %s\n", out);
    if (rc != 0) return rc;
    char *metrics = sl_fs_join(out, "metrics.json");
    if (!metrics) return sl_cli_report(sl_err_set(&err, SL_ENOMEM, "out of memory"), &err);
    if (common.json) { /* the report itself on stdout */
        char *text = NULL;
        size_t len = 0;
        rc = sl_fs_read_all(metrics, &text, &len, &err);
        if (!rc) fwrite(text, 1, len, stdout);
        free(text);
        rc = sl_cli_report(rc, &err);
    } else {
        printf("%s\n", metrics);
    }
    free(metrics);
    return rc;
}
