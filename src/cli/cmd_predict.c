/* seqlora predict: class probabilities per row from a base model and a LoRA adapter (the `predict` step). */
#include <stdio.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"

static const char header[] =
    "usage: seqlora predict --base DIR [--adapter DIR] --input TSV -o OUT.tsv\n\n"
    "Run a BERT-family model (+ a LoRA adapter from `seqlora train` or PEFT) over a dataset TSV\n"
    "(id<TAB>sequence[<TAB>label]) and write id, label, prob_<class>... (softmax; sigmoid per class\n"
    "for multi-label) or id, label, prediction (regression) — the input of `seqlora evaluate`.\n\n";

int sl_cmd_predict(int argc, char **argv) {
    /* a model bundle (--model MODEL.tar.gz): the deployable form, `seqlora score` */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--model") || !strncmp(argv[i], "--model=", 8)) return sl_cmd_score(argc, argv);
    const char *base = NULL, *adapter = NULL, *input = NULL, *out = NULL, *device = NULL, *precision = NULL;
    const sl_cli_opt opts[] = {
        SL_CLI_OPT_BASE(&base, "base model directory (required)", SL_CLI_REQUIRED),
        {.name = "adapter",
         .arg = "DIR",
         .help = "a PEFT LoRA adapter (default: the base with its own classifier)",
         .str = &adapter},
        {.name = "input",
         .arg = "TSV",
         .help = "the rows to predict (required)",
         .str = &input,
         .flags = SL_CLI_REQUIRED},
        SL_CLI_OPT_OUTPUT(&out, "FILE", "the predictions TSV (required)", SL_CLI_REQUIRED),
        SL_CLI_OPT_DEVICE(&device, "auto (default: the first GPU when one is usable, else the CPU with a\n"
                                   "note), cpu, cuda, cuda:N (exit 2 when not usable); BERT-family bases"),
        SL_CLI_OPT_PRECISION(
            &precision, "fp32 (default), bf16, fp16: the base's GEMMs (CPU: fp32, bf16 with AVX512-BF16)"),
        {0},
    };
    const sl_cli_command cmd = {.name = "predict", .header = header, .opts = opts, .width = 19};
    sl_cli_args a;
    int rc = sl_cli_parse(&cmd, argc, argv, &a);
    if (rc != SL_CLI_GO_ON) return rc;
    /* only a CUDA run carries device/precision in its action key (docs/gpu.md "Action keys") */
    if ((rc = sl_cli_device_params(device, precision, &a.common, a.params, &a.err)))
        return sl_cli_fail(&a, rc);
    sl_run_input inputs[3];
    size_t n = 0;
    inputs[n++] = (sl_run_input){"base", base};
    if (adapter) inputs[n++] = (sl_run_input){"adapter", adapter};
    inputs[n++] = (sl_run_input){"input", input};
    sl_run_output outputs[1] = {{"predictions.tsv", out}};
    rc = sl_cli_run_step("predict", a.params, inputs, n, outputs, 1, &a.common, NULL);
    sl_cli_args_free(&a);
    if (rc == 0) printf("%s\n", out);
    return rc;
}
