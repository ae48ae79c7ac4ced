/* seqlora score: predictions from a packaged model (the `score` step): sequences, VCF variants, saturation.
 */
#include <stdio.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
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
    "  --saturate REGION + --reference → every possible SNV of the region, as for a VCF.\n\n";

int sl_cmd_score(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *reference = NULL, *region = NULL, *base = NULL, *out = NULL,
               *device = NULL, *precision = NULL;
    long long window = 0, stride = 0;
    int merged = 1;
    const sl_cli_opt opts[] = {
        {.name = "model", .arg = "FILE", .help = "the model bundle (required)", .str = &model},
        {.name = "input", .arg = "FILE", .help = "FASTA, TSV or VCF (plain or bgzipped)", .str = &input},
        {.name = "reference",
         .arg = "FASTA",
         .help = "the reference genome (variant modes); region-named sequences work",
         .str = &reference},
        {.name = "saturate",
         .arg = "REGION",
         .help = "CHROM:START-END, 1-based inclusive, at most 100,000 bases",
         .str = &region,
         .param = "region"},
        SL_CLI_OPT_BASE(&base, "the base model, when the bundle does not embed it (SHA-256 checked)", 0),
        {.name = "window",
         .arg = "N",
         .help = "window in bases (default: the bundle's, a full model window)",
         .num = &window,
         .imin = 1,
         .imax = 1000000,
         .flags = SL_CLI_IF_GIVEN,
         .param = "window"},
        {.name = "stride",
         .arg = "N",
         .help = "stride in bases (default: the bundle's, half a window)",
         .num = &stride,
         .imin = 1,
         .imax = 1000000,
         .flags = SL_CLI_IF_GIVEN,
         .param = "stride"},
        {.name = "no-merged",
         .help = "use base + adapter even when the bundle has merged weights",
         .flag = &merged,
         .flags = SL_CLI_NEGATE | SL_CLI_IF_GIVEN,
         .param = "merged"},
        SL_CLI_OPT_DEVICE(&device, "auto (default: the first GPU when one is usable, else the CPU with a\n"
                                   "one-line note), cpu, cuda, cuda:N (see docs/gpu.md)"),
        SL_CLI_OPT_PRECISION(
            &precision, "fp32 (default), bf16, fp16: the base's GEMMs (CPU: fp32, bf16 with AVX512-BF16)"),
        SL_CLI_OPT_OUTPUT(&out, "FILE", "the scores TSV (required)", 0),
        {0},
    };
    const sl_cli_command cmd = {.name = "score", .header = header, .opts = opts, .width = 20};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    if (!model || !out || !input == !region) {
        sl_cli_args_free(&a);
        return sl_cli_usage_error(
            "score: --model, -o and one of --input or --saturate are required (see seqlora score --help)");
    }
    /* only a CUDA run carries device/precision in its action key (docs/gpu.md "Action keys") */
    if ((rc = sl_cli_device_params(device, precision, &a.common, a.params, &a.err)))
        return sl_cli_fail(&a, rc);
    sl_run_input inputs[4];
    size_t n = 0;
    inputs[n++] = (sl_run_input){"model", model};
    if (input) inputs[n++] = (sl_run_input){"input", input};
    if (reference) inputs[n++] = (sl_run_input){"reference", reference};
    if (base) inputs[n++] = (sl_run_input){"base", base};
    sl_run_output outputs[1] = {{"scores.tsv", out}};
    rc = sl_cli_run_step("score", a.params, inputs, n, outputs, 1, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
