/* seqlora package: a trained adapter + its base model → a deployable model bundle (the `package` step). */
#include <stdio.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
    "usage: seqlora package --base DIR --adapter DIR [--report DIR] [--metrics FILE] [--embed-base]\n"
    "                       [--merged] [--threshold 0.7] [--positive-class NAME] -o MODEL.tar.gz\n\n"
    "Bundle a LoRA adapter with everything needed to deploy it: the task (classes, positive class,\n"
    "threshold), tokenizer files and k-mer setting, the base model's name and SHA-256 per file, the\n"
    "evaluation report (metrics.json with bootstrap CIs + SVG plots), a Markdown model card, RO-Crate\n"
    "provenance and a SHA256SUMS list checked on load. The tar.gz bytes depend only on the inputs.\n\n";

int sl_cmd_package(int argc, char **argv) {
    const char *base = NULL, *adapter = NULL, *report = NULL, *metrics = NULL, *out = NULL, *positive = NULL,
               *base_name = NULL;
    int embed = 0, merged = 0;
    double threshold = 0.7;
    long long kmer = 0, window = 0, stride = 0;
    const sl_cli_opt opts[] = {
        SL_CLI_OPT_BASE(&base,
                        "base model directory (config.json, weights, tokenizer files) of any\n"
                        "family: BERT/DNABERT, ESM-2 / Nucleotide Transformer, DNABERT-2",
                        SL_CLI_REQUIRED),
        {.name = "adapter",
         .arg = "DIR",
         .help = "the PEFT adapter (from `seqlora train` or PEFT)",
         .str = &adapter,
         .flags = SL_CLI_REQUIRED},
        {.name = "report",
         .arg = "DIR",
         .help = "the REPORT_DIR of `seqlora evaluate` (metrics.json + plots)",
         .str = &report},
        SL_CLI_OPT_METRICS(&metrics, "a metrics.json alone (when there is no report directory)"),
        {.name = "embed-base",
         .help = "include the base weights (air-gapped sites); else `score`/`serve` need --base",
         .flag = &embed,
         .flags = SL_CLI_IF_GIVEN,
         .param = "embed_base"},
        {.name = "merged",
         .help = "include a full Hugging Face checkpoint with LoRA folded in (merged/), which\n"
                 "`score` and `serve` use, and transformers loads as a plain model",
         .flag = &merged,
         .flags = SL_CLI_IF_GIVEN,
         .param = "merged"},
        SL_CLI_REAL_OPT("threshold", "T",
                        "decision threshold on the positive class, 0..1 (default 0.7, as in the seed)",
                        &threshold, 0, 1, SL_CLI_IF_GIVEN, "threshold"),
        {.name = "positive-class",
         .arg = "NAME",
         .help = "the positive class (default: the second class)",
         .str = &positive,
         .param = "positive_class"},
        {.name = "base-name",
         .arg = "NAME",
         .help = "the base model's name for the card (default: the adapter's\n"
                 "base_model_name_or_path)",
         .str = &base_name,
         .param = "base_name"},
        {.name = "kmer",
         .arg = "K",
         .help = "k of the k-mer tokenisation, -1..12 (default: detected from a WordPiece k-mer\n"
                 "vocabulary; -1 none). NT and DNABERT-2 tokenizers take raw DNA",
         .num = &kmer,
         .imin = -1,
         .imax = 12,
         .flags = SL_CLI_IF_GIVEN,
         .param = "kmer"},
        {.name = "window",
         .arg = "N",
         .help = "windowing of long sequences in bases, 1..1000000 (default: a full window)",
         .num = &window,
         .imin = 1,
         .imax = 1000000,
         .flags = SL_CLI_IF_GIVEN,
         .param = "window"},
        {.name = "stride",
         .arg = "N",
         .help = "the step between windows, 1..1000000 (default: half a window)",
         .num = &stride,
         .imin = 1,
         .imax = 1000000,
         .flags = SL_CLI_IF_GIVEN,
         .param = "stride"},
        SL_CLI_OPT_OUTPUT(&out, "FILE", "the bundle (required)", SL_CLI_REQUIRED),
        {0},
    };
    const sl_cli_command cmd = {.name = "package", .header = header, .opts = opts, .width = 23};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    sl_run_input inputs[4];
    size_t n = 0;
    inputs[n++] = (sl_run_input){"base", base};
    inputs[n++] = (sl_run_input){"adapter", adapter};
    if (report) inputs[n++] = (sl_run_input){"report", report};
    if (metrics) inputs[n++] = (sl_run_input){"metrics", metrics};
    sl_run_output outputs[1] = {{"model.tar.gz", out}};
    rc = sl_cli_run_step("package", a.params, inputs, n, outputs, 1, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
