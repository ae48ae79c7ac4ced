/* seqlora predict: class probabilities per row from a base model and a LoRA adapter (the `predict` step). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli_common.h"
#include "commands.h"
#include "nn/backend.h"
#include "util/log.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: seqlora predict --base DIR [--adapter DIR] --input TSV -o OUT.tsv\n\n"
            "Run a BERT-family model (+ a LoRA adapter from `seqlora train` or PEFT) over a dataset TSV\n"
            "(id<TAB>sequence[<TAB>label]) and write id, label, prob_<class>... (softmax; sigmoid per class\n"
            "for multi-label) or id, label, prediction (regression) — the input of `seqlora evaluate`.\n\n"
            "options:\n"
            "  --base DIR         base model directory (required)\n"
            "  --adapter DIR      a PEFT LoRA adapter (default: the base with its own classifier)\n"
            "  --input TSV        the rows to predict (required)\n"
            "  -o, --output FILE  the predictions TSV (required)\n"
            "  --device D         auto (default: the first GPU when one is usable, else the CPU with a\n"
            "                     note), cpu, cuda, cuda:N (exit 2 when not usable); BERT-family bases\n"
            "  --precision P      fp32 (default), bf16, fp16: the base's GEMMs on CUDA (CPU: fp32)\n"
            "\n" SL_CLI_COMMON_HELP);
}

enum { OPT_BASE = 0x2201, OPT_ADAPTER, OPT_INPUT, OPT_DEVICE, OPT_PRECISION };

int sl_cmd_predict(int argc, char **argv) {
    /* a model bundle (--model MODEL.tar.gz): the deployable form, `seqlora score` */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--model") || !strncmp(argv[i], "--model=", 8)) return sl_cmd_score(argc, argv);
    static const struct option longopts[] = {
        {"base", required_argument, 0, OPT_BASE},
        {"adapter", required_argument, 0, OPT_ADAPTER},
        {"input", required_argument, 0, OPT_INPUT},
        {"output", required_argument, 0, 'o'},
        {"device", required_argument, 0, OPT_DEVICE},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *base = NULL, *adapter = NULL, *input = NULL, *out = NULL, *device = NULL, *precision = NULL;
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case OPT_BASE:
                base = optarg;
                break;
            case OPT_ADAPTER:
                adapter = optarg;
                break;
            case OPT_INPUT:
                input = optarg;
                break;
            case 'o':
                out = optarg;
                break;
            case OPT_DEVICE:
                device = optarg;
                break;
            case OPT_PRECISION:
                precision = optarg;
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
    if (optind < argc) return sl_cli_usage_error("predict: unexpected argument '%s'", argv[optind]);
    if (!base || !input || !out)
        return sl_cli_usage_error(
            "predict: --base, --input and -o are required (see seqlora predict --help)");
    /* only a CUDA run carries device/precision in its action key (docs/gpu.md "Action keys") */
    sl_nn_device dev;
    int prec;
    char note[1400];
    if ((rc = sl_nn_device_select(device, precision, base, &dev, &prec, note, sizeof note, &err)))
        return sl_cli_report(rc, &err);
    if (note[0] && !common.quiet) sl_log_info("%s", note);
    json_t *params = json_object();
    if (dev.kind == SL_NN_DEVICE_CUDA) {
        json_object_set_new(params, "device", json_string("cuda"));
        json_object_set_new(params, "precision", json_string(sl_nn_precision_name(prec)));
        sl_nn_cuda_set_ordinal(dev.index);
    }
    sl_run_input inputs[3];
    size_t n = 0;
    inputs[n++] = (sl_run_input){"base", base};
    if (adapter) inputs[n++] = (sl_run_input){"adapter", adapter};
    inputs[n++] = (sl_run_input){"input", input};
    sl_run_output outputs[1] = {{"predictions.tsv", out}};
    rc = sl_cli_run_step("predict", params, inputs, n, outputs, 1, &common, NULL);
    json_decref(params);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
