/* seqlora package: a trained adapter + its base model → a deployable model bundle (the `package` step). */
#include <getopt.h>
#include <stdio.h>

#include "cli_common.h"
#include "commands.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora package --base DIR --adapter DIR [--report DIR] [--metrics FILE] [--embed-base]\n"
        "                       [--merged] [--threshold 0.7] [--positive-class NAME] -o MODEL.tar.gz\n\n"
        "Bundle a LoRA adapter with everything needed to deploy it: the task (classes, positive class,\n"
        "threshold), tokenizer files and k-mer setting, the base model's name and SHA-256 per file, the\n"
        "evaluation report (metrics.json with bootstrap CIs + SVG plots), a Markdown model card, RO-Crate\n"
        "provenance and a SHA256SUMS list checked on load. The tar.gz bytes depend only on the inputs.\n\n"
        "options:\n"
        "  --base DIR             base model directory (config.json, weights, tokenizer files) of any\n"
        "                         family: BERT/DNABERT, ESM-2 / Nucleotide Transformer, DNABERT-2\n"
        "  --adapter DIR          the PEFT adapter (from `seqlora train` or PEFT)\n"
        "  --report DIR           the REPORT_DIR of `seqlora evaluate` (metrics.json + plots)\n"
        "  --metrics FILE         a metrics.json alone (when there is no report directory)\n"
        "  --embed-base           include the base weights (air-gapped sites); else `score`/`serve` need "
        "--base\n"
        "  --merged               include a full Hugging Face checkpoint with LoRA folded in (merged/), "
        "which\n"
        "                         `score` and `serve` use, and transformers loads as a plain model\n"
        "  --threshold T          decision threshold on the positive class (default 0.7, as in the seed)\n"
        "  --positive-class NAME  the positive class (default: the second class)\n"
        "  --base-name NAME       the base model's name for the card (default: the adapter's\n"
        "                         base_model_name_or_path)\n"
        "  --kmer K               k of the k-mer tokenisation (default: detected from a WordPiece k-mer\n"
        "                         vocabulary; -1 none). NT and DNABERT-2 tokenizers take raw DNA\n"
        "  --window N, --stride N windowing of long sequences in bases (default: a full window, half of it)\n"
        "  -o, --output FILE      the bundle (required)\n\n" SL_CLI_COMMON_HELP);
}

enum {
    OPT_BASE = 0x2601,
    OPT_ADAPTER,
    OPT_REPORT,
    OPT_METRICS,
    OPT_EMBED,
    OPT_MERGED,
    OPT_THRESHOLD,
    OPT_POSITIVE,
    OPT_BASE_NAME,
    OPT_KMER,
    OPT_WINDOW,
    OPT_STRIDE,
};

int sl_cmd_package(int argc, char **argv) {
    static const struct option longopts[] = {
        {"base", required_argument, 0, OPT_BASE},
        {"adapter", required_argument, 0, OPT_ADAPTER},
        {"report", required_argument, 0, OPT_REPORT},
        {"metrics", required_argument, 0, OPT_METRICS},
        {"embed-base", no_argument, 0, OPT_EMBED},
        {"merged", no_argument, 0, OPT_MERGED},
        {"threshold", required_argument, 0, OPT_THRESHOLD},
        {"positive-class", required_argument, 0, OPT_POSITIVE},
        {"base-name", required_argument, 0, OPT_BASE_NAME},
        {"kmer", required_argument, 0, OPT_KMER},
        {"window", required_argument, 0, OPT_WINDOW},
        {"stride", required_argument, 0, OPT_STRIDE},
        {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *base = NULL, *adapter = NULL, *report = NULL, *metrics = NULL, *out = NULL;
    json_t *params = json_object();
    int opt, rc;
    long long v;
    double d;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case OPT_BASE:
                base = optarg;
                break;
            case OPT_ADAPTER:
                adapter = optarg;
                break;
            case OPT_REPORT:
                report = optarg;
                break;
            case OPT_METRICS:
                metrics = optarg;
                break;
            case OPT_EMBED:
                json_object_set_new(params, "embed_base", json_true());
                break;
            case OPT_MERGED:
                json_object_set_new(params, "merged", json_true());
                break;
            case OPT_POSITIVE:
                json_object_set_new(params, "positive_class", json_string(optarg));
                break;
            case OPT_BASE_NAME:
                json_object_set_new(params, "base_name", json_string(optarg));
                break;
            case OPT_THRESHOLD:
                if ((rc = sl_cli_parse_real("--threshold", optarg, &d, &err)) || d < 0 || d > 1) {
                    json_decref(params);
                    return rc ? sl_cli_report(rc, &err)
                              : sl_cli_usage_error("package: --threshold must be in [0, 1]");
                }
                json_object_set_new(params, "threshold", json_real(d));
                break;
            case OPT_KMER:
            case OPT_WINDOW:
            case OPT_STRIDE: {
                const char *name = opt == OPT_KMER ? "kmer" : opt == OPT_WINDOW ? "window" : "stride";
                if ((rc = sl_cli_parse_int(name, optarg, opt == OPT_KMER ? -1 : 1,
                                           opt == OPT_KMER ? 12 : 1000000, &v, &err))) {
                    json_decref(params);
                    return sl_cli_report(rc, &err);
                }
                json_object_set_new(params, name, json_integer(v));
                break;
            }
            case 'o':
                out = optarg;
                break;
            case 'h':
                json_decref(params);
                usage(stdout);
                return 0;
            default:
                rc = sl_cli_common_opt(&common, opt, optarg, &err);
                if (rc <= 0) json_decref(params);
                if (rc < 0) return sl_cli_report(rc, &err);
                if (rc == 0) {
                    usage(stderr);
                    return 2;
                }
        }
    }
    if (optind < argc || !base || !adapter || !out) {
        json_decref(params);
        if (optind < argc) return sl_cli_usage_error("package: unexpected argument '%s'", argv[optind]);
        return sl_cli_usage_error(
            "package: --base, --adapter and -o are required (see seqlora package --help)");
    }
    sl_run_input inputs[4];
    size_t n = 0;
    inputs[n++] = (sl_run_input){"base", base};
    inputs[n++] = (sl_run_input){"adapter", adapter};
    if (report) inputs[n++] = (sl_run_input){"report", report};
    if (metrics) inputs[n++] = (sl_run_input){"metrics", metrics};
    sl_run_output outputs[1] = {{"model.tar.gz", out}};
    rc = sl_cli_run_step("package", params, inputs, n, outputs, 1, &common, NULL);
    json_decref(params);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
