/* seqlora score: predictions from a packaged model (the `score` step): sequences, VCF variants, saturation.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli_common.h"
#include "cli_options.h"
#include "commands.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: seqlora score --model MODEL.tar.gz --input FILE [--reference FASTA] -o OUT.tsv\n"
        "       seqlora score --model MODEL.tar.gz --saturate CHROM:START-END --reference FASTA -o "
        "OUT.tsv\n\n"
        "Score with a bundle from `seqlora package` (checksums verified on load):\n"
        "  FASTA or TSV (id, sequence[, label]) → id, label, prob_<class>..., windows[...]: the layout of\n"
        "    `seqlora predict`, readable by `seqlora evaluate`. Raw DNA is k-merised as the bundle says\n"
        "    (Nucleotide Transformer / DNABERT-2 bundles: the bases as they are, split by their own\n"
        "    tokenizer; an ESM-2 bundle reads one-letter protein residues instead of DNA);\n"
        "    sequences longer than a window are scored in overlapping windows and the probabilities "
        "averaged\n"
        "    (window, stride and k are recorded in the header of the windows column). A TSV of k-mer text\n"
        "    (as `kmerize` writes) is scored exactly as `seqlora predict` does.\n"
        "  VCF + --reference → chrom, pos, id, ref, alt, p_ref, p_alt, delta (ALT − REF window, positive "
        "class).\n"
        "  --saturate REGION + --reference → every possible SNV of the region, as for a VCF.\n\n"
        "options:\n"
        "  --model FILE        the model bundle (required)\n"
        "  --input FILE        FASTA, TSV or VCF (plain or bgzipped)\n"
        "  --reference FASTA   the reference genome (variant modes); region-named sequences work\n"
        "  --saturate REGION   CHROM:START-END, 1-based inclusive, at most 100,000 bases\n"
        "  --base DIR          the base model, when the bundle does not embed it (SHA-256 checked)\n"
        "  --window N          window in bases (default: the bundle's, a full model window)\n"
        "  --stride N          stride in bases (default: the bundle's, half a window)\n"
        "  --no-merged         use base + adapter even when the bundle has merged weights\n"
        "  --device D          auto (default: the first GPU when one is usable, else the CPU with a\n"
        "                      one-line note), cpu, cuda, cuda:N (see docs/gpu.md)\n"
        "  --precision P       fp32 (default), bf16, fp16: the base's GEMMs on CUDA (CPU: fp32)\n"
        "  -o, --output FILE   the scores TSV (required)\n\n" SL_CLI_COMMON_HELP);
}

enum {
    OPT_MODEL = 0x2701,
    OPT_INPUT,
    OPT_REFERENCE,
    OPT_SATURATE,
    OPT_BASE,
    OPT_WINDOW,
    OPT_STRIDE,
    OPT_NO_MERGED,
    OPT_DEVICE,
    OPT_PRECISION
};

int sl_cmd_score(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, OPT_MODEL},
        {"input", required_argument, 0, OPT_INPUT},
        {"reference", required_argument, 0, OPT_REFERENCE},
        {"saturate", required_argument, 0, OPT_SATURATE},
        {"base", required_argument, 0, OPT_BASE},
        {"window", required_argument, 0, OPT_WINDOW},
        {"stride", required_argument, 0, OPT_STRIDE},
        {"no-merged", no_argument, 0, OPT_NO_MERGED},
        {"device", required_argument, 0, OPT_DEVICE},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        SL_CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    sl_cli_common common;
    sl_cli_common_init(&common);
    sl_err err;
    sl_err_clear(&err);
    const char *model = NULL, *input = NULL, *reference = NULL, *base = NULL, *out = NULL, *device = NULL,
               *precision = NULL;
    json_t *params = json_object();
    int opt, rc;
    long long v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
            case OPT_MODEL:
                model = optarg;
                break;
            case OPT_INPUT:
                input = optarg;
                break;
            case OPT_REFERENCE:
                reference = optarg;
                break;
            case OPT_BASE:
                base = optarg;
                break;
            case OPT_DEVICE:
                device = optarg;
                break;
            case OPT_PRECISION:
                precision = optarg;
                break;
            case OPT_SATURATE:
                json_object_set_new(params, "region", json_string(optarg));
                break;
            case OPT_NO_MERGED:
                json_object_set_new(params, "merged", json_false());
                break;
            case OPT_WINDOW:
            case OPT_STRIDE: {
                const char *name = opt == OPT_WINDOW ? "window" : "stride";
                if ((rc = sl_cli_parse_int(name, optarg, 1, 1000000, &v, &err))) {
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
    int sat = json_object_get(params, "region") != NULL;
    if (optind < argc || !model || !out || (!input == !sat)) {
        json_decref(params);
        if (optind < argc) return sl_cli_usage_error("score: unexpected argument '%s'", argv[optind]);
        return sl_cli_usage_error(
            "score: --model, -o and one of --input or --saturate are required (see seqlora score --help)");
    }
    /* only a CUDA run carries device/precision in its action key (docs/gpu.md "Action keys") */
    if ((rc = sl_cli_device_params(device, precision, NULL, &common, params, &err))) {
        json_decref(params);
        return sl_cli_report(rc, &err);
    }
    sl_run_input inputs[4];
    size_t n = 0;
    inputs[n++] = (sl_run_input){"model", model};
    if (input) inputs[n++] = (sl_run_input){"input", input};
    if (reference) inputs[n++] = (sl_run_input){"reference", reference};
    if (base) inputs[n++] = (sl_run_input){"base", base};
    sl_run_output outputs[1] = {{"scores.tsv", out}};
    rc = sl_cli_run_step("score", params, inputs, n, outputs, 1, &common, NULL);
    json_decref(params);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
